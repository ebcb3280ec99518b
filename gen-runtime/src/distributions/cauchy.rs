use super::{sampler, scalar_continuous_items, Distribution, RealOps, Support, LN_PI};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::Distribution as _;

/// The Cauchy distribution with location and scale.
///
/// Density p(x) = 1 / (π sigma (1 + z²)) with z = (x - mu) / sigma: the median is mu and
/// the quartiles are mu ± sigma; it has no mean or variance. NumPyro's `Cauchy(loc, scale)`.
#[derive(Clone, Copy, Debug)]
pub struct Cauchy<R> {
    /// Location (the median).
    pub mu: R,
    /// Scale (> 0): half the interquartile range.
    pub sigma: R,
}

/// Cauchy(mu, sigma): location, scale.
#[inline]
pub fn cauchy<R: Real>(mu: impl Into<R>, sigma: impl Into<R>) -> Cauchy<R> {
    Cauchy { mu: mu.into(), sigma: sigma.into() }
}

impl<R: Real> Cauchy<R> {
    #[inline]
    fn log_density_at<X: Copy>(&self, x: X) -> R
    where
        R: RealOps<X>,
    {
        let z = (self.mu - x) / self.sigma;
        -z.square().ln_1p() - self.sigma.ln() - LN_PI
    }
}

impl<R: Real> Distribution for Cauchy<R> {
    scalar_continuous_items!(R);
    const NAME: &'static str = "cauchy";

    type Scalar = Cauchy<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> Cauchy<f64> {
        Cauchy { mu: param(&self.mu), sigma: param(&self.sigma) }
    }

    #[inline]
    fn log_density(&self, x: &R) -> R {
        self.log_density_at(*x)
    }

    #[inline]
    fn log_density_data(&self, x: &f64) -> R {
        self.log_density_at(*x)
    }

    /// # Panics
    /// If the parameters are invalid (see [`Distribution::check`]).
    #[inline]
    fn sample(&self, rng: &mut KeyRng) -> f64
    where
        R: Scalar,
    {
        sampler(self, rand_distr::Cauchy::new(self.mu.value(), self.sigma.value())).sample(rng)
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        let (mu, sigma) = (self.mu.value(), self.sigma.value());
        require(mu.is_finite(), "mu", mu, "finite")?;
        require(sigma > 0.0 && sigma.is_finite(), "sigma", sigma, "sigma > 0")
    }

    fn support(&self) -> Support {
        Support::Real
    }

    fn in_support(&self, x: &f64) -> bool
    where
        R: Scalar,
    {
        x.is_finite()
    }
}

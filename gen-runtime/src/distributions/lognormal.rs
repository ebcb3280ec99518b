use super::{impossible, sampler, scalar_continuous_items, Distribution, RealOps, Support, HALF_LN_2PI};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::Distribution as _;

/// The log-normal distribution: e^Y for Y ~ N(mu, sigma²).
///
/// Density p(x) = 1 / (x sigma sqrt(2π)) · exp(-(ln x - mu)² / (2 sigma²)) for x > 0.
/// `mu` and `sigma` are the mean and standard deviation of ln x (NumPyro's
/// `LogNormal(loc, scale)`, Gen.jl's `lognormal`), not of x.
#[derive(Clone, Copy, Debug)]
pub struct LogNormal<R> {
    /// Mean of ln x.
    pub mu: R,
    /// Standard deviation of ln x (> 0).
    pub sigma: R,
}

/// LogNormal(mu, sigma): ln x ~ N(mu, sigma²).
#[inline]
pub fn lognormal<R: Real>(mu: impl Into<R>, sigma: impl Into<R>) -> LogNormal<R> {
    LogNormal { mu: mu.into(), sigma: sigma.into() }
}

impl<R: Real> LogNormal<R> {
    #[inline]
    fn log_density_ln<X: Copy>(&self, ln_x: X) -> R
    where
        R: RealOps<X>,
    {
        let z = (self.mu - ln_x) / self.sigma;
        z.square() * -0.5 - self.sigma.ln() - ln_x - HALF_LN_2PI
    }
}

impl<R: Real> Distribution for LogNormal<R> {
    scalar_continuous_items!(R);
    const NAME: &'static str = "lognormal";

    type Scalar = LogNormal<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> LogNormal<f64> {
        LogNormal { mu: param(&self.mu), sigma: param(&self.sigma) }
    }

    /// The formula for x > 0; `x` is assumed to lie in the support.
    #[inline]
    fn log_density(&self, x: &R) -> R {
        self.log_density_ln(x.ln())
    }

    #[inline]
    fn log_density_data(&self, x: &f64) -> R {
        if *x <= 0.0 {
            return impossible();
        }
        // ln x of an observation is an f64 logarithm, not a dual one.
        self.log_density_ln(x.ln())
    }

    /// # Panics
    /// If the parameters are invalid (see [`Distribution::check`]).
    #[inline]
    fn sample(&self, rng: &mut KeyRng) -> f64
    where
        R: Scalar,
    {
        sampler(self, rand_distr::LogNormal::new(self.mu.value(), self.sigma.value())).sample(rng)
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
        Support::Positive
    }

    fn in_support(&self, x: &f64) -> bool
    where
        R: Scalar,
    {
        *x > 0.0 && x.is_finite()
    }
}

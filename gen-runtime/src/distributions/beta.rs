use super::{impossible, sampler, scalar_continuous_items, Distribution, RealOps, Support};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::Distribution as _;

/// The beta distribution on (0, 1).
///
/// Density p(x) = x^(alpha - 1) (1 - x)^(beta - 1) / B(alpha, beta) for 0 < x < 1, with
/// B(alpha, beta) = Γ(alpha) Γ(beta) / Γ(alpha + beta); mean alpha / (alpha + beta). The
/// parametrization of NumPyro's `Beta(concentration1, concentration0)`, Stan and Gen.jl.
#[derive(Clone, Copy, Debug)]
pub struct Beta<R> {
    /// First shape, the pseudo-count of successes (> 0).
    pub alpha: R,
    /// Second shape, the pseudo-count of failures (> 0).
    pub beta: R,
}

/// Beta(alpha, beta) on (0, 1).
#[inline]
pub fn beta<R: Real>(alpha: impl Into<R>, beta: impl Into<R>) -> Beta<R> {
    Beta { alpha: alpha.into(), beta: beta.into() }
}

impl<R: Real> Beta<R> {
    #[inline]
    fn log_density_at<X: Copy>(&self, ln_x: X, ln_1m_x: X) -> R
    where
        R: RealOps<X>,
    {
        let log_beta_fn = self.alpha.ln_gamma() + self.beta.ln_gamma() - (self.alpha + self.beta).ln_gamma();
        (self.alpha - 1.0) * ln_x + (self.beta - 1.0) * ln_1m_x - log_beta_fn
    }
}

impl<R: Real> Distribution for Beta<R> {
    scalar_continuous_items!(R);
    const NAME: &'static str = "beta";

    type Scalar = Beta<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> Beta<f64> {
        Beta { alpha: param(&self.alpha), beta: param(&self.beta) }
    }

    /// The formula for 0 < x < 1; `x` is assumed to lie in the support.
    #[inline]
    fn log_density(&self, x: &R) -> R {
        self.log_density_at(x.ln(), (-*x).ln_1p())
    }

    #[inline]
    fn log_density_data(&self, x: &f64) -> R {
        if *x <= 0.0 || *x >= 1.0 {
            return impossible();
        }
        self.log_density_at(x.ln(), (-x).ln_1p())
    }

    /// # Panics
    /// If the parameters are invalid (see [`Distribution::check`]).
    #[inline]
    fn sample(&self, rng: &mut KeyRng) -> f64
    where
        R: Scalar,
    {
        sampler(self, rand_distr::Beta::new(self.alpha.value(), self.beta.value())).sample(rng)
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        let (alpha, beta) = (self.alpha.value(), self.beta.value());
        require(alpha > 0.0 && alpha.is_finite(), "alpha", alpha, "alpha > 0")?;
        require(beta > 0.0 && beta.is_finite(), "beta", beta, "beta > 0")
    }

    fn support(&self) -> Support {
        Support::Interval(0.0, 1.0)
    }

    /// 0 < x < 1. The endpoints are excluded although the density is finite there when
    /// alpha or beta is 1: the unconstrained map cannot reach them.
    fn in_support(&self, x: &f64) -> bool
    where
        R: Scalar,
    {
        *x > 0.0 && *x < 1.0
    }
}

use super::{impossible, sampler, scalar_continuous_items, Distribution, RealOps, Support};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::Distribution as _;

/// The exponential distribution with a rate.
///
/// Density p(x) = rate · e^(-rate x) for x ≥ 0; mean 1 / rate. This is the RATE
/// parametrization of NumPyro's `Exponential(rate)` and Stan's `exponential(beta)`; Gen.jl's
/// `exponential(rate)` is the same.
#[derive(Clone, Copy, Debug)]
pub struct Exponential<R> {
    /// Rate, the inverse of the mean (> 0).
    pub rate: R,
}

/// Exponential(rate), mean 1 / rate.
#[inline]
pub fn exponential<R: Real>(rate: impl Into<R>) -> Exponential<R> {
    Exponential { rate: rate.into() }
}

impl<R: Real> Exponential<R> {
    #[inline]
    fn log_density_at<X: Copy>(&self, x: X) -> R
    where
        R: RealOps<X>,
    {
        self.rate.ln() - self.rate * x
    }
}

impl<R: Real> Distribution for Exponential<R> {
    scalar_continuous_items!(R);
    const NAME: &'static str = "exponential";

    type Scalar = Exponential<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> Exponential<f64> {
        Exponential { rate: param(&self.rate) }
    }

    /// The formula for x ≥ 0; `x` is assumed to lie in the support.
    #[inline]
    fn log_density(&self, x: &R) -> R {
        self.log_density_at(*x)
    }

    #[inline]
    fn log_density_data(&self, x: &f64) -> R {
        if *x < 0.0 {
            return impossible();
        }
        self.log_density_at(*x)
    }

    /// # Panics
    /// If the parameters are invalid (see [`Distribution::check`]).
    #[inline]
    fn sample(&self, rng: &mut KeyRng) -> f64
    where
        R: Scalar,
    {
        sampler(self, rand_distr::Exp::new(self.rate.value())).sample(rng)
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        let rate = self.rate.value();
        require(rate > 0.0 && rate.is_finite(), "rate", rate, "rate > 0")
    }

    fn support(&self) -> Support {
        Support::Positive
    }

    /// x ≥ 0: the density is `rate` at 0, so an observed 0 is allowed (the unconstrained
    /// map of [`Support::Positive`] excludes it, at probability zero).
    fn in_support(&self, x: &f64) -> bool
    where
        R: Scalar,
    {
        *x >= 0.0 && x.is_finite()
    }
}

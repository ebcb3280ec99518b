use super::{impossible, sampler, Distribution, RealOps, Support};
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
    type Real = R;
    type Value = R;
    type Data = f64;
    const NAME: &'static str = "exponential";

    type Scalar = Exponential<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> Exponential<f64> {
        Exponential { rate: param(&self.rate) }
    }

    fn batch_value(&self, data: &[f64], rows: usize, cols: usize) -> Option<R> {
        Some(R::from_batch(data, rows, cols))
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

    #[inline]
    fn lift(&self, x: &f64) -> R {
        R::cst(*x)
    }

    #[inline]
    fn lower(x: &R) -> f64
    where
        R: Scalar,
    {
        x.value()
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

    #[inline]
    fn flat_dim(&self) -> Option<usize> {
        Some(1)
    }

    #[inline]
    fn value_from_flat(&self, xs: &[R]) -> R {
        xs[0]
    }

    fn write_flat(x: &f64, out: &mut Vec<f64>) {
        out.push(*x);
    }
}

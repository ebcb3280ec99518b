use super::{sampler, Distribution, Support};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::Distribution as _;
use statrs::function::factorial::ln_factorial;

/// The largest rate `rand_distr`'s Poisson sampler accepts (its `MAX_LAMBDA`).
const MAX_RATE: f64 = rand_distr::Poisson::<f64>::MAX_LAMBDA;

/// The Poisson distribution with a rate (mean).
///
/// Mass P(k) = rate^k e^(-rate) / k! for k = 0, 1, 2, ...; mean and variance `rate`.
#[derive(Clone, Copy, Debug)]
pub struct Poisson<R> {
    /// Rate, the mean count (> 0).
    pub rate: R,
}

/// Poisson(rate), mean `rate`.
#[inline]
pub fn poisson<R: Real>(rate: impl Into<R>) -> Poisson<R> {
    Poisson { rate: rate.into() }
}

impl<R: Real> Distribution for Poisson<R> {
    type Real = R;
    type Value = u64;
    type Data = u64;
    const NAME: &'static str = "poisson";

    type Scalar = Poisson<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> Poisson<f64> {
        Poisson { rate: param(&self.rate) }
    }

    #[inline]
    fn log_density(&self, k: &u64) -> R {
        let k = *k;
        let lp = -self.rate - ln_factorial(k);
        // k = 0 drops the k ln(rate) term: it is 0 even where ln(rate) is not finite.
        if k == 0 {
            lp
        } else {
            lp + self.rate.ln() * k as f64
        }
    }

    #[inline]
    fn lift(&self, x: &u64) -> u64 {
        *x
    }

    #[inline]
    fn lower(x: &u64) -> u64
    where
        R: Scalar,
    {
        *x
    }

    /// # Panics
    /// If the parameters are invalid (see [`Distribution::check`]).
    #[inline]
    fn sample(&self, rng: &mut KeyRng) -> u64
    where
        R: Scalar,
    {
        // rand_distr returns the count as a float with an integral value.
        let k: f64 = sampler(self, rand_distr::Poisson::new(self.rate.value())).sample(rng);
        k as u64
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        let rate = self.rate.value();
        require(rate > 0.0 && rate <= MAX_RATE, "rate", rate, "0 < rate <= 1.8e19 (the sampler's limit)")
    }

    fn support(&self) -> Support {
        Support::Naturals
    }

    fn in_support(&self, _k: &u64) -> bool
    where
        R: Scalar,
    {
        true
    }
}

use super::{sampler, Distribution, Support};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::Distribution as _;

/// The Bernoulli distribution: `true` with probability p.
///
/// Mass P(true) = p, P(false) = 1 - p. The probability is an engine value, so the log mass
/// is differentiable in p (the value itself is discrete).
#[derive(Clone, Copy, Debug)]
pub struct Bernoulli<R> {
    /// Probability of `true` (0 ≤ p ≤ 1).
    pub p: R,
}

/// Bernoulli(p): `true` with probability p.
#[inline]
pub fn bernoulli<R: Real>(p: impl Into<R>) -> Bernoulli<R> {
    Bernoulli { p: p.into() }
}

impl<R: Real> Distribution for Bernoulli<R> {
    type Real = R;
    type Value = bool;
    type Data = bool;
    const NAME: &'static str = "bernoulli";

    type Scalar = Bernoulli<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> Bernoulli<f64> {
        Bernoulli { p: param(&self.p) }
    }

    /// ln p or ln(1 - p); ln(1 - p) is computed as ln_1p(-p) so a small 1 - p keeps its
    /// precision.
    #[inline]
    fn log_density(&self, x: &bool) -> R {
        if *x {
            self.p.ln()
        } else {
            (-self.p).ln_1p()
        }
    }

    #[inline]
    fn lift(&self, x: &bool) -> bool {
        *x
    }

    #[inline]
    fn lower(x: &bool) -> bool
    where
        R: Scalar,
    {
        *x
    }

    /// # Panics
    /// If the parameters are invalid (see [`Distribution::check`]).
    #[inline]
    fn sample(&self, rng: &mut KeyRng) -> bool
    where
        R: Scalar,
    {
        sampler(self, rand_distr::Bernoulli::new(self.p.value())).sample(rng)
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        let p = self.p.value();
        require((0.0..=1.0).contains(&p), "p", p, "0 <= p <= 1")
    }

    fn support(&self) -> Support {
        Support::Boolean
    }

    fn in_support(&self, _x: &bool) -> bool
    where
        R: Scalar,
    {
        true
    }
}

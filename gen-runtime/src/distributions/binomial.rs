use super::{impossible, sampler, Distribution, Support};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::Distribution as _;
use statrs::function::factorial::ln_binomial;

/// The binomial distribution: the number of successes in n independent trials.
///
/// Mass P(k) = C(n, k) p^k (1 - p)^(n - k) for k = 0, ..., n; mean n p, variance
/// n p (1 - p). The trial count `n` is a plain integer (it is not differentiable); `p` is an
/// engine value.
#[derive(Clone, Copy, Debug)]
pub struct Binomial<R> {
    /// Number of trials.
    pub n: u64,
    /// Success probability of each trial (0 ≤ p ≤ 1).
    pub p: R,
}

/// Binomial(n, p): successes in `n` trials of probability `p`.
#[inline]
pub fn binomial<R: Real>(n: u64, p: impl Into<R>) -> Binomial<R> {
    Binomial { n, p: p.into() }
}

impl<R: Real> Distribution for Binomial<R> {
    type Real = R;
    type Value = u64;
    type Data = u64;
    const NAME: &'static str = "binomial";

    type Scalar = Binomial<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> Binomial<f64> {
        Binomial { n: self.n, p: param(&self.p) }
    }

    /// -∞ for k > n.
    #[inline]
    fn log_density(&self, k: &u64) -> R {
        let (n, k) = (self.n, *k);
        if k > n {
            return impossible();
        }
        let mut lp = R::cst(ln_binomial(n, k));
        // A zero count drops its term, so p = 0 or p = 1 gives 0 · ln 0 = 0, not NaN.
        if k > 0 {
            lp += self.p.ln() * k as f64;
        }
        if k < n {
            lp += (-self.p).ln_1p() * (n - k) as f64;
        }
        lp
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
        sampler(self, rand_distr::Binomial::new(self.n, self.p.value())).sample(rng)
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        let p = self.p.value();
        require((0.0..=1.0).contains(&p), "p", p, "0 <= p <= 1")
    }

    /// {0, ..., n}, or all naturals if n + 1 does not fit in `usize`.
    fn support(&self) -> Support {
        usize::try_from(self.n).ok().and_then(|n| n.checked_add(1)).map_or(Support::Naturals, Support::Range)
    }

    fn in_support(&self, k: &u64) -> bool
    where
        R: Scalar,
    {
        *k <= self.n
    }
}

use super::{impossible, log_sum_exp, Distribution, IntoReals, Support, SIMPLEX_TOLERANCE};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::{Distribution as _, StandardUniform};

/// The categorical distribution over the indices {0, ..., k - 1}.
///
/// Mass P(i) = p_i, given either as probabilities ([`categorical`]) or as logits
/// ([`categorical_logits`]: p_i = e^(l_i) / Σ_j e^(l_j), NumPyro's
/// `Categorical(logits=...)`). The parameters are engine values, so the log mass is
/// differentiable in them.
#[derive(Clone, Debug)]
pub struct Categorical<R> {
    weights: Weights<R>,
}

/// The parameters as the user gave them, so that `check` can name a bad one.
#[derive(Clone, Debug)]
enum Weights<R> {
    Probs(Vec<R>),
    Logits {
        logits: Vec<R>,
        /// ln Σ e^(l_j), computed once: sampling needs it, and a plate of observations would
        /// otherwise recompute it per datum.
        log_norm: R,
    },
}

/// Categorical(probs): index i with probability `probs[i]`; the probabilities must be
/// nonnegative and sum to 1 (within 1e-6; they are not renormalized).
#[inline]
pub fn categorical<R: Real>(probs: impl IntoReals<R>) -> Categorical<R> {
    Categorical { weights: Weights::Probs(probs.into_reals()) }
}

/// Categorical with logits: index i with probability e^(l_i) / Σ_j e^(l_j).
///
/// The logits must be finite: the normalizer is accumulated pairwise without comparisons
/// (which engine values lack), and a leading -∞ would make it NaN. Use [`categorical`] with a
/// zero probability to rule a category out.
#[inline]
pub fn categorical_logits<R: Real>(logits: impl IntoReals<R>) -> Categorical<R> {
    let logits = logits.into_reals();
    let log_norm = log_sum_exp(&logits);
    Categorical { weights: Weights::Logits { logits, log_norm } }
}

impl<R> Categorical<R> {
    /// The number of categories k.
    #[inline]
    #[must_use]
    pub fn num_categories(&self) -> usize {
        match &self.weights {
            Weights::Probs(p) => p.len(),
            Weights::Logits { logits, .. } => logits.len(),
        }
    }
}

impl<R: Scalar> Categorical<R> {
    /// Inverse-CDF draw with one uniform, over weights that sum to about 1.
    fn draw(&self, weight: impl Fn(usize) -> f64, rng: &mut KeyRng) -> usize {
        let k = self.num_categories();
        let total: f64 = (0..k).map(&weight).sum();
        let u: f64 = StandardUniform.sample(rng);
        let mut target = u * total;
        let mut last_possible = 0;
        for i in 0..k {
            let w = weight(i);
            if w > 0.0 {
                last_possible = i;
                if target < w {
                    return i;
                }
                target -= w;
            }
        }
        // Rounding can leave a sliver of `target`; it belongs to the last category with mass.
        last_possible
    }
}

impl<R: Real> Distribution for Categorical<R> {
    type Real = R;
    type Value = usize;
    type Data = usize;
    const NAME: &'static str = "categorical";

    type Scalar = Categorical<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> Categorical<f64> {
        Categorical {
            weights: match &self.weights {
                Weights::Probs(p) => Weights::Probs(p.iter().map(&mut *param).collect()),
                Weights::Logits { logits, log_norm } => {
                    Weights::Logits { logits: logits.iter().map(&mut *param).collect(), log_norm: param(log_norm) }
                }
            },
        }
    }

    /// ln p_i, or l_i - ln Σ_j e^(l_j) for logits; -∞ for an index i ≥ k.
    #[inline]
    fn log_density(&self, i: &usize) -> R {
        match &self.weights {
            Weights::Probs(p) => p.get(*i).map_or_else(impossible, |p| p.ln()),
            Weights::Logits { logits, log_norm } => logits.get(*i).map_or_else(impossible, |&l| l - *log_norm),
        }
    }

    #[inline]
    fn lift(&self, x: &usize) -> usize {
        *x
    }

    #[inline]
    fn lower(x: &usize) -> usize
    where
        R: Scalar,
    {
        *x
    }

    /// # Panics
    /// If there are no categories.
    fn sample(&self, rng: &mut KeyRng) -> usize
    where
        R: Scalar,
    {
        assert!(self.num_categories() > 0, "cannot sample a categorical with no categories");
        match &self.weights {
            Weights::Probs(p) => self.draw(|i| p[i].value(), rng),
            Weights::Logits { logits, log_norm } => {
                let z = log_norm.value();
                self.draw(|i| (logits[i].value() - z).exp(), rng)
            }
        }
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        match &self.weights {
            Weights::Probs(p) => {
                require(!p.is_empty(), "probs", 0.0, "at least one category")?;
                let mut sum = 0.0;
                for pi in p.iter().map(|pi| pi.value()) {
                    require((0.0..=1.0).contains(&pi), "probs", pi, "probabilities in [0, 1] summing to 1")?;
                    sum += pi;
                }
                require((sum - 1.0).abs() <= SIMPLEX_TOLERANCE, "probs", sum, "probabilities in [0, 1] summing to 1")
            }
            Weights::Logits { logits, .. } => {
                require(!logits.is_empty(), "logits", 0.0, "at least one category")?;
                for l in logits.iter().map(|l| l.value()) {
                    require(l.is_finite(), "logits", l, "finite")?;
                }
                Ok(())
            }
        }
    }

    fn support(&self) -> Support {
        Support::Range(self.num_categories())
    }

    fn in_support(&self, i: &usize) -> bool
    where
        R: Scalar,
    {
        *i < self.num_categories()
    }
}

//! Importance weights: normalizing them in log space, their effective sample size, and
//! resampling, shared by importance sampling and SMC.

use crate::rng::KeyRng;
use rand::Rng;

/// `ln Σ exp(x)`, shifted by the maximum so nothing overflows; `-inf` when every term is
/// `-inf` (every particle impossible) rather than NaN.
#[must_use]
pub fn log_sum_exp(x: &[f64]) -> f64 {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + x.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// Normalized weights `exp(w_i) / Σ exp(w_j)`; all zero if every weight is `-inf`.
#[must_use]
pub fn normalize(log_weights: &[f64]) -> Vec<f64> {
    normalize_with_total(log_weights).0
}

/// The normalized weights and `ln Σ exp(w)` ([`log_sum_exp`]) from one `exp` per weight
/// (a particle filter needs both at every step).
pub(crate) fn normalize_with_total(log_weights: &[f64]) -> (Vec<f64>, f64) {
    let max = log_weights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return (vec![0.0; log_weights.len()], max);
    }
    let mut w: Vec<f64> = log_weights.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = w.iter().sum();
    w.iter_mut().for_each(|x| *x /= sum);
    (w, max + sum.ln())
}

/// The effective sample size `1 / Σ w̄_i²` of log weights (Kish's): N for equal weights,
/// 1 when one particle has all the weight, 0 when every weight is `-inf`.
#[must_use]
pub fn ess(log_weights: &[f64]) -> f64 {
    ess_of_normalized(&normalize(log_weights))
}

/// [`ess`] of weights already normalized.
pub(crate) fn ess_of_normalized(weights: &[f64]) -> f64 {
    let s: f64 = weights.iter().map(|x| x * x).sum();
    if s == 0.0 {
        0.0
    } else {
        1.0 / s
    }
}

/// How to draw ancestor indices from normalized weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Resampling {
    /// Independent draws from the categorical distribution of the weights.
    Multinomial,
    /// One uniform offset, then evenly spaced points (lowest variance in practice; the
    /// default, as in most particle-filter libraries).
    #[default]
    Systematic,
    /// `floor(m w̄_i)` copies of each particle, the remainder drawn multinomially.
    Residual,
    /// One uniform in each of `m` equal strata.
    Stratified,
}

impl Resampling {
    /// `m` ancestor indices drawn from `weights` (normalized, summing to 1), in increasing
    /// order for the systematic and stratified schemes.
    #[must_use]
    pub fn ancestors(self, weights: &[f64], m: usize, rng: &mut KeyRng) -> Vec<usize> {
        match self {
            Resampling::Multinomial => {
                let mut u: Vec<f64> = (0..m).map(|_| rng.random::<f64>()).collect();
                u.sort_by(f64::total_cmp);
                invert_sorted(weights, &u)
            }
            Resampling::Systematic => {
                let u0: f64 = rng.random();
                let u: Vec<f64> = (0..m).map(|i| (i as f64 + u0) / m as f64).collect();
                invert_sorted(weights, &u)
            }
            Resampling::Stratified => {
                let u: Vec<f64> = (0..m).map(|i| (i as f64 + rng.random::<f64>()) / m as f64).collect();
                invert_sorted(weights, &u)
            }
            Resampling::Residual => {
                let mut out = Vec::with_capacity(m);
                let mut residual = Vec::with_capacity(weights.len());
                for (i, w) in weights.iter().enumerate() {
                    let copies = (m as f64 * w).floor() as usize;
                    out.extend(std::iter::repeat_n(i, copies));
                    residual.push(m as f64 * w - copies as f64);
                }
                let rest = m - out.len().min(m);
                let total: f64 = residual.iter().sum();
                if rest > 0 && total > 0.0 {
                    let r: Vec<f64> = residual.iter().map(|x| x / total).collect();
                    out.extend(Resampling::Multinomial.ancestors(&r, rest, rng));
                }
                out.truncate(m);
                out
            }
        }
    }
}

/// For sorted uniforms `u`, the index of the weight whose cumulative interval holds each.
fn invert_sorted(weights: &[f64], u: &[f64]) -> Vec<usize> {
    let last = weights.len().saturating_sub(1);
    let mut out = Vec::with_capacity(u.len());
    let mut cum = 0.0;
    let mut i = 0;
    for &x in u {
        // The last index absorbs rounding: cumulative sums can end just under 1.
        while i < last && cum + weights[i] <= x {
            cum += weights[i];
            i += 1;
        }
        out.push(i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Key;

    #[test]
    fn log_sum_exp_is_stable_and_handles_all_impossible() {
        assert!((log_sum_exp(&[1000.0, 1000.0]) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert_eq!(log_sum_exp(&[f64::NEG_INFINITY; 3]), f64::NEG_INFINITY);
        assert_eq!(ess(&[f64::NEG_INFINITY; 3]), 0.0);
        assert!((ess(&[0.5; 4]) - 4.0).abs() < 1e-12);
        assert!((ess(&[0.0, f64::NEG_INFINITY]) - 1.0).abs() < 1e-12);
    }

    /// Every scheme is unbiased: the expected number of copies of particle i is m w_i. Over
    /// R repetitions the count's mean has sd at most sqrt(m w (1 - w) / R); allow 5 of them.
    #[test]
    fn every_scheme_copies_particles_in_proportion_to_their_weights() {
        let w = [0.1, 0.45, 0.05, 0.4];
        let (m, reps) = (20usize, 4000usize);
        for scheme in [Resampling::Multinomial, Resampling::Systematic, Resampling::Residual, Resampling::Stratified] {
            let mut counts = [0.0; 4];
            for r in 0..reps {
                let a = scheme.ancestors(&w, m, &mut Key::new(7).split(r as u64).rng());
                assert_eq!(a.len(), m, "{scheme:?}");
                for i in a {
                    counts[i] += 1.0;
                }
            }
            for (i, &wi) in w.iter().enumerate() {
                let mean = counts[i] / reps as f64;
                let sd = (m as f64 * wi * (1.0 - wi) / reps as f64).sqrt();
                assert!((mean - m as f64 * wi).abs() < 5.0 * sd, "{scheme:?} particle {i}: {mean} vs {}", m as f64 * wi);
            }
        }
    }

    #[test]
    fn systematic_resampling_keeps_copies_within_one_of_expected() {
        let w = [0.1, 0.45, 0.05, 0.4];
        let a = Resampling::Systematic.ancestors(&w, 20, &mut Key::new(1).rng());
        for (i, wi) in w.iter().enumerate() {
            let c = a.iter().filter(|&&j| j == i).count() as f64;
            assert!((c - 20.0 * wi).abs() < 1.0 + 1e-9);
        }
    }
}

//! The few MCMC diagnostics the suite needs for its quality columns: moments, effective sample
//! size and batch-means Monte Carlo standard error of one chain.
//!
//! TODO(lead): replace with gen_runtime's diagnostics (rank-normalised split R-hat, bulk/tail ESS).

/// Mean and (population) standard deviation.
#[must_use]
pub fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Effective sample size of one chain by Geyer's initial monotone sequence estimator
/// (Geyer 1992; the single-chain form of Stan's estimator, without rank normalisation).
///
/// Returns NaN for a chain with zero variance (it never moved: no information about mixing).
#[must_use]
pub fn ess(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 4 {
        return f64::NAN;
    }
    let (mean, sd) = mean_sd(x);
    let var = sd * sd;
    if var <= 0.0 || !var.is_finite() {
        return f64::NAN;
    }
    let autocorr = |lag: usize| -> f64 {
        (0..n - lag)
            .map(|i| (x[i] - mean) * (x[i + lag] - mean))
            .sum::<f64>()
            / (n as f64 * var)
    };
    // Sum autocorrelation pairs while positive, forcing them to be non-increasing.
    let mut tau = -1.0;
    let mut previous_pair = f64::INFINITY;
    let mut lag = 0;
    while lag + 1 < n {
        let pair = autocorr(lag) + autocorr(lag + 1);
        if pair <= 0.0 {
            break;
        }
        let pair = pair.min(previous_pair);
        tau += 2.0 * pair;
        previous_pair = pair;
        lag += 2;
    }
    n as f64 / tau.max(1.0 / (n as f64).log10().max(1.0))
}

/// Monte Carlo standard error of the chain mean by non-overlapping batch means.
#[must_use]
pub fn batch_means_mcse(x: &[f64], n_batches: usize) -> f64 {
    let size = x.len() / n_batches;
    let means: Vec<f64> = (0..n_batches)
        .map(|b| x[b * size..(b + 1) * size].iter().sum::<f64>() / size as f64)
        .collect();
    let (_, sd) = mean_sd(&means);
    // Sample (not population) variance of the batch means.
    let var = sd * sd * n_batches as f64 / (n_batches as f64 - 1.0);
    (var / n_batches as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn ess_of_independent_draws_is_about_n() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let x: Vec<f64> = (0..4000).map(|_| rng.random::<f64>()).collect();
        let e = ess(&x);
        assert!((3000.0..5500.0).contains(&e), "{e}");
    }

    #[test]
    fn ess_of_an_ar1_chain_matches_its_autocorrelation_time() {
        // AR(1) with rho = 0.9 has integrated autocorrelation time (1 + rho) / (1 - rho) = 19.
        let mut rng = rand::rngs::SmallRng::seed_from_u64(2);
        let mut v = 0.0;
        let x: Vec<f64> = (0..40_000)
            .map(|_| {
                v = 0.9 * v + rng.sample::<f64, _>(rand_distr::StandardNormal);
                v
            })
            .collect();
        let e = ess(&x);
        assert!((1500.0..2800.0).contains(&e), "{e}");
    }

    #[test]
    fn a_chain_that_never_moves_has_no_ess() {
        assert!(ess(&[0.0; 100]).is_nan());
    }
}

//! The few MCMC diagnostics the suite needs for its quality columns: moments, effective sample
//! size and batch-means Monte Carlo standard error of one chain.
//!
//! The ESS itself is `gen_runtime::diagnostics`'s; moments and batch means are the suite's own.

/// Mean and (population) standard deviation.
#[must_use]
pub fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Effective sample size of the mean of one chain, as ArviZ's `ess(method="mean")` defines it
/// (`gen_runtime::diagnostics`). NaN for a chain that never moved: ArviZ reports full ESS for
/// constant draws, but a sampler that rejected everything has told us nothing about mixing.
#[must_use]
pub fn ess(x: &[f64]) -> f64 {
    if x.iter().all(|&v| v == x[0]) {
        return f64::NAN;
    }
    gen_runtime::diagnostics::ess_mean(&[x]).unwrap_or(f64::NAN)
}

/// Monte Carlo standard error of the chain mean by non-overlapping batch means.
#[must_use]
pub fn batch_means_mcse(x: &[f64], n_batches: usize) -> f64 {
    let size = x.len() / n_batches;
    let means: Vec<f64> = (0..n_batches).map(|b| x[b * size..(b + 1) * size].iter().sum::<f64>() / size as f64).collect();
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

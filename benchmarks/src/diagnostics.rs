//! Moments and the batch-means Monte Carlo standard error the suite's own checks use. Every
//! row's ESS and R-hat come from `gen_runtime::diagnostics`, through [`crate::raw`].

/// Mean and (population) standard deviation.
#[must_use]
pub fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
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

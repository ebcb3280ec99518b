//! The exact answers every benchmark row is checked against: the suite's data types mapped
//! onto `gen_runtime::exact`, which holds the references and their brute-force tests.
//!
//! [`references`] evaluates them on every committed data set and [`write_references`] writes
//! them to `data/exact.json` (`benchmarks data` does), so that the Python and Julia sides check
//! their own exact functions against these numbers instead of defining the quantities again.

use std::fs;
use std::path::{Path, PathBuf};

use crate::data::{self, BetaBernoulliData, DataError, HmmData, LgssmData, PolynomialData};
use gen_runtime::exact::{self, DiscreteHmm, ExactError, LinearGaussianSsm};
use serde::{Deserialize, Serialize};

/// A Gaussian posterior over the latents together with the log marginal likelihood.
#[derive(Clone, Debug)]
pub struct GaussianPosterior {
    /// Posterior mean, in the model's latent order.
    pub mean: Vec<f64>,
    /// Posterior standard deviations.
    pub sd: Vec<f64>,
    /// Posterior covariance, rows.
    pub covariance: Vec<Vec<f64>>,
    /// log p(y).
    pub log_ml: f64,
}

/// Conjugate Gaussian linear regression on the features (1, x, x^2).
///
/// # Errors
/// Invalid data (lengths, non-positive sds), as `gen_runtime::exact` reports it.
pub fn polynomial(data: &PolynomialData) -> Result<GaussianPosterior, ExactError> {
    let post = exact::polynomial(&data.x, &data.y, 2, data.prior_sd, data.noise_sd)?;
    Ok(GaussianPosterior { sd: post.sd(), mean: post.mean, covariance: post.covariance, log_ml: post.log_marginal_likelihood })
}

/// The exact Beta posterior of a Beta-Bernoulli data set.
#[derive(Clone, Debug)]
pub struct BetaPosterior {
    /// Posterior shape alpha + k (k successes).
    pub alpha: f64,
    /// Posterior shape beta + n - k.
    pub beta: f64,
    /// Posterior mean of p.
    pub mean: f64,
    /// Posterior standard deviation of p.
    pub sd: f64,
    /// log p(y).
    pub log_ml: f64,
}

/// Exact posterior of p ~ Beta(alpha, beta), y_i ~ Bernoulli(p).
///
/// # Errors
/// Invalid prior parameters.
pub fn beta_bernoulli(data: &BetaBernoulliData) -> Result<BetaPosterior, ExactError> {
    let successes = data.y.iter().map(|&y| u64::from(y)).sum();
    let post = exact::beta_bernoulli_counts(data.alpha, data.beta, successes, data.y.len() as u64)?;
    Ok(BetaPosterior {
        alpha: post.alpha,
        beta: post.beta,
        mean: post.mean(),
        sd: post.variance().sqrt(),
        log_ml: post.log_marginal_likelihood,
    })
}

/// log p(y_1..y_T) of the discrete HMM by the forward algorithm.
///
/// # Errors
/// Malformed parameters or an observation out of range.
pub fn hmm_log_ml(data: &HmmData) -> Result<f64, ExactError> {
    let hmm =
        DiscreteHmm { initial: data.spec.initial.clone(), transition: data.spec.transition.clone(), emission: data.spec.emission.clone() };
    Ok(exact::hmm_forward(&hmm, &data.y)?.log_marginal_likelihood)
}

/// log p(y_1..y_T) of the LGSSM by the Kalman filter.
///
/// # Errors
/// Non-positive standard deviations.
pub fn kalman_log_ml(data: &LgssmData) -> Result<f64, ExactError> {
    let s = &data.spec;
    let model = LinearGaussianSsm { initial_mean: s.x1_mean, initial_sd: s.x1_sd, transition: s.a, process_sd: s.q, observation_sd: s.r };
    Ok(exact::kalman_filter(&model, &data.y)?.log_marginal_likelihood)
}

/// File name of the exact references in the data folder (`data/exact.json`).
pub const REFERENCES_FILE: &str = "exact.json";

/// Everything in `data/exact.json`: the exact answers on every committed data set, as
/// `benchmarks data` writes them (see `data/README.md`). Reading the file back gives the
/// identical floats only with a correctly rounding parser (serde_json's `float_roundtrip`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExactReferences {
    /// One entry per polynomial data set, in the order `generate` writes them (each noise level
    /// of `datasets.json`, then each size).
    pub polynomial: Vec<PolynomialReference>,
    /// The Beta-Bernoulli data set.
    pub beta_bernoulli: BetaBernoulliReference,
    /// The discrete HMM's log marginal likelihood (forward algorithm).
    pub hmm: LogMlReference,
    /// The LGSSM's log marginal likelihood (Kalman filter).
    pub lgssm: LogMlReference,
}

/// The exact Gaussian posterior of one polynomial data set, latents in the order (a, b, c).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolynomialReference {
    /// The data file, e.g. `polynomial_n10_sd1.0.csv`.
    pub file: String,
    /// Number of points.
    pub n: usize,
    /// Observation noise standard deviation.
    pub noise_sd: f64,
    /// Prior standard deviation of each coefficient.
    pub prior_sd: f64,
    /// log p(y).
    pub log_ml: f64,
    /// Posterior mean.
    pub posterior_mean: Vec<f64>,
    /// Posterior standard deviations (square roots of the covariance diagonal).
    pub posterior_sd: Vec<f64>,
    /// Posterior covariance, rows.
    pub posterior_covariance: Vec<Vec<f64>>,
    /// Standard deviations of the mean-field normal closest to the posterior in KL(q || p)
    /// (its means are the posterior mean): 1 / sqrt of the precision's diagonal.
    pub meanfield_sd: Vec<f64>,
    /// The ELBO of that mean-field optimum: log p(y) - KL(q || p).
    pub meanfield_elbo: f64,
}

/// The exact Beta posterior of the Beta-Bernoulli data set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BetaBernoulliReference {
    /// The data file.
    pub file: String,
    /// Number of observations n.
    pub trials: u64,
    /// Number of ones k.
    pub successes: u64,
    /// Prior shape alpha.
    pub prior_alpha: f64,
    /// Prior shape beta.
    pub prior_beta: f64,
    /// Posterior shape alpha + k.
    pub posterior_alpha: f64,
    /// Posterior shape beta + n - k.
    pub posterior_beta: f64,
    /// log p(y) of the observed sequence.
    pub log_ml: f64,
    /// Posterior mean of p.
    pub posterior_mean: f64,
    /// Posterior standard deviation of p.
    pub posterior_sd: f64,
}

/// The exact log marginal likelihood of a state-space data set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogMlReference {
    /// The data file.
    pub file: String,
    /// Number of time steps T.
    #[serde(rename = "T")]
    pub t: usize,
    /// log p(y_1..y_T).
    pub log_ml: f64,
}

/// Why the exact references could not be computed or written.
#[derive(Debug, thiserror::Error)]
pub enum ReferencesError {
    /// A data set (or `datasets.json`) could not be loaded, or the file could not be written.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The exact computation refused a data set.
    #[error("exact reference of {file}: {source}")]
    Exact {
        /// The data file.
        file: String,
        /// Why.
        source: ExactError,
    },
}

/// The exact references of every data set in `dir`, loaded as the benchmark loads them (each
/// file checked against its checksum in `datasets.json`) and evaluated by the functions above.
///
/// # Errors
/// A data set that does not load, or that the exact computation refuses.
pub fn references(dir: &Path) -> Result<ExactReferences, ReferencesError> {
    let spec = data::load_spec(dir)?;
    let exact_error = |file: &str| {
        let file = file.to_owned();
        move |source| ReferencesError::Exact { file, source }
    };
    let mut polynomials = Vec::new();
    for &noise_sd in &spec.polynomial.noise_sds {
        for &n in &spec.polynomial.sizes {
            let file = data::polynomial_file_name(n, noise_sd);
            let d = data::load_polynomial(dir, &spec, n, noise_sd)?;
            let post = polynomial(&d).map_err(exact_error(&file))?;
            let (opt_mean, meanfield_sd) = exact::mean_field_optimum(&post.mean, &post.covariance).map_err(exact_error(&file))?;
            let kl = exact::gaussian_kl(&opt_mean, &exact::diagonal_covariance(&meanfield_sd), &post.mean, &post.covariance)
                .map_err(exact_error(&file))?;
            polynomials.push(PolynomialReference {
                file,
                n,
                noise_sd,
                prior_sd: d.prior_sd,
                log_ml: post.log_ml,
                meanfield_elbo: post.log_ml - kl,
                posterior_mean: post.mean,
                posterior_sd: post.sd,
                posterior_covariance: post.covariance,
                meanfield_sd,
            });
        }
    }
    let d = data::load_beta_bernoulli(dir, &spec)?;
    let post = beta_bernoulli(&d).map_err(exact_error(data::BETA_BERNOULLI_FILE))?;
    let beta_bernoulli = BetaBernoulliReference {
        file: data::BETA_BERNOULLI_FILE.to_owned(),
        trials: d.y.len() as u64,
        successes: d.y.iter().map(|&y| u64::from(y)).sum(),
        prior_alpha: d.alpha,
        prior_beta: d.beta,
        posterior_alpha: post.alpha,
        posterior_beta: post.beta,
        log_ml: post.log_ml,
        posterior_mean: post.mean,
        posterior_sd: post.sd,
    };
    let d = data::load_hmm(dir, &spec)?;
    let hmm =
        LogMlReference { file: data::HMM_FILE.to_owned(), t: d.y.len(), log_ml: hmm_log_ml(&d).map_err(exact_error(data::HMM_FILE))? };
    let d = data::load_lgssm(dir, &spec)?;
    let lgssm = LogMlReference {
        file: data::LGSSM_FILE.to_owned(),
        t: d.y.len(),
        log_ml: kalman_log_ml(&d).map_err(exact_error(data::LGSSM_FILE))?,
    };
    Ok(ExactReferences { polynomial: polynomials, beta_bernoulli, hmm, lgssm })
}

impl ExactReferences {
    /// The text of `exact.json`: pretty-printed JSON with a final newline. Floats are written in
    /// the shortest form that reads back as the identical f64, so the file is byte-for-byte
    /// reproducible and every number round-trips exactly.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self).expect("the references are plain data");
        json.push('\n');
        json
    }
}

/// Computes the exact references of the data sets in `dir` ([`references`]) and writes them to
/// `dir/exact.json`; returns the path. `benchmarks data` calls it after writing the data sets.
///
/// # Errors
/// As [`references`], or the file cannot be written.
pub fn write_references(dir: &Path) -> Result<PathBuf, ReferencesError> {
    let json = references(dir)?.to_json();
    let path = dir.join(REFERENCES_FILE);
    fs::write(&path, json).map_err(|source| DataError::Write { path: path.clone(), source })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{HmmSpec, LgssmSpec};
    use gen_runtime::distributions::LN_2PI;

    #[test]
    fn beta_bernoulli_of_no_data_is_the_prior() {
        let post = beta_bernoulli(&BetaBernoulliData { y: vec![], alpha: 2.0, beta: 3.0 }).unwrap();
        assert!(post.log_ml.abs() < 1e-14);
        assert!((post.mean - 0.4).abs() < 1e-14);
        // One success: p(y=1) = alpha / (alpha + beta).
        let one = beta_bernoulli(&BetaBernoulliData { y: vec![1], alpha: 2.0, beta: 3.0 }).unwrap();
        assert!((one.log_ml - 0.4f64.ln()).abs() < 1e-13);
    }

    #[test]
    fn hmm_forward_of_one_step_is_the_mixture() {
        let spec = HmmSpec {
            initial: vec![0.25, 0.75],
            transition: vec![vec![0.9, 0.1], vec![0.2, 0.8]],
            emission: vec![vec![0.6, 0.4], vec![0.3, 0.7]],
            t: 1,
            seed: 0,
        };
        let got = hmm_log_ml(&HmmData { y: vec![1], spec }).unwrap();
        assert!((got - (0.25f64 * 0.4 + 0.75 * 0.7).ln()).abs() < 1e-14);
    }

    #[test]
    fn kalman_of_one_step_is_the_marginal_gaussian() {
        let spec = LgssmSpec { a: 0.9, q: 0.5, r: 2.0, x1_mean: 1.0, x1_sd: 1.5, t: 1, seed: 0 };
        let got = kalman_log_ml(&LgssmData { y: vec![0.3], spec }).unwrap();
        let var: f64 = 1.5 * 1.5 + 4.0;
        let want = -0.5 * (LN_2PI + var.ln() + (0.3f64 - 1.0).powi(2) / var);
        assert!((got - want).abs() < 1e-14);
    }
}

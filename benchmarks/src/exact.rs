//! The exact answers every benchmark row is checked against: the suite's data types mapped
//! onto `gen_runtime::exact`, which holds the references and their brute-force tests.

use crate::data::{BetaBernoulliData, HmmData, LgssmData, PolynomialData};
use gen_runtime::exact::{self, DiscreteHmm, ExactError, LinearGaussianSsm};

#[cfg(test)]
const LN_2PI: f64 = 1.837_877_066_409_345_3;

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
    Ok(BetaPosterior { mean: post.mean(), sd: post.variance().sqrt(), log_ml: post.log_marginal_likelihood })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{HmmSpec, LgssmSpec};

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

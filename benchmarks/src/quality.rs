//! Quality next to every time: errors against the exact answer and a `quality_ok` verdict with its
//! reason, so a fast wrong answer shows as wrong.

use serde::Serialize;

use crate::adapters::Quality;
use crate::data::DataSet;
use crate::exact;
use crate::models::{Config, Method};

/// The smallest |estimated - exact| log marginal likelihood, in nats, that makes an IS or SMC
/// row not ok; the tolerance grows with the estimate's Monte Carlo error (see
/// [`log_ml_tolerance`]).
pub const LOG_ML_TOLERANCE: f64 = 1.0;
/// How far an exact filter's log-ML may be from the reference, relative to its magnitude:
/// float32 rounding accumulated over the series is far below it, and a wrong recursion is off
/// by nats.
pub const EXACT_LOG_ML_RELATIVE_TOLERANCE: f64 = 1e-4;
/// Monte Carlo standard errors of the log-ML estimate allowed before a row is not ok.
pub const LOG_ML_STANDARD_ERRORS: f64 = 5.0;
/// Kish ESS below which an IS estimate is not trusted.
pub const MIN_IS_ESS: f64 = 10.0;
/// HMC acceptance rate below which the chain is not trusted (it is barely moving).
pub const MIN_ACCEPTANCE: f64 = 0.1;
/// Largest |posterior mean error| in units of the exact posterior sd for a row to be ok.
pub const MAX_MEAN_ERROR_SDS: f64 = 1.0;
/// Largest KL(q ‖ q*), in nats, from a variational fit q to the mean-field optimum q* for the
/// row to be ok: the fit has found what mean-field ADVI can find (about 0.45 nats is a
/// guide mean off by one optimum sd in one latent).
pub const MAX_KL_TO_MEAN_FIELD_OPTIMUM: f64 = 0.1;

/// The exact answer for a data set (what is known in closed form).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reference {
    /// Exact log p(y).
    pub log_ml: Option<f64>,
    /// Exact posterior mean of the latents.
    pub posterior_mean: Option<Vec<f64>>,
    /// Exact posterior standard deviation of the latents.
    pub posterior_sd: Option<Vec<f64>>,
    /// Exact posterior covariance (rows), where the posterior is Gaussian.
    pub posterior_covariance: Option<Vec<Vec<f64>>>,
    /// Why the exact answer could not be computed, when it could not (no row is then ok).
    pub unavailable: Option<String>,
}

impl Reference {
    /// The exact reference of `data`: Gaussian conjugacy (polynomial), Beta conjugacy, the forward
    /// algorithm (HMM) and the Kalman filter (LGSSM). Data the reference rejects has none.
    #[must_use]
    pub fn exact(data: &DataSet) -> Self {
        let unavailable = |e: gen_runtime::exact::ExactError| Self { unavailable: Some(e.to_string()), ..Self::default() };
        let log_ml = |r: Result<f64, _>| r.map_or_else(unavailable, |v| Self { log_ml: Some(v), ..Self::default() });
        match data {
            DataSet::Polynomial(d) => exact::polynomial(d).map_or_else(unavailable, |post| Self {
                log_ml: Some(post.log_ml),
                posterior_mean: Some(post.mean),
                posterior_sd: Some(post.sd),
                posterior_covariance: Some(post.covariance),
                unavailable: None,
            }),
            DataSet::BetaBernoulli(d) => exact::beta_bernoulli(d).map_or_else(unavailable, |post| Self {
                log_ml: Some(post.log_ml),
                posterior_mean: Some(vec![post.mean]),
                posterior_sd: Some(vec![post.sd]),
                posterior_covariance: None,
                unavailable: None,
            }),
            DataSet::Hmm(d) => log_ml(exact::hmm_log_ml(d)),
            DataSet::Lgssm(d) => log_ml(exact::kalman_log_ml(d)),
        }
    }
}

/// A row's quality against the exact answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Assessment {
    /// Exact log p(y).
    pub log_ml_exact: Option<f64>,
    /// Estimated minus exact log p(y), nats.
    pub log_ml_error: Option<f64>,
    /// Exact posterior mean.
    pub posterior_mean_exact: Option<Vec<f64>>,
    /// Largest |estimated - exact| posterior mean over the latents.
    pub posterior_mean_error: Option<f64>,
    /// The same in units of the exact posterior sd of each latent.
    pub posterior_mean_error_sds: Option<f64>,
    /// VI: KL(q ‖ p) from the fitted guide to the exact posterior, nats.
    pub kl_posterior: Option<f64>,
    /// VI: KL(q ‖ q*) from the fitted guide to the best mean-field fit, nats.
    pub kl_mean_field: Option<f64>,
    /// VI: the framework's final ELBO estimate minus the exact log p(y) (≈ −KL(q ‖ p)).
    pub elbo_gap: Option<f64>,
    /// Whether the answer can be trusted.
    pub quality_ok: bool,
    /// `ok`, or every reason it cannot, separated by `; `.
    pub reason: String,
}

/// How far a log-ML estimate may be from the exact value: [`LOG_ML_STANDARD_ERRORS`] standard
/// errors of the estimate, and at least [`LOG_ML_TOLERANCE`] nats.
///
/// The standard error comes from the run's own weights by the delta method: for importance
/// sampling with N particles and Kish ESS `ess`, Var(Ẑ)/Z² ≈ 1/ESS − 1/N (the relative
/// variance of the weights over N), which is Var(log Ẑ) to first order. A particle filter over
/// T steps adds one such term per step; its rows report the smallest per-step ESS, so
/// T (1/ESS_min − 1/N) bounds the variance from above. A run whose ESS is too small for the
/// first-order formula to hold is flagged by its ESS anyway.
#[must_use]
pub fn log_ml_tolerance(config: &Config, quality: &Quality) -> f64 {
    let (Some(n), Some(ess)) = (config.n_particles, quality.ess.filter(|e| e.is_finite() && *e > 0.0)) else {
        return LOG_ML_TOLERANCE;
    };
    let per_step = (1.0 / ess - 1.0 / n as f64).max(0.0);
    let variance = if config.method == Method::Smc { config.n_points as f64 * per_step } else { per_step };
    (LOG_ML_STANDARD_ERRORS * variance.sqrt()).max(LOG_ML_TOLERANCE)
}

/// KL(q ‖ p) to the exact posterior and KL(q ‖ q*) to the mean-field optimum of a
/// mean-field guide q = N(posterior_mean, diag(posterior_sd²)), or why they cannot be computed.
fn variational_kl(quality: &Quality, reference: &Reference) -> Result<(f64, f64), String> {
    let (Some(mean), Some(sd)) = (&quality.posterior_mean, &quality.posterior_sd) else {
        return Err("no guide mean and sd reported".to_owned());
    };
    let (Some(p_mean), Some(p_cov)) = (&reference.posterior_mean, &reference.posterior_covariance) else {
        return Err("no Gaussian exact posterior to compute a KL against".to_owned());
    };
    let q_cov = gen_runtime::exact::diagonal_covariance(sd);
    let to_posterior = gen_runtime::exact::gaussian_kl(mean, &q_cov, p_mean, p_cov).map_err(|e| format!("KL to the posterior: {e}"))?;
    let (opt_mean, opt_sd) = gen_runtime::exact::mean_field_optimum(p_mean, p_cov).map_err(|e| e.to_string())?;
    let to_optimum = gen_runtime::exact::gaussian_kl(mean, &q_cov, &opt_mean, &gen_runtime::exact::diagonal_covariance(&opt_sd))
        .map_err(|e| format!("KL to the mean-field optimum: {e}"))?;
    Ok((to_posterior, to_optimum))
}

/// Judges `quality` (what `config`'s method yielded) against `reference`: values that are not
/// finite, then the method's own checks (`method_problems`), the posterior mean against the
/// exact one (`mean_error`), a VI guide against the exact posterior (`variational_kl`).
#[must_use]
pub fn assess(config: &Config, quality: &Quality, reference: &Reference) -> Assessment {
    let mut problems = non_finite(quality);
    let log_ml_error = quality.log_ml.zip(reference.log_ml).map(|(est, exact)| est - exact);
    problems.extend(method_problems(config, quality, reference, log_ml_error));

    let (mean_error, mean_error_sds) = match mean_error(quality, reference) {
        Ok(errors) => errors,
        Err(why) => {
            problems.push(why);
            (None, None)
        }
    };
    if let Some(sds) = mean_error_sds.filter(|sds| *sds > MAX_MEAN_ERROR_SDS) {
        problems.push(format!("posterior mean off by {sds:.2} posterior sds"));
    }
    let (mut kl_posterior, mut kl_mean_field) = (None, None);
    if config.method == Method::Vi {
        match variational_kl(quality, reference) {
            Ok((to_posterior, to_optimum)) => {
                kl_posterior = Some(to_posterior);
                kl_mean_field = Some(to_optimum);
                if to_optimum > MAX_KL_TO_MEAN_FIELD_OPTIMUM {
                    problems.push(format!(
                        "the guide is {to_optimum:.3} nats from the mean-field optimum (KL > {MAX_KL_TO_MEAN_FIELD_OPTIMUM})"
                    ));
                }
            }
            Err(why) => problems.push(why),
        }
    }
    let elbo_gap = quality.elbo.zip(reference.log_ml).map(|(elbo, exact)| elbo - exact);
    if let Some(why) = &reference.unavailable {
        problems.push(format!("no exact reference to check against ({why})"));
    }
    let nothing_reported = quality.log_ml.is_none() && quality.posterior_mean.is_none();
    if nothing_reported && problems.is_empty() {
        problems.push("no log-ML or posterior mean reported".to_owned());
    }

    Assessment {
        log_ml_exact: reference.log_ml,
        log_ml_error,
        posterior_mean_exact: reference.posterior_mean.clone(),
        posterior_mean_error: mean_error,
        posterior_mean_error_sds: mean_error_sds,
        kl_posterior,
        kl_mean_field,
        elbo_gap,
        quality_ok: problems.is_empty(),
        reason: if problems.is_empty() { "ok".to_owned() } else { problems.join("; ") },
    }
}

/// Every reported number that is not finite.
fn non_finite(quality: &Quality) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, value) in [("log-ML", quality.log_ml), ("ESS", quality.ess), ("acceptance rate", quality.acceptance_rate), ("ELBO", quality.elbo)] {
        if let Some(v) = value.filter(|v| !v.is_finite()) {
            problems.push(format!("{name} is {v}"));
        }
    }
    for (name, values) in [("posterior mean", &quality.posterior_mean), ("posterior sd", &quality.posterior_sd)] {
        if values.as_ref().is_some_and(|v| v.iter().any(|x| !x.is_finite())) {
            problems.push(format!("{name} is not finite"));
        }
    }
    problems
}

/// The checks of `config`'s method: the log-ML within its tolerance (IS, SMC, exact filtering),
/// enough ESS (IS), acceptance and no divergences (HMC, NUTS).
fn method_problems(config: &Config, quality: &Quality, reference: &Reference, log_ml_error: Option<f64>) -> Vec<String> {
    let mut problems = Vec::new();
    match config.method {
        Method::Is | Method::Smc => {
            let tolerance = log_ml_tolerance(config, quality);
            if let Some(err) = log_ml_error.filter(|e| e.abs() > tolerance) {
                problems.push(format!("log-ML off by {err:+.3} nats (tolerance {tolerance:.2}: {LOG_ML_STANDARD_ERRORS} standard errors, at least {LOG_ML_TOLERANCE})"));
            }
            if config.method == Method::Is {
                if let Some(ess) = quality.ess.filter(|e| *e < MIN_IS_ESS) {
                    problems.push(format!("ESS {ess:.1} < {MIN_IS_ESS}"));
                }
            }
        }
        Method::Exact => {
            if let (Some(err), Some(exact)) = (log_ml_error, reference.log_ml) {
                let tolerance = EXACT_LOG_ML_RELATIVE_TOLERANCE * exact.abs().max(1.0);
                if err.abs() > tolerance {
                    problems.push(format!("exact log-ML off by {err:+.3e} nats (tolerance {tolerance:.1e}: {EXACT_LOG_ML_RELATIVE_TOLERANCE:e} of its magnitude)"));
                }
            } else if quality.log_ml.is_none() {
                problems.push("no log-ML reported".to_owned());
            }
        }
        Method::Hmc | Method::Nuts => {
            if let Some(acc) = quality.acceptance_rate.filter(|a| *a < MIN_ACCEPTANCE) {
                problems.push(format!("acceptance {acc:.3} < {MIN_ACCEPTANCE}"));
            }
            if let Some(div) = quality.divergences.filter(|d| *d > 0) {
                problems.push(format!("{div} divergences"));
            }
        }
        Method::Vi => {}
    }
    problems
}

/// The largest absolute error of the posterior mean and the largest in posterior sds, where
/// both are known; an error when the mean has the wrong number of entries.
fn mean_error(quality: &Quality, reference: &Reference) -> Result<(Option<f64>, Option<f64>), String> {
    let (Some(est), Some(exact)) = (&quality.posterior_mean, &reference.posterior_mean) else { return Ok((None, None)) };
    if est.len() != exact.len() {
        return Err(format!("posterior mean has {} entries, the model has {}", est.len(), exact.len()));
    }
    let abs: Vec<f64> = est.iter().zip(exact).map(|(e, x)| (e - x).abs()).collect();
    let sds = reference.posterior_sd.as_ref().map(|sd| abs.iter().zip(sd).map(|(a, s)| a / s).fold(0.0, f64::max));
    Ok((Some(abs.iter().copied().fold(0.0, f64::max)), sds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Model;

    fn config(model: Model, method: Method, n_points: usize, n_particles: Option<usize>) -> Config {
        Config { model, method, n_points, noise_sd: None, n_particles, hmc: None, vi: None }
    }

    #[test]
    fn a_nan_log_ml_is_not_ok() {
        let q = Quality { log_ml: Some(f64::NAN), ess: Some(500.0), ..Quality::default() };
        let c = config(Model::Polynomial, Method::Is, 10, Some(1000));
        let a = assess(&c, &q, &Reference { log_ml: Some(-10.0), ..Reference::default() });
        assert!(!a.quality_ok);
        assert!(a.reason.contains("log-ML is NaN"), "{}", a.reason);
    }

    #[test]
    fn a_stuck_chain_is_not_ok() {
        let q = Quality { posterior_mean: Some(vec![0.0]), acceptance_rate: Some(0.0), ..Quality::default() };
        let r = Reference { posterior_mean: Some(vec![1.0]), posterior_sd: Some(vec![0.1]), ..Reference::default() };
        let a = assess(&config(Model::Polynomial, Method::Hmc, 10, None), &q, &r);
        assert!(!a.quality_ok);
        assert!(a.reason.contains("acceptance") && a.reason.contains("10.00 posterior sds"), "{}", a.reason);
    }

    #[test]
    fn no_row_is_ok_without_an_exact_reference() {
        let q = Quality { log_ml: Some(-10.0), ess: Some(500.0), ..Quality::default() };
        let c = config(Model::Polynomial, Method::Is, 10, Some(1000));
        let r = Reference { unavailable: Some("prior sd must be positive".into()), ..Reference::default() };
        let a = assess(&c, &q, &r);
        assert!(!a.quality_ok);
        assert!(a.reason.contains("no exact reference") && a.reason.contains("prior sd"), "{}", a.reason);
    }

    /// The tolerance is 5 delta-method standard errors, never under 1 nat: a filter whose
    /// smallest per-step ESS is 29 of 100 over 100 steps may be off by 7.8 nats, one with ESS
    /// 2900 of 10000 by 1.
    #[test]
    fn the_log_ml_tolerance_follows_the_monte_carlo_error() {
        let q = |ess: f64, log_ml: f64| Quality { log_ml: Some(log_ml), ess: Some(ess), ..Quality::default() };
        let smc = config(Model::Lgssm, Method::Smc, 100, Some(100));
        let t = log_ml_tolerance(&smc, &q(29.0, 0.0));
        assert!((t - 5.0 * (100.0f64 * (1.0 / 29.0 - 0.01)).sqrt()).abs() < 1e-12, "{t}");
        let exact = Reference { log_ml: Some(-100.0), ..Reference::default() };
        assert!(assess(&smc, &q(29.0, -103.0), &exact).quality_ok);
        assert!(!assess(&smc, &q(29.0, -109.0), &exact).quality_ok);
        let big = config(Model::Lgssm, Method::Smc, 100, Some(10_000));
        assert_eq!(log_ml_tolerance(&big, &q(2900.0, 0.0)), LOG_ML_TOLERANCE);
        // IS: one term. ESS 50 of 1000: se = sqrt(0.019) = 0.138, so the floor of 1 nat holds.
        let is = config(Model::Polynomial, Method::Is, 50, Some(1000));
        assert_eq!(log_ml_tolerance(&is, &q(50.0, 0.0)), LOG_ML_TOLERANCE);
        let reason = assess(&is, &q(50.0, -101.5), &exact).reason;
        assert!(reason.contains("log-ML off by -1.500 nats (tolerance 1.00"), "{reason}");
    }

    /// An exact filter is held to rounding, not to a Monte Carlo error: 1e-4 of |log-ML|.
    #[test]
    fn an_exact_filter_is_held_to_rounding() {
        let exact = Reference { log_ml: Some(-150.0), ..Reference::default() };
        let c = config(Model::Hmm, Method::Exact, 100, None);
        let q = |log_ml: f64| Quality { log_ml: Some(log_ml), ..Quality::default() };
        assert!(assess(&c, &q(-150.001), &exact).quality_ok);
        let reason = assess(&c, &q(-150.1), &exact).reason;
        assert!(reason.contains("exact log-ML off by -1.000e-1 nats (tolerance 1.5e-2"), "{reason}");
        assert!(!assess(&c, &Quality::default(), &exact).quality_ok);
    }
}

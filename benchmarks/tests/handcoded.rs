//! The handcoded baselines against the exact answers, with tolerances from Monte Carlo error.

mod common;

use benchmarks::data::{self, PolynomialData};
use benchmarks::models::HmcConfig;
use benchmarks::{diagnostics, exact, handcoded};

fn polynomial(n: usize, noise_sd: f64) -> PolynomialData {
    let dir = common::repo_root().join("data");
    let spec = data::load_spec(&dir).unwrap();
    data::load_polynomial(&dir, &spec, n, noise_sd).unwrap()
}

/// Delta-method standard error of log(mean w): sqrt(var(w) / N) / mean(w), from the weights.
fn log_ml_standard_error(log_weights: &[f64]) -> f64 {
    let max = log_weights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = log_weights.iter().map(|lw| (lw - max).exp()).collect();
    let (mean, sd) = diagnostics::mean_sd(&w);
    sd / (w.len() as f64).sqrt() / mean
}

#[test]
fn importance_sampling_log_ml_is_within_three_standard_errors() {
    for (n, particles) in [(10, 10_000), (50, 20_000), (100, 50_000)] {
        let data = polynomial(n, 1.0);
        let exact = exact::polynomial(&data).unwrap();
        let out = handcoded::polynomial_is(&data, particles, 42);
        let se = log_ml_standard_error(&out.log_weights);
        let err = out.log_ml - exact.log_ml;
        assert!(err.abs() < 3.0 * se, "n={n}: log-ML {} vs exact {} (error {err:.4}, 3 SE = {:.4})", out.log_ml, exact.log_ml, 3.0 * se);
        assert!(se < 0.1, "n={n}: the check has teeth only if the SE is small ({se})");
    }
}

#[test]
fn beta_bernoulli_importance_sampling_matches_the_conjugate_posterior() {
    let dir = common::repo_root().join("data");
    let spec = data::load_spec(&dir).unwrap();
    let bb = data::load_beta_bernoulli(&dir, &spec).unwrap();
    let exact = exact::beta_bernoulli(&bb).unwrap();
    let out = handcoded::beta_bernoulli_is(&bb, 20_000, 3);
    let se = log_ml_standard_error(&out.log_weights);
    assert!((out.log_ml - exact.log_ml).abs() < 3.0 * se, "{} vs {} (SE {se})", out.log_ml, exact.log_ml);
    let mean_se = exact.sd / out.ess.sqrt();
    assert!((out.posterior_mean[0] - exact.mean).abs() < 4.0 * mean_se);
}

#[test]
fn hmc_posterior_mean_is_within_four_batch_means_standard_errors() {
    let data = polynomial(10, 1.0);
    let exact = exact::polynomial(&data).unwrap();
    let config = HmcConfig { step_size: 0.05, ..HmcConfig::default() };
    let out = handcoded::polynomial_hmc(&data, &config, 11);
    assert!(out.acceptance_rate > 0.9 && out.divergences == 0, "acceptance {}", out.acceptance_rate);
    for d in 0..3 {
        let chain: Vec<f64> = out.samples.iter().map(|s| s[d]).collect();
        let (mean, _) = diagnostics::mean_sd(&chain);
        let mcse = diagnostics::batch_means_mcse(&chain, 20);
        assert!(
            (mean - exact.mean[d]).abs() < 4.0 * mcse,
            "latent {d}: mean {mean:.4} vs exact {:.4} (4 MCSE = {:.4})",
            exact.mean[d],
            4.0 * mcse
        );
    }
}

#[test]
fn particle_filters_estimate_the_exact_log_ml() {
    let dir = common::repo_root().join("data");
    let spec = data::load_spec(&dir).unwrap();
    let hmm = data::load_hmm(&dir, &spec).unwrap();
    let lgssm = data::load_lgssm(&dir, &spec).unwrap();
    // The log-ML estimate's spread over seeds sets the tolerance.
    for (name, estimates, exact) in [
        ("hmm", (0..20).map(|s| handcoded::hmm_bootstrap_pf(&hmm, 2000, s).log_ml).collect::<Vec<_>>(), exact::hmm_log_ml(&hmm).unwrap()),
        ("lgssm", (0..20).map(|s| handcoded::lgssm_bootstrap_pf(&lgssm, 2000, s).log_ml).collect(), exact::kalman_log_ml(&lgssm).unwrap()),
    ] {
        let (mean, sd) = diagnostics::mean_sd(&estimates);
        let se = sd / (estimates.len() as f64).sqrt();
        assert!((mean - exact).abs() < 4.0 * se + 0.02, "{name}: mean estimate {mean:.4} vs exact {exact:.4} (SE {se:.4})");
    }
}

/// The handcoded exact filters are written apart from the references (`gen_runtime::exact`),
/// so agreeing to rounding checks both.
#[test]
fn the_handcoded_exact_filters_equal_the_references() {
    let dir = common::repo_root().join("data");
    let spec = data::load_spec(&dir).unwrap();
    let hmm = data::load_hmm(&dir, &spec).unwrap();
    let lgssm = data::load_lgssm(&dir, &spec).unwrap();
    let (got, want) = (handcoded::hmm_forward_log_ml(&hmm), exact::hmm_log_ml(&hmm).unwrap());
    assert!((got - want).abs() < 1e-9 * want.abs(), "hmm: {got} vs {want}");
    let (got, want) = (handcoded::lgssm_kalman_log_ml(&lgssm), exact::kalman_log_ml(&lgssm).unwrap());
    assert!((got - want).abs() < 1e-9 * want.abs(), "lgssm: {got} vs {want}");
}

#[test]
fn hmc_at_the_case_study_step_rejects_everything_on_the_sharp_posterior() {
    // At noise 0.05 and n >= 100, eps * sqrt(lambda_max) > 2, so leapfrog is unstable.
    let data = polynomial(100, 0.05);
    let out = handcoded::polynomial_hmc(&data, &HmcConfig::default(), 0);
    assert!(out.acceptance_rate < 0.05, "acceptance {}", out.acceptance_rate);
}

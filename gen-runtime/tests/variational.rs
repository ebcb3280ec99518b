//! Variational inference, MAP and Laplace against exact answers.
//!
//! Oracles: a correlated Gaussian target, whose mean-field optimum is known in closed form
//! (means equal to the target's, precisions equal to the diagonal of its precision matrix)
//! and whose full-rank optimum is the target itself; and the polynomial regression, whose
//! posterior is Gaussian, so its mode is its mean and the Laplace approximation is exact.
//!
//! Tolerances for the stochastic fits come from their own Monte Carlo error: each check runs
//! `SEEDS` independent fits and compares the average over fits with the optimum to within
//! five standard errors of that average (the seed-to-seed spread / sqrt(SEEDS)); a second
//! check bounds the spread itself to a tenth of the quantity's scale, so a fit too noisy to
//! say anything fails too.

#![allow(clippy::needless_range_loop)] // The matrices read best indexed as [i][j].

use gen_runtime::exact;
use gen_runtime::inference::{advi, from_fn, AdviConfig, Approximation, Guide, GuideConfig, MapConfig, Optimizer, VariationalObjective};
use gen_runtime::prelude::*;

mod common;
use common::{linspace, polynomial};

const SEEDS: u64 = 8;

/// Mean, covariance and precision of the correlated Gaussian target.
const MEAN: [f64; 3] = [1.0, -2.0, 0.5];
const COV: [[f64; 3]; 3] = [[1.0, 0.6, 0.2], [0.6, 2.0, -0.5], [0.2, -0.5, 0.5]];

fn precision() -> [[f64; 3]; 3] {
    nalgebra_free_inverse(COV)
}

/// The inverse of a 3 x 3 matrix by cofactors (the test's own, independent of the library).
fn nalgebra_free_inverse(a: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let c = |i: usize, j: usize| {
        let (r0, r1) = ((i + 1) % 3, (i + 2) % 3);
        let (c0, c1) = ((j + 1) % 3, (j + 2) % 3);
        a[r0][c0] * a[r1][c1] - a[r0][c1] * a[r1][c0]
    };
    let det: f64 = (0..3).map(|j| a[0][j] * c(0, j)).sum();
    std::array::from_fn(|j| std::array::from_fn(|i| c(i, j) / det))
}

fn gaussian_target() -> impl gen_runtime::inference::Target {
    let p = precision();
    from_fn(3, move |theta: &[f64], grad: &mut [f64]| {
        let d: Vec<f64> = theta.iter().zip(MEAN).map(|(t, m)| t - m).collect();
        let mut lp = 0.0;
        for i in 0..3 {
            grad[i] = -(0..3).map(|j| p[i][j] * d[j]).sum::<f64>();
            lp += 0.5 * grad[i] * d[i];
        }
        Ok(lp)
    })
}

/// The average over fits and its standard error.
fn mean_and_se(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// Asserts that fits' values of one quantity average to `expected` within five standard
/// errors, and that their spread is below `max_spread` (so the check has power).
fn assert_reaches(what: &str, values: &[f64], expected: f64, max_spread: f64) {
    let (mean, se) = mean_and_se(values);
    let spread = se * (values.len() as f64).sqrt();
    assert!((mean - expected).abs() <= 5.0 * se + 1e-12, "{what}: average {mean} over fits, expected {expected} (se {se}; values {values:?})");
    assert!(spread < max_spread, "{what}: fits spread by {spread}, more than {max_spread}");
}

fn config(guide: Guide) -> AdviConfig {
    AdviConfig { guide, num_steps: 4000, num_samples: 10, init_scale: 1.0, ..AdviConfig::default() }
}

#[test]
fn mean_field_advi_reaches_the_mean_field_optimum() {
    let target = gaussian_target();
    let p = precision();
    let fits: Vec<_> = (0..SEEDS).map(|s| advi(&target, &config(Guide::MeanField), Key::new(s)).unwrap()).collect();
    for i in 0..3 {
        let locs: Vec<f64> = fits.iter().map(|f| f.loc[i]).collect();
        let sds: Vec<f64> = fits.iter().map(|f| f.sd(i)).collect();
        let optimum_sd = 1.0 / p[i][i].sqrt();
        assert_reaches(&format!("loc[{i}]"), &locs, MEAN[i], 0.1 * COV[i][i].sqrt());
        assert_reaches(&format!("sd[{i}]"), &sds, optimum_sd, 0.1 * optimum_sd);
        // The mean-field sd is the conditional sd, well below the marginal one here.
        assert!(optimum_sd < 0.9 * COV[i][i].sqrt());
    }
}

#[test]
fn full_rank_advi_recovers_the_exact_covariance() {
    let target = gaussian_target();
    let fits: Vec<_> = (0..SEEDS).map(|s| advi(&target, &config(Guide::FullRank), Key::new(100 + s)).unwrap()).collect();
    for i in 0..3 {
        let locs: Vec<f64> = fits.iter().map(|f| f.loc[i]).collect();
        assert_reaches(&format!("loc[{i}]"), &locs, MEAN[i], 0.1 * COV[i][i].sqrt());
        for j in 0..=i {
            let entries: Vec<f64> = fits.iter().map(|f| f.covariance()[i * 3 + j]).collect();
            assert_reaches(&format!("cov[{i}][{j}]"), &entries, COV[i][j], 0.1 * (COV[i][i] * COV[j][j]).sqrt());
        }
    }
}

#[test]
fn iwelbo_is_at_least_the_elbo_and_both_bound_the_evidence() {
    let target = gaussian_target();
    // log Z of exp(-d' P d / 2): (3/2) ln 2 pi + (1/2) ln det COV.
    let det = {
        let c = COV;
        c[0][0] * (c[1][1] * c[2][2] - c[1][2] * c[2][1]) - c[0][1] * (c[1][0] * c[2][2] - c[1][2] * c[2][0])
            + c[0][2] * (c[1][0] * c[2][1] - c[1][1] * c[2][0])
    };
    let log_z = 1.5 * (2.0 * std::f64::consts::PI).ln() + 0.5 * det.ln();
    let window = 1000;
    let estimate = |objective| {
        let cfg = AdviConfig { objective, ..config(Guide::MeanField) };
        let values: Vec<f64> = (0..SEEDS).map(|s| advi(&target, &cfg, Key::new(200 + s)).unwrap().final_estimate(window)).collect();
        mean_and_se(&values)
    };
    let (elbo, elbo_se) = estimate(VariationalObjective::Elbo);
    let (iwelbo, iwelbo_se) = estimate(VariationalObjective::Iwelbo);
    let se = (elbo_se.powi(2) + iwelbo_se.powi(2)).sqrt();
    assert!(iwelbo - elbo > 5.0 * se, "IWELBO {iwelbo} (se {iwelbo_se}) is not above the ELBO {elbo} (se {elbo_se})");
    assert!(iwelbo < log_z + 5.0 * iwelbo_se, "IWELBO {iwelbo} above log Z {log_z}");
    // The mean-field ELBO's gap is KL(q* || p), which is known: (1/2) ln(det COV / prod 1/P_ii).
    let p = precision();
    let kl = 0.5 * (det * p[0][0] * p[1][1] * p[2][2]).ln();
    assert!((elbo - (log_z - kl)).abs() < 5.0 * elbo_se + 1e-3, "ELBO {elbo} vs log Z - KL = {}", log_z - kl);
}

/// x = linspace(0, 1, n), y = 0.5 - 1.25 x + 2 x^2 + noise * (a fixed pseudo-random sequence).
fn polynomial_data(n: usize, noise: f64) -> (Vec<f64>, Vec<f64>) {
    let xs: Vec<f64> = linspace(n);
    let ys = xs.iter().enumerate().map(|(i, x)| 0.5 - 1.25 * x + 2.0 * x * x + noise * ((i as f64 * 12.9898).sin() * 1.7)).collect();
    (xs, ys)
}

#[test]
fn map_is_the_exact_posterior_mode_and_laplace_its_covariance() {
    for (n, noise) in [(10, 1.0), (100, 0.05), (1000, 0.05)] {
        let (xs, ys) = polynomial_data(n, noise);
        let exact = exact::polynomial(&xs, &ys, 2, 1.0, noise).unwrap();
        let observations = choicemap! { "ys" => ys.clone() };
        let call = polynomial(&xs, noise);
        let conditioned = call.condition(&observations);
        let map = conditioned.map(&MapConfig::default(), Key::new(1)).unwrap();
        assert!(map.mode.converged, "n = {n}: {}", map.mode.termination);
        for (k, name) in ["a", "b", "c"].into_iter().enumerate() {
            let value: f64 = map.values.get_as(name).unwrap();
            assert!((value - exact.mean[k]).abs() < 1e-6, "n = {n}: MAP {name} = {value}, exact mode {}", exact.mean[k]);
        }
        let posterior = conditioned.laplace(&MapConfig::default(), 1000, Key::new(2)).unwrap();
        let Some(Approximation::Laplace { gaussian, .. }) = posterior.approximation() else { panic!("a Laplace posterior") };
        for i in 0..3 {
            for j in 0..3 {
                let (got, want) = (gaussian.covariance[i * 3 + j], exact.covariance[i][j]);
                let scale = (exact.covariance[i][i] * exact.covariance[j][j]).sqrt();
                assert!((got - want).abs() < 1e-6 * scale, "n = {n}: Laplace cov[{i}][{j}] = {got}, exact {want}");
            }
        }
        // The draws are the Gaussian's: their mean is within 5 standard errors.
        for (k, name) in ["a", "b", "c"].into_iter().enumerate() {
            let se = exact.sd()[k] / 1000f64.sqrt();
            assert!((posterior.mean(name).unwrap() - exact.mean[k]).abs() < 5.0 * se);
        }
    }
}

#[test]
fn advi_on_a_model_reaches_the_mean_field_optimum_of_its_exact_posterior() {
    let (xs, ys) = polynomial_data(50, 1.0);
    let exact = exact::polynomial(&xs, &ys, 2, 1.0, 1.0).unwrap();
    let precision = {
        let c = &exact.covariance;
        nalgebra_free_inverse([[c[0][0], c[0][1], c[0][2]], [c[1][0], c[1][1], c[1][2]], [c[2][0], c[2][1], c[2][2]]])
    };
    let observations = choicemap! { "ys" => ys.clone() };
    let call = polynomial(&xs, 1.0);
    let fits: Vec<_> = (0..SEEDS)
        .map(|s| {
            let posterior = call.condition(&observations).advi(&config(Guide::MeanField), 2000, Key::new(300 + s)).unwrap();
            let Some(Approximation::Variational(fit)) = posterior.approximation() else { panic!("a variational posterior") };
            assert_eq!(posterior.num_draws(), 2000);
            assert!(posterior.summary().is_ok());
            fit.clone()
        })
        .collect();
    for k in 0..3 {
        let locs: Vec<f64> = fits.iter().map(|f| f.loc[k]).collect();
        let sds: Vec<f64> = fits.iter().map(|f| f.sd(k)).collect();
        let optimum_sd = 1.0 / precision[k][k].sqrt();
        assert_reaches(&format!("loc[{k}]"), &locs, exact.mean[k], 0.1 * exact.sd()[k]);
        assert_reaches(&format!("sd[{k}]"), &sds, optimum_sd, 0.1 * optimum_sd);
    }
}

#[gen]
fn scale_model() {
    let tau = half_normal(1.0).at("tau");
    normal(0.0, tau).at("y");
}

#[test]
fn map_of_a_constrained_latent_is_the_mode_of_its_own_density() {
    // tau ~ HalfNormal(1), y ~ N(0, tau) with y = 2: p(tau | y) ∝ exp(-tau²/2) exp(-2/tau²) / tau,
    // whose mode solves tau⁴ + tau² - 4 = 0 (d/dtau of the log density is -tau - 1/tau + 4/tau³).
    let observations = choicemap! { "y" => 2.0 };
    let map = scale_model().condition(&observations).map(&MapConfig::default(), Key::new(3)).unwrap();
    let tau: f64 = map.values.get_as("tau").unwrap();
    let expected = ((-1.0 + 17f64.sqrt()) / 2.0).sqrt();
    assert!((tau - expected).abs() < 1e-6, "MAP tau = {tau}, mode {expected}");
}

#[test]
fn bad_input_is_a_named_error() {
    // A diverging optimizer is reported, not a panic.
    let (xs, ys) = polynomial_data(100, 0.05);
    let observations = choicemap! { "ys" => ys };
    let call = polynomial(&xs, 0.05);
    let cfg = AdviConfig { optimizer: Optimizer::Sgd { learning_rate: 1.0, decay: 0.0 }, ..AdviConfig::default() };
    let err = call.condition(&observations).advi(&cfg, 10, Key::new(0)).unwrap_err();
    assert!(err.to_string().contains("ADVI: diverged") && err.to_string().contains("learning rate"), "{err}");
    // A model whose every choice is observed has nothing to fit or optimize.
    let all = choicemap! { "tau" => 1.0, "y" => 2.0 };
    let err = scale_model().condition(&all).map(&MapConfig::default(), Key::new(0)).unwrap_err();
    assert!(err.to_string().contains("nothing to optimize"), "{err}");
    let err = scale_model().condition(&all).advi(&AdviConfig::default(), 10, Key::new(0)).unwrap_err();
    assert!(err.to_string().contains("nothing to fit"), "{err}");
    // Settings out of range name the setting.
    let err = scale_model().condition(&choicemap! { "y" => 2.0 }).advi(&AdviConfig { num_samples: 0, ..AdviConfig::default() }, 10, Key::new(0)).unwrap_err();
    assert!(err.to_string().contains("num_samples"), "{err}");
}

#[test]
fn an_approximation_posterior_exports_and_prints_like_any_other() {
    let (xs, ys) = polynomial_data(10, 1.0);
    let observations = choicemap! { "ys" => ys };
    let posterior = polynomial(&xs, 1.0).condition(&observations).advi(&AdviConfig::default(), 500, Key::new(9)).unwrap();
    let dir = std::env::temp_dir().join(format!("gen-runtime-advi-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let paths = posterior.write_cmdstan_csv(&dir, "advi").unwrap();
    let text = std::fs::read_to_string(&paths[0]).unwrap();
    assert!(text.contains("# method = variational (ADVI draws)"), "{text}");
    let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(rows[0], "lp__,a,b,c");
    assert_eq!(rows.len(), 501);
    let printed = posterior.to_string();
    assert!(printed.contains("500 draws from the fitted MeanField guide") && printed.contains("final ELBO estimate"), "{printed}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- Programmable guides --------------------------------------------------------------------

/// mu ~ N(0, 1); y_j ~ N(mu, 1): the posterior is N(sum y / (n + 1), 1 / (n + 1)).
#[gen]
fn normal_mean(n: usize) {
    let mu = normal(0.0, 1.0).at("mu");
    for j in 0..n {
        normal(mu, 1.0).at(("y", j as i64));
    }
}

#[gen]
fn normal_guide() {
    let loc = param(0.0).at("loc");
    let log_scale = param(0.0).at("log_scale");
    normal(loc, log_scale.exp()).at("mu");
}

fn guide_param(posterior: &gen_runtime::inference::Posterior, address: impl IntoAddress) -> f64 {
    let Some(Approximation::Guide(fit)) = posterior.approximation() else { panic!("a guide posterior") };
    fit.params.get(&address.into_address()).unwrap()
}

#[test]
fn a_programmable_guide_with_trainable_parameters_fits_a_conjugate_model() {
    let ys = [1.2, 0.4, 2.1, 1.7];
    let mut observations = ChoiceMap::new();
    for (j, y) in ys.iter().enumerate() {
        observations.insert(("y", j as i64), *y);
    }
    let n = ys.len() as f64;
    let (mean, sd) = (ys.iter().sum::<f64>() / (n + 1.0), (1.0 / (n + 1.0)).sqrt());
    let config = GuideConfig { num_steps: 3000, num_samples: 4, optimizer: Optimizer::adam(0.01) };
    let fits: Vec<_> = (0..SEEDS)
        .map(|s| normal_mean(ys.len()).condition(&observations).vi(&normal_guide(), &config, 200, Key::new(400 + s)).unwrap())
        .collect();
    let locs: Vec<f64> = fits.iter().map(|p| guide_param(p, "loc")).collect();
    let scales: Vec<f64> = fits.iter().map(|p| guide_param(p, "log_scale").exp()).collect();
    assert_reaches("loc", &locs, mean, 0.1 * sd);
    assert_reaches("scale", &scales, sd, 0.1 * sd);
    // The draws are the guide's, by the model's address.
    assert_eq!(fits[0].num_draws(), 200);
    assert!((fits[0].mean("mu").unwrap() - mean).abs() < 5.0 * sd / 200f64.sqrt() + 0.1 * sd);
}

/// Three points, each from one of two components chosen by a Bernoulli: the assignments'
/// posterior marginals are exact by Bayes' rule, and independent, so a guide of independent
/// Bernoullis contains the posterior.
#[gen]
fn assignments(ys: &[f64]) {
    for (i, y) in ys.iter().enumerate() {
        let z = bernoulli(0.4).at(("z", i as i64));
        let mean = if z { 1.5 } else { -1.0 };
        normal(mean, 1.0).at(("y", i as i64));
        let _ = y;
    }
}

#[gen]
fn assignment_guide(n: usize) {
    for i in 0..n {
        let logit = param(0.0).at(("logit", i as i64));
        bernoulli(logit.sigmoid()).at(("z", i as i64));
    }
}

#[test]
fn a_score_function_fit_on_discrete_choices_matches_the_exact_marginals() {
    let ys = [1.0, -0.5, 0.3];
    let mut observations = ChoiceMap::new();
    for (i, y) in ys.iter().enumerate() {
        observations.insert(("y", i as i64), *y);
    }
    let density = |y: f64, m: f64| (-0.5 * (y - m) * (y - m)).exp();
    let exact: Vec<f64> = ys.iter().map(|&y| 0.4 * density(y, 1.5) / (0.4 * density(y, 1.5) + 0.6 * density(y, -1.0))).collect();
    let config = GuideConfig { num_steps: 3000, num_samples: 8, optimizer: Optimizer::adam(0.05) };
    let fits: Vec<_> = (0..SEEDS)
        .map(|s| assignments(&ys).condition(&observations).vi(&assignment_guide(ys.len()), &config, 10, Key::new(500 + s)).unwrap())
        .collect();
    for (i, p) in exact.iter().enumerate() {
        let fitted: Vec<f64> = fits.iter().map(|post| 1.0 / (1.0 + (-guide_param(post, ("logit", i as i64))).exp())).collect();
        assert_reaches(&format!("P(z{i} = 1)"), &fitted, *p, 0.1);
    }
}

#[test]
fn a_guide_that_misses_a_latent_or_has_no_parameters_is_refused() {
    #[gen]
    fn two_latents() {
        let mu = normal(0.0, 1.0).at("mu");
        let nu = normal(0.0, 1.0).at("nu");
        normal(mu + nu, 1.0).at("y");
    }
    #[gen]
    fn fixed_guide() {
        normal(0.0, 1.0).at("mu");
    }
    let observations = choicemap! { "y" => 1.0 };
    let config = GuideConfig { num_steps: 10, ..GuideConfig::default() };
    let err = two_latents().condition(&observations).vi(&normal_guide(), &config, 10, Key::new(0)).unwrap_err();
    assert!(err.to_string().contains("does not propose the model's latent `nu`"), "{err}");
    let err = two_latents().condition(&observations).vi(&fixed_guide(), &config, 10, Key::new(0)).unwrap_err();
    assert!(err.to_string().contains("declares no `param"), "{err}");
}

#[test]
fn a_fitted_guide_reads_by_address_in_both_spaces() {
    let posterior = scale_model().condition(&choicemap! { "y" => 2.0 }).advi(&AdviConfig::default(), 100, Key::new(11)).unwrap();
    let Some(Approximation::Variational(fit)) = posterior.approximation() else { panic!("a variational posterior") };
    let log_tau = fit.loc_of("tau").unwrap()[0];
    let tau: f64 = fit.median().get_as("tau").unwrap();
    assert!((tau - log_tau.exp()).abs() < 1e-12, "the median is the mean mapped through exp");
    assert!(fit.sd_of("tau").unwrap()[0] > 0.0);
    assert!(fit.loc_of("nope").is_none());
}

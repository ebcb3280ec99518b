//! Inference on `#[gen]` models against exact answers, on the committed data sets of
//! `data/`.
//!
//! Tolerances come from Monte Carlo error, with fixed seeds:
//! - importance sampling: the delta-method standard error of the log marginal likelihood,
//!   sqrt(1/ESS - 1/N), and sd/sqrt(ESS) for self-normalized posterior means;
//! - MCMC: the MCSE of each posterior mean from `diagnostics::mcse_mean` (which accounts for
//!   autocorrelation); a sample sd within 10% needs a bulk ESS of a few hundred, which the
//!   runs below have by a wide margin;
//! - SMC: the sd of the log marginal likelihood over independent replicate filters.

use gen_runtime::diagnostics::{ess_bulk, mcse_mean, rank_normalized_split_rhat};
use gen_runtime::exact::{self, DiscreteHmm, LinearGaussianSsm};
use gen_runtime::inference::smc::particle_filter_with_proposal;
use gen_runtime::inference::{
    hmc, hmc_batched, importance_resampling, importance_sampling, mh, nuts, particle_filter, HmcConfig, NutsConfig, Rows, SmcConfig,
};
use gen_runtime::prelude::*;
use gen_runtime::{LogDensity, Part};

mod common;
use common::{polynomial};

/// The columns of a committed CSV under `data/`.
fn csv(name: &str) -> Vec<Vec<f64>> {
    let path = format!("{}/../data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = text.lines();
    let width = lines.next().expect("header").split(',').count();
    let mut columns = vec![Vec::new(); width];
    for line in lines.filter(|l| !l.is_empty()) {
        for (c, field) in columns.iter_mut().zip(line.split(',')) {
            c.push(field.parse::<f64>().unwrap_or_else(|e| panic!("{path}: {field}: {e}")));
        }
    }
    columns
}

fn polynomial_data(n: usize, noise: &str) -> (Vec<f64>, Vec<f64>) {
    let mut c = csv(&format!("polynomial_n{n}_sd{noise}.csv"));
    let ys = c.pop().unwrap();
    (c.pop().unwrap(), ys)
}

const COEFFS: [&str; 3] = ["a", "b", "c"];

#[test]
fn importance_sampling_log_marginal_likelihood_is_within_3_se_of_exact() {
    let (xs, ys) = polynomial_data(10, "1.0");
    let truth = exact::polynomial(&xs, &ys, 2, 1.0, 1.0).unwrap();
    let obs = choicemap! { "ys" => ys.clone() };
    let particles = importance_sampling(&polynomial(&xs, 1.0), &obs, 10_000, Key::new(2026)).unwrap();
    let (lml, se) = (particles.log_marginal_likelihood(), particles.log_marginal_likelihood_se());
    assert!(se > 0.0 && se < 0.05, "se {se}, ESS {}", particles.ess());
    assert!((lml - truth.log_marginal_likelihood).abs() < 3.0 * se, "{lml} vs exact {} (se {se})", truth.log_marginal_likelihood);
    // Posterior means: self-normalized estimates, se ≈ posterior sd / sqrt(ESS).
    for (j, name) in COEFFS.iter().enumerate() {
        let mean = particles.mean(&name.into_address()).unwrap();
        let se = truth.sd()[j] / particles.ess().sqrt();
        assert!((mean - truth.mean[j]).abs() < 4.0 * se, "{name}: {mean} vs {} (se {se})", truth.mean[j]);
    }
    // Resampling keeps the estimate and equalizes the weights.
    let resampled = particles.resample(1000, Default::default(), Key::new(3)).unwrap();
    assert!((resampled.log_marginal_likelihood() - lml).abs() < 1e-9);
    assert!((resampled.ess() - 1000.0).abs() < 1e-6);
}

#[test]
fn importance_resampling_returns_a_trace_consistent_with_the_observations() {
    let (xs, ys) = polynomial_data(10, "1.0");
    let obs = choicemap! { "ys" => ys.clone() };
    let (trace, lml) = importance_resampling(&polynomial(&xs, 1.0), &obs, 1000, Key::new(5)).unwrap();
    assert_eq!(trace.choices().value("ys").unwrap().as_reals().unwrap(), &ys[..]);
    assert!(lml.is_finite());
    let err = importance_sampling(&polynomial(&xs, 1.0), &obs, 0, Key::new(5)).unwrap_err();
    assert!(matches!(err, GenError::BadArguments { .. }), "{err}");
}

/// Posterior means within 4 MCSE of the exact means, sds within 10%.
fn check_against_exact(samples: &gen_runtime::inference::Samples, truth: &exact::LinearRegressionPosterior, label: &str) {
    for (j, name) in COEFFS.iter().enumerate() {
        let draws = samples.column(j);
        let mcse = mcse_mean(&draws).unwrap();
        let (mean, sd) = (samples.mean(j), samples.sd(j));
        assert!((mean - truth.mean[j]).abs() < 4.0 * mcse, "{label} {name}: mean {mean} vs {} (mcse {mcse})", truth.mean[j]);
        assert!((sd / truth.sd()[j] - 1.0).abs() < 0.1, "{label} {name}: sd {sd} vs {}", truth.sd()[j]);
        assert!(ess_bulk(&draws).unwrap() > 300.0, "{label} {name}: too few effective draws for the sd check");
    }
}

#[test]
fn hmc_and_nuts_on_the_gen_model_match_the_exact_posterior() {
    let (xs, ys) = polynomial_data(10, "1.0");
    let truth = exact::polynomial(&xs, &ys, 2, 1.0, 1.0).unwrap();
    let obs = choicemap! { "ys" => ys.clone() };
    let target = LogDensity::new(&polynomial(&xs, 1.0), &obs, &select!["a", "b", "c"], Key::new(0)).unwrap();
    assert_eq!(target.coordinates().iter().map(|c| c.address.to_string()).collect::<Vec<_>>(), COEFFS);

    // HMC with a stable step and a trajectory of length 1, four chains. (Static HMC with a
    // trajectory near half a period of some posterior direction barely moves along it: length
    // 2 does that here for "a", whose sample sd then comes out 15% low.)
    let config = HmcConfig { step_size: 0.05, num_leapfrog: 20, num_chains: 4, ..HmcConfig::default() };
    let samples = hmc(&target, &config, Key::new(11)).unwrap();
    assert!(samples.mean_accept_prob() > 0.9, "{}", samples.mean_accept_prob());
    assert_eq!(samples.divergences(), 0);
    check_against_exact(&samples, &truth, "HMC");

    let samples = nuts(&target, &NutsConfig::default(), Key::new(12)).unwrap();
    assert_eq!(samples.num_chains(), 4);
    check_against_exact(&samples, &truth, "NUTS");
    for (j, name) in COEFFS.iter().enumerate() {
        let rhat = rank_normalized_split_rhat(&samples.column(j)).unwrap();
        assert!(rhat < 1.01, "NUTS {name}: R-hat {rhat}");
    }
}

/// The lock-step driver is `hmc` step for step: over the native engine's rows it gives the
/// same draws, statistics and counts, also where trajectories diverge and stop early.
#[test]
fn batched_hmc_over_native_rows_is_hmc() {
    for (n, noise, step) in [(10usize, "1.0", 0.05), (100, "0.05", 0.01)] {
        let (xs, ys) = polynomial_data(n, noise);
        let obs = choicemap! { "ys" => ys };
        let target = LogDensity::new(&polynomial(&xs, noise.parse().unwrap()), &obs, &select!["a", "b", "c"], Key::new(0)).unwrap();
        let config = HmcConfig {
            num_warmup: 50,
            num_samples: 100,
            step_size: step,
            num_chains: 3,
            init: gen_runtime::inference::Init::Uniform(1.0),
            ..HmcConfig::default()
        };
        let batched = hmc_batched(&Rows(&target), &config, Key::new(21)).unwrap();
        assert_eq!(batched, hmc(&target, &config, Key::new(21)).unwrap(), "n={n}");
        if n == 100 {
            assert!(batched.divergences() > 0, "the sharp posterior should make divergent trajectories");
        }
    }
    // With Stan's warm-up adaptation, each chain adapting its own step size and mass matrix.
    let (xs, ys) = polynomial_data(10, "1.0");
    let target = LogDensity::new(&polynomial(&xs, 1.0), &choicemap! { "ys" => ys }, &select!["a", "b", "c"], Key::new(0)).unwrap();
    let adapting = HmcConfig {
        num_warmup: 300,
        num_samples: 100,
        adapt_step_size: true,
        adapt_mass_matrix: true,
        num_chains: 3,
        init: gen_runtime::inference::Init::Uniform(1.0),
        ..HmcConfig::default()
    };
    let batched = hmc_batched(&Rows(&target), &adapting, Key::new(1)).unwrap();
    assert_eq!(batched, hmc(&target, &adapting, Key::new(1)).unwrap());
    let steps: Vec<f64> = batched.chains.iter().map(|c| c.step_size).collect();
    assert!(steps.iter().all(|s| *s != 0.01) && steps[0] != steps[1], "each chain adapts its own step: {steps:?}");
}

/// HMC on the Burn engine (four chains as four tensor rows), fixed and adapted, and NUTS on
/// it, against the exact posterior.
#[test]
fn samplers_on_the_burn_engine_match_the_exact_posterior() {
    let (xs, ys) = polynomial_data(10, "1.0");
    let truth = exact::polynomial(&xs, &ys, 2, 1.0, 1.0).unwrap();
    let obs = choicemap! { "ys" => ys.clone() };
    let target = LogDensity::new(&polynomial(&xs, 1.0), &obs, &select!["a", "b", "c"], Key::new(0)).unwrap();
    let engine = gen_runtime::burn::Engine::<gen_runtime::burn::Cpu>::default();
    let config = HmcConfig { step_size: 0.05, num_leapfrog: 20, num_chains: 4, ..HmcConfig::default() };
    let samples = hmc_batched(&engine.target(&target), &config, Key::new(11)).unwrap();
    assert!(samples.mean_accept_prob() > 0.9, "{}", samples.mean_accept_prob());
    assert_eq!(samples.divergences(), 0);
    check_against_exact(&samples, &truth, "HMC on Burn");

    // Warm-up adaptation on the Burn engine: the step size by dual averaging towards 0.65 and
    // the diagonal mass matrix, per chain, from Stan's default start of 0.01.
    let adapting = HmcConfig { step_size: 0.01, num_leapfrog: 10, adapt_step_size: true, adapt_mass_matrix: true, ..config };
    let samples = hmc_batched(&engine.target(&target), &adapting, Key::new(12)).unwrap();
    for chain in &samples.chains {
        assert!(chain.step_size > 0.1, "the adapted step grew from 0.01: {}", chain.step_size);
        // The last window estimates the posterior variances (0.16-0.6 here; the identity
        // start is 1): within a factor of 2 of the exact ones.
        for (v, sd) in chain.inv_mass_matrix.iter().zip(truth.sd()) {
            assert!((v / (sd * sd)).ln().abs() < 2f64.ln(), "inverse mass {v} vs variance {}", sd * sd);
        }
    }
    assert_eq!(samples.divergences(), 0);
    check_against_exact(&samples, &truth, "adapted HMC on Burn");

    // NUTS on the Burn engine: each chain on its own, one row per evaluation.
    let samples = nuts(&engine.target(&target), &NutsConfig::default(), Key::new(13)).unwrap();
    check_against_exact(&samples, &truth, "NUTS on Burn");
    for (j, name) in COEFFS.iter().enumerate() {
        let rhat = rank_normalized_split_rhat(&samples.column(j)).unwrap();
        assert!(rhat < 1.01, "NUTS on Burn {name}: R-hat {rhat}");
    }
}

#[test]
fn the_benchmark_hmc_configuration_rejects_everything_on_the_sharp_posterior_without_nan() {
    for n in [100usize, 1000] {
        let (xs, ys) = polynomial_data(n, "0.05");
        let obs = choicemap! { "ys" => ys.clone() };
        let target = LogDensity::new(&polynomial(&xs, 0.05), &obs, &select!["a", "b", "c"], Key::new(0)).unwrap();
        // 1000 samples after 500 warm-up, step 0.01, 20 leapfrog steps, from zeros.
        let samples = hmc(&target, &HmcConfig::default(), Key::new(1)).unwrap();
        assert_eq!(samples.accept_rate(), 0.0, "n = {n}: eps sqrt(lambda_max) > 2, every trajectory diverges");
        assert_eq!(samples.divergences(), 1000, "n = {n}: every kept transition is counted as divergent");
        for j in 0..3 {
            assert!(samples.column(j).iter().flatten().all(|x| *x == 0.0), "n = {n}: the chain stays at its start, never NaN");
        }
    }
}

#[gen]
fn beta_bernoulli(n: usize) -> Real {
    let p = beta(2.0, 2.0).at("p");
    iid(bernoulli(p), n).at("ys");
    p
}

fn coin_flips() -> Vec<bool> {
    csv("beta_bernoulli.csv").remove(0).into_iter().map(|y| y == 1.0).collect()
}

#[test]
fn beta_bernoulli_importance_sampling_and_mh_match_the_beta_posterior() {
    let ys = coin_flips();
    let heads = ys.iter().filter(|y| **y).count();
    let truth = exact::beta_bernoulli_counts(2.0, 2.0, heads as u64, ys.len() as u64).unwrap();
    let obs = choicemap! { "ys" => ys.clone() };
    let model = beta_bernoulli(ys.len());

    let particles = importance_sampling(&model, &obs, 2000, Key::new(21)).unwrap();
    let mean = particles.mean(&"p".into_address()).unwrap();
    let se = truth.variance().sqrt() / particles.ess().sqrt();
    assert!((mean - truth.mean()).abs() < 4.0 * se, "IS: {mean} vs {} (se {se})", truth.mean());

    // MH with the prior as proposal on "p": 4 chains of 3000 steps after 500 of burn-in.
    let chains: Vec<Vec<f64>> = (0..4u64)
        .map(|c| {
            let (mut trace, _) = model.generate(Key::new(22).split(c), &obs).unwrap();
            let mut draws = Vec::new();
            for s in 0..3500u64 {
                trace = mh(&trace, &select!["p"], Key::new(23).split(c).split(s)).unwrap().0;
                if s >= 500 {
                    draws.push(trace.get_f64("p").unwrap());
                }
            }
            draws
        })
        .collect();
    let all: Vec<f64> = chains.iter().flatten().copied().collect();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let mcse = mcse_mean(&chains).unwrap();
    assert!((mean - truth.mean()).abs() < 4.0 * mcse, "MH: {mean} vs {} (mcse {mcse})", truth.mean());
    assert!(rank_normalized_split_rhat(&chains).unwrap() < 1.01);
}

/// One HMM step: the first state from the initial distribution, later ones from the
/// transition row of the previous state.
#[gen]
fn hmm_step(t: usize, z: usize, hmm: &DiscreteHmm) -> usize {
    let probs = if t == 0 { &hmm.initial } else { &hmm.transition[z] };
    let z = categorical(probs).at("z");
    categorical(&hmm.emission[z]).at("y");
    z
}

fn hmm_parameters() -> DiscreteHmm {
    let sets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{}/../data/datasets.json", env!("CARGO_MANIFEST_DIR"))).unwrap()).unwrap();
    serde_json::from_value(sets["hmm"].clone())
        .map(|p: HmmJson| DiscreteHmm { initial: p.initial, transition: p.transition, emission: p.emission })
        .unwrap()
}

#[derive(serde::Deserialize)]
struct HmmJson {
    initial: Vec<f64>,
    transition: Vec<Vec<f64>>,
    emission: Vec<Vec<f64>>,
}

/// Observations of an Unfold at `t / name`.
fn per_step<V: Into<ChoiceValue> + Copy>(name: &'static str, values: &[V]) -> ChoiceMap {
    let mut obs = ChoiceMap::new();
    for (t, v) in values.iter().enumerate() {
        obs.insert(Address(vec![Part::Index(t as i64), name.into()]), *v);
    }
    obs
}

/// Replicate filters: (mean and sd of the log marginal likelihood estimates).
fn replicates(r: u64, f: impl Fn(Key) -> f64) -> (f64, f64) {
    let v: Vec<f64> = (0..r).map(|i| f(Key::new(1000 + i))).collect();
    let mean = v.iter().sum::<f64>() / r as f64;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (r - 1) as f64).sqrt();
    (mean, sd)
}

#[test]
fn hmm_particle_filter_log_marginal_likelihood_matches_the_forward_algorithm() {
    let hmm = hmm_parameters();
    let ys: Vec<usize> = csv("hmm.csv")[1].iter().map(|y| *y as usize).collect();
    let truth = exact::hmm_forward(&hmm, &ys).unwrap();
    let obs = per_step("y", &ys);
    let model = Unfold::new(hmm_step::gf()).apply((ys.len(), 0usize, (&hmm,)));
    let config = SmcConfig { n_particles: 1000, ..SmcConfig::default() };
    let (mean, sd) = replicates(10, |key| particle_filter(&model, &obs, &config, key).unwrap().log_marginal_likelihood);
    assert!(sd > 0.0 && sd < 0.3, "sd {sd}");
    // The mean of 10 estimates has se sd/sqrt(10).
    assert!(
        (mean - truth.log_marginal_likelihood).abs() < 3.0 * sd / 10f64.sqrt(),
        "{mean} vs {} (sd {sd})",
        truth.log_marginal_likelihood
    );
    // Every step resampled at threshold 1: the bootstrap filter.
    let boot = SmcConfig { ess_threshold: 1.0, ..config };
    let result = particle_filter(&model, &obs, &boot, Key::new(3)).unwrap();
    assert!(result.resampled[..ys.len() - 1].iter().all(|r| *r));
    assert!((result.log_marginal_likelihood - truth.log_marginal_likelihood).abs() < 3.0 * sd.max(0.05) * 2.0);
}

/// A kernel whose path depends on a discrete choice: a particle on the other branch than the
/// first particle leaves the step's plan and runs through the interpreter.
#[gen]
fn branching_step(t: usize, x: Real, scale: f64) -> Real {
    let jump = bernoulli(0.3).at("jump");
    let x = if jump { normal(0.0, 3.0 * scale).at("reset") } else { normal(x, scale).at("x") };
    normal(x, 0.5).at("y");
    x + 0.0 * (t as f64)
}

/// The bootstrap filter's plan path gives each particle exactly what `generate` gives with
/// the same key (weights bit for bit), whichever branch the particle takes.
#[test]
fn bootstrap_filter_steps_equal_generate_bit_for_bit() {
    let ys = [0.3, -0.2, 1.5, 0.7];
    let obs = per_step("y", &ys);
    let kernel = branching_step::gf();
    let model = Unfold::new(kernel).apply((ys.len(), 0.0, (1.0,)));
    // Never resampling, the final weight is the sum of the steps' generate weights.
    let config = SmcConfig { n_particles: 64, ess_threshold: 0.0, ..SmcConfig::default() };
    let key = Key::new(77);
    let result = particle_filter(&model, &obs, &config, key).unwrap();
    let mut states = vec![0.0; 64];
    let mut weights = vec![0.0; 64];
    let mut jumps = 0;
    for (t, y) in ys.iter().enumerate() {
        let constraints = choicemap! { "y" => *y };
        for i in 0..64 {
            let call = kernel.apply((t, states[i], 1.0));
            let (trace, w) = call.generate(key.split(t as u64).split(i as u64), &constraints).unwrap();
            jumps += usize::from(trace.choices().value("jump") == Some(&ChoiceValue::Bool(true)));
            states[i] = *trace.retval();
            weights[i] += w;
        }
    }
    assert!(jumps > 20 && jumps < 64 * 4 - 20, "both branches taken: {jumps} jumps");
    assert_eq!(result.log_weights, weights);
    assert_eq!(result.states, states);
}

#[gen]
fn lg_step(t: usize, x: Real, m: &LinearGaussianSsm) -> Real {
    let x = if t == 0 { normal(m.initial_mean, m.initial_sd).at("x") } else { normal(x * m.transition, m.process_sd).at("x") };
    normal(x, m.observation_sd).at("y");
    x
}

/// The locally optimal proposal of the linear-Gaussian model: x_t | x_{t-1}, y_t.
#[gen]
fn lg_optimal(mean: f64, sd: f64) -> Real {
    normal(mean, sd).at("x")
}

#[test]
fn linear_gaussian_particle_filters_match_the_kalman_filter() {
    let m = LinearGaussianSsm { initial_mean: 0.0, initial_sd: 1.0, transition: 0.9, process_sd: 0.5, observation_sd: 1.0 };
    let ys = csv("lgssm.csv").pop().unwrap();
    let truth = exact::kalman_filter(&m, &ys).unwrap();
    let obs = per_step("y", &ys);
    let model = Unfold::new(lg_step::gf()).apply((ys.len(), 0.0, (&m,)));
    let config = SmcConfig { n_particles: 1000, ..SmcConfig::default() };
    let (mean, sd) = replicates(10, |key| particle_filter(&model, &obs, &config, key).unwrap().log_marginal_likelihood);
    assert!(
        (mean - truth.log_marginal_likelihood).abs() < 3.0 * sd / 10f64.sqrt(),
        "bootstrap: {mean} vs {} (sd {sd})",
        truth.log_marginal_likelihood
    );
    // The filtering mean at the last step, against Kalman's, within 4 se of a weighted mean.
    let last = particle_filter(&model, &obs, &config, Key::new(9)).unwrap();
    let kalman_mean = *truth.filtered_means.last().unwrap();
    let kalman_sd = truth.filtered_variances.last().unwrap().sqrt();
    let ess = 1.0 / last.normalized_weights().iter().map(|w| w * w).sum::<f64>();
    assert!((last.mean(|x| *x) - kalman_mean).abs() < 4.0 * kalman_sd / ess.sqrt());

    // The optimal proposal: same answer, much smaller variance.
    let proposal = |t: usize, x: &f64, obs: &ChoiceMap| {
        let (prior_mean, prior_var) =
            if t == 0 { (m.initial_mean, m.initial_sd.powi(2)) } else { (m.transition * x, m.process_sd.powi(2)) };
        let y = obs.get_f64("y").expect("observed");
        let var = 1.0 / (1.0 / prior_var + 1.0 / m.observation_sd.powi(2));
        lg_optimal(var * (prior_mean / prior_var + y / m.observation_sd.powi(2)), var.sqrt())
    };
    let (opt_mean, opt_sd) =
        replicates(10, |key| particle_filter_with_proposal(&model, &obs, proposal, &config, key).unwrap().log_marginal_likelihood);
    assert!(opt_sd < sd, "optimal proposal sd {opt_sd} vs bootstrap {sd}");
    assert!(
        (opt_mean - truth.log_marginal_likelihood).abs() < 3.0 * opt_sd.max(1e-3) / 10f64.sqrt(),
        "optimal: {opt_mean} vs {} (sd {opt_sd})",
        truth.log_marginal_likelihood
    );
}

#[test]
fn particle_filter_settings_are_checked() {
    let m = LinearGaussianSsm { initial_mean: 0.0, initial_sd: 1.0, transition: 0.9, process_sd: 0.5, observation_sd: 1.0 };
    let model = Unfold::new(lg_step::gf()).apply((3, 0.0, (&m,)));
    for config in [SmcConfig { n_particles: 0, ..SmcConfig::default() }, SmcConfig { ess_threshold: 1.5, ..SmcConfig::default() }] {
        let err = particle_filter(&model, &ChoiceMap::new(), &config, Key::new(0)).unwrap_err();
        assert!(matches!(err, GenError::BadArguments { function: "particle_filter", .. }), "{err}");
    }
}

//! The one-call path (`model(args).condition(&obs).nuts(...)`) and the posterior it returns:
//! draws by address in the model's own space, checked against exact posteriors; the summary;
//! CmdStan CSV export; misuse named by address.
//!
//! Tolerances: posterior means within 4 MCSE (`diagnostics::mcse_mean`, autocorrelation
//! included), sds within 10% (the runs have bulk ESS in the thousands, where the sd's relative
//! Monte Carlo error is a few percent).

use gen_runtime::diagnostics::mcse_mean;
use gen_runtime::inference::{HmcConfig, InferenceError, MalaConfig, NutsConfig, PosteriorError};
use gen_runtime::prelude::*;

/// λ ~ Gamma(a, b) (rate b), y_i ~ Poisson(λ): the posterior is Gamma(a + Σy, b + n).
#[gen]
fn gamma_poisson(n: usize) {
    let lambda = gamma(2.0, 0.5).at("lambda");
    iid(poisson(lambda), n).at("y");
}

const COUNTS: [u64; 8] = [3, 5, 2, 4, 6, 3, 4, 5];

fn gamma_poisson_truth() -> (f64, f64) {
    let shape = 2.0 + COUNTS.iter().sum::<u64>() as f64;
    let rate = 0.5 + COUNTS.len() as f64;
    (shape / rate, shape.sqrt() / rate)
}

fn check_against(draws: &gen_runtime::inference::Draws, (mean, sd): (f64, f64), what: &str) {
    let mcse = mcse_mean(&draws.chains).unwrap();
    assert!((draws.mean() - mean).abs() < 4.0 * mcse, "{what}: mean {} vs exact {mean} (mcse {mcse})", draws.mean());
    assert!((draws.sd() / sd - 1.0).abs() < 0.1, "{what}: sd {} vs exact {sd}", draws.sd());
}

#[test]
fn nuts_in_one_call_returns_constrained_draws_matching_the_exact_posterior() {
    let obs = choicemap! { "y" => COUNTS.to_vec() };
    let posterior = gamma_poisson(COUNTS.len()).condition(&obs).nuts(&NutsConfig::default(), Key::new(7)).unwrap();
    assert_eq!((posterior.num_chains(), posterior.num_draws()), (4, 1000));
    let lambda = posterior.get("lambda").unwrap();
    // Draws of λ itself (the sampler moved in ln λ).
    assert!(lambda.iter().all(|x| x > 0.0));
    check_against(&lambda, gamma_poisson_truth(), "NUTS lambda");
    let summary = posterior.summary().unwrap();
    let row = summary.get("lambda").unwrap();
    assert!(row.r_hat < 1.01 && row.ess_bulk > 1000.0, "{summary}");
    assert_eq!(posterior.divergences(), 0);
    // The sampler's own statistics stay available.
    let samples = posterior.samples().unwrap();
    assert!(samples.chains.iter().all(|c| c.step_size > 0.0));
}

#[test]
fn hmc_and_mala_in_one_call_agree_with_the_exact_posterior() {
    let obs = choicemap! { "y" => COUNTS.to_vec() };
    let model = gamma_poisson(COUNTS.len());
    let hmc = HmcConfig { num_warmup: 500, num_samples: 2000, num_chains: 4, step_size: 0.3, num_leapfrog: 8, ..HmcConfig::default() };
    let posterior = model.condition(&obs).hmc(&hmc, Key::new(8)).unwrap();
    check_against(&posterior.get("lambda").unwrap(), gamma_poisson_truth(), "HMC lambda");
    let mala = MalaConfig { num_warmup: 1000, num_samples: 4000, num_chains: 4, ..MalaConfig::default() };
    let posterior = model.condition(&obs).mala(&mala, Key::new(9)).unwrap();
    check_against(&posterior.get("lambda").unwrap(), gamma_poisson_truth(), "MALA lambda");
}

/// p ~ Beta(2, 2), y_i ~ Bernoulli(p): Beta(2 + k, 2 + n - k).
#[gen]
fn beta_bernoulli(n: usize) {
    let p = beta(2.0, 2.0).at("p");
    iid(bernoulli(p), n).at("y");
}

#[test]
fn importance_sampling_in_one_call_is_a_weighted_posterior() {
    let ys = [true, true, false, true, true, false, true, true, true, false];
    let obs = choicemap! { "y" => ys.to_vec() };
    let posterior = beta_bernoulli(ys.len()).condition(&obs).importance(20_000, Key::new(3)).unwrap();
    let (a, b) = (2.0 + 7.0, 2.0 + 3.0);
    let (mean, sd) = (a / (a + b), (a * b / ((a + b).powi(2) * (a + b + 1.0))).sqrt());
    let p = posterior.get("p").unwrap();
    let ess = posterior.weight_ess();
    assert!((p.mean() - mean).abs() < 4.0 * sd / ess.sqrt(), "{} vs {mean}", p.mean());
    assert!((p.sd() / sd - 1.0).abs() < 0.05, "{} vs {sd}", p.sd());
    // The median of Beta(9, 5) is 0.6498 (the midpoint rule on its density, 2·10⁵ cells).
    assert!((p.quantile(0.5).unwrap() - 0.6498).abs() < 0.01);
    let summary = posterior.summary().unwrap();
    assert!((summary.get("p").unwrap().ess_bulk - ess).abs() < 1e-6);
    assert!(posterior.particles().unwrap().log_marginal_likelihood().is_finite());
}

/// Eight schools, non-centred: vector and indexed latents named in the summary.
#[gen]
fn schools(sigma: &[f64]) {
    let mu = normal(0.0, 5.0).at("mu");
    let tau = half_normal(5.0).at("tau");
    for (j, s) in sigma.iter().enumerate() {
        let eta = normal(0.0, 1.0).at(("eta", j));
        normal(mu + tau * eta, *s).at(("y", j));
    }
}

const SIGMA: [f64; 8] = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];
const Y: [f64; 8] = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];

fn schools_obs() -> ChoiceMap {
    Y.iter().enumerate().map(|(j, y)| (("y", j), *y)).collect()
}

#[test]
fn the_posterior_names_every_latent_and_exports_cmdstan_csv() {
    let obs = schools_obs();
    let config = NutsConfig { num_warmup: 300, num_samples: 200, num_chains: 2, ..NutsConfig::default() };
    let posterior = schools(&SIGMA).condition(&obs).nuts(&config, Key::new(11)).unwrap();
    let labels: Vec<String> = posterior.columns().iter().map(|c| c.label()).collect();
    assert_eq!(labels[..3], ["mu", "tau", "eta[0]"]);
    assert_eq!(labels.len(), 10);
    let summary = posterior.summary().unwrap();
    assert_eq!(summary.rows.len(), 10);
    assert!(summary.to_string().contains("eta[7]"));
    assert!(posterior.get(("eta", 3usize)).unwrap().iter().all(f64::is_finite));

    let dir = std::env::temp_dir().join(format!("gen-posterior-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let paths = posterior.write_cmdstan_csv(&dir, "schools").unwrap();
    assert_eq!(paths.len(), 2);
    let text = std::fs::read_to_string(&paths[1]).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[..7], ["lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__", "energy__"]);
    assert_eq!(header[7..10], ["mu", "tau", "eta.1"]);
    assert_eq!(header.last(), Some(&"eta.8"));
    let rows: Vec<Vec<f64>> = lines.map(|l| l.split(',').map(|x| x.parse().unwrap()).collect()).collect();
    assert_eq!(rows.len(), 200);
    // Chain 2's tau column, read back, is the posterior's draws of tau exactly.
    let tau = posterior.get("tau").unwrap();
    for (row, t) in rows.iter().zip(&tau.chains[1]) {
        assert_eq!(row[8], *t);
    }
    assert!(text.contains("num_samples = 200") && text.contains("num_warmup = 300"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn initial_values_are_given_by_address_in_the_models_space() {
    let obs = schools_obs();
    let model = schools(&SIGMA);
    let config = NutsConfig { num_warmup: 0, num_samples: 1, num_chains: 1, adapt_step_size: false, adapt_mass_matrix: false, step_size: 1e-9, ..NutsConfig::default() };
    let init = choicemap! { "mu" => 4.0, "tau" => 2.5 };
    let posterior = model.condition(&obs).init(init).nuts(&config, Key::new(1)).unwrap();
    // A step of 1e-9 leaves the chain where it started.
    assert!((posterior.mean("mu").unwrap() - 4.0).abs() < 1e-6);
    assert!((posterior.mean("tau").unwrap() - 2.5).abs() < 1e-6);

    let err = model.condition(&obs).init(choicemap! { "nope" => 1.0 }).nuts(&config, Key::new(1)).unwrap_err();
    assert!(matches!(&err, InferenceError::Config { parameter: "init", message } if message.contains("`nope`")), "{err}");
    let err = model.condition(&obs).init(choicemap! { "tau" => -1.0 }).nuts(&config, Key::new(1)).unwrap_err();
    assert!(err.to_string().contains("`tau`") && err.to_string().contains("outside the support"), "{err}");
}

#[gen]
fn with_discrete_latent() {
    let k = bernoulli(0.5).at("k");
    let mu = normal(0.0, 1.0).at("mu");
    normal(mu + f64::from(u8::from(k)), 1.0).at("y");
}

#[test]
fn misuse_is_named_by_address() {
    let config = NutsConfig { num_warmup: 50, num_samples: 50, num_chains: 1, ..NutsConfig::default() };
    // A latent discrete choice cannot be moved by a gradient method.
    let obs = choicemap! { "y" => 0.3 };
    let err = with_discrete_latent().condition(&obs).nuts(&config, Key::new(1)).unwrap_err();
    assert!(matches!(&err, InferenceError::Model(GenError::NotContinuous { address, .. }) if *address == "k".into_address()), "{err}");
    // Selecting around it is the user's explicit choice (k is then held at one draw).
    assert!(with_discrete_latent().condition(&obs).select(select!["mu"]).nuts(&config, Key::new(1)).is_ok());
    // An observation the model never makes.
    let wrong = choicemap! { "y" => 0.3, "z" => 1.0 };
    let err = with_discrete_latent().condition(&wrong).select(select!["mu"]).nuts(&config, Key::new(1)).unwrap_err();
    assert!(matches!(&err, InferenceError::Model(GenError::UnvisitedConstraint { address }) if *address == "z".into_address()), "{err}");
    let err = with_discrete_latent().condition(&wrong).importance(10, Key::new(1)).unwrap_err();
    assert!(matches!(&err, InferenceError::Model(GenError::UnvisitedConstraint { .. })), "{err}");
    // Asking the posterior for what it does not have.
    let posterior = with_discrete_latent().condition(&obs).select(select!["mu"]).nuts(&config, Key::new(1)).unwrap();
    let err = posterior.get("k").unwrap_err();
    assert!(matches!(&err, PosteriorError::UnknownAddress { .. }) && err.to_string().contains("mu"), "{err}");
}

#[test]
fn the_particles_of_an_importance_posterior_stay_whole() {
    let obs = choicemap! { "y" => COUNTS.to_vec() };
    let posterior = gamma_poisson(COUNTS.len()).condition(&obs).importance(500, Key::new(3)).unwrap();
    let particles = posterior.particles().unwrap();
    let lambda = particles.values(&"lambda".into_address()).unwrap();
    assert_eq!(lambda.len(), 500);
    assert_eq!(lambda, posterior.get("lambda").unwrap().chains[0]);
}

#[test]
fn derived_quantities_follow_the_draws_and_their_weights() {
    let obs = choicemap! { "y" => COUNTS.to_vec() };
    let model = gamma_poisson(COUNTS.len());
    // Under Gamma(a, b) (rate b), E[1/λ] = b / (a - 1).
    let (shape, rate) = (2.0 + COUNTS.iter().sum::<u64>() as f64, 0.5 + COUNTS.len() as f64);
    let nuts = model.condition(&obs).nuts(&NutsConfig::default(), Key::new(21)).unwrap();
    let inverse = nuts.derive(|d| Ok(1.0 / d.get("lambda")?)).unwrap();
    let lambda = nuts.get("lambda").unwrap();
    assert_eq!(inverse.chains.len(), 4);
    assert!(inverse.chains.iter().zip(&lambda.chains).all(|(i, l)| i.iter().zip(l).all(|(i, l)| (i * l - 1.0).abs() < 1e-12)));
    check_against(&inverse, (rate / (shape - 1.0), (rate * rate / ((shape - 1.0).powi(2) * (shape - 2.0))).sqrt()), "NUTS 1/lambda");
    // Importance sampling: the quantity carries the particles' weights.
    let is = model.condition(&obs).importance(20_000, Key::new(22)).unwrap();
    let inverse = is.derive(|d| Ok(1.0 / d.get("lambda")?)).unwrap();
    assert_eq!(inverse.weights, is.get("lambda").unwrap().weights);
    // Within 4 standard errors of a self-normalized estimate, sd / sqrt(Kish ESS).
    let se = inverse.sd() / is.weight_ess().sqrt();
    assert!((inverse.mean() - rate / (shape - 1.0)).abs() < 4.0 * se, "{} (se {se})", inverse.mean());
    // A wrong address is the error `get` gives, naming it.
    let err = nuts.derive(|d| d.get("lamda")).unwrap_err();
    assert!(matches!(&err, PosteriorError::UnknownAddress { address, .. } if address.to_string() == "lamda"), "{err:?}");
}

//! The user's path: a user's first attempts must give the right posterior or an
//! error that names the problem, never a silent wrong answer. Each test here failed before
//! the fix it names.

use gen_runtime::inference::{importance_sampling, importance_sampling_with_proposal, nuts, particle_filter, Init, NutsConfig, SmcConfig};
use gen_runtime::prelude::*;
use gen_runtime::{LogDensity, Part};

mod common;
use common::{centred_schools, schools_observations, SIGMA};

/// Finding 1: a name selects its whole subtree, indexed addresses included (Gen.jl's
/// `select(:theta)`). Before, `"theta"` selected no `("theta", j)` and the thetas stayed
/// frozen at one prior draw.
#[test]
fn a_name_selects_every_indexed_choice_under_it() {
    let selection = select!["mu", "tau", "theta"];
    assert!(selection.contains(&("theta", 3usize).into_address()));
    assert!(!selection.contains(&("y", 3usize).into_address()));
    let target = LogDensity::new(&centred_schools(&SIGMA), &schools_observations(), &selection, Key::new(1)).unwrap();
    assert_eq!(target.dim(), 10);
    let addresses: Vec<String> = target.coordinates().iter().map(|c| c.address.to_string()).collect();
    assert!(addresses.contains(&"(\"theta\", 7)".to_string()), "{addresses:?}");
}

/// Finding 2: observations are never coordinates, whatever the selection; a selection entry
/// that covers no latent is an error naming it. Before, `Selection::All` made the eight
/// observations parameters that moved.
#[test]
fn observed_addresses_are_never_coordinates() {
    let (call, obs) = (centred_schools(&SIGMA), schools_observations());
    let target = LogDensity::new(&call, &obs, &Selection::All, Key::new(1)).unwrap();
    assert_eq!(target.dim(), 10, "mu, tau and the eight thetas; not the eight observations");
    assert!(target.coordinates().iter().all(|c| !obs.contains(&c.address)));

    let err = LogDensity::new(&call, &obs, &select!["mu", "nope"], Key::new(1)).err().unwrap();
    assert!(matches!(&err, GenError::UnmatchedSelection { address, .. } if address.to_string() == "nope"), "{err}");
    let err = LogDensity::new(&call, &obs, &select!["mu", "y"], Key::new(1)).err().unwrap();
    assert!(matches!(&err, GenError::UnmatchedSelection { address, .. } if address.to_string() == "y"), "{err}");
    assert!(err.to_string().contains("observed"), "{err}");
}

#[gen]
fn walk_step(t: usize, x: Real) -> Real {
    let _ = t;
    let x = normal(x, 1.0).at("x");
    normal(x, 0.5).at("y");
    x
}

/// Finding 3: a particle filter uses every observation or refuses it. Before, observations at
/// `("y", t)` (not under step `t`) were ignored and the log marginal likelihood was exactly 0.
#[test]
fn a_particle_filter_refuses_observations_it_would_not_use() {
    let model = Unfold::new(walk_step::gf()).apply((3, 0.0, ()));
    let config = SmcConfig { n_particles: 100, ..SmcConfig::default() };
    let wrong: ChoiceMap = (0..3usize).map(|t| (("y", t), 0.5)).collect();
    let err = particle_filter(&model, &wrong, &config, Key::new(1)).unwrap_err();
    assert!(matches!(&err, GenError::UnvisitedConstraint { address } if *address == ("y", 0usize).into_address()), "{err}");
    // A step index past the end, and an address the kernel does not make at a step.
    for bad in [choicemap! { [Part::Index(3), "y".into()] => 0.5 }, choicemap! { [Part::Index(1), "z".into()] => 0.5 }] {
        let err = particle_filter(&model, &bad, &config, Key::new(1)).unwrap_err();
        assert!(matches!(err, GenError::UnvisitedConstraint { .. }), "{err}");
    }
    let right: ChoiceMap = (0..3i64).map(|t| ([Part::Index(t), "y".into()], 0.5)).collect();
    let result = particle_filter(&model, &right, &config, Key::new(1)).unwrap();
    assert!(result.log_marginal_likelihood < -1.0);
}

/// The scale of the observation is a latent that can be negative.
#[gen]
fn latent_scale() {
    let s = normal(0.0, 1.0).at("s");
    normal(0.0, s).at("y");
}

/// p(y) restricted to s > 0 (where the model is defined), by the trapezoid rule on a fine
/// grid: ∫₀^∞ φ(s) N(y; 0, s) ds.
fn restricted_evidence(y: f64) -> f64 {
    let (upper, n) = (12.0, 400_000);
    let h = upper / n as f64;
    let f = |s: f64| {
        if s <= 0.0 {
            return 0.0;
        }
        let prior = (-0.5 * s * s).exp() / (2.0 * std::f64::consts::PI).sqrt();
        prior * (-0.5 * (y / s).powi(2)).exp() / (s * (2.0 * std::f64::consts::PI).sqrt())
    };
    h * ((1..n).map(|i| f(i as f64 * h)).sum::<f64>() + 0.5 * (f(0.0) + f(upper)))
}

/// Finding 4: a particle with an invalid parameter is a particle of weight zero, counted.
/// Before, the first particle with a negative sd failed the whole run.
#[test]
fn importance_sampling_gives_invalid_particles_weight_zero() {
    let obs = choicemap! { "y" => 0.7 };
    let n = 20_000;
    let particles = importance_sampling(&latent_scale(), &obs, n, Key::new(3)).unwrap();
    // About half the particles draw s < 0: binomial(n, 1/2) within 5 sd.
    let sd = (n as f64 * 0.25).sqrt();
    assert!((particles.invalid as f64 - n as f64 / 2.0).abs() < 5.0 * sd, "{} invalid", particles.invalid);
    let invalid_weights = particles.log_weights.iter().filter(|w| **w == f64::NEG_INFINITY).count();
    assert_eq!(invalid_weights, particles.invalid);
    // The estimate is of the evidence restricted to where the model is defined.
    let truth = restricted_evidence(0.7).ln();
    let (lml, se) = (particles.log_marginal_likelihood(), particles.log_marginal_likelihood_se());
    assert!((lml - truth).abs() < 4.0 * se, "{lml} vs {truth} (se {se})");

    // The same with a custom proposal (the prior, written as its own generative function).
    let particles = importance_sampling_with_proposal(&latent_scale(), &obs, &proposal(), 2000, Key::new(4)).unwrap();
    assert!(particles.invalid > 800 && particles.invalid < 1200, "{}", particles.invalid);

    // Only when every particle is invalid does the run fail, naming the parameter.
    let err = importance_sampling(&always_invalid(), &choicemap! { "y" => 0.7 }, 50, Key::new(3)).unwrap_err();
    assert!(matches!(&err, GenError::InvalidParameter { parameter: "sigma", .. }), "{err}");
}

#[gen]
fn proposal() {
    normal(0.0, 1.0).at("s");
}

#[gen]
fn always_invalid() {
    let s = exponential(1.0).at("s");
    normal(0.0, -s).at("y");
}

#[gen]
fn scale_step(t: usize, x: Real) -> Real {
    let _ = t;
    let s = normal(1.0, 1.0).at("s");
    normal(x, s).at("y");
    x
}

/// Finding 4, SMC: the same for a particle filter's particles.
#[test]
fn a_particle_filter_gives_invalid_particles_weight_zero() {
    let model = Unfold::new(scale_step::gf()).apply((4, 0.0, ()));
    let obs: ChoiceMap = (0..4i64).map(|t| ([Part::Index(t), "y".into()], 0.3)).collect();
    let config = SmcConfig { n_particles: 2000, ..SmcConfig::default() };
    let result = particle_filter(&model, &obs, &config, Key::new(5)).unwrap();
    // P(s < 0) = Φ(-1) ≈ 0.159 at every step.
    for &bad in &result.invalid {
        assert!((bad as f64 / 2000.0 - 0.159).abs() < 0.05, "{:?}", result.invalid);
    }
    assert!(result.log_marginal_likelihood.is_finite());
}

/// Finding 4, MCMC: an invalid initial point is retried. Before, `Init::Zeros` (sd = 0) failed
/// the chain at once.
#[test]
fn mcmc_retries_an_invalid_initial_point() {
    let target = LogDensity::new(&latent_scale(), &choicemap! { "y" => 0.7 }, &select!["s"], Key::new(1)).unwrap();
    let config = NutsConfig { num_warmup: 200, num_samples: 200, num_chains: 2, init: Init::Zeros, ..NutsConfig::default() };
    let samples = nuts(&target, &config, Key::new(2)).unwrap();
    assert_eq!(samples.num_chains(), 2);
}

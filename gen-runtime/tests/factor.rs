//! `factor(lp).at(name)`: a term of the log density that no choice carries (NumPyro's
//! `factor`, Stan's `target +=`). The oracle: a factor equal to an observation's log density
//! must give the model exactly what observing it gives, in every operation and engine.

use gen_runtime::burn::{Cpu, Engine};
use gen_runtime::inference::NutsConfig;
use gen_runtime::prelude::*;
use gen_runtime::{importance_log_weights, LogDensity};

/// mu ~ N(0, 2), with y ~ N(mu, 1) observed.
#[gen]
fn observed() {
    let mu = normal(0.0, 2.0).at("mu");
    normal(mu, 1.0).at("y");
}

/// The same density with the observation's term written as a factor.
#[gen]
fn factored(y: f64) {
    let mu = normal(0.0, 2.0).at("mu");
    let y: Real = y.into();
    factor(normal(mu, 1.0).log_density(&y)).at("y");
}

const Y: f64 = 1.5;

fn obs() -> ChoiceMap {
    choicemap! { "y" => Y }
}

#[test]
fn a_factor_weighs_as_the_observation_it_replaces_in_every_operation() {
    for seed in 0..5 {
        let (a, wa) = observed().generate(Key::new(seed), &obs()).unwrap();
        let (b, wb) = factored(Y).generate(Key::new(seed), &ChoiceMap::new()).unwrap();
        assert_eq!(a.get_f64("mu"), b.get_f64("mu"));
        assert!((wa - wb).abs() < 1e-12 && (a.score() - b.score()).abs() < 1e-12);
        assert_eq!(b.site_score(&"y".into_address()), a.site_score(&"y".into_address()));
        // assess, update and regenerate see the term too.
        let (sa, _) = observed().assess(a.choices()).unwrap();
        let (sb, _) = factored(Y).assess(b.choices()).unwrap();
        assert!((sa - sb).abs() < 1e-12);
        let moved = choicemap! { "mu" => 0.3 * seed as f64 };
        let (_, ua, _) = a.update(Key::new(50), &moved).unwrap();
        let (_, ub, _) = b.update(Key::new(50), &moved).unwrap();
        assert!((ua - ub).abs() < 1e-12, "update {ua} vs {ub}");
        let (ra, rwa) = a.regenerate(Key::new(100 + seed), &select!["mu"]).unwrap();
        let (rb, rwb) = b.regenerate(Key::new(100 + seed), &select!["mu"]).unwrap();
        assert_eq!(ra.get_f64("mu"), rb.get_f64("mu"));
        assert!((rwa - rwb).abs() < 1e-12, "regenerate {rwa} vs {rwb}");
    }
    // Importance weights (native and Burn) and gradients agree too.
    let native_a = importance_log_weights(&observed(), &obs(), 200, Key::new(7)).unwrap();
    let native_b = importance_log_weights(&factored(Y), &ChoiceMap::new(), 200, Key::new(7)).unwrap();
    let burn_b = Engine::<Cpu>::default().importance_log_weights(&factored(Y), &ChoiceMap::new(), 200, Key::new(7)).unwrap();
    for ((a, b), c) in native_a.log_weights.iter().zip(&native_b.log_weights).zip(&burn_b.log_weights) {
        assert!((a - b).abs() < 1e-12 && (a - c).abs() < 1e-5, "{a} {b} {c}");
    }
    let ta = LogDensity::new(&observed(), &obs(), &Selection::All, Key::new(0)).unwrap();
    let tb = LogDensity::new(&factored(Y), &ChoiceMap::new(), &Selection::All, Key::new(0)).unwrap();
    for theta in [-1.0, 0.2, 2.5] {
        let (mut ga, mut gb) = ([0.0], [0.0]);
        let la = ta.log_density_and_gradient(&[theta], &mut ga).unwrap();
        let lb = tb.log_density_and_gradient(&[theta], &mut gb).unwrap();
        assert!((la - lb).abs() < 1e-12 && (ga[0] - gb[0]).abs() < 1e-12);
    }
}

#[test]
fn nuts_on_a_factor_matches_the_conjugate_posterior() {
    // mu | y ~ N(y * 4/5, sqrt(4/5)).
    let posterior = factored(Y).condition(&ChoiceMap::new()).nuts(&NutsConfig::default(), Key::new(3)).unwrap();
    let mu = posterior.get("mu").unwrap();
    let mcse = gen_runtime::diagnostics::mcse_mean(&mu.chains).unwrap();
    assert!((mu.mean() - 1.2).abs() < 4.0 * mcse, "{} (mcse {mcse})", mu.mean());
    assert!((mu.sd() / 0.8f64.sqrt() - 1.0).abs() < 0.1, "{}", mu.sd());
}

#[gen]
fn bad_factor(term: f64) {
    let mu = normal(0.0, 1.0).at("mu");
    factor(mu * 0.0 + term).at("f");
}

/// A factor at a choice's address (found at run time: `i` is 0).
#[gen]
fn twice(i: usize) {
    let a = normal(0.0, 1.0).at(("a", 0));
    factor(a * 0.0).at(("a", i));
}

#[test]
fn a_bad_factor_is_an_error_naming_it() {
    let err = bad_factor(f64::NAN).simulate(Key::new(0)).unwrap_err();
    assert!(matches!(&err, GenError::NonFinite { address, .. } if address.to_string() == "f"), "{err:?}");
    let err = twice(0).simulate(Key::new(0)).unwrap_err();
    assert!(matches!(&err, GenError::DuplicateAddress { address } if *address == addr![("a", 0)]), "{err:?}");
    // A factor is not a choice: a value given for it is a constraint the model never uses.
    let err = bad_factor(0.0).generate(Key::new(0), &choicemap! { "f" => 1.0 }).unwrap_err();
    assert!(matches!(&err, GenError::UnvisitedConstraint { address } if address.to_string() == "f"), "{err:?}");
}

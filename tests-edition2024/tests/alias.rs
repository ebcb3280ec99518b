//! `#[gen]` from an edition-2024 crate, where `gen` is a reserved keyword: the alias
//! `#[generative]` and the raw identifier `#[r#gen]` both make working generative functions.

use gen_runtime::Part;
use gen_runtime::prelude::*;

/// ln N(x; mu, sigma), written out independently of the runtime's distributions.
fn normal_log_density(x: f64, mu: f64, sigma: f64) -> f64 {
    let z = (x - mu) / sigma;
    -0.5 * (2.0 * std::f64::consts::PI).ln() - sigma.ln() - 0.5 * z * z
}

/// y_i ~ Normal(intercept + slope x_i, 0.5), one indexed choice per point.
#[generative]
fn line(xs: &[f64]) -> Real {
    let slope = normal(0.0, 1.0).at("slope");
    let intercept = normal(0.0, 2.0).at("intercept");
    for (i, &x) in xs.iter().enumerate() {
        normal(intercept + slope * x, 0.5).at(("y", i));
    }
    slope
}

/// A shift plus the slope of a nested `line`, whose choices live under `"line"`.
#[r#gen]
fn shifted(xs: &[f64]) -> Real {
    let shift = normal(0.0, 1.0).at("shift");
    let slope = line(xs).at("line");
    shift + slope
}

const XS: [f64; 3] = [-1.0, 0.0, 2.0];

#[test]
fn generative_alias_simulates_and_scores_its_choices() {
    let trace = line(&XS).simulate(Key::new(7)).unwrap();
    let slope = trace.get_f64("slope").unwrap();
    let intercept = trace.get_f64("intercept").unwrap();
    assert_eq!(*trace.retval(), slope);
    let mut expected = normal_log_density(slope, 0.0, 1.0) + normal_log_density(intercept, 0.0, 2.0);
    for (i, &x) in XS.iter().enumerate() {
        let y = trace.get_f64(("y", i)).unwrap();
        expected += normal_log_density(y, intercept + slope * x, 0.5);
    }
    assert_eq!(trace.choices().len(), 2 + XS.len());
    assert!(trace.score().is_finite());
    assert!((trace.score() - expected).abs() < 1e-10, "score {} != {expected}", trace.score());

    let (assessed, retval) = line(&XS).assess(trace.choices()).unwrap();
    assert!((assessed - trace.score()).abs() < 1e-12);
    assert_eq!(retval, slope);
}

#[test]
fn raw_gen_simulates_and_nests_a_call_under_its_address() {
    let trace = shifted(&XS).simulate(Key::new(8)).unwrap();
    let shift = trace.get_f64("shift").unwrap();
    let slope = trace.get_f64(["line", "slope"]).unwrap();
    assert!(trace.get_f64(vec![Part::from("line"), Part::from(("y", 2usize))]).is_some());
    assert_eq!(trace.choices().len(), 1 + 2 + XS.len());
    assert!((*trace.retval() - (shift + slope)).abs() < 1e-12);
    assert!(trace.score().is_finite());
    let (assessed, _) = shifted(&XS).assess(trace.choices()).unwrap();
    assert!((assessed - trace.score()).abs() < 1e-12);
}

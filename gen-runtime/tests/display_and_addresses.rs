//! How a user reads and names choices: traces and choice maps print as address trees, nested
//! addresses are written with `addr!` or `/` wherever an address is accepted, names may be
//! built at run time, and the type `#[gen]` generates (`model::Gf`) can be named.

use gen_runtime::prelude::*;
use gen_runtime::Part;

/// z ~ Normal(mu, 1) and a fair coin, called at `"sub"` by `hierarchy`.
#[gen]
fn child(mu: Real) -> Real {
    let z = normal(mu, 1.0).at("z");
    bernoulli(0.5).at("flip");
    z
}

/// mu ~ Normal(0, 1), then `child(mu)` at `"sub"`.
#[gen]
fn hierarchy() -> Real {
    let mu = normal(0.0, 1.0).at("mu");
    child(mu).at("sub")
}

/// One latent per group, named at run time with `format!`-built names in the caller.
#[gen]
fn groups(n: usize) {
    let mu = normal(0.0, 1.0).at("mu");
    for j in 0..n {
        normal(mu, 1.0).at(("theta", j));
    }
}

/// y_i ~ Normal(slope x_i, 0.1): a trace with a long data vector.
#[gen]
fn line(xs: &[f64]) -> Real {
    let slope = normal(0.0, 1.0).at("slope");
    plate(xs, |x| normal(slope * x, 0.1)).at("ys");
    slope
}

#[test]
fn a_trace_displays_its_score_and_its_choices_as_a_tree() {
    let constraints = choicemap! { "mu" => 0.0, addr!["sub", "z"] => 0.0, addr!["sub", "flip"] => true };
    let (trace, _) = hierarchy().generate(Key::new(0), &constraints).unwrap();
    // 2 log N(0; 0, 1) + log 0.5
    let want_score = -(2.0 * std::f64::consts::PI).ln() - std::f64::consts::LN_2;
    assert!((trace.score() - want_score).abs() < 1e-12);
    let want = "\
trace of hierarchy, score -2.531
├── mu : 0.000
└── sub
    ├── flip : true
    └── z : 0.000";
    assert_eq!(format!("{trace:.3}"), want, "\n{trace:.3}");
    // Without a precision the score and values print in full.
    assert!(trace.to_string().starts_with(&format!("trace of hierarchy, score {:?}\n", trace.score())), "{trace}");
}

#[test]
fn a_long_data_vector_is_abbreviated_in_a_trace() {
    let xs: Vec<f64> = (1..=40).map(f64::from).collect();
    let ys: Vec<f64> = xs.iter().map(|x| 0.5 * x).collect();
    let (trace, _) = line(&xs).generate(Key::new(1), &choicemap! { "slope" => 0.5, "ys" => ys }).unwrap();
    let shown = format!("{trace:.1}");
    assert!(shown.ends_with("├── slope : 0.5\n└── ys : [0.5, 1.0, 1.5, …, 19.0, 19.5, 20.0] (40 values)"), "\n{shown}");
    assert!(format!("{trace:#}").contains("20.0]"), "{trace:#}");
    println!("{trace:.4}");
}

#[test]
fn addr_and_slash_work_wherever_an_address_is_accepted() {
    let sub_z = addr!["sub", "z"];
    assert_eq!(sub_z, Address::root() / "sub" / "z");
    assert_eq!(sub_z, Part::from("sub") / "z");
    // choicemap!, ChoiceMap::insert, get, value.
    let mut constraints = choicemap! { addr!["sub", "z"] => 0.3, "mu" => 0.1 };
    constraints.insert(Part::from("sub") / "flip", false);
    assert_eq!(constraints.get(&sub_z).and_then(ChoiceValue::as_f64), Some(0.3));
    assert_eq!(constraints.value(addr!["sub", "flip"]), Some(&ChoiceValue::Bool(false)));
    // Traces.
    let (trace, _) = hierarchy().generate(Key::new(2), &constraints).unwrap();
    assert_eq!(trace.get_f64(&sub_z), Some(0.3));
    assert_eq!(trace.choices().submap(&addr!["sub"]).get_f64("z"), Some(0.3));
    // select! and selections.
    let selection = select![addr!["sub", "z"], "mu"];
    assert!(selection.contains(&sub_z) && !selection.contains(&addr!["sub", "flip"]));
    let (_, weight) = trace.regenerate(Key::new(3), &select![Part::from("sub") / "flip"]).unwrap();
    assert!(weight.is_finite());
    // Posterior::get.
    let obs = choicemap! { addr!["sub", "z"] => 1.0, addr!["sub", "flip"] => true };
    let posterior = hierarchy().condition(&obs).importance(100, Key::new(4)).unwrap();
    assert_eq!(posterior.get(addr!["mu"]).unwrap().mean(), posterior.get("mu").unwrap().mean());
    assert_eq!(posterior.mean(Address::root() / "mu").unwrap(), posterior.mean("mu").unwrap());
}

#[test]
fn names_built_at_run_time_address_choices() {
    let n = 3;
    // Constraints written with runtime strings and indices, in a loop.
    let mut constraints = ChoiceMap::new();
    let name = String::from("theta");
    for j in 0..n {
        constraints.insert((name.clone(), j), j as f64);
    }
    constraints.insert((&name, 0usize), -1.0);
    let (trace, _) = groups(n).generate(Key::new(5), &constraints).unwrap();
    for j in 0..n {
        let want = if j == 0 { -1.0 } else { j as f64 };
        assert_eq!(trace.get_f64((format!("the{}", "ta"), j)), Some(want));
        assert_eq!(trace.get_f64(("theta", j)), Some(want));
    }
    // A name built with format! is the same part as a literal.
    let k = 2;
    let built = addr![format!("group_{k}"), ("theta", 1)];
    assert_eq!(built, addr!["group_2", ("theta", 1)]);
    let grouped = choicemap! { built.clone() => 1.0 };
    assert_eq!(grouped.get_f64(Part::from(format!("group_{k}")) / ("theta", 1)), Some(1.0));
    assert_eq!(grouped.to_string(), "└── group_2\n    └── (\"theta\", 1) : 1.0");
}

/// A call kept with its observations: the type `#[gen]` generates, named.
struct Experiment<'a> {
    model: Call<line::Gf<'a>>,
    observations: ChoiceMap,
}

fn log_weight(call: &Call<line::Gf<'_>>, observations: &ChoiceMap) -> f64 {
    let (_trace, weight): (Trace<line::Gf<'_>>, f64) = call.generate(Key::new(6), observations).unwrap();
    weight
}

#[test]
fn the_generated_type_can_be_stored_and_passed() {
    let xs = [1.0, 2.0];
    let experiment = Experiment { model: line(&xs), observations: choicemap! { "ys" => vec![0.5, 1.1] } };
    assert!(log_weight(&experiment.model, &experiment.observations).is_finite());
    // A function without references has a marker type without a lifetime.
    let calls: Vec<Call<hierarchy::Gf>> = vec![hierarchy(), hierarchy()];
    let traces: Vec<Trace<hierarchy::Gf>> = calls.iter().map(|c| c.simulate(Key::new(7)).unwrap()).collect();
    assert_eq!(traces[0].choices(), traces[1].choices());
}

//! Map, Unfold and Switch: addresses, the interface's identities on a model built from them,
//! latent values passed to sub-models, and gradients through the combinators.

use gen_runtime::prelude::*;
use gen_runtime::{LogDensity, Part};

/// A random-walk step with an observation: the state is the position.
#[gen]
fn step(t: usize, x: Real, drift: Real, sigma: f64) -> Real {
    let _ = t;
    let x = normal(x + drift, sigma).at("x");
    normal(x, 0.5).at("y");
    x
}

/// One point around the shared mean.
#[gen]
fn point(mu: Real, shift: f64) -> Real {
    normal(mu + shift, 1.0).at("z")
}

/// A state-space model (Unfold) and a set of exchangeable points (Map), sharing latents.
#[gen]
fn walk_and_points(n: usize, shifts: &[f64]) -> Real {
    let mu = normal(0.0, 1.0).at("mu");
    let drift = normal(0.0, 0.1).at("drift");
    let path = Unfold::new(step::gf()).apply((n, mu, (drift, 0.3))).at("walk");
    let zs = Map::new(point::gf()).apply(shifts.iter().map(|&s| (mu, s)).collect()).at("points");
    let mut total = mu;
    for z in zs {
        total += z;
    }
    total + path[n - 1]
}

#[gen]
fn low() -> Real {
    normal(-1.0, 1.0).at("v")
}

#[gen]
fn high(scale: f64) -> Real {
    let v = normal(1.0, scale).at("v");
    exponential(1.0).at("extra");
    v
}

/// A mixture: the branch index is itself a random choice.
#[gen]
fn mixture(forced: Option<usize>) -> Real {
    let k = bernoulli(0.3).at("k");
    let index = forced.unwrap_or(usize::from(k));
    Switch::new(low::gf(), high::gf()).apply((index, (), (2.0,))).at("branch").into_inner()
}

fn addr(parts: Vec<Part>) -> Address {
    Address(parts)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-10 * (1.0 + a.abs().max(b.abs()))
}

const SHIFTS: [f64; 3] = [-1.0, 0.0, 2.5];

#[test]
fn unfold_and_map_address_their_children_by_index() {
    let t = walk_and_points(4, &SHIFTS).simulate(Key::new(1)).unwrap();
    assert_eq!(t.choices().len(), 2 + 4 * 2 + 3);
    for step in 0..4i64 {
        assert!(t.get_f64(addr(vec!["walk".into(), Part::Index(step), "x".into()])).is_some());
        assert!(t.get_f64(addr(vec!["walk".into(), Part::Index(step), "y".into()])).is_some());
    }
    for i in 0..3i64 {
        assert!(t.get_f64(addr(vec!["points".into(), Part::Index(i), "z".into()])).is_some());
    }
    // The return value is built from the kernel's and the map's return values.
    let last = t.get_f64(addr(vec!["walk".into(), Part::Index(3), "x".into()])).unwrap();
    let zs: f64 = (0..3i64).map(|i| t.get_f64(addr(vec!["points".into(), Part::Index(i), "z".into()])).unwrap()).sum();
    assert!(close(*t.retval(), t.get_f64("mu").unwrap() + zs + last));
}

#[test]
fn the_unfold_kernel_receives_the_previous_state() {
    let t = walk_and_points(3, &SHIFTS).simulate(Key::new(2)).unwrap();
    let drift = t.get_f64("drift").unwrap();
    let x = |s: i64| t.get_f64(addr(vec!["walk".into(), Part::Index(s), "x".into()])).unwrap();
    let site = |s: i64| t.site_score(&addr(vec!["walk".into(), Part::Index(s), "x".into()])).unwrap();
    let ln_n = |v: f64, m: f64, sd: f64| -0.5 * ((v - m) / sd).powi(2) - sd.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
    assert!(close(site(0), ln_n(x(0), t.get_f64("mu").unwrap() + drift, 0.3)));
    assert!(close(site(1), ln_n(x(1), x(0) + drift, 0.3)));
    assert!(close(site(2), ln_n(x(2), x(1) + drift, 0.3)));
}

#[test]
fn interface_identities_hold_with_map_and_unfold() {
    for seed in 0..4 {
        let t = walk_and_points(5, &SHIFTS).simulate(Key::new(seed)).unwrap();
        // generate with every choice constrained: weight = assess = score.
        let (t2, w) = walk_and_points(5, &SHIFTS).generate(Key::new(100), t.choices()).unwrap();
        let (lp, ret) = walk_and_points(5, &SHIFTS).assess(t.choices()).unwrap();
        assert!(close(w, lp) && close(lp, t.score()) && close(t2.score(), t.score()), "{w} {lp} {}", t.score());
        assert!(close(ret, *t.retval()));
        // update: weight = difference of scores.
        let a = addr(vec!["walk".into(), Part::Index(2), "x".into()]);
        let mut c = ChoiceMap::new();
        c.insert(a.clone(), 0.7);
        let (t3, w, discard) = t.update(Key::new(3), &c).unwrap();
        assert!(close(w, t3.score() - t.score()));
        assert_eq!(discard.get_f64(a.clone()), t.get_f64(a));
        // regenerate with an empty selection: weight 0, same choices.
        let (t4, w) = t.regenerate(Key::new(4), &Selection::none()).unwrap();
        assert_eq!(w, 0.0);
        assert_eq!(t4.choices(), t.choices());
    }
}

#[test]
fn update_with_a_longer_unfold_draws_the_new_steps() {
    let t = walk_and_points(2, &SHIFTS).simulate(Key::new(6)).unwrap();
    let (t2, w, discard) = t.update_with_args(Key::new(7), (4, &SHIFTS[..]), &ChoiceMap::new()).unwrap();
    assert!(discard.is_empty());
    assert_eq!(t2.choices().len(), t.choices().len() + 4);
    let fresh: f64 = (2..4i64)
        .flat_map(|s| ["x", "y"].map(|n| addr(vec!["walk".into(), Part::Index(s), n.into()])))
        .map(|a| t2.site_score(&a).unwrap())
        .sum();
    assert!(close(w, t2.score() - t.score() - fresh));
}

#[test]
fn switch_puts_the_branch_choices_at_its_own_address() {
    let t = mixture(Some(1)).simulate(Key::new(8)).unwrap();
    assert!(t.get_f64(["branch", "v"]).is_some() && t.get_f64(["branch", "extra"]).is_some());
    let t = mixture(Some(0)).simulate(Key::new(8)).unwrap();
    assert!(t.get_f64(["branch", "v"]).is_some() && t.get_f64(["branch", "extra"]).is_none());
    // With the index drawn: generate all constrained = assess = score, both branches.
    for seed in 0..6 {
        let t = mixture(None).simulate(Key::new(seed)).unwrap();
        let (lp, _) = mixture(None).assess(t.choices()).unwrap();
        assert!(close(lp, t.score()));
    }
    // Changing the index with update switches branches: the other branch's choices are
    // discarded and the new ones drawn.
    let t = mixture(None).simulate(Key::new(1)).unwrap();
    let k = t.choices().value("k").and_then(gen_runtime::ChoiceValue::to_f64).unwrap() == 1.0;
    let (t2, w, discard) = t.update(Key::new(2), &choicemap! { "k" => !k }).unwrap();
    assert!(w.is_finite());
    assert_eq!(t2.get_f64(["branch", "extra"]).is_some(), !k);
    assert_eq!(discard.get_f64(["branch", "extra"]).is_some(), k);
}

#[test]
fn a_switch_index_out_of_range_is_an_error_naming_the_switch() {
    let err = mixture(Some(2)).simulate(Key::new(0)).unwrap_err();
    assert!(matches!(err, GenError::BadArguments { function: "Switch", .. }), "{err}");
    assert!(err.to_string().contains("branch index 2"), "{err}");
}

#[test]
fn gradients_flow_through_latents_passed_to_sub_models() {
    let t = walk_and_points(3, &SHIFTS).simulate(Key::new(9)).unwrap();
    let selection = select!["mu", "drift"];
    let target = LogDensity::from_trace(&t, &selection).unwrap();
    assert_eq!(target.dim(), 2);
    let theta = target.point(t.choices()).unwrap();
    let mut grad = vec![0.0; 2];
    let lp = target.log_density_and_gradient(&theta, &mut grad).unwrap();
    assert!(close(lp, t.score()), "unconstrained normal choices: no Jacobian term");
    for j in 0..2 {
        let h = 1e-6;
        let mut up = theta.clone();
        let mut down = theta.clone();
        up[j] += h;
        down[j] -= h;
        let fd = (target.log_density(&up).unwrap() - target.log_density(&down).unwrap()) / (2.0 * h);
        assert!((grad[j] - fd).abs() < 1e-5 * (1.0 + fd.abs()), "coordinate {j}: {} vs {fd}", grad[j]);
    }
    // And through a latent inside the Unfold.
    let inner = addr(vec!["walk".into(), Part::Index(1), "x".into()]);
    let target = LogDensity::from_trace(&t, &Selection::of([inner.clone()])).unwrap();
    let theta = target.point(t.choices()).unwrap();
    let mut g = vec![0.0];
    target.log_density_and_gradient(&theta, &mut g).unwrap();
    let (x0, x1, x2) = (
        t.get_f64(addr(vec!["walk".into(), Part::Index(0), "x".into()])).unwrap(),
        theta[0],
        t.get_f64(addr(vec!["walk".into(), Part::Index(2), "x".into()])).unwrap(),
    );
    let y1 = t.get_f64(addr(vec!["walk".into(), Part::Index(1), "y".into()])).unwrap();
    let drift = t.get_f64("drift").unwrap();
    let analytic = -(x1 - x0 - drift) / 0.09 + (x2 - x1 - drift) / 0.09 - (x1 - y1) / 0.25;
    assert!((g[0] - analytic).abs() < 1e-9 * (1.0 + analytic.abs()), "{} vs {analytic}", g[0]);
}

#[test]
fn importance_weights_with_combinators_match_generate() {
    let truth = walk_and_points(3, &SHIFTS).simulate(Key::new(10)).unwrap();
    let mut obs = ChoiceMap::new();
    for s in 0..3i64 {
        let a = addr(vec!["walk".into(), Part::Index(s), "y".into()]);
        obs.insert(a.clone(), truth.get_f64(a).unwrap());
    }
    let key = Key::new(11);
    let particles = gen_runtime::importance_log_weights(&walk_and_points(3, &SHIFTS), &obs, 32, key).unwrap();
    assert_eq!(particles.irregular, 0);
    for i in [0usize, 31] {
        let (_, w) = walk_and_points(3, &SHIFTS).generate(key.split(i as u64), &obs).unwrap();
        assert!(close(particles.log_weights[i], w));
    }
}

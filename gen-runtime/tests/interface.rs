//! The identities of the generative function interface, on the polynomial model and on a
//! hierarchical model (a call of another generative function at an address).

use gen_runtime::prelude::*;

#[gen]
fn polynomial(xs: &[f64], noise: f64) -> Real {
    let a = normal(0.0, 1.0).at("a");
    let b = normal(0.0, 1.0).at("b");
    let c = normal(0.0, 1.0).at("c");
    plate(xs, |x| normal(a + b * x + c * x * x, noise)).at("ys");
    a + b + c
}

#[gen]
fn offset(scale: f64) -> Real {
    let z = normal(0.0, scale).at("z");
    z * 2.0
}

#[gen]
fn hierarchical(n: usize) -> Real {
    let s = half_normal(1.0).at("s");
    let shift = offset(2.0).at("offset");
    let mut total = shift;
    for i in 0..n {
        total += normal(shift, 1.0).at(("x", i));
    }
    let _ = s;
    total
}

fn xs() -> Vec<f64> {
    (0..20).map(|i| f64::from(i) / 19.0).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-10 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn generate_with_every_choice_constrained_gives_weight_equal_to_assess_and_score() {
    let xs = xs();
    for seed in 0..5 {
        let t = polynomial(&xs, 0.3).simulate(Key::new(seed)).unwrap();
        let (t2, w) = polynomial(&xs, 0.3).generate(Key::new(99), t.choices()).unwrap();
        let (lp, ret) = polynomial(&xs, 0.3).assess(t.choices()).unwrap();
        assert!(close(w, lp) && close(lp, t2.score()) && close(lp, t.score()), "{w} {lp} {}", t.score());
        assert!(close(ret, *t.retval()));
    }
    let t = hierarchical(4).simulate(Key::new(3)).unwrap();
    let (_, w) = hierarchical(4).generate(Key::new(5), t.choices()).unwrap();
    assert!(close(w, t.score()));
}

#[test]
fn simulate_then_assess_returns_the_score() {
    let t = hierarchical(3).simulate(Key::new(11)).unwrap();
    assert_eq!(t.choices().len(), 5, "s, offset/z and three x");
    assert!(t.choices().get_f64(["offset", "z"]).is_some(), "hierarchical address offset/z");
    let (lp, _) = hierarchical(3).assess(t.choices()).unwrap();
    assert!(close(lp, t.score()));
    // The score is the sum of the log densities, checked by hand.
    let s = t.get_f64("s").unwrap();
    let z = t.get_f64(["offset", "z"]).unwrap();
    let ln_n = |x: f64, m: f64, sd: f64| -0.5 * ((x - m) / sd).powi(2) - sd.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
    let mut expected = (2.0f64).ln() + ln_n(s, 0.0, 1.0) + ln_n(z, 0.0, 2.0);
    for i in 0..3usize {
        expected += ln_n(t.get_f64(("x", i)).unwrap(), 2.0 * z, 1.0);
    }
    assert!(close(lp, expected), "{lp} vs {expected}");
}

#[test]
fn update_weight_is_the_difference_of_scores() {
    let xs = xs();
    let t = polynomial(&xs, 0.3).simulate(Key::new(1)).unwrap();
    let (t2, w, discard) = t.update(Key::new(2), &choicemap! { "b" => 0.25 }).unwrap();
    assert!(close(w, t2.score() - t.score()));
    assert_eq!(discard.get_f64("b"), t.get_f64("b"));
    assert_eq!(t2.get_f64("b"), Some(0.25));
    assert_eq!(t2.get_f64("a"), t.get_f64("a"), "unconstrained choices are kept");
    // New arguments: more loop iterations make fresh choices, excluded from the weight.
    let h = hierarchical(2).simulate(Key::new(4)).unwrap();
    let (h2, w, _) = h.update_with_args(Key::new(5), (4,), &ChoiceMap::new()).unwrap();
    let fresh: f64 = (2..4usize).map(|i| h2.site_score(&("x", i).into_address()).unwrap()).sum();
    assert!(close(w, h2.score() - h.score() - fresh));
}

#[test]
fn regenerate_with_an_empty_selection_has_weight_zero() {
    let xs = xs();
    let t = polynomial(&xs, 0.3).simulate(Key::new(8)).unwrap();
    let (t2, w) = t.regenerate(Key::new(9), &Selection::none()).unwrap();
    assert_eq!(w, 0.0);
    assert_eq!(t2.choices(), t.choices());
    // Regenerating "a" changes it; the weight is the change of the other choices' densities.
    let (t3, w) = t.regenerate(Key::new(9), &select!["a"]).unwrap();
    assert_ne!(t3.get_f64("a"), t.get_f64("a"));
    let ys_addr = "ys".into_address();
    let expected = t3.site_score(&ys_addr).unwrap() - t.site_score(&ys_addr).unwrap();
    assert!(close(w, expected));
}

#[test]
fn same_key_same_trace_and_propose_matches_simulate() {
    let xs = xs();
    let a = polynomial(&xs, 0.3).simulate(Key::new(5)).unwrap();
    let b = polynomial(&xs, 0.3).simulate(Key::new(5)).unwrap();
    assert_eq!(a.choices(), b.choices());
    let (choices, lp, _) = polynomial(&xs, 0.3).propose(Key::new(5)).unwrap();
    assert_eq!(&choices, a.choices());
    assert!(close(lp, a.score()));
}

#[test]
fn native_importance_weights_match_generate() {
    let xs = xs();
    let truth = polynomial(&xs, 0.3).simulate(Key::new(0)).unwrap();
    let obs = choicemap! { "ys" => truth.choices().value("ys").unwrap().clone() };
    let key = Key::new(77);
    let particles = gen_runtime::importance_log_weights(&polynomial(&xs, 0.3), &obs, 64, key).unwrap();
    assert_eq!(particles.irregular, 0);
    assert_eq!(particles.addresses.len(), 3);
    for i in [0usize, 13, 63] {
        let (t, w) = polynomial(&xs, 0.3).generate(key.split(i as u64), &obs).unwrap();
        assert!(close(particles.log_weights[i], w), "particle {i}");
        assert_eq!(particles.latents[i * 3], t.get_f64("a").unwrap());
        assert_eq!(particles.latents[i * 3 + 2], t.get_f64("c").unwrap());
    }
}

#[gen]
fn plate_and_iid(xs: &[f64], n: usize) {
    let m = normal(0.0, 1.0).at("m");
    let s = gamma(2.0, 2.0).at("s");
    plate(xs, |x| normal(m * x, s)).at("ys");
    iid(normal(m, 1.0), n).at("zs");
    // A scale that differs from point to point: no shared scale to apply once.
    plate(xs, |x| normal(m, s * (1.0 + x))).at("hs");
}

#[test]
fn native_importance_weights_equal_generate_bit_for_bit() {
    // 23 and 6 elements: a remainder after the lanes of the plate sum, so both paths must
    // split and add the sum in the same order to agree exactly.
    let xs: Vec<f64> = (0..23).map(|i| f64::from(i) / 7.0).collect();
    let call = plate_and_iid(&xs, 6);
    let truth = call.simulate(Key::new(1)).unwrap();
    let obs = choicemap! {
        "ys" => truth.choices().value("ys").unwrap().clone(),
        "zs" => truth.choices().value("zs").unwrap().clone(),
        "hs" => truth.choices().value("hs").unwrap().clone(),
    };
    let key = Key::new(9);
    let particles = gen_runtime::importance_log_weights(&call, &obs, 40, key).unwrap();
    assert_eq!(particles.irregular, 0);
    for i in 0..40 {
        let (_, w) = call.generate(key.split(i as u64), &obs).unwrap();
        assert_eq!(particles.log_weights[i].to_bits(), w.to_bits(), "particle {i}");
    }
    // And both are the sum of the points' normal log densities, whether the plate's scale
    // is shared (applied once to the sum) or not.
    let reals = |a: &'static str| obs.value(a).unwrap().as_reals().unwrap().to_vec();
    let log_normal = |y: f64, mu: f64, sd: f64| -0.5 * ((y - mu) / sd).powi(2) - sd.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
    let (trace, w) = call.generate(key.split(3), &obs).unwrap();
    let (m, s) = (trace.choices().value("m").unwrap().as_f64().unwrap(), trace.choices().value("s").unwrap().as_f64().unwrap());
    let exact: f64 = xs.iter().zip(reals("ys")).map(|(x, y)| log_normal(y, m * x, s)).sum::<f64>()
        + reals("zs").iter().map(|z| log_normal(*z, m, 1.0)).sum::<f64>()
        + xs.iter().zip(reals("hs")).map(|(x, y)| log_normal(y, m, s * (1.0 + x))).sum::<f64>();
    assert!((w - exact).abs() < 1e-10 * exact.abs().max(1.0), "{w} vs {exact}");
}

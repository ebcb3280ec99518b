//! `Real::max`, `min` and `clamp`: their values against `f64`'s, their derivatives against
//! finite differences and at ties (half to each argument), and the Burn engine's form of
//! them (`relu` through `abs`) against the native engine's comparisons, in a model.
//!
//! Tolerances: central differences with h = 1e-6 on functions of size 1 are accurate to about
//! 1e-9; the Burn engine computes in f32 (see `tests/burn.rs` for its tolerances).

use gen_runtime::burn::{Cpu, Engine};
use gen_runtime::prelude::*;
use gen_runtime::{importance_log_weights, Dual, LogDensity};

/// Points on both sides of the kinks below, of both signs.
/// The closest that any case below comes to a kink (a tie) at them is 1.2e-3, far more than
/// the finite differences' step.
const POINTS: [f64; 7] = [-2.5, -0.7, -0.05, 0.4, 1.0, 1.3, 3.2];

fn max(a: f64, b: f64) -> f64 {
    Real::max(a, b)
}

fn min(a: f64, b: f64) -> f64 {
    Real::min(a, b)
}

fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
    Real::clamp(x, lo, hi)
}

#[test]
fn values_are_the_larger_the_smaller_and_the_clamped_argument() {
    for &a in &POINTS {
        for &b in &POINTS {
            assert_eq!(max(a, b), f64::max(a, b));
            assert_eq!(min(a, b), f64::min(a, b));
            let d = Dual::<1>::constant(a);
            assert_eq!(d.max(b).re, f64::max(a, b));
            assert_eq!(d.min(b).re, f64::min(a, b));
        }
        assert_eq!(clamp(a, -1.0, 1.0), a.clamp(-1.0, 1.0));
        assert_eq!(Dual::<1>::constant(a).clamp(-1.0, 1.0).re, a.clamp(-1.0, 1.0));
    }
    assert_eq!(max(f64::NEG_INFINITY, 1.0), 1.0);
    assert_eq!(min(f64::INFINITY, 1.0), 1.0);
    assert_eq!(max(f64::INFINITY, f64::INFINITY), f64::INFINITY);
    // A constant argument and an `f64` one are the same.
    assert_eq!(Dual::<1>::constant(0.5).max(Dual::constant(2.0)), Dual::constant(0.5).max(2.0));
}

#[test]
fn nan_propagates_and_reversed_bounds_give_the_upper_one() {
    // Unlike `f64::max`, which would return the other argument: a batched engine cannot
    // skip a NaN, so no engine does.
    assert!(max(f64::NAN, 1.0).is_nan() && max(1.0, f64::NAN).is_nan());
    assert!(min(f64::NAN, 1.0).is_nan() && min(1.0, f64::NAN).is_nan());
    assert!(Dual::<1>::constant(f64::NAN).max(1.0).re.is_nan());
    assert!(Dual::<1>::constant(1.0).min(f64::NAN).re.is_nan());
    // `f64::clamp` panics when lo > hi; `Real::clamp` cannot check that per particle.
    assert_eq!(clamp(0.0, 2.0, 1.0), 1.0);
    assert_eq!(Dual::<1>::constant(0.0).clamp(2.0, 1.0).re, 1.0);
}

/// The gradient of `f` at `(a, b)` by dual numbers and by central differences.
fn gradients(f: impl Fn(Dual<2>, Dual<2>) -> Dual<2>, a: f64, b: f64) -> ([f64; 2], [f64; 2]) {
    let d = f(Dual::variable(a, 0), Dual::variable(b, 1));
    let h = 1e-6;
    let value = |a: f64, b: f64| f(Dual::constant(a), Dual::constant(b)).re;
    let fd = [(value(a + h, b) - value(a - h, b)) / (2.0 * h), (value(a, b + h) - value(a, b - h)) / (2.0 * h)];
    (d.eps, fd)
}

#[test]
fn derivatives_match_finite_differences_away_from_ties() {
    // Composed with smooth functions, so that the derivative is not only 0 or 1.
    type Case = (&'static str, fn(Dual<2>, Dual<2>) -> Dual<2>);
    let cases: [Case; 5] = [
        ("max", |a, b| a.sin().max(b * b)),
        ("min", |a, b| a.exp().min(b + 1.0)),
        ("max with an f64", |a, b| (a * b).max(0.25)),
        ("clamp", |a, b| (a + b).clamp(-1.0, 1.5)),
        ("clamp with real bounds", |a, b| a.clamp(b - 0.5, b + 0.5).square()),
    ];
    for (name, f) in cases {
        for &a in &POINTS {
            for &b in &POINTS {
                let (ad, fd) = gradients(f, a, b);
                for k in 0..2 {
                    assert!(
                        (ad[k] - fd[k]).abs() < 1e-6 * (1.0 + fd[k].abs()),
                        "{name} at ({a}, {b}), d/d{k}: dual {}, finite differences {}",
                        ad[k],
                        fd[k]
                    );
                }
            }
        }
    }
}

#[test]
fn at_a_tie_each_argument_gets_half_the_derivative() {
    let x = Dual::<2>::variable(1.0, 0);
    let y = Dual::<2>::variable(1.0, 1);
    assert_eq!(x.max(y), Dual { re: 1.0, eps: [0.5, 0.5] });
    assert_eq!(x.min(y), Dual { re: 1.0, eps: [0.5, 0.5] });
    // Against a constant: half of x's tangent, and the constant has none.
    assert_eq!(x.max(1.0), Dual { re: 1.0, eps: [0.5, 0.0] });
    // On a boundary of clamp: shared with that bound.
    assert_eq!(x.clamp(y, 2.0), Dual { re: 1.0, eps: [0.5, 0.5] });
    assert_eq!(x.clamp(0.0, y), Dual { re: 1.0, eps: [0.5, 0.5] });
    // Strictly inside, the value's own derivative; outside, the bound's.
    assert_eq!(x.clamp(0.0, 2.0), x);
    assert_eq!(x.clamp(y + 1.0, y + 2.0).eps, [0.0, 1.0]);
}

/// A line whose mean is clamped to a window, with a scale made from the larger and the
/// smaller of the two latents.
#[gen]
fn clipped_line(xs: &[f64]) {
    let a = normal(0.0, 1.0).at("a");
    let b = normal(0.0, 1.0).at("b");
    let scale = (a.max(b) - a.min(b) + 0.5).clamp(0.6, 2.0);
    normal(a.max(0.3), 1.0).at("c");
    plate(xs, |x| normal((a + b * x).clamp(a.min(-0.5), 1.5), scale)).at("ys");
}

/// max and min at a tie with a constant when a = 0.
#[gen]
fn kinked() {
    let a = normal(0.0, 1.0).at("a");
    normal(a.max(0.0) + 3.0 * a.min(0.0), 1.0).at("y");
}

fn clipped_data() -> (Vec<f64>, ChoiceMap) {
    let xs: Vec<f64> = (0..40).map(|i| -1.0 + i as f64 / 13.0).collect();
    let ys: Vec<f64> =
        xs.iter().enumerate().map(|(i, x)| (0.3 + 0.8 * x).clamp(-0.5, 1.5) + 0.2 * ((i * 7919) % 11) as f64 / 11.0).collect();
    (xs, choicemap! { "ys" => ys, "c" => 0.6 })
}

/// The Burn engine as it runs on the CPU (fused) and as on a GPU (one operation per step).
fn engines() -> [Engine<Cpu>; 2] {
    [Engine::default(), Engine::default().with_fusion(false)]
}

#[test]
fn burn_importance_weights_equal_the_native_ones() {
    let (xs, obs) = clipped_data();
    let call = clipped_line(&xs);
    let native = importance_log_weights(&call, &obs, 300, Key::new(3)).unwrap();
    for engine in engines() {
        let burn = engine.importance_log_weights(&call, &obs, 300, Key::new(3)).unwrap();
        assert_eq!(native.latents, burn.latents);
        for (i, (n, b)) in native.log_weights.iter().zip(&burn.log_weights).enumerate() {
            // f32 over 41 terms of size up to about 10 (see tests/burn.rs).
            assert!((n - b).abs() <= 1e-5 * 400.0_f64.max(n.abs()), "particle {i}: native {n}, burn {b}");
        }
    }
}

/// Asserts the Burn engine's log densities and gradients at `thetas` (rows of the target's
/// dimension) equal the native engine's.
fn assert_burn_gradients_match<G: GenerativeFunction>(target: &LogDensity<G>, thetas: &[f64]) {
    let d = target.dim();
    for engine in engines() {
        let mut grads = vec![0.0; thetas.len()];
        let lps = engine.log_density_and_gradient(target, thetas, &mut grads).unwrap();
        for (c, theta) in thetas.chunks(d).enumerate() {
            let mut g = vec![0.0; d];
            let lp = target.log_density_and_gradient(theta, &mut g).unwrap();
            assert!((lp - lps[c]).abs() <= 1e-5 * lp.abs().max(1.0), "chain {c}: native {lp}, burn {}", lps[c]);
            let g_scale = g.iter().map(|x| x.abs()).fold(1.0, f64::max);
            for k in 0..d {
                let b = grads[c * d + k];
                assert!((g[k] - b).abs() <= 1e-4 * g_scale, "chain {c}, coordinate {k}: native {}, burn {b}", g[k]);
            }
        }
    }
}

#[test]
fn model_gradients_match_finite_differences_and_the_burn_engine() {
    let (xs, obs) = clipped_data();
    let target = LogDensity::new(&clipped_line(&xs), &obs, &select!["a", "b"], Key::new(0)).unwrap();
    // Points on both sides of every kink, none closer to one than 7e-4 (but for a datum at
    // x = 0 whose mean `a` is clamped from below by `a` itself, where both sides agree).
    let thetas: Vec<f64> =
        (0..2 * 60).map(|k| 1.6 * (((k * 7919) % 101) as f64 / 101.0 - 0.5) + if k % 2 == 0 { 0.3137 } else { 0.8291 }).collect();
    for theta in thetas.chunks(2) {
        let mut g = [0.0; 2];
        target.log_density_and_gradient(theta, &mut g).unwrap();
        for k in 0..2 {
            let h = 1e-6;
            let mut plus = theta.to_vec();
            let mut minus = theta.to_vec();
            plus[k] += h;
            minus[k] -= h;
            let fd = (target.log_density(&plus).unwrap() - target.log_density(&minus).unwrap()) / (2.0 * h);
            assert!((g[k] - fd).abs() < 1e-5 * (1.0 + fd.abs()), "at {theta:?}, d/d{k}: dual {}, finite differences {fd}", g[k]);
        }
    }
    assert_burn_gradients_match(&target, &thetas);
}

#[test]
fn burn_follows_the_tie_convention() {
    let target = LogDensity::new(&kinked(), &choicemap! { "y" => 0.5 }, &select!["a"], Key::new(0)).unwrap();
    // At a = 0 the mean's derivative is 0.5 (max) + 3 * 0.5 (min) = 2, so that of the log
    // density is -a + (y - mean) * 2 = 1.
    let mut g = [0.0];
    target.log_density_and_gradient(&[0.0], &mut g).unwrap();
    assert!((g[0] - 1.0).abs() < 1e-12, "native: {}", g[0]);
    assert_burn_gradients_match(&target, &[0.0, -0.4, 0.7]);
}

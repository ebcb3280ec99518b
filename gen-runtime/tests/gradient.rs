//! Gradients of the log joint agree with the analytic gradient of the polynomial model, in
//! constrained and unconstrained coordinates.

use gen_runtime::prelude::*;
use gen_runtime::LogDensity;

mod common;
use common::{linspace, polynomial};

#[gen]
fn scale_model(ys: &[f64]) {
    let mu = normal(0.0, 1.0).at("mu");
    let sigma = half_normal(2.0).at("sigma");
    plate(ys, |_| normal(mu, sigma)).at("ys");
}

/// log p(a, b, c, ys) and its gradient, by hand.
fn analytic(xs: &[f64], ys: &[f64], s: f64, th: [f64; 3]) -> (f64, [f64; 3]) {
    let c0 = -0.5 * (2.0 * std::f64::consts::PI).ln();
    let mut lp = th.iter().map(|t| c0 - 0.5 * t * t).sum::<f64>();
    let mut g = [-th[0], -th[1], -th[2]];
    for (x, y) in xs.iter().zip(ys) {
        let r = y - (th[0] + th[1] * x + th[2] * x * x);
        lp += c0 - s.ln() - 0.5 * (r / s).powi(2);
        let d = r / (s * s);
        g[0] += d;
        g[1] += d * x;
        g[2] += d * x * x;
    }
    (lp, g)
}

#[test]
fn polynomial_gradient_matches_the_analytic_gradient() {
    for n in [10usize, 100, 1000] {
        let xs: Vec<f64> = linspace(n);
        let t = polynomial(&xs, 0.3).simulate(Key::new(n as u64)).unwrap();
        let ys = t.choices().value("ys").unwrap().as_reals().unwrap().to_vec();
        let target = LogDensity::from_trace(&t, &select!["a", "b", "c"]).unwrap();
        assert_eq!(target.dim(), 3);
        let mut rng_key = Key::new(123).split(n as u64).rng();
        for _ in 0..10 {
            let th: [f64; 3] = std::array::from_fn(|_| rand::Rng::random_range(&mut rng_key, -2.0..2.0));
            let mut g = [0.0; 3];
            let lp = target.log_density_and_gradient(&th, &mut g).unwrap();
            let (lp0, g0) = analytic(&xs, &ys, 0.3, th);
            assert!((lp - lp0).abs() <= 1e-9 * lp0.abs(), "n={n}: {lp} vs {lp0}");
            for k in 0..3 {
                assert!((g[k] - g0[k]).abs() <= 1e-9 * g0[k].abs().max(1.0), "n={n} k={k}: {} vs {}", g[k], g0[k]);
            }
            assert!((target.log_density(&th).unwrap() - lp).abs() <= 1e-12 * lp.abs());
        }
    }
}

#[test]
fn unconstrained_gradient_includes_the_jacobian() {
    let ys = [0.3, -0.1, 0.8, 1.2];
    let t = scale_model(&ys).simulate(Key::new(2)).unwrap();
    let target = LogDensity::from_trace(&t, &select!["mu", "sigma"]).unwrap();
    let theta = target.point(t.choices()).unwrap();
    assert!((theta[1] - t.get_f64("sigma").unwrap().ln()).abs() < 1e-12, "sigma maps through log");
    let f = |th: &[f64]| target.log_density(th).unwrap();
    let mut g = [0.0; 2];
    let lp = target.log_density_and_gradient(&theta, &mut g).unwrap();
    // log p + log sigma (the Jacobian of sigma = e^t).
    let (score, _) = scale_model(&ys).assess(t.choices()).unwrap();
    assert!((lp - (score + theta[1])).abs() < 1e-10);
    for k in 0..2 {
        let h = 1e-5;
        let mut up = theta.clone();
        up[k] += h;
        let mut down = theta.clone();
        down[k] -= h;
        let fd = (f(&up) - f(&down)) / (2.0 * h);
        assert!((g[k] - fd).abs() < 1e-6 * (1.0 + fd.abs()), "k={k}: {} vs {fd}", g[k]);
    }
    let back = target.choices(&theta);
    assert!((back.get_f64("sigma").unwrap() - t.get_f64("sigma").unwrap()).abs() < 1e-12);
}

#[test]
fn gradient_with_respect_to_a_discrete_choice_is_an_error() {
    #[gen]
    fn coin() {
        let p = beta(2.0, 2.0).at("p");
        bernoulli(p).at("flip");
    }
    let t = coin().simulate(Key::new(0)).unwrap();
    let err = LogDensity::from_trace(&t, &select!["flip"]).err().unwrap();
    assert!(matches!(err, GenError::NotContinuous { .. }), "{err}");
    assert!(err.to_string().contains("flip"));
}

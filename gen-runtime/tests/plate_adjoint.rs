//! `#[gen]` writes a reverse-mode adjoint for plate closures of a simple form (a distribution
//! of real parameters over arithmetic on the data point, captured values and literals). The
//! gradient engine uses it instead of running the closure on dual numbers. Each model here
//! has a twin whose closure is a block with a statement, which the macro leaves alone: the
//! two must give the same log density and gradient at random points, for every operation
//! and distribution the adjoint knows.

// The twins return through a `let` on purpose: a statement keeps `#[gen]` off the adjoint path.
#![allow(clippy::let_and_return)]

use gen_runtime::prelude::*;
use gen_runtime::distributions::LogDensityParts;
use gen_runtime::{Handler, LhsOps, LogDensity};

// ---- Arithmetic and the methods of `Real`, under a normal likelihood.

#[gen]
fn arithmetic(xs: &[f64], w: f64) {
    let a = normal(0.0, 1.0).at("a");
    let b = normal(0.0, 1.0).at("b");
    let s = half_normal(1.0).at("s");
    plate(xs, |x| normal(a * x - b / (1.0 + x) + (-s) * 0.5 + w * x + (3 as f64), s.sqrt() + 0.1)).at("y1");
    plate(xs, |x| normal((a * x).sin() + (b * x).cos() + (a * x).tanh() + (b * x).atan() + (a - x).abs(), (s * x).exp() + 0.1)).at("y2");
    plate(xs, |x| normal((s + x).ln() + (s * x).ln_1p() + (a * x).exp_m1() + (b.square() + 1.0).recip(), 0.5 + s.square())).at("y3");
    plate(xs, |x| normal((a * x).sigmoid() + (b * x).softplus() + (s + x).powi(3) + (s + x).powf(1.5) + (s + x).powi(-2), 1.0)).at("y4");
}

#[gen]
fn arithmetic_twin(xs: &[f64], w: f64) {
    let a = normal(0.0, 1.0).at("a");
    let b = normal(0.0, 1.0).at("b");
    let s = half_normal(1.0).at("s");
    plate(xs, |x| {
        let d = normal(a * x - b / (1.0 + x) + (-s) * 0.5 + w * x + (3 as f64), s.sqrt() + 0.1);
        d
    })
    .at("y1");
    plate(xs, |x| {
        let d = normal((a * x).sin() + (b * x).cos() + (a * x).tanh() + (b * x).atan() + (a - x).abs(), (s * x).exp() + 0.1);
        d
    })
    .at("y2");
    plate(xs, |x| {
        let d = normal((s + x).ln() + (s * x).ln_1p() + (a * x).exp_m1() + (b.square() + 1.0).recip(), 0.5 + s.square());
        d
    })
    .at("y3");
    plate(xs, |x| {
        let d = normal((a * x).sigmoid() + (b * x).softplus() + (s + x).powi(3) + (s + x).powf(1.5) + (s + x).powi(-2), 1.0);
        d
    })
    .at("y4");
}

// ---- Every distribution the adjoint accepts.

#[gen]
fn distributions(xs: &[f64]) {
    let a = normal(0.0, 1.0).at("a");
    let s = gamma(3.0, 3.0).at("s");
    let k = gamma(4.0, 2.0).at("k");
    plate(xs, |x| half_normal(s + x)).at("half_normal");
    plate(xs, |x| lognormal(a * x, s)).at("lognormal");
    plate(xs, |x| cauchy(a + x, s)).at("cauchy");
    plate(xs, |x| student_t(2.0 + k, a * x, s)).at("student_t");
    plate(xs, |x| exponential(s * (1.0 + x))).at("exponential");
    plate(xs, |x| gamma(s + 1.0, k * x + 1.0)).at("gamma");
    plate(xs, |x| inv_gamma(s + 1.0, k + x)).at("inv_gamma");
    plate(xs, |x| beta(s + 1.0, k + x)).at("beta");
    plate(xs, |x| bernoulli((a * x).sigmoid())).at("bernoulli");
    plate(xs, |x| poisson(s * (1.0 + x))).at("poisson");
}

#[gen]
fn distributions_twin(xs: &[f64]) {
    let a = normal(0.0, 1.0).at("a");
    let s = gamma(3.0, 3.0).at("s");
    let k = gamma(4.0, 2.0).at("k");
    plate(xs, |x| {
        let d = half_normal(s + x);
        d
    })
    .at("half_normal");
    plate(xs, |x| {
        let d = lognormal(a * x, s);
        d
    })
    .at("lognormal");
    plate(xs, |x| {
        let d = cauchy(a + x, s);
        d
    })
    .at("cauchy");
    plate(xs, |x| {
        let d = student_t(2.0 + k, a * x, s);
        d
    })
    .at("student_t");
    plate(xs, |x| {
        let d = exponential(s * (1.0 + x));
        d
    })
    .at("exponential");
    plate(xs, |x| {
        let d = gamma(s + 1.0, k * x + 1.0);
        d
    })
    .at("gamma");
    plate(xs, |x| {
        let d = inv_gamma(s + 1.0, k + x);
        d
    })
    .at("inv_gamma");
    plate(xs, |x| {
        let d = beta(s + 1.0, k + x);
        d
    })
    .at("beta");
    plate(xs, |x| {
        let d = bernoulli((a * x).sigmoid());
        d
    })
    .at("bernoulli");
    plate(xs, |x| {
        let d = poisson(s * (1.0 + x));
        d
    })
    .at("poisson");
}

// ---- A shadowed `f64` argument is a latent inside the plate, not a constant.

#[gen]
fn shadowed(xs: &[f64], w: f64) {
    let w = normal(w, 1.0).at("w");
    plate(xs, |x| normal(w * x, 1.0)).at("ys");
}

/// Asserts that `model` and `twin` (same choices, same density) agree on the log density and
/// gradient of `selection` at 20 random unconstrained points around the simulated trace.
fn assert_same_gradients<G: GenerativeFunction, T: GenerativeFunction>(model: Call<G>, twin: Call<T>, selection: Selection, seed: u64) {
    let trace = model.simulate(Key::new(seed)).unwrap();
    let fast = LogDensity::from_trace(&trace, &selection).unwrap();
    let (twin_trace, _) = twin.generate(Key::new(0), trace.choices()).unwrap();
    let slow = LogDensity::from_trace(&twin_trace, &selection).unwrap();
    let d = fast.dim();
    assert_eq!(d, slow.dim());
    let start = fast.point(trace.choices()).unwrap();
    let mut rng = Key::new(seed).split(1).rng();
    for _ in 0..20 {
        let theta: Vec<f64> = start.iter().map(|t| t + rand::Rng::random_range(&mut rng, -0.3..0.3)).collect();
        let (mut g_fast, mut g_slow) = (vec![0.0; d], vec![0.0; d]);
        let lp_fast = fast.log_density_and_gradient(&theta, &mut g_fast).unwrap();
        let lp_slow = slow.log_density_and_gradient(&theta, &mut g_slow).unwrap();
        // Both are sums of the same terms: they differ by rounding only (the adjoint sums in
        // two lanes, the dual path in one), a few ulps of the largest term per data point.
        let scale = 1e-11 * (1.0 + lp_slow.abs());
        assert!((lp_fast - lp_slow).abs() <= scale, "log density {lp_fast} vs {lp_slow}");
        for k in 0..d {
            let tol = 1e-10 * (1.0 + g_slow[k].abs()) * (1.0 + lp_slow.abs().sqrt());
            assert!((g_fast[k] - g_slow[k]).abs() <= tol, "coordinate {k}: {} vs {}", g_fast[k], g_slow[k]);
        }
    }
}

fn xs(n: usize) -> Vec<f64> {
    (0..n).map(|i| 0.05 + i as f64 / n as f64).collect()
}

#[test]
fn arithmetic_and_methods_match_dual_numbers() {
    let xs = xs(37);
    assert_same_gradients(arithmetic(&xs, 0.7), arithmetic_twin(&xs, 0.7), select!["a", "b", "s"], 1);
}

#[test]
fn every_accepted_distribution_matches_dual_numbers() {
    let xs = xs(23);
    assert_same_gradients(distributions(&xs), distributions_twin(&xs), select!["a", "s", "k"], 2);
}

#[test]
fn a_shadowed_argument_is_differentiated() {
    let xs = xs(9);
    let trace = shadowed(&xs, 0.3).simulate(Key::new(3)).unwrap();
    let target = LogDensity::from_trace(&trace, &select!["w"]).unwrap();
    let ys = trace.choices().value("ys").unwrap().as_reals().unwrap().to_vec();
    let w = 0.8;
    let mut g = [0.0];
    target.log_density_and_gradient(&[w], &mut g).unwrap();
    // d/dw [log N(w; 0.3, 1) + Σ log N(y_i; w x_i, 1)] = -(w - 0.3) + Σ (y_i - w x_i) x_i.
    let exact = -(w - 0.3) + xs.iter().zip(&ys).map(|(x, y)| (y - w * x) * x).sum::<f64>();
    assert!((g[0] - exact).abs() <= 1e-12 * (1.0 + exact.abs()), "{} vs {exact}", g[0]);
}

// ---- A plate adjoint whose constant scale differs between points.

/// `ys[i] ~ normal(a * x_i, 1 + x_i)`, written by hand against `Handler::plate_ad` with an
/// adjoint that returns the kernel (y - a x)² and a scale -1/(2 (1 + x)²) that differs from
/// point to point (`#[gen]` never writes one, since a scale of the data point alone is not a
/// `Real`; the handler API allows it): the engine must scale each point's partials by its own
/// scale.
#[derive(Clone)]
struct PerPointScale<'a>(&'a [f64]);

impl<'a> GenerativeFunction for PerPointScale<'a> {
    type Args<R: Real> = ();
    type Ret<R: Real> = ();

    fn name(&self) -> &'static str {
        "per_point_scale"
    }

    fn lift_args<R: Real>(&self, (): &()) {}

    fn run<'c, H: Handler<'c>>(&self, h: &mut H, (): ()) -> Self::Ret<H::Real>
    where
        f64: LhsOps<H::Real> + LhsOps<H::Datum>,
    {
        use gen_runtime::address::{name_key, Site};
        let a = h.sample(Site::name("a", name_key("a")), normal(0.0, 1.0));
        let adjoint = |x: f64, y: &f64, p: &[f64; 1], g: &mut [f64; 1]| {
            let r = y - p[0] * x;
            g[0] += -2.0 * r * x;
            let sd = 1.0 + x;
            LogDensityParts { kernel: r * r, scale: -0.5 / (sd * sd), offset: -sd.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln() }
        };
        // The plain closure: `a * 0.0` makes the scale a `Real` for every engine.
        let _ = h.plate_ad(Site::name("ys", name_key("ys")), self.0, |x| normal(a * x, a * 0.0 + (1.0 + x)), [a], adjoint);
    }
}

#[test]
fn a_scale_that_differs_between_points_scales_each_points_partials() {
    let xs = xs(9);
    let model = Call::new(PerPointScale(&xs), ());
    let trace = model.simulate(Key::new(4)).unwrap();
    let target = LogDensity::from_trace(&trace, &select!["a"]).unwrap();
    let ys = trace.choices().value("ys").unwrap().as_reals().unwrap().to_vec();
    for a in [-0.7, 0.2, 1.3] {
        let mut g = [0.0];
        let lp = target.log_density_and_gradient(&[a], &mut g).unwrap();
        let (mut exact_lp, mut exact_g) = (-0.5 * a * a - 0.5 * (2.0 * std::f64::consts::PI).ln(), -a);
        for (x, y) in xs.iter().zip(&ys) {
            let sd = 1.0 + x;
            exact_lp += -0.5 * ((y - a * x) / sd).powi(2) - sd.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
            exact_g += (y - a * x) * x / (sd * sd);
        }
        assert!((lp - exact_lp).abs() <= 1e-12 * exact_lp.abs().max(1.0), "{lp} vs {exact_lp}");
        assert!((g[0] - exact_g).abs() <= 1e-12 * exact_g.abs().max(1.0), "{} vs {exact_g}", g[0]);
    }
}

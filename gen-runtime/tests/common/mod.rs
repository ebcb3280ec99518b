//! Models and data the integration tests share, written once: the polynomial regression of
//! the benchmarks and the eight schools.

#![allow(dead_code)] // Each test file uses its own subset.

use gen_runtime::prelude::*;

/// Polynomial regression: a, b, c ~ N(0, 1), y_i ~ N(a + b x_i + c x_i², noise²), the
/// observations at "ys" (the benchmark model with a unit prior).
#[gen]
pub fn polynomial(xs: &[f64], noise: f64) {
    let a = normal(0.0, 1.0).at("a");
    let b = normal(0.0, 1.0).at("b");
    let c = normal(0.0, 1.0).at("c");
    plate(xs, |x| normal(a + b * x + c * x * x, noise)).at("ys");
}

/// `n` points evenly spaced on [0, 1], ends included.
pub fn linspace(n: usize) -> Vec<f64> {
    (0..n).map(|i| i as f64 / (n - 1) as f64).collect()
}

/// Eight schools, centred: theta_j ~ Normal(mu, tau) itself, so small tau pinches the thetas
/// into the funnel's neck.
#[gen]
pub fn centred_schools(sigma: &[f64]) {
    let mu = normal(0.0, 5.0).at("mu");
    let tau = half_normal(5.0).at("tau");
    for (j, s) in sigma.iter().enumerate() {
        let theta = normal(mu, tau).at(("theta", j));
        normal(theta, *s).at(("y", j));
    }
}

/// The eight schools' standard errors.
pub const SIGMA: [f64; 8] = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];
/// The eight schools' estimated effects.
pub const Y: [f64; 8] = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];

/// The effects as observations at ("y", j).
pub fn schools_observations() -> ChoiceMap {
    Y.iter().enumerate().map(|(j, y)| (("y", j), *y)).collect()
}

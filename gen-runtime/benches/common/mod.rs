//! What the benches share: the polynomial model, its data, and the handcoded Rust they are
//! measured against.

// Each bench uses part of this module.
#![allow(dead_code)]

use gen_runtime::distributions::HALF_LN_2PI;
use gen_runtime::prelude::*;
use rand_distr::{Distribution as _, StandardNormal};
use rayon::prelude::*;

// The polynomial model (and linspace) of the integration tests: one definition.
#[path = "../../tests/common/mod.rs"]
mod tests_common;
pub use tests_common::{linspace, polynomial};

/// n points on [0, 1] and y = 0.5 - 1.25 x + 2 x² + 0.05 z, z standard normal (key 42).
pub fn data(n: usize) -> (Vec<f64>, Vec<f64>) {
    let xs = linspace(n);
    let mut rng = Key::new(42).rng();
    let ys = xs
        .iter()
        .map(|x| {
            let z: f64 = StandardNormal.sample(&mut rng);
            0.5 - 1.25 * x + 2.0 * x * x + 0.05 * z
        })
        .collect();
    (xs, ys)
}

/// Handcoded importance weights: prior draws, Gaussian log likelihood, rayon over particle
/// chunks of the same size the engine uses.
pub fn handcoded_is(xs: &[f64], ys: &[f64], noise: f64, n_particles: usize, key: Key, out: &mut [f64]) {
    let c0 = -(noise.ln() + HALF_LN_2PI) * xs.len() as f64;
    let inv = 1.0 / noise;
    let chunk = ((1usize << 15) / (xs.len() + 13)).clamp(16, n_particles.max(16));
    out.par_chunks_mut(chunk).enumerate().for_each(|(c, ws)| {
        for (j, w) in ws.iter_mut().enumerate() {
            let mut rng = key.split((c * chunk + j) as u64).rng();
            let a: f64 = StandardNormal.sample(&mut rng);
            let b: f64 = StandardNormal.sample(&mut rng);
            let cc: f64 = StandardNormal.sample(&mut rng);
            let mut ss = 0.0;
            for (x, y) in xs.iter().zip(ys) {
                let r = (y - (a + b * x + cc * x * x)) * inv;
                ss += r * r;
            }
            *w = c0 - 0.5 * ss;
        }
    });
}

/// Handcoded log joint and analytic gradient.
pub fn handcoded_grad(xs: &[f64], ys: &[f64], noise: f64, th: &[f64; 3], g: &mut [f64; 3]) -> f64 {
    let inv2 = 1.0 / (noise * noise);
    let (mut ss, mut g0, mut g1, mut g2) = (0.0, 0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        let r = y - (th[0] + th[1] * x + th[2] * x * x);
        ss += r * r;
        g0 += r;
        g1 += r * x;
        g2 += r * x * x;
    }
    g[0] = g0 * inv2 - th[0];
    g[1] = g1 * inv2 - th[1];
    g[2] = g2 * inv2 - th[2];
    let n = xs.len() as f64;
    -0.5 * ss * inv2 - n * noise.ln() - 0.5 * (th[0] * th[0] + th[1] * th[1] + th[2] * th[2]) - (n + 3.0) * 0.918_938_533_204_672_8
}

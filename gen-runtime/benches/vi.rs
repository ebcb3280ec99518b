//! Where an ADVI step's time goes on the polynomial model: the library's `advi` on the native
//! engine's target, the same `advi` on a target that is the handcoded gradient (the
//! optimizer's and guide's own cost), and a handcoded mean-field ADVI loop (the floor).
//! The suite's `polynomial-vi` rows time the whole call; this bench splits it.
//!
//! Run: `cargo bench -p gen-runtime --bench vi`.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use gen_runtime::inference::{advi, from_fn, AdviConfig, Optimizer};
use gen_runtime::prelude::*;
use gen_runtime::LogDensity;
use rand_distr::StandardNormal;
use std::hint::black_box;

mod common;
use common::{data, handcoded_grad, polynomial};

const STEPS: usize = 2000;
const NOISE: f64 = 1.0;

/// Handcoded mean-field ADVI: the suite's configuration (Adam 0.01, means 0, scales 1 through
/// softplus), `k` draws per step. Returns the fitted means so the work cannot be optimized away.
fn handcoded_advi(xs: &[f64], ys: &[f64], k: usize, key: Key) -> [f64; 3] {
    use rand::Rng as _;
    let (lr, beta1, beta2, epsilon) = (0.01, 0.9_f64, 0.999_f64, 1e-8);
    let softplus = |x: f64| if x > 30.0 { x } else { x.exp().ln_1p() };
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    let mut rng = key.rng();
    let raw = 1f64.exp_m1().ln();
    let mut params = [0.0, 0.0, 0.0, raw, raw, raw];
    let (mut m, mut v) = ([0.0; 6], [0.0; 6]);
    let (mut b1, mut b2) = (1.0, 1.0);
    for _ in 0..STEPS {
        let scale: [f64; 3] = std::array::from_fn(|i| softplus(params[3 + i]));
        let dscale: [f64; 3] = std::array::from_fn(|i| sigmoid(params[3 + i]));
        let mut grad = [0.0; 6];
        for _ in 0..k {
            let eps: [f64; 3] = std::array::from_fn(|_| rng.sample(StandardNormal));
            let z: [f64; 3] = std::array::from_fn(|i| params[i] + scale[i] * eps[i]);
            let mut g = [0.0; 3];
            black_box(handcoded_grad(xs, ys, NOISE, &z, &mut g));
            for i in 0..3 {
                grad[i] += g[i];
                grad[3 + i] += (g[i] * eps[i] + 1.0 / scale[i]) * dscale[i];
            }
        }
        (b1, b2) = (b1 * beta1, b2 * beta2);
        for j in 0..6 {
            let g = grad[j] / k as f64;
            m[j] = beta1 * m[j] + (1.0 - beta1) * g;
            v[j] = beta2 * v[j] + (1.0 - beta2) * g * g;
            params[j] += lr * (m[j] / (1.0 - b1)) / ((v[j] / (1.0 - b2)).sqrt() + epsilon);
        }
    }
    [params[0], params[1], params[2]]
}

fn fits(c: &mut Criterion) {
    let mut group = c.benchmark_group("advi_2000_steps");
    group.sample_size(20);
    for n in [10usize, 100] {
        let (xs, ys) = data(n);
        let obs = choicemap! { "ys" => ys.clone() };
        let engine = LogDensity::new(&polynomial(&xs, NOISE), &obs, &select!["a", "b", "c"], Key::new(0)).unwrap();
        let handcoded_target = from_fn(3, |th: &[f64], g: &mut [f64]| {
            let mut g3 = [0.0; 3];
            let lp = handcoded_grad(&xs, &ys, NOISE, th.try_into().unwrap(), &mut g3);
            g.copy_from_slice(&g3);
            Ok(lp)
        });
        for k in [1usize, 10] {
            let config = AdviConfig { num_steps: STEPS, num_samples: k, optimizer: Optimizer::adam(0.01), ..AdviConfig::default() };
            let id = format!("n{n}_k{k}");
            group.bench_function(BenchmarkId::new("handcoded", &id), |b| b.iter(|| black_box(handcoded_advi(&xs, &ys, k, Key::new(1)))));
            group.bench_function(BenchmarkId::new("advi_handcoded_gradient", &id), |b| {
                b.iter(|| black_box(advi(&handcoded_target, &config, Key::new(1)).unwrap()));
            });
            group.bench_function(BenchmarkId::new("advi_native", &id), |b| b.iter(|| black_box(advi(&engine, &config, Key::new(1)).unwrap())));
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = fits
}
criterion_main!(benches);

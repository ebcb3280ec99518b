//! The native engine against handcoded Rust, in one run: importance log weights and one
//! log-joint gradient of the polynomial model. The handcoded versions are written here, in
//! the same file, so both are compiled and measured under identical conditions.
//!
//! Run: `cargo bench -p gen-runtime --bench native`.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use gen_runtime::inference::{hmc, HmcConfig};
use gen_runtime::prelude::*;
use gen_runtime::{importance_log_weights, LogDensity};
use rand_distr::{Distribution as _, StandardNormal};
use std::hint::black_box;

mod common;
use common::{data, handcoded_grad, handcoded_is, polynomial};

/// Handcoded static HMC with the analytic gradient: the benchmark configuration (unit mass,
/// `warmup + samples` iterations of `leapfrog` steps of size `eps`, from zeros). Returns the
/// number of accepted proposals so the work cannot be optimized away.
fn handcoded_hmc(xs: &[f64], ys: &[f64], noise: f64, eps: f64, leapfrog: usize, iterations: usize, key: Key) -> usize {
    let mut rng = key.rng();
    let mut th = [0.0; 3];
    let mut g = [0.0; 3];
    let mut lp = handcoded_grad(xs, ys, noise, &th, &mut g);
    let mut accepted = 0;
    for _ in 0..iterations {
        let mut p = [0.0; 3];
        for v in &mut p {
            *v = StandardNormal.sample(&mut rng);
        }
        let h0 = lp - 0.5 * p.iter().map(|v| v * v).sum::<f64>();
        let (mut q, mut gq) = (th, g);
        let mut lq = lp;
        for _ in 0..leapfrog {
            for k in 0..3 {
                p[k] += 0.5 * eps * gq[k];
                q[k] += eps * p[k];
            }
            lq = handcoded_grad(xs, ys, noise, &q, &mut gq);
            for k in 0..3 {
                p[k] += 0.5 * eps * gq[k];
            }
        }
        let h1 = lq - 0.5 * p.iter().map(|v| v * v).sum::<f64>();
        let u: f64 = rand::Rng::random(&mut rng);
        if (h1 - h0).is_finite() && u.ln() < h1 - h0 {
            (th, g, lp) = (q, gq, lq);
            accepted += 1;
        }
    }
    accepted
}

fn full_hmc(c: &mut Criterion) {
    let mut group = c.benchmark_group("hmc_1500x20");
    group.sample_size(10);
    for n in [100usize, 1000] {
        let (xs, ys) = data(n);
        let obs = choicemap! { "ys" => ys.clone() };
        group.bench_function(BenchmarkId::new("handcoded", n), |b| {
            b.iter(|| black_box(handcoded_hmc(&xs, &ys, 0.05, 0.01, 20, 1500, Key::new(3))));
        });
        let target = LogDensity::new(&polynomial(&xs, 0.05), &obs, &select!["a", "b", "c"], Key::new(0)).unwrap();
        let config = HmcConfig::default();
        group.bench_function(BenchmarkId::new("native", n), |b| {
            b.iter(|| black_box(hmc(&target, &config, Key::new(3)).unwrap()));
        });
    }
    group.finish();
}

fn importance(c: &mut Criterion) {
    let mut group = c.benchmark_group("importance_log_weights");
    for (n_particles, n) in [(1000usize, 50usize), (10_000, 1000)] {
        let (xs, ys) = data(n);
        let obs = choicemap! { "ys" => ys.clone() };
        let id = format!("N={n_particles},n={n}");
        group.bench_function(BenchmarkId::new("handcoded", &id), |b| {
            let mut out = vec![0.0; n_particles];
            b.iter(|| handcoded_is(&xs, &ys, 0.05, n_particles, Key::new(1), black_box(&mut out)));
        });
        group.bench_function(BenchmarkId::new("native", &id), |b| {
            let call = polynomial(&xs, 0.05);
            b.iter(|| black_box(importance_log_weights(&call, &obs, n_particles, Key::new(1)).unwrap()));
        });
    }
    group.finish();
}

fn gradient(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_joint_gradient");
    for n in [10usize, 100, 1000] {
        let (xs, ys) = data(n);
        let obs = choicemap! { "ys" => ys.clone() };
        let th = [0.4, -1.0, 1.8];
        group.bench_function(BenchmarkId::new("handcoded", n), |b| {
            let mut g = [0.0; 3];
            b.iter(|| black_box(handcoded_grad(black_box(&xs), &ys, 0.05, black_box(&th), &mut g)));
        });
        let target = LogDensity::new(&polynomial(&xs, 0.05), &obs, &select!["a", "b", "c"], Key::new(0)).unwrap();
        group.bench_function(BenchmarkId::new("native", n), |b| {
            let mut g = [0.0; 3];
            b.iter(|| black_box(target.log_density_and_gradient(black_box(&th), &mut g).unwrap()));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = importance, gradient, full_hmc
}
criterion_main!(benches);

//! The Burn engine (burn-flex, CPU) against handcoded Rust and the native engine, in one run:
//! importance log weights of the polynomial model, and one batched gradient of the log joint
//! for many chains, with the gradient from the engine's own tape and from Burn's autodiff.
//! The engine runs fused (its CPU default) and unfused (every step a burn-flex operation, as
//! on a GPU).
//!
//! Run: `cargo bench -p gen-runtime --bench burn`.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use burn_autodiff::Autodiff;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use gen_runtime::burn::{Cpu, Engine};
use gen_runtime::prelude::*;
use gen_runtime::{importance_log_weights, LogDensity};
use rayon::prelude::*;
use std::hint::black_box;

mod common;
use common::{data, handcoded_grad, handcoded_is, polynomial};

fn importance(c: &mut Criterion) {
    let mut group = c.benchmark_group("burn_importance_log_weights");
    let engine = Engine::<Cpu>::default();
    for (n_particles, n) in [(1000usize, 50usize), (10_000, 1000)] {
        let (xs, ys) = data(n);
        let obs = choicemap! { "ys" => ys.clone() };
        let call = polynomial(&xs, 0.05);
        let id = format!("N={n_particles},n={n}");
        group.bench_function(BenchmarkId::new("handcoded", &id), |b| {
            let mut out = vec![0.0; n_particles];
            b.iter(|| handcoded_is(&xs, &ys, 0.05, n_particles, Key::new(1), black_box(&mut out)));
        });
        group.bench_function(BenchmarkId::new("native", &id), |b| {
            b.iter(|| black_box(importance_log_weights(&call, &obs, n_particles, Key::new(1)).unwrap()));
        });
        group.bench_function(BenchmarkId::new("burn-flex", &id), |b| {
            b.iter(|| black_box(engine.importance_log_weights(&call, &obs, n_particles, Key::new(1)).unwrap()));
        });
        let unfused = engine.clone().with_fusion(false);
        group.bench_function(BenchmarkId::new("burn-flex unfused", &id), |b| {
            b.iter(|| black_box(unfused.importance_log_weights(&call, &obs, n_particles, Key::new(1)).unwrap()));
        });
    }
    group.finish();
}

fn batched_gradient(c: &mut Criterion) {
    let mut group = c.benchmark_group("burn_batched_gradient");
    let chains = 1000;
    for n in [100usize, 1000] {
        let (xs, ys) = data(n);
        let obs = choicemap! { "ys" => ys.clone() };
        let thetas: Vec<f64> = (0..chains * 3).map(|k| [0.4, -1.0, 1.8][k % 3] + 0.01 * (k % 17) as f64).collect();
        let id = format!("chains={chains},n={n}");
        group.bench_function(BenchmarkId::new("handcoded", &id), |b| {
            let mut grads = vec![0.0; chains * 3];
            b.iter(|| {
                grads.par_chunks_mut(3).zip(thetas.par_chunks(3)).for_each(|(g, th)| {
                    let mut out = [0.0; 3];
                    black_box(handcoded_grad(&xs, &ys, 0.05, &[th[0], th[1], th[2]], &mut out));
                    g.copy_from_slice(&out);
                });
            });
        });
        let target = LogDensity::new(&polynomial(&xs, 0.05), &obs, &select!["a", "b", "c"], Key::new(0)).unwrap();
        group.bench_function(BenchmarkId::new("native", &id), |b| {
            let mut grads = vec![0.0; chains * 3];
            b.iter(|| {
                grads.par_chunks_mut(3).zip(thetas.par_chunks(3)).for_each(|(g, th)| {
                    black_box(target.log_density_and_gradient(th, g).unwrap());
                });
            });
        });
        group.bench_function(BenchmarkId::new("burn-flex tape", &id), |b| {
            let engine = Engine::<Cpu>::default();
            let mut grads = vec![0.0; chains * 3];
            b.iter(|| black_box(engine.log_density_and_gradient(&target, &thetas, &mut grads).unwrap()));
        });
        group.bench_function(BenchmarkId::new("burn-flex tape unfused", &id), |b| {
            let engine = Engine::<Cpu>::default().with_fusion(false);
            let mut grads = vec![0.0; chains * 3];
            b.iter(|| black_box(engine.log_density_and_gradient(&target, &thetas, &mut grads).unwrap()));
        });
        group.bench_function(BenchmarkId::new("burn-flex autodiff", &id), |b| {
            let engine = Engine::<Autodiff<Cpu>>::default();
            let mut grads = vec![0.0; chains * 3];
            b.iter(|| black_box(engine.log_density_and_gradient_burn_autodiff(&target, &thetas, &mut grads).unwrap()));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = importance, batched_gradient
}
criterion_main!(benches);

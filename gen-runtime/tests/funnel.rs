//! NUTS on the centred eight schools, a funnel: the sampler should struggle there as often as
//! Stan does, and no more.
//!
//! Reference: Stan 2.35.0 (pystan 3.10 / httpstan 4.13) on the same model and priors, 4 chains
//! × (1000 warm-up + 1000 draws), adapt_delta 0.95, seeds 1..=800, run by
//! `comparisons/funnel_stan.py` into `tests/data/funnel_stan_delta0.95.txt`; this sampler over
//! the same 800 seeds by `print_runs`; both compared, and the bounds below derived, by
//! `comparisons/funnel_compare.py`. What the two sets of runs show, and what the tolerances
//! rest on:
//!
//! - The funnel's neck traps a chain now and then, in Stan too: 37% of Stan's runs have a
//!   chain whose mean acceptance statistic after warm-up is below 0.8, 3% one below 0.5, and
//!   its worst chain averaged 0.000 (seed 474: 991 of 1000 draws divergent at step size 0.078,
//!   the other chains 0.79 to 0.98). So a bound on every chain's acceptance would fail on Stan
//!   itself; the test bounds statistics over several runs instead.
//! - A run's divergence count is mostly that of its worst chain, so it ranges from 8 to 1049
//!   over Stan's seeds (6 to 859 here). Seeds 4, 5 and 6 give Stan 48, 20 and 61 and this
//!   sampler 230, 6 and 438, but a seed drives different random streams in the two, and over
//!   800 seeds each their distributions agree: mean divergences per run 96.3 in Stan, 97.8
//!   here; two-sample Kolmogorov-Smirnov p-values 0.94 (divergences per run), 0.50
//!   (per chain), 0.24 (post-warm-up step size), 0.98 (mean acceptance); and over seeds
//!   1..=200, p > 0.3 for the adapted inverse metric's entries for mu, log tau and the thetas.
//! - The bounds are the 0.1% and 99.9% points of each statistic over 100 000 groups of 8 runs
//!   drawn from Stan's 800 with replacement, so a sampler that behaves as Stan does fails one
//!   of them with probability below 1% whatever its random stream.

use gen_runtime::inference::NutsConfig;
use gen_runtime::prelude::*;

mod common;
use common::{centred_schools, schools_observations, SIGMA, Y};

/// CmdStan's defaults but for adapt_delta, as the reference ran.
fn config(target_accept: f64) -> NutsConfig {
    NutsConfig { target_accept, ..NutsConfig::default() }
}

/// What one run of 4 chains did after warm-up.
struct Run {
    divergences: Vec<usize>,
    step_sizes: Vec<f64>,
    mean_accept: Vec<f64>,
}

fn run(seed: u64, target_accept: f64) -> Run {
    let obs = schools_observations();
    let model = centred_schools(&SIGMA);
    let posterior = model.condition(&obs).nuts(&config(target_accept), Key::new(seed)).unwrap();
    let chains = &posterior.samples().unwrap().chains;
    Run {
        divergences: chains.iter().map(|c| c.divergences).collect(),
        step_sizes: chains.iter().map(|c| c.step_size).collect(),
        mean_accept: chains.iter().map(|c| c.mean_accept_prob).collect(),
    }
}

#[test]
fn centred_eight_schools_at_target_accept_0_95_fares_as_stan_does() {
    // Seeds 1..=8 include 4, 5 and 6, the runs the issue compared with Stan's.
    let runs: Vec<Run> = (1..=8).map(|seed| run(seed, 0.95)).collect();
    let report: Vec<String> = runs
        .iter()
        .zip(1..)
        .map(|(r, seed)| {
            format!("seed {seed}: divergences {:?} step sizes {:.4?} mean accept {:.3?}", r.divergences, r.step_sizes, r.mean_accept)
        })
        .collect();
    let report = report.join("\n");

    let divergences: usize = runs.iter().flat_map(|r| &r.divergences).sum();
    let mut step_sizes: Vec<f64> = runs.iter().flat_map(|r| r.step_sizes.iter().copied()).collect();
    step_sizes.sort_by(f64::total_cmp);
    let median_step_size = 0.5 * (step_sizes[15] + step_sizes[16]);
    let accept: Vec<f64> = runs.iter().flat_map(|r| r.mean_accept.iter().copied()).collect();
    let chains_at_0_8 = accept.iter().filter(|&&a| a >= 0.8).count();
    let mean_accept = accept.iter().sum::<f64>() / accept.len() as f64;

    // Stan's 0.1% and 99.9% points over groups of 8 runs: total divergences 287 to 2072
    // (median 725), median step size 0.081 to 0.142 (0.112), chains with mean acceptance at
    // least 0.8: 22 to 32 of 32 (29), mean acceptance 0.830 to 0.930 (0.892). At
    // adapt_delta 0.8 Stan's median step size is 0.199: a sampler that ignored the target
    // fails three of these (this one at 0.8 on these seeds: 0.186, 17 chains, 0.786).
    assert!(divergences <= 2072, "{divergences} divergences in 8 runs, Stan's 99.9% point is 2072\n{report}");
    assert!((0.081..=0.142).contains(&median_step_size), "median step size {median_step_size}\n{report}");
    assert!(chains_at_0_8 >= 22, "{chains_at_0_8} of 32 chains with mean acceptance >= 0.8\n{report}");
    assert!((0.830..=0.930).contains(&mean_accept), "mean acceptance {mean_accept}\n{report}");
}

/// The #[gen] model above is the reference's Stan program: the same log density, up to a
/// constant, and gradient on (mu, log tau, theta).
#[test]
fn the_model_is_the_centred_eight_schools() {
    fn by_hand(q: &[f64], g: &mut [f64]) -> f64 {
        let (mu, log_tau) = (q[0], q[1]);
        let tau = log_tau.exp();
        // Normal(0, 5) on mu, HalfNormal(5) on tau with the Jacobian of tau = exp(log tau).
        let mut lp = -0.5 * (mu / 5.0).powi(2) - 0.5 * (tau / 5.0).powi(2) + log_tau;
        g[0] = -mu / 25.0;
        g[1] = 1.0 - tau * tau / 25.0;
        for j in 0..8 {
            let theta = q[2 + j];
            let z = (theta - mu) / tau;
            lp += -0.5 * z * z - log_tau - 0.5 * ((Y[j] - theta) / SIGMA[j]).powi(2);
            g[0] += z / tau;
            g[1] += z * z - 1.0;
            g[2 + j] = -z / tau + (Y[j] - theta) / (SIGMA[j] * SIGMA[j]);
        }
        lp
    }
    let obs = schools_observations();
    let model = centred_schools(&SIGMA);
    let density = model.condition(&obs).log_density(Key::new(0)).unwrap();
    let (mut grad, mut expected) = (vec![0.0; 10], vec![0.0; 10]);
    let mut offset = None;
    for k in 0..20 {
        // Points spread over (-3, 3), log tau down to -5 (the neck).
        let q: Vec<f64> = (0..10).map(|i| 3.0 * ((k * 10 + i) as f64 * 0.7311).sin() - if i == 1 { 2.0 } else { 0.0 }).collect();
        let lp = density.log_density_and_gradient(&q, &mut grad).unwrap();
        let lp_by_hand = by_hand(&q, &mut expected);
        let offset = *offset.get_or_insert(lp - lp_by_hand);
        assert!((lp - lp_by_hand - offset).abs() < 1e-9, "at {q:?}: {lp} vs {lp_by_hand} + {offset}");
        for (a, b) in grad.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "at {q:?}: {grad:?} vs {expected:?}");
        }
    }
}

/// Prints each run's per-chain divergences, step sizes and mean acceptance in
/// `comparisons/funnel_stan.py`'s format, for the seeds in `FUNNEL_SEEDS` (comma-separated,
/// default 1,2,3) at adapt_delta `FUNNEL_DELTA` (default 0.95); `FUNNEL_METRIC=1` adds each
/// chain's inverse metric.
///
/// `cargo test --release -p gen-runtime --test funnel -- --ignored --exact print_runs --nocapture`
#[test]
#[ignore = "prints the comparison with Stan; run by hand"]
fn print_runs() {
    let seeds: Vec<u64> =
        std::env::var("FUNNEL_SEEDS").unwrap_or_else(|_| "1,2,3".into()).split(',').map(|s| s.trim().parse().unwrap()).collect();
    let delta: f64 = std::env::var("FUNNEL_DELTA").map_or(0.95, |s| s.parse().unwrap());
    let obs = schools_observations();
    let model = centred_schools(&SIGMA);
    for seed in seeds {
        let posterior = model.condition(&obs).nuts(&config(delta), Key::new(seed)).unwrap();
        let chains = &posterior.samples().unwrap().chains;
        let divergences: Vec<usize> = chains.iter().map(|c| c.divergences).collect();
        let step_sizes: Vec<String> = chains.iter().map(|c| format!("{:.4}", c.step_size)).collect();
        let accept: Vec<String> = chains.iter().map(|c| format!("{:.3}", c.mean_accept_prob)).collect();
        println!(
            "seed {seed}: div {} {divergences:?} eps [{}] accept [{}]",
            posterior.divergences(),
            step_sizes.join(", "),
            accept.join(", ")
        );
        if std::env::var("FUNNEL_METRIC").is_ok() {
            for c in chains {
                let metric: Vec<String> = c.inv_mass_matrix.iter().map(|v| format!("{v:.3}")).collect();
                println!("   inv_metric [{}]", metric.join(", "));
            }
        }
    }
}

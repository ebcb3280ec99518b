//! HMC, NUTS and MALA against targets with known moments.
//!
//! Every statistical check has a fixed seed and a tolerance from Monte Carlo error: means within
//! 4 MCSE (Vehtari et al. 2021, as `diagnostics::mcse_mean` computes it), standard deviations
//! within 10% (their relative Monte Carlo error is about 1/sqrt(2 ESS), under 3% here).

use gen_runtime::address::{Address, Part};
use gen_runtime::diagnostics::{ess_bulk, mcse_mean, rank_normalized_split_rhat};
use gen_runtime::inference::{from_fn, hmc, mala, nuts, HmcConfig, InferenceError, Init, MalaConfig, NutsConfig, Samples, Target};
use gen_runtime::{GenError, Key};
use rand::Rng;
use rand_distr::StandardNormal;

mod common;
use common::{linspace};

/// A multivariate normal N(mean, covariance) given by its mean and precision.
struct Gaussian {
    mean: Vec<f64>,
    precision: Vec<Vec<f64>>,
}

impl Target for Gaussian {
    fn dim(&self) -> usize {
        self.mean.len()
    }

    fn log_density_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> Result<f64, GenError> {
        let d = self.mean.len();
        let mut logp = 0.0;
        for i in 0..d {
            let row: f64 = (0..d).map(|j| self.precision[i][j] * (theta[j] - self.mean[j])).sum();
            grad[i] = -row;
            logp -= 0.5 * (theta[i] - self.mean[i]) * row;
        }
        Ok(logp)
    }
}

/// The inverse of a symmetric 3 × 3 matrix by cofactors.
fn inverse3(m: &[[f64; 3]; 3]) -> Vec<Vec<f64>> {
    let c = |i: usize, j: usize| {
        let (r0, r1) = ((i + 1) % 3, (i + 2) % 3);
        let (c0, c1) = ((j + 1) % 3, (j + 2) % 3);
        m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]
    };
    let det: f64 = (0..3).map(|j| m[0][j] * c(0, j)).sum();
    (0..3).map(|i| (0..3).map(|j| c(j, i) / det).collect()).collect()
}

const MEAN: [f64; 3] = [1.0, -2.0, 0.5];
const SD: [f64; 3] = [1.0, 2.0, 0.5];

/// d = 3, correlations 0.6, -0.3 and 0.2, scales 0.5 to 2.
fn correlated_gaussian() -> Gaussian {
    let corr = [[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]];
    let mut cov = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            cov[i][j] = corr[i][j] * SD[i] * SD[j];
        }
    }
    Gaussian { mean: MEAN.to_vec(), precision: inverse3(&cov) }
}

fn isotropic_gaussian(dim: usize, sd: f64) -> Gaussian {
    let precision = (0..dim).map(|i| (0..dim).map(|j| if i == j { 1.0 / (sd * sd) } else { 0.0 }).collect()).collect();
    Gaussian { mean: vec![0.0; dim], precision }
}

/// Each coordinate's mean within 4 MCSE of the truth and its sd within 10%.
fn assert_moments(samples: &Samples, mean: &[f64], sd: &[f64]) {
    for (i, (&mu, &sigma)) in mean.iter().zip(sd).enumerate() {
        let column = samples.column(i);
        let mcse = mcse_mean(&column).unwrap();
        let estimate = samples.mean(i);
        assert!((estimate - mu).abs() < 4.0 * mcse, "coordinate {i}: mean {estimate} vs {mu}, mcse {mcse}");
        let sd_estimate = samples.sd(i);
        assert!((sd_estimate / sigma - 1.0).abs() < 0.1, "coordinate {i}: sd {sd_estimate} vs {sigma}");
    }
}

fn assert_finite(samples: &Samples) {
    for chain in &samples.chains {
        assert!(chain.draws.iter().all(|x| x.is_finite()), "non-finite draw");
        assert!(chain.log_density.iter().all(|x| x.is_finite()), "non-finite log density");
        assert_eq!(chain.draws.len(), samples.num_samples * samples.dim);
    }
}

/// Dual averaging reached the target acceptance statistic `delta` in the last mass matrix window
/// of a 1000-iteration warm-up, [450, 950).
///
/// Over t iterations since a restart, the recursion gives mean(δ − a) = s̄ₜ (t + t₀) / t with
/// s̄ₜ = γ (μ − log εₜ) / √t, so the mean acceptance misses δ by γ (t + t₀) / t^{3/2} · log(10 ε₀ / εₜ)
/// = 0.0023 log(10 ε₀ / εₜ) for t = 500: under 0.02 unless the step size moved e⁸-fold.
fn assert_adapted_acceptance(warmup_accept_prob: &[f64], delta: f64) {
    assert_eq!(warmup_accept_prob.len(), 1000);
    let window = &warmup_accept_prob[450..950];
    let mean = window.iter().sum::<f64>() / window.len() as f64;
    assert!((mean - delta).abs() < 0.02, "warm-up acceptance {mean} vs target {delta}");
}

/// The adapted inverse mass matrix estimates the marginal variances of the correlated Gaussian.
///
/// It comes from the 500 warm-up draws of the last window, about 200 effective draws for the
/// squares here, so each entry has a relative sd of about √(2/200) = 0.1: a factor of 1.5 is 4
/// sds. The identity, a factor of 4 off in two coordinates, fails.
fn assert_adapted_metric(inv_mass_matrix: &[f64]) {
    for (v, s) in inv_mass_matrix.iter().zip(SD) {
        assert!((v / (s * s)).ln().abs() < 1.5f64.ln(), "inverse mass {v} vs variance {}", s * s);
    }
}

#[test]
fn nuts_recovers_a_correlated_gaussian() {
    let target = correlated_gaussian();
    let samples = nuts(&target, &NutsConfig::default(), Key::new(2024)).unwrap();
    assert_eq!(samples.num_chains(), 4);
    assert_finite(&samples);
    assert_moments(&samples, &MEAN, &SD);
    for i in 0..3 {
        let rhat = rank_normalized_split_rhat(&samples.column(i)).unwrap();
        assert!(rhat < 1.01, "coordinate {i}: R-hat {rhat}");
        assert!(ess_bulk(&samples.column(i)).unwrap() > 1000.0);
    }
    assert_eq!(samples.divergences(), 0);
    for chain in &samples.chains {
        assert_adapted_acceptance(&chain.warmup_accept_prob, 0.8);
        // The draws' acceptance is higher, as in Stan (its Bernoulli example reports 0.94 for
        // a target of 0.8): exp(x̄) averages step sizes that fluctuate into the cliff.
        assert!(chain.mean_accept_prob > 0.75 && chain.mean_accept_prob < 0.97, "{}", chain.mean_accept_prob);
        assert_adapted_metric(&chain.inv_mass_matrix);
        assert!(chain.tree_depth.iter().all(|&d| (1..=10).contains(&d)));
        assert!(chain.step_size > 0.1 && chain.step_size < 2.0, "step size {}", chain.step_size);
    }
}

#[test]
fn hmc_with_a_fixed_step_recovers_a_correlated_gaussian() {
    let target = correlated_gaussian();
    let config = HmcConfig { step_size: 0.25, num_leapfrog: 16, num_samples: 2000, num_chains: 4, ..HmcConfig::default() };
    let samples = hmc(&target, &config, Key::new(7)).unwrap();
    assert_finite(&samples);
    assert_moments(&samples, &MEAN, &SD);
    for i in 0..3 {
        let rhat = rank_normalized_split_rhat(&samples.column(i)).unwrap();
        assert!(rhat < 1.01, "coordinate {i}: R-hat {rhat}");
    }
    for chain in &samples.chains {
        assert_eq!(chain.step_size, 0.25);
        assert_eq!(chain.inv_mass_matrix, [1.0, 1.0, 1.0]);
        assert!(chain.num_leapfrog.iter().all(|&n| n == 16));
        assert_eq!(chain.divergences, 0);
        // With exp(-ΔH) the acceptance statistic, the accepted fraction estimates its mean.
        let rate = chain.accepted as f64 / config.num_samples as f64;
        assert!((rate - chain.mean_accept_prob).abs() < 0.05, "{rate} vs {}", chain.mean_accept_prob);
    }
}

#[test]
fn hmc_adaptation_reaches_the_target_acceptance() {
    let target = correlated_gaussian();
    let config = HmcConfig {
        num_warmup: 1000,
        num_samples: 1000,
        step_size: 1.0,
        // Few steps: a fixed trajectory length resonates with a Gaussian's periods (an orbit
        // returning to its start never mixes), which step size jitter would otherwise fix.
        num_leapfrog: 3,
        adapt_step_size: true,
        adapt_mass_matrix: true,
        num_chains: 4,
        init: Init::STAN,
        ..HmcConfig::default()
    };
    let samples = hmc(&target, &config, Key::new(99)).unwrap();
    assert_finite(&samples);
    assert_moments(&samples, &MEAN, &SD);
    for chain in &samples.chains {
        assert_adapted_acceptance(&chain.warmup_accept_prob, 0.65);
        assert!(chain.mean_accept_prob > 0.6, "acceptance {}", chain.mean_accept_prob);
        assert_ne!(chain.step_size, 1.0);
        assert_adapted_metric(&chain.inv_mass_matrix);
    }
}

#[test]
fn hmc_with_too_large_a_step_rejects_everything_without_nan() {
    // Precision 1e6: ε √λ_max = 0.01 · 1000 = 10 > 2, so the leapfrog map is unstable and the
    // energy error explodes on every trajectory.
    let target = isotropic_gaussian(3, 1e-3);
    let config = HmcConfig { num_chains: 2, ..HmcConfig::default() };
    let samples = hmc(&target, &config, Key::new(1)).unwrap();
    assert_finite(&samples);
    for chain in &samples.chains {
        assert_eq!(chain.accepted, 0);
        assert_eq!(chain.mean_accept_prob, 0.0);
        assert_eq!(chain.divergences, config.num_samples);
        assert_eq!(chain.warmup_divergences, config.num_warmup);
        assert!(chain.draws.iter().all(|&x| x == 0.0));
    }
    assert_eq!(samples.accept_rate(), 0.0);
}

#[test]
fn nuts_counts_divergences_on_the_funnel_without_nan() {
    // Neal's funnel, centred: v ~ N(0, 3²), x_i ~ N(0, e^v); its neck defeats any single step
    // size.
    let target = from_fn(4, |theta: &[f64], grad: &mut [f64]| {
        let v = theta[0];
        let xs = &theta[1..];
        let s2: f64 = xs.iter().map(|x| x * x).sum();
        let e = (-v).exp();
        grad[0] = -v / 9.0 - 1.5 + 0.5 * s2 * e;
        for (g, x) in grad[1..].iter_mut().zip(xs) {
            *g = -x * e;
        }
        Ok(-v * v / 18.0 - 1.5 * v - 0.5 * s2 * e)
    });
    let config = NutsConfig { num_warmup: 500, num_samples: 500, ..NutsConfig::default() };
    let samples = nuts(&target, &config, Key::new(5)).unwrap();
    assert_finite(&samples);
    assert!(samples.divergences() > 0, "no divergences on the funnel");
    for chain in &samples.chains {
        for (i, &divergent) in chain.divergent.iter().enumerate() {
            assert!(!divergent || chain.num_leapfrog[i] >= 1);
        }
    }
}

#[test]
fn mala_recovers_an_isotropic_gaussian() {
    let target = isotropic_gaussian(2, 1.5);
    let config = MalaConfig { num_samples: 20_000, step_size: 1.2, num_chains: 2, ..MalaConfig::default() };
    let samples = mala(&target, &config, Key::new(3)).unwrap();
    assert_finite(&samples);
    assert_moments(&samples, &[0.0, 0.0], &[1.5, 1.5]);
    for chain in &samples.chains {
        let rate = chain.accepted as f64 / config.num_samples as f64;
        assert!((rate - chain.mean_accept_prob).abs() < 0.03);
        assert!(chain.mean_accept_prob > 0.5 && chain.mean_accept_prob < 1.0);
    }
}

#[test]
fn mala_adaptation_reaches_the_target_acceptance() {
    let target = correlated_gaussian();
    let config = MalaConfig { num_warmup: 2000, num_samples: 5000, adapt_step_size: true, num_chains: 2, ..MalaConfig::default() };
    let samples = mala(&target, &config, Key::new(8)).unwrap();
    for chain in &samples.chains {
        assert!((chain.mean_accept_prob - 0.574).abs() < 0.1, "acceptance {}", chain.mean_accept_prob);
    }
}

#[test]
fn the_benchmark_configuration_matches_the_exact_polynomial_posterior() {
    // The correctness configuration of the polynomial benchmark: noise sd 1, n = 100,
    // a, b, c ~ N(0, 1); static HMC with step 0.01 and 20 leapfrog steps from zeros.
    let n = 100;
    let xs: Vec<f64> = linspace(n);
    let mut rng = Key::new(42).rng();
    let ys: Vec<f64> = xs.iter().map(|x| 0.5 - 1.25 * x + 2.0 * x * x + rng.sample::<f64, _>(StandardNormal)).collect();
    let exact = gen_runtime::exact::polynomial(&xs, &ys, 2, 1.0, 1.0).unwrap();
    let target = from_fn(3, |theta: &[f64], grad: &mut [f64]| {
        let (a, b, c) = (theta[0], theta[1], theta[2]);
        let (mut logp, mut g) = (-0.5 * (a * a + b * b + c * c), [-a, -b, -c]);
        for (&x, &y) in xs.iter().zip(&ys) {
            let r = y - (a + x * (b + c * x));
            logp -= 0.5 * r * r;
            g[0] += r;
            g[1] += r * x;
            g[2] += r * x * x;
        }
        grad.copy_from_slice(&g);
        Ok(logp)
    });
    // The benchmark's step explores this posterior slowly: check the exact answer with NUTS
    // and that the benchmark configuration runs as configured.
    let samples = nuts(&target, &NutsConfig::default(), Key::new(42)).unwrap();
    assert_moments(&samples, &exact.mean, &exact.sd());
    let samples = hmc(&target, &HmcConfig::default(), Key::new(42)).unwrap();
    let chain = &samples.chains[0];
    assert_eq!(chain.draws.len(), 3000);
    assert_eq!(chain.gradient_evaluations, 1 + 1500 * 20);
    assert!(chain.mean_accept_prob > 0.99 && chain.divergences == 0);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let target = correlated_gaussian();
    let config = NutsConfig { num_warmup: 200, num_samples: 200, ..NutsConfig::default() };
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let three_threads = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    let a = one_thread.install(|| nuts(&target, &config, Key::new(6))).unwrap();
    let b = three_threads.install(|| nuts(&target, &config, Key::new(6))).unwrap();
    assert_eq!(a, b);
    // Chains draw from different streams.
    assert_ne!(a.chains[0].draws, a.chains[1].draws);
    // A different key gives different draws.
    let c = nuts(&target, &config, Key::new(7)).unwrap();
    assert_ne!(a.chains[0].draws, c.chains[0].draws);
}

#[test]
fn recoverable_model_errors_are_rejections() {
    // A half-normal on x >= 0 without a transform: a proposal below 0 is outside the support.
    let target = from_fn(1, |theta: &[f64], grad: &mut [f64]| {
        if theta[0] < 0.0 {
            return Err(GenError::OutsideSupport {
                address: Address(vec![Part::from("x")]),
                distribution: "half_normal",
                value: theta[0].to_string(),
                support: "[0, inf)".into(),
            });
        }
        grad[0] = -theta[0];
        Ok(-0.5 * theta[0] * theta[0])
    });
    let config = NutsConfig { init: Init::Given(vec![0.5]), num_samples: 2000, ..NutsConfig::default() };
    let samples = nuts(&target, &config, Key::new(10)).unwrap();
    assert_finite(&samples);
    assert!(samples.chains.iter().all(|c| c.draws.iter().all(|&x| x >= 0.0)));
    let half_normal_mean = (2.0 / std::f64::consts::PI).sqrt();
    let mcse = mcse_mean(&samples.column(0)).unwrap();
    assert!((samples.mean(0) - half_normal_mean).abs() < 4.0 * mcse, "mean {}", samples.mean(0));
}

#[test]
fn other_model_errors_stop_sampling() {
    let target = from_fn(2, |theta: &[f64], grad: &mut [f64]| {
        if theta[0] > 0.5 {
            return Err(GenError::MissingChoice { address: Address(vec![Part::from("z")]) });
        }
        grad.iter_mut().zip(theta).for_each(|(g, x)| *g = -x);
        Ok(-0.5 * theta.iter().map(|x| x * x).sum::<f64>())
    });
    let err = hmc(&target, &HmcConfig { step_size: 0.2, ..HmcConfig::default() }, Key::new(1)).unwrap_err();
    assert!(matches!(err, InferenceError::Model(GenError::MissingChoice { .. })), "{err}");
    assert!(err.to_string().contains("`z`"), "{err}");
}

#[test]
fn initial_points_without_finite_density_are_errors_or_retried() {
    // Finite only on (-1, 1)².
    let target = from_fn(2, |theta: &[f64], grad: &mut [f64]| {
        grad.iter_mut().zip(theta).for_each(|(g, x)| *g = -x);
        let inside = theta.iter().all(|x| x.abs() < 1.0);
        Ok(if inside { -0.5 * theta.iter().map(|x| x * x).sum::<f64>() } else { f64::NEG_INFINITY })
    });
    let config = HmcConfig { init: Init::Given(vec![1.5, 0.0]), ..HmcConfig::default() };
    let err = hmc(&target, &config, Key::new(1)).unwrap_err();
    assert!(matches!(err, InferenceError::Init { chain: 0, .. }), "{err}");
    // Uniform(-2, 2) lands inside with probability 1/4 per try: Stan's 100 tries all miss with
    // probability 0.75¹⁰⁰ ≈ 3e-13.
    let config = NutsConfig { num_warmup: 100, num_samples: 100, ..NutsConfig::default() };
    let samples = nuts(&target, &config, Key::new(1)).unwrap();
    assert_finite(&samples);
    // A density that is never finite exhausts the tries.
    let nowhere = from_fn(1, |_: &[f64], _: &mut [f64]| Ok(f64::NAN));
    let err = nuts(&nowhere, &config, Key::new(1)).unwrap_err();
    assert!(err.to_string().contains("100 tries"), "{err}");
}

fn config_error(result: Result<Samples, InferenceError>) -> &'static str {
    match result {
        Err(InferenceError::Config { parameter, message }) => {
            assert!(!message.is_empty());
            parameter
        }
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn bad_settings_are_errors_naming_the_setting() {
    let target = isotropic_gaussian(2, 1.0);
    let key = Key::new(0);
    let hmc_with = |config: HmcConfig| config_error(hmc(&target, &config, key));
    let nuts_with = |config: NutsConfig| config_error(nuts(&target, &config, key));
    for step_size in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        assert_eq!(hmc_with(HmcConfig { step_size, ..HmcConfig::default() }), "step_size");
        assert_eq!(nuts_with(NutsConfig { step_size, ..NutsConfig::default() }), "step_size");
        let mala_config = MalaConfig { step_size, ..MalaConfig::default() };
        assert_eq!(config_error(mala(&target, &mala_config, key)), "step_size");
    }
    assert_eq!(hmc_with(HmcConfig { num_chains: 0, ..HmcConfig::default() }), "num_chains");
    assert_eq!(nuts_with(NutsConfig { num_chains: 0, ..NutsConfig::default() }), "num_chains");
    assert_eq!(hmc_with(HmcConfig { init: Init::Given(vec![0.0; 3]), ..HmcConfig::default() }), "init");
    assert_eq!(nuts_with(NutsConfig { init: Init::Given(vec![0.0]), ..NutsConfig::default() }), "init");
    assert_eq!(hmc_with(HmcConfig { init: Init::Given(vec![0.0, f64::NAN]), ..HmcConfig::default() }), "init");
    assert_eq!(nuts_with(NutsConfig { init: Init::PerChain(vec![vec![0.0; 2]; 3]), ..NutsConfig::default() }), "init");
    assert_eq!(nuts_with(NutsConfig { init: Init::Uniform(-1.0), ..NutsConfig::default() }), "init");
    assert_eq!(hmc_with(HmcConfig { num_leapfrog: 0, ..HmcConfig::default() }), "num_leapfrog");
    assert_eq!(nuts_with(NutsConfig { max_tree_depth: 0, ..NutsConfig::default() }), "max_tree_depth");
    assert_eq!(nuts_with(NutsConfig { target_accept: 1.0, ..NutsConfig::default() }), "target_accept");
    assert_eq!(hmc_with(HmcConfig { target_accept: f64::NAN, ..HmcConfig::default() }), "target_accept");
    assert_eq!(nuts_with(NutsConfig { inv_mass_matrix: Some(vec![1.0]), ..NutsConfig::default() }), "inv_mass_matrix");
    assert_eq!(hmc_with(HmcConfig { inv_mass_matrix: Some(vec![1.0, 0.0]), ..HmcConfig::default() }), "inv_mass_matrix");
    assert_eq!(nuts_with(NutsConfig { num_warmup: 0, ..NutsConfig::default() }), "num_warmup");
    assert_eq!(hmc_with(HmcConfig { max_energy_error: f64::NAN, ..HmcConfig::default() }), "max_energy_error");
    let empty = from_fn(0, |_: &[f64], _: &mut [f64]| Ok(0.0));
    assert_eq!(config_error(nuts(&empty, &NutsConfig::default(), key)), "target");
    // The message says what is wrong.
    let err = hmc(&target, &HmcConfig { init: Init::Given(vec![0.0; 3]), ..HmcConfig::default() }, key).unwrap_err();
    assert!(err.to_string().contains("length 3") && err.to_string().contains("dimension 2"), "{err}");
}

#[test]
fn no_warmup_and_no_adaptation_is_fine() {
    let target = isotropic_gaussian(2, 1.0);
    let config = NutsConfig {
        num_warmup: 0,
        num_samples: 10,
        adapt_step_size: false,
        adapt_mass_matrix: false,
        step_size: 0.5,
        num_chains: 1,
        ..NutsConfig::default()
    };
    let samples = nuts(&target, &config, Key::new(0)).unwrap();
    assert_eq!(samples.chains[0].step_size, 0.5);
    assert_eq!(samples.draw(0, 9).len(), 2);
    let empty = nuts(&target, &NutsConfig { num_samples: 0, ..config }, Key::new(0)).unwrap();
    assert!(empty.chains[0].draws.is_empty());
}

//! The Burn engine (burn-flex) against the native engine: the same particles, importance
//! weights, log densities and gradients, to float32 tolerance; and its handling of bad input.
//!
//! Tolerance: the Burn engine computes in f32, whose unit roundoff is 6e-8. A log density
//! summed over n terms of magnitude m carries a rounding error of about n·m·6e-8, so the
//! checks allow 1e-5 relative to the sum of absolute terms (a generous multiple for n ≤ 200).

use gen_runtime::burn::{Cpu, Engine};
use gen_runtime::prelude::*;
use gen_runtime::{importance_log_weights, LogDensity};

#[gen]
fn beta_bernoulli(n: usize) {
    let p = beta(2.0, 3.0).at("p");
    iid(bernoulli(p), n).at("flips");
}

/// One point around the shared mean.
#[gen]
fn point(mu: Real, scale: Real, shift: f64) -> Real {
    normal(mu + shift, scale).at("z")
}

/// Exchangeable points (Map) around a latent mean with a latent scale.
#[gen]
fn points(shifts: &[f64]) {
    let mu = normal(0.0, 1.0).at("mu");
    let scale = gamma(2.0, 2.0).at("scale");
    Map::new(point::gf()).apply(shifts.iter().map(|&s| (mu, scale, s)).collect()).at("points");
}

fn polynomial_data(n: usize) -> (Vec<f64>, ChoiceMap) {
    let xs: Vec<f64> = linspace(n);
    let ys: Vec<f64> = xs.iter().enumerate().map(|(i, x)| 0.5 - x + 2.0 * x * x + 0.1 * ((i * 7919) % 13) as f64 / 13.0).collect();
    (xs, choicemap! { "ys" => ys })
}

fn flips() -> ChoiceMap {
    let flips: Vec<bool> = (0..40).map(|i| (i * 37) % 10 < 3).collect();
    choicemap! { "flips" => flips }
}

const SHIFTS: [f64; 5] = [-1.0, -0.5, 0.0, 0.5, 1.0];

fn points_observations() -> ChoiceMap {
    let mut obs = ChoiceMap::new();
    for (i, z) in [-0.7, -0.2, 0.4, 0.3, 1.6].into_iter().enumerate() {
        obs.insert(Address::root().join(Part::Name("points".into())).join(Part::Index(i as i64)).join(Part::Name("z".into())), z);
    }
    obs
}

/// Asserts two engines' log weights agree to f32 tolerance and their latents are identical.
fn assert_same_particles(native: &gen_runtime::Particles, burn: &gen_runtime::Particles, scale: f64) {
    assert_eq!(native.addresses, burn.addresses);
    assert_eq!(native.latents, burn.latents, "the same keys must draw the same latents");
    for (i, (n, b)) in native.log_weights.iter().zip(&burn.log_weights).enumerate() {
        assert!((n - b).abs() <= 1e-5 * scale.max(n.abs()), "particle {i}: native {n}, burn {b}");
    }
}

use gen_runtime::Part;

mod common;
use common::{linspace, polynomial};

/// The engine as it runs on the CPU (fused element-wise passes), and with every step a
/// burn-flex operation, as it runs on a GPU: both must agree with the native engine.
fn engines() -> [Engine<Cpu>; 2] {
    [Engine::default(), Engine::default().with_fusion(false)]
}

#[test]
fn polynomial_importance_weights_agree() {
    let (xs, obs) = polynomial_data(50);
    let call = polynomial(&xs, 0.3);
    let native = importance_log_weights(&call, &obs, 2000, Key::new(3)).unwrap();
    for engine in engines() {
        let burn = engine.importance_log_weights(&call, &obs, 2000, Key::new(3)).unwrap();
        assert_eq!(burn.invalid, 0);
        // 50 terms of magnitude about 1 near the data; the weights reach -1e4 for particles
        // far from it, where the tolerance is relative to the weight itself.
        assert_same_particles(&native, &burn, 50.0);
    }
}

#[test]
fn beta_bernoulli_importance_weights_agree() {
    let call = beta_bernoulli(40);
    let native = importance_log_weights(&call, &flips(), 1000, Key::new(4)).unwrap();
    for engine in engines() {
        let burn = engine.importance_log_weights(&call, &flips(), 1000, Key::new(4)).unwrap();
        assert_same_particles(&native, &burn, 40.0);
    }
}

#[test]
fn map_model_importance_weights_agree() {
    let call = points(&SHIFTS);
    let obs = points_observations();
    let native = importance_log_weights(&call, &obs, 1000, Key::new(5)).unwrap();
    for engine in engines() {
        let burn = engine.importance_log_weights(&call, &obs, 1000, Key::new(5)).unwrap();
        assert_same_particles(&native, &burn, 5.0);
    }
}

/// A proposal near the polynomial posterior; `with_c` false leaves `c` to the prior.
#[gen]
fn polynomial_proposal(with_c: bool) {
    normal(0.5, 0.3).at("a");
    normal(-1.0, 0.5).at("b");
    if with_c {
        normal(2.0, 0.5).at("c");
    }
}

#[gen]
fn beta_proposal() {
    beta(3.0, 5.0).at("p");
}

/// Custom-proposal importance sampling: the same proposals as the native engine (host
/// draws with its keys), weights to f32 tolerance; a latent left to the prior is refused.
#[test]
fn custom_proposal_importance_weights_agree() {
    let (xs, obs) = polynomial_data(50);
    let call = polynomial(&xs, 0.3);
    let proposal = polynomial_proposal(true);
    let native = gen_runtime::inference::importance_sampling_with_proposal(&call, &obs, &proposal, 500, Key::new(8)).unwrap();
    let flip_call = beta_bernoulli(40);
    let native_flips =
        gen_runtime::inference::importance_sampling_with_proposal(&flip_call, &flips(), &beta_proposal(), 500, Key::new(9)).unwrap();
    for engine in engines() {
        let burn = engine.importance_log_weights_with_proposal(&call, &obs, &proposal, 500, Key::new(8)).unwrap();
        assert_eq!(burn.invalid, 0);
        assert_same_particles(&native, &burn, 1.0);
        let burn = engine.importance_log_weights_with_proposal(&flip_call, &flips(), &beta_proposal(), 500, Key::new(9)).unwrap();
        assert_same_particles(&native_flips, &burn, 40.0);
        let err = engine.importance_log_weights_with_proposal(&call, &obs, &polynomial_proposal(false), 10, Key::new(8)).unwrap_err();
        assert!(matches!(&err, GenError::Unsupported { address, .. } if address.to_string() == "c"), "{err}");
    }
}

/// Compares log densities and gradients at `chains` points spread around `center`.
fn assert_same_gradients<G: GenerativeFunction>(target: &LogDensity<G>, center: &[f64], chains: usize) {
    let d = target.dim();
    let thetas: Vec<f64> = (0..chains * d).map(|k| center[k % d] + 0.8 * (((k * 7919) % 101) as f64 / 101.0 - 0.5)).collect();
    for engine in engines() {
        let mut grads = vec![0.0; chains * d];
        let lps = engine.log_density_and_gradient(target, &thetas, &mut grads).unwrap();
        assert_gradients_match(target, &thetas, &lps, &grads);
    }
}

/// Asserts a batched run's log densities and gradients equal the native engine's, chain by
/// chain.
fn assert_gradients_match<G: GenerativeFunction>(target: &LogDensity<G>, thetas: &[f64], lps: &[f64], grads: &[f64]) {
    let d = target.dim();
    for c in 0..lps.len() {
        let theta = &thetas[c * d..(c + 1) * d];
        let mut g = vec![0.0; d];
        let lp = target.log_density_and_gradient(theta, &mut g).unwrap();
        let scale = lp.abs().max(1.0);
        assert!((lp - lps[c]).abs() <= 1e-5 * scale, "chain {c}: native {lp}, burn {}", lps[c]);
        let g_scale = g.iter().map(|x| x.abs()).fold(1.0, f64::max);
        for k in 0..d {
            let b = grads[c * d + k];
            assert!((g[k] - b).abs() <= 1e-4 * g_scale, "chain {c}, coordinate {k}: native {}, burn {b}", g[k]);
        }
    }
}

#[test]
fn polynomial_gradients_agree() {
    let (xs, obs) = polynomial_data(100);
    let target = LogDensity::new(&polynomial(&xs, 0.3), &obs, &select!["a", "b", "c"], Key::new(0)).unwrap();
    assert_same_gradients(&target, &[0.5, -1.0, 2.0], 300);
}

#[test]
fn beta_bernoulli_gradients_agree_in_unconstrained_space() {
    let target = LogDensity::new(&beta_bernoulli(40), &flips(), &select!["p"], Key::new(0)).unwrap();
    assert_same_gradients(&target, &[-0.5], 100);
}

#[test]
fn map_model_gradients_agree() {
    let target = LogDensity::new(&points(&SHIFTS), &points_observations(), &select!["mu", "scale"], Key::new(0)).unwrap();
    assert_same_gradients(&target, &[0.2, 0.0], 100);
}

#[test]
fn chunked_batches_give_the_same_weights() {
    // Unfused, 1000 data points make chunks of 16 particles; fused, one chunk per thread.
    let (xs, obs) = polynomial_data(1000);
    let call = polynomial(&xs, 0.3);
    let native = importance_log_weights(&call, &obs, 600, Key::new(8)).unwrap();
    for engine in engines() {
        let burn = engine.importance_log_weights(&call, &obs, 600, Key::new(8)).unwrap();
        // A weight sums 1000 terms of magnitude about 1 (which can cancel to a small total).
        assert_same_particles(&native, &burn, 1000.0);
    }
}

#[test]
fn wrong_data_length_names_the_address() {
    let (xs, _) = polynomial_data(50);
    let short = choicemap! { "ys" => vec![0.0; 49] };
    let err = Engine::<Cpu>::default().importance_log_weights(&polynomial(&xs, 0.3), &short, 10, Key::new(0)).unwrap_err();
    assert!(matches!(&err, GenError::WrongLength { expected: 50, found: 49, .. }), "{err:?}");
    assert!(err.to_string().contains("ys"), "{err}");
}

#[test]
fn no_particles_is_an_error() {
    let (xs, obs) = polynomial_data(10);
    let err = Engine::<Cpu>::default().importance_log_weights(&polynomial(&xs, 0.3), &obs, 0, Key::new(0)).unwrap_err();
    assert!(matches!(err, GenError::BadArguments { .. }), "{err:?}");
}

#[test]
fn bad_gradient_buffers_are_an_error() {
    let (xs, obs) = polynomial_data(20);
    let target = LogDensity::new(&polynomial(&xs, 0.3), &obs, &select!["a", "b", "c"], Key::new(0)).unwrap();
    let mut grads = vec![0.0; 6];
    let err = Engine::<Cpu>::default().log_density_and_gradient(&target, &[0.0; 7], &mut grads).unwrap_err();
    assert!(matches!(err, GenError::BadArguments { .. }), "{err:?}");
}

/// The noise scale is a latent normal, so about half the particles draw a negative scale.
#[gen]
fn signed_scale() {
    let s = normal(1.0, 1.0).at("s");
    normal(0.0, s).at("y");
}

#[test]
fn nan_particles_get_weight_minus_infinity_and_are_counted() {
    let obs = choicemap! { "y" => 0.5 };
    let burn = Engine::<Cpu>::default().importance_log_weights(&signed_scale(), &obs, 400, Key::new(2)).unwrap();
    let negative = (0..400).filter(|&i| burn.latents[i] < 0.0).count();
    assert!(negative > 0);
    assert_eq!(burn.invalid, negative);
    for (w, s) in burn.log_weights.iter().zip(&burn.latents) {
        if *s < 0.0 {
            assert_eq!(*w, f64::NEG_INFINITY);
        } else {
            assert!(w.is_finite());
        }
    }
}

#[gen]
fn discrete_latent() {
    let k = bernoulli(0.5).at("k");
    normal(if k { 1.0 } else { 0.0 }, 1.0).at("y");
}

#[test]
fn a_discrete_latent_is_rejected_with_its_address() {
    let err = Engine::<Cpu>::default().importance_log_weights(&discrete_latent(), &choicemap! { "y" => 0.5 }, 10, Key::new(0)).unwrap_err();
    assert!(matches!(&err, GenError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains('k'), "{err}");
}

#[test]
fn burn_autodiff_and_the_tape_give_the_same_gradient() {
    let (xs, obs) = polynomial_data(100);
    let target = LogDensity::new(&polynomial(&xs, 0.3), &obs, &select!["a", "b", "c"], Key::new(0)).unwrap();
    let thetas: Vec<f64> = (0..60).map(|k| 0.1 * (k % 7) as f64 - 0.3).collect();
    let (mut tape, mut autodiff) = (vec![0.0; 60], vec![0.0; 60]);
    let lp1 = Engine::<Cpu>::default().log_density_and_gradient(&target, &thetas, &mut tape).unwrap();
    let lp2 =
        Engine::<burn_autodiff::Autodiff<Cpu>>::default().log_density_and_gradient_burn_autodiff(&target, &thetas, &mut autodiff).unwrap();
    for (a, b) in lp1.iter().zip(&lp2) {
        // The fused pass sums in another order than burn-flex.
        assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "tape {a}, autodiff {b}");
    }
    for (a, b) in tape.iter().zip(&autodiff) {
        assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "tape {a}, autodiff {b}");
    }
}

/// A plate whose mean and scale go through the transcendental operations the fused pass
/// implements (sin, tanh, exp, ln, sqrt, division by a latent).
#[gen]
fn curved(xs: &[f64]) {
    let a = normal(0.0, 1.0).at("a");
    let b = normal(0.0, 1.0).at("b");
    let s = gamma(2.0, 4.0).at("s");
    plate(xs, |x| normal((a * x).sin() + b.tanh() * (x + 1.0).sqrt() / (1.0 + s), (s * x).exp().ln_1p())).at("ys");
}

#[test]
fn curved_plate_weights_and_gradients_agree() {
    let (xs, obs) = polynomial_data(60);
    let call = curved(&xs);
    let native = importance_log_weights(&call, &obs, 700, Key::new(9)).unwrap();
    for engine in engines() {
        let burn = engine.importance_log_weights(&call, &obs, 700, Key::new(9)).unwrap();
        assert_same_particles(&native, &burn, 1.0);
    }
    let target = LogDensity::new(&call, &obs, &select!["a", "b", "s"], Key::new(0)).unwrap();
    assert_same_gradients(&target, &[0.3, -0.4, 0.1], 200);
}

/// The noise scale of a plate is a latent normal: negative for about a sixth of the particles.
#[gen]
fn signed_plate_scale(xs: &[f64]) {
    let s = normal(1.0, 1.0).at("s");
    plate(xs, |_| normal(0.0, s)).at("ys");
}

#[test]
fn nan_in_a_fused_plate_marks_the_particle() {
    let (xs, obs) = polynomial_data(30);
    for engine in engines() {
        let burn = engine.importance_log_weights(&signed_plate_scale(&xs), &obs, 300, Key::new(6)).unwrap();
        let negative = burn.latents.iter().filter(|&&s| s < 0.0).count();
        assert!(negative > 0);
        assert_eq!(burn.invalid, negative);
        for (w, s) in burn.log_weights.iter().zip(&burn.latents) {
            assert_eq!(*s < 0.0, *w == f64::NEG_INFINITY, "scale {s}, weight {w}");
        }
    }
}

#[test]
fn the_cpu_device_starts() {
    assert!(Engine::<Cpu>::try_new(Default::default()).is_ok());
}

/// With `--features cuda`: on a machine with an NVIDIA GPU the CUDA engine gives the native
/// engine's weights to f32 tolerance; without one, starting it is an error, not a panic.
#[cfg(feature = "cuda")]
#[test]
fn cuda_engine_matches_native_or_reports_no_device() {
    use gen_runtime::burn::Cuda;
    match Engine::<Cuda>::try_new(Default::default()) {
        Ok(engine) => {
            let (xs, obs) = polynomial_data(50);
            let call = polynomial(&xs, 0.3);
            let native = importance_log_weights(&call, &obs, 2000, Key::new(3)).unwrap();
            let burn = engine.importance_log_weights(&call, &obs, 2000, Key::new(3)).unwrap();
            assert_same_particles(&native, &burn, 1.0);
        }
        Err(e) => {
            assert!(matches!(e, GenError::DeviceUnavailable { .. }), "{e:?}");
            eprintln!("skipped: {e}");
        }
    }
}

/// A batch of one row (one particle, one chain: nothing to fuse) agrees with native too.
#[test]
fn single_row_batches_agree() {
    let (xs, obs) = polynomial_data(30);
    let call = polynomial(&xs, 0.3);
    let native = importance_log_weights(&call, &obs, 1, Key::new(4)).unwrap();
    let target = LogDensity::new(&call, &obs, &select!["a", "b", "c"], Key::new(0)).unwrap();
    for engine in engines() {
        let burn = engine.importance_log_weights(&call, &obs, 1, Key::new(4)).unwrap();
        assert_same_particles(&native, &burn, 1.0);
        let theta = [0.4, -0.9, 1.7];
        let mut grads = [0.0; 3];
        let lps = engine.log_density_and_gradient(&target, &theta, &mut grads).unwrap();
        assert_gradients_match(&target, &theta, &lps, &grads);
    }
}

/// An `iid` latent vector: the native engine samples it; the Burn engine cannot batch it.
#[gen]
fn latent_vector() {
    let z = iid(normal(0.0, 1.0), 3).at("z");
    normal(z[0] + z[1] + z[2], 1.0).at("y");
}

#[test]
fn a_latent_vector_is_refused_with_what_to_write_instead() {
    let target = LogDensity::new(&latent_vector(), &choicemap! { "y" => 0.5 }, &Selection::All, Key::new(0)).unwrap();
    assert_eq!(target.dim(), 3);
    let mut grads = vec![0.0; 3];
    let err = Engine::<Cpu>::default().log_density_and_gradient(&target, &[0.0; 3], &mut grads).unwrap_err();
    assert!(
        matches!(&err, GenError::Unsupported { address, message } if address.to_string() == "z" && message.contains("indexed addresses")),
        "{err:?}"
    );
}

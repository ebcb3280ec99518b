//! HMC for many chains in lock step: every leapfrog step of every chain is one batched
//! evaluation of the target, which is how the Burn engine runs chains (one tensor row each).
//!
//! The algorithm is [`hmc`](fn@super::hmc)'s, step for step: chain `c` draws its start, momenta
//! and acceptance uniforms from the same stream (`key.split(c)`) in the same order, the
//! leapfrog updates are the same floating-point operations, and a trajectory stops at the
//! first non-finite log density. Warm-up adaptation is `hmc`'s too, per chain (each chain
//! keeps its own step size and mass matrix, as in Stan): the transitions stay batched, and
//! the few serial evaluations of Stan's step size search run as batches of one row. On a
//! target that evaluates rows exactly as `hmc` evaluates points, the draws are identical
//! (tested, with and without adaptation); on the Burn engine they differ by its f32 rounding.

use rayon::prelude::*;

use super::hmc::{ChainState, HmcConfig, Transition};
use super::target::{Chain, InferenceError, Samples, Target};
use crate::error::GenError;
use crate::rng::Key;

/// A log density on ℝᵈ evaluated at many points at once: what [`hmc_batched`] runs on.
pub trait BatchTarget: Sync {
    /// The number of coordinates d.
    fn dim(&self) -> usize;

    /// The log density at each row of `thetas` (row-major, d coordinates per row), with the
    /// gradients written to `grads` in the same layout. A row with no mass (a value outside
    /// the support, a non-finite density) gives −∞ or NaN.
    ///
    /// # Errors
    /// Errors that no point would fix (a missing choice, buffers of the wrong size).
    fn log_density_and_gradient_rows(&self, thetas: &[f64], grads: &mut [f64]) -> Result<Vec<f64>, GenError>;
}

/// Any [`Target`] as a [`BatchTarget`]: rows evaluated one by one, in parallel. Recoverable
/// errors at a row read as −∞ there, as in [`hmc`](fn@super::hmc).
#[derive(Clone, Copy, Debug)]
pub struct Rows<T>(pub T);

impl<T: Target> BatchTarget for Rows<T> {
    fn dim(&self) -> usize {
        self.0.dim()
    }

    fn log_density_and_gradient_rows(&self, thetas: &[f64], grads: &mut [f64]) -> Result<Vec<f64>, GenError> {
        let d = self.dim();
        thetas
            .par_chunks(d)
            .zip(grads.par_chunks_mut(d))
            .map(|(q, g)| match self.0.log_density_and_gradient(q, g) {
                Err(e) if e.is_recoverable() => Ok(f64::NEG_INFINITY),
                other => other,
            })
            .collect()
    }
}

/// One row of a batch target as a [`Target`], to find each chain's start as `hmc` does.
struct OneRow<'a, T: ?Sized>(&'a T);

impl<T: BatchTarget + ?Sized> Target for OneRow<'_, T> {
    fn dim(&self) -> usize {
        self.0.dim()
    }

    fn log_density_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> Result<f64, GenError> {
        Ok(self.0.log_density_and_gradient_rows(theta, grad)?[0])
    }
}

/// Runs HMC on `config.num_chains` chains in lock step over a batched target, with the
/// contract of [`hmc`](fn@super::hmc) (adaptation, divergences, acceptance statistics, errors).
///
/// ```
/// use gen_runtime::inference::{hmc, hmc_batched, HmcConfig, Rows};
/// use gen_runtime::prelude::*;
/// use gen_runtime::LogDensity;
///
/// #[gen]
/// fn line(xs: &[f64]) {
///     let a = normal(0.0, 1.0).at("a");
///     plate(xs, |x| normal(a * x, 0.5)).at("ys");
/// }
/// let xs = [0.0, 0.5, 1.0];
/// let obs = choicemap! { "ys" => vec![0.1, 0.6, 0.9] };
/// let target = LogDensity::new(&line(&xs), &obs, &select!["a"], Key::new(0))?;
/// let config = HmcConfig { num_warmup: 10, num_samples: 20, step_size: 0.1, num_chains: 3, ..HmcConfig::default() };
/// // Lock step over the native engine gives exactly `hmc`'s draws.
/// assert_eq!(hmc_batched(&Rows(&target), &config, Key::new(1))?, hmc(&target, &config, Key::new(1))?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`InferenceError::Config`] for an invalid setting, [`InferenceError::Init`] if a chain has
/// no valid starting point, [`InferenceError::StepSize`] if step size adaptation finds no
/// usable step, and [`InferenceError::Model`] for an error the target reports for the whole
/// batch.
pub fn hmc_batched<T: BatchTarget + ?Sized>(target: &T, config: &HmcConfig, key: Key) -> Result<Samples, InferenceError> {
    let one = OneRow(target);
    config.validate(&one)?;
    let (dim, setup) = (target.dim(), config.chain_setup());
    let mut lanes: Vec<Lane<'_, OneRow<'_, T>>> = (0..config.num_chains)
        .map(|c| {
            let state = ChainState::start(&one, c, key, &setup)?;
            let out = Chain::with_capacity(dim, config.num_warmup, config.num_samples, false);
            Ok(Lane { state, h0: 0.0, steps: 0, out })
        })
        .collect::<Result<_, InferenceError>>()?;
    for iteration in 0..config.num_warmup + config.num_samples {
        for lane in &mut lanes {
            let ChainState { metric, z, rng, .. } = &mut lane.state;
            metric.sample_momentum(rng, &mut z.p);
            lane.h0 = metric.hamiltonian(z);
        }
        integrate(target, &mut lanes, config.num_leapfrog)?;
        let warmup = iteration < config.num_warmup;
        for lane in &mut lanes {
            let ChainState { metric, z, scratch, rng, evaluations, .. } = &mut lane.state;
            let t = Transition::accept_or_reject(metric, z, scratch, lane.h0, lane.steps, config.max_energy_error, rng);
            *evaluations += u64::from(lane.steps);
            t.record(&mut lane.out, warmup, z);
            if warmup {
                lane.state.adapt(iteration, t.accept_prob)?;
            }
        }
    }
    let chains = lanes
        .into_iter()
        .map(|lane| {
            let mut out = lane.out;
            lane.state.finish(&mut out);
            out
        })
        .collect();
    Ok(Samples { dim, num_samples: config.num_samples, chains })
}

/// One chain between transitions: its state (current point, metric, step size, adaptation),
/// the Hamiltonian at the start of its trajectory, the leapfrog steps that trajectory took
/// (ending in `state.scratch`), and its draws.
struct Lane<'a, T: ?Sized> {
    state: ChainState<'a, T>,
    h0: f64,
    steps: u32,
    out: Chain,
}

/// The leapfrog trajectories of every chain from `z` into `scratch`, `num_steps` steps of the
/// chain's own step size and metric each, or until a chain meets a non-finite log density:
/// the steps of `hmc`'s integrator, with the chains still moving evaluated as one batch per
/// step.
fn integrate<T: BatchTarget + ?Sized, U: ?Sized>(target: &T, lanes: &mut [Lane<'_, U>], num_steps: usize) -> Result<(), GenError> {
    let dim = target.dim();
    for lane in lanes.iter_mut() {
        let ChainState { z, scratch, .. } = &mut lane.state;
        scratch.copy_from(z);
        lane.steps = 0;
    }
    let mut moving: Vec<usize> = (0..lanes.len()).collect();
    let (mut thetas, mut grads) = (Vec::with_capacity(lanes.len() * dim), Vec::with_capacity(lanes.len() * dim));
    for step in 1..=num_steps {
        thetas.clear();
        for &c in &moving {
            let ChainState { metric, step_size, scratch: z, .. } = &mut lanes[c].state;
            // Half a momentum step to start, full ones between positions (the two halves of
            // consecutive leapfrog steps merged, as `hmc`'s integrator does).
            let momentum_step = if step == 1 { 0.5 * *step_size } else { *step_size };
            for i in 0..dim {
                z.p[i] += momentum_step * z.grad[i];
                z.q[i] += *step_size * metric.inv_mass[i] * z.p[i];
            }
            thetas.extend_from_slice(&z.q);
        }
        grads.clear();
        grads.resize(thetas.len(), 0.0);
        let lps = target.log_density_and_gradient_rows(&thetas, &mut grads)?;
        let mut still = Vec::with_capacity(moving.len());
        for (row, &c) in moving.iter().enumerate() {
            let ChainState { step_size, scratch: z, .. } = &mut lanes[c].state;
            z.grad.copy_from_slice(&grads[row * dim..(row + 1) * dim]);
            let logp = if lps[row].is_finite() { lps[row] } else { f64::NEG_INFINITY };
            if logp == f64::NEG_INFINITY || step == num_steps {
                for i in 0..dim {
                    z.p[i] += 0.5 * *step_size * z.grad[i];
                }
                z.logp = logp;
                lanes[c].steps = step as u32;
            } else {
                still.push(c);
            }
        }
        moving = still;
        if moving.is_empty() {
            break;
        }
    }
    Ok(())
}

//! HMC for many chains in lock step: every leapfrog step of every chain is one batched
//! evaluation of the target, which is how the Burn engine runs chains (one tensor row each).
//!
//! The algorithm is [`hmc`](super::hmc)'s, step for step: chain `c` draws its start, momenta
//! and acceptance uniforms from the same stream (`key.split(c)`) in the same order, the
//! leapfrog updates are the same floating-point operations, and a trajectory stops at the
//! first non-finite log density. On a target that evaluates rows exactly as `hmc` evaluates
//! points, the draws are identical (tested); on the Burn engine they differ by its f32
//! rounding. Warm-up adaptation is not batched yet: the driver runs the benchmark's fixed
//! step size and mass matrix (the default [`HmcConfig`]).

use rayon::prelude::*;

use super::hmc::{HmcConfig, Metric, Point, Transition};
use super::target::{chain_rng, initial_point, is_recoverable, Chain, InferenceError, Samples, Target};
use crate::error::GenError;
use crate::rng::{Key, KeyRng};

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
/// errors at a row read as −∞ there, as in [`hmc`](super::hmc).
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
                Err(e) if is_recoverable(&e) => Ok(f64::NEG_INFINITY),
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

/// Runs HMC on `config.num_chains` chains in lock step over a batched target; the contract of
/// [`hmc`](super::hmc) (divergences, acceptance statistics, errors), with warm-up adaptation
/// refused.
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
/// [`InferenceError::Config`] for an invalid setting or for adaptation (not batched yet);
/// [`InferenceError::Init`] if a chain has no valid starting point; [`InferenceError::Model`]
/// for an error the target reports for the whole batch.
pub fn hmc_batched<T: BatchTarget + ?Sized>(target: &T, config: &HmcConfig, key: Key) -> Result<Samples, InferenceError> {
    let one = OneRow(target);
    config.validate(&one)?;
    if config.adapt_step_size || config.adapt_mass_matrix {
        return Err(InferenceError::config(
            "adapt_step_size",
            "the batched driver runs a fixed step size and mass matrix; turn adaptation off, or use `hmc`",
        ));
    }
    let (dim, chains) = (target.dim(), config.num_chains);
    let metric = Metric::new(config.inv_mass_matrix.clone().unwrap_or_else(|| vec![1.0; dim]));
    let mut state: Vec<ChainRun> = (0..chains)
        .map(|c| {
            let mut rng = chain_rng(key, c);
            let mut z = Point::new(dim);
            let (logp, evaluations) = initial_point(&one, &config.init, c, &mut rng, &mut z.q, &mut z.grad)?;
            z.logp = logp;
            let out = Chain::with_capacity(dim, config.num_warmup, config.num_samples, false);
            Ok(ChainRun { rng, z, proposal: Point::new(dim), h0: 0.0, steps: 0, out, evaluations })
        })
        .collect::<Result<_, InferenceError>>()?;
    for iteration in 0..config.num_warmup + config.num_samples {
        for s in &mut state {
            metric.sample_momentum(&mut s.rng, &mut s.z.p);
            s.h0 = metric.hamiltonian(&s.z);
        }
        integrate(target, &metric, &mut state, config.step_size, config.num_leapfrog)?;
        for s in &mut state {
            let t = Transition::accept_or_reject(&metric, &mut s.z, &mut s.proposal, s.h0, s.steps, config.max_energy_error, &mut s.rng);
            s.evaluations += u64::from(s.steps);
            t.record(&mut s.out, iteration < config.num_warmup, &s.z);
        }
    }
    let chains = state
        .into_iter()
        .map(|s| {
            let mut out = s.out;
            out.step_size = config.step_size;
            out.inv_mass_matrix.clone_from(&metric.inv_mass);
            out.gradient_evaluations = s.evaluations;
            out.finish();
            out
        })
        .collect();
    Ok(Samples { dim, num_samples: config.num_samples, chains })
}

/// One chain between transitions.
struct ChainRun {
    rng: KeyRng,
    /// The current state, and the end of the trajectory from it.
    z: Point,
    proposal: Point,
    /// The Hamiltonian at the start of the trajectory.
    h0: f64,
    /// Leapfrog steps the last trajectory took.
    steps: u32,
    out: Chain,
    evaluations: u64,
}

/// The leapfrog trajectories of every chain from `z` into `proposal`, `num_steps` steps each
/// or until a chain meets a non-finite log density: the steps of `hmc`'s integrator, with the
/// chains still moving evaluated as one batch per step.
fn integrate<T: BatchTarget + ?Sized>(
    target: &T,
    metric: &Metric,
    state: &mut [ChainRun],
    step_size: f64,
    num_steps: usize,
) -> Result<(), GenError> {
    let dim = target.dim();
    let half = 0.5 * step_size;
    for s in state.iter_mut() {
        s.proposal.copy_from(&s.z);
        s.steps = 0;
    }
    let mut moving: Vec<usize> = (0..state.len()).collect();
    let (mut thetas, mut grads) = (Vec::with_capacity(state.len() * dim), Vec::with_capacity(state.len() * dim));
    let mut momentum_step = half;
    for step in 1..=num_steps {
        thetas.clear();
        for &c in &moving {
            let z = &mut state[c].proposal;
            for i in 0..dim {
                z.p[i] += momentum_step * z.grad[i];
                z.q[i] += step_size * metric.inv_mass[i] * z.p[i];
            }
            thetas.extend_from_slice(&z.q);
        }
        grads.clear();
        grads.resize(thetas.len(), 0.0);
        let lps = target.log_density_and_gradient_rows(&thetas, &mut grads)?;
        let mut still = Vec::with_capacity(moving.len());
        for (row, &c) in moving.iter().enumerate() {
            let z = &mut state[c].proposal;
            z.grad.copy_from_slice(&grads[row * dim..(row + 1) * dim]);
            let logp = if lps[row].is_finite() { lps[row] } else { f64::NEG_INFINITY };
            if logp == f64::NEG_INFINITY || step == num_steps {
                for i in 0..dim {
                    z.p[i] += half * z.grad[i];
                }
                z.logp = logp;
                state[c].steps = step as u32;
            } else {
                still.push(c);
            }
        }
        moving = still;
        if moving.is_empty() {
            break;
        }
        momentum_step = step_size;
    }
    Ok(())
}

//! Hamiltonian Monte Carlo with a fixed number of leapfrog steps (Duane et al. 1987; Neal
//! 2011, "MCMC using Hamiltonian dynamics"), optionally with Stan's warm-up adaptation of the
//! step size and a diagonal mass matrix. Also the dynamics NUTS and MALA build on: the
//! diagonal Euclidean metric, phase-space points and the leapfrog integrator.
//!
//! ```
//! use gen_runtime::inference::{from_fn, hmc, HmcConfig};
//! use gen_runtime::Key;
//!
//! // A standard normal in two dimensions.
//! let target = from_fn(2, |theta: &[f64], grad: &mut [f64]| {
//!     grad.iter_mut().zip(theta).for_each(|(g, x)| *g = -x);
//!     Ok(-0.5 * theta.iter().map(|x| x * x).sum::<f64>())
//! });
//! let config = HmcConfig { step_size: 0.2, num_leapfrog: 10, num_chains: 2, ..HmcConfig::default() };
//! let samples = hmc(&target, &config, Key::new(1))?;
//! assert_eq!(samples.chains.len(), 2);
//! assert!(samples.mean(0).abs() < 0.2);
//! # Ok::<(), gen_runtime::inference::InferenceError>(())
//! ```

use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::GenError;
use crate::rng::{Key, KeyRng};

use super::adapt::{init_stepsize, AdaptSettings, Update, WindowSettings, WindowedAdaptation};
use super::target::{
    chain_rng, evaluate, initial_point, require_positive, require_probability, run_chains, validate_common, Chain, InferenceError, Init,
    Samples, Target,
};

/// Stan's threshold on the energy error H − H₀ above which a trajectory is divergent.
pub const DEFAULT_MAX_ENERGY_ERROR: f64 = 1000.0;

/// Settings of [`hmc`]. The default is the benchmark's configuration: one chain from zeros,
/// 500 warm-up iterations and 1000 draws, step size 0.01, 20 leapfrog steps, unit mass matrix,
/// no adaptation.
#[derive(Clone, Debug, PartialEq)]
pub struct HmcConfig {
    /// Warm-up iterations (discarded; adaptation, if any, happens here).
    pub num_warmup: usize,
    /// Draws kept per chain.
    pub num_samples: usize,
    /// Leapfrog step size ε (the starting value if `adapt_step_size`).
    pub step_size: f64,
    /// Leapfrog steps per transition L.
    pub num_leapfrog: usize,
    /// Adapt ε during warm-up by dual averaging towards `target_accept`, starting from Stan's
    /// heuristic step size search.
    pub adapt_step_size: bool,
    /// Estimate a diagonal mass matrix during warm-up in Stan's windows.
    pub adapt_mass_matrix: bool,
    /// The mean acceptance probability dual averaging aims for (0.65 is optimal for HMC on
    /// Gaussians, Beskos et al. 2013).
    pub target_accept: f64,
    /// Stan's warm-up windows for the mass matrix.
    pub windows: WindowSettings,
    /// Chains, run in parallel; chain `c` draws from `key.split(c)`.
    pub num_chains: usize,
    /// Where the chains start.
    pub init: Init,
    /// The diagonal of the initial inverse mass matrix (Stan's inverse metric); `None` is the
    /// identity.
    pub inv_mass_matrix: Option<Vec<f64>>,
    /// The energy error above which a transition counts as divergent (Stan: 1000).
    pub max_energy_error: f64,
}

impl Default for HmcConfig {
    fn default() -> Self {
        HmcConfig {
            num_warmup: 500,
            num_samples: 1000,
            step_size: 0.01,
            num_leapfrog: 20,
            adapt_step_size: false,
            adapt_mass_matrix: false,
            target_accept: 0.65,
            windows: WindowSettings::default(),
            num_chains: 1,
            init: Init::Zeros,
            inv_mass_matrix: None,
            max_energy_error: DEFAULT_MAX_ENERGY_ERROR,
        }
    }
}

impl HmcConfig {
    pub(crate) fn validate<T: Target + ?Sized>(&self, target: &T) -> Result<(), InferenceError> {
        validate_common(target, self.num_chains, &self.init, self.inv_mass_matrix.as_deref())?;
        require_positive("step_size", self.step_size)?;
        if self.num_leapfrog == 0 {
            return Err(InferenceError::config("num_leapfrog", "must be at least 1"));
        }
        require_probability("target_accept", self.target_accept)?;
        require_max_energy_error(self.max_energy_error)?;
        validate_adaptation(self.num_warmup, self.adapt_step_size, self.adapt_mass_matrix, &self.windows)
    }
}

pub(crate) fn require_max_energy_error(value: f64) -> Result<(), InferenceError> {
    if value > 0.0 {
        Ok(())
    } else {
        Err(InferenceError::config("max_energy_error", format!("is {value}, but must be > 0")))
    }
}

pub(crate) fn validate_adaptation(
    num_warmup: usize,
    step_size: bool,
    mass_matrix: bool,
    windows: &WindowSettings,
) -> Result<(), InferenceError> {
    if (step_size || mass_matrix) && num_warmup == 0 {
        return Err(InferenceError::config("num_warmup", "adaptation needs warm-up iterations: set num_warmup > 0 or turn adaptation off"));
    }
    windows.validate()
}

/// Runs HMC with `config.num_leapfrog` leapfrog steps per transition on every chain.
///
/// A trajectory whose energy error exceeds `max_energy_error`, or that meets a non-finite log
/// density or gradient (or a [recoverable](crate::GenError::is_recoverable) model error), is divergent:
/// it is rejected and counted, so the draws never contain NaN. A trajectory stops at the first
/// non-finite log density, since it can only be rejected.
///
/// # Errors
/// [`InferenceError::Config`] for an invalid setting, [`InferenceError::Init`] if a chain has
/// no valid starting point, [`InferenceError::StepSize`] if step size adaptation finds no
/// usable step, and [`InferenceError::Model`] for a model error that is not recoverable.
pub fn hmc<T: Target + ?Sized>(target: &T, config: &HmcConfig, key: Key) -> Result<Samples, InferenceError> {
    config.validate(target)?;
    let chains = run_chains(config.num_chains, |c| hmc_chain(target, config, key, c))?;
    Ok(Samples { dim: target.dim(), num_samples: config.num_samples, chains })
}

impl HmcConfig {
    /// What each chain starts from.
    pub(crate) fn chain_setup(&self) -> ChainSetup<'_> {
        ChainSetup {
            init: &self.init,
            inv_mass_matrix: self.inv_mass_matrix.as_deref(),
            step_size: self.step_size,
            num_warmup: self.num_warmup,
            adapt: AdaptSettings {
                step_size: self.adapt_step_size,
                mass_matrix: self.adapt_mass_matrix,
                target_accept: self.target_accept,
                windows: self.windows,
            },
        }
    }
}

fn hmc_chain<T: Target + ?Sized>(target: &T, config: &HmcConfig, key: Key, chain: usize) -> Result<Chain, InferenceError> {
    let mut state = ChainState::start(target, chain, key, &config.chain_setup())?;
    let mut out = Chain::with_capacity(target.dim(), config.num_warmup, config.num_samples, false);
    for iteration in 0..config.num_warmup + config.num_samples {
        let ChainState { metric, z, scratch, step_size, rng, .. } = &mut state;
        let t = transition(target, metric, z, scratch, *step_size, config, rng)?;
        state.evaluations += u64::from(t.num_leapfrog);
        let warmup = iteration < config.num_warmup;
        t.record(&mut out, warmup, &state.z);
        if warmup {
            state.adapt(iteration, t.accept_prob)?;
        }
    }
    state.finish(&mut out);
    Ok(out)
}

/// What a chain starts from: the settings HMC, NUTS and MALA share.
pub(crate) struct ChainSetup<'c> {
    pub(crate) init: &'c Init,
    pub(crate) inv_mass_matrix: Option<&'c [f64]>,
    pub(crate) step_size: f64,
    pub(crate) num_warmup: usize,
    pub(crate) adapt: AdaptSettings,
}

/// One chain's state between transitions, and its warm-up adaptation (Stan's
/// `adapt_diag_e_*` samplers).
pub(crate) struct ChainState<'a, T: ?Sized> {
    target: &'a T,
    chain: usize,
    num_warmup: usize,
    pub(crate) rng: KeyRng,
    pub(crate) metric: Metric,
    pub(crate) step_size: f64,
    /// The current state.
    pub(crate) z: Point,
    /// Scratch space of the same shape (HMC's proposal).
    pub(crate) scratch: Point,
    pub(crate) evaluations: u64,
    adaptation: Option<WindowedAdaptation>,
}

impl<'a, T: Target + ?Sized> ChainState<'a, T> {
    /// Finds the initial point and, when the step size is adapted, Stan's first step size.
    pub(crate) fn start(target: &'a T, chain: usize, key: Key, setup: &ChainSetup<'_>) -> Result<Self, InferenceError> {
        let dim = target.dim();
        let mut rng = chain_rng(key, chain);
        let mut z = Point::new(dim);
        let (logp, evaluations) = initial_point(target, setup.init, chain, &mut rng, &mut z.q, &mut z.grad)?;
        z.logp = logp;
        let adapt = setup.adapt;
        let mut state = ChainState {
            target,
            chain,
            num_warmup: setup.num_warmup,
            rng,
            metric: Metric::new(setup.inv_mass_matrix.map_or_else(|| vec![1.0; dim], <[f64]>::to_vec)),
            step_size: setup.step_size,
            z,
            scratch: Point::new(dim),
            evaluations,
            adaptation: (adapt.step_size || adapt.mass_matrix)
                .then(|| WindowedAdaptation::new(dim, setup.num_warmup, setup.step_size, adapt)),
        };
        if adapt.step_size {
            state.search_step_size()?;
        }
        Ok(state)
    }

    /// Learns from warm-up transition `iteration`, which ended in `self.z` with acceptance
    /// statistic `accept_prob`: updates the step size, at a window's end the mass matrix (then
    /// searches a new step size and restarts dual averaging around it, as Stan does), and after
    /// the last warm-up iteration sets the final step size.
    pub(crate) fn adapt(&mut self, iteration: usize, accept_prob: f64) -> Result<(), InferenceError> {
        let Some(adaptation) = self.adaptation.as_mut() else {
            return Ok(());
        };
        let update = adaptation.learn(accept_prob, &self.z.q, &mut self.step_size, &mut self.metric.inv_mass);
        if update == Update::MassMatrix {
            self.metric.refresh();
            if adaptation.adapts_step_size() {
                self.search_step_size()?;
                if let Some(adaptation) = self.adaptation.as_mut() {
                    adaptation.restart_step_size(self.step_size);
                }
            }
        }
        if iteration + 1 == self.num_warmup {
            if let Some(adaptation) = self.adaptation.as_ref() {
                self.step_size = adaptation.final_step_size(self.step_size);
            }
        }
        Ok(())
    }

    fn search_step_size(&mut self) -> Result<(), InferenceError> {
        let ChainState { target, chain, rng, metric, step_size, z, scratch, evaluations, .. } = self;
        *step_size = init_stepsize(*chain, *step_size, |eps| {
            scratch.copy_from(z);
            metric.sample_momentum(rng, &mut scratch.p);
            let h0 = metric.hamiltonian(scratch);
            leapfrog(*target, metric, scratch, eps)?;
            *evaluations += 1;
            Ok(h0 - metric.hamiltonian(scratch))
        })?;
        Ok(())
    }

    /// Writes the final step size, mass matrix and work into `out` and summarizes it.
    pub(crate) fn finish(self, out: &mut Chain) {
        out.step_size = self.step_size;
        out.inv_mass_matrix = self.metric.inv_mass;
        out.gradient_evaluations = self.evaluations;
        out.finish();
    }
}

/// What one HMC transition did.
pub(crate) struct Transition {
    pub(crate) accept_prob: f64,
    accepted: bool,
    divergent: bool,
    num_leapfrog: u32,
    energy: f64,
}

impl Transition {
    /// The Metropolis step that ends a trajectory of `num_leapfrog` steps from `z` (whose
    /// Hamiltonian was `h0` with its fresh momentum) to `proposal`: on acceptance the two swap.
    pub(crate) fn accept_or_reject(
        metric: &Metric,
        z: &mut Point,
        proposal: &mut Point,
        h0: f64,
        num_leapfrog: u32,
        max_energy_error: f64,
        rng: &mut KeyRng,
    ) -> Self {
        let h = metric.hamiltonian(proposal);
        let energy_error = h - h0;
        let divergent = energy_error.is_nan() || energy_error > max_energy_error;
        let accept_prob = if divergent { 0.0 } else { (-energy_error).exp().min(1.0) };
        let accepted = !divergent && (accept_prob >= 1.0 || rng.random::<f64>() < accept_prob);
        if accepted {
            std::mem::swap(z, proposal);
        }
        Transition { accept_prob, accepted, divergent, num_leapfrog, energy: if accepted { h } else { h0 } }
    }

    /// Adds the transition that left the chain at `z` to `out`: a warm-up one's statistics,
    /// or a kept draw with its statistics.
    pub(crate) fn record(&self, out: &mut Chain, warmup: bool, z: &Point) {
        if warmup {
            out.warmup_divergences += usize::from(self.divergent);
            out.warmup_accept_prob.push(self.accept_prob);
        } else {
            out.draws.extend_from_slice(&z.q);
            out.log_density.push(z.logp);
            out.accept_prob.push(self.accept_prob);
            out.divergent.push(self.divergent);
            out.num_leapfrog.push(self.num_leapfrog);
            out.energy.push(self.energy);
            out.accepted += usize::from(self.accepted);
        }
    }
}

/// One HMC transition from `z`; `proposal` is scratch space. On acceptance the two swap.
#[inline]
fn transition<T: Target + ?Sized>(
    target: &T,
    metric: &Metric,
    z: &mut Point,
    proposal: &mut Point,
    step_size: f64,
    config: &HmcConfig,
    rng: &mut KeyRng,
) -> Result<Transition, GenError> {
    metric.sample_momentum(rng, &mut z.p);
    let h0 = metric.hamiltonian(z);
    let num_leapfrog = integrate(target, metric, z, proposal, step_size, config.num_leapfrog)?;
    Ok(Transition::accept_or_reject(metric, z, proposal, h0, num_leapfrog, config.max_energy_error, rng))
}

/// A diagonal Euclidean metric: kinetic energy ½ pᵀ M⁻¹ p with M⁻¹ = diag(`inv_mass`).
#[derive(Clone, Debug)]
pub(crate) struct Metric {
    pub(crate) inv_mass: Vec<f64>,
    /// √M, to draw momenta p ~ N(0, M).
    sqrt_mass: Vec<f64>,
}

impl Metric {
    pub(crate) fn new(inv_mass: Vec<f64>) -> Self {
        let sqrt_mass = inv_mass.iter().map(|v| 1.0 / v.sqrt()).collect();
        Metric { inv_mass, sqrt_mass }
    }

    /// Recomputes √M after `inv_mass` changed.
    pub(crate) fn refresh(&mut self) {
        self.sqrt_mass.iter_mut().zip(&self.inv_mass).for_each(|(s, v)| *s = 1.0 / v.sqrt());
    }

    #[inline]
    pub(crate) fn sample_momentum(&self, rng: &mut KeyRng, p: &mut [f64]) {
        for (p, s) in p.iter_mut().zip(&self.sqrt_mass) {
            *p = s * rng.sample::<f64, _>(StandardNormal);
        }
    }

    #[inline]
    pub(crate) fn kinetic(&self, p: &[f64]) -> f64 {
        0.5 * p.iter().zip(&self.inv_mass).map(|(p, v)| v * p * p).sum::<f64>()
    }

    /// M⁻¹ p, the velocity dq/dt (Stan's "sharp" momentum).
    #[inline]
    pub(crate) fn velocity(&self, p: &[f64], out: &mut [f64]) {
        for ((o, p), v) in out.iter_mut().zip(p).zip(&self.inv_mass) {
            *o = v * p;
        }
    }

    /// H = −log p(q) + ½ pᵀ M⁻¹ p, with NaN read as +∞ (Stan's convention).
    #[inline]
    pub(crate) fn hamiltonian(&self, z: &Point) -> f64 {
        let h = -z.logp + self.kinetic(&z.p);
        if h.is_nan() {
            f64::INFINITY
        } else {
            h
        }
    }
}

/// A point in phase space with its log density and gradient, so each leapfrog step evaluates
/// the target once.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Point {
    pub(crate) q: Vec<f64>,
    pub(crate) p: Vec<f64>,
    /// ∇ log p(q).
    pub(crate) grad: Vec<f64>,
    /// log p(q); −∞ where the target is not finite.
    pub(crate) logp: f64,
}

impl Point {
    pub(crate) fn new(dim: usize) -> Self {
        Point { q: vec![0.0; dim], p: vec![0.0; dim], grad: vec![0.0; dim], logp: f64::NEG_INFINITY }
    }

    #[inline]
    pub(crate) fn copy_from(&mut self, other: &Point) {
        self.q.copy_from_slice(&other.q);
        self.p.copy_from_slice(&other.p);
        self.grad.copy_from_slice(&other.grad);
        self.logp = other.logp;
    }
}

/// One leapfrog step of size `step_size` (negative integrates backwards in time): half a
/// momentum step, a full position step, one target evaluation, half a momentum step.
#[inline]
pub(crate) fn leapfrog<T: Target + ?Sized>(target: &T, metric: &Metric, z: &mut Point, step_size: f64) -> Result<(), GenError> {
    let half = 0.5 * step_size;
    for (((q, p), g), v) in z.q.iter_mut().zip(&mut z.p).zip(&z.grad).zip(&metric.inv_mass) {
        *p += half * g;
        *q += step_size * v * *p;
    }
    z.logp = evaluate(target, &z.q, &mut z.grad)?;
    for (p, g) in z.p.iter_mut().zip(&z.grad) {
        *p += half * g;
    }
    Ok(())
}

/// `num_steps` leapfrog steps from `start`, ending in `end`; stops early at a non-finite log
/// density (such a trajectory can only be rejected). Returns the number of steps taken.
///
/// The same map as `num_steps` calls of [`leapfrog`], with each step's closing half momentum
/// update merged into the next step's opening one. Small dimensions run on fixed-size arrays
/// the compiler unrolls: on the 3-coordinate benchmark model with 10 data points, slice loops
/// and copies made a run 1.5 times as long as a handcoded loop over arrays, and arrays bring
/// it within a few percent.
#[inline]
fn integrate<T: Target + ?Sized>(
    target: &T,
    metric: &Metric,
    start: &Point,
    end: &mut Point,
    step_size: f64,
    num_steps: usize,
) -> Result<u32, GenError> {
    if num_steps == 0 {
        end.copy_from(start);
        return Ok(0);
    }
    match start.q.len() {
        1 => integrate_fixed::<T, 1>(target, metric, start, end, step_size, num_steps),
        2 => integrate_fixed::<T, 2>(target, metric, start, end, step_size, num_steps),
        3 => integrate_fixed::<T, 3>(target, metric, start, end, step_size, num_steps),
        4 => integrate_fixed::<T, 4>(target, metric, start, end, step_size, num_steps),
        5 => integrate_fixed::<T, 5>(target, metric, start, end, step_size, num_steps),
        6 => integrate_fixed::<T, 6>(target, metric, start, end, step_size, num_steps),
        7 => integrate_fixed::<T, 7>(target, metric, start, end, step_size, num_steps),
        8 => integrate_fixed::<T, 8>(target, metric, start, end, step_size, num_steps),
        _ => {
            end.copy_from(start);
            integrate_slices(target, metric, end, step_size, num_steps)
        }
    }
}

fn integrate_fixed<T: Target + ?Sized, const D: usize>(
    target: &T,
    metric: &Metric,
    start: &Point,
    end: &mut Point,
    step_size: f64,
    num_steps: usize,
) -> Result<u32, GenError> {
    let array = |v: &[f64]| -> [f64; D] { v.try_into().expect("buffers have the target's dimension") };
    let (inv_mass, mut q, mut p, mut grad) = (array(&metric.inv_mass), array(&start.q), array(&start.p), array(&start.grad));
    let half = 0.5 * step_size;
    let mut momentum_step = half;
    for step in 1..=num_steps {
        for i in 0..D {
            p[i] += momentum_step * grad[i];
            q[i] += step_size * inv_mass[i] * p[i];
        }
        let logp = evaluate(target, &q, &mut grad)?;
        if logp == f64::NEG_INFINITY || step == num_steps {
            for i in 0..D {
                p[i] += half * grad[i];
            }
            end.q.copy_from_slice(&q);
            end.p.copy_from_slice(&p);
            end.grad.copy_from_slice(&grad);
            end.logp = logp;
            return Ok(step as u32);
        }
        momentum_step = step_size;
    }
    unreachable!("the last step returns")
}

fn integrate_slices<T: Target + ?Sized>(
    target: &T,
    metric: &Metric,
    z: &mut Point,
    step_size: f64,
    num_steps: usize,
) -> Result<u32, GenError> {
    let half = 0.5 * step_size;
    let mut momentum_step = half;
    for step in 1..=num_steps {
        for (((q, p), g), v) in z.q.iter_mut().zip(&mut z.p).zip(&z.grad).zip(&metric.inv_mass) {
            *p += momentum_step * g;
            *q += step_size * v * *p;
        }
        z.logp = evaluate(target, &z.q, &mut z.grad)?;
        if z.logp == f64::NEG_INFINITY || step == num_steps {
            for (p, g) in z.p.iter_mut().zip(&z.grad) {
                *p += half * g;
            }
            return Ok(step as u32);
        }
        momentum_step = step_size;
    }
    unreachable!("the last step returns")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::target::from_fn;

    fn normal(dim: usize, sd: f64) -> impl Target {
        let precision = 1.0 / (sd * sd);
        from_fn(dim, move |q: &[f64], g: &mut [f64]| {
            g.iter_mut().zip(q).for_each(|(g, x)| *g = -precision * x);
            Ok(-0.5 * precision * q.iter().map(|x| x * x).sum::<f64>())
        })
    }

    #[test]
    fn leapfrog_is_reversible_and_nearly_conserves_energy() {
        let target = normal(2, 1.0);
        let metric = Metric::new(vec![1.0, 0.5]);
        let mut z = Point::new(2);
        z.q.copy_from_slice(&[0.3, -1.2]);
        z.p.copy_from_slice(&[1.0, 0.4]);
        z.logp = evaluate(&target, &z.q, &mut z.grad).unwrap();
        let start = z.clone();
        let h0 = metric.hamiltonian(&z);
        for _ in 0..10 {
            leapfrog(&target, &metric, &mut z, 0.1).unwrap();
        }
        // Second-order integrator: energy error O(ε²).
        assert!((metric.hamiltonian(&z) - h0).abs() < 0.01);
        for _ in 0..10 {
            leapfrog(&target, &metric, &mut z, -0.1).unwrap();
        }
        for (a, b) in z.q.iter().zip(&start.q).chain(z.p.iter().zip(&start.p)) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    #[test]
    fn one_chain_is_reproducible_and_counts_gradients() {
        let target = normal(3, 1.0);
        let config = HmcConfig { num_warmup: 10, num_samples: 50, step_size: 0.1, num_leapfrog: 5, ..HmcConfig::default() };
        let a = hmc(&target, &config, Key::new(3)).unwrap();
        let b = hmc(&target, &config, Key::new(3)).unwrap();
        assert_eq!(a, b);
        let chain = &a.chains[0];
        assert_eq!(chain.draws.len(), 150);
        // One evaluation at the initial point, then 5 per transition.
        assert_eq!(chain.gradient_evaluations, 1 + 60 * 5);
        assert!(chain.num_leapfrog.iter().all(|&n| n == 5));
        assert!(chain.tree_depth.is_empty());
        assert_eq!(chain.step_size, 0.1);
    }

    #[test]
    fn a_non_finite_log_density_stops_the_trajectory_and_is_rejected() {
        // Density defined only on q < 1: everything beyond is NaN.
        let target = from_fn(1, |q: &[f64], g: &mut [f64]| {
            g[0] = -q[0];
            Ok(if q[0] < 1.0 { -0.5 * q[0] * q[0] } else { f64::NAN })
        });
        let config = HmcConfig { num_warmup: 0, num_samples: 500, step_size: 0.3, num_leapfrog: 10, ..HmcConfig::default() };
        let samples = hmc(&target, &config, Key::new(5)).unwrap();
        let chain = &samples.chains[0];
        assert!(chain.draws.iter().all(|q| q.is_finite() && *q < 1.0));
        assert!(chain.divergences > 0);
        for (i, &d) in chain.divergent.iter().enumerate() {
            if d {
                assert_eq!(chain.accept_prob[i], 0.0);
            }
        }
        assert!(chain.num_leapfrog.iter().any(|&n| n < 10));
    }
}

//! Sequential Monte Carlo: a particle filter for state-space models written as an
//! [`Unfold`].
//!
//! The filter extends each particle one kernel step at a time: at step t it runs the
//! kernel's `generate` with step t's observations as constraints, from the particle's state,
//! so the work per step is one kernel call per particle whatever t is (Gen.jl's
//! `particle_filter_step!` on an Unfold trace does the same through `update`). The bootstrap
//! filter runs each step along a plan of the kernel's sites discovered once per step, as
//! importance sampling does on the native engine (`native/importance.rs`), with the same weights and
//! states as `generate` under the same keys; a particle that takes another path runs through
//! the interpreter. The weight
//! increment is the kernel's generate weight, minus the proposal's log density with a custom
//! proposal. Particles are resampled when the effective sample size falls below a fraction of
//! N, and the log marginal likelihood is accumulated across resampling steps, so
//! `exp(log_marginal_likelihood)` is an unbiased estimate of p(observations).

use super::weights::{ess_of_normalized, log_sum_exp, normalize, normalize_with_total, Resampling};
use crate::address::{Address, Part};
use crate::choice_map::ChoiceMap;
use crate::combinators::{Unfold, UnfoldKernel};
use crate::error::GenError;
use crate::gfi::{Call, GenerativeFunction};
use crate::native::{chunk_size, generate_or_invalid, is_plan, IsEval};
use crate::rng::Key;
use rayon::prelude::*;

/// Settings of a particle filter.
#[derive(Clone, Copy, Debug)]
pub struct SmcConfig {
    /// The number of particles N.
    pub n_particles: usize,
    /// The resampling scheme.
    pub resampling: Resampling,
    /// Resample when ESS < `ess_threshold` · N: 1.0 resamples at every step (the classic
    /// bootstrap filter), 0.0 never (sequential importance sampling). Default 0.5.
    pub ess_threshold: f64,
}

impl Default for SmcConfig {
    fn default() -> Self {
        SmcConfig { n_particles: 1000, resampling: Resampling::Systematic, ess_threshold: 0.5 }
    }
}

/// What a particle filter returns.
#[derive(Clone, Debug)]
pub struct SmcResult<S> {
    /// Each particle's state after the last step.
    pub states: Vec<S>,
    /// Each particle's log weight after the last step (since the last resampling).
    pub log_weights: Vec<f64>,
    /// The estimate of ln p(observations).
    pub log_marginal_likelihood: f64,
    /// The ESS after weighting, at each step.
    pub ess: Vec<f64>,
    /// Whether the particles were resampled after each step.
    pub resampled: Vec<bool>,
    /// The number of invalid particles at each step: those whose step had a parameter out of
    /// range or an observation outside its support. Each got weight zero (log weight -inf),
    /// as in importance sampling; the filter fails only when every particle has weight zero.
    pub invalid: Vec<usize>,
}

impl<S> SmcResult<S> {
    /// Normalized final weights.
    #[must_use]
    pub fn normalized_weights(&self) -> Vec<f64> {
        normalize(&self.log_weights)
    }

    /// The weighted mean of `f(state)` over the final particles: a filtering estimate.
    pub fn mean(&self, f: impl Fn(&S) -> f64) -> f64 {
        self.states.iter().zip(self.normalized_weights()).map(|(s, w)| w * f(s)).sum()
    }
}

/// A particle filter with the prior (the kernel itself) as proposal: the bootstrap filter.
///
/// `model` is the Unfold with its arguments `(T, initial state, params)`; `observations`
/// holds step t's observed choices under the index `t`, as the Unfold's own trace does
/// (`t / "y"`).
///
/// # Errors
/// A bad setting (no particles, a threshold outside [0, 1]); an observation at an address
/// the model never visits (not under a step index `t < T`, or one the kernel does not make
/// at that step: [`GenError::UnvisitedConstraint`]); every particle impossible at a step;
/// the errors of the kernel's `generate`.
pub fn particle_filter<K: UnfoldKernel>(
    model: &Call<Unfold<K>>,
    observations: &ChoiceMap,
    config: &SmcConfig,
    key: Key,
) -> Result<SmcResult<K::Ret<f64>>, GenError> {
    particle_filter_each_step(model, observations, config, key, |_, _, _| {})
}

/// The bootstrap filter of [`particle_filter`], calling `on_step(t, states, log_weights)`
/// after step t has weighted the particles and before it resamples them: the weighted
/// particles there are the filtering distribution p(state_t | observations up to t), so a
/// user reads filtered means or probabilities at every step in one pass (Gen.jl's
/// `particle_filter_step!` loop, inspecting the state after each step). The log weights are
/// unnormalized: `(w - log_sum_exp(log_weights)).exp()` normalizes them ([`log_sum_exp`]).
///
/// # Errors
/// As [`particle_filter`].
pub fn particle_filter_each_step<K: UnfoldKernel>(
    model: &Call<Unfold<K>>,
    observations: &ChoiceMap,
    config: &SmcConfig,
    key: Key,
    on_step: impl FnMut(usize, &[K::Ret<f64>], &[f64]),
) -> Result<SmcResult<K::Ret<f64>>, GenError> {
    let (kernel, params) = (&model.gf.0, &model.args.2);
    run(
        model,
        observations,
        config,
        key,
        |t, states, constraints, key_t| bootstrap_step(kernel, t, states, params, constraints, key_t),
        on_step,
    )
}

/// Each particle's new state and log weight increment after one filter step.
pub(crate) type Extended<K> = Vec<(<K as GenerativeFunction>::Ret<f64>, f64)>;

/// One bootstrap step of a particle filter: each particle `i` runs `kernel` at step `t` from
/// its state with `constraints` (step t's observations), its other choices drawn with
/// `key.split(i)`, and returns its new state and log p(observations | state, latents): the
/// same as `generate` with that key, along a plan discovered once for the step from the first
/// particle. A particle that leaves the plan (another path, a value to diagnose) runs through
/// the interpreter instead.
pub(crate) fn bootstrap_step<K: UnfoldKernel>(
    kernel: &K,
    t: usize,
    states: &[K::Ret<f64>],
    params: &K::Params<f64>,
    constraints: &ChoiceMap,
    key: Key,
) -> Result<Extended<K>, GenError> {
    let Some(first) = states.first() else { return Ok(Vec::new()) };
    let (plan, _, work) = is_plan(&Call::new(kernel.clone(), kernel.kernel_args(t, first.clone(), params)), constraints, key)?;
    let chunk = chunk_size(states.len(), work);
    let extended: Result<Vec<Extended<K>>, GenError> = states
        .par_chunks(chunk)
        .enumerate()
        .map(|(c, chunk_states)| {
            chunk_states
                .iter()
                .enumerate()
                .map(|(j, state)| {
                    let k = key.split((c * chunk + j) as u64);
                    // A state is the latents a step keeps: no columns to fill.
                    if let Some(extended) = IsEval::follow(&plan, k, &mut [], |h| kernel.run(h, kernel.kernel_args(t, state.clone(), params))) {
                        return Ok(extended);
                    }
                    // An invalid particle keeps its state and gets weight zero.
                    let call = Call::new(kernel.clone(), kernel.kernel_args(t, state.clone(), params));
                    Ok(match generate_or_invalid(&call, constraints, k)? {
                        Some((trace, w)) => (trace.retval().clone(), w),
                        None => (state.clone(), f64::NEG_INFINITY),
                    })
                })
                .collect()
        })
        .collect();
    Ok(extended?.into_iter().flatten().collect())
}

/// A particle filter with a custom proposal: `proposal(t, state, observations at t)` is a
/// generative function whose choices are step t's latent choices, at the kernel's addresses.
/// The weight increment is log p(latents, observations | state) - log q(latents).
///
/// # Errors
/// As [`particle_filter`], plus a proposed choice the kernel does not make.
pub fn particle_filter_with_proposal<K, Q, F>(
    model: &Call<Unfold<K>>,
    observations: &ChoiceMap,
    proposal: F,
    config: &SmcConfig,
    key: Key,
) -> Result<SmcResult<K::Ret<f64>>, GenError>
where
    K: UnfoldKernel,
    Q: GenerativeFunction,
    F: Fn(usize, &K::Ret<f64>, &ChoiceMap) -> Call<Q> + Sync,
{
    let (kernel, params) = (&model.gf.0, &model.args.2);
    run(model, observations, config, key, |t, states, constraints, key_t| {
        states
            .par_iter()
            .enumerate()
            .map(|(i, state)| {
                let k = key_t.split(i as u64);
                let (proposed, q, _) = proposal(t, state, constraints).propose(k.split(0))?;
                let mut all = constraints.clone();
                all.merge(&proposed);
                let call = Call::new(kernel.clone(), kernel.kernel_args(t, state.clone(), params));
                Ok(match generate_or_invalid(&call, &all, k.split(1))? {
                    Some((trace, w)) => (trace.retval().clone(), w - q),
                    None => (state.clone(), f64::NEG_INFINITY),
                })
            })
            .collect()
    }, |_, _, _| {})
}

/// The filter, generic over how the particles are extended by one step: `extend(t, states,
/// step t's observations, key)` returns each particle's new state and log weight increment,
/// particle `i` drawing with `key.split(i)`; `on_step` sees each step's weighted particles
/// (see [`particle_filter_each_step`]).
fn run<K, E, O>(
    model: &Call<Unfold<K>>,
    observations: &ChoiceMap,
    config: &SmcConfig,
    key: Key,
    extend: E,
    mut on_step: O,
) -> Result<SmcResult<K::Ret<f64>>, GenError>
where
    K: UnfoldKernel,
    O: FnMut(usize, &[K::Ret<f64>], &[f64]),
    E: Fn(usize, &[K::Ret<f64>], &ChoiceMap, Key) -> Result<Extended<K>, GenError>,
{
    let bad = |message: String| GenError::BadArguments { function: "particle_filter", message };
    let n = config.n_particles;
    if n == 0 {
        return Err(bad("n_particles must be at least 1".into()));
    }
    if !(0.0..=1.0).contains(&config.ess_threshold) {
        return Err(bad(format!("ess_threshold = {} must lie in [0, 1]", config.ess_threshold)));
    }
    let (steps, init, _) = &model.args;
    // Each step sees only the observations under its index: any other would be dropped.
    if let Some(address) = observations.addresses().find(|a| {
        !matches!(a.parts(), [Part::Index(t), _, ..] if usize::try_from(*t).is_ok_and(|t| t < *steps))
    }) {
        return Err(GenError::UnvisitedConstraint { address: address.clone() });
    }
    let mut states = vec![init.clone(); n];
    let mut log_weights = vec![0.0; n];
    let mut log_ml = 0.0;
    let mut ess_trace = Vec::with_capacity(*steps);
    let mut resampled = Vec::with_capacity(*steps);
    let mut invalid = Vec::with_capacity(*steps);
    for t in 0..*steps {
        let constraints = observations.submap(&Address(vec![Part::Index(t as i64)]));
        let key_t = key.split(t as u64);
        let extended = extend(t, &states, &constraints, key_t)?;
        let mut newly_invalid = 0;
        for (i, (state, w)) in extended.into_iter().enumerate() {
            newly_invalid += usize::from(w == f64::NEG_INFINITY && log_weights[i] != f64::NEG_INFINITY);
            states[i] = state;
            log_weights[i] += w;
        }
        invalid.push(newly_invalid);
        let (normalized, total) = normalize_with_total(&log_weights);
        let e = ess_of_normalized(&normalized);
        if e == 0.0 {
            return Err(bad(format!("every particle has weight zero at step {t}")));
        }
        ess_trace.push(e);
        on_step(t, &states, &log_weights);
        let resample = e < config.ess_threshold * n as f64 && t + 1 < *steps;
        resampled.push(resample);
        if resample {
            log_ml += total - (n as f64).ln();
            let ancestors = config.resampling.ancestors(&normalized, n, &mut key.split(u64::MAX - t as u64).rng());
            states = ancestors.iter().map(|&a| states[a].clone()).collect();
            log_weights.fill(0.0);
        }
    }
    log_ml += log_sum_exp(&log_weights) - (n as f64).ln();
    Ok(SmcResult { states, log_weights, log_marginal_likelihood: log_ml, ess: ess_trace, resampled, invalid })
}

//! Variational inference with a programmable guide: a `#[gen]` function that proposes the
//! model's latents, with trainable parameters declared in it by [`param`](crate::param)
//! (Gen.jl's `@param` and `black_box_vi!`, Pyro's guides with `pyro.param`).
//!
//! Each step draws K times from the guide and ascends an estimate of the ELBO's gradient in
//! the parameters, choosing the estimator per choice, as GenJAX's ADEV does:
//!
//! - a continuous choice from a distribution with a reparameterized sampler
//!   ([`Distribution::sample_reparameterized`]:
//!   normal, half-normal) is differentiated through its draw: the guide runs on dual numbers
//!   whose lanes are the parameters, so each draw carries its derivatives, and the model's
//!   gradient at the draw (the native engine's, in the model's constrained space) is chained
//!   through them;
//! - any other choice (discrete ones, and continuous ones without a reparameterized sampler)
//!   contributes the score function: (log p − log q − b) ∇ log q of that choice, with a
//!   baseline b, the mean of the other draws of the step (leave-one-out) for K > 1 and a
//!   running average of the earlier steps for K = 1.
//!
//! The guide's log density is differentiated in full (the path through the draws and the
//! parameters' direct effect), so a location-scale guide's entropy gradient is exact. Every
//! model latent must be proposed by the guide (otherwise the model would draw it from its
//! prior, silently changing the target); a guide choice the model does not make is an error
//! too.
//!
//! A first version, kept simple: each draw replans the model's gradient for the draw's
//! discrete values (a few microseconds for small models), and `iid`/`plate` are not yet
//! supported inside a guide (write a loop over indexed addresses).

use std::collections::HashMap;

use crate::address::{Address, Site};
use crate::choice_map::{ChoiceMap, Selection};
use crate::distributions::Distribution;
use crate::dual::Dual;
use crate::error::GenError;
use crate::gfi::{Call, GenerativeFunction, Handler};
use crate::value::{LiftElement, Values};
use crate::native::LogDensity;
use crate::rng::{Key, KeyRng};
use crate::value::{ChoiceData, ChoiceValue};

use super::target::InferenceError;
use super::vi::{mean_of_last, Ascent, Optimizer};

/// Parameters per pass of dual numbers (more take more passes of the guide).
const LANES: usize = 8;

/// Settings of [`Conditioned::vi`](super::Conditioned::vi).
#[derive(Clone, Debug, PartialEq)]
pub struct GuideConfig {
    /// Optimizer steps.
    pub num_steps: usize,
    /// Draws from the guide per step (K).
    pub num_samples: usize,
    /// The optimizer.
    pub optimizer: Optimizer,
}

impl Default for GuideConfig {
    fn default() -> Self {
        GuideConfig { num_steps: 2000, num_samples: 1, optimizer: Optimizer::adam(0.01) }
    }
}

/// The trainable parameters, in order of first use.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GuideParams {
    /// Their addresses.
    pub addresses: Vec<Address>,
    /// Their values.
    pub values: Vec<f64>,
    index: HashMap<Address, usize>,
}

impl GuideParams {
    /// The value of the parameter at `address`.
    #[must_use]
    pub fn get(&self, address: &Address) -> Option<f64> {
        self.index.get(address).map(|&i| self.values[i])
    }

    fn index_or_insert(&mut self, address: Address, init: f64) -> usize {
        if let Some(&i) = self.index.get(&address) {
            return i;
        }
        self.addresses.push(address.clone());
        self.values.push(init);
        self.index.insert(address, self.values.len() - 1);
        self.values.len() - 1
    }
}

/// A fitted guide: its parameters and the ELBO estimate of every step.
#[derive(Clone, Debug, PartialEq)]
pub struct GuideFit {
    /// The parameters at the end of the fit.
    pub params: GuideParams,
    /// The mean of the step's ELBO estimates, per step.
    pub history: Vec<f64>,
}

impl GuideFit {
    /// The mean of the ELBO estimates over the last `window` steps (all steps if fewer).
    #[must_use]
    pub fn final_estimate(&self, window: usize) -> f64 {
        mean_of_last(&self.history, window)
    }
}

/// One draw from a guide: its choices in visit order.
pub(crate) type GuideDraw = Vec<(Address, ChoiceValue)>;

/// One choice of a guide run.
struct GuideChoice<const N: usize> {
    address: Address,
    value: ChoiceValue,
    /// For a reparameterized choice, its reals as dual numbers over the pass's parameters.
    reals: Option<Vec<Dual<N>>>,
}

/// Runs a guide on dual numbers whose lanes are parameters `first..first + N`.
struct GuideRun<'a, const N: usize> {
    rng: KeyRng,
    params: &'a mut GuideParams,
    first: usize,
    prefix: Vec<crate::address::Part>,
    log_q: Dual<N>,
    log_q_score: Dual<N>,
    choices: Vec<GuideChoice<N>>,
    failure: Option<GenError>,
}

impl<const N: usize> GuideRun<'_, N> {
    fn address(&self, site: &Site<'_>) -> Address {
        let mut parts = self.prefix.clone();
        parts.push(site.to_part());
        Address(parts)
    }

    fn unsupported(&mut self, site: &Site<'_>, what: &str) {
        let address = self.address(site);
        self.failure.get_or_insert(GenError::Unsupported { address, message: format!("{what} inside a guide is not supported yet") });
    }
}

impl<'c, const N: usize> Handler<'c> for GuideRun<'_, N> {
    type Real = Dual<N>;
    type Datum = f64;

    fn sample<D: Distribution<Real = Dual<N>>>(&mut self, site: Site<'_>, dist: D) -> D::Value {
        let address = self.address(&site);
        if let Err(e) = dist.check() {
            self.failure.get_or_insert(e.at(address, D::NAME));
            return dist.lift(&D::Data::default());
        }
        if dist.flat_dim().is_some() {
            if let Some(reals) = dist.sample_reparameterized(&mut self.rng) {
                let value = dist.value_from_flat(&reals);
                self.log_q += dist.log_density(&value);
                let primal: Vec<f64> = reals.iter().map(|r| r.re).collect();
                let value_data = if primal.len() == 1 { ChoiceValue::Real(primal[0]) } else { ChoiceValue::Reals(primal.into()) };
                self.choices.push(GuideChoice { address, value: value_data, reals: Some(reals) });
                return value;
            }
        }
        let data = dist.to_scalar(&mut |p: &Dual<N>| p.re).sample(&mut self.rng);
        let value = dist.lift(&data);
        let lq = dist.log_density(&value);
        self.log_q += lq;
        self.log_q_score += lq;
        self.choices.push(GuideChoice { address, value: data.into_value(), reals: None });
        value
    }

    fn plate<D, F>(&mut self, site: Site<'_>, xs: &[f64], _f: F) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = Dual<N>>,
        D::Data: LiftElement<D::Value>,
        F: Fn(f64) -> D,
    {
        self.unsupported(&site, "`plate`");
        Values::placeholder(xs.len())
    }

    fn iid<D>(&mut self, site: Site<'_>, _dist: D, n: usize) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = Dual<N>>,
        D::Data: LiftElement<D::Value>,
    {
        self.unsupported(&site, "`iid`");
        Values::placeholder(n)
    }

    fn factor(&mut self, site: Site<'_>, _log_weight: Dual<N>) {
        self.unsupported(&site, "`factor` (a guide is a proposal; its density is its choices')");
    }

    fn fail(&mut self, error: GenError) {
        self.failure.get_or_insert(error);
    }

    fn call<G: GenerativeFunction>(&mut self, site: Site<'_>, gf: &G, args: G::Args<Dual<N>>) -> G::Ret<Dual<N>> {
        self.prefix.push(site.to_part());
        let ret = gf.run(self, args);
        self.prefix.pop();
        ret
    }

    fn param(&mut self, site: Site<'_>, init: f64) -> Dual<N> {
        let address = self.address(&site);
        let i = self.params.index_or_insert(address, init);
        let lane = i.wrapping_sub(self.first);
        Dual { re: self.params.values[i], eps: std::array::from_fn(|k| if k == lane { 1.0 } else { 0.0 }) }
    }
}

/// One draw of the guide: its choices, log q, and the derivatives the gradient needs, over
/// every parameter (all passes joined).
struct Draw {
    choices: Vec<(Address, ChoiceValue)>,
    /// Per reparameterized choice (in order), per real, d(real)/d(param).
    tangents: Vec<(Address, Vec<Vec<f64>>)>,
    log_q: f64,
    grad_log_q: Vec<f64>,
    grad_log_q_score: Vec<f64>,
}

/// Runs `guide` with noise from `key`, in as many passes of [`LANES`] parameters as it has.
fn draw_guide<Q: GenerativeFunction>(guide: &Call<Q>, params: &mut GuideParams, key: Key) -> Result<Draw, GenError> {
    let mut first = 0;
    let mut draw: Option<Draw> = None;
    loop {
        let mut run = GuideRun::<LANES> {
            rng: key.rng(),
            params,
            first,
            prefix: Vec::new(),
            log_q: Dual::constant(0.0),
            log_q_score: Dual::constant(0.0),
            choices: Vec::new(),
            failure: None,
        };
        let _ = guide.gf.run(&mut run, guide.gf.lift_args(&guide.args));
        if let Some(e) = run.failure {
            return Err(e);
        }
        let (log_q, log_q_score, choices) = (run.log_q, run.log_q_score, run.choices);
        let n = params.values.len();
        let d = draw.get_or_insert_with(|| Draw {
            choices: choices.iter().map(|c| (c.address.clone(), c.value.clone())).collect(),
            tangents: choices
                .iter()
                .filter_map(|c| c.reals.as_ref().map(|r| (c.address.clone(), vec![Vec::new(); r.len()])))
                .collect(),
            log_q: log_q.re,
            grad_log_q: Vec::new(),
            grad_log_q_score: Vec::new(),
        });
        let lanes = (n.saturating_sub(first)).min(LANES);
        d.grad_log_q.extend_from_slice(&log_q.eps[..lanes]);
        d.grad_log_q_score.extend_from_slice(&log_q_score.eps[..lanes]);
        for ((_, per_real), reals) in d.tangents.iter_mut().zip(choices.iter().filter_map(|c| c.reals.as_ref())) {
            for (t, r) in per_real.iter_mut().zip(reals) {
                t.extend_from_slice(&r.eps[..lanes]);
            }
        }
        first += LANES;
        if first >= n {
            return Ok(draw.expect("set on the first pass"));
        }
    }
}

/// log p(observations, draw) and its gradient in the draw's reparameterized reals (by
/// address, in the model's constrained space).
fn score_model<G: GenerativeFunction>(
    model: &Call<G>,
    observations: &ChoiceMap,
    draw: &Draw,
    key: Key,
) -> Result<(f64, HashMap<Address, Vec<f64>>), InferenceError> {
    let mut constraints = observations.clone();
    for (address, value) in &draw.choices {
        constraints.insert(address.clone(), value.clone());
    }
    let (trace, _) = model.generate(key, &constraints)?;
    if let Some(latent) = trace.choices().addresses().find(|a| constraints.get(a).is_none()) {
        return Err(InferenceError::config(
            "guide",
            format!("the guide does not propose the model's latent `{latent}`; a guide must propose every latent of the model"),
        ));
    }
    let log_p = trace.score();
    let mut gradient = HashMap::new();
    if !draw.tangents.is_empty() && log_p.is_finite() {
        let selection = Selection::Addresses(draw.tangents.iter().map(|(a, _)| a.clone()).collect());
        let target = LogDensity::from_trace(&trace, &selection)?.constrained();
        let theta = target.point(trace.choices())?;
        let mut grad = vec![0.0; theta.len()];
        target.log_density_and_gradient(&theta, &mut grad)?;
        for c in target.coordinates() {
            gradient.insert(c.address.clone(), grad[c.offset..c.offset + c.dim].to_vec());
        }
    }
    Ok((log_p, gradient))
}

/// Fits `guide`'s parameters to the posterior of `model` given `observations` (see the
/// module documentation), returning the fit and `num_draws` draws from the fitted guide.
pub(crate) fn fit_guide<G: GenerativeFunction, Q: GenerativeFunction>(
    model: &Call<G>,
    observations: &ChoiceMap,
    guide: &Call<Q>,
    config: &GuideConfig,
    num_draws: usize,
    key: Key,
) -> Result<(GuideFit, Vec<GuideDraw>), InferenceError> {
    if config.num_samples == 0 {
        return Err(InferenceError::config("num_samples", "must be at least 1 draw per step"));
    }
    let mut params = GuideParams::default();
    // One draw registers the parameters (and checks the guide runs).
    draw_guide(guide, &mut params, key.split(u64::MAX))?;
    if params.values.is_empty() {
        return Err(InferenceError::config("guide", "the guide declares no `param(..)`: there is nothing to fit"));
    }
    let n = params.values.len();
    let mut ascent = Ascent::new(config.optimizer, n);
    let mut history = Vec::with_capacity(config.num_steps);
    let mut running_baseline: Option<f64> = None;
    let k = config.num_samples;
    for step in 0..config.num_steps {
        let step_key = key.split(step as u64);
        let mut draws = Vec::with_capacity(k);
        for s in 0..k {
            let draw = draw_guide(guide, &mut params, step_key.split(s as u64))?;
            let (log_p, grad_p) = score_model(model, observations, &draw, step_key.split(u64::MAX - s as u64))?;
            draws.push((draw, log_p, grad_p));
        }
        let f: Vec<f64> = draws.iter().map(|(d, log_p, _)| log_p - d.log_q).collect();
        if f.iter().any(|x| !x.is_finite()) {
            return Err(InferenceError::Optimization {
                method: "VI",
                message: format!("at step {step}, a draw of the guide has no finite log density under the model or the guide (log p - log q = {f:?})"),
            });
        }
        let mean_f = f.iter().sum::<f64>() / k as f64;
        let mut grad = vec![0.0; n];
        for (s, (draw, _, grad_p)) in draws.iter().enumerate() {
            let baseline = if k > 1 { (mean_f * k as f64 - f[s]) / (k - 1) as f64 } else { running_baseline.unwrap_or(f[s]) };
            for j in 0..n {
                let mut g = -draw.grad_log_q[j] + (f[s] - baseline) * draw.grad_log_q_score[j];
                for (address, per_real) in &draw.tangents {
                    if let Some(gp) = grad_p.get(address) {
                        g += gp.iter().zip(per_real).map(|(gp, t)| gp * t[j]).sum::<f64>();
                    }
                }
                grad[j] += g / k as f64;
            }
        }
        running_baseline = Some(running_baseline.map_or(mean_f, |b| 0.9 * b + 0.1 * mean_f));
        ascent.step(&mut params.values, &grad);
        if params.values.iter().any(|x| !x.is_finite()) {
            return Err(InferenceError::Optimization { method: "VI", message: format!("diverged at step {step} (lower the learning rate)") });
        }
        history.push(mean_f);
    }
    let draws = (0..num_draws)
        .map(|i| draw_guide(guide, &mut params, key.split(u64::MAX - 1).split(i as u64)).map(|d| d.choices))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((GuideFit { params, history }, draws))
}

//! Automatic differentiation variational inference (ADVI) on a [`Target`]: a normal guide over
//! the target's unconstrained coordinates, fitted by stochastic gradient ascent on the ELBO or
//! the importance-weighted ELBO with reparameterization gradients.
//!
//! The guide is q(z) = N(loc, L Lᵀ): mean-field (L diagonal, NumPyro's `AutoNormal`) or
//! full-rank (L lower triangular, `AutoMultivariateNormal`). Scales are softplus of free
//! parameters, as in NumPyro's and Pyro's autoguides. A step draws K standard normals ε_k,
//! sets z_k = loc + L ε_k, and follows the gradient of
//!
//! - ELBO: (1/K) Σ_k [log p(z_k) − log q(z_k)], or
//! - IWELBO: log (1/K) Σ_k p(z_k) / q(z_k) (Burda et al. 2016; at least the ELBO, and equal
//!   to it at K = 1),
//!
//! differentiated through z_k = loc + L ε_k with ε_k held fixed (the reparameterization
//! estimator; for a location-scale guide the derivative of −log q(z_k) is then exactly the
//! entropy's, 1/L_ii on the diagonal). ∇ log p comes from the target, that is from the
//! model's own dual numbers, never from finite differences. Since the target is the density
//! in unconstrained coordinates (with its log |det J|), this is Stan's ADVI (Kucukelbir et
//! al. 2017) with NumPyro's `Trace_ELBO` estimator.
//!
//! Adam and SGD are written here: each is a few lines over a flat parameter vector, and no
//! well-kept crate offers them for plain slices without a framework's tensor types around them.
//!
//! ```
//! use gen_runtime::inference::{advi, from_fn, AdviConfig, Guide};
//! use gen_runtime::Key;
//!
//! // A standard normal in x and N(3, 2²) in y.
//! let target = from_fn(2, |theta: &[f64], grad: &mut [f64]| {
//!     grad[0] = -theta[0];
//!     grad[1] = -(theta[1] - 3.0) / 4.0;
//!     Ok(-0.5 * theta[0] * theta[0] - (theta[1] - 3.0).powi(2) / 8.0)
//! });
//! let config = AdviConfig { guide: Guide::MeanField, num_steps: 3000, num_samples: 4, ..AdviConfig::default() };
//! let fit = advi(&target, &config, Key::new(7))?;
//! assert!((fit.loc[1] - 3.0).abs() < 0.1 && (fit.sd(1) - 2.0).abs() < 0.1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rand::Rng;
use rand_distr::StandardNormal;

use crate::address::IntoAddress;
use crate::choice_map::ChoiceMap;
use crate::distributions::LN_2PI;
use crate::native::Coordinate;
use crate::rng::Key;

use super::target::{chain_rng, initial_point, InferenceError, Init, Target};
use super::weights::log_sum_exp;

/// The family of the guide.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Guide {
    /// Independent normals, one per coordinate (NumPyro's `AutoNormal`).
    #[default]
    MeanField,
    /// A multivariate normal with a full lower-triangular scale (NumPyro's
    /// `AutoMultivariateNormal`): d(d + 3)/2 parameters.
    FullRank,
}

/// What a step's gradient ascends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VariationalObjective {
    /// The evidence lower bound, estimated with the step's K samples.
    #[default]
    Elbo,
    /// The importance-weighted bound with K samples (K = 1 is the ELBO).
    Iwelbo,
}

/// The optimizer of the guide's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// Adam (Kingma and Ba 2015) with bias correction; NumPyro's `optim.Adam`, optax's `adam`
    /// and PyTorch's `Adam` compute the same update.
    Adam {
        /// Step size.
        learning_rate: f64,
        /// Decay of the first moment.
        beta1: f64,
        /// Decay of the second moment.
        beta2: f64,
        /// Added to the square root of the second moment.
        epsilon: f64,
    },
    /// Plain stochastic gradient ascent with step size `learning_rate / (1 + decay · t)`
    /// at step t (from 0): the Robbins-Monro schedule for `decay > 0`.
    Sgd {
        /// Initial step size.
        learning_rate: f64,
        /// Decay of the step size per step.
        decay: f64,
    },
}

impl Optimizer {
    /// Adam with its usual moments (0.9, 0.999, 1e-8) and this learning rate.
    #[must_use]
    pub fn adam(learning_rate: f64) -> Self {
        Optimizer::Adam { learning_rate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }
    }
}

/// Settings of [`advi`]. The default is the mean-field ELBO with one sample per step, 2000
/// Adam steps at learning rate 0.01, initial scales 0.1 (NumPyro's `AutoNormal`), initial
/// means from [`Init::Zeros`], and no convergence check (every step runs, as in NumPyro).
#[derive(Clone, Debug, PartialEq)]
pub struct AdviConfig {
    /// Mean-field or full-rank.
    pub guide: Guide,
    /// ELBO or IWELBO.
    pub objective: VariationalObjective,
    /// Optimizer steps.
    pub num_steps: usize,
    /// Draws per step (K).
    pub num_samples: usize,
    /// The optimizer.
    pub optimizer: Optimizer,
    /// The guide's initial standard deviation in every coordinate.
    pub init_scale: f64,
    /// The guide's initial mean (unconstrained coordinates). [`Init::Zeros`] falls back to
    /// uniform points on (−2, 2) where the density is not finite.
    pub init: Init,
    /// Stan's convergence check: stop when the relative change of the mean ELBO estimate
    /// between two windows of `eval_every` steps is below this (Stan's `tol_rel_obj`, 0.01).
    /// `None` runs every step.
    pub tol_rel_obj: Option<f64>,
    /// The window of the convergence check, in steps.
    pub eval_every: usize,
}

impl Default for AdviConfig {
    fn default() -> Self {
        AdviConfig {
            guide: Guide::MeanField,
            objective: VariationalObjective::Elbo,
            num_steps: 2000,
            num_samples: 1,
            optimizer: Optimizer::adam(0.01),
            init_scale: 0.1,
            init: Init::Zeros,
            tol_rel_obj: None,
            eval_every: 100,
        }
    }
}

/// A fitted guide: q(z) = N(loc, L Lᵀ) over the target's coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct VariationalFit {
    /// The family.
    pub guide: Guide,
    /// The mean.
    pub loc: Vec<f64>,
    /// L, row-major d × d, lower triangular (diagonal for mean-field).
    pub scale_tril: Vec<f64>,
    /// The objective's estimate at every step (ELBO or IWELBO, up to the target's constant).
    pub history: Vec<f64>,
    /// Whether the convergence check stopped the fit (always false without `tol_rel_obj`).
    pub converged: bool,
    /// Draws at which the target had no finite density, left out of their step's estimate.
    pub dropped: usize,
    /// The model's latents behind the coordinates, when the fit came from a model
    /// ([`Conditioned::advi`](super::Conditioned::advi)); empty for a bare [`Target`].
    pub coordinates: Vec<Coordinate>,
}

impl VariationalFit {
    /// The dimension.
    #[must_use]
    pub fn dim(&self) -> usize {
        self.loc.len()
    }

    /// The guide's standard deviation in coordinate `i`.
    #[must_use]
    pub fn sd(&self, i: usize) -> f64 {
        let d = self.dim();
        self.scale_tril[i * d..i * d + i + 1].iter().map(|l| l * l).sum::<f64>().sqrt()
    }

    /// The guide's mean of the latent at `address`, in unconstrained coordinates (`log tau`
    /// for a positive `tau`); `None` for an address that is not a latent of the fit.
    #[must_use]
    pub fn loc_of(&self, address: impl IntoAddress) -> Option<&[f64]> {
        let address = address.into_address();
        self.coordinates.iter().find(|c| c.address == address).map(|c| &self.loc[c.offset..c.offset + c.dim])
    }

    /// The guide's standard deviations of the latent at `address`, in unconstrained
    /// coordinates.
    #[must_use]
    pub fn sd_of(&self, address: impl IntoAddress) -> Option<Vec<f64>> {
        let address = address.into_address();
        self.coordinates.iter().find(|c| c.address == address).map(|c| (c.offset..c.offset + c.dim).map(|i| self.sd(i)).collect())
    }

    /// The guide's median in the model's space, by address: its mean mapped through each
    /// latent's bijection (`tau = exp(loc)` for a positive `tau`).
    #[must_use]
    pub fn median(&self) -> ChoiceMap {
        let mut out = ChoiceMap::new();
        let mut buffer = Vec::new();
        for c in &self.coordinates {
            c.support.forward(&self.loc[c.offset..c.offset + c.dim], &mut buffer);
            if c.vector {
                out.insert(c.address.clone(), buffer.clone());
            } else {
                out.insert(c.address.clone(), buffer[0]);
            }
        }
        out
    }

    /// The guide's covariance L Lᵀ, row-major.
    #[must_use]
    pub fn covariance(&self) -> Vec<f64> {
        let d = self.dim();
        let l = &self.scale_tril;
        (0..d * d).map(|ij| (0..d).map(|k| l[(ij / d) * d + k] * l[(ij % d) * d + k]).sum()).collect()
    }

    /// The mean of the estimates over the last `window` steps (all steps if fewer).
    #[must_use]
    pub fn final_estimate(&self, window: usize) -> f64 {
        mean_of_last(&self.history, window)
    }

    /// `n` independent draws from the guide, row-major (n × d).
    #[must_use]
    pub fn sample(&self, n: usize, key: Key) -> Vec<f64> {
        let d = self.dim();
        let mut rng = key.rng();
        let mut eps = vec![0.0; d];
        let mut out = Vec::with_capacity(n * d);
        for _ in 0..n {
            eps.iter_mut().for_each(|e| *e = rng.sample(StandardNormal));
            for i in 0..d {
                out.push(self.loc[i] + self.scale_tril[i * d..=i * d + i].iter().zip(&eps).map(|(l, e)| l * e).sum::<f64>());
            }
        }
        out
    }
}

/// The mean of the last `window` entries of an objective history (all of them if fewer).
pub(super) fn mean_of_last(history: &[f64], window: usize) -> f64 {
    let tail = &history[history.len().saturating_sub(window.max(1))..];
    tail.iter().sum::<f64>() / tail.len().max(1) as f64
}

fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The guide's free parameters as one vector: loc (d), the softplus-raw diagonal of L (d),
/// then (full-rank) the strictly lower entries of L row by row.
struct Params {
    d: usize,
    guide: Guide,
    values: Vec<f64>,
}

impl Params {
    fn len(d: usize, guide: Guide) -> usize {
        match guide {
            Guide::MeanField => 2 * d,
            Guide::FullRank => 2 * d + d * (d - 1) / 2,
        }
    }

    /// Writes L (row-major, lower triangular) into `l`.
    fn scale_tril(&self, l: &mut [f64]) {
        let d = self.d;
        l.fill(0.0);
        for i in 0..d {
            l[i * d + i] = softplus(self.values[d + i]);
        }
        if self.guide == Guide::FullRank {
            let mut k = 2 * d;
            for i in 1..d {
                for j in 0..i {
                    l[i * d + j] = self.values[k];
                    k += 1;
                }
            }
        }
    }
}

/// One optimizer's state (shared with the programmable guides' fits).
pub(super) struct Ascent {
    optimizer: Optimizer,
    m: Vec<f64>,
    v: Vec<f64>,
    t: usize,
    /// (beta1^t, beta2^t) for Adam's bias correction.
    beta_powers: (f64, f64),
}

impl Ascent {
    pub(super) fn new(optimizer: Optimizer, n: usize) -> Self {
        Ascent { optimizer, m: vec![0.0; n], v: vec![0.0; n], t: 0, beta_powers: (1.0, 1.0) }
    }

    /// Moves `x` uphill along the gradient estimate `g`.
    pub(super) fn step(&mut self, x: &mut [f64], g: &[f64]) {
        match self.optimizer {
            Optimizer::Adam { learning_rate, beta1, beta2, epsilon } => {
                self.t += 1;
                // beta^t by running products (powi was a twentieth of a small model's step).
                self.beta_powers = (self.beta_powers.0 * beta1, self.beta_powers.1 * beta2);
                let (c1, c2) = (1.0 - self.beta_powers.0, 1.0 - self.beta_powers.1);
                for (((x, g), m), v) in x.iter_mut().zip(g).zip(&mut self.m).zip(&mut self.v) {
                    *m = beta1 * *m + (1.0 - beta1) * g;
                    *v = beta2 * *v + (1.0 - beta2) * g * g;
                    *x += learning_rate * (*m / c1) / ((*v / c2).sqrt() + epsilon);
                }
            }
            Optimizer::Sgd { learning_rate, decay } => {
                let rate = learning_rate / (1.0 + decay * self.t as f64);
                self.t += 1;
                x.iter_mut().zip(g).for_each(|(x, g)| *x += rate * g);
            }
        }
    }
}

fn validate(config: &AdviConfig) -> Result<(), InferenceError> {
    let positive = |name: &'static str, x: f64| {
        if x.is_finite() && x > 0.0 {
            Ok(())
        } else {
            Err(InferenceError::config(name, format!("is {x}, but must be finite and > 0")))
        }
    };
    if config.num_samples == 0 {
        return Err(InferenceError::config("num_samples", "must be at least 1 draw per step"));
    }
    if config.eval_every == 0 {
        return Err(InferenceError::config("eval_every", "must be at least 1 step"));
    }
    positive("init_scale", config.init_scale)?;
    if let Some(tol) = config.tol_rel_obj {
        positive("tol_rel_obj", tol)?;
    }
    match config.optimizer {
        Optimizer::Adam { learning_rate, beta1, beta2, epsilon } => {
            positive("learning_rate", learning_rate)?;
            positive("epsilon", epsilon)?;
            for (name, beta) in [("beta1", beta1), ("beta2", beta2)] {
                if !(0.0..1.0).contains(&beta) {
                    return Err(InferenceError::config(name, format!("is {beta}, but must be in [0, 1)")));
                }
            }
            Ok(())
        }
        Optimizer::Sgd { learning_rate, decay } => {
            positive("learning_rate", learning_rate)?;
            if decay.is_finite() && decay >= 0.0 {
                Ok(())
            } else {
                Err(InferenceError::config("decay", format!("is {decay}, but must be finite and >= 0")))
            }
        }
    }
}

/// How many consecutive steps may have no draw with a finite density before the fit stops.
const MAX_EMPTY_STEPS: usize = 10;

/// Fits a normal guide to `target` by stochastic gradient ascent (see the module docs).
///
/// # Errors
/// [`InferenceError::Config`] for a bad setting or a target without coordinates;
/// [`InferenceError::Init`] when no initial mean has a finite density;
/// [`InferenceError::Optimization`] when the fit diverges (a parameter or the estimate stops
/// being finite: lower the learning rate) or the guide's draws keep missing the target's
/// support; a model error that is not recoverable, as it is.
// Long for now (125 lines): the ADVI loop (draws, ELBO, gradient, Adam, the convergence check)
// kept in one place; its parts are candidates to split out with the next change to it.
pub fn advi<T: Target + ?Sized>(target: &T, config: &AdviConfig, key: Key) -> Result<VariationalFit, InferenceError> {
    let d = target.dim();
    if d == 0 {
        return Err(InferenceError::config("target", "the target has no coordinates: there is nothing to fit"));
    }
    validate(config)?;
    config.init.validate(d, 1)?;
    let mut rng = chain_rng(key, 0);
    let mut params = Params { d, guide: config.guide, values: vec![0.0; Params::len(d, config.guide)] };
    {
        let mut grad = vec![0.0; d];
        initial_point(target, &config.init, 0, &mut rng, &mut params.values[..d], &mut grad)?;
        // softplus⁻¹(init_scale).
        let raw = if config.init_scale > 30.0 { config.init_scale } else { config.init_scale.exp_m1().ln() };
        params.values[d..2 * d].fill(raw);
    }
    let k = config.num_samples;
    let n = params.values.len();
    let mut l = vec![0.0; d * d];
    let (mut eps, mut z, mut grad) = (vec![0.0; k * d], vec![0.0; d], vec![0.0; k * d]);
    let mut log_w = vec![0.0; k];
    let mut step_grad = vec![0.0; n];
    let mut ascent = Ascent::new(config.optimizer, n);
    let mut history = Vec::with_capacity(config.num_steps);
    let (mut dropped, mut empty_steps, mut converged) = (0, 0, false);
    let mut previous_window: Option<f64> = None;

    // d softplus'(raw_i), once per step (not once per draw: the exponentials were a tenth of
    // a small model's step).
    let mut dscale = vec![0.0; d];
    for step in 0..config.num_steps {
        params.scale_tril(&mut l);
        let log_det: f64 = (0..d).map(|i| l[i * d + i].ln()).sum();
        dscale.iter_mut().zip(&params.values[d..2 * d]).for_each(|(s, raw)| *s = sigmoid(*raw));
        for s in 0..k {
            let e = &mut eps[s * d..(s + 1) * d];
            e.iter_mut().for_each(|x| *x = rng.sample(StandardNormal));
            match config.guide {
                Guide::MeanField => (0..d).for_each(|i| z[i] = params.values[i] + l[i * d + i] * e[i]),
                Guide::FullRank => (0..d).for_each(|i| {
                    z[i] = params.values[i] + l[i * d..=i * d + i].iter().zip(e.iter()).map(|(l, e)| l * e).sum::<f64>();
                }),
            }
            let g = &mut grad[s * d..(s + 1) * d];
            let log_q = -log_det - 0.5 * e.iter().map(|x| x * x).sum::<f64>() - 0.5 * d as f64 * LN_2PI;
            log_w[s] = match target.log_density_and_gradient(&z, g) {
                Ok(lp) if lp.is_finite() && g.iter().all(|x| x.is_finite()) => lp - log_q,
                Ok(_) => f64::NEG_INFINITY,
                Err(e) if e.is_recoverable() => f64::NEG_INFINITY,
                Err(e) => return Err(e.into()),
            };
        }
        let valid = log_w.iter().filter(|w| w.is_finite()).count();
        dropped += k - valid;
        if valid == 0 {
            empty_steps += 1;
            if empty_steps >= MAX_EMPTY_STEPS {
                return Err(InferenceError::Optimization {
                    method: "ADVI",
                    message: format!(
                        "diverged, or left the target's support, at step {step}: no draw of the guide had a finite log density for {MAX_EMPTY_STEPS} steps in a row (guide mean {:?}; lower the learning rate)",
                        &params.values[..d]
                    ),
                });
            }
            continue;
        }
        empty_steps = 0;
        // Each valid draw's weight in the step: 1/K' for the ELBO, normalized importance
        // weights for the IWELBO.
        let estimate = match config.objective {
            VariationalObjective::Elbo => {
                let mean = log_w.iter().filter(|w| w.is_finite()).sum::<f64>() / valid as f64;
                log_w.iter_mut().for_each(|w| *w = if w.is_finite() { 1.0 / valid as f64 } else { 0.0 });
                mean
            }
            VariationalObjective::Iwelbo => {
                let lse = log_sum_exp(&log_w);
                log_w.iter_mut().for_each(|w| *w = (*w - lse).exp());
                lse - (k as f64).ln()
            }
        };
        step_grad.fill(0.0);
        for s in 0..k {
            let weight = log_w[s];
            if weight == 0.0 {
                continue;
            }
            let (e, g) = (&eps[s * d..(s + 1) * d], &grad[s * d..(s + 1) * d]);
            for i in 0..d {
                step_grad[i] += weight * g[i];
                // d/d raw_i of [log p(z) − log q(z)] with ε fixed: (g_i ε_i + 1 / L_ii) σ'(raw_i).
                step_grad[d + i] += weight * (g[i] * e[i] + 1.0 / l[i * d + i]) * dscale[i];
            }
            if config.guide == Guide::FullRank {
                // The strictly lower entries of L, row by row: d/dL_ij = g_i ε_j.
                let lower = (1..d).flat_map(|i| e[..i].iter().map(move |e_j| g[i] * e_j));
                step_grad[2 * d..].iter_mut().zip(lower).for_each(|(s, x)| *s += weight * x);
            }
        }
        ascent.step(&mut params.values, &step_grad);
        if !estimate.is_finite() || params.values.iter().any(|x| !x.is_finite()) {
            return Err(InferenceError::Optimization {
                method: "ADVI",
                message: format!("diverged at step {step}: the objective estimate is {estimate} (lower the learning rate)"),
            });
        }
        history.push(estimate);
        if let Some(tol) = config.tol_rel_obj {
            if history.len() % config.eval_every == 0 {
                let window = &history[history.len() - config.eval_every..];
                let mean = window.iter().sum::<f64>() / window.len() as f64;
                if let Some(previous) = previous_window {
                    if ((mean - previous) / mean.abs().max(f64::MIN_POSITIVE)).abs() < tol {
                        converged = true;
                        break;
                    }
                }
                previous_window = Some(mean);
            }
        }
    }
    params.scale_tril(&mut l);
    Ok(VariationalFit { guide: config.guide, loc: params.values[..d].to_vec(), scale_tril: l, history, converged, dropped, coordinates: Vec::new() })
}

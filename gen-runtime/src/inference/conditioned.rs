//! One call from a model to a posterior: `model(args).condition(&observations).nuts(...)`.
//!
//! NumPyro's `MCMC(NUTS(model)).run(key, data)` and Gen.jl's `importance_sampling(model,
//! args, observations, n)` in this library's terms. [`Call::condition`] pairs a model call
//! with its observations; the methods of [`Conditioned`] run an algorithm on it and return a
//! [`Posterior`] keyed by address in the model's own space.
//!
//! What the gradient methods sample: every **latent continuous choice** of the model, that is
//! every choice the model makes that is not observed, mapped to unconstrained coordinates
//! through its support's bijection (Stan's transforms; `tau > 0` moves as `log tau`, the
//! draws come back as `tau`). A latent discrete choice is an error naming it (a gradient
//! method cannot move it, and leaving it at one draw would be a silently wrong posterior):
//! marginalize it out in the model, or use importance sampling. [`Conditioned::select`]
//! narrows the latents to a selection (the others are then drawn once from the prior and held
//! fixed, as in a Gibbs step); an observed address is never sampled whatever the selection.
//!
//! ```
//! use gen_runtime::prelude::*;
//! use gen_runtime::inference::NutsConfig;
//!
//! // y_j ~ Normal(mu, sigma), with mu ~ Normal(0, 10) and sigma ~ HalfNormal(1).
//! #[gen]
//! fn model(n: usize) {
//!     let mu = normal(0.0, 10.0).at("mu");
//!     let sigma = half_normal(1.0).at("sigma");
//!     iid(normal(mu, sigma), n).at("y");
//! }
//!
//! let observations = choicemap! { "y" => vec![0.9, 1.4, 1.1, 0.7, 1.3] };
//! let config = NutsConfig { num_warmup: 300, num_samples: 300, ..NutsConfig::default() };
//! let posterior = model(5).condition(&observations).nuts(&config, Key::new(1))?;
//! println!("{}", posterior.summary()?);
//! let sigma = posterior.get("sigma")?; // draws of sigma itself, > 0
//! assert!(sigma.iter().all(|s| s > 0.0));
//! assert!((posterior.mean("mu")? - 1.08).abs() < 0.3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rand::Rng;

use crate::choice_map::{ChoiceMap, Selection};
use crate::distributions::Support;
use crate::error::GenError;
use crate::gfi::{Call, GenerativeFunction};
use crate::native::{Coordinate, LogDensity};
use crate::rng::Key;
use crate::value::ChoiceValue;

use super::guide::{fit_guide, GuideConfig};
use super::map::{laplace, map_estimate, MapConfig, Mode};
use super::posterior::{Approximation, Column, Posterior};
use super::target::{InferenceError, Init, Samples};
use super::vi::{advi, AdviConfig};
use super::{hmc, importance_sampling, mala, nuts, HmcConfig, MalaConfig, NutsConfig};

/// A model call with its observations: what the one-call inference methods run on. Built by
/// [`Call::condition`]; see the module documentation.
#[derive(Clone)]
pub struct Conditioned<'a, G: GenerativeFunction> {
    call: &'a Call<G>,
    observations: &'a ChoiceMap,
    selection: Selection,
    init: Option<ChoiceMap>,
}

impl<G: GenerativeFunction> Call<G> {
    /// This call conditioned on `observations`: run inference on it with
    /// [`Conditioned::nuts`], [`Conditioned::hmc`], [`Conditioned::mala`] or
    /// [`Conditioned::importance`].
    #[must_use]
    pub fn condition<'a>(&'a self, observations: &'a ChoiceMap) -> Conditioned<'a, G> {
        Conditioned { call: self, observations, selection: Selection::All, init: None }
    }
}

impl<'a, G: GenerativeFunction> Conditioned<'a, G> {
    /// Samples only the latents that `selection` selects (a name selects its subtree); the
    /// other latents are drawn once from the prior and held fixed. An entry that selects no
    /// latent is an error naming it.
    #[must_use]
    pub fn select(mut self, selection: Selection) -> Self {
        self.selection = selection;
        self
    }

    /// Initial values by address, in the model's space (`"tau" => 2.0`, not its log): every
    /// chain starts there; latents not given start uniform on (−2, 2) in unconstrained
    /// coordinates (Stan's default), drawn per chain. Replaces the config's `init`.
    #[must_use]
    pub fn init(mut self, values: ChoiceMap) -> Self {
        self.init = Some(values);
        self
    }

    /// The log density over the latents that the gradient methods sample, in unconstrained
    /// coordinates: the expert's [`Target`](super::Target), for a sampler of one's own.
    /// Latents outside the selection are drawn with `key`.
    ///
    /// # Errors
    /// A latent discrete choice among the selected ([`GenError::NotContinuous`]); a selection
    /// entry that covers no latent ([`GenError::UnmatchedSelection`]); the errors of
    /// [`Call::generate`] with the observations (an observation at an address the model never
    /// visits is [`GenError::UnvisitedConstraint`]).
    pub fn log_density(&self, key: Key) -> Result<LogDensity<G>, GenError> {
        LogDensity::new(self.call, self.observations, &self.selection, key)
    }

    /// NUTS (Stan's, with its warm-up) over the latents; see [`nuts()`].
    ///
    /// # Errors
    /// Those of [`Conditioned::log_density`] and of [`nuts()`], and initial values at
    /// addresses that are not latents.
    pub fn nuts(&self, config: &NutsConfig, key: Key) -> Result<Posterior, InferenceError> {
        let (target, init) = self.prepare(&config.init, config.num_chains, key)?;
        let config = NutsConfig { init, ..config.clone() };
        let samples = nuts(&target, &config, key)?;
        Ok(posterior(&target, samples))
    }

    /// HMC with a fixed number of leapfrog steps over the latents; see [`hmc()`].
    ///
    /// # Errors
    /// As [`Conditioned::nuts`], with [`hmc()`]'s.
    pub fn hmc(&self, config: &HmcConfig, key: Key) -> Result<Posterior, InferenceError> {
        let (target, init) = self.prepare(&config.init, config.num_chains, key)?;
        let config = HmcConfig { init, ..config.clone() };
        let samples = hmc(&target, &config, key)?;
        Ok(posterior(&target, samples))
    }

    /// MALA over the latents; see [`mala()`].
    ///
    /// # Errors
    /// As [`Conditioned::nuts`], with [`mala()`]'s.
    pub fn mala(&self, config: &MalaConfig, key: Key) -> Result<Posterior, InferenceError> {
        let (target, init) = self.prepare(&config.init, config.num_chains, key)?;
        let config = MalaConfig { init, ..config.clone() };
        let samples = mala(&target, &config, key)?;
        Ok(posterior(&target, samples))
    }

    /// ADVI over the latents (see [`advi()`]): a normal guide fitted in unconstrained
    /// coordinates, returned as `num_draws` independent draws from it mapped to the model's
    /// space, with the fitted guide and the ELBO history in [`Posterior::approximation`].
    /// The guide's initial mean is [`Conditioned::init`]'s values where given.
    ///
    /// # Errors
    /// As [`Conditioned::nuts`], with [`advi()`]'s (a diverging fit is
    /// [`InferenceError::Optimization`]).
    pub fn advi(&self, config: &AdviConfig, num_draws: usize, key: Key) -> Result<Posterior, InferenceError> {
        let (target, init) = self.prepare(&config.init, 1, key)?;
        let config = AdviConfig { init: first_point(init), ..config.clone() };
        let mut fit = advi(&target, &config, key)?;
        fit.coordinates = target.coordinates().to_vec();
        let draws = fit.sample(num_draws, key.split(u64::MAX - 2));
        Ok(approximate(&target, &draws, num_draws, Approximation::Variational(fit)))
    }

    /// Variational inference with a programmable guide: `guide` is a `#[gen]` call that
    /// proposes every latent of the model, with trainable parameters declared by
    /// [`param`](crate::param); see [`guide`](super::guide) for the gradient estimators.
    /// Returns `num_draws` draws from the fitted guide (one column per scalar choice; a
    /// Boolean as 0/1, an index or count as its number), with the fitted parameters and the
    /// ELBO history in [`Posterior::approximation`].
    ///
    /// ```
    /// use gen_runtime::prelude::*;
    /// use gen_runtime::inference::{Approximation, GuideConfig, Optimizer};
    ///
    /// // mu ~ N(0, 1), y ~ N(mu, 1) with y = 2: the posterior is N(1, 1/2).
    /// #[gen]
    /// fn model() {
    ///     let mu = normal(0.0, 1.0).at("mu");
    ///     normal(mu, 1.0).at("y");
    /// }
    /// #[gen]
    /// fn guide() {
    ///     let loc = param(0.0).at("loc");
    ///     let log_scale = param(0.0).at("log_scale");
    ///     normal(loc, log_scale.exp()).at("mu");
    /// }
    /// let config = GuideConfig { num_steps: 3000, num_samples: 4, optimizer: Optimizer::adam(0.02) };
    /// let posterior = model().condition(&choicemap! { "y" => 2.0 }).vi(&guide(), &config, 1000, Key::new(3))?;
    /// let Some(Approximation::Guide(fit)) = posterior.approximation() else { unreachable!() };
    /// assert!((fit.params.get(&"loc".into_address()).unwrap() - 1.0).abs() < 0.1);
    /// assert!((posterior.mean("mu")? - 1.0).abs() < 0.1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// A guide without parameters, a latent of the model that the guide does not propose, a
    /// guide choice the model does not make, a fit that diverges
    /// ([`InferenceError::Optimization`]), or a guide whose draws change their addresses.
    pub fn vi<Q: GenerativeFunction>(&self, guide: &Call<Q>, config: &GuideConfig, num_draws: usize, key: Key) -> Result<Posterior, InferenceError> {
        if self.selection != Selection::All {
            return Err(InferenceError::config("select", "a guide proposes every latent; a selection does not apply"));
        }
        let (fit, draws) = fit_guide(self.call, self.observations, guide, config, num_draws, key)?;
        let Some(first) = draws.first() else {
            return Ok(Posterior::from_approximation(Vec::new(), Vec::new(), 0, Approximation::Guide(fit)));
        };
        let mut columns = Vec::new();
        for (address, value) in first {
            match value {
                ChoiceValue::Reals(xs) => columns.extend((0..xs.len()).map(|k| Column { address: address.clone(), element: Some(k) })),
                _ => columns.push(Column { address: address.clone(), element: None }),
            }
        }
        let mut out = Vec::with_capacity(num_draws * columns.len());
        for draw in &draws {
            let same = draw.len() == first.len() && draw.iter().zip(first).all(|((a, _), (b, _))| a == b);
            if !same {
                return Err(InferenceError::config("guide", "the guide's draws visit different addresses; its draws cannot be tabulated by address"));
            }
            for (_, value) in draw {
                match value {
                    ChoiceValue::Real(x) => out.push(*x),
                    ChoiceValue::Bool(b) => out.push(f64::from(u8::from(*b))),
                    ChoiceValue::Index(i) => out.push(*i as f64),
                    ChoiceValue::Count(c) => out.push(*c as f64),
                    ChoiceValue::Reals(xs) => out.extend_from_slice(xs),
                    other => {
                        return Err(InferenceError::config("guide", format!("a {} choice cannot be tabulated", other.kind())));
                    }
                }
            }
        }
        Ok(Posterior::from_approximation(columns, out, num_draws, Approximation::Guide(fit)))
    }

    /// The posterior mode in the model's space by L-BFGS (Stan's `optimize`): found in
    /// unconstrained coordinates but without the bijections' log |det J|, so `tau`'s mode is
    /// the mode of `tau`'s density, not of `log tau`'s. Random initial points (where
    /// [`Init::Zeros`] has no finite density) are drawn with `key`.
    ///
    /// # Errors
    /// As [`Conditioned::nuts`], with [`map_estimate`]'s.
    pub fn map(&self, config: &MapConfig, key: Key) -> Result<MapEstimate, InferenceError> {
        let (target, init) = self.prepare(&config.init, 1, key)?;
        let target = target.without_jacobian();
        let mode = map_estimate(&target, &MapConfig { init: first_point(init), ..config.clone() }, key)?;
        Ok(MapEstimate { values: target.choices(&mode.theta), mode })
    }

    /// The Laplace approximation (Stan's `laplace`): N(θ*, H⁻¹) at the mode θ* of the density
    /// in unconstrained coordinates (Jacobian included, so that the Gaussian lives where the
    /// samplers move), with H the Hessian of −log p there; returned as `num_draws` independent
    /// draws mapped to the model's space, with the mode and covariance in
    /// [`Posterior::approximation`]. For a Gaussian posterior it is exact.
    ///
    /// # Errors
    /// As [`Conditioned::map`], and [`InferenceError::Optimization`] when the Hessian is not
    /// negative definite at the mode.
    pub fn laplace(&self, config: &MapConfig, num_draws: usize, key: Key) -> Result<Posterior, InferenceError> {
        let (target, init) = self.prepare(&config.init, 1, key)?;
        let mode = map_estimate(&target, &MapConfig { init: first_point(init), ..config.clone() }, key)?;
        let gaussian = laplace(&target, &mode)?;
        let draws = gaussian.sample(num_draws, key.split(u64::MAX - 2));
        Ok(approximate(&target, &draws, num_draws, Approximation::Laplace { mode, gaussian }))
    }

    /// Importance sampling with the prior as proposal, `n` particles: a posterior of one
    /// weighted chain over every latent scalar (discrete ones included); see
    /// [`importance_sampling`]. Particles invalid under the model have weight zero.
    ///
    /// # Errors
    /// Those of [`importance_sampling`]; a selection other than all latents (importance
    /// sampling draws every latent).
    pub fn importance(&self, n: usize, key: Key) -> Result<Posterior, InferenceError> {
        if self.selection != Selection::All {
            return Err(InferenceError::config("select", "importance sampling draws every latent; a selection does not apply"));
        }
        Ok(Posterior::from_particles(importance_sampling(self.call, self.observations, n, key)?))
    }

    /// The target and the chains' initial points. Chain c samples with `key.split(c)`, so the
    /// target's fixed latents and the initial points take keys no chain uses.
    fn prepare(&self, init: &Init, num_chains: usize, key: Key) -> Result<(LogDensity<G>, Init), InferenceError> {
        let target = self.log_density(key.split(u64::MAX))?;
        let init = self.init_for(&target, init, num_chains, key.split(u64::MAX - 1))?;
        Ok((target, init))
    }

    /// The config's `init`, or the initial values by address mapped to the target's
    /// coordinates (one point per chain).
    fn init_for(&self, target: &LogDensity<G>, init: &Init, num_chains: usize, key: Key) -> Result<Init, InferenceError> {
        let Some(values) = &self.init else { return Ok(init.clone()) };
        let coordinates = target.coordinates();
        if let Some(address) = values.addresses().find(|a| !coordinates.iter().any(|c| c.address == **a)) {
            let latents: Vec<String> = coordinates.iter().map(|c| c.address.to_string()).collect();
            return Err(InferenceError::config(
                "init",
                format!("`{address}` is not a sampled latent of the model; the latents are: {}", latents.join(", ")),
            ));
        }
        let mut rng = key.rng();
        let mut points = Vec::with_capacity(num_chains);
        for _ in 0..num_chains {
            let mut point = Vec::with_capacity(target.dim());
            for c in coordinates {
                match values.get(&c.address) {
                    Some(v) => unconstrain(c, v, &mut point)?,
                    None => point.extend((0..c.dim).map(|_| 2.0 * (2.0 * rng.random::<f64>() - 1.0))),
                }
            }
            points.push(point);
        }
        Ok(Init::PerChain(points))
    }
}

/// The posterior mode that [`Conditioned::map`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct MapEstimate {
    /// The mode in the model's space, by address (`values.get_as::<f64>("tau")`).
    pub values: ChoiceMap,
    /// Where L-BFGS stopped, in unconstrained coordinates, with the log density (without
    /// the Jacobian), the gradient, the iterations and whether it converged.
    pub mode: Mode,
}

impl std::fmt::Display for MapEstimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "posterior mode (log density {:.6}; {} L-BFGS iterations, {}):",
            self.mode.log_density, self.mode.iterations, self.mode.termination
        )?;
        if let Some(precision) = f.precision() {
            write!(f, "{:.*}", precision, self.values)
        } else {
            write!(f, "{}", self.values)
        }
    }
}

/// One initial point for a single-run method, from what [`Conditioned::prepare`] gives for
/// one chain.
fn first_point(init: Init) -> Init {
    match init {
        Init::PerChain(mut points) if points.len() == 1 => Init::Given(points.remove(0)),
        other => other,
    }
}

/// Appends the unconstrained coordinates of an initial value, checking its type and support.
fn unconstrain(c: &Coordinate, value: &ChoiceValue, point: &mut Vec<f64>) -> Result<(), InferenceError> {
    let bad = |message: String| InferenceError::config("init", format!("`{}`: {message}", c.address));
    let flat: Vec<f64> = match value {
        ChoiceValue::Real(x) => vec![*x],
        ChoiceValue::Reals(xs) => xs.to_vec(),
        other => return Err(bad(format!("a {} is not a value of a continuous choice", other.kind()))),
    };
    let expected = flat_len(c);
    if flat.len() != expected {
        return Err(bad(format!("{} values given, the choice has {expected}", flat.len())));
    }
    let inside = match c.support {
        Support::Simplex(_) => flat.iter().all(|x| *x > 0.0) && (flat.iter().sum::<f64>() - 1.0).abs() < 1e-9,
        s => flat.iter().all(|x| s.contains(*x)),
    };
    if !inside {
        return Err(bad(format!("{flat:?} is outside the support ({})", c.support)));
    }
    c.support.inverse(&flat, point);
    Ok(())
}

/// The number of constrained reals of a coordinate's choice.
fn flat_len(c: &Coordinate) -> usize {
    match c.support {
        Support::Simplex(k) => k,
        _ => c.dim,
    }
}

/// The posterior's scalar columns for a target's coordinates: one per scalar choice, one per
/// element of a vector-valued one.
fn columns(coordinates: &[Coordinate]) -> Vec<Column> {
    let mut out = Vec::new();
    for c in coordinates {
        if c.vector {
            out.extend((0..flat_len(c)).map(|k| Column { address: c.address.clone(), element: Some(k) }));
        } else {
            out.push(Column { address: c.address.clone(), element: None });
        }
    }
    out
}

/// Appends the model-space values of the unconstrained point `theta` in column order.
fn constrain(coordinates: &[Coordinate], theta: &[f64], buffer: &mut Vec<f64>, out: &mut Vec<f64>) {
    for c in coordinates {
        let t = &theta[c.offset..c.offset + c.dim];
        if matches!(c.support, Support::Real | Support::RealVector) {
            out.extend_from_slice(t);
        } else {
            c.support.forward(t, buffer);
            out.extend_from_slice(buffer);
        }
    }
}

/// A sampler's draws mapped to the model's space, as a posterior.
fn posterior<G: GenerativeFunction>(target: &LogDensity<G>, samples: Samples) -> Posterior {
    let coordinates = target.coordinates();
    let columns = columns(coordinates);
    let width = columns.len();
    let mut buffer = Vec::new();
    let constrained = samples
        .chains
        .iter()
        .map(|chain| {
            let mut out = Vec::with_capacity(samples.num_samples * width);
            for theta in chain.draws.chunks_exact(samples.dim.max(1)).take(samples.num_samples) {
                constrain(coordinates, theta, &mut buffer, &mut out);
            }
            out
        })
        .collect();
    Posterior::from_mcmc(columns, constrained, samples)
}

/// Independent draws from an approximation (rows of unconstrained points) mapped to the
/// model's space, as a posterior.
fn approximate<G: GenerativeFunction>(target: &LogDensity<G>, draws: &[f64], num_draws: usize, approximation: Approximation) -> Posterior {
    let coordinates = target.coordinates();
    let columns = columns(coordinates);
    let mut buffer = Vec::new();
    let mut out = Vec::with_capacity(num_draws * columns.len());
    for theta in draws.chunks_exact(target.dim().max(1)).take(num_draws) {
        constrain(coordinates, theta, &mut buffer, &mut out);
    }
    Posterior::from_approximation(columns, out, num_draws, approximation)
}

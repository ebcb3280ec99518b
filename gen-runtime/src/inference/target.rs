//! What the gradient-based samplers run on, how they start, what they return, and how they fail.
//!
//! A sampler sees the posterior only through [`Target`]: a log density on ℝᵈ with its gradient.
//! Every sampler returns [`Samples`], one [`Chain`] per chain, with the draws and the statistics
//! Stan reports per draw (acceptance statistic, divergence, leapfrog steps, tree depth, energy).

use rand::Rng;
use rayon::prelude::*;

use crate::error::GenError;
use crate::rng::{Key, KeyRng};

/// An unnormalized log density on ℝᵈ with its gradient: what HMC, NUTS and MALA sample from.
///
/// `Sync` because chains run in parallel and share the target.
pub trait Target: Sync {
    /// The number of coordinates d.
    fn dim(&self) -> usize;

    /// Writes ∇ log p(θ) into `grad` (length d) and returns log p(θ) up to a constant.
    ///
    /// # Errors
    /// Whatever the model reports. The samplers treat [recoverable](crate::GenError::is_recoverable) errors
    /// (a value outside the support, an invalid parameter, a non-finite density) as a log
    /// density of −∞, that is a divergent, rejected trajectory; any other error stops sampling.
    fn log_density_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> Result<f64, GenError>;

    /// log p(θ) up to a constant. The default evaluates the gradient too and discards it.
    ///
    /// # Errors
    /// As [`Target::log_density_and_gradient`].
    fn log_density(&self, theta: &[f64]) -> Result<f64, GenError> {
        let mut grad = vec![0.0; self.dim()];
        self.log_density_and_gradient(theta, &mut grad)
    }
}

/// A model's log density over its selected continuous choices (unconstrained by default):
/// how HMC, NUTS and MALA run on a `#[gen]` model.
impl<G: crate::gfi::GenerativeFunction> Target for crate::native::LogDensity<G> {
    fn dim(&self) -> usize {
        crate::native::LogDensity::dim(self)
    }

    #[inline]
    fn log_density_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> Result<f64, GenError> {
        crate::native::LogDensity::log_density_and_gradient(self, theta, grad)
    }

    fn log_density(&self, theta: &[f64]) -> Result<f64, GenError> {
        crate::native::LogDensity::log_density(self, theta)
    }
}

impl<T: Target + ?Sized> Target for &T {
    fn dim(&self) -> usize {
        (**self).dim()
    }

    #[inline]
    fn log_density_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> Result<f64, GenError> {
        (**self).log_density_and_gradient(theta, grad)
    }

    fn log_density(&self, theta: &[f64]) -> Result<f64, GenError> {
        (**self).log_density(theta)
    }
}

/// A [`Target`] from a closure; build it with [`from_fn`].
#[derive(Clone, Debug)]
pub struct FnTarget<F> {
    dim: usize,
    f: F,
}

/// A target whose log density and gradient come from `f(theta, grad) -> log p(theta)`.
///
/// ```
/// use gen_runtime::inference::{from_fn, Target};
///
/// // A standard normal in two dimensions.
/// let target = from_fn(2, |theta: &[f64], grad: &mut [f64]| {
///     grad.iter_mut().zip(theta).for_each(|(g, x)| *g = -x);
///     Ok(-0.5 * theta.iter().map(|x| x * x).sum::<f64>())
/// });
/// assert_eq!(target.log_density(&[1.0, 1.0])?, -1.0);
/// # Ok::<(), gen_runtime::GenError>(())
/// ```
pub fn from_fn<F>(dim: usize, f: F) -> FnTarget<F>
where
    F: Fn(&[f64], &mut [f64]) -> Result<f64, GenError> + Sync,
{
    FnTarget { dim, f }
}

impl<F> Target for FnTarget<F>
where
    F: Fn(&[f64], &mut [f64]) -> Result<f64, GenError> + Sync,
{
    fn dim(&self) -> usize {
        self.dim
    }

    #[inline]
    fn log_density_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> Result<f64, GenError> {
        (self.f)(theta, grad)
    }
}

/// Why a sampler could not run.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    /// A sampler setting is out of range (step size <= 0, no chains, an initial point of the
    /// wrong length, ...).
    #[error("invalid sampler setting `{parameter}`: {message}")]
    Config {
        /// The setting's name, as spelled in the config struct.
        parameter: &'static str,
        /// What is wrong and what is required.
        message: String,
    },
    /// No initial point with a finite log density and gradient was found for a chain.
    #[error("chain {chain}: {message}")]
    Init {
        /// The chain's index.
        chain: usize,
        /// What went wrong at the initial point.
        message: String,
    },
    /// Stan's heuristic search for a first step size failed (improper or discontinuous
    /// posterior).
    #[error("chain {chain}: step size search failed: {message}")]
    StepSize {
        /// The chain's index.
        chain: usize,
        /// Why the search failed.
        message: String,
    },
    /// An optimizer (MAP, variational inference) could not go on: its line search failed,
    /// its objective stopped being finite, or the point it found is not a maximum.
    #[error("{method}: {message}")]
    Optimization {
        /// The method, e.g. `L-BFGS`, `ADVI`, `Laplace`.
        method: &'static str,
        /// What happened, with the point where it did.
        message: String,
    },
    /// The model failed with an error that is not [recoverable](crate::GenError::is_recoverable).
    #[error(transparent)]
    Model(#[from] GenError),
}

impl InferenceError {
    pub(crate) fn config(parameter: &'static str, message: impl Into<String>) -> Self {
        InferenceError::Config { parameter, message: message.into() }
    }
}

/// Where each chain starts.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Init {
    /// Every coordinate 0 (the benchmark's configuration). If the log density or its
    /// gradient is not finite there (a scale parameter of 0, say), up to 99 points uniform
    /// on (−2, 2) follow, as [`Init::STAN`] tries them.
    #[default]
    Zeros,
    /// Every coordinate uniform on (−r, r), independently per chain; Stan's default is r = 2.
    /// Up to 100 points are tried until one has a finite log density and gradient, as in Stan.
    Uniform(f64),
    /// The same point for every chain.
    Given(Vec<f64>),
    /// One point per chain.
    PerChain(Vec<Vec<f64>>),
}

impl Init {
    /// Stan's default: uniform on (−2, 2) in every coordinate.
    pub const STAN: Init = Init::Uniform(2.0);

    pub(crate) fn validate(&self, dim: usize, num_chains: usize) -> Result<(), InferenceError> {
        let check_point = |point: &[f64], what: &str| {
            if point.len() != dim {
                return Err(InferenceError::config(
                    "init",
                    format!("{what} has length {}, but the target has dimension {dim}", point.len()),
                ));
            }
            if let Some(i) = point.iter().position(|x| !x.is_finite()) {
                return Err(InferenceError::config("init", format!("{what} has the non-finite value {} at coordinate {i}", point[i])));
            }
            Ok(())
        };
        match self {
            Init::Zeros => Ok(()),
            Init::Uniform(radius) => {
                if radius.is_finite() && *radius > 0.0 {
                    Ok(())
                } else {
                    Err(InferenceError::config("init", format!("Uniform radius is {radius}, but must be finite and > 0")))
                }
            }
            Init::Given(point) => check_point(point, "the initial point"),
            Init::PerChain(points) => {
                if points.len() != num_chains {
                    return Err(InferenceError::config("init", format!("{} initial points for {num_chains} chains", points.len())));
                }
                points.iter().enumerate().try_for_each(|(c, p)| check_point(p, &format!("the initial point of chain {c}")))
            }
        }
    }
}

/// One chain's draws after warm-up and its statistics.
///
/// Per-draw vectors have one entry per draw (`num_samples`); statistics cover the sampling
/// phase only, except where the name says warm-up.
#[derive(Clone, Debug, PartialEq)]
pub struct Chain {
    /// The draws, row-major: draw `i` is `draws[i * dim..(i + 1) * dim]`.
    pub draws: Vec<f64>,
    /// log p of each draw (up to the target's constant).
    pub log_density: Vec<f64>,
    /// The acceptance statistic of each transition: min(1, exp(−ΔH)) for HMC and MALA; for
    /// NUTS, Stan's mean Metropolis probability over every state of the trajectory.
    pub accept_prob: Vec<f64>,
    /// Whether each transition diverged (energy error above the threshold, or a non-finite
    /// log density or gradient on the trajectory).
    pub divergent: Vec<bool>,
    /// Leapfrog steps (gradient evaluations) of each transition.
    pub num_leapfrog: Vec<u32>,
    /// NUTS tree depth of each transition (Stan's `treedepth__`); empty for HMC and MALA.
    pub tree_depth: Vec<u32>,
    /// The Hamiltonian −log p(q) + ½ pᵀM⁻¹p at each draw, with the momentum it ended with
    /// (Stan's `energy__`, for E-BFMI).
    pub energy: Vec<f64>,
    /// Mean of `accept_prob`.
    pub mean_accept_prob: f64,
    /// Transitions that moved the chain: accepted proposals for HMC and MALA, draws that differ
    /// from the previous state for NUTS.
    pub accepted: usize,
    /// Divergent transitions after warm-up.
    pub divergences: usize,
    /// Divergent transitions during warm-up.
    pub warmup_divergences: usize,
    /// The acceptance statistic of each warm-up transition: dual averaging drives its mean
    /// since the last restart to `target_accept`. (The draws' mean is usually higher, as in
    /// Stan: the final step size exp(x̄) averages iterates that fluctuate into the steep side
    /// of the acceptance curve.)
    pub warmup_accept_prob: Vec<f64>,
    /// The step size used after warm-up (adapted, or the configured one).
    pub step_size: f64,
    /// The diagonal of the inverse mass matrix after warm-up (Stan's inverse metric; the
    /// posterior variances when adapted).
    pub inv_mass_matrix: Vec<f64>,
    /// Gradient evaluations of the whole run, warm-up, initialization and step size search
    /// included.
    pub gradient_evaluations: u64,
}

impl Chain {
    /// An empty chain with room for `num_warmup` and `num_samples` iterations in dimension `dim`.
    pub(crate) fn with_capacity(dim: usize, num_warmup: usize, num_samples: usize, tree: bool) -> Self {
        Chain {
            draws: Vec::with_capacity(num_samples * dim),
            log_density: Vec::with_capacity(num_samples),
            accept_prob: Vec::with_capacity(num_samples),
            divergent: Vec::with_capacity(num_samples),
            num_leapfrog: Vec::with_capacity(num_samples),
            tree_depth: Vec::with_capacity(if tree { num_samples } else { 0 }),
            energy: Vec::with_capacity(num_samples),
            mean_accept_prob: f64::NAN,
            accepted: 0,
            divergences: 0,
            warmup_divergences: 0,
            warmup_accept_prob: Vec::with_capacity(num_warmup),
            step_size: f64::NAN,
            inv_mass_matrix: Vec::new(),
            gradient_evaluations: 0,
        }
    }

    /// Fills in the summary statistics from the per-draw vectors.
    pub(crate) fn finish(&mut self) {
        let n = self.accept_prob.len();
        self.mean_accept_prob = if n == 0 { f64::NAN } else { self.accept_prob.iter().sum::<f64>() / n as f64 };
        self.divergences = self.divergent.iter().filter(|&&d| d).count();
    }
}

/// The output of a sampler: draws of every chain and their statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples {
    /// The target's dimension.
    pub dim: usize,
    /// Draws per chain after warm-up.
    pub num_samples: usize,
    /// One entry per chain, in chain order (chain `c` used the key `key.split(c)`).
    pub chains: Vec<Chain>,
}

impl Samples {
    /// The number of chains.
    #[must_use]
    pub fn num_chains(&self) -> usize {
        self.chains.len()
    }

    /// Draw `i` of chain `chain`.
    ///
    /// # Panics
    /// If `chain` or `i` is out of range.
    #[must_use]
    pub fn draw(&self, chain: usize, i: usize) -> &[f64] {
        &self.chains[chain].draws[i * self.dim..(i + 1) * self.dim]
    }

    /// Coordinate `coord` of every draw of chain `chain`, in order.
    ///
    /// # Panics
    /// If `chain` or `coord` is out of range.
    #[must_use]
    pub fn chain_column(&self, chain: usize, coord: usize) -> Vec<f64> {
        assert!(coord < self.dim, "coordinate {coord} out of range for dimension {}", self.dim);
        self.chains[chain].draws.iter().skip(coord).step_by(self.dim).copied().collect()
    }

    /// Coordinate `coord` as (chains, draws), the layout [`crate::diagnostics`] takes.
    ///
    /// # Panics
    /// If `coord` is out of range.
    #[must_use]
    pub fn column(&self, coord: usize) -> Vec<Vec<f64>> {
        (0..self.num_chains()).map(|c| self.chain_column(c, coord)).collect()
    }

    /// The mean of coordinate `coord` over all chains' draws (NaN without draws).
    ///
    /// # Panics
    /// If `coord` is out of range.
    #[must_use]
    pub fn mean(&self, coord: usize) -> f64 {
        let column = self.column(coord);
        let n: usize = column.iter().map(Vec::len).sum();
        column.iter().flatten().sum::<f64>() / n as f64
    }

    /// The sample standard deviation (divisor n − 1) of coordinate `coord` over all chains'
    /// draws (NaN with fewer than 2 draws).
    ///
    /// # Panics
    /// If `coord` is out of range.
    #[must_use]
    pub fn sd(&self, coord: usize) -> f64 {
        let column = self.column(coord);
        let n: usize = column.iter().map(Vec::len).sum();
        let mean = column.iter().flatten().sum::<f64>() / n as f64;
        let ss: f64 = column.iter().flatten().map(|x| (x - mean) * (x - mean)).sum();
        (ss / (n as f64 - 1.0)).sqrt()
    }

    /// Divergent transitions after warm-up, over all chains.
    #[must_use]
    pub fn divergences(&self) -> usize {
        self.chains.iter().map(|c| c.divergences).sum()
    }

    /// The mean acceptance statistic over all chains' draws (NaN without draws).
    #[must_use]
    pub fn mean_accept_prob(&self) -> f64 {
        let n: usize = self.chains.iter().map(|c| c.accept_prob.len()).sum();
        self.chains.iter().flat_map(|c| &c.accept_prob).sum::<f64>() / n as f64
    }

    /// The fraction of transitions that moved the chain, over all chains (NaN without draws).
    #[must_use]
    pub fn accept_rate(&self) -> f64 {
        let accepted: usize = self.chains.iter().map(|c| c.accepted).sum();
        accepted as f64 / (self.num_samples * self.num_chains()) as f64
    }

    /// Gradient evaluations of the whole run, over all chains.
    #[must_use]
    pub fn gradient_evaluations(&self) -> u64 {
        self.chains.iter().map(|c| c.gradient_evaluations).sum()
    }
}

/// Runs `chain(c)` for every chain, in parallel when there are several. Each chain seeds its
/// own RNG from `key.split(c)`, so the result does not depend on the thread count.
pub(crate) fn run_chains<F>(num_chains: usize, chain: F) -> Result<Vec<Chain>, InferenceError>
where
    F: Fn(usize) -> Result<Chain, InferenceError> + Sync + Send,
{
    if num_chains == 1 {
        // No thread pool for the benchmark's single chain.
        return Ok(vec![chain(0)?]);
    }
    (0..num_chains).into_par_iter().map(chain).collect()
}

/// Checks the settings every sampler shares.
pub(crate) fn validate_common<T: Target + ?Sized>(
    target: &T,
    num_chains: usize,
    init: &Init,
    inv_mass_matrix: Option<&[f64]>,
) -> Result<(), InferenceError> {
    let dim = target.dim();
    if dim == 0 {
        return Err(InferenceError::config("target", "the target has dimension 0: nothing to sample"));
    }
    if num_chains == 0 {
        return Err(InferenceError::config("num_chains", "must be at least 1"));
    }
    init.validate(dim, num_chains)?;
    if let Some(m) = inv_mass_matrix {
        if m.len() != dim {
            return Err(InferenceError::config("inv_mass_matrix", format!("has length {}, but the target has dimension {dim}", m.len())));
        }
        if let Some(i) = m.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(InferenceError::config(
                "inv_mass_matrix",
                format!("entry {i} is {}, but every entry must be finite and > 0", m[i]),
            ));
        }
    }
    Ok(())
}

/// Checks that a setting is finite and > 0.
pub(crate) fn require_positive(parameter: &'static str, value: f64) -> Result<(), InferenceError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(InferenceError::config(parameter, format!("is {value}, but must be finite and > 0")))
    }
}

/// Checks that a target acceptance statistic lies strictly between 0 and 1.
pub(crate) fn require_probability(parameter: &'static str, value: f64) -> Result<(), InferenceError> {
    if value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(InferenceError::config(parameter, format!("is {value}, but must lie strictly between 0 and 1")))
    }
}

/// Evaluates the target, mapping a recoverable model error to log p = −∞ and any non-finite
/// log density to −∞ too, so callers only check `is_finite`.
#[inline]
pub(crate) fn evaluate<T: Target + ?Sized>(target: &T, q: &[f64], grad: &mut [f64]) -> Result<f64, GenError> {
    match target.log_density_and_gradient(q, grad) {
        Ok(logp) if logp.is_finite() => Ok(logp),
        Ok(_) => Ok(f64::NEG_INFINITY),
        Err(e) if e.is_recoverable() => Ok(f64::NEG_INFINITY),
        Err(e) => Err(e),
    }
}

/// How many random initial points Stan tries before giving up.
const MAX_INIT_TRIES: usize = 100;

/// Finds chain `chain`'s initial point: writes it into `q`, its gradient into `grad`, and
/// returns its log density and the number of gradient evaluations spent.
pub(crate) fn initial_point<T: Target + ?Sized>(
    target: &T,
    init: &Init,
    chain: usize,
    rng: &mut KeyRng,
    q: &mut [f64],
    grad: &mut [f64],
) -> Result<(f64, u64), InferenceError> {
    let tries = if matches!(init, Init::Uniform(_) | Init::Zeros) { MAX_INIT_TRIES } else { 1 };
    let mut last = String::new();
    let mut uniform = |q: &mut [f64], r: f64| q.iter_mut().for_each(|x| *x = r * (2.0 * rng.random::<f64>() - 1.0));
    for attempt in 1..=tries {
        match init {
            Init::Zeros if attempt == 1 => q.fill(0.0),
            Init::Zeros => uniform(q, 2.0),
            Init::Uniform(r) => uniform(q, *r),
            Init::Given(point) => q.copy_from_slice(point),
            Init::PerChain(points) => q.copy_from_slice(&points[chain]),
        }
        let logp = match target.log_density_and_gradient(q, grad) {
            Ok(logp) => logp,
            Err(e) if e.is_recoverable() => {
                last = e.to_string();
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if !logp.is_finite() {
            last = format!("log density {logp} at {q:?}");
        } else if let Some(i) = grad.iter().position(|g| !g.is_finite()) {
            last = format!("gradient {} in coordinate {i} at {q:?}", grad[i]);
        } else {
            return Ok((logp, attempt as u64));
        }
    }
    let message = if tries > 1 {
        format!("no initial point with a finite log density and gradient in {tries} tries; last: {last}")
    } else {
        format!("the initial point has no finite log density and gradient: {last}")
    };
    Err(InferenceError::Init { chain, message })
}

/// The RNG of chain `chain`.
pub(crate) fn chain_rng(key: Key, chain: usize) -> KeyRng {
    key.split(chain as u64).rng()
}

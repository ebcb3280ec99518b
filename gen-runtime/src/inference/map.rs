//! The mode of a [`Target`] by L-BFGS (MAP estimation), and the Laplace approximation there: a
//! Gaussian at the mode whose covariance is the inverse Hessian of −log p.
//!
//! L-BFGS is argmin's (`LBFGS` with a More-Thuente line search), not written here: it is a
//! well-kept implementation of exactly Stan's optimizer family. The Hessian is the Jacobian
//! of the model's exact gradient by central differences, one coordinate at a time and then
//! symmetrized: the gradients are exact (dual numbers), so the only error is the difference
//! quotient's, which vanishes for a Gaussian posterior (its gradient is linear) and is
//! O(h²) otherwise. (An exact Hessian would need the model compiled for second-order dual
//! numbers; nested finite differences of the log density would lose half the digits.)
//!
//! ```
//! use gen_runtime::inference::{from_fn, laplace, map_estimate, MapConfig};
//! use gen_runtime::Key;
//!
//! // A Gaussian with mean (1, -2) and covariance [[1, 0.5], [0.5, 2]].
//! let precision = [[8.0 / 7.0, -2.0 / 7.0], [-2.0 / 7.0, 4.0 / 7.0]];
//! let target = from_fn(2, move |theta: &[f64], grad: &mut [f64]| {
//!     let d = [theta[0] - 1.0, theta[1] + 2.0];
//!     grad[0] = -(precision[0][0] * d[0] + precision[0][1] * d[1]);
//!     grad[1] = -(precision[1][0] * d[0] + precision[1][1] * d[1]);
//!     Ok(0.5 * (grad[0] * d[0] + grad[1] * d[1]))
//! });
//! let mode = map_estimate(&target, &MapConfig::default(), Key::new(0))?;
//! assert!((mode.theta[0] - 1.0).abs() < 1e-6 && (mode.theta[1] + 2.0).abs() < 1e-6);
//! let gaussian = laplace(&target, &mode)?;
//! assert!((gaussian.covariance[1] - 0.5).abs() < 1e-6); // row-major [[1, 0.5], [0.5, 2]]
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use rand_distr::{Distribution as _, StandardNormal};

use crate::error::GenError;
use crate::rng::Key;

use super::target::{chain_rng, initial_point, InferenceError, Init, Target};

/// Settings of [`map_estimate`]. The defaults are Stan's `optimize` (L-BFGS, history 5, up to
/// 2000 iterations) with a gradient tolerance of 1e-8.
#[derive(Clone, Debug, PartialEq)]
pub struct MapConfig {
    /// Most L-BFGS iterations; stopping there is reported, not an error.
    pub max_iters: u64,
    /// Converged when the gradient's Euclidean norm is below this.
    pub tol_grad: f64,
    /// Converged when −log p changes by less than this in one iteration.
    pub tol_cost: f64,
    /// The number of past steps L-BFGS keeps.
    pub history: usize,
    /// Where the search starts (unconstrained coordinates); [`Init::Zeros`] falls back to
    /// uniform points on (−2, 2) where the density is not finite, as the samplers do.
    pub init: Init,
}

impl Default for MapConfig {
    fn default() -> Self {
        MapConfig { max_iters: 2000, tol_grad: 1e-8, tol_cost: 1e-12, history: 5, init: Init::Zeros }
    }
}

/// Where [`map_estimate`] stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct Mode {
    /// The mode, in the target's coordinates.
    pub theta: Vec<f64>,
    /// log p there (up to the target's constant).
    pub log_density: f64,
    /// ∇ log p there (near zero when converged).
    pub gradient: Vec<f64>,
    /// L-BFGS iterations made.
    pub iterations: u64,
    /// Whether a tolerance was met (false: the iteration limit was reached first).
    pub converged: bool,
    /// argmin's reason for stopping.
    pub termination: String,
}

/// −log p as argmin's cost, recording the first error that is not "no mass here".
struct Objective<'a, T: ?Sized> {
    target: &'a T,
}

impl<T: Target + ?Sized> Objective<'_, T> {
    /// −log p(θ) and its gradient; a point without mass costs +∞ (the line search backs off).
    fn evaluate(&self, theta: &[f64]) -> Result<(f64, Vec<f64>), GenError> {
        let mut grad = vec![0.0; theta.len()];
        match self.target.log_density_and_gradient(theta, &mut grad) {
            Ok(lp) if lp.is_finite() && grad.iter().all(|g| g.is_finite()) => {
                grad.iter_mut().for_each(|g| *g = -*g);
                Ok((-lp, grad))
            }
            Ok(_) => Ok((f64::INFINITY, vec![f64::NAN; theta.len()])),
            Err(e) if e.is_recoverable() => Ok((f64::INFINITY, vec![f64::NAN; theta.len()])),
            Err(e) => Err(e),
        }
    }
}

impl<T: Target + ?Sized> CostFunction for Objective<'_, T> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, theta: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok(self.evaluate(theta)?.0)
    }
}

impl<T: Target + ?Sized> Gradient for Objective<'_, T> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, theta: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.evaluate(theta)?.1)
    }
}

/// The mode of `target` by L-BFGS from `config.init` (random fallbacks drawn with `key`).
///
/// # Errors
/// [`InferenceError::Config`] for a bad setting or an empty target;
/// [`InferenceError::Init`] when no starting point has a finite density;
/// [`InferenceError::Optimization`] when the line search fails or the search ends at a point
/// without a finite density (a posterior without a mode, or a discontinuous one); a model
/// error that is not recoverable, as it is.
pub fn map_estimate<T: Target + ?Sized>(target: &T, config: &MapConfig, key: Key) -> Result<Mode, InferenceError> {
    let dim = target.dim();
    if dim == 0 {
        return Err(InferenceError::config("target", "the target has no coordinates: there is nothing to optimize"));
    }
    if config.history == 0 {
        return Err(InferenceError::config("history", "must be at least 1"));
    }
    if !(config.tol_grad >= 0.0 && config.tol_cost >= 0.0) {
        return Err(InferenceError::config("tol_grad", "tolerances must be >= 0"));
    }
    config.init.validate(dim, 1)?;
    let mut start = vec![0.0; dim];
    let mut grad = vec![0.0; dim];
    initial_point(target, &config.init, 0, &mut chain_rng(key, 0), &mut start, &mut grad)?;

    let solver = LBFGS::new(MoreThuenteLineSearch::new(), config.history)
        .with_tolerance_grad(config.tol_grad)
        .and_then(|s| s.with_tolerance_cost(config.tol_cost))
        .map_err(|e| InferenceError::config("tol_grad", e.to_string()))?;
    let run = Executor::new(Objective { target }, solver).configure(|state| state.param(start).max_iters(config.max_iters)).run();
    let result = match run {
        Ok(result) => result,
        Err(e) => {
            // A model error that no point would fix comes back as it is.
            return match e.downcast::<GenError>() {
                Ok(model) => Err(model.into()),
                Err(e) => Err(InferenceError::Optimization { method: "L-BFGS", message: e.to_string() }),
            };
        }
    };
    let state = result.state();
    let theta = state.get_best_param().or_else(|| state.get_param()).cloned().ok_or_else(|| InferenceError::Optimization {
        method: "L-BFGS",
        message: "the optimizer returned no point".to_owned(),
    })?;
    let (cost, minus_grad) = Objective { target }.evaluate(&theta)?;
    if !cost.is_finite() {
        return Err(InferenceError::Optimization {
            method: "L-BFGS",
            message: format!("the search ended at {theta:?}, where the log density is not finite"),
        });
    }
    let reason = state.get_termination_reason().map_or_else(|| "unknown".to_owned(), |r| r.text().to_owned());
    let converged = matches!(state.get_termination_status(), TerminationStatus::Terminated(r) if *r != TerminationReason::MaxItersReached);
    Ok(Mode {
        theta,
        log_density: -cost,
        gradient: minus_grad.iter().map(|g| -g).collect(),
        iterations: state.get_iter(),
        converged,
        termination: reason,
    })
}

/// The Hessian of log p at `theta` (row-major, d × d): central differences of the exact
/// gradient with step 1e-5 · max(1, |θ_j|), symmetrized.
///
/// # Errors
/// A gradient that is not finite near `theta`, or a model error.
pub fn hessian<T: Target + ?Sized>(target: &T, theta: &[f64]) -> Result<Vec<f64>, InferenceError> {
    let d = theta.len();
    let mut h = vec![0.0; d * d];
    let (mut plus, mut minus) = (vec![0.0; d], vec![0.0; d]);
    let mut point = theta.to_vec();
    for j in 0..d {
        let step = 1e-5 * theta[j].abs().max(1.0);
        for (sign, out) in [(1.0, &mut plus), (-1.0, &mut minus)] {
            point[j] = theta[j] + sign * step;
            let lp = target.log_density_and_gradient(&point, out)?;
            if !lp.is_finite() || out.iter().any(|g| !g.is_finite()) {
                return Err(InferenceError::Optimization {
                    method: "Laplace",
                    message: format!("the gradient is not finite at {point:?}, next to the mode"),
                });
            }
        }
        point[j] = theta[j];
        for i in 0..d {
            h[i * d + j] = (plus[i] - minus[i]) / (2.0 * step);
        }
    }
    for i in 0..d {
        for j in 0..i {
            let mean = 0.5 * (h[i * d + j] + h[j * d + i]);
            h[i * d + j] = mean;
            h[j * d + i] = mean;
        }
    }
    Ok(h)
}

/// A Gaussian approximation N(mean, covariance) in the target's coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct Laplace {
    /// The mode.
    pub mean: Vec<f64>,
    /// The inverse of the Hessian of −log p at the mode, row-major d × d.
    pub covariance: Vec<f64>,
    /// Its lower Cholesky factor, row-major.
    cholesky: Vec<f64>,
}

impl Laplace {
    /// The dimension.
    #[must_use]
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The standard deviation of coordinate `i`.
    #[must_use]
    pub fn sd(&self, i: usize) -> f64 {
        self.covariance[i * self.dim() + i].sqrt()
    }

    /// `n` independent draws, row-major (n × d), from the key's stream.
    #[must_use]
    pub fn sample(&self, n: usize, key: Key) -> Vec<f64> {
        let d = self.dim();
        let mut rng = key.rng();
        let mut out = Vec::with_capacity(n * d);
        let mut z = vec![0.0; d];
        for _ in 0..n {
            z.iter_mut().for_each(|x| *x = StandardNormal.sample(&mut rng));
            for i in 0..d {
                let row = &self.cholesky[i * d..i * d + i + 1];
                out.push(self.mean[i] + row.iter().zip(&z).map(|(l, x)| l * x).sum::<f64>());
            }
        }
        out
    }
}

/// The Laplace approximation at `mode`: N(θ*, H⁻¹) with H the Hessian of −log p at θ*.
///
/// # Errors
/// [`InferenceError::Optimization`] when the Hessian is not positive definite there (not a
/// maximum, or a flat direction), and the errors of [`hessian`].
pub fn laplace<T: Target + ?Sized>(target: &T, mode: &Mode) -> Result<Laplace, InferenceError> {
    let d = mode.theta.len();
    let h = hessian(target, &mode.theta)?;
    let negative = nalgebra::DMatrix::from_row_slice(d, d, &h.iter().map(|x| -x).collect::<Vec<_>>());
    let not_definite = || InferenceError::Optimization {
        method: "Laplace",
        message: format!("the Hessian of -log p at the mode {:?} is not positive definite: not a strict maximum", mode.theta),
    };
    let covariance = negative.cholesky().ok_or_else(not_definite)?.inverse();
    let cholesky = covariance.clone().cholesky().ok_or_else(not_definite)?.l();
    let row_major = |m: &nalgebra::DMatrix<f64>| (0..d).flat_map(|i| (0..d).map(move |j| (i, j))).map(|(i, j)| m[(i, j)]).collect();
    Ok(Laplace { mean: mode.theta.clone(), covariance: row_major(&covariance), cholesky: row_major(&cholesky) })
}

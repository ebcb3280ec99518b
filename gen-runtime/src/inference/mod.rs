//! Inference over the generative function interface, one file per algorithm:
//! [`importance`] sampling and resampling, Metropolis-Hastings ([`mh`](mod@mh)), particle filters
//! ([`smc`]) for Unfold models, gradient-based MCMC on a log density ([`hmc()`],
//! [`nuts()`], [`mala()`]), variational inference ([`advi()`]) and the mode with the Laplace
//! approximation there ([`map_estimate`], [`laplace()`]). [`weights`] holds what importance
//! sampling and SMC share.
//!
//! [`hmc()`], [`nuts()`] and [`mala()`] sample from any [`Target`] (a log density on ℝᵈ with its
//! gradient, such as a model's [`LogDensity`](crate::LogDensity)); each takes a config struct
//! whose `Default` is a sensible start and a [`Key`](crate::Key), runs its chains in parallel
//! (chain `c` draws from `key.split(c)`, so results do not depend on the thread count), and
//! returns [`Samples`]. Divergences and non-finite densities are counted and rejected, never
//! panics and never NaN in the draws; bad settings are an [`InferenceError::Config`] naming
//! the setting. [`hmc_batched`] runs HMC's chains in lock step on a [`BatchTarget`], one
//! batched evaluation per leapfrog step: how chains run on the Burn engine.
//!
//! ```
//! use gen_runtime::diagnostics::{ess_bulk, rank_normalized_split_rhat};
//! use gen_runtime::inference::{from_fn, hmc, nuts, HmcConfig, NutsConfig};
//! use gen_runtime::Key;
//!
//! // x ~ Normal(0, 1), y ~ Normal(0, 3²), independent.
//! let target = from_fn(2, |theta: &[f64], grad: &mut [f64]| {
//!     let (x, y) = (theta[0], theta[1]);
//!     grad[0] = -x;
//!     grad[1] = -y / 9.0;
//!     Ok(-0.5 * x * x - y * y / 18.0)
//! });
//!
//! // NUTS with Stan's warm-up: 4 chains, step size and diagonal mass matrix adapted.
//! let config = NutsConfig { num_warmup: 500, num_samples: 500, ..NutsConfig::default() };
//! let samples = nuts(&target, &config, Key::new(42))?;
//! let y = samples.column(1); // (chains, draws), as the diagnostics take it
//! assert!(rank_normalized_split_rhat(&y)? < 1.05);
//! assert!(ess_bulk(&y)? > 400.0);
//! assert_eq!(samples.divergences(), 0);
//!
//! // Static HMC: fixed step size and leapfrog count, one chain from zeros.
//! let config = HmcConfig { step_size: 0.3, num_leapfrog: 10, ..HmcConfig::default() };
//! let samples = hmc(&target, &config, Key::new(42))?;
//! assert!(samples.chains[0].mean_accept_prob > 0.8);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod adapt;
pub mod conditioned;
pub mod hmc;
pub mod hmc_batch;
pub mod guide;
pub mod importance;
pub mod mala;
pub mod map;
pub mod mh;
pub mod nuts;
pub mod posterior;
pub mod smc;
pub mod target;
pub mod vi;
pub mod weights;

pub use conditioned::{Conditioned, MapEstimate};
pub use posterior::{Approximation, Column, Draw, Draws, Posterior, PosteriorError};
pub use adapt::{init_stepsize, DualAveraging, WarmupSchedule, WelfordVariance, WindowSettings};
pub use hmc::{hmc, HmcConfig, DEFAULT_MAX_ENERGY_ERROR};
pub use hmc_batch::{hmc_batched, BatchTarget, Rows};
pub use importance::{importance_resampling, importance_sampling, importance_sampling_with_proposal};
pub use guide::{GuideConfig, GuideFit, GuideParams};
pub use mala::{mala, MalaConfig};
pub use map::{hessian, laplace, map_estimate, Laplace, MapConfig, Mode};
pub use mh::{mh, mh_with_proposal};
pub use nuts::{nuts, NutsConfig};
pub use smc::{particle_filter, particle_filter_each_step, SmcConfig, SmcResult};
pub use target::{from_fn, Chain, FnTarget, InferenceError, Init, Samples, Target};
pub use vi::{advi, AdviConfig, Guide, Optimizer, VariationalFit, VariationalObjective};
pub use weights::{log_sum_exp, Resampling};

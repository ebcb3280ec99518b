//! The Burn engine: the same `#[gen]` models, with every value a Burn tensor batched over
//! particles or chains.
//!
//! Under this engine a model body's `Real` is [`Batched`]: a tensor whose rows are the
//! particles of an importance sampler or the chains of a gradient-based sampler, and whose
//! columns, inside a `plate`, are the data points (the plate's closure runs once, on the
//! whole data vector). Data arguments are shared by every row. The body is the one the
//! native engine compiles; only the handler differs.
//!
//! ```
//! use gen_runtime::burn::{Cpu, Engine};
//! use gen_runtime::prelude::*;
//!
//! #[gen]
//! fn line(xs: &[f64]) {
//!     let a = normal(0.0, 1.0).at("a");
//!     let b = normal(0.0, 1.0).at("b");
//!     plate(xs, |x| normal(a + b * x, 0.5)).at("ys");
//! }
//!
//! let xs = [0.0, 0.5, 1.0];
//! let observations = choicemap! { "ys" => vec![0.1, 0.6, 0.9] };
//! let engine = Engine::<Cpu>::default();
//! let batched = engine.importance_log_weights(&line(&xs), &observations, 1000, Key::new(1))?;
//! let native = gen_runtime::importance_log_weights(&line(&xs), &observations, 1000, Key::new(1))?;
//! // The same particles (same keys, same samplers), weights equal up to f32 rounding.
//! for (b, n) in batched.log_weights.iter().zip(&native.log_weights) {
//!     assert!((b - n).abs() < 1e-3 * n.abs().max(1.0));
//! }
//! # Ok::<(), gen_runtime::GenError>(())
//! ```
//!
//! On the CPU backends the engine fuses: the element-wise work of a batched run is evaluated
//! in vectorized host passes (one per chain of operations that ends in a sum over the data),
//! with Burn tensors for its inputs and results; see [`Engine::with_fusion`]. On CUDA every
//! step is a Burn operation.
//!
//! What a batched run cannot do: let a random choice steer control flow (every row must take
//! the same path; discrete latents and vectors of latent choices are therefore rejected with
//! [`GenError::Unsupported`](crate::GenError::Unsupported), while observed discrete values
//! are fine). The native engine runs such models.

mod engine;
mod fused;
mod tape;

pub use engine::{Engine, EngineTarget};
pub use tape::Batched;

/// The CPU backend (burn-flex), the default.
pub type Cpu = burn_flex::Flex;

/// The CPU backend burn-ndarray, for comparison with flex (cargo feature `ndarray`).
#[cfg(feature = "ndarray")]
pub type NdArray = burn_ndarray::NdArray;

/// NVIDIA GPUs through burn-cuda (cargo feature `cuda`).
#[cfg(feature = "cuda")]
pub type Cuda = burn_cuda::Cuda;

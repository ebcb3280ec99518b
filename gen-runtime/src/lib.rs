//! Generative functions in Rust: the modeling language and runtime of the Gen family.
//!
//! Write a model as a function whose random choices carry addresses, then run the generative
//! function interface on it:
//!
//! ```
//! use gen_runtime::prelude::*;
//!
//! // y_i ~ Normal(a + b x_i + c x_i², 0.05), a, b, c ~ Normal(0, 1).
//! #[gen]
//! fn polynomial(xs: &[f64]) -> Real {
//!     let a = normal(0.0, 1.0).at("a");
//!     let b = normal(0.0, 1.0).at("b");
//!     let c = normal(0.0, 1.0).at("c");
//!     plate(xs, |x| normal(a + b * x + c * x * x, 0.05)).at("ys");
//!     a
//! }
//!
//! let xs = [0.0, 0.5, 1.0];
//! let observations = choicemap! { "ys" => vec![0.5, 0.2, 1.25] };
//! let (trace, log_weight) = polynomial(&xs).generate(Key::new(42), &observations)?;
//! assert!(log_weight.is_finite());
//! // The score is log p(all choices): assess agrees with it.
//! let (score, _) = polynomial(&xs).assess(trace.choices())?;
//! assert!((score - trace.score()).abs() < 1e-12);
//! # Ok::<(), gen_runtime::GenError>(())
//! ```
//!
//! `Real` in a model body is the engine's number type: `f64` when simulating, a dual number
//! when differentiating, a batched tensor on the Burn engine. The body is compiled once for
//! each, so every operation runs as specialized machine code. Scores are log p (Gen.jl's
//! convention; GenJAX stores the negative).
//!
//! `gen` is a reserved keyword in the 2024 edition of Rust: there, write `#[r#gen]` or the
//! alias `#[generative]`.
//!
//! # The types `#[gen]` generates
//!
//! `#[gen] fn model(args) -> T` defines two things named `model`: a module holding the
//! generative function's type, `model::Gf` (with the lifetimes of the arguments' references:
//! `model::Gf<'a>` for `xs: &'a [f64]`, none when they hold no reference), and the function
//! itself, which binds arguments and returns a [`Call<model::Gf>`](Call). A run of it is a
//! [`Trace<model::Gf>`](Trace).
//! `model::gf()` is the generative function as a value, for combinators
//! (`Map::new(point::gf())`). Name these types to keep a call in a struct or pass it to a
//! function:
//!
//! ```
//! use gen_runtime::prelude::*;
//!
//! #[gen]
//! fn line(xs: &[f64]) -> Real {
//!     let slope = normal(0.0, 1.0).at("slope");
//!     plate(xs, |x| normal(slope * x, 0.1)).at("ys");
//!     slope
//! }
//!
//! /// A model call kept with its observations.
//! struct Experiment<'a> {
//!     model: Call<line::Gf<'a>>,
//!     observations: ChoiceMap,
//! }
//!
//! fn log_weight(call: &Call<line::Gf<'_>>, observations: &ChoiceMap) -> Result<f64, GenError> {
//!     let (trace, weight): (Trace<line::Gf<'_>>, f64) = call.generate(Key::new(1), observations)?;
//!     println!("{trace:.3}");
//!     Ok(weight)
//! }
//!
//! let xs = [1.0, 2.0];
//! let experiment = Experiment { model: line(&xs), observations: choicemap! { "ys" => vec![0.5, 1.1] } };
//! assert!(log_weight(&experiment.model, &experiment.observations)?.is_finite());
//! # Ok::<(), GenError>(())
//! ```

pub mod address;
pub mod burn;
pub mod choice_map;
pub mod combinators;
pub mod diagnostics;
pub mod distributions;
mod dual;
mod dynamic;
pub mod error;
pub mod exact;
mod gfi;
pub mod inference;
pub mod native;
mod plate_kernels;
mod real;
mod rng;
mod statements;
pub mod value;

pub use address::{Address, IntoAddress, Part, Site};
pub use choice_map::{ChoiceMap, Selection};
pub use dual::Dual;
pub use error::{GenError, ParamError};
pub use gen_macros::{gen, generative};
pub use gfi::{Call, GenerativeFunction, Handler, Trace, Traceable};
pub use statements::{factor, iid, param, plate, Factor, Iid, Param};
pub use native::{importance_log_weights, LogDensity, Particles};
pub use real::{digamma, LhsOps, Lift, Real, Scalar};
pub use rng::{Key, KeyRng};
pub use value::{ChoiceValue, LiftElement, Values};

/// Everything a model file needs: the attribute, distributions, choice maps and keys.
pub mod prelude {
    pub use crate::combinators::{Branch, Map, Switch, Unfold};
    pub use crate::distributions::*;
    pub use crate::{addr, choicemap, factor, gen, generative, iid, param, plate, select};
    pub use crate::{Address, Call, ChoiceMap, ChoiceValue, GenError, GenerativeFunction, IntoAddress, Key, Real, Selection, Trace};
}

/// What `#[gen]`'s generated code names. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::address::{name_key, Part, Site};
    pub use crate::combinators::UnfoldKernel;
    pub use crate::gfi::{Call, GenerativeFunction, Handler, Traceable};
    pub use crate::real::{LhsOps, Lift, Real};

    pub use crate::distributions::{Distribution, LogDensityParts};
    pub use crate::dual::Dual;

    /// A value a plate closure captures, in the engine's number type (`#[gen]`'s plate
    /// adjoints pass them to the handler).
    #[inline(always)]
    pub fn capture<R: Real, T: Into<R>>(value: T) -> R {
        value.into()
    }

    /// Fixes the number type of a distribution built from dual numbers (the plate adjoint's
    /// partials in the distribution's arguments).
    #[inline(always)]
    pub fn ad_distribution<const L: usize, D: Distribution<Real = Dual<L>>>(d: D) -> D {
        d
    }

    /// A plate adjoint's per-point result from the log-density parts of its distribution in
    /// dual numbers: the dual number whose tangents to propagate, and the parts to return.
    ///
    /// Where the scale and offset have zero tangents (their parameters are constants, which
    /// the compiler sees after inlining, so this test folds away) the kernel is propagated and
    /// the handler applies the scale once per plate; otherwise the whole log density.
    #[inline(always)]
    pub fn adjoint_parts<const L: usize>(parts: LogDensityParts<Dual<L>>) -> (Dual<L>, LogDensityParts<f64>) {
        let constant = |d: &Dual<L>| d.eps.iter().all(|e| *e == 0.0);
        if constant(&parts.scale) && constant(&parts.offset) {
            (parts.kernel, LogDensityParts { kernel: parts.kernel.re, scale: parts.scale.re, offset: parts.offset.re })
        } else {
            let lp = parts.scale * parts.kernel + parts.offset;
            (lp, LogDensityParts { kernel: lp.re, scale: 1.0, offset: 0.0 })
        }
    }

    /// Converts an address expression that is not a literal into a part.
    pub fn part(p: impl Into<Part>) -> Part {
        p.into()
    }
}

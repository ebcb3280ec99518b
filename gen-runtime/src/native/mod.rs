//! The native engine's hot paths: importance weights and gradients run against a plan.
//!
//! The general interpreter (`dynamic.rs`) builds an address and looks it up in a map
//! at every choice. Here a first execution records the sites in visit order (the plan),
//! with each site's address hash and what to do there (sample it, score a given value, or
//! read a coordinate of the parameter vector). Later executions walk the plan by position
//! and only compare hashes, so addresses resolve once, not at every evaluation. A hash that
//! disagrees means the model took another path (for example after a discrete choice); the
//! importance path then reruns that particle with the interpreter, the gradient path
//! reports it.
//!
//! One engine per file: `gradient.rs` (the log density and its gradient, [`LogDensity`]) and
//! `importance.rs` (importance weights, [`importance_log_weights`], and the particle step the
//! particle filter runs).

mod gradient;
mod importance;

pub use gradient::{Coordinate, LogDensity};
pub(crate) use gradient::{GradAction, GradSite};
pub use importance::{importance_log_weights, Particles};
pub(crate) use importance::{chunk_size, generate_or_invalid, is_plan, IsAction, IsEval, IsSite};

use crate::choice_map::ChoiceMap;
use crate::dynamic::{Interpreter, Op, Visit};
use crate::error::GenError;
use crate::gfi::{Call, GenerativeFunction};
use crate::rng::Key;

/// Runs one execution with the interpreter and returns its visits and choices.
pub(crate) fn discover<G: GenerativeFunction>(call: &Call<G>, op: Op<'_>, key: Key) -> Result<(Vec<Visit>, ChoiceMap), GenError> {
    let mut h = Interpreter::new(op, key);
    let _ = call.gf.run(&mut h, call.args.clone());
    let out = h.finish()?;
    Ok((out.trail, out.choices))
}

/// How many executions [`discover_valid`] tries, as Stan tries 100 initial points.
const MAX_DISCOVERY_TRIES: u64 = 100;

/// `run(key)`, or if that fails with a [recoverable](crate::GenError::is_recoverable) error
/// (a draw that put a parameter out of range), `run(key.split(i))` for i = 1, 2, ... up to
/// [`MAX_DISCOVERY_TRIES`] in all: how a plan or a target is built from one valid execution
/// when some draws are invalid. Any other error, or the last one, is returned.
pub(crate) fn retry_invalid<T>(key: Key, run: impl Fn(Key) -> Result<T, GenError>) -> Result<T, GenError> {
    let mut attempt = run(key);
    for i in 1..MAX_DISCOVERY_TRIES {
        match attempt {
            Err(e) if e.is_recoverable() => attempt = run(key.split(i)),
            _ => break,
        }
    }
    attempt
}

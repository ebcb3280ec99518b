//! Metropolis-Hastings over traces (Gen.jl's `mh`): with the prior as proposal for a
//! selection of choices, or with a custom proposal that is itself a generative function.

use crate::choice_map::Selection;
use crate::error::GenError;
use crate::gfi::{Call, GenerativeFunction, Trace};
use crate::rng::Key;
use rand::Rng;

/// Accepts with probability min(1, exp(log_alpha)); NaN rejects.
fn accept(log_alpha: f64, key: Key) -> bool {
    if log_alpha.is_nan() {
        return false;
    }
    log_alpha >= 0.0 || key.rng().random::<f64>().ln() < log_alpha
}

/// One MH step that redraws the `selection` from its prior conditionals
/// ([`Trace::regenerate`]); the acceptance log-ratio is the regenerate weight. Returns the
/// next state and whether the move was accepted.
///
/// # Errors
/// Those of [`Trace::regenerate`].
pub fn mh<G: GenerativeFunction>(trace: &Trace<G>, selection: &Selection, key: Key) -> Result<(Trace<G>, bool), GenError> {
    let (proposed, w) = trace.regenerate(key.split(0), selection)?;
    if accept(w, key.split(1)) {
        Ok((proposed, true))
    } else {
        Ok((trace.clone(), false))
    }
}

/// One MH step with a custom proposal: `proposal(trace)` is a generative function whose
/// choices are new values at the model's addresses. The move is accepted with
/// log-ratio `update weight - log q(new | old) + log q(old | new)`, where the reverse density
/// assesses the discarded old values under `proposal(new trace)` (Gen.jl's involution-free
/// `mh(trace, proposal, args)`; the proposal must be able to propose back the values it
/// replaces, as a random walk does).
///
/// # Errors
/// A proposed choice the model does not make; the reverse proposal cannot assess the
/// discarded values (it makes other choices); the errors of [`Trace::update`].
pub fn mh_with_proposal<G, Q, F>(trace: &Trace<G>, proposal: F, key: Key) -> Result<(Trace<G>, bool), GenError>
where
    G: GenerativeFunction,
    Q: GenerativeFunction,
    F: Fn(&Trace<G>) -> Call<Q>,
{
    let (forward, q_forward, _) = proposal(trace).propose(key.split(0))?;
    let (proposed, w, discard) = trace.update(key.split(1), &forward)?;
    if w == f64::NEG_INFINITY {
        return Ok((trace.clone(), false));
    }
    let (q_backward, _) = proposal(&proposed).assess(&discard)?;
    if accept(w - q_forward + q_backward, key.split(2)) {
        Ok((proposed, true))
    } else {
        Ok((trace.clone(), false))
    }
}

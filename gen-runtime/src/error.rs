//! Errors of the generative function interface.
//!
//! Every variant names the address (and, where it applies, the distribution and parameter)
//! so the user can find the problem in the model source.

use crate::address::Address;

/// An error from running a generative function.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenError {
    /// A constraint was given at an address the model never visited.
    #[error("constraint at `{address}`, but the model never visits that address")]
    UnvisitedConstraint {
        /// The constrained address.
        address: Address,
    },
    /// The model made two random choices at the same address in one execution.
    #[error("address `{address}` was visited twice in one execution")]
    DuplicateAddress {
        /// The address.
        address: Address,
    },
    /// A choice the operation needs (in `assess`, or an `update`'s previous trace) is missing.
    #[error("no value for the choice at `{address}`")]
    MissingChoice {
        /// The address.
        address: Address,
    },
    /// A value has the wrong type for the distribution at its address.
    #[error("value at `{address}` is a {found}, but the {distribution} there needs a {expected}")]
    WrongType {
        /// The address.
        address: Address,
        /// The distribution's name.
        distribution: &'static str,
        /// The type it needs.
        expected: &'static str,
        /// The type given.
        found: &'static str,
    },
    /// A vector value has the wrong length.
    #[error("value at `{address}` has length {found}, expected {expected}")]
    WrongLength {
        /// The address.
        address: Address,
        /// The expected length.
        expected: usize,
        /// The given length.
        found: usize,
    },
    /// A value lies outside its distribution's support.
    #[error("value {value} at `{address}` is outside the support of {distribution} ({support})")]
    OutsideSupport {
        /// The address.
        address: Address,
        /// The distribution's name.
        distribution: &'static str,
        /// The value, printed.
        value: String,
        /// The support, printed.
        support: String,
    },
    /// A distribution parameter is out of range (for example sigma <= 0).
    #[error("{distribution} at `{address}`: parameter {parameter} = {value} is invalid ({requirement})")]
    InvalidParameter {
        /// The address.
        address: Address,
        /// The distribution's name.
        distribution: &'static str,
        /// The parameter's name.
        parameter: &'static str,
        /// Its value.
        value: f64,
        /// What it must satisfy.
        requirement: &'static str,
    },
    /// A log density was NaN or +inf where a finite value is required.
    #[error("non-finite log density {value} at `{address}`")]
    NonFinite {
        /// The address.
        address: Address,
        /// The value.
        value: f64,
    },
    /// A gradient was asked for with respect to a choice that is not continuous.
    #[error(
        "cannot differentiate with respect to `{address}`: {distribution} is not continuous, and a gradient method (HMC, NUTS, MALA) moves only continuous latents; sum `{address}` out in the model (a mixture's log-sum-exp, as Stan requires), observe it, leave it out of the selection with `.select(..)` (it is then drawn once and held fixed), or use importance sampling or MH, which move discrete choices"
    )]
    NotContinuous {
        /// The address.
        address: Address,
        /// The distribution's name.
        distribution: &'static str,
    },
    /// An entry of a selection covers no latent choice of the model: a typo, an address the
    /// model never visits, or an observed address (observations are never parameters).
    #[error("selection entry `{address}` selects no latent choice: {reason}")]
    UnmatchedSelection {
        /// The selection entry.
        address: Address,
        /// Why nothing matched.
        reason: &'static str,
    },
    /// The operation does not support this kind of site.
    #[error("`{address}`: {message}")]
    Unsupported {
        /// The address.
        address: Address,
        /// What is not supported.
        message: String,
    },
    /// Arguments have the wrong shape (for example Map's inputs of different lengths).
    #[error("bad arguments to {function}: {message}")]
    BadArguments {
        /// The generative function.
        function: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A Burn backend's device could not start (no GPU, no driver library).
    #[error("the {backend} device is unavailable: {message}")]
    DeviceUnavailable {
        /// The backend.
        backend: &'static str,
        /// What the backend reported.
        message: String,
    },
}

impl GenError {
    /// Whether a sampler may treat this model error as "log density −∞ here" and carry on.
    ///
    /// A proposal outside the support, a distribution parameter pushed out of range by the
    /// proposal, or a non-finite density says only that this point has no mass (Stan treats its
    /// `std::domain_error` the same way); any other error (a missing or mistyped choice) is a
    /// bug in the model that no other point would fix.
    #[must_use]
    pub fn is_recoverable(&self) -> bool {
        matches!(self, GenError::OutsideSupport { .. } | GenError::InvalidParameter { .. } | GenError::NonFinite { .. })
    }
}

/// A parameter problem found by a distribution, before the address is known.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamError {
    /// The parameter's name.
    pub parameter: &'static str,
    /// Its value.
    pub value: f64,
    /// What it must satisfy.
    pub requirement: &'static str,
}

impl ParamError {
    /// Attaches the address and distribution name.
    #[must_use]
    pub fn at(self, address: Address, distribution: &'static str) -> GenError {
        GenError::InvalidParameter { address, distribution, parameter: self.parameter, value: self.value, requirement: self.requirement }
    }
}

/// Checks a parameter with a predicate, naming it on failure.
#[inline]
pub(crate) fn require(ok: bool, parameter: &'static str, value: f64, requirement: &'static str) -> Result<(), ParamError> {
    if ok {
        Ok(())
    } else {
        Err(ParamError { parameter, value, requirement })
    }
}

//! Values stored at addresses in choice maps and traces.

use std::fmt;
use std::sync::Arc;

/// The value of one random choice, as a choice map or trace stores it.
///
/// Vector values are `Arc`ed: traces are copied at every MCMC step, and copying the
/// observed data vector each time would cost more than the step itself.
#[derive(Clone, Debug, PartialEq)]
pub enum ChoiceValue {
    /// A continuous scalar.
    Real(f64),
    /// A Bernoulli outcome.
    Bool(bool),
    /// A category index.
    Index(usize),
    /// A count (Poisson, binomial).
    Count(u64),
    /// A continuous vector (a plate of reals, a Dirichlet or multivariate-normal draw).
    Reals(Arc<[f64]>),
    /// A plate of Bernoulli outcomes.
    Bools(Arc<[bool]>),
    /// A plate of category indices.
    Indices(Arc<[usize]>),
    /// A plate of counts.
    Counts(Arc<[u64]>),
}

impl ChoiceValue {
    /// The kind's name, for error messages.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            ChoiceValue::Real(_) => "f64",
            ChoiceValue::Bool(_) => "bool",
            ChoiceValue::Index(_) => "usize",
            ChoiceValue::Count(_) => "u64",
            ChoiceValue::Reals(_) => "[f64]",
            ChoiceValue::Bools(_) => "[bool]",
            ChoiceValue::Indices(_) => "[usize]",
            ChoiceValue::Counts(_) => "[u64]",
        }
    }

    /// The number of elements: a vector's length, 1 for a scalar.
    #[must_use]
    pub fn element_count(&self) -> usize {
        match self {
            ChoiceValue::Reals(x) => x.len(),
            ChoiceValue::Bools(x) => x.len(),
            ChoiceValue::Indices(x) => x.len(),
            ChoiceValue::Counts(x) => x.len(),
            ChoiceValue::Real(_) | ChoiceValue::Bool(_) | ChoiceValue::Index(_) | ChoiceValue::Count(_) => 1,
        }
    }

    /// The value as an `f64` if it is a continuous scalar.
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ChoiceValue::Real(x) => Some(*x),
            _ => None,
        }
    }

    /// The value as a slice of `f64` if it is a continuous vector.
    #[must_use]
    pub fn as_reals(&self) -> Option<&[f64]> {
        match self {
            ChoiceValue::Reals(x) => Some(x),
            _ => None,
        }
    }

    /// The value as a number: reals as they are, booleans as 0/1, indices and counts cast.
    #[must_use]
    pub fn to_f64(&self) -> Option<f64> {
        match self {
            ChoiceValue::Real(x) => Some(*x),
            ChoiceValue::Bool(b) => Some(f64::from(u8::from(*b))),
            ChoiceValue::Index(i) => Some(*i as f64),
            ChoiceValue::Count(c) => Some(*c as f64),
            _ => None,
        }
    }
}

impl fmt::Display for ChoiceValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChoiceValue::Real(x) => write!(f, "{x}"),
            ChoiceValue::Bool(x) => write!(f, "{x}"),
            ChoiceValue::Index(x) => write!(f, "{x}"),
            ChoiceValue::Count(x) => write!(f, "{x}"),
            ChoiceValue::Reals(x) => write!(f, "{x:?}"),
            ChoiceValue::Bools(x) => write!(f, "{x:?}"),
            ChoiceValue::Indices(x) => write!(f, "{x:?}"),
            ChoiceValue::Counts(x) => write!(f, "{x:?}"),
        }
    }
}

/// A Rust type that a distribution's samples are stored as.
pub trait ChoiceData: Clone + Default + fmt::Debug + Send + Sync + 'static {
    /// Its name, for error messages.
    const KIND: &'static str;
    /// Wraps it.
    fn into_value(self) -> ChoiceValue;
    /// Unwraps it, or `None` if the value is of another kind.
    fn from_value(v: &ChoiceValue) -> Option<Self>;
    /// The value as a number, as [`ChoiceValue::to_f64`] gives it, without building the
    /// [`ChoiceValue`] (a latent column of every importance-sampling particle).
    #[inline]
    fn to_f64(&self) -> Option<f64> {
        self.clone().into_value().to_f64()
    }
}

/// A [`ChoiceData`] that can be an element of a plate (a vector of i.i.d. or per-datum
/// choices at one address).
pub trait Element: ChoiceData + Copy + PartialEq {
    /// Borrows a plate's values, or `None` if the value is of another kind.
    fn slice(v: &ChoiceValue) -> Option<&[Self]>;
    /// Wraps a plate's values.
    fn plate_value(xs: Vec<Self>) -> ChoiceValue;
}

macro_rules! scalar_data {
    ($t:ty, $one:ident, $many:ident) => {
        impl ChoiceData for $t {
            const KIND: &'static str = stringify!($t);
            #[inline]
            fn into_value(self) -> ChoiceValue {
                ChoiceValue::$one(self)
            }
            #[inline]
            fn from_value(v: &ChoiceValue) -> Option<Self> {
                match v {
                    ChoiceValue::$one(x) => Some(*x),
                    _ => None,
                }
            }
            #[inline]
            fn to_f64(&self) -> Option<f64> {
                ChoiceValue::$one(*self).to_f64()
            }
        }
        impl Element for $t {
            #[inline]
            fn slice(v: &ChoiceValue) -> Option<&[Self]> {
                match v {
                    ChoiceValue::$many(x) => Some(x),
                    _ => None,
                }
            }
            fn plate_value(xs: Vec<Self>) -> ChoiceValue {
                ChoiceValue::$many(xs.into())
            }
        }
        impl From<$t> for ChoiceValue {
            fn from(x: $t) -> Self {
                ChoiceValue::$one(x)
            }
        }
        impl From<Vec<$t>> for ChoiceValue {
            fn from(x: Vec<$t>) -> Self {
                ChoiceValue::$many(x.into())
            }
        }
        impl From<&[$t]> for ChoiceValue {
            fn from(x: &[$t]) -> Self {
                ChoiceValue::$many(x.into())
            }
        }
        impl<const K: usize> From<[$t; K]> for ChoiceValue {
            fn from(x: [$t; K]) -> Self {
                ChoiceValue::$many(x.as_slice().into())
            }
        }
    };
}
scalar_data!(f64, Real, Reals);
scalar_data!(bool, Bool, Bools);
scalar_data!(usize, Index, Indices);
scalar_data!(u64, Count, Counts);

impl From<Arc<[f64]>> for ChoiceValue {
    fn from(x: Arc<[f64]>) -> Self {
        ChoiceValue::Reals(x)
    }
}

impl ChoiceData for Vec<f64> {
    const KIND: &'static str = "[f64]";
    fn into_value(self) -> ChoiceValue {
        ChoiceValue::Reals(self.into())
    }
    fn from_value(v: &ChoiceValue) -> Option<Self> {
        v.as_reals().map(<[f64]>::to_vec)
    }
}

//! Values stored at addresses in choice maps and traces, and the values of a vector site as a
//! model body reads them ([`Values`]).

use crate::real::{Lift, Real};
use std::borrow::Cow;
use std::cell::OnceCell;
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

/// Vectors longer than this print abbreviated: the first and last [`SHOWN_AT_EACH_END`]
/// elements and the length.
const ABBREVIATE_OVER: usize = 10;
/// How many elements an abbreviated vector shows at each end.
const SHOWN_AT_EACH_END: usize = 3;

/// Reals print as Rust writes `f64` literals (`1.0`, `-2.5e-7`), so a real is told apart from
/// a count or an index (`1`). A precision (`{:.3}`) applies to reals, in vectors too.
///
/// A vector of more than ten elements prints its first and last three and its length,
/// `[0.1, 0.2, 0.3, …, 0.8, 0.9, 1.0] (50 values)`: a trace's observed data vector would
/// otherwise fill the screen. The alternate form (`{:#}`) prints every element.
impl fmt::Display for ChoiceValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChoiceValue::Real(x) => real(f, *x),
            ChoiceValue::Bool(x) => write!(f, "{x}"),
            ChoiceValue::Index(x) => write!(f, "{x}"),
            ChoiceValue::Count(x) => write!(f, "{x}"),
            ChoiceValue::Reals(x) => vector(f, x, |f, x| real(f, *x)),
            ChoiceValue::Bools(x) => vector(f, x, |f, x| write!(f, "{x}")),
            ChoiceValue::Indices(x) => vector(f, x, |f, x| write!(f, "{x}")),
            ChoiceValue::Counts(x) => vector(f, x, |f, x| write!(f, "{x}")),
        }
    }
}

/// One real, with the formatter's precision if it has one (and no other flag: a width
/// would pad every element of a vector).
fn real(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    match f.precision() {
        Some(p) => write!(f, "{x:.p$}"),
        None => write!(f, "{x:?}"),
    }
}

/// A vector as `[a, b, c]`, abbreviated unless the formatter is alternate.
fn vector<T>(f: &mut fmt::Formatter<'_>, xs: &[T], element: impl Fn(&mut fmt::Formatter<'_>, &T) -> fmt::Result) -> fmt::Result {
    let abbreviate = !f.alternate() && xs.len() > ABBREVIATE_OVER;
    let (head, tail) = if abbreviate { (&xs[..SHOWN_AT_EACH_END], &xs[xs.len() - SHOWN_AT_EACH_END..]) } else { (xs, &xs[..0]) };
    f.write_str("[")?;
    for (i, x) in head.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        element(f, x)?;
    }
    if abbreviate {
        f.write_str(", …")?;
        for x in tail {
            f.write_str(", ")?;
            element(f, x)?;
        }
    }
    f.write_str("]")?;
    if abbreviate {
        write!(f, " ({} values)", xs.len())?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reals_print_as_reals_and_long_vectors_are_abbreviated() {
        assert_eq!(ChoiceValue::Real(1.0).to_string(), "1.0");
        assert_eq!(ChoiceValue::Count(1).to_string(), "1");
        assert_eq!(ChoiceValue::from(vec![true, false]).to_string(), "[true, false]");
        let ten: Vec<usize> = (0..10).collect();
        assert_eq!(ChoiceValue::from(ten).to_string(), "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]");
        let eleven: Vec<u64> = (0..11).collect();
        assert_eq!(ChoiceValue::from(eleven.clone()).to_string(), "[0, 1, 2, …, 8, 9, 10] (11 values)");
        assert_eq!(format!("{:#}", ChoiceValue::from(eleven)), "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]");
        assert_eq!(format!("{:.1}", ChoiceValue::from(vec![0.26, 2.0])), "[0.3, 2.0]");
        // A width is not applied element by element.
        assert_eq!(format!("{:8}", ChoiceValue::from(vec![true])), "[true]");
    }
}

/// The values of a vector-valued site (`plate` or `iid`) as the body sees them: a slice of
/// the distribution's values (`Real`s for a continuous distribution, so a latent vector
/// carries its derivatives), read as `zs[j]`, `zs.iter()`, `zs.len()`.
///
/// Stored values (observed, or kept from a trace) are borrowed, not copied, and turned into
/// the engine's number type only if the body reads them, once: a gradient evaluation of a
/// model that only scores its data vector must not pay for lifting it into dual numbers at
/// every evaluation (at n = 1000 that copy would cost about as much as the plate's fused
/// likelihood). Where the value type is the stored type (`f64` when simulating, discrete
/// values) nothing is converted at all.
pub struct Values<'c, T: Clone, V> {
    inner: Inner<'c, T, V>,
}

enum Inner<'c, T: Clone, V> {
    /// Stored values, converted on first read where the types differ.
    Stored(Cow<'c, [T]>, OnceCell<Vec<V>>),
    /// Values computed by the engine (a latent vector's, with their derivatives).
    Computed(Vec<V>),
}

impl<'c, T: LiftElement<V>, V> Values<'c, T, V> {
    /// Stored values.
    #[must_use]
    pub fn stored(data: Cow<'c, [T]>) -> Self {
        Values { inner: Inner::Stored(data, OnceCell::new()) }
    }

    /// Values the engine computed.
    #[must_use]
    pub fn computed(values: Vec<V>) -> Self {
        Values { inner: Inner::Computed(values) }
    }

    /// `n` default values, what a run that has already failed returns.
    #[must_use]
    pub(crate) fn placeholder(n: usize) -> Self {
        Self::stored(Cow::Owned(vec![T::default(); n]))
    }
}

impl<T: LiftElement<V>, V> std::ops::Deref for Values<'_, T, V> {
    type Target = [V];
    #[inline]
    fn deref(&self) -> &[V] {
        match &self.inner {
            Inner::Stored(data, lifted) => T::borrow(data).unwrap_or_else(|| lifted.get_or_init(|| data.iter().map(T::lift).collect())),
            Inner::Computed(values) => values,
        }
    }
}

impl<'a, T: LiftElement<V>, V> IntoIterator for &'a Values<'_, T, V> {
    type Item = &'a V;
    type IntoIter = std::slice::Iter<'a, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: LiftElement<V>, V: std::fmt::Debug> std::fmt::Debug for Values<'_, T, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A stored element type (`f64`, `bool`, `u64`, `usize`) of a vector site and the value type
/// `V` a body sees it as ([`Lift`]: an `f64` becomes the engine's `Real`, a discrete value
/// stays itself).
pub trait LiftElement<V>: Element + Lift<V> {
    /// The stored values themselves where `V` is this type (no conversion needed).
    fn borrow(xs: &[Self]) -> Option<&[V]>;
}

impl<R: Real> LiftElement<R> for f64 {
    #[inline]
    fn borrow(xs: &[f64]) -> Option<&[R]> {
        R::as_reals(xs)
    }
}

macro_rules! lift_itself {
    ($($t:ty),*) => {$(
        impl LiftElement<$t> for $t {
            #[inline]
            fn borrow(xs: &[$t]) -> Option<&[$t]> {
                Some(xs)
            }
        }
    )*};
}
lift_itself!(bool, u64, usize);

//! The value abstraction every model body is written against.
//!
//! A `#[gen]` body is generic over its [`Handler`](crate::Handler), and every continuous
//! value in it has the handler's `Real` type: `f64` when simulating or scoring, a
//! forward-mode [`Dual`](crate::Dual) when differentiating, a batched tensor handle on the
//! Burn engine. So the same source compiles into specialized code for each engine.
//!
//! Comparisons are deliberately absent from [`Real`]: on a batched engine a value differs
//! across particles, so control flow cannot branch on it (JAX's tracing has the same rule).
//! What a branch on a value usually computes, [`Real::max`], [`Real::min`] and
//! [`Real::clamp`] compute without one.

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// Arithmetic with `f64` on the left: `2.0 * x` where `x` is a [`Real`].
///
/// Implemented for `f64` over every engine value type. `#[gen]` adds the bound
/// `f64: LhsOps<R>` to the generated code because Rust cannot imply it from `R: Real`.
pub trait LhsOps<R>: Add<R, Output = R> + Sub<R, Output = R> + Mul<R, Output = R> + Div<R, Output = R> {}
impl<R, T> LhsOps<R> for T where T: Add<R, Output = R> + Sub<R, Output = R> + Mul<R, Output = R> + Div<R, Output = R> {}

/// A real number as a model body sees it: `f64`, a dual number, or a batched value.
pub trait Real:
    Copy
    + Debug
    + From<f64>
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + Send
    + Sync
    + 'static
{
    /// The constant `c`.
    #[inline]
    fn cst(c: f64) -> Self {
        Self::from(c)
    }
    /// `xs` as values of this type without a copy, where it is `f64` itself; `None`
    /// otherwise (a vector site's [`Values`](crate::Values) then converts them once, when the
    /// body first reads them).
    #[inline]
    fn as_reals(xs: &[f64]) -> Option<&[Self]> {
        let _ = xs;
        None
    }
    /// e^x.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// ln(1 + x), accurate near 0.
    fn ln_1p(self) -> Self;
    /// e^x - 1, accurate near 0.
    fn exp_m1(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// x^n for an integer n.
    fn powi(self, n: i32) -> Self;
    /// x^p for a real constant p.
    fn powf(self, p: f64) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Arctangent.
    fn atan(self) -> Self;
    /// Absolute value (derivative sign(x), 0 at 0).
    fn abs(self) -> Self;
    /// ln Γ(x).
    fn ln_gamma(self) -> Self;
    /// 1 / x.
    #[inline]
    fn recip(self) -> Self {
        Self::cst(1.0) / self
    }
    /// x².
    #[inline]
    fn square(self) -> Self {
        self * self
    }
    /// The logistic sigmoid 1 / (1 + e^-x).
    #[inline]
    fn sigmoid(self) -> Self {
        (Self::cst(1.0) + (-self).exp()).recip()
    }
    /// A function of two values with a hand-derived derivative (JAX's `custom_jvp`):
    /// `generic` computes it with this type's arithmetic, `scalar` computes it in `f64` as
    /// (value, ∂/∂a, ∂/∂b).
    ///
    /// Types with a value per evaluation (`f64`, dual numbers) use `scalar` and apply the
    /// chain rule once instead of differentiating every operation; batched types use
    /// `generic`. For a likelihood inside a plate this replaces a dozen dual-number
    /// operations per data point by a few multiply-adds.
    #[inline]
    fn fused2(a: Self, b: Self, generic: impl Fn(Self, Self) -> Self, scalar: impl Fn(f64, f64) -> (f64, f64, f64)) -> Self {
        let _ = scalar;
        generic(a, b)
    }
    /// A value with one entry per element of a `rows × cols` batch (`xs` row-major): how a
    /// batched engine makes a value from particles' samples or from a data vector.
    ///
    /// # Panics
    /// Types with one value per evaluation (`f64`, dual numbers) take exactly one value; the
    /// engines call this only on batched types.
    fn from_batch(xs: &[f64], rows: usize, cols: usize) -> Self {
        assert!(rows * cols == 1 && xs.len() == 1, "a scalar engine value holds one number, not a {rows}×{cols} batch");
        Self::cst(xs[0])
    }
    /// ln(1 + e^x), without overflow for large x.
    #[inline]
    fn softplus(self) -> Self {
        // max(x, 0) + ln(1 + e^-|x|): no overflow for large x (e^x would be inf past 709),
        // and the derivative, H(x) - sign(x) sigmoid(-|x|), is sigmoid(x) everywhere.
        self.max(0.0) + (-self.abs()).exp().ln_1p()
    }
    /// The larger of `self` and `other`: what a model writes instead of
    /// `if x > y { x } else { y }`, which it cannot (see the module documentation).
    ///
    /// Its derivative goes to the larger argument; at a tie (`self == other`) each argument
    /// gets half of it, as `jax.numpy.maximum` and `torch.maximum` do, so that the result is
    /// the same whichever engine computes it and however the arguments are ordered. A NaN
    /// argument gives NaN (unlike `f64::max`, which returns the other argument).
    ///
    /// This default is `other + relu(self - other)` with relu(d) = (d + |d|) / 2, which needs
    /// no comparison and is how the batched engine computes it: exact up to the rounding of
    /// `self - other`, NaN where both arguments are infinite or one is -inf. `f64` and
    /// [`Dual`](crate::Dual) compare instead, and are exact for every argument.
    #[inline]
    fn max(self, other: impl Into<Self>) -> Self {
        let other = other.into();
        let d = self - other;
        other + (d + d.abs()) * 0.5
    }
    /// The smaller of `self` and `other`: what a model writes instead of
    /// `if x < y { x } else { y }`.
    ///
    /// Its derivative goes to the smaller argument, half to each at a tie, and a NaN argument
    /// gives NaN, as for [`Real::max`]. The default is `self - relu(self - other)`.
    #[inline]
    fn min(self, other: impl Into<Self>) -> Self {
        let other = other.into();
        let d = self - other;
        self - (d + d.abs()) * 0.5
    }
    /// `self` restricted to `[lo, hi]`: `self.max(lo).min(hi)`.
    ///
    /// Its derivative goes to `self` strictly inside the interval, to `lo` below it and to
    /// `hi` above it, shared half and half at a boundary (see [`Real::max`]). Unlike
    /// `f64::clamp`, `lo > hi` does not panic (a batched engine could not check it for every
    /// particle): the result is then `hi`.
    #[inline]
    fn clamp(self, lo: impl Into<Self>, hi: impl Into<Self>) -> Self {
        self.max(lo).min(hi)
    }
}

/// A [`Real`] that is one number per evaluation (not a batch), so it has a value to sample
/// with and to compare. The native engine's value types are all scalars.
pub trait Scalar: Real + PartialOrd + PartialOrd<f64> {
    /// The primal value, without derivative information.
    fn value(self) -> f64;
}

macro_rules! forward_f64 {
    ($($name:ident),*) => {$(
        #[inline]
        fn $name(self) -> Self {
            f64::$name(self)
        }
    )*};
}

impl Real for f64 {
    forward_f64!(exp, ln, ln_1p, exp_m1, sqrt, sin, cos, tanh, atan, abs);
    #[inline]
    fn fused2(a: Self, b: Self, _: impl Fn(Self, Self) -> Self, scalar: impl Fn(f64, f64) -> (f64, f64, f64)) -> Self {
        scalar(a, b).0
    }
    #[inline]
    fn powi(self, n: i32) -> Self {
        f64::powi(self, n)
    }
    #[inline]
    fn powf(self, p: f64) -> Self {
        f64::powf(self, p)
    }
    #[inline]
    fn ln_gamma(self) -> Self {
        statrs::function::gamma::ln_gamma(self)
    }
    #[inline]
    fn as_reals(xs: &[f64]) -> Option<&[Self]> {
        Some(xs)
    }
    #[inline]
    fn max(self, other: impl Into<Self>) -> Self {
        let other = other.into();
        // Not `f64::max`, which ignores a NaN argument: the batched engine cannot.
        if self >= other || self.is_nan() {
            self
        } else {
            other
        }
    }
    #[inline]
    fn min(self, other: impl Into<Self>) -> Self {
        let other = other.into();
        if self <= other || self.is_nan() {
            self
        } else {
            other
        }
    }
    #[inline]
    fn softplus(self) -> Self {
        // Branching is fine for a scalar: avoids e^x overflow for large x.
        if self > 30.0 {
            self + (-self).exp()
        } else {
            self.exp().ln_1p()
        }
    }
}

impl Scalar for f64 {
    #[inline]
    fn value(self) -> f64 {
        self
    }
}

/// Converts arguments given as `f64` into the same shape with the engine's [`Real`]: what an
/// engine does to the arguments of a call before it runs the body for dual numbers or
/// batches (`#[gen]` emits the calls; combinators forward them).
///
/// Implemented for `f64` (to any `R`), and for vectors, arrays, options and tuples of
/// liftable values. Arguments whose types do not mention `Real` are cloned, not lifted.
pub trait Lift<T> {
    /// The value with each `f64` made an `R`.
    fn lift(&self) -> T;
}

impl<R: Real> Lift<R> for f64 {
    #[inline]
    fn lift(&self) -> R {
        R::from(*self)
    }
}

/// Discrete values are the same in every engine (a vector site's elements lift through this).
macro_rules! lift_discrete {
    ($($t:ty),*) => {$(
        impl Lift<$t> for $t {
            #[inline]
            fn lift(&self) -> $t {
                *self
            }
        }
    )*};
}
lift_discrete!(bool, u64, usize);

impl<T, U: Lift<T>> Lift<Vec<T>> for Vec<U> {
    fn lift(&self) -> Vec<T> {
        self.iter().map(Lift::lift).collect()
    }
}

impl<T, U: Lift<T>, const K: usize> Lift<[T; K]> for [U; K] {
    fn lift(&self) -> [T; K] {
        std::array::from_fn(|i| self[i].lift())
    }
}

impl<T, U: Lift<T>> Lift<Option<T>> for Option<U> {
    fn lift(&self) -> Option<T> {
        self.as_ref().map(Lift::lift)
    }
}

macro_rules! lift_tuple {
    ($(($($t:ident $u:ident $i:tt),+))*) => {$(
        impl<$($t, $u: Lift<$t>),+> Lift<($($t,)+)> for ($($u,)+) {
            fn lift(&self) -> ($($t,)+) {
                ($(self.$i.lift(),)+)
            }
        }
    )*};
}
lift_tuple! {
    (T0 U0 0)
    (T0 U0 0, T1 U1 1)
    (T0 U0 0, T1 U1 1, T2 U2 2)
    (T0 U0 0, T1 U1 1, T2 U2 2, T3 U3 3)
}

/// The digamma function ψ(x) = d/dx ln Γ(x), the derivative that [`Real::ln_gamma`] needs.
///
/// statrs has no digamma, so this uses the recurrence ψ(x) = ψ(x + 1) - 1/x up to x ≥ 10 and
/// then the asymptotic series, accurate to about 1e-13 for x > 0.
pub fn digamma(mut x: f64) -> f64 {
    if x <= 0.0 && x == x.floor() {
        return f64::NAN;
    }
    let mut acc = 0.0;
    if x < 0.0 {
        // Reflection: ψ(1 - x) - ψ(x) = π cot(πx).
        let pi = std::f64::consts::PI;
        return digamma(1.0 - x) - pi / (pi * x).tan();
    }
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    // Bernoulli-number series: ln x - 1/(2x) - Σ B_2k / (2k x^2k).
    let series = inv2 * (1.0 / 12.0 - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 * (1.0 / 132.0)))));
    acc + x.ln() - 0.5 * inv - series
}

#[cfg(test)]
mod tests {
    use super::digamma;

    #[test]
    fn digamma_matches_known_values() {
        // ψ(1) = -γ, ψ(1/2) = -γ - 2 ln 2, ψ(10) from tables.
        let gamma = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + gamma).abs() < 1e-12);
        assert!((digamma(0.5) + gamma + 2.0 * 2f64.ln()).abs() < 1e-12);
        assert!((digamma(10.0) - 2.251_752_589_066_721).abs() < 1e-12);
    }
}

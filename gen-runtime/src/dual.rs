//! Forward-mode dual numbers with `N` tangent directions.
//!
//! Written here rather than taken from `num-dual`: its vector duals store derivatives as an
//! `Option` of an nalgebra vector, which puts a branch in every operation of the fused
//! likelihood loop; a plain `[f64; N]` lets LLVM keep the value and tangents in SIMD
//! registers. One pass with `N` tangents gives the gradient of a scalar function of up to
//! `N` inputs; more inputs are covered by several passes (see
//! [`gradient`](crate::gradient)).

use crate::real::{Real, Scalar};
use std::cmp::Ordering;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// A value and its derivatives along `N` directions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual<const N: usize> {
    /// The value.
    pub re: f64,
    /// Its derivative along each direction.
    pub eps: [f64; N],
}

impl<const N: usize> Dual<N> {
    /// A constant: all derivatives zero.
    #[inline]
    pub const fn constant(re: f64) -> Self {
        Dual { re, eps: [0.0; N] }
    }

    /// The `i`-th input variable: derivative 1 along direction `i`.
    ///
    /// # Panics
    /// If `i >= N`.
    #[inline]
    pub fn variable(re: f64, i: usize) -> Self {
        let mut eps = [0.0; N];
        eps[i] = 1.0;
        Dual { re, eps }
    }

    /// Applies a scalar function with value `f` and derivative `df` at `self.re` (chain rule).
    ///
    /// A zero tangent stays zero, whatever `df` (as in [`Real::fused2`]): so a function of a
    /// constant is a constant the compiler can see, with no `df * 0.0` left to compute (a
    /// normal's `ln sigma` in a plate adjoint with a constant sigma).
    #[inline]
    fn chain(self, f: f64, df: f64) -> Self {
        let mut eps = self.eps;
        for e in &mut eps {
            *e = if *e == 0.0 { 0.0 } else { *e * df };
        }
        Dual { re: f, eps }
    }

    /// `a` or `b`, whichever `pick_a` says, or at a tie of their values (or a NaN) their
    /// common value with the mean of their tangents: [`Real::max`]'s and [`Real::min`]'s
    /// convention, which the batched engine's `relu` form has too.
    #[inline]
    fn select(a: Self, b: Self, pick_a: bool) -> Self {
        if a.re == b.re || a.re.is_nan() || b.re.is_nan() {
            let mut eps = [0.0; N];
            for ((e, x), y) in eps.iter_mut().zip(&a.eps).zip(&b.eps) {
                *e = 0.5 * (x + y);
            }
            // NaN if either is: a comparison cannot say which value to keep.
            Dual { re: if a.re == b.re { a.re } else { f64::NAN }, eps }
        } else if pick_a {
            a
        } else {
            b
        }
    }
}

impl<const N: usize> From<f64> for Dual<N> {
    #[inline]
    fn from(re: f64) -> Self {
        Self::constant(re)
    }
}

impl<const N: usize> Add for Dual<N> {
    type Output = Self;
    #[inline]
    fn add(mut self, o: Self) -> Self {
        self.re += o.re;
        for i in 0..N {
            self.eps[i] += o.eps[i];
        }
        self
    }
}

impl<const N: usize> Sub for Dual<N> {
    type Output = Self;
    #[inline]
    fn sub(mut self, o: Self) -> Self {
        self.re -= o.re;
        for i in 0..N {
            self.eps[i] -= o.eps[i];
        }
        self
    }
}

impl<const N: usize> Mul for Dual<N> {
    type Output = Self;
    #[inline]
    fn mul(self, o: Self) -> Self {
        let mut eps = [0.0; N];
        for ((e, a), b) in eps.iter_mut().zip(&self.eps).zip(&o.eps) {
            *e = a * o.re + self.re * b;
        }
        Dual { re: self.re * o.re, eps }
    }
}

impl<const N: usize> Div for Dual<N> {
    type Output = Self;
    #[inline]
    fn div(self, o: Self) -> Self {
        let inv = 1.0 / o.re;
        let re = self.re * inv;
        let mut eps = [0.0; N];
        for ((e, a), b) in eps.iter_mut().zip(&self.eps).zip(&o.eps) {
            *e = (a - re * b) * inv;
        }
        Dual { re, eps }
    }
}

impl<const N: usize> Neg for Dual<N> {
    type Output = Self;
    #[inline]
    fn neg(mut self) -> Self {
        self.re = -self.re;
        for e in &mut self.eps {
            *e = -*e;
        }
        self
    }
}

impl<const N: usize> Add<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn add(mut self, o: f64) -> Self {
        self.re += o;
        self
    }
}

impl<const N: usize> Sub<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn sub(mut self, o: f64) -> Self {
        self.re -= o;
        self
    }
}

impl<const N: usize> Mul<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn mul(mut self, o: f64) -> Self {
        self.re *= o;
        for e in &mut self.eps {
            *e *= o;
        }
        self
    }
}

impl<const N: usize> Div<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn div(self, o: f64) -> Self {
        self * (1.0 / o)
    }
}

impl<const N: usize> Add<Dual<N>> for f64 {
    type Output = Dual<N>;
    #[inline]
    fn add(self, o: Dual<N>) -> Dual<N> {
        o + self
    }
}

impl<const N: usize> Sub<Dual<N>> for f64 {
    type Output = Dual<N>;
    #[inline]
    fn sub(self, o: Dual<N>) -> Dual<N> {
        -o + self
    }
}

impl<const N: usize> Mul<Dual<N>> for f64 {
    type Output = Dual<N>;
    #[inline]
    fn mul(self, o: Dual<N>) -> Dual<N> {
        o * self
    }
}

impl<const N: usize> Div<Dual<N>> for f64 {
    type Output = Dual<N>;
    #[inline]
    fn div(self, o: Dual<N>) -> Dual<N> {
        let inv = 1.0 / o.re;
        o.chain(self * inv, -self * inv * inv)
    }
}

impl<const N: usize> AddAssign for Dual<N> {
    #[inline]
    fn add_assign(&mut self, o: Self) {
        *self = *self + o;
    }
}

impl<const N: usize> SubAssign for Dual<N> {
    #[inline]
    fn sub_assign(&mut self, o: Self) {
        *self = *self - o;
    }
}

impl<const N: usize> MulAssign for Dual<N> {
    #[inline]
    fn mul_assign(&mut self, o: Self) {
        *self = *self * o;
    }
}

impl<const N: usize> PartialOrd for Dual<N> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        self.re.partial_cmp(&o.re)
    }
}

impl<const N: usize> PartialEq<f64> for Dual<N> {
    fn eq(&self, o: &f64) -> bool {
        self.re == *o
    }
}

impl<const N: usize> PartialOrd<f64> for Dual<N> {
    fn partial_cmp(&self, o: &f64) -> Option<Ordering> {
        self.re.partial_cmp(o)
    }
}

impl<const N: usize> Real for Dual<N> {
    #[inline]
    fn fused2(a: Self, b: Self, _: impl Fn(Self, Self) -> Self, scalar: impl Fn(f64, f64) -> (f64, f64, f64)) -> Self {
        let (re, da, db) = scalar(a.re, b.re);
        let mut eps = [0.0; N];
        // A lane where b's tangent is zero takes nothing from db, even a non-finite one; and
        // where that zero is known at compile time (a constant sigma in a plate adjoint) the
        // product and db's own arithmetic fold away, which `+ db * 0.0` cannot (it is NaN for
        // an infinite db, and turns -0.0 into 0.0).
        for ((e, x), y) in eps.iter_mut().zip(&a.eps).zip(&b.eps) {
            *e = if *y == 0.0 { da * x } else { da * x + db * y };
        }
        Dual { re, eps }
    }
    #[inline]
    fn exp(self) -> Self {
        let e = self.re.exp();
        self.chain(e, e)
    }
    #[inline]
    fn ln(self) -> Self {
        self.chain(self.re.ln(), 1.0 / self.re)
    }
    #[inline]
    fn ln_1p(self) -> Self {
        self.chain(self.re.ln_1p(), 1.0 / (1.0 + self.re))
    }
    #[inline]
    fn exp_m1(self) -> Self {
        self.chain(self.re.exp_m1(), self.re.exp())
    }
    #[inline]
    fn sqrt(self) -> Self {
        let s = self.re.sqrt();
        self.chain(s, 0.5 / s)
    }
    #[inline]
    fn powi(self, n: i32) -> Self {
        match n {
            0 => Self::constant(1.0),
            1 => self,
            2 => self * self,
            _ => self.chain(self.re.powi(n), f64::from(n) * self.re.powi(n - 1)),
        }
    }
    #[inline]
    fn powf(self, p: f64) -> Self {
        self.chain(self.re.powf(p), p * self.re.powf(p - 1.0))
    }
    #[inline]
    fn sin(self) -> Self {
        self.chain(self.re.sin(), self.re.cos())
    }
    #[inline]
    fn cos(self) -> Self {
        self.chain(self.re.cos(), -self.re.sin())
    }
    #[inline]
    fn tanh(self) -> Self {
        let t = self.re.tanh();
        self.chain(t, 1.0 - t * t)
    }
    #[inline]
    fn atan(self) -> Self {
        self.chain(self.re.atan(), 1.0 / (1.0 + self.re * self.re))
    }
    #[inline]
    fn abs(self) -> Self {
        let s = if self.re > 0.0 {
            1.0
        } else if self.re < 0.0 {
            -1.0
        } else {
            0.0
        };
        self.chain(self.re.abs(), s)
    }
    #[inline]
    fn ln_gamma(self) -> Self {
        self.chain(statrs::function::gamma::ln_gamma(self.re), crate::real::digamma(self.re))
    }
    #[inline]
    fn max(self, other: impl Into<Self>) -> Self {
        let other = other.into();
        Self::select(self, other, self.re > other.re)
    }
    #[inline]
    fn min(self, other: impl Into<Self>) -> Self {
        let other = other.into();
        Self::select(self, other, self.re < other.re)
    }
    #[inline]
    fn softplus(self) -> Self {
        let sp = self.re.softplus();
        // d/dx ln(1 + e^x) = sigmoid(x)
        self.chain(sp, 1.0 / (1.0 + (-self.re).exp()))
    }
}

impl<const N: usize> Scalar for Dual<N> {
    #[inline]
    fn value(self) -> f64 {
        self.re
    }
}

#[cfg(test)]
mod tests {
    use super::Dual;
    use crate::real::Real;

    fn check(f: impl Fn(Dual<1>) -> Dual<1>, g: impl Fn(f64) -> f64, x: f64) {
        let d = f(Dual::variable(x, 0));
        let h = 1e-6;
        let fd = (g(x + h) - g(x - h)) / (2.0 * h);
        assert!((d.re - g(x)).abs() < 1e-12, "value");
        assert!((d.eps[0] - fd).abs() < 1e-6 * (1.0 + fd.abs()), "derivative {} vs {}", d.eps[0], fd);
    }

    #[test]
    fn elementary_derivatives_match_finite_differences() {
        for &x in &[0.3, 1.7, 4.2] {
            check(|d| d.exp(), f64::exp, x);
            check(|d| d.ln(), f64::ln, x);
            check(|d| d.ln_1p(), f64::ln_1p, x);
            check(|d| d.sqrt(), f64::sqrt, x);
            check(|d| d.powi(3), |v| v.powi(3), x);
            check(|d| d.powf(2.5), |v| v.powf(2.5), x);
            check(|d| d.sin() * d.cos(), |v| v.sin() * v.cos(), x);
            check(|d| d.tanh(), f64::tanh, x);
            check(|d| d.atan(), f64::atan, x);
            check(Real::ln_gamma, statrs::function::gamma::ln_gamma, x);
            check(|d| 2.0 / d - d / 3.0, |v| 2.0 / v - v / 3.0, x);
            check(|d| d.softplus(), |v| v.exp().ln_1p(), x);
        }
    }
}

//! Vector parameters given as `f64` constants or as engine values.

use crate::real::Real;

/// A vector parameter (Dirichlet concentrations, category probabilities, a mean vector)
/// convertible to the engine's `Real`.
///
/// A `#[gen]` body is compiled for several `Real` types, so a constant such as
/// `vec![0.2, 0.8]` must work whether `R` is `f64` or a dual number, just as the scalar
/// constructors take `impl Into<R>`. Implemented for `Vec<T>`, `&Vec<T>`, `&[T]`, `[T; K]`
/// and `&[T; K]` whenever `T: Into<R>`, which covers both `f64` and `R` itself.
pub trait IntoReals<R> {
    /// The elements as engine values.
    fn into_reals(self) -> Vec<R>;
}

impl<R: Real, T: Into<R>> IntoReals<R> for Vec<T> {
    #[inline]
    fn into_reals(self) -> Vec<R> {
        // For T = R this reuses the allocation (in-place collect).
        self.into_iter().map(Into::into).collect()
    }
}

impl<R: Real, T: Into<R> + Copy> IntoReals<R> for &Vec<T> {
    #[inline]
    fn into_reals(self) -> Vec<R> {
        self.as_slice().into_reals()
    }
}

impl<R: Real, T: Into<R> + Copy> IntoReals<R> for &[T] {
    #[inline]
    fn into_reals(self) -> Vec<R> {
        self.iter().map(|&x| x.into()).collect()
    }
}

impl<R: Real, T: Into<R>, const K: usize> IntoReals<R> for [T; K] {
    #[inline]
    fn into_reals(self) -> Vec<R> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<R: Real, T: Into<R> + Copy, const K: usize> IntoReals<R> for &[T; K] {
    #[inline]
    fn into_reals(self) -> Vec<R> {
        self.as_slice().into_reals()
    }
}

use super::{impossible, scalar_continuous_items, Distribution, Support};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::{Distribution as _, Open01};

/// The continuous uniform distribution on the interval from `a` to `b`.
///
/// Density p(x) = 1 / (b - a) for a ≤ x ≤ b.
///
/// The bounds are plain `f64`, not engine values: they define the unconstrained map
/// ([`Support::Interval`]) that HMC moves in, which must be fixed before any value is
/// differentiated, so no gradient flows to them. A model whose bound is a latent
/// (`y ~ Uniform(0, theta)`) needs a different parametrization.
#[derive(Clone, Copy, Debug)]
pub struct Uniform<R> {
    a: f64,
    b: f64,
    /// ln(b - a) as an engine constant, computed once: it is the whole log density.
    log_width: R,
}

/// Uniform(a, b) with a < b; the bounds are `f64` (see [`Uniform`]).
#[inline]
pub fn uniform<R: Real>(a: f64, b: f64) -> Uniform<R> {
    Uniform { a, b, log_width: R::cst((b - a).ln()) }
}

impl<R> Uniform<R> {
    /// The lower bound.
    #[inline]
    pub fn a(&self) -> f64 {
        self.a
    }

    /// The upper bound.
    #[inline]
    pub fn b(&self) -> f64 {
        self.b
    }
}

impl<R: Real> Distribution for Uniform<R> {
    scalar_continuous_items!(R);
    const NAME: &'static str = "uniform";

    type Scalar = Uniform<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> Uniform<f64> {
        Uniform { a: self.a, b: self.b, log_width: param(&self.log_width) }
    }

    /// -ln(b - a), whatever `x` is: an engine value cannot be compared with the bounds, so
    /// `x` is assumed to lie in the support (stored values are checked by
    /// `log_density_data`). Its derivative with respect to `x` is 0.
    #[inline]
    fn log_density(&self, _x: &R) -> R {
        -self.log_width
    }

    #[inline]
    fn log_density_data(&self, x: &f64) -> R {
        if *x < self.a || *x > self.b {
            return impossible();
        }
        -self.log_width
    }

    #[inline]
    fn sample(&self, rng: &mut KeyRng) -> f64
    where
        R: Scalar,
    {
        // Open01 rather than rand's [a, b) sampler: an endpoint would map to ±∞ in
        // unconstrained space.
        let u: f64 = Open01.sample(rng);
        self.a + (self.b - self.a) * u
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        require(self.a.is_finite(), "a", self.a, "finite")?;
        require(self.b.is_finite(), "b", self.b, "finite")?;
        require(self.b > self.a, "b", self.b, "b > a")
    }

    fn support(&self) -> Support {
        Support::Interval(self.a, self.b)
    }

    /// a ≤ x ≤ b: the density is 1 / (b - a) at the bounds too, so an observed bound is
    /// allowed (the unconstrained map excludes it, at probability zero).
    fn in_support(&self, x: &f64) -> bool
    where
        R: Scalar,
    {
        *x >= self.a && *x <= self.b
    }
}

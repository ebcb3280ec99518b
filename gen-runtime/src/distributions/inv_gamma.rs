use super::{impossible, sampler, scalar_continuous_items, Distribution, RealOps, Support};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::Distribution as _;

/// The inverse-gamma distribution: 1 / Y for Y ~ Gamma(shape, rate = scale).
///
/// Density p(x) = scale^shape / Γ(shape) · x^(-shape - 1) e^(-scale / x) for x > 0; mean
/// scale / (shape - 1) for shape > 1. The same parametrization as NumPyro's
/// `InverseGamma(concentration, rate)`, Stan's `inv_gamma(alpha, beta)` and Gen.jl's
/// `inv_gamma(shape, scale)`: the second parameter multiplies x's scale.
#[derive(Clone, Copy, Debug)]
pub struct InvGamma<R> {
    /// Shape (> 0).
    pub shape: R,
    /// Scale (> 0): the rate of the gamma distribution of 1 / x.
    pub scale: R,
}

/// InvGamma(shape, scale): 1 / x ~ Gamma(shape, rate = scale).
#[inline]
pub fn inv_gamma<R: Real>(shape: impl Into<R>, scale: impl Into<R>) -> InvGamma<R> {
    InvGamma { shape: shape.into(), scale: scale.into() }
}

impl<R: Real> InvGamma<R> {
    #[inline]
    fn log_density_at<X: Copy>(&self, x: X, ln_x: X) -> R
    where
        R: RealOps<X>,
    {
        self.shape * self.scale.ln() - self.shape.ln_gamma() - (self.shape + 1.0) * ln_x - self.scale / x
    }
}

impl<R: Real> Distribution for InvGamma<R> {
    scalar_continuous_items!(R);
    const NAME: &'static str = "inv_gamma";

    type Scalar = InvGamma<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> InvGamma<f64> {
        InvGamma { shape: param(&self.shape), scale: param(&self.scale) }
    }

    /// The formula for x > 0; `x` is assumed to lie in the support.
    #[inline]
    fn log_density(&self, x: &R) -> R {
        self.log_density_at(*x, x.ln())
    }

    #[inline]
    fn log_density_data(&self, x: &f64) -> R {
        if *x <= 0.0 {
            return impossible();
        }
        self.log_density_at(*x, x.ln())
    }

    /// # Panics
    /// If the parameters are invalid (see [`Distribution::check`]).
    #[inline]
    fn sample(&self, rng: &mut KeyRng) -> f64
    where
        R: Scalar,
    {
        // rand_distr has no inverse gamma; 1 / Gamma(shape, rate = scale) is exact.
        let made = rand_distr::Gamma::new(self.shape.value(), 1.0 / self.scale.value());
        1.0 / sampler(self, made).sample(rng)
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        let (shape, scale) = (self.shape.value(), self.scale.value());
        require(shape > 0.0 && shape.is_finite(), "shape", shape, "shape > 0")?;
        require(scale > 0.0 && scale.is_finite(), "scale", scale, "scale > 0")
    }

    fn support(&self) -> Support {
        Support::Positive
    }

    fn in_support(&self, x: &f64) -> bool
    where
        R: Scalar,
    {
        *x > 0.0 && x.is_finite()
    }
}

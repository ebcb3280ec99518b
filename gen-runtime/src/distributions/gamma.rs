use super::{impossible, sampler, scalar_continuous_items, Distribution, RealOps, Support};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::Distribution as _;

/// The gamma distribution in the shape–RATE parametrization.
///
/// Density p(x) = rate^shape / Γ(shape) · x^(shape - 1) e^(-rate x) for x > 0; mean
/// shape / rate, variance shape / rate².
///
/// The second parameter is the RATE, as in NumPyro's `Gamma(concentration, rate)`, Stan's
/// `gamma(alpha, beta)` and statrs; Gen.jl's `gamma(shape, scale)`, NumPy and `rand_distr` use
/// the SCALE = 1 / rate instead, so `gamma(k, 2.0)` here has mean k / 2, not 2k.
#[derive(Clone, Copy, Debug)]
pub struct Gamma<R> {
    /// Shape, also called concentration or alpha (> 0).
    pub shape: R,
    /// Rate, the inverse scale, also called beta (> 0).
    pub rate: R,
}

/// Gamma(shape, rate) with the RATE as second parameter: mean shape / rate (see [`Gamma`]).
#[inline]
pub fn gamma<R: Real>(shape: impl Into<R>, rate: impl Into<R>) -> Gamma<R> {
    Gamma { shape: shape.into(), rate: rate.into() }
}

impl<R: Real> Gamma<R> {
    #[inline]
    fn log_density_at<X: Copy>(&self, x: X, ln_x: X) -> R
    where
        R: RealOps<X>,
    {
        self.shape * self.rate.ln() - self.shape.ln_gamma() + (self.shape - 1.0) * ln_x - self.rate * x
    }
}

impl<R: Real> Distribution for Gamma<R> {
    scalar_continuous_items!(R);
    const NAME: &'static str = "gamma";

    type Scalar = Gamma<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> Gamma<f64> {
        Gamma { shape: param(&self.shape), rate: param(&self.rate) }
    }

    /// The formula for x > 0; `x` is assumed to lie in the support.
    #[inline]
    fn log_density(&self, x: &R) -> R {
        self.log_density_at(*x, x.ln())
    }

    #[inline]
    fn log_density_data(&self, x: &f64) -> R {
        // x = 0 has density 0, rate or +∞ depending on the shape; like the support, treat
        // it as outside (it has probability zero).
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
        // rand_distr takes the scale.
        let made = rand_distr::Gamma::new(self.shape.value(), 1.0 / self.rate.value());
        sampler(self, made).sample(rng)
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        let (shape, rate) = (self.shape.value(), self.rate.value());
        require(shape > 0.0 && shape.is_finite(), "shape", shape, "shape > 0")?;
        require(rate > 0.0 && rate.is_finite(), "rate", rate, "rate > 0")
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

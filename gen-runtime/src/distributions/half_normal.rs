use super::{impossible, scalar_continuous_items, Distribution, RealOps, Support, HALF_LN_2PI};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::{Distribution as _, StandardNormal};

/// ln sqrt(2/π), the half-normal's constant.
const HALF_LN_2_OVER_PI: f64 = std::f64::consts::LN_2 - HALF_LN_2PI;

/// The half-normal distribution: |Z| for Z ~ N(0, sigma²).
///
/// Density p(x) = sqrt(2/π) / sigma · exp(-x² / (2 sigma²)) for x ≥ 0, as NumPyro's
/// `HalfNormal(scale)` and Stan's `normal(0, sigma)` on a `<lower=0>` parameter.
/// Mean sigma sqrt(2/π), variance sigma² (1 - 2/π).
#[derive(Clone, Copy, Debug)]
pub struct HalfNormal<R> {
    /// Scale: the standard deviation of the normal that is folded (> 0).
    pub sigma: R,
}

/// HalfNormal(sigma), the scale of a zero-mean normal folded onto x ≥ 0.
#[inline]
pub fn half_normal<R: Real>(sigma: impl Into<R>) -> HalfNormal<R> {
    HalfNormal { sigma: sigma.into() }
}

impl<R: Real> HalfNormal<R> {
    #[inline]
    fn log_density_at<X: Copy>(&self, x: X) -> R
    where
        R: RealOps<X>,
    {
        let z = self.sigma.recip() * x;
        z.square() * -0.5 - self.sigma.ln() + HALF_LN_2_OVER_PI
    }
}

impl<R: Real> Distribution for HalfNormal<R> {
    scalar_continuous_items!(R);
    const NAME: &'static str = "half_normal";

    type Scalar = HalfNormal<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> HalfNormal<f64> {
        HalfNormal { sigma: param(&self.sigma) }
    }

    /// The formula for x ≥ 0; `x` is assumed to lie in the support (an engine value has no
    /// comparisons to check it with; stored values are checked by `log_density_data`).
    #[inline]
    fn log_density(&self, x: &R) -> R {
        self.log_density_at(*x)
    }

    #[inline]
    fn log_density_data(&self, x: &f64) -> R {
        if *x < 0.0 {
            return impossible();
        }
        self.log_density_at(*x)
    }

    #[inline]
    fn sample(&self, rng: &mut KeyRng) -> f64
    where
        R: Scalar,
    {
        // rand_distr has no half-normal; folding a normal draw is exact.
        let z: f64 = StandardNormal.sample(rng);
        self.sigma.value() * z.abs()
    }

    #[inline]
    fn sample_reparameterized(&self, rng: &mut KeyRng) -> Option<Vec<R>>
    where
        R: Scalar,
    {
        let z: f64 = StandardNormal.sample(rng);
        Some(vec![self.sigma * z.abs()])
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        let sigma = self.sigma.value();
        require(sigma > 0.0 && sigma.is_finite(), "sigma", sigma, "sigma > 0")
    }

    fn support(&self) -> Support {
        Support::Positive
    }

    /// x ≥ 0: the density is finite and positive at 0, so an observed 0 is allowed (the
    /// unconstrained map of [`Support::Positive`] excludes it, at probability zero).
    fn in_support(&self, x: &f64) -> bool
    where
        R: Scalar,
    {
        *x >= 0.0 && x.is_finite()
    }
}

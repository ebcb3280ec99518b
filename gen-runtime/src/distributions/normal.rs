use super::{scalar_continuous_items, Distribution, LogDensityParts, Support, HALF_LN_2PI};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::{Distribution as _, StandardNormal};

/// The normal distribution N(mu, sigma²).
#[derive(Clone, Copy, Debug)]
pub struct Normal<R> {
    /// Mean.
    pub mu: R,
    /// Standard deviation (> 0).
    pub sigma: R,
}

/// N(mu, sigma²). Parameters may be `f64` or the engine's `Real`.
#[inline]
pub fn normal<R: Real>(mu: impl Into<R>, sigma: impl Into<R>) -> Normal<R> {
    Normal { mu: mu.into(), sigma: sigma.into() }
}

impl<R: Real> Distribution for Normal<R> {
    scalar_continuous_items!(R);
    const NAME: &'static str = "normal";

    type Scalar = Normal<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> Normal<f64> {
        Normal { mu: param(&self.mu), sigma: param(&self.sigma) }
    }

    // Multiplying by 1/sigma rather than dividing: in a plate loop with a shared sigma the
    // compiler hoists the reciprocal (and ln sigma) out of the loop, leaving multiplications,
    // which is what a handcoded likelihood does.
    #[inline]
    fn log_density(&self, x: &R) -> R {
        let z = (*x - self.mu) * self.sigma.recip();
        z.square() * -0.5 - self.sigma.ln() - HALF_LN_2PI
    }

    #[inline]
    fn log_density_data(&self, x: &f64) -> R {
        let y = *x;
        R::fused2(
            self.mu,
            self.sigma,
            // (mu - y) keeps the observation a constant: no lift to R.
            |mu, sigma| ((mu - y) * sigma.recip()).square() * -0.5 - sigma.ln() - HALF_LN_2PI,
            |mu, sigma| {
                let inv = 1.0 / sigma;
                let z = (y - mu) * inv;
                (-0.5 * z * z - sigma.ln() - HALF_LN_2PI, z * inv, (z * z - 1.0) * inv)
            },
        )
    }

    // Kernel (y - mu)², scale -1/(2 sigma²): per point a subtraction and a square, and the
    // kernel's derivative in mu is -2 (y - mu), as in a handcoded likelihood and its gradient.
    // With a constant sigma the scale and offset are constants too (their tangents fold to
    // zero), which is what lets a plate adjoint apply them once.
    #[inline]
    fn log_density_parts(&self, x: &f64) -> LogDensityParts<R> {
        let y = *x;
        let kernel = R::fused2(self.mu, self.sigma, |mu, _| (mu - y).square(), |mu, _| {
            let r = y - mu;
            (r * r, -2.0 * r, 0.0)
        });
        LogDensityParts { kernel, scale: self.sigma.powi(-2) * -0.5, offset: -self.sigma.ln() - HALF_LN_2PI }
    }

    #[inline]
    fn sample(&self, rng: &mut KeyRng) -> f64
    where
        R: Scalar,
    {
        let z: f64 = StandardNormal.sample(rng);
        self.mu.value() + self.sigma.value() * z
    }

    #[inline]
    fn sample_reparameterized(&self, rng: &mut KeyRng) -> Option<Vec<R>>
    where
        R: Scalar,
    {
        let z: f64 = StandardNormal.sample(rng);
        Some(vec![self.mu + self.sigma * z])
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        let (mu, sigma) = (self.mu.value(), self.sigma.value());
        require(mu.is_finite(), "mu", mu, "finite")?;
        require(sigma > 0.0 && sigma.is_finite(), "sigma", sigma, "sigma > 0")
    }

    fn support(&self) -> Support {
        Support::Real
    }

    fn in_support(&self, x: &f64) -> bool
    where
        R: Scalar,
    {
        x.is_finite()
    }
}

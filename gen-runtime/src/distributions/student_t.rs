use super::{sampler, scalar_continuous_items, Distribution, RealOps, Support, LN_PI};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::Distribution as _;

/// The location-scale Student-t distribution: mu + sigma T for T ~ t(nu).
///
/// Density p(x) = Γ((nu + 1) / 2) / (Γ(nu / 2) sqrt(nu π) sigma) · (1 + z² / nu)^(-(nu + 1) / 2)
/// with z = (x - mu) / sigma. NumPyro's `StudentT(df, loc, scale)` and Stan's
/// `student_t(nu, mu, sigma)`. Mean mu for nu > 1; variance sigma² nu / (nu - 2) for nu > 2.
#[derive(Clone, Copy, Debug)]
pub struct StudentT<R> {
    /// Degrees of freedom (> 0).
    pub nu: R,
    /// Location.
    pub mu: R,
    /// Scale (> 0), not the standard deviation.
    pub sigma: R,
}

/// StudentT(nu, mu, sigma): degrees of freedom, location, scale.
#[inline]
pub fn student_t<R: Real>(nu: impl Into<R>, mu: impl Into<R>, sigma: impl Into<R>) -> StudentT<R> {
    StudentT { nu: nu.into(), mu: mu.into(), sigma: sigma.into() }
}

impl<R: Real> StudentT<R> {
    #[inline]
    fn log_density_at<X: Copy>(&self, x: X) -> R
    where
        R: RealOps<X>,
    {
        let z = (self.mu - x) / self.sigma;
        let half_nu_plus_1 = (self.nu + 1.0) * 0.5;
        half_nu_plus_1.ln_gamma()
            - (self.nu * 0.5).ln_gamma()
            - self.nu.ln() * 0.5
            - self.sigma.ln()
            - half_nu_plus_1 * (z.square() / self.nu).ln_1p()
            - 0.5 * LN_PI
    }
}

impl<R: Real> Distribution for StudentT<R> {
    scalar_continuous_items!(R);
    const NAME: &'static str = "student_t";

    type Scalar = StudentT<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> StudentT<f64> {
        StudentT { nu: param(&self.nu), mu: param(&self.mu), sigma: param(&self.sigma) }
    }

    #[inline]
    fn log_density(&self, x: &R) -> R {
        self.log_density_at(*x)
    }

    #[inline]
    fn log_density_data(&self, x: &f64) -> R {
        self.log_density_at(*x)
    }

    /// # Panics
    /// If the parameters are invalid (see [`Distribution::check`]).
    #[inline]
    fn sample(&self, rng: &mut KeyRng) -> f64
    where
        R: Scalar,
    {
        let t: f64 = sampler(self, rand_distr::StudentT::new(self.nu.value())).sample(rng);
        self.mu.value() + self.sigma.value() * t
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        let (nu, mu, sigma) = (self.nu.value(), self.mu.value(), self.sigma.value());
        require(nu > 0.0 && nu.is_finite(), "nu", nu, "nu > 0")?;
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

use super::{impossible, Distribution, IntoReals, RealOps, Support, HALF_LN_2PI};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::{Distribution as _, StandardNormal};

/// The multivariate normal distribution with a diagonal covariance: independent normals.
///
/// Density p(x) = Π_i N(x_i; mu_i, sigma_i²)
/// = Π_i 1 / (sigma_i sqrt(2π)) · exp(-(x_i - mu_i)² / (2 sigma_i²)). NumPyro writes it
/// `Normal(mu, sigma).to_event(1)`. `sigma` holds standard deviations, not variances.
#[derive(Clone, Debug)]
pub struct MvNormalDiag<R> {
    /// Means.
    pub mu: Vec<R>,
    /// Standard deviations (each > 0), as many as means.
    pub sigma: Vec<R>,
}

/// MvNormalDiag(mu, sigma): x_i ~ N(mu_i, sigma_i²) independently; `sigma` holds standard
/// deviations.
#[inline]
pub fn mv_normal_diag<R: Real>(mu: impl IntoReals<R>, sigma: impl IntoReals<R>) -> MvNormalDiag<R> {
    MvNormalDiag { mu: mu.into_reals(), sigma: sigma.into_reals() }
}

impl<R: Real> MvNormalDiag<R> {
    #[inline]
    fn log_density_at<X: Copy>(&self, x: impl Iterator<Item = X>) -> R
    where
        R: RealOps<X>,
    {
        let mut lp = R::cst(-HALF_LN_2PI * self.mu.len() as f64);
        for ((&mu, &sigma), xi) in self.mu.iter().zip(&self.sigma).zip(x) {
            let z = (mu - xi) / sigma;
            lp -= z.square() * 0.5 + sigma.ln();
        }
        lp
    }
}

impl<R: Real> Distribution for MvNormalDiag<R> {
    type Real = R;
    type Value = Vec<R>;
    type Data = Vec<f64>;
    const NAME: &'static str = "mv_normal_diag";

    type Scalar = MvNormalDiag<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> MvNormalDiag<f64> {
        MvNormalDiag { mu: self.mu.iter().map(&mut *param).collect(), sigma: self.sigma.iter().map(&mut *param).collect() }
    }

    fn batch_value(&self, data: &[Vec<f64>], rows: usize, cols: usize) -> Option<Vec<R>> {
        let k = data.first().map_or(0, Vec::len);
        data.iter()
            .all(|v| v.len() == k)
            .then(|| (0..k).map(|j| R::from_batch(&data.iter().map(|v| v[j]).collect::<Vec<_>>(), rows, cols)).collect())
    }

    /// -∞ if `x` has the wrong length.
    fn log_density(&self, x: &Vec<R>) -> R {
        if x.len() != self.mu.len() {
            return impossible();
        }
        self.log_density_at(x.iter().copied())
    }

    fn log_density_data(&self, x: &Vec<f64>) -> R {
        if x.len() != self.mu.len() {
            return impossible();
        }
        self.log_density_at(x.iter().copied())
    }

    fn lift(&self, x: &Vec<f64>) -> Vec<R> {
        x.iter().map(|&xi| R::cst(xi)).collect()
    }

    fn lower(x: &Vec<R>) -> Vec<f64>
    where
        R: Scalar,
    {
        x.iter().map(|xi| xi.value()).collect()
    }

    fn sample(&self, rng: &mut KeyRng) -> Vec<f64>
    where
        R: Scalar,
    {
        self.mu
            .iter()
            .zip(&self.sigma)
            .map(|(mu, sigma)| {
                let z: f64 = StandardNormal.sample(rng);
                mu.value() + sigma.value() * z
            })
            .collect()
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        let k = self.mu.len();
        require(self.sigma.len() == k, "sigma", self.sigma.len() as f64, "as many entries as mu")?;
        for mu in self.mu.iter().map(|m| m.value()) {
            require(mu.is_finite(), "mu", mu, "finite")?;
        }
        for sigma in self.sigma.iter().map(|s| s.value()) {
            require(sigma > 0.0 && sigma.is_finite(), "sigma", sigma, "every sigma_i > 0")?;
        }
        Ok(())
    }

    fn support(&self) -> Support {
        Support::RealVector
    }

    fn in_support(&self, x: &Vec<f64>) -> bool
    where
        R: Scalar,
    {
        x.len() == self.mu.len() && x.iter().all(|xi| xi.is_finite())
    }

    #[inline]
    fn flat_dim(&self) -> Option<usize> {
        Some(self.mu.len())
    }

    fn value_from_flat(&self, xs: &[R]) -> Vec<R> {
        xs.to_vec()
    }

    fn write_flat(x: &Vec<f64>, out: &mut Vec<f64>) {
        out.extend_from_slice(x);
    }
}

use super::{impossible, Distribution, IntoReals, RealOps, Support, HALF_LN_2PI};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::{Distribution as _, StandardNormal};
use std::sync::Arc;

/// The lower Cholesky factor L of a covariance matrix Σ = L Lᵀ.
///
/// [`mv_normal`] factors its covariance on every construction, which happens on every
/// execution of the model. When the covariance is fixed data, factor it once with
/// [`Cholesky::new`] and pass the shared factor to [`mv_normal_cholesky`].
#[derive(Clone, Debug, PartialEq)]
pub struct Cholesky {
    dim: usize,
    /// The lower triangle by rows: row i is `lower[i (i + 1) / 2 ..][..i + 1]`, the layout
    /// forward substitution reads.
    lower: Vec<f64>,
    /// Σ_i ln L_ii = ln det Σ / 2.
    half_log_det: f64,
}

impl Cholesky {
    /// Factors a symmetric positive-definite matrix given as rows
    /// (`Vec<Vec<f64>>`, `&[Vec<f64>]`, `[[f64; K]; K]`, ...).
    ///
    /// # Errors
    /// A [`ParamError`] for the parameter `cov` if the matrix is not square, has a non-finite
    /// entry, is not symmetric (entries may differ by 1e-8 in correlation units, for
    /// matrices computed in floating point), or is not positive definite.
    pub fn new<M, Row>(cov: M) -> Result<Self, ParamError>
    where
        M: AsRef<[Row]>,
        Row: AsRef<[f64]>,
    {
        let rows = cov.as_ref();
        let dim = rows.len();
        for row in rows {
            let row = row.as_ref();
            require(row.len() == dim, "cov", row.len() as f64, "a square matrix")?;
            for &c in row {
                require(c.is_finite(), "cov", c, "finite entries")?;
            }
        }
        let at = |i: usize, j: usize| rows[i].as_ref()[j];
        for i in 0..dim {
            for j in 0..i {
                let tolerance = 1e-8 * (at(i, i) * at(j, j)).abs().sqrt();
                require((at(i, j) - at(j, i)).abs() <= tolerance, "cov", at(i, j), "a symmetric matrix")?;
            }
        }
        let start = |i: usize| i * (i + 1) / 2;
        let mut lower = vec![0.0; start(dim)];
        let mut half_log_det = 0.0;
        for i in 0..dim {
            for j in 0..=i {
                let dot: f64 = (0..j).map(|m| lower[start(i) + m] * lower[start(j) + m]).sum();
                let s = at(i, j) - dot;
                if i == j {
                    require(s > 0.0, "cov", s, "a positive-definite matrix (a pivot was <= 0)")?;
                    let d = s.sqrt();
                    lower[start(i) + i] = d;
                    half_log_det += d.ln();
                } else {
                    lower[start(i) + j] = s / lower[start(j) + j];
                }
            }
        }
        Ok(Cholesky { dim, lower, half_log_det })
    }

    /// The dimension k of the k × k matrix.
    #[inline]
    #[must_use]
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row i of L up to the diagonal: L_i0, ..., L_ii.
    ///
    /// # Panics
    /// If `i >= dim()`.
    #[inline]
    #[must_use]
    pub fn row(&self, i: usize) -> &[f64] {
        assert!(i < self.dim, "row {i} of a {0} x {0} Cholesky factor", self.dim);
        let start = i * (i + 1) / 2;
        &self.lower[start..start + i + 1]
    }

    /// ln det Σ = 2 Σ_i ln L_ii.
    #[inline]
    #[must_use]
    pub fn log_det(&self) -> f64 {
        2.0 * self.half_log_det
    }
}

/// The multivariate normal distribution N(mu, Σ) with a full covariance matrix.
///
/// Density p(x) = (2π)^(-k/2) det(Σ)^(-1/2) exp(-(x - mu)ᵀ Σ⁻¹ (x - mu) / 2), evaluated
/// through the Cholesky factor Σ = L Lᵀ as -|z|²/2 - Σ_i ln L_ii - k ln(2π)/2 with
/// L z = x - mu. The mean is an engine value (differentiable); the covariance is `f64` data,
/// factored when the distribution is built (see [`Cholesky`] to factor it only once).
#[derive(Clone, Debug)]
pub struct MvNormal<R> {
    /// Mean vector.
    pub mu: Vec<R>,
    /// The factor, or why the covariance could not be factored (reported by `check`).
    chol: Result<Arc<Cholesky>, ParamError>,
}

/// MvNormal(mu, cov) with covariance matrix `cov` given as rows; factors it now.
///
/// A covariance that is not symmetric positive definite is not a panic: [`Distribution::check`]
/// reports it as the parameter `cov`.
pub fn mv_normal<R, M, Row>(mu: impl IntoReals<R>, cov: M) -> MvNormal<R>
where
    R: Real,
    M: AsRef<[Row]>,
    Row: AsRef<[f64]>,
{
    MvNormal { mu: mu.into_reals(), chol: Cholesky::new(cov).map(Arc::new) }
}

/// MvNormal(mu, L Lᵀ) from a Cholesky factor computed once with [`Cholesky::new`].
#[inline]
pub fn mv_normal_cholesky<R: Real>(mu: impl IntoReals<R>, factor: impl Into<Arc<Cholesky>>) -> MvNormal<R> {
    MvNormal { mu: mu.into_reals(), chol: Ok(factor.into()) }
}

impl<R> MvNormal<R> {
    /// The covariance's Cholesky factor, or `None` if the covariance was invalid.
    #[inline]
    #[must_use]
    pub fn cholesky(&self) -> Option<&Cholesky> {
        self.chol.as_deref().ok()
    }

    /// The factor if it exists and matches the mean's dimension.
    #[inline]
    fn valid_factor(&self) -> Option<&Cholesky> {
        self.cholesky().filter(|c| c.dim() == self.mu.len())
    }
}

impl<R: Real> MvNormal<R> {
    fn log_density_at<X: Copy>(&self, x: &[X]) -> R
    where
        R: RealOps<X>,
    {
        let Some(chol) = self.valid_factor() else {
            // Invalid parameters: `check` names them; a density would be meaningless.
            return R::cst(f64::NAN);
        };
        if x.len() != self.mu.len() {
            return impossible();
        }
        // Forward substitution L z = mu - x (the sign does not change |z|² and keeps the
        // observation on the right of every operation).
        let mut z: Vec<R> = Vec::with_capacity(x.len());
        let mut quad = R::cst(0.0);
        for (i, (&mu, &xi)) in self.mu.iter().zip(x).enumerate() {
            let row = chol.row(i);
            let mut s = mu - xi;
            for (&zj, &l) in z.iter().zip(row) {
                s -= zj * l;
            }
            let zi = s / row[i];
            quad += zi.square();
            z.push(zi);
        }
        quad * -0.5 - chol.half_log_det - HALF_LN_2PI * x.len() as f64
    }
}

impl<R: Real> Distribution for MvNormal<R> {
    type Real = R;
    type Value = Vec<R>;
    type Data = Vec<f64>;
    const NAME: &'static str = "mv_normal";

    type Scalar = MvNormal<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> MvNormal<f64> {
        MvNormal { mu: self.mu.iter().map(&mut *param).collect(), chol: self.chol.clone() }
    }

    fn batch_value(&self, data: &[Vec<f64>], rows: usize, cols: usize) -> Option<Vec<R>> {
        let k = data.first().map_or(0, Vec::len);
        data.iter()
            .all(|v| v.len() == k)
            .then(|| (0..k).map(|j| R::from_batch(&data.iter().map(|v| v[j]).collect::<Vec<_>>(), rows, cols)).collect())
    }

    /// -∞ if `x` has the wrong length; NaN if the covariance is invalid.
    fn log_density(&self, x: &Vec<R>) -> R {
        self.log_density_at(x)
    }

    fn log_density_data(&self, x: &Vec<f64>) -> R {
        self.log_density_at(x)
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

    /// mu + L z with z standard normal.
    ///
    /// # Panics
    /// If the parameters are invalid (see [`Distribution::check`]).
    fn sample(&self, rng: &mut KeyRng) -> Vec<f64>
    where
        R: Scalar,
    {
        let Some(chol) = self.valid_factor() else {
            let e = self.check().expect_err("an invalid factor fails check");
            panic!("cannot sample mv_normal: parameter {} = {} is invalid ({}); call check() first", e.parameter, e.value, e.requirement);
        };
        let z: Vec<f64> = (0..self.mu.len()).map(|_| StandardNormal.sample(rng)).collect();
        self.mu.iter().enumerate().map(|(i, mu)| mu.value() + chol.row(i).iter().zip(&z).map(|(l, z)| l * z).sum::<f64>()).collect()
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        let chol = self.chol.as_deref().map_err(Clone::clone)?;
        require(chol.dim() == self.mu.len(), "cov", chol.dim() as f64, "a matrix of the size of mu")?;
        for mu in self.mu.iter().map(|m| m.value()) {
            require(mu.is_finite(), "mu", mu, "finite")?;
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

use super::{impossible, sampler, Distribution, IntoReals, RealOps, Support, SIMPLEX_TOLERANCE};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::{Distribution as _, Open01};

/// The Dirichlet distribution on the probability simplex with k entries.
///
/// Density p(x) = Γ(Σ_i alpha_i) / Π_i Γ(alpha_i) · Π_i x_i^(alpha_i - 1) for x_i > 0 with
/// Σ_i x_i = 1, with respect to Lebesgue measure on the first k - 1 coordinates (the
/// convention of Stan, NumPyro and statrs). Mean alpha_i / Σ_j alpha_j.
#[derive(Clone, Debug)]
pub struct Dirichlet<R> {
    /// Concentrations (each > 0); their number is k.
    pub alpha: Vec<R>,
}

/// Dirichlet(alpha) over k = `alpha.len()` categories; `alpha` may be `f64` constants or
/// engine values.
#[inline]
pub fn dirichlet<R: Real>(alpha: impl IntoReals<R>) -> Dirichlet<R> {
    Dirichlet { alpha: alpha.into_reals() }
}

impl<R: Real> Dirichlet<R> {
    #[inline]
    fn log_density_ln<X: Copy>(&self, ln_x: impl Iterator<Item = X>) -> R
    where
        R: RealOps<X>,
    {
        let mut total = R::cst(0.0);
        let mut lp = R::cst(0.0);
        for (&a, lx) in self.alpha.iter().zip(ln_x) {
            total += a;
            lp += (a - 1.0) * lx - a.ln_gamma();
        }
        lp + total.ln_gamma()
    }
}

impl<R: Real> Distribution for Dirichlet<R> {
    type Real = R;
    type Value = Vec<R>;
    type Data = Vec<f64>;
    const NAME: &'static str = "dirichlet";

    type Scalar = Dirichlet<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> Dirichlet<f64> {
        Dirichlet { alpha: self.alpha.iter().map(&mut *param).collect() }
    }

    fn batch_value(&self, data: &[Vec<f64>], rows: usize, cols: usize) -> Option<Vec<R>> {
        let k = data.first().map_or(0, Vec::len);
        data.iter()
            .all(|v| v.len() == k)
            .then(|| (0..k).map(|j| R::from_batch(&data.iter().map(|v| v[j]).collect::<Vec<_>>(), rows, cols)).collect())
    }

    /// The formula for x on the simplex; -∞ if `x` has the wrong length. Its entries are
    /// otherwise assumed to lie in the support (engine values have no comparisons).
    fn log_density(&self, x: &Vec<R>) -> R {
        if x.len() != self.alpha.len() {
            return impossible();
        }
        self.log_density_ln(x.iter().map(|xi| xi.ln()))
    }

    /// -∞ for a wrong length or an entry ≤ 0; the sum is not checked here (see
    /// [`Distribution::in_support`]).
    fn log_density_data(&self, x: &Vec<f64>) -> R {
        if x.len() != self.alpha.len() || x.iter().any(|&xi| xi <= 0.0) {
            return impossible();
        }
        self.log_density_ln(x.iter().map(|xi| xi.ln()))
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

    /// Normalized gamma draws, in log space: for alpha_i < 1 the draw is
    /// Gamma(alpha_i + 1) · U^(1 / alpha_i), whose logarithm stays finite where the gamma draw
    /// itself would underflow to 0 (which would put the sample outside the support).
    ///
    /// # Panics
    /// If the parameters are invalid (see [`Distribution::check`]).
    fn sample(&self, rng: &mut KeyRng) -> Vec<f64>
    where
        R: Scalar,
    {
        let mut log_g: Vec<f64> = self
            .alpha
            .iter()
            .map(|a| {
                let a = a.value();
                if a < 1.0 {
                    let g: f64 = sampler(self, rand_distr::Gamma::new(a + 1.0, 1.0)).sample(rng);
                    let u: f64 = Open01.sample(rng);
                    g.ln() + u.ln() / a
                } else {
                    let g: f64 = sampler(self, rand_distr::Gamma::new(a, 1.0)).sample(rng);
                    g.ln()
                }
            })
            .collect();
        let max = log_g.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut total = 0.0;
        for lg in &mut log_g {
            *lg = (*lg - max).exp();
            total += *lg;
        }
        for x in &mut log_g {
            // An entry far below the others underflows; the smallest normal float keeps it
            // inside the open simplex at a cost below rounding error in the sum.
            *x = (*x / total).max(f64::MIN_POSITIVE);
        }
        log_g
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        require(!self.alpha.is_empty(), "alpha", 0.0, "at least one concentration")?;
        for a in self.alpha.iter().map(|a| a.value()) {
            require(a > 0.0 && a.is_finite(), "alpha", a, "every alpha_i > 0")?;
        }
        Ok(())
    }

    fn support(&self) -> Support {
        Support::Simplex(self.alpha.len())
    }

    /// k entries, each > 0, summing to 1 within 1e-6.
    fn in_support(&self, x: &Vec<f64>) -> bool
    where
        R: Scalar,
    {
        x.len() == self.alpha.len()
            && x.iter().all(|&xi| xi > 0.0 && xi.is_finite())
            && (x.iter().sum::<f64>() - 1.0).abs() <= SIMPLEX_TOLERANCE
    }

    #[inline]
    fn flat_dim(&self) -> Option<usize> {
        Some(self.alpha.len())
    }

    fn value_from_flat(&self, xs: &[R]) -> Vec<R> {
        xs.to_vec()
    }

    fn write_flat(x: &Vec<f64>, out: &mut Vec<f64>) {
        out.extend_from_slice(x);
    }
}

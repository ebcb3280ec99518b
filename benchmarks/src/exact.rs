//! Exact posteriors and marginal likelihoods that every benchmark row is checked against.
//!
//! TODO(lead): replace with gen_runtime::exact (SPEC 5 puts the exact references in the runtime);
//! this module is kept minimal until then.

use crate::data::{BetaBernoulliData, HmmData, LgssmData, PolynomialData};

const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// A Gaussian posterior over the latents together with the log marginal likelihood.
#[derive(Clone, Debug)]
pub struct GaussianPosterior {
    /// Posterior mean, in the model's latent order.
    pub mean: Vec<f64>,
    /// Posterior covariance, row-major k x k.
    pub cov: Vec<f64>,
    /// Posterior standard deviations (square roots of the covariance diagonal).
    pub sd: Vec<f64>,
    /// log p(y).
    pub log_ml: f64,
}

/// Conjugate Gaussian linear regression on the features (1, x, x^2).
///
/// Precision A = Phi^T Phi / s^2 + I / s0^2, mean A^-1 Phi^T y / s^2, and
/// log p(y) = log N(y; 0, s^2 I + s0^2 Phi Phi^T) evaluated in O(n k^2) with the matrix
/// determinant lemma (ln det = 2n ln s + 2k ln s0 + ln det A) and Woodbury
/// (y^T Sigma^-1 y = y^T y / s^2 - b^T A^-1 b with b = Phi^T y / s^2).
#[must_use]
pub fn polynomial(data: &PolynomialData) -> GaussianPosterior {
    const K: usize = 3;
    let (s2, s02) = (data.noise_sd * data.noise_sd, data.prior_sd * data.prior_sd);
    let mut precision = [0.0; K * K];
    let mut b = [0.0; K];
    let mut yty = 0.0;
    for (&x, &y) in data.x.iter().zip(&data.y) {
        let phi = [1.0, x, x * x];
        for i in 0..K {
            b[i] += phi[i] * y / s2;
            for j in 0..K {
                precision[i * K + j] += phi[i] * phi[j] / s2;
            }
        }
        yty += y * y;
    }
    for i in 0..K {
        precision[i * K + i] += 1.0 / s02;
    }
    let chol = cholesky(&precision, K).expect("the posterior precision is positive definite");
    let mean = cholesky_solve(&chol, K, &b);
    let mut cov = vec![0.0; K * K];
    for j in 0..K {
        let mut e = [0.0; K];
        e[j] = 1.0;
        for (i, v) in cholesky_solve(&chol, K, &e).into_iter().enumerate() {
            cov[i * K + j] = v;
        }
    }
    let ln_det_precision: f64 = (0..K).map(|i| 2.0 * chol[i * K + i].ln()).sum();
    let n = data.y.len() as f64;
    let ln_det_sigma = n * s2.ln() + K as f64 * s02.ln() + ln_det_precision;
    let quad = yty / s2 - b.iter().zip(&mean).map(|(b, m)| b * m).sum::<f64>();
    let log_ml = -0.5 * (n * LN_2PI + ln_det_sigma + quad);
    let sd = (0..K).map(|i| cov[i * K + i].sqrt()).collect();
    GaussianPosterior {
        mean,
        cov,
        sd,
        log_ml,
    }
}

/// Lower Cholesky factor of the symmetric positive-definite k x k matrix `a` (row-major), or
/// `None` when it is not positive definite.
#[must_use]
pub fn cholesky(a: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = a[i * k + j] - (0..j).map(|m| l[i * k + m] * l[j * k + m]).sum::<f64>();
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * k + i] = s.sqrt();
            } else {
                l[i * k + j] = s / l[j * k + j];
            }
        }
    }
    Some(l)
}

/// Solves L L^T x = b for the Cholesky factor `l`.
#[must_use]
pub fn cholesky_solve(l: &[f64], k: usize, b: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; k];
    for i in 0..k {
        z[i] = (b[i] - (0..i).map(|m| l[i * k + m] * z[m]).sum::<f64>()) / l[i * k + i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        x[i] = (z[i] - (i + 1..k).map(|m| l[m * k + i] * x[m]).sum::<f64>()) / l[i * k + i];
    }
    x
}

/// The Beta posterior of the Beta-Bernoulli model.
#[derive(Clone, Debug)]
pub struct BetaPosterior {
    /// Posterior shape alpha + k.
    pub alpha: f64,
    /// Posterior shape beta + n - k.
    pub beta: f64,
    /// Posterior mean of p.
    pub mean: f64,
    /// Posterior standard deviation of p.
    pub sd: f64,
    /// log p(y) = ln B(alpha + k, beta + n - k) - ln B(alpha, beta).
    pub log_ml: f64,
}

/// Exact posterior of p ~ Beta(alpha, beta), y_i ~ Bernoulli(p).
#[must_use]
pub fn beta_bernoulli(data: &BetaBernoulliData) -> BetaPosterior {
    let k = data.y.iter().map(|&y| f64::from(y)).sum::<f64>();
    let n = data.y.len() as f64;
    let (a, b) = (data.alpha + k, data.beta + n - k);
    let log_ml = ln_beta(a, b) - ln_beta(data.alpha, data.beta);
    let mean = a / (a + b);
    let sd = (a * b / ((a + b) * (a + b) * (a + b + 1.0))).sqrt();
    BetaPosterior {
        alpha: a,
        beta: b,
        mean,
        sd,
        log_ml,
    }
}

/// ln B(a, b).
#[must_use]
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// ln Gamma(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error about 1e-15).
#[must_use]
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the series in its accurate range.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + G + 0.5;
    let series = COEFFS[1..]
        .iter()
        .enumerate()
        .fold(COEFFS[0], |acc, (i, c)| acc + c / (x + i as f64 + 1.0));
    0.5 * LN_2PI + (x + 0.5) * t.ln() - t + series.ln()
}

/// log p(y_1..y_T) of the discrete HMM by the scaled forward algorithm.
#[must_use]
pub fn hmm_log_ml(data: &HmmData) -> f64 {
    let spec = &data.spec;
    let k = spec.initial.len();
    let mut alpha = spec.initial.clone();
    let mut next = vec![0.0; k];
    let mut log_ml = 0.0;
    for (t, &y) in data.y.iter().enumerate() {
        if t > 0 {
            for (j, slot) in next.iter_mut().enumerate() {
                *slot = (0..k).map(|i| alpha[i] * spec.transition[i][j]).sum();
            }
            std::mem::swap(&mut alpha, &mut next);
        }
        for (i, a) in alpha.iter_mut().enumerate() {
            *a *= spec.emission[i][y];
        }
        let norm: f64 = alpha.iter().sum();
        log_ml += norm.ln();
        alpha.iter_mut().for_each(|a| *a /= norm);
    }
    log_ml
}

/// log p(y_1..y_T) of the LGSSM by the Kalman filter.
#[must_use]
pub fn kalman_log_ml(data: &LgssmData) -> f64 {
    let s = &data.spec;
    let (q2, r2) = (s.q * s.q, s.r * s.r);
    let (mut mean, mut var) = (s.x1_mean, s.x1_sd * s.x1_sd);
    let mut log_ml = 0.0;
    for (t, &y) in data.y.iter().enumerate() {
        if t > 0 {
            mean *= s.a;
            var = s.a * s.a * var + q2;
        }
        let innovation_var = var + r2;
        let innovation = y - mean;
        log_ml += -0.5 * (LN_2PI + innovation_var.ln() + innovation * innovation / innovation_var);
        let gain = var / innovation_var;
        mean += gain * innovation;
        var *= 1.0 - gain;
    }
    log_ml
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{linspace01, HmmSpec, LgssmSpec};

    /// log N(y; 0, Sigma) with Sigma built densely: the O(n^3) definition the fast path must match.
    fn dense_log_ml(data: &PolynomialData) -> f64 {
        let n = data.y.len();
        let (s2, s02) = (data.noise_sd.powi(2), data.prior_sd.powi(2));
        let phi = |x: f64| [1.0, x, x * x];
        let mut sigma = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let (pi, pj) = (phi(data.x[i]), phi(data.x[j]));
                sigma[i * n + j] = s02 * (0..3).map(|m| pi[m] * pj[m]).sum::<f64>()
                    + if i == j { s2 } else { 0.0 };
            }
        }
        let l = cholesky(&sigma, n).unwrap();
        let alpha = cholesky_solve(&l, n, &data.y);
        let quad: f64 = data.y.iter().zip(&alpha).map(|(a, b)| a * b).sum();
        let ln_det: f64 = (0..n).map(|i| 2.0 * l[i * n + i].ln()).sum();
        -0.5 * (n as f64 * LN_2PI + ln_det + quad)
    }

    #[test]
    fn polynomial_log_ml_matches_the_dense_gaussian() {
        let x = linspace01(12);
        let y = x
            .iter()
            .map(|x| 0.3 + 0.1 * x - x * x + 0.2 * (7.0 * x).sin())
            .collect();
        for noise_sd in [0.05, 1.0] {
            let data = PolynomialData {
                x: x.clone(),
                y: Vec::clone(&y),
                noise_sd,
                prior_sd: 1.0,
            };
            let fast = polynomial(&data).log_ml;
            assert!(
                (fast - dense_log_ml(&data)).abs() < 1e-8,
                "{fast} vs {}",
                dense_log_ml(&data)
            );
        }
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
        assert!((ln_gamma(30.5) - 72.953_471_184_169_4).abs() < 1e-10);
    }

    #[test]
    fn beta_bernoulli_of_no_data_is_the_prior() {
        let post = beta_bernoulli(&BetaBernoulliData {
            y: vec![],
            alpha: 2.0,
            beta: 3.0,
        });
        assert!(post.log_ml.abs() < 1e-14);
        assert!((post.mean - 0.4).abs() < 1e-14);
        // One success: p(y=1) = alpha / (alpha + beta).
        let one = beta_bernoulli(&BetaBernoulliData {
            y: vec![1],
            alpha: 2.0,
            beta: 3.0,
        });
        assert!((one.log_ml - 0.4f64.ln()).abs() < 1e-13);
    }

    #[test]
    fn hmm_forward_of_one_step_is_the_mixture() {
        let spec = HmmSpec {
            initial: vec![0.25, 0.75],
            transition: vec![vec![0.9, 0.1], vec![0.2, 0.8]],
            emission: vec![vec![0.6, 0.4], vec![0.3, 0.7]],
            t: 1,
            seed: 0,
        };
        let got = hmm_log_ml(&HmmData { y: vec![1], spec });
        assert!((got - (0.25f64 * 0.4 + 0.75 * 0.7).ln()).abs() < 1e-14);
    }

    #[test]
    fn kalman_of_one_step_is_the_marginal_gaussian() {
        let spec = LgssmSpec {
            a: 0.9,
            q: 0.5,
            r: 2.0,
            x1_mean: 1.0,
            x1_sd: 1.5,
            t: 1,
            seed: 0,
        };
        let got = kalman_log_ml(&LgssmData { y: vec![0.3], spec });
        let var: f64 = 1.5 * 1.5 + 4.0;
        let want = -0.5 * (LN_2PI + var.ln() + (0.3f64 - 1.0).powi(2) / var);
        assert!((got - want).abs() < 1e-14);
    }
}

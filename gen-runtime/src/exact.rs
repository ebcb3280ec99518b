//! Exact posteriors and log marginal likelihoods for the benchmark models, the
//! references that inference results are checked against.
//!
//! - [`linear_regression`] and [`polynomial`]: conjugate Gaussian linear
//!   regression with known noise sd and an i.i.d. `N(0, prior_sd^2)` prior on the
//!   coefficients (Bishop, *Pattern Recognition and Machine Learning*, §3.3 and
//!   §3.5.1). The log marginal likelihood uses the Cholesky factor of the d x d
//!   posterior precision and the matrix determinant lemma, never an n x n matrix.
//! - [`beta_bernoulli`] and [`beta_bernoulli_counts`]: `Beta(alpha + k, beta + n - k)`
//!   and the log probability of the observed sequence, `ln B(alpha + k, beta + n - k) - ln B(alpha, beta)`.
//! - [`hmm_forward`]: the forward algorithm for a discrete HMM in log space
//!   (Rabiner 1989, §III.A), giving the log marginal likelihood and the filtered
//!   state marginals `p(z_t | y_1..t)`.
//! - [`kalman_filter`]: the Kalman filter for the 1-D linear-Gaussian state-space
//!   model (Särkkä, *Bayesian Filtering and Smoothing*, §4.3), giving the log
//!   marginal likelihood by the prediction-error decomposition and the filtered
//!   means and variances.
//!
//! - [`gaussian_kl`] and [`mean_field_optimum`]: KL(q ‖ p) between normals and the best
//!   mean-field fit to a Gaussian, for judging variational fits to the Gaussian posteriors
//!   above.
//!
//! Log marginal likelihoods are natural logarithms of densities (continuous
//! observations) or probabilities (discrete observations) of the whole data set.
//! Bad input returns an [`ExactError`] naming the problem; nothing here panics.

use crate::distributions::LN_2PI;
use crate::inference::weights::log_sum_exp;
use statrs::function::beta::ln_beta;
use thiserror::Error;

/// How far a probability vector's sum may stray from 1.
pub const PROBABILITY_SUM_TOLERANCE: f64 = 1e-9;


/// Why an exact posterior could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ExactError {
    /// Two inputs that must have matching lengths do not.
    #[error("{what} has length {got}, expected {expected}")]
    LengthMismatch {
        /// The input whose length is wrong.
        what: String,
        /// The length it should have.
        expected: usize,
        /// The length it has.
        got: usize,
    },
    /// A model with nothing in it: no coefficients, no states, or no symbols.
    #[error("{what} is empty")]
    Empty {
        /// What is empty.
        what: &'static str,
    },
    /// A standard deviation or Beta shape parameter that is zero, negative or not finite.
    #[error("{name} must be positive and finite, got {value}")]
    NonPositiveParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A data value or model parameter that is NaN or infinite.
    #[error("{what} is not finite ({value})")]
    NonFinite {
        /// Which value, with its index.
        what: String,
        /// The value given.
        value: f64,
    },
    /// A negative entry in a probability vector.
    #[error("{what} has a negative probability {value} at index {index}")]
    NegativeProbability {
        /// The vector, e.g. `"transition row 2"`.
        what: String,
        /// Position of the entry.
        index: usize,
        /// The entry.
        value: f64,
    },
    /// A probability vector whose entries do not sum to 1 within [`PROBABILITY_SUM_TOLERANCE`].
    #[error("{what} sums to {sum}, not 1")]
    NotNormalized {
        /// The vector, e.g. `"emission row 0"`.
        what: String,
        /// Its sum.
        sum: f64,
    },
    /// A discrete observation that is not a valid symbol index.
    #[error("observation {time} is {value}, but the emission matrix has only {n_symbols} symbols")]
    ObservationOutOfRange {
        /// Time index (0-based) of the observation.
        time: usize,
        /// The observed symbol.
        value: usize,
        /// Number of symbols (columns of the emission matrix).
        n_symbols: usize,
    },
    /// More successes than trials.
    #[error("{successes} successes in only {trials} trials")]
    TooManySuccesses {
        /// Number of successes given.
        successes: u64,
        /// Number of trials given.
        trials: u64,
    },
    /// An observation sequence the model gives probability zero.
    #[error("observation {time} has probability zero given the earlier observations")]
    ZeroProbability {
        /// Time index (0-based) of the impossible observation.
        time: usize,
    },
    /// The posterior precision matrix lost positive definiteness to rounding or overflow.
    #[error("the posterior precision matrix is not numerically positive definite (pivot {pivot})")]
    NotPositiveDefinite {
        /// Index of the failing Cholesky pivot.
        pivot: usize,
    },
    /// A covariance matrix given as input is not positive definite.
    #[error("the {what} covariance is not positive definite")]
    CovarianceNotPositiveDefinite {
        /// Which one (`p`, `q`).
        what: String,
    },
}

fn check_positive(name: &'static str, value: f64) -> Result<(), ExactError> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(ExactError::NonPositiveParameter { name, value })
    }
}

fn check_finite(what: impl FnOnce() -> String, value: f64) -> Result<(), ExactError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(ExactError::NonFinite { what: what(), value })
    }
}

fn check_length(what: impl FnOnce() -> String, expected: usize, got: usize) -> Result<(), ExactError> {
    if expected == got {
        Ok(())
    } else {
        Err(ExactError::LengthMismatch { what: what(), expected, got })
    }
}

// ---------------------------------------------------------------------------
// Conjugate Gaussian linear regression
// ---------------------------------------------------------------------------

/// The exact posterior of a conjugate Gaussian linear regression
/// `beta ~ N(0, prior_sd^2 I)`, `y ~ N(X beta, noise_sd^2 I)`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRegressionPosterior {
    /// Posterior mean of the coefficients, `Lambda^-1 X^T y / noise_sd^2`.
    pub mean: Vec<f64>,
    /// Posterior covariance `Lambda^-1`, where the precision is
    /// `Lambda = I / prior_sd^2 + X^T X / noise_sd^2`; rows of a symmetric d x d matrix.
    pub covariance: Vec<Vec<f64>>,
    /// `ln N(y; 0, noise_sd^2 I + prior_sd^2 X X^T)`.
    pub log_marginal_likelihood: f64,
}

impl LinearRegressionPosterior {
    /// Posterior standard deviations of the coefficients (square roots of the
    /// covariance diagonal).
    #[must_use]
    pub fn sd(&self) -> Vec<f64> {
        self.covariance.iter().enumerate().map(|(i, row)| row[i].sqrt()).collect()
    }
}

/// Exact posterior of Bayesian linear regression with known noise sd and an
/// i.i.d. `N(0, prior_sd^2)` prior on each coefficient (Bishop 2006, eqs. 3.53–3.54
/// and 3.86).
///
/// `design` holds one row of `d` features per observation; `ys` the observations.
/// The log marginal likelihood is computed without any n x n matrix:
/// with `Lambda = L L^T` the posterior precision and `mu` the posterior mean,
/// - `ln det(noise_sd^2 I + prior_sd^2 X X^T) = 2n ln noise_sd + 2d ln prior_sd + 2 sum ln L_ii`
///   (matrix determinant lemma), and
/// - `y^T (noise_sd^2 I + prior_sd^2 X X^T)^-1 y = |y - X mu|^2 / noise_sd^2 + |mu|^2 / prior_sd^2`
///   (Woodbury), a sum of non-negative terms, so no cancellation when the noise is small.
///
/// The number of coefficients is the length of the first row, so the design
/// needs at least one row; [`polynomial`] accepts empty data (posterior = prior,
/// log marginal likelihood 0).
///
/// # Errors
/// A non-positive or non-finite sd, no rows or no features, rows of different
/// lengths, a design with a different number of rows than `ys`, or a non-finite
/// value.
pub fn linear_regression<R: AsRef<[f64]>>(
    design: &[R],
    ys: &[f64],
    prior_sd: f64,
    noise_sd: f64,
) -> Result<LinearRegressionPosterior, ExactError> {
    let Some(first) = design.first() else {
        return Err(ExactError::Empty { what: "design (no rows, so no coefficients)" });
    };
    fit_linear_regression(design, first.as_ref().len(), ys, prior_sd, noise_sd)
}

fn fit_linear_regression<R: AsRef<[f64]>>(
    design: &[R],
    d: usize,
    ys: &[f64],
    prior_sd: f64,
    noise_sd: f64,
) -> Result<LinearRegressionPosterior, ExactError> {
    check_positive("prior_sd", prior_sd)?;
    check_positive("noise_sd", noise_sd)?;
    check_length(|| "design (rows)".to_string(), ys.len(), design.len())?;
    if d == 0 {
        return Err(ExactError::Empty { what: "design (features)" });
    }
    for (i, row) in design.iter().enumerate() {
        let row = row.as_ref();
        check_length(|| format!("design row {i}"), d, row.len())?;
        for (j, &x) in row.iter().enumerate() {
            check_finite(|| format!("design[{i}][{j}]"), x)?;
        }
    }
    for (i, &y) in ys.iter().enumerate() {
        check_finite(|| format!("ys[{i}]"), y)?;
    }

    let (noise_var, prior_var) = (noise_sd * noise_sd, prior_sd * prior_sd);
    let mut precision = SquareMatrix::zeros(d);
    let mut xty = vec![0.0; d];
    for (row, &y) in design.iter().zip(ys) {
        let row = row.as_ref();
        for i in 0..d {
            xty[i] += row[i] * y / noise_var;
            for j in 0..=i {
                *precision.at_mut(i, j) += row[i] * row[j] / noise_var;
            }
        }
    }
    for i in 0..d {
        *precision.at_mut(i, i) += 1.0 / prior_var;
        for j in 0..i {
            *precision.at_mut(j, i) = precision.at(i, j);
        }
    }

    let chol = Cholesky::new(&precision)?;
    let mean = chol.solve(&xty);
    let residual_ss: f64 = design
        .iter()
        .zip(ys)
        .map(|(row, &y)| {
            let fitted: f64 = row.as_ref().iter().zip(&mean).map(|(x, b)| x * b).sum();
            (y - fitted) * (y - fitted)
        })
        .sum();
    let mean_ss: f64 = mean.iter().map(|b| b * b).sum();
    let quadratic = residual_ss / noise_var + mean_ss / prior_var;
    let n = ys.len() as f64;
    let log_det = 2.0 * n * noise_sd.ln() + 2.0 * d as f64 * prior_sd.ln() + chol.log_det();
    Ok(LinearRegressionPosterior { covariance: chol.inverse(), mean, log_marginal_likelihood: -0.5 * (n * LN_2PI + log_det + quadratic) })
}

/// [`linear_regression`] on polynomial features `[1, x, x^2, ..., x^degree]`,
/// the benchmark's polynomial model (degree 2: coefficients a, b, c).
///
/// # Errors
/// As [`linear_regression`]; also `xs` and `ys` of different lengths.
pub fn polynomial(xs: &[f64], ys: &[f64], degree: usize, prior_sd: f64, noise_sd: f64) -> Result<LinearRegressionPosterior, ExactError> {
    check_length(|| "xs".to_string(), ys.len(), xs.len())?;
    let design: Vec<Vec<f64>> = xs.iter().map(|&x| std::iter::successors(Some(1.0), |p| Some(p * x)).take(degree + 1).collect()).collect();
    fit_linear_regression(&design, degree + 1, ys, prior_sd, noise_sd)
}

// ---------------------------------------------------------------------------
// Gaussian divergences (the quality of a variational fit to a Gaussian posterior)
// ---------------------------------------------------------------------------

/// A covariance given as rows, checked square and finite, as a Cholesky factorization.
fn covariance_cholesky(what: &str, mean: &[f64], cov: &[Vec<f64>]) -> Result<nalgebra::linalg::Cholesky<f64, nalgebra::Dyn>, ExactError> {
    let d = mean.len();
    check_length(|| format!("{what} covariance"), d, cov.len())?;
    for (i, row) in cov.iter().enumerate() {
        check_length(|| format!("{what} covariance row {i}"), d, row.len())?;
        if let Some(&value) = row.iter().find(|v| !v.is_finite()) {
            return Err(ExactError::NonFinite { what: format!("{what} covariance row {i}"), value });
        }
    }
    if let Some((i, &value)) = mean.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(ExactError::NonFinite { what: format!("{what} mean[{i}]"), value });
    }
    let m = nalgebra::DMatrix::from_fn(d, d, |i, j| cov[i][j]);
    m.cholesky().ok_or_else(|| ExactError::CovarianceNotPositiveDefinite { what: what.to_owned() })
}

/// KL(q ‖ p) between the normals q = N(q_mean, q_cov) and p = N(p_mean, p_cov), in nats:
/// ½ [tr(Σp⁻¹ Σq) + (μp − μq)ᵀ Σp⁻¹ (μp − μq) − d + ln det Σp − ln det Σq].
/// With p the exact posterior and q a variational fit, it is log p(y) − ELBO(q).
///
/// # Errors
/// Lengths that do not match, non-finite entries, or a covariance that is not positive
/// definite.
pub fn gaussian_kl(q_mean: &[f64], q_cov: &[Vec<f64>], p_mean: &[f64], p_cov: &[Vec<f64>]) -> Result<f64, ExactError> {
    check_length(|| "p mean".to_string(), q_mean.len(), p_mean.len())?;
    let q = covariance_cholesky("q", q_mean, q_cov)?;
    let p = covariance_cholesky("p", p_mean, p_cov)?;
    let d = q_mean.len();
    let log_det = |c: &nalgebra::linalg::Cholesky<f64, nalgebra::Dyn>| 2.0 * c.l().diagonal().iter().map(|x| x.ln()).sum::<f64>();
    let q_cov = nalgebra::DMatrix::from_fn(d, d, |i, j| q_cov[i][j]);
    let trace = p.solve(&q_cov).trace();
    let diff = nalgebra::DVector::from_fn(d, |i, _| p_mean[i] - q_mean[i]);
    let quad = diff.dot(&p.solve(&diff));
    Ok(0.5 * (trace + quad - d as f64 + log_det(&p) - log_det(&q)))
}

/// The mean-field normal closest to N(mean, cov) in KL(q ‖ p) (what mean-field ADVI converges
/// to): the same means and standard deviations 1 / sqrt((Σ⁻¹)_ii), the conditional ones,
/// smaller than the marginal ones where the latents are correlated. Returns (means, sds).
///
/// # Errors
/// As [`gaussian_kl`].
pub fn mean_field_optimum(mean: &[f64], cov: &[Vec<f64>]) -> Result<(Vec<f64>, Vec<f64>), ExactError> {
    let precision = covariance_cholesky("p", mean, cov)?.inverse();
    Ok((mean.to_vec(), (0..mean.len()).map(|i| 1.0 / precision[(i, i)].sqrt()).collect()))
}

/// A diagonal covariance from standard deviations, as the rows [`gaussian_kl`] takes.
#[must_use]
pub fn diagonal_covariance(sd: &[f64]) -> Vec<Vec<f64>> {
    (0..sd.len()).map(|i| (0..sd.len()).map(|j| if i == j { sd[i] * sd[i] } else { 0.0 }).collect()).collect()
}

/// Row-major square matrix. The models here have d = 3 coefficients, so a few
/// lines of dense linear algebra are simpler and faster to build than a
/// linear-algebra crate.
#[derive(Debug, Clone)]
struct SquareMatrix {
    n: usize,
    data: Vec<f64>,
}

impl SquareMatrix {
    fn zeros(n: usize) -> Self {
        SquareMatrix { n, data: vec![0.0; n * n] }
    }
    fn at(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.n + j]
    }
    fn at_mut(&mut self, i: usize, j: usize) -> &mut f64 {
        &mut self.data[i * self.n + j]
    }
}

/// Lower Cholesky factor `L` with `A = L L^T` of a symmetric positive-definite matrix.
#[derive(Debug, Clone)]
struct Cholesky {
    l: SquareMatrix,
}

impl Cholesky {
    /// Cholesky–Banachiewicz; fails on a non-positive pivot instead of taking
    /// the square root of a negative number.
    fn new(a: &SquareMatrix) -> Result<Self, ExactError> {
        let n = a.n;
        let mut l = SquareMatrix::zeros(n);
        for i in 0..n {
            for j in 0..=i {
                let dot: f64 = (0..j).map(|k| l.at(i, k) * l.at(j, k)).sum();
                let v = a.at(i, j) - dot;
                if i == j {
                    if !(v > 0.0 && v.is_finite()) {
                        return Err(ExactError::NotPositiveDefinite { pivot: i });
                    }
                    *l.at_mut(i, i) = v.sqrt();
                } else {
                    *l.at_mut(i, j) = v / l.at(j, j);
                }
            }
        }
        Ok(Cholesky { l })
    }

    fn log_det(&self) -> f64 {
        2.0 * (0..self.l.n).map(|i| self.l.at(i, i).ln()).sum::<f64>()
    }

    /// Solve `L z = b`.
    fn forward(&self, b: &[f64]) -> Vec<f64> {
        let mut z = vec![0.0; b.len()];
        for i in 0..b.len() {
            let dot: f64 = (0..i).map(|k| self.l.at(i, k) * z[k]).sum();
            z[i] = (b[i] - dot) / self.l.at(i, i);
        }
        z
    }

    /// Solve `L^T x = z`.
    fn backward(&self, z: &[f64]) -> Vec<f64> {
        let n = z.len();
        let mut x = vec![0.0; n];
        for i in (0..n).rev() {
            let dot: f64 = (i + 1..n).map(|k| self.l.at(k, i) * x[k]).sum();
            x[i] = (z[i] - dot) / self.l.at(i, i);
        }
        x
    }

    /// Solve `A x = b`.
    fn solve(&self, b: &[f64]) -> Vec<f64> {
        self.backward(&self.forward(b))
    }

    /// `A^-1`, column by column, symmetrized so callers get an exactly symmetric
    /// covariance.
    fn inverse(&self) -> Vec<Vec<f64>> {
        let n = self.l.n;
        let columns: Vec<Vec<f64>> = (0..n)
            .map(|j| {
                let e: Vec<f64> = (0..n).map(|i| if i == j { 1.0 } else { 0.0 }).collect();
                self.solve(&e)
            })
            .collect();
        (0..n).map(|i| (0..n).map(|j| 0.5 * (columns[j][i] + columns[i][j])).collect()).collect()
    }
}

// ---------------------------------------------------------------------------
// Beta-Bernoulli
// ---------------------------------------------------------------------------

/// The exact posterior `Beta(alpha, beta)` of a Bernoulli success probability
/// under a Beta prior, with the log marginal likelihood of the data.
#[derive(Debug, Clone, PartialEq)]
pub struct BetaBernoulliPosterior {
    /// Posterior shape `alpha_prior + k`.
    pub alpha: f64,
    /// Posterior shape `beta_prior + n - k`.
    pub beta: f64,
    /// Log probability of the observed sequence (not of the count `k`, so no
    /// binomial coefficient): `ln B(alpha, beta) - ln B(alpha_prior, beta_prior)`.
    pub log_marginal_likelihood: f64,
}

impl BetaBernoulliPosterior {
    /// Posterior mean `alpha / (alpha + beta)`.
    #[must_use]
    pub fn mean(&self) -> f64 {
        self.alpha / (self.alpha + self.beta)
    }

    /// Posterior variance `alpha beta / ((alpha + beta)^2 (alpha + beta + 1))`.
    #[must_use]
    pub fn variance(&self) -> f64 {
        let s = self.alpha + self.beta;
        self.alpha * self.beta / (s * s * (s + 1.0))
    }
}

/// Posterior of `p ~ Beta(alpha, beta)`, `y_i ~ Bernoulli(p)` given the
/// observations (`true` = success): `Beta(alpha + k, beta + n - k)`.
///
/// # Errors
/// `alpha` or `beta` not positive and finite.
pub fn beta_bernoulli(alpha: f64, beta: f64, observations: &[bool]) -> Result<BetaBernoulliPosterior, ExactError> {
    let successes = observations.iter().filter(|&&y| y).count() as u64;
    beta_bernoulli_counts(alpha, beta, successes, observations.len() as u64)
}

/// [`beta_bernoulli`] from the number of successes and trials; the log marginal
/// likelihood is still that of one particular sequence with these counts.
///
/// # Errors
/// `alpha` or `beta` not positive and finite, or more successes than trials.
pub fn beta_bernoulli_counts(alpha: f64, beta: f64, successes: u64, trials: u64) -> Result<BetaBernoulliPosterior, ExactError> {
    check_positive("alpha", alpha)?;
    check_positive("beta", beta)?;
    if successes > trials {
        return Err(ExactError::TooManySuccesses { successes, trials });
    }
    let post_alpha = alpha + successes as f64;
    let post_beta = beta + (trials - successes) as f64;
    Ok(BetaBernoulliPosterior {
        alpha: post_alpha,
        beta: post_beta,
        log_marginal_likelihood: ln_beta(post_alpha, post_beta) - ln_beta(alpha, beta),
    })
}

// ---------------------------------------------------------------------------
// Discrete hidden Markov model
// ---------------------------------------------------------------------------

/// A discrete hidden Markov model with `K` states and `M` observation symbols.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscreteHmm {
    /// `initial[k] = p(z_1 = k)`, length `K`.
    pub initial: Vec<f64>,
    /// `transition[j][k] = p(z_t = k | z_{t-1} = j)`: rows are the from-state, K x K.
    pub transition: Vec<Vec<f64>>,
    /// `emission[k][m] = p(y_t = m | z_t = k)`: rows are the state, K x M.
    pub emission: Vec<Vec<f64>>,
}

/// Output of [`hmm_forward`].
#[derive(Debug, Clone, PartialEq)]
pub struct HmmForward {
    /// `ln p(y_1, ..., y_T)`; 0 for an empty sequence.
    pub log_marginal_likelihood: f64,
    /// `filtered[t][k] = p(z_t = k | y_1, ..., y_t)`, one row per observation.
    pub filtered: Vec<Vec<f64>>,
}

/// The forward algorithm (Rabiner 1989, eqs. 19–21) in log space, so long
/// sequences do not underflow: `ln alpha_t(k) = ln e_k(y_t) + logsumexp_j(ln alpha_{t-1}(j) + ln A_jk)`.
///
/// # Errors
/// An empty model, a matrix of the wrong shape, a probability vector with a
/// negative or non-finite entry or a sum more than 1e-9 from 1, an observation
/// that is not a symbol index, or an observation sequence of probability zero.
pub fn hmm_forward(hmm: &DiscreteHmm, observations: &[usize]) -> Result<HmmForward, ExactError> {
    let n_symbols = validate_hmm(hmm)?;
    if let Some((time, &value)) = observations.iter().enumerate().find(|(_, &y)| y >= n_symbols) {
        return Err(ExactError::ObservationOutOfRange { time, value, n_symbols });
    }
    let ln = |row: &[f64]| row.iter().map(|p| p.ln()).collect::<Vec<f64>>();
    let ln_transition: Vec<Vec<f64>> = hmm.transition.iter().map(|r| ln(r)).collect();
    let ln_emission: Vec<Vec<f64>> = hmm.emission.iter().map(|r| ln(r)).collect();
    let n_states = hmm.initial.len();

    let mut log_marginal_likelihood = 0.0;
    let mut filtered = Vec::with_capacity(observations.len());
    // ln p(z_t = k | y_1..t-1), starting from the prior.
    let mut ln_predicted = ln(&hmm.initial);
    for (time, &y) in observations.iter().enumerate() {
        let ln_joint: Vec<f64> = (0..n_states).map(|k| ln_predicted[k] + ln_emission[k][y]).collect();
        let ln_evidence = log_sum_exp(&ln_joint);
        if ln_evidence == f64::NEG_INFINITY {
            return Err(ExactError::ZeroProbability { time });
        }
        log_marginal_likelihood += ln_evidence;
        let ln_filtered: Vec<f64> = ln_joint.iter().map(|l| l - ln_evidence).collect();
        ln_predicted = (0..n_states)
            .map(|k| {
                let terms: Vec<f64> = (0..n_states).map(|j| ln_filtered[j] + ln_transition[j][k]).collect();
                log_sum_exp(&terms)
            })
            .collect();
        filtered.push(ln_filtered.iter().map(|l| l.exp()).collect());
    }
    Ok(HmmForward { log_marginal_likelihood, filtered })
}

/// Check shapes and probability vectors; returns the number of symbols.
fn validate_hmm(hmm: &DiscreteHmm) -> Result<usize, ExactError> {
    let n_states = hmm.initial.len();
    if n_states == 0 {
        return Err(ExactError::Empty { what: "HMM state space" });
    }
    check_probabilities("initial", &hmm.initial)?;
    check_length(|| "transition (rows)".to_string(), n_states, hmm.transition.len())?;
    for (j, row) in hmm.transition.iter().enumerate() {
        check_length(|| format!("transition row {j}"), n_states, row.len())?;
        check_probabilities(&format!("transition row {j}"), row)?;
    }
    check_length(|| "emission (rows)".to_string(), n_states, hmm.emission.len())?;
    let n_symbols = hmm.emission[0].len();
    if n_symbols == 0 {
        return Err(ExactError::Empty { what: "HMM symbol alphabet" });
    }
    for (k, row) in hmm.emission.iter().enumerate() {
        check_length(|| format!("emission row {k}"), n_symbols, row.len())?;
        check_probabilities(&format!("emission row {k}"), row)?;
    }
    Ok(n_symbols)
}

fn check_probabilities(what: &str, p: &[f64]) -> Result<(), ExactError> {
    for (index, &value) in p.iter().enumerate() {
        check_finite(|| format!("{what}[{index}]"), value)?;
        if value < 0.0 {
            return Err(ExactError::NegativeProbability { what: what.to_string(), index, value });
        }
    }
    let sum: f64 = p.iter().sum();
    if (sum - 1.0).abs() > PROBABILITY_SUM_TOLERANCE {
        return Err(ExactError::NotNormalized { what: what.to_string(), sum });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Kalman filter
// ---------------------------------------------------------------------------

/// The 1-D linear-Gaussian state-space model
/// `x_1 ~ N(initial_mean, initial_sd^2)`, `x_t = transition * x_{t-1} + N(0, process_sd^2)`,
/// `y_t = x_t + N(0, observation_sd^2)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearGaussianSsm {
    /// Prior mean of `x_1` (`m1`).
    pub initial_mean: f64,
    /// Prior sd of `x_1` (`s1`).
    pub initial_sd: f64,
    /// State transition coefficient `a`.
    pub transition: f64,
    /// Process noise sd `q`.
    pub process_sd: f64,
    /// Observation noise sd `r`.
    pub observation_sd: f64,
}

/// Output of [`kalman_filter`].
#[derive(Debug, Clone, PartialEq)]
pub struct KalmanFilterResult {
    /// `ln p(y_1, ..., y_T)`; 0 for an empty sequence.
    pub log_marginal_likelihood: f64,
    /// `E[x_t | y_1..t]`.
    pub filtered_means: Vec<f64>,
    /// `Var[x_t | y_1..t]`.
    pub filtered_variances: Vec<f64>,
}

/// The Kalman filter (Särkkä 2013, Theorem 4.2) with the log marginal likelihood
/// from the prediction-error decomposition `sum_t ln N(y_t; m_t|t-1, P_t|t-1 + r^2)`.
///
/// # Errors
/// A non-positive or non-finite sd, or a non-finite mean, transition or observation.
pub fn kalman_filter(model: &LinearGaussianSsm, ys: &[f64]) -> Result<KalmanFilterResult, ExactError> {
    check_finite(|| "initial_mean".to_string(), model.initial_mean)?;
    check_positive("initial_sd", model.initial_sd)?;
    check_finite(|| "transition".to_string(), model.transition)?;
    check_positive("process_sd", model.process_sd)?;
    check_positive("observation_sd", model.observation_sd)?;
    for (t, &y) in ys.iter().enumerate() {
        check_finite(|| format!("ys[{t}]"), y)?;
    }

    let obs_var = model.observation_sd * model.observation_sd;
    let process_var = model.process_sd * model.process_sd;
    let (mut mean, mut var) = (model.initial_mean, model.initial_sd * model.initial_sd);
    let mut result = KalmanFilterResult {
        log_marginal_likelihood: 0.0,
        filtered_means: Vec::with_capacity(ys.len()),
        filtered_variances: Vec::with_capacity(ys.len()),
    };
    for (t, &y) in ys.iter().enumerate() {
        if t > 0 {
            mean *= model.transition;
            var = model.transition * model.transition * var + process_var;
        }
        let innovation_var = var + obs_var;
        let innovation = y - mean;
        result.log_marginal_likelihood -= 0.5 * (LN_2PI + innovation_var.ln() + innovation * innovation / innovation_var);
        let gain = var / innovation_var;
        mean += gain * innovation;
        // P r^2 / (P + r^2) rather than (1 - K) P: no cancellation when K is near 1.
        var = var * obs_var / innovation_var;
        result.filtered_means.push(mean);
        result.filtered_variances.push(var);
    }
    Ok(result)
}

//! MCMC convergence diagnostics on draws laid out as (chains, draws).
//!
//! Every function takes `chains: &[C]` with `C: AsRef<[f64]>`, so both
//! `&[Vec<f64>]` and `&[&[f64]]` work: the outer slice is the chains, each inner
//! slice one chain's draws in order. All chains must have the same length and
//! every draw must be finite; otherwise the function returns a
//! [`DiagnosticsError`] instead of panicking.
//!
//! The definitions are those of Vehtari, Gelman, Simpson, Carpenter and Bürkner
//! (2021), "Rank-normalization, folding, and localization: an improved R-hat for
//! assessing convergence of MCMC", *Bayesian Analysis* 16(2), 667–718
//! (arXiv:1903.08008), as implemented by ArviZ 0.23 (`arviz.stats.diagnostics`)
//! and Stan. The tests check every function against ArviZ's numbers to a relative
//! error of 1e-6 (`tests/data/arviz_reference.json`).
//!
//! | function | definition | ArviZ |
//! |---|---|---|
//! | [`split_rhat`] | split R-hat, Vehtari et al. (2021) §3.1; Gelman et al., BDA3 §11.4 | `az.rhat(method="split")` |
//! | [`rank_normalized_split_rhat`] | max of bulk and folded rank-normalized split R-hat, Vehtari et al. (2021) §4 ("rank normalization", "folding") | `az.rhat(method="rank")` |
//! | [`ess_bulk`] | ESS (§3.2) of the rank-normalized split chains (§4) | `az.ess(method="bulk")` |
//! | [`ess_tail`] | min of the 5% and 95% quantile ESS (§4, "localization") | `az.ess(method="tail")` |
//! | [`ess_quantile`] | ESS of the split indicator `draw <= quantile` (§4, "localization") | `az.ess(method="quantile")` |
//! | [`ess_mean`] | ESS of the split chains, Vehtari et al. (2021) §3.2; Stan Reference Manual, "Effective sample size" | `az.ess(method="mean")` |
//! | [`ess_sd`] | ESS of the split squared deviations | `az.ess(method="sd")` |
//! | [`mcse_mean`], [`mcse_sd`] | sd / sqrt(ESS) for the mean; delta method on the variance of the squared deviations for the sd | `az.mcse(method="mean"/"sd")` |
//! | [`quantile`] | sample quantile, Hyndman and Fan (1996) type 7 | `np.quantile` |
//! | [`autocovariance`], [`autocorrelation`] | biased (divide by n) autocovariance via zero-padded FFT | `arviz.autocov`, `arviz.autocorr` |
//! | [`Summary`] | one row per parameter | `az.summary` |
//!
//! ESS uses Geyer's (1992) initial positive sequence truncation followed by the
//! initial monotone sequence, exactly as ArviZ and Stan do.
//!
//! Like ArviZ, the diagnostics need at least 4 draws per chain, and R-hat needs at
//! least 2 chains; where ArviZ warns and returns NaN, these functions return
//! [`DiagnosticsError::TooFewDraws`] or [`DiagnosticsError::TooFewChains`].
//!
//! If every draw is the same value, R-hat is NaN (between- and within-chain
//! variances are both zero), as ArviZ's rank-normalized R-hat is; ESS is then the
//! total number of draws and the MCSE of the mean is 0, also as in ArviZ.

use std::fmt;

use statrs::distribution::{ContinuousCDF, Normal};
use thiserror::Error;

/// Why a diagnostic could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DiagnosticsError {
    /// Fewer chains than the diagnostic needs (R-hat compares at least two).
    #[error("{diagnostic} needs at least {min} chains, got {got}")]
    TooFewChains {
        /// The diagnostic that was asked for.
        diagnostic: &'static str,
        /// The smallest number of chains it accepts.
        min: usize,
        /// The number of chains given.
        got: usize,
    },
    /// Fewer draws per chain than the diagnostic needs.
    #[error("{diagnostic} needs at least {min} draws per chain, got {got}")]
    TooFewDraws {
        /// The diagnostic that was asked for.
        diagnostic: &'static str,
        /// The smallest number of draws per chain it accepts.
        min: usize,
        /// The number of draws in each chain.
        got: usize,
    },
    /// Chains of different lengths.
    #[error("chain {chain} has {got} draws but chain 0 has {expected}")]
    UnequalChainLengths {
        /// Index of the first chain whose length differs from chain 0.
        chain: usize,
        /// Length of chain 0.
        expected: usize,
        /// Length of chain `chain`.
        got: usize,
    },
    /// A draw that is NaN or infinite.
    #[error("draw {draw} of chain {chain} is not finite ({value})")]
    NonFinite {
        /// Chain index.
        chain: usize,
        /// Draw index within the chain.
        draw: usize,
        /// The offending value.
        value: f64,
    },
    /// A quantile probability outside the open interval (0, 1).
    #[error("probability {prob} is not in (0, 1)")]
    InvalidProbability {
        /// The probability that was given.
        prob: f64,
    },
    /// A diagnostic failed for one parameter of a [`Summary`].
    #[error("parameter `{name}`: {source}")]
    Parameter {
        /// The parameter's name.
        name: String,
        /// What went wrong.
        #[source]
        source: Box<DiagnosticsError>,
    },
}

/// ArviZ needs 4 draws per chain so that each split half has at least 2.
const MIN_DRAWS: usize = 4;

/// `np.finfo(float).resolution`: ArviZ treats a spread below this as a constant.
const RESOLUTION: f64 = 1e-15;

/// Blom's (1958) offset for turning ranks into normal scores, as in Vehtari et al. (2021) §4.
const BLOM_OFFSET: f64 = 3.0 / 8.0;

/// Validated draws, stored row-major as (chains, draws) so they can be split and
/// transformed without the caller's layout.
#[derive(Debug, Clone)]
struct Draws {
    n_chains: usize,
    n_draws: usize,
    values: Vec<f64>,
}

impl Draws {
    fn chain(&self, c: usize) -> &[f64] {
        &self.values[c * self.n_draws..(c + 1) * self.n_draws]
    }

    fn chains(&self) -> impl Iterator<Item = &[f64]> {
        self.values.chunks_exact(self.n_draws.max(1)).take(self.n_chains)
    }

    /// The same layout with every value transformed.
    fn map(&self, f: impl Fn(f64) -> f64) -> Draws {
        Draws { values: self.values.iter().map(|&x| f(x)).collect(), ..*self }
    }

    /// Split each chain into its first and last halves, dropping the middle draw
    /// of an odd-length chain; all first halves come before all second halves
    /// (ArviZ's `_split_chains`). Vehtari et al. (2021) §3.1: splitting lets
    /// R-hat and ESS see non-stationarity within a chain.
    fn split(&self) -> Draws {
        let half = self.n_draws / 2;
        let mut values = Vec::with_capacity(2 * self.n_chains * half);
        for c in 0..self.n_chains {
            values.extend_from_slice(&self.chain(c)[..half]);
        }
        for c in 0..self.n_chains {
            values.extend_from_slice(&self.chain(c)[self.n_draws - half..]);
        }
        Draws { n_chains: 2 * self.n_chains, n_draws: half, values }
    }

    fn is_constant(&self) -> bool {
        let (min, max) = self.values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        max - min < RESOLUTION
    }
}

/// Check shape and finiteness once, so the numerical code below can assume both.
/// A thin generic shim: the work is in the non-generic [`validate_slices`], so
/// each caller's chain type does not instantiate it again.
fn validate<C: AsRef<[f64]>>(
    chains: &[C],
    diagnostic: &'static str,
    min_chains: usize,
    min_draws: usize,
) -> Result<Draws, DiagnosticsError> {
    let chains: Vec<&[f64]> = chains.iter().map(AsRef::as_ref).collect();
    validate_slices(&chains, diagnostic, min_chains, min_draws)
}

fn validate_slices(chains: &[&[f64]], diagnostic: &'static str, min_chains: usize, min_draws: usize) -> Result<Draws, DiagnosticsError> {
    if chains.len() < min_chains {
        return Err(DiagnosticsError::TooFewChains { diagnostic, min: min_chains, got: chains.len() });
    }
    let n_draws = chains[0].len();
    let mut values = Vec::with_capacity(chains.len() * n_draws);
    for (c, &chain) in chains.iter().enumerate() {
        if chain.len() != n_draws {
            return Err(DiagnosticsError::UnequalChainLengths { chain: c, expected: n_draws, got: chain.len() });
        }
        if let Some((draw, &value)) = chain.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(DiagnosticsError::NonFinite { chain: c, draw, value });
        }
        values.extend_from_slice(chain);
    }
    if n_draws < min_draws {
        return Err(DiagnosticsError::TooFewDraws { diagnostic, min: min_draws, got: n_draws });
    }
    Ok(Draws { n_chains: chains.len(), n_draws, values })
}

fn check_probability(prob: f64) -> Result<(), DiagnosticsError> {
    if prob > 0.0 && prob < 1.0 {
        Ok(())
    } else {
        Err(DiagnosticsError::InvalidProbability { prob })
    }
}

/// Split R-hat (Vehtari et al. 2021, §3.1; Gelman et al., *Bayesian Data
/// Analysis*, 3rd ed., §11.4) on the draws as they are, without rank
/// normalization; ArviZ's `az.rhat(method="split")`.
///
/// Prefer [`rank_normalized_split_rhat`], which is also reliable for heavy tails
/// and differences in scale. NaN if every draw is the same value (ArviZ returns a
/// rounding artifact there instead; see the module documentation).
///
/// # Errors
/// Fewer than 2 chains or 4 draws per chain, unequal chain lengths, or a
/// non-finite draw.
pub fn split_rhat<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64, DiagnosticsError> {
    let draws = validate(chains, "split R-hat", 2, MIN_DRAWS)?;
    if draws.is_constant() {
        return Ok(f64::NAN);
    }
    Ok(rhat_of(&draws.split()))
}

/// Rank-normalized split R-hat: the larger of the bulk R-hat (split R-hat of the
/// normal scores of the pooled ranks) and the tail R-hat (the same on the draws
/// folded about their median), Vehtari et al. (2021) §4; ArviZ's
/// `az.rhat(method="rank")` and Stan's `rhat`.
///
/// Values above 1.01 suggest the chains have not mixed. NaN if every draw is the
/// same value, as in ArviZ.
///
/// # Errors
/// Fewer than 2 chains or 4 draws per chain, unequal chain lengths, or a
/// non-finite draw.
pub fn rank_normalized_split_rhat<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64, DiagnosticsError> {
    let draws = validate(chains, "rank-normalized split R-hat", 2, MIN_DRAWS)?;
    Ok(rank_rhat_of(&draws))
}

fn rank_rhat_of(draws: &Draws) -> f64 {
    if draws.is_constant() {
        return f64::NAN;
    }
    let split = draws.split();
    let bulk = rhat_of(&z_scale(&split));
    // Folding about the median turns a difference in scale between chains into a
    // difference in location, which the bulk R-hat would miss.
    let median = median(&split.values);
    let tail = rhat_of(&z_scale(&split.map(|x| (x - median).abs())));
    // f64::max ignores a NaN tail R-hat, as Python's max(bulk, nan) does.
    bulk.max(tail)
}

/// Bulk effective sample size: the ESS of the rank-normalized split chains,
/// Vehtari et al. (2021) §4; ArviZ's `az.ess(method="bulk")` and Stan's
/// `ess_bulk`. It measures how well the centre of the distribution is sampled.
///
/// # Errors
/// No chains, fewer than 4 draws per chain, unequal chain lengths, or a non-finite
/// draw.
pub fn ess_bulk<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64, DiagnosticsError> {
    let draws = validate(chains, "bulk ESS", 1, MIN_DRAWS)?;
    Ok(ess_of(&z_scale(&draws.split())))
}

/// Tail effective sample size: the smaller of the 5% and 95% quantile ESS
/// ([`ess_quantile`]), Vehtari et al. (2021) §4; ArviZ's `az.ess(method="tail")`
/// and Stan's `ess_tail`.
///
/// # Errors
/// No chains, fewer than 4 draws per chain, unequal chain lengths, or a non-finite
/// draw.
pub fn ess_tail<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64, DiagnosticsError> {
    let draws = validate(chains, "tail ESS", 1, MIN_DRAWS)?;
    Ok(ess_tail_of(&draws))
}

fn ess_tail_of(draws: &Draws) -> f64 {
    quantile_ess_of(draws, 0.05).min(quantile_ess_of(draws, 0.95))
}

/// Effective sample size of the `prob` quantile: the ESS of the split chains of
/// the indicator `draw <= q`, where `q` is the type-7 quantile of all draws,
/// Vehtari et al. (2021) §4 ("localization"); ArviZ's `az.ess(method="quantile", prob=prob)`.
///
/// # Errors
/// `prob` outside (0, 1), no chains, fewer than 4 draws per chain, unequal chain
/// lengths, or a non-finite draw.
pub fn ess_quantile<C: AsRef<[f64]>>(chains: &[C], prob: f64) -> Result<f64, DiagnosticsError> {
    check_probability(prob)?;
    let draws = validate(chains, "quantile ESS", 1, MIN_DRAWS)?;
    Ok(quantile_ess_of(&draws, prob))
}

fn quantile_ess_of(draws: &Draws, prob: f64) -> f64 {
    let q = quantile_of(&draws.values, prob);
    ess_of(&draws.map(|x| if x <= q { 1.0 } else { 0.0 }).split())
}

/// Effective sample size for the mean: the ESS of the split chains on the
/// original scale, Vehtari et al. (2021) §3.2 (Stan Reference Manual, "Effective
/// sample size"); ArviZ's `az.ess(method="mean")`. Unreliable when the variance
/// is infinite; use [`ess_bulk`] then.
///
/// # Errors
/// No chains, fewer than 4 draws per chain, unequal chain lengths, or a non-finite
/// draw.
pub fn ess_mean<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64, DiagnosticsError> {
    let draws = validate(chains, "mean ESS", 1, MIN_DRAWS)?;
    Ok(ess_of(&draws.split()))
}

/// Effective sample size for the standard deviation: the ESS of the split chains
/// of the squared deviations from the pooled mean; ArviZ's `az.ess(method="sd")`.
///
/// # Errors
/// No chains, fewer than 4 draws per chain, unequal chain lengths, or a non-finite
/// draw.
pub fn ess_sd<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64, DiagnosticsError> {
    let draws = validate(chains, "sd ESS", 1, MIN_DRAWS)?;
    Ok(ess_of(&squared_deviations(&draws).split()))
}

/// Monte Carlo standard error of the posterior mean: the sample sd of all draws
/// (ddof 1) over the square root of [`ess_mean`], Vehtari et al. (2021) §3.2;
/// ArviZ's `az.mcse(method="mean")`.
///
/// # Errors
/// No chains, fewer than 4 draws per chain, unequal chain lengths, or a non-finite
/// draw.
pub fn mcse_mean<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64, DiagnosticsError> {
    let draws = validate(chains, "MCSE of the mean", 1, MIN_DRAWS)?;
    Ok(mcse_mean_of(&draws))
}

fn mcse_mean_of(draws: &Draws) -> f64 {
    sample_variance(&draws.values).sqrt() / ess_of(&draws.split()).sqrt()
}

/// Monte Carlo standard error of the posterior standard deviation, ArviZ's
/// `az.mcse(method="sd")`: with `s2` the squared deviations from the pooled mean,
/// `Var(s2)` is estimated as `(mean(s2^2) - mean(s2)^2) / ESS(s2)`, where `ESS` is
/// [`ess_mean`] of `s2`, and mapped to the sd by the delta method,
/// `Var(sd) ≈ Var(s2) / (4 mean(s2))`.
///
/// NaN if every draw is the same value (0 / 0), as in ArviZ.
///
/// # Errors
/// No chains, fewer than 4 draws per chain, unequal chain lengths, or a non-finite
/// draw.
pub fn mcse_sd<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64, DiagnosticsError> {
    let draws = validate(chains, "MCSE of the sd", 1, MIN_DRAWS)?;
    if draws.is_constant() {
        // The formula is 0 / 0; without this check rounding in the mean could
        // turn it into an arbitrary number instead of ArviZ's NaN.
        return Ok(f64::NAN);
    }
    let s2 = squared_deviations(&draws);
    let ess = ess_of(&s2.split());
    let evar = mean(&s2.values);
    let second_moment = s2.values.iter().map(|x| x * x).sum::<f64>() / s2.values.len() as f64;
    let varvar = (second_moment - evar * evar) / ess;
    Ok((varvar / evar / 4.0).sqrt())
}

/// The `prob` quantile of all draws pooled, linear interpolation between order
/// statistics (Hyndman and Fan 1996, type 7; NumPy's and R's default). Computed
/// with SciPy's `mquantiles(alphap=1, betap=1)` formula, which ArviZ uses for the
/// tail ESS, so that ties land on the same side of the quantile.
///
/// # Errors
/// `prob` outside [0, 1], no chains or no draws, unequal chain lengths, or a
/// non-finite draw.
pub fn quantile<C: AsRef<[f64]>>(chains: &[C], prob: f64) -> Result<f64, DiagnosticsError> {
    if !(0.0..=1.0).contains(&prob) {
        return Err(DiagnosticsError::InvalidProbability { prob });
    }
    let draws = validate(chains, "quantile", 1, 1)?;
    Ok(quantile_of(&draws.values, prob))
}

/// Biased autocovariance `acov[k] = (1/n) sum_{t<n-k} (x_t - m)(x_{t+k} - m)` for
/// every lag `k` in `0..n`, computed by FFT with zero padding to at least `2n` so
/// the circular correlation equals the linear one (ArviZ's `autocov`). Empty
/// input gives an empty vector.
#[must_use]
pub fn autocovariance(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    if n == 0 {
        return Vec::new();
    }
    let m = mean(x);
    let len = (2 * n).next_power_of_two();
    let mut buf: Vec<Complex> = x.iter().map(|&v| Complex::new(v - m, 0.0)).collect();
    buf.resize(len, Complex::new(0.0, 0.0));
    fft(&mut buf, false);
    for z in &mut buf {
        *z = Complex::new(z.norm_sqr(), 0.0);
    }
    fft(&mut buf, true);
    // The inverse transform is unnormalized, hence the extra 1/len.
    buf[..n].iter().map(|z| z.re / len as f64 / n as f64).collect()
}

/// Autocorrelation `acov[k] / acov[0]` for every lag (ArviZ's `autocorr`); NaN at
/// every lag for a constant sequence.
#[must_use]
pub fn autocorrelation(x: &[f64]) -> Vec<f64> {
    let acov = autocovariance(x);
    let Some(&var) = acov.first() else {
        return acov;
    };
    acov.iter().map(|a| a / var).collect()
}

/// Split-free R-hat of the chains as given (ArviZ's `_rhat`): the square root of
/// `((n - 1)/n W + B/n) / W`, written as `(B/W + n - 1)/n` to match ArviZ's
/// rounding.
fn rhat_of(draws: &Draws) -> f64 {
    let n = draws.n_draws as f64;
    let chain_means: Vec<f64> = draws.chains().map(mean).collect();
    let within = draws.chains().map(sample_variance).sum::<f64>() / draws.n_chains as f64;
    let between = n * sample_variance(&chain_means);
    ((between / within + n - 1.0) / n).sqrt()
}

/// Effective sample size of the chains as given (ArviZ's `_ess`, Stan's
/// `ess_rfun`): autocorrelations combined across chains with the multi-chain
/// variance estimate `var_plus` (Vehtari et al. 2021, §3.2), summed under
/// Geyer's (1992) initial positive sequence, made monotone by Geyer's initial
/// monotone sequence, with `tau` floored at `1 / log10(N)` (Stan's bound that
/// keeps antithetic chains from claiming an absurd ESS).
fn ess_of(draws: &Draws) -> f64 {
    let total = draws.values.len() as f64;
    if draws.is_constant() {
        return total;
    }
    let n = draws.n_draws;
    let n_f = n as f64;
    let acov: Vec<Vec<f64>> = draws.chains().map(autocovariance).collect();
    let mean_acov = |lag: usize| acov.iter().map(|a| a[lag]).sum::<f64>() / acov.len() as f64;
    let mean_var = mean_acov(0) * n_f / (n_f - 1.0);
    let mut var_plus = mean_var * (n_f - 1.0) / n_f;
    if draws.n_chains > 1 {
        let chain_means: Vec<f64> = draws.chains().map(mean).collect();
        var_plus += sample_variance(&chain_means);
    }
    let rho = |lag: usize| 1.0 - (mean_var - mean_acov(lag)) / var_plus;

    let mut rho_hat = vec![0.0; n];
    let mut rho_even = 1.0;
    rho_hat[0] = rho_even;
    let mut rho_odd = rho(1);
    rho_hat[1] = rho_odd;

    // Initial positive sequence: stop at the first pair of lags whose sum is
    // negative; beyond it the estimates are noise.
    let mut t = 1;
    while t + 3 < n && rho_even + rho_odd > 0.0 {
        rho_even = rho(t + 1);
        rho_odd = rho(t + 2);
        if rho_even + rho_odd >= 0.0 {
            rho_hat[t + 1] = rho_even;
            rho_hat[t + 2] = rho_odd;
        }
        t += 2;
    }
    // ArviZ's `max_t = t - 2` can be -1; `last = max_t + 1` is always >= 0.
    let last = t - 1;
    if rho_even > 0.0 {
        rho_hat[last] = rho_even;
    }

    // Initial monotone sequence: pair sums may not increase.
    let mut t = 1;
    while t + 3 <= last {
        if rho_hat[t + 1] + rho_hat[t + 2] > rho_hat[t - 1] + rho_hat[t] {
            rho_hat[t + 1] = (rho_hat[t - 1] + rho_hat[t]) / 2.0;
            rho_hat[t + 2] = rho_hat[t + 1];
        }
        t += 2;
    }

    let tau = -1.0 + 2.0 * rho_hat[..last].iter().sum::<f64>() + rho_hat[last];
    let tau = tau.max(1.0 / total.log10());
    let ess = total / tau;
    if rho_hat.iter().any(|r| r.is_nan()) {
        f64::NAN
    } else {
        ess
    }
}

/// Rank normalization, Vehtari et al. (2021) §4: pooled average ranks `r`
/// mapped to normal scores `Phi^-1((r - 3/8) / (N - 3/4 + 1))`.
fn z_scale(draws: &Draws) -> Draws {
    let ranks = average_ranks(&draws.values);
    let size = ranks.len() as f64;
    let normal = standard_normal();
    Draws { values: ranks.iter().map(|r| normal.inverse_cdf((r - BLOM_OFFSET) / (size - 2.0 * BLOM_OFFSET + 1.0))).collect(), ..*draws }
}

fn standard_normal() -> Normal {
    Normal::standard()
}

/// 1-based ranks, ties sharing the average of their ranks (SciPy's
/// `rankdata(method="average")`), so the normal scores do not depend on the
/// order of tied draws.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

fn squared_deviations(draws: &Draws) -> Draws {
    let m = mean(&draws.values);
    draws.map(|x| (x - m) * (x - m))
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Two-pass sample variance with ddof 1 (NumPy's `var(ddof=1)`).
fn sample_variance(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() as f64 - 1.0)
}

fn sorted(x: &[f64]) -> Vec<f64> {
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// NumPy's median: the mean of the two middle values for an even count.
fn median(x: &[f64]) -> f64 {
    let s = sorted(x);
    let mid = s.len() / 2;
    if s.len().is_multiple_of(2) {
        (s[mid - 1] + s[mid]) / 2.0
    } else {
        s[mid]
    }
}

/// Type-7 quantile in SciPy's `mquantiles(alphap=1, betap=1)` arithmetic; the
/// exact operation order matters because the tail ESS compares draws with it
/// using `<=`, and with ties `(1 - g) a + g a` need not round back to `a`.
fn quantile_of(x: &[f64], prob: f64) -> f64 {
    let s = sorted(x);
    let n = s.len();
    if n == 1 {
        return s[0];
    }
    // SciPy's m = alphap + p (1 - alphap - betap) with alphap = betap = 1, i.e.
    // 1 + p * (-1), which IEEE arithmetic rounds exactly as 1 - p.
    let m = 1.0 - prob;
    let aleph = n as f64 * prob + m;
    let k = aleph.clamp(1.0, (n - 1) as f64).floor();
    let gamma = (aleph - k).clamp(0.0, 1.0);
    let k = k as usize;
    (1.0 - gamma) * s[k - 1] + gamma * s[k]
}

/// Minimal complex number for the FFT; a dependency for 30 lines is not worth it.
#[derive(Debug, Clone, Copy)]
struct Complex {
    re: f64,
    im: f64,
}

impl Complex {
    fn new(re: f64, im: f64) -> Self {
        Complex { re, im }
    }
    fn norm_sqr(self) -> f64 {
        self.re * self.re + self.im * self.im
    }
    fn mul(self, o: Complex) -> Complex {
        Complex::new(self.re * o.re - self.im * o.im, self.re * o.im + self.im * o.re)
    }
    fn add(self, o: Complex) -> Complex {
        Complex::new(self.re + o.re, self.im + o.im)
    }
    fn sub(self, o: Complex) -> Complex {
        Complex::new(self.re - o.re, self.im - o.im)
    }
}

/// In-place iterative radix-2 Cooley–Tukey FFT (length a power of two),
/// unnormalized in both directions. Written here because ESS needs only this one
/// transform and the crate should not pull in an FFT library for it; it is
/// O(n log n), so long chains stay cheap where a direct O(n^2) sum would not.
fn fft(buf: &mut [Complex], inverse: bool) {
    let n = buf.len();
    debug_assert!(n.is_power_of_two());
    let bits = n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if i < j {
            buf.swap(i, j);
        }
    }
    let sign = if inverse { 1.0 } else { -1.0 };
    let mut len = 2;
    while len <= n {
        let angle = sign * 2.0 * std::f64::consts::PI / len as f64;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                // Twiddles from sin/cos of each index, not a running product, so
                // round-off does not accumulate along the butterfly.
                let (s, c) = (angle * k as f64).sin_cos();
                let w = Complex::new(c, s);
                let a = buf[start + k];
                let b = buf[start + k + len / 2].mul(w);
                buf[start + k] = a.add(b);
                buf[start + k + len / 2] = a.sub(b);
            }
        }
        len *= 2;
    }
}

/// One row of a [`Summary`]: the posterior summaries and convergence diagnostics
/// of one scalar parameter, as in `az.summary` with quantiles in place of the HDI.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Parameter name (an address such as `"a"` or `"y/3"`).
    pub name: String,
    /// Mean of all draws pooled.
    pub mean: f64,
    /// Standard deviation of all draws pooled (ddof 1, as `az.summary`).
    pub sd: f64,
    /// 5% quantile ([`quantile`], type 7).
    pub q5: f64,
    /// Median.
    pub q50: f64,
    /// 95% quantile.
    pub q95: f64,
    /// [`mcse_mean`].
    pub mcse_mean: f64,
    /// [`ess_bulk`].
    pub ess_bulk: f64,
    /// [`ess_tail`].
    pub ess_tail: f64,
    /// [`rank_normalized_split_rhat`]; NaN for a single chain (as `az.summary`)
    /// or when every draw is the same value.
    pub r_hat: f64,
}

impl SummaryRow {
    /// Summarize one parameter's draws.
    ///
    /// # Errors
    /// No chains, fewer than 4 draws per chain, unequal chain lengths, or a
    /// non-finite draw.
    pub fn new<C: AsRef<[f64]>>(name: impl Into<String>, chains: &[C]) -> Result<Self, DiagnosticsError> {
        let draws = validate(chains, "summary", 1, MIN_DRAWS)?;
        let pooled = &draws.values;
        Ok(SummaryRow {
            name: name.into(),
            mean: mean(pooled),
            sd: sample_variance(pooled).sqrt(),
            q5: quantile_of(pooled, 0.05),
            q50: quantile_of(pooled, 0.5),
            q95: quantile_of(pooled, 0.95),
            mcse_mean: mcse_mean_of(&draws),
            ess_bulk: ess_of(&z_scale(&draws.split())),
            ess_tail: ess_tail_of(&draws),
            // A single chain gives no between-chain comparison; az.summary
            // reports NaN there rather than failing the whole table.
            r_hat: if draws.n_chains < 2 { f64::NAN } else { rank_rhat_of(&draws) },
        })
    }
}

/// A table of [`SummaryRow`]s, one per parameter, in insertion order. `Display`
/// prints it as an aligned text table.
///
/// ```
/// use gen_runtime::diagnostics::Summary;
/// let chains = vec![vec![0.1, -0.3, 0.5, 0.2, -0.1, 0.0], vec![0.3, 0.1, -0.2, 0.4, 0.0, -0.5]];
/// let mut summary = Summary::new();
/// summary.push("a", &chains).unwrap();
/// println!("{summary}");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// The rows, one per parameter.
    pub rows: Vec<SummaryRow>,
}

impl Summary {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Summary::default()
    }

    /// Summarize each `(name, chains)` pair in order.
    ///
    /// # Errors
    /// [`DiagnosticsError::Parameter`] naming the first parameter whose draws are
    /// invalid.
    pub fn from_parameters<'a, C, I>(parameters: I) -> Result<Self, DiagnosticsError>
    where
        C: AsRef<[f64]> + 'a,
        I: IntoIterator<Item = (&'a str, &'a [C])>,
    {
        let mut summary = Summary::new();
        for (name, chains) in parameters {
            summary.push(name, chains)?;
        }
        Ok(summary)
    }

    /// Append a row for one parameter.
    ///
    /// # Errors
    /// [`DiagnosticsError::Parameter`] naming the parameter, wrapping why its
    /// draws are invalid.
    pub fn push<C: AsRef<[f64]>>(&mut self, name: impl Into<String>, chains: &[C]) -> Result<(), DiagnosticsError> {
        let name = name.into();
        let row = SummaryRow::new(name.clone(), chains).map_err(|source| DiagnosticsError::Parameter { name, source: Box::new(source) })?;
        self.rows.push(row);
        Ok(())
    }

    /// The row for `name`, if there is one.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&SummaryRow> {
        self.rows.iter().find(|r| r.name == name)
    }
}

const HEADERS: [&str; 10] = ["", "mean", "sd", "q5", "q50", "q95", "mcse_mean", "ess_bulk", "ess_tail", "r_hat"];

/// Fixed point where that is readable, scientific for small magnitudes so a
/// posterior sd of 1e-4 does not print as 0.000.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == 0.0 || v.abs() >= 1e-2 {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

impl SummaryRow {
    fn cells(&self) -> [String; 10] {
        let count = |v: f64| {
            if v.is_nan() {
                "NaN".to_string()
            } else {
                format!("{v:.0}")
            }
        };
        let rhat = if self.r_hat.is_nan() { "NaN".to_string() } else { format!("{:.3}", self.r_hat) };
        [
            self.name.clone(),
            format_value(self.mean),
            format_value(self.sd),
            format_value(self.q5),
            format_value(self.q50),
            format_value(self.q95),
            format_value(self.mcse_mean),
            count(self.ess_bulk),
            count(self.ess_tail),
            rhat,
        ]
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body: Vec<[String; 10]> = self.rows.iter().map(SummaryRow::cells).collect();
        let mut widths = HEADERS.map(str::len);
        for row in &body {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let header = HEADERS.map(str::to_string);
        for row in std::iter::once(&header).chain(&body) {
            // Names left-aligned, numbers right-aligned so decimal points line up.
            write!(f, "{:<width$}", row[0], width = widths[0])?;
            for (cell, w) in row.iter().zip(&widths).skip(1) {
                write!(f, "  {cell:>w$}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

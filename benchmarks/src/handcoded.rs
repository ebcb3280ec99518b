//! Handcoded Rust baselines: the floor every framework is measured against.
//!
//! Plain loops over the data with the likelihood evaluated per datum (the same work every
//! framework does; sufficient statistics would be a different algorithm), analytic gradients,
//! buffers allocated once per call and never inside a hot loop, and rayon over particle chunks
//! only when the work is large enough to pay for the hand-off.
//!
//! Random numbers come from one `SmallRng` stream per chunk of [`CHUNK`] particles, seeded from
//! (seed, chunk index), so results do not depend on the thread count or on whether the parallel
//! path was taken.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution, StandardNormal};
use rayon::prelude::*;

use crate::data::{BetaBernoulliData, HmmData, LgssmData, PolynomialData};
use crate::models::{HmcConfig, ViConfig};
use gen_runtime::distributions::LN_2PI;

/// Particles per RNG stream and per rayon task.
pub const CHUNK: usize = 256;

/// Work units below which one thread is faster than rayon (tens of microseconds of work, the
/// order of waking the pool). A unit is one likelihood term; a particle's prior draws and weight
/// count as [`PARTICLE_OVERHEAD`] more.
pub const PARALLEL_WORK: usize = 1 << 16;

/// Work of drawing one particle and exponentiating its weight, in likelihood terms.
pub const PARTICLE_OVERHEAD: usize = 16;

/// Independent-looking seed of stream `stream` (SplitMix64 finaliser over the pair).
#[must_use]
pub fn stream_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Result of importance sampling.
#[derive(Clone, Debug)]
pub struct IsOutput {
    /// Unnormalised log importance weights, one per particle.
    pub log_weights: Vec<f64>,
    /// log of the mean importance weight: the estimate of log p(y).
    pub log_ml: f64,
    /// Kish effective sample size, (sum w)^2 / sum w^2.
    pub ess: f64,
    /// Self-normalised posterior mean of the latents.
    pub posterior_mean: Vec<f64>,
    /// Self-normalised posterior standard deviation of the latents.
    pub posterior_sd: Vec<f64>,
}

/// Fills `latents` and `log_w` chunk by chunk with `kernel(chunk index, latents, log weights)`,
/// on rayon when `parallel`.
fn for_each_chunk<const D: usize>(
    parallel: bool,
    latents: &mut [[f64; D]],
    log_w: &mut [f64],
    kernel: impl Fn(usize, &mut [[f64; D]], &mut [f64]) + Sync,
) {
    if parallel {
        latents.par_chunks_mut(CHUNK).zip(log_w.par_chunks_mut(CHUNK)).enumerate().for_each(|(i, (lat, lw))| kernel(i, lat, lw));
    } else {
        for (i, (lat, lw)) in latents.chunks_mut(CHUNK).zip(log_w.chunks_mut(CHUNK)).enumerate() {
            kernel(i, lat, lw);
        }
    }
}

/// exp(d) for a log weight d <= 0 relative to the largest, with weights below e^-700 set to 0:
/// they cannot change a sum that holds 1, and exp's subnormal results (and arithmetic on them) are
/// slow, which made the sharp noise-0.05 posteriors measurably slower than the noise-1.0 ones.
#[inline]
fn scaled_weight(d: f64) -> f64 {
    if d < -700.0 {
        0.0
    } else {
        d.exp()
    }
}

/// Log-ML, ESS and weighted moments from log weights (stable: weights are scaled by the max).
fn summarize_weights<const D: usize>(log_weights: Vec<f64>, latents: &[[f64; D]]) -> IsOutput {
    let max = log_weights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (mut sum, mut sum_sq) = (0.0, 0.0);
    let (mut m1, mut m2) = ([0.0; D], [0.0; D]);
    for (lw, theta) in log_weights.iter().zip(latents) {
        let w = scaled_weight(lw - max);
        sum += w;
        sum_sq += w * w;
        for d in 0..D {
            m1[d] += w * theta[d];
            m2[d] += w * theta[d] * theta[d];
        }
    }
    let n = log_weights.len() as f64;
    let posterior_mean: Vec<f64> = m1.iter().map(|m| m / sum).collect();
    let posterior_sd = m2.iter().zip(&posterior_mean).map(|(m2, m)| (m2 / sum - m * m).max(0.0).sqrt()).collect();
    IsOutput { log_ml: max + (sum / n).ln(), ess: sum * sum / sum_sq, posterior_mean, posterior_sd, log_weights }
}

/// Sum of squared residuals of a + b x + c x^2 against y.
///
/// Eight independent accumulators let the compiler keep several FMAs in flight and vectorise,
/// which one serial float sum forbids (addition order is fixed without fast-math).
#[inline]
fn sum_sq_residuals(x: &[f64], y: &[f64], [a, b, c]: [f64; 3]) -> f64 {
    const LANES: usize = 8;
    let mut acc = [0.0; LANES];
    let (xc, yc) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (xs, ys) in xc.zip(yc) {
        let xs: &[f64; LANES] = xs.try_into().expect("chunks_exact yields LANES elements");
        let ys: &[f64; LANES] = ys.try_into().expect("chunks_exact yields LANES elements");
        for l in 0..LANES {
            let r = ys[l] - (a + xs[l] * (b + c * xs[l]));
            acc[l] += r * r;
        }
    }
    let mut total: f64 = acc.iter().sum();
    for (&x, &y) in xr.iter().zip(yr) {
        let r = y - (a + x * (b + c * x));
        total += r * r;
    }
    total
}

/// Polynomial regression by importance sampling with the prior as proposal.
#[must_use]
pub fn polynomial_is(data: &PolynomialData, n_particles: usize, seed: u64) -> IsOutput {
    let n = data.y.len();
    let s = data.noise_sd;
    let log_norm = -(n as f64) * (s.ln() + 0.5 * LN_2PI);
    let half_precision = 0.5 / (s * s);
    let prior_sd = data.prior_sd;
    let mut latents = vec![[0.0; 3]; n_particles];
    let mut log_w = vec![0.0; n_particles];
    let kernel = |chunk: usize, lat: &mut [[f64; 3]], lw: &mut [f64]| {
        let mut rng = SmallRng::seed_from_u64(stream_seed(seed, chunk as u64));
        for (theta, w) in lat.iter_mut().zip(lw.iter_mut()) {
            *theta = [0; 3].map(|_| prior_sd * rng.sample::<f64, _>(StandardNormal));
            *w = log_norm - half_precision * sum_sq_residuals(&data.x, &data.y, *theta);
        }
    };
    for_each_chunk(n_particles * (n + PARTICLE_OVERHEAD) >= PARALLEL_WORK, &mut latents, &mut log_w, kernel);
    summarize_weights(log_w, &latents)
}

/// Beta-Bernoulli by importance sampling with the Beta prior as proposal.
///
/// # Panics
/// If the prior shapes are not positive and finite.
#[must_use]
pub fn beta_bernoulli_is(data: &BetaBernoulliData, n_particles: usize, seed: u64) -> IsOutput {
    let prior = Beta::new(data.alpha, data.beta).expect("Beta prior shapes must be positive");
    let mut latents = vec![[0.0; 1]; n_particles];
    let mut log_w = vec![0.0; n_particles];
    let kernel = |chunk: usize, lat: &mut [[f64; 1]], lw: &mut [f64]| {
        let mut rng = SmallRng::seed_from_u64(stream_seed(seed, chunk as u64));
        for (theta, w) in lat.iter_mut().zip(lw.iter_mut()) {
            let p: f64 = prior.sample(&mut rng);
            let (ln_p, ln_q) = (p.ln(), (-p).ln_1p());
            *theta = [p];
            *w = data.y.iter().map(|&y| if y == 1 { ln_p } else { ln_q }).sum();
        }
    };
    for_each_chunk(n_particles * (data.y.len() + PARTICLE_OVERHEAD) >= PARALLEL_WORK, &mut latents, &mut log_w, kernel);
    summarize_weights(log_w, &latents)
}

/// Result of one HMC chain.
#[derive(Clone, Debug)]
pub struct HmcOutput {
    /// The kept samples (after warm-up), latents (a, b, c).
    pub samples: Vec<[f64; 3]>,
    /// Mean Metropolis acceptance probability min(1, exp(-energy error)) over the kept
    /// iterations (0 for a divergent one), as the other frameworks' rows report it.
    pub acceptance_rate: f64,
    /// Kept iterations whose energy error was non-finite or above [`DIVERGENCE_THRESHOLD`].
    pub divergences: usize,
}

/// Energy error above which a trajectory counts as divergent (Stan's default).
pub const DIVERGENCE_THRESHOLD: f64 = 1000.0;

/// Potential energy U = -log p(theta, y) + const and its gradient for the polynomial model.
///
/// One pass over the data gives both (the residual feeds the sum of squares and the gradient).
#[inline]
fn potential_and_gradient(data: &PolynomialData, q: [f64; 3]) -> (f64, [f64; 3]) {
    const LANES: usize = 4;
    let [a, b, c] = q;
    let (mut ss, mut g0, mut g1, mut g2) = ([0.0; LANES], [0.0; LANES], [0.0; LANES], [0.0; LANES]);
    let (xc, yc) = (data.x.chunks_exact(LANES), data.y.chunks_exact(LANES));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (xs, ys) in xc.zip(yc) {
        let xs: &[f64; LANES] = xs.try_into().expect("chunks_exact yields LANES elements");
        let ys: &[f64; LANES] = ys.try_into().expect("chunks_exact yields LANES elements");
        for l in 0..LANES {
            let x = xs[l];
            let r = ys[l] - (a + x * (b + c * x));
            ss[l] += r * r;
            g0[l] += r;
            g1[l] += r * x;
            g2[l] += r * x * x;
        }
    }
    let (mut ss, mut g0, mut g1, mut g2) = (ss.iter().sum::<f64>(), g0.iter().sum::<f64>(), g1.iter().sum::<f64>(), g2.iter().sum::<f64>());
    for (&x, &y) in xr.iter().zip(yr) {
        let r = y - (a + x * (b + c * x));
        ss += r * r;
        g0 += r;
        g1 += r * x;
        g2 += r * x * x;
    }
    let inv_s2 = 1.0 / (data.noise_sd * data.noise_sd);
    let inv_s02 = 1.0 / (data.prior_sd * data.prior_sd);
    let u = 0.5 * inv_s02 * (a * a + b * b + c * c) + 0.5 * inv_s2 * ss;
    (u, [a * inv_s02 - inv_s2 * g0, b * inv_s02 - inv_s2 * g1, c * inv_s02 - inv_s2 * g2])
}

/// Result of a mean-field ADVI fit.
#[derive(Clone, Debug)]
pub struct ViOutput {
    /// The guide's means (a, b, c).
    pub loc: [f64; 3],
    /// The guide's standard deviations.
    pub scale: [f64; 3],
    /// The mean ELBO estimate over the last 10% of steps.
    pub elbo: f64,
}

/// Mean-field ADVI on the polynomial model with the suite's one configuration: guide
/// N(loc, diag(softplus(raw)²)) from loc 0 and scale 1, K reparameterized draws per step, the
/// Monte Carlo ELBO's gradient (analytic: ∇ log p from `potential_and_gradient`, and
/// 1 / scale from −log q with ε fixed), Adam (0.9, 0.999, 1e-8).
#[must_use]
pub fn polynomial_advi(data: &PolynomialData, config: &ViConfig, seed: u64) -> ViOutput {
    const D: usize = 3;
    let (beta1, beta2, epsilon) = (0.9_f64, 0.999_f64, 1e-8);
    let softplus = |x: f64| if x > 30.0 { x } else { x.exp().ln_1p() };
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    let mut rng = SmallRng::seed_from_u64(stream_seed(seed, 0));
    // Parameters: loc (3), then the raw scales (3); softplus⁻¹(1) = ln(e − 1).
    let mut params = [0.0, 0.0, 0.0, 1f64.exp_m1().ln(), 1f64.exp_m1().ln(), 1f64.exp_m1().ln()];
    let (mut m, mut v) = ([0.0; 2 * D], [0.0; 2 * D]);
    let k = config.n_elbo_samples.max(1);
    let tail = (config.n_steps / 10).max(1);
    let mut elbo_tail = 0.0;
    let (mut beta1_t, mut beta2_t) = (1.0, 1.0);
    for step in 0..config.n_steps {
        let scale: [f64; D] = std::array::from_fn(|i| softplus(params[D + i]));
        let dscale: [f64; D] = std::array::from_fn(|i| sigmoid(params[D + i]));
        let log_q_const: f64 = -scale.iter().map(|s| s.ln()).sum::<f64>() - 0.5 * D as f64 * LN_2PI;
        let mut grad = [0.0; 2 * D];
        let mut elbo = 0.0;
        for _ in 0..k {
            let eps: [f64; D] = std::array::from_fn(|_| rng.sample(StandardNormal));
            let z: [f64; D] = std::array::from_fn(|i| params[i] + scale[i] * eps[i]);
            let (u, minus_g) = potential_and_gradient(data, z);
            // log p(y, z) with the constants the other rows include (Gaussian normalizers).
            let n = data.x.len() as f64;
            let log_p = -u - n * (data.noise_sd.ln() + 0.5 * LN_2PI) - D as f64 * (data.prior_sd.ln() + 0.5 * LN_2PI);
            elbo += log_p - (log_q_const - 0.5 * eps.iter().map(|e| e * e).sum::<f64>());
            for i in 0..D {
                grad[i] -= minus_g[i];
                grad[D + i] += (-minus_g[i] * eps[i] + 1.0 / scale[i]) * dscale[i];
            }
        }
        (beta1_t, beta2_t) = (beta1_t * beta1, beta2_t * beta2);
        let (c1, c2) = (1.0 - beta1_t, 1.0 - beta2_t);
        for j in 0..2 * D {
            let g = grad[j] / k as f64;
            m[j] = beta1 * m[j] + (1.0 - beta1) * g;
            v[j] = beta2 * v[j] + (1.0 - beta2) * g * g;
            params[j] += config.learning_rate * (m[j] / c1) / ((v[j] / c2).sqrt() + epsilon);
        }
        if step >= config.n_steps - tail {
            elbo_tail += elbo / k as f64;
        }
    }
    ViOutput {
        loc: [params[0], params[1], params[2]],
        scale: std::array::from_fn(|i| softplus(params[D + i])),
        elbo: elbo_tail / tail.min(config.n_steps).max(1) as f64,
    }
}

/// Fixed-step HMC on the polynomial model: one chain from zeros, unit mass, leapfrog with one
/// gradient per step, Metropolis correction on the total energy.
#[must_use]
pub fn polynomial_hmc(data: &PolynomialData, config: &HmcConfig, seed: u64) -> HmcOutput {
    let eps = config.step_size;
    let mut rng = SmallRng::seed_from_u64(stream_seed(seed, 0));
    let mut q = [0.0; 3];
    let (mut u, mut grad) = potential_and_gradient(data, q);
    let mut samples = Vec::with_capacity(config.n_samples);
    let (mut sum_accept_prob, mut divergences) = (0.0, 0usize);
    for iteration in 0..config.n_warmup + config.n_samples {
        let p0: [f64; 3] = [0; 3].map(|_| rng.sample(StandardNormal));
        let h0 = u + 0.5 * dot(&p0, &p0);
        let (mut q_new, mut p, mut u_new, mut g_new) = (q, p0, u, grad);
        // Full-length trajectories even after the energy blows up, as the fixed-length loops of
        // the JAX peers do; the divergence is detected on the final energy.
        for _ in 0..config.n_leapfrog {
            for d in 0..3 {
                p[d] -= 0.5 * eps * g_new[d];
                q_new[d] += eps * p[d];
            }
            (u_new, g_new) = potential_and_gradient(data, q_new);
            for d in 0..3 {
                p[d] -= 0.5 * eps * g_new[d];
            }
        }
        let energy_error = u_new + 0.5 * dot(&p, &p) - h0;
        let divergent = !energy_error.is_finite() || energy_error > DIVERGENCE_THRESHOLD;
        let accept_prob = if divergent { 0.0 } else { (-energy_error).exp().min(1.0) };
        let accept = accept_prob >= 1.0 || rng.random::<f64>() < accept_prob;
        if accept {
            (q, u, grad) = (q_new, u_new, g_new);
        }
        if iteration >= config.n_warmup {
            samples.push(q);
            sum_accept_prob += accept_prob;
            divergences += usize::from(divergent);
        }
    }
    let acceptance_rate = if config.n_samples == 0 { f64::NAN } else { sum_accept_prob / config.n_samples as f64 };
    HmcOutput { samples, acceptance_rate, divergences }
}

fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Result of a particle filter.
#[derive(Clone, Debug)]
pub struct SmcOutput {
    /// Estimate of log p(y_1..y_T): sum over steps of the log mean incremental weight.
    pub log_ml: f64,
    /// Smallest ESS over the time steps (before resampling).
    pub min_ess: f64,
}

/// Systematic resampling: writes into `ancestors` the indices selected by the weights `w`
/// (unnormalised, total `sum`) with one uniform offset `u`.
fn systematic_resample(w: &[f64], sum: f64, u: f64, ancestors: &mut [usize]) {
    let n = ancestors.len();
    let step = sum / n as f64;
    let mut target = u * step;
    let (mut j, mut cumulative) = (0, w[0]);
    for slot in ancestors.iter_mut() {
        while cumulative < target && j + 1 < w.len() {
            j += 1;
            cumulative += w[j];
        }
        *slot = j;
        target += step;
    }
}

/// Draws a category from cumulative probabilities with one uniform variate: the number of
/// cumulative probabilities at or below it, counted without branches (with random u a search
/// mispredicts about once per draw, which dominated the particle filter).
#[inline]
fn draw(cdf: &[f64], u: f64) -> usize {
    cdf[..cdf.len() - 1].iter().map(|&c| usize::from(u >= c)).sum()
}

fn cumulative(p: &[f64]) -> Vec<f64> {
    p.iter()
        .scan(0.0, |acc, &x| {
            *acc += x;
            Some(*acc)
        })
        .collect()
}

/// Bootstrap particle filter for the discrete HMM (systematic resampling at every step).
///
/// Sequential on purpose: each step is O(N) with a serial resampling scan, and at the suite's
/// sizes (N <= 10^4, three states) a rayon hand-off would cost more than the step.
#[must_use]
pub fn hmm_bootstrap_pf(data: &HmmData, n_particles: usize, seed: u64) -> SmcOutput {
    let spec = &data.spec;
    let k = spec.initial.len();
    let initial = cumulative(&spec.initial);
    // Flat tables: one indexing step per lookup instead of chasing a Vec per row.
    let transition: Vec<f64> = spec.transition.iter().flat_map(|row| cumulative(row)).collect();
    let mut likelihood = vec![0.0; k];
    let mut rng = SmallRng::seed_from_u64(stream_seed(seed, 0));
    let mut z = vec![0usize; n_particles];
    let mut z_prev = vec![0usize; n_particles];
    let mut w = vec![0.0; n_particles];
    let mut ancestors = vec![0usize; n_particles];
    let (mut log_ml, mut min_ess) = (0.0, f64::INFINITY);
    let mut sum = 0.0;
    for (t, &y) in data.y.iter().enumerate() {
        if t == 0 {
            z.iter_mut().for_each(|z| *z = draw(&initial, rng.random()));
        } else {
            systematic_resample(&w, sum, rng.random(), &mut ancestors);
            std::mem::swap(&mut z, &mut z_prev);
            for (z, &a) in z.iter_mut().zip(&ancestors) {
                let from = z_prev[a] * k;
                *z = draw(&transition[from..from + k], rng.random());
            }
        }
        for (l, row) in likelihood.iter_mut().zip(&spec.emission) {
            *l = row[y];
        }
        let mut sum_sq = 0.0;
        sum = 0.0;
        for (w, &z) in w.iter_mut().zip(&z) {
            *w = likelihood[z];
            sum += *w;
            sum_sq += *w * *w;
        }
        log_ml += (sum / n_particles as f64).ln();
        min_ess = min_ess.min(sum * sum / sum_sq);
    }
    SmcOutput { log_ml, min_ess }
}

/// Bootstrap particle filter for the LGSSM (systematic resampling at every step).
///
/// Sequential for the same reason as [`hmm_bootstrap_pf`].
#[must_use]
pub fn lgssm_bootstrap_pf(data: &LgssmData, n_particles: usize, seed: u64) -> SmcOutput {
    let s = &data.spec;
    let log_norm = -(s.r.ln() + 0.5 * LN_2PI);
    let half_precision = 0.5 / (s.r * s.r);
    let mut rng = SmallRng::seed_from_u64(stream_seed(seed, 0));
    let mut x = vec![0.0; n_particles];
    let mut x_prev = vec![0.0; n_particles];
    let mut w = vec![0.0; n_particles];
    let mut ancestors = vec![0usize; n_particles];
    let (mut log_ml, mut min_ess) = (0.0, f64::INFINITY);
    let mut sum = 0.0;
    for (t, &y) in data.y.iter().enumerate() {
        if t == 0 {
            x.iter_mut().for_each(|x| *x = s.x1_mean + s.x1_sd * rng.sample::<f64, _>(StandardNormal));
        } else {
            systematic_resample(&w, sum, rng.random(), &mut ancestors);
            std::mem::swap(&mut x, &mut x_prev);
            for (x, &a) in x.iter_mut().zip(&ancestors) {
                *x = s.a * x_prev[a] + s.q * rng.sample::<f64, _>(StandardNormal);
            }
        }
        // Log weights scaled by their max so that a far-off observation cannot underflow every weight.
        let max = x.iter().map(|&x| -half_precision * (y - x) * (y - x)).fold(f64::NEG_INFINITY, f64::max);
        let mut sum_sq = 0.0;
        sum = 0.0;
        for (w, &x) in w.iter_mut().zip(&x) {
            *w = scaled_weight(-half_precision * (y - x) * (y - x) - max);
            sum += *w;
            sum_sq += *w * *w;
        }
        log_ml += log_norm + max + (sum / n_particles as f64).ln();
        min_ess = min_ess.min(sum * sum / sum_sq);
    }
    SmcOutput { log_ml, min_ess }
}

/// log p(y_1..y_T) of the discrete HMM by the forward algorithm, normalized at every step
/// (the log of each step's normalizer summed), written for speed: one flat transition table
/// and two state vectors, reused. The suite's exact reference is a separate implementation
/// (`gen_runtime::exact::hmm_forward`), so the row's log-ML error checks this one.
#[must_use]
pub fn hmm_forward_log_ml(data: &HmmData) -> f64 {
    let spec = &data.spec;
    let k = spec.initial.len();
    let transition: Vec<f64> = spec.transition.iter().flatten().copied().collect();
    let mut alpha = spec.initial.clone();
    let mut next = vec![0.0; k];
    let mut log_ml = 0.0;
    for (t, &y) in data.y.iter().enumerate() {
        if t > 0 {
            next.fill(0.0);
            for (a, row) in alpha.iter().zip(transition.chunks_exact(k)) {
                next.iter_mut().zip(row).for_each(|(n, p)| *n += a * p);
            }
            std::mem::swap(&mut alpha, &mut next);
        }
        let mut norm = 0.0;
        for (a, row) in alpha.iter_mut().zip(&spec.emission) {
            *a *= row[y];
            norm += *a;
        }
        log_ml += norm.ln();
        let inv = 1.0 / norm;
        alpha.iter_mut().for_each(|a| *a *= inv);
    }
    log_ml
}

/// log p(y_1..y_T) of the LGSSM by the scalar Kalman filter (predict, then update on each
/// observation, the predictive density's log summed). The suite's exact reference is a separate
/// implementation (`gen_runtime::exact::kalman_filter`).
#[must_use]
pub fn lgssm_kalman_log_ml(data: &LgssmData) -> f64 {
    let s = &data.spec;
    let (mut mean, mut var) = (s.x1_mean, s.x1_sd * s.x1_sd);
    let (q2, r2) = (s.q * s.q, s.r * s.r);
    let mut log_ml = 0.0;
    for (t, &y) in data.y.iter().enumerate() {
        if t > 0 {
            mean *= s.a;
            var = s.a * s.a * var + q2;
        }
        let predictive_var = var + r2;
        let residual = y - mean;
        log_ml -= 0.5 * (LN_2PI + predictive_var.ln() + residual * residual / predictive_var);
        let gain = var / predictive_var;
        mean += gain * residual;
        var *= 1.0 - gain;
    }
    log_ml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systematic_resampling_follows_the_weights() {
        let mut anc = vec![0; 4];
        systematic_resample(&[0.0, 3.0, 0.0, 1.0], 4.0, 0.5, &mut anc);
        assert_eq!(anc, vec![1, 1, 1, 3]);
    }

    #[test]
    fn results_do_not_depend_on_the_parallel_path() {
        let x = crate::data::linspace01(40);
        let y = x.iter().map(|x| 0.5 - 1.25 * x + 2.0 * x * x).collect();
        let data = PolynomialData { x, y, noise_sd: 1.0, prior_sd: 1.0 };
        // 3000 particles x 40 points cross PARALLEL_WORK, one chunk does not: same first chunk.
        let big = polynomial_is(&data, 3000, 7);
        const { assert!(3000 * (40 + PARTICLE_OVERHEAD) >= PARALLEL_WORK && CHUNK * (40 + PARTICLE_OVERHEAD) < PARALLEL_WORK) };
        let small = polynomial_is(&data, CHUNK, 7);
        assert_eq!(&big.log_weights[..CHUNK], &small.log_weights[..]);
    }
}

//! Checks `gen_runtime::exact` against brute force: n x n Gaussian densities
//! solved by Gaussian elimination, a 3 x 3 inverse by cofactors, numeric
//! integration, and enumeration of every HMM state path.

use gen_runtime::exact::{
    beta_bernoulli, beta_bernoulli_counts, hmm_forward, kalman_filter, linear_regression, polynomial, DiscreteHmm, ExactError,
    LinearGaussianSsm,
};

use gen_runtime::distributions::LN_2PI;

mod common;
use common::{linspace};

fn assert_close(actual: f64, expected: f64, tolerance: f64, what: &str) {
    let scale = expected.abs().max(1.0);
    assert!((actual - expected).abs() <= tolerance * scale, "{what}: got {actual}, expected {expected} (tolerance {tolerance} x {scale})");
}

/// Solve `a x = b` by Gaussian elimination with partial pivoting, returning `x`
/// and `ln |det a|`: deliberately a different algorithm from the Cholesky under test.
fn solve_with_log_det(mut a: Vec<Vec<f64>>, b: &[f64]) -> (Vec<f64>, f64) {
    let n = b.len();
    let mut x = b.to_vec();
    let mut log_det = 0.0;
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs())).unwrap();
        a.swap(col, pivot);
        x.swap(col, pivot);
        log_det += a[col][col].abs().ln();
        let (upper, lower) = a.split_at_mut(col + 1);
        let pivot_row = &upper[col];
        for (offset, row) in lower.iter_mut().enumerate() {
            let factor = row[col] / pivot_row[col];
            for (v, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *v -= factor * p;
            }
            x[col + 1 + offset] -= factor * x[col];
        }
    }
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (x[row] - tail) / a[row][row];
    }
    (x, log_det)
}

/// `ln N(y; mean, cov)` with the full n x n covariance.
fn gaussian_log_density(y: &[f64], mean: &[f64], cov: Vec<Vec<f64>>) -> f64 {
    let centred: Vec<f64> = y.iter().zip(mean).map(|(a, b)| a - b).collect();
    let (solved, log_det) = solve_with_log_det(cov, &centred);
    let quadratic: f64 = centred.iter().zip(&solved).map(|(a, b)| a * b).sum();
    -0.5 * (y.len() as f64 * LN_2PI + log_det + quadratic)
}

/// Inverse of a 3 x 3 matrix by cofactors.
fn inverse_3x3(m: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let cofactor = |i: usize, j: usize| {
        let (r0, r1) = ((i + 1) % 3, (i + 2) % 3);
        let (c0, c1) = ((j + 1) % 3, (j + 2) % 3);
        m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]
    };
    let det: f64 = (0..3).map(|j| m[0][j] * cofactor(0, j)).sum();
    let mut inv = [[0.0; 3]; 3];
    for (i, row) in inv.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = cofactor(j, i) / det;
        }
    }
    inv
}

/// Posterior mean, covariance and log marginal likelihood the slow way: a 3 x 3
/// inverse and the n x n marginal covariance `noise^2 I + prior^2 X X^T`.
fn brute_force_regression(design: &[[f64; 3]], ys: &[f64], prior_sd: f64, noise_sd: f64) -> ([f64; 3], [[f64; 3]; 3], f64) {
    let (tau2, sigma2) = (prior_sd * prior_sd, noise_sd * noise_sd);
    let mut precision = [[0.0; 3]; 3];
    let mut xty = [0.0; 3];
    for (i, row) in precision.iter_mut().enumerate() {
        row[i] = 1.0 / tau2;
        for (j, v) in row.iter_mut().enumerate() {
            *v += design.iter().map(|x| x[i] * x[j]).sum::<f64>() / sigma2;
        }
        xty[i] = design.iter().zip(ys).map(|(x, y)| x[i] * y).sum::<f64>() / sigma2;
    }
    let cov = inverse_3x3(&precision);
    let mean = [0, 1, 2].map(|i| (0..3).map(|j| cov[i][j] * xty[j]).sum::<f64>());
    let n = ys.len();
    let marginal_cov: Vec<Vec<f64>> = (0..n)
        .map(|a| {
            (0..n)
                .map(|b| {
                    let prior_part: f64 = (0..3).map(|k| design[a][k] * design[b][k]).sum::<f64>() * tau2;
                    prior_part + if a == b { sigma2 } else { 0.0 }
                })
                .collect()
        })
        .collect();
    let log_ml = gaussian_log_density(ys, &vec![0.0; n], marginal_cov);
    (mean, cov, log_ml)
}

fn quadratic_data(xs: &[f64], noise: &[f64]) -> Vec<f64> {
    xs.iter().zip(noise.iter().cycle()).map(|(x, e)| 0.5 - 1.25 * x + 2.0 * x * x + e).collect()
}

const NOISE: [f64; 7] = [0.031, -0.044, 0.012, 0.058, -0.021, -0.007, 0.026];

fn check_polynomial_against_brute_force(n: usize, prior_sd: f64, noise_sd: f64) {
    let xs = linspace(n);
    let ys = quadratic_data(&xs, &NOISE.map(|e| e * noise_sd / 0.05));
    let posterior = polynomial(&xs, &ys, 2, prior_sd, noise_sd).unwrap();
    let design: Vec<[f64; 3]> = xs.iter().map(|&x| [1.0, x, x * x]).collect();
    let (mean, cov, log_ml) = brute_force_regression(&design, &ys, prior_sd, noise_sd);
    assert_close(posterior.log_marginal_likelihood, log_ml, 1e-9, "log marginal likelihood");
    for i in 0..3 {
        assert_close(posterior.mean[i], mean[i], 1e-9, "posterior mean");
        for (j, cov_row_j) in cov.iter().enumerate() {
            // Compare correlations: with small noise the covariances are ~1e-5.
            let scale = (cov[i][i] * cov_row_j[j]).sqrt();
            assert_close(posterior.covariance[i][j] / scale, cov[i][j] / scale, 1e-9, "posterior covariance");
        }
        assert_close(posterior.sd()[i], cov[i][i].sqrt(), 1e-9, "posterior sd");
    }
}

#[test]
fn polynomial_regression_matches_brute_force() {
    check_polynomial_against_brute_force(6, 1.0, 1.0);
    check_polynomial_against_brute_force(7, 2.5, 0.3);
}

#[test]
fn polynomial_regression_is_stable_with_small_noise() {
    // The benchmark's noise sd; the n x n brute force is still well conditioned at n = 50.
    check_polynomial_against_brute_force(50, 1.0, 0.05);
}

#[test]
fn polynomial_posterior_concentrates_on_the_truth() {
    let xs = linspace(1000);
    let ys = quadratic_data(&xs, &NOISE);
    let posterior = polynomial(&xs, &ys, 2, 1.0, 0.05).unwrap();
    for (mean, truth) in posterior.mean.iter().zip([0.5, -1.25, 2.0]) {
        assert!((mean - truth).abs() < 0.05, "{mean} vs {truth}");
    }
    assert!(posterior.log_marginal_likelihood.is_finite());
}

#[test]
fn general_design_matches_brute_force() {
    let design = [[1.0, -0.3, 2.0], [0.5, 1.1, -0.7], [-1.2, 0.4, 0.9], [0.3, 0.3, 0.3], [2.0, -1.5, 0.1]];
    let ys = [0.7, -1.1, 2.3, 0.05, -0.4];
    let rows: Vec<&[f64]> = design.iter().map(|r| r.as_slice()).collect();
    let posterior = linear_regression(&rows, &ys, 0.8, 0.6).unwrap();
    let (mean, cov, log_ml) = brute_force_regression(&design, &ys, 0.8, 0.6);
    assert_close(posterior.log_marginal_likelihood, log_ml, 1e-10, "log marginal likelihood");
    for (i, cov_row) in cov.iter().enumerate() {
        assert_close(posterior.mean[i], mean[i], 1e-10, "posterior mean");
        for (j, &expected) in cov_row.iter().enumerate() {
            assert_close(posterior.covariance[i][j], expected, 1e-10, "posterior covariance");
            assert_eq!(posterior.covariance[i][j], posterior.covariance[j][i]);
        }
    }
}

#[test]
fn no_observations_leave_the_prior() {
    let posterior = polynomial(&[], &[], 2, 1.5, 0.1).unwrap();
    // ln det of the prior precision and 2d ln prior_sd cancel only up to rounding.
    assert_close(posterior.log_marginal_likelihood, 0.0, 1e-14, "log marginal likelihood");
    assert_eq!(posterior.mean, vec![0.0; 3]);
    for i in 0..3 {
        assert_close(posterior.covariance[i][i], 2.25, 1e-14, "prior variance");
    }
}

#[test]
fn regression_rejects_bad_input() {
    assert_eq!(polynomial(&[0.0, 1.0], &[1.0], 2, 1.0, 1.0), Err(ExactError::LengthMismatch { what: "xs".into(), expected: 1, got: 2 }));
    assert_eq!(polynomial(&[0.0], &[1.0], 2, 1.0, 0.0), Err(ExactError::NonPositiveParameter { name: "noise_sd", value: 0.0 }));
    assert!(matches!(polynomial(&[0.0], &[1.0], 2, -1.0, 1.0), Err(ExactError::NonPositiveParameter { name: "prior_sd", .. })));
    assert!(matches!(
        polynomial(&[0.0, f64::NAN], &[1.0, 2.0], 2, 1.0, 1.0),
        Err(ExactError::NonFinite { ref what, .. }) if what == "design[1][1]"
    ));
    assert!(matches!(
        polynomial(&[0.0], &[f64::INFINITY], 2, 1.0, 1.0),
        Err(ExactError::NonFinite { ref what, .. }) if what == "ys[0]"
    ));
    let ragged = vec![vec![1.0, 2.0], vec![1.0]];
    assert!(matches!(
        linear_regression(&ragged, &[0.0, 1.0], 1.0, 1.0),
        Err(ExactError::LengthMismatch { ref what, expected: 2, got: 1 }) if what == "design row 1"
    ));
    let empty_rows: Vec<Vec<f64>> = vec![vec![]];
    assert!(matches!(linear_regression(&empty_rows, &[0.0], 1.0, 1.0), Err(ExactError::Empty { .. })));
    let no_rows: Vec<Vec<f64>> = vec![];
    assert!(matches!(linear_regression(&no_rows, &[], 1.0, 1.0), Err(ExactError::Empty { .. })));
}

/// Composite Simpson's rule on [0, 1].
fn simpson(f: impl Fn(f64) -> f64, intervals: usize) -> f64 {
    let h = 1.0 / intervals as f64;
    let interior: f64 = (1..intervals).map(|i| f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 }).sum();
    (f(0.0) + f(1.0) + interior) * h / 3.0
}

#[test]
fn beta_bernoulli_matches_numeric_integral() {
    for (alpha, beta, k, n) in [(1.0, 1.0, 7_u64, 10_u64), (2.0, 3.0, 31, 50), (3.5, 2.0, 0, 12), (4.0, 4.5, 50, 50)] {
        let posterior = beta_bernoulli_counts(alpha, beta, k, n).unwrap();
        assert_eq!((posterior.alpha, posterior.beta), (alpha + k as f64, beta + (n - k) as f64));
        let prior_kernel = |p: f64| p.powf(alpha - 1.0) * (1.0 - p).powf(beta - 1.0);
        let likelihood = |p: f64| p.powi(k as i32) * (1.0 - p).powi((n - k) as i32);
        let normalizer = simpson(prior_kernel, 20_000);
        let evidence = simpson(|p| prior_kernel(p) * likelihood(p), 20_000) / normalizer;
        assert_close(posterior.log_marginal_likelihood, evidence.ln(), 1e-8, "log marginal likelihood");
        let mean = simpson(|p| p * prior_kernel(p) * likelihood(p), 20_000) / normalizer / evidence;
        let second = simpson(|p| p * p * prior_kernel(p) * likelihood(p), 20_000) / normalizer / evidence;
        assert_close(posterior.mean(), mean, 1e-8, "posterior mean");
        assert_close(posterior.variance(), second - mean * mean, 1e-8, "posterior variance");
    }
}

#[test]
fn beta_bernoulli_from_observations_counts_successes() {
    let ys = [true, false, true, true, false, true];
    assert_eq!(beta_bernoulli(2.0, 2.0, &ys).unwrap(), beta_bernoulli_counts(2.0, 2.0, 4, 6).unwrap());
    assert_eq!(beta_bernoulli(2.0, 2.0, &[]).unwrap().log_marginal_likelihood, 0.0);
}

#[test]
fn beta_bernoulli_rejects_bad_input() {
    assert_eq!(beta_bernoulli_counts(1.0, 1.0, 5, 4), Err(ExactError::TooManySuccesses { successes: 5, trials: 4 }));
    assert!(matches!(beta_bernoulli(0.0, 1.0, &[true]), Err(ExactError::NonPositiveParameter { name: "alpha", .. })));
    assert!(matches!(beta_bernoulli(1.0, f64::NAN, &[true]), Err(ExactError::NonPositiveParameter { name: "beta", .. })));
}

fn example_hmm() -> DiscreteHmm {
    DiscreteHmm {
        initial: vec![0.5, 0.3, 0.2],
        transition: vec![vec![0.8, 0.15, 0.05], vec![0.1, 0.7, 0.2], vec![0.25, 0.25, 0.5]],
        emission: vec![vec![0.9, 0.1], vec![0.3, 0.7], vec![0.5, 0.5]],
    }
}

/// Joint probability of every state path of length `t` with the first `t`
/// observations, by enumeration; returns `p(y_1..t)` and `p(z_t = k, y_1..t)`.
fn enumerate_paths(hmm: &DiscreteHmm, ys: &[usize]) -> (f64, Vec<f64>) {
    let k = hmm.initial.len();
    let mut total = 0.0;
    let mut last_state = vec![0.0; k];
    for code in 0..k.pow(ys.len() as u32) {
        let path: Vec<usize> = (0..ys.len()).map(|t| code / k.pow(t as u32) % k).collect();
        let mut p = hmm.initial[path[0]] * hmm.emission[path[0]][ys[0]];
        for t in 1..ys.len() {
            p *= hmm.transition[path[t - 1]][path[t]] * hmm.emission[path[t]][ys[t]];
        }
        total += p;
        last_state[path[ys.len() - 1]] += p;
    }
    (total, last_state)
}

#[test]
fn hmm_forward_matches_path_enumeration() {
    let hmm = example_hmm();
    let ys = [0, 1, 1, 0];
    let forward = hmm_forward(&hmm, &ys).unwrap();
    let (total, _) = enumerate_paths(&hmm, &ys);
    assert_close(forward.log_marginal_likelihood, total.ln(), 1e-12, "log marginal likelihood");
    assert_eq!(forward.filtered.len(), 4);
    for t in 1..=ys.len() {
        let (evidence, joint) = enumerate_paths(&hmm, &ys[..t]);
        for (state, p) in joint.iter().enumerate() {
            assert_close(forward.filtered[t - 1][state], p / evidence, 1e-12, "filtered marginal");
        }
    }
}

#[test]
fn hmm_forward_does_not_underflow_on_long_sequences() {
    let hmm = example_hmm();
    let ys: Vec<usize> = (0..5000).map(|t| (t * 7 / 3) % 2).collect();
    let forward = hmm_forward(&hmm, &ys).unwrap();
    assert!(forward.log_marginal_likelihood.is_finite());
    assert!(forward.log_marginal_likelihood < -1000.0);
    for row in &forward.filtered {
        assert_close(row.iter().sum(), 1.0, 1e-12, "filtered row sum");
    }
}

#[test]
fn hmm_forward_handles_zeros_and_empty_sequences() {
    let mut hmm = example_hmm();
    hmm.transition[0] = vec![1.0, 0.0, 0.0];
    hmm.emission[1] = vec![0.0, 1.0];
    let ys = [1, 0, 0, 1];
    let forward = hmm_forward(&hmm, &ys).unwrap();
    let (total, _) = enumerate_paths(&hmm, &ys);
    assert_close(forward.log_marginal_likelihood, total.ln(), 1e-12, "log marginal likelihood with zeros");
    let empty = hmm_forward(&hmm, &[]).unwrap();
    assert_eq!(empty.log_marginal_likelihood, 0.0);
    assert!(empty.filtered.is_empty());
}

#[test]
fn hmm_rejects_bad_input() {
    let hmm = example_hmm();
    assert_eq!(hmm_forward(&hmm, &[0, 2]), Err(ExactError::ObservationOutOfRange { time: 1, value: 2, n_symbols: 2 }));
    let mut unnormalized = example_hmm();
    unnormalized.transition[1][2] += 1e-8;
    assert!(matches!(
        hmm_forward(&unnormalized, &[0]),
        Err(ExactError::NotNormalized { ref what, .. }) if what == "transition row 1"
    ));
    let mut negative = example_hmm();
    negative.initial = vec![1.2, -0.2, 0.0];
    assert!(matches!(
        hmm_forward(&negative, &[0]),
        Err(ExactError::NegativeProbability { ref what, index: 1, .. }) if what == "initial"
    ));
    let mut wrong_shape = example_hmm();
    wrong_shape.emission.pop();
    assert!(matches!(hmm_forward(&wrong_shape, &[0]), Err(ExactError::LengthMismatch { expected: 3, got: 2, .. })));
    let mut ragged = example_hmm();
    ragged.emission[2] = vec![0.2, 0.3, 0.5];
    assert!(matches!(
        hmm_forward(&ragged, &[0]),
        Err(ExactError::LengthMismatch { ref what, .. }) if what == "emission row 2"
    ));
    let mut impossible = example_hmm();
    impossible.initial = vec![1.0, 0.0, 0.0];
    impossible.transition[0] = vec![1.0, 0.0, 0.0];
    impossible.emission[0] = vec![1.0, 0.0];
    assert_eq!(hmm_forward(&impossible, &[0, 0, 1]), Err(ExactError::ZeroProbability { time: 2 }));
    let no_states = DiscreteHmm { initial: vec![], transition: vec![], emission: vec![] };
    assert!(matches!(hmm_forward(&no_states, &[]), Err(ExactError::Empty { .. })));
}

const SSM: LinearGaussianSsm =
    LinearGaussianSsm { initial_mean: 0.2, initial_sd: 1.5, transition: 0.8, process_sd: 0.5, observation_sd: 0.3 };

/// Mean and covariance of `(x_1, ..., x_T)` under the state-space model.
fn state_moments(model: &LinearGaussianSsm, t_max: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut means = vec![model.initial_mean];
    let mut vars = vec![model.initial_sd * model.initial_sd];
    for t in 1..t_max {
        means.push(model.transition * means[t - 1]);
        vars.push(model.transition * model.transition * vars[t - 1] + model.process_sd * model.process_sd);
    }
    let cov = (0..t_max)
        .map(|s| {
            (0..t_max)
                .map(|t| {
                    let (early, late) = (s.min(t), s.max(t));
                    model.transition.powi((late - early) as i32) * vars[early]
                })
                .collect()
        })
        .collect();
    (means, cov)
}

#[test]
fn kalman_filter_matches_joint_gaussian() {
    let ys = [0.9, 0.1, -0.6, -0.2, 0.75];
    let filter = kalman_filter(&SSM, &ys).unwrap();
    let (means, state_cov) = state_moments(&SSM, ys.len());
    let r2 = SSM.observation_sd * SSM.observation_sd;
    let obs_cov =
        |t: usize| -> Vec<Vec<f64>> { (0..t).map(|a| (0..t).map(|b| state_cov[a][b] + if a == b { r2 } else { 0.0 }).collect()).collect() };
    let log_ml = gaussian_log_density(&ys, &means, obs_cov(ys.len()));
    assert_close(filter.log_marginal_likelihood, log_ml, 1e-12, "log marginal likelihood");
    for t in 1..=ys.len() {
        // Condition x_t on y_1..t in the joint Gaussian.
        let centred: Vec<f64> = (0..t).map(|s| ys[s] - means[s]).collect();
        let cross: Vec<f64> = (0..t).map(|s| state_cov[t - 1][s]).collect();
        let (weights, _) = solve_with_log_det(obs_cov(t), &cross);
        let mean = means[t - 1] + weights.iter().zip(&centred).map(|(w, c)| w * c).sum::<f64>();
        let var = state_cov[t - 1][t - 1] - weights.iter().zip(&cross).map(|(w, c)| w * c).sum::<f64>();
        assert_close(filter.filtered_means[t - 1], mean, 1e-12, "filtered mean");
        assert_close(filter.filtered_variances[t - 1], var, 1e-12, "filtered variance");
    }
}

#[test]
fn kalman_filter_empty_sequence() {
    let filter = kalman_filter(&SSM, &[]).unwrap();
    assert_eq!(filter.log_marginal_likelihood, 0.0);
    assert!(filter.filtered_means.is_empty() && filter.filtered_variances.is_empty());
}

#[test]
fn kalman_filter_rejects_bad_input() {
    let zero_noise = LinearGaussianSsm { observation_sd: 0.0, ..SSM };
    assert_eq!(kalman_filter(&zero_noise, &[1.0]), Err(ExactError::NonPositiveParameter { name: "observation_sd", value: 0.0 }));
    let negative = LinearGaussianSsm { initial_sd: -1.0, ..SSM };
    assert!(matches!(kalman_filter(&negative, &[1.0]), Err(ExactError::NonPositiveParameter { name: "initial_sd", .. })));
    assert!(matches!(
        kalman_filter(&SSM, &[1.0, f64::NAN]),
        Err(ExactError::NonFinite { ref what, .. }) if what == "ys[1]"
    ));
    let nan_transition = LinearGaussianSsm { transition: f64::NAN, ..SSM };
    assert!(matches!(kalman_filter(&nan_transition, &[1.0]), Err(ExactError::NonFinite { .. })));
}

#[test]
fn errors_name_the_problem() {
    let err = hmm_forward(&example_hmm(), &[5]).unwrap_err();
    assert_eq!(err.to_string(), "observation 0 is 5, but the emission matrix has only 2 symbols");
    let err = polynomial(&[0.0], &[1.0], 2, 1.0, -2.0).unwrap_err();
    assert_eq!(err.to_string(), "noise_sd must be positive and finite, got -2");
}

#[test]
fn gaussian_kl_matches_the_one_dimensional_formula_and_vanishes_at_equality() {
    use gen_runtime::exact::{diagonal_covariance, gaussian_kl, mean_field_optimum};
    let (m1, s1, m2, s2) = (0.3_f64, 0.7_f64, -1.1_f64, 1.9_f64);
    let closed = (s2 / s1).ln() + (s1 * s1 + (m1 - m2).powi(2)) / (2.0 * s2 * s2) - 0.5;
    let kl = gaussian_kl(&[m1], &diagonal_covariance(&[s1]), &[m2], &diagonal_covariance(&[s2])).unwrap();
    assert!((kl - closed).abs() < 1e-12, "{kl} vs {closed}");
    let cov = vec![vec![1.0, 0.6], vec![0.6, 2.0]];
    assert!(gaussian_kl(&[1.0, 2.0], &cov, &[1.0, 2.0], &cov).unwrap().abs() < 1e-12);
    // The best mean-field fit has the conditional sds, sigma_i sqrt(1 - rho^2).
    let (mean, sd) = mean_field_optimum(&[1.0, 2.0], &cov).unwrap();
    let rho2: f64 = 0.36 / 2.0;
    assert_eq!(mean, vec![1.0, 2.0]);
    assert!((sd[0] - (1.0 - rho2).sqrt()).abs() < 1e-12 && (sd[1] - (2.0 * (1.0 - rho2)).sqrt()).abs() < 1e-12);
    // Its KL is -(1/2) ln(1 - rho^2), and moving away from it only adds.
    let at = gaussian_kl(&mean, &diagonal_covariance(&sd), &[1.0, 2.0], &cov).unwrap();
    assert!((at + 0.5 * (1.0 - rho2).ln()).abs() < 1e-12);
    assert!(gaussian_kl(&mean, &diagonal_covariance(&[sd[0] * 1.1, sd[1]]), &[1.0, 2.0], &cov).unwrap() > at);
    assert!(gaussian_kl(&[1.0], &diagonal_covariance(&[-1.0]), &[1.0], &diagonal_covariance(&[1.0])).is_ok(), "a negative sd squares");
    assert!(gaussian_kl(&[1.0], &[vec![0.0]], &[1.0], &[vec![1.0]]).is_err(), "a singular covariance is an error");
}

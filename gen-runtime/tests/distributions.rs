//! The distribution library: log densities against statrs and closed forms, sample moments
//! against theory, the unconstrained bijections, dual-number gradients against finite
//! differences, and parameter checks.
//!
//! Tolerances:
//! - log densities: 1e-9 relative (absolute below 1);
//! - sample moments: N = 20000 draws, draw i from its own stream `Key::new(seed).split(i)` (as
//!   the runtime draws one stream per choice), fixed seeds; means, variances and frequencies
//!   within 5 Monte Carlo standard errors, computed from the theoretical moments (the
//!   variance's from the excess kurtosis: se(s²) = σ² sqrt((κ + 2) / N));
//! - bijections: round trips to 1e-9, log-Jacobians to 1e-6 against central differences;
//! - gradients: relative 1e-6 (absolute below 1) against Richardson-extrapolated central
//!   differences, whose own error is below 1e-9 at the step sizes used.

use gen_runtime::distributions::*;
use gen_runtime::{Dual, Key, Real};
use proptest::prelude::*;
use statrs::distribution::{self as sd, Continuous, Discrete};
use std::f64::consts::PI;

/// Whether `got` is within `tol` of `want`, relatively for |want| > 1; equal infinities agree.
fn close(got: f64, want: f64, tol: f64) -> bool {
    got == want || (got - want).abs() <= tol * want.abs().max(1.0)
}

/// Log density agreement, as a proptest assertion.
fn agree(what: &str, got: f64, want: f64) -> Result<(), TestCaseError> {
    prop_assert!(close(got, want, 1e-9), "{what}: got {got}, want {want}");
    Ok(())
}

/// Both density paths of a continuous scalar distribution, checked against `want`.
fn scalar_agrees<D>(d: &D, x: f64, want: f64) -> Result<(), TestCaseError>
where
    D: Distribution<Real = f64, Value = f64, Data = f64>,
{
    agree(&format!("{} log_density_data({x})", D::NAME), d.log_density_data(&x), want)?;
    if d.in_support(&x) {
        agree(&format!("{} log_density({x})", D::NAME), d.log_density(&x), want)?;
    }
    Ok(())
}

/// ln|det A| of a square matrix (rows), by Gaussian elimination with partial pivoting.
fn log_abs_det(mut a: Vec<Vec<f64>>) -> f64 {
    let n = a.len();
    let mut log_det = 0.0;
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs())).unwrap();
        a.swap(col, pivot);
        let pivot_row = a[col].clone();
        let p = pivot_row[col];
        log_det += p.abs().ln();
        for row in &mut a[col + 1..] {
            let f = row[col] / p;
            for (x, y) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * y;
            }
        }
    }
    log_det
}

/// Solves A y = b by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = a.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs())).unwrap();
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col].clone();
        for row in col + 1..n {
            let f = a[row][col] / pivot_row[col];
            for (x, y) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * y;
            }
            b[row] -= f * b[col];
        }
    }
    let mut y = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|c| a[row][c] * y[c]).sum();
        y[row] = (b[row] - s) / a[row][row];
    }
    y
}

/// A k × k symmetric positive-definite matrix A Aᵀ + I / 2 from k² entries of A.
fn spd(entries: &[f64], k: usize) -> Vec<Vec<f64>> {
    (0..k)
        .map(|i| {
            (0..k)
                .map(|j| {
                    let dot: f64 = (0..k).map(|m| entries[i * k + m] * entries[j * k + m]).sum();
                    dot + if i == j { 0.5 } else { 0.0 }
                })
                .collect()
        })
        .collect()
}

mod log_density {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn half_normal_is_twice_the_normal_on_the_positive_half(sigma in 0.05..20.0f64, x in -5.0..40.0f64) {
            let want = if x < 0.0 {
                f64::NEG_INFINITY
            } else {
                2f64.ln() + sd::Normal::new(0.0, sigma).unwrap().ln_pdf(x)
            };
            scalar_agrees(&half_normal::<f64>(sigma), x, want)?;
        }

        #[test]
        fn lognormal_matches_statrs(mu in -3.0..3.0f64, sigma in 0.05..3.0f64, x in -1.0..50.0f64) {
            let want = if x <= 0.0 { f64::NEG_INFINITY } else { sd::LogNormal::new(mu, sigma).unwrap().ln_pdf(x) };
            scalar_agrees(&lognormal::<f64>(mu, sigma), x, want)?;
        }

        #[test]
        fn uniform_matches_statrs(a in -10.0..10.0f64, width in 0.01..20.0f64, u in -0.5..1.5f64) {
            let b = a + width;
            let x = a + u * width;
            scalar_agrees(&uniform::<f64>(a, b), x, sd::Uniform::new(a, b).unwrap().ln_pdf(x))?;
        }

        #[test]
        fn exponential_matches_statrs(rate in 0.01..20.0f64, x in -1.0..50.0f64) {
            scalar_agrees(&exponential::<f64>(rate), x, sd::Exp::new(rate).unwrap().ln_pdf(x))?;
        }

        #[test]
        fn gamma_matches_statrs_rate_parametrization(shape in 0.1..20.0f64, rate in 0.05..10.0f64, x in 0.001..50.0f64) {
            scalar_agrees(&gamma::<f64>(shape, rate), x, sd::Gamma::new(shape, rate).unwrap().ln_pdf(x))?;
            scalar_agrees(&gamma::<f64>(shape, rate), -x, f64::NEG_INFINITY)?;
        }

        #[test]
        fn inv_gamma_matches_statrs(shape in 0.1..20.0f64, scale in 0.05..10.0f64, x in 0.01..50.0f64) {
            // statrs names the scale "rate": its density is scale^shape / Γ(shape) x^(-shape-1) e^(-scale/x).
            let want = sd::InverseGamma::new(shape, scale).unwrap().ln_pdf(x);
            scalar_agrees(&inv_gamma::<f64>(shape, scale), x, want)?;
            scalar_agrees(&inv_gamma::<f64>(shape, scale), -x, f64::NEG_INFINITY)?;
        }

        #[test]
        fn beta_matches_statrs(alpha in 0.1..20.0f64, b in 0.1..20.0f64, x in 0.001..0.999f64) {
            scalar_agrees(&beta::<f64>(alpha, b), x, sd::Beta::new(alpha, b).unwrap().ln_pdf(x))?;
            scalar_agrees(&beta::<f64>(alpha, b), 1.0 + x, f64::NEG_INFINITY)?;
            scalar_agrees(&beta::<f64>(alpha, b), -x, f64::NEG_INFINITY)?;
        }

        #[test]
        fn student_t_matches_statrs(nu in 0.2..50.0f64, mu in -5.0..5.0f64, sigma in 0.05..10.0f64, x in -30.0..30.0f64) {
            let want = sd::StudentsT::new(mu, sigma, nu).unwrap().ln_pdf(x);
            scalar_agrees(&student_t::<f64>(nu, mu, sigma), x, want)?;
        }

        #[test]
        fn cauchy_matches_statrs(mu in -5.0..5.0f64, sigma in 0.05..10.0f64, x in -100.0..100.0f64) {
            scalar_agrees(&cauchy::<f64>(mu, sigma), x, sd::Cauchy::new(mu, sigma).unwrap().ln_pdf(x))?;
        }

        #[test]
        fn bernoulli_matches_statrs(p in 0.0..=1.0f64, x: bool) {
            let want = sd::Bernoulli::new(p).unwrap().ln_pmf(u64::from(x));
            agree("bernoulli", bernoulli::<f64>(p).log_density(&x), want)?;
            agree("bernoulli data", bernoulli::<f64>(p).log_density_data(&x), want)?;
        }

        #[test]
        fn binomial_matches_statrs(n in 0u64..200, p in 0.0..=1.0f64, k in 0u64..210) {
            let want = sd::Binomial::new(p, n).unwrap().ln_pmf(k);
            agree("binomial", binomial::<f64>(n, p).log_density(&k), want)?;
        }

        #[test]
        fn poisson_matches_statrs(rate in 0.01..500.0f64, k in 0u64..1000) {
            agree("poisson", poisson::<f64>(rate).log_density(&k), sd::Poisson::new(rate).unwrap().ln_pmf(k))?;
        }

        #[test]
        fn categorical_matches_statrs(weights in prop::collection::vec(0.01..10.0f64, 1..8), k in 0usize..10) {
            let total: f64 = weights.iter().sum();
            let probs: Vec<f64> = weights.iter().map(|w| w / total).collect();
            let want = sd::Categorical::new(&probs).unwrap().ln_pmf(k as u64);
            agree("categorical", categorical::<f64>(probs.clone()).log_density(&k), want)?;
            // Logits are log-weights up to a constant.
            let logits: Vec<f64> = weights.iter().map(|w| w.ln() + 3.0).collect();
            agree("categorical_logits", categorical_logits::<f64>(logits).log_density(&k), want)?;
        }

        #[test]
        fn dirichlet_matches_closed_form(alpha in prop::collection::vec(0.1..10.0f64, 2..6), w in prop::collection::vec(0.01..1.0f64, 6)) {
            let k = alpha.len();
            let total: f64 = w[..k].iter().sum();
            let x: Vec<f64> = w[..k].iter().map(|v| v / total).collect();
            let ln_gamma = statrs::function::gamma::ln_gamma;
            let want = ln_gamma(alpha.iter().sum())
                + alpha.iter().zip(&x).map(|(a, xi)| (a - 1.0) * xi.ln() - ln_gamma(*a)).sum::<f64>();
            let d = dirichlet::<f64>(alpha.clone());
            agree("dirichlet data", d.log_density_data(&x), want)?;
            agree("dirichlet", d.log_density(&x), want)?;
            if k == 2 {
                let b = sd::Beta::new(alpha[0], alpha[1]).unwrap().ln_pdf(x[0]);
                agree("dirichlet as beta", d.log_density_data(&x), b)?;
            }
        }

        #[test]
        fn mv_normal_diag_is_a_product_of_normals(
            mu in prop::collection::vec(-5.0..5.0f64, 4),
            sigma in prop::collection::vec(0.05..5.0f64, 4),
            x in prop::collection::vec(-10.0..10.0f64, 4),
        ) {
            let want: f64 = (0..4).map(|i| sd::Normal::new(mu[i], sigma[i]).unwrap().ln_pdf(x[i])).sum();
            let d = mv_normal_diag::<f64>(mu.clone(), sigma.clone());
            agree("mv_normal_diag data", d.log_density_data(&x), want)?;
            agree("mv_normal_diag", d.log_density(&x), want)?;
        }

        #[test]
        fn mv_normal_matches_closed_form(
            a in prop::collection::vec(-1.0..1.0f64, 9),
            mu in prop::collection::vec(-3.0..3.0f64, 3),
            x in prop::collection::vec(-5.0..5.0f64, 3),
        ) {
            let cov = spd(&a, 3);
            let d: Vec<f64> = x.iter().zip(&mu).map(|(x, m)| x - m).collect();
            let y = solve(cov.clone(), d.clone());
            let quad: f64 = d.iter().zip(&y).map(|(d, y)| d * y).sum();
            let want = -0.5 * quad - 0.5 * log_abs_det(cov.clone()) - 1.5 * (2.0 * PI).ln();
            let dist = mv_normal::<f64, _, _>(mu.clone(), &cov);
            agree("mv_normal data", dist.log_density_data(&x), want)?;
            agree("mv_normal", dist.log_density(&x), want)?;
            let factor = Cholesky::new(&cov).unwrap();
            agree("mv_normal log det", factor.log_det(), log_abs_det(cov.clone()))?;
            agree("mv_normal_cholesky", mv_normal_cholesky::<f64>(mu.clone(), factor).log_density_data(&x), want)?;
        }
    }

    #[test]
    fn discrete_edge_cases_are_exact() {
        assert_eq!(bernoulli::<f64>(0.0).log_density(&false), 0.0);
        assert_eq!(bernoulli::<f64>(0.0).log_density(&true), f64::NEG_INFINITY);
        assert_eq!(bernoulli::<f64>(1.0).log_density(&true), 0.0);
        assert_eq!(binomial::<f64>(5, 0.0).log_density(&0), 0.0);
        assert_eq!(binomial::<f64>(5, 1.0).log_density(&5), 0.0);
        assert_eq!(binomial::<f64>(5, 1.0).log_density(&4), f64::NEG_INFINITY);
        assert_eq!(binomial::<f64>(5, 0.3).log_density(&6), f64::NEG_INFINITY);
        assert_eq!(poisson::<f64>(2.0).log_density(&0), -2.0);
        assert_eq!(categorical::<f64>([0.5, 0.5]).log_density(&2), f64::NEG_INFINITY);
        assert_eq!(categorical::<f64>([0.0, 1.0]).log_density(&0), f64::NEG_INFINITY);
    }

    #[test]
    fn categorical_logits_do_not_overflow() {
        let d = categorical_logits::<f64>([800.0, 0.0, -5.0]);
        assert!(close(d.log_density(&0), 0.0, 1e-12));
        assert!(close(d.log_density(&1), -800.0, 1e-12));
        let d = categorical_logits::<f64>([0.0, 800.0]);
        assert!(close(d.log_density(&1), 0.0, 1e-12));
    }

    #[test]
    fn mv_normal_with_diagonal_covariance_is_mv_normal_diag() {
        let mu = [0.3, -1.0];
        let sigma = [0.5, 2.0];
        let cov = [[0.25, 0.0], [0.0, 4.0]];
        let x = vec![1.0, 0.5];
        let full = mv_normal::<f64, _, _>(mu, cov).log_density_data(&x);
        let diag = mv_normal_diag::<f64>(mu, sigma).log_density_data(&x);
        assert!(close(full, diag, 1e-12), "{full} vs {diag}");
    }

    #[test]
    fn vector_values_of_the_wrong_length_are_impossible() {
        assert_eq!(dirichlet::<f64>([1.0, 1.0]).log_density_data(&vec![1.0]), f64::NEG_INFINITY);
        assert_eq!(mv_normal_diag::<f64>([0.0], [1.0]).log_density(&vec![0.0, 0.0]), f64::NEG_INFINITY);
        assert_eq!(mv_normal::<f64, _, _>([0.0], [[1.0]]).log_density_data(&vec![]), f64::NEG_INFINITY);
    }
}

mod moments {
    use super::*;

    const N: usize = 20_000;

    /// N draws, draw i from the stream `Key::new(seed).split(i)`.
    fn draws<D: Distribution<Real = f64>>(d: &D, seed: u64) -> Vec<D::Data> {
        let key = Key::new(seed);
        (0..N as u64).map(|i| d.sample(&mut key.split(i).rng())).collect()
    }

    /// Asserts the sample mean and variance are within 5 standard errors of theory.
    fn assert_moments(what: &str, xs: &[f64], mean: f64, var: f64, excess_kurtosis: f64) {
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
        let se_mean = (var / n).sqrt();
        let se_var = var * ((excess_kurtosis + 2.0) / n).sqrt();
        assert!((m - mean).abs() < 5.0 * se_mean, "{what}: mean {m}, expected {mean} ± {se_mean}");
        assert!((v - var).abs() < 5.0 * se_var, "{what}: variance {v}, expected {var} ± {se_var}");
    }

    /// Asserts the frequency of an event is within 5 standard errors of `p`.
    fn assert_frequency(what: &str, hits: usize, p: f64) {
        let f = hits as f64 / N as f64;
        let se = (p * (1.0 - p) / N as f64).sqrt();
        assert!((f - p).abs() <= 5.0 * se, "{what}: frequency {f}, expected {p} ± {se}");
    }

    fn continuous<D: Distribution<Real = f64, Data = f64>>(d: &D, seed: u64, mean: f64, var: f64, kurt: f64) {
        let xs = draws(d, seed);
        assert!(xs.iter().all(|x| d.in_support(x)), "{} drew outside its support", D::NAME);
        assert_moments(D::NAME, &xs, mean, var, kurt);
    }

    fn beta_kurtosis(a: f64, b: f64) -> f64 {
        6.0 * ((a - b).powi(2) * (a + b + 1.0) - a * b * (a + b + 2.0)) / (a * b * (a + b + 2.0) * (a + b + 3.0))
    }

    #[test]
    fn continuous_scalars_have_their_moments() {
        let s: f64 = 1.7;
        continuous(&half_normal(s), 1, s * (2.0 / PI).sqrt(), s * s * (1.0 - 2.0 / PI), 8.0 * (PI - 3.0) / (PI - 2.0).powi(2));
        let (mu, sg): (f64, f64) = (0.3, 0.5);
        let s2 = sg * sg;
        continuous(
            &lognormal(mu, sg),
            2,
            (mu + s2 / 2.0).exp(),
            (s2.exp() - 1.0) * (2.0 * mu + s2).exp(),
            (4.0 * s2).exp() + 2.0 * (3.0 * s2).exp() + 3.0 * (2.0 * s2).exp() - 6.0,
        );
        continuous(&uniform(-2.0, 3.0), 3, 0.5, 25.0 / 12.0, -1.2);
        continuous(&exponential(2.5), 4, 0.4, 0.16, 6.0);
        // Rate parametrization: mean shape / rate.
        continuous(&gamma(3.0, 2.0), 5, 1.5, 0.75, 2.0);
        continuous(&gamma(0.4, 0.5), 6, 0.8, 1.6, 15.0);
        let (a, b) = (6.0, 2.0);
        continuous(
            &inv_gamma(a, b),
            7,
            b / (a - 1.0),
            b * b / ((a - 1.0f64).powi(2) * (a - 2.0)),
            6.0 * (5.0 * a - 11.0) / ((a - 3.0) * (a - 4.0)),
        );
        let (a, b) = (2.0, 5.0);
        continuous(&beta(a, b), 8, a / (a + b), a * b / ((a + b).powi(2) * (a + b + 1.0)), beta_kurtosis(a, b));
        let (a, b) = (0.3, 0.6);
        continuous(&beta(a, b), 9, a / (a + b), a * b / ((a + b).powi(2) * (a + b + 1.0)), beta_kurtosis(a, b));
        let nu = 7.0;
        continuous(&student_t(nu, -1.0, 2.0), 10, -1.0, 4.0 * nu / (nu - 2.0), 6.0 / (nu - 4.0));
    }

    #[test]
    fn cauchy_has_its_median_and_quartiles() {
        let xs = draws(&cauchy(1.0, 3.0), 11);
        for (q, p) in [(1.0 - 3.0, 0.25), (1.0, 0.5), (1.0 + 3.0, 0.75), (1.0 + 30.0, 0.5 + (10.0f64).atan() / PI)] {
            assert_frequency("cauchy quantile", xs.iter().filter(|&&x| x < q).count(), p);
        }
    }

    #[test]
    fn discrete_counts_have_their_moments() {
        let p = 0.3;
        let xs: Vec<f64> = draws(&bernoulli(p), 12).into_iter().map(|b| f64::from(u8::from(b))).collect();
        let v = p * (1.0 - p);
        assert_moments("bernoulli", &xs, p, v, (1.0 - 6.0 * v) / v);

        let (n, p) = (20u64, 0.35);
        let d = binomial(n, p);
        let ks = draws(&d, 13);
        assert!(ks.iter().all(|k| d.in_support(k)));
        let xs: Vec<f64> = ks.into_iter().map(|k| k as f64).collect();
        let v = p * (1.0 - p);
        assert_moments("binomial", &xs, n as f64 * p, n as f64 * v, (1.0 - 6.0 * v) / (n as f64 * v));

        for (seed, rate) in [(14, 3.5), (15, 40.0)] {
            let xs: Vec<f64> = draws(&poisson(rate), seed).into_iter().map(|k| k as f64).collect();
            assert_moments("poisson", &xs, rate, rate, 1.0 / rate);
        }
    }

    #[test]
    fn categorical_frequencies_match_probabilities() {
        let probs = [0.1, 0.0, 0.25, 0.65];
        for (name, d) in [
            ("probs", categorical(probs)),
            // Logits must be finite: -50 stands for the zero probability (e^-50 ≈ 2e-22).
            ("logits", categorical_logits(probs.map(|p: f64| if p > 0.0 { p.ln() - 2.0 } else { -50.0 }))),
        ] {
            let ks = draws(&d, 16);
            for (i, &p) in probs.iter().enumerate() {
                let hits = ks.iter().filter(|&&k| k == i).count();
                if p == 0.0 && name == "probs" {
                    assert_eq!(hits, 0, "a zero-probability category was drawn");
                } else {
                    assert_frequency(name, hits, p);
                }
            }
        }
    }

    #[test]
    fn dirichlet_marginals_are_betas() {
        for (seed, alpha) in [(17, vec![2.0, 3.0, 5.0]), (18, vec![0.2, 0.5, 1.5, 0.05])] {
            let d = dirichlet(alpha.clone());
            let xs = draws(&d, seed);
            assert!(xs.iter().all(|x| d.in_support(x)), "dirichlet drew outside the simplex");
            let total: f64 = alpha.iter().sum();
            for (i, &a) in alpha.iter().enumerate() {
                let b = total - a;
                let col: Vec<f64> = xs.iter().map(|x| x[i]).collect();
                let var = a * b / (total * total * (total + 1.0));
                assert_moments("dirichlet marginal", &col, a / total, var, beta_kurtosis(a, b));
            }
        }
    }

    #[test]
    fn mv_normals_have_their_means_and_covariances() {
        let xs = draws(&mv_normal_diag([1.0, -2.0], [0.5, 3.0]), 19);
        for (i, (m, s)) in [(1.0, 0.5), (-2.0, 3.0)].into_iter().enumerate() {
            let col: Vec<f64> = xs.iter().map(|x| x[i]).collect();
            assert_moments("mv_normal_diag", &col, m, s * s, 0.0);
        }

        let mu = [1.0, -1.0, 0.5];
        let cov = [[2.0, 0.6, -0.4], [0.6, 1.0, 0.3], [-0.4, 0.3, 0.5]];
        let xs = draws(&mv_normal(mu, cov), 20);
        let n = N as f64;
        for i in 0..3 {
            let col: Vec<f64> = xs.iter().map(|x| x[i]).collect();
            assert_moments("mv_normal", &col, mu[i], cov[i][i], 0.0);
            for j in 0..i {
                // Var((X - mu_x)(Y - mu_y)) = s_xx s_yy + s_xy² for a bivariate normal.
                let c: f64 = xs.iter().map(|x| (x[i] - mu[i]) * (x[j] - mu[j])).sum::<f64>() / n;
                let se = ((cov[i][i] * cov[j][j] + cov[i][j].powi(2)) / n).sqrt();
                assert!((c - cov[i][j]).abs() < 5.0 * se, "cov[{i}][{j}] = {c}, expected {} ± {se}", cov[i][j]);
            }
        }
    }

    #[test]
    fn samples_depend_only_on_the_key() {
        let d = gamma::<f64>(2.0, 1.0);
        let a = d.sample(&mut Key::new(5).split(9).rng());
        let b = d.sample(&mut Key::new(5).split(9).rng());
        let c = d.sample(&mut Key::new(5).split(10).rng());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}

mod bijections {
    use super::*;

    /// The constrained coordinates the Jacobian is square in: all of them, except the
    /// simplex's last entry (which is 1 minus the others).
    fn forward_square(support: Support, theta: &[f64]) -> (Vec<f64>, f64) {
        let mut out = Vec::new();
        let log_jac = support.forward(theta, &mut out);
        out.truncate(theta.len());
        (out, log_jac)
    }

    /// Checks forward then inverse returns `theta`, and the log-Jacobian against ln|det J| of
    /// a central-difference Jacobian.
    fn check_forward(support: Support, theta: &[f64]) -> Result<(), TestCaseError> {
        let mut x = Vec::new();
        let log_jac = support.forward(theta, &mut x);
        let mut back = Vec::new();
        support.inverse(&x, &mut back);
        prop_assert_eq!(back.len(), theta.len());
        for (t, b) in theta.iter().zip(&back) {
            prop_assert!(close(*b, *t, 1e-9), "{support:?}: theta {t} came back as {b}");
        }
        let m = theta.len();
        let h = 1e-6;
        let mut jac = vec![vec![0.0; m]; m];
        for j in 0..m {
            let mut plus = theta.to_vec();
            let mut minus = theta.to_vec();
            plus[j] += h;
            minus[j] -= h;
            let (xp, _) = forward_square(support, &plus);
            let (xm, _) = forward_square(support, &minus);
            for i in 0..m {
                jac[i][j] = (xp[i] - xm[i]) / (2.0 * h);
            }
        }
        let want = if m == 0 { 0.0 } else { log_abs_det(jac) };
        prop_assert!((log_jac - want).abs() < 1e-6, "{support:?} at {theta:?}: log|J| {log_jac}, finite differences {want}");
        Ok(())
    }

    /// Checks that inverse then forward returns a sample drawn with `key`.
    fn check_inverse<D: Distribution<Real = f64>>(d: &D, key: Key) -> Result<(), TestCaseError> {
        let x = d.sample(&mut key.rng());
        let mut flat = Vec::new();
        D::write_flat(&x, &mut flat);
        let support = d.support();
        let mut theta = Vec::new();
        support.inverse(&flat, &mut theta);
        prop_assert_eq!(theta.len(), support.unconstrained_dim(flat.len()));
        let mut back = Vec::new();
        support.forward(&theta, &mut back);
        prop_assert_eq!(back.len(), flat.len());
        for (a, b) in flat.iter().zip(&back) {
            prop_assert!(close(*b, *a, 1e-9), "{}: {a} came back as {b}", D::NAME);
        }
        // The flat form is the value, for the gradient paths.
        let value = d.value_from_flat(&back);
        prop_assert!(d.in_support(&D::lower(&value)));
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn scalar_maps_are_inverse_with_the_right_jacobian(t in -8.0..8.0f64) {
            for support in [Support::Real, Support::Positive, Support::Interval(-2.0, 3.0), Support::Interval(0.0, 1.0)] {
                check_forward(support, &[t])?;
            }
        }

        #[test]
        fn vector_maps_are_inverse_with_the_right_jacobian(theta in prop::collection::vec(-5.0..5.0f64, 0..6)) {
            check_forward(Support::RealVector, &theta)?;
            check_forward(Support::Simplex(theta.len() + 1), &theta)?;
        }

        #[test]
        fn samples_round_trip_through_unconstrained_space(seed: u64) {
            let key = Key::new(seed);
            check_inverse(&half_normal(2.0), key.split(0))?;
            check_inverse(&lognormal(0.0, 1.0), key.split(1))?;
            check_inverse(&uniform(-2.0, 3.0), key.split(2))?;
            check_inverse(&exponential(1.0), key.split(3))?;
            check_inverse(&gamma(2.0, 3.0), key.split(4))?;
            check_inverse(&inv_gamma(3.0, 2.0), key.split(5))?;
            check_inverse(&beta(2.0, 3.0), key.split(6))?;
            check_inverse(&student_t(4.0, 0.0, 1.0), key.split(7))?;
            check_inverse(&cauchy(0.0, 1.0), key.split(8))?;
            check_inverse(&dirichlet([1.0, 2.0, 0.5, 3.0]), key.split(9))?;
            check_inverse(&mv_normal_diag([0.0, 1.0], [1.0, 2.0]), key.split(10))?;
            check_inverse(&mv_normal([0.0, 1.0], [[1.0, 0.5], [0.5, 2.0]]), key.split(11))?;
        }
    }

    #[test]
    fn supports_and_flat_dims() {
        assert_eq!(half_normal::<f64>(1.0).support(), Support::Positive);
        assert_eq!(uniform::<f64>(-1.0, 2.0).support(), Support::Interval(-1.0, 2.0));
        assert_eq!(beta::<f64>(1.0, 1.0).support(), Support::Interval(0.0, 1.0));
        assert_eq!(student_t::<f64>(3.0, 0.0, 1.0).support(), Support::Real);
        assert_eq!(dirichlet::<f64>([1.0, 1.0, 1.0]).support(), Support::Simplex(3));
        assert_eq!(dirichlet::<f64>([1.0, 1.0, 1.0]).flat_dim(), Some(3));
        assert_eq!(mv_normal::<f64, _, _>([0.0, 0.0], [[1.0, 0.0], [0.0, 1.0]]).flat_dim(), Some(2));
        assert_eq!(bernoulli::<f64>(0.5).support(), Support::Boolean);
        assert_eq!(binomial::<f64>(4, 0.5).support(), Support::Range(5));
        assert_eq!(poisson::<f64>(1.0).support(), Support::Naturals);
        assert_eq!(categorical::<f64>([0.5, 0.5]).support(), Support::Range(2));
        assert_eq!(bernoulli::<f64>(0.5).flat_dim(), None);
        assert_eq!(poisson::<f64>(1.0).flat_dim(), None);
        assert!(half_normal::<f64>(1.0).in_support(&0.0));
        assert!(!half_normal::<f64>(1.0).in_support(&-1e-300));
        assert!(!gamma::<f64>(2.0, 1.0).in_support(&0.0));
        assert!(uniform::<f64>(0.0, 1.0).in_support(&1.0));
        assert!(!uniform::<f64>(0.0, 1.0).in_support(&1.000_001));
        assert!(!dirichlet::<f64>([1.0, 1.0]).in_support(&vec![0.5, 0.6]));
        assert!(!binomial::<f64>(3, 0.5).in_support(&4));
        assert!(!categorical::<f64>([1.0]).in_support(&1));
    }
}

mod gradients {
    use super::*;

    /// Inputs per gradient pass: enough for every case below.
    const K: usize = 8;

    /// Compares the dual-number gradient of `dual_f` at `point` with Richardson-extrapolated
    /// central differences of `f` (error O(h⁴)), to relative 1e-6. The step is 1e-4 of the
    /// coordinate: small enough for points near a pole (Beta's x near 1), large enough that
    /// rounding stays below 1e-10.
    fn gradient_agrees(what: &str, point: &[f64], dual_f: fn(&[Dual<K>]) -> Dual<K>, f: fn(&[f64]) -> f64) -> Result<(), TestCaseError> {
        let duals: Vec<Dual<K>> = point.iter().enumerate().map(|(i, &x)| Dual::variable(x, i)).collect();
        let d = dual_f(&duals);
        let value = f(point);
        prop_assert!(close(d.re, value, 1e-12), "{what}: dual value {} vs f64 {value}", d.re);
        for i in 0..point.len() {
            let h = 1e-4 * point[i].abs().max(0.1);
            let at = |dx: f64| {
                let mut p = point.to_vec();
                p[i] += dx;
                f(&p)
            };
            let fd = (8.0 * (at(h) - at(-h)) - (at(2.0 * h) - at(-2.0 * h))) / (12.0 * h);
            prop_assert!(close(d.eps[i], fd, 1e-6), "{what}: d/dx{i} at {point:?} is {} by duals, {fd} by finite differences", d.eps[i]);
        }
        for (i, e) in d.eps.iter().enumerate().skip(point.len()) {
            prop_assert_eq!(*e, 0.0, "{}: derivative along unused direction {}", what, i);
        }
        Ok(())
    }

    /// Checks `$body`, a function of the inputs `$v: &[R]`, at `$point`.
    macro_rules! check_gradient {
        ($point:expr, |$v:ident| $body:expr) => {{
            fn f<R: Real>($v: &[R]) -> R {
                $body
            }
            gradient_agrees(stringify!($body), &$point, f::<Dual<K>>, f::<f64>)
        }};
    }

    /// The observation path (`log_density_data`, an `f64` value) must give the same value
    /// and parameter gradient as lifting the observation first.
    fn data_path_agrees<D: Distribution<Real = Dual<K>>>(d: &D, x: &D::Data) -> Result<(), TestCaseError> {
        let cheap = d.log_density_data(x);
        let lifted = d.log_density(&d.lift(x));
        prop_assert!(close(cheap.re, lifted.re, 1e-12), "{}: {} vs {}", D::NAME, cheap.re, lifted.re);
        for (a, b) in cheap.eps.iter().zip(&lifted.eps) {
            prop_assert!(close(*a, *b, 1e-10), "{}: gradient {:?} vs {:?}", D::NAME, cheap.eps, lifted.eps);
        }
        Ok(())
    }

    fn var(x: f64, i: usize) -> Dual<K> {
        Dual::variable(x, i)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn normal_gradient(mu in -3.0..3.0f64, sigma in 0.2..3.0f64, x in -5.0..5.0f64) {
            check_gradient!([mu, sigma, x], |v| normal(v[0], v[1]).log_density(&v[2]))?;
            data_path_agrees(&normal(var(mu, 0), var(sigma, 1)), &x)?;
        }

        #[test]
        fn half_normal_gradient(sigma in 0.2..3.0f64, x in 0.01..5.0f64) {
            check_gradient!([sigma, x], |v| half_normal(v[0]).log_density(&v[1]))?;
            data_path_agrees(&half_normal(var(sigma, 0)), &x)?;
        }

        #[test]
        fn lognormal_gradient(mu in -2.0..2.0f64, sigma in 0.2..2.0f64, x in 0.05..10.0f64) {
            check_gradient!([mu, sigma, x], |v| lognormal(v[0], v[1]).log_density(&v[2]))?;
            data_path_agrees(&lognormal(var(mu, 0), var(sigma, 1)), &x)?;
        }

        #[test]
        fn uniform_gradient_in_the_value_is_zero(x in -1.9..2.9f64) {
            check_gradient!([x], |v| uniform(-2.0, 3.0).log_density(&v[0]))?;
            data_path_agrees(&uniform(-2.0, 3.0), &x)?;
        }

        #[test]
        fn exponential_gradient(rate in 0.1..5.0f64, x in 0.01..10.0f64) {
            check_gradient!([rate, x], |v| exponential(v[0]).log_density(&v[1]))?;
            data_path_agrees(&exponential(var(rate, 0)), &x)?;
        }

        #[test]
        fn gamma_gradient(shape in 0.2..10.0f64, rate in 0.1..5.0f64, x in 0.05..10.0f64) {
            check_gradient!([shape, rate, x], |v| gamma(v[0], v[1]).log_density(&v[2]))?;
            data_path_agrees(&gamma(var(shape, 0), var(rate, 1)), &x)?;
        }

        #[test]
        fn inv_gamma_gradient(shape in 0.2..10.0f64, scale in 0.1..5.0f64, x in 0.05..10.0f64) {
            check_gradient!([shape, scale, x], |v| inv_gamma(v[0], v[1]).log_density(&v[2]))?;
            data_path_agrees(&inv_gamma(var(shape, 0), var(scale, 1)), &x)?;
        }

        #[test]
        fn beta_gradient(a in 0.2..10.0f64, b in 0.2..10.0f64, x in 0.02..0.98f64) {
            check_gradient!([a, b, x], |v| beta(v[0], v[1]).log_density(&v[2]))?;
            data_path_agrees(&beta(var(a, 0), var(b, 1)), &x)?;
        }

        #[test]
        fn student_t_gradient(nu in 0.5..30.0f64, mu in -3.0..3.0f64, sigma in 0.2..3.0f64, x in -8.0..8.0f64) {
            check_gradient!([nu, mu, sigma, x], |v| student_t(v[0], v[1], v[2]).log_density(&v[3]))?;
            data_path_agrees(&student_t(var(nu, 0), var(mu, 1), var(sigma, 2)), &x)?;
        }

        #[test]
        fn cauchy_gradient(mu in -3.0..3.0f64, sigma in 0.2..3.0f64, x in -8.0..8.0f64) {
            check_gradient!([mu, sigma, x], |v| cauchy(v[0], v[1]).log_density(&v[2]))?;
            data_path_agrees(&cauchy(var(mu, 0), var(sigma, 1)), &x)?;
        }

        #[test]
        fn dirichlet_gradient(alpha in prop::collection::vec(0.3..5.0f64, 3), w in prop::collection::vec(0.1..1.0f64, 3)) {
            let total: f64 = w.iter().sum();
            let x: Vec<f64> = w.iter().map(|v| v / total).collect();
            let point = [alpha[0], alpha[1], alpha[2], x[0], x[1], x[2]];
            check_gradient!(point, |v| dirichlet(&v[..3]).log_density(&v[3..].to_vec()))?;
            data_path_agrees(&dirichlet([var(alpha[0], 0), var(alpha[1], 1), var(alpha[2], 2)]), &x)?;
        }

        #[test]
        fn mv_normal_diag_gradient(p in prop::collection::vec(-2.0..2.0f64, 6), s in prop::collection::vec(0.3..3.0f64, 2)) {
            let point = [p[0], p[1], s[0], s[1], p[2], p[3]];
            check_gradient!(point, |v| mv_normal_diag(&v[..2], &v[2..4]).log_density(&v[4..].to_vec()))?;
            let d = mv_normal_diag([var(p[0], 0), var(p[1], 1)], [var(s[0], 2), var(s[1], 3)]);
            data_path_agrees(&d, &vec![p[4], p[5]])?;
        }

        #[test]
        fn mv_normal_gradient(mu in prop::collection::vec(-2.0..2.0f64, 3), x in prop::collection::vec(-3.0..3.0f64, 3)) {
            let point = [mu[0], mu[1], mu[2], x[0], x[1], x[2]];
            check_gradient!(point, |v| {
                let cov = [[2.0, 0.6, -0.4], [0.6, 1.0, 0.3], [-0.4, 0.3, 0.5]];
                mv_normal(&v[..3], cov).log_density(&v[3..].to_vec())
            })?;
            let cov = [[2.0, 0.6, -0.4], [0.6, 1.0, 0.3], [-0.4, 0.3, 0.5]];
            data_path_agrees(&mv_normal([var(mu[0], 0), var(mu[1], 1), var(mu[2], 2)], cov), &x)?;
        }

        // Discrete values, differentiable parameters: the Beta-Bernoulli and count models
        // differentiate these.
        #[test]
        fn discrete_parameter_gradients(p in 0.05..0.95f64, rate in 0.1..20.0f64, l in prop::collection::vec(-3.0..3.0f64, 3)) {
            check_gradient!([p], |v| bernoulli::<R>(v[0]).log_density(&true) + bernoulli::<R>(v[0]).log_density(&false))?;
            check_gradient!([p], |v| binomial(12, v[0]).log_density(&5))?;
            check_gradient!([rate], |v| poisson(v[0]).log_density(&7))?;
            check_gradient!([p], |v| categorical([v[0], R::cst(1.0) - v[0]]).log_density(&1))?;
            check_gradient!([l[0], l[1], l[2]], |v| categorical_logits(&v[..3]).log_density(&2))?;
        }
    }

    #[test]
    fn constant_vector_parameters_work_for_any_real() {
        // A #[gen] body is compiled for f64 and for duals; f64 constants must fit both.
        let d = dirichlet::<Dual<2>>(vec![1.0, 2.0]);
        let lp = d.log_density(&vec![Dual::variable(0.3, 0), Dual::variable(0.7, 1)]);
        assert!(close(lp.eps[1], 1.0 / 0.7, 1e-12));
        let c = categorical::<Dual<2>>([0.25, 0.75]);
        assert!(close(c.log_density(&1).re, 0.75f64.ln(), 1e-12));
        let m = mv_normal_diag::<Dual<2>>(&[0.0, 0.0], &vec![1.0, 1.0]);
        assert_eq!(m.flat_dim(), Some(2));
    }
}

mod check {
    use super::*;

    /// Asserts that `check` fails naming `parameter`.
    fn rejects<D: Distribution<Real = f64>>(d: D, parameter: &str) {
        match d.check() {
            Err(e) => assert_eq!(e.parameter, parameter, "{} named {} ({})", D::NAME, e.parameter, e.requirement),
            Ok(()) => panic!("{} accepted a bad {parameter}", D::NAME),
        }
    }

    #[test]
    fn bad_parameters_are_named() {
        rejects(half_normal(0.0), "sigma");
        rejects(half_normal(-1.0), "sigma");
        rejects(lognormal(f64::NAN, 1.0), "mu");
        rejects(lognormal(0.0, -2.0), "sigma");
        rejects(uniform(f64::NEG_INFINITY, 1.0), "a");
        rejects(uniform(0.0, f64::INFINITY), "b");
        rejects(uniform(1.0, 1.0), "b");
        rejects(uniform(2.0, 1.0), "b");
        rejects(exponential(0.0), "rate");
        rejects(gamma(0.0, 1.0), "shape");
        rejects(gamma(1.0, -1.0), "rate");
        rejects(inv_gamma(-1.0, 1.0), "shape");
        rejects(inv_gamma(1.0, 0.0), "scale");
        rejects(beta(0.0, 1.0), "alpha");
        rejects(beta(1.0, f64::NAN), "beta");
        rejects(student_t(0.0, 0.0, 1.0), "nu");
        rejects(student_t(1.0, f64::INFINITY, 1.0), "mu");
        rejects(student_t(1.0, 0.0, 0.0), "sigma");
        rejects(cauchy(0.0, -1.0), "sigma");
        rejects(bernoulli(1.5), "p");
        rejects(bernoulli(-0.1), "p");
        rejects(bernoulli(f64::NAN), "p");
        rejects(binomial(10, 2.0), "p");
        rejects(poisson(0.0), "rate");
        rejects(poisson(f64::INFINITY), "rate");
        rejects(categorical([0.5, 0.6]), "probs");
        rejects(categorical([-0.1, 1.1]), "probs");
        rejects(categorical(Vec::<f64>::new()), "probs");
        rejects(categorical_logits([f64::INFINITY, 0.0]), "logits");
        rejects(categorical_logits([f64::NEG_INFINITY, 0.0]), "logits");
        rejects(dirichlet([1.0, 0.0]), "alpha");
        rejects(dirichlet(Vec::<f64>::new()), "alpha");
        rejects(mv_normal_diag([0.0, 0.0], [1.0, 0.0]), "sigma");
        rejects(mv_normal_diag([0.0, 0.0], [1.0]), "sigma");
        rejects(mv_normal_diag([f64::NAN], [1.0]), "mu");
        rejects(mv_normal([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]]), "cov");
        rejects(mv_normal([0.0, 0.0], [[1.0, 0.5], [0.4, 1.0]]), "cov");
        rejects(mv_normal([0.0, 0.0], [[1.0]]), "cov");
        rejects(mv_normal([0.0], vec![vec![1.0, 0.0]]), "cov");
        rejects(mv_normal([f64::NAN], [[1.0]]), "mu");
    }

    #[test]
    fn the_reported_value_is_the_bad_one() {
        let e = gamma::<f64>(2.0, -3.5).check().unwrap_err();
        assert_eq!((e.parameter, e.value), ("rate", -3.5));
        let e = categorical::<f64>([0.5, 0.6]).check().unwrap_err();
        assert!((e.value - 1.1).abs() < 1e-12, "the sum is reported: {}", e.value);
    }

    #[test]
    fn good_parameters_pass() {
        half_normal::<f64>(1.0).check().unwrap();
        lognormal::<f64>(0.0, 1.0).check().unwrap();
        uniform::<f64>(-1.0, 1.0).check().unwrap();
        exponential::<f64>(1.0).check().unwrap();
        gamma::<f64>(0.5, 2.0).check().unwrap();
        inv_gamma::<f64>(0.5, 2.0).check().unwrap();
        beta::<f64>(0.5, 2.0).check().unwrap();
        student_t::<f64>(0.5, 0.0, 2.0).check().unwrap();
        cauchy::<f64>(0.0, 2.0).check().unwrap();
        bernoulli::<f64>(0.0).check().unwrap();
        bernoulli::<f64>(1.0).check().unwrap();
        binomial::<f64>(0, 0.5).check().unwrap();
        poisson::<f64>(1e6).check().unwrap();
        categorical::<f64>([0.1, 0.2, 0.7]).check().unwrap();
        categorical_logits::<f64>([-1.0, 3.0]).check().unwrap();
        dirichlet::<f64>([0.1, 5.0]).check().unwrap();
        mv_normal_diag::<f64>([0.0], [1.0]).check().unwrap();
        mv_normal::<f64, _, _>([0.0, 0.0], [[1.0, 0.999], [0.999, 1.0]]).check().unwrap();
    }

    #[test]
    #[should_panic(expected = "parameter shape = -1 is invalid")]
    fn sampling_with_bad_parameters_names_the_parameter() {
        gamma::<f64>(-1.0, 1.0).sample(&mut Key::new(0).rng());
    }
}

//! The runnable examples under `examples/`, checked against exact answers.
//!
//! Each example file is compiled into this test as a module (`#[path]`), and the tests call
//! the functions its `main` calls with the same seeds, so what is checked is exactly what
//! `cargo run --example NAME` prints. The references are computed here, independently of the
//! library's inference: midpoint-rule quadrature on a grid for the continuous posteriors
//! (with the discrete assignments of the mixture summed out point by point, that is,
//! enumerated), and the forward algorithm for the HMM.
//!
//! Tolerances: posterior means within 4 MCSE (`diagnostics::mcse_mean`, autocorrelation
//! included), at fixed seeds. The quadrature error is far below that: the grids put 10 or
//! more cells across each posterior sd, where the midpoint rule on a smooth integrand that
//! vanishes at the box's edges converges fast; measured, halving the cells moves no
//! posterior mean or sd by more than 2e-5 (eight schools), 3e-6 (logistic regression) and
//! 1e-9 (mixture), under 1% of the MCSEs they are compared with. Where a test departs from
//! 4 MCSE (the centred funnel, rare assignments, the particle filter) it says why.

use gen_runtime::diagnostics::{mcse_mean, Summary};
use gen_runtime::inference::Draws;

#[allow(dead_code)]
#[path = "../examples/eight_schools_centered.rs"]
mod eight_schools_centered;
#[allow(dead_code)]
#[path = "../examples/eight_schools_noncentered.rs"]
mod eight_schools_noncentered;
#[allow(dead_code)]
#[path = "../examples/hmm.rs"]
mod hmm;
#[allow(dead_code)]
#[path = "../examples/logistic_regression.rs"]
mod logistic_regression;
#[allow(dead_code)]
#[path = "../examples/mixture.rs"]
mod mixture;

// ---------------------------------------------------------------------------------------
// Quadrature
// ---------------------------------------------------------------------------------------

/// A function of a point of a D-dimensional grid, whose posterior expectation is wanted.
type Integrand<const D: usize> = dyn Fn(&[f64; D]) -> f64;

/// Posterior expectations by the midpoint rule on a `cells`^D grid over the box `[lo, hi]`:
/// `E[f_k(x)]` for each `f_k` in `fs`, under the unnormalized log density `log_p`.
fn expectations<const D: usize>(
    lo: [f64; D],
    hi: [f64; D],
    cells: usize,
    log_p: impl Fn(&[f64; D]) -> f64,
    fs: &[&Integrand<D>],
) -> Vec<f64> {
    let total = cells.pow(D as u32);
    let point = |mut index: usize| {
        let mut x = [0.0; D];
        for d in 0..D {
            x[d] = lo[d] + (hi[d] - lo[d]) * ((index % cells) as f64 + 0.5) / cells as f64;
            index /= cells;
        }
        x
    };
    let log_ps: Vec<f64> = (0..total).map(|i| log_p(&point(i))).collect();
    let max = log_ps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (mut norm, mut sums) = (0.0, vec![0.0; fs.len()]);
    for (i, lp) in log_ps.iter().enumerate() {
        let w = (lp - max).exp();
        if w == 0.0 {
            continue;
        }
        let x = point(i);
        norm += w;
        for (s, f) in sums.iter_mut().zip(fs) {
            *s += w * f(&x);
        }
    }
    sums.iter().map(|s| s / norm).collect()
}

/// Posterior means and sds of the coordinates: a coarse pass over `[lo, hi]` finds where the
/// mass is, then a fine pass covers mean ± 8 sd (clipped to the box, which is the support).
fn moments<const D: usize>(lo: [f64; D], hi: [f64; D], log_p: impl Fn(&[f64; D]) -> f64 + Copy) -> ([f64; D], [f64; D]) {
    let pass = |lo: [f64; D], hi: [f64; D], cells: usize| {
        let firsts: Vec<Box<Integrand<D>>> = (0..D).map(|d| Box::new(move |x: &[f64; D]| x[d]) as Box<Integrand<D>>).collect();
        let seconds: Vec<Box<Integrand<D>>> = (0..D).map(|d| Box::new(move |x: &[f64; D]| x[d] * x[d]) as Box<Integrand<D>>).collect();
        let fs: Vec<&Integrand<D>> = firsts.iter().chain(&seconds).map(|f| f.as_ref()).collect();
        let e = expectations(lo, hi, cells, log_p, &fs);
        (std::array::from_fn(|d| e[d]), std::array::from_fn(|d| (e[D + d] - e[d] * e[d]).max(0.0).sqrt()))
    };
    let (mean, sd): ([f64; D], [f64; D]) = pass(lo, hi, 60);
    let fine_lo = std::array::from_fn(|d| (mean[d] - 8.0 * sd[d]).max(lo[d]));
    let fine_hi = std::array::from_fn(|d| (mean[d] + 8.0 * sd[d]).min(hi[d]));
    pass(fine_lo, fine_hi, 80)
}

fn ln_normal(x: f64, mu: f64, sigma: f64) -> f64 {
    -0.5 * ((x - mu) / sigma).powi(2) - sigma.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
}

/// Asserts that the draws' mean is within 4 MCSE of `exact`.
fn assert_mean(chains: &[Vec<f64>], exact: f64, what: &str) {
    let mean = chains.iter().flatten().sum::<f64>() / chains.iter().map(Vec::len).sum::<usize>() as f64;
    let mcse = mcse_mean(chains).unwrap();
    assert!((mean - exact).abs() < 4.0 * mcse, "{what}: mean {mean:.4} vs exact {exact:.4} (MCSE {mcse:.4})");
}

fn assert_draws(draws: &Draws, exact: f64, what: &str) {
    assert_mean(&draws.chains, exact, what);
}

// ---------------------------------------------------------------------------------------
// Eight schools
// ---------------------------------------------------------------------------------------

/// Exact posterior means of mu, tau and theta_j, and sds of mu and tau. theta is integrated
/// out analytically (y_j | mu, tau ~ Normal(mu, sqrt(sigma_j² + tau²))), leaving a 2-D
/// integral over (mu, tau); E[theta_j | mu, tau, y] is the precision-weighted mean of y_j and
/// mu. The grid covers mu in [-40, 50] and tau in (0, 40]: the HalfNormal(5) prior puts less
/// than 1e-15 beyond tau = 40, and mu's posterior sd is about 3.3.
struct SchoolsReference {
    mu: (f64, f64),
    tau: (f64, f64),
    theta: Vec<f64>,
}

fn schools_reference() -> SchoolsReference {
    use eight_schools_centered::{SIGMA, Y};
    let log_p = |x: &[f64; 2]| {
        let (mu, tau) = (x[0], x[1]);
        let prior = ln_normal(mu, 0.0, 5.0) + ln_normal(tau, 0.0, 5.0);
        prior + Y.iter().zip(&SIGMA).map(|(y, s)| ln_normal(*y, mu, (s * s + tau * tau).sqrt())).sum::<f64>()
    };
    let mu = |x: &[f64; 2]| x[0];
    let tau = |x: &[f64; 2]| x[1];
    let mu2 = |x: &[f64; 2]| x[0] * x[0];
    let tau2 = |x: &[f64; 2]| x[1] * x[1];
    let thetas: Vec<Box<Integrand<2>>> = (0..8)
        .map(|j| {
            Box::new(move |x: &[f64; 2]| {
                let (s2, t2) = (SIGMA[j] * SIGMA[j], x[1] * x[1]);
                (Y[j] * t2 + x[0] * s2) / (t2 + s2)
            }) as Box<Integrand<2>>
        })
        .collect();
    let mut fs: Vec<&Integrand<2>> = vec![&mu, &tau, &mu2, &tau2];
    fs.extend(thetas.iter().map(|f| f.as_ref()));
    let e = expectations([-40.0, 0.0], [50.0, 40.0], 1500, log_p, &fs);
    SchoolsReference { mu: (e[0], (e[2] - e[0] * e[0]).sqrt()), tau: (e[1], (e[3] - e[1] * e[1]).sqrt()), theta: e[4..].to_vec() }
}

#[test]
fn eight_schools_noncentered_matches_quadrature() {
    let exact = schools_reference();
    let posterior = eight_schools_noncentered::run().unwrap();
    // The reparameterization removes the funnel: no divergences, chains that agree.
    assert_eq!(posterior.divergences(), 0, "{posterior}");
    let summary = posterior.summary().unwrap();
    assert!(summary.rows.iter().all(|r| r.r_hat < 1.01 && r.ess_bulk > 400.0), "{summary}");
    let (mu, tau) = (posterior.get("mu").unwrap(), posterior.get("tau").unwrap());
    assert_draws(&mu, exact.mu.0, "mu");
    assert_draws(&tau, exact.tau.0, "tau");
    // sds within 10%: with bulk ESS above 400 an sd's relative Monte Carlo error is a few
    // percent (tau's skew makes it the widest, about 4% at ESS 1000).
    assert!((mu.sd() / exact.mu.1 - 1.0).abs() < 0.1, "mu sd {} vs {}", mu.sd(), exact.mu.1);
    assert!((tau.sd() / exact.tau.1 - 1.0).abs() < 0.1, "tau sd {} vs {}", tau.sd(), exact.tau.1);
    // The derived school effects, exactly as the example computes and prints them.
    let mut effects = Summary::new();
    for (j, exact_theta) in exact.theta.iter().enumerate() {
        let theta = eight_schools_noncentered::theta(&posterior, j).unwrap();
        assert_mean(&theta.chains, *exact_theta, &format!("theta[{j}]"));
        effects.push(format!("theta[{j}]"), &theta.chains).unwrap();
    }
    assert_eq!(effects.rows.len(), 8);
}

/// The centred model's funnel: NUTS cannot enter the neck at small tau with one step size,
/// so it diverges there and the chains over-represent large tau. Its MCSE then measures
/// noise but not its error, which is mostly bias, so a 4-MCSE test would fail for the right
/// reason. Measured over seeds 1 to 8 and this example's: 72 to 434 divergences; tau's mean
/// 3.14 to 3.89 against the exact 3.29 (posterior sd 2.49), mostly high; mu's mean off by up
/// to 0.92 (posterior sd 3.28; one seed has a chain stuck in the neck); theta_1's by up to
/// 0.89. So this test checks what the example claims, not more: it reports divergences, and
/// its answers are in the right region (mu and every theta within 1.5, tau within 1.25, half
/// its posterior sd). The non-centred run above is the one checked to 4 MCSE.
#[test]
fn eight_schools_centered_reports_its_funnel() {
    let exact = schools_reference();
    let posterior = eight_schools_centered::run().unwrap();
    assert!(posterior.divergences() > 0, "the centred funnel should show divergences\n{posterior}");
    let (mu, tau) = (posterior.mean("mu").unwrap(), posterior.mean("tau").unwrap());
    assert!((mu - exact.mu.0).abs() < 1.5, "mu mean {mu} vs exact {}", exact.mu.0);
    assert!((tau - exact.tau.0).abs() < 1.25, "tau mean {tau} vs exact {}", exact.tau.0);
    for (j, exact_theta) in exact.theta.iter().enumerate() {
        let theta = posterior.mean(("theta", j)).unwrap();
        assert!((theta - exact_theta).abs() < 1.5, "theta[{j}] mean {theta} vs exact {exact_theta}");
    }
    // What ArviZ will read: theta.1 .. theta.8 after mu and tau.
    let names: Vec<String> = posterior.columns().iter().map(|c| c.cmdstan_name()).collect();
    assert_eq!(names[..3], ["mu", "tau", "theta.1"]);
    assert_eq!(names.last().map(String::as_str), Some("theta.8"));
}

// ---------------------------------------------------------------------------------------
// Logistic regression
// ---------------------------------------------------------------------------------------

#[test]
fn logistic_regression_matches_quadrature() {
    use logistic_regression::DATA;
    // ln sigmoid(e) = -softplus(-e), computed without overflow.
    let ln_sigmoid = |e: f64| if e > 0.0 { -(-e).exp().ln_1p() } else { e - e.exp().ln_1p() };
    let log_p = |b: &[f64; 3]| {
        let prior: f64 = b.iter().map(|x| ln_normal(*x, 0.0, 2.5)).sum();
        prior
            + DATA
                .iter()
                .map(|&(x1, x2, y)| {
                    let eta = b[0] + b[1] * x1 + b[2] * x2;
                    if y {
                        ln_sigmoid(eta)
                    } else {
                        ln_sigmoid(-eta)
                    }
                })
                .sum::<f64>()
    };
    let (mean, sd) = moments([-8.0; 3], [8.0; 3], log_p);
    let posterior = logistic_regression::run().unwrap();
    assert_eq!(posterior.divergences(), 0);
    for (k, name) in ["alpha", "beta[0]", "beta[1]"].iter().enumerate() {
        let draws = match k {
            0 => posterior.get("alpha").unwrap(),
            _ => posterior.element("beta", k - 1).unwrap(),
        };
        assert_draws(&draws, mean[k], name);
        assert!((draws.sd() / sd[k] - 1.0).abs() < 0.1, "{name} sd {} vs {}", draws.sd(), sd[k]);
    }
    // The example's prediction for x = (1, -1), draw by draw, against its quadrature.
    let x = [1.0, -1.0];
    let predicted = move |b: &[f64; 3]| 1.0 / (1.0 + (-(b[0] + b[1] * x[0] + b[2] * x[1])).exp());
    let lo = std::array::from_fn(|d| mean[d] - 8.0 * sd[d]);
    let hi = std::array::from_fn(|d| mean[d] + 8.0 * sd[d]);
    let exact = expectations(lo, hi, 80, log_p, &[&predicted])[0];
    let p = logistic_regression::predict(&posterior, x).unwrap();
    let per_chain: Vec<Vec<f64>> = p.chunks(posterior.num_draws()).map(<[f64]>::to_vec).collect();
    assert_mean(&per_chain, exact, "P(y = 1 | x = (1, -1))");
}

// ---------------------------------------------------------------------------------------
// Mixture
// ---------------------------------------------------------------------------------------

/// The mixture's exact posterior over (weight, mu_lo, gap): the assignments enumerated point
/// by point (each y_i's likelihood is the sum over z_i of p(z_i) p(y_i | z_i)), the rest by
/// quadrature. Returns the means of the three latents and P(z_i = upper | data) per point.
fn mixture_reference() -> ([f64; 3], Vec<f64>) {
    use mixture::{SIGMA, YS};
    let ln_beta22 = |w: f64| (6.0 * w * (1.0 - w)).ln();
    let ln_half_normal = |g: f64| ln_normal(g, 0.0, 5.0) + 2f64.ln();
    let log_p = |x: &[f64; 3]| {
        let (w, mu_lo, gap) = (x[0], x[1], x[2]);
        let prior = ln_beta22(w) + ln_normal(mu_lo, 0.0, 5.0) + ln_half_normal(gap);
        prior
            + YS.iter()
                .map(|&y| {
                    let joint = [(1.0 - w) * ln_normal(y, mu_lo, SIGMA).exp(), w * ln_normal(y, mu_lo + gap, SIGMA).exp()];
                    (joint[0] + joint[1]).ln()
                })
                .sum::<f64>()
    };
    let (lo, hi) = ([0.0, -20.0, 0.0], [1.0, 20.0, 30.0]);
    let (mean, sd) = moments(lo, hi, log_p);
    let fine_lo = std::array::from_fn(|d| (mean[d] - 8.0 * sd[d]).max(lo[d]));
    let fine_hi = std::array::from_fn(|d| (mean[d] + 8.0 * sd[d]).min(hi[d]));
    let upper: Vec<Box<Integrand<3>>> = YS
        .iter()
        .map(|&y| {
            Box::new(move |x: &[f64; 3]| {
                let lo = (1.0 - x[0]) * ln_normal(y, x[1], SIGMA).exp();
                let hi = x[0] * ln_normal(y, x[1] + x[2], SIGMA).exp();
                hi / (lo + hi)
            }) as Box<Integrand<3>>
        })
        .collect();
    let fs: Vec<&Integrand<3>> = upper.iter().map(|f| f.as_ref()).collect();
    (mean, expectations(fine_lo, fine_hi, 80, log_p, &fs))
}

#[test]
fn the_user_defined_mixture_distribution_sums_its_components() {
    use gen_runtime::distributions::Distribution;
    let d = mixture::normal_mixture(0.3, -1.0, 2.0, 1.5);
    for y in [-4.0, -1.0, 0.5, 2.0, 30.0] {
        let direct = (0.7 * ln_normal(y, -1.0, 1.5).exp() + 0.3 * ln_normal(y, 2.0, 1.5).exp()).ln();
        assert!((d.log_density(&y) - direct).abs() < 1e-12, "y = {y}: {} vs {direct}", d.log_density(&y));
    }
    // Far in the tail the direct sum underflows to ln 0; the log-sum-exp form does not.
    assert!(d.log_density(&-200.0).is_finite());
}

#[test]
fn mixture_marginalized_nuts_matches_enumeration_and_quadrature() {
    let (exact, upper) = mixture_reference();
    let posterior = mixture::run_marginalized().unwrap();
    assert_eq!(posterior.divergences(), 0, "{posterior}");
    for (k, name) in ["weight", "mu_lo", "gap"].iter().enumerate() {
        assert_draws(&posterior.get(*name).unwrap(), exact[k], name);
    }
    for (i, y) in mixture::YS.iter().enumerate() {
        assert_mean(&mixture::membership(&posterior, *y).unwrap(), upper[i], &format!("P(z[{i}] = upper)"));
    }
}

/// The same posterior from the discrete model by Metropolis-within-Gibbs. Where the exact
/// P(z_i = upper) is within 0.01 of 0 or 1, z_i flips a handful of times in 2000 draws, too
/// few for its autocorrelation (so its MCSE) to be estimated (every flip can fall in one
/// chain, or none); there the frequency is checked to within 0.01 instead, 20 draws' worth.
#[test]
fn mixture_with_assignments_mh_matches_enumeration_and_quadrature() {
    let (exact, upper) = mixture_reference();
    let runs = mixture::run_with_assignments(4, mixture::SWEEPS).unwrap();
    for (k, (name, _)) in mixture::CONTINUOUS.iter().enumerate() {
        assert_mean(&mixture::column(&runs, k), exact[k], name);
    }
    for (i, exact_upper) in upper.iter().enumerate() {
        let z = mixture::column(&runs, mixture::CONTINUOUS.len() + i);
        if exact_upper.min(1.0 - exact_upper) > 0.01 {
            assert_mean(&z, *exact_upper, &format!("P(z[{i}] = upper)"));
        } else {
            let frequency = mixture::mean(&z);
            assert!((frequency - exact_upper).abs() < 0.01, "P(z[{i}] = upper): {frequency} vs exact {exact_upper}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// HMM
// ---------------------------------------------------------------------------------------

/// The log marginal likelihood within 4 sd of the forward algorithm's, the sd measured over
/// 20 independent filters (a single filter's estimate has no MCSE of its own), and their mean
/// within 4 sd/sqrt(20). The estimate of ln p(y) is the log of an unbiased estimate, so it is
/// biased low by about sd²/2 (Jensen): 0.006 at the measured sd of 0.11, a quarter of that
/// tolerance's se.
#[test]
fn hmm_particle_filter_matches_the_forward_algorithm() {
    use gen_runtime::prelude::Key;
    let params = hmm::parameters();
    let exact = gen_runtime::exact::hmm_forward(&params, &hmm::YS).unwrap();
    let estimate = hmm::filter(&params, hmm::YS.len(), hmm::PARTICLES, hmm::KEY).unwrap().log_marginal_likelihood;
    let replicates: Vec<f64> =
        (0..20).map(|r| hmm::filter(&params, hmm::YS.len(), hmm::PARTICLES, Key::new(r)).unwrap().log_marginal_likelihood).collect();
    let mean = replicates.iter().sum::<f64>() / 20.0;
    let sd = (replicates.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 19.0).sqrt();
    assert!(sd > 0.0 && sd < 0.2, "sd of the estimate {sd}");
    let truth = exact.log_marginal_likelihood;
    println!("estimate {estimate:.4}, mean of 20 {mean:.4} (sd {sd:.4}), exact {truth:.4}");
    assert!((estimate - truth).abs() < 4.0 * sd, "estimate {estimate} vs exact {truth} (sd {sd})");
    assert!((mean - truth).abs() < 4.0 * sd / 20f64.sqrt(), "mean of 20 {mean} vs exact {truth} (sd {sd})");
}

/// Filtered probabilities at every step within 4 standard errors of the forward
/// algorithm's, the standard error of a weighted particle mean of an indicator being
/// sqrt(p(1 - p) / ESS) with the step's ESS. Errors carried from earlier steps could make the
/// real one larger; measured on this run, the largest of the 90 errors is 2.0 of these
/// standard errors, about what the largest of 90 standard normal draws is.
#[test]
fn hmm_filtered_probabilities_match_the_forward_algorithm() {
    let params = hmm::parameters();
    let exact = gen_runtime::exact::hmm_forward(&params, &hmm::YS).unwrap();
    let (probabilities, ess) = hmm::filtered(&params, hmm::PARTICLES, hmm::KEY).unwrap();
    assert_eq!(probabilities.len(), hmm::YS.len());
    let mut worst: f64 = 0.0;
    for (t, ((pf, exact), ess)) in probabilities.iter().zip(&exact.filtered).zip(&ess).enumerate() {
        for k in 0..3 {
            let se = (exact[k] * (1.0 - exact[k]) / ess).sqrt();
            worst = worst.max((pf[k] - exact[k]).abs() / se);
            assert!((pf[k] - exact[k]).abs() < 4.0 * se, "t = {t}, z = {k}: {} vs exact {} (se {se})", pf[k], exact[k]);
        }
    }
    println!("largest error of a filtered probability: {worst:.2} standard errors");
}

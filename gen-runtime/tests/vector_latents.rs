//! Vector-valued latents (`iid`, `plate`, multivariate) in the gradient methods: their
//! elements are coordinates, mapped through their support's bijection, and the posterior
//! names them `z[j]`.
//!
//! Tolerances: means within 4 MCSE (`diagnostics::mcse_mean`, autocorrelation included); sds
//! within 10% (bulk ESS in the thousands, where the sd's relative Monte Carlo error is a few
//! percent). With 50 elements checked at 4 MCSE, a false alarm has probability about
//! 50 × 6e-5 = 0.3% per test.

use gen_runtime::diagnostics::mcse_mean;
use gen_runtime::inference::{Draws, NutsConfig};
use gen_runtime::prelude::*;
use gen_runtime::GenError;

const N: usize = 50;

/// mu ~ Normal(0, 1), z_j ~ Normal(mu, 1) (an `iid` latent vector), y_j ~ Normal(z_j, 0.5).
#[gen]
fn hierarchical(n: usize) {
    let mu = normal(0.0, 1.0).at("mu");
    let z = iid(normal(mu, 1.0), n).at("z");
    for (j, zj) in z.iter().enumerate() {
        normal(*zj, 0.5).at(("y", j));
    }
}

fn data() -> Vec<f64> {
    (0..N).map(|j| ((j as f64) * 0.37).sin() * 2.0 + 0.5).collect()
}

/// The exact posterior, by Gaussian conditioning: y_j | mu ~ Normal(mu, 1 + 0.25) gives
/// mu | y ~ Normal(m, v); z_j | mu, y_j ~ Normal(0.8 y_j + 0.2 mu, 0.2); so
/// z_j | y ~ Normal(0.8 y_j + 0.2 m, 0.2 + 0.04 v).
fn exact(ys: &[f64]) -> ((f64, f64), Vec<(f64, f64)>) {
    let v = 1.0 / (1.0 + ys.len() as f64 / 1.25);
    let m = v * ys.iter().sum::<f64>() / 1.25;
    let z = ys.iter().map(|y| (0.8 * y + 0.2 * m, (0.2 + 0.04 * v).sqrt())).collect();
    ((m, v.sqrt()), z)
}

fn check(draws: &Draws, (mean, sd): (f64, f64), what: &str) {
    let mcse = mcse_mean(&draws.chains).unwrap();
    assert!((draws.mean() - mean).abs() < 4.0 * mcse, "{what}: mean {} vs exact {mean} (mcse {mcse})", draws.mean());
    assert!((draws.sd() / sd - 1.0).abs() < 0.1, "{what}: sd {} vs exact {sd}", draws.sd());
}

#[test]
fn nuts_samples_an_iid_latent_vector_of_50_elements_matching_the_exact_gaussian_posterior() {
    let ys = data();
    let observations: ChoiceMap = ys.iter().enumerate().map(|(j, y)| (("y", j), *y)).collect();
    let posterior = hierarchical(N).condition(&observations).nuts(&NutsConfig::default(), Key::new(11)).unwrap();
    let (mu, z) = exact(&ys);
    check(&posterior.get("mu").unwrap(), mu, "mu");
    for (j, zj) in z.iter().enumerate() {
        check(&posterior.element("z", j).unwrap(), *zj, &format!("z[{j}]"));
    }
    // The summary names every element.
    let summary = posterior.summary().unwrap().to_string();
    assert!(summary.contains("z[0]") && summary.contains("z[49]"), "{summary}");
}

/// lambda_j ~ Gamma(2, 1) (a positive `iid` latent vector), k_j ~ Poisson(lambda_j): the
/// posterior of each lambda_j is Gamma(2 + k_j, 2).
#[gen]
fn rates(n: usize) {
    let lambda = iid(gamma(2.0, 1.0), n).at("lambda");
    for (j, l) in lambda.iter().enumerate() {
        poisson(*l).at(("k", j));
    }
}

#[test]
fn a_positive_iid_latent_is_sampled_through_its_bijection_and_comes_back_constrained() {
    let counts = [0u64, 1, 3, 7, 2, 0, 12, 4];
    let observations: ChoiceMap = counts.iter().enumerate().map(|(j, k)| (("k", j), *k)).collect();
    let posterior = rates(counts.len()).condition(&observations).nuts(&NutsConfig::default(), Key::new(12)).unwrap();
    for (j, k) in counts.iter().enumerate() {
        let draws = posterior.element("lambda", j).unwrap();
        assert!(draws.iter().all(|x| x > 0.0), "lambda[{j}] left its support");
        let shape = 2.0 + *k as f64;
        check(&draws, (shape / 2.0, shape.sqrt() / 2.0), &format!("lambda[{j}]"));
    }
    // Asking for the whole vector as one scalar is an error that says how to ask.
    assert!(posterior.get("lambda").is_err());
}

/// A plate latent: one choice per data point, u_i ~ Normal(x_i, 1), y_i ~ Normal(u_i, 1).
#[gen]
fn per_point(xs: &[f64]) {
    let u = plate(xs, |x| normal(x, 1.0)).at("u");
    for (i, ui) in u.iter().enumerate() {
        normal(*ui, 1.0).at(("y", i));
    }
}

#[test]
fn a_plate_latent_is_sampled_too() {
    let xs = [-1.0, 0.0, 2.0];
    let ys = [0.5, -0.5, 1.0];
    let observations: ChoiceMap = ys.iter().enumerate().map(|(i, y)| (("y", i), *y)).collect();
    let posterior = per_point(&xs).condition(&observations).nuts(&NutsConfig::default(), Key::new(13)).unwrap();
    for i in 0..3 {
        // Normal prior and likelihood of equal variance: posterior Normal((x + y) / 2, 1/√2).
        check(&posterior.element("u", i).unwrap(), ((xs[i] + ys[i]) / 2.0, 0.5f64.sqrt()), &format!("u[{i}]"));
    }
}

/// A discrete latent vector.
#[gen]
fn unusable() {
    let flips = iid(bernoulli(0.5), 3).at("flips");
    normal(0.0, 1.0).at("y");
    let _ = flips;
}

#[test]
fn a_discrete_latent_vector_is_an_error_naming_it() {
    let observations = choicemap! { "y" => 0.3 };
    let err = unusable().condition(&observations).log_density(Key::new(1)).err().unwrap();
    assert!(matches!(&err, GenError::NotContinuous { address, .. } if address.to_string() == "flips"), "{err:?}");
}

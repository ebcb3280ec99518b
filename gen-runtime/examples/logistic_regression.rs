//! Bayesian logistic regression with NUTS.
//!
//! Forty observations of a binary outcome `y` with two covariates `x = (x_1, x_2)`:
//!
//! ```text
//! alpha ~ Normal(0, 2.5)        beta_k ~ Normal(0, 2.5), k = 0, 1
//! y_i ~ BernoulliLogit(alpha + beta_0 x_i1 + beta_1 x_i2)
//! ```
//!
//! The coefficients are one vector latent, `iid(normal(0.0, 2.5), 2).at("beta")`, so the
//! summary names them `beta[0]` and `beta[1]` and `posterior.element("beta", 1)` returns
//! one of them. `bernoulli_logit(eta)` is `bernoulli(eta.sigmoid())` with a log mass that
//! stays finite however large eta grows (Stan's `bernoulli_logit`). After the
//! summary, the example answers two questions a user asks of a fit: how sure are we of each
//! coefficient's sign, and what is the predicted probability for a new case (a derived
//! quantity, computed draw by draw).
//!
//! ```text
//! cargo run --release -p gen-runtime --example logistic_regression
//! ```

use gen_runtime::inference::{InferenceError, NutsConfig, Posterior, PosteriorError};
use gen_runtime::prelude::*;

/// `(x_1, x_2, y)`: simulated once from alpha = -0.5, beta = (1.2, -0.8) and written here.
#[rustfmt::skip]
pub const DATA: [(f64, f64, bool); 40] = [
    (-0.26, 0.51, false), (1.11, 0.54, true), (1.11, 0.42, true), (-0.35, 0.15, true), (-1.67, 0.86, false),
    (0.24, 1.39, false), (-0.89, -0.47, false), (1.89, 0.57, true), (0.31, 0.39, true), (0.25, -0.58, false),
    (-0.62, -0.74, false), (0.32, 0.13, true), (-0.45, -0.96, true), (-0.94, -0.56, false), (0.43, -1.49, true),
    (-1.09, -0.55, false), (-0.11, -0.82, false), (0.77, 0.70, false), (0.67, 0.95, true), (-0.84, -1.48, false),
    (0.62, -0.61, false), (-1.09, -0.74, false), (1.29, -2.03, true), (-0.18, -0.30, false), (-1.90, -2.52, false),
    (-0.21, 0.96, false), (1.10, 0.16, true), (0.26, 0.23, false), (0.52, 0.55, true), (0.28, -0.30, true),
    (-1.97, -0.63, false), (0.53, -0.61, true), (-1.31, 1.61, false), (0.36, 0.51, true), (0.12, 1.15, false),
    (-0.01, 0.09, false), (-0.88, 0.95, false), (-0.44, -1.12, false), (-0.15, -0.30, false), (0.38, -2.00, true),
];

/// The model: one Bernoulli observation `("y", i)` per row of `xs`.
#[gen]
fn logistic_regression(xs: &[[f64; 2]]) {
    let alpha = normal(0.0, 2.5).at("alpha");
    let beta = iid(normal(0.0, 2.5), 2).at("beta");
    for (i, x) in xs.iter().enumerate() {
        let eta = alpha + beta[0] * x[0] + beta[1] * x[1];
        bernoulli_logit(eta).at(("y", i));
    }
}

/// NUTS with the defaults (4 chains, 1000 warm-up iterations, 1000 draws). The tests call
/// this, so they check what `main` prints.
///
/// # Errors
/// Those of [`Conditioned::nuts`](gen_runtime::inference::Conditioned::nuts).
pub fn run() -> Result<Posterior, InferenceError> {
    let xs: Vec<[f64; 2]> = DATA.iter().map(|&(x1, x2, _)| [x1, x2]).collect();
    let observations: ChoiceMap = DATA.iter().enumerate().map(|(i, &(_, _, y))| (("y", i), y)).collect();
    logistic_regression(&xs).condition(&observations).nuts(&NutsConfig::default(), Key::new(2026))
}

/// The draws of P(y = 1 | x) for a new case `x`, one per posterior draw.
///
/// # Errors
/// The posterior has no such latents.
pub fn predict(posterior: &Posterior, x: [f64; 2]) -> Result<Vec<f64>, PosteriorError> {
    let (alpha, b0, b1) = (posterior.get("alpha")?, posterior.element("beta", 0)?, posterior.element("beta", 1)?);
    let eta = alpha.iter().zip(b0.iter()).zip(b1.iter()).map(|((a, b0), b1)| a + b0 * x[0] + b1 * x[1]);
    Ok(eta.map(|e| 1.0 / (1.0 + (-e).exp())).collect())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let posterior = run()?;
    println!("{posterior}");

    for k in 0..2 {
        let beta = posterior.element("beta", k)?;
        let positive = beta.iter().filter(|b| *b > 0.0).count() as f64 / beta.iter().count() as f64;
        println!("P(beta[{k}] > 0 | data) = {positive:.3}");
    }
    let mut p = predict(&posterior, [1.0, -1.0])?;
    p.sort_by(f64::total_cmp);
    let mean = p.iter().sum::<f64>() / p.len() as f64;
    let (lo, hi) = (p[p.len() / 20], p[p.len() * 19 / 20]);
    println!("P(y = 1 | x = (1, -1)): mean {mean:.3}, 90% interval [{lo:.3}, {hi:.3}]");
    Ok(())
}

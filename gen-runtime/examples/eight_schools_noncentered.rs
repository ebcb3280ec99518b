//! Eight schools, non-centred: the same model as `eight_schools_centered`, reparameterized
//! so NUTS sees no funnel.
//!
//! ```text
//! mu ~ Normal(0, 5)        tau ~ HalfNormal(5)
//! theta_tilde_j ~ Normal(0, 1)        theta_j = mu + tau * theta_tilde_j
//! y_j ~ Normal(theta_j, sigma_j)
//! ```
//!
//! The latents are now `mu`, `tau` and the standardized effects `theta_tilde`, which are a
//! priori independent of tau, so the posterior has no neck and NUTS runs without
//! divergences. The school effects `theta_j` are a derived quantity: this example computes
//! them draw by draw from the posterior's draws and summarizes them with the same
//! diagnostics (Stan's "generated quantities").
//!
//! ```text
//! cargo run --release -p gen-runtime --example eight_schools_noncentered
//! ```

use gen_runtime::diagnostics::Summary;
use gen_runtime::inference::{Draws, InferenceError, NutsConfig, Posterior, PosteriorError};
use gen_runtime::prelude::*;

/// The schools' estimated effects.
pub const Y: [f64; 8] = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];
/// Their standard errors.
pub const SIGMA: [f64; 8] = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];

/// The non-centred model: the latents are `mu`, `tau` and `("theta_tilde", j)`.
#[gen]
fn eight_schools(sigma: &[f64]) {
    let mu = normal(0.0, 5.0).at("mu");
    let tau = half_normal(5.0).at("tau");
    for (j, s) in sigma.iter().enumerate() {
        let theta_tilde = normal(0.0, 1.0).at(("theta_tilde", j));
        normal(mu + tau * theta_tilde, *s).at(("y", j));
    }
}

/// NUTS with the defaults (4 chains, 1000 warm-up iterations, 1000 draws). The tests call
/// this, so they check what `main` prints.
///
/// # Errors
/// Those of [`Conditioned::nuts`](gen_runtime::inference::Conditioned::nuts).
pub fn run() -> Result<Posterior, InferenceError> {
    let observations: ChoiceMap = Y.iter().enumerate().map(|(j, y)| (("y", j), *y)).collect();
    eight_schools(&SIGMA).condition(&observations).nuts(&NutsConfig::default(), Key::new(2026))
}

/// The draws of school j's effect, `theta_j = mu + tau * theta_tilde_j`, computed draw by
/// draw (Stan's generated quantities).
///
/// # Errors
/// The posterior has no such latents.
pub fn theta(posterior: &Posterior, j: usize) -> Result<Draws, PosteriorError> {
    posterior.derive(|draw| Ok(draw.get("mu")? + draw.get("tau")? * draw.get(("theta_tilde", j))?))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let posterior = run()?;
    println!("{posterior}");

    // Derived quantities get the same table: mean, sd, quantiles, MCSE, ESS, R-hat.
    let mut effects = Summary::new();
    for j in 0..Y.len() {
        effects.push(format!("theta[{j}]"), &theta(&posterior, j)?.chains)?;
    }
    println!("School effects theta_j = mu + tau * theta_tilde_j:\n{effects}");
    Ok(())
}

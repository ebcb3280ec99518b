//! Eight schools, centred (Rubin 1981; Gelman et al., *Bayesian Data Analysis*, §5.5).
//!
//! Eight schools ran the same coaching programme; school j reports an estimated effect
//! `y_j` with standard error `sigma_j`. The centred model draws each school's true effect
//! around a common mean:
//!
//! ```text
//! mu ~ Normal(0, 5)        tau ~ HalfNormal(5)
//! theta_j ~ Normal(mu, tau)        y_j ~ Normal(theta_j, sigma_j)
//! ```
//!
//! **Expect divergences.** When tau is small the thetas are squeezed together, so the
//! posterior is a funnel whose neck no single NUTS step size fits: the sampler reports
//! divergent transitions and under-explores small tau. The summary is still printed, but
//! read it with suspicion; `eight_schools_noncentered` samples the same model without the
//! funnel and is the version to use.
//!
//! ```text
//! cargo run --release -p gen-runtime --example eight_schools_centered
//! cargo run --release -p gen-runtime --example eight_schools_centered -- --csv out/
//! ```
//!
//! With `--csv DIR` the draws are also written in CmdStan's CSV layout (one file per chain,
//! columns `mu`, `tau`, `theta.1` .. `theta.8`), which ArviZ reads with
//! `az.from_cmdstan("DIR/eight_schools_*.csv")`.

use gen_runtime::inference::{InferenceError, NutsConfig, Posterior};
use gen_runtime::prelude::*;

/// The schools' estimated effects.
pub const Y: [f64; 8] = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];
/// Their standard errors.
pub const SIGMA: [f64; 8] = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];

/// The centred hierarchical model: every `("theta", j)` is a latent of the posterior.
#[gen]
fn eight_schools(sigma: &[f64]) {
    let mu = normal(0.0, 5.0).at("mu");
    let tau = half_normal(5.0).at("tau");
    for (j, s) in sigma.iter().enumerate() {
        let theta = normal(mu, tau).at(("theta", j));
        normal(theta, *s).at(("y", j));
    }
}

/// NUTS on the model conditioned on the data: 4 chains of 1000 draws after 1000 warm-up
/// iterations (the defaults). The tests call this, so they check what `main` prints.
///
/// # Errors
/// Those of [`Conditioned::nuts`](gen_runtime::inference::Conditioned::nuts).
pub fn run() -> Result<Posterior, InferenceError> {
    let observations: ChoiceMap = Y.iter().enumerate().map(|(j, y)| (("y", j), *y)).collect();
    eight_schools(&SIGMA).condition(&observations).nuts(&NutsConfig::default(), Key::new(2026))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let csv_dir = csv_dir()?;
    let posterior = run()?;
    // The summary table, then chains, draws, divergences and acceptance.
    println!("{posterior}");
    if posterior.divergences() > 0 {
        println!(
            "{} divergent transitions: the funnel at small tau. Do not trust this fit; \
             run the non-centred version (--example eight_schools_noncentered).",
            posterior.divergences()
        );
    }
    if let Some(dir) = csv_dir {
        std::fs::create_dir_all(&dir)?;
        for path in posterior.write_cmdstan_csv(&dir, "eight_schools")? {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// `--csv DIR` from the command line, if given.
fn csv_dir() -> Result<Option<String>, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(None),
        [flag, dir] if flag == "--csv" => Ok(Some(dir.clone())),
        _ => Err(format!("usage: eight_schools_centered [--csv DIR]; got {args:?}")),
    }
}

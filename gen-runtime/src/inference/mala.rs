//! The Metropolis-adjusted Langevin algorithm (Roberts and Tweedie 1996).
//!
//! From θ, propose θ' ~ N(θ + ½ε² M⁻¹ ∇log p(θ), ε² M⁻¹) and accept with the Metropolis–Hastings
//! ratio p(θ') q(θ | θ') / (p(θ) q(θ' | θ)). This proposal and ratio are exactly one leapfrog
//! step of size ε from a momentum p ~ N(0, M), accepted with probability exp(H₀ − H) (Neal
//! 2011, §5.2), so MALA runs as [HMC](super::hmc::hmc) with a single leapfrog step and shares
//! its divergence handling, chains and adaptation.
//!
//! ```
//! use gen_runtime::inference::{from_fn, mala, MalaConfig};
//! use gen_runtime::Key;
//!
//! let target = from_fn(1, |theta: &[f64], grad: &mut [f64]| {
//!     grad[0] = -theta[0];
//!     Ok(-0.5 * theta[0] * theta[0])
//! });
//! let config = MalaConfig { step_size: 1.0, num_samples: 2000, ..MalaConfig::default() };
//! let samples = mala(&target, &config, Key::new(3))?;
//! assert!(samples.chains[0].mean_accept_prob > 0.5);
//! # Ok::<(), gen_runtime::inference::InferenceError>(())
//! ```

use crate::rng::Key;

use super::adapt::WindowSettings;
use super::hmc::{hmc, HmcConfig, DEFAULT_MAX_ENERGY_ERROR};
use super::target::{InferenceError, Init, Samples, Target};

/// Settings of [`mala`]: one chain from zeros, 500 warm-up iterations, 1000 draws, step size
/// 0.1, no adaptation by default.
#[derive(Clone, Debug, PartialEq)]
pub struct MalaConfig {
    /// Warm-up iterations (discarded).
    pub num_warmup: usize,
    /// Draws kept per chain.
    pub num_samples: usize,
    /// The proposal's scale ε: θ' = θ + ½ε² M⁻¹∇log p(θ) + ε M^(−½) ξ.
    pub step_size: f64,
    /// Adapt ε during warm-up by dual averaging towards `target_accept`.
    pub adapt_step_size: bool,
    /// The acceptance rate dual averaging aims for (0.574 is optimal for MALA, Roberts and
    /// Rosenthal 1998).
    pub target_accept: f64,
    /// Chains, run in parallel; chain `c` draws from `key.split(c)`.
    pub num_chains: usize,
    /// Where the chains start.
    pub init: Init,
    /// The diagonal of the preconditioner M⁻¹; `None` is the identity.
    pub inv_mass_matrix: Option<Vec<f64>>,
    /// The value of −log(acceptance ratio) above which a proposal counts as divergent.
    pub max_energy_error: f64,
}

impl Default for MalaConfig {
    fn default() -> Self {
        MalaConfig {
            num_warmup: 500,
            num_samples: 1000,
            step_size: 0.1,
            adapt_step_size: false,
            target_accept: 0.574,
            num_chains: 1,
            init: Init::Zeros,
            inv_mass_matrix: None,
            max_energy_error: DEFAULT_MAX_ENERGY_ERROR,
        }
    }
}

/// Runs MALA on every chain. [`Chain::num_leapfrog`](super::Chain::num_leapfrog) is 1 per
/// draw (one gradient evaluation).
///
/// # Errors
/// As [`hmc`]: an invalid setting, no valid starting point, or a model error that is not
/// recoverable.
pub fn mala<T: Target + ?Sized>(target: &T, config: &MalaConfig, key: Key) -> Result<Samples, InferenceError> {
    let hmc_config = HmcConfig {
        num_warmup: config.num_warmup,
        num_samples: config.num_samples,
        step_size: config.step_size,
        num_leapfrog: 1,
        adapt_step_size: config.adapt_step_size,
        adapt_mass_matrix: false,
        target_accept: config.target_accept,
        windows: WindowSettings::default(),
        num_chains: config.num_chains,
        init: config.init.clone(),
        inv_mass_matrix: config.inv_mass_matrix.clone(),
        max_energy_error: config.max_energy_error,
    };
    hmc(target, &hmc_config, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::hmc::{leapfrog, Metric, Point};
    use crate::inference::target::{evaluate, from_fn};

    #[test]
    fn one_leapfrog_step_gives_the_langevin_metropolis_hastings_ratio() {
        // A non-Gaussian target so the gradient is not linear: log p = -x⁴/4 - y²/2 + xy/3.
        let target = from_fn(2, |q: &[f64], g: &mut [f64]| {
            g[0] = -q[0].powi(3) + q[1] / 3.0;
            g[1] = -q[1] + q[0] / 3.0;
            Ok(-q[0].powi(4) / 4.0 - q[1] * q[1] / 2.0 + q[0] * q[1] / 3.0)
        });
        let (eps, xi) = (0.7, [0.4, -1.3]);
        let metric = Metric::new(vec![1.0, 1.0]);
        let mut z = Point::new(2);
        z.q.copy_from_slice(&[0.8, -0.2]);
        z.logp = evaluate(&target, &z.q, &mut z.grad).unwrap();
        z.p.copy_from_slice(&xi);
        let (q0, g0, logp0) = (z.q.clone(), z.grad.clone(), z.logp);
        let h0 = metric.hamiltonian(&z);
        leapfrog(&target, &metric, &mut z, eps).unwrap();
        let log_ratio_hmc = h0 - metric.hamiltonian(&z);

        // The Langevin proposal written out: θ' = θ + ε²/2 ∇log p(θ) + ε ξ.
        let proposal: Vec<f64> = (0..2).map(|i| q0[i] + 0.5 * eps * eps * g0[i] + eps * xi[i]).collect();
        assert!(proposal.iter().zip(&z.q).all(|(a, b)| (a - b).abs() < 1e-14));
        let mut g1 = [0.0; 2];
        let logp1 = evaluate(&target, &proposal, &mut g1).unwrap();
        let log_q = |to: &[f64], from: &[f64], g: &[f64]| -> f64 {
            -(0..2).map(|i| (to[i] - from[i] - 0.5 * eps * eps * g[i]).powi(2)).sum::<f64>() / (2.0 * eps * eps)
        };
        let log_ratio_mala = logp1 - logp0 + log_q(&q0, &proposal, &g1) - log_q(&proposal, &q0, &g0);
        assert!((log_ratio_hmc - log_ratio_mala).abs() < 1e-12, "{log_ratio_hmc} vs {log_ratio_mala}");
    }

    #[test]
    fn mala_takes_one_gradient_per_draw() {
        let target = from_fn(1, |q: &[f64], g: &mut [f64]| {
            g[0] = -q[0];
            Ok(-0.5 * q[0] * q[0])
        });
        let config = MalaConfig { num_warmup: 5, num_samples: 20, ..MalaConfig::default() };
        let chain = &mala(&target, &config, Key::new(1)).unwrap().chains[0];
        assert!(chain.num_leapfrog.iter().all(|&n| n == 1));
        assert_eq!(chain.gradient_evaluations, 26);
    }
}

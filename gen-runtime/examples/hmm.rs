//! A hidden Markov model as an `Unfold`, filtered with a particle filter and checked against
//! the exact forward algorithm.
//!
//! A hidden state `z_t` in {0, 1, 2} moves by a Markov chain; each step emits a symbol
//! `y_t` in {0, 1, 2, 3}:
//!
//! ```text
//! z_0 ~ Categorical(initial)       z_t ~ Categorical(transition[z_{t-1}])
//! y_t ~ Categorical(emission[z_t])
//! ```
//!
//! The model is one step, `hmm_step(t, z, hmm) -> z`, iterated by [`Unfold`]: step t's
//! choices live under the index t (`addr![t, "z"]`, `addr![t, "y"]`). The particle filter
//! extends every particle one step at a time, so its cost is linear in T. For a discrete HMM
//! the forward algorithm ([`gen_runtime::exact::hmm_forward`]) gives the exact answer, so
//! the example prints both: the log marginal likelihood ln p(y_0..y_{T-1}), and the filtered
//! state probabilities p(z_t | y_0..y_t).
//!
//! ```text
//! cargo run --release -p gen-runtime --example hmm
//! ```

use gen_runtime::exact::{hmm_forward, DiscreteHmm};
use gen_runtime::inference::{log_sum_exp, particle_filter, particle_filter_each_step, SmcConfig, SmcResult};
use gen_runtime::prelude::*;

/// The observed symbols, simulated once from [`parameters`].
pub const YS: [usize; 30] = [1, 3, 3, 0, 3, 1, 2, 2, 0, 3, 0, 0, 0, 2, 0, 3, 3, 3, 3, 3, 2, 1, 0, 1, 0, 0, 1, 1, 0, 0];

/// Sticky states (0.8 to stay), each with a favourite symbol; state 2 emits 2 and 3 alike.
#[must_use]
pub fn parameters() -> DiscreteHmm {
    DiscreteHmm {
        initial: vec![1.0 / 3.0; 3],
        transition: vec![vec![0.8, 0.1, 0.1], vec![0.1, 0.8, 0.1], vec![0.1, 0.1, 0.8]],
        emission: vec![vec![0.7, 0.1, 0.1, 0.1], vec![0.1, 0.7, 0.1, 0.1], vec![0.1, 0.1, 0.4, 0.4]],
    }
}

/// One step of the HMM: the state after step `t`, given the state `z` before it.
#[gen]
fn hmm_step(t: usize, z: usize, hmm: &DiscreteHmm) -> usize {
    let probs = if t == 0 { &hmm.initial } else { &hmm.transition[z] };
    let z = categorical(probs).at("z");
    categorical(&hmm.emission[z]).at("y");
    z
}

/// The first `steps` observations, at the Unfold's addresses `t / "y"`.
fn observations(steps: usize) -> ChoiceMap {
    YS[..steps].iter().enumerate().map(|(t, y)| (addr![t, "y"], *y)).collect()
}

/// A bootstrap particle filter over the first `steps` observations.
///
/// # Errors
/// Those of [`particle_filter`].
pub fn filter(hmm: &DiscreteHmm, steps: usize, particles: usize, key: Key) -> Result<SmcResult<usize>, GenError> {
    // The Unfold's arguments: the number of steps, the state before step 0 (unused at t = 0),
    // and the parameters every step gets.
    let model = Unfold::new(hmm_step::gf()).apply((steps, 0usize, (hmm,)));
    let config = SmcConfig { n_particles: particles, ..SmcConfig::default() };
    particle_filter(&model, &observations(steps), &config, key)
}

/// The filtered state probabilities p(z_t = k | y_0..y_t) at every step t, with the
/// step's ESS, from one run of the filter over all the observations: the weighted
/// particles that [`particle_filter_each_step`] shows after each step's weighting are a
/// sample of p(z_t | y_0..y_t).
///
/// # Errors
/// Those of [`particle_filter`].
pub fn filtered(hmm: &DiscreteHmm, particles: usize, key: Key) -> Result<(Vec<[f64; 3]>, Vec<f64>), GenError> {
    let model = Unfold::new(hmm_step::gf()).apply((YS.len(), 0usize, (hmm,)));
    let config = SmcConfig { n_particles: particles, ..SmcConfig::default() };
    let mut probabilities = Vec::with_capacity(YS.len());
    let result = particle_filter_each_step(&model, &observations(YS.len()), &config, key, |_, states, log_weights| {
        let total = log_sum_exp(log_weights);
        let mut p = [0.0; 3];
        for (z, w) in states.iter().zip(log_weights) {
            p[*z] += (w - total).exp();
        }
        probabilities.push(p);
    })?;
    Ok((probabilities, result.ess))
}

/// The particles and keys the example uses; the tests call [`filter`] and [`filtered`] with
/// them.
pub const PARTICLES: usize = 2000;
/// The example's key.
pub const KEY: Key = Key::new(2026);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hmm = parameters();
    let exact = hmm_forward(&hmm, &YS)?;

    let result = filter(&hmm, YS.len(), PARTICLES, KEY)?;
    println!("log marginal likelihood ln p(y):");
    println!("  particle filter ({PARTICLES} particles): {:.4}", result.log_marginal_likelihood);
    println!("  forward algorithm (exact):          {:.4}", exact.log_marginal_likelihood);
    let resampled = result.resampled.iter().filter(|r| **r).count();
    println!("  resampled at {resampled} of {} steps (when ESS < N/2)\n", YS.len());

    println!("filtered state probabilities p(z_t | y_0..y_t), particle filter / exact:");
    println!("   t  y_t      z = 0          z = 1          z = 2");
    let (probabilities, _) = filtered(&hmm, PARTICLES, KEY)?;
    for (t, (pf, exact)) in probabilities.iter().zip(&exact.filtered).enumerate() {
        let cells: Vec<String> = (0..3).map(|k| format!("{:.3} / {:.3}", pf[k], exact[k])).collect();
        println!("  {t:2}  {}    {}", YS[t], cells.join("  "));
    }
    Ok(())
}

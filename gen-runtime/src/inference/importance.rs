//! Importance sampling with the prior or a custom proposal, and importance resampling.
//!
//! With the prior as proposal, particle `i` draws the unobserved choices from the model and
//! has log weight log p(observations | latents). With a proposal q, it draws the proposal's
//! choices, constrains them together with the observations, and has log weight
//! log p(observations, latents) - log q(latents). Either way, `exp(w_i)` is an unbiased
//! estimate of the marginal likelihood p(observations).

use super::weights::{ess, log_sum_exp, normalize, Resampling};
use crate::address::Address;
use crate::choice_map::ChoiceMap;
use crate::error::GenError;
use crate::gfi::{Call, GenerativeFunction, Trace};
use crate::native::{importance_log_weights, Particles};
use crate::rng::Key;
use crate::value::ChoiceValue;
use rayon::prelude::*;

impl Particles {
    /// The number of particles.
    #[must_use]
    pub fn len(&self) -> usize {
        self.log_weights.len()
    }

    /// Whether there are no particles.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.log_weights.is_empty()
    }

    /// Normalized weights, summing to 1.
    #[must_use]
    pub fn normalized_weights(&self) -> Vec<f64> {
        normalize(&self.log_weights)
    }

    /// The estimate `ln (1/N Σ exp(w_i))` of the log marginal likelihood.
    #[must_use]
    pub fn log_marginal_likelihood(&self) -> f64 {
        log_sum_exp(&self.log_weights) - (self.len() as f64).ln()
    }

    /// The standard error of [`Particles::log_marginal_likelihood`] by the delta method:
    /// Var(Ẑ)/Z² ≈ (N Σ w̄_i² - 1)/N, so se ≈ sqrt(1/ESS - 1/N).
    #[must_use]
    pub fn log_marginal_likelihood_se(&self) -> f64 {
        (1.0 / self.ess() - 1.0 / self.len() as f64).max(0.0).sqrt()
    }

    /// The effective sample size of the weights.
    #[must_use]
    pub fn ess(&self) -> f64 {
        ess(&self.log_weights)
    }

    /// The column of the latent scalar at `address`, if it has one.
    #[must_use]
    pub fn column(&self, address: &Address) -> Option<usize> {
        self.addresses.iter().position(|a| a == address)
    }

    /// The latent scalar at `address` of every particle (NaN where a particle lacks it).
    #[must_use]
    pub fn values(&self, address: &Address) -> Option<Vec<f64>> {
        let c = self.column(address)?;
        let d = self.addresses.len();
        Some((0..self.len()).map(|i| self.latents[i * d + c]).collect())
    }

    /// The self-normalized estimate of the posterior mean of the latent scalar at
    /// `address`; `None` if no particle has it.
    #[must_use]
    pub fn mean(&self, address: &Address) -> Option<f64> {
        let values = self.values(address)?;
        let (mut num, mut den) = (0.0, 0.0);
        for (v, w) in values.iter().zip(self.normalized_weights()) {
            if v.is_finite() && w > 0.0 {
                num += w * v;
                den += w;
            }
        }
        (den > 0.0).then(|| num / den)
    }

    /// `m` particles drawn from these in proportion to their weights, with equal weights
    /// that keep the marginal-likelihood estimate (each is the mean weight).
    ///
    /// # Errors
    /// Every weight is `-inf`: there is nothing to resample.
    pub fn resample(&self, m: usize, scheme: Resampling, key: Key) -> Result<Particles, GenError> {
        let w = self.normalized_weights();
        if w.iter().all(|x| *x == 0.0) {
            return Err(GenError::BadArguments { function: "resample", message: "every particle has weight zero".into() });
        }
        let ancestors = scheme.ancestors(&w, m, &mut key.rng());
        let d = self.addresses.len();
        let mut latents = Vec::with_capacity(m * d);
        for &a in &ancestors {
            latents.extend_from_slice(&self.latents[a * d..(a + 1) * d]);
        }
        let lml = self.log_marginal_likelihood();
        Ok(Particles {
            addresses: self.addresses.clone(),
            latents,
            log_weights: vec![lml; m],
            irregular: self.irregular,
            invalid: self.invalid,
        })
    }
}

pub(crate) fn check_count(function: &'static str, n: usize) -> Result<(), GenError> {
    if n == 0 {
        return Err(GenError::BadArguments { function, message: "the number of particles must be at least 1".into() });
    }
    Ok(())
}

/// Importance sampling with the prior as proposal, on the native engine: `n` particles, the
/// latent scalar choices of each, and their log weights. Particle `i` is the trace that
/// [`Call::generate`] returns with `key.split(i)`.
///
/// A particle with a parameter out of range or an observation outside its support has weight
/// zero (log weight -inf) and is counted in [`Particles::invalid`]; the run fails only when
/// every particle is invalid.
///
/// # Errors
/// `n` = 0; the errors of [`Call::generate`] that say the model or the observations are
/// wrong (an observation at an address the model never visits, of the wrong type); every
/// particle invalid.
pub fn importance_sampling<G: GenerativeFunction>(
    call: &Call<G>,
    observations: &ChoiceMap,
    n: usize,
    key: Key,
) -> Result<Particles, GenError> {
    check_count("importance_sampling", n)?;
    importance_log_weights(call, observations, n, key)
}

/// Importance sampling with a custom proposal: `proposal`'s choices are the latents, at the
/// model's addresses; latents it does not propose are drawn from the prior (and cancel in
/// the weight). The columns of the result are the proposal's scalar choices.
///
/// A particle that is invalid under the model (see [`Particles::invalid`]) has weight zero.
///
/// # Errors
/// `n` = 0; a proposed choice the model does not make, or of the wrong type; the errors of
/// the proposal and of [`Call::generate`] that say the model or the observations are wrong;
/// every particle invalid.
pub fn importance_sampling_with_proposal<G: GenerativeFunction, Q: GenerativeFunction>(
    call: &Call<G>,
    observations: &ChoiceMap,
    proposal: &Call<Q>,
    n: usize,
    key: Key,
) -> Result<Particles, GenError> {
    check_count("importance_sampling_with_proposal", n)?;
    let one = |i: usize| -> Result<(ChoiceMap, f64), GenError> {
        let k = key.split(i as u64);
        let (proposed, q, _) = proposal.propose(k.split(0))?;
        let mut constraints = observations.clone();
        constraints.merge(&proposed);
        // An invalid particle (see `Particles::invalid`) has weight zero.
        let w = crate::native::generate_or_invalid(call, &constraints, k.split(1))?.map_or(f64::NEG_INFINITY, |(_, w)| w);
        Ok((proposed, w - q))
    };
    let results: Vec<(ChoiceMap, f64)> = (0..n).into_par_iter().map(one).collect::<Result<_, _>>()?;
    let log_weights: Vec<f64> = results.iter().map(|(_, w)| *w).collect();
    let invalid = log_weights.iter().filter(|w| **w == f64::NEG_INFINITY).count();
    if invalid == n {
        let (proposed, _, _) = proposal.propose(key.split(0).split(0))?;
        let mut constraints = observations.clone();
        constraints.merge(&proposed);
        call.generate(key.split(0).split(1), &constraints)?;
        return Err(GenError::BadArguments { function: "importance_sampling_with_proposal", message: "every particle has weight zero".into() });
    }
    Ok(proposed_particles(&results, log_weights, invalid))
}

/// Particles whose latents are the scalar choices of their proposals (`(choices, _)`, the
/// first one's addresses as columns), with their log weights: what both engines' custom-proposal
/// importance sampling returns.
pub(crate) fn proposed_particles(proposals: &[(ChoiceMap, f64)], log_weights: Vec<f64>, invalid: usize) -> Particles {
    let addresses: Vec<Address> = proposals[0].0.iter().filter(|(_, v)| v.to_f64().is_some()).map(|(a, _)| a.clone()).collect();
    let latents = proposals
        .iter()
        .flat_map(|(choices, _)| addresses.iter().map(|a| choices.get(a).and_then(ChoiceValue::to_f64).unwrap_or(f64::NAN)))
        .collect();
    Particles { addresses, latents, log_weights, irregular: 0, invalid }
}

/// Importance resampling (sampling importance resampling): `n` particles from the prior,
/// then one trace drawn in proportion to the weights, with the log marginal likelihood
/// estimate. As `n` grows the trace's distribution approaches the posterior.
///
/// # Errors
/// `n` = 0, every particle impossible, and the errors of [`Call::generate`].
pub fn importance_resampling<G: GenerativeFunction>(
    call: &Call<G>,
    observations: &ChoiceMap,
    n: usize,
    key: Key,
) -> Result<(Trace<G>, f64), GenError> {
    let particles = importance_sampling(call, observations, n, key.split(0))?;
    let w = particles.normalized_weights();
    if w.iter().all(|x| *x == 0.0) {
        return Err(GenError::BadArguments { function: "importance_resampling", message: "every particle has weight zero".into() });
    }
    let i = Resampling::Multinomial.ancestors(&w, 1, &mut key.split(1).rng())[0];
    // Same key as particle i in `importance_log_weights`: the same trace, rebuilt in full.
    let (trace, _) = call.generate(key.split(0).split(i as u64), observations)?;
    Ok((trace, particles.log_marginal_likelihood()))
}

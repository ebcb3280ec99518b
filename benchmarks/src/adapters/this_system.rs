//! This system's rows: the `#[gen]` models of [`models`] run by gen-runtime's inference, on
//! the native engine (`gen-native`) and on the Burn engine (`gen-burn`, burn-flex on the CPU:
//! importance sampling, the batched workload it is built for; its samplers come later).
//!
//! Each timed call is the whole inference call a user makes, target construction included
//! (building the gradient target, the observations' choice map is built once per
//! configuration like the handcoded row's data).

use anyhow::bail;
use gen_runtime::burn::{Cpu, Engine as BurnEngine};
use gen_runtime::inference::{self, Conditioned, HmcConfig, Resampling, SmcConfig};
use gen_runtime::prelude::*;
use gen_runtime::Part;

use super::{in_process_result, Adapter, AdapterKind, Availability, Quality, RunResult};
use crate::data::{BetaBernoulliData, DataSet, HmmData, LgssmData, PolynomialData};
use crate::models::{Device, Method, Model, RoundShare, Task};
use crate::timing::{measure_in_process, Measured};

/// The benchmark models in the modeling language, as a user would write them.
pub mod models {
    use gen_runtime::exact::{DiscreteHmm, LinearGaussianSsm};
    use gen_runtime::prelude::*;

    /// Polynomial regression: a, b, c ~ N(0, prior_sd²), y_i ~ N(a + b x_i + c x_i², noise²).
    #[gen]
    pub fn polynomial(xs: &[f64], noise: f64, prior_sd: f64) {
        let a = normal(0.0, prior_sd).at("a");
        let b = normal(0.0, prior_sd).at("b");
        let c = normal(0.0, prior_sd).at("c");
        plate(xs, |x| normal(a + b * x + c * x * x, noise)).at("ys");
    }

    /// Beta-Bernoulli: p ~ Beta(alpha, beta), y_i ~ Bernoulli(p).
    #[gen]
    pub fn beta_bernoulli(n: usize, alpha: f64, beta_: f64) {
        let p = beta(alpha, beta_).at("p");
        iid(bernoulli(p), n).at("ys");
    }

    /// One step of the discrete HMM (the first from the initial distribution).
    #[gen]
    pub fn hmm_step(t: usize, z: usize, hmm: &DiscreteHmm) -> usize {
        let probs = if t == 0 { &hmm.initial } else { &hmm.transition[z] };
        let z = categorical(probs).at("z");
        categorical(&hmm.emission[z]).at("y");
        z
    }

    /// One step of the linear-Gaussian state-space model.
    #[gen]
    pub fn lgssm_step(t: usize, x: Real, m: &LinearGaussianSsm) -> Real {
        let x = if t == 0 { normal(m.initial_mean, m.initial_sd).at("x") } else { normal(x * m.transition, m.process_sd).at("x") };
        normal(x, m.observation_sd).at("y");
        x
    }
}

/// Which of this system's execution engines a row uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Native engine: the model compiled to plain Rust, rayon over particles and chains.
    Native,
    /// Burn engine: the model on Burn tensors with a batch axis (CPU flex or CUDA).
    Burn,
}

/// One of this system's engines as a benchmark row.
#[derive(Clone, Copy, Debug)]
pub struct ThisSystem {
    engine: Engine,
}

impl ThisSystem {
    /// The native-engine row, `gen-native`.
    #[must_use]
    pub fn native() -> Self {
        Self { engine: Engine::Native }
    }

    /// The Burn-engine row, `gen-burn`.
    #[must_use]
    pub fn burn() -> Self {
        Self { engine: Engine::Burn }
    }
}

impl Adapter for ThisSystem {
    fn name(&self) -> &str {
        match self.engine {
            Engine::Native => "gen-native",
            Engine::Burn => "gen-burn",
        }
    }

    fn display_name(&self) -> &str {
        match self.engine {
            Engine::Native => "gen-rs (native)",
            Engine::Burn => "gen-rs (Burn)",
        }
    }

    fn kind(&self) -> AdapterKind {
        AdapterKind::InProcess
    }

    fn is_this_system(&self) -> bool {
        true
    }

    fn supports_chains(&self, method: Method) -> bool {
        // The native engine's samplers run `num_chains` chains in parallel.
        self.engine == Engine::Native && matches!(method, Method::Hmc | Method::Nuts)
    }

    fn supports(&self, model: Model, method: Method) -> bool {
        match self.engine {
            Engine::Native => matches!(
                (model, method),
                (Model::Polynomial, Method::Is | Method::Hmc | Method::Nuts | Method::Vi)
                    | (Model::BetaBernoulli, Method::Is)
                    | (Model::Hmm | Model::Lgssm, Method::Smc)
            ),
            // The benchmark's HMC is one chain, one tensor row per leapfrog step (see
            // benchmarks/README.md); the HMM's latent states are discrete, which a batched run
            // cannot carry, and the particle filter has no batched driver on this engine.
            Engine::Burn => matches!((model, method), (Model::Polynomial | Model::BetaBernoulli, Method::Is)),
        }
    }

    fn availability(&self) -> Availability {
        let version = concat!("gen-runtime ", env!("CARGO_PKG_VERSION"));
        match self.engine {
            Engine::Native => Availability::Available { version: version.to_owned() },
            Engine::Burn => Availability::Available { version: format!("{version}, Burn 0.21") },
        }
    }

    fn run(&mut self, task: &Task) -> anyhow::Result<RunResult> {
        let config = &task.config;
        let particles = || config.n_particles.ok_or_else(|| anyhow::anyhow!("{} needs --n-particles", config.label()));
        let (repeats, seed, engine) = (task.repeats, task.seed, self.engine);
        let device = match engine {
            Engine::Native => Device::Cpu,
            Engine::Burn => task.device,
        };
        if device == Device::Cuda && !cfg!(feature = "cuda") {
            bail!("gen-burn on CUDA needs the benchmarks binary built with `--features cuda`");
        }
        let (measured, quality) = match (task.data.as_ref(), config.method) {
            (DataSet::Polynomial(d), Method::Is) => polynomial_is(d, particles()?, engine, device, repeats, seed)?,
            (DataSet::BetaBernoulli(d), Method::Is) => beta_bernoulli_is(d, particles()?, engine, device, repeats, seed)?,
            (DataSet::Polynomial(d), Method::Hmc) => polynomial_hmc(d, &config.hmc.unwrap_or_default(), repeats, seed)?,
            (DataSet::Polynomial(d), Method::Nuts) => polynomial_nuts(d, &config.hmc.unwrap_or_default(), repeats, seed)?,
            (DataSet::Polynomial(d), Method::Vi) => polynomial_vi(d, &config.vi.unwrap_or_default(), repeats, seed)?,
            (DataSet::Hmm(d), Method::Smc) => hmm_smc(d, particles()?, repeats, seed)?,
            (DataSet::Lgssm(d), Method::Smc) => lgssm_smc(d, particles()?, repeats, seed)?,
            _ => bail!("{} does not implement {}", self.name(), config.label()),
        };
        let mut result = in_process_result(measured, quality);
        result.device = device.as_str().to_owned();
        Ok(result)
    }
}

type Timed = anyhow::Result<(Measured<()>, Quality)>;

/// What an importance-sampling row's timed call returns: the native engine's one-call
/// posterior, or the Burn engine's particles.
enum Weighted {
    Posterior(inference::Posterior),
    Particles(gen_runtime::Particles),
}

impl Weighted {
    fn particles(&self) -> anyhow::Result<&gen_runtime::Particles> {
        match self {
            Weighted::Posterior(p) => p.particles().ok_or_else(|| anyhow::anyhow!("importance sampling returned no particles")),
            Weighted::Particles(p) => Ok(p),
        }
    }
}

/// Log ML, ESS and the weighted posterior moments of `latents`.
fn is_quality(m: Measured<anyhow::Result<Weighted>>, latents: &[&'static str]) -> Timed {
    let Measured { first_call_s, times_s, peak_heap_bytes, last } = m;
    let weighted = last?;
    let particles = weighted.particles()?;
    let w = particles.normalized_weights();
    let (mut mean, mut sd) = (Vec::new(), Vec::new());
    for name in latents {
        let values = particles.values(&name.into_address()).ok_or_else(|| anyhow::anyhow!("no latent {name}"))?;
        let m1: f64 = values.iter().zip(&w).map(|(v, w)| v * w).sum();
        let m2: f64 = values.iter().zip(&w).map(|(v, w)| (v - m1).powi(2) * w).sum();
        mean.push(m1);
        sd.push(m2.sqrt());
    }
    let quality = Quality {
        log_ml: Some(particles.log_marginal_likelihood()),
        ess: Some(particles.ess()),
        posterior_mean: Some(mean),
        posterior_sd: Some(sd),
        ..Quality::default()
    };
    Ok((Measured { first_call_s, times_s, peak_heap_bytes, last: () }, quality))
}

/// Importance sampling with the prior as proposal on `engine` and `device`: the timed call is
/// the one a user makes there (on the native engine, the one call from the model to a
/// posterior).
fn importance<G: GenerativeFunction>(
    call: &Call<G>,
    obs: &ChoiceMap,
    n: usize,
    (engine, device): (Engine, Device),
    repeats: RoundShare,
    seed: u64,
) -> Result<Measured<anyhow::Result<Weighted>>, crate::interrupt::Interrupted> {
    let cpu = BurnEngine::<Cpu>::default();
    #[cfg(feature = "cuda")]
    let cuda = (device == Device::Cuda).then(|| BurnEngine::<gen_runtime::burn::Cuda>::try_new(Default::default()));
    measure_in_process(repeats, seed, |s| {
        let key = Key::new(s);
        Ok(match (engine, device) {
            (Engine::Native, _) => Weighted::Posterior(call.condition(obs).importance(n, key)?),
            (Engine::Burn, Device::Cpu) => Weighted::Particles(cpu.importance_log_weights(call, obs, n, key)?),
            #[cfg(feature = "cuda")]
            (Engine::Burn, Device::Cuda) => match cuda.as_ref().expect("made for cuda") {
                Ok(engine) => Weighted::Particles(engine.importance_log_weights(call, obs, n, key)?),
                Err(e) => return Err(e.clone().into()),
            },
            #[cfg(not(feature = "cuda"))]
            (Engine::Burn, Device::Cuda) => unreachable!("run() refuses cuda without the feature"),
        })
    })
}

fn polynomial_is(d: &PolynomialData, n: usize, engine: Engine, device: Device, repeats: RoundShare, seed: u64) -> Timed {
    let obs = choicemap! { "ys" => d.y.clone() };
    let call = models::polynomial(&d.x, d.noise_sd, d.prior_sd);
    is_quality(importance(&call, &obs, n, (engine, device), repeats, seed)?, &["a", "b", "c"])
}

fn beta_bernoulli_is(d: &BetaBernoulliData, n: usize, engine: Engine, device: Device, repeats: RoundShare, seed: u64) -> Timed {
    let obs = choicemap! { "ys" => d.y.iter().map(|y| *y == 1).collect::<Vec<bool>>() };
    let call = models::beta_bernoulli(d.y.len(), d.alpha, d.beta);
    is_quality(importance(&call, &obs, n, (engine, device), repeats, seed)?, &["p"])
}

fn polynomial_hmc(d: &PolynomialData, hmc: &crate::models::HmcConfig, repeats: RoundShare, seed: u64) -> Timed {
    let config = HmcConfig {
        num_warmup: hmc.n_warmup,
        num_samples: hmc.n_samples,
        step_size: hmc.step_size,
        num_leapfrog: hmc.n_leapfrog,
        num_chains: hmc.n_chains,
        ..HmcConfig::default()
    };
    polynomial_mcmc(d, repeats, seed, |conditioned, key| Ok(conditioned.hmc(&config, key)?))
}

/// NUTS with Stan's warm-up adaptation on one chain, for ESS per second: the warm-up and kept
/// draws of the HMC configuration (its step size and leapfrog count do not apply).
fn polynomial_nuts(d: &PolynomialData, hmc: &crate::models::HmcConfig, repeats: RoundShare, seed: u64) -> Timed {
    let config = inference::NutsConfig { num_warmup: hmc.n_warmup, num_samples: hmc.n_samples, num_chains: hmc.n_chains, ..Default::default() };
    polynomial_mcmc(d, repeats, seed, |conditioned, key| Ok(conditioned.nuts(&config, key)?))
}

/// Draws from the fitted guide that the VI row's one call returns (as a user's call would; a
/// few microseconds beside the fit).
const VI_DRAWS: usize = 1000;

/// Mean-field ADVI with the suite's configuration, timed as the one call from the model and
/// its observations to a posterior (the fit, then draws from the guide in the model's space).
fn polynomial_vi(d: &PolynomialData, vi: &crate::models::ViConfig, repeats: RoundShare, seed: u64) -> Timed {
    let config = inference::AdviConfig {
        num_steps: vi.n_steps,
        num_samples: vi.n_elbo_samples,
        optimizer: inference::Optimizer::adam(vi.learning_rate),
        init_scale: 1.0,
        ..inference::AdviConfig::default()
    };
    let obs = choicemap! { "ys" => d.y.clone() };
    let call = models::polynomial(&d.x, d.noise_sd, d.prior_sd);
    let m = measure_in_process(repeats, seed, |s| call.condition(&obs).advi(&config, VI_DRAWS, Key::new(s)))?;
    let Measured { first_call_s, times_s, peak_heap_bytes, last } = m;
    let posterior = last?;
    let Some(inference::Approximation::Variational(fit)) = posterior.approximation() else {
        bail!("ADVI returned no fitted guide");
    };
    let quality = Quality {
        posterior_mean: Some(fit.loc.clone()),
        posterior_sd: Some((0..fit.dim()).map(|i| fit.sd(i)).collect()),
        elbo: Some(fit.final_estimate(vi.n_steps / 10)),
        ..Quality::default()
    };
    Ok((Measured { first_call_s, times_s, peak_heap_bytes, last: () }, quality))
}

/// Times one chain of `sampler` on the polynomial model, run as a user runs it (one call from
/// the model and its observations to a posterior over its latents a, b, c: target
/// construction and the mapping of the draws to the model's space included), and reports the
/// chain's quality.
fn polynomial_mcmc<S>(d: &PolynomialData, repeats: RoundShare, seed: u64, sampler: S) -> Timed
where
    S: Fn(&Conditioned<'_, models::polynomial::Gf<'_>>, Key) -> anyhow::Result<inference::Posterior>,
{
    let obs = choicemap! { "ys" => d.y.clone() };
    let call = models::polynomial(&d.x, d.noise_sd, d.prior_sd);
    let m = measure_in_process(repeats, seed, |s| sampler(&call.condition(&obs), Key::new(s)))?;
    let Measured { first_call_s, times_s, peak_heap_bytes, last } = m;
    let posterior = last?;
    let samples = posterior.samples().ok_or_else(|| anyhow::anyhow!("the sampler returned no chains"))?;
    let chains: Vec<Vec<Vec<f64>>> = (0..samples.num_chains())
        .map(|c| {
            let columns: Vec<Vec<f64>> = (0..3).map(|j| samples.chain_column(c, j)).collect();
            (0..columns[0].len()).map(|i| columns.iter().map(|col| col[i]).collect()).collect()
        })
        .collect();
    // The mean acceptance statistic (Stan's accept_stat__), as every other row reports it; the
    // fraction of transitions that moved is near 1 for NUTS whatever its step size.
    let quality = crate::raw::mcmc_quality(&chains, Some(samples.mean_accept_prob()), Some(samples.divergences() as u64));
    Ok((Measured { first_call_s, times_s, peak_heap_bytes, last: () }, quality))
}

/// Observations of an Unfold at `t / "y"`.
fn per_step<V: Into<ChoiceValue> + Copy>(values: &[V]) -> ChoiceMap {
    let mut obs = ChoiceMap::new();
    for (t, v) in values.iter().enumerate() {
        obs.insert(Address(vec![Part::Index(t as i64), "y".into()]), *v);
    }
    obs
}

/// The bootstrap filter as the handcoded row runs it: systematic resampling at every step.
fn smc_config(n: usize) -> SmcConfig {
    SmcConfig { n_particles: n, resampling: Resampling::Systematic, ess_threshold: 1.0 }
}

fn smc_quality(m: Measured<anyhow::Result<(f64, f64)>>) -> Timed {
    let Measured { first_call_s, times_s, peak_heap_bytes, last } = m;
    let (log_ml, min_ess) = last?;
    Ok((
        Measured { first_call_s, times_s, peak_heap_bytes, last: () },
        Quality { log_ml: Some(log_ml), ess: Some(min_ess), ..Quality::default() },
    ))
}

fn hmm_smc(d: &HmmData, n: usize, repeats: RoundShare, seed: u64) -> Timed {
    let hmm = gen_runtime::exact::DiscreteHmm {
        initial: d.spec.initial.clone(),
        transition: d.spec.transition.clone(),
        emission: d.spec.emission.clone(),
    };
    let obs = per_step(&d.y);
    let model = Unfold::new(models::hmm_step::gf()).apply((d.y.len(), 0usize, (&hmm,)));
    smc_quality(measure_in_process(repeats, seed, |s| {
        let r = inference::particle_filter(&model, &obs, &smc_config(n), Key::new(s))?;
        Ok((r.log_marginal_likelihood, r.ess.iter().copied().fold(f64::INFINITY, f64::min)))
    })?)
}

fn lgssm_smc(d: &LgssmData, n: usize, repeats: RoundShare, seed: u64) -> Timed {
    let s = &d.spec;
    let m = gen_runtime::exact::LinearGaussianSsm {
        initial_mean: s.x1_mean,
        initial_sd: s.x1_sd,
        transition: s.a,
        process_sd: s.q,
        observation_sd: s.r,
    };
    let obs = per_step(&d.y);
    let model = Unfold::new(models::lgssm_step::gf()).apply((d.y.len(), 0.0, (&m,)));
    smc_quality(measure_in_process(repeats, seed, |k| {
        let r = inference::particle_filter(&model, &obs, &smc_config(n), Key::new(k))?;
        Ok((r.log_marginal_likelihood, r.ess.iter().copied().fold(f64::INFINITY, f64::min)))
    })?)
}

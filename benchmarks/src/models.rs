//! What is benchmarked: the models, the inference methods, and the task handed to every adapter.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::data::DataSet;

/// A benchmark model; the names are those of the external protocol's `--model`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// Polynomial regression, latents (a, b, c).
    Polynomial,
    /// Beta-Bernoulli, latent p.
    BetaBernoulli,
    /// Discrete hidden Markov model.
    Hmm,
    /// Linear-Gaussian state-space model.
    Lgssm,
}

impl Model {
    /// The protocol spelling: `polynomial`, `beta_bernoulli`, `hmm`, `lgssm`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Polynomial => "polynomial",
            Self::BetaBernoulli => "beta_bernoulli",
            Self::Hmm => "hmm",
            Self::Lgssm => "lgssm",
        }
    }

    /// Parses the protocol spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Polynomial, Self::BetaBernoulli, Self::Hmm, Self::Lgssm].into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An inference method; the names are those of the external protocol's `--method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Importance sampling with the prior as proposal.
    Is,
    /// Fixed-step Hamiltonian Monte Carlo.
    Hmc,
    /// NUTS with warm-up adaptation (step size and diagonal mass matrix), for ESS per second.
    Nuts,
    /// Sequential Monte Carlo (bootstrap particle filter).
    Smc,
    /// Mean-field ADVI (a normal guide fitted by Adam on the reparameterized ELBO).
    Vi,
    /// Exact filtering of a state-space model: log p(y_1..y_T) by the forward algorithm or
    /// the Kalman filter, as a framework without a particle filter (NumPyro) computes it.
    Exact,
}

impl Method {
    /// The protocol spelling: `is`, `hmc`, `nuts`, `smc`, `vi`, `exact`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Is => "is",
            Self::Hmc => "hmc",
            Self::Nuts => "nuts",
            Self::Smc => "smc",
            Self::Vi => "vi",
            Self::Exact => "exact",
        }
    }

    /// Parses the protocol spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Is, Self::Hmc, Self::Nuts, Self::Smc, Self::Vi, Self::Exact].into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fixed-step HMC configuration of the case study: one chain started at zeros,
/// unit mass matrix, no adaptation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HmcConfig {
    /// Kept samples.
    pub n_samples: usize,
    /// Warm-up iterations (same fixed step; discarded).
    pub n_warmup: usize,
    /// Leapfrog step size.
    pub step_size: f64,
    /// Leapfrog steps per iteration.
    pub n_leapfrog: usize,
    /// Independent chains, each with its own warm-up (1: the benchmark's timing rows; 4: the
    /// NUTS rows whose R-hat and bulk/tail ESS Stan users read).
    #[serde(default = "one_chain")]
    pub n_chains: usize,
}

fn one_chain() -> usize {
    1
}

impl Default for HmcConfig {
    fn default() -> Self {
        Self { n_samples: 1000, n_warmup: 500, step_size: 0.01, n_leapfrog: 20, n_chains: 1 }
    }
}

impl HmcConfig {
    /// The smoke test's configuration: 100 warm-up and 300 kept iterations at step 0.05 (the
    /// correctness noise's posterior is wide enough for it: acceptance above 0.9 at n = 10), a
    /// quarter of the benchmark's iterations, so the eager frameworks (Pyro, handcoded PyTorch:
    /// 14-30 s per benchmark chain here) finish within the smoke run's limit, and with more
    /// effective samples than the benchmark's step 0.01 gives.
    #[must_use]
    pub fn smoke() -> Self {
        Self { n_samples: 300, n_warmup: 100, step_size: 0.05, n_leapfrog: 20, n_chains: 1 }
    }
}

/// The one ADVI configuration every framework runs (comparisons/PROTOCOL.md): a mean-field
/// normal guide over (a, b, c) with softplus scales (NumPyro's and Pyro's `AutoNormal`),
/// initial means 0 and scales 1, Adam (0.9, 0.999, 1e-8) on the reparameterized Monte Carlo
/// ELBO with `n_elbo_samples` draws per step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViConfig {
    /// Optimizer steps.
    pub n_steps: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Draws per step (K).
    pub n_elbo_samples: usize,
}

impl Default for ViConfig {
    fn default() -> Self {
        Self { n_steps: 2000, learning_rate: 0.01, n_elbo_samples: 1 }
    }
}

/// Where a row asks to run. Handcoded Rust always runs on the CPU; the row's `device` column
/// records where each adapter actually ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    /// The CPU.
    Cpu,
    /// An NVIDIA GPU through CUDA.
    Cuda,
}

impl Device {
    /// `cpu` or `cuda`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
        }
    }
}

/// One configuration: a model, a method and its sizes. One summary row per framework and config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The model.
    pub model: Model,
    /// The method.
    pub method: Method,
    /// Number of observations (n, or T for the state-space models).
    pub n_points: usize,
    /// Polynomial observation noise (selects the data file); `None` for the other models.
    pub noise_sd: Option<f64>,
    /// Particles for IS and SMC; `None` for HMC.
    pub n_particles: Option<usize>,
    /// The HMC settings; `None` for IS and SMC.
    pub hmc: Option<HmcConfig>,
    /// The ADVI settings; `None` for the other methods.
    #[serde(default)]
    pub vi: Option<ViConfig>,
}

impl Config {
    /// A short human label, e.g. `polynomial/is n=50 sd=0.05 N=1000`.
    #[must_use]
    pub fn label(&self) -> String {
        let mut s = format!("{}/{} n={}", self.model, self.method, self.n_points);
        if let Some(sd) = self.noise_sd {
            s.push_str(&format!(" sd={}", crate::data::format_noise_sd(sd)));
        }
        if let Some(n) = self.n_particles {
            s.push_str(&format!(" N={n}"));
        }
        if let Some(h) = self.hmc {
            s.push_str(&format!(" samples={} warmup={} eps={} L={}", h.n_samples, h.n_warmup, h.step_size, h.n_leapfrog));
            if h.n_chains > 1 {
                s.push_str(&format!(" chains={}", h.n_chains));
            }
        }
        if let Some(v) = self.vi {
            s.push_str(&format!(" steps={} lr={} K={}", v.n_steps, v.learning_rate, v.n_elbo_samples));
        }
        s
    }
}

/// How many timed repeats a task asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Repeats {
    /// Exactly this many (at least [`Repeats::MIN`]).
    Fixed(usize),
    /// The adapter chooses: in-process rows fit [`Repeats::AUTO_BUDGET_S`] seconds of repeats,
    /// clamped to `MIN..=AUTO_MAX`; external rows use a per-method default.
    Auto,
}

impl Repeats {
    /// The protocol never reports fewer repeats than this.
    pub const MIN: usize = 5;
    /// Most repeats an automatic choice makes (fast in-process rows).
    pub const AUTO_MAX: usize = 100;
    /// Seconds of timed repeats an automatic choice aims at per configuration.
    pub const AUTO_BUDGET_S: f64 = 1.5;

    /// Repeats for an in-process row whose first call took `first_call_s`.
    #[must_use]
    pub fn resolve_in_process(self, first_call_s: f64) -> usize {
        match self {
            Self::Fixed(n) => n.max(Self::MIN),
            Self::Auto => {
                let fit = (Self::AUTO_BUDGET_S / first_call_s.max(1e-9)).floor();
                (fit as usize).clamp(Self::MIN, Self::AUTO_MAX)
            }
        }
    }

    /// Repeats for an external row, which cannot be timed before it runs: 10 for IS, SMC and exact filtering,
    /// 5 for HMC, NUTS and VI (a full chain or fit per repeat).
    #[must_use]
    pub fn resolve_external(self, method: Method) -> usize {
        match (self, method) {
            (Self::Fixed(n), _) => n.max(Self::MIN),
            (Self::Auto, Method::Hmc | Method::Nuts | Method::Vi) => Self::MIN,
            (Self::Auto, Method::Is | Method::Smc | Method::Exact) => 10,
        }
    }
}

/// One round's share of a row's repeats: a row's repeats are split into `rounds` rounds,
/// interleaved in time with the other frameworks' rounds of the same configuration (see
/// `suite::run`), so each round runs `total / rounds` of them, rounded up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundShare {
    /// The row's repeats, all rounds together.
    pub repeats: Repeats,
    /// How many rounds share them (at least 1).
    pub rounds: usize,
}

impl RoundShare {
    /// All of a row's repeats in one round.
    #[must_use]
    pub fn whole(repeats: Repeats) -> Self {
        Self { repeats, rounds: 1 }
    }

    /// This round's repeats of an in-process row whose first call took `first_call_s`.
    #[must_use]
    pub fn in_process(self, first_call_s: f64) -> usize {
        self.repeats.resolve_in_process(first_call_s).div_ceil(self.rounds.max(1))
    }

    /// This round's repeats of an external row.
    #[must_use]
    pub fn external(self, method: Method) -> usize {
        self.repeats.resolve_external(method).div_ceil(self.rounds.max(1))
    }
}

/// Everything an adapter needs to run one configuration.
#[derive(Clone, Debug)]
pub struct Task {
    /// The configuration.
    pub config: Config,
    /// The loaded data set (in-process adapters use it; external ones read the same file).
    pub data: Arc<DataSet>,
    /// The repository root: the working directory of external runs.
    pub root: PathBuf,
    /// The data directory, passed to external runs as `--data-dir`.
    pub data_dir: PathBuf,
    /// Timed repeats of this round.
    pub repeats: RoundShare,
    /// Base seed of this round; repeat r of an in-process row uses `seed + 1 + r`.
    pub seed: u64,
    /// Requested device.
    pub device: Device,
    /// Wall-clock limit of one external run (all its repeats).
    pub timeout: Duration,
}

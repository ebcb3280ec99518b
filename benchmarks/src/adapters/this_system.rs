//! Placeholders for this system's rows (`gen-native`, `gen-burn`), skipped until gen-runtime's
//! engines are wired in.
//!
//! TODO(lead): implement `run` with the DSL models on the native and the Burn engine (use
//! `crate::timing::measure_in_process` for the protocol, `task.device` for the Burn device), and
//! return `Available` from `availability`.

use anyhow::bail;

use super::{Adapter, AdapterKind, Availability, RunResult};
use crate::models::{Method, Model, Task};

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

    fn supports(&self, model: Model, method: Method) -> bool {
        matches!(
            (model, method),
            (Model::Polynomial, Method::Is | Method::Hmc) | (Model::BetaBernoulli, Method::Is) | (Model::Hmm | Model::Lgssm, Method::Smc)
        )
    }

    fn availability(&self) -> Availability {
        Availability::Skipped { reason: "gen-runtime engine not wired into the benchmark yet".to_owned() }
    }

    fn run(&mut self, task: &Task) -> anyhow::Result<RunResult> {
        bail!("{} is not wired in yet ({})", self.name(), task.config.label())
    }
}

//! Framework adapters: every row of the benchmark (handcoded Rust, this system's engines, the
//! Python and Julia frameworks) runs behind the one [`Adapter`] trait.
//!
//! To add a row: implement [`Adapter`] in a new file of this folder and push the adapter in
//! [`registry`]. The suite, export, figures and `list` pick it up by its [`Adapter::name`], which
//! is also the value `--frameworks` accepts.

pub mod external;
pub mod handcoded;
pub mod this_system;

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::models::{Method, Model, Task};
use crate::progress::Progress;
use crate::timing::Measured;

/// Whether an adapter can run on this machine.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Availability {
    /// Ready; `version` is the framework's version string.
    Available {
        /// Framework version.
        version: String,
    },
    /// Runnable once [`Adapter::prepare`] has set it up (e.g. a virtualenv not created yet).
    NeedsSetup {
        /// What setting up involves, e.g. `env not created`.
        what: String,
    },
    /// Cannot run here; every configuration is recorded as skipped with this reason.
    Skipped {
        /// Why, e.g. `julia not on PATH`.
        reason: String,
    },
}

/// How an adapter runs, for `list` and the metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdapterKind {
    /// Rust code inside the benchmark process.
    InProcess,
    /// A Python subprocess in a virtualenv under `comparisons/`.
    Python,
    /// A Julia subprocess (`julia --project=julia`).
    Julia,
}

/// Peak memory of a run and how it was measured (the kinds are not directly comparable).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PeakMemory {
    /// Bytes.
    pub bytes: u64,
    /// What the number is.
    pub kind: MemoryKind,
}

/// How a peak-memory number was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryKind {
    /// Heap high-water mark of one in-process call above what was live before it.
    HeapHighWater,
    /// Max resident set size of the whole subprocess (interpreter, imports and all repeats), from
    /// getrusage of its wrapper.
    ProcessMaxRss,
    /// The framework's own report (the protocol's `peak_memory_bytes`).
    SelfReported,
}

impl MemoryKind {
    /// The CSV spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HeapHighWater => "heap_high_water",
            Self::ProcessMaxRss => "process_max_rss",
            Self::SelfReported => "self_reported",
        }
    }
}

/// What an inference run yielded, for the quality columns. Missing values are `None`; non-finite
/// values are kept (and make the row's `quality_ok` false).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Estimate of log p(y) (IS: log mean weight; SMC: sum of log mean incremental weights).
    #[serde(default, deserialize_with = "loose_f64")]
    pub log_ml: Option<f64>,
    /// Effective sample size: Kish ESS for IS, the smallest per-step ESS for SMC, the smallest
    /// per-latent autocorrelation ESS for HMC.
    #[serde(default, deserialize_with = "loose_f64")]
    pub ess: Option<f64>,
    /// Posterior mean in the model's latent order.
    #[serde(default, deserialize_with = "loose_vec")]
    pub posterior_mean: Option<Vec<f64>>,
    /// Posterior standard deviation in the model's latent order.
    #[serde(default, deserialize_with = "loose_vec")]
    pub posterior_sd: Option<Vec<f64>>,
    /// MCMC: mean acceptance statistic over the kept iterations (the Metropolis probability
    /// min(1, exp(-energy error)); NUTS: Stan's `accept_stat__`). Pyro reports its accepted
    /// fraction instead (PROTOCOL.md).
    #[serde(default, deserialize_with = "loose_f64")]
    pub acceptance_rate: Option<f64>,
    /// HMC: divergent transitions among the kept iterations.
    #[serde(default)]
    pub divergences: Option<u64>,
    /// VI: the framework's own ELBO estimate at the end of the fit (the mean over the last 10%
    /// of steps). For VI rows `posterior_mean` and `posterior_sd` are the fitted guide's.
    #[serde(default, deserialize_with = "loose_f64")]
    pub elbo: Option<f64>,
    /// MCMC: the smallest bulk ESS over the latents (rank-normalized; Vehtari et al. 2021).
    #[serde(default, deserialize_with = "loose_f64")]
    pub ess_bulk: Option<f64>,
    /// MCMC: the smallest tail ESS (of the 5% and 95% quantiles) over the latents.
    #[serde(default, deserialize_with = "loose_f64")]
    pub ess_tail: Option<f64>,
    /// MCMC: the largest rank-normalized split R-hat over the latents.
    #[serde(default, deserialize_with = "loose_f64")]
    pub rhat: Option<f64>,
    /// MCMC: chains behind these numbers.
    #[serde(default)]
    pub chains: Option<usize>,
}

/// One run of one configuration: every timed repeat plus what the last repeat yielded.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Framework version as the run reported it (falls back to the adapter's availability).
    pub version: Option<String>,
    /// Wall clock of the first call (which compiles, where anything compiles), excluded from `times_s`.
    pub compile_time_s: f64,
    /// Wall clock of each timed repeat, seconds.
    pub times_s: Vec<f64>,
    /// Quality of the last repeat.
    pub quality: Quality,
    /// Peak memory, if measured.
    pub peak_memory: Option<PeakMemory>,
    /// Where it ran (`cpu`, `cuda`, ...).
    pub device: String,
    /// Free-form notes (e.g. recompilation costs).
    pub notes: Vec<String>,
    /// Known defects affecting this row (e.g. `genjax-0.10.3-hmc-stale-gradient`).
    pub flags: Vec<String>,
}

/// One framework row of the benchmark.
///
/// The suite calls [`availability`](Adapter::availability) for `list`, then
/// [`prepare`](Adapter::prepare) once before a framework's first configuration, then
/// [`run`](Adapter::run) per configuration that [`supports`](Adapter::supports) accepts. An `Err`
/// from `run` is recorded as a failed row and the suite goes on; return
/// [`crate::interrupt::Interrupted`] when a stop request cut the run short.
pub trait Adapter {
    /// Identifier used by `--frameworks`, file names and the `framework` column, e.g. `numpyro`.
    fn name(&self) -> &str;

    /// Label for figures and tables, e.g. `NumPyro`.
    fn display_name(&self) -> &str;

    /// How it runs.
    fn kind(&self) -> AdapterKind;

    /// Whether this is one of this system's engines (highlighted in figures).
    fn is_this_system(&self) -> bool {
        false
    }

    /// Whether it implements `method` on `model`.
    fn supports(&self, model: Model, method: Method) -> bool;

    /// Whether `method` runs several independent chains in one call (`--n-chains`, an HMC
    /// configuration's `n_chains` above 1). None do unless they say so.
    fn supports_chains(&self, _method: Method) -> bool {
        false
    }

    /// Cheap availability check; never installs anything.
    fn availability(&self) -> Availability;

    /// Why this adapter can run nothing at all, known without probing it (e.g. its manifest does
    /// not parse, so which models it implements is unknown). The suite then records it as skipped
    /// on every model and method of the run instead of leaving it out.
    fn unusable(&self) -> Option<String> {
        None
    }

    /// Sets the framework up if needed (e.g. creates its virtualenv), reporting through
    /// `progress`; returns the availability afterwards.
    fn prepare(&mut self, progress: &Progress) -> Availability {
        let _ = progress;
        self.availability()
    }

    /// Builds once what `model`/`method` needs (e.g. compiling a Stan model), before its first
    /// timed run and outside the per-run time limit; cached by the framework, so cheap when done
    /// already. Returns a line for the log when something was built. An `Err` fails that pair's
    /// configurations without running them.
    fn build(&mut self, model: Model, method: Method, data_dir: &Path, progress: &Progress) -> anyhow::Result<Option<String>> {
        let _ = (model, method, data_dir, progress);
        Ok(None)
    }

    /// Runs `task` under the timing protocol: warm-up excluded, `compile_time_s` separate,
    /// `task.repeats` timed repeats, results materialised before each clock stops.
    fn run(&mut self, task: &Task) -> anyhow::Result<RunResult>;
}

/// The result of an in-process row: nothing compiles at run time (rustc compiled it), so the
/// first call (cold caches, page faults) stands as the compile time; memory is the heap's
/// high-water mark.
pub(crate) fn in_process_result(measured: Measured<()>, quality: Quality) -> RunResult {
    RunResult {
        version: None,
        compile_time_s: measured.first_call_s,
        times_s: measured.times_s,
        quality,
        peak_memory: Some(PeakMemory { bytes: measured.peak_heap_bytes, kind: MemoryKind::HeapHighWater }),
        device: "cpu".to_owned(),
        notes: Vec::new(),
        flags: Vec::new(),
    }
}


/// Every adapter, in display order: handcoded Rust, this system's engines, then one per manifest
/// in `comparisons/frameworks/` (by name). A manifest that does not parse becomes a skipped
/// adapter naming the file and the error. An external framework's `--version` probe is bounded
/// by `time_limit` (a run's `--timeout`).
#[must_use]
pub fn registry(root: &Path, time_limit: Duration) -> Vec<Box<dyn Adapter>> {
    let mut adapters: Vec<Box<dyn Adapter>> =
        vec![Box::new(handcoded::HandcodedRust), Box::new(this_system::ThisSystem::native()), Box::new(this_system::ThisSystem::burn())];
    for manifest in external::load_manifests(root) {
        adapters.push(Box::new(external::External::new(root, manifest, time_limit)));
    }
    adapters
}

/// The names `--frameworks` accepts (the registry's names), for the command-line parser.
#[must_use]
pub fn framework_names(root: &Path) -> Vec<String> {
    // Nothing is probed here: the limit is never used.
    registry(root, Duration::ZERO).iter().map(|a| a.name().to_owned()).collect()
}

/// Accepts a JSON number, `null` (read as NaN: the framework produced no finite value) or the
/// strings `NaN`, `Infinity`, `-Infinity` (what Python's `json.dumps` writes bare, rewritten by
/// [`external::sanitize_non_finite`]).
fn loose_f64<'de, D: Deserializer<'de>>(de: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Number(f64),
        Text(String),
        Null(()),
    }
    Ok(Some(match Loose::deserialize(de)? {
        Loose::Number(v) => v,
        Loose::Text(s) => parse_non_finite(&s).ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not a number")))?,
        Loose::Null(()) => f64::NAN,
    }))
}

fn loose_vec<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Vec<f64>>, D::Error> {
    #[derive(Deserialize)]
    struct Item(#[serde(deserialize_with = "loose_f64")] Option<f64>);
    let items: Option<Vec<Item>> = Option::deserialize(de)?;
    Ok(items.map(|v| v.into_iter().map(|Item(x)| x.unwrap_or(f64::NAN)).collect()))
}

fn parse_non_finite(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "Infinity" | "inf" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_accepts_null_and_non_finite_strings() {
        let q: Quality =
            serde_json::from_str(r#"{"log_ml": null, "ess": "Infinity", "posterior_mean": [1.0, "NaN"], "divergences": 3}"#).unwrap();
        assert!(q.log_ml.unwrap().is_nan());
        assert_eq!(q.ess, Some(f64::INFINITY));
        assert!(q.posterior_mean.as_ref().unwrap()[1].is_nan());
        assert_eq!(q.divergences, Some(3));
        assert_eq!(q.acceptance_rate, None);
    }
}

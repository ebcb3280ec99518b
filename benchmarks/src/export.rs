//! Results on disk: `metadata.json`, `summary.csv` (one row per framework x model x
//! method x configuration) and `<framework>_<method>_timing.csv` (every repeat).
//!
//! Rows are typed and go straight through serde. Each configuration's rows are appended and
//! flushed as soon as it finishes, so an interrupted or crashed run keeps everything it measured.
//!
//! A run owns its folder ([`ResultFolder`]): a default folder is created afresh (`create_dir`,
//! which only one process can win), a `--out` folder must be empty unless `--overwrite` clears
//! it, and either way the run holds an exclusive OS lock on its [`LOCK_FILE`] until it ends, so
//! two runs never write into one `summary.csv`.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::adapters::{AdapterKind, Availability, RunResult};
use crate::machine::{GitInfo, Machine};
use crate::models::{Config, Method, Model};
use crate::quality::Assessment;
use crate::timing::TimeStats;

/// Whether a summary row holds a measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// Measured.
    Ok,
    /// The run crashed, timed out or reported an error (`message` says which).
    Failed,
    /// The framework is not available here (`message` says why).
    Skipped,
}

/// Who produced a row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameworkInfo {
    /// `--frameworks` name.
    pub name: String,
    /// Label for figures.
    pub display_name: String,
    /// One of this system's engines.
    pub this_system: bool,
    /// How it runs.
    pub kind: AdapterKind,
    /// Availability when the run prepared it.
    pub availability: Availability,
}

impl FrameworkInfo {
    /// The version string, when available.
    #[must_use]
    pub fn version(&self) -> String {
        match &self.availability {
            Availability::Available { version } => version.clone(),
            _ => String::new(),
        }
    }
}

/// One line of `summary.csv`. Times are in seconds. The first seven columns are those of GenJAX's
/// `combine_results.py` summary, so the two can be set side by side.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    /// Framework name.
    pub framework: String,
    /// `is`, `hmc`, `nuts`, `smc` or `vi`.
    pub method: String,
    /// Particles (IS, SMC).
    pub n_particles: Option<usize>,
    /// Mean time of the timed repeats.
    pub mean_time: Option<f64>,
    /// Standard deviation (divisor n) of the timed repeats.
    pub std_time: Option<f64>,
    /// Observations (n, or T).
    pub n_points: Option<usize>,
    /// Kept HMC samples.
    pub n_samples: Option<usize>,
    /// `polynomial`, `beta_bernoulli`, `hmm` or `lgssm`.
    pub model: String,
    /// Framework label.
    pub display_name: String,
    /// One of this system's engines.
    pub this_system: bool,
    /// `ok`, `failed` or `skipped`.
    pub status: Option<RowStatus>,
    /// Error or skip reason.
    pub message: String,
    /// Framework version.
    pub version: String,
    /// Where it ran.
    pub device: String,
    /// Polynomial observation noise sd.
    pub noise_sd: Option<f64>,
    /// HMC warm-up iterations.
    pub n_warmup: Option<usize>,
    /// HMC step size.
    pub step_size: Option<f64>,
    /// HMC leapfrog steps.
    pub n_leapfrog: Option<usize>,
    /// Timed repeats.
    pub repeats: Option<usize>,
    /// Base seed.
    pub seed: Option<u64>,
    /// Fastest repeat.
    pub min_time: Option<f64>,
    /// Median repeat.
    pub median_time: Option<f64>,
    /// First quartile.
    pub q1_time: Option<f64>,
    /// Third quartile.
    pub q3_time: Option<f64>,
    /// Interquartile range.
    pub iqr_time: Option<f64>,
    /// Median time over handcoded Rust's median time in the same configuration (absent without
    /// a handcoded row).
    #[serde(default)]
    pub time_ratio: Option<f64>,
    /// Lower end of the ratio's bootstrap 95% interval (`timing::ratio_of_medians`).
    #[serde(default)]
    pub time_ratio_low: Option<f64>,
    /// Upper end of that interval; an interval holding 1 means no significant difference.
    #[serde(default)]
    pub time_ratio_high: Option<f64>,
    /// First (compiling) call, excluded from the repeats.
    pub compile_time: Option<f64>,
    /// Peak memory, bytes.
    pub peak_memory_bytes: Option<u64>,
    /// `heap_high_water`, `process_max_rss` or `self_reported`.
    pub memory_kind: String,
    /// Estimated log p(y).
    pub log_ml: Option<f64>,
    /// Exact log p(y).
    pub log_ml_exact: Option<f64>,
    /// Estimated minus exact log p(y).
    pub log_ml_error: Option<f64>,
    /// Effective sample size (see [`crate::adapters::Quality::ess`]).
    pub ess: Option<f64>,
    /// ESS divided by the median time.
    pub ess_per_s: Option<f64>,
    /// MCMC: the smallest bulk ESS over the latents.
    #[serde(default)]
    pub ess_bulk: Option<f64>,
    /// MCMC: the smallest tail ESS over the latents.
    #[serde(default)]
    pub ess_tail: Option<f64>,
    /// MCMC: the largest rank-normalized split R-hat over the latents.
    #[serde(default)]
    pub rhat: Option<f64>,
    /// MCMC: independent chains (their draws are pooled for the moments, ESS and R-hat).
    #[serde(default)]
    pub n_chains: Option<usize>,
    /// Estimated posterior mean, `;`-separated in latent order.
    #[serde(with = "semicolon_list")]
    pub posterior_mean: Option<Vec<f64>>,
    /// Exact posterior mean, `;`-separated.
    #[serde(with = "semicolon_list")]
    pub posterior_mean_exact: Option<Vec<f64>>,
    /// Largest |estimated - exact| posterior mean.
    pub posterior_mean_error: Option<f64>,
    /// The same in exact posterior sds.
    pub posterior_mean_error_sds: Option<f64>,
    /// Estimated posterior sd, `;`-separated.
    #[serde(with = "semicolon_list")]
    pub posterior_sd: Option<Vec<f64>>,
    /// MCMC mean acceptance statistic ([`crate::adapters::Quality::acceptance_rate`]).
    pub acceptance_rate: Option<f64>,
    /// HMC divergences.
    pub divergences: Option<u64>,
    /// VI: optimizer steps.
    pub n_steps: Option<usize>,
    /// VI: Adam's learning rate.
    pub learning_rate: Option<f64>,
    /// VI: ELBO draws per step (K).
    pub n_elbo_samples: Option<usize>,
    /// VI: the framework's final ELBO estimate.
    pub elbo: Option<f64>,
    /// VI: `elbo` minus the exact log p(y).
    pub elbo_gap: Option<f64>,
    /// VI: KL(q ‖ p) from the fitted guide to the exact posterior, nats.
    pub kl_posterior: Option<f64>,
    /// VI: KL(q ‖ q*) from the fitted guide to the mean-field optimum, nats.
    pub kl_mean_field: Option<f64>,
    /// Whether the answer can be trusted.
    pub quality_ok: Option<bool>,
    /// `ok` or why not.
    pub quality_reason: String,
    /// Known defects, `;`-separated.
    pub flags: String,
    /// Notes, `;`-separated.
    pub notes: String,
}

impl SummaryRow {
    fn base(info: &FrameworkInfo, config: &Config, seed: u64) -> Self {
        Self {
            framework: info.name.clone(),
            method: config.method.as_str().to_owned(),
            n_particles: config.n_particles,
            n_points: Some(config.n_points),
            n_samples: config.hmc.map(|h| h.n_samples),
            model: config.model.as_str().to_owned(),
            display_name: info.display_name.clone(),
            this_system: info.this_system,
            version: info.version(),
            noise_sd: config.noise_sd,
            n_warmup: config.hmc.map(|h| h.n_warmup),
            step_size: config.hmc.map(|h| h.step_size),
            n_leapfrog: config.hmc.map(|h| h.n_leapfrog),
            n_chains: config.hmc.map(|h| h.n_chains),
            n_steps: config.vi.map(|v| v.n_steps),
            learning_rate: config.vi.map(|v| v.learning_rate),
            n_elbo_samples: config.vi.map(|v| v.n_elbo_samples),
            seed: Some(seed),
            ..Self::default()
        }
    }

    /// A measured row.
    #[must_use]
    pub fn measured(info: &FrameworkInfo, config: &Config, seed: u64, result: &RunResult, quality: &Assessment) -> Self {
        let stats = TimeStats::from_times(&result.times_s);
        let q = &result.quality;
        let ess_per_s = q.ess.zip(stats.map(|s| s.median)).map(|(e, t)| e / t);
        Self {
            status: Some(RowStatus::Ok),
            version: result.version.clone().unwrap_or_else(|| info.version()),
            device: result.device.clone(),
            repeats: Some(result.times_s.len()),
            mean_time: stats.map(|s| s.mean),
            std_time: stats.map(|s| s.std),
            min_time: stats.map(|s| s.min),
            median_time: stats.map(|s| s.median),
            q1_time: stats.map(|s| s.q1),
            q3_time: stats.map(|s| s.q3),
            iqr_time: stats.map(|s| s.iqr),
            compile_time: Some(result.compile_time_s),
            peak_memory_bytes: result.peak_memory.map(|m| m.bytes),
            memory_kind: result.peak_memory.map(|m| m.kind.as_str().to_owned()).unwrap_or_default(),
            log_ml: q.log_ml,
            log_ml_exact: quality.log_ml_exact,
            log_ml_error: quality.log_ml_error,
            ess: q.ess,
            ess_per_s,
            ess_bulk: q.ess_bulk,
            ess_tail: q.ess_tail,
            rhat: q.rhat,
            posterior_mean: q.posterior_mean.clone(),
            posterior_mean_exact: quality.posterior_mean_exact.clone(),
            posterior_mean_error: quality.posterior_mean_error,
            posterior_mean_error_sds: quality.posterior_mean_error_sds,
            posterior_sd: q.posterior_sd.clone(),
            acceptance_rate: q.acceptance_rate,
            divergences: q.divergences,
            elbo: q.elbo,
            elbo_gap: quality.elbo_gap,
            kl_posterior: quality.kl_posterior,
            kl_mean_field: quality.kl_mean_field,
            quality_ok: Some(quality.quality_ok),
            quality_reason: quality.reason.clone(),
            flags: result.flags.join(";"),
            notes: result.notes.join(";"),
            ..Self::base(info, config, seed)
        }
    }

    /// A row for a run that crashed, timed out or reported an error.
    #[must_use]
    pub fn failed(info: &FrameworkInfo, config: &Config, seed: u64, message: &str) -> Self {
        Self { status: Some(RowStatus::Failed), message: single_line(message), ..Self::base(info, config, seed) }
    }

    /// A row for a framework that cannot run here: one per model and method of the suite.
    #[must_use]
    pub fn skipped(info: &FrameworkInfo, model: Model, method: Method, reason: &str) -> Self {
        Self {
            framework: info.name.clone(),
            method: method.as_str().to_owned(),
            model: model.as_str().to_owned(),
            display_name: info.display_name.clone(),
            this_system: info.this_system,
            status: Some(RowStatus::Skipped),
            message: single_line(reason),
            ..Self::default()
        }
    }
}

fn single_line(s: &str) -> String {
    s.replace(['\n', '\r'], " | ")
}

/// One line of a `<framework>_<method>_timing.csv`: one timed repeat.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimingRow {
    /// Framework name.
    pub framework: String,
    /// Model.
    pub model: String,
    /// Method.
    pub method: String,
    /// Observations.
    pub n_points: usize,
    /// Polynomial noise sd.
    pub noise_sd: Option<f64>,
    /// Particles.
    pub n_particles: Option<usize>,
    /// Kept HMC samples.
    pub n_samples: Option<usize>,
    /// ELBO draws per step (VI), which tells a VI row's repeats from another's.
    #[serde(default)]
    pub n_elbo_samples: Option<usize>,
    /// MCMC chains, which tells a 4-chain row's repeats from a 1-chain row's.
    #[serde(default)]
    pub n_chains: Option<usize>,
    /// Repeat index from 0.
    pub repeat: usize,
    /// Wall clock, seconds.
    pub time_s: f64,
}

/// `metadata.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Metadata {
    /// Suite name (`polynomial_is`, ..., `all`, `test`).
    pub suite: String,
    /// `running`, `finished`, `interrupted`, or `aborted` (set by a later run that found this
    /// one `running` with nobody holding its lock: it was killed).
    pub status: String,
    /// The command line.
    pub command_line: Vec<String>,
    /// Start, RFC 3339 local time.
    pub started: String,
    /// End, RFC 3339 local time.
    pub finished: Option<String>,
    /// The run's options and resolved grids.
    pub configuration: serde_json::Value,
    /// Every framework considered, with its availability and version.
    pub frameworks: Vec<FrameworkInfo>,
    /// Hardware and OS.
    pub machine: Machine,
    /// Repository commit.
    pub git: GitInfo,
    /// Version of this binary.
    pub benchmarks_version: String,
    /// Units and the meaning of the memory column.
    pub notes: Vec<String>,
}

/// Name of the lock file a run holds open, with an exclusive OS file lock, in its result folder.
/// It stays behind after the run (removing it would let a third run lock a fresh file while a
/// second still holds the old one) and does not count as a result.
pub const LOCK_FILE: &str = ".lock";

/// Why a result folder cannot be used for a run.
#[derive(Debug, thiserror::Error)]
pub enum ResultFolderError {
    /// Another process holds the folder's lock.
    #[error("another run holds the result folder {} (its {LOCK_FILE} is locked); wait for it to end or choose another --out", path.display())]
    Locked {
        /// The folder.
        path: PathBuf,
    },
    /// The folder holds earlier results and `--overwrite` was not given.
    #[error(
        "the result folder {} is not empty (it holds {}); pass --overwrite to clear its previous results, or choose another --out",
        path.display(),
        entries.join(", ")
    )]
    NotEmpty {
        /// The folder.
        path: PathBuf,
        /// What it holds (up to a few names).
        entries: Vec<String>,
    },
    /// `--overwrite` was given but the folder holds files a run does not write.
    #[error(
        "--overwrite clears only a result folder's own files (metadata.json, summary.csv, *_timing.csv), and {} also holds {}; remove them or choose another --out",
        path.display(),
        entries.join(", ")
    )]
    ForeignFiles {
        /// The folder.
        path: PathBuf,
        /// The entries that are not results.
        entries: Vec<String>,
    },
    /// A file-system call failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was attempted (`create`, `lock`, `read`, `remove`).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A result folder held by this run: it exists, holds no earlier results, and its [`LOCK_FILE`]
/// is locked until this value is dropped.
#[derive(Debug)]
pub struct ResultFolder {
    path: PathBuf,
    /// Held open for the lock; the OS releases it when the file closes (even on a crash).
    _lock: File,
}

impl ResultFolder {
    /// Creates a new folder `parent/<stem>`, or `<stem>_2`, `<stem>_3`, ... when that name is
    /// taken, and locks it. `create_dir` fails when the folder exists, so two processes starting
    /// in the same second cannot both get one name.
    pub fn create_unique(parent: &Path, stem: &str) -> Result<Self, ResultFolderError> {
        fs::create_dir_all(parent).map_err(io_error("create", parent))?;
        let mut suffix = 1u32;
        loop {
            let name = if suffix == 1 { stem.to_owned() } else { format!("{stem}_{suffix}") };
            let path = parent.join(name);
            match fs::create_dir(&path) {
                Ok(()) => return Self::lock(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && suffix < 10_000 => suffix += 1,
                Err(e) => return Err(ResultFolderError::Io { action: "create", path, source: e }),
            }
        }
    }

    /// Takes the folder `dir` that the user named (`--out`), creating it if needed. It must hold
    /// no entries besides [`LOCK_FILE`]; with `overwrite` its earlier results (`metadata.json`,
    /// `summary.csv`, `*_timing.csv`) are removed first, and anything else is refused. The lock
    /// is taken before the folder is inspected, so a run in progress is reported as such.
    pub fn claim(dir: &Path, overwrite: bool) -> Result<Self, ResultFolderError> {
        fs::create_dir_all(dir).map_err(io_error("create", dir))?;
        let folder = Self::lock(dir.to_path_buf())?;
        let mut entries: Vec<String> = fs::read_dir(dir)
            .map_err(io_error("read", dir))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()
            .map_err(io_error("read", dir))?;
        entries.retain(|name| name != LOCK_FILE);
        entries.sort();
        if entries.is_empty() {
            return Ok(folder);
        }
        if !overwrite {
            entries.truncate(5);
            return Err(ResultFolderError::NotEmpty { path: dir.to_path_buf(), entries });
        }
        let foreign: Vec<String> = entries.iter().filter(|name| !is_result_file(&dir.join(name))).cloned().collect();
        if !foreign.is_empty() {
            return Err(ResultFolderError::ForeignFiles { path: dir.to_path_buf(), entries: foreign });
        }
        for name in &entries {
            let path = dir.join(name);
            fs::remove_file(&path).map_err(io_error("remove", &path))?;
        }
        Ok(folder)
    }

    fn lock(path: PathBuf) -> Result<Self, ResultFolderError> {
        let lock_path = path.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| ResultFolderError::Io { action: "create", path: lock_path.clone(), source })?;
        match file.try_lock() {
            Ok(()) => Ok(Self { path, _lock: file }),
            Err(fs::TryLockError::WouldBlock) => Err(ResultFolderError::Locked { path }),
            Err(fs::TryLockError::Error(source)) => Err(ResultFolderError::Io { action: "lock", path: lock_path, source }),
        }
    }

    /// The folder.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What a result folder's `metadata.json` and lock say about the run that wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunState {
    /// The run ended normally.
    Finished,
    /// The run was stopped by Ctrl-C or SIGTERM and kept every finished row.
    Interrupted,
    /// A process holds the folder's lock: the run is in progress.
    Running,
    /// The run ended without saying so (killed, or the machine went down): its metadata says
    /// `running` (or `aborted`, once a later run noticed) and nobody holds its lock. The rows it
    /// finished are intact; the rest are missing.
    EndedAbnormally,
    /// No readable `metadata.json` or an unknown status: not a run's folder, or damaged.
    Unknown(String),
}

impl RunState {
    /// A sentence for the user about a folder in this state, or `None` when there is nothing
    /// to say (a finished run).
    #[must_use]
    pub fn warning(&self, dir: &Path) -> Option<String> {
        let dir = dir.display();
        match self {
            Self::Finished => None,
            Self::Interrupted => Some(format!("{dir}: its run was interrupted; it holds the configurations that finished")),
            Self::Running => Some(format!("{dir}: its run is still in progress; these are the rows so far")),
            Self::EndedAbnormally => Some(format!(
                "{dir}: its run ended abnormally (killed before it could finish: metadata.json says it was running and no process holds its lock); it holds only the configurations that finished"
            )),
            Self::Unknown(why) => Some(format!("{dir}: {why}")),
        }
    }
}

/// The state of the run that wrote `dir`.
#[must_use]
pub fn run_state(dir: &Path) -> RunState {
    let path = dir.join("metadata.json");
    let status = match fs::read_to_string(&path).map(|text| serde_json::from_str::<serde_json::Value>(&text)) {
        Ok(Ok(value)) => value.get("status").and_then(serde_json::Value::as_str).map(str::to_owned),
        Ok(Err(e)) => return RunState::Unknown(format!("{} does not parse: {e}", path.display())),
        Err(e) => return RunState::Unknown(format!("cannot read {}: {e}", path.display())),
    };
    match status.as_deref() {
        Some("finished") => RunState::Finished,
        Some("interrupted") => RunState::Interrupted,
        Some("aborted") => RunState::EndedAbnormally,
        Some("running") if lock_is_held(dir) => RunState::Running,
        Some("running") => RunState::EndedAbnormally,
        other => RunState::Unknown(format!("{} has an unknown status {other:?}", path.display())),
    }
}

/// Whether some process holds `dir`'s [`LOCK_FILE`] (false when there is none).
fn lock_is_held(dir: &Path) -> bool {
    let Ok(file) = File::open(dir.join(LOCK_FILE)) else { return false };
    matches!(file.try_lock(), Err(fs::TryLockError::WouldBlock))
}

/// Finds the result folders under `data_dir` whose run was killed while its metadata still said
/// `running`, marks each `aborted` (under its lock, so a run that starts meanwhile is never
/// touched) so that it is reported once, and returns them.
pub fn mark_aborted_runs(data_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(data_dir) else { return Vec::new() };
    let mut aborted = Vec::new();
    for dir in entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()) {
        if run_state(&dir) != RunState::EndedAbnormally {
            continue;
        }
        let Ok(_held) = ResultFolder::lock(dir.clone()) else { continue };
        let path = dir.join("metadata.json");
        let Some(mut metadata) = fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok()) else {
            continue;
        };
        if metadata["status"] != "running" {
            continue;
        }
        metadata["status"] = "aborted".into();
        if let Some(notes) = metadata.get_mut("notes").and_then(serde_json::Value::as_array_mut) {
            notes.push(format!("the run ended abnormally (killed); noticed by a later run at {}", now_rfc3339()).into());
        }
        let tmp = dir.join(".metadata.json.tmp");
        let written = serde_json::to_string_pretty(&metadata).ok().is_some_and(|json| fs::write(&tmp, json + "\n").is_ok());
        if written && fs::rename(&tmp, &path).is_ok() {
            aborted.push(dir);
        }
    }
    aborted.sort();
    aborted
}

/// Maps an I/O error on `path` to [`ResultFolderError::Io`].
fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ResultFolderError + 'a {
    move |source| ResultFolderError::Io { action, path: path.to_path_buf(), source }
}

/// Whether `path` is a file that a run writes into its result folder.
fn is_result_file(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.is_file() && (matches!(name.as_ref(), "metadata.json" | ".metadata.json.tmp" | "summary.csv" | "report.html") || name.ends_with("_timing.csv"))
}

/// A CSV file that grows by whole rows only: each batch of rows goes out in one write, and a
/// write that fails part way (a full disk) is cut back to where it started, so the file never
/// holds a torn row. (The `csv` writer's own buffer would flush a row in pieces.)
struct AppendOnlyCsv {
    file: File,
    path: PathBuf,
    /// Bytes of whole rows in the file.
    len: u64,
}

impl AppendOnlyCsv {
    /// Creates (or truncates) `path`.
    fn create(path: PathBuf) -> anyhow::Result<Self> {
        let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self { file, path, len: 0 })
    }

    /// Opens `path` to append to it, creating it if needed.
    fn append_to(path: PathBuf) -> anyhow::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        let len = file.metadata().with_context(|| format!("cannot read {}", path.display()))?.len();
        Ok(Self { file, path, len })
    }

    /// Appends `records` (serialised as CSV rows, with `header` first when given) in one write.
    fn append<R: Serialize>(&mut self, header: Option<&[String]>, records: &[R]) -> anyhow::Result<()> {
        use std::io::Write as _;
        let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        if let Some(header) = header {
            w.write_record(header).context("serialising a CSV header")?;
        }
        for record in records {
            w.serialize(record).context("serialising a CSV row")?;
        }
        let bytes = w.into_inner().context("serialising CSV rows")?;
        let written = self.file.write_all(&bytes).and_then(|()| self.file.flush());
        if let Err(e) = written {
            // Cut back to the last whole row; if even that fails, say so.
            let restored = self.file.set_len(self.len);
            let state = match restored {
                Ok(()) => "it holds every earlier row, whole".to_owned(),
                Err(r) => format!("cutting it back to its last whole row also failed ({r}), so its last line may be torn"),
            };
            anyhow::bail!("cannot write {} ({e}; is the disk full?): {state}", self.path.display());
        }
        self.len += bytes.len() as u64;
        Ok(())
    }
}

/// Writes one result folder.
pub struct ResultsWriter {
    folder: ResultFolder,
    summary: AppendOnlyCsv,
    timing: HashMap<String, AppendOnlyCsv>,
    metadata: Metadata,
    rows: usize,
}

impl ResultsWriter {
    /// Writes `metadata.json` and the header of `summary.csv` into `folder`, which the writer
    /// holds (with its lock) until it is dropped.
    pub fn create(folder: ResultFolder, metadata: Metadata) -> anyhow::Result<Self> {
        let mut summary = AppendOnlyCsv::create(folder.path().join("summary.csv"))?;
        // The header goes out at once so that even a run stopped before its first row leaves a
        // readable (empty) table.
        summary.append::<SummaryRow>(Some(&summary_header()), &[])?;
        let writer = Self { folder, summary, timing: HashMap::new(), metadata, rows: 0 };
        writer.write_metadata()?;
        Ok(writer)
    }

    /// The result folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.folder.path()
    }

    /// Rows written so far.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends a configuration's repeats and then its summary row, each file in one write that
    /// is undone if it fails part way.
    pub fn write(&mut self, row: &SummaryRow, times_s: &[f64]) -> anyhow::Result<()> {
        if !times_s.is_empty() {
            let name = format!("{}_{}_timing.csv", sanitize(&row.framework), sanitize(&row.method));
            let path = self.folder.path().join(&name);
            let file = match self.timing.entry(name) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(AppendOnlyCsv::append_to(path)?),
            };
            let repeats: Vec<TimingRow> = times_s
                .iter()
                .enumerate()
                .map(|(repeat, &time_s)| TimingRow {
                    framework: row.framework.clone(),
                    model: row.model.clone(),
                    method: row.method.clone(),
                    n_points: row.n_points.unwrap_or(0),
                    noise_sd: row.noise_sd,
                    n_particles: row.n_particles,
                    n_samples: row.n_samples,
                    n_elbo_samples: row.n_elbo_samples,
                    n_chains: row.n_chains,
                    repeat,
                    time_s,
                })
                .collect();
            let header = (file.len == 0).then(timing_header);
            file.append(header.as_deref(), &repeats)?;
        }
        self.summary.append(None, std::slice::from_ref(row))?;
        self.rows += 1;
        Ok(())
    }

    /// Records a framework's availability in the metadata (rewritten at once).
    pub fn record_framework(&mut self, info: FrameworkInfo) -> anyhow::Result<()> {
        self.metadata.frameworks.retain(|f| f.name != info.name);
        self.metadata.frameworks.push(info);
        self.write_metadata()
    }

    /// Marks the run finished or interrupted.
    pub fn finish(&mut self, interrupted: bool) -> anyhow::Result<()> {
        self.metadata.status = if interrupted { "interrupted" } else { "finished" }.to_owned();
        self.metadata.finished = Some(now_rfc3339());
        self.write_metadata()
    }

    fn write_metadata(&self) -> anyhow::Result<()> {
        let path = self.folder.path().join("metadata.json");
        let tmp = self.folder.path().join(".metadata.json.tmp");
        let json = serde_json::to_string_pretty(&self.metadata).context("serialising metadata")?;
        // Write then rename, so metadata.json is never half written.
        fs::write(&tmp, json + "\n").with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The column names of `summary.csv`, in order.
#[must_use]
pub fn summary_header() -> Vec<String> {
    header_of(&SummaryRow::default())
}

/// The column names of a `*_timing.csv`, in order.
#[must_use]
pub fn timing_header() -> Vec<String> {
    header_of(&TimingRow::default())
}

fn header_of<R: Serialize>(row: &R) -> Vec<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(row).expect("a default row serialises");
    let bytes = w.into_inner().expect("writing to memory cannot fail");
    let text = String::from_utf8(bytes).expect("the header is UTF-8");
    text.lines().next().unwrap_or_default().split(',').map(str::to_owned).collect()
}

/// Reads every row of a `summary.csv`, naming the file and line of a row that does not parse.
pub fn read_summary(path: &Path) -> anyhow::Result<Vec<SummaryRow>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    reader
        .deserialize()
        .map(|r| {
            r.map_err(|e| {
                let line = e.position().map_or(0, csv::Position::line);
                anyhow::anyhow!("{}:{line}: {e}", path.display())
            })
        })
        .collect()
}

/// `YYYYMMDD_HHMMSS` in local time, for result folder names (made unique by
/// [`ResultFolder::create_unique`]).
#[must_use]
pub fn timestamp() -> String {
    chrono::Local::now().format("%Y%m%d_%H%M%S").to_string()
}

/// Now, RFC 3339 local time.
#[must_use]
pub fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// A framework or method name made safe for a file name.
#[must_use]
pub fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect()
}

/// `;`-separated lists of floats in one CSV cell (serde's csv support has no nested sequences).
mod semicolon_list {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<f64>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&v.iter().map(f64::to_string).collect::<Vec<_>>().join(";")),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        text.split(';').map(|x| x.trim().parse::<f64>().map_err(serde::de::Error::custom)).collect::<Result<_, _>>().map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_genjax_columns_come_first() {
        assert_eq!(summary_header()[..7], ["framework", "method", "n_particles", "mean_time", "std_time", "n_points", "n_samples"]);
    }

    #[test]
    fn rows_round_trip_through_csv() {
        let row = SummaryRow {
            framework: "x".into(),
            posterior_mean: Some(vec![0.5, -1.25, f64::NAN]),
            quality_ok: Some(false),
            status: Some(RowStatus::Ok),
            mean_time: Some(1e-5),
            ..SummaryRow::default()
        };
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(&row).unwrap();
        let bytes = w.into_inner().unwrap();
        let back: SummaryRow = csv::Reader::from_reader(&bytes[..]).deserialize().next().unwrap().unwrap();
        assert_eq!(back.framework, "x");
        assert_eq!(back.mean_time, Some(1e-5));
        assert!(back.posterior_mean.as_ref().unwrap()[2].is_nan());
        assert_eq!(back.status, Some(RowStatus::Ok));
    }
}

//! External frameworks (Python and Julia) run as subprocesses under the protocol of
//! `comparisons/PROTOCOL.md`: one manifest per framework in `comparisons/frameworks/`, one JSON
//! object on stdout per run.
//!
//! Each run goes through a small wrapper (this binary's hidden `__rusage-exec` subcommand) that
//! waits for the framework and reports its max RSS from getrusage, so every external row gets a
//! peak memory measured the same way. The wrapper leads its own process group, so a timeout or a
//! stop request kills the framework with everything it started, and it watches its parent, so
//! nothing it started outlives the benchmark run.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde::Deserialize;

use super::{Adapter, AdapterKind, Availability, MemoryKind, PeakMemory, Quality, RunResult};
use crate::data::format_noise_sd;
use crate::env::{self, tail};
use crate::interrupt::{self, Interrupted};
use crate::models::{Method, Model, Task};
use crate::paths::comparisons_dir;
use crate::progress::Progress;

/// One `comparisons/frameworks/<name>.json`.
#[derive(Clone, Debug, Deserialize)]
pub struct Manifest {
    /// `--frameworks` name and `framework` column.
    pub name: String,
    /// Label for figures.
    #[serde(default)]
    pub display: Option<String>,
    /// `python` or `julia`.
    pub language: String,
    /// Python: the virtualenv is `comparisons/.venv-<env>`.
    #[serde(default)]
    pub env: Option<String>,
    /// Python: pinned requirements, relative to `comparisons/`.
    #[serde(default)]
    pub requirements: Option<String>,
    /// Command after the interpreter, run from the repository root.
    pub entry: Vec<String>,
    /// Module whose version is reported (informational).
    #[serde(default)]
    pub version_module: Option<String>,
    /// Model name -> method names it implements.
    #[serde(default)]
    pub methods: BTreeMap<String, Vec<String>>,
    /// Python: interpreter that creates the env (default `python3`).
    #[serde(default)]
    pub python: Option<String>,
    /// Whether the entry has a one-time build step (`--prepare`), run per (model, method) before
    /// the first timed run and outside its time limit (Stan compiles its models there).
    #[serde(default)]
    pub prepare: bool,
    /// Whether the entry takes `--raw-out DIR` and writes its raw draws and weights there
    /// (PROTOCOL.md "Raw output"), so the suite computes the row's quality numbers itself
    /// ([`crate::raw`]).
    #[serde(default)]
    pub raw_output: bool,
    /// Methods that take `--n-chains N` and run N independent chains in one call.
    #[serde(default)]
    pub multi_chain: Vec<String>,
    /// The manifest file.
    #[serde(skip)]
    pub path: PathBuf,
    /// Why the manifest cannot be used, when it cannot.
    #[serde(skip)]
    pub load_error: Option<String>,
}

/// Every manifest in `comparisons/frameworks/`, by file name. A file that does not parse (or
/// repeats a name) is kept with `load_error` set, so it shows up as skipped with the reason.
#[must_use]
pub fn load_manifests(root: &Path) -> Vec<Manifest> {
    let dir = comparisons_dir(root).join("frameworks");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    paths.sort();
    let mut manifests: Vec<Manifest> = Vec::new();
    for path in paths {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let parsed = fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<Manifest>(&text).map_err(|e| e.to_string()));
        let mut manifest = parsed.unwrap_or_else(|e| Manifest {
            name: stem,
            display: None,
            language: String::new(),
            env: None,
            requirements: None,
            entry: Vec::new(),
            version_module: None,
            methods: BTreeMap::new(),
            python: None,
            prepare: false,
            raw_output: false,
            multi_chain: Vec::new(),
            path: PathBuf::new(),
            load_error: Some(format!("manifest does not parse: {e}")),
        });
        if manifests.iter().any(|m| m.name == manifest.name) || builtin_name(&manifest.name) {
            manifest.load_error = Some(format!("name `{}` is already taken", manifest.name));
            manifest.name = format!("{}-{}", manifest.name, path.file_stem().unwrap_or_default().to_string_lossy());
        }
        manifest.path = path;
        manifests.push(manifest);
    }
    manifests
}

fn builtin_name(name: &str) -> bool {
    matches!(name, "handcoded-rust" | "gen-native" | "gen-burn")
}

/// An external framework described by a manifest.
pub struct External {
    root: PathBuf,
    manifest: Manifest,
    /// Availability once the framework answered `--version` (or failed to).
    probed: OnceCell<Availability>,
    /// Limit of the `--version` probe: the run's `--timeout`, since a probe is a run too.
    probe_limit: Duration,
}

impl External {
    /// The adapter for `manifest`, run from `root`, whose `--version` probe may take up to
    /// `probe_limit`.
    #[must_use]
    pub fn new(root: &Path, manifest: Manifest, probe_limit: Duration) -> Self {
        Self { root: root.to_path_buf(), manifest, probed: OnceCell::new(), probe_limit }
    }

    /// The manifest.
    #[must_use]
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Interpreter and leading arguments, or why there is none.
    fn command(&self) -> Result<(PathBuf, Vec<String>), Availability> {
        let skipped = |reason: String| Availability::Skipped { reason };
        if let Some(reason) = self.unusable() {
            return Err(skipped(reason));
        }
        match self.manifest.language.as_str() {
            "python" => {
                let env = self.manifest.env.as_deref().ok_or_else(|| skipped("manifest names no env".to_owned()))?;
                if !env::venv_exists(&self.root, env) {
                    return Err(Availability::NeedsSetup { what: "env not created".to_owned() });
                }
                Ok((env::venv_python(&self.root, env), self.manifest.entry.clone()))
            }
            "julia" => {
                let julia = find_on_path("julia").ok_or_else(|| skipped("julia not on PATH".to_owned()))?;
                let mut args = vec!["--project=julia".to_owned()];
                args.extend(self.manifest.entry.iter().cloned());
                Ok((julia, args))
            }
            other => Err(skipped(format!("unknown language `{other}` in {}", self.manifest.path.display()))),
        }
    }

    /// Runs `--version` and reads `{"framework": ..., "version": ...}`.
    fn probe_version(&self, program: &Path, args: &[String]) -> Availability {
        let mut args = args.to_vec();
        args.push("--version".to_owned());
        match run_child(&self.root, program, &args, self.probe_limit) {
            Ok(out) => {
                let answer = parse_json_object(&sanitize_non_finite(&out.stdout));
                let error = answer.as_ref().and_then(|v| v.get("error")).is_some();
                if !out.status.success() || error {
                    return Availability::Skipped { reason: format!("--version failed ({}): {}", out.status, failure_output(&out)) };
                }
                let parsed = answer.and_then(|v| v.get("version").and_then(|v| v.as_str()).map(str::to_owned));
                let version = parsed.unwrap_or_else(|| out.stdout.trim().to_owned());
                if version.is_empty() {
                    Availability::Skipped { reason: format!("--version printed nothing; {}", failure_output(&out)) }
                } else {
                    Availability::Available { version }
                }
            }
            Err(e) => Availability::Skipped { reason: format!("--version: {e:#}") },
        }
    }

    /// `--model`, `--method` and `--data-dir`: what `--prepare` needs besides the entry.
    fn prepare_args(&self, model: Model, method: Method, data_dir: &Path) -> Vec<String> {
        let data_dir = data_dir.strip_prefix(&self.root).unwrap_or(data_dir);
        ["--prepare", "--model", model.as_str(), "--method", method.as_str(), "--data-dir"]
            .into_iter()
            .map(str::to_owned)
            .chain([data_dir.display().to_string()])
            .collect()
    }

    /// The protocol flags for `task`.
    fn protocol_args(&self, task: &Task) -> Vec<String> {
        let c = &task.config;
        let data_dir = task.data_dir.strip_prefix(&self.root).unwrap_or(&task.data_dir);
        let mut args: Vec<String> = vec!["--model".into(), c.model.as_str().into(), "--method".into(), c.method.as_str().into()];
        let mut flag = |name: &str, value: String| {
            args.push(format!("--{name}"));
            args.push(value);
        };
        if c.model == Model::Polynomial {
            flag("n-points", c.n_points.to_string());
            flag("noise-sd", format_noise_sd(c.noise_sd.unwrap_or(0.05)));
        }
        if let Some(n) = c.n_particles {
            flag("n-particles", n.to_string());
        }
        if let Some(h) = c.hmc {
            flag("n-samples", h.n_samples.to_string());
            flag("n-warmup", h.n_warmup.to_string());
            flag("step-size", h.step_size.to_string());
            flag("n-leapfrog", h.n_leapfrog.to_string());
            // Only when it is more than one, so a framework without the flag runs its one chain.
            if h.n_chains > 1 {
                flag("n-chains", h.n_chains.to_string());
            }
        }
        if let Some(v) = c.vi {
            flag("n-steps", v.n_steps.to_string());
            flag("learning-rate", v.learning_rate.to_string());
            flag("n-elbo-samples", v.n_elbo_samples.to_string());
        }
        flag("repeats", task.repeats.external(c.method).to_string());
        flag("seed", task.seed.to_string());
        flag("data-dir", data_dir.display().to_string());
        args
    }
}

impl Adapter for External {
    fn name(&self) -> &str {
        &self.manifest.name
    }

    fn display_name(&self) -> &str {
        self.manifest.display.as_deref().unwrap_or(&self.manifest.name)
    }

    fn kind(&self) -> AdapterKind {
        if self.manifest.language == "julia" {
            AdapterKind::Julia
        } else {
            AdapterKind::Python
        }
    }

    fn supports_chains(&self, method: Method) -> bool {
        self.manifest.multi_chain.iter().any(|m| m == method.as_str())
    }

    fn supports(&self, model: Model, method: Method) -> bool {
        self.manifest.methods.get(model.as_str()).is_some_and(|ms| ms.iter().any(|m| m == method.as_str()))
    }

    fn unusable(&self) -> Option<String> {
        self.manifest.load_error.as_ref().map(|e| format!("{}: {e}", self.manifest.path.display()))
    }

    fn availability(&self) -> Availability {
        if let Some(known) = self.probed.get() {
            return known.clone();
        }
        match self.command() {
            // Not cached: a missing env is created by `prepare` and probed afterwards.
            Err(Availability::NeedsSetup { what }) => Availability::NeedsSetup { what },
            Err(other) => self.probed.get_or_init(|| other).clone(),
            Ok((program, args)) => self.probed.get_or_init(|| self.probe_version(&program, &args)).clone(),
        }
    }

    fn prepare(&mut self, progress: &Progress) -> Availability {
        if self.manifest.language == "python" && self.manifest.load_error.is_none() {
            if let (Some(env_name), Some(requirements)) = (&self.manifest.env, &self.manifest.requirements) {
                let python = self.manifest.python.as_deref().unwrap_or("python3");
                if let Err(reason) = env::ensure_venv(&self.root, env_name, requirements, python, progress) {
                    return Availability::Skipped { reason };
                }
            }
        }
        progress.set_message(format!("{} --version", self.name()));
        self.availability()
    }

    fn build(&mut self, model: Model, method: Method, data_dir: &Path, progress: &Progress) -> anyhow::Result<Option<String>> {
        if !self.manifest.prepare {
            return Ok(None);
        }
        let (program, mut args) = self.command().map_err(|a| anyhow!("{} cannot run: {a:?}", self.name()))?;
        args.extend(self.prepare_args(model, method, data_dir));
        progress.set_message(format!("{}: building {}/{} (first use only; cached)", self.name(), model.as_str(), method.as_str()));
        let out = run_child(&self.root, &program, &args, BUILD_TIMEOUT)?;
        let Some(answer) = parse_json_object(&sanitize_non_finite(&out.stdout)) else {
            bail!("--prepare printed no JSON ({}); stderr: {}", out.status, tail(&out.stderr, 600));
        };
        if let Some(error) = answer.get("error").and_then(|e| e.as_str()) {
            bail!("{error}");
        }
        if !out.status.success() {
            bail!("--prepare exited with {}; stderr: {}", out.status, tail(&out.stderr, 600));
        }
        let built = answer.get("build_time_s").and_then(serde_json::Value::as_f64).unwrap_or(0.0);
        let notes: Vec<&str> = answer.get("notes").and_then(|n| n.as_array()).map(|n| n.iter().filter_map(|s| s.as_str()).collect()).unwrap_or_default();
        Ok((built > 0.0).then(|| format!("built in {built:.1} s: {}", notes.join("; "))))
    }

    fn run(&mut self, task: &Task) -> anyhow::Result<RunResult> {
        let (program, mut args) = self.command().map_err(|a| anyhow!("{} cannot run: {a:?}", self.name()))?;
        args.extend(self.protocol_args(task));
        let raw_dir = self.manifest.raw_output.then(RawDir::create).transpose()?;
        if let Some(dir) = &raw_dir {
            args.extend(["--raw-out".to_owned(), dir.0.display().to_string()]);
        }
        let out = run_child(&self.root, &program, &args, task.timeout)?;
        let text = sanitize_non_finite(&out.stdout);
        let parsed: Option<ProtocolResult> = parse_json_object(&text).and_then(|v| serde_json::from_value(v).ok());
        let Some(result) = parsed else {
            let raw = parse_json_object(&text).map(|v| serde_json::from_value::<ProtocolResult>(v).map(|_| ()));
            if let Some(Err(e)) = raw {
                bail!("result JSON does not follow the protocol: {e}");
            }
            bail!("no JSON result on stdout ({}); stderr: {}", out.status, tail(&out.stderr, 600));
        };
        if let Some(error) = result.error {
            bail!("{error}");
        }
        if !out.status.success() {
            bail!("exit {} despite a result; stderr: {}", out.status, tail(&out.stderr, 600));
        }
        if result.times_s.is_empty() {
            bail!("the result has no timed repeats");
        }
        let mut notes = result.notes;
        let self_reported = result.peak_memory_bytes.filter(|b| b.is_finite() && *b > 0.0).map(|b| b as u64);
        let peak_memory = match (out.max_rss_bytes, self_reported) {
            (Some(bytes), reported) => {
                if let Some(r) = reported {
                    notes.push(format!("self-reported peak memory {:.1} MB", r as f64 / 1e6));
                }
                Some(PeakMemory { bytes, kind: MemoryKind::ProcessMaxRss })
            }
            (None, Some(bytes)) => Some(PeakMemory { bytes, kind: MemoryKind::SelfReported }),
            (None, None) => None,
        };
        notes.push(format!("subprocess wall clock {:.2} s", out.wall_s));
        let mut quality = result.quality;
        if let Some(dir) = &raw_dir {
            let raw = crate::raw::RawOutput::read(&dir.0).context("reading the run's raw output")?;
            let (recomputed, what) = crate::raw::recompute(quality, &raw);
            quality = recomputed;
            if !what.is_empty() {
                notes.push(format!("computed by the suite from the raw output: {}", what.join(", ")));
            }
        }
        Ok(RunResult {
            version: result.version,
            compile_time_s: result.compile_time_s.unwrap_or(0.0),
            times_s: result.times_s,
            quality,
            peak_memory,
            device: result.device.unwrap_or_else(|| "cpu".to_owned()),
            notes,
            flags: result.flags,
        })
    }
}

/// A fresh folder for one run's raw output, removed when dropped.
struct RawDir(PathBuf);

impl RawDir {
    fn create() -> anyhow::Result<Self> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("benchmarks-raw-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for RawDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Limit of one `--prepare` build. Generous: Stan's driver (stanc, then g++ on Stan's headers) takes one to three minutes per program on
/// the 2-core machine, and the build is not timed.
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The JSON object a framework prints (PROTOCOL.md "Result").
#[derive(Debug, Deserialize)]
struct ProtocolResult {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    compile_time_s: Option<f64>,
    #[serde(default)]
    times_s: Vec<f64>,
    #[serde(default)]
    quality: Quality,
    #[serde(default)]
    peak_memory_bytes: Option<f64>,
    #[serde(default)]
    notes: Vec<String>,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    device: Option<String>,
}

/// What a framework said when a call failed, never empty: the protocol's `error` from stdout,
/// the end of stderr, and the end of stdout when neither is there (a framework that reports its
/// failure only on stdout would otherwise leave an empty reason).
fn failure_output(out: &ChildOutput) -> String {
    let error = parse_json_object(&sanitize_non_finite(&out.stdout))
        .and_then(|v| v.get("error").map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned)));
    let stderr = tail(&out.stderr, 300);
    match (error, stderr.is_empty()) {
        (Some(error), true) => error,
        (Some(error), false) => format!("{error}; stderr: {stderr}"),
        (None, false) => format!("stderr: {stderr}"),
        (None, true) if !out.stdout.trim().is_empty() => format!("nothing on stderr; stdout: {}", tail(&out.stdout, 300)),
        (None, true) => "nothing on stdout or stderr".to_owned(),
    }
}

/// The whole of `text` as a JSON object, else its last line that is one (frameworks that print
/// stray lines on stdout despite the protocol).
fn parse_json_object(text: &str) -> Option<serde_json::Value> {
    let whole = serde_json::from_str::<serde_json::Value>(text.trim()).ok().filter(serde_json::Value::is_object);
    whole.or_else(|| {
        text.lines()
            .rev()
            .filter(|l| l.trim_start().starts_with('{'))
            .find_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok().filter(serde_json::Value::is_object))
    })
}

/// Rewrites the bare `NaN`, `Infinity` and `-Infinity` that Python's `json.dumps` emits (invalid
/// JSON) into strings, outside string literals, so the quality fields can read them as non-finite.
#[must_use]
pub fn sanitize_non_finite(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(token) = ["-Infinity", "Infinity", "NaN"].into_iter().find(|t| rest.starts_with(t)) {
            out.push('"');
            out.push_str(token);
            out.push('"');
            rest = &rest[token.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A run killed at its wall-clock limit.
#[derive(Debug, thiserror::Error)]
#[error("timed out after {seconds} s (--timeout); stderr: {stderr_tail}")]
pub struct TimedOut {
    /// The limit.
    pub seconds: u64,
    /// The end of what the framework wrote to stderr.
    pub stderr_tail: String,
}

/// What a finished subprocess left.
#[derive(Debug)]
pub struct ChildOutput {
    /// Exit status (of the wrapper, which passes the framework's on).
    pub status: ExitStatus,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
    /// Max RSS of the framework process, when the wrapper measured it.
    pub max_rss_bytes: Option<u64>,
    /// Wall clock of the whole subprocess, seconds.
    pub wall_s: f64,
}

static WRAPPER: OnceLock<PathBuf> = OnceLock::new();

/// Name of the hidden subcommand that runs a command and reports its max RSS.
pub const RUSAGE_EXEC: &str = "__rusage-exec";

/// Makes external runs go through `exe RUSAGE_EXEC` (called by the binary with its own path; a
/// library user that never calls it runs frameworks directly, without the max-RSS measurement).
pub fn use_rusage_wrapper(exe: PathBuf) {
    let _ = WRAPPER.set(exe);
}

/// How long the output pipes may stay open after the framework has exited: a process it started
/// in another process group (out of reach of the group kill) can hold them open for ever.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// How often a wait on a child looks at the clock, the stop flag and the parent.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Runs `program args` from `root` with a wall-clock limit; stdout and stderr are captured.
///
/// Every wait is bounded and interruptible: the child is polled together with its pipes, so the
/// limit and a stop request are seen within `POLL_INTERVAL` whatever the child does; after it
/// exits, its process group is killed and the pipes are read for at most `PIPE_GRACE` more
/// (a grandchild in another group that keeps them open is left behind with a note on stderr).
/// The child dies with this process: through the wrapper's watchdog ([`rusage_exec`]) or, without
/// the wrapper, through `PR_SET_PDEATHSIG`.
///
/// # Errors
/// On a spawn failure, a timeout ([`TimedOut`]; the process group is killed) or a stop request
/// ([`Interrupted`]).
pub fn run_child(root: &Path, program: &Path, args: &[String], timeout: Duration) -> anyhow::Result<ChildOutput> {
    use std::os::unix::process::CommandExt;
    let report = tempfile_path("rss");
    let mut cmd = match WRAPPER.get() {
        Some(exe) => {
            let mut c = Command::new(exe);
            c.arg(RUSAGE_EXEC).arg("--parent").arg(std::process::id().to_string()).arg(&report).arg("--").arg(program).args(args);
            c
        }
        None => {
            let mut c = Command::new(program);
            c.args(args);
            die_with_parent(&mut c);
            c
        }
    };
    cmd.current_dir(root).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("cannot start {}", program.display()))?;
    let pgid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).context("pid out of range")?);
    let kill_group = || {
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    };
    let mut pipes = Pipes::new(child.stdout.take().expect("stdout is piped"), child.stderr.take().expect("stderr is piped"));
    let mut exited: Option<(ExitStatus, Instant)> = None;
    loop {
        pipes.read_ready(POLL_INTERVAL);
        if exited.is_none() {
            if let Some(status) = child.try_wait().context("waiting for the framework")? {
                // Grandchildren in its group that outlive the framework would hold the pipes open.
                kill_group();
                exited = Some((status, Instant::now()));
            }
        }
        if interrupt::requested() {
            kill_group();
            let _ = child.wait();
            let _ = fs::remove_file(&report);
            return Err(Interrupted.into());
        }
        match exited {
            None if start.elapsed() > timeout => {
                kill_group();
                let _ = child.wait();
                let _ = fs::remove_file(&report);
                pipes.read_ready(Duration::ZERO);
                return Err(TimedOut { seconds: timeout.as_secs(), stderr_tail: tail(&pipes.stderr(), 400) }.into());
            }
            Some((status, at)) if pipes.closed() || at.elapsed() > PIPE_GRACE => {
                let wall_s = at.duration_since(start).as_secs_f64();
                let mut stderr = pipes.stderr();
                if !pipes.closed() {
                    stderr.push_str(&format!(
                        "\n[benchmarks: the framework exited but a process it started kept its output open; stopped reading after {} s]",
                        PIPE_GRACE.as_secs()
                    ));
                }
                let max_rss_bytes = fs::read_to_string(&report).ok().and_then(|s| s.trim().parse().ok());
                let _ = fs::remove_file(&report);
                return Ok(ChildOutput { status, stdout: pipes.stdout(), stderr, max_rss_bytes, wall_s });
            }
            _ => {}
        }
    }
}

/// A child's stdout and stderr, read as data arrives (never blocking past the poll interval), so
/// a chatty child never stalls on a full pipe and a silent one never stalls the parent.
struct Pipes {
    /// stdout, then stderr.
    streams: [Stream; 2],
}

/// One pipe (`None` once at end of file) and what came through it.
struct Stream {
    pipe: Option<Box<dyn ReadFd>>,
    data: Vec<u8>,
}

/// A pipe that can be polled and read.
trait ReadFd: Read + std::os::fd::AsFd {}
impl<T: Read + std::os::fd::AsFd> ReadFd for T {}

impl Pipes {
    fn new(stdout: std::process::ChildStdout, stderr: std::process::ChildStderr) -> Self {
        let stream = |pipe: Box<dyn ReadFd>| Stream { pipe: Some(pipe), data: Vec::new() };
        Self { streams: [stream(Box::new(stdout)), stream(Box::new(stderr))] }
    }

    /// Waits up to `wait` for data on the open pipes and reads what is there; a pipe at end of
    /// file (or in error) is closed. Without open pipes it just sleeps `wait`.
    fn read_ready(&mut self, wait: Duration) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut open: Vec<&mut Stream> = self.streams.iter_mut().filter(|s| s.pipe.is_some()).collect();
        if open.is_empty() {
            std::thread::sleep(wait);
            return;
        }
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd> =
                open.iter().filter_map(|s| s.pipe.as_ref()).map(|p| PollFd::new(p.as_fd(), PollFlags::POLLIN)).collect();
            let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, timeout) {
                Ok(_) => fds.iter().map(|fd| fd.revents().is_some_and(|r| !r.is_empty())).collect(),
                // EINTR (a signal such as Ctrl-C): the caller looks at the stop flag and polls again.
                Err(_) => vec![false; fds.len()],
            }
        };
        for (stream, ready) in open.iter_mut().zip(ready) {
            let Some(pipe) = stream.pipe.as_mut().filter(|_| ready) else { continue };
            let mut chunk = [0u8; 65536];
            // poll said readable (or hung up), so one read returns without blocking.
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => stream.pipe = None,
                Ok(n) => stream.data.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Whether both pipes reached end of file.
    fn closed(&self) -> bool {
        self.streams.iter().all(|s| s.pipe.is_none())
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.streams[0].data).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.streams[1].data).into_owned()
    }
}

/// Makes the spawned process receive SIGKILL when this thread's process ends (Linux
/// `PR_SET_PDEATHSIG`), and exit at once if that already happened between fork and exec.
#[allow(unsafe_code)] // `pre_exec` is unsafe by definition; the closure below only makes system calls.
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe system
    // calls (prctl, getppid, _exit).
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)?;
            if nix::unistd::getppid() != parent {
                nix::libc::_exit(137);
            }
            Ok(())
        });
    }
}

fn tempfile_path(tag: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("benchmarks-{}-{tag}-{n}", std::process::id()))
}

/// The hidden wrapper: runs `command` with inherited stdio, writes the max RSS of it and its
/// descendants (getrusage of the waited-for children, in bytes) to `report`, and returns the exit
/// code to pass on (128 + signal when it was killed).
///
/// It is also the watchdog that ties the framework to the benchmark run: it leads the process
/// group the framework and everything it starts belong to, and when its parent (process `parent`)
/// is gone, killed by SIGKILL or a second Ctrl-C included, it kills that whole group, itself
/// with it. (`PR_SET_PDEATHSIG` alone would reach only the framework, not what it started.)
pub fn rusage_exec(report: &Path, parent: Option<u32>, command: &[String]) -> anyhow::Result<i32> {
    use std::os::unix::process::ExitStatusExt;
    let (program, args) = command.split_first().context("__rusage-exec needs a command")?;
    let orphaned = || parent.is_some_and(|p| nix::unistd::getppid().as_raw() != p as i32);
    let kill_group = || {
        let _ = nix::sys::signal::killpg(nix::unistd::getpgrp(), nix::sys::signal::Signal::SIGKILL);
    };
    if orphaned() {
        kill_group();
    }
    let mut framework = Command::new(program);
    framework.args(args);
    die_with_parent(&mut framework);
    let mut child = framework.spawn().with_context(|| format!("cannot start {program}"))?;
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for the framework")? {
            break status;
        }
        if orphaned() {
            kill_group();
        }
        std::thread::sleep(POLL_INTERVAL);
    };
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).context("getrusage")?;
    // Linux reports ru_maxrss in KiB.
    fs::write(report, (usage.max_rss().max(0) as u64 * 1024).to_string()).with_context(|| format!("cannot write {}", report.display()))?;
    Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// The first executable called `name` on `$PATH`.
#[must_use]
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_non_finite_numbers_become_strings_outside_string_literals() {
        let s = sanitize_non_finite(r#"{"a": NaN, "b": -Infinity, "c": "NaN \" Infinity", "d": [Infinity]}"#);
        assert_eq!(s, r#"{"a": "NaN", "b": "-Infinity", "c": "NaN \" Infinity", "d": ["Infinity"]}"#);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["c"], "NaN \" Infinity");
    }

    #[test]
    fn a_result_is_found_after_stray_lines() {
        let v = parse_json_object("warning: something\n{\"times_s\": [0.1]}\n").unwrap();
        assert_eq!(v["times_s"][0], 0.1);
    }
}

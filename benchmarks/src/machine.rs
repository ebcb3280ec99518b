//! What the results were measured on: CPU, cores, memory, OS, GPU, git commit (for metadata.json).

use std::path::Path;
use std::process::Command;

use serde::Serialize;

/// Hardware and software of this run.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// CPU model name from /proc/cpuinfo.
    pub cpu_model: String,
    /// Logical cores this process may use.
    pub logical_cores: usize,
    /// Physical cores (distinct core ids), when /proc/cpuinfo says.
    pub physical_cores: Option<usize>,
    /// Total memory, bytes.
    pub memory_bytes: Option<u64>,
    /// OS name (/etc/os-release PRETTY_NAME).
    pub os: String,
    /// Kernel release.
    pub kernel: String,
    /// GPUs from `nvidia-smi`, if any.
    pub gpus: Vec<String>,
    /// `rustc --version` of the toolchain on PATH.
    pub rustc: Option<String>,
}

/// The repository's commit.
#[derive(Clone, Debug, Serialize)]
pub struct GitInfo {
    /// `git rev-parse HEAD`, or `None` outside git or before the first commit.
    pub commit: Option<String>,
    /// Whether tracked files differ from the commit.
    pub dirty: Option<bool>,
}

impl Machine {
    /// Reads the machine description (best effort: unknown fields are empty).
    #[must_use]
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split(':').nth(1)))
            .map_or_else(|| std::env::consts::ARCH.to_owned(), |s| s.trim().to_owned());
        let mut cores: Vec<(&str, &str)> = Vec::new();
        let (mut physical_id, mut core_id) = ("0", None);
        for line in cpuinfo.lines() {
            if let Some(v) = line.strip_prefix("physical id").and_then(|r| r.split(':').nth(1)) {
                physical_id = v.trim();
            }
            if let Some(v) = line.strip_prefix("core id").and_then(|r| r.split(':').nth(1)) {
                core_id = Some(v.trim());
            }
            if line.trim().is_empty() {
                if let Some(c) = core_id.take() {
                    if !cores.contains(&(physical_id, c)) {
                        cores.push((physical_id, c));
                    }
                }
            }
        }
        let memory_bytes = meminfo_bytes("MemTotal");
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|s| s.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_owned())))
            .unwrap_or_else(|| std::env::consts::OS.to_owned());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(|_| String::new(), |s| s.trim().to_owned());
        let gpus = command_output("nvidia-smi", &["--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"])
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default();
        Self {
            cpu_model,
            logical_cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            physical_cores: (!cores.is_empty()).then_some(cores.len()),
            memory_bytes,
            os,
            kernel,
            gpus,
            rustc: command_output("rustc", &["--version"]),
        }
    }
}

impl GitInfo {
    /// The commit of the repository at `root`.
    #[must_use]
    pub fn detect(root: &Path) -> Self {
        let git = |args: &[&str]| {
            Command::new("git").arg("-C").arg(root).args(args).output().ok().filter(|o| o.status.success()).map(|o| o.stdout)
        };
        let commit = git(&["rev-parse", "HEAD"]).map(|o| String::from_utf8_lossy(&o).trim().to_owned());
        let dirty = commit.as_ref().and_then(|_| git(&["status", "--porcelain", "--untracked-files=no"])).map(|o| !o.is_empty());
        Self { commit, dirty }
    }
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok().filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// A `/proc/meminfo` field in bytes (`MemTotal`, `MemAvailable`, ...), where the kernel has one.
#[must_use]
pub fn meminfo_bytes(field: &str) -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

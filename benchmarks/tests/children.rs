//! Every wait on a framework's process is bounded and interruptible, and nothing a run started
//! outlives it: a hanging `--version`, a grandchild that keeps the output pipes open, Ctrl-C
//! during a probe, and a SIGKILL of the benchmark binary with the framework (and a process the
//! framework started) alive. A killed run is reported as such by the next run and by `plot`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use benchmarks::export::{read_summary, RowStatus};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Writes a fake Python framework `name` under `root` whose interpreter is `script`.
fn fake_framework(root: &Path, name: &str, script: &str) {
    let comparisons = root.join("comparisons");
    let write = |path: &Path, text: &str| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(&comparisons.join("PROTOCOL.md"), "scratch");
    write(
        &comparisons.join(format!("frameworks/{name}.json")),
        &format!(
            r#"{{"name": "{name}", "language": "python", "env": "{name}", "requirements": "r.txt", "entry": ["x.py"], "methods": {{"polynomial": ["is"]}}}}"#
        ),
    );
    let python = comparisons.join(format!(".venv-{name}/bin/python"));
    write(&python, script);
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A protocol answer for one polynomial IS run.
const RESULT: &str = r#"echo '{"framework": "f", "version": "1", "compile_time_s": 0.0, "times_s": [0.001, 0.001, 0.001, 0.001, 0.001], "quality": {"log_ml": -20.0, "ess": 50.0}}'"#;

fn run_is(root: &Path, framework: &str, timeout_s: u64) -> std::process::Command {
    let mut cmd = common::bin();
    cmd.env("BENCHMARKS_ROOT", root)
        .args(["polynomial-is", "--frameworks", framework, "--data-size", "10", "--noise-sd", "1.0", "--n-particles", "100"])
        .args(["--repeats", "5", "--no-plots", "--timeout", &timeout_s.to_string()]);
    cmd
}

/// Whether process `pid` is gone (a zombie nobody reaps counts as gone: it runs nothing).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn read_pids(file: &Path) -> Vec<i32> {
    std::fs::read_to_string(file).unwrap_or_default().split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

#[test]
fn a_hanging_version_probe_ends_at_the_run_limit() {
    let root = common::scratch_root("hanging-version");
    fake_framework(&root, "hangs", &format!("#!/bin/bash\ncase \" $* \" in *\" --version \"*) exec sleep 120 ;; esac\n{RESULT}\n"));
    let out = root.join("out");
    let start = Instant::now();
    let run = run_is(&root, "hangs", 2).arg("--out").arg(&out).output().unwrap();
    let took = start.elapsed();
    // Before: the probe had a fixed 300 s limit whatever --timeout said.
    assert!(took < Duration::from_secs(30), "the run took {took:?} with --timeout 2");
    assert!(run.status.success(), "a skipped framework is a row: {}", String::from_utf8_lossy(&run.stderr));
    let rows = read_summary(&out.join("summary.csv")).unwrap();
    let row = rows.iter().find(|r| r.framework == "hangs").expect("a row for the framework");
    assert_eq!(row.status, Some(RowStatus::Skipped));
    assert!(row.message.contains("--version") && row.message.contains("timed out after 2 s"), "{}", row.message);
    common::cleanup(&root);
}

#[test]
fn ctrl_c_during_a_version_probe_stops_the_run_at_once() {
    let root = common::scratch_root("interrupt-probe");
    let started = root.join("probe-started");
    fake_framework(
        &root,
        "slowprobe",
        &format!("#!/bin/bash\ncase \" $* \" in *\" --version \"*) touch '{}'; exec sleep 120 ;; esac\n{RESULT}\n", started.display()),
    );
    let mut child = run_is(&root, "slowprobe", 300).arg("--out").arg(root.join("out")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while !started.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "the probe never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let sent = Instant::now();
    let status = child.wait().unwrap();
    assert!(sent.elapsed() < Duration::from_secs(10), "took {:?} to stop", sent.elapsed());
    assert_eq!(status.code(), Some(130));
    common::cleanup(&root);
}

#[test]
fn a_grandchild_holding_the_output_pipes_does_not_stall_the_run() {
    let root = common::scratch_root("grandchild-pipes");
    let pids = root.join("grandchild.pid");
    // `setsid` puts the grandchild in a session (and process group) of its own, out of reach of
    // the kill of the framework's group; it inherits stdout and stderr and sleeps on them.
    fake_framework(
        &root,
        "leaky",
        &format!(
            "#!/bin/bash\ncase \" $* \" in *\" --version \"*) echo '{{\"version\": \"1\"}}'; exit 0 ;; esac\nsetsid sleep 60 &\necho $! >> '{}'\n{RESULT}\n",
            pids.display()
        ),
    );
    let out = root.join("out");
    let start = Instant::now();
    // One round: one call of the fake (its result always holds five repeats).
    let run = run_is(&root, "leaky", 120).arg("--out").arg(&out).args(["--rounds", "1"]).output().unwrap();
    let took = start.elapsed();
    for pid in read_pids(&pids) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    // Before: the parent waited for the pipes to close, 60 s per call.
    assert!(took < Duration::from_secs(30), "the run took {took:?}");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let rows = read_summary(&out.join("summary.csv")).unwrap();
    let row = rows.iter().find(|r| r.framework == "leaky").expect("a row");
    assert_eq!(row.status, Some(RowStatus::Ok), "{row:?}");
    assert_eq!(row.repeats, Some(5));
    common::cleanup(&root);
}

/// The result folders a run under `root` created in its data folder.
fn result_folders(root: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(root.join("data"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().unwrap().to_string_lossy().starts_with("benchmark_"))
        .collect()
}

#[test]
fn the_framework_and_what_it_started_die_with_a_killed_run_and_the_next_run_says_so() {
    let root = common::scratch_root("orphans");
    let pids = root.join("framework.pids");
    // The framework starts a helper process of its own, then works for a minute.
    fake_framework(
        &root,
        "stuck",
        &format!(
            "#!/bin/bash\ncase \" $* \" in *\" --version \"*) echo '{{\"version\": \"1\"}}'; exit 0 ;; esac\nsleep 120 &\necho $! >> '{p}'\necho $$ >> '{p}'\nwait\n",
            p = pids.display()
        ),
    );
    let mut child = run_is(&root, "stuck", 300).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while read_pids(&pids).len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(60), "the framework never started");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it was killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    let killed = Instant::now();
    let framework = read_pids(&pids);
    while !framework.iter().all(|&pid| gone(pid)) {
        if killed.elapsed() > Duration::from_secs(10) {
            for &pid in &framework {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            panic!("the framework's processes {framework:?} outlived the killed run by 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    let folders = result_folders(&root);
    assert_eq!(folders.len(), 1, "{folders:?}");
    let killed_run = &folders[0];
    let plot = common::bin().env("BENCHMARKS_ROOT", &root).arg("plot").arg("--data").arg(killed_run).arg("--out").arg(root.join("figs")).output().unwrap();
    let stderr = String::from_utf8_lossy(&plot.stderr);
    assert!(stderr.contains("ended abnormally"), "plot says the run was killed: {stderr}");

    let next = common::bin()
        .env("BENCHMARKS_ROOT", &root)
        .args(["polynomial-is", "--frameworks", "handcoded-rust", "--data-size", "10", "--noise-sd", "1.0", "--n-particles", "100"])
        .args(["--repeats", "5", "--no-plots"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&next.stderr);
    assert!(next.status.success(), "{stderr}");
    assert!(stderr.contains("ended abnormally") && stderr.contains(&*killed_run.file_name().unwrap().to_string_lossy()), "{stderr}");
    let metadata: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(killed_run.join("metadata.json")).unwrap()).unwrap();
    assert_eq!(metadata["status"], "aborted", "marked, so it is reported once");
    let again = common::bin()
        .env("BENCHMARKS_ROOT", &root)
        .args(["polynomial-is", "--frameworks", "handcoded-rust", "--data-size", "10", "--noise-sd", "1.0", "--n-particles", "100"])
        .args(["--repeats", "5", "--no-plots"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&again.stderr).contains("ended abnormally"), "reported once");
    common::cleanup(&root);
}

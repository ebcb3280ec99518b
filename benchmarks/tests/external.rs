//! External frameworks through the protocol, with a fake framework: a good result, an error
//! result, a crash and a hang are recorded as rows and the run goes on; unusable manifests are
//! skipped with the reason.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use benchmarks::export::{read_summary, RowStatus};

/// A stand-in interpreter whose behaviour depends on --n-points.
const FAKE_PYTHON: &str = r#"#!/bin/bash
args=" $* "
case "$args" in
  *" --version "*) echo '{"framework": "fake", "version": "1.2.3"}'; exit 0 ;;
  *" --n-points 10 "*)
    echo "log line on stderr" >&2
    echo '{"framework": "fake", "version": "1.2.3", "model": "polynomial", "method": "is",'
    echo ' "compile_time_s": 0.5, "times_s": [0.001, 0.002, 0.003, 0.002, 0.001],'
    echo ' "quality": {"log_ml": NaN, "ess": 12.0, "posterior_mean": [0.1, 0.2, 0.3]},'
    echo ' "peak_memory_bytes": 1000000, "notes": ["a note"], "flags": ["fake-flag"]}'
    exit 0 ;;
  *" --n-points 50 "*) echo '{"framework": "fake", "error": "no such model here"}'; exit 1 ;;
  *" --n-points 100 "*) echo "Traceback: boom" >&2; exit 3 ;;
  *) sleep 30; exit 0 ;;
esac
"#;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Three polynomial/is frameworks under `comparisons`: `fake` (the stand-in [`FAKE_PYTHON`] in an
/// env that exists), `nofile` (whose env cannot be created: its requirements file is missing)
/// and `jl` (Julia, not on the tests' PATH).
fn fake_frameworks(comparisons: &Path) {
    let methods = r#""methods": {"polynomial": ["is"]}"#;
    write(
        &comparisons.join("frameworks/fake.json"),
        &format!(
            r#"{{"name": "fake", "display": "Fake", "language": "python", "env": "fake", "requirements": "r.txt", "entry": ["comparisons/fake.py"], {methods}}}"#
        ),
    );
    write(
        &comparisons.join("frameworks/nofile.json"),
        &format!(r#"{{"name": "nofile", "language": "python", "env": "nofile", "requirements": "absent.txt", "entry": ["x.py"], {methods}}}"#),
    );
    write(&comparisons.join("frameworks/jl.json"), &format!(r#"{{"name": "jl", "language": "julia", "entry": ["julia/run.jl"], {methods}}}"#));
    let python = comparisons.join(".venv-fake/bin/python");
    write(&python, FAKE_PYTHON);
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn failures_are_rows_and_the_run_goes_on() {
    let root = common::scratch_root("external");
    let comparisons = root.join("comparisons");
    write(&comparisons.join("PROTOCOL.md"), "scratch");
    fake_frameworks(&comparisons);
    write(&comparisons.join("frameworks/broken.json"), "{ not json");

    let list = common::bin().arg("list").env("BENCHMARKS_ROOT", &root).env("PATH", "/usr/bin:/bin").output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    let line = |name: &str| {
        list.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name} missing from\n{list}")).to_owned()
    };
    assert!(line("fake").contains("1.2.3"), "{list}");
    assert!(line("nofile").contains("env not created"), "{list}");
    assert!(line("jl").contains("julia not on PATH"), "{list}");
    assert!(line("broken").contains("does not parse"), "{list}");

    let out = root.join("out");
    let status = common::bin()
        .env("BENCHMARKS_ROOT", &root)
        .env("PATH", "/usr/bin:/bin")
        .args(["polynomial-is", "--frameworks", "fake,nofile,jl", "--data-size", "10,50,100,500,1000", "--noise-sd", "1.0"])
        .args(["--n-particles", "100", "--timeout", "2", "--no-plots"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let rows = read_summary(&out.join("summary.csv")).unwrap();
    let find = |framework: &str, n: Option<usize>| {
        rows.iter().find(|r| r.framework == framework && r.n_points == n).unwrap_or_else(|| panic!("no row {framework} {n:?}: {rows:#?}"))
    };

    let good = find("fake", Some(10));
    assert_eq!(good.status, Some(RowStatus::Ok));
    // Two rounds (the default), each the fake's five repeats, merged into one row.
    assert_eq!((good.repeats, good.median_time, good.compile_time), (Some(10), Some(0.002), Some(0.5)));
    assert!(good.notes.contains("2 rounds interleaved"), "{}", good.notes);
    assert_eq!(good.version, "1.2.3");
    assert_eq!(good.quality_ok, Some(false));
    assert!(good.quality_reason.contains("log-ML is NaN"), "{}", good.quality_reason);
    assert_eq!(good.memory_kind, "process_max_rss");
    assert!(good.notes.contains("a note") && good.flags == "fake-flag");

    let error = find("fake", Some(50));
    assert_eq!((error.status, error.message.as_str()), (Some(RowStatus::Failed), "no such model here"));
    let crash = find("fake", Some(100));
    assert_eq!(crash.status, Some(RowStatus::Failed));
    assert!(crash.message.contains("boom") && crash.message.contains("exit status: 3"), "{}", crash.message);
    let hang = find("fake", Some(500));
    assert!(hang.message.contains("timed out after 2 s"), "{}", hang.message);
    let larger = find("fake", Some(1000));
    assert!(larger.message.contains("not run") && larger.message.contains("n=500"), "{}", larger.message);

    let nofile = find("nofile", None);
    assert_eq!(nofile.status, Some(RowStatus::Skipped));
    assert!(nofile.message.contains("absent.txt"), "{}", nofile.message);
    assert!(!comparisons.join(".venv-nofile").exists(), "a failed set-up leaves nothing behind");
    assert!(find("jl", None).message.contains("julia not on PATH"));

    let metadata: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("metadata.json")).unwrap()).unwrap();
    assert_eq!(metadata["status"], "finished");
    let fake = metadata["frameworks"].as_array().unwrap().iter().find(|f| f["name"] == "fake").unwrap();
    assert_eq!(fake["availability"]["version"], "1.2.3");
    common::cleanup(&root);
}

/// A stand-in interpreter with a build step: `--prepare` takes longer than the run limit and
/// leaves a marker that the timed runs need; `FAIL_BUILD` in the entry makes the build fail.
const BUILDING_PYTHON: &str = r#"#!/bin/bash
args=" $* "
marker="$(dirname "$0")/built"
case "$args" in
  *" --version "*) echo '{"framework": "x", "version": "0.1"}'; exit 0 ;;
  *" FAIL_BUILD --prepare "*) echo "g++: internal compiler error" >&2; echo '{"framework": "x", "error": "compiler failed"}'; exit 1 ;;
  *" --prepare "*) sleep 3; touch "$marker"; echo '{"framework": "x", "prepared": true, "build_time_s": 3.0, "notes": ["compiled"]}'; exit 0 ;;
  *)
    [ -e "$marker" ] || { echo '{"framework": "x", "error": "not built"}'; exit 1; }
    echo '{"framework": "x", "version": "0.1", "compile_time_s": 0.0, "times_s": [0.001, 0.001, 0.001, 0.001, 0.001],'
    echo ' "quality": {"log_ml": -20.0, "ess": 50.0}}'
    exit 0 ;;
esac
"#;

#[test]
fn a_build_step_runs_once_before_timing_and_outside_the_run_limit() {
    let root = common::scratch_root("external-build");
    let comparisons = root.join("comparisons");
    write(&comparisons.join("PROTOCOL.md"), "scratch");
    for (name, entry) in [("builds", r#"["x.py"]"#), ("breaks", r#"["x.py", "FAIL_BUILD"]"#)] {
        write(
            &comparisons.join(format!("frameworks/{name}.json")),
            &format!(
                r#"{{"name": "{name}", "language": "python", "env": "{name}", "requirements": "r.txt", "entry": {entry}, "prepare": true, "methods": {{"polynomial": ["is"]}}}}"#
            ),
        );
        let python = comparisons.join(format!(".venv-{name}/bin/python"));
        write(&python, BUILDING_PYTHON);
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = root.join("out");
    let status = common::bin()
        .env("BENCHMARKS_ROOT", &root)
        .args(["polynomial-is", "--frameworks", "builds,breaks", "--data-size", "10,50", "--noise-sd", "1.0"])
        .args(["--n-particles", "100", "--timeout", "2", "--no-plots"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(status.status.success(), "{stderr}");
    assert!(stderr.contains("builds: polynomial/is built in 3.0 s: compiled"), "{stderr}");
    let rows = read_summary(&out.join("summary.csv")).unwrap();
    for n in [10, 50] {
        let row = rows.iter().find(|r| r.framework == "builds" && r.n_points == Some(n)).unwrap();
        assert_eq!(row.status, Some(RowStatus::Ok), "{row:?}");
        let row = rows.iter().find(|r| r.framework == "breaks" && r.n_points == Some(n)).unwrap();
        assert_eq!(row.status, Some(RowStatus::Failed));
        assert!(row.message.contains("build failed: compiler failed"), "{}", row.message);
    }
    common::cleanup(&root);
}

/// A stand-in interpreter whose `--version` fails the way a module missing from the env does:
/// the protocol's error object on stdout, nothing on stderr.
const QUIET_PYTHON: &str = r#"#!/bin/bash
echo '{"framework": "quiet", "error": "No module named quietlib"}'
exit 1
"#;

#[test]
fn a_malformed_manifest_is_a_skipped_row_with_its_position() {
    let root = common::scratch_root("malformed-manifest");
    let comparisons = root.join("comparisons");
    write(&comparisons.join("PROTOCOL.md"), "scratch");
    write(&comparisons.join("frameworks/numpyro.json"), "{\"name\": \"numpyro\",\n  \"language\": \"python\",,\n}");
    write(
        &comparisons.join("frameworks/quiet.json"),
        r#"{"name": "quiet", "language": "python", "env": "quiet", "requirements": "r.txt", "entry": ["q.py"], "methods": {"polynomial": ["is"]}}"#,
    );
    let python = comparisons.join(".venv-quiet/bin/python");
    write(&python, QUIET_PYTHON);
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();

    let list = common::bin().arg("list").env("BENCHMARKS_ROOT", &root).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    let line = |name: &str| list.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name} missing from\n{list}")).to_owned();
    let numpyro = line("numpyro");
    assert!(numpyro.contains("skipped") && numpyro.contains("numpyro.json") && numpyro.contains("line 2 column"), "{numpyro}");
    assert!(line("quiet").contains("No module named quietlib"), "a failed --version shows what it said: {}", line("quiet"));

    let out = root.join("out");
    let run = common::bin().env("BENCHMARKS_ROOT", &root).args(["test", "--frameworks", "numpyro", "--no-plots", "--out"]).arg(&out).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(!run.status.success(), "a smoke run of a framework that cannot run does not pass: {stdout}");
    assert!(stdout.contains("skipped numpyro") && stdout.contains("line 2 column"), "{stdout}");
    let rows = read_summary(&out.join("summary.csv")).unwrap();
    assert!(!rows.is_empty(), "the framework has rows");
    for row in &rows {
        assert_eq!((row.framework.as_str(), row.status), ("numpyro", Some(RowStatus::Skipped)));
        assert!(row.message.contains("numpyro.json") && row.message.contains("does not parse"), "{}", row.message);
    }
    // Without --frameworks it is still there, and the smoke run of the rest passes.
    let out_all = root.join("out-all");
    let run = common::bin()
        .env("BENCHMARKS_ROOT", &root)
        .args(["beta-bernoulli", "--frameworks", "handcoded-rust,numpyro", "--no-plots", "--out"])
        .arg(&out_all)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let rows = read_summary(&out_all.join("summary.csv")).unwrap();
    assert!(rows.iter().any(|r| r.framework == "numpyro" && r.status == Some(RowStatus::Skipped)), "{rows:#?}");
    common::cleanup(&root);
}

#[test]
fn a_named_framework_that_produces_no_row_fails_the_run() {
    let root = common::scratch_root("no-rows");
    // gen-burn has no particle filter, so the `hmm` suite gives it nothing to run.
    let out = common::bin()
        .env("BENCHMARKS_ROOT", &root)
        .args(["hmm", "--frameworks", "gen-burn", "--no-plots", "--out"])
        .arg(root.join("out"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no row for --frameworks gen-burn"), "{stderr}");
    common::cleanup(&root);
}

/// A stand-in whose IS answer is wrong (log-ML off by 50 nats); with `FLAG` in its entry the
/// row carries a known-defect flag.
const WRONG_PYTHON: &str = r#"#!/bin/bash
case " $* " in *" --version "*) echo '{"framework": "wrong", "version": "1"}'; exit 0 ;; esac
flags='[]'
case " $* " in *" FLAG "*) flags='["wrong-1.0-known-bug"]' ;; esac
echo "{\"framework\": \"wrong\", \"version\": \"1\", \"compile_time_s\": 0.0, \"times_s\": [0.001, 0.001, 0.001, 0.001, 0.001],"
echo " \"quality\": {\"log_ml\": -1000.0, \"ess\": 500.0}, \"flags\": $flags}"
"#;

#[test]
fn a_smoke_run_fails_on_a_wrong_answer_unless_it_is_a_flagged_known_defect() {
    for (entry, passes) in [(r#"["x.py"]"#, false), (r#"["x.py", "FLAG"]"#, true)] {
        let root = common::scratch_root(if passes { "smoke-flagged" } else { "smoke-wrong" });
        let comparisons = root.join("comparisons");
        write(
            &comparisons.join("frameworks/wrong.json"),
            &format!(r#"{{"name": "wrong", "language": "python", "env": "wrong", "requirements": "r.txt", "entry": {entry}, "methods": {{"beta_bernoulli": ["is"]}}}}"#),
        );
        let python = comparisons.join(".venv-wrong/bin/python");
        write(&python, WRONG_PYTHON);
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = root.join("out");
        let run = common::bin().env("BENCHMARKS_ROOT", &root).args(["test", "--frameworks", "wrong", "--no-plots", "--out"]).arg(&out).output().unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert_eq!(run.status.success(), passes, "{stdout}");
        if passes {
            assert!(stdout.contains("a known defect of the release") && stdout.contains("wrong-1.0-known-bug"), "{stdout}");
        } else {
            assert!(stdout.contains("quality not ok: wrong beta_bernoulli/is"), "{stdout}");
        }
        common::cleanup(&root);
    }
}

/// `benchmarks setup` goes through each framework's `prepare`: a framework whose env exists is
/// ready with the version it reports, one whose env cannot be created (its requirements file is
/// missing) fails the command naming it, and a Julia framework without Julia is skipped, not a
/// failure. With --frameworks, only the named ones are touched (no test-only env is created).
#[test]
fn setup_prepares_every_named_framework_and_fails_on_one_that_cannot_be_set_up() {
    let root = common::scratch_root("setup");
    let comparisons = root.join("comparisons");
    fake_frameworks(&comparisons);

    let run = |frameworks: &str| {
        let out = common::bin().env("BENCHMARKS_ROOT", &root).env("PATH", "/usr/bin:/bin").args(["setup", "--frameworks", frameworks]).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, stdout, stderr) = run("fake,jl");
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.lines().any(|l| l.starts_with("fake") && l.contains("ready (1.2.3)")), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("jl") && l.contains("skipped")), "{stdout}");

    let (code, stdout, stderr) = run("fake,nofile");
    assert_eq!(code, Some(1), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.lines().any(|l| l.starts_with("nofile") && l.contains("FAILED") && l.contains("absent.txt")), "{stdout}");
    assert!(stderr.contains("could not set up nofile"), "{stderr}");
    assert!(!comparisons.join(".venv-nofile").exists(), "a failed env is removed");
    assert!(!comparisons.join(".venv-arviz").exists(), "--frameworks creates no test-only env");
    common::cleanup(&root);
}

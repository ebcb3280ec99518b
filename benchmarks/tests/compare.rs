//! `benchmarks compare` on real runs: two runs of the same code report no regression and exit 0;
//! a run made slower on purpose is reported and exits non-zero. The framework is a stand-in
//! that times its own sleeps, so the slowdown is a measured one and the test does not depend on
//! how fast this machine runs a model.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A stand-in interpreter whose every repeat sleeps `$SLEEP_S` seconds and reports the wall
/// clock it measured (nanoseconds from `date`), as many repeats as `--repeats` asks for.
const SLEEPING_PYTHON: &str = r#"#!/bin/bash
args=" $* "
case "$args" in
  *" --version "*) echo '{"framework": "sleeper", "version": "1"}'; exit 0 ;;
esac
repeats=5
while [ $# -gt 0 ]; do
  if [ "$1" = "--repeats" ]; then repeats=$2; fi
  shift
done
times=""
for i in $(seq 1 "$repeats"); do
  start=$(date +%s%N)
  sleep "$SLEEP_S"
  end=$(date +%s%N)
  t=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.9f", (b - a) / 1e9 }')
  times="$times${times:+, }$t"
done
echo "{\"framework\": \"sleeper\", \"version\": \"1\", \"compile_time_s\": 0.0, \"times_s\": [$times],"
echo ' "quality": {"log_ml": -20.0, "ess": 50.0}}'
"#;

fn sleeper_root(name: &str) -> PathBuf {
    let root = common::scratch_root(name);
    let comparisons = root.join("comparisons");
    std::fs::create_dir_all(comparisons.join("frameworks")).unwrap();
    std::fs::write(
        comparisons.join("frameworks/sleeper.json"),
        r#"{"name": "sleeper", "language": "python", "env": "sleeper", "requirements": "r.txt", "entry": ["x.py"], "methods": {"polynomial": ["is"]}}"#,
    )
    .unwrap();
    let python = comparisons.join(".venv-sleeper/bin/python");
    std::fs::create_dir_all(python.parent().unwrap()).unwrap();
    std::fs::write(&python, SLEEPING_PYTHON).unwrap();
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    root
}

/// One run of the stand-in at n = 10 and 100 with each repeat sleeping `sleep_s`.
fn run(root: &Path, name: &str, sleep_s: f64) -> PathBuf {
    let out = root.join(name);
    let status = common::bin()
        .env("BENCHMARKS_ROOT", root)
        .env("SLEEP_S", sleep_s.to_string())
        .args(["polynomial-is", "--frameworks", "sleeper", "--data-size", "10,100", "--noise-sd", "1.0", "--n-particles", "100"])
        .args(["--repeats", "10", "--no-plots", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    out
}

fn compare(old: &Path, new: &Path) -> (Option<i32>, String) {
    let out = common::bin().arg("compare").arg(old).arg(new).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn the_same_code_twice_is_no_regression_and_a_slowdown_is() {
    let root = sleeper_root("compare-slowdown");
    // 200 ms sleeps: the start-up of `sleep` and `date` in each repeat (5-10 ms, more on a
    // loaded machine) moves by a few percent at most, well inside the 10% threshold.
    let (a, b) = (run(&root, "a", 0.2), run(&root, "b", 0.2));
    let (code, table) = compare(&a, &b);
    assert_eq!(code, Some(0), "{table}");
    assert!(table.contains("2 rows compared: 0 regressions"), "{table}");

    // 100 ms more per repeat: every row significant and past the threshold.
    let slow = run(&root, "slow", 0.3);
    let page = root.join("comparison.html");
    let html = common::bin().arg("compare").arg(&a).arg(&slow).arg("--html").arg(&page).output().unwrap();
    assert_eq!(html.status.code(), Some(1));
    let page = std::fs::read_to_string(&page).unwrap();
    assert!(page.contains("2 rows compared: 2 regressions") && page.matches("REGRESSION").count() == 2, "{page}");
    let (code, table) = compare(&a, &slow);
    assert_eq!(code, Some(1), "{table}");
    assert!(table.contains("2 rows compared: 2 regressions"), "{table}");
    let line = table.lines().find(|l| l.starts_with("sleeper polynomial/is n=10 ")).expect("the n=10 row");
    // 1.5 less the fixed cost of starting `sleep` and `date` inside each timed repeat.
    let ratio: f64 = line.split_whitespace().find_map(|w| w.strip_suffix('x')?.parse().ok()).expect("a ratio");
    assert!(line.contains("REGRESSION") && ratio > 1.2 && ratio < 1.6, "{line}");

    // The other way round it is faster, and that is no failure.
    let (code, table) = compare(&slow, &a);
    assert_eq!(code, Some(0), "{table}");
    assert!(table.contains("2 faster"), "{table}");
    common::cleanup(&root);
}

#[test]
fn rows_in_only_one_folder_are_listed_and_a_bad_threshold_is_refused() {
    let root = sleeper_root("compare-unmatched");
    let a = run(&root, "a", 0.001);
    let out = root.join("n10");
    let status = common::bin()
        .env("BENCHMARKS_ROOT", &root)
        .env("SLEEP_S", "0.001")
        .args(["polynomial-is", "--frameworks", "sleeper", "--data-size", "10", "--noise-sd", "1.0", "--n-particles", "100"])
        .args(["--repeats", "5", "--no-plots", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(status.status.success());
    // 1 ms sleeps are mostly process start-up, which a loaded machine varies by more than 10%:
    // this test is about the listing, so no slowdown counts here.
    let listed = common::bin().arg("compare").arg(&a).arg(&out).arg("--threshold=100").output().unwrap();
    let (code, table) = (listed.status.code(), String::from_utf8_lossy(&listed.stdout).into_owned());
    assert_eq!(code, Some(0), "{table}");
    assert!(table.contains("not compared: sleeper polynomial/is n=100 sd=1.0 N=100 (only in"), "{table}");
    let bad = common::bin().arg("compare").arg(&a).arg(&out).arg("--threshold=-1").output().unwrap();
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("--threshold"));
    common::cleanup(&root);
}

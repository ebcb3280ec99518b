//! Ctrl-C during a run: the binary finishes the file it is writing and exits cleanly, and every
//! finished configuration is on disk and parses.

mod common;

use std::time::{Duration, Instant};

use benchmarks::export::{read_summary, RowStatus, TimingRow};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

#[test]
fn sigint_keeps_every_finished_row() {
    let out = common::scratch("sigint");
    // Ten configurations of growing cost: the first finish in milliseconds, the last take seconds.
    let mut child = common::bin()
        .args(["polynomial-is", "--frameworks", "handcoded-rust", "--n-particles", "100000", "--repeats", "100", "--no-plots"])
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let summary = out.join("summary.csv");
    let start = Instant::now();
    loop {
        let rows = std::fs::read_to_string(&summary).map_or(0, |s| s.lines().count().saturating_sub(1));
        if rows >= 2 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no rows after a minute");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be interrupted");
        std::thread::sleep(Duration::from_millis(10));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let sent = Instant::now();
    let status = child.wait().unwrap();
    assert!(sent.elapsed() < Duration::from_secs(20), "took {:?} to stop", sent.elapsed());
    assert_eq!(status.code(), Some(130), "exit status after Ctrl-C");

    let rows = read_summary(&summary).expect("every row parses");
    assert!(rows.len() >= 2 && rows.len() < 10, "{} rows: the run should have stopped early", rows.len());
    let mut timing = csv::Reader::from_path(out.join("handcoded-rust_is_timing.csv")).unwrap();
    let repeats: Vec<TimingRow> = timing.deserialize().collect::<Result<_, _>>().expect("every repeat parses");
    for row in &rows {
        assert_eq!(row.status, Some(RowStatus::Ok));
        assert!(row.median_time.unwrap() > 0.0 && row.quality_ok.is_some());
        let n = repeats.iter().filter(|r| Some(r.n_points) == row.n_points && r.noise_sd == row.noise_sd).count();
        assert_eq!(Some(n), row.repeats, "every repeat of a finished row is in the timing file");
    }
    assert_eq!(repeats.len(), rows.iter().map(|r| r.repeats.unwrap()).sum::<usize>(), "no repeat of an unfinished row");
    let metadata: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("metadata.json")).unwrap()).unwrap();
    assert_eq!(metadata["status"], "interrupted");
    common::cleanup(&out);
}

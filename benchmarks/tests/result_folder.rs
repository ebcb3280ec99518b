//! Result folders are never shared: default names are unique even for runs started in the same
//! second, a folder in use is locked, and a `--out` holding earlier results is refused unless
//! `--overwrite` clears it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Barrier};

use benchmarks::export::{read_summary, ResultFolder, ResultFolderError};

/// Runs `f` on `n` threads released together, returning what each returned.
fn at_once<T: Send + 'static>(n: usize, f: impl Fn() -> T + Send + Sync + 'static) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(n));
    let f = Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (barrier, f) = (Arc::clone(&barrier), Arc::clone(&f));
            std::thread::spawn(move || {
                barrier.wait();
                f()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn concurrent_claims_of_one_folder_admit_exactly_one() {
    let dir = common::scratch("claim-race").join("out");
    let target = dir.clone();
    let results = at_once(8, move || ResultFolder::claim(&target, false));
    let held: Vec<&ResultFolder> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(held.len(), 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, ResultFolderError::Locked { .. }), "{e:?}");
            let message = e.to_string();
            assert!(message.contains(&dir.display().to_string()) && message.contains("another run holds"), "{message}");
        }
    }
    drop(results);
    // Released with its holder.
    assert!(ResultFolder::claim(&dir, false).is_ok());
    common::cleanup(dir.parent().unwrap());
}

#[test]
fn default_folders_created_in_the_same_second_differ() {
    let parent = common::scratch("unique");
    let p = parent.clone();
    let results = at_once(8, move || ResultFolder::create_unique(&p, "benchmark_test_20260101_000000"));
    let mut paths: Vec<PathBuf> = results.iter().map(|r| r.as_ref().expect("every run gets a folder").path().to_path_buf()).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 8, "{paths:?}");
    assert!(paths.contains(&parent.join("benchmark_test_20260101_000000")));
    assert!(paths.contains(&parent.join("benchmark_test_20260101_000000_8")));
    common::cleanup(&parent);
}

#[test]
fn a_non_empty_folder_is_refused_and_overwrite_clears_only_results() {
    let dir = common::scratch("overwrite");
    std::fs::write(dir.join("summary.csv"), "old").unwrap();
    std::fs::write(dir.join("gone_is_timing.csv"), "old").unwrap();
    let err = ResultFolder::claim(&dir, false).unwrap_err();
    assert!(matches!(err, ResultFolderError::NotEmpty { .. }), "{err:?}");
    assert!(err.to_string().contains("--overwrite") && err.to_string().contains("summary.csv"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.join("summary.csv")).unwrap(), "old", "a refused folder is left as it was");

    std::fs::write(dir.join("my_notes.txt"), "mine").unwrap();
    let err = ResultFolder::claim(&dir, true).unwrap_err();
    assert!(matches!(err, ResultFolderError::ForeignFiles { ref entries, .. } if entries == &["my_notes.txt"]), "{err:?}");
    assert!(dir.join("summary.csv").exists(), "nothing is removed when something foreign is there");

    std::fs::remove_file(dir.join("my_notes.txt")).unwrap();
    let folder = ResultFolder::claim(&dir, true).unwrap();
    assert!(!dir.join("summary.csv").exists() && !dir.join("gone_is_timing.csv").exists());
    drop(folder);
    common::cleanup(&dir);
}

/// The cheapest real run: the smoke suite on handcoded Rust (well under a second of work).
fn smoke_run(root: &Path, out: Option<&Path>, extra: &[&str]) -> std::process::Command {
    let mut cmd = common::bin();
    cmd.env("BENCHMARKS_ROOT", root).args(["test", "--frameworks", "handcoded-rust", "--no-plots"]).args(extra);
    if let Some(out) = out {
        cmd.arg("--out").arg(out);
    }
    cmd
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn a_folder_held_by_another_run_is_refused_at_once() {
    let root = common::scratch_root("held");
    let out = root.join("out");
    let held = ResultFolder::claim(&out, false).unwrap();
    let second = smoke_run(&root, Some(&out), &[]).output().unwrap();
    assert!(!second.status.success());
    let message = text(&second);
    assert!(message.contains("another run holds the result folder") && message.contains(&out.display().to_string()), "{message}");
    assert!(!out.join("summary.csv").exists(), "the refused run wrote nothing");
    drop(held);
    let third = smoke_run(&root, Some(&out), &[]).output().unwrap();
    assert!(third.status.success(), "{}", text(&third));
    common::cleanup(&root);
}

#[test]
fn two_runs_on_one_out_never_share_it_and_overwrite_starts_afresh() {
    let root = common::scratch_root("same-out");
    let out = root.join("out");
    let children: Vec<_> = (0..2).map(|_| smoke_run(&root, Some(&out), &[]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()).collect();
    let outputs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let ok: Vec<&Output> = outputs.iter().filter(|o| o.status.success()).collect();
    assert_eq!(ok.len(), 1, "{}", outputs.iter().map(text).collect::<Vec<_>>().join("\n---\n"));
    let refused = text(outputs.iter().find(|o| !o.status.success()).unwrap());
    // Refused by the lock while the other runs, or as non-empty if the other already finished.
    assert!(refused.contains(&out.display().to_string()), "{refused}");
    assert!(refused.contains("another run holds") || refused.contains("--overwrite"), "{refused}");
    let rows = read_summary(&out.join("summary.csv")).unwrap();
    let mut keys: Vec<String> = rows.iter().map(|r| format!("{} {:?} {:?} {:?}", r.method, r.model, r.n_points, r.n_particles)).collect();
    let n = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), n, "one run's rows, each once");

    // Reusing the folder needs --overwrite, which leaves no stale timing file behind.
    std::fs::write(out.join("stale_is_timing.csv"), "framework\n").unwrap();
    let again = smoke_run(&root, Some(&out), &[]).output().unwrap();
    assert!(!again.status.success());
    assert!(text(&again).contains("--overwrite") && text(&again).contains("not empty"), "{}", text(&again));
    assert_eq!(read_summary(&out.join("summary.csv")).unwrap().len(), n, "the refused run kept the old summary");
    let fresh = smoke_run(&root, Some(&out), &["--overwrite"]).output().unwrap();
    assert!(fresh.status.success(), "{}", text(&fresh));
    assert!(!out.join("stale_is_timing.csv").exists());
    assert_eq!(read_summary(&out.join("summary.csv")).unwrap().len(), n);
    common::cleanup(&root);
}

#[test]
fn two_runs_with_the_default_folder_get_different_folders() {
    let root = common::scratch_root("default-out");
    let children: Vec<_> = (0..2).map(|_| smoke_run(&root, None, &[]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()).collect();
    let outputs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    for o in &outputs {
        assert!(o.status.success(), "{}", text(o));
    }
    let mut folders: Vec<PathBuf> = std::fs::read_dir(root.join("data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("benchmark_test_"))
        .collect();
    folders.sort();
    assert_eq!(folders.len(), 2, "{folders:?}");
    let counts: Vec<usize> = folders.iter().map(|f| read_summary(&f.join("summary.csv")).unwrap().len()).collect();
    assert_eq!(counts[0], counts[1], "each folder holds one whole run: {counts:?}");
    common::cleanup(&root);
}

#[test]
fn a_full_disk_leaves_no_torn_row_and_ends_with_a_clear_error() {
    let out = common::scratch("full-disk");
    let folder = out.join("run");
    // A file-size limit stands in for a full disk: a write past it fails part way (EFBIG, with
    // SIGXFSZ ignored) just as one fails with ENOSPC. 12 KiB holds metadata.json (7 KB) and about twenty
    // summary rows of the thirty this run makes.
    let script = format!(
        "trap '' XFSZ; ulimit -f 12; exec '{}' polynomial-is --frameworks handcoded-rust --repeats 5 --n-particles 100,1000,10000 --no-plots --out '{}'",
        env!("CARGO_BIN_EXE_benchmarks"),
        folder.display()
    );
    let run = std::process::Command::new("bash").arg("-c").arg(&script).output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "a run that cannot write its results fails");
    assert!(stderr.contains("cannot write") && stderr.contains("summary.csv") && stderr.contains("every earlier row"), "{stderr}");
    let rows = read_summary(&folder.join("summary.csv")).expect("summary.csv parses: no torn row");
    assert!(!rows.is_empty() && rows.len() < 30, "{} rows", rows.len());
    let text = std::fs::read_to_string(folder.join("summary.csv")).unwrap();
    assert!(text.ends_with('\n'), "the file ends with a whole row");
    common::cleanup(&out);
}

#[test]
fn overwrite_clears_the_old_figures_too() {
    let root = common::scratch_root("overwrite-figs");
    let out = root.join("data/mine");
    let run = |extra: &[&str]| {
        let mut cmd = common::bin();
        cmd.env("BENCHMARKS_ROOT", &root).args(["beta-bernoulli", "--frameworks", "handcoded-rust", "--repeats", "5", "--out"]).arg(&out).args(extra);
        let output = cmd.output().unwrap();
        assert!(output.status.success(), "{}", text(&output));
    };
    run(&[]);
    let figs = root.join("figs/mine");
    let stale = figs.join("a_family_the_new_run_has_not.svg");
    std::fs::write(&stale, "<svg/>").unwrap();
    std::fs::write(figs.join("notes.txt"), "mine").unwrap();
    run(&["--overwrite"]);
    assert!(!stale.exists(), "an overwritten run's old figures are removed");
    assert!(figs.join("notes.txt").exists(), "only figure files are removed");
    let svgs = std::fs::read_dir(&figs).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "svg")).count();
    assert!(svgs > 0, "the new figures are drawn");
    common::cleanup(&root);
}

//! Compile tests of `#[gen]`: every `tests/ui/NAME.rs` is a misuse that must fail to compile
//! with the errors in `NAME.stderr` (regenerate them with `TRYBUILD=overwrite`, then read the
//! diff), except `tests/ui/pass_*.rs`, which must compile and run.

use std::path::PathBuf;

#[test]
fn ui() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir("tests/ui")
        .expect("tests/ui exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    cases.sort();
    // trybuild builds the cases (and gen-runtime with all its dependencies) in the dev profile
    // in a target folder of its own. Without debug info that folder is about 1 GB instead of
    // 6 GB, and its links need far less memory: a CI machine with little free disk failed a
    // pass case with a one-line "could not compile" while the same case passes elsewhere.
    std::env::set_var("CARGO_PROFILE_DEV_DEBUG", "0");
    let t = trybuild::TestCases::new();
    for case in &cases {
        let is_pass = case.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("pass_"));
        if is_pass {
            t.pass(case);
        } else {
            t.compile_fail(case);
        }
    }
}

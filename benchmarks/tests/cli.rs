//! The command line: unknown frameworks are refused by the parser with the valid choices.

mod common;

#[test]
fn an_unknown_framework_is_refused_with_the_choices() {
    let out = common::bin().args(["polynomial-is", "--frameworks", "handcoded-rust,nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid value 'nope'"), "{stderr}");
    assert!(stderr.contains("possible values:") && stderr.contains("handcoded-rust") && stderr.contains("gen-native"), "{stderr}");
}

#[test]
fn repeats_below_five_are_refused() {
    let out = common::bin().args(["polynomial-hmc", "--repeats", "3"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--repeats"));
}

#[test]
fn list_shows_every_builtin_row() {
    let root = common::scratch_root("list");
    let out = common::bin().arg("list").env("BENCHMARKS_ROOT", &root).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for name in ["handcoded-rust", "gen-native", "gen-burn"] {
        assert!(stdout.contains(name), "{stdout}");
    }
    common::cleanup(&root);
}

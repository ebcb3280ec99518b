//! The data sets: deterministic generation and errors that name the file and the line.

mod common;

use benchmarks::data::{self, DataError, DatasetsSpec};
use benchmarks::exact::{self, ExactReferences};

#[test]
fn generation_is_deterministic_and_matches_the_committed_files() {
    let (a, b) = (common::scratch("gen-a"), common::scratch("gen-b"));
    let files_a = data::generate(&a, &DatasetsSpec::standard()).unwrap();
    data::generate(&b, &DatasetsSpec::standard()).unwrap();
    assert_eq!(files_a.len(), 14);
    for file in files_a {
        let name = file.file_name().unwrap();
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(bytes, std::fs::read(b.join(name)).unwrap(), "{name:?} differs between runs");
        let committed = common::repo_root().join("data").join(name);
        assert_eq!(bytes, std::fs::read(&committed).unwrap(), "{} is not what `benchmarks data` writes", committed.display());
    }
    common::cleanup(&a);
    common::cleanup(&b);
}

/// Why `dir/exact.json` is not what the code computes from the data sets in `dir` (`None` when
/// it is, byte for byte): the first line that differs, and how to regenerate the file.
fn stale_exact_references(dir: &std::path::Path) -> Option<String> {
    let want = exact::references(dir).unwrap().to_json();
    let path = dir.join(exact::REFERENCES_FILE);
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    if found == want {
        return None;
    }
    let n = found.lines().count().max(want.lines().count());
    let line = (0..n).find(|&i| found.lines().nth(i) != want.lines().nth(i)).unwrap_or(n);
    let [f, w] = [&found, &want].map(|text| text.lines().nth(line).map_or("<end of file>", str::trim));
    Some(format!(
        "{} is stale: it is not what the exact references (benchmarks::exact, over gen_runtime::exact) compute from the committed data; \
         line {}: found `{}`, expected `{}`. Run `cargo run --release -p benchmarks -- data` to regenerate it.",
        path.display(),
        line + 1,
        f,
        w
    ))
}

#[test]
fn the_committed_exact_references_are_what_the_code_computes() {
    let dir = common::repo_root().join("data");
    if let Some(message) = stale_exact_references(&dir) {
        panic!("{message}");
    }
    // The file reads back into the documented structure, one entry per data set of datasets.json.
    // (Its floats are the shortest strings that round-trip; serde_json, built here without its
    // `float_roundtrip` feature, may read one an ulp off, so they are compared as text above.)
    let text = std::fs::read_to_string(dir.join(exact::REFERENCES_FILE)).unwrap();
    let parsed: ExactReferences = serde_json::from_str(&text).unwrap();
    let spec = data::load_spec(&dir).unwrap();
    assert_eq!(parsed.polynomial.len(), spec.polynomial.sizes.len() * spec.polynomial.noise_sds.len());
    let files: std::collections::BTreeSet<_> = parsed.polynomial.iter().map(|p| p.file.as_str()).collect();
    assert_eq!(files.len(), parsed.polynomial.len(), "{files:?}");
    for file in files.iter().chain([&parsed.beta_bernoulli.file.as_str(), &parsed.hmm.file.as_str(), &parsed.lgssm.file.as_str()]) {
        assert!(spec.checksums.contains_key(*file), "{file} is not a data set of datasets.json");
    }
    assert_eq!((parsed.hmm.t, parsed.lgssm.t, parsed.beta_bernoulli.trials), (spec.hmm.t, spec.lgssm.t, spec.beta_bernoulli.n as u64));
}

#[test]
fn edited_exact_references_are_reported_as_stale() {
    let root = common::scratch_root("exact-stale");
    let dir = root.join("data");
    assert_eq!(stale_exact_references(&dir), None);
    let path = dir.join(exact::REFERENCES_FILE);
    let original = std::fs::read_to_string(&path).unwrap();
    // The last digit of the HMM's log-ML changed: still valid JSON, another number in the text.
    let key = "\"log_ml\": ";
    let start = original.find("\"hmm\"").unwrap();
    let start = start + original[start..].find(key).unwrap() + key.len();
    let end = start + original[start..].find([',', '\n']).unwrap();
    let number = &original[start..end];
    let last = if number.ends_with('9') { '8' } else { '9' };
    let edited = format!("{}{last}", &number[..number.len() - 1]);
    std::fs::write(&path, format!("{}{edited}{}", &original[..start], &original[end..])).unwrap();
    let message = stale_exact_references(&dir).expect("an edited exact.json was accepted");
    assert!(message.contains("exact.json is stale") && message.contains("cargo run --release -p benchmarks -- data"), "{message}");
    assert!(message.contains(&format!("found `\"log_ml\": {edited}`")), "{message}");
    // A missing file is stale too.
    std::fs::remove_file(&path).unwrap();
    assert!(stale_exact_references(&dir).is_some());
    common::cleanup(&root);
}

#[test]
fn the_data_command_writes_the_exact_references() {
    let root = common::scratch("data-command");
    let out = common::bin().arg("data").arg("--out").arg(&root).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("exact.json"));
    let written = std::fs::read(root.join(exact::REFERENCES_FILE)).unwrap();
    let committed = std::fs::read(common::repo_root().join("data").join(exact::REFERENCES_FILE)).unwrap();
    assert!(written == committed, "`benchmarks data` wrote an exact.json that differs from the committed one");
    common::cleanup(&root);
}

#[test]
fn floats_round_trip_and_hyperparameters_load() {
    let dir = common::repo_root().join("data");
    let spec = data::load_spec(&dir).unwrap();
    assert_eq!(spec.checksums.len(), 13, "one checksum per data file");
    assert_eq!(DatasetsSpec { checksums: Default::default(), ..spec.clone() }, DatasetsSpec::standard());
    let poly = data::load_polynomial(&dir, &spec, 50, 0.05).unwrap();
    assert_eq!(poly.x, data::linspace01(50));
    assert_eq!(poly.y.len(), 50);
    assert_eq!(data::load_hmm(&dir, &spec).unwrap().y.len(), 50);
    assert_eq!(data::load_lgssm(&dir, &spec).unwrap().y.len(), 100);
    assert_eq!(data::load_beta_bernoulli(&dir, &spec).unwrap().y.len(), 50);
}

#[test]
fn a_malformed_row_is_reported_with_its_file_and_line() {
    let root = common::scratch_root("malformed");
    let dir = root.join("data");
    let file = dir.join("polynomial_n10_sd1.0.csv");
    let mut lines: Vec<String> = std::fs::read_to_string(&file).unwrap().lines().map(str::to_owned).collect();
    lines[4] = "0.3333,abc".to_owned(); // line 5 of the file (the header is line 1)
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let spec = data::load_spec(&dir).unwrap();
    let err = data::load_polynomial(&dir, &spec, 10, 1.0).unwrap_err();
    assert!(matches!(err, DataError::Malformed { line: 5, .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("polynomial_n10_sd1.0.csv:5:") && message.contains("`abc`"), "{message}");

    // A row with a missing field, and a symbol outside the emission matrix.
    lines[4] = "0.3333".to_owned();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let message = data::load_polynomial(&dir, &spec, 10, 1.0).unwrap_err().to_string();
    assert!(message.contains("polynomial_n10_sd1.0.csv:5:") && message.contains("1 fields"), "{message}");
    let hmm = dir.join("hmm.csv");
    let text = std::fs::read_to_string(&hmm).unwrap().replacen("\n3,", "\n3,7\n3,", 1);
    std::fs::write(&hmm, text).unwrap();
    let message = data::load_hmm(&dir, &spec).unwrap_err().to_string();
    assert!(message.contains("hmm.csv:4:") && message.contains("not a symbol"), "{message}");

    // The binary stops before measuring anything and names the place.
    let out = common::bin()
        .env("BENCHMARKS_ROOT", &root)
        .args(["polynomial-is", "--frameworks", "handcoded-rust", "--data-size", "10", "--noise-sd", "1.0", "--no-plots"])
        .arg("--out")
        .arg(root.join("out"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("polynomial_n10_sd1.0.csv:5:"), "{stderr}");
    common::cleanup(&root);
}

#[test]
fn a_missing_file_is_named() {
    let root = common::scratch_root("missing");
    let dir = root.join("data");
    std::fs::remove_file(dir.join("polynomial_n50_sd1.0.csv")).unwrap();
    let spec = data::load_spec(&dir).unwrap();
    let message = data::load_polynomial(&dir, &spec, 50, 1.0).unwrap_err().to_string();
    assert!(message.contains("polynomial_n50_sd1.0.csv") && message.contains("benchmarks data"), "{message}");
    common::cleanup(&root);
}

#[test]
fn a_size_or_noise_level_with_no_data_set_lists_those_that_exist() {
    let dir = common::repo_root().join("data");
    let spec = data::load_spec(&dir).unwrap();
    let message = data::load_polynomial(&dir, &spec, 7, 1.0).unwrap_err().to_string();
    assert!(message.contains("n = 7 points") && message.contains("10, 50, 100, 500, 1000"), "{message}");
    let message = data::load_polynomial(&dir, &spec, 10, 0.5).unwrap_err().to_string();
    assert!(message.contains("noise sd 0.5") && message.contains("0.05, 1.0"), "{message}");
    let root = common::scratch_root("size-7");
    let out = common::bin()
        .env("BENCHMARKS_ROOT", &root)
        .args(["polynomial-is", "--frameworks", "handcoded-rust", "--data-size", "7", "--no-plots"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("10, 50, 100, 500, 1000"), "{stderr}");
    common::cleanup(&root);
}

#[test]
fn a_data_file_that_differs_from_its_checksum_is_refused() {
    let root = common::scratch_root("checksum");
    let dir = root.join("data");
    let spec = data::load_spec(&dir).unwrap();
    let file = dir.join("polynomial_n10_sd1.0.csv");
    let original = std::fs::read_to_string(&file).unwrap();
    // The last number cut in half still parses as a number.
    let cut = &original[..original.trim_end().len() - 3];
    // An edited value that is still a number.
    let edited = original.replacen("\n0,", "\n0,1", 1);
    for (what, text) in [("cut short", format!("{cut}\n")), ("edited", edited)] {
        std::fs::write(&file, text).unwrap();
        let err = data::load_polynomial(&dir, &spec, 10, 1.0).expect_err(what);
        let message = err.to_string();
        assert!(matches!(err, DataError::Inconsistent { .. }), "{what}: {err:?}");
        assert!(message.contains("polynomial_n10_sd1.0.csv") && message.contains("SHA-256") && message.contains("benchmarks data"), "{message}");
    }
    std::fs::write(&file, &original).unwrap();
    data::load_polynomial(&dir, &spec, 10, 1.0).unwrap();
    common::cleanup(&root);
}

/// Writes `datasets.json` with one value changed into a scratch root and returns the root.
fn spec_with(name: &str, pointer: &str, value: serde_json::Value) -> std::path::PathBuf {
    let root = common::scratch_root(name);
    let path = root.join("data/datasets.json");
    let mut spec: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    *spec.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}")) = value;
    std::fs::write(&path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    root
}

#[test]
fn every_impossible_hyperparameter_is_named() {
    use serde_json::json;
    let cases = [
        ("/beta_bernoulli/alpha", json!(-1.0), "beta_bernoulli.alpha", "> 0"),
        ("/beta_bernoulli/beta", json!(0.0), "beta_bernoulli.beta", "> 0"),
        ("/polynomial/prior_sd", json!(0.0), "polynomial.prior_sd", "> 0"),
        ("/polynomial/prior_sd", json!(-2.0), "polynomial.prior_sd", "> 0"),
        ("/polynomial/noise_sds/1", json!(-1.0), "polynomial.noise_sds[1]", "> 0"),
        ("/polynomial/noise_sds/0", json!(0.0), "polynomial.noise_sds[0]", "> 0"),
        ("/hmm/transition/1", json!([0.8, 0.1, 0.2]), "hmm.transition[1]", "sum to 1"),
        ("/hmm/transition/2", json!([0.5, 0.5]), "hmm.transition[2]", "3 entries"),
        ("/hmm/transition", json!([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), "hmm.transition", "one row per hidden state"),
        ("/hmm/emission/1", json!([0.7, 0.1, 0.1, 0.1, 0.0]), "hmm.emission[1]", "4 entries"),
        ("/hmm/emission/2", json!([0.1, 0.1, 0.4, 0.4000001]), "hmm.emission[2]", "sum to 1"),
        ("/hmm/emission/1", json!([1.2, -0.2, 0.0, 0.0]), "hmm.emission[1][1]", ">= 0"),
        ("/hmm/initial", json!([0.5, 0.5, 0.5]), "hmm.initial", "sum to 1"),
        ("/lgssm/q", json!(0.0), "lgssm.q", "> 0"),
        ("/lgssm/r", json!(-1.0), "lgssm.r", "> 0"),
        ("/lgssm/x1_sd", json!(0.0), "lgssm.x1_sd", "> 0"),
    ];
    for (i, (pointer, value, key, requirement)) in cases.into_iter().enumerate() {
        let root = spec_with(&format!("bad-spec-{i}"), pointer, value.clone());
        let err = data::load_spec(&root.join("data")).expect_err(&format!("{pointer} = {value} was accepted"));
        assert!(matches!(&err, DataError::Invalid { key: k, .. } if k == key), "{pointer} = {value}: {err:?}");
        let message = err.to_string();
        assert!(message.contains("datasets.json") && message.contains(&format!("`{key}`")) && message.contains(requirement), "{message}");
        common::cleanup(&root);
    }
    // Rounding in the committed thirds stays within the tolerance.
    let root = spec_with("thirds", "/hmm/initial", json!([0.3333333333333333, 0.3333333333333333, 0.3333333333333334]));
    data::load_spec(&root.join("data")).unwrap();
    common::cleanup(&root);
}

#[test]
fn a_run_on_an_impossible_spec_stops_before_writing_anything() {
    let root = spec_with("bad-spec-run", "/hmm/transition/0", serde_json::json!([0.5, 0.5]));
    let out = common::bin()
        .env("BENCHMARKS_ROOT", &root)
        .args(["hmm", "--frameworks", "handcoded-rust", "--n-particles", "100", "--no-plots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "an error, not a panic: {}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("datasets.json") && stderr.contains("`hmm.transition[0]`"), "{stderr}");
    let folders = std::fs::read_dir(root.join("data")).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("benchmark_")).count();
    assert_eq!(folders, 0, "no result folder left saying `running`");
    common::cleanup(&root);
}

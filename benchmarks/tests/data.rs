//! The data sets: deterministic generation and errors that name the file and the line.

mod common;

use benchmarks::data::{self, DataError, DatasetsSpec};

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

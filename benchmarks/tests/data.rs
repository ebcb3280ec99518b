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
    assert_eq!(spec, DatasetsSpec::standard());
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
    let message = data::load_polynomial(&dir, &spec, 77, 1.0).unwrap_err().to_string();
    assert!(message.contains("polynomial_n77_sd1.0.csv"), "{message}");
    common::cleanup(&root);
}

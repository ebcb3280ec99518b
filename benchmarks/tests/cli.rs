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

#[test]
fn polynomial_hmc_runs_nuts_rows_that_find_the_exact_posterior() {
    let root = common::scratch_root("nuts");
    let out_dir = root.join("out");
    let out = common::bin()
        .args(["polynomial-hmc", "--frameworks", "gen-native", "--data-size", "10", "--noise-sd", "1.0", "--repeats", "5", "--out"])
        .arg(&out_dir)
        .env("BENCHMARKS_ROOT", &root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = std::fs::read_dir(&out_dir).unwrap().map(|e| e.unwrap().path()).find(|p| p.join("summary.csv").exists()).unwrap_or(out_dir.clone());
    let mut reader = csv::Reader::from_path(summary.join("summary.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let nuts: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).filter(|r| &r[column("method")] == "nuts").collect();
    // One chain (for ESS per second) and four (for R-hat), next to the fixed-step HMC row.
    let chains: Vec<&str> = nuts.iter().map(|r| &r[column("n_chains")]).collect();
    assert_eq!(chains, ["1", "4"], "one- and four-chain NUTS rows");
    for row in &nuts {
        assert_eq!(&row[column("status")], "ok");
        // quality_ok: posterior mean within one exact posterior sd, acceptance above 10%, no
        // divergences, finite ESS (see quality.rs).
        assert_eq!(&row[column("quality_ok")], "true", "{}", &row[column("quality_reason")]);
        assert!(row[column("ess_per_s")].parse::<f64>().unwrap() > 0.0);
    }
    common::cleanup(&root);
}

#[test]
fn particles_that_cannot_fit_in_memory_are_refused_before_they_are_allocated() {
    let out_dir = common::scratch("too-many-particles");
    // 10^11 particles of three f64 latents and a weight: more than 2.9 TB, on any machine here.
    let run = common::bin()
        .args(["polynomial-is", "--frameworks", "handcoded-rust,gen-native", "--data-size", "10", "--noise-sd", "1.0"])
        .args(["--n-particles", "100000000000", "--repeats", "5", "--no-plots", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let rows = benchmarks::export::read_summary(&out_dir.join("summary.csv")).unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row.status, Some(benchmarks::export::RowStatus::Failed), "{row:?}");
        assert!(row.message.contains("not run") && row.message.contains("GiB available") && row.message.contains("bytes per particle"), "{}", row.message);
    }
    common::cleanup(&out_dir);
}

#[test]
fn polynomial_vi_rows_reach_the_mean_field_optimum_on_the_correctness_data() {
    let out_dir = common::scratch("vi-rows");
    let run = common::bin()
        .args(["polynomial-vi", "--frameworks", "handcoded-rust,gen-native", "--data-size", "10,50", "--noise-sd", "1.0"])
        .args(["--repeats", "5", "--no-plots", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let rows = benchmarks::export::read_summary(&out_dir.join("summary.csv")).unwrap();
    assert_eq!(rows.len(), 8, "2 frameworks x 2 sizes x K in {{1, 10}}");
    for row in rows {
        assert_eq!(row.quality_ok, Some(true), "{}: {}", row.framework, row.quality_reason);
        let (kl, kl_optimum, gap) = (row.kl_posterior.unwrap(), row.kl_mean_field.unwrap(), row.elbo_gap.unwrap());
        assert!(kl_optimum < 0.1 && kl >= kl_optimum, "{kl} {kl_optimum}");
        // The ELBO estimate is log p(y) - KL(q || p) up to its Monte Carlo error (a few tenths).
        assert!((gap + kl).abs() < 1.0, "ELBO gap {gap}, KL {kl}");
        assert_eq!((row.n_steps, row.learning_rate), (Some(2000), Some(0.01)));
    }
    common::cleanup(&out_dir);
}

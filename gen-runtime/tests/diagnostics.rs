//! Checks `gen_runtime::diagnostics` against ArviZ on fixed draws.
//!
//! `tests/data/arviz_reference.json` holds the draws and ArviZ's answers; it is
//! made by `tests/data/make_arviz_reference.py` (ArviZ version recorded in the
//! file). Every statistic must match to a relative error of 1e-6, with an
//! absolute floor of 1e-12 where ArviZ's value is exactly 0.

use std::path::PathBuf;

use gen_runtime::diagnostics::{
    autocorrelation, autocovariance, ess_bulk, ess_mean, ess_quantile, ess_sd, ess_tail, mcse_mean, mcse_sd, quantile,
    rank_normalized_split_rhat, split_rhat, DiagnosticsError, Summary, SummaryRow,
};
use serde::Deserialize;

const RELATIVE_TOLERANCE: f64 = 1e-6;
const ZERO_TOLERANCE: f64 = 1e-12;

#[derive(Deserialize)]
struct Reference {
    arviz_version: String,
    data_sets: Vec<DataSet>,
}

#[derive(Deserialize)]
struct DataSet {
    name: String,
    draws: Vec<Vec<f64>>,
    expected: Expected,
}

/// ArviZ's NaN is stored as null.
#[derive(Deserialize)]
struct Expected {
    rhat_rank: Option<f64>,
    rhat_split: Option<f64>,
    ess_bulk: Option<f64>,
    ess_tail: Option<f64>,
    ess_mean: Option<f64>,
    ess_sd: Option<f64>,
    #[serde(rename = "ess_quantile_0.25")]
    ess_quantile_25: Option<f64>,
    mcse_mean: Option<f64>,
    mcse_sd: Option<f64>,
    #[serde(rename = "quantile_0.05")]
    quantile_5: Option<f64>,
    #[serde(rename = "quantile_0.5")]
    quantile_50: Option<f64>,
    #[serde(rename = "quantile_0.95")]
    quantile_95: Option<f64>,
    summary: ExpectedSummary,
}

#[derive(Deserialize)]
struct ExpectedSummary {
    mean: Option<f64>,
    sd: Option<f64>,
    mcse_mean: Option<f64>,
    ess_bulk: Option<f64>,
    ess_tail: Option<f64>,
    r_hat: Option<f64>,
}

fn reference() -> Reference {
    // serde_json's default float parser can be off by one ulp, which moves draws
    // across ties in the rank normalization; this literal is one it misreads.
    let probe = "-0.42878573752306764";
    assert_eq!(
        serde_json::from_str::<f64>(probe).unwrap(),
        probe.parse::<f64>().unwrap(),
        "enable serde_json's `float_roundtrip` feature in dev-dependencies"
    );
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/arviz_reference.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("arviz_reference.json parses")
}

/// Records every comparison so a failure lists all mismatches at once.
#[derive(Default)]
struct Checker {
    failures: Vec<String>,
    worst_relative: f64,
}

impl Checker {
    fn check(&mut self, data_set: &str, statistic: &str, actual: f64, expected: Option<f64>) {
        let ok = match expected {
            None => actual.is_nan(),
            Some(0.0) => actual.abs() <= ZERO_TOLERANCE,
            Some(e) => {
                let relative = (actual - e).abs() / e.abs();
                self.worst_relative = self.worst_relative.max(relative);
                relative <= RELATIVE_TOLERANCE
            }
        };
        if !ok {
            self.failures.push(format!("{data_set}: {statistic} = {actual:e}, ArviZ {expected:?}"));
        }
    }

    fn finish(self) {
        println!("largest relative difference from ArviZ: {:e}", self.worst_relative);
        assert!(self.failures.is_empty(), "mismatches:\n{}", self.failures.join("\n"));
    }
}

#[test]
fn reference_records_arviz_version() {
    let reference = reference();
    assert!(!reference.arviz_version.is_empty());
    assert!(reference.data_sets.len() >= 8);
}

#[test]
fn ess_and_mcse_match_arviz() {
    let mut checker = Checker::default();
    for set in reference().data_sets {
        let (d, e) = (&set.draws, &set.expected);
        checker.check(&set.name, "ess_bulk", ess_bulk(d).unwrap(), e.ess_bulk);
        checker.check(&set.name, "ess_tail", ess_tail(d).unwrap(), e.ess_tail);
        checker.check(&set.name, "ess_mean", ess_mean(d).unwrap(), e.ess_mean);
        checker.check(&set.name, "ess_sd", ess_sd(d).unwrap(), e.ess_sd);
        checker.check(&set.name, "ess_quantile(0.25)", ess_quantile(d, 0.25).unwrap(), e.ess_quantile_25);
        checker.check(&set.name, "mcse_mean", mcse_mean(d).unwrap(), e.mcse_mean);
        checker.check(&set.name, "mcse_sd", mcse_sd(d).unwrap(), e.mcse_sd);
    }
    checker.finish();
}

#[test]
fn rhat_matches_arviz() {
    let mut checker = Checker::default();
    for set in reference().data_sets {
        let (d, e) = (&set.draws, &set.expected);
        if d.len() < 2 {
            // ArviZ warns and returns NaN; we refuse.
            assert!(matches!(rank_normalized_split_rhat(d), Err(DiagnosticsError::TooFewChains { min: 2, got: 1, .. })));
            assert!(matches!(split_rhat(d), Err(DiagnosticsError::TooFewChains { .. })));
            continue;
        }
        checker.check(&set.name, "rhat_rank", rank_normalized_split_rhat(d).unwrap(), e.rhat_rank);
        let expected_split = if set.name.starts_with("constant") {
            // ArviZ returns 0.98995 here: numpy's mean of 50 copies of 0.7 is not
            // exactly 0.7, so its within-chain variance is ~1e-32 instead of 0 and
            // 0/1e-32 = 0 leaves sqrt(49/50). We return NaN, as for the rank R-hat.
            None
        } else {
            e.rhat_split
        };
        checker.check(&set.name, "rhat_split", split_rhat(d).unwrap(), expected_split);
    }
    checker.finish();
}

#[test]
fn quantiles_match_numpy() {
    let mut checker = Checker::default();
    for set in reference().data_sets {
        let (d, e) = (&set.draws, &set.expected);
        checker.check(&set.name, "q5", quantile(d, 0.05).unwrap(), e.quantile_5);
        checker.check(&set.name, "q50", quantile(d, 0.5).unwrap(), e.quantile_50);
        checker.check(&set.name, "q95", quantile(d, 0.95).unwrap(), e.quantile_95);
    }
    checker.finish();
}

#[test]
fn summary_matches_arviz_summary() {
    let mut checker = Checker::default();
    let reference = reference();
    let summary = Summary::from_parameters(reference.data_sets.iter().map(|set| (set.name.as_str(), set.draws.as_slice()))).unwrap();
    assert_eq!(summary.rows.len(), reference.data_sets.len());
    for set in &reference.data_sets {
        let row = summary.get(&set.name).unwrap();
        let e = &set.expected.summary;
        checker.check(&set.name, "summary mean", row.mean, e.mean);
        checker.check(&set.name, "summary sd", row.sd, e.sd);
        checker.check(&set.name, "summary mcse_mean", row.mcse_mean, e.mcse_mean);
        checker.check(&set.name, "summary ess_bulk", row.ess_bulk, e.ess_bulk);
        checker.check(&set.name, "summary ess_tail", row.ess_tail, e.ess_tail);
        checker.check(&set.name, "summary r_hat", row.r_hat, e.r_hat);
        checker.check(&set.name, "summary q5", row.q5, set.expected.quantile_5);
        checker.check(&set.name, "summary q50", row.q50, set.expected.quantile_50);
        checker.check(&set.name, "summary q95", row.q95, set.expected.quantile_95);
    }
    checker.finish();
}

#[test]
fn accepts_slices_of_slices() {
    let set = &reference().data_sets[1];
    let borrowed: Vec<&[f64]> = set.draws.iter().map(Vec::as_slice).collect();
    assert_eq!(ess_bulk(&borrowed).unwrap(), ess_bulk(&set.draws).unwrap());
    assert_eq!(rank_normalized_split_rhat(&borrowed).unwrap(), rank_normalized_split_rhat(&set.draws).unwrap());
}

/// A deterministic, mildly autocorrelated sequence without an RNG dependency.
fn test_sequence(n: usize) -> Vec<f64> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut x = 0.0;
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            x = 0.6 * x + u;
            x
        })
        .collect()
}

#[test]
fn fft_autocovariance_equals_direct_sum() {
    for n in [1, 2, 3, 7, 64, 100, 513] {
        let x = test_sequence(n);
        let mean = x.iter().sum::<f64>() / n as f64;
        let fast = autocovariance(&x);
        assert_eq!(fast.len(), n);
        for (lag, &value) in fast.iter().enumerate() {
            let direct = (0..n - lag).map(|t| (x[t] - mean) * (x[t + lag] - mean)).sum::<f64>() / n as f64;
            assert!((value - direct).abs() <= 1e-12 * fast[0].abs().max(1e-300), "n={n} lag={lag}: fft {value} direct {direct}");
        }
        let acf = autocorrelation(&x);
        if n > 1 {
            assert!((acf[0] - 1.0).abs() < 1e-12);
        } else {
            // One draw has zero variance, so every autocorrelation is 0/0.
            assert!(acf[0].is_nan());
        }
    }
    assert!(autocovariance(&[]).is_empty());
}

#[test]
fn constant_draws_give_nan_rhat_and_full_ess() {
    let chains = vec![vec![2.5; 10]; 3];
    assert!(rank_normalized_split_rhat(&chains).unwrap().is_nan());
    assert!(split_rhat(&chains).unwrap().is_nan());
    assert_eq!(ess_bulk(&chains).unwrap(), 30.0);
    assert_eq!(mcse_mean(&chains).unwrap(), 0.0);
    assert!(mcse_sd(&chains).unwrap().is_nan());
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let short = vec![vec![1.0, 2.0, 3.0], vec![1.0, 2.0, 3.5]];
    assert_eq!(ess_bulk(&short), Err(DiagnosticsError::TooFewDraws { diagnostic: "bulk ESS", min: 4, got: 3 }));
    let ragged = vec![vec![1.0, 2.0, 3.0, 4.0], vec![1.0, 2.0, 3.0]];
    assert_eq!(rank_normalized_split_rhat(&ragged), Err(DiagnosticsError::UnequalChainLengths { chain: 1, expected: 4, got: 3 }));
    let with_nan = vec![vec![1.0, 2.0, 3.0, 4.0], vec![1.0, f64::NAN, 3.0, 4.0]];
    assert!(matches!(ess_tail(&with_nan), Err(DiagnosticsError::NonFinite { chain: 1, draw: 1, .. })));
    let with_inf = vec![vec![1.0, 2.0, f64::INFINITY, 4.0]];
    assert!(matches!(mcse_sd(&with_inf), Err(DiagnosticsError::NonFinite { chain: 0, draw: 2, .. })));
    let none: Vec<Vec<f64>> = Vec::new();
    assert!(matches!(ess_mean(&none), Err(DiagnosticsError::TooFewChains { min: 1, got: 0, .. })));
    assert!(matches!(quantile(&none, 0.5), Err(DiagnosticsError::TooFewChains { .. })));
    let one_chain = vec![test_sequence(20)];
    assert!(matches!(split_rhat(&one_chain), Err(DiagnosticsError::TooFewChains { min: 2, got: 1, .. })));
    assert_eq!(ess_quantile(&one_chain, 1.0), Err(DiagnosticsError::InvalidProbability { prob: 1.0 }));
    assert!(quantile(&one_chain, f64::NAN).is_err());
    assert!(ess_quantile(&one_chain, f64::NAN).is_err());
}

#[test]
fn summary_error_names_the_parameter() {
    let good = vec![test_sequence(8), test_sequence(8)];
    let bad = vec![vec![0.0, 1.0, f64::NAN, 2.0]];
    let mut summary = Summary::new();
    summary.push("a", &good).unwrap();
    let err = summary.push("b", &bad).unwrap_err();
    assert!(matches!(&err, DiagnosticsError::Parameter { name, .. } if name == "b"));
    assert!(err.to_string().contains("parameter `b`"), "{err}");
    assert!(err.to_string().contains("not finite"), "{err}");
    assert_eq!(summary.rows.len(), 1);
}

#[test]
fn single_chain_summary_has_nan_rhat() {
    let row = SummaryRow::new("x", &[test_sequence(50)]).unwrap();
    assert!(row.r_hat.is_nan());
    assert!(row.ess_bulk > 0.0);
}

#[test]
fn summary_displays_as_an_aligned_table() {
    let long_name = "a_rather_long_parameter_name";
    let mut summary = Summary::new();
    summary.push("a", &[test_sequence(100), test_sequence(100)]).unwrap();
    summary.push(long_name, &[test_sequence(100).iter().map(|x| x * 1e-4).collect::<Vec<_>>()]).unwrap();
    let text = summary.to_string();
    println!("{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    for header in ["mean", "sd", "q5", "q50", "q95", "mcse_mean", "ess_bulk", "ess_tail", "r_hat"] {
        assert!(lines[0].contains(header), "missing {header} in {}", lines[0]);
    }
    assert!(lines[1].starts_with("a "));
    assert!(lines[2].starts_with(long_name));
    assert!(lines[2].trim_end().ends_with("NaN"), "single chain has no R-hat: {}", lines[2]);
    let width = lines[0].chars().count();
    assert!(lines.iter().all(|l| l.chars().count() == width), "ragged table:\n{text}");
    // Right-aligned columns: every header ends where its column's values end.
    let end_of = |line: &str, column: usize| {
        let mut ends =
            line.char_indices().filter(|&(i, c)| c != ' ' && line[i + c.len_utf8()..].starts_with(' ') || i + c.len_utf8() == line.len());
        ends.nth(column).map(|(i, _)| i)
    };
    for column in 1..10 {
        assert_eq!(end_of(lines[0], column - 1), end_of(lines[1], column), "column {column}:\n{text}");
    }
}

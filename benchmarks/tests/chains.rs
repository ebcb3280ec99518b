//! The four-chain NUTS rows: only frameworks that run chains in one call get them, and their
//! R-hat and bulk/tail ESS pool the chains.

mod common;

use benchmarks::export::{read_summary, RowStatus};

#[test]
fn four_chain_nuts_rows_report_rhat_and_bulk_and_tail_ess() {
    let root = common::scratch_root("chains");
    let out = root.join("out");
    let run = common::bin()
        .env("BENCHMARKS_ROOT", &root)
        .args(["polynomial-hmc", "--frameworks", "handcoded-rust,gen-native", "--data-size", "10", "--noise-sd", "1.0"])
        .args(["--repeats", "5", "--rounds", "1", "--no-plots", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let rows = read_summary(&out.join("summary.csv")).unwrap();
    let nuts = |chains: usize| {
        rows.iter()
            .find(|r| r.framework == "gen-native" && r.method == "nuts" && r.n_chains == Some(chains))
            .unwrap_or_else(|| panic!("no {chains}-chain NUTS row: {rows:#?}"))
    };
    let (one, four) = (nuts(1), nuts(4));
    assert_eq!(four.status, Some(RowStatus::Ok), "{}", four.message);
    // Handcoded Rust has no NUTS, and no framework without chains gets a 4-chain row.
    assert!(!rows.iter().any(|r| r.framework == "handcoded-rust" && r.n_chains == Some(4)));
    let rhat = four.rhat.expect("R-hat");
    assert!(rhat > 0.99 && rhat < 1.02, "four mixed chains: R-hat {rhat}");
    // Four chains carry about four times one chain's effective samples (allow wide noise).
    let (b1, b4) = (one.ess_bulk.unwrap(), four.ess_bulk.unwrap());
    assert!(b4 > 2.0 * b1, "bulk ESS {b4} (4 chains) vs {b1} (1 chain)");
    assert!(four.ess_tail.unwrap() > 0.0 && four.quality_ok == Some(true), "{}", four.quality_reason);
    common::cleanup(&root);
}

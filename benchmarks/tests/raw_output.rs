//! Quality numbers come from one function whatever the framework: a stand-in framework that
//! writes known draws as its raw output (and reports nonsense ESS and moments of its own) gets
//! exactly the numbers `benchmarks::raw::mcmc_quality` computes from those draws, which is also
//! what the in-process rows call on their own chains.

mod common;

use std::os::unix::fs::PermissionsExt;

use benchmarks::export::{read_summary, RowStatus};
use npyz::WriterBuilder;
use rand::{Rng, SeedableRng};

/// A stand-in that copies the prepared `draws.npy` and `accept.npy` into `--raw-out` and
/// reports an ESS, R-hat and moments that are all wrong.
const RAW_PYTHON: &str = r#"#!/bin/bash
case " $* " in *" --version "*) echo '{"framework": "rawfake", "version": "1"}'; exit 0 ;; esac
out=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--raw-out" ]; then out=$2; fi
  shift
done
[ -n "$out" ] || { echo '{"framework": "rawfake", "error": "no --raw-out given"}'; exit 1; }
cp "$(dirname "$0")/draws.npy" "$(dirname "$0")/accept.npy" "$out/"
echo '{"framework": "rawfake", "version": "1", "compile_time_s": 0.0, "times_s": [0.001, 0.001, 0.001, 0.001, 0.001],'
echo ' "quality": {"ess": 12345.0, "posterior_mean": [9, 9, 9], "posterior_sd": [9, 9, 9], "acceptance_rate": 0.01, "divergences": 0}}'
"#;

#[test]
fn a_frameworks_quality_is_computed_by_the_suite_from_its_draws() {
    let root = common::scratch_root("raw-output");
    let comparisons = root.join("comparisons");
    let bin = comparisons.join(".venv-rawfake/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(comparisons.join("frameworks")).unwrap();
    std::fs::write(
        comparisons.join("frameworks/rawfake.json"),
        r#"{"name": "rawfake", "language": "python", "env": "rawfake", "requirements": "r.txt", "entry": ["x.py"], "methods": {"polynomial": ["hmc"]}, "raw_output": true}"#,
    )
    .unwrap();
    std::fs::write(bin.join("python"), RAW_PYTHON).unwrap();
    std::fs::set_permissions(bin.join("python"), std::fs::Permissions::from_mode(0o755)).unwrap();

    // Known draws: one chain of 1000 draws of three AR(1) latents around the exact posterior
    // scale (means 0.5, -1, 2), and acceptance statistics.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let (mut state, centre) = ([0.0f64; 3], [0.5, -1.0, 2.0]);
    let chain: Vec<Vec<f64>> = (0..1000)
        .map(|_| {
            (0..3)
                .map(|j| {
                    state[j] = 0.8 * state[j] + 0.3 * rng.sample::<f64, _>(rand_distr::StandardNormal);
                    centre[j] + state[j]
                })
                .collect()
        })
        .collect();
    let accept: Vec<f64> = (0..1000).map(|_| rng.random::<f64>()).collect();
    let mut draws = Vec::new();
    let mut writer = npyz::WriteOptions::new().default_dtype().shape(&[1, 1000, 3]).writer(&mut draws).begin_nd().unwrap();
    writer.extend(chain.iter().flatten().copied()).unwrap();
    writer.finish().unwrap();
    std::fs::write(bin.join("draws.npy"), draws).unwrap();
    npyz::to_file_1d(bin.join("accept.npy"), accept.iter().copied()).unwrap();

    let out = root.join("out");
    let run = common::bin()
        .env("BENCHMARKS_ROOT", &root)
        .args([
            "polynomial-hmc",
            "--frameworks",
            "rawfake",
            "--data-size",
            "10",
            "--noise-sd",
            "1.0",
            "--rounds",
            "1",
            "--no-plots",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let rows = read_summary(&out.join("summary.csv")).unwrap();
    let row = rows.iter().find(|r| r.framework == "rawfake" && r.method == "hmc").expect("the hmc row");
    assert_eq!(row.status, Some(RowStatus::Ok), "{}", row.message);

    let expected = benchmarks::raw::mcmc_quality(std::slice::from_ref(&chain), Some(accept.iter().sum::<f64>() / 1000.0), Some(0));
    assert_eq!(row.ess, expected.ess, "the suite's ESS, not the framework's 12345");
    assert_eq!((row.ess_bulk, row.ess_tail, row.rhat), (expected.ess_bulk, expected.ess_tail, expected.rhat));
    assert_eq!(row.posterior_mean, expected.posterior_mean);
    assert_eq!(row.acceptance_rate, expected.acceptance_rate);
    assert!(row.ess.unwrap() > 50.0 && row.ess.unwrap() < 400.0, "AR(1) at 0.8: ESS about 1000 / 9: {:?}", row.ess);
    assert!(row.notes.contains("computed by the suite from the raw output"), "{}", row.notes);
    common::cleanup(&root);
}

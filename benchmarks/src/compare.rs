//! Run-to-run comparison (`benchmarks compare OLD NEW`): for every row measured in both result
//! folders, the ratio of the new median time to the old with its bootstrap 95% interval from
//! the per-repeat timing files, and a verdict. A row is a regression when it is significantly
//! slower (the interval lies above 1) and its ratio exceeds `1 + threshold`; the command exits
//! non-zero when there is one, so a tracking job can fail on it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

use crate::export::{read_summary, RowStatus, SummaryRow, TimingRow};
use crate::timing::{ratio_of_medians, RatioCi};

/// Which configuration a row or a repeat belongs to: framework, model, method and every size
/// that tells two configurations apart.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RowKey {
    /// Framework name.
    pub framework: String,
    /// Model.
    pub model: String,
    /// Method.
    pub method: String,
    /// Observations.
    pub n_points: usize,
    /// Noise sd, as written (`0.05`, `1.0`), empty without one.
    pub noise_sd: String,
    /// Particles.
    pub n_particles: Option<usize>,
    /// Kept MCMC samples.
    pub n_samples: Option<usize>,
    /// ELBO draws per step.
    pub n_elbo_samples: Option<usize>,
    /// MCMC chains.
    pub n_chains: Option<usize>,
}

impl RowKey {
    fn of_row(r: &SummaryRow) -> Self {
        Self {
            framework: r.framework.clone(),
            model: r.model.clone(),
            method: r.method.clone(),
            n_points: r.n_points.unwrap_or(0),
            noise_sd: r.noise_sd.map(crate::data::format_noise_sd).unwrap_or_default(),
            n_particles: r.n_particles,
            n_samples: r.n_samples,
            n_elbo_samples: r.n_elbo_samples,
            n_chains: r.n_chains,
        }
    }

    fn of_repeat(t: &TimingRow) -> Self {
        Self {
            framework: t.framework.clone(),
            model: t.model.clone(),
            method: t.method.clone(),
            n_points: t.n_points,
            noise_sd: t.noise_sd.map(crate::data::format_noise_sd).unwrap_or_default(),
            n_particles: t.n_particles,
            n_samples: t.n_samples,
            n_elbo_samples: t.n_elbo_samples,
            n_chains: t.n_chains,
        }
    }

    /// `numpyro polynomial/hmc n=100 sd=0.05 samples=1000`.
    #[must_use]
    pub fn label(&self) -> String {
        let mut s = format!("{} {}/{} n={}", self.framework, self.model, self.method, self.n_points);
        if !self.noise_sd.is_empty() {
            s.push_str(&format!(" sd={}", self.noise_sd));
        }
        let chains = self.n_chains.filter(|&c| c > 1);
        for (name, v) in [("N", self.n_particles), ("samples", self.n_samples), ("K", self.n_elbo_samples), ("chains", chains)] {
            if let Some(v) = v {
                s.push_str(&format!(" {name}={v}"));
            }
        }
        s
    }
}

/// What a row's comparison says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Significantly slower by more than the threshold.
    Regression,
    /// Significantly slower, by no more than the threshold.
    Slower,
    /// Significantly faster.
    Faster,
    /// The interval holds 1.
    Same,
}

impl Verdict {
    /// The word printed for it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Regression => "REGRESSION",
            Self::Slower => "slower",
            Self::Faster => "faster",
            Self::Same => "no change",
        }
    }
}

/// One row measured in both folders.
#[derive(Clone, Debug)]
pub struct RowComparison {
    /// The configuration.
    pub key: RowKey,
    /// The old median time, seconds.
    pub old_median: f64,
    /// The new median time, seconds.
    pub new_median: f64,
    /// New over old, with its interval.
    pub ratio: RatioCi,
    /// The verdict at the threshold.
    pub verdict: Verdict,
}

/// The comparison of two result folders.
#[derive(Clone, Debug, Default)]
pub struct Comparison {
    /// Rows measured in both, in key order.
    pub rows: Vec<RowComparison>,
    /// Rows measured in only one of them (or without repeats in one), with which.
    pub unmatched: Vec<String>,
    /// The threshold used: a regression is slower by more than this fraction.
    pub threshold: f64,
}

impl Comparison {
    /// The rows that are regressions.
    pub fn regressions(&self) -> impl Iterator<Item = &RowComparison> {
        self.rows.iter().filter(|r| r.verdict == Verdict::Regression)
    }

    /// The table `compare` prints: one line per row, then the counts.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = format!(
            "{:<64} {:>11} {:>11} {:>8}  {:<16} {}\n",
            "configuration", "old median", "new median", "new/old", "95% interval", "verdict"
        );
        for r in &self.rows {
            let interval = format!("[{:.3}, {:.3}]", r.ratio.low, r.ratio.high);
            out.push_str(&format!(
                "{:<64} {:>11} {:>11} {:>7.3}x  {interval:<16} {}\n",
                r.key.label(),
                crate::suite::format_seconds(r.old_median),
                crate::suite::format_seconds(r.new_median),
                r.ratio.ratio,
                r.verdict.as_str()
            ));
        }
        for u in &self.unmatched {
            out.push_str(&format!("not compared: {u}\n"));
        }
        let count = |v: Verdict| self.rows.iter().filter(|r| r.verdict == v).count();
        out.push_str(&format!(
            "{} rows compared: {} regressions (slower by more than {:.0}%, significant), {} slower within it, {} faster, {} without a significant change\n",
            self.rows.len(),
            count(Verdict::Regression),
            self.threshold * 100.0,
            count(Verdict::Slower),
            count(Verdict::Faster),
            count(Verdict::Same)
        ));
        out
    }
}

/// The measured rows of a result folder with their repeats.
fn measured(dir: &Path) -> anyhow::Result<BTreeMap<RowKey, (f64, Vec<f64>)>> {
    let rows = read_summary(&dir.join("summary.csv"))?;
    let mut repeats: BTreeMap<RowKey, Vec<f64>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if !path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with("_timing.csv")) {
            continue;
        }
        let mut reader = csv::Reader::from_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
        for t in reader.deserialize::<TimingRow>() {
            let t = t.with_context(|| format!("{}: a repeat does not parse", path.display()))?;
            repeats.entry(RowKey::of_repeat(&t)).or_default().push(t.time_s);
        }
    }
    Ok(rows
        .iter()
        .filter(|r| r.status == Some(RowStatus::Ok))
        .filter_map(|r| {
            let key = RowKey::of_row(r);
            let times = repeats.remove(&key)?;
            Some((key, (r.median_time.unwrap_or(f64::NAN), times)))
        })
        .collect())
}

/// Compares the rows of `old` and `new` (result folders) at `threshold` (a fraction: 0.1 flags
/// significant slowdowns of more than 10%).
///
/// # Errors
/// A folder without a readable `summary.csv`, or a timing file that does not parse.
pub fn compare(old: &Path, new: &Path, threshold: f64) -> anyhow::Result<Comparison> {
    let (old_rows, mut new_rows) = (measured(old)?, measured(new)?);
    let mut comparison = Comparison { threshold, ..Comparison::default() };
    for (key, (old_median, old_times)) in old_rows {
        let Some((new_median, new_times)) = new_rows.remove(&key) else {
            comparison.unmatched.push(format!("{} (only in {})", key.label(), old.display()));
            continue;
        };
        let Some(ratio) = ratio_of_medians(&new_times, &old_times) else {
            comparison.unmatched.push(format!("{} (no positive median time)", key.label()));
            continue;
        };
        let verdict = if ratio.low > 1.0 {
            if ratio.ratio > 1.0 + threshold {
                Verdict::Regression
            } else {
                Verdict::Slower
            }
        } else if ratio.high < 1.0 {
            Verdict::Faster
        } else {
            Verdict::Same
        };
        comparison.rows.push(RowComparison { key, old_median, new_median, ratio, verdict });
    }
    comparison.unmatched.extend(new_rows.into_keys().map(|k| format!("{} (only in {})", k.label(), new.display())));
    Ok(comparison)
}

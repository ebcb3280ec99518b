//! The timing protocol: the first call is timed on its own (it compiles, where anything
//! compiles) and excluded; then every repeat is timed with its result materialised; the summary
//! statistics are min, median, mean, standard deviation and interquartile range.

use std::hint::black_box;
use std::time::Instant;

use serde::Serialize;

use crate::alloc_meter;
use crate::interrupt::{self, Interrupted};
use crate::models::Repeats;

/// Summary statistics of the timed repeats, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TimeStats {
    /// Number of repeats.
    pub n: usize,
    /// Fastest repeat.
    pub min: f64,
    /// Median (linear interpolation between order statistics, as numpy's default).
    pub median: f64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation with divisor n (numpy's default, as GenJAX's `std_time`).
    pub std: f64,
    /// First quartile.
    pub q1: f64,
    /// Third quartile.
    pub q3: f64,
    /// q3 - q1.
    pub iqr: f64,
}

impl TimeStats {
    /// Statistics of `times`; `None` when empty.
    #[must_use]
    pub fn from_times(times: &[f64]) -> Option<Self> {
        if times.is_empty() {
            return None;
        }
        let mut sorted = times.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let mean = sorted.iter().sum::<f64>() / n as f64;
        let var = sorted.iter().map(|t| (t - mean) * (t - mean)).sum::<f64>() / n as f64;
        let (q1, q3) = (quantile(&sorted, 0.25), quantile(&sorted, 0.75));
        Some(Self { n, min: sorted[0], median: quantile(&sorted, 0.5), mean, std: var.sqrt(), q1, q3, iqr: q3 - q1 })
    }
}

/// Quantile `p` of sorted data by linear interpolation (type 7).
#[must_use]
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// What [`measure_in_process`] returns.
#[derive(Clone, Debug)]
pub struct Measured<T> {
    /// Wall clock of the first call, seconds (excluded from `times_s`).
    pub first_call_s: f64,
    /// Wall clock of each timed repeat, seconds.
    pub times_s: Vec<f64>,
    /// Heap high-water mark of the first call above what was live before it, bytes.
    pub peak_heap_bytes: u64,
    /// The output of the last repeat (its quality goes next to the times).
    pub last: T,
}

/// Runs an in-process row under the protocol. `call(seed)` performs the whole inference and
/// returns its materialised output; repeat r gets seed `seed + 1 + r` so no two calls can share
/// cached work. The first call (seed `seed`) is timed separately and measured for heap use.
///
/// # Errors
/// [`Interrupted`] when a stop was requested between repeats (the configuration is then dropped).
pub fn measure_in_process<T>(repeats: Repeats, seed: u64, mut call: impl FnMut(u64) -> T) -> Result<Measured<T>, Interrupted> {
    let start = Instant::now();
    let (first, peak_heap_bytes) = alloc_meter::measure(|| black_box(call(seed)));
    let first_call_s = start.elapsed().as_secs_f64();
    drop(first);
    let n = repeats.resolve_in_process(first_call_s);
    let mut times_s = Vec::with_capacity(n);
    let mut last = None;
    for r in 0..n as u64 {
        if interrupt::requested() {
            return Err(Interrupted);
        }
        // Free the previous output before the next call so that two never coexist.
        drop(last.take());
        let start = Instant::now();
        let out = black_box(call(seed + 1 + r));
        times_s.push(start.elapsed().as_secs_f64());
        last = Some(out);
    }
    let last = last.expect("at least Repeats::MIN repeats");
    Ok(Measured { first_call_s, times_s, peak_heap_bytes, last })
}

impl<T> Measured<T> {
    /// The same measurement without its output (once the quality has been read from it).
    #[must_use]
    pub fn without_output(self) -> Measured<()> {
        Measured { first_call_s: self.first_call_s, times_s: self.times_s, peak_heap_bytes: self.peak_heap_bytes, last: () }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_match_numpy() {
        let s = TimeStats::from_times(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.mean), (1.0, 2.5, 2.5));
        assert_eq!((s.q1, s.q3, s.iqr), (1.75, 3.25, 1.5));
        assert!((s.std - 1.25f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn fixed_repeats_are_honoured_and_seeds_differ() {
        let mut seeds = Vec::new();
        let m = measure_in_process(Repeats::Fixed(6), 10, |s| seeds.push(s)).unwrap();
        assert_eq!(m.times_s.len(), 6);
        assert_eq!(seeds, vec![10, 11, 12, 13, 14, 15, 16]);
    }
}

//! The timing protocol: the first call is timed on its own (it compiles, where anything
//! compiles) and excluded; then every repeat is timed with its result materialised; the summary
//! statistics are min, median, mean, standard deviation and interquartile range.

use std::hint::black_box;
use std::time::Instant;

use serde::Serialize;

use crate::alloc_meter;
use crate::interrupt::{self, Interrupted};
use crate::models::RoundShare;

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

/// A ratio of two medians, `median(numerator) / median(denominator)`, with a 95% confidence
/// interval from the percentile bootstrap.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RatioCi {
    /// The ratio of the medians.
    pub ratio: f64,
    /// The 2.5% quantile of the bootstrap ratios.
    pub low: f64,
    /// The 97.5% quantile of the bootstrap ratios.
    pub high: f64,
}

impl RatioCi {
    /// Whether the interval excludes 1: the two medians differ at the 5% level.
    #[must_use]
    pub fn significant(&self) -> bool {
        self.low > 1.0 || self.high < 1.0
    }
}

/// Bootstrap resamples behind a [`RatioCi`]: the 2.5% and 97.5% quantiles of 2000 ratios move
/// by about 1% of the interval's width between seeds.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// `median(numerator) / median(denominator)` with its percentile-bootstrap 95% interval: each
/// resample draws both samples again with replacement, independently (the two rows' repeats
/// are independent runs), and takes the ratio of their medians. The seed is fixed, so the
/// same times always give the same interval. `None` when either sample is empty or a median
/// is not positive.
///
/// Written here rather than taken from a crate: it is a dozen lines over `quantile`, and the
/// statistics crates in use (statrs) have no bootstrap.
#[must_use]
pub fn ratio_of_medians(numerator: &[f64], denominator: &[f64]) -> Option<RatioCi> {
    use rand::{Rng, SeedableRng};
    let median = |x: &[f64]| TimeStats::from_times(x).map(|s| s.median);
    let (num, den) = (median(numerator)?, median(denominator)?);
    if !(num > 0.0 && den > 0.0) {
        return None;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
    let (mut a, mut b) = (vec![0.0; numerator.len()], vec![0.0; denominator.len()]);
    let mut ratios = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    for _ in 0..BOOTSTRAP_RESAMPLES {
        a.iter_mut().for_each(|x| *x = numerator[rng.random_range(0..numerator.len())]);
        b.iter_mut().for_each(|x| *x = denominator[rng.random_range(0..denominator.len())]);
        a.sort_by(f64::total_cmp);
        b.sort_by(f64::total_cmp);
        ratios.push(quantile(&a, 0.5) / quantile(&b, 0.5));
    }
    ratios.sort_by(f64::total_cmp);
    Some(RatioCi { ratio: num / den, low: quantile(&ratios, 0.025), high: quantile(&ratios, 0.975) })
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
pub fn measure_in_process<T>(repeats: RoundShare, seed: u64, mut call: impl FnMut(u64) -> T) -> Result<Measured<T>, Interrupted> {
    let start = Instant::now();
    let (first, peak_heap_bytes) = alloc_meter::measure(|| black_box(call(seed)));
    let first_call_s = start.elapsed().as_secs_f64();
    drop(first);
    let n = repeats.in_process(first_call_s);
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
        let m = measure_in_process(RoundShare::whole(crate::models::Repeats::Fixed(6)), 10, |s| seeds.push(s)).unwrap();
        assert_eq!(m.times_s.len(), 6);
        assert_eq!(seeds, vec![10, 11, 12, 13, 14, 15, 16]);
    }

    /// Over 100 pairs of samples from one distribution, the interval holds 1 about 95% of the
    /// time (false alarms: 5 expected, sd 2.2; at most 12 allowed, 3 sd above); over 100 pairs
    /// where one sample is twice as slow, it holds 2 as often and never holds 1.
    #[test]
    fn the_bootstrap_interval_covers_the_true_ratio() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut sample = |scale: f64| (0..30).map(|_| scale * (1.0 + 0.2 * rng.random::<f64>())).collect::<Vec<f64>>();
        let (mut false_alarms, mut misses, mut undetected) = (0, 0, 0);
        for _ in 0..100 {
            let (a, b, slow) = (sample(1.0), sample(1.0), sample(2.0));
            false_alarms += usize::from(ratio_of_medians(&b, &a).unwrap().significant());
            let twice = ratio_of_medians(&slow, &a).unwrap();
            misses += usize::from(!(twice.low <= 2.0 && twice.high >= 2.0));
            undetected += usize::from(!twice.significant());
            assert_eq!(ratio_of_medians(&slow, &a), Some(twice), "the same times give the same interval");
        }
        assert!(false_alarms <= 12 && misses <= 12 && undetected == 0, "{false_alarms} false alarms, {misses} misses, {undetected} undetected");
        assert_eq!(ratio_of_medians(&[], &[1.0]), None);
    }
}

//! Warm-up adaptation as Stan does it: dual averaging of the step size, a Welford estimate of
//! the posterior variances for a diagonal mass matrix, the windowed schedule that ties them
//! together, and the heuristic first step size.
//!
//! References: Hoffman and Gelman (2014), "The No-U-Turn Sampler", JMLR 15, §3.2 (dual
//! averaging, after Nesterov 2009); Stan Reference Manual, "HMC algorithm parameters"
//! (adaptation windows); Stan's `stepsize_adaptation.hpp`, `var_adaptation.hpp`,
//! `windowed_adaptation.hpp` and `base_hmc.hpp` (`init_stepsize`).

use crate::error::GenError;

use super::target::InferenceError;

/// Nesterov dual averaging of log(step size) towards a target acceptance statistic, with
/// Stan's constants (γ = 0.05, t₀ = 10, κ = 0.75).
#[derive(Clone, Debug, PartialEq)]
pub struct DualAveraging {
    /// The target acceptance statistic δ.
    pub target_accept: f64,
    /// The point log(step size) is shrunk towards, μ; Stan uses log(10 ε₀).
    pub mu: f64,
    /// Adaptation iterations since the last restart.
    pub counter: f64,
    /// The running average of δ − (acceptance statistic), s̄.
    pub s_bar: f64,
    /// The running average of log(step size), x̄: the step size after warm-up is exp(x̄).
    pub x_bar: f64,
}

impl DualAveraging {
    /// Stan's γ: how strongly the step size reacts to the acceptance statistic.
    pub const GAMMA: f64 = 0.05;
    /// Stan's t₀: damps the first iterations.
    pub const T0: f64 = 10.0;
    /// Stan's κ: how fast the average x̄ forgets early iterations.
    pub const KAPPA: f64 = 0.75;

    /// Starts adapting from step size `step_size` (μ = log(10 · step_size), as Stan sets it)
    /// towards the acceptance statistic `target_accept`.
    #[must_use]
    pub fn new(step_size: f64, target_accept: f64) -> Self {
        DualAveraging { target_accept, mu: (10.0 * step_size).ln(), counter: 0.0, s_bar: 0.0, x_bar: 0.0 }
    }

    /// Forgets the history and shrinks towards log(10 · step_size) from now on (Stan, after
    /// each mass matrix update).
    pub fn restart(&mut self, step_size: f64) {
        self.mu = (10.0 * step_size).ln();
        self.counter = 0.0;
        self.s_bar = 0.0;
        self.x_bar = 0.0;
    }

    /// Takes the acceptance statistic of one transition (clipped to 1) and returns the step
    /// size for the next one.
    pub fn learn(&mut self, accept_stat: f64) -> f64 {
        self.counter += 1.0;
        // NaN would poison every later step size; a transition that produced no statistic
        // accepted nothing.
        let accept_stat = if accept_stat.is_nan() { 0.0 } else { accept_stat.min(1.0) };
        let eta = 1.0 / (self.counter + Self::T0);
        self.s_bar = (1.0 - eta) * self.s_bar + eta * (self.target_accept - accept_stat);
        let x = self.mu - self.s_bar * self.counter.sqrt() / Self::GAMMA;
        let x_eta = self.counter.powf(-Self::KAPPA);
        self.x_bar = (1.0 - x_eta) * self.x_bar + x_eta * x;
        x.exp()
    }

    /// The step size to sample with after warm-up, exp(x̄); `None` if nothing was learned
    /// since the last restart (Stan would return exp(0) = 1 there).
    #[must_use]
    pub fn final_step_size(&self) -> Option<f64> {
        (self.counter > 0.0).then(|| self.x_bar.exp())
    }
}

/// Welford's online mean and variance of each coordinate (Stan's `welford_var_estimator`).
#[derive(Clone, Debug, PartialEq)]
pub struct WelfordVariance {
    count: usize,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl WelfordVariance {
    /// An empty estimator for `dim` coordinates.
    #[must_use]
    pub fn new(dim: usize) -> Self {
        WelfordVariance { count: 0, mean: vec![0.0; dim], m2: vec![0.0; dim] }
    }

    /// The number of points added since the last reset.
    #[must_use]
    pub fn count(&self) -> usize {
        self.count
    }

    /// Forgets every point.
    pub fn reset(&mut self) {
        self.count = 0;
        self.mean.fill(0.0);
        self.m2.fill(0.0);
    }

    /// Adds one point.
    ///
    /// # Panics
    /// If `x` does not have the estimator's dimension.
    pub fn add(&mut self, x: &[f64]) {
        assert_eq!(x.len(), self.mean.len(), "point of the wrong dimension");
        self.count += 1;
        let n = self.count as f64;
        for ((m, m2), &x) in self.mean.iter_mut().zip(&mut self.m2).zip(x) {
            let delta = x - *m;
            *m += delta / n;
            *m2 += (x - *m) * delta;
        }
    }

    /// The running means.
    #[must_use]
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Writes the sample variances (divisor n − 1) into `out`; leaves `out` unchanged and
    /// returns false with fewer than 2 points.
    pub fn variance(&self, out: &mut [f64]) -> bool {
        if self.count < 2 {
            return false;
        }
        let denominator = self.count as f64 - 1.0;
        out.iter_mut().zip(&self.m2).for_each(|(v, m2)| *v = m2 / denominator);
        true
    }

    /// Writes Stan's regularized variance (n/(n+5)) σ̂² + 10⁻³ · 5/(n+5) into `out`: shrinks
    /// towards a small constant so a short window cannot make the metric singular. Leaves
    /// `out` unchanged and returns false with fewer than 2 points.
    pub fn regularized_variance(&self, out: &mut [f64]) -> bool {
        if !self.variance(out) {
            return false;
        }
        let n = self.count as f64;
        out.iter_mut().for_each(|v| *v = (n / (n + 5.0)) * *v + 1e-3 * (5.0 / (n + 5.0)));
        true
    }
}

/// Sizes of Stan's warm-up stages, in iterations: a fast initial buffer (step size only),
/// slow windows that double in length (mass matrix and step size), and a fast terminal buffer
/// (step size only). Stan's defaults are 75, 25 and 50.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowSettings {
    /// Iterations before the first mass matrix window.
    pub init_buffer: usize,
    /// Length of the first window; each following one is twice as long.
    pub base_window: usize,
    /// Iterations after the last window.
    pub term_buffer: usize,
}

impl Default for WindowSettings {
    fn default() -> Self {
        WindowSettings { init_buffer: 75, base_window: 25, term_buffer: 50 }
    }
}

impl WindowSettings {
    pub(crate) fn validate(&self) -> Result<(), InferenceError> {
        if self.base_window == 0 {
            return Err(InferenceError::config("windows", "base_window must be at least 1"));
        }
        Ok(())
    }
}

/// When the mass matrix is estimated during a warm-up of a given length.
///
/// Windows are half-open ranges `[start, end)` of warm-up iterations (0-based): the estimator
/// collects the state after each iteration in the window, and the mass matrix is updated after
/// iteration `end - 1`. With Stan's defaults and 1000 warm-up iterations the windows end
/// after iterations 100, 150, 250, 450 and 950.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WarmupSchedule {
    windows: Vec<(usize, usize)>,
}

impl WarmupSchedule {
    /// Stan's schedule (`windowed_adaptation`) for `num_warmup` iterations.
    ///
    /// - Fewer than 20 warm-up iterations: no windows (step size adaptation only).
    /// - Buffers and base window longer than the warm-up: Stan's fallback of a 15% initial
    ///   buffer, one window of the remaining 75%, and a 10% terminal buffer. (Stan's code
    ///   announces this split but, as of 2.36, leaves its window counter unset in this branch
    ///   so the metric is never updated; this schedule does what Stan announces.)
    /// - Otherwise windows of `base_window`, `2 base_window`, ... after the initial buffer; a
    ///   window is stretched to the terminal buffer when the next one would not fit.
    #[must_use]
    pub fn new(num_warmup: usize, settings: WindowSettings) -> Self {
        if num_warmup < 20 {
            return WarmupSchedule { windows: Vec::new() };
        }
        let WindowSettings { mut init_buffer, mut base_window, mut term_buffer } = settings;
        if init_buffer + base_window + term_buffer > num_warmup {
            // Stan truncates the products in double precision.
            init_buffer = (0.15 * num_warmup as f64) as usize;
            term_buffer = (0.10 * num_warmup as f64) as usize;
            base_window = num_warmup - init_buffer - term_buffer;
        }
        let last = num_warmup - term_buffer;
        let mut windows = Vec::new();
        let (mut start, mut size) = (init_buffer, base_window.max(1));
        let mut end = init_buffer + size;
        loop {
            windows.push((start, end));
            if end >= last {
                break;
            }
            size *= 2;
            start = end;
            end += size;
            // Stretch this window when the one after it (twice as long) would overrun.
            if end >= last || end - 1 + 2 * size >= last {
                end = last;
            }
        }
        WarmupSchedule { windows }
    }

    /// The windows as half-open ranges `[start, end)` of 0-based warm-up iterations.
    #[must_use]
    pub fn windows(&self) -> &[(usize, usize)] {
        &self.windows
    }

    /// Whether the state after warm-up iteration `iteration` feeds the variance estimate.
    #[must_use]
    pub fn in_window(&self, iteration: usize) -> bool {
        match (self.windows.first(), self.windows.last()) {
            (Some(&(first, _)), Some(&(_, last))) => iteration >= first && iteration < last,
            _ => false,
        }
    }

    /// Whether the mass matrix is updated after warm-up iteration `iteration`.
    #[must_use]
    pub fn is_window_end(&self, iteration: usize) -> bool {
        self.windows.iter().any(|&(_, end)| end == iteration + 1)
    }
}

/// The largest step size [`init_stepsize`] tries before calling the posterior improper.
const MAX_STEP_SIZE: f64 = 1e7;

/// Stan's heuristic first step size (`base_hmc::init_stepsize`): doubles or halves the step
/// size until the acceptance probability of one leapfrog step from the current point crosses
/// 0.8.
///
/// `energy_change(step_size)` draws a fresh momentum, takes one leapfrog step of that size
/// from the current point, and returns H₀ − H (its log acceptance probability); NaN counts as
/// −∞. `chain` only labels the error.
///
/// # Errors
/// [`InferenceError::StepSize`] when the step size grows past 10⁷ (an improper posterior) or
/// shrinks to 0 (no small enough step: a discontinuous posterior); errors of `energy_change`
/// pass through.
pub fn init_stepsize(
    chain: usize,
    step_size: f64,
    mut energy_change: impl FnMut(f64) -> Result<f64, GenError>,
) -> Result<f64, InferenceError> {
    // As Stan: leave extreme or meaningless starting values alone.
    if step_size == 0.0 || step_size > MAX_STEP_SIZE || step_size.is_nan() {
        return Ok(step_size);
    }
    let log_threshold = 0.8f64.ln();
    let mut change = |eps: f64| -> Result<f64, GenError> {
        let d = energy_change(eps)?;
        Ok(if d.is_nan() { f64::NEG_INFINITY } else { d })
    };
    let mut eps = step_size;
    let increase = change(eps)? > log_threshold;
    loop {
        let d = change(eps)?;
        // `change` never returns NaN, so these are the negations of Stan's tests.
        if (increase && d <= log_threshold) || (!increase && d >= log_threshold) {
            return Ok(eps);
        }
        eps = if increase { 2.0 * eps } else { 0.5 * eps };
        if eps > MAX_STEP_SIZE {
            return Err(InferenceError::StepSize {
                chain,
                message: format!("the step size grew past {MAX_STEP_SIZE}: the posterior is improper"),
            });
        }
        if eps == 0.0 {
            return Err(InferenceError::StepSize {
                chain,
                message: "no acceptably small step size: is the posterior discontinuous?".into(),
            });
        }
    }
}

/// What to adapt during warm-up and how.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct AdaptSettings {
    pub step_size: bool,
    pub mass_matrix: bool,
    pub target_accept: f64,
    pub windows: WindowSettings,
}

/// What a warm-up iteration changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Update {
    /// Only the step size (or nothing).
    StepSize,
    /// The inverse mass matrix: the caller reruns [`init_stepsize`] and then
    /// [`WindowedAdaptation::restart_step_size`], as Stan does.
    MassMatrix,
}

/// Stan's `stepsize_var_adapter`: runs the dual averaging and the windowed variance estimate
/// together over the warm-up.
#[derive(Clone, Debug)]
pub(crate) struct WindowedAdaptation {
    settings: AdaptSettings,
    dual: DualAveraging,
    welford: WelfordVariance,
    schedule: WarmupSchedule,
    iteration: usize,
}

impl WindowedAdaptation {
    pub(crate) fn new(dim: usize, num_warmup: usize, step_size: f64, settings: AdaptSettings) -> Self {
        WindowedAdaptation {
            settings,
            dual: DualAveraging::new(step_size, settings.target_accept),
            welford: WelfordVariance::new(if settings.mass_matrix { dim } else { 0 }),
            schedule: if settings.mass_matrix {
                WarmupSchedule::new(num_warmup, settings.windows)
            } else {
                WarmupSchedule { windows: Vec::new() }
            },
            iteration: 0,
        }
    }

    /// Learns from one warm-up transition that ended at `q` with acceptance statistic
    /// `accept_stat`; updates `step_size` and `inv_mass_matrix` in place.
    pub(crate) fn learn(&mut self, accept_stat: f64, q: &[f64], step_size: &mut f64, inv_mass_matrix: &mut [f64]) -> Update {
        let i = self.iteration;
        self.iteration += 1;
        if self.settings.step_size {
            *step_size = self.dual.learn(accept_stat);
        }
        if !self.settings.mass_matrix {
            return Update::StepSize;
        }
        if self.schedule.in_window(i) {
            self.welford.add(q);
        }
        if self.schedule.is_window_end(i) {
            let updated = self.welford.regularized_variance(inv_mass_matrix);
            self.welford.reset();
            if updated {
                return Update::MassMatrix;
            }
        }
        Update::StepSize
    }

    /// Whether the step size is being adapted.
    pub(crate) fn adapts_step_size(&self) -> bool {
        self.settings.step_size
    }

    /// Restarts the dual averaging around a new step size (after a mass matrix update).
    pub(crate) fn restart_step_size(&mut self, step_size: f64) {
        self.dual.restart(step_size);
    }

    /// The step size to sample with after warm-up.
    pub(crate) fn final_step_size(&self, current: f64) -> f64 {
        if self.settings.step_size {
            self.dual.final_step_size().unwrap_or(current)
        } else {
            current
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    #[test]
    fn dual_averaging_matches_hand_computed_steps() {
        // mu = log(10 * 1), delta = 0.8; values from the recursions of Hoffman and Gelman
        // (2014), eq. (6), computed by hand in double precision.
        let mut da = DualAveraging::new(1.0, 0.8);
        let eps = da.learn(0.5);
        assert!(close(eps, 5.795_782_787_848_097, 1e-12), "{eps}");
        assert!(close(da.x_bar, 1.757_130_547_539_500_5, 1e-12));
        // Statistics above 1 are clipped to 1.
        let eps = da.learn(1.3);
        assert!(close(eps, 7.900_158_579_283_462, 1e-12), "{eps}");
        assert!(close(da.x_bar, 1.941_310_358_179_774_8, 1e-12));
        let eps = da.learn(0.9);
        assert!(close(eps, 10.0, 1e-12), "{eps}");
        assert!(close(da.final_step_size().unwrap(), 8.164_524_226_513_267, 1e-12));
    }

    #[test]
    fn dual_averaging_converges_to_the_step_size_with_the_target_acceptance() {
        // Acceptance exp(-eps) reaches 0.8 at eps = -ln 0.8.
        let mut da = DualAveraging::new(1.0, 0.8);
        let mut eps: f64 = 1.0;
        for _ in 0..5000 {
            eps = da.learn((-eps).exp());
        }
        let target = -0.8f64.ln();
        assert!((da.final_step_size().unwrap() - target).abs() < 0.01 * target);
        da.restart(0.3);
        assert_eq!(da.final_step_size(), None);
        assert!((da.mu - 3.0f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn welford_matches_the_two_pass_variance_and_stans_regularization() {
        let mut w = WelfordVariance::new(2);
        let mut out = [7.0, 7.0];
        assert!(!w.variance(&mut out));
        assert_eq!(out, [7.0, 7.0]);
        for x in [[1.0, 10.0], [2.0, 10.0], [3.0, 13.0], [4.0, 7.0]] {
            w.add(&x);
        }
        assert_eq!(w.count(), 4);
        assert!(w.variance(&mut out));
        // var(1,2,3,4) = 5/3; var(10,10,13,7) = 6.
        assert!(close(out[0], 5.0 / 3.0, 1e-14) && close(out[1], 6.0, 1e-14), "{out:?}");
        assert!(close(w.mean()[1], 10.0, 1e-14));
        assert!(w.regularized_variance(&mut out));
        // (4/9) var + 1e-3 * 5/9.
        assert!(close(out[0], 4.0 / 9.0 * 5.0 / 3.0 + 5e-3 / 9.0, 1e-14), "{}", out[0]);
        assert!(close(out[1], 4.0 / 9.0 * 6.0 + 5e-3 / 9.0, 1e-14));
        w.reset();
        assert_eq!(w.count(), 0);
    }

    fn ends(num_warmup: usize) -> Vec<usize> {
        WarmupSchedule::new(num_warmup, WindowSettings::default()).windows().iter().map(|w| w.1).collect()
    }

    #[test]
    fn schedule_matches_stans_window_boundaries() {
        let s = WarmupSchedule::new(1000, WindowSettings::default());
        assert_eq!(s.windows(), &[(75, 100), (100, 150), (150, 250), (250, 450), (450, 950)]);
        assert!(!s.in_window(74) && s.in_window(75) && s.in_window(949) && !s.in_window(950));
        assert!(s.is_window_end(99) && s.is_window_end(949) && !s.is_window_end(100));
        // Exactly the three stages: one window.
        assert_eq!(ends(150), [100]);
        assert_eq!(ends(200), [100, 150]);
        // 2000 iterations: the window of 800 after 850 would be followed by one of 1600 that
        // overruns 1950, so it stretches to 1950.
        assert_eq!(ends(2000), [100, 150, 250, 450, 850, 1950]);
        // 500: the window of 200 after 250 ends exactly at the terminal buffer.
        assert_eq!(ends(500), [100, 150, 250, 450]);
        assert_eq!(ends(400), [100, 150, 350]);
    }

    #[test]
    fn short_warmup_uses_stans_fallback_split() {
        // 15% / 75% / 10%.
        assert_eq!(WarmupSchedule::new(100, WindowSettings::default()).windows(), &[(15, 90)]);
        assert_eq!(WarmupSchedule::new(50, WindowSettings::default()).windows(), &[(7, 45)]);
        assert_eq!(WarmupSchedule::new(149, WindowSettings::default()).windows(), &[(22, 135)]);
        // Below 20 iterations, no mass matrix adaptation at all.
        assert!(WarmupSchedule::new(19, WindowSettings::default()).windows().is_empty());
        assert!(!WarmupSchedule::new(19, WindowSettings::default()).in_window(5));
    }

    #[test]
    fn init_stepsize_halves_until_acceptance_reaches_0_8() {
        // ΔH = -eps²: at eps = 1 acceptance is e^-1 < 0.8, so halve; 0.5 gives e^-0.25 < 0.8,
        // 0.25 gives e^-0.0625 > 0.8 and stops there.
        let eps = init_stepsize(0, 1.0, |eps| Ok(-eps * eps)).unwrap();
        assert_eq!(eps, 0.25);
        // ΔH = -eps²/100: doubles while acceptance > 0.8; stops at the first step below it.
        let eps = init_stepsize(0, 1.0, |eps| Ok(-eps * eps / 100.0)).unwrap();
        assert_eq!(eps, 8.0);
        // NaN energies count as -inf: keep halving.
        let eps = init_stepsize(0, 1.0, |eps| Ok(if eps > 0.1 { f64::NAN } else { 0.0 })).unwrap();
        assert_eq!(eps, 0.0625);
    }

    #[test]
    fn init_stepsize_reports_improper_and_discontinuous_posteriors() {
        let err = init_stepsize(3, 1.0, |_| Ok(0.0)).unwrap_err();
        assert!(matches!(err, InferenceError::StepSize { chain: 3, .. }), "{err}");
        assert!(err.to_string().contains("improper"));
        let err = init_stepsize(0, 1.0, |_| Ok(f64::NEG_INFINITY)).unwrap_err();
        assert!(err.to_string().contains("discontinuous"), "{err}");
    }

    #[test]
    fn windowed_adaptation_updates_the_metric_at_window_ends() {
        let settings = AdaptSettings { step_size: true, mass_matrix: true, target_accept: 0.8, windows: WindowSettings::default() };
        let mut adapt = WindowedAdaptation::new(1, 200, 1.0, settings);
        let (mut eps, mut inv_m) = (1.0, [1.0]);
        let mut updates = Vec::new();
        for i in 0..200 {
            // The state alternates between ±2: variance 4 (times n/(n-1)).
            let q = [if i % 2 == 0 { 2.0 } else { -2.0 }];
            if adapt.learn(0.8, &q, &mut eps, &mut inv_m) == Update::MassMatrix {
                updates.push((i, inv_m[0]));
                adapt.restart_step_size(eps);
            }
        }
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].0, 99);
        // Window [75, 100): 25 points, 13 of +2 and 12 of -2; [100, 150): 50 points.
        let var25 = (25.0 * 4.0 - (2.0f64 * 1.0).powi(2) / 25.0) / 24.0;
        assert!(close(updates[0].1, 25.0 / 30.0 * var25 + 1e-3 * 5.0 / 30.0, 1e-12));
        assert_eq!(updates[1].0, 149);
        let var50 = 50.0 * 4.0 / 49.0;
        assert!(close(updates[1].1, 50.0 / 55.0 * var50 + 1e-3 * 5.0 / 55.0, 1e-12));
        assert!(adapt.final_step_size(eps).is_finite());
    }
}

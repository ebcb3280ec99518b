//! The No-U-Turn Sampler as Stan implements it (`base_nuts.hpp`, Stan 2.21 and later).
//!
//! - The trajectory doubles in a random direction until it makes a U-turn, diverges, or
//!   reaches `max_tree_depth` doublings (Hoffman and Gelman 2014).
//! - Multinomial sampling (Betancourt 2017, "A Conceptual Introduction to Hamiltonian Monte
//!   Carlo", appendix A): each state is weighted by exp(H₀ − H); within a subtree the
//!   proposal is drawn uniformly by weight, and at the top level each new subtree replaces
//!   the sample with probability min(1, w_new / w_old) (biased progressive sampling), which
//!   favours states far from the start.
//! - The generalized no-U-turn criterion on the summed momenta ρ and the velocities M⁻¹p at
//!   the ends of a tree, checked for every merged tree and, as Stan added in 2.21, also across
//!   the two halves: the first half with the first state of the second, and the second half
//!   with the last state of the first.
//! - A transition is divergent when some state's energy error H − H₀ exceeds 1000 (or is not
//!   finite); the subtree that contains it is discarded.
//! - The acceptance statistic for step size adaptation is the mean of min(1, exp(H₀ − H)) over
//!   every state built, including those of a discarded subtree.
//! - Warm-up: Stan's heuristic first step size, dual averaging towards 0.8, and a diagonal
//!   mass matrix estimated in Stan's doubling windows (see [`super::adapt`]).
//!
//! ```
//! use gen_runtime::inference::{from_fn, nuts, NutsConfig};
//! use gen_runtime::Key;
//!
//! // Normal(1, 2²) in one dimension.
//! let target = from_fn(1, |theta: &[f64], grad: &mut [f64]| {
//!     grad[0] = -(theta[0] - 1.0) / 4.0;
//!     Ok(-(theta[0] - 1.0).powi(2) / 8.0)
//! });
//! let config = NutsConfig { num_warmup: 200, num_samples: 500, num_chains: 2, ..NutsConfig::default() };
//! let samples = nuts(&target, &config, Key::new(7))?;
//! assert!((samples.mean(0) - 1.0).abs() < 0.5);
//! assert!(samples.chains[0].tree_depth.iter().all(|&d| d <= 10));
//! # Ok::<(), gen_runtime::inference::InferenceError>(())
//! ```

use rand::Rng;

use crate::error::GenError;
use crate::rng::{Key, KeyRng};

use super::adapt::{AdaptSettings, WindowSettings};
use super::hmc::{
    leapfrog, require_max_energy_error, validate_adaptation, ChainSetup, ChainState, Metric, Point, DEFAULT_MAX_ENERGY_ERROR,
};
use super::target::{require_positive, require_probability, run_chains, validate_common, Chain, InferenceError, Init, Samples, Target};

/// The deepest tree [`nuts`] accepts as `max_tree_depth` (2³⁰ leapfrog steps per draw).
pub const MAX_TREE_DEPTH_LIMIT: u32 = 30;

/// Settings of [`nuts`]. The default is CmdStan's: 4 chains from Uniform(−2, 2), 1000 warm-up
/// iterations and 1000 draws, maximum tree depth 10, step size and diagonal mass matrix
/// adapted towards an acceptance statistic of 0.8.
#[derive(Clone, Debug, PartialEq)]
pub struct NutsConfig {
    /// Warm-up iterations (discarded; adaptation happens here).
    pub num_warmup: usize,
    /// Draws kept per chain.
    pub num_samples: usize,
    /// The starting step size (the step size throughout if `adapt_step_size` is off).
    pub step_size: f64,
    /// The most doublings per transition (Stan's `max_depth`, default 10).
    pub max_tree_depth: u32,
    /// Adapt the step size during warm-up by dual averaging towards `target_accept`.
    pub adapt_step_size: bool,
    /// Estimate a diagonal mass matrix during warm-up in Stan's windows.
    pub adapt_mass_matrix: bool,
    /// The acceptance statistic dual averaging aims for (Stan's `delta`, default 0.8).
    pub target_accept: f64,
    /// Stan's warm-up windows for the mass matrix.
    pub windows: WindowSettings,
    /// Chains, run in parallel; chain `c` draws from `key.split(c)`.
    pub num_chains: usize,
    /// Where the chains start.
    pub init: Init,
    /// The diagonal of the initial inverse mass matrix; `None` is the identity.
    pub inv_mass_matrix: Option<Vec<f64>>,
    /// The energy error above which a state is divergent (Stan: 1000).
    pub max_energy_error: f64,
}

impl Default for NutsConfig {
    fn default() -> Self {
        NutsConfig {
            num_warmup: 1000,
            num_samples: 1000,
            step_size: 1.0,
            max_tree_depth: 10,
            adapt_step_size: true,
            adapt_mass_matrix: true,
            target_accept: 0.8,
            windows: WindowSettings::default(),
            num_chains: 4,
            init: Init::STAN,
            inv_mass_matrix: None,
            max_energy_error: DEFAULT_MAX_ENERGY_ERROR,
        }
    }
}

impl NutsConfig {
    fn validate<T: Target + ?Sized>(&self, target: &T) -> Result<(), InferenceError> {
        validate_common(target, self.num_chains, &self.init, self.inv_mass_matrix.as_deref())?;
        require_positive("step_size", self.step_size)?;
        if self.max_tree_depth == 0 || self.max_tree_depth > MAX_TREE_DEPTH_LIMIT {
            return Err(InferenceError::config(
                "max_tree_depth",
                format!("is {}, but must be between 1 and {MAX_TREE_DEPTH_LIMIT}", self.max_tree_depth),
            ));
        }
        require_probability("target_accept", self.target_accept)?;
        require_max_energy_error(self.max_energy_error)?;
        validate_adaptation(self.num_warmup, self.adapt_step_size, self.adapt_mass_matrix, &self.windows)
    }
}

/// Runs NUTS on every chain.
///
/// Divergent transitions are counted per chain ([`Chain::divergences`]) and never put a
/// non-finite value into the draws. Each draw records its tree depth and leapfrog count.
///
/// # Errors
/// [`InferenceError::Config`] for an invalid setting, [`InferenceError::Init`] if a chain has
/// no valid starting point, [`InferenceError::StepSize`] if the step size search fails, and
/// [`InferenceError::Model`] for a model error that is not recoverable.
pub fn nuts<T: Target + ?Sized>(target: &T, config: &NutsConfig, key: Key) -> Result<Samples, InferenceError> {
    config.validate(target)?;
    let chains = run_chains(config.num_chains, |c| nuts_chain(target, config, key, c))?;
    Ok(Samples { dim: target.dim(), num_samples: config.num_samples, chains })
}

fn nuts_chain<T: Target + ?Sized>(target: &T, config: &NutsConfig, key: Key, chain: usize) -> Result<Chain, InferenceError> {
    let setup = ChainSetup {
        init: &config.init,
        inv_mass_matrix: config.inv_mass_matrix.as_deref(),
        step_size: config.step_size,
        num_warmup: config.num_warmup,
        adapt: AdaptSettings {
            step_size: config.adapt_step_size,
            mass_matrix: config.adapt_mass_matrix,
            target_accept: config.target_accept,
            windows: config.windows,
        },
    };
    let mut state = ChainState::start(target, chain, key, &setup)?;
    let mut ws = Workspace::new(target.dim(), config.max_tree_depth as usize);
    let settings = TreeSettings { max_depth: config.max_tree_depth, max_energy_error: config.max_energy_error };
    let mut out = Chain::with_capacity(target.dim(), config.num_warmup, config.num_samples, true);
    for iteration in 0..config.num_warmup + config.num_samples {
        let t = ws.transition(target, &state.metric, &mut state.z, state.step_size, settings, &mut state.rng)?;
        state.evaluations += u64::from(t.num_leapfrog);
        if iteration < config.num_warmup {
            out.warmup_divergences += usize::from(t.divergent);
            out.warmup_accept_prob.push(t.accept_prob);
            state.adapt(iteration, t.accept_prob)?;
        } else {
            out.draws.extend_from_slice(&state.z.q);
            out.log_density.push(state.z.logp);
            out.accept_prob.push(t.accept_prob);
            out.divergent.push(t.divergent);
            out.num_leapfrog.push(t.num_leapfrog);
            out.tree_depth.push(t.depth);
            out.energy.push(t.energy);
            out.accepted += usize::from(t.moved);
        }
    }
    state.finish(&mut out);
    Ok(out)
}

#[derive(Clone, Copy, Debug)]
struct TreeSettings {
    max_depth: u32,
    max_energy_error: f64,
}

/// What one NUTS transition did.
#[derive(Clone, Copy, Debug)]
struct Transition {
    accept_prob: f64,
    divergent: bool,
    moved: bool,
    depth: u32,
    num_leapfrog: u32,
    energy: f64,
}

/// Buffers of one level of the recursion: the subtree built at depth d keeps its two halves'
/// boundary momenta, summed momenta and the second half's proposal here.
#[derive(Clone, Debug)]
struct Level {
    p_init_end: Vec<f64>,
    p_sharp_init_end: Vec<f64>,
    rho_init: Vec<f64>,
    z_propose_final: Point,
    p_final_beg: Vec<f64>,
    p_sharp_final_beg: Vec<f64>,
    rho_final: Vec<f64>,
}

impl Level {
    fn new(dim: usize) -> Self {
        Level {
            p_init_end: vec![0.0; dim],
            p_sharp_init_end: vec![0.0; dim],
            rho_init: vec![0.0; dim],
            z_propose_final: Point::new(dim),
            p_final_beg: vec![0.0; dim],
            p_sharp_final_beg: vec![0.0; dim],
            rho_final: vec![0.0; dim],
        }
    }
}

/// One half of the trajectory as NUTS grows it: after an extension the newest subtree is the
/// half on the side it was built, and everything before it the other half. `p_outer` and
/// `p_sharp_outer` are the momentum and velocity at the trajectory's end on this side (Stan's
/// `p_fwd_fwd` for the forward half), `p_inner` and `p_sharp_inner` those at this half's
/// boundary with the other (`p_fwd_bck`), `rho` its summed momenta (`rho_fwd`) and `z` the
/// state at the end, where the next extension on this side starts (`z_fwd`).
#[derive(Clone, Debug)]
struct Half {
    z: Point,
    p_outer: Vec<f64>,
    p_sharp_outer: Vec<f64>,
    p_inner: Vec<f64>,
    p_sharp_inner: Vec<f64>,
    rho: Vec<f64>,
}

impl Half {
    fn new(dim: usize) -> Self {
        Half {
            z: Point::new(dim),
            p_outer: vec![0.0; dim],
            p_sharp_outer: vec![0.0; dim],
            p_inner: vec![0.0; dim],
            p_sharp_inner: vec![0.0; dim],
            rho: vec![0.0; dim],
        }
    }

    /// The one-state trajectory at `start` (momentum `start.p`, velocity `p_sharp`).
    fn reset(&mut self, start: &Point, p_sharp: &[f64]) {
        self.z.copy_from(start);
        self.p_outer.copy_from_slice(&start.p);
        self.p_inner.copy_from_slice(&start.p);
        self.p_sharp_outer.copy_from_slice(p_sharp);
        self.p_sharp_inner.copy_from_slice(p_sharp);
    }
}

/// Every buffer a chain's transitions need, allocated once per chain. The names follow Stan
/// where it has them; "sharp" momenta are velocities M⁻¹p.
#[derive(Clone, Debug)]
struct Workspace {
    /// The integrator's state.
    z: Point,
    /// The forward half of the trajectory and the backward one (see [`Half`]).
    fwd: Half,
    bck: Half,
    z_sample: Point,
    z_propose: Point,
    /// The velocity at the initial state.
    p_sharp_start: Vec<f64>,
    /// The summed momenta of the whole trajectory.
    rho: Vec<f64>,
    levels: Vec<Level>,
}

impl Workspace {
    fn new(dim: usize, max_depth: usize) -> Self {
        Workspace {
            z: Point::new(dim),
            fwd: Half::new(dim),
            bck: Half::new(dim),
            z_sample: Point::new(dim),
            z_propose: Point::new(dim),
            p_sharp_start: vec![0.0; dim],
            rho: vec![0.0; dim],
            // Depth d uses level d - 1; the top level builds subtrees of depth < max_depth.
            levels: (0..max_depth.saturating_sub(1)).map(|_| Level::new(dim)).collect(),
        }
    }

    /// One NUTS transition from `current`, leaving the new state there.
    fn transition<T: Target + ?Sized>(
        &mut self,
        target: &T,
        metric: &Metric,
        current: &mut Point,
        step_size: f64,
        settings: TreeSettings,
        rng: &mut KeyRng,
    ) -> Result<Transition, GenError> {
        let Workspace { z, fwd, bck, z_sample, z_propose, p_sharp_start, rho, levels } = self;

        metric.sample_momentum(rng, &mut current.p);
        let h0 = metric.hamiltonian(current);
        metric.velocity(&current.p, p_sharp_start);
        fwd.reset(current, p_sharp_start);
        bck.reset(current, p_sharp_start);
        rho.copy_from_slice(&current.p);

        let mut tree = Tree {
            target,
            metric,
            step_size,
            h0,
            max_energy_error: settings.max_energy_error,
            rng,
            num_leapfrog: 0,
            sum_metro_prob: 0.0,
            divergent: false,
        };
        // log Σ exp(H₀ − H) over the trajectory; the initial state has weight 1.
        let mut log_sum_weight = 0.0;
        let mut depth = 0;
        let mut moved = false;
        while depth < settings.max_depth {
            fwd.rho.fill(0.0);
            bck.rho.fill(0.0);
            let mut log_sum_weight_subtree = f64::NEG_INFINITY;
            // Extend forward or backward in time with probability 1/2 each: the new subtree
            // grows from the end on that side, and the trajectory so far becomes the other half.
            let forward = tree.rng.random::<f64>() > 0.5;
            let (new, old) = if forward { (&mut *fwd, &mut *bck) } else { (&mut *bck, &mut *fwd) };
            z.copy_from(&new.z);
            old.rho.copy_from_slice(rho);
            old.p_inner.copy_from_slice(&new.p_outer);
            old.p_sharp_inner.copy_from_slice(&new.p_sharp_outer);
            tree.step_size = if forward { step_size } else { -step_size };
            let ends = Ends { p_sharp_beg: &mut new.p_sharp_inner, p_sharp_end: &mut new.p_sharp_outer, p_beg: &mut new.p_inner, p_end: &mut new.p_outer };
            let valid = tree.build(depth as usize, levels, z, ends, z_propose, &mut new.rho, &mut log_sum_weight_subtree)?;
            new.z.copy_from(z);
            if !valid {
                break;
            }
            depth += 1;

            // Biased progressive sampling: prefer the new subtree.
            if log_sum_weight_subtree > log_sum_weight || tree.rng.random::<f64>() < (log_sum_weight_subtree - log_sum_weight).exp() {
                // The sample lives in `z_sample` once it has moved; until then it is `current`.
                z_sample.copy_from(z_propose);
                moved = true;
            }
            log_sum_weight = log_sum_exp(log_sum_weight, log_sum_weight_subtree);

            for ((r, b), f) in rho.iter_mut().zip(&bck.rho).zip(&fwd.rho) {
                *r = b + f;
            }
            // Around the merged trajectory, then across its two halves.
            let persist = no_u_turn(&bck.p_sharp_outer, &fwd.p_sharp_outer, rho, None)
                && no_u_turn(&bck.p_sharp_outer, &fwd.p_sharp_inner, &bck.rho, Some(&fwd.p_inner))
                && no_u_turn(&bck.p_sharp_inner, &fwd.p_sharp_outer, &fwd.rho, Some(&bck.p_inner));
            if !persist {
                break;
            }
        }

        let (num_leapfrog, sum_metro_prob, divergent) = (tree.num_leapfrog, tree.sum_metro_prob, tree.divergent);
        if moved {
            std::mem::swap(current, z_sample);
        }
        Ok(Transition {
            accept_prob: sum_metro_prob / f64::from(num_leapfrog),
            divergent,
            moved,
            depth,
            num_leapfrog,
            energy: metric.hamiltonian(current),
        })
    }
}

/// The boundary momenta a subtree reports to its parent: velocities and momenta at its first
/// and last states (first and last in the direction of integration).
struct Ends<'a> {
    p_sharp_beg: &'a mut [f64],
    p_sharp_end: &'a mut [f64],
    p_beg: &'a mut [f64],
    p_end: &'a mut [f64],
}

/// The state of one transition's tree building that every subtree shares.
struct Tree<'a, T: ?Sized> {
    target: &'a T,
    metric: &'a Metric,
    /// Signed: negative builds backwards in time.
    step_size: f64,
    h0: f64,
    max_energy_error: f64,
    rng: &'a mut KeyRng,
    num_leapfrog: u32,
    sum_metro_prob: f64,
    divergent: bool,
}

impl<T: Target + ?Sized> Tree<'_, T> {
    /// Builds a subtree of 2^depth states from `z` (Stan's `build_tree`): writes its proposal
    /// into `z_propose`, its boundary momenta into `ends`, adds its momenta to `rho` and its
    /// log weight to `log_sum_weight`. Returns false if it diverged or turned.
    #[allow(clippy::too_many_arguments)]
    fn build(
        &mut self,
        depth: usize,
        levels: &mut [Level],
        z: &mut Point,
        ends: Ends<'_>,
        z_propose: &mut Point,
        rho: &mut [f64],
        log_sum_weight: &mut f64,
    ) -> Result<bool, GenError> {
        if depth == 0 {
            leapfrog(self.target, self.metric, z, self.step_size)?;
            self.num_leapfrog += 1;
            let h = self.metric.hamiltonian(z);
            if h - self.h0 > self.max_energy_error {
                self.divergent = true;
            }
            *log_sum_weight = log_sum_exp(*log_sum_weight, self.h0 - h);
            self.sum_metro_prob += if self.h0 - h > 0.0 { 1.0 } else { (self.h0 - h).exp() };
            z_propose.copy_from(z);
            self.metric.velocity(&z.p, ends.p_sharp_beg);
            ends.p_sharp_end.copy_from_slice(ends.p_sharp_beg);
            rho.iter_mut().zip(&z.p).for_each(|(r, p)| *r += p);
            ends.p_beg.copy_from_slice(&z.p);
            ends.p_end.copy_from_slice(&z.p);
            return Ok(!self.divergent);
        }

        let (lower, this) = levels.split_at_mut(depth - 1);
        let Level { p_init_end, p_sharp_init_end, rho_init, z_propose_final, p_final_beg, p_sharp_final_beg, rho_final } = &mut this[0];
        let Ends { p_sharp_beg, p_sharp_end, p_beg, p_end } = ends;

        let mut log_sum_weight_init = f64::NEG_INFINITY;
        rho_init.fill(0.0);
        let init_ends = Ends { p_sharp_beg: &mut *p_sharp_beg, p_sharp_end: p_sharp_init_end, p_beg, p_end: p_init_end };
        if !self.build(depth - 1, lower, z, init_ends, z_propose, rho_init, &mut log_sum_weight_init)? {
            return Ok(false);
        }

        let mut log_sum_weight_final = f64::NEG_INFINITY;
        rho_final.fill(0.0);
        let final_ends = Ends { p_sharp_beg: p_sharp_final_beg, p_sharp_end: &mut *p_sharp_end, p_beg: p_final_beg, p_end };
        if !self.build(depth - 1, lower, z, final_ends, z_propose_final, rho_final, &mut log_sum_weight_final)? {
            return Ok(false);
        }

        // Multinomial sampling within the subtree: uniform by weight.
        let log_sum_weight_subtree = log_sum_exp(log_sum_weight_init, log_sum_weight_final);
        *log_sum_weight = log_sum_exp(*log_sum_weight, log_sum_weight_subtree);
        if log_sum_weight_final > log_sum_weight_subtree || self.rng.random::<f64>() < (log_sum_weight_final - log_sum_weight_subtree).exp()
        {
            z_propose.copy_from(z_propose_final);
        }

        for ((r, a), b) in rho.iter_mut().zip(&*rho_init).zip(&*rho_final) {
            *r += a + b;
        }
        // Around the merged subtree, then across its two halves.
        let persist = no_u_turn_sum(p_sharp_beg, p_sharp_end, rho_init, rho_final)
            && no_u_turn(p_sharp_beg, p_sharp_final_beg, rho_init, Some(p_final_beg))
            && no_u_turn(p_sharp_init_end, p_sharp_end, rho_final, Some(p_init_end));
        Ok(persist)
    }
}

/// The generalized no-U-turn criterion (Betancourt 2017): the trajectory with summed momentum
/// ρ (+ `extra`) keeps going while both ends still move along it, v₋·ρ > 0 and v₊·ρ > 0.
#[inline]
fn no_u_turn(p_sharp_minus: &[f64], p_sharp_plus: &[f64], rho: &[f64], extra: Option<&[f64]>) -> bool {
    match extra {
        Some(extra) => no_u_turn_sum(p_sharp_minus, p_sharp_plus, rho, extra),
        None => {
            let (mut minus, mut plus) = (0.0, 0.0);
            for ((m, p), r) in p_sharp_minus.iter().zip(p_sharp_plus).zip(rho) {
                minus += m * r;
                plus += p * r;
            }
            plus > 0.0 && minus > 0.0
        }
    }
}

/// [`no_u_turn`] with ρ = a + b, without materializing the sum.
#[inline]
fn no_u_turn_sum(p_sharp_minus: &[f64], p_sharp_plus: &[f64], a: &[f64], b: &[f64]) -> bool {
    let (mut minus, mut plus) = (0.0, 0.0);
    for (((m, p), a), b) in p_sharp_minus.iter().zip(p_sharp_plus).zip(a).zip(b) {
        let r = a + b;
        minus += m * r;
        plus += p * r;
    }
    plus > 0.0 && minus > 0.0
}

/// log(eᵃ + eᵇ), exact when either is −∞.
#[inline]
fn log_sum_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::target::from_fn;

    fn standard_normal(dim: usize) -> impl Target {
        from_fn(dim, |q: &[f64], g: &mut [f64]| {
            g.iter_mut().zip(q).for_each(|(g, x)| *g = -x);
            Ok(-0.5 * q.iter().map(|x| x * x).sum::<f64>())
        })
    }

    #[test]
    fn log_sum_exp_handles_infinities() {
        assert_eq!(log_sum_exp(f64::NEG_INFINITY, 0.5), 0.5);
        assert_eq!(log_sum_exp(0.5, f64::NEG_INFINITY), 0.5);
        assert!((log_sum_exp(0.0, 0.0) - 2f64.ln()).abs() < 1e-15);
        assert!((log_sum_exp(1000.0, 999.0) - (1000.0 + (-1f64).exp().ln_1p())).abs() < 1e-12);
    }

    #[test]
    fn leapfrog_counts_match_the_tree_depth() {
        let target = standard_normal(5);
        let config = NutsConfig { num_warmup: 100, num_samples: 300, num_chains: 1, ..NutsConfig::default() };
        let samples = nuts(&target, &config, Key::new(11)).unwrap();
        let chain = &samples.chains[0];
        assert_eq!(chain.tree_depth.len(), 300);
        for (&depth, &n) in chain.tree_depth.iter().zip(&chain.num_leapfrog) {
            // depth completed doublings hold 2^depth - 1 steps; a rejected last subtree adds
            // up to 2^depth more.
            assert!(n + 1 >= 1 << depth && n < 1 << (depth + 1), "depth {depth}, {n} steps");
        }
        let total: u64 = chain.num_leapfrog.iter().map(|&n| u64::from(n)).sum();
        assert!(chain.gradient_evaluations > total);
    }

    #[test]
    fn the_tree_stops_at_max_depth() {
        // A tiny fixed step never turns around within 2^3 steps.
        let target = standard_normal(2);
        let config = NutsConfig {
            num_warmup: 0,
            num_samples: 50,
            step_size: 1e-3,
            max_tree_depth: 3,
            adapt_step_size: false,
            adapt_mass_matrix: false,
            num_chains: 1,
            ..NutsConfig::default()
        };
        let chain = &nuts(&target, &config, Key::new(2)).unwrap().chains[0];
        assert!(chain.tree_depth.iter().all(|&d| d == 3));
        assert!(chain.num_leapfrog.iter().all(|&n| n == 7));
        assert!(chain.accept_prob.iter().all(|&a| a > 0.99));
    }

    #[test]
    fn a_divergent_subtree_is_never_sampled() {
        // log p = -inf outside (-1, 1): trajectories that leave diverge.
        let target = from_fn(1, |q: &[f64], g: &mut [f64]| {
            g[0] = -q[0];
            Ok(if q[0].abs() < 1.0 { -0.5 * q[0] * q[0] } else { f64::NEG_INFINITY })
        });
        let config = NutsConfig {
            num_warmup: 0,
            num_samples: 400,
            step_size: 0.4,
            adapt_step_size: false,
            adapt_mass_matrix: false,
            num_chains: 1,
            init: Init::Zeros,
            ..NutsConfig::default()
        };
        let chain = &nuts(&target, &config, Key::new(4)).unwrap().chains[0];
        assert!(chain.divergences > 0);
        assert!(chain.draws.iter().all(|q| q.abs() < 1.0));
        assert!(chain.log_density.iter().all(|l| l.is_finite()));
    }
}

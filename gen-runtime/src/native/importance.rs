//! The importance engine: each particle's log weight along a plan (see the module above),
//! the interpreter taking over a particle that leaves it.

use super::{discover, retry_invalid};
use crate::address::{chain_key, Address, Site};
use crate::choice_map::ChoiceMap;
use crate::distributions::Distribution;
use crate::dynamic::{Op, Visit};
use crate::error::GenError;
use crate::gfi::{Call, GenerativeFunction, Handler};
use crate::plate_kernels::plate_log_density;
use crate::rng::{premix, Key};
use crate::value::{ChoiceData, ChoiceValue, Element, LiftElement, Values};
use rayon::prelude::*;
use std::borrow::Cow;

/// What an importance-weight evaluation does at one site.
#[derive(Clone, Debug)]
pub(crate) enum IsAction {
    /// Score the observed value.
    Observed(ChoiceValue),
    /// Draw from the prior conditional (the proposal) and store it in latent column `column`
    /// if it is a scalar.
    Sampled { column: Option<usize> },
}

#[derive(Clone, Debug)]
pub(crate) struct IsSite {
    pub(crate) key: u64,
    /// As in [`GradSite`].
    pub(crate) parent: u64,
    pub(crate) part: u64,
    /// `premix(key)`: a sampled site draws from the particle's key xor this
    /// ([`Key::site_rng`]).
    pub(crate) premixed: u64,
    pub(crate) action: IsAction,
}

/// Log importance weights of particles drawn from the prior, with the latent scalar choices
/// of each particle. Produced by [`importance_log_weights`].
#[derive(Clone, Debug)]
pub struct Particles {
    /// The addresses of the latent scalar choices (the columns of `latents`).
    pub addresses: Vec<Address>,
    /// Row-major, one row per particle; NaN where a particle did not make that choice.
    pub latents: Vec<f64>,
    /// log p(observations | latents) of each particle.
    pub log_weights: Vec<f64>,
    /// The number of particles that took another path than the plan and were rerun with
    /// the interpreter.
    pub irregular: usize,
    /// The number of invalid particles: those whose execution had a distribution parameter
    /// out of range, an observation outside its support or a non-finite density (what MCMC
    /// treats as a point of log density -inf). Each is a particle of weight zero (log weight
    /// -inf), so the estimates are those of the posterior restricted to where the model is
    /// defined, as Stan's are.
    pub invalid: usize,
}

/// Particles per task: small enough to balance across cores, large enough that spawning a
/// task costs little against the work in it.
pub(crate) fn chunk_size(n_particles: usize, work_per_particle: usize) -> usize {
    let min_work = 1 << 15;
    let by_work = min_work / work_per_particle.max(1);
    by_work.clamp(16, n_particles.max(16))
}

/// The importance-sampling plan of `call` given `observations`: the sites in visit order with
/// what to do at each, the addresses of the latent scalar columns, and the work per particle
/// (sites plus observed elements), discovered by one run of the interpreter with
/// `key.split(0)`.
pub(crate) fn is_plan<G: GenerativeFunction>(
    call: &Call<G>,
    observations: &ChoiceMap,
    key: Key,
) -> Result<(Vec<IsSite>, Vec<Address>, usize), GenError> {
    let trail = discover_valid(call, observations, key)?;
    let mut addresses = Vec::new();
    let mut work = 1;
    let plan: Vec<IsSite> = trail
        .into_iter()
        .map(|v| {
            let action = match observations.get(&v.addr) {
                Some(value) => {
                    work += value.element_count();
                    IsAction::Observed(value.clone())
                }
                None => {
                    work += 4;
                    let column = (!v.vector).then(|| {
                        addresses.push(v.addr.clone());
                        addresses.len() - 1
                    });
                    IsAction::Sampled { column }
                }
            };
            IsSite { key: v.key, parent: v.parent, part: v.part, premixed: premix(v.key), action }
        })
        .collect();
    Ok((plan, addresses, work))
}

/// The visits of one valid execution of `generate`, for a plan: the first with `key.split(0)`
/// (particle 0's key), then others (a particle with a bad parameter says nothing about the
/// plan's sites, but cannot build it).
fn discover_valid<G: GenerativeFunction>(call: &Call<G>, observations: &ChoiceMap, key: Key) -> Result<Vec<Visit>, GenError> {
    retry_invalid(key.split(0), |k| discover(call, Op::Generate(observations), k)).map(|(trail, _)| trail)
}

/// `generate`'s log weight for a particle the plan could not run: the interpreter's, or
/// -inf for an invalid particle (see [`Particles::invalid`]), with its trace if valid.
pub(crate) fn generate_or_invalid<G: GenerativeFunction>(
    call: &Call<G>,
    observations: &ChoiceMap,
    key: Key,
) -> Result<Option<(crate::gfi::Trace<G>, f64)>, GenError> {
    match call.generate(key, observations) {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.is_recoverable() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Importance sampling with the prior as proposal: for each particle `i`, draws the
/// unobserved choices with key `key.split(i)` and returns log p(observations | latents).
/// The same key gives the same particles as [`Call::generate`] with `key.split(i)`,
/// whatever the thread count.
///
/// A particle with a parameter out of range or an observation outside its support has
/// log weight -inf and is counted in [`Particles::invalid`].
///
/// # Errors
/// Those of [`Call::generate`] that say the model or the observations are wrong (an
/// unvisited or mistyped observation, a duplicate address); every particle invalid (the
/// last one's error).
pub fn importance_log_weights<G: GenerativeFunction>(
    call: &Call<G>,
    observations: &ChoiceMap,
    n_particles: usize,
    key: Key,
) -> Result<Particles, GenError> {
    let (plan, addresses, work) = is_plan(call, observations, key)?;
    let d = addresses.len();
    let mut log_weights = vec![0.0; n_particles];
    let mut latents = vec![f64::NAN; n_particles * d];
    let chunk = chunk_size(n_particles, work);
    let counts: Result<(usize, usize), GenError> = log_weights
        .par_chunks_mut(chunk)
        .zip(latents.par_chunks_mut((chunk * d).max(1)))
        .enumerate()
        .map(|(c, (weights, rows))| {
            let (mut irregular, mut invalid) = (0, 0);
            for (j, w) in weights.iter_mut().enumerate() {
                let i = c * chunk + j;
                let row = &mut rows[j * d..(j + 1) * d];
                if let Some(((), lw)) = IsEval::follow(&plan, key.split(i as u64), row, |h| {
                    let _ = call.gf.run(h, call.args.clone());
                }) {
                    *w = lw;
                    continue;
                }
                // Another path, or a density to diagnose: the interpreter handles both and
                // names any error.
                irregular += 1;
                row.fill(f64::NAN);
                let Some((trace, lw)) = generate_or_invalid(call, observations, key.split(i as u64))? else {
                    invalid += 1;
                    *w = f64::NEG_INFINITY;
                    continue;
                };
                *w = lw;
                for (slot, a) in row.iter_mut().zip(&addresses) {
                    *slot = trace.choices().get(a).and_then(ChoiceValue::to_f64).unwrap_or(f64::NAN);
                }
            }
            Ok((irregular, invalid))
        })
        .try_reduce(|| (0, 0), |a, b| Ok((a.0 + b.0, a.1 + b.1)));
    let (irregular, invalid) = counts?;
    if invalid == n_particles {
        // Every particle invalid: the estimate is undefined. Say why for the last one.
        return Err(call.generate(key.split(n_particles as u64 - 1), observations).err().unwrap_or_else(|| {
            GenError::BadArguments { function: "importance_sampling", message: "every particle has weight zero".into() }
        }));
    }
    Ok(Particles { addresses, latents, log_weights, irregular, invalid })
}

/// Evaluates one particle's log weight along the plan.
pub(crate) struct IsEval<'p, 'r> {
    plan: &'p [IsSite],
    pos: usize,
    key: Key,
    lw: f64,
    /// The hash of the enclosing call's address (0 at the top); `call` saves and restores it
    /// on the Rust stack, so nesting needs no allocation.
    parent: u64,
    /// The particle's row of latent columns, written in place (no copy per particle); the
    /// columns of choices it does not make keep what the caller put there.
    row: &'r mut [f64],
    failed: bool,
}

impl<'p, 'r> IsEval<'p, 'r> {
    /// Runs one particle (`run` executes the model on this handler) with key `key` along
    /// `plan`, writing its latent columns into `row`: its result and log weight, or `None` if
    /// it left the plan or its weight is not finite, for the caller to rerun it with the
    /// interpreter (which takes any path and names any error).
    #[inline]
    pub(crate) fn follow<R>(plan: &'p [IsSite], key: Key, row: &'r mut [f64], run: impl FnOnce(&mut Self) -> R) -> Option<(R, f64)> {
        let mut h = IsEval { plan, pos: 0, key, lw: 0.0, parent: 0, row, failed: false };
        let out = run(&mut h);
        (!h.failed && h.pos == plan.len() && h.lw.is_finite()).then_some((out, h.lw))
    }

    /// The plan's next site if its hash matches.
    #[inline]
    fn next(&mut self, site: &Site<'_>) -> Option<&'p IsSite> {
        let plan: &'p [IsSite] = self.plan;
        match plan.get(self.pos) {
            Some(s) if s.part == site.key && s.parent == self.parent => {
                self.pos += 1;
                Some(s)
            }
            _ => {
                self.failed = true;
                None
            }
        }
    }
}

impl<'c, 'p: 'c> Handler<'c> for IsEval<'p, '_> {
    type Real = f64;
    type Datum = f64;

    #[inline]
    fn sample<D: Distribution<Real = f64>>(&mut self, site: Site<'_>, dist: D) -> D::Value {
        let Some(s) = self.next(&site) else { return dist.lift(&D::Data::default()) };
        match &s.action {
            IsAction::Observed(v) => match D::Data::from_value(v) {
                Some(x) => {
                    self.lw += dist.log_density_data(&x);
                    dist.lift(&x)
                }
                None => {
                    self.failed = true;
                    dist.lift(&D::Data::default())
                }
            },
            IsAction::Sampled { column } => {
                // A parameter out of range: the interpreter reruns the particle and names it.
                if dist.check().is_err() {
                    self.failed = true;
                    return dist.lift(&D::Data::default());
                }
                let x = dist.sample(&mut self.key.site_rng(s.premixed));
                if let Some(slot) = column.and_then(|c| self.row.get_mut(c)) {
                    *slot = x.to_f64().unwrap_or(f64::NAN);
                }
                dist.lift(&x)
            }
        }
    }

    #[inline]
    fn plate<D, F>(&mut self, site: Site<'_>, xs: &[f64], f: F) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = f64>,
        D::Data: LiftElement<D::Value>,
        F: Fn(f64) -> D,
    {
        let Some(s) = self.next(&site) else { return Values::placeholder(xs.len()) };
        match &s.action {
            IsAction::Observed(v) => {
                let Some(ys) = <D::Data as Element>::slice(v).filter(|ys| ys.len() == xs.len()) else {
                    self.failed = true;
                    return Values::placeholder(xs.len());
                };
                self.lw += plate_log_density(xs, ys, |x, y| f(*x).log_density_parts(y));
                Values::stored(Cow::Borrowed(ys))
            }
            IsAction::Sampled { .. } => {
                let mut rng = self.key.site_rng(s.premixed);
                Values::stored(Cow::Owned(
                    xs.iter()
                        .map(|x| {
                            // Sampling with a bad parameter may panic: check first.
                            let d = f(*x);
                            if d.check().is_err() {
                                self.failed = true;
                                return D::Data::default();
                            }
                            d.sample(&mut rng)
                        })
                        .collect(),
                ))
            }
        }
    }

    #[inline]
    fn iid<D>(&mut self, site: Site<'_>, dist: D, n: usize) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = f64>,
        D::Data: LiftElement<D::Value>,
    {
        let Some(s) = self.next(&site) else { return Values::placeholder(n) };
        match &s.action {
            IsAction::Observed(v) => {
                let Some(ys) = <D::Data as Element>::slice(v).filter(|ys| ys.len() == n) else {
                    self.failed = true;
                    return Values::placeholder(n);
                };
                self.lw += plate_log_density(ys, ys, |_, y| dist.log_density_parts(y));
                Values::stored(Cow::Borrowed(ys))
            }
            IsAction::Sampled { .. } => {
                if dist.check().is_err() {
                    self.failed = true;
                    return Values::placeholder(n);
                }
                let mut rng = self.key.site_rng(s.premixed);
                Values::stored(Cow::Owned((0..n).map(|_| dist.sample(&mut rng)).collect()))
            }
        }
    }

    #[inline]
    fn factor(&mut self, _: Site<'_>, log_weight: f64) {
        // A NaN or +inf term is an error the interpreter reports when it reruns the particle.
        if log_weight.is_nan() || log_weight == f64::INFINITY {
            self.failed = true;
        }
        self.lw += log_weight;
    }

    fn fail(&mut self, _: GenError) {
        // The interpreter reruns the particle and reports the error.
        self.failed = true;
    }

    fn call<G: GenerativeFunction>(&mut self, site: Site<'_>, gf: &G, args: G::Args<f64>) -> G::Ret<f64> {
        let saved = self.parent;
        self.parent = chain_key(saved, site.key);
        let ret = gf.run(self, args);
        self.parent = saved;
        ret
    }
}

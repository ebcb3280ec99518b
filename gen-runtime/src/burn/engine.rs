//! The batched handler and the engine's entry points.

use super::tape::{backward, host_of, with_new_tape, Batched, Val};
use crate::address::{chain_key, Address, Site};
use crate::choice_map::ChoiceMap;
use crate::distributions::{Distribution, Support};
use crate::error::GenError;
use crate::gfi::{Call, GenerativeFunction, Handler};
use crate::value::{LiftElement, Values};
use crate::native::{is_plan, GradAction, GradSite, IsAction, IsSite, LogDensity, Particles};
use crate::rng::{premix, Key};
use crate::value::{ChoiceData, ChoiceValue, Element};
use burn_tensor::backend::{AutodiffBackend, Backend};
use rayon::prelude::*;
use std::borrow::Cow;

/// The largest intermediate a chunk of the batch may make, in bytes. Default glibc maps
/// buffers of a few MB afresh on every allocation; beyond that, burn-flex's element-wise ops
/// run several times faster on tensors that stay in cache. Measured with the `burn` bench
/// (IS, N=10000, n=1000): 130 ms with 1 MB chunks, 37 ms with 256 KB, 31 ms with 64 KB.
const MAX_INTERMEDIATE_BYTES: usize = 1 << 16;

/// The Burn engine on one device: runs `#[gen]` models with every value a tensor whose rows
/// are particles (importance sampling) or chains (gradients).
///
/// Randomness comes from the runtime's keys, not Burn's generator: particle `i` draws each
/// choice from `key.split(i).site_rng(premix(address))` with the same sampler as the native engine, so
/// both engines draw the same numbers for the same seed (samples are drawn on the host and
/// uploaded in bulk). Arithmetic is in the backend's float type (`f32` on `burn-flex`).
///
/// On the CPU backends (flex, ndarray) the engine fuses: the element-wise `[rows, data]` part
/// of a plate's log density runs as one pass on the host instead of one backend operation
/// per arithmetic step (see [`Engine::with_fusion`]). Elsewhere (CUDA, and Burn's `Autodiff`
/// decorator, whose graph must see every operation) each operation is a Burn operation.
#[derive(Clone, Debug)]
pub struct Engine<B: Backend> {
    device: B::Device,
    fuse: bool,
}

impl<B: Backend> Default for Engine<B> {
    fn default() -> Self {
        Engine::new(B::Device::default())
    }
}

/// A short name for backend `B` in messages.
fn backend_label<B: Backend>() -> &'static str {
    let name = std::any::type_name::<B>();
    if name.contains("Cuda") {
        "CUDA"
    } else if name.contains("Flex") {
        "burn-flex"
    } else if name.contains("NdArray") {
        "burn-ndarray"
    } else {
        name
    }
}

/// Whether `B` is a CPU backend on which fusing pays: its operations run one pass over
/// memory each, with no fusion of their own.
fn cpu_backend<B: Backend>() -> bool {
    use std::any::TypeId;
    let b = TypeId::of::<B>();
    #[cfg(feature = "ndarray")]
    if b == TypeId::of::<super::NdArray>() {
        return true;
    }
    b == TypeId::of::<super::Cpu>()
}

impl<B: Backend> Engine<B> {
    /// The engine on `device`, fusing where the backend is a CPU one.
    #[must_use]
    pub fn new(device: B::Device) -> Self {
        Engine { device, fuse: cpu_backend::<B>() }
    }

    /// The engine on `device`, after checking that the device starts: a backend whose device
    /// is missing (CUDA without a GPU or driver) fails here with an error instead of panicking
    /// in the first batched call.
    ///
    /// # Errors
    /// [`GenError::DeviceUnavailable`] with the backend's message.
    pub fn try_new(device: B::Device) -> Result<Self, GenError> {
        // Burn's GPU runtimes report a missing driver by panicking (in a device thread, and
        // then in the caller when the channel closes): catch it at one small tensor.
        let probe = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            burn_tensor::Tensor::<B, 1>::zeros([1], &device).into_data();
        }));
        match probe {
            Ok(()) => Ok(Engine::new(device)),
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "the backend panicked while starting the device".to_owned());
                let message = format!("{message} (the backend's own report, such as a missing driver library, is on stderr)");
                Err(GenError::DeviceUnavailable { backend: backend_label::<B>(), message })
            }
        }
    }

    /// The same engine with fusion of element-wise `[rows, data]` work on (`true`) or off.
    /// Off, every arithmetic step is one Burn operation on the backend, as on a GPU; the
    /// `burn` bench measures both. Fusion requires a backend whose tensors can be read on the
    /// host without cost that matters, and it cannot be combined with Burn's `Autodiff`.
    #[must_use]
    pub fn with_fusion(mut self, fuse: bool) -> Self {
        self.fuse = fuse;
        self
    }

    /// Rows per chunk of a batch of `n` rows whose widest data vector has `width` entries.
    /// Unfused, a `[rows, width]` f32 intermediate stays under [`MAX_INTERMEDIATE_BYTES`];
    /// fused, intermediates are `[rows, 1]`, so one chunk per thread.
    fn chunk_rows(&self, width: usize, n: usize) -> usize {
        if self.fuse {
            n.div_ceil(rayon::current_num_threads()).clamp(1, MAX_INTERMEDIATE_BYTES / 4)
        } else {
            (MAX_INTERMEDIATE_BYTES / 4 / width.max(1)).clamp(1, n.max(1))
        }
    }

    /// Importance sampling with the prior as proposal, batched: the same contract and the
    /// same particles as [`importance_log_weights`](crate::importance_log_weights) on the
    /// native engine, up to the backend's float precision.
    ///
    /// A particle whose log weight comes out NaN (a parameter out of its domain, for
    /// example) gets weight -inf and is counted in [`Particles::invalid`].
    ///
    /// # Errors
    /// [`GenError::BadArguments`] for no particles; those of [`Call::generate`] on the first
    /// particle; [`GenError::Unsupported`] where the
    /// model's control flow depends on a random choice or it samples a discrete or vector
    /// latent (a batched value cannot steer control flow); [`GenError::WrongLength`] where a
    /// data vector and its observations differ in length.
    pub fn importance_log_weights<G: GenerativeFunction>(
        &self,
        call: &Call<G>,
        observations: &ChoiceMap,
        n_particles: usize,
        key: Key,
    ) -> Result<Particles, GenError> {
        crate::inference::importance::check_count("Engine::importance_log_weights", n_particles)?;
        let (plan, addresses, _) = is_plan(call, observations, key)?;
        let width = widest(plan.iter().filter_map(|s| match &s.action {
            IsAction::Observed(v) => Some(v),
            IsAction::Sampled { .. } => None,
        }));
        let d = addresses.len();
        let chunk = self.chunk_rows(width, n_particles);
        let mut log_weights = vec![0.0; n_particles];
        let mut latents = vec![f64::NAN; n_particles * d];
        let non_finite: Result<usize, GenError> = log_weights
            .par_chunks_mut(chunk)
            .zip(latents.par_chunks_mut((chunk * d).max(1)))
            .enumerate()
            .map(|(c, (weights, rows))| {
                let first = c * chunk;
                let n = weights.len();
                with_new_tape::<B, _>(&self.device, self.fuse, || {
                    let mut h = BatchEval::<B>::new(Plan::Importance(&plan), n, first, key, d);
                    let _ = call.gf.run(&mut h, call.gf.lift_args(&call.args));
                    h.finish()?;
                    let (lw, _) = h.lp.to_host();
                    for (j, w) in weights.iter_mut().enumerate() {
                        *w = if lw.len() == 1 { lw[0] } else { lw[j] };
                    }
                    for (col, values) in h.columns.iter().enumerate() {
                        for (j, v) in values.iter().enumerate() {
                            rows[j * d + col] = *v;
                        }
                    }
                    Ok(mark_non_finite(weights))
                })
            })
            .sum();
        Ok(Particles { addresses, latents, log_weights, irregular: 0, invalid: non_finite? })
    }

    /// Importance sampling with a custom proposal, batched: the same contract and the same
    /// particles as [`importance_sampling_with_proposal`](crate::inference::importance_sampling_with_proposal)
    /// on the native engine, up to the backend's float precision. Particle `i` proposes on
    /// the host with the native key (`key.split(i).split(0)`); the model's log joint at every
    /// proposal is then one batched evaluation, rows being particles.
    ///
    /// The proposal must propose every latent choice: the native engine draws the others
    /// from the prior per particle, which a batch whose rows share one plan cannot. A
    /// particle whose log weight comes out NaN gets -inf and is counted in
    /// [`Particles::invalid`].
    ///
    /// # Errors
    /// [`GenError::BadArguments`] for no particles; [`GenError::Unsupported`] naming a latent
    /// the proposal leaves out, or a proposed choice that is not continuous; the errors of
    /// the proposal's `propose` and of [`Call::generate`] on the first particle.
    pub fn importance_log_weights_with_proposal<G: GenerativeFunction, Q: GenerativeFunction>(
        &self,
        call: &Call<G>,
        observations: &ChoiceMap,
        proposal: &Call<Q>,
        n_particles: usize,
        key: Key,
    ) -> Result<Particles, GenError> {
        crate::inference::importance::check_count("Engine::importance_log_weights_with_proposal", n_particles)?;
        let proposals: Vec<(ChoiceMap, f64)> = (0..n_particles)
            .into_par_iter()
            .map(|i| proposal.propose(key.split(i as u64).split(0)).map(|(choices, q, _)| (choices, q)))
            .collect::<Result<_, _>>()?;
        let mut first = observations.clone();
        first.merge(&proposals[0].0);
        let (trace, _) = call.generate(key.split(0).split(1), &first)?;
        if let Some((address, _)) = trace.choices().iter().find(|(a, _)| !first.contains(a)) {
            return Err(GenError::Unsupported {
                address: address.clone(),
                message: "the Burn engine needs the proposal to propose every latent choice; this one is left to the prior".into(),
            });
        }
        let addresses: Vec<Address> = proposals[0].0.addresses().cloned().collect();
        let target = LogDensity::from_trace(&trace, &crate::choice_map::Selection::of(addresses.iter().cloned()))?.constrained();
        let thetas: Vec<f64> =
            proposals.iter().map(|(choices, _)| target.point(choices)).collect::<Result<Vec<_>, _>>()?.concat();
        let mut grads = vec![0.0; thetas.len()];
        let log_joint = self.log_density_and_gradient(&target, &thetas, &mut grads)?;
        let mut log_weights: Vec<f64> = log_joint.iter().zip(&proposals).map(|(p, (_, q))| p - q).collect();
        let non_finite = mark_non_finite(&mut log_weights);
        Ok(crate::inference::importance::proposed_particles(&proposals, log_weights, non_finite))
    }

    /// The log density of `target` at each row of `thetas` (row-major, one row of
    /// [`LogDensity::dim`] coordinates per chain) and its gradient, written to `grads` in the
    /// same layout. One batched forward pass and one reverse sweep of the engine's tape serve
    /// every chain.
    ///
    /// A chain whose log density is NaN gets -inf and a zero gradient.
    ///
    /// # Errors
    /// [`GenError::BadArguments`] if `thetas` or `grads` is not a whole number of rows of the
    /// target's dimension; the model taking another path than the target was built from.
    pub fn log_density_and_gradient<G: GenerativeFunction>(
        &self,
        target: &LogDensity<G>,
        thetas: &[f64],
        grads: &mut [f64],
    ) -> Result<Vec<f64>, GenError> {
        self.batched_gradients(target, thetas, grads, Batched::input, backward)
    }

    /// The chunked, parallel driver of the gradient paths: `input` makes a differentiated
    /// input from one coordinate's values, `gradient` returns d(sum lp)/d(input) per input.
    fn batched_gradients<G: GenerativeFunction>(
        &self,
        target: &LogDensity<G>,
        thetas: &[f64],
        grads: &mut [f64],
        input: impl Fn(&[f64]) -> Batched<B> + Sync,
        gradient: impl Fn(Batched<B>, &[Batched<B>]) -> Vec<Vec<f64>> + Sync,
    ) -> Result<Vec<f64>, GenError> {
        let dim = target.dim();
        if dim == 0 || !thetas.len().is_multiple_of(dim) || grads.len() != thetas.len() {
            return Err(GenError::BadArguments {
                function: "Engine::log_density_and_gradient",
                message: format!(
                    "thetas has {} entries and grads {}; both must hold the same whole number of rows of {dim} coordinates",
                    thetas.len(),
                    grads.len()
                ),
            });
        }
        let n_chains = thetas.len() / dim;
        let width = widest(target.plan.iter().filter_map(|s| match &s.action {
            GradAction::Fixed(v) => Some(v),
            GradAction::Selected { .. } => None,
        }));
        let chunk = self.chunk_rows(width, n_chains);
        let mut lps = vec![0.0; n_chains];
        lps.par_chunks_mut(chunk).zip(thetas.par_chunks(chunk * dim).zip(grads.par_chunks_mut(chunk * dim))).try_for_each(
            |(lp, (theta, grad))| {
                let n = lp.len();
                with_new_tape::<B, _>(&self.device, self.fuse, || {
                    let inputs: Vec<Batched<B>> =
                        (0..dim).map(|k| input(&theta.iter().skip(k).step_by(dim).copied().collect::<Vec<_>>())).collect();
                    let mut h = BatchEval::<B>::new(
                        Plan::Gradient { plan: &target.plan, inputs: &inputs, unconstrained: target.unconstrained },
                        n,
                        0,
                        Key(0),
                        0,
                    );
                    let _ = target.call.gf.run(&mut h, target.call.gf.lift_args(&target.call.args));
                    h.finish()?;
                    let (values, _) = h.lp.to_host();
                    for (k, g) in gradient(h.lp, &inputs).into_iter().enumerate() {
                        for (j, gj) in g.iter().enumerate().take(n) {
                            grad[j * dim + k] = *gj;
                        }
                    }
                    for (j, slot) in lp.iter_mut().enumerate() {
                        *slot = if values.len() == 1 { values[0] } else { values[j] };
                        if slot.is_nan() {
                            *slot = f64::NEG_INFINITY;
                            grad[j * dim..(j + 1) * dim].fill(0.0);
                        }
                    }
                    Ok(())
                })
            },
        )?;
        Ok(lps)
    }
}

/// A model's log density on a Burn engine, evaluated for many chains at once: what
/// [`hmc_batched`](crate::inference::hmc_batched) runs on. Made by [`Engine::target`].
pub struct EngineTarget<'a, B: Backend, G: GenerativeFunction> {
    engine: &'a Engine<B>,
    target: &'a LogDensity<G>,
}

impl<B: Backend> Engine<B> {
    /// `target` on this engine, for the batched samplers.
    #[must_use]
    pub fn target<'a, G: GenerativeFunction>(&'a self, target: &'a LogDensity<G>) -> EngineTarget<'a, B, G> {
        EngineTarget { engine: self, target }
    }
}

impl<B: Backend, G: GenerativeFunction> crate::inference::BatchTarget for EngineTarget<'_, B, G>
where
    LogDensity<G>: Sync,
{
    fn dim(&self) -> usize {
        self.target.dim()
    }

    fn log_density_and_gradient_rows(&self, thetas: &[f64], grads: &mut [f64]) -> Result<Vec<f64>, GenError> {
        self.engine.log_density_and_gradient(self.target, thetas, grads)
    }
}

/// One point at a time, as a batch of one row: how the samplers that are not batched (NUTS,
/// MALA, `hmc`) run on the Burn engine. Each chain's trees differ in size, so NUTS does not
/// run its chains in lock step; rayon runs them side by side, each thread on its own tape.
impl<B: Backend, G: GenerativeFunction> crate::inference::Target for EngineTarget<'_, B, G>
where
    LogDensity<G>: Sync,
{
    fn dim(&self) -> usize {
        self.target.dim()
    }

    fn log_density_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> Result<f64, GenError> {
        Ok(self.engine.log_density_and_gradient(self.target, theta, grad)?[0])
    }
}

impl<B: AutodiffBackend> Engine<B> {
    /// [`Engine::log_density_and_gradient`] with the gradient from Burn's autodiff instead of
    /// the engine's own tape: kept to measure one against the other (the `burn` bench).
    ///
    /// # Errors
    /// As [`Engine::log_density_and_gradient`].
    pub fn log_density_and_gradient_burn_autodiff<G: GenerativeFunction>(
        &self,
        target: &LogDensity<G>,
        thetas: &[f64],
        grads: &mut [f64],
    ) -> Result<Vec<f64>, GenError> {
        self.batched_gradients(
            target,
            thetas,
            grads,
            |xs| Batched::from_tensor(Batched::<B>::host_tensor(xs, xs.len(), 1).require_grad(), false),
            |lp, inputs| {
                let Val::T(lp) = lp.val() else { return inputs.iter().map(|_| Vec::new()).collect() };
                let g = lp.sum().backward();
                inputs
                    .iter()
                    .map(|x| match x.val() {
                        Val::T(t) => t.grad(&g).map(|g| host_of(g).0).unwrap_or_default(),
                        Val::Const(_) => Vec::new(),
                    })
                    .collect()
            },
        )
    }
}

/// The longest of the given values (the data axis of the widest intermediate), at least 1.
fn widest<'a>(given: impl Iterator<Item = &'a ChoiceValue>) -> usize {
    given.map(ChoiceValue::element_count).max().unwrap_or(1)
}

/// Sets NaN log weights to -inf and counts them.
fn mark_non_finite(weights: &mut [f64]) -> usize {
    let mut count = 0;
    for w in weights.iter_mut().filter(|w| w.is_nan()) {
        *w = f64::NEG_INFINITY;
        count += 1;
    }
    count
}

/// The plan a batched run follows.
enum Plan<'p, B: Backend> {
    /// Observed sites are scored, the others drawn from the prior.
    Importance(&'p [IsSite]),
    /// Selected sites read the chains' coordinates, the others are fixed.
    Gradient { plan: &'p [GradSite], inputs: &'p [Batched<B>], unconstrained: bool },
}

/// Runs a model body for a batch of particles or chains along a plan.
struct BatchEval<'p, B: Backend> {
    plan: Plan<'p, B>,
    pos: usize,
    /// The hash of the enclosing call's address (0 at the top).
    parent: u64,
    /// Rows of the batch, and the global index of the first (particle keys).
    rows: usize,
    first: usize,
    key: Key,
    /// The batch's log weight (importance) or log density (gradients).
    lp: Batched<B>,
    /// The latent scalar columns drawn so far, in plan order.
    columns: Vec<Vec<f64>>,
    failure: Option<GenError>,
}

impl<'p, B: Backend> BatchEval<'p, B> {
    fn new(plan: Plan<'p, B>, rows: usize, first: usize, key: Key, n_columns: usize) -> Self {
        BatchEval {
            plan,
            pos: 0,
            parent: 0,
            rows,
            first,
            key,
            lp: Batched::from(0.0),
            columns: Vec::with_capacity(n_columns),
            failure: None,
        }
    }

    fn fail_with(&mut self, e: GenError) {
        self.failure.get_or_insert(e);
    }

    fn finish(&mut self) -> Result<(), GenError> {
        if let Some(e) = self.failure.take() {
            return Err(e);
        }
        let len = match self.plan {
            Plan::Importance(p) => p.len(),
            Plan::Gradient { plan, .. } => plan.len(),
        };
        if self.pos != len {
            return Err(another_path(Address::root()));
        }
        Ok(())
    }

    /// The position of the next site if its hash matches, with the choice's full hash.
    fn next(&mut self, site: &Site<'_>) -> Option<(usize, u64)> {
        let key = chain_key(self.parent, site.key);
        let expected = match self.plan {
            Plan::Importance(p) => p.get(self.pos).map(|s| s.key),
            Plan::Gradient { plan, .. } => plan.get(self.pos).map(|s| s.key),
        };
        if expected == Some(key) {
            self.pos += 1;
            Some((self.pos - 1, key))
        } else {
            self.fail_with(another_path(Address(vec![site.to_part()])));
            None
        }
    }

    /// The given value at plan position `pos`, if the site is observed or fixed.
    fn given(&self, pos: usize) -> Option<&'p ChoiceValue> {
        match self.plan {
            Plan::Importance(p) => match &p[pos].action {
                IsAction::Observed(v) => Some(v),
                IsAction::Sampled { .. } => None,
            },
            Plan::Gradient { plan, .. } => match &plan[pos].action {
                GradAction::Fixed(v) => Some(v),
                GradAction::Selected { .. } => None,
            },
        }
    }

    /// Draws `dist` for every particle of the batch with the native sampler and the
    /// particle's key, and returns the batched value.
    fn draw<D: Distribution<Real = Batched<B>>>(&mut self, site: &Site<'_>, dist: &D, key: u64, column: Option<usize>) -> Option<D::Value> {
        // Download every parameter once; particle i reads row i (or the shared value).
        let mut params: Vec<Vec<f64>> = Vec::new();
        let mut shared_only = true;
        let _ = dist.to_scalar(&mut |p| {
            let (v, [_, cols]) = p.to_host();
            shared_only &= cols == 1;
            params.push(v);
            0.0
        });
        if !shared_only {
            self.fail_with(unsupported(site, "a scalar choice's parameters vary along a data vector (use plate for per-datum choices)"));
            return None;
        }
        let mut data = Vec::with_capacity(self.rows);
        let mut column_values = Vec::with_capacity(if column.is_some() { self.rows } else { 0 });
        for i in 0..self.rows {
            let mut k = 0;
            let scalar = dist.to_scalar(&mut |_| {
                let v = &params[k];
                k += 1;
                if v.len() == 1 {
                    v[0]
                } else {
                    v[i]
                }
            });
            let x = if scalar.check().is_ok() {
                scalar.sample(&mut self.key.split((self.first + i) as u64).site_rng(premix(key)))
            } else {
                // An invalid parameter in one particle: its log density will be NaN, which
                // marks the particle, rather than an error for the whole batch.
                D::Data::default()
            };
            if column.is_some() {
                column_values.push(x.to_f64().unwrap_or(f64::NAN));
            }
            data.push(x);
        }
        if column.is_some() {
            self.columns.push(column_values);
        }
        let Some(value) = dist.batch_value(&data, self.rows, 1) else {
            self.fail_with(unsupported(
                site,
                &format!(
                    "a latent {} choice cannot be batched (its value would steer control flow); observe it, or use the native engine",
                    D::NAME
                ),
            ));
            return None;
        };
        // The prior's own density cancels in the importance weight; the latent is scored
        // only when it is an input of a gradient.
        Some(value)
    }

    /// The log density of vector values `ys` under `dist` (per element, batched along the data
    /// axis), summed over the data.
    fn score_vector<D: Distribution<Real = Batched<B>>>(&mut self, dist: &D, ys: &[D::Data], repeated: bool) -> Batched<B>
    where
        D::Data: LiftElement<D::Value>,
    {
        if let Some(value) = dist.batch_value(ys, 1, ys.len()) {
            let lp = dist.log_density(&value);
            return if lp.shape()[1] == 1 && ys.len() > 1 {
                // The density did not depend on the datum axis (an iid choice with a
                // constant value), so it counts once per element.
                lp * ys.len() as f64
            } else {
                lp.sum_data()
            };
        }
        // Discrete values: one density evaluation per distinct value.
        let mut distinct: Vec<D::Data> = Vec::new();
        for y in ys {
            if !distinct.contains(y) {
                distinct.push(*y);
            }
        }
        let mut total = Batched::from(0.0);
        for v in distinct {
            let lp = dist.log_density(&dist.lift(&v));
            if repeated && lp.shape()[1] == 1 {
                let count = ys.iter().filter(|y| **y == v).count();
                total += lp * count as f64;
            } else {
                let mask: Vec<f64> = ys.iter().map(|y| if *y == v { 1.0 } else { 0.0 }).collect();
                total += (lp * Batched::data(&mask, 1, ys.len())).sum_data();
            }
        }
        total
    }

    fn vector_site<D: Distribution<Real = Batched<B>>>(
        &mut self,
        site: &Site<'_>,
        n: usize,
        dist: &D,
        repeated: bool,
    ) -> Values<'p, D::Data, D::Value>
    where
        D::Data: LiftElement<D::Value>,
    {
        let Some((pos, _)) = self.next(site) else { return Values::placeholder(n) };
        let Some(v) = self.given(pos) else {
            self.fail_with(unsupported(
                site,
                "a vector of latent choices (plate or iid) cannot be batched; write its elements as scalar choices at indexed addresses (`normal(mu, tau).at((\"theta\", j))` in a loop), or run this model on the native engine, which samples latent vectors",
            ));
            return Values::placeholder(n);
        };
        let Some(ys) = <D::Data as Element>::slice(v) else {
            self.fail_with(GenError::WrongType { address: site_address(site), distribution: D::NAME, expected: "vector", found: v.kind() });
            return Values::placeholder(n);
        };
        if ys.len() != n {
            self.fail_with(GenError::WrongLength { address: site_address(site), expected: n, found: ys.len() });
            return Values::placeholder(n);
        }
        let lp = self.score_vector(dist, ys, repeated);
        self.lp += lp;
        Values::stored(Cow::Borrowed(ys))
    }
}

fn site_address(site: &Site<'_>) -> Address {
    Address(vec![site.to_part()])
}

fn unsupported(site: &Site<'_>, message: &str) -> GenError {
    GenError::Unsupported { address: site_address(site), message: format!("Burn engine: {message}") }
}

fn another_path(address: Address) -> GenError {
    GenError::Unsupported {
        address,
        message: "Burn engine: the model took another path than its first execution; a batched run needs control flow that does not depend on random choices".into(),
    }
}

impl<'c, 'p: 'c, B: Backend> Handler<'c> for BatchEval<'p, B> {
    type Real = Batched<B>;
    type Datum = Batched<B>;

    fn sample<D: Distribution<Real = Batched<B>>>(&mut self, site: Site<'_>, dist: D) -> D::Value {
        let Some((pos, key)) = self.next(&site) else { return dist.lift(&D::Data::default()) };
        if let Some(v) = self.given(pos) {
            return match D::Data::from_value(v) {
                Some(x) => {
                    let lp = dist.log_density_data(&x);
                    self.lp += lp;
                    dist.lift(&x)
                }
                None => {
                    self.fail_with(GenError::WrongType {
                        address: site_address(&site),
                        distribution: D::NAME,
                        expected: D::Data::KIND,
                        found: v.kind(),
                    });
                    dist.lift(&D::Data::default())
                }
            };
        }
        match self.plan {
            Plan::Importance(p) => {
                let IsAction::Sampled { column } = p[pos].action else { unreachable!("given() covers observed sites") };
                self.draw(&site, &dist, key, column).unwrap_or_else(|| dist.lift(&D::Data::default()))
            }
            Plan::Gradient { plan, inputs, unconstrained } => {
                let GradAction::Selected { offset, dim, .. } = plan[pos].action else { unreachable!("given() covers fixed sites") };
                let support: Support = dist.support();
                let t = &inputs[offset..offset + dim];
                let value = if unconstrained {
                    let mut x = Vec::with_capacity(dim + 1);
                    let log_jac = support.forward(t, &mut x);
                    self.lp += log_jac;
                    dist.value_from_flat(&x)
                } else {
                    dist.value_from_flat(t)
                };
                let lp = dist.log_density(&value);
                self.lp += lp;
                value
            }
        }
    }

    fn plate<D, F>(&mut self, site: Site<'_>, xs: &[f64], f: F) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = Batched<B>>,
        D::Data: LiftElement<D::Value>,
        F: Fn(Batched<B>) -> D,
    {
        // The closure runs once, on the whole data vector as a [1, n] tensor.
        let dist = f(Batched::data(xs, 1, xs.len()));
        self.vector_site(&site, xs.len(), &dist, false)
    }

    fn iid<D>(&mut self, site: Site<'_>, dist: D, n: usize) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = Batched<B>>,
        D::Data: LiftElement<D::Value>,
    {
        self.vector_site(&site, n, &dist, true)
    }

    fn factor(&mut self, _: Site<'_>, log_weight: Batched<B>) {
        // Not a choice: no plan entry, only the term (one per particle).
        self.lp += log_weight;
    }

    fn fail(&mut self, error: GenError) {
        self.fail_with(error);
    }

    fn call<G: GenerativeFunction>(&mut self, site: Site<'_>, gf: &G, args: G::Args<Batched<B>>) -> G::Ret<Batched<B>> {
        let saved = self.parent;
        self.parent = chain_key(saved, site.key);
        let ret = gf.run(self, args);
        self.parent = saved;
        ret
    }
}

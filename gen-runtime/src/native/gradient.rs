//! The gradient engine: the log density of a model's selected continuous choices and its
//! gradient by dual numbers along a plan (see the module above).

use super::{discover, retry_invalid};
use crate::address::{chain_key, Address, Site};
use crate::choice_map::{ChoiceMap, Selection};
use crate::distributions::{Distribution, LogDensityParts, Support};
use crate::dual::Dual;
use crate::dynamic::Op;
use crate::error::GenError;
use crate::gfi::{Call, GenerativeFunction, Handler};
use crate::plate_kernels::plate_sum;
use crate::rng::Key;
use crate::value::{ChoiceData, ChoiceValue, Element, LiftElement, Values};
use std::borrow::Cow;

/// What a gradient evaluation does at one site.
#[derive(Clone, Debug)]
pub(crate) enum GradAction {
    /// A selected continuous choice: coordinates `offset..offset + dim` of the parameter
    /// vector map to its `flat` reals through `support`.
    Selected { offset: usize, dim: usize, flat: usize, support: Support },
    /// Any other choice: its value is fixed.
    Fixed(ChoiceValue),
}

#[derive(Clone, Debug)]
pub(crate) struct GradSite {
    pub(crate) key: u64,
    /// The enclosing call's hash and the part's hash ([`Visit::parent`](crate::dynamic)).
    pub(crate) parent: u64,
    pub(crate) part: u64,
    pub(crate) action: GradAction,
}

/// One selected choice's place in the parameter vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Coordinate {
    /// The choice's address.
    pub address: Address,
    /// Its first coordinate.
    pub offset: usize,
    /// Its number of coordinates (k - 1 for a k-simplex in unconstrained space).
    pub dim: usize,
    /// Its support (each element's, for a vector of scalars: `iid` or `plate`).
    pub support: Support,
    /// Whether the choice is a vector (a multivariate choice, or an `iid`/`plate` site)
    /// rather than one scalar.
    pub vector: bool,
}

/// The log density of a model as a function of its selected continuous choices, the other
/// choices fixed: the target of HMC, NUTS and MALA.
///
/// In unconstrained coordinates (the default) each choice is mapped through its support's
/// bijection and log |det J| is added, so the sampler moves in all of R^d. In constrained
/// coordinates the choices are used as they are (Gen.jl's `choice_gradients`).
///
/// Gradients are forward-mode dual numbers through the model body compiled for
/// [`Dual<N>`](crate::Dual): one pass for up to 8 coordinates, more passes beyond. Plates
/// whose closure `#[gen]` differentiated (see [`Handler::plate_ad`]) run in reverse mode
/// over the data and join the dual numbers once per plate.
#[derive(Clone)]
pub struct LogDensity<G: GenerativeFunction> {
    pub(crate) call: Call<G>,
    pub(crate) plan: Vec<GradSite>,
    coordinates: Vec<Coordinate>,
    dim: usize,
    pub(crate) unconstrained: bool,
    /// Whether log |det J| of the bijections is added (unconstrained coordinates only).
    jacobian: bool,
}

impl<G: GenerativeFunction> LogDensity<G> {
    /// The target for `selection` with every other choice fixed to its value in `trace`
    /// (Gen.jl's `choice_gradients`): the selection is taken as it is, since a trace does not
    /// record which of its choices were observed. Use [`LogDensity::new`] to condition on
    /// observations.
    ///
    /// # Errors
    /// A selected choice that is not continuous; a
    /// selection entry that covers no choice of the trace ([`GenError::UnmatchedSelection`]).
    pub fn from_trace(trace: &crate::gfi::Trace<G>, selection: &Selection) -> Result<Self, GenError> {
        Self::build(&trace.call(), trace.choices(), selection, &ChoiceMap::new())
    }

    /// The target over the latent choices that `selection` selects, given `observations`:
    /// an observed address is never a coordinate, whatever the selection says (so
    /// [`Selection::All`] means every latent choice). Unobserved choices outside the
    /// selection are drawn once with `key` (redrawn while invalid) and then held fixed.
    ///
    /// # Errors
    /// As [`LogDensity::from_trace`] (an entry that covers only observed addresses is
    /// unmatched too), plus those of [`Call::generate`].
    pub fn new(call: &Call<G>, observations: &ChoiceMap, selection: &Selection, key: Key) -> Result<Self, GenError> {
        // Only the structure and the unselected latents' values matter: a draw that is
        // invalid (a negative scale from a latent) is redrawn, as Stan redraws initial values.
        let (trace, _) = retry_invalid(key, |k| call.generate(k, observations))?;
        Self::build(call, trace.choices(), selection, observations)
    }

    /// The same target in unconstrained coordinates without the log |det J| term: the model's
    /// own density as a function of the unconstrained coordinates, whose maximum is the mode
    /// in the model's space (Stan's `optimize` with `jacobian = false`). Not a density on R^d
    /// to sample from: use it to optimize.
    #[must_use]
    pub fn without_jacobian(mut self) -> Self {
        self.jacobian = false;
        self
    }

    /// The same target in constrained coordinates (no bijection, no Jacobian term).
    #[must_use]
    pub fn constrained(mut self) -> Self {
        self.unconstrained = false;
        let mut offset = 0;
        for c in &mut self.coordinates {
            c.offset = offset;
            offset += match c.support {
                Support::Simplex(k) => k,
                _ => c.dim,
            };
        }
        // Re-derive offsets in the plan from the coordinates.
        let mut i = 0;
        for site in &mut self.plan {
            if let GradAction::Selected { offset, dim, flat, .. } = &mut site.action {
                *offset = self.coordinates[i].offset;
                *dim = *flat;
                self.coordinates[i].dim = *flat;
                i += 1;
            }
        }
        self.dim = offset;
        self
    }

    fn build(call: &Call<G>, choices: &ChoiceMap, selection: &Selection, observations: &ChoiceMap) -> Result<Self, GenError> {
        let (trail, _) = discover(call, Op::Assess(choices), Key::new(0))?;
        let mut plan = Vec::with_capacity(trail.len());
        let mut coordinates = Vec::new();
        let mut dim = 0;
        check_selection(selection, trail.iter().map(|v| &v.addr), observations)?;
        for visit in trail {
            let value = choices.get(&visit.addr).cloned().ok_or_else(|| GenError::MissingChoice { address: visit.addr.clone() })?;
            let latent = selection.contains(&visit.addr) && !observations.contains(&visit.addr);
            let action = if latent && !(visit.vector && value.element_count() == 0) {
                let Some((flat, support)) = visit.continuous else {
                    return Err(GenError::NotContinuous { address: visit.addr, distribution: visit.distribution });
                };
                let d = support.unconstrained_dim(flat);
                let vector = visit.vector || matches!(support, Support::RealVector | Support::Simplex(_));
                coordinates.push(Coordinate { address: visit.addr.clone(), offset: dim, dim: d, support, vector });
                let action = GradAction::Selected { offset: dim, dim: d, flat, support };
                dim += d;
                action
            } else {
                GradAction::Fixed(value)
            };
            plan.push(GradSite { key: visit.key, parent: visit.parent, part: visit.part, action });
        }
        Ok(LogDensity { call: call.clone(), plan, coordinates, dim, unconstrained: true, jacobian: true })
    }

    /// The number of coordinates.
    #[must_use]
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Where each selected choice sits in the parameter vector.
    #[must_use]
    pub fn coordinates(&self) -> &[Coordinate] {
        &self.coordinates
    }

    /// The coordinates of the selected choices of `choices` (their unconstrained values, in
    /// unconstrained mode).
    ///
    /// # Errors
    /// A selected choice missing from `choices`.
    pub fn point(&self, choices: &ChoiceMap) -> Result<Vec<f64>, GenError> {
        let mut theta = Vec::with_capacity(self.dim);
        let mut flat = Vec::new();
        for c in &self.coordinates {
            let v = choices.get(&c.address).ok_or_else(|| GenError::MissingChoice { address: c.address.clone() })?;
            flat.clear();
            match v {
                ChoiceValue::Real(x) => flat.push(*x),
                ChoiceValue::Reals(xs) => flat.extend_from_slice(xs),
                other => {
                    return Err(GenError::WrongType {
                        address: c.address.clone(),
                        distribution: "continuous",
                        expected: "f64",
                        found: other.kind(),
                    })
                }
            }
            if self.unconstrained {
                c.support.inverse(&flat, &mut theta);
            } else {
                theta.extend_from_slice(&flat);
            }
        }
        Ok(theta)
    }

    /// The selected choices at `theta`, as a choice map of constrained values.
    #[must_use]
    pub fn choices(&self, theta: &[f64]) -> ChoiceMap {
        let mut out = ChoiceMap::new();
        let mut buf = Vec::new();
        for c in &self.coordinates {
            let t = &theta[c.offset..c.offset + c.dim];
            let vals: Vec<f64> = if self.unconstrained {
                c.support.forward(t, &mut buf);
                buf.clone()
            } else {
                t.to_vec()
            };
            if c.vector {
                out.insert(c.address.clone(), vals);
            } else {
                out.insert(c.address.clone(), vals[0]);
            }
        }
        out
    }

    /// The log density at `theta` (log joint of all choices, plus log |det J| in
    /// unconstrained mode).
    ///
    /// # Errors
    /// The model took another path than the one the target was built from.
    pub fn log_density(&self, theta: &[f64]) -> Result<f64, GenError> {
        Ok(self.eval::<0>(theta, 0)?.re)
    }

    /// The log density at `theta` and its gradient, written to `grad`.
    ///
    /// # Errors
    /// As [`LogDensity::log_density`].
    ///
    /// # Panics
    /// If `theta` or `grad` does not have [`LogDensity::dim`] entries.
    pub fn log_density_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> Result<f64, GenError> {
        assert_eq!(theta.len(), self.dim, "theta has the wrong length");
        assert_eq!(grad.len(), self.dim, "grad has the wrong length");
        // One instantiation per small width keeps a few coordinates in one pass without
        // wasted lanes; wider targets take passes of 8.
        match self.dim {
            0 => self.log_density(theta),
            1 => self.pass::<1>(theta, grad),
            2 => self.pass::<2>(theta, grad),
            3 => self.pass::<3>(theta, grad),
            4 => self.pass::<4>(theta, grad),
            _ => {
                let mut lp = 0.0;
                for first in (0..self.dim).step_by(8) {
                    let v = self.eval::<8>(theta, first)?;
                    lp = v.re;
                    let n = (self.dim - first).min(8);
                    grad[first..first + n].copy_from_slice(&v.eps[..n]);
                }
                Ok(lp)
            }
        }
    }

    fn pass<const N: usize>(&self, theta: &[f64], grad: &mut [f64]) -> Result<f64, GenError> {
        let lp = self.eval::<N>(theta, 0)?;
        grad.copy_from_slice(&lp.eps[..self.dim]);
        Ok(lp.re)
    }

    /// The log density at `theta` as a dual number: its tangents are the partial derivatives
    /// in coordinates `first..first + N`.
    fn eval<const N: usize>(&self, theta: &[f64], first: usize) -> Result<Dual<N>, GenError> {
        let mut h = GradEval::<N> {
            plan: &self.plan,
            pos: 0,
            theta,
            first,
            lp: Dual::constant(0.0),
            parent: 0,
            unconstrained: self.unconstrained,
            jacobian: self.jacobian,
            failure: None,
            t_buf: Vec::new(),
            x_buf: Vec::new(),
        };
        let _ = self.call.gf.run(&mut h, self.call.gf.lift_args(&self.call.args));
        if let Some(e) = h.failure {
            return Err(e);
        }
        if h.pos != self.plan.len() {
            return Err(GenError::Unsupported {
                address: Address::root(),
                message: "the model made fewer choices than when the gradient target was built".into(),
            });
        }
        Ok(h.lp)
    }
}

/// Checks that every entry of `selection` covers at least one of `visited` that is not
/// observed: an entry that covers nothing is a typo or a misunderstanding, and sampling
/// without it would silently leave those choices where they are.
fn check_selection<'a>(
    selection: &Selection,
    visited: impl Iterator<Item = &'a Address> + Clone,
    observations: &ChoiceMap,
) -> Result<(), GenError> {
    let Selection::Addresses(entries) = selection else { return Ok(()) };
    for entry in entries {
        let mut covered = visited.clone().filter(|a| a.is_under(entry));
        let Some(first) = covered.next() else {
            return Err(GenError::UnmatchedSelection { address: entry.clone(), reason: "the model makes no choice at or under it" });
        };
        if observations.contains(first) && covered.all(|a| observations.contains(a)) {
            return Err(GenError::UnmatchedSelection {
                address: entry.clone(),
                reason: "every choice under it is observed, and observations are never parameters",
            });
        }
    }
    Ok(())
}

fn another_path(address: Address) -> GenError {
    GenError::Unsupported { address, message: "the model took a different path than when the gradient target was built".into() }
}

/// The lanes of the plate adjoint's sums (see [`plate_sum`]): two points per step, one per
/// lane of an SSE2 register; each lane keeps a partial per captured value too, so more lanes
/// spill registers (measured with kernels and lane-minor partials, polynomial n=100 / n=1000
/// gradient: 2 lanes 242 ns / 1.6 us, 4 lanes 290 ns / 1.8 us). The vectorization across
/// lanes is the compiler's choice and fragile: moving this loop into a function of its own,
/// or changing `Dual::variable`, made it vectorize across the coordinates instead and run
/// 1.5 times as long at n=1000; `cargo bench -p gen-runtime --bench native` shows it.
const ADJOINT_LANES: usize = 2;

/// Evaluates the log density with dual numbers along the plan.
struct GradEval<'p, const N: usize> {
    plan: &'p [GradSite],
    pos: usize,
    theta: &'p [f64],
    first: usize,
    lp: Dual<N>,
    /// The hash of the enclosing call's address (0 at the top); `call` saves and restores it
    /// on the Rust stack, so nesting needs no allocation.
    parent: u64,
    unconstrained: bool,
    jacobian: bool,
    failure: Option<GenError>,
    t_buf: Vec<Dual<N>>,
    x_buf: Vec<Dual<N>>,
}

impl<'p, const N: usize> GradEval<'p, N> {
    // Inlined into the body with the failure kept out of line: called, this forced the
    // evaluation's state (the running log density among it) through memory at every site.
    #[inline(always)]
    fn next(&mut self, site: &Site<'_>) -> Option<&'p GradSite> {
        match self.plan.get(self.pos) {
            Some(s) if s.part == site.key && s.parent == self.parent => {
                self.pos += 1;
                Some(s)
            }
            _ => {
                self.left_plan(site);
                None
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn left_plan(&mut self, site: &Site<'_>) {
        self.failure.get_or_insert_with(|| another_path(Address(vec![site.to_part()])));
    }

    /// Coordinate `j` as a dual number: a variable if this pass differentiates it.
    ///
    /// Built lane by lane, not as `Dual::variable(v, j - first)`: with the lane known only at
    /// run time, that one store into the array and the wider load of it right after defeat
    /// store-to-load forwarding, a stall that was a quarter of a small model's gradient.
    #[inline]
    fn coordinate(&self, j: usize) -> Dual<N> {
        let lane = j.wrapping_sub(self.first);
        Dual { re: self.theta[j], eps: std::array::from_fn(|k| if k == lane { 1.0 } else { 0.0 }) }
    }

    /// A latent vector site (`iid` or `plate`): element `i` is coordinate `offset + i` mapped
    /// through `support` (the elements share it, see `Visit::continuous`), scored under
    /// `dist(i)`.
    fn latent_vector<'c, D>(&mut self, offset: usize, dim: usize, support: Support, dist: impl Fn(usize) -> D) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = Dual<N>>,
        D::Data: LiftElement<D::Value>,
    {
        let identity = !self.unconstrained || matches!(support, Support::Real);
        let mut values = Vec::with_capacity(dim);
        for i in 0..dim {
            let t = self.coordinate(offset + i);
            let x = if identity {
                t
            } else {
                let (x, log_jac) = support.forward_scalar(t);
                if self.jacobian {
                    self.lp += log_jac;
                }
                x
            };
            let d = dist(i);
            let value = d.value_from_flat(&[x]);
            self.lp += d.log_density(&value);
            values.push(value);
        }
        Values::computed(values)
    }
}

impl<'c, 'p: 'c, const N: usize> Handler<'c> for GradEval<'p, N> {
    type Real = Dual<N>;
    type Datum = f64;

    // Inlined into the body so that constant parameters (a `normal(0.0, 1.0)` prior) fold
    // into the log density: called, this was the largest cost of a small model's gradient.
    #[inline(always)]
    fn sample<D: Distribution<Real = Dual<N>>>(&mut self, site: Site<'_>, dist: D) -> D::Value {
        let Some(s) = self.next(&site) else { return dist.lift(&D::Data::default()) };
        match &s.action {
            GradAction::Selected { offset, dim: 1, flat: 1, support } if !matches!(support, Support::Simplex(_)) => {
                // A scalar choice, the common case: no buffers.
                let t = self.coordinate(*offset);
                // Real supports map by the identity: no call, no zero Jacobian to add.
                let value = if self.unconstrained && !matches!(support, Support::Real) {
                    let (x, log_jac) = support.forward_scalar(t);
                    if self.jacobian {
                        self.lp += log_jac;
                    }
                    dist.value_from_flat(&[x])
                } else {
                    dist.value_from_flat(&[t])
                };
                self.lp += dist.log_density(&value);
                value
            }
            GradAction::Selected { offset, dim, support, .. } => {
                let mut t = std::mem::take(&mut self.t_buf);
                let mut x = std::mem::take(&mut self.x_buf);
                t.clear();
                t.extend((*offset..offset + dim).map(|j| self.coordinate(j)));
                let value = if self.unconstrained {
                    let log_jac = support.forward(&t, &mut x);
                    if self.jacobian {
                        self.lp += log_jac;
                    }
                    dist.value_from_flat(&x)
                } else {
                    dist.value_from_flat(&t)
                };
                self.t_buf = t;
                self.x_buf = x;
                self.lp += dist.log_density(&value);
                value
            }
            GradAction::Fixed(v) => match D::Data::from_value(v) {
                Some(x) => {
                    self.lp += dist.log_density_data(&x);
                    dist.lift(&x)
                }
                None => {
                    self.failure.get_or_insert_with(|| another_path(Address(vec![site.to_part()])));
                    dist.lift(&D::Data::default())
                }
            },
        }
    }

    #[inline]
    fn plate<D, F>(&mut self, site: Site<'_>, xs: &[f64], f: F) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = Dual<N>>,
        D::Data: LiftElement<D::Value>,
        F: Fn(f64) -> D,
    {
        let Some(s) = self.next(&site) else { return Values::placeholder(xs.len()) };
        let v = match &s.action {
            GradAction::Fixed(v) => v,
            GradAction::Selected { offset, dim, support, .. } => return self.latent_vector(*offset, *dim, *support, |i| f(xs[i])),
        };
        let Some(ys) = <D::Data as Element>::slice(v) else { return Values::placeholder(0) };
        self.lp += plate_sum::<1, _, _, _>(xs, ys, |_, x, y| f(*x).log_density_data(y));
        Values::stored(Cow::Borrowed(ys))
    }

    #[inline]
    fn plate_ad<D, F, A, const K: usize>(&mut self, site: Site<'_>, xs: &[f64], f: F, captures: [Dual<N>; K], adjoint: A) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = Dual<N>>,
        D::Data: LiftElement<D::Value>,
        F: Fn(f64) -> D,
        A: Fn(f64, &D::Data, &[f64; K], &mut [f64; K]) -> LogDensityParts<f64>,
    {
        let Some(s) = self.next(&site) else { return Values::placeholder(xs.len()) };
        let v = match &s.action {
            GradAction::Fixed(v) => v,
            GradAction::Selected { offset, dim, support, .. } => return self.latent_vector(*offset, *dim, *support, |i| f(xs[i])),
        };
        let Some(ys) = <D::Data as Element>::slice(v) else { return Values::placeholder(0) };
        let n = xs.len().min(ys.len());
        let (Some(x0), Some(y0)) = (xs.first(), ys.first()) else { return Values::stored(Cow::Borrowed(ys)) };
        // Reverse mode over the data: plain f64 sums of the kernels and of their partials in
        // each captured value (per lane, so the lanes stay independent); then, when every
        // point has the first one's scale and offset (a shared sigma), those once, as in
        // `plate_log_density`; then the chain rule to the latents once.
        let p = captures.map(|c| c.re);
        let first = adjoint(*x0, y0, &p, &mut [0.0; K]);
        // Partials stored lane-minor (`partials[j][lane]`), each point's written to a local
        // first: the compiler then keeps a coordinate's lanes side by side and vectorizes
        // across the lanes (one point per SIMD lane), not across the coordinates. The local
        // starts at -0.0, which an addition leaves unchanged, so `g += a` becomes `g = a`.
        let mut partials = [[0.0; ADJOINT_LANES]; K];
        let mut shared = true;
        let kernels = plate_sum::<ADJOINT_LANES, _, _, _>(&xs[..n], &ys[..n], |lane, x, y| {
            let mut g = [-0.0; K];
            let q = adjoint(*x, y, &p, &mut g);
            for (total, g) in partials.iter_mut().zip(g) {
                total[lane] += g;
            }
            shared &= q.scale == first.scale && q.offset == first.offset;
            q.kernel
        });
        let (lp, scale) = if shared {
            (first.scale * kernels + n as f64 * first.offset, first.scale)
        } else {
            // Scales that differ between points: scale each point's partials on its own.
            partials = [[0.0; ADJOINT_LANES]; K];
            let mut lp = 0.0;
            for (x, y) in xs.iter().zip(ys) {
                let mut g = [0.0; K];
                let q = adjoint(*x, y, &p, &mut g);
                lp += q.scale * q.kernel + q.offset;
                for (total, g) in partials.iter_mut().zip(g) {
                    total[0] += q.scale * g;
                }
            }
            (lp, 1.0)
        };
        let mut total = Dual::constant(lp);
        for (lanes, c) in partials.iter().zip(&captures) {
            let g: f64 = lanes.iter().sum();
            for (e, ce) in total.eps.iter_mut().zip(&c.eps) {
                *e += scale * g * ce;
            }
        }
        self.lp += total;
        Values::stored(Cow::Borrowed(ys))
    }

    #[inline]
    fn iid<D>(&mut self, site: Site<'_>, dist: D, n: usize) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = Dual<N>>,
        D::Data: LiftElement<D::Value>,
    {
        let Some(s) = self.next(&site) else { return Values::placeholder(n) };
        let v = match &s.action {
            GradAction::Fixed(v) => v,
            GradAction::Selected { offset, dim, support, .. } => return self.latent_vector(*offset, *dim, *support, |_| dist.clone()),
        };
        let Some(ys) = <D::Data as Element>::slice(v) else { return Values::placeholder(0) };
        self.lp += plate_sum::<1, _, _, _>(ys, ys, |_, y, _| dist.log_density_data(y));
        Values::stored(Cow::Borrowed(ys))
    }

    #[inline]
    fn factor(&mut self, _: Site<'_>, log_weight: Dual<N>) {
        // Not a choice: no plan entry, only the term.
        self.lp += log_weight;
    }

    fn fail(&mut self, error: GenError) {
        self.failure.get_or_insert(error);
    }

    fn call<G: GenerativeFunction>(&mut self, site: Site<'_>, gf: &G, args: G::Args<Dual<N>>) -> G::Ret<Dual<N>> {
        let saved = self.parent;
        self.parent = chain_key(saved, site.key);
        let ret = gf.run(self, args);
        self.parent = saved;
        ret
    }
}

//! The general interpreter behind every operation of the interface.
//!
//! It builds full addresses and looks choices up in choice maps, so it runs any model,
//! whatever its control flow. The inference hot paths (importance weights, gradients) use
//! the plan-based handlers of [`crate::native`] instead and fall back to this one when a
//! model's structure changes between executions.

use crate::address::{chain_key, Address, Part, Site};
use crate::choice_map::{ChoiceMap, Selection};
use crate::distributions::{Distribution, Support};
use crate::error::GenError;
use crate::gfi::{Call, GenerativeFunction, Handler, Trace};
use crate::plate_kernels::plate_log_density;
use crate::rng::{premix, Key};
use crate::value::{ChoiceData, ChoiceValue, Element, LiftElement, Values};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Which operation the interpreter performs.
pub(crate) enum Op<'c> {
    Simulate,
    Generate(&'c ChoiceMap),
    Assess(&'c ChoiceMap),
    Update { prev: &'c ChoiceMap, prev_score: f64, constraints: &'c ChoiceMap },
    Regenerate { prev: &'c ChoiceMap, prev_scores: &'c BTreeMap<Address, f64>, selection: &'c Selection },
}

/// Where a choice's value comes from.
enum Source<'c> {
    /// Drawn now from the prior conditional.
    Fresh,
    /// Given by the user (a constraint, or an assessed choice).
    Given(&'c ChoiceValue),
    /// Kept from the previous trace (with its old log density, for regenerate).
    Kept(&'c ChoiceValue, Option<f64>),
}

/// One visited site, in visit order: what the plan-based handlers of [`crate::native`] are
/// built from.
#[derive(Clone, Debug)]
pub(crate) struct Visit {
    /// The full address's hash ([`chain_key`]).
    pub key: u64,
    /// The site's own part: the hash of the enclosing call's address (0 at the top) and the
    /// part's hash. The plans compare these two rather than rehash the pair at every site.
    pub parent: u64,
    /// See `parent`.
    pub part: u64,
    /// The full address.
    pub addr: Address,
    /// For a continuous site: its number of reals and its support.
    pub continuous: Option<(usize, Support)>,
    /// Whether the site is vector-valued (`plate` or `iid`). A vector of continuous scalars
    /// has `continuous` too (its length and its elements' support).
    pub vector: bool,
    /// The distribution's name.
    pub distribution: &'static str,
}

/// What an execution produced.
pub(crate) struct Outcome {
    pub trail: Vec<Visit>,
    pub choices: ChoiceMap,
    pub site_scores: BTreeMap<Address, f64>,
    pub score: f64,
    pub weight: f64,
    pub discard: ChoiceMap,
}

/// The interpreter's state.
pub(crate) struct Interpreter<'c> {
    op: Op<'c>,
    key: Key,
    prefix: Vec<Part>,
    prefix_keys: Vec<u64>,
    choices: ChoiceMap,
    site_scores: BTreeMap<Address, f64>,
    score: f64,
    weight: f64,
    fresh_score: f64,
    given_visits: usize,
    trail: Vec<Visit>,
    error: Option<GenError>,
}

impl<'c> Interpreter<'c> {
    pub(crate) fn new(op: Op<'c>, key: Key) -> Self {
        Interpreter {
            op,
            key,
            prefix: Vec::new(),
            prefix_keys: vec![0],
            choices: ChoiceMap::new(),
            site_scores: BTreeMap::new(),
            score: 0.0,
            weight: 0.0,
            fresh_score: 0.0,
            given_visits: 0,
            trail: Vec::new(),
            error: None,
        }
    }

    fn fail(&mut self, e: GenError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// The site's full address, its hash, and the enclosing call's hash.
    fn address(&self, site: &Site<'_>) -> (Address, u64, u64) {
        let mut parts = self.prefix.clone();
        parts.push(site.to_part());
        let parent = *self.prefix_keys.last().expect("root key");
        (Address(parts), chain_key(parent, site.key), parent)
    }

    fn is_update_like(&self) -> bool {
        matches!(self.op, Op::Update { .. } | Op::Regenerate { .. })
    }

    /// Where the value at `addr` comes from under this operation.
    fn source(&mut self, addr: &Address) -> Source<'c> {
        match self.op {
            Op::Simulate => Source::Fresh,
            Op::Generate(c) => c.get(addr).map_or(Source::Fresh, Source::Given),
            Op::Assess(c) => match c.get(addr) {
                Some(v) => Source::Given(v),
                None => {
                    self.fail(GenError::MissingChoice { address: addr.clone() });
                    Source::Fresh
                }
            },
            Op::Update { prev, constraints, .. } => match constraints.get(addr) {
                Some(v) => Source::Given(v),
                None => prev.get(addr).map_or(Source::Fresh, |v| Source::Kept(v, None)),
            },
            Op::Regenerate { prev, prev_scores, selection } => {
                if selection.contains(addr) {
                    Source::Fresh
                } else {
                    prev.get(addr).map_or(Source::Fresh, |v| Source::Kept(v, prev_scores.get(addr).copied()))
                }
            }
        }
    }

    /// Books a choice's log density; `given` says whether the user gave its value.
    fn record(&mut self, addr: Address, value: ChoiceValue, lp: f64, source: &Source<'c>) {
        if lp.is_nan() || lp == f64::INFINITY {
            self.fail(GenError::NonFinite { address: addr.clone(), value: lp });
        }
        self.score += lp;
        match source {
            Source::Fresh => self.fresh_score += lp,
            Source::Given(_) => {
                self.given_visits += 1;
                self.weight += lp;
            }
            Source::Kept(_, old) => {
                if let Some(old) = old {
                    self.weight += lp - old;
                }
            }
        }
        self.site_scores.insert(addr.clone(), lp);
        self.choices.insert(addr, value);
    }

    /// Whether no choice or factor has been recorded at `addr` yet (else fails).
    fn check_new(&mut self, addr: &Address) -> bool {
        if self.site_scores.contains_key(addr) {
            self.fail(GenError::DuplicateAddress { address: addr.clone() });
            return false;
        }
        true
    }

    fn wrong_type<D: Distribution>(&mut self, addr: &Address, expected: &'static str, found: &ChoiceValue) {
        self.fail(GenError::WrongType { address: addr.clone(), distribution: D::NAME, expected, found: found.kind() });
    }

    /// A value given by the user outside the support is an error for generate and assess,
    /// and probability zero (weight -inf) for update and regenerate, where MH must reject it.
    fn outside_support<D: Distribution>(&mut self, addr: &Address, value: String, support: String) -> f64 {
        if !self.is_update_like() {
            self.fail(GenError::OutsideSupport { address: addr.clone(), distribution: D::NAME, value, support });
        }
        f64::NEG_INFINITY
    }

    /// Checks the run's end state and returns what it produced.
    pub(crate) fn finish(mut self) -> Result<Outcome, GenError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let given = match self.op {
            Op::Generate(c) | Op::Assess(c) => Some(c),
            Op::Update { constraints, .. } => Some(constraints),
            _ => None,
        };
        if let Some(given) = given {
            if self.given_visits < given.len() {
                let address = given.addresses().find(|a| !self.choices.contains(a)).cloned().unwrap_or_default();
                return Err(GenError::UnvisitedConstraint { address });
            }
        }
        let mut discard = ChoiceMap::new();
        match self.op {
            Op::Update { prev, prev_score, constraints } => {
                self.weight = self.score - prev_score - self.fresh_score;
                for (a, v) in prev.iter() {
                    if constraints.contains(a) || !self.choices.contains(a) {
                        discard.insert(a.clone(), v.clone());
                    }
                }
            }
            Op::Assess(_) => self.weight = self.score,
            _ => {}
        }
        Ok(Outcome {
            trail: self.trail,
            choices: self.choices,
            site_scores: self.site_scores,
            score: self.score,
            weight: self.weight,
            discard,
        })
    }
}

impl<'c> Handler<'c> for Interpreter<'c> {
    type Real = f64;
    type Datum = f64;

    fn sample<D: Distribution<Real = f64>>(&mut self, site: Site<'_>, dist: D) -> D::Value {
        let (addr, key, parent) = self.address(&site);
        if !self.check_new(&addr) {
            return dist.lift(&D::Data::default());
        }
        let continuous = dist.flat_dim().map(|k| (k, dist.support()));
        self.trail.push(Visit { key, parent, part: site.key, addr: addr.clone(), continuous, vector: false, distribution: D::NAME });
        let source = self.source(&addr);
        if let Err(e) = dist.check() {
            // An invalid parameter downstream of a zero-probability proposal is part of that
            // zero-probability state, not an error of the model.
            if !(self.is_update_like() && self.weight == f64::NEG_INFINITY) {
                self.fail(e.at(addr.clone(), D::NAME));
            }
            self.weight = f64::NEG_INFINITY;
            return dist.lift(&D::Data::default());
        }
        let data = match source {
            Source::Fresh => dist.sample(&mut self.key.site_rng(premix(key))),
            Source::Given(v) | Source::Kept(v, _) => match D::Data::from_value(v) {
                Some(x) => x,
                None => {
                    self.wrong_type::<D>(&addr, D::Data::KIND, v);
                    return dist.lift(&D::Data::default());
                }
            },
        };
        let lp = if dist.in_support(&data) {
            dist.log_density_data(&data)
        } else {
            self.outside_support::<D>(&addr, format!("{data:?}"), dist.support().to_string())
        };
        let value = dist.lift(&data);
        self.record(addr, data.into_value(), lp, &source);
        value
    }

    fn plate<D, F>(&mut self, site: Site<'_>, xs: &[f64], f: F) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = f64>,
        D::Data: LiftElement<D::Value>,
        F: Fn(f64) -> D,
    {
        self.vector_site(site, xs.len(), |i| f(xs[i]))
    }

    fn iid<D>(&mut self, site: Site<'_>, dist: D, n: usize) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = f64>,
        D::Data: LiftElement<D::Value>,
    {
        self.vector_site(site, n, |_| dist.clone())
    }

    fn factor(&mut self, site: Site<'_>, log_weight: f64) {
        let (addr, _, _) = self.address(&site);
        if !self.check_new(&addr) {
            return;
        }
        if log_weight.is_nan() || log_weight == f64::INFINITY {
            self.fail(GenError::NonFinite { address: addr, value: log_weight });
            return;
        }
        // A term of the density that no choice carries: it counts as an observation's log
        // density does (generate's weight; update's through the score; regenerate's as the
        // change from the previous trace's term).
        self.score += log_weight;
        match self.op {
            Op::Generate(_) => self.weight += log_weight,
            Op::Regenerate { prev_scores, .. } => self.weight += log_weight - prev_scores.get(&addr).copied().unwrap_or(0.0),
            Op::Simulate | Op::Assess(_) | Op::Update { .. } => {}
        }
        self.site_scores.insert(addr, log_weight);
    }

    fn fail(&mut self, error: GenError) {
        Interpreter::fail(self, error);
    }

    fn call<G: GenerativeFunction>(&mut self, site: Site<'_>, gf: &G, args: G::Args<f64>) -> G::Ret<f64> {
        let (_, key, _) = self.address(&site);
        self.prefix.push(site.to_part());
        self.prefix_keys.push(key);
        let ret = gf.run(self, args);
        self.prefix.pop();
        self.prefix_keys.pop();
        ret
    }
}

impl<'c> Interpreter<'c> {
    /// A vector-valued site: element `i` has distribution `dist(i)`.
    fn vector_site<D, F>(&mut self, site: Site<'_>, n: usize, dist: F) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = f64>,
        D::Data: LiftElement<D::Value>,
        F: Fn(usize) -> D,
    {
        let (addr, key, parent) = self.address(&site);
        if !self.check_new(&addr) {
            return Values::placeholder(n);
        }
        // A vector of continuous scalars is a block of gradient coordinates (an `iid` or
        // `plate` latent) with its elements' support. Every element has the first one's: a
        // support depends only on constant parameters (`uniform`'s bounds are `f64`s), and a
        // plate's data point is a `Datum`, which cannot be one.
        let continuous = (n > 0).then(|| dist(0)).filter(|d| d.flat_dim() == Some(1)).map(|d| (n, d.support()));
        self.trail.push(Visit { key, parent, part: site.key, addr: addr.clone(), continuous, vector: true, distribution: D::NAME });
        let source = self.source(&addr);
        for i in 0..n {
            if let Err(e) = dist(i).check() {
                let mut element = addr.clone();
                element.0.push(Part::Index(i as i64));
                self.fail(e.at(element, D::NAME));
                return Values::placeholder(n);
            }
        }
        let values: Cow<'c, [D::Data]> = match source {
            Source::Fresh => {
                let mut rng = self.key.site_rng(premix(key));
                Cow::Owned((0..n).map(|i| dist(i).sample(&mut rng)).collect())
            }
            Source::Given(v) | Source::Kept(v, _) => match <D::Data as Element>::slice(v) {
                Some(xs) if xs.len() == n => Cow::Borrowed(xs),
                Some(xs) => {
                    self.fail(GenError::WrongLength { address: addr.clone(), expected: n, found: xs.len() });
                    return Values::placeholder(n);
                }
                None => {
                    self.wrong_type::<D>(&addr, "vector", v);
                    return Values::placeholder(n);
                }
            },
        };
        // Support first, then the sum as the importance path computes it
        // (`plate_log_density`), so the interpreter and the fast path agree to the last bit.
        let outside = values.iter().enumerate().find(|(i, x)| !dist(*i).in_support(x));
        let lp = match outside {
            Some((i, x)) => {
                let mut element = addr.clone();
                element.0.push(Part::Index(i as i64));
                self.outside_support::<D>(&element, format!("{x:?}"), dist(i).support().to_string())
            }
            None => {
                let index: Vec<usize> = (0..n).collect();
                plate_log_density(&index, &values, |i, x| dist(*i).log_density_parts(x))
            }
        };
        let stored = match (&source, &values) {
            (Source::Given(v) | Source::Kept(v, _), _) => (*v).clone(),
            (Source::Fresh, vals) => <D::Data as Element>::plate_value(vals.to_vec()),
        };
        self.record(addr, stored, lp, &source);
        Values::stored(values)
    }
}

/// The interface's operations on a call, each one run of the body under the interpreter.
impl<G: GenerativeFunction> Call<G> {
    fn execute<'c>(&self, op: Op<'c>, key: Key) -> Result<(Trace<G>, f64, ChoiceMap), GenError> {
        let mut h = Interpreter::new(op, key);
        let retval = self.gf.run(&mut h, self.args.clone());
        let out = h.finish()?;
        let trace = Trace {
            gf: self.gf.clone(),
            args: self.args.clone(),
            retval,
            choices: out.choices,
            site_scores: out.site_scores,
            score: out.score,
        };
        Ok((trace, out.weight, out.discard))
    }

    /// Samples a trace: t ~ p(.; x).
    ///
    /// # Errors
    /// A distribution parameter out of range, a duplicate address, a non-finite density.
    pub fn simulate(&self, key: Key) -> Result<Trace<G>, GenError> {
        self.execute(Op::Simulate, key).map(|(t, _, _)| t)
    }

    /// A trace consistent with `constraints`, and its importance weight (the sum of the log
    /// densities of the constrained choices).
    ///
    /// # Errors
    /// A constraint at an address the model never visits, of the wrong type or outside the
    /// support, plus the errors of [`Call::simulate`].
    pub fn generate(&self, key: Key, constraints: &ChoiceMap) -> Result<(Trace<G>, f64), GenError> {
        self.execute(Op::Generate(constraints), key).map(|(t, w, _)| (t, w))
    }

    /// log p(choices; x) of a complete choice map, and the return value.
    ///
    /// # Errors
    /// A choice the model makes is missing from `choices` ([`GenError::MissingChoice`]), or
    /// `choices` has one it does not make, plus the errors of [`Call::generate`].
    pub fn assess(&self, choices: &ChoiceMap) -> Result<(f64, G::Ret<f64>), GenError> {
        let (trace, _, _) = self.execute(Op::Assess(choices), Key::new(0))?;
        Ok((trace.score, trace.retval))
    }

    /// Samples choices as a proposal: (choices, their log density, return value).
    ///
    /// # Errors
    /// As [`Call::simulate`].
    pub fn propose(&self, key: Key) -> Result<(ChoiceMap, f64, G::Ret<f64>), GenError> {
        let t = self.simulate(key)?;
        Ok((t.choices, t.score, t.retval))
    }
}

/// The interface's operations on a trace, each one run of the body under the interpreter.
impl<G: GenerativeFunction> Trace<G> {
    /// Updates the trace with new arguments and constraints (see the module documentation
    /// for the weight). Returns (new trace, weight, discarded choices). Choices the old trace
    /// lacks are drawn with `key`.
    ///
    /// A constraint outside its distribution's support gives weight -inf (a proposal that
    /// MH must reject), not an error.
    ///
    /// # Errors
    /// A constraint at an address the new execution never visits, of the wrong type, or an
    /// invalid parameter.
    pub fn update_with_args(&self, key: Key, args: G::Args<f64>, constraints: &ChoiceMap) -> Result<(Trace<G>, f64, ChoiceMap), GenError> {
        let call = Call::new(self.gf.clone(), args);
        let op = Op::Update { prev: &self.choices, prev_score: self.score, constraints };
        call.execute(op, key)
    }

    /// [`Trace::update_with_args`] with the same arguments.
    ///
    /// # Errors
    /// As [`Trace::update_with_args`].
    pub fn update(&self, key: Key, constraints: &ChoiceMap) -> Result<(Trace<G>, f64, ChoiceMap), GenError> {
        self.update_with_args(key, self.args.clone(), constraints)
    }

    /// Redraws the selected choices from their prior conditionals. Returns (new trace,
    /// weight).
    ///
    /// # Errors
    /// An invalid parameter or non-finite density in the new execution.
    pub fn regenerate(&self, key: Key, selection: &Selection) -> Result<(Trace<G>, f64), GenError> {
        let op = Op::Regenerate { prev: &self.choices, prev_scores: &self.site_scores, selection };
        self.call().execute(op, key).map(|(t, w, _)| (t, w))
    }
}

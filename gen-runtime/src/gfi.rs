//! The generative function interface (Gen.jl's), stated once with the math of each weight.
//!
//! Notation: a generative function with arguments x defines a distribution p(t; x) over
//! traces t (all its random choices); the **score** of a trace is log p(t; x) (Gen.jl's
//! convention; GenJAX stores the negative). Constraints u fix some choices.
//!
//! - [`Call::simulate`]: t ~ p(.; x).
//! - [`Call::generate`]: t ~ q(.; u, x), the model with constrained choices fixed and the
//!   rest drawn from their prior conditionals; weight = log p(t; x) - log q(t; u, x) = the sum
//!   of the log densities of the constrained choices. With every choice constrained, weight =
//!   score.
//! - [`Call::assess`]: log p(t; x) of a complete choice map, with the return value.
//! - [`Trace::update`]: t' from t by replacing constrained choices, keeping the others and
//!   drawing choices that t lacks from their prior conditionals; weight =
//!   log p(t'; x') - log p(t; x) - sum of the log densities of the fresh choices. Returns the
//!   discarded values (old values at constrained addresses and choices t' no longer makes).
//! - [`Trace::regenerate`]: t' from t by redrawing the selected choices from their prior
//!   conditionals; weight = sum over unselected choices present in both traces of their new
//!   minus old log density (the MH acceptance log-ratio for a prior proposal). An empty
//!   selection with unchanged arguments gives weight 0.
//! - [`Call::propose`]: a sample of the choices and its log density (simulate, as a proposal).
//! - Gradients of log p with respect to selected continuous choices: see
//!   [`gradient`](crate::gradient).

use crate::address::Address;
use crate::choice_map::{ChoiceMap, Selection};
use crate::dynamic::{Interpreter, Op};
use crate::error::GenError;
use crate::handler::Handler;
use crate::real::{LhsOps, Real};
use crate::rng::Key;
use std::collections::BTreeMap;
use std::fmt;

/// A generative function: a model whose random choices have addresses.
///
/// `#[gen]` implements it for the functions it marks, and the combinators implement it for
/// what they build. `run` executes the body under a handler; every operation of the
/// interface is a handler.
pub trait GenerativeFunction: Clone + Send + Sync {
    /// The arguments, as a tuple, for continuous values of type `R`.
    ///
    /// Generic over `R` like the return value, so that a model can pass a latent value to
    /// another one (`sub(x).at("s")` with `x` a dual number while differentiating, a batch
    /// on the Burn engine), and an [`Unfold`](crate::combinators::Unfold) kernel can receive
    /// its state.
    type Args<R: Real>: Clone + Send + Sync;
    /// The return value for continuous values of type `R`.
    type Ret<R: Real>: Clone + Send + Sync;

    /// The function's name, for messages.
    fn name(&self) -> &'static str;

    /// Runs the body under `h`.
    fn run<'c, H: Handler<'c>>(&self, h: &mut H, args: Self::Args<H::Real>) -> Self::Ret<H::Real>
    where
        f64: LhsOps<H::Real> + LhsOps<H::Datum>;

    /// The arguments with their continuous values made `R`s (see [`Lift`](crate::Lift)):
    /// how an engine runs a call given in `f64` for dual numbers or batches.
    fn lift_args<R: Real>(&self, args: &Self::Args<f64>) -> Self::Args<R>;

    /// Binds arguments: the value that `.at(addr)` traces and that the interface runs.
    fn apply<R: Real>(self, args: Self::Args<R>) -> Call<Self, R> {
        Call { gf: self, args }
    }
}

/// A generative function with its arguments: what `model(args)` returns in Rust, and what
/// `.at(addr)` traces inside another model.
///
/// `R` is the type of the continuous values among the arguments: `f64` for the calls the
/// interface runs, the handler's `Real` for a call traced inside a model body.
pub struct Call<G: GenerativeFunction, R: Real = f64> {
    /// The generative function.
    pub gf: G,
    /// Its arguments.
    pub args: G::Args<R>,
}

impl<G: GenerativeFunction, R: Real> Clone for Call<G, R> {
    fn clone(&self) -> Self {
        Call { gf: self.gf.clone(), args: self.args.clone() }
    }
}

impl<G: GenerativeFunction, R: Real> Call<G, R> {
    /// Binds `args` to `gf`.
    pub fn new(gf: G, args: G::Args<R>) -> Self {
        Call { gf, args }
    }
}

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

/// The record of one execution of a generative function: arguments, choices, return value
/// and score (log p, Gen.jl's convention).
#[derive(Clone)]
pub struct Trace<G: GenerativeFunction> {
    gf: G,
    args: G::Args<f64>,
    retval: G::Ret<f64>,
    choices: ChoiceMap,
    site_scores: BTreeMap<Address, f64>,
    score: f64,
}

impl<G: GenerativeFunction> Trace<G> {
    /// The generative function.
    pub fn gen_fn(&self) -> &G {
        &self.gf
    }

    /// The arguments.
    pub fn args(&self) -> &G::Args<f64> {
        &self.args
    }

    /// The return value.
    pub fn retval(&self) -> &G::Ret<f64> {
        &self.retval
    }

    /// The random choices.
    pub fn choices(&self) -> &ChoiceMap {
        &self.choices
    }

    /// log p(choices; args).
    pub fn score(&self) -> f64 {
        self.score
    }

    /// The log density of the choice at `addr` given its parents.
    pub fn site_score(&self, addr: &Address) -> Option<f64> {
        self.site_scores.get(addr).copied()
    }

    /// The continuous scalar at `addr`, a shortcut for `choices().get_f64(addr)`.
    pub fn get_f64(&self, addr: impl crate::address::IntoAddress) -> Option<f64> {
        self.choices.get_f64(addr)
    }

    /// The value at `addr` as its stored type, a shortcut for `choices().get_as(addr)`
    /// ([`ChoiceMap::get_as`]): `trace.get_as::<bool>(("z", 3))`.
    pub fn get_as<T: crate::value::ChoiceData>(&self, addr: impl crate::address::IntoAddress) -> Option<T> {
        self.choices.get_as(addr)
    }

    /// The function and arguments as a [`Call`].
    pub fn call(&self) -> Call<G> {
        Call::new(self.gf.clone(), self.args.clone())
    }

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

impl<G: GenerativeFunction> fmt::Debug for Trace<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("gen_fn", &self.gf.name())
            .field("score", &self.score)
            .field("choices", &self.choices)
            .finish_non_exhaustive()
    }
}

/// The function's name, the score, and the choices as an address tree (see
/// [`ChoiceMap`]'s `Display`):
///
/// ```text
/// trace of polynomial, score -3.6154
/// ├── a : 0.43
/// ├── b : -0.12
/// ├── c : 0.52
/// └── ys : [0.5, 0.2, 1.25]
/// ```
///
/// The return value and arguments are not shown: their types are the model's own and need
/// not be printable (read them with [`Trace::retval`] and [`Trace::args`]). A precision
/// (`{:.3}`) applies to the score and every real choice; `{:#}` prints vectors whole.
impl<G: GenerativeFunction> fmt::Display for Trace<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trace of {}, score ", self.gf.name())?;
        match f.precision() {
            Some(p) => write!(f, "{:.p$}", self.score)?,
            None => write!(f, "{:?}", self.score)?,
        }
        f.write_str("\n")?;
        fmt::Display::fmt(&self.choices, f)
    }
}

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
//!
//! How a body runs: `#[gen]` rewrites every trace site `X.at(addr)` of a model body into a
//! call on a [`Handler`], and makes the body generic over it. Each operation above and each
//! engine (native floats, dual numbers, Burn tensors) is one handler: the same body is
//! compiled once per handler, so every operation runs as specialized code (Gen.jl's dynamic
//! DSL runs the body under a state object per operation in the same way, but interpreted).
//!
//! This file is the interface alone: the operations are implemented by the interpreter
//! (`dynamic.rs`), the engines' handlers live with their engines.

use crate::address::{Address, Site};
use crate::choice_map::ChoiceMap;
use crate::distributions::{Distribution, LogDensityParts};
use crate::error::GenError;
use crate::real::{LhsOps, Real};
use crate::value::{LiftElement, Values};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Add, Div, Mul, Sub};

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

/// What a model body runs against. `'c` is the lifetime of data the handler lends to the body
/// (constraints, the previous trace).
///
/// `Real` is the type of continuous values; `Datum` is the type a [`plate`](crate::plate)
/// closure receives for each data point (`f64` on the native engine; on a batched engine, the
/// whole data vector at once, so the closure runs once per batch, not once per point).
pub trait Handler<'c>: Sized {
    /// Continuous values.
    type Real: Real
        + From<Self::Datum>
        + Add<Self::Datum, Output = Self::Real>
        + Sub<Self::Datum, Output = Self::Real>
        + Mul<Self::Datum, Output = Self::Real>
        + Div<Self::Datum, Output = Self::Real>;
    /// One data point inside a plate.
    type Datum: Real
        + Add<Self::Real, Output = Self::Real>
        + Sub<Self::Real, Output = Self::Real>
        + Mul<Self::Real, Output = Self::Real>
        + Div<Self::Real, Output = Self::Real>;

    /// A random choice from `dist` at `site`.
    fn sample<D: Distribution<Real = Self::Real>>(&mut self, site: Site<'_>, dist: D) -> D::Value;

    /// One choice per data point `x` in `xs`, from `f(x)`, all at one address: GenJAX's
    /// `dist.vmap(...) @ addr`. Evaluated as one fused loop.
    fn plate<D, F>(&mut self, site: Site<'_>, xs: &[f64], f: F) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = Self::Real>,
        D::Data: LiftElement<D::Value>,
        F: Fn(Self::Datum) -> D;

    /// A plate whose closure `#[gen]` also differentiated in reverse mode: `adjoint(x, y, p, g)`
    /// returns the log density of `y` under `f(x)` with the closure's captured values at `p`
    /// as parts (`scale * kernel + offset`, see
    /// [`Distribution::log_density_parts`]) and adds the partial derivatives of `kernel` in
    /// them to `g`, the scale being a constant where it is not 1; `captures` are those values
    /// in this handler's number type. The gradient engine sums the adjoint over the data and
    /// applies the scale and the chain rule to the captures once per plate; every other
    /// handler runs `f` through [`Handler::plate`], which is the default.
    #[inline]
    fn plate_ad<D, F, A, const K: usize>(&mut self, site: Site<'_>, xs: &[f64], f: F, captures: [Self::Real; K], adjoint: A) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = Self::Real>,
        D::Data: LiftElement<D::Value>,
        F: Fn(Self::Datum) -> D,
        A: Fn(f64, &D::Data, &[f64; K], &mut [f64; K]) -> LogDensityParts<f64>,
    {
        let _ = (captures, adjoint);
        self.plate(site, xs, f)
    }

    /// `n` independent choices from `dist` at one address.
    fn iid<D>(&mut self, site: Site<'_>, dist: D, n: usize) -> Values<'c, D::Data, D::Value>
    where
        D: Distribution<Real = Self::Real>,
        D::Data: LiftElement<D::Value>;

    /// Adds `log_weight` to the model's log density at `site` (see [`factor`](crate::factor)): no choice is
    /// made; the term counts as an observation's would.
    fn factor(&mut self, site: Site<'_>, log_weight: Self::Real);

    /// The value of the trainable parameter at `site` (see [`param`](crate::param)): `init` unless the
    /// handler fits or was given parameters. The default returns `init` as a constant.
    #[inline]
    fn param(&mut self, site: Site<'_>, init: f64) -> Self::Real {
        let _ = site;
        Self::Real::cst(init)
    }

    /// Reports an error found while running the body (a combinator's bad arguments): the
    /// operation returns it when the run ends.
    fn fail(&mut self, error: GenError);

    /// Calls another generative function with its choices under `site`.
    fn call<G: GenerativeFunction>(&mut self, site: Site<'_>, gf: &G, args: G::Args<Self::Real>) -> G::Ret<Self::Real>;
}

/// Something that can stand before `.at(addr)` in a model body: a distribution, `iid(...)`,
/// or a call of another generative function.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be traced with `.at(...)`",
    label = "not a distribution, `iid(...)`, `factor(...)`, or a generative function call",
    note = "`.at(addr)` records a random choice; it applies to a distribution such as `normal(0.0, 1.0)` or to a call of another `#[gen]` function"
)]
pub trait Traceable<'c, H: Handler<'c>> {
    /// What the body receives.
    type Output;
    /// Records it at `site`.
    fn trace(self, h: &mut H, site: Site<'_>) -> Self::Output;
}

impl<'c, H: Handler<'c>, D: Distribution<Real = H::Real>> Traceable<'c, H> for D {
    type Output = D::Value;
    #[inline(always)]
    fn trace(self, h: &mut H, site: Site<'_>) -> D::Value {
        h.sample(site, self)
    }
}

impl<'c, H: Handler<'c>, G: GenerativeFunction> Traceable<'c, H> for Call<G, H::Real> {
    type Output = G::Ret<H::Real>;
    #[inline(always)]
    fn trace(self, h: &mut H, site: Site<'_>) -> Self::Output {
        h.call(site, &self.gf, self.args)
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

/// The record of one execution of a generative function: arguments, choices, return value
/// and score (log p, Gen.jl's convention).
#[derive(Clone)]
pub struct Trace<G: GenerativeFunction> {
    pub(crate) gf: G,
    pub(crate) args: G::Args<f64>,
    pub(crate) retval: G::Ret<f64>,
    pub(crate) choices: ChoiceMap,
    pub(crate) site_scores: BTreeMap<Address, f64>,
    pub(crate) score: f64,
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

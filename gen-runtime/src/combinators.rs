//! Combinators: generative functions built from other generative functions, with the
//! structure that inference can use (Gen.jl's `Map`, `Unfold` and `Switch`).
//!
//! ```
//! use gen_runtime::prelude::*;
//! use gen_runtime::Part;
//!
//! // One random walk step: the state is the position.
//! #[gen]
//! fn step(t: usize, x: Real, sigma: f64) -> Real {
//!     let x = normal(x, sigma).at("x");
//!     normal(x, 1.0).at("y");
//!     x
//! }
//!
//! // Each point's own offset around a shared mean.
//! #[gen]
//! fn point(mu: Real, x: f64) -> Real {
//!     normal(mu + x, 1.0).at("z")
//! }
//!
//! #[gen]
//! fn model(xs: &[f64]) -> Real {
//!     let mu = normal(0.0, 1.0).at("mu");
//!     // Choices at "walk" / t / "x" and "walk" / t / "y", for t = 0, 1, 2.
//!     let path = Unfold::new(step::gf()).apply((3, mu, (0.5,))).at("walk");
//!     // Choices at "points" / i / "z".
//!     Map::new(point::gf()).apply(xs.iter().map(|&x| (mu, x)).collect()).at("points");
//!     path[2]
//! }
//!
//! let trace = model(&[0.0, 1.0]).simulate(Key::new(1))?;
//! let walk_2_x = Address(vec!["walk".into(), Part::Index(2), "x".into()]);
//! assert_eq!(trace.get_f64(walk_2_x), Some(*trace.retval()));
//! assert!(trace.get_f64(Address(vec!["points".into(), Part::Index(1), "z".into()])).is_some());
//! # Ok::<(), gen_runtime::GenError>(())
//! ```

use crate::address::Site;
use crate::error::GenError;
use crate::gfi::{GenerativeFunction, Handler};
use crate::real::{LhsOps, Real};

/// Applies a generative function independently to each element of a vector of arguments:
/// call `i` puts its choices under the index `i` (Gen.jl's `Map`, GenJAX's `vmap`).
///
/// The arguments are a `Vec` of the kernel's argument tuples; the return value is the `Vec`
/// of its return values.
#[derive(Clone, Copy, Debug, Default)]
pub struct Map<G>(pub G);

impl<G: GenerativeFunction> Map<G> {
    /// `gf` mapped over its arguments.
    pub fn new(gf: G) -> Self {
        Map(gf)
    }
}

impl<G: GenerativeFunction> GenerativeFunction for Map<G> {
    type Args<R: Real> = Vec<G::Args<R>>;
    type Ret<R: Real> = Vec<G::Ret<R>>;

    fn name(&self) -> &'static str {
        "Map"
    }

    fn lift_args<R: Real>(&self, args: &Self::Args<f64>) -> Self::Args<R> {
        args.iter().map(|a| self.0.lift_args(a)).collect()
    }

    fn run<'c, H: Handler<'c>>(&self, h: &mut H, args: Self::Args<H::Real>) -> Self::Ret<H::Real>
    where
        f64: LhsOps<H::Real> + LhsOps<H::Datum>,
    {
        args.into_iter().enumerate().map(|(i, a)| h.call(Site::index(i as i64), &self.0, a)).collect()
    }
}

/// A kernel that [`Unfold`] can iterate: a generative function `(t, state, params...) -> state`.
///
/// `#[gen]` implements it for every function whose first argument is `usize` and whose
/// second argument has the return type, such as `fn step(t: usize, x: Real, sigma: f64) ->
/// Real`; the remaining arguments are the parameters, passed unchanged to every step.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the kernel of an Unfold",
    note = "an Unfold kernel is a #[gen] function `fn k(t: usize, state: S, params...) -> S`: the first argument a `usize`, the second of the return type"
)]
pub trait UnfoldKernel: GenerativeFunction {
    /// The arguments after `t` and the state, as a tuple.
    type Params<R: Real>: Clone + Send + Sync;

    /// The kernel's arguments for step `t`.
    fn kernel_args<R: Real>(&self, t: usize, state: Self::Ret<R>, params: &Self::Params<R>) -> Self::Args<R>;

    /// A state given in `f64` as the engine's values (see [`Lift`](crate::Lift)).
    fn lift_state<R: Real>(&self, state: &Self::Ret<f64>) -> Self::Ret<R>;

    /// Parameters given in `f64` as the engine's values.
    fn lift_params<R: Real>(&self, params: &Self::Params<f64>) -> Self::Params<R>;
}

/// Iterates a kernel over time: `state_t = kernel(t, state_{t-1}, params)` for `t` in
/// `0..n`, with step `t`'s choices under the index `t` (Gen.jl's `Unfold`, GenJAX's `scan`).
///
/// The arguments are `(n, initial state, params)`; the return value is the `Vec` of the `n`
/// states after each step. A state-space model is an Unfold: a particle filter
/// ([`crate::inference::smc`]) extends it one step at a time.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unfold<K>(pub K);

impl<K: UnfoldKernel> Unfold<K> {
    /// `kernel` iterated over time.
    pub fn new(kernel: K) -> Self {
        Unfold(kernel)
    }
}

impl<K: UnfoldKernel> GenerativeFunction for Unfold<K> {
    type Args<R: Real> = (usize, K::Ret<R>, K::Params<R>);
    type Ret<R: Real> = Vec<K::Ret<R>>;

    fn name(&self) -> &'static str {
        "Unfold"
    }

    fn lift_args<R: Real>(&self, (n, init, params): &Self::Args<f64>) -> Self::Args<R> {
        (*n, self.0.lift_state(init), self.0.lift_params(params))
    }

    fn run<'c, H: Handler<'c>>(&self, h: &mut H, (n, init, params): Self::Args<H::Real>) -> Self::Ret<H::Real>
    where
        f64: LhsOps<H::Real> + LhsOps<H::Datum>,
    {
        let mut states = Vec::with_capacity(n);
        let mut state = init;
        for t in 0..n {
            state = h.call(Site::index(t as i64), &self.0, self.0.kernel_args(t, state, &params));
            states.push(state.clone());
        }
        states
    }
}

/// Either branch's return value from a [`Switch`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Branch<A, B> {
    /// Branch 0 ran.
    First(A),
    /// Branch 1 ran.
    Second(B),
}

impl<T> Branch<T, T> {
    /// The value, when both branches return the same type.
    pub fn into_inner(self) -> T {
        match self {
            Branch::First(x) | Branch::Second(x) => x,
        }
    }
}

/// Runs one of two generative functions, chosen by an index, with its choices directly at
/// the switch's address (Gen.jl's and GenJAX's `Switch`). Nest switches for more branches.
///
/// The arguments are `(index, args of branch 0, args of branch 1)` (each branch has its own,
/// as in GenJAX); an index other than 0 or 1 is a [`GenError::BadArguments`]. The return
/// value is a [`Branch`]; [`Branch::into_inner`] unwraps it when the branches return the
/// same type.
#[derive(Clone, Copy, Debug, Default)]
pub struct Switch<A, B>(pub A, pub B);

impl<A: GenerativeFunction, B: GenerativeFunction> Switch<A, B> {
    /// A switch between `first` (index 0) and `second` (index 1).
    pub fn new(first: A, second: B) -> Self {
        Switch(first, second)
    }
}

impl<A: GenerativeFunction, B: GenerativeFunction> GenerativeFunction for Switch<A, B> {
    type Args<R: Real> = (usize, A::Args<R>, B::Args<R>);
    type Ret<R: Real> = Branch<A::Ret<R>, B::Ret<R>>;

    fn name(&self) -> &'static str {
        "Switch"
    }

    fn lift_args<R: Real>(&self, (i, a, b): &Self::Args<f64>) -> Self::Args<R> {
        (*i, self.0.lift_args(a), self.1.lift_args(b))
    }

    fn run<'c, H: Handler<'c>>(&self, h: &mut H, (index, a, b): Self::Args<H::Real>) -> Self::Ret<H::Real>
    where
        f64: LhsOps<H::Real> + LhsOps<H::Datum>,
    {
        match index {
            0 => Branch::First(self.0.run(h, a)),
            1 => Branch::Second(self.1.run(h, b)),
            _ => {
                h.fail(GenError::BadArguments {
                    function: "Switch",
                    message: format!("branch index {index}, but there are 2 branches (0 and 1)"),
                });
                // The handler reports the error when the run ends; branch 0 keeps the
                // execution well-formed until then.
                Branch::First(self.0.run(h, a))
            }
        }
    }
}

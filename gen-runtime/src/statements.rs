//! The statements of a model body beyond a distribution: [`factor`], [`param`], [`iid`] and
//! [`plate`], each traced with `.at(addr)` through [`Traceable`].

use crate::address::Site;
use crate::distributions::Distribution;
use crate::gfi::{Handler, Traceable};
use crate::real::Real;
use crate::value::{LiftElement, Values};

/// A term added to a model's log density (see [`factor`]).
#[derive(Clone, Copy, Debug)]
pub struct Factor<R> {
    /// The term.
    pub log_weight: R,
}

/// Adds `log_weight` to the model's log density: `factor(lp).at("name")` is NumPyro's
/// `numpyro.factor("name", lp)` and Stan's `target += lp`. It makes no random choice; the
/// term counts in scores, importance weights and gradients as an observation's log density
/// would, so a model can score what no distribution in the library expresses, such as a
/// mixture with its assignments summed out:
///
/// ```
/// use gen_runtime::prelude::*;
///
/// // y ~ w N(mu_1, 1) + (1 - w) N(mu_0, 1), the assignment marginalized.
/// #[gen]
/// fn mixture(y: f64) {
///     let mu0 = normal(0.0, 5.0).at("mu0");
///     let mu1 = normal(0.0, 5.0).at("mu1");
///     let y: Real = y.into();
///     let a = normal(mu1, 1.0).log_density(&y) + 0.3f64.ln();
///     let b = normal(mu0, 1.0).log_density(&y) + 0.7f64.ln();
///     // ln(e^a + e^b), without overflow.
///     factor(a + (b - a).softplus()).at("y");
/// }
///
/// let trace = mixture(1.5).simulate(Key::new(1))?;
/// assert!(trace.site_score(&"y".into_address()).is_some());
/// # Ok::<(), gen_runtime::GenError>(())
/// ```
///
/// The address names the term (in a trace's [`site_score`](crate::Trace::site_score) and in
/// errors); it is not a choice, so it cannot be observed or selected.
#[must_use]
pub fn factor<R: Real>(log_weight: impl Into<R>) -> Factor<R> {
    Factor { log_weight: log_weight.into() }
}

impl<'c, H: Handler<'c>> Traceable<'c, H> for Factor<H::Real> {
    type Output = ();
    #[inline(always)]
    fn trace(self, h: &mut H, site: Site<'_>) {
        h.factor(site, self.log_weight);
    }
}

/// A trainable parameter of a guide (see [`param`]).
#[derive(Clone, Copy, Debug)]
pub struct Param {
    init: f64,
}

/// A trainable parameter, named by `.at(name)` and starting at `init`: Gen.jl's `@param`
/// with its `init_param!`. Written in a guide, a `#[gen]` function that proposes the latents
/// of a model, and fitted by [`Conditioned::vi`](crate::inference::Conditioned::vi):
///
/// ```
/// use gen_runtime::prelude::*;
///
/// #[gen]
/// fn guide() {
///     let loc = param(0.0).at("loc");
///     let log_scale = param(0.0).at("log_scale");
///     normal(loc, log_scale.exp()).at("mu");
/// }
/// ```
///
/// Outside a fit, a parameter is its initial value. It is not a random choice: it is not in
/// the trace, and it cannot be observed.
#[must_use]
pub fn param(init: f64) -> Param {
    Param { init }
}

impl<'c, H: Handler<'c>> Traceable<'c, H> for Param {
    type Output = H::Real;
    #[inline(always)]
    fn trace(self, h: &mut H, site: Site<'_>) -> H::Real {
        h.param(site, self.init)
    }
}

/// `n` independent draws from one distribution at one address (see [`iid`]).
#[derive(Clone, Copy, Debug)]
pub struct Iid<D> {
    /// The distribution.
    pub dist: D,
    /// The number of draws.
    pub n: usize,
}

/// `n` independent draws from `dist` at one address, as one vector-valued choice:
/// `iid(bernoulli(p), 50).at("ys")`.
#[must_use]
pub fn iid<D: Distribution>(dist: D, n: usize) -> Iid<D> {
    Iid { dist, n }
}

impl<'c, H: Handler<'c>, D> Traceable<'c, H> for Iid<D>
where
    D: Distribution<Real = H::Real>,
    D::Data: LiftElement<D::Value>,
{
    type Output = Values<'c, D::Data, D::Value>;
    #[inline(always)]
    fn trace(self, h: &mut H, site: Site<'_>) -> Self::Output {
        h.iid(site, self.dist, self.n)
    }
}

/// One choice per data point, all at one address: `plate(xs, |x| normal(a + b * x, 1.0)).at("ys")`.
///
/// Inside `#[gen]`, `plate(...).at(addr)` is recognised by the macro and becomes
/// [`Handler::plate`], which gives the closure's argument the engine's data type (so a
/// batched engine evaluates the closure once over the whole vector). Outside a model body
/// this function only exists so the name resolves and is documented.
#[doc(hidden)]
pub fn plate<F>(xs: &[f64], f: F) -> (&[f64], F) {
    (xs, f)
}


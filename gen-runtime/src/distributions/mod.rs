//! The distribution library.
//!
//! A distribution is a plain struct of parameters of the engine's [`Real`] type, built by a
//! lowercase constructor (`normal(mu, sigma)`) and traced with `.at(addr)` inside `#[gen]`.
//! Each has a log density generic over [`Real`] (so gradients flow through its parameters and
//! its value), a sampler, parameter validation, its support, and, for continuous ones, the
//! bijection to unconstrained space that HMC and NUTS move in ([`Support`]).
//!
//! Log densities are normalized (they include every constant), so trace scores are true log
//! probabilities and log marginal likelihood estimates are comparable across systems.

use crate::error::ParamError;
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use crate::value::ChoiceData;
use std::fmt;
use std::ops::{Add, Div, Mul, Sub};

mod bernoulli;
mod bernoulli_logit;
mod beta;
mod binomial;
mod categorical;
mod cauchy;
mod dirichlet;
mod exponential;
mod gamma;
mod half_normal;
mod into_reals;
mod inv_gamma;
mod lognormal;
mod mv_normal;
mod mv_normal_diag;
mod normal;
mod poisson;
mod student_t;
mod uniform;
pub use bernoulli::{bernoulli, Bernoulli};
pub use bernoulli_logit::{bernoulli_logit, BernoulliLogit};
pub use beta::{beta, Beta};
pub use binomial::{binomial, Binomial};
pub use categorical::{categorical, categorical_logits, Categorical};
pub use cauchy::{cauchy, Cauchy};
pub use dirichlet::{dirichlet, Dirichlet};
pub use exponential::{exponential, Exponential};
pub use gamma::{gamma, Gamma};
pub use half_normal::{half_normal, HalfNormal};
pub use into_reals::IntoReals;
pub use inv_gamma::{inv_gamma, InvGamma};
pub use lognormal::{lognormal, LogNormal};
pub use mv_normal::{mv_normal, mv_normal_cholesky, Cholesky, MvNormal};
pub use mv_normal_diag::{mv_normal_diag, MvNormalDiag};
pub use normal::{normal, Normal};
pub use poisson::{poisson, Poisson};
pub use student_t::{student_t, StudentT};
pub use uniform::{uniform, Uniform};

/// ln(2π), correctly rounded (`f64::ln(2.0 * PI)` is one ulp low: 2π rounds first). The one
/// definition the library, its exact posteriors, the tests and the handcoded benchmark rows
/// share.
pub const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// ln(2π) / 2 (halving is exact).
pub const HALF_LN_2PI: f64 = LN_2PI / 2.0;

/// How far a probability vector may sum from 1, NumPyro's simplex tolerance: loose enough for
/// probabilities typed as decimals or computed in floating point.
pub(crate) const SIMPLEX_TOLERANCE: f64 = 1e-6;

/// ln π.
pub(crate) const LN_PI: f64 = 1.144_729_885_849_400_2;

/// Arithmetic of an engine value with a right-hand operand of type `X`: `X` is the engine's
/// `Real` itself or a plain `f64`. Writing a log density once over `X` serves both
/// `log_density` (the value is a `Real`, so gradients reach it) and `log_density_data` (a
/// stored observation stays an `f64`, which is cheaper for dual numbers).
pub(crate) trait RealOps<X>:
    Real + Add<X, Output = Self> + Sub<X, Output = Self> + Mul<X, Output = Self> + Div<X, Output = Self>
{
}

impl<R, X> RealOps<X> for R where R: Real + Add<X, Output = R> + Sub<X, Output = R> + Mul<X, Output = R> + Div<X, Output = R> {}

/// Unwraps a `rand_distr` sampler built from a distribution's parameters.
///
/// # Panics
/// If the parameters were invalid. The runtime calls [`Distribution::check`] before it
/// samples, so reaching this is a caller's bug; the message names the bad parameter.
#[track_caller]
pub(crate) fn sampler<D, S, E>(dist: &D, made: Result<S, E>) -> S
where
    D: Distribution,
    D::Real: Scalar,
{
    match made {
        Ok(s) => s,
        Err(_) => match dist.check() {
            Err(e) => panic!(
                "cannot sample {}: parameter {} = {} is invalid ({}); call check() first",
                D::NAME,
                e.parameter,
                e.value,
                e.requirement
            ),
            Ok(()) => panic!("cannot sample {}: the sampler rejected its parameters", D::NAME),
        },
    }
}

/// ln Σ e^{x_i}, folded as ln(e^a + e^b) = a + softplus(b - a) because [`Real`] has no
/// comparisons to find the maximum with; softplus itself does not overflow for `f64` and
/// dual numbers, so neither does this.
pub(crate) fn log_sum_exp<R: Real>(xs: &[R]) -> R {
    let mut iter = xs.iter();
    let Some(&first) = iter.next() else {
        return R::cst(f64::NEG_INFINITY);
    };
    iter.fold(first, |acc, &x| acc + (x - acc).softplus())
}

/// The f64 log density for a value outside the support.
pub(crate) fn impossible<R: Real>() -> R {
    R::cst(f64::NEG_INFINITY)
}

/// A probability distribution over the values of one random choice.
///
/// `Real` is the engine's number type; `Value` is what the model body receives (`Real` for
/// a continuous scalar, `bool`, `usize` or `u64` for discrete ones, `Vec<Real>` for vector
/// distributions); `Data` is how a sample is stored in a choice map (`f64`, ..., `Vec<f64>`).
pub trait Distribution: Clone {
    /// The number type of the parameters and the log density.
    type Real: Real;
    /// The value the model body receives.
    type Value;
    /// The stored form of a value.
    type Data: ChoiceData;

    /// The distribution's name, for error messages.
    const NAME: &'static str;

    /// Log density (or log mass) of `x`, normalized.
    fn log_density(&self, x: &Self::Value) -> Self::Real;

    /// Log density of a stored value. Distributions override it where the stored form gives a
    /// cheaper expression (a constant observation need not become a `Real` first).
    #[inline]
    fn log_density_data(&self, x: &Self::Data) -> Self::Real {
        self.log_density(&self.lift(x))
    }

    /// The log density of a stored value as `scale * kernel + offset`, where `scale` and
    /// `offset` depend on the parameters only (a normal's kernel is `(y - mu)²`, its scale
    /// `-1/(2 sigma²)` and its offset `-ln sigma - ln(2 pi)/2`).
    ///
    /// A plate whose points share `scale` and `offset` (a common sigma) sums the kernels and
    /// applies them once, as a handcoded likelihood does (importance weights, scores, and the
    /// gradient's plate adjoint); the default, `(log density, 1, 0)`, makes that the plain sum.
    #[inline]
    fn log_density_parts(&self, x: &Self::Data) -> LogDensityParts<Self::Real> {
        LogDensityParts { kernel: self.log_density_data(x), scale: Self::Real::cst(1.0), offset: Self::Real::cst(0.0) }
    }

    /// The stored value as the model body sees it.
    fn lift(&self, x: &Self::Data) -> Self::Value;

    /// The value's stored form (the primal value, for dual numbers).
    fn lower(x: &Self::Value) -> Self::Data
    where
        Self::Real: Scalar;

    /// Draws a value.
    fn sample(&self, rng: &mut KeyRng) -> Self::Data
    where
        Self::Real: Scalar;

    /// A draw written as a differentiable function of the parameters and of noise that does
    /// not depend on them (the reparameterization trick), as its [`flat_dim`](Self::flat_dim)
    /// reals: `mu + sigma * eps` for a normal, with `eps` drawn from `rng` as
    /// [`Distribution::sample`] draws it, so the primal value is the same draw. `None` where
    /// no such form is implemented; variational inference then differentiates through the
    /// score function instead.
    fn sample_reparameterized(&self, rng: &mut KeyRng) -> Option<Vec<Self::Real>>
    where
        Self::Real: Scalar,
    {
        let _ = rng;
        None
    }

    /// Checks the parameters (for example sigma > 0), naming the one that is wrong.
    fn check(&self) -> Result<(), ParamError>
    where
        Self::Real: Scalar;

    /// The support.
    fn support(&self) -> Support;

    /// Whether a stored value lies in the support (also checks the length of vectors).
    fn in_support(&self, x: &Self::Data) -> bool
    where
        Self::Real: Scalar;

    /// The same distribution with `f64` parameters.
    type Scalar: Distribution<Real = f64, Data = Self::Data>;

    /// This distribution with each parameter `p` replaced by `param(p)`. A batched engine
    /// reads one particle's parameters through it and samples that particle with the native
    /// sampler, so both engines draw the same numbers from the same keys.
    fn to_scalar(&self, param: &mut dyn FnMut(&Self::Real) -> f64) -> Self::Scalar;

    /// A batched value from one stored value per element of a `rows × cols` batch
    /// (row-major), or `None` where the value cannot be batched (discrete values steer
    /// control flow, so a batched engine keeps them out of the model body).
    fn batch_value(&self, data: &[Self::Data], rows: usize, cols: usize) -> Option<Self::Value> {
        let _ = (data, rows, cols);
        None
    }

    /// For a continuous distribution, the number of reals in a value (1 for a scalar, k for
    /// a k-vector); `None` for a discrete one.
    #[inline]
    fn flat_dim(&self) -> Option<usize> {
        None
    }

    /// Builds a value from `flat_dim` reals. Only called on continuous distributions.
    ///
    /// # Panics
    /// Discrete distributions panic: the gradient paths check `flat_dim` first.
    fn value_from_flat(&self, xs: &[Self::Real]) -> Self::Value {
        let _ = xs;
        unreachable!("{} is not continuous", Self::NAME)
    }

    /// Appends a stored value's reals to `out`. Only called on continuous distributions.
    fn write_flat(x: &Self::Data, out: &mut Vec<f64>) {
        let _ = (x, out);
        unreachable!("{} is not continuous", Self::NAME)
    }
}

/// The [`Distribution`] items that are the same for every scalar continuous distribution,
/// written `scalar_continuous_items!(R);` inside its `impl<R: Real> Distribution`: the value
/// is one `R`, stored as one `f64` that is also its only flat real, and a batched engine
/// builds it with [`Real::from_batch`]. Each distribution's file then holds only its own
/// items: density, sampler, parameter checks, support and bijection.
//
// A macro rather than default methods: associated types cannot have defaults on stable Rust,
// and a default `lift` or `lower` would have to compile for every value type (`bool`, `u64`,
// `Vec<R>`). A helper trait with a blanket `impl Distribution` would restate the whole
// interface and forward each method through one more call, and would change the list of
// implementors rustc prints in errors (`tests/ui`). The expansion is exactly the code each
// file held before, `#[inline]` attributes included.
macro_rules! scalar_continuous_items {
    ($r:ident) => {
        type Real = $r;
        type Value = $r;
        type Data = f64;

        fn batch_value(&self, data: &[f64], rows: usize, cols: usize) -> Option<$r> {
            Some($r::from_batch(data, rows, cols))
        }

        #[inline]
        fn lift(&self, x: &f64) -> $r {
            $r::cst(*x)
        }

        #[inline]
        fn lower(x: &$r) -> f64
        where
            $r: $crate::real::Scalar,
        {
            x.value()
        }

        #[inline]
        fn flat_dim(&self) -> Option<usize> {
            Some(1)
        }

        #[inline]
        fn value_from_flat(&self, xs: &[$r]) -> $r {
            xs[0]
        }

        fn write_flat(x: &f64, out: &mut Vec<f64>) {
            out.push(*x);
        }
    };
}
pub(crate) use scalar_continuous_items;

/// A log density split as `scale * kernel + offset` (see
/// [`Distribution::log_density_parts`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogDensityParts<R> {
    /// The part that depends on the value.
    pub kernel: R,
    /// The factor of the kernel, a function of the parameters only.
    pub scale: R,
    /// The constant term, a function of the parameters only.
    pub offset: R,
}

/// The set of values a distribution puts mass on, and for continuous supports the bijection
/// from unconstrained coordinates used by HMC, NUTS and MALA.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Support {
    /// All reals (identity map).
    Real,
    /// x > 0 (x = e^t).
    Positive,
    /// a < x < b (x = a + (b - a) sigmoid(t)).
    Interval(f64, f64),
    /// Vectors of reals (identity map).
    RealVector,
    /// The probability simplex with k entries (Stan's stick-breaking map from k - 1 reals).
    Simplex(usize),
    /// {false, true}.
    Boolean,
    /// {0, 1, ..., n - 1}.
    Range(usize),
    /// {0, 1, 2, ...}.
    Naturals,
}

impl fmt::Display for Support {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Support::Real => write!(f, "all reals"),
            Support::Positive => write!(f, "x > 0"),
            Support::Interval(a, b) => write!(f, "{a} < x < {b}"),
            Support::RealVector => write!(f, "real vectors"),
            Support::Simplex(k) => write!(f, "the {k}-simplex"),
            Support::Boolean => write!(f, "{{false, true}}"),
            Support::Range(n) => write!(f, "{{0, ..., {}}}", n.saturating_sub(1)),
            Support::Naturals => write!(f, "{{0, 1, 2, ...}}"),
        }
    }
}

impl Support {
    /// The number of unconstrained coordinates for a value of `flat_dim` reals.
    #[must_use]
    pub fn unconstrained_dim(&self, flat_dim: usize) -> usize {
        match self {
            Support::Simplex(_) => flat_dim.saturating_sub(1),
            _ => flat_dim,
        }
    }

    /// Maps one unconstrained coordinate of a scalar support to its value, with log |dx/dt|
    /// (real, positive and interval supports; the others map coordinates jointly).
    #[inline]
    pub fn forward_scalar<R: Real>(&self, t: R) -> (R, R) {
        match *self {
            Support::Positive => (t.exp(), t),
            Support::Interval(a, b) => {
                // ln sigmoid(t) + ln(1 - sigmoid(t)) = -softplus(-t) - softplus(t)
                (t.sigmoid() * (b - a) + a, -(-t).softplus() - t.softplus() + (b - a).ln())
            }
            _ => (t, R::cst(0.0)),
        }
    }

    /// Maps unconstrained coordinates `theta` to constrained values `out` and returns
    /// log |det J| of the map, the term HMC adds to the log density.
    pub fn forward<R: Real>(&self, theta: &[R], out: &mut Vec<R>) -> R {
        out.clear();
        match *self {
            Support::Real | Support::RealVector => {
                out.extend_from_slice(theta);
                R::cst(0.0)
            }
            Support::Positive | Support::Interval(..) => {
                let mut log_jac = R::cst(0.0);
                for &t in theta {
                    let (x, j) = self.forward_scalar(t);
                    out.push(x);
                    log_jac += j;
                }
                log_jac
            }
            Support::Simplex(_) => {
                // Stan's stick-breaking: z_i = sigmoid(t_i - ln(K - 1 - i)),
                // x_i = remaining * z_i.
                let k = theta.len() + 1;
                let mut remaining = R::cst(1.0);
                let mut log_jac = R::cst(0.0);
                for (i, &t) in theta.iter().enumerate() {
                    let u = t - ((k - 1 - i) as f64).ln();
                    let z = u.sigmoid();
                    let x = remaining * z;
                    log_jac += -(-u).softplus() - u.softplus() + remaining.ln();
                    out.push(x);
                    remaining -= x;
                }
                out.push(remaining);
                log_jac
            }
            Support::Boolean | Support::Range(_) | Support::Naturals => {
                unreachable!("discrete supports have no bijection")
            }
        }
    }

    /// The inverse of [`Support::forward`]: unconstrained coordinates of the values `x`.
    pub fn inverse(&self, x: &[f64], out: &mut Vec<f64>) {
        match *self {
            Support::Real | Support::RealVector => out.extend_from_slice(x),
            Support::Positive => out.extend(x.iter().map(|v| v.ln())),
            Support::Interval(a, b) => out.extend(x.iter().map(|v| {
                let p = (v - a) / (b - a);
                p.ln() - (-p).ln_1p()
            })),
            Support::Simplex(_) => {
                let k = x.len();
                let mut remaining = 1.0;
                for (i, &xi) in x[..k.saturating_sub(1)].iter().enumerate() {
                    let z = xi / remaining;
                    out.push(z.ln() - (-z).ln_1p() + ((k - 1 - i) as f64).ln());
                    remaining -= xi;
                }
            }
            Support::Boolean | Support::Range(_) | Support::Naturals => {
                unreachable!("discrete supports have no bijection")
            }
        }
    }

    /// Whether a continuous scalar lies in the support.
    #[must_use]
    pub fn contains(&self, x: f64) -> bool {
        match *self {
            Support::Real | Support::RealVector => x.is_finite(),
            Support::Positive => x > 0.0 && x.is_finite(),
            Support::Interval(a, b) => x > a && x < b,
            _ => false,
        }
    }
}

"""Handcoded JAX: the models and inference written directly in jax.numpy (no PPL).

This is the XLA floor the PPL rows are compared with (the GenJAX paper's "handcoded JAX").

* IS: one single-particle function (sample the prior, score the data) under ``jax.vmap``
  over particles, the whole call under ``jax.jit``; the call returns particles, log
  weights and the log-ML estimate.
* HMC: one ``jax.jit`` of a ``lax.scan`` over warm-up + kept iterations, each iteration a
  ``lax.scan`` over the leapfrog steps; gradient by ``jax.grad`` of the log joint; start
  at zeros, fixed step, identity mass matrix, no adaptation.  The gradient at the current
  position is carried in the chain state, so one iteration costs ``n_leapfrog`` gradients.
* SMC: a bootstrap particle filter (propose from the transition, weight by the
  observation, multinomial resampling at every step) for the discrete HMM and the LGSSM.
* Exact filtering (``--method exact``): log p(y_1:T) of the whole series, the forward
  algorithm in log space (HMM) and the Kalman filter (LGSSM), each one jitted ``lax.scan``
  over the time steps with the data and parameters as arguments of the jitted function.
* VI: mean-field normal ADVI (loc, softplus-raw scale) with the K-sample reparameterized
  Monte Carlo ELBO (log p(y, z) - log q(z) at z = loc + scale * eps), its gradient by
  ``jax.value_and_grad``, and Adam written out (a handful of lines, the same update as
  ``optax.adam`` / ``numpyro.optim.Adam``: the handcoded floor uses no optimizer library);
  one ``jax.jit`` of a ``lax.scan`` over the steps.

JAX runs in its default precision (float32); quality numbers are recomputed in float64.
"""

from __future__ import annotations

import math
from typing import Any, Dict

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.special import logsumexp
from jax.scipy.stats import norm

import common
import jax_common

NAME = "handcoded_jax"


def version() -> str:
    return jax.__version__


# --------------------------------------------------------------------------------------
# Polynomial regression
# --------------------------------------------------------------------------------------

def polynomial_is(args, hyper) -> Dict[str, Any]:
    d = common.load_polynomial(args, hyper)
    x, y = jnp.asarray(d.x, jnp.float32), jnp.asarray(d.y, jnp.float32)
    prior_sd, noise_sd, n_particles = d.prior_sd, d.noise_sd, args.n_particles

    def one_particle(key):
        coeffs = prior_sd * jax.random.normal(key, (3,))
        mu = coeffs[0] + coeffs[1] * x + coeffs[2] * x * x
        return coeffs, jnp.sum(norm.logpdf(y, mu, noise_sd))

    return jax_common.is_result(args, jax_common.vmap_is(one_particle, n_particles), [jax_common.dtype_note()])


def make_hmc(log_joint, dim: int, n_warmup: int, n_samples: int, step_size: float, n_leapfrog: int):
    """Static-trajectory HMC as one jitted function of the random key.

    Returns ``infer(key) -> (kept samples (S, dim), accept prob (S,), divergent (S,))``.
    """
    value_and_grad = jax.value_and_grad(log_joint)
    eps = step_size

    def leapfrog(carry, _):
        q, p, g = carry  # g = grad log_joint(q)
        p = p + 0.5 * eps * g
        q = q + eps * p
        _, g = value_and_grad(q)
        p = p + 0.5 * eps * g
        return (q, p, g), None

    def hmc_step(state, key):
        q, lp, g = state
        k_mom, k_acc = jax.random.split(key)
        p0 = jax.random.normal(k_mom, (dim,))
        (q1, p1, _), _ = lax.scan(leapfrog, (q, p0, g), None, length=n_leapfrog)
        lp1, g1 = value_and_grad(q1)
        # log acceptance ratio = -(H1 - H0), H = -log_joint + |p|^2 / 2
        log_ratio = (lp1 - 0.5 * p1 @ p1) - (lp - 0.5 * p0 @ p0)
        log_ratio = jnp.where(jnp.isfinite(log_ratio), log_ratio, -jnp.inf)
        accept_prob = jnp.minimum(1.0, jnp.exp(log_ratio))
        divergent = -log_ratio > 1000.0  # Stan's threshold on the energy error (also catches non-finite)
        accept = jnp.log(jax.random.uniform(k_acc)) < log_ratio
        new_state = (jnp.where(accept, q1, q), jnp.where(accept, lp1, lp), jnp.where(accept, g1, g))
        return new_state, (new_state[0], accept_prob, divergent)

    @jax.jit
    def infer(key):
        q0 = jnp.zeros((dim,))
        lp0, g0 = value_and_grad(q0)
        keys = jax.random.split(key, n_warmup + n_samples)
        _, (qs, acc, div) = lax.scan(hmc_step, (q0, lp0, g0), keys)
        return qs[n_warmup:], acc[n_warmup:], div[n_warmup:]

    return infer


def polynomial_log_joint(args, hyper):
    """log p(a, b, c, y) of the polynomial model on the run's data set, in float32."""
    d = common.load_polynomial(args, hyper)
    x, y = jnp.asarray(d.x, jnp.float32), jnp.asarray(d.y, jnp.float32)
    prior_sd, noise_sd = d.prior_sd, d.noise_sd

    def log_joint(q):
        mu = q[0] + q[1] * x + q[2] * x * x
        return jnp.sum(norm.logpdf(q, 0.0, prior_sd)) + jnp.sum(norm.logpdf(y, mu, noise_sd))

    return log_joint


def polynomial_hmc(args, hyper) -> Dict[str, Any]:
    log_joint = polynomial_log_joint(args, hyper)
    infer = make_hmc(log_joint, 3, args.n_warmup, args.n_samples, args.step_size, args.n_leapfrog)
    return jax_common.hmc_result(args, infer, [
        jax_common.dtype_note(), "gradient by jax.grad; acceptance_rate = mean Metropolis acceptance probability",
        common.MCMC_ESS_NOTE])


def adam(lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
    """Adam (Kingma and Ba 2015) with bias correction, eps added to sqrt(v_hat): the update of
    optax.adam and numpyro.optim.Adam.  Returns ``(init(params), update(grad, state))``; the
    update descends (it minimizes)."""
    def init(params):
        return params, jnp.zeros_like(params), jnp.zeros_like(params), jnp.zeros((), jnp.int32)

    def update(g, state):
        params, m, v, t = state
        t = t + 1
        m = b1 * m + (1.0 - b1) * g
        v = b2 * v + (1.0 - b2) * g * g
        m_hat = m / (1.0 - b1 ** t.astype(m.dtype))
        v_hat = v / (1.0 - b2 ** t.astype(m.dtype))
        return params - lr * m_hat / (jnp.sqrt(v_hat) + eps), m, v, t

    return init, update


def make_meanfield_vi(log_joint, dim: int, n_steps: int, n_elbo_samples: int, lr: float):
    """Mean-field normal VI as one jitted function of the random key.

    The guide's parameters are one (2, dim) array, rows loc and raw (scale = softplus(raw)),
    started at loc 0, scale 1.  Each step draws eps (K, dim), forms z = loc + scale * eps and
    takes the gradient of -mean_k[log_joint(z_k) - log q(z_k)] (the Monte Carlo log q).
    Returns ``infer(key) -> (loc, scale, per-step ELBO estimates)``.
    """
    init, update = adam(lr)

    def neg_elbo(params, eps):
        loc, scale = params[0], jax.nn.softplus(params[1])
        z = loc + scale * eps
        log_q = jnp.sum(norm.logpdf(z, loc, scale), axis=-1)
        return -jnp.mean(jax.vmap(log_joint)(z) - log_q)

    value_and_grad = jax.value_and_grad(neg_elbo)

    def step(state, key):
        loss, g = value_and_grad(state[0], jax.random.normal(key, (n_elbo_samples, dim)))
        return update(g, state), -loss

    @jax.jit
    def infer(key):
        params0 = jnp.stack([jnp.full((dim,), common.VI_INIT_LOC, jnp.float32),
                             jnp.full((dim,), common.VI_INIT_RAW_SCALE, jnp.float32)])
        (params, _, _, _), elbos = lax.scan(step, init(params0), jax.random.split(key, n_steps))
        return params[0], jax.nn.softplus(params[1]), elbos

    return infer


def polynomial_vi(args, hyper) -> Dict[str, Any]:
    log_joint = polynomial_log_joint(args, hyper)
    infer = make_meanfield_vi(log_joint, 3, args.n_steps, args.n_elbo_samples, args.learning_rate)
    return jax_common.vi_result(args, infer, [
        jax_common.dtype_note(),
        f"mean-field normal guide (scale = softplus(raw)), loc 0 / scale 1 start; {args.n_steps} Adam "
        f"steps (written out) on the {args.n_elbo_samples}-sample reparameterized ELBO, gradient by "
        "jax.value_and_grad; one jit of lax.scan over the steps", common.VI_ELBO_NOTE])


# --------------------------------------------------------------------------------------
# Beta-Bernoulli
# --------------------------------------------------------------------------------------

def beta_bernoulli_is(args, hyper) -> Dict[str, Any]:
    d = common.load_beta_bernoulli(args, hyper)
    y = jnp.asarray(d.y, jnp.float32)
    alpha, beta, n_particles = d.alpha, d.beta, args.n_particles

    def one_particle(key):
        p = jax.random.beta(key, alpha, beta)
        return p, jnp.sum(y * jnp.log(p) + (1.0 - y) * jnp.log1p(-p))

    return jax_common.is_result(args, jax_common.vmap_is(one_particle, n_particles), [jax_common.dtype_note()])


# --------------------------------------------------------------------------------------
# State-space models: bootstrap particle filter
# --------------------------------------------------------------------------------------

def _multinomial_resample(key, log_w, n):
    """n ancestor indices drawn i.i.d. from the normalized weights, by inverse CDF.

    (``jax.random.categorical(key, log_w, shape=(n,))`` would draw n x n Gumbel numbers:
    O(n^2) work per step, 1.7 s per filter at n = 1000; the inverse CDF is O(n log n).)
    """
    cdf = jnp.cumsum(jnp.exp(log_w - jnp.max(log_w)))
    u = jax.random.uniform(key, (n,)) * cdf[-1]
    return jnp.minimum(jnp.searchsorted(cdf, u, side="right"), n - 1)


def make_bootstrap_pf(init_sample, transition_sample, obs_logpdf, ys, n_particles: int):
    """Bootstrap PF as one jitted function of the key: returns (log-ML estimate, final
    particles, final log weights).  Resamples (multinomial) before every step > 0."""
    log_n = math.log(n_particles)

    def step(carry, inp):
        z, log_w, log_ml = carry
        key, y_t = inp
        k_res, k_prop = jax.random.split(key)
        idx = _multinomial_resample(k_res, log_w, n_particles)
        z = transition_sample(k_prop, z[idx])
        log_w = obs_logpdf(z, y_t)
        return (z, log_w, log_ml + logsumexp(log_w) - log_n), None

    @jax.jit
    def infer(key):
        k0, k_rest = jax.random.split(key)
        z0 = init_sample(k0, n_particles)
        log_w0 = obs_logpdf(z0, ys[0])
        keys = jax.random.split(k_rest, ys.shape[0] - 1)
        (z, log_w, log_ml), _ = lax.scan(step, (z0, log_w0, logsumexp(log_w0) - log_n), (keys, ys[1:]))
        return log_ml, z, log_w

    return infer


def _smc_result(args, infer, exact: float) -> Dict[str, Any]:
    return jax_common.smc_result(args, infer, [
        jax_common.dtype_note(), "bootstrap particle filter, multinomial resampling every step; "
        "ess = ESS of the last step's weights", common.exact_log_ml_note(exact)])


def hmm_smc(args, hyper) -> Dict[str, Any]:
    d = common.load_hmm(args, hyper)
    log_init = jnp.log(jnp.asarray(d.initial, jnp.float32))
    log_trans = jnp.log(jnp.asarray(d.transition, jnp.float32))
    log_emis = jnp.log(jnp.asarray(d.emission, jnp.float32))
    ys = jnp.asarray(d.y, jnp.int32)
    infer = make_bootstrap_pf(
        lambda k, n: jax.random.categorical(k, log_init, shape=(n,)),
        lambda k, z: jax.random.categorical(k, log_trans[z]),
        lambda z, y_t: log_emis[z, y_t],
        ys, args.n_particles)
    return _smc_result(args, infer, common.exact_hmm_log_ml(d))


def lgssm_smc(args, hyper) -> Dict[str, Any]:
    d = common.load_lgssm(args, hyper)
    ys = jnp.asarray(d.y, jnp.float32)
    infer = make_bootstrap_pf(
        lambda k, n: d.x1_mean + d.x1_sd * jax.random.normal(k, (n,)),
        lambda k, z: d.a * z + d.q * jax.random.normal(k, z.shape),
        lambda z, y_t: norm.logpdf(y_t, z, d.r),
        ys, args.n_particles)
    return _smc_result(args, infer, common.exact_lgssm_log_ml(d))


# --------------------------------------------------------------------------------------
# State-space models: exact filtering (the log marginal likelihood of the whole series)
# --------------------------------------------------------------------------------------

def hmm_forward_log_ml(ys, log_init, log_trans, log_emis):
    """Forward algorithm in log space: log p(y_1:T) of the discrete HMM, one ``lax.scan``
    (log_alpha_t(j) = log p(y_1:t, z_t = j))."""
    def step(log_alpha, y_t):
        return logsumexp(log_alpha[:, None] + log_trans, axis=0) + log_emis[:, y_t], None

    log_alpha, _ = lax.scan(step, log_init + log_emis[:, ys[0]], ys[1:])
    return logsumexp(log_alpha)


def kalman_log_ml(ys, a, q, r, x1_mean, x1_sd):
    """Kalman filter: log p(y_1:T) of the LGSSM as the sum of the innovations' log densities,
    one ``lax.scan`` carrying the predictive mean and variance of x_t."""
    def step(carry, y_t):
        m, v = carry
        s = v + r * r
        log_p = -0.5 * (jnp.log(2.0 * jnp.pi * s) + (y_t - m) ** 2 / s)
        k = v / s
        m, v = m + k * (y_t - m), (1.0 - k) * v
        return (a * m, a * a * v + q * q), log_p

    _, log_p = lax.scan(step, (x1_mean, x1_sd * x1_sd), ys)
    return jnp.sum(log_p)


def _exact_result(args, infer, inputs, exact: float, what: str) -> Dict[str, Any]:
    """Times ``infer(*inputs)`` (data and parameters are arguments of the jitted function, not
    closed-over constants, so XLA cannot fold the answer at compile time)."""
    t = common.time_calls(lambda i: infer(*inputs), args.repeats, jax_common.materialize)
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.exact_quality(t.last),
            "notes": [jax_common.dtype_note(), f"exact filtering: {what}, one jit of a lax.scan over the time steps; "
                      "data and parameters are arguments of the jitted function", common.exact_log_ml_note(exact)]}


def hmm_exact(args, hyper) -> Dict[str, Any]:
    d = common.load_hmm(args, hyper)
    inputs = (jnp.asarray(d.y, jnp.int32), jnp.log(jnp.asarray(d.initial, jnp.float32)),
              jnp.log(jnp.asarray(d.transition, jnp.float32)), jnp.log(jnp.asarray(d.emission, jnp.float32)))
    return _exact_result(args, jax.jit(hmm_forward_log_ml), inputs, common.exact_hmm_log_ml(d),
                         "forward algorithm in log space")


def lgssm_exact(args, hyper) -> Dict[str, Any]:
    d = common.load_lgssm(args, hyper)
    inputs = (jnp.asarray(d.y, jnp.float32),) + tuple(jnp.float32(v) for v in (d.a, d.q, d.r, d.x1_mean, d.x1_sd))
    return _exact_result(args, jax.jit(kalman_log_ml), inputs, common.exact_lgssm_log_ml(d), "Kalman filter")


RUNNERS = {
    ("polynomial", "is"): polynomial_is,
    ("polynomial", "hmc"): polynomial_hmc,
    ("polynomial", "vi"): polynomial_vi,
    ("beta_bernoulli", "is"): beta_bernoulli_is,
    ("hmm", "smc"): hmm_smc,
    ("lgssm", "smc"): lgssm_smc,
    ("hmm", "exact"): hmm_exact,
    ("lgssm", "exact"): lgssm_exact,
}

"""GenJAX 0.10.3 (the release on PyPI): models as ``@genjax.gen`` functions.

genjax 0.10.3 requires jax < 0.6, so it runs from its own virtualenv (env "genjax",
requirements-genjax.txt), not the "jax" env that NumPyro and handcoded JAX share.

* IS: ``model.importance(key, constraints, args)`` (the generative function interface's
  importance/generate with the prior as internal proposal) under ``jax.vmap`` over particle
  keys, the whole call under ``jax.jit``.  The data vector is one vectorized choice,
  ``genjax.normal.vmap(...)(...) @ "ys"`` (GenJAX's idiom), constrained with ``C["ys"].set(y)``.
* HMC: GenJAX's own ``genjax.inference.requests.HMC(selection, eps, L)`` edit request,
  applied with ``trace.edit`` and accepted/rejected with its returned log ratio, iterated
  by ``lax.scan`` inside ONE ``jax.jit`` that also builds the starting trace (a, b, c = 0).
  Known defect, used as it is: in 0.10.3 the leapfrog scan carries the *initial* gradient
  forward (the carry returns ``gradient`` instead of the freshly computed ``gradients``), so
  the first momentum half-step of every leapfrog step uses the gradient at the trajectory's
  start.  Rows carry the flag ``genjax-0.10.3-hmc-stale-gradient``; with L = 20 this makes
  acceptance collapse at step sizes the correct integrator accepts (e.g. 0.05 at n = 10).

JAX runs in its default precision (float32); quality numbers are recomputed in float64.
"""

from __future__ import annotations

import math
from typing import Any, Dict

import genjax
import jax
import jax.numpy as jnp
import numpy as np
from genjax import ChoiceMapBuilder as C
from genjax import SelectionBuilder as S
from genjax.inference.requests import HMC
from jax import lax
from jax.scipy.special import logsumexp

import common

NAME = "genjax"
STALE_GRADIENT_FLAG = "genjax-0.10.3-hmc-stale-gradient"


def version() -> str:
    return genjax.__version__


def _materialize(out):
    return jax.block_until_ready(out)


def _keys(seed: int):
    base = jax.random.PRNGKey(seed)
    return lambda i: jax.random.fold_in(base, i)


def _dtype_note() -> str:
    return f"genjax {genjax.__version__}, jax {jax.__version__} on {jax.devices()[0].platform}, dtype {jnp.zeros(()).dtype}"


# --------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------

@genjax.gen
def polynomial_model(x, prior_sd, noise_sd):
    a = genjax.normal(0.0, prior_sd) @ "a"
    b = genjax.normal(0.0, prior_sd) @ "b"
    c = genjax.normal(0.0, prior_sd) @ "c"
    mu = a + b * x + c * x * x
    genjax.normal.vmap(in_axes=(0, None))(mu, noise_sd) @ "ys"
    return mu


@genjax.gen
def beta_bernoulli_model(alpha, beta, ones):
    p = genjax.beta(alpha, beta) @ "p"
    # flip is vmapped over a vector argument, so the n observations are one choice "ys".
    genjax.flip.vmap(in_axes=(0,))(p * ones) @ "ys"
    return p


# --------------------------------------------------------------------------------------
# IS
# --------------------------------------------------------------------------------------

def _make_is(model, model_args, constraints, latent_names, n_particles):
    def one_particle(key):
        tr, log_w = model.importance(key, constraints, model_args)
        choices = tr.get_choices()
        return jnp.stack([choices[name] for name in latent_names]), log_w

    @jax.jit
    def infer(key):
        latents, log_w = jax.vmap(one_particle)(jax.random.split(key, n_particles))
        return latents, log_w, logsumexp(log_w) - math.log(n_particles)

    return infer


def _is_result(args, infer) -> Dict[str, Any]:
    key = _keys(args.seed)
    t = common.time_calls(lambda i: infer(key(i)), args.repeats, _materialize)
    latents, log_w, _ = t.last
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.is_quality(np.asarray(log_w), np.asarray(latents)),
            "notes": [_dtype_note()]}


def polynomial_is(args, hyper) -> Dict[str, Any]:
    d = common.load_polynomial(args, hyper)
    x, y = jnp.asarray(d.x, jnp.float32), jnp.asarray(d.y, jnp.float32)
    infer = _make_is(polynomial_model, (x, d.prior_sd, d.noise_sd), C["ys"].set(y), ("a", "b", "c"), args.n_particles)
    return _is_result(args, infer)


def beta_bernoulli_is(args, hyper) -> Dict[str, Any]:
    d = common.load_beta_bernoulli(args, hyper)
    y = jnp.asarray(d.y.astype(bool))
    model_args = (d.alpha, d.beta, jnp.ones(d.y.shape[0], jnp.float32))
    infer = _make_is(beta_bernoulli_model, model_args, C["ys"].set(y), ("p",), args.n_particles)
    return _is_result(args, infer)


# --------------------------------------------------------------------------------------
# HMC
# --------------------------------------------------------------------------------------

def polynomial_hmc(args, hyper) -> Dict[str, Any]:
    d = common.load_polynomial(args, hyper)
    x, y = jnp.asarray(d.x, jnp.float32), jnp.asarray(d.y, jnp.float32)
    model_args = (x, d.prior_sd, d.noise_sd)
    n_warmup, n_samples = args.n_warmup, args.n_samples
    selection = S["a"] | S["b"] | S["c"]
    request = HMC(selection, jnp.asarray(args.step_size, jnp.float32), args.n_leapfrog)
    zero = jnp.zeros((), jnp.float32)
    start = C["ys"].set(y).merge(C.kw(a=zero, b=zero, c=zero))

    def mh_step(tr, key):
        k_edit, k_acc = jax.random.split(key)
        proposed, log_alpha, _, _ = tr.edit(k_edit, request)
        log_alpha = jnp.where(jnp.isnan(log_alpha), -jnp.inf, log_alpha)
        accept = jnp.log(jax.random.uniform(k_acc)) < log_alpha
        tr = jax.tree_util.tree_map(lambda new, old: jnp.where(accept, new, old), proposed, tr)
        ch = tr.get_choices()
        return tr, (jnp.stack([ch["a"], ch["b"], ch["c"]]),
                    jnp.minimum(1.0, jnp.exp(log_alpha)),
                    -log_alpha > 1000.0)  # same divergence threshold as the other rows

    @jax.jit
    def infer(key):
        k_init, k_run = jax.random.split(key)
        # All latents constrained: the starting trace is exactly (0, 0, 0).
        tr0, _ = polynomial_model.importance(k_init, start, model_args)
        _, (zs, acc, div) = lax.scan(mh_step, tr0, jax.random.split(k_run, n_warmup + n_samples))
        return zs[n_warmup:], acc[n_warmup:], div[n_warmup:]

    key = _keys(args.seed)
    t = common.time_calls(lambda i: infer(key(i)), args.repeats, _materialize)
    zs, acc, div = (np.asarray(a) for a in t.last)
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.hmc_quality(zs, acc, int(div.sum())),
            "notes": [_dtype_note(), "genjax.inference.requests.HMC via trace.edit + MH accept, lax.scan in one jit",
                      "acceptance_rate = mean Metropolis acceptance probability (from HMC's returned log ratio)",
                      "genjax 0.10.3 HMC reuses the trajectory's initial gradient in every leapfrog step "
                      "(not a correct HMC integrator; used as shipped)", common.MCMC_ESS_NOTE],
            "flags": [STALE_GRADIENT_FLAG]}


RUNNERS = {
    ("polynomial", "is"): polynomial_is,
    ("polynomial", "hmc"): polynomial_hmc,
    ("beta_bernoulli", "is"): beta_bernoulli_is,
}

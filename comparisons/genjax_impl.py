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
* VI: GenJAX's own VI stack: the ELBO loss term of ``genjax.vi.ELBO`` (``Importance(target,
  guide).estimate_normalizing_constant`` under ``genjax.adev.expectation``), its ADEV
  gradient estimate, and the reparameterized ADEV primitive
  ``genjax.adev.mv_normal_diag_reparam`` in the guide; Adam is written out (optax is not in
  the genjax env; the same few lines as the handcoded JAX row, ``handcoded_jax.adam``); one
  ``jax.jit`` of a ``lax.scan`` over the steps.  Two defects of 0.10.3 rule out the textbook
  guide (``@genjax.marginal()`` over a ``@genjax.gen`` function with one
  ``genjax.vi.normal_reparam`` per latent); both were measured, see PROTOCOL.md:
  ``Marginal.random_weighted`` returns ``trace.project(~selection)`` as the guide's log
  density, which is 0 for the default ``Selection.all()``, so the ELBO loses its log q term;
  and ADEV's ``TailCallADEVPrimitive.jvp_estimate`` hands its continuation the same key it
  used, so every ``normal_reparam`` after the first draws the same eps (a, b and c move
  together).  The guide is therefore one ``genjax.exact_density`` whose value is the choice
  map {a, b, c}: one ``mv_normal_diag_reparam`` draw (one key), and its exact log density.

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
from genjax.adev import expectation, mv_normal_diag_reparam, sample_primitive
from genjax.inference import Target
from genjax.inference.requests import HMC
from genjax.inference.smc import Importance
from genjax._src.adev.core import invoke_closed_over  # what Expectation.grad_estimate differentiates
from jax import lax
from jax.scipy.special import logsumexp
from jax.scipy.stats import norm

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


# --------------------------------------------------------------------------------------
# VI
# --------------------------------------------------------------------------------------

@genjax.gen
def polynomial_vi_model(x, prior_sd, noise_sd, guide_params):
    """``polynomial_model`` with the guide's parameters as one more (unused) argument: GenJAX's
    ELBO hands the guide nothing but the ``Target``, so the parameters travel in its arguments."""
    a = genjax.normal(0.0, prior_sd) @ "a"
    b = genjax.normal(0.0, prior_sd) @ "b"
    c = genjax.normal(0.0, prior_sd) @ "c"
    mu = a + b * x + c * x * x
    genjax.normal.vmap(in_axes=(0, None))(mu, noise_sd) @ "ys"
    return mu


def _guide_sample(key, target):
    """One reparameterized draw of (a, b, c) from the mean-field normal, as a choice map."""
    loc, raw = target.args[-1]
    z = sample_primitive(mv_normal_diag_reparam, loc, jax.nn.softplus(raw), key=key)
    return C.kw(a=z[0], b=z[1], c=z[2])


def _guide_logpdf(choices, target):
    loc, raw = target.args[-1]
    z = jnp.stack([choices["a"], choices["b"], choices["c"]])
    return jnp.sum(norm.logpdf(z, loc, jax.nn.softplus(raw)))


# The mean-field guide as a SampleDistribution (a Distribution over choice maps):
# random_weighted returns the draw and its exact log density log q(z).
meanfield_guide = genjax.exact_density(_guide_sample, _guide_logpdf, "meanfield_normal_guide")


def polynomial_vi(args, hyper) -> Dict[str, Any]:
    from handcoded_jax import adam  # the written-out Adam of the handcoded row (no optax here)

    d = common.load_polynomial(args, hyper)
    x, y = jnp.asarray(d.x, jnp.float32), jnp.asarray(d.y, jnp.float32)
    constraints = C["ys"].set(y)
    n_steps, k = args.n_steps, args.n_elbo_samples

    def make_target(params):
        return Target(polynomial_vi_model, (x, d.prior_sd, d.noise_sd, params), constraints)

    def neg_elbo_term(key):
        """genjax.vi.ELBO's loss term, verbatim: -log w of one Importance(target, guide) particle,
        i.e. -(log p(y, z) - log q(z)), as an ADEV expectation."""
        @expectation
        def _loss(params):
            target = make_target(params)
            return -Importance(target, meanfield_guide).estimate_normalizing_constant(key, target)
        return _loss

    def value_and_grad(key, params):
        # genjax.vi.ELBO(...)(key, args) is jax.grad of this same call; value_and_grad keeps the
        # estimate it computes on the way, so the ELBO history costs nothing extra.
        loss, (g,) = jax.value_and_grad(lambda a: invoke_closed_over(neg_elbo_term(key), key, a))((params,))
        return loss, g

    # Untimed check that this is genjax.vi.ELBO's gradient estimate, key for key.
    elbo_grad = genjax.vi.ELBO(meanfield_guide, make_target)
    probe = jnp.stack([jnp.array([0.1, -0.2, 0.3]), jnp.array([0.5, -0.3, 0.2])]).astype(jnp.float32)
    probe_key = jax.random.PRNGKey(args.seed)
    (g_lib,) = jax.jit(elbo_grad)(probe_key, (probe,))
    _, g_ours = jax.jit(value_and_grad)(probe_key, probe)
    if not np.allclose(np.asarray(g_lib), np.asarray(g_ours), rtol=1e-5, atol=1e-5):
        raise RuntimeError(f"value_and_grad of the ELBO term differs from genjax.vi.ELBO: {g_ours} vs {g_lib}")

    init, update = adam(args.learning_rate)

    def step(state, key):
        losses, grads = jax.vmap(value_and_grad, in_axes=(0, None))(jax.random.split(key, k), state[0])
        return update(jnp.mean(grads, axis=0), state), -jnp.mean(losses)

    @jax.jit
    def infer(key):
        params0 = jnp.stack([jnp.full((3,), common.VI_INIT_LOC, jnp.float32),
                             jnp.full((3,), common.VI_INIT_RAW_SCALE, jnp.float32)])
        (params, _, _, _), elbos = lax.scan(step, init(params0), jax.random.split(key, n_steps))
        return params[0], jax.nn.softplus(params[1]), elbos

    key = _keys(args.seed)
    t = common.time_calls(lambda i: infer(key(i)), args.repeats, _materialize)
    loc, scale, elbos = (np.asarray(a) for a in t.last)
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.vi_quality(loc, scale, elbos),
            "notes": [_dtype_note(),
                      f"genjax.vi.ELBO's loss term (Importance(target, guide).estimate_normalizing_constant under "
                      f"genjax.adev.expectation) with its ADEV gradient (value kept via jax.value_and_grad; checked "
                      f"equal to genjax.vi.ELBO's gradient), vmapped over K = {k} keys and averaged; "
                      f"{n_steps} Adam steps written out (optax absent); one jit of lax.scan over the steps",
                      "guide: genjax.exact_density drawing (a, b, c) with one genjax.adev.mv_normal_diag_reparam "
                      "(loc, softplus(raw)), log q exact; not @genjax.marginal + genjax.vi.normal_reparam per latent, "
                      "which in 0.10.3 drops log q (Marginal.random_weighted weight 0) and reuses one eps for every "
                      "latent (ADEV passes the same key on); see PROTOCOL.md",
                      common.VI_ELBO_NOTE]}


RUNNERS = {
    ("polynomial", "is"): polynomial_is,
    ("polynomial", "hmc"): polynomial_hmc,
    ("polynomial", "vi"): polynomial_vi,
    ("beta_bernoulli", "is"): beta_bernoulli_is,
}

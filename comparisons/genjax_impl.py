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
* HMC over assess (framework ``genjax_manual_hmc``, module genjax_manual_hmc.py): the HMC a
  GenJAX 0.10.3 user writes around that defect.  The model is the same ``polynomial_model``;
  the log density of the selected choices (a, b, c) is ``polynomial_model.assess`` of the
  choice map {a, b, c} (from the latent vector) merged with the observations {"ys": y}; the
  leapfrog runs on ``jax.value_and_grad`` of that, written out as in the handcoded JAX row
  (``handcoded_jax.make_hmc``: fresh gradient every leapfrog step, unit mass, MH accept on the
  total energy, from zeros), the whole warm-up + kept run one ``jax.jit`` of ``lax.scan``.
  No flag: it is a correct HMC kernel.
* SMC (hmm, lgssm): a bootstrap particle filter over GenJAX generative functions.  The
  per-step model (transition, then observation) is a ``@genjax.gen`` function of the previous
  state; particles are extended by ``jax.vmap`` of its ``importance`` constrained on the
  step's observation (the internal proposal for the unconstrained state is the transition,
  so the weight is exactly the observation density; checked once, untimed, per run); the
  first step is ``genjax.inference.smc.ImportanceK`` on a ``Target`` of the initial-step model
  (the one part of ``genjax.inference.smc`` that fits: its ``ImportanceK`` shares one target,
  so its particles cannot carry their own previous state, and the module has no resampling).
  Multinomial resampling by inverse CDF before every step after the first (the handcoded JAX
  row's ``_multinomial_resample``), ``lax.scan`` over time, all in one ``jax.jit``.
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
from genjax.inference.smc import Importance, ImportanceK
from genjax._src.adev.core import invoke_closed_over  # what Expectation.grad_estimate differentiates
from jax import lax
from jax.scipy.special import logsumexp
from jax.scipy.stats import norm

import common
import jax_common

NAME = "genjax"
MANUAL_HMC_NAME = "genjax_manual_hmc"  # the second framework of this module (genjax_manual_hmc.py)
STALE_GRADIENT_FLAG = "genjax-0.10.3-hmc-stale-gradient"


def version() -> str:
    return genjax.__version__


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

    return jax_common.vmap_is(one_particle, n_particles)


def polynomial_is(args, hyper) -> Dict[str, Any]:
    d = common.load_polynomial(args, hyper)
    x, y = jnp.asarray(d.x, jnp.float32), jnp.asarray(d.y, jnp.float32)
    infer = _make_is(polynomial_model, (x, d.prior_sd, d.noise_sd), C["ys"].set(y), ("a", "b", "c"), args.n_particles)
    return jax_common.is_result(args, infer, [jax_common.dtype_note(genjax)])


def beta_bernoulli_is(args, hyper) -> Dict[str, Any]:
    d = common.load_beta_bernoulli(args, hyper)
    y = jnp.asarray(d.y.astype(bool))
    model_args = (d.alpha, d.beta, jnp.ones(d.y.shape[0], jnp.float32))
    infer = _make_is(beta_bernoulli_model, model_args, C["ys"].set(y), ("p",), args.n_particles)
    return jax_common.is_result(args, infer, [jax_common.dtype_note(genjax)])


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

    out = jax_common.hmc_result(args, infer, [
        jax_common.dtype_note(genjax), "genjax.inference.requests.HMC via trace.edit + MH accept, lax.scan in one jit",
        "acceptance_rate = mean Metropolis acceptance probability (from HMC's returned log ratio)",
        "genjax 0.10.3 HMC reuses the trajectory's initial gradient in every leapfrog step "
        "(not a correct HMC integrator; used as shipped)", common.MCMC_ESS_NOTE])
    return {**out, "flags": [STALE_GRADIENT_FLAG]}


def polynomial_assess_log_density(args, hyper):
    """log p(a, b, c, ys = y) as GenJAX computes it: ``polynomial_model.assess`` of the choice
    map built from the latent vector q = (a, b, c) merged with the observations."""
    d = common.load_polynomial(args, hyper)
    x, y = jnp.asarray(d.x, jnp.float32), jnp.asarray(d.y, jnp.float32)
    model_args = (x, d.prior_sd, d.noise_sd)
    observations = C["ys"].set(y)

    def log_density(q):
        score, _ = polynomial_model.assess(observations.merge(C.kw(a=q[0], b=q[1], c=q[2])), model_args)
        return score

    return log_density


def polynomial_manual_hmc(args, hyper) -> Dict[str, Any]:
    """Fixed-step HMC written around genjax 0.10.3's stale-gradient HMC: leapfrog over
    ``jax.value_and_grad`` of the model's ``assess`` (see the module docstring)."""
    from handcoded_jax import make_hmc  # the handcoded row's leapfrog + MH loop (plain jax)

    log_density = polynomial_assess_log_density(args, hyper)
    infer = make_hmc(log_density, 3, args.n_warmup, args.n_samples, args.step_size, args.n_leapfrog)
    return jax_common.hmc_result(args, infer, [
        jax_common.dtype_note(genjax),
        "hand-written HMC over GenJAX's assess (genjax 0.10.3's own HMC has the stale-gradient "
        "defect): log density of (a, b, c) = polynomial_model.assess(C.kw(a, b, c) merged with "
        "C['ys'].set(y)), gradient by jax.value_and_grad; leapfrog with a fresh gradient every "
        "step, unit mass, MH accept on the total energy (handcoded_jax.make_hmc); warm-up + kept "
        "samples from zeros in one jit of lax.scan",
        "acceptance_rate = mean Metropolis acceptance probability min(1, exp(-dH))",
        common.MCMC_ESS_NOTE])


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

    return jax_common.vi_result(args, infer, [
        jax_common.dtype_note(genjax),
        f"genjax.vi.ELBO's loss term (Importance(target, guide).estimate_normalizing_constant under "
        f"genjax.adev.expectation) with its ADEV gradient (value kept via jax.value_and_grad; checked "
        f"equal to genjax.vi.ELBO's gradient), vmapped over K = {k} keys and averaged; "
        f"{n_steps} Adam steps written out (optax absent); one jit of lax.scan over the steps",
        "guide: genjax.exact_density drawing (a, b, c) with one genjax.adev.mv_normal_diag_reparam "
        "(loc, softplus(raw)), log q exact; not @genjax.marginal + genjax.vi.normal_reparam per latent, "
        "which in 0.10.3 drops log q (Marginal.random_weighted weight 0) and reuses one eps for every "
        "latent (ADEV passes the same key on); see PROTOCOL.md",
        common.VI_ELBO_NOTE])


# --------------------------------------------------------------------------------------
# State-space models: bootstrap particle filter over GenJAX generative functions
# --------------------------------------------------------------------------------------

@genjax.gen
def hmm_init(log_initial, log_emission):
    """Time step 1 of the discrete HMM: z_1 ~ Categorical(initial), y_1 ~ Categorical(emission[z_1])."""
    z = genjax.categorical(log_initial) @ "z"
    genjax.categorical(log_emission[z]) @ "y"
    return z


@genjax.gen
def hmm_step(z_prev, log_transition, log_emission):
    """One later step: z_t ~ Categorical(transition[z_{t-1}]), y_t ~ Categorical(emission[z_t])."""
    z = genjax.categorical(log_transition[z_prev]) @ "z"
    genjax.categorical(log_emission[z]) @ "y"
    return z


@genjax.gen
def lgssm_init(x1_mean, x1_sd, r):
    """Time step 1 of the LGSSM: x_1 ~ N(x1_mean, x1_sd^2), y_1 ~ N(x_1, r^2)."""
    z = genjax.normal(x1_mean, x1_sd) @ "z"
    genjax.normal(z, r) @ "y"
    return z


@genjax.gen
def lgssm_step(z_prev, a, q, r):
    """One later step: x_t ~ N(a x_{t-1}, q^2), y_t ~ N(x_t, r^2)."""
    z = genjax.normal(a * z_prev, q) @ "z"
    genjax.normal(z, r) @ "y"
    return z


def make_genjax_bootstrap_pf(init_model, init_args, step_model, step_params, ys, n_particles: int):
    """Bootstrap PF as one jitted function of the key -> (log-ML estimate, final states, final
    log weights), the handcoded JAX filter's structure with GenJAX doing the model work:

    * step 1: ``ImportanceK(Target(init_model, init_args, {"y": y_1}), k_particles=N).run_smc``
      (the prior is the internal proposal for "z", so the weights are log p(y_1 | z_1));
    * step t > 1: multinomial resampling (inverse CDF), then ``jax.vmap`` over particles of
      ``step_model.importance(key, {"y": y_t}, (z_prev, *step_params))``: "z" is drawn from the
      transition, the weight is log p(y_t | z_t);
    * log_ml accumulates logsumexp(log w_t) - log N at every step (weights are uniform after
      resampling), as in handcoded_jax.make_bootstrap_pf.
    """
    from handcoded_jax import _multinomial_resample  # the handcoded row's resampler (plain jax)

    log_n = math.log(n_particles)
    extend = jax.vmap(step_model.importance, in_axes=(0, None, (0,) + (None,) * len(step_params)))

    def step(carry, inp):
        z, log_w, log_ml = carry
        key, y_t = inp
        k_res, k_prop = jax.random.split(key)
        idx = _multinomial_resample(k_res, log_w, n_particles)
        tr, log_w = extend(jax.random.split(k_prop, n_particles), C["y"].set(y_t), (z[idx], *step_params))
        z = tr.get_choices()["z"]
        return (z, log_w, log_ml + logsumexp(log_w) - log_n), None

    @jax.jit
    def infer(key):
        k0, k_rest = jax.random.split(key)
        first = ImportanceK(Target(init_model, init_args, C["y"].set(ys[0])), k_particles=n_particles).run_smc(k0)
        z0, log_w0 = first.get_particles().get_choices()["z"], first.get_log_weights()
        keys = jax.random.split(k_rest, ys.shape[0] - 1)
        (z, log_w, log_ml), _ = lax.scan(step, (z0, log_w0, logsumexp(log_w0) - log_n), (keys, ys[1:]))
        return log_ml, z, log_w

    return infer


def _check_step_weights(step_model, step_params, z_prev, y_t, obs_logpdf) -> None:
    """Untimed: importance of the step model constrained on y_t weighs each particle by exactly
    the observation density of the state it drew (a bootstrap proposal)."""
    n = z_prev.shape[0]
    tr, w = jax.jit(jax.vmap(step_model.importance, in_axes=(0, None, (0,) + (None,) * len(step_params))))(
        jax.random.split(jax.random.PRNGKey(12345), n), C["y"].set(y_t), (z_prev, *step_params))
    expected = obs_logpdf(tr.get_choices()["z"], y_t)
    if not np.allclose(np.asarray(w), np.asarray(expected), rtol=1e-5, atol=1e-5):
        raise RuntimeError(f"{step_model} importance weight is not the observation density: {w} vs {expected}")


SMC_NOTE = ("bootstrap particle filter over @genjax.gen step functions: step 1 by genjax.inference.smc.ImportanceK "
            "on a Target of the initial-step model, later steps by jax.vmap of the step model's importance "
            "constrained on y_t (weight = observation density, checked); multinomial resampling (inverse CDF) "
            "every step; lax.scan over time in one jit; ess = ESS of the last step's weights")


def _smc_result(args, infer, exact: float) -> Dict[str, Any]:
    return jax_common.smc_result(args, infer, [jax_common.dtype_note(genjax), SMC_NOTE, common.exact_log_ml_note(exact)])


def hmm_smc(args, hyper) -> Dict[str, Any]:
    d = common.load_hmm(args, hyper)
    log_init = jnp.log(jnp.asarray(d.initial, jnp.float32))
    log_trans = jnp.log(jnp.asarray(d.transition, jnp.float32))
    log_emis = jnp.log(jnp.asarray(d.emission, jnp.float32))
    ys = jnp.asarray(d.y, jnp.int32)
    _check_step_weights(hmm_step, (log_trans, log_emis), jnp.arange(8, dtype=jnp.int32) % log_trans.shape[0], ys[1],
                        lambda z, y_t: log_emis[z, y_t])
    infer = make_genjax_bootstrap_pf(hmm_init, (log_init, log_emis), hmm_step, (log_trans, log_emis), ys,
                                     args.n_particles)
    return _smc_result(args, infer, common.exact_hmm_log_ml(d))


def lgssm_smc(args, hyper) -> Dict[str, Any]:
    d = common.load_lgssm(args, hyper)
    ys = jnp.asarray(d.y, jnp.float32)
    _check_step_weights(lgssm_step, (d.a, d.q, d.r), jnp.linspace(-2.0, 2.0, 8, dtype=jnp.float32), ys[1],
                        lambda z, y_t: norm.logpdf(y_t, z, d.r))
    infer = make_genjax_bootstrap_pf(lgssm_init, (d.x1_mean, d.x1_sd, d.r), lgssm_step, (d.a, d.q, d.r), ys,
                                     args.n_particles)
    return _smc_result(args, infer, common.exact_lgssm_log_ml(d))


RUNNERS = {
    ("polynomial", "is"): polynomial_is,
    ("polynomial", "hmc"): polynomial_hmc,
    ("polynomial", "vi"): polynomial_vi,
    ("beta_bernoulli", "is"): beta_bernoulli_is,
    ("hmm", "smc"): hmm_smc,
    ("lgssm", "smc"): lgssm_smc,
}

# The second framework, genjax_manual_hmc (run.py --framework genjax_manual_hmc imports
# genjax_manual_hmc.py, which re-exports these).
MANUAL_HMC_RUNNERS = {
    ("polynomial", "hmc"): polynomial_manual_hmc,
}

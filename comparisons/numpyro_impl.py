"""NumPyro: the models written as NumPyro programs, inference through NumPyro's own machinery.

* IS (likelihood weighting with the prior as proposal): one particle is
  ``handlers.trace(handlers.seed(handlers.condition(model, data), key))``; its log weight
  is the log density of the conditioned (observed) sites.  ``jax.vmap`` over particle
  keys, the whole call under ``jax.jit``.
* HMC: NumPyro's ``HMC`` kernel with ``step_size`` fixed, ``num_steps=20`` **and**
  ``trajectory_length=None`` (with the default ``trajectory_length=2*pi`` NumPyro silently
  replaces the step by ``2*pi/num_steps``), ``adapt_step_size=False``,
  ``adapt_mass_matrix=False``, identity mass matrix, start at zeros (``init_to_value``).
  ``kernel.init`` runs once (set-up, not timed: it traces the model and builds the
  potential); each timed call is ONE jitted ``lax.scan`` of ``kernel.sample`` over
  warm-up + kept iterations from that initial state with a fresh random key.  The row's
  notes also report what ``MCMC.run`` costs per call, because it recompiles every call.

JAX runs in its default precision (float32); quality numbers are recomputed in float64.
"""

from __future__ import annotations

import math
import time
from typing import Any, Dict

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import lax
from jax.scipy.special import logsumexp
from numpyro import handlers
from numpyro.infer import HMC, MCMC, init_to_value

import common

NAME = "numpyro"


def version() -> str:
    return numpyro.__version__


def _materialize(out):
    return jax.block_until_ready(out)


def _keys(seed: int):
    base = jax.random.PRNGKey(seed)
    return lambda i: jax.random.fold_in(base, i)


def _dtype_note() -> str:
    return f"numpyro {numpyro.__version__}, jax {jax.__version__} on {jax.devices()[0].platform}, dtype {jnp.zeros(()).dtype}"


# --------------------------------------------------------------------------------------
# Models (the observation site is left unobserved here and conditioned by a handler)
# --------------------------------------------------------------------------------------

def polynomial_model(x, prior_sd, noise_sd):
    a = numpyro.sample("a", dist.Normal(0.0, prior_sd))
    b = numpyro.sample("b", dist.Normal(0.0, prior_sd))
    c = numpyro.sample("c", dist.Normal(0.0, prior_sd))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("y", dist.Normal(a + b * x + c * x * x, noise_sd))


def beta_bernoulli_model(n, alpha, beta):
    p = numpyro.sample("p", dist.Beta(alpha, beta))
    with numpyro.plate("data", n):
        numpyro.sample("y", dist.Bernoulli(probs=p))


def _observed_log_density(tr) -> jnp.ndarray:
    """Sum of log densities of the observed sites of a trace: the IS log weight when the
    latents were drawn from the prior."""
    total = 0.0
    for site in tr.values():
        if site["type"] == "sample" and site["is_observed"]:
            total = total + jnp.sum(site["fn"].log_prob(site["value"]))
    return total


def _make_is(model, model_args, data, latent_names, n_particles):
    conditioned = handlers.condition(model, data=data)

    def one_particle(key):
        tr = handlers.trace(handlers.seed(conditioned, key)).get_trace(*model_args)
        latents = jnp.stack([tr[name]["value"] for name in latent_names])
        return latents, _observed_log_density(tr)

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
    infer = _make_is(polynomial_model, (x, d.prior_sd, d.noise_sd), {"y": y}, ("a", "b", "c"), args.n_particles)
    return _is_result(args, infer)


def beta_bernoulli_is(args, hyper) -> Dict[str, Any]:
    d = common.load_beta_bernoulli(args, hyper)
    y = jnp.asarray(d.y, jnp.float32)
    infer = _make_is(beta_bernoulli_model, (d.y.shape[0], d.alpha, d.beta), {"y": y}, ("p",), args.n_particles)
    return _is_result(args, infer)


# --------------------------------------------------------------------------------------
# HMC
# --------------------------------------------------------------------------------------

def _observed_polynomial(x, y, prior_sd, noise_sd):
    """The polynomial model with y observed (what NumPyro's MCMC expects)."""
    return handlers.condition(polynomial_model, data={"y": y})(x, prior_sd, noise_sd)


def _kernel(args) -> HMC:
    return HMC(_observed_polynomial,
               step_size=args.step_size,
               num_steps=args.n_leapfrog,
               trajectory_length=None,  # else step_size is silently replaced by 2*pi/num_steps
               adapt_step_size=False,
               adapt_mass_matrix=False,
               dense_mass=False,
               init_strategy=init_to_value(values={"a": 0.0, "b": 0.0, "c": 0.0}))


def polynomial_hmc(args, hyper) -> Dict[str, Any]:
    d = common.load_polynomial(args, hyper)
    x, y = jnp.asarray(d.x, jnp.float32), jnp.asarray(d.y, jnp.float32)
    model_args = (x, y, d.prior_sd, d.noise_sd)
    n_warmup, n_samples = args.n_warmup, args.n_samples
    kernel = _kernel(args)

    t0 = time.perf_counter()
    state0 = jax.block_until_ready(kernel.init(jax.random.PRNGKey(args.seed), n_warmup, model_args=model_args))
    init_s = time.perf_counter() - t0

    def step(state, _):
        state = kernel.sample(state, model_args, {})
        z = jnp.stack([state.z["a"], state.z["b"], state.z["c"]])
        return state, (z, state.accept_prob, state.diverging, state.num_steps, state.adapt_state.step_size)

    @jax.jit
    def infer(key):
        # Same starting point (zeros) for every call; only the random stream changes.
        _, out = lax.scan(step, state0._replace(rng_key=key), None, length=n_warmup + n_samples)
        return jax.tree_util.tree_map(lambda a: a[n_warmup:], out)

    key = _keys(args.seed)
    t = common.time_calls(lambda i: infer(key(i)), args.repeats, _materialize)
    zs, acc, div, num_steps, eps = (np.asarray(a) for a in t.last)

    # Guard against the trajectory_length trap: the kernel must really use our step and count.
    if not (np.all(num_steps == args.n_leapfrog) and np.allclose(eps, args.step_size, rtol=1e-6)):
        raise RuntimeError(f"NumPyro HMC did not use the requested configuration: num_steps {np.unique(num_steps)}, "
                           f"step size {np.unique(eps)} (asked {args.n_leapfrog}, {args.step_size})")

    peak = common.peak_memory_bytes()  # before the extra MCMC.run measurement below
    notes = [_dtype_note(),
             f"kernel.init (set-up, untimed) {init_s:.3f} s; timed call = one jit of lax.scan over kernel.sample",
             "acceptance_rate = mean Metropolis acceptance probability",
             common.MCMC_ESS_NOTE,
             _mcmc_run_cost(args, model_args)]
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.hmc_quality(zs, acc, int(div.sum())), "notes": notes,
            "peak_memory_bytes": peak}


def _mcmc_run_cost(args, model_args) -> str:
    """Time ``MCMC.run`` (the documented entry point) twice on one MCMC object."""
    mcmc = MCMC(_kernel(args), num_warmup=args.n_warmup, num_samples=args.n_samples,
                num_chains=1, progress_bar=False)
    times = []
    for i in range(2):
        t0 = time.perf_counter()
        mcmc.run(jax.random.PRNGKey(args.seed + i), *model_args)
        jax.block_until_ready(mcmc.get_samples())
        times.append(time.perf_counter() - t0)
    return (f"MCMC.run (same configuration, progress_bar=False) per call: first {times[0]:.3f} s, "
            f"second {times[1]:.3f} s (it re-traces/recompiles on every call)")


RUNNERS = {
    ("polynomial", "is"): polynomial_is,
    ("polynomial", "hmc"): polynomial_hmc,
    ("beta_bernoulli", "is"): beta_bernoulli_is,
}

"""What the JAX-based runners share (handcoded_jax.py, numpyro_impl.py, genjax_impl.py).

The random key of each timed call, how a call's result is waited for, the dtype note, and the
assembly of a row's partial result from a jitted ``infer(key)``: the same logic in every JAX
row, so the rows differ only in their inference code.

It runs in both JAX virtualenvs (env "jax": jax 0.10; env "genjax": jax 0.5, which genjax
0.10.3 needs), so it uses only JAX API that both versions have.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

import common


def materialize(out):
    """Blocks until every array of ``out`` is computed and returns it (``common.time_calls``'
    ``materialize``)."""
    return jax.block_until_ready(out)


def keys(seed: int) -> Callable[[int], Any]:
    """The key of timing call ``i`` (0 = the compiling call): ``fold_in(PRNGKey(seed), i)``."""
    base = jax.random.PRNGKey(seed)
    return lambda i: jax.random.fold_in(base, i)


def dtype_note(library: Optional[Any] = None) -> str:
    """The row's first note: the PPL's version (``library``, a module, when there is one), the
    JAX version, platform and default dtype."""
    prefix = f"{library.__name__} {library.__version__}, " if library is not None else ""
    return f"{prefix}jax {jax.__version__} on {jax.devices()[0].platform}, dtype {jnp.zeros(()).dtype}"


def time_keyed(infer: Callable[[Any], Any], args) -> common.Timing:
    """Times ``infer(key)`` under the timing protocol with a fresh key per call (``keys``)."""
    key = keys(args.seed)
    return common.time_calls(lambda i: infer(key(i)), args.repeats, materialize)


def vmap_is(one_particle: Callable[[Any], Any], n_particles: int):
    """Importance sampling with ``n_particles`` particles as one jitted function of the key:
    ``one_particle(key) -> (latents, log weight)`` under ``jax.vmap`` over split keys.

    Returns ``infer(key) -> (latents (N, ...), log weights (N,), log-ML estimate)``.
    """
    @jax.jit
    def infer(key):
        latents, log_w = jax.vmap(one_particle)(jax.random.split(key, n_particles))
        return latents, log_w, logsumexp(log_w) - math.log(n_particles)

    return infer


def is_result(args, infer, notes: List[str]) -> Dict[str, Any]:
    """The partial result of an IS row: ``infer(key) -> (latents, log weights, log-ML)`` timed
    (``time_keyed``), quality from the last call's particles."""
    t = time_keyed(infer, args)
    latents, log_w, _ = t.last
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.is_quality(np.asarray(log_w), np.asarray(latents)), "notes": notes}


def hmc_result(args, infer, notes: List[str]) -> Dict[str, Any]:
    """The partial result of a static-HMC row: ``infer(key) -> (kept draws, accept prob,
    divergent)`` timed (``time_keyed``), quality from the last call's chain."""
    t = time_keyed(infer, args)
    qs, acc, div = (np.asarray(a) for a in t.last)
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.hmc_quality(qs, acc, int(div.sum())), "notes": notes}


def vi_result(args, infer, notes: List[str]) -> Dict[str, Any]:
    """The partial result of a VI row: ``infer(key) -> (loc, scale, per-step ELBO estimates)``
    timed (``time_keyed``), quality from the last call's fit."""
    t = time_keyed(infer, args)
    loc, scale, elbos = (np.asarray(a) for a in t.last)
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.vi_quality(loc, scale, elbos), "notes": notes}


def smc_result(args, infer, notes: List[str]) -> Dict[str, Any]:
    """The partial result of a particle-filter row: ``infer(key) -> (log-ML estimate, final
    particles, final log weights)`` timed (``time_keyed``), quality from the last call."""
    t = time_keyed(infer, args)
    log_ml, _, log_w = t.last
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.smc_quality(float(log_ml), np.asarray(log_w)), "notes": notes}

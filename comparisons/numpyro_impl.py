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
* NUTS: NumPyro's ``NUTS`` kernel with its own warm-up adaptation and its defaults
  (``target_accept_prob=0.8``, ``max_tree_depth=10``, dual-averaging step size, diagonal
  mass matrix over NumPyro's windowed schedule, ``init_to_uniform`` start).  Each timed call
  is ONE jit containing ``kernel.init`` (initial point, heuristic first step size) and a
  ``lax.scan`` of ``kernel.sample`` over warm-up + kept iterations, with a fresh key, so the
  whole adaptation is timed, as in Stan's and the Rust NUTS rows.  This is the loop
  ``MCMC.run`` itself runs (``sampler.init`` then ``sampler.sample`` per iteration); with the
  same key the draws were checked to agree with ``MCMC.run``'s exactly until float32
  rounding differences between the two compiled programs make the chains drift apart
  (after ~170 warm-up iterations on the n = 100, sd 0.05 data).  ``MCMC.run`` recompiles on
  every call even with ``jit_model_args=True`` (measured once: 10.2 s, then 3.6 s of which
  3.0 s compiling, at n = 100); the HMC row's notes measure it on every run.
  ``--n-chains C > 1``: C independent chains in the same one timed jit, the semantics of
  ``MCMC(NUTS(...), num_chains=C, chain_method="vectorized")``: init + scan under ``jax.vmap``
  over ``random.split(key, C)`` (each chain its own ``init_to_uniform`` point and adaptation).
  Under vmap NUTS's tree-building ``while_loop`` runs until every chain's trajectory is done, so
  each iteration costs the longest trajectory of the batch.
* VI: ``SVI(model, AutoNormal(model, init_loc_fn=init_to_value(a=b=c=0), init_scale=1.0),
  numpyro.optim.Adam(lr), Trace_ELBO(num_particles=K))``.  AutoNormal's scale is
  softplus-constrained (``AutoNormal.scale_constraint``, asserted), so its parameters are the
  protocol's (loc, raw).  Each timed call is ONE jit containing ``svi.init`` and a ``lax.scan``
  of ``svi.update`` over the steps (the loop ``svi.run`` runs), with a fresh key; it is traced
  once and the runner counts XLA compilations during the timed calls.  ``svi.run`` itself
  re-traces on every call; the row's notes time one such call.
* Exact filtering (``--method exact``): log p(y_1:T) of the whole series, as NumPyro's users
  compute it.  NumPyro has no particle filter, no discrete-HMM distribution and no Kalman filter.
  HMM: the model written with ``numpyro.contrib.control_flow.scan`` over the time steps,
  hidden states enumerated (``config_enumerate`` + ``enum``) and summed out by
  ``numpyro.contrib.funsor.log_density`` (funsor's ``sequential_sum_product``: a log-depth
  tree of K x K log-semiring contractions, not the sequential forward recursion).  LGSSM: a
  Kalman filter in ``lax.scan`` (innovation densities from ``dist.Normal``) inside
  ``numpyro.factor``, scored by ``numpyro.infer.util.log_density``: what NumPyro's maintainers
  advise for a custom likelihood (forum.pyro.ai "Kalman Filter in Numpyro").  Each timed call
  is one jit with data and parameters as its arguments; traced once, XLA compilations counted.

JAX runs in its default precision (float32); quality numbers are recomputed in float64.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List

import jax
import jax.monitoring
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import lax
from numpyro import handlers
from numpyro.contrib.control_flow import scan
from numpyro.infer import HMC, MCMC, NUTS, SVI, Trace_ELBO, init_to_value
from numpyro.infer.autoguide import AutoNormal
from numpyro.infer.util import log_density

import common
import jax_common

NAME = "numpyro"


def version() -> str:
    return numpyro.__version__


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

    return jax_common.vmap_is(one_particle, n_particles)


def polynomial_is(args, hyper) -> Dict[str, Any]:
    d = common.load_polynomial(args, hyper)
    x, y = jnp.asarray(d.x, jnp.float32), jnp.asarray(d.y, jnp.float32)
    infer = _make_is(polynomial_model, (x, d.prior_sd, d.noise_sd), {"y": y}, ("a", "b", "c"), args.n_particles)
    return jax_common.is_result(args, infer, [jax_common.dtype_note(numpyro)])


def beta_bernoulli_is(args, hyper) -> Dict[str, Any]:
    d = common.load_beta_bernoulli(args, hyper)
    y = jnp.asarray(d.y, jnp.float32)
    infer = _make_is(beta_bernoulli_model, (d.y.shape[0], d.alpha, d.beta), {"y": y}, ("p",), args.n_particles)
    return jax_common.is_result(args, infer, [jax_common.dtype_note(numpyro)])


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


def _transition(kernel, model_args):
    """The ``lax.scan`` body of the HMC and NUTS rows: one ``kernel.sample`` and what a row
    reports of it (latents, acceptance probability, divergence, leapfrog steps, step size)."""
    def step(state, _):
        state = kernel.sample(state, model_args, {})
        z = jnp.stack([state.z["a"], state.z["b"], state.z["c"]])
        return state, (z, state.accept_prob, state.diverging, state.num_steps, state.adapt_state.step_size)
    return step


def polynomial_hmc(args, hyper) -> Dict[str, Any]:
    if args.n_chains > 1:
        raise common.Unsupported("numpyro runs several chains (--n-chains) for nuts only")
    d = common.load_polynomial(args, hyper)
    x, y = jnp.asarray(d.x, jnp.float32), jnp.asarray(d.y, jnp.float32)
    model_args = (x, y, d.prior_sd, d.noise_sd)
    n_warmup, n_samples = args.n_warmup, args.n_samples
    kernel = _kernel(args)

    t0 = time.perf_counter()
    state0 = jax.block_until_ready(kernel.init(jax.random.PRNGKey(args.seed), n_warmup, model_args=model_args))
    init_s = time.perf_counter() - t0

    step = _transition(kernel, model_args)

    @jax.jit
    def infer(key):
        # Same starting point (zeros) for every call; only the random stream changes.
        _, out = lax.scan(step, state0._replace(rng_key=key), None, length=n_warmup + n_samples)
        return jax.tree_util.tree_map(lambda a: a[n_warmup:], out)

    t = jax_common.time_keyed(infer, args)
    zs, acc, div, num_steps, eps = (np.asarray(a) for a in t.last)

    # Guard against the trajectory_length trap: the kernel must really use our step and count.
    if not (np.all(num_steps == args.n_leapfrog) and np.allclose(eps, args.step_size, rtol=1e-6)):
        raise RuntimeError(f"NumPyro HMC did not use the requested configuration: num_steps {np.unique(num_steps)}, "
                           f"step size {np.unique(eps)} (asked {args.n_leapfrog}, {args.step_size})")

    peak = common.peak_memory_bytes()  # before the extra MCMC.run measurement below
    notes = [jax_common.dtype_note(numpyro),
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


# --------------------------------------------------------------------------------------
# NUTS
# --------------------------------------------------------------------------------------

def _nuts_kernel() -> NUTS:
    """NumPyro's NUTS with its own adaptation; the two settings the protocol names are spelled
    out (they are NumPyro's defaults too), everything else is left at NumPyro's default."""
    return NUTS(_observed_polynomial, target_accept_prob=0.8, max_tree_depth=10,
                adapt_step_size=True, adapt_mass_matrix=True, dense_mass=False)


# Durations of the XLA backend compilations seen since _count_compiles() was first called.
_COMPILES: List[float] = []
_LISTENING = False


def _count_compiles() -> None:
    """Record every XLA backend compilation (jax.monitoring duration events), registering the
    listener once per process, so the notes can count compilations instead of guessing them
    from wall time."""
    global _LISTENING
    if not _LISTENING:
        jax.monitoring.register_event_duration_secs_listener(
            lambda event, duration, **_: _COMPILES.append(duration) if "backend_compile" in event else None)
        _LISTENING = True


def _time_traced_once(infer, traces: List[int], args, what: str):
    """Times ``infer(key(i))`` under the protocol, checks that the jitted function was traced
    once (``traces[0]``, bumped inside it), and returns the timing with the number of XLA
    compilations during the timed calls (0 when nothing recompiles)."""
    key = jax_common.keys(args.seed)
    compiles_before_timed = [0]

    def call(i):
        """Call i of the timing protocol, marking the compile count where timing starts."""
        if i == 1:  # call 0 (compiling) is materialized by now
            compiles_before_timed[0] = len(_COMPILES)
        return infer(key(i))

    t = common.time_calls(call, args.repeats, jax_common.materialize)
    if traces[0] != 1:
        raise RuntimeError(f"{what} was traced {traces[0]} times; timed calls must not recompile")
    return t, len(_COMPILES) - compiles_before_timed[0]


def _nuts_chain(kernel, model_args, n_warmup: int, n_samples: int):
    """One whole NUTS chain as a function of its key: ``kernel.init`` (``init_to_uniform``
    point, heuristic first step size) and a ``lax.scan`` of ``kernel.sample`` over warm-up
    (adaptation) + kept iterations; returns the kept iterations' (latents, accept_prob,
    diverging, num_steps, step_size). Meant to be traced inside a jit (and, for several
    chains, a ``jax.vmap`` over keys)."""
    step = _transition(kernel, model_args)  # adapts while state.i < n_warmup

    def one_chain(key):
        # init inside the jit: the heuristic first step size belongs to the adaptation, and each
        # call draws its own initial point, as a fresh Stan run does.
        state = kernel.init(key, n_warmup, model_args=model_args)
        _, out = lax.scan(step, state, None, length=n_warmup + n_samples)
        return jax.tree_util.tree_map(lambda a: a[n_warmup:], out)

    return one_chain


def vectorized_chains(one_chain, n_chains: int):
    """``n_chains`` independent chains in one batch, as ``MCMC(kernel, num_chains=n_chains,
    chain_method="vectorized").run(key)`` runs them: the key split into one per chain
    (``random.split(key, n_chains)``), then init + every iteration ``jax.vmap``-ed over the
    chains. Each chain keeps its own initial point, step size and mass-matrix adaptation;
    NUTS's tree building (a ``while_loop``) under vmap runs until every chain's trajectory of
    that iteration is finished, so each iteration costs the longest of the batch. Outputs
    have a leading chain axis."""
    def run(key):
        return jax.vmap(one_chain)(jax.random.split(key, n_chains))
    return run


def polynomial_nuts_data(args, hyper):
    """The NUTS row's model arguments (float32, as the row runs them)."""
    d = common.load_polynomial(args, hyper)
    x, y = jnp.asarray(d.x, jnp.float32), jnp.asarray(d.y, jnp.float32)
    return (x, y, d.prior_sd, d.noise_sd)


def polynomial_nuts(args, hyper) -> Dict[str, Any]:
    """Polynomial regression with NumPyro's NUTS, warm-up adaptation inside each timed call;
    ``--n-chains C > 1``: C independent chains vectorized in the same call."""
    model_args = polynomial_nuts_data(args, hyper)
    n_warmup, n_samples, n_chains = args.n_warmup, args.n_samples, args.n_chains
    kernel = _nuts_kernel()
    _count_compiles()
    traces = [0]
    one_chain = _nuts_chain(kernel, model_args, n_warmup, n_samples)
    chains = one_chain if n_chains == 1 else vectorized_chains(one_chain, n_chains)

    @jax.jit
    def infer(key):
        """The whole inference call: initialization, warm-up with adaptation, kept draws
        (of every chain)."""
        traces[0] += 1  # Python side effect: runs only when jit (re)traces
        return chains(key)

    t, timed_compiles = _time_traced_once(infer, traces, args, "the NUTS call")
    zs, acc, div, num_steps, eps = (np.asarray(a) for a in t.last)

    # zs: (draws, 3) for one chain, (chains, draws, 3) for several; hmc_quality takes both.
    quality = common.hmc_quality(zs, acc, int(div.sum()))
    # Same extras as Stan's NUTS row, so adapted step size and trajectory cost compare.
    step_sizes = np.atleast_1d(eps[..., -1])  # each chain's adapted step size
    quality["step_size"] = float(np.mean(step_sizes))
    quality["mean_n_leapfrog"] = float(np.mean(num_steps))

    peak = common.peak_memory_bytes()  # before the extra MCMC.run measurement below
    if n_chains == 1:
        what = ("timed call = one jit of NUTS.init (init_to_uniform, heuristic step size) + lax.scan over "
                f"kernel.sample for {n_warmup} warm-up (adaptation) + {n_samples} kept iterations, fresh key per call")
        chain_notes = []
        ess_note = common.MCMC_ESS_NOTE
    else:
        what = (f"timed call = {n_chains} chains in one jit: jax.vmap over random.split(key, {n_chains}) of NUTS.init "
                "(each chain its own init_to_uniform point and heuristic step size) + lax.scan over kernel.sample for "
                f"{n_warmup} warm-up (each chain its own adaptation) + {n_samples} kept iterations, fresh key per call; "
                f"the semantics of MCMC(NUTS(...), num_chains={n_chains}, chain_method='vectorized')")
        # Under vmap NUTS's tree-building while_loop runs until the last chain's trajectory ends,
        # so every iteration costs the batch's longest trajectory.
        longest = float(np.mean(np.max(num_steps, axis=0)))
        chain_notes = [
            "vectorized chains wait for each other: every iteration's NUTS tree building runs until the longest "
            f"trajectory among the {n_chains} chains is done (kept iterations: mean over iterations of the largest "
            f"num_steps {longest:.1f} vs mean num_steps {float(np.mean(num_steps)):.1f})",
            "step_size = mean of the chains' adapted step sizes: "
            + ", ".join(f"{e:.4g}" for e in step_sizes.tolist()),
            "acceptance_rate, divergences, mean_n_leapfrog and the raw accept.npy pool all chains' kept transitions",
        ]
        ess_note = common.MCMC_ESS_NOTE_CHAINS
    notes = [jax_common.dtype_note(numpyro),
             f"{what}; traced once; XLA compilations during the {args.repeats} timed calls: {timed_compiles}",
             *chain_notes,
             "NumPyro defaults: target_accept_prob 0.8, max_tree_depth 10, dual-averaging step size, "
             "diagonal mass matrix; --step-size and --n-leapfrog do not apply",
             "acceptance_rate = mean of NumPyro's accept_prob (tree-averaged acceptance probability) over kept "
             "draws; divergences = count of NumPyro's diverging flag over kept draws; mean_n_leapfrog = mean of num_steps",
             ess_note,
             "MCMC.run recompiles on every call (measured in the HMC row's notes), so it is not what is timed"]
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s, "quality": quality, "notes": notes,
            "peak_memory_bytes": peak}


# --------------------------------------------------------------------------------------
# VI
# --------------------------------------------------------------------------------------

LATENTS = ("a", "b", "c")


def _svi(args) -> SVI:
    """NumPyro's SVI with AutoNormal started at loc 0, scale 1 (PROTOCOL.md, "VI")."""
    guide = AutoNormal(_observed_polynomial,
                       init_loc_fn=init_to_value(values={k: common.VI_INIT_LOC for k in LATENTS}),
                       init_scale=common.VI_INIT_SCALE)
    return SVI(_observed_polynomial, guide, numpyro.optim.Adam(args.learning_rate),
               Trace_ELBO(num_particles=args.n_elbo_samples))


def _check_initial_guide(svi: SVI, model_args) -> None:
    """The guide really is the protocol's: softplus scale, loc 0 and scale 1 at the start."""
    if AutoNormal.scale_constraint is not numpyro.distributions.constraints.softplus_positive:
        raise RuntimeError(f"AutoNormal.scale_constraint is {AutoNormal.scale_constraint}, not softplus_positive")
    state = svi.init(jax.random.PRNGKey(0), *model_args)
    params = svi.get_params(state)
    raw = svi.optim.get_params(state.optim_state)  # unconstrained
    for k in LATENTS:
        loc, scale, raw_scale = (float(params[f"{k}_auto_loc"]), float(params[f"{k}_auto_scale"]),
                                 float(raw[f"{k}_auto_scale"]))
        if not (loc == common.VI_INIT_LOC and abs(scale - common.VI_INIT_SCALE) < 1e-6
                and abs(raw_scale - common.VI_INIT_RAW_SCALE) < 1e-6):
            raise RuntimeError(f"AutoNormal starts {k} at loc {loc}, scale {scale} (raw {raw_scale}); "
                               f"expected loc 0, scale 1 (raw {common.VI_INIT_RAW_SCALE})")


def polynomial_vi(args, hyper) -> Dict[str, Any]:
    """Polynomial regression, mean-field ADVI: NumPyro's SVI + AutoNormal + Adam + Trace_ELBO."""
    d = common.load_polynomial(args, hyper)
    x, y = jnp.asarray(d.x, jnp.float32), jnp.asarray(d.y, jnp.float32)
    model_args = (x, y, d.prior_sd, d.noise_sd)
    n_steps = args.n_steps
    svi = _svi(args)
    _check_initial_guide(_svi(args), model_args)
    _count_compiles()
    traces = [0]

    def step(state, _):
        return svi.update(state, *model_args)

    @jax.jit
    def infer(key):
        """One whole fit: initial guide parameters, n_steps SVI updates, final parameters."""
        traces[0] += 1  # Python side effect: runs only when jit (re)traces
        state = svi.init(key, *model_args)
        state, losses = lax.scan(step, state, None, length=n_steps)
        params = svi.get_params(state)
        return (jnp.stack([params[f"{k}_auto_loc"] for k in LATENTS]),
                jnp.stack([params[f"{k}_auto_scale"] for k in LATENTS]), -losses)

    t, timed_compiles = _time_traced_once(infer, traces, args, "the SVI fit")
    loc, scale, elbos = (np.asarray(a) for a in t.last)

    peak = common.peak_memory_bytes()  # before the extra svi.run measurement below
    t0 = time.perf_counter()
    run = _svi(args).run(jax.random.PRNGKey(args.seed), n_steps, *model_args, progress_bar=False)
    jax.block_until_ready(run.params)
    run_s = time.perf_counter() - t0
    notes = [jax_common.dtype_note(numpyro),
             f"SVI(AutoNormal(init_to_value 0, init_scale 1.0; softplus scale), numpyro.optim.Adam({args.learning_rate}), "
             f"Trace_ELBO(num_particles={args.n_elbo_samples})); timed call = one jit of svi.init + lax.scan over "
             f"{n_steps} svi.update, fresh key per call; traced once; XLA compilations during the "
             f"{args.repeats} timed calls: {timed_compiles}",
             common.VI_ELBO_NOTE,
             f"svi.run (same configuration, progress_bar=False), one call: {run_s:.3f} s (it re-traces and "
             "recompiles on every call)"]
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.vi_quality(loc, scale, elbos), "notes": notes, "peak_memory_bytes": peak}


# --------------------------------------------------------------------------------------
# State-space models: exact filtering (the log marginal likelihood of the whole series)
# --------------------------------------------------------------------------------------

def hmm_model(ys, initial, transition, emission):
    """The discrete HMM of data/README.md: z_1 ~ Categorical(initial), then NumPyro's ``scan``
    over t = 2..T (the hidden states are enumerated and summed out by ``enum``)."""
    z = numpyro.sample("z_1", dist.Categorical(probs=initial))
    numpyro.sample("y_1", dist.Categorical(probs=emission[z]), obs=ys[0])

    def step(z_prev, y_t):
        z_t = numpyro.sample("z", dist.Categorical(probs=transition[z_prev]))
        numpyro.sample("y", dist.Categorical(probs=emission[z_t]), obs=y_t)
        return z_t, None

    scan(step, z, ys[1:])


def kalman_log_likelihood(ys, a, q, r, x1_mean, x1_sd):
    """log p(y_1:T) of the LGSSM by the Kalman filter: the sum of the innovations' log
    densities ``dist.Normal(predicted mean, sqrt(predicted variance + r^2)).log_prob(y_t)``."""
    def step(carry, y_t):
        m, v = carry  # predictive mean and variance of x_t
        s = v + r * r
        log_p = dist.Normal(m, jnp.sqrt(s)).log_prob(y_t)
        k = v / s
        m, v = m + k * (y_t - m), (1.0 - k) * v
        return (a * m, a * a * v + q * q), log_p

    _, log_p = lax.scan(step, (x1_mean, x1_sd * x1_sd), ys)
    return jnp.sum(log_p)


def lgssm_model(ys, a, q, r, x1_mean, x1_sd):
    """The LGSSM with its states integrated out: the Kalman filter's likelihood as a factor."""
    numpyro.factor("y", kalman_log_likelihood(ys, a, q, r, x1_mean, x1_sd))


def _exact_result(args, log_ml_fn, inputs, exact: float, what: List[str]) -> Dict[str, Any]:
    """Times one jit of ``log_ml_fn(*inputs)`` (data and parameters are arguments of the jitted
    function, not closed-over constants, so XLA cannot fold the answer at compile time),
    checking it is traced once and counting XLA compilations during the timed calls."""
    _count_compiles()
    traces = [0]

    @jax.jit
    def infer(*xs):
        traces[0] += 1  # Python side effect: runs only when jit (re)traces
        return log_ml_fn(*xs)

    compiles_before_timed = [0]

    def call(i):
        """Call i of the timing protocol; no random key (deriving one is an eager JAX op that
        would cost more than the filter itself)."""
        if i == 1:  # call 0 (compiling) is materialized by now
            compiles_before_timed[0] = len(_COMPILES)
        return infer(*inputs)

    t = common.time_calls(call, args.repeats, jax_common.materialize)
    if traces[0] != 1:
        raise RuntimeError(f"the log-density call was traced {traces[0]} times; timed calls must not recompile")
    timed_compiles = len(_COMPILES) - compiles_before_timed[0]
    notes = [jax_common.dtype_note(numpyro), *what,
             f"timed call = one jit (data and parameters as arguments); traced once; XLA compilations during the "
             f"{args.repeats} timed calls: {timed_compiles}",
             common.exact_log_ml_note(exact)]
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.exact_quality(t.last), "notes": notes}


def hmm_exact(args, hyper) -> Dict[str, Any]:
    """Discrete HMM, log p(y_1:T) by NumPyro's enumeration of the hidden states (funsor)."""
    try:
        import funsor
        from numpyro.contrib.funsor import config_enumerate, enum, log_density as enum_log_density
    except ImportError as e:
        raise RuntimeError(f"the HMM exact row needs funsor, pinned in comparisons/requirements-jax.txt (an env created "
                           f"before it was added: pip install -r comparisons/requirements-jax.txt): {e}") from None
    d = common.load_hmm(args, hyper)
    inputs = (jnp.asarray(d.y, jnp.int32), jnp.asarray(d.initial, jnp.float32),
              jnp.asarray(d.transition, jnp.float32), jnp.asarray(d.emission, jnp.float32))
    # No plates in the model, so enumeration may use every dim from -1 leftwards (MCMC would pass
    # -max_plate_nesting - 1 = -1 here too).
    model = enum(config_enumerate(hmm_model), first_available_dim=-1)

    def log_ml(*xs):
        return enum_log_density(model, xs, {}, {})[0]

    what = [f"numpyro.contrib.funsor.log_density(enum(config_enumerate(model)), ...) with funsor "
            f"{funsor.__version__}: the model uses numpyro.contrib.control_flow.scan over t = 2..T, every z "
            "enumerated in parallel and summed out (funsor sequential_sum_product: log-depth tree of K x K "
            "log-semiring products)"]
    return _exact_result(args, log_ml, inputs, common.exact_hmm_log_ml(d), what)


def lgssm_exact(args, hyper) -> Dict[str, Any]:
    """LGSSM, log p(y_1:T) by a Kalman filter inside ``numpyro.factor``, scored by log_density."""
    d = common.load_lgssm(args, hyper)
    inputs = (jnp.asarray(d.y, jnp.float32),) + tuple(jnp.float32(v) for v in (d.a, d.q, d.r, d.x1_mean, d.x1_sd))

    def log_ml(*xs):
        return log_density(lgssm_model, xs, {}, {})[0]

    what = ["numpyro.infer.util.log_density of a model whose only site is numpyro.factor('y', Kalman filter "
            "log-likelihood in lax.scan, innovations scored by dist.Normal): NumPyro has no Kalman filter "
            "(GaussianStateSpace is the latent AR process alone) and cannot enumerate continuous states"]
    return _exact_result(args, log_ml, inputs, common.exact_lgssm_log_ml(d), what)


# Takes --n-chains (vectorized chains in the one timed call).
polynomial_nuts.multi_chain = True  # type: ignore[attr-defined]

RUNNERS = {
    ("polynomial", "is"): polynomial_is,
    ("polynomial", "hmc"): polynomial_hmc,
    ("polynomial", "nuts"): polynomial_nuts,
    ("polynomial", "vi"): polynomial_vi,
    ("beta_bernoulli", "is"): beta_bernoulli_is,
    ("hmm", "exact"): hmm_exact,
    ("lgssm", "exact"): lgssm_exact,
}

"""Pyro: the models as Pyro programs, inference through Pyro's own machinery (eager PyTorch).

* IS (prior as proposal): ``pyro.infer.importance.vectorized_importance_weights`` with the
  model conditioned on the data (``poutine.condition``) and a guide that samples the
  latents from their prior.  Pyro wraps model and guide in a ``pyro.plate`` over
  particles, so all particles are one batched execution; the log weight is
  log p(latents, y) - log q(latents) = log p(y | latents).
* HMC: ``pyro.infer.HMC`` with ``step_size`` fixed, ``num_steps`` = ``--n-leapfrog``,
  ``adapt_step_size=False``, ``adapt_mass_matrix=False``, identity (diagonal) mass, start
  at zeros (``init_to_value``), run by ``pyro.infer.MCMC`` (one chain, progress bar off).
  Each timed call builds a fresh ``MCMC`` and runs warm-up + kept samples.
  ``jit_compile=True`` (Pyro's documented switch for speed: the potential energy and its
  gradient run as a TorchScript trace, traced again in every call since every call builds
  its kernel): 2.6 s instead of 4.4 s for 150 iterations at n = 10 here, which brings the
  full 1500-iteration run from about 50 s to under 30 s.
* SMC (HMM, LGSSM): ``pyro.infer.SMCFilter`` with a bootstrap guide (the proposal is the
  transition), resampling at every step (``ess_threshold=1``, Pyro's systematic resampling).
  SMCFilter has no evidence estimate, so ``EvidenceSMCFilter`` accumulates the log-ML from
  each step's incremental weights.  Each timed call builds a fresh filter and runs it over
  the whole series.
* VI: ``SVI(model, AutoNormal(model, init_loc_fn=init_to_value(a=b=c=0), init_scale=1.0),
  pyro.optim.Adam({"lr": lr}), Trace_ELBO(num_particles=K, vectorize_particles=True))``;
  AutoNormal's scale is softplus-constrained (``AutoNormal.scale_constraint``, asserted, as
  are the initial loc 0 / scale 1).  Each timed call is ``pyro.clear_param_store()``, a fresh
  guide and SVI, and ``--n-steps`` calls of ``svi.step`` (each returns the loss as a float).

Pyro derives the leapfrog count as ``int(trajectory_length / step_size)`` with
``trajectory_length = step_size * num_steps``; floating-point rounding can make that one
less (e.g. 0.03 * 20 / 0.03 = 19.999...).  The runner checks ``kernel.num_steps`` and, if it
differs, sets ``trajectory_length = step_size * (num_steps + 0.5)`` so the count is exact
(reported in ``notes``).

Each call seeds Pyro's (global torch) RNG from ``--seed`` and the call index.
PyTorch runs in its default precision (float32); quality numbers are recomputed in float64.
"""

from __future__ import annotations

import math
from typing import Any, Dict

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.distributions import constraints
from pyro.infer import HMC, MCMC, SVI, SMCFilter, Trace_ELBO
from pyro.infer.autoguide import AutoNormal
from pyro.infer.autoguide.initialization import init_to_value
from pyro.infer.importance import vectorized_importance_weights
from pyro.poutine.util import prune_subsample_sites

import common

NAME = "pyro"


def version() -> str:
    return pyro.__version__


def _seed(seed: int, i: int) -> None:
    pyro.set_rng_seed(seed * 1_000_003 + i)


def _note() -> str:
    return (f"pyro {pyro.__version__}, torch {torch.__version__}, eager on cpu, "
            f"{torch.get_num_threads()} threads, dtype {torch.get_default_dtype()}")


# --------------------------------------------------------------------------------------
# Models.  Latents are sampled outside the data plate, so under Pyro's particle plate
# (dim -2) they get shape (N, 1) and broadcast against the data axis (dim -1).
# --------------------------------------------------------------------------------------

def polynomial_model(x, prior_sd, noise_sd):
    a = pyro.sample("a", dist.Normal(0.0, prior_sd))
    b = pyro.sample("b", dist.Normal(0.0, prior_sd))
    c = pyro.sample("c", dist.Normal(0.0, prior_sd))
    with pyro.plate("data", x.shape[0], dim=-1):
        pyro.sample("y", dist.Normal(a + b * x + c * x * x, noise_sd))


def polynomial_prior_guide(x, prior_sd, noise_sd):
    for name in ("a", "b", "c"):
        pyro.sample(name, dist.Normal(0.0, prior_sd))


def beta_bernoulli_model(n, alpha, beta):
    p = pyro.sample("p", dist.Beta(alpha, beta))
    with pyro.plate("data", n, dim=-1):
        pyro.sample("y", dist.Bernoulli(probs=p))


def beta_bernoulli_prior_guide(n, alpha, beta):
    pyro.sample("p", dist.Beta(alpha, beta))


# --------------------------------------------------------------------------------------
# IS
# --------------------------------------------------------------------------------------

def _run_is(args, model, guide, model_args, data, latent_names) -> Dict[str, Any]:
    conditioned = poutine.condition(model, data=data)
    n = args.n_particles

    @torch.no_grad()
    def infer(i):
        _seed(args.seed, i)
        log_w, _, guide_trace = vectorized_importance_weights(
            conditioned, guide, *model_args, num_samples=n, max_plate_nesting=1)
        latents = torch.stack([guide_trace.nodes[name]["value"].reshape(n) for name in latent_names], dim=1)
        log_ml = torch.logsumexp(log_w, 0) - math.log(n)
        return latents, log_w, log_ml.item()  # .item() materializes

    t = common.time_calls(infer, args.repeats)
    latents, log_w, _ = t.last
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.is_quality(log_w.numpy(), latents.numpy()),
            "notes": [_note(), "pyro.infer.importance.vectorized_importance_weights, prior guide; "
                               "compile_time_s = first (warm-up) eager call"]}


def polynomial_is(args, hyper) -> Dict[str, Any]:
    d = common.load_polynomial(args, hyper)
    x = torch.tensor(d.x, dtype=torch.float32)
    y = torch.tensor(d.y, dtype=torch.float32)
    return _run_is(args, polynomial_model, polynomial_prior_guide, (x, d.prior_sd, d.noise_sd),
                   {"y": y}, ("a", "b", "c"))


def beta_bernoulli_is(args, hyper) -> Dict[str, Any]:
    d = common.load_beta_bernoulli(args, hyper)
    y = torch.tensor(d.y, dtype=torch.float32)
    model_args = (int(d.y.shape[0]), torch.tensor(d.alpha), torch.tensor(d.beta))
    return _run_is(args, beta_bernoulli_model, beta_bernoulli_prior_guide, model_args, {"y": y}, ("p",))


# --------------------------------------------------------------------------------------
# HMC
# --------------------------------------------------------------------------------------

def _conditioned_polynomial(args, hyper):
    """The polynomial model conditioned on the run's data (``poutine.condition`` on "y") and its
    arguments (x, prior sd, noise sd), as the HMC and VI rows run it."""
    d = common.load_polynomial(args, hyper)
    x = torch.tensor(d.x, dtype=torch.float32)
    y = torch.tensor(d.y, dtype=torch.float32)
    return poutine.condition(polynomial_model, data={"y": y}), (x, d.prior_sd, d.noise_sd)


def polynomial_hmc(args, hyper) -> Dict[str, Any]:
    conditioned, model_args = _conditioned_polynomial(args, hyper)
    eps, n_leapfrog = args.step_size, args.n_leapfrog
    notes = [_note(), "pyro.infer.HMC(jit_compile=True) + MCMC (one chain, progress bar off); each timed call "
             "builds the kernel, so it includes TorchScript's trace; compile_time_s = first (warm-up) call",
             "acceptance_rate = Pyro's empirical acceptance rate over kept samples (MCMC.diagnostics)",
             common.MCMC_ESS_NOTE]

    def make_kernel():
        kernel = HMC(conditioned, step_size=eps, num_steps=n_leapfrog,
                     adapt_step_size=False, adapt_mass_matrix=False, full_mass=False,
                     jit_compile=True, ignore_jit_warnings=True,
                     init_strategy=init_to_value(values={k: torch.tensor(0.0) for k in ("a", "b", "c")}))
        if kernel.num_steps != n_leapfrog:
            kernel.trajectory_length = eps * (n_leapfrog + 0.5)
        if kernel.num_steps != n_leapfrog:
            raise RuntimeError(f"Pyro HMC would take {kernel.num_steps} leapfrog steps, asked {n_leapfrog}")
        return kernel

    probe = make_kernel()
    if probe.trajectory_length != eps * n_leapfrog:
        notes.append(f"int(step*num_steps/step) rounded down: trajectory_length set to step*(num_steps+0.5) "
                     f"so that Pyro takes exactly {n_leapfrog} steps")

    def infer(i):
        _seed(args.seed, i)
        mcmc = MCMC(make_kernel(), num_samples=args.n_samples, warmup_steps=args.n_warmup,
                    num_chains=1, disable_progbar=True)
        mcmc.run(*model_args)
        samples = mcmc.get_samples()
        z = torch.stack([samples[k].reshape(-1) for k in ("a", "b", "c")], dim=1)
        diag = mcmc.diagnostics()
        return z, float(diag["acceptance rate"]["chain 0"]), len(diag["divergences"]["chain 0"])

    t = common.time_calls(infer, args.repeats)
    z, acc, div = t.last
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.hmc_quality(z.numpy(), acc, div), "notes": notes}


# --------------------------------------------------------------------------------------
# VI: SVI with AutoNormal
# --------------------------------------------------------------------------------------

LATENTS = ("a", "b", "c")


def polynomial_vi(args, hyper) -> Dict[str, Any]:
    conditioned, model_args = _conditioned_polynomial(args, hyper)
    n_steps, k = args.n_steps, args.n_elbo_samples

    def make_svi():
        guide = AutoNormal(conditioned,
                           init_loc_fn=init_to_value(values={n: torch.tensor(common.VI_INIT_LOC) for n in LATENTS}),
                           init_scale=common.VI_INIT_SCALE)
        svi = SVI(conditioned, guide, pyro.optim.Adam({"lr": args.learning_rate}),
                  Trace_ELBO(num_particles=k, vectorize_particles=True, max_plate_nesting=1))
        return guide, svi

    # The guide really is the protocol's: softplus scale, loc 0 and scale 1 at the start.
    if AutoNormal.scale_constraint is not constraints.softplus_positive:
        raise RuntimeError(f"AutoNormal.scale_constraint is {AutoNormal.scale_constraint}, not softplus_positive")
    pyro.clear_param_store()
    probe, _ = make_svi()
    probe(*model_args)  # creates the parameters
    for n in LATENTS:
        with torch.no_grad():
            loc, scale = getattr(probe.locs, n).item(), getattr(probe.scales, n).item()
            raw = pyro.get_param_store().get_param(f"AutoNormal.scales.{n}").unconstrained().item()
        if not (loc == common.VI_INIT_LOC and abs(scale - common.VI_INIT_SCALE) < 1e-6
                and abs(raw - common.VI_INIT_RAW_SCALE) < 1e-6):
            raise RuntimeError(f"AutoNormal starts {n} at loc {loc}, scale {scale} (raw {raw}); "
                               f"expected loc 0, scale 1 (raw {common.VI_INIT_RAW_SCALE})")

    def infer(i):
        _seed(args.seed, i)
        pyro.clear_param_store()
        guide, svi = make_svi()
        losses = [svi.step(*model_args) for _ in range(n_steps)]  # floats: each step materializes
        with torch.no_grad():
            loc = torch.stack([getattr(guide.locs, n) for n in LATENTS])
            scale = torch.stack([getattr(guide.scales, n) for n in LATENTS])
        return loc, scale, losses

    t = common.time_calls(infer, args.repeats)
    loc, scale, losses = t.last
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.vi_quality(loc.numpy(), scale.numpy(), -torch.tensor(losses, dtype=torch.float64)),
            "notes": [_note(),
                      f"SVI(AutoNormal(init_to_value 0, init_scale 1.0; softplus scale), pyro.optim.Adam(lr "
                      f"{args.learning_rate}), Trace_ELBO(num_particles={k}, vectorize_particles=True)); each timed "
                      f"call = pyro.clear_param_store() + {n_steps} svi.step; compile_time_s = first (warm-up) call",
                      common.VI_ELBO_NOTE]}


# --------------------------------------------------------------------------------------
# SMC: pyro.infer.SMCFilter with a bootstrap guide
# --------------------------------------------------------------------------------------

def _incremental_log_weight(model_trace, guide_trace, n: int) -> torch.Tensor:
    """The log weight one SMCFilter step adds to each of the ``n`` particles, formed from the
    step's traces as ``SMCFilter._update_weights`` forms it (log p - log q at each guide site,
    plus log p at each observed site). ``compute_log_prob`` memoizes into the shared site
    dicts, so Pyro's own computation afterwards reuses these log probabilities."""
    model_trace = prune_subsample_sites(model_trace)
    guide_trace = prune_subsample_sites(guide_trace)
    model_trace.compute_log_prob()
    guide_trace.compute_log_prob()
    inc = torch.zeros(n)
    for name, site in guide_trace.nodes.items():
        if site["type"] == "sample":
            inc = inc + (model_trace.nodes[name]["log_prob"].reshape(n, -1).sum(-1)
                         - site["log_prob"].reshape(n, -1).sum(-1))
    for site in model_trace.nodes.values():
        if site["type"] == "sample" and site["is_observed"]:
            inc = inc + site["log_prob"].reshape(n, -1).sum(-1)
    return inc


class EvidenceSMCFilter(SMCFilter):
    """``pyro.infer.SMCFilter`` that also accumulates the log marginal likelihood estimate.

    SMCFilter (pyro-ppl 1.9.2) keeps only relative weights (it subtracts the largest log
    weight after every step) and offers no evidence estimate. This subclass takes each step's
    incremental log weights from the same traces, checks that they reproduce the weights
    Pyro computed (so a change inside Pyro cannot go unnoticed), and adds
    logsumexp(w_prev + inc) - logsumexp(w_prev) to ``log_ml``: the standard SMC estimate,
    right whether or not the previous step resampled. ``last_log_weights`` keeps the last
    step's weights before resampling, for the Kish ESS.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log_ml = 0.0
        self.last_log_weights: torch.Tensor = torch.zeros(self.num_particles)

    @torch.no_grad()
    def _update_weights(self, model_trace, guide_trace):
        prev = self.state._log_weights.clone()
        inc = _incremental_log_weight(model_trace, guide_trace, self.num_particles)
        super()._update_weights(model_trace, guide_trace)
        unnormalized = prev + inc
        if not torch.allclose(self.state._log_weights, unnormalized - unnormalized.max(), atol=1e-4):
            raise RuntimeError("the incremental log weights read from the traces do not reproduce "
                               "SMCFilter's own weights (has pyro.infer.SMCFilter changed?)")
        self.log_ml += float(unnormalized.logsumexp(-1) - prev.logsumexp(-1))
        self.last_log_weights = unnormalized


class HmmModel:
    """The discrete HMM for SMCFilter: ``init`` draws z_0 and scores y_0, ``step`` draws
    z_t | z_{t-1} and scores y_t (SMCFilter's particle plate batches every site)."""

    def __init__(self, d: "common.HmmData"):
        self.initial = torch.tensor(d.initial, dtype=torch.float32)
        self.transition = torch.tensor(d.transition, dtype=torch.float32)
        self.emission = torch.tensor(d.emission, dtype=torch.float32)

    def init(self, state, y):
        state["z"] = pyro.sample("z", dist.Categorical(self.initial))
        pyro.sample("y", dist.Categorical(self.emission[state["z"]]), obs=y)

    def step(self, state, y):
        state["z"] = pyro.sample("z", dist.Categorical(self.transition[state["z"]]))
        pyro.sample("y", dist.Categorical(self.emission[state["z"]]), obs=y)


class HmmBootstrapGuide(HmmModel):
    """Bootstrap proposal: the hidden state from its prior (initial / transition), so a
    particle's weight is the observation's probability."""

    def init(self, state, y):
        pyro.sample("z", dist.Categorical(self.initial))

    def step(self, state, y):
        pyro.sample("z", dist.Categorical(self.transition[state["z"]]))


class LgssmModel:
    """The linear-Gaussian state-space model for SMCFilter: x_1 ~ N(x1_mean, x1_sd),
    x_t ~ N(a x_{t-1}, q), y_t ~ N(x_t, r)."""

    def __init__(self, d: "common.LgssmData"):
        self.d = d

    def init(self, state, y):
        state["x"] = pyro.sample("x", dist.Normal(torch.tensor(self.d.x1_mean), self.d.x1_sd))
        pyro.sample("y", dist.Normal(state["x"], self.d.r), obs=y)

    def step(self, state, y):
        state["x"] = pyro.sample("x", dist.Normal(self.d.a * state["x"], self.d.q))
        pyro.sample("y", dist.Normal(state["x"], self.d.r), obs=y)


class LgssmBootstrapGuide(LgssmModel):
    """Bootstrap proposal: the state from its prior (initial / transition)."""

    def init(self, state, y):
        pyro.sample("x", dist.Normal(torch.tensor(self.d.x1_mean), self.d.x1_sd))

    def step(self, state, y):
        pyro.sample("x", dist.Normal(self.d.a * state["x"], self.d.q))


def _run_smc(args, model, guide, ys, exact: float) -> Dict[str, Any]:
    n = args.n_particles

    def infer(i):
        _seed(args.seed, i)
        # ess_threshold=1 resamples whenever ESS < N, i.e. at every step (as the handcoded
        # filters do), with Pyro's own scheme (systematic resampling, its only one).
        smc = EvidenceSMCFilter(model, guide, num_particles=n, max_plate_nesting=0, ess_threshold=1.0)
        smc.init(ys[0])
        for y in ys[1:]:
            smc.step(y)
        return smc.log_ml, smc.last_log_weights

    t = common.time_calls(infer, args.repeats)
    log_ml, log_w = t.last
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.smc_quality(log_ml, log_w.numpy()),
            "notes": [_note(), "pyro.infer.SMCFilter with a bootstrap guide (proposal = transition), "
                               "ess_threshold=1.0: Pyro's systematic resampling whenever ESS < N (every step); "
                               "compile_time_s = first (warm-up) eager call",
                      "log_ml: SMCFilter has no evidence estimate; a subclass accumulates it from each "
                      "step's incremental weights (checked against Pyro's weights every step); "
                      "ess = ESS of the last step's weights before resampling",
                      common.exact_log_ml_note(exact)]}


def hmm_smc(args, hyper) -> Dict[str, Any]:
    d = common.load_hmm(args, hyper)
    ys = [torch.tensor(int(v)) for v in d.y]
    return _run_smc(args, HmmModel(d), HmmBootstrapGuide(d), ys, common.exact_hmm_log_ml(d))


def lgssm_smc(args, hyper) -> Dict[str, Any]:
    d = common.load_lgssm(args, hyper)
    ys = [torch.tensor(float(v), dtype=torch.float32) for v in d.y]
    return _run_smc(args, LgssmModel(d), LgssmBootstrapGuide(d), ys, common.exact_lgssm_log_ml(d))


RUNNERS = {
    ("polynomial", "is"): polynomial_is,
    ("polynomial", "hmc"): polynomial_hmc,
    ("polynomial", "vi"): polynomial_vi,
    ("beta_bernoulli", "is"): beta_bernoulli_is,
    ("hmm", "smc"): hmm_smc,
    ("lgssm", "smc"): lgssm_smc,
}

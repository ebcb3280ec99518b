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
from pyro.infer import HMC, MCMC
from pyro.infer.autoguide.initialization import init_to_value
from pyro.infer.importance import vectorized_importance_weights

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

def polynomial_hmc(args, hyper) -> Dict[str, Any]:
    d = common.load_polynomial(args, hyper)
    x = torch.tensor(d.x, dtype=torch.float32)
    y = torch.tensor(d.y, dtype=torch.float32)
    conditioned = poutine.condition(polynomial_model, data={"y": y})
    model_args = (x, d.prior_sd, d.noise_sd)
    eps, n_leapfrog = args.step_size, args.n_leapfrog
    notes = [_note(), "pyro.infer.HMC + MCMC (one chain, progress bar off); compile_time_s = first (warm-up) call",
             "acceptance_rate = Pyro's empirical acceptance rate over kept samples (MCMC.diagnostics)"]

    def make_kernel():
        kernel = HMC(conditioned, step_size=eps, num_steps=n_leapfrog,
                     adapt_step_size=False, adapt_mass_matrix=False, full_mass=False,
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


RUNNERS = {
    ("polynomial", "is"): polynomial_is,
    ("polynomial", "hmc"): polynomial_hmc,
    ("beta_bernoulli", "is"): beta_bernoulli_is,
}

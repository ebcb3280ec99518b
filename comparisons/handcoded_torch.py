"""Handcoded PyTorch: the models and inference written directly in torch (no PPL).

These are the GenJAX paper's "handcoded PyTorch" rows: eager PyTorch on the CPU.

* IS: all particles at once as tensors ((N, 3) prior draws, (N, n) means), under
  ``torch.no_grad()``; the call returns particles, log weights and the log-ML estimate.
* HMC: a Python loop over warm-up + kept iterations, each with ``n_leapfrog`` leapfrog
  steps; the gradient of the log joint comes from ``torch.autograd.grad`` (as ``jax.grad``
  in the handcoded JAX row); start at zeros, fixed step, identity mass, no adaptation.
  The gradient at the current position is cached, so one iteration costs ``n_leapfrog``
  gradients.
* VI: mean-field normal ADVI: guide parameters ``loc`` and ``raw`` (scale = softplus(raw)),
  loc 0 / scale 1 start; each step draws eps (K, 3), forms z = loc + scale * eps, and
  ``loss.backward()`` on -mean_k[log p(y, z_k) - log q(z_k)] feeds ``torch.optim.Adam``;
  an eager Python loop over the steps.

Each call gets its own ``torch.Generator`` seeded from ``--seed`` and the call index.
PyTorch runs in its default precision (float32); quality numbers are recomputed in float64.
"""

from __future__ import annotations

import math
from typing import Any, Dict

import torch

import common

NAME = "handcoded_torch"
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def version() -> str:
    return torch.__version__


def _generator(seed: int, i: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + i)


def _note() -> str:
    return f"torch {torch.__version__}, eager on cpu, {torch.get_num_threads()} threads, dtype {torch.get_default_dtype()}"


def _normal_logpdf(v, mu, sd: float):
    return -0.5 * ((v - mu) / sd) ** 2 - math.log(sd) - LOG_SQRT_2PI


# --------------------------------------------------------------------------------------
# IS
# --------------------------------------------------------------------------------------

def _is_result(args, infer) -> Dict[str, Any]:
    """Times ``infer(i) -> (particles, log weights, log-ML)`` (``i`` the call index) and builds
    the IS row's partial result from the last call."""
    t = common.time_calls(infer, args.repeats)
    latents, log_w, _ = t.last
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.is_quality(log_w.numpy(), latents.numpy()),
            "notes": [_note(), "compile_time_s = first (warm-up) eager call; nothing compiles"]}


def polynomial_is(args, hyper) -> Dict[str, Any]:
    d = common.load_polynomial(args, hyper)
    x = torch.tensor(d.x, dtype=torch.float32)
    y = torch.tensor(d.y, dtype=torch.float32)
    prior_sd, noise_sd, n = d.prior_sd, d.noise_sd, args.n_particles

    @torch.no_grad()
    def infer(i):
        coeffs = prior_sd * torch.randn(n, 3, generator=_generator(args.seed, i))
        mu = coeffs[:, 0:1] + coeffs[:, 1:2] * x + coeffs[:, 2:3] * (x * x)
        log_w = _normal_logpdf(y, mu, noise_sd).sum(dim=1)
        log_ml = torch.logsumexp(log_w, 0) - math.log(n)
        return coeffs, log_w, log_ml.item()  # .item() materializes

    return _is_result(args, infer)


def beta_bernoulli_is(args, hyper) -> Dict[str, Any]:
    d = common.load_beta_bernoulli(args, hyper)
    y = torch.tensor(d.y, dtype=torch.float32)
    n = args.n_particles
    prior = torch.distributions.Beta(torch.tensor(d.alpha), torch.tensor(d.beta))

    @torch.no_grad()
    def infer(i):
        # torch.distributions.Beta has no generator argument: seed the global stream.
        torch.manual_seed(args.seed * 1_000_003 + i)
        p = prior.sample((n, 1))
        log_w = (y * torch.log(p) + (1.0 - y) * torch.log1p(-p)).sum(dim=1)
        log_ml = torch.logsumexp(log_w, 0) - math.log(n)
        return p[:, 0], log_w, log_ml.item()

    return _is_result(args, infer)


# --------------------------------------------------------------------------------------
# HMC
# --------------------------------------------------------------------------------------

def polynomial_hmc(args, hyper) -> Dict[str, Any]:
    d = common.load_polynomial(args, hyper)
    x = torch.tensor(d.x, dtype=torch.float32)
    y = torch.tensor(d.y, dtype=torch.float32)
    prior_sd, noise_sd = d.prior_sd, d.noise_sd
    eps, n_leapfrog = args.step_size, args.n_leapfrog
    n_warmup, n_samples = args.n_warmup, args.n_samples

    def log_joint(q):
        mu = q[0] + q[1] * x + q[2] * (x * x)
        return _normal_logpdf(q, 0.0, prior_sd).sum() + _normal_logpdf(y, mu, noise_sd).sum()

    def value_and_grad(q):
        q = q.detach().requires_grad_(True)
        lp = log_joint(q)
        (g,) = torch.autograd.grad(lp, q)
        return lp.detach(), g

    def infer(i):
        gen = _generator(args.seed, i)
        q = torch.zeros(3)
        lp, g = value_and_grad(q)
        samples = torch.empty(n_samples, 3)
        accept_prob = torch.empty(n_samples)
        divergences = 0
        for it in range(n_warmup + n_samples):
            p0 = torch.randn(3, generator=gen)
            q1, p1, g1 = q, p0, g
            for _ in range(n_leapfrog):
                p1 = p1 + 0.5 * eps * g1
                q1 = q1 + eps * p1
                lp1, g1 = value_and_grad(q1)
                p1 = p1 + 0.5 * eps * g1
            log_ratio = float((lp1 - 0.5 * p1.dot(p1)) - (lp - 0.5 * p0.dot(p0)))
            if not math.isfinite(log_ratio):
                log_ratio = -math.inf  # NaN / overflow: reject, count as divergent below
            prob = math.exp(min(log_ratio, 0.0))
            if torch.rand((), generator=gen).item() < prob:
                q, lp, g = q1, lp1, g1
            if it >= n_warmup:
                k = it - n_warmup
                samples[k] = q
                accept_prob[k] = prob
                divergences += int(-log_ratio > 1000.0)
        return samples, accept_prob, divergences

    t = common.time_calls(infer, args.repeats)
    samples, acc, div = t.last
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.hmc_quality(samples.numpy(), acc.numpy(), div),
            "notes": [_note(), "gradient by torch.autograd.grad; compile_time_s = first (warm-up) eager call",
                      "acceptance_rate = mean Metropolis acceptance probability", common.MCMC_ESS_NOTE]}


# --------------------------------------------------------------------------------------
# VI
# --------------------------------------------------------------------------------------

def polynomial_vi(args, hyper) -> Dict[str, Any]:
    d = common.load_polynomial(args, hyper)
    x = torch.tensor(d.x, dtype=torch.float32)
    y = torch.tensor(d.y, dtype=torch.float32)
    prior_sd, noise_sd = d.prior_sd, d.noise_sd
    n_steps, k = args.n_steps, args.n_elbo_samples

    def infer(i):
        gen = _generator(args.seed, i)
        loc = torch.full((3,), common.VI_INIT_LOC, requires_grad=True)
        raw = torch.full((3,), common.VI_INIT_RAW_SCALE, requires_grad=True)
        opt = torch.optim.Adam([loc, raw], lr=args.learning_rate)  # betas (0.9, 0.999), eps 1e-8
        elbos = torch.empty(n_steps)
        for step in range(n_steps):
            scale = torch.nn.functional.softplus(raw)
            z = loc + scale * torch.randn(k, 3, generator=gen)  # (K, 3)
            log_q = (-0.5 * ((z - loc) / scale) ** 2 - torch.log(scale) - LOG_SQRT_2PI).sum(dim=1)
            mu = z[:, 0:1] + z[:, 1:2] * x + z[:, 2:3] * (x * x)  # (K, n)
            log_p = _normal_logpdf(z, 0.0, prior_sd).sum(dim=1) + _normal_logpdf(y, mu, noise_sd).sum(dim=1)
            loss = -(log_p - log_q).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            elbos[step] = -loss.detach()
        with torch.no_grad():  # tolist() materializes, as .item() does
            return loc.tolist(), torch.nn.functional.softplus(raw).tolist(), elbos

    t = common.time_calls(infer, args.repeats)
    loc, scale, elbos = t.last
    return {"compile_time_s": t.compile_time_s, "times_s": t.times_s,
            "quality": common.vi_quality(loc, scale, elbos.numpy()),
            "notes": [_note(), f"mean-field normal guide (scale = softplus(raw)), loc 0 / scale 1 start; {n_steps} "
                               f"torch.optim.Adam steps on the {k}-sample reparameterized ELBO (loss.backward()), "
                               "eager loop; compile_time_s = first (warm-up) call", common.VI_ELBO_NOTE]}


RUNNERS = {
    ("polynomial", "is"): polynomial_is,
    ("polynomial", "hmc"): polynomial_hmc,
    ("polynomial", "vi"): polynomial_vi,
    ("beta_bernoulli", "is"): beta_bernoulli_is,
}

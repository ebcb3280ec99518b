"""Assertions shared by the per-framework tests.

Tolerances are derived from the Monte Carlo error of what is being checked, not picked
to make a run pass:

* IS log-ML: the delta-method standard error of log(mean w) is about
  sqrt(1/ESS - 1/N) (Var(w)/E[w]^2 ~ N/ESS - 1, divided by N); the check allows 5 of them
  plus 2e-3 for float32 arithmetic.
* HMC posterior means: 5 Monte Carlo standard errors, sd_exact / sqrt(S / tau) with a
  conservative integrated autocorrelation time tau = 20 for S kept samples.
* SMC log-ML: a tolerance per model from the measured spread of the estimator (the tests
  say which).
"""

from __future__ import annotations

import math
import os

import numpy as np

import common  # conftest.py puts comparisons/ on sys.path

RESULT_KEYS = {"framework", "version", "model", "method", "config", "compile_time_s", "times_s",
               "quality", "peak_memory_bytes", "notes", "flags"}


def exact_gaussian_log_ml(data_dir: str, n: int, noise_sd: float, prior_sd: float = 1.0) -> float:
    """log N(y; 0, sd^2 I + prior_sd^2 Phi Phi^T), Phi rows [1, x, x^2] (numpy, independent of common.py)."""
    tag = "1.0" if noise_sd == 1.0 else repr(noise_sd)
    xy = np.loadtxt(os.path.join(data_dir, f"polynomial_n{n}_sd{tag}.csv"), delimiter=",", skiprows=1)
    x, y = xy[:, 0], xy[:, 1]
    phi = np.stack([np.ones_like(x), x, x * x], axis=1)
    cov = noise_sd ** 2 * np.eye(n) + prior_sd ** 2 * phi @ phi.T
    _, logdet = np.linalg.slogdet(cov)
    return float(-0.5 * (n * math.log(2 * math.pi) + logdet + y @ np.linalg.solve(cov, y)))


def check_result(out: dict, framework: str, model: str, method: str, repeats: int) -> None:
    assert set(out) == RESULT_KEYS, sorted(set(out) ^ RESULT_KEYS)
    assert out["framework"] == framework and out["model"] == model and out["method"] == method
    assert isinstance(out["version"], str) and out["version"]
    assert len(out["times_s"]) == repeats and all(t > 0 for t in out["times_s"])
    assert out["compile_time_s"] >= 0
    assert out["peak_memory_bytes"] > 10_000_000  # an interpreter with a framework loaded
    assert isinstance(out["notes"], list) and isinstance(out["flags"], list)


def check_is_log_ml(out: dict, exact_log_ml: float, n_particles: int) -> None:
    q = out["quality"]
    assert {"log_ml", "ess"} <= set(q)
    assert 1.0 <= q["ess"] <= n_particles * (1 + 1e-9)
    se = math.sqrt(max(1.0 / q["ess"] - 1.0 / n_particles, 0.0))
    tol = 5 * se + 2e-3
    assert abs(q["log_ml"] - exact_log_ml) < tol, (q["log_ml"], exact_log_ml, tol)


def check_hmc_means(out: dict, exact: dict, n_samples: int, tau: float = 20.0) -> None:
    q = out["quality"]
    assert {"posterior_mean", "posterior_sd", "acceptance_rate"} <= set(q)
    for got, mean, sd in zip(q["posterior_mean"], exact["posterior_mean"], exact["posterior_sd"]):
        tol = 5 * sd / math.sqrt(n_samples / tau)
        assert abs(got - mean) < tol, (q["posterior_mean"], exact["posterior_mean"], tol)


def check_mcmc_ess(out: dict, n_samples: int, n_latents: int = 3) -> None:
    """The MCMC ESS keys of PROTOCOL.md: one ESS per latent, each at least 1 and at most Stan's
    cap n log10 n, and ``ess`` their minimum."""
    q = out["quality"]
    per = q["ess_per_latent"]
    assert len(per) == n_latents, per
    assert all(p is not None and 1.0 <= p <= n_samples * math.log10(n_samples) for p in per), per
    assert q["ess"] == min(per)


def check_smc_log_ml(out: dict, exact_log_ml: float, n_particles: int, tol: float) -> None:
    """SMC quality keys (log_ml, ess of the last step's weights) and the log-ML within ``tol``
    of the exact value."""
    q = out["quality"]
    assert {"log_ml", "ess"} <= set(q)
    assert 1.0 <= q["ess"] <= n_particles * (1 + 1e-9)
    assert common.exact_log_ml_note(exact_log_ml) in out["notes"], out["notes"]
    assert abs(q["log_ml"] - exact_log_ml) < tol, (q["log_ml"], exact_log_ml, tol)

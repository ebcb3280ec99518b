"""NumPyro at tiny sizes (env "jax"): JSON shape and answers against exact references."""

from __future__ import annotations

import pytest

pytest.importorskip("numpyro")

from checks import VI_FLAGS, check_hmc_means, check_is_log_ml, check_mcmc_ess, check_result, check_vi_config, check_vi_fit, exact_gaussian_log_ml, exact_meanfield_optimum  # noqa: E402

FW = "numpyro"


def test_version(run_framework):
    out = run_framework(FW, "--version")
    assert out["framework"] == FW and out["version"]


def test_polynomial_is_matches_exact_log_ml(run_framework, data_dir):
    n = 20000
    out = run_framework(FW, "--model", "polynomial", "--method", "is", "--n-points", "10", "--noise-sd", "1.0",
                        "--n-particles", str(n), "--repeats", "2")
    check_result(out, FW, "polynomial", "is", 2)
    check_is_log_ml(out, exact_gaussian_log_ml(data_dir, 10, 1.0), n)


def test_polynomial_hmc_matches_exact_posterior(run_framework, exact):
    s = 1000
    out = run_framework(FW, "--model", "polynomial", "--method", "hmc", "--n-points", "10", "--noise-sd", "1.0",
                        "--step-size", "0.05", "--n-samples", str(s), "--n-warmup", "200", "--repeats", "1")
    check_result(out, FW, "polynomial", "hmc", 1)
    assert out["quality"]["acceptance_rate"] > 0.9 and out["quality"]["divergences"] == 0
    check_hmc_means(out, exact["polynomial"](10, 1.0), s)
    check_mcmc_ess(out, s)
    # The runner measures the documented MCMC.run entry point too.
    assert any("MCMC.run" in n for n in out["notes"])


def test_polynomial_nuts_matches_exact_posterior(run_framework, exact):
    """NUTS with NumPyro's own adaptation: exact posterior means within 5 Monte Carlo standard
    errors taken from the ESS the row reports, ESS keys, no divergences."""
    s = 300
    out = run_framework(FW, "--model", "polynomial", "--method", "nuts", "--n-points", "10", "--noise-sd", "1.0",
                        "--n-samples", str(s), "--n-warmup", "300", "--repeats", "2")
    check_result(out, FW, "polynomial", "nuts", 2)
    q = out["quality"]
    assert q["divergences"] == 0
    # Dual averaging aims at 0.8; far below it would mean the adaptation did not work.
    assert 0.6 < q["acceptance_rate"] <= 1.0
    check_mcmc_ess(out, s)
    # tau = S / ESS turns the reported (smallest) ESS into check_hmc_means' autocorrelation time,
    # so the tolerance is 5 sd / sqrt(ESS).
    check_hmc_means(out, exact["polynomial"](10, 1.0), s, tau=s / q["ess"])
    # The timed calls reuse one compiled program; the runner counts compilations to prove it.
    assert any("XLA compilations during the 2 timed calls: 0" in n for n in out["notes"]), out["notes"]


def test_beta_bernoulli_is(run_framework, exact):
    n = 5000
    out = run_framework(FW, "--model", "beta_bernoulli", "--method", "is", "--n-particles", str(n), "--repeats", "2")
    check_result(out, FW, "beta_bernoulli", "is", 2)
    check_is_log_ml(out, exact["beta_bernoulli"]()["log_ml"], n)


def test_polynomial_vi_matches_exact_meanfield(run_framework, data_dir):
    """SVI + AutoNormal against the exact mean-field optimum (tolerances in checks.py), traced
    once with no recompilation, and the documented svi.run entry point timed for the notes."""
    out = run_framework(FW, *VI_FLAGS, "--repeats", "2")
    check_result(out, FW, "polynomial", "vi", 2)
    check_vi_config(out)
    check_vi_fit(out, exact_meanfield_optimum(data_dir, 10, 1.0))
    assert any("XLA compilations during the 2 timed calls: 0" in n for n in out["notes"]), out["notes"]
    assert any("svi.run" in n and "one call" in n for n in out["notes"]), out["notes"]

"""Handcoded JAX at tiny sizes (env "jax"): JSON shape and answers against exact references."""

from __future__ import annotations

import pytest

pytest.importorskip("jax")

from checks import VI_FLAGS, check_exact_row, check_hmc_means, check_is_log_ml, check_mcmc_ess, check_result, check_smc_log_ml, check_vi_config, check_vi_fit, exact_gaussian_log_ml, exact_meanfield_optimum  # noqa: E402

FW = "handcoded_jax"


def test_version(run_framework):
    out = run_framework(FW, "--version")
    assert out["framework"] == FW and out["version"]


def test_polynomial_is_matches_exact_log_ml(run_framework, data_dir):
    n = 20000
    out = run_framework(FW, "--model", "polynomial", "--method", "is", "--n-points", "10", "--noise-sd", "1.0",
                        "--n-particles", str(n), "--repeats", "2")
    check_result(out, FW, "polynomial", "is", 2)
    assert out["config"]["n_particles"] == n and out["config"]["n_points"] == 10
    check_is_log_ml(out, exact_gaussian_log_ml(data_dir, 10, 1.0), n)


def test_polynomial_hmc_matches_exact_posterior(run_framework, exact):
    s = 1000
    out = run_framework(FW, "--model", "polynomial", "--method", "hmc", "--n-points", "10", "--noise-sd", "1.0",
                        "--step-size", "0.05", "--n-samples", str(s), "--n-warmup", "200", "--repeats", "1")
    check_result(out, FW, "polynomial", "hmc", 1)
    assert out["quality"]["acceptance_rate"] > 0.9 and out["quality"]["divergences"] == 0
    check_hmc_means(out, exact["polynomial"](10, 1.0), s)
    check_mcmc_ess(out, s)


def test_beta_bernoulli_is(run_framework, exact):
    n = 5000
    out = run_framework(FW, "--model", "beta_bernoulli", "--method", "is", "--n-particles", str(n), "--repeats", "2")
    check_result(out, FW, "beta_bernoulli", "is", 2)
    check_is_log_ml(out, exact["beta_bernoulli"]()["log_ml"], n)


@pytest.mark.parametrize("model,tol", [
    # Spread of the bootstrap-PF log-ML over seeds at N = 2000 measured ~0.15 (HMM, T = 50)
    # and ~0.35 (LGSSM, T = 100); the tolerances are about 5 and 4 of those.
    ("hmm", 0.75), ("lgssm", 1.5)])
def test_smc_log_ml(run_framework, exact, model, tol):
    out = run_framework(FW, "--model", model, "--method", "smc", "--n-particles", "2000", "--repeats", "2")
    check_result(out, FW, model, "smc", 2)
    check_smc_log_ml(out, exact[model](), 2000, tol)


@pytest.mark.parametrize("model", ["hmm", "lgssm"])
def test_exact_log_ml(run_framework, exact, model):
    """Exact filtering (forward algorithm in log space / Kalman filter, jitted lax.scan) equals
    the float64 reference."""
    out = run_framework(FW, "--model", model, "--method", "exact", "--repeats", "3")
    check_exact_row(out, FW, model, exact[model]())


def test_polynomial_vi_matches_exact_meanfield(run_framework, data_dir):
    out = run_framework(FW, *VI_FLAGS, "--repeats", "2")
    check_result(out, FW, "polynomial", "vi", 2)
    check_vi_config(out)
    check_vi_fit(out, exact_meanfield_optimum(data_dir, 10, 1.0))


def test_errors_are_json(run_framework, tmp_path):
    out = run_framework(FW, "--model", "polynomial", "--no-such-flag", expect_ok=False)
    assert "no-such-flag" in out["error"]
    out = run_framework(FW, "--data-dir", str(tmp_path), expect_ok=False, with_data_dir=False)
    assert "not found" in out["error"] and "polynomial_n50_sd0.05.csv" in out["error"]
    out = run_framework(FW, "--model", "beta_bernoulli", "--method", "hmc", expect_ok=False)
    assert "does not implement" in out["error"]

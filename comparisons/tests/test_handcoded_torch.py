"""Handcoded PyTorch at tiny sizes (env "torch"): JSON shape and answers against exact references."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from checks import VI_FLAGS, check_hmc_means, check_is_log_ml, check_mcmc_ess, check_result, check_vi_config, check_vi_fit, exact_gaussian_log_ml, exact_meanfield_optimum  # noqa: E402

FW = "handcoded_torch"


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
    # Eager HMC is slow (a Python loop over every leapfrog step), so the run is short.
    s = 600
    out = run_framework(FW, "--model", "polynomial", "--method", "hmc", "--n-points", "10", "--noise-sd", "1.0",
                        "--step-size", "0.05", "--n-samples", str(s), "--n-warmup", "100", "--repeats", "1")
    check_result(out, FW, "polynomial", "hmc", 1)
    assert out["quality"]["acceptance_rate"] > 0.9 and out["quality"]["divergences"] == 0
    check_hmc_means(out, exact["polynomial"](10, 1.0), s)
    check_mcmc_ess(out, s)


def test_beta_bernoulli_is(run_framework, exact):
    n = 5000
    out = run_framework(FW, "--model", "beta_bernoulli", "--method", "is", "--n-particles", str(n), "--repeats", "2")
    check_result(out, FW, "beta_bernoulli", "is", 2)
    check_is_log_ml(out, exact["beta_bernoulli"]()["log_ml"], n)


def test_polynomial_vi_matches_exact_meanfield(run_framework, data_dir):
    out = run_framework(FW, *VI_FLAGS, "--repeats", "1")
    check_result(out, FW, "polynomial", "vi", 1)
    check_vi_config(out)
    check_vi_fit(out, exact_meanfield_optimum(data_dir, 10, 1.0))

"""GenJAX 0.10.3 at tiny sizes (env "genjax"): its flagged HMC against the manual one; the protocol
tests every framework shares are in test_protocol.py."""

from __future__ import annotations

import pytest

pytest.importorskip("genjax")

from checks import check_hmc_means, check_mcmc_ess, check_result  # noqa: E402

FW = "genjax"
MANUAL = "genjax_manual_hmc"  # HMC written over GenJAX's assess (same env, same module)


def test_polynomial_hmc_runs_and_is_flagged(run_framework, exact):
    # genjax 0.10.3's HMC reuses the initial gradient in every leapfrog step, so it is not a
    # correct HMC kernel: at step 0.05 (which the correct integrator accepts ~100%) it
    # almost never accepts.  The test therefore checks the flag and only a loose sanity
    # bound (within 3 exact posterior sds) at step 0.01, where it does move.
    out = run_framework(FW, "--model", "polynomial", "--method", "hmc", "--n-points", "10", "--noise-sd", "1.0",
                        "--step-size", "0.01", "--n-samples", "1000", "--n-warmup", "200", "--repeats", "1")
    check_result(out, FW, "polynomial", "hmc", 1)
    assert "genjax-0.10.3-hmc-stale-gradient" in out["flags"]
    q, ex = out["quality"], exact["polynomial"](10, 1.0)
    assert q["acceptance_rate"] > 0.3
    for got, mean, sd in zip(q["posterior_mean"], ex["posterior_mean"], ex["posterior_sd"]):
        assert abs(got - mean) < 3 * sd
    check_mcmc_ess(out, 1000)


def test_manual_hmc_moves_at_low_noise_where_builtin_does_not(run_framework, exact):
    """Noise 0.05, n = 10, the benchmark's step 0.01: the built-in HMC (stale gradient) never
    leaves the zero start (every transition diverges), the manual row mixes and recovers the
    exact posterior means."""
    flags = ("--model", "polynomial", "--method", "hmc", "--n-points", "10", "--noise-sd", "0.05",
             "--step-size", "0.01", "--n-samples", "1000", "--n-warmup", "500", "--repeats", "1")
    builtin = run_framework(FW, *flags)
    assert builtin["quality"]["posterior_sd"] == [0.0, 0.0, 0.0]
    assert builtin["quality"]["acceptance_rate"] < 0.01
    out = run_framework(MANUAL, *flags)
    check_result(out, MANUAL, "polynomial", "hmc", 1)
    q = out["quality"]
    assert q["acceptance_rate"] > 0.5 and q["divergences"] == 0
    assert all(sd > 0 for sd in q["posterior_sd"])
    check_hmc_means(out, exact["polynomial"](10, 0.05), 1000)
    check_mcmc_ess(out, 1000)


def test_manual_hmc_has_only_hmc(run_framework):
    out = run_framework(MANUAL, "--model", "polynomial", "--method", "is", expect_ok=False)
    assert "does not implement" in out["error"]

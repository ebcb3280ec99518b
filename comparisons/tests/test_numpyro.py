"""NumPyro at tiny sizes (env "jax"): JSON shape and answers against exact references."""

from __future__ import annotations

import pytest

pytest.importorskip("numpyro")

from checks import VI_FLAGS, check_hmc_means, check_is_log_ml, check_mcmc_ess, check_result, check_vi_config, check_vi_fit, exact_gaussian_log_ml, exact_meanfield_optimum  # noqa: E402

import common  # noqa: E402  (conftest.py puts comparisons/ on sys.path)

FW = "numpyro"


def check_exact_row(out: dict, model: str, exact_log_ml: float) -> None:
    """An exact-filtering row (``--method exact``): valid protocol JSON, ``quality`` holding only
    ``log_ml`` (no ``ess``: nothing is sampled), no particle count in ``config``, the exact note,
    and log_ml equal to the float64 reference up to float32 rounding: relative 1e-5 of |log_ml|
    (float32 carries ~6e-8 relative per operation; a T-step filter accumulates well under 1e-5)
    plus 1e-4 absolute."""
    check_result(out, FW, model, "exact", 3)
    assert set(out["quality"]) == {"log_ml"}, out["quality"]
    assert "n_particles" not in out["config"], out["config"]
    assert common.exact_log_ml_note(exact_log_ml) in out["notes"], out["notes"]
    tol = 1e-5 * abs(exact_log_ml) + 1e-4
    assert abs(out["quality"]["log_ml"] - exact_log_ml) < tol, (out["quality"]["log_ml"], exact_log_ml, tol)


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


@pytest.mark.parametrize("model", ["hmm", "lgssm"])
def test_exact_log_ml(run_framework, exact, model):
    """Exact filtering (HMM: enumeration through funsor; LGSSM: Kalman filter in numpyro.factor)
    equals the forward algorithm / Kalman filter in float64, and the timed calls reuse one
    compiled program."""
    out = run_framework(FW, "--model", model, "--method", "exact", "--repeats", "3")
    check_exact_row(out, model, exact[model]())
    assert any("XLA compilations during the 3 timed calls: 0" in n for n in out["notes"]), out["notes"]

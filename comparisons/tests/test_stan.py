"""Stan runner: answers against the exact conjugate posterior, and the protocol's JSON.

Run from the repository root with the Stan virtualenv:
    comparisons/.venv-stan/bin/python -m pytest comparisons/tests/test_stan.py
Each run goes through ``comparisons/run.py --framework stan``, the manifest's entry.
Tiny sizes, but the first run compiles two httpstan models and the static-HMC driver (about
a minute each on 2 cores); later runs reuse comparisons/.build/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("stan")

COMPARISONS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(COMPARISONS)
sys.path.insert(0, COMPARISONS)

import common  # noqa: E402
from checks import check_mcmc_ess  # noqa: E402

N_POINTS = 10
NOISE_SD = 1.0


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
    """The committed data when it exists; otherwise a stand-in file of the same shape.

    The check is against the exact posterior of whatever data is used, so a stand-in
    tests the sampler just as well.
    """
    committed = os.path.join(REPO, "data")
    if os.path.exists(common.polynomial_path(committed, N_POINTS, NOISE_SD)):
        return committed
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(42)
    x = np.linspace(0.0, 1.0, N_POINTS)
    y = 0.5 - 1.25 * x + 2.0 * x ** 2 + NOISE_SD * rng.standard_normal(N_POINTS)
    with open(common.polynomial_path(str(d), N_POINTS, NOISE_SD), "w") as fh:
        fh.write("x,y\n")
        for xi, yi in zip(x, y):
            fh.write(f"{float(xi)!r},{float(yi)!r}\n")
    return str(d)


def run(data_dir: str, *flags: str) -> tuple[int, dict]:
    cmd = [sys.executable, os.path.join(COMPARISONS, "run.py"), "--framework", "stan", "--data-dir", data_dir, *flags]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    lines = [l for l in done.stdout.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one JSON line on stdout, got {done.stdout!r}; stderr: {done.stderr[-2000:]}"
    return done.returncode, json.loads(lines[0])


def exact(data_dir: str) -> dict:
    args = common.parse_args("stan", ["--n-points", str(N_POINTS), "--noise-sd", str(NOISE_SD),
                                      "--data-dir", data_dir])
    return common.exact_polynomial(common.load_polynomial(args, common.load_hyperparameters(data_dir)))


def assert_near_exact(result: dict, reference: dict) -> None:
    q = result["quality"]
    mean = np.array(q["posterior_mean"])
    sd = np.array(q["posterior_sd"])
    # Monte Carlo standard error of each posterior mean from the chain's own ESS; 5 MCSE
    # keeps the false-failure rate negligible across the three latents.
    mcse = sd / np.sqrt(np.array(q["ess_per_latent"]))
    err = np.abs(mean - np.array(reference["posterior_mean"]))
    assert np.all(err < 5 * mcse), f"posterior mean {mean} vs exact {reference['posterior_mean']} (mcse {mcse})"
    np.testing.assert_allclose(sd, reference["posterior_sd"], rtol=0.25)


def check_protocol(result: dict, method: str, repeats: int) -> None:
    assert result["framework"] == "stan"
    assert result["model"] == "polynomial" and result["method"] == method
    assert result["config"]["n_points"] == N_POINTS
    assert len(result["times_s"]) == repeats and all(t > 0 for t in result["times_s"])
    assert result["compile_time_s"] >= 0
    assert result["peak_memory_bytes"] > 0
    assert 0 < result["quality"]["acceptance_rate"] <= 1
    check_mcmc_ess(result, result["config"]["n_samples"])


def test_nuts_matches_exact_posterior(data_dir):
    rc, result = run(data_dir, "--model", "polynomial", "--method", "nuts", "--n-points", str(N_POINTS),
                     "--noise-sd", str(NOISE_SD), "--n-samples", "1000", "--n-warmup", "500",
                     "--repeats", "2", "--seed", "3")
    assert rc == 0, result
    check_protocol(result, "nuts", 2)
    assert result["quality"]["divergences"] == 0
    assert_near_exact(result, exact(data_dir))


@pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None, reason="static HMC needs g++")
def test_static_hmc_matches_exact_posterior(data_dir):
    rc, result = run(data_dir, "--model", "polynomial", "--method", "hmc", "--n-points", str(N_POINTS),
                     "--noise-sd", str(NOISE_SD), "--n-samples", "1000", "--n-warmup", "500",
                     "--step-size", "0.01", "--n-leapfrog", "20", "--repeats", "2", "--seed", "3")
    assert rc == 0, result
    check_protocol(result, "hmc", 2)
    assert any("20 leapfrog steps of 0.01" in n for n in result["notes"])
    # Step 0.01 on the sd-1.0 data is far inside the stable region: nearly every proposal is kept.
    assert result["quality"]["acceptance_rate"] > 0.95
    assert_near_exact(result, exact(data_dir))


@pytest.fixture(scope="module")
def beta_bernoulli_dir(tmp_path_factory) -> str:
    committed = os.path.join(REPO, "data")
    if os.path.exists(os.path.join(committed, "beta_bernoulli.csv")):
        return committed
    d = tmp_path_factory.mktemp("bb")
    y = (np.random.default_rng(42).random(50) < 0.7).astype(int)
    with open(os.path.join(str(d), "beta_bernoulli.csv"), "w") as fh:
        fh.write("y\n" + "".join(f"{v}\n" for v in y))
    return str(d)


def test_beta_bernoulli_nuts_matches_exact_posterior(beta_bernoulli_dir):
    rc, result = run(beta_bernoulli_dir, "--model", "beta_bernoulli", "--method", "nuts",
                     "--n-samples", "1000", "--n-warmup", "500", "--repeats", "1", "--seed", "5")
    assert rc == 0, result
    args = common.parse_args("stan", ["--data-dir", beta_bernoulli_dir])
    reference = common.exact_beta_bernoulli(
        common.load_beta_bernoulli(args, common.load_hyperparameters(beta_bernoulli_dir)))
    q = result["quality"]
    mcse = q["posterior_sd"][0] / np.sqrt(q["ess"])
    assert abs(q["posterior_mean"][0] - reference["posterior_mean"][0]) < 5 * mcse
    assert abs(q["posterior_sd"][0] - reference["posterior_sd"][0]) < 0.25 * reference["posterior_sd"][0]


def test_unsupported_method_is_a_json_error(data_dir):
    rc, result = run(data_dir, "--model", "beta_bernoulli", "--method", "is")
    assert rc != 0
    assert result["framework"] == "stan" and "does not implement" in result["error"]


def test_missing_data_file_is_a_json_error(tmp_path):
    rc, result = run(str(tmp_path), "--model", "polynomial", "--method", "nuts", "--n-points", "10")
    assert rc != 0
    assert "polynomial_n10_sd0.05.csv" in result["error"]


def test_prepare_builds_once_and_the_run_reuses_the_build(data_dir):
    """--prepare (the binary's untimed build step) leaves the driver cached for the timed run."""
    rc, prepared = run(data_dir, "--prepare", "--model", "polynomial", "--method", "hmc")
    assert rc == 0 and prepared["prepared"] is True, prepared
    rc, again = run(data_dir, "--prepare", "--model", "polynomial", "--method", "hmc")
    assert rc == 0 and again["build_time_s"] == 0.0 and again["notes"] == ["static-HMC driver already built"], again
    rc, result = run(data_dir, "--model", "polynomial", "--method", "hmc", "--n-points", str(N_POINTS),
                     "--noise-sd", str(NOISE_SD), "--n-samples", "20", "--n-warmup", "10", "--repeats", "1")
    assert rc == 0 and result["compile_time_s"] == 0.0, result
    assert any("reused the cached static-HMC driver build" in n for n in result["notes"]), result["notes"]
    rc, nothing = run(data_dir, "--prepare", "--model", "beta_bernoulli", "--method", "is")
    assert rc == 0 and nothing["prepared"] is False, nothing

"""Stan runner: answers against the exact conjugate posterior, and the protocol's JSON.

Run from the repository root with the Stan virtualenv:
    comparisons/.venv-stan/bin/python -m pytest comparisons/tests/test_stan.py
Each run goes through ``comparisons/run.py --framework stan``, the manifest's entry. Every row
(NUTS and static HMC) runs in the compiled C++ driver (stan_driver.cpp), so every test needs
g++. Tiny sizes, but the first run builds two drivers, one per Stan program (about a minute
each on 2 cores, longer on a loaded machine); later runs reuse comparisons/.build/.
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
import stan_impl  # noqa: E402
from checks import check_mcmc_ess  # noqa: E402

needs_cxx = pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None,
                               reason="the Stan driver needs g++")

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


def check_driver_timing(result: dict) -> None:
    """times_s is the sampler time measured inside the C++ driver: it agrees with Stan's own
    Elapsed Time report (warm-up + sampling, whole milliseconds), which a time including the
    process start, JSON or an HTTP round trip would not."""
    assert any(n.startswith(stan_impl.TIMING_NOTE) for n in result["notes"]), result["notes"]
    note = next(n for n in result["notes"] if n.startswith("Stan's own Elapsed Time"))
    elapsed = float(note.split("median ")[1].split(" s")[0])
    timed = float(np.median(result["times_s"]))
    assert abs(timed - elapsed) < 0.002 + 0.05 * timed, (timed, elapsed)


@needs_cxx
def test_nuts_matches_exact_posterior(data_dir):
    rc, result = run(data_dir, "--model", "polynomial", "--method", "nuts", "--n-points", str(N_POINTS),
                     "--noise-sd", str(NOISE_SD), "--n-samples", "1000", "--n-warmup", "500",
                     "--repeats", "2", "--seed", "3")
    assert rc == 0, result
    check_protocol(result, "nuts", 2)
    assert any("NUTS through the C++ driver: stan::services::sample::hmc_nuts_diag_e_adapt" in n
               for n in result["notes"]), result["notes"]
    assert not any("pystan Model.sample" in n for n in result["notes"])
    check_driver_timing(result)
    q = result["quality"]
    assert q["divergences"] == 0
    # The keys the pystan-timed row reported, all kept.
    assert {"step_size", "mean_tree_depth", "mean_n_leapfrog"} <= set(q), q
    assert 0 < q["step_size"] < 2 and 1 <= q["mean_tree_depth"] <= 10 and q["mean_n_leapfrog"] >= 1
    # Dual averaging targets a mean accept_stat of 0.8.
    assert 0.6 < q["acceptance_rate"] < 0.99
    assert_near_exact(result, exact(data_dir))


@needs_cxx
def test_nuts_four_chains_in_one_services_call(data_dir, tmp_path):
    """--n-chains 4 (the suite's multi-chain NUTS rows): Stan's multi-chain services call, as
    CmdStan's num_chains=4. Four different chains (own inits and RNG streams), draws.npy of
    shape (4, draws, 3) and accept.npy of all 4 * draws transitions, posterior means within 5
    Monte Carlo standard errors of the exact posterior, and four chains' worth of ESS (pooled
    ESS well above the best single chain's), with the driver's timing note kept."""
    s, c = 300, 4
    raw = tmp_path / "raw"
    rc, result = run(data_dir, "--model", "polynomial", "--method", "nuts", "--n-points", str(N_POINTS),
                     "--noise-sd", str(NOISE_SD), "--n-samples", str(s), "--n-warmup", "300",
                     "--repeats", "2", "--seed", "5", "--n-chains", str(c), "--raw-out", str(raw))
    assert rc == 0, result
    assert result["config"]["n_chains"] == c
    # The wall time of the call covers every chain's own Elapsed Time (4 chains share 2 cores,
    # so it is not equal to the slowest chain's as it is for one chain).
    assert any(n.startswith(stan_impl.TIMING_NOTE) for n in result["notes"]), result["notes"]
    note = next(n for n in result["notes"] if n.startswith("Stan's own Elapsed Time"))
    assert float(np.median(result["times_s"])) > float(note.split("median ")[1].split(" s")[0]) - 0.002, note
    assert any(f"{c} chains in one multi-chain services call" in n for n in result["notes"]), result["notes"]
    q = result["quality"]
    assert q["divergences"] == 0 and 0.6 < q["acceptance_rate"] < 0.99
    check_mcmc_ess(result, c * s)
    assert_near_exact(result, exact(data_dir))

    draws, accept = np.load(raw / "draws.npy"), np.load(raw / "accept.npy")
    assert draws.shape == (c, s, 3) and accept.shape == (c * s,)
    assert q["acceptance_rate"] == pytest.approx(float(accept.mean()), rel=1e-12)
    assert len({tuple(draws[k, 0]) for k in range(c)}) == c, "the chains are not distinct"
    for j in range(3):
        pooled = common.ess_mean(draws[:, :, j])
        singles = [common.ess_mean(draws[k, :, j]) for k in range(c)]
        assert pooled > 1.5 * max(singles), (j, pooled, singles)


@needs_cxx
def test_static_hmc_refuses_several_chains(data_dir):
    rc, result = run(data_dir, "--model", "polynomial", "--method", "hmc", "--n-points", str(N_POINTS),
                     "--noise-sd", str(NOISE_SD), "--repeats", "1", "--n-chains", "4")
    assert rc != 0 and "multi_chain" in result["error"], result


def test_latent_columns_map_names_or_a_vector_parameter():
    sampler = ["lp__", "accept_stat__", "stepsize__"]
    assert stan_impl.latent_columns(sampler + ["a", "b", "c"], ("a", "b", "c")) == [3, 4, 5]
    assert stan_impl.latent_columns(sampler + ["c", "a", "b"], ("a", "b", "c")) == [4, 5, 3]
    assert stan_impl.latent_columns(sampler + ["beta.1", "beta.2", "beta.3"], ("a", "b", "c")) == [3, 4, 5]
    with pytest.raises(RuntimeError):
        stan_impl.latent_columns(sampler + ["beta.1", "beta.2"], ("a", "b", "c"))


@needs_cxx
def test_static_hmc_matches_exact_posterior(data_dir):
    rc, result = run(data_dir, "--model", "polynomial", "--method", "hmc", "--n-points", str(N_POINTS),
                     "--noise-sd", str(NOISE_SD), "--n-samples", "1000", "--n-warmup", "500",
                     "--step-size", "0.01", "--n-leapfrog", "20", "--repeats", "2", "--seed", "3")
    assert rc == 0, result
    check_protocol(result, "hmc", 2)
    assert any("20 leapfrog steps of 0.01" in n for n in result["notes"])
    # Step 0.01 on the sd-1.0 data is far inside the stable region: nearly every proposal is kept.
    assert result["quality"]["acceptance_rate"] > 0.95
    check_driver_timing(result)
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


@needs_cxx
def test_beta_bernoulli_nuts_matches_exact_posterior(beta_bernoulli_dir):
    rc, result = run(beta_bernoulli_dir, "--model", "beta_bernoulli", "--method", "nuts",
                     "--n-samples", "1000", "--n-warmup", "500", "--repeats", "2", "--seed", "5")
    assert rc == 0, result
    assert len(result["times_s"]) == 2 and all(t > 0 for t in result["times_s"])
    assert any("NUTS through the C++ driver" in n for n in result["notes"]), result["notes"]
    check_driver_timing(result)
    assert result["quality"]["divergences"] == 0
    assert {"step_size", "mean_tree_depth", "mean_n_leapfrog"} <= set(result["quality"])
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


@needs_cxx
def test_prepare_builds_once_and_the_run_reuses_the_build(data_dir):
    """--prepare (the binary's untimed build step) leaves the driver cached for the timed runs;
    one driver per program serves both polynomial methods."""
    rc, prepared = run(data_dir, "--prepare", "--model", "polynomial", "--method", "hmc")
    assert rc == 0 and prepared["prepared"] is True, prepared
    for method in ("hmc", "nuts"):
        rc, again = run(data_dir, "--prepare", "--model", "polynomial", "--method", method)
        assert rc == 0 and again["build_time_s"] == 0.0 and again["notes"] == ["Stan driver already built"], again
    for method in ("hmc", "nuts"):
        rc, result = run(data_dir, "--model", "polynomial", "--method", method, "--n-points", str(N_POINTS),
                         "--noise-sd", str(NOISE_SD), "--n-samples", "20", "--n-warmup", "10", "--repeats", "1")
        assert rc == 0 and result["compile_time_s"] == 0.0, result
        assert any("reused the cached Stan driver build" in n for n in result["notes"]), result["notes"]
    rc, nothing = run(data_dir, "--prepare", "--model", "beta_bernoulli", "--method", "is")
    assert rc == 0 and nothing["prepared"] is False, nothing


@needs_cxx
def test_driver_answers_bad_arguments_with_a_json_error():
    binary, _ = stan_impl.build_driver("polynomial", stan_impl.POLYNOMIAL_PROGRAM)
    for argv in ([], ["nuts", "data.json"], ["hmc", "data.json", "0", "1", "10", "10"], ["gibbs"] + ["1"] * 5):
        done = subprocess.run([binary, *argv], capture_output=True, text=True)
        assert done.returncode != 0 and "usage: stan_driver" in json.loads(done.stdout)["error"], (argv, done.stdout)

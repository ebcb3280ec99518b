"""NumPyro at tiny sizes (env "jax"): its NUTS rows against exact references; the protocol tests
every framework shares are in test_protocol.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("numpyro")

from checks import check_hmc_means, check_mcmc_ess, check_result  # noqa: E402

import common  # noqa: E402  (conftest.py puts comparisons/ on sys.path)

FW = "numpyro"


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


def test_polynomial_nuts_four_chains(run_framework, exact, tmp_path):
    """--n-chains 4 (what the suite's multi-chain NUTS rows pass): four vectorized chains in one
    timed call, n_chains echoed in config, posterior means within 5 Monte Carlo standard errors
    of the exact posterior (from the pooled ESS the row reports), draws.npy of shape
    (4, draws, 3) and accept.npy of all 4 * draws transitions, and four chains' worth of ESS:
    each latent's pooled ESS near the sum of the chains' own ESSs and well above any single
    chain's (measured over 20 seeds: pooled / sum 0.83-1.2, pooled / largest single 2.3-3.4)."""
    s, c = 300, 4
    raw = tmp_path / "raw"
    out = run_framework(FW, "--model", "polynomial", "--method", "nuts", "--n-points", "10", "--noise-sd", "1.0",
                        "--n-samples", str(s), "--n-warmup", "300", "--repeats", "2", "--n-chains", str(c),
                        "--raw-out", str(raw))
    check_result(out, FW, "polynomial", "nuts", 2)
    assert out["config"]["n_chains"] == c
    q = out["quality"]
    assert q["divergences"] == 0 and 0.6 < q["acceptance_rate"] <= 1.0
    check_mcmc_ess(out, c * s)
    check_hmc_means(out, exact["polynomial"](10, 1.0), c * s, tau=c * s / q["ess"])
    assert any("XLA compilations during the 2 timed calls: 0" in n for n in out["notes"]), out["notes"]
    assert any("chain_method='vectorized'" in n for n in out["notes"]), out["notes"]

    draws, accept = np.load(raw / "draws.npy"), np.load(raw / "accept.npy")
    assert draws.shape == (c, s, 3) and accept.shape == (c * s,)
    assert q["acceptance_rate"] == pytest.approx(float(accept.mean()), rel=1e-12)
    for j in range(3):
        pooled = common.ess_mean(draws[:, :, j])
        assert pooled == pytest.approx(q["ess_per_latent"][j], rel=1e-12)
        singles = [common.ess_mean(draws[k, :, j]) for k in range(c)]
        assert pooled > 0.6 * sum(singles) and pooled > 1.5 * max(singles), (j, pooled, singles)


def _moment_errors(draws: np.ndarray):
    """Pooled mean and sd per latent of (chains, draws, latents), with Monte Carlo standard
    errors: sd / sqrt(ESS of the mean) for the mean; for the sd, the delta method on the
    variance, whose standard error is the sd of the squared deviations over the square root of
    their ESS (ArviZ's ess(method="sd") idea), divided by 2 sd."""
    flat = draws.reshape(-1, draws.shape[2])
    mean, sd = flat.mean(axis=0), flat.std(axis=0, ddof=1)
    se_mean = np.array([sd[j] / math.sqrt(common.ess_mean(draws[:, :, j])) for j in range(draws.shape[2])])
    sq = (draws - mean) ** 2
    se_sd = np.array([np.std(sq[:, :, j]) / math.sqrt(common.ess_mean(sq[:, :, j])) / (2 * sd[j])
                      for j in range(draws.shape[2])])
    return mean, sd, se_mean, se_sd


def test_vectorized_chains_agree_with_sequential_chains_and_mcmc(data_dir):
    """The four-chain row's vectorized chains (jax.vmap of init + scan over random.split(key, 4)),
    checked once outside timing: (1) their posterior mean and sd agree with the same four keys
    run as four sequential single chains (the single-chain row's function) within 5 Monte Carlo
    standard errors of the difference (the chains start identical and drift apart through float32
    rounding in the two compiled programs, so they are not compared draw by draw); (2) with no
    warm-up they are NumPyro's own MCMC(NUTS(...), num_chains=4, chain_method="vectorized")
    draws for the same key (same per-chain keys, initial points and transitions)."""
    import jax
    from numpyro.infer import MCMC

    import numpyro_impl

    a = common.parse_args(FW, ["--model", "polynomial", "--method", "nuts", "--n-points", "10", "--noise-sd", "1.0",
                               "--data-dir", data_dir])
    model_args = numpyro_impl.polynomial_nuts_data(a, common.load_hyperparameters(data_dir))
    c, w, s = 4, 300, 300
    key = jax.random.PRNGKey(3)
    one = numpyro_impl._nuts_chain(numpyro_impl._nuts_kernel(), model_args, w, s)
    vec = np.asarray(jax.jit(numpyro_impl.vectorized_chains(one, c))(key)[0], np.float64)
    single = jax.jit(numpyro_impl._nuts_chain(numpyro_impl._nuts_kernel(), model_args, w, s))
    seq = np.stack([np.asarray(single(k)[0], np.float64) for k in jax.random.split(key, c)])
    assert vec.shape == seq.shape == (c, s, 3)
    m_v, sd_v, se_mv, se_sv = _moment_errors(vec)
    m_s, sd_s, se_ms, se_ss = _moment_errors(seq)
    assert np.all(np.abs(m_v - m_s) < 5 * np.hypot(se_mv, se_ms)), (m_v, m_s, np.hypot(se_mv, se_ms))
    assert np.all(np.abs(sd_v - sd_s) < 5 * np.hypot(se_sv, se_ss)), (sd_v, sd_s, np.hypot(se_sv, se_ss))

    n = 50
    no_warmup = numpyro_impl._nuts_chain(numpyro_impl._nuts_kernel(), model_args, 0, n)
    ours = np.asarray(jax.jit(numpyro_impl.vectorized_chains(no_warmup, c))(key)[0])
    mcmc = MCMC(numpyro_impl._nuts_kernel(), num_warmup=0, num_samples=n, num_chains=c,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(key, *model_args)
    theirs = mcmc.get_samples(group_by_chain=True)
    theirs = np.stack([np.asarray(theirs[k]) for k in ("a", "b", "c")], axis=-1)
    # Bit-identical here; the tolerance only allows float32 rounding of a differently fused program.
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)

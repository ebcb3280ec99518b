"""Tests of comparisons/common.py (needs only numpy; runs in every env)."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

import common
from checks import exact_meanfield_optimum


def test_flag_defaults_and_sd_tag():
    a = common.parse_args("t", [])
    assert (a.model, a.method, a.n_points, a.noise_sd, a.n_leapfrog, a.data_dir) == ("polynomial", "is", 50, 0.05, 20, "data")
    assert common.sd_tag(0.05) == "0.05" and common.sd_tag(1) == "1.0"
    assert common.polynomial_path("data", 50, 1.0) == os.path.join("data", "polynomial_n50_sd1.0.csv")


def test_unknown_flag_is_a_json_error(capsys):
    with pytest.raises(SystemExit) as e:
        common.parse_args("t", ["--n-point", "5"])  # no abbreviations either
    assert e.value.code != 0
    out = json.loads(capsys.readouterr().out)
    assert out["framework"] == "t" and "n-point" in out["error"]



def test_vi_flags_config_and_quality():
    a = common.parse_args("t", ["--method", "vi"])
    assert (a.n_steps, a.learning_rate, a.n_elbo_samples) == (2000, 0.01, 1)
    cfg = common.config_of(a)
    assert (cfg["n_steps"], cfg["learning_rate"], cfg["n_elbo_samples"]) == (2000, 0.01, 1)
    assert not {"n_particles", "n_samples", "step_size"} & set(cfg)
    assert "n_steps" not in common.config_of(common.parse_args("t", ["--method", "hmc"]))
    # The guide starts at scale softplus(raw) = 1.
    assert math.log1p(math.exp(common.VI_INIT_RAW_SCALE)) == pytest.approx(1.0, abs=1e-15)
    # elbo: mean over the last ceil(10%) of the steps, at least one.
    assert [common.vi_elbo_window(n) for n in (2000, 30, 15, 3)] == [200, 3, 2, 1]
    q = common.vi_quality(np.array([1.0, 2.0, 3.0], np.float32), [0.5, 0.25, 0.125], np.arange(20.0))
    assert q == {"posterior_mean": [1.0, 2.0, 3.0], "posterior_sd": [0.5, 0.25, 0.125], "elbo": 18.5}


def test_exact_method_flags_config_and_quality():
    """--method exact (exact filtering of hmm / lgssm) parses, its config has no particle count,
    and its quality block is the log-ML alone (no ess)."""
    assert "exact" in common.METHODS
    for model in ("hmm", "lgssm"):
        a = common.parse_args("t", ["--model", model, "--method", "exact"])
        assert (a.model, a.method) == (model, "exact")
        assert common.config_of(a) == {"repeats": 10, "seed": 0}
    assert common.exact_quality(np.float32(-68.5)) == {"log_ml": -68.5}


def test_bad_vi_values_are_json_errors(capsys):
    for flags in (["--learning-rate", "0"], ["--learning-rate", "nan"], ["--n-steps", "0"], ["--n-elbo-samples", "0"]):
        with pytest.raises(SystemExit) as e:
            common.parse_args("t", ["--method", "vi", *flags])
        assert e.value.code == 2
        out = json.loads(capsys.readouterr().out)
        assert flags[0] in out["error"], out

def test_malformed_csv_names_file_and_line(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("x,y\n0.0,1.0\n0.5,oops\n")
    with pytest.raises(common.DataError, match=r"bad.csv:3: column 'y'"):
        common.read_csv_columns(str(p), ("x", "y"), (float, float))


def test_hyperparameters_defaults_and_partial_file(tmp_path):
    h = common.load_hyperparameters(str(tmp_path))
    assert h["polynomial"]["prior_sd"] == 1.0 and h.notes
    (tmp_path / "datasets.json").write_text(json.dumps({"beta_bernoulli": {"alpha": 3.0, "beta": 5.0, "n": 50}}))
    h = common.load_hyperparameters(str(tmp_path))
    assert h["beta_bernoulli"]["alpha"] == 3.0 and h["lgssm"]["a"] == 0.9
    assert any("'polynomial'" in n for n in h.notes)


def test_quality_helpers():
    lw = np.log(np.array([1.0, 1.0, 2.0]))
    assert common.log_ml_from_log_weights(lw + 1000.0) == pytest.approx(1000.0 + math.log(4.0 / 3.0))
    assert common.ess_from_log_weights(np.zeros(7)) == pytest.approx(7.0)
    mean, sd = common.weighted_moments(np.array([0.0, 2.0]), np.log([1.0, 3.0]))
    assert mean == pytest.approx([1.5]) and sd == pytest.approx([math.sqrt(0.75)])


def test_exact_polynomial_agrees_with_the_gaussian_marginal(data_dir):
    """Bayes' rule at theta = 0 holds for exact_polynomial's log p(y), mean and covariance (on
    whatever data the runs use; the committed data are checked against data/exact.json below)."""
    a = common.parse_args("t", ["--data-dir", data_dir, "--n-points", "10", "--noise-sd", "1.0"])
    d = common.load_polynomial(a, common.load_hyperparameters(data_dir))
    ex = common.exact_polynomial(d)
    # Bayes' rule at theta = 0: log p(y) = log p(y|0) + log p(0) - log p(0|y).
    phi, s2, p2 = d.design, d.noise_sd ** 2, d.prior_sd ** 2
    cov = np.linalg.inv(phi.T @ phi / s2 + np.eye(3) / p2)
    m = np.asarray(ex["posterior_mean"])
    assert np.sqrt(np.diag(cov)) == pytest.approx(ex["posterior_sd"])
    log_lik0 = -0.5 * np.sum(d.y ** 2) / s2 - 0.5 * len(d.y) * math.log(2 * math.pi * s2)
    log_prior0 = -1.5 * math.log(2 * math.pi * p2)
    log_post0 = -0.5 * m @ np.linalg.solve(cov, m) - 0.5 * np.linalg.slogdet(2 * math.pi * cov)[1]
    assert ex["log_ml"] == pytest.approx(log_lik0 + log_prior0 - log_post0, abs=1e-9)



def test_exact_meanfield_optimum(data_dir):
    """The VI tests' reference: loc is the posterior mean, scale_j = 1 / sqrt(L_jj) (at most the
    posterior sd), and its ELBO, E_q[log p(y, z)] + H(q) computed term by term, is below log p(y)."""
    a = common.parse_args("t", ["--data-dir", data_dir, "--n-points", "10", "--noise-sd", "1.0"])
    d = common.load_polynomial(a, common.load_hyperparameters(data_dir))
    ex, mf = common.exact_polynomial(d), exact_meanfield_optimum(data_dir, 10, 1.0)
    assert np.all(mf["scale"] <= np.asarray(ex["posterior_sd"]))
    phi, m, v = d.design, mf["loc"], mf["scale"] ** 2
    resid = d.y - phi @ m
    e_log_lik = -0.5 * (len(d.y) * math.log(2 * math.pi * d.noise_sd ** 2)
                        + (resid @ resid + np.sum((phi ** 2) @ v)) / d.noise_sd ** 2)
    e_log_prior = -0.5 * np.sum(math.log(2 * math.pi * d.prior_sd ** 2) + (m ** 2 + v) / d.prior_sd ** 2)
    entropy = 0.5 * np.sum(np.log(2 * math.pi * math.e * v))
    assert mf["elbo"] == pytest.approx(e_log_lik + e_log_prior + entropy, abs=1e-9)
    assert mf["log_ml"] == pytest.approx(ex["log_ml"], abs=1e-9) and mf["elbo"] < mf["log_ml"]


# Agreement with the Rust side's exact references (data/exact.json, written by `benchmarks data`
# from gen_runtime::exact, the one definition of each quantity). The tolerance is 1e-10
# relative, not equality: numpy and Rust evaluate the same formulas in a different float64
# order (the polynomial log-ML here through an n x n slogdet, there through the matrix
# determinant lemma), which moves the last few of the 16 digits; a wrong formula, prior or data
# set is off by far more.
EXACT_REL_TOL = 1e-10


def _assert_close(got, want, what: str) -> None:
    """``got`` equals ``want`` to EXACT_REL_TOL relative to the size of ``want`` (a scalar, or a
    vector/matrix compared by its largest entry, so that a component near 0 is not held to a
    relative error of its own)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    err = float(np.max(np.abs(got - want)))
    assert err <= EXACT_REL_TOL * float(np.max(np.abs(want))), (what, got.tolist(), want.tolist(), err)


def _committed_exact() -> tuple:
    """The committed data folder, its data/exact.json and the hyperparameters of datasets.json."""
    data = os.path.join(os.path.dirname(__file__), "..", "..", "data")
    with open(os.path.join(data, "exact.json")) as fh:
        return data, json.load(fh), common.load_hyperparameters(data)


def test_python_exact_functions_agree_with_the_rust_references():
    """Every exact function of common.py (polynomial, Beta-Bernoulli, HMM forward algorithm,
    Kalman filter) and checks.py's mean-field optimum, on every committed data set, against
    data/exact.json."""
    data, ref, hyper = _committed_exact()
    assert not hyper.notes, hyper.notes  # the committed datasets.json, not built-in defaults
    with open(os.path.join(data, "datasets.json")) as fh:
        spec = json.load(fh)["polynomial"]
    sizes, sds = spec["sizes"], spec["noise_sds"]
    assert sorted((p["n"], p["noise_sd"]) for p in ref["polynomial"]) == sorted((n, sd) for n in sizes for sd in sds)
    for p in ref["polynomial"]:
        args = common.parse_args("t", ["--data-dir", data, "--n-points", str(p["n"]), "--noise-sd", repr(p["noise_sd"])])
        d = common.load_polynomial(args, hyper)
        assert os.path.basename(d.path) == p["file"] and d.prior_sd == p["prior_sd"]
        ex = common.exact_polynomial(d)
        for key in ("log_ml", "posterior_mean", "posterior_sd"):
            _assert_close(ex[key], p[key], f"{p['file']} {key}")
        mf = exact_meanfield_optimum(data, p["n"], p["noise_sd"])
        _assert_close(mf["loc"], p["posterior_mean"], f"{p['file']} mean-field loc")
        _assert_close(mf["scale"], p["meanfield_sd"], f"{p['file']} mean-field scale")
        _assert_close(mf["elbo"], p["meanfield_elbo"], f"{p['file']} mean-field elbo")
        _assert_close(mf["log_ml"], p["log_ml"], f"{p['file']} mean-field log_ml")
    args = common.parse_args("t", ["--data-dir", data])
    b = ref["beta_bernoulli"]
    d = common.load_beta_bernoulli(args, hyper)
    assert (os.path.basename(d.path), int(d.y.sum()), len(d.y), d.alpha, d.beta) == (
        b["file"], b["successes"], b["trials"], b["prior_alpha"], b["prior_beta"])
    assert (d.alpha + b["successes"], d.beta + b["trials"] - b["successes"]) == (b["posterior_alpha"], b["posterior_beta"])
    ex = common.exact_beta_bernoulli(d)
    _assert_close(ex["log_ml"], b["log_ml"], "beta_bernoulli log_ml")
    _assert_close(ex["posterior_mean"], [b["posterior_mean"]], "beta_bernoulli posterior_mean")
    _assert_close(ex["posterior_sd"], [b["posterior_sd"]], "beta_bernoulli posterior_sd")
    for model, exact_log_ml, load in (("hmm", common.exact_hmm_log_ml, common.load_hmm),
                                      ("lgssm", common.exact_lgssm_log_ml, common.load_lgssm)):
        d = load(args, hyper)
        assert (os.path.basename(d.path), len(d.y)) == (ref[model]["file"], ref[model]["T"]), model
        _assert_close(exact_log_ml(d), ref[model]["log_ml"], f"{model} log_ml")


def test_the_exact_reference_check_fails_on_a_wrong_reference():
    """The check above is not vacuous: a reference moved by 1e-9 relative (10 times the
    tolerance) is refused."""
    data, ref, hyper = _committed_exact()
    args = common.parse_args("t", ["--data-dir", data])
    got = common.exact_hmm_log_ml(common.load_hmm(args, hyper))
    _assert_close(got, ref["hmm"]["log_ml"], "hmm log_ml")
    with pytest.raises(AssertionError):
        _assert_close(got, ref["hmm"]["log_ml"] * (1 + 1e-9), "hmm log_ml")


def test_time_calls_excludes_the_first_call():
    calls = []
    t = common.time_calls(lambda i: calls.append(i) or i, 3)
    assert calls == [0, 1, 2, 3] and len(t.times_s) == 3 and t.last == 3


def _ar1_chain(rho: float, n: int, seed: int) -> np.ndarray:
    """A stationary AR(1) chain x_t = rho x_{t-1} + e_t, e_t ~ N(0, 1)."""
    e = np.random.default_rng(seed).standard_normal(n)
    x = np.empty(n)
    x[0] = e[0] / math.sqrt(1.0 - rho ** 2)
    for t in range(1, n):
        x[t] = rho * x[t - 1] + e[t]
    return x


@pytest.mark.parametrize("rho,n", [(0.0, 5000), (0.5, 20000), (0.9, 20000)], ids=["iid", "ar1-0.5", "ar1-0.9"])
def test_ess_of_ar1_chain_matches_its_autocorrelation_time(rho, n):
    """An AR(1) chain has integrated autocorrelation time tau = 1 + 2 rho / (1 - rho), so
    ESS = n / tau (iid draws: rho = 0, ESS = n).

    Tolerance: a windowed estimate of tau summing M lags has relative sd about
    sqrt(2 (2M + 1) / n) (Sokal 1997, "Monte Carlo methods in statistical mechanics", eq. 3.19).
    Geyer's truncation stops near the lag where rho^M falls below the 1/sqrt(n) noise of the
    autocorrelation estimates, M = ln(n) / (2 ln(1/rho)), plus a pair or so of pure-noise lags
    kept before a negative pair ends it (+2). The check allows 5 such sds (over 300 seeds the
    largest deviations measured were about 4.4, 2.9 and 3.2 sds for the three cases).
    """
    tau = 1.0 + 2.0 * rho / (1.0 - rho)
    window = (math.ceil(math.log(n) / (2.0 * math.log(1.0 / rho))) if rho > 0 else 0) + 2
    rel_sd = math.sqrt(2.0 * (2 * window + 1) / n)
    ess = common.ess_mean(_ar1_chain(rho, n, seed=7))
    assert abs(ess / (n / tau) - 1.0) < 5 * rel_sd, (ess, n / tau, 5 * rel_sd)


def test_ess_edge_cases_and_hmc_quality():
    assert math.isnan(common.ess_mean(np.full(100, 0.3)))  # a chain that never moved
    assert math.isnan(common.ess_mean([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))  # two halves of 3
    assert math.isnan(common.ess_mean([0.0, 1.0, np.nan, 2.0, 3.0, 4.0, 5.0, 6.0]))
    # A perfectly alternating chain has tau < 0; the floor reports draws * log10(draws) (the
    # middle draw of an odd chain is dropped by the split).
    assert common.ess_mean([1.0, 2.0] * 50 + [1.5]) == pytest.approx(100 * math.log10(100))
    # The autocovariance at lag 0 is the biased variance; lag k of an iid series is ~0.
    x = np.random.default_rng(3).standard_normal(4000)
    acov = common.autocovariance(x)
    assert acov[0] == pytest.approx(np.var(x)) and abs(acov[1]) < 5 * np.var(x) / math.sqrt(4000)
    assert acov[5] == pytest.approx(np.dot(x[:-5] - x.mean(), x[5:] - x.mean()) / 4000)
    # hmc_quality: ess is the smallest per-latent ESS, NaN as soon as one latent never moved.
    samples = np.stack([_ar1_chain(0.0, 2000, 1), _ar1_chain(0.9, 2000, 2)], axis=1)
    q = common.hmc_quality(samples, np.ones(2000), 0)
    assert len(q["ess_per_latent"]) == 2 and q["ess"] == min(q["ess_per_latent"])
    assert q["ess_per_latent"][0] > 5 * q["ess_per_latent"][1]
    stuck = np.concatenate([samples, np.zeros((2000, 1))], axis=1)
    assert math.isnan(common.hmc_quality(stuck, np.zeros(2000), 0)["ess"])


def test_ess_equals_arviz_on_the_committed_reference_draws():
    """The single-chain data set of gen-runtime's ArviZ reference (ArviZ 0.23.4,
    ``ess(method="mean")``): the Rust rows of the benchmark match it to 1e-12, so both sides
    of the suite report the same ESS for the same draws."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "gen-runtime", "tests", "data", "arviz_reference.json")
    with open(path) as f:
        sets = {d["name"]: d for d in json.load(f)["data_sets"]}
    single = sets["single_chain_1x500"]
    assert common.ess_mean(single["draws"][0]) == pytest.approx(single["expected"]["ess_mean"], rel=1e-9)


def _arviz_reference_sets() -> dict:
    path = os.path.join(os.path.dirname(__file__), "..", "..", "gen-runtime", "tests", "data", "arviz_reference.json")
    with open(path) as f:
        return {d["name"]: d for d in json.load(f)["data_sets"]}


def test_multi_chain_ess_equals_arviz_on_the_committed_reference_draws():
    """ess_mean over several chains, (chains, draws), against ArviZ 0.23.4's ess(method="mean")
    on every multi-chain data set of the committed reference (the Rust rows match the same
    numbers), to 1e-9. The all-constant set is the one deliberate difference (NaN, see
    PROTOCOL.md); a (1, draws) array is the single chain."""
    sets = _arviz_reference_sets()
    multi = [d for d in sets.values() if len(d["draws"]) > 1 and d["name"] != "constant_4x100"]
    assert len(multi) >= 5, sorted(sets)
    for d in multi:
        got = common.ess_mean(np.asarray(d["draws"]))
        assert got == pytest.approx(d["expected"]["ess_mean"], rel=1e-9), d["name"]
    assert math.isnan(common.ess_mean(np.asarray(sets["constant_4x100"]["draws"])))
    single = sets["single_chain_1x500"]
    assert common.ess_mean(np.asarray(single["draws"])) == common.ess_mean(single["draws"][0])


def test_n_chains_flag_and_config():
    """--n-chains: default 1 and then absent from config (single-chain configs unchanged), echoed
    for MCMC methods when above 1, and checked like the other counts."""
    a = common.parse_args("t", ["--method", "nuts"])
    assert a.n_chains == 1 and "n_chains" not in common.config_of(a)
    a = common.parse_args("t", ["--method", "nuts", "--n-chains", "4"])
    assert a.n_chains == 4 and common.config_of(a)["n_chains"] == 4
    assert "n_chains" not in common.config_of(common.parse_args("t", ["--method", "is", "--n-chains", "4"]))


def test_bad_n_chains_is_a_json_error(capsys):
    for value in ("0", "-2"):
        with pytest.raises(SystemExit) as e:
            common.parse_args("t", ["--method", "nuts", "--n-chains", value])
        assert e.value.code == 2
        assert "--n-chains" in json.loads(capsys.readouterr().out)["error"]


def test_hmc_quality_of_several_chains(tmp_path):
    """(chains, draws, latents): moments over all draws pooled, each latent's ESS over all the
    chains (ess_mean of (chains, draws)), accept stats of every chain concatenated, and the raw
    draws keeping the chain axis. A one-chain (draws, latents) array gives the same numbers as
    the same array with a chain axis of 1."""
    rng = np.random.default_rng(11)
    chains = np.stack([np.stack([_ar1_chain(0.5, 1000, 10 * c + j) for j in range(2)], axis=1) for c in range(4)])
    accept = rng.random((4, 1000))
    q = common.hmc_quality(chains, accept, 3)
    pooled = chains.reshape(-1, 2)
    assert q["posterior_mean"] == pytest.approx(pooled.mean(axis=0).tolist(), abs=1e-12)
    assert q["posterior_sd"] == pytest.approx(pooled.std(axis=0, ddof=1).tolist(), abs=1e-12)
    assert q["ess_per_latent"] == [common.ess_mean(chains[:, :, j]) for j in range(2)]
    assert q["ess"] == min(q["ess_per_latent"]) and q["divergences"] == 3
    assert q["acceptance_rate"] == pytest.approx(accept.mean())
    # Four chains of tau = 3 draws: about 4 * 1000 / 3 each (not one chain's 333).
    assert all(800 < e < 2000 for e in q["ess_per_latent"]), q["ess_per_latent"]
    common.write_raw(q, str(tmp_path))
    np.testing.assert_array_equal(np.load(tmp_path / "draws.npy"), chains)
    np.testing.assert_array_equal(np.load(tmp_path / "accept.npy"), accept.reshape(-1))
    one, one_with_axis = common.hmc_quality(chains[0], accept[0]), common.hmc_quality(chains[:1], accept[0])
    for key in ("posterior_mean", "posterior_sd", "ess", "ess_per_latent", "acceptance_rate"):
        assert one[key] == one_with_axis[key], key


def test_raw_output_goes_to_npy_files_and_never_into_the_json(tmp_path):
    """``--raw-out``: the quality helpers' arrays are written as .npy files (draws as
    (chains, draws, latents)), and the quality block ``main`` prints holds only numbers."""
    draws = np.arange(30, dtype=np.float64).reshape(10, 3)
    accept = np.linspace(0.5, 1.0, 10)
    q = common.hmc_quality(draws, accept, 0)
    raw = tmp_path / "raw"
    written = common.write_raw(q, str(raw))
    assert common.RAW not in written and written["acceptance_rate"] == pytest.approx(0.75)
    json.dumps(written)  # plain numbers only
    np.testing.assert_array_equal(np.load(raw / "draws.npy"), draws[None, :, :])
    np.testing.assert_array_equal(np.load(raw / "accept.npy"), accept)
    # Without --raw-out nothing is written and the block is the same.
    assert common.write_raw(q, None) == written and common.RAW in q

    lw = np.log(np.array([1.0, 1.0, 2.0, 1.0]))
    q = common.is_quality(lw, np.array([1.0, 1.0, 4.0, 1.0]))
    assert q[common.RAW]["samples"].shape == (4, 1)
    assert common.smc_quality(-3.0, lw)[common.RAW]["final_log_weights"].shape == (4,)
    assert common.parse_args("t", ["--raw-out", "/x"]).raw_out == "/x"


def test_a_runner_without_chains_refuses_n_chains(monkeypatch):
    """--n-chains 4 to a one-chain runner is an error, never one chain labelled four."""
    errors = []
    monkeypatch.setattr(common, "emit_error", lambda framework, message, exit_code=1: errors.append(message))
    monkeypatch.setattr(common, "redirect_stdout_to_stderr", lambda: None)

    def runner(args, hyper):
        raise AssertionError("must not run")

    common.main("t", lambda: "1", {("polynomial", "nuts"): runner}, argv=["--method", "nuts", "--n-chains", "4"])
    assert errors and "--n-chains 4" in errors[0]

"""Tests of comparisons/common.py (needs only numpy; runs in every env)."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

import common
from checks import exact_gaussian_log_ml


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
    a = common.parse_args("t", ["--data-dir", data_dir, "--n-points", "10", "--noise-sd", "1.0"])
    d = common.load_polynomial(a, common.load_hyperparameters(data_dir))
    ex = common.exact_polynomial(d)
    assert ex["log_ml"] == pytest.approx(exact_gaussian_log_ml(data_dir, 10, 1.0), abs=1e-9)
    # Bayes' rule at theta = 0: log p(y) = log p(y|0) + log p(0) - log p(0|y).
    phi, s2, p2 = d.design, d.noise_sd ** 2, d.prior_sd ** 2
    cov = np.linalg.inv(phi.T @ phi / s2 + np.eye(3) / p2)
    m = np.asarray(ex["posterior_mean"])
    assert np.sqrt(np.diag(cov)) == pytest.approx(ex["posterior_sd"])
    log_lik0 = -0.5 * np.sum(d.y ** 2) / s2 - 0.5 * len(d.y) * math.log(2 * math.pi * s2)
    log_prior0 = -1.5 * math.log(2 * math.pi * p2)
    log_post0 = -0.5 * m @ np.linalg.solve(cov, m) - 0.5 * np.linalg.slogdet(2 * math.pi * cov)[1]
    assert ex["log_ml"] == pytest.approx(log_lik0 + log_prior0 - log_post0, abs=1e-9)


def test_time_calls_excludes_the_first_call():
    calls = []
    t = common.time_calls(lambda i: calls.append(i) or i, 3)
    assert calls == [0, 1, 2, 3] and len(t.times_s) == 3 and t.last == 3

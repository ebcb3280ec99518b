"""Handcoded JAX (env "jax"): errors as JSON; the protocol tests every framework shares are in
test_protocol.py."""

from __future__ import annotations

import pytest

pytest.importorskip("jax")

FW = "handcoded_jax"


def test_errors_are_json(run_framework, tmp_path):
    out = run_framework(FW, "--model", "polynomial", "--no-such-flag", expect_ok=False)
    assert "no-such-flag" in out["error"]
    out = run_framework(FW, "--data-dir", str(tmp_path), expect_ok=False, with_data_dir=False)
    assert "not found" in out["error"] and "polynomial_n50_sd0.05.csv" in out["error"]
    out = run_framework(FW, "--model", "beta_bernoulli", "--method", "hmc", expect_ok=False)
    assert "does not implement" in out["error"]

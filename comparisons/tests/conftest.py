"""Shared fixtures for the comparison tests (one pytest run per virtualenv).

The tests call ``comparisons/run.py`` as a subprocess with the interpreter running pytest,
exactly as the ``benchmarks`` binary does, and check the JSON it prints.  They read the
committed data under ``data/`` when it is there; otherwise (e.g. before ``benchmarks data``
has been run) they write a temporary data set that follows data/README.md, so the checks,
which compare against exact answers computed from whatever data is used, still run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
COMPARISONS = os.path.dirname(HERE)
REPO = os.path.dirname(COMPARISONS)
sys.path.insert(0, COMPARISONS)
sys.path.insert(0, HERE)  # for checks.py

import common  # noqa: E402

NEEDED = ["polynomial_n10_sd1.0.csv", "beta_bernoulli.csv", "hmm.csv", "lgssm.csv"]


def _write_temporary_data(out: str) -> None:
    """Data following data/README.md (seed 42); only used when data/ lacks the files."""
    rng = np.random.default_rng(42)
    for n in (10, 50):
        x = np.linspace(0.0, 1.0, n)
        eps = rng.standard_normal(n)
        for sd in (0.05, 1.0):
            y = 0.5 - 1.25 * x + 2.0 * x ** 2 + sd * eps
            with open(common.polynomial_path(out, n, sd), "w") as fh:
                fh.write("x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), y.tolist())))
    y = (rng.random(50) < 0.7).astype(int)
    with open(os.path.join(out, "beta_bernoulli.csv"), "w") as fh:
        fh.write("y\n" + "".join(f"{v}\n" for v in y))
    h = common.DEFAULT_HYPERPARAMETERS["hmm"]
    init, trans, emis = (np.asarray(h[k]) for k in ("initial", "transition", "emission"))
    z = rng.choice(3, p=init)
    ys = []
    for t in range(50):
        if t:
            z = rng.choice(3, p=trans[z])
        ys.append(int(rng.choice(4, p=emis[z])))
    with open(os.path.join(out, "hmm.csv"), "w") as fh:
        fh.write("t,y\n" + "".join(f"{t},{v}\n" for t, v in enumerate(ys)))
    g = common.DEFAULT_HYPERPARAMETERS["lgssm"]
    xs = g["x1_mean"] + g["x1_sd"] * rng.standard_normal()
    ys = []
    for t in range(100):
        if t:
            xs = g["a"] * xs + g["q"] * rng.standard_normal()
        ys.append(xs + g["r"] * rng.standard_normal())
    with open(os.path.join(out, "lgssm.csv"), "w") as fh:
        fh.write("t,y\n" + "".join(f"{t},{v!r}\n" for t, v in enumerate(ys)))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> str:
    committed = os.path.join(REPO, "data")
    if all(os.path.exists(os.path.join(committed, f)) for f in NEEDED):
        return committed
    out = str(tmp_path_factory.mktemp("data"))
    _write_temporary_data(out)
    return out


@pytest.fixture(scope="session")
def run_framework(data_dir):
    """run_framework(name, *flags, expect_ok=True) -> parsed JSON from run.py's stdout."""

    def run(name: str, *flags: str, expect_ok: bool = True, with_data_dir: bool = True):
        cmd = [sys.executable, os.path.join("comparisons", "run.py"), "--framework", name, *flags]
        if with_data_dir:
            cmd += ["--data-dir", data_dir]
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
        lines = [l for l in proc.stdout.splitlines() if l.strip()]
        assert len(lines) == 1, f"expected exactly one JSON line on stdout, got {proc.stdout!r}\nstderr:\n{proc.stderr[-3000:]}"
        out = json.loads(lines[0])
        if expect_ok:
            assert proc.returncode == 0, f"{out}\nstderr:\n{proc.stderr[-3000:]}"
            assert "error" not in out, out
        else:
            assert proc.returncode != 0
            assert set(out) == {"framework", "error"}, out
        return out

    return run


@pytest.fixture(scope="session")
def exact(data_dir):
    """Exact references computed with numpy (common.py's exact functions, which test_common.py
    checks against the Rust side's data/exact.json) from the data the runs use."""
    hyper = common.load_hyperparameters(data_dir)

    def args(**kw):
        a = common.parse_args("test", ["--data-dir", data_dir])
        for k, v in kw.items():
            setattr(a, k, v)
        return a

    return {
        "polynomial": lambda n, sd: common.exact_polynomial(common.load_polynomial(args(n_points=n, noise_sd=sd), hyper)),
        "beta_bernoulli": lambda: common.exact_beta_bernoulli(common.load_beta_bernoulli(args(), hyper)),
        "hmm": lambda: common.exact_hmm_log_ml(common.load_hmm(args(), hyper)),
        "lgssm": lambda: common.exact_lgssm_log_ml(common.load_lgssm(args(), hyper)),
    }

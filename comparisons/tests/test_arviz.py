"""ArviZ reads the CmdStan CSV files that gen-runtime's ``Posterior::write_cmdstan_csv`` writes.

Runs the centred eight-schools example with ``--csv DIR`` (through ``cargo run --release``;
the first build takes minutes, later runs reuse ``$CARGO_TARGET_DIR``), reads the files with
``arviz.from_cmdstan``, and checks them against the summary table the example printed:
the variable names and shapes (``theta`` with 8 schools from the columns ``theta.1`` ..
``theta.8``), the number of chains and draws, the divergences, and every mean, ESS and
R-hat (ArviZ and gen-runtime compute the same Vehtari et al. (2021) definitions).

Skipped when arviz is not importable in the virtualenv running pytest, or when cargo is not
on PATH. Set up an environment that has it with
    python3 -m venv comparisons/.venv-arviz
    comparisons/.venv-arviz/bin/pip install -r comparisons/requirements-arviz.txt
after which ``comparisons/test.sh`` runs this file in it.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # arviz 0.2x announces its 1.0 refactor
    az = pytest.importorskip("arviz")
import numpy as np  # noqa: E402  (arviz depends on numpy)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = "eight_schools_centered"


def parse_summary(stdout: str) -> dict[str, dict[str, float]]:
    """The summary table gen-runtime printed: row name -> column -> value."""
    lines = stdout.splitlines()
    start = next(i for i, l in enumerate(lines) if l.split()[:3] == ["mean", "sd", "q5"])
    header = lines[start].split()
    rows = {}
    for line in lines[start + 1 :]:
        cells = line.split()
        if len(cells) != len(header) + 1:
            break
        rows[cells[0]] = {h: float(c) for h, c in zip(header, cells[1:])}
    return rows


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(stdout, csv paths) of one run of the example with --csv."""
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not on PATH: cannot build the Rust example")
    out = str(tmp_path_factory.mktemp("cmdstan_csv"))
    # scripts/test.sh names the examples `cargo test --workspace --release` built just before:
    # `cargo run` would rebuild gen-runtime under a plain build's dependency features.
    built = os.path.join(os.environ.get("GEN_RUNTIME_EXAMPLES", ""), EXAMPLE)
    if os.environ.get("GEN_RUNTIME_EXAMPLES") and os.access(built, os.X_OK):
        cmd = [built, "--csv", out]
    else:
        cmd = [cargo, "run", "--release", "--quiet", "-p", "gen-runtime", "--example", EXAMPLE, "--", "--csv", out]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}"
    paths = sorted(glob.glob(os.path.join(out, "eight_schools_*.csv")))
    return done.stdout, paths


def test_from_cmdstan_reads_names_shapes_and_chains(run):
    stdout, paths = run
    assert [os.path.basename(p) for p in paths] == [f"eight_schools_{c}.csv" for c in (1, 2, 3, 4)]
    idata = az.from_cmdstan(posterior=paths)
    post = idata.posterior
    assert set(post.data_vars) == {"mu", "tau", "theta"}
    assert post.sizes["chain"] == 4 and post.sizes["draw"] == 1000
    assert post["theta"].shape == (4, 1000, 8)
    assert post["mu"].shape == (4, 1000)
    # tau is written constrained (> 0), not as the sampler's log tau.
    assert float(post["tau"].min()) > 0.0
    # Stan's sampler columns land in sample_stats.
    stats = idata.sample_stats
    for name in ("lp", "acceptance_rate", "step_size", "tree_depth", "n_steps", "diverging", "energy"):
        assert name in stats, f"{name} missing from sample_stats: {list(stats.data_vars)}"
    printed = re.search(r"(\d+) chains x (\d+) draws; (\d+) divergent transitions", stdout)
    assert printed, stdout
    assert (int(printed[1]), int(printed[2])) == (4, 1000)
    assert int(stats["diverging"].sum()) == int(printed[3])


def test_arviz_summary_agrees_with_the_rust_summary(run):
    stdout, paths = run
    rust = parse_summary(stdout)
    assert list(rust) == ["mu", "tau"] + [f"theta[{j}]" for j in range(8)]
    idata = az.from_cmdstan(posterior=paths)
    table = az.summary(idata, round_to="none")
    for name, row in rust.items():
        # ArviZ names element j of theta "theta[j]", as the Rust summary does.
        py = table.loc[name]
        # The Rust table prints 3 decimals for means and whole numbers for ESS.
        assert abs(py["mean"] - row["mean"]) <= 6e-4, (name, py["mean"], row["mean"])
        assert abs(py["sd"] - row["sd"]) <= 6e-4 + 1e-3 * row["sd"], (name, py["sd"], row["sd"])
        assert abs(py["ess_bulk"] - row["ess_bulk"]) <= 0.5 + 1e-3 * row["ess_bulk"], (name, py["ess_bulk"], row["ess_bulk"])
        assert abs(py["ess_tail"] - row["ess_tail"]) <= 0.5 + 1e-3 * row["ess_tail"], (name, py["ess_tail"], row["ess_tail"])
        assert abs(py["r_hat"] - row["r_hat"]) <= 6e-4, (name, py["r_hat"], row["r_hat"])
    # And the draws themselves: theta.4 in the CSV is theta[3].
    theta = idata.posterior["theta"].values
    assert np.isclose(theta[..., 3].mean(), rust["theta[3]"]["mean"], atol=6e-4)

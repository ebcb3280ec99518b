"""Regenerate arviz_reference.json, the reference numbers for tests/diagnostics.rs.

The Rust diagnostics must reproduce ArviZ's rank-normalized R-hat, ESS and MCSE
(Vehtari et al. 2021) on these fixed draws. Run it from a throwaway virtualenv
outside the repository:

    python3 -m venv /tmp/arviz-venv
    /tmp/arviz-venv/bin/pip install arviz
    /tmp/arviz-venv/bin/python gen-runtime/tests/data/make_arviz_reference.py

NaN (ArviZ's answer for an undefined statistic) is written as JSON null, because
strict JSON has no NaN.
"""

import json
import math
import pathlib
import warnings

import arviz as az
import numpy as np
import scipy

SEED = 20240607
OUT = pathlib.Path(__file__).with_name("arviz_reference.json")


def ar1(rng, chains, draws, rho):
    """Stationary AR(1) chains with unit marginal variance."""
    x = np.empty((chains, draws))
    x[:, 0] = rng.standard_normal(chains)
    innovation_sd = math.sqrt(1.0 - rho * rho)
    for t in range(1, draws):
        x[:, t] = rho * x[:, t - 1] + innovation_sd * rng.standard_normal(chains)
    return x


def data_sets():
    rng = np.random.default_rng(SEED)
    sets = {}
    sets["normal_4x1000"] = rng.standard_normal((4, 1000))
    sets["ar1_rho0.9_4x500"] = ar1(rng, 4, 500, 0.9)
    shifted = rng.standard_normal((4, 200))
    shifted[3] += 1.5
    sets["shifted_chain_4x200"] = shifted
    # One chain three times wider than the others: the bulk R-hat barely sees it,
    # the folded (tail) R-hat does, so the max(bulk, folded) rule is exercised.
    wide = rng.standard_normal((4, 400))
    wide[0] *= 3.0
    sets["wide_chain_4x400"] = wide
    sets["cauchy_4x1000"] = rng.standard_cauchy((4, 1000))
    sets["student_t3_ar1_4x600"] = ar1(rng, 4, 600, 0.7) + 0.3 * rng.standard_t(3, (4, 600))
    # An odd number of draws: split chains drop the middle draw.
    sets["odd_draws_3x301"] = ar1(rng, 3, 301, 0.5)
    # Many exact ties: ranks are averaged within ties.
    sets["ties_4x250"] = np.round(rng.standard_normal((4, 250)), 1)
    sets["single_chain_1x500"] = ar1(rng, 1, 500, 0.6)
    sets["two_chains_2x8"] = rng.standard_normal((2, 8))
    sets["constant_4x100"] = np.full((4, 100), 0.7)
    return sets


def scalar(value):
    value = float(np.asarray(value))
    return None if math.isnan(value) else value


def statistics(draws):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = az.convert_to_dataset({"x": draws})
        stats = {
            "rhat_rank": az.rhat(data, method="rank")["x"].values,
            "rhat_split": az.rhat(data, method="split")["x"].values,
            "ess_bulk": az.ess(data, method="bulk")["x"].values,
            "ess_tail": az.ess(data, method="tail")["x"].values,
            "ess_mean": az.ess(data, method="mean")["x"].values,
            "ess_sd": az.ess(data, method="sd")["x"].values,
            "ess_quantile_0.25": az.ess(data, method="quantile", prob=0.25)["x"].values,
            "mcse_mean": az.mcse(data, method="mean")["x"].values,
            "mcse_sd": az.mcse(data, method="sd")["x"].values,
        }
        for prob in (0.05, 0.5, 0.95):
            stats[f"quantile_{prob}"] = np.quantile(draws, prob)
        summary = az.summary(data, round_to="none")
    out = {name: scalar(value) for name, value in stats.items()}
    out["summary"] = {
        column: scalar(summary.loc["x", column])
        for column in ("mean", "sd", "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "r_hat")
    }
    return out


def to_json(reference):
    """Indented JSON with each chain's draws on one line, so the file stays browsable."""
    chain_lines = {}

    def placeholder(data_set_index, chain_index):
        return f"@@chain_{data_set_index}_{chain_index}@@"

    skeleton = dict(reference)
    skeleton["data_sets"] = []
    for i, data_set in enumerate(reference["data_sets"]):
        chains = []
        for j, chain in enumerate(data_set["draws"]):
            chain_lines[placeholder(i, j)] = json.dumps(chain, allow_nan=False)
            chains.append(placeholder(i, j))
        skeleton["data_sets"].append({**data_set, "draws": chains})
    text = json.dumps(skeleton, indent=1, allow_nan=False)
    for key, line in chain_lines.items():
        text = text.replace(json.dumps(key), line)
    return text


def main():
    reference = {
        "generator": "gen-runtime/tests/data/make_arviz_reference.py",
        "arviz_version": az.__version__,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "seed": SEED,
        "data_sets": [],
    }
    for name, draws in data_sets().items():
        reference["data_sets"].append(
            {"name": name, "draws": draws.tolist(), "expected": statistics(draws)}
        )
    OUT.write_text(to_json(reference) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

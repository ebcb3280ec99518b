"""Shared plumbing for the Python comparison runners (see comparisons/PROTOCOL.md).

Every framework module (handcoded JAX, NumPyro, GenJAX, Pyro, handcoded PyTorch, Stan)
uses this file so that all of them read the same data, parse the same flags, time the
same way and write the same JSON.  It depends only on the standard library and numpy,
so it can be imported from every virtualenv.

What lives here:

* ``build_parser`` / ``parse_args``: the protocol's flags (argparse; unknown flags are an
  error, every flag has a default).
* ``load_polynomial`` / ``load_beta_bernoulli`` / ``load_hmm`` / ``load_lgssm`` and
  ``load_hyperparameters``: the committed CSVs under ``data/`` and ``data/datasets.json``.
* ``time_calls``: the timing protocol (one compiling/warm-up call timed separately, then
  ``--repeats`` timed calls, each with its result materialized before the clock stops).
* ``peak_memory_bytes``: peak resident set size of this process (``ru_maxrss``).
* quality helpers: ``log_ml_from_log_weights``, ``ess_from_log_weights``,
  ``weighted_moments``, ``sample_moments``, ``is_quality``, ``smc_quality``,
  ``autocovariance``, ``ess_mean`` (the MCMC ESS every HMC/NUTS row reports, through
  ``hmc_quality``), ``vi_quality`` (the fitted mean-field guide and the ELBO of a VI row).
* ``main``: runs one framework's dispatch table and prints exactly one JSON object on
  stdout, or a JSON error and a non-zero exit status.

stdout discipline: ``main`` points file descriptor 1 at stderr while the framework runs, so
that anything a library prints (progress bars, XLA/C++ logs) lands on stderr and the only
thing on the real stdout is the final JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------

MODELS = ("polynomial", "beta_bernoulli", "hmm", "lgssm")
METHODS = ("is", "hmc", "nuts", "smc", "vi", "exact")

# Defaults are the benchmark's headline configuration.
DEFAULTS = {
    "model": "polynomial",
    "method": "is",
    "n_points": 50,
    "noise_sd": 0.05,
    "n_particles": 1000,
    "n_samples": 1000,
    "n_warmup": 500,
    "step_size": 0.01,
    "n_leapfrog": 20,
    "n_steps": 2000,
    "learning_rate": 0.01,
    "n_elbo_samples": 1,
    "repeats": 10,
    "n_chains": 1,
    "seed": 0,
    "data_dir": "data",
}


class ProtocolArgumentParser(argparse.ArgumentParser):
    """argparse that reports bad flags as a JSON error instead of usage text + exit 2.

    The binary reads one JSON object from stdout, so a typo in a flag must still come
    back as ``{"framework": ..., "error": ...}`` with a non-zero exit status.
    """

    framework_name: str = "unknown"

    def error(self, message: str) -> None:  # type: ignore[override]
        emit_error(self.framework_name, f"bad command line: {message}", exit_code=2)


def build_parser(framework: str, framework_choices: Optional[Sequence[str]] = None) -> argparse.ArgumentParser:
    """The protocol's flags.  ``framework_choices`` adds a required ``--framework`` (run.py)."""
    p = ProtocolArgumentParser(
        prog=f"comparisons ({framework})",
        description="Run one benchmark configuration and print one JSON object (see comparisons/PROTOCOL.md).",
        allow_abbrev=False,  # "--n-p" must not silently mean "--n-points"
    )
    p.framework_name = framework
    if framework_choices is not None:
        p.add_argument("--framework", required=True, choices=list(framework_choices))
    p.add_argument("--version", action="store_true", help='print {"framework": ..., "version": ...} and exit')
    p.add_argument("--prepare", action="store_true",
                   help="build what --model/--method needs (untimed, cached) and exit; see PROTOCOL.md")
    p.add_argument("--model", default=DEFAULTS["model"], choices=MODELS)
    p.add_argument("--method", default=DEFAULTS["method"], choices=METHODS)
    p.add_argument("--n-points", type=int, default=DEFAULTS["n_points"], help="polynomial data size n")
    p.add_argument("--noise-sd", type=float, default=DEFAULTS["noise_sd"], help="polynomial data set: 0.05 or 1.0")
    p.add_argument("--n-particles", type=int, default=DEFAULTS["n_particles"], help="IS / SMC particles")
    p.add_argument("--n-samples", type=int, default=DEFAULTS["n_samples"], help="HMC kept samples")
    p.add_argument("--n-warmup", type=int, default=DEFAULTS["n_warmup"], help="HMC warm-up samples (discarded)")
    p.add_argument("--step-size", type=float, default=DEFAULTS["step_size"], help="HMC leapfrog step size")
    p.add_argument("--n-leapfrog", type=int, default=DEFAULTS["n_leapfrog"], help="HMC leapfrog steps per sample")
    p.add_argument("--n-steps", type=int, default=DEFAULTS["n_steps"], help="VI optimizer (Adam) steps")
    p.add_argument("--learning-rate", type=float, default=DEFAULTS["learning_rate"], help="VI Adam learning rate")
    p.add_argument("--n-elbo-samples", type=int, default=DEFAULTS["n_elbo_samples"],
                   help="VI Monte Carlo samples K per ELBO gradient estimate")
    p.add_argument("--repeats", type=int, default=DEFAULTS["repeats"], help="timed repeats after the warm-up call")
    p.add_argument("--n-chains", type=int, default=DEFAULTS["n_chains"],
                   help="independent MCMC chains in one call (nuts; only frameworks whose manifest lists the method in multi_chain)")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--data-dir", default=DEFAULTS["data_dir"], help="folder with the committed CSVs and datasets.json")
    p.add_argument("--raw-out", default=None,
                   help="folder to write the last repeat's raw draws / weights into as .npy files (PROTOCOL.md 'Raw output')")
    return p


def parse_args(framework: str, argv: Optional[Sequence[str]] = None,
               framework_choices: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse and sanity-check the flags; a bad value becomes a JSON error."""
    args = build_parser(framework, framework_choices).parse_args(argv)
    for name in ("n_points", "n_particles", "n_samples", "n_leapfrog", "n_steps", "n_elbo_samples", "repeats", "n_chains"):
        if getattr(args, name) < 1:
            emit_error(framework, f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}", exit_code=2)
    if args.n_warmup < 0:
        emit_error(framework, f"--n-warmup must be >= 0, got {args.n_warmup}", exit_code=2)
    if not (args.step_size > 0 and math.isfinite(args.step_size)):
        emit_error(framework, f"--step-size must be a positive finite number, got {args.step_size}", exit_code=2)
    if not (args.noise_sd > 0 and math.isfinite(args.noise_sd)):
        emit_error(framework, f"--noise-sd must be a positive finite number, got {args.noise_sd}", exit_code=2)
    if not (args.learning_rate > 0 and math.isfinite(args.learning_rate)):
        emit_error(framework, f"--learning-rate must be a positive finite number, got {args.learning_rate}", exit_code=2)
    return args


def config_of(args: argparse.Namespace) -> Dict[str, Any]:
    """The ``config`` object of the result: the flags that define this configuration."""
    cfg: Dict[str, Any] = {}
    if args.model == "polynomial":
        cfg["n_points"] = args.n_points
        cfg["noise_sd"] = args.noise_sd
    if args.method in ("is", "smc"):
        cfg["n_particles"] = args.n_particles
    if args.method in ("hmc", "nuts"):
        cfg["n_samples"] = args.n_samples
        cfg["n_warmup"] = args.n_warmup
        cfg["step_size"] = args.step_size
        cfg["n_leapfrog"] = args.n_leapfrog
        if args.n_chains > 1:  # absent for one chain, so single-chain configs are unchanged
            cfg["n_chains"] = args.n_chains
    if args.method == "vi":
        cfg["n_steps"] = args.n_steps
        cfg["learning_rate"] = args.learning_rate
        cfg["n_elbo_samples"] = args.n_elbo_samples
    cfg["repeats"] = args.repeats
    cfg["seed"] = args.seed
    return cfg


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------

class DataError(Exception):
    """A missing or malformed data file; the message names the file (and line)."""


def sd_tag(noise_sd: float) -> str:
    """File-name form of the noise sd: ``0.05`` -> "0.05", ``1`` -> "1.0" (Python repr)."""
    return repr(float(noise_sd))


def polynomial_path(data_dir: str, n_points: int, noise_sd: float) -> str:
    return os.path.join(data_dir, f"polynomial_n{n_points}_sd{sd_tag(noise_sd)}.csv")


def read_csv_columns(path: str, columns: Sequence[str], kinds: Sequence[type]) -> Dict[str, np.ndarray]:
    """Read ``columns`` of a headed CSV; errors name the file and the (1-based) line."""
    if not os.path.exists(path):
        raise DataError(f"data file not found: {path} (run `benchmarks data` to regenerate the data sets)")
    out: Dict[str, List[Any]] = {c: [] for c in columns}
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path}: empty file, expected header {','.join(columns)}") from None
        header = [h.strip() for h in header]
        idx = {}
        for c in columns:
            if c not in header:
                raise DataError(f"{path}:1: header {header} lacks column '{c}'")
            idx[c] = header.index(c)
        for lineno, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue  # tolerate a trailing blank line
            if len(row) != len(header):
                raise DataError(f"{path}:{lineno}: expected {len(header)} fields, got {len(row)}")
            for c, kind in zip(columns, kinds):
                cell = row[idx[c]].strip()
                try:
                    v = kind(float(cell)) if kind is int else kind(cell)
                except ValueError:
                    raise DataError(f"{path}:{lineno}: column '{c}': cannot parse {cell!r}") from None
                if kind is int and float(cell) != v:
                    raise DataError(f"{path}:{lineno}: column '{c}': expected an integer, got {cell!r}")
                if kind is float and not math.isfinite(v):
                    raise DataError(f"{path}:{lineno}: column '{c}': non-finite value {cell!r}")
                out[c].append(v)
    if not out[columns[0]]:
        raise DataError(f"{path}: no data rows")
    return {c: np.asarray(v, dtype=np.float64 if k is float else np.int64) for (c, v), k in zip(out.items(), kinds)}


# Hyperparameters used when data/datasets.json does not exist yet (they match what the
# Rust `benchmarks data` command writes, see data/README.md).
DEFAULT_HYPERPARAMETERS: Dict[str, Dict[str, Any]] = {
    "polynomial": {"prior_sd": 1.0, "true_coeffs": [0.5, -1.25, 2.0]},
    "beta_bernoulli": {"alpha": 2.0, "beta": 2.0},
    "hmm": {
        "initial": [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
        "transition": [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]],
        "emission": [[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.4, 0.4]],
    },
    "lgssm": {"a": 0.9, "q": 0.5, "r": 1.0, "x1_mean": 0.0, "x1_sd": 1.0},
}


@dataclass
class Hyperparameters:
    """Model hyperparameters plus where they came from (reported in ``notes``)."""
    values: Dict[str, Dict[str, Any]]
    notes: List[str] = field(default_factory=list)

    def __getitem__(self, model: str) -> Dict[str, Any]:
        return self.values[model]


def load_hyperparameters(data_dir: str) -> Hyperparameters:
    """Read ``data_dir/datasets.json``, tolerant of extra keys and of missing ones.

    Each model's known keys are taken from the file when present; anything absent falls
    back to ``DEFAULT_HYPERPARAMETERS`` and is listed in ``notes`` so a row computed with a
    default is visible as such.  A few alternative spellings are accepted for the
    polynomial prior (``prior_sd`` / ``prior_std`` / ``coeff_prior_sd``).
    """
    path = os.path.join(data_dir, "datasets.json")
    values = json.loads(json.dumps(DEFAULT_HYPERPARAMETERS))  # deep copy
    notes: List[str] = []
    if not os.path.exists(path):
        notes.append(f"{path} not found: built-in default hyperparameters used")
        return Hyperparameters(values, notes)
    try:
        with open(path) as fh:
            raw = json.load(fh)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a JSON object at top level")
    aliases = {"polynomial": {"prior_sd": ("prior_sd", "prior_std", "coeff_prior_sd"),
                              "true_coeffs": ("true_coeffs", "true_coefficients", "coeffs")}}
    # Accept either the model names used here or a hyphenated variant.
    for model, defaults in DEFAULT_HYPERPARAMETERS.items():
        section = raw.get(model, raw.get(model.replace("_", "-")))
        if not isinstance(section, dict):
            notes.append(f"{path}: no '{model}' section: built-in defaults used for it")
            continue
        for key in defaults:
            names = aliases.get(model, {}).get(key, (key,))
            found = next((n for n in names if n in section), None)
            if found is None:
                notes.append(f"{path}: '{model}.{key}' missing: default {defaults[key]} used")
            else:
                values[model][key] = section[found]
    _validate_hmm(values["hmm"], path)
    return Hyperparameters(values, notes)


def _validate_hmm(h: Dict[str, Any], path: str) -> None:
    init = np.asarray(h["initial"], dtype=np.float64)
    trans = np.asarray(h["transition"], dtype=np.float64)
    emis = np.asarray(h["emission"], dtype=np.float64)
    k = init.shape[0]
    if trans.shape != (k, k) or emis.ndim != 2 or emis.shape[0] != k:
        raise DataError(f"{path}: hmm shapes disagree: initial {init.shape}, transition {trans.shape}, emission {emis.shape}")
    for name, arr in (("initial", init), ("transition", trans), ("emission", emis)):
        if np.any(arr < 0) or not np.allclose(arr.sum(axis=-1), 1.0, atol=1e-9):
            raise DataError(f"{path}: hmm.{name} rows must be probability vectors")


@dataclass
class PolynomialData:
    x: np.ndarray          # (n,)
    y: np.ndarray          # (n,)
    noise_sd: float
    prior_sd: float
    path: str

    @property
    def design(self) -> np.ndarray:
        """Phi with rows [1, x, x^2] (latent order a, b, c)."""
        return np.stack([np.ones_like(self.x), self.x, self.x ** 2], axis=1)


def load_polynomial(args: argparse.Namespace, hyper: Hyperparameters) -> PolynomialData:
    path = polynomial_path(args.data_dir, args.n_points, args.noise_sd)
    cols = read_csv_columns(path, ("x", "y"), (float, float))
    if cols["x"].shape[0] != args.n_points:
        raise DataError(f"{path}: expected {args.n_points} rows, found {cols['x'].shape[0]}")
    return PolynomialData(cols["x"], cols["y"], float(args.noise_sd), float(hyper["polynomial"]["prior_sd"]), path)


@dataclass
class BetaBernoulliData:
    y: np.ndarray  # (n,) of 0/1 int64
    alpha: float
    beta: float
    path: str


def load_beta_bernoulli(args: argparse.Namespace, hyper: Hyperparameters) -> BetaBernoulliData:
    path = os.path.join(args.data_dir, "beta_bernoulli.csv")
    y = read_csv_columns(path, ("y",), (int,))["y"]
    bad = np.nonzero((y != 0) & (y != 1))[0]
    if bad.size:
        raise DataError(f"{path}:{int(bad[0]) + 2}: y must be 0 or 1, got {int(y[bad[0]])}")
    h = hyper["beta_bernoulli"]
    return BetaBernoulliData(y, float(h["alpha"]), float(h["beta"]), path)


def _sorted_by_t(cols: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Rows in time order (the files are written in order; this makes the loader not care)."""
    order = np.argsort(cols["t"], kind="stable")
    return {k: v[order] for k, v in cols.items()}


@dataclass
class HmmData:
    y: np.ndarray           # (T,) int64 symbols in 0..n_symbols-1
    initial: np.ndarray     # (K,)
    transition: np.ndarray  # (K, K), row = current state
    emission: np.ndarray    # (K, M), row = current state
    path: str


def load_hmm(args: argparse.Namespace, hyper: Hyperparameters) -> HmmData:
    path = os.path.join(args.data_dir, "hmm.csv")
    cols = _sorted_by_t(read_csv_columns(path, ("t", "y"), (int, int)))
    h = hyper["hmm"]
    emission = np.asarray(h["emission"], dtype=np.float64)
    y = cols["y"]
    bad = np.nonzero((y < 0) | (y >= emission.shape[1]))[0]
    if bad.size:
        raise DataError(f"{path}:{int(bad[0]) + 2}: symbol {int(y[bad[0]])} outside 0..{emission.shape[1] - 1}")
    return HmmData(y, np.asarray(h["initial"], dtype=np.float64),
                   np.asarray(h["transition"], dtype=np.float64), emission, path)


@dataclass
class LgssmData:
    y: np.ndarray  # (T,)
    a: float
    q: float
    r: float
    x1_mean: float
    x1_sd: float
    path: str


def load_lgssm(args: argparse.Namespace, hyper: Hyperparameters) -> LgssmData:
    path = os.path.join(args.data_dir, "lgssm.csv")
    cols = _sorted_by_t(read_csv_columns(path, ("t", "y"), (int, float)))
    h = hyper["lgssm"]
    return LgssmData(cols["y"], float(h["a"]), float(h["q"]), float(h["r"]),
                     float(h["x1_mean"]), float(h["x1_sd"]), path)


# --------------------------------------------------------------------------------------
# Exact references (used by the tests and for sanity notes; numpy only)
#
# The definition of each of these numbers is the Rust side's (gen_runtime::exact), written for
# every committed data set to data/exact.json by `benchmarks data`; tests/test_common.py checks
# each function here against that file. They stay here because the runners' notes and the tests
# also need them on data other than the committed files (any --data-dir).
# --------------------------------------------------------------------------------------

def exact_polynomial(d: PolynomialData) -> Dict[str, Any]:
    """Conjugate Gaussian linear regression: log p(y), posterior mean and sd of (a, b, c)."""
    phi = d.design
    n = phi.shape[0]
    cov_y = d.noise_sd ** 2 * np.eye(n) + d.prior_sd ** 2 * phi @ phi.T
    sign, logdet = np.linalg.slogdet(cov_y)
    log_ml = -0.5 * (n * math.log(2 * math.pi) + logdet + d.y @ np.linalg.solve(cov_y, d.y))
    prec = phi.T @ phi / d.noise_sd ** 2 + np.eye(3) / d.prior_sd ** 2
    cov = np.linalg.inv(prec)
    mean = cov @ (phi.T @ d.y) / d.noise_sd ** 2
    return {"log_ml": float(log_ml), "posterior_mean": mean.tolist(), "posterior_sd": np.sqrt(np.diag(cov)).tolist()}


def exact_beta_bernoulli(d: BetaBernoulliData) -> Dict[str, Any]:
    """Beta(alpha + k, beta + n - k) posterior: log p(y) of the sequence, posterior mean and sd of p."""
    k = int(d.y.sum())
    n = int(d.y.shape[0])
    lbeta = lambda a, b: math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    a_post, b_post = d.alpha + k, d.beta + n - k
    mean = a_post / (a_post + b_post)
    var = a_post * b_post / ((a_post + b_post) ** 2 * (a_post + b_post + 1))
    return {"log_ml": lbeta(a_post, b_post) - lbeta(d.alpha, d.beta), "posterior_mean": [mean], "posterior_sd": [math.sqrt(var)]}


def exact_hmm_log_ml(d: HmmData) -> float:
    """Forward algorithm in log space."""
    log_alpha = np.log(d.initial) + np.log(d.emission[:, d.y[0]])
    log_t = np.log(d.transition)
    for t in range(1, d.y.shape[0]):
        log_alpha = _logsumexp(log_alpha[:, None] + log_t, axis=0) + np.log(d.emission[:, d.y[t]])
    return float(_logsumexp(log_alpha))


def exact_lgssm_log_ml(d: LgssmData) -> float:
    """Kalman filter log p(y_1..T)."""
    m, v = d.x1_mean, d.x1_sd ** 2
    total = 0.0
    for t, y_t in enumerate(d.y):
        if t > 0:
            m, v = d.a * m, d.a ** 2 * v + d.q ** 2
        s = v + d.r ** 2
        total += -0.5 * (math.log(2 * math.pi * s) + (y_t - m) ** 2 / s)
        k = v / s
        m, v = m + k * (y_t - m), (1 - k) * v
    return float(total)


def _logsumexp(a: np.ndarray, axis: Optional[int] = None) -> np.ndarray:
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


# --------------------------------------------------------------------------------------
# Quality helpers (computed outside the timed region, in float64)
# --------------------------------------------------------------------------------------

def log_ml_from_log_weights(log_w: Any) -> float:
    """log of the mean importance weight: logsumexp(log_w) - log N."""
    lw = np.asarray(log_w, dtype=np.float64).reshape(-1)
    return float(_logsumexp(lw) - math.log(lw.shape[0]))


def normalized_weights(log_w: Any) -> np.ndarray:
    lw = np.asarray(log_w, dtype=np.float64).reshape(-1)
    return np.exp(lw - _logsumexp(lw))


def ess_from_log_weights(log_w: Any) -> float:
    """Kish effective sample size 1 / sum(w_i^2) of the normalized weights."""
    w = normalized_weights(log_w)
    return float(1.0 / np.sum(w ** 2))


def weighted_moments(samples: Any, log_w: Any) -> Tuple[List[float], List[float]]:
    """Self-normalized IS posterior mean and sd per latent; samples is (N,) or (N, d)."""
    s = np.asarray(samples, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    w = normalized_weights(log_w)
    mean = w @ s
    var = w @ (s - mean) ** 2
    return mean.tolist(), np.sqrt(np.maximum(var, 0.0)).tolist()


def sample_moments(samples: Any) -> Tuple[List[float], List[float]]:
    """Posterior mean and sd per latent over MCMC samples (S,) or (S, d)."""
    s = np.asarray(samples, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    return s.mean(axis=0).tolist(), s.std(axis=0, ddof=1 if s.shape[0] > 1 else 0).tolist()


# The key under which a quality block carries its raw arrays to ``main``, which writes them
# to ``--raw-out`` (and never into the JSON).
RAW = "_raw"


def is_quality(log_w: Any, samples: Any = None) -> Dict[str, Any]:
    """The IS quality block: log_ml, ess and (if samples are given) weighted moments; the raw
    log weights (and particles) go with it for ``--raw-out``."""
    lw = np.asarray(log_w, dtype=np.float64).reshape(-1)
    q: Dict[str, Any] = {"log_ml": log_ml_from_log_weights(lw), "ess": ess_from_log_weights(lw)}
    raw: Dict[str, np.ndarray] = {"log_weights": lw}
    if samples is not None:
        q["posterior_mean"], q["posterior_sd"] = weighted_moments(samples, lw)
        s = np.asarray(samples, dtype=np.float64)
        raw["samples"] = s[:, None] if s.ndim == 1 else s
    q[RAW] = raw
    return q


def smc_quality(log_ml: float, final_log_weights: Any) -> Dict[str, Any]:
    """The SMC quality block: the filter's log-ML estimate and the Kish ESS of the last step's
    weights (before any resampling, else it would always be N); those weights go with it."""
    lw = np.asarray(final_log_weights, dtype=np.float64).reshape(-1)
    return {"log_ml": float(log_ml), "ess": ess_from_log_weights(lw), RAW: {"final_log_weights": lw}}


def exact_quality(log_ml: Any) -> Dict[str, Any]:
    """The quality block of an exact-filtering row (``--method exact``): the framework's own
    log p(y_1:T) as a float64 number; no ``ess`` (nothing is sampled)."""
    return {"log_ml": float(log_ml)}


def exact_log_ml_note(exact: float) -> str:
    """The note every SMC row carries, so a reader (and the tests) can compare log_ml with the
    forward algorithm / Kalman filter value computed from the same data."""
    return f"exact log-ML {exact:.6f}"


def autocovariance(x: Any) -> np.ndarray:
    """Biased (divide by n) autocovariance of a 1-d series at lags 0..n-1.

    Computed by FFT with zero padding to at least 2n, so the circular correlation equals the
    linear one; the biased estimator is the one Geyer (1992) and Stan use.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    n = x.shape[0]
    centered = x - x.mean()
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(centered, size)
    return np.fft.irfft(f * np.conj(f), size)[:n] / n


def ess_mean(draws: Any) -> float:
    """Effective sample size of the mean: ArviZ's ``ess(method="mean")``.

    ``draws`` is one chain (a 1-d sequence) or several, (chains, draws). Vehtari et al. (2021)
    section 3.2, as ArviZ and the Rust rows of the benchmark compute it
    (``gen_runtime::diagnostics::ess_mean``), so ESS per second compares across frameworks:
    each chain is split into halves (the middle draw of an odd chain is dropped; all first
    halves, then all second halves, as ArviZ's ``_split_chains``), the autocovariances are
    averaged across the split chains and turned into autocorrelations with the multi-chain
    variance estimate var_plus (within-chain variance plus the variance of the split chains'
    means), summed in pairs under Geyer's initial positive sequence, made monotone, with the
    antithetic last term; tau is floored at 1 / log10(total draws) (ESS at most
    total * log10(total)). One chain is the case of two split halves (unchanged from the
    single-chain version, bit for bit).

    NaN when a chain has fewer than 8 draws, a draw is non-finite, or all draws are equal (a
    sampler that never moved has told us nothing about mixing; the Rust rows say NaN there
    too, where ArviZ would report the full ESS).
    """
    x = np.asarray(draws, dtype=np.float64)
    if x.ndim != 2:
        x = x.reshape(1, -1)  # one chain
    if x.shape[0] < 1 or x.shape[1] < 8 or not np.all(np.isfinite(x)) or np.all(x == x.flat[0]):
        return math.nan
    half = x.shape[1] // 2
    chains = np.concatenate([x[:, :half], x[:, -half:]], axis=0)
    m, n = chains.shape
    acov = np.stack([autocovariance(c) for c in chains]).mean(axis=0)
    mean_var = acov[0] * n / (n - 1)
    var_plus = mean_var * (n - 1) / n + np.var(chains.mean(axis=1), ddof=1)
    rho = 1.0 - (mean_var - acov) / var_plus

    rho_hat = np.zeros(n)
    rho_even, rho_odd = 1.0, rho[1]
    rho_hat[0], rho_hat[1] = rho_even, rho_odd
    # Initial positive sequence: stop at the first pair of lags whose sum is negative.
    t = 1
    while t + 3 < n and rho_even + rho_odd > 0.0:
        rho_even, rho_odd = rho[t + 1], rho[t + 2]
        if rho_even + rho_odd >= 0.0:
            rho_hat[t + 1], rho_hat[t + 2] = rho_even, rho_odd
        t += 2
    last = t - 1
    if rho_even > 0.0:
        rho_hat[last] = rho_even
    # Initial monotone sequence: pair sums may not increase.
    t = 1
    while t + 3 <= last:
        if rho_hat[t + 1] + rho_hat[t + 2] > rho_hat[t - 1] + rho_hat[t]:
            rho_hat[t + 1] = rho_hat[t + 2] = (rho_hat[t - 1] + rho_hat[t]) / 2.0
        t += 2
    total = m * n
    tau = -1.0 + 2.0 * float(np.sum(rho_hat[:last])) + float(rho_hat[last])
    return float(total / max(tau, 1.0 / math.log10(total)))


# For the notes of every MCMC row, so the rows say what their `ess` is in the same words.
MCMC_ESS_NOTE = ("ess: smallest ESS of the mean over the latents (ArviZ's ess(method='mean') of the "
                 "split chain, as the Rust rows); ess_per_latent in latent order")

# The same for a row with several chains (``--n-chains``).
MCMC_ESS_NOTE_CHAINS = ("ess: smallest ESS of the mean over the latents (ArviZ's ess(method='mean') over all "
                        "chains, each split in halves, as the Rust rows); ess_per_latent in latent order")


def hmc_quality(samples: Any, accept: Any, divergences: Optional[int] = None) -> Dict[str, Any]:
    """The MCMC (HMC / NUTS) quality block over the kept samples.

    ``samples`` is one chain, (draws,) or (draws, latents), or several chains,
    (chains, draws, latents). Posterior moments over all draws pooled, acceptance rate,
    divergences (when given), ``ess_per_latent`` (``ess_mean`` of each latent over all chains,
    in latent order) and ``ess``, their minimum (NaN if any latent's is NaN), which is what
    ESS per second is made of. ``accept`` is either per-transition acceptance indicators /
    probabilities, every chain's concatenated (any shape; the mean is taken), or a single rate.
    The raw ``draws`` keep the chain axis: (chains, draws, latents).
    """
    s = np.asarray(samples, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim == 2:
        s = s[None, :, :]  # one chain
    if s.ndim != 3:
        raise ValueError(f"hmc_quality: samples of shape {s.shape}; expected (draws,), (draws, latents) "
                         "or (chains, draws, latents)")
    mean, sd = sample_moments(s.reshape(-1, s.shape[2]))
    per_latent = [ess_mean(s[:, :, j]) for j in range(s.shape[2])]
    acc = np.atleast_1d(np.asarray(accept, dtype=np.float64)).reshape(-1)
    q: Dict[str, Any] = {"posterior_mean": mean, "posterior_sd": sd,
                         "acceptance_rate": float(np.mean(acc)),
                         "ess": float(np.min(per_latent)), "ess_per_latent": per_latent,
                         RAW: {"draws": s, "accept": acc}}
    if divergences is not None:
        q["divergences"] = int(divergences)
    return q


# The mean-field guide every VI row fits (PROTOCOL.md, "VI"): q(z_j) = Normal(loc_j, scale_j) with
# scale_j = softplus(raw_j), started at loc 0 and scale 1, i.e. raw = log(e - 1).
VI_INIT_LOC = 0.0
VI_INIT_SCALE = 1.0
VI_INIT_RAW_SCALE = math.log(math.expm1(1.0))  # softplus^-1(1) = 0.5413248546129181

# What the `elbo` of every VI row is, in the same words.
VI_ELBO_NOTE = ("elbo: mean of the framework's own per-step ELBO estimates (K-sample Monte Carlo, "
                "negated losses) over the last 10% of steps")


def vi_elbo_window(n_steps: int) -> int:
    """How many final steps the reported ``elbo`` averages: 10% of the steps, at least one."""
    return max(1, -(-n_steps // 10))  # ceil(n_steps / 10) in integers (0.1 * 30 rounds up to 4)


def vi_quality(loc: Any, scale: Any, elbo_history: Any) -> Dict[str, Any]:
    """The VI quality block: the fitted guide's loc and scale (latent order) as
    ``posterior_mean`` / ``posterior_sd`` in float64, and ``elbo``, the mean of the per-step
    ELBO estimates (one per optimizer step, in step order) over the last 10% of the steps."""
    h = np.asarray(elbo_history, dtype=np.float64).reshape(-1)
    return {"posterior_mean": np.asarray(loc, dtype=np.float64).reshape(-1).tolist(),
            "posterior_sd": np.asarray(scale, dtype=np.float64).reshape(-1).tolist(),
            "elbo": float(np.mean(h[-vi_elbo_window(h.shape[0]):]))}


# --------------------------------------------------------------------------------------
# Timing and memory
# --------------------------------------------------------------------------------------

@dataclass
class Timing:
    compile_time_s: float
    times_s: List[float]
    last: Any  # the (materialized) result of the last timed call


def time_calls(call: Callable[[int], Any], repeats: int,
               materialize: Callable[[Any], Any] = lambda r: r) -> Timing:
    """The timing protocol.

    ``call(i)`` runs the whole inference once (``i`` = 0 for the warm-up call, 1..repeats
    for the timed ones, so a runner can derive a fresh random key per call).
    ``materialize(result)`` must block until the result exists (``block_until_ready``,
    ``.item()``, a device sync) and return it; it runs *inside* the timed region.

    Call 0 is timed on its own and reported as ``compile_time_s`` (JIT compilation, or
    the first-call warm-up for eager frameworks); it is excluded from ``times_s``.
    """
    t0 = time.perf_counter()
    result = materialize(call(0))
    compile_time = time.perf_counter() - t0
    times: List[float] = []
    for i in range(1, repeats + 1):
        t0 = time.perf_counter()
        result = materialize(call(i))
        times.append(time.perf_counter() - t0)
    return Timing(compile_time, times, result)


def peak_memory_bytes() -> int:
    """Peak resident set size of this process so far (ru_maxrss; KiB on Linux, bytes on macOS).

    This is the whole process (interpreter, framework import, compiled code, data), which
    is what a user of the framework pays.
    """
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


# --------------------------------------------------------------------------------------
# JSON output
# --------------------------------------------------------------------------------------

_REAL_STDOUT_FD: Optional[int] = None


def redirect_stdout_to_stderr() -> None:
    """Point fd 1 (and sys.stdout) at stderr; keep the real stdout for the final JSON."""
    global _REAL_STDOUT_FD
    if _REAL_STDOUT_FD is not None:
        return
    sys.stdout.flush()
    _REAL_STDOUT_FD = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def _json_safe(obj: Any) -> Any:
    """Make values strict-JSON: numpy scalars/arrays to Python, NaN/inf to null."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


def emit_json(obj: Dict[str, Any]) -> None:
    """Write one JSON object (one line) to the real stdout."""
    text = json.dumps(_json_safe(obj), allow_nan=False) + "\n"
    if _REAL_STDOUT_FD is not None:
        os.write(_REAL_STDOUT_FD, text.encode())
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def emit_error(framework: str, message: str, exit_code: int = 1) -> None:
    """Print ``{"framework": ..., "error": ...}`` and exit non-zero."""
    emit_json({"framework": framework, "error": message})
    sys.exit(exit_code)


class Unsupported(Exception):
    """The framework does not implement this (model, method); reported as a JSON error."""


# A runner for one (model, method): takes the parsed args and the hyperparameters, returns
# a dict with at least "compile_time_s", "times_s", "quality"; optionally "notes", "flags"
# and "peak_memory_bytes" (else this process's ru_maxrss when the runner returns).
Runner = Callable[[argparse.Namespace, Hyperparameters], Dict[str, Any]]


def write_raw(quality: Dict[str, Any], raw_out: Optional[str]) -> Dict[str, Any]:
    """The quality block without its raw arrays, which go to ``raw_out/<name>.npy`` (float64,
    C order) when a folder is given (PROTOCOL.md "Raw output")."""
    quality = dict(quality)
    raw = quality.pop(RAW, None)
    if raw_out is not None and raw:
        os.makedirs(raw_out, exist_ok=True)
        for name, array in raw.items():
            np.save(os.path.join(raw_out, f"{name}.npy"), np.ascontiguousarray(array, dtype=np.float64))
    return quality


def main(framework: str, version: Callable[[], str], runners: Dict[Tuple[str, str], Runner],
         argv: Optional[Sequence[str]] = None, framework_choices: Optional[Sequence[str]] = None,
         args: Optional[argparse.Namespace] = None,
         preparers: Optional[Dict[Tuple[str, str], Runner]] = None) -> None:
    """Parse flags, run ``runners[(model, method)]`` and print the result JSON.

    With ``--prepare``, run ``preparers[(model, method)]`` instead (a one-time, cached build,
    e.g. compiling a Stan model) and print ``{"framework", "prepared", "build_time_s",
    "notes"}``; a pair without a preparer needs nothing (``prepared`` false).

    Any exception (missing data, import failure, framework error) becomes a JSON error
    with the exception's message; the traceback goes to stderr.
    """
    redirect_stdout_to_stderr()
    if args is None:
        args = parse_args(framework, argv, framework_choices)
    try:
        if args.version:
            emit_json({"framework": framework, "version": version()})
            return
        if args.prepare:
            preparer = (preparers or {}).get((args.model, args.method))
            out = preparer(args, load_hyperparameters(args.data_dir)) if preparer is not None else {}
            emit_json({"framework": framework, "prepared": preparer is not None,
                       "build_time_s": float(out.get("build_time_s", 0.0)), "notes": list(out.get("notes", []))})
            return
        runner = runners.get((args.model, args.method))
        if runner is None:
            have = ", ".join(f"{m}/{k}" for m, k in sorted(runners))
            raise Unsupported(f"{framework} does not implement model '{args.model}' with method '{args.method}' "
                              f"(implemented: {have})")
        if getattr(args, "n_chains", 1) > 1 and not getattr(runner, "multi_chain", False):
            raise Unsupported(f"{framework} runs one chain for {args.model}/{args.method}; --n-chains "
                              f"{args.n_chains} needs a runner marked multi_chain (PROTOCOL.md)")
        hyper = load_hyperparameters(args.data_dir)
        out = runner(args, hyper)
        quality = write_raw(out.get("quality", {}), args.raw_out)
        result = {
            "framework": framework,
            "version": version(),
            "model": args.model,
            "method": args.method,
            "config": config_of(args),
            "compile_time_s": float(out["compile_time_s"]),
            "times_s": [float(t) for t in out["times_s"]],
            "quality": quality,
            # A runner may measure the peak itself (e.g. before extra diagnostic runs).
            "peak_memory_bytes": int(out["peak_memory_bytes"]) if "peak_memory_bytes" in out else peak_memory_bytes(),
            "notes": list(hyper.notes) + list(out.get("notes", [])),
            "flags": list(out.get("flags", [])),
        }
        emit_json(result)
    except SystemExit:
        raise
    except DataError as e:
        emit_error(framework, str(e))
    except Unsupported as e:
        emit_error(framework, str(e))
    except BaseException as e:  # noqa: BLE001 - everything must come back as JSON
        traceback.print_exc(file=sys.stderr)
        emit_error(framework, f"{type(e).__name__}: {e}")

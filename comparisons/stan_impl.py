"""Stan: NUTS and static HMC through Stan's C++ services, timed inside a compiled driver.

Methods (comparisons/frameworks/stan.json), all run by one C++ driver (``stan_driver.cpp``)
compiled against the Stan sources that the httpstan wheel ships, one binary per Stan program:

* polynomial / nuts, beta_bernoulli / nuts: ``stan::services::sample::hmc_nuts_diag_e_adapt``
  with Stan's defaults (what CmdStan's ``method=sample`` and pystan's ``posterior.sample``
  run): NUTS, max tree depth 10, dual-averaging step size targeting accept_stat 0.8,
  diagonal metric adapted in Stan's windows over ``--n-warmup`` iterations, initial step
  size 1, Stan's random inits uniform in (-2, 2) on the unconstrained scale, one chain.
* polynomial / hmc: ``stan::services::sample::hmc_static_diag_e``, unit diagonal metric, no
  adaptation, start at zero, the benchmark's step size and leapfrog count (httpstan exposes
  only NUTS and fixed_param, so this one has no pystan route at all).

Timing: the driver constructs the model from the data once (untimed), makes one untimed
warm-up call, then times each of ``--repeats`` services calls with ``std::chrono`` around the
call alone (initialization, warm-up/adaptation, sampling, draws kept in memory), each with
random seed ``seed + call index`` and chain id 1 (pystan's seeding for one chain). Stan's own
"Elapsed Time" total (warm-up + sampling, CmdStan's report, whole milliseconds) is read from
the sampler's output for the notes. No process start, data reading, JSON or HTTP is timed.

NUTS used to be timed through pystan (``posterior.sample``: an HTTP request to in-process
httpstan, sampling in a forked worker, draws streamed back as JSON), which added ~0.2 s per
call at every size; ``stan_http_overhead.py`` measures that route against this one.

The polynomial program is the fastest of the idiomatic forms measured with this driver (see
PROTOCOL.md, "Stan"): the design matrix [1, x, x^2] is built once in ``transformed data`` and
the likelihood is ``normal_id_glm``.

What the httpstan 4.13.0 wheel ships (found by reading it, used by ``build_driver``):

* ``httpstan/stanc``: stanc3 v2.35.0, a static binary (``stanc --name N --o model.hpp model.stan``);
* ``httpstan/include``: Stan 2.35.0 and Stan Math 4.9.0 headers (``stan/services``,
  ``stan/math``), Eigen, Boost, Sundials (cvodes, idas, kinsol), TBB, rapidjson;
* ``httpstan/lib``: ``libtbb.so(.2)`` and static Sundials libraries (cvodes, idas, kinsol,
  nvecserial).
* The flags httpstan itself compiles models with (httpstan/models.py): ``-O3 -std=c++14
  -Wno-sign-compare``, ``-DBOOST_DISABLE_ASSERTS -DBOOST_PHOENIX_NO_VARIADIC_EXPRESSION
  -DSTAN_THREADS -D_REENTRANT`` and ``-D_GLIBCXX_USE_CXX11_ABI=0``; setuptools adds Python's
  sysconfig flags (``-DNDEBUG -g -fwrapv -O3 -Wall`` here). ``_GLIBCXX_USE_CXX11_ABI=0``
  matters: the shipped libtbb was built on manylinux2014 with the old libstdc++ ABI. Linking
  needs ``-ltbb -lsundials_cvodes -lsundials_idas -lsundials_nvecserial`` from
  ``httpstan/lib`` and an rpath to it (libtbb.so is shared). With g++ 12.2 the build of one
  model takes about 30 s of CPU (35-80 s wall on the 2-core machine, depending on load) and
  peaks at about 1.8 GB of memory.

stanc runs with its default optimization level (O0), as httpstan and CmdStan run it.
``stanc --O1`` (struct-of-arrays autodiff) made the static-HMC run of the earlier program
about 1.6x faster at n = 1000 here (0.56 s vs 0.94 s median, loaded 2-core machine); it is
not what a default pystan or CmdStan user gets, so it is not used.

pystan/httpstan are no longer on any row's timed path, but the stan env keeps them: the
driver builds from the wheel's stanc and headers, ``stan_http_overhead.py`` times
``posterior.sample`` for comparison, and ``funnel_stan.py`` samples through pystan.

Everything Stan builds (the drivers, and httpstan's model cache for the pystan scripts) lives
under ``comparisons/.build/`` (git-ignored), so deleting that folder is a complete clean.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

import common

NAME = "stan"

COMPARISONS_DIR = os.path.dirname(os.path.abspath(__file__))
BUILD_DIR = os.path.join(COMPARISONS_DIR, ".build")
DRIVER_SOURCE = os.path.join(COMPARISONS_DIR, "stan_driver.cpp")

# appdirs reads XDG_CACHE_HOME when httpstan asks for its cache folder, so setting it before
# the first request keeps compiled models and fits (stan_http_overhead.py) out of the user's
# home directory.
os.environ["XDG_CACHE_HOME"] = os.path.join(BUILD_DIR, "cache")

# Imported at module level so that outside the stan virtualenv run.py answers with its
# "cannot import ... is this the right virtualenv?" error instead of failing later: the
# driver is built from the stanc binary and headers inside the httpstan wheel.
import httpstan  # noqa: E402,F401

# Prior means are part of the model definition (data/README.md: Normal(0, 1)); the prior sd
# and the noise sd come from datasets.json and the data file, so they are data here.
# The forms measured for PROTOCOL.md ("Stan"); POLYNOMIAL_PROGRAM below is the one used.
POLYNOMIAL_FORMS: Dict[str, str] = {
    # The program of the earlier rows: square(x) and the mean recomputed in every gradient.
    "inline": """
data {
  int<lower=0> N;
  vector[N] x;
  vector[N] y;
  real<lower=0> noise_sd;
  real<lower=0> prior_sd;
}
parameters {
  real a;
  real b;
  real c;
}
model {
  a ~ normal(0, prior_sd);
  b ~ normal(0, prior_sd);
  c ~ normal(0, prior_sd);
  y ~ normal(a + b * x + c * square(x), noise_sd);
}
""",
    # Data-only work moved out: x^2 once, in transformed data.
    "x2_data": """
data {
  int<lower=0> N;
  vector[N] x;
  vector[N] y;
  real<lower=0> noise_sd;
  real<lower=0> prior_sd;
}
transformed data {
  vector[N] x2 = square(x);
}
parameters {
  real a;
  real b;
  real c;
}
model {
  a ~ normal(0, prior_sd);
  b ~ normal(0, prior_sd);
  c ~ normal(0, prior_sd);
  y ~ normal(a + b * x + c * x2, noise_sd);
}
""",
    # Design matrix X = [1, x, x^2] once; the mean as one matrix-vector product.
    "matrix": """
data {
  int<lower=0> N;
  vector[N] x;
  vector[N] y;
  real<lower=0> noise_sd;
  real<lower=0> prior_sd;
}
transformed data {
  matrix[N, 3] X = append_col(append_col(rep_vector(1, N), x), square(x));
}
parameters {
  real a;
  real b;
  real c;
}
model {
  vector[3] beta = [a, b, c]';
  beta ~ normal(0, prior_sd);
  y ~ normal(X * beta, noise_sd);
}
""",
    # The GLM likelihood (analytic gradient), all three coefficients in beta, alpha = 0.
    "glm": """
data {
  int<lower=0> N;
  vector[N] x;
  vector[N] y;
  real<lower=0> noise_sd;
  real<lower=0> prior_sd;
}
transformed data {
  matrix[N, 3] X = append_col(append_col(rep_vector(1, N), x), square(x));
}
parameters {
  real a;
  real b;
  real c;
}
model {
  vector[3] beta = [a, b, c]';
  beta ~ normal(0, prior_sd);
  y ~ normal_id_glm(X, 0, beta, noise_sd);
}
""",
    # The GLM likelihood with the intercept as alpha and X = [x, x^2].
    "glm_alpha": """
data {
  int<lower=0> N;
  vector[N] x;
  vector[N] y;
  real<lower=0> noise_sd;
  real<lower=0> prior_sd;
}
transformed data {
  matrix[N, 2] X = append_col(x, square(x));
}
parameters {
  real a;
  real b;
  real c;
}
model {
  a ~ normal(0, prior_sd);
  b ~ normal(0, prior_sd);
  c ~ normal(0, prior_sd);
  y ~ normal_id_glm(X, a, [b, c]', noise_sd);
}
""",
    # The GLM with a vector parameter (no [a, b, c]' assembly); draws are beta.1..3 = a, b, c.
    "glm_vector": """
data {
  int<lower=0> N;
  vector[N] x;
  vector[N] y;
  real<lower=0> noise_sd;
  real<lower=0> prior_sd;
}
transformed data {
  matrix[N, 3] X = append_col(append_col(rep_vector(1, N), x), square(x));
}
parameters {
  vector[3] beta;
}
model {
  beta ~ normal(0, prior_sd);
  y ~ normal_id_glm(X, 0, beta, noise_sd);
}
""",
}

POLYNOMIAL_PROGRAM_FORM = "glm_alpha"
POLYNOMIAL_PROGRAM = POLYNOMIAL_FORMS[POLYNOMIAL_PROGRAM_FORM]

BETA_BERNOULLI_PROGRAM = """
data {
  int<lower=0> N;
  array[N] int<lower=0, upper=1> y;
  real<lower=0> alpha;
  real<lower=0> beta;
}
parameters {
  real<lower=0, upper=1> p;
}
model {
  p ~ beta(alpha, beta);
  y ~ bernoulli(p);
}
"""

POLYNOMIAL_LATENTS = ("a", "b", "c")
BETA_BERNOULLI_LATENTS = ("p",)


def latent_columns(names: List[str], latents: Tuple[str, ...]) -> List[int]:
    """Column of each latent in Stan's output: by name, or for a program that declares them
    as one vector (``beta.1``, ``beta.2``, ...) by position, in latent order."""
    if all(n in names for n in latents):
        return [names.index(n) for n in latents]
    params = [i for i, n in enumerate(names) if not n.endswith("__")]
    if len(params) != len(latents):
        raise RuntimeError(f"cannot map Stan's columns {names} to the latents {latents}")
    return params


# --------------------------------------------------------------------------------------
# Versions
# --------------------------------------------------------------------------------------

def version() -> str:
    """The version of what samples: Stan's C++ (the driver is built from it), not pystan."""
    return _stan_cpp_version()


def _pystan_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("pystan")


def _httpstan_dir() -> str:
    return os.path.dirname(os.path.abspath(httpstan.__file__))


def _stan_cpp_version() -> str:
    """Stan C++ version from the headers httpstan ships (no compilation needed)."""
    path = os.path.join(_httpstan_dir(), "include", "stan", "version.hpp")
    parts = {}
    with open(path) as fh:
        for line in fh:
            for key in ("STAN_MAJOR", "STAN_MINOR", "STAN_PATCH"):
                if line.startswith(f"#define {key} "):
                    parts[key] = line.split()[2]
    return ".".join(parts.get(k, "?") for k in ("STAN_MAJOR", "STAN_MINOR", "STAN_PATCH"))


def _version_notes() -> List[str]:
    return [f"Stan {_stan_cpp_version()} C++ (stanc3 and headers from the httpstan "
            f"{httpstan.__version__} wheel; pystan {_pystan_version()} is not on the timed path)"]


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------

def _polynomial_stan_data(args, hyper) -> Dict[str, Any]:
    d = common.load_polynomial(args, hyper)
    return {"N": int(d.x.shape[0]), "x": d.x.tolist(), "y": d.y.tolist(),
            "noise_sd": float(d.noise_sd), "prior_sd": float(d.prior_sd)}


def _beta_bernoulli_stan_data(args, hyper) -> Dict[str, Any]:
    d = common.load_beta_bernoulli(args, hyper)
    return {"N": int(d.y.shape[0]), "y": [int(v) for v in d.y], "alpha": d.alpha, "beta": d.beta}


# --------------------------------------------------------------------------------------
# The C++ driver: build
# --------------------------------------------------------------------------------------

class BuildError(RuntimeError):
    """The driver could not be built; the message carries the compiler's words."""


def compiler_command(model_hpp: str, output: str) -> List[str]:
    """The g++ command line for the driver (also documented in PROTOCOL.md / the report)."""
    hs = _httpstan_dir()
    return [
        # What httpstan compiles its models with: its own flags (httpstan/models.py) plus the
        # ones setuptools takes from Python's sysconfig (-DNDEBUG -fwrapv -O3), so the
        # driver runs the code pystan users run. -DNDEBUG also switches off Eigen's asserts.
        os.environ.get("CXX", "g++"), "-O3", "-DNDEBUG", "-fwrapv", "-std=c++14", "-Wno-sign-compare",
        "-DBOOST_DISABLE_ASSERTS", "-DBOOST_PHOENIX_NO_VARIADIC_EXPRESSION",
        "-DSTAN_THREADS", "-D_REENTRANT", "-D_GLIBCXX_USE_CXX11_ABI=0",
        "-I", os.path.join(hs, "include"),
        # The stanc output defines the model class and `new_model`; the driver declares and calls it.
        "-include", model_hpp,
        DRIVER_SOURCE,
        "-o", output,
        "-L", os.path.join(hs, "lib"), f"-Wl,-rpath,{os.path.join(hs, 'lib')}",
        "-ltbb", "-lsundials_cvodes", "-lsundials_idas", "-lsundials_nvecserial",
        "-lpthread",
    ]


def build_driver(model: str, program_code: str) -> Tuple[str, Optional[float]]:
    """Build (or reuse) the driver for one Stan program; it serves every method.

    Returns the binary's path and the build time in seconds (None when a cached build was
    reused). The cache key covers the program, the driver source, the httpstan version and
    the compiler command, so editing any of them rebuilds. ``model`` names the cache folder
    (``comparisons/.build/stan/<model>-<key>``); older builds under the same name are removed.
    """
    with open(DRIVER_SOURCE, "rb") as fh:
        driver_src = fh.read()
    key_material = b"\0".join([
        program_code.encode(), driver_src, httpstan.__version__.encode(),
        " ".join(compiler_command("MODEL", "OUT")).encode(),
    ])
    key = hashlib.sha256(key_material).hexdigest()[:16]
    out_dir = os.path.join(BUILD_DIR, "stan", f"{model}-{key}")
    binary = os.path.join(out_dir, "stan_driver")
    if os.path.exists(binary):
        return binary, None

    os.makedirs(out_dir, exist_ok=True)
    stan_file = os.path.join(out_dir, f"{model}.stan")
    model_hpp = os.path.join(out_dir, f"{model}.hpp")
    with open(stan_file, "w") as fh:
        fh.write(program_code)
    t0 = time.perf_counter()
    stanc = [os.path.join(_httpstan_dir(), "stanc"), "--name", f"{model}_model", "--o", model_hpp, stan_file]
    done = subprocess.run(stanc, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"stanc failed on {stan_file}: {done.stderr.strip()}")
    # Build to a temporary name and rename, so an interrupted or concurrent build never
    # leaves a half-written binary that a later run would take for a cached one.
    tmp_binary = binary + f".tmp{os.getpid()}"
    cmd = compiler_command(model_hpp, tmp_binary)
    print("building Stan driver: " + " ".join(cmd), file=sys.stderr)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise BuildError(f"C++ compiler '{cmd[0]}' not found (apt-get install -y g++, or set CXX)") from None
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-25:])
        raise BuildError(f"g++ failed building the Stan driver ({model}):\n{tail}")
    os.replace(tmp_binary, binary)
    build_s = time.perf_counter() - t0
    # Builds for an older program or driver are dead weight (~1 MB each, plus headers).
    for stale in glob.glob(os.path.join(BUILD_DIR, "stan", f"{model}-*")):
        if stale != out_dir:
            shutil.rmtree(stale, ignore_errors=True)
    with open(os.path.join(out_dir, "build_info.json"), "w") as fh:
        json.dump({"build_time_s": build_s, "command": cmd, "stanc": stanc}, fh, indent=1)
    return binary, build_s


def _cached_build_time(binary: str) -> Optional[float]:
    try:
        with open(os.path.join(os.path.dirname(binary), "build_info.json")) as fh:
            return float(json.load(fh)["build_time_s"])
    except (OSError, ValueError, KeyError):
        return None


# --------------------------------------------------------------------------------------
# The C++ driver: run
# --------------------------------------------------------------------------------------

def run_driver(binary: str, data: Dict[str, Any], method: str, seed: int, repeats: int,
               n_warmup: int, n_samples: int, step_size: Optional[float] = None,
               n_leapfrog: Optional[int] = None, n_chains: int = 1) -> Dict[str, Any]:
    """Run the driver once (model construction, one untimed call, ``repeats`` timed calls)
    and return its JSON (times_s, stan_elapsed_s, names, draws per chain, messages,
    peak_rss_bytes). ``n_chains > 1`` (NUTS) runs the chains in one multi-chain services
    call, as CmdStan's ``num_chains`` does."""
    if n_chains > 1 and method != "nuts":
        raise ValueError(f"{n_chains} chains: the driver runs several chains for nuts only")
    os.makedirs(BUILD_DIR, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=BUILD_DIR, delete=False) as fh:
        json.dump(data, fh)  # json writes floats with repr: exact round trip
        data_path = fh.name
    try:
        cmd = [binary, method, data_path, str(seed), str(repeats), str(n_warmup), str(n_samples)]
        if method == "hmc":
            cmd += [repr(float(step_size)), str(n_leapfrog)]
        elif n_chains > 1:
            cmd += [str(n_chains)]
        done = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        os.remove(data_path)
    if done.stderr.strip():
        sys.stderr.write(done.stderr)
    try:
        out = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"Stan driver exited with status {done.returncode} and no JSON; "
                           f"stderr: {done.stderr.strip()[-2000:]}") from None
    if done.returncode != 0 or "error" in out:
        raise RuntimeError(f"Stan driver: {out.get('error', 'exit status %d' % done.returncode)}")
    return out


def draws_of(out: Dict[str, Any], latents: Tuple[str, ...]) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """The latents' draws, (chains, draws, latents) in latent order, and Stan's sampler
    columns, (chains, draws) each."""
    names = out["names"]
    draws = np.array([[[np.nan if v is None else v for v in row] for row in chain] for chain in out["draws"]],
                     dtype=np.float64)
    draws = draws.reshape(len(out["draws"]), -1, len(names))
    samples = draws[:, :, latent_columns(names, latents)]
    sampler = {n: draws[:, :, i] for i, n in enumerate(names) if n.endswith("__")}
    return samples, sampler


def adapted_inverse_metric(messages: List[str]) -> Optional[List[float]]:
    """The line after Stan's "Diagonal elements of inverse mass matrix:" message."""
    for i, m in enumerate(messages):
        if "inverse mass matrix" in m and i + 1 < len(messages):
            try:
                return [float(v) for v in messages[i + 1].split(",")]
            except ValueError:
                return None
    return None


def _build_notes(binary: str, build_s: Optional[float]) -> List[str]:
    if build_s is not None:
        return ["built the Stan driver (stanc + g++) in this call: compile_time_s is that build"]
    earlier = _cached_build_time(binary)
    return ["reused the cached Stan driver build"
            + (f" (built earlier in {earlier:.1f} s)" if earlier is not None else "")]


TIMING_NOTE = ("times_s measured inside the C++ driver with std::chrono around the services call "
               "alone (initialization, warm-up, sampling; draws kept in memory); the model is "
               "constructed from the data once, before it; one untimed warm-up call first; call i "
               "uses seed + i, chain 1")


def _elapsed_note(out: Dict[str, Any]) -> str:
    elapsed = [t for t in out.get("stan_elapsed_s", []) if t is not None]
    if not elapsed:
        return "Stan's own Elapsed Time report was not found in the sampler's output"
    whose = "" if out.get("n_chains", 1) == 1 else ", the slowest chain's; the chains share the cores"
    return (f"Stan's own Elapsed Time (warm-up + sampling, as CmdStan reports it, whole ms{whose}), "
            f"median {np.median(elapsed):.3f} s vs times_s median {np.median(out['times_s']):.4f} s")


# --------------------------------------------------------------------------------------
# NUTS
# --------------------------------------------------------------------------------------

def _run_nuts(args, model: str, program_code: str, data: Dict[str, Any],
              latents: Tuple[str, ...]) -> Dict[str, Any]:
    binary, build_s = build_driver(model, program_code)
    n_chains = args.n_chains
    out = run_driver(binary, data, "nuts", args.seed, args.repeats, args.n_warmup, args.n_samples,
                     n_chains=n_chains)
    samples, sampler = draws_of(out, latents)
    accept = sampler["accept_stat__"]
    divergences = int(np.sum(sampler["divergent__"]))
    quality = common.hmc_quality(samples, accept, divergences)
    step_sizes = sampler["stepsize__"][:, -1]  # each chain's adapted step size
    quality["step_size"] = float(np.mean(step_sizes))
    quality["mean_tree_depth"] = float(np.mean(sampler["treedepth__"]))
    quality["mean_n_leapfrog"] = float(np.mean(sampler["n_leapfrog__"]))

    s = out["nuts"]
    if n_chains == 1:
        chains = "one chain"
        chain_notes = []
    else:
        chains = (f"{n_chains} chains in one multi-chain services call (CmdStan's num_chains={n_chains}: "
                  f"chain ids 1..{n_chains}, each its own RNG stream, random inits and adaptation), "
                  "spread over TBB's worker threads, one per core")
        chain_notes = [
            "step_size = mean of the chains' adapted step sizes: " + ", ".join(f"{e:.4g}" for e in step_sizes.tolist()),
            "acceptance_rate, divergences, mean_tree_depth, mean_n_leapfrog and the raw accept.npy pool all "
            "chains' kept transitions; the adapted inverse metric below is chain 1's",
        ]
    notes = _version_notes() + _build_notes(binary, build_s) + [
        f"NUTS through the C++ driver: stan::services::sample::hmc_nuts_diag_e_adapt, Stan's "
        f"defaults (max depth {s['max_depth']}, delta {s['delta']}, gamma {s['gamma']}, kappa "
        f"{s['kappa']}, t0 {s['t0']}, initial step size {s['init_stepsize']}, diagonal metric "
        f"from the identity, windows init_buffer {s['init_buffer']} / term_buffer "
        f"{s['term_buffer']} / window {s['window']} over {args.n_warmup} warm-up iterations), "
        f"random inits uniform in (-{s['init_radius']:g}, {s['init_radius']:g}) on the "
        f"unconstrained scale, {chains}; --step-size and --n-leapfrog do not apply",
        TIMING_NOTE + "; warm-up (adaptation) and sampling are both timed",
        _elapsed_note(out),
        "acceptance_rate: mean of Stan's accept_stat__ over the kept draws; step_size: the adapted "
        "step size; divergences: Stan's divergent__ count",
        *chain_notes,
        "peak_memory_bytes: the C++ driver process's peak RSS",
        common.MCMC_ESS_NOTE if n_chains == 1 else common.MCMC_ESS_NOTE_CHAINS,
    ]
    metric = adapted_inverse_metric(out.get("messages", []))
    if metric is not None:
        notes.append("adapted inverse metric (last timed call): " + ", ".join(f"{v:.4g}" for v in metric))
    return {"compile_time_s": build_s if build_s is not None else 0.0, "times_s": out["times_s"],
            "quality": quality, "notes": notes, "peak_memory_bytes": int(out["peak_rss_bytes"])}


def run_polynomial_nuts(args, hyper) -> Dict[str, Any]:
    return _run_nuts(args, "polynomial", POLYNOMIAL_PROGRAM, _polynomial_stan_data(args, hyper), POLYNOMIAL_LATENTS)


run_polynomial_nuts.multi_chain = True  # type: ignore[attr-defined]


def run_beta_bernoulli_nuts(args, hyper) -> Dict[str, Any]:
    return _run_nuts(args, "beta_bernoulli", BETA_BERNOULLI_PROGRAM, _beta_bernoulli_stan_data(args, hyper),
                     BETA_BERNOULLI_LATENTS)


# --------------------------------------------------------------------------------------
# Static HMC
# --------------------------------------------------------------------------------------

def run_polynomial_hmc(args, hyper) -> Dict[str, Any]:
    data = _polynomial_stan_data(args, hyper)
    binary, build_s = build_driver("polynomial", POLYNOMIAL_PROGRAM)
    out = run_driver(binary, data, "hmc", args.seed, args.repeats, args.n_warmup, args.n_samples,
                     args.step_size, args.n_leapfrog)
    samples, sampler = draws_of(out, POLYNOMIAL_LATENTS)
    samples, sampler = samples[0], {k: v[0] for k, v in sampler.items()}  # one chain
    accept = sampler["accept_stat__"]
    # Stan's static sampler has no divergence flag. Its accept_stat__ is min(1, exp(H0 - H)),
    # which is exactly 0 when the energy error exceeds ~745 (exp underflow) or is non-finite;
    # that is the closest analogue of NUTS's "energy error > 1000" divergence.
    divergences = int(np.sum(accept == 0.0))
    quality = common.hmc_quality(samples, accept, divergences)
    quality["moved_fraction"] = float(np.mean(np.any(np.diff(samples, axis=0) != 0.0, axis=1)))

    notes = _version_notes() + _build_notes(binary, build_s) + [
        f"stan::services::sample::hmc_static_diag_e (Stan {out['stan_version']}): unit diagonal "
        f"metric, no adaptation, {out['n_leapfrog']} leapfrog steps of {args.step_size} "
        "(int_time passed as (L + 1/2) * step so floor(int_time / step) = L exactly), "
        "init at zero (init_radius 0)",
        TIMING_NOTE,
        _elapsed_note(out),
        "acceptance_rate: mean of Stan's accept_stat__ (the Metropolis acceptance probability); "
        "divergences: transitions whose acceptance probability underflowed to 0; "
        "moved_fraction: share of transitions whose state changed",
        "peak_memory_bytes: the C++ driver process's peak RSS",
        common.MCMC_ESS_NOTE,
    ]
    return {"compile_time_s": build_s if build_s is not None else 0.0, "times_s": out["times_s"],
            "quality": quality, "notes": notes, "peak_memory_bytes": int(out["peak_rss_bytes"])}


# --------------------------------------------------------------------------------------
# One-time builds (--prepare), run by the benchmarks binary before the first timed call
# --------------------------------------------------------------------------------------

def _preparer(model: str, program_code: str) -> Callable[..., Dict[str, Any]]:
    def prepare(args, hyper) -> Dict[str, Any]:
        _, build_s = build_driver(model, program_code)
        return {"build_time_s": build_s or 0.0,
                "notes": [f"Stan driver built in {build_s:.1f} s" if build_s is not None
                          else "Stan driver already built"]}
    return prepare


# One driver per program serves both polynomial methods: whichever pair is prepared first
# builds it, the other finds it cached.
PREPARERS: Dict[Tuple[str, str], Callable[..., Dict[str, Any]]] = {
    ("polynomial", "nuts"): _preparer("polynomial", POLYNOMIAL_PROGRAM),
    ("polynomial", "hmc"): _preparer("polynomial", POLYNOMIAL_PROGRAM),
    ("beta_bernoulli", "nuts"): _preparer("beta_bernoulli", BETA_BERNOULLI_PROGRAM),
}


RUNNERS: Dict[Tuple[str, str], Callable[..., Dict[str, Any]]] = {
    ("polynomial", "nuts"): run_polynomial_nuts,
    ("polynomial", "hmc"): run_polynomial_hmc,
    ("beta_bernoulli", "nuts"): run_beta_bernoulli_nuts,
}

"""Stan: NUTS through pystan 3 / httpstan, static HMC through Stan's C++ services.

Methods (comparisons/frameworks/stan.json):

* polynomial / nuts, beta_bernoulli / nuts: ``stan::services::sample::hmc_nuts_diag_e_adapt``
  through pystan (Stan's default adaptation: dual-averaging step size and diagonal metric
  over the warm-up).
* polynomial / hmc: ``stan::services::sample::hmc_static_diag_e``, unit diagonal metric, no
  adaptation, start at zero, the benchmark's step size and leapfrog count. httpstan exposes
  only NUTS and fixed_param, so this runs a small C++ driver (``stan_hmc_static.cpp``)
  compiled against the Stan sources that the httpstan wheel ships.

What the httpstan 4.13.0 wheel ships (found by reading it, used by ``build_static_hmc``):

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

stanc runs with its default optimization level (O0), as httpstan runs it for NUTS, so both
Stan rows compile the model the same way. ``stanc --O1`` (struct-of-arrays autodiff) made the
static-HMC run about 1.6x faster at n = 1000 here (0.56 s vs 0.94 s median, loaded 2-core
machine); it is not what a default pystan or CmdStan user gets, so it is not used.

Known traps handled here:

* httpstan caches fits by (model, data, arguments, seed): a repeat with the same seed returns
  the stored draws without sampling. Every call gets its own seed (seed + call index) *and*
  the model's stored fits are deleted before each call (outside the timed region), so a
  cached fit from an earlier benchmark run cannot be returned either.
* pystan needs ``setuptools<81``: stan/plugins.py imports pkg_resources, which 81 removed
  (pinned in requirements-stan.txt).

Everything Stan builds (httpstan's model cache and the static-HMC driver) lives under
``comparisons/.build/`` (git-ignored), so deleting that folder is a complete clean.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import resource
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
DRIVER_SOURCE = os.path.join(COMPARISONS_DIR, "stan_hmc_static.cpp")

# appdirs reads XDG_CACHE_HOME when httpstan asks for its cache folder, so setting it before
# the first request keeps compiled models and fits out of the user's home directory.
os.environ["XDG_CACHE_HOME"] = os.path.join(BUILD_DIR, "cache")

# Imported at module level (it is also used lazily below) so that outside the stan virtualenv
# run.py answers with its "cannot import ... is this the right virtualenv?" error instead of
# failing later inside version(). httpstan reads the cache location only when asked for it.
import httpstan  # noqa: E402,F401

# Prior means are part of the model definition (data/README.md: Normal(0, 1)); the prior sd
# and the noise sd come from datasets.json and the data file, so they are data here.
POLYNOMIAL_PROGRAM = """
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
"""

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


# --------------------------------------------------------------------------------------
# Versions and memory
# --------------------------------------------------------------------------------------

def version() -> str:
    import importlib.metadata

    return importlib.metadata.version("pystan")


def _stan_cpp_version() -> str:
    """Stan C++ version from the headers httpstan ships (no compilation needed)."""
    import httpstan

    path = os.path.join(os.path.dirname(httpstan.__file__), "include", "stan", "version.hpp")
    parts = {}
    with open(path) as fh:
        for line in fh:
            for key in ("STAN_MAJOR", "STAN_MINOR", "STAN_PATCH"):
                if line.startswith(f"#define {key} "):
                    parts[key] = line.split()[2]
    return ".".join(parts.get(k, "?") for k in ("STAN_MAJOR", "STAN_MINOR", "STAN_PATCH"))


def _version_notes() -> List[str]:
    import httpstan

    return [f"pystan {version()}, httpstan {httpstan.__version__}, Stan {_stan_cpp_version()}"]


# Stan samples outside this process (httpstan's forked worker pool, or the C++ driver), so
# this process's ru_maxrss, common.main's default, would leave the sampler out; the runners
# return their own "peak_memory_bytes".
def _vm_hwm_bytes(pid: int) -> int:
    """Peak resident set size of a live process (Linux /proc), 0 where unavailable."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


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
# NUTS through pystan / httpstan
# --------------------------------------------------------------------------------------

def _delete_cached_fits(model_name: str) -> int:
    """Remove httpstan's stored fits of one model, so the next call must really sample."""
    import httpstan.cache

    fits = glob.glob(os.path.join(str(httpstan.cache.model_directory(model_name)), "fits", "*.jsonlines.gz"))
    for path in fits:
        os.remove(path)
    return len(fits)


def _httpstan_model_is_built(program_code: str) -> bool:
    import httpstan.cache
    import httpstan.models

    model_dir = httpstan.cache.model_directory(httpstan.models.calculate_model_name(program_code))
    return any(p.endswith(".so") for p in glob.glob(os.path.join(str(model_dir), "*")))


def _run_nuts(args, program_code: str, data: Dict[str, Any], latents: Tuple[str, ...]) -> Dict[str, Any]:
    import stan
    import httpstan.services_stub

    notes = _version_notes()
    cached = _httpstan_model_is_built(program_code)
    t0 = time.perf_counter()
    posterior = stan.build(program_code, data=data, random_seed=args.seed)
    build_s = time.perf_counter() - t0
    notes.append("stan.build reused httpstan's compiled model (compile_time_s is the cache lookup)"
                 if cached else "stan.build compiled the model (stanc + g++) for the first time")

    def sample(call_index: int):
        # A frozen dataclass: replace() is the supported way to change the seed per call.
        seeded = dataclasses.replace(posterior, random_seed=args.seed + call_index)
        return seeded.sample(num_chains=1, num_samples=args.n_samples, num_warmup=args.n_warmup)

    # Call 0 is an untimed warm-up: it forks httpstan's worker pool and loads the model's
    # extension module there.
    _delete_cached_fits(posterior.model_name)
    t0 = time.perf_counter()
    fit = sample(0)
    warmup_s = time.perf_counter() - t0
    times: List[float] = []
    for i in range(1, args.repeats + 1):
        _delete_cached_fits(posterior.model_name)
        t0 = time.perf_counter()
        fit = sample(i)
        times.append(time.perf_counter() - t0)
    _delete_cached_fits(posterior.model_name)

    samples = np.stack([np.asarray(fit[name], dtype=np.float64).reshape(-1) for name in latents], axis=1)
    accept = np.asarray(fit["accept_stat__"]).reshape(-1)
    divergences = int(np.sum(np.asarray(fit["divergent__"]).reshape(-1)))
    quality = common.hmc_quality(samples, accept, divergences)
    quality["step_size"] = float(np.asarray(fit["stepsize__"]).reshape(-1)[-1])
    quality["mean_tree_depth"] = float(np.mean(np.asarray(fit["treedepth__"])))
    quality["mean_n_leapfrog"] = float(np.mean(np.asarray(fit["n_leapfrog__"])))

    workers = getattr(httpstan.services_stub.executor, "_processes", None) or {}
    worker_peak = max((_vm_hwm_bytes(pid) for pid in workers), default=0)
    peak_memory = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 + worker_peak)

    notes += [
        f"warm-up sample call (untimed): {warmup_s:.3f} s",
        "timed call: pystan Model.sample (HTTP request to in-process httpstan, sampling in a forked "
        "worker, draws streamed back and parsed into a Fit); a fresh seed per call and no cached fits",
        "pystan polls httpstan for progress every 50 ms, so each timed call includes up to 50 ms "
        "of polling latency; the hmc (static) rows time Stan's C++ without it",
        f"NUTS with Stan's default adaptation over {args.n_warmup} warm-up iterations; "
        "--step-size and --n-leapfrog do not apply",
        "peak_memory_bytes: this process plus the sampling worker's peak (an upper bound: the "
        "forked worker shares pages with this process)",
        common.MCMC_ESS_NOTE,
    ]
    return {"compile_time_s": build_s, "times_s": times, "quality": quality, "notes": notes,
            "peak_memory_bytes": peak_memory}


def run_polynomial_nuts(args, hyper) -> Dict[str, Any]:
    return _run_nuts(args, POLYNOMIAL_PROGRAM, _polynomial_stan_data(args, hyper), POLYNOMIAL_LATENTS)


def run_beta_bernoulli_nuts(args, hyper) -> Dict[str, Any]:
    return _run_nuts(args, BETA_BERNOULLI_PROGRAM, _beta_bernoulli_stan_data(args, hyper), BETA_BERNOULLI_LATENTS)


# --------------------------------------------------------------------------------------
# Static HMC through a C++ driver against Stan's services
# --------------------------------------------------------------------------------------

class BuildError(RuntimeError):
    """The static-HMC driver could not be built; the message carries the compiler's words."""


def _httpstan_dir() -> str:
    import httpstan

    return os.path.dirname(os.path.abspath(httpstan.__file__))


def compiler_command(model_hpp: str, output: str) -> List[str]:
    """The g++ command line for the driver (also documented in PROTOCOL.md / the report)."""
    hs = _httpstan_dir()
    return [
        # What httpstan compiles NUTS models with: its own flags (httpstan/models.py) plus the
        # ones setuptools takes from Python's sysconfig (-DNDEBUG -fwrapv -O3), so both
        # methods run code built the same way. -DNDEBUG also switches off Eigen's asserts.
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


def build_static_hmc(model: str, program_code: str) -> Tuple[str, Optional[float]]:
    """Build (or reuse) the static-HMC driver for one Stan program.

    Returns the binary's path and the build time in seconds (None when a cached build was
    reused). The cache key covers the program, the driver source, the httpstan version and
    the compiler command, so editing any of them rebuilds.
    """
    import httpstan

    with open(DRIVER_SOURCE, "rb") as fh:
        driver_src = fh.read()
    key_material = b"\0".join([
        program_code.encode(), driver_src, httpstan.__version__.encode(),
        " ".join(compiler_command("MODEL", "OUT")).encode(),
    ])
    key = hashlib.sha256(key_material).hexdigest()[:16]
    out_dir = os.path.join(BUILD_DIR, "stan", f"{model}-{key}")
    binary = os.path.join(out_dir, "stan_hmc_static")
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
    print("building static-HMC driver: " + " ".join(cmd), file=sys.stderr)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise BuildError(f"C++ compiler '{cmd[0]}' not found (apt-get install -y g++, or set CXX)") from None
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-25:])
        raise BuildError(f"g++ failed building the static-HMC driver ({model}):\n{tail}")
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


def run_polynomial_hmc(args, hyper) -> Dict[str, Any]:
    data = _polynomial_stan_data(args, hyper)
    binary, build_s = build_static_hmc("polynomial", POLYNOMIAL_PROGRAM)
    notes = _version_notes()
    if build_s is None:
        earlier = _cached_build_time(binary)
        notes.append("reused the cached static-HMC driver build"
                     + (f" (built earlier in {earlier:.1f} s)" if earlier is not None else ""))

    os.makedirs(BUILD_DIR, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=BUILD_DIR, delete=False) as fh:
        json.dump(data, fh)  # json writes floats with repr: exact round trip
        data_path = fh.name
    try:
        cmd = [binary, data_path, str(args.seed), str(args.repeats), str(args.n_warmup),
               str(args.n_samples), repr(float(args.step_size)), str(args.n_leapfrog)]
        done = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        os.remove(data_path)
    if done.stderr.strip():
        sys.stderr.write(done.stderr)
    try:
        out = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"static-HMC driver exited with status {done.returncode} and no JSON; "
                           f"stderr: {done.stderr.strip()[-2000:]}") from None
    if done.returncode != 0 or "error" in out:
        raise RuntimeError(f"static-HMC driver: {out.get('error', 'exit status %d' % done.returncode)}")

    names = out["names"]
    draws = np.array([[np.nan if v is None else v for v in row] for row in out["draws"]], dtype=np.float64)
    samples = draws[:, [names.index(n) for n in POLYNOMIAL_LATENTS]]
    accept = draws[:, names.index("accept_stat__")]
    # Stan's static sampler has no divergence flag. Its accept_stat__ is min(1, exp(H0 - H)),
    # which is exactly 0 when the energy error exceeds ~745 (exp underflow) or is non-finite;
    # that is the closest analogue of NUTS's "energy error > 1000" divergence.
    divergences = int(np.sum(accept == 0.0))
    quality = common.hmc_quality(samples, accept, divergences)
    quality["moved_fraction"] = float(np.mean(np.any(np.diff(samples, axis=0) != 0.0, axis=1)))

    notes += [
        f"stan::services::sample::hmc_static_diag_e (Stan {out['stan_version']}): unit diagonal "
        f"metric, no adaptation, {out['n_leapfrog']} leapfrog steps of {args.step_size} "
        "(int_time passed as (L + 1/2) * step so floor(int_time / step) = L exactly), "
        "init at zero (init_radius 0)",
        "times_s measured inside the C++ driver with std::chrono around the services call "
        "(draws kept in memory); one untimed warm-up call first; model constructed with the "
        "data once, outside the timed region",
        "acceptance_rate: mean of Stan's accept_stat__ (the Metropolis acceptance probability); "
        "divergences: transitions whose acceptance probability underflowed to 0; "
        "moved_fraction: share of transitions whose state changed",
        "peak_memory_bytes: the C++ driver process's peak RSS",
        common.MCMC_ESS_NOTE,
    ]
    compile_s = build_s if build_s is not None else 0.0
    return {"compile_time_s": compile_s, "times_s": out["times_s"], "quality": quality, "notes": notes,
            "peak_memory_bytes": int(out["peak_rss_bytes"])}


# --------------------------------------------------------------------------------------
# One-time builds (--prepare), run by the benchmarks binary before the first timed call
# --------------------------------------------------------------------------------------

def _prepare_nuts(program_code: str, data: Dict[str, Any]) -> Dict[str, Any]:
    """Compile the program through httpstan (stan.build) so that timed runs find it cached."""
    import stan

    cached = _httpstan_model_is_built(program_code)
    t0 = time.perf_counter()
    stan.build(program_code, data=data, random_seed=0)
    build_s = time.perf_counter() - t0
    return {"build_time_s": 0.0 if cached else build_s,
            "notes": ["httpstan's compiled model was already cached" if cached
                      else f"httpstan compiled the model in {build_s:.1f} s"]}


def prepare_polynomial_hmc(args, hyper) -> Dict[str, Any]:
    binary, build_s = build_static_hmc("polynomial", POLYNOMIAL_PROGRAM)
    return {"build_time_s": build_s or 0.0,
            "notes": [f"static-HMC driver built in {build_s:.1f} s" if build_s is not None
                      else "static-HMC driver already built"]}


PREPARERS: Dict[Tuple[str, str], Callable[..., Dict[str, Any]]] = {
    ("polynomial", "nuts"): lambda args, hyper: _prepare_nuts(POLYNOMIAL_PROGRAM, _polynomial_stan_data(args, hyper)),
    ("polynomial", "hmc"): prepare_polynomial_hmc,
    ("beta_bernoulli", "nuts"): lambda args, hyper: _prepare_nuts(BETA_BERNOULLI_PROGRAM,
                                                                  _beta_bernoulli_stan_data(args, hyper)),
}


RUNNERS: Dict[Tuple[str, str], Callable[..., Dict[str, Any]]] = {
    ("polynomial", "nuts"): run_polynomial_nuts,
    ("polynomial", "hmc"): run_polynomial_hmc,
    ("beta_bernoulli", "nuts"): run_beta_bernoulli_nuts,
}

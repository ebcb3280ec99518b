"""What pystan's HTTP route adds to Stan's NUTS, and which polynomial program form is fastest.

The benchmark's Stan rows time Stan's samplers inside the compiled C++ driver
(``stan_driver.cpp``, see stan_impl.py). Before, the NUTS rows were timed through pystan 3
(``posterior.sample``: an HTTP request to the in-process httpstan server, sampling in a forked
worker process, progress polled every 50 ms, draws streamed back as JSON and parsed into a
Fit). This script measures both routes on the same configuration and prints a table, so the
cost of the HTTP route stays visible:

    comparisons/.venv-stan/bin/python comparisons/stan_http_overhead.py
        [--sizes 10,100,1000] [--noise-sds 1.0,0.05] [--n-warmup 500] [--n-samples 1000]
        [--repeats 5] [--seed 0] [--data-dir data]

Per (n, noise sd): pystan ``stan.build`` once (httpstan compiles the program into its cache
under comparisons/.build/cache on first use, about 3 minutes per program), one untimed
``posterior.sample`` (it forks httpstan's worker and loads the model), then ``--repeats``
timed calls, call i with ``random_seed = seed + i`` and httpstan's stored fits deleted before
each (httpstan returns a stored fit for a repeated (data, arguments, seed) without sampling).
Then the driver with the same program, data, seeds and NUTS settings (its ``times_s``). Both
run ``hmc_nuts_diag_e_adapt`` with the same seed and chain id, so their last draws should
agree up to the floating point of two separately compiled binaries; the table shows the
largest difference of the posterior means between them.

``--forms`` instead times every polynomial program in ``stan_impl.POLYNOMIAL_FORMS`` with the
driver, static HMC (step 0.01, 20 leapfrog steps, from zero) and NUTS, at each size, in
``--rounds`` interleaved rounds (form order rotated each round; the machine is shared and
noisy), ``--repeats`` timed calls per driver run, and prints medians and each form's posterior
means and sds against the exact posterior (NUTS draws of the last call, in units of the
exact posterior sd). It builds one driver per form under comparisons/.build/stan/polyform_*.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import stan_impl  # noqa: E402  (sets XDG_CACHE_HOME for httpstan before pystan is imported)


def _data(data_dir: str, n: int, sd: float):
    args = common.parse_args("stan", ["--n-points", str(n), "--noise-sd", str(sd), "--data-dir", data_dir])
    hyper = common.load_hyperparameters(data_dir)
    return stan_impl._polynomial_stan_data(args, hyper), common.exact_polynomial(common.load_polynomial(args, hyper))


def _delete_cached_fits(model_name: str) -> None:
    """Remove httpstan's stored fits of one model, so the next call must really sample."""
    import httpstan.cache

    for path in glob.glob(os.path.join(str(httpstan.cache.model_directory(model_name)), "fits", "*.jsonlines.gz")):
        os.remove(path)


def time_pystan(program: str, data: Dict[str, Any], seed: int, repeats: int, n_warmup: int,
                n_samples: int) -> Dict[str, Any]:
    import contextlib
    import dataclasses

    import stan

    # pystan prints its build progress on stdout; keep stdout for the table.
    with contextlib.redirect_stdout(sys.stderr):
        posterior = stan.build(program, data=data, random_seed=seed)

    def sample(i: int):
        seeded = dataclasses.replace(posterior, random_seed=seed + i)
        return seeded.sample(num_chains=1, num_samples=n_samples, num_warmup=n_warmup)

    _delete_cached_fits(posterior.model_name)
    sample(0)
    times: List[float] = []
    fit = None
    for i in range(1, repeats + 1):
        _delete_cached_fits(posterior.model_name)
        t0 = time.perf_counter()
        fit = sample(i)
        times.append(time.perf_counter() - t0)
    _delete_cached_fits(posterior.model_name)
    draws = np.stack([np.asarray(fit[name], dtype=np.float64).reshape(-1) for name in stan_impl.POLYNOMIAL_LATENTS], axis=1)
    return {"times_s": times, "draws": draws}


def http_overhead(opts) -> None:
    binary, _ = stan_impl.build_driver("polynomial", stan_impl.POLYNOMIAL_PROGRAM)
    print(f"NUTS, polynomial ({stan_impl.POLYNOMIAL_PROGRAM_FORM} program), {opts.n_warmup} warm-up + "
          f"{opts.n_samples} draws, one chain, median of {opts.repeats} timed calls (seconds)")
    header = f"| n | noise sd | pystan posterior.sample | C++ driver (sampler only) | difference | ratio | max abs diff of means |"
    print(header)
    print("|---|---|---|---|---|---|---|")
    for n in opts.sizes:
        for sd in opts.noise_sds:
            data, _ = _data(opts.data_dir, n, sd)
            py = time_pystan(stan_impl.POLYNOMIAL_PROGRAM, data, opts.seed, opts.repeats, opts.n_warmup, opts.n_samples)
            out = stan_impl.run_driver(binary, data, "nuts", opts.seed, opts.repeats, opts.n_warmup, opts.n_samples)
            cpp_draws = stan_impl.draws_of(out, stan_impl.POLYNOMIAL_LATENTS)[0][0]  # the one chain
            t_py, t_cpp = float(np.median(py["times_s"])), float(np.median(out["times_s"]))
            dmean = float(np.max(np.abs(py["draws"].mean(axis=0) - cpp_draws.mean(axis=0))))
            print(f"| {n} | {sd} | {t_py:.4f} | {t_cpp:.4f} | {t_py - t_cpp:+.4f} | {t_py / t_cpp:.1f}x | {dmean:.2g} |",
                  flush=True)


def program_forms(opts) -> None:
    forms = opts.form_names.split(",") if opts.form_names else list(stan_impl.POLYNOMIAL_FORMS)
    binaries = {f: stan_impl.build_driver(f"polyform_{f}", stan_impl.POLYNOMIAL_FORMS[f])[0] for f in forms}
    times: Dict[tuple, List[float]] = {}
    last: Dict[tuple, Any] = {}
    for r in range(opts.rounds):
        order = forms[r % len(forms):] + forms[:r % len(forms)]
        for n in opts.sizes:
            for sd in opts.noise_sds:
                data, exact = _data(opts.data_dir, n, sd)
                for f in order:
                    for method in ("hmc", "nuts"):
                        out = stan_impl.run_driver(binaries[f], data, method, opts.seed + 100 * r, opts.repeats,
                                                   opts.n_warmup, opts.n_samples, 0.01, 20)
                        times.setdefault((f, method, n, sd), []).extend(out["times_s"])
                        samples, sampler = stan_impl.draws_of(out, stan_impl.POLYNOMIAL_LATENTS)
                        samples, sampler = samples[0], {k: v[0] for k, v in sampler.items()}  # one chain
                        last[(f, method, n, sd)] = (samples, sampler, exact)
        print(f"round {r + 1}/{opts.rounds} done", file=sys.stderr, flush=True)
    for method in ("hmc", "nuts"):
        for sd in opts.noise_sds:
            print(f"\n{method}, noise sd {sd}: median seconds per call over {opts.rounds} x {opts.repeats} calls "
                  "(relative to the first form)")
            print("| form | " + " | ".join(f"n = {n}" for n in opts.sizes) + " |")
            print("|---|" + "---|" * len(opts.sizes))
            for f in forms:
                cells = []
                for n in opts.sizes:
                    med = float(np.median(times[(f, method, n, sd)]))
                    base = float(np.median(times[(forms[0], method, n, sd)]))
                    cells.append(f"{med:.4f} ({med / base:.2f})")
                print(f"| {f} | " + " | ".join(cells) + " |")
    print("\nposterior mean and sd of the last NUTS call vs exact: largest |mean - exact| / exact sd, "
          "largest |sd / exact sd - 1|, mean n_leapfrog")
    for sd in opts.noise_sds:
        for n in opts.sizes:
            for f in forms:
                samples, sampler, exact = last[(f, "nuts", n, sd)]
                esd = np.array(exact["posterior_sd"])
                z = np.max(np.abs(samples.mean(axis=0) - np.array(exact["posterior_mean"])) / esd)
                rel = np.max(np.abs(samples.std(axis=0, ddof=1) / esd - 1))
                print(f"  sd {sd} n {n} {f}: {z:.3f} {rel:.3f} {np.mean(sampler['n_leapfrog__']):.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--forms", action="store_true", help="compare the polynomial program forms instead")
    p.add_argument("--sizes", default="10,100,1000")
    p.add_argument("--noise-sds", default=None, help="default 1.0,0.05 (--forms: 1.0)")
    p.add_argument("--n-warmup", type=int, default=500)
    p.add_argument("--n-samples", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rounds", type=int, default=5, help="--forms: interleaved rounds")
    p.add_argument("--form-names", default=None, help="--forms: comma-separated subset of the forms")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=os.path.join(os.path.dirname(stan_impl.COMPARISONS_DIR), "data"))
    opts = p.parse_args()
    opts.sizes = [int(v) for v in opts.sizes.split(",")]
    opts.noise_sds = [float(v) for v in (opts.noise_sds or ("1.0" if opts.forms else "1.0,0.05")).split(",")]
    (program_forms if opts.forms else http_overhead)(opts)


if __name__ == "__main__":
    main()

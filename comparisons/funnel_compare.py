"""Compares runs of NUTS on the centred eight schools, and derives the bounds that
gen-runtime/tests/funnel.rs asserts.

Input: files of lines ``seed S: div TOTAL [per chain] eps [per chain] accept [per chain]``, as
``comparisons/funnel_stan.py`` prints them for Stan and the ignored test ``print_runs`` in
gen-runtime/tests/funnel.rs prints them for this sampler; other lines are skipped.

Run: python3 comparisons/funnel_compare.py STAN_RUNS [OURS_RUNS] [--group 8]

Prints, per file, the divergences per run, the share of chains below acceptance thresholds
and the step size quantiles; with two files, two-sample Kolmogorov-Smirnov p-values
(asymptotic, Numerical Recipes' series); and for the first file the 0.1%, 1%, 50%, 99% and
99.9% points of statistics over groups of ``--group`` runs resampled with replacement.
Standard library only.
"""

import argparse
import bisect
import math
import random
import re
import statistics

LINE = re.compile(r"seed (\d+): div (\d+) \[(.*?)\] eps \[(.*?)\] accept \[(.*?)\]")


def parse(path):
    runs = []
    for line in open(path):
        m = LINE.match(line.strip())
        if m:
            numbers = lambda s: [float(x.strip().strip('"')) for x in s.split(",")]
            runs.append({"seed": int(m[1]), "div": int(m[2]), "chain_div": numbers(m[3]),
                         "eps": numbers(m[4]), "accept": numbers(m[5])})
    return runs


def chains(runs, key):
    return [x for r in runs for x in r[key]]


def quantile(xs, p):
    xs = sorted(xs)
    return xs[min(int(p * len(xs)), len(xs) - 1)]


def describe(path, runs):
    total = [r["div"] for r in runs]
    accept, eps = chains(runs, "accept"), chains(runs, "eps")
    print(f"{path}: {len(runs)} runs, divergences per run mean {statistics.mean(total):.1f} "
          f"median {statistics.median(total)} min {min(total)} max {max(total)}")
    for t in (0.8, 0.6, 0.5):
        print(f"  chains with mean accept < {t}: {sum(a < t for a in accept) / len(accept):.3f}; "
              f"runs with such a chain: {sum(min(r['accept']) < t for r in runs) / len(runs):.3f}")
    print(f"  step size median {statistics.median(eps):.4f} q10 {quantile(eps, 0.1):.4f} q90 {quantile(eps, 0.9):.4f}; "
          f"worst chain accept {min(accept):.3f}")


def ks_pvalue(a, b):
    a, b = sorted(a), sorted(b)
    d = max(abs(bisect.bisect_right(a, v) / len(a) - bisect.bisect_right(b, v) / len(b)) for v in set(a + b))
    en = math.sqrt(len(a) * len(b) / (len(a) + len(b)))
    lam = (en + 0.12 + 0.11 / en) * d
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return d, min(max(p, 0.0), 1.0)


def groups(runs, size, draws=100_000):
    rng = random.Random(1)
    stats = {"total divergences": [], "median step size": [], f"chains with accept >= 0.8 (of {4 * size})": [],
             "mean accept": []}
    for _ in range(draws):
        g = rng.choices(runs, k=size)
        accept = chains(g, "accept")
        stats["total divergences"].append(sum(r["div"] for r in g))
        stats["median step size"].append(statistics.median(chains(g, "eps")))
        stats[f"chains with accept >= 0.8 (of {4 * size})"].append(sum(a >= 0.8 for a in accept))
        stats["mean accept"].append(statistics.mean(accept))
    print(f"over groups of {size} runs, points 0.1%, 1%, 50%, 99%, 99.9%:")
    for name, xs in stats.items():
        print(f"  {name}: {[round(quantile(xs, p), 4) for p in (0.001, 0.01, 0.5, 0.99, 0.999)]}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+")
    parser.add_argument("--group", type=int, default=8)
    args = parser.parse_args()
    runs = [parse(f) for f in args.files]
    for path, r in zip(args.files, runs):
        describe(path, r)
    if len(runs) == 2:
        for name, get in [("divergences per run", lambda r: [x["div"] for x in r]),
                          ("divergences per chain", lambda r: chains(r, "chain_div")),
                          ("step size", lambda r: chains(r, "eps")), ("mean accept", lambda r: chains(r, "accept"))]:
            d, p = ks_pvalue(get(runs[0]), get(runs[1]))
            print(f"KS {name}: D = {d:.3f}, p = {p:.3f}")
    groups(runs[0], args.group)


if __name__ == "__main__":
    main()

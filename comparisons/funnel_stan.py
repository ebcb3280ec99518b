"""Stan's NUTS on the centred eight schools: per-chain divergences, step size, mean accept_stat
and adapted inverse metric, the reference for gen-runtime/tests/funnel.rs (its output, less the
inverse-metric lines, is gen-runtime/tests/data/funnel_stan_delta*.txt; compare runs with
comparisons/funnel_compare.py).

Run: comparisons/.venv-stan/bin/python comparisons/funnel_stan.py [--delta 0.95] [--seeds 1,2,3]

pystan's Fit keeps the draws but drops the sampler's adaptation messages (step size and the
diagonal of the inverse metric), so this wraps ``stan.fit.Fit`` to keep httpstan's raw output
and reads them from it.
"""

import argparse
import json

import stan
import stan.fit

PROGRAM = """
data { int<lower=0> J; vector[J] y; vector<lower=0>[J] sigma; }
parameters { real mu; real<lower=0> tau; vector[J] theta; }
model {
  mu ~ normal(0, 5);
  tau ~ normal(0, 5);
  theta ~ normal(mu, tau);
  y ~ normal(theta, sigma);
}
"""

DATA = {
    "J": 8,
    "y": [28, 8, -3, 7, -1, 1, 18, 12],
    "sigma": [15, 10, 16, 11, 9, 11, 10, 18],
}

_raw = []
_fit_init = stan.fit.Fit.__init__


def _keep_raw(self, stan_outputs, *args, **kwargs):
    _raw.append(stan_outputs)
    _fit_init(self, stan_outputs, *args, **kwargs)


stan.fit.Fit.__init__ = _keep_raw


def adaptation(raw_chain: bytes):
    """The step size and inverse metric diagonal from one chain's adaptation messages."""
    texts = []
    for line in raw_chain.splitlines():
        # Skip the draws (they may hold nan, which json rejects) and keep the text messages.
        if b'"values":{' in line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        for v in msg.get("values", []):
            if isinstance(v, str):
                texts.append(v)
    step, metric = None, None
    for i, t in enumerate(texts):
        if "Step size" in t:
            step = float(t.split("=")[1])
        if "inverse mass matrix" in t and i + 1 < len(texts):
            metric = [float(x) for x in texts[i + 1].split(",")]
    return step, metric


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--delta", type=float, default=0.95)
    parser.add_argument("--seeds", default="1,2,3")
    args = parser.parse_args()
    for seed in [int(s) for s in args.seeds.split(",")]:
        posterior = stan.build(PROGRAM, data=DATA, random_seed=seed)
        fit = posterior.sample(num_chains=4, num_samples=1000, num_warmup=1000, delta=args.delta)
        # fit[name] holds draw-major rows with the chain varying fastest.
        div = [int(d) for d in fit["divergent__"].reshape(-1, 4).sum(axis=0)]
        acc = [round(float(a), 3) for a in fit["accept_stat__"].reshape(-1, 4).mean(axis=0)]
        eps = [round(float(e), 4) for e in fit["stepsize__"].reshape(-1, 4)[0]]
        print(f"seed {seed}: div {sum(div)} {div} eps {eps} accept {acc}")
        for chain in _raw[-1]:
            step, metric = adaptation(chain)
            print(f"   step {step} inv_metric {None if metric is None else [round(m, 3) for m in metric]}")


if __name__ == "__main__":
    main()

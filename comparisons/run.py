"""Entry point for the Python comparison frameworks: ``run.py --framework NAME ...``.

The ``benchmarks`` binary runs ``<venv python> comparisons/run.py --framework NAME <flags>``
from the repository root (see comparisons/PROTOCOL.md) and reads one JSON object from
stdout.  This file only picks the framework module; the flags, data loading, timing and
JSON output live in ``common.py`` and the inference code in one module per framework:

    handcoded_jax    -> handcoded_jax.py     (env "jax")
    numpyro          -> numpyro_impl.py      (env "jax")
    genjax           -> genjax_impl.py       (env "genjax": genjax 0.10.3 needs jax < 0.6)
    genjax_manual_hmc -> genjax_manual_hmc.py (env "genjax": HMC over GenJAX's assess; code in genjax_impl.py)
    pyro             -> pyro_impl.py         (env "torch")
    handcoded_torch  -> handcoded_torch.py   (env "torch")
    stan             -> stan_impl.py         (env "stan": pystan / httpstan)

Each module defines ``NAME``, ``version() -> str`` and ``RUNNERS``, a dict from
``(model, method)`` to a function ``(args, hyperparameters) -> partial result`` (see
``common.main``), and may define ``PREPARERS`` (same keys) for a one-time build that
``--prepare`` runs before any timed call (Stan compiles its models there).  The module is
imported only after the flags parse, so a framework whose library is missing from the
current virtualenv comes back as a JSON error.
"""

from __future__ import annotations

import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import common  # noqa: E402

MODULES = {
    "handcoded_jax": "handcoded_jax",
    "numpyro": "numpyro_impl",
    "genjax": "genjax_impl",
    "genjax_manual_hmc": "genjax_manual_hmc",
    "pyro": "pyro_impl",
    "handcoded_torch": "handcoded_torch",
    "stan": "stan_impl",
}


def main(argv=None) -> None:
    common.redirect_stdout_to_stderr()
    # Parse first with the name we were given, so that even a bad flag names the framework.
    argv = list(sys.argv[1:] if argv is None else argv)
    name = "unknown"
    for i, a in enumerate(argv):
        if a == "--framework" and i + 1 < len(argv):
            name = argv[i + 1]
        elif a.startswith("--framework="):
            name = a.split("=", 1)[1]
    args = common.parse_args(name, argv, framework_choices=sorted(MODULES))
    try:
        module = importlib.import_module(MODULES[args.framework])
    except Exception as e:  # noqa: BLE001 - the library may be absent from this env
        common.emit_error(args.framework, f"cannot import the {args.framework} implementation "
                                          f"(is this the right virtualenv?): {type(e).__name__}: {e}")
        return
    common.main(module.NAME, module.version, module.RUNNERS, args=args,
                preparers=getattr(module, "PREPARERS", None))


if __name__ == "__main__":
    main()

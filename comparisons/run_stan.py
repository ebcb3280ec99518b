"""Entry point for Stan: ``run_stan.py <protocol flags>`` (comparisons/PROTOCOL.md).

Stan has its own entry rather than ``run.py --framework stan`` for one reason: its sampling
runs outside this Python process (httpstan's forked worker, or the compiled static-HMC
driver), so the peak memory that ``common.main`` measures (this process's ru_maxrss) would
leave out the sampler. The runners record the real figure and this file points
``common.peak_memory_bytes`` at it; everything else is ``common.main`` unchanged.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import common  # noqa: E402


def main(argv=None) -> None:
    common.redirect_stdout_to_stderr()
    args = common.parse_args("stan", argv)
    try:
        import stan_impl
    except Exception as e:  # noqa: BLE001 - pystan may be absent from this env
        common.emit_error("stan", f"cannot import the Stan implementation (is this the "
                                  f"comparisons/.venv-stan virtualenv?): {type(e).__name__}: {e}")
        return
    common.peak_memory_bytes = stan_impl.peak_memory_bytes
    common.main(stan_impl.NAME, stan_impl.version, stan_impl.RUNNERS, args=args)


if __name__ == "__main__":
    main()

"""Entry point for Stan: ``run_stan.py <protocol flags>`` (comparisons/PROTOCOL.md).

The same as ``run.py --framework stan`` would be (``common.main`` over ``stan_impl.RUNNERS``);
it is its own file so the Stan implementation did not have to edit run.py's table while the
frameworks were written in parallel. Adding ``"stan": "stan_impl"`` to ``run.py``'s MODULES and
pointing the manifest's entry there would make this file unnecessary.
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
    common.main(stan_impl.NAME, stan_impl.version, stan_impl.RUNNERS, args=args)


if __name__ == "__main__":
    main()

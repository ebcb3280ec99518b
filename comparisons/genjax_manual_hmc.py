"""GenJAX 0.10.3 with HMC written around its stale-gradient ``HMC`` (framework
``genjax_manual_hmc``, env "genjax").

The implementation lives in genjax_impl.py (``polynomial_manual_hmc``): the same
``polynomial_model`` as the ``genjax`` rows, leapfrog over ``jax.value_and_grad`` of the
model's ``assess``, the whole run one ``jax.jit`` of ``lax.scan``.  This module only gives it
its own framework name, as run.py's one-module-per-framework mapping expects.
"""

from __future__ import annotations

from genjax_impl import MANUAL_HMC_NAME as NAME  # noqa: F401
from genjax_impl import MANUAL_HMC_RUNNERS as RUNNERS  # noqa: F401
from genjax_impl import version  # noqa: F401

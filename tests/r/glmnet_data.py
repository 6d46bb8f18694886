"""The data of the ``glmnet`` R topic, generated identically in Python and in R.

No CSV is committed: ``tests/r/glmnet.R`` and :func:`glmnet_data` draw the same numbers
from the Park-Miller ("minimal standard") linear congruential generator,
``s <- (16807 * s) mod (2^31 - 1)``, whose every step is exact in double precision, so R
and Python hold bit-identical uniforms ``u = s / (2^31 - 1)``:

* ``X[i, j] = sqrt(12) * (u - 1/2)`` row by row (``n * p`` draws; mean 0, SD 1);
* ``beta[j] = 0.5 * (-1)^j`` for the first 10 columns (1-based ``j``), 0 after;
* event time ``-log(u) * exp(-X beta)`` (``n`` draws), censoring time ``-2 log(u)``
  (``n`` draws); ``time`` is the smaller, ``event`` whether the event came first.

The Cox partial likelihood depends on the times only through their order, which a last-
digit difference between two ``log`` implementations does not change (no two times are
that close here: the test checks the data are untied).
"""

from __future__ import annotations

import numpy as np

MODULUS = 2**31 - 1
MULTIPLIER = 16807
SEED = 20240611


def lcg_uniforms(count: int, seed: int = SEED) -> np.ndarray:
    """``count`` uniforms of the Park-Miller generator started at ``seed``."""
    out = np.empty(count)
    s = seed
    for k in range(count):
        s = (MULTIPLIER * s) % MODULUS
        out[k] = s
    return out / MODULUS


def glmnet_data(n: int = 1000, p: int = 500, seed: int = SEED
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X`` (n, p), ``time`` and ``event`` (bool) as described in the module docstring."""
    u = lcg_uniforms(n * p + 2 * n, seed)
    x = np.sqrt(12.0) * (u[: n * p].reshape(n, p) - 0.5)
    beta = np.zeros(p)
    beta[:10] = 0.5 * (-1.0) ** np.arange(1, 11)
    t_event = -np.log(u[n * p: n * p + n]) * np.exp(-(x @ beta))
    t_cens = -2.0 * np.log(u[n * p + n:])
    return x, np.minimum(t_event, t_cens), t_event <= t_cens

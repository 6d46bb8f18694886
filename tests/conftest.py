"""Test-suite guards: one BLAS thread, no global RNG use, no figures left open."""

from __future__ import annotations

import os

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

os.environ.setdefault("MPLBACKEND", "Agg")

# The models fit many small matrices; multi-threaded BLAS on a shared 2-core machine makes
# them ~100x slower (oversubscription) without changing any number.
_BLAS_LIMIT = threadpool_limits(limits=1)


@pytest.fixture(autouse=True)
def _no_global_rng_use():
    """Fail a test whose code under test draws from numpy's global RandomState."""
    before = np.random.get_state()[1].copy()  # noqa: NPY002 - guarding the legacy RNG
    yield
    after = np.random.get_state()[1]  # noqa: NPY002
    if not np.array_equal(before, after):
        np.random.seed(None)  # noqa: NPY002
        pytest.fail("the global numpy RNG was used; pass random_state / use a Generator")


@pytest.fixture(autouse=True)
def _no_figures_left_open():
    """Fail a test that leaves matplotlib figures open."""
    yield
    import sys

    if "matplotlib.pyplot" not in sys.modules:
        return
    import matplotlib.pyplot as plt

    open_figs = plt.get_fignums()
    if open_figs:
        plt.close("all")
        pytest.fail(f"{len(open_figs)} matplotlib figure(s) left open")

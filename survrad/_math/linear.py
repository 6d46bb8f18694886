"""Linear predictors that tie exactly where the covariates do (layer 0).

A BLAS matrix-vector product (OpenBLAS's ``dgemv``) computes rows in SIMD blocks and the
rows left over at the end with other code (with or without fused multiply-add), so two
identical covariate rows can get linear predictors one unit in the last place apart.
A concordance index counts a tie in risk as 1/2 (as R's ``survival::concordance``, whose
linear predictors are computed row by row in C): such a split tie becomes a concordant
or discordant pair at random, and a bootstrap's C moves by about 1e-5. Here every row is
multiplied elementwise and summed in the same order, so identical rows give bit-identical
values (checked in ``tests/test_coxph_kernel.py`` on data where ``X @ coef`` splits ties).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["linear_predictor"]


def linear_predictor(X: Any, coef: Any, offset: float = 0.0) -> np.ndarray:
    """``X @ coef + offset`` with identical rows of ``X`` giving identical values.

    Parameters
    ----------
    X : array-like of shape (n, p)
    coef : array-like of shape (p,)
    offset : float, default 0

    Returns
    -------
    numpy.ndarray of shape (n,)

    Examples
    --------
    >>> linear_predictor([[1.0, 2.0], [1.0, 2.0]], [0.5, -1.0], offset=1.0).tolist()
    [-0.5, -0.5]
    """
    out = np.multiply(np.asarray(X, dtype=float), np.asarray(coef, dtype=float)).sum(axis=1)
    if offset:
        out += offset
    return out

"""Harrell's restricted cubic splines: knot placement and basis of ``Hmisc::rcspline.eval``.

A restricted (natural) cubic spline with knots ``t_1 < ... < t_k`` is cubic between knots
and linear beyond the outer ones; it has ``k - 1`` basis columns: ``x`` itself and, for
``j = 1..k-2`` (with ``d = (t_k - t_1)^(2/3)``, R's default ``norm = 2``),

.. math::

    ((x - t_j)/d)_+^3 + \\frac{(t_{k-1} - t_j)((x - t_k)/d)_+^3
    - (t_k - t_j)((x - t_{k-1})/d)_+^3}{t_k - t_{k-1}}.

Knots (``rcspline.eval(x, nk = k, knots.only = TRUE)``): quantiles (R's type 7) at
``0.1, 0.5, 0.9`` for 3 knots and at ``k`` equally spaced probabilities from 0.05 to 0.95
for 4-6 knots (0.025 to 0.975 for 7 or more); with fewer than 100 values the outer knots
move to the 5th smallest and 5th largest value; when an extreme value carries at least 5 %
of the data (and no interior value does), the knot on that side is placed at the next
distinct value and the remaining knots are the quantiles of the values strictly inside.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rcs_basis", "rcs_knots"]

_FRACTIED = 0.05


def _outer(n_knots: int) -> float:
    if n_knots > 6:
        return 0.025
    return 0.05 if n_knots > 3 else 0.1


def rcs_knots(x: np.ndarray, n_knots: int) -> np.ndarray:
    """Knot locations of Harrell's ``rcs(x, n_knots)`` (``Hmisc::rcspline.eval``).

    Parameters
    ----------
    x : ndarray of float (n,)
        Finite values.
    n_knots : int
        At least 3.

    Returns
    -------
    ndarray of float
        Sorted distinct knots (fewer than ``n_knots`` only when ``x`` has few distinct
        values: then the interior distinct values, as R).

    Raises
    ------
    ValueError
        Fewer than 6 values, fewer than 3 knots requested, or fewer than 3 distinct knots.

    Examples
    --------
    >>> rcs_knots(np.arange(1.0, 201.0), 3).round(6).tolist()
    [20.9, 100.5, 180.1]
    """
    xx = np.asarray(x, dtype=float).ravel()
    if xx.size < 6:
        raise ValueError(f"a restricted cubic spline needs at least 6 values, got {xx.size}.")
    if n_knots < 3:
        raise ValueError(f"a restricted cubic spline needs at least 3 knots, got {n_knots}.")
    unique, counts = np.unique(xx, return_counts=True)
    if unique.size - 2 <= n_knots:
        return _at_least_three(unique[1:-1], unique.size)
    first: list[float] = []
    last: list[float] = []
    nke = n_knots
    share = counts / xx.size
    if share.size > 2 and share[1:-1].max() < _FRACTIED:
        if share[0] >= _FRACTIED:
            first = [float(unique[1])]
            xx = xx[xx > first[0]]
            nke -= 1
        if share[-1] >= _FRACTIED:
            last = [float(unique[-2])]
            xx = xx[xx < last[0]]
            nke -= 1
    if nke == 1:
        inner = np.array([np.median(xx)])
    else:
        outer = _outer(n_knots)
        probs = (np.linspace(0.5, 1 - outer, nke) if nke == 2
                 else np.linspace(outer, 1 - outer, nke))
        inner = np.quantile(xx, probs)
        if np.unique(inner).size < min(nke, 3):
            raise ValueError(f"could not place {n_knots} distinct knots: the values are too "
                             "concentrated (many ties). Use fewer knots.")
        if xx.size < 100:
            ordered = np.sort(xx)
            if not first:
                inner[0] = ordered[4]
            if not last:
                inner[-1] = ordered[-5]
    return _at_least_three(np.concatenate([first, inner, last]), unique.size)


def _at_least_three(knots: np.ndarray, n_unique: int) -> np.ndarray:
    knots = np.unique(knots)
    if knots.size < 3:
        raise ValueError(f"fewer than 3 distinct knots ({knots.size}) from {n_unique} "
                         "distinct values: a restricted cubic spline needs more spread.")
    return knots


def rcs_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """The ``k - 1`` columns of the restricted cubic spline of ``x`` (``x`` first).

    ``Hmisc::rcspline.eval(x, knots, inclx = TRUE)`` with its default ``norm = 2``.

    Parameters
    ----------
    x : ndarray of float (n,)
    knots : ndarray of float (k,), k >= 3, increasing

    Returns
    -------
    ndarray of shape (n, k - 1)

    Examples
    --------
    >>> b = rcs_basis(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 3.0]))
    >>> b.shape, b[:, 1].round(4).tolist()
    ((4, 2), [0.0, 0.1111, 0.7222, 1.6667])
    """
    x = np.asarray(x, dtype=float).ravel()
    t = np.asarray(knots, dtype=float)
    k = t.size
    d = (t[-1] - t[0]) ** (2.0 / 3.0)

    def cube(a: np.ndarray) -> np.ndarray:
        return np.maximum(a / d, 0.0) ** 3

    cols = [x]
    tail_k, tail_k1 = cube(x - t[-1]), cube(x - t[-2])
    for j in range(k - 2):
        cols.append(cube(x - t[j]) + ((t[-2] - t[j]) * tail_k - (t[-1] - t[j]) * tail_k1)
                    / (t[-1] - t[-2]))
    return np.column_stack(cols)

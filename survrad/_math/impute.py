"""Column imputation learned on training rows and applied to any rows (layer 0, private).

The engine behind :class:`survrad.features.Imputer` (patient columns),
:class:`survrad.lesions.ImputeLesions` (lesion columns) and
:func:`survrad.models.multiple_imputation`. It works on float arrays (NaN = missing):

``"median"``
    each column's training median (scikit-learn's ``SimpleImputer``);
``"knn"``
    the mean of the ``n_neighbors`` nearest training rows (scikit-learn's
    ``KNNImputer``, NaN-aware Euclidean distance) on columns standardised with the
    training mean and standard deviation, so that no column dominates by its unit;
``"iterative"``
    chained equations (van Buuren 2018, *Flexible Imputation of Missing Data*, 4.5):
    start from the training means, then ``max_iter`` rounds in which every column, from
    the fewest to the most missing values, is regressed (linear, with intercept) on all
    the others over the rows where it is observed, and its missing cells are replaced by
    the prediction, kept inside the column's training range. This is scikit-learn's
    ``IterativeImputer(estimator=LinearRegression(), imputation_order="ascending",
    skip_complete=False)`` without its early stopping (the test suite holds it to that).
    With ``sample_posterior=True`` each regression is R's ``mice.impute.norm``
    (Bayesian linear regression, van Buuren 2018, Algorithm 3.1): ``sigma*^2 =
    RSS / chi^2_{n_obs - p}``, ``beta* ~ N(beta_hat, sigma*^2 V)`` with ``V = (X'X +
    1e-5 diag(X'X))^-1``, imputations ``X beta* + N(0, sigma*^2)`` (proper imputations for
    multiple imputation).

Transforming other rows replays the fitted chain (the same regressions, round after
round) from the training means: a row's imputed values depend on the training rows and
on the row itself only, never on the other rows transformed with it. Observed values are
returned unchanged, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from survrad._validation import check_choice, check_int, check_random_state
from survrad.exceptions import FitError, format_values

__all__ = ["IMPUTATION_METHODS", "ColumnImputer"]

IMPUTATION_METHODS = ("iterative", "knn", "median")
_MICE_RIDGE = 1e-5      # mice's default ridge in .norm.draw


class ColumnImputer:
    """Fit an imputation rule on training rows; fill the NaN of any rows with it.

    Parameters
    ----------
    method : {"iterative", "knn", "median"}
    n_neighbors : int, default 5
        ``"knn"`` only.
    max_iter : int, default 10
        ``"iterative"`` only: rounds of chained equations.
    sample_posterior : bool, default False
        ``"iterative"`` only: Bayesian draws (multiple imputation) instead of predictions.
    random_state : None, int or numpy Generator
        ``"iterative"`` with ``sample_posterior=True`` only.
    context : str
        Name used in messages (the calling step).

    Examples
    --------
    >>> train = np.array([[1.0, 2.0], [np.nan, 4.0], [3.0, 6.0]])
    >>> imp = ColumnImputer("median").fit(train, ["a", "b"])
    >>> imp.transform(np.array([[np.nan, 1.0]])).tolist()
    [[2.0, 1.0]]
    """

    def __init__(self, method: str, *, n_neighbors: int = 5, max_iter: int = 10,
                 sample_posterior: bool = False, random_state: Any = None,
                 context: str = "Imputer") -> None:
        self.method = check_choice("method", method, list(IMPUTATION_METHODS))
        self.n_neighbors = check_int("n_neighbors", n_neighbors, min_value=1)
        self.max_iter = check_int("max_iter", max_iter, min_value=1)
        self.sample_posterior = bool(sample_posterior)
        self.random_state = random_state
        self.context = context

    def fit(self, values: np.ndarray, names: Sequence[Any]) -> ColumnImputer:
        """Learn the rule from the training rows ``values`` (NaN = missing)."""
        self._fit(values, names)
        return self

    def fit_transform(self, values: np.ndarray, names: Sequence[Any]) -> np.ndarray:
        """:meth:`fit` and the completed training rows (the chain's last state)."""
        a = np.asarray(values, dtype=float)
        filled = self._fit(a, names)
        if filled is None:
            return self.transform(a)
        return np.where(np.isnan(a), filled * self.scale_ + self.center_, a)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """``values`` with every NaN filled by the fitted rule (a new array)."""
        a = np.asarray(values, dtype=float)
        nan = np.isnan(a)
        if not nan.any():
            return a.copy()
        z = self._scaled(a)
        if self.method == "iterative":
            filled = self._replay(np.where(nan, 0.0, z), nan)
        else:
            filled = self.imputer_.transform(z)
        return np.where(nan, filled * self.scale_ + self.center_, a)

    # ---------------------------------------------------------------------- helpers
    def _fit(self, values: np.ndarray, names: Sequence[Any]) -> np.ndarray | None:
        a = np.asarray(values, dtype=float)
        names = [str(n) for n in names]
        nan = np.isnan(a)
        empty = [n for n, e in zip(names, nan.all(axis=0), strict=True) if e]
        if empty:
            raise FitError(
                f"{self.context}: column(s) {format_values(empty)} have no observed value in "
                "the training rows; nothing can be imputed from them. Drop them (or use "
                "fewer lesions / patients with such gaps).", columns=empty)
        self.names_ = names
        self.n_missing_ = nan.sum(axis=0)
        if self.method == "median":        # no scaling: the medians exactly
            self.center_, self.scale_ = np.zeros(a.shape[1]), np.ones(a.shape[1])
        else:
            sd = np.nanstd(a, axis=0)
            self.center_, self.scale_ = np.nanmean(a, axis=0), np.where(sd > 0, sd, 1.0)
        z = self._scaled(a)
        self.low_, self.high_ = np.nanmin(z, axis=0), np.nanmax(z, axis=0)
        if self.method == "iterative":
            return self._chain(z, nan)
        if self.method == "median":
            from sklearn.impute import SimpleImputer

            self.imputer_ = SimpleImputer(strategy="median").fit(z)
        else:
            from sklearn.impute import KNNImputer

            self.imputer_ = KNNImputer(n_neighbors=self.n_neighbors).fit(z)
        return None

    def _scaled(self, a: np.ndarray) -> np.ndarray:
        return (a - self.center_) / self.scale_

    def _chain(self, z: np.ndarray, nan: np.ndarray) -> np.ndarray:
        """Run the chained equations on the training rows; keep every regression."""
        rng = check_random_state(self.random_state) if self.sample_posterior else None
        self.rng_ = rng
        self.order_ = np.argsort(self.n_missing_, kind="mergesort")
        filled = np.where(nan, 0.0, z)                      # the training means
        self.sequence_: list[tuple[int, np.ndarray, float]] = []
        for _ in range(self.max_iter):
            for j in self.order_:
                design = np.column_stack([np.ones(z.shape[0]), np.delete(filled, j, axis=1)])
                obs = ~nan[:, j]
                coef, sigma = _regress(design[obs], filled[obs, j], rng)
                self.sequence_.append((int(j), coef, sigma))
                miss = ~obs
                if miss.any():
                    filled[miss, j] = self._predict(design[miss], j, coef, sigma)
        return filled

    def _predict(self, design: np.ndarray, j: int, coef: np.ndarray, sigma: float) -> np.ndarray:
        pred = design @ coef
        if self.rng_ is not None:
            pred = pred + self.rng_.normal(0.0, sigma, pred.shape[0])
        return np.clip(pred, self.low_[j], self.high_[j])

    def _replay(self, filled: np.ndarray, nan: np.ndarray) -> np.ndarray:
        """The fitted chain applied to other rows, from the training means."""
        rows = nan.any(axis=1)
        out = filled.copy()
        sub, sub_nan = out[rows], nan[rows]
        for j, coef, sigma in self.sequence_:
            miss = sub_nan[:, j]
            if miss.any():
                design = np.column_stack([np.ones(int(miss.sum())),
                                          np.delete(sub[miss], j, axis=1)])
                sub[miss, j] = self._predict(design, j, coef, sigma)
        out[rows] = sub
        return out


def _regress(x: np.ndarray, y: np.ndarray,
             rng: np.random.Generator | None) -> tuple[np.ndarray, float]:
    """Least squares of ``y`` on ``x`` (``rng`` None), or mice's Bayesian draw."""
    if rng is None:
        return np.linalg.lstsq(x, y, rcond=None)[0], 0.0
    xtx = x.T @ x
    v = np.linalg.inv(xtx + np.diag(_MICE_RIDGE * np.diag(xtx)))
    coef = v @ (x.T @ y)
    resid = y - x @ coef
    df = max(y.size - x.shape[1], 1)
    sigma = float(np.sqrt(resid @ resid / rng.chisquare(df)))
    chol = np.linalg.cholesky((v + v.T) / 2)
    return coef + chol @ rng.standard_normal(coef.size) * sigma, sigma

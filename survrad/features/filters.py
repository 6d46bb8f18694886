"""Unsupervised-style column filters learned on the training rows (layer 3).

- :class:`VarianceFilter`: drop constant and near-zero-variance columns (so a column that
  is constant inside a bootstrap resample is removed here, not crashing a Cox fit later).
- :class:`CorrelationFilter`: among highly correlated columns keep the one most associated
  with the outcome.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from survrad._validation import check_choice, check_fraction
from survrad.features._base import FeatureStep, check_frame, check_target, is_constant
from survrad.features.selection import _association

__all__ = ["CorrelationFilter", "VarianceFilter"]


def _check_nonneg(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
    return float(value)


class VarianceFilter(FeatureStep):
    """Drop constant and near-zero-variance columns, judged on the training rows.

    A column is dropped when any of these holds in the training rows:

    - it is constant (all values equal, or a standard deviation below 1e-12 x ``|mean|``,
      i.e. round-off of a constant), whatever ``threshold``;
    - its variance (ddof=0) is ``<= threshold`` (in the squared units of the column, as
      scikit-learn's ``VarianceThreshold``: standardise first, or set 0, for columns on a
      tiny scale);
    - ``freq_ratio`` is given and the column is "near-zero variance" in the sense of caret's
      ``nearZeroVar``: the most frequent value is more than ``freq_ratio`` times as frequent
      as the second most frequent AND distinct values are fewer than ``unique_cut`` percent
      of the rows (e.g. a 0/1 column with one positive among 60 rows).

    Parameters
    ----------
    threshold : float, default 1e-8
        A column whose variance (ddof=0, in its squared units) is at most this is dropped.
    freq_ratio : float, optional
        caret's ``freqCut`` (its default is 95/5 = 19). ``None`` disables this rule.
    unique_cut : float, default 10.0
        caret's ``uniqueCut``, in percent; used only with ``freq_ratio``.

    Attributes
    ----------
    variances_ : pandas.Series
        Training variance of each column.
    dropped_ : dict
        Dropped column -> reason (``"constant"``, ``"variance"`` or ``"frequency"``).
    support_ : numpy.ndarray of bool
    feature_names_out_ : numpy.ndarray

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [5.0, 5.0, 5.0]})
    >>> VarianceFilter().fit(X).get_feature_names_out().tolist()
    ['a']
    """

    def __init__(self, threshold: float = 1e-8, freq_ratio: float | None = None,
                 unique_cut: float = 10.0) -> None:
        self.threshold = threshold
        self.freq_ratio = freq_ratio
        self.unique_cut = unique_cut

    def _check_params(self) -> None:
        _check_nonneg("threshold", self.threshold)
        if self.freq_ratio is not None:
            _check_nonneg("freq_ratio", self.freq_ratio)
        _check_nonneg("unique_cut", self.unique_cut)

    def fit(self, X: pd.DataFrame, y: Any = None) -> VarianceFilter:
        """Find the near-constant columns of the training rows."""
        self._check_params()
        check_frame(X, step="VarianceFilter")
        values = X.to_numpy(dtype=float)
        var = values.var(axis=0)
        reasons: dict = {}
        const = is_constant(values)
        for j, col in enumerate(X.columns):
            if const[j]:
                reasons[col] = "constant"
            elif var[j] <= self.threshold:
                reasons[col] = "variance"
            elif self.freq_ratio is not None and self._rare(values[:, j]):
                reasons[col] = "frequency"
        self._set_input_names(X)
        self.variances_ = pd.Series(var, index=X.columns, name="variance")
        self.dropped_ = reasons
        self.support_ = np.array([c not in reasons for c in X.columns], dtype=bool)
        self.feature_names_out_ = np.asarray(X.columns[self.support_], dtype=object)
        return self

    def _rare(self, column: np.ndarray) -> bool:
        _, counts = np.unique(column, return_counts=True)
        top = np.sort(counts)[::-1]
        ratio = top[0] / top[1] if top.size > 1 else np.inf
        pct_unique = 100.0 * top.size / column.size
        return bool(ratio > self.freq_ratio and pct_unique < self.unique_cut)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Keep the columns that vary in the training rows."""
        X = self._check_columns(X)
        return X.loc[:, list(self.feature_names_out_)]


class CorrelationFilter(FeatureStep):
    """Among highly correlated columns, keep the one most associated with the outcome.

    Algorithm (greedy, deterministic):

    1. Rank the columns by their univariate association with the outcome on the training
       rows (:func:`survrad.features.selection.association`): survival ``y`` by ``|z|`` of the
       Cox score test, binary ``y`` by ``|AUC - 0.5|``; without ``y``, all columns tie. Ties
       keep the column order of ``X``.
    2. Walk down the ranking: a column is kept if its ``|correlation|`` with every column kept
       so far is ``<= threshold``; otherwise it is dropped in favour of the first (most
       associated) kept column it exceeds the threshold with.

    The result has no pair with ``|r|`` > threshold, and each dropped column is represented
    by a kept, more associated column. Correlations involving a constant column are
    undefined and treated as 0 (drop constants first with :class:`VarianceFilter`).

    Parameters
    ----------
    threshold : float, default 0.9
        Columns with ``|r|`` > threshold are redundant.
    method : {"spearman", "pearson"}, default "spearman"
        Rank (Spearman) or linear (Pearson) correlation between columns.

    Attributes
    ----------
    association_ : pandas.DataFrame or None
        Per column ``statistic``, ``strength``, ``p`` (None without ``y``).
    dropped_ : dict
        Dropped column -> (kept column it is represented by, r).
    support_ : numpy.ndarray of bool
    feature_names_out_ : numpy.ndarray

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [1.0, 2, 3, 4, 5], "b": [1.1, 2.0, 3.2, 4.1, 5.3],
    ...                   "c": [3.0, 1, 4, 1, 5]})
    >>> CorrelationFilter(threshold=0.9).fit(X).get_feature_names_out().tolist()
    ['a', 'c']
    """

    def __init__(self, threshold: float = 0.9, method: str = "spearman") -> None:
        self.threshold = threshold
        self.method = method

    def _check_params(self) -> None:
        check_fraction("threshold", self.threshold, inclusive=True)
        check_choice("method", self.method, ["spearman", "pearson"])

    def fit(self, X: pd.DataFrame, y: Any = None) -> CorrelationFilter:
        """Rank columns by association on the training rows and drop redundant ones."""
        self._check_params()
        check_frame(X, step="CorrelationFilter", min_rows=3)
        values = X.to_numpy(dtype=float)
        names = list(X.columns)
        if y is None:
            self.association_ = None
            strength = np.zeros(len(names))
        else:
            target = check_target(y, len(X), step="CorrelationFilter")
            self.association_ = _association(values, target, names)
            strength = self.association_["strength"].to_numpy()
        corr = _correlation(values, self.method)
        order = np.argsort(-strength, kind="stable")
        kept: list[int] = []
        dropped: dict = {}
        for j in order:
            hits = [i for i in kept if abs(corr[i, j]) > self.threshold]
            if hits:
                dropped[names[j]] = (names[hits[0]], float(corr[hits[0], j]))
            else:
                kept.append(int(j))
        support = np.zeros(len(names), dtype=bool)
        support[kept] = True
        self._set_input_names(X)
        self.dropped_ = dropped
        self.support_ = support
        self.feature_names_out_ = np.asarray(X.columns[support], dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Keep the retained columns."""
        X = self._check_columns(X)
        return X.loc[:, list(self.feature_names_out_)]


def _correlation(values: np.ndarray, method: str) -> np.ndarray:
    """Correlation matrix; entries involving a constant column are 0 (1 on the diagonal)."""
    a = stats.rankdata(values, axis=0) if method == "spearman" else values.copy()
    const = is_constant(values)
    a = a - a.mean(axis=0)
    sd = np.sqrt((a**2).sum(axis=0))
    sd[const] = 1.0
    a = a / sd
    a[:, const] = 0.0
    corr = a.T @ a
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, -1.0, 1.0)

"""Shared checks for the feature steps (layer 3, private).

Every feature step is a scikit-learn transformer on DataFrames. The helpers here check the
input frame (numeric, finite, unique column names), turn ``y`` into a survival or binary
outcome, and re-issue third-party convergence warnings as survrad's own.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from survrad._validation import CachedParamNames
from survrad.data.outcome import check_binary, check_y_survival
from survrad.exceptions import ConvergenceWarning, NotFittedError, SchemaError, format_values

__all__ = ["FeatureStep", "Target", "check_frame", "check_target", "is_constant"]

T = TypeVar("T")


def _row_ids(index: pd.Index, mask: np.ndarray) -> list:
    return list(index[np.asarray(mask, dtype=bool)])


def check_frame(
    X: Any, *, step: str, columns: Sequence[Any] | None = None, min_rows: int = 1,
    allow_missing: bool = False,
) -> pd.DataFrame:
    """Check that ``X`` is a DataFrame whose ``columns`` (default: all) are finite numbers.

    Parameters
    ----------
    X : pandas.DataFrame
        The feature table, one row per patient (index = patient ids, used in messages).
    step : str
        The calling step's name, used in messages.
    columns : sequence, optional
        The columns that must be numeric; default all.
    min_rows : int, default 1
        Fewer rows is an error.
    allow_missing : bool, default False
        Accept NaN (an imputation step); ±inf is still an error.

    Returns
    -------
    pandas.DataFrame
        ``X`` itself (not copied).

    Raises
    ------
    TypeError
        ``X`` is not a DataFrame.
    SchemaError
        Duplicate column names, too few rows, a non-numeric column, NaN or ±inf
        (docs/reliability.md #1, #17-#19).
    """
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"{step} works on a pandas DataFrame (columns = features, index = patient ids); "
            f"got {type(X).__name__}."
        )
    dup = X.columns[X.columns.duplicated()].unique()
    if len(dup):
        raise SchemaError(f"{step}: duplicate column names {format_values(dup)}; rename them.")
    if X.shape[0] < min_rows:
        raise SchemaError(f"{step}: needs at least {min_rows} rows, got {X.shape[0]}.")
    checked_values(X, list(X.columns) if columns is None else list(columns), step=step,
                   allow_missing=allow_missing)
    return X


def checked_values(X: pd.DataFrame, cols: list, *, step: str,
                   allow_missing: bool = False) -> np.ndarray | None:
    """The column checks of :func:`check_frame`; ``X[cols].to_numpy(dtype=float)`` or None.

    ``X`` has unique column names. Fast path: when every column is a plain numpy bool,
    integer or float column with finite values (NaN allowed with ``allow_missing``), the
    block is read once and returned. Otherwise each column is checked in turn, which
    raises the precise error, or accepts a column type the fast path leaves to it (e.g. a
    nullable integer); then None: the caller reads the columns itself.
    """
    if not cols:
        return np.empty((X.shape[0], 0))
    sub = X if cols == list(X.columns) else (
        X[cols] if all(c in X.columns for c in cols) else None)
    if sub is not None and all(isinstance(d, np.dtype) and d.kind in "biuf"
                               for d in sub.dtypes):
        values = sub.to_numpy(dtype=float)
        bad = np.isinf(values) if allow_missing else ~np.isfinite(values)
        if not bad.any():
            return values
    for col in cols:   # something is wrong or unusual: check each column, say which
        _check_numeric_column(X[col], step=step, column=col, allow_missing=allow_missing)
    return None


def _check_numeric_column(s: pd.Series, *, step: str, column: Any,
                          allow_missing: bool = False) -> None:
    if not (pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)):
        num = pd.to_numeric(s, errors="coerce")
        bad = num.isna().to_numpy() & s.notna().to_numpy()
        raise SchemaError(
            f"{step}: feature is not numeric (dtype {s.dtype}); encode it or leave it out "
            "of the features.",
            column=str(column), ids=_row_ids(s.index, bad) if bad.any() else None,
            values=list(s[bad].astype(str))[:10] if bad.any() else None,
        )
    v = s.to_numpy(dtype=float, na_value=np.nan)
    nan = np.isnan(v)
    if nan.any() and not allow_missing:
        raise SchemaError(
            f"{step}: feature has missing values; impute them explicitly (an Imputer "
            "step before this one, counted in the report) or exclude the rows.",
            column=str(column), ids=_row_ids(s.index, nan),
        )
    inf = np.isinf(v)
    if inf.any():
        raise SchemaError(f"{step}: feature has infinite values.", column=str(column),
                          ids=_row_ids(s.index, inf), values=list(v[inf]))


def is_constant(values: np.ndarray) -> np.ndarray:
    """Columns of a 2-D array that are constant, up to floating-point round-off.

    A column is constant when all its values are equal, or when its standard deviation is
    below ``1e-12 * |mean|`` (round-off of a constant). ``1e9 + N(0, 1)`` is not constant.

    Examples
    --------
    >>> is_constant(np.array([[1.0, 1e9], [1.0, 1e9 + 1]])).tolist()
    [True, False]
    """
    a = np.asarray(values, dtype=float)
    if a.shape[0] == 0:
        return np.ones(a.shape[1], dtype=bool)
    ptp = np.ptp(a, axis=0)
    sd = a.std(axis=0)
    return (ptp == 0) | (sd <= 1e-12 * np.abs(a.mean(axis=0)))


class Target:
    """A checked outcome: ``kind`` is ``"survival"`` (``time``, ``event``) or ``"binary"``."""

    __slots__ = ("event", "kind", "label", "time")

    def __init__(self, kind: str, *, time: np.ndarray | None = None,
                 event: np.ndarray | None = None, label: np.ndarray | None = None) -> None:
        self.kind = kind
        self.time = time
        self.event = event
        self.label = label


def check_target(y: Any, n_rows: int, *, step: str) -> Target:
    """Turn ``y`` into a :class:`Target`.

    A structured array (``Surv.from_arrays``) or a ``(time, event)`` tuple is a survival
    outcome; anything else must be a binary 0/1 vector. The length must match ``X``.
    """
    if y is None:
        raise ValueError(
            f"{step} learns from the outcome: call fit(X, y) with y = Surv.from_arrays("
            "time=..., event=...) for a survival endpoint or a 0/1 vector for a binary one."
        )
    arr = None if isinstance(y, tuple) else np.asarray(y)
    if isinstance(y, tuple) or (arr is not None and arr.dtype.names is not None):
        time, event = check_y_survival(y)
        target = Target("survival", time=time, event=event)
        n_y = time.shape[0]
    else:
        label = check_binary(np.ravel(arr))
        target = Target("binary", label=label)
        n_y = label.shape[0]
    if n_y != n_rows:
        raise ValueError(f"{step}: X has {n_rows} rows but y has {n_y}.")
    if target.kind == "survival" and not target.event.any():
        raise SchemaError(f"{step}: no events in the training rows; nothing to select on.")
    return target


def rethrow_convergence(fn: Callable[[], T], *, context: str) -> T:
    """Call ``fn()``; re-issue any third-party ConvergenceWarning as survrad's own."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    for w in caught:
        foreign = (w.category.__name__ == "ConvergenceWarning"
                   and not issubclass(w.category, ConvergenceWarning))
        if foreign:
            warnings.warn(f"{context}: {w.message}", ConvergenceWarning, stacklevel=3)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out


class FeatureStep(CachedParamNames, TransformerMixin, BaseEstimator):
    """Base class: column bookkeeping shared by every feature step.

    Subclasses set ``feature_names_in_`` (the training columns, in order) and
    ``feature_names_out_`` in ``fit``.
    """

    def _check_fitted(self) -> None:
        if not hasattr(self, "feature_names_out_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(X, y) on the "
                "training rows first."
            )

    def _set_input_names(self, X: pd.DataFrame) -> None:
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]

    def _check_columns(self, X: Any) -> pd.DataFrame:
        """``X`` restricted to, and ordered like, the training columns."""
        self._check_fitted()
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{type(self).__name__}.transform needs a pandas DataFrame; "
                            f"got {type(X).__name__}.")
        fitted = list(self.feature_names_in_)
        if list(X.columns) == fitted:    # already the training layout: nothing to reorder
            return X
        missing = [c for c in fitted if c not in X.columns]
        extra = [c for c in X.columns if c not in set(fitted)]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {format_values(missing)}")
            if extra:
                parts.append(f"not seen in fit {format_values(extra)}")
            raise SchemaError(
                f"{type(self).__name__}.transform: the columns differ from those it was "
                f"fitted on ({'; '.join(parts)}). Transform the same feature table layout "
                "that was used in fit."
            )
        return X.loc[:, fitted]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns, in order.

        Parameters
        ----------
        input_features : ignored
            Present for scikit-learn compatibility.

        Returns
        -------
        numpy.ndarray of object
        """
        self._check_fitted()
        return np.asarray(self.feature_names_out_, dtype=object)

"""Standardisation learned on the training rows (layer 3)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import check_choice
from survrad.exceptions import FitError, format_values
from survrad.features._base import FeatureStep, check_frame, is_constant

__all__ = ["Standardize"]


class Standardize(FeatureStep):
    """Centre and scale every column with the mean and standard deviation of the training rows.

    Parameters
    ----------
    constant : {"error", "passthrough"}, default "error"
        What to do with a column that is constant in the training rows (its standard
        deviation is 0, or round-off of 0). ``"error"`` raises :class:`FitError` naming the
        columns (put a :class:`VarianceFilter` before this step to drop them);
        ``"passthrough"`` leaves such columns unchanged (neither centred nor scaled) and
        lists them in ``constant_columns_``.

    Attributes
    ----------
    mean_ : pandas.Series
        Training mean of each column.
    scale_ : pandas.Series
        Training standard deviation (``ddof=0``, as scikit-learn's ``StandardScaler`` and
        glmnet); 1 and mean 0 for pass-through columns.
    constant_columns_ : list of str
        Columns found constant in the training rows.
    feature_names_out_ : numpy.ndarray
        Output columns (the input columns, same order).

    Examples
    --------
    >>> import pandas as pd
    >>> train = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    >>> Standardize().fit(train).transform(pd.DataFrame({"a": [2.0, 4.0]}))["a"].round(3).tolist()
    [0.0, 2.449]
    """

    def __init__(self, constant: str = "error") -> None:
        self.constant = constant

    def _check_params(self) -> None:
        check_choice("constant", self.constant, ["error", "passthrough"])

    def fit(self, X: pd.DataFrame, y: Any = None) -> Standardize:
        """Learn the mean and standard deviation of each column from the training rows."""
        self._check_params()
        check_frame(X, step="Standardize", min_rows=2)
        values = X.to_numpy(dtype=float)
        const = is_constant(values)
        names = list(X.columns)
        if const.any() and self.constant == "error":
            cols = [c for c, k in zip(names, const, strict=True) if k]
            raise FitError(
                f"Standardize: columns constant in the training rows: {format_values(cols)}. "
                "Drop them first (VarianceFilter) or use Standardize(constant='passthrough').",
                columns=[str(c) for c in cols],
            )
        mean = np.where(const, 0.0, values.mean(axis=0))
        scale = np.where(const, 1.0, values.std(axis=0))
        self._set_input_names(X)
        self.mean_ = pd.Series(mean, index=X.columns, dtype=float)
        self.scale_ = pd.Series(scale, index=X.columns, dtype=float)
        self.constant_columns_ = [c for c, k in zip(names, const, strict=True) if k]
        self.feature_names_out_ = np.asarray(names, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Standardise any rows with the training mean and standard deviation."""
        X = self._check_columns(X)
        check_frame(X, step="Standardize")
        out = (X.to_numpy(dtype=float) - self.mean_.to_numpy()) / self.scale_.to_numpy()
        return pd.DataFrame(out, index=X.index, columns=X.columns)

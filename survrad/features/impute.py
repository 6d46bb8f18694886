"""Imputation of missing patient-level values, learned on the training rows (layer 3).

Put :class:`Imputer` first in ``CohortPipeline(features=[...])`` when the cohort was read
with ``read_cohort(..., missing="impute")``. Like every feature step it is cloned and
fitted on the training patients of each resample and applied to the held-out patients,
so no imputation model ever sees a held-out value. Lesion-level gaps (a failed
extraction) are filled before aggregation by :class:`survrad.lesions.ImputeLesions`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from survrad._math.impute import IMPUTATION_METHODS, ColumnImputer
from survrad._validation import check_choice, check_int
from survrad.exceptions import SchemaError, format_values
from survrad.features._base import FeatureStep, check_frame

__all__ = ["Imputer"]

#: Suffix of the missing-indicator columns (``pdl1`` -> ``pdl1_missing``).
INDICATOR_SUFFIX = "_missing"


class Imputer(FeatureStep):
    """Fill missing values with a rule learned on the training rows.

    Parameters
    ----------
    method : {"iterative", "knn", "median"}, default "iterative"
        ``"iterative"``: chained equations, each column regressed linearly on the others
        round after round, imputations kept inside each column's training range (the
        numbers of scikit-learn's ``IterativeImputer`` with a ``LinearRegression``
        estimator); ``"knn"``: mean of the ``n_neighbors`` nearest training patients
        (scikit-learn's ``KNNImputer``) on columns standardised with the training mean
        and standard deviation; ``"median"``: the training median of each column
        (``SimpleImputer``). Details in :mod:`survrad._math.impute`.
    add_indicator : bool, default False
        Add a 0/1 column ``<column>_missing`` for every column with a missing value in
        the training rows (missingness as a predictor). A column complete in training
        gets no indicator; its gaps in held-out rows are still filled.
    n_neighbors : int, default 5
        ``method="knn"`` only.
    max_iter : int, default 10
        ``method="iterative"`` only: rounds of chained equations.
    sample_posterior : bool, default False
        ``method="iterative"`` only: Bayesian draws (R's ``mice.impute.norm``) instead
        of predictions: the proper imputations of multiple imputation
        (:func:`survrad.models.multiple_imputation`). A prediction pipeline keeps the
        default, which imputes a held-out patient the same way every time.
    random_state : None, int or numpy Generator
        The draws of ``sample_posterior=True``.

    Attributes
    ----------
    n_missing_ : pandas.Series
        Missing values per column in the training rows.
    indicator_columns_ : list of str
        Columns that received an indicator.
    feature_names_out_ : numpy.ndarray
        The input columns, then the indicators.

    Notes
    -----
    Only ``X`` is used: the outcome is not part of the imputation model, because a
    held-out patient's outcome is unknown when the pipeline predicts. A row is imputed
    from the training rows and its own observed values, never from the other rows
    transformed with it; observed values are returned unchanged.

    Examples
    --------
    >>> import pandas as pd
    >>> train = pd.DataFrame({"age": [50.0, 60.0, 70.0, np.nan], "pdl1": [1.0, np.nan, 3.0, 4.0]})
    >>> imp = Imputer(method="median", add_indicator=True).fit(train)
    >>> imp.transform(pd.DataFrame({"age": [np.nan], "pdl1": [2.0]})).iloc[0].tolist()
    [60.0, 2.0, 1.0, 0.0]
    """

    #: A CohortPipeline with a formula runs its leading imputers on the raw variables,
    #: before the formula is evaluated (the spline of an imputed age, not an imputed
    #: spline column).
    imputes_missing: ClassVar[bool] = True

    def __init__(self, method: str = "iterative", add_indicator: bool = False,
                 n_neighbors: int = 5, max_iter: int = 10, sample_posterior: bool = False,
                 random_state: Any = None) -> None:
        self.method = method
        self.add_indicator = add_indicator
        self.n_neighbors = n_neighbors
        self.max_iter = max_iter
        self.sample_posterior = sample_posterior
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any = None) -> Imputer:
        """Learn the imputation rule from the training rows of ``X`` (``y`` is ignored)."""
        check_choice("method", self.method, list(IMPUTATION_METHODS))
        check_int("n_neighbors", self.n_neighbors, min_value=1)
        check_int("max_iter", self.max_iter, min_value=1)
        check_frame(X, step="Imputer", min_rows=2, allow_missing=True)
        names = [str(c) for c in X.columns]
        self.engine_ = ColumnImputer(self.method, n_neighbors=self.n_neighbors,
                                     max_iter=self.max_iter,
                                     sample_posterior=bool(self.sample_posterior),
                                     random_state=self.random_state, context="Imputer")
        values = X.to_numpy(dtype=float, na_value=np.nan)
        self.engine_.fit(values, names)
        self._set_input_names(X)
        self.n_missing_ = pd.Series(self.engine_.n_missing_, index=X.columns, dtype=int)
        self.indicator_columns_ = ([c for c in X.columns if self.n_missing_[c] > 0]
                                   if self.add_indicator else [])
        extra = [f"{c}{INDICATOR_SUFFIX}" for c in self.indicator_columns_]
        clash = [c for c in extra if c in set(X.columns)]
        if clash:
            raise SchemaError(f"Imputer: indicator column name(s) {format_values(clash)} are "
                              "already columns; rename them or use add_indicator=False.")
        self.feature_names_out_ = np.asarray([*X.columns, *extra], dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` with every missing value filled (and the indicators, if requested)."""
        X = self._check_columns(X)
        check_frame(X, step="Imputer", allow_missing=True)
        values = X.to_numpy(dtype=float, na_value=np.nan)
        filled = self.engine_.transform(values)
        out = pd.DataFrame(filled, index=X.index, columns=X.columns)
        for c in self.indicator_columns_:
            out[f"{c}{INDICATOR_SUFFIX}"] = X[c].isna().to_numpy().astype(float)
        return out

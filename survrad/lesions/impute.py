"""Imputation of missing lesion features before aggregation (layer 2).

A failed radiomic extraction leaves a lesion row with missing features. Under
``read_cohort(..., missing="impute")`` those NaN stay in the lesion table, and
:class:`ImputeLesions` fills them *at the lesion level, before the lesions are
aggregated*: the imputation rule is learned on the lesion rows of the TRAINING patients
(all their rows, every timepoint) and applied to the lesion rows of any cohort, then the
wrapped strategy aggregates the completed lesions. Inside resampling the strategy is
cloned and refitted with the pipeline, so the rule never sees a held-out lesion.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from survrad._math.impute import IMPUTATION_METHODS, ColumnImputer
from survrad._validation import check_choice
from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError, SchemaError
from survrad.lesions.base import LesionStrategy, resolve_features

__all__ = ["ImputeLesions"]


class ImputeLesions(LesionStrategy):
    """Fill missing lesion features (learned on training lesions), then aggregate.

    Parameters
    ----------
    strategy : LesionStrategy
        The aggregation applied to the completed lesions (A-F, a union, ...).
    method : {"median", "knn", "iterative"}, default "median"
        As for :class:`survrad.features.Imputer`, on lesion rows: the training median,
        the nearest training lesions, or chained equations across the lesion features.
    features : sequence of str or None, default None
        Lesion columns to impute (names or globs); ``None``: the cohort's
        ``lesion_features``.
    n_neighbors : int, default 5
    max_iter : int, default 10
    random_state : None, int or numpy Generator

    Attributes
    ----------
    strategy_ : LesionStrategy
        The fitted clone of ``strategy`` (fitted on the completed training lesions).
    columns_ : list of str
        The imputed lesion columns.
    n_missing_ : pandas.Series
        Missing values per column among the training lesion rows.
    feature_names_out_ : list of str
        The wrapped strategy's columns.

    Notes
    -----
    A lesion's imputed values depend on the training lesions and on its own observed
    features only (not on the other lesions of its patient, nor on any outcome).

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.cohort import Cohort
    >>> from survrad.lesions.statistics import FeatureStatistics
    >>> p = pd.DataFrame({"age": [60, 70]}, index=pd.Index(["P1", "P2"], name="patient_id"))
    >>> les = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "lesion_id": ["a", "b", "c"],
    ...                     "rad_x": [1.0, None, 3.0]})
    >>> c = Cohort(p, les, lesion_features=("rad_x",))
    >>> ImputeLesions(FeatureStatistics(stats=["mean"])).fit_transform(c)["rad_x__mean"].tolist()
    [1.5, 3.0]
    """

    def __init__(self, strategy: LesionStrategy | None = None, method: str = "median",
                 features: Sequence[str] | None = None, n_neighbors: int = 5,
                 max_iter: int = 10, random_state: Any = None) -> None:
        self.strategy = strategy
        self.method = method
        self.features = features
        self.n_neighbors = n_neighbors
        self.max_iter = max_iter
        self.random_state = random_state

    @property
    def requires_outcome(self) -> bool:  # type: ignore[override]
        """True when the wrapped strategy learns from the outcome."""
        return bool(getattr(self.strategy, "requires_outcome", False))

    def fit(self, cohort: Cohort, endpoint: str | None = None) -> ImputeLesions:
        """Learn the imputation on the training lesions, then fit the strategy on them."""
        if not isinstance(self.strategy, LesionStrategy):
            raise ConfigError("ImputeLesions needs a lesion strategy to apply after "
                              f"imputation (strategy=...); got {self.strategy!r}.")
        check_choice("method", self.method, list(IMPUTATION_METHODS))
        self.columns_ = resolve_features(cohort, self.features)
        values = self._values(cohort)
        self.engine_ = ColumnImputer(self.method, n_neighbors=self.n_neighbors,
                                     max_iter=self.max_iter, random_state=self.random_state,
                                     context="ImputeLesions")
        self.engine_.fit(values, self.columns_)
        self.n_missing_ = pd.Series(self.engine_.n_missing_, index=self.columns_, dtype=int)
        self.strategy_ = clone(self.strategy).fit(self.impute(cohort), endpoint)
        self.feature_names_out_ = list(self.strategy_.get_feature_names_out())
        return self

    def transform(self, cohort: Cohort) -> pd.DataFrame:
        """The wrapped strategy's rows for ``cohort`` after imputing its lesions."""
        self._check_fitted()
        return self.strategy_.transform(self.impute(cohort))

    def impute(self, cohort: Cohort) -> Cohort:
        """``cohort`` with its lesion features filled by the fitted rule (a new Cohort)."""
        if not hasattr(self, "engine_"):
            self._check_fitted()
        values = self._values(cohort)
        if not np.isnan(values).any():
            return cohort
        lesions = cohort.lesions.copy()
        lesions[self.columns_] = self.engine_.transform(values)
        return dataclasses.replace(cohort, lesions=lesions)

    @property
    def lesion_scores(self) -> Any:
        """The wrapped strategy's ``lesion_scores(cohort)`` on the completed lesions (D, E,
        F); absent (``hasattr`` is False) when the wrapped strategy has none, as for the
        strategy itself."""
        if not hasattr(self.strategy, "lesion_scores"):
            raise AttributeError(f"{type(self.strategy).__name__} has no lesion scores.")
        return self._lesion_scores

    def _lesion_scores(self, cohort: Cohort) -> pd.DataFrame:
        self._check_fitted()
        return self.strategy_.lesion_scores(self.impute(cohort))

    def _values(self, cohort: Cohort) -> np.ndarray:
        if cohort.lesions is None:
            raise SchemaError("ImputeLesions needs a lesion table.")
        table = cohort.lesions
        bad = [c for c in self.columns_ if c not in table.columns]
        if bad:
            raise SchemaError(f"ImputeLesions: lesion columns {bad} not found.", file="lesions",
                              column=bad[0])
        block = table[self.columns_]
        for c in self.columns_:
            if not pd.api.types.is_numeric_dtype(block[c]) or pd.api.types.is_bool_dtype(
                    block[c]):
                raise SchemaError("ImputeLesions: lesion column is not numeric.",
                                  file="lesions", column=c)
        values = block.to_numpy(dtype=float, na_value=np.nan)
        if np.isinf(values).any():
            j = int(np.flatnonzero(np.isinf(values).any(axis=0))[0])
            raise SchemaError("ImputeLesions: lesion column has infinite values.",
                              file="lesions", column=self.columns_[j])
        return values

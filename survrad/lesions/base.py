"""The contract every multi-lesion strategy follows (layer 2).

A strategy turns a :class:`~survrad.data.cohort.Cohort` into one row per patient:

- ``fit(cohort, endpoint=None)`` learns what it needs from the TRAINING cohort only
  (scalers, lesion-level models for D/E/F); returns ``self``. Strategies that learn from
  outcomes set ``requires_outcome = True`` and need ``endpoint``.
- ``transform(cohort)`` returns a float DataFrame indexed by ``cohort.patient_ids`` (same
  order, one row per patient, no NaN: a rule that cannot produce a value applies a
  documented fill and warns with the patient ids, RELIABILITY.md #7).
- ``get_feature_names_out()`` gives the output columns after ``fit``.
- Strategies with lesion-level scores (D, E, F) also implement
  ``lesion_scores(cohort) -> pandas.DataFrame`` with columns ``patient_id``,
  ``lesion_id`` and ``score`` (higher = riskier), one row per baseline lesion.

Estimators follow scikit-learn's contract: ``__init__`` only stores its arguments,
learned attributes end in ``_``, ``clone()`` works.
"""

from __future__ import annotations

from typing import ClassVar

import pandas as pd
from sklearn.base import BaseEstimator

from survrad.data.cohort import Cohort
from survrad.exceptions import NotFittedError

__all__ = ["LesionStrategy"]


class LesionStrategy(BaseEstimator):
    """Base class of the multi-lesion strategies (A-F, heterogeneity, delta)."""

    requires_outcome: ClassVar[bool] = False

    def fit(self, cohort: Cohort, endpoint: str | None = None) -> LesionStrategy:
        """Learn from the training cohort; the default learns nothing but the names."""
        self.feature_names_out_ = list(self._compute(cohort).columns)
        return self

    def transform(self, cohort: Cohort) -> pd.DataFrame:
        """One float row per patient of ``cohort``, indexed by ``patient_id``."""
        self._check_fitted()
        out = self._compute(cohort)
        return out.reindex(columns=self.feature_names_out_, fill_value=0.0)

    def fit_transform(self, cohort: Cohort, endpoint: str | None = None) -> pd.DataFrame:
        """``fit`` then ``transform`` on the same cohort."""
        return self.fit(cohort, endpoint).transform(cohort)

    def get_feature_names_out(self) -> list[str]:
        """Output column names (after ``fit``)."""
        self._check_fitted()
        return list(self.feature_names_out_)

    def _compute(self, cohort: Cohort) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "feature_names_out_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(cohort) first.")

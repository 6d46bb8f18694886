"""Several strategies side by side: their columns concatenated (layer 2)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone

from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError, SchemaError
from survrad.lesions.base import LesionStrategy

__all__ = ["StrategyUnion"]


class StrategyUnion(LesionStrategy):
    """Concatenate the columns of several lesion strategies (e.g. C + B + heterogeneity).

    Every member is cloned and fitted on the training cohort (``strategies_``); the
    strategies passed in are never modified.

    Parameters
    ----------
    strategies : sequence of LesionStrategy
        The members, in column order.

    Attributes
    ----------
    strategies_ : list of LesionStrategy
        The fitted clones.
    feature_names_out_ : list of str
        The members' columns in order; a column produced by two members under the same
        name (e.g. ``n_organs`` from TumorBurden and Heterogeneity) is kept once, from
        the first member; ``transform`` checks that the copies have the same values and
        raises a SchemaError if they do not.
    dropped_duplicates_ : list of tuple of (int, str)
        ``(member index, column)`` of the duplicate columns dropped.

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.cohort import Cohort
    >>> from survrad.lesions.burden import TumorBurden
    >>> from survrad.lesions.statistics import FeatureStatistics
    >>> p = pd.DataFrame({"age": [60, 70]}, index=pd.Index(["P1", "P2"], name="patient_id"))
    >>> les = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "lesion_id": ["a", "b", "c"],
    ...                     "organ": ["liver", "lung", "liver"], "volume_ml": [1.0, 3.0, 2.0],
    ...                     "rad_x": [0.0, 4.0, 1.0]})
    >>> u = StrategyUnion([FeatureStatistics(), TumorBurden()])
    >>> u.fit_transform(Cohort(p, les, lesion_features=("rad_x",))).columns[:3].tolist()
    ['rad_x__mean', 'total_volume', 'log1p_total_volume']
    """

    def __init__(self, strategies: Sequence[LesionStrategy] = ()) -> None:
        self.strategies = strategies

    @property
    def requires_outcome(self) -> bool:  # type: ignore[override]
        """True when any member learns from the outcome."""
        return any(getattr(s, "requires_outcome", False) for s in self.strategies)

    def fit(self, cohort: Cohort, endpoint: str | None = None) -> StrategyUnion:
        """Fit a clone of every member on ``cohort``; resolve duplicate column names."""
        members = list(self.strategies)
        if not members:
            raise ConfigError("StrategyUnion needs at least one strategy.")
        bad = [repr(s) for s in members if not isinstance(s, LesionStrategy)]
        if bad:
            raise ConfigError(f"StrategyUnion members must be lesion strategies; got {bad}.")
        self.strategies_ = [clone(s).fit(cohort, endpoint) for s in members]
        owner: dict[str, int] = {}
        self.keep_columns_ = []
        self.dropped_duplicates_ = []
        for i, member in enumerate(self.strategies_):
            cols = []
            for c in member.get_feature_names_out():
                if c in owner:
                    self.dropped_duplicates_.append((i, c))
                else:
                    owner[c] = i
                    cols.append(c)
            self.keep_columns_.append(cols)
        self.feature_names_out_ = [c for cols in self.keep_columns_ for c in cols]
        return self

    def transform(self, cohort: Cohort) -> pd.DataFrame:
        """The members' columns side by side, one float row per patient.

        Raises
        ------
        SchemaError
            Two members produce a column of the same name with different values.
        """
        self._check_fitted()
        full = [s.transform(cohort) for s in self.strategies_]
        parts = [f[cols] for f, cols in zip(full, self.keep_columns_, strict=True)]
        out = pd.concat(parts, axis=1)
        for i, c in self.dropped_duplicates_:
            if not np.array_equal(full[i][c].to_numpy(), out[c].to_numpy()):
                first = next(j for j, cols in enumerate(self.keep_columns_) if c in cols)
                raise SchemaError(
                    f"column {c!r} is produced by {type(self.strategies_[first]).__name__} "
                    f"and {type(self.strategies_[i]).__name__} with different values; "
                    "change a parameter so the names differ (e.g. organ=, score=).")
        return out

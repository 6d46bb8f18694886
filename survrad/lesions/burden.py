"""Strategy B: tumour burden of every patient from its baseline lesions (layer 2)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError, DataWarning, SchemaError, format_values
from survrad.lesions.base import (
    AggregationStrategy,
    LesionFrame,
    column_slug,
    lesion_frame,
    lesion_values,
    organ_values,
)
from survrad.lesions.statistics import group_reduce

__all__ = ["TumorBurden"]

ORGAN_PREFIX = "organ_volume__"


class TumorBurden(AggregationStrategy):
    """Strategy B: volume, count and spread of the baseline lesions.

    Columns (volumes in the unit of the volume column, ml by default):

    - ``total_volume``: sum of lesion volumes;
    - ``log1p_total_volume``: ``log(1 + total_volume)`` (0 for a patient without lesions);
    - ``n_lesions``, ``n_organs``: numbers of lesions and of distinct organs;
    - ``largest_volume``: volume of the largest lesion;
    - ``sum_diameters``: sum of the longest diameters of ALL baseline lesions (not only
      RECIST targets); present when the training lesions have a diameter column;
    - ``organ_volume__<organ>``: total volume per organ (organ labels made column-safe,
      ``"Lymph node"`` -> ``organ_volume__lymph_node``).

    A patient without baseline lesions gets 0 in every column (a DataWarning lists them).
    Needs the volume (> 0) and organ columns of the lesion table.

    Parameters
    ----------
    organs : sequence of str, optional
        Organs given their own volume column. ``None`` (default): the organs seen in the
        TRAINING lesions, fixed at ``fit``; a lesion of an organ not seen in training is
        counted in ``total_volume`` and the other burden columns but in no organ column,
        with a DataWarning listing the organs and patients. With an explicit list, the
        volume of every other organ goes to a column ``organ_volume__other``.

    Attributes
    ----------
    organs_ : list of str
        Organs with a column, in column order.
    has_other_ : bool
        Whether the ``organ_volume__other`` column exists (``organs`` given).
    has_diameter_ : bool
        Whether ``sum_diameters`` is produced.

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.cohort import Cohort
    >>> p = pd.DataFrame({"age": [60, 70]}, index=pd.Index(["P1", "P2"], name="patient_id"))
    >>> les = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "lesion_id": ["a", "b", "c"],
    ...                     "organ": ["liver", "lung", "liver"], "volume_ml": [1.0, 3.0, 2.0]})
    >>> out = TumorBurden().fit_transform(Cohort(p, les))
    >>> out[["total_volume", "n_organs", "organ_volume__liver"]].to_numpy().tolist()
    [[4.0, 2.0, 1.0], [2.0, 1.0, 2.0]]
    """

    def __init__(self, organs: Sequence[str] | None = None) -> None:
        self.organs = organs

    def _check_params(self) -> list[str] | None:
        if self.organs is None:
            return None
        organs = [self.organs] if isinstance(self.organs, str) else list(self.organs)
        if not organs or not all(isinstance(o, str) for o in organs):
            raise ConfigError(f"organs must be a list of organ names, got {self.organs!r}.")
        if len(set(organs)) != len(organs):
            raise ConfigError(f"organs lists an organ twice: {organs}.")
        return organs

    def _learn(self, cohort: Cohort) -> None:
        frame = lesion_frame(cohort)
        organs = self._check_params()
        self.has_other_ = organs is not None
        if organs is None:
            organs = sorted(set(organ_values(frame.table, cohort)))
        slugs = [column_slug(o) for o in organs]
        clash = sorted({s for s in slugs if slugs.count(s) > 1} | (
            {"other"} & set(slugs) if self.has_other_ else set()))
        if clash:
            raise SchemaError(f"organ labels {organs} give the same column name(s) {clash} "
                              "once made column-safe; harmonise the organ labels.",
                              file="lesions", column=cohort.columns.organ)
        self.organs_ = organs
        self.has_diameter_ = cohort.columns.diameter in frame.table.columns

    def _compute(self, cohort: Cohort) -> pd.DataFrame:
        frame = lesion_frame(cohort)
        volume = lesion_values(frame.table, [cohort.columns.volume], cohort,
                               positive=True)[:, 0]
        organ = organ_values(frame.table, cohort)
        counts = frame.counts.astype(np.float64)
        total = np.bincount(frame.codes, volume, minlength=frame.n_patients)
        cols = {
            "total_volume": total,
            "log1p_total_volume": np.log1p(total),
            "n_lesions": counts,
            "n_organs": n_organs(frame, organ),
            "largest_volume": np.nan_to_num(group_reduce(np.maximum, volume, frame), nan=0.0),
        }
        if self.has_diameter_:
            diameter = lesion_values(frame.table, [cohort.columns.diameter], cohort)[:, 0]
            cols["sum_diameters"] = np.bincount(frame.codes, diameter,
                                                minlength=frame.n_patients)
        cols.update(self._organ_volumes(frame, organ, volume))
        empty = frame.counts == 0
        if empty.any():
            warnings.warn(f"TumorBurden: {format_values(list(frame.patient_ids[empty]))} "
                          "patients have no baseline lesion; their burden columns are 0.",
                          DataWarning, stacklevel=3)
        return pd.DataFrame(cols, index=cohort.patient_ids)

    def _organ_volumes(self, frame: LesionFrame, organ: np.ndarray,
                       volume: np.ndarray) -> dict[str, np.ndarray]:
        idx = pd.Index(self.organs_).get_indexer(organ)
        n_cols = len(self.organs_) + 1
        slot = np.where(idx >= 0, idx, len(self.organs_))
        table = np.bincount(frame.codes * n_cols + slot, volume,
                            minlength=frame.n_patients * n_cols).reshape(-1, n_cols)
        out = {f"{ORGAN_PREFIX}{column_slug(o)}": table[:, j]
               for j, o in enumerate(self.organs_)}
        unseen = idx < 0
        if self.has_other_:
            out[f"{ORGAN_PREFIX}other"] = table[:, -1]
        elif unseen.any():
            pats = list(pd.unique(frame.patient_ids[frame.codes[unseen]]))
            warnings.warn(f"TumorBurden: organs {sorted(set(organ[unseen]))} were not in the "
                          f"training lesions (patients {format_values(pats)}); their volume "
                          "counts in total_volume but in no organ_volume__ column.",
                          DataWarning, stacklevel=4)
        return out


def n_organs(frame: LesionFrame, organ: np.ndarray) -> np.ndarray:
    """Number of distinct organs of every patient (0 without lesions), as float."""
    codes, labels = pd.factorize(organ)
    n_lab = max(len(labels), 1)
    pairs = np.unique(frame.codes.astype(np.int64) * n_lab + codes)
    return np.bincount(pairs // n_lab, minlength=frame.n_patients).astype(np.float64)

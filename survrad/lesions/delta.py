"""Delta-radiomics: change of lesion features between two timepoints (layer 2).

Lesions are matched by ``lesion_id`` within a patient between timepoint ``t0`` and
``t1``. For every matched lesion and feature the change is computed as

- ``absolute``: ``x1 - x0``;
- ``relative``: ``(x1 - x0) / max(|x0|, eps)`` (the floor ``eps`` guards a baseline value
  near zero; it is in the feature's unit, default ``1e-6``);
- ``log_ratio``: ``log(x1 / x0)``, only for features positive at both timepoints on every
  TRAINING lesion; other features are skipped and listed in ``notes_``.

then aggregated per patient (mean by default). Lesions present only at ``t1`` are
counted as new (``n_new``), lesions present only at ``t0`` as vanished (``n_vanished``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import check_choice
from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError, SchemaError
from survrad.lesions.base import (
    AggregationStrategy,
    LesionFrame,
    lesion_frame,
    lesion_labels,
    lesion_values,
    resolve_features,
)
from survrad.lesions.statistics import STATISTICS, group_statistics

__all__ = ["DELTA_KINDS", "Delta"]

DELTA_KINDS = ("absolute", "relative", "log_ratio")
_TAGS = {"absolute": "delta", "relative": "rel_delta", "log_ratio": "log_ratio"}


class Delta(AggregationStrategy):
    """Change of lesion features between two timepoints, aggregated per patient.

    Parameters
    ----------
    features : str or sequence of str, optional
        Lesion columns (names or globs); default ``cohort.lesion_features``.
    timepoints : pair of values, optional
        ``(t0, t1)`` as found in the timepoint column; default the first two timepoints
        in sorted order (fixed at ``fit``).
    kinds : sequence of {"absolute", "relative", "log_ratio"}, default all three
    aggregate : str or sequence of str, default "mean"
        Statistic(s) of the per-lesion changes: ``mean``, ``vw_mean`` (weights = volume
        at ``t0``), ``vw_mean_top``, ``min``, ``max``, ``median``, ``std``, ``range``.
    eps : float, default 1e-6
        Floor of the denominator of the relative change, in the feature's unit.

    Attributes
    ----------
    features_ : list of str
    timepoints_ : tuple
        The two timepoints compared.
    log_ratio_features_ : list of str
        Features that get a log-ratio column.
    notes_ : list of str
        What was skipped and why.
    fill_values_ : pandas.Series
        Training means used for patients with no lesion at both timepoints.
    feature_names_out_ : list of str
        ``f"{feature}__{tag}_{aggregate}"`` with tag ``delta`` (absolute),
        ``rel_delta`` or ``log_ratio``; then ``n_matched``, ``n_new``, ``n_vanished``.

    Notes
    -----
    A patient with no lesion present at both timepoints (all vanished, all new, or none
    at all) gets the training-cohort mean of every change column, its true counts, and a
    DataWarning lists the ids. The same ``(patient_id, lesion_id)`` twice at one timepoint
    is ambiguous and raises a SchemaError listing the pairs; a lesion table with one
    timepoint raises a SchemaError.

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.cohort import Cohort
    >>> p = pd.DataFrame({"age": [60]}, index=pd.Index(["P1"], name="patient_id"))
    >>> les = pd.DataFrame({"patient_id": ["P1"] * 4, "lesion_id": ["a", "b", "a", "c"],
    ...                     "timepoint": [0, 0, 1, 1], "rad_x": [2.0, 1.0, 3.0, 5.0]})
    >>> out = Delta(features="rad_x", kinds=["absolute", "relative"]).fit_transform(Cohort(p, les))
    >>> out.iloc[0].tolist()
    [1.0, 0.5, 1.0, 1.0, 1.0]
    """

    _empty_reason = "no lesion present at both timepoints (all vanished or all new)"

    def __init__(self, features: str | Sequence[str] | None = None,
                 timepoints: Sequence[Any] | None = None,
                 kinds: Sequence[str] = DELTA_KINDS, aggregate: str | Sequence[str] = "mean",
                 eps: float = 1e-6) -> None:
        self.features = features
        self.timepoints = timepoints
        self.kinds = kinds
        self.aggregate = aggregate
        self.eps = eps

    # ------------------------------------------------------------------ parameters
    def _learn(self, cohort: Cohort) -> None:
        self.kinds_ = _check_list("kinds", self.kinds, DELTA_KINDS)
        self.aggregate_ = _check_list("aggregate", self.aggregate, STATISTICS)
        if (isinstance(self.eps, bool) or not isinstance(self.eps, numbers.Real)
                or not np.isfinite(self.eps) or self.eps <= 0):
            raise ConfigError(f"eps must be a positive number, got {self.eps!r}.")
        self.features_ = resolve_features(cohort, self.features)
        self.timepoints_ = self._pick_timepoints(cohort)
        self.log_ratio_features_ = []
        self.notes_ = []
        if "log_ratio" in self.kinds_:
            self._learn_log_ratio(cohort)

    def _pick_timepoints(self, cohort: Cohort) -> tuple[Any, Any]:
        levels = _timepoint_levels(cohort)
        if self.timepoints is None:
            return levels[0], levels[1]
        pair = list(self.timepoints)
        if len(pair) != 2 or pair[0] == pair[1]:
            raise ConfigError(f"timepoints must be two distinct timepoints (t0, t1), got "
                              f"{self.timepoints!r}.")
        absent = [t for t in pair if t not in levels]
        if absent:
            raise SchemaError(f"timepoints {absent} are not in the lesion table; available: "
                              f"{levels}.", file="lesions", column=cohort.columns.timepoint)
        return pair[0], pair[1]

    def _learn_log_ratio(self, cohort: Cohort) -> None:
        m = _match(cohort, self.timepoints_, self.features_)
        positive = ((m.x0 > 0) & (m.x1 > 0)).all(axis=0) & (m.x0.shape[0] > 0)
        self.log_ratio_features_ = [f for f, ok in zip(self.features_, positive, strict=True)
                                    if ok]
        skipped = [f for f in self.features_ if f not in self.log_ratio_features_]
        if skipped:
            self.notes_.append(f"log_ratio skipped for {skipped}: not > 0 on every matched "
                               "training lesion at both timepoints.")
        if self.kinds_ == ["log_ratio"] and not self.log_ratio_features_:
            raise ConfigError("kinds=['log_ratio'] but no feature is positive at both "
                              "timepoints on the training lesions; add 'absolute' or "
                              "'relative'.")

    # -------------------------------------------------------------------- compute
    def _compute(self, cohort: Cohort) -> pd.DataFrame:
        levels = _timepoint_levels(cohort)
        absent = [t for t in self.timepoints_ if t not in levels]
        if absent:
            raise SchemaError(f"Delta needs two timepoints: {absent} not in this cohort's "
                              f"lesion table (available: {levels}).", file="lesions",
                              column=cohort.columns.timepoint)
        m = _match(cohort, self.timepoints_, self.features_)
        need_w = {"vw_mean", "vw_mean_top"} & set(self.aggregate_)
        weights = m.volume0(cohort) if need_w else None
        blocks: dict[tuple[str, str], np.ndarray] = {}
        for kind in self.kinds_:
            change, feats = self._change(kind, m, cohort)
            stats = group_statistics(change, m.frame, self.aggregate_, weights)
            for j, f in enumerate(feats):
                for agg in self.aggregate_:
                    blocks[(f, f"{_TAGS[kind]}_{agg}")] = stats[agg][:, j]
        names = [(f, f"{_TAGS[k]}_{a}") for f in self.features_ for k in self.kinds_
                 for a in self.aggregate_]
        cols = {f"{f}__{s}": blocks[(f, s)] for f, s in names if (f, s) in blocks}
        cols["n_matched"] = m.frame.counts.astype(np.float64)
        cols["n_new"] = m.n_new
        cols["n_vanished"] = m.n_vanished
        return pd.DataFrame(cols, index=cohort.patient_ids)

    def _change(self, kind: str, m: _Matched, cohort: Cohort) -> tuple[np.ndarray, list[str]]:
        if kind == "absolute":
            return m.x1 - m.x0, self.features_
        if kind == "relative":
            return (m.x1 - m.x0) / np.maximum(np.abs(m.x0), self.eps), self.features_
        cols = [self.features_.index(f) for f in self.log_ratio_features_]
        x0, x1 = m.x0[:, cols], m.x1[:, cols]
        bad = (x0 <= 0) | (x1 <= 0)
        if bad.any():
            j = int(np.flatnonzero(bad.any(axis=0))[0])
            raise SchemaError("log_ratio needs positive values at both timepoints (as in the "
                              "training lesions); drop 'log_ratio' from kinds or fix the "
                              "values.", file="lesions", column=self.log_ratio_features_[j],
                              ids=lesion_labels(m.frame.table, bad[:, j], cohort))
        return np.log(x1 / x0), self.log_ratio_features_


# ------------------------------------------------------------------------- matching
class _Matched:
    """Lesions present at both timepoints (rows of ``frame``) and the counts."""

    def __init__(self, frame: LesionFrame, x0: np.ndarray, x1: np.ndarray,
                 rows0: pd.DataFrame, n_new: np.ndarray, n_vanished: np.ndarray) -> None:
        self.frame, self.x0, self.x1, self.rows0 = frame, x0, x1, rows0
        self.n_new, self.n_vanished = n_new, n_vanished

    def volume0(self, cohort: Cohort) -> np.ndarray:
        return lesion_values(self.rows0, [cohort.columns.volume], cohort, positive=True)[:, 0]


def _timepoint_levels(cohort: Cohort) -> list[Any]:
    les = cohort.lesions
    if les is None:
        raise SchemaError("this cohort has no lesion table; Delta needs lesions at two "
                          "timepoints.")
    tp = cohort.columns.timepoint
    if tp not in les.columns:
        raise SchemaError(f"Delta needs two timepoints but the lesion table has no {tp!r} "
                          "column (one timepoint only).", file="lesions", column=tp)
    missing = les[tp].isna().to_numpy()
    if missing.any():
        raise SchemaError("timepoint is missing for some lesion rows.", file="lesions",
                          column=tp, ids=lesion_labels(les, missing, cohort))
    levels = list(pd.Series(pd.unique(les[tp])).sort_values())
    if len(levels) < 2:
        raise SchemaError(f"Delta needs two timepoints; the lesion table has only {levels}.",
                          file="lesions", column=tp)
    return levels


def _check_unique(rows: pd.DataFrame, cohort: Cohort, t: Any) -> None:
    cols = cohort.columns
    dup = rows.duplicated([cols.patient_id, cols.lesion_id], keep=False).to_numpy()
    if dup.any():
        pairs = list(dict.fromkeys(lesion_labels(rows, dup, cohort)))
        raise SchemaError(f"ambiguous lesion_id: the same (patient_id, lesion_id) appears "
                          f"more than once at timepoint {t!r}, so lesions cannot be matched "
                          "across timepoints; make lesion_id unique per patient and "
                          "timepoint.", file="lesions", column=cols.lesion_id, ids=pairs)


def _keys(frame: LesionFrame, cohort: Cohort) -> pd.MultiIndex:
    cols = cohort.columns
    return pd.MultiIndex.from_arrays([frame.table[cols.patient_id].astype(str).to_numpy(),
                                      frame.table[cols.lesion_id].astype(str).to_numpy()])


def _match(cohort: Cohort, timepoints: tuple[Any, Any], features: list[str]) -> _Matched:
    les = cohort.lesions
    tp = cohort.columns.timepoint
    frames = []
    for t in timepoints:
        rows = les.loc[les[tp] == t]
        _check_unique(rows, cohort, t)
        frames.append(lesion_frame(cohort, rows=rows))
    f0, f1 = frames
    pos = _keys(f0, cohort).get_indexer(_keys(f1, cohort))
    hit = pos >= 0
    matched0 = np.zeros(f0.n_rows, dtype=bool)
    matched0[pos[hit]] = True
    frame = f1.select(hit)
    x1 = lesion_values(frame.table, features, cohort)
    rows0 = f0.table.iloc[pos[hit]].reset_index(drop=True)
    x0 = lesion_values(rows0, features, cohort)
    n = f0.n_patients
    n_new = np.bincount(f1.codes[~hit], minlength=n).astype(np.float64)
    n_vanished = np.bincount(f0.codes[~matched0], minlength=n).astype(np.float64)
    return _Matched(frame, x0, x1, rows0, n_new, n_vanished)


def _check_list(name: str, value: str | Sequence[str], options: Sequence[str]) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    if not items:
        raise ConfigError(f"{name} must name at least one of {list(options)}.")
    for item in items:
        check_choice(name, item, options)
    if len(set(items)) != len(items):
        raise ConfigError(f"{name} lists an entry twice: {items}.")
    return items

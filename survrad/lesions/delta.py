"""Delta-radiomics: change of lesion features between timepoints and over all scans
(layer 2).

Two timepoints. Lesions are matched by ``lesion_id`` within a patient between timepoint
``t0`` and ``t1``. For every matched lesion and feature the change is computed as

- ``absolute``: ``x1 - x0``;
- ``relative``: ``(x1 - x0) / max(|x0|, eps)`` (the floor ``eps`` guards a baseline value
  near zero; it is in the feature's unit, default ``1e-6``);
- ``log_ratio``: ``log(x1 / x0)``, only for features positive at both timepoints on every
  TRAINING lesion; other features are skipped and listed in ``notes_``.

then aggregated per patient (mean by default). Lesions present only at ``t1`` are
counted as new (``n_new``), lesions present only at ``t0`` as vanished (``n_vanished``).

All scans. ``slope`` is the ordinary least-squares slope of each feature of a lesion
against time over every scan where the lesion is present (``slope_timepoints``, all by
default): per unit of ``scan_time`` when the lesion table has scan times (days when
:func:`survrad.read_cohort` derived them from dates with its default unit), per unit of
the timepoint value otherwise (per step for timepoints numbered 0, 1, 2, ...). With
``per_scan_counts=True``, the lesions new at each follow-up scan (first seen there) and
vanished at it (present at the patient's previous scan, gone at this one) are counted.

Present, vanished, scanned (the contract of :mod:`survrad.data.scans`): a lesion is
present at a timepoint when it has a row there that is not a vanished row (longest
diameter 0 after baseline). A patient with no row at a timepoint is read according to
``missing_scan``: ``"vanished"`` (every lesion of the patient is gone there: a table that
records vanished lesions by leaving them out), ``"not_scanned"`` (the patient had no
scan there: its change columns and counts for that timepoint are undefined and get the
fill rule), or ``"auto"``: ``"not_scanned"`` when the training lesion table records
vanished lesions as 0 mm rows (then a missing patient really has no scan, e.g. after
death in ``simulate_cohort(timepoints >= 3)``), ``"vanished"`` otherwise.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import check_choice
from survrad.data.cohort import Cohort
from survrad.data.scans import vanished_rows
from survrad.exceptions import ConfigError, SchemaError
from survrad.lesions.base import (
    AggregationStrategy,
    LesionFrame,
    column_slug,
    lesion_frame,
    lesion_labels,
    lesion_values,
    resolve_features,
)
from survrad.lesions.statistics import STATISTICS, group_statistics

__all__ = ["ALL_KINDS", "DELTA_KINDS", "MISSING_SCAN", "Delta"]

#: The changes between two timepoints (the default ``kinds``).
DELTA_KINDS = ("absolute", "relative", "log_ratio")
#: Every kind: the two-timepoint changes and the per-lesion slope over all scans.
ALL_KINDS = (*DELTA_KINDS, "slope")
#: How a patient without any lesion row at a timepoint is read.
MISSING_SCAN = ("auto", "vanished", "not_scanned")
_TAGS = {"absolute": "delta", "relative": "rel_delta", "log_ratio": "log_ratio",
         "slope": "slope"}
_PAIR_COUNTS = ("n_matched", "n_new", "n_vanished")


class Delta(AggregationStrategy):
    """Change of lesion features between timepoints and over all scans, per patient.

    Parameters
    ----------
    features : str or sequence of str, optional
        Lesion columns (names or globs); default ``cohort.lesion_features``.
    timepoints : pair of values, optional
        ``(t0, t1)`` as found in the timepoint column; default the first two timepoints
        in sorted order (fixed at ``fit``).
    kinds : sequence of {"absolute", "relative", "log_ratio", "slope"}, default the first three
        ``slope`` adds the per-lesion OLS slope over the scans of ``slope_timepoints``.
    aggregate : str or sequence of str, default "mean"
        Statistic(s) of the per-lesion changes (and slopes): ``mean``, ``vw_mean``
        (weights = volume at ``t0``; for slopes, at the lesion's first scan in the
        window), ``vw_mean_top``, ``min``, ``max``, ``median``, ``std``, ``range``.
    eps : float, default 1e-6
        Floor of the denominator of the relative change, in the feature's unit.
    slope_timepoints : sequence of values, optional
        Timepoints whose scans enter the slopes (at least two); default every timepoint
        of the training cohort (fixed at ``fit``). Restrict it to the scans before a
        landmark when the slopes predict survival from that landmark.
    per_scan_counts : bool, default False
        Add ``n_new_at_<t>`` and ``n_vanished_at_<t>`` for every follow-up timepoint
        ``t`` of the training cohort.
    missing_scan : {"auto", "vanished", "not_scanned"}, default "auto"
        How a patient without any lesion row at a timepoint is read (module docstring).

    Attributes
    ----------
    features_ : list of str
    timepoints_ : tuple
        The two timepoints compared.
    log_ratio_features_ : list of str
        Features that get a log-ratio column.
    missing_scan_ : str
        ``"vanished"`` or ``"not_scanned"`` (``"auto"`` resolved on the training cohort).
    slope_timepoints_ : tuple
        Timepoints of the slope scans (empty without ``"slope"``).
    slope_axis_ : str or None
        The column time is read from for slopes: the scan time column, or the timepoint
        column when the lesion table has no scan times.
    scan_timepoints_ : tuple
        Follow-up timepoints of the per-scan counts (empty unless ``per_scan_counts``).
    notes_ : list of str
        What was skipped or decided, and why.
    fill_values_ : pandas.Series
        Training means used for patients a column cannot describe.
    feature_names_out_ : list of str
        ``f"{feature}__{tag}_{aggregate}"`` with tag ``delta`` (absolute),
        ``rel_delta``, ``log_ratio`` or ``slope``; then ``n_matched``, ``n_new``,
        ``n_vanished``; ``n_slope`` (lesions with a slope) with ``"slope"``; the per-scan
        counts last.

    Notes
    -----
    A patient with no lesion present at both timepoints (all vanished, all new, or none
    at all) gets the training-cohort mean of every change column, its true counts, and a
    DataWarning lists the ids. A lesion with fewer than two scans in the slope window
    (new at the last scan, vanished after one scan, a patient who died after baseline)
    has no slope: it is left out of the aggregates (never counted as 0), ``n_slope``
    counts the lesions that have one, ``notes_`` says how many training lesions have
    none, and a patient without any lesion slope gets the fill rule (with the
    DataWarning). The same ``(patient_id, lesion_id)`` twice at one timepoint is
    ambiguous and raises a SchemaError listing the pairs; a lesion table with one
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

    A slope over three scans (``rad_x`` 2, 3, 5 at timepoints 0, 1, 2: OLS slope 1.5):

    >>> les = pd.DataFrame({"patient_id": ["P1"] * 3, "lesion_id": ["a"] * 3,
    ...                     "timepoint": [0, 1, 2], "rad_x": [2.0, 3.0, 5.0]})
    >>> Delta(features="rad_x", kinds=["slope"]).fit_transform(Cohort(p, les)).iloc[0].tolist()
    [1.5, 1.0, 0.0, 0.0, 1.0]
    """

    def __init__(self, features: str | Sequence[str] | None = None,
                 timepoints: Sequence[Any] | None = None,
                 kinds: Sequence[str] = DELTA_KINDS, aggregate: str | Sequence[str] = "mean",
                 eps: float = 1e-6, slope_timepoints: Sequence[Any] | None = None,
                 per_scan_counts: bool = False, missing_scan: str = "auto") -> None:
        self.features = features
        self.timepoints = timepoints
        self.kinds = kinds
        self.aggregate = aggregate
        self.eps = eps
        self.slope_timepoints = slope_timepoints
        self.per_scan_counts = per_scan_counts
        self.missing_scan = missing_scan

    @property
    def _empty_reason(self) -> str:  # type: ignore[override]
        reasons = ["no lesion present at both timepoints (all vanished or all new)"]
        if "slope" in getattr(self, "kinds_", ()):
            reasons.append("no lesion with two scans for a slope")
        if getattr(self, "missing_scan_", None) == "not_scanned":
            reasons.append("no scan at a timepoint")
        return " or ".join(reasons)

    # ------------------------------------------------------------------ parameters
    def _learn(self, cohort: Cohort) -> None:
        self.kinds_ = _check_list("kinds", self.kinds, ALL_KINDS)
        self.aggregate_ = _check_list("aggregate", self.aggregate, STATISTICS)
        if (isinstance(self.eps, bool) or not isinstance(self.eps, numbers.Real)
                or not np.isfinite(self.eps) or self.eps <= 0):
            raise ConfigError(f"eps must be a positive number, got {self.eps!r}.")
        if not isinstance(self.per_scan_counts, bool | np.bool_):
            raise ConfigError(f"per_scan_counts must be True or False, got "
                              f"{self.per_scan_counts!r}.")
        self.features_ = resolve_features(cohort, self.features)
        self.timepoints_ = self._pick_timepoints(cohort)
        self.log_ratio_features_ = []
        self.notes_ = []
        if "log_ratio" in self.kinds_:
            self._learn_log_ratio(cohort)
        self.slope_timepoints_, self.slope_axis_ = (), None
        if "slope" in self.kinds_:
            self._learn_slope(cohort)
        self.missing_scan_ = self._pick_missing_scan(cohort)
        levels = _timepoint_levels(cohort)
        self.scan_timepoints_ = tuple(levels[1:]) if self.per_scan_counts else ()
        labels = [_label(t) for t in self.scan_timepoints_]
        if len(set(labels)) != len(labels):
            raise SchemaError(f"timepoints {list(self.scan_timepoints_)} give clashing "
                              f"column names {labels}; recode the timepoints.",
                              file="lesions", column=cohort.columns.timepoint)

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

    def _pick_missing_scan(self, cohort: Cohort) -> str:
        how = check_choice("missing_scan", self.missing_scan, MISSING_SCAN)
        if how != "auto":
            return how
        explicit = bool(vanished_rows(cohort.lesions, cohort.columns).any())
        how = "not_scanned" if explicit else "vanished"
        why = ("the lesion table records vanished lesions as 0 mm rows, so a patient "
               "without rows at a timepoint had no scan there" if explicit else
               "the lesion table has no 0 mm rows after baseline, so a vanished lesion "
               "is recorded by its absence")
        self.notes_.append(f"missing_scan='auto' read as {how!r}: {why}.")
        return how

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

    def _learn_slope(self, cohort: Cohort) -> None:
        levels = _timepoint_levels(cohort)
        if self.slope_timepoints is None:
            window = tuple(levels)
        else:
            window = tuple(dict.fromkeys(self.slope_timepoints))
            absent = [t for t in window if t not in levels]
            if absent:
                raise SchemaError(f"slope_timepoints {absent} are not in the lesion table; "
                                  f"available: {levels}.", file="lesions",
                                  column=cohort.columns.timepoint)
            if len(window) < 2:
                raise ConfigError(f"slope_timepoints must name at least two timepoints, got "
                                  f"{self.slope_timepoints!r}.")
            window = tuple(t for t in levels if t in window)
        self.slope_timepoints_ = window
        cols = cohort.columns
        self.slope_axis_ = (cols.scan_time if cols.scan_time in cohort.lesions.columns
                            else cols.timepoint)
        slopes = _slopes(cohort, self.features_[:1], window, self.slope_axis_)
        none = slopes.n_lesions - slopes.frame.n_rows
        if none:
            self.notes_.append(
                f"slope: {none} of {slopes.n_lesions} training lesions have fewer than two "
                f"scans in timepoints {list(window)} (new at the last scan, vanished after "
                "one scan, or their patient's last scan); they have no slope and are left "
                "out of the aggregates (n_slope counts the lesions with one).")

    # -------------------------------------------------------------------- compute
    def _compute(self, cohort: Cohort) -> pd.DataFrame:
        levels = _timepoint_levels(cohort)
        wanted = {*self.timepoints_, *self.slope_timepoints_, *self.scan_timepoints_}
        absent = [t for t in wanted if t not in levels]
        if absent:
            raise SchemaError(f"Delta needs two timepoints: {sorted(absent)} not in this "
                              f"cohort's lesion table (available: {levels}).",
                              file="lesions", column=cohort.columns.timepoint)
        m = _match(cohort, self.timepoints_, self.features_)
        if self.missing_scan_ == "not_scanned":  # no scan at t0 or t1: nothing to compare
            m.mask(~_scanned(cohort, self.timepoints_).all(axis=1))
        need_w = {"vw_mean", "vw_mean_top"} & set(self.aggregate_)
        blocks: dict[tuple[str, str], np.ndarray] = {}
        for kind in (k for k in self.kinds_ if k != "slope"):
            change, feats = self._change(kind, m, cohort)
            weights = m.volume0(cohort) if need_w else None
            self._aggregate(blocks, kind, feats, change, m.frame, weights)
        slopes = None
        if "slope" in self.kinds_:
            slopes = _slopes(cohort, self.features_, self.slope_timepoints_, self.slope_axis_,
                             volume=bool(need_w))
            self._aggregate(blocks, "slope", self.features_, slopes.values, slopes.frame,
                            slopes.volume)
        names = [(f, f"{_TAGS[k]}_{a}") for f in self.features_ for k in self.kinds_
                 for a in self.aggregate_]
        cols = {f"{f}__{s}": blocks[(f, s)] for f, s in names if (f, s) in blocks}
        cols["n_matched"] = m.n_matched
        cols["n_new"] = m.n_new
        cols["n_vanished"] = m.n_vanished
        if slopes is not None:
            cols["n_slope"] = slopes.frame.counts.astype(np.float64)
        if self.scan_timepoints_:
            cols.update(_per_scan_counts(cohort, self.scan_timepoints_,
                                         self.missing_scan_ == "not_scanned"))
        return pd.DataFrame(cols, index=cohort.patient_ids)

    def _aggregate(self, blocks: dict, kind: str, feats: list[str], values: np.ndarray,
                   frame: LesionFrame, weights: np.ndarray | None) -> None:
        stats = group_statistics(values, frame, self.aggregate_, weights)
        for j, f in enumerate(feats):
            for agg in self.aggregate_:
                blocks[(f, f"{_TAGS[kind]}_{agg}")] = stats[agg][:, j]

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
        self.n_matched = frame.counts.astype(np.float64)

    def mask(self, unscanned: np.ndarray) -> None:
        """Drop the lesions of patients without a scan at t0 or t1; their counts are NaN."""
        keep = ~unscanned[self.frame.codes]
        self.frame, self.x0, self.x1 = self.frame.select(keep), self.x0[keep], self.x1[keep]
        self.rows0 = self.rows0.loc[keep].reset_index(drop=True)
        for counts in (self.n_new, self.n_vanished, self.n_matched):
            counts[unscanned] = np.nan

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
    levels = list(cohort.timepoints)
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


def _check_unique_all(les: pd.DataFrame, cohort: Cohort) -> None:
    """:func:`_check_unique` at the first timepoint where a lesion repeats, if any."""
    cols = cohort.columns
    dup = les.duplicated([cols.patient_id, cols.lesion_id, cols.timepoint]).to_numpy()
    if dup.any():
        t = les[cols.timepoint].iloc[int(np.flatnonzero(dup)[0])]
        t = t.item() if isinstance(t, np.generic) else t
        _check_unique(les.loc[(les[cols.timepoint] == t).to_numpy()], cohort, t)


def _keys(frame: LesionFrame, cohort: Cohort) -> pd.MultiIndex:
    cols = cohort.columns
    return pd.MultiIndex.from_arrays([frame.table[cols.patient_id].astype(str).to_numpy(),
                                      frame.table[cols.lesion_id].astype(str).to_numpy()])


def _match(cohort: Cohort, timepoints: tuple[Any, Any], features: list[str]) -> _Matched:
    les = cohort.lesions
    tp = cohort.columns.timepoint
    present = ~vanished_rows(les, cohort.columns)
    frames = []
    for t in timepoints:
        at = (les[tp] == t).to_numpy()
        _check_unique(les.loc[at], cohort, t)
        frames.append(lesion_frame(cohort, rows=les.loc[at & present]))
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


def _scanned(cohort: Cohort, timepoints: Sequence[Any]) -> np.ndarray:
    """``(n_patients, len(timepoints))``: whether the patient has a row at each timepoint."""
    les, cols = cohort.lesions, cohort.columns
    pcode = cohort.patient_ids.get_indexer(les[cols.patient_id].astype(str))
    tcode = pd.Index(list(timepoints)).get_indexer(les[cols.timepoint])
    out = np.zeros((cohort.n_patients, len(timepoints)), dtype=bool)
    keep = (pcode >= 0) & (tcode >= 0)
    out[pcode[keep], tcode[keep]] = True
    return out


# --------------------------------------------------------------------------- slopes
class _Slopes:
    """Per-lesion OLS slopes (rows of ``frame``: lesions with two scans or more)."""

    def __init__(self, frame: LesionFrame, values: np.ndarray, volume: np.ndarray | None,
                 n_lesions: int) -> None:
        self.frame, self.values, self.volume, self.n_lesions = frame, values, volume, n_lesions


def _time_axis(rows: pd.DataFrame, axis: str, cohort: Cohort) -> np.ndarray:
    if axis not in rows.columns:
        raise SchemaError(f"the slopes were fitted on time column {axis!r}, which this "
                          "lesion table lacks; give it the same scan time column.",
                          file="lesions", column=axis)
    col = rows[axis]
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy(dtype=np.float64)
    return lesion_values(rows, [axis], cohort)[:, 0]


def _slopes(cohort: Cohort, features: list[str], window: Sequence[Any], axis: str, *,
            volume: bool = False) -> _Slopes:
    """OLS slope of every feature against time for every lesion with >= 2 present scans.

    ``slope = sum((t - mean t)(x - mean x)) / sum((t - mean t)^2)`` over the lesion's
    present rows at the ``window`` timepoints (centred sums, one pass per lesion group).
    """
    les, cols = cohort.lesions, cohort.columns
    _check_unique_all(les, cohort)
    keep = les[cols.timepoint].isin(list(window)).to_numpy() & ~vanished_rows(les, cols)
    frame = lesion_frame(cohort, rows=les.loc[keep])
    table = frame.table
    t = _time_axis(table, axis, cohort)
    x = lesion_values(table, features, cohort)
    group, _ = pd.factorize(pd.MultiIndex.from_arrays(
        [frame.codes, table[cols.lesion_id].astype(str).to_numpy()]))
    order = np.lexsort((t, group))
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if g.size else np.zeros(0, int)
    n = np.diff(np.append(starts, g.size))
    tc, xc = _centred(t[order], starts, n), _centred(x[order], starts, n)
    ok = n >= 2
    sxx = np.add.reduceat(tc * tc, starts) if g.size else np.zeros(0)
    sxy = np.add.reduceat(tc[:, None] * xc, starts, axis=0) if g.size else np.zeros((0, 1))
    ok &= sxx > 0
    first = order[starts[ok]]
    slope_rows = table.iloc[first].reset_index(drop=True)
    lesions = lesion_frame(cohort, rows=slope_rows)
    # lesion_frame keeps the order of rows of one patient; rows are already by patient
    values = sxy[ok] / sxx[ok, None]
    vol = (lesion_values(slope_rows, [cols.volume], cohort, positive=True)[:, 0]
           if volume else None)
    return _Slopes(lesions, values, vol, int(starts.size))


def _centred(values: np.ndarray, starts: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``values`` minus the mean of their group (groups are contiguous runs)."""
    if values.size == 0:
        return values
    total = np.add.reduceat(values, starts, axis=0)
    mean = total / (n if values.ndim == 1 else n[:, None])
    return values - np.repeat(mean, n, axis=0)


# ----------------------------------------------------------------- per-scan counts
def _label(t: Any) -> str:
    if isinstance(t, numbers.Real) and float(t).is_integer():
        return str(int(t))
    return column_slug(t)


def _per_scan_counts(cohort: Cohort, scan_timepoints: Sequence[Any],
                     not_scanned: bool) -> dict[str, np.ndarray]:
    """``n_new_at_<t>`` and ``n_vanished_at_<t>`` for every ``t`` of ``scan_timepoints``.

    New at ``t``: present at ``t`` and at no earlier timepoint. Vanished at ``t``: present
    at the patient's previous scan and not at ``t``. A patient without a row at ``t`` gets
    NaN (``not_scanned``) or was scanned with every lesion gone (otherwise).
    """
    les, cols = cohort.lesions, cohort.columns
    _check_unique_all(les, cohort)
    levels = list(cohort.timepoints)
    n = cohort.n_patients
    pcode = cohort.patient_ids.get_indexer(les[cols.patient_id].astype(str))
    tcode = pd.Index(levels).get_indexer(les[cols.timepoint])
    lesion, _ = pd.factorize(pd.MultiIndex.from_arrays(
        [pcode, les[cols.lesion_id].astype(str).to_numpy()]))
    n_les = int(lesion.max()) + 1 if lesion.size else 0
    owner = np.zeros(n_les, dtype=np.intp)
    owner[lesion] = pcode
    present = np.zeros((n_les, len(levels)), dtype=bool)
    here = ~vanished_rows(les, cols)
    present[lesion[here], tcode[here]] = True
    scanned = _scanned(cohort, levels) if not_scanned else np.ones((n, len(levels)), bool)
    first = np.where(present.any(axis=1), present.argmax(axis=1), -1)
    last = np.where(scanned[:, 0], 0, -1)
    out: dict[str, np.ndarray] = {}
    for k in range(1, len(levels)):
        prev = last[owner]
        was = (prev >= 0) & present[np.arange(n_les), np.maximum(prev, 0)]
        new = np.bincount(owner[first == k], minlength=n).astype(np.float64)
        gone = np.bincount(owner[was & ~present[:, k]], minlength=n).astype(np.float64)
        new[~scanned[:, k]] = np.nan
        gone[~scanned[:, k]] = np.nan
        last = np.where(scanned[:, k], k, last)
        if levels[k] in scan_timepoints:
            out[f"n_new_at_{_label(levels[k])}"] = new
            out[f"n_vanished_at_{_label(levels[k])}"] = gone
    return out


def _check_list(name: str, value: str | Sequence[str], options: Sequence[str]) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    if not items:
        raise ConfigError(f"{name} must name at least one of {list(options)}.")
    for item in items:
        check_choice(name, item, options)
    if len(set(items)) != len(items):
        raise ConfigError(f"{name} lists an entry twice: {items}.")
    return items

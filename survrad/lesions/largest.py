"""Strategy A: the features of the largest lesion(s) of every patient (layer 2).

Selection, in this order, on the BASELINE lesions:

1. ``organ=``: only lesions of that organ (or organs) are candidates;
2. ``recist=True``: only RECIST 1.1-like target lesions are candidates (see
   :func:`recist_targets`);
3. a patient with no candidate left FALLS BACK to all its baseline lesions (never NaN):
   the indicator column ``has_organ`` / ``has_measurable`` is 0 for that patient and a
   :class:`~survrad.exceptions.DataWarning` lists the ids;
4. the ``k`` largest candidates by volume (ties keep the lesion-table order) are selected
   and combined: ``combine="vw_mean"`` gives their volume-weighted mean (``k=1``: the
   values of the largest lesion itself), ``combine="rank"`` one column set per rank.

A patient with fewer than ``k`` candidates uses all of them (``vw_mean``) or repeats its
smallest selected lesion in the missing ranks (``rank``); the column ``n_selected`` says
how many were used, ``n_short_`` / ``report_`` count them and a DataWarning lists them.
A patient without any baseline lesion gets the training-cohort means (the package rule,
see :class:`~survrad.lesions.base.AggregationStrategy`) and ``n_selected = 0``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import check_choice, check_int
from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError, DataWarning, format_values
from survrad.lesions.base import (
    AggregationStrategy,
    LesionFrame,
    column_slug,
    lesion_frame,
    lesion_values,
    organ_values,
    resolve_features,
)
from survrad.lesions.statistics import group_vw_mean, match_patterns

__all__ = ["RECIST_MAX_PER_ORGAN", "RECIST_MAX_TOTAL", "LargestLesions", "recist_targets"]

RECIST_MAX_TOTAL = 5
RECIST_MAX_PER_ORGAN = 2
RECIST_MIN_DIAMETER_MM = 10.0
#: Lymph nodes: RECIST needs a SHORT axis >= 15 mm, which the lesion table does not have.
#: As the short axis never exceeds the longest diameter, a node is measurable here when its
#: LONGEST diameter is >= 15 mm: a necessary condition, so a few nodes RECIST would call
#: non-measurable (long >= 15 mm, short < 15 mm) can be selected.
RECIST_NODE_MIN_DIAMETER_MM = 15.0
#: Organ labels treated as lymph nodes (case-insensitive globs).
LYMPH_NODE_ORGANS = ("*lymph*", "*node*")


def recist_targets(codes: np.ndarray, organ: np.ndarray, diameter: np.ndarray,
                   volume: np.ndarray, eligible: np.ndarray | None = None) -> np.ndarray:
    """RECIST 1.1-like target lesions: a boolean mask over the rows.

    Per patient: measurable lesions (longest diameter >= 10 mm; lymph nodes >= 15 mm, see
    ``RECIST_NODE_MIN_DIAMETER_MM``) are taken largest diameter first (volume breaks ties,
    then table order), at most 2 per organ and 5 in total.

    Parameters
    ----------
    codes : ndarray of int
        Patient of every row.
    organ, diameter, volume : ndarray
        Organ label, longest diameter (mm) and volume of every row.
    eligible : ndarray of bool, optional
        Rows allowed at all (e.g. one organ); default all.

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> import numpy as np
    >>> recist_targets(np.zeros(4, int), np.array(["liver"] * 3 + ["lung"]),
    ...                np.array([30.0, 20.0, 25.0, 8.0]), np.ones(4)).tolist()
    [True, False, True, False]
    """
    organ = np.asarray(organ, dtype=object)
    nodal = np.isin(organ, match_patterns(list(pd.unique(organ)), LYMPH_NODE_ORGANS))
    threshold = np.where(nodal, RECIST_NODE_MIN_DIAMETER_MM, RECIST_MIN_DIAMETER_MM)
    ok = np.asarray(diameter, dtype=np.float64) >= threshold
    if eligible is not None:
        ok &= np.asarray(eligible, dtype=bool)
    rows = np.flatnonzero(ok)
    order = rows[np.lexsort((-volume[rows], -diameter[rows], codes[rows]))]
    ranked = pd.DataFrame({"p": codes[order], "o": organ[order]})
    per_organ = ranked.groupby(["p", "o"], sort=False).cumcount().to_numpy()
    keep = per_organ < RECIST_MAX_PER_ORGAN
    total = pd.Series(codes[order][keep]).groupby(codes[order][keep]).cumcount().to_numpy()
    mask = np.zeros(codes.size, dtype=bool)
    mask[order[keep][total < RECIST_MAX_TOTAL]] = True
    return mask


class LargestLesions(AggregationStrategy):
    """Strategy A: features of the ``k`` largest lesions (by baseline volume).

    Parameters
    ----------
    k : int or None, default 1
        How many lesions to select; ``None`` selects every candidate (e.g. all RECIST
        targets; only with ``combine="vw_mean"``).
    organ : str or sequence of str, optional
        Restrict candidates to lesions of this organ (or organs). Patients without such a
        lesion fall back to all their lesions (``has_organ = 0``, DataWarning).
    recist : bool, default False
        Restrict candidates to RECIST 1.1-like targets (:func:`recist_targets`; needs the
        longest-diameter column). Patients without a measurable lesion fall back to all
        their lesions (``has_measurable = 0``, DataWarning).
    combine : {"vw_mean", "rank"}, default "vw_mean"
        ``"vw_mean"``: volume-weighted mean of the selected lesions; ``"rank"``: one
        column per feature and rank (``rad_x__rank1``, ``rad_x__rank2``, ...).
    features : str or sequence of str, optional
        Lesion columns (names or globs); default ``cohort.lesion_features``.

    Attributes
    ----------
    features_ : list of str
    feature_names_out_ : list of str
        ``f"{feature}__{suffix}"`` with suffix ``largest`` (k=1), ``largest{k}_vw_mean``,
        ``selected_vw_mean`` (k=None) or ``rank{r}``, followed by ``_{organ}`` when
        ``organ`` is set and ``_recist`` when ``recist``; then the indicator columns
        ``n_selected`` (unless k=1), ``has_organ``, ``has_measurable`` (when relevant).
    fill_values_ : pandas.Series
        Training means used for patients without any baseline lesion.
    n_short_ : int
        After the last ``fit``/``transform``: patients with fewer than ``k`` candidates.
    report_ : dict
        After the last ``fit``/``transform``: ``n_short``, ``short_ids``, ``n_fallback``,
        ``fallback_ids``, ``n_empty``, ``empty_ids``.

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.cohort import Cohort
    >>> p = pd.DataFrame({"age": [60, 70]}, index=pd.Index(["P1", "P2"], name="patient_id"))
    >>> les = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "lesion_id": ["a", "b", "c"],
    ...                     "volume_ml": [1.0, 3.0, 2.0], "rad_x": [0.0, 4.0, 1.0]})
    >>> c = Cohort(p, les, lesion_features=("rad_x",))
    >>> LargestLesions().fit_transform(c)["rad_x__largest"].tolist()
    [4.0, 1.0]
    """

    def __init__(self, k: int | None = 1, organ: str | Sequence[str] | None = None,
                 recist: bool = False, combine: str = "vw_mean",
                 features: str | Sequence[str] | None = None) -> None:
        self.k = k
        self.organ = organ
        self.recist = recist
        self.combine = combine
        self.features = features

    # ------------------------------------------------------------------ parameters
    def _learn(self, cohort: Cohort) -> None:
        self._check_params()
        self.features_ = resolve_features(cohort, self.features)

    def _check_params(self) -> None:
        check_choice("combine", self.combine, ("vw_mean", "rank"))
        if self.k is None:
            if self.combine == "rank":
                raise ConfigError("combine='rank' needs an integer k (one column set per "
                                  "rank); use k=None only with combine='vw_mean'.")
        else:
            check_int("k", self.k, min_value=1)
        if not isinstance(self.recist, bool | np.bool_):
            raise TypeError(f"recist must be True or False, got {self.recist!r}.")
        if self.organ is not None:
            organs = self._organs()
            if not organs or not all(isinstance(o, str) for o in organs):
                raise ConfigError(f"organ must be an organ name or a list of names, got "
                                  f"{self.organ!r}.")

    def _organs(self) -> list[str]:
        return [self.organ] if isinstance(self.organ, str) else list(self.organ or [])

    def _suffixes(self) -> list[str]:
        tag = ""
        if self.organ is not None:
            tag += "_" + "_".join(column_slug(o) for o in self._organs())
        if self.recist:
            tag += "_recist"
        if self.combine == "rank":
            return [f"rank{r}{tag}" for r in range(1, self.k + 1)]
        if self.k is None:
            return [f"selected_vw_mean{tag}"]
        return [f"largest{tag}" if self.k == 1 else f"largest{self.k}_vw_mean{tag}"]

    # ------------------------------------------------------------------- selection
    def _candidates(self, frame: LesionFrame, cohort: Cohort, volume: np.ndarray
                    ) -> tuple[np.ndarray, dict[str, np.ndarray], list[str]]:
        """Candidate mask (after fallback), indicator columns, ids that fell back."""
        cand = np.ones(frame.n_rows, dtype=bool)
        flags: dict[str, np.ndarray] = {}
        organ = None
        if self.organ is not None or self.recist:
            organ = organ_values(frame.table, cohort)
        if self.organ is not None:
            cand &= np.isin(organ, self._organs())
            flags["has_organ"] = _any_per_patient(cand, frame)
        if self.recist:
            diameter = lesion_values(frame.table, [cohort.columns.diameter], cohort)[:, 0]
            cand = recist_targets(frame.codes, organ, diameter, volume, eligible=cand)
            flags["has_measurable"] = _any_per_patient(cand, frame)
        fallback = (frame.counts > 0) & ~_any_per_patient(cand, frame).astype(bool)
        if fallback.any():
            ids = list(frame.patient_ids[fallback])
            what = ("RECIST-measurable lesion" if self.recist else "lesion") + (
                f" in organ {self._organs()}" if self.organ is not None else "")
            warnings.warn(f"LargestLesions: {format_values(ids)} patients have no {what}; "
                          "they fall back to their largest lesion(s) overall (indicator "
                          f"column {list(flags)} = 0).", DataWarning, stacklevel=4)
            cand |= fallback[frame.codes]
        return cand, flags, list(frame.patient_ids[fallback])

    def _compute(self, cohort: Cohort) -> pd.DataFrame:
        frame = lesion_frame(cohort)
        X = lesion_values(frame.table, self.features_, cohort)
        volume = lesion_values(frame.table, [cohort.columns.volume], cohort,
                               positive=True)[:, 0]
        cand, flags, fallback_ids = self._candidates(frame, cohort, volume)
        sub = frame.select(cand)
        Xs, vs = X[cand], volume[cand]
        order, rank = sub.rank_within(vs)
        k = int(sub.counts.max(initial=1)) if self.k is None else self.k
        n_sel = np.minimum(sub.counts, k)
        if self.combine == "rank":
            blocks = [_value_at_rank(Xs, order, sub, np.minimum(r, n_sel - 1))
                      for r in range(k)]
        elif k == 1:
            blocks = [_value_at_rank(Xs, order, sub, np.zeros_like(n_sel))]
        else:
            keep = np.zeros(sub.n_rows, dtype=bool)
            keep[order[rank < k]] = True
            blocks = [group_vw_mean(Xs[keep], vs[keep], sub.select(keep))]
        self._record(sub, fallback_ids)
        names = [f"{f}__{s}" for s, _ in zip(self._suffixes(), blocks, strict=True)
                 for f in self.features_]
        data = np.hstack(blocks)
        out = pd.DataFrame(data, index=cohort.patient_ids, columns=names)
        out = out[[f"{f}__{s}" for f in self.features_ for s in self._suffixes()]]
        if self.k != 1:
            out["n_selected"] = n_sel.astype(np.float64)
        for name, flag in flags.items():
            out[name] = flag
        return out

    def _record(self, sub: LesionFrame, fallback_ids: list[str]) -> None:
        """Count patients with fewer than k candidates (and warn) into ``report_``."""
        short = (sub.counts > 0) & (sub.counts < (self.k or 0))
        empty = sub.counts == 0
        short_ids = list(sub.patient_ids[short])
        if short_ids:
            rule = ("their missing ranks repeat their smallest selected lesion"
                    if self.combine == "rank" else "all their lesions are used")
            warnings.warn(f"LargestLesions(k={self.k}): {format_values(short_ids)} patients "
                          f"have fewer than {self.k} candidate lesions; {rule} (column "
                          "n_selected).", DataWarning, stacklevel=4)
        self.n_short_ = len(short_ids)
        self.report_: dict[str, Any] = {
            "n_short": len(short_ids), "short_ids": short_ids,
            "n_fallback": len(fallback_ids), "fallback_ids": fallback_ids,
            "n_empty": int(empty.sum()), "empty_ids": list(sub.patient_ids[empty])}


def _any_per_patient(mask: np.ndarray, frame: LesionFrame) -> np.ndarray:
    """1.0 where a patient has at least one row in ``mask``, else 0.0."""
    hits = np.bincount(frame.codes[mask], minlength=frame.n_patients)
    return (hits > 0).astype(np.float64)


def _value_at_rank(X: np.ndarray, order: np.ndarray, frame: LesionFrame,
                   rank: np.ndarray) -> np.ndarray:
    """Row of rank ``rank[i]`` (0 = largest) of every patient; NaN for empty patients."""
    out = np.full((frame.n_patients, X.shape[1]), np.nan)
    has = frame.counts > 0
    out[has] = X[order[frame.starts[has] + rank[has]]]
    return out

"""The contract every multi-lesion strategy follows (layer 2).

A strategy turns a :class:`~survrad.data.cohort.Cohort` into one row per patient:

- ``fit(cohort, endpoint=None)`` learns what it needs from the TRAINING cohort only
  (scalers, lesion-level models for D/E/F); returns ``self``. Strategies that learn from
  outcomes set ``requires_outcome = True`` and need ``endpoint``.
- ``transform(cohort)`` returns a float DataFrame indexed by ``cohort.patient_ids`` (same
  order, one row per patient, no NaN: a rule that cannot produce a value applies a
  documented fill and warns with the patient ids, docs/reliability.md #7).
- ``get_feature_names_out()`` gives the output columns after ``fit``.
- Strategies with lesion-level scores (D, E, F) also implement
  ``lesion_scores(cohort) -> pandas.DataFrame`` with columns ``patient_id``,
  ``lesion_id`` and ``score`` (higher = riskier), one row per baseline lesion.

Estimators follow scikit-learn's contract: ``__init__`` only stores its arguments,
learned attributes end in ``_``, ``clone()`` works.

Shared machinery of the non-learned strategies (also usable by D/E/F):

- :func:`lesion_frame` / :class:`LesionFrame`: lesion rows grouped by patient (rows of
  a patient contiguous, patients in ``cohort.patient_ids`` order), the layout every
  vectorised per-patient kernel works on;
- :func:`lesion_values` / :func:`resolve_features`: validated float columns;
- :class:`AggregationStrategy`: ``fit`` / ``transform`` with THE fill rule for patients
  a strategy cannot describe (e.g. no baseline lesion): each such cell gets the mean of
  its column over the TRAINING patients (``fill_values_``) and a
  :class:`~survrad.exceptions.DataWarning` lists the patients (docs/reliability.md #7).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
import warnings
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from survrad._validation import CachedParamNames
from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError, DataWarning, NotFittedError, SchemaError, format_values

__all__ = [
    "AggregationStrategy",
    "LesionFrame",
    "LesionStrategy",
    "column_slug",
    "lesion_frame",
    "lesion_labels",
    "lesion_values",
    "organ_values",
    "resolve_features",
]


class LesionStrategy(CachedParamNames, BaseEstimator):
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


# --------------------------------------------------------------------------- lesion frame
@dataclasses.dataclass(frozen=True)
class LesionFrame:
    """Lesion rows grouped by patient, for vectorised per-patient kernels.

    Attributes
    ----------
    table : pandas.DataFrame
        The lesion rows (RangeIndex), sorted by patient position (stable: a patient's
        lesions keep their order in the lesion table).
    codes : numpy.ndarray
        Position in ``patient_ids`` of every row (non-decreasing).
    patient_ids : pandas.Index
        ``cohort.patient_ids``.
    counts : numpy.ndarray
        Number of rows of every patient (zeros included).
    starts : numpy.ndarray
        First row of every patient in ``table`` (meaningless when its count is 0).
    """

    table: pd.DataFrame
    codes: np.ndarray
    patient_ids: pd.Index
    counts: np.ndarray
    starts: np.ndarray

    @property
    def n_patients(self) -> int:
        """Number of patients (with or without rows)."""
        return int(self.patient_ids.size)

    @property
    def n_rows(self) -> int:
        """Number of lesion rows."""
        return int(self.codes.size)

    def select(self, mask: np.ndarray) -> LesionFrame:
        """The frame restricted to the rows where ``mask`` is true (order kept)."""
        return _make_frame(self.table.loc[mask].reset_index(drop=True), self.codes[mask],
                           self.patient_ids)

    def rank_within(self, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows sorted by patient then ``key`` descending; rank 0 = largest key.

        Ties keep the lesion-table order. Returns ``(order, rank)``: ``order`` indexes
        the rows in that sorted order, ``rank[i]`` is the rank of row ``order[i]``.
        """
        order = np.lexsort((-np.asarray(key, dtype=np.float64), self.codes))
        rank = np.arange(self.n_rows) - self.starts[self.codes[order]]
        return order, rank


def _make_frame(table: pd.DataFrame, codes: np.ndarray, patient_ids: pd.Index) -> LesionFrame:
    counts = np.bincount(codes, minlength=patient_ids.size).astype(np.intp)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.intp)
    return LesionFrame(table=table, codes=codes.astype(np.intp), patient_ids=patient_ids,
                       counts=counts, starts=starts)


def lesion_frame(cohort: Cohort, rows: pd.DataFrame | None = None) -> LesionFrame:
    """Lesion rows of ``cohort`` (baseline by default) grouped by patient.

    Parameters
    ----------
    cohort : Cohort
        Must have a lesion table.
    rows : pandas.DataFrame, optional
        Lesion rows to use instead of ``cohort.baseline_lesions()`` (e.g. one timepoint).

    Returns
    -------
    LesionFrame

    Raises
    ------
    SchemaError
        No lesion table, or lesions of patients that are not in the cohort.

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.cohort import Cohort
    >>> p = pd.DataFrame({"age": [60, 70]}, index=pd.Index(["P1", "P2"], name="patient_id"))
    >>> les = pd.DataFrame({"patient_id": ["P2", "P1", "P2"], "lesion_id": ["a", "b", "c"]})
    >>> lesion_frame(Cohort(p, les)).counts.tolist()
    [1, 2]
    """
    table = cohort.baseline_lesions() if rows is None else rows
    pid = cohort.columns.patient_id
    codes = cohort.patient_ids.get_indexer(table[pid].astype(str))
    if (codes < 0).any():
        raise SchemaError("lesions belong to patients that are not in the cohort.",
                          file="lesions", column=pid,
                          ids=list(pd.unique(table[pid].to_numpy()[codes < 0])))
    order = np.argsort(codes, kind="stable")
    return _make_frame(table.iloc[order].reset_index(drop=True), codes[order],
                       cohort.patient_ids)


def lesion_labels(table: pd.DataFrame, mask: np.ndarray, cohort: Cohort) -> list[str]:
    """``"patient/lesion"`` labels of the rows of ``table`` where ``mask`` is true."""
    cols = cohort.columns
    sub = table.loc[np.asarray(mask, dtype=bool)]
    return [f"{p}/{q}" for p, q in zip(sub[cols.patient_id], sub[cols.lesion_id], strict=True)]


def lesion_values(table: pd.DataFrame, names: Sequence[str], cohort: Cohort, *,
                  positive: bool = False) -> np.ndarray:
    """Validated ``(n_rows, len(names))`` float64 block of lesion columns.

    Raises
    ------
    SchemaError
        A column is missing, non-numeric, NaN, infinite (or <= 0 when ``positive``),
        naming the column and the lesions (``patient/lesion``).
    """
    names = list(names)
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise SchemaError(f"lesion columns not found: {missing}; available: "
                          f"{[str(c) for c in table.columns]}.", file="lesions",
                          column=missing[0])
    out = np.empty((table.shape[0], len(names)), dtype=np.float64)
    block = _plain_numeric(table, names)
    if block is not None:     # one block read: no column can fail the loop's check
        out[:] = block.to_numpy(dtype=np.float64)
    else:
        _read_columns(table, names, cohort, out)
    bad = ~np.isfinite(out)
    if positive:
        bad |= np.isfinite(out) & (out <= 0)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        what = "values <= 0" if positive and not (~np.isfinite(out[:, j])).any() else (
            "NaN" if np.isnan(out[:, j]).any() else "infinite values")
        hint = (" (read_cohort(..., missing='complete_case') excludes them; with "
                "missing='impute', wrap the strategy in ImputeLesions)" if what == "NaN"
                else "")
        raise SchemaError(f"lesion column contains {what}; fix or exclude these lesions "
                          f"explicitly{hint}.", file="lesions", column=names[j],
                          ids=lesion_labels(table, bad[:, j], cohort))
    return out


def _plain_numeric(table: pd.DataFrame, names: list) -> pd.DataFrame | None:
    """``table[names]`` when each name is one numpy integer or float column; else None."""
    if not table.columns.is_unique:
        return None
    block = table[names]
    ok = all(isinstance(d, np.dtype) and d.kind in "iuf" for d in block.dtypes)
    return block if ok else None


def _read_columns(table: pd.DataFrame, names: list, cohort: Cohort, out: np.ndarray) -> None:
    """Fill ``out`` column by column; SchemaError at the first non-numeric column."""
    for j, name in enumerate(names):
        col = table[name]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            bad = col.notna() & pd.to_numeric(col, errors="coerce").isna()
            raise SchemaError("lesion column is not numeric; encode it or drop it.",
                              file="lesions", column=name,
                              values=list(pd.unique(col[bad].to_numpy()))[:10],
                              ids=lesion_labels(table, bad.to_numpy(), cohort))
        out[:, j] = col.to_numpy(dtype=np.float64)


def column_slug(value: object) -> str:
    """A column-name-safe lower-case form of a label (``"Lymph node"`` -> ``"lymph_node"``).

    Examples
    --------
    >>> column_slug(" Lymph node ")
    'lymph_node'
    """
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", str(value).strip()).strip("_").lower()
    return slug or "blank"


def organ_values(table: pd.DataFrame, cohort: Cohort) -> np.ndarray:
    """The organ of every row as strings; SchemaError if the column is absent or has NaN."""
    col = cohort.columns.organ
    if col not in table.columns:
        raise SchemaError(f"the lesion table has no organ column {col!r}; this strategy "
                          "needs it (rename the column or set ColumnNames(organ=...)).",
                          file="lesions", column=col)
    raw = table[col]
    missing = raw.isna().to_numpy()
    if missing.any():
        raise SchemaError("organ is missing for some lesions; fill it in (e.g. 'unknown').",
                          file="lesions", column=col, ids=lesion_labels(table, missing, cohort))
    return raw.astype(str).to_numpy(dtype=object)


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def resolve_features(cohort: Cohort, features: Sequence[str] | str | None) -> list[str]:
    """Lesion feature columns: ``cohort.lesion_features`` by default, else names or globs.

    Globs (``rad_*``) match lesion-table columns case-sensitively, in table order.

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.cohort import Cohort
    >>> p = pd.DataFrame({"age": [60]}, index=pd.Index(["P1"], name="patient_id"))
    >>> les = pd.DataFrame({"patient_id": ["P1"], "lesion_id": ["a"], "rad_b": [1.0],
    ...                     "rad_a": [2.0]})
    >>> resolve_features(Cohort(p, les), "rad_*")
    ['rad_b', 'rad_a']
    """
    if cohort.lesions is None:
        raise SchemaError("this cohort has no lesion table; a lesion strategy needs one "
                          "(read_cohort(..., lesions=...)).")
    if features is None:
        names = list(cohort.lesion_features)
        if not names:
            raise ConfigError("the cohort declares no lesion features: pass features=[...] "
                              "or read_cohort(..., lesion_features=[...]).")
        return names
    wanted = [features] if isinstance(features, str) else list(features)
    if not wanted:
        raise ConfigError("features is empty: name at least one lesion column (or None for "
                          "the cohort's lesion features).")
    cols = [str(c) for c in cohort.lesions.columns]
    out: list[str] = []
    for w in wanted:
        hits = [c for c in cols if fnmatch.fnmatchcase(c, w)] if _is_glob(w) else (
            [w] if w in cols else [])
        if not hits:
            raise SchemaError(f"lesion feature {w!r} matches no column; available: {cols}.",
                              file="lesions", column=w)
        out.extend(h for h in hits if h not in out)
    return out


# --------------------------------------------------------------------- fill rule base
class AggregationStrategy(LesionStrategy):
    """A strategy whose ``_compute`` leaves NaN where it cannot describe a patient.

    Subclasses implement ``_learn(cohort)`` (set learned attributes; default: nothing)
    and ``_compute(cohort)``; NaN cells are allowed only for patients the strategy cannot
    describe (``_empty_reason`` says who they are). ``transform`` fills each such cell
    with the mean of its column over the TRAINING patients (``fill_values_``, learned in
    ``fit``) and warns with the patient ids; the output is always finite float.
    """

    _empty_reason: ClassVar[str] = "no baseline lesion"

    def fit(self, cohort: Cohort, endpoint: str | None = None) -> AggregationStrategy:
        """Learn the strategy's parameters, output names and fill values on ``cohort``."""
        self._learn(cohort)
        out = self._compute(cohort)
        means = out.mean(axis=0, skipna=True)
        undefined = list(means.index[means.isna()])
        if undefined:
            raise SchemaError(f"{type(self).__name__}: no training patient has a value for "
                              f"{undefined} (every patient has {self._empty_reason}).")
        self.feature_names_out_ = [str(c) for c in out.columns]
        self.fill_values_ = means.astype(np.float64)
        return self

    def transform(self, cohort: Cohort) -> pd.DataFrame:
        """One finite float row per patient of ``cohort``, indexed by ``patient_id``."""
        self._check_fitted()
        out = self._compute(cohort)
        missing = [c for c in self.feature_names_out_ if c not in out.columns]
        if missing:  # pragma: no cover - a strategy must always produce its fitted columns
            raise RuntimeError(f"{type(self).__name__} did not produce {missing}.")
        if list(out.columns) != self.feature_names_out_ or not (out.dtypes == np.float64).all():
            out = out[self.feature_names_out_].astype(np.float64)
        holes = out.isna().to_numpy()
        rows = holes.any(axis=1)
        if rows.any():
            ids = list(out.index[rows])
            cols = [c for c, h in zip(out.columns, holes.any(axis=0), strict=True) if h]
            warnings.warn(
                f"{type(self).__name__}: {format_values(ids)} patients have "
                f"{self._empty_reason}; their {format_values(cols, 5)} columns are set to "
                "the training-cohort means (fill_values_).", DataWarning, stacklevel=2)
            fill = self.fill_values_.reindex(out.columns).to_numpy(dtype=np.float64)
            out = pd.DataFrame(np.where(holes, fill[None, :], out.to_numpy()),
                               index=out.index, columns=out.columns)
        return out

    def _learn(self, cohort: Cohort) -> None:
        """Learn parameters from the training cohort (none by default)."""

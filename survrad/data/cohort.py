"""The :class:`Cohort`: validated patient and lesion tables (layer 1).

A Cohort is built by :func:`survrad.read_cohort` (files or DataFrames) or
:func:`survrad.simulate_cohort`; it is treated as immutable: every operation returns a new
Cohort and never modifies the tables in place. The dataclass is frozen, but pandas tables
cannot be: treat ``patients``, ``lesions``, ``truth`` and ``excluded`` as read-only, and
copy a table before changing it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from survrad._validation import close_matches
from survrad.data.missing import MissingData
from survrad.data.outcome import SURV_DTYPE
from survrad.data.scans import scan_table
from survrad.exceptions import SchemaError, format_values

__all__ = ["Cohort", "ColumnNames", "Endpoint"]

RESAMPLE_SEP = "#"


@dataclasses.dataclass(frozen=True)
class ColumnNames:
    """Names of the special columns (docs/data.md); override any of them."""

    patient_id: str = "patient_id"
    lesion_id: str = "lesion_id"
    timepoint: str = "timepoint"
    organ: str = "organ"
    volume: str = "volume_ml"
    diameter: str = "longest_diameter_mm"
    diameter_followup: str = "diameter_followup_mm"
    lesion_response: str = "lesion_response"
    is_target: str = "is_target"
    irradiated: str = "irradiated"
    rt_dose: str = "rt_dose_gy"
    center: str = "center"
    split: str = "split"
    scan_date: str = "scan_date"
    scan_time: str = "scan_time"
    short_axis: str = "short_axis_mm"


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """An endpoint: ``kind="survival"`` with ``time``/``event`` columns, or ``"binary"``
    with a ``target`` column."""

    name: str
    kind: Literal["survival", "binary"]
    time: str | None = None
    event: str | None = None
    target: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "survival" and (self.time is None or self.event is None):
            raise ValueError(f"survival endpoint {self.name!r} needs time and event columns.")
        if self.kind == "binary" and self.target is None:
            raise ValueError(f"binary endpoint {self.name!r} needs a target column.")
        if self.kind not in ("survival", "binary"):
            raise ValueError(f"endpoint kind must be 'survival' or 'binary', got {self.kind!r}.")

    @property
    def columns(self) -> tuple[str, ...]:
        """The outcome columns of this endpoint."""
        if self.kind == "survival":
            return (self.time, self.event)  # type: ignore[return-value]
        return (self.target,)  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True, eq=False)
class Cohort:
    """Validated patient (and optional lesion) tables.

    The tables are to be treated as read-only: a Cohort is frozen, but a DataFrame
    attribute is still a mutable object, and editing it in place (``cohort.patients.loc[...]
    = ...``) would change every Cohort and fitted pipeline that shares it. Copy a table
    first (``cohort.lesions.copy()``) and build a new Cohort, or use :meth:`take` /
    :meth:`subset`. Methods that hand out tables (:meth:`baseline_lesions`, :meth:`take`)
    return copies that do not share data with the source.

    Raises
    ------
    SchemaError
        ``patients`` not indexed by ``patient_id`` or with duplicate ids; a lesion table
        without the id columns, or with lesions of patients absent from ``patients``
        (docs/reliability.md #6; :func:`survrad.read_cohort` can exclude them on request).

    Attributes
    ----------
    patients : pandas.DataFrame
        One row per patient, indexed by ``patient_id`` (strings, unique). Event columns
        are stored as 0/1 integers after validation.
    lesions : pandas.DataFrame or None
        One row per lesion (and timepoint), with ``patient_id`` and ``lesion_id`` columns
        (strings) and a RangeIndex; every ``patient_id`` is a patient of ``patients``.
        ``None`` for a patient-only study. A longitudinal table (several timepoints,
        optional ``scan_date`` / ``scan_time``) follows the contract of
        :mod:`survrad.data.scans`; its vanished rows (0 mm after baseline) may have
        missing feature cells.
    patient_features : tuple of str
        Patient columns used as predictors.
    lesion_features : tuple of str
        Lesion radiomic feature columns.
    endpoints : mapping of str to Endpoint
        The outcomes available on this cohort.
    columns : ColumnNames
        Names of the special columns.
    truth : mapping of str to DataFrame
        Known truth of a simulated cohort (``"patients"`` indexed by patient_id,
        ``"lesions"`` aligned with ``lesions`` rows); empty for real data.
    source : mapping of str to str
        Where each table came from (file path or ``"<DataFrame>"``), for messages.
    original_ids : tuple of str or None
        After :meth:`take`, the original id of every patient row (``None`` = the index).
    excluded : pandas.DataFrame
        Rows excluded on request while reading (table, id, reason).
    missing_data : MissingData or None
        Amount and pattern of missing feature values as read, under
        ``read_cohort(missing="complete_case" | "impute")``; None otherwise.
    """

    patients: pd.DataFrame
    lesions: pd.DataFrame | None = None
    patient_features: tuple[str, ...] = ()
    lesion_features: tuple[str, ...] = ()
    endpoints: Mapping[str, Endpoint] = dataclasses.field(default_factory=dict)
    columns: ColumnNames = dataclasses.field(default_factory=ColumnNames)
    truth: Mapping[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    source: Mapping[str, str] = dataclasses.field(default_factory=dict)
    original_ids: tuple[str, ...] | None = None
    excluded: pd.DataFrame = dataclasses.field(
        default_factory=lambda: pd.DataFrame(columns=["table", "id", "reason"]))
    missing_data: MissingData | None = None

    def __post_init__(self) -> None:
        pid = self.columns.patient_id
        if self.patients.index.name != pid:
            raise SchemaError(f"patients must be indexed by {pid!r}; use survrad.read_cohort.")
        if not self.patients.index.is_unique:
            dup = self.patients.index[self.patients.index.duplicated()].unique()
            raise SchemaError("duplicate patient ids.", file="patients", column=pid,
                              ids=list(dup))
        if self.lesions is not None:
            for col in (pid, self.columns.lesion_id):
                if col not in self.lesions.columns:
                    raise SchemaError(f"lesions table lacks {col!r}.", file="lesions")
            self._check_no_orphans()

    def _check_no_orphans(self) -> None:
        """Every lesion belongs to a patient of the patient table (docs/reliability.md #6)."""
        pid, lid = self.columns.patient_id, self.columns.lesion_id
        orphan = ~self.lesions[pid].isin(self.patients.index).to_numpy()
        if orphan.any():
            rows = self.lesions.loc[orphan, [pid, lid]]
            patients = list(dict.fromkeys(rows[pid]))
            raise SchemaError(
                f"{int(orphan.sum())} lesion row(s) belong to patients absent from the "
                f"patient table: {format_values(patients)}. Fix the ids, or drop these "
                "lesions (survrad.read_cohort(..., exclude_orphan_lesions=True) excludes "
                "and lists them).", file="lesions", column=pid,
                ids=list(rows.itertuples(index=False, name=None)))

    # ------------------------------------------------------------------ basics
    @property
    def patient_ids(self) -> pd.Index:
        """Patient ids in row order."""
        return self.patients.index

    @property
    def n_patients(self) -> int:
        """Number of patients."""
        return int(self.patients.shape[0])

    @property
    def n_lesions(self) -> int:
        """Number of lesion rows (all timepoints); 0 without a lesion table."""
        return 0 if self.lesions is None else int(self.lesions.shape[0])

    @property
    def has_lesions(self) -> bool:
        """Whether a lesion table is present."""
        return self.lesions is not None

    def __repr__(self) -> str:
        les = f", {self.n_lesions} lesions" if self.has_lesions else ""
        return (f"Cohort({self.n_patients} patients{les}, endpoints={list(self.endpoints)}, "
                f"{len(self.patient_features)} patient features, "
                f"{len(self.lesion_features)} lesion features)")

    # ---------------------------------------------------------------- outcomes
    def endpoint(self, name: str) -> Endpoint:
        """The endpoint called ``name``; a clear error listing the available ones if absent."""
        if name not in self.endpoints:
            hint = close_matches(name, self.endpoints)
            did = f" Did you mean {hint[0]!r}?" if hint else ""
            raise SchemaError(
                f"unknown endpoint {name!r}; available: {sorted(self.endpoints)}.{did}")
        return self.endpoints[name]

    def y(self, endpoint: str) -> np.ndarray:
        """Outcome of ``endpoint`` in patient row order.

        Returns a structured array (fields ``event``, ``time``) for a survival endpoint,
        an int array of 0/1 for a binary endpoint. Each call returns a new array (the
        cohort keeps its own copy: the tables are read-only, see the class docstring).
        """
        ep = self.endpoint(endpoint)
        key = ("y", endpoint)
        cached = self._arrays.get(key)
        if cached is None:
            if ep.kind == "survival":
                cached = np.empty(self.n_patients, dtype=SURV_DTYPE)
                cached["time"] = self.patients[ep.time].to_numpy(dtype=float)
                cached["event"] = self.patients[ep.event].to_numpy(dtype=float) == 1.0
            else:
                cached = self.patients[ep.target].to_numpy(dtype=float).astype(int)
            self._arrays[key] = cached
        return cached.copy()

    def X(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Patient predictors (``patient_features`` by default) as a float DataFrame.

        Each call returns a new DataFrame indexed by ``patient_id``.
        """
        cols = tuple(self.patient_features if columns is None else columns)
        key = ("X", cols)
        cached = self._arrays.get(key)
        if cached is None:
            missing = [c for c in cols if c not in self.patients.columns]
            if missing:
                raise SchemaError(f"patient columns not found: {missing}.", file="patients")
            cached = self.patients[list(cols)].astype(float)
            self._arrays[key] = cached
        return cached.copy()

    @cached_property
    def _origin(self) -> np.ndarray:
        """The original id of every row as an object array of str (see ``original_ids``)."""
        base = self.patients.index if self.original_ids is None else self.original_ids
        return np.asarray([str(i) for i in base], dtype=object)

    @cached_property
    def _ids_have_separator(self) -> bool:
        """Whether an id contains the separator of generated copy ids (``P001#2``)."""
        return any(RESAMPLE_SEP in str(i) for i in self.patients.index)

    @cached_property
    def _arrays(self) -> dict[tuple, Any]:
        """Outcome arrays and predictor tables already extracted from ``patients``.

        Resampling reads them once per cohort; :meth:`take_positions` hands their rows
        to the new cohort.
        """
        return {}

    # ----------------------------------------------------------------- lesions
    def baseline_lesions(self) -> pd.DataFrame:
        """Lesion rows at the first timepoint (all rows when there is no timepoint column).

        Returns
        -------
        pandas.DataFrame
            A copy (editing it never changes the cohort), with the row labels of
            ``lesions``.

        Examples
        --------
        >>> import survrad as sr
        >>> c = sr.simulate_cohort(n_patients=20, random_state=0, timepoints=2)
        >>> base = c.baseline_lesions()
        >>> bool((base["timepoint"] == 0).all()), base is c.lesions
        (True, False)
        """
        if self.lesions is None:
            raise SchemaError("this cohort has no lesion table; a lesion strategy needs one "
                              "(read_cohort(..., lesions=...)).")
        tp = self.columns.timepoint
        if tp not in self.lesions.columns:
            return self.lesions.copy()
        col = self.lesions[tp]
        return self.lesions.take(np.flatnonzero((col == col.min()).to_numpy()))

    @cached_property
    def _lesion_positions(self) -> dict[str, np.ndarray]:
        if self.lesions is None:
            return {}
        codes = self.lesions[self.columns.patient_id].to_numpy()
        order = np.argsort(codes, kind="stable")
        uniq, starts = np.unique(codes[order], return_index=True)
        bounds = np.append(starts, codes.size)
        return {u: order[bounds[i]:bounds[i + 1]] for i, u in enumerate(uniq)}

    @property
    def timepoints(self) -> tuple[Any, ...]:
        """The distinct timepoints of the lesion table, sorted (baseline first).

        Empty when there is no lesion table or no timepoint column (one scan). An
        ordered categorical timepoint is sorted in its category order.

        Examples
        --------
        >>> import survrad as sr
        >>> sr.simulate_cohort(n_patients=20, random_state=0, timepoints=2).timepoints
        (0, 1)
        """
        if self.lesions is None or self.columns.timepoint not in self.lesions.columns:
            return ()
        levels = pd.Series(pd.unique(self.lesions[self.columns.timepoint])).dropna()
        return tuple(v.item() if isinstance(v, np.generic) else v
                     for v in levels.sort_values())

    @property
    def scans(self) -> pd.DataFrame:
        """One row per scan: ``patient_id``, ``timepoint``, ``scan_time`` (, ``scan_date``).

        A scan is a (patient, timepoint) with at least one lesion row (vanished rows
        recorded as 0 mm count). Rows follow the patient order of the cohort, then the
        timepoint order; ``scan_time`` is NaN when the lesion table has no scan time
        (:func:`survrad.read_cohort` derives it from ``scan_date``). A copy.

        Raises
        ------
        SchemaError
            No lesion table, or no timepoint column.

        Examples
        --------
        >>> import survrad as sr
        >>> c = sr.simulate_cohort(n_patients=20, random_state=0, timepoints=2)
        >>> c.scans.head(2)
          patient_id  timepoint  scan_time
        0       P001          0        NaN
        1       P001          1        NaN
        """
        return self._scans.copy()

    @cached_property
    def _scans(self) -> pd.DataFrame:
        if self.lesions is None:
            raise SchemaError("this cohort has no lesion table, so it has no scans.")
        if self.columns.timepoint not in self.lesions.columns:
            raise SchemaError(f"the lesion table has no timepoint column "
                              f"{self.columns.timepoint!r}: one scan per patient, no scans "
                              "table.", file="lesions", column=self.columns.timepoint)
        return scan_table(self.lesions, self.columns, self.patients.index)

    def lesions_at(self, timepoint: Any) -> pd.DataFrame:
        """Lesion rows at ``timepoint`` (a copy, with the row labels of ``lesions``).

        Vanished rows (0 mm) are included; a lesion absent from the scan has no row.

        Raises
        ------
        SchemaError
            No lesion table, no timepoint column, or ``timepoint`` not among
            :attr:`timepoints`.

        Examples
        --------
        >>> import survrad as sr
        >>> c = sr.simulate_cohort(n_patients=20, random_state=0, timepoints=2)
        >>> bool((c.lesions_at(1)["timepoint"] == 1).all())
        True
        """
        levels = self.timepoints
        if timepoint not in levels:
            if self.lesions is None:
                raise SchemaError("this cohort has no lesion table.")
            raise SchemaError(f"timepoint {timepoint!r} is not in the lesion table; "
                              f"available: {list(levels)}.", file="lesions",
                              column=self.columns.timepoint)
        col = self.lesions[self.columns.timepoint]
        return self.lesions.take(np.flatnonzero((col == timepoint).to_numpy()))

    # -------------------------------------------------------------- resampling
    def take(self, patient_ids: Sequence[Any]) -> Cohort:
        """A cohort made of ``patient_ids`` in that order, for resampling.

        A patient drawn more than once appears once per draw under distinct ids
        (``P001``, ``P001#2``, ...), each copy with all its lesions, so copies are distinct
        clusters. ``original_ids`` records where each row came from. The new cohort
        shares no table with this one: cohort-level truth (coefficients, baseline) and
        ``excluded`` are copied too.

        Parameters
        ----------
        patient_ids : sequence of str
            Ids of this cohort, repeats allowed.

        Returns
        -------
        Cohort

        Examples
        --------
        >>> import survrad as sr
        >>> c = sr.simulate_cohort(n_patients=20, random_state=0)
        >>> list(c.take(["P001", "P001"]).patient_ids)
        ['P001', 'P001#2']
        """
        ids = [str(i) for i in patient_ids]
        pos = self.patients.index.get_indexer(ids)
        if np.any(pos < 0):
            unknown = sorted({i for i, p in zip(ids, pos, strict=True) if p < 0})
            raise SchemaError("patient ids not in this cohort.", column=self.columns.patient_id,
                              ids=unknown)
        return self.take_positions(pos)

    def take_positions(self, positions: Any) -> Cohort:
        """:meth:`take` by row positions (``0 .. n_patients - 1``, repeats allowed).

        What resampling engines call: a bootstrap draw is a vector of positions, and
        the ids need not be looked up. Predictor and outcome arrays this cohort has
        already extracted (:meth:`X`, :meth:`y`) are passed on row by row.

        Examples
        --------
        >>> import survrad as sr
        >>> c = sr.simulate_cohort(n_patients=20, random_state=0)
        >>> list(c.take_positions([1, 1, 0]).patient_ids)
        ['P002', 'P002#2', 'P001']
        """
        raw = np.asarray(positions).ravel()
        if raw.size and raw.dtype.kind not in "iu":
            raise TypeError(f"positions must be integers, got dtype {raw.dtype}; use take() "
                            "for patient ids.")
        pos = raw.astype(np.intp, copy=False)
        if pos.size and (pos.min() < 0 or pos.max() >= self.n_patients):
            raise SchemaError(f"positions must be in [0, {self.n_patients}); got values "
                              f"from {pos.min()} to {pos.max()}.")
        ids = self.patients.index[pos]
        new_ids = _copy_ids(ids.to_numpy(dtype=object), pos, self._ids_have_separator)
        pid = self.columns.patient_id
        patients = self.patients.take(pos)
        patients.index = pd.Index(new_ids, dtype=object, name=pid)
        lesions = self._take_rows(self.lesions, ids, new_ids) if self.has_lesions else None
        truth = {}
        for key, table in self.truth.items():
            if table.index.name == pid:
                t = table.loc[ids]
                t.index = pd.Index(new_ids, name=pid)
                truth[key] = t
            elif pid in table.columns and self.has_lesions and len(table) == self.n_lesions:
                truth[key] = self._take_rows(table, ids, new_ids)
            else:  # cohort-level truth (coefficients, baseline): same values, own copy
                truth[key] = table.copy()
        out = dataclasses.replace(self, patients=patients, lesions=lesions, truth=truth,
                                  endpoints=dict(self.endpoints), source=dict(self.source),
                                  excluded=self.excluded.copy(),
                                  original_ids=tuple(self._origin[pos].tolist()))
        out._arrays.update({key: _take_array(value, pos, patients.index)
                            for key, value in self._arrays.items()})
        return out

    def _take_rows(self, table: pd.DataFrame, ids: pd.Index, new_ids: np.ndarray) -> pd.DataFrame:
        pos = self._lesion_positions
        empty = np.empty(0, dtype=int)
        chunks = [pos.get(i, empty) for i in ids]
        rows = np.concatenate(chunks) if chunks else empty
        out = table.iloc[rows].reset_index(drop=True)
        out[self.columns.patient_id] = np.repeat(np.asarray(new_ids, dtype=object),
                                                 [c.size for c in chunks])
        return out

    def subset(self, patient_ids: Sequence[Any]) -> Cohort:
        """A cohort of distinct ``patient_ids`` (no repeats; ids keep their names)."""
        ids = pd.Index([str(i) for i in patient_ids])
        if ids.has_duplicates:
            raise SchemaError("subset() takes distinct ids; use take() to resample.",
                              ids=list(ids[ids.duplicated()]))
        return self.take(ids)

    def lesions_of(self, patient_id: str) -> pd.DataFrame:
        """All lesion rows of one patient."""
        if patient_id not in self.patients.index:
            raise SchemaError(f"unknown patient {patient_id!r}.", ids=[patient_id])
        if not self.has_lesions:
            raise SchemaError("this cohort has no lesion table.")
        return self.lesions.iloc[self._lesion_positions.get(patient_id, np.empty(0, int))]


def _take_array(value: Any, pos: np.ndarray, index: pd.Index) -> Any:
    """Rows ``pos`` of a cached outcome array or predictor table (re-indexed)."""
    if isinstance(value, pd.DataFrame):
        out = value.take(pos)
        out.index = index
        return out
    return value[pos]


def _copy_ids(base: np.ndarray, codes: np.ndarray, may_collide: bool = True) -> np.ndarray:
    """Distinct ids for repeated draws: ``P001``, ``P001#2``, ``P001#3``, ...

    ``base`` holds the drawn ids and ``codes`` an integer per distinct id (the row
    position it was drawn from). A generated name never collides with another drawn id
    (taking ``["P1", "P1", "P1#2"]`` from a resampled cohort gives ``P1``, ``P1#3``,
    ``P1#2``); that can only happen when some id contains the separator
    (``may_collide``).
    """
    order = np.argsort(codes, kind="stable")          # draws of one id, in draw order
    sorted_codes = codes[order]
    new = np.empty(codes.size, dtype=bool)
    new[:1] = True
    np.not_equal(sorted_codes[1:], sorted_codes[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    lengths = np.diff(np.append(starts, codes.size))
    occurrence = np.empty(codes.size, dtype=np.intp)  # 0 for the first draw of an id, 1, ...
    occurrence[order] = np.arange(codes.size) - np.repeat(starts, lengths)
    repeats = np.flatnonzero(occurrence)
    generated = [f"{i}{RESAMPLE_SEP}{k + 1}"
                 for i, k in zip(base[repeats].tolist(), occurrence[repeats].tolist(),
                                 strict=True)]
    if not may_collide or not generated or set(generated).isdisjoint(base.tolist()):
        names = base.copy()
        names[repeats] = generated
        return names
    used = set(base.tolist())
    new_ids = []
    for i, k in zip(base.tolist(), occurrence.tolist(), strict=True):
        if k == 0:
            new_ids.append(i)
            continue
        n = k + 1
        while f"{i}{RESAMPLE_SEP}{n}" in used:
            n += 1
        name = f"{i}{RESAMPLE_SEP}{n}"
        used.add(name)
        new_ids.append(name)
    return np.asarray(new_ids, dtype=object)

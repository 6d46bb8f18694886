"""The scans of a multi-timepoint lesion table, validated (layer 2; private).

:func:`read_scans` turns a lesion DataFrame (one row per lesion and timepoint) into
integer-coded arrays: one entry per row, per lesion and per scan (a patient at a
timepoint). Every check raises a :class:`~survrad.exceptions.SchemaError` naming the
column and the offending ids; nothing is dropped or filled in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import check_choice
from survrad.data.cohort import Cohort
from survrad.data.schema import check_columns, check_positive, check_unique_lesions
from survrad.exceptions import ConfigError, SchemaError

__all__ = ["DAYS_PER", "ScanData", "read_scans", "weeks_to"]

FILE = "lesions"
#: Days in one time unit (a month is 365.25 / 12 days, a year 365.25 days).
DAYS_PER = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12.0, "years": 365.25}


def weeks_to(weeks: float, unit: str) -> float:
    """``weeks`` expressed in ``unit``.

    Examples
    --------
    >>> weeks_to(4, "days"), round(weeks_to(6, "months"), 4)
    (28.0, 1.3799)
    """
    return float(weeks) * 7.0 / DAYS_PER[unit]


@dataclasses.dataclass(frozen=True)
class Columns:
    """Column names in use (``None``: the optional column is absent)."""

    patient_id: str
    lesion_id: str
    timepoint: str
    diameter: str
    short_axis: str | None
    organ: str | None
    is_target: str | None
    scan_date: str | None
    scan_time: str | None
    non_target_progression: str | None
    new_non_target_progression: str | None


@dataclasses.dataclass(frozen=True, eq=False)
class ScanData:
    """Integer-coded lesion table. Scans are sorted by patient, then timepoint.

    Row arrays (``r_*``) follow the table rows; lesion arrays (``l_*``) one entry per
    (patient, lesion); scan arrays (``s_*``) one entry per (patient, timepoint); patient
    arrays (``p_*``) one entry per patient, sorted by id.
    """

    cols: Columns
    patient_ids: np.ndarray
    r_lesion: np.ndarray
    r_scan: np.ndarray
    r_ld: np.ndarray
    r_sa: np.ndarray
    l_patient: np.ndarray
    l_id: np.ndarray
    l_rank: np.ndarray          # order of str(lesion_id): the documented tie-break
    l_nodal: np.ndarray
    l_organ: np.ndarray | None
    l_is_target: np.ndarray     # 0/1, NaN where not given (or no is_target column)
    s_patient: np.ndarray
    s_timepoint: np.ndarray
    s_pos: np.ndarray           # 0 at baseline, 1, 2, ... at the follow-up scans
    s_time: np.ndarray | None   # scan time on the user's scale (dates: since baseline)
    s_date: np.ndarray | None
    s_nt_progression: np.ndarray    # 0/1, NaN = not assessed
    s_new_nt_progression: np.ndarray
    p_first: np.ndarray
    p_count: np.ndarray
    time_unit: str | None

    @property
    def n_scans(self) -> int:
        return int(self.s_patient.size)

    def measure(self) -> np.ndarray:
        """RECIST size of every row: short axis for nodes, longest diameter otherwise.

        A node without a short axis measures 0 when its longest diameter is 0 (it has
        vanished), NaN otherwise.
        """
        nodal = self.l_nodal[self.r_lesion]
        node_size = np.where(np.isnan(self.r_sa) & (self.r_ld == 0.0), 0.0, self.r_sa)
        return np.where(nodal, node_size, self.r_ld)


def _optional(table: pd.DataFrame, given: str | None, default: str | None) -> str | None:
    """``given`` (must exist), else ``default`` when the table has it, else None."""
    if given is not None:
        check_columns(table, [given], file=FILE, what="column")
        return given
    return default if default is not None and default in table.columns else None


def resolve_columns(table: pd.DataFrame, cohort: Cohort | None,
                    names: dict[str, str | None]) -> Columns:
    """Columns to use: ``names`` (keyword ``*_col`` arguments) over the defaults."""
    base = cohort.columns if cohort is not None else None
    default = {
        "patient_id": base.patient_id if base else "patient_id",
        "lesion_id": base.lesion_id if base else "lesion_id",
        "timepoint": base.timepoint if base else "timepoint",
        "diameter": base.diameter if base else "longest_diameter_mm",
        "organ": base.organ if base else "organ",
        "is_target": base.is_target if base else "is_target",
        "short_axis": "short_axis_mm", "scan_date": "scan_date", "scan_time": "scan_time",
        "non_target_progression": "non_target_progression",
        "new_non_target_progression": "new_non_target_progression",
    }
    required = ("patient_id", "lesion_id", "timepoint", "diameter")
    out = {}
    for key, fallback in default.items():
        if key in required:
            out[key] = names.get(key) or fallback
        else:
            out[key] = _optional(table, names.get(key), fallback)
    check_columns(table, [out[k] for k in required], file=FILE)
    return Columns(**out)


def read_scans(lesions: pd.DataFrame | Cohort, names: dict[str, str | None], *,
               nodal_organs: Sequence[str], baseline_timepoint: float | None,
               time_unit: str | None) -> ScanData:
    """Validate a multi-timepoint lesion table and code it (see :class:`ScanData`)."""
    cohort = lesions if isinstance(lesions, Cohort) else None
    if cohort is not None:
        if cohort.lesions is None:
            raise SchemaError("this cohort has no lesion table; RECIST needs one.")
        table = cohort.lesions
    elif isinstance(lesions, pd.DataFrame):
        table = lesions
    else:
        raise TypeError(f"lesions must be a DataFrame or a Cohort, got {type(lesions).__name__}.")
    if time_unit is not None:
        check_choice("time_unit", time_unit, list(DAYS_PER))
    cols = resolve_columns(table, cohort, names)
    table = table.reset_index(drop=True)
    if table.empty:
        raise SchemaError("the lesion table has no rows.", file=FILE)
    pcode, pids = _codes(table[cols.patient_id], cols.patient_id)
    tp = _timepoints(table[cols.timepoint], cols.timepoint, table[cols.patient_id])
    check_unique_lesions(table, [cols.patient_id, cols.lesion_id, cols.timepoint], file=FILE)
    ids = list(zip(table[cols.patient_id], table[cols.lesion_id], table[cols.timepoint],
                   strict=True))
    ld = check_positive(table, cols.diameter, file=FILE, ids=ids, allow_zero=True,
                        allow_missing=True).to_numpy(dtype=np.float64)
    sa = (check_positive(table, cols.short_axis, file=FILE, ids=ids, allow_zero=True,
                         allow_missing=True).to_numpy(dtype=np.float64)
          if cols.short_axis else np.full(len(table), np.nan))

    # scans: (patient, timepoint) pairs in patient, then time order
    order = np.lexsort((tp, pcode))
    ps, ts = pcode[order], tp[order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = (ps[1:] != ps[:-1]) | (ts[1:] != ts[:-1])
    r_scan = np.empty(order.size, dtype=np.intp)
    r_scan[order] = np.cumsum(first) - 1
    s_patient, s_tp = ps[first], ts[first]
    p_count = np.bincount(s_patient, minlength=pids.size)
    p_first = np.concatenate([[0], np.cumsum(p_count)[:-1]]).astype(np.intp)
    s_pos = np.arange(s_patient.size) - p_first[s_patient]
    base = float(np.min(tp)) if baseline_timepoint is None else float(baseline_timepoint)
    _check_baseline(s_tp[p_first], s_tp, s_patient, pids, base, cols.timepoint)

    # lesions: (patient, lesion) pairs
    lcode, lids = _codes(table[cols.lesion_id], cols.lesion_id)
    key = pcode.astype(np.int64) * lids.size + lcode
    ukey, r_lesion = np.unique(key, return_inverse=True)
    l_patient = (ukey // lids.size).astype(np.intp)
    l_id = lids[ukey % lids.size]
    l_rank = pd.factorize(pd.Index(l_id.astype(str)), sort=True)[0]
    organ = table[cols.organ] if cols.organ else None
    l_organ = _lesion_level(organ, r_lesion, ukey.size, cols.organ, ids)
    nodal_set = {str(o).strip().lower() for o in nodal_organs}
    l_nodal = (np.zeros(ukey.size, dtype=bool) if l_organ is None else np.array(
        [isinstance(o, str) and o.strip().lower() in nodal_set for o in l_organ], dtype=bool))
    l_is_target = (_is_target(table, cols.is_target, r_lesion, ukey.size, ids)
                   if cols.is_target else np.full(ukey.size, np.nan))

    s_time, s_date, unit = _scan_times(table, cols, r_scan, s_patient, p_first, pids,
                                       s_tp, time_unit)
    nt = _scan_flag(table, cols.non_target_progression, r_scan, s_patient, s_tp, pids)
    nnt = _scan_flag(table, cols.new_non_target_progression, r_scan, s_patient, s_tp, pids)
    return ScanData(cols=cols, patient_ids=pids, r_lesion=r_lesion, r_scan=r_scan, r_ld=ld,
                    r_sa=sa, l_patient=l_patient, l_id=l_id, l_rank=l_rank, l_nodal=l_nodal,
                    l_organ=l_organ, l_is_target=l_is_target, s_patient=s_patient,
                    s_timepoint=s_tp, s_pos=s_pos, s_time=s_time, s_date=s_date,
                    s_nt_progression=nt, s_new_nt_progression=nnt, p_first=p_first,
                    p_count=p_count, time_unit=unit)


# ----------------------------------------------------------------------------- checks
def _codes(col: pd.Series, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted integer codes of an id column; a missing id is an error."""
    codes, uniques = pd.factorize(col, sort=True)
    if (codes < 0).any():
        rows = np.flatnonzero(codes < 0)
        raise SchemaError("missing ids; every row needs one.", file=FILE, column=name,
                          values=[f"row {i + 1}" for i in rows])
    return codes.astype(np.intp), np.asarray(uniques, dtype=object)


def _timepoints(col: pd.Series, name: str, patients: pd.Series) -> np.ndarray:
    num = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(num)
    if bad.any():
        raise SchemaError("timepoints must be numbers (0 = baseline, 1, 2, ... in scan "
                          "order); found missing or non-numeric values.", file=FILE,
                          column=name, ids=list(dict.fromkeys(patients[bad])),
                          values=list(col[bad]))
    return num


def _check_baseline(first_tp: np.ndarray, s_tp: np.ndarray, s_patient: np.ndarray,
                    pids: np.ndarray, base: float, column: str) -> None:
    early = s_tp < base
    if early.any():
        raise SchemaError(f"timepoints before the baseline timepoint {base:g}; drop the "
                          "screening scans or set baseline_timepoint.", file=FILE,
                          column=column, ids=list(pids[np.unique(s_patient[early])]))
    missing = first_tp != base
    if missing.any():
        raise SchemaError(f"patients without a baseline scan (timepoint {base:g}); RECIST "
                          "measures every change from baseline. Add their baseline "
                          "lesions or leave the patients out.", file=FILE, column=column,
                          ids=list(pids[missing]))


def _lesion_level(col: pd.Series | None, r_lesion: np.ndarray, n: int, name: str | None,
                  ids: list) -> np.ndarray | None:
    """One value per lesion from a column that must not change between timepoints."""
    if col is None:
        return None
    codes, uniques = pd.factorize(col)
    frame = pd.DataFrame({"l": r_lesion, "c": codes})
    spread = frame[frame["c"] >= 0].groupby("l")["c"].agg(["min", "max"])
    varying = spread.index[spread["min"] != spread["max"]].to_numpy()
    if varying.size:
        rows = np.flatnonzero(np.isin(r_lesion, varying))
        raise SchemaError("the value changes between the timepoints of a lesion; one "
                          "lesion has one value.", file=FILE, column=name,
                          ids=list(dict.fromkeys(ids[i][:2] for i in rows)))
    out = np.full(n, None, dtype=object)
    out[spread.index.to_numpy()] = np.asarray(uniques, dtype=object)[spread["min"].to_numpy()]
    return out


def _is_target(table: pd.DataFrame, name: str, r_lesion: np.ndarray, n: int,
               ids: list) -> np.ndarray:
    raw = table[name]
    num = pd.to_numeric(raw.astype(object).where(raw.notna(), np.nan), errors="coerce")
    vals = num.to_numpy(dtype=np.float64)
    bad = (raw.notna().to_numpy() & np.isnan(vals)) | (~np.isnan(vals) & (vals != 0)
                                                       & (vals != 1))
    if bad.any():
        raise SchemaError("must be coded 0/1 (missing = not given).", file=FILE, column=name,
                          ids=[ids[i] for i in np.flatnonzero(bad)],
                          values=list(raw[bad]))
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    ok = ~np.isnan(vals)
    np.minimum.at(lo, r_lesion[ok], vals[ok])
    np.maximum.at(hi, r_lesion[ok], vals[ok])
    varying = np.flatnonzero(np.isfinite(lo) & (lo != hi))
    if varying.size:
        rows = np.flatnonzero(np.isin(r_lesion, varying))
        raise SchemaError("is_target changes between the timepoints of a lesion; a lesion "
                          "is a target (1) or not (0) for the whole study.", file=FILE,
                          column=name, ids=list(dict.fromkeys(ids[i][:2] for i in rows)))
    return np.where(np.isfinite(lo), lo, np.nan)


def _scan_value(values: np.ndarray, r_scan: np.ndarray, n_scans: int, column: str,
                s_patient: np.ndarray, s_tp: np.ndarray, pids: np.ndarray,
                what: str) -> np.ndarray:
    """One value per scan from a row column: the rows of a scan agree (missing allowed)."""
    ok = ~np.isnan(values)
    lo = np.full(n_scans, np.inf)
    hi = np.full(n_scans, -np.inf)
    np.minimum.at(lo, r_scan[ok], values[ok])
    np.maximum.at(hi, r_scan[ok], values[ok])
    clash = np.flatnonzero(np.isfinite(lo) & (lo != hi))
    if clash.size:
        raise SchemaError(f"the lesion rows of one scan disagree on the {what}; a scan (a "
                          "patient at a timepoint) has one value.", file=FILE, column=column,
                          ids=[(pids[s_patient[s]], s_tp[s]) for s in clash])
    return np.where(np.isfinite(lo), lo, np.nan)


def _scan_flag(table: pd.DataFrame, name: str | None, r_scan: np.ndarray,
               s_patient: np.ndarray, s_tp: np.ndarray, pids: np.ndarray) -> np.ndarray:
    n = s_patient.size
    if name is None:
        return np.full(n, np.nan)
    raw = table[name]
    vals = pd.to_numeric(raw.astype(object).where(raw.notna(), np.nan),
                         errors="coerce").to_numpy(dtype=np.float64)
    bad = (raw.notna().to_numpy() & np.isnan(vals)) | (~np.isnan(vals) & (vals != 0)
                                                       & (vals != 1))
    if bad.any():
        raise SchemaError("must be coded 0/1 per scan (missing = not assessed).", file=FILE,
                          column=name, ids=list(dict.fromkeys(
                              (pids[s_patient[s]], s_tp[s]) for s in r_scan[bad])),
                          values=list(raw[bad]))
    return _scan_value(vals, r_scan, n, name, s_patient, s_tp, pids, "flag")


def _scan_times(table: pd.DataFrame, cols: Columns, r_scan: np.ndarray,
                s_patient: np.ndarray, p_first: np.ndarray, pids: np.ndarray,
                s_tp: np.ndarray, time_unit: str | None
                ) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """Scan times: from dates (time since the baseline scan in ``time_unit``, default
    days) or from ``scan_time`` (the user's scale and unit); (None, None, unit) without."""
    n = s_patient.size
    name = cols.scan_date or cols.scan_time
    if name is None:
        return None, None, time_unit
    if cols.scan_date:
        raw = table[cols.scan_date]
        parsed = _dates(raw, cols.scan_date, table[cols.patient_id])
        epoch_days = (parsed - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
        values = epoch_days.to_numpy(dtype=np.float64)
        what = "scan date"
    else:
        raw = table[cols.scan_time]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        bad = raw.notna().to_numpy() & ~np.isfinite(values)
        if bad.any():
            raise SchemaError("scan times must be numbers.", file=FILE, column=name,
                              ids=list(dict.fromkeys(table[cols.patient_id][bad])),
                              values=list(raw[bad]))
        what = "scan time"
        parsed = None
    if np.isnan(values).all():
        raise SchemaError(f"the {what} column has no values; fill it in or drop it.",
                          file=FILE, column=name)
    per_scan = _scan_value(values, r_scan, n, name, s_patient, s_tp, pids, what)
    missing = np.flatnonzero(np.isnan(per_scan))
    if missing.size:
        raise SchemaError(f"scans without a {what} while other scans have one; every scan "
                          "needs it (RECIST confirmation and PFS are timed).", file=FILE,
                          column=name, ids=[(pids[s_patient[s]], s_tp[s]) for s in missing])
    step = np.diff(per_scan)
    same_patient = s_patient[1:] == s_patient[:-1]
    back = np.flatnonzero(same_patient & (step <= 0))
    if back.size:
        raise SchemaError(f"{what}s out of order with the timepoints: each scan must come "
                          "strictly after the one before it.", file=FILE, column=name,
                          ids=list(dict.fromkeys(pids[s_patient[back]])))
    if cols.scan_date:
        unit = time_unit or "days"
        since = (per_scan - per_scan[p_first][s_patient]) / DAYS_PER[unit]
        dates = parsed.groupby(r_scan).min().to_numpy()   # the rows of a scan agree
        return since, dates, unit
    return per_scan, None, time_unit


def _dates(raw: pd.Series, name: str, patients: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        parsed = raw
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
    else:
        text = raw.astype(object).where(raw.notna(), None)
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
        bad = raw.notna().to_numpy() & parsed.isna().to_numpy()
        if bad.any():
            raise SchemaError("scan dates must be dates or ISO 8601 text (2021-03-14).",
                              file=FILE, column=name, ids=list(dict.fromkeys(patients[bad])),
                              values=list(raw[bad]))
    return parsed.astype("datetime64[ns]")


def require_unit(data: ScanData, needed: bool, what: str) -> None:
    """ConfigError when week-based rules need the unit of ``scan_time``."""
    if needed and data.s_time is not None and data.time_unit is None:
        raise ConfigError(f"{what} is set in weeks but the unit of {data.cols.scan_time!r} "
                          "is unknown: pass time_unit='days', 'weeks', 'months' or 'years' "
                          "(or set the week-based rules to 0).", key="time_unit")


def lesion_labels(data: ScanData, lesions: np.ndarray) -> list[tuple[Any, Any]]:
    """``(patient_id, lesion_id)`` of lesion codes, for messages."""
    return [(data.patient_ids[data.l_patient[i]], data.l_id[i]) for i in lesions]

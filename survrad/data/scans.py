"""Scans of a longitudinal lesion table: dates, times and vanished lesions (layer 1).

The longitudinal lesion table
-----------------------------
One row per lesion and scan. Besides the columns of a one-scan table it has

* ``timepoint``: numeric (0, 1, 2, ... or any increasing numbers) or an ordered
  categorical; the smallest value is the baseline. A *scan* is a (patient, timepoint)
  with at least one lesion row.
* ``scan_date`` (optional): the date of the scan, as ISO 8601 text (``2021-03-04``, a
  time may follow) or datetime values. Day/month order is never guessed: other text
  (``03/04/2021``) is an error that shows the raw strings.
* ``scan_time`` (optional): the time of the scan in the study's time unit, counted from
  the baseline scan or the start of treatment (negative values are allowed: a baseline
  scan before treatment). When only ``scan_date`` is given,
  :func:`survrad.read_cohort` derives ``scan_time`` as the time from each patient's
  baseline scan (its row at the baseline timepoint) in ``scan_time_unit`` (days by
  default; weeks = 7 days, months = 365.25 / 12 = 30.4375 days, years = 365.25 days).
  When both are given, ``scan_time`` is kept as given and both are checked.
* ``short_axis_mm`` (optional, nodal lesions): at most the longest diameter.

Rules checked by :func:`check_scans` (each a :class:`~survrad.exceptions.SchemaError`
naming the column and the ids): every scan has one date (time) when the column is given,
the same one on all its rows, and dates (times) increase strictly with the timepoint
within a patient; dates that cannot be read are shown raw.

New and vanished lesions
------------------------
A lesion first seen after the baseline is a NEW lesion (allowed, counted by
:class:`survrad.lesions.Delta`). A lesion that disappeared is given either

* with ``longest_diameter_mm = 0`` at a timepoint after the baseline: a *vanished row*
  (:func:`vanished_rows`). Nothing is left to measure, so its volume may be 0 or
  missing and its feature cells may be missing (they are kept missing, never filled);
* or by leaving it out of that scan. When the patient has the scan (other rows at that
  timepoint) this means the same: gone at this scan. But a patient all of whose lesions
  are gone then has no row, so the scan itself cannot be seen; recording vanished
  lesions as 0 mm keeps every scan visible (what ``simulate_cohort(timepoints >= 3)``
  does). :class:`~survrad.lesions.Delta` states how it reads a patient without rows at
  a timepoint (its ``missing_scan`` parameter).

A 0 mm row at the baseline timepoint is not a vanished row (a lesion cannot vanish before
it is first seen): it is checked like any baseline row. A lesion missing at a scan of
its patient between two scans where it is recorded is allowed with a
:class:`~survrad.exceptions.DataWarning` (:func:`warn_lesion_gaps`).
"""

from __future__ import annotations

import datetime
import re
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from survrad._validation import close_matches
from survrad.data import schema
from survrad.exceptions import ConfigError, DataWarning, SchemaError, format_values

if TYPE_CHECKING:  # cohort.py imports this module
    from survrad.data.cohort import ColumnNames

__all__ = [
    "SCAN_TIME_UNITS",
    "check_scans",
    "check_time_unit",
    "parse_scan_dates",
    "scan_table",
    "vanished_rows",
    "warn_lesion_gaps",
]

#: Length of each ``scan_time_unit`` in days (a month is a twelfth of a Julian year).
SCAN_TIME_UNITS = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12.0, "years": 365.25}


# ------------------------------------------------------------------------------ dates
def check_time_unit(unit: Any) -> str:
    """``unit`` if it is a key of :data:`SCAN_TIME_UNITS`, else a ConfigError.

    Examples
    --------
    >>> check_time_unit("months")
    'months'
    """
    if isinstance(unit, str) and unit in SCAN_TIME_UNITS:
        return unit
    hint = close_matches(str(unit), SCAN_TIME_UNITS)
    did = f" Did you mean {hint[0]!r}?" if hint else ""
    raise ConfigError(f"scan_time_unit must be one of {list(SCAN_TIME_UNITS)}, got "
                      f"{unit!r}.{did}", key="scan_time_unit")


#: An ISO 8601 time followed by a UTC offset or Z: the offset is dropped (wall-clock time).
_OFFSET = re.compile(r"^(.*[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(?:Z|[+-]\d{2}(?::?\d{2})?)$")


def _wall_clock(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize(None) if ts.tzinfo is not None else ts


def _blank(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip() in schema.NA_TOKENS
    return v is None or (not isinstance(v, datetime.date) and bool(pd.isna(v)))


def parse_scan_dates(values: pd.Series, *, file: str, column: str,
                     ids: Sequence[Any]) -> pd.Series:
    """Dates of a ``scan_date`` column as ``datetime64[ns]`` (missing cells are NaT).

    Parameters
    ----------
    values : pandas.Series
        ISO 8601 text (``"2021-03-04"``, ``"2021-03-04T10:30"``, with or without a UTC
        offset), ``datetime``/``date``/``Timestamp`` objects, or a datetime64 column
        (time-zone aware or not).
        NA markers (:data:`survrad.data.schema.NA_TOKENS`) are missing.
    file, column : str
        Names used in messages.
    ids : sequence
        Row labels (e.g. ``(patient_id, lesion_id, timepoint)``) aligned with ``values``.

    Returns
    -------
    pandas.Series
        Same index. A time zone or UTC offset is dropped and the wall-clock time kept,
        so a date stays that calendar date and differences count calendar days (also
        across daylight-saving changes).

    Raises
    ------
    SchemaError
        Cells that are not dates (other text, numbers such as spreadsheet serial
        dates), showing the raw strings and the rows.

    Examples
    --------
    >>> import pandas as pd
    >>> d = parse_scan_dates(pd.Series(["2021-03-04", "NA"]), file="lesions",
    ...                      column="scan_date", ids=["a", "b"])
    >>> d.dt.strftime("%Y-%m-%d").tolist()
    ['2021-03-04', nan]
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_localize(None)  # wall-clock time of the zone
        return values.astype("datetime64[ns]")
    raw = values.astype(object)
    # dates repeat (one per scan, on every lesion row): parse each distinct cell once
    codes, uniques = pd.factorize(raw, use_na_sentinel=False)
    cells = pd.Series(uniques, dtype=object)
    blank = cells.map(_blank).to_numpy(dtype=bool)
    is_text = cells.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool) & ~blank
    is_date = cells.map(lambda v: isinstance(v, datetime.date | np.datetime64)).to_numpy(
        dtype=bool) & ~blank
    parsed = pd.Series(pd.NaT, index=cells.index, dtype="datetime64[ns]")
    if is_text.any():
        text = cells[is_text].map(lambda v: _OFFSET.sub(r"\1", v.strip()))
        parsed[is_text] = pd.to_datetime(text, format="ISO8601", errors="coerce")
    if is_date.any():
        parsed[is_date] = [_wall_clock(v) for v in cells[is_date]]
    out = pd.Series(parsed.to_numpy()[codes], index=values.index)
    missing = blank[codes]
    bad = ~missing & out.isna().to_numpy()
    if bad.any():
        shown = list(dict.fromkeys(str(v) for v in raw[bad]))
        raise SchemaError(
            f"{int(bad.sum())} cell(s) are not dates: {format_values(shown)}. Write scan "
            "dates as ISO 8601 text (YYYY-MM-DD, e.g. 2021-03-04) or pass datetime values; "
            "survrad never guesses a day/month order or converts spreadsheet serial "
            "numbers.", file=file, column=column, ids=[ids[i] for i in np.flatnonzero(bad)],
            values=list(raw[bad]))
    return out


# ------------------------------------------------------------------------------ scans
def _scan_keys(ltab: pd.DataFrame, cols: ColumnNames) -> pd.DataFrame:
    return ltab[[cols.patient_id, cols.timepoint]]


def _shown(value: Any) -> str | float:
    """A date as ISO text (the date alone at midnight), a time as a float."""
    if isinstance(value, pd.Timestamp | np.datetime64):
        ts = pd.Timestamp(value)
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.isoformat()
    return float(value)


def _per_scan(ltab: pd.DataFrame, values: pd.Series, cols: ColumnNames, *, file: str,
              column: str, what: str) -> pd.Series:
    """One value per scan, increasing with the timepoint; returns it indexed by scan."""
    pid, tp = cols.patient_id, cols.timepoint
    keys = _scan_keys(ltab, cols)
    missing = values.isna().to_numpy()
    if missing.any():
        pairs = list(dict.fromkeys(tuple(_plain(v) for v in k) for k in keys.loc[
            missing].itertuples(index=False, name=None)))
        raise SchemaError(
            f"{len(pairs)} scan(s) (patient_id, timepoint) have no {what}: every scan "
            f"needs one when the column is given. Fill them in, or drop the column if no "
            f"scan has a {what}.", file=file, column=column, ids=pairs)
    frame = keys.assign(_value=values.to_numpy())
    groups = frame.groupby([pid, tp], sort=True, observed=True)["_value"]
    if (groups.nunique() > 1).any():
        nun = groups.nunique()
        conflict = [tuple(_plain(v) for v in k) for k in nun.index[nun.to_numpy() > 1]]
        seen = groups.unique()
        shown = [tuple(_shown(v) for v in seen.loc[k]) for k in conflict]
        raise SchemaError(
            f"{len(conflict)} scan(s) (patient_id, timepoint) have two different {what}s "
            f"on their lesion rows ({format_values(shown, 5)}). One scan has one {what}: "
            "correct the rows or give the scans distinct timepoints.", file=file,
            column=column, ids=conflict, values=shown)
    first = groups.first()
    patient = first.index.get_level_values(0).to_numpy()
    value = first.to_numpy()
    same = patient[1:] == patient[:-1]
    bad = same & ~(value[1:] > value[:-1])
    if bad.any():
        where = np.flatnonzero(bad)
        idx = first.index
        detail = [(idx[i][0], _plain(idx[i][1]), _shown(value[i]), _plain(idx[i + 1][1]),
                   _shown(value[i + 1])) for i in where]
        patients = list(dict.fromkeys(d[0] for d in detail))
        raise SchemaError(
            f"scan {what}s out of order with the timepoints for {len(patients)} patient(s): "
            f"each scan must come strictly after the scan of the previous timepoint "
            f"(patient, timepoint, {what}, next timepoint, {what}: "
            f"{format_values(detail, 3)}). Correct the {what}s or the timepoints.",
            file=file, column=column, ids=patients, values=detail)
    return first


def check_scans(ltab: pd.DataFrame, cols: ColumnNames, *, file: str,
                unit: str = "days") -> pd.DataFrame:
    """Validate ``scan_date`` / ``scan_time`` and derive ``scan_time`` from dates.

    Parameters
    ----------
    ltab : pandas.DataFrame
        Lesion table with clean ids and a valid timepoint column.
    cols : ColumnNames
        Column names (``scan_date``, ``scan_time``, ``timepoint``, ids).
    file : str
        Table name used in messages.
    unit : {"days", "weeks", "months", "years"}, default "days"
        Unit of a ``scan_time`` derived from dates (:data:`SCAN_TIME_UNITS`).

    Returns
    -------
    pandas.DataFrame
        A new table: ``scan_date`` as ``datetime64[ns]``, ``scan_time`` as float
        (derived from the dates, inserted after ``scan_date``, when absent). The table
        itself when neither column is present.

    Raises
    ------
    SchemaError
        A date column without a timepoint column; dates that do not parse; a scan
        without a date (time) when the column is given; two different dates (times) for
        one (patient, timepoint); dates (times) not strictly increasing with the
        timepoint within a patient; a patient without a baseline scan when the time has
        to be derived from dates.
    ConfigError
        An unknown ``unit``.

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.cohort import ColumnNames
    >>> les = pd.DataFrame({"patient_id": ["P1"] * 3, "lesion_id": ["a"] * 3,
    ...                     "timepoint": [0, 1, 2],
    ...                     "scan_date": ["2021-01-04", "2021-03-01", "2021-05-03"]})
    >>> check_scans(les, ColumnNames(), file="lesions")["scan_time"].tolist()
    [0.0, 56.0, 119.0]
    """
    check_time_unit(unit)
    has_date, has_time = cols.scan_date in ltab.columns, cols.scan_time in ltab.columns
    if not (has_date or has_time):
        return ltab
    if cols.timepoint not in ltab.columns:
        name = cols.scan_date if has_date else cols.scan_time
        raise SchemaError(f"scan dates/times need a timepoint column {cols.timepoint!r} "
                          "(0 = baseline, then 1, 2, ...) to say which rows are one scan; "
                          "add it (or name it with ColumnNames(timepoint=...)).",
                          file=file, column=name)
    out = ltab.copy()
    rows = list(ltab[[cols.patient_id, cols.lesion_id, cols.timepoint]].itertuples(
        index=False, name=None))
    if has_date:
        dates = parse_scan_dates(ltab[cols.scan_date], file=file, column=cols.scan_date,
                                 ids=rows)
        per_scan = _per_scan(ltab, dates, cols, file=file, column=cols.scan_date,
                             what="date")
        out[cols.scan_date] = dates
    if has_time:
        times = schema._to_numeric(ltab[cols.scan_time], file=file, ids=rows)
        if np.isinf(times.to_numpy()).any():
            bad = np.isinf(times.to_numpy())
            raise SchemaError("scan times must be finite.", file=file, column=cols.scan_time,
                              ids=[rows[i] for i in np.flatnonzero(bad)])
        _per_scan(ltab, times, cols, file=file, column=cols.scan_time, what="time")
        out[cols.scan_time] = times
    else:
        derived = _time_from_dates(ltab, dates, per_scan, cols, file=file, unit=unit)
        out.insert(out.columns.get_loc(cols.scan_date) + 1, cols.scan_time, derived)
    return out


def _time_from_dates(ltab: pd.DataFrame, dates: pd.Series, per_scan: pd.Series,
                     cols: ColumnNames, *, file: str, unit: str) -> np.ndarray:
    """Time of every row from its patient's baseline scan date, in ``unit``."""
    baseline = _levels(ltab[cols.timepoint])[0]
    patient = per_scan.index.get_level_values(0)
    first_tp = pd.Series(per_scan.index.get_level_values(1), index=patient).groupby(
        level=0, sort=False).first()
    lacking = list(first_tp.index[first_tp.to_numpy() != baseline])
    if lacking:
        raise SchemaError(
            f"{len(lacking)} patient(s) have no scan at the baseline timepoint "
            f"{_plain(baseline)!r}, so the time of their scans cannot be counted from a "
            "baseline date. Add their baseline rows, or give scan times explicitly in a "
            f"{cols.scan_time!r} column.", file=file, column=cols.scan_date, ids=lacking)
    base = per_scan.groupby(level=0, sort=False).first()
    base_of_row = base.reindex(ltab[cols.patient_id].to_numpy()).to_numpy()
    elapsed = (dates.to_numpy() - base_of_row) / np.timedelta64(1, "D")
    return elapsed.astype(np.float64) / SCAN_TIME_UNITS[unit]


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _levels(tp: pd.Series) -> list[Any]:
    """Distinct timepoints in order (an ordered categorical in its category order)."""
    return list(pd.Series(pd.unique(tp)).sort_values())


# ------------------------------------------------------------------ vanished lesions
def vanished_rows(ltab: pd.DataFrame, cols: ColumnNames) -> np.ndarray:
    """Rows recording a vanished lesion: longest diameter 0 after the baseline timepoint.

    Returns a boolean array aligned with the rows (all False without a timepoint or a
    diameter column). The diameter column must be numeric (validated).

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.cohort import ColumnNames
    >>> les = pd.DataFrame({"timepoint": [0, 1, 1], "longest_diameter_mm": [0.0, 0.0, 7.0]})
    >>> vanished_rows(les, ColumnNames()).tolist()
    [False, True, False]
    """
    if cols.timepoint not in ltab.columns or cols.diameter not in ltab.columns:
        return np.zeros(len(ltab), dtype=bool)
    tp = ltab[cols.timepoint]
    after = (tp != _levels(tp)[0]).to_numpy(dtype=bool) if len(tp) else np.zeros(0, bool)
    return after & (ltab[cols.diameter].to_numpy(dtype=np.float64) == 0.0)


def warn_lesion_gaps(ltab: pd.DataFrame, cols: ColumnNames, *, file: str) -> list[tuple]:
    """Warn about lesions missing at a scan between two scans where they are recorded.

    At such a scan the patient was scanned (other rows at that timepoint), so the lesion
    reads as absent there: :class:`~survrad.lesions.Delta` counts it as vanished at that
    scan and seen again afterwards (not as new). Returns the ``(patient_id, lesion_id)``
    pairs (empty when there is no gap or no timepoint column).

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.cohort import ColumnNames
    >>> les = pd.DataFrame({"patient_id": ["P1"] * 4, "lesion_id": ["a", "b", "b", "a"],
    ...                     "timepoint": [0, 0, 1, 2]})
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     warn_lesion_gaps(les, ColumnNames(), file="lesions")
    [('P1', 'a')]
    """
    if cols.timepoint not in ltab.columns or ltab.empty:
        return []
    pid, lid = cols.patient_id, cols.lesion_id
    scan_rank = ltab.groupby(pid, sort=False)[cols.timepoint].rank(method="dense")
    per_lesion = scan_rank.groupby([ltab[pid], ltab[lid]], sort=False).agg(
        ["min", "max", "size"])
    span = per_lesion["max"] - per_lesion["min"] + 1
    gaps = list(per_lesion.index[(span > per_lesion["size"]).to_numpy()])
    if gaps:
        warnings.warn(
            f"[{file}] {len(gaps)} lesion(s) are missing at a scan of their patient between "
            f"two scans where they are recorded: {format_values(gaps)}. They are read as "
            "absent (gone) at those scans; record a vanished lesion with longest diameter "
            "0, or add the missing rows.", DataWarning, stacklevel=schema._stack())
    return gaps


# --------------------------------------------------------------------- scans table
def scan_table(lesions: pd.DataFrame, cols: ColumnNames,
               patient_ids: pd.Index) -> pd.DataFrame:
    """One row per scan: ``patient_id``, ``timepoint``, ``scan_time`` (and ``scan_date``).

    Parameters
    ----------
    lesions : pandas.DataFrame
        A longitudinal lesion table (with a timepoint column).
    cols : ColumnNames
        Column names.
    patient_ids : pandas.Index
        Patient order of the result.

    Returns
    -------
    pandas.DataFrame
        Scans in patient order, then timepoint order; ``scan_time`` is NaN when the table
        has no scan time column. Columns are named by ``cols``.

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.cohort import ColumnNames
    >>> les = pd.DataFrame({"patient_id": ["P2", "P1", "P1"], "lesion_id": ["a", "a", "a"],
    ...                     "timepoint": [0, 1, 0]})
    >>> scan_table(les, ColumnNames(), pd.Index(["P1", "P2"]))[["patient_id", "timepoint"]]
      patient_id  timepoint
    0         P1          0
    1         P1          1
    2         P2          0
    """
    pid, tp = cols.patient_id, cols.timepoint
    keep = [c for c in (cols.scan_time, cols.scan_date) if c in lesions.columns]
    first = lesions[[pid, tp, *keep]].drop_duplicates([pid, tp])
    order = np.lexsort((first[tp].rank(method="dense").to_numpy(),
                        patient_ids.get_indexer(first[pid])))
    out = first.iloc[order].reset_index(drop=True)
    if cols.scan_time not in out.columns:
        out.insert(2, cols.scan_time, np.nan)
    return out[[pid, tp, cols.scan_time, *([cols.scan_date] if cols.scan_date in keep
                                           else [])]]

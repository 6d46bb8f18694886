"""(start, stop] rows for time-varying covariates from a patient table and a scan table
(layer 2).

Covariates measured at repeated scans (tumour size, RECIST response, a delta-radiomic
score) change during follow-up. Using their value at a later scan as a baseline
covariate conditions on the future (a patient must survive to that scan to have it):
the *immortal-time bias*. The Cox model handles them as time-varying covariates on
counting-process data (R's ``coxph(Surv(start, stop, event) ~ ...)``): each patient's
follow-up ``(0, T]`` is split at the scan times into intervals ``(start, stop]``, each
with the covariate values known at its start.

:func:`counting_process_rows` builds these rows as R's ``survival::tmerge`` does with
``event()`` and ``tdc()``:

* a covariate measured at scans takes, on ``(start, stop]``, the value of the most
  recent scan at or before ``start`` (last observation carried forward, never a later
  scan); before a patient's first scan it is missing (NaN, as ``tmerge``), which every
  survrad model refuses with the row ids, so fill or exclude it deliberately;
* a "switch" covariate (e.g. responded yet) is 0 until the first scan at which its scan
  column is 1, and 1 from that scan on, whatever later scans show;
* the event is on the last row of a patient only.

Scans at or before time 0 (e.g. a pre-treatment baseline scan at day -7) give the
values of the first interval; a scan exactly at the end of follow-up changes no
interval. A scan after the end of follow-up cannot have been seen by a patient who had
the event or was censored before it; it is an error by default (a data problem: wrong
dates, or a follow-up time not updated), or, with ``late_scans="drop"``, dropped with a
:class:`~survrad.exceptions.DataWarning` listing each one.

Examples
--------
>>> import pandas as pd
>>> patients = pd.DataFrame({"patient_id": ["P1", "P2"], "os_time": [300.0, 90.0],
...                          "os_event": [1, 0]})
>>> scans = pd.DataFrame({"patient_id": ["P1", "P1", "P1", "P2"],
...                       "scan_time": [0.0, 60.0, 120.0, 0.0],
...                       "sld": [50.0, 40.0, 20.0, 30.0], "response": [0, 0, 1, 0]})
>>> rows = counting_process_rows(patients, scans, time_col="os_time", event_col="os_event",
...                              covariates=["sld"], switch_on={"responded": "response"})
>>> rows[["patient_id", "start", "stop", "event", "sld", "responded"]].to_numpy().tolist()
[['P1', 0.0, 60.0, 0, 50.0, 0], ['P1', 60.0, 120.0, 0, 40.0, 0], ['P1', 120.0, 300.0, 1, 20.0, 1], ['P2', 0.0, 90.0, 0, 30.0, 0]]
"""  # noqa: E501

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from survrad._validation import check_choice
from survrad.data.outcome import check_event, check_time
from survrad.exceptions import DataWarning, SchemaError, format_values

__all__ = ["counting_process_rows", "patient_table", "scan_table"]


def patient_table(patients: pd.DataFrame, *, id_col: str, time_col: str, event_col: str,
                  columns: Sequence[str] = ()) -> pd.DataFrame:
    """Checked patient table: ids (str, unique) as the index, time, event and ``columns``.

    ``patients`` holds the ids in a column ``id_col`` or as its index (named ``id_col``).
    Times must be numbers >= 0 and events 0/1 (:func:`survrad.data.outcome.check_time`,
    :func:`~survrad.data.outcome.check_event`).

    Examples
    --------
    >>> df = pd.DataFrame({"patient_id": ["P1"], "t": [5.0], "e": [1]})
    >>> patient_table(df, id_col="patient_id", time_col="t", event_col="e").index.tolist()
    ['P1']
    """
    if not isinstance(patients, pd.DataFrame):
        raise TypeError(f"patients must be a pandas DataFrame, got {type(patients).__name__}.")
    table = patients
    if id_col in table.columns:
        table = table.set_index(id_col)
    elif table.index.name != id_col:
        raise SchemaError(f"the patient table has no column {id_col!r} and is not indexed by "
                          "it; pass id_col= to name the patient id column.", file="patients")
    _require(table, [time_col, event_col, *columns], "patients")
    ids = pd.Index([str(i) for i in table.index], name=id_col)
    if ids.has_duplicates:
        raise SchemaError("duplicate patient ids in the patient table.", file="patients",
                          column=id_col, ids=list(ids[ids.duplicated()].unique()))
    out = table[list(columns)].copy()
    out.index = ids
    out[time_col] = check_time(table[time_col], ids=list(ids), column=time_col,
                               file="patients")
    out[event_col] = check_event(table[event_col], ids=list(ids), column=event_col,
                                 file="patients").astype(int)
    return out


def scan_table(scans: pd.DataFrame, *, id_col: str, scan_time_col: str,
               columns: Sequence[str] = (), patients: pd.Index | None = None) -> pd.DataFrame:
    """Checked scan table sorted by patient and scan time (a new RangeIndex).

    Ids become str; scan times must be finite numbers (any sign: a baseline scan may
    precede the start of follow-up); two scans of one patient at the same time are an
    error (which one holds?); with ``patients``, scans of unknown patients are an error.

    Examples
    --------
    >>> s = pd.DataFrame({"patient_id": ["P1", "P1"], "scan_time": [30.0, 0.0]})
    >>> scan_table(s, id_col="patient_id", scan_time_col="scan_time")["scan_time"].tolist()
    [0.0, 30.0]
    """
    if not isinstance(scans, pd.DataFrame):
        raise TypeError(f"scans must be a pandas DataFrame, got {type(scans).__name__}.")
    _require(scans, [id_col, scan_time_col, *columns], "scans")
    ids = scans[id_col].map(str)
    if scans[id_col].isna().any():
        raise SchemaError("scan rows without a patient id (rows, 1-based: "
                          f"{format_values((np.flatnonzero(scans[id_col].isna()) + 1).tolist())}"
                          ").", file="scans", column=id_col)
    times = pd.to_numeric(scans[scan_time_col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(times)
    if bad.any():
        raise SchemaError("scan time is missing, not a number or infinite; every scan needs "
                          "its time (in the unit of the follow-up times).", file="scans",
                          column=scan_time_col, ids=list(ids[bad]),
                          values=scans.loc[bad, scan_time_col].astype(str).tolist())
    if patients is not None:
        unknown = ~ids.isin(patients)
        if unknown.any():
            raise SchemaError("scans of patients absent from the patient table; fix the ids "
                              "or remove these scans.", file="scans", column=id_col,
                              ids=list(dict.fromkeys(ids[unknown])))
    out = scans[list(columns)].copy()
    out.insert(0, scan_time_col, times)
    out.insert(0, id_col, ids.to_numpy(dtype=object))
    out = out.sort_values([id_col, scan_time_col], kind="stable").reset_index(drop=True)
    dup = out.duplicated([id_col, scan_time_col], keep=False).to_numpy()
    if dup.any():
        pairs = list(dict.fromkeys(zip(out.loc[dup, id_col], out.loc[dup, scan_time_col],
                                       strict=True)))
        raise SchemaError(f"two or more scans of one patient at the same time: (patient, "
                          f"time) {format_values(pairs)}. Merge them (one row per scan) "
                          "first.", file="scans", column=scan_time_col,
                          ids=list(dict.fromkeys(p for p, _ in pairs)))
    return out


def _require(table: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in dict.fromkeys(columns) if c not in table.columns]
    if missing:
        raise SchemaError(f"the {name} table lacks the column(s) {format_values(missing)}; "
                          f"available: {format_values([str(c) for c in table.columns], 20)}.",
                          file=name)


def _switch_values(scans: pd.DataFrame, column: str, id_col: str) -> np.ndarray:
    """A switch column of the scan table as 0/1 (booleans and 0.0/1.0 accepted)."""
    return check_event(scans[column], ids=list(scans[id_col]), column=column,
                       file="scans").astype(int)


def _late_scans(scans: pd.DataFrame, end: pd.Series, *, id_col: str, scan_time_col: str,
                late_scans: str) -> pd.DataFrame:
    """Refuse (or drop, warning) the scans after each patient's end of follow-up."""
    late = (scans[scan_time_col].to_numpy() > end.loc[scans[id_col]].to_numpy())
    if not late.any():
        return scans
    listed = list(zip(scans.loc[late, id_col], scans.loc[late, scan_time_col], strict=True))
    what = (f"{int(late.sum())} scan(s) after the patient's end of follow-up (event or "
            f"censoring): (patient, scan time) {format_values(listed)}")
    if late_scans == "error":
        raise SchemaError(
            f"{what}. A patient cannot be scanned after death or the end of follow-up: fix "
            "the scan dates or the follow-up times, or pass late_scans='drop' to drop and "
            "list them.", file="scans", column=scan_time_col,
            ids=list(dict.fromkeys(p for p, _ in listed)))
    warnings.warn(f"{what} were dropped (late_scans='drop').", DataWarning, stacklevel=3)
    return scans.loc[~late].reset_index(drop=True)


def counting_process_rows(
    patients: pd.DataFrame,
    scans: pd.DataFrame,
    *,
    time_col: str,
    event_col: str,
    id_col: str = "patient_id",
    scan_time_col: str = "scan_time",
    covariates: Sequence[str] = (),
    switch_on: Mapping[str, str] | None = None,
    baseline: Sequence[str] = (),
    late_scans: str = "error",
) -> pd.DataFrame:
    """Split each patient's follow-up at their scan times into (start, stop] rows.

    The rows R's ``survival::tmerge`` builds with ``event(time, event)`` and
    ``tdc(scan_time, value)`` (see the module docstring for the rules): ready for
    ``Surv.from_counting(start=rows["start"], stop=rows["stop"], event=rows["event"],
    ids=rows[id_col])`` and ``CoxModel().fit(rows[features], y, groups=rows[id_col])``.

    Parameters
    ----------
    patients : DataFrame
        One row per patient: the id (column ``id_col`` or the index), the follow-up time
        (from time 0, e.g. the start of treatment; > 0) and the event indicator.
    scans : DataFrame
        One row per scan: ``id_col``, ``scan_time_col`` (same unit and origin as the
        follow-up times; negative for a scan before time 0) and the scan columns named
        in ``covariates`` and ``switch_on``.
    time_col, event_col : str
        Follow-up time and event columns of ``patients``.
    id_col : str, default "patient_id"
    scan_time_col : str, default "scan_time"
    covariates : sequence of str
        Scan columns carried forward from each scan to the next (values as they are,
        NaN included: a missing measurement stays missing until the next scan).
    switch_on : mapping of str to str, optional
        ``{new_column: scan_column}``: ``new_column`` is 0 until the first scan whose
        ``scan_column`` is 1 (0/1 or booleans; missing is an error: code an unevaluable
        scan explicitly), 1 from that scan to the end of follow-up.
    baseline : sequence of str
        Patient columns copied onto every row (fixed covariates).
    late_scans : {"error", "drop"}, default "error"
        What to do with scans after a patient's end of follow-up: a ``SchemaError``
        naming them, or drop them with a ``DataWarning`` listing them.

    Returns
    -------
    DataFrame
        Columns ``id_col, start, stop, event``, then ``baseline``, ``covariates`` and the
        ``switch_on`` columns; patients in the order of ``patients``, rows by start;
        ``event`` is 0/1 (1 only on the last row of a patient with the event).

    Raises
    ------
    SchemaError
        Missing columns; duplicate patient ids; bad follow-up times or events; a
        follow-up time of 0 (no interval to split); scans of unknown patients, without
        a time, or two at one time; late scans (``late_scans="error"``); a switch column
        not coded 0/1.

    Examples
    --------
    >>> import pandas as pd
    >>> patients = pd.DataFrame({"os_time": [10.0], "os_event": [1]},
    ...                         index=pd.Index(["P1"], name="patient_id"))
    >>> scans = pd.DataFrame({"patient_id": ["P1", "P1"], "scan_time": [-1.0, 4.0],
    ...                       "size": [3.0, 2.5]})
    >>> counting_process_rows(patients, scans, time_col="os_time", event_col="os_event",
    ...                       covariates=["size"])[["start", "stop", "size"]].values.tolist()
    [[0.0, 4.0, 3.0], [4.0, 10.0, 2.5]]
    """
    check_choice("late_scans", late_scans, ["error", "drop"])
    switch_on = dict(switch_on or {})
    covariates, baseline = list(covariates), list(baseline)
    _check_names(id_col, covariates, switch_on, baseline)
    pat = patient_table(patients, id_col=id_col, time_col=time_col, event_col=event_col,
                        columns=baseline)
    end = pat[time_col]
    zero = end.to_numpy() <= 0
    if zero.any():
        raise SchemaError("follow-up time is 0: there is no interval (0, time] to split. "
                          "Exclude these patients explicitly (they contribute nothing to a "
                          "Cox model).", file="patients", column=time_col,
                          ids=list(pat.index[zero]))
    sc = scan_table(scans, id_col=id_col, scan_time_col=scan_time_col,
                    columns=list(dict.fromkeys([*covariates, *switch_on.values()])),
                    patients=pat.index)
    sc = _late_scans(sc, end, id_col=id_col, scan_time_col=scan_time_col,
                     late_scans=late_scans)
    rows = _intervals(pat, sc, end, id_col=id_col, scan_time_col=scan_time_col,
                      event_col=event_col)
    rows = _carry_forward(rows, sc, covariates, id_col=id_col, scan_time_col=scan_time_col)
    for new, col in switch_on.items():
        switched = _switch_values(sc, col, id_col).astype(bool)
        first = sc.loc[switched].groupby(id_col, sort=False)[scan_time_col].min()
        on = first.reindex(rows[id_col]).to_numpy()        # NaN: never switched
        with np.errstate(invalid="ignore"):
            rows[new] = (rows["start"].to_numpy() >= on).astype(int)
    if baseline:
        base = pat[baseline].reindex(rows[id_col])
        for j, col in enumerate(baseline):
            rows.insert(4 + j, col, base[col].to_numpy())
    return rows


def _check_names(id_col: str, covariates: list[str], switch_on: dict[str, str],
                 baseline: list[str]) -> None:
    """Output columns are distinct and do not clash with the row layout."""
    out = [id_col, "start", "stop", "event", *baseline, *covariates, *switch_on]
    dup = [c for c in dict.fromkeys(out) if out.count(c) > 1]
    if dup:
        raise SchemaError(f"output column name(s) {format_values(dup)} used twice (the rows "
                          f"have {id_col!r}, 'start', 'stop', 'event', then baseline, "
                          "covariates and switch_on columns); rename them.")


def _intervals(pat: pd.DataFrame, sc: pd.DataFrame, end: pd.Series, *, id_col: str,
               scan_time_col: str, event_col: str) -> pd.DataFrame:
    """The (start, stop] rows: each follow-up cut at the scan times inside (0, end)."""
    inside = (sc[scan_time_col].to_numpy() > 0) & (
        sc[scan_time_col].to_numpy() < end.loc[sc[id_col]].to_numpy())
    cuts = sc.loc[inside, [id_col, scan_time_col]]
    code = pd.Series(np.arange(len(pat)), index=pat.index)
    cut_code = code.loc[cuts[id_col]].to_numpy()
    cut_time = cuts[scan_time_col].to_numpy(dtype=float)
    order = np.lexsort((cut_time, cut_code))             # patients' order, then time
    cut_time = cut_time[order]
    n_cuts = np.bincount(cut_code, minlength=len(pat))
    # per patient: starts = [0, cuts...], stops = [cuts..., end]; cuts are sorted by time
    pid = np.repeat(np.arange(len(pat)), n_cuts + 1)
    first = np.r_[0, np.cumsum(n_cuts + 1)[:-1]]
    is_last = np.zeros(pid.size, dtype=bool)
    is_last[first + n_cuts] = True
    later = np.ones(pid.size, dtype=bool)
    later[first] = False
    start = np.zeros(pid.size)
    start[later] = cut_time
    stop = np.empty(pid.size)
    stop[is_last] = end.to_numpy(dtype=float)
    stop[~is_last] = cut_time
    event = np.where(is_last, pat[event_col].to_numpy()[pid], 0).astype(int)
    return pd.DataFrame({id_col: pat.index.to_numpy(dtype=object)[pid], "start": start,
                         "stop": stop, "event": event})


def _carry_forward(rows: pd.DataFrame, sc: pd.DataFrame, covariates: list[str], *,
                   id_col: str, scan_time_col: str) -> pd.DataFrame:
    """Each row gets the covariates of its patient's last scan at or before its start."""
    if not covariates:
        return rows
    left = rows.assign(_row=np.arange(len(rows))).sort_values("start", kind="stable")
    right = sc[[id_col, scan_time_col, *covariates]].sort_values(scan_time_col,
                                                                 kind="stable")
    merged = pd.merge_asof(left, right, left_on="start", right_on=scan_time_col, by=id_col,
                           direction="backward", allow_exact_matches=True)
    merged = merged.sort_values("_row", kind="stable")
    out = rows.copy()
    for col in covariates:
        out[col] = merged[col].to_numpy()
    return out


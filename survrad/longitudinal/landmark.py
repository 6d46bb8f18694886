"""Landmark analysis: follow-up re-originated at a landmark time (layer 2).

A covariate known only after the start of follow-up (response at the first restaging
scan, the change of a radiomic feature between two scans) cannot be a baseline
covariate: patients must survive until it is measured (immortal-time bias). The
landmark method (Anderson, Cain and Gelber 1983) fixes a landmark time ``L``, keeps the
patients still under follow-up after ``L`` (event or censoring time > ``L``), counts
time from ``L`` and uses only what was known at ``L``.

* :func:`landmark` excludes the patients whose event or censoring was at or before the
  landmark and LISTS them with the reason (``Cohort.excluded``, or
  :attr:`LandmarkData.excluded` for a patient table), and re-originates the follow-up
  (``time - L``).
* :func:`status_at` gives each patient's scan values at the landmark: the last scan at
  or before ``L`` (``how="last"``) or whether a condition was seen at any scan up to
  ``L`` (``how="ever"``, e.g. responded by the landmark). Scans after ``L`` are never
  read. Its table (indexed by patient id, with the time of the last scan used in
  ``last_scan_time``) is what :func:`landmark` takes as ``predictors``; ``landmark``
  refuses a ``last_scan_time`` after the landmark.

Examples
--------
>>> import pandas as pd
>>> patients = pd.DataFrame({"os_time": [2.0, 8.0, 12.0], "os_event": [1, 0, 1]},
...                         index=pd.Index(["P1", "P2", "P3"], name="patient_id"))
>>> scans = pd.DataFrame({"patient_id": ["P2", "P2", "P3", "P3"],
...                       "scan_time": [0.0, 3.0, 0.0, 4.0], "response": [0, 1, 0, 0]})
>>> lm = landmark(patients, 3.0, predictors=status_at(scans, 3.0, ["response"],
...                                                   how="ever"))
>>> lm.patients[["os_time", "os_event", "response"]].to_numpy().tolist()
[[5.0, 0.0, 1.0], [9.0, 1.0, 0.0]]
>>> lm.excluded.to_numpy().tolist()
[['patients', 'P1', 'landmark 3: event at or before the landmark (os_time = 2)']]
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import check_choice
from survrad.data.cohort import Cohort
from survrad.exceptions import SchemaError, format_values
from survrad.longitudinal.timevarying import _switch_values, patient_table, scan_table

__all__ = ["LandmarkData", "landmark", "status_at"]

LAST_SCAN_TIME = "last_scan_time"
_EXCLUDED_COLUMNS = ["table", "id", "reason"]


@dataclasses.dataclass(frozen=True)
class LandmarkData:
    """The patients of a landmark analysis of a patient table (:func:`landmark`).

    Attributes
    ----------
    patients : DataFrame
        The patients still under follow-up after the landmark, indexed by patient id,
        with ``time_col`` re-originated (``time - landmark_time``) and the predictor
        columns joined. Read-only: copy before changing.
    excluded : DataFrame
        ``table, id, reason`` of every patient excluded (event or censoring at or before
        the landmark), as ``Cohort.excluded``.
    landmark_time : float
    time_col, event_col : str
        The outcome columns of ``patients``.
    predictors : tuple of str
        The predictor columns joined (known at the landmark).
    """

    patients: pd.DataFrame
    excluded: pd.DataFrame
    landmark_time: float
    time_col: str
    event_col: str
    predictors: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`patients`."""
        return self.patients.copy()


def _check_landmark(landmark_time: Any) -> float:
    if not isinstance(landmark_time, numbers.Real) or isinstance(landmark_time, bool) \
            or not math.isfinite(landmark_time) or landmark_time < 0:
        raise ValueError(f"landmark_time must be a finite number >= 0 (in the unit of the "
                         f"follow-up times), got {landmark_time!r}.")
    return float(landmark_time)


def status_at(scans: pd.DataFrame, landmark_time: float, columns: Sequence[str], *,
              id_col: str = "patient_id", scan_time_col: str = "scan_time",
              how: str = "last", ids: Sequence[Any] | None = None) -> pd.DataFrame:
    """Each patient's scan values known at the landmark (scans at or before it only).

    Parameters
    ----------
    scans : DataFrame
        One row per scan: ``id_col``, ``scan_time_col`` (same unit and origin as the
        follow-up) and ``columns``.
    landmark_time : float
    columns : sequence of str
        Scan columns to report.
    id_col, scan_time_col : str
    how : {"last", "ever"}, default "last"
        "last": the value at the patient's last scan at or before the landmark (missing
        stays missing). "ever": 1 if the column is 1 at any scan at or before the
        landmark, else 0 (the columns must be coded 0/1, e.g. response seen).
    ids : sequence, optional
        Patients to report, in this order (NaN where a patient has no scan at or before
        the landmark). Default: the patients with such a scan, sorted.

    Returns
    -------
    DataFrame
        Indexed by patient id (named ``id_col``): ``columns`` and ``last_scan_time`` (the
        time of the last scan used), ready for ``landmark(..., predictors=...)``.

    Examples
    --------
    >>> import pandas as pd
    >>> scans = pd.DataFrame({"patient_id": ["P1", "P1", "P1"],
    ...                       "scan_time": [0.0, 2.0, 5.0], "sld": [40.0, 30.0, 10.0]})
    >>> status_at(scans, 3.0, ["sld"]).to_numpy().tolist()
    [[30.0, 2.0]]
    """
    landmark_time = _check_landmark(landmark_time)
    check_choice("how", how, ["last", "ever"])
    columns = list(columns)
    if LAST_SCAN_TIME in columns:
        raise SchemaError(f"{LAST_SCAN_TIME!r} is the name of the column status_at adds; "
                          "rename that scan column.", file="scans")
    sc = scan_table(scans, id_col=id_col, scan_time_col=scan_time_col, columns=columns)
    sc = sc.loc[sc[scan_time_col].to_numpy() <= landmark_time]
    if how == "ever":
        for col in columns:
            sc[col] = _switch_values(sc, col, id_col)
    groups = sc.groupby(id_col, sort=True)
    # "last": the last scan's own values (GroupBy.last would skip missing ones)
    out = (groups[columns].max() if how == "ever"
           else groups.tail(1).set_index(id_col)[columns])
    out = out.assign(**{LAST_SCAN_TIME: groups[scan_time_col].max()})
    if ids is not None:
        out = out.reindex(pd.Index([str(i) for i in ids]))
    out.index.name = id_col
    return out


def landmark(data: Cohort | pd.DataFrame, landmark_time: float, endpoint: str = "os", *,
             predictors: pd.DataFrame | None = None, time_col: str | None = None,
             event_col: str | None = None,
             id_col: str = "patient_id") -> Cohort | LandmarkData:
    """Landmark data set: patients under follow-up after ``landmark_time``, time from it.

    Patients whose event or censoring time is at or before the landmark are excluded
    and listed with the reason; the others keep their event indicator and their time
    becomes ``time - landmark_time``. Predictors must be values known at the landmark:
    build them with :func:`status_at` (never from scans after it).

    Parameters
    ----------
    data : Cohort or DataFrame
        A :class:`~survrad.data.cohort.Cohort`, or a patient table (ids in the index
        or in the column ``id_col``).
    landmark_time : float
        In the unit of the follow-up times (>= 0).
    endpoint : str, default "os"
        A survival endpoint of the cohort. For a table, it names the default columns
        ``f"{endpoint}_time"`` and ``f"{endpoint}_event"``.
    predictors : DataFrame, optional
        Values known at the landmark, indexed by patient id (e.g. from
        :func:`status_at`), with a row for every patient kept (extra rows are
        ignored); joined to the patient table, and to ``patient_features`` of a cohort
        (all columns but ``last_scan_time``). Its ``last_scan_time``, when present, must
        be at or before the landmark.
    time_col, event_col : str, optional
        Outcome columns of a patient table (defaults above; ignored for a cohort).
    id_col : str, default "patient_id"
        Id column of a patient table.

    Returns
    -------
    Cohort or LandmarkData
        For a cohort: a new cohort of the patients kept (lesions and truth subset with
        them) whose ``endpoints`` hold ``endpoint`` only (other endpoints are not
        re-originated, so they are dropped), and whose ``excluded`` lists the excluded
        patients after those already listed. The lesion table is kept as it is: lesion
        rows of timepoints after the landmark must not feed a predictor (remove them, or
        use strategies on the baseline lesions). For a table: :class:`LandmarkData`.

    Raises
    ------
    SchemaError
        A binary or unknown endpoint; missing outcome columns or bad values; predictors
        missing for kept patients, clashing with existing columns, or measured after
        the landmark; no patient left.

    Examples
    --------
    >>> from survrad.data.cohort import Cohort, Endpoint
    >>> pts = pd.DataFrame({"t": [2.0, 8.0, 12.0], "e": [1, 0, 1]},
    ...                    index=pd.Index(["P1", "P2", "P3"], name="patient_id"))
    >>> cohort = Cohort(pts, endpoints={"os": Endpoint("os", "survival", time="t", event="e")})
    >>> lm = landmark(cohort, 3.0)
    >>> lm.patients["t"].tolist(), lm.excluded["id"].tolist()
    ([5.0, 9.0], ['P1'])
    """
    landmark_time = _check_landmark(landmark_time)
    if isinstance(data, Cohort):
        return _landmark_cohort(data, landmark_time, endpoint, predictors)
    time_col = f"{endpoint}_time" if time_col is None else time_col
    event_col = f"{endpoint}_event" if event_col is None else event_col
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a Cohort or a pandas DataFrame, got "
                        f"{type(data).__name__}.")
    other = [c for c in data.columns if c not in (id_col, time_col, event_col)]
    table = patient_table(data, id_col=id_col, time_col=time_col, event_col=event_col,
                          columns=other)
    keep, excluded = _split(table, landmark_time, time_col, event_col)
    kept = table.loc[keep].copy()
    kept[time_col] = kept[time_col] - landmark_time
    kept, added = _join(kept, predictors, landmark_time)
    return LandmarkData(kept, excluded, landmark_time, time_col, event_col, tuple(added))


def _split(table: pd.DataFrame, landmark_time: float, time_col: str,
           event_col: str) -> tuple[np.ndarray, pd.DataFrame]:
    """Patients kept (time > landmark) and the excluded ones with their reasons."""
    time = table[time_col].to_numpy(dtype=float)
    event = table[event_col].to_numpy(dtype=float) == 1.0
    keep = time > landmark_time
    if not keep.any():
        raise SchemaError(f"no patient is under follow-up after the landmark "
                          f"{landmark_time:g} (largest {time_col} = {time.max():g}); choose "
                          "an earlier landmark.", column=time_col)
    gone = np.flatnonzero(~keep)
    reasons = [f"landmark {landmark_time:g}: "
               + ("event" if event[i] else "censored")
               + f" at or before the landmark ({time_col} = {time[i]:g})" for i in gone]
    excluded = pd.DataFrame({"table": "patients", "id": [str(table.index[i]) for i in gone],
                             "reason": reasons}, columns=_EXCLUDED_COLUMNS)
    return keep, excluded


def _join(kept: pd.DataFrame, predictors: pd.DataFrame | None,
          landmark_time: float) -> tuple[pd.DataFrame, list[str]]:
    """The patient table with the predictor columns (checked) and their names."""
    if predictors is None:
        return kept, []
    if not isinstance(predictors, pd.DataFrame):
        raise TypeError("predictors must be a DataFrame indexed by patient id (e.g. from "
                        f"status_at), got {type(predictors).__name__}.")
    pred = predictors.set_axis([str(i) for i in predictors.index], axis=0)
    if pred.index.has_duplicates:
        raise SchemaError("predictors has several rows for one patient.",
                          ids=list(pred.index[pred.index.duplicated()].unique()))
    clash = [c for c in pred.columns if c in kept.columns]
    if clash:
        raise SchemaError(f"predictor column(s) {format_values(clash)} already exist in the "
                          "patient table; rename them.")
    missing = [i for i in kept.index if i not in pred.index]
    if missing:
        raise SchemaError("predictors has no row for these patients kept at the landmark; "
                          "give one row per patient (status_at(..., ids=...) gives NaN rows "
                          "for patients without a scan).", ids=missing)
    pred = pred.loc[list(kept.index)]
    if LAST_SCAN_TIME in pred.columns:
        late = pred[LAST_SCAN_TIME].to_numpy(dtype=float) > landmark_time
        if late.any():
            raise SchemaError(f"predictors were measured after the landmark "
                              f"{landmark_time:g} ({LAST_SCAN_TIME} later): values from the "
                              "future would bias the analysis. Build them with status_at("
                              "scans, landmark_time, ...).", column=LAST_SCAN_TIME,
                              ids=list(pred.index[late]))
    out = kept.copy()
    for col in pred.columns:
        out[col] = pred[col].to_numpy()
    return out, [c for c in pred.columns if c != LAST_SCAN_TIME]


def _landmark_cohort(cohort: Cohort, landmark_time: float, endpoint: str,
                     predictors: pd.DataFrame | None) -> Cohort:
    ep = cohort.endpoint(endpoint)
    if ep.kind != "survival":
        raise SchemaError(f"endpoint {endpoint!r} is {ep.kind}; a landmark analysis needs a "
                          "survival endpoint.")
    keep, excluded = _split(cohort.patients, landmark_time, ep.time, ep.event)
    sub = cohort.subset(list(cohort.patient_ids[keep]))
    patients = sub.patients.copy()
    patients[ep.time] = patients[ep.time] - landmark_time
    patients, added = _join(patients, predictors, landmark_time)
    before = cohort.excluded
    listed = excluded if before.empty else pd.concat([before, excluded], ignore_index=True)
    return dataclasses.replace(
        sub, patients=patients, endpoints={endpoint: ep}, excluded=listed,
        patient_features=tuple(dict.fromkeys([*cohort.patient_features, *added])))

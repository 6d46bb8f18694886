"""Progression-free survival from RECIST / iRECIST scan responses (layer 2)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from survrad._validation import check_choice, check_int
from survrad.data.cohort import Cohort
from survrad.data.schema import check_binary_column, check_columns
from survrad.exceptions import ConfigError, DataWarning, SchemaError, format_values
from survrad.longitudinal._scans import DAYS_PER
from survrad.longitudinal.recist import RecistResult

__all__ = ["pfs_from_scans"]

_FILE = "patients"
_NOT_ADEQUATE = frozenset({"NE", "iNE"})


def pfs_from_scans(result: RecistResult, patients: pd.DataFrame | Cohort, *,
                   death_time_col: str, death_event_col: str, origin_col: str | None = None,
                   scan_interval: float | None = None, max_missed_scans: int = 2,
                   visit_window: float = 0.0,
                   unconfirmed_iupd: str = "progression") -> pd.DataFrame:
    """Progression-free survival: first progression by scans, or death, whichever first.

    **Progression** is the first RECIST 1.1 PD scan, or, by iRECIST, the iUPD scan that a
    later iCPD confirmed: the guideline dates confirmed progression at the iUPD, so that
    iRECIST and RECIST 1.1 progression dates agree when iUPD is confirmed at once. An iUPD
    still unconfirmed at the last scan (no later scan, or only iNE/iUPD ones) is a
    progression at that iUPD scan with ``unconfirmed_iupd="progression"`` (the default:
    the scan met RECIST 1.1 progression, and scans usually stop because the patient
    worsened, so censoring would be informative) or censored at the last adequate scan
    before it with ``"censor"``.

    Progression is interval-censored: it happened between the last scan without it and
    the scan that found it. survrad uses the time of the scan of detection and treats
    the endpoint as right-censored, as is standard for PFS in trials (Kaplan-Meier, Cox);
    the scan schedule therefore shifts PFS upward by up to one scan interval, equally in
    arms scanned on the same schedule.

    **Death** (``death_event_col`` = 1) is an event at ``death_time_col`` when no
    progression came before (a progression on the day of death counts as progression).

    **Censoring**: without either event, at the last adequate scan (a scan whose response
    is not NE/iNE; the baseline scan when no follow-up scan is adequate). With
    ``scan_interval``, the FDA convention (Guidance for Industry, Clinical Trial
    Endpoints for the Approval of Cancer Drugs and Biologics, 2018): a progression or
    death more than ``max_missed_scans * scan_interval + visit_window`` after the last
    adequate scan before it (i.e. after two or more missed scans) is censored at that
    scan. The default ``scan_interval=None`` switches this rule off: every death before
    progression is an event (the EMA's primary analysis and an FDA sensitivity analysis).

    **Times** are on the scale of the scans (``result.by_timepoint["scan_time"]``,
    unit ``result.time_unit``) minus the origin: the patient's baseline scan, or
    ``origin_col`` (for example the date of randomisation or of the first treatment) on
    the same scale. With dated scans, ``death_time_col`` and ``origin_col`` may hold
    dates (datetime or ISO text), converted like the scans. ``pfs_time`` can be 0 (a
    patient censored at the baseline scan).

    Parameters
    ----------
    result : RecistResult
        From :func:`survrad.longitudinal.recist`, with scan times or dates.
    patients : pandas.DataFrame or Cohort
        One row per patient: ids in a ``patient_id`` column or the index; every patient
        of ``result`` must be present, and vice versa.
    death_time_col, death_event_col : str
        Time of death or last contact, and 1 for death / 0 for alive (overall survival).
    origin_col : str, optional
        Time zero per patient (default: the baseline scan).
    scan_interval : float, optional
        Planned time between scans, in ``result.time_unit``; turns on the missed-scans
        censoring rule.
    max_missed_scans : int, default 2
    visit_window : float, default 0
        Tolerance added to ``max_missed_scans * scan_interval``.
    unconfirmed_iupd : {"progression", "censor"}, default "progression"
        iRECIST only: how an iUPD still unconfirmed at the last scan counts.

    Returns
    -------
    pandas.DataFrame
        In the row order of ``patients``: ``patient_id``, ``pfs_time``, ``pfs_event``
        (0/1), ``pfs_source`` ("progression", "death" or "censored").

    Raises
    ------
    SchemaError
        Untimed scans; patients in one table only; a death before a recorded scan; a
        time before the origin; death columns not numeric or not 0/1.

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.longitudinal import recist
    >>> les = pd.DataFrame({"patient_id": ["P1"] * 3 + ["P2"] * 3, "lesion_id": "L1",
    ...                     "timepoint": [0, 1, 2] * 2, "organ": "liver",
    ...                     "longest_diameter_mm": [30.0, 20, 26, 30, 28, 27],
    ...                     "scan_time": [0, 8, 16] * 2})
    >>> res = recist(les, time_unit="weeks")
    >>> pts = pd.DataFrame({"patient_id": ["P1", "P2"], "os_weeks": [40.0, 20.0],
    ...                     "death": [1, 1]})
    >>> pfs_from_scans(res, pts, death_time_col="os_weeks", death_event_col="death")
      patient_id  pfs_time  pfs_event   pfs_source
    0         P1      16.0          1  progression
    1         P2      20.0          1        death
    """
    check_choice("unconfirmed_iupd", unconfirmed_iupd, ("progression", "censor"))
    max_missed = check_int("max_missed_scans", max_missed_scans, min_value=1)
    limit = _gap_limit(scan_interval, max_missed, visit_window)
    if not result.has_times:
        raise SchemaError("PFS needs timed scans: give scan_date or scan_time (with its "
                          "unit) in the lesion table.", file="lesions", column="scan_time")
    table = patients.patients if isinstance(patients, Cohort) else patients
    ids = _patient_ids(table)
    scans = result.by_timepoint
    codes = pd.Index(ids).get_indexer(scans["patient_id"])
    _check_same_patients(ids, scans["patient_id"], codes)
    check_columns(table, [death_time_col, death_event_col], file=_FILE)
    event = check_binary_column(table, death_event_col, file=_FILE, ids=list(ids)).to_numpy()
    base_date = _baseline_dates(scans, codes, ids.size)
    death = _times(table[death_time_col], death_time_col, ids, result, base_date)
    _no_missing(death, event == 1, death_time_col, ids, "deaths without a time")
    origin = None
    if origin_col is not None:
        check_columns(table, [origin_col], file=_FILE)
        origin = _times(table[origin_col], origin_col, ids, result, base_date)
        _no_missing(origin, np.ones(ids.size, dtype=bool), origin_col, ids, "missing origins")
    out = _pfs(scans, result, codes, ids, event, death, origin, limit, unconfirmed_iupd)
    return pd.DataFrame({"patient_id": ids, "pfs_time": out[0], "pfs_event": out[1],
                         "pfs_source": out[2]})


def _gap_limit(scan_interval: float | None, max_missed: int, window: float) -> float:
    if scan_interval is None:
        return np.inf
    if not (np.isfinite(scan_interval) and scan_interval > 0):
        raise ConfigError(f"scan_interval must be a number > 0, got {scan_interval!r}.",
                          key="scan_interval")
    if not (np.isfinite(window) and window >= 0):
        raise ConfigError(f"visit_window must be a number >= 0, got {window!r}.",
                          key="visit_window")
    return max_missed * float(scan_interval) + float(window)


def _patient_ids(table: pd.DataFrame) -> np.ndarray:
    ids = (table["patient_id"] if "patient_id" in table.columns else table.index.to_series())
    ids = np.asarray(ids, dtype=object)
    dup = pd.Index(ids)[pd.Index(ids).duplicated()]
    if len(dup):
        raise SchemaError("duplicate patient ids.", file=_FILE, column="patient_id",
                          ids=list(dup.unique()))
    return ids


def _check_same_patients(ids: np.ndarray, scanned: pd.Series, codes: np.ndarray) -> None:
    if (codes < 0).any():
        raise SchemaError("patients with scans are missing from the patient table.",
                          file=_FILE, column="patient_id",
                          ids=list(dict.fromkeys(scanned[codes < 0])))
    unscanned = np.setdiff1d(np.arange(ids.size), codes)
    if unscanned.size:
        raise SchemaError("patients without any scan in the RECIST result: PFS from scans "
                          "is not defined for them. Leave them out of the patient table "
                          "(or give their lesion rows).", file=_FILE, column="patient_id",
                          ids=list(ids[unscanned]))


def _baseline_dates(scans: pd.DataFrame, codes: np.ndarray, n: int) -> np.ndarray | None:
    if "scan_date" not in scans.columns:
        return None
    out = np.empty(n, dtype="datetime64[ns]")
    first = ~pd.Series(codes).duplicated().to_numpy()          # scans sorted by time
    out[codes[first]] = scans["scan_date"].to_numpy()[first]
    return out


def _times(raw: pd.Series, name: str, ids: np.ndarray, result: RecistResult,
           base_date: np.ndarray | None) -> np.ndarray:
    """A patient time column on the scans' scale (dates: since the baseline scan)."""
    is_date = pd.api.types.is_datetime64_any_dtype(raw.dtype) or (
        base_date is not None and raw.dtype == object)
    if is_date:
        if base_date is None:
            raise SchemaError("dates need dated scans (scan_date in the lesion table); give "
                              "numbers on the scan_time scale.", file=_FILE, column=name)
        parsed = pd.to_datetime(raw.astype(object).where(raw.notna(), None), errors="coerce",
                                format="ISO8601")
        bad = raw.notna().to_numpy() & parsed.isna().to_numpy()
        if bad.any():
            raise SchemaError("not a date (use ISO text, 2021-03-14).", file=_FILE,
                              column=name, ids=list(ids[bad]), values=list(raw[bad]))
        delta = parsed.to_numpy(dtype="datetime64[ns]") - base_date
        return delta / np.timedelta64(1, "D") / DAYS_PER[result.time_unit or "days"]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = raw.notna().to_numpy() & ~np.isfinite(values)
    if bad.any():
        raise SchemaError("missing or non-numeric times.", file=_FILE, column=name,
                          ids=list(ids[bad]), values=list(raw[bad]))
    if base_date is not None:
        raise SchemaError("the scans are dated: give dates, not numbers, so that both are on "
                          "one scale.", file=_FILE, column=name)
    return values


def _no_missing(values: np.ndarray, needed: np.ndarray, name: str, ids: np.ndarray,
                what: str) -> None:
    bad = needed & np.isnan(values)
    if bad.any():
        raise SchemaError(f"{what}; fill them in.", file=_FILE, column=name,
                          ids=list(ids[bad]))


def _pfs(scans: pd.DataFrame, result: RecistResult, codes: np.ndarray, ids: np.ndarray,
         event: np.ndarray, death: np.ndarray, origin: np.ndarray | None, limit: float,
         unconfirmed: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    n = ids.size
    time = scans["scan_time"].to_numpy(dtype=np.float64)
    tp = scans["timepoint"].to_numpy(dtype=np.float64)
    adequate = ~scans["response"].isin(_NOT_ADEQUATE).to_numpy()  # baseline (None) counts
    best = result.best_response.set_index("patient_id")
    prog_tp = best["progression_timepoint"].reindex(ids).to_numpy(dtype=np.float64)
    if "pending_iupd_timepoint" in best.columns:
        pending = best["pending_iupd_timepoint"].reindex(ids).to_numpy(dtype=np.float64)
    else:
        pending = np.full(n, np.nan)
    rows = pd.Series(np.arange(codes.size)).groupby(codes).agg(list)
    out_time, out_event, source = np.empty(n), np.zeros(n, dtype=np.int64), []
    late_death, late_contact = [], []
    zero = np.array([time[r[0]] for r in rows.reindex(range(n))]) if origin is None else origin
    for p in range(n):
        r = np.asarray(rows[p])
        t, ok, tps = time[r], adequate[r], tp[r]
        if death[p] < t[-1]:
            (late_death if event[p] == 1 else late_contact).append(ids[p])
        when, ev, src = _patient_pfs(t, ok, tps, prog_tp[p], pending[p], unconfirmed,
                                     death[p] if event[p] == 1 else np.inf, limit)
        out_time[p], out_event[p] = when - zero[p], ev
        source.append(src)
    if late_death:
        raise SchemaError("deaths before a recorded scan; check the death times and the "
                          "scan dates.", file=_FILE, ids=late_death)
    if late_contact:
        warnings.warn(f"[{_FILE}] {len(late_contact)} patient(s) alive at a last contact "
                      f"before their last scan: {format_values(late_contact)}. PFS uses the "
                      "scans; check the follow-up times.", DataWarning, stacklevel=3)
    negative = out_time < 0
    if negative.any():
        raise SchemaError("PFS times before the origin (origin after the event or the last "
                          "scan).", file=_FILE, ids=list(ids[negative]))
    return out_time, out_event, source


def _patient_pfs(t: np.ndarray, ok: np.ndarray, tps: np.ndarray, prog_tp: float,
                 pending_tp: float, unconfirmed: str, death: float,
                 limit: float) -> tuple[float, int, str]:
    """(time, event, source) of one patient, on the scan scale (``death`` inf if alive)."""
    if np.isnan(prog_tp) and unconfirmed == "progression":
        prog_tp = pending_tp
    if not np.isnan(prog_tp):
        k = int(np.flatnonzero(tps == prog_tp)[0])
        if t[k] <= death:
            last = t[:k][ok[:k]][-1]             # the baseline scan is adequate
            return (t[k], 1, "progression") if t[k] - last <= limit else (last, 0, "censored")
    if np.isfinite(death):
        adequate = t[ok]
        last = adequate[adequate <= death][-1]
        return (death, 1, "death") if death - last <= limit else (last, 0, "censored")
    end = int(np.flatnonzero(tps == pending_tp)[0]) if not np.isnan(pending_tp) else t.size
    return t[:end][ok[:end]][-1], 0, "censored"   # "censor": before the unconfirmed iUPD

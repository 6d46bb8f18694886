"""RECIST 1.1 and iRECIST response from lesion measurements (layer 2).

:func:`recist` reads a multi-timepoint lesion table (one row per lesion and scan),
selects the target lesions at baseline, sums their diameters at every scan and assigns
the timepoint responses and the best overall response of every patient, by RECIST 1.1
(Eisenhauer et al., Eur J Cancer 2009;45:228) or iRECIST (Seymour et al., Lancet Oncol
2017;18:e143). :func:`survrad.longitudinal.pfs_from_scans` turns the result into a
progression-free survival endpoint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from survrad._validation import check_choice
from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError
from survrad.longitudinal._assess import Assessment, assess
from survrad.longitudinal._best import best_responses
from survrad.longitudinal._scans import ScanData, read_scans, require_unit, weeks_to
from survrad.longitudinal.irecist import irecist_responses

__all__ = ["CRITERIA", "IRECIST_LABELS", "RECIST_LABELS", "RecistResult", "recist"]

CRITERIA = ("recist1.1", "irecist")
RECIST_LABELS = ("CR", "PR", "SD", "PD", "NE")
IRECIST_LABELS = ("iCR", "iPR", "iSD", "iUPD", "iCPD", "iNE")


@dataclasses.dataclass(frozen=True)
class RecistResult:
    """Timepoint and best overall responses of :func:`recist`.

    Attributes
    ----------
    by_timepoint : pandas.DataFrame
        One row per scan (baseline included), sorted by patient and timepoint:
        ``patient_id``, ``timepoint``, ``scan_date`` (when dates were given),
        ``scan_time`` (when times or dates were given; with dates, the time since the
        patient's baseline scan in ``time_unit``), ``sum_diameters`` (sum of the target
        sizes, mm; NaN when a target is not measured), ``nadir`` (smallest complete sum
        before this scan, baseline included: the PD reference), ``pct_from_baseline``,
        ``pct_from_nadir`` (percent changes of ``sum_diameters``; ``inf`` from a nadir of
        0), ``new_lesions`` (new lesions present at the scan), ``target_response``
        (CR/PR/SD/PD/NE of the targets alone) and ``response`` (the timepoint response;
        None at baseline). iRECIST adds ``new_target_sum`` (sum of the new-lesion
        targets, mm; 0 before any) and ``confirms_timepoint`` (on iCPD rows, the
        timepoint of the iUPD scan confirmed; NaN elsewhere).
    best_response : pandas.DataFrame
        One row per patient: ``patient_id``, ``best_response``, ``progression_timepoint``
        (first PD; iRECIST: the iUPD scan that iCPD confirmed; NaN if none) and, iRECIST
        only, ``pending_iupd_timepoint`` (an iUPD still unconfirmed at the last scan). With
        times: ``time_to_response`` (first counted CR/PR scan, when the best response is
        CR or PR) and ``time_to_progression``, both since the baseline scan.
    targets : pandas.DataFrame
        The baseline target lesions: ``patient_id``, ``lesion_id``, ``organ`` (when
        given), ``nodal``, ``baseline_size_mm`` (short axis for nodes, else longest
        diameter).
    new_lesions : pandas.DataFrame
        Lesions first seen after baseline: ``patient_id``, ``lesion_id``,
        ``first_timepoint`` and ``new_target`` (iRECIST new-lesion target).
    criteria : str
        ``"recist1.1"`` or ``"irecist"``.
    confirm : bool
        Whether CR and PR needed confirmation.
    time_unit : str or None
        Unit of ``scan_time`` and of the times (None: unknown or no times).
    confirm_interval, min_sd_time : float
        The confirmation interval and the minimum SD time since baseline, in
        ``time_unit`` (0 without times: the next scan confirms, any SD counts).
    """

    by_timepoint: pd.DataFrame
    best_response: pd.DataFrame
    targets: pd.DataFrame
    new_lesions: pd.DataFrame
    criteria: str
    confirm: bool
    time_unit: str | None
    confirm_interval: float
    min_sd_time: float

    def to_frame(self) -> pd.DataFrame:
        """The best overall responses (a copy)."""
        return self.best_response.copy()

    @property
    def has_times(self) -> bool:
        """Whether the scans are timed (``scan_time`` column in ``by_timepoint``)."""
        return "scan_time" in self.by_timepoint.columns


def recist(lesions: pd.DataFrame | Cohort, criteria: str = "recist1.1",
           confirm: bool = False, *, confirm_weeks: float = 4.0, min_sd_weeks: float = 6.0,
           time_unit: str | None = None, nodal_organs: Sequence[str] = ("lymph_node",),
           baseline_timepoint: float | None = None, patient_id_col: str | None = None,
           lesion_id_col: str | None = None, timepoint_col: str | None = None,
           diameter_col: str | None = None, short_axis_col: str | None = None,
           organ_col: str | None = None, is_target_col: str | None = None,
           scan_date_col: str | None = None, scan_time_col: str | None = None,
           non_target_progression_col: str | None = None,
           new_non_target_progression_col: str | None = None) -> RecistResult:
    """RECIST 1.1 or iRECIST responses of every scan and patient.

    **Input**: one row per lesion and scan. Required columns ``patient_id``,
    ``lesion_id``, ``timepoint`` (numeric, scan order; baseline = the smallest, or
    ``baseline_timepoint``) and ``longest_diameter_mm``; optional ``short_axis_mm``,
    ``organ``, ``is_target`` (0/1), ``scan_date`` (dates or ISO text) or ``scan_time``
    (numbers; with both, dates are used), and per scan (repeated on the scan's rows)
    ``non_target_progression`` (0/1, unequivocal progression of non-target disease;
    missing = not assessed) and ``new_non_target_progression`` (iRECIST: increase of new
    non-target lesions). Each ``*_col`` argument renames a column; a Cohort's own
    column names are the defaults for a Cohort. Optional columns are used when present.

    **Targets** (at baseline only). With ``is_target``, the marked lesions (more than 5,
    or 2 per organ, gives a DataWarning). Without it, RECIST 1.1 selection: measurable
    lesions (longest diameter >= 10 mm; nodes, i.e. ``organ`` in ``nodal_organs``
    (case-insensitive), short axis >= 15 mm), largest first (size = short axis for nodes,
    longest diameter otherwise; ties broken by ``str(lesion_id)`` in ascending order), at
    most 2 per organ and 5 in all. The other baseline lesions are non-targets.

    **Timepoint response** (RECIST 1.1 Table 1). The sum adds the short axis of nodal
    targets and the longest diameter of the others. A target without a measurement at
    a follow-up scan (no row, or a missing value) makes the sum not evaluable: the scan
    is "NE" unless progression is already met (the sum of the measured targets alone
    reaches the PD bar, a new lesion, non-target progression). A lesion that vanished
    must be recorded as 0 mm (a normal node by its short axis). Then: "PD" when the sum
    is >= 20 % and >= 5 mm above the nadir (the smallest complete sum so far, baseline
    included), when a new lesion is present (a ``lesion_id`` absent at baseline recorded
    with a size > 0, or an unmeasured one; nodes from 10 mm short axis), when
    ``non_target_progression`` is 1, or when a lesion reappears right after a CR (the
    paper's Table 3 footnote); "CR" when every non-nodal target is 0 mm and every nodal
    target < 10 mm short axis, and no new lesion; it is "PR" instead while a non-target
    lesion is present or not recorded (0 mm / node < 10 mm = gone); "PR" when the sum is
    >= 30 % below the baseline sum; "SD" otherwise. PD is checked first. Thresholds are
    inclusive (1e-9 mm slack for rounding). A patient without a target at baseline
    gets "NE" unless "PD" (DataWarning).

    **Best overall response** (section 4.4), from the scans up to the first PD
    (iRECIST: iCPD): CR, else PR, else SD when a scan with CR, PR or SD lies at least
    ``min_sd_weeks`` after baseline, else PD when progression occurred, else NE. With
    ``confirm=True`` a CR (PR) counts only when a later scan at least ``confirm_weeks``
    later is CR (CR or PR) and every scan between is CR (CR or PR) or NE; an unconfirmed
    CR or PR can still give SD. Without scan times, the next non-NE scan confirms and any
    SD counts.

    **iRECIST** (``criteria="irecist"``): labels iCR, iPR, iSD, iUPD, iCPD, iNE. The first
    RECIST 1.1 progression is iUPD; it becomes iCPD at a later assessment that shows a
    further increase (target sum >= 5 mm above its value at iUPD, new-lesion-target sum
    >= 5 mm above its value at iUPD, any new lesion, a non-target or new non-target
    progression flag) or RECIST progression in a category not progressing at iUPD;
    increases add up over consecutive iUPD scans. A scan with iCR/iPR/iSD of the baseline
    disease resets the bar when the new lesions are gone or the target sum has shrunk
    since iUPD; the next progression is a new iUPD. New lesions are measured apart: up
    to 5 new-lesion targets (2 per organ; measurable at first appearance, in order of
    appearance then size, or the ``is_target`` marks of new lesions) with their own sum.
    Clinical stability and the 4-8 week window of the confirming scan are not modelled:
    see :mod:`survrad.longitudinal.irecist` for the full rule set and its sources.

    Parameters
    ----------
    lesions : pandas.DataFrame or Cohort
        The lesion table (a Cohort's ``lesions``).
    criteria : {"recist1.1", "irecist"}
    confirm : bool, default False
        Require confirmation of CR and PR (non-randomised trials).
    confirm_weeks : float, default 4
        Minimum interval between a response and its confirmation.
    min_sd_weeks : float, default 6
        Minimum time since the baseline scan for SD to count as best response (RECIST
        1.1: "in general not less than 6-8 weeks"; 0 switches the rule off).
    time_unit : {"days", "weeks", "months", "years"}, optional
        With ``scan_date``: unit of the times (default "days"; a month is 365.25/12
        days). With ``scan_time``: its unit, needed to convert the week-based rules
        (ConfigError without it when ``min_sd_weeks`` > 0, or ``confirm`` with
        ``confirm_weeks`` > 0).
    nodal_organs : sequence of str, default ("lymph_node",)
        Organ labels of lymph nodes (exact, case-insensitive). ``()``: no node rules.
    baseline_timepoint : float, optional
        The baseline timepoint (default: the smallest in the table). A patient without a
        scan at it, or with scans before it, is an error.
    patient_id_col, lesion_id_col, timepoint_col, diameter_col, short_axis_col : str, optional
        Column names (defaults above).
    organ_col, is_target_col, scan_date_col, scan_time_col : str, optional
        Column names (defaults above).
    non_target_progression_col, new_non_target_progression_col : str, optional
        Column names (defaults above).

    Returns
    -------
    RecistResult

    Raises
    ------
    SchemaError
        Missing columns; duplicated (patient, lesion, timepoint); non-numeric or negative
        diameters; a patient without a baseline scan; scan dates (or times) out of order
        with the timepoints, or missing for some scans only, or different within a scan;
        a nodal target (or, without ``is_target``, a nodal baseline lesion) without a
        short axis; a target without a baseline measurement; target selection without an
        organ column; flags not coded 0/1.
    ConfigError
        Week-based rules with ``scan_time`` of unknown unit.

    Examples
    --------
    >>> import pandas as pd
    >>> les = pd.DataFrame({
    ...     "patient_id": ["P1"] * 6, "lesion_id": ["L1", "L2"] * 3,
    ...     "timepoint": [0, 0, 1, 1, 2, 2], "organ": ["liver", "lung"] * 3,
    ...     "longest_diameter_mm": [30.0, 20.0, 20.0, 14.0, 26.0, 20.0],
    ...     "scan_date": ["2021-01-04"] * 2 + ["2021-03-01"] * 2 + ["2021-04-26"] * 2})
    >>> res = recist(les)
    >>> res.by_timepoint[["sum_diameters", "nadir", "response"]].values.tolist()
    [[50.0, nan, None], [34.0, 50.0, 'PR'], [46.0, 34.0, 'PD']]
    >>> res.best_response[["patient_id", "best_response", "time_to_progression"]].values.tolist()
    [['P1', 'PR', 112.0]]
    """
    check_choice("criteria", criteria, CRITERIA)
    for name, value in (("confirm_weeks", confirm_weeks), ("min_sd_weeks", min_sd_weeks)):
        if not (np.isfinite(value) and value >= 0):
            raise ConfigError(f"{name} must be a number >= 0, got {value!r}.", key=name)
    names = {"patient_id": patient_id_col, "lesion_id": lesion_id_col,
             "timepoint": timepoint_col, "diameter": diameter_col,
             "short_axis": short_axis_col, "organ": organ_col, "is_target": is_target_col,
             "scan_date": scan_date_col, "scan_time": scan_time_col,
             "non_target_progression": non_target_progression_col,
             "new_non_target_progression": new_non_target_progression_col}
    data = read_scans(lesions, names, nodal_organs=tuple(nodal_organs),
                      baseline_timepoint=baseline_timepoint, time_unit=time_unit)
    irecist = criteria == "irecist"
    require_unit(data, min_sd_weeks > 0 or (confirm and confirm_weeks > 0),
                 "min_sd_weeks or confirm_weeks")
    a = assess(data, irecist=irecist)
    if irecist:
        labels, confirms, pending = irecist_responses(data, a)
        progression = confirms
    else:
        labels = _recist_responses(data, a)
        confirms = pending = None
        progression = np.where(labels == "PD", np.arange(labels.size), -1)
    timed = data.s_time is not None
    unit = data.time_unit
    interval = weeks_to(confirm_weeks, unit) if timed and confirm and unit else 0.0
    min_sd = weeks_to(min_sd_weeks, unit) if timed and unit else 0.0
    since = (data.s_time - data.s_time[data.p_first][data.s_patient]) if timed else None
    best, first_response = best_responses(labels, since, data.p_first, data.p_count,
                                          irecist=irecist, confirm=confirm,
                                          interval=interval, min_sd=min_sd)
    return RecistResult(
        by_timepoint=_timepoint_frame(data, a, labels, confirms, irecist),
        best_response=_best_frame(data, best, first_response, progression, pending, since),
        targets=_lesion_frame(data, a.targets, data.measure(), baseline=True),
        new_lesions=_new_lesion_frame(data, a),
        criteria=criteria, confirm=bool(confirm), time_unit=unit if timed else None,
        confirm_interval=interval, min_sd_time=min_sd)


def _recist_responses(data: ScanData, a: Assessment) -> np.ndarray:
    """RECIST 1.1 timepoint responses (Table 1; None at baseline)."""
    nt_pd = data.s_nt_progression == 1
    progression = a.target_pd | nt_pd | (a.new_present > 0)
    out = a.target_category.copy()
    cr = out == "CR"
    out[cr & ~(a.non_target_cr & (a.new_present == 0))] = "PR"
    out[progression] = "PD"
    was_cr = np.zeros(out.size, dtype=bool)
    was_cr[1:] = out[:-1] == "CR"
    out[was_cr & (data.s_pos > 0) & (a.present > 0)] = "PD"     # reappearance after CR
    return out


# ------------------------------------------------------------------------------ frames
def _timepoint_frame(data: ScanData, a: Assessment, labels: np.ndarray,
                     confirms: np.ndarray | None, irecist: bool) -> pd.DataFrame:
    tp = data.s_timepoint
    cols: dict[str, object] = {"patient_id": data.patient_ids[data.s_patient],
                               "timepoint": tp.astype(np.int64) if np.all(tp == np.round(tp))
                               else tp}
    if data.s_date is not None:
        cols["scan_date"] = data.s_date
    if data.s_time is not None:
        cols["scan_time"] = data.s_time
    total, nadir, base = a.full_sum, a.nadir, a.baseline_sum
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["sum_diameters"] = total
        cols["nadir"] = nadir
        cols["pct_from_baseline"] = 100.0 * (total - base) / base
        cols["pct_from_nadir"] = 100.0 * (total - nadir) / nadir
    cols["new_lesions"] = a.new_present
    cols["target_response"] = a.target_category
    cols["response"] = labels
    if irecist:
        cols["new_target_sum"] = a.new_target_sum
        confirmed = np.full(labels.size, np.nan)
        has = confirms >= 0
        confirmed[has] = data.s_timepoint[confirms[has]]
        cols["confirms_timepoint"] = confirmed
    return pd.DataFrame(cols)


def _best_frame(data: ScanData, best: list[str], first_response: np.ndarray,
                progression: np.ndarray, pending: np.ndarray | None,
                since: np.ndarray | None) -> pd.DataFrame:
    n = data.patient_ids.size
    first_prog = np.full(n, -1, dtype=np.intp)
    hits = np.flatnonzero(progression >= 0)
    patient = data.s_patient[hits]
    keep = np.ones(hits.size, dtype=bool)
    keep[1:] = patient[1:] != patient[:-1]          # the first progression of a patient
    first_prog[patient[keep]] = progression[hits[keep]]

    def at(scans: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = np.full(n, np.nan)
        ok = scans >= 0
        out[ok] = values[scans[ok]]
        return out

    cols: dict[str, object] = {"patient_id": data.patient_ids, "best_response": best,
                               "progression_timepoint": at(first_prog, data.s_timepoint)}
    if pending is not None:
        cols["pending_iupd_timepoint"] = at(pending, data.s_timepoint)
    if since is not None:
        cols["time_to_response"] = at(first_response, since)
        cols["time_to_progression"] = at(first_prog, since)
    return pd.DataFrame(cols)


def _lesion_frame(data: ScanData, lesions: np.ndarray, measure: np.ndarray, *,
                  baseline: bool) -> pd.DataFrame:
    cols: dict[str, object] = {"patient_id": data.patient_ids[data.l_patient[lesions]],
                               "lesion_id": data.l_id[lesions]}
    if data.l_organ is not None:
        cols["organ"] = data.l_organ[lesions]
    cols["nodal"] = data.l_nodal[lesions]
    if baseline:
        rows = np.flatnonzero(data.s_pos[data.r_scan] == 0)
        size = np.full(data.l_id.size, np.nan)
        size[data.r_lesion[rows]] = measure[rows]
        cols["baseline_size_mm"] = size[lesions]
    return pd.DataFrame(cols)


def _new_lesion_frame(data: ScanData, a: Assessment) -> pd.DataFrame:
    out = _lesion_frame(data, a.new_lesions, data.measure(), baseline=False)
    scans = data.p_first[data.l_patient[a.new_lesions]] + a.new_first_pos
    out["first_timepoint"] = data.s_timepoint[scans]
    out["new_target"] = np.isin(a.new_lesions, a.new_targets)
    return out

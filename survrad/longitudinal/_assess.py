"""Per-scan measurements of RECIST 1.1: targets, sums, nadir, non-target and new-lesion
status (layer 2; private). Everything is vectorised over (lesion, scan) pairs.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd

from survrad.exceptions import DataWarning, SchemaError, format_values
from survrad.longitudinal._scans import FILE, ScanData, lesion_labels

__all__ = ["Assessment", "assess", "meets_pd"]

PR_FRACTION = 0.30          #: PR: sum at least 30 % below the baseline sum
PD_FRACTION = 0.20          #: PD: sum at least 20 % above the nadir ...
PD_MIN_MM = 5.0             #: ... and at least 5 mm above it
MEASURABLE_MM = 10.0        #: a non-nodal lesion is measurable from 10 mm (longest diameter)
NODE_MEASURABLE_MM = 15.0   #: a node is measurable from 15 mm (short axis)
NODE_NORMAL_MM = 10.0       #: a node below 10 mm (short axis) is normal
MAX_TARGETS = 5
MAX_PER_ORGAN = 2
#: Thresholds are inclusive up to this slack (mm): 10 -> 12 mm is +20 % although
#: ``12 - 10 >= 0.2 * 10`` is False in floating point.
TOL = 1e-9


def meets_pd(value: np.ndarray | float, reference: np.ndarray | float) -> np.ndarray | bool:
    """RECIST progression of a sum: ``>= 20 %`` and ``>= 5 mm`` above ``reference``.

    Examples
    --------
    >>> bool(meets_pd(30.0, 25.0)), bool(meets_pd(12.0, 10.0))
    (True, False)
    """
    with np.errstate(invalid="ignore"):
        inc = np.subtract(value, reference)
        return (inc >= PD_FRACTION * np.asarray(reference) - TOL) & (inc >= PD_MIN_MM - TOL)


@dataclasses.dataclass(frozen=True, eq=False)
class Assessment:
    """Per-scan (``s``) and per-lesion arrays computed from the measurements."""

    targets: np.ndarray          # lesion codes of the baseline targets
    new_lesions: np.ndarray      # lesion codes of new lesions (first seen after baseline)
    new_first_pos: np.ndarray    # scan position of their first appearance
    new_targets: np.ndarray      # subset of new_lesions: iRECIST new-lesion targets
    n_targets: np.ndarray
    partial_sum: np.ndarray      # sum of the measured targets
    full_sum: np.ndarray         # NaN when a target is not measured
    baseline_sum: np.ndarray
    nadir: np.ndarray            # smallest full sum before the scan (NaN at baseline)
    target_pd: np.ndarray
    target_category: np.ndarray  # CR/PR/SD/PD/NE of the targets (None at baseline)
    present: np.ndarray          # baseline lesions (targets, non-targets) seen present
    non_target_cr: np.ndarray    # every non-target gone (or there is none)
    new_present: np.ndarray      # new lesions present at the scan
    new_first: np.ndarray        # new lesions first seen at the scan
    new_unknown: np.ndarray      # new lesions seen before, not recorded at the scan
    new_target_sum: np.ndarray   # NaN when a new-lesion target is not measured
    new_target_partial: np.ndarray


class _Lookup:
    """Measurement of (lesion, scan) pairs; NaN where the table has no row."""

    def __init__(self, data: ScanData, measure: np.ndarray) -> None:
        self.data = data
        self.measure = measure
        key = data.r_lesion.astype(np.int64) * data.n_scans + data.r_scan
        self.order = np.argsort(key, kind="stable")
        self.keys = key[self.order]

    def pairs(self, lesions: np.ndarray, from_pos: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(item, scan, value, found)`` for every lesion and every scan of its patient
        (from scan position ``from_pos`` on); ``item`` indexes ``lesions``."""
        d = self.data
        patient = d.l_patient[lesions]
        start = d.p_first[patient].copy()
        count = d.p_count[patient].copy()
        if from_pos is not None:
            start += from_pos
            count -= from_pos
        item = np.repeat(np.arange(lesions.size), count)
        offset = np.arange(item.size) - np.repeat(np.cumsum(count) - count, count)
        scan = np.repeat(start, count) + offset
        key = lesions[item].astype(np.int64) * d.n_scans + scan
        pos = np.minimum(np.searchsorted(self.keys, key), max(self.keys.size - 1, 0))
        found = self.keys[pos] == key
        value = np.where(found, self.measure[self.order[pos]], np.nan)
        return item, scan, value, found


def _gone(value: np.ndarray, nodal: np.ndarray) -> np.ndarray:
    """Measured as absent: 0 mm, or a node below 10 mm short axis."""
    with np.errstate(invalid="ignore"):
        return np.where(nodal, value < NODE_NORMAL_MM, value == 0.0)


def _count(scan: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(scan, weights, minlength=n)


def _capped(order: np.ndarray, patient: np.ndarray, organ: np.ndarray) -> np.ndarray:
    """Lesions of ``order`` (best first) kept with at most 2 per organ and 5 per patient."""
    frame = pd.DataFrame({"p": patient[order], "o": organ[order]})
    per_organ = frame.groupby(["p", "o"], sort=False, dropna=False).cumcount().to_numpy()
    keep = order[per_organ < MAX_PER_ORGAN]
    total = pd.Series(patient[keep]).groupby(patient[keep]).cumcount().to_numpy()
    return keep[total < MAX_TARGETS]


def _measurable(value: np.ndarray, nodal: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.where(nodal, value >= NODE_MEASURABLE_MM, value >= MEASURABLE_MM)


def _need_organ(data: ScanData, lesions: np.ndarray, what: str) -> np.ndarray:
    """Organ of ``lesions``; SchemaError when the column or a value is missing."""
    name = data.cols.organ or "organ"
    if data.l_organ is None:
        raise SchemaError(f"{what} needs an organ column (at most 2 targets per organ); "
                          "add it, or mark the targets in an is_target column.", file=FILE,
                          column=name)
    organ = data.l_organ[lesions]
    missing = np.array([o is None or (isinstance(o, float) and np.isnan(o)) for o in organ],
                       dtype=bool)
    if missing.any():
        raise SchemaError(f"{what}: measurable lesions without an organ.", file=FILE,
                          column=name, ids=lesion_labels(data, lesions[missing]))
    return organ


def _select_targets(data: ScanData, base_row: np.ndarray, measure: np.ndarray) -> np.ndarray:
    """Baseline targets: the is_target marks, or RECIST 1.1 selection (largest first)."""
    cols = data.cols
    baseline = np.flatnonzero(base_row >= 0)
    size = measure[base_row[baseline]]
    nodal = data.l_nodal[baseline]
    sa_name = cols.short_axis or "short_axis_mm"
    no_sa = nodal & np.isnan(data.r_sa[base_row[baseline]]) & ~np.isnan(
        data.r_ld[base_row[baseline]])
    if cols.is_target:
        mark = data.l_is_target[baseline]
        if np.isnan(mark).any():
            raise SchemaError("is_target is missing for baseline lesions; mark every "
                              "baseline lesion 0 or 1.", file=FILE, column=cols.is_target,
                              ids=lesion_labels(data, baseline[np.isnan(mark)]))
        chosen = mark == 1
        bad_node = chosen & no_sa
        if bad_node.any():
            raise SchemaError("nodal target lesions without a short axis at baseline; "
                              "RECIST measures nodes by their short axis.", file=FILE,
                              column=sa_name, ids=lesion_labels(data, baseline[bad_node]))
        with np.errstate(invalid="ignore"):
            unmeasured = chosen & ~(size > 0)
        if unmeasured.any():
            raise SchemaError("target lesions need a baseline measurement > 0.", file=FILE,
                              column=cols.diameter, ids=lesion_labels(data,
                                                                      baseline[unmeasured]))
        targets = baseline[chosen]
        _warn_over_limits(data, targets)
        return targets
    if no_sa.any():
        raise SchemaError("nodal lesions without a short axis at baseline: target selection "
                          "needs it (a node is measurable from 15 mm short axis). Add the "
                          "short axis, mark the targets in is_target, or set nodal_organs=() "
                          "to treat no organ as nodal.", file=FILE, column=sa_name,
                          ids=lesion_labels(data, baseline[no_sa]))
    ok = _measurable(size, nodal)
    candidates = baseline[ok]
    organ = _need_organ(data, candidates, "target selection")
    order = np.lexsort((data.l_rank[candidates], -size[ok], data.l_patient[candidates]))
    organ_all = np.empty(data.l_id.size, dtype=object)
    organ_all[candidates] = organ
    return np.sort(_capped(candidates[order], data.l_patient, organ_all))


def _warn_over_limits(data: ScanData, targets: np.ndarray) -> None:
    patient = data.l_patient[targets]
    counts = np.bincount(patient, minlength=data.patient_ids.size)
    over = counts > MAX_TARGETS
    if data.l_organ is not None and targets.size:
        frame = pd.DataFrame({"p": patient, "o": data.l_organ[targets]})
        per_organ = frame.groupby(["p", "o"], dropna=False).size()
        over[per_organ[per_organ > MAX_PER_ORGAN].index.get_level_values("p")] = True
    if over.any():
        warnings.warn(f"is_target marks more than {MAX_TARGETS} targets (or more than "
                      f"{MAX_PER_ORGAN} in one organ) for patients "
                      f"{format_values(data.patient_ids[over])}; RECIST 1.1 allows at most "
                      f"{MAX_TARGETS} ({MAX_PER_ORGAN} per organ). The marks are used as "
                      "given.", DataWarning, stacklevel=4)


def _new_targets(data: ScanData, new: np.ndarray, first_row: np.ndarray, first_pos: np.ndarray,
                 measure: np.ndarray, irecist: bool) -> np.ndarray:
    """iRECIST new-lesion targets: marked, or up to 5 (2 per organ) measurable new lesions
    in order of appearance, then size, then lesion id."""
    if not irecist or new.size == 0:
        return np.empty(0, dtype=np.intp)
    cols = data.cols
    if cols.is_target:
        mark = data.l_is_target[new]
        if np.isnan(mark).any():
            raise SchemaError("is_target is missing for new lesions; iRECIST needs every new "
                              "lesion marked as new-lesion target (1) or not (0).", file=FILE,
                              column=cols.is_target, ids=lesion_labels(data, new[np.isnan(mark)]))
        return new[mark == 1]
    size = measure[first_row]
    ok = _measurable(size, data.l_nodal[new])
    candidates = new[ok]
    organ = _need_organ(data, candidates, "iRECIST new-lesion target selection")
    order = np.lexsort((data.l_rank[candidates], -size[ok], first_pos[ok],
                        data.l_patient[candidates]))
    organ_all = np.empty(data.l_id.size, dtype=object)
    organ_all[candidates] = organ
    return np.sort(_capped(candidates[order], data.l_patient, organ_all))


def assess(data: ScanData, *, irecist: bool) -> Assessment:
    """Targets, sums, nadir and the status of non-target and new lesions at every scan."""
    n = data.n_scans
    measure = data.measure()
    lookup = _Lookup(data, measure)
    row_pos = data.s_pos[data.r_scan]
    base_row = np.full(data.l_id.size, -1, dtype=np.intp)
    at_base = np.flatnonzero(row_pos == 0)
    base_row[data.r_lesion[at_base]] = at_base
    targets = _select_targets(data, base_row, measure)
    _warn_no_targets(data, targets)

    item, scan, value, _ = lookup.pairs(targets)
    nodal = data.l_nodal[targets][item]
    measured = ~np.isnan(value)
    gone = measured & _gone(value, nodal)
    n_t = _count(scan, n)
    n_measured = _count(scan, n, measured)
    partial = _count(scan, n, np.where(measured, value, 0.0))
    n_gone = _count(scan, n, gone)
    full = np.where((n_measured == n_t) & (n_t > 0), partial, np.nan)
    baseline_sum = full[data.p_first][data.s_patient]
    running = pd.Series(np.where(np.isnan(full), np.inf, full)).groupby(
        data.s_patient).cummin().to_numpy()
    nadir = np.full(n, np.nan)
    nadir[1:] = running[:-1]
    nadir[(data.s_pos == 0) | ~np.isfinite(nadir)] = np.nan
    target_pd = (n_t > 0) & (data.s_pos > 0) & meets_pd(partial, nadir)
    with np.errstate(invalid="ignore"):
        target_pr = baseline_sum - full >= PR_FRACTION * baseline_sum - TOL
    category = np.full(n, "SD", dtype=object)
    category[target_pr] = "PR"
    category[(n_gone == n_t) & (n_t > 0)] = "CR"
    category[np.isnan(full) | (n_t == 0)] = "NE"
    category[target_pd] = "PD"
    category[data.s_pos == 0] = None

    non_targets = np.setdiff1d(np.flatnonzero(base_row >= 0), targets)
    item, scan, value, _ = lookup.pairs(non_targets)
    nt_gone = ~np.isnan(value) & _gone(value, data.l_nodal[non_targets][item])
    nt_present = ~np.isnan(value) & ~nt_gone
    non_target_cr = _count(scan, n, nt_gone) == _count(scan, n)
    present = (_count(scan, n, nt_present) + n_measured - n_gone).astype(np.int64)

    new, new_pos, first_row = _first_appearance(data, base_row, measure, row_pos)
    new_present_rows = _new_present_rows(data, base_row, measure)
    new_present = _count(data.r_scan[new_present_rows], n).astype(np.int64)
    new_first = _count(data.p_first[data.l_patient[new]] + new_pos, n).astype(np.int64)
    item, scan, value, found = lookup.pairs(new, new_pos)
    new_unknown = _count(scan, n, ~found).astype(np.int64)
    new_targets = _new_targets(data, new, first_row, new_pos, measure, irecist)
    nlt_pos = new_pos[np.searchsorted(new, new_targets)]
    item, scan, value, _ = lookup.pairs(new_targets, nlt_pos)
    ok = ~np.isnan(value)
    nlt_partial = _count(scan, n, np.where(ok, value, 0.0))
    nlt_full = np.where(_count(scan, n, ok) == _count(scan, n), nlt_partial, np.nan)
    return Assessment(targets=targets, new_lesions=new, new_first_pos=new_pos,
                      new_targets=new_targets, n_targets=n_t.astype(np.int64),
                      partial_sum=partial, full_sum=full, baseline_sum=baseline_sum,
                      nadir=nadir, target_pd=target_pd, target_category=category,
                      present=present, non_target_cr=non_target_cr, new_present=new_present,
                      new_first=new_first, new_unknown=new_unknown, new_target_sum=nlt_full,
                      new_target_partial=nlt_partial)


def _new_present_rows(data: ScanData, base_row: np.ndarray, measure: np.ndarray) -> np.ndarray:
    """Rows of lesions absent at baseline that record a lesion (unmeasured counts)."""
    is_new = base_row[data.r_lesion] < 0
    return is_new & (np.isnan(measure) | ~_gone(measure, data.l_nodal[data.r_lesion]))


def _first_appearance(data: ScanData, base_row: np.ndarray, measure: np.ndarray,
                      row_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """New lesions (sorted codes), the scan position and row of their first appearance.

    A lesion absent at baseline and only ever recorded as gone (0 mm) is not a lesion.
    """
    rows = np.flatnonzero(_new_present_rows(data, base_row, measure))
    rows = rows[np.lexsort((row_pos[rows], data.r_lesion[rows]))]
    lesion = data.r_lesion[rows]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = lesion[1:] != lesion[:-1]
    rows = rows[first]
    return data.r_lesion[rows], row_pos[rows], rows


def _warn_no_targets(data: ScanData, targets: np.ndarray) -> None:
    none = np.bincount(data.l_patient[targets], minlength=data.patient_ids.size) == 0
    if none.any():
        warnings.warn(f"patients {format_values(data.patient_ids[none])} have no target "
                      "lesion at baseline (no measurable disease): their scans are 'NE' "
                      "unless new lesions or non-target progression make them 'PD'.",
                      DataWarning, stacklevel=4)

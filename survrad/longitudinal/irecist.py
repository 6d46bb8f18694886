"""iRECIST timepoint responses (Seymour et al., Lancet Oncol 2017;18:e143; layer 2).

The rules, as implemented (:func:`survrad.longitudinal.recist` with
``criteria="irecist"`` documents them for users):

- **iUPD** when RECIST 1.1 progression is first met: target sum >= 20 % and >= 5 mm above
  the nadir (a reappearing lesion after an iCR counts too), unequivocal non-target
  progression (the ``non_target_progression`` flag), a new lesion, progression of new
  non-target lesions (``new_non_target_progression`` flag) or, after a reset that left
  new lesions in place, their new-lesion-target sum >= 20 % and >= 5 mm above its nadir
  since the reset.
- **iCPD** at a later assessment while iUPD is pending, when (increases are counted from
  the first iUPD scan of the episode, so 4 mm then 2 mm confirms, as the EORTC RECIST
  working group's FAQ states): the target sum is >= 5 mm above its value at iUPD (when the
  targets were the category in iUPD), or the targets newly meet RECIST progression (when
  they were not); any non-target progression flag; any further new lesion; the
  new-lesion-target sum >= 5 mm above its value at iUPD; a new non-target progression
  flag. Incomplete sums count when they already meet the bar (a missing lesion can only
  add to them). iCPD is dated at the iUPD it confirms; every later scan is iCPD.
- **Reset** (the bar is reset, a later progression is a new iUPD): when a pending iUPD is
  not confirmed and the targets are evaluable and not progressing (iCR, iPR or iSD
  against baseline and nadir) while new lesions are gone (every previously seen new
  lesion recorded as 0 mm; Table 2) or the target sum has shrunk below its value at iUPD
  (the FAQ's scenario B: new lesions do not block iPR/iSD after further shrinkage of the
  baseline disease; with no change the response stays iUPD, scenario F).
- Otherwise a pending iUPD stays **iUPD**; it is **iNE** when the targets are not all
  measured, or when previously seen new lesions are not recorded at the scan.

Not implemented (document in any report): clinical stability (iRECIST lets an unstable
patient stop before confirmation; this engine sees scans only), the 4-8 week window of
the confirmation scan (the next scan confirms whatever its timing), qualitative "any
increase" of new non-target lesions except through the flag, lesions splitting or
merging.
"""

from __future__ import annotations

import numpy as np

from survrad.longitudinal._assess import PD_MIN_MM, TOL, Assessment, meets_pd
from survrad.longitudinal._scans import ScanData

__all__: list[str] = []   # the engine is called by survrad.longitudinal.recist


def _label(k: int, a: Assessment, nt_flag: list, category: list) -> str:
    """iCR/iPR/iSD/iNE of a scan without progression (RECIST 1.1 Table 1 with i)."""
    cat = category[k]
    if cat == "NE":
        return "iNE"
    if cat == "CR":
        clean = a.non_target_cr[k] and a.new_present[k] == 0 and nt_flag[k] != 1
        return "iCR" if clean else "iPR"
    return "i" + cat


class _Episode:
    """State of one patient while the scans are read in order."""

    def __init__(self) -> None:
        self.pending = -1          # scan of the iUPD that waits for confirmation
        self.confirmed = -1        # the iUPD scan that iCPD confirmed
        self.target_in_pd = False  # the targets were a category in iUPD
        self.sum_at_iupd = np.nan
        self.nlt_at_iupd = np.nan
        self.tracking_new = False  # new lesions were left in place by a reset
        self.nlt_nadir = np.inf


def irecist_responses(data: ScanData, a: Assessment) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
    """Timepoint responses, the iUPD scan each iCPD confirms (-1 elsewhere) and, per
    patient, the scan of an iUPD still pending at the last scan (-1 if none).

    Internal: :func:`survrad.longitudinal.recist` calls it with its coded scans.
    """
    n = data.n_scans
    labels = np.full(n, None, dtype=object)
    confirms = np.full(n, -1, dtype=np.intp)
    pending_at_end = np.full(data.patient_ids.size, -1, dtype=np.intp)
    lists = {name: getattr(a, name).tolist() for name in (
        "target_pd", "target_category", "full_sum", "partial_sum", "present", "new_present",
        "new_first", "new_unknown", "new_target_sum", "new_target_partial")}
    nt_flag = data.s_nt_progression.tolist()
    nnt_flag = data.s_new_nt_progression.tolist()
    for p in range(data.patient_ids.size):
        first, count = int(data.p_first[p]), int(data.p_count[p])
        state = _Episode()
        previous = None
        for k in range(first + 1, first + count):
            label = _step(k, state, previous, a, lists, nt_flag, nnt_flag)
            labels[k] = label
            if label == "iCPD":
                confirms[k] = state.confirmed
            previous = label
        if state.pending >= 0:
            pending_at_end[p] = state.pending
    return labels, confirms, pending_at_end


def _step(k: int, st: _Episode, previous: str | None, a: Assessment, v: dict,
          nt_flag: list, nnt_flag: list) -> str:
    if st.confirmed >= 0:
        return "iCPD"
    targets = bool(v["target_pd"][k]) or (previous == "iCR" and v["present"][k] > 0)
    non_target = nt_flag[k] == 1
    new = v["new_first"][k] > 0 or nnt_flag[k] == 1
    if st.pending < 0:
        nlt = v["new_target_sum"][k]
        nlt_pd = st.tracking_new and bool(meets_pd(nlt, st.nlt_nadir))
        if targets or non_target or new or nlt_pd:
            st.pending, st.target_in_pd = k, targets
            st.sum_at_iupd, st.nlt_at_iupd = v["full_sum"][k], nlt
            return "iUPD"
        if st.tracking_new and not np.isnan(nlt):
            st.nlt_nadir = min(st.nlt_nadir, nlt)
        return _label(k, a, nt_flag, v["target_category"])
    if _confirmed(k, st, targets, non_target or new, v):
        st.confirmed, st.pending = st.pending, -1
        return "iCPD"
    category = v["target_category"][k]
    stable = category in ("CR", "PR", "SD")
    gone = v["new_present"][k] == 0 and v["new_unknown"][k] == 0
    shrunk = v["full_sum"][k] < st.sum_at_iupd - TOL      # False when either is NaN
    if stable and (gone or shrunk):
        st.pending = -1
        if v["new_present"][k] > 0:
            st.tracking_new = True
            st.nlt_nadir = v["new_target_sum"][k] if not np.isnan(
                v["new_target_sum"][k]) else np.inf
        return _label(k, a, nt_flag, v["target_category"])
    if category == "NE" or (stable and v["new_present"][k] == 0):
        return "iNE"      # targets or previously seen new lesions not recorded
    return "iUPD"


def _confirmed(k: int, st: _Episode, targets: bool, other: bool, v: dict) -> bool:
    """Does scan ``k`` confirm the pending iUPD?"""
    if other:
        return True
    if st.target_in_pd:
        if v["partial_sum"][k] - st.sum_at_iupd >= PD_MIN_MM - TOL:   # NaN: False
            return True
    elif targets:
        return True
    return bool(v["new_target_partial"][k] - st.nlt_at_iupd >= PD_MIN_MM - TOL)

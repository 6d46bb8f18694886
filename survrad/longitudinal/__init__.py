"""Layer 2: longitudinal multi-lesion studies (scans over time).

- :func:`recist`: RECIST 1.1 and iRECIST target selection, sums of diameters, timepoint
  and best overall responses from a multi-timepoint lesion table (:class:`RecistResult`);
- :func:`pfs_from_scans`: progression-free survival from those responses and the deaths
  of the patient table;
- :func:`counting_process_rows` splits each patient's follow-up at the scan times
  (last observation carried forward, "responded yet" switches), the rows R's
  ``survival::tmerge`` builds, for :meth:`survrad.Surv.from_counting` and
  :class:`survrad.models.CoxModel`;
- :func:`landmark` keeps the patients still at risk at a landmark time and re-originates
  their follow-up there; :func:`status_at` gives each patient's scan values known at
  the landmark;
- :func:`simulate_switch` draws a cohort with a known time-varying effect (a hazard
  ratio that applies from a switch time on), the check of both against the truth.
"""

from survrad.longitudinal.landmark import LandmarkData, landmark, status_at
from survrad.longitudinal.pfs import pfs_from_scans
from survrad.longitudinal.recist import (
    IRECIST_LABELS,
    RECIST_LABELS,
    RecistResult,
    recist,
)
from survrad.longitudinal.switch import SwitchSimulation, simulate_switch
from survrad.longitudinal.timevarying import counting_process_rows

__all__ = [
    "IRECIST_LABELS",
    "RECIST_LABELS",
    "LandmarkData",
    "RecistResult",
    "SwitchSimulation",
    "counting_process_rows",
    "landmark",
    "pfs_from_scans",
    "recist",
    "simulate_switch",
    "status_at",
]

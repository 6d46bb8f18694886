"""Layer 2: longitudinal (repeated-scan) data: time-varying covariates on (start, stop]
rows and landmark analysis.

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
from survrad.longitudinal.switch import SwitchSimulation, simulate_switch
from survrad.longitudinal.timevarying import counting_process_rows

__all__ = [
    "LandmarkData",
    "SwitchSimulation",
    "counting_process_rows",
    "landmark",
    "simulate_switch",
    "status_at",
]

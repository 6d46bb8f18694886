"""Layer 1: schema checks, readers, the Cohort, outcomes, the simulator."""

from survrad.data.cohort import Cohort, ColumnNames, Endpoint
from survrad.data.outcome import Surv

__all__ = ["Cohort", "ColumnNames", "Endpoint", "Surv"]

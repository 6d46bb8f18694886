"""Layer 2: longitudinal multi-lesion studies (scans over time).

- :func:`recist`: RECIST 1.1 and iRECIST target selection, sums of diameters, timepoint
  and best overall responses from a multi-timepoint lesion table (:class:`RecistResult`);
- :func:`pfs_from_scans`: progression-free survival from those responses and the deaths
  of the patient table.
"""

from survrad.longitudinal.pfs import pfs_from_scans
from survrad.longitudinal.recist import (
    IRECIST_LABELS,
    RECIST_LABELS,
    RecistResult,
    recist,
)

__all__ = ["IRECIST_LABELS", "RECIST_LABELS", "RecistResult", "pfs_from_scans", "recist"]

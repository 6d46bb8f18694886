"""The longitudinal section of a study's results: scan responses, PFS, landmark (layer 5).

Plain data only (computed by :mod:`survrad.study.section_longitudinal`, drawn by
:mod:`survrad.reporting.section_longitudinal`); it round-trips through
:meth:`survrad.evaluation.results.StudyResults.save` / ``load``.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from survrad.longitudinal.recist import RecistResult

__all__ = ["LongitudinalResult", "RecistResult"]


@dataclasses.dataclass(frozen=True, eq=False)
class LongitudinalResult:
    """RECIST / iRECIST responses of the analysed patients, PFS from scans, landmark.

    Attributes
    ----------
    recist : RecistResult
        Responses of every scan and patient (``survrad.recist`` on the analysed cohort's
        lesion table, scan times in ``time_unit`` since the baseline scan, or as given).
        In a landmark study: the patients kept and their scans up to the landmark (what
        was known at it).
    response_counts : pandas.DataFrame
        ``best_response, n, percent`` (of the patients of ``recist``), in label order.
    follow_up : pandas.DataFrame or None
        ``patient_id, time, event``: end of follow-up and death (the ``[response]``
        death columns) on the scans' time scale (a landmark study's re-originated times
        shifted back); None when the patient table has no such columns.
    pfs : pandas.DataFrame or None
        Endpoints derived from the scans (``from_scans``), long: ``endpoint,
        patient_id, time, event, source`` (time and event as analysed; ``source``
        "progression", "death" or "censored", None in a landmark study, whose times are
        re-originated).
    time_unit : str or None
        Unit of the scan times and of ``follow_up`` (None: untimed scans).
    landmark : float or None
        The study's landmark (in ``time_unit``), when it has one.
    """

    recist: RecistResult
    response_counts: pd.DataFrame
    follow_up: pd.DataFrame | None
    pfs: pd.DataFrame | None
    time_unit: str | None
    landmark: float | None = None

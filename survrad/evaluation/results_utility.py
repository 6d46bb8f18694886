"""Results of the "Clinical utility" and "Reporting checklist" report sections (layer 5).

Plain data, unrounded, computed by :func:`survrad.study.section_utility.compute_utility`
and saved with :class:`~survrad.evaluation.results.StudyResults`; the reporting layer
draws them (:mod:`survrad.reporting.section_utility`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from survrad.evaluation.decision import DecisionCurve
from survrad.evaluation.nomogram import Nomogram
from survrad.evaluation.smooth_calibration import SmoothCalibration

__all__ = ["CHECKLIST_SECTION", "UTILITY_SECTION", "DecisionCurve", "EndpointUtility",
           "Nomogram", "NomogramRecord", "SchoenfeldFigure", "SmoothCalibration",
           "UtilityResults"]

#: Titles of the report sections these results fill (the checklists link to them).
UTILITY_SECTION = "Clinical utility"
CHECKLIST_SECTION = "Reporting checklist"


@dataclass(frozen=True, eq=False)
class EndpointUtility:
    """Decision curves and smooth calibration of one endpoint's best pipeline, from its
    out-of-fold predictions (5-fold, patient-grouped).

    Attributes
    ----------
    endpoint, kind, model, strategy : str
    unit : str
        Time unit of the endpoint.
    n_patients, n_predicted : int
        Patients, and those with an out-of-fold prediction.
    decision_curves : tuple of DecisionCurve
        One per horizon (survival) or one (binary).
    calibrations : tuple of SmoothCalibration
        One per horizon (survival) or one (binary); a horizon whose smoother could not be
        fitted is left out (its reason is in the study's warnings).
    """

    endpoint: str
    kind: str
    model: str
    strategy: str
    unit: str
    n_patients: int
    n_predicted: int
    decision_curves: tuple[DecisionCurve, ...]
    calibrations: tuple[SmoothCalibration, ...]


@dataclass(frozen=True, eq=False)
class NomogramRecord:
    """The nomogram of a fitted model (the clinical Cox model of an endpoint)."""

    endpoint: str
    strategy: str
    model: str
    unit: str
    nomogram: Nomogram


@dataclass(frozen=True, eq=False)
class SchoenfeldFigure:
    """What the scaled Schoenfeld residual figure of a Cox model draws.

    Attributes
    ----------
    endpoint, strategy, model : str
    time, transformed_time : ndarray (n_events,)
    residuals : DataFrame (n_events, n_terms)
        Scaled Schoenfeld residuals of the drawn terms.
    smooths : mapping term -> DataFrame
        ``transformed_time, fit, lower, upper`` (R's ``plot(cox.zph)`` smooth, df = 4).
    coef, p_values : mapping term -> float
        Cox estimate and PH test p-value of each drawn term.
    transform : str
    n_terms : int
        Terms of the model (the figure draws at most six: those with the smallest p).
    """

    endpoint: str
    strategy: str
    model: str
    time: np.ndarray
    transformed_time: np.ndarray
    residuals: pd.DataFrame
    smooths: Mapping[str, pd.DataFrame]
    coef: Mapping[str, float]
    p_values: Mapping[str, float]
    transform: str
    n_terms: int


@dataclass(frozen=True, eq=False)
class UtilityResults:
    """Everything the "Clinical utility" and "Reporting checklist" sections show.

    Attributes
    ----------
    endpoints : tuple of EndpointUtility
        One per endpoint whose best pipeline has out-of-fold predictions.
    decision : DataFrame
        Long table of the decision curves: ``endpoint, model, strategy, horizon,
        threshold, net_benefit, treat_all, treat_none, n_above, n, event_rate``.
    calibration : DataFrame
        ``endpoint, model, strategy, horizon, n_knots, ici, e50, e90, emax``.
    nomograms : tuple of NomogramRecord
    ph_tests : DataFrame
        ``endpoint, model, strategy, term, chisq, df, p, note``: the PH test (R's
        ``cox.zph``, KM transform) of every unpenalised Cox pipeline's apparent fit and of
        the clinical Cox model; a penalised fit has one row with the reason and no test.
    schoenfeld : tuple of SchoenfeldFigure
        The best Cox pipeline of each survival endpoint.
    sample_size : DataFrame
        ``endpoint, model, strategy, n, events, n_predictors, epv``: events per candidate
        predictor of each apparent fit.
    checklist : DataFrame
        TRIPOD+AI items: ``checklist, item, section, topic, description, status, content,
        where``.
    rqs : DataFrame
        Radiomics Quality Score components: ``item, topic, criterion, min_points,
        max_points, points, status, content, where`` (``points`` NaN when to be reported
        by the authors).
    """

    endpoints: tuple[EndpointUtility, ...]
    decision: pd.DataFrame
    calibration: pd.DataFrame
    nomograms: tuple[NomogramRecord, ...]
    ph_tests: pd.DataFrame
    schoenfeld: tuple[SchoenfeldFigure, ...]
    sample_size: pd.DataFrame
    checklist: pd.DataFrame
    rqs: pd.DataFrame

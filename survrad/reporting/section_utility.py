"""The "Clinical utility" and "Reporting checklist" sections of the report (layer 6).

Renders :class:`~survrad.evaluation.results_utility.UtilityResults`: decision curves and
smooth calibration of each endpoint's best pipeline, the clinical Cox model's nomogram,
the PH tests with the scaled Schoenfeld residuals, the events per predictor, and the
TRIPOD+AI (``checklist.csv``) and Radiomics Quality Score (``rqs.csv``) checklists written
at the report root. Nothing is computed here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from survrad.evaluation.results_utility import (
    CHECKLIST_SECTION,
    UTILITY_SECTION,
    EndpointUtility,
    SchoenfeldFigure,
)
from survrad.reporting.html import ReportTable, ReportText
from survrad.reporting.tables import write_csv

__all__ = ["CHECKLIST_TITLE", "UTILITY_TITLE", "render_utility"]

UTILITY_TITLE = UTILITY_SECTION
CHECKLIST_TITLE = CHECKLIST_SECTION
_EVENT = {"survival": "the event", "binary": "the outcome"}


def _name(*parts: Any) -> str:
    from survrad.reporting.report import _slug  # report.py imports this module

    return _slug(*parts)


def _horizon(h: float | None, unit: str) -> str:
    return "" if h is None else f" at {h:g} {unit}"


def _curves(rep: Any, u: EndpointUtility) -> None:
    from survrad.reporting.figures_utility import DecisionCurveDisplay, SmoothCalibrationDisplay

    label = f"{u.strategy} ({u.model})"
    note = (f" {u.n_patients - u.n_predicted} patients of folds that could not be fitted "
            "have no prediction." if u.n_predicted < u.n_patients else "")
    for dc in u.decision_curves:
        tag = "" if dc.horizon is None else f"_{dc.horizon:g}"
        rep.figure(UTILITY_TITLE, lambda d=dc: DecisionCurveDisplay.from_curve(
            d, label=label, time_unit=u.unit, event=_EVENT[u.kind]).plot(),
            f"decision_{_name(u.endpoint, u.model, u.strategy)}{tag}",
            f"{u.endpoint}: decision curve{_horizon(dc.horizon, u.unit)} of the out-of-fold "
            f"predicted risks of {label} (5-fold, patient-grouped), with treat all and "
            f"treat none; net benefit at each threshold probability.{note}")
    for cal in u.calibrations:
        tag = "" if cal.horizon is None else f"_{cal.horizon:g}"
        rep.figure(UTILITY_TITLE, lambda c=cal: SmoothCalibrationDisplay.from_result(
            c, label=label, time_unit=u.unit, event=_EVENT[u.kind]).plot(),
            f"smooth_calibration_{_name(u.endpoint, u.model, u.strategy)}{tag}",
            f"{u.endpoint}: smooth calibration{_horizon(cal.horizon, u.unit)} of the "
            f"out-of-fold predictions of {label} (restricted cubic spline, {cal.n_knots} "
            f"knots); ICI, E50 and E90 are the mean, median and 90th percentile of "
            f"|observed - predicted|.{note}")


def _schoenfeld(rep: Any, fig: SchoenfeldFigure) -> None:
    from survrad.reporting.figures_models import SchoenfeldDisplay

    shown = ("" if len(fig.smooths) == fig.n_terms else
             f" The {len(fig.smooths)} of {fig.n_terms} terms with the smallest PH p-values.")
    rep.figure(UTILITY_TITLE, lambda f=fig: SchoenfeldDisplay(
        time=f.time, transformed_time=f.transformed_time, residuals=f.residuals,
        smooths=dict(f.smooths), coef=pd.Series(dict(f.coef)),
        p_values=pd.Series(dict(f.p_values)), transform=f.transform).plot(),
        f"schoenfeld_{_name(fig.endpoint, fig.model, fig.strategy)}",
        f"{fig.endpoint}, {fig.strategy} ({fig.model}): scaled Schoenfeld residuals against "
        f"time ({fig.transform} transform) with a smooth and its band (R's plot(cox.zph)); "
        f"a flat smooth at the estimate supports proportional hazards.{shown}")


def _utility(rep: Any, res: Any) -> None:
    from survrad.reporting.figures_utility import NomogramDisplay

    for u in res.endpoints:
        _curves(rep, u)
    if len(res.decision):
        tenths = res.decision["threshold"].to_numpy(dtype=float) * 10
        at_tenths = np.isclose(tenths, np.round(tenths))
        rep.table(UTILITY_TITLE, res.decision, "utility_decision_curves",
                  "Net benefit of the model, treat all and treat none by threshold "
                  "probability (rows at thresholds 0.1, 0.2, ... shown; every threshold in "
                  "the CSV).", shown=res.decision[at_tenths].reset_index(drop=True),
                  max_rows=None)
    if len(res.calibration):
        rep.table(UTILITY_TITLE, res.calibration, "utility_calibration",
                  "Smooth calibration of the out-of-fold predictions: ICI, E50, E90, Emax "
                  "(Austin, Harrell & van Klaveren 2020).", max_rows=None)
    for rec in res.nomograms:
        rep.figure(UTILITY_TITLE, lambda r=rec: NomogramDisplay.from_nomogram(
            r.nomogram, time_unit=r.unit).plot(), f"nomogram_{_name(rec.endpoint, rec.model)}",
            f"{rec.endpoint}: nomogram of the clinical Cox model (unpenalised, patient "
            "covariates, fitted on all patients): points per covariate, total points and "
            "predicted survival at each horizon.")
    if len(res.ph_tests):
        rep.table(UTILITY_TITLE, res.ph_tests, "utility_ph_tests",
                  "Proportional-hazards tests (R's cox.zph, Kaplan-Meier time transform) of "
                  "the Cox models fitted on all patients: each term and GLOBAL.",
                  max_rows=None)
    for fig in res.schoenfeld:
        _schoenfeld(rep, fig)


def _checklists(rep: Any, res: Any) -> None:
    rep.table(CHECKLIST_TITLE, res.sample_size, "utility_sample_size",
              "Patients, events (binary: the smaller outcome class) and predictors of every "
              "model fitted on all patients, with events per predictor.")
    write_csv(res.checklist, rep.root / "checklist.csv")
    counts = res.checklist["status"].value_counts()
    rep.add(CHECKLIST_TITLE, ReportText(
        f"TRIPOD+AI (Collins et al., BMJ 2024): {len(res.checklist)} items, "
        + ", ".join(f"{n} {status}" for status, n in counts.items()) + "."))
    rep.add(CHECKLIST_TITLE, ReportTable(
        res.checklist.drop(columns=["checklist"]), "TRIPOD+AI checklist: the items this "
        "analysis fills (with the report section or file that shows them) and those to be "
        "reported by the authors.", csv="checklist.csv", max_rows=None, folded=True))
    write_csv(res.rqs, rep.root / "rqs.csv")
    filled = res.rqs[res.rqs["points"].notna()]
    rep.add(CHECKLIST_TITLE, ReportTable(
        res.rqs.drop(columns=["checklist"]), "Radiomics Quality Score (Lambin et al., Nat "
        f"Rev Clin Oncol 2017): {filled['points'].sum():g} points from the "
        f"{len(filled)} components this analysis determines (of {len(res.rqs)}; total "
        "range -8 to 36); the others are scored by the authors.", csv="rqs.csv",
        max_rows=None, folded=True))


def render_utility(rep: Any, results: Any) -> None:
    """Add the clinical-utility and checklist sections of ``results.utility`` to ``rep``.

    Parameters
    ----------
    rep : report accumulator
        Of :func:`survrad.reporting.report.render_report` (``table``, ``figure``, ``add``,
        ``root``).
    results : StudyResults
        Nothing is drawn when ``results.utility`` is None.
    """
    res = results.utility
    if res is None:
        return
    _utility(rep, res)
    _checklists(rep, res)

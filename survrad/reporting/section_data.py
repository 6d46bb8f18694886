"""The report's "Missing data" section: renders a :class:`DataSection` (layer 6).

Missing values per column and table, complete cases, the most frequent missingness
patterns, the flow of patients and lesions from the files to the analysis (figure and
table; every excluded row is in ``excluded.csv``), and a partial-effect figure per
nonlinear formula term. Nothing is computed here.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from survrad.evaluation.results_data import DataSection
from survrad.reporting.html import ReportTable, ReportText

__all__ = ["SECTION", "render_data"]

#: The section's title in the report.
SECTION = "Missing data"
#: Patterns shown on the page (the CSV has every pattern).
MAX_PATTERNS = 10

_POLICY = {
    "error": "Every selected feature value was required to be present (missing = "
             "\"error\").",
    "complete_case": "Complete-case analysis (missing = \"complete_case\"): patients with a "
                     "missing patient feature were excluded with their lesions, lesion rows "
                     "with a missing lesion feature were excluded.",
    "impute": "Missing feature values were kept and imputed inside every pipeline "
              "(missing = \"impute\"): patient features by chained equations, lesion "
              "features by the training median, each rule learned on the training rows of "
              "every resample and applied to the held-out rows.",
}


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in str(text))


def render_data(rep: Any, results: Any) -> None:
    """Add the section to ``rep`` (a report under construction) when the study has one."""
    section: DataSection | None = getattr(results, "data", None)
    if section is None:
        return
    rep.add(SECTION, ReportText(_POLICY.get(section.policy, "")))
    if len(section.by_column):
        by = section.by_column
        shown = by.assign(percent=100 * by["fraction"]).drop(columns=["fraction"])
        rep.table(SECTION, by, "missing_by_column", "Missing values per feature column, as "
                  "read (before any exclusion): rows of the table, missing cells and percent.",
                  shown=shown.rename(columns={"percent": "% missing"}), max_rows=None)
    if len(section.complete_cases):
        cc = section.complete_cases
        rep.table(SECTION, cc, "complete_cases", "Complete cases: rows without any missing "
                  "feature value, per table.",
                  shown=cc.assign(fraction=100 * cc["fraction"]).rename(
                      columns={"fraction": "% complete"}), max_rows=None)
    for table, pat in section.patterns.items():
        if len(pat) > 1 or int(pat["n_missing"].max()) > 0:
            rep.table(SECTION, pat, f"missing_patterns_{_slug(table)}",
                      f"{table.capitalize()}: missingness patterns, most frequent first "
                      f"({len(pat)} patterns; 'missing' marks the columns missing in the "
                      "pattern, n the rows with it).", shown=_shown_pattern(pat),
                      max_rows=MAX_PATTERNS)
    _flow(rep, section, results)
    _effects(rep, section, results)


def _shown_pattern(pat: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in pat.columns if c not in ("n", "n_missing")]
    shown = pat.copy()
    for c in cols:
        shown[c] = pat[c].map({True: "missing", False: ""})
    return shown


def _flow(rep: Any, section: DataSection, results: Any) -> None:
    from survrad.reporting.figures_flow import ExclusionFlowDisplay

    flow = section.flow
    if not len(flow):
        return
    rep.figure(SECTION, lambda: ExclusionFlowDisplay.from_flow(flow).plot(),
               "exclusion_flow", "Flow of patients and lesions: rows read, excluded (by "
               "reason) and analysed.")
    rep.table(SECTION, flow, "exclusion_flow", "Rows read, excluded by reason, and "
              "analysed, per table.", max_rows=None)
    excluded = results.excluded
    if len(excluded):
        rep.add(SECTION, ReportTable(excluded, "Every excluded row with its reason (the "
                                     "first rows; the CSV lists them all).",
                                     csv="excluded.csv", max_rows=20))


def _effects(rep: Any, section: DataSection, results: Any) -> None:
    from survrad.reporting.figures_effects import PartialEffectDisplay

    for curve in section.partial_effects:
        eff = curve.effect
        refit = (" (the study's model is penalised: refitted without penalty, which has a "
                 "covariance matrix)" if curve.unpenalised_refit else "")
        rep.figure(SECTION, lambda c=curve: PartialEffectDisplay.from_effect(
            c.effect, observed=c.observed, label=f"{c.strategy} ({c.model})").plot(),
            f"partial_effect_{_slug(curve.endpoint)}_{_slug(curve.strategy)}_"
            f"{_slug(eff.variable)}",
            f"{curve.endpoint}: partial effect of {curve.term} in the {curve.strategy} Cox "
            f"pipeline fitted on every analysed patient{refit}: log hazard ratio against "
            f"{eff.variable} = {eff.reference:.4g} (the training median), other variables at "
            f"their medians or most frequent levels, with pointwise "
            f"{100 * eff.ci_level:g}% Wald intervals; ticks: observed values.")

"""The "External validation" section of the report (layer 6).

Renders :class:`~survrad.evaluation.results_external.ExternalResults`: the development vs
validation table (apparent, internally corrected, external), the per-centre forest plot
with the pooled random-effects estimate (design ``"loco"``), smooth calibration of the
frozen models on the validation patients, calibration in the large and slope, observed
vs expected risk and the recalibration table. Nothing is computed here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from survrad.evaluation.results_external import (
    EXTERNAL_SECTION,
    ExternalPipeline,
    ExternalResults,
)
from survrad.reporting._plotting import format_number
from survrad.reporting.html import ReportText

__all__ = ["EXTERNAL_TITLE", "external_methods", "render_external"]

EXTERNAL_TITLE = EXTERNAL_SECTION
_EVENT = {"survival": "the event", "binary": "the outcome"}


def _name(*parts: Any) -> str:
    from survrad.reporting.report import _slug  # report.py imports this module

    return _slug(*parts)


def _pct(level: float) -> str:
    return f"{100 * level:g}%"


def _sets_text(res: ExternalResults) -> str:
    """Which patients developed and which validated the models."""
    if res.design == "split":
        first = res.table.iloc[0] if len(res.table) else None
        counts = ("" if first is None else
                  f" ({int(first['n_development'])} patients, "
                  f"{int(first['events_development'])} events, against "
                  f"{int(first['n_validation'])} patients, {int(first['events_validation'])} "
                  "events)")
        return (f"Development patients: {res.column} = {list(res.train)}; validation "
                f"patients: {res.column} = {list(res.test)}{counts}. The internal "
                f"validation and every model of the other sections used the "
                f"{res.n_internal} development patients only; the validation patients were "
                "never fitted.")
    events = ("" if not len(res.table) else
              f" ({int(res.table['events_validation'].iloc[0])} events)")
    return (f"Leave-one-centre-out: each value of {res.column} ({', '.join(res.centers)}) "
            "was held out in turn, the whole pipeline fitted on the other centres and the "
            f"frozen model assessed on the held-out one; the internal validation used all "
            f"{res.n_internal} patients{events}. Patients and events of each centre are in "
            "the forest plots and the centre table.")


def _lead(res: ExternalResults) -> int:
    """The pipeline drawn first: the best internally corrected primary metric (chosen on
    the development data, never on the validation data), else the first."""
    values = []
    for p in res.pipelines:
        row = p.performance.iloc[0]
        v = float(row["internal"])
        sign = -1.0 if row["metric"] == "brier" else 1.0     # lower Brier is better
        values.append(sign * v if np.isfinite(v) else -np.inf)
    return int(np.argmax(values)) if values else 0


def _with_interval(est: pd.Series, low: pd.Series, high: pd.Series) -> list[str]:
    """``0.675 (0.629 to 0.717)`` per row (an en dash when missing)."""
    return [format_number(e, 3) if not (np.isfinite(lo) and np.isfinite(hi)) else
            f"{format_number(e, 3)} ({format_number(lo, 3)} to {format_number(hi, 3)})"
            for e, lo, hi in zip(est.astype(float), low.astype(float), high.astype(float),
                                 strict=True)]


def _shown(rep: Any, res: ExternalResults) -> pd.DataFrame:
    """The page's compact development vs validation table (every column in the CSV)."""
    t = res.table
    shown = pd.DataFrame({
        "endpoint": t["endpoint"], "model": t["model"], "pipeline": t["strategy"],
        "metric": t["metric"],
        "horizon": [("" if not np.isfinite(h) else f"{h:g}") for h in t["horizon"]],
        "apparent": [format_number(v, 3) for v in t["apparent"].astype(float)],
        "internal (CI)": _with_interval(t["internal"], t["internal_ci_low"],
                                        t["internal_ci_high"]),
        "external (CI)": _with_interval(t["external"], t["external_ci_low"],
                                        t["external_ci_high"])})
    if res.design == "loco":
        shown["prediction interval"] = [
            "" if not np.isfinite(lo) else f"{format_number(lo, 3)} to {format_number(hi, 3)}"
            for lo, hi in zip(t["pi_low"].astype(float), t["pi_high"].astype(float),
                              strict=True)]
    if (shown["horizon"] == "").all():
        shown = shown.drop(columns="horizon")
    return rep.relabel(shown, ["pipeline", "metric"]).reset_index(drop=True)


def _performance(rep: Any, res: ExternalResults) -> None:
    table = res.table
    shown = _shown(rep, res)
    level = _pct(res.ci_level)
    if res.design == "split":
        what = (f"external: the frozen model on the validation patients, with the {level} "
                f"percentile interval of {res.n_boot} bootstrap samples of those patients "
                "(the model fixed)")
    else:
        what = (f"external: the per-centre estimates pooled by a random-effects "
                f"meta-analysis ({res.meta_method}) with its {level} confidence interval "
                "and the prediction interval for a new centre; "
                "per-centre values of every metric are in the centre table")
    rep.table(EXTERNAL_TITLE, table, "external_performance",
              f"Development vs validation of every pipeline. apparent: the model scored on "
              f"the patients it was fitted on; internal: the study's internal validation "
              f"(method in the CSV) with its {level} interval; {what}.", shown=shown)


def _forest(rep: Any, res: ExternalResults, p: ExternalPipeline, folded: bool) -> None:
    from survrad.reporting.figures_external import CenterForestDisplay

    if p.centers is None or p.pooled is None:
        return
    metric = "c_index" if p.kind == "survival" else "auc"
    per = p.centers[p.centers["metric"] == metric].reset_index(drop=True)
    pooled = p.pooled.iloc[0] if len(p.pooled) else None
    label = "C-index" if metric == "c_index" else "AUC"
    rep.figure(EXTERNAL_TITLE, lambda: CenterForestDisplay(
        centers=per["center"].tolist(), estimates=per["estimate"].to_numpy(float),
        ci_low=per["ci_low"].to_numpy(float), ci_high=per["ci_high"].to_numpy(float),
        n=per["n"].tolist(), events=per["events"].tolist(),
        pooled=None if pooled is None else (pooled["estimate"], pooled["ci_low"],
                                            pooled["ci_high"]),
        prediction=None if pooled is None else (pooled["pi_low"], pooled["pi_high"]),
        i2=None if pooled is None else pooled["i2"],
        tau2=None if pooled is None else pooled["tau2"], metric=label).plot(),
        f"external_forest_{_name(p.endpoint, p.model, p.strategy)}",
        f"{p.endpoint}, {rep.label(p.strategy)} ({p.model}): {label} of the frozen model in "
        f"each held-out centre (patients and events beside each) with the "
        f"{_pct(res.ci_level)} percentile interval of {res.n_boot} bootstrap samples of "
        f"that centre's patients; diamond: random-effects pooled estimate "
        f"({res.meta_method}) with its confidence interval, line under it: prediction "
        "interval for a new centre."
        + (f" Not pooled: {p.meta_failure}." if p.meta_failure else ""), folded=folded)


def _smooth(rep: Any, res: ExternalResults, p: ExternalPipeline, folded: bool) -> None:
    from survrad.reporting.figures_utility import SmoothCalibrationDisplay

    horizons = [c.horizon for c in p.smooth]
    last = max((h for h in horizons if h is not None), default=None)
    first = True
    for cal, center in zip(p.smooth, p.smooth_centers, strict=True):
        if res.design == "loco" and cal.horizon != last:
            continue    # one horizon per centre (the others are in the O/E table)
        where = ("the validation patients" if res.design == "split"
                 else f"held-out centre {center}")
        n = p.calibration.loc[p.calibration["center"] == center, ["n", "events"]]
        counts = (f" ({int(n['n'].iloc[0])} patients, {int(n['events'].iloc[0])} events)"
                  if len(n) else "")
        at = "" if cal.horizon is None else f" at {cal.horizon:g} {p.unit}"
        tag = "" if cal.horizon is None else f"_{cal.horizon:g}"
        rep.figure(EXTERNAL_TITLE, lambda c=cal: SmoothCalibrationDisplay.from_result(
            c, label=f"{rep.label(p.strategy)} ({p.model})", time_unit=p.unit,
            event=_EVENT[p.kind]).plot(),
            f"external_calibration_{_name(p.endpoint, p.model, p.strategy, center)}{tag}",
            f"{p.endpoint}, {rep.label(p.strategy)} ({p.model}): smooth calibration{at} of "
            f"the frozen model on {where}{counts}, restricted cubic spline; ICI, E50 and "
            "E90 are the mean, median and 90th percentile of |observed - predicted|.",
            folded=folded or not first)
        first = False


def _pipeline_tables(rep: Any, res: ExternalResults) -> None:
    def long(attr: str) -> pd.DataFrame:
        frames = [getattr(p, attr).assign(endpoint=p.endpoint, model=p.model,
                                          strategy=p.strategy)
                  for p in res.pipelines if getattr(p, attr) is not None
                  and len(getattr(p, attr))]
        if not frames:
            return pd.DataFrame()
        out = pd.concat(frames, ignore_index=True)
        return out[["endpoint", "model", "strategy",
                    *[c for c in out.columns if c not in ("endpoint", "model", "strategy")]]]

    level = _pct(res.ci_level)
    sets = "each held-out centre" if res.design == "loco" else "the validation patients"
    tables = [
        ("centers", "external_centers", f"Every metric of the frozen model in each held-out "
         f"centre: estimate with the {level} percentile interval of {res.n_boot} bootstrap "
         "samples of the centre's patients; apparent: on the development centres; se: the "
         "standard error pooled (C: infinitesimal jackknife; others: bootstrap)."),
        ("pooled", "external_pooled", f"Random-effects meta-analysis of the per-centre "
         f"estimates ({res.meta_method}): pooled value, {level} confidence and prediction "
         "intervals, tau^2, I^2 (%) and Cochran's Q."),
        ("calibration", "external_calibration", f"Calibration of the frozen model on {sets}: "
         f"calibration in the large (ideal 0) and slope (ideal 1) with {level} Wald "
         "intervals (Cox: log(observed/expected events) and the coefficient of the linear "
         "predictor; logistic: intercept with the linear predictor as offset, and slope)."),
        ("observed_expected", "external_observed_expected", f"Observed risk (Kaplan-Meier, "
         f"{level} interval; binary: event rate) vs mean predicted risk of the frozen model "
         f"on {sets} at each horizon, with the O/E ratio and its interval."),
        ("recalibration", "external_recalibration", f"Recalibration on {sets}: calibration "
         "in the large and slope of the frozen model (none) and after each update "
         "(intercept: baseline hazard or intercept re-estimated; intercept_slope: linear "
         "predictor rescaled too; refit: coefficients re-estimated on the frozen features). "
         "Each update is estimated and assessed on the same patients, where it is "
         "calibrated by construction: the table shows what each update changes, not how it "
         "performs in further patients."),
    ]
    for attr, name, caption in tables:
        frame = long(attr)
        if len(frame):
            rep.table(EXTERNAL_TITLE, frame, name, caption,
                      shown=rep.relabel(frame, ["strategy", "metric"]), folded=True)


def render_external(rep: Any, results: Any) -> None:
    """Add the "External validation" section of ``results.external`` to ``rep``.

    Parameters
    ----------
    rep : report accumulator
        Of :func:`survrad.reporting.report.render_report` (``table``, ``figure``, ``add``).
    results : StudyResults
        Nothing is drawn when ``results.external`` is None.
    """
    res = results.external
    if res is None:
        return
    rep.add(EXTERNAL_TITLE, ReportText(_sets_text(res)))
    if not res.pipelines:
        rep.add(EXTERNAL_TITLE, ReportText("No pipeline could be externally validated: "
                                           "see the warnings."))
    else:
        _performance(rep, res)
        lead = _lead(res)
        order = [lead, *[k for k in range(len(res.pipelines)) if k != lead]]
        for rank, k in enumerate(order):
            p = res.pipelines[k]
            if res.design == "loco":
                _forest(rep, res, p, folded=rank > 0)
            if res.design == "split" or rank == 0:   # loco: K curves, of the lead only
                _smooth(rep, res, p, folded=rank > 0 or res.design == "loco")
        _pipeline_tables(rep, res)
    for note in res.notes:
        rep.add(EXTERNAL_TITLE, ReportText(note))


def external_methods(config: Any) -> str:
    """One Methods sentence when the study used ``[external]``, else ``""``.

    Examples
    --------
    >>> external_methods({"external": {"design": "loco", "column": None, "n_boot": 200},
    ...                   "validation": {}})[:40]
    'External validation: each value of cente'
    """
    spec = (config or {}).get("external")
    if not spec:
        return ""
    b = spec.get("n_boot", 200)
    if spec["design"] == "split":
        col = spec.get("column") or "split"
        return (f"External validation: every pipeline was developed on the patients with "
                f"{col} in {list(spec.get('train', ['train']))} (internal validation "
                f"included) and its frozen model assessed on the patients with {col} in "
                f"{list(spec.get('test', ['test', 'external']))}, with percentile intervals "
                f"from B = {b} bootstrap samples of the validation patients, calibration in "
                "the large and slope, and observed vs expected risk.")
    col = spec.get("column") or "center"
    return (f"External validation: each value of {col} was held out in turn "
            "(leave-one-centre-out internal-external validation), the pipeline fitted on "
            f"the other centres and assessed on it with percentile intervals from B = {b} "
            "bootstrap samples of the held-out patients; the centre C-indices (AUC for binary "
            "endpoints) were pooled on the logit scale by a random-effects meta-analysis "
            "(REML) with a prediction interval for a new centre (Debray et al. 2017).")

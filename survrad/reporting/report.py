"""Render a study's report folder from its :class:`~survrad.evaluation.results.StudyResults`.

The reporting layer only formats and draws: every number shown comes from the results
object (computed by :mod:`survrad.study.run`), which is also saved in ``results/`` so
that ``survrad report`` can render the same page again without computing anything.
Tables are written unrounded (CSV, spreadsheet-safe); rounding happens only in the HTML.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from survrad.reporting._plotting import METRIC_LABELS
from survrad.reporting.html import (
    ReportFigure,
    ReportTable,
    ReportText,
    methods_paragraph,
    write_index_html,
)
from survrad.reporting.section_data import render_data
from survrad.reporting.section_external import EXTERNAL_TITLE
from survrad.reporting.section_external import render_external as _section_external
from survrad.reporting.section_longitudinal import render_longitudinal as _section_longitudinal
from survrad.reporting.section_utility import CHECKLIST_TITLE, UTILITY_TITLE
from survrad.reporting.section_utility import render_utility as _section_utility
from survrad.reporting.tables import (
    format_coefficients,
    format_table_one,
    format_validation,
    write_csv,
)
from survrad.reporting.writer import (
    atomic_write_text,
    json_dumps,
    numerical_platform,
    package_versions,
)

__all__ = ["finish_manifest", "render_report", "write_report"]

#: What "corrected" means for each validation method (captions and axis labels).
ESTIMATES = {"optimism": "optimism-corrected", ".632+": ".632+ bootstrap",
             "cv": "cross-validated"}
OPTIMISM = {"optimism": "bootstrap distribution of the optimism (resample minus original)",
            ".632+": "bootstrap distribution of resample minus out-of-bag performance",
            "cv": "distribution of training-fold minus held-out-fold performance"}
BASELINES = ("clinical", "burden")
#: Rows of a table shown on the page (the full table is in its linked CSV).
MAX_ROWS = 15
_SECTIONS = ["Cohort", "Missing data", "Validation", EXTERNAL_TITLE, "Prediction",
             UTILITY_TITLE, "Models", "Lesions", "Response", "Lesion decisions",
             CHECKLIST_TITLE]


def _slug(*parts: Any) -> str:
    return "_".join(str(p).replace(" ", "-").replace("/", "-") for p in parts)


class _Report:
    """Accumulates sections while writing files into ``root``."""

    def __init__(self, root: Path, labels: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.labels = {**METRIC_LABELS, **dict(labels or {})}
        self.sections: dict[str, list[Any]] = {}
        self.pending: list[tuple[str, Callable[[], Any], str, ReportFigure]] = []

    def label(self, name: Any) -> str:
        """The readable name of a metric, strategy or term (``[report] labels`` first)."""
        return self.labels.get(str(name), str(name))

    def relabel(self, df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
        """A copy of ``df`` with readable names in ``columns`` (those present)."""
        return df.assign(**{c: df[c].map(self.label) for c in columns if c in df})

    def add(self, section: str, item: Any) -> None:
        self.sections.setdefault(section, []).append(item)

    def table(self, section: str, df: pd.DataFrame, name: str, caption: str,
              shown: pd.DataFrame | None = None, max_rows: int | None = MAX_ROWS,
              folded: bool = False) -> None:
        """Write ``tables/<name>.csv`` and show ``shown`` (default ``df``) on the page;
        ``folded`` tables open only on request (see :class:`ReportTable`)."""
        write_csv(df, self.root / "tables" / f"{name}.csv")
        self.add(section, ReportTable(df if shown is None else shown, caption,
                                      csv=f"tables/{name}.csv", max_rows=max_rows,
                                      folded=folded))

    def figure(self, section: str, make: Callable[[], Any], name: str, caption: str,
               folded: bool = False) -> None:
        """Queue a figure: ``make()`` returns a drawn Display; saved by :meth:`render`."""
        item = ReportFigure(f"figures/{name}.png", caption, folded=folded)
        self.add(section, item)
        self.pending.append((section, make, name, item))

    def render(self, errors: list[dict[str, Any]], n_jobs: int | None) -> None:
        """Draw and save every queued figure, ``n_jobs`` at a time (PNG + PDF each).

        A figure that cannot be drawn is logged in ``errors`` and left out of the page,
        never fatal; warnings raised while drawing are logged too. Each file depends only
        on its figure, so the output is the same whatever ``n_jobs``.
        """
        from joblib import Parallel, delayed

        jobs = [delayed(_draw)(make, self.root / "figures" / name)
                for _, make, name, _ in self.pending]
        outcomes = Parallel(n_jobs=n_jobs or 1)(jobs)
        for (section, _, name, item), (failure, caught) in zip(self.pending, outcomes,
                                                                 strict=True):
            errors += [{"stage": "figure", "figure": name, "category": c, "message": m}
                       for c, m in caught]
            if failure is not None:
                errors.append({"stage": "figure", "figure": name, **failure})
                self.sections[section].remove(item)
        self.pending = []


def _draw(make: Callable[[], Any], stem: Path
          ) -> tuple[dict[str, str] | None, list[tuple[str, str]]]:
    """Draw one figure and save it: the failure, if any, as category and message, and the
    warnings raised while drawing (e.g. a glyph missing from the font), recorded in the
    report's warnings instead of interrupting it."""
    import warnings

    from survrad.reporting.style import save_figure

    failure = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            display = make()
        except (ValueError, KeyError) as exc:
            failure = {"category": type(exc).__name__, "message": str(exc)}
        else:
            save_figure(display.figure_, stem)
    return failure, sorted({(w.category.__name__, str(w.message)) for w in caught})


# --------------------------------------------------------------------- sections
def _primary(results: Any) -> pd.DataFrame:
    """The estimates of each endpoint's primary metric (its first metric, no horizon)."""
    est = results.estimates
    first = est.groupby("endpoint", sort=False)["metric"].transform("first")
    return est[(est["metric"] == first) & est["horizon"].isna()]


def _validation(rep: _Report, results: Any) -> None:
    from survrad.reporting.figures_comparison import StrategyComparisonDisplay
    from survrad.reporting.figures_validation import OptimismDisplay

    est = results.estimates
    write_csv(est, rep.root / "results.csv")
    level = float(results.config["validation"]["ci_level"])
    shown = format_validation(rep.relabel(_primary(results).reset_index(drop=True),
                                          ["strategy", "metric"]), ci_level=level)
    rep.add("Validation", ReportTable(
        shown, "Validation of every endpoint x strategy x model: the primary metric of each "
        "endpoint (Harrell's C for survival, AUC for binary endpoints), apparent, optimism "
        "and corrected value with its interval (the validation method of each model is "
        "given in the Methods). Every metric is in the CSV.", csv="results.csv",
        max_rows=MAX_ROWS))
    ci = int(100 * level)
    for (ep, model), block in _primary(results).groupby(["endpoint", "model"], sort=False):
        metric = str(block["metric"].iloc[0])
        method = str(block["method"].iloc[0])
        estimate = ESTIMATES[method]
        reps = results.replicates
        reps_block = reps[(reps["endpoint"] == ep) & (reps["model"] == model)]
        write_csv(reps_block, rep.root / "tables" / f"replicates_{_slug(ep, model)}.csv")
        diffs = results.differences
        diffs = diffs[(diffs["endpoint"] == ep) & (diffs["model"] == model)]
        if len(diffs):
            rep.table("Validation", diffs.reset_index(drop=True),
                      f"differences_{_slug(ep, model)}",
                      f"{ep}, {model}: paired differences of corrected {rep.label(metric)} "
                      f"against {rep.label(diffs['reference'].iloc[0])} (same bootstrap "
                      "samples; drawn on the right of the comparison figure).",
                      shown=rep.relabel(diffs.reset_index(drop=True),
                                        ["pipeline", "reference", "metric"]), folded=True)
        summary = rep.relabel(block.rename(columns={"strategy": "pipeline"}).assign(
            baseline=lambda d: d["pipeline"].isin(BASELINES)), ["pipeline"])
        d = (rep.relabel(diffs[["pipeline", "reference", "metric", "difference", "ci_low",
                                "ci_high"]].assign(model=model), ["pipeline", "reference"])
             if len(diffs) else None)
        rep.figure("Validation", lambda s=summary, d=d, m=metric, e=estimate: (
            StrategyComparisonDisplay.from_summary(s, metric=m, differences=d,
                                                   estimate=e).plot()),
            f"comparison_{_slug(ep, model)}",
            f"{ep}, {model}: {estimate} {rep.label(metric)} with {ci}% CI per strategy; "
            "baselines marked; right: paired differences.")
        best = str(block.loc[block["corrected"].idxmax(), "strategy"]) \
            if block["corrected"].notna().any() else str(block["strategy"].iloc[0])
        rb = reps_block[(reps_block["strategy"] == best) & (reps_block["metric"] == metric)
                        & reps_block["horizon"].isna()]
        rep.figure("Validation", lambda r=rb, m=metric: OptimismDisplay.from_values(
            r["fit"], r["test"], metric=m, status_ok=r["status"] == "ok").plot(),
            f"optimism_{_slug(ep, model, best)}",
            f"{ep}, {model}, {rep.label(best)}: {OPTIMISM[method]} of {rep.label(metric)}.")
    if len(results.failures):
        rep.table("Validation", results.failures, "failures",
                  "Bootstrap replicates that failed or could not compute a metric, by "
                  "pipeline and reason (within the study's max_failed budget; such "
                  "replicates are left out of the estimates and counted in n_failed).")


def _predictions(rep: _Report, results: Any) -> None:
    from survrad.reporting.figures_survival import KaplanMeierDisplay
    from survrad.reporting.figures_validation import (
        CalibrationDisplay,
        ROCDisplay,
        TimeDependentAUCDisplay,
    )

    for pred in results.predictions:
        ep, strategy, model = pred.endpoint, pred.strategy, pred.model
        name = _slug(ep, model, strategy)
        unit = results.endpoints[ep]["unit"]
        note = ""
        if pred.n_predicted < pred.n_patients:
            note = (f" {pred.n_patients - pred.n_predicted} patients of folds that could not "
                    f"be fitted have no out-of-fold prediction ({len(pred.fold_failures)} "
                    "failed folds; see warnings).")
        if pred.roc is not None:
            rep.figure("Prediction", lambda r=pred.roc, lab=f"{strategy} ({model})": (
                ROCDisplay.from_curve(r, label=lab).plot()),
                f"roc_{name}", f"{ep}: ROC curve of out-of-fold predictions, {strategy}, "
                f"{model} (5-fold, patient-grouped).{note}")
        if pred.risk_groups is not None:
            rep.figure("Prediction", lambda g=pred.risk_groups, u=unit: (
                KaplanMeierDisplay.from_result(g, time_unit=u).plot()),
                f"km_{name}", f"{ep}: Kaplan-Meier curves by predicted risk group "
                f"({strategy}, {model}); groups from out-of-fold predictions with cut-points "
                "(tertiles) chosen inside each training fold; log-rank p and hazard "
                f"ratios.{note}")
        for cal in pred.calibration:
            rep.figure("Prediction", lambda c=cal, u=unit: (
                CalibrationDisplay.from_calibration(c, time_unit=u).plot()),
                f"calibration_{name}_{cal.horizon:g}",
                f"{ep}: calibration at {cal.horizon:g} {unit} (out-of-fold predicted "
                f"survival vs Kaplan-Meier by risk quintile), {strategy}, {model}.{note}")
        est = results.estimates
        auc = est[(est["endpoint"] == ep) & (est["strategy"] == strategy)
                  & (est["model"] == model) & (est["metric"] == "td_auc")]
        if len(auc):
            method = str(auc["method"].iloc[0])
            rep.figure("Prediction", lambda a=auc, u=unit, lab=f"{strategy} ({model})": (
                TimeDependentAUCDisplay.from_values(
                    a["horizon"].to_numpy(float), a["corrected"].to_numpy(float),
                    ci_low=a["ci_low"].to_numpy(float), ci_high=a["ci_high"].to_numpy(float),
                    label=lab, time_unit=u).plot()),
                f"td_auc_{name}", f"{ep}: {ESTIMATES[method]} time-dependent AUC with CI.")


def _coefficients(rep: _Report, results: Any) -> None:
    from survrad.reporting.figures_survival import ForestPlotDisplay

    drawn = False
    for coef in results.coefficients:
        table = coef.table
        name = f"coefficients_{_slug(coef.endpoint, coef.strategy, coef.model)}"
        readable = rep.relabel(table, ["term"])
        rep.table("Models", table, name, f"{coef.endpoint}, {rep.label(coef.strategy)}, "
                  f"{coef.model}: coefficients fitted on all patients.",
                  shown=format_coefficients(readable))
        has_ci = "hr_ci_low" in table and table["hr_ci_low"].notna().any()
        if has_ci and not drawn:
            drawn = True
            rep.figure("Models", lambda t=readable: ForestPlotDisplay.from_summary(t).plot(),
                       f"forest_{_slug(coef.endpoint, coef.strategy, coef.model)}",
                       f"{coef.endpoint}, {coef.strategy}, {coef.model}: hazard ratios "
                       "with CIs.")


def _lesions(rep: _Report, results: Any) -> None:
    from survrad.reporting.figures_lesions import LesionRiskMapDisplay, LesionWaterfallDisplay

    if results.lesion_risk is not None:
        table = results.lesion_risk
        strategy = str(table["strategy"].iloc[0])
        rep.table("Lesions", table, "lesion_risk", f"Cross-fitted lesion risk ({strategy}): "
                  "no lesion is scored by a model that saw its patient; rank 1 = riskiest "
                  "lesion of its patient.")
        rep.figure("Lesions", lambda: LesionRiskMapDisplay.from_table(table).plot(),
                   "lesion_risk_map", "Lesion risk map: patients x lesions (shade = "
                   "cross-fitted risk; colour = organ, dot size = volume, ring = irradiated, "
                   "star = high-risk lesion).")
    if results.lesion_changes is not None:
        changes = results.lesion_changes
        rep.figure("Lesions", lambda: LesionWaterfallDisplay.from_lesions(changes).plot(),
                   "lesion_waterfall", "Per-lesion change in longest diameter, irradiated "
                   "vs non-irradiated (RECIST thresholds +20 % / -30 %).")
    if results.lesion_response_rates is not None:
        rep.table("Lesions", results.lesion_response_rates, "lesion_response_rates",
                  "Lesion response rates by irradiation with patient-clustered CIs "
                  "(abscopal response in non-irradiated lesions).")
    if results.mixed_response is not None:
        rep.table("Lesions", results.mixed_response, "mixed_response",
                  "Mixed response per patient (some lesions <= -30 % while others "
                  ">= +20 %).")


def _section_lesion_decisions(rep: _Report, results: Any) -> None:
    from survrad.reporting.section_lesion_decisions import render_lesion_decisions

    render_lesion_decisions(rep, results)


# ------------------------------------------------------------------------- page
def render_report(root: Path, results: Any, manifest: Mapping[str, Any], *,
                  n_jobs: int | None = None) -> list[dict[str, Any]]:
    """Write tables, figures, ``results.json``, ``warnings.json`` and ``index.html`` of
    ``results`` into ``root``; return the warnings shown (the run's and the report's).

    ``manifest`` is what the run recorded (inputs, command, durations, versions,
    platform); the page shows it as given, so the same results and manifest give the same
    page. Nothing here fits, estimates or resamples.
    """
    rep = _Report(Path(root), results.config["report"].get("labels"))
    errors: list[dict[str, Any]] = []
    config = results.config
    by = config["report"].get("table1_by")
    rep.table("Cohort", results.table1, "table1", "Cohort characteristics"
              + (f" by {by}." if by else "."), shown=format_table_one(results.table1))
    atomic_write_text(rep.root / "results.json", json_dumps(results.records()))
    _validation(rep, results)
    _section_external(rep, results)
    _predictions(rep, results)
    _coefficients(rep, results)
    _lesions(rep, results)
    render_data(rep, results)
    _section_lesion_decisions(rep, results)
    _section_longitudinal(rep, results)
    _section_utility(rep, results)
    rep.render(errors, n_jobs)
    if len(results.excluded):
        write_csv(results.excluded, rep.root / "excluded.csv")
    warn = [w.to_dict() for w in results.warnings] + errors
    atomic_write_text(rep.root / "warnings.json", json_dumps(warn))
    sections = [(s, rep.sections[s]) for s in _SECTIONS if s in rep.sections]
    if not sections:
        sections = [("Results", [ReportText("No results.")])]
    write_index_html(rep.root, title=results.title, description=results.description,
                     methods=_methods(results, manifest),
                     sections=sections, warnings=warn, manifest=manifest)
    return warn


def _methods(results: Any, manifest: Mapping[str, Any]) -> str:
    """The study's Methods text, with the Response section's sentences before the last
    (software) paragraph when that section was computed."""
    from survrad.reporting.section_longitudinal import response_methods

    text = methods_paragraph(results.config, versions=manifest.get("versions"))
    extra = response_methods(results)
    if not extra:
        return text
    head, _, software = text.rpartition("\n\n")
    return "\n\n".join(p for p in (head, extra, software) if p)


def finish_manifest(root: Path, manifest: Mapping[str, Any], warn: list[Any],
                    seconds: float, **extra: Any) -> dict[str, Any]:
    """Write ``manifest.json``: the run's manifest, the report's duration and warning
    count (not shown on the page, so that a re-rendered page is byte-identical)."""
    out = {**manifest, **extra,
           "durations": {**manifest.get("durations", {}),
                         "report (tables, figures)": round(seconds, 3)},
           "n_warnings": len(warn)}
    atomic_write_text(Path(root) / "manifest.json", json_dumps(out))
    return out


def write_report(root: Path, results: Any, manifest: dict[str, Any], *, started: float,
                 n_jobs: int | None = None) -> Path:
    """Save ``results`` (``root/results``) and render the report into ``root``.

    ``n_jobs`` figures are drawn at a time (the files do not depend on it).
    """
    t0 = time.perf_counter()
    results.save(Path(root) / "results")
    finished = time.time()
    manifest = {**manifest, "versions": package_versions(), "platform": numerical_platform(),
                "status": "succeeded",
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(finished)),
                "duration_seconds": round(finished - started, 3)}
    atomic_write_text(Path(root) / "results" / "manifest.json", json_dumps(manifest))
    warn = render_report(Path(root), results, manifest, n_jobs=n_jobs)
    finish_manifest(root, manifest, warn, time.perf_counter() - t0)
    return Path(root)

"""Write a study's report folder: results, tables, figures, manifest, index.html.

Called by :func:`survrad.study.run_study` inside a temporary folder that is renamed into
place only when everything here has succeeded. Numbers are written unrounded; rounding
happens only in the HTML tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from survrad.data.cohort import Cohort
from survrad.reporting.html import (
    ReportFigure,
    ReportTable,
    ReportText,
    methods_paragraph,
    write_index_html,
)
from survrad.reporting.tables import (
    coefficient_table,
    format_coefficients,
    format_table_one,
    table_one,
    write_csv,
)
from survrad.reporting.writer import (
    atomic_write_text,
    json_dumps,
    numerical_platform,
    package_versions,
)

__all__ = ["write_report"]

_LESION_COLUMNS = ("organ", "volume_ml", "irradiated")


def _slug(*parts: str) -> str:
    return "_".join(str(p).replace(" ", "-").replace("/", "-") for p in parts)


class _Report:
    """Accumulates sections while writing files into ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sections: dict[str, list[Any]] = {}
        self.pending: list[tuple[str, Callable[[], Any], str, ReportFigure]] = []

    def add(self, section: str, item: Any) -> None:
        self.sections.setdefault(section, []).append(item)

    def table(self, section: str, df: pd.DataFrame, name: str, caption: str,
              shown: pd.DataFrame | None = None) -> None:
        write_csv(df, self.root / "tables" / f"{name}.csv")
        self.add(section, ReportTable(df if shown is None else shown, caption,
                                      csv=f"tables/{name}.csv"))

    def figure(self, section: str, make: Callable[[], Any], name: str, caption: str,
               errors: list[dict[str, Any]]) -> None:
        """Queue a figure: ``make()`` returns a fitted Display; drawn by :meth:`render`."""
        item = ReportFigure(f"figures/{name}.png", caption)
        self.add(section, item)
        self.pending.append((section, make, name, item))

    def render(self, errors: list[dict[str, Any]], n_jobs: int | None) -> None:
        """Draw and save every queued figure, ``n_jobs`` at a time (PNG + PDF each).

        A figure that cannot be drawn is logged in ``errors`` and left out of the page,
        never fatal. Each file depends only on its figure, so the output is the same
        whatever ``n_jobs``.
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


def _results(rep: _Report, records: list[dict[str, Any]]) -> None:
    atomic_write_text(rep.root / "results.json", json_dumps(records))
    frame = pd.DataFrame(records)
    write_csv(frame, rep.root / "results.csv")
    primary = frame.groupby("endpoint", sort=False)["metric"].transform("first")
    shown = frame.loc[frame["metric"] == primary].reset_index(drop=True)
    rep.add("Validation", ReportTable(
        shown, "Bootstrap validation of every endpoint x strategy x model: the primary "
        "metric of each endpoint (Harrell's C for survival, AUC for binary endpoints), "
        "apparent, optimism and corrected value with its interval (the validation method "
        "of each model is given in the Methods). Every metric is in the CSV.",
        csv="results.csv", max_rows=None))


def _comparison_figures(rep: _Report, comparisons: Mapping, config: Mapping,
                        errors: list) -> None:
    from survrad.reporting.figures_comparison import StrategyComparisonDisplay
    from survrad.reporting.figures_validation import OptimismDisplay

    for (ep, model), cmp in comparisons.items():
        summary = cmp.summary().assign(model=model)
        summary["baseline"] = summary["pipeline"].isin(["clinical", "burden"])
        metric = summary["metric"].iloc[0]
        diffs = cmp.differences(metric).assign(model=model) if len(cmp.results) > 1 else None
        reps = pd.concat([r.replicates.assign(strategy=s) for s, r in cmp.results.items()])
        write_csv(reps, rep.root / "tables" / f"replicates_{_slug(ep, model)}.csv")
        if diffs is not None:
            rep.table("Validation", diffs, f"differences_{_slug(ep, model)}",
                      f"{ep}, {model}: paired differences of corrected {metric} against "
                      f"{cmp.reference} (same bootstrap samples).")
        estimate = ESTIMATES[cmp.results[cmp.reference].method]
        rep.figure("Validation", lambda s=summary, d=diffs, m=metric, e=estimate: (
            StrategyComparisonDisplay.from_summary(s, metric=m, differences=d,
                                                   estimate=e).plot()),
            f"comparison_{_slug(ep, model)}",
            f"{ep}, {model}: {estimate} {metric} with "
            f"{int(100 * config['validation']['ci_level'])}% CI per strategy; baselines "
            "marked; right: paired differences.", errors)
        best = _best_name(summary, metric)
        rep.figure("Validation", lambda r=cmp.results[best].replicates, m=metric: (
            OptimismDisplay.from_replicates(r, metric=m).plot()),
            f"optimism_{_slug(ep, model, best)}",
            f"{ep}, {model}, {best}: {OPTIMISM[cmp.results[best].method]} of {metric}.",
            errors)


#: What "corrected" means for each validation method (captions and axis labels).
ESTIMATES = {"optimism": "optimism-corrected", ".632+": ".632+ bootstrap",
             "cv": "cross-validated"}
OPTIMISM = {"optimism": "bootstrap distribution of the optimism (resample minus original)",
            ".632+": "bootstrap distribution of resample minus out-of-bag performance",
            "cv": "distribution of training-fold minus held-out-fold performance"}


def _failures(rep: _Report, comparisons: Mapping) -> None:
    """Replicates that failed (within ``max_failed``), counted by pipeline and reason."""
    rows = []
    for (ep, model), cmp in comparisons.items():
        for strategy, res in cmp.results.items():
            reps = res.replicates
            bad = reps["status"] != "ok"
            partial = ~bad & reps["reason"].astype(str).ne("")
            for kind, mask in (("replicate failed", bad), ("metric not computed", partial)):
                if not mask.any():
                    continue
                for reason, n in reps.loc[mask, "reason"].astype(str).value_counts().items():
                    rows.append({"endpoint": ep, "model": model, "strategy": strategy,
                                 "what": kind, "n_replicates": int(n),
                                 "of": len(reps), "reason": reason})
    if rows:
        table = pd.DataFrame(rows)
        rep.table("Validation", table, "failures",
                  "Bootstrap replicates that failed or could not compute a metric, by "
                  "pipeline and reason (within the study's max_failed budget; such "
                  "replicates are left out of the estimates and counted in n_failed).")


def _best_name(summary: pd.DataFrame, metric: str) -> str:
    rows = summary[summary["metric"] == metric]
    if rows["corrected"].notna().any():
        return str(rows.loc[rows["corrected"].idxmax(), "pipeline"])
    return str(rows["pipeline"].iloc[0])


def _survival_figures(rep: _Report, cohort: Cohort, config: Mapping, cvs: Mapping,
                      records: list[dict], errors: list) -> None:
    from survrad.evaluation.metrics import calibration
    from survrad.reporting.figures_survival import KaplanMeierDisplay
    from survrad.reporting.figures_validation import (
        CalibrationDisplay,
        ROCDisplay,
        TimeDependentAUCDisplay,
    )

    for (ep, strategy, model), cv in cvs.items():
        spec = config["endpoints"][ep]
        name = _slug(ep, model, strategy)
        label = f"{strategy} ({model})"
        if cohort.endpoint(ep).kind == "binary":
            y = cohort.y(ep)
            rep.figure("Prediction", lambda y=y, cv=cv, lab=label: ROCDisplay.from_predictions(
                y, cv["risk"].to_numpy(), label=lab).plot(),
                f"roc_{name}", f"{ep}: ROC curve of out-of-fold predictions, {strategy}, "
                f"{model} (5-fold, patient-grouped).", errors)
            continue
        y = cohort.y(ep)
        unit = spec.get("unit", "months")
        groups = _group_names(cv["risk_group"].to_numpy(), config["report"]["risk_groups"])
        rep.figure("Prediction", lambda y=y, g=groups, u=unit: KaplanMeierDisplay.from_risk_groups(
            y["time"], y["event"], g, time_unit=u).plot(),
            f"km_{name}", f"{ep}: Kaplan-Meier curves by predicted risk group ({strategy}, "
            f"{model}); groups from out-of-fold predictions with cut-points (tertiles) "
            "chosen inside each training fold; log-rank p and hazard ratios.", errors)
        for h in spec.get("horizons", []):
            col = f"surv@{float(h):g}"
            if col not in cv:
                continue
            rep.figure("Prediction", lambda y=y, cv=cv, h=h, col=col, u=unit: (
                CalibrationDisplay.from_calibration(
                    calibration(y, cv[col].to_numpy(), float(h)), time_unit=u).plot()),
                f"calibration_{name}_{float(h):g}",
                f"{ep}: calibration at {h:g} {unit} (out-of-fold predicted survival vs "
                f"Kaplan-Meier by risk quintile), {strategy}, {model}.", errors)
        auc = [r for r in records if r["endpoint"] == ep and r["strategy"] == strategy
               and r["model"] == model and str(r["metric"]).startswith("td_auc@")]
        if auc:
            rep.figure("Prediction", lambda a=auc, u=unit, lab=label: (
                TimeDependentAUCDisplay.from_values(
                [float(r["metric"].split("@")[1]) for r in a], [r["corrected"] for r in a],
                ci_low=[r["ci_low"] for r in a], ci_high=[r["ci_high"] for r in a],
                label=lab, time_unit=u).plot()),
                f"td_auc_{name}", f"{ep}: {ESTIMATES[config['validation']['method'][model]]} "
                "time-dependent AUC with CI.",
                errors)


def _group_names(group: Any, n_groups: int) -> pd.Categorical:
    """Risk groups 1..n as ordered labels (Low / Intermediate / High for tertiles)."""
    names = {2: ["Low", "High"], 3: ["Low", "Intermediate", "High"]}.get(
        n_groups, [f"Group {k}" for k in range(1, n_groups + 1)])
    return pd.Categorical.from_codes(pd.Series(group).to_numpy() - 1, categories=names,
                                     ordered=True)


def _coefficients(rep: _Report, coefs: Mapping, config: Mapping, errors: list) -> None:
    from survrad.reporting.figures_survival import ForestPlotDisplay

    drawn = False
    for (ep, strategy, model), summary in coefs.items():
        table = coefficient_table(summary, ci_level=config["validation"]["ci_level"])
        name = f"coefficients_{_slug(ep, strategy, model)}"
        rep.table("Models", table, name, f"{ep}, {strategy}, {model}: coefficients fitted on "
                  "all patients.", shown=format_coefficients(table))
        has_ci = "hr_ci_low" in table and table["hr_ci_low"].notna().any()
        if has_ci and not drawn:
            drawn = True
            rep.figure("Models", lambda t=table: ForestPlotDisplay.from_summary(t).plot(),
                       f"forest_{_slug(ep, strategy, model)}",
                       f"{ep}, {strategy}, {model}: hazard ratios with CIs.", errors)


def _lesion_outputs(rep: _Report, cohort: Cohort, lesion_risk: pd.DataFrame | None,
                    errors: list) -> None:
    from survrad.lesions import lesion_response_rates, mixed_response
    from survrad.reporting.figures_lesions import LesionRiskMapDisplay, LesionWaterfallDisplay

    if not cohort.has_lesions:
        return
    base = cohort.baseline_lesions()
    if lesion_risk is not None:
        keep = [c for c in _LESION_COLUMNS if c in base.columns]
        table = lesion_risk.merge(base[["patient_id", "lesion_id", *keep]],
                                  on=["patient_id", "lesion_id"], how="left", validate="1:1")
        strategy = str(table["strategy"].iloc[0])
        rep.table("Lesions", table, "lesion_risk", f"Cross-fitted lesion risk ({strategy}): "
                  "no lesion is scored by a model that saw its patient; rank 1 = riskiest "
                  "lesion of its patient.")
        rep.figure("Lesions", lambda: LesionRiskMapDisplay.from_table(table).plot(),
                   "lesion_risk_map", "Lesion risk map: patients x lesions (shade = "
                   "cross-fitted risk; colour = organ, dot size = volume, ring = irradiated, "
                   "star = high-risk lesion).", errors)
    if {"longest_diameter_mm", "diameter_followup_mm", "irradiated"} <= set(base.columns):
        rep.figure("Lesions", lambda: LesionWaterfallDisplay.from_lesions(base).plot(),
                   "lesion_waterfall", "Per-lesion change in longest diameter, irradiated "
                   "vs non-irradiated (RECIST thresholds +20 % / -30 %).", errors)
        try:
            rates = lesion_response_rates(cohort, by="irradiated", random_state=0)
            rep.table("Lesions", rates.to_frame(), "lesion_response_rates",
                      "Lesion response rates by irradiation with patient-clustered CIs "
                      "(abscopal response in non-irradiated lesions).")
            rep.table("Lesions", mixed_response(cohort).reset_index(), "mixed_response",
                      "Mixed response per patient (some lesions <= -30 % while others "
                      ">= +20 %).")
        except ValueError as exc:
            errors.append({"stage": "lesion response", "category": type(exc).__name__,
                           "message": str(exc)})


def write_report(root: Path, cohort: Cohort, config: Mapping[str, Any], results: Any,
                 manifest: dict[str, Any], *, started: float, n_jobs: int | None = None
                 ) -> Path:
    """Write every output of a run into ``root`` (a temporary folder).

    ``n_jobs`` figures are drawn at a time (the files do not depend on it).
    """
    t0 = time.perf_counter()
    rep = _Report(Path(root))
    errors: list[dict[str, Any]] = []
    by = config["report"].get("table1_by")
    units = {name: spec.get("unit", "months") for name, spec in config["endpoints"].items()}
    t1 = table_one(cohort, by=by, endpoint_time_unit=units)
    rep.table("Cohort", t1, "table1", "Table 1: cohort characteristics"
              + (f" by {by}." if by else "."), shown=format_table_one(t1))
    _results(rep, results.records)
    _comparison_figures(rep, results.comparisons, config, errors)
    _failures(rep, results.comparisons)
    _survival_figures(rep, cohort, config, results.cv_predictions, results.records, errors)
    _coefficients(rep, results.coefficients, config, errors)
    _lesion_outputs(rep, cohort, results.lesion_risk, errors)
    rep.render(errors, n_jobs)
    if len(cohort.excluded):
        write_csv(cohort.excluded, rep.root / "excluded.csv")
    warn = [*results.warnings, *errors]
    atomic_write_text(rep.root / "warnings.json", json_dumps(warn))
    versions = package_versions()
    finished = time.time()
    manifest = {**manifest, "versions": versions, "platform": numerical_platform(),
                "status": "succeeded",
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(finished)),
                "duration_seconds": round(finished - started, 3),
                "durations": {**manifest.get("durations", {}),
                              "report (tables, figures)": round(time.perf_counter() - t0, 3)},
                "n_warnings": len(warn)}
    atomic_write_text(rep.root / "manifest.json", json_dumps(manifest))
    order = ["Cohort", "Validation", "Prediction", "Models", "Lesions"]
    sections = [(s, rep.sections[s]) for s in order if s in rep.sections]
    if not sections:
        sections = [("Results", [ReportText("No results.")])]
    write_index_html(rep.root, title=config["title"], description=config.get("description"),
                     methods=methods_paragraph(config, versions=versions), sections=sections,
                     warnings=warn, manifest=manifest)
    return rep.root


"""Clinical utility and reporting checklists of a study (layer 7: orchestration).

:func:`compute_utility` computes, for each endpoint, from the out-of-fold predictions of
its best pipeline (the highest corrected primary metric over every model, as the report's
prediction figures choose within a model; 5-fold, patient-grouped, seeded by the study):

* decision curves (net benefit of the model, treat all, treat none) at each horizon
  (Kaplan-Meier net benefit of Vickers et al. 2008) or for the binary outcome;
* smooth calibration (Austin et al. 2020) at each horizon with ICI, E50, E90, Emax;
* the nomogram of the clinical Cox model (unpenalised, the patient covariates), when the
  study has patient covariates;
* the proportional-hazards test (R's ``cox.zph``) of every unpenalised Cox pipeline's
  apparent fit and of the clinical Cox model, with the scaled Schoenfeld residuals of the
  best Cox pipeline that has a test;
* events per predictor of every apparent fit;

and the TRIPOD+AI and Radiomics Quality Score items the analysis determines
(:mod:`survrad.evaluation.checklists`), each linked to the report section or file that
shows it; the rest are listed as to be reported by the authors.

A part that cannot be computed (a horizon beyond the out-of-fold follow-up, a smoother
with too few events) is recorded as a warning with its reason and left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from survrad.evaluation.checklists import RQS_ITEMS, TRIPOD_AI_ITEMS
from survrad.evaluation.decision import decision_curve
from survrad.evaluation.nomogram import nomogram
from survrad.evaluation.results_external import EXTERNAL_SECTION
from survrad.evaluation.results_utility import (
    CHECKLIST_SECTION,
    UTILITY_SECTION,
    EndpointUtility,
    NomogramRecord,
    SchoenfeldFigure,
    UtilityResults,
)
from survrad.evaluation.smooth_calibration import smooth_calibration
from survrad.models.cox import CoxModel
from survrad.models.pipeline import CohortPipeline
from survrad.study.compute import _captured
from survrad.study.plan import StudyPlan

__all__ = ["AUTHORS", "CLINICAL", "FILLED", "MAX_SCHOENFELD_TERMS", "PARTLY",
           "compute_utility", "rqs_table", "thresholds_of", "tripod_table"]

#: Name of the descriptive clinical Cox model (as in the report's coefficient tables).
CLINICAL = "clinical_unpenalised"
#: Most terms drawn in the Schoenfeld residual figure (those with the smallest p).
MAX_SCHOENFELD_TERMS = 6
FILLED = "filled by survrad"
PARTLY = "partly filled by survrad: the authors complete it"
AUTHORS = "to be reported by the authors"
DECISION_COLUMNS = ["endpoint", "model", "strategy", "horizon", "threshold", "net_benefit",
                    "treat_all", "treat_none", "n_above", "n", "event_rate"]
CALIBRATION_COLUMNS = ["endpoint", "model", "strategy", "horizon", "n_knots", "ici", "e50",
                       "e90", "emax"]
PH_COLUMNS = ["endpoint", "model", "strategy", "term", "chisq", "df", "p", "note"]
SAMPLE_COLUMNS = ["endpoint", "model", "strategy", "n", "events", "n_predictors", "epv"]


def thresholds_of(options: Mapping[str, Any]) -> np.ndarray:
    """Threshold probabilities of the decision curves: 0.01 to ``max_threshold`` by 0.01.

    Examples
    --------
    >>> thresholds_of({"max_threshold": 0.05}).tolist()
    [0.01, 0.02, 0.03, 0.04, 0.05]
    """
    top = round(float(options["max_threshold"]) * 100)
    return np.arange(1, top + 1) / 100.0


# ------------------------------------------------------------------ best pipelines
def _ranked(cmp: Any) -> list[str]:
    """Strategies by decreasing corrected primary metric (NaN last, ties in order)."""
    primary = cmp.results[cmp.reference].metrics[0]
    values = {name: float(res.estimate(primary)["corrected"])
              for name, res in cmp.results.items()}
    order = sorted(values, key=lambda k: -values[k] if np.isfinite(values[k]) else np.inf)
    return [str(k) for k in order]


def _best_per_endpoint(comparisons: Mapping[tuple[str, str], Any]
                       ) -> dict[str, tuple[str, str]]:
    """endpoint -> (model, strategy) with the highest corrected primary metric."""
    best: dict[str, tuple[str, str, float]] = {}
    for (ep, model), cmp in comparisons.items():
        strategy = _ranked(cmp)[0]
        res = cmp.results[strategy]
        value = float(res.estimate(res.metrics[0])["corrected"])
        value = value if np.isfinite(value) else -np.inf
        if ep not in best or value > best[ep][2]:
            best[ep] = (model, strategy, value)
    return {ep: (m, s) for ep, (m, s, _) in best.items()}


# ------------------------------------------------------- out-of-fold utility curves
def _curves(oof: Any, y: np.ndarray, kind: str, thresholds: np.ndarray, n_knots: int,
            log_: Any, ctx: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Decision curve and smooth calibration at each horizon (or once for binary)."""
    mask = oof.predicted
    y = y[mask]
    if kind == "binary":
        targets = [(None, oof.frame.loc[mask, "risk"].to_numpy(dtype=float))]
    else:
        targets = [(float(h), 1.0 - oof.survival.loc[mask, h].to_numpy(dtype=float))
                   for h in oof.survival.columns]
        if not targets:
            log_.extend([("StatisticalWarning", "the model predicts no survival curve: no "
                          "decision curve or smooth calibration")], **ctx)
    dcs, cals = [], []
    for h, risk in targets:
        where = {**ctx, "horizon": h}
        dc, caught = _captured(decision_curve, y, risk, thresholds, horizon=h)
        log_.extend(caught, **where, stage="decision curve")
        cal, caught = _captured(smooth_calibration, y, risk, horizon=h, n_knots=n_knots)
        log_.extend(caught, **where, stage="smooth calibration")
        dcs += [dc] if dc is not None else []
        cals += [cal] if cal is not None else []
    return dcs, cals


def _endpoint_utility(plan: StudyPlan, best: Mapping[str, tuple[str, str]], log_: Any,
                      n_jobs: int | None) -> tuple[EndpointUtility, ...]:
    from joblib import Parallel, delayed

    from survrad.evaluation.crossval import cross_validated_predictions

    cfg, cohort = plan.config, plan.cohort
    opts = cfg["report"]["utility"]
    tasks = []
    for ep, (model, strategy) in best.items():
        horizons = [float(h) for h in cfg["endpoints"][ep]["horizons"]]
        tasks.append(((ep, model, strategy), delayed(_captured)(
            cross_validated_predictions, plan.pipelines[ep][model][strategy], cohort, ep,
            n_folds=5, n_groups=cfg["report"]["risk_groups"], horizons=horizons,
            random_state=cfg["random_state"], max_failed=cfg["validation"]["max_failed"])))
    outcomes = Parallel(n_jobs=n_jobs or 1)(work for _, work in tasks)
    out = []
    for ((ep, model, strategy), _), (oof, caught) in zip(tasks, outcomes, strict=True):
        ctx = {"endpoint": ep, "model": model, "strategy": strategy}
        log_.extend(caught, **ctx, stage="clinical utility: cross-validation")
        if oof is None:
            continue
        kind = cfg["endpoints"][ep]["kind"]
        dcs, cals = _curves(oof, cohort.y(ep), kind, thresholds_of(opts),
                            opts["calibration_knots"], log_, ctx)
        out.append(EndpointUtility(ep, kind, model, strategy, cfg["endpoints"][ep]["unit"],
                                   cohort.n_patients, int(oof.predicted.sum()), tuple(dcs),
                                   tuple(cals)))
    return tuple(out)


def _decision_frame(endpoints: tuple[EndpointUtility, ...]) -> pd.DataFrame:
    frames = [dc.to_frame().assign(endpoint=u.endpoint, model=u.model, strategy=u.strategy,
                                   horizon=np.nan if dc.horizon is None else dc.horizon,
                                   n=dc.n, event_rate=dc.event_rate)
              for u in endpoints for dc in u.decision_curves]
    if not frames:
        return pd.DataFrame(columns=DECISION_COLUMNS)
    return pd.concat(frames, ignore_index=True)[DECISION_COLUMNS]


def _calibration_frame(endpoints: tuple[EndpointUtility, ...]) -> pd.DataFrame:
    rows = [{"endpoint": u.endpoint, "model": u.model, "strategy": u.strategy,
             "horizon": np.nan if c.horizon is None else c.horizon, "n_knots": c.n_knots,
             **c.summary()} for u in endpoints for c in u.calibrations]
    return pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)


# ------------------------------------------------------------ Cox models: PH, nomogram
def _clinical_fits(plan: StudyPlan, log_: Any) -> dict[str, CohortPipeline]:
    """The unpenalised clinical Cox model of each survival endpoint (patient covariates)."""
    out = {}
    if not plan.cohort.patient_features:
        return out
    for ep, spec in plan.config["endpoints"].items():
        if spec["kind"] != "survival":
            continue
        fitted, caught = _captured(CohortPipeline(None, (), CoxModel(min_epv=0)).fit,
                                   plan.cohort, ep)
        log_.extend(caught, endpoint=ep, model="cox", strategy=CLINICAL,
                    stage="clinical Cox model")
        if fitted is not None:
            out[ep] = fitted
    return out


def _nomograms(plan: StudyPlan, clinical: Mapping[str, CohortPipeline], log_: Any
               ) -> tuple[NomogramRecord, ...]:
    out = []
    for ep, fitted in clinical.items():
        spec = plan.config["endpoints"][ep]
        horizons = [float(h) for h in spec["horizons"]]
        if not horizons:
            continue
        nom, caught = _captured(nomogram, fitted.model_, fitted.transform(plan.cohort),
                                horizons=horizons)
        log_.extend(caught, endpoint=ep, model="cox", strategy=CLINICAL, stage="nomogram")
        if nom is not None:
            out.append(NomogramRecord(ep, CLINICAL, "cox", spec["unit"], nom))
    return tuple(out)


def _ph_test(fitted: CohortPipeline, cohort: Any, ep: str) -> Any:
    return fitted.model_.ph_test(fitted.transform(cohort), cohort.y(ep))


def _cox_fits(comparisons: Mapping[tuple[str, str], Any],
              clinical: Mapping[str, CohortPipeline]
              ) -> list[tuple[str, str, str, CohortPipeline]]:
    """(endpoint, model, strategy, fitted) of every Cox apparent fit, best first, then
    the clinical model."""
    out = []
    for (ep, model), cmp in comparisons.items():
        for strategy in _ranked(cmp):
            fitted = cmp.results[strategy].fitted
            if fitted is not None and isinstance(fitted.model_, CoxModel):
                out.append((ep, model, strategy, fitted))
        if ep in clinical:
            out.append((ep, "cox", CLINICAL, clinical[ep]))
    return out


def _ph_tests(plan: StudyPlan, comparisons: Mapping[tuple[str, str], Any],
              clinical: Mapping[str, CohortPipeline], log_: Any
              ) -> tuple[pd.DataFrame, tuple[SchoenfeldFigure, ...]]:
    rows: list[dict[str, Any]] = []
    figures: dict[str, SchoenfeldFigure] = {}
    for ep, model, strategy, fitted in _cox_fits(comparisons, clinical):
        ids = {"endpoint": ep, "model": model, "strategy": strategy}
        if fitted.model_.penalty_ > 0:
            rows.append({**ids, "note": "penalised fit: the PH test needs an unpenalised "
                         "model"})
            continue
        ph, caught = _captured(_ph_test, fitted, plan.cohort, ep)
        log_.extend(caught, **ids, stage="PH test")
        if ph is None:
            rows.append({**ids, "note": "PH test not available: " + caught[-1][1]})
            continue
        rows += [{**ids, "term": str(term), "chisq": r["chisq"], "df": int(r["df"]),
                  "p": r["p"], "note": ""} for term, r in ph.table.iterrows()]
        if ep not in figures:
            figure, caught = _captured(_schoenfeld, ph, ids)
            log_.extend(caught, **ids, stage="Schoenfeld residuals")
            if figure is not None:
                figures[ep] = figure
    return pd.DataFrame(rows, columns=PH_COLUMNS), tuple(figures.values())


def _schoenfeld(ph: Any, ids: Mapping[str, str]) -> SchoenfeldFigure:
    """The figure's data: the terms with the smallest PH p-values (at most six)."""
    p = ph.table["p"].drop(index="GLOBAL")
    keep = set(p.sort_values(kind="stable").index[:MAX_SCHOENFELD_TERMS])
    terms = [t for t in ph.terms if t in keep]
    return SchoenfeldFigure(
        **ids, time=np.asarray(ph.time, dtype=float),
        transformed_time=np.asarray(ph.transformed_time, dtype=float),
        residuals=ph.residuals[terms].reset_index(drop=True),
        smooths={t: ph.smooth(t) for t in terms},
        coef={t: float(ph.coef[t]) for t in terms}, p_values={t: float(p[t]) for t in terms},
        transform=ph.transform, n_terms=len(ph.terms))


def _sample_size(plan: StudyPlan, comparisons: Mapping[tuple[str, str], Any]
                 ) -> pd.DataFrame:
    """Events per predictor of every apparent fit (binary: the smaller outcome class)."""
    rows = []
    for (ep, model), cmp in comparisons.items():
        y = plan.cohort.y(ep)
        if plan.config["endpoints"][ep]["kind"] == "survival":
            events = int(np.sum(y["event"]))
        else:
            target = np.asarray(y, dtype=float)
            events = int(min(target.sum(), target.size - target.sum()))
        for strategy, res in cmp.results.items():
            names = getattr(getattr(res.fitted, "model_", None), "feature_names_in_", None)
            n_pred = None if names is None else len(names)
            rows.append({"endpoint": ep, "model": model, "strategy": strategy,
                         "n": plan.cohort.n_patients, "events": events,
                         "n_predictors": np.nan if n_pred is None else int(n_pred),
                         "epv": np.nan if not n_pred else events / n_pred})
    return pd.DataFrame(rows, columns=SAMPLE_COLUMNS)


# ---------------------------------------------------------------------- entry point
def compute_utility(plan: StudyPlan, comparisons: Mapping[tuple[str, str], Any], log_: Any,
                    n_jobs: int | None) -> UtilityResults:
    """Clinical utility figures, PH tests and reporting checklists of a validated study.

    The checklists are always computed; the figures when ``[report.utility] enabled``
    (the default).

    Parameters
    ----------
    plan : StudyPlan
    comparisons : mapping (endpoint, model) -> StrategyComparison
        The validation results.
    log_ : warning log
        Receives every warning and every part that could not be computed, with context.
    n_jobs : int or None
        Out-of-fold fits run ``n_jobs`` at a time (the numbers do not depend on it).

    Returns
    -------
    UtilityResults
    """
    opts = plan.config["report"]["utility"]
    endpoints: tuple[EndpointUtility, ...] = ()
    nomograms: tuple[NomogramRecord, ...] = ()
    ph = pd.DataFrame(columns=PH_COLUMNS)
    schoenfeld: tuple[SchoenfeldFigure, ...] = ()
    if opts["enabled"]:
        endpoints = _endpoint_utility(plan, _best_per_endpoint(comparisons), log_, n_jobs)
        clinical = _clinical_fits(plan, log_)
        nomograms = _nomograms(plan, clinical, log_)
        ph, schoenfeld = _ph_tests(plan, comparisons, clinical, log_)
    sample = _sample_size(plan, comparisons)
    done = {"decision_curves": any(u.decision_curves for u in endpoints),
            "smooth_calibration": any(u.calibrations for u in endpoints),
            "nomogram": bool(nomograms)}
    return UtilityResults(
        endpoints=endpoints, decision=_decision_frame(endpoints),
        calibration=_calibration_frame(endpoints), nomograms=nomograms, ph_tests=ph,
        schoenfeld=schoenfeld, sample_size=sample,
        checklist=tripod_table(plan, comparisons, sample, done),
        rqs=rqs_table(plan, comparisons, done))


# ----------------------------------------------------------------------- checklists
_Entry = tuple[str, str, str, str]        # status, content, report section, file


def _names(values: Any, empty: str = "none") -> str:
    values = [str(v) for v in values]
    return ", ".join(values) if values else empty


def _endpoints_text(plan: StudyPlan) -> str:
    parts = []
    for ep, spec in plan.config["endpoints"].items():
        y = plan.cohort.y(ep)
        if spec["kind"] == "survival":
            hz = _names(f"{h:g}" for h in spec["horizons"])
            parts.append(f"{ep}: time to event (columns {spec['time']}, {spec['event']}), "
                         f"{int(np.sum(y['event']))} events, horizons {hz} {spec['unit']}")
        else:
            parts.append(f"{ep}: binary (column {spec['target']}), "
                         f"{int(np.sum(np.asarray(y, dtype=float)))} positive")
    return "; ".join(parts) + "."


def _steps(cfg: Mapping[str, Any]) -> list[str]:
    return [str(step["step"]) for step in cfg["features"]]


def _methods_text(cfg: Mapping[str, Any]) -> str:
    val = cfg["validation"]
    words = {"optimism": f"optimism-corrected bootstrap ({val['n_boot']} replicates)",
             ".632+": f".632+ bootstrap ({val['n_boot']} replicates)",
             "cv": f"{val['n_folds']}-fold cross-validation"}
    return _names(f"{model}: {words[m]}" for model, m in val["method"].items())


def _missing_text(plan: StudyPlan) -> str:
    cohort = plan.cohort
    pf = cohort.patients[list(cohort.patient_features)] if cohort.patient_features else None
    n_p = 0 if pf is None else int(pf.isna().sum().sum())
    text = f"{n_p} missing values in the patient covariates"
    if cohort.has_lesions and cohort.lesion_features:
        n_l = int(cohort.lesions[list(cohort.lesion_features)].isna().sum().sum())
        text += f", {n_l} in the lesion features"
    return (text + f"; {len(cohort.excluded)} patients or lesions excluded while reading "
            "(excluded.csv, with reasons).")


def _metrics_of(comparisons: Mapping[tuple[str, str], Any]) -> list[str]:
    return list(dict.fromkeys(k.name for cmp in comparisons.values()
                              for res in cmp.results.values() for k in res.metrics))


def _tripod_filled(plan: StudyPlan, comparisons: Mapping[tuple[str, str], Any],
                   sample: pd.DataFrame, done: Mapping[str, bool]) -> dict[str, _Entry]:
    cfg, cohort = plan.config, plan.cohort
    extra = [name for key, name in (("decision_curves", "decision curves"),
                                    ("smooth_calibration", "smooth calibration"))
             if done.get(key)]
    nomo = "; nomogram of the clinical Cox model" if done.get("nomogram") else ""
    data = cfg["data"]
    source = ("a simulated cohort (survrad.simulate_cohort, arguments in manifest.json)"
              if "simulate" in cfg else f"patient table {data['patients']}"
              + (f", lesion table {data['lesions']}" if data.get("lesions") else ""))
    n = (f"{cohort.n_patients} patients" + (f", {cohort.n_lesions} lesions"
                                            if cohort.has_lesions else ""))
    epv = sample["epv"].to_numpy(dtype=float)
    epv_text = (f"; events per model predictor {np.nanmin(epv):.1f} to {np.nanmax(epv):.1f}"
                if np.isfinite(epv).any() else "")
    strategies = [s["name"] for s in cfg["strategies"]]
    predictors = (f"{len(cohort.patient_features)} patient covariates "
                  f"({_names(cohort.patient_features)}); {len(cohort.lesion_features)} lesion "
                  f"features aggregated per patient by the strategies {_names(strategies)}")
    steps = f"Feature steps (fitted inside each resample): {_names(_steps(cfg))}."
    size = "tables/utility_sample_size.csv"
    return {
        "5a": (PARTLY, f"Data: {source} ({n}); file hashes in manifest.json.", "Cohort",
               "manifest.json"),
        "6b": (PARTLY, f"Exclusions made while reading: {len(cohort.excluded)} rows.",
               "Cohort", "excluded.csv" if len(cohort.excluded) else ""),
        "7": (PARTLY, steps, "Models", ""),
        "8a": (PARTLY, "Endpoints: " + _endpoints_text(plan), "Cohort", ""),
        "9a": (PARTLY, f"Candidate predictors: {predictors}.", "Models", ""),
        "10": (PARTLY, f"{n}{epv_text} (per pipeline in the sample-size table).",
               CHECKLIST_SECTION, size),
        "11": (PARTLY, _missing_text(plan), "Cohort", "excluded.csv"
               if len(cohort.excluded) else ""),
        "12a": _tripod_development(cfg, cohort.n_patients),
        "12b": (PARTLY, steps, "Models", ""),
        "12c": (FILLED, f"Models: {_names(cfg['models'])} (parameters in manifest.json); "
                f"strategies: {_names(strategies)}; internal validation: "
                f"{_methods_text(cfg)}.", "Validation", "manifest.json"),
        "12e": (FILLED, f"Metrics: {_names(_metrics_of(comparisons))}; figures of out-of-fold "
                f"predictions: {_names(['calibration, risk groups or ROC', *extra])}.",
                "Validation", "results.csv"),
        "15": (FILLED, "Output: predicted risk (linear predictor or probability) and "
               "predicted survival at the horizons; risk groups from training-fold quantiles "
               "in the figures only; no decision threshold is chosen.", "Prediction", ""),
        "18f": (PARTLY, "Software versions and the study file in manifest.json.", "",
                "manifest.json"),
        "20a": (FILLED, f"{n} analysed; {len(cohort.excluded)} rows excluded while reading. "
                + _endpoints_text(plan), "Cohort", "excluded.csv"
                if len(cohort.excluded) else ""),
        "20b": (FILLED, "Table 1.", "Cohort", "tables/table1.csv"),
        "21": (FILLED, "Patients, events and predictors of every model.", CHECKLIST_SECTION,
               size),
        "22": (PARTLY, f"Coefficients of every fitted model{nomo}.", "Models", ""),
        "23a": (FILLED, "Every metric with its corrected value and confidence interval.",
                "Validation", "results.csv"),
    }


def tripod_table(plan: StudyPlan, comparisons: Mapping[tuple[str, str], Any],
                 sample: pd.DataFrame, done: Mapping[str, bool]) -> pd.DataFrame:
    """The TRIPOD+AI checklist of a study: every item, filled where the analysis knows it.

    Returns
    -------
    DataFrame
        ``checklist, item, paper_section, topic, description, status, content,
        report_section, file``; ``status`` is :data:`FILLED`, :data:`PARTLY` or
        :data:`AUTHORS`. ``done`` says which optional figures the report shows (see
        :func:`rqs_table`).
    """
    filled = _tripod_filled(plan, comparisons, sample, done)
    rows = []
    for it in TRIPOD_AI_ITEMS:
        status, content, section, file = filled.get(it.item, (AUTHORS, "", "", ""))
        rows.append({"checklist": "TRIPOD+AI", "item": it.item, "paper_section": it.section,
                     "topic": it.topic, "description": it.text, "status": status,
                     "content": content, "report_section": section, "file": file})
    return pd.DataFrame(rows)


_SELECTION_STEPS = ("icc", "variance", "correlation", "univariate_cox", "lasso", "stability")


def _penalised(cfg: Mapping[str, Any]) -> bool:
    return any(p.get("penalty", 0) not in (0, 0.0) for p in cfg["models"].values())


def _tripod_development(cfg: Mapping[str, Any], n: int) -> tuple[str, str, str, str]:
    """TRIPOD+AI 12a: how the data were used for development and validation."""
    ext = cfg.get("external")
    internal = f"internal validation ({_methods_text(cfg)})"
    if not ext:
        text = f"All {n} patients develop every model; performance by {internal}; no split "
        return (FILLED, text + "sample.", "Validation", "results.csv")
    if ext["design"] == "split":
        text = (f"Development on the patients with {ext.get('column') or 'split'} in "
                f"{_names(ext['train'])} ({internal}); the frozen models are validated on "
                f"those in {_names(ext['test'])}.")
    else:
        text = (f"All {n} patients develop the models ({internal}); each centre "
                f"({ext.get('column') or 'center'}) in turn is held out and predicted by "
                "models fitted on the others, pooled by random-effects meta-analysis.")
    return (FILLED, text, EXTERNAL_SECTION, "tables/external_performance.csv")


def _rqs_filled(plan: StudyPlan, comparisons: Mapping[tuple[str, str], Any],
                done: Mapping[str, bool]) -> dict[int, tuple[float, str, str, str, str]]:
    cfg, cohort = plan.config, plan.cohort
    steps = _steps(cfg)
    methods = [s["method"] for s in cfg["strategies"]]
    metrics = _metrics_of(comparisons)
    out: dict[int, tuple[float, str, str, str, str]] = {}
    if "icc" in steps:
        out[2] = (1, FILLED, "Features filtered by their ICC across repeated "
                  "segmentations (icc step).", "Models", "")
    if "combat" in steps:
        out[3] = (np.nan, AUTHORS, "ComBat harmonisation across batches was applied; it is "
                  "not a phantom study.", "Models", "")
    if {"delta", "lesion_response"} & set(methods):
        out[4] = (1, FILLED, "Features at several time points (delta / lesion response "
                  "strategies).", "Models", "")
    reduced = [s for s in steps if s in _SELECTION_STEPS] + (
        ["penalised model"] if _penalised(cfg) else [])
    out[5] = ((3, FILLED, f"Feature reduction: {_names(reduced)}.", "Models", "")
              if reduced else (-3, FILLED, "No feature reduction step and no penalised "
                               "model.", "Models", ""))
    both = bool(cohort.patient_features) and bool(methods)
    out[6] = (1 if both else 0, FILLED, "Radiomic strategies combined with the patient "
              f"covariates {_names(cohort.patient_features)}." if both else "No model "
              "combines radiomic and non-radiomic features.", "Validation", "")
    out[8] = (1, FILLED, "The continuous predicted risk is reported; risk groups from "
              "training-fold quantiles.", "Prediction", "")
    disc = [m for m in metrics if m in ("c_index", "uno_c", "td_auc", "auc",
                                        "integrated_auc")]
    out[9] = ((2, FILLED, f"Discrimination ({_names(disc)}) with resampling-based "
               "confidence intervals.", "Validation", "results.csv") if disc
              else (0, FILLED, "No discrimination metric validated.", "Validation", ""))
    out[10] = _rqs_calibration(metrics, done)
    ext = cfg.get("external")
    out[12] = ((2, FILLED, f"Internal validation ({_methods_text(cfg)}); external validation "
                "would score more.", "Validation", "results.csv") if not ext else
               (4 if ext["design"] == "split" else 3, PARTLY,
                f"Internal validation ({_methods_text(cfg)}) and "
                + ("validation of the frozen models on held-out patients of the same data "
                   "set (the authors score 5 if they come from another institution)"
                   if ext["design"] == "split" else "leave-one-centre-out validation")
                + ".", EXTERNAL_SECTION, "tables/external_performance.csv"))
    if "clinical" in {s for (_, _), cmp in comparisons.items() for s in cmp.results}:
        out[13] = (2, PARTLY, "Compared with the clinical-covariate model (paired "
                   "differences); the authors confirm it is the standard of care.",
                   "Validation", "")
    if done.get("decision_curves"):
        out[14] = (2, FILLED, "Decision curve analysis.", UTILITY_SECTION,
                   "tables/utility_decision_curves.csv")
    return out


def _rqs_calibration(metrics: list[str], done: Mapping[str, bool]
                     ) -> tuple[float, str, str, str, str]:
    cal = [m for m in metrics if m in ("calibration_slope", "ici")]
    if cal:
        return (2, FILLED, f"Calibration ({_names(cal)}) with resampling-based confidence "
                "intervals.", "Validation", "results.csv")
    if done.get("smooth_calibration"):
        return (1, FILLED, "Smooth calibration (ICI, E50, E90) of out-of-fold predictions; "
                "no calibration metric in the bootstrap.", UTILITY_SECTION,
                "tables/utility_calibration.csv")
    return (0, FILLED, "No calibration statistic.", "", "")


def rqs_table(plan: StudyPlan, comparisons: Mapping[tuple[str, str], Any],
              done: Mapping[str, bool]) -> pd.DataFrame:
    """The Radiomics Quality Score components, with the points the analysis determines.

    Parameters
    ----------
    plan, comparisons
        The study and its validation.
    done : mapping
        ``decision_curves``, ``smooth_calibration``, ``nomogram``: whether the report
        shows them.

    Returns
    -------
    DataFrame
        ``checklist, item, topic, criterion, min_points, max_points, points, status,
        content, report_section, file``; ``points`` is NaN for the components the
        authors score.
    """
    filled = _rqs_filled(plan, comparisons, done)
    rows = []
    for it in RQS_ITEMS:
        points, status, content, section, file = filled.get(
            it.item, (np.nan, AUTHORS, "", "", ""))
        rows.append({"checklist": "RQS", "item": it.item, "topic": it.topic,
                     "criterion": it.criterion, "min_points": it.min_points,
                     "max_points": it.max_points, "points": float(points), "status": status,
                     "content": content, "report_section": section, "file": file})
    return pd.DataFrame(rows)

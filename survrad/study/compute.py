"""From a validated study to its :class:`~survrad.evaluation.results.StudyResults`.

Everything the report shows is computed here (layer 7 orchestrating the evaluation
layer): the estimates and replicates of the validation, paired differences, failures,
coefficient tables of the apparent fits, out-of-fold risk groups with their Kaplan-Meier
curves, log-rank tests and hazard ratios, calibration and ROC curves, Table 1 and the
lesion tables. Refits made for the report run ``n_jobs`` at a time, seeded from the
study's seed (numbers independent of ``n_jobs``); one that fails is recorded as a warning
with its reason, never fatal: the validation results stand.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import one_blas_thread
from survrad.data.cohort import Cohort
from survrad.evaluation.results import CoefficientTable, PredictionFigures, StudyResults
from survrad.models.cox import CoxModel
from survrad.models.pipeline import CohortPipeline
from survrad.study.plan import StudyPlan
from survrad.study.section_data import compute_data
from survrad.study.section_longitudinal import compute_longitudinal

__all__ = ["ESTIMATE_COLUMNS", "REPLICATE_COLUMNS", "study_results"]


def _estimates(comparisons: Mapping[tuple[str, str], Any]) -> pd.DataFrame:
    rows = []
    for (ep, model), cmp in comparisons.items():
        for strategy, res in cmp.results.items():
            for row in res.summary().to_dict("records"):
                rows.append({"endpoint": ep, "strategy": strategy, "model": model,
                             "method": res.method, **row})
    return pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)


ESTIMATE_COLUMNS = ["endpoint", "strategy", "model", "method", "metric", "horizon",
                    "apparent", "optimism", "corrected", "ci_low", "ci_high", "n_boot",
                    "n_failed"]
REPLICATE_COLUMNS = ["endpoint", "model", "strategy", "replicate", "seed", "status",
                     "metric", "horizon", "fit", "test", "reason"]


def _replicates(comparisons: Mapping[tuple[str, str], Any]) -> pd.DataFrame:
    """Every replicate's metric values, long: the intervals can be audited."""
    rows = []
    for (ep, model), cmp in comparisons.items():
        for strategy, res in cmp.results.items():
            for r in res.records:
                for m in res.metrics:
                    fit, test = r.value(m, "fit"), r.value(m, "test")
                    missing = r.status != "ok" or not (np.isfinite(fit) and np.isfinite(test))
                    rows.append((ep, model, strategy, r.replicate, r.seed, r.status, m.name,
                                 np.nan if m.horizon is None else m.horizon, fit, test,
                                 r.why(m) if missing else ""))
    return pd.DataFrame(rows, columns=REPLICATE_COLUMNS)


def _differences(comparisons: Mapping[tuple[str, str], Any]) -> pd.DataFrame:
    frames = []
    for (ep, model), cmp in comparisons.items():
        if len(cmp.results) < 2:
            continue
        primary = cmp.results[cmp.reference].metrics[0]
        frames.append(cmp.differences(primary).assign(endpoint=ep, model=model))
    cols = ["endpoint", "model", "pipeline", "reference", "metric", "horizon", "difference",
            "ci_low", "ci_high", "n_pairs"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def _failures(comparisons: Mapping[tuple[str, str], Any]) -> pd.DataFrame:
    """Replicates that failed (within ``max_failed``), counted by pipeline and reason."""
    rows = []
    for (ep, model), cmp in comparisons.items():
        for strategy, res in cmp.results.items():
            failed = Counter(r.reason for r in res.records if r.status != "ok")
            partial = Counter(why for r in res.records if r.status == "ok"
                              for why in dict.fromkeys(r.failures.values()))
            for kind, counts in (("replicate failed", failed),
                                 ("metric not computed", partial)):
                for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
                    rows.append({"endpoint": ep, "model": model, "strategy": strategy,
                                 "what": kind, "n_replicates": n, "of": len(res.records),
                                 "reason": reason})
    return pd.DataFrame(rows, columns=["endpoint", "model", "strategy", "what",
                                       "n_replicates", "of", "reason"])


#: Failures of a refit made for the report that are recorded, not raised: statistical
#: failures of the data (the validation already counted them against ``max_failed``).
_EXPECTED = (ValueError, ArithmeticError)


def _captured(fn: Callable[..., Any], *args: Any, **kwargs: Any
              ) -> tuple[Any, list[tuple[str, str]]]:
    """``fn(*args, **kwargs)`` and the warnings it raised (category name, message).

    An expected failure (a constant feature in a fold, a fold without events) gives
    ``None`` and a ``RefitFailed`` entry with the reason. BLAS runs on one thread, in this
    process as in a worker, so that the numbers do not depend on ``n_jobs``.
    """
    with warnings.catch_warnings(record=True) as caught, one_blas_thread():
        warnings.simplefilter("always")
        try:
            value = fn(*args, **kwargs)
        except _EXPECTED as exc:
            value = None
            failure = ("RefitFailed", f"{type(exc).__name__}: {exc}")
        else:
            failure = None
    out = [(w.category.__name__, str(w.message)) for w in caught]
    return value, out + ([failure] if failure else [])


def _primary_best(cmp: Any) -> str:
    """The strategy with the highest corrected primary metric (first on ties)."""
    ref = cmp.results[cmp.reference]
    primary = ref.metrics[0]
    values = {name: res.estimate(primary)["corrected"] for name, res in cmp.results.items()}
    finite = {k: v for k, v in values.items() if np.isfinite(v)}
    if not finite:
        return str(next(iter(values)))
    best = max(finite.values())
    return str(next(k for k, v in finite.items() if v == best))


def _coefficient_table(summary: Any, ep: str, strategy: str, model: str,
                       ci_level: float, scale: Any = None) -> CoefficientTable:
    from survrad.evaluation.describe import coefficient_table

    table = coefficient_table(summary, ci_level=ci_level, scale=scale)
    return CoefficientTable(ep, strategy, model, table, str(table.attrs.get("note", "")))


def _summary_of(pipe: CohortPipeline, cohort: Cohort, endpoint: str) -> Any:
    """The fitted model's summary table (None for models without one)."""
    model = pipe.fit(cohort, endpoint).model_
    return model.summary() if hasattr(model, "summary") else None


def _figures(oof: Any, cohort: Cohort, ep: str, strategy: str, model: str,
             n_groups: int, ci_level: float) -> PredictionFigures:
    """Risk groups, calibration or ROC from out-of-fold predictions (predicted patients)."""
    from survrad.evaluation.groups import group_names, risk_group_survival, roc_curve
    from survrad.evaluation.metrics import calibration

    mask = oof.predicted
    y = cohort.y(ep)[mask]
    frame = oof.frame[mask]
    common = {"endpoint": ep, "strategy": strategy, "model": model,
              "n_patients": cohort.n_patients, "n_predicted": int(mask.sum()),
              "fold_failures": oof.failures}
    if cohort.endpoint(ep).kind == "binary":
        return PredictionFigures(**common, roc=roc_curve(y, frame["risk"].to_numpy()))
    codes = frame["risk_group"].to_numpy(dtype=int) - 1
    names = group_names(n_groups)
    groups = pd.Categorical.from_codes(codes, categories=names, ordered=True)
    order = [n for k, n in enumerate(names) if (codes == k).any()]
    km = risk_group_survival(y["time"], y["event"], groups, group_order=order,
                             ci_level=ci_level)
    cals = tuple(calibration(y, oof.survival.loc[mask, h].to_numpy(), float(h))
                 for h in oof.survival.columns)
    return PredictionFigures(**common, risk_groups=km, calibration=cals)


def _refits(plan: StudyPlan, comparisons: Mapping[tuple[str, str], Any], log_: Any,
            n_jobs: int | None) -> tuple[tuple[CoefficientTable, ...],
                                         tuple[PredictionFigures, ...]]:
    """Coefficient tables of every inference model; prediction figures of the best.

    The coefficient tables are those of the apparent fits of the validation (the whole
    cohort, seeded as the replicates), plus a descriptive unpenalised Cox model of the
    clinical covariates in multi-lesion studies. The out-of-fold predictions of each
    endpoint x model's best pipeline are independent fits, run ``n_jobs`` at a time.
    """
    from joblib import Parallel, delayed

    from survrad.evaluation.crossval import cross_validated_predictions

    cfg = plan.config
    seed, ci = cfg["random_state"], cfg["validation"]["ci_level"]
    n_groups = cfg["report"]["risk_groups"]
    cohort = plan.cohort
    coefs: list[CoefficientTable] = []
    tasks: list[tuple[str, dict[str, Any], Any]] = []   # (kind, context, work)
    described: set[str] = set()
    for (ep, model), cmp in comparisons.items():
        pipes = plan.pipelines[ep][model]
        for strategy in pipes:
            fitted = cmp.results[strategy].fitted.model_
            if hasattr(fitted, "summary"):
                # per-SD ratios for the Cox model, fitted on standardised predictors
                coefs.append(_coefficient_table(fitted.summary(), ep, strategy, model, ci,
                                                getattr(fitted, "x_scale_", None)))
        if (cfg["strategies"] and cohort.patient_features and ep not in described
                and cohort.endpoint(ep).kind == "survival"):
            described.add(ep)
            # descriptive table: fitted whatever the events per variable (a low EPV still
            # warns, and the warning is reported)
            clinical = CohortPipeline(None, (), CoxModel(min_epv=0))
            tasks.append(("coef", {"endpoint": ep, "model": "cox",
                                   "strategy": "clinical_unpenalised", "stage": "final fit"},
                          delayed(_captured)(_summary_of, clinical, cohort, ep)))
        best = _primary_best(cmp)
        horizons = [float(h) for h in cfg["endpoints"][ep]["horizons"]]
        tasks.append(("cv", {"endpoint": ep, "model": model, "strategy": best,
                             "stage": "cross-validation"},
                      delayed(_captured)(cross_validated_predictions, pipes[best], cohort, ep,
                                         n_folds=5, n_groups=n_groups, horizons=horizons,
                                         random_state=seed,
                                         max_failed=cfg["validation"]["max_failed"])))
    outcomes = Parallel(n_jobs=n_jobs or 1)(work for _, _, work in tasks)
    preds: list[PredictionFigures] = []
    for (kind, ctx, _), (value, caught) in zip(tasks, outcomes, strict=True):
        log_.extend(caught, **ctx)
        if value is None:
            continue
        if kind == "coef":
            coefs.append(_coefficient_table(value, ctx["endpoint"], ctx["strategy"],
                                            ctx["model"], ci))
            continue
        for k, why in value.failures:
            log_.extend([("RefitFailed", f"fold {k}: {why}")], **ctx)
        fig, caught = _captured(_figures, value, cohort, ctx["endpoint"], ctx["strategy"],
                                ctx["model"], n_groups, ci)
        log_.extend(caught, **{**ctx, "stage": "prediction figures"})
        if fig is not None:
            preds.append(fig)
    return tuple(coefs), tuple(preds)


def _lesion_risk(plan: StudyPlan, log_: Any) -> pd.DataFrame | None:
    """Cross-fitted lesion risk from the first strategy with lesion-level scores, with the
    lesions' organ, volume and irradiation."""
    from survrad.lesions import lesion_risk_table

    surv = [ep for ep, e in plan.cohort.endpoints.items()
            if e.kind == "survival" and ep in plan.pipelines]
    for ep in surv[:1]:
        for pipes in plan.pipelines[ep].values():
            for name, pipe in pipes.items():
                if pipe.strategy is None or not hasattr(pipe.strategy, "lesion_scores"):
                    continue
                rep = plan.config["report"]
                value, caught = _captured(
                    lesion_risk_table, pipe.strategy, plan.cohort, ep,
                    n_folds=rep["lesion_risk_folds"],
                    random_state=plan.config["random_state"], high_risk=rep["high_risk"])
                log_.extend(caught, endpoint=ep, strategy=name, stage="lesion risk")
                if value is None:
                    return None
                base = plan.cohort.baseline_lesions()
                keep = [c for c in ("organ", "volume_ml", "irradiated") if c in base.columns]
                table = value.assign(strategy=name, endpoint=ep)
                return table.merge(base[["patient_id", "lesion_id", *keep]],
                                   on=["patient_id", "lesion_id"], how="left",
                                   validate="1:1")
    return None


_CHANGE_COLUMNS = ("longest_diameter_mm", "diameter_followup_mm", "irradiated")


def _lesion_tables(cohort: Cohort, log_: Any) -> dict[str, pd.DataFrame | None]:
    """Diameter changes, response rates by irradiation and mixed response (when the lesion
    table has diameters at follow-up and irradiation)."""
    from survrad.lesions import lesion_response_rates, mixed_response

    out: dict[str, pd.DataFrame | None] = {"lesion_changes": None,
                                           "lesion_response_rates": None,
                                           "mixed_response": None}
    if not cohort.has_lesions:
        return out
    base = cohort.baseline_lesions()
    if not set(_CHANGE_COLUMNS) <= set(base.columns):
        return out
    out["lesion_changes"] = base[["patient_id", "lesion_id", *_CHANGE_COLUMNS]].reset_index(
        drop=True)
    rates, caught = _captured(lambda: lesion_response_rates(
        cohort, by="irradiated", random_state=0).to_frame())
    log_.extend(caught, stage="lesion response")
    mixed, caught = _captured(lambda: mixed_response(cohort).reset_index())
    log_.extend(caught, stage="lesion response")
    out.update(lesion_response_rates=rates, mixed_response=mixed)
    return out


def study_results(plan: StudyPlan, comparisons: Mapping[tuple[str, str], Any], log_: Any,
                  timer: Callable[[str], Any], n_jobs: int | None) -> StudyResults:
    """Everything the report shows, computed from the plan and its validation."""
    from survrad.evaluation.describe import table_one
    from survrad.study.registry import resolved_models
    from survrad.study.section_external import compute_external
    from survrad.study.section_lesion_decisions import compute_lesion_decisions
    from survrad.study.section_utility import compute_utility

    cfg = plan.config
    with timer("final fits and cross-validated predictions"):
        coefs, preds = _refits(plan, comparisons, log_, n_jobs)
    with timer("clinical utility and checklists"):
        utility = compute_utility(plan, comparisons, log_, n_jobs)
    with timer("lesion tables"):
        lesion_risk = _lesion_risk(plan, log_)
        lesion = _lesion_tables(plan.cohort, log_)
    with timer("missing data and partial effects"):
        data = compute_data(plan, log_, n_jobs)
    with timer("lesion decisions"):
        lesion_decisions = compute_lesion_decisions(plan, log_, n_jobs)
    with timer("scan responses"):
        longitudinal = compute_longitudinal(plan, log_, n_jobs)
    with timer("external validation"):
        external = compute_external(plan, log_, n_jobs, comparisons=comparisons)
    units = {name: spec["unit"] for name, spec in cfg["endpoints"].items()}
    with log_.capture(stage="table 1"):
        table1 = table_one(plan.cohort, by=cfg["report"]["table1_by"],
                           endpoint_time_unit=units)
    endpoints = {name: {"kind": spec["kind"], "unit": spec["unit"],
                        "horizons": [float(h) for h in spec["horizons"]]}
                 for name, spec in cfg["endpoints"].items()}
    return StudyResults(
        title=cfg["title"], description=cfg.get("description", ""),
        config={**cfg, "models": resolved_models(cfg["models"])},
        endpoints=endpoints, estimates=_estimates(comparisons),
        replicates=_replicates(comparisons), differences=_differences(comparisons),
        failures=_failures(comparisons), coefficients=coefs, predictions=preds,
        table1=table1, excluded=plan.cohort.excluded.reset_index(drop=True),
        warnings=log_.records(), lesion_risk=lesion_risk, **lesion, data=data,
        lesion_decisions=lesion_decisions, longitudinal=longitudinal, utility=utility,
        external=external)

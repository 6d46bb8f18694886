"""External validation of a study's pipelines (layer 7: orchestration).

The study file's ``[external]`` table (or ``[validation] method = "external"`` /
``"loco"``) asks for it:

``design = "split"``
    The patient column ``column`` (default ``split``) names development patients
    (``train`` values) and validation patients (``test`` values). The study's internal
    validation, and every fit the report makes (coefficients, out-of-fold predictions,
    clinical utility), use the development patients only (:func:`development_plan`):
    no fit sees a validation patient. Each pipeline is then fitted once on the
    development patients and its frozen model assessed on the validation patients by
    :func:`~survrad.evaluation.external.external_validate` (interval: bootstrap of the
    validation patients, ``n_boot`` samples).
``design = "loco"``
    The internal validation uses every patient; each value of ``column`` (default
    ``center``) is held out in turn by
    :func:`~survrad.evaluation.loco.leave_one_center_out` and the per-centre C-indices
    (AUC for binary endpoints) are pooled by a random-effects meta-analysis (REML on the
    logit scale, with the prediction interval for a new centre).

Beside discrimination: the frozen model's calibration in the large and slope and its
observed vs expected risk at each horizon on the validation patients, smooth calibration
curves, and (``recalibrate = true``) the calibration after each update of
:func:`~survrad.evaluation.recalibration.recalibrate` (intercept, intercept and slope,
refit), each updated and assessed on the same validation set.

ComBat and an unseen centre (the rule of ``external_validate``): with
``ComBat(unseen="error")`` (the default) a pipeline whose validation patients come from
a centre its ComBat never saw cannot be validated: it is left out with a warning naming
the pipeline and the fix (``unseen = "reference"``); with ``unseen = "reference"`` the
new centre is harmonised to the development reference from its own features (no
outcomes), and a warning says so. Every such decision is in the run's warnings.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad.data.cohort import Cohort
from survrad.data.split import group_values, split_by_group, split_cohort
from survrad.evaluation.external import ExternalValidationResult, external_validate
from survrad.evaluation.loco import LOCOResult, leave_one_center_out
from survrad.evaluation.recalibration import METHODS, calibration_statistics, recalibrate
from survrad.evaluation.results_external import (
    CALIBRATION_COLUMNS,
    CENTER_COLUMNS,
    OE_COLUMNS,
    PERFORMANCE_COLUMNS,
    POOLED_COLUMNS,
    RECALIBRATION_COLUMNS,
    ExternalPipeline,
    ExternalResults,
)
from survrad.exceptions import SchemaError
from survrad.study.plan import StudyPlan

__all__ = ["ALL", "DevelopmentPlan", "compute_external", "development_plan",
           "external_options", "external_problems", "validation_sets"]

#: The ``center`` label of the single validation set of the split design.
ALL = "all"
#: Meta-analysis of the loco design (``leave_one_center_out`` defaults).
META_METHOD, META_SCALE = "REML", "logit"
#: Warning categories of the decisions the section also lists as notes.
HARMONISED, FAILED = "CentreHarmonised", "ExternalValidationFailed"


@dataclasses.dataclass(frozen=True)
class DevelopmentPlan(StudyPlan):
    """A study plan whose ``cohort`` is the development patients of a split design;
    ``all_patients`` keeps every patient for the external validation."""

    all_patients: Cohort | None = None


def external_options(plan: StudyPlan) -> Mapping[str, Any] | None:
    """The resolved ``[external]`` table of a plan, or None when the study has none."""
    return plan.config.get("external")


def _column(opts: Mapping[str, Any]) -> str:
    return opts.get("column") or ("split" if opts["design"] == "split" else "center")


def validation_sets(opts: Mapping[str, Any], cohort: Cohort) -> tuple[Cohort, Cohort] | list:
    """Split design: (development, validation) cohorts; loco: the held-out values.

    Raises
    ------
    SchemaError
        The column is missing or has missing values, a value is neither a train nor a
        test value, a set is empty, or loco finds fewer than two values.

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=60, n_centers=3, random_state=0)
    >>> validation_sets({"design": "loco", "column": None}, c)
    ['C1', 'C2', 'C3']
    """
    col = _column(opts)
    if opts["design"] == "split":
        return split_cohort(cohort, col, train=list(opts["train"]), test=list(opts["test"]))
    centers = group_values(cohort, col)
    if len(centers) < 2:
        raise SchemaError(f"leave-one-centre-out needs at least 2 values of the column; "
                          f"found {centers}.", file="patients", column=col)
    return centers


def external_problems(study: Any, cohort: Cohort) -> list[tuple[str, str]]:
    """The rules of ``[external]`` that need the data, as (TOML path, message).

    Called by :func:`survrad.study.plan.load_study` (so ``survrad check --study`` reports
    them): the column exists and is complete, its values are train or test values and
    both sets have patients (split), at least two values (loco).
    """
    ext = getattr(study, "external", None)
    if ext is None:
        return []
    opts = ext.model_dump()
    key = "external.column" if ext.column else "external.design"
    try:
        sets = validation_sets(opts, cohort)
    except SchemaError as exc:
        return [(key, f"patient column {_column(opts)!r}: {exc}")]
    except ValueError as exc:
        return [("external", str(exc))]
    held = ({"the validation patients": sets[1]} if opts["design"] == "split" else
            {f"centre {c}": split_by_group(cohort, c, _column(opts))[1] for c in sets})
    out = []
    for ep in study.endpoints:
        empty = [name for name, part in held.items() if _events(part, ep) == 0]
        if empty:
            out.append((key, f"{', '.join(empty)} have no event of endpoint {ep!r}: "
                        "discrimination and calibration cannot be assessed there. Merge small "
                        "centres, or choose other validation patients"))
    return out


def _events(cohort: Cohort, endpoint: str) -> int:
    y = cohort.y(endpoint)
    return int(np.sum(y["event"])) if y.dtype.names else int(np.sum(y))


def development_plan(plan: StudyPlan) -> StudyPlan:
    """The plan the internal validation runs on: split design, the development patients
    only (``all_patients`` keeps every patient); otherwise ``plan`` itself.

    Examples
    --------
    >>> import survrad as sr
    >>> from survrad.study import load_study
    >>> c = sr.simulate_cohort(n_patients=80, n_centers=2, random_state=0)
    >>> study = {"endpoints": {"os": {"time": "os_time", "event": "os_event",
    ...          "horizons": [6, 12]}}, "simulate": {}, "external": {"design": "loco"}}
    >>> plan = load_study(study, cohort=c)
    >>> development_plan(plan) is plan
    True
    """
    opts = external_options(plan)
    if opts is None or opts["design"] != "split":
        return plan
    train, _ = validation_sets(opts, plan.cohort)
    fields = {f.name: getattr(plan, f.name) for f in dataclasses.fields(StudyPlan)}
    return DevelopmentPlan(**{**fields, "cohort": train}, all_patients=plan.cohort)


# ------------------------------------------------------------------ per pipeline
def _selected(plan: StudyPlan, opts: Mapping[str, Any]) -> list[tuple[str, str, str, Any]]:
    """(endpoint, model, strategy, pipeline) of every pipeline ``[external]`` selects."""
    out = []
    for ep, by_model in plan.pipelines.items():
        for model, pipes in by_model.items():
            if opts.get("models") is not None and model not in opts["models"]:
                continue
            for strategy, pipe in pipes.items():
                if opts.get("strategies") is None or strategy in opts["strategies"]:
                    out.append((ep, model, strategy, pipe))
    return out


def _harmonised(fitted: Any, test: Cohort) -> list[str]:
    """Validation centres a ComBat step with ``unseen="reference"`` never saw in fitting."""
    new: list[str] = []
    for step in getattr(fitted, "steps_", ()):
        col = getattr(step, "batch_col", None)
        if col is None or getattr(step, "unseen", "error") != "reference":
            continue
        seen = {str(b) for b in step.batches_}
        new += sorted(set(test.patients[col].astype(str)) - seen)
    return new


def _recalibration(res: ExternalValidationResult, test: Cohort, center: str,
                   ci_level: float, caught: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Calibration of the frozen model and of each update on the validation set."""
    models = {"none": res.fitted}
    for method in METHODS:
        try:
            models[method] = recalibrate(res.fitted, test, method)
        except ValueError as exc:
            caught.append(("RecalibrationFailed", f"{center}, {method}: "
                           f"{type(exc).__name__}: {exc}"))
    rows = []
    for method, model in models.items():
        try:
            st = calibration_statistics(model, test, ci_level=ci_level)
        except ValueError as exc:
            caught.append(("RecalibrationFailed", f"{center}, {method}: {exc}"))
            continue
        rows.append({"center": center, "method": method, "citl": st.citl,
                     "citl_ci_low": st.citl_ci_low, "citl_ci_high": st.citl_ci_high,
                     "slope": st.slope, "slope_ci_low": st.slope_ci_low,
                     "slope_ci_high": st.slope_ci_high})
    return rows


def _calibration_rows(res: ExternalValidationResult, center: str) -> tuple[pd.DataFrame,
                                                                           pd.DataFrame]:
    cal = pd.DataFrame(columns=CALIBRATION_COLUMNS)
    if res.calibration is not None:
        cal = res.calibration.to_frame().assign(center=center, n=res.calibration.n,
                                                events=res.calibration.n_events)
    oe = pd.DataFrame(columns=OE_COLUMNS)
    if res.observed_expected is not None:
        oe = res.observed_expected.assign(center=center)
    return cal[CALIBRATION_COLUMNS], oe[OE_COLUMNS]


def _per_set(sets: Mapping[str, tuple[ExternalValidationResult, Cohort]], label: str,
             opts: Mapping[str, Any], ci_level: float, caught: list[tuple[str, str]]
             ) -> dict[str, Any]:
    """Calibration, observed/expected, recalibration and smooth curves of every set."""
    cals, oes, recal, smooth, names, new = [], [], [], [], [], []
    for center, (res, test) in sets.items():
        cal, oe = _calibration_rows(res, center)
        cals.append(cal)
        oes.append(oe)
        for (m, _), why in res.failures.items():
            caught.append(("ExternalMetricFailed", f"{center}, {m.label}: {why}"))
        new += [c for c in _harmonised(res.fitted, test) if c not in new]
        if opts["recalibrate"] and hasattr(res.fitted.model_, "coef_"):
            recal += _recalibration(res, test, center, ci_level, caught)
        smooth += list(res.smooth)
        names += [center] * len(res.smooth)
    if new:
        caught.append((HARMONISED, f"{label}: ComBat(unseen='reference') harmonised the "
                       f"validation centre(s) {new}, absent from the development data, to "
                       "the development reference from their own features (no outcomes)."))
    return {"calibration": pd.concat(cals, ignore_index=True),
            "observed_expected": pd.concat(oes, ignore_index=True),
            "recalibration": pd.DataFrame(recal, columns=RECALIBRATION_COLUMNS),
            "smooth": tuple(smooth), "smooth_centers": tuple(names)}


def _internal(comparison: Any, strategy: str) -> pd.DataFrame:
    """The study's internal estimates of one pipeline (empty when not validated)."""
    cols = ["metric", "horizon", "internal", "internal_ci_low", "internal_ci_high",
            "internal_method"]
    if comparison is None or strategy not in comparison.results:
        return pd.DataFrame(columns=cols)
    res = comparison.results[strategy]
    out = res.summary().rename(columns={"corrected": "internal", "ci_low": "internal_ci_low",
                                        "ci_high": "internal_ci_high"})
    return out.assign(internal_method=res.method)[cols]


def _merge_internal(perf: pd.DataFrame, internal: pd.DataFrame) -> pd.DataFrame:
    key = perf["horizon"].fillna(-1.0)
    internal = internal.assign(_h=internal["horizon"].astype(float).fillna(-1.0)).drop(
        columns="horizon")
    out = perf.drop(columns=["internal", "internal_ci_low", "internal_ci_high",
                             "internal_method"]).assign(_h=key)
    out = out.merge(internal, on=["metric", "_h"], how="left", validate="1:1")
    out = out.drop(columns="_h")[PERFORMANCE_COLUMNS]
    numbers = [c for c in PERFORMANCE_COLUMNS if c not in ("metric", "internal_method")]
    return out.assign(**{c: out[c].astype(float) for c in numbers if not c.startswith(
        ("n_", "events_"))}, internal_method=out["internal_method"].fillna("").astype(str))


def _split_performance(res: ExternalValidationResult) -> pd.DataFrame:
    s = res.summary()
    return pd.DataFrame({
        "metric": s["metric"], "horizon": s["horizon"], "apparent": s["apparent"],
        "internal": np.nan, "internal_ci_low": np.nan, "internal_ci_high": np.nan,
        "internal_method": "", "external": s["external"], "external_ci_low": s["ci_low"],
        "external_ci_high": s["ci_high"], "pi_low": np.nan, "pi_high": np.nan,
        "n_development": res.n_train, "events_development": res.events_train,
        "n_validation": res.n_test, "events_validation": res.events_test},
        columns=PERFORMANCE_COLUMNS)


def _loco_performance(res: LOCOResult, cohort: Cohort, ep: str, apparent: float
                      ) -> pd.DataFrame:
    pooled = res.pooled()
    m = res.meta_metric
    events = _events(cohort, ep)
    row = {"metric": m.name, "horizon": np.nan, "apparent": apparent, "internal": np.nan,
           "internal_ci_low": np.nan, "internal_ci_high": np.nan, "internal_method": "",
           "external": np.nan, "external_ci_low": np.nan, "external_ci_high": np.nan,
           "pi_low": np.nan, "pi_high": np.nan, "n_development": cohort.n_patients,
           "events_development": events, "n_validation": cohort.n_patients,
           "events_validation": events}
    if len(pooled):
        p = pooled.iloc[0]
        row.update(external=p["estimate"], external_ci_low=p["ci_low"],
                   external_ci_high=p["ci_high"], pi_low=p["pi_low"], pi_high=p["pi_high"])
    return pd.DataFrame([row], columns=PERFORMANCE_COLUMNS)


def _validate_one(pipe: Any, task: Mapping[str, Any]) -> tuple[Any, list[tuple[str, str]]]:
    """One pipeline's external validation and the warnings it raised; a failure (a
    SchemaError, a ResamplingError) gives None and the reason."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = _external_of(pipe, task)
        except (ValueError, ArithmeticError) as exc:
            value = None
            failure = [(FAILED, f"{task['label']} was not externally "
                        f"validated: {type(exc).__name__}: {exc}")]
        else:
            failure = []
    return value, [(w.category.__name__, str(w.message)) for w in caught] + failure


def _external_of(pipe: Any, task: Mapping[str, Any]) -> Any:
    common = {"metrics": task["metrics"], "horizons": task["horizons"] or None,
              "n_boot": task["n_boot"], "random_state": task["seed"],
              "ci_level": task["ci_level"], "max_failed": task["max_failed"]}
    if task["design"] == "split":
        train, test = task["sets"]
        return external_validate(pipe, train, test, task["endpoint"], **common)
    return leave_one_center_out(pipe, task["cohort"], task["endpoint"],
                                column=task["column"], method=META_METHOD, scale=META_SCALE,
                                **common)


def _record(value: Any, task: Mapping[str, Any], comparison: Any, opts: Mapping[str, Any],
            caught: list[tuple[str, str]]) -> ExternalPipeline:
    """The section record of one validated pipeline."""
    ep, model, strategy = task["endpoint"], task["model"], task["strategy"]
    ci = task["ci_level"]
    if task["design"] == "split":
        sets = {ALL: (value, task["sets"][1])}
        perf, centers, pooled, why = _split_performance(value), None, None, ""
    else:
        cohort = task["cohort"]
        sets = {c: (r, split_by_group(cohort, c, task["column"])[1])
                for c, r in value.results.items()}
        apparent = np.nan
        if comparison is not None and strategy in comparison.results:
            apparent = comparison.results[strategy].apparent.get(value.meta_metric, np.nan)
        perf = _loco_performance(value, cohort, ep, float(apparent))
        centers, pooled, why = value.per_center(), value.pooled(), value.meta_failure
        if why:
            caught.append(("MetaAnalysisFailed", f"{task['label']}: {why}"))
    parts = _per_set(sets, task["label"], opts, ci, caught)
    return ExternalPipeline(
        endpoint=ep, model=model, strategy=strategy, kind=task["kind"], unit=task["unit"],
        performance=_merge_internal(perf, _internal(comparison, strategy)),
        centers=None if centers is None else centers[CENTER_COLUMNS].reset_index(drop=True),
        pooled=None if pooled is None else pooled[POOLED_COLUMNS].reset_index(drop=True),
        meta_failure=why, **parts)


def _tasks(plan: StudyPlan, opts: Mapping[str, Any], cohort: Cohort) -> list[dict[str, Any]]:
    cfg = plan.config
    val = cfg["validation"]
    sets = validation_sets(opts, cohort)
    tasks = []
    for ep, model, strategy, pipe in _selected(plan, opts):
        spec = cfg["endpoints"][ep]
        tasks.append({
            "endpoint": ep, "model": model, "strategy": strategy, "pipe": pipe,
            "label": f"{ep}, {model}, {strategy}", "kind": spec["kind"],
            "unit": spec["unit"], "design": opts["design"], "column": _column(opts),
            "sets": sets, "cohort": cohort, "metrics": val["metrics"],
            "horizons": [float(h) for h in spec["horizons"]], "n_boot": opts["n_boot"],
            "seed": cfg["random_state"], "ci_level": val["ci_level"],
            "max_failed": val["max_failed"]})
    return tasks


def _frame(pipelines: Sequence[ExternalPipeline]) -> pd.DataFrame:
    cols = ["endpoint", "model", "strategy", *PERFORMANCE_COLUMNS]
    frames = [p.performance.assign(endpoint=p.endpoint, model=p.model, strategy=p.strategy)
              for p in pipelines]
    return (pd.concat(frames, ignore_index=True)[cols] if frames
            else pd.DataFrame(columns=cols))


def compute_external(plan: StudyPlan, log_: Any, n_jobs: int | None, *,
                     comparisons: Mapping[tuple[str, str], Any] | None = None
                     ) -> ExternalResults | None:
    """External validation of the study's pipelines; None without ``[external]``.

    Parameters
    ----------
    plan : StudyPlan
        The study (a :class:`DevelopmentPlan` for the split design: its ``all_patients``
        are split again; a plain plan works too).
    log_ : warning log
        Receives every warning and every part that could not be computed, with context
        (stage ``"external validation"``).
    n_jobs : int or None
        Pipelines validated ``n_jobs`` at a time (the numbers do not depend on it).
    comparisons : mapping (endpoint, model) -> comparison, optional
        The study's internal validation: its corrected estimates fill the ``internal``
        columns (NaN without it).

    Returns
    -------
    ExternalResults or None
    """
    from joblib import Parallel, delayed

    opts = external_options(plan)
    if opts is None:
        return None
    cohort = getattr(plan, "all_patients", None)
    cohort = plan.cohort if cohort is None else cohort
    tasks = _tasks(plan, opts, cohort)
    outcomes = Parallel(n_jobs=n_jobs or 1)(
        delayed(_validate_one)(t["pipe"], {k: v for k, v in t.items() if k != "pipe"})
        for t in tasks)
    pipelines, notes = [], []
    for task, (value, caught) in zip(tasks, outcomes, strict=True):
        ctx = {"endpoint": task["endpoint"], "model": task["model"],
               "strategy": task["strategy"], "stage": "external validation"}
        if value is not None:
            cmp = (comparisons or {}).get((task["endpoint"], task["model"]))
            with log_.capture(**ctx):      # recalibration refits may warn (low EPV)
                pipelines.append(_record(value, task, cmp, opts, caught))
        log_.extend(caught, **ctx)
        notes += [m for c, m in caught if c in (HARMONISED, FAILED)]
    sets = validation_sets(opts, cohort)
    split = opts["design"] == "split"
    return ExternalResults(
        design=opts["design"], column=_column(opts),
        train=tuple(opts["train"]) if split else (), test=tuple(opts["test"]) if split else (),
        centers=() if split else tuple(sets), n_boot=int(opts["n_boot"]),
        ci_level=float(plan.config["validation"]["ci_level"]),
        meta_method="" if split else f"{META_METHOD}, {META_SCALE} scale",
        n_internal=sets[0].n_patients if split else cohort.n_patients,
        pipelines=tuple(pipelines), table=_frame(pipelines),
        notes=tuple(dict.fromkeys(notes)))


"""Study files (TOML) -> a validated plan -> a reproducible report (layer 7).

``run_study(path_or_dict, out=DIR)`` reads the study, validates EVERYTHING up front (unknown
keys, missing files, absent columns, strategies that need a lesion table), builds one
:class:`~survrad.models.pipeline.CohortPipeline` per endpoint x strategy x model, validates
them on the same patient resamples, and writes the report atomically.
See ``analyses/demo/study.toml`` for every option, commented.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import time
import tomllib
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from survrad._validation import close_matches, one_blas_thread
from survrad.data.cohort import Cohort, Endpoint
from survrad.exceptions import ConfigError
from survrad.features import (
    ComBat,
    CorrelationFilter,
    ICCFilter,
    LassoCoxSelector,
    StabilitySelector,
    Standardize,
    UnivariateCoxFilter,
    VarianceFilter,
)
from survrad.lesions import (
    AttentionMIL,
    Delta,
    FeatureStatistics,
    Heterogeneity,
    LargestLesions,
    LesionResponseAggregation,
    LesionRiskAggregation,
    TumorBurden,
)
from survrad.models.cox import CoxModel
from survrad.models.forest import SurvivalForest
from survrad.models.pipeline import CohortPipeline
from survrad.models.response import ForestClassifier, LogisticModel

__all__ = ["StudyPlan", "StudyResults", "demo_study_text", "load_study", "run_study"]

STRATEGIES = {
    "largest": LargestLesions,
    "burden": TumorBurden,
    "statistics": FeatureStatistics,
    "lesion_response": LesionResponseAggregation,
    "lesion_risk": LesionRiskAggregation,
    "attention_mil": AttentionMIL,
    "heterogeneity": Heterogeneity,
    "delta": Delta,
}
FEATURE_STEPS = {
    "standardize": Standardize,
    "combat": ComBat,
    "icc": ICCFilter,
    "variance": VarianceFilter,
    "correlation": CorrelationFilter,
    "univariate_cox": UnivariateCoxFilter,
    "lasso": LassoCoxSelector,
    "stability": StabilitySelector,
}
MODELS = {
    "cox": ("survival", CoxModel),
    "forest": ("survival", SurvivalForest),
    "logistic": ("binary", LogisticModel),
    "forest_classifier": ("binary", ForestClassifier),
}
TOP_KEYS = {"title", "description", "random_state", "data", "endpoints", "strategies",
            "features", "models", "validation", "report", "simulate"}
DATA_KEYS = {"patients", "lesions", "patient_features", "lesion_features", "columns",
             "event_map", "drop_missing_time", "exclude_orphan_lesions", "strict"}
ENDPOINT_KEYS = {"kind", "time", "event", "target", "horizons", "unit"}
VALIDATION_KEYS = {"n_boot", "method", "metrics", "n_folds", "n_jobs", "ci_level",
                   "max_failed", "baselines", "backend", "scheduler"}
REPORT_KEYS = {"table1_by", "risk_groups", "lesion_risk_folds", "high_risk"}
DEMO = "<demo>"


@dataclasses.dataclass(frozen=True)
class StudyPlan:
    """A validated study: resolved config, the cohort and the pipelines to validate."""

    config: Mapping[str, Any]
    file: str
    cohort: Cohort
    pipelines: Mapping[str, Mapping[str, Mapping[str, CohortPipeline]]]  # ep -> model -> strat
    inputs: tuple[str, ...]


# ------------------------------------------------------------------------- loading
def _unknown(keys: Any, allowed: set[str], where: str, file: str) -> None:
    for k in keys:
        if k not in allowed:
            hint = close_matches(k, allowed)
            did = f" Did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"unknown key.{did} Allowed here: {sorted(allowed)}.",
                              file=file, key=f"{where}{k}")


def _read(path_or_dict: str | Path | Mapping[str, Any]) -> tuple[dict[str, Any], str, Path]:
    if isinstance(path_or_dict, Mapping):
        return copy.deepcopy(dict(path_or_dict)), "<dict>", Path.cwd()
    path = Path(path_or_dict)
    if not path.is_file():
        raise ConfigError("study file not found.", file=str(path))
    try:
        cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from exc
    return cfg, str(path), path.resolve().parent


def _resolve_path(value: Any, base: Path, file: str, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"expected a file path, got {value!r}.", file=file, key=key)
    p = Path(value)
    p = p if p.is_absolute() else base / p
    if not p.is_file():
        raise ConfigError(f"file not found: {str(p)!r} (relative paths are relative to the "
                          "study file).", file=file, key=key)
    return str(p)


def _build(cls: type, params: Mapping[str, Any], file: str, key: str) -> Any:
    sig = inspect.signature(cls.__init__)
    allowed = [p for p in sig.parameters if p != "self"]
    for k in params:
        if k not in allowed:
            hint = close_matches(k, allowed)
            did = f" Did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"{cls.__name__} has no parameter {k!r}.{did} "
                              f"Parameters: {allowed}.", file=file, key=f"{key}.{k}")
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{cls.__name__}: {exc}", file=file, key=key) from exc


def _endpoints(cfg: Mapping[str, Any], file: str) -> dict[str, Endpoint]:
    eps = cfg.get("endpoints")
    if not eps:
        raise ConfigError("at least one endpoint is required, e.g. [endpoints.os] with kind, "
                          "time and event.", file=file, key="endpoints")
    out = {}
    for name, spec in eps.items():
        _unknown(spec, ENDPOINT_KEYS, f"endpoints.{name}.", file)
        kind = spec.get("kind", "survival")
        try:
            out[name] = Endpoint(name, kind, spec.get("time"), spec.get("event"),
                                 spec.get("target"))
        except ValueError as exc:
            raise ConfigError(str(exc), file=file, key=f"endpoints.{name}") from exc
    return out


def _strategies(cfg: Mapping[str, Any], file: str, has_lesions: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, spec in enumerate(cfg.get("strategies", [])):
        spec = dict(spec)
        key = f"strategies[{i}]"
        name = spec.pop("name", None)
        method = spec.pop("method", None)
        if not name or not method:
            raise ConfigError("each strategy needs a name and a method.", file=file, key=key)
        if method not in STRATEGIES:
            hint = close_matches(method, STRATEGIES)
            did = f" Did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"unknown method {method!r}.{did} Methods: {sorted(STRATEGIES)}.",
                              file=file, key=f"{key}.method")
        if not has_lesions:
            raise ConfigError(f"strategy {name!r} ({method}) needs a lesion table: add "
                              "data.lesions, or remove the strategy for a patient-only study.",
                              file=file, key=key)
        if name in out:
            raise ConfigError(f"duplicate strategy name {name!r}.", file=file, key=key)
        out[name] = _build(STRATEGIES[method], spec, file, key)
    return out


def _feature_steps(cfg: Mapping[str, Any], file: str, base: Path) -> list[Any]:
    steps = []
    for i, spec in enumerate(cfg.get("features", [])):
        spec = dict(spec)
        key = f"features[{i}]"
        step = spec.pop("step", None)
        if step not in FEATURE_STEPS:
            hint = close_matches(str(step), FEATURE_STEPS)
            did = f" Did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"unknown feature step {step!r}.{did} Steps: "
                              f"{sorted(FEATURE_STEPS)}.", file=file, key=f"{key}.step")
        if step == "icc" and isinstance(spec.get("repeats"), str):
            spec["repeats"] = _read_repeats(spec["repeats"], base, file, f"{key}.repeats")
        steps.append(_build(FEATURE_STEPS[step], spec, file, key))
    return steps


def _read_repeats(path: str, base: Path, file: str, key: str) -> Any:
    """The repeated-segmentation table of the ICC filter (ids kept as text)."""
    from survrad.data.io import read_table

    return read_table(_resolve_path(path, base, file, key), name="repeats",
                      id_columns=["lesion_id"])


def _models(cfg: Mapping[str, Any], file: str) -> dict[str, tuple[str, Any]]:
    models = cfg.get("models") or {"cox": {}}
    out = {}
    for name, params in models.items():
        if name not in MODELS:
            hint = close_matches(name, MODELS)
            did = f" Did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"unknown model.{did} Models: {sorted(MODELS)}.", file=file,
                              key=f"models.{name}")
        kind, cls = MODELS[name]
        out[name] = (kind, _build(cls, params, file, f"models.{name}"))
    return out


def _validation_settings(cfg: Mapping[str, Any], file: str,
                         models: Mapping[str, tuple[str, Any]]) -> dict[str, Any]:
    val = dict(cfg.get("validation") or {})
    _unknown(val, VALIDATION_KEYS, "validation.", file)
    out = {"n_boot": 200, "method": None, "metrics": None, "n_folds": 5, "n_jobs": None,
           "ci_level": 0.95, "max_failed": 0.10, "baselines": True, "backend": None,
           "scheduler": None}
    out.update(val)
    if not isinstance(out["n_boot"], int) or out["n_boot"] < 1:
        raise ConfigError(f"n_boot must be a positive integer, got {out['n_boot']!r}.",
                          file=file, key="validation.n_boot")
    out["method"] = _methods(out["method"], models, file)
    return out


VALIDATION_METHODS = ("optimism", ".632+", "cv")


def _methods(spec: Any, models: Mapping[str, tuple[str, Any]], file: str) -> dict[str, str]:
    """The validation method of each model: one for all, a table by model, or defaults.

    A model's default is its ``preferred_validation_method`` (".632+" for forests, which
    the optimism bootstrap under-corrects), else "optimism".
    """
    default = {name: getattr(model, "preferred_validation_method", "optimism")
               for name, (_, model) in models.items()}
    if spec is None:
        return default
    if isinstance(spec, str):
        chosen, key = dict.fromkeys(models, spec), "validation.method"
    elif isinstance(spec, Mapping):
        _unknown(spec, set(models), "validation.method.", file)
        chosen, key = {**default, **spec}, None
    else:
        raise ConfigError(f"method must be a string or a table by model, got {spec!r}.",
                          file=file, key="validation.method")
    for name, method in chosen.items():
        if method not in VALIDATION_METHODS:
            raise ConfigError(f"method must be one of {list(VALIDATION_METHODS)}, got "
                              f"{method!r}.", file=file, key=key or f"validation.method.{name}")
    return chosen


def _read_data(cfg: Mapping[str, Any], file: str, base: Path,
               endpoints: Mapping[str, Endpoint]) -> tuple[Cohort, tuple[str, ...]]:
    from survrad.data.io import read_cohort

    data = cfg.get("data")
    if not isinstance(data, Mapping) or "patients" not in data:
        raise ConfigError("a [data] table with at least `patients = \"file.csv\"` is required.",
                          file=file, key="data.patients")
    _unknown(data, DATA_KEYS, "data.", file)
    patients = _resolve_path(data["patients"], base, file, "data.patients")
    lesions = (_resolve_path(data["lesions"], base, file, "data.lesions")
               if data.get("lesions") else None)
    eps = {name: (ep.time, ep.event) if ep.kind == "survival" else ep.target
           for name, ep in endpoints.items()}
    cohort = read_cohort(patients, lesions, patient_features=data.get("patient_features"),
                         lesion_features=data.get("lesion_features"), endpoints=eps,
                         columns=data.get("columns"), event_map=_event_map(data.get("event_map")),
                         drop_missing_time=data.get("drop_missing_time", False),
                         exclude_orphan_lesions=data.get("exclude_orphan_lesions", False),
                         strict=data.get("strict", False))
    inputs = (patients,) if lesions is None else (patients, lesions)
    return cohort, inputs


def _event_map(spec: Mapping[str, Any] | None) -> dict[Any, Any] | None:
    """TOML keys are strings: ``{1 = 0, 2 = 1}`` means the numbers 1 and 2."""
    if spec is None:
        return None

    def key(k: str) -> Any:
        for cast in (int, float):
            try:
                return cast(k)
            except ValueError:
                pass
        return k

    return {key(k): _event_map(v) if isinstance(v, Mapping) else v for k, v in spec.items()}


def _pipelines(cohort: Cohort, strategies: Mapping[str, Any], steps: list[Any],
               models: Mapping[str, tuple[str, Any]], endpoints: Mapping[str, Endpoint],
               baselines: bool) -> dict[str, dict[str, dict[str, CohortPipeline]]]:
    """endpoint -> model -> strategy name -> pipeline; baselines come first."""
    out: dict[str, dict[str, dict[str, CohortPipeline]]] = {}
    for ep_name, ep in endpoints.items():
        out[ep_name] = {}
        for model_name, (kind, model) in models.items():
            if kind != ep.kind:
                continue
            pipes: dict[str, CohortPipeline] = {}
            if not strategies:
                pipes["patient"] = CohortPipeline(None, steps, model)
            elif baselines:
                if cohort.patient_features:
                    pipes["clinical"] = CohortPipeline(None, (), model)
                pipes["burden"] = CohortPipeline(TumorBurden(), (), model, patient_features=())
            for name, strategy in strategies.items():
                pipes[name] = CohortPipeline(strategy, steps, model)
            out[ep_name][model_name] = pipes
        if not out[ep_name]:
            raise ConfigError(f"no model for the {ep.kind} endpoint {ep_name!r}: add "
                              + ("[models.cox] or [models.forest]" if ep.kind == "survival"
                                 else "[models.logistic] or [models.forest_classifier]") + ".",
                              key="models")
    return out


def load_study(path_or_dict: str | Path | Mapping[str, Any], *, file: str | None = None,
               base: Path | None = None) -> StudyPlan:
    """Read and validate a study (TOML file or dict) without running anything.

    ``file`` and ``base`` name the study file and the folder relative paths start from
    when a dict is given (default ``"<dict>"`` and the working directory).

    Raises
    ------
    ConfigError
        Unknown key, missing file, bad value, a strategy without a lesion table.
    SchemaError
        The data fail the checks of RELIABILITY.md.
    """
    cfg, file_, base_ = _read(path_or_dict)
    file, base = file or file_, base or base_
    _unknown(cfg, TOP_KEYS, "", file)
    if "simulate" in cfg:
        raise ConfigError("a [simulate] study runs through run_study (it writes the simulated "
                          "tables into the report folder).", file=file, key="simulate")
    endpoints = _endpoints(cfg, file)
    for name, ep in endpoints.items():
        spec = cfg["endpoints"][name]
        hz = spec.get("horizons", [])
        if ep.kind == "survival" and not all(isinstance(h, int | float) and h > 0 for h in hz):
            raise ConfigError("horizons must be positive numbers.", file=file,
                              key=f"endpoints.{name}.horizons")
    cohort, inputs = _read_data(cfg, file, base, endpoints)
    strategies = _strategies(cfg, file, cohort.has_lesions)
    steps = _feature_steps(cfg, file, base)
    models = _models(cfg, file)
    validation = _validation_settings(cfg, file, models)
    report = dict(cfg.get("report") or {})
    _unknown(report, REPORT_KEYS, "report.", file)
    pipes = _pipelines(cohort, strategies, steps, models, endpoints, validation["baselines"])
    resolved = {
        "title": cfg.get("title", "survrad study"),
        "description": cfg.get("description", ""),
        "random_state": cfg.get("random_state", 0),
        "data": {**cfg["data"], "patient_features": list(cohort.patient_features),
                 "lesion_features": list(cohort.lesion_features)},
        "endpoints": {k: dict(v) for k, v in cfg["endpoints"].items()},
        "strategies": [dict(s) for s in cfg.get("strategies", [])],
        "features": [dict(s) for s in cfg.get("features", [])],
        "models": {name: m.get_params(deep=False) for name, (_, m) in models.items()},
        "validation": validation,
        "report": {"table1_by": None, "risk_groups": 3, "lesion_risk_folds": 5,
                   "high_risk": "top1", **report},
    }
    return StudyPlan(resolved, file, cohort, pipes, inputs)


# --------------------------------------------------------------------------- running
@dataclasses.dataclass
class StudyResults:
    """Everything a run computed (unrounded), handed to the report writer."""

    records: list[dict[str, Any]]
    comparisons: dict[tuple[str, str], Any]                 # (endpoint, model) -> result
    coefficients: dict[tuple[str, str, str], Any]           # (endpoint, strategy, model)
    cv_predictions: dict[tuple[str, str, str], Any]         # best pipeline per ep x model
    lesion_risk: Any                                        # DataFrame or None
    warnings: list[dict[str, Any]]


_RECORD_KEYS = ("endpoint", "strategy", "model", "metric", "apparent", "optimism",
                "corrected", "ci_low", "ci_high", "n_boot", "n_failed")


class _WarningLog:
    """Collects every warning with its context (endpoint, strategy, stage)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    @contextlib.contextmanager
    def capture(self, **context: Any):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for w in caught:
            self.entries.append({**context, "category": w.category.__name__,
                                 "message": str(w.message)})

    def extend(self, caught: Sequence[tuple[str, str]], **context: Any) -> None:
        """Warnings captured elsewhere (a worker process) as (category, message)."""
        for category, message in caught:
            self.entries.append({**context, "category": category, "message": message})

    def add_replicates(self, frame: Any, **context: Any) -> None:
        for _, row in frame.iterrows():
            for msg in filter(None, str(row.get("warnings", "")).split(" | ")):
                cat, _, text = msg.partition(": ")
                self.entries.append({**context, "replicate": int(row["replicate"]),
                                     "category": cat, "message": text})


class _Stopwatch:
    """Wall seconds per stage of a run, for the manifest's ``durations``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = round(self.seconds.get(stage, 0.0)
                                        + time.perf_counter() - start, 3)


def _metrics_for(plan: StudyPlan, ep: str) -> tuple[list[str] | None, list[float]]:
    spec = plan.config["endpoints"][ep]
    metrics = plan.config["validation"]["metrics"]
    return metrics, [float(h) for h in spec.get("horizons", [])]


def _validate(plan: StudyPlan, log: _WarningLog, n_jobs: int | None, backend: str | None,
              scheduler: str | None, progress: bool, timer: _Stopwatch) -> tuple[list, dict]:
    """Validate every endpoint x model x strategy; one comparison per endpoint x model.

    The models of an endpoint are validated in ONE engine call on the same resamples
    (cross-validated ones in a second), so a strategy fitted for the Cox model of a
    replicate is reused by the forest of that replicate; each model keeps its method.
    """
    from survrad.evaluation.bootstrap import ComparisonResult, compare_pipelines

    val = plan.config["validation"]
    records, comparisons = [], {}
    for ep, by_model in plan.pipelines.items():
        metrics, horizons = _metrics_for(plan, ep)
        families: dict[str, list[str]] = {}
        for model in by_model:
            families.setdefault("cv" if val["method"][model] == "cv" else "bootstrap",
                                []).append(model)
        for models in families.values():
            joint = {f"{m}/{s}": pipe for m in models for s, pipe in by_model[m].items()}
            with log.capture(endpoint=ep, stage="validation"), \
                    timer(f"validation {ep} ({', '.join(models)})"):
                cmp = compare_pipelines(
                    joint, plan.cohort, ep, n_boot=val["n_boot"], metrics=metrics,
                    horizons=horizons or None,
                    method={n: val["method"][n.split("/", 1)[0]] for n in joint},
                    n_folds=val["n_folds"], random_state=plan.config["random_state"],
                    n_jobs=n_jobs if n_jobs is not None else val["n_jobs"],
                    backend=backend or val["backend"], scheduler=scheduler or val["scheduler"],
                    progress=progress, ci_level=val["ci_level"], max_failed=val["max_failed"])
            for model in models:
                results = {s: cmp.results[f"{model}/{s}"] for s in by_model[model]}
                comparisons[(ep, model)] = ComparisonResult(results, next(iter(results)),
                                                            cmp.ci_level)
    for (ep, model), cmp in comparisons.items():
        for strategy, res in cmp.results.items():
            log.add_replicates(res.replicates, endpoint=ep, model=model, strategy=strategy)
            for row in res.summary().to_dict("records"):
                records.append({"endpoint": ep, "strategy": strategy, "model": model,
                                **{k: row[k] for k in _RECORD_KEYS[3:]}})
    return records, comparisons


def _best(cmp: Any) -> str:
    """The strategy with the highest corrected primary metric (first on ties)."""
    summary = cmp.summary()
    primary = summary["metric"].iloc[0]
    rows = summary[summary["metric"] == primary]
    return str(rows.loc[rows["corrected"].idxmax(), "pipeline"]) if rows["corrected"].notna(
    ).any() else str(rows["pipeline"].iloc[0])


def _fit_full(plan: StudyPlan, comparisons: dict, log: _WarningLog,
              n_jobs: int | None) -> tuple[dict, dict]:
    """Coefficient tables of every inference model; out-of-fold predictions of the best.

    The coefficient tables are those of the apparent fits of the validation (the whole
    cohort, seeded as the replicates). The remaining fits are independent, so they run
    ``n_jobs`` at a time; every ``random_state`` left at None is seeded from the study's
    seed, so nothing depends on ``n_jobs``.
    """
    from joblib import Parallel, delayed

    from survrad.evaluation.crossval import cross_validated_predictions

    seed = plan.config["random_state"]
    n_groups = plan.config["report"]["risk_groups"]
    cohort = plan.cohort
    coefs: dict[tuple[str, str, str], Any] = {}
    tasks: list[tuple[str, dict[str, Any], Any]] = []   # (kind, context, work)
    for (ep, model), cmp in comparisons.items():
        pipes = plan.pipelines[ep][model]
        for strategy in pipes:
            fitted = cmp.results[strategy].fitted.model_
            if hasattr(fitted, "summary"):
                coefs[(ep, strategy, model)] = fitted.summary()
        descriptive = plan.config["strategies"] and cohort.patient_features
        if descriptive and cohort.endpoint(ep).kind == "survival" \
                and not any(t[1]["endpoint"] == ep and t[1]["strategy"] == "clinical_unpenalised"
                            for t in tasks):
            # descriptive table: fitted whatever the events per variable (a low EPV still
            # warns, and the warning is reported)
            clinical = CohortPipeline(None, (), CoxModel(min_epv=0))
            tasks.append(("coef", {"endpoint": ep, "model": "cox",
                                   "strategy": "clinical_unpenalised", "stage": "final fit"},
                          delayed(_summary_of)(clinical, cohort, ep)))
        best = _best(cmp)
        _, horizons = _metrics_for(plan, ep)
        tasks.append(("cv", {"endpoint": ep, "model": model, "strategy": best,
                             "stage": "cross-validation"},
                      delayed(_captured)(cross_validated_predictions, pipes[best], cohort, ep,
                                         n_folds=5, n_groups=n_groups, horizons=horizons,
                                         random_state=seed)))
    outcomes = Parallel(n_jobs=n_jobs or 1)(work for _, _, work in tasks)
    cvs = {}
    for (kind, ctx, _), (value, caught) in zip(tasks, outcomes, strict=True):
        log.extend(caught, **ctx)
        key = (ctx["endpoint"], ctx["strategy"], ctx["model"])
        if kind == "cv":
            cvs[key] = value
        elif value is not None:
            coefs[key] = value
    return coefs, cvs


def _captured(fn: Callable[..., Any], *args: Any, **kwargs: Any
              ) -> tuple[Any, list[tuple[str, str]]]:
    """``fn(*args, **kwargs)`` and the warnings it raised (category name, message).

    BLAS runs on one thread, in this process as in a worker, so that the numbers do not
    depend on ``n_jobs`` (:func:`survrad._validation.one_blas_thread`).
    """
    with warnings.catch_warnings(record=True) as caught, one_blas_thread():
        warnings.simplefilter("always")
        value = fn(*args, **kwargs)
    return value, [(w.category.__name__, str(w.message)) for w in caught]


def _summary_of(pipe: CohortPipeline, cohort: Cohort, endpoint: str
                ) -> tuple[Any, list[tuple[str, str]]]:
    """The fitted model's summary table (None for models without one), with warnings."""
    def fit() -> Any:
        model = pipe.fit(cohort, endpoint).model_
        return model.summary() if hasattr(model, "summary") else None

    return _captured(fit)


def _lesion_risk(plan: StudyPlan, log: _WarningLog) -> Any:
    """Cross-fitted lesion risk from the first strategy with lesion-level scores."""
    from survrad.lesions import lesion_risk_table

    surv = [ep for ep, e in plan.cohort.endpoints.items()
            if e.kind == "survival" and ep in plan.pipelines]
    for ep in surv[:1]:
        for pipes in plan.pipelines[ep].values():
            for name, pipe in pipes.items():
                if pipe.strategy is not None and hasattr(pipe.strategy, "lesion_scores"):
                    rep = plan.config["report"]
                    with log.capture(endpoint=ep, strategy=name, stage="lesion risk"), \
                            one_blas_thread():
                        table = lesion_risk_table(
                            pipe.strategy, plan.cohort, ep, n_folds=rep["lesion_risk_folds"],
                            random_state=plan.config["random_state"],
                            high_risk=rep["high_risk"])
                    return table.assign(strategy=name, endpoint=ep)
    return None


def _simulated_data(cfg: dict[str, Any], file: str, tmp: Path) -> dict[str, Any]:
    """A study with a ``[simulate]`` table: simulate the cohort into ``tmp/data``."""
    from survrad.data.simulate import simulate_cohort
    from survrad.reporting.writer import atomic_write_text

    params = dict(cfg.pop("simulate"))
    try:
        cohort = simulate_cohort(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"simulate_cohort: {exc}", file=file, key="simulate") from exc
    data = tmp / "data"
    atomic_write_text(data / "patients.csv", cohort.patients.reset_index().to_csv(index=False))
    atomic_write_text(data / "lesions.csv", cohort.lesions.to_csv(index=False))
    cfg.setdefault("data", {})
    cfg["data"]["patients"] = str(data / "patients.csv")
    cfg["data"]["lesions"] = str(data / "lesions.csv")
    return cfg


def demo_study_text() -> str:
    """The built-in demo study (``survrad run --demo``): the commented example of every
    option, also at ``analyses/demo/study.toml``."""
    from importlib import resources

    return resources.files("survrad.datasets").joinpath("demo_study.toml").read_text("utf-8")


def run_study(study: str | Path | Mapping[str, Any] | None, out: str | Path, *,
              force: bool = False, n_jobs: int | None = None, backend: str | None = None,
              scheduler: str | None = None, progress: bool = True,
              command: Sequence[str] | None = None) -> Path:
    """Run a study and write its report folder atomically.

    Parameters
    ----------
    study : path, mapping or None
        A study TOML file, an equivalent dict, or ``None`` for the built-in demo (a
        simulated cohort written into ``out/data``).
    out : path
        The report folder. Never replaced without ``force``; with it, the old folder is
        kept until the new run has succeeded; a failed run leaves ``<out>.failed-<time>``.
    force, n_jobs, backend, scheduler, progress
        As the command line; ``n_jobs``/``backend`` override the study's validation table.
    command : sequence of str, optional
        The command line, recorded in the manifest.

    Returns
    -------
    pathlib.Path
        The report folder.
    """
    from survrad.reporting.report import write_report
    from survrad.reporting.writer import atomic_output_dir, input_record

    started = time.time()
    out = Path(out)
    with atomic_output_dir(out, force=force) as tmp:
        log = _WarningLog()
        cfg, file, base = _read(tomllib.loads(demo_study_text()) if study is None else study)
        if "simulate" in cfg:
            cfg = _simulated_data(cfg, file, tmp)
        timer = _Stopwatch()
        with log.capture(stage="reading"), timer("reading"):
            plan = load_study(cfg, file=file if study is not None else "<demo>", base=base)
        before = {p: input_record(p) for p in plan.inputs}
        records, comparisons = _validate(plan, log, n_jobs, backend, scheduler, progress, timer)
        jobs = n_jobs if n_jobs is not None else plan.config["validation"]["n_jobs"]
        with timer("final fits and cross-validated predictions"):
            coefs, cvs = _fit_full(plan, comparisons, log, jobs)
        with timer("lesion risk table"):
            lesion_risk = _lesion_risk(plan, log)
        results = StudyResults(records, comparisons, coefs, cvs, lesion_risk, log.entries)
        after = {p: input_record(p) for p in plan.inputs}
        if before != after:
            changed = [p for p in before if before[p] != after[p]]
            raise ConfigError(f"input file(s) changed during the run: {changed}; rerun on a "
                              "stable copy.")
        manifest = {
            "study": plan.file,
            "inputs": [_relative_record(r, tmp, out) for r in before.values()],
            "config": plan.config, "random_state": plan.config["random_state"],
            "command": list(command) if command is not None else None,
            "n_jobs": n_jobs, "backend": backend,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "durations": timer.seconds,  # seconds per stage; the report adds its own
        }
        write_report(tmp, plan.cohort, plan.config, results, manifest, started=started,
                     n_jobs=jobs)
    return out


def _relative_record(record: Mapping[str, Any], tmp: Path, out: Path) -> dict[str, Any]:
    path = Path(record["path"])
    try:
        rel = path.resolve().relative_to(tmp.resolve())
        return {**record, "path": str(out / rel)}
    except ValueError:
        return dict(record)

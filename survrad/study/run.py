"""Run a checked study into a report folder that never costs the user data.

Order of work in :func:`run_study`:

1. the output folder is checked (:func:`survrad._outputs.check_target`): never a folder
   holding an input or the study file, the current folder, a link, a file; an existing
   one only with ``force`` and only if survrad wrote it, unchanged;
2. the study is checked in full (:func:`survrad.study.plan.load_study`: schema, estimator
   parameters, data, the rules that need the data) before anything is computed;
3. the run takes the folder's lock and writes into a temporary sibling: the study file,
   then ``results.json`` after each validated endpoint x model (so an interrupted or
   failed run keeps what it computed, in ``<out>.failed-<time>``), then the report;
   the folder is renamed into place only when everything succeeded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from survrad._outputs import atomic_write_text, check_target, output_folder
from survrad._validation import one_blas_thread
from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError
from survrad.models.cox import CoxModel
from survrad.models.pipeline import CohortPipeline
from survrad.study.plan import StudyPlan, input_files, load_study, read_study
from survrad.study.schema import check_n_jobs

__all__ = ["StudyResults", "run_study", "simulate_from_config"]

log = logging.getLogger("survrad")


class StudyResults:
    """Everything a run computed (unrounded), handed to the report writer."""

    def __init__(self, records: list[dict[str, Any]], comparisons: dict, coefficients: dict,
                 cv_predictions: dict, lesion_risk: Any, warnings: list[dict[str, Any]]
                 ) -> None:
        self.records = records
        self.comparisons = comparisons          # (endpoint, model) -> ComparisonResult
        self.coefficients = coefficients        # (endpoint, strategy, model) -> summary
        self.cv_predictions = cv_predictions    # best pipeline per endpoint x model
        self.lesion_risk = lesion_risk          # DataFrame or None
        self.warnings = warnings


_RECORD_KEYS = ("metric", "apparent", "optimism", "corrected", "ci_low", "ci_high", "n_boot",
                "n_failed")


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

    def add_replicates(self, result: Any, **context: Any) -> None:
        for w in result.replicate_warnings:
            self.entries.append({**context, "replicate": w.replicate, "category": w.category,
                                 "message": w.message})


class _Stopwatch:
    """Wall seconds per stage of a run, for the manifest's ``durations``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str):
        log.info("%s ...", stage)
        start = time.perf_counter()
        try:
            yield
        except BaseException:
            log.info("%s: stopped after %.1f s", stage, time.perf_counter() - start)
            raise
        took = time.perf_counter() - start
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + took, 3)
        log.info("%s: done in %.1f s", stage, took)


def _metrics_for(plan: StudyPlan, ep: str) -> tuple[list[str] | None, list[float]]:
    spec = plan.config["endpoints"][ep]
    return plan.config["validation"]["metrics"], [float(h) for h in spec["horizons"]]


def _validate(plan: StudyPlan, log_: _WarningLog, settings: Mapping[str, Any],
              timer: _Stopwatch, save: Callable[[list[dict[str, Any]]], None]
              ) -> tuple[list, dict]:
    """Validate every endpoint x model x strategy; one comparison per endpoint x model.

    The models of an endpoint are validated in ONE engine call on the same resamples
    (cross-validated ones in a second), so a strategy fitted for the Cox model of a
    replicate is reused by the forest of that replicate; each model keeps its method.
    ``save`` receives the records after each call (an interrupted run keeps them).
    """
    from survrad.evaluation.bootstrap import ComparisonResult, compare_pipelines

    val = plan.config["validation"]
    records: list[dict[str, Any]] = []
    comparisons: dict[tuple[str, str], Any] = {}
    for ep, by_model in plan.pipelines.items():
        metrics, horizons = _metrics_for(plan, ep)
        families: dict[str, list[str]] = {}
        for model in by_model:
            families.setdefault("cv" if val["method"][model] == "cv" else "bootstrap",
                                []).append(model)
        for models in families.values():
            joint = {(m, s): pipe for m in models for s, pipe in by_model[m].items()}
            stage = (f"validation of {ep} ({', '.join(models)}): {val['n_boot']} "
                     f"{'repeats' if val['method'][models[0]] == 'cv' else 'replicates'} x "
                     f"{len(joint)} pipelines")
            with log_.capture(endpoint=ep, stage="validation"), timer(stage):
                cmp = compare_pipelines(
                    joint, plan.cohort, ep, n_boot=val["n_boot"], metrics=metrics,
                    horizons=horizons or None,
                    method={key: val["method"][key[0]] for key in joint},
                    n_folds=val["n_folds"], random_state=plan.config["random_state"],
                    n_jobs=settings["n_jobs"], backend=settings["backend"],
                    scheduler=settings["scheduler"], progress=settings["progress"],
                    ci_level=val["ci_level"], max_failed=val["max_failed"])
            for model in models:
                results = {s: cmp.results[(model, s)] for s in by_model[model]}
                comparisons[(ep, model)] = ComparisonResult(results, next(iter(results)),
                                                            cmp.ci_level)
                for strategy, res in results.items():
                    log_.add_replicates(res, endpoint=ep, model=model, strategy=strategy)
                    for row in res.summary().to_dict("records"):
                        records.append({"endpoint": ep, "strategy": strategy, "model": model,
                                        **{k: row[k] for k in _RECORD_KEYS}})
            save(records)
    return records, comparisons


def _best(cmp: Any) -> str:
    """The strategy with the highest corrected primary metric (first on ties)."""
    summary = cmp.summary()
    primary = summary["metric"].iloc[0]
    rows = summary[summary["metric"] == primary]
    if rows["corrected"].notna().any():
        return str(rows.loc[rows["corrected"].idxmax(), "pipeline"])
    return str(rows["pipeline"].iloc[0])


def _fit_full(plan: StudyPlan, comparisons: dict, log_: _WarningLog,
              n_jobs: int | None) -> tuple[dict, dict]:
    """Coefficient tables of every inference model; out-of-fold predictions of the best.

    The coefficient tables are those of the apparent fits of the validation (the whole
    cohort, seeded as the replicates). The remaining fits are independent, so they run
    ``n_jobs`` at a time; every ``random_state`` left at None is seeded from the study's
    seed, so nothing depends on ``n_jobs``. A refit that fails is recorded as a warning
    with its reason (the validation results stand); it never aborts the run.
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
                          delayed(_captured)(_summary_of, clinical, cohort, ep)))
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
        log_.extend(caught, **ctx)
        key = (ctx["endpoint"], ctx["strategy"], ctx["model"])
        if value is None:
            continue
        if kind == "cv":
            cvs[key] = value
        else:
            coefs[key] = value
    return coefs, cvs


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


def _summary_of(pipe: CohortPipeline, cohort: Cohort, endpoint: str) -> Any:
    """The fitted model's summary table (None for models without one)."""
    model = pipe.fit(cohort, endpoint).model_
    return model.summary() if hasattr(model, "summary") else None


def _lesion_risk(plan: StudyPlan, log_: _WarningLog) -> Any:
    """Cross-fitted lesion risk from the first strategy with lesion-level scores."""
    from survrad.lesions import lesion_risk_table

    surv = [ep for ep, e in plan.cohort.endpoints.items()
            if e.kind == "survival" and ep in plan.pipelines]
    for ep in surv[:1]:
        for pipes in plan.pipelines[ep].values():
            for name, pipe in pipes.items():
                if pipe.strategy is not None and hasattr(pipe.strategy, "lesion_scores"):
                    rep = plan.config["report"]
                    value, caught = _captured(
                        lesion_risk_table, pipe.strategy, plan.cohort, ep,
                        n_folds=rep["lesion_risk_folds"],
                        random_state=plan.config["random_state"], high_risk=rep["high_risk"])
                    log_.extend(caught, endpoint=ep, strategy=name, stage="lesion risk")
                    return None if value is None else value.assign(strategy=name, endpoint=ep)
    return None


def simulate_from_config(cfg: Mapping[str, Any], file: str) -> Cohort:
    """The cohort of a study with a ``[simulate]`` table (``sr.simulate_cohort`` arguments)."""
    import inspect

    from survrad.data.simulate import simulate_cohort
    from survrad.study.registry import _did_you_mean

    params = cfg["simulate"]
    if not isinstance(params, Mapping):
        raise ConfigError("[simulate] must be a table of simulate_cohort arguments.",
                          file=file, key="simulate")
    allowed = list(inspect.signature(simulate_cohort).parameters)
    for k in params:
        if k not in allowed:
            raise ConfigError(f"simulate_cohort has no argument {k!r}.{_did_you_mean(k, allowed)}"
                              f" Arguments: {allowed}.", file=file, key=f"simulate.{k}")
    try:
        return simulate_cohort(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"simulate_cohort: {exc}", file=file, key="simulate") from exc


def _write_simulated(cohort: Cohort, folder: Path) -> tuple[str, ...]:
    data = folder / "data"
    patients = atomic_write_text(data / "patients.csv",
                                 cohort.patients.reset_index().to_csv(index=False))
    lesions = atomic_write_text(data / "lesions.csv", cohort.lesions.to_csv(index=False))
    return str(patients), str(lesions)


def _settings(plan: StudyPlan, n_jobs: int | None, backend: str | None,
              scheduler: str | None, progress: bool) -> dict[str, Any]:
    """Command-line overrides of the study's [validation] settings, checked."""
    val = plan.config["validation"]
    if backend not in (None, "loky", "dask"):
        raise ConfigError(f"backend must be 'loky' or 'dask', got {backend!r}.",
                          key="backend")
    try:
        jobs = check_n_jobs(n_jobs) if n_jobs is not None else val["n_jobs"]
    except ValueError as exc:
        raise ConfigError(str(exc), key="n_jobs") from exc
    return {"n_jobs": jobs, "backend": backend or val["backend"],
            "scheduler": scheduler or val["scheduler"], "progress": progress}


def _study_copy(study: Any, cfg: Mapping[str, Any], folder: Path) -> None:
    """The study as given, beside the results (``study.toml``, or ``study.json``)."""
    if isinstance(study, str | Path):
        atomic_write_text(folder / "study.toml", Path(study).read_text(encoding="utf-8"))
    elif study is None:
        from survrad.study.plan import demo_study_text

        atomic_write_text(folder / "study.toml", demo_study_text())
    else:
        atomic_write_text(folder / "study.json", json.dumps(cfg, indent=2, default=str) + "\n")


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
        The report folder. Checked before anything else (see the module docstring);
        never replaced without ``force``, and with it only when survrad wrote it and
        nobody changed it; a failed run leaves ``<out>.failed-<time>`` holding the study,
        the results computed so far and ``error.json``.
    force, n_jobs, backend, scheduler, progress
        As the command line; ``n_jobs``/``backend`` override the study's validation table.
    command : sequence of str, optional
        The command line, recorded in the manifest and the run's lock.

    Returns
    -------
    pathlib.Path
        The report folder.
    """
    from survrad.reporting.report import write_report
    from survrad.reporting.writer import input_record, json_dumps

    started = time.time()
    cfg, file, base = read_study(study)
    protected = [Path(study)] if isinstance(study, str | Path) else []
    protected += [p for p in input_files(cfg, base).values() if p.exists()] \
        if isinstance(cfg.get("data"), Mapping) else []
    check_target(out, force=force, protected=protected)      # 1. before anything else
    timer = _Stopwatch()
    log_ = _WarningLog()
    with log_.capture(stage="reading"), timer("checking the study and reading the data"):
        simulated = simulate_from_config(cfg, file) if "simulate" in cfg else None
        plan = load_study(cfg, file=file, base=base, cohort=simulated)   # 2. all checks
    settings = _settings(plan, n_jobs, backend, scheduler, progress)
    label = " ".join(command) if command else "survrad.run_study"
    with output_folder(out, force=force, protected=protected, kind="report",
                       command=label) as folder:                          # 3. the run
        tmp = folder.path
        _study_copy(study, cfg, tmp)
        inputs = _write_simulated(simulated, tmp) if simulated is not None else plan.inputs

        def save(records: list[dict[str, Any]]) -> None:
            atomic_write_text(tmp / "results.json", json_dumps(records))

        before = {p: input_record(p) for p in inputs}
        records, comparisons = _validate(plan, log_, settings, timer, save)
        with timer("final fits and cross-validated predictions"):
            coefs, cvs = _fit_full(plan, comparisons, log_, settings["n_jobs"])
        with timer("lesion risk table"):
            lesion_risk = _lesion_risk(plan, log_)
        results = StudyResults(records, comparisons, coefs, cvs, lesion_risk, log_.entries)
        after = {p: input_record(p) for p in inputs}
        if before != after:
            changed = [p for p in before if before[p] != after[p]]
            raise ConfigError(f"input file(s) changed during the run: {changed}; rerun on a "
                              "stable copy.")
        manifest = {
            "study": plan.file,
            "inputs": [_relative_record(r, tmp, Path(out)) for r in before.values()],
            "config": plan.config, "random_state": plan.config["random_state"],
            "command": list(command) if command is not None else None,
            "n_jobs": n_jobs, "backend": backend,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "durations": timer.seconds,  # seconds per stage; the report adds its own
        }
        with timer("report (tables, figures, page)"):
            write_report(tmp, plan.cohort, plan.config, results, manifest, started=started,
                         n_jobs=settings["n_jobs"])
        _summarise_warnings(results.warnings)
    return folder.target


def _summarise_warnings(entries: Sequence[Mapping[str, Any]]) -> None:
    """One console line with the warning count by kind, and where to read them."""
    if not entries:
        return
    counts: dict[str, int] = {}
    for e in entries:
        counts[e["category"]] = counts.get(e["category"], 0) + 1
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    log.warning("%d warning(s) collected (%s): see warnings.json and the Warnings section "
                "of index.html", len(entries), kinds)


def _relative_record(record: Mapping[str, Any], tmp: Path, out: Path) -> dict[str, Any]:
    path = Path(record["path"])
    try:
        rel = path.resolve().relative_to(tmp.resolve())
        return {**record, "path": str(out / rel)}
    except ValueError:
        return dict(record)

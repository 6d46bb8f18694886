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
from survrad.data.cohort import Cohort
from survrad.evaluation.results import StudyResults, WarningRecord
from survrad.exceptions import ConfigError
from survrad.study.compute import _estimates, study_results
from survrad.study.plan import StudyPlan, input_files, load_study, read_study
from survrad.study.schema import check_n_jobs
from survrad.study.section_external import development_plan

__all__ = ["StudyResults", "render_saved_report", "run_study", "simulate_from_config"]

log = logging.getLogger("survrad")


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

    def records(self) -> tuple[WarningRecord, ...]:
        return tuple(WarningRecord(e["category"], e["message"],
                                   {k: v for k, v in e.items()
                                    if k not in ("category", "message")})
                     for e in self.entries)


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
              timer: _Stopwatch, save: Callable[[dict], None]) -> dict:
    """Validate every endpoint x model x strategy; one comparison per endpoint x model.

    The models of an endpoint are validated in ONE engine call on the same resamples
    (cross-validated ones in a second), so a strategy fitted for the Cox model of a
    replicate is reused by the forest of that replicate; each model keeps its method.
    ``save`` receives the comparisons after each call (an interrupted run keeps them).
    """
    from survrad.evaluation.bootstrap import ComparisonResult, compare_pipelines

    val = plan.config["validation"]
    comparisons: dict[tuple[str, str], Any] = {}
    for ep, by_model in plan.pipelines.items():
        metrics, horizons = _metrics_for(plan, ep)
        families: dict[str, list[str]] = {}
        for model in by_model:
            families.setdefault("cv" if val["method"][model] == "cv" else "bootstrap",
                                []).append(model)
        for models in families.values():
            joint = {(m, s): pipe for m in models for s, pipe in by_model[m].items()}
            what = "repeats" if val["method"][models[0]] == "cv" else "replicates"
            stage = (f"validation of {ep} ({', '.join(models)}): {val['n_boot']} {what} x "
                     f"{len(joint)} pipelines")
            with log_.capture(endpoint=ep, stage="validation"), timer(stage):
                cmp = compare_pipelines(
                    joint, plan.cohort, ep, n_boot=val["n_boot"], metrics=metrics,
                    horizons=horizons or None,
                    method={key: val["method"][key[0]] for key in joint},
                    n_folds=val["n_folds"], random_state=plan.config["random_state"],
                    n_jobs=settings["n_jobs"], backend=settings["backend"],
                    scheduler=settings["scheduler"],
                    progress=f"{ep}: {what}, {len(joint)} pipelines" if settings["progress"]
                    else False, ci_level=val["ci_level"], max_failed=val["max_failed"])
            for model in models:
                results = {s: cmp.results[(model, s)] for s in by_model[model]}
                comparisons[(ep, model)] = ComparisonResult(results, next(iter(results)),
                                                            cmp.ci_level)
                for strategy, res in results.items():
                    log_.add_replicates(res, endpoint=ep, model=model, strategy=strategy)
            save(comparisons)
    return comparisons


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
        # [external] design "split": the internal validation and every fit of the report
        # use the development patients only (the validation patients are never fitted)
        plan = development_plan(plan)
    settings = _settings(plan, n_jobs, backend, scheduler, progress)
    label = " ".join(command) if command else "survrad.run_study"
    with output_folder(out, force=force, protected=protected, kind="report",
                       command=label) as folder:                          # 3. the run
        tmp = folder.path
        _study_copy(study, cfg, tmp)
        inputs = _write_simulated(simulated, tmp) if simulated is not None else plan.inputs

        def save(comparisons: Mapping[tuple[str, str], Any]) -> None:
            atomic_write_text(tmp / "results.json", json_dumps(
                _estimates(comparisons).to_dict("records")))

        before = {p: input_record(p) for p in inputs}
        comparisons = _validate(plan, log_, settings, timer, save)
        results = study_results(plan, comparisons, log_, timer, settings["n_jobs"])
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
            write_report(tmp, results, manifest, started=started,
                         n_jobs=settings["n_jobs"])
        _summarise_warnings([w.to_dict() for w in results.warnings])
    return folder.target


def render_saved_report(results_dir: str | Path, out: str | Path, *, force: bool = False,
                        n_jobs: int | None = None, command: Sequence[str] | None = None
                        ) -> Path:
    """Render a report again from saved results (``REPORT/results``), computing nothing.

    Parameters
    ----------
    results_dir : path
        A report folder (its ``results/`` subfolder is read) or the results folder itself.
    out : path
        The new report folder (the rules of :func:`run_study` apply).

    Returns
    -------
    pathlib.Path
    """
    import json as _json

    from survrad.reporting.report import finish_manifest, render_report

    src = Path(results_dir)
    if (src / "results" / "study_results.json").is_file():
        src = src / "results"
    results = StudyResults.load(src)
    manifest_path = src / "manifest.json"
    manifest = (_json.loads(manifest_path.read_text(encoding="utf-8"))
                if manifest_path.is_file() else {})
    label = " ".join(command) if command else "survrad.render_saved_report"
    with output_folder(out, force=force, protected=[src], kind="report",
                       command=label) as folder:
        results.save(folder.path / "results")
        if manifest:
            atomic_write_text(folder.path / "results" / "manifest.json",
                              manifest_path.read_text(encoding="utf-8"))
        t0 = time.perf_counter()
        warn = render_report(folder.path, results, manifest, n_jobs=n_jobs)
        finish_manifest(folder.path, manifest, warn, time.perf_counter() - t0,
                        rendered_from=str(src.resolve()))
    return folder.target


def _summarise_warnings(entries: Sequence[Mapping[str, Any]]) -> None:
    """One console line with the warning count by kind, and where to read them."""
    from survrad.reporting.html import warning_counts

    if not entries:
        return
    log.warning("%d warning(s) collected (%s): see warnings.json and the Warnings section "
                "of index.html", len(entries), warning_counts(entries))


def _relative_record(record: Mapping[str, Any], tmp: Path, out: Path) -> dict[str, Any]:
    path = Path(record["path"])
    try:
        rel = path.resolve().relative_to(tmp.resolve())
        return {**record, "path": str(out / rel)}
    except ValueError:
        return dict(record)

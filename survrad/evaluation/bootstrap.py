"""Patient-level resampling validation of a WHOLE pipeline (layer 5).

``bootstrap_validate`` refits the entire :class:`~survrad.models.pipeline.CohortPipeline`
(lesion strategy, feature steps, model) in every replicate, resampling PATIENTS so that all
of a patient's lesions travel together. The estimators (Harrell's optimism, .632+,
repeated patient-grouped CV) and the typed results are in
:mod:`survrad.evaluation.validation`.

IPCW metrics estimate the censoring distribution on the data they are computed on (the
resample, the original cohort, the out-of-bag patients or the held-out fold).

A replicate in which one pipeline fails counts as failed for that pipeline only. More
than ``max_failed`` of the replicates failing, or one metric missing in more than
``max_failed`` of them, is a :class:`~survrad.exceptions.ResamplingError`. The optimism
bootstrap under-corrects models that memorise their training data (random forests): it
warns, and ``".632+"`` or ``"cv"`` should be used for them.

Determinism: replicate ``b`` draws from ``SeedSequence(random_state).spawn(n_boot)[b]`` and
results are assembled in replicate order, so numbers do not depend on ``n_jobs`` or the
backend.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from sklearn.base import clone

from survrad._validation import (
    check_choice,
    check_fraction,
    check_int,
    one_blas_thread,
    seed_unseeded,
    spawn_seeds,
)
from survrad.data.cohort import Cohort
from survrad.evaluation._fast_bootstrap import FastCoxPlan, could_take_fast_path, fast_plan
from survrad.evaluation.keys import MetricKey
from survrad.evaluation.scoring import DEFAULT_METRICS, metric_keys, score_pipeline
from survrad.evaluation.validation import (
    ComparisonResult,
    ReplicateRecord,
    ReplicateWarning,
    ValidationResult,
)
from survrad.exceptions import ResamplingError, StatisticalWarning

__all__ = ["MIN_N_BOOT", "ComparisonResult", "ReplicateRecord", "ReplicateWarning",
           "ValidationResult", "bootstrap_validate", "compare_pipelines"]

Method = Literal["optimism", ".632+", "cv"]

#: Fewest replicates whose percentile interval means something: below it a 95 % interval
#: rests on one or two replicates per tail. Fewer still run (tests, a quick look), with a
#: StatisticalWarning; a study file refuses them.
MIN_N_BOOT = 20


# ------------------------------------------------------------------------ replicates
@dataclasses.dataclass(frozen=True)
class _Spec:
    endpoint: str
    metrics: Mapping[Hashable, tuple[str, ...]]   # pipeline name -> metrics
    horizons: tuple[float, ...]
    methods: Mapping[Hashable, str]   # pipeline name -> "optimism" | ".632+" | "cv"
    n_folds: int

    @property
    def family(self) -> str:
        """"cv" (K-fold repeats) or "bootstrap" (optimism and .632+ share the resamples)."""
        return "cv" if "cv" in self.methods.values() else "bootstrap"


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """One pipeline in one replicate, before it is numbered (the worker's result)."""

    status: str
    reason: str
    fit: Mapping[MetricKey, float]
    test: Mapping[MetricKey, float]
    failures: Mapping[tuple[MetricKey, str], str]
    warnings: tuple[tuple[str, str], ...]
    fitted: Any = None           # the apparent fit only
    exception: Any = None        # the apparent fit only

    def record(self, replicate: int, seed: str, repeat: int | None = None,
               fold: int | None = None) -> ReplicateRecord:
        return ReplicateRecord(replicate, seed, self.status, self.reason, self.fit,
                               self.test, self.failures, self.warnings, repeat, fold)


@dataclasses.dataclass(frozen=True)
class _Run:
    """A replicate (or one fold of a CV repeat): every pipeline's outcome."""

    replicate: int
    seed: str
    outcomes: Mapping[Hashable, _Outcome]
    repeat: int | None = None
    fold: int | None = None


def _seed_label(seed: np.random.SeedSequence) -> str:
    return f"{seed.entropy}:{'/'.join(str(k) for k in seed.spawn_key)}"


def _fit_and_score(pipelines: Mapping[Hashable, Any], train: Cohort,
                   tests: Mapping[str, Cohort], spec: _Spec, seed: np.random.SeedSequence, *,
                   keep_fitted: bool = False) -> tuple[dict[Hashable, _Outcome], list[Warning]]:
    """Per pipeline: fit on ``train``, score on ``train`` (``fit``) and on its test cohort.

    ``tests`` maps a validation method to its test cohort (the original cohort for
    "optimism", the out-of-bag patients for ".632+", the held-out fold for "cv").
    Pipelines whose fronts (strategy, feature steps, patient columns) are equal share one
    fitted front and its design matrices: the numbers are those of separate fits (same
    data, same seeds), computed once. Each pipeline is guarded on its own (a front that
    fails fails the pipelines sharing it, with its reason); every ``random_state`` left at
    None is seeded from ``seed``. Returns the outcomes and every warning raised, each once.
    """
    y = train.y(spec.endpoint)
    fronts: dict[str, dict[str, Any]] = {}
    out: dict[Hashable, _Outcome] = {}
    caught: list[Warning] = []
    for name, pipe in pipelines.items():
        model = seed_unseeded(clone(pipe), seed)
        key = model._front_key()
        if key not in fronts:
            fronts[key] = _guarded(lambda m=model: {
                "pipe": m, "designs": {"fit": m._fit_front(train, spec.endpoint)}})
            caught += fronts[key]["warnings"]
        front = fronts[key]
        if front["status"] != "ok":
            rec = front
            ws = front["warnings"]
        else:
            test = tests.get(spec.methods[name])
            rec = _guarded(lambda m=model, f=front["value"], t=test, n=name: _model_and_scores(
                m, f, train, t, y, spec.metrics[n], spec.horizons))
            caught += rec["warnings"]
            ws = front["warnings"] + rec["warnings"]
        out[name] = _outcome(rec, ws, tests.get(spec.methods[name]) is not None
                             or not tests, model if keep_fitted else None)
    return out, caught


def _outcome(rec: dict[str, Any], ws: list[Warning], has_test: bool, model: Any) -> _Outcome:
    """The typed, picklable outcome of one pipeline in one replicate."""
    scores = rec["value"] if rec["status"] == "ok" else {}
    fit, test, failures = {}, {}, {}
    for role, target in (("fit", fit), ("test", test)):
        if role in scores:
            values, why = scores[role]
            target.update(values)
            failures.update({(m, role): r for m, r in why.items()})
    if rec["status"] == "ok" and not has_test:
        failures.update({(m, "test"): "no out-of-sample patients in this replicate"
                         for m in fit})
    ok = rec["status"] == "ok"
    return _Outcome(rec["status"], rec["reason"], fit, test, failures,
                    tuple(sorted({(type(w).__name__, str(w)) for w in ws})),
                    fitted=model if ok and model is not None else None,
                    exception=rec.get("exception") if model is not None else None)


def _model_and_scores(model: Any, front: dict[str, Any], train: Cohort, test: Cohort | None,
                      y: np.ndarray, metrics: Sequence[str], horizons: Sequence[float]
                      ) -> dict[str, Any]:
    """Fit ``model`` on the shared ``front`` and score it on ``train`` and ``test``."""
    designs = front["designs"]
    model._adopt_front(front["pipe"])._fit_model(designs["fit"], y)
    scores = {"fit": score_pipeline(model, train, metrics, horizons,
                                    design=designs["fit"])}
    if test is not None:
        if id(test) not in designs:
            designs[id(test)] = model.transform(test)
        scores["test"] = score_pipeline(model, test, metrics, horizons,
                                        design=designs[id(test)])
    return scores


def _run_replicate(pipelines: Mapping[Hashable, Any], cohort: Cohort, spec: _Spec, b: int,
                   seed: np.random.SeedSequence) -> list[_Run]:
    """One bootstrap replicate; never raises for a statistical failure."""
    rng = np.random.default_rng(seed)
    ids = cohort.patient_ids.to_numpy()
    pos = rng.integers(0, ids.size, ids.size)
    train = cohort.take_positions(pos)
    tests: dict[str, Cohort] = {}
    methods = set(spec.methods.values())
    if "optimism" in methods:
        tests["optimism"] = cohort
    if ".632+" in methods:
        oob = np.setdiff1d(ids, ids[pos])
        if oob.size:
            tests[".632+"] = cohort.subset(oob)
    outcomes, _ = _fit_and_score(pipelines, train, tests, spec, seed)
    return [_Run(b, _seed_label(seed), outcomes)]


@dataclasses.dataclass(frozen=True)
class _FastReplicate:
    """:func:`_run_replicate` by the fast path (:mod:`survrad.evaluation._fast_bootstrap`).

    Draws the same resample from the same seed; a replicate the fast path declines (a
    screen not passed cleanly, a score that cannot be computed) runs the general path,
    so failures and warnings are recorded exactly as there.
    """

    plan: FastCoxPlan

    def __call__(self, pipelines: Mapping[Hashable, Any], cohort: Cohort, spec: _Spec,
                 b: int, seed: np.random.SeedSequence) -> list[_Run]:
        rng = np.random.default_rng(seed)
        pos = rng.integers(0, self.plan.n, self.plan.n)
        scores = self.plan.replicate(pos)
        if scores is None:
            return _run_replicate(pipelines, cohort, spec, b, seed)
        outcomes = {name: _Outcome("ok", "", fit, test, {}, ())
                    for name, (fit, test) in scores.items()}
        return [_Run(b, _seed_label(seed), outcomes)]


def _fast_or(fn: Callable, pipelines: Mapping[Hashable, Any], cohort: Cohort, spec: _Spec,
             apparent: dict[str, Any]) -> Callable:
    """The fast path's replicate function when every pipeline qualifies, else ``fn``."""
    if fn is not _run_replicate or not FAST_PATH:
        return fn
    fitted = {name: o.fitted for name, o in apparent["outcomes"].items()}
    plan = fast_plan(pipelines, fitted, cohort, spec.endpoint, spec.methods, spec.metrics)
    return fn if plan is None else _FastReplicate(plan)


#: Whether eligible pipelines take the fast path (False: always the general path; the
#: numbers are the same, tested, so this only exists to measure and test the two paths).
FAST_PATH = True


def _run_fold(pipelines: Mapping[Hashable, Any], cohort: Cohort, spec: _Spec, b: int,
              seed: np.random.SeedSequence) -> list[_Run]:
    """One repeat of K-fold CV: ``n_folds`` runs."""
    rng = np.random.default_rng(seed)
    ids = cohort.patient_ids.to_numpy()
    perm = rng.permutation(ids.size)
    folds = np.array_split(perm, spec.n_folds)
    runs = []
    for k, test_pos in enumerate(folds):
        train = cohort.subset(np.delete(ids, test_pos))
        test = cohort.subset(ids[test_pos])
        outcomes, _ = _fit_and_score(pipelines, train, {"cv": test}, spec, seed)
        runs.append(_Run(b * spec.n_folds + k, _seed_label(seed), outcomes, b, k))
    return runs


_EXPECTED = (ValueError, ArithmeticError, np.linalg.LinAlgError)


def _guarded(work: Callable[[], Any]) -> dict[str, Any]:
    """status, reason, the warnings raised (Warning objects) and the value of ``work()``.

    An expected (statistical) failure is recorded with its exception, never raised.
    """
    out: dict[str, Any] = {"status": "ok", "reason": "", "value": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out["value"] = work()
        except _EXPECTED as exc:
            out.update(status="failed", reason=f"{type(exc).__name__}: {exc}", exception=exc)
    out["warnings"] = [w.message for w in caught]
    return out


# ---------------------------------------------------------------------- execution
Task = tuple[int | None, np.random.SeedSequence]   # (replicate, seed); None = apparent


def _run_task(fn: Callable, pipelines: Mapping[Hashable, Any], cohort: Cohort, spec: _Spec,
              b: int | None, seed: np.random.SeedSequence) -> Any:
    """Replicate ``b`` by ``fn``, or (``b`` None) the apparent fit on the whole cohort.

    BLAS runs on one thread, in this process as in a worker: see
    :func:`survrad._validation.one_blas_thread`.
    """
    with one_blas_thread():
        if b is None:
            return _apparent(pipelines, cohort, spec, seed)
        return fn(pipelines, cohort, spec, b, seed)


#: A local run whose serial time is estimated below this many seconds stays in the calling
#: process whatever ``n_jobs``: starting joblib's worker processes (each imports numpy,
#: pandas, scipy, scikit-learn and survrad) takes 1-2 s on a small machine, more than such
#: a run can gain from them. The numbers do not depend on it.
SERIAL_BELOW_SECONDS = 2.0

#: A local run of at least this many patient fits (replicates x pipelines x patients)
#: whose pipelines cannot take the fast path starts its replicates in the worker processes
#: BEFORE the apparent fit, which then runs in this process meanwhile: the workers' start
#: and the apparent fit no longer hold up the replicates (on the demo, two cores otherwise
#: half idle for 3-5 s per endpoint). Smaller runs keep the rule of
#: :data:`SERIAL_BELOW_SECONDS`. The numbers do not depend on it.
EARLY_WORKERS_FROM = 50_000


def _starts_early(fn: Callable, pipelines: Mapping[Hashable, Any], cohort: Cohort,
                  spec: _Spec, replicates: Sequence[Task], n_jobs: int | None,
                  backend: str | None) -> bool:
    """Whether the replicates go to the workers before the apparent fit has run."""
    if backend == "dask" or n_jobs in (None, 1) or not replicates:
        return False
    if fn is _run_replicate and FAST_PATH and could_take_fast_path(
            pipelines, cohort, spec.endpoint, spec.methods, spec.metrics):
        return False            # the fast path is chosen from the apparent fit
    fits = len(replicates) * (spec.n_folds if spec.family == "cv" else 1)
    return fits * len(pipelines) * cohort.n_patients >= EARLY_WORKERS_FROM


class _EarlyReplicates:
    """Replicates sent to the workers before the apparent fit, which can be called off.

    joblib takes the tasks from :meth:`tasks` a few at a time (``pre_dispatch``); after
    :meth:`call_off` no further task is handed out and only those already started finish
    (killing the workers instead would race with joblib's own threads).
    """

    def __init__(self, fn: Callable, pipelines: Mapping[Hashable, Any], cohort: Cohort,
                 spec: _Spec, replicates: Sequence[Task], n_jobs: int) -> None:
        from joblib import Parallel, delayed

        self._stop = threading.Event()
        self._work = [delayed(_run_task)(fn, pipelines, cohort, spec, b, s)
                      for b, s in replicates]
        self.outputs = Parallel(n_jobs=n_jobs, return_as="generator")(self.tasks())

    def tasks(self) -> Iterator[Any]:
        for task in self._work:
            if self._stop.is_set():
                return
            yield task

    def call_off(self) -> None:
        """Hand out no more replicates and wait for those already started."""
        self._stop.set()
        for _ in self.outputs:
            pass


def _execute(fn: Callable, pipelines: Mapping[str, Any], cohort: Cohort, spec: _Spec,
             tasks: Sequence[Task], n_jobs: int | None,
             backend: str | None, scheduler: str | None, progress: bool | str) -> list:
    """Run every task (the apparent fit, then the replicates) and return them in order.

    The apparent fit runs first, in this process: a pipeline that cannot be fitted on the
    whole cohort fails before any replicate is used, and its duration estimates the cost of
    a replicate (see :data:`SERIAL_BELOW_SECONDS`). A large run started early (see
    :data:`EARLY_WORKERS_FROM`) fits its replicates in the workers meanwhile and drops them
    if the apparent fit fails.
    """
    show = _progress_label(progress)
    (_, seed), *replicates = tasks
    early = (_EarlyReplicates(fn, pipelines, cohort, spec, replicates, int(n_jobs or 1))
             if _starts_early(fn, pipelines, cohort, spec, replicates, n_jobs, backend)
             else None)
    start = time.perf_counter()
    apparent = _run_task(fn, pipelines, cohort, spec, None, seed)
    if any(o.status != "ok" for o in apparent["outcomes"].values()):
        if early is not None:
            early.call_off()
        return [apparent]
    if early is not None:
        return [apparent, *_progress(early.outputs, len(replicates), show)]
    per_fit = time.perf_counter() - start
    fn = _fast_or(fn, pipelines, cohort, spec, apparent)
    if backend == "dask":
        return [apparent, *_execute_dask(fn, pipelines, cohort, spec, replicates, scheduler,
                                         show)]
    fits = len(replicates) * (spec.n_folds if spec.family == "cv" else 1)
    if n_jobs in (None, 1) or per_fit * fits < SERIAL_BELOW_SECONDS:
        it = (_run_task(fn, pipelines, cohort, spec, b, s) for b, s in replicates)
    else:
        from joblib import Parallel, delayed

        par = Parallel(n_jobs=n_jobs, return_as="generator")
        it = par(delayed(_run_task)(fn, pipelines, cohort, spec, b, s) for b, s in replicates)
    return [apparent, *_progress(it, len(replicates), show)]


def _progress_label(progress: bool | str) -> str | None:
    """The progress bar's label, or None for no bar (no terminal and no notebook)."""
    if not progress:
        return None
    if not (sys.stderr.isatty() or "ipykernel" in sys.modules):
        return None
    return progress if isinstance(progress, str) else "bootstrap"


def _progress(it: Any, total: int, show: str | None) -> Any:
    if show is None:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc=show, unit="rep")


def _execute_dask(fn: Callable, pipelines: Mapping[str, Any], cohort: Cohort, spec: _Spec,
                  tasks: Sequence[Task], scheduler: str | None, show: str | None) -> list:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("backend='dask' needs dask.distributed: "
                          "pip install 'survrad[dask]'.") from exc
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        [c_fut] = client.scatter([cohort], broadcast=True)
        [p_fut] = client.scatter([dict(pipelines)], broadcast=True)
        [f_fut] = client.scatter([fn], broadcast=True)      # the fast path's arrays: once
        futures = [client.submit(_run_task, f_fut, p_fut, c_fut, spec, b, s, pure=False)
                   for b, s in tasks]
        for _ in _progress(as_completed(futures), len(futures), show):
            pass
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------------- assembling
def _flatten(results: list[list[_Run]]) -> list[_Run]:
    return [run for runs in results for run in runs]


def _records(runs: Sequence[_Run], name: Hashable) -> tuple[ReplicateRecord, ...]:
    return tuple(run.outcomes[name].record(run.replicate, run.seed, run.repeat, run.fold)
                 for run in runs)


def _check_failures(records: Sequence[ReplicateRecord], max_failed: float, label: Any,
                    metrics: Sequence[MetricKey]) -> None:
    """Too many failed replicates, or a metric missing in too many, is an error."""
    n = len(records)
    failed = [r for r in records if r.status != "ok"]
    if len(failed) > max_failed * n:
        raise ResamplingError(
            f"{_name(label)}: {len(failed)} of {n} replicates failed (more than "
            f"{max_failed:.0%}). Most common reasons: {_reasons(r.reason for r in failed)}. "
            "The data are too small or too sparse in events for this pipeline: simplify it "
            "(fewer features, a penalty) or check the data.")
    for m in metrics:
        missing = [r for r in records if r.status != "ok"
                   or not (np.isfinite(r.value(m, "fit")) and np.isfinite(r.value(m, "test")))]
        if len(missing) > max_failed * n:
            raise ResamplingError(
                f"{_name(label)}: metric {m.label} could not be computed in {len(missing)} of "
                f"{n} replicates (more than {max_failed:.0%}). Most common reasons: "
                f"{_reasons(r.why(m) for r in missing)}. Drop the metric or, for a horizon, "
                "use one inside the follow-up of every resample.")


def _name(label: Any) -> str:
    return " / ".join(map(str, label)) if isinstance(label, tuple) else str(label)


def _reasons(reasons: Any) -> str:
    counts = Counter(str(r).rstrip(".") for r in reasons).most_common(5)
    return "; ".join(f"{n}x {r}" for r, n in counts)


def _prepare(pipelines: Mapping[Hashable, Any], cohort: Cohort, endpoint: str,
             metrics: Sequence[str] | None, horizons: Sequence[float] | None,
             method: str | Mapping[Hashable, str], n_folds: int) -> _Spec:
    kind = cohort.endpoint(endpoint).kind
    methods = _methods(method, pipelines)
    base = tuple(metrics) if metrics is not None else DEFAULT_METRICS[kind]
    hz = tuple(float(h) for h in (horizons or ()))
    if metrics is None and kind == "survival" and not hz:
        base = ("c_index", "calibration_slope")
    metric_keys(kind, base, hz)  # validates
    by_pipeline = {}
    for name, pipe in pipelines.items():
        lp = getattr(getattr(pipe, "model", None), "linear_predictor", True)
        by_pipeline[name] = base if metrics is not None or lp else tuple(
            m for m in base if m != "calibration_slope")  # forests have no lp
    return _Spec(endpoint, by_pipeline, hz, methods, n_folds)


def _methods(method: str | Mapping[Hashable, str], pipelines: Mapping[Hashable, Any]
             ) -> dict[Hashable, str]:
    """One method per pipeline; "optimism" and ".632+" mix (same resamples), "cv" does not."""
    if isinstance(method, str):
        methods = dict.fromkeys(pipelines, method)
    else:
        missing = [n for n in pipelines if n not in method]
        unknown = [n for n in method if n not in pipelines]
        if missing or unknown:
            raise ValueError(f"method by pipeline must name every pipeline: missing "
                             f"{missing}, unknown {unknown}.")
        methods = {n: method[n] for n in pipelines}
    for m in methods.values():
        check_choice("method", m, ["optimism", ".632+", "cv"])
    if "cv" in methods.values() and set(methods.values()) != {"cv"}:
        raise ValueError("method 'cv' cannot be mixed with bootstrap methods in one call "
                         "(its replicates are folds, not resamples); validate the "
                         "cross-validated pipelines separately.")
    return methods


def _apparent(pipelines: Mapping[Hashable, Any], cohort: Cohort, spec: _Spec,
              seed: np.random.SeedSequence) -> dict[str, Any]:
    """Fit every pipeline on the whole cohort and score it there.

    Runs like the replicates (sharing fronts the same way); its warnings are returned and
    re-issued by the caller, and a failure is raised there (a pipeline that cannot be
    fitted on the whole cohort cannot be validated).
    """
    outcomes, caught = _fit_and_score(pipelines, cohort, {}, spec, seed, keep_fitted=True)
    return {"outcomes": outcomes, "warnings": caught}


def _validate_many(pipelines: Mapping[Hashable, Any], cohort: Cohort, endpoint: str, *,
                   n_boot: int, metrics: Sequence[str] | None, horizons: Sequence[float] | None,
                   method: str | Mapping[Hashable, str], n_folds: int, random_state: Any,
                   n_jobs: int | None, backend: str | None, scheduler: str | None,
                   progress: bool | str, ci_level: float, max_failed: float
                   ) -> dict[Hashable, ValidationResult]:
    check_int("n_boot", n_boot, min_value=1)
    if n_boot < MIN_N_BOOT:
        warnings.warn(f"n_boot={n_boot}: intervals from fewer than {MIN_N_BOOT} bootstrap "
                      "replicates are not meaningful (ci_low and ci_high rest on one or two "
                      "replicates); use 200 or more for a report.", StatisticalWarning,
                      stacklevel=3)
    check_fraction("ci_level", ci_level)
    check_fraction("max_failed", max_failed, inclusive=True)
    if backend not in (None, "loky", "dask"):
        raise ValueError(f"backend must be None, 'loky' or 'dask', got {backend!r}.")
    spec = _prepare(pipelines, cohort, endpoint, metrics, horizons, method, n_folds)
    _warn_if_optimism_is_biased({n: p for n, p in pipelines.items()
                                 if spec.methods[n] == "optimism"})
    kind = cohort.endpoint(endpoint).kind
    seeds = spawn_seeds(random_state, n_boot)
    # the apparent fit, seeded from the root of the replicates' seeds, is the first task
    tasks: list[Task] = [(None, np.random.SeedSequence(seeds[0].entropy)),
                         *enumerate(seeds)]
    fn = _run_fold if spec.family == "cv" else _run_replicate
    apparent, *replicates = _execute(fn, pipelines, cohort, spec, tasks, n_jobs, backend,
                                     scheduler, progress)
    for message in apparent["warnings"]:
        warnings.warn(message, stacklevel=3)
    for outcome in apparent["outcomes"].values():
        if outcome.status != "ok":
            raise outcome.exception
    runs = _flatten(replicates)
    out = {}
    for name in pipelines:
        keys = tuple(metric_keys(kind, spec.metrics[name], spec.horizons))
        records = _records(runs, name)
        _check_failures(records, max_failed, name, keys)
        app = apparent["outcomes"][name]
        out[name] = ValidationResult(spec.methods[name], endpoint, keys, dict(app.fit),
                                     records, len(records), random_state, ci_level,
                                     fitted=app.fitted)
    return out


def _warn_if_optimism_is_biased(pipelines: Mapping[str, Any]) -> None:
    """Harrell's optimism bootstrap is biased for models that memorise their training data."""
    biased = {name: type(p.model).__name__ for name, p in pipelines.items()
              if getattr(getattr(p, "model", None), "preferred_validation_method",
                         "optimism") != "optimism"}
    if biased:
        warnings.warn(
            f"Harrell's optimism bootstrap under-corrects {sorted(set(biased.values()))} "
            f"(pipelines {list(biased)}): a forest nearly reproduces the outcomes of its "
            "training patients and every bootstrap sample holds about 63% of the original "
            "patients, so the performance on the original cohort is inflated and the "
            "optimism too small. Use method='.632+' or method='cv' for these pipelines.",
            StatisticalWarning, stacklevel=4)


def bootstrap_validate(pipeline: Any, cohort: Cohort, endpoint: str, n_boot: int = 200, *,
                       metrics: Sequence[str] | None = None,
                       horizons: Sequence[float] | None = None, method: Method = "optimism",
                       n_folds: int = 5, random_state: int | None = None,
                       n_jobs: int | None = None, backend: str | None = None,
                       scheduler: str | None = None, progress: bool | str = True,
                       ci_level: float = 0.95, max_failed: float = 0.10) -> ValidationResult:
    """Validate a whole pipeline by resampling patients.

    Parameters
    ----------
    pipeline : CohortPipeline
        Unfitted pipeline; cloned and refitted in every replicate.
    cohort : Cohort
    endpoint : str
    n_boot : int, default 200
        Bootstrap replicates (for ``method="cv"``: repeats of K-fold CV).
    metrics : sequence of str, optional
        See :mod:`survrad.evaluation.scoring`. Default: every metric of the endpoint kind
        (survival without horizons: ``c_index`` and ``calibration_slope``).
    horizons : sequence of float, optional
        Times for the per-horizon survival metrics.
    method : {"optimism", ".632+", "cv"}
        ``"optimism"`` with a forest model warns (StatisticalWarning): the optimism
        bootstrap under-corrects models that memorise their training data; use
        ``".632+"`` or ``"cv"`` for them.
    n_folds : int, default 5
        Folds for ``method="cv"``.
    random_state : int or None
        Replicate b uses ``SeedSequence(random_state).spawn(n_boot)[b]``.
    n_jobs : int or None
        Local processes (joblib); results do not depend on it. A run estimated (from the
        duration of the apparent fit) to take under ``SERIAL_BELOW_SECONDS`` (2 s) in one
        process stays in this process: starting the workers would cost more.
    backend : {None, "loky", "dask"}
        ``"dask"`` sends replicates to a dask.distributed cluster: ``scheduler`` address,
        or a 2-worker LocalCluster when None.
    progress : bool or str, default True
        Progress bar (tqdm) on a terminal or in a notebook, silent otherwise; a string
        is the bar's label (e.g. ``"OS: bootstrap, C_statistics / cox"``).
    ci_level : float, default 0.95
    max_failed : float, default 0.10
        Largest tolerated fraction of failed replicates; beyond it a ResamplingError.

    Returns
    -------
    ValidationResult

    Examples
    --------
    >>> import survrad as sr
    >>> cohort = sr.simulate_cohort(n_patients=100, random_state=0)
    >>> res = sr.bootstrap_validate(sr.CohortPipeline(model=sr.CoxModel()), cohort, "os",
    ...                             n_boot=5, random_state=0, progress=False)
    >>> list(res.summary().columns)[:5]
    ['metric', 'horizon', 'apparent', 'optimism', 'corrected']
    """
    res = _validate_many({"pipeline": pipeline}, cohort, endpoint, n_boot=n_boot,
                         metrics=metrics, horizons=horizons, method=method, n_folds=n_folds,
                         random_state=random_state, n_jobs=n_jobs, backend=backend,
                         scheduler=scheduler, progress=progress, ci_level=ci_level,
                         max_failed=max_failed)
    return res["pipeline"]


def compare_pipelines(pipelines: Mapping[Hashable, Any], cohort: Cohort, endpoint: str,
                      n_boot: int = 200, *, reference: Hashable | None = None,
                      **kwargs: Any) -> ComparisonResult:
    """Validate several pipelines on the same patient resamples and compare them.

    Parameters
    ----------
    pipelines : mapping of name to CohortPipeline
        Insertion order is kept; the first is the reference unless ``reference`` is given.
        Pipelines with the same strategy, feature steps and patient columns (models
        differing only) share their fitted front in every replicate: validating them in
        one call costs less than separately and gives the same numbers.
    cohort, endpoint, n_boot, **kwargs
        As :func:`bootstrap_validate`; ``method`` may also map each pipeline name to its
        method ("optimism" and ".632+" mix, on the same resamples; "cv" does not).

    Returns
    -------
    ComparisonResult
        ``.summary()`` per pipeline; ``.differences("c_index")`` paired differences.
    """
    if not pipelines:
        raise ValueError("compare_pipelines needs at least one pipeline.")
    names = list(pipelines)
    ref = names[0] if reference is None else check_choice("reference", reference, names)
    res = _validate_many(dict(pipelines), cohort, endpoint, n_boot=n_boot,
                         metrics=kwargs.pop("metrics", None),
                         horizons=kwargs.pop("horizons", None),
                         method=kwargs.pop("method", "optimism"),
                         n_folds=kwargs.pop("n_folds", 5),
                         random_state=kwargs.pop("random_state", None),
                         n_jobs=kwargs.pop("n_jobs", None), backend=kwargs.pop("backend", None),
                         scheduler=kwargs.pop("scheduler", None),
                         progress=kwargs.pop("progress", True),
                         ci_level=kwargs.pop("ci_level", 0.95),
                         max_failed=kwargs.pop("max_failed", 0.10))
    if kwargs:
        raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
    return ComparisonResult(res, ref, next(iter(res.values())).ci_level)

"""Patient-level resampling validation of a WHOLE pipeline (layer 5).

``bootstrap_validate`` refits the entire :class:`~survrad.models.pipeline.CohortPipeline`
(lesion strategy, feature steps, model) in every replicate, resampling PATIENTS so that all
of a patient's lesions travel together.

Methods
-------
``"optimism"`` (Harrell 2015, *Regression Modeling Strategies*, 5.3.5; Steyerberg 2019)
    apparent = metric of the pipeline fitted and evaluated on the cohort;
    optimism_b = metric(fit_b on boot_b) - metric(fit_b on the original cohort);
    corrected = apparent - mean_b optimism_b. The interval is a location-shifted
    percentile interval (after Noma et al. 2021, Stat Methods Med Res 30:2545): the
    percentiles of the bootstrap apparent metrics, shifted so that their mean sits on the
    corrected value (shifting by the optimism alone can leave the corrected value outside
    its own interval when the bootstrap apparent metrics are inflated). The calibration
    slope's in-sample value is fixed by construction (1 for an unpenalised Cox model on
    its own data), so its interval uses the out-of-sample slopes (fit_b on the original
    cohort) in the same way. The optimism bootstrap under-corrects models that memorise
    their training data (random forests): it warns, and ``".632+"`` or ``"cv"`` should
    be used for them.
``".632+"`` (Efron & Tibshirani 1997)
    out-of-bag metric per replicate; for discrimination metrics (no-information value 0.5)
    the out-of-bag value is capped at 0.5 and the .632+ weight is w = .632 / (1 - .368 R)
    with relative overfitting R = (apparent - oob) / (apparent - 0.5); other metrics use
    the plain .632 weight. The interval is the percentile interval of the per-replicate
    estimates.
``"cv"``
    repeated patient-grouped K-fold cross-validation; the estimate is the mean over
    folds. Cross-validation has no valid variance estimate (Bengio & Grandvalet 2004):
    the percentiles of repeat means only measure the noise of the fold assignment, so
    ``ci_low`` and ``ci_high`` are NaN.

IPCW metrics estimate the censoring distribution on the data they are computed on (the
resample, the original cohort, the out-of-bag patients or the held-out fold).

A replicate in which one pipeline fails counts as failed for that pipeline only. More
than ``max_failed`` of the replicates failing, or one metric missing in more than
``max_failed`` of them, is a :class:`~survrad.exceptions.ResamplingError`.

Determinism: replicate ``b`` draws from ``SeedSequence(random_state).spawn(n_boot)[b]`` and
results are assembled in replicate order, so numbers do not depend on ``n_jobs`` or the
backend.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
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
from survrad.evaluation.scoring import DEFAULT_METRICS, metric_names, score_pipeline
from survrad.exceptions import ResamplingError, StatisticalWarning

__all__ = ["ReplicateWarning", "ValidationResult", "bootstrap_validate", "compare_pipelines"]

Method = Literal["optimism", ".632+", "cv"]

#: Fewest replicates whose percentile interval means something: below it a 95 % interval
#: rests on one or two replicates per tail. Fewer still run (tests, a quick look), with a
#: StatisticalWarning; a study file refuses them.
MIN_N_BOOT = 20
_DISCRIMINATION = ("c_index", "uno_c", "td_auc", "auc")


# --------------------------------------------------------------------------- result
@dataclasses.dataclass(frozen=True)
class ReplicateWarning:
    """A warning raised while fitting or scoring one pipeline in one replicate."""

    replicate: int
    category: str
    message: str


@dataclasses.dataclass(frozen=True)
class ValidationResult:
    """Outcome of :func:`bootstrap_validate` (unrounded numbers).

    Attributes
    ----------
    method, endpoint : str
    metrics : tuple of str
        Expanded metric names (``td_auc@365``...).
    apparent : dict
        Metric of the pipeline fitted and evaluated on the whole cohort.
    replicates : pandas.DataFrame
        One row per replicate: replicate, seed, status, reason, warnings and, per metric,
        ``<metric>__fit`` (on the resample / training folds) and ``<metric>__test`` (on the
        original cohort / out-of-bag / held-out fold).
    n_boot, random_state, ci_level : as given
    fitted : CohortPipeline or None
        The pipeline fitted on the whole cohort: the fit whose apparent performance is
        corrected (seeded as the replicates are), e.g. for its coefficient table.
    replicate_warnings : tuple of ReplicateWarning
        Every warning of every replicate (each distinct one once per replicate).
    """

    method: str
    endpoint: str
    metrics: tuple[str, ...]
    apparent: Mapping[str, float]
    replicates: pd.DataFrame
    n_boot: int
    random_state: Any
    ci_level: float
    fitted: Any = None
    replicate_warnings: tuple[ReplicateWarning, ...] = ()

    def summary(self) -> pd.DataFrame:
        """metric, apparent, optimism, corrected, ci_low, ci_high, n_boot, n_failed."""
        rows = [_summarise(self, m) for m in self.metrics]
        return pd.DataFrame(rows, columns=["metric", "apparent", "optimism", "corrected",
                                           "ci_low", "ci_high", "n_boot", "n_failed"])

    def to_frame(self) -> pd.DataFrame:
        """Alias of :meth:`summary`."""
        return self.summary()


def _alpha(ci_level: float) -> tuple[float, float]:
    a = (1 - ci_level) / 2
    return 100 * a, 100 * (1 - a)


def _summarise(res: ValidationResult, m: str) -> dict[str, Any]:
    rep = res.replicates
    fit = rep[f"{m}__fit"].to_numpy(float)
    test = rep[f"{m}__test"].to_numpy(float)
    ok = np.isfinite(fit) & np.isfinite(test)
    app = float(res.apparent.get(m, np.nan))
    row = {"metric": m, "apparent": app, "n_boot": res.n_boot,
           "n_failed": int(res.n_boot - ok.sum())}
    lo, hi = _alpha(res.ci_level)
    if not ok.any():
        return {**row, "optimism": np.nan, "corrected": np.nan, "ci_low": np.nan,
                "ci_high": np.nan}
    if res.method == "optimism":
        optimism = float(np.mean(fit[ok] - test[ok]))
        corrected = app - optimism
        spread = _spread(fit[ok], test[ok], m)
        ci = corrected + np.percentile(spread, [lo, hi]) - np.mean(spread)
    elif res.method == ".632+":
        est = np.array([_632(app, f, t, m) for f, t in zip(fit[ok], test[ok], strict=True)])
        corrected = float(_632(app, np.mean(fit[ok]), np.mean(test[ok]), m))
        optimism = app - corrected
        ci = np.percentile(est, [lo, hi])
    else:  # cv: __test holds held-out fold metrics; there is no valid interval
        corrected = float(np.mean(test[ok]))
        optimism = app - corrected
        ci = np.array([np.nan, np.nan])
    return {**row, "optimism": optimism, "corrected": corrected, "ci_low": float(ci[0]),
            "ci_high": float(ci[1])}


#: Metrics whose in-sample value is fixed by construction (the calibration slope of an
#: unpenalised Cox or logistic model is 1 on its training data): their interval follows the
#: spread of the out-of-sample values instead of the bootstrap apparent values.
_FIXED_IN_SAMPLE = ("calibration_slope",)


def _spread(fit: np.ndarray, test: np.ndarray, metric: str) -> np.ndarray:
    """The per-replicate values whose spread gives the optimism method's interval."""
    return test if metric.split("@")[0] in _FIXED_IN_SAMPLE else fit


def _632(apparent: float, boot: float, oob: float, metric: str) -> float:
    """Efron & Tibshirani (1997) .632+ estimate from apparent and out-of-bag values.

    Discrimination metrics use the no-information value 0.5: the out-of-bag value is
    capped at it (``Err1' = min(Err1, gamma)`` in their error-rate notation) and the
    relative overfitting ``R = (apparent - oob') / (apparent - 0.5)`` sets the weight
    ``w = .632 / (1 - .368 R)``. Other metrics (Brier, IBS, calibration slope) have no
    model-free no-information value here and use the plain .632 weight.
    """
    base = metric.split("@")[0]
    if base not in _DISCRIMINATION:
        return 0.368 * apparent + 0.632 * oob
    oob = max(oob, 0.5)
    r = (apparent - oob) / (apparent - 0.5) if apparent > 0.5 and oob < apparent else 0.0
    w = 0.632 / (1 - 0.368 * r)
    return (1 - w) * apparent + w * oob


# ------------------------------------------------------------------------ replicates
@dataclasses.dataclass(frozen=True)
class _Spec:
    endpoint: str
    metrics: Mapping[str, tuple[str, ...]]   # pipeline name -> metrics
    horizons: tuple[float, ...]
    methods: Mapping[str, str]   # pipeline name -> "optimism" | ".632+" | "cv"
    n_folds: int

    @property
    def family(self) -> str:
        """"cv" (K-fold repeats) or "bootstrap" (optimism and .632+ share the resamples)."""
        return "cv" if "cv" in self.methods.values() else "bootstrap"


def _seed_label(seed: np.random.SeedSequence) -> str:
    return f"{seed.entropy}:{'/'.join(str(k) for k in seed.spawn_key)}"


def _fit_and_score(pipelines: Mapping[str, Any], train: Cohort, tests: Mapping[str, Cohort],
                   spec: _Spec, seed: np.random.SeedSequence, *, keep_fitted: bool = False
                   ) -> tuple[dict[str, dict[str, Any]], list[Warning]]:
    """Per pipeline: fit on ``train``, score on ``train`` (``fit``) and on its test cohort.

    ``tests`` maps a validation method to its test cohort (the original cohort for
    "optimism", the out-of-bag patients for ".632+", the held-out fold for "cv").
    Pipelines with the same :meth:`~survrad.models.pipeline.CohortPipeline.front_key`
    share one fitted strategy and feature steps and their design matrices: the numbers
    are those of separate fits (same data, same seeds), computed once. Each pipeline is
    guarded on its own (a front that fails fails the pipelines sharing it, with its
    reason); every ``random_state`` left at None is seeded from ``seed``. Returns the
    records and every warning raised, each once.
    """
    y = train.y(spec.endpoint)
    fronts: dict[str, dict[str, Any]] = {}
    out: dict[str, dict[str, Any]] = {}
    caught: list[Warning] = []
    for name, pipe in pipelines.items():
        model = seed_unseeded(clone(pipe), seed)
        key = model.front_key()
        if key not in fronts:
            fronts[key] = _guarded(lambda m=model: {
                "pipe": m, "designs": {"fit": m.fit_front(train, spec.endpoint)}})
            caught += fronts[key]["warnings"]
        front = fronts[key]
        if front["status"] != "ok":
            out[name] = {**front, "value": {}}
        else:
            test = tests.get(spec.methods[name])
            rec = _guarded(lambda m=model, f=front["value"], t=test, n=name: _model_and_scores(
                m, f, train, t, y, spec.metrics[n], spec.horizons))
            caught += rec["warnings"]
            out[name] = {**rec, "warnings": front["warnings"] + rec["warnings"]}
        if keep_fitted:
            out[name].update(fitted=model if out[name]["status"] == "ok" else None, keep=True)
    return {name: _record(rec) for name, rec in out.items()}, caught


def _model_and_scores(model: Any, front: dict[str, Any], train: Cohort, test: Cohort | None,
                      y: np.ndarray, metrics: Sequence[str], horizons: Sequence[float]
                      ) -> dict[str, Any]:
    """Fit ``model`` on the shared ``front`` and score it on ``train`` and ``test``."""
    designs = front["designs"]
    model.adopt_front(front["pipe"]).fit_model(designs["fit"], y)
    scores = {"fit": score_pipeline(model, train, metrics, horizons,
                                    design=designs["fit"])}
    if test is not None:
        if id(test) not in designs:
            designs[id(test)] = model.transform(test)
        scores["test"] = score_pipeline(model, test, metrics, horizons,
                                        design=designs[id(test)])
    return scores


def _record(rec: dict[str, Any]) -> dict[str, Any]:
    """The picklable, printable record of one pipeline in one replicate."""
    out = {"status": rec["status"], "reason": rec["reason"], "scores": rec["value"] or {},
           "warnings": tuple(sorted({(type(w).__name__, str(w)) for w in rec["warnings"]}))}
    if rec.get("keep"):    # the apparent fit only: its model and any failure go back
        out["fitted"] = rec["fitted"]
    if rec.get("keep"):
        out["exception"] = rec.get("exception")
    return out


def _run_replicate(pipelines: Mapping[str, Any], cohort: Cohort, spec: _Spec, b: int,
                   seed: np.random.SeedSequence) -> dict[str, Any]:
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
    records, _ = _fit_and_score(pipelines, train, tests, spec, seed)
    return {"replicate": b, "seed": _seed_label(seed), "pipelines": records}


def _run_fold(pipelines: Mapping[str, Any], cohort: Cohort, spec: _Spec, b: int,
              seed: np.random.SeedSequence) -> dict[str, Any]:
    """One repeat of K-fold CV = ``n_folds`` records (returned as one merged record list)."""
    rng = np.random.default_rng(seed)
    ids = cohort.patient_ids.to_numpy()
    perm = rng.permutation(ids.size)
    folds = np.array_split(perm, spec.n_folds)
    records = []
    for k, test_pos in enumerate(folds):
        train = cohort.subset(np.delete(ids, test_pos))
        test = cohort.subset(ids[test_pos])
        scored, _ = _fit_and_score(pipelines, train, {"cv": test}, spec, seed)
        records.append({"replicate": b * spec.n_folds + k, "repeat": b, "fold": k,
                        "seed": _seed_label(seed), "pipelines": scored})
    return {"records": records}


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


def _run_task(fn: Callable, pipelines: Mapping[str, Any], cohort: Cohort, spec: _Spec,
              b: int | None, seed: np.random.SeedSequence) -> dict[str, Any]:
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


def _execute(fn: Callable, pipelines: Mapping[str, Any], cohort: Cohort, spec: _Spec,
             tasks: Sequence[Task], n_jobs: int | None,
             backend: str | None, scheduler: str | None, progress: bool) -> list[dict]:
    """Run every task (the apparent fit, then the replicates) and return them in order.

    The apparent fit runs first, in this process: a pipeline that cannot be fitted on the
    whole cohort fails before any replicate starts, and its duration estimates the cost of
    a replicate (see :data:`SERIAL_BELOW_SECONDS`).
    """
    show = progress and sys.stderr.isatty()
    (_, seed), *replicates = tasks
    start = time.perf_counter()
    apparent = _run_task(fn, pipelines, cohort, spec, None, seed)
    for rec in apparent["records"].values():
        if rec["status"] != "ok":
            return [apparent]
    per_fit = time.perf_counter() - start
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


def _progress(it: Any, total: int, show: bool) -> Any:
    if not show:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc="replicates", unit="rep")


def _execute_dask(fn: Callable, pipelines: Mapping[str, Any], cohort: Cohort, spec: _Spec,
                  tasks: Sequence[Task], scheduler: str | None, show: bool) -> list[dict]:
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
        futures = [client.submit(_run_task, fn, p_fut, c_fut, spec, b, s, pure=False)
                   for b, s in tasks]
        for _ in _progress(as_completed(futures), len(futures), show):
            pass
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------------- assembling
def _flatten(records: list[dict], method: str) -> list[dict]:
    if method == "cv":
        return [r for rec in records for r in rec["records"]]
    return records


def _frame(records: list[dict], name: str, metrics: Sequence[str]) -> pd.DataFrame:
    rows = []
    for rec in records:
        part = rec["pipelines"][name]
        row = {k: v for k, v in rec.items() if k != "pipelines"}
        row.update(status=part["status"], reason=part["reason"],
                   warnings="; ".join(f"{c}: {m}" for c, m in part["warnings"]))
        fails = []
        for role in ("fit", "test"):
            vals, f = part["scores"].get(role, ({}, {}))
            for m in metrics:
                row[f"{m}__{role}"] = vals.get(m, np.nan)
            fails += [f"{m} ({role}): {why}" for m, why in f.items()]
        if part["status"] == "ok" and "test" not in part["scores"]:
            fails.append("no out-of-sample patients in this replicate")
        if fails and part["status"] == "ok":
            row["reason"] = "; ".join(fails)
        rows.append(row)
    return pd.DataFrame(rows)


def _warnings_of(records: list[dict], name: Any) -> tuple[ReplicateWarning, ...]:
    return tuple(ReplicateWarning(int(rec["replicate"]), cat, msg) for rec in records
                 for cat, msg in rec["pipelines"][name]["warnings"])


def _check_failures(frame: pd.DataFrame, max_failed: float, label: str,
                    metrics: Sequence[str]) -> None:
    """Too many failed replicates, or a metric missing in too many, is an error."""
    failed = frame["status"] != "ok"
    if failed.mean() > max_failed:
        raise ResamplingError(
            f"{label}: {int(failed.sum())} of {len(frame)} replicates failed (more than "
            f"{max_failed:.0%}). Most common reasons: {_reasons(frame.loc[failed, 'reason'])}. "
            "The data are too small or too sparse in events for this pipeline: simplify it "
            "(fewer features, a penalty) or check the data.")
    for m in metrics:
        missing = failed | frame[f"{m}__fit"].isna() | frame[f"{m}__test"].isna()
        if missing.mean() > max_failed:
            why = frame.loc[missing, "reason"].map(lambda r, m=m: _metric_reason(r, m))
            raise ResamplingError(
                f"{label}: metric {m} could not be computed in {int(missing.sum())} of "
                f"{len(frame)} replicates (more than {max_failed:.0%}). Most common reasons: "
                f"{_reasons(why)}. Drop the metric or, for a horizon, use one inside the "
                "follow-up of every resample.")


def _metric_reason(reason: str, metric: str) -> str:
    """The reason ``metric`` failed in one replicate (its first role), else the whole one."""
    for part in reason.split("; "):
        if part.startswith(f"{metric} ("):
            return part.partition(": ")[2]
    return reason


def _reasons(reasons: pd.Series) -> str:
    counts = reasons.str.rstrip(".").value_counts().head(5)
    return "; ".join(f"{n}x {r}" for r, n in counts.items())


def _prepare(pipelines: Mapping[str, Any], cohort: Cohort, endpoint: str,
             metrics: Sequence[str] | None, horizons: Sequence[float] | None,
             method: str | Mapping[str, str], n_folds: int) -> _Spec:
    kind = cohort.endpoint(endpoint).kind
    methods = _methods(method, pipelines)
    base = tuple(metrics) if metrics is not None else DEFAULT_METRICS[kind]
    hz = tuple(float(h) for h in (horizons or ()))
    if metrics is None and kind == "survival" and not hz:
        base = ("c_index", "calibration_slope")
    metric_names(kind, base, hz)  # validates
    by_pipeline = {}
    for name, pipe in pipelines.items():
        lp = getattr(getattr(pipe, "model", None), "linear_predictor", True)
        by_pipeline[name] = base if metrics is not None or lp else tuple(
            m for m in base if m != "calibration_slope")  # forests have no lp
    return _Spec(endpoint, by_pipeline, hz, methods, n_folds)


def _methods(method: str | Mapping[str, str], pipelines: Mapping[str, Any]) -> dict[str, str]:
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


def _apparent(pipelines: Mapping[str, Any], cohort: Cohort, spec: _Spec,
              seed: np.random.SeedSequence) -> dict[str, Any]:
    """Fit every pipeline on the whole cohort and score it there.

    Runs in a worker like the replicates (sharing fronts the same way); its warnings are
    returned and re-issued by the caller, and a failure is raised there (a pipeline that
    cannot be fitted on the whole cohort cannot be validated).
    """
    records, caught = _fit_and_score(pipelines, cohort, {}, spec, seed, keep_fitted=True)
    return {"records": records, "warnings": caught}


def _validate_many(pipelines: Mapping[str, Any], cohort: Cohort, endpoint: str, *,
                   n_boot: int, metrics: Sequence[str] | None, horizons: Sequence[float] | None,
                   method: str, n_folds: int, random_state: Any, n_jobs: int | None,
                   backend: str | None, scheduler: str | None, progress: bool,
                   ci_level: float, max_failed: float) -> dict[str, ValidationResult]:
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
    for rec in apparent["records"].values():
        if rec["status"] != "ok":
            raise rec["exception"]
    records = _flatten(replicates, spec.family)
    out = {}
    for name in pipelines:
        names = metric_names(kind, spec.metrics[name], spec.horizons)
        frame = _frame(records, name, names)
        _check_failures(frame, max_failed, name, names)
        app = apparent["records"][name]
        out[name] = ValidationResult(spec.methods[name], endpoint, tuple(names),
                                     app["scores"]["fit"][0], frame, len(frame),
                                     random_state, ci_level, fitted=app["fitted"],
                                     replicate_warnings=_warnings_of(records, name))
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
                       scheduler: str | None = None, progress: bool = True,
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
    progress : bool, default True
        Progress bar on a terminal (silent when stderr is not a TTY).
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
    >>> list(res.summary().columns)[:4]
    ['metric', 'apparent', 'optimism', 'corrected']
    """
    res = _validate_many({"pipeline": pipeline}, cohort, endpoint, n_boot=n_boot,
                         metrics=metrics, horizons=horizons, method=method, n_folds=n_folds,
                         random_state=random_state, n_jobs=n_jobs, backend=backend,
                         scheduler=scheduler, progress=progress, ci_level=ci_level,
                         max_failed=max_failed)
    return res["pipeline"]


@dataclasses.dataclass(frozen=True)
class ComparisonResult:
    """Several pipelines validated on the SAME resamples, with paired differences."""

    results: Mapping[str, ValidationResult]
    reference: str
    ci_level: float

    def summary(self) -> pd.DataFrame:
        """One block per pipeline (``pipeline`` column + ValidationResult.summary)."""
        frames = [r.summary().assign(pipeline=name) for name, r in self.results.items()]
        out = pd.concat(frames, ignore_index=True)
        return out[["pipeline", *[c for c in out.columns if c != "pipeline"]]]

    def differences(self, metric: str = "c_index") -> pd.DataFrame:
        """Paired differences of the corrected ``metric`` against ``reference``.

        diff = corrected_A - corrected_ref; interval: percentiles of the paired
        bootstrap-apparent differences re-centred on ``diff`` (method "optimism"; the
        out-of-sample values for the calibration slope), percentiles of the paired
        per-replicate .632+ estimates' differences (".632+"), none for "cv".
        """
        ref = self.results[self.reference]
        rows = []
        lo, hi = _alpha(self.ci_level)
        for name, res in self.results.items():
            if name == self.reference:
                continue
            d = _paired(res, ref, metric)
            ci = np.percentile(d["boot"], [lo, hi]) - d["shift"] if d["boot"].size else [np.nan] * 2
            rows.append({"pipeline": name, "reference": self.reference, "metric": metric,
                         "difference": d["diff"], "ci_low": float(ci[0]),
                         "ci_high": float(ci[1]), "n_pairs": d["n"]})
        return pd.DataFrame(rows)


def _paired(a: ValidationResult, b: ValidationResult, metric: str) -> dict[str, Any]:
    if a.method != b.method:
        raise ValueError(f"paired differences need one validation method; got {a.method!r} "
                         f"and {b.method!r}. Compare pipelines validated the same way.")
    fa, ta = (a.replicates[f"{metric}__{r}"].to_numpy(float) for r in ("fit", "test"))
    fb, tb = (b.replicates[f"{metric}__{r}"].to_numpy(float) for r in ("fit", "test"))
    ok = np.isfinite(fa) & np.isfinite(ta) & np.isfinite(fb) & np.isfinite(tb)
    sa = a.summary().set_index("metric").loc[metric]
    sb = b.summary().set_index("metric").loc[metric]
    diff = float(sa["corrected"] - sb["corrected"])
    if a.method == "optimism":
        boot = _spread(fa, ta, metric)[ok] - _spread(fb, tb, metric)[ok]
        shift = float(np.mean(boot) - diff) if ok.any() else np.nan
        return {"diff": diff, "boot": boot, "shift": shift, "n": int(ok.sum())}
    if a.method == ".632+":  # per-replicate .632+ estimates, as the single-pipeline interval
        app_a, app_b = a.apparent[metric], b.apparent[metric]
        boot = np.array([_632(app_a, x, y, metric) - _632(app_b, u, v, metric)
                         for x, y, u, v in zip(fa[ok], ta[ok], fb[ok], tb[ok], strict=True)])
        return {"diff": diff, "boot": boot, "shift": 0.0, "n": int(ok.sum())}
    return {"diff": diff, "boot": np.array([]), "shift": 0.0,  # cv: no valid interval
            "n": int(ok.sum())}


def compare_pipelines(pipelines: Mapping[str, Any], cohort: Cohort, endpoint: str,
                      n_boot: int = 200, *, reference: str | None = None,
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

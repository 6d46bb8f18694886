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
    its own interval when the bootstrap apparent metrics are inflated). When the
    apparent metric does not vary across resamples (the calibration slope is 1 on the
    data a Cox model was fitted to) the interval is the percentile interval of
    apparent - optimism_b instead.
``".632+"`` (Efron & Tibshirani 1997)
    out-of-bag metric per replicate; for discrimination metrics (no-information value 0.5)
    the .632+ weight w = .632 / (1 - .368 R) with relative overfitting
    R = (apparent - oob) / (apparent - 0.5) clipped to [0, 1]; other metrics use the plain
    .632 weight. The interval is the percentile interval of the per-replicate estimates.
``"cv"``
    repeated patient-grouped K-fold cross-validation; the estimate is the mean over
    folds; the interval the percentiles of the per-repeat means.

Determinism: replicate ``b`` draws from ``SeedSequence(random_state).spawn(n_boot)[b]`` and
results are assembled in replicate order, so numbers do not depend on ``n_jobs`` or the
backend.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import clone

from survrad._validation import check_choice, check_fraction, check_int, spawn_seeds
from survrad.data.cohort import Cohort
from survrad.evaluation.scoring import DEFAULT_METRICS, metric_names, score_pipeline
from survrad.exceptions import ResamplingError

__all__ = ["ValidationResult", "bootstrap_validate", "compare_pipelines"]

Method = Literal["optimism", ".632+", "cv"]
_DISCRIMINATION = ("c_index", "uno_c", "td_auc", "auc")


# --------------------------------------------------------------------------- result
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
    """

    method: str
    endpoint: str
    metrics: tuple[str, ...]
    apparent: Mapping[str, float]
    replicates: pd.DataFrame
    n_boot: int
    random_state: Any
    ci_level: float

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
        if np.ptp(fit[ok]) > 1e-9 * max(1.0, abs(app)):  # spread, re-centred on corrected
            ci = corrected + np.percentile(fit[ok], [lo, hi]) - np.mean(fit[ok])
        else:  # degenerate apparent distribution (calibration slope is 1 in-sample)
            ci = np.percentile(app - (fit[ok] - test[ok]), [lo, hi])
    elif res.method == ".632+":
        est = np.array([_632(app, f, t, m) for f, t in zip(fit[ok], test[ok], strict=True)])
        corrected = float(_632(app, np.mean(fit[ok]), np.mean(test[ok]), m))
        optimism = app - corrected
        ci = np.percentile(est, [lo, hi])
    else:  # cv: __test holds fold metrics, grouped by repeat
        reps = rep.loc[ok, "repeat"].to_numpy()
        means = pd.Series(test[ok]).groupby(reps).mean().to_numpy()
        corrected = float(np.mean(test[ok]))
        optimism = app - corrected
        ci = np.percentile(means, [lo, hi]) if means.size > 1 else np.array([np.nan] * 2)
    return {**row, "optimism": optimism, "corrected": corrected, "ci_low": float(ci[0]),
            "ci_high": float(ci[1])}


def _632(apparent: float, boot: float, oob: float, metric: str) -> float:
    base = metric.split("@")[0]
    if base in _DISCRIMINATION and apparent > 0.5:
        r = np.clip((apparent - oob) / (apparent - 0.5), 0.0, 1.0) if oob < apparent else 0.0
        w = 0.632 / (1 - 0.368 * r)
    else:
        w = 0.632
    return (1 - w) * apparent + w * oob


# ------------------------------------------------------------------------ replicates
@dataclasses.dataclass(frozen=True)
class _Spec:
    endpoint: str
    metrics: tuple[str, ...]
    horizons: tuple[float, ...]
    method: str
    n_folds: int


def _seed_label(seed: np.random.SeedSequence) -> str:
    return f"{seed.entropy}:{'/'.join(str(k) for k in seed.spawn_key)}"


def _fit_and_score(pipelines: Mapping[str, Any], train: Cohort, tests: Mapping[str, Cohort],
                   spec: _Spec) -> dict[str, Any]:
    """Fit each pipeline on ``train``; score on ``train`` (``fit``) and each test cohort."""
    out: dict[str, Any] = {}
    y_train = train.y(spec.endpoint)
    for name, pipe in pipelines.items():
        fitted = clone(pipe).fit(train, spec.endpoint)
        for role, cohort in (("fit", train), *tests.items()):
            vals, fails = score_pipeline(fitted, cohort, spec.metrics, spec.horizons, y_train)
            out[(name, role)] = (vals, fails)
    return out


def _run_replicate(pipelines: Mapping[str, Any], cohort: Cohort, spec: _Spec, b: int,
                   seed: np.random.SeedSequence) -> dict[str, Any]:
    """One bootstrap replicate; never raises for a statistical failure."""
    rng = np.random.default_rng(seed)
    ids = cohort.patient_ids.to_numpy()
    record: dict[str, Any] = {"replicate": b, "seed": _seed_label(seed), "status": "ok",
                              "reason": "", "warnings": ""}
    draw = ids[rng.integers(0, ids.size, ids.size)]
    train = cohort.take(draw)
    if spec.method == ".632+":
        oob = np.setdiff1d(ids, draw)
        tests = {"test": cohort.subset(oob)} if oob.size else {}
    else:
        tests = {"test": cohort}
    return _guarded(record, lambda: _fit_and_score(pipelines, train, tests, spec))


def _run_fold(pipelines: Mapping[str, Any], cohort: Cohort, spec: _Spec, b: int,
              seed: np.random.SeedSequence) -> dict[str, Any]:
    """One repeat of K-fold CV = ``n_folds`` records (returned as one merged record list)."""
    rng = np.random.default_rng(seed)
    ids = cohort.patient_ids.to_numpy()
    perm = rng.permutation(ids.size)
    folds = np.array_split(perm, spec.n_folds)
    records = []
    for k, test_pos in enumerate(folds):
        train_ids = np.delete(ids, test_pos)
        record = {"replicate": b * spec.n_folds + k, "repeat": b, "fold": k,
                  "seed": _seed_label(seed), "status": "ok", "reason": "", "warnings": ""}
        test = cohort.subset(ids[test_pos])
        records.append(_guarded(record, lambda tr=train_ids, te=test: _fit_and_score(
            pipelines, cohort.subset(tr), {"test": te}, spec)))
    return {"records": records}


_EXPECTED = (ValueError, ArithmeticError, np.linalg.LinAlgError)


def _guarded(record: dict[str, Any], work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            record["scores"] = work()
        except _EXPECTED as exc:
            record["status"] = "failed"
            record["reason"] = f"{type(exc).__name__}: {exc}"
            record["scores"] = {}
    msgs = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    record["warnings"] = " | ".join(msgs)
    return record


# ---------------------------------------------------------------------- execution
def _execute(fn: Callable, pipelines: Mapping[str, Any], cohort: Cohort, spec: _Spec,
             seeds: Sequence[np.random.SeedSequence], n_jobs: int | None,
             backend: str | None, scheduler: str | None, progress: bool) -> list[dict]:
    n = len(seeds)
    show = progress and sys.stderr.isatty()
    if backend == "dask":
        return _execute_dask(fn, pipelines, cohort, spec, seeds, scheduler, show)
    if n_jobs in (None, 1):
        it = (fn(pipelines, cohort, spec, b, s) for b, s in enumerate(seeds))
    else:
        from joblib import Parallel, delayed

        par = Parallel(n_jobs=n_jobs, return_as="generator")
        it = par(delayed(fn)(pipelines, cohort, spec, b, s) for b, s in enumerate(seeds))
    return list(_progress(it, n, show))


def _progress(it: Any, total: int, show: bool) -> Any:
    if not show:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc="replicates", unit="rep")


def _execute_dask(fn: Callable, pipelines: Mapping[str, Any], cohort: Cohort, spec: _Spec,
                  seeds: Sequence[np.random.SeedSequence], scheduler: str | None,
                  show: bool) -> list[dict]:
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
        futures = [client.submit(fn, p_fut, c_fut, spec, b, s, pure=False)
                   for b, s in enumerate(seeds)]
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
        row = {k: v for k, v in rec.items() if k != "scores"}
        fails = []
        for role in ("fit", "test"):
            vals, f = rec["scores"].get((name, role), ({}, {}))
            for m in metrics:
                row[f"{m}__{role}"] = vals.get(m, np.nan)
            fails += [f"{m} ({role}): {why}" for m, why in f.items()]
        if rec["status"] == "ok" and (name, "test") not in rec["scores"]:
            fails.append("no out-of-sample patients in this replicate")
        if fails and rec["status"] == "ok":
            row["reason"] = "; ".join(fails)
        rows.append(row)
    return pd.DataFrame(rows)


def _check_failures(frame: pd.DataFrame, max_failed: float, label: str) -> None:
    failed = frame["status"] != "ok"
    if failed.mean() > max_failed:
        reasons = frame.loc[failed, "reason"].value_counts().head(5)
        detail = "; ".join(f"{n}x {r}" for r, n in reasons.items())
        raise ResamplingError(
            f"{label}: {int(failed.sum())} of {len(frame)} replicates failed "
            f"(more than {max_failed:.0%}). Most common reasons: {detail}. The data are too "
            "small or too sparse in events for this pipeline: simplify it (fewer features, "
            "a penalty) or check the data.")


def _prepare(cohort: Cohort, endpoint: str, metrics: Sequence[str] | None,
             horizons: Sequence[float] | None, method: str, n_folds: int) -> _Spec:
    kind = cohort.endpoint(endpoint).kind
    check_choice("method", method, ["optimism", ".632+", "cv"])
    base = tuple(metrics) if metrics is not None else DEFAULT_METRICS[kind]
    hz = tuple(float(h) for h in (horizons or ()))
    if metrics is None and kind == "survival" and not hz:
        base = ("c_index", "calibration_slope")
    metric_names(kind, base, hz)  # validates
    return _Spec(endpoint, base, hz, method, n_folds)


def _apparent(pipelines: Mapping[str, Any], cohort: Cohort, spec: _Spec) -> dict[str, dict]:
    out = {}
    y = cohort.y(spec.endpoint)
    for name, pipe in pipelines.items():
        fitted = clone(pipe).fit(cohort, spec.endpoint)
        vals, _ = score_pipeline(fitted, cohort, spec.metrics, spec.horizons, y)
        out[name] = vals
    return out


def _validate_many(pipelines: Mapping[str, Any], cohort: Cohort, endpoint: str, *,
                   n_boot: int, metrics: Sequence[str] | None, horizons: Sequence[float] | None,
                   method: str, n_folds: int, random_state: Any, n_jobs: int | None,
                   backend: str | None, scheduler: str | None, progress: bool,
                   ci_level: float, max_failed: float) -> dict[str, ValidationResult]:
    check_int("n_boot", n_boot, min_value=1)
    check_fraction("ci_level", ci_level)
    check_fraction("max_failed", max_failed, inclusive=True)
    if backend not in (None, "loky", "dask"):
        raise ValueError(f"backend must be None, 'loky' or 'dask', got {backend!r}.")
    spec = _prepare(cohort, endpoint, metrics, horizons, method, n_folds)
    kind = cohort.endpoint(endpoint).kind
    names = metric_names(kind, spec.metrics, spec.horizons)
    apparent = _apparent(pipelines, cohort, spec)
    seeds = spawn_seeds(random_state, n_boot)
    fn = _run_fold if method == "cv" else _run_replicate
    records = _flatten(_execute(fn, pipelines, cohort, spec, seeds, n_jobs, backend,
                                scheduler, progress), method)
    out = {}
    for name in pipelines:
        frame = _frame(records, name, names)
        _check_failures(frame, max_failed, name)
        out[name] = ValidationResult(method, endpoint, tuple(names), apparent[name], frame,
                                     len(frame), random_state, ci_level)
    return out


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
    n_folds : int, default 5
        Folds for ``method="cv"``.
    random_state : int or None
        Replicate b uses ``SeedSequence(random_state).spawn(n_boot)[b]``.
    n_jobs : int or None
        Local processes (joblib); results do not depend on it.
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
        bootstrap-apparent differences re-centred on ``diff`` (method "optimism"), else
        percentiles of the paired per-replicate estimates' differences.
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
                         "ci_high": float(ci[1]), "n_pairs": int(d["boot"].size)})
        return pd.DataFrame(rows)


def _paired(a: ValidationResult, b: ValidationResult, metric: str) -> dict[str, Any]:
    fa, ta = (a.replicates[f"{metric}__{r}"].to_numpy(float) for r in ("fit", "test"))
    fb, tb = (b.replicates[f"{metric}__{r}"].to_numpy(float) for r in ("fit", "test"))
    ok = np.isfinite(fa) & np.isfinite(ta) & np.isfinite(fb) & np.isfinite(tb)
    sa = a.summary().set_index("metric").loc[metric]
    sb = b.summary().set_index("metric").loc[metric]
    diff = float(sa["corrected"] - sb["corrected"])
    if a.method == "optimism":
        boot = (fa - fb)[ok]
        shift = float(np.mean(boot) - diff) if ok.any() else np.nan
        return {"diff": diff, "boot": boot, "shift": shift}
    return {"diff": diff, "boot": (ta - tb)[ok], "shift": 0.0}


def compare_pipelines(pipelines: Mapping[str, Any], cohort: Cohort, endpoint: str,
                      n_boot: int = 200, *, reference: str | None = None,
                      **kwargs: Any) -> ComparisonResult:
    """Validate several pipelines on the same patient resamples and compare them.

    Parameters
    ----------
    pipelines : mapping of name to CohortPipeline
        Insertion order is kept; the first is the reference unless ``reference`` is given.
    cohort, endpoint, n_boot, **kwargs
        As :func:`bootstrap_validate`.

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

"""Typed results of the internal validation engine (layer 5).

Every replicate of every pipeline is one :class:`ReplicateRecord` (its status, the value
of each metric on the data it was fitted on and on its test data, the reason of each
failed metric, the warnings); a :class:`ValidationResult` holds them with the apparent
performance and turns them into estimates:

``"optimism"`` (Harrell 2015, *Regression Modeling Strategies*, 5.3.5; Steyerberg 2019)
    corrected = apparent - mean_b (metric(fit_b on boot_b) - metric(fit_b on original)).
    The interval is a location-shifted percentile interval (after Noma et al. 2021, Stat
    Methods Med Res 30:2545): the percentiles of the bootstrap apparent metrics, shifted
    so that their mean sits on the corrected value. The calibration slope's in-sample
    value is fixed by construction (1 for an unpenalised Cox model on its own data), so
    its interval uses the out-of-sample slopes in the same way.
``".632+"`` (Efron & Tibshirani 1997)
    out-of-bag metric per replicate; for discrimination metrics (no-information value
    0.5) the out-of-bag value is capped at 0.5 and the .632+ weight is
    w = .632 / (1 - .368 R) with relative overfitting R = (apparent - oob) /
    (apparent - 0.5); other metrics use the plain .632 weight. The interval is the
    percentile interval of the per-replicate estimates.
``"cv"``
    repeated patient-grouped K-fold cross-validation; the estimate is the mean over
    folds. Cross-validation has no valid variance estimate (Bengio & Grandvalet 2004),
    so ``ci_low`` and ``ci_high`` are NaN.

Metrics are :class:`~survrad.evaluation.keys.MetricKey` (name and horizon as fields).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from survrad.evaluation.keys import MetricKey

__all__ = [
    "SUMMARY_COLUMNS",
    "ComparisonResult",
    "ReplicateRecord",
    "ReplicateWarning",
    "ValidationResult",
    "as_metric_key",
]

_DISCRIMINATION = ("c_index", "uno_c", "td_auc", "auc")
#: Metrics whose in-sample value is fixed by construction (the calibration slope of an
#: unpenalised Cox or logistic model is 1 on its training data): their interval follows the
#: spread of the out-of-sample values instead of the bootstrap apparent values.
_FIXED_IN_SAMPLE = ("calibration_slope",)
SUMMARY_COLUMNS = ["metric", "horizon", "apparent", "optimism", "corrected", "ci_low",
                   "ci_high", "n_boot", "n_failed"]
ROLES = ("fit", "test")


def as_metric_key(metric: str | MetricKey, horizon: float | None = None) -> MetricKey:
    """``MetricKey`` from a key, or from a name and an optional horizon."""
    if isinstance(metric, MetricKey):
        if horizon is not None and metric.horizon != float(horizon):
            raise ValueError(f"metric {metric.label!r} already names horizon "
                             f"{metric.horizon:g}; got horizon={horizon!r}.")
        return metric
    return MetricKey(str(metric), None if horizon is None else float(horizon))


@dataclasses.dataclass(frozen=True)
class ReplicateWarning:
    """A warning raised while fitting or scoring one pipeline in one replicate."""

    replicate: int
    category: str
    message: str


@dataclasses.dataclass(frozen=True)
class ReplicateRecord:
    """One pipeline in one replicate (or one fold of one CV repeat).

    Attributes
    ----------
    replicate : int
        Replicate number (CV: ``repeat * n_folds + fold``).
    seed : str
        The replicate's seed, ``entropy:spawn_key`` (for audit).
    status : {"ok", "failed"}
        "failed": the pipeline could not be fitted (``reason`` says why).
    reason : str
        Why the replicate failed; empty when it did not.
    fit, test : mapping of MetricKey to float
        Each metric on the data the pipeline was fitted on and on its test data (the
        original cohort, the out-of-bag patients or the held-out fold); NaN when it could
        not be computed.
    failures : mapping of (MetricKey, role) to str
        Why a metric is NaN, for ``role`` in ("fit", "test").
    warnings : tuple of (category, message)
    repeat, fold : int or None
        For cross-validation.
    """

    replicate: int
    seed: str
    status: str
    reason: str
    fit: Mapping[MetricKey, float]
    test: Mapping[MetricKey, float]
    failures: Mapping[tuple[MetricKey, str], str]
    warnings: tuple[tuple[str, str], ...] = ()
    repeat: int | None = None
    fold: int | None = None

    def value(self, metric: MetricKey, role: str) -> float:
        return float((self.fit if role == "fit" else self.test).get(metric, np.nan))

    def why(self, metric: MetricKey) -> str:
        """Why ``metric`` is missing in this replicate (first role), else the reason."""
        for role in ROLES:
            if (metric, role) in self.failures:
                return self.failures[(metric, role)]
        return self.reason


@dataclasses.dataclass(frozen=True)
class ValidationResult:
    """Outcome of :func:`~survrad.evaluation.bootstrap.bootstrap_validate` (unrounded).

    Attributes
    ----------
    method, endpoint : str
    metrics : tuple of MetricKey
    apparent : mapping of MetricKey to float
        Metric of the pipeline fitted and evaluated on the whole cohort.
    records : tuple of ReplicateRecord
        One per replicate (CV: per fold).
    n_boot, random_state, ci_level : as given
    fitted : CohortPipeline or None
        The pipeline fitted on the whole cohort: the fit whose apparent performance is
        corrected (seeded as the replicates are), e.g. for its coefficient table.
    """

    method: str
    endpoint: str
    metrics: tuple[MetricKey, ...]
    apparent: Mapping[MetricKey, float]
    records: tuple[ReplicateRecord, ...]
    n_boot: int
    random_state: Any
    ci_level: float
    fitted: Any = None

    # ------------------------------------------------------------------- access
    def values(self, metric: str | MetricKey, role: str, horizon: float | None = None
               ) -> np.ndarray:
        """The metric in every replicate, on the ``"fit"`` or the ``"test"`` data."""
        key = as_metric_key(metric, horizon)
        return np.array([r.value(key, role) for r in self.records], dtype=float)

    @property
    def replicate_warnings(self) -> tuple[ReplicateWarning, ...]:
        """Every warning of every replicate (each distinct one once per replicate)."""
        return tuple(ReplicateWarning(r.replicate, c, m) for r in self.records
                     for c, m in r.warnings)

    @functools.cached_property
    def replicates(self) -> pd.DataFrame:
        """The records as a table for people (one row per replicate; columns named
        ``<metric label> (fit)`` and ``<metric label> (test)``)."""
        rows = []
        for r in self.records:
            row: dict[str, Any] = {"replicate": r.replicate, "seed": r.seed}
            if r.repeat is not None:
                row.update(repeat=r.repeat, fold=r.fold)
            row.update(status=r.status, reason=_reason_text(r),
                       warnings="; ".join(f"{c}: {m}" for c, m in r.warnings))
            for m in self.metrics:
                for role in ROLES:
                    row[f"{m.label} ({role})"] = r.value(m, role)
            rows.append(row)
        return pd.DataFrame(rows)

    # ---------------------------------------------------------------- estimates
    def estimate(self, metric: str | MetricKey, horizon: float | None = None
                 ) -> dict[str, Any]:
        """apparent, optimism, corrected, ci_low, ci_high, n_boot, n_failed of a metric."""
        return _summarise(self, as_metric_key(metric, horizon))

    def summary(self) -> pd.DataFrame:
        """metric, horizon, apparent, optimism, corrected, ci_low, ci_high, n_boot,
        n_failed (one row per metric and horizon)."""
        rows = [{"metric": m.name, "horizon": np.nan if m.horizon is None else m.horizon,
                 **_summarise(self, m)} for m in self.metrics]
        return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)

    def to_frame(self) -> pd.DataFrame:
        """Alias of :meth:`summary`."""
        return self.summary()


def _reason_text(r: ReplicateRecord) -> str:
    if r.status != "ok":
        return r.reason
    return "; ".join(f"{m.label} ({role}): {why}" for (m, role), why in r.failures.items())


def _alpha(ci_level: float) -> tuple[float, float]:
    a = (1 - ci_level) / 2
    return 100 * a, 100 * (1 - a)


def _summarise(res: ValidationResult, m: MetricKey) -> dict[str, Any]:
    fit = res.values(m, "fit")
    test = res.values(m, "test")
    ok = np.isfinite(fit) & np.isfinite(test)
    app = float(res.apparent.get(m, np.nan))
    row = {"apparent": app, "n_boot": res.n_boot, "n_failed": int(res.n_boot - ok.sum())}
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
    else:  # cv: test holds held-out fold metrics; there is no valid interval
        corrected = float(np.mean(test[ok]))
        optimism = app - corrected
        ci = np.array([np.nan, np.nan])
    return {**row, "optimism": optimism, "corrected": corrected, "ci_low": float(ci[0]),
            "ci_high": float(ci[1])}


def _spread(fit: np.ndarray, test: np.ndarray, metric: MetricKey) -> np.ndarray:
    """The per-replicate values whose spread gives the optimism method's interval."""
    return test if metric.name in _FIXED_IN_SAMPLE else fit


def _632(apparent: float, boot: float, oob: float, metric: MetricKey) -> float:
    """Efron & Tibshirani (1997) .632+ estimate from apparent and out-of-bag values.

    Discrimination metrics use the no-information value 0.5: the out-of-bag value is
    capped at it (``Err1' = min(Err1, gamma)`` in their error-rate notation) and the
    relative overfitting ``R = (apparent - oob') / (apparent - 0.5)`` sets the weight
    ``w = .632 / (1 - .368 R)``. Other metrics (Brier, IBS, calibration slope) have no
    model-free no-information value here and use the plain .632 weight.
    """
    if metric.name not in _DISCRIMINATION:
        return 0.368 * apparent + 0.632 * oob
    oob = max(oob, 0.5)
    r = (apparent - oob) / (apparent - 0.5) if apparent > 0.5 and oob < apparent else 0.0
    w = 0.632 / (1 - 0.368 * r)
    return (1 - w) * apparent + w * oob


@dataclasses.dataclass(frozen=True)
class ComparisonResult:
    """Several pipelines validated on the SAME resamples, with paired differences."""

    results: Mapping[Any, ValidationResult]
    reference: Any
    ci_level: float

    def summary(self) -> pd.DataFrame:
        """One block per pipeline (``pipeline`` column + ValidationResult.summary)."""
        frames = [r.summary().assign(pipeline=[name] * len(r.metrics))
                  for name, r in self.results.items()]
        out = pd.concat(frames, ignore_index=True)
        return out[["pipeline", *[c for c in out.columns if c != "pipeline"]]]

    def differences(self, metric: str | MetricKey = "c_index",
                    horizon: float | None = None) -> pd.DataFrame:
        """Paired differences of the corrected ``metric`` against ``reference``.

        diff = corrected_A - corrected_ref; interval: percentiles of the paired
        bootstrap-apparent differences re-centred on ``diff`` (method "optimism"; the
        out-of-sample values for the calibration slope), percentiles of the paired
        per-replicate .632+ estimates' differences (".632+"), none for "cv".
        """
        key = as_metric_key(metric, horizon)
        ref = self.results[self.reference]
        rows = []
        lo, hi = _alpha(self.ci_level)
        for name, res in self.results.items():
            if name == self.reference:
                continue
            d = _paired(res, ref, key)
            ci = (np.percentile(d["boot"], [lo, hi]) - d["shift"] if d["boot"].size
                  else [np.nan] * 2)
            rows.append({"pipeline": name, "reference": self.reference, "metric": key.name,
                         "horizon": np.nan if key.horizon is None else key.horizon,
                         "difference": d["diff"], "ci_low": float(ci[0]),
                         "ci_high": float(ci[1]), "n_pairs": d["n"]})
        return pd.DataFrame(rows, columns=["pipeline", "reference", "metric", "horizon",
                                           "difference", "ci_low", "ci_high", "n_pairs"])


def _paired(a: ValidationResult, b: ValidationResult, metric: MetricKey) -> dict[str, Any]:
    if a.method != b.method:
        raise ValueError(f"paired differences need one validation method; got {a.method!r} "
                         f"and {b.method!r}. Compare pipelines validated the same way.")
    fa, ta = a.values(metric, "fit"), a.values(metric, "test")
    fb, tb = b.values(metric, "fit"), b.values(metric, "test")
    ok = np.isfinite(fa) & np.isfinite(ta) & np.isfinite(fb) & np.isfinite(tb)
    diff = float(a.estimate(metric)["corrected"] - b.estimate(metric)["corrected"])
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

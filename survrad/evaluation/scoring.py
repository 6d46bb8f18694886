"""Evaluate a fitted pipeline on a cohort: the metric names the validation engine knows.

Survival endpoints: ``c_index`` (Harrell), ``uno_c`` (IPCW, truncated at the largest
horizon), ``td_auc`` (cumulative/dynamic AUC at each horizon), ``brier`` (IPCW Brier at each
horizon), ``ibs`` (integrated Brier score over the horizons' range), ``calibration_slope``
(Cox regression of the outcome on the linear predictor, by the compiled one-covariate
Newton of :func:`survrad._math.cox_presorted.cox_slope`; models with a linear predictor
only). Binary endpoints: ``auc``, ``brier``, ``calibration_slope``.

On request (not in the defaults): ``ipa`` (index of prediction accuracy, the Brier score
scaled by that of the Kaplan-Meier null model, at each horizon), ``integrated_auc`` (the
time-dependent AUC over the horizons, Kaplan-Meier weighted as scikit-survival's
``mean_auc``) and ``ici`` (integrated calibration index of the smooth calibration curve,
at each horizon for survival endpoints).

A metric that cannot be computed on a given sample (a horizon beyond its follow-up, no
comparable pair) is returned as NaN with its reason, never raised: resampling engines
record it as a failure of that metric in that replicate.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from survrad._math.cox_presorted import cox_slope
from survrad.data.cohort import Cohort
from survrad.evaluation import concordance as conc
from survrad.evaluation import metrics as met
from survrad.evaluation.keys import MetricKey
from survrad.evaluation.smooth_calibration import smooth_calibration

__all__ = ["DEFAULT_METRICS", "EXTRA_METRICS", "metric_keys", "score_pipeline"]

DEFAULT_METRICS = {
    "survival": ("c_index", "uno_c", "td_auc", "brier", "ibs", "calibration_slope"),
    "binary": ("auc", "brier", "calibration_slope"),
}
#: Metrics computed only when asked for (``metrics=[...]``).
EXTRA_METRICS = {
    "survival": ("ipa", "integrated_auc", "ici"),
    "binary": ("ici",),
}
_PER_HORIZON = ("td_auc", "brier", "ipa", "ici")
_INTEGRATED = ("ibs", "integrated_auc")
_EXPECTED_FAILURES = (ValueError, ArithmeticError, np.linalg.LinAlgError)


def metric_keys(kind: str, metrics: Sequence[str], horizons: Sequence[float]
                ) -> list[MetricKey]:
    """One key per metric, per horizon for the per-horizon metrics, in a stable order.

    Examples
    --------
    >>> [k.label for k in metric_keys("survival", ["c_index", "td_auc"], [6, 12])]
    ['c_index', 'td_auc@6', 'td_auc@12']
    """
    out = []
    for m in metrics:
        if kind == "survival" and m in _PER_HORIZON:
            if not horizons:
                raise ValueError(f"metric {m!r} needs horizons=[...] (times at which to "
                                 "evaluate it).")
            out += [MetricKey(m, float(h)) for h in horizons]
        elif kind == "survival" and m in _INTEGRATED and len(horizons) < 2:
            raise ValueError(f"metric {m!r} needs at least two horizons to integrate over.")
        else:
            out.append(MetricKey(m))
    return out


def _fmt(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def score_pipeline(fitted: Any, cohort: Cohort, metrics: Sequence[str],
                   horizons: Sequence[float], design: Any = None
                   ) -> tuple[dict[MetricKey, float], dict[MetricKey, str]]:
    """Compute ``metrics`` of a fitted ``CohortPipeline`` on ``cohort``.

    The censoring distribution of the IPCW metrics (Uno's C, time-dependent AUC, Brier) is
    the Kaplan-Meier estimate on ``cohort`` itself, as ``riskRegression::Score`` does:
    a metric describes the data it is computed on, so the apparent value and the value on
    the original cohort of a bootstrap replicate share their weights.

    Parameters
    ----------
    fitted : CohortPipeline
        A fitted pipeline.
    cohort : Cohort
        The evaluation cohort.
    metrics : sequence of str
        Metric names (see module docstring).
    horizons : sequence of float
        Evaluation times for per-horizon metrics. A horizon that cannot be evaluated fails
        alone: the other horizons of the metric are still computed.
    design : DataFrame, optional
        ``fitted.transform(cohort)`` when the caller already has it (pipelines sharing a
        front share it).

    Returns
    -------
    values : dict
        MetricKey -> value (NaN when it could not be computed).
    failures : dict
        MetricKey -> reason, for the NaN ones.
    """
    kind = fitted.endpoint_kind_
    y = cohort.y(fitted.endpoint_)
    X = fitted.transform(cohort) if design is None else design  # every metric uses it
    risk = fitted._risk_from_design(X)

    needed = np.asarray(horizons, float)
    if len(horizons) > 1:
        needed = np.concatenate([needed, _ibs_grid(horizons)])
    needed = np.unique(needed)

    @functools.cache
    def curves() -> np.ndarray:  # one prediction at every time any metric asks for
        return fitted._survival_from_design(X, needed)

    def survival(times: tuple[float, ...]) -> np.ndarray:
        pos = np.searchsorted(needed, times)
        if np.any(pos >= needed.size) or np.any(needed[np.minimum(pos, needed.size - 1)]
                                                 != np.asarray(times)):
            return fitted._survival_from_design(X, times)  # a time outside the set
        return curves()[:, pos]

    @functools.cache
    def checked() -> Any:
        """The outcome validated once for all metrics (an error is not cached: every
        metric that needs it records it, as when each validated its own inputs)."""
        if kind == "binary":
            return met._binary_inputs(y, risk)
        return met._IPCWData(y, y)

    def compute(m: str, hz: Sequence[float]) -> np.ndarray:
        if kind == "binary":
            return np.atleast_1d(_binary_metric(m, y, risk, checked))
        return np.atleast_1d(_survival_metric(m, fitted, survival, y, risk, hz, checked))

    values: dict[MetricKey, float] = {}
    failures: dict[MetricKey, str] = {}
    for m in metrics:
        names = metric_keys(kind, [m], horizons)
        if not _record(values, failures, names, lambda m=m: compute(m, horizons)) \
                and kind == "survival" and m in _PER_HORIZON and len(horizons) > 1:
            # one horizon may be the culprit: score each alone so that the others survive
            for h, name in zip(horizons, names, strict=True):
                _record(values, failures, [name], lambda m=m, h=h: compute(m, [h]))
    return values, failures


def _record(values: dict[MetricKey, float], failures: dict[MetricKey, str],
            names: Sequence[MetricKey],
            work: Callable[[], np.ndarray]) -> bool:
    """Store ``work()`` under ``names``, or NaN and the reason; True when it worked."""
    try:
        res = work()
    except _EXPECTED_FAILURES as exc:
        for n in names:
            values[n] = float("nan")
            failures[n] = _fmt(exc)
        return False
    values.update(dict(zip(names, res.tolist(), strict=True)))
    for n in names:
        failures.pop(n, None)
    return True


def _ibs_grid(horizons: Sequence[float]) -> np.ndarray:
    return np.linspace(min(horizons), max(horizons), 50)


def _survival_metric(m: str, fitted: Any, survival: Callable[[tuple[float, ...]], np.ndarray],
                     y: np.ndarray, risk: np.ndarray, horizons: Sequence[float],
                     checked: Callable[[], met._IPCWData]) -> Any:
    """One survival metric; ``checked()`` is the outcome validated with its censoring
    model, shared by the IPCW metrics of the call (same numbers as the public functions
    ``met.time_dependent_auc(y, y, ...)``, ``met.brier_score(y, y, ...)``, ...)."""
    t, e = y["time"], y["event"]
    if m == "c_index":
        return conc.concordance_index(t, e, risk)
    if m == "uno_c":
        tau = max(horizons) if horizons else None
        return conc.uno_concordance_index(t, e, risk, tau=tau)
    if m == "td_auc":
        return met._time_dependent_auc(checked(), risk, np.asarray(horizons, float))
    if m in ("brier", "ibs"):
        times = np.asarray(horizons, float) if m == "brier" else _ibs_grid(horizons)
        surv = survival(tuple(times.tolist()))
        score = met._brier_score if m == "brier" else met._integrated_brier_score
        return score(checked(), surv, times)
    if m == "calibration_slope":
        if not hasattr(fitted.model_, "coef_"):
            raise ValueError("calibration_slope needs a model with a linear predictor (Cox).")
        return cox_slope(t, e, risk)   # = met.calibration_slope_lp(y, risk), compiled
    return _extra_survival_metric(m, survival, y, risk, horizons)


def _extra_survival_metric(m: str, survival: Callable[[tuple[float, ...]], np.ndarray],
                           y: np.ndarray, risk: np.ndarray, horizons: Sequence[float]) -> Any:
    if m == "ipa":
        times = np.asarray(horizons, float)
        return met.ipa(y, y, survival(tuple(times.tolist())), times)
    if m == "integrated_auc":
        return met.integrated_auc(y, y, risk, np.sort(np.asarray(horizons, float)))
    if m == "ici":
        surv = survival(tuple(float(h) for h in horizons))
        return [_ici(y, 1.0 - surv[:, k], float(h)) for k, h in enumerate(horizons)]
    known = DEFAULT_METRICS["survival"] + EXTRA_METRICS["survival"]
    raise ValueError(f"unknown survival metric {m!r}; known: {known}.")


def _ici(y: np.ndarray, predicted_risk: np.ndarray, horizon: float | None) -> float:
    """Integrated calibration index of the smooth calibration curve (3-knot spline)."""
    return smooth_calibration(y, predicted_risk, horizon=horizon).ici


def _binary_metric(m: str, y: np.ndarray, prob: np.ndarray,
                   checked: Callable[[], tuple[np.ndarray, np.ndarray]]) -> float:
    """One binary metric; ``checked()`` is ``(y, prob)`` validated once per scoring call
    (same numbers as the public ``met.roc_auc(y, prob)``, ...)."""
    if m == "auc":
        return met._roc_auc(*checked())
    if m == "brier":
        return met._brier_binary(*checked())
    if m == "calibration_slope":
        return met._calibration_slope_binary(*checked())
    if m == "ici":
        return _ici(y, prob, None)
    known = DEFAULT_METRICS["binary"] + EXTRA_METRICS["binary"]
    raise ValueError(f"unknown binary metric {m!r}; known: {known}.")

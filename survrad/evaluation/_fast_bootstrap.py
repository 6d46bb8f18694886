"""The bootstrap's fast path: array-only Cox pipelines at the cost of their numerics.

A pipeline with no learned front (no lesion strategy, no feature steps, no formula: the
patient columns go straight into an unpenalised, unstratified ``CoxModel``) scored by
``c_index`` and ``calibration_slope`` with Harrell's optimism needs, per replicate, only
arrays: the resampled rows, one Cox fit, two linear predictors, two C indices and two
calibration slopes. :class:`FastCoxPlan` holds the cohort's arrays, sorted once for the
risk sets; :meth:`FastCoxPlan.replicate` computes a replicate's scores without pandas,
cloning or per-call input checks (the inputs were validated once, by the apparent fit on
the whole cohort):

* the resample's risk-set order comes from the cohort's by a counting sort
  (:func:`survrad._math.cox_presorted.resample_order`), no sort per replicate;
* the Cox fit is :func:`survrad._math.cox_presorted.cox_fit_presorted` (the Newton
  iteration of ``cox_fit``, derivatives from one compiled pass) on the standardised
  columns, exactly as ``CoxModel.fit`` standardises them;
* C is :func:`survrad._math.concordance.harrell_c` (integer pair counts, as
  ``concordance_index``); the slope is
  :func:`survrad._math.cox_presorted.cox_slope_presorted` (the kernel the general path's
  ``calibration_slope`` uses too).

Same numbers as the general path: every check of ``CoxModel.fit`` that can fail or warn
on a resample (events per variable, distinct event times, constant or collinear columns,
convergence) is screened here, conservatively; a replicate that does not pass every
screen cleanly, or whose scoring raises, returns None and the engine runs the general
path for it, which then records the failure or warning as usual. The differences left
are in the order of floating-point additions (about 1e-15; tested against the general
path at 1e-12).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

from survrad._math.concordance import harrell_c
from survrad._math.cox_presorted import (
    cox_fit_presorted,
    cox_slope_presorted,
    resample_order,
    risk_set_order,
    standardised_resample,
)
from survrad._math.linear import linear_predictor
from survrad.evaluation.keys import MetricKey
from survrad.models._checks import _clearly_full_rank
from survrad.models.cox import _RANK_TOL, CoxModel
from survrad.models.pipeline import CohortPipeline

__all__ = ["FAST_METRICS", "FastCoxPlan", "could_take_fast_path", "fast_plan"]

#: Metrics the fast path computes; a pipeline asking for another takes the general path.
FAST_METRICS = ("c_index", "calibration_slope")

#: Below this many events per variable ``event_sufficiency`` warns: such a replicate
#: takes the general path (which records the warning).
_WARN_EPV = 10.0


@dataclasses.dataclass(frozen=True)
class _CoxSpec:
    """One pipeline of the plan: its design columns and the model's settings."""

    x: np.ndarray             # (n, p) design of the whole cohort, C order
    metrics: tuple[str, ...]
    ties: str
    max_iter: int
    tol: float
    min_epv: float


@dataclasses.dataclass(frozen=True)
class FastCoxPlan:
    """Arrays of the cohort for :meth:`replicate` (see the module docstring)."""

    time: np.ndarray          # (n,)
    dead: np.ndarray          # (n,) bool
    order: np.ndarray         # risk-set order of the whole cohort
    pipelines: Mapping[Hashable, _CoxSpec]

    @property
    def n(self) -> int:
        return int(self.time.size)

    def replicate(self, positions: np.ndarray
                  ) -> dict[Hashable, tuple[dict[MetricKey, float], dict[MetricKey, float]]] | None:
        """Scores (fit on the resample, test on the cohort) of every pipeline, or None.

        None: some screen did not pass cleanly; the caller runs the general path.
        """
        rows = resample_order(self.order, positions)         # sorted resample
        t_b, d_b = self.time[rows], self.dead[rows]
        if not _enough_events(t_b, d_b):
            return None
        out = {}
        for name, spec in self.pipelines.items():
            scores = _replicate_one(spec, self, positions, rows, t_b, d_b)
            if scores is None:
                return None
            out[name] = scores
        return out


def _enough_events(t_sorted: np.ndarray, d_sorted: np.ndarray) -> bool:
    """At least 3 distinct event times (``event_sufficiency`` raises below)."""
    td = t_sorted[d_sorted]
    return td.size >= 3 and int(np.count_nonzero(td[1:] != td[:-1])) >= 2


def _replicate_one(spec: _CoxSpec, plan: FastCoxPlan, positions: np.ndarray,
                   rows: np.ndarray, t_b: np.ndarray, d_b: np.ndarray
                   ) -> tuple[dict[MetricKey, float], dict[MetricKey, float]] | None:
    n, p = spec.x.shape
    n_events = int(np.count_nonzero(d_b))
    if p >= n or n_events / p < max(spec.min_epv, _WARN_EPV):
        return None
    # CoxModel.fit's constant-column screen and standardisation on the rows in the
    # general path's order (x[positions]); xs: the same rows in risk-set order
    mean, sd, constant, xs = standardised_resample(spec.x, positions, rows)
    if constant:
        return None
    if not _clearly_full_rank(np.column_stack([np.ones(n), xs]), _RANK_TOL):
        return None
    coef_s, converged = cox_fit_presorted(xs, t_b, d_b, ties=spec.ties,
                                          max_iter=spec.max_iter, tol=spec.tol)
    if not converged or not np.isfinite(coef_s).all():
        return None
    lp = linear_predictor(spec.x - mean, coef_s / sd)    # CoxModel.predict, whole cohort
    lp_b = lp[rows]
    fit: dict[MetricKey, float] = {}
    test: dict[MetricKey, float] = {}
    try:
        for m in spec.metrics:
            if m == "c_index":
                fit[MetricKey(m)] = float(harrell_c(t_b, d_b, lp_b))
                test[MetricKey(m)] = float(harrell_c(plan.time, plan.dead, lp))
            else:
                fit[MetricKey(m)] = cox_slope_presorted(lp_b, t_b, d_b)
                o = plan.order
                test[MetricKey(m)] = cox_slope_presorted(lp[o], plan.time[o], plan.dead[o])
    except ValueError:             # no comparable pair, no slope: the general path records it
        return None
    if not all(math.isfinite(v) for v in (*fit.values(), *test.values())):
        return None
    return fit, test


def _eligible_model(model: Any) -> bool:
    """An unpenalised, unstratified CoxModel (the exact class, not a subclass)."""
    if model is None:
        return True                               # CohortPipeline's default: CoxModel()
    if type(model) is not CoxModel:
        return False
    pen = model.penalty
    return (isinstance(pen, numbers.Real) and not isinstance(pen, bool) and pen == 0
            and model.strata is None and model.ties in (None, "efron", "breslow"))


def _eligible(pipe: Any, method: str, metrics: tuple[str, ...]) -> bool:
    return (type(pipe) is CohortPipeline and pipe.strategy is None
            and len(pipe.features) == 0 and pipe.formula is None
            and _eligible_model(pipe.model) and method == "optimism"
            and set(metrics) <= set(FAST_METRICS))


def could_take_fast_path(pipelines: Mapping[Hashable, Any], cohort: Any, endpoint: str,
                         methods: Mapping[Hashable, str],
                         metrics: Mapping[Hashable, tuple[str, ...]]) -> bool:
    """Whether every pipeline is of a kind the fast path takes (before any fit): a
    survival endpoint and array-only unpenalised Cox pipelines validated by optimism."""
    return (cohort.endpoint(endpoint).kind == "survival"
            and all(_eligible(p, methods[n], metrics[n]) for n, p in pipelines.items()))


def fast_plan(pipelines: Mapping[Hashable, Any], fitted: Mapping[Hashable, Any],
              cohort: Any, endpoint: str, methods: Mapping[Hashable, str],
              metrics: Mapping[Hashable, tuple[str, ...]]) -> FastCoxPlan | None:
    """The plan when every pipeline can take the fast path, else None.

    ``fitted`` maps each pipeline to its apparent fit on the whole cohort (which
    validated the design and the outcome); the plan takes the design from it.
    """
    if not could_take_fast_path(pipelines, cohort, endpoint, methods, metrics):
        return None
    y = cohort.y(endpoint)
    if "start" in (y.dtype.names or ()):
        return None
    time = np.ascontiguousarray(y["time"], dtype=float)
    dead = np.ascontiguousarray(y["event"], dtype=bool)
    specs = {}
    for name in pipelines:
        app = fitted[name]
        model = app.model_
        if list(model.dropped_features_) or model.strata_levels_ is not None:
            return None
        x = np.ascontiguousarray(app.transform(cohort)[list(model.feature_names_in_)]
                                 .to_numpy(dtype=float))
        specs[name] = _CoxSpec(x, tuple(metrics[name]), model.ties_, int(model.max_iter),
                               float(model.tol), float(model.min_epv))
    return FastCoxPlan(time, dead, risk_set_order(time, dead), specs)

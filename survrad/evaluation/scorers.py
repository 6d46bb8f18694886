"""scikit-learn scorers for survival models: Uno's C, time-dependent AUC, Brier score.

:func:`make_survival_scorer` returns a callable ``scorer(estimator, X, y) -> float``
(scikit-learn's scorer protocol, greater is better) for ``GridSearchCV(scoring=...)``,
``cross_val_score(scoring=...)`` or ``cross_validate``. It lives in
:mod:`survrad.evaluation` (layer 5) because the metrics do; the estimators' own
``score`` (Harrell's C) needs no scorer.

The inverse-probability-of-censoring weights of Uno's C, the td-AUC and the Brier score
need the censoring distribution. A scorer only sees the evaluated fold, so it is
estimated there (Kaplan-Meier of the fold's censoring times), as R's
``riskRegression::Score`` does on validation data and as ``concordance(fit, newdata,
timewt = "n/G2")``; scikit-survival's ``as_*_scorer`` wrappers use the training fold
instead. The two agree when censoring does not depend on the fold.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from survrad._validation import check_choice
from survrad.data.outcome import check_y_survival
from survrad.evaluation.concordance import concordance_index, uno_concordance_index
from survrad.evaluation.metrics import (
    brier_score,
    integrated_auc,
    integrated_brier_score,
    time_dependent_auc,
)

__all__ = ["SurvivalScorer", "make_survival_scorer"]

_METRICS = ("harrell_c", "uno_c", "td_auc", "brier")
_NEED_TIMES = ("td_auc", "brier")


@dataclass(frozen=True)
class SurvivalScorer:
    """A scikit-learn scorer ``(estimator, X, y) -> float``; build with
    :func:`make_survival_scorer`.

    Attributes
    ----------
    metric : str
    times : tuple of float or None
    tau : float or None
    """

    metric: str
    times: tuple[float, ...] | None = None
    tau: float | None = None

    def __call__(self, estimator: Any, X: Any, y: Any) -> float:
        """Score ``estimator`` on ``(X, y)``: greater is better (the Brier score negated).

        Parameters
        ----------
        estimator : fitted survival model
            ``predict(X)`` gives risk scores (higher = earlier event); for ``"brier"``,
            ``predict_survival_function(X, times)`` gives survival probabilities.
        X : DataFrame
        y : structured survival array (right-censored)

        Returns
        -------
        float
        """
        time, event = check_y_survival(y)
        if self.metric == "brier":
            times = np.asarray(self.times, dtype=float)
            surv = estimator.predict_survival_function(X, times)
            if times.size == 1:
                return -float(brier_score(y, y, surv, times)[0])
            return -integrated_brier_score(y, y, surv, times)
        risk = np.asarray(estimator.predict(X), dtype=float)
        if self.metric == "harrell_c":
            return float(concordance_index(time, event, risk))
        if self.metric == "uno_c":
            return float(uno_concordance_index(time, event, risk, tau=self.tau))
        times = np.asarray(self.times, dtype=float)
        if times.size == 1:
            return float(time_dependent_auc(y, y, risk, times)[0])
        return integrated_auc(y, y, risk, times)

    def __repr__(self) -> str:
        args = [repr(self.metric)]
        if self.times is not None:
            args.append(f"times={list(self.times)}")
        if self.tau is not None:
            args.append(f"tau={self.tau!r}")
        return f"make_survival_scorer({', '.join(args)})"


def _check_times(metric: str, times: Any) -> tuple[float, ...] | None:
    if times is None:
        if metric in _NEED_TIMES:
            raise ValueError(f"metric {metric!r} needs times=: the horizon(s) at which to "
                             "evaluate it, e.g. times=[365] or times=[180, 365, 730].")
        return None
    if metric not in _NEED_TIMES:
        raise ValueError(f"metric {metric!r} takes no times (use tau= to truncate Uno's C).")
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ValueError(f"times must be positive finite horizons, got {times!r}.")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise ValueError(f"times must be strictly increasing, got {t.tolist()}.")
    return tuple(float(v) for v in t)


def make_survival_scorer(metric: str, *, times: Any = None,
                         tau: float | None = None) -> SurvivalScorer:
    """A scikit-learn scorer of a survival metric (greater is better).

    Parameters
    ----------
    metric : {"uno_c", "td_auc", "brier", "harrell_c"}
        * ``"uno_c"``: Uno's C (:func:`~survrad.evaluation.uno_concordance_index`),
          optionally truncated at ``tau``;
        * ``"td_auc"``: the cumulative/dynamic AUC at one horizon
          (:func:`~survrad.evaluation.time_dependent_auc`), or over several its
          Kaplan-Meier-weighted mean (:func:`~survrad.evaluation.integrated_auc`,
          scikit-survival's ``mean_auc``);
        * ``"brier"``: minus the Brier score at one horizon
          (:func:`~survrad.evaluation.brier_score`), or minus the integrated Brier
          score over several (:func:`~survrad.evaluation.integrated_brier_score`);
          negated so that greater is better, as scikit-learn's ``neg_*`` scorers;
        * ``"harrell_c"``: Harrell's C (what the models' ``score`` gives).
    times : float or sequence of float
        Horizons, strictly increasing, in the unit of the survival times (required for
        ``"td_auc"`` and ``"brier"``, refused otherwise). Each fold must have follow-up
        beyond the last horizon and, for the AUC, an event before the first one: choose
        horizons inside the follow-up of every fold.
    tau : float, optional
        Truncation time of Uno's C (only events up to ``tau`` contribute).

    Returns
    -------
    SurvivalScorer
        ``scorer(estimator, X, y) -> float``; the censoring distribution of the IPC
        weights is estimated on the scored fold (see the module docstring).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.model_selection import GridSearchCV
    >>> from survrad.data.outcome import Surv
    >>> from survrad.models import CoxModel
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    >>> t = rng.exponential(np.exp(-X["a"]))
    >>> y = Surv.from_arrays(time=np.minimum(t, 2.0), event=t < 2.0)
    >>> search = GridSearchCV(CoxModel(), {"penalty": [0.01, 0.1]}, cv=3,
    ...                       scoring=make_survival_scorer("brier", times=[0.5, 1.0]))
    >>> search.fit(X, y).best_params_
    {'penalty': 0.01}
    """
    metric = check_choice("metric", metric, _METRICS)
    checked = _check_times(metric, times)
    if tau is not None:
        if metric != "uno_c":
            raise ValueError(f"tau truncates Uno's C only; metric {metric!r} takes times=.")
        if isinstance(tau, bool) or not isinstance(tau, numbers.Real) \
                or not np.isfinite(tau) or tau <= 0:
            raise ValueError(f"tau must be a positive finite time, got {tau!r}.")
        tau = float(tau)
    return SurvivalScorer(metric=metric, times=checked, tau=tau)

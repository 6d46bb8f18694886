"""Prediction metrics: pure functions of outcomes and predictions (layer 5).

Survival metrics use inverse probability of censoring weights (IPCW) with a Kaplan-Meier
censoring model ``G`` estimated on the training outcome, as ``riskRegression::Score(...,
cens.model = "km")``: a subject with an event at ``T_i <= t`` weighs ``1 / G(T_i-)``, a
subject still event-free at ``t`` weighs ``1 / G(t)``, a subject censored before ``t``
weighs 0 (:func:`survrad.evaluation.nonparametric.censoring_survival`). On the lung data
they match riskRegression to 1e-12 (``tests/test_metrics.py``); scikit-survival's
``cumulative_dynamic_auc`` and ``brier_score`` differ by about 1e-4 (they evaluate G at
``T_i`` instead of its left limit).

Every function validates its inputs and raises a ``ValueError`` (or its subclass
``SchemaError``) naming the problem, e.g. a horizon outside the follow-up of the data;
resampling engines catch it and record a failed replicate.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from survrad._math.coxph import cox_fit
from survrad._validation import check_choice, deprecated_attribute, renamed_argument
from survrad.data.outcome import check_binary, check_y_survival
from survrad.evaluation.nonparametric import _censoring_at, _censoring_curve, kaplan_meier
from survrad.exceptions import SchemaError

__all__ = [
    "SurvivalCalibration",
    "brier_binary",
    "brier_score",
    "calibration",
    "calibration_slope_binary",
    "calibration_slope_lp",
    "integrated_auc",
    "integrated_brier_score",
    "ipa",
    "null_brier_score",
    "roc_auc",
    "time_dependent_auc",
]


# ------------------------------------------------------------------------- checks
def _scores(x: Any, n: int, name: str, *, low: float = -np.inf, high: float = np.inf,
            ndim: int = 1) -> np.ndarray:
    """A finite float array of ``n`` rows and ``ndim`` dimensions, within [low, high]."""
    a = np.asarray(x, dtype=float)
    if ndim == 2 and a.ndim == 1:
        a = a[:, None]
    if a.ndim != ndim or a.shape[0] != n:
        raise SchemaError(f"{name} must have {n} rows (one per subject) and {ndim} "
                          f"dimension(s); got shape {a.shape}.")
    bad = ~np.isfinite(a)
    if bad.any():
        rows = np.flatnonzero(bad.reshape(n, -1).any(axis=1))
        raise SchemaError(f"{name} is NaN or infinite.",
                          ids=[f"row {i + 1}" for i in rows])
    out = (a < low) | (a > high)
    if out.any():
        raise SchemaError(f"{name} must lie in [{low:g}, {high:g}].",
                          values=a[out].ravel().tolist())
    return a


def _times(times: Any) -> np.ndarray:
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ValueError(f"times must be a non-empty 1-D array of positive finite "
                         f"numbers, got {times!r}.")
    return t


class _IPCWData:
    """A validated evaluated outcome and the censoring model of a training outcome.

    What every IPCW metric of the same data needs, computed once: the censoring
    Kaplan-Meier curve ``G`` of the training outcome and the case weights
    ``1 / G(T_i-)``. :func:`survrad.evaluation.scoring.score_pipeline` builds one per
    call and passes it to the private ``_time_dependent_auc`` and ``_brier_score``, so the
    metrics and horizons of one test set share it; the public functions build their own.

    Parameters
    ----------
    train_y, test_y : structured arrays
        Validated here (:func:`~survrad.data.outcome.check_y_survival`).
    """

    def __init__(self, train_y: Any, test_y: Any) -> None:
        self.train = check_y_survival(train_y)
        self.test = self.train if test_y is train_y else check_y_survival(test_y)

    @functools.cached_property
    def _curve(self) -> tuple[np.ndarray, np.ndarray]:
        return _censoring_curve(*self.train)

    def censoring(self, at: Any, *, left: bool = False) -> np.ndarray:
        """``G`` of the training outcome at ``at`` (= ``censoring_survival(*train, at)``)."""
        return _censoring_at(self._curve, at, left=left)

    @functools.cached_property
    def case_weights(self) -> np.ndarray:
        """``1 / G(T_i-)`` for every evaluated subject with an event (0 otherwise).

        The weight of a case does not depend on the horizon. ``G(T_i-)`` is 0 only for
        an event after the training follow-up, which is never a case: the horizons are
        checked to have ``G(t) > 0``.
        """
        t, e = self.test
        g = self.censoring(t[e], left=True)
        w = np.zeros(t.size)
        w[e] = np.divide(1.0, g, out=np.full(g.shape, np.inf), where=g > 0)
        return w


def _check_horizons(times: np.ndarray, data: _IPCWData, *, need_cases: bool) -> np.ndarray:
    """Refuse horizons outside the follow-up; return ``G(t)`` from the training data."""
    t_test, e_test = data.test
    last = t_test.max()
    late = times >= last
    if late.any():
        raise ValueError(
            f"horizons {times[late].tolist()} are outside the follow-up of the data "
            f"(times up to {last:g}): nobody is known to be event-free after them. Use "
            "horizons below the last follow-up time.")
    if need_cases:
        first = t_test[e_test].min() if e_test.any() else np.inf
        early = times < first
        if early.any():
            raise ValueError(
                f"horizons {times[early].tolist()} come before the first event "
                f"(t = {first:g}): there is no case to rank. Use later horizons.")
    g = data.censoring(times)
    if np.any(g <= 0):
        raise ValueError(
            f"the censoring survival of the training data is 0 at horizons "
            f"{times[g <= 0].tolist()}: those horizons are beyond the training follow-up.")
    return g


def _pair_ranks(cases: np.ndarray, sorted_controls: np.ndarray) -> np.ndarray:
    """Per case, the number of controls with a lower score plus half those tied with it."""
    below = np.searchsorted(sorted_controls, cases, side="left")
    tied = np.searchsorted(sorted_controls, cases, side="right") - below
    return below + 0.5 * tied


def _ipcw(test: tuple, horizon: float, g_horizon: float, w_events: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cases (event by ``horizon``), controls (event-free at it) and the IPC weights."""
    t, e = test
    cases = (t <= horizon) & e
    controls = t > horizon
    w = np.where(cases, w_events, np.where(controls, 1.0 / g_horizon, 0.0))
    return cases, controls, w


# --------------------------------------------------------------------- survival
def time_dependent_auc(train_y: Any, test_y: Any, risk: Any, times: Any) -> np.ndarray:
    """Cumulative/dynamic time-dependent AUC with IPCW (Uno 2007; Blanche et al. 2013).

    At horizon t the cases are the subjects with an event at or before t (weight
    ``1 / G(T_i-)``) and the controls those event-free at t; AUC(t) is the weighted
    probability that a case has a higher risk than a control (ties count 1/2). This is
    ``riskRegression::Score(..., metrics = "auc", cens.model = "km")``.

    Parameters
    ----------
    train_y : structured array
        Training outcome: the censoring distribution G is estimated on it.
    test_y : structured array
        Outcome of the evaluated subjects.
    risk : array-like of shape (n_test,)
        Risk scores (higher = earlier event).
    times : array-like of float
        Horizons, each after the first event and before the last follow-up time.

    Returns
    -------
    ndarray of shape (n_times,)

    Examples
    --------
    >>> from survrad.data.outcome import Surv
    >>> y = Surv.from_arrays(time=[1, 2, 3, 4, 5, 6], event=[1, 1, 0, 1, 0, 1])
    >>> time_dependent_auc(y, y, [6, 5, 4, 3, 2, 1], [2.5, 4.5]).tolist()
    [1.0, 1.0]
    """
    return _time_dependent_auc(_IPCWData(train_y, test_y), risk, times)


def _time_dependent_auc(data: _IPCWData, risk: Any, times: Any) -> np.ndarray:
    """:func:`time_dependent_auc` of an already validated outcome."""
    test = data.test
    r = _scores(risk, test[0].size, "risk")
    t = _times(times)
    g = _check_horizons(t, data, need_cases=True)
    w_events = data.case_weights
    out = np.empty(t.size)
    for k, (h, gh) in enumerate(zip(t, g, strict=True)):
        cases, controls, w = _ipcw(test, h, gh, w_events)
        ranks = _pair_ranks(r[cases], np.sort(r[controls]))
        out[k] = w[cases] @ ranks / (w[cases].sum() * np.count_nonzero(controls))
    return out


def brier_score(train_y: Any, test_y: Any, surv_prob: Any, times: Any) -> np.ndarray:
    """IPCW Brier score of predicted survival probabilities at each horizon (Graf 1999).

    ``BS(t) = mean_i [ 1(T_i <= t, event) S_i(t)^2 / G(T_i-) + 1(T_i > t) (1 - S_i(t))^2
    / G(t) ]``, as ``riskRegression::Score(..., metrics = "brier", cens.model = "km")``.

    Parameters
    ----------
    train_y, test_y : structured arrays
        Training outcome (for G) and evaluated outcome.
    surv_prob : array-like of shape (n_test, n_times)
        Predicted survival probability of each subject at each horizon.
    times : array-like of float
        Horizons, before the last follow-up time.

    Returns
    -------
    ndarray of shape (n_times,)

    Examples
    --------
    >>> from survrad.data.outcome import Surv
    >>> y = Surv.from_arrays(time=[1, 2, 3, 4], event=[1, 1, 1, 1])
    >>> brier_score(y, y, [[0.0], [1.0], [1.0], [1.0]], [1.5]).tolist()
    [0.0]
    """
    return _brier_score(_IPCWData(train_y, test_y), surv_prob, times)


def _brier_score(data: _IPCWData, surv_prob: Any, times: Any) -> np.ndarray:
    """:func:`brier_score` of an already validated outcome, all horizons at once.

    One row per horizon (C order), so each row's mean is the same pairwise sum as the
    mean of that horizon alone: bit-identical to a loop over the horizons.
    """
    t_test, e_test = data.test
    t = _times(times)
    s = _scores(surv_prob, t_test.size, "surv_prob", low=0.0, high=1.0, ndim=2)
    if s.shape[1] != t.size:
        raise SchemaError(f"surv_prob has {s.shape[1]} columns but there are {t.size} "
                          "horizons; give one column per horizon.")
    g = _check_horizons(t, data, need_cases=False)
    h = t[:, None]
    cases = (t_test <= h) & e_test                          # (n_times, n)
    w = np.where(cases, data.case_weights, np.where(t_test > h, 1.0 / g[:, None], 0.0))
    st = np.ascontiguousarray(s.T)
    return np.mean(w * np.where(cases, st ** 2, (1.0 - st) ** 2), axis=1)


def integrated_brier_score(train_y: Any, test_y: Any, surv_prob: Any, times: Any) -> float:
    """Brier score integrated over ``times`` (trapezoid rule) and divided by their range.

    Parameters
    ----------
    train_y, test_y, surv_prob, times
        As :func:`brier_score`; at least two strictly increasing times.

    Returns
    -------
    float

    Examples
    --------
    >>> from survrad.data.outcome import Surv
    >>> y = Surv.from_arrays(time=[1, 2, 3, 4, 5], event=[1, 1, 1, 1, 1])
    >>> round(integrated_brier_score(y, y, np.full((5, 2), 0.5), [1.5, 3.5]), 3)
    0.25
    """
    t = _increasing_times(times)      # the times first: their error before the outcome's
    return _integrated_brier_score(_IPCWData(train_y, test_y), surv_prob, t)


def _increasing_times(times: Any) -> np.ndarray:
    t = _times(times)
    if t.size < 2 or np.any(np.diff(t) <= 0):
        raise ValueError("integrated_brier_score needs at least two strictly increasing "
                         f"times, got {t.tolist()}.")
    return t


def _integrated_brier_score(data: _IPCWData, surv_prob: Any, times: Any) -> float:
    """:func:`integrated_brier_score` of an already validated outcome."""
    t = _increasing_times(times)
    bs = _brier_score(data, surv_prob, t)
    return float(np.sum(np.diff(t) * (bs[1:] + bs[:-1]) / 2) / (t[-1] - t[0]))


_NULL_MODELS = ("test", "train")


def null_brier_score(train_y: Any, test_y: Any, times: Any, *,
                     null_model: str = "test") -> np.ndarray:
    """IPCW Brier score of the null model: everyone gets the Kaplan-Meier survival.

    The reference of :func:`ipa`: riskRegression's ``"Null model"`` of ``Score(...,
    null.model = TRUE)``, a Kaplan-Meier curve ignoring the covariates.

    Parameters
    ----------
    train_y, test_y : structured arrays
        Training outcome (for the censoring model G) and evaluated outcome.
    times : array-like of float
        Horizons, before the last follow-up time of ``test_y``.
    null_model : {"test", "train"}, default "test"
        Data the Kaplan-Meier curve is estimated on: ``"test"`` (the evaluated outcome,
        as ``riskRegression::Score``, whose null model is fitted on its ``data``) or
        ``"train"`` (the training outcome: a covariate-free model developed like the
        model under evaluation).

    Returns
    -------
    ndarray of shape (n_times,)

    Examples
    --------
    >>> from survrad.data.outcome import Surv
    >>> y = Surv.from_arrays(time=[1, 2, 3, 4], event=[1, 1, 1, 1])
    >>> null_brier_score(y, y, [2.5]).tolist()     # KM 0.5 for all: (0.5)^2 each
    [0.25]
    """
    check_choice("null_model", null_model, _NULL_MODELS)
    t = _times(times)
    test = check_y_survival(test_y)
    km_data = test if null_model == "test" else check_y_survival(train_y)
    if np.any(t >= km_data[0].max()):
        raise ValueError(f"horizons {t[t >= km_data[0].max()].tolist()} are outside the "
                         f"follow-up of the {null_model} data used by the null model.")
    km = kaplan_meier(*km_data).survival_at(t)
    return brier_score(train_y, test_y, np.broadcast_to(km, (test[0].size, t.size)), t)


def ipa(train_y: Any, test_y: Any, surv_prob: Any, times: Any, *,
        null_model: str = "test") -> np.ndarray:
    """Index of prediction accuracy: ``1 - Brier(model) / Brier(null model)`` per horizon.

    Kattan & Gerds (Diagn Progn Res 2018;2:7): the Brier score scaled by that of the
    Kaplan-Meier null model (:func:`null_brier_score`); 0 = no better than ignoring
    the covariates, 1 = perfect, negative = harmful. This is ``riskRegression::Score(...,
    metrics = "brier", summary = "ipa", cens.model = "km", null.model = TRUE)``.

    Parameters
    ----------
    train_y, test_y : structured arrays
        Training outcome (for G) and evaluated outcome.
    surv_prob : array-like of shape (n_test, n_times)
        Predicted survival probability of each subject at each horizon.
    times : array-like of float
        Horizons, before the last follow-up time.
    null_model : {"test", "train"}, default "test"
        See :func:`null_brier_score`.

    Returns
    -------
    ndarray of shape (n_times,)

    Raises
    ------
    ValueError
        As :func:`brier_score`; or a null-model Brier score of 0 (no event and no
        censoring before the horizon: nothing to predict).

    Examples
    --------
    >>> from survrad.data.outcome import Surv
    >>> y = Surv.from_arrays(time=[1, 2, 3, 4], event=[1, 1, 1, 1])
    >>> ipa(y, y, [[0.0], [0.0], [1.0], [1.0]], [2.5]).tolist()   # perfect predictions
    [1.0]
    """
    model = brier_score(train_y, test_y, surv_prob, times)
    null = null_brier_score(train_y, test_y, times, null_model=null_model)
    if np.any(null <= 0):
        raise ValueError(f"the null model's Brier score is 0 at horizons "
                         f"{_times(times)[null <= 0].tolist()}: the index of prediction "
                         "accuracy is undefined there (no event before the horizon).")
    return 1.0 - model / null


_AUC_WEIGHTINGS = ("km", "trapezoid")


def integrated_auc(train_y: Any, test_y: Any, risk: Any, times: Any, *,
                   weighting: str = "km") -> float:
    """Summary of the time-dependent AUC over several horizons.

    * ``weighting="km"`` (default): scikit-survival's ``mean_auc`` of
      ``cumulative_dynamic_auc`` (Lambert & Chevret, Stat Methods Med Res 2016):
      ``sum_k AUC(t_k) (S(t_{k-1}) - S(t_k)) / (1 - S(t_K))`` with ``S`` the
      Kaplan-Meier curve of ``test_y`` and ``S(t_0) = 1``: each AUC is weighted by the
      share of events falling in its interval, so horizons where many events happen
      count most.
    * ``weighting="trapezoid"``: the trapezoid-rule mean of AUC(t) over
      ``[t_1, t_K]`` (as :func:`integrated_brier_score`).

    The AUCs are those of :func:`time_dependent_auc` (riskRegression's estimator); with
    the same AUC values the ``"km"`` weighting equals scikit-survival's ``mean_auc``
    exactly (``tests/test_utility_metrics.py``).

    Parameters
    ----------
    train_y, test_y, risk, times
        As :func:`time_dependent_auc`; at least two strictly increasing times.
    weighting : {"km", "trapezoid"}, default "km"

    Returns
    -------
    float

    Examples
    --------
    >>> from survrad.data.outcome import Surv
    >>> y = Surv.from_arrays(time=[1, 2, 3, 4, 5, 6], event=[1, 1, 0, 1, 0, 1])
    >>> integrated_auc(y, y, [6, 5, 4, 3, 2, 1], [2.5, 4.5])
    1.0
    """
    check_choice("weighting", weighting, _AUC_WEIGHTINGS)
    t = _times(times)
    if t.size < 2 or np.any(np.diff(t) <= 0):
        raise ValueError("integrated_auc needs at least two strictly increasing times, got "
                         f"{t.tolist()}.")
    auc = time_dependent_auc(train_y, test_y, risk, t)
    if weighting == "trapezoid":
        return float(np.sum(np.diff(t) * (auc[1:] + auc[:-1]) / 2) / (t[-1] - t[0]))
    return float(auc @ _km_interval_weights(test_y, t))


def _km_interval_weights(test_y: Any, times: np.ndarray) -> np.ndarray:
    """``(S(t_{k-1}) - S(t_k)) / (1 - S(t_K))``, ``S`` the Kaplan-Meier curve of ``test_y``."""
    surv = kaplan_meier(*check_y_survival(test_y)).survival_at(times)
    drop = -np.diff(np.concatenate([[1.0], surv]))
    if surv[-1] >= 1.0:
        raise ValueError("no event before the last horizon: the Kaplan-Meier weights of "
                         "integrated_auc are undefined.")
    return drop / (1.0 - surv[-1])


@dataclass(frozen=True, eq=False)
class SurvivalCalibration:
    """Calibration of predicted survival at one horizon (result of :func:`calibration`).

    Attributes
    ----------
    horizon : float
    group : ndarray of int
        1 = lowest predicted risk.
    n : ndarray of int
        Subjects per group.
    predicted : ndarray
        Mean predicted survival at the horizon, per group.
    observed, observed_lower, observed_upper : ndarray
        Kaplan-Meier survival at the horizon per group, with its log-scale confidence
        interval.
    slope : float
        Calibration slope (1 = ideal, < 1 = predictions too extreme).
    intercept : float
        Calibration-in-the-large on the log cumulative hazard scale (0 = ideal, > 0 =
        risk under-predicted).
    ci_level : float
        Level of the Kaplan-Meier intervals (``conf_level`` is its deprecated name).
    """

    horizon: float
    group: np.ndarray
    n: np.ndarray
    predicted: np.ndarray
    observed: np.ndarray
    observed_lower: np.ndarray
    observed_upper: np.ndarray
    slope: float
    intercept: float
    ci_level: float

    @property
    def conf_level(self) -> float:
        """Deprecated name of :attr:`ci_level` (one release)."""
        return deprecated_attribute(self, "conf_level", "ci_level")

    def to_frame(self) -> pd.DataFrame:
        """Per-group table: group, n, predicted, observed, observed_lower, observed_upper.

        Examples
        --------
        >>> from survrad.data.outcome import Surv
        >>> rng = np.random.default_rng(0)
        >>> y = Surv.from_arrays(time=rng.exponential(1.0, 40), event=np.ones(40))
        >>> cal = calibration(y, rng.uniform(0.2, 0.6, 40), horizon=0.7, n_groups=2)
        >>> cal.to_frame()["n"].tolist()
        [20, 20]
        """
        return pd.DataFrame({"group": self.group, "n": self.n, "predicted": self.predicted,
                             "observed": self.observed, "observed_lower": self.observed_lower,
                             "observed_upper": self.observed_upper})


def _cox_slope(time: np.ndarray, event: np.ndarray, x: np.ndarray) -> float:
    """Coefficient of a one-covariate Cox model (Efron ties)."""
    if not event.any():
        raise ValueError("no events: a calibration slope cannot be estimated.")
    if np.ptp(x) == 0:
        raise ValueError("the predictions are all equal: a calibration slope is undefined.")
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):   # diverging fits
        fit = cox_fit(x[:, None], time, event)
    if not fit.converged or not np.isfinite(fit.coef[0]):
        raise ValueError("the Cox model for the calibration slope did not converge "
                         "(predictions separate the outcomes perfectly?).")
    return float(fit.coef[0])


def calibration_slope_lp(test_y: Any, lp: Any) -> float:
    """Calibration slope: the coefficient of a Cox model of the outcome on ``lp``.

    This is the "Slope" of ``rms::validate`` (van Houwelingen 2000): 1 for a well
    calibrated linear predictor (exactly 1 in-sample for the Cox model that produced it);
    below 1 when predictions are too extreme (overfitting), the shrinkage factor of
    Harrell's bootstrap validation. Efron ties.

    Parameters
    ----------
    test_y : structured array
        Outcome.
    lp : array-like of shape (n,)
        Linear predictor (log hazard ratio scale).

    Returns
    -------
    float

    Examples
    --------
    >>> from survrad.data.outcome import Surv
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=500)
    >>> y = Surv.from_arrays(time=rng.exponential(np.exp(-lp)), event=np.ones(500))
    >>> round(calibration_slope_lp(y, 2 * lp), 1)
    0.5
    """
    t, e = check_y_survival(test_y)
    x = _scores(lp, t.size, "lp")
    return _cox_slope(t, e, x)


def _calibration_groups(pred: np.ndarray, n_groups: int) -> np.ndarray:
    """Near-equal groups by predicted risk (ties kept together), numbered from 1."""
    rank = stats.rankdata(-pred, method="min") - 1           # 0 = highest survival
    raw = (rank * n_groups) // pred.size
    return np.unique(raw, return_inverse=True)[1] + 1


def _observed_by_group(t: np.ndarray, e: np.ndarray, group: np.ndarray, horizon: float,
                       ci_level: float) -> np.ndarray:
    rows = []
    for g in np.unique(group):
        m = group == g
        try:
            rows.append(kaplan_meier(t[m], e[m], ci_level=ci_level)
                        .summary([horizon]).iloc[0][["survival", "lower", "upper"]])
        except ValueError as exc:
            raise ValueError(f"calibration group {g} (of {group.max()}): {exc} Use fewer "
                             "groups or an earlier horizon.") from None
    return np.asarray(rows, dtype=float)


def _cloglog_intercept(pred: np.ndarray, observed: float) -> float:
    if not 0 < observed < 1:
        raise ValueError(f"the Kaplan-Meier survival at the horizon is {observed:g}: a "
                         "calibration intercept needs it strictly between 0 and 1.")
    return float(optimize.brentq(lambda a: np.mean(pred ** np.exp(a)) - observed, -30, 30,
                                 xtol=1e-12))


def calibration(test_y: Any, surv_prob_at_horizon: Any, horizon: float, n_groups: int = 5,
                *, ci_level: float = 0.95, conf_level: float | None = None
                ) -> SurvivalCalibration:
    """Calibration of predicted survival at a horizon: groups, slope and intercept.

    * Groups: subjects split into ``n_groups`` near-equal groups by predicted risk; per
      group the mean predicted survival against the Kaplan-Meier estimate at the horizon.
    * Slope (van Houwelingen 2000; Crowson, Atkinson & Therneau 2016): the coefficient of
      a Cox model of the outcome, administratively censored at the horizon, on
      ``log(-log S_i(horizon))``, the predicted log cumulative hazard. Under proportional
      hazards it equals the slope on the linear predictor: 1 for a calibrated model,
      0.5 when the linear predictor is twice too large.
    * Intercept (calibration-in-the-large on the same scale): the ``a`` with
      ``mean_i S_i(horizon)^exp(a)`` equal to the Kaplan-Meier survival of all subjects at
      the horizon, i.e. the log of the factor by which every predicted cumulative hazard
      must be multiplied to match the observed survival. 0 for a calibrated model,
      ``log 2`` when every cumulative hazard is half the truth.

    Parameters
    ----------
    test_y : structured array
        Outcome.
    surv_prob_at_horizon : array-like of shape (n,)
        Predicted survival probability at ``horizon``, strictly between 0 and 1.
    horizon : float
        Within the follow-up of every group.
    n_groups : int, default 5
    ci_level : float, default 0.95
        Level of the Kaplan-Meier intervals.
    conf_level : float, optional
        Deprecated name of ``ci_level``, accepted for one release with a
        :class:`~survrad.exceptions.SurvradDeprecationWarning`.

    Returns
    -------
    SurvivalCalibration

    Examples
    --------
    >>> from survrad.data.outcome import Surv
    >>> rng = np.random.default_rng(1)
    >>> lp = rng.normal(size=2000)
    >>> y = Surv.from_arrays(time=rng.exponential(np.exp(-lp)), event=np.ones(2000))
    >>> cal = calibration(y, np.exp(-1.0 * np.exp(lp)), horizon=1.0)
    >>> round(cal.slope, 1), abs(round(cal.intercept, 1))
    (1.0, 0.0)
    """
    ci_level = renamed_argument("calibration", "conf_level", conf_level, "ci_level", ci_level)
    t, e = check_y_survival(test_y)
    s = _scores(surv_prob_at_horizon, t.size, "surv_prob_at_horizon", low=0.0, high=1.0)
    extreme = (s <= 0) | (s >= 1)
    if extreme.any():
        raise ValueError(f"{int(extreme.sum())} predicted survival probabilities are exactly "
                         "0 or 1: the calibration slope needs them strictly between 0 and 1.")
    horizon = float(_times([horizon])[0])
    if not 1 <= n_groups <= t.size:
        raise ValueError(f"n_groups must be between 1 and {t.size}, got {n_groups}.")
    group = _calibration_groups(s, int(n_groups))
    obs = _observed_by_group(t, e, group, horizon, ci_level)
    labels = np.unique(group)
    km_all = float(kaplan_meier(t, e).summary([horizon])["survival"].iloc[0])
    slope = _cox_slope(np.minimum(t, horizon), e & (t <= horizon), np.log(-np.log(s)))
    return SurvivalCalibration(
        horizon=horizon, group=labels, n=np.bincount(group)[labels],
        predicted=np.array([s[group == g].mean() for g in labels]),
        observed=obs[:, 0], observed_lower=obs[:, 1], observed_upper=obs[:, 2],
        slope=slope, intercept=_cloglog_intercept(s, km_all), ci_level=ci_level)


# ----------------------------------------------------------------------- binary
def _binary_inputs(y: Any, prob: Any) -> tuple[np.ndarray, np.ndarray]:
    """The validated 0/1 outcome (int) and probabilities of the binary metrics.

    The private ``_roc_auc``, ``_brier_binary`` and ``_calibration_slope_binary`` take
    their result, so a caller scoring several metrics validates once.
    """
    target = check_binary(y)
    return target, _scores(prob, target.size, "prob", low=0.0, high=1.0)


def roc_auc(y: Any, prob: Any) -> float:
    """Area under the ROC curve of a binary outcome (``sklearn.metrics.roc_auc_score``).

    Computed as the Mann-Whitney statistic: the share of (case, control) pairs in which
    the case has the higher score, ties counting 1/2 (equal to scikit-learn's value to
    ~1e-16, ``tests/test_fast_metrics.py``).

    Parameters
    ----------
    y : array-like of shape (n,)
        0/1 outcome with both classes present.
    prob : array-like of shape (n,)
        Predicted probability (or any score) of class 1.

    Returns
    -------
    float

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    return _roc_auc(*_binary_inputs(y, prob))


def _roc_auc(target: np.ndarray, p: np.ndarray) -> float:
    """Mann-Whitney AUC of validated inputs: the share of (case, control) pairs ranked
    right, ties counting 1/2 (the sum of half-integers is exact, so this is the
    correctly rounded AUC; ``roc_auc_score``'s trapezoids agree to ~1e-16)."""
    case = target == 1
    ranks = _pair_ranks(p[case], np.sort(p[~case]))
    return float(ranks.sum() / (ranks.size * (target.size - ranks.size)))


def brier_binary(y: Any, prob: Any) -> float:
    """Brier score of predicted probabilities: ``mean((prob - y)^2)``.

    Parameters
    ----------
    y : array-like of shape (n,)
        0/1 outcome.
    prob : array-like of shape (n,)
        Predicted probability of class 1, in [0, 1].

    Returns
    -------
    float

    Examples
    --------
    >>> brier_binary([0, 1, 1, 0], [0.0, 1.0, 0.5, 0.5])
    0.125
    """
    return _brier_binary(*_binary_inputs(y, prob))


def _brier_binary(target: np.ndarray, p: np.ndarray) -> float:
    """``mean((p - y)^2)`` of validated inputs (``brier_score_loss`` to ~1e-17)."""
    return float(np.mean((p - target) ** 2))


def calibration_slope_binary(y: Any, prob: Any) -> float:
    """Calibration slope: logistic regression of ``y`` on ``logit(prob)`` (Cox 1958).

    1 for calibrated probabilities; below 1 when they are too extreme (overfitting).
    Fitted by the IRLS iterations of statsmodels' unpenalised binomial GLM, in numpy
    (:func:`_logistic_irls`).

    Parameters
    ----------
    y : array-like of shape (n,)
        0/1 outcome with both classes present.
    prob : array-like of shape (n,)
        Predicted probability of class 1, strictly between 0 and 1.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Probabilities of exactly 0 or 1, perfect separation or non-convergence.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> logit = rng.normal(size=5000)
    >>> y = (rng.random(5000) < 1 / (1 + np.exp(-logit))).astype(int)
    >>> round(calibration_slope_binary(y, 1 / (1 + np.exp(-2 * logit))), 1)
    0.5
    """
    return _calibration_slope_binary(*_binary_inputs(y, prob))


def _calibration_slope_binary(target: np.ndarray, p: np.ndarray) -> float:
    """:func:`calibration_slope_binary` of validated inputs."""
    if np.any((p <= 0) | (p >= 1)):
        raise ValueError("prob must be strictly between 0 and 1 for a calibration slope "
                         f"({int(np.sum((p <= 0) | (p >= 1)))} values are 0 or 1).")
    x = np.log(p / (1 - p))
    if np.ptp(x) == 0:
        raise ValueError("the predicted probabilities are all equal: a calibration slope "
                         "is undefined.")
    return float(_logistic_irls(target, x[:, None])[1])


_EPS = np.finfo(float).eps
_SEPARATION = "Perfect separation or prediction detected, parameter may not be identified"


def _logistic_irls(target: np.ndarray, exog: np.ndarray, *, maxiter: int = 100,
                   tol: float = 1e-8) -> np.ndarray:
    """Parameters (intercept first) of :func:`_logistic_fit`, without statsmodels.

    The same iterations as ``sm.GLM(target, add_constant(exog), Binomial()).fit()``:
    start at ``mu = (y + 0.5) / 2``, weighted least squares (``lstsq``) on the working
    response with the clipped logit derivative and variance, stop when the deviance
    changes by at most ``tol``, final parameters by ``pinv`` on the last weights. The
    parameters agree with statsmodels' to rounding (``tests/test_fast_metrics.py``); a
    fit that does not converge or detects perfect separation is the same ``ValueError``.

    Examples
    --------
    >>> _logistic_irls(np.array([0, 0, 1, 0, 1, 1]),
    ...                np.array([[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]])).round(4).tolist()
    [-4.2491, 1.214]
    """
    y = np.asarray(target, dtype=float)
    X = np.column_stack([np.ones(y.size), exog])
    mu = (y + 0.5) / 2
    c = np.clip(mu, _EPS, 1 - _EPS)
    eta = np.log(c / (1.0 - c))
    dev = _binomial_deviance(y, mu)
    separated, converged = 0, False
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        for _ in range(maxiter):
            c = np.clip(mu, _EPS, 1 - _EPS)
            deriv = 1.0 / (c * (1 - c))
            w = 1.0 / (deriv ** 2 * (c * (1 - c)))
            z = eta + deriv * (y - mu)
            sw = np.sqrt(w)
            if not np.all(np.isfinite(sw)) or not np.all(np.isfinite(z)):
                bad = "weights" if not np.all(np.isfinite(sw)) else "endog"
                raise ValueError(f"NaN, inf or invalid value detected in {bad}, estimation "
                                 "infeasible.")
            wX, wz = sw[:, None] * X, sw * z
            beta = np.linalg.lstsq(wX, wz, rcond=-1)[0]
            eta = X @ beta
            mu = 1.0 / (1.0 + np.exp(-eta))
            new = _binomial_deviance(y, mu)
            separated += bool(np.allclose(mu - y, 0))
            converged = bool(np.allclose(dev, new, atol=tol, rtol=0.0))
            dev = new
            if converged:
                break
        u, sv, vt = np.linalg.svd(wX, full_matrices=False)   # statsmodels' pinv_extended
        inv = np.where(sv > 1e-15 * sv.max(), 1.0 / sv, 0.0)
        params = np.dot(np.dot(vt.T, inv[:, None] * u.T), wz)
    if separated or not converged or not np.all(np.isfinite(params)):
        trouble = "; ".join([_SEPARATION] * separated) or "no convergence"
        raise ValueError("the logistic calibration model did not converge (perfect "
                         f"separation?): {trouble}.")
    return params


def _binomial_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    """statsmodels' ``Binomial().deviance`` (its clipping and 1e-20 guards)."""
    endog_mu = np.clip(y / (mu + 1e-20), _EPS, np.inf)
    n_endog_mu = np.clip((1.0 - y) / (1.0 - mu + 1e-20), _EPS, np.inf)
    return float(np.sum(2 * (y * np.log(endog_mu) + (1 - y) * np.log(n_endog_mu))))


def _logistic_fit(target: np.ndarray, exog: np.ndarray) -> Any:
    """Unpenalised logistic regression of ``target`` on ``exog`` plus an intercept.

    statsmodels' binomial GLM (IRLS); a fit that does not converge or hits separation is
    a ``ValueError`` (a failed metric), not a warning.

    Parameters
    ----------
    target : ndarray of 0/1 (n,)
    exog : ndarray (n, p)
        Without the intercept column.

    Returns
    -------
    statsmodels GLMResults
        ``params`` (intercept first) and ``fittedvalues`` (probabilities).

    Examples
    --------
    >>> res = _logistic_fit(np.array([0, 0, 1, 0, 1, 1]),
    ...                     np.array([[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]]))
    >>> res.params.size
    2
    """
    import statsmodels.api as sm

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sm.GLM(target, sm.add_constant(exog, has_constant="add"),
                     family=sm.families.Binomial()).fit()
    trouble = [str(w.message) for w in caught if "separation" in str(w.message).lower()
               or "converge" in str(w.message).lower()]
    if trouble or not res.converged or not np.all(np.isfinite(res.params)):
        raise ValueError("the logistic calibration model did not converge (perfect "
                         f"separation?): {'; '.join(trouble) or 'no convergence'}.")
    return res

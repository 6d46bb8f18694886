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

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from survrad._math.coxph import cox_fit
from survrad._validation import check_choice, deprecated_attribute, renamed_argument
from survrad.data.outcome import check_binary, check_y_survival
from survrad.evaluation.nonparametric import censoring_survival, kaplan_meier
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


def _check_horizons(times: np.ndarray, test: tuple[np.ndarray, np.ndarray],
                    train: tuple[np.ndarray, np.ndarray], *, need_cases: bool) -> np.ndarray:
    """Refuse horizons outside the follow-up; return ``G(t)`` from the training data."""
    t_test, e_test = test
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
    g = censoring_survival(*train, times)
    if np.any(g <= 0):
        raise ValueError(
            f"the censoring survival of the training data is 0 at horizons "
            f"{times[g <= 0].tolist()}: those horizons are beyond the training follow-up.")
    return g


def _case_weights(train: tuple, test: tuple) -> np.ndarray:
    """``1 / G(T_i-)`` for every evaluated subject with an event (0 otherwise).

    The weight of a case does not depend on the horizon, so it is computed once per call
    for all horizons. ``G(T_i-)`` is 0 only for an event after the training follow-up,
    which is never a case: the horizons are checked to have ``G(t) > 0``.
    """
    t, e = test
    g = censoring_survival(*train, t[e], left=True)
    w = np.zeros(t.size)
    w[e] = np.divide(1.0, g, out=np.full(g.shape, np.inf), where=g > 0)
    return w


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
    train, test = check_y_survival(train_y), check_y_survival(test_y)
    r = _scores(risk, test[0].size, "risk")
    t = _times(times)
    g = _check_horizons(t, test, train, need_cases=True)
    w_events = _case_weights(train, test)
    out = np.empty(t.size)
    for k, (h, gh) in enumerate(zip(t, g, strict=True)):
        cases, controls, w = _ipcw(test, h, gh, w_events)
        ctrl = np.sort(r[controls])
        below = np.searchsorted(ctrl, r[cases], side="left")
        tied = np.searchsorted(ctrl, r[cases], side="right") - below
        out[k] = w[cases] @ (below + 0.5 * tied) / (w[cases].sum() * ctrl.size)
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
    train, test = check_y_survival(train_y), check_y_survival(test_y)
    t = _times(times)
    s = _scores(surv_prob, test[0].size, "surv_prob", low=0.0, high=1.0, ndim=2)
    if s.shape[1] != t.size:
        raise SchemaError(f"surv_prob has {s.shape[1]} columns but there are {t.size} "
                          "horizons; give one column per horizon.")
    g = _check_horizons(t, test, train, need_cases=False)
    w_events = _case_weights(train, test)
    out = np.empty(t.size)
    for k, (h, gh) in enumerate(zip(t, g, strict=True)):
        cases, _, w = _ipcw(test, h, gh, w_events)
        out[k] = np.mean(w * np.where(cases, s[:, k] ** 2, (1.0 - s[:, k]) ** 2))
    return out


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
    t = _times(times)
    if t.size < 2 or np.any(np.diff(t) <= 0):
        raise ValueError("integrated_brier_score needs at least two strictly increasing "
                         f"times, got {t.tolist()}.")
    bs = brier_score(train_y, test_y, surv_prob, t)
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
def _binary_inputs(y: Any, prob: Any, *, open_interval: bool = False
                   ) -> tuple[np.ndarray, np.ndarray]:
    target = check_binary(y)
    p = _scores(prob, target.size, "prob", low=0.0, high=1.0)
    if open_interval and np.any((p <= 0) | (p >= 1)):
        raise ValueError("prob must be strictly between 0 and 1 for a calibration slope "
                         f"({int(np.sum((p <= 0) | (p >= 1)))} values are 0 or 1).")
    return target, p


def roc_auc(y: Any, prob: Any) -> float:
    """Area under the ROC curve of a binary outcome (``sklearn.metrics.roc_auc_score``).

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
    from sklearn.metrics import roc_auc_score

    target, p = _binary_inputs(y, prob)
    return float(roc_auc_score(target, p))


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
    from sklearn.metrics import brier_score_loss

    target, p = _binary_inputs(y, prob)
    return float(brier_score_loss(target, p))


def calibration_slope_binary(y: Any, prob: Any) -> float:
    """Calibration slope: logistic regression of ``y`` on ``logit(prob)`` (Cox 1958).

    1 for calibrated probabilities; below 1 when they are too extreme (overfitting).
    Fitted by statsmodels' unpenalised binomial GLM.

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
    target, p = _binary_inputs(y, prob, open_interval=True)
    x = np.log(p / (1 - p))
    if np.ptp(x) == 0:
        raise ValueError("the predicted probabilities are all equal: a calibration slope "
                         "is undefined.")
    return float(_logistic_fit(target, x[:, None]).params[1])


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

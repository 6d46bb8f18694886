"""Kaplan-Meier, log-rank test and restricted mean survival time, as R's ``survival``.

* :func:`kaplan_meier`: ``survfit(Surv(time, event) ~ 1)`` with Greenwood variance and
  ``conf.type = "log"`` (default), ``"log-log"`` or ``"plain"``; the median and its
  confidence interval as ``print.survfit`` computes them.
* :func:`logrank_test`: ``survdiff(Surv(time, event) ~ group)``.
* :func:`rmst`: the restricted mean of ``print(survfit(...), rmean = tau)`` and its
  standard error.
* :func:`censoring_survival`: the Kaplan-Meier curve of the censoring distribution, the
  ``G`` of inverse-probability-of-censoring weights.

Results are frozen dataclasses of unrounded numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from survrad._validation import (
    check_choice,
    check_fraction,
    deprecated_attribute,
    renamed_argument,
)
from survrad.data.outcome import check_event, check_time
from survrad.exceptions import SchemaError

__all__ = [
    "KaplanMeier",
    "LogRankResult",
    "MedianSurvival",
    "RMSTResult",
    "censoring_survival",
    "kaplan_meier",
    "logrank_test",
    "rmst",
]

_CONF_TYPES = ("log", "log-log", "plain")
_TOL = np.sqrt(np.finfo(float).eps)   # R's all.equal tolerance, used by print.survfit


def _as_time(time: Any, ids: list | None = None) -> np.ndarray:
    return check_time(time, ids=ids)


def _as_event(event: Any, ids: list | None = None) -> np.ndarray:
    return check_event(event, ids=ids)


def _check_pair(time: Any, event: Any) -> tuple[np.ndarray, np.ndarray]:
    t = _as_time(time)
    e = _as_event(event)
    if t.shape != e.shape:
        raise SchemaError(f"time and event differ in length: {t.size} vs {e.size}.")
    if t.size == 0:
        raise SchemaError("no observations: time and event are empty.")
    return t, e


def _km_table(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, ...]:
    """Unique times (events and censorings), n at risk, n events, n censored, survival."""
    utime, inverse, count = np.unique(time, return_inverse=True, return_counts=True)
    n_event = np.bincount(inverse, weights=event.astype(float), minlength=utime.size)
    n_event = n_event.astype(np.int64)
    n_risk = time.size - np.concatenate([[0], np.cumsum(count)[:-1]])
    surv = np.cumprod(1.0 - n_event / n_risk)
    return utime, n_risk, n_event, count - n_event, surv


@dataclass(frozen=True)
class MedianSurvival:
    """Median survival time and its confidence interval (NaN when not reached)."""

    median: float
    lower: float
    upper: float
    ci_level: float

    @property
    def conf_level(self) -> float:
        """Deprecated name of :attr:`ci_level` (one release)."""
        return deprecated_attribute(self, "conf_level", "ci_level")


@dataclass(frozen=True, eq=False)
class KaplanMeier:
    """A Kaplan-Meier curve (result of :func:`kaplan_meier`).

    Attributes
    ----------
    time : ndarray
        Every distinct observed time (events and censorings), as R's ``survfit``.
    n_risk, n_event, n_censor : ndarray of int
        At risk just before, events at, and censorings at each time.
    survival : ndarray
        S(t) just after each time.
    std_err : ndarray
        Greenwood standard error of S(t) (``summary.survfit``'s ``std.err``).
    lower, upper : ndarray
        Pointwise confidence limits (NaN where S(t) = 0, as R).
    ci_level : float
        Level of the pointwise intervals (``conf_level`` is its deprecated name).
    conf_type : str
        Scale of the intervals (R's ``conf.type``).
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    survival: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    ci_level: float
    conf_type: str

    @property
    def conf_level(self) -> float:
        """Deprecated name of :attr:`ci_level` (one release)."""
        return deprecated_attribute(self, "conf_level", "ci_level")

    def _index(self, times: Any) -> tuple[np.ndarray, np.ndarray]:
        t = np.atleast_1d(np.asarray(times, dtype=float))
        if t.ndim != 1 or not np.all(np.isfinite(t)):
            raise ValueError(f"times must be a 1-D array of finite numbers, got {times!r}.")
        beyond = t > self.time[-1]
        if beyond.any() and self.survival[-1] > 0:
            raise ValueError(
                f"times {t[beyond].tolist()} are beyond the last follow-up time "
                f"({self.time[-1]:g}) of a curve that has not reached 0: the survival "
                "there is unknown. Use times within the follow-up.")
        return t, np.searchsorted(self.time, t, side="right") - 1

    def survival_at(self, times: Any) -> np.ndarray:
        """S(t) at ``times`` (1 before the first time; 0 after a curve that reached 0).

        Examples
        --------
        >>> km = kaplan_meier([1, 2, 3, 4], [1, 0, 1, 1])
        >>> km.survival_at([0.5, 1, 2.5]).round(3).tolist()
        [1.0, 0.75, 0.75]
        """
        _, idx = self._index(times)
        return np.where(idx >= 0, self.survival[np.maximum(idx, 0)], 1.0)

    def n_risk_at(self, times: Any) -> np.ndarray:
        """Number at risk at ``times`` (observed time >= t), as in a numbers-at-risk table.

        Examples
        --------
        >>> kaplan_meier([1, 2, 3, 4], [1, 0, 1, 1]).n_risk_at([0, 2, 5]).tolist()
        [4, 3, 0]
        """
        t = np.atleast_1d(np.asarray(times, dtype=float))
        n_risk = np.concatenate([self.n_risk, [0]])
        return n_risk[np.searchsorted(self.time, t, side="left")].astype(np.int64)

    def summary(self, times: Any) -> pd.DataFrame:
        """R's ``summary(survfit, times = times)``: one row per requested time.

        ``n_event`` counts the events since the previous requested time, as R does.

        Examples
        --------
        >>> kaplan_meier([1, 2, 3, 4], [1, 0, 1, 1]).summary([2, 4])["n_event"].tolist()
        [1, 2]
        """
        t, idx = self._index(times)
        if np.any(np.diff(t) < 0):
            raise ValueError("times must be increasing.")
        pick = np.maximum(idx, 0)
        before = idx < 0
        cum_events = np.where(before, 0, np.cumsum(self.n_event)[pick])
        return pd.DataFrame({
            "time": t,
            "n_risk": self.n_risk_at(t),
            "n_event": np.diff(np.concatenate([[0], cum_events])).astype(np.int64),
            "survival": np.where(before, 1.0, self.survival[pick]),
            "std_err": np.where(before, 0.0, self.std_err[pick]),
            "lower": np.where(before, 1.0, self.lower[pick]),
            "upper": np.where(before, 1.0, self.upper[pick]),
        })

    def median(self) -> MedianSurvival:
        """Median survival and its confidence interval, as R's ``print.survfit``.

        The median is the first time the curve is <= 0.5 (the midpoint to the next drop when
        it sits exactly at 0.5); the limits are where the upper and lower confidence curves
        cross 0.5 (Brookmeyer-Crowley style, as R).

        Examples
        --------
        >>> kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1]).median().median
        2.5
        """
        return MedianSurvival(median=_first_below_half(self.survival, self.time),
                              lower=_first_below_half(self.lower, self.time),
                              upper=_first_below_half(self.upper, self.time),
                              ci_level=self.ci_level)

    def to_frame(self) -> pd.DataFrame:
        """The curve as a DataFrame, one row per distinct time.

        Examples
        --------
        >>> kaplan_meier([1, 2, 2], [1, 1, 0]).to_frame()["n_risk"].tolist()
        [3, 2]
        """
        return pd.DataFrame({"time": self.time, "n_risk": self.n_risk,
                             "n_event": self.n_event, "n_censor": self.n_censor,
                             "survival": self.survival, "std_err": self.std_err,
                             "lower": self.lower, "upper": self.upper})


def _first_below_half(y: np.ndarray, x: np.ndarray) -> float:
    """R's ``minmin`` (print.survfit): the x where y first drops to 0.5 or below."""
    keep = ~np.isnan(y) & (y < 0.5 + _TOL)
    if not keep.any():
        return float("nan")
    xk, yk = x[keep], y[keep]
    lower = np.flatnonzero(yk < yk[0])
    if abs(yk[0] - 0.5) < _TOL and lower.size:
        return float((xk[0] + xk[lower[0]]) / 2)
    return float(xk[0])


def _confidence_limits(surv: np.ndarray, se_log: np.ndarray, z: float,
                       conf_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise limits as R's ``survfit`` (``se_log`` is the SE of log S)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "log":
            lower = np.exp(np.log(surv) - z * se_log)
            upper = np.minimum(np.exp(np.log(surv) + z * se_log), 1.0)
        elif conf_type == "log-log":
            se_ll = np.where((surv == 0) | (surv == 1), np.nan, se_log / np.log(surv))
            lower = np.exp(-np.exp(np.log(-np.log(surv)) - z * se_ll))
            upper = np.exp(-np.exp(np.log(-np.log(surv)) + z * se_ll))
            lower = np.where(surv == 1, 1.0, lower)
            upper = np.where(surv == 1, 1.0, upper)
        else:
            lower = np.maximum(surv - z * se_log * surv, 0.0)
            upper = np.minimum(surv + z * se_log * surv, 1.0)
    zero = surv == 0
    return np.where(zero, np.nan, lower), np.where(zero, np.nan, upper)


def kaplan_meier(time: Any, event: Any, *, ci_level: float = 0.95, conf_type: str = "log",
                 conf_level: float | None = None) -> KaplanMeier:
    """Kaplan-Meier estimate with Greenwood variance, as R's ``survfit``.

    Parameters
    ----------
    time : array-like of shape (n,)
        Follow-up times (>= 0).
    event : array-like of shape (n,)
        1 = event, 0 = censored (booleans accepted; 1/2 coding is refused).
    ci_level : float, default 0.95
        Level of the pointwise intervals (R's ``conf.int``).
    conf_type : {"log", "log-log", "plain"}, default "log"
        Scale of the pointwise intervals (R's ``conf.type``).
    conf_level : float, optional
        Deprecated name of ``ci_level``, accepted for one release with a
        :class:`~survrad.exceptions.SurvradDeprecationWarning`.

    Returns
    -------
    KaplanMeier

    Examples
    --------
    >>> km = kaplan_meier([5, 8, 8, 12, 20], [1, 1, 0, 1, 0])
    >>> km.survival.round(3).tolist()
    [0.8, 0.6, 0.3, 0.3]
    >>> km.median().median
    12.0
    """
    t, e = _check_pair(time, event)
    ci_level = renamed_argument("kaplan_meier", "conf_level", conf_level, "ci_level", ci_level)
    ci_level = check_fraction("ci_level", ci_level)
    conf_type = check_choice("conf_type", conf_type, _CONF_TYPES)
    utime, n_risk, n_event, n_censor, surv = _km_table(t, e)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    se_log = np.sqrt(np.cumsum(terms))
    z = float(stats.norm.ppf(1 - (1 - ci_level) / 2))
    lower, upper = _confidence_limits(surv, se_log, z, conf_type)
    with np.errstate(invalid="ignore"):
        std_err = se_log * surv
    return KaplanMeier(time=utime, n_risk=n_risk, n_event=n_event, n_censor=n_censor,
                       survival=surv, std_err=std_err, lower=lower, upper=upper,
                       ci_level=ci_level, conf_type=conf_type)


def censoring_survival(time: Any, event: Any, at: Any, *, left: bool = False) -> np.ndarray:
    """Kaplan-Meier survival of the censoring distribution, ``G``, at ``at``.

    Censorings are the "events" of this curve. At a time with both events and
    censorings the censorings are taken to happen just after the events, so the risk set
    of a censoring excludes the events at its time: ``G`` drops by the factor
    ``1 - c(t) / (n(t) - d(t))``. This is the reverse Kaplan-Meier of R's
    ``concordance`` (``fastkm.c``) and of ``prodlim(..., reverse = TRUE)`` used by
    ``riskRegression``. With ``left=True`` the left limit ``G(t-)`` is returned (the
    weight of a subject whose event is at ``t``).

    Parameters
    ----------
    time, event : array-like of shape (n,)
        The data the censoring model is estimated on (usually the training data).
    at : array-like
        Times at which to evaluate G.
    left : bool, default False

    Returns
    -------
    ndarray

    Examples
    --------
    >>> censoring_survival([1, 2, 3, 4], [1, 0, 1, 0], [2, 3], left=True).round(4).tolist()
    [1.0, 0.6667]
    >>> censoring_survival([1, 1, 2], [1, 0, 1], [1, 2]).tolist()   # censoring after the event
    [0.5, 0.5]
    """
    return _censoring_at(_censoring_curve(*_check_pair(time, event)), at, left=left)


def _censoring_curve(t: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(unique times, G at them)`` of validated data: the curve of :func:`censoring_survival`.

    Callers that evaluate ``G`` of the same data many times compute it once.
    """
    utime, n_risk, n_event, n_censor, _ = _km_table(t, e)
    left_after_events = n_risk - n_event
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = np.where(n_censor > 0, n_censor / left_after_events, 0.0)
    return utime, np.cumprod(1.0 - drop)


def _censoring_at(curve: tuple[np.ndarray, np.ndarray], at: Any, *, left: bool = False
                  ) -> np.ndarray:
    """``G`` (or ``G(t-)``) of a :func:`_censoring_curve` at ``at``."""
    utime, g = curve
    q = np.asarray(at, dtype=float)
    idx = np.searchsorted(utime, q, side="left" if left else "right") - 1
    return np.where(idx >= 0, g[np.maximum(idx, 0)], 1.0)


@dataclass(frozen=True, eq=False)
class LogRankResult:
    """Result of :func:`logrank_test` (R's ``survdiff``).

    Attributes
    ----------
    chisq, df, p : float
    groups : tuple
        Group labels, sorted.
    n, observed, expected : ndarray
        Per group: subjects, observed and expected events.
    """

    chisq: float
    df: int
    p: float
    groups: tuple
    n: np.ndarray
    observed: np.ndarray
    expected: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """Per-group table: group, n, observed, expected.

        Examples
        --------
        >>> res = logrank_test([1, 2, 3, 4], [1, 1, 1, 1], ["a", "b", "a", "b"])
        >>> res.to_frame()["observed"].tolist()
        [2.0, 2.0]
        """
        return pd.DataFrame({"group": list(self.groups), "n": self.n,
                             "observed": self.observed, "expected": self.expected})


def _group_codes(group: Any, n: int) -> tuple[np.ndarray, tuple]:
    g = pd.Series(np.asarray(group, dtype=object).ravel())
    if g.size != n:
        raise SchemaError(f"group has {g.size} values but time has {n}.")
    missing = g.isna().to_numpy()
    if missing.any():
        raise SchemaError("group is missing for some subjects.",
                          ids=[f"row {i + 1}" for i in np.flatnonzero(missing)])
    cat = pd.Categorical(g)
    if len(cat.categories) < 2:
        raise SchemaError(f"the log-rank test needs at least 2 groups; got "
                          f"{list(cat.categories)}.")
    return np.asarray(cat.codes, dtype=np.intp), tuple(cat.categories)


def logrank_test(time: Any, event: Any, group: Any) -> LogRankResult:
    """Log-rank test of equal survival across groups, as R's ``survdiff``.

    Parameters
    ----------
    time, event : array-like of shape (n,)
    group : array-like of shape (n,)
        Group labels (any sortable values), at least two distinct.

    Returns
    -------
    LogRankResult

    Examples
    --------
    >>> res = logrank_test([1, 2, 3, 4, 5, 6], [1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1])
    >>> round(res.chisq, 4), res.df
    (5.0517, 1)
    """
    t, e = _check_pair(time, event)
    codes, labels = _group_codes(group, t.size)
    k = len(labels)
    etimes = np.unique(t[e])
    # at risk per group and time: count of that group's times >= each event time
    at_risk = np.stack([t[codes == g].size - np.searchsorted(np.sort(t[codes == g]), etimes)
                        for g in range(k)], axis=1).astype(float)
    deaths = np.zeros((etimes.size, k))
    np.add.at(deaths, (np.searchsorted(etimes, t[e]), codes[e]), 1.0)
    n_t = at_risk.sum(axis=1)
    d_t = deaths.sum(axis=1)
    frac = at_risk / n_t[:, None]
    expected = (d_t[:, None] * frac).sum(axis=0)
    observed = deaths.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(n_t > 1, d_t * (n_t - d_t) / (n_t - 1), 0.0)
    var = np.einsum("t,tg,th->gh", scale, frac, -frac)
    var[np.diag_indices(k)] += (scale[:, None] * frac).sum(axis=0)
    keep = np.flatnonzero(expected > 0)
    df = keep.size - 1
    if df < 1:
        chisq = 0.0
    else:
        diff = (observed - expected)[keep][1:]
        chisq = float(diff @ np.linalg.solve(var[np.ix_(keep, keep)][1:, 1:], diff))
    return LogRankResult(chisq=chisq, df=int(df), p=float(stats.chi2.sf(chisq, max(df, 1))),
                         groups=labels, n=np.bincount(codes, minlength=k),
                         observed=observed, expected=expected)


@dataclass(frozen=True)
class RMSTResult:
    """Restricted mean survival time up to ``tau`` and its standard error."""

    rmst: float
    se: float
    tau: float


def rmst(time: Any, event: Any, tau: float) -> RMSTResult:
    """Restricted mean survival time: the area under the Kaplan-Meier curve up to ``tau``.

    Matches ``print(survfit(Surv(time, event) ~ 1), rmean = tau)``: the standard error is
    ``sqrt(sum_i A_i^2 d_i / (n_i (n_i - d_i)))`` with ``A_i`` the area under the curve
    from the i-th time to ``tau`` (Miller 1981, as R's ``survmean``).

    Parameters
    ----------
    time, event : array-like of shape (n,)
    tau : float
        Upper limit of integration, > 0 and not beyond the last follow-up time.

    Returns
    -------
    RMSTResult

    Examples
    --------
    >>> r = rmst([2, 4, 6, 8], [1, 1, 1, 1], tau=5)
    >>> r.rmst   # 2 * 1 + 2 * 0.75 + 1 * 0.5
    4.0
    """
    t, e = _check_pair(time, event)
    tau = float(tau)
    if not np.isfinite(tau) or tau <= 0:
        raise ValueError(f"tau must be a positive finite number, got {tau}.")
    if tau > t.max():
        raise ValueError(f"tau = {tau:g} is beyond the last follow-up time ({t.max():g}): "
                         "the curve is unknown there. Choose tau within the follow-up.")
    utime, n_risk, n_event, _, surv = _km_table(t, e)
    keep = utime <= tau
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where(n_risk - n_event == 0, 0.0, n_event / (n_risk * (n_risk - n_event)))
    grid = np.concatenate([utime[keep], [tau]])
    height = np.concatenate([[1.0], surv[keep]])            # S on [grid[i-1], grid[i])
    rect = np.diff(np.concatenate([[0.0], grid])) * height
    area_after = np.cumsum(rect[::-1])[::-1][1:]             # area from time_i to tau
    var = float(np.sum(area_after**2 * hh[keep]))
    return RMSTResult(rmst=float(rect.sum()), se=float(np.sqrt(var)), tau=tau)

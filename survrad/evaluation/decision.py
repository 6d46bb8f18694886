"""Decision curve analysis: net benefit of treating patients above a risk threshold (layer 5).

Vickers & Elkin (Med Decis Making 2006;26:565) for a binary outcome and Vickers, Cronin,
Elkin & Gonen (BMC Med Inform Decis Mak 2008;8:53) for survival at a horizon. At a
threshold probability ``pt`` the patients with predicted risk ``>= pt`` are treated
("test positive"); treating a patient who turns out not to have the event costs
``pt / (1 - pt)`` of the benefit of treating one who does:

* binary outcome: ``NB(pt) = TP / n - FP / n * pt / (1 - pt)``;
* survival at ``horizon``: with ``P = #positives / n`` and ``S+`` the Kaplan-Meier survival
  of the positives at the horizon, ``TP / n = (1 - S+) P`` and ``FP / n = S+ P``;
* treat all: the same with everyone positive (event rate ``pi``, the prevalence or the
  Kaplan-Meier risk of all patients at the horizon): ``pi - (1 - pi) pt / (1 - pt)``;
* treat none: 0.

This equals the Python ``dcurves`` package (``dca``) to 1e-12 on its bundled binary and
survival data and on the lung data (``tests/test_decision_curve.py``). Two edge
conventions differ from ``dcurves``: a predicted risk of exactly 0 counts as positive at
threshold 0 here (``dcurves`` moves risks of 0 and 1 by machine epsilon so that nobody
with a risk of 0 is treated at ``pt = 0``), and for survival the net benefit is NaN only
when the positives' follow-up ends before the horizon while their Kaplan-Meier curve is
still above 0 (``dcurves`` gives NaN whenever their last time is before the horizon, even
when every positive has had the event, so that their risk is known to be 1).

:func:`net_benefit` is the model's net benefit alone (one value per threshold), the
quantity a bootstrap engine recomputes on resamples to optimism-correct the curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from survrad.data.outcome import check_binary, check_y_survival
from survrad.evaluation.nonparametric import _km_table
from survrad.exceptions import SchemaError

__all__ = ["DecisionCurve", "NetBenefitPoint", "decision_curve", "net_benefit"]


@dataclass(frozen=True)
class NetBenefitPoint:
    """Net benefit at one threshold: a typed record for storage (threshold as a field).

    Attributes
    ----------
    threshold : float
    net_benefit, treat_all, treat_none : float
        Of the model, of treating everyone, of treating no one (0).
    n_above : int
        Patients with predicted risk >= threshold.
    """

    threshold: float
    net_benefit: float
    treat_all: float
    treat_none: float
    n_above: int


@dataclass(frozen=True, eq=False)
class DecisionCurve:
    """A decision curve (result of :func:`decision_curve`).

    Attributes
    ----------
    thresholds : ndarray
        Threshold probabilities, in the order given.
    net_benefit : ndarray
        Net benefit of the model (NaN where undefined: see the module docstring).
    treat_all, treat_none : ndarray
        Reference strategies.
    n_above : ndarray of int
        Patients with predicted risk >= threshold.
    n : int
        Patients.
    event_rate : float
        Prevalence (binary) or Kaplan-Meier risk at the horizon (survival).
    horizon : float or None
        None for a binary outcome.
    """

    thresholds: np.ndarray
    net_benefit: np.ndarray
    treat_all: np.ndarray
    treat_none: np.ndarray
    n_above: np.ndarray
    n: int
    event_rate: float
    horizon: float | None

    def to_frame(self) -> pd.DataFrame:
        """One row per threshold: threshold, net_benefit, treat_all, treat_none, n_above.

        Examples
        --------
        >>> dc = decision_curve([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.1], [0.1, 0.5])
        >>> dc.to_frame()["n_above"].tolist()
        [4, 1]
        """
        return pd.DataFrame({"threshold": self.thresholds, "net_benefit": self.net_benefit,
                             "treat_all": self.treat_all, "treat_none": self.treat_none,
                             "n_above": self.n_above})

    def points(self) -> tuple[NetBenefitPoint, ...]:
        """The curve as typed records, one per threshold.

        Examples
        --------
        >>> dc = decision_curve([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.1], [0.5])
        >>> dc.points()[0].net_benefit
        0.25
        """
        return tuple(NetBenefitPoint(float(t), float(nb), float(a), float(z), int(k))
                     for t, nb, a, z, k in zip(self.thresholds, self.net_benefit,
                                               self.treat_all, self.treat_none, self.n_above,
                                               strict=True))


# ----------------------------------------------------------------------------- inputs
def _thresholds(thresholds: Any) -> np.ndarray:
    t = np.atleast_1d(np.asarray(thresholds, dtype=float))
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or np.any((t < 0) | (t >= 1)):
        raise ValueError("thresholds must be a non-empty 1-D array of probabilities in "
                         f"[0, 1), got {thresholds!r}.")
    return t


def _risk(predicted_risk: Any, n: int) -> np.ndarray:
    p = np.asarray(predicted_risk, dtype=float)
    if p.ndim != 1 or p.size != n:
        raise SchemaError(f"predicted_risk must hold one risk per patient ({n}); got shape "
                          f"{p.shape}.")
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        raise SchemaError("predicted_risk must be probabilities in [0, 1] (risk of the "
                          "event, by the horizon for survival).",
                          ids=[f"row {i + 1}" for i in np.flatnonzero(bad)],
                          values=p[bad].tolist())
    return p


def _km_risk(time: np.ndarray, event: np.ndarray, horizon: float) -> float:
    """Kaplan-Meier risk ``1 - S(horizon)``; NaN when the curve is unknown there."""
    if time.size == 0:
        return 0.0
    utime, _, _, _, surv = _km_table(time, event)
    if horizon > utime[-1] and surv[-1] > 0:
        return float("nan")
    idx = np.searchsorted(utime, horizon, side="right") - 1
    return 1.0 - (float(surv[idx]) if idx >= 0 else 1.0)


def _outcome(y: Any, horizon: float | None) -> tuple[Any, float | None]:
    """``(binary target, None)`` or ``((time, event), horizon)``, checked."""
    if horizon is None:
        if isinstance(y, np.ndarray) and y.dtype.names is not None:
            raise ValueError("y is a survival outcome: give the horizon at which the risk "
                             "is predicted (decision_curve(..., horizon=h)).")
        return check_binary(y, column="y"), None
    h = float(horizon)
    if not np.isfinite(h) or h <= 0:
        raise ValueError(f"horizon must be a positive finite time, got {horizon!r}.")
    try:
        time, event = check_y_survival(y)
    except TypeError as exc:
        raise ValueError(f"a horizon was given, so y must be a survival outcome: {exc}") \
            from None
    if h > time.max():
        raise ValueError(f"horizon {h:g} is beyond the last follow-up time ({time.max():g}): "
                         "the event risk there is unknown. Use an earlier horizon.")
    return (time, event), h


# ------------------------------------------------------------------------- computing
def _rates(outcome: Any, horizon: float | None, p: np.ndarray, thresholds: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True- and false-positive rates (per patient) and the number of positives."""
    n = p.size
    order = np.argsort(-p, kind="stable")
    ranked = p[order]
    n_above = np.searchsorted(-ranked, -thresholds, side="right")     # p >= threshold
    if horizon is None:
        hits = np.concatenate([[0], np.cumsum(outcome[order])])
        tp = hits[n_above] / n
        return tp, n_above / n - tp, n_above
    time, event = outcome[0][order], outcome[1][order]
    risk_above = np.array([_km_risk(time[:k], event[:k], horizon) for k in n_above])
    share = n_above / n
    return risk_above * share, (1.0 - risk_above) * share, n_above


def net_benefit(y: Any, predicted_risk: Any, thresholds: Any, *,
                horizon: float | None = None) -> np.ndarray:
    """Net benefit of treating the patients whose predicted risk is ``>= threshold``.

    The model's curve of :func:`decision_curve` alone: the function a resampling engine
    evaluates on a resample and on the original cohort (with the risks predicted by the
    model fitted on the resample) to optimism-correct the net benefit per threshold.

    Parameters
    ----------
    y : array-like of 0/1, or structured survival outcome
        Binary outcome, or survival outcome (``Surv``) when ``horizon`` is given.
    predicted_risk : array-like of shape (n,)
        Predicted probability of the event (by ``horizon`` for survival: ``1 - S(h)``).
    thresholds : array-like of float in [0, 1)
    horizon : float, optional
        Time at which the risk is predicted (survival outcomes).

    Returns
    -------
    ndarray of shape (n_thresholds,)

    Examples
    --------
    >>> net_benefit([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.1], [0.1, 0.5]).round(4).tolist()
    [0.4444, 0.25]
    """
    outcome, h = _outcome(y, horizon)
    n = outcome.size if h is None else outcome[0].size
    p = _risk(predicted_risk, n)
    t = _thresholds(thresholds)
    tp, fp, _ = _rates(outcome, h, p, t)
    return tp - fp * (t / (1.0 - t))


def decision_curve(y: Any, predicted_risk: Any, thresholds: Any, *,
                   horizon: float | None = None) -> DecisionCurve:
    """Decision curve: net benefit of the model, of treating all and of treating none.

    Parameters
    ----------
    y : array-like of 0/1, or structured survival outcome
        Binary outcome, or survival outcome (``Surv``) with ``horizon``.
    predicted_risk : array-like of shape (n,)
        Predicted probability of the event (by ``horizon`` for survival).
    thresholds : array-like of float in [0, 1)
        Threshold probabilities, e.g. ``np.arange(0.01, 0.6, 0.01)``.
    horizon : float, optional
        For survival: the Kaplan-Meier net benefit at this time (Vickers et al. 2008).

    Returns
    -------
    DecisionCurve

    Raises
    ------
    SchemaError
        Risks outside [0, 1], wrong length, bad outcome coding.
    ValueError
        Thresholds outside [0, 1); a survival outcome without horizon (or the reverse);
        a horizon beyond the follow-up.

    Examples
    --------
    >>> dc = decision_curve([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.1], [0.1, 0.5])
    >>> dc.net_benefit.round(4).tolist(), dc.treat_all.round(4).tolist()
    ([0.4444, 0.25], [0.4444, 0.0])
    """
    outcome, h = _outcome(y, horizon)
    n = outcome.size if h is None else outcome[0].size
    p = _risk(predicted_risk, n)
    t = _thresholds(thresholds)
    tp, fp, n_above = _rates(outcome, h, p, t)
    odds = t / (1.0 - t)
    rate = float(outcome.mean()) if h is None else _km_risk(*outcome, h)
    return DecisionCurve(thresholds=t, net_benefit=tp - fp * odds,
                         treat_all=rate - (1.0 - rate) * odds, treat_none=np.zeros(t.size),
                         n_above=n_above.astype(np.int64), n=n, event_rate=rate, horizon=h)

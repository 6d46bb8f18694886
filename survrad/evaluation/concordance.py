"""Harrell's and Uno's concordance index: one convention, higher risk = earlier event.

Both follow R's ``survival::concordance`` exactly (docs/reliability.md #26):

* a pair is comparable when the shorter time is an event; two events at the same time are
  not comparable; an event and a censoring at the same time are (the censored subject is
  taken to outlive the event);
* a tie in risk counts 1/2; no comparable pair is an error, never NaN;
* Harrell's C weights every comparable pair 1 (R's default ``timewt = "n"``); Uno's C
  weights the pairs of an event at time t by ``1 / G(t-)^2``, ``G`` the Kaplan-Meier
  curve of the censoring distribution (R's ``timewt = "n/G2"``).

Inputs are aligned by patient id when ``time``, ``event`` and ``risk`` are all pandas
Series (their id sets must match); otherwise they are taken positionally and must have the
same length. A Series with an id index mixed with plain arrays is refused, because that is
how predictions get silently misaligned with outcomes.

With ``return_se=True`` both also return the standard error of R's ``concordance(...)$var``:
the infinitesimal-jackknife variance of survival 3.x (``concordancefit``), computed from
the weighted pairs every subject belongs to (:func:`survrad._math.concordance.pair_influence`)
in O(n log n). For Uno's C the time weights ``1 / G(t-)^2`` are held fixed, as R does (the
variability of the estimated censoring curve is not propagated).

Counting uses :mod:`survrad._math.concordance`: two sorts and one Fenwick-tree sweep
compiled by numba (cached on disk; the first call in a new process loads it, well under a
second), O(n log n). ``benchmarks/bench_concordance.py`` holds it to a minimal compiled
Fenwick-tree floor written in the benchmark, lifelines, scikit-survival and R's
``concordancefit``; its figures are in ``benchmarks/results/bench_concordance.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from survrad._math.concordance import EventPairCounts, event_pair_counts, pair_influence
from survrad.data.outcome import check_y_survival
from survrad.evaluation.nonparametric import _as_event, _as_time, censoring_survival
from survrad.exceptions import SchemaError

__all__ = [
    "ConcordanceCounts",
    "concordance_index",
    "concordance_index_y",
    "uno_concordance_index",
]


@dataclass(frozen=True)
class ConcordanceCounts:
    """Pair counts behind a concordance index.

    Attributes
    ----------
    concordant : int
        Comparable pairs where the subject with the earlier event has the higher risk.
    discordant : int
        Comparable pairs where it has the lower risk.
    tied_risk : int
        Comparable pairs with equal risk (each counts 1/2).
    tied_time : int
        Pairs of events at the same time (not comparable; R's ``tied.y + tied.xy``).
    comparable : int
        ``concordant + discordant + tied_risk``.
    c : float
        ``(concordant + tied_risk / 2) / comparable``.
    """

    concordant: int
    discordant: int
    tied_risk: int
    tied_time: int
    comparable: int
    c: float


def _is_default_index(s: pd.Series) -> bool:
    return isinstance(s.index, pd.RangeIndex) and s.index.equals(pd.RangeIndex(len(s)))


def _aligned(time: Any, event: Any, risk: Any) -> tuple[Any, Any, Any, list | None]:
    """Align by id when all three are Series; positional otherwise (see module docstring)."""
    named = {"time": time, "event": event, "risk": risk}
    series = {k: v for k, v in named.items() if isinstance(v, pd.Series)}
    if len(series) == 3:
        for name, s in series.items():
            dup = s.index[s.index.duplicated()].unique()
            if len(dup):
                raise SchemaError(f"{name} has duplicated patient ids; one value per "
                                  "patient is needed.", ids=list(dup))
        ids = time.index
        for name in ("event", "risk"):
            other = named[name].index
            missing, extra = ids.difference(other), other.difference(ids)
            if len(missing) or len(extra):
                raise SchemaError(
                    f"the patient ids of {name} and time differ: {len(missing)} ids of time "
                    f"are missing from {name}, {len(extra)} ids of {name} are not in time. "
                    "Predictions are joined to outcomes by patient id; predict on the same "
                    "patients.", ids=[*missing, *extra])
        return (time.to_numpy(), event.reindex(ids).to_numpy(),
                risk.reindex(ids).to_numpy(), list(ids))
    for name, s in series.items():
        if not _is_default_index(s):
            raise SchemaError(
                f"{name} is a pandas Series indexed by ids while the other inputs are not: "
                "pass time, event and risk all as Series indexed by patient id (they are "
                "then aligned by id), or all as arrays in the same order.")
    return time, event, risk, None


def _check_risk(risk: Any, ids: list | None) -> np.ndarray:
    r = np.asarray(risk)
    if r.ndim != 1:
        raise SchemaError(f"risk must be one score per patient (1-D), got shape {r.shape}.")
    try:
        r = r.astype(float)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"risk must be numeric: {exc}.") from None
    bad = ~np.isfinite(r)
    if bad.any():
        where = np.flatnonzero(bad)
        shown = [ids[i] for i in where] if ids is not None else [f"row {i + 1}" for i in where]
        raise SchemaError("risk is NaN or infinite for some patients; a concordance "
                          "index needs a finite score for everyone.", ids=shown,
                          values=r[bad].tolist())
    return r


def _prepare(time: Any, event: Any, risk: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    time, event, risk, ids = _aligned(time, event, risk)
    t = _as_time(time, ids)
    e = _as_event(event, ids)
    r = _check_risk(risk, ids)
    if not t.size == e.size == r.size:
        raise SchemaError(f"time, event and risk differ in length: {t.size}, {e.size}, "
                          f"{r.size}.")
    return t, e, r


def _no_pair(e: np.ndarray, extra: str = "") -> SchemaError:
    return SchemaError(
        f"no comparable pair: the concordance index is undefined ({int(e.sum())} events "
        f"among {e.size} subjects{extra}). A pair is comparable when the shorter time is "
        "an event.")


def _counts(pairs: EventPairCounts, weights: np.ndarray | None = None) -> tuple[float, ...]:
    """Total concordant, discordant, tied-risk and comparable pairs (weighted per event)."""
    arrays = (pairs.concordant, pairs.discordant, pairs.tied_risk)
    if weights is None:
        conc, disc, tied = (int(a.sum()) for a in arrays)
    else:     # (a mixed int/float matmul is very slow in numpy: convert first)
        conc, disc, tied = (float(weights @ a.astype(float)) for a in arrays)
    return conc, disc, tied, conc + disc + tied


def _standard_error(t: np.ndarray, e: np.ndarray, r: np.ndarray, pairs: EventPairCounts,
                    weights: np.ndarray, conc: float, disc: float, comparable: float) -> float:
    """R's ``sqrt(concordance(...)$var)``: infinitesimal jackknife of Somers' d, halved."""
    infl = pair_influence(t, e, r, pairs, weights)
    somers = (conc - disc) / comparable
    dfbeta = ((infl.concordant - infl.discordant)
              - somers * (infl.concordant + infl.discordant + infl.tied_risk)) / comparable
    return float(np.sqrt(dfbeta @ dfbeta / 4.0))


def concordance_index(time: Any, event: Any, risk: Any, *, return_counts: bool = False,
                      return_se: bool = False
                      ) -> float | ConcordanceCounts | tuple[float | ConcordanceCounts, float]:
    """Harrell's concordance index (higher risk = earlier event), as R's ``concordance``.

    Parameters
    ----------
    time : array-like or pandas.Series of shape (n,)
        Follow-up times.
    event : array-like or pandas.Series of shape (n,)
        1 = event, 0 = censored (1/2 coding is refused).
    risk : array-like or pandas.Series of shape (n,)
        Predicted risk scores: higher means an earlier event is expected (a Cox linear
        predictor, not a predicted survival time). Pass ``-predicted_time`` for models
        that predict times.
    return_counts : bool, default False
        Return the pair counts with C instead of C alone.
    return_se : bool, default False
        Also return the standard error of C, as ``sqrt(concordance(...)$var)`` in R
        (infinitesimal jackknife; see the module docstring).

    Returns
    -------
    float or ConcordanceCounts
        C (or the counts); with ``return_se=True`` a tuple ``(c, se)`` (or
        ``(counts, se)``).

    Raises
    ------
    SchemaError
        Mismatched patient ids or lengths, bad time/event coding, non-finite risk, or no
        comparable pair.

    Examples
    --------
    The ``aml`` "Maintained" arm (R's survival ``tests/concordance.R``) with the score
    ``x = 1, 6, 2, 7, 3, 7, 3, 8, 4, 4, 5`` as a predictor of longer survival:

    >>> time = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161]
    >>> event = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]
    >>> x = np.array([1, 6, 2, 7, 3, 7, 3, 8, 4, 4, 5])
    >>> res = concordance_index(time, event, -x, return_counts=True)
    >>> res.concordant, res.discordant, res.tied_risk, res.c
    (24, 14, 2, 0.625)
    >>> c, se = concordance_index(time, event, -x, return_se=True)
    >>> round(se, 4)
    0.1288
    """
    t, e, r = _prepare(time, event, risk)
    pairs = event_pair_counts(t, e, r)
    conc, disc, tied, comparable = _counts(pairs)
    if comparable == 0:
        raise _no_pair(e)
    c = (conc + 0.5 * tied) / comparable
    out: float | ConcordanceCounts = c
    if return_counts:
        out = ConcordanceCounts(concordant=int(conc), discordant=int(disc),
                                tied_risk=int(tied), tied_time=pairs.tied_time,
                                comparable=int(comparable), c=c)
    if not return_se:
        return out
    ones = np.ones(pairs.index.size)
    return out, _standard_error(t, e, r, pairs, ones, conc, disc, comparable)


def concordance_index_y(y: Any, risk: Any, *,
                        return_counts: bool = False) -> float | ConcordanceCounts:
    """:func:`concordance_index` for a structured survival outcome ``y`` (positional).

    Parameters
    ----------
    y : structured ndarray
        From :meth:`survrad.Surv.from_arrays` (fields ``event``, ``time``), or any
        scikit-survival outcome.
    risk : array-like of shape (n,)
    return_counts : bool, default False

    Examples
    --------
    >>> from survrad.data.outcome import Surv
    >>> y = Surv.from_arrays(time=[1.0, 2.0, 3.0], event=[1, 1, 0])
    >>> concordance_index_y(y, [3.0, 2.0, 1.0])
    1.0
    """
    t, e = check_y_survival(y)
    return concordance_index(t, e, np.asarray(risk), return_counts=return_counts)


def _uno_weights(pairs: EventPairCounts, tau: float | None, train_time: Any,
                 train_event: Any, t: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``1 / G(t-)^2`` per event, 0 after ``tau``; G from the training data."""
    if (train_time is None) != (train_event is None):
        raise ValueError("give both train_time and train_event, or neither.")
    if train_time is None:
        g = censoring_survival(t, e, pairs.time, left=True)
    else:
        g = censoring_survival(train_time, train_event, pairs.time, left=True)
    keep = np.ones(pairs.time.size, dtype=bool) if tau is None else pairs.time <= tau
    zero = keep & (g <= 0)
    if zero.any():
        first = float(pairs.time[zero].min())
        raise ValueError(
            f"the censoring survival of the training data is 0 before t = {first:g}: "
            "events from there on cannot be weighted. Set tau below that time.")
    with np.errstate(divide="ignore"):
        return np.where(keep, 1.0 / np.where(keep, g, 1.0) ** 2, 0.0)


def uno_concordance_index(time: Any, event: Any, risk: Any, *, tau: float | None = None,
                          train_time: Any = None, train_event: Any = None,
                          return_se: bool = False) -> float | tuple[float, float]:
    """Uno's concordance index: Harrell's pairs weighted by ``1 / G(t-)^2``.

    Matches R's ``concordance(fit, timewt = "n/G2")`` (and ``ymax = tau``): the pairs of
    an event at time t weigh ``1 / G(t-)^2``, with ``G`` the Kaplan-Meier estimate of the
    censoring distribution; this removes the dependence of Harrell's C on the censoring
    pattern (Uno et al., Stat Med 2011;30:1105-17). Ties are handled as in
    :func:`concordance_index`.

    ``G`` is the reverse Kaplan-Meier of R's ``fastkm.c`` (at a tied time censorings
    follow the events; see :func:`~survrad.evaluation.nonparametric.censoring_survival`);
    on the lung data the result equals R to 1e-13. ``sksurv.metrics.concordance_index_ipcw``
    evaluates G at the event time instead of its left limit and keeps only events before
    tau: about 2e-4 higher on the same data.

    Parameters
    ----------
    time, event, risk : array-like or pandas.Series of shape (n,)
        As in :func:`concordance_index` (the evaluation data).
    tau : float, optional
        Truncation time: only events at times <= tau contribute (R's ``ymax``). Default:
        all events.
    train_time, train_event : array-like, optional
        Data on which the censoring distribution is estimated (the training data of the
        model); default the evaluation data itself, as R.
    return_se : bool, default False
        Also return the standard error, as ``sqrt(concordance(fit, timewt = "n/G2",
        ymax = tau)$var)`` in R (the weights are held fixed).

    Returns
    -------
    float, or ``(c, se)`` with ``return_se=True``

    Raises
    ------
    SchemaError
        As :func:`concordance_index`.
    ValueError
        ``tau`` not positive, or the training censoring survival reaching 0 before tau.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> risk = rng.normal(size=200)
    >>> time = rng.exponential(np.exp(-risk))
    >>> event = rng.random(200) < 0.7
    >>> 0.6 < uno_concordance_index(time, event, risk) < 0.9
    True
    """
    t, e, r = _prepare(time, event, risk)
    if tau is not None and (not np.isfinite(tau) or tau <= 0):
        raise ValueError(f"tau must be a positive finite time, got {tau!r}.")
    pairs = event_pair_counts(t, e, r)
    w = _uno_weights(pairs, tau, train_time, train_event, t, e)
    conc, disc, tied, comparable = _counts(pairs, w)
    if comparable == 0:
        raise _no_pair(e, "" if tau is None else f", events up to tau = {tau:g}")
    c = (conc + 0.5 * tied) / comparable
    if not return_se:
        return c
    return c, _standard_error(t, e, r, pairs, w, conc, disc, comparable)

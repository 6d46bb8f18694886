"""Cox proportional-hazards kernels: partial likelihood, Newton-Raphson, residuals (layer 0).

Built on numpy, plus scipy's LAPACK Cholesky solver for the Newton steps. Every quantity
is computed with one sort and cumulative sums over the risk sets, so the cost is
O(n log n + n p^2) per evaluation with no Python loop over patients (the only loop is
over strata): rows are sorted by decreasing time with the deaths last among tied times,
so that each risk set is a prefix of the rows and each set of tied deaths the
difference of two prefixes. Ties are handled as in R's ``survival`` package
(``coxph.fit`` / ``coxfit6.c``):

* Breslow: an event time with tied deaths ``D`` contributes
  ``sum_D w_i eta_i - W_D log S0``;
* Efron: ``sum_D w_i eta_i - (W_D / d) sum_{k=0}^{d-1} log(S0 - (k/d) S0_D)``,

where ``S0 = sum_{risk set} w_i exp(eta_i)``, ``S0_D`` the same sum over the ``d`` tied
deaths and ``W_D`` their total case weight. Case weights follow R's ``weights=``
semantics (frequency-like weights, strictly positive).

Counting-process data (R's ``Surv(start, stop, event)``, ``agfit4.c``): with ``start``
given, a row is at risk at ``t`` when ``start < t <= stop`` (``time`` is the stop). R
walks the rows backwards in time, adding a row at its stop and removing it at its
start; here the same risk-set sums are the difference of two prefix sums, one over the
rows sorted by decreasing stop (rows with ``stop >= t``) and one over the rows sorted by
decreasing start (rows with ``start >= t``, which all have ``stop > t`` too), and a
row's cumulative hazard is that over the event times in ``(start, stop]``. Tied deaths
share a stop time, so their Efron sums are unchanged. A stratum in which no start
reaches its first event time has exactly the risk sets of right-censored data and takes
the right-censored path, whose numbers do not depend on ``start``. Like R's running
sums, a difference loses the digits by which the rows not yet at risk outweigh the
risk set (``exp(eta)`` of later rows far above that of the rows at risk, e.g. a
diverging time-varying coefficient); :meth:`CoxRiskSets.cancellation` measures it.

Public functions
----------------
cox_partial_loglik_eta
    Log partial likelihood of a linear predictor and its gradient with respect to it.
cox_fit
    Newton-Raphson with step halving (R's ``coxph.fit``), optional ridge penalty.
cox_score_residuals, cox_robust_variance
    Score residuals and the cluster-robust sandwich variance (R's ``cluster()``).
cox_baseline_hazard
    Breslow cumulative baseline hazard, with Efron's adjustment as in
    ``survfit.coxph``.
cox_elastic_net_path, cox_fit_elastic_net
    glmnet's elastic-net Cox objective along a path of penalties (warm starts, strong
    rules, one sort of the risk sets), or at one penalty.
CoxRiskSets
    The prepared risk sets behind all of the above; reuse one for repeated evaluations
    (``loglik_grad``), and its ``zph_score`` gives the building blocks of R's
    ``cox.zph``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.linalg import cholesky as _cholesky
from scipy.linalg import solve_triangular as _solve_triangular
from scipy.linalg.lapack import dposv as _dposv

from survrad._math._jit import compiled
from survrad._validation import check_choice

__all__ = [
    "CoxFit",
    "CoxNetFit",
    "CoxNetPath",
    "CoxRiskSets",
    "cox_baseline_hazard",
    "cox_elastic_net_path",
    "cox_fit",
    "cox_fit_elastic_net",
    "cox_information",
    "cox_partial_loglik_eta",
    "cox_robust_variance",
    "cox_score_residuals",
]

_TIES = ("efron", "breslow")
_VANISHED = 1e-8   # information at the fit / at the start below this: coefficient diverged
_TOLER_CHOL = np.finfo(float).eps ** 0.75     # R's coxph.control(toler.chol)
_TINY_DEN = 1e-100   # Efron denominators below this: rescale before squaring 1 / den
_FAST = 0.1          # elastic net: a reused information matrix must shrink the residual so
_AHEAD = 3           # ... and covers the strong set of this many penalties further on
_CHEAP_INFO = 4e6     # n p^2 below this: recompute the information at every step
_KKT_SLACK = 1e-12   # a warm start within this (times lambda) of the KKT conditions stands


# --------------------------------------------------------------------------- risk sets
@dataclass(slots=True)
class _Stratum:
    """Risk-set bookkeeping for one stratum.

    Rows are sorted by decreasing time and, within a tied time, censored rows before
    deaths. Event block ``j`` (the ``j``-th distinct event time, latest first) then has
    the risk set ``rows[:end[j]]`` and its deaths are ``rows[lo[j]:end[j]]``, so every
    risk-set sum and tied-death sum is a prefix sum or a difference of two.
    """

    index: np.ndarray        # positions in the caller's arrays, in the sorted order
    w: np.ndarray            # case weights
    delta: np.ndarray        # event indicator as float
    wd: np.ndarray           # w * delta
    unit_w: bool             # all weights are 1
    at: np.ndarray           # per row: first event block with time <= its time (n_ev if none)
    n_ev: int                # number of event blocks (distinct event times)
    ev_time: np.ndarray      # time of each event block (decreasing)
    lo: np.ndarray           # per event block: its first death row
    end: np.ndarray          # per event block: one past its last death row
    sum_rows: np.ndarray     # prefix lengths needed by ``_risk_sums``: end, then lo if tied
    rep: np.ndarray          # per death: its event block (non-decreasing)
    rep_end: np.ndarray      # per death: ``end`` of its block
    rep_lo: np.ndarray       # per death: ``lo`` of its block
    frac: np.ndarray         # per death: k/d (Efron) or 0 (Breslow)
    meanwt: np.ndarray       # per death: W_D / d of its block
    meanwt_sum: float        # sum of ``meanwt``
    tied: bool               # Efron with tied deaths (some ``frac`` > 0)
    efron_q: np.ndarray      # per death (tied only): (1 - f)^2, f (1 - f), f^2 with f = frac
    ev_starts: np.ndarray    # first position of each event block inside ``rep``
    ev_count: np.ndarray     # deaths per event block
    label: Any               # stratum label
    # counting-process data only (None for right-censored data or when no start matters)
    sorder: np.ndarray | None = None   # the stratum's rows by decreasing start (positions)
    ex: np.ndarray | None = None       # per event block: rows with start >= its time
    ex_rows: np.ndarray | None = None  # prefix lengths of ``sorder`` matching ``sum_rows``
    at0: np.ndarray | None = None      # per row: number of event blocks with time > start

    @property
    def counting(self) -> bool:
        """Whether some start removes a row from some risk set (counting-process path)."""
        return self.sorder is not None


def _is_binary(event: np.ndarray) -> bool:
    """All of ``event`` is 0 or 1 (``np.isin(event, (0, 1)).all()``, faster)."""
    kind = event.dtype.kind
    if kind == "b" or not event.size:
        return True
    if kind in "iu":
        return bool(event.min() >= 0 and event.max() <= 1)
    if kind == "f":
        return bool(((event == 0) | (event == 1)).all())
    return bool(np.isin(event, (0, 1)).all())


class CoxRiskSets:
    """Risk sets of a survival sample, prepared once and reused for many evaluations.

    Parameters
    ----------
    time, event : array-like of shape (n,)
        Follow-up times and event indicators (1/True = event).
    weights : array-like of shape (n,), optional
        Strictly positive case weights (R's ``weights=``). Default all ones.
    strata : array-like of shape (n,), optional
        Stratum labels; risk sets are formed within strata.
    ties : {"efron", "breslow"}, default "efron"
    start : array-like of shape (n,), optional
        Entry times of counting-process rows (R's ``Surv(start, stop, event)``): row
        ``i`` is at risk at ``t`` when ``start[i] < t <= time[i]``. Each start must be
        finite and below its stop (any sign, as in R). Default: every row at risk from
        the origin (right-censored data).

    Examples
    --------
    >>> rs = CoxRiskSets([1.0, 2.0, 3.0], [1, 1, 0])
    >>> ll, grad = rs.loglik_grad(np.zeros(3))
    >>> bool(abs(ll - (-np.log(3) - np.log(2))) < 1e-12)
    True

    Counting-process rows: the third row enters at 1.5, after the first death.

    >>> rs = CoxRiskSets([1.0, 2.0, 3.0], [1, 1, 0], start=[0.0, 0.0, 1.5])
    >>> bool(abs(rs.loglik(np.zeros(3)) - (-np.log(2) - np.log(2))) < 1e-12)
    True
    """

    def __init__(self, time: Any, event: Any, *, weights: Any = None, strata: Any = None,
                 ties: str = "efron", start: Any = None) -> None:
        time = np.asarray(time, dtype=float).ravel()
        event = np.asarray(event).ravel()
        n = time.shape[0]
        if event.shape[0] != n:
            raise ValueError(f"time and event differ in length: {n} vs {event.shape[0]}.")
        if not np.isfinite(time).all():
            raise ValueError("time contains NaN or infinite values.")
        if not _is_binary(event):
            raise ValueError("event must be coded 0/1 (or False/True).")
        self.ties = check_choice("ties", ties, _TIES)
        if weights is None:
            w, unit_w = np.ones(n), True
        else:
            w = np.asarray(weights, dtype=float).ravel()
            if w.shape[0] != n:
                raise ValueError(f"weights has length {w.shape[0]}, expected {n}.")
            if not np.isfinite(w).all() or (w <= 0).any():
                raise ValueError("weights must be finite and strictly positive (as in R's "
                                 "coxph).")
            unit_w = bool((w == 1.0).all())
        self.n = n
        self.time = time
        self.event = event.astype(float)
        self.weights = w
        self._unit_w = unit_w
        self.start = None if start is None else _check_start(start, time)
        died = self.event != 0.0                  # lexsort is faster on a boolean key
        if strata is None:
            self.strata_labels = np.array([None], dtype=object)
            self.strata = [self._stratum(np.lexsort((died, -time)), None)]
            return
        strata = np.asarray(strata).ravel()
        if strata.shape[0] != n:
            raise ValueError(f"strata has length {strata.shape[0]}, expected {n}.")
        labels, codes = np.unique(strata, return_inverse=True)
        self.strata_labels = labels
        order = np.lexsort((died, -time, codes))
        bounds = np.flatnonzero(np.diff(codes[order])) + 1
        self.strata = [self._stratum(idx, labels[codes[idx[0]]])
                       for idx in np.split(order, bounds)]

    def _stratum(self, idx: np.ndarray, label: Any) -> _Stratum:
        """Bookkeeping of the rows ``idx`` (sorted by decreasing time, deaths last in ties)."""
        t = self.time[idx]
        delta = self.event[idx]
        w = self.weights[idx]
        wd = delta if self._unit_w else w * delta
        dead = np.flatnonzero(delta)
        td = t[dead]
        new = np.empty(td.shape[0], dtype=bool)
        new[:1] = True
        np.not_equal(td[1:], td[:-1], out=new[1:])
        ev_starts = np.flatnonzero(new)
        rep = new.cumsum()
        rep -= 1
        n_ev, n_dead = ev_starts.shape[0], dead.shape[0]
        cnt = np.bincount(rep, minlength=n_ev)
        lo = dead[ev_starts]
        end = lo + cnt
        ev_time = td[ev_starts]
        at = np.zeros(t.shape[0], dtype=np.intp)  # per row: number of event times > its time
        at[lo] = 1
        at = at.cumsum()
        at[dead] -= 1
        if self._unit_w:
            meanwt = np.ones(n_dead)
        else:
            meanwt = (np.bincount(rep, wd[dead], minlength=n_ev) / cnt)[rep]
        tied = self.ties == "efron" and n_dead > n_ev
        if tied:
            frac = (np.arange(n_dead) - ev_starts[rep]) / cnt[rep]
            f1 = 1.0 - frac
            efron_q = np.empty((3, n_dead))
            np.multiply(f1, f1, out=efron_q[0])
            np.multiply(frac, f1, out=efron_q[1])
            np.multiply(frac, frac, out=efron_q[2])
            sum_rows = np.concatenate((end, lo))
        else:
            frac, efron_q, sum_rows = np.zeros(n_dead), np.zeros((3, 0)), end
        st = _Stratum(idx, w, delta, wd, self._unit_w, at, n_ev, ev_time, lo, end,
                      sum_rows, rep, end[rep], lo[rep], frac, meanwt, float(meanwt.sum()),
                      tied, efron_q, ev_starts, cnt, label)
        if self.start is not None:
            _add_entries(st, self.start[idx])
        return st

    @property
    def counting(self) -> bool:
        """Whether a start removes some row from some risk set (counting-process path)."""
        return any(st.counting for st in self.strata)

    @property
    def n_events(self) -> int:
        """Number of events (unweighted)."""
        return int(self.event.sum())

    # ---------------------------------------------------------------- evaluations
    def loglik_grad(self, eta: Any) -> tuple[float, np.ndarray]:
        """Log partial likelihood of ``eta`` and its gradient with respect to ``eta``."""
        eta = self._check_eta(eta)
        grad = np.empty(self.n)
        ll = 0.0
        for st in self.strata:
            part = _core(st, eta[st.index])
            ll += part["loglik"]
            grad[st.index] = st.wd - part["v"]
        return ll, grad

    def loglik(self, eta: Any) -> float:
        """Log partial likelihood of ``eta``."""
        eta = self._check_eta(eta)
        return float(sum(_core(st, eta[st.index])["loglik"] for st in self.strata))

    def derivatives(self, X: np.ndarray, beta: np.ndarray) -> tuple[float, np.ndarray,
                                                                     np.ndarray]:
        """Log partial likelihood, score ``U`` and information ``I`` (= -Hessian) at ``beta``.

        ``X`` should be centred (column means near 0) to avoid cancellation in ``I``.
        Repeated evaluations with the same ``X`` (as in :func:`cox_fit`) sort it once:
        ``self._derivatives(self._design(X), beta)``.
        """
        return self._derivatives(self._design(X), beta)

    def _design(self, X: np.ndarray, centre: np.ndarray | None = None) -> list[tuple]:
        """``X`` prepared for repeated ``_derivatives`` calls.

        Per stratum: its rows of ``X - centre`` in the stratum's order (C-contiguous), their
        transpose (C-contiguous) and ``X' w delta``.
        """
        X = np.asarray(X, dtype=float)
        out = []
        for st in self.strata:
            x = X.take(st.index, axis=0)
            if centre is not None:
                x -= centre
            xt = np.ascontiguousarray(x.T)
            out.append((x, xt, xt @ st.wd))
        return out

    def _derivatives(self, design: list[tuple], beta: np.ndarray) -> tuple[float, np.ndarray,
                                                                            np.ndarray]:
        """:meth:`derivatives` of the prepared ``design`` (from :meth:`_design`)."""
        if len(self.strata) == 1:
            return _stratum_derivatives(self.strata[0], *design[0], beta)
        p = beta.shape[0]
        ll, score, info = 0.0, np.zeros(p), np.zeros((p, p))
        for st, d in zip(self.strata, design, strict=True):
            s_ll, s_u, s_i = _stratum_derivatives(st, *d, beta)
            ll += s_ll
            score += s_u
            info += s_i
        return ll, score, info

    def score_residuals(self, X: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """Unweighted score residuals (R's ``residuals(fit, type = "score")``), shape (n, p)."""
        X = np.asarray(X, dtype=float)
        out = np.empty_like(X)
        for st in self.strata:
            x = X[st.index]
            e_eta = x @ beta
            part = _core(st, e_eta)
            out[st.index] = _score_resid_stratum(st, x, part)
        return out

    def zph_score(self, X: np.ndarray, beta: np.ndarray,
                  gtime: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Score and information of the time-varying term ``X * g(t)`` at ``(beta, 0)``.

        The building blocks of the Grambsch-Therneau test as R's ``cox.zph``
        (survival >= 3.0, C routine ``zph1``): returns ``u`` (2p,), whose first half is
        the ordinary score, and the full ``2p x 2p`` information matrix. ``gtime`` is the
        (centred) transformed time of each subject (a function of the time).
        """
        X = np.asarray(X, dtype=float)
        gtime = np.asarray(gtime, dtype=float)
        p = X.shape[1]
        u = np.zeros(2 * p)
        info = np.zeros((2 * p, 2 * p))
        for st in self.strata:
            x = X[st.index]
            part = _core(st, x @ beta)
            xbar = _xbar_events(st, x, part)
            g_row = gtime[st.index]
            g_b = g_row[st.lo]
            u[:p] += x.T @ (st.wd - part["v"])
            u[p:] += x.T @ (st.wd * g_row) - xbar.T @ (g_b[st.rep] * st.meanwt)
            i11 = _info_weighted(st, x, part, xbar, np.ones(st.n_ev))
            i12 = _info_weighted(st, x, part, xbar, g_b)
            i22 = _info_weighted(st, x, part, xbar, g_b * g_b)
            info += np.block([[i11, i12], [i12.T, i22]])
        return u, info

    def schoenfeld_residuals(self, X: np.ndarray,
                             beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unscaled Schoenfeld residuals ``x_i - xbar(t_i)`` of every event row.

        ``xbar(t)`` is the risk-weighted covariate mean of the risk set at ``t``; with
        Efron ties the deaths at one time share the average of their Efron-adjusted
        means, as R's ``cox.zph`` (C routine ``zph1``) and ``residuals(fit,
        "schoenfeld")``. Residuals are unweighted (case weights enter ``xbar`` only).

        Returns
        -------
        rows : ndarray of int (n_events,)
            Position of each event row in the caller's arrays (stratum by stratum, by
            decreasing time).
        resid : ndarray (n_events, p)

        Examples
        --------
        >>> rs = CoxRiskSets([1.0, 2.0, 3.0], [1, 1, 0])
        >>> rows, r = rs.schoenfeld_residuals(np.array([[1.0], [0.0], [2.0]]), np.zeros(1))
        >>> rows.tolist(), r.ravel().tolist()      # xbar = 1 at t = 1, 1 at t = 2
        ([1, 0], [-1.0, 0.0])
        """
        X = np.asarray(X, dtype=float)
        rows, out = [], []
        for st in self.strata:
            x = X[st.index]
            part = _core(st, x @ beta)
            tie_mean = _per_block(st, _xbar_events(st, x, part))[:-1] / st.ev_count[:, None]
            dead = np.flatnonzero(st.delta)
            rows.append(st.index[dead])
            out.append(x[dead] - tie_mean[st.rep])
        return np.concatenate(rows), np.vstack(out)

    def baseline_cumhaz(self, eta: Any) -> dict[Any, tuple[np.ndarray, np.ndarray]]:
        """Cumulative baseline hazard at ``eta = 0`` per stratum: {label: (times, cumhaz)}.

        Breslow's estimator; with ``ties="efron"`` the Efron-adjusted increments of R's
        ``survfit.coxph`` (``ctype = 2``). Pass a centred ``eta`` to keep exp() finite.
        """
        eta = self._check_eta(eta)
        out = {}
        for st in self.strata:
            part = _core(st, eta[st.index])
            inc = part["a"][:st.n_ev][::-1] * np.exp(-part["c"])      # increasing time
            out[st.label] = (st.ev_time[::-1].copy(), np.cumsum(inc))
        return out

    def cancellation(self, eta: Any) -> float:
        """Largest ratio of a prefix sum to the risk-set total taken from it at ``eta``.

        Counting-process risk-set sums are differences (rows with ``stop >= t`` less rows
        with ``start >= t``); about ``log10`` of this ratio of the 16 significant digits
        of a double are lost in them (the ratio is itself formed from such a difference:
        only its order of magnitude counts). 1.0 for right-censored data (no difference
        taken).

        Examples
        --------
        >>> rs = CoxRiskSets([2.0, 4.0], [1, 1], start=[0.0, 3.0])
        >>> round(rs.cancellation(np.array([0.0, 10.0])), 1)   # 1 + e^10 less e^10
        22027.5
        """
        eta = self._check_eta(eta)
        worst = 1.0
        for st in self.strata:
            if st.counting:
                part = _core(st, eta[st.index])
                worst = max(worst, float(np.max(part["s0"][st.end] / part["total"])))
        return worst

    def _check_eta(self, eta: Any) -> np.ndarray:
        eta = np.asarray(eta, dtype=float).ravel()
        if eta.shape[0] != self.n:
            raise ValueError(f"eta has length {eta.shape[0]}, expected {self.n}.")
        if not np.isfinite(eta).all():
            raise ValueError("eta contains NaN or infinite values.")
        return eta


def _check_start(start: Any, time: np.ndarray) -> np.ndarray:
    """Entry times of counting-process rows: finite, one per row, below the stop."""
    start = np.asarray(start, dtype=float).ravel()
    if start.shape[0] != time.shape[0]:
        raise ValueError(f"start has length {start.shape[0]}, expected {time.shape[0]}.")
    if not np.isfinite(start).all():
        raise ValueError("start contains NaN or infinite values.")
    bad = np.flatnonzero(start >= time)
    if bad.size:
        raise ValueError(f"start must be below the stop time of each row (R's Surv(start, "
                         f"stop, event)); it is not in rows {(bad + 1).tolist()[:10]} "
                         f"({bad.size} in total, 1-based).")
    return start


def _add_entries(st: _Stratum, start: np.ndarray) -> None:
    """Counting-process bookkeeping of a stratum (``start`` in the stratum's stop order).

    Nothing is added when every start lies below the stratum's first event time: then
    no start removes anyone from a risk set, and the right-censored sums are exact.
    """
    if not st.n_ev:
        return
    neg_ev = -st.ev_time                                   # increasing
    at0 = np.searchsorted(neg_ev, -start, side="left")    # event blocks with time > start
    if (at0 == st.n_ev).all():
        return
    sorder = np.argsort(-start, kind="stable")
    ex = np.searchsorted(-start[sorder], neg_ev, side="right")   # rows with start >= time
    st.sorder, st.ex, st.at0 = sorder, ex, at0
    st.ex_rows = np.concatenate((ex, ex)) if st.tied else ex


def _core(st: _Stratum, eta: np.ndarray) -> dict[str, Any]:
    """Per-stratum risk sums: loglik, Efron denominators, hazards and the weight ``v``.

    ``v_i = w_i exp(eta_i) (sum over event times at which i is at risk of the hazard,
    minus the Efron down-weighting at i's own death time)`` is the second term of the
    gradient with respect to eta, and the diagonal of the first Hessian term. ``a``,
    ``b`` (per event block, plus a trailing 0) are the hazard and its Efron-weighted
    part, ``hs`` the cumulative hazard up to each event block (0 after the last), ``s0``
    the prefix sums of ``r = w exp(eta - c)`` (``s0[m]`` over the first ``m`` rows).
    """
    c = float(eta.max()) if eta.size else 0.0
    e = eta - c
    np.exp(e, out=e)
    r = e if st.unit_w else e * st.w
    s0 = np.empty(r.shape[0] + 1)                 # s0[m] = sum of r over rows[:m]
    s0[0] = 0.0
    r.cumsum(out=s0[1:])
    if st.counting:
        return _core_counting(st, eta, c, e, r, s0)
    den = s0[st.rep_end]
    if st.tied:
        den -= st.frac * (den - s0[st.rep_lo])
    haz = st.meanwt / den
    loglik = float(st.wd @ eta - st.meanwt @ np.log(den)) - c * st.meanwt_sum
    a = np.bincount(st.rep, haz, minlength=st.n_ev + 1)
    hs = a[::-1].cumsum()[::-1]
    if st.tied:
        b = np.bincount(st.rep, haz * st.frac, minlength=st.n_ev + 1)
        v = r * (hs[st.at] - st.delta * b[st.at])
    else:
        b = np.zeros(st.n_ev + 1)
        v = r * hs[st.at]
    return {"loglik": loglik, "e": e, "r": r, "s0": s0, "den": den, "haz": haz, "a": a,
            "b": b, "hs": hs, "v": v, "c": c, "total": None}


def _core_counting(st: _Stratum, eta: np.ndarray, c: float, e: np.ndarray, r: np.ndarray,
                   s0: np.ndarray) -> dict[str, Any]:
    """:func:`_core` on counting-process rows.

    The risk-set total of event block ``j`` is ``s0[end[j]] - s0_start[ex[j]]`` (rows with
    ``stop >= t_j`` less rows with ``start >= t_j``), returned as ``total``; row ``i``
    collects the hazard of the blocks in ``[at[i], at0[i])``, its event times in
    ``(start, stop]``.
    """
    sb = np.empty(s0.shape[0])                     # sb[m] = sum of r over sorder[:m]
    sb[0] = 0.0
    r.take(st.sorder).cumsum(out=sb[1:])
    total = s0[st.end] - sb[st.ex]
    den = total[st.rep]
    if st.tied:
        den -= st.frac * (s0[st.rep_end] - s0[st.rep_lo])
    haz = st.meanwt / den
    loglik = float(st.wd @ eta - st.meanwt @ np.log(den)) - c * st.meanwt_sum
    a = np.bincount(st.rep, haz, minlength=st.n_ev + 1)
    hs = a[::-1].cumsum()[::-1]
    h_row = hs[st.at] - hs[st.at0]
    if st.tied:
        b = np.bincount(st.rep, haz * st.frac, minlength=st.n_ev + 1)
        h_row -= st.delta * b[st.at]
    else:
        b = np.zeros(st.n_ev + 1)
    return {"loglik": loglik, "e": e, "r": r, "s0": s0, "den": den, "haz": haz, "a": a,
            "b": b, "hs": hs, "v": r * h_row, "c": c, "total": total}


def _risk_sums(st: _Stratum, x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Risk-set sums of ``r x``: rows ``S1[j]`` per event block, then (tied) ``S_lo[j]``.

    ``S1[j]`` sums over the risk set ``rows[:end[j]]`` and ``S_lo[j]`` over
    ``rows[:lo[j]]`` (the risk set without block ``j``'s deaths). One cumulative sum; the
    columns are paired into complex numbers, which halves numpy's sequential
    accumulation without changing any rounding. On counting-process rows, the sums over
    the rows that entered at or after each event time are subtracted.
    """
    p = x.shape[1]
    if not p:
        return np.zeros((st.sum_rows.shape[0], 0))
    cum = _prefix_sums(x, r)
    out = cum.take(st.sum_rows, axis=0)[:, :p]
    if st.counting:
        out -= _prefix_sums(x.take(st.sorder, axis=0), r.take(st.sorder)).take(
            st.ex_rows, axis=0)[:, :p]
    return out


def _prefix_sums(x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``cum[m]`` = sum of ``r x`` over the first ``m`` rows (shape (n + 1, p + p % 2))."""
    n, p = x.shape
    pe = p + p % 2
    cum = np.empty((n + 1, pe))
    cum[0] = 0.0
    np.multiply(x, r[:, None], out=cum[1:, :p])
    if pe != p:
        cum[1:, p] = 0.0
    pairs = cum[1:].view(complex)
    pairs.cumsum(axis=0, out=pairs)
    return cum


def _stratum_derivatives(st: _Stratum, x: np.ndarray, xt: np.ndarray, xwd: np.ndarray,
                         beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Loglik, score and information of one stratum (``x`` sorted, ``xt = x.T``)."""
    part = _core(st, x @ beta)
    v = part["v"]
    score = xwd - xt @ v
    info = (xt * v) @ x
    if st.n_ev and x.shape[1]:
        info -= _event_info(st, x, part)
    return part["loglik"], score, info


def _event_info(st: _Stratum, x: np.ndarray, part: dict) -> np.ndarray:
    """``sum over deaths of meanwt * xbar xbar'``, the second term of the information.

    A death of event block ``j`` with Efron fraction ``f`` has ``xbar = ((1 - f) S1[j]
    + f S_lo[j]) / den``, so block ``j`` contributes ``G' Q G`` with ``G = [S1[j];
    S_lo[j]]`` and ``Q = sum_k meanwt_k / den_k^2 [(1 - f)^2, f (1 - f); f (1 - f),
    f^2]`` over its deaths ``k``; without tied Efron deaths only ``Q[0, 0]`` is non-zero.
    If some ``den`` is so small that ``1 / den^2`` could overflow, ``G`` is divided by the
    risk-set total ``S0[j]`` and ``Q`` multiplied by ``S0[j]^2`` first.
    """
    g = _risk_sums(st, x, part["r"])
    den = part["den"]
    if den.min() > _TINY_DEN:
        h2 = part["haz"] / den                    # meanwt / den^2
    else:
        total = part["s0"][st.end] if part["total"] is None else part["total"]
        inv_s0 = 1.0 / total
        g *= (np.concatenate((inv_s0, inv_s0)) if st.tied else inv_s0)[:, None]
        ratio = total[st.rep] / den
        h2 = st.meanwt * ratio * ratio
    n_ev = st.n_ev
    if not st.tied:
        return g.T @ (g * np.bincount(st.rep, h2, minlength=n_ev)[:, None])
    qa, qb, qc = (np.bincount(st.rep, q, minlength=n_ev) for q in st.efron_q * h2)
    cross = g[:n_ev].T @ (g[n_ev:] * qb[:, None])
    out = g.T @ (g * np.concatenate((qa, qc))[:, None])
    out += cross
    out += cross.T
    return out


def _xbar_events(st: _Stratum, x: np.ndarray, part: dict) -> np.ndarray:
    """Weighted covariate means over the (Efron-adjusted) risk set at each death."""
    g = _risk_sums(st, x, part["r"])
    num = g[st.rep]
    if st.tied:
        f = st.frac[:, None]
        num = (1 - f) * num + f * g[st.n_ev + st.rep]
    return num / part["den"][:, None]


def _info_weighted(st: _Stratum, x: np.ndarray, part: dict, xbar: np.ndarray,
                   c_b: np.ndarray) -> np.ndarray:
    """``sum_j c_j H_j``: event-time contributions to the information, weighted by ``c``."""
    c_pad = np.append(c_b, 0.0)
    a = part["a"] * c_pad
    b = part["b"] * c_pad
    hs = np.cumsum(a[::-1])[::-1]
    h_row = hs[st.at] - hs[st.at0] if st.counting else hs[st.at]
    v = part["r"] * (h_row - st.delta * b[st.at])
    cw = c_b[st.rep] * st.meanwt
    return (x.T * v) @ x - (xbar * cw[:, None]).T @ xbar


def _per_block(st: _Stratum, values: np.ndarray) -> np.ndarray:
    """Sum per-death rows into per-event-block rows, plus a trailing row of zeros."""
    out = np.zeros((st.n_ev + 1, *values.shape[1:]))
    if st.n_ev:
        out[:-1] = np.add.reduceat(values, st.ev_starts, axis=0)
    return out


def _score_resid_stratum(st: _Stratum, x: np.ndarray, part: dict) -> np.ndarray:
    """Score residuals of one stratum, as R's coxscore (Efron: deaths share xbar_k)."""
    xbar = _xbar_events(st, x, part)
    haz = part["haz"]
    hx = _per_block(st, haz[:, None] * xbar)
    hfx = _per_block(st, (haz * st.frac)[:, None] * xbar)
    cnt = np.ones(st.n_ev + 1)
    cnt[:-1] = st.ev_count
    xbar_mean = _per_block(st, xbar) / cnt[:, None]
    at, delta = st.at, st.delta
    hs = part["hs"]
    hxs = np.cumsum(hx[::-1], axis=0)[::-1]
    cum_h = hs[at] - delta * part["b"][at]
    cum_hx = hxs[at] - delta[:, None] * hfx[at]
    if st.counting:        # only the event times in (start, stop] (R's agscore3)
        cum_h -= hs[st.at0]
        cum_hx -= hxs[st.at0]
    e = part["e"]
    return (delta[:, None] * (x - xbar_mean[at])
            - e[:, None] * (x * cum_h[:, None] - cum_hx))


# ------------------------------------------------------------------ public functions
def cox_partial_loglik_eta(eta: Any, time: Any, event: Any, *, weights: Any = None,
                           strata: Any = None, ties: str = "efron",
                           start: Any = None) -> tuple[float, np.ndarray]:
    """Log partial likelihood of a linear predictor and its gradient with respect to it.

    Parameters
    ----------
    eta : array-like of shape (n,)
        Linear predictor (log relative hazard) of each subject.
    time, event : array-like of shape (n,)
        Follow-up times and 0/1 event indicators.
    weights : array-like of shape (n,), optional
        Strictly positive case weights (R's semantics).
    strata : array-like of shape (n,), optional
        Stratum labels.
    ties : {"efron", "breslow"}, default "efron"
    start : array-like of shape (n,), optional
        Entry times of counting-process rows (``time`` is then the stop); see
        :class:`CoxRiskSets`.

    Returns
    -------
    loglik : float
    grad : numpy.ndarray of shape (n,)
        d loglik / d eta.

    Notes
    -----
    For repeated evaluations on the same sample (e.g. in an optimiser), build a
    :class:`CoxRiskSets` once and call its ``loglik_grad`` method.

    Examples
    --------
    >>> ll, g = cox_partial_loglik_eta([0.0, 0.0], [1.0, 2.0], [1, 1])
    >>> round(ll, 6), g.round(3).tolist()
    (-0.693147, [0.5, -0.5])
    """
    return CoxRiskSets(time, event, weights=weights, strata=strata, ties=ties,
                       start=start).loglik_grad(eta)


@dataclass(frozen=True)
class CoxFit:
    """Result of :func:`cox_fit` (unrounded numbers on the scale of the given ``X``).

    Attributes
    ----------
    coef : ndarray (p,)
    loglik : float
        Log partial likelihood at ``coef`` (without the ridge penalty).
    loglik_null : float
        Log partial likelihood at ``coef = 0``.
    information : ndarray (p, p)
        Observed information (-Hessian of the penalised log likelihood) at ``coef``.
    score : ndarray (p,)
        Gradient of the penalised log likelihood at ``coef`` (≈ 0 when converged).
    n_iter : int
    converged : bool
        The log likelihood converged and no coefficient looks infinite.
    infinite : ndarray of bool (p,)
        Coefficients that look infinite or unsettled: R's "coefficient may be infinite"
        check (the next Newton step is larger than ``tol`` and than
        ``sqrt(tol) * |coef|``), or the information about the coefficient fell below
        1e-8 times its value at the start (the covariate no longer varies within the
        risk-weighted risk sets: monotone likelihood).
    n, n_events : int
    ties : str
    """

    coef: np.ndarray
    loglik: float
    loglik_null: float
    information: np.ndarray
    score: np.ndarray
    n_iter: int
    converged: bool
    infinite: np.ndarray
    n: int
    n_events: int
    ties: str
    #: the risk sets the fit was computed on (reused, e.g., for the baseline hazard)
    risk_sets: Any = field(default=None, repr=False, compare=False)

    @property
    def variance(self) -> np.ndarray:
        """Model-based variance: inverse information (NaN where it is singular)."""
        return _safe_inverse(self.information)


def _safe_inverse(info: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.full_like(info, np.nan)


def _solve(info: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Newton step ``info^-1 score`` as R's ``coxph.fit`` (``cholesky2`` + ``chsolve2``).

    LAPACK's Cholesky when every pivot is at least ``toler.chol`` times the largest
    diagonal element; otherwise R's own LDL' sweep, which treats the directions with a
    smaller pivot as singular (their step is 0), e.g. a diverged coefficient whose
    information has vanished.
    """
    if not score.size:
        return np.zeros(0)
    chol, step, status = _dposv(info, score)
    if status == 0 and (float(chol.diagonal().min()) ** 2            # pivots = diag(chol)^2
                        >= _TOLER_CHOL * float(info.diagonal().max())):
        return step
    return _chsolve2(info, score)


def _chsolve2(info: np.ndarray, score: np.ndarray) -> np.ndarray:
    """R's ``cholesky2`` (pivots below ``toler.chol`` times the largest positive diagonal
    element set to 0) and ``chsolve2``, line by line."""
    a = np.triu(info) + np.triu(info, 1).T        # R uses the upper triangle
    p = a.shape[0]
    diag = a.diagonal()
    positive = diag[diag > 0]
    eps = _TOLER_CHOL * (float(positive.max()) if positive.size else 1.0)
    for i in range(p):
        pivot = a[i, i]
        if not math.isfinite(pivot) or pivot < eps:
            a[i, i] = 0.0
            continue
        col = a[i + 1:, i].copy()
        temp = col / pivot
        a[i + 1:, i] = temp
        update = np.outer(col, temp)              # only its lower triangle is used
        np.fill_diagonal(update, temp * temp * pivot)
        a[i + 1:, i + 1:] -= update
    y = np.array(score, dtype=float)
    for i in range(p):
        y[i] -= y[:i] @ a[i, :i]
    for i in range(p - 1, -1, -1):
        y[i] = 0.0 if a[i, i] == 0 else y[i] / a[i, i] - y[i + 1:] @ a[i + 1:, i]
    return y


def _weighted_mean(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Column means of ``x`` weighted by ``w`` (``np.average``'s, as one matrix product)."""
    return (w @ x) / w.sum()


def _penalised(rs: CoxRiskSets, design: list, beta: np.ndarray, l2: float):
    ll, u, info = rs._derivatives(design, beta)
    if l2:
        u = u - l2 * beta
        info = info + l2 * np.eye(beta.size)
    return ll, ll - 0.5 * l2 * float(beta @ beta), u, info


def cox_fit(X: Any, time: Any, event: Any, *, weights: Any = None, strata: Any = None,
            ties: str = "efron", init: Any = None, max_iter: int = 50, tol: float = 1e-9,
            l2: float = 0.0, start: Any = None) -> CoxFit:
    """Fit a Cox model by Newton-Raphson with step halving, as R's ``coxph.fit``.

    Parameters
    ----------
    X : array-like of shape (n, p)
        Covariates (no intercept). Not standardised here: callers with badly scaled
        columns should standardise first (:class:`survrad.models.CoxModel` does).
    time, event : array-like of shape (n,)
    weights : array-like of shape (n,), optional
        Strictly positive case weights (R's semantics).
    strata : array-like of shape (n,), optional
    ties : {"efron", "breslow"}, default "efron"
    init : array-like of shape (p,), optional
        Starting coefficients (default 0).
    max_iter : int, default 50
    tol : float, default 1e-9
        Convergence when ``|1 - loglik_old / loglik_new| <= tol`` after a full
        (non-halved) step, R's criterion with its default ``eps``.
    l2 : float, default 0
        Ridge penalty: maximises ``loglik - l2/2 * ||coef||^2``.
    start : array-like of shape (n,), optional
        Entry times of counting-process rows, ``time`` being the stops: R's
        ``coxph(Surv(start, stop, event) ~ ...)`` (``agfit4``). Rows of one subject need
        no link here; pass them as clusters to :func:`cox_robust_variance`.

    Returns
    -------
    CoxFit

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 1))
    >>> t = rng.exponential(np.exp(-0.7 * x[:, 0]))
    >>> fit = cox_fit(x, t, np.ones(200))
    >>> fit.converged, bool(abs(fit.coef[0] - 0.7) < 0.3)
    (True, True)
    """
    x = np.asarray(X, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError("X contains NaN or infinite values.")
    rs = CoxRiskSets(time, event, weights=weights, strata=strata, ties=ties, start=start)
    if x.shape[0] != rs.n:
        raise ValueError(f"X has {x.shape[0]} rows but time has {rs.n}.")
    p = x.shape[1]
    design = rs._design(x, _weighted_mean(x, rs.weights) if p else None)
    beta = np.zeros(p) if init is None else np.asarray(init, dtype=float).ravel().copy()
    if beta.shape[0] != p:
        raise ValueError(f"init has length {beta.shape[0]}, expected {p}.")
    ll, obj, u, info = _penalised(rs, design, beta, l2)
    ll_null = ll if not beta.any() else rs.loglik(np.zeros(rs.n))
    info0 = np.diag(info).copy()
    n_iter, converged = 0, p == 0
    if p:
        beta, ll, obj, u, info, n_iter, converged = _newton(rs, design, beta, ll, obj, u,
                                                            info, l2, max_iter, tol)
    step = np.abs(_solve(info, u)) if p else np.zeros(0)
    # R's check (next Newton step still large) or, for a coefficient that jumped far in
    # one step, its information has vanished (covariate constant within the risk-weighted
    # risk sets: monotone likelihood)
    infinite = ((step > tol) & (step > np.sqrt(tol) * np.abs(beta))) | \
        (np.diag(info) < _VANISHED * info0)
    return CoxFit(coef=beta, loglik=ll, loglik_null=ll_null, information=info, score=u,
                  n_iter=n_iter, converged=bool(converged and not infinite.any()),
                  infinite=infinite, n=rs.n, n_events=rs.n_events, ties=rs.ties,
                  risk_sets=rs)


def _newton(rs, design, beta, ll, obj, u, info, l2, max_iter, tol):
    """R's coxfit6 iteration: Newton steps; while the objective gets worse, move back
    towards the last good point, more aggressively each time (halving, then 2/3, ...)."""
    new = beta + _solve(info, u)
    halving = 0
    for it in range(1, max_iter + 1):
        n_ll, n_obj, n_u, n_info = _penalised(rs, design, new, l2)
        finite = math.isfinite(n_obj) and bool(np.isfinite(n_info).all())
        if finite and (abs(n_obj - obj) <= tol * abs(n_obj) if n_obj != 0 else obj == 0):
            return new, n_ll, n_obj, n_u, n_info, it, True
        if not finite or n_obj < obj:
            halving += 1
            new = (new + halving * beta) / (halving + 1)
            continue
        halving = 0
        beta, ll, obj, u, info = new, n_ll, n_obj, n_u, n_info
        new = beta + _solve(info, u)
    return beta, ll, obj, u, info, max_iter, False


def cox_information(X: Any, time: Any, event: Any, coef: Any, *, weights: Any = None,
                    strata: Any = None, ties: str = "efron", start: Any = None) -> np.ndarray:
    """Observed information matrix (-Hessian of the log partial likelihood) at ``coef``.

    Examples
    --------
    >>> info = cox_information(np.array([[0.0], [1.0], [2.0]]), [1, 2, 3], [1, 1, 1], [0.0])
    >>> info.shape
    (1, 1)
    """
    x, rs, beta = _prepare(X, time, event, coef, weights, strata, ties, start)
    return rs._derivatives(rs._design(x, _weighted_mean(x, rs.weights)), beta)[2]


def _prepare(X, time, event, coef, weights, strata, ties, start):
    x = np.asarray(X, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got shape {x.shape}.")
    rs = CoxRiskSets(time, event, weights=weights, strata=strata, ties=ties, start=start)
    beta = np.asarray(coef, dtype=float).ravel()
    if x.shape != (rs.n, beta.shape[0]):
        raise ValueError(f"X has shape {x.shape}; expected ({rs.n}, {beta.shape[0]}).")
    return x, rs, beta


def cox_score_residuals(X: Any, time: Any, event: Any, coef: Any, *, weights: Any = None,
                        strata: Any = None, ties: str = "efron", weighted: bool = False,
                        start: Any = None) -> np.ndarray:
    """Score residuals of a Cox model, as R's ``residuals(fit, type = "score")``.

    Parameters
    ----------
    X, time, event, weights, strata, ties, start
        As in :func:`cox_fit`.
    coef : array-like of shape (p,)
        Coefficients at which to evaluate (usually the fitted ones).
    weighted : bool, default False
        Multiply each row by its case weight (then the rows sum to the score vector).

    Returns
    -------
    numpy.ndarray of shape (n, p)

    Examples
    --------
    >>> x = np.array([[0.0], [1.0], [0.5], [2.0]])
    >>> r = cox_score_residuals(x, [1, 2, 3, 4], [1, 0, 1, 1], [0.0])
    >>> r.shape
    (4, 1)
    """
    x, rs, beta = _prepare(X, time, event, coef, weights, strata, ties, start)
    res = rs.score_residuals(x, beta)
    return res * rs.weights[:, None] if weighted else res


def cox_robust_variance(X: Any, time: Any, event: Any, coef: Any, *, groups: Any,
                        weights: Any = None, strata: Any = None, ties: str = "efron",
                        keep: Any = None, start: Any = None) -> np.ndarray:
    """Cluster-robust (sandwich) variance of Cox coefficients, as R's ``cluster()``.

    ``D`` = weighted score residuals @ inverse information (R's ``dfbeta``), summed
    within each group; the variance is ``D' D`` (no small-sample factor, as R).

    Parameters
    ----------
    X, time, event, coef, weights, strata, ties, start
        As in :func:`cox_score_residuals`.
    groups : array-like of shape (n,)
        Cluster labels (e.g. patient ids for several lesions or eyes per patient, or
        for the (start, stop] rows of one patient).
    keep : array-like of bool (p,), optional
        Coefficients to include (default all): the sandwich is formed with the
        information sub-matrix of these, e.g. to leave out diverged coefficients
        whose information has vanished.

    Returns
    -------
    numpy.ndarray of shape (k, k)
        ``k`` = number of kept coefficients.

    Examples
    --------
    >>> x = np.array([[0.0], [1.0], [0.5], [2.0], [1.5], [0.2]])
    >>> v = cox_robust_variance(x, [1, 2, 3, 4, 5, 6], [1, 0, 1, 1, 1, 0], [0.1],
    ...                         groups=[1, 1, 2, 2, 3, 3])
    >>> v.shape
    (1, 1)
    """
    x, rs, beta = _prepare(X, time, event, coef, weights, strata, ties, start)
    groups = np.asarray(groups).ravel()
    if groups.shape[0] != rs.n:
        raise ValueError(f"groups has length {groups.shape[0]}, expected {rs.n}.")
    xc = x - _weighted_mean(x, rs.weights)
    keep = np.ones(beta.size, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    info = rs.derivatives(xc, beta)[2][np.ix_(keep, keep)]
    resid = rs.score_residuals(xc, beta)[:, keep] * rs.weights[:, None]
    dfbeta = resid @ _safe_inverse(info)
    _, codes = np.unique(groups, return_inverse=True)
    collapsed = np.zeros((codes.max() + 1, int(keep.sum())))
    np.add.at(collapsed, codes, dfbeta)
    return collapsed.T @ collapsed


def cox_baseline_hazard(eta: Any, time: Any, event: Any, *, weights: Any = None,
                        strata: Any = None, ties: str = "efron",
                        start: Any = None) -> dict[Any, tuple[np.ndarray, np.ndarray]]:
    """Breslow cumulative baseline hazard at ``eta = 0``, per stratum.

    With ``ties="efron"`` the increments use Efron's adjustment, as R's
    ``survfit.coxph`` does for an Efron fit; with ``"breslow"`` they are
    ``W_D / S0``. The survival of a subject with linear predictor ``eta_new`` is
    ``exp(-cumhaz(t) * exp(eta_new))`` (same origin as the ``eta`` given here, so
    pass a centred linear predictor and centre new ones the same way).

    Parameters
    ----------
    eta : array-like of shape (n,)
        Fitted linear predictor of the training subjects (rows).
    time, event, weights, strata, ties, start
        As in :func:`cox_fit` (with ``start``, the risk sets of counting-process rows,
        as R's ``survfit.coxph`` on a ``Surv(start, stop, event)`` fit).

    Returns
    -------
    dict
        ``{stratum_label: (event_times, cumhaz)}``; the label is ``None`` without strata.

    Examples
    --------
    >>> h = cox_baseline_hazard(np.zeros(3), [1.0, 2.0, 3.0], [1, 1, 0])
    >>> h[None][1].round(4).tolist()
    [0.3333, 0.8333]
    """
    return CoxRiskSets(time, event, weights=weights, strata=strata, ties=ties,
                       start=start).baseline_cumhaz(eta)


# ------------------------------------------------------------------ elastic net
@dataclass(frozen=True)
class CoxNetFit:
    """Result of :func:`cox_fit_elastic_net` (coefficients on the scale of the given ``X``).

    Attributes
    ----------
    coef : ndarray (p,)
    loglik : float
        Log partial likelihood at ``coef`` (unpenalised).
    objective : float
        ``-loglik / sum(weights) + penalty * (l1_ratio * |coef|_1
        + (1 - l1_ratio) / 2 * |coef|_2^2)``, glmnet's Cox objective.
    score : ndarray (p,)
        Gradient of the log partial likelihood at ``coef`` (for KKT checks).
    n_iter : int
        Newton steps.
    converged : bool
    """

    coef: np.ndarray
    loglik: float
    objective: float
    score: np.ndarray
    n_iter: int
    converged: bool


@dataclass(frozen=True)
class CoxNetPath:
    """Result of :func:`cox_elastic_net_path`: one row per penalty, decreasing.

    Attributes
    ----------
    penalties : ndarray (m,)
        glmnet's ``lambda`` values, as given.
    coef : ndarray (m, p)
        Coefficients on the scale of the given ``X``.
    loglik : ndarray (m,)
        Log partial likelihood at each row of ``coef`` (unpenalised).
    loglik_null : float
        At ``coef = 0``.
    objective : ndarray (m,)
        glmnet's penalised objective at each row (see :class:`CoxNetFit`).
    n_iter : ndarray of int (m,)
        Newton steps per penalty.
    converged : ndarray of bool (m,)
    score : ndarray (m, p)
        Gradient of the log partial likelihood at each row of ``coef`` (KKT checks).
    """

    penalties: np.ndarray
    coef: np.ndarray
    loglik: np.ndarray
    loglik_null: float
    objective: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    score: np.ndarray


def _enet_penalty(beta: np.ndarray, lam: float, alpha: float) -> float:
    return lam * (alpha * np.abs(beta).sum() + 0.5 * (1 - alpha) * float(beta @ beta))


@compiled
def _cd_quadratic_kernel(h, c, z, l1, l2, tol, max_sweeps):   # pragma: no cover (compiled)
    """Coordinate descent on ``z'Hz/2 - c'z + l1 |z|_1 + l2 |z|^2 / 2``, in place on ``z``.

    glmnet's active-set scheme: a full sweep, then sweeps over the non-zero coordinates
    until they settle, repeated until a full sweep moves no coordinate by more than
    ``tol`` (``H_jj * step^2``). Returns the number of sweeps.
    """
    p = z.size
    hz = h @ z
    everyone = np.arange(p)
    active = np.empty(p, np.int64)
    coords, n_coords, full = everyone, p, True
    sweeps = 0
    while sweeps < max_sweeps:
        biggest = 0.0
        n_active = 0
        for a in range(n_coords):
            j = coords[a]
            hjj = h[j, j]
            rho = c[j] - hz[j] + hjj * z[j]
            new = 0.0
            if abs(rho) > l1:
                new = (rho - l1 if rho > 0 else rho + l1) / (hjj + l2)
            delta = new - z[j]
            if delta != 0.0:
                for k in range(p):
                    hz[k] += h[k, j] * delta
                z[j] = new
                biggest = max(biggest, hjj * delta * delta)
            if full and new != 0.0:
                active[n_active] = j
                n_active += 1
        sweeps += 1
        if biggest < tol:
            if full:
                break
            coords, n_coords, full = everyone, p, True     # settled: check every coordinate
        elif full:
            coords, n_coords, full = active, n_active, False
    return sweeps


def _face_solve(h: np.ndarray, c: np.ndarray, z: np.ndarray, l1: float, l2: float,
                factor: _Factors, rounds: int = 30) -> np.ndarray | None:
    """Exact minimiser of the quadratic model by an active-set method, or None.

    On the face where the non-zero coordinates ``A`` of ``z`` keep their signs ``s`` the
    model is smooth: ``(H_AA + l2 I) z_A = c_A - l1 s``. Move from ``z`` towards that
    solution, stopping at the first coordinate that would change sign (it leaves ``A``);
    once the solution keeps its signs, accept it if every zero coordinate satisfies the
    KKT condition ``|c_j - H_jA z_A| <= l1``, else let the violators enter with the sign
    of their gradient. None when this does not settle in ``rounds`` solves (the caller
    then runs coordinate descent to its tolerance).
    """
    z = z.copy()
    slack = 1e-12 * max(1.0, float(np.abs(c).max()))
    for _ in range(rounds):
        act = np.flatnonzero(z)
        if act.size:
            s = np.sign(z[act])
            target = factor.solve(h, act, l2, c[act] - l1 * s)
            if target is None:
                return None
            flipped = np.sign(target) != s
            if flipped.any():
                cur = z[act]
                frac = cur[flipped] / (cur[flipped] - target[flipped])   # in (0, 1]
                t = float(frac.min())
                moved = cur + t * (target - cur)
                drop = np.zeros(act.size, dtype=bool)
                drop[np.flatnonzero(flipped)[frac <= t]] = True
                moved[drop] = 0.0
                z[act] = moved
                continue
            z[act] = target
        resid = c - h[:, act] @ z[act]
        resid[act] = 0.0
        enter = np.abs(resid) - l1 > slack
        if not enter.any():
            return z
        # enter with the sign of the gradient, at a value that only fixes that sign
        z[enter] = np.sign(resid[enter]) * 1e-300
    return None


class _Factors:
    """Cholesky factor of ``H_AA + l2 I`` for the current information, grown with ``A``.

    The last factor is kept with its coordinates (in factor order). When the next active
    set contains them, only the new coordinates are added, by the Schur complement
    (``O(|A|^2 k)`` for ``k`` new ones instead of ``O(|A|^3)``); otherwise, or after a new
    information matrix (:meth:`reset`), the factor is computed afresh.
    """

    def __init__(self) -> None:
        self.cols: np.ndarray = np.zeros(0, dtype=np.intp)
        self._last: tuple[np.ndarray, np.ndarray, float] | None = None

    def reset(self, cols: np.ndarray) -> None:
        """A new information matrix: forget the factor."""
        self.cols = cols
        self._last = None

    def _factor(self, h: np.ndarray, glob: np.ndarray, l2: float
                ) -> tuple[np.ndarray, np.ndarray]:
        last = self._last
        if last is not None and last[2] == l2 and 2 * last[0].size >= glob.size \
                and np.isin(last[0], glob).all():
            order, low = last[0], last[1]
            new = np.setdiff1d(glob, order, assume_unique=True)
            if not new.size:
                return order, low
            a_loc = np.searchsorted(self.cols, order)
            b_loc = np.searchsorted(self.cols, new)
            w = _solve_triangular(low, h[np.ix_(a_loc, b_loc)], lower=True,
                                  check_finite=False)
            schur = h[np.ix_(b_loc, b_loc)] - w.T @ w
            schur[np.diag_indices_from(schur)] += l2
            try:
                low_b = _cholesky(schur, lower=True, check_finite=False)
            except np.linalg.LinAlgError:
                pass
            else:
                k, m = order.size, new.size
                grown = np.zeros((k + m, k + m))
                grown[:k, :k] = low
                grown[k:, :k] = w.T
                grown[k:, k:] = low_b
                return np.concatenate((order, new)), grown
        loc = np.searchsorted(self.cols, glob)
        sub = h[np.ix_(loc, loc)]
        sub[np.diag_indices_from(sub)] += l2
        return glob, _cholesky(sub, lower=True, check_finite=False)

    def solve(self, h: np.ndarray, act: np.ndarray, l2: float, rhs: np.ndarray
              ) -> np.ndarray | None:
        """``(H_AA + l2 I)^-1 rhs`` for the positions ``act`` of ``h`` (None: singular)."""
        glob = self.cols[act]
        try:
            order, low = self._factor(h, glob, l2)
        except np.linalg.LinAlgError:
            self._last = None
            return None
        self._last = (order, low, l2)
        idx = np.searchsorted(glob, order)             # factor order -> position in act
        y = _solve_triangular(low, rhs[idx], lower=True, check_finite=False)
        z = _solve_triangular(low, y, lower=True, trans="T", check_finite=False)
        out = np.empty_like(rhs)
        out[idx] = z
        return out


def _quadratic_step(h: np.ndarray, c: np.ndarray, z0: np.ndarray, l1: float, l2: float,
                    tol: float, factor: _Factors) -> np.ndarray:
    """Minimiser of ``z'Hz/2 - c'z + l1 |z|_1 + l2 |z|^2 / 2`` from the start ``z0``."""
    z = z0.copy()
    if l1 == 0.0:
        out = factor.solve(h, np.arange(z.size), l2, c)
        return np.linalg.solve(h + l2 * np.eye(z.size), c) if out is None else out
    _cd_quadratic_kernel(h, c, z, l1, l2, max(tol, 1e-10), 4)    # a first active set
    exact = _face_solve(h, c, z, l1, l2, factor)
    if exact is not None:
        return exact
    _cd_quadratic_kernel(h, c, z, l1, l2, tol, 100_000)
    return z


class _NetProblem:
    """A penalised Cox problem: risk sets sorted once, reused for every penalty and step.

    The information matrix is computed on a superset of the strong set (the coordinates
    the strong rule would keep a few penalties further down the path) and reused, as a
    fixed quadratic model, for as long as the steps it gives keep shrinking the KKT
    residual by a factor ``_FAST`` or more; it is recomputed at the current
    coefficients when they do not, or when a coordinate outside it enters.
    """

    def __init__(self, rs: CoxRiskSets, x: np.ndarray, alpha: float) -> None:
        self.rs = rs
        self.x = x - _weighted_mean(x, rs.weights)     # centred: the likelihood is unchanged
        self.scale = float(rs.weights.sum())
        self.alpha = alpha
        self._h: np.ndarray | None = None
        self._pos = np.full(x.shape[1], -1, dtype=np.intp)
        self.factor = _Factors()
        self._sub: np.ndarray | None = None      # the cached information on factor.cols
        self.n_hessians = 0

    def hessian(self, beta: np.ndarray, cols: np.ndarray, ahead: np.ndarray) -> np.ndarray:
        """Information / sum(w) on ``cols``, from the cache when it covers them."""
        if self._h is None or (self._pos[cols] < 0).any():
            wide = np.union1d(cols, ahead)
            design = self.rs._design(self.x[:, wide])
            self._h = self.rs._derivatives(design, beta[wide])[2] / self.scale
            self._pos[:] = -1
            self._pos[wide] = np.arange(wide.size)
            self.n_hessians += 1
            self._sub = None
        if self._sub is None or not np.array_equal(self.factor.cols, cols):
            if self._sub is None:
                self.factor.reset(cols)          # new information: forget the factors
            else:
                self.factor.cols = cols          # same information, other columns
            idx = self._pos[cols]
            self._sub = self._h[np.ix_(idx, idx)]
        return self._sub

    def stale(self) -> None:
        """Recompute the information at the next step."""
        self._h = None

    def at(self, beta: np.ndarray) -> tuple[float, np.ndarray]:
        """Log likelihood and score (all columns) at ``beta``."""
        ll, g_eta = self.rs.loglik_grad(self.x @ beta)
        return ll, g_eta @ self.x

    def kkt(self, beta: np.ndarray, score: np.ndarray, lam: float) -> np.ndarray:
        """Per coordinate: by how much the subgradient condition fails (objective scale)."""
        g = -score / self.scale + lam * (1 - self.alpha) * beta
        l1 = lam * self.alpha
        out = np.abs(g + l1 * np.sign(beta))
        zero = beta == 0
        out[zero] = np.maximum(np.abs(g[zero]) - l1, 0.0)
        return out

    def newton(self, beta, ll, score, cols, ahead, lam, max_iter, tol):
        """Proximal Newton steps on the coordinates ``cols`` (the others stay 0)."""
        l1, l2 = lam * self.alpha, lam * (1 - self.alpha)
        b = beta[cols]
        obj = -ll / self.scale + _enet_penalty(b, lam, self.alpha)
        resid = self.kkt(beta, score, lam)[cols]
        xs = self.x[:, cols]
        for it in range(1, max_iter + 1):
            h = self.hessian(beta, cols, ahead)
            z = _quadratic_step(h, h @ b + score[cols] / self.scale, b, l1, l2, tol,
                                self.factor)
            d = z - b
            step = 1.0
            for _ in range(60):                    # backtrack until the objective decreases
                new = b + step * d
                new_ll = self.rs.loglik(xs @ new)
                new_obj = -new_ll / self.scale + _enet_penalty(new, lam, self.alpha)
                if new_obj <= obj + 1e-12 * abs(obj):
                    break
                step /= 2
            b, obj = new, new_obj
            beta = np.zeros_like(beta)
            beta[cols] = b
            ll, score = self.at(beta)
            before, resid = resid, self.kkt(beta, score, lam)[cols]
            # converged when the Newton step the residual still asks for is below tol
            # (glmnet's criterion max_j H_jj step_j^2 < tol, with step_j ~ resid_j / H_jj)
            if float(np.max(resid * resid / np.maximum(np.diag(h), 1e-300),
                            initial=0.0)) < tol:
                return beta, ll, score, it, True
            if step < 1.0 or resid.max() > _FAST * before.max() \
                    or self.rs.n * cols.size ** 2 < _CHEAP_INFO:
                self.stale()
        return beta, ll, score, max_iter, False


def cox_elastic_net_path(X: Any, time: Any, event: Any, *, penalties: Any,
                         l1_ratio: float = 0.0, weights: Any = None, strata: Any = None,
                         ties: str = "breslow", init: Any = None, max_iter: int = 100,
                         tol: float = 1e-18, start: Any = None) -> CoxNetPath:
    """Elastic-net Cox regression along a path of penalties (glmnet's objective).

    Minimises ``-loglik(beta) / sum(w) + lambda * (l1_ratio * |beta|_1 + (1 - l1_ratio)
    / 2 * |beta|_2^2)`` for each ``lambda`` in ``penalties`` (decreasing), each fit
    warm-started at the previous solution. As glmnet, only the *strong set* enters a fit
    (the non-zero coefficients and the coordinates the sequential strong rule of
    Tibshirani et al. 2012 keeps, ``|score_j| / sum(w) >= l1_ratio * (2 lambda -
    lambda_prev)``); the KKT conditions of every other coordinate are checked after the
    fit and violators enter for a refit. The risk sets are sorted once for the whole
    path. Each fit takes proximal Newton steps with the exact information matrix of the
    strong set; the penalised quadratic model is solved by coordinate descent (to find
    its active set) and then exactly on that set (an active-set method), so the path is
    converged to ``tol`` even where coordinate descent alone crawls (many active
    coordinates, ill-conditioned information).

    Parameters
    ----------
    X : array-like of shape (n, p)
        Used as given: standardise first for glmnet's ``standardize = TRUE``
        (:meth:`survrad.models.CoxModel.fit_path` does).
    time, event, weights, strata, start
        As in :func:`cox_fit`.
    penalties : array-like of shape (m,)
        glmnet's ``lambda`` values (> 0 for the strong rule, any order; fitted from the
        largest down, returned in the order given).
    l1_ratio : float, default 0
        glmnet's ``alpha`` in [0, 1]: 0 ridge, 1 lasso.
    ties : {"breslow", "efron"}, default "breslow" (glmnet's)
    init : array-like of shape (p,), optional
        Warm start of the first (largest) penalty.
    max_iter : int, default 100
        Newton steps per penalty.
    tol : float, default 1e-18
        Convergence when the Newton step the KKT residual still asks for is below it,
        ``max_j resid_j^2 / H_jj < tol`` (glmnet's ``max_j H_jj step_j^2`` criterion on
        the next step rather than the last one; ``H`` the information / ``sum(w)``).

    Returns
    -------
    CoxNetPath

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 5))
    >>> t = rng.exponential(np.exp(-x[:, 0]))
    >>> path = cox_elastic_net_path(x, t, np.ones(200), penalties=[0.3, 0.1, 0.01],
    ...                             l1_ratio=1.0)
    >>> (path.coef != 0).sum(axis=1).tolist()      # more coefficients as lambda falls
    [1, 1, 5]
    """
    x = np.asarray(X, dtype=float)
    rs = CoxRiskSets(time, event, weights=weights, strata=strata, ties=ties, start=start)
    if x.ndim != 2 or x.shape[0] != rs.n:
        raise ValueError(f"X has shape {x.shape}; expected ({rs.n}, p).")
    lams = np.asarray(penalties, dtype=float).ravel()
    if not 0.0 <= l1_ratio <= 1.0 or not lams.size or not np.isfinite(lams).all() \
            or (lams < 0).any():
        raise ValueError("penalties must be finite numbers >= 0 and l1_ratio in [0, 1].")
    prob = _NetProblem(rs, x, float(l1_ratio))
    p = x.shape[1]
    beta = np.zeros(p) if init is None else np.asarray(init, dtype=float).ravel().copy()
    ll_null = rs.loglik(np.zeros(rs.n))
    ll, score = prob.at(beta)
    order = np.argsort(-lams, kind="stable")
    m = lams.size
    coef, scores = np.zeros((m, p)), np.zeros((m, p))
    logliks, n_iter, conv = np.zeros(m), np.zeros(m, dtype=np.int64), np.zeros(m, dtype=bool)
    prev = float(np.max(np.abs(score))) / prob.scale / max(l1_ratio, 1e-3)
    for rank, k in enumerate(order):
        lam = float(lams[k])
        strong = _strong_set(prob, beta, score, lam, prev)
        further = float(lams[order[min(rank + _AHEAD, m - 1)]])
        ahead = np.flatnonzero(_strong_set(prob, beta, score, further, prev))
        steps = 0
        ok = True
        while True:
            cols = np.flatnonzero(strong)
            if not (prob.kkt(beta, score, lam) > _KKT_SLACK * lam).any():
                break             # the warm start already solves it (e.g. lambda_max)
            if cols.size:
                beta, ll, score, it, ok = prob.newton(beta, ll, score, cols, ahead, lam,
                                                      max_iter, tol)
            else:
                it, ok = 0, True
            steps += it
            viol = ~strong & (prob.kkt(beta, score, lam) > 0.0)
            if not viol.any():
                break
            strong |= viol
        coef[k], scores[k], logliks[k], n_iter[k], conv[k] = beta, score, ll, steps, ok
        prev = lam
    objective = -logliks / prob.scale + np.array(
        [_enet_penalty(b, lam, prob.alpha) for b, lam in zip(coef, lams, strict=True)])
    return CoxNetPath(penalties=lams, coef=coef, loglik=logliks, loglik_null=ll_null,
                      objective=objective, n_iter=n_iter, converged=conv, score=scores)


def _strong_set(prob: _NetProblem, beta: np.ndarray, score: np.ndarray, lam: float,
                prev: float) -> np.ndarray:
    """The non-zero coefficients and the sequential strong rule's survivors."""
    if prob.alpha == 0.0:                           # ridge: every coefficient is non-zero
        return np.ones(beta.size, dtype=bool)
    keep = np.abs(score) / prob.scale >= prob.alpha * (2 * lam - prev)
    return keep | (beta != 0)


def cox_fit_elastic_net(X: Any, time: Any, event: Any, *, penalty: float,
                        l1_ratio: float = 0.0, weights: Any = None, strata: Any = None,
                        ties: str = "breslow", init: Any = None, max_iter: int = 100,
                        tol: float = 1e-18, start: Any = None) -> CoxNetFit:
    """Elastic-net Cox regression with glmnet's objective at one penalty.

    Minimises ``-loglik(beta) / sum(w) + penalty * (l1_ratio * |beta|_1
    + (1 - l1_ratio) / 2 * |beta|_2^2)``: glmnet's ``lambda`` is ``penalty`` and its
    ``alpha`` is ``l1_ratio``. ``X`` is used as given: standardise it first for
    glmnet's ``standardize = TRUE`` (``survrad.models.CoxModel`` does). The one-penalty
    path of :func:`cox_elastic_net_path` (strong rule, proximal Newton steps, exact
    active-set solves of each penalised quadratic model).

    Parameters
    ----------
    X : array-like of shape (n, p)
    time, event, weights, strata
        As in :func:`cox_fit`.
    penalty : float
        ``lambda >= 0``.
    l1_ratio : float, default 0
        ``alpha`` in [0, 1]: 0 ridge, 1 lasso.
    ties : {"breslow", "efron"}, default "breslow" (glmnet's)
    init : array-like of shape (p,), optional
        Warm start.
    max_iter : int, default 100
        Newton steps.
    tol : float, default 1e-18
        As in :func:`cox_elastic_net_path`.
    start : array-like of shape (n,), optional
        Entry times of counting-process rows (as in :func:`cox_fit`).

    Returns
    -------
    CoxNetFit

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(100, 3))
    >>> t = rng.exponential(np.exp(-x[:, 0]))
    >>> fit = cox_fit_elastic_net(x, t, np.ones(100), penalty=0.1, l1_ratio=1.0)
    >>> bool(fit.converged), bool(fit.coef[1] == 0.0)
    (True, True)
    """
    if penalty < 0 or not 0.0 <= l1_ratio <= 1.0:
        raise ValueError("penalty must be >= 0 and l1_ratio in [0, 1].")
    path = cox_elastic_net_path(X, time, event, penalties=[penalty], l1_ratio=l1_ratio,
                                weights=weights, strata=strata, ties=ties, init=init,
                                max_iter=max_iter, tol=tol, start=start)
    return CoxNetFit(path.coef[0], float(path.loglik[0]), float(path.objective[0]),
                     path.score[0], int(path.n_iter[0]), bool(path.converged[0]))

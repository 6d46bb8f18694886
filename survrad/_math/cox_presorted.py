"""Cox fits on rows already sorted for the risk sets: compiled kernels (layer 0).

The bootstrap's fast path (:mod:`survrad.evaluation.bootstrap`) refits an unpenalised
Cox model and a calibration slope in every replicate. A replicate's rows are a
multiset of the cohort's rows, so their risk-set order (decreasing time, censored rows
before deaths among tied times, as in :class:`survrad._math.coxph.CoxRiskSets`) is the
cohort's order with each row repeated as often as it was drawn: the cohort is sorted
once and no replicate sorts again (:func:`risk_set_order`, :func:`resample_order`).

* :func:`cox_fit_presorted`: the Newton-Raphson iteration of
  :func:`survrad._math.coxph.cox_fit` (its own step and step-halving code, its
  convergence and "infinite coefficient" tests) with the log partial likelihood, score
  and information computed by one compiled pass over the sorted rows (Efron or Breslow
  ties, unit case weights, no strata). Same numbers as ``cox_fit`` up to the order of
  floating-point additions (about 1e-15 relative).
* :func:`cox_slope` / :func:`cox_slope_presorted`: the one-covariate Cox model of an
  outcome on a linear predictor (the calibration slope of ``rms::validate``), a
  compiled 1-D Newton-Raphson with the same iteration, tests and failures as
  ``cox_fit(lp[:, None], time, event)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from survrad._math._jit import compiled
from survrad._math.coxph import _VANISHED, _newton, _solve

__all__ = ["cox_fit_presorted", "cox_slope", "cox_slope_presorted", "resample_order",
           "risk_set_order", "standardised_resample"]

_TOLER_CHOL = np.finfo(float).eps ** 0.75     # R's coxph.control(toler.chol), as cox_fit


def risk_set_order(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Positions by decreasing time, censored before deaths among tied times.

    The order of :class:`survrad._math.coxph.CoxRiskSets` (a stable sort).

    Examples
    --------
    >>> risk_set_order(np.array([1.0, 3.0, 3.0, 2.0]), np.array([1, 1, 0, 0])).tolist()
    [2, 1, 3, 0]
    """
    return np.lexsort((np.asarray(event) != 0, -np.asarray(time, dtype=float)))


def resample_order(order: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The rows of a resample (``positions``, repeats allowed) in risk-set order.

    ``order`` is :func:`risk_set_order` of the whole sample; the result lists original
    row positions, each as often as it was drawn: a counting sort, O(n).

    Examples
    --------
    >>> order = np.array([2, 1, 3, 0])
    >>> resample_order(order, np.array([0, 2, 2])).tolist()
    [2, 2, 0]
    """
    counts = np.bincount(positions, minlength=order.size)
    return np.repeat(order, counts[order])


# one pass over the rows is the point of this kernel (a split costs a pass per part)
@compiled
def _standardised_kernel(x, positions, rows, rtol):      # pragma: no cover (compiled)
    """:func:`standardised_resample` in one compiled pass per step."""
    n, p = positions.size, x.shape[1]
    total = np.zeros(p)
    lo = np.full(p, np.inf)
    hi = np.full(p, -np.inf)
    for i in range(n):
        r = positions[i]
        for j in range(p):
            v = x[r, j]
            total[j] += v
            lo[j] = min(lo[j], v)
            hi[j] = max(hi[j], v)
    mean = total / n
    squares = np.zeros(p)
    for i in range(n):
        r = positions[i]
        for j in range(p):
            d = x[r, j] - mean[j]
            squares[j] += d * d
    sd = np.sqrt(squares / n)
    constant = False
    tiny = np.finfo(np.float64).tiny
    for j in range(p):
        mag = max(abs(lo[j]), abs(hi[j]))
        if hi[j] - lo[j] <= rtol * max(mag, tiny):
            constant = True
    if constant:                      # the caller declines; no division by a zero SD
        return mean, sd, constant, np.empty((0, p))
    xs = np.empty((rows.size, p))
    for i in range(rows.size):
        r = rows[i]
        for j in range(p):
            xs[i, j] = (x[r, j] - mean[j]) / sd[j]
    return mean, sd, constant, xs


def standardised_resample(x: np.ndarray, positions: np.ndarray, rows: np.ndarray, *,
                          rtol: float = 1e-12
                          ) -> tuple[np.ndarray, np.ndarray, bool, np.ndarray]:
    """The screens and the standardisation :meth:`CoxModel.fit` applies to a resample.

    ``x[positions]`` (the resample in drawing order) gives the 1/n mean and standard
    deviation exactly as ``CoxModel``'s ``_scale`` computes them (sums over the rows in
    that order) and whether a column is constant (``constant_columns``' rule);
    ``xs`` holds ``(x[rows] - mean) / sd``, the same rows standardised in the order
    ``rows`` gives (risk-set order), and has no rows when a column is constant. One
    compiled pass instead of five array passes.

    Parameters
    ----------
    x : ndarray (n, p), C order
    positions, rows : ndarray of int
        The resample's row positions as drawn, and the same multiset in risk-set order.
    rtol : float, default 1e-12

    Returns
    -------
    mean, sd : ndarray (p,)
    constant : bool
    xs : ndarray (len(rows), p)

    Examples
    --------
    >>> x = np.array([[1.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    >>> mean, sd, constant, xs = standardised_resample(x, np.array([2, 0, 0]),
    ...                                                 np.array([0, 0, 2]))
    >>> mean.tolist(), bool(constant)
    ([2.0, 5.0], True)
    """
    return _standardised_kernel(np.ascontiguousarray(x, dtype=float),
                                np.ascontiguousarray(positions, dtype=np.int64),
                                np.ascontiguousarray(rows, dtype=np.int64), float(rtol))


@compiled
def _derivatives_kernel(x, time, dead, beta, efron):  # noqa: C901  # pragma: no cover
    """One pass over sorted rows ``x`` at ``beta``: the parts of loglik, score, information.

    Rows are by decreasing time, censored before deaths among tied times. Running
    risk-set sums ``S0, S1`` of ``r = exp(eta - max eta)``; per event block ``j`` its
    Efron (or Breslow) denominators formed as :func:`survrad._math.coxph._core` forms
    them (``S0 - f (S0 - S0_lo)``, ``S0_lo`` before the block's deaths entered). Returns
    loglik, score, the row weights ``v`` of the first information term, and per block
    ``S1`` after (``g``) and before (``g_lo``) its deaths with the weights ``qa, qb, qc``
    of the second term (see ``_event_info``).
    """
    n, p = x.shape
    eta = np.empty(n)
    c = -np.inf
    for i in range(n):
        s = 0.0
        for a in range(p):
            s += x[i, a] * beta[a]
        eta[i] = s
        if s > c:
            c = s
    r = np.empty(n)
    for i in range(n):
        r[i] = math.exp(eta[i] - c)
    n_blocks = 0
    i = 0
    while i < n:                              # event blocks: distinct times with a death
        j = i
        has = False
        while j < n and time[j] == time[i]:
            has = has or dead[j]
            j += 1
        n_blocks += has
        i = j
    g = np.zeros((n_blocks, p))
    g_lo = np.zeros((n_blocks, p))
    qa = np.zeros(n_blocks)
    qb = np.zeros(n_blocks)
    qc = np.zeros(n_blocks)
    hz = np.zeros(n_blocks)                   # sum of the block's hazards 1 / den
    hf = np.zeros(n_blocks)                   # sum of f / den
    block_of = np.full(n, -1)                 # per row: its block (-1: a time without death)
    s0 = 0.0
    s1 = np.zeros(p)
    score = np.zeros(p)
    ll = 0.0
    log_den = 0.0
    n_dead = 0
    blk = 0
    i = 0
    while i < n:
        t = time[i]
        j = i
        while j < n and time[j] == t:
            j += 1
        k = i
        while k < j and not dead[k]:            # censored rows of this time enter first
            s0 += r[k]
            for a in range(p):
                s1[a] += r[k] * x[k, a]
            k += 1
        d = j - k
        if d == 0:
            i = j
            continue
        s0_lo = s0
        for a in range(p):
            g_lo[blk, a] = s1[a]
        for q in range(k, j):                   # then the deaths
            s0 += r[q]
            ll += eta[q]
            block_of[q] = blk
            for a in range(p):
                s1[a] += r[q] * x[q, a]
                score[a] += x[q, a]
        for a in range(p):
            g[blk, a] = s1[a]
        for q in range(i, k):
            block_of[q] = blk
        n_dead += d
        tied = efron and d > 1
        for m in range(d):
            f = m / d if tied else 0.0
            den = s0 - f * (s0 - s0_lo) if tied else s0
            log_den += math.log(den)
            h = 1.0 / den
            h2 = h / den
            hz[blk] += h
            hf[blk] += f * h
            qa[blk] += (1.0 - f) * (1.0 - f) * h2
            qb[blk] += f * (1.0 - f) * h2
            qc[blk] += f * f * h2
            for a in range(p):
                score[a] -= ((1.0 - f) * s1[a] + f * g_lo[blk, a]) * h
        blk += 1
        i = j
    # v_i = r_i (hazards of the blocks whose risk set holds i - own block's f-weighted part)
    v = np.empty(n)
    cum = 0.0
    nxt = n_blocks
    for i in range(n - 1, -1, -1):
        b = block_of[i]
        if b >= 0 and b < nxt:
            for bb in range(b, nxt):
                cum += hz[bb]
            nxt = b
        v[i] = r[i] * (cum - (hf[b] if (b >= 0 and dead[i]) else 0.0))
    ll = ll - log_den - c * n_dead
    return ll, score, v, g, g_lo, qa, qb, qc


class _Presorted:
    """Sorted rows with the ``_derivatives(design, beta)`` method :func:`_newton` calls."""

    def __init__(self, time: np.ndarray, dead: np.ndarray, efron: bool) -> None:
        self.time, self.dead, self.efron = time, dead, efron
        self.design_t: np.ndarray = np.zeros((0, 0))

    def _derivatives(self, design: np.ndarray, beta: np.ndarray
                     ) -> tuple[float, np.ndarray, np.ndarray]:
        ll, score, v, g, g_lo, qa, qb, qc = _derivatives_kernel(
            design, self.time, self.dead, beta, self.efron)
        info = (self.design_t * v) @ design
        info -= (g.T * qa) @ g
        if self.efron:
            cross = (g.T * qb) @ g_lo
            info -= cross
            info -= cross.T
            info -= (g_lo.T * qc) @ g_lo
        return ll, score, info


def cox_fit_presorted(x: np.ndarray, time: np.ndarray, dead: np.ndarray, *,
                      ties: str = "efron", max_iter: int = 50, tol: float = 1e-9
                      ) -> tuple[np.ndarray, bool]:
    """Unpenalised Cox coefficients of rows sorted by :func:`risk_set_order`.

    :func:`survrad._math.coxph.cox_fit` (unit weights, no strata, start at 0) with the
    derivatives of one compiled pass: the same Newton steps, step halving, convergence
    test and infinite-coefficient test, so ``converged`` is ``cox_fit``'s and the
    coefficients agree to rounding.

    Parameters
    ----------
    x : ndarray (n, p)
        Covariates of the sorted rows (centred here, as ``cox_fit`` does).
    time : ndarray (n,)
        Non-increasing times.
    dead : ndarray of bool (n,)
        Events; among tied times the censored rows come first.
    ties : {"efron", "breslow"}
    max_iter : int
    tol : float

    Returns
    -------
    coef : ndarray (p,)
    converged : bool

    Examples
    --------
    >>> from survrad._math.coxph import cox_fit
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 2)); t = np.ceil(rng.exponential(np.exp(-x[:, 0])) * 5)
    >>> e = rng.random(200) < 0.7
    >>> o = risk_set_order(t, e)
    >>> coef, ok = cox_fit_presorted(x[o], t[o], e[o])
    >>> ok, bool(np.allclose(coef, cox_fit(x, t, e).coef, rtol=1e-12, atol=0))
    (True, True)
    """
    x = np.asarray(x, dtype=float)
    p = x.shape[1]
    centred = np.ascontiguousarray(x - (np.ones(x.shape[0]) @ x) / x.shape[0])
    rs = _Presorted(np.ascontiguousarray(time, dtype=float),
                    np.ascontiguousarray(dead, dtype=np.bool_), ties == "efron")
    rs.design_t = np.ascontiguousarray(centred.T)
    beta = np.zeros(p)
    ll, u, info = rs._derivatives(centred, beta)
    info0 = np.diag(info).copy()
    beta, ll, _, u, info, _, converged = _newton(rs, centred, beta, ll, ll, u, info, 0.0,
                                                 max_iter, tol)
    step = np.abs(_solve(info, u))
    infinite = ((step > tol) & (step > np.sqrt(tol) * np.abs(beta))) | \
        (np.diag(info) < _VANISHED * info0)
    return beta, bool(converged and not infinite.any())


@compiled
def _slope_derivatives(x, time, dead, beta, efron):     # pragma: no cover (compiled)
    """:func:`_derivatives_kernel` for one covariate: (loglik, score, information)."""
    n = x.size
    c = -np.inf
    for i in range(n):
        if x[i] * beta > c:
            c = x[i] * beta
    s0 = s1 = s2 = 0.0
    ll = log_den = score = info = 0.0
    n_dead = 0
    i = 0
    while i < n:
        t = time[i]
        j = i
        while j < n and time[j] == t:
            j += 1
        k = i
        while k < j and not dead[k]:
            r = math.exp(x[k] * beta - c)
            s0 += r
            s1 += r * x[k]
            s2 += r * x[k] * x[k]
            k += 1
        d = j - k
        if d > 0:
            s0_lo, s1_lo, s2_lo = s0, s1, s2
            for q in range(k, j):
                r = math.exp(x[q] * beta - c)
                s0 += r
                s1 += r * x[q]
                s2 += r * x[q] * x[q]
                ll += x[q] * beta
                score += x[q]
            n_dead += d
            for m in range(d):
                f = m / d if (efron and d > 1) else 0.0
                den = s0 - f * (s0 - s0_lo)
                xb = (s1 - f * (s1 - s1_lo)) / den
                log_den += math.log(den)
                score -= xb
                info += (s2 - f * (s2 - s2_lo)) / den - xb * xb
        i = j
    return ll - log_den - c * n_dead, score, info


def _slope_newton(x: np.ndarray, time: np.ndarray, dead: np.ndarray, efron: bool,
                  max_iter: int, tol: float) -> tuple[float, bool]:
    """``cox_fit``'s Newton iteration (``_newton`` and its final tests) for p = 1.

    Returns (coef, converged). Steps solve ``info * step = u`` as LAPACK's Cholesky
    does for a 1 x 1 matrix (``(u / sqrt(info)) / sqrt(info)``); a pivot below R's
    ``toler.chol`` (here: information <= 0) gives a zero step, as ``_chsolve2``.
    """
    beta = 0.0
    ll, u, info = _slope_derivatives(x, time, dead, beta, efron)
    info0 = info
    new = beta + _step1(info, u)
    halving = 0
    converged = False
    for _ in range(max_iter):
        n_ll, n_u, n_info = _slope_derivatives(x, time, dead, new, efron)
        finite = math.isfinite(n_ll) and math.isfinite(n_info)
        if finite and ((abs(n_ll - ll) <= tol * abs(n_ll)) if n_ll != 0 else ll == 0):
            beta, ll, u, info = new, n_ll, n_u, n_info
            converged = True
            break
        if not finite or n_ll < ll:
            halving += 1
            new = (new + halving * beta) / (halving + 1)
            continue
        halving = 0
        beta, ll, u, info = new, n_ll, n_u, n_info
        new = beta + _step1(info, u)
    step = abs(_step1(info, u))
    infinite = (step > tol and step > math.sqrt(tol) * abs(beta)) or info < 1e-8 * info0
    return beta, converged and not infinite


def _step1(info: float, u: float) -> float:
    """``_solve`` for a 1 x 1 information."""
    if not info > 0.0 or not math.isfinite(info):
        return 0.0
    s = math.sqrt(info)
    return (u / s) / s


def cox_slope_presorted(lp: np.ndarray, time: np.ndarray, dead: np.ndarray, *,
                        ties: str = "efron", max_iter: int = 50, tol: float = 1e-9) -> float:
    """Calibration slope of sorted rows (see :func:`cox_slope`); ValueError when undefined."""
    lp = np.asarray(lp, dtype=float)
    if not dead.any():
        raise ValueError("no events: a calibration slope cannot be estimated.")
    if np.ptp(lp) == 0:
        raise ValueError("the predictions are all equal: a calibration slope is undefined.")
    centred = lp - (np.ones(lp.size) @ lp) / lp.size
    coef, ok = _slope_newton(centred, np.ascontiguousarray(time, dtype=float),
                             np.ascontiguousarray(dead, dtype=np.bool_), ties == "efron",
                             max_iter, tol)
    if not ok or not math.isfinite(coef):
        raise ValueError("the Cox model for the calibration slope did not converge "
                         "(predictions separate the outcomes perfectly?).")
    return float(coef)


def cox_slope(time: Any, event: Any, lp: Any, *, ties: str = "efron") -> float:
    """Coefficient of a Cox model of ``(time, event)`` on the linear predictor ``lp``.

    The calibration slope of ``rms::validate`` ("Slope"): a compiled one-covariate
    Newton-Raphson with the iteration, convergence test and failures of
    ``cox_fit(lp[:, None], time, event)`` (R's ``coxph(Surv(time, event) ~ lp)``).

    Raises
    ------
    ValueError
        No event, constant ``lp``, or no convergence (``lp`` separates the outcomes).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=500)
    >>> t = rng.exponential(np.exp(-lp))
    >>> round(cox_slope(t, np.ones(500, bool), 2 * lp), 1)
    0.5
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event) != 0
    order = risk_set_order(t, e)
    return cox_slope_presorted(np.asarray(lp, dtype=float)[order], t[order], e[order],
                               ties=ties)

"""Cox proportional-hazards kernels: partial likelihood, Newton-Raphson, residuals (layer 0).

Pure numpy. Every quantity is computed with one sort and cumulative sums over the
risk sets, so the cost is O(n log n + n p^2) per evaluation with no Python loop over
patients (the only loop is over strata). Ties are handled as in R's ``survival``
package (``coxph.fit`` / ``coxfit6.c``):

* Breslow: an event time with tied deaths ``D`` contributes
  ``sum_D w_i eta_i - W_D log S0``;
* Efron: ``sum_D w_i eta_i - (W_D / d) sum_{k=0}^{d-1} log(S0 - (k/d) S0_D)``,

where ``S0 = sum_{risk set} w_i exp(eta_i)``, ``S0_D`` the same sum over the ``d`` tied
deaths and ``W_D`` their total case weight. Case weights follow R's ``weights=``
semantics (frequency-like weights, strictly positive).

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
cox_fit_elastic_net
    glmnet's elastic-net Cox objective by proximal Newton + coordinate descent.
CoxRiskSets
    The prepared risk sets behind all of the above; reuse one for repeated evaluations
    (``loglik_grad``), and its ``zph_score`` gives the building blocks of R's
    ``cox.zph``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from survrad._validation import check_choice

__all__ = [
    "CoxFit",
    "CoxNetFit",
    "CoxRiskSets",
    "cox_baseline_hazard",
    "cox_fit",
    "cox_fit_elastic_net",
    "cox_information",
    "cox_partial_loglik_eta",
    "cox_robust_variance",
    "cox_score_residuals",
]

_TIES = ("efron", "breslow")
_VANISHED = 1e-8   # information at the fit / at the start below this: coefficient diverged


# --------------------------------------------------------------------------- risk sets
@dataclass(frozen=True)
class _Stratum:
    """Sorted risk-set bookkeeping for one stratum (all arrays in sorted order)."""

    index: np.ndarray        # positions in the caller's arrays, sorted by time
    w: np.ndarray            # case weights
    delta: np.ndarray        # event indicator as float
    block: np.ndarray        # distinct-time block of each row
    starts: np.ndarray       # first row of each block
    n_blocks: int
    rep: np.ndarray          # one entry per death: its block (sorted)
    frac: np.ndarray         # per death: k/d (Efron) or 0 (Breslow)
    meanwt: np.ndarray       # per death: W_D / d of its block
    ev_blocks: np.ndarray    # blocks with at least one death
    ev_starts: np.ndarray    # first position of each event block inside ``rep``
    ev_count: np.ndarray     # deaths per event block
    label: Any               # stratum label


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

    Examples
    --------
    >>> rs = CoxRiskSets([1.0, 2.0, 3.0], [1, 1, 0])
    >>> ll, grad = rs.loglik_grad(np.zeros(3))
    >>> bool(abs(ll - (-np.log(3) - np.log(2))) < 1e-12)
    True
    """

    def __init__(self, time: Any, event: Any, *, weights: Any = None, strata: Any = None,
                 ties: str = "efron") -> None:
        time = np.asarray(time, dtype=float).ravel()
        event = np.asarray(event).ravel()
        n = time.shape[0]
        if event.shape[0] != n:
            raise ValueError(f"time and event differ in length: {n} vs {event.shape[0]}.")
        if not np.all(np.isfinite(time)):
            raise ValueError("time contains NaN or infinite values.")
        if not np.all(np.isin(event, (0, 1))):
            raise ValueError("event must be coded 0/1 (or False/True).")
        self.ties = check_choice("ties", ties, _TIES)
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).ravel()
        if w.shape[0] != n:
            raise ValueError(f"weights has length {w.shape[0]}, expected {n}.")
        if not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise ValueError("weights must be finite and strictly positive (as in R's coxph).")
        self.n = n
        self.time = time
        self.event = event.astype(float)
        self.weights = w
        if strata is None:
            codes, labels = np.zeros(n, dtype=np.int64), np.array([None], dtype=object)
        else:
            strata = np.asarray(strata).ravel()
            if strata.shape[0] != n:
                raise ValueError(f"strata has length {strata.shape[0]}, expected {n}.")
            labels, codes = np.unique(strata, return_inverse=True)
        self.strata_labels = labels
        order = np.lexsort((time, codes))
        bounds = np.flatnonzero(np.diff(codes[order])) + 1
        self.strata = [self._stratum(idx, labels[codes[idx[0]]])
                       for idx in np.split(order, bounds)]

    def _stratum(self, idx: np.ndarray, label: Any) -> _Stratum:
        t = self.time[idx]
        delta = self.event[idx]
        w = self.weights[idx]
        new = np.ones(t.shape[0], dtype=bool)
        new[1:] = t[1:] != t[:-1]
        starts = np.flatnonzero(new)
        block = np.cumsum(new) - 1
        nb = starts.shape[0]
        nd = np.bincount(block, weights=delta, minlength=nb)
        wd = np.bincount(block, weights=w * delta, minlength=nb)
        ev_blocks = np.flatnonzero(nd > 0)
        cnt = nd[ev_blocks].astype(np.int64)
        rep = np.repeat(ev_blocks, cnt)
        ev_starts = np.cumsum(cnt) - cnt
        if self.ties == "efron":
            k = np.arange(rep.shape[0]) - np.repeat(ev_starts, cnt)
            frac = k / np.repeat(cnt, cnt)
        else:
            frac = np.zeros(rep.shape[0])
        meanwt = np.repeat(wd[ev_blocks] / cnt, cnt) if cnt.size else np.zeros(0)
        return _Stratum(idx, w, delta, block, starts, nb, rep, frac, meanwt,
                        ev_blocks, ev_starts, cnt, label)

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
            e = eta[st.index]
            part = _core(st, e)
            ll += part["loglik"]
            grad[st.index] = st.w * st.delta - part["v"]
        return ll, grad

    def loglik(self, eta: Any) -> float:
        """Log partial likelihood of ``eta``."""
        eta = self._check_eta(eta)
        return float(sum(_core(st, eta[st.index])["loglik"] for st in self.strata))

    def derivatives(self, X: np.ndarray, beta: np.ndarray) -> tuple[float, np.ndarray,
                                                                     np.ndarray]:
        """Log partial likelihood, score ``U`` and information ``I`` (= -Hessian) at ``beta``.

        ``X`` should be centred (column means near 0) to avoid cancellation in ``I``.
        """
        p = X.shape[1]
        eta = X @ beta
        ll, score, info = 0.0, np.zeros(p), np.zeros((p, p))
        for st in self.strata:
            x = X[st.index]
            part = _core(st, eta[st.index])
            ll += part["loglik"]
            g = st.w * st.delta - part["v"]
            score += x.T @ g
            m = _xbar_events(st, x, part)[0] * np.sqrt(st.meanwt)[:, None]
            info += (x.T * part["v"]) @ x - m.T @ m
        return ll, score, info

    def score_residuals(self, X: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """Unweighted score residuals (R's ``residuals(fit, type = "score")``), shape (n, p)."""
        eta = X @ beta
        out = np.empty_like(X, dtype=float)
        for st in self.strata:
            x = X[st.index]
            e_eta = eta[st.index]
            part = _core(st, e_eta)
            out[st.index] = _score_resid_stratum(st, x, part, e_eta)
        return out

    def zph_score(self, X: np.ndarray, beta: np.ndarray,
                  gtime: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Score and information of the time-varying term ``X * g(t)`` at ``(beta, 0)``.

        The building blocks of the Grambsch-Therneau test as R's ``cox.zph``
        (survival >= 3.0, C routine ``zph1``): returns ``u`` (2p,), whose first half is
        the ordinary score, and the full ``2p x 2p`` information matrix. ``gtime`` is the
        (centred) transformed time of each subject.
        """
        p = X.shape[1]
        eta = X @ beta
        u = np.zeros(2 * p)
        info = np.zeros((2 * p, 2 * p))
        for st in self.strata:
            x = X[st.index]
            part = _core(st, eta[st.index])
            xbar = _xbar_events(st, x, part)[0]
            g_b = gtime[st.index][st.starts]
            wd = st.w * st.delta
            u[:p] += x.T @ (wd - part["v"])
            u[p:] += x.T @ (wd * gtime[st.index]) - xbar.T @ (g_b[st.rep] * st.meanwt)
            i11 = _info_weighted(st, x, part, xbar, np.ones(st.n_blocks))
            i12 = _info_weighted(st, x, part, xbar, g_b)
            i22 = _info_weighted(st, x, part, xbar, g_b * g_b)
            info += np.block([[i11, i12], [i12.T, i22]])
        return u, info

    def baseline_cumhaz(self, eta: Any) -> dict[Any, tuple[np.ndarray, np.ndarray]]:
        """Cumulative baseline hazard at ``eta = 0`` per stratum: {label: (times, cumhaz)}.

        Breslow's estimator; with ``ties="efron"`` the Efron-adjusted increments of R's
        ``survfit.coxph`` (``ctype = 2``). Pass a centred ``eta`` to keep exp() finite.
        """
        eta = self._check_eta(eta)
        out = {}
        for st in self.strata:
            e = eta[st.index]
            part = _core(st, e)
            inc = np.bincount(st.rep, part["haz"], minlength=st.n_blocks) * np.exp(-part["c"])
            t = self.time[st.index][st.starts]
            keep = np.zeros(st.n_blocks, dtype=bool)
            keep[st.ev_blocks] = True
            out[st.label] = (t[keep], np.cumsum(inc[keep]))
        return out

    def _check_eta(self, eta: Any) -> np.ndarray:
        eta = np.asarray(eta, dtype=float).ravel()
        if eta.shape[0] != self.n:
            raise ValueError(f"eta has length {eta.shape[0]}, expected {self.n}.")
        if not np.all(np.isfinite(eta)):
            raise ValueError("eta contains NaN or infinite values.")
        return eta


def _core(st: _Stratum, eta: np.ndarray) -> dict[str, Any]:
    """Per-stratum risk sums: loglik, Efron denominators, hazards and the weight ``v``.

    ``v_i = w_i exp(eta_i) (sum over event times at which i is at risk of the hazard,
    minus the Efron down-weighting at i's own death time)`` is the second term of the
    gradient with respect to eta, and the diagonal of the first Hessian term.
    """
    c = float(eta.max()) if eta.size else 0.0
    e = np.exp(eta - c)
    r = st.w * e
    s0 = np.cumsum(r[::-1])[::-1][st.starts]
    s0d = np.add.reduceat(r * st.delta, st.starts) if st.starts.size else s0
    den = s0[st.rep] - st.frac * s0d[st.rep]
    haz = st.meanwt / den
    loglik = float(np.dot(st.w * st.delta, eta) - np.sum(st.meanwt * (np.log(den) + c)))
    a = np.bincount(st.rep, haz, minlength=st.n_blocks)
    b = np.bincount(st.rep, haz * st.frac, minlength=st.n_blocks)
    cum_a = np.cumsum(a)
    v = r * (cum_a[st.block] - st.delta * b[st.block])
    return {"loglik": loglik, "e": e, "r": r, "den": den, "haz": haz, "a": a, "b": b,
            "cum_a": cum_a, "v": v, "c": c}


def _xbar_events(st: _Stratum, x: np.ndarray, part: dict) -> tuple[np.ndarray, np.ndarray]:
    """Weighted covariate means over the (Efron-adjusted) risk set at each death."""
    r = part["r"]
    s1 = np.cumsum((r[:, None] * x)[::-1], axis=0)[::-1][st.starts]
    s1d = np.add.reduceat((r * st.delta)[:, None] * x, st.starts, axis=0)
    num = s1[st.rep] - st.frac[:, None] * s1d[st.rep]
    return num / part["den"][:, None], s1d


def _info_weighted(st: _Stratum, x: np.ndarray, part: dict, xbar: np.ndarray,
                   c_b: np.ndarray) -> np.ndarray:
    """``sum_j c_j H_j``: event-time contributions to the information, weighted by ``c``."""
    a = part["a"] * c_b
    b = part["b"] * c_b
    v = part["r"] * (np.cumsum(a)[st.block] - st.delta * b[st.block])
    cw = c_b[st.rep] * st.meanwt
    return (x.T * v) @ x - (xbar * cw[:, None]).T @ xbar


def _per_block(st: _Stratum, values: np.ndarray) -> np.ndarray:
    """Sum per-death rows into per-block rows (zeros for blocks without deaths)."""
    out = np.zeros((st.n_blocks, *values.shape[1:]))
    if st.ev_blocks.size:
        out[st.ev_blocks] = np.add.reduceat(values, st.ev_starts, axis=0)
    return out


def _score_resid_stratum(st: _Stratum, x: np.ndarray, part: dict,
                         eta: np.ndarray) -> np.ndarray:
    """Score residuals of one stratum, as R's coxscore (Efron: deaths share xbar_k)."""
    xbar, _ = _xbar_events(st, x, part)
    haz = part["haz"]
    hx = _per_block(st, haz[:, None] * xbar)
    hfx = _per_block(st, (haz * st.frac)[:, None] * xbar)
    cnt = np.ones(st.n_blocks)
    cnt[st.ev_blocks] = st.ev_count
    xbar_mean = _per_block(st, xbar) / cnt[:, None]
    cum_h = part["cum_a"][st.block] - st.delta * part["b"][st.block]
    cum_hx = np.cumsum(hx, axis=0)[st.block] - st.delta[:, None] * hfx[st.block]
    e = part["e"]
    return (st.delta[:, None] * (x - xbar_mean[st.block])
            - e[:, None] * (x * cum_h[:, None] - cum_hx))


# ------------------------------------------------------------------ public functions
def cox_partial_loglik_eta(eta: Any, time: Any, event: Any, *, weights: Any = None,
                           strata: Any = None, ties: str = "efron") -> tuple[float, np.ndarray]:
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
    return CoxRiskSets(time, event, weights=weights, strata=strata,
                       ties=ties).loglik_grad(eta)


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
    try:
        return np.linalg.solve(info, score)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(info, score, rcond=None)[0]


def _penalised(rs: CoxRiskSets, xc: np.ndarray, beta: np.ndarray, l2: float):
    ll, u, info = rs.derivatives(xc, beta)
    if l2:
        u = u - l2 * beta
        info = info + l2 * np.eye(beta.size)
    return ll, ll - 0.5 * l2 * float(beta @ beta), u, info


def cox_fit(X: Any, time: Any, event: Any, *, weights: Any = None, strata: Any = None,
            ties: str = "efron", init: Any = None, max_iter: int = 50, tol: float = 1e-9,
            l2: float = 0.0) -> CoxFit:
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
    if not np.all(np.isfinite(x)):
        raise ValueError("X contains NaN or infinite values.")
    rs = CoxRiskSets(time, event, weights=weights, strata=strata, ties=ties)
    if x.shape[0] != rs.n:
        raise ValueError(f"X has {x.shape[0]} rows but time has {rs.n}.")
    p = x.shape[1]
    xc = x - np.average(x, axis=0, weights=rs.weights) if p else x
    beta = np.zeros(p) if init is None else np.asarray(init, dtype=float).ravel().copy()
    if beta.shape[0] != p:
        raise ValueError(f"init has length {beta.shape[0]}, expected {p}.")
    ll, obj, u, info = _penalised(rs, xc, beta, l2)
    ll_null = ll if not beta.any() else rs.loglik(np.zeros(rs.n))
    info0 = np.diag(info).copy()
    n_iter, converged = 0, p == 0
    if p:
        beta, ll, obj, u, info, n_iter, converged = _newton(rs, xc, beta, ll, obj, u, info,
                                                            l2, max_iter, tol)
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


def _newton(rs, xc, beta, ll, obj, u, info, l2, max_iter, tol):
    """R's coxfit6 iteration: Newton steps; while the objective gets worse, move back
    towards the last good point, more aggressively each time (halving, then 2/3, ...)."""
    new = beta + _solve(info, u)
    halving = 0
    for it in range(1, max_iter + 1):
        n_ll, n_obj, n_u, n_info = _penalised(rs, xc, new, l2)
        finite = np.isfinite(n_obj) and np.all(np.isfinite(n_info))
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
                    strata: Any = None, ties: str = "efron") -> np.ndarray:
    """Observed information matrix (-Hessian of the log partial likelihood) at ``coef``.

    Examples
    --------
    >>> info = cox_information(np.array([[0.0], [1.0], [2.0]]), [1, 2, 3], [1, 1, 1], [0.0])
    >>> info.shape
    (1, 1)
    """
    x, rs, beta = _prepare(X, time, event, coef, weights, strata, ties)
    return rs.derivatives(x - np.average(x, axis=0, weights=rs.weights), beta)[2]


def _prepare(X, time, event, coef, weights, strata, ties):
    x = np.asarray(X, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got shape {x.shape}.")
    rs = CoxRiskSets(time, event, weights=weights, strata=strata, ties=ties)
    beta = np.asarray(coef, dtype=float).ravel()
    if x.shape != (rs.n, beta.shape[0]):
        raise ValueError(f"X has shape {x.shape}; expected ({rs.n}, {beta.shape[0]}).")
    return x, rs, beta


def cox_score_residuals(X: Any, time: Any, event: Any, coef: Any, *, weights: Any = None,
                        strata: Any = None, ties: str = "efron",
                        weighted: bool = False) -> np.ndarray:
    """Score residuals of a Cox model, as R's ``residuals(fit, type = "score")``.

    Parameters
    ----------
    X, time, event, weights, strata, ties
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
    x, rs, beta = _prepare(X, time, event, coef, weights, strata, ties)
    res = rs.score_residuals(x, beta)
    return res * rs.weights[:, None] if weighted else res


def cox_robust_variance(X: Any, time: Any, event: Any, coef: Any, *, groups: Any,
                        weights: Any = None, strata: Any = None, ties: str = "efron",
                        keep: Any = None) -> np.ndarray:
    """Cluster-robust (sandwich) variance of Cox coefficients, as R's ``cluster()``.

    ``D`` = weighted score residuals @ inverse information (R's ``dfbeta``), summed
    within each group; the variance is ``D' D`` (no small-sample factor, as R).

    Parameters
    ----------
    X, time, event, coef, weights, strata, ties
        As in :func:`cox_score_residuals`.
    groups : array-like of shape (n,)
        Cluster labels (e.g. patient ids for several lesions or eyes per patient).
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
    x, rs, beta = _prepare(X, time, event, coef, weights, strata, ties)
    groups = np.asarray(groups).ravel()
    if groups.shape[0] != rs.n:
        raise ValueError(f"groups has length {groups.shape[0]}, expected {rs.n}.")
    xc = x - np.average(x, axis=0, weights=rs.weights)
    keep = np.ones(beta.size, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    info = rs.derivatives(xc, beta)[2][np.ix_(keep, keep)]
    resid = rs.score_residuals(xc, beta)[:, keep] * rs.weights[:, None]
    dfbeta = resid @ _safe_inverse(info)
    _, codes = np.unique(groups, return_inverse=True)
    collapsed = np.zeros((codes.max() + 1, int(keep.sum())))
    np.add.at(collapsed, codes, dfbeta)
    return collapsed.T @ collapsed


def cox_baseline_hazard(eta: Any, time: Any, event: Any, *, weights: Any = None,
                        strata: Any = None,
                        ties: str = "efron") -> dict[Any, tuple[np.ndarray, np.ndarray]]:
    """Breslow cumulative baseline hazard at ``eta = 0``, per stratum.

    With ``ties="efron"`` the increments use Efron's adjustment, as R's
    ``survfit.coxph`` does for an Efron fit; with ``"breslow"`` they are
    ``W_D / S0``. The survival of a subject with linear predictor ``eta_new`` is
    ``exp(-cumhaz(t) * exp(eta_new))`` (same origin as the ``eta`` given here, so
    pass a centred linear predictor and centre new ones the same way).

    Parameters
    ----------
    eta : array-like of shape (n,)
        Fitted linear predictor of the training subjects.
    time, event, weights, strata, ties
        As in :func:`cox_fit`.

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
    return CoxRiskSets(time, event, weights=weights, strata=strata,
                       ties=ties).baseline_cumhaz(eta)


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
    converged : bool
    """

    coef: np.ndarray
    loglik: float
    objective: float
    score: np.ndarray
    n_iter: int
    converged: bool


def _enet_penalty(beta: np.ndarray, lam: float, alpha: float) -> float:
    return lam * (alpha * np.abs(beta).sum() + 0.5 * (1 - alpha) * float(beta @ beta))


def _cd_quadratic(g: np.ndarray, h: np.ndarray, beta: np.ndarray, lam: float, alpha: float,
                  tol: float, max_sweeps: int = 1000) -> np.ndarray:
    """Minimise ``g'd + d'Hd/2 + penalty(beta + d)`` over ``z = beta + d`` by coordinates.

    glmnet's active-set scheme: a full sweep, then sweeps over the non-zero coordinates
    until they settle, repeated until a full sweep changes nothing. Scalars are Python
    floats (numpy scalar arithmetic would dominate the run time).
    """
    if alpha == 0.0:                 # ridge: the quadratic model has a closed form
        return np.linalg.solve(h + lam * np.eye(beta.size), h @ beta - g)
    zl = beta.tolist()
    gl = g.tolist()
    dl = np.diag(h).tolist()
    rows = list(h)                   # H is symmetric: row j = column j, contiguous
    q = np.zeros(beta.size)          # H @ (z - beta)
    l1, l2 = lam * alpha, lam * (1 - alpha)

    def sweep(coords) -> float:
        biggest = 0.0
        for j in coords:
            zj, dj = zl[j], dl[j]
            rho = dj * zj - gl[j] - float(q[j])
            excess = abs(rho) - l1
            new = (excess if rho > 0 else -excess) / (dj + l2) if excess > 0 else 0.0
            delta = new - zj
            if delta != 0.0:
                q.__iadd__(rows[j] * delta)
                zl[j] = new
                biggest = max(biggest, dj * delta * delta)
        return biggest

    everyone = range(len(zl))
    for _ in range(max_sweeps):
        if sweep(everyone) < tol:
            break
        active = [j for j, v in enumerate(zl) if v != 0.0]
        for _ in range(max_sweeps):
            if sweep(active) < tol:
                break
    return np.asarray(zl)


def cox_fit_elastic_net(X: Any, time: Any, event: Any, *, penalty: float,
                        l1_ratio: float = 0.0, weights: Any = None, strata: Any = None,
                        ties: str = "breslow", init: Any = None, max_iter: int = 100,
                        tol: float = 1e-14) -> CoxNetFit:
    """Elastic-net Cox regression with glmnet's objective, by proximal Newton steps.

    Minimises ``-loglik(beta) / sum(w) + penalty * (l1_ratio * |beta|_1
    + (1 - l1_ratio) / 2 * |beta|_2^2)``: glmnet's ``lambda`` is ``penalty`` and its
    ``alpha`` is ``l1_ratio``. ``X`` is used as given: standardise it first for
    glmnet's ``standardize = TRUE`` (``survrad.models.CoxModel`` does). Each step
    minimises the exact quadratic model of the log partial likelihood plus the penalty by
    cyclic coordinate descent, then backtracks until the objective decreases.

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
    tol : float, default 1e-14
        Convergence when ``max_j H_jj * step_j^2 < tol`` (glmnet's criterion; ``H`` the
        Hessian of the objective).

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
    x = np.asarray(X, dtype=float)
    rs = CoxRiskSets(time, event, weights=weights, strata=strata, ties=ties)
    if x.ndim != 2 or x.shape[0] != rs.n:
        raise ValueError(f"X has shape {x.shape}; expected ({rs.n}, p).")
    if penalty < 0 or not 0.0 <= l1_ratio <= 1.0:
        raise ValueError("penalty must be >= 0 and l1_ratio in [0, 1].")
    xc = x - np.average(x, axis=0, weights=rs.weights)
    scale = rs.weights.sum()
    beta = np.zeros(x.shape[1]) if init is None else np.asarray(init, dtype=float).copy()
    ll, u, info = rs.derivatives(xc, beta)
    obj = -ll / scale + _enet_penalty(beta, penalty, l1_ratio)
    for it in range(1, max_iter + 1):
        h = info / scale
        z = _cd_quadratic(-u / scale, h, beta, penalty, l1_ratio, tol)
        d = z - beta
        step = 1.0
        for _ in range(60):                       # backtrack until the objective decreases
            new = beta + step * d
            n_ll, n_u, n_info = rs.derivatives(xc, new)
            new_obj = -n_ll / scale + _enet_penalty(new, penalty, l1_ratio)
            if new_obj <= obj + 1e-12 * abs(obj):
                break
            step /= 2
        moved = float(np.max(np.diag(h) * (new - beta) ** 2)) if beta.size else 0.0
        beta, obj, ll, u, info = new, new_obj, n_ll, n_u, n_info
        if moved < tol:
            return CoxNetFit(beta, ll, obj, u, it, True)
    return CoxNetFit(beta, ll, obj, u, max_iter, False)

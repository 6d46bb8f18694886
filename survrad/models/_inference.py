"""Model-level statistics of fitted Cox and logistic models (layer 4, private).

The numbers behind :meth:`survrad.models.CoxModel.summary` and ``ph_test``, computed
with the numpy kernels of :mod:`survrad._math` (layer 0) because the models may not
import :mod:`survrad.evaluation` (layer 5):

* :func:`concordance_with_se`: Harrell's C of a fitted Cox model as R's ``coxph`` stores
  it (``concordancefit(y, lp, strata, cluster = cluster, reverse = TRUE, timefix =
  FALSE)``): pairs are formed within strata, and the infinitesimal-jackknife variance is
  summed over clusters when there are clusters;
* :func:`score_tests`: the score (log-rank) test at ``beta = 0`` (R's ``sctest``) and,
  with clusters, the robust score test (R's ``robscore``);
* :func:`wald_test`: ``b' V^-1 b`` with the (robust) covariance;
* :func:`scaled_schoenfeld`: the scaled Schoenfeld residuals of R's ``cox.zph``;
* :func:`zph_smooth`: the smooth and band of R's ``plot(cox.zph)``;
* :func:`harrell_c` and :func:`binary_auc` for the estimators' ``score``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from survrad._math.concordance import event_pair_counts, pair_influence
from survrad._math.coxph import CoxRiskSets
from survrad._math.splines import rcs_basis
from survrad.data.outcome import check_binary, check_y_survival
from survrad.exceptions import SchemaError

__all__ = ["binary_auc", "chi2_sf", "concordance_with_se", "harrell_c", "scaled_schoenfeld",
           "score_tests", "wald_test", "zph_smooth"]


def chi2_sf(statistic: float, df: int) -> float:
    """Upper tail probability of a chi-square (NaN statistic gives NaN).

    Examples
    --------
    >>> round(chi2_sf(3.841458820694124, 1), 6)
    0.05
    """
    if not np.isfinite(statistic) or df <= 0:
        return float("nan")
    return float(stats.chi2.sf(statistic, df))


def _collapse(values: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """Sum the rows of ``values`` within each group (no groups: unchanged)."""
    if groups is None:
        return values
    _, codes = np.unique(groups, return_inverse=True)
    out = np.zeros((codes.max() + 1, *values.shape[1:]))
    np.add.at(out, codes, values)
    return out


def concordance_with_se(time: np.ndarray, event: np.ndarray, risk: np.ndarray, *,
                        strata: np.ndarray | None = None,
                        groups: np.ndarray | None = None) -> tuple[float, float]:
    """Harrell's C (higher risk = earlier event) and its standard error, as R's ``coxph``.

    Parameters
    ----------
    time, event, risk : ndarray (n,)
        Validated right-censored outcome and risk score (the linear predictor).
    strata : ndarray (n,), optional
        Stratum codes: only pairs within a stratum are compared.
    groups : ndarray (n,), optional
        Cluster labels: the infinitesimal-jackknife terms are summed within clusters
        before squaring (R's ``concordancefit(..., cluster = )``).

    Returns
    -------
    c, se : float
        NaN when there is no comparable pair.

    Examples
    --------
    >>> time = np.array([9., 13, 13, 18, 23, 28, 31, 34, 45, 48, 161])
    >>> event = np.array([1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0], dtype=bool)
    >>> x = np.array([1., 6, 2, 7, 3, 7, 3, 8, 4, 4, 5])
    >>> c, se = concordance_with_se(time, event, -x)
    >>> round(c, 3), round(se, 4)
    (0.625, 0.1288)
    """
    strata = np.zeros(time.size, dtype=np.int64) if strata is None else strata
    totals = np.zeros(3)
    influence = np.zeros((time.size, 3))
    for level in np.unique(strata):
        rows = np.flatnonzero(strata == level)
        t, e, r = time[rows], event[rows], risk[rows]
        pairs = event_pair_counts(t, e, r)
        totals += [pairs.concordant.sum(), pairs.discordant.sum(), pairs.tied_risk.sum()]
        inf = pair_influence(t, e, r, pairs, np.ones(pairs.index.size))
        influence[rows] = np.column_stack([inf.concordant, inf.discordant, inf.tied_risk])
    conc, disc, tied = totals
    npair = conc + disc + tied
    if npair == 0:
        return float("nan"), float("nan")
    somers = (conc - disc) / npair
    dfbeta = (influence[:, 0] - influence[:, 1]) / npair - somers / npair * influence.sum(1)
    dfbeta = _collapse(dfbeta, groups)
    return float((somers + 1) / 2), float(np.sqrt(dfbeta @ dfbeta / 4))


def _quadratic(u: np.ndarray, v: np.ndarray) -> float:
    """``u' v^-1 u`` (NaN when ``v`` is singular or not finite)."""
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(u))):
        return float("nan")
    try:
        return float(u @ np.linalg.solve(v, u))
    except np.linalg.LinAlgError:
        return float("nan")


def score_tests(rs: CoxRiskSets, xs: np.ndarray,
                groups: np.ndarray | None) -> tuple[float, float | None]:
    """Score (log-rank) test of all coefficients at 0, and its cluster-robust version.

    ``U(0)' I(0)^-1 U(0)`` (R's ``sctest``); with ``groups``, R's ``robscore``:
    ``U(0)' (S' S)^-1 U(0)`` with ``S`` the weighted score residuals at ``beta = 0``
    summed within clusters. Both are invariant to rescaling the columns of ``xs``.
    """
    zero = np.zeros(xs.shape[1])
    _, u, info = rs.derivatives(xs, zero)
    score = _quadratic(u, info)
    if groups is None:
        return score, None
    resid = rs.score_residuals(xs, zero) * rs.weights[:, None]
    s = _collapse(resid, groups)
    return score, _quadratic(s.sum(axis=0), s.T @ s)


def wald_test(coef: np.ndarray, var: np.ndarray, keep: np.ndarray) -> tuple[float, int]:
    """``b' V^-1 b`` over the coefficients in ``keep`` and its degrees of freedom."""
    k = np.flatnonzero(keep)
    return _quadratic(coef[k], var[np.ix_(k, k)]), int(k.size)


# ------------------------------------------------------------------------- cox.zph
def scaled_schoenfeld(resid: np.ndarray, event_codes: np.ndarray, design: np.ndarray,
                      design_codes: np.ndarray, info: np.ndarray,
                      coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scaled Schoenfeld residuals ``beta + resid @ solve(vmean)`` of R's ``cox.zph``.

    Parameters
    ----------
    resid : ndarray (n_events, p)
        Unscaled Schoenfeld residuals (original scale of the covariates).
    event_codes : ndarray (n_events,)
        Stratum code of each event.
    design, design_codes : ndarray (n, p) and (n,)
        All rows of the fit with their stratum codes (to find covariates constant
        within a stratum).
    info : ndarray (p, p)
        Information matrix at the fitted coefficients (original scale).
    coef : ndarray (p,)

    Returns
    -------
    scaled : ndarray (n_events, p)
    var : ndarray (p, p)
        ``solve(vmean)``, R's ``cox.zph(...)$var`` (the scale of the smooth's band).

    Notes
    -----
    As survival 3.x, ``vmean`` is the information divided elementwise by ``used``: for a
    pair of covariates, the number of events of the strata in which both vary (a
    covariate constant in a stratum is not "used" there, and its residuals in that
    stratum are NaN). Without strata ``vmean = I / n_events``, so the scaled residuals
    are ``beta + n_events * V r`` (Grambsch and Therneau 1994).

    Examples
    --------
    >>> r = np.array([[0.5], [-0.5]])
    >>> codes = np.zeros(2, dtype=int)
    >>> scaled, var = scaled_schoenfeld(r, codes, np.array([[0.], [1.]]),
    ...                                 np.zeros(2, dtype=int), np.array([[0.5]]),
    ...                                 np.array([0.1]))
    >>> scaled.ravel().tolist(), var.tolist()
    ([2.1, -1.9], [[4.0]])
    """
    levels = np.unique(event_codes)
    used = np.zeros((levels.size, resid.shape[1]))
    for i, level in enumerate(levels):
        rows = design[design_codes == level]
        used[i] = np.where(np.ptp(rows, axis=0) > 0, np.sum(event_codes == level), 0)
    wtmat = sum((np.minimum.outer(u, u) for u in used), np.zeros_like(info))
    vmean = info / np.where(wtmat == 0, 1.0, wtmat)
    scaled = np.full_like(resid, np.nan)
    for i, level in enumerate(levels):
        k = np.flatnonzero(used[i] > 0)
        rows = np.flatnonzero(event_codes == level)
        if k.size:
            scaled[np.ix_(rows, k)] = np.linalg.solve(vmean[np.ix_(k, k)],
                                                      resid[np.ix_(rows, k)].T).T
    return scaled + coef, np.linalg.inv(vmean)


def zph_smooth(x: np.ndarray, y: np.ndarray, var: float, *, df: int = 4,
               n_points: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The smooth and band of R's ``plot(cox.zph)`` for one term.

    Least squares of ``y`` on a natural cubic spline of ``x`` with ``df`` degrees of
    freedom (intercept included; knots at the boundary and the ``1/(df - 1)``,
    ``2/(df - 1)``, ... quantiles of the plotting grid and ``x`` together, as R's
    ``ns(c(grid, x), df, intercept = TRUE)``), evaluated at ``n_points`` equally spaced
    values; the band is ``fit +/- 2 sqrt(var * h(x))`` with ``h(x) = b(x)' (B'B)^-1
    b(x)``, ``var`` the term's diagonal element of ``cox.zph(...)$var``. The spline
    space is the same as R's (only the basis differs), so the fit and band are R's.

    Returns
    -------
    grid, fit, half_width : ndarray (n_points,)

    Examples
    --------
    >>> x = np.linspace(0, 1, 50)
    >>> grid, fit, half = zph_smooth(x, 2 + 0 * x, 1.0)
    >>> bool(np.allclose(fit, 2.0)), grid.size
    (True, 40)
    """
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    grid = np.linspace(x.min(), x.max(), n_points)
    both = np.concatenate([grid, x])
    probs = np.linspace(0.0, 1.0, df)
    knots = np.quantile(both, probs)
    basis = np.column_stack([np.ones(both.size), rcs_basis(both, knots)])
    pmat, xmat = basis[:n_points], basis[n_points:]
    q, r = np.linalg.qr(xmat)
    if np.linalg.matrix_rank(r) < df:
        raise ValueError(f"the spline fit of the residuals is singular ({x.size} events, "
                         f"{np.unique(x).size} distinct times); too few events to smooth.")
    coef = np.linalg.solve(r, q.T @ y)
    fit = pmat @ coef
    rinv = np.linalg.inv(r)
    h = np.sum((pmat @ rinv) ** 2, axis=1)
    return grid, fit, 2.0 * np.sqrt(var * h)


# --------------------------------------------------------------------------- scores
def harrell_c(y: Any, risk: np.ndarray) -> float:
    """Harrell's C of ``risk`` (higher = earlier event) on a right-censored ``y``.

    Examples
    --------
    >>> from survrad.data.outcome import Surv
    >>> harrell_c(Surv.from_arrays(time=[1.0, 2.0, 3.0], event=[1, 1, 0]),
    ...           np.array([3.0, 1.0, 2.0]))
    0.6666666666666666
    """
    time, event = check_y_survival(y)
    risk = np.asarray(risk, dtype=float)
    if risk.shape != time.shape:
        raise SchemaError(f"y has {time.size} subjects but there are {risk.size} predictions.")
    pairs = event_pair_counts(time, event, risk)
    comparable = int(pairs.comparable.sum())
    if comparable == 0:
        raise SchemaError(f"no comparable pair ({int(event.sum())} events among {time.size} "
                          "subjects): Harrell's C is undefined on these data.")
    return float((pairs.concordant.sum() + 0.5 * pairs.tied_risk.sum()) / comparable)


def binary_auc(y: Any, prob: np.ndarray) -> float:
    """Area under the ROC curve (ties count 1/2) of ``prob`` for a 0/1 outcome ``y``.

    Examples
    --------
    >>> binary_auc([0, 0, 1, 1], np.array([0.1, 0.6, 0.4, 0.9]))
    0.75
    """
    yv = check_binary(y)
    p = np.asarray(prob, dtype=float)
    if p.shape != yv.shape:
        raise SchemaError(f"y has {yv.size} rows but there are {p.size} predictions.")
    ranks = stats.rankdata(p)
    n1 = int(yv.sum())
    n0 = yv.size - n1
    return float((ranks[yv == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))

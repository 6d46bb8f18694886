"""Weighted logistic regression with a ridge penalty on glmnet's scale (layer 0).

:func:`logistic_fit` minimises

    - sum_i w_i [y_i eta_i - log(1 + exp(eta_i))] / sum_i w_i
      + l2 / 2 * sum_j f_j beta_j^2,          eta_i = beta_0 + x_i' beta,

the objective of R's ``glmnet(family = "binomial", alpha = 0, lambda = l2,
penalty.factor = f, standardize = FALSE)`` (glmnet rescales ``penalty.factor`` to sum
to the number of columns; here ``f`` is used as given), by Newton-Raphson with step
halving. The intercept is never penalised; a column with ``f_j = 0`` (an adjustment
covariate) is not penalised either. With ``l2 = 0`` it is the maximum likelihood fit
(R's ``glm(family = binomial, weights = w)``).

Shared by the lesion strategies D and E (layer 2), which may not import the layer-4
:class:`survrad.models.LogisticModel`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from scipy.special import expit

from survrad._math.linear import linear_predictor

__all__ = ["LogisticFit", "logistic_fit", "logistic_predict"]


@dataclasses.dataclass(frozen=True)
class LogisticFit:
    """Result of :func:`logistic_fit`.

    Attributes
    ----------
    intercept : float
    coef : numpy.ndarray
        Slopes, one per column of ``X``.
    converged : bool
        The Newton step became negligible within ``max_iter`` iterations (False under
        separation without a penalty: the coefficients then diverge).
    n_iter : int
    objective : float
        The penalised objective at the solution (see the module docstring).
    """

    intercept: float
    coef: np.ndarray
    converged: bool
    n_iter: int
    objective: float


def _objective(Z: np.ndarray, y: np.ndarray, w: np.ndarray, theta: np.ndarray,
               pen: np.ndarray) -> float:
    eta = Z @ theta
    ll = np.sum(w * (y * eta - np.logaddexp(0.0, eta)))
    return float(-ll + 0.5 * np.sum(pen * theta * theta))


def logistic_fit(X: Any, y: Any, *, weights: Any = None, l2: float = 0.0,
                 penalty_factor: Any = None, max_iter: int = 100,
                 tol: float = 1e-10) -> LogisticFit:
    """Fit a (ridge-penalised) weighted logistic regression with an intercept.

    Parameters
    ----------
    X : array-like of shape (n, p)
        Covariates, used as given (standardise first for a penalty to treat columns
        alike).
    y : array-like of shape (n,)
        0/1 outcome.
    weights : array-like of shape (n,), optional
        Non-negative case weights (default 1). Only their ratios matter: the
        likelihood is divided by their sum.
    l2 : float, default 0
        glmnet's ``lambda`` with ``alpha = 0`` (see the module docstring).
    penalty_factor : array-like of shape (p,), optional
        Relative penalty of every column (default 1; 0 leaves a column unpenalised).
    max_iter : int, default 100
        Newton iterations.
    tol : float, default 1e-10
        Convergence when every component of the Newton step is below
        ``tol * (1 + |coefficient|)``.

    Returns
    -------
    LogisticFit

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(500, 1))
    >>> y = (rng.random(500) < 1 / (1 + np.exp(-(0.5 + x[:, 0])))).astype(float)
    >>> fit = logistic_fit(x, y)
    >>> fit.converged, bool(abs(fit.coef[0] - 1.0) < 0.3)
    (True, True)
    >>> bool(abs(logistic_fit(x, y, l2=0.5).coef[0]) < abs(fit.coef[0]))
    True
    """
    x = np.asarray(X, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got shape {x.shape}.")
    n, p = x.shape
    yv = np.asarray(y, dtype=np.float64).ravel()
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if yv.shape[0] != n or w.shape[0] != n:
        raise ValueError(f"X has {n} rows but y has {yv.shape[0]} and weights {w.shape[0]}.")
    if not (np.isfinite(x).all() and np.isin(yv, (0.0, 1.0)).all()):
        raise ValueError("X must be finite and y coded 0/1.")
    if not (np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
        raise ValueError("weights must be finite, >= 0 and not all 0.")
    factor = np.ones(p) if penalty_factor is None else np.asarray(penalty_factor, float)
    if factor.shape != (p,) or (factor < 0).any():
        raise ValueError(f"penalty_factor must have {p} values >= 0.")
    if not (np.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}.")
    wn = w / w.sum()
    Z = np.column_stack([np.ones(n), x])
    pen = np.concatenate(([0.0], l2 * factor))
    mean = float(np.clip(wn @ yv, 1e-10, 1 - 1e-10))
    theta = np.zeros(p + 1)
    theta[0] = np.log(mean / (1.0 - mean))
    obj = _objective(Z, yv, wn, theta, pen)
    converged, it = False, 0
    for it in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        prob = expit(Z @ theta)
        grad = -Z.T @ (wn * (yv - prob)) + pen * theta
        hess = (Z * (wn * prob * (1.0 - prob))[:, None]).T @ Z + np.diag(pen)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        t = 1.0
        while True:
            cand = theta - t * step
            new = _objective(Z, yv, wn, cand, pen)
            if new <= obj + 1e-15 * abs(obj) or t < 1e-10:
                break
            t /= 2.0
        theta, obj = cand, new
        if np.all(np.abs(t * step) <= tol * (1.0 + np.abs(theta))):
            converged = bool(np.isfinite(theta).all())
            break
    return LogisticFit(intercept=float(theta[0]), coef=theta[1:].copy(), converged=converged,
                       n_iter=it, objective=obj)


def logistic_predict(X: Any, fit: LogisticFit) -> np.ndarray:
    """Fitted probabilities ``expit(intercept + X @ coef)`` (identical rows tie exactly).

    Examples
    --------
    >>> f = LogisticFit(0.0, np.array([1.0]), True, 1, 0.0)
    >>> logistic_predict([[0.0], [0.0]], f).tolist()
    [0.5, 0.5]
    """
    return expit(linear_predictor(X, fit.coef, fit.intercept))

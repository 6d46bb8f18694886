"""Outcome-driven feature selection, learned on the training rows (layer 3).

- :func:`cox_score_test`: the univariate Cox score test of every column at once.
- :class:`UnivariateCoxFilter`: univariate screening (top-k, p-value or BH-FDR).
- :class:`LassoCoxSelector`: the columns with non-zero LASSO-Cox coefficients.
- :class:`StabilitySelector`: Meinshausen-Bühlmann stability selection.

Survival endpoints take ``y = Surv.from_arrays(time=time, event=event)``. Binary endpoints
take a 0/1 vector: the univariate test is then the Mann-Whitney test (equivalently the AUC), and
the penalised steps use an L1 / elastic-net logistic regression (scikit-learn).
Every step keeps at least one column: when nothing passes, the single most associated
column is kept and a :class:`StatisticalWarning` says so.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from survrad._math.coxph import CoxRiskSets, cox_elastic_net_path
from survrad._validation import check_choice, check_fraction, check_int, check_random_state
from survrad.data.outcome import check_event, check_time
from survrad.exceptions import ConvergenceWarning, FitError, SchemaError, StatisticalWarning
from survrad.features._base import (
    FeatureStep,
    Target,
    check_frame,
    check_target,
    is_constant,
    rethrow_convergence,
)

__all__ = [
    "LassoCoxSelector",
    "StabilitySelector",
    "UnivariateCoxFilter",
    "association",
    "cox_score_test",
]


# --------------------------------------------------------------------------- univariate
def cox_score_test(X: Any, time: Any, event: Any, ties: str = "efron") -> pd.DataFrame:
    """Univariate Cox score (log-rank type) test of every column, at beta = 0, all at once.

    For each column ``x`` the score ``U = sum_events (x_i - xbar_R(t_i))`` and information
    ``I = sum_events var_R(t_i)(x)`` are accumulated over risk sets with reverse cumulative
    sums (O(n log n + n p)); Efron's correction replaces, within a group of ``d`` tied
    events, the risk set sums ``S`` by ``S - (l/d) S_D`` for the l-th event (l = 0..d-1).

    Parameters
    ----------
    X : pandas.DataFrame or array of shape (n, p)
        Numeric columns.
    time, event : array-like of shape (n,)
        Survival times and event indicators.
    ties : {"efron", "breslow"}, default "efron"

    Returns
    -------
    pandas.DataFrame
        Index = columns; ``score`` (U), ``information`` (I), ``z = U / sqrt(I)`` (positive:
        higher value, higher hazard) and two-sided ``p``. A constant column has z = 0, p = 1.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([1.0, 2, 3, 4, 5, 6]); e = np.array([1, 1, 0, 1, 1, 0], bool)
    >>> x = np.array([[3.0], [2], [2], [1], [0], [0]])
    >>> bool(cox_score_test(x, t, e)["z"].iloc[0] > 0)
    True
    """
    check_choice("ties", ties, ["efron", "breslow"])
    names = list(X.columns) if isinstance(X, pd.DataFrame) else list(range(np.shape(X)[1]))
    values = np.asarray(X, dtype=float)
    time = check_time(time)
    event = check_event(event)
    if not (values.shape[0] == time.shape[0] == event.shape[0]):
        raise ValueError(f"X, time and event differ in length: {values.shape[0]}, "
                         f"{time.shape[0]}, {event.shape[0]}.")
    if not np.isfinite(values).all():
        raise SchemaError("cox_score_test: X has NaN or infinite values.")
    const = is_constant(values)
    sd = np.where(const, 1.0, values.std(axis=0))
    Xc = (values - values.mean(axis=0)) / sd  # z is invariant to shifts and scales
    U, info = _score_information(Xc, time, event, ties == "efron")
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(const | (info <= 0), 0.0, U / np.sqrt(np.where(info > 0, info, 1.0)))
    p = 2.0 * stats.norm.sf(np.abs(z))
    return pd.DataFrame({"score": U * sd, "information": info * sd**2, "z": z, "p": p},
                        index=pd.Index(names, name="feature"))


def _score_information(X: np.ndarray, time: np.ndarray, event: np.ndarray, efron: bool
                       ) -> tuple[np.ndarray, np.ndarray]:
    n, p = X.shape
    order = np.argsort(time, kind="stable")
    ts, Xs, es = time[order], X[order], event[order]
    zero = np.zeros((1, p))
    risk1 = np.vstack([np.cumsum(Xs[::-1], axis=0)[::-1], zero])
    risk2 = np.vstack([np.cumsum((Xs**2)[::-1], axis=0)[::-1], zero])
    ev1 = np.vstack([zero, np.cumsum(Xs * es[:, None], axis=0)])
    ev2 = np.vstack([zero, np.cumsum(Xs**2 * es[:, None], axis=0)])
    n_ev = np.concatenate([[0], np.cumsum(es)])
    ev = np.flatnonzero(es)
    left = np.searchsorted(ts, ts[ev], "left")
    right = np.searchsorted(ts, ts[ev], "right")
    d = (n_ev[right] - n_ev[left]).astype(float)
    w = (n_ev[ev] - n_ev[left]) / d if efron else np.zeros(ev.size)
    m = (n - left) - w * d
    mean = (risk1[left] - w[:, None] * (ev1[right] - ev1[left])) / m[:, None]
    second = (risk2[left] - w[:, None] * (ev2[right] - ev2[left])) / m[:, None]
    U = Xs[ev].sum(axis=0) - mean.sum(axis=0)
    info = np.clip(second - mean**2, 0.0, None).sum(axis=0)
    return U, info


def association(X: pd.DataFrame, y: Any) -> pd.DataFrame:
    """Univariate association of every column with the outcome (used to rank columns).

    Survival ``y``: the Cox score test (:func:`cox_score_test`, Efron), strength = ``|z|``.
    Binary ``y``: the Mann-Whitney test (normal approximation with continuity correction),
    strength = ``|AUC - 0.5|``. Constant columns have strength 0 and p = 1.

    Parameters
    ----------
    X : pandas.DataFrame
    y : survival structured array, (time, event) tuple or 0/1 vector

    Returns
    -------
    pandas.DataFrame
        Index = columns; ``statistic`` (z, or AUC for binary), ``strength``, ``p``.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [0.1, 0.2, 0.9, 1.0], "b": [1.0, 0.0, 1.0, 0.0]})
    >>> association(X, [0, 0, 1, 1])["statistic"].tolist()
    [1.0, 0.5]
    """
    target = check_target(y, len(X), step="association")
    return _association(X.to_numpy(dtype=float), target, list(X.columns))


def _association(values: np.ndarray, target: Target, names: list) -> pd.DataFrame:
    if target.kind == "survival":
        res = cox_score_test(values, target.time, target.event)
        return pd.DataFrame({"statistic": res["z"].to_numpy(),
                             "strength": np.abs(res["z"].to_numpy()), "p": res["p"].to_numpy()},
                            index=pd.Index(names, name="feature"))
    const = is_constant(values)
    auc = np.full(values.shape[1], 0.5)
    p = np.ones(values.shape[1])
    pos, neg = values[target.label == 1], values[target.label == 0]
    if (~const).any():
        u, pv = stats.mannwhitneyu(pos[:, ~const], neg[:, ~const], axis=0,
                                   method="asymptotic", use_continuity=True)
        auc[~const] = u / (pos.shape[0] * neg.shape[0])
        p[~const] = pv
    return pd.DataFrame({"statistic": auc, "strength": np.abs(auc - 0.5), "p": p},
                        index=pd.Index(names, name="feature"))


def _rank_order(strength: np.ndarray) -> np.ndarray:
    """Column positions from most to least associated; ties keep column order."""
    return np.argsort(-np.asarray(strength), kind="stable")


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values)."""
    m = p.size
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.clip(q_sorted, 0.0, 1.0)
    return q


def _fallback(support: np.ndarray, strength: np.ndarray, names: list, step: str,
              why: str) -> np.ndarray:
    """Never an empty matrix: keep the most associated column and warn."""
    if support.any():
        return support
    best = int(_rank_order(strength)[0])
    warnings.warn(
        f"{step}: {why}; keeping the single most associated column {names[best]!r} so the "
        "model has an input. The selection is unstable: consider fewer steps or more data.",
        StatisticalWarning, stacklevel=3)
    out = np.zeros_like(support)
    out[best] = True
    return out


class UnivariateCoxFilter(FeatureStep):
    """Univariate screening: keep the columns most associated with the outcome.

    Survival ``y``: the Cox score test of each column (:func:`cox_score_test`, all
    columns at once). Binary ``y`` (0/1): the Mann-Whitney test.

    Parameters
    ----------
    k : int, optional
        Keep the ``k`` columns with the smallest p-values (ties: the larger ``|statistic|``,
        then column order).
    p_threshold : float, optional
        Keep columns with ``p < p_threshold``.
    fdr : float, optional
        Keep columns with Benjamini-Hochberg ``q <= fdr``.
    ties : {"efron", "breslow"}, default "efron"
        Tie handling of the score test.

    Attributes
    ----------
    scores_ : pandas.DataFrame
        Per column: ``statistic`` (z, or AUC), ``strength``, ``p``, ``q`` (BH), ``selected``.
    support_ : numpy.ndarray of bool
    feature_names_out_ : numpy.ndarray

    Notes
    -----
    At least one of ``k``, ``p_threshold``, ``fdr`` is required. Given several, the
    thresholds are applied first, then at most ``k`` survivors are kept. When no column
    passes, the most associated one is kept with a :class:`StatisticalWarning`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from survrad.data.outcome import Surv
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
    >>> y = Surv.from_arrays(time=rng.exponential(np.exp(-2 * X["b"].to_numpy())),
    ...                       event=np.ones(80))
    >>> UnivariateCoxFilter(k=1).fit(X, y).get_feature_names_out().tolist()
    ['b']
    """

    def __init__(self, k: int | None = None, p_threshold: float | None = None,
                 fdr: float | None = None, ties: str = "efron") -> None:
        self.k = k
        self.p_threshold = p_threshold
        self.fdr = fdr
        self.ties = ties

    def fit(self, X: pd.DataFrame, y: Any) -> UnivariateCoxFilter:
        """Test every column on the training rows and keep the selected ones."""
        self._check_params()
        check_frame(X, step="UnivariateCoxFilter", min_rows=3)
        target = check_target(y, len(X), step="UnivariateCoxFilter")
        names = list(X.columns)
        values = X.to_numpy(dtype=float)
        if target.kind == "survival":
            res = cox_score_test(values, target.time, target.event, ties=self.ties)
            scores = pd.DataFrame({"statistic": res["z"].to_numpy(),
                                   "strength": np.abs(res["z"].to_numpy()),
                                   "p": res["p"].to_numpy()},
                                  index=pd.Index(names, name="feature"))
        else:
            scores = _association(values, target, names)
        p = scores["p"].to_numpy()
        scores["q"] = _bh(p)
        support = self._select(p, scores["q"].to_numpy(), scores["strength"].to_numpy())
        support = _fallback(support, scores["strength"].to_numpy(), names,
                            "UnivariateCoxFilter", "no column passed the screening")
        scores["selected"] = support
        self._set_input_names(X)
        self.scores_ = scores
        self.support_ = support
        self.feature_names_out_ = np.asarray(X.columns[support], dtype=object)
        return self

    def _check_params(self) -> None:
        if self.k is None and self.p_threshold is None and self.fdr is None:
            raise ValueError("UnivariateCoxFilter needs k=, p_threshold= or fdr= (or several).")
        if self.k is not None:
            check_int("k", self.k, min_value=1)
        if self.p_threshold is not None:
            check_fraction("p_threshold", self.p_threshold)
        if self.fdr is not None:
            check_fraction("fdr", self.fdr)
        check_choice("ties", self.ties, ["efron", "breslow"])

    def _select(self, p: np.ndarray, q: np.ndarray, strength: np.ndarray) -> np.ndarray:
        keep = np.ones(p.size, dtype=bool)
        if self.p_threshold is not None:
            keep &= p < self.p_threshold
        if self.fdr is not None:
            keep &= q <= self.fdr
        if self.k is not None:
            order = np.lexsort((np.arange(p.size), -strength, p))
            ranked = [i for i in order if keep[i]][: self.k]
            keep = np.zeros(p.size, dtype=bool)
            keep[ranked] = True
        return keep

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Keep the selected columns."""
        X = self._check_columns(X)
        return X.loc[:, list(self.feature_names_out_)]


# --------------------------------------------------------------------------- penalised fits
_N_PATH = 50  # penalties on a cross-validation path
_MIN_RATIO = 0.01  # smallest / largest penalty on that path

def _standardize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standardised copy (ddof=0) and the mask of non-constant columns."""
    ok = ~is_constant(values)
    Z = values[:, ok]
    return (Z - Z.mean(axis=0)) / Z.std(axis=0), ok


def _coxnet(Z: np.ndarray, time: np.ndarray, event: np.ndarray, l1_ratio: float,
            alphas: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """LASSO / elastic-net Cox path: coefficients (p, m) and penalties.

    The package's one elastic-net Cox solver (``survrad._math.coxph.cox_elastic_net_path``,
    glmnet's objective and Breslow ties, the solver of ``CoxModel(penalty=..., l1_ratio=...)``).
    Without ``alphas``, the path has 50 penalties from ``alpha_max`` (all zero) down to
    ``0.01 * alpha_max``: selection never needs the nearly unpenalised end, which is
    slow to fit when p is close to n.
    """
    if alphas is None:
        rs = CoxRiskSets(time, event, ties="breslow")
        score = rs.derivatives(Z, np.zeros(Z.shape[1]))[1]
        alpha_max = np.max(np.abs(score)) / time.size / max(l1_ratio, 1e-3)
        alphas = np.geomspace(alpha_max, alpha_max * _MIN_RATIO, _N_PATH)
    alphas = np.asarray(alphas, dtype=float)
    path = cox_elastic_net_path(Z, time, event, penalties=alphas, l1_ratio=l1_ratio,
                                ties="breslow")
    if not np.all(path.converged):
        warnings.warn(ConvergenceWarning(
            f"LASSO-Cox: the path did not converge at {int((~path.converged).sum())} of "
            f"{alphas.size} penalties; the selection uses the last iterate."), stacklevel=3)
    return np.asarray(path.coef, dtype=float).T, alphas


def _breslow_loglik(eta: np.ndarray, time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Cox partial log-likelihood (Breslow ties) of each column of ``eta`` (n, m)."""
    order = np.argsort(time, kind="stable")
    ts, es, E = time[order], event[order], eta[order]
    shift = E.max(axis=0)
    tail = np.cumsum(np.exp(E - shift)[::-1], axis=0)[::-1]
    first = np.searchsorted(ts, ts, "left")
    log_risk = np.log(tail[first]) + shift
    return ((E - log_risk) * es[:, None]).sum(axis=0)


def _fold_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


def _cv_cox(Z: np.ndarray, time: np.ndarray, event: np.ndarray, l1_ratio: float,
            n_folds: int, seed: int) -> tuple[float, pd.DataFrame]:
    """Penalty maximising the cross-validated partial likelihood (Verweij & van Houwelingen).

    For fold k fitted without its rows: ``cvpl_k = l(beta_-k) - l_-k(beta_-k)``, the
    full-data log partial likelihood minus the training-fold one (glmnet's grouped Cox
    deviance is ``-2 * sum_k cvpl_k``). Ties of the curve go to the larger penalty.
    """
    _, alphas = _coxnet(Z, time, event, l1_ratio, None)
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    curves = []
    for train, _test in folds.split(Z, _strata_labels(event, n_folds)):
        coef, _ = _coxnet(Z[train], time[train], event[train], l1_ratio, alphas)
        eta = Z @ coef
        curves.append(_breslow_loglik(eta, time, event)
                      - _breslow_loglik(eta[train], time[train], event[train]))
    m = min(c.size for c in curves)
    cvpl = np.sum([c[:m] for c in curves], axis=0)
    best = int(np.argmax(cvpl))
    table = pd.DataFrame({"penalty": alphas[:m], "cv_deviance": -2.0 * cvpl})
    return float(alphas[best]), table


def _strata_labels(event: np.ndarray, n_folds: int) -> np.ndarray:
    """Stratify folds on the event indicator when both groups can fill every fold."""
    counts = np.bincount(event.astype(int), minlength=2)
    return event.astype(int) if counts.min() >= n_folds else np.zeros(event.size, dtype=int)


def _new_logistic(l1_ratio: float, seed: int) -> LogisticRegression:
    """Pure L1: liblinear (coordinate descent, intercept penalty made negligible by
    ``intercept_scaling``); elastic net: SAGA, warm-started along the path."""
    old_api = inspect.signature(LogisticRegression).parameters["penalty"].default != "deprecated"
    if l1_ratio == 1.0:
        kw = {"solver": "liblinear", "intercept_scaling": 1e3, "max_iter": 5000, "tol": 1e-6,
              "random_state": seed}
        kw.update({"penalty": "l1"} if old_api else {"l1_ratio": 1.0})
    else:
        kw = {"l1_ratio": l1_ratio, "solver": "saga", "max_iter": 5000, "tol": 1e-6,
              "random_state": seed, "warm_start": True}
        if old_api:
            kw["penalty"] = "elasticnet"  # scikit-learn < 1.8
    return LogisticRegression(**kw)


def _logit_path(Z: np.ndarray, label: np.ndarray, lambdas: np.ndarray, l1_ratio: float,
                seed: int) -> tuple[np.ndarray, np.ndarray]:
    """L1 / elastic-net logistic path; ``lambda = 1 / (C n)`` (glmnet scale).

    Returns coefficients (p, m) and intercepts (m,).
    """
    model = _new_logistic(l1_ratio, seed)
    coefs, intercepts = [], []
    for lam in lambdas:
        model.set_params(C=1.0 / (lam * Z.shape[0]))
        rethrow_convergence(lambda m=model: m.fit(Z, label), context="LASSO-logistic")
        coefs.append(model.coef_[0].copy())
        intercepts.append(float(model.intercept_[0]))
    return np.column_stack(coefs), np.asarray(intercepts)


def _logit_grid(Z: np.ndarray, label: np.ndarray, l1_ratio: float, n: int = 40) -> np.ndarray:
    lam_max = np.max(np.abs(Z.T @ (label - label.mean()))) / (Z.shape[0] * l1_ratio)
    return lam_max * np.geomspace(1.0, 0.01, n)


def _cv_logit(Z: np.ndarray, label: np.ndarray, l1_ratio: float, n_folds: int, seed: int
              ) -> tuple[float, pd.DataFrame]:
    """Penalty minimising the cross-validated binomial deviance."""
    lambdas = _logit_grid(Z, label, l1_ratio)
    dev = np.zeros(lambdas.size)
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for train, test in folds.split(Z, label):
        coef, intercept = _logit_path(Z[train], label[train], lambdas, l1_ratio, seed)
        eta = Z[test] @ coef + intercept
        y = label[test][:, None]
        # binomial deviance -2 * sum(y log p + (1 - y) log(1 - p)), computed stably
        dev += 2.0 * np.sum(np.logaddexp(0.0, eta) - y * eta, axis=0)
    best = int(np.argmin(dev))
    return float(lambdas[best]), pd.DataFrame({"penalty": lambdas, "cv_deviance": dev})


def _path_coef(Z: np.ndarray, target: Target, penalties: np.ndarray, l1_ratio: float,
               seed: int) -> np.ndarray:
    """Coefficients (p, len(penalties)) at the given decreasing penalties."""
    if target.kind == "survival":
        coef, _ = _coxnet(Z, target.time, target.event, l1_ratio, penalties)
        return coef
    return _logit_path(Z, target.label, penalties, l1_ratio, seed)[0]


def _check_penalised(l1_ratio: Any, n_folds: Any) -> None:
    check_fraction("l1_ratio", l1_ratio, inclusive=True)
    if l1_ratio == 0:
        raise ValueError("l1_ratio must be > 0 for selection (0 is ridge: it selects nothing).")
    check_int("n_folds", n_folds, min_value=2)


def _check_events(target: Target, n_folds: int, step: str) -> None:
    if target.kind == "survival":
        n_min, what = int(target.event.sum()), "events"
    else:
        n_min, what = int(np.bincount(target.label, minlength=2).min()), "rows of each class"
    if n_min < n_folds:
        raise FitError(f"{step}: {n_folds}-fold cross-validation needs at least {n_folds} "
                       f"{what}; got {n_min}. Use fewer folds or a fixed penalty.")


class LassoCoxSelector(FeatureStep):
    """Keep the columns with a non-zero LASSO (or elastic-net) Cox coefficient.

    Columns are standardised with the training mean and SD (ddof=0) before the fit, so the
    penalty treats them alike; constant columns cannot enter and are never selected. The
    fit is the package's elastic-net Cox solver (the one of ``CoxModel(penalty=...)``),
    which minimises ``-(1/n) log PL(beta) + penalty * (l1_ratio |beta|_1 + (1 - l1_ratio)
    |beta|_2^2 / 2)`` with Breslow ties (glmnet's parametrisation and its ``lambda``). With
    ``penalty=None`` the penalty maximises the cross-validated partial likelihood over the
    path (stratified K-fold on the
    event indicator, folds drawn from ``random_state``, so the result is reproducible).

    The cross-validated path has 50 penalties from the largest useful one down to 1 % of
    it. Binary endpoints (``y`` a 0/1 vector) use an L1 logistic regression
    (scikit-learn liblinear; SAGA for the elastic net; ``C = 1 / (n * penalty)``, i.e.
    ``(1/n) log-loss + penalty * |beta|_1``), CV by binomial deviance over 40 penalties
    from ``lambda_max`` down to ``0.01 * lambda_max``.

    Parameters
    ----------
    penalty : float, optional
        Fixed penalty (see above). ``None``: chosen by cross-validation.
    l1_ratio : float, default 1.0
        Elastic-net mixing (glmnet's alpha); 1 is the LASSO.
    n_folds : int, default 5
        Folds of the cross-validation that chooses the penalty when ``penalty`` is None.
    random_state : None, int or numpy Generator
        Fold assignment (and the logistic solver's shuffling for binary endpoints).
    max_features : int, optional
        Keep at most this many columns: those with the largest ``|standardised coefficient|``
        (ties: column order).

    Attributes
    ----------
    penalty_ : float
        The penalty used.
    coef_ : pandas.Series
        Standardised coefficients at ``penalty_`` (0 for constant columns).
    cv_results_ : pandas.DataFrame or None
        ``penalty``, ``cv_deviance`` along the path when the penalty was cross-validated.
    support_ : numpy.ndarray of bool
    feature_names_out_ : numpy.ndarray

    Warns
    -----
    StatisticalWarning
        Nothing selected: the most associated column (univariate test) is kept instead.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from survrad.data.outcome import Surv
    >>> rng = np.random.default_rng(1)
    >>> X = pd.DataFrame(rng.normal(size=(100, 5)), columns=list("abcde"))
    >>> y = Surv.from_arrays(time=rng.exponential(np.exp(-1.5 * X["a"].to_numpy())),
    ...                       event=np.ones(100))
    >>> "a" in LassoCoxSelector(penalty=0.1).fit(X, y).get_feature_names_out()
    True
    """

    def __init__(self, penalty: float | None = None, l1_ratio: float = 1.0, n_folds: int = 5,
                 random_state: Any = None, max_features: int | None = None) -> None:
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.n_folds = n_folds
        self.random_state = random_state
        self.max_features = max_features

    def _check_params(self) -> None:
        _check_penalised(self.l1_ratio, self.n_folds)
        if self.max_features is not None:
            check_int("max_features", self.max_features, min_value=1)
        if self.penalty is not None:
            _check_positive("penalty", self.penalty)

    def fit(self, X: pd.DataFrame, y: Any) -> LassoCoxSelector:
        """Fit the penalised model on the training rows and keep the non-zero columns."""
        self._check_params()
        check_frame(X, step="LassoCoxSelector", min_rows=3)
        target = check_target(y, len(X), step="LassoCoxSelector")
        rng = check_random_state(self.random_state)
        seed = _fold_seed(rng)
        values = X.to_numpy(dtype=float)
        Z, ok = _standardize(values)
        if not ok.any():
            raise FitError("LassoCoxSelector: every column is constant in the training rows; "
                           "there is nothing to select.", columns=[str(c) for c in X.columns])
        self.cv_results_ = None
        penalty = self.penalty
        if penalty is None:
            _check_events(target, self.n_folds, "LassoCoxSelector")
            cv = _cv_cox if target.kind == "survival" else _cv_logit
            args = ((target.time, target.event) if target.kind == "survival"
                    else (target.label,))
            penalty, self.cv_results_ = cv(Z, *args, self.l1_ratio, self.n_folds, seed)
        coef = np.zeros(values.shape[1])
        coef[ok] = _path_coef(Z, target, np.array([penalty]), self.l1_ratio, seed)[:, 0]
        support = _top_abs(coef, self.max_features)
        strength = _association(values, target, list(X.columns))["strength"].to_numpy()
        support = _fallback(support, strength, list(X.columns), "LassoCoxSelector",
                            f"no column has a non-zero coefficient at penalty {penalty:.4g}")
        self._set_input_names(X)
        self.penalty_ = float(penalty)
        self.coef_ = pd.Series(coef, index=X.columns, name="coef")
        self.support_ = support
        self.feature_names_out_ = np.asarray(X.columns[support], dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Keep the selected columns."""
        X = self._check_columns(X)
        return X.loc[:, list(self.feature_names_out_)]


def _check_positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}.")
    return float(value)


def _top_abs(coef: np.ndarray, max_features: int | None) -> np.ndarray:
    support = coef != 0
    if max_features is None or support.sum() <= max_features:
        return support
    order = np.argsort(-np.abs(coef), kind="stable")[:max_features]
    out = np.zeros(coef.size, dtype=bool)
    out[order] = True
    return out


class StabilitySelector(FeatureStep):
    """Stability selection (Meinshausen & Bühlmann 2010) with the LASSO-Cox.

    The LASSO is refitted on ``n_subsamples`` random subsamples of the training rows, each
    of ``fraction`` of the rows, drawn without replacement and stratified on the event
    indicator (or the class), so every subsample keeps the event rate. Columns are
    standardised within each subsample. A column's selection frequency is the share of
    subsamples where its coefficient is non-zero (with several penalties: the largest
    share over them, as in the paper); columns with frequency >= ``threshold`` are kept.

    Parameters
    ----------
    n_subsamples : int, default 50
        Number of random subsamples the LASSO is refitted on.
    fraction : float, default 0.5
        Share of the training rows in each subsample.
    threshold : float, default 0.6
        Minimum selection frequency, in (0, 1].
    penalty : None, float or sequence of floats
        Penalty, as in :class:`LassoCoxSelector`. ``None``: the penalty chosen by
        cross-validation on all training rows (as :class:`LassoCoxSelector`).
    l1_ratio : float, default 1.0
        Elastic-net mixing (glmnet's alpha); 1 is the LASSO.
    n_folds : int, default 5
        Folds of that cross-validation.
    random_state : None, int or numpy Generator
        Subsamples and folds.

    Attributes
    ----------
    penalties_ : numpy.ndarray
        Penalties used (decreasing).
    selection_frequencies_ : pandas.Series
        Per column, in [0, 1].
    frequency_path_ : pandas.DataFrame
        Frequency per penalty (rows) and column.
    mean_selected_ : float
        ``q``: average number of columns selected per subsample (union over penalties).
    error_bound_ : float
        Meinshausen-Bühlmann bound on the expected number of falsely selected columns,
        ``q**2 / ((2 * threshold - 1) * p)``; NaN when ``threshold <= 0.5``. It assumes
        exchangeable noise columns and a better-than-random selection procedure.
    support_ : numpy.ndarray of bool
    feature_names_out_ : numpy.ndarray

    Warns
    -----
    StatisticalWarning
        No column reaches ``threshold``: the most frequently selected one is kept (ties:
        the univariate association, then column order).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from survrad.data.outcome import Surv
    >>> rng = np.random.default_rng(2)
    >>> X = pd.DataFrame(rng.normal(size=(120, 6)), columns=list("abcdef"))
    >>> y = Surv.from_arrays(time=rng.exponential(np.exp(-1.5 * X["c"].to_numpy())),
    ...                       event=np.ones(120))
    >>> sel = StabilitySelector(n_subsamples=10, penalty=0.1, random_state=0).fit(X, y)
    >>> float(sel.selection_frequencies_["c"])
    1.0
    """

    def __init__(self, n_subsamples: int = 50, fraction: float = 0.5, threshold: float = 0.6,
                 penalty: float | Sequence[float] | None = None, l1_ratio: float = 1.0,
                 n_folds: int = 5, random_state: Any = None) -> None:
        self.n_subsamples = n_subsamples
        self.fraction = fraction
        self.threshold = threshold
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.n_folds = n_folds
        self.random_state = random_state

    def _check_params(self) -> None:
        check_int("n_subsamples", self.n_subsamples, min_value=1)
        check_fraction("fraction", self.fraction)
        if check_fraction("threshold", self.threshold, inclusive=True) == 0:
            raise ValueError("threshold must be in (0, 1], got 0.")
        _check_penalised(self.l1_ratio, self.n_folds)
        if self.penalty is not None:
            for p in np.atleast_1d(np.asarray(self.penalty, dtype=object)):
                _check_positive("penalty", p)

    def fit(self, X: pd.DataFrame, y: Any) -> StabilitySelector:
        """Count how often each column is selected over subsamples of the training rows."""
        self._check_params()
        check_frame(X, step="StabilitySelector", min_rows=4)
        target = check_target(y, len(X), step="StabilitySelector")
        rng = check_random_state(self.random_state)
        values = X.to_numpy(dtype=float)
        names = list(X.columns)
        penalties = self._penalties(values, target, _fold_seed(rng))
        strata = [np.flatnonzero(g) for g in _strata(target)]
        sizes = [int(np.floor(self.fraction * s.size)) for s in strata]
        self._check_subsample(target, sizes)
        counts = np.zeros((penalties.size, values.shape[1]))
        union = np.zeros(self.n_subsamples)
        for b in range(self.n_subsamples):
            idx = np.sort(np.concatenate(
                [rng.choice(s, size=k, replace=False) for s, k in zip(strata, sizes, strict=True)]))
            selected = self._select_once(values[idx], _take(target, idx), penalties,
                                         _fold_seed(rng))
            counts += selected
            union[b] = selected.any(axis=0).sum()
        freq = counts / self.n_subsamples
        best = freq.max(axis=0)
        support = best >= self.threshold - 1e-12
        strength = _association(values, target, names)["strength"].to_numpy()
        order_key = best + 1e-9 * strength / (1.0 + strength.max())
        support = _fallback(support, order_key, names, "StabilitySelector",
                            f"no column was selected in at least {self.threshold:.0%} of the "
                            "subsamples")
        q = float(union.mean())
        self._set_input_names(X)
        self.penalties_ = penalties
        self.frequency_path_ = pd.DataFrame(freq, index=pd.Index(penalties, name="penalty"),
                                            columns=X.columns)
        self.selection_frequencies_ = pd.Series(best, index=X.columns, name="frequency")
        self.mean_selected_ = q
        self.error_bound_ = (q**2 / ((2 * self.threshold - 1) * values.shape[1])
                             if self.threshold > 0.5 else float("nan"))
        self.support_ = support
        self.feature_names_out_ = np.asarray(X.columns[support], dtype=object)
        return self

    def _penalties(self, values: np.ndarray, target: Target, seed: int) -> np.ndarray:
        if self.penalty is None:
            _check_events(target, self.n_folds, "StabilitySelector")
            Z, _ = _standardize(values)
            if target.kind == "survival":
                lam, _ = _cv_cox(Z, target.time, target.event, self.l1_ratio, self.n_folds,
                                 seed)
            else:
                lam, _ = _cv_logit(Z, target.label, self.l1_ratio, self.n_folds, seed)
            return np.array([lam])
        pens = np.atleast_1d(np.asarray(self.penalty, dtype=float))
        for v in pens:
            _check_positive("penalty", float(v))
        return np.sort(pens)[::-1]

    def _check_subsample(self, target: Target, sizes: list[int]) -> None:
        enough = sizes[1] >= 2 if target.kind == "survival" else min(sizes) >= 2
        if not enough:
            raise FitError(
                f"StabilitySelector: subsamples of fraction {self.fraction} would hold "
                f"{sizes} rows per stratum (no event / event, or class 0 / 1); too few to "
                "fit. Increase fraction or use more data.")

    def _select_once(self, values: np.ndarray, target: Target, penalties: np.ndarray,
                     seed: int) -> np.ndarray:
        Z, ok = _standardize(values)
        selected = np.zeros((penalties.size, values.shape[1]), dtype=bool)
        if ok.any():
            coef = _path_coef(Z, target, penalties, self.l1_ratio, seed)
            selected[:, ok] = (coef != 0).T[: penalties.size]
        return selected

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Keep the stably selected columns."""
        X = self._check_columns(X)
        return X.loc[:, list(self.feature_names_out_)]


def _strata(target: Target) -> list[np.ndarray]:
    if target.kind == "survival":
        return [~target.event, target.event]
    return [target.label == 0, target.label == 1]


def _take(target: Target, idx: np.ndarray) -> Target:
    if target.kind == "survival":
        return Target("survival", time=target.time[idx], event=target.event[idx])
    return Target("binary", label=target.label[idx])


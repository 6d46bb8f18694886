"""Binary response models (layer 4): logistic regression with inference, and a forest.

:class:`LogisticModel` is the inference model (odds ratios, CIs, p-values, optionally
cluster-robust when rows are lesions nested in patients, or ridge-penalised for
prediction); :class:`ForestClassifier` is the flexible predictor. Both check the design
before any library sees it (docs/reliability.md #17-#24).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linprog
from scipy.special import expit
from sklearn.base import BaseEstimator

from survrad._math.linear import linear_predictor
from survrad._validation import CachedParamNames, RandomState, check_fraction, check_int
from survrad.data.outcome import check_binary
from survrad.exceptions import (
    ConvergenceWarning,
    NotFittedError,
    SchemaError,
    StatisticalWarning,
    format_values,
)
from survrad.models._checks import as_frame, check_design, check_predict_design, check_rank
from survrad.models._inference import binary_auc
from survrad.models.forest import (
    check_max_features,
    check_n_jobs,
    design_for_trees,
    permutation_drop,
    sklearn_seed,
    standardize_columns,
)
from survrad.models.summary import LogisticSummary, logistic_summary

__all__ = ["ForestClassifier", "LogisticModel"]

_LP_TOL = 1e-7


# --------------------------------------------------------------------------- separation
def _cone_lp(Z: np.ndarray, c: np.ndarray) -> Any:
    """min c'd subject to Z d >= 0 and -1 <= d <= 1 (HiGHS)."""
    return linprog(c, A_ub=-Z, b_ub=np.zeros(Z.shape[0]),
                   bounds=[(-1.0, 1.0)] * Z.shape[1], method="highs")


def separated_directions(exog: np.ndarray, y: np.ndarray,
                         contrasts: np.ndarray | None = None) -> np.ndarray:
    """Which coefficients of a logistic model are infinite (separation).

    The maximum likelihood estimate does not exist when some direction ``d`` satisfies
    ``(2y - 1) * (exog @ d) >= 0`` for every row with at least one strict inequality
    (complete or quasi-complete separation, Albert & Anderson 1984). Coefficient ``j``
    is infinite when such a direction has ``d_j != 0`` (Konis 2007, the method of R's
    ``detectseparation``): one linear program to find out whether separation exists,
    then two per coefficient.

    Parameters
    ----------
    exog : ndarray (n, k)
        Design including the intercept column (best standardised).
    y : ndarray of 0/1
    contrasts : ndarray (m, k), optional
        Report ``contrasts @ beta`` instead of ``beta`` (e.g. the map from standardised
        to original coefficients: standardising moves the intercept). Default identity.

    Returns
    -------
    ndarray of bool, shape (m,)
        True for coefficients that go to ±infinity. All slopes True = complete
        separation.

    Examples
    --------
    >>> x = np.array([-2.0, -1.0, 1.0, 2.0])
    >>> separated_directions(np.column_stack([np.ones(4), x]), np.array([0, 0, 1, 1])).tolist()
    [True, True]
    """
    Z = exog * (2.0 * y - 1.0)[:, None]
    C = np.eye(Z.shape[1]) if contrasts is None else np.asarray(contrasts, dtype=float)
    first = _cone_lp(Z, -Z.sum(axis=0))
    if first.status != 0 or -first.fun <= _LP_TOL * Z.shape[0]:
        return np.zeros(C.shape[0], dtype=bool)
    out = np.zeros(C.shape[0], dtype=bool)
    for j, e in enumerate(C):
        tol = _LP_TOL * max(1.0, float(np.abs(e).max()))
        hi, lo = _cone_lp(Z, -e), _cone_lp(Z, e)
        out[j] = (hi.status == 0 and -hi.fun > tol) or (lo.status == 0 and lo.fun < -tol)
    return out


# --------------------------------------------------------------------------- fits
@dataclass(frozen=True)
class _Fit:
    """Coefficients on the standardised scale: index 0 is the intercept."""

    params: np.ndarray
    cov: np.ndarray | None
    converged: bool
    estimable: np.ndarray  # bool, same length as params
    problem: str  # "" when all is well


def _statsmodels_logit(exog: np.ndarray, y: np.ndarray, groups: np.ndarray | None,
                       max_iter: int) -> tuple[Any, list]:
    """statsmodels Logit by Newton; returns (results or None, caught warnings)."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationError

    kw: dict[str, Any] = {}
    if groups is not None:
        kw = {"cov_type": "cluster", "cov_kwds": {"groups": groups}}
    model = sm.Logit(y, exog)
    model.raise_on_perfect_prediction = False  # older statsmodels raise by default
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = model.fit(method="newton", maxiter=max_iter, disp=0, **kw)
        except (PerfectSeparationError, np.linalg.LinAlgError):
            res = None
    return res, list(caught)


def _fallback_params(Z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Finite coefficients for prediction when statsmodels gives none (separation)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1e4, max_iter=10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(Z, y)
    return np.concatenate([clf.intercept_, clf.coef_.ravel()])


def _fit_mle(Z: np.ndarray, y: np.ndarray, groups: np.ndarray | None, max_iter: int,
             T: np.ndarray) -> _Fit:
    """Unpenalised fit on standardised ``Z``; ``estimable`` refers to ``T @ params``."""
    exog = np.column_stack([np.ones(Z.shape[0]), Z])
    infinite = separated_directions(exog, y, contrasts=T)
    res, caught = _statsmodels_logit(exog, y, groups, max_iter)
    if res is None:
        return _Fit(_fallback_params(Z, y), None, False, np.zeros(exog.shape[1], dtype=bool),
                    "statsmodels reported perfect separation")
    params = np.asarray(res.params, dtype=float)
    cov = np.asarray(res.cov_params(), dtype=float)
    converged = bool(res.mle_retvals.get("converged", False))
    if infinite.any():
        complete = bool(infinite[1:].all())
        estimable = np.zeros_like(infinite) if complete else ~infinite
        kind = "complete" if complete else "quasi-complete"
        return _Fit(params, cov, False, estimable, f"{kind} separation")
    se_ok = np.isfinite(np.diag(cov)) & (np.diag(cov) > 0)
    if not converged or not se_ok.all():
        texts = sorted({str(w.message).splitlines()[0] for w in caught})
        why = "; ".join(texts) if texts else "the optimiser did not converge"
        return _Fit(params, cov, False, np.zeros_like(se_ok), why)
    return _Fit(params, cov, True, np.ones_like(se_ok), "")


def _fit_ridge(Z: np.ndarray, y: np.ndarray, penalty: float, max_iter: int) -> _Fit:
    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1.0 / (penalty * Z.shape[0]), tol=1e-10, max_iter=max_iter)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(Z, y)
    converged = not any(issubclass(w.category, SkConvergenceWarning) for w in caught)
    params = np.concatenate([clf.intercept_, clf.coef_.ravel()])
    return _Fit(params, None, converged, np.ones(params.size, dtype=bool),
                "" if converged else f"lbfgs did not converge in {max_iter} iterations")


def _back_transform(center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Matrix T with beta_original = T @ beta_standardised (intercept first)."""
    k = center.size
    T = np.eye(k + 1)
    T[0, 1:] = -center / scale
    T[1:, 1:] = np.diag(1.0 / scale)
    return T


# --------------------------------------------------------------------------- logistic
class LogisticModel(CachedParamNames, BaseEstimator):
    """Logistic regression for a binary response: odds ratios with inference.

    Parameters
    ----------
    penalty : float, default 0.0
        0: maximum likelihood (statsmodels ``Logit``, Newton) with odds ratios, Wald CIs
        and p-values. > 0: ridge (L2) on standardised features, fitted by scikit-learn
        with ``C = 1 / (penalty * n)``, i.e. minimising
        ``-loglik / n + penalty / 2 * ||beta||^2`` with population-SD standardisation and
        an unpenalised intercept: the scale of glmnet's ``lambda`` with ``alpha = 0``.
        Coefficients are reported on the original scale; se, CI and p are NaN (no valid
        post-penalisation inference).
    ci_level : float, default 0.95
        Level of the odds-ratio confidence intervals.
    cluster_robust : bool, default True
        When ``fit`` gets ``groups`` (e.g. patient ids for lesion rows), use the
        cluster-robust sandwich covariance (CRV1 with statsmodels' small-sample factor
        ``G/(G-1) * (n-1)/(n-k)``, as R's ``sandwich::vcovCL(type = "HC1")``). With
        ``False`` or without groups, the model-based covariance.
    max_iter : int, default 100
        Newton (unpenalised) or lbfgs (penalised, at least 1000) iterations.

    Attributes
    ----------
    coef_ : ndarray (n_features,)
        Log odds ratios on the original feature scale, as used by
        :meth:`predict_proba`. After separation these are the optimiser's last iterate
        (usable for ranking, not for inference: :meth:`summary` shows NaN).
    intercept_ : float
    cov_ : ndarray (n_features + 1, n_features + 1) or None
        Covariance of (intercept, coef); None when penalised.
    converged_ : bool
    estimable_ : ndarray of bool (n_features + 1,)
        Intercept first.
    n_clusters_ : int or None
    n_, n_events_ : int
        Rows and outcomes equal to 1.
    loglik_, loglik_null_ : float
        Log likelihood of the fit (of the last iterate when it did not converge) and of
        the intercept-only model.
    feature_names_in_, n_features_in_

    Notes
    -----
    Separation (a feature, or combination, that predicts the outcome perfectly) is found
    exactly by linear programming before the fit (Konis 2007); the affected odds ratios
    are reported as not estimable (NaN, ``estimable=False``), never as a huge number, a
    :class:`~survrad.exceptions.ConvergenceWarning` names the columns and
    ``converged_`` is False. Under complete separation every term is not estimable.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=200)})
    >>> y = (rng.random(200) < 1 / (1 + np.exp(-X["a"]))).astype(int)
    >>> m = LogisticModel().fit(X, y)
    >>> m.summary().to_frame().index.tolist()
    ['intercept', 'a']
    """

    endpoint_kind = "binary"

    def __init__(self, penalty: float = 0.0, ci_level: float = 0.95,
                 cluster_robust: bool = True, max_iter: int = 100) -> None:
        self.penalty = penalty
        self.ci_level = ci_level
        self.cluster_robust = cluster_robust
        self.max_iter = max_iter

    def _check_params(self) -> tuple[float, int]:
        pen = self.penalty
        if isinstance(pen, bool) or not isinstance(pen, int | float) or not np.isfinite(pen) \
                or pen < 0:
            raise ValueError(f"penalty must be a finite number >= 0, got {pen!r}.")
        check_fraction("ci_level", self.ci_level)
        return float(pen), check_int("max_iter", self.max_iter, min_value=1)

    def fit(self, X: pd.DataFrame, y: Any, groups: Any = None) -> LogisticModel:
        """Fit the model.

        Parameters
        ----------
        X : DataFrame (n_samples, n_features)
            Numeric features indexed by id (used in messages).
        y : array-like of 0/1
        groups : array-like, optional
            Cluster labels (patient ids when rows are lesions). Used for the
            cluster-robust covariance when ``cluster_robust`` and unpenalised; ignored
            otherwise.

        Returns
        -------
        self

        Raises
        ------
        SchemaError
            Bad features (non-numeric, NaN, inf), bad outcome, length mismatch, missing
            groups.
        FitError
            Constant or collinear features, or p + 1 > n, when unpenalised.
        """
        penalty, max_iter = self._check_params()
        frame = as_frame(X)
        A = check_design(frame, model_name="LogisticModel", allow_constant=penalty > 0)
        yv = check_binary(y, ids=list(frame.index))
        if yv.shape[0] != A.shape[0]:
            raise SchemaError(f"LogisticModel: X has {A.shape[0]} rows but y has "
                              f"{yv.shape[0]}; they must describe the same rows in order.")
        use_groups = groups is not None and self.cluster_robust and penalty == 0
        codes = _check_groups(groups, frame) if use_groups else None
        center, scale = standardize_columns(A)
        Z = (A - center) / scale
        if penalty == 0:
            check_rank(A, frame.columns, model_name="LogisticModel", intercept=True)
            _warn_epv(yv, A.shape[1])
            fit = _fit_mle(Z, yv, codes, max_iter, _back_transform(center, scale))
        else:
            fit = _fit_ridge(Z, yv, penalty, max(max_iter, 1000))
        self._store(fit, center, scale, frame, codes)
        self._set_likelihoods(Z, yv, fit.params)
        if not fit.converged:
            self._warn_problem(fit.problem)
        return self

    def _store(self, fit: _Fit, center: np.ndarray, scale: np.ndarray,
               frame: pd.DataFrame, codes: np.ndarray | None) -> None:
        T = _back_transform(center, scale)
        params = T @ fit.params
        self.intercept_ = float(params[0])
        self.coef_ = params[1:]
        self.cov_ = None if fit.cov is None else T @ fit.cov @ T.T
        self.converged_ = fit.converged
        self.estimable_ = fit.estimable.copy()
        self.n_clusters_ = None if codes is None else int(np.unique(codes).size)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)

    def _set_likelihoods(self, Z: np.ndarray, y: np.ndarray, params: np.ndarray) -> None:
        """Log likelihoods of the fit and of the intercept-only model (R's ``logLik``)."""
        eta = params[0] + Z @ params[1:]
        self.n_, self.n_events_ = int(y.size), int(y.sum())
        self.loglik_ = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
        rate = self.n_events_ / self.n_
        self.loglik_null_ = float(self.n_events_ * np.log(rate)
                                  + (self.n_ - self.n_events_) * np.log1p(-rate))

    def _warn_problem(self, problem: str) -> None:
        names = ["intercept", *self.feature_names_in_]
        bad = [n for n, ok in zip(names, self.estimable_, strict=True) if not ok]
        shown = format_values(bad) if bad else "none"
        warnings.warn(
            f"LogisticModel did not converge ({problem}); not estimable: {shown}. Their odds "
            "ratios are reported as NaN. Consider removing or merging the separating "
            "feature(s), or a penalty (penalty > 0).",
            ConvergenceWarning, stacklevel=3,
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("LogisticModel is not fitted yet: call fit(X, y) first.")

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape (n_samples, 2): columns P(y=0), P(y=1)."""
        self._check_fitted()
        A = check_predict_design(X, list(self.feature_names_in_), model_name="LogisticModel")
        p1 = expit(linear_predictor(A, self.coef_, self.intercept_))
        return np.column_stack([1.0 - p1, p1])

    def summary(self, intercept: bool | None = None) -> LogisticSummary:
        """Model statistics and coefficient table, as R's ``summary(glm(..., binomial))``.

        Parameters
        ----------
        intercept : bool, optional
            ``False`` leaves the intercept row out of the table (by default it is the
            first row, term ``"intercept"``: the log odds at all features = 0).

        Returns
        -------
        LogisticSummary
            n, outcomes, log-likelihoods, null and residual deviance with their degrees
            of freedom, AIC, likelihood-ratio and Wald tests of the slopes, and the
            table (``.to_frame()``, terms as the index): coef, or, se, z, p, or_ci_low,
            or_ci_high, estimable. Non-estimable terms have NaN numbers; penalised fits
            NaN se, CI and p.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(1)
        >>> X = pd.DataFrame({"a": rng.normal(size=150), "b": rng.normal(size=150)})
        >>> s = LogisticModel().fit(X, (X["a"] + rng.normal(size=150) > 0).astype(int)).summary()
        >>> s.df_null, s.df_residual, s.likelihood_ratio_test.df
        (149, 147, 2)
        """
        self._check_fitted()
        return logistic_summary(self, intercept)

    def score(self, X: pd.DataFrame, y: Any) -> float:
        """Area under the ROC curve of the predicted probabilities on ``(X, y)``.

        scikit-learn's ``score`` (greater is better), used by ``GridSearchCV`` and
        ``cross_val_score`` when no scorer is given.

        Returns
        -------
        float
        """
        return binary_auc(y, self.predict_proba(X)[:, 1])

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        """scikit-learn's ``LogisticModel(...)``; once fitted, followed by the deviances."""
        base = super().__repr__(N_CHAR_MAX)
        if not hasattr(self, "loglik_"):
            return base
        return "\n".join([base, *("  " + line for line in self.summary().brief())])


def _check_groups(groups: Any, frame: pd.DataFrame) -> np.ndarray:
    g = pd.Series(np.asarray(groups, dtype=object).ravel())
    if g.shape[0] != frame.shape[0]:
        raise SchemaError(f"LogisticModel: groups has {g.shape[0]} values but X has "
                          f"{frame.shape[0]} rows.")
    missing = g.isna().to_numpy()
    if missing.any():
        raise SchemaError("LogisticModel: groups (cluster ids) are missing.",
                          ids=list(frame.index[missing]))
    codes = pd.factorize(g.astype(str), sort=True)[0]
    if np.unique(codes).size < 2:
        raise SchemaError("LogisticModel: cluster-robust covariance needs at least 2 groups; "
                          "got 1. Pass groups=None or cluster_robust=False.")
    return codes


def _warn_epv(y: np.ndarray, p: int) -> None:
    minority = int(min(y.sum(), y.size - y.sum()))
    if minority / p < 10:
        warnings.warn(
            f"LogisticModel: {minority} outcomes in the smaller class for {p} feature(s) "
            f"({minority / p:.1f} per feature, below 10): estimates will be unstable; use a "
            "penalty or feature selection.", StatisticalWarning, stacklevel=3)


# --------------------------------------------------------------------------- forest
class ForestClassifier(CachedParamNames, BaseEstimator):
    """Random forest classifier for a binary response (scikit-learn) on a checked design.

    Parameters
    ----------
    n_estimators : int, default 300
        Number of trees.
    min_samples_leaf : int, default 5
        Smallest number of patients in a leaf.
    max_features : {"sqrt", "log2"}, int, float or None, default "sqrt"
        Columns tried at each split (scikit-learn's ``max_features``).
    standardize : bool, default True
        Centre and scale columns (float64) before scikit-learn's float32 cast; splits are
        unchanged but ``1e9 + N(0, 1)`` stays distinct. With ``False`` such a column is
        refused (:class:`~survrad.exceptions.FitError`).
    random_state : None, int, SeedSequence or Generator
        Same value, same predictions whatever ``n_jobs``.
    n_jobs : int or None
        Threads for growing trees; prediction is sequential (order-stable sums).

    Attributes
    ----------
    forest_ : sklearn.ensemble.RandomForestClassifier
    classes_ : ndarray ``[0, 1]``
    feature_names_in_, n_features_in_, center_, scale_

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    >>> y = (X["a"] > 0).astype(int)
    >>> ForestClassifier(n_estimators=10, random_state=0).fit(X, y).predict_proba(X).shape
    (80, 2)
    """

    endpoint_kind = "binary"

    #: Validation method a study uses for this model unless told otherwise. Harrell's
    #: optimism bootstrap under-corrects forests: they nearly reproduce the outcomes of
    #: their training patients, and every bootstrap sample holds about 63 % of the
    #: original patients, so the "test" performance on the original cohort is inflated.
    preferred_validation_method = ".632+"
    #: No linear predictor: the calibration slope is not among the default metrics.
    linear_predictor = False

    def __init__(
        self,
        n_estimators: int = 300,
        min_samples_leaf: int = 5,
        max_features: Any = "sqrt",
        standardize: bool = True,
        random_state: RandomState = None,
        n_jobs: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.standardize = standardize
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _make_forest(self) -> Any:
        from survrad.models._trees import random_forest_classifier

        return random_forest_classifier(
            n_estimators=check_int("n_estimators", self.n_estimators, min_value=1),
            min_samples_leaf=check_int("min_samples_leaf", self.min_samples_leaf, min_value=1),
            max_features=check_max_features(self.max_features),
            n_jobs=check_n_jobs(self.n_jobs),
            random_state=sklearn_seed(self.random_state),
        )

    def _check_params(self) -> None:
        self._make_forest()

    def fit(self, X: pd.DataFrame, y: Any, groups: Any = None) -> ForestClassifier:
        """Grow the forest.

        Parameters
        ----------
        X : DataFrame
            Numeric features indexed by id.
        y : array-like of 0/1
        groups : ignored
            Accepted for a uniform interface; resample by patient outside the model.

        Returns
        -------
        self
        """
        forest = self._make_forest()
        frame, A, center, scale = design_for_trees(
            X, model_name="ForestClassifier", standardize=bool(self.standardize))
        yv = check_binary(y, ids=list(frame.index))
        if yv.shape[0] != A.shape[0]:
            raise SchemaError(f"ForestClassifier: X has {A.shape[0]} rows but y has "
                              f"{yv.shape[0]}.")
        forest.fit(A, yv)
        forest.set_params(n_jobs=1)  # ordered sums at predict time
        self.forest_ = forest
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = A.shape[1]
        self.center_, self.scale_ = center, scale
        return self

    def _design(self, X: Any) -> np.ndarray:
        if not hasattr(self, "forest_"):
            raise NotFittedError("ForestClassifier is not fitted yet: call fit(X, y) first.")
        A = check_predict_design(X, list(self.feature_names_in_), model_name="ForestClassifier")
        if self.center_ is not None:
            A = (A - self.center_) / self.scale_
        return A

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape (n_samples, 2): columns P(y=0), P(y=1)."""
        A = self._design(X)
        return np.asarray(self.forest_.predict_proba(A), dtype=float)

    def score(self, X: pd.DataFrame, y: Any) -> float:
        """Area under the ROC curve of the predicted probabilities (scikit-learn's
        ``score``: greater is better)."""
        return binary_auc(y, self.predict_proba(X)[:, 1])

    def permutation_importance(
        self,
        X: pd.DataFrame,
        y: Any,
        n_repeats: int = 5,
        random_state: RandomState = None,
    ) -> pd.DataFrame:
        """Drop in ROC AUC when each feature is permuted.

        Returns
        -------
        DataFrame with columns feature, importance_mean, importance_std, in the feature
        order of ``fit``.
        """
        from sklearn.metrics import roc_auc_score

        A = self._design(X)
        yv = check_binary(y)
        if yv.shape[0] != A.shape[0]:
            raise SchemaError(f"ForestClassifier: X has {A.shape[0]} rows but y has "
                              f"{yv.shape[0]}.")

        def score(Z: np.ndarray) -> float:
            return float(roc_auc_score(yv, self.forest_.predict_proba(Z)[:, 1]))

        return permutation_drop(score, A, list(self.feature_names_in_),
                                n_repeats=n_repeats, random_state=random_state)

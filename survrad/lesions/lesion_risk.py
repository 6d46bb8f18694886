"""E ``lesion_risk``: a lesion-level outcome model whose lesion risks are pooled (layer 2).

Every baseline lesion inherits its patient's outcome. A lesion-level model is fitted on the
training cohort's lesions with case weights ``1 / (lesions of the patient)``, so every
patient weighs 1 in total whatever its number of lesions:

- ``model="cox"``, survival endpoint: a weighted Cox model (Efron ties, optional ridge
  ``penalty``) with a cluster-robust (sandwich) variance by patient, because lesions of a
  patient share one outcome and are not independent;
- ``model="cox"``, binary endpoint: a weighted logistic regression (optional ridge
  ``penalty``); the lesion score is its logit;
- ``model="forest"``: a random survival forest (scikit-survival) or a random forest
  classifier (scikit-learn), both with the same case weights.

The lesion scores (linear predictor, logit, or the forest's risk score) are pooled per
patient by max, mean, vw_mean (volume weights), topk_mean (mean of the ``top_k`` highest)
or logsumexp (a smooth maximum).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import RandomForestClassifier
from sksurv.ensemble import RandomSurvivalForest

from survrad._math.coxph import cox_fit, cox_robust_variance
from survrad._math.linear import linear_predictor
from survrad._math.logistic import logistic_fit
from survrad._validation import check_choice, check_int, check_random_state
from survrad.data.cohort import Cohort
from survrad.data.outcome import SURV_DTYPE
from survrad.exceptions import (
    ConvergenceWarning,
    DataWarning,
    FitError,
    SurvradDeprecationWarning,
)
from survrad.lesions._learned import (
    LesionMatrix,
    check_pooling,
    lesion_matrix,
    lesion_score_frame,
    patient_outcome,
    pool,
)
from survrad.lesions.base import AggregationStrategy, resolve_features

__all__ = ["LesionRiskAggregation"]

_NAME = "lesion_risk"
_POOLINGS = ("max", "mean", "vw_mean", "topk_mean", "logsumexp")


class LesionRiskAggregation(AggregationStrategy):
    """E ``lesion_risk``: lesions inherit their patient's outcome; lesion risks are pooled.

    Parameters
    ----------
    features : list of str, optional
        Lesion features (names or globs); default ``cohort.lesion_features``. They are
        standardised on the training lesions, so coefficients are per standard deviation.
    model : {"cox", "forest"}, default "cox"
        Lesion-level model (see the module docstring; "cox" is a weighted logistic
        regression for a binary endpoint).
    pooling : sequence of {"max", "mean", "vw_mean", "topk_mean", "logsumexp"}
        Output columns ``lesion_risk__<pooling>``.
    top_k : int, default 2
        Lesions averaged by ``topk_mean`` (all of them for patients with fewer).
    penalty : float, default 0.0
        Ridge penalty of the linear model on glmnet's scale, the meaning of ``penalty``
        in :class:`~survrad.models.CoxModel` (with ``l1_ratio=0``) and
        :class:`~survrad.models.LogisticModel`: the fit minimises
        ``-loglik_w / sum(w) + penalty / 2 * ||b||^2``, where ``loglik_w`` is the
        case-weighted log partial likelihood (Cox, Efron ties; glmnet uses Breslow's) or
        log likelihood (logistic) of the lesions and ``sum(w)`` the number of training
        patients with lesions, on the standardised features. Its strength therefore does
        not grow with the cohort.
    penalty_scale : {"mean", "total"}, default "mean"
        "mean" is the meaning above. "total" is the former meaning, kept for one release
        and deprecated (:class:`~survrad.exceptions.SurvradDeprecationWarning`): a ridge on
        the TOTAL weighted log likelihood, ``loglik_w - penalty / 2 * ||b||^2``. To convert,
        divide a former value by the number of training patients with lesions:
        ``penalty_mean = penalty_total / n_patients_train_`` gives the same fit.
    endpoint : str, optional
        The endpoint the lesion model learns from; ``None`` uses the one given to ``fit``.
    n_estimators, min_samples_leaf : int
        Forest size and leaf size (``model="forest"``).
    random_state : None, int or numpy.random.Generator
        Seeds the forest.
    min_epv : float, default 10.0
        Fewest PATIENT events per lesion feature an unpenalised lesion-level Cox model
        accepts (docs/reliability.md #22; lesions inherit their patient's outcome, so the events
        that inform the model are the patients'). Below it the fit is refused with a
        suggestion (a penalty, fewer features); lower it deliberately to fit anyway.

    Attributes
    ----------
    features_ : list of str
    coef_ : pandas.Series
        Linear model coefficients per standard deviation of each feature (``model="cox"``).
    se_ : pandas.Series
        Their cluster-robust (sandwich) standard errors, clustered by patient. With
        ``penalty > 0`` the Cox sandwich uses the unpenalised information (approximate).
    penalty_ : float
        The penalty used, on glmnet's scale (converted when ``penalty_scale="total"``).
    converged_ : bool
    n_lesions_train_, n_patients_train_ : int

    Notes
    -----
    Lesion scores come from a model fitted on these very lesions, so scores of TRAINING
    patients are optimistic; :func:`survrad.lesions.lesion_risk_table` cross-fits them.
    The forest's lesion score is scikit-survival's risk score (the ensemble cumulative
    hazard summed over the training event times) or the forest's event probability.
    Patients without baseline lesions get the training-cohort mean of every column, with
    a warning.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from survrad.data.cohort import Cohort, Endpoint
    >>> rng = np.random.default_rng(0)
    >>> ids = pd.Index([f"P{i}" for i in range(60)], name="patient_id")
    >>> pat = pd.DataFrame({"t": rng.exponential(size=60), "e": 1}, index=ids)
    >>> les = pd.DataFrame({"patient_id": np.repeat(ids, 2), "lesion_id": ["L1", "L2"] * 60,
    ...                     "rad_a": rng.normal(size=120)})
    >>> c = Cohort(pat, les, lesion_features=("rad_a",),
    ...            endpoints={"os": Endpoint("os", "survival", time="t", event="e")})
    >>> LesionRiskAggregation().fit(c, "os").transform(c).columns.tolist()
    ['lesion_risk__max', 'lesion_risk__mean']
    """

    requires_outcome = True

    def __init__(self, features: Sequence[str] | None = None, model: str = "cox",
                 pooling: Sequence[str] = ("max", "mean"), top_k: int = 2,
                 penalty: float = 0.0, endpoint: str | None = None, n_estimators: int = 100,
                 min_samples_leaf: int = 15, random_state: Any = None,
                 min_epv: float = 10.0, penalty_scale: str = "mean") -> None:
        self.features = features
        self.model = model
        self.pooling = pooling
        self.top_k = top_k
        self.penalty = penalty
        self.endpoint = endpoint
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state
        self.min_epv = min_epv
        self.penalty_scale = penalty_scale

    # ------------------------------------------------------------------ fit
    def fit(self, cohort: Cohort, endpoint: str | None = None) -> LesionRiskAggregation:
        """Fit the lesion-level model on the training cohort's baseline lesions."""
        self._check_params()
        self.endpoint_ = self.endpoint if self.endpoint is not None else endpoint
        kind, a, b = patient_outcome(cohort, self.endpoint_, type(self).__name__)
        self.features_ = resolve_features(cohort, self.features)
        lm = lesion_matrix(cohort, self.features_)
        counts = lm.lesion_counts
        if (counts == 0).any():
            warnings.warn(f"{type(self).__name__}: {int((counts == 0).sum())} training patients "
                          "have no baseline lesion and do not inform the lesion model.",
                          DataWarning, stacklevel=2)
        X = self._standardise_fit(lm.X)
        weights = 1.0 / counts[lm.codes]
        self.endpoint_kind_ = kind
        self.coef_, self.se_ = None, None
        self.penalty_ = float(self.penalty)    # the linear model converts it (_fit_linear)
        if self.model == "cox":
            self._fit_linear(X, lm, kind, a, b, weights)
        else:
            self._fit_forest(X, lm, kind, a, b, weights)
        self.n_lesions_train_ = int(lm.codes.size)
        self.n_patients_train_ = int((counts > 0).sum())
        super().fit(cohort, endpoint)  # output names and fill values (base fill rule)
        return self

    def _check_params(self) -> None:
        check_choice("model", self.model, ("cox", "forest"))
        self.pooling_ = check_pooling(self.pooling, _POOLINGS)
        check_int("top_k", self.top_k, min_value=1)
        check_int("n_estimators", self.n_estimators, min_value=1)
        check_int("min_samples_leaf", self.min_samples_leaf, min_value=1)
        if not (np.isfinite(self.penalty) and self.penalty >= 0):
            raise ValueError(f"penalty must be a finite number >= 0, got {self.penalty!r}.")
        check_choice("penalty_scale", self.penalty_scale, ("mean", "total"))

    def _l2_on_mean_scale(self, n_patients: float) -> float:
        """The penalty on glmnet's (mean) scale; converts the deprecated "total" scale."""
        if self.penalty_scale == "mean":
            return float(self.penalty)
        value = float(self.penalty) / n_patients
        warnings.warn(f"LesionRiskAggregation(penalty_scale='total') is deprecated and will "
                      f"be removed in the next release: penalty now has glmnet's scale (as in "
                      f"CoxModel). penalty={self.penalty:g} on the total scale is "
                      f"penalty={value:.6g} for these {n_patients:g} training patients.",
                      SurvradDeprecationWarning, stacklevel=4)
        return value

    def _standardise_fit(self, X: np.ndarray) -> np.ndarray:
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        const = sd <= 1e-12 * np.maximum(1.0, np.abs(self.mean_))
        names = [f for f, c in zip(self.features_, const, strict=True) if c]
        if const.any() and self.model == "cox":
            raise FitError(f"lesion features are constant in the training cohort: {names}; "
                           "drop them (a Cox model cannot estimate their effect).",
                           columns=names)
        if const.any():
            warnings.warn(f"{type(self).__name__}: constant lesion features {names} carry no "
                          "information.", DataWarning, stacklevel=3)
        self.scale_ = np.where(const, 1.0, sd)
        return (X - self.mean_) / self.scale_

    def _fit_linear(self, X: np.ndarray, lm: LesionMatrix, kind: str, a: np.ndarray,
                    b: np.ndarray | None, weights: np.ndarray) -> None:
        if self.penalty == 0 and np.linalg.matrix_rank(X) < X.shape[1]:
            raise FitError("the lesion features are collinear (rank-deficient design); "
                           "drop redundant features or set penalty > 0.",
                           columns=list(self.features_))
        total = float(weights.sum())           # patients with lesions
        self.penalty_ = self._l2_on_mean_scale(total)
        if kind == "binary":
            fit = logistic_fit(X, a[lm.codes], weights=weights, l2=self.penalty_, max_iter=200)
            self.coef_ = pd.Series(fit.coef, index=self.features_, name="coef")
            self.intercept_ = fit.intercept
            se = _logistic_robust_se(X, a[lm.codes], weights, lm.codes, fit.intercept,
                                     fit.coef, self.penalty_ * total)
            self.se_ = pd.Series(se, index=self.features_, name="se")
            self.converged_ = fit.converged
        else:
            self._check_events_per_feature(int(np.count_nonzero(b)), X.shape[1])
            time, event = a[lm.codes], b[lm.codes]
            # glmnet's scale: -loglik_w / sum(w) + penalty/2 |b|^2 <=> loglik_w - l2/2 |b|^2
            fit = cox_fit(X, time, event, weights=weights, l2=self.penalty_ * total)
            var = cox_robust_variance(X, time, event, fit.coef, groups=lm.codes,
                                      weights=weights)
            self.coef_ = pd.Series(fit.coef, index=self.features_, name="coef")
            self.se_ = pd.Series(np.sqrt(np.diag(var)), index=self.features_, name="se")
            self.intercept_ = 0.0
            self.converged_ = bool(fit.converged)
        if not self.converged_:
            warnings.warn(f"{type(self).__name__}: the lesion-level model did not converge "
                          "(separation or collinearity?); set penalty > 0.",
                          ConvergenceWarning, stacklevel=3)

    def _check_events_per_feature(self, n_events: int, p: int) -> None:
        """docs/reliability.md #22 for the unpenalised lesion-level Cox (patient events)."""
        if self.penalty == 0 and n_events < self.min_epv * p:
            raise FitError(
                f"{type(self).__name__}: {p} lesion features for {n_events} patient events "
                f"({n_events / p:.1f} events per feature, below min_epv = {self.min_epv:g}): "
                "an unpenalised lesion-level Cox model would overfit. Set penalty > 0, "
                "select fewer features (features=[...]), or lower min_epv deliberately.",
                columns=list(self.features_))

    def _fit_forest(self, X: np.ndarray, lm: LesionMatrix, kind: str, a: np.ndarray,
                    b: np.ndarray | None, weights: np.ndarray) -> None:
        seed = int(check_random_state(self.random_state).integers(2**31 - 1))
        common = {"n_estimators": self.n_estimators, "min_samples_leaf": self.min_samples_leaf,
                  "max_features": "sqrt", "random_state": seed, "n_jobs": 1}
        if kind == "binary":
            self.forest_ = RandomForestClassifier(**common).fit(X, a[lm.codes],
                                                                sample_weight=weights)
        else:
            y = np.empty(lm.codes.size, dtype=SURV_DTYPE)
            y["time"], y["event"] = a[lm.codes], b[lm.codes]
            self.forest_ = RandomSurvivalForest(**common).fit(X, y, sample_weight=weights)
        self.converged_ = True

    # ------------------------------------------------------------ transform
    def _scores_std(self, X: np.ndarray) -> np.ndarray:
        if self.model == "cox":
            return linear_predictor(X, self.coef_.to_numpy(), self.intercept_)
        if self.endpoint_kind_ == "binary":
            return self.forest_.predict_proba(X)[:, 1]
        return self.forest_.predict(X)

    def _pooled(self, scores: np.ndarray, lm: LesionMatrix) -> pd.DataFrame:
        cols = {f"{_NAME}__{p}": pool(scores, lm.codes, lm.n_patients, p, volume=lm.volume,
                                      top_k=self.top_k)
                for p in self.pooling_}
        return pd.DataFrame(cols, index=lm.patient_ids)

    def _score_cohort(self, cohort: Cohort) -> tuple[LesionMatrix, np.ndarray]:
        lm = lesion_matrix(cohort, self.features_)
        return lm, self._scores_std((lm.X - self.mean_) / self.scale_)

    def _compute(self, cohort: Cohort) -> pd.DataFrame:
        lm, scores = self._score_cohort(cohort)
        return self._pooled(scores, lm)

    def lesion_scores(self, cohort: Cohort) -> pd.DataFrame:
        """Lesion risk of every baseline lesion (higher = riskier).

        Returns
        -------
        pandas.DataFrame
            ``patient_id, lesion_id, score``: the Cox linear predictor (log relative hazard
            per lesion), the logistic logit, or the forest's risk score.
        """
        self._check_fitted()
        lm, scores = self._score_cohort(cohort)
        return lesion_score_frame(lm, cohort, scores)

    def summary(self, ci_level: float = 0.95) -> pd.DataFrame:
        """Coefficients of the lesion-level Cox model with cluster-robust inference.

        Returns
        -------
        pandas.DataFrame
            ``term, coef, se, hr, hr_ci_low, hr_ci_high, p, estimable`` (per standard
            deviation of each feature); ``or`` columns for the logistic model.
        """
        self._check_fitted()
        if self.coef_ is None:
            raise FitError("summary() needs model='cox'; a forest has no coefficients.")
        coef = self.coef_.to_numpy()
        se = np.full(coef.size, np.nan) if self.se_ is None else self.se_.to_numpy()
        zq = stats.norm.ppf(0.5 + ci_level / 2)
        ok = np.isfinite(se) & (se > 0) & bool(self.converged_)
        with np.errstate(invalid="ignore"):
            p = np.where(ok, 2 * stats.norm.sf(np.abs(coef / se)), np.nan)
        lab = "hr" if self.endpoint_kind_ == "survival" else "or"
        return pd.DataFrame({
            "term": list(self.features_), "coef": coef, "se": se, lab: np.exp(coef),
            f"{lab}_ci_low": np.where(ok, np.exp(coef - zq * se), np.nan),
            f"{lab}_ci_high": np.where(ok, np.exp(coef + zq * se), np.nan),
            "p": p, "estimable": ok})


def _logistic_robust_se(X: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray,
                        b0: float, b: np.ndarray, penalty: float) -> np.ndarray:
    """Cluster-robust (sandwich) standard errors of a weighted logistic regression.

    Bread ``A = Z' diag(w p (1 - p)) Z`` (+ ridge on the slopes), meat
    ``sum_g U_g U_g'`` with ``U_g`` the summed weighted scores of cluster ``g``.
    """
    Z = np.column_stack([np.ones(X.shape[0]), X])
    prob = 1.0 / (1.0 + np.exp(-(Z @ np.concatenate(([b0], b)))))
    bread = (Z * (w * prob * (1 - prob))[:, None]).T @ Z
    bread[1:, 1:] += penalty * np.eye(X.shape[1])
    scores = Z * (w * (y - prob))[:, None]
    U = np.zeros((int(groups.max()) + 1, Z.shape[1]))
    np.add.at(U, groups, scores)
    try:
        inv = np.linalg.inv(bread)
    except np.linalg.LinAlgError:
        return np.full(X.shape[1], np.nan)
    var = inv @ (U.T @ U) @ inv
    return np.sqrt(np.diag(var))[1:]

"""Cox proportional-hazards model: unpenalised inference or elastic-net prediction (layer 4).

:class:`CoxModel` wraps the numpy kernels of :mod:`survrad._math.coxph`:

* ``penalty=0`` (default): R's ``coxph`` (Efron ties, Newton-Raphson), hazard ratios with
  Wald confidence intervals, cluster-robust standard errors when ``groups`` is given
  (R's ``cluster()``), the Grambsch-Therneau PH test of R's ``cox.zph``
  (:func:`cox_zph`);
* ``penalty > 0``: glmnet's elastic net (``penalty`` = glmnet's ``lambda``,
  ``l1_ratio`` = glmnet's ``alpha``, Breslow ties, features standardised internally);
* ``penalty="cv"``: the penalty is chosen by patient-grouped K-fold cross-validation of
  the partial likelihood (:func:`select_penalty`);
* :meth:`CoxModel.fit_path`: the whole elastic-net path at once (warm starts and strong
  rules as glmnet's; one sort of the risk sets), a :class:`CoxPath`.

Every mode also fits counting-process data (R's ``coxph(Surv(start, stop, event) ~ ...)``,
time-varying covariates): pass ``y`` from :meth:`survrad.Surv.from_counting`, one row
per interval, and the patient ids as ``groups`` for standard errors robust to the
dependence between a patient's rows (R's ``cluster(id)``).

Design checks happen before fitting (docs/reliability.md #17-#24) and the model keeps no
patient data: only coefficients, scaling constants and the baseline hazard at the
distinct event times.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator

from survrad._math.coxph import (
    CoxRiskSets,
    cox_elastic_net_path,
    cox_fit,
    cox_robust_variance,
)
from survrad._math.linear import linear_predictor
from survrad._validation import (
    CachedParamNames,
    check_choice,
    check_fraction,
    check_int,
    check_random_state,
)
from survrad.data.outcome import check_y_counting, event_sufficiency
from survrad.exceptions import (
    ConvergenceWarning,
    FitError,
    NotFittedError,
    SchemaError,
    StatisticalWarning,
    format_values,
)
from survrad.models._checks import (
    as_frame,
    check_design,
    check_predict_design,
    check_rank,
    check_values,
    constant_columns,
)
from survrad.models._inference import (
    concordance_with_se,
    harrell_c,
    scaled_schoenfeld,
    score_tests,
)
from survrad.models.summary import CoxSummary, PHTest, cox_summary

__all__ = ["CoxModel", "CoxPath", "cox_zph", "select_penalty"]

_RANK_TOL = 1e-8          # smallest singular value / largest, below = rank deficient


# ----------------------------------------------------------------------- input checks
_CONSTANT_HINT = (", or fit CoxModel(drop_constant=True) to drop them (listed in "
                  "dropped_features_)")


@dataclass(frozen=True)
class _Design:
    """Validated inputs of one fit or prediction."""

    x: np.ndarray                 # covariates (n, p), float64
    names: list[str]              # covariate names
    strata: np.ndarray | None     # stratum keys (n,) as tuples of the strata columns


def _split_strata(X: Any, strata_cols: list[str]) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Covariate columns (names as str) and stratum keys of ``X``; strata are not checked
    as numbers, covariates are checked by the shared design checks afterwards."""
    df = as_frame(X)
    if not all(isinstance(c, str) for c in df.columns):
        df = df.set_axis([str(c) for c in df.columns], axis=1)
    dup = df.columns[df.columns.duplicated()]
    if len(dup):
        raise SchemaError(f"CoxModel: duplicate column names {format_values(dup.unique())}; "
                          "rename them.")
    missing = [c for c in strata_cols if c not in df.columns]
    if missing:
        raise SchemaError(f"strata columns {missing} not found in X; available: "
                          f"{list(df.columns)}.")
    strata = None
    if strata_cols:
        sdf = df[strata_cols]
        if sdf.isna().any().any():
            raise SchemaError(f"strata columns {strata_cols} have missing values.",
                              ids=list(df.index[sdf.isna().any(axis=1).to_numpy()]))
        strata = np.empty(len(df), dtype=object)
        strata[:] = list(sdf.itertuples(index=False, name=None))
    return (df.drop(columns=strata_cols) if strata_cols else df), strata


def _fit_design(X: Any, strata_cols: list[str], drop_constant: bool) -> tuple[_Design, list]:
    """Checked training design (docs/reliability.md #17-#20) and the constant columns dropped."""
    cov, strata = _split_strata(X, strata_cols)
    if cov.shape[1] == 0:
        raise FitError("CoxModel: X has no feature columns (besides strata).")
    dropped: list[str] = []
    if drop_constant:
        dropped = constant_columns(check_values(cov, model_name="CoxModel"), cov.columns)
        if len(dropped) == cov.shape[1]:
            raise FitError(f"CoxModel: every feature is constant ({format_values(dropped)}); "
                           "nothing is left to fit.", columns=dropped)
        cov = cov.drop(columns=dropped)
    x = check_design(cov, model_name="CoxModel", constant_hint=_CONSTANT_HINT)
    return _Design(x, [str(c) for c in cov.columns], strata), dropped


def _check_weights(sample_weight: Any, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=float).ravel()
    if w.shape[0] != n:
        raise ValueError(f"sample_weight has length {w.shape[0]}, expected {n}.")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError("sample_weight must be finite and strictly positive.")
    return w


def _check_groups(groups: Any, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    g = np.asarray(groups, dtype=object).ravel()
    if g.shape[0] != n:
        raise ValueError(f"groups has length {g.shape[0]}, expected {n}.")
    if pd.isna(pd.Series(g)).any():
        raise ValueError("groups has missing values.")
    return np.asarray([str(v) for v in g], dtype=object)


def _strata_codes(strata: np.ndarray | None,
                  levels: list | None = None) -> tuple[np.ndarray | None, list | None]:
    if strata is None:
        return None, None
    if levels is None:
        levels = sorted(set(strata), key=repr)
    index = {lv: i for i, lv in enumerate(levels)}
    unseen = [s for s in strata if s not in index]
    if unseen:
        raise SchemaError(f"strata levels not seen in fit: {format_values(unseen)}.")
    return np.asarray([index[s] for s in strata], dtype=np.int64), levels


def _scale(x: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """glmnet's standardisation: weighted mean and 1/n (weighted) standard deviation."""
    if w is None:      # np.average's own unweighted branch, without its overhead
        mean = x.mean(axis=0)
        return mean, np.sqrt(((x - mean) ** 2).mean(axis=0))
    mean = np.average(x, axis=0, weights=w)
    sd = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
    return mean, sd


# ------------------------------------------------------------------------- the path
@dataclass(frozen=True)
class CoxPath:
    """Elastic-net Cox coefficients along a path of penalties (:meth:`CoxModel.fit_path`).

    Unrounded numbers, one row per penalty in the order given (glmnet's ``lambda``,
    usually decreasing).

    Attributes
    ----------
    penalties : ndarray (m,)
    coef_path_ : ndarray (m, p)
        Coefficients per unit of the original features (glmnet's ``coef(fit)``, transposed).
    feature_names : tuple of str
        Column of ``coef_path_`` -> feature.
    l1_ratio : float
        glmnet's ``alpha``.
    loglik : ndarray (m,)
        Log partial likelihood at each row of ``coef_path_``.
    loglik_null, loglik_saturated : float
        At coefficients 0, and of the saturated model (0 without tied events; glmnet's
        ``-sum_k W_k log W_k`` over the total weight ``W_k`` of the events at each tied
        time with Breslow ties).
    n_iter : ndarray of int (m,)
        Newton steps per penalty.
    converged : ndarray of bool (m,)
    """

    penalties: np.ndarray
    coef_path_: np.ndarray
    feature_names: tuple[str, ...]
    l1_ratio: float
    loglik: np.ndarray
    loglik_null: float
    loglik_saturated: float
    n_iter: np.ndarray
    converged: np.ndarray

    @property
    def deviance(self) -> np.ndarray:
        """glmnet's Cox deviance ``2 (loglik_saturated - loglik)`` per penalty."""
        return 2.0 * (self.loglik_saturated - self.loglik)

    @property
    def dev_ratio(self) -> np.ndarray:
        """glmnet's ``dev.ratio``: fraction of the null deviance explained."""
        return 1.0 - self.deviance / (2.0 * (self.loglik_saturated - self.loglik_null))

    @property
    def n_nonzero(self) -> np.ndarray:
        """Non-zero coefficients per penalty (glmnet's ``df``)."""
        return (self.coef_path_ != 0).sum(axis=1)

    def to_frame(self) -> pd.DataFrame:
        """One row per penalty: ``penalty, n_nonzero, loglik, dev_ratio`` and the
        coefficients (one column per feature)."""
        head = pd.DataFrame({"penalty": self.penalties, "n_nonzero": self.n_nonzero,
                             "loglik": self.loglik, "dev_ratio": self.dev_ratio})
        coef = pd.DataFrame(self.coef_path_, columns=list(self.feature_names))
        return pd.concat([head, coef], axis=1)


def _saturated_loglik(time: np.ndarray, event: np.ndarray, w: np.ndarray | None,
                      codes: np.ndarray | None) -> float:
    """``-sum W log W`` over the event weight ``W`` of each (stratum, event time)."""
    dead = event.astype(bool)
    if not dead.any():
        return 0.0
    ww = np.ones(time.size) if w is None else w
    key = np.column_stack([time[dead], np.zeros(int(dead.sum())) if codes is None
                           else np.asarray(codes)[dead]])
    _, inverse = np.unique(key, axis=0, return_inverse=True)
    tot = np.bincount(inverse.ravel(), weights=ww[dead])
    return float(-np.sum(tot * np.log(tot)))


# ------------------------------------------------------------------------ the model
class CoxModel(CachedParamNames, BaseEstimator):
    """Cox proportional-hazards model (R's ``coxph``; glmnet's elastic net when penalised).

    Parameters
    ----------
    penalty : float or "cv", default 0.0
        0: unpenalised maximum partial likelihood with inference. > 0: glmnet's
        ``lambda`` (objective ``-loglik / n + penalty * (l1_ratio * |b|_1 +
        (1 - l1_ratio) / 2 * |b|_2^2)`` on standardised features). ``"cv"``: chosen by
        patient-grouped K-fold cross-validation of the partial likelihood.
    l1_ratio : float, default 0.0
        glmnet's ``alpha``: 0 ridge, 1 lasso, in between elastic net.
    ties : {"efron", "breslow"} or None, default None
        None: Efron unpenalised (R's default), Breslow penalised (glmnet's).
    strata : str or list of str, optional
        Columns of ``X`` used as strata (separate baseline hazards), not covariates.
    ci_level : float, default 0.95
        Level of the Wald confidence intervals of the hazard ratios in :meth:`summary`.
    max_iter : int, default 50
        Newton-Raphson iterations.
    tol : float, default 1e-9
        Convergence on the relative change of the log partial likelihood (R's ``eps``).
    cv_folds : int, default 5
        Folds for ``penalty="cv"``.
    n_penalties : int, default 50
        Size of the penalty grid for ``penalty="cv"`` (glmnet's path:
        ``lambda_max`` down to ``1e-4 * lambda_max``, or ``1e-2`` when n <= p).
    random_state : None, int or numpy Generator
        Fold assignment for ``penalty="cv"``.
    min_epv : float, default 10.0
        The fewest events per variable (events / features) an unpenalised fit accepts;
        fewer is a ``FitError`` suggesting a penalty or a selection step (docs/reliability.md
        #22). Lower it deliberately, e.g. to demonstrate overfitting; 0 accepts any EPV.
        Penalised fits are not checked.
    drop_constant : bool, default False
        False: a constant feature (all values equal, up to round-off: ``0.3`` and
        ``0.1 + 0.2``) is a ``FitError`` naming it. True: such features are dropped
        before fitting and listed in ``dropped_features_`` (they may be constant only
        inside a bootstrap resample); prediction ignores them.

    Attributes
    ----------
    coef_, se_ : ndarray of shape (n_terms,)
        Coefficients (log hazard ratios per unit of the original feature) and their
        standard errors (robust when ``groups`` was given; NaN when penalised).
    naive_se_ : ndarray or None
        Model-based standard errors when ``se_`` is robust.
    var_ : ndarray (n_terms, n_terms)
        Covariance matrix used for ``se_``.
    estimable_ : ndarray of bool
        False for coefficients that did not converge (infinite / separated).
    loglik_, loglik_null_ : float
    n_, n_events_, n_iter_ : int
    converged_ : bool
    penalty_ : float
        The penalty used (the selected one when ``penalty="cv"``).
    cv_results_ : DataFrame or None
        ``penalty, cvpl`` per grid value when ``penalty="cv"``.
    feature_names_in_ : ndarray of str
        Covariate names (terms), in the order of ``coef_`` (dropped features excluded).
    dropped_features_ : list of str
        Constant features dropped by ``drop_constant=True`` (empty otherwise).
    strata_levels_ : list of tuple or None
    counting_ : bool
        Whether ``y`` was a counting-process outcome ((start, stop] rows).
    baseline_cumhaz_ : dict
        ``{stratum_level: (event_times, cumulative_hazard)}`` for a centred linear
        predictor (Breslow; Efron-adjusted as R's ``survfit.coxph`` for Efron fits).

    Notes
    -----
    Sample-size rules for an unpenalised fit: ``FitError`` when ``p >= n`` (not
    identifiable) or when there are fewer than ``min_epv`` events per variable (the
    usual rule of thumb is 10: below it the estimates are over-fitted, biased away from
    0); use a penalty or select features first. With ``min_epv`` lowered, an EPV below
    10 still gives a ``StatisticalWarning``. Events are counted as event rows (with
    counting-process data, ``n_`` is the number of (start, stop] rows, as R's
    ``fit$n``, and each event is one row ending with an event). Constant
    (or constant up to round-off) and collinear features are a ``FitError`` naming them
    (the checks shared by every survrad model, :mod:`survrad.models._checks`). A
    coefficient that diverges (monotone likelihood, separation) gives
    ``converged_ = False``, a ``ConvergenceWarning`` naming the term, and NaN in
    :meth:`summary` with ``estimable = False``.

    Features are standardised internally (weighted mean 0, 1/n standard deviation 1)
    so extreme scales (1e9 + noise) fit stably; results are on the original scale.

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.outcome import Surv
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"age": rng.normal(60, 10, 300), "ecog": rng.integers(0, 3, 300)})
    >>> t = rng.exponential(np.exp(-(0.03 * X["age"] + 0.5 * X["ecog"])))
    >>> y = Surv.from_arrays(time=t, event=np.ones(300))
    >>> model = CoxModel().fit(X, y)
    >>> model.summary().to_frame().index.tolist()
    ['age', 'ecog']
    """

    endpoint_kind = "survival"

    def __init__(self, penalty: float | str = 0.0, l1_ratio: float = 0.0,
                 ties: str | None = None, strata: str | list[str] | None = None,
                 ci_level: float = 0.95, max_iter: int = 50, tol: float = 1e-9,
                 cv_folds: int = 5, n_penalties: int = 50, random_state: Any = None,
                 min_epv: float = 10.0, drop_constant: bool = False) -> None:
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.ties = ties
        self.strata = strata
        self.ci_level = ci_level
        self.max_iter = max_iter
        self.tol = tol
        self.cv_folds = cv_folds
        self.n_penalties = n_penalties
        self.random_state = random_state
        self.min_epv = min_epv
        self.drop_constant = drop_constant

    # ------------------------------------------------------------------ parameters
    def _strata_cols(self) -> list[str]:
        if self.strata is None:
            return []
        return [self.strata] if isinstance(self.strata, str) else [str(s) for s in self.strata]

    def _penalised(self) -> bool:
        if isinstance(self.penalty, str):
            check_choice("penalty", self.penalty, ["cv"])
            return True
        if not isinstance(self.penalty, numbers.Real) or isinstance(self.penalty, bool) \
                or not np.isfinite(self.penalty) or self.penalty < 0:
            raise ValueError(f"penalty must be a number >= 0 or 'cv', got {self.penalty!r}.")
        return self.penalty > 0

    def _ties(self, penalised: bool) -> str:
        if self.ties is None:
            return "breslow" if penalised else "efron"
        return check_choice("ties", self.ties, ["efron", "breslow"])

    def _check_params(self) -> bool:
        penalised = self._penalised()
        check_fraction("l1_ratio", self.l1_ratio, inclusive=True)
        check_fraction("ci_level", self.ci_level)
        check_int("max_iter", self.max_iter, min_value=1)
        check_int("cv_folds", self.cv_folds, min_value=2)
        check_int("n_penalties", self.n_penalties, min_value=2)
        if not self.tol > 0:
            raise ValueError(f"tol must be > 0, got {self.tol!r}.")
        if not isinstance(self.min_epv, numbers.Real) or isinstance(self.min_epv, bool) \
                or not np.isfinite(self.min_epv) or self.min_epv < 0:
            raise ValueError(f"min_epv must be a finite number >= 0, got {self.min_epv!r}.")
        if not isinstance(self.drop_constant, bool | np.bool_):
            raise ValueError(f"drop_constant must be True or False, got {self.drop_constant!r}.")
        return penalised

    # ------------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any, groups: Any = None, sample_weight: Any = None) -> CoxModel:
        """Fit the model.

        Parameters
        ----------
        X : DataFrame of shape (n, p)
            Numeric features (and the ``strata`` columns); the index gives row ids in
            error messages.
        y : structured survival array
            From :meth:`survrad.Surv.from_arrays`, or a counting-process outcome from
            :meth:`survrad.Surv.from_counting` (one row of ``X`` per (start, stop]
            interval; a row is at risk at ``t`` when ``start < t <= stop``).
        groups : array-like of shape (n,), optional
            Patient (cluster) ids: cluster-robust standard errors for an unpenalised fit
            (R's ``cluster()``) and patient-grouped folds for ``penalty="cv"`` (required
            then with counting-process rows, so one patient's rows share a fold).
        sample_weight : array-like of shape (n,), optional
            Strictly positive case weights (R's ``weights=``).

        Returns
        -------
        self
        """
        self._reset()
        penalised = self._check_params()
        d, dropped = _fit_design(X, self._strata_cols(), bool(self.drop_constant))
        start, time, event = check_y_counting(y)
        n, p = d.x.shape
        if time.shape[0] != n:
            raise ValueError(f"X has {n} rows but y has {time.shape[0]}.")
        w = _check_weights(sample_weight, n)
        g = _check_groups(groups, n)
        codes, levels = _strata_codes(d.strata)
        if not penalised:
            _check_size(n, p, int(event.sum()), d.names, float(self.min_epv),
                        "(start, stop] rows" if start is not None else "patients")
        event_sufficiency(time, event, n_features=None if penalised else p)
        mean, sd = _scale(d.x, w)
        xs = (d.x - mean) / sd
        if not penalised:
            check_rank(xs, d.names, model_name="CoxModel", intercept=True, strata=codes,
                       rtol=_RANK_TOL, standardised=w is None)
        self.dropped_features_ = dropped
        self.x_mean_, self.x_scale_ = mean, sd
        self.feature_names_in_ = np.asarray(d.names, dtype=object)
        self.strata_levels_ = levels
        self.n_, self.n_events_ = n, int(event.sum())
        self.counting_ = start is not None
        ties = self._ties(penalised)
        self.ties_ = ties
        fit_args = (xs, time, event, w, codes, g, ties, start)
        if penalised:
            beta, risk_sets = self._fit_penalised(*fit_args), None
        else:
            beta, risk_sets = self._fit_unpenalised(*fit_args)
        self._set_baseline(xs @ beta, time, event, w, codes, ties, start, risk_sets)
        self._set_statistics(xs, beta, time, event, w, codes, g, start, risk_sets)
        return self

    def _set_statistics(self, xs, beta, time, event, w, codes, groups, start,
                        risk_sets) -> None:
        """Model-level numbers of :meth:`summary` that need the training data (kept as
        scalars: the model keeps no patient data)."""
        self.score_test_ = self.robust_score_test_ = None
        self.n_clusters_ = None
        if risk_sets is not None:            # unpenalised: R's sctest (and robscore)
            self.score_test_, self.robust_score_test_ = score_tests(risk_sets, xs, groups)
            self.n_clusters_ = None if groups is None else int(np.unique(groups).size)
        self.concordance_ = self.concordance_se_ = float("nan")
        if start is None and w is None:
            self.concordance_, self.concordance_se_ = concordance_with_se(
                time, event, linear_predictor(xs, beta), strata=codes, groups=groups)

    def _reset(self) -> None:
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("__")]:
            delattr(self, attr)

    def _fit_unpenalised(self, xs, time, event, w, codes, groups, ties,
                         start) -> tuple[Any, Any]:
        """Newton fit with inference; returns the coefficients and the fit's risk sets."""
        fit = cox_fit(xs, time, event, weights=w, strata=codes, ties=ties,
                      max_iter=self.max_iter, tol=self.tol, start=start)
        self.estimable_ = ok = self._estimable(fit)
        scale = np.outer(self.x_scale_, self.x_scale_)
        # variance of the estimable coefficients only: the information about a diverged
        # coefficient has vanished and would poison the inverse
        if ok.all():
            naive = _inverse(fit.information) / scale
        else:
            naive = _embed(_inverse(fit.information[np.ix_(ok, ok)]), ok) / scale
        self.naive_se_ = None
        var = naive
        if groups is not None and ok.any():
            robust = cox_robust_variance(xs, time, event, fit.coef, groups=groups, weights=w,
                                         strata=codes, ties=ties, keep=ok, start=start)
            var = _embed(robust, ok) / scale
            self.naive_se_ = _se(naive)
        self.coef_ = fit.coef / self.x_scale_
        self.var_ = var
        self.se_ = _se(var)
        self.loglik_, self.loglik_null_ = fit.loglik, fit.loglik_null
        self.n_iter_, self.converged_ = fit.n_iter, fit.converged
        self.penalty_, self.cv_results_ = 0.0, None
        return fit.coef, fit.risk_sets

    def _estimable(self, fit) -> np.ndarray:
        if fit.converged:
            return np.ones(fit.coef.size, dtype=bool)
        bad = fit.infinite if fit.infinite.any() else np.ones(fit.coef.size, dtype=bool)
        terms = list(self.feature_names_in_[bad])
        warnings.warn(
            f"Cox model did not converge after {fit.n_iter} iterations: coefficient(s) of "
            f"{terms} diverge (separation / monotone likelihood, e.g. a feature that "
            "perfectly orders the events). Their hazard ratios are not estimable; remove "
            "or merge them, or use a penalty.", ConvergenceWarning, stacklevel=4)
        return ~bad

    def _fit_penalised(self, xs, time, event, w, codes, groups, ties, start) -> np.ndarray:
        if self.penalty == "cv":
            lam, self.cv_results_ = select_penalty(
                xs, time, event, l1_ratio=self.l1_ratio, groups=groups, sample_weight=w,
                strata=codes, ties=ties, cv_folds=self.cv_folds,
                n_penalties=self.n_penalties, random_state=self.random_state, start=start)
            grid = self.cv_results_["penalty"].to_numpy()
            grid = grid[grid >= lam]       # warm starts down the grid to the chosen value
        else:
            lam, self.cv_results_ = float(self.penalty), None
            grid = np.array([lam])
        path = cox_elastic_net_path(xs, time, event, penalties=grid, l1_ratio=self.l1_ratio,
                                    weights=w, strata=codes, ties=ties, start=start)
        coef = path.coef[-1]
        if not path.converged[-1]:
            warnings.warn(f"penalised Cox fit did not converge in {path.n_iter[-1]} Newton "
                          f"steps (penalty={lam:.4g}).", ConvergenceWarning, stacklevel=3)
        p = xs.shape[1]
        self.coef_ = coef / self.x_scale_
        self.se_ = np.full(p, np.nan)
        self.var_ = np.full((p, p), np.nan)
        self.naive_se_ = None
        self.loglik_ = float(path.loglik[-1])
        self.loglik_null_ = path.loglik_null
        self.n_iter_, self.converged_ = int(path.n_iter[-1]), bool(path.converged[-1])
        self.penalty_ = lam
        self.estimable_ = np.ones(p, dtype=bool)
        return coef

    def fit_path(self, X: Any, y: Any, penalties: Any = None,
                 sample_weight: Any = None) -> CoxPath:
        """Fit the elastic net along a path of penalties (glmnet's ``glmnet(x, y, "cox")``).

        Uses ``l1_ratio``, ``ties`` (Breslow by default, as glmnet), ``strata``,
        ``n_penalties`` and ``drop_constant`` of this model; ``penalty`` is ignored and
        the model itself is left unchanged (nothing is stored on it). Features are
        standardised as in :meth:`fit` (glmnet's ``standardize = TRUE``); coefficients
        are returned per unit of the original features. Each penalty is warm-started at
        the previous solution, only the strong-rule set enters each fit (KKT conditions
        checked for the rest), and the risk sets are sorted once for the whole path
        (:func:`survrad._math.coxph.cox_elastic_net_path`).

        Parameters
        ----------
        X : DataFrame of shape (n, p)
        y : structured survival array (right-censored or counting-process)
        penalties : array-like of shape (m,), optional
            glmnet's ``lambda`` values (>= 0). Default: ``n_penalties`` values from the
            smallest penalty that keeps every coefficient at 0 down to ``1e-4`` of it
            (``1e-2`` when n <= p), glmnet's default sequence.
        sample_weight : array-like of shape (n,), optional
            Strictly positive case weights.

        Returns
        -------
        CoxPath

        Examples
        --------
        >>> import pandas as pd
        >>> from survrad.data.outcome import Surv
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(200, 4)), columns=list("abcd"))
        >>> y = Surv.from_arrays(time=rng.exponential(np.exp(-X["a"].to_numpy())),
        ...                      event=np.ones(200))
        >>> path = CoxModel(l1_ratio=1.0, n_penalties=20).fit_path(X, y)
        >>> path.n_nonzero[[0, -1]].tolist()          # nothing at lambda_max, all at the end
        [0, 4]
        >>> path.to_frame().columns[:4].tolist()
        ['penalty', 'n_nonzero', 'loglik', 'dev_ratio']
        """
        self._check_params()
        d, _ = _fit_design(X, self._strata_cols(), bool(self.drop_constant))
        start, time, event = check_y_counting(y)
        n = d.x.shape[0]
        if time.shape[0] != n:
            raise ValueError(f"X has {n} rows but y has {time.shape[0]}.")
        w = _check_weights(sample_weight, n)
        codes, _ = _strata_codes(d.strata)
        event_sufficiency(time, event, n_features=None)
        ties = self._ties(True)
        if penalties is None:
            grid = _penalty_grid(d.x, time, event, w, codes, ties, self.l1_ratio,
                                 self.n_penalties, start)
        else:
            grid = _check_penalties(penalties)
        mean, sd = _scale(d.x, w)
        path = cox_elastic_net_path((d.x - mean) / sd, time, event, penalties=grid,
                                    l1_ratio=self.l1_ratio, weights=w, strata=codes,
                                    ties=ties, start=start)
        if not path.converged.all():
            warnings.warn(f"penalised Cox path did not converge at penalties "
                          f"{format_values(grid[~path.converged].tolist())}.",
                          ConvergenceWarning, stacklevel=2)
        return CoxPath(penalties=grid, coef_path_=path.coef / sd,
                       feature_names=tuple(d.names), l1_ratio=float(self.l1_ratio),
                       loglik=path.loglik, loglik_null=path.loglik_null,
                       loglik_saturated=_saturated_loglik(time, event, w, codes),
                       n_iter=path.n_iter, converged=path.converged)

    def _set_baseline(self, eta, time, event, w, codes, ties, start, risk_sets=None) -> None:
        rs = risk_sets if risk_sets is not None else CoxRiskSets(
            time, event, weights=w, strata=codes, ties=ties, start=start)
        base = rs.baseline_cumhaz(eta)
        if rs.counting:
            _check_cancellation(rs.cancellation(eta))
        if codes is None:
            self.baseline_cumhaz_ = {None: base[None]}
        else:
            self.baseline_cumhaz_ = {self.strata_levels_[int(k)]: v for k, v in base.items()}

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("This CoxModel is not fitted yet: call fit(X, y) first.")

    def _predict_design(self, X: Any) -> _Design:
        """Checked design with the training columns (dropped constant ones ignored)."""
        self._check_fitted()
        cov, strata = _split_strata(X, self._strata_cols())
        dropped = [c for c in self.dropped_features_ if c in cov.columns]
        if dropped:
            cov = cov.drop(columns=dropped)
        names = list(self.feature_names_in_)
        return _Design(check_predict_design(cov, names, model_name="CoxModel"), names, strata)

    def _eta(self, X: Any) -> tuple[np.ndarray, _Design]:
        d = self._predict_design(X)
        return linear_predictor(d.x - self.x_mean_, self.coef_), d

    def predict(self, X: Any) -> np.ndarray:
        """Linear predictor centred at the training means (higher = riskier).

        Parameters
        ----------
        X : DataFrame with the columns seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self._eta(X)[0]

    def predict_survival_function(self, X: Any, times: Any) -> np.ndarray:
        """Survival probabilities ``S(t | x) = exp(-H0(t) exp(eta(x)))``.

        Parameters
        ----------
        X : DataFrame with the columns seen in ``fit`` (strata columns included).
        times : array-like of shape (n_times,)

        Returns
        -------
        ndarray of shape (n_samples, n_times)

        Notes
        -----
        After a fit on counting-process rows this is, as R's ``survfit(fit, newdata)``,
        the survival of a subject whose covariates stay at the given values over the
        whole time range (the baseline hazard is estimated from the (start, stop] risk
        sets); it is not a prediction for a patient whose covariates will change.
        """
        eta, d = self._eta(X)
        times = np.asarray(times, dtype=float).ravel()
        if d.strata is None:
            keys = [None] * eta.shape[0]
        else:
            _strata_codes(d.strata, self.strata_levels_)   # unseen levels -> SchemaError
            keys = list(d.strata)
        out = np.empty((eta.shape[0], times.shape[0]))
        for key in dict.fromkeys(keys):
            rows = np.asarray([k == key for k in keys])
            bt, ch = self.baseline_cumhaz_[key]
            idx = np.searchsorted(bt, times, side="right") - 1
            h0 = np.where(idx >= 0, ch[np.maximum(idx, 0)], 0.0)
            out[rows] = np.exp(-np.outer(np.exp(eta[rows]), h0))
        return out

    # --------------------------------------------------------------------- results
    def summary(self) -> CoxSummary:
        """Model statistics and coefficient table, as R's ``summary(coxph(...))``.

        Returns
        -------
        CoxSummary
            n, events, log-likelihoods, likelihood-ratio / Wald / score (log-rank) tests
            (and the robust score test with clusters), Harrell's C with its standard
            error, and the coefficient table with the terms as its index
            (``.to_frame()``); ``print()`` it for R's layout. Non-estimable terms have
            NaN numbers; a penalised model has no se, CI, p or tests (its ``notes`` say
            why).

        Examples
        --------
        >>> import survrad as sr
        >>> lung = sr.load_dataset("lung").dropna(subset=["ph.ecog"])
        >>> y = sr.Surv.from_arrays(time=lung["time"], event=lung["status"] == 2)
        >>> s = CoxModel().fit(lung[["age", "sex", "ph.ecog"]], y).summary()
        >>> round(s.concordance, 3), s.score_test.df
        (0.637, 3)
        """
        self._check_fitted()
        return cox_summary(self)

    def ph_test(self, X: Any, y: Any, sample_weight: Any = None,
                transform: str = "km") -> PHTest:
        """Proportional-hazards test of R's ``cox.zph`` with the scaled Schoenfeld residuals.

        Parameters
        ----------
        X, y, sample_weight, transform
            As :func:`cox_zph` (the training data again: the model keeps none).

        Returns
        -------
        PHTest
            The per-term and global tests (``.to_frame()``) and the residuals, their
            smooth (``.smooth(term)``) and band for the plot of
            :class:`survrad.reporting.SchoenfeldDisplay`.
        """
        return _ph_test(self, X, y, sample_weight=sample_weight, transform=transform)

    def score(self, X: Any, y: Any) -> float:
        """Harrell's C of the linear predictor on ``(X, y)`` (higher risk = earlier event).

        scikit-learn's ``score``: greater is better, so ``GridSearchCV`` and
        ``cross_val_score`` work without a scorer. Ties in risk count 1/2 and two events
        at the same time are not comparable (R's ``concordance``); within-strata pairs
        are not singled out (use :func:`survrad.evaluation.concordance_index` for
        that, or for a standard error).

        Parameters
        ----------
        X : DataFrame with the columns seen in ``fit``.
        y : structured survival array (right-censored).

        Returns
        -------
        float
        """
        return harrell_c(y, self.predict(X))

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        """scikit-learn's ``CoxModel(...)``; once fitted, followed by the model statistics."""
        base = super().__repr__(N_CHAR_MAX)
        if not hasattr(self, "concordance_"):
            return base
        return "\n".join([base, *("  " + line for line in self.summary().brief())])


_CANCELLATION_LIMIT = 1e10   # digits lost in counting-process risk-set sums: warn above 10


def _check_cancellation(ratio: float) -> None:
    """Warn when counting-process risk-set sums lost more than 10 of 16 digits."""
    if ratio > _CANCELLATION_LIMIT:
        warnings.warn(
            f"CoxModel: on these (start, stop] rows some risk-set sums are differences of "
            f"totals up to {ratio:.2g} times larger (rows not yet at risk have far larger "
            f"exp(linear predictor) than the rows at risk), so about "
            f"{np.log10(ratio):.0f} of 16 significant digits are lost (R's coxph sums the "
            "same way). Check for a diverging time-varying covariate; rescale or bound it.",
            StatisticalWarning, stacklevel=4)


def _inverse(info: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.full_like(info, np.nan)


def _embed(block: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Place the (k, k) block of the kept coefficients in a (p, p) NaN matrix."""
    out = np.full((keep.size, keep.size), np.nan)
    out[np.ix_(keep, keep)] = block
    return out


def _se(var: np.ndarray) -> np.ndarray:
    d = np.diag(var).copy()
    d[~(d >= 0)] = np.nan
    return np.sqrt(d)


def _check_size(n: int, p: int, n_events: int, names: list[str], min_epv: float,
                rows: str = "patients") -> None:
    """docs/reliability.md #22 for an unpenalised fit: p < n and events / p >= min_epv."""
    advice = ("Use a penalty (CoxModel(penalty='cv')) or a feature selection step (e.g. "
              "UnivariateCoxFilter or LassoCoxSelector before the model)")
    if p >= n:
        raise FitError(
            f"CoxModel: too many features for an unpenalised Cox model: p = {p} with n = {n} "
            f"{rows} and {n_events} events; the model is not identifiable. {advice}.",
            columns=names)
    epv = n_events / p
    if epv < min_epv:
        raise FitError(
            f"CoxModel: too few events per variable for an unpenalised Cox model: p = {p} "
            f"features, {n_events} events, EPV = {epv:.3g} < min_epv = {min_epv:g}; the "
            f"coefficients would be over-fitted (biased away from 0). {advice}, or lower "
            "min_epv deliberately (e.g. CoxModel(min_epv=0) to demonstrate overfitting).",
            columns=names)


# --------------------------------------------------------------------- penalty by CV
def _folds(groups: np.ndarray | None, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Fold number of each row; all rows of a group share a fold."""
    labels = np.arange(n).astype(str) if groups is None else groups
    uniq, inverse = np.unique(labels, return_inverse=True)
    if uniq.size < k:
        raise FitError(f"cv_folds={k} but only {uniq.size} patients (groups); use fewer folds.")
    fold_of_group = np.empty(uniq.size, dtype=np.int64)
    fold_of_group[rng.permutation(uniq.size)] = np.arange(uniq.size) % k
    return fold_of_group[inverse]


def _penalty_grid(x, time, event, w, codes, ties, l1_ratio, n_penalties,
                  start) -> np.ndarray:
    """glmnet's path: lambda_max (all coefficients 0) down to a small fraction of it."""
    mean, sd = _scale(x, w)
    xs = (x - mean) / sd
    rs = CoxRiskSets(time, event, weights=w, strata=codes, ties=ties, start=start)
    score = rs.derivatives(xs, np.zeros(x.shape[1]))[1]
    lam_max = np.max(np.abs(score)) / rs.weights.sum() / max(l1_ratio, 1e-3)
    ratio = 1e-4 if x.shape[0] > x.shape[1] else 1e-2
    return np.geomspace(lam_max, lam_max * ratio, n_penalties)


def _check_penalties(penalties: Any) -> np.ndarray:
    grid = np.atleast_1d(np.asarray(penalties, dtype=float))
    if grid.ndim != 1 or not grid.size or not np.isfinite(grid).all() or (grid < 0).any():
        raise ValueError(f"penalties must be a non-empty 1-d sequence of finite numbers >= 0, "
                         f"got {penalties!r}.")
    return grid


def _path_coefs(x, time, event, w, codes, ties, l1_ratio, grid, start) -> np.ndarray:
    """Coefficients (original scale of ``x``) along the grid: one warm-started path."""
    mean, sd = _scale(x, w)
    path = cox_elastic_net_path((x - mean) / sd, time, event, penalties=grid,
                                l1_ratio=l1_ratio, weights=w, strata=codes, ties=ties,
                                start=start)
    return path.coef / sd


def _subset(a: np.ndarray | None, mask: np.ndarray) -> np.ndarray | None:
    return None if a is None else a[mask]


def select_penalty(X: Any, time: Any, event: Any, *, l1_ratio: float = 0.0,
                   groups: Any = None, sample_weight: Any = None, strata: Any = None,
                   ties: str = "breslow", cv_folds: int = 5, n_penalties: int = 50,
                   random_state: Any = None, start: Any = None) -> tuple[float, pd.DataFrame]:
    """Choose glmnet's ``lambda`` by K-fold cross-validated partial likelihood.

    The criterion is Verweij and van Houwelingen's cross-validated partial likelihood
    (glmnet's ``cv.glmnet(..., grouped = TRUE)`` for Cox): for each fold ``k``,
    ``loglik_all(b_-k) - loglik_-k(b_-k)`` with ``b_-k`` fitted without fold ``k``;
    the penalty maximising the sum over folds is returned. Each training fit
    standardises its own features, as glmnet does. Folds are formed from whole
    patients (``groups``), so lesions of one patient never straddle a fold, and
    depend only on ``random_state``.

    Parameters
    ----------
    X : array-like of shape (n, p)
        Numeric features (no strata columns).
    time, event : array-like of shape (n,)
    l1_ratio : float, default 0
    groups : array-like of shape (n,), optional
        Patient ids; default one group per row.
    sample_weight, strata, ties
        As in :func:`survrad._math.coxph.cox_fit_elastic_net`.
    cv_folds : int, default 5
    n_penalties : int, default 50
    random_state : None, int or Generator
    start : array-like of shape (n,), optional
        Entry times of counting-process rows (``time`` is then the stop). ``groups`` is
        required with them, so that the rows of one patient share a fold.

    Returns
    -------
    penalty : float
    results : DataFrame
        Columns ``penalty`` (decreasing) and ``cvpl`` (summed over folds).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(120, 4))
    >>> t = rng.exponential(np.exp(-x[:, 0]))
    >>> lam, res = select_penalty(x, t, np.ones(120), l1_ratio=1.0, n_penalties=10,
    ...                           random_state=0)
    >>> bool(res["penalty"].min() <= lam <= res["penalty"].max())
    True
    """
    x = np.asarray(X, dtype=float)
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    codes = None if strata is None else np.asarray(strata)
    if start is not None:
        if groups is None:
            raise FitError("cross-validating the penalty on counting-process (start, stop] "
                           "rows needs the patient ids (groups=...), so that all rows of a "
                           "patient fall in the same fold.")
        start = np.asarray(start, dtype=float)
    grid = _penalty_grid(x, time, event, w, codes, ties, l1_ratio, n_penalties, start)
    folds = _folds(None if groups is None else np.asarray(groups), x.shape[0], cv_folds,
                   check_random_state(random_state))
    full = CoxRiskSets(time, event, weights=w, strata=codes, ties=ties, start=start)
    xc = x - x.mean(axis=0)
    cvpl = np.zeros(grid.size)
    for k in range(cv_folds):
        tr = folds != k
        if event[tr].sum() < 2:
            raise FitError(f"cross-validation fold {k} leaves fewer than 2 events for "
                           "training; use fewer folds.")
        w_tr, codes_tr, start_tr = _subset(w, tr), _subset(codes, tr), _subset(start, tr)
        coefs = _path_coefs(x[tr], time[tr], event[tr], w_tr, codes_tr, ties, l1_ratio, grid,
                            start_tr)
        train = CoxRiskSets(time[tr], event[tr], weights=w_tr, strata=codes_tr, ties=ties,
                            start=start_tr)
        for i, b in enumerate(coefs):
            cvpl[i] += full.loglik(xc @ b) - train.loglik(xc[tr] @ b)
    best = int(np.argmax(cvpl))
    return float(grid[best]), pd.DataFrame({"penalty": grid, "cvpl": cvpl})


# -------------------------------------------------------------------------- PH test
def _transform_time(time: np.ndarray, event: np.ndarray, transform: str,
                    start: np.ndarray | None = None) -> np.ndarray:
    """R's cox.zph time transforms; "km" is 1 - the left-continuous Kaplan-Meier (with
    ``start``, of counting-process rows: at risk at ``t`` when ``start < t <= stop``)."""
    if transform == "identity":
        return time.copy()
    if transform == "log":
        return np.log(time)
    if transform == "rank":
        return stats.rankdata(time)
    uniq, inv = np.unique(time, return_inverse=True)
    n_event = np.bincount(inv, weights=event.astype(float))
    at_risk = time.shape[0] - np.concatenate([[0], np.cumsum(np.bincount(inv))[:-1]])
    if start is not None:      # less the rows not yet entered (start >= t)
        at_risk = at_risk - (start.shape[0] - np.searchsorted(np.sort(start), uniq))
    surv = np.cumprod(1.0 - n_event / at_risk)
    left = np.concatenate([[1.0], surv])[inv]       # S(t-): product over times < t
    return 1.0 - left


def cox_zph(model: CoxModel, X: Any, y: Any, *, sample_weight: Any = None,
            transform: str = "km") -> pd.DataFrame:
    """Test proportional hazards as R's ``cox.zph(fit, transform, terms = FALSE)``.

    The score test (survival >= 3.0) of adding ``x_j * g(t)`` for each term (1 df) and
    for all terms together (GLOBAL, p df), at the fitted coefficients, using the full
    ``2p x 2p`` information matrix; ``g`` is the transformed time centred at the mean
    over events.

    Parameters
    ----------
    model : CoxModel
        A fitted, unpenalised, converged model.
    X, y : the training data again (the model keeps no patient data). Counting-process
        data are tested as R does: ``g`` is a function of each row's stop time, and the
        "km" transform uses the Kaplan-Meier estimate of the (start, stop] rows.
    sample_weight : array-like, optional
        The weights used in ``fit``.
    transform : {"km", "rank", "identity", "log"}, default "km"

    Returns
    -------
    DataFrame
        Columns ``term, chisq, df, p``; the last row is ``GLOBAL``.

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.outcome import Surv
    >>> rng = np.random.default_rng(1)
    >>> X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    >>> y = Surv.from_arrays(time=rng.exponential(np.exp(-X["a"])), event=np.ones(200))
    >>> list(cox_zph(CoxModel().fit(X, y), X, y)["term"])
    ['a', 'b', 'GLOBAL']
    """
    return _ph_test(model, X, y, sample_weight=sample_weight,
                    transform=transform).table.reset_index()


def _ph_test(model: CoxModel, X: Any, y: Any, *, sample_weight: Any,
             transform: str) -> PHTest:
    """:func:`cox_zph` with the scaled Schoenfeld residuals of R's ``cox.zph``."""
    model._check_fitted()
    check_choice("transform", transform, ["km", "rank", "identity", "log"])
    if model.penalty_ > 0:
        raise FitError("cox_zph needs an unpenalised model (penalty=0).")
    if not model.converged_:
        raise FitError("the Cox model did not converge; the PH test is not available.")
    d = model._predict_design(X)
    start, time, event = check_y_counting(y)
    if time.shape[0] != d.x.shape[0]:
        raise ValueError(f"X has {d.x.shape[0]} rows but y has {time.shape[0]}.")
    w = _check_weights(sample_weight, time.shape[0])
    codes = _strata_codes(d.strata, model.strata_levels_)[0]
    xs = (d.x - model.x_mean_) / model.x_scale_
    beta = model.coef_ * model.x_scale_
    ttimes = _transform_time(time, event, transform, start)
    gtime = ttimes - ttimes[event].mean()
    rs = CoxRiskSets(time, event, weights=w, strata=codes, ties=model.ties_, start=start)
    u, info = rs.zph_score(xs, beta, gtime)
    p = beta.size
    chisq = np.empty(p + 1)
    for j in range(p):
        kk = np.r_[np.arange(p), p + j]
        uj = np.r_[np.zeros(p), u[p + j]]
        chisq[j] = uj @ np.linalg.solve(info[np.ix_(kk, kk)], uj)
    ug = np.r_[np.zeros(p), u[p:]]
    chisq[p] = ug @ np.linalg.solve(info, ug)
    dof = np.r_[np.ones(p), p]
    terms = [str(t) for t in model.feature_names_in_]
    table = pd.DataFrame({"chisq": chisq, "df": dof.astype(int), "p": stats.chi2.sf(chisq, dof)},
                         index=pd.Index([*terms, "GLOBAL"], name="term"))
    # scaled Schoenfeld residuals, events by stratum then time (R's order)
    codes = np.zeros(time.shape[0], dtype=np.int64) if codes is None else codes
    rows, resid = rs.schoenfeld_residuals(xs, beta)
    order = np.lexsort((rows, time[rows], codes[rows]))
    rows, resid = rows[order], resid[order] * model.x_scale_
    scaled, var = scaled_schoenfeld(resid, codes[rows], d.x, codes,
                                    info[:p, :p] * np.outer(model.x_scale_, model.x_scale_),
                                    model.coef_)
    labels = None
    if model.strata_levels_ is not None:
        labels = np.empty(rows.size, dtype=object)
        labels[:] = [model.strata_levels_[c] for c in codes[rows]]
    return PHTest(table=table, transform=transform, time=time[rows].copy(),
                  transformed_time=ttimes[rows].copy(),
                  residuals=pd.DataFrame(scaled, columns=terms),
                  variance=pd.DataFrame(var, index=terms, columns=terms),
                  coef=pd.Series(model.coef_, index=terms, name="coef"), strata=labels)

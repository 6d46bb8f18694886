"""Multiple imputation for inference: ``m`` imputed data sets, pooled by Rubin's rules.

:func:`pool_rubin` combines ``m`` estimates and their variances exactly as R's
``mice::pool`` (Rubin 1987; degrees of freedom of Barnard & Rubin 1999);
:func:`fit_multiple_imputation` fits a model on each completed data set and pools it;
:func:`multiple_imputation` does the whole analysis on a cohort: ``m`` proper
imputations by chained equations (Bayesian linear regression draws, as mice's
``norm``), with the outcome in the imputation model, then the Cox model on each.

This is inference (coefficients, standard errors, intervals), not the prediction
pipeline: a prediction pipeline imputes inside every resample with
:class:`survrad.features.Imputer`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone

from survrad._math.coxph import cox_baseline_hazard
from survrad._math.impute import ColumnImputer
from survrad._validation import check_fraction, check_int, one_blas_thread, spawn_seeds
from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError, FitError, SchemaError

__all__ = ["MultipleImputationResult", "PooledEstimates", "fit_multiple_imputation",
           "multiple_imputation", "pool_rubin"]


@dataclasses.dataclass(frozen=True)
class PooledEstimates:
    """Estimates pooled over ``m`` imputations by Rubin's rules (unrounded).

    Attributes
    ----------
    terms : tuple of str
    m : int
        Number of imputations.
    estimates : ndarray (m, p)
        The estimate of every imputation.
    estimate : ndarray (p,)
        Pooled estimate ``qbar`` (mean over imputations).
    within : ndarray (p,)
        Mean within-imputation variance ``ubar``.
    between : ndarray (p,)
        Between-imputation variance ``b`` (``ddof = 1``).
    total : ndarray (p,)
        Total variance ``t = ubar + (1 + 1/m) b``.
    dfcom : float
        Degrees of freedom of the complete-data analysis (``inf``: large sample).
    df : ndarray (p,)
        Barnard-Rubin degrees of freedom.
    riv, lambda_, fmi : ndarray (p,)
        Relative increase in variance, proportion of variance due to missingness,
        fraction of missing information (mice's definitions).
    cov : ndarray (p, p) or None
        Pooled total covariance matrix ``Ubar + (1 + 1/m) B`` when full covariance
        matrices were pooled (for contrasts such as partial effects).
    ci_level : float
    """

    terms: tuple[str, ...]
    m: int
    estimates: np.ndarray
    estimate: np.ndarray
    within: np.ndarray
    between: np.ndarray
    total: np.ndarray
    dfcom: float
    df: np.ndarray
    riv: np.ndarray
    lambda_: np.ndarray
    fmi: np.ndarray
    cov: np.ndarray | None
    ci_level: float = 0.95

    @property
    def se(self) -> np.ndarray:
        """Pooled standard errors ``sqrt(total)``."""
        return np.sqrt(self.total)

    def summary(self) -> pd.DataFrame:
        """term, estimate, se, ci_low, ci_high (t with ``df``), statistic, df, p, riv,
        lambda, fmi, ubar, b, t: the columns of ``summary(pool(...), conf.int = TRUE)``
        and of ``pool(...)$pooled``."""
        se = self.se
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = self.estimate / se
        q = stats.t.ppf(0.5 + self.ci_level / 2, self.df)
        return pd.DataFrame({
            "term": list(self.terms), "estimate": self.estimate, "se": se,
            "ci_low": self.estimate - q * se, "ci_high": self.estimate + q * se,
            "statistic": stat, "df": self.df,
            "p": 2 * stats.t.sf(np.abs(stat), np.maximum(self.df, 0.001)),
            "riv": self.riv, "lambda": self.lambda_, "fmi": self.fmi,
            "ubar": self.within, "b": self.between, "t": self.total})

    def to_frame(self) -> pd.DataFrame:
        """Alias of :meth:`summary`."""
        return self.summary()


def barnard_rubin_df(m: int, between: np.ndarray, total: np.ndarray,
                     dfcom: float = np.inf) -> np.ndarray:
    """Barnard & Rubin (1999) degrees of freedom, as ``mice:::barnard.rubin``.

    ``lambda = (1 + 1/m) b / t`` (floored at 1e-4), ``df_old = (m - 1) / lambda^2``,
    ``df_obs = (dfcom + 1) / (dfcom + 3) dfcom (1 - lambda)``; the result is
    ``df_old df_obs / (df_old + df_obs)``, or ``df_old`` when ``dfcom`` is infinite.

    Examples
    --------
    >>> float(barnard_rubin_df(5, np.array([1.0]), np.array([2.2]))[0]) > 0
    True
    """
    lam = np.maximum((1 + 1 / m) * np.asarray(between, float) / np.asarray(total, float), 1e-4)
    dfold = (m - 1) / lam**2
    if np.isinf(dfcom):
        return dfold
    dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
    return dfold * dfobs / (dfold + dfobs)


def pool_rubin(estimates: Any, variances: Any, *, dfcom: float = np.inf,
               names: Sequence[str] | None = None, ci_level: float = 0.95) -> PooledEstimates:
    """Pool ``m`` estimates with Rubin's rules (R's ``mice::pool``).

    Parameters
    ----------
    estimates : array-like (m, p)
        One row of estimates per imputed data set.
    variances : array-like (m, p) or (m, p, p)
        Their squared standard errors, or full covariance matrices (then the pooled
        covariance matrix ``cov`` is returned too).
    dfcom : float, default inf
        Complete-data degrees of freedom. mice uses the residual degrees of freedom of
        the model and, for a Cox model, ``events - terms``
        (:func:`fit_multiple_imputation` does the same).
    names : sequence of str, optional
        Term names; default ``x0, x1, ...``.
    ci_level : float, default 0.95

    Returns
    -------
    PooledEstimates

    Raises
    ------
    ValueError
        Fewer than 2 imputations, mismatched shapes, negative variances.

    Examples
    --------
    >>> res = pool_rubin([[1.0], [1.2], [0.8]], [[0.04], [0.05], [0.03]], dfcom=100)
    >>> round(float(res.estimate[0]), 6), round(float(res.total[0]), 6)
    (1.0, 0.093333)
    """
    q = np.atleast_2d(np.asarray(estimates, dtype=float))
    m, p = q.shape
    if m < 2:
        raise ValueError(f"Rubin's rules need at least 2 imputations, got {m}.")
    u = np.asarray(variances, dtype=float)
    if u.shape == (m, p, p):
        full = u
        u = np.diagonal(full, axis1=1, axis2=2)
    elif u.shape == (m, p):
        full = None
    else:
        raise ValueError(f"variances must have shape {(m, p)} or {(m, p, p)}, got {u.shape}.")
    if np.any(u < 0):
        raise ValueError("variances must be >= 0.")
    check_fraction("ci_level", ci_level)
    if not (dfcom > 0):
        raise ValueError(f"dfcom must be > 0 (or inf), got {dfcom!r}.")
    terms = tuple(str(n) for n in names) if names is not None else tuple(f"x{j}"
                                                                        for j in range(p))
    if len(terms) != p:
        raise ValueError(f"{len(terms)} names for {p} estimates.")
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1 + 1 / m) * b
    df = barnard_rubin_df(m, b, t, dfcom)
    riv = (1 + 1 / m) * b / ubar
    cov = None
    if full is not None:
        dev = q - qbar
        cov = full.mean(axis=0) + (1 + 1 / m) * dev.T @ dev / (m - 1)
    return PooledEstimates(terms=terms, m=m, estimates=q, estimate=qbar, within=ubar,
                           between=b, total=t, dfcom=float(dfcom), df=df, riv=riv,
                           lambda_=(1 + 1 / m) * b / t, fmi=(riv + 2 / (df + 3)) / (riv + 1),
                           cov=cov, ci_level=ci_level)


# ------------------------------------------------------------------ fitting the m sets
@dataclasses.dataclass(frozen=True)
class MultipleImputationResult:
    """A model fitted on each of ``m`` completed data sets, pooled by Rubin's rules.

    Attributes
    ----------
    pooled : PooledEstimates
    fits : tuple
        The fitted model of every imputation.
    datasets : tuple of pandas.DataFrame
        The completed data sets (the model's input columns; with a formula, the raw
        variables before the formula).
    formula : PatientFormula or None
        The formula transform, fitted once (on the first completed data set) and applied
        to every data set, so that spline knots and levels are the same in all fits.
    """

    pooled: PooledEstimates
    fits: tuple[Any, ...]
    datasets: tuple[pd.DataFrame, ...]
    formula: Any = None

    def summary(self) -> pd.DataFrame:
        """CoxModel-like table: term, coef, se, hr, hr_ci_low, hr_ci_high, t, df, p, riv,
        lambda, fmi (intervals and p from the t distribution with ``df``)."""
        s = self.pooled.summary()
        return pd.DataFrame({
            "term": s["term"], "coef": s["estimate"], "se": s["se"],
            "hr": np.exp(s["estimate"]), "hr_ci_low": np.exp(s["ci_low"]),
            "hr_ci_high": np.exp(s["ci_high"]), "t": s["statistic"], "df": s["df"],
            "p": s["p"], "riv": s["riv"], "lambda": s["lambda"], "fmi": s["fmi"]})

    def to_frame(self) -> pd.DataFrame:
        """Alias of :meth:`summary`."""
        return self.summary()


def _complete_data_df(model: Any, n: int, y: Any) -> float:
    """mice's ``get.dfcom``: events - terms for a survival model, else n - terms."""
    p = len(model.coef_)
    if y is not None and getattr(y, "dtype", None) is not None and y.dtype.names:
        return float(max(int(np.sum(y["event"])) - p, 1))
    return float(max(n - p, 1))


def fit_multiple_imputation(model: Any, datasets: Sequence[pd.DataFrame], y: Any, *,
                            dfcom: float | None = None, ci_level: float = 0.95,
                            formula: Any = None) -> MultipleImputationResult:
    """Fit ``clone(model)`` on every completed data set and pool with Rubin's rules.

    Parameters
    ----------
    model : estimator
        Unfitted; it must give ``coef_`` and a covariance matrix ``var_`` (an
        unpenalised :class:`~survrad.models.CoxModel`).
    datasets : sequence of pandas.DataFrame
        The ``m`` completed data sets, same rows and columns (e.g. read from
        ``mice::complete(imp, "long")``).
    y : outcome
        The same outcome for every data set (``Surv.from_arrays``), or a sequence of
        ``m`` outcomes.
    dfcom : float, optional
        Complete-data degrees of freedom; default mice's rule: events - terms for a
        survival outcome, rows - terms otherwise.
    ci_level : float, default 0.95
    formula : PatientFormula, optional
        Only recorded in the result (see :func:`multiple_imputation`).

    Returns
    -------
    MultipleImputationResult

    Examples
    --------
    >>> from survrad.data.outcome import Surv
    >>> from survrad.models.cox import CoxModel
    >>> rng = np.random.default_rng(0)
    >>> sets = [pd.DataFrame({"x": rng.normal(size=80)}) for _ in range(3)]
    >>> y = Surv.from_arrays(time=rng.exponential(size=80), event=np.ones(80))
    >>> fit_multiple_imputation(CoxModel(), sets, y).summary()["term"].tolist()
    ['x']
    """
    sets = list(datasets)
    if len(sets) < 2:
        raise ValueError(f"multiple imputation needs at least 2 data sets, got {len(sets)}.")
    ys = list(y) if isinstance(y, list | tuple) else [y] * len(sets)
    if len(ys) != len(sets):
        raise ValueError(f"{len(ys)} outcomes for {len(sets)} data sets.")
    cols = list(sets[0].columns)
    for k, d in enumerate(sets):
        if list(d.columns) != cols or len(d) != len(sets[0]):
            raise SchemaError(f"imputed data set {k + 1} differs in columns or rows from the "
                              "first; every data set must have the same layout.")
    fits = tuple(clone(model).fit(d, yk) for d, yk in zip(sets, ys, strict=True))
    first = fits[0]
    if not hasattr(first, "var_") or not np.all(np.isfinite(first.var_)):
        raise FitError(f"{type(first).__name__} gives no finite covariance matrix (a "
                       "penalised model?); Rubin's rules need unpenalised inference.")
    names = [str(n) for n in first.feature_names_in_]
    for f in fits[1:]:
        if [str(n) for n in f.feature_names_in_] != names:
            raise FitError("the fits have different terms (a constant column dropped in one "
                           "data set?); pooling needs the same terms in every fit.")
    est = np.vstack([f.coef_ for f in fits])
    cov = np.stack([f.var_ for f in fits])
    df_c = _complete_data_df(first, len(sets[0]), ys[0]) if dfcom is None else float(dfcom)
    pooled = pool_rubin(est, cov, dfcom=df_c, names=names, ci_level=ci_level)
    return MultipleImputationResult(pooled=pooled, fits=fits, datasets=tuple(sets),
                                    formula=formula)


def _outcome_columns(cohort: Cohort, endpoint: str) -> np.ndarray:
    """Event indicator and Nelson-Aalen cumulative hazard at each patient's time
    (survival), or the 0/1 outcome (binary): the outcome's part of the imputation model."""
    ep = cohort.endpoint(endpoint)
    y = cohort.y(endpoint)
    if ep.kind == "binary":
        return np.asarray(y, dtype=float)[:, None]
    time, event = y["time"], y["event"]
    times, cumhaz = cox_baseline_hazard(np.zeros(time.size), time, event,
                                        ties="breslow")[None]
    idx = np.searchsorted(times, time, side="right") - 1
    h = np.where(idx >= 0, cumhaz[np.maximum(idx, 0)], 0.0)
    return np.column_stack([event.astype(float), h])


def _category_indicators(cohort: Cohort, categorical: Sequence[str]) -> np.ndarray:
    """0/1 indicators of the (complete) categorical variables: predictors of the
    imputation model, never imputed."""
    if not categorical:
        return np.empty((cohort.n_patients, 0))
    table = cohort.patients[list(categorical)]
    for col in categorical:
        nan = table[col].isna().to_numpy()
        if nan.any():
            raise SchemaError("categorical formula variable has missing values; multiple "
                              "imputation fills numeric variables only: code the missing "
                              "values as a level of their own.", file="patients", column=col,
                              ids=list(table.index[nan]))
    return pd.get_dummies(table.astype(str), drop_first=True, dtype=float).to_numpy()


def multiple_imputation(cohort: Cohort, endpoint: str, *, m: int = 5,
                        formula: str | None = None,
                        patient_features: Sequence[str] | None = None, model: Any = None,
                        max_iter: int = 10, include_outcome: bool = True,
                        random_state: int | None = None, dfcom: float | None = None,
                        ci_level: float = 0.95) -> MultipleImputationResult:
    """Multiple imputation by chained equations, a model on each data set, Rubin's rules.

    Parameters
    ----------
    cohort : Cohort
        Read with ``missing="impute"`` (NaN kept in the feature columns).
    endpoint : str
    m : int, default 5
        Number of imputations.
    formula : str, optional
        Predictors as a formula (:mod:`survrad.models.formula`); its numeric raw
        variables are imputed, then the formula (fitted once, on the first completed
        data set, so knots and levels are shared by every fit) is applied.
    patient_features : sequence of str, optional
        Predictors without a formula; default the cohort's ``patient_features``.
    model : estimator, optional
        Default an unpenalised :class:`~survrad.models.CoxModel` (survival) or
        :class:`~survrad.models.LogisticModel` (binary).
    max_iter : int, default 10
        Rounds of chained equations per imputation.
    include_outcome : bool, default True
        Put the outcome in the imputation model (for survival: the event indicator and
        the Nelson-Aalen cumulative hazard, White & Royston 2009, Stat Med 28:1982);
        leaving it out biases the coefficients of imputed covariates towards 0. The
        imputation model also uses every other analysis variable (categorical ones as
        0/1 indicators). With large effects (log hazard ratios around 0.5 or more) this
        approximation still shrinks the coefficients of imputed covariates slightly
        (White & Royston; measured in the test suite: 0.65 for a true 0.7).
    random_state : int or None
        Imputation ``k`` draws from ``SeedSequence(random_state).spawn(m)[k]``.
    dfcom : float, optional
        Complete-data degrees of freedom (default events - terms, as mice).
    ci_level : float, default 0.95

    Returns
    -------
    MultipleImputationResult

    Notes
    -----
    Each imputation runs ``max_iter`` rounds of chained equations with Bayesian linear
    regression draws (R's ``mice.impute.norm``, see :mod:`survrad._math.impute`) on the
    predictors and the outcome columns, from its own seed. R's ``mice`` defaults to
    predictive mean matching, so the imputations (not the pooling rules) differ from
    mice's defaults; the pooling is held to ``mice::pool`` by the test suite.

    Examples
    --------
    >>> import survrad as sr
    >>> df = sr.load_dataset("pbc").rename(columns={"id": "patient_id"})
    >>> df["death"] = (df["status"] == 2).astype(int)
    >>> c = sr.read_cohort(df, patient_features=["age", "bili", "chol"],
    ...                    endpoints={"os": ("time", "death")}, missing="impute")
    >>> res = multiple_imputation(c, "os", m=3, formula="age + log(bili) + chol",
    ...                           random_state=0)
    >>> res.summary()["term"].tolist()
    ['age', 'log(bili)', 'chol']
    """
    m = check_int("m", m, min_value=2)
    if formula is not None and patient_features is not None:
        raise ConfigError("give either formula= or patient_features=, not both.",
                          key="formula")
    form = None
    if formula is not None:
        from survrad.models.formula import PatientFormula

        form = PatientFormula(formula)
        numeric, categorical = form.cohort_variables(cohort)
    else:
        numeric = list(cohort.patient_features if patient_features is None
                       else patient_features)
        categorical = []
    raw = cohort.X(numeric)
    outcome = _outcome_columns(cohort, endpoint) if include_outcome else np.empty((raw.shape[0],
                                                                                   0))
    cats = _category_indicators(cohort, categorical)
    values = np.column_stack([raw.to_numpy(dtype=float), outcome, cats])
    names = [*numeric, *(f"outcome_{k}" for k in range(outcome.shape[1])),
             *(f"category_{k}" for k in range(cats.shape[1]))]
    sets = []
    with one_blas_thread():       # many small regressions: threads only cost time
        for seed in spawn_seeds(random_state, m):
            engine = ColumnImputer("iterative", max_iter=max_iter, sample_posterior=True,
                                   random_state=np.random.default_rng(seed),
                                   context="multiple_imputation")
            filled = engine.fit_transform(values, names)[:, :len(numeric)]
            done = pd.DataFrame(filled, index=raw.index, columns=numeric)
            if categorical:
                done = pd.concat([done, cohort.patients.loc[raw.index, categorical]], axis=1)
            sets.append(done)
    if form is not None:
        form.fit(sets[0])
        designs = [form.transform(d) for d in sets]
    else:
        designs = sets
    if model is None:
        from survrad.models.cox import CoxModel
        from survrad.models.response import LogisticModel

        model = CoxModel() if cohort.endpoint(endpoint).kind == "survival" else LogisticModel()
    res = fit_multiple_imputation(model, designs, cohort.y(endpoint), dfcom=dfcom,
                                  ci_level=ci_level, formula=form)
    return dataclasses.replace(res, datasets=tuple(sets))

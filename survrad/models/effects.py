"""Partial effects of formula variables: log hazard ratio against a reference value.

:func:`partial_effect` is R's ``rms::Predict(fit, x, ref.zero = TRUE)`` for a
:class:`~survrad.models.CohortPipeline` with a formula and an unpenalised Cox model: the
log hazard ratio of a patient whose ``variable`` equals each value of a grid against a
patient at the reference value (default: the training median; for a category, the most
frequent level), every other variable held at its training reference, with a pointwise
Wald interval from the coefficients' covariance matrix. For a spline it is the curve of
the fitted log hazard against the covariate. :func:`partial_effect_from_pooled` does the
same for a multiple-imputation fit (pooled coefficients and covariance).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from survrad._validation import check_fraction, check_int, close_matches
from survrad.exceptions import ConfigError, FitError, NotFittedError, SchemaError

__all__ = ["PartialEffect", "partial_effect", "partial_effect_from_pooled", "variable_tests"]


@dataclasses.dataclass(frozen=True)
class PartialEffect:
    """Log hazard ratio against a reference value of one variable (unrounded).

    Attributes
    ----------
    variable : str
    values : ndarray
        The grid (numbers, or category levels for a categorical variable).
    log_hazard, se, lower, upper : ndarray
        Log hazard ratio against ``reference``, its standard error and pointwise
        interval (normal quantile for a single fit, t with the smallest pooled degrees
        of freedom of the variable's terms for a pooled fit).
    reference : object
        The value the log hazard ratio is 0 at.
    adjusted_to : mapping
        The values of the other variables.
    categorical : bool
    ci_level : float
    columns : tuple of str
        The model columns that depend on ``variable``.
    training_range : tuple of float or None
        2.5% and 97.5% training quantiles (numeric variables), for plots.
    """

    variable: str
    values: np.ndarray
    log_hazard: np.ndarray
    se: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    reference: Any
    adjusted_to: Mapping[str, Any]
    categorical: bool
    ci_level: float
    columns: tuple[str, ...]
    training_range: tuple[float, float] | None = None

    def to_frame(self) -> pd.DataFrame:
        """value, log_hazard, se, lower, upper, hazard_ratio, hr_lower, hr_upper."""
        return pd.DataFrame({
            "value": self.values, "log_hazard": self.log_hazard, "se": self.se,
            "lower": self.lower, "upper": self.upper,
            "hazard_ratio": np.exp(self.log_hazard), "hr_lower": np.exp(self.lower),
            "hr_upper": np.exp(self.upper)})


def _grid(formula: Any, variable: str, values: Any, n_points: int) -> tuple[np.ndarray, bool]:
    if variable in formula.categorical_variables_:
        levels = formula.levels_[variable] if values is None else list(values)
        return np.asarray(levels, dtype=object), True
    if values is not None:
        return np.asarray(values, dtype=float), False
    lo, hi = formula.range_[variable]
    return np.linspace(lo, hi, n_points), False


def _rows(formula: Any, variable: str, values: np.ndarray, reference: Any) -> pd.DataFrame:
    """One patient row per value, then the reference row; others at their reference."""
    base = dict(formula.reference_)
    n = values.size + 1
    data = {v: [base[v]] * n for v in formula.variables_}
    data[variable] = [*values.tolist(), reference]
    frame = pd.DataFrame(data, index=[f"grid{i}" for i in range(n)])
    for v in formula.numeric_variables_:
        frame[v] = frame[v].astype(float)
    return frame


def _contrast(design: pd.DataFrame, names: Sequence[str], coef: np.ndarray,
              cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = design[list(names)].to_numpy(dtype=float)
    d = x[:-1] - x[-1]
    lh = d @ coef
    var = np.einsum("ij,jk,ik->i", d, cov, d)
    return lh, np.sqrt(np.maximum(var, 0.0))


def _covariance(model: Any, what: str) -> np.ndarray:
    cov = getattr(model, "var_", None)
    if cov is None or not np.all(np.isfinite(cov)):
        raise FitError(f"{what} needs an unpenalised Cox model with a covariance matrix; "
                       f"{type(model).__name__} has none (penalised?).")
    return np.asarray(cov)


def _check_variable(formula: Any, variable: str) -> None:
    if variable not in formula.variables_:
        hint = close_matches(variable, formula.variables_)
        did = f" Did you mean {hint[0]!r}?" if hint else ""
        raise ConfigError(f"{variable!r} is not a variable of the formula "
                          f"{formula.formula!r}; variables: {formula.variables_}.{did}")


def _effect(formula: Any, design_fn: Any, names: Sequence[str], coef: np.ndarray,
            cov: np.ndarray, variable: str, values: Any, reference: Any, n_points: int,
            ci_level: float, quantile: float) -> PartialEffect:
    grid, categorical = _grid(formula, variable, values, n_points)
    ref = formula.reference_[variable] if reference is None else reference
    design = design_fn(_rows(formula, variable, grid, ref))
    lh, se = _contrast(design, names, coef, cov)
    cols = tuple(c for c in formula.variable_columns_[variable] if c in set(names))
    others = {k: v for k, v in formula.reference_.items() if k != variable}
    rng = None if categorical else tuple(float(v) for v in formula.range_[variable])
    return PartialEffect(variable=variable, values=grid, log_hazard=lh, se=se,
                         lower=lh - quantile * se, upper=lh + quantile * se, reference=ref,
                         adjusted_to=others, categorical=categorical, ci_level=ci_level,
                         columns=cols, training_range=rng)


def partial_effect(pipeline: Any, variable: str, *, values: Any = None,
                   reference: Any = None, n_points: int = 100,
                   ci_level: float = 0.95) -> PartialEffect:
    """Log hazard ratio against ``reference`` over a grid of ``variable`` (rms ``Predict``).

    Parameters
    ----------
    pipeline : CohortPipeline
        Fitted, with a formula and an unpenalised :class:`~survrad.models.CoxModel`.
    variable : str
        A variable of the formula.
    values : array-like, optional
        The grid; default ``n_points`` values from the 2.5% to the 97.5% training
        quantile (every training level for a categorical variable).
    reference : optional
        Default the training median (the most frequent level).
    n_points : int, default 100
    ci_level : float, default 0.95

    Returns
    -------
    PartialEffect

    Raises
    ------
    ConfigError
        No formula, or ``variable`` is not one of its variables.
    FitError
        A model without a covariance matrix (penalised, forest) or with strata.

    Examples
    --------
    >>> import survrad as sr
    >>> df = sr.load_dataset("pbc").rename(columns={"id": "patient_id"})
    >>> df["death"] = (df["status"] == 2).astype(int)
    >>> c = sr.read_cohort(df, patient_features=["age", "bili"],
    ...                    endpoints={"os": ("time", "death")})
    >>> pipe = sr.CohortPipeline(formula="rcs(age, 4) + log(bili)").fit(c, "os")
    >>> eff = partial_effect(pipe, "age", values=[40.0, 60.0])
    >>> eff.to_frame()["log_hazard"].round(3).tolist()
    [-0.669, 0.368]
    """
    check_int("n_points", n_points, min_value=2)
    check_fraction("ci_level", ci_level)
    if not hasattr(pipeline, "model_"):
        raise NotFittedError("partial_effect needs a fitted pipeline.")
    formula = getattr(pipeline, "formula_", None)
    if formula is None:
        raise ConfigError("partial_effect needs a pipeline with a formula "
                          "(CohortPipeline(formula=...)).")
    _check_variable(formula, variable)
    model = pipeline.model_
    cov = _covariance(model, "partial_effect")
    if getattr(model, "strata", None):
        raise FitError("partial_effect does not handle stratified models.")
    n_pre = pipeline.n_steps_before_formula()

    def design(rows: pd.DataFrame) -> pd.DataFrame:
        X = formula.transform(rows)
        for col in pipeline.formula_passthrough_:
            X[col] = 0.0          # identical in every row: cancels in the contrast
        X = X[[*pipeline.formula_passthrough_, *formula.feature_names_out_]]
        for step in pipeline.steps_[n_pre:]:
            if getattr(step, "batch_col", None) is not None:
                raise FitError("partial_effect does not handle batch-aware steps (ComBat).")
            X = step.transform(X)
        return X

    q = float(stats.norm.ppf(0.5 + ci_level / 2))
    return _effect(formula, design, list(model.feature_names_in_), np.asarray(model.coef_),
                   cov, variable, values, reference, n_points, ci_level, q)


def partial_effect_from_pooled(result: Any, variable: str, *, values: Any = None,
                               reference: Any = None, n_points: int = 100,
                               ci_level: float = 0.95) -> PartialEffect:
    """:func:`partial_effect` for a :class:`~survrad.models.MultipleImputationResult`.

    Uses the pooled coefficients and pooled covariance matrix; the interval uses the t
    distribution with the smallest Barnard-Rubin degrees of freedom among the
    variable's terms (conservative).

    Examples
    --------
    >>> import survrad as sr
    >>> from survrad.models.pooling import multiple_imputation
    >>> df = sr.load_dataset("pbc").rename(columns={"id": "patient_id"})
    >>> df["death"] = (df["status"] == 2).astype(int)
    >>> c = sr.read_cohort(df, patient_features=["age", "chol"],
    ...                    endpoints={"os": ("time", "death")}, missing="impute")
    >>> mi = multiple_imputation(c, "os", m=2, formula="rcs(chol, 3) + age", random_state=0)
    >>> partial_effect_from_pooled(mi, "chol", n_points=5).values.size
    5
    """
    formula = result.formula
    if formula is None:
        raise ConfigError("partial_effect_from_pooled needs a result fitted with a formula.")
    _check_variable(formula, variable)
    pooled = result.pooled
    if pooled.cov is None:
        raise FitError("the pooled result has no covariance matrix.")
    names = list(pooled.terms)
    cols = [names.index(c) for c in formula.variable_columns_[variable] if c in names]
    if not cols:
        raise SchemaError(f"no model column depends on {variable!r}.")
    q = float(stats.t.ppf(0.5 + ci_level / 2, np.min(pooled.df[cols])))
    return _effect(formula, formula.transform, names, pooled.estimate, pooled.cov, variable,
                   values, reference, n_points, ci_level, q)


def _wald(coef: np.ndarray, cov: np.ndarray, idx: list[int]) -> tuple[float, int, float]:
    b = coef[idx]
    chisq = float(b @ np.linalg.solve(cov[np.ix_(idx, idx)], b))
    return chisq, len(idx), float(stats.chi2.sf(chisq, len(idx)))


def variable_tests(pipeline: Any) -> pd.DataFrame:
    """Wald chi-square tests per formula variable, as R's ``anova(rms fit)``.

    For every variable of the formula: all the model columns that depend on it at once
    (its spline, its categories, its interactions); for a variable with an ``rcs()``
    term, also the nonlinear part (the spline columns after the linear one, ``age'``,
    ``age''``); last, every column (``TOTAL``).

    Parameters
    ----------
    pipeline : CohortPipeline
        Fitted, with a formula and an unpenalised Cox model; feature steps after the
        formula must keep its columns (no selection or rescaling of them).

    Returns
    -------
    pandas.DataFrame
        Columns ``test`` (variable, ``"<variable> (nonlinear)"`` or ``"TOTAL"``),
        ``chisq``, ``df``, ``p``.

    Examples
    --------
    >>> import survrad as sr
    >>> df = sr.load_dataset("pbc").rename(columns={"id": "patient_id"})
    >>> df["death"] = (df["status"] == 2).astype(int)
    >>> c = sr.read_cohort(df, patient_features=["age", "bili"],
    ...                    endpoints={"os": ("time", "death")})
    >>> pipe = sr.CohortPipeline(formula="rcs(age, 4) + log(bili)").fit(c, "os")
    >>> variable_tests(pipe)["test"].tolist()
    ['age', 'age (nonlinear)', 'bili', 'TOTAL']
    """
    formula = getattr(pipeline, "formula_", None)
    if formula is None:
        raise ConfigError("variable_tests needs a pipeline with a formula.")
    model = pipeline.model_
    cov = _covariance(model, "variable_tests")
    names = [str(n) for n in model.feature_names_in_]
    where = {n: i for i, n in enumerate(names)}
    missing = [c for c in formula.feature_names_out_ if c not in where]
    if missing:
        raise FitError(f"the model lacks formula columns {missing} (a selection step after "
                       "the formula?); variable_tests needs them all.", columns=missing)
    coef = np.asarray(model.coef_, dtype=float)
    rows = []
    for v in formula.variables_:
        idx = [where[c] for c in formula.variable_columns_[v]]
        rows.append((v, *_wald(coef, cov, idx)))
        for term, cols in formula.term_columns_.items():
            if term.startswith("rcs(") and cols and cols[0] == v and len(cols) > 1:
                rows.append((f"{v} (nonlinear)", *_wald(coef, cov, [where[c]
                                                                     for c in cols[1:]])))
    rows.append(("TOTAL", *_wald(coef, cov, [where[c] for c in formula.feature_names_out_])))
    return pd.DataFrame(rows, columns=["test", "chisq", "df", "p"])

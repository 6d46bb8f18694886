"""``CohortPipeline``: strategy -> feature steps -> model, fitted on training patients only.

Everything that learns (the lesion strategy, scaling, ComBat, selection, the model) is
fitted inside :meth:`CohortPipeline.fit` on the cohort it is given. Resampling engines
call ``clone(pipeline).fit(train_cohort, endpoint)`` for every replicate, so no learned
step ever sees a test patient.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from survrad._validation import CachedParamNames
from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError, NotFittedError, SchemaError

__all__ = ["CohortPipeline"]


class CohortPipeline(CachedParamNames, BaseEstimator):
    """A whole prediction pipeline on a :class:`~survrad.data.cohort.Cohort`.

    Parameters
    ----------
    strategy : LesionStrategy or None, default None
        How lesions become patient-level columns (``survrad.lesions``). ``None``: a
        patient-only study, the patient columns are the predictors.
    features : sequence of transformers, default ()
        Feature steps applied in order (``survrad.features``), each fitted on the training
        patients. A step with a ``batch_col`` attribute (ComBat) receives that patient
        column as well (only that step; it is expected to drop it from its output).
    model : estimator or None, default None
        A survrad model (``CoxModel``, ``SurvivalForest``, ``LogisticModel``,
        ``ForestClassifier``). ``None``: unpenalised ``CoxModel`` for a survival endpoint,
        ``LogisticModel`` for a binary one.
    patient_features : sequence of str or None, default None
        Patient covariates kept beside the lesion-derived columns; ``None`` uses the
        cohort's ``patient_features``; ``()`` uses none.
    formula : str or None, default None
        Patient predictors as a formula instead (:mod:`survrad.models.formula`), e.g.
        ``"age + log(bili) + C(ecog) + rcs(albumin, 4)"``; then ``patient_features``
        must be None. The transform (knots, levels) is fitted on the training patients
        with the other steps. Feature steps that impute (``Imputer``) placed first in
        ``features`` run on the formula's numeric raw variables (and the lesion-derived
        columns) before the formula is evaluated; the other steps run after it.

    Attributes
    ----------
    strategy_, steps_, model_ : fitted clones
    endpoint_ : str
    endpoint_kind_ : {"survival", "binary"}
    feature_names_in_ : list of str
        Columns entering the feature steps.
    feature_names_out_ : list of str
        Columns entering the model.
    formula_ : PatientFormula or None
        The fitted formula transform (None without a formula).

    Examples
    --------
    >>> import survrad as sr
    >>> cohort = sr.simulate_cohort(n_patients=120, random_state=0)
    >>> pipe = sr.CohortPipeline(model=sr.CoxModel()).fit(cohort, endpoint="os")
    >>> risk = pipe.predict_risk(cohort)
    >>> risk.index.equals(cohort.patient_ids)
    True
    """

    def __init__(self, strategy: Any = None, features: Sequence[Any] = (), model: Any = None,
                 patient_features: Sequence[str] | None = None,
                 formula: str | None = None) -> None:
        self.strategy = strategy
        self.features = features
        self.model = model
        self.patient_features = patient_features
        self.formula = formula

    # ------------------------------------------------------------------ fitting
    def fit(self, cohort: Cohort, endpoint: str) -> CohortPipeline:
        """Fit every learned step on ``cohort`` for ``endpoint``; return ``self``."""
        X = self._fit_front(cohort, endpoint)
        return self._fit_model(X, cohort.y(endpoint))

    # Resampling engines validate several pipelines on one resample; those with the same
    # _front_key() learn the same strategy and feature steps, so the engine fits that front
    # once (_fit_front), hands it to the others (_adopt_front) and fits each model
    # (_fit_model). pipe.fit(c, ep) is exactly pipe._fit_model(pipe._fit_front(c, ep), y).
    def _front_key(self) -> str:
        """Hash of what the front learns from: strategy, feature steps, patient columns.

        Two unfitted pipelines with equal keys fit identical fronts on the same data.
        """
        from joblib import hash as joblib_hash

        return str(joblib_hash((self.strategy, list(self.features), self.patient_features,
                                self.formula)))

    def _fit_front(self, cohort: Cohort, endpoint: str) -> pd.DataFrame:
        """Fit the strategy and feature steps; return the model's training matrix."""
        ep = cohort.endpoint(endpoint)
        y = cohort.y(endpoint)
        self.endpoint_ = endpoint
        self.endpoint_kind_ = ep.kind
        self.strategy_ = None
        if self.strategy is not None:
            self._check_lesions(cohort)
            self.strategy_ = clone(self.strategy)
            self.strategy_.fit(cohort, endpoint)
        self.formula_ = None
        self.formula_variables_ = self._formula_variables(cohort)
        self.formula_passthrough_ = None
        X = self._design(cohort)
        batches = self._batches(cohort)
        self.feature_names_in_ = list(X.columns)
        self.steps_ = []
        for i, step in enumerate(self.features):
            X = self._formula_hook(i, X, cohort, fit=True)
            X_in = _with_batch(step, X, batches)
            fitted = clone(step).fit(X_in, y)
            X = fitted.transform(X_in)
            self.steps_.append(fitted)
        X = self._formula_hook(len(self.features), X, cohort, fit=True)
        self.feature_names_out_ = list(X.columns)
        return X

    def _adopt_front(self, other: CohortPipeline) -> CohortPipeline:
        """Take the fitted front of ``other`` (same :meth:`_front_key`); return ``self``."""
        if other is self:
            return self
        if other._front_key() != self._front_key():
            raise ValueError("_adopt_front needs a pipeline with the same strategy, feature "
                             "steps and patient features (equal _front_key()).")
        for name in ("endpoint_", "endpoint_kind_", "strategy_", "steps_",
                     "feature_names_in_", "feature_names_out_", "formula_",
                     "formula_variables_", "formula_passthrough_"):
            setattr(self, name, getattr(other, name))
        return self

    def _fit_model(self, X: pd.DataFrame, y: Any) -> CohortPipeline:
        """Fit the model on the front's output ``X`` (after :meth:`_fit_front`)."""
        if not hasattr(self, "steps_"):
            raise NotFittedError("_fit_model needs a fitted front: call _fit_front or "
                                 "_adopt_front first.")
        self.model_ = clone(self.model) if self.model is not None else self._default_model()
        kind = getattr(self.model_, "endpoint_kind", self.endpoint_kind_)
        if kind != self.endpoint_kind_:
            fit_for = {"survival": "CoxModel or SurvivalForest",
                       "binary": "LogisticModel or ForestClassifier"}[self.endpoint_kind_]
            raise SchemaError(f"{type(self.model_).__name__} models {kind} endpoints but "
                              f"{self.endpoint_!r} is {self.endpoint_kind_}; use a {fit_for}.")
        self.model_.fit(X, y)
        return self

    def _default_model(self) -> Any:
        if self.endpoint_kind_ == "survival":
            from survrad.models.cox import CoxModel

            return CoxModel()
        from survrad.models.response import LogisticModel

        return LogisticModel()

    def _check_lesions(self, cohort: Cohort) -> None:
        if not cohort.has_lesions:
            raise SchemaError(
                f"strategy {type(self.strategy).__name__} needs a lesion table but this cohort "
                "has none; pass lesions= to read_cohort or use strategy=None.")

    def _patient_columns(self, cohort: Cohort) -> list[str]:
        if self.formula is not None:      # the formula's numeric raw variables
            return list(self.formula_variables_[0])
        if self.patient_features is None:
            return list(cohort.patient_features)
        return list(self.patient_features)

    def _batches(self, cohort: Cohort) -> pd.DataFrame | None:
        """Patient columns that batch-aware steps (ComBat's ``batch_col``) need; None when
        no step needs one."""
        cols = sorted({getattr(s, "batch_col", None) for s in self.features} - {None})
        if not cols:
            return None
        for col in cols:
            if col not in cohort.patients.columns:
                raise SchemaError(f"feature step needs patient column {col!r} (batch); "
                                  f"available: {list(cohort.patients.columns)}.",
                                  file="patients", column=col)
        return cohort.patients[cols].astype(str)

    def _design(self, cohort: Cohort) -> pd.DataFrame:
        parts = []
        if self.strategy_ is not None:
            self._check_lesions(cohort)
            parts.append(self.strategy_.transform(cohort))
        cols = self._patient_columns(cohort)
        if cols:
            parts.append(cohort.X(cols))
        if not parts and self.formula is not None:    # a formula of categories only
            parts.append(pd.DataFrame(index=cohort.patient_ids))
        if not parts:
            raise SchemaError("the pipeline has no predictors: give a strategy or "
                              "patient_features.")
        X = parts[0] if len(parts) == 1 else pd.concat(parts, axis=1)
        dup = X.columns[X.columns.duplicated()].unique()
        if len(dup):
            raise SchemaError(f"predictor names clash between the strategy and the patient "
                              f"table: {list(dup)}; rename one of them.")
        return X

    # --------------------------------------------------------------- predicting
    def transform(self, cohort: Cohort) -> pd.DataFrame:
        """The model's input matrix for ``cohort`` (after strategy and feature steps)."""
        self._check_fitted()
        X = self._design(cohort)
        batches = self._batches(cohort)
        for i, step in enumerate(self.steps_):
            X = self._formula_hook(i, X, cohort, fit=False)
            X = step.transform(_with_batch(step, X, batches))
        return self._formula_hook(len(self.steps_), X, cohort, fit=False)

    def predict_risk(self, cohort: Cohort) -> pd.Series:
        """Risk per patient (higher = riskier), indexed by ``patient_id``.

        Survival models give their risk score (Cox: the linear predictor); binary models
        the predicted probability of the positive class.
        """
        risk = self._risk_from_design(self.transform(cohort))
        return pd.Series(risk, index=cohort.patient_ids, name="risk")

    def _risk_from_design(self, X: pd.DataFrame) -> np.ndarray:
        """Risk from the model's input matrix ``X = self.transform(cohort)``.

        Lets a caller that needs several predictions for one cohort (the validation
        engine: risk, then survival at the horizons) build the design only once.
        """
        self._check_fitted()
        if self.endpoint_kind_ == "binary":
            risk = self.model_.predict_proba(X)[:, 1]
        else:
            risk = self.model_.predict(X)
        return np.asarray(risk, dtype=float)

    def predict_proba(self, cohort: Cohort) -> pd.Series:
        """Probability of the positive class per patient (binary endpoints)."""
        self._check_fitted()
        if self.endpoint_kind_ != "binary":
            raise SchemaError(f"predict_proba is for binary endpoints; {self.endpoint_!r} is a "
                              "survival endpoint (use predict_risk or "
                              "predict_survival_function).")
        return self.predict_risk(cohort).rename("probability")

    def predict_survival_function(self, cohort: Cohort, times: Sequence[float]) -> pd.DataFrame:
        """Predicted survival probabilities, patients x ``times``."""
        self._check_fitted()
        if self.endpoint_kind_ != "survival":
            raise SchemaError("predict_survival_function needs a survival endpoint.")
        times = np.asarray(times, dtype=float)
        surv = self._survival_from_design(self.transform(cohort), times)
        return pd.DataFrame(surv, index=cohort.patient_ids, columns=times)

    def _survival_from_design(self, X: pd.DataFrame, times: Sequence[float]) -> np.ndarray:
        """Survival probabilities (rows of ``X`` x ``times``) from ``X = self.transform(...)``."""
        self._check_fitted()
        if self.endpoint_kind_ != "survival":
            raise SchemaError("_survival_from_design needs a survival endpoint.")
        return np.asarray(self.model_.predict_survival_function(X, np.asarray(times, float)))

    def save(self, path: Any, cohort: Cohort, *, horizons: Sequence[float] = (),
             force: bool = False) -> Any:
        """Save this fitted pipeline into the folder ``path`` (trained on ``cohort``).

        See :func:`survrad.models.persistence.save_pipeline` (format, security) and
        :func:`survrad.load_pipeline`.
        """
        from survrad.models.persistence import save_pipeline

        self._check_fitted()
        return save_pipeline(self, path, cohort, horizons=horizons, force=force)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("CohortPipeline is not fitted; call fit(cohort, endpoint).")

    # ------------------------------------------------------------------ formula
    def _formula_variables(self, cohort: Cohort) -> tuple[list[str], list[str]] | None:
        """(numeric, categorical) patient columns of the formula; None without one."""
        if self.formula is None:
            return None
        if self.patient_features is not None:
            raise ConfigError("give either formula= or patient_features=, not both: the "
                              "formula names the patient predictors.", key="formula")
        from survrad.models.formula import PatientFormula

        return PatientFormula(self.formula).cohort_variables(cohort)

    def n_steps_before_formula(self) -> int:
        """Feature steps applied to the formula's raw variables: the leading imputers.

        -1 without a formula. The formula is evaluated after that many steps.
        """
        if self.formula is None:
            return -1
        n = 0
        for step in self.features:
            if not getattr(step, "imputes_missing", False):
                break
            n += 1
        return n

    def _formula_hook(self, i: int, X: pd.DataFrame, cohort: Cohort, *,
                      fit: bool) -> pd.DataFrame:
        """Before feature step ``i``: evaluate the formula when its turn has come."""
        if i != self.n_steps_before_formula():
            return X
        numeric, categorical = self.formula_variables_
        data = pd.concat([X[numeric], cohort.patients.loc[X.index, categorical]], axis=1)
        if fit:
            from survrad.models.formula import PatientFormula

            self.formula_ = PatientFormula(self.formula).fit(data)
            self.formula_passthrough_ = [c for c in X.columns if c not in set(numeric)]
        design = self.formula_.transform(data)
        out = pd.concat([X[self.formula_passthrough_], design], axis=1)
        dup = out.columns[out.columns.duplicated()].unique()
        if len(dup):
            raise SchemaError(f"formula columns clash with other predictors: {list(dup)}; "
                              "rename one of them.")
        return out


def _with_batch(step: Any, X: pd.DataFrame, batches: pd.DataFrame | None) -> pd.DataFrame:
    """``X`` plus the batch column for a step that has one; only that step sees it."""
    col = getattr(step, "batch_col", None)
    if col is None:
        return X
    if col in X.columns:
        raise SchemaError(f"batch column {col!r} is also a predictor; remove it from the "
                          "patient features.")
    return pd.concat([X, batches[[col]]], axis=1)

"""D ``lesion_response``: a lesion-level response classifier pooled per patient (layer 2).

A lesion "responds" when its ``lesion_response`` column is 1 or, without that column, when
its longest diameter shrinks by at least 30 % at follow-up
(``diameter_followup_mm / longest_diameter_mm - 1 <= -0.30``, RECIST-like). A logistic
regression on the standardised lesion features of the TRAINING cohort's lesions (ridge
penalty ``l2_penalty``) predicts the probability of response of every lesion; the
probabilities are pooled per patient by max, mean, vw_mean (volume weights), frac_above
(fraction above ``threshold``) and/or noisy_or (``1 - prod(1 - p)``: the probability that
at least one lesion responds).

Irradiation. In an SBRT cohort the irradiated lesions respond far more often, and the
lesion chosen for SBRT is usually the largest: a classifier blind to the treatment learns
"large lesions respond" (the volume features stand in for the irradiation). D therefore
adjusts for the treatment columns (``irradiated``, and ``rt_dose_gy`` when it varies) by
default, as unpenalised covariates, and predicts every lesion's response probability
with and without irradiation (``p_response_rt``, ``p_response_no_rt``): a lesion likely
to respond without RT is immunogenic, one that responds only with RT radiosensitive, one
that responds in neither case refractory (an SBRT candidate for ablation). The
adjustment removes the confounding by the irradiation choice when that choice depends on
what the model sees (size, site, the features) and not on unmeasured prognosis.

D predicts lesion RESPONSE, not survival: its pooled columns are patient predictors for
the downstream survival or response model. The training cohort is the patient-level
training set of the resample, so no patient's lesions are both trained on and evaluated.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from survrad._math.logistic import LogisticFit, logistic_fit, logistic_predict
from survrad._validation import check_choice, check_fraction, check_random_state
from survrad.data.cohort import Cohort
from survrad.exceptions import (
    ConfigError,
    ConvergenceWarning,
    FitError,
    SchemaError,
    SurvradDeprecationWarning,
)
from survrad.lesions._learned import (
    LesionMatrix,
    check_pooling,
    lesion_matrix,
    lesion_score_frame,
    pool,
)
from survrad.lesions.base import (
    AggregationStrategy,
    lesion_labels,
    lesion_values,
    resolve_features,
)

__all__ = ["LesionResponseAggregation", "lesion_response_target"]

_NAME = "lesion_response"
_POOLINGS = ("max", "mean", "vw_mean", "frac_above", "noisy_or")
_POOL_ON = ("no_rt", "rt", "observed")
RESPONSE_SHRINKAGE = -0.30


def lesion_response_target(cohort: Cohort) -> pd.Series:
    """Observed response (1/0, NaN when unknown) of every baseline lesion.

    The ``lesion_response`` column when the lesion table has one; otherwise
    ``diameter_followup / diameter - 1 <= -0.30``, NaN where the follow-up diameter is
    missing.

    Returns
    -------
    pandas.Series
        Float 0/1/NaN, aligned with ``cohort.baseline_lesions()`` rows (RangeIndex).

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.cohort import Cohort
    >>> p = pd.DataFrame(index=pd.Index(["P1"], name="patient_id"))
    >>> les = pd.DataFrame({"patient_id": ["P1"] * 3, "lesion_id": ["a", "b", "c"],
    ...                     "longest_diameter_mm": [20.0, 20.0, 20.0],
    ...                     "diameter_followup_mm": [10.0, 19.0, None]})
    >>> lesion_response_target(Cohort(p, les)).tolist()
    [1.0, 0.0, nan]
    """
    les = cohort.baseline_lesions().reset_index(drop=True)
    cols = cohort.columns
    if cols.lesion_response in les.columns:
        raw = pd.to_numeric(les[cols.lesion_response], errors="coerce")
        bad = ~(raw.isin([0, 1]) | les[cols.lesion_response].isna())
        if bad.any():
            raise SchemaError("lesion response must be coded 0/1 (empty = unknown).",
                              file="lesions", column=cols.lesion_response,
                              values=list(les.loc[bad, cols.lesion_response].unique()),
                              ids=list(les.loc[bad, cols.lesion_id].astype(str)))
        return raw.astype(float).rename("response")
    if cols.diameter not in les.columns or cols.diameter_followup not in les.columns:
        raise SchemaError(
            f"lesion response needs a {cols.lesion_response!r} column or both "
            f"{cols.diameter!r} and {cols.diameter_followup!r}; none found in the lesion "
            f"table (columns: {list(les.columns)}).", file="lesions")
    base = pd.to_numeric(les[cols.diameter], errors="coerce")
    follow = pd.to_numeric(les[cols.diameter_followup], errors="coerce")
    bad = base.notna() & (base <= 0)
    if bad.any():
        raise SchemaError("baseline diameter must be > 0 to compute a relative change.",
                          file="lesions", column=cols.diameter,
                          ids=list(les.loc[bad, cols.lesion_id].astype(str)),
                          values=list(base[bad]))
    change = follow / base - 1.0
    out = (change <= RESPONSE_SHRINKAGE + 1e-12).astype(float)
    out[change.isna()] = np.nan
    return out.rename("response")


class LesionResponseAggregation(AggregationStrategy):
    """D ``lesion_response``: lesion response probabilities pooled per patient.

    Parameters
    ----------
    features : list of str, optional
        Lesion features (names or globs); default ``cohort.lesion_features``. Standardised
        on the training lesions. The response columns themselves are refused (leakage),
        and so are the treatment columns (they enter through ``adjust``).
    pooling : sequence of {"max", "mean", "vw_mean", "frac_above", "noisy_or"}
        Output columns ``lesion_response__<pooling>`` (pooled probabilities of response).
    threshold : float, default 0.5
        Probability threshold of ``frac_above``.
    l2_penalty : float, default 0.05
        Ridge penalty on the standardised feature coefficients, on glmnet's scale (the
        scale of ``penalty`` in :class:`~survrad.models.CoxModel` and
        :class:`~survrad.models.LogisticModel`): the fit minimises
        ``-loglik / n + l2_penalty / 2 * ||beta||^2`` over the ``n`` labelled training
        lesions, so its strength does not grow with ``n``. Neither the intercept nor the
        treatment covariates are penalised. Default chosen on simulated cohorts (400
        patients, 3 seeds, cross-fitted): Spearman of ``p_response_no_rt`` with the true
        no-RT probability 0.86-0.87 for penalties 0.001-0.05, highest at 0.05.
    adjust : "auto", None or list of str, default "auto"
        Treatment columns of the lesion table entered as unpenalised adjustment
        covariates. ``"auto"``: ``irradiated`` when the lesion table has it (0/1), plus
        ``rt_dose_gy`` when present and not constant among the irradiated training
        lesions (it is then nearly collinear with ``irradiated``). A list names the
        columns and requires them (a missing one is a
        :class:`~survrad.exceptions.SchemaError`); None fits the treatment-blind model.
        The names are those of ``cohort.columns`` (``irradiated``, ``rt_dose``).
    pool_on : {"no_rt", "rt", "observed"}, default "no_rt"
        The lesion probability that is pooled per patient and that ``score`` is made of:
        without irradiation (the lesion's own biology, the default), with irradiation,
        or under the treatment each lesion actually received. Without adjustment all
        three are the treatment-blind probability.
    random_state : None or int
        Kept for the estimator contract; the Newton solver is deterministic.
    C : float, optional
        Deprecated (one release): scikit-learn's inverse penalty on the SUMMED log
        likelihood. When given it overrides ``l2_penalty`` by
        ``l2_penalty = 1 / (C * n)`` (``n`` labelled training lesions), which gives
        exactly the former fit, and warns with
        :class:`~survrad.exceptions.SurvradDeprecationWarning`.

    Attributes
    ----------
    features_ : list of str
    treatment_ : list of str
        The adjustment columns used (empty without adjustment).
    coef_ : pandas.Series
        Logistic coefficients per standard deviation of each feature.
    treatment_coef_ : pandas.Series
        Log odds ratios of the treatment columns (per unit: irradiated vs not, per Gy).
    intercept_ : float
    l2_penalty_ : float
        The penalty used (converted from ``C`` when that was given).
    reference_dose_ : float or None
        Dose given to non-irradiated lesions for ``p_response_rt``: the median dose > 0
        of the labelled training lesions (None when the dose is not adjusted for).
    converged_ : bool
    n_train_lesions_ : int
        Labelled lesions used for training.
    n_unlabelled_ : int
        Training lesions without a known response (no follow-up), excluded from training
        but still scored.
    response_rate_ : float
        Observed response rate among the labelled training lesions.

    Notes
    -----
    ``lesion_scores`` gives ``p_response`` (under the lesion's actual treatment),
    ``p_response_rt`` (irradiated; at its own dose, or ``reference_dose_`` for a lesion
    that was not irradiated), ``p_response_no_rt`` (not irradiated; other adjustment
    columns keep their observed values in both; all three are equal when neither
    ``irradiated`` nor ``rt_dose_gy`` is adjusted for) and ``score = 1 - p`` of the
    ``pool_on`` probability (higher = riskier = less likely to respond; by
    default: unlikely to respond to immunotherapy alone). These are counterfactual
    predictions under the model: they remove the confounding by the irradiation choice
    only as far as that choice depends on what the model adjusts for or sees (the
    lesion features). Patients without baseline lesions get the training-cohort mean of
    every column, with a warning.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from survrad.data.cohort import Cohort
    >>> rng = np.random.default_rng(0)
    >>> ids = pd.Index([f"P{i}" for i in range(40)], name="patient_id")
    >>> x = rng.normal(size=80)
    >>> irr = np.tile([1, 0], 40)
    >>> les = pd.DataFrame({"patient_id": np.repeat(ids, 2), "lesion_id": ["a", "b"] * 40,
    ...                     "rad_a": x, "irradiated": irr,
    ...                     "lesion_response": (x + 2 * irr + rng.normal(size=80) > 1) * 1})
    >>> c = Cohort(pd.DataFrame(index=ids), les, lesion_features=("rad_a",))
    >>> m = LesionResponseAggregation().fit(c)
    >>> m.transform(c).columns.tolist(), m.treatment_
    (['lesion_response__max', 'lesion_response__mean'], ['irradiated'])
    >>> s = m.lesion_scores(c)
    >>> bool((s["p_response_rt"] > s["p_response_no_rt"]).all())
    True
    """

    requires_outcome = True
    #: lesion_scores columns on an absolute scale (probabilities): the decision table
    #: gives them bootstrap intervals without standardisation
    probability_columns: ClassVar[tuple[str, ...]] = ("p_response_rt", "p_response_no_rt")

    def __init__(self, features: Sequence[str] | None = None,
                 pooling: Sequence[str] = ("max", "mean"), threshold: float = 0.5,
                 l2_penalty: float = 0.05, adjust: str | Sequence[str] | None = "auto",
                 pool_on: str = "no_rt", random_state: Any = None,
                 C: float | None = None) -> None:
        self.features = features
        self.pooling = pooling
        self.threshold = threshold
        self.l2_penalty = l2_penalty
        self.adjust = adjust
        self.pool_on = pool_on
        self.random_state = random_state
        self.C = C

    # ------------------------------------------------------------------ fit
    def fit(self, cohort: Cohort, endpoint: str | None = None) -> LesionResponseAggregation:
        """Train the lesion response classifier on the cohort's labelled baseline lesions.

        ``endpoint`` is accepted for the strategy contract and not used: the target is the
        lesion response.
        """
        self._check_params()
        self.features_ = resolve_features(cohort, self.features)
        self._check_leakage(cohort)
        lm = lesion_matrix(cohort, self.features_)
        target = lesion_response_target(cohort).to_numpy()
        labelled = ~np.isnan(target)
        y = target[labelled].astype(int)
        self._check_target(y)
        T = self._fit_treatment(cohort, lm, labelled)
        X = lm.X[labelled]
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.scale_ = np.where(sd <= 1e-12 * np.maximum(1.0, np.abs(self.mean_)), 1.0, sd)
        self.l2_penalty_ = self._penalty(int(y.size))
        p, q = X.shape[1], T.shape[1]
        fit = logistic_fit(np.hstack([(X - self.mean_) / self.scale_, T[labelled]]), y,
                           l2=self.l2_penalty_, penalty_factor=np.r_[np.ones(p), np.zeros(q)],
                           max_iter=200)
        self.converged_ = fit.converged
        if not fit.converged:
            warnings.warn("LesionResponseAggregation: the lesion response model did not "
                          "converge (separation?); raise l2_penalty.", ConvergenceWarning,
                          stacklevel=2)
        self.coef_ = pd.Series(fit.coef[:p], index=self.features_, name="coef")
        self.treatment_coef_ = pd.Series(fit.coef[p:], index=self.treatment_, name="coef",
                                         dtype=float)
        self.intercept_ = fit.intercept
        self.n_train_lesions_ = int(labelled.sum())
        self.n_unlabelled_ = int((~labelled).sum())
        self.response_rate_ = float(y.mean())
        super().fit(cohort, endpoint)  # output names and fill values (base fill rule)
        return self

    def _check_params(self) -> None:
        self.pooling_ = check_pooling(self.pooling, _POOLINGS)
        check_fraction("threshold", self.threshold)
        check_choice("pool_on", self.pool_on, _POOL_ON)
        if not _nonnegative(self.l2_penalty):
            raise ValueError(f"l2_penalty must be a finite number >= 0, got "
                             f"{self.l2_penalty!r}.")
        if self.C is not None and not (_nonnegative(self.C) and self.C > 0):
            raise ValueError(f"C must be a finite number > 0, got {self.C!r}.")
        check_random_state(self.random_state)
        if not (self.adjust is None or self.adjust == "auto"
                or (not isinstance(self.adjust, str) and all(isinstance(a, str)
                                                             for a in self.adjust))):
            raise ConfigError(f"adjust must be 'auto', None or a list of lesion columns, "
                              f"got {self.adjust!r}.")

    def _penalty(self, n: int) -> float:
        if self.C is None:
            return float(self.l2_penalty)
        value = 1.0 / (float(self.C) * n)
        warnings.warn(f"LesionResponseAggregation(C=...) is deprecated and will be removed in "
                      f"the next release: use l2_penalty, the ridge penalty on glmnet's scale "
                      f"(on the mean log likelihood). C={self.C:g} on these {n} labelled "
                      f"lesions is l2_penalty={value:.6g}.", SurvradDeprecationWarning,
                      stacklevel=3)
        return value

    def _check_leakage(self, cohort: Cohort) -> None:
        cols = cohort.columns
        leaked = [f for f in self.features_
                  if f in (cols.lesion_response, cols.diameter_followup)]
        if leaked:
            raise ConfigError(f"lesion features {leaked} define the lesion response target; "
                              "remove them from features (target leakage).")
        both = [f for f in self.features_ if f in (cols.irradiated, cols.rt_dose)]
        if both and self.adjust is not None:
            raise ConfigError(f"lesion features {both} are treatment columns, which D adjusts "
                              "for separately (adjust=...); remove them from features, or "
                              "set adjust=None to use them as plain features.")

    @staticmethod
    def _check_target(y: np.ndarray) -> None:
        if y.size < 10:
            raise FitError(f"only {y.size} training lesions have a known response; at least "
                           "10 are needed to train the lesion response classifier.")
        if np.unique(y).size < 2:
            raise FitError(f"every labelled training lesion has response {int(y[0])}; the "
                           "lesion response classifier needs both classes.")

    # ------------------------------------------------------------ treatment
    def _fit_treatment(self, cohort: Cohort, lm: LesionMatrix,
                       labelled: np.ndarray) -> np.ndarray:
        """Choose the adjustment columns (``treatment_``) and return their matrix."""
        cols = cohort.columns
        table = lm.lesions
        self.reference_dose_ = None
        if self.adjust is None:
            self.treatment_ = []
        elif self.adjust == "auto":
            self.treatment_ = [c for c in (cols.irradiated,) if c in table.columns]
            if self.treatment_ and cols.rt_dose in table.columns:
                irr, dose = _treatment_values(table, [cols.irradiated, cols.rt_dose], cohort,
                                              cols).T
                on = labelled & (irr == 1)
                if on.any() and np.ptp(dose[on]) > 0:
                    self.treatment_.append(cols.rt_dose)
        else:
            self.treatment_ = list(self.adjust)
            missing = [c for c in self.treatment_ if c not in table.columns]
            if missing:
                raise SchemaError(f"adjustment for {missing} was asked (adjust="
                                  f"{list(self.adjust)}) but the lesion table has no such "
                                  "column; add it or set adjust='auto' / None.",
                                  file="lesions", column=missing[0])
        T = _treatment_values(table, self.treatment_, cohort, cols)
        for j, name in enumerate(self.treatment_):
            if np.ptp(T[labelled, j]) == 0:
                raise FitError(f"treatment column {name!r} is constant among the labelled "
                               "training lesions: its effect cannot be separated from the "
                               "intercept; set adjust=None (or leave it out).", columns=[name])
        if cols.rt_dose in self.treatment_:
            dose = T[:, self.treatment_.index(cols.rt_dose)]
            given = labelled & (dose > 0)
            if not given.any():
                raise FitError("no labelled training lesion has a dose > 0: the dose effect "
                               "cannot be estimated.", columns=[cols.rt_dose])
            self.reference_dose_ = float(np.median(dose[given]))
        return T

    def _counterfactual(self, T: np.ndarray, cols: Any, rt: bool) -> np.ndarray:
        """Treatment matrix with every lesion irradiated (``rt``) or none.

        Irradiated: ``irradiated = 1`` and the lesion's own dose, or ``reference_dose_``
        when it had none. Not irradiated: both 0. Other adjustment columns keep their
        observed values.
        """
        out = T.copy()
        names = self.treatment_
        if cols.rt_dose in names:
            j = names.index(cols.rt_dose)
            out[:, j] = np.where(T[:, j] > 0, T[:, j], self.reference_dose_) if rt else 0.0
        if cols.irradiated in names:
            out[:, names.index(cols.irradiated)] = 1.0 if rt else 0.0
        return out

    # ------------------------------------------------------------ predict
    def _fit_result(self) -> LogisticFit:
        coef = np.r_[self.coef_.to_numpy(), self.treatment_coef_.to_numpy()]
        return LogisticFit(self.intercept_, coef, self.converged_, 0, np.nan)

    def _probabilities(self, cohort: Cohort, lm: LesionMatrix) -> dict[str, np.ndarray]:
        """``observed``, ``rt`` and ``no_rt`` response probabilities of every lesion."""
        Xs = (lm.X - self.mean_) / self.scale_
        fit = self._fit_result()
        cols = cohort.columns
        if not {cols.irradiated, cols.rt_dose} & set(self.treatment_):
            T = _treatment_values(lm.lesions, self.treatment_, cohort, cols)
            p = logistic_predict(np.hstack([Xs, T]), fit)
            return {"observed": p, "rt": p, "no_rt": p}
        T = _treatment_values(lm.lesions, self.treatment_, cohort, cols)
        return {"observed": logistic_predict(np.hstack([Xs, T]), fit),
                "rt": logistic_predict(np.hstack([Xs, self._counterfactual(T, cols, True)]),
                                       fit),
                "no_rt": logistic_predict(np.hstack([Xs, self._counterfactual(T, cols,
                                                                              False)]), fit)}

    def _pooled(self, p: np.ndarray, lm: LesionMatrix) -> pd.DataFrame:
        cols = {f"{_NAME}__{name}": pool(p, lm.codes, lm.n_patients, name, volume=lm.volume,
                                         threshold=self.threshold)
                for name in self.pooling_}
        return pd.DataFrame(cols, index=lm.patient_ids)

    def _compute(self, cohort: Cohort) -> pd.DataFrame:
        lm = lesion_matrix(cohort, self.features_)
        return self._pooled(self._probabilities(cohort, lm)[self.pool_on], lm)

    def lesion_scores(self, cohort: Cohort) -> pd.DataFrame:
        """Per baseline lesion: ``score`` (higher = riskier) and response probabilities.

        Returns
        -------
        pandas.DataFrame
            ``patient_id, lesion_id, score, p_response, p_response_rt, p_response_no_rt``
            in the cohort's lesion order; ``score = 1 - p`` of the ``pool_on``
            probability (``p_response_no_rt`` by default).
        """
        self._check_fitted()
        lm = lesion_matrix(cohort, self.features_)
        p = self._probabilities(cohort, lm)
        return lesion_score_frame(lm, cohort, 1.0 - p[self.pool_on], p_response=p["observed"],
                                  p_response_rt=p["rt"], p_response_no_rt=p["no_rt"])


def _nonnegative(value: Any) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and bool(np.isfinite(value)) and value >= 0)


def _treatment_values(table: pd.DataFrame, names: Sequence[str], cohort: Cohort,
                      cols: Any) -> np.ndarray:
    """Validated treatment block: ``irradiated`` 0/1, doses >= 0 and 0 when not irradiated."""
    T = lesion_values(table, names, cohort) if names else np.empty((len(table), 0))
    names = list(names)
    if cols.irradiated in names:
        irr = T[:, names.index(cols.irradiated)]
        bad = ~np.isin(irr, (0.0, 1.0))
        if bad.any():
            raise SchemaError("irradiated must be coded 0/1.", file="lesions",
                              column=cols.irradiated, values=list(np.unique(irr[bad]))[:10],
                              ids=lesion_labels(table, bad, cohort))
        if cols.rt_dose in names:
            dose = T[:, names.index(cols.rt_dose)]
            bad = (dose < 0) | ((irr == 0) & (dose != 0))
            if bad.any():
                raise SchemaError("rt_dose must be >= 0, and 0 for lesions that were not "
                                  "irradiated.", file="lesions", column=cols.rt_dose,
                                  ids=lesion_labels(table, bad, cohort))
    return T

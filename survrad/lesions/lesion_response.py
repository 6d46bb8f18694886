"""D ``lesion_response``: a lesion-level response classifier pooled per patient (layer 2).

A lesion "responds" when its ``lesion_response`` column is 1 or, without that column, when
its longest diameter shrinks by at least 30 % at follow-up
(``diameter_followup_mm / longest_diameter_mm - 1 <= -0.30``, RECIST-like). An L2 logistic
regression on the standardised lesion features of the TRAINING cohort's lesions predicts
the probability of response of every lesion; the probabilities are pooled per patient by
max, mean, vw_mean (volume weights), frac_above (fraction above ``threshold``) and/or
noisy_or (``1 - prod(1 - p)``: the probability that at least one lesion responds).

D predicts lesion RESPONSE, not survival: its pooled columns are patient predictors for
the downstream survival or response model. The training cohort is the patient-level
training set of the resample, so no patient's lesions are both trained on and evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from survrad._math.linear import linear_predictor
from survrad._validation import check_fraction, check_random_state
from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError, FitError, SchemaError
from survrad.lesions._learned import (
    LesionMatrix,
    check_pooling,
    lesion_matrix,
    lesion_score_frame,
    pool,
)
from survrad.lesions.base import AggregationStrategy, resolve_features

__all__ = ["LesionResponseAggregation", "lesion_response_target"]

_NAME = "lesion_response"
_POOLINGS = ("max", "mean", "vw_mean", "frac_above", "noisy_or")
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
        on the training lesions. The response columns themselves are refused (leakage).
    pooling : sequence of {"max", "mean", "vw_mean", "frac_above", "noisy_or"}
        Output columns ``lesion_response__<pooling>`` (pooled probabilities of response).
    threshold : float, default 0.5
        Probability threshold of ``frac_above``.
    C : float, default 1.0
        Inverse L2 penalty of the logistic regression (scikit-learn's ``C``).
    random_state : None or int
        Kept for the estimator contract; the lbfgs solver is deterministic.

    Attributes
    ----------
    features_ : list of str
    coef_ : pandas.Series
        Logistic coefficients per standard deviation of each feature.
    n_train_lesions_ : int
        Labelled lesions used for training.
    n_unlabelled_ : int
        Training lesions without a known response (no follow-up), excluded from training
        but still scored.
    response_rate_ : float
        Observed response rate among the labelled training lesions.

    Notes
    -----
    ``lesion_scores`` gives ``score = 1 - p(response)`` (higher = riskier = more likely a
    non-responding lesion) and ``p_response``. Patients without baseline lesions get the
    training-cohort mean of every column, with a warning.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from survrad.data.cohort import Cohort
    >>> rng = np.random.default_rng(0)
    >>> ids = pd.Index([f"P{i}" for i in range(40)], name="patient_id")
    >>> x = rng.normal(size=80)
    >>> les = pd.DataFrame({"patient_id": np.repeat(ids, 2), "lesion_id": ["a", "b"] * 40,
    ...                     "rad_a": x, "lesion_response": (x + rng.normal(size=80) > 0) * 1})
    >>> c = Cohort(pd.DataFrame(index=ids), les, lesion_features=("rad_a",))
    >>> LesionResponseAggregation().fit(c).transform(c).columns.tolist()
    ['lesion_response__max', 'lesion_response__mean']
    """

    requires_outcome = True

    def __init__(self, features: Sequence[str] | None = None,
                 pooling: Sequence[str] = ("max", "mean"), threshold: float = 0.5,
                 C: float = 1.0, random_state: Any = None) -> None:
        self.features = features
        self.pooling = pooling
        self.threshold = threshold
        self.C = C
        self.random_state = random_state

    def fit(self, cohort: Cohort, endpoint: str | None = None) -> LesionResponseAggregation:
        """Train the lesion response classifier on the cohort's labelled baseline lesions.

        ``endpoint`` is accepted for the strategy contract and not used: the target is the
        lesion response.
        """
        self.pooling_ = check_pooling(self.pooling, _POOLINGS)
        check_fraction("threshold", self.threshold)
        if not (np.isfinite(self.C) and self.C > 0):
            raise ValueError(f"C must be a finite number > 0, got {self.C!r}.")
        check_random_state(self.random_state)
        self.features_ = resolve_features(cohort, self.features)
        self._check_leakage(cohort)
        lm = lesion_matrix(cohort, self.features_)
        target = lesion_response_target(cohort).to_numpy()
        labelled = ~np.isnan(target)
        y = target[labelled].astype(int)
        self._check_target(y)
        X = lm.X[labelled]
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.scale_ = np.where(sd <= 1e-12 * np.maximum(1.0, np.abs(self.mean_)), 1.0, sd)
        clf = LogisticRegression(C=float(self.C), max_iter=1000)
        clf.fit((X - self.mean_) / self.scale_, y)
        self.coef_ = pd.Series(clf.coef_[0], index=self.features_, name="coef")
        self.intercept_ = float(clf.intercept_[0])
        self.n_train_lesions_ = int(labelled.sum())
        self.n_unlabelled_ = int((~labelled).sum())
        self.response_rate_ = float(y.mean())
        super().fit(cohort, endpoint)  # output names and fill values (base fill rule)
        return self

    def _check_leakage(self, cohort: Cohort) -> None:
        cols = cohort.columns
        leaked = [f for f in self.features_
                  if f in (cols.lesion_response, cols.diameter_followup)]
        if leaked:
            raise ConfigError(f"lesion features {leaked} define the lesion response target; "
                              "remove them from features (target leakage).")

    @staticmethod
    def _check_target(y: np.ndarray) -> None:
        if y.size < 10:
            raise FitError(f"only {y.size} training lesions have a known response; at least "
                           "10 are needed to train the lesion response classifier.")
        if np.unique(y).size < 2:
            raise FitError(f"every labelled training lesion has response {int(y[0])}; the "
                           "lesion response classifier needs both classes.")

    def _p_response(self, lm: LesionMatrix) -> np.ndarray:
        lin = linear_predictor((lm.X - self.mean_) / self.scale_, self.coef_.to_numpy(),
                               self.intercept_)
        return 1.0 / (1.0 + np.exp(-lin))

    def _pooled(self, p: np.ndarray, lm: LesionMatrix) -> pd.DataFrame:
        cols = {f"{_NAME}__{name}": pool(p, lm.codes, lm.n_patients, name, volume=lm.volume,
                                         threshold=self.threshold)
                for name in self.pooling_}
        return pd.DataFrame(cols, index=lm.patient_ids)

    def _compute(self, cohort: Cohort) -> pd.DataFrame:
        lm = lesion_matrix(cohort, self.features_)
        return self._pooled(self._p_response(lm), lm)

    def lesion_scores(self, cohort: Cohort) -> pd.DataFrame:
        """Per baseline lesion: ``score = 1 - p(response)`` (higher = riskier), ``p_response``.

        Returns
        -------
        pandas.DataFrame
            ``patient_id, lesion_id, score, p_response`` in the cohort's lesion order.
        """
        self._check_fitted()
        lm = lesion_matrix(cohort, self.features_)
        p = self._p_response(lm)
        return lesion_score_frame(lm, cohort, 1.0 - p, p_response=p)

"""Random survival forest (layer 4): a checked wrapper of scikit-survival's forest.

scikit-survival's :class:`~sksurv.ensemble.RandomSurvivalForest` is used for the trees;
survrad adds the checks of docs/reliability.md (#15, #18-#20, #24) before it sees the data,
reproducible seeding from ``random_state`` (Generator, SeedSequence or int), predictions
that do not depend on ``n_jobs``, survival functions at any times, and permutation
importance by the drop in Harrell's C.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from survrad._math.concordance import harrell_c
from survrad._validation import CachedParamNames, RandomState, check_int, check_random_state
from survrad.data.outcome import check_y_survival, event_sufficiency
from survrad.exceptions import NotFittedError, SchemaError
from survrad.models._checks import (
    as_frame,
    check_design,
    check_float32_cast,
    check_predict_design,
)

__all__ = ["SurvivalForest"]

_MAX_SEED = 2**31 - 1


def sklearn_seed(random_state: RandomState) -> int:
    """A reproducible integer seed for a scikit-learn estimator from ``random_state``.

    An int or SeedSequence always gives the same seed; a Generator advances.

    Examples
    --------
    >>> sklearn_seed(0) == sklearn_seed(0)
    True
    """
    return int(check_random_state(random_state).integers(0, _MAX_SEED))


def check_max_features(value: Any) -> Any:
    """``"sqrt"``, ``"log2"``, ``None``, an int >= 1 or a float in (0, 1]."""
    if value is None or value in ("sqrt", "log2"):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1:
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 < value <= 1:
        return float(value)
    raise ValueError(
        f"max_features must be 'sqrt', 'log2', None, an int >= 1 or a float in (0, 1]; "
        f"got {value!r}."
    )


def check_n_jobs(value: Any) -> int | None:
    """``None`` or a non-zero int (negative counts from the number of cores, as joblib)."""
    if value is None:
        return None
    n = check_int("n_jobs", value)
    if n == 0:
        raise ValueError("n_jobs must be None, a positive int or a negative int; got 0.")
    return n


def standardize_columns(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and scales (population SD; 1 for a constant column)."""
    center = A.mean(axis=0)
    scale = A.std(axis=0)
    return center, np.where(scale > 0, scale, 1.0)


def design_for_trees(
    X: Any,
    *,
    model_name: str,
    standardize: bool,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Check a design for a float32 tree model; returns (frame, array, center, scale).

    Trees are invariant to an affine map of each column, so centring and scaling in
    float64 before the float32 cast changes no split but keeps ``1e9 + N(0, 1)``
    distinct. The float32 check runs on the array the trees will see.
    """
    frame = as_frame(X)
    A = check_design(frame, model_name=model_name, allow_constant=True)
    center = scale = None
    if standardize:
        center, scale = standardize_columns(A)
        A = (A - center) / scale
    hint = "" if standardize else ", or set standardize=True"
    check_float32_cast(A, frame.columns, model_name=model_name, hint=hint)
    return frame, A, center, scale


def permutation_drop(
    score: Callable[[np.ndarray], float],
    A: np.ndarray,
    columns: Sequence[str],
    *,
    n_repeats: int,
    random_state: RandomState,
) -> pd.DataFrame:
    """Permutation importance: drop of ``score`` when one column is shuffled.

    Columns are visited in order and each uses ``n_repeats`` permutations drawn from one
    Generator, so the result depends only on ``random_state``.

    Returns
    -------
    DataFrame with columns feature, importance_mean, importance_std (population SD over
    repeats), in the column order of ``A``.
    """
    n_repeats = check_int("n_repeats", n_repeats, min_value=1)
    rng = check_random_state(random_state)
    base = score(A)
    rows = []
    for j, name in enumerate(columns):
        drops = np.empty(n_repeats)
        for r in range(n_repeats):
            Ap = A.copy()
            Ap[:, j] = A[rng.permutation(A.shape[0]), j]
            drops[r] = base - score(Ap)
        rows.append((str(name), float(drops.mean()), float(drops.std())))
    return pd.DataFrame(rows, columns=["feature", "importance_mean", "importance_std"])


def _check_times(times: Any) -> np.ndarray:
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError(
            f"times must be a non-empty 1-d array of finite times >= 0; got {times!r}.")
    return t


class SurvivalForest(CachedParamNames, BaseEstimator):
    """Random survival forest (Ishwaran et al. 2008) on a checked design.

    Wraps :class:`sksurv.ensemble.RandomSurvivalForest` (log-rank splits, bootstrap
    samples, Nelson–Aalen leaves).

    Parameters
    ----------
    n_estimators : int, default 300
        Number of trees.
    min_samples_leaf : int, default 15
        Minimum number of samples in a leaf.
    max_features : {"sqrt", "log2"}, int, float or None, default "sqrt"
        Features tried at each split (as scikit-learn).
    max_depth : int or None, default None
        Maximum tree depth.
    low_memory : bool, default True
        Keep only each leaf's risk score (scikit-survival's ``low_memory``). A leaf of a
        full forest stores its cumulative hazard and survival function at every distinct
        training time (measured, benchmarks/bench_forest_memory.py: 4 MB per tree at
        n = 2000 with min_samples_leaf=15, against 0.01 MB); with ``low_memory=True``
        :meth:`predict` is unchanged (identical numbers) but
        :meth:`predict_survival_function` is unavailable.
    standardize : bool, default True
        Centre and scale each column (float64) before scikit-learn's float32 cast. Splits
        are unchanged (trees are invariant to an affine map of a column) but values such
        as ``1e9 + N(0, 1)`` stay distinct. With ``False``, such a column is refused.
    random_state : None, int, SeedSequence or Generator
        Seeds the trees. The same value gives identical predictions whatever ``n_jobs``.
    n_jobs : int or None
        Threads used to grow the trees. Prediction is always sequential, so its
        floating-point sums do not depend on scheduling.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    center_, scale_ : ndarray or None
        Per-column centring and scaling applied before the trees (``standardize``).
    forest_ : sksurv.ensemble.RandomSurvivalForest
        The fitted trees (their leaves hold the distinct training times: model
        structure, no copy of ``X`` or ``y`` is kept).
    unique_times_ : ndarray
        Distinct training times at which the survival function is estimated.

    Notes
    -----
    ``predict`` is scikit-survival's ensemble mortality: the sum over distinct training
    event times of the ensemble cumulative hazard, so a higher value means a riskier
    patient (earlier event), as every survrad survival model.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from survrad.data.outcome import Surv
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    >>> y = Surv.from_arrays(time=rng.exponential(np.exp(-X["a"])), event=np.ones(60))
    >>> m = SurvivalForest(n_estimators=10, random_state=0).fit(X, y)
    >>> m.predict(X).shape
    (60,)
    """

    endpoint_kind = "survival"

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
        min_samples_leaf: int = 15,
        max_features: Any = "sqrt",
        max_depth: int | None = None,
        low_memory: bool = True,
        standardize: bool = True,
        random_state: RandomState = None,
        n_jobs: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.max_depth = max_depth
        self.low_memory = low_memory
        self.standardize = standardize
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _make_forest(self) -> Any:
        from survrad.models._trees import random_survival_forest

        max_depth = None if self.max_depth is None else check_int(
            "max_depth", self.max_depth, min_value=1)
        return random_survival_forest(
            n_estimators=check_int("n_estimators", self.n_estimators, min_value=1),
            min_samples_leaf=check_int("min_samples_leaf", self.min_samples_leaf, min_value=1),
            max_features=check_max_features(self.max_features),
            max_depth=max_depth,
            low_memory=bool(self.low_memory),
            n_jobs=check_n_jobs(self.n_jobs),
            random_state=sklearn_seed(self.random_state),
        )

    def _check_params(self) -> None:
        self._make_forest()

    def fit(self, X: pd.DataFrame, y: np.ndarray, groups: Any = None) -> SurvivalForest:
        """Grow the forest.

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
            Numeric features, indexed by patient id (used in error messages).
        y : structured array
            Survival outcome from :meth:`survrad.Surv.from_arrays`.
        groups : ignored
            Accepted for a uniform model interface. Rows are treated as independent; for
            lesion rows nested in patients, resample by patient outside the model.

        Returns
        -------
        self

        Raises
        ------
        SchemaError
            Non-numeric, NaN or infinite features; a length mismatch; no events, one
            event, all times tied, or fewer than 3 distinct event times.
        FitError
            A float32 cast would merge distinct values of a column.
        """
        forest = self._make_forest()
        frame, A, center, scale = design_for_trees(
            X, model_name="SurvivalForest", standardize=bool(self.standardize))
        time, event = check_y_survival(y)
        if time.shape[0] != A.shape[0]:
            raise SchemaError(
                f"SurvivalForest: X has {A.shape[0]} rows but y has {time.shape[0]}; they "
                "must describe the same patients in the same order.")
        event_sufficiency(time, event)
        yy = np.empty(time.shape[0], dtype=[("event", "?"), ("time", "<f8")])
        yy["event"], yy["time"] = event, time
        forest.fit(A, yy)
        forest.set_params(n_jobs=1)  # ordered sums at predict time: same numbers any n_jobs
        self.forest_ = forest
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = A.shape[1]
        self.center_, self.scale_ = center, scale
        self.unique_times_ = np.asarray(forest.unique_times_, dtype=float)
        return self

    def _design(self, X: Any) -> np.ndarray:
        if not hasattr(self, "forest_"):
            raise NotFittedError("SurvivalForest is not fitted yet: call fit(X, y) first.")
        A = check_predict_design(X, list(self.feature_names_in_), model_name="SurvivalForest")
        if self.center_ is not None:
            A = (A - self.center_) / self.scale_
        return A

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Risk score: the ensemble cumulative hazard summed over training event times.

        Higher = riskier (earlier event).

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        A = self._design(X)
        return np.asarray(self.forest_.predict(A), dtype=float)

    def score(self, X: pd.DataFrame, y: np.ndarray) -> float:
        """Harrell's C of :meth:`predict` on ``(X, y)`` (higher risk = earlier event).

        scikit-learn's ``score`` (greater is better): ``GridSearchCV`` and
        ``cross_val_score`` work without a scorer.

        Returns
        -------
        float
        """
        from survrad.models._inference import harrell_c as harrell_c_y

        return harrell_c_y(y, self.predict(X))

    def predict_survival_function(self, X: pd.DataFrame, times: Any) -> np.ndarray:
        """Ensemble survival probabilities at ``times``.

        The ensemble curve is the mean of the trees' Kaplan–Meier leaf curves, a step
        function of the distinct training times: 1 before the first one, constant after
        the last one.

        Parameters
        ----------
        X : DataFrame
        times : array-like of float
            Times >= 0, in the unit of the training times.

        Returns
        -------
        ndarray, shape (n_samples, n_times)

        Raises
        ------
        ValueError
            If the forest was fitted with ``low_memory=True``.
        """
        A = self._design(X)
        t = _check_times(times)
        if self.forest_.low_memory:
            raise ValueError(
                "SurvivalForest(low_memory=True) keeps only each leaf's risk score and cannot "
                "give survival functions; refit with SurvivalForest(low_memory=False) "
                "(more memory: every leaf stores a curve over the distinct training times).")
        surv = self.forest_.predict_survival_function(A, return_array=True)
        idx = np.searchsorted(self.unique_times_, t, side="right") - 1
        out = np.ones((A.shape[0], t.size))
        known = idx >= 0
        out[:, known] = surv[:, idx[known]]
        return out

    def permutation_importance(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        n_repeats: int = 5,
        random_state: RandomState = None,
    ) -> pd.DataFrame:
        """Drop in Harrell's C when each feature is permuted.

        Parameters
        ----------
        X : DataFrame
            Features (ideally held-out patients).
        y : structured array
            Their survival outcome.
        n_repeats : int, default 5
            Permutations per feature.
        random_state : None, int, SeedSequence or Generator

        Returns
        -------
        DataFrame with columns feature, importance_mean, importance_std, in the feature
        order of ``fit``. Positive = the forest relies on the feature.
        """
        A = self._design(X)
        time, event = check_y_survival(y)
        if time.shape[0] != A.shape[0]:
            raise SchemaError(
                f"SurvivalForest: X has {A.shape[0]} rows but y has {time.shape[0]}.")

        def score(Z: np.ndarray) -> float:
            return harrell_c(time, event, self.forest_.predict(Z))

        return permutation_drop(score, A, list(self.feature_names_in_),
                                n_repeats=n_repeats, random_state=random_state)

"""Out-of-fold predictions for honest figures (risk groups, calibration, ROC).

Every patient's prediction comes from a pipeline fitted WITHOUT that patient (patient
grouped K-fold), and risk-group cut-points are quantiles of the TRAINING folds' risks,
applied to the held-out fold: no figure is drawn from in-sample predictions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from survrad._validation import check_fraction, check_int, check_random_state, seed_unseeded
from survrad.data.cohort import Cohort
from survrad.exceptions import ResamplingError

__all__ = ["OutOfFold", "cross_validated_predictions"]

_EXPECTED = (ValueError, ArithmeticError, np.linalg.LinAlgError)


@dataclasses.dataclass(frozen=True)
class OutOfFold:
    """Out-of-fold predictions of every patient whose fold could be fitted.

    Attributes
    ----------
    frame : pandas.DataFrame
        Indexed by patient_id in cohort order: ``fold``, ``risk``, ``risk_group``
        (1 = lowest risk); NaN for the patients of a fold that failed.
    survival : pandas.DataFrame
        Patients x horizons (float column labels): predicted survival; empty without
        horizons or for models without survival curves.
    failures : tuple of (fold, reason)
        Folds whose pipeline could not be fitted (their patients have no prediction).
    n_folds : int
    """

    frame: pd.DataFrame
    survival: pd.DataFrame
    failures: tuple[tuple[int, str], ...]
    n_folds: int

    @property
    def predicted(self) -> np.ndarray:
        """Mask of the patients with a prediction."""
        return self.frame["risk"].notna().to_numpy()


def cross_validated_predictions(pipeline: Any, cohort: Cohort, endpoint: str, *,
                                n_folds: int = 5, n_groups: int = 3,
                                horizons: Sequence[float] = (),
                                random_state: int | None = None,
                                max_failed: float = 0.10) -> OutOfFold:
    """Out-of-fold risk, risk group and (survival endpoints) survival at ``horizons``.

    Parameters
    ----------
    pipeline : CohortPipeline
        Unfitted; cloned and fitted on each set of training folds.
    cohort : Cohort
    endpoint : str
    n_folds : int, default 5
        Patient-grouped folds (patients are the rows; their lesions follow).
    n_groups : int, default 3
        Risk groups from quantiles of the training folds' predicted risks
        (group 1 = lowest risk).
    horizons : sequence of float
        Times at which to predict survival.
    random_state : int or None
        Fold assignment; also seeds every ``random_state`` left at None inside the
        pipeline (the same seed in every fold).
    max_failed : float, default 0.10
        Largest fraction of folds that may fail (a constant feature in a training fold,
        no events): their patients get no prediction and the failures are returned.
        More is a ResamplingError.

    Returns
    -------
    OutOfFold

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=80, random_state=0)
    >>> cv = cross_validated_predictions(sr.CohortPipeline(), c, "os", random_state=0)
    >>> sorted(cv.frame["risk_group"].unique().tolist())
    [1, 2, 3]
    """
    check_int("n_folds", n_folds, min_value=2, max_value=cohort.n_patients)
    check_int("n_groups", n_groups, min_value=2)
    check_fraction("max_failed", max_failed, inclusive=True)
    rng = check_random_state(random_state)
    seed = np.random.SeedSequence(random_state)
    ids = cohort.patient_ids.to_numpy()
    folds = np.empty(ids.size, dtype=int)
    folds[rng.permutation(ids.size)] = np.arange(ids.size) % n_folds
    hz = [float(h) for h in horizons]
    frame = pd.DataFrame({"fold": folds, "risk": np.nan,
                          "risk_group": pd.array([pd.NA] * len(folds), dtype="Int64")},
                         index=cohort.patient_ids)
    survival = pd.DataFrame(np.nan, index=cohort.patient_ids, columns=hz)
    failures: list[tuple[int, str]] = []
    for k in range(n_folds):
        test_ids, train_ids = ids[folds == k], ids[folds != k]
        try:
            part, surv = _fold(pipeline, cohort.subset(train_ids), cohort.subset(test_ids),
                               endpoint, seed, n_groups, hz)
        except _EXPECTED as exc:
            failures.append((k, f"{type(exc).__name__}: {exc}"))
            continue
        frame.loc[part.index, "risk"] = part["risk"]
        frame.loc[part.index, "risk_group"] = part["risk_group"].astype("Int64")
        if surv is not None:
            survival.loc[surv.index, hz] = surv.to_numpy()
    if len(failures) > max_failed * n_folds:
        raise ResamplingError(f"out-of-fold predictions: {len(failures)} of {n_folds} folds "
                              f"failed (more than {max_failed:.0%}): "
                              f"{'; '.join(r for _, r in failures[:3])}.")
    if survival.isna().all().all():
        survival = survival.iloc[:, :0]
    return OutOfFold(frame, survival, tuple(failures), n_folds)


def _fold(pipeline: Any, train: Cohort, test: Cohort, endpoint: str,
          seed: np.random.SeedSequence, n_groups: int, horizons: list[float]
          ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    fitted = seed_unseeded(clone(pipeline), seed).fit(train, endpoint)
    train_risk = fitted.predict_risk(train).to_numpy()
    part = pd.DataFrame({"risk": fitted.predict_risk(test)})
    cuts = np.quantile(train_risk, np.arange(1, n_groups) / n_groups)
    part["risk_group"] = np.searchsorted(cuts, part["risk"].to_numpy(), side="right") + 1
    surv = None
    if horizons and fitted.endpoint_kind_ == "survival" and _has_survival(fitted):
        surv = fitted.predict_survival_function(test, horizons)
    return part, surv


def _has_survival(fitted: Any) -> bool:
    """Whether the fitted model predicts survival curves (low-memory forests do not)."""
    return not getattr(fitted.model_, "low_memory", False)

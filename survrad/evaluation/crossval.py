"""Out-of-fold predictions for honest figures (risk groups, calibration, ROC).

Every patient's prediction comes from a pipeline fitted WITHOUT that patient (patient
grouped K-fold), and risk-group cut-points are quantiles of the TRAINING folds' risks,
applied to the held-out fold: no figure is drawn from in-sample predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from survrad._validation import check_int, check_random_state, seed_unseeded
from survrad.data.cohort import Cohort

__all__ = ["cross_validated_predictions"]


def cross_validated_predictions(pipeline: Any, cohort: Cohort, endpoint: str, *,
                                n_folds: int = 5, n_groups: int = 3,
                                horizons: Sequence[float] = (),
                                random_state: int | None = None) -> pd.DataFrame:
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
        Times at which to predict survival (columns ``surv@<h>``).
    random_state : int or None
        Fold assignment; also seeds every ``random_state`` left at None inside the
        pipeline (the same seed in every fold).

    Returns
    -------
    pandas.DataFrame
        Indexed by patient_id in cohort order: ``fold``, ``risk``, ``risk_group`` and
        ``surv@<h>`` for each horizon.

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=80, random_state=0)
    >>> cv = cross_validated_predictions(sr.CohortPipeline(), c, "os", random_state=0)
    >>> sorted(cv["risk_group"].unique().tolist())
    [1, 2, 3]
    """
    check_int("n_folds", n_folds, min_value=2, max_value=cohort.n_patients)
    check_int("n_groups", n_groups, min_value=2)
    rng = check_random_state(random_state)
    seed = np.random.SeedSequence(random_state)
    ids = cohort.patient_ids.to_numpy()
    folds = np.empty(ids.size, dtype=int)
    folds[rng.permutation(ids.size)] = np.arange(ids.size) % n_folds
    parts = []
    for k in range(n_folds):
        test_ids, train_ids = ids[folds == k], ids[folds != k]
        train, test = cohort.subset(train_ids), cohort.subset(test_ids)
        fitted = seed_unseeded(clone(pipeline), seed).fit(train, endpoint)
        train_risk = fitted.predict_risk(train).to_numpy()
        part = pd.DataFrame({"fold": k, "risk": fitted.predict_risk(test)})
        cuts = np.quantile(train_risk, np.arange(1, n_groups) / n_groups)
        part["risk_group"] = np.searchsorted(cuts, part["risk"].to_numpy(), side="right") + 1
        if horizons and fitted.endpoint_kind_ == "survival" and _has_survival(fitted):
            surv = fitted.predict_survival_function(test, horizons)
            for h in horizons:
                part[f"surv@{h:g}"] = surv[float(h)].to_numpy()
        parts.append(part)
    return pd.concat(parts).loc[cohort.patient_ids]


def _has_survival(fitted: Any) -> bool:
    """Whether the fitted model predicts survival curves (low-memory forests do not)."""
    return not getattr(fitted.model_, "low_memory", False)

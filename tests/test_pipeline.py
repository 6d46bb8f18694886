"""CohortPipeline: contract, patient-only and multi-lesion use, and no leakage."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

import survrad as sr
from survrad.exceptions import NotFittedError, SchemaError, StatisticalWarning
from survrad.features import ComBat, LassoCoxSelector, VarianceFilter
from survrad.lesions import FeatureStatistics, LesionRiskAggregation, TumorBurden
from survrad.models import CohortPipeline, CoxModel, LogisticModel, SurvivalForest


@pytest.fixture(scope="module")
def cohort() -> sr.Cohort:
    return sr.simulate_cohort(n_patients=200, random_state=7, n_noise_features=4)


def test_patient_only_pipeline_equals_a_direct_cox_fit(cohort) -> None:
    pipe = CohortPipeline(model=CoxModel()).fit(cohort, "os")
    direct = CoxModel().fit(cohort.X(), cohort.y("os"))
    risk = pipe.predict_risk(cohort)
    assert risk.index.equals(cohort.patient_ids)
    np.testing.assert_allclose(risk.to_numpy(), direct.predict(cohort.X()), rtol=1e-12)
    assert pipe.feature_names_out_ == ["age", "ecog", "pdl1"]


def test_lesion_strategy_keeps_patient_covariates_beside(cohort) -> None:
    pipe = CohortPipeline(strategy=TumorBurden(), model=CoxModel(penalty=0.05)).fit(cohort, "os")
    assert {"age", "ecog", "pdl1"} <= set(pipe.feature_names_out_)
    assert "total_volume" in pipe.feature_names_out_
    only = CohortPipeline(strategy=TumorBurden(), model=CoxModel(penalty=0.05),
                          patient_features=()).fit(cohort, "os")
    assert not {"age", "ecog", "pdl1"} & set(only.feature_names_out_)


def test_default_models_follow_the_endpoint(cohort) -> None:
    surv = CohortPipeline().fit(cohort, "os")
    assert isinstance(surv.model_, CoxModel)
    binary = CohortPipeline().fit(cohort, "response")
    assert isinstance(binary.model_, LogisticModel)
    p = binary.predict_proba(cohort)
    assert ((p > 0) & (p < 1)).all() and p.index.equals(cohort.patient_ids)


def test_model_endpoint_mismatch_is_explained(cohort) -> None:
    with pytest.raises(SchemaError, match="LogisticModel models binary endpoints but 'os'"):
        CohortPipeline(model=LogisticModel()).fit(cohort, "os")


def test_lesion_strategy_without_lesions_is_an_error(cohort) -> None:
    patient_only = dataclasses.replace(cohort, lesions=None, truth={})
    with pytest.raises(SchemaError, match="needs a lesion table"):
        CohortPipeline(strategy=TumorBurden()).fit(patient_only, "os")


def test_not_fitted_and_clone(cohort) -> None:
    pipe = CohortPipeline(strategy=FeatureStatistics(), model=CoxModel(penalty=0.1))
    with pytest.raises(NotFittedError):
        pipe.predict_risk(cohort)
    fitted = pipe.fit(cohort, "os")
    fresh = clone(fitted)
    assert not hasattr(fresh, "model_")
    assert fresh.get_params()["strategy"].get_params() == FeatureStatistics().get_params()


def test_survival_function_is_a_survival_curve(cohort) -> None:
    pipe = CohortPipeline(model=CoxModel()).fit(cohort, "os")
    surv = pipe.predict_survival_function(cohort, [3.0, 12.0, 24.0])
    values = surv.to_numpy()
    assert ((values >= 0) & (values <= 1)).all()
    assert (np.diff(values, axis=1) <= 1e-12).all()


def _halves(cohort: sr.Cohort) -> tuple[list[str], list[str]]:
    ids = list(cohort.patient_ids)
    return ids[::2], ids[1::2]


def _shuffle_outcomes(cohort: sr.Cohort, ids: list[str], seed: int) -> sr.Cohort:
    rng = np.random.default_rng(seed)
    pats = cohort.patients.copy()
    perm = rng.permutation(len(ids))
    for col in ("os_time", "os_event", "objective_response"):
        pats.loc[ids, col] = pats.loc[ids, col].to_numpy()[perm]
    return dataclasses.replace(cohort, patients=pats)


def _replace_outcomes(cohort: sr.Cohort, ids: list[str], seed: int) -> sr.Cohort:
    """New outcomes for ``ids``: times drawn afresh, every event indicator flipped."""
    rng = np.random.default_rng(seed)
    pats = cohort.patients.copy()
    pats.loc[ids, "os_time"] = rng.uniform(0.5, 60.0, len(ids))
    pats.loc[ids, "os_event"] = 1 - pats.loc[ids, "os_event"]
    pats.loc[ids, "objective_response"] = 1 - pats.loc[ids, "objective_response"]
    return dataclasses.replace(cohort, patients=pats)


LEAKAGE_PIPELINES = [
    pytest.param(lambda: CohortPipeline(
        strategy=FeatureStatistics(stats=("mean", "max")),
        features=[VarianceFilter(), ComBat(batch_col="center"),
                  LassoCoxSelector(penalty=None, n_folds=4, max_features=3, random_state=0)],
        model=CoxModel(), patient_features=()), id="combat+cv-lasso+cox"),
    pytest.param(lambda: CohortPipeline(
        strategy=LesionRiskAggregation(penalty=0.1, pooling=("max", "mean")),
        features=[ComBat(batch_col="center")],
        model=CoxModel(), patient_features=("age",)), id="lesion-risk+combat+cox"),
]


@pytest.mark.parametrize("make", LEAKAGE_PIPELINES)
def test_no_leakage_learned_steps_fitted_on_half(cohort, make) -> None:
    """Issue 3: a pipeline with selection + ComBat (or a learned lesion strategy) fitted on
    half A gives the same predictions for half B whatever half B's outcomes are."""
    train, test = _halves(cohort)
    pipe = make()
    base = clone(pipe).fit(cohort.subset(train), "os")
    expected = base.predict_risk(cohort.subset(test))
    for changed in (_shuffle_outcomes(cohort, test, 1), _replace_outcomes(cohort, test, 2)):
        y_old, y_new = cohort.y("os"), changed.y("os")
        pos = cohort.patient_ids.get_indexer(test)
        assert not np.array_equal(y_new[pos], y_old[pos])                # B did change
        fitted = clone(pipe).fit(changed.subset(train), "os")
        got = fitted.predict_risk(changed.subset(test))
        assert got.index.equals(expected.index)
        np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
        assert fitted.feature_names_out_ == base.feature_names_out_
    # ... each test patient's prediction does not depend on who else is predicted
    alone = pd.concat([base.predict_risk(cohort.subset([pid])) for pid in test[:15]])
    np.testing.assert_allclose(alone.to_numpy(), expected.loc[test[:15]].to_numpy(),
                               rtol=1e-10, atol=1e-12)
    # ... while the training half's outcomes do matter (the test can fail)
    for changed in (_shuffle_outcomes(cohort, train, 3), _replace_outcomes(cohort, train, 4)):
        with warnings.catch_warnings():   # without signal the lasso may select nothing
            warnings.simplefilter("ignore", StatisticalWarning)
            moved = clone(pipe).fit(changed.subset(train), "os")
        assert not np.allclose(moved.predict_risk(cohort.subset(test)), expected)


def test_forest_pipeline_on_resampled_cohort(cohort) -> None:
    boot = cohort.take(list(cohort.patient_ids[:60]) * 2)
    pipe = CohortPipeline(strategy=FeatureStatistics(),
                          model=SurvivalForest(n_estimators=10, random_state=0)).fit(boot, "os")
    risk = pipe.predict_risk(cohort)
    assert np.isfinite(risk).all() and risk.index.equals(cohort.patient_ids)

"""Index of prediction accuracy and integrated AUC: riskRegression (R) and scikit-survival.

R values: tests/r/metrics.R -> metrics.json, case lung_ipa:
Score(list(cox = fit), Surv(time, event) ~ 1, data = lc, times = c(180, 365, 540),
metrics = "brier", summary = "ipa", cens.model = "km", null.model = TRUE), in-sample, with
fit <- coxph(Surv(time, event) ~ age + sex + ph.ecog, lc, ties = "efron").
"""

from __future__ import annotations

import numpy as np
import pytest
from rref import r_ref

from survrad.data.outcome import Surv
from survrad.datasets import load_dataset
from survrad.evaluation import (
    brier_score,
    integrated_auc,
    ipa,
    kaplan_meier,
    null_brier_score,
    time_dependent_auc,
)
from survrad.evaluation.metrics import _km_interval_weights
from survrad.models import CoxModel


@pytest.fixture(scope="module")
def lung_fit():
    d = load_dataset("lung").dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
    X = d[["age", "sex", "ph.ecog"]]
    y = Surv.from_arrays(time=d["time"].to_numpy(float), event=(d["status"] == 2).to_numpy())
    model = CoxModel().fit(X, y)
    return y, model.predict(X), model.predict_survival_function(X, r_ref("metrics", "lung_ipa")[
        "times"])


def test_ipa_matches_riskregression(lung_fit):
    # Score(..., summary = "ipa")$Brier$score: Brier and IPA of "cox", Brier of "Null model"
    ref = r_ref("metrics", "lung_ipa")
    y, _, surv = lung_fit
    times = ref["times"]
    np.testing.assert_allclose(brier_score(y, y, surv, times), ref["brier"], rtol=1e-8)
    np.testing.assert_allclose(null_brier_score(y, y, times), ref["brier_null"], rtol=1e-8)
    np.testing.assert_allclose(ipa(y, y, surv, times), ref["ipa"], rtol=1e-8)


def test_ipa_null_model_is_zero_and_perfect_is_one():
    rng = np.random.default_rng(0)
    t = rng.exponential(10, 300)
    y = Surv.from_arrays(time=np.minimum(t, 12), event=t <= 12)
    km = kaplan_meier(y["time"], y["event"]).survival_at([5.0, 8.0])
    assert ipa(y, y, np.tile(km, (300, 1)), [5.0, 8.0]) == pytest.approx([0, 0], abs=1e-12)
    perfect = np.column_stack([(y["time"] > h).astype(float) for h in (5.0, 8.0)])
    assert ipa(y, y, perfect, [5.0, 8.0]).tolist() == [1.0, 1.0]


def test_ipa_null_model_from_training_data():
    rng = np.random.default_rng(1)
    train = Surv.from_arrays(time=rng.exponential(10, 200), event=np.ones(200))
    test = Surv.from_arrays(time=rng.exponential(5, 100), event=np.ones(100))   # shorter survival
    surv = np.full((100, 1), 0.6)
    own = ipa(train, test, surv, [4.0])
    from_train = ipa(train, test, surv, [4.0], null_model="train")
    assert own != from_train
    # the training KM predicts badly for the shorter-lived test patients: larger null Brier
    assert null_brier_score(train, test, [4.0], null_model="train") > null_brier_score(
        train, test, [4.0])
    with pytest.raises(ValueError, match="null_model"):
        ipa(train, test, surv, [4.0], null_model="km")


def test_ipa_undefined_without_events_before_horizon():
    y = Surv.from_arrays(time=[5.0, 6.0, 7.0], event=[1, 1, 0])
    with pytest.raises(ValueError, match="null model's Brier score is 0"):
        ipa(y, y, np.full((3, 1), 0.5), [2.0])


# ------------------------------------------------------------------- integrated AUC
def test_integrated_auc_weighting_is_scikit_survivals(lung_fit):
    # With scikit-survival's own AUC values our Kaplan-Meier weights give its mean_auc
    # exactly; our AUC is riskRegression's (G(T-) instead of G(T)): 1e-4 apart.
    from sksurv.metrics import cumulative_dynamic_auc

    y, lp, _ = lung_fit
    times = np.array([90.0, 180.0, 365.0, 540.0, 730.0])
    sk_auc, sk_mean = cumulative_dynamic_auc(y, y, lp, times)
    assert _km_interval_weights(y, times) @ sk_auc == pytest.approx(sk_mean, rel=1e-12)
    ours = integrated_auc(y, y, lp, times)
    assert ours == pytest.approx(sk_mean, abs=5e-4)
    assert ours == pytest.approx(_km_interval_weights(y, times)
                                 @ time_dependent_auc(y, y, lp, times), rel=1e-14)


def test_integrated_auc_trapezoid(lung_fit):
    y, lp, _ = lung_fit
    times = np.array([180.0, 365.0, 540.0])
    auc = time_dependent_auc(y, y, lp, times)
    expected = (185 * (auc[0] + auc[1]) / 2 + 175 * (auc[1] + auc[2]) / 2) / 360
    assert integrated_auc(y, y, lp, times, weighting="trapezoid") == pytest.approx(
        expected, rel=1e-12)


def test_integrated_auc_errors(lung_fit):
    y, lp, _ = lung_fit
    with pytest.raises(ValueError, match="at least two strictly increasing"):
        integrated_auc(y, y, lp, [365.0])
    with pytest.raises(ValueError, match="weighting"):
        integrated_auc(y, y, lp, [180.0, 365.0], weighting="uniform")

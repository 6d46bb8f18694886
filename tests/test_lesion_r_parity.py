"""Lesion-level models of strategies D and E held to R (``tests/r/lesions.R``).

Data: ``tests/r/lesions_data.csv`` (written by ``tests/r/lesions_data.py`` from
``simulate_cohort``; checked below to be what that function gives). The R calls are
named next to each assertion. Also checks the meaning of ``penalty`` (glmnet's scale, as
in CoxModel) and the one-release deprecation path of the former total-scale meaning.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
from rref import R_DIR, r_ref

from survrad.data.cohort import Cohort, Endpoint
from survrad.exceptions import SurvradDeprecationWarning
from survrad.lesions import LesionResponseAggregation, LesionRiskAggregation

_spec = importlib.util.spec_from_file_location("lesions_data", R_DIR / "lesions_data.py")
lesions_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lesions_data)
FEATURES = lesions_data.FEATURES


@pytest.fixture(scope="module")
def frame():
    return pd.read_csv(lesions_data.PATH, dtype={"patient_id": str, "lesion_id": str},
                       float_precision="round_trip")


@pytest.fixture(scope="module")
def cohort(frame):
    pat = frame.groupby("patient_id", sort=False)[["os_time", "os_event",
                                                   "objective_response"]].first()
    les = frame.drop(columns=["os_time", "os_event", "objective_response"])
    return Cohort(pat, les, lesion_features=tuple(FEATURES),
                  endpoints={"os": Endpoint("os", "survival", time="os_time", event="os_event"),
                             "response": Endpoint("response", "binary",
                                                  target="objective_response")})


def test_committed_data_is_the_documented_simulation(frame):
    pd.testing.assert_frame_equal(frame, lesions_data.make_frame(), check_dtype=False,
                                  check_exact=True)


def test_lesion_cox_ridge_matches_r_coxph_ridge(cohort):
    ref = r_ref("lesions", "cox_ridge")
    m = LesionRiskAggregation(penalty=ref["penalty"]).fit(cohort, "os")
    # coxph(Surv(os_time, os_event) ~ ridge(z1..z6, theta = 0.05 * sum(w), scale = FALSE),
    #       weights = w, ties = "efron")
    np.testing.assert_allclose(m.coef_.to_numpy(), ref["coef"], rtol=1e-7, atol=1e-9)
    assert m.n_patients_train_ == ref["n_patients"] == ref["sum_weights"]


def test_penalty_total_scale_is_deprecated_and_converts_exactly(cohort):
    """The former meaning (ridge on the total weighted log likelihood) is reachable for
    one release with penalty_scale="total" (warns) and equals penalty / n on the new scale."""
    n = cohort.n_patients
    with pytest.warns(SurvradDeprecationWarning, match="penalty_scale"):
        old = LesionRiskAggregation(penalty=6.0, penalty_scale="total").fit(cohort, "os")
    new = LesionRiskAggregation(penalty=6.0 / n).fit(cohort, "os")
    np.testing.assert_allclose(old.coef_, new.coef_, rtol=1e-12)
    assert old.penalty_ == pytest.approx(6.0 / n, rel=1e-15)
    with pytest.warns(SurvradDeprecationWarning):
        old_b = LesionRiskAggregation(penalty=6.0, penalty_scale="total").fit(cohort,
                                                                             "response")
    new_b = LesionRiskAggregation(penalty=6.0 / n).fit(cohort, "response")
    np.testing.assert_allclose(old_b.coef_, new_b.coef_, rtol=1e-10)
    with pytest.raises(ValueError, match="penalty_scale"):
        LesionRiskAggregation(penalty_scale="sum").fit(cohort, "os")


def test_lesion_cox_cluster_robust_matches_r(cohort):
    ref = r_ref("lesions", "cox_cluster")
    m = LesionRiskAggregation().fit(cohort, "os")
    # coxph(Surv(os_time, os_event) ~ z1 + ... + z6 + cluster(patient_id), weights = w)
    np.testing.assert_allclose(m.coef_.to_numpy(), ref["coef"], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(m.se_.to_numpy(), ref["robust_se"], rtol=1e-6)


@pytest.mark.parametrize("case, penalty", [("logistic_ridge", 0.05), ("logistic_weighted", 0.0)])
def test_lesion_logistic_matches_r(cohort, case, penalty):
    ref = r_ref("lesions", case)
    m = LesionRiskAggregation(penalty=penalty).fit(cohort, "response")
    # logistic_ridge: glmnet(z, objective_response, family = "binomial", weights = w,
    #                        alpha = 0, lambda = 0.05, standardize = FALSE, thresh = 1e-14)
    # logistic_weighted: glm(objective_response ~ z1..z6, quasibinomial, weights = w)
    np.testing.assert_allclose(m.coef_.to_numpy(), ref["coef"], rtol=1e-6, atol=1e-9)
    assert m.intercept_ == pytest.approx(ref["intercept"], rel=1e-6)


@pytest.mark.parametrize("case, penalty, rtol", [("response_adjusted", 0.0, 1e-6),
                                                 ("response_adjusted_ridge", 0.05, 1e-5)])
def test_adjusted_lesion_response_matches_r(cohort, case, penalty, rtol):
    """glmnet stops on its deviance criterion: on the ridge case its dose coefficient is
    5e-6 (relative) from ours, and our penalised objective is the lower one (by 9e-15)."""
    ref = r_ref("lesions", case)
    m = LesionResponseAggregation(l2_penalty=penalty).fit(cohort)
    assert m.treatment_ == ["irradiated", "rt_dose_gy"]           # adjust="auto"
    # response_adjusted: glm(lesion_response ~ z1..z6 + irradiated + rt_dose_gy, binomial)
    # response_adjusted_ridge: glmnet(cbind(z, irradiated, rt_dose_gy), lesion_response,
    #   "binomial", alpha = 0, lambda = 0.05 * 6 / 8, penalty.factor = c(1 x 6, 0, 0))
    np.testing.assert_allclose(m.coef_.to_numpy(), ref["coef"], rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(m.treatment_coef_.to_numpy(), ref["treatment_coef"],
                               rtol=rtol, atol=1e-9)
    assert m.intercept_ == pytest.approx(ref["intercept"], rel=rtol)

"""CoxModel against R's survival package (R 4.2.2, survival 3.5-3).

Values are read from ``tests/r/survival.json`` (written by ``tests/r/survival.R``); the R
call is written beside each assertion. Data: survrad's bundled exports of R's datasets
(survrad.datasets.load_dataset).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rref import r_ref

from survrad.data.outcome import Surv
from survrad.datasets import load_dataset
from survrad.models.cox import CoxModel, cox_zph


@pytest.fixture(scope="module")
def lung():
    d = load_dataset("lung")
    d = d.dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
    y = Surv.from_arrays(time=d["time"], event=(d["status"] == 2).astype(int))
    return d[["age", "sex", "ph.ecog"]], y


@pytest.mark.parametrize(("ties", "case"), [("efron", "lung_cox_efron"),
                                           ("breslow", "lung_cox_breslow")])
def test_lung_coxph(lung, ties, case):
    # lung <- survival::cancer; lung$event <- as.integer(lung$status == 2)
    # lc <- lung[complete.cases(lung[, c("time","event","age","sex","ph.ecog")]), ]
    # coxph(Surv(time, event) ~ age + sex + ph.ecog, data = lc, ties = ties):
    # coef, sqrt(diag(vcov)), summary()$conf.int, loglik, n, nevent
    ref = r_ref("survival", case)
    X, y = lung
    model = CoxModel(ties=ties).fit(X, y)
    s = model.summary().to_frame()
    assert model.converged_
    assert (model.n_, model.n_events_) == (ref["n"], ref["nevent"])
    np.testing.assert_allclose(s["coef"], ref["coef"], rtol=1e-5)
    np.testing.assert_allclose(s["se"], ref["se"], rtol=1e-4)
    np.testing.assert_allclose(s["hr"], np.exp(ref["coef"]), rtol=1e-5)
    np.testing.assert_allclose(s["hr_ci_low"], ref["hr_lower95"], rtol=1e-4)
    np.testing.assert_allclose(s["hr_ci_high"], ref["hr_upper95"], rtol=1e-4)
    assert model.loglik_ == pytest.approx(ref["loglik"], abs=1e-6)
    assert model.loglik_null_ == pytest.approx(ref["loglik_null"], abs=1e-6)


def test_lung_cox_zph_km(lung):
    # cox.zph(coxph(Surv(time, event) ~ age + sex + ph.ecog, lc), transform = "km",
    #         terms = FALSE)$table
    ref = r_ref("survival", "lung_cox_zph_km")
    X, y = lung
    model = CoxModel().fit(X, y)
    table = cox_zph(model, X, y, transform="km")
    assert list(table["term"]) == ref["rows"]
    # same algorithm as survival >= 3.0 (score test with the full 2p x 2p information):
    # agreement is to rounding, far inside the 2% the brief allows
    np.testing.assert_allclose(table["chisq"], ref["chisq"], rtol=1e-5)
    np.testing.assert_array_equal(table["df"], ref["df"])
    np.testing.assert_allclose(table["p"], ref["p"], rtol=1e-5)
    pd.testing.assert_frame_equal(model.ph_test(X, y).to_frame().reset_index(), table)


def test_retinopathy_cluster_robust_se():
    # coxph(Surv(futime, status) ~ trt + age + cluster(id), data = survival::retinopathy):
    # coef, sqrt(diag(fit$var)) (robust), sqrt(diag(fit$naive.var)), summary()$conf.int
    ref = r_ref("survival", "retinopathy_cox_cluster")
    d = load_dataset("retinopathy")
    y = Surv.from_arrays(time=d["futime"], event=d["status"])
    model = CoxModel().fit(d[["trt", "age"]], y, groups=d["id"])
    np.testing.assert_allclose(model.coef_, ref["coef"], rtol=1e-5)
    np.testing.assert_allclose(model.se_, ref["robust_se"], rtol=1e-4)
    np.testing.assert_allclose(model.naive_se_, ref["naive_se"], rtol=1e-4)
    s = model.summary().to_frame()   # R's summary() intervals use the robust SE
    np.testing.assert_allclose(s["hr_ci_low"], ref["hr_lower95"], rtol=1e-4)
    np.testing.assert_allclose(s["hr_ci_high"], ref["hr_upper95"], rtol=1e-4)
    assert model.loglik_ == pytest.approx(ref["loglik"], abs=1e-6)
    assert model.loglik_null_ == pytest.approx(ref["loglik_null"], abs=1e-6)


def test_veteran_factor_covariate():
    # coxph(Surv(time, status) ~ trt + karno + diagtime + age + prior + celltype,
    #       data = survival::veteran)          # celltype reference level "squamous"
    ref = r_ref("survival", "veteran_cox")
    d = load_dataset("veteran")
    X = d[["trt", "karno", "diagtime", "age", "prior"]].astype(float)
    for level in ["smallcell", "adeno", "large"]:          # reference: squamous
        X[f"celltype{level}"] = (d["celltype"] == level).astype(float)
    y = Surv.from_arrays(time=d["time"], event=d["status"])
    model = CoxModel().fit(X, y)
    assert list(model.summary().to_frame().index) == ref["terms"]
    np.testing.assert_allclose(model.coef_, ref["coef"], rtol=1e-5)
    np.testing.assert_allclose(model.se_, ref["se"], rtol=1e-4)
    assert model.loglik_ == pytest.approx(ref["loglik"], abs=1e-6)

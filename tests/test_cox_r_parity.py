"""CoxModel against R's survival package (R 4.2.2, survival 3.5-3).

Values copied from the project's R reference run (references.R -> r_survival.json);
the R call is written beside each block. Data: survrad's bundled exports of R's
datasets (survrad.datasets.load_dataset).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from survrad.data.outcome import Surv
from survrad.datasets import load_dataset
from survrad.models.cox import CoxModel, cox_zph

# lung <- survival::cancer; lung$event <- as.integer(lung$status == 2)
# lc <- lung[complete.cases(lung[, c("time","event","age","sex","ph.ecog")]), ]
# f_e <- coxph(Surv(time, event) ~ age + sex + ph.ecog, data = lc, ties = "efron")
LUNG_EFRON = {
    "coef": [0.01106676456007, -0.5526123957036, 0.4637284753704],
    "se": [0.009267411013701, 0.1677390537873, 0.113577266162],
    "hr_lower95": [0.9929280971699, 0.4142130185492, 1.272675177774],
    "hr_upper95": [1.029661962242, 0.7994351273871, 1.986423581288],
    "loglik_null": -744.48045576144, "loglik": -729.230121374862, "n": 227, "nevent": 164,
}
# f_b <- coxph(Surv(time, event) ~ age + sex + ph.ecog, data = lc, ties = "breslow")
LUNG_BRESLOW = {
    "coef": [0.01104113634949, -0.5518895697876, 0.4629470405902],
    "se": [0.009266770113536, 0.167742448021, 0.1135740520613],
    "hr_lower95": [0.9929038977523, 0.4145097731214, 1.271689064606],
    "hr_upper95": [1.02963428082, 0.8000185108753, 1.984859423446],
    "loglik_null": -744.692819266161, "loglik": -729.488705176774, "n": 227, "nevent": 164,
}
# cox.zph(f_e, transform = "km", terms = FALSE)$table
LUNG_ZPH_KM = {
    "rows": ["age", "sex", "ph.ecog", "GLOBAL"],
    "chisq": [0.1879876736523, 2.305437227405, 2.054248774054, 4.463657588759],
    "df": [1, 1, 1, 3],
    "p": [0.6645967631164, 0.128921998811, 0.1517820989081, 0.2155549453418],
}
# coxph(Surv(futime, status) ~ trt + age + cluster(id), data = survival::retinopathy)
RETINOPATHY_CLUSTER = {
    "coef": [-0.7821488707343, 0.00403433769033],
    "robust_se": [0.1483700911651, 0.006255914249007],
    "naive_se": [0.1689713354714, 0.005472353681712],
    "hr_lower95": [0.3419985075559, 0.9918067204586],
    "hr_upper95": [0.6118006188957, 1.016429203467],
    "loglik_null": -867.985809954034, "loglik": -856.532135063736,
}
# coxph(Surv(time, status) ~ trt + karno + diagtime + age + prior + celltype,
#       data = survival::veteran)          # celltype reference level "squamous"
VETERAN = {
    "terms": ["trt", "karno", "diagtime", "age", "prior", "celltypesmallcell",
              "celltypeadeno", "celltypelarge"],
    "coef": [0.2946028215077, -0.03281532619433, 8.132051304623e-05, -0.008706474945788,
             0.007159360189511, 0.8615604627548, 1.196066374178, 0.4012916543307],
    "se": [0.2075496036035, 0.005507756886462, 0.009136062247772, 0.009300299120315,
           0.02323053840673, 0.2752844740227, 0.3009169944931, 0.2826886382809],
    "loglik": -474.397111714723,
}


@pytest.fixture(scope="module")
def lung():
    d = load_dataset("lung")
    d = d.dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
    y = Surv.from_arrays(time=d["time"], event=(d["status"] == 2).astype(int))
    return d[["age", "sex", "ph.ecog"]], y


@pytest.mark.parametrize(("ties", "ref"), [("efron", LUNG_EFRON), ("breslow", LUNG_BRESLOW)])
def test_lung_coxph(lung, ties, ref):
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
    X, y = lung
    model = CoxModel().fit(X, y)
    table = cox_zph(model, X, y, transform="km")
    assert list(table["term"]) == LUNG_ZPH_KM["rows"]
    # same algorithm as survival >= 3.0 (score test with the full 2p x 2p information):
    # agreement is to rounding, far inside the 2% the brief allows
    np.testing.assert_allclose(table["chisq"], LUNG_ZPH_KM["chisq"], rtol=1e-5)
    np.testing.assert_array_equal(table["df"], LUNG_ZPH_KM["df"])
    np.testing.assert_allclose(table["p"], LUNG_ZPH_KM["p"], rtol=1e-5)
    pd.testing.assert_frame_equal(model.ph_test(X, y).to_frame().reset_index(), table)


def test_retinopathy_cluster_robust_se():
    d = load_dataset("retinopathy")
    y = Surv.from_arrays(time=d["futime"], event=d["status"])
    model = CoxModel().fit(d[["trt", "age"]], y, groups=d["id"])
    ref = RETINOPATHY_CLUSTER
    np.testing.assert_allclose(model.coef_, ref["coef"], rtol=1e-5)
    np.testing.assert_allclose(model.se_, ref["robust_se"], rtol=1e-4)
    np.testing.assert_allclose(model.naive_se_, ref["naive_se"], rtol=1e-4)
    s = model.summary().to_frame()   # R's summary() intervals use the robust SE
    np.testing.assert_allclose(s["hr_ci_low"], ref["hr_lower95"], rtol=1e-4)
    np.testing.assert_allclose(s["hr_ci_high"], ref["hr_upper95"], rtol=1e-4)
    assert model.loglik_ == pytest.approx(ref["loglik"], abs=1e-6)
    assert model.loglik_null_ == pytest.approx(ref["loglik_null"], abs=1e-6)


def test_veteran_factor_covariate():
    d = load_dataset("veteran")
    X = d[["trt", "karno", "diagtime", "age", "prior"]].astype(float)
    for level in ["smallcell", "adeno", "large"]:          # reference: squamous
        X[f"celltype{level}"] = (d["celltype"] == level).astype(float)
    y = Surv.from_arrays(time=d["time"], event=d["status"])
    model = CoxModel().fit(X, y)
    assert list(model.summary().to_frame().index) == VETERAN["terms"]
    np.testing.assert_allclose(model.coef_, VETERAN["coef"], rtol=1e-5)
    np.testing.assert_allclose(model.se_, VETERAN["se"], rtol=1e-4)
    assert model.loglik_ == pytest.approx(VETERAN["loglik"], abs=1e-6)

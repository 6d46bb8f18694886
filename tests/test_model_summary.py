"""Readable models: CoxModel / LogisticModel summaries, reprs and the PH test, held to R.

R values come from ``tests/r/models.R`` (``models.json``): ``summary(coxph(...))`` on
lung (unclustered and stratified) and retinopathy (clustered), ``summary(glm(...,
binomial))`` on lung, and ``cox.zph`` with the computations of ``plot(cox.zph)``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from rref import r_ref

import survrad as sr
from survrad.data.outcome import Surv
from survrad.exceptions import FitError, SurvradDeprecationWarning
from survrad.models import CoxModel, CoxSummary, LogisticModel, LogisticSummary, PHTest
from survrad.models.cox import cox_zph

RTOL = 1e-8     # R and survrad converge to the same maximum: agreement is ~1e-13


@pytest.fixture(scope="module")
def lung():
    d = sr.load_dataset("lung").dropna(subset=["ph.ecog"])      # R: na.omit, n = 227
    y = Surv.from_arrays(time=d["time"], event=d["status"] == 2)
    return d, y


@pytest.fixture(scope="module")
def lung_fit(lung):
    d, y = lung
    X = d[["age", "sex", "ph.ecog"]]
    return CoxModel().fit(X, y), X, y


@pytest.fixture(scope="module")
def retinopathy_fit():
    d = sr.load_dataset("retinopathy")
    y = Surv.from_arrays(time=d["futime"], event=d["status"])
    return CoxModel().fit(d[["trt", "age"]], y, groups=d["id"])


def assert_test(test, ref, statistic=None):
    np.testing.assert_allclose(test.statistic, ref["statistic"] if statistic is None
                               else statistic, rtol=RTOL)
    assert test.df == ref["df"]
    np.testing.assert_allclose(test.p, ref["p"], rtol=RTOL)


def assert_header(s: CoxSummary, ref: dict) -> None:
    assert (s.n, s.n_events) == (ref["n"], ref["nevent"])
    np.testing.assert_allclose([s.loglik_null, s.loglik], [ref["loglik_null"], ref["loglik"]],
                               rtol=RTOL)
    assert_test(s.likelihood_ratio_test, ref["logtest"])
    # R's summary() rounds the printed Wald statistic (29.93): held to fit$wald.test, and
    # to the printed digits
    assert_test(s.wald_test, ref["waldtest"], statistic=ref["wald_unrounded"])
    assert round(s.wald_test.statistic, 2) == ref["waldtest"]["statistic"]
    assert_test(s.score_test, ref["sctest"])
    np.testing.assert_allclose([s.concordance, s.concordance_se],
                               [ref["concordance"], ref["concordance_se"]], rtol=RTOL)


def assert_table(s: CoxSummary, ref: dict) -> None:
    t = s.to_frame()
    assert list(t.index) == ref["terms"] and t.index.name == "term"
    pairs = {"coef": "coef", "hr": "exp_coef", "se": "se", "z": "z", "p": "p",
             "hr_ci_low": "lower95", "hr_ci_high": "upper95"}
    if "robust_se" in ref:
        pairs["robust_se"] = "robust_se"
    for ours, theirs in pairs.items():
        np.testing.assert_allclose(t[ours], ref[theirs], rtol=RTOL, err_msg=ours)
    assert t["estimable"].all()


# ------------------------------------------------------------------------ Cox: R parity
def test_lung_summary_equals_r(lung_fit):
    # summary(coxph(Surv(time, status == 2) ~ age + sex + ph.ecog, lung))
    ref = r_ref("models", "lung_cox_summary")
    s = lung_fit[0].summary()
    assert_header(s, ref)
    assert_table(s, ref)
    assert s.robust_score_test is None and not s.robust and s.notes == ()
    assert "robust_se" not in s.to_frame().columns


def test_clustered_summary_equals_r(retinopathy_fit):
    # summary(coxph(Surv(futime, status) ~ trt + age, cluster = id, data = retinopathy))
    ref = r_ref("models", "retinopathy_cox_cluster_summary")
    s = retinopathy_fit.summary()
    assert_header(s, ref)              # Wald robust; C's se summed within patients
    assert_table(s, ref)               # se(coef) model-based, robust se, z/p/CI robust
    assert_test(s.robust_score_test, ref["robscore"])
    assert s.robust and s.n_clusters == 197
    assert any("independence of observations within a cluster" in n for n in s.notes)


def test_stratified_summary_equals_r(lung):
    # summary(coxph(Surv(time, status == 2) ~ age + ph.ecog + strata(sex), lung)):
    # the concordance compares patients within a stratum only
    d, y = lung
    s = CoxModel(strata="sex").fit(d[["age", "ph.ecog", "sex"]], y).summary()
    ref = r_ref("models", "lung_cox_strata_summary")
    assert_header(s, ref)
    assert_table(s, ref)
    assert s.strata == ("sex",)


# ------------------------------------------------------------------ Cox: the object
def test_summary_is_frozen_with_unrounded_frame_and_dict(lung_fit):
    s = lung_fit[0].summary()
    with pytest.raises(AttributeError):
        s.n = 3
    frame = s.to_frame()
    frame.loc["age", "coef"] = 99.0                       # a copy
    assert s.to_frame().loc["age", "coef"] != 99.0
    d = s.to_dict()
    assert d["tests"]["likelihood_ratio"]["df"] == 3 and d["tests"]["robust_score"] is None
    assert d["coefficients"]["sex"]["hr"] == pytest.approx(np.exp(lung_fit[0].coef_[1]))
    assert isinstance(d["coefficients"]["sex"]["estimable"], bool)


def test_summary_prints_like_r(lung_fit, retinopathy_fit):
    text = str(lung_fit[0].summary())
    for piece in ["n = 227, number of events = 164", "exp(coef)", "se(coef)", "Pr(>|z|)",
                  "exp(-coef)", "lower .95", "upper .95", "Concordance = 0.637 (se = 0.025)",
                  "Likelihood ratio test = 30.50 on 3 df, p = 1.08e-06",
                  "Wald test             = 29.93 on 3 df", "Score (logrank) test  = 30.50"]:
        assert piece in text, piece
    sex = next(line for line in text.splitlines() if line.startswith("sex "))
    assert sex.split()[:3] == ["sex", "-0.55261", "0.5754"]
    assert repr(lung_fit[0].summary()) == text
    robust = str(retinopathy_fit.summary())
    assert "robust se" in robust and "Robust score test     = 26.36 on 2 df" in robust
    html = lung_fit[0].summary()._repr_html_()
    assert "<table" in html and "Concordance = 0.637" in html


def test_fitted_repr_shows_model_statistics(lung_fit):
    model = lung_fit[0]
    text = repr(model)
    assert text.startswith("CoxModel()\n")
    assert "n = 227, number of events = 164" in text
    assert "LR test 30.50 on 3 df" in text and "concordance 0.637 (se 0.025)" in text
    assert repr(CoxModel(penalty=0.1)) == "CoxModel(penalty=0.1)"        # unfitted
    assert repr(sr.models.CohortPipeline(model=model)).count("\n") <= 2   # nested: short


def test_penalised_summary_has_no_tests(lung):
    d, y = lung
    model = CoxModel(penalty=0.05, l1_ratio=1.0).fit(d[["age", "sex", "ph.ecog"]], y)
    s = model.summary()
    assert s.likelihood_ratio_test is None and s.wald_test is None and s.score_test is None
    assert s.to_frame()[["se", "z", "p", "hr_ci_low", "hr_ci_high"]].isna().all().all()
    assert np.isfinite(s.concordance) and "post-selection" in s.notes[0]
    assert "lasso penalty 0.05" in str(s) and "LR test" not in repr(model)


def test_concordance_not_computed_for_weights_or_counting_rows(lung):
    d, y = lung
    X = d[["age", "sex", "ph.ecog"]]
    s = CoxModel().fit(X, y, sample_weight=np.full(len(X), 2.0)).summary()
    assert np.isnan(s.concordance) and "Concordance not computed" in s.notes[-1]
    assert "Concordance" not in str(s).split("Likelihood")[0].splitlines()[-2]
    start = np.zeros(len(X))
    counting = Surv.from_counting(start=start, stop=y["time"], event=y["event"])
    c = CoxModel().fit(X, counting).summary()
    assert np.isnan(c.concordance) and c.counting
    # the likelihood tests are the right-censored ones (every row enters at 0)
    np.testing.assert_allclose(c.score_test.statistic,
                               CoxModel().fit(X, y).summary().score_test.statistic, rtol=1e-10)


def test_non_estimable_term_is_left_out_of_the_wald_test():
    rng = np.random.default_rng(5)
    X = pd.DataFrame({"a": rng.normal(size=150), "b": rng.normal(size=150)})
    time = rng.exponential(np.exp(-0.5 * X["a"]))
    X["early"] = (time < np.quantile(time, 0.1)).astype(float)    # orders the events
    y = Surv.from_arrays(time=time, event=np.ones(150))
    with pytest.warns(sr.exceptions.ConvergenceWarning):
        s = CoxModel().fit(X, y).summary()
    assert s.wald_test.df == 2 and s.likelihood_ratio_test.df == 3
    assert any("Not estimable" in n and "early" in n for n in s.notes)


# -------------------------------------------------------------- backward compatibility
def test_old_dataframe_access_warns_and_gives_the_old_frame(retinopathy_fit):
    s = retinopathy_fit.summary()
    with pytest.warns(SurvradDeprecationWarning, match=r"\['coef'\].*\.to_frame\(\)"):
        coef = s["coef"]
    np.testing.assert_array_equal(coef, retinopathy_fit.coef_)
    with pytest.warns(SurvradDeprecationWarning):
        old = s.set_index("term")
    # the old frame's se is the one used for inference (robust here)
    np.testing.assert_allclose(old["se"], retinopathy_fit.se_)
    with pytest.warns(SurvradDeprecationWarning):
        assert list(s.columns) == ["term", "coef", "se", "hr", "hr_ci_low", "hr_ci_high",
                                   "z", "p", "estimable"]
    with pytest.raises(AttributeError):
        s.no_such_thing                                               # noqa: B018


def test_deprecation_points_at_the_caller(lung_fit):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lung_fit[0].summary()["term"]
    assert caught[0].filename == __file__


def test_logistic_old_access_keeps_the_old_intercept_rule(lung):
    d, _ = lung
    m = LogisticModel().fit(d[["age", "sex"]], (d["status"] == 2).astype(int))
    with pytest.warns(SurvradDeprecationWarning):
        assert list(m.summary()["term"]) == ["age", "sex"]
    with pytest.warns(SurvradDeprecationWarning):
        assert list(m.summary(intercept=True)["term"]) == ["intercept", "age", "sex"]


# -------------------------------------------------------------------- logistic vs glm
def test_logistic_summary_equals_r_glm(lung):
    # summary(glm(I(status == 2) ~ age + sex + ph.ecog, family = binomial, data = lung))
    d, _ = lung
    ref = r_ref("models", "lung_glm_summary")
    m = LogisticModel().fit(d[["age", "sex", "ph.ecog"]], (d["status"] == 2).astype(int))
    s = m.summary()
    assert isinstance(s, LogisticSummary)
    assert (s.n, s.n_events, s.df_null, s.df_residual) == (ref["n"], ref["nevent"],
                                                           ref["df_null"], ref["df_residual"])
    np.testing.assert_allclose([s.null_deviance, s.residual_deviance, s.aic, s.loglik],
                               [ref["null_deviance"], ref["deviance"], ref["aic"],
                                ref["loglik"]], rtol=RTOL)
    assert_test(s.likelihood_ratio_test, ref["lrtest"])
    t = s.to_frame()
    assert list(t.index) == ["intercept", "age", "sex", "ph.ecog"]
    np.testing.assert_allclose(t["coef"], ref["coef"], rtol=1e-10)
    # glm's SEs lag one IRLS step behind its coefficients (1e-6 at epsilon = 1e-8); the
    # refit to epsilon = 1e-14 gives the SEs at the maximum, which survrad reports
    np.testing.assert_allclose(t["se"], ref["se_epsilon_1e14"], rtol=RTOL)
    np.testing.assert_allclose(t["se"], ref["se"], rtol=1e-5)
    np.testing.assert_allclose(t["z"], ref["z"], rtol=1e-5)
    np.testing.assert_allclose(t["p"], ref["p"], rtol=1e-4)
    text = str(s)
    assert "Null deviance: 268.14  on 226  degrees of freedom" in text
    assert "Residual deviance: 240.71  on 223  degrees of freedom" in text
    assert "AIC: 248.71" in text
    assert "residual deviance 240.71 on 223 df, AIC 248.71" in repr(m)


def test_logistic_penalised_and_clustered_summaries():
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (rng.random(200) < 1 / (1 + np.exp(-X["a"]))).astype(int)
    pen = LogisticModel(penalty=0.1).fit(X, y).summary()
    assert pen.aic is None and pen.likelihood_ratio_test is None
    assert pen.to_frame()["p"].isna().all() and "AIC:" not in str(pen)
    clus = LogisticModel().fit(X, y, groups=np.arange(200) // 2).summary()
    assert clus.robust and clus.n_clusters == 100 and "Robust SE" in str(clus)
    assert clus.wald_test.df == 2


# -------------------------------------------------------------------------- PH test
def test_ph_test_residuals_equal_r_cox_zph(lung_fit):
    # z <- cox.zph(fit, transform = "km", terms = FALSE): z$table, z$time, z$x, z$y, z$var
    model, X, y = lung_fit
    ref = r_ref("models", "lung_cox_zph_residuals")
    ph = model.ph_test(X, y)
    assert isinstance(ph, PHTest) and ph.terms == ref["terms"]
    t = ph.to_frame()
    assert list(t.index) == [*ref["terms"], "GLOBAL"]
    np.testing.assert_allclose(t["chisq"], ref["chisq"], rtol=1e-8)
    np.testing.assert_allclose(t["p"], ref["p"], rtol=1e-8)
    np.testing.assert_array_equal(ph.time, ref["time"])
    np.testing.assert_allclose(ph.transformed_time, ref["x"], rtol=1e-12)
    np.testing.assert_allclose(ph.residuals.to_numpy(), np.array(ref["residuals"]).T,
                               rtol=1e-10)
    np.testing.assert_allclose(ph.variance.to_numpy(), np.array(ref["var"]), rtol=1e-10)
    assert ph.strata is None


def test_ph_test_smooth_equals_plot_cox_zph(lung_fit):
    # plot(cox.zph(fit)): lm on ns(x, df = 4, intercept = TRUE), 40 points, +/- 2 SE
    model, X, y = lung_fit
    ref = r_ref("models", "lung_cox_zph_residuals")["smooth"]
    ph = model.ph_test(X, y)
    for term in ph.terms:
        sm = ph.smooth(term)
        np.testing.assert_allclose(sm["transformed_time"], ref["x"], rtol=1e-12)
        for col in ("fit", "lower", "upper"):
            np.testing.assert_allclose(sm[col], ref[term][col], rtol=1e-9, err_msg=term)
    with pytest.raises(KeyError, match="no term 'bmi'"):
        ph.smooth("bmi")


def test_ph_test_stratified_equals_r(lung):
    # cox.zph(coxph(Surv(time, status == 2) ~ age + ph.ecog + strata(sex), lung))
    d, y = lung
    X = d[["age", "ph.ecog", "sex"]]
    ph = CoxModel(strata="sex").fit(X, y).ph_test(X, y)
    ref = r_ref("models", "lung_cox_strata_zph_residuals")
    np.testing.assert_allclose(ph.to_frame()["chisq"], ref["chisq"], rtol=1e-8)
    np.testing.assert_array_equal(ph.time, ref["time"])
    np.testing.assert_allclose(ph.residuals.to_numpy(), np.array(ref["residuals"]).T,
                               rtol=1e-10)
    assert [f"sex={s[0]}" for s in ph.strata] == ref["strata"]
    for term in ph.terms:
        np.testing.assert_allclose(ph.smooth(term)["fit"], ref["smooth"][term]["fit"],
                                   rtol=1e-9)


def test_ph_test_print_dict_and_old_access(lung_fit):
    model, X, y = lung_fit
    ph = model.ph_test(X, y)
    text = str(ph)
    assert "transform = 'km', 164 events" in text and "GLOBAL" in text
    assert ph.to_dict()["tests"]["GLOBAL"]["df"] == 3
    pd.testing.assert_frame_equal(cox_zph(model, X, y), ph.to_frame().reset_index())
    with pytest.warns(SurvradDeprecationWarning, match="ph_test"):
        assert list(ph["term"]) == ["age", "sex", "ph.ecog", "GLOBAL"]


def test_ph_test_refuses_penalised_models(lung):
    d, y = lung
    X = d[["age", "sex"]]
    with pytest.raises(FitError, match="unpenalised"):
        CoxModel(penalty=0.1).fit(X, y).ph_test(X, y)

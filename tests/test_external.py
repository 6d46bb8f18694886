"""External validation (issue 14): split, external_validate, LOCO, meta-analysis,
recalibration, ComBat's rule for unseen centres, and the named errors for bad input.

R references (tests/r/external.R): ``metafor::rma`` for the random-effects pooling and
``glm`` / ``coxph`` for calibration in the large and slope of a frozen model.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from rref import r_ref
from scipy import special

import survrad as sr
from survrad.data.split import group_values, split_by_group, split_cohort
from survrad.evaluation.concordance import concordance_index
from survrad.evaluation.external import EXTERNAL_SUMMARY_COLUMNS, external_validate
from survrad.evaluation.keys import MetricKey
from survrad.evaluation.loco import leave_one_center_out, random_effects_meta
from survrad.evaluation.recalibration import (
    calibration_statistics,
    observed_expected,
    recalibrate,
    recalibration_table,
)
from survrad.exceptions import SchemaError
from survrad.features.combat import ComBat
from survrad.lesions.statistics import FeatureStatistics

SIG = ["rad_sig_01", "rad_sig_02", "rad_sig_03"]
C = MetricKey("c_index")


@pytest.fixture(scope="module")
def five() -> sr.Cohort:
    return sr.simulate_cohort(n_patients=500, n_centers=5, random_state=3,
                              center_probabilities=[1, 1, 1, 1, 1], mean_lesions=3.0,
                              n_signal_features=3, n_volume_features=0, n_noise_features=2)


def _clinical() -> sr.CohortPipeline:
    return sr.CohortPipeline(patient_features=["age", "ecog", "pdl1"])


def _with_split(cohort: sr.Cohort, values: list[str]) -> sr.Cohort:
    p = cohort.patients.copy()
    p["split"] = values
    return dataclasses.replace(cohort, patients=p)


# ---------------------------------------------------------------------------- split
def test_split_cohort_by_split_column(five):
    values = ["train" if i % 3 else ("test" if i % 2 else "external")
              for i in range(five.n_patients)]
    train, test = split_cohort(_with_split(five, values))
    assert train.n_patients + test.n_patients == five.n_patients
    assert set(train.patients["split"]) == {"train"}
    assert set(test.patients["split"]) == {"test", "external"}
    assert train.lesions["patient_id"].isin(train.patient_ids).all()
    assert len(test.lesions) + len(train.lesions) == len(five.lesions)


def test_split_unknown_values_are_named(five):
    values = ["train"] * five.n_patients
    values[4], values[9] = "Train", "validation"
    with pytest.raises(SchemaError) as err:
        split_cohort(_with_split(five, values))
    e = err.value
    assert e.column == "split" and e.ids == [five.patient_ids[4], five.patient_ids[9]]
    assert set(e.values) == {"Train", "validation"} and "did you mean 'train'" in str(e)


def test_split_named_values_and_missing_column(five):
    values = ["dev" if i % 2 else "val" for i in range(five.n_patients)]
    train, _ = split_cohort(_with_split(five, values), train="dev", test="val")
    assert train.n_patients == five.n_patients // 2
    with pytest.raises(SchemaError, match="no such patient column") as err:
        split_cohort(five)
    assert err.value.column == "split"
    blank = _with_split(five, ["train"] * (five.n_patients - 1) + [None])
    with pytest.raises(SchemaError, match="missing") as err:
        split_cohort(blank)
    assert err.value.ids == [five.patient_ids[-1]]


def test_split_by_group(five):
    assert group_values(five) == ["C1", "C2", "C3", "C4", "C5"]
    train, test = split_by_group(five, "C2")
    assert set(test.patients["center"]) == {"C2"} and "C2" not in set(train.patients["center"])
    with pytest.raises(SchemaError, match="no patient has the value"):
        split_by_group(five, "C9")


# ----------------------------------------------------------------- external validate
@pytest.fixture(scope="module")
def ext(five):
    train, test = split_by_group(five, "C5")
    res = external_validate(_clinical(), train, test, "os", horizons=[6.0, 12.0], n_boot=100,
                            random_state=1)
    return train, test, res


def test_external_equals_the_frozen_model_scored_on_test(ext):
    train, test, res = ext
    fitted = _clinical().fit(train, "os")
    y, yt = train.y("os"), test.y("os")
    assert res.external[C] == concordance_index(
        yt["time"], yt["event"].astype(int), fitted.predict_risk(test).to_numpy())
    assert res.apparent[C] == concordance_index(
        y["time"], y["event"].astype(int), fitted.predict_risk(train).to_numpy())
    summary = res.summary()
    # exactly ValidationResult.summary()'s columns, then the external value
    assert list(summary.columns) == [*sr.evaluation.validation.SUMMARY_COLUMNS, "external"]
    assert list(summary.columns) == EXTERNAL_SUMMARY_COLUMNS
    assert list(summary["metric"]) == [k.name for k in res.metrics]
    assert list(summary["horizon"].fillna(0)) == [k.horizon or 0 for k in res.metrics]
    assert MetricKey("td_auc", 12.0) in res.metrics
    s = summary.set_index(["metric", "horizon"])
    assert (s["corrected"] == s["external"]).all()
    assert np.allclose(s["optimism"], s["apparent"] - s["external"])
    assert (s["ci_low"] <= s["external"]).all() and (s["external"] <= s["ci_high"]).all()
    assert s.loc[("c_index", np.nan), "n_failed"] == 0 and res.n_test == test.n_patients
    assert s.loc[("td_auc", 12.0), "external"] == res.external[MetricKey("td_auc", 12.0)]


def test_external_bootstrap_resamples_test_patients_only(ext):
    _, test, res = ext
    seeds = np.random.SeedSequence(1).spawn(100)
    pos = np.random.default_rng(seeds[7]).integers(0, test.n_patients, test.n_patients)
    fitted = res.fitted
    risk = fitted.predict_risk(test).to_numpy()[pos]
    y = test.y("os")[pos]
    assert res.records[7].test[C] == concordance_index(y["time"], y["event"].astype(int), risk)
    assert res.replicates.loc[7, "c_index"] == res.records[7].test[C]   # the table for people
    assert res.records[7].fit == {} and res.records[7].status == "ok"   # the model is frozen
    lo, hi = np.percentile(res.values(C), [2.5, 97.5])
    s = res.summary().set_index("metric").loc["c_index"]
    assert (s["ci_low"], s["ci_high"]) == (lo, hi)


def test_external_is_reproducible(ext):
    train, test, res = ext
    again = external_validate(_clinical(), train, test, "os", horizons=[6.0, 12.0],
                              n_boot=100, random_state=1)
    pd.testing.assert_frame_equal(again.summary(), res.summary())


def test_external_calibration_parts(ext):
    _, test, res = ext
    assert res.calibration is not None and res.calibration.n == test.n_patients
    oe = res.observed_expected
    assert oe["horizon"].tolist() == [6.0, 12.0]
    assert ((oe["oe_low"] < oe["oe_ratio"]) & (oe["oe_ratio"] < oe["oe_high"])).all()
    assert [c.horizon for c in res.smooth] == [6.0, 12.0]
    assert res.c_index_se is not None and 0 < res.c_index_se < 0.1
    assert res.failures == {}


def test_external_failures_are_typed_keys(five):
    # a horizon beyond the follow-up fails alone: (MetricKey, role) keys, no label strings
    train, test = split_by_group(five, "C5")
    res = external_validate(_clinical(), train, test, "os", metrics=["c_index", "td_auc"],
                            horizons=[12.0, 500.0], n_boot=20, random_state=0)
    late = MetricKey("td_auc", 500.0)
    assert set(res.failures) == {(late, "fit"), (late, "test"),
                                 (MetricKey("observed_expected"), "test"),
                                 (MetricKey("smooth_calibration", 500.0), "test")}
    assert "outside the follow-up" in res.failures[(late, "test")]
    assert np.isnan(res.external[late]) and np.isfinite(res.external[MetricKey("td_auc", 12.0)])
    assert all(r.failures.keys() == {(late, "test")} for r in res.records)
    assert [c.horizon for c in res.smooth] == [12.0]
    row = res.summary().set_index(["metric", "horizon"]).loc[("td_auc", 500.0)]
    assert row["n_failed"] == 20 and np.isnan(row["ci_low"])


# ----------------------------------------------------------------------- bad input
def test_test_set_with_a_feature_missing(five):
    train, test = split_by_group(five, "C5")
    p = test.patients.drop(columns=["pdl1"])
    broken = dataclasses.replace(test, patients=p, patient_features=("age", "ecog"))
    with pytest.raises(SchemaError) as err:
        external_validate(_clinical(), train, broken, "os", n_boot=20)
    assert err.value.column == "pdl1" and err.value.values == ["pdl1"]


def test_test_set_missing_a_lesion_feature(five):
    train, test = split_by_group(five, "C5")
    broken = dataclasses.replace(test, lesions=test.lesions.drop(columns=["rad_sig_02"]),
                                 lesion_features=("rad_sig_01", "rad_sig_03"))
    pipe = sr.CohortPipeline(strategy=FeatureStatistics(features=SIG), patient_features=())
    with pytest.raises(SchemaError) as err:
        external_validate(pipe, train, broken, "os", n_boot=20)
    assert err.value.column == "rad_sig_02" and "lesion column" in str(err.value)


def test_test_set_without_events(five):
    train, test = split_by_group(five, "C5")
    p = test.patients.copy()
    p["os_event"] = 0
    with pytest.raises(SchemaError, match="no event") as err:
        external_validate(_clinical(), train, dataclasses.replace(test, patients=p), "os",
                          n_boot=20)
    assert err.value.column == "os_event" and err.value.ids == list(test.patient_ids)


def test_center_only_in_test_with_combat(five):
    train, test = split_by_group(five, "C5")
    pipe = sr.CohortPipeline(strategy=FeatureStatistics(features=SIG),
                             features=[ComBat(batch_col="center")], patient_features=())
    with pytest.raises(SchemaError, match="unseen='reference'") as err:
        external_validate(pipe, train, test, "os", n_boot=20)
    assert err.value.column == "center" and err.value.ids == list(test.patient_ids)


def test_patients_in_both_sets(five):
    train, _ = split_by_group(five, "C5")
    with pytest.raises(SchemaError, match="one set only") as err:
        external_validate(_clinical(), train, train.subset(train.patient_ids[:30]), "os",
                          n_boot=20)
    assert err.value.ids == list(train.patient_ids[:30])


# ------------------------------------------------------------- ComBat unseen centres
def test_combat_reference_rule_for_a_new_batch():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    X["center"] = np.repeat(["A", "B", "C"], 20)
    new = pd.DataFrame(rng.normal(3.0, 2.5, size=(25, 4)), columns=list("abcd"))
    new["center"] = "D"
    step = ComBat(eb=False, unseen="reference").fit(X)
    out = step.transform(new)
    # without EB, the new batch's own mean and sd (ddof=1) are mapped to the training
    # reference: grand mean and pooled sd of the training rows
    assert np.allclose(out.mean(), step.grand_mean_)
    assert np.allclose(out.std(ddof=1), np.sqrt(step.var_pooled_))
    seen = step.transform(X)
    assert np.allclose(seen, ComBat(eb=False).fit(X).transform(X))   # seen rows unchanged
    mixed = step.transform(pd.concat([X.iloc[:5], new], ignore_index=True))
    assert np.allclose(mixed.iloc[5:].to_numpy(), out.to_numpy())
    with pytest.raises(SchemaError, match="single row") as err:
        step.transform(new.iloc[:1])
    assert err.value.column == "center"
    with pytest.raises(SchemaError, match="unseen='reference'"):
        ComBat(eb=False).fit(X).transform(new)


def test_external_with_combat_reference(five):
    train, test = split_by_group(five, "C5")
    pipe = sr.CohortPipeline(strategy=FeatureStatistics(features=SIG),
                             features=[ComBat(batch_col="center", unseen="reference")],
                             patient_features=())
    res = external_validate(pipe, train, test, "os", n_boot=50, random_state=0)
    assert 0.5 < res.external[C] < 0.9


# ------------------------------------------------------------------------------ LOCO
def test_loco_equals_a_hand_written_loop(five):
    res = leave_one_center_out(_clinical(), five, "os", n_boot=20, random_state=0)
    for center in ["C1", "C2", "C3", "C4", "C5"]:
        in_c = five.patients["center"].to_numpy() == center
        train = five.subset(five.patient_ids[~in_c])
        test = five.subset(five.patient_ids[in_c])
        fitted = _clinical().fit(train, "os")
        y = test.y("os")
        c, se = concordance_index(y["time"], y["event"].astype(int),
                                  fitted.predict_risk(test).to_numpy(), return_se=True)
        assert res.results[center].external[C] == c
        assert res.results[center].c_index_se == se
    per = res.per_center(C)
    assert per["center"].tolist() == ["C1", "C2", "C3", "C4", "C5"]
    summary = res.summary()
    assert list(summary.columns) == ["center", *EXTERNAL_SUMMARY_COLUMNS]
    assert summary["center"].unique().tolist() == ["C1", "C2", "C3", "C4", "C5"]
    for center in ["C1", "C2", "C3", "C4", "C5"]:
        pd.testing.assert_frame_equal(
            summary[summary["center"] == center].drop(columns="center").reset_index(drop=True),
            res.results[center].summary())
    m = res.meta
    est = special.logit(per["estimate"].to_numpy())
    se = per["se"].to_numpy() / (per["estimate"].to_numpy() * (1 - per["estimate"]).to_numpy())
    again = random_effects_meta(est, se, method="REML", scale="logit")
    assert m.estimate == again.estimate and m.k == 5
    assert m.pi_low_c <= m.ci_low_c <= m.estimate_c <= m.ci_high_c <= m.pi_high_c
    pooled = res.pooled()
    assert pooled[["metric", "k", "estimate"]].iloc[0].tolist() == ["c_index", 5, m.estimate_c]


# ------------------------------------------------------------- meta-analysis (R)
@pytest.mark.parametrize("case", ["five_dl", "five_reml", "five_reml_hk", "five_dl_hk",
                                  "homogeneous_reml", "bcg_reml", "bcg_dl_hk"])
def test_random_effects_meta_matches_metafor(case):
    ref = r_ref("external", case)
    # rma(yi, sei = sei, method = <method>, test = "z" | "knha"); PI: Riley 2011 (t_{k-2})
    m = random_effects_meta(ref["yi"], ref["sei"], method=ref["method"],
                            hartung_knapp=ref["hartung_knapp"])
    for key in ("estimate", "se", "ci_low", "ci_high", "q", "q_p", "pi_low", "pi_high"):
        assert getattr(m, key) == pytest.approx(ref[key], rel=1e-7, abs=1e-10), key
    assert m.tau2 == pytest.approx(ref["tau2"], rel=1e-6, abs=1e-12)
    assert m.i2 == pytest.approx(ref["i2"], rel=1e-6, abs=1e-9)


def test_meta_needs_two_estimates():
    with pytest.raises(ValueError, match="at least 2"):
        random_effects_meta([0.5], [0.1])
    two = random_effects_meta([0.5, 0.6], [0.1, 0.1])
    assert np.isnan(two.pi_low) and np.isnan(two.pi_high)


# ------------------------------------------------------------- recalibration (R)
@pytest.fixture(scope="module")
def lung():
    df = sr.load_dataset("lung")
    df = df.assign(event=(df["status"] == 2).astype(int))
    df = df.dropna(subset=["time", "event", "age", "sex", "ph.ecog"]).reset_index(drop=True)
    df.insert(0, "patient_id", [f"L{i:03d}" for i in range(len(df))])
    cohort = sr.read_cohort(df, patient_features=["age", "sex", "ph.ecog"],
                            endpoints={"os": ("time", "event"), "dead": "event"})
    ids = cohort.patient_ids
    return cohort.subset(ids[1::2]), cohort.subset(ids[0::2])   # dev even, val odd rows


def test_cox_calibration_matches_r(lung):
    dev, val = lung
    ref = r_ref("external", "cox_calibration")
    assert (dev.n_patients, val.n_patients) == (ref["n_dev"], ref["n_val"])
    fitted = sr.CohortPipeline().fit(dev, "os")
    st = calibration_statistics(fitted, val)
    # glm(event ~ offset(log(predict(fit, val, type = "expected"))), family = poisson)
    assert st.citl == pytest.approx(ref["citl"], rel=1e-8)
    assert st.citl_se == pytest.approx(ref["citl_se"], rel=1e-6)   # glm's IRLS stops at 1e-8
    assert st.expected == pytest.approx(ref["expected"], rel=1e-8)
    # coxph(Surv(time, event) ~ predict(fit, val, type = "lp"), data = val)
    assert st.slope == pytest.approx(ref["slope"], rel=1e-7)
    assert st.slope_se == pytest.approx(ref["slope_se"], rel=1e-7)


def test_cox_intercept_update_matches_r(lung):
    dev, val = lung
    ref = r_ref("external", "cox_intercept_update")
    fitted = sr.CohortPipeline().fit(dev, "os")
    new = recalibrate(fitted, val, "intercept")
    # summary(survfit(coxph(Surv(time, event) ~ offset(lp), data = val),
    #                 newdata = data.frame(lp = 0)), times = 365)$cumhaz
    bt, ch = new.model_.baseline_cumhaz_[None]
    assert ch[np.searchsorted(bt, 365.0, side="right") - 1] == pytest.approx(
        ref["cumhaz_365"], rel=1e-10)
    assert ref["cumhaz_365"] == pytest.approx(ref["cumhaz_365_by_hand"], rel=1e-12)
    surv = new.predict_survival_function(val.subset(val.patient_ids[:5]), [365.0])
    assert surv[365.0].to_numpy() == pytest.approx(ref["survival_365_first5"], rel=1e-8)
    assert np.array_equal(new.model_.coef_, fitted.model_.coef_)
    # Efron increments: sum_i H_i = O only approximately with tied times (Breslow: exactly)
    assert calibration_statistics(new, val).citl == pytest.approx(0.0, abs=0.01)
    assert not np.array_equal(fitted.model_.baseline_cumhaz_[None][1],
                              new.model_.baseline_cumhaz_[None][1])   # frozen one untouched


def test_logistic_calibration_matches_r(lung):
    dev, val = lung
    ref = r_ref("external", "logistic_calibration")
    fitted = sr.CohortPipeline(patient_features=["age", "sex"]).fit(dev, "dead")
    st = calibration_statistics(fitted, val)
    # glm(event ~ offset(logit), binomial) and glm(event ~ logit, binomial) on val
    assert st.citl == pytest.approx(ref["citl"], rel=1e-7)
    assert st.citl_se == pytest.approx(ref["citl_se"], rel=1e-6)   # glm's IRLS stops at 1e-8
    assert st.slope == pytest.approx(ref["slope"], rel=1e-6)
    assert st.slope_se == pytest.approx(ref["slope_se"], rel=1e-6)
    both = recalibrate(fitted, val, "intercept_slope")
    again = calibration_statistics(both, val)
    assert again.citl == pytest.approx(0.0, abs=1e-7)
    assert again.slope == pytest.approx(1.0, abs=1e-6)
    assert both.recalibration_["slope"] == pytest.approx(ref["slope"], rel=1e-6)


def test_recalibration_methods_and_table(lung):
    dev, val = lung
    fitted = sr.CohortPipeline().fit(dev, "os")
    refit = recalibrate(fitted, val, "refit")
    direct = sr.CohortPipeline().fit(val, "os")
    assert np.allclose(refit.model_.coef_, direct.model_.coef_)
    table = recalibration_table(fitted, val, [180.0, 365.0])
    assert table["method"].tolist() == ["none", "intercept", "intercept_slope", "refit"]
    assert abs(table.loc[0, "citl"]) > 0.2                     # frozen model: miscalibrated
    assert np.allclose(table.loc[1:, "citl"], 0.0, atol=0.01)  # updated on these data
    oe = observed_expected(fitted, val, [365.0])
    assert oe.loc[0, "oe_ratio"] == pytest.approx(oe.loc[0, "observed"] / oe.loc[0, "expected"])
    with pytest.raises(ValueError, match="method must be one of"):
        recalibrate(fitted, val, "slope")


def test_recalibration_refuses_a_forest(five):
    from survrad.exceptions import FitError

    fitted = sr.CohortPipeline(patient_features=["age", "ecog"],
                               model=sr.SurvivalForest(n_estimators=5, random_state=0)
                               ).fit(five, "os")
    with pytest.raises(FitError, match="forest"):
        recalibrate(fitted, five)

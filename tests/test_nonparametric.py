"""Kaplan-Meier, log-rank and RMST against R's survival (3.5-3) and independent oracles.

R values: ``tests/r/survival.json`` (written by ``tests/r/survival.R``), the R call beside
each assertion. lung: all 228 rows, event = status == 2, groups sex 1 (male) / 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rref import r_ref
from scipy import stats

from survrad.datasets import load_dataset
from survrad.evaluation import censoring_survival, kaplan_meier, logrank_test, rmst
from survrad.exceptions import SchemaError

# km <- survfit(Surv(time, event) ~ sex, data = lung, conf.type = "log")
# sm <- summary(km, times = c(100, 200, 365, 500, 730)): surv, lower, upper, n.risk per
# stratum; summary(km)$table[, c("median", "0.95LCL", "0.95UCL")]
KM = r_ref("survival", "lung_km_by_sex")
TIMES = sorted(set(KM["time"]))
# summary(survfit(Surv(time, event) ~ sex, lung), rmean = 730)$table[, c("rmean", "se(rmean)")]
RMST = r_ref("survival", "lung_rmst730_by_sex")


def r_km(sex: int) -> dict:
    """The rows of stratum ``sex=<sex>`` of the R summary, and its median and RMST."""
    rows = [i for i, s in enumerate(KM["strata"]) if s == f"sex={sex}"]
    out = {key: [KM[key][i] for i in rows] for key in ("surv", "lower95", "upper95", "n_risk")}
    k = sex - 1
    out["median"] = (KM["median"][k], KM["median_lower95"][k], KM["median_upper95"][k])
    out["rmst"] = (RMST["rmst"][k], RMST["se"][k])
    return out


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    d = load_dataset("lung")
    assert len(d) == 228
    return d


def _by_sex(lung, sex):
    d = lung[lung["sex"] == sex]
    return d["time"].to_numpy(float), (d["status"] == 2).to_numpy()


@pytest.mark.parametrize("sex", [1, 2])
def test_km_by_sex_matches_r(lung, sex):
    km = kaplan_meier(*_by_sex(lung, sex))
    sm = km.summary(TIMES)
    ref = r_km(sex)      # summary(survfit(...), times)[strata == sex]; $table medians
    np.testing.assert_allclose(sm["survival"], ref["surv"], rtol=1e-6)
    np.testing.assert_allclose(sm["lower"], ref["lower95"], rtol=1e-6)
    np.testing.assert_allclose(sm["upper"], ref["upper95"], rtol=1e-6)
    assert sm["n_risk"].tolist() == ref["n_risk"]
    med = km.median()
    assert (med.median, med.lower, med.upper) == ref["median"]


@pytest.mark.parametrize("sex", [1, 2])
def test_rmst_by_sex_matches_r(lung, sex):
    # summary(survfit(Surv(time, event) ~ sex, lung), rmean = 730)$table
    res = rmst(*_by_sex(lung, sex), tau=RMST["tau"])
    assert res.rmst == pytest.approx(r_km(sex)["rmst"][0], rel=1e-6)
    assert res.se == pytest.approx(r_km(sex)["rmst"][1], rel=1e-6)


def test_logrank_sex_matches_r(lung):
    # survdiff(Surv(time, event) ~ sex, data = lung)$chisq; 1 - pchisq(chisq, 1)
    ref = r_ref("survival", "lung_logrank_sex")
    res = logrank_test(lung["time"], (lung["status"] == 2).to_numpy(), lung["sex"])
    assert res.chisq == pytest.approx(ref["chisq"], rel=1e-6)
    assert res.p == pytest.approx(ref["p"], rel=1e-6)
    assert res.df == ref["df"]
    assert res.groups == (1, 2)
    assert res.observed.sum() == pytest.approx(res.expected.sum())
    # table(lung$sex)
    assert res.to_frame()["n"].tolist() == r_ref("survival", "lung_events_by_sex")["n"]


def test_logrank_three_groups_matches_sksurv():
    from sksurv.compare import compare_survival

    from survrad.data.outcome import Surv

    rng = np.random.default_rng(4)
    group = rng.choice(["a", "b", "c"], 150)
    time = np.floor(rng.exponential(np.where(group == "a", 5.0, 8.0))) + 1
    event = rng.random(150) < 0.75
    res = logrank_test(time, event, group)
    chisq, p = compare_survival(Surv.from_arrays(time=time, event=event), group)
    assert res.chisq == pytest.approx(chisq, rel=1e-9)
    assert res.p == pytest.approx(p, rel=1e-9)
    assert res.df == 2


def test_km_matches_lifelines_and_loglog_ci():
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(0)
    time = np.round(rng.exponential(10, 200))
    event = rng.random(200) < 0.7
    km = kaplan_meier(time, event, conf_type="log-log")
    fit = KaplanMeierFitter().fit(time, event)
    theirs = fit.survival_function_.iloc[:, 0]
    ci = fit.confidence_interval_survival_function_   # lifelines: log(-log) Greenwood CI
    on_grid = np.isin(theirs.index, km.time)
    np.testing.assert_allclose(theirs.to_numpy()[on_grid], km.survival, atol=1e-12)
    np.testing.assert_allclose(ci.iloc[:, 0].to_numpy()[on_grid], km.lower, atol=1e-12)
    np.testing.assert_allclose(ci.iloc[:, 1].to_numpy()[on_grid], km.upper, atol=1e-12)
    # survival is a non-increasing curve in [0, 1]; limits bracket it
    assert np.all(np.diff(km.survival) <= 0) and np.all((km.survival >= 0) & (km.survival <= 1))
    ok = ~np.isnan(km.lower)
    assert np.all(km.lower[ok] <= km.survival[ok]) and np.all(km.survival[ok] <= km.upper[ok])


def test_rmst_value_matches_lifelines():
    from lifelines import KaplanMeierFitter
    from lifelines.utils import restricted_mean_survival_time

    rng = np.random.default_rng(1)
    time = np.round(rng.exponential(10, 300), 1)
    event = rng.random(300) < 0.6
    fit = KaplanMeierFitter().fit(time, event)
    assert rmst(time, event, tau=12.5).rmst == pytest.approx(
        restricted_mean_survival_time(fit, t=12.5), rel=1e-10)


def test_plain_ci_and_small_example_by_hand():
    # S: 0.8 after t=5, 0.6 after 8, 0.3 after 12; Greenwood var(log S) at 8:
    # 1/(5*4) + 1/(4*3)
    km = kaplan_meier([5, 8, 8, 12, 20], [1, 1, 0, 1, 0], conf_type="plain")
    np.testing.assert_allclose(km.survival, [0.8, 0.6, 0.3, 0.3])
    se = 0.6 * np.sqrt(1 / 20 + 1 / 12)
    assert km.std_err[1] == pytest.approx(se)
    assert km.lower[1] == pytest.approx(0.6 - stats.norm.ppf(0.975) * se)
    assert km.n_risk.tolist() == [5, 4, 2, 1] and km.n_censor.tolist() == [0, 1, 0, 1]


def test_median_rules():
    # the curve sits exactly at 0.5 from t=2 to t=3: R takes the midpoint
    assert kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1]).median().median == 2.5
    # never reaches 0.5: NaN, not a made-up number
    assert np.isnan(kaplan_meier([1, 2, 3, 4], [1, 0, 0, 0]).median().median)


def test_survival_at_and_numbers_at_risk():
    km = kaplan_meier([1, 2, 3, 4], [1, 0, 1, 0])
    np.testing.assert_allclose(km.survival_at([0, 1, 2.5, 3, 4]), [1, 0.75, 0.75, 0.375,
                                                                   0.375])
    assert km.n_risk_at([0, 1, 1.5, 4, 10]).tolist() == [4, 4, 3, 1, 0]
    with pytest.raises(ValueError, match="beyond the last follow-up"):
        km.survival_at([5])
    # a curve that reached 0 is known to stay at 0
    assert kaplan_meier([1, 2], [1, 1]).survival_at([9.0]).tolist() == [0.0]
    sm = km.summary([0.5, 3])
    assert sm["n_event"].tolist() == [0, 2] and sm["survival"].tolist() == [1.0, 0.375]
    assert km.to_frame().shape == (4, 8)


def test_censoring_survival_tie_convention():
    # At t=1 one event and one censoring among 3 subjects: the censoring follows the
    # event, so its risk set is 3 - 1 = 2 and G(1) = 1 - 1/2 (R's fastkm.c; survfit on the
    # flipped status would give 1 - 1/3).
    assert censoring_survival([1, 1, 2], [1, 0, 1], [0.5, 1, 2]).tolist() == [1.0, 0.5, 0.5]
    assert censoring_survival([1, 1, 2], [1, 0, 1], [1, 2], left=True).tolist() == [1.0, 0.5]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: kaplan_meier([], []), "no observations"),
        (lambda: kaplan_meier([1, 2], [1, 2]), "1=censored/2=dead"),
        (lambda: kaplan_meier([1, 2], [1]), "differ in length"),
        (lambda: kaplan_meier([1, 2], [1, 0], conf_type="logit"), "conf_type must be one"),
        (lambda: rmst([1, 2, 3], [1, 1, 0], tau=5), "beyond the last follow-up"),
        (lambda: rmst([1, 2, 3], [1, 1, 0], tau=0), "positive"),
        (lambda: logrank_test([1, 2, 3], [1, 1, 0], [1, 1, 1]), "at least 2 groups"),
        (lambda: logrank_test([1, 2, 3], [1, 1, 0], [1, None, 2]), "group is missing"),
    ],
)
def test_bad_inputs_raise(call, match):
    with pytest.raises((ValueError, SchemaError), match=match):
        call()


def test_conf_level_is_a_deprecated_name_of_ci_level():
    from survrad.exceptions import SurvradDeprecationWarning

    time, event = [5, 8, 8, 12, 20], [1, 1, 0, 1, 0]
    new = kaplan_meier(time, event, ci_level=0.9)
    with pytest.warns(SurvradDeprecationWarning, match=r"kaplan_meier\(conf_level=\.\.\.\).*"
                                                       r"use ci_level="):
        old = kaplan_meier(time, event, conf_level=0.9)
    np.testing.assert_array_equal(old.lower, new.lower)
    assert old.ci_level == new.ci_level == 0.9
    with pytest.warns(SurvradDeprecationWarning, match=r"KaplanMeier\.conf_level"):
        assert new.conf_level == 0.9
    with pytest.warns(SurvradDeprecationWarning, match=r"MedianSurvival\.conf_level"):
        assert new.median().conf_level == 0.9

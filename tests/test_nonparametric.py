"""Kaplan-Meier, log-rank and RMST against R's survival (3.5-3) and independent oracles.

R values: shared/reference/references.R -> r_survival.json (copied here, the R call beside
each assertion). lung: all 228 rows, event = status == 2, groups sex 1 (male) / 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from survrad.datasets import load_dataset
from survrad.evaluation import censoring_survival, kaplan_meier, logrank_test, rmst
from survrad.exceptions import SchemaError

TIMES = [100, 200, 365, 500, 730]
# km <- survfit(Surv(time, event) ~ sex, data = lung, conf.type = "log")
# sm <- summary(km, times = c(100, 200, 365, 500, 730))
R_KM = {
    1: {"surv": [0.8260869565217, 0.6073072354172, 0.3360878346394, 0.2232116893343,
                 0.07812409126702],
        "lower": [0.7652075661852, 0.5308620061815, 0.2609005037897, 0.1568707133452,
                  0.03904373549716],
        "upper": [0.8918098694938, 0.6947607361148, 0.4329429454978, 0.3176084126413,
                  0.1563214574267],
        "n_risk": [114, 78, 35, 20, 7],
        # summary(km)$table[, c("median", "0.95LCL", "0.95UCL")]
        "median": (270, 212, 310),
        # summary(survfit(Surv(time, event) ~ sex, lung), rmean = 730)$table
        "rmst": (311.117765899007, 19.301718793631)},
    2: {"surv": [0.9220883534137, 0.7945934894877, 0.5264630301859, 0.4110461351067,
                 0.1872324979051],
        "lower": [0.8682946833224, 0.7141948117272, 0.4214863408291, 0.3049929219401,
                  0.09777018187844],
        "upper": [0.9792147157319, 0.8840428454099, 0.6575855379022, 0.5539765451321,
                  0.3585552118063],
        "n_risk": [82, 66, 30, 21, 6],
        "median": (426, 348, 550),
        "rmst": (434.705208026645, 27.247595321865)},
}


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
    ref = R_KM[sex]
    np.testing.assert_allclose(sm["survival"], ref["surv"], rtol=1e-6)
    np.testing.assert_allclose(sm["lower"], ref["lower"], rtol=1e-6)
    np.testing.assert_allclose(sm["upper"], ref["upper"], rtol=1e-6)
    assert sm["n_risk"].tolist() == ref["n_risk"]
    med = km.median()
    assert (med.median, med.lower, med.upper) == ref["median"]


@pytest.mark.parametrize("sex", [1, 2])
def test_rmst_by_sex_matches_r(lung, sex):
    res = rmst(*_by_sex(lung, sex), tau=730)
    assert res.rmst == pytest.approx(R_KM[sex]["rmst"][0], rel=1e-6)
    assert res.se == pytest.approx(R_KM[sex]["rmst"][1], rel=1e-6)


def test_logrank_sex_matches_r(lung):
    # survdiff(Surv(time, event) ~ sex, data = lung)$chisq == 10.326741954886;
    # 1 - pchisq(chisq, 1) == 0.001311164520356
    res = logrank_test(lung["time"], (lung["status"] == 2).to_numpy(), lung["sex"])
    assert res.chisq == pytest.approx(10.326741954886, rel=1e-6)
    assert res.p == pytest.approx(0.001311164520356, rel=1e-6)
    assert res.df == 1
    assert res.groups == (1, 2)
    assert res.observed.sum() == pytest.approx(res.expected.sum())
    assert res.to_frame()["n"].tolist() == [138, 90]


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
    assert km.lower[1] == pytest.approx(0.6 - 1.959963984540054 * se)
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

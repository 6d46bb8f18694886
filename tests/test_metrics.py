"""Metrics against riskRegression (R), scikit-survival, statsmodels and simulated truth.

R values: ``tests/r/survival.json`` (written by ``tests/r/survival.R``), case lung_score_km:
Score(list(cox = f_e), Surv(time, event) ~ 1, data = lc, times = c(180, 365, 540),
metrics = c("auc", "brier"), cens.model = "km", null.model = TRUE) with
f_e <- coxph(Surv(time, event) ~ age + sex + ph.ecog, lc, ties = "efron"), lc = lung
complete cases (227 rows), event = status == 2. In-sample.
"""

from __future__ import annotations

import numpy as np
import pytest
from rref import r_ref

from survrad.data.outcome import Surv
from survrad.datasets import load_dataset
from survrad.evaluation import (
    brier_binary,
    brier_score,
    calibration,
    calibration_slope_binary,
    calibration_slope_lp,
    integrated_brier_score,
    kaplan_meier,
    roc_auc,
    time_dependent_auc,
)
from survrad.exceptions import SchemaError

LUNG_COEF = np.array(r_ref("survival", "lung_cox_efron")["coef"])  # coef(f_e)
SCORE = r_ref("survival", "lung_score_km")
TIMES = np.array(SCORE["times"], dtype=float)
R_AUC = SCORE["auc"]                  # sc$AUC$score, model "cox"
R_BRIER = SCORE["brier"]              # sc$Brier$score, model "cox"
R_BRIER_NULL = SCORE["brier_null"]    # sc$Brier$score, "Null model" (Kaplan-Meier)


def efron_cumhaz(time, event, lp, at):
    """Breslow baseline cumulative hazard with Efron's tie adjustment (R's survfit.coxph
    and riskRegression::predictCox for an Efron fit), by plain loops."""
    risk = np.exp(lp)
    steps = []
    for s in np.unique(time[event]):
        at_risk = risk[time >= s].sum()
        dead = risk[(time == s) & event]
        d = dead.size
        steps.append((s, sum(1 / (at_risk - k / d * dead.sum()) for k in range(d))))
    times, inc = np.array(steps).T
    cum = np.cumsum(inc)
    return np.array([cum[times <= a][-1] if np.any(times <= a) else 0.0 for a in at])


@pytest.fixture(scope="module")
def lung_cox():
    d = load_dataset("lung").dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
    time = d["time"].to_numpy(float)
    event = (d["status"] == 2).to_numpy()
    lp = d[["age", "sex", "ph.ecog"]].to_numpy(float) @ LUNG_COEF
    surv = np.exp(-np.outer(np.exp(lp), efron_cumhaz(time, event, lp, TIMES)))
    return Surv.from_arrays(time=time, event=event), lp, surv


def test_time_dependent_auc_matches_riskregression(lung_cox):
    y, lp, _ = lung_cox
    # Score(list(cox = f_e), Surv(time, event) ~ 1, lc, times, metrics = "auc",
    #       cens.model = "km")$AUC$score
    np.testing.assert_allclose(time_dependent_auc(y, y, lp, TIMES), R_AUC, atol=1e-9)


def test_brier_matches_riskregression(lung_cox):
    y, _, surv = lung_cox
    # Score(list(cox = f_e), Surv(time, event) ~ 1, lc, times, metrics = "brier",
    #       cens.model = "km", null.model = TRUE)$Brier$score (models "cox", "Null model")
    np.testing.assert_allclose(brier_score(y, y, surv, TIMES), R_BRIER, atol=1e-9)
    km = kaplan_meier(y["time"], y["event"]).survival_at(TIMES)
    null = np.tile(km, (y.size, 1))
    np.testing.assert_allclose(brier_score(y, y, null, TIMES), R_BRIER_NULL, atol=1e-9)


def test_close_to_scikit_survival(lung_cox):
    # scikit-survival weights cases by G(T_i) instead of G(T_i-): ~1e-4 apart here.
    from sksurv.metrics import brier_score as sk_brier
    from sksurv.metrics import cumulative_dynamic_auc
    from sksurv.metrics import integrated_brier_score as sk_ibs

    y, lp, surv = lung_cox
    np.testing.assert_allclose(time_dependent_auc(y, y, lp, TIMES),
                               cumulative_dynamic_auc(y, y, lp, TIMES)[0], atol=5e-4)
    np.testing.assert_allclose(brier_score(y, y, surv, TIMES),
                               sk_brier(y, y, surv, TIMES)[1], atol=1e-4)
    assert integrated_brier_score(y, y, surv, TIMES) == pytest.approx(
        sk_ibs(y, y, surv, TIMES), abs=1e-4)


def test_integrated_brier_is_trapezoid_over_range(lung_cox):
    y, _, surv = lung_cox
    bs = brier_score(y, y, surv, TIMES)
    expected = (185 * (bs[0] + bs[1]) / 2 + 175 * (bs[1] + bs[2]) / 2) / 360
    assert integrated_brier_score(y, y, surv, TIMES) == pytest.approx(expected, rel=1e-12)


def test_perfect_and_reversed_rankings():
    y = Surv.from_arrays(time=np.arange(1.0, 11.0), event=np.ones(10))
    risk = -np.arange(1.0, 11.0)          # the earliest death has the highest risk
    assert time_dependent_auc(y, y, risk, [3.5, 7.5]).tolist() == [1.0, 1.0]
    assert time_dependent_auc(y, y, -risk, [3.5]).tolist() == [0.0]
    assert time_dependent_auc(y, y, np.zeros(10), [3.5]).tolist() == [0.5]


def test_external_training_data_changes_the_weights():
    rng = np.random.default_rng(2)
    t = rng.exponential(10, 300)
    c = rng.uniform(0, 20, 300)
    train = Surv.from_arrays(time=np.minimum(t, c), event=t <= c)
    test = Surv.from_arrays(time=np.minimum(t, c)[:100], event=(t <= c)[:100])
    risk = -t[:100] + rng.normal(0, 5, 100)
    own = time_dependent_auc(test, test, risk, [5.0])
    ext = time_dependent_auc(train, test, risk, [5.0])
    assert own != ext and abs(own[0] - ext[0]) < 0.05


@pytest.mark.parametrize(
    ("times", "match"),
    [
        ([1100.0], "outside the follow-up"),
        ([180.0, 2000.0], r"horizons \[2000.0\] are outside"),
        ([1.0], "before the first event"),
        ([-5.0], "positive"),
        ([np.nan], "positive finite"),
    ],
)
def test_auc_horizon_errors(lung_cox, times, match):
    y, lp, _ = lung_cox
    with pytest.raises(ValueError, match=match):
        time_dependent_auc(y, y, lp, times)


def test_brier_input_errors(lung_cox):
    y, _, surv = lung_cox
    with pytest.raises(ValueError, match="outside the follow-up"):
        brier_score(y, y, surv[:, :1], [5000.0])
    with pytest.raises(SchemaError, match="3 columns but there are 2 horizons"):
        brier_score(y, y, surv, TIMES[:2])
    with pytest.raises(SchemaError, match=r"must lie in \[0, 1\]"):
        brier_score(y, y, surv * 2, TIMES)
    with pytest.raises(SchemaError, match="must have 227 rows"):
        brier_score(y, y, surv[:10], TIMES)
    with pytest.raises(ValueError, match="two strictly increasing"):
        integrated_brier_score(y, y, surv[:, :1], TIMES[:1])
    short_train = Surv.from_arrays(time=[1.0, 2.0, 3.0], event=[1, 0, 0])   # G = 0 after t = 3
    with pytest.raises(ValueError, match="beyond the training follow-up"):
        brier_score(short_train, y, surv[:, :1], [180.0])


# --------------------------------------------------------------- calibration slope
def simulate(n, seed, censor=True):
    """Exponential PH data: hazard exp(lp), true S(t|x) = exp(-t exp(lp))."""
    rng = np.random.default_rng(seed)
    lp = rng.normal(0, 0.8, n)
    t = rng.exponential(np.exp(-lp))
    c = rng.exponential(2.0, n) if censor else np.full(n, np.inf)
    return Surv.from_arrays(time=np.minimum(t, c), event=t <= c), lp


def test_slope_lp_is_one_in_sample_for_the_cox_fit(lung_cox):
    # the Efron MLE's own linear predictor has Cox coefficient exactly 1
    y, lp, _ = lung_cox
    assert calibration_slope_lp(y, lp) == pytest.approx(1.0, abs=1e-6)


def test_slope_lp_matches_statsmodels_phreg():
    from statsmodels.duration.hazard_regression import PHReg

    y, lp = simulate(400, 1)
    x = lp + np.random.default_rng(0).normal(0, 0.5, 400)
    sm = PHReg(y["time"], x[:, None], status=y["event"].astype(float), ties="efron").fit()
    assert calibration_slope_lp(y, x) == pytest.approx(sm.params[0], abs=1e-6)


def test_slope_lp_known_truth():
    y, lp = simulate(3000, 2)
    assert calibration_slope_lp(y, lp) == pytest.approx(1.0, abs=0.08)
    assert calibration_slope_lp(y, 2 * lp) == pytest.approx(0.5, abs=0.04)
    with pytest.raises(ValueError, match="all equal"):
        calibration_slope_lp(y, np.zeros(3000))
    # a score that orders the event times perfectly has an infinite Cox coefficient
    ordered = Surv.from_arrays(time=np.arange(1.0, 41.0), event=np.ones(40))
    with pytest.raises(ValueError, match="did not converge"):
        calibration_slope_lp(ordered, -np.arange(40.0))


def test_calibration_known_truth():
    y, lp = simulate(3000, 3)
    horizon = 1.0
    true_s = np.exp(-horizon * np.exp(lp))
    cal = calibration(y, true_s, horizon, n_groups=5)
    assert cal.slope == pytest.approx(1.0, abs=0.1)
    assert cal.intercept == pytest.approx(0.0, abs=0.1)
    assert cal.group.tolist() == [1, 2, 3, 4, 5] and cal.n.sum() == 3000
    # low-risk groups first; observed KM close to the mean prediction in every group
    assert np.all(np.diff(cal.predicted) < 0)
    np.testing.assert_allclose(cal.observed, cal.predicted, atol=0.06)
    assert np.all(cal.observed_lower < cal.observed) and np.all(cal.observed < cal.observed_upper)
    assert list(cal.to_frame().columns) == ["group", "n", "predicted", "observed",
                                            "observed_lower", "observed_upper"]
    # linear predictor twice too large: slope 0.5
    assert calibration(y, np.exp(-horizon * np.exp(2 * lp)), horizon).slope == (
        pytest.approx(0.5, abs=0.06))
    # every cumulative hazard doubled: intercept -log 2
    assert calibration(y, true_s**2, horizon).intercept == pytest.approx(-np.log(2), abs=0.1)


def test_calibration_errors():
    y, lp = simulate(200, 4)
    s = np.exp(-np.exp(lp))
    with pytest.raises(ValueError, match="exactly 0 or 1"):
        calibration(y, np.where(lp > 1, 0.0, s), 1.0)
    with pytest.raises(ValueError, match="n_groups must be between"):
        calibration(y, s, 1.0, n_groups=0)
    with pytest.raises(ValueError, match=r"calibration group .* beyond the last follow-up"):
        calibration(y, s, float(np.sort(y["time"])[-2]) + 1e-9, n_groups=50)


# -------------------------------------------------------------------------- binary
def test_roc_auc_is_the_mann_whitney_probability():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 200)
    p = np.round(rng.random(200), 1) * 0.5 + 0.3 * y
    pos, neg = p[y == 1], p[y == 0]
    mw = (np.sum(pos[:, None] > neg) + 0.5 * np.sum(pos[:, None] == neg)) / (pos.size * neg.size)
    assert roc_auc(y, p) == pytest.approx(mw, abs=1e-12)


def test_brier_binary_formula():
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([0.1, 0.9, 0.4, 0.3, 1.0])
    assert brier_binary(y, p) == pytest.approx(np.mean((p - y) ** 2))


def test_calibration_slope_binary_known_truth():
    rng = np.random.default_rng(6)
    logit = rng.normal(0, 1.5, 20000)
    y = (rng.random(20000) < 1 / (1 + np.exp(-logit))).astype(int)
    assert calibration_slope_binary(y, 1 / (1 + np.exp(-logit))) == pytest.approx(1, abs=0.05)
    assert calibration_slope_binary(y, 1 / (1 + np.exp(-2 * logit))) == pytest.approx(
        0.5, abs=0.03)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: roc_auc([1, 1, 1], [0.2, 0.3, 0.4]), "single class"),
        (lambda: roc_auc([0, 1, 2], [0.2, 0.3, 0.4]), "coded 0/1"),
        (lambda: brier_binary([0, 1], [0.2, 1.3]), r"must lie in \[0, 1\]"),
        (lambda: brier_binary([0, 1], [0.2, np.nan]), "NaN or infinite"),
        (lambda: calibration_slope_binary([0, 1, 1], [0.2, 0.5, 1.0]), "strictly between"),
        (lambda: calibration_slope_binary([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]),
         "did not converge"),
        (lambda: calibration_slope_binary([0, 1, 1], [0.4, 0.4, 0.4]), "all equal"),
    ],
)
def test_binary_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_calibration_conf_level_is_a_deprecated_name_of_ci_level(lung_cox):
    from survrad.exceptions import SurvradDeprecationWarning

    y, _, surv = lung_cox
    new = calibration(y, surv[:, 1], TIMES[1], n_groups=3, ci_level=0.9)
    with pytest.warns(SurvradDeprecationWarning, match=r"calibration\(conf_level=\.\.\.\)"):
        old = calibration(y, surv[:, 1], TIMES[1], n_groups=3, conf_level=0.9)
    np.testing.assert_array_equal(old.observed_lower, new.observed_lower)
    assert old.ci_level == 0.9
    with pytest.warns(SurvradDeprecationWarning, match=r"SurvivalCalibration\.conf_level"):
        assert new.conf_level == 0.9

"""Smooth calibration (ICI, E50, E90, Emax) against R, lifelines and simulated truth.

R values: tests/r/metrics.R -> metrics.json. Survival: Austin, Harrell & van Klaveren
(Stat Med 2020) with ``coxph(Surv(time, event) ~ rcspline.eval(cll, nk = 3, inclx = TRUE))``
and ``1 - survfit(...)$surv`` at 365 days on the lung data, fed R's own predicted risks of
``coxph(Surv(time, event) ~ age + sex + ph.ecog)``; binary: ``glm`` on the rcs of
``logit(p)``. Knots and basis: ``Hmisc::rcspline.eval``.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import pytest
from rref import r_ref

import survrad as sr
from survrad._math.splines import rcs_basis, rcs_knots
from survrad.data.outcome import Surv
from survrad.datasets import load_dataset
from survrad.evaluation.smooth_calibration import (
    CalibrationOptimism,
    SmoothCalibration,
    optimism_corrected_calibration,
    smooth_calibration,
)
from survrad.exceptions import FitError, SchemaError


@pytest.fixture(scope="module")
def lung():
    d = load_dataset("lung").dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
    d = d.assign(event=(d["status"] == 2).astype(int))
    return d, Surv.from_arrays(time=d["time"].to_numpy(float), event=d["event"].to_numpy())


# ------------------------------------------------------------------------ the spline
@pytest.mark.parametrize("case", ["rcs_lung_age_3", "rcs_lung_age_5", "rcs_small_n_4",
                                  "rcs_tied_minimum_4", "rcs_tied_both_4"])
def test_rcs_knots_and_basis_match_hmisc(case):
    # Hmisc::rcspline.eval(x, nk = n_knots, knots.only = TRUE); rcspline.eval(at, knots,
    # inclx = TRUE)
    ref = r_ref("metrics", case)
    knots = rcs_knots(np.array(ref["values"]), ref["n_knots"])
    np.testing.assert_allclose(knots, ref["knots"], rtol=1e-12)
    np.testing.assert_allclose(rcs_basis(np.array(ref["at"]), knots), ref["basis"],
                               rtol=1e-10, atol=1e-12)


def test_rcs_is_linear_beyond_the_outer_knots():
    knots = np.array([0.0, 1.0, 2.5, 4.0])
    x = np.array([4.0, 5.0, 6.0, 7.0, -3.0, -2.0, -1.0])
    b = rcs_basis(x, knots)
    np.testing.assert_allclose(np.diff(b[:4], n=2, axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(b[4:, 1:], 0.0)


def test_rcs_knot_errors():
    with pytest.raises(ValueError, match="at least 6 values"):
        rcs_knots(np.arange(5.0), 3)
    with pytest.raises(ValueError, match="fewer than 3 distinct knots"):
        rcs_knots(np.repeat([0.0, 1.0, 2.0, 3.0], 10), 3)


# ------------------------------------------------------------------------ R parity
@pytest.mark.parametrize("case", ["lung_smooth_calibration_365",
                                  "lung_smooth_calibration_365_4knots"])
def test_survival_smooth_calibration_matches_r(lung, case):
    # coxph(Surv(time, event) ~ rcspline.eval(cll, knots, inclx = TRUE)); observed =
    # 1 - summary(survfit(cal, newdata), times = 365)$surv; ICI = mean |obs - pred| ...
    base = r_ref("metrics", "lung_smooth_calibration_365")
    ref = r_ref("metrics", case)
    _, y = lung
    cal = smooth_calibration(y, base["predicted"], horizon=365, n_knots=ref["n_knots"])
    np.testing.assert_allclose(cal.knots, ref["knots"], rtol=1e-10)
    np.testing.assert_allclose(cal.observed, ref["observed"], rtol=1e-6)
    np.testing.assert_allclose(cal.grid, ref["grid"], rtol=1e-12)
    np.testing.assert_allclose(cal.grid_observed, ref["grid_observed"], rtol=1e-6)
    for stat in ("ici", "e50", "e90", "emax"):
        assert getattr(cal, stat) == pytest.approx(ref[stat], rel=1e-6), stat


def test_binary_smooth_calibration_matches_r():
    # glm(dead365 ~ rcspline.eval(qlogis(p), nk = 4, inclx = TRUE), binomial)
    ref = r_ref("metrics", "lung_binary_smooth_calibration")
    d = load_dataset("lung").dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
    d = d[(d["time"] > 365) | (d["status"] == 2)]
    y = (d["time"] <= 365).astype(int).to_numpy()
    assert y.size == len(ref["predicted"])
    cal = smooth_calibration(y, ref["predicted"], n_knots=4)
    np.testing.assert_allclose(cal.knots, ref["knots"], rtol=1e-10)
    np.testing.assert_allclose(cal.observed, ref["observed"], rtol=1e-6)
    for stat in ("ici", "e50", "e90", "emax"):
        assert getattr(cal, stat) == pytest.approx(ref[stat], rel=1e-6), stat


def test_own_cox_predictions_give_rs_numbers(lung):
    # the whole chain: CoxModel fit -> predicted risk at 365 -> smooth calibration
    ref = r_ref("metrics", "lung_smooth_calibration_365")
    d, y = lung
    X = d[["age", "sex", "ph.ecog"]]
    risk = 1 - sr.CoxModel().fit(X, y).predict_survival_function(X, [365.0])[:, 0]
    np.testing.assert_allclose(risk, ref["predicted"], rtol=1e-7)
    assert smooth_calibration(y, risk, horizon=365).ici == pytest.approx(ref["ici"], rel=1e-6)


@pytest.mark.slow       # lifelines' spline survival model takes several seconds
def test_lifelines_uses_another_smoother(lung):
    # lifelines.calibration.survival_probability_calibration: a Royston-Parmar model with a
    # LINEAR effect of cloglog(risk) (and a spline in log time), not a spline in cloglog(risk).
    # On the lung data both find the in-sample Cox model well calibrated, with different
    # numbers (ICI 0.006 here, 0.024 from lifelines).
    import matplotlib.pyplot as plt
    from lifelines import CoxPHFitter
    from lifelines.calibration import survival_probability_calibration

    d, y = lung
    df = d[["time", "event", "age", "sex", "ph.ecog"]].astype(float)
    cph = CoxPHFitter().fit(df, "time", "event")
    fig = plt.figure()
    try:
        with contextlib.redirect_stdout(io.StringIO()):     # it prints ICI and E50
            _, ici_ll, e50_ll = survival_probability_calibration(cph, df, t0=365)
    finally:
        plt.close(fig)
        plt.close("all")
    risk = 1 - cph.predict_survival_function(df, times=[365.0]).to_numpy()[0]
    ours = smooth_calibration(y, risk, horizon=365)
    assert ours.ici < 0.01 and ici_ll < 0.03
    assert abs(ours.ici - ici_ll) > 0.01          # different smoothers, different numbers
    assert ours.e50 < 0.01 and e50_ll < 0.03


# -------------------------------------------------------------------- known truth
def test_known_truth_calibrated_and_miscalibrated():
    # exponential survival, hazard exp(lp); true risk by t = 1 is 1 - exp(-exp(lp))
    rng = np.random.default_rng(1)
    n = 10_000
    lp = rng.normal(size=n)
    t = rng.exponential(np.exp(-lp))
    c = rng.uniform(0.5, 3.0, n)
    y = Surv.from_arrays(time=np.minimum(t, c), event=t <= c)
    truth = 1 - np.exp(-np.exp(lp))
    good = smooth_calibration(y, truth, horizon=1.0)
    assert good.ici < 0.01
    # predictions with twice the true cumulative hazard: ICI ~ mean |p - truth|
    doubled = 1 - np.exp(-2 * np.exp(lp))
    bad = smooth_calibration(y, doubled, horizon=1.0)
    assert bad.ici == pytest.approx(np.mean(doubled - truth), abs=0.01)
    assert bad.emax >= bad.e90 >= bad.e50 > good.e50


def test_binary_known_truth():
    rng = np.random.default_rng(7)
    p = rng.uniform(0.02, 0.98, 5000)
    y = (rng.random(5000) < p).astype(int)
    assert smooth_calibration(y, p).ici < 0.015
    shrunk = 0.5 * p + 0.25            # predictions pulled towards 0.5
    assert smooth_calibration(y, shrunk).ici == pytest.approx(np.mean(np.abs(shrunk - p)),
                                                              abs=0.015)


# ------------------------------------------------------------------------ behaviour
def test_result_frames(lung):
    ref = r_ref("metrics", "lung_smooth_calibration_365")
    _, y = lung
    cal = smooth_calibration(y, ref["predicted"], horizon=365, n_grid=30)
    assert isinstance(cal, SmoothCalibration) and cal.horizon == 365.0
    assert cal.to_frame().shape == (30, 2)
    pf = cal.patient_frame()
    assert pf["difference"].abs().mean() == pytest.approx(cal.ici, rel=1e-14)
    assert cal.summary() == {"ici": cal.ici, "e50": cal.e50, "e90": cal.e90, "emax": cal.emax}


def test_errors(lung):
    _, y = lung
    ref = r_ref("metrics", "lung_smooth_calibration_365")
    risk = np.array(ref["predicted"])
    with pytest.raises(ValueError, match="give the horizon"):
        smooth_calibration(y, risk)
    with pytest.raises(ValueError, match="beyond the last follow-up"):
        smooth_calibration(y, risk, horizon=5000)
    with pytest.raises(SchemaError, match=r"in \[0, 1\]"):
        smooth_calibration(y, np.where(np.arange(risk.size) == 3, 1.2, risk), horizon=365)
    # a risk of exactly 1 (survival underflow) enters the smoother clipped, no error
    edge = smooth_calibration(y, np.where(np.arange(risk.size) == 3, 1.0, risk), horizon=365)
    assert edge.predicted[3] == 1.0 and np.isfinite(edge.ici)
    with pytest.raises(SchemaError, match="one risk per patient"):
        smooth_calibration(y, risk[:-1], horizon=365)
    with pytest.raises(ValueError, match="same"):
        smooth_calibration(y, np.full(risk.size, 0.4), horizon=365)
    few = Surv.from_arrays(time=np.arange(1.0, 41.0), event=np.r_[np.ones(8), np.zeros(32)])
    with pytest.raises(FitError):           # 8 events for 2 spline columns: EPV < 10
        smooth_calibration(few, np.linspace(0.1, 0.9, 40), horizon=20.0)


def test_optimism_corrected_calibration_records_failures_and_warnings():
    cohort = sr.simulate_cohort(n_patients=120, random_state=3)
    pipe = sr.CohortPipeline(model=sr.CoxModel(), patient_features=["age", "ecog", "pdl1"])
    res = optimism_corrected_calibration(pipe, cohort, "os", horizon=12.0, n_bootstrap=4,
                                         random_state=5)
    assert isinstance(res, CalibrationOptimism)
    frame = res.to_frame()
    assert list(frame["statistic"]) == ["ici", "e50", "e90", "emax"]
    np.testing.assert_allclose(frame["corrected"], frame["apparent"] - frame["optimism"])
    ok = res.replicates[res.replicates["status"] == "ok"]
    assert res.optimism()["ici"] == pytest.approx(
        float((ok["ici__boot"] - ok["ici__orig"]).mean()))
    again = optimism_corrected_calibration(pipe, cohort, "os", horizon=12.0, n_bootstrap=4,
                                           random_state=5)
    pd.testing.assert_frame_equal(res.replicates, again.replicates)
    # a horizon beyond every resample's follow-up fails each replicate, never raises
    late = cohort.y("os")["time"].max() * 0.999
    res = optimism_corrected_calibration(pipe, cohort, "os", horizon=late, n_bootstrap=3,
                                         random_state=1)
    assert res.n_failed >= 1
    assert res.replicates.loc[res.replicates["status"] == "failed", "reason"].str.contains(
        "beyond the last follow-up").all()

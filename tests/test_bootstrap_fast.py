"""The bootstrap's fast path (array-only Cox pipelines) against the general path.

Same seeds -> the same replicates, failures and warnings whichever path runs; the
compiled Cox and calibration-slope kernels are held to ``cox_fit`` / ``CoxModel``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_bootstrap import lung_cohort

import survrad as sr
import survrad.evaluation.bootstrap as bootstrap
from survrad._math.cox_presorted import (
    cox_fit_presorted,
    cox_slope,
    resample_order,
    risk_set_order,
)
from survrad._math.coxph import cox_fit
from survrad.evaluation.bootstrap import bootstrap_validate, compare_pipelines
from survrad.models import CohortPipeline, CoxModel

METRICS = ["c_index", "calibration_slope"]


@pytest.fixture(scope="module")
def lung() -> sr.Cohort:
    return lung_cohort()


def _tied_cohort(n: int = 300, p: int = 6, seed: int = 0, rare: bool = False) -> sr.Cohort:
    """Times rounded to whole units (many tied deaths: Efron matters)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    t = np.ceil(rng.exponential(np.exp(-x @ np.linspace(0.6, -0.4, p))) * 8)
    c = np.ceil(rng.exponential(1.5, n) * 8)
    df = pd.DataFrame(x, columns=[f"f{j}" for j in range(p)])
    if rare:        # a binary feature with 4 ones: constant in many resamples
        df["rare"] = 0.0
        df.loc[:3, "rare"] = 1.0
    df.insert(0, "patient_id", [f"P{i:04d}" for i in range(n)])
    df["time"], df["event"] = np.minimum(t, c), (t <= c).astype(int)
    return sr.read_cohort(df, patient_features=[c for c in df.columns if c[0] in "fr"],
                          endpoints={"os": ("time", "event")})


def _both_paths(monkeypatch, run):
    """``run()`` with the fast path, then with the general path; counts fast replicates."""
    calls = []
    original = bootstrap._FastReplicate.__call__

    def spy(self, *args):
        calls.append(1)
        return original(self, *args)

    monkeypatch.setattr(bootstrap._FastReplicate, "__call__", spy)
    fast = run()
    monkeypatch.setattr(bootstrap, "FAST_PATH", False)
    general = run()
    monkeypatch.setattr(bootstrap, "FAST_PATH", True)
    return fast, general, len(calls)


def _assert_same(fast: pd.DataFrame, general: pd.DataFrame) -> None:
    """C exactly, slopes to 1e-12; everything else (status, reasons, seeds) equal."""
    assert list(fast.columns) == list(general.columns)
    num = fast.select_dtypes("number").columns
    pd.testing.assert_frame_equal(fast.drop(columns=num), general.drop(columns=num))
    for col in num:
        a, b = fast[col].to_numpy(float), general[col].to_numpy(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), col
        tol = 0.0 if "c_index" in str(col) else 1e-12
        np.testing.assert_allclose(a, b, rtol=0, atol=tol, err_msg=str(col))


def test_fast_path_equals_general_path_on_lung(lung, monkeypatch) -> None:
    pipe = CohortPipeline(model=CoxModel())
    fast, general, n_fast = _both_paths(monkeypatch, lambda: bootstrap_validate(
        pipe, lung, "os", n_boot=40, metrics=METRICS, random_state=12, progress=False))
    assert n_fast == 40
    _assert_same(fast.replicates, general.replicates)
    s_f, s_g = fast.summary(), general.summary()
    np.testing.assert_allclose(s_f[["apparent", "optimism", "corrected", "ci_low",
                                    "ci_high"]].to_numpy(float),
                               s_g[["apparent", "optimism", "corrected", "ci_low",
                                    "ci_high"]].to_numpy(float), rtol=0, atol=1e-12)


@pytest.mark.parametrize("ties", [None, "breslow"])
def test_fast_path_equals_general_path_with_tied_deaths(ties, monkeypatch) -> None:
    cohort = _tied_cohort()
    pipe = CohortPipeline(model=CoxModel(ties=ties, tol=1e-10))
    fast, general, n_fast = _both_paths(monkeypatch, lambda: bootstrap_validate(
        pipe, cohort, "os", n_boot=25, random_state=3, progress=False))
    assert n_fast == 25 and [m.name for m in fast.metrics] == METRICS
    _assert_same(fast.replicates, general.replicates)


def test_declined_replicates_record_failures_as_the_general_path(monkeypatch) -> None:
    """A rare binary feature is constant in some resamples (a FitError there): those
    replicates take the general path, which records the failure; the others are fast;
    together they equal a general-path run."""
    cohort = _tied_cohort(n=200, p=2, seed=4, rare=True)
    pipe = CohortPipeline(model=CoxModel())
    kw = dict(n_boot=30, metrics=METRICS, random_state=1, progress=False, max_failed=1.0)
    fast, general, n_fast = _both_paths(monkeypatch, lambda: bootstrap_validate(
        pipe, cohort, "os", **kw))
    rep = fast.replicates
    failed = rep["status"] == "failed"
    assert failed.any() and (~failed).any() and n_fast == 30
    assert rep.loc[failed, "reason"].str.contains("constant").all()
    _assert_same(rep, general.replicates)


def test_replicates_that_warn_take_the_general_path(monkeypatch) -> None:
    """Fewer than 10 events per variable warns in CoxModel.fit: recorded per replicate."""
    with pytest.warns(sr.exceptions.StatisticalWarning, match="events per variable"):
        cohort = _tied_cohort(n=100, p=7, seed=4)
    pipe = CohortPipeline(model=CoxModel(min_epv=0))
    kw = dict(n_boot=10, metrics=METRICS, random_state=1, progress=False, max_failed=1.0)
    with pytest.warns(sr.exceptions.StatisticalWarning):
        fast, general, _ = _both_paths(monkeypatch, lambda: bootstrap_validate(
            pipe, cohort, "os", **kw))
    rep = fast.replicates
    assert rep["warnings"].str.contains("events per variable").all()
    _assert_same(rep, general.replicates)


def test_compare_pipelines_fast_equals_general(lung, monkeypatch) -> None:
    pipes = {"full": CohortPipeline(model=CoxModel()),
             "age_sex": CohortPipeline(model=CoxModel(), patient_features=["age", "sex"])}
    fast, general, n_fast = _both_paths(monkeypatch, lambda: compare_pipelines(
        pipes, lung, "os", n_boot=15, metrics=METRICS, random_state=5, progress=False))
    assert n_fast == 15
    for name in pipes:
        _assert_same(fast.results[name].replicates, general.results[name].replicates)


def test_pipelines_outside_the_fast_path_take_the_general_path(lung, monkeypatch) -> None:
    called = []
    monkeypatch.setattr(bootstrap._FastReplicate, "__call__",
                        lambda self, *a: called.append(1))
    for pipe, kw in [(CohortPipeline(model=CoxModel(penalty=0.1)), {}),
                     (CohortPipeline(model=CoxModel()), {"metrics": ["c_index", "uno_c"]}),
                     (CohortPipeline(model=CoxModel()), {"method": ".632+"}),
                     (CohortPipeline(formula="age + sex"), {})]:
        kw = {"metrics": METRICS, **kw}
        with pytest.warns(sr.exceptions.StatisticalWarning, match="n_boot=2"):
            bootstrap_validate(pipe, lung, "os", n_boot=2, random_state=0, progress=False,
                               **kw)
    assert called == []


@pytest.mark.slow      # starts joblib's worker processes
def test_fast_path_same_numbers_whatever_n_jobs(lung, monkeypatch) -> None:
    monkeypatch.setattr(bootstrap, "SERIAL_BELOW_SECONDS", 0.0)   # use the workers
    pipe = CohortPipeline(model=CoxModel())
    kw = dict(n_boot=10, metrics=METRICS, random_state=21, progress=False)
    serial = bootstrap_validate(pipe, lung, "os", n_jobs=1, **kw)
    parallel = bootstrap_validate(pipe, lung, "os", n_jobs=2, **kw)
    pd.testing.assert_frame_equal(serial.replicates, parallel.replicates)


# ------------------------------------------------------------------------ kernels
@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("p", [1, 5])
def test_presorted_cox_fit_equals_cox_fit(ties, p) -> None:
    rng = np.random.default_rng(p)
    x = rng.normal(size=(400, p))
    t = np.ceil(rng.exponential(np.exp(-x @ np.linspace(0.5, -0.5, p))) * 6)
    e = rng.random(400) < 0.7
    ref = cox_fit(x, t, e, ties=ties)
    o = risk_set_order(t, e)
    coef, ok = cox_fit_presorted(x[o], t[o], e[o], ties=ties)
    assert ok and ref.converged
    np.testing.assert_allclose(coef, ref.coef, rtol=0, atol=1e-12)


def test_presorted_cox_fit_reports_divergence_like_cox_fit() -> None:
    t = np.arange(1.0, 21.0)
    e = np.ones(20, bool)
    x = (t < 10).astype(float)[:, None]       # perfectly separates early from late deaths
    assert not cox_fit(x, t, e).converged
    o = risk_set_order(t, e)
    assert not cox_fit_presorted(x[o], t[o], e[o])[1]


def test_resample_order_is_the_risk_set_order_of_the_resample() -> None:
    rng = np.random.default_rng(0)
    t = np.ceil(rng.exponential(size=200) * 5)
    e = rng.random(200) < 0.6
    order = risk_set_order(t, e)
    pos = rng.integers(0, 200, 200)
    rows = resample_order(order, pos)
    assert sorted(rows.tolist()) == sorted(pos.tolist())
    ref = pos[risk_set_order(t[pos], e[pos])]
    np.testing.assert_array_equal(t[rows], t[ref])
    np.testing.assert_array_equal(e[rows], e[ref])


def test_calibration_slope_kernel_is_the_cox_model_of_the_outcome_on_lp(lung) -> None:
    # held to CoxModel on the same data: coxph(Surv(time, status) ~ lp) in R
    y = lung.y("os")
    lp = CohortPipeline(model=CoxModel()).fit(lung, "os").predict_risk(lung).to_numpy()
    for scale in (1.0, 0.6, 1.7):
        ref = CoxModel().fit(pd.DataFrame({"lp": scale * lp}), y).coef_[0]
        assert cox_slope(y["time"], y["event"], scale * lp) == pytest.approx(ref, abs=1e-10)
    assert cox_slope(y["time"], y["event"], lp) == pytest.approx(1.0, abs=1e-8)


def test_calibration_slope_kernel_fails_as_cox_fit_does() -> None:
    t = np.arange(1.0, 11.0)
    with pytest.raises(ValueError, match="no events"):
        cox_slope(t, np.zeros(10), t)
    with pytest.raises(ValueError, match="all equal"):
        cox_slope(t, np.ones(10), np.ones(10))
    with pytest.raises(ValueError, match="did not converge"):
        cox_slope(t, np.ones(10), -t)        # the lp orders every death: infinite slope


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_standardised_resample_is_the_models_scale_and_screen_bit_for_bit(seed) -> None:
    from survrad._math.cox_presorted import standardised_resample
    from survrad.models._checks import constant_columns
    from survrad.models.cox import _scale

    rng = np.random.default_rng(seed)
    x = rng.normal(loc=3.0, scale=[1e-9, 1.0, 50.0], size=(300, 3))   # 0: nearly constant
    positions = rng.integers(0, 300, 300)
    rows = np.sort(positions)
    mean, sd, constant, xs = standardised_resample(x, positions, rows)
    ref_mean, ref_sd = _scale(x[positions], None)
    assert np.array_equal(mean, ref_mean) and np.array_equal(sd, ref_sd)
    assert not constant and not constant_columns(x[positions], range(3))
    assert np.array_equal(xs, (x[rows] - ref_mean) / ref_sd)
    x[:, 1] = 7.0                                         # now truly constant
    assert standardised_resample(x, positions, rows)[2]
    assert constant_columns(x[positions], range(3)) == ["1"]


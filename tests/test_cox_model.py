"""CoxModel: known truth, external oracles (lifelines, scikit-survival), bad input, contract."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from survrad.data.outcome import Surv
from survrad.datasets import load_dataset
from survrad.exceptions import (
    ConvergenceWarning,
    FitError,
    NotFittedError,
    SchemaError,
    StatisticalWarning,
)
from survrad.models import CoxModel
from survrad.models.cox import _folds, select_penalty


def simulate(n=300, beta=(0.7, -0.5, 0.3), seed=0, censor=0.3, ties=False):
    rng = np.random.default_rng(seed)
    p = len(beta)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"x{i}" for i in range(p)],
                     index=[f"P{i:04d}" for i in range(n)])
    t = rng.exponential(np.exp(-X.to_numpy() @ np.asarray(beta)))
    if ties:
        t = np.ceil(t * 10) / 10
    event = rng.uniform(size=n) > censor
    return X, Surv.from_arrays(time=t, event=event)


def lifelines_fit(X, y, **kw):
    from lifelines import CoxPHFitter

    df = X.assign(T=y["time"], E=y["event"].astype(int))
    # tighter than lifelines' default convergence (1e-7 on the step), which leaves ~1e-6 error
    return CoxPHFitter().fit(df, "T", "E", fit_options={"precision": 1e-12}, **kw)


@pytest.fixture(scope="module")
def lung():
    d = load_dataset("lung")
    cols = ["age", "sex", "ph.ecog", "ph.karno", "wt.loss"]
    d = d.dropna(subset=["time", "status", *cols])
    d.index = [f"L{i}" for i in range(len(d))]
    return d[cols], Surv.from_arrays(time=d["time"], event=(d["status"] == 2).astype(int))


# ----------------------------------------------------------------------- known truth
def test_recovers_known_coefficients():
    beta = np.array([0.7, -0.5, 0.3, 0.0])
    X, y = simulate(n=2000, beta=beta, seed=11)
    model = CoxModel().fit(X, y)
    assert model.converged_
    assert np.all(np.abs(model.coef_ - beta) < 3 * model.se_)
    s = model.summary().to_frame()
    assert bool((s["hr_ci_low"] < np.exp(beta)).all() and (np.exp(beta) < s["hr_ci_high"]).all())


@pytest.mark.parametrize("ties", [False, True])
def test_matches_lifelines(ties):
    X, y = simulate(n=400, seed=3, ties=ties)
    model = CoxModel().fit(X, y)
    ref = lifelines_fit(X, y)
    np.testing.assert_allclose(model.coef_, ref.params_.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(model.se_, ref.standard_errors_.to_numpy(), rtol=1e-5)
    assert model.loglik_ == pytest.approx(ref.log_likelihood_, abs=1e-6)


def test_strata_match_lifelines():
    X, y = simulate(n=400, seed=4, ties=True)
    X["site"] = np.random.default_rng(4).integers(0, 3, len(X))
    model = CoxModel(strata="site").fit(X, y)
    ref = lifelines_fit(X, y, strata=["site"])
    np.testing.assert_allclose(model.coef_, ref.params_[list(model.feature_names_in_)],
                               atol=1e-6)
    assert list(model.feature_names_in_) == ["x0", "x1", "x2"]
    sf = model.predict_survival_function(X.iloc[:5], [0.5, 1.0])
    assert sf.shape == (5, 2)
    with pytest.raises(SchemaError, match="strata levels not seen"):
        model.predict_survival_function(X.iloc[:2].assign(site=7), [1.0])


def test_survival_function_matches_sksurv_breslow():
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    X, y = simulate(n=300, seed=5, ties=True)
    model = CoxModel(ties="breslow").fit(X, y)
    ref = CoxPHSurvivalAnalysis(ties="breslow").fit(X.to_numpy(), y)
    times = np.quantile(y["time"], [0.1, 0.3, 0.5, 0.8])
    ours = model.predict_survival_function(X.iloc[:20], times)
    theirs = np.vstack([f(times) for f in ref.predict_survival_function(X.iloc[:20].to_numpy())])
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_survival_function_is_a_survival_curve():
    X, y = simulate(n=300, seed=6, ties=True)
    model = CoxModel().fit(X, y)
    times = np.linspace(0, y["time"].max() * 1.1, 50)
    sf = model.predict_survival_function(X, times)
    assert np.all((sf >= 0) & (sf <= 1))
    assert np.all(np.diff(sf, axis=1) <= 1e-15)
    assert np.all(sf[:, 0] == 1.0)   # before the first event
    # riskier (higher predict) = lower survival at every time
    order = np.argsort(model.predict(X))
    assert np.all(np.diff(sf[order, 25]) <= 1e-12)


def test_predict_is_centred_linear_predictor_in_column_order():
    X, y = simulate(n=200, seed=7)
    model = CoxModel().fit(X, y)
    lp = model.predict(X[["x2", "x0", "x1"]])            # column order does not matter
    np.testing.assert_allclose(lp, (X - X.mean()).to_numpy() @ model.coef_, atol=1e-12)
    with pytest.raises(SchemaError, match="Missing: 'x2'"):
        model.predict(X[["x0", "x1"]])


def test_robust_se_is_not_fooled_by_duplicated_patients():
    X, y = simulate(n=300, seed=8)
    one = CoxModel(ties="breslow").fit(X, y, groups=X.index)
    dup = pd.concat([X, X])
    y2 = np.concatenate([y, y])
    two = CoxModel(ties="breslow").fit(dup, y2, groups=dup.index)
    np.testing.assert_allclose(two.coef_, one.coef_, atol=1e-10)
    np.testing.assert_allclose(two.se_, one.se_, rtol=1e-8)                # robust: same
    np.testing.assert_allclose(two.naive_se_, one.naive_se_ / np.sqrt(2), rtol=1e-8)


def test_case_weights_equal_replication_with_breslow():
    X, y = simulate(n=150, seed=9, ties=True)
    w = np.random.default_rng(9).integers(1, 4, len(X))
    rep = np.repeat(np.arange(len(X)), w)
    a = CoxModel(ties="breslow").fit(X, y, sample_weight=w)
    b = CoxModel(ties="breslow").fit(X.iloc[rep], y[rep])
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-10)
    np.testing.assert_allclose(a.se_, b.se_, rtol=1e-8)


# ------------------------------------------------------------------------ bad input
def test_extreme_scale_fits_like_shifted_data():
    X, y = simulate(n=300, seed=10)
    big = X.assign(x1=1e9 + X["x1"])
    a = CoxModel().fit(big, y)
    b = CoxModel().fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6)
    np.testing.assert_allclose(a.se_, b.se_, rtol=1e-6)
    np.testing.assert_allclose(a.predict(big), b.predict(X), atol=1e-6)


@pytest.mark.parametrize(("cell", "kind"),
                         [(np.nan, "NaN \\(missing values\\)"), (np.inf, "infinite values")])
def test_nan_and_inf_features_are_schema_errors(cell, kind):
    X, y = simulate(n=100)
    X.loc[["P0003", "P0042"], "x1"] = cell
    with pytest.raises(SchemaError, match=f"{kind} in 1 column\\(s\\): column 'x1'") as err:
        CoxModel().fit(X, y)
    assert err.value.ids == ["P0003", "P0042"]
    assert "'P0003', 'P0042'" in str(err.value)


def test_text_feature_is_a_schema_error():
    X, y = simulate(n=50)
    X["grade"] = ["<0.5" if i == 3 else str(i) for i in range(50)]
    with pytest.raises(SchemaError,
                       match=r"column 'grade': CoxModel: feature is not numeric.*<0.5"):
        CoxModel().fit(X, y)


def test_constant_feature_is_a_fit_error():
    X, y = simulate(n=100)
    X["site"] = 1.0
    with pytest.raises(FitError, match="constant feature\\(s\\) 'site'") as err:
        CoxModel().fit(X, y)
    assert err.value.columns == ["site"]
    assert "drop_constant=True" in str(err.value)


def near_constant_columns(n):
    """#20/#23: constant up to round-off: 0.3 vs 0.1 + 0.2 (5.6e-17 apart), 1 vs 1 + 1e-13."""
    rng = np.random.default_rng(1)
    noise = np.where(rng.random(n) < 0.5, 0.3, 0.1 + 0.2)
    one = np.ones(n)
    one[7] = 1.0 + 1e-13
    assert np.ptp(noise) > 0 and np.ptp(one) > 0
    return noise, one


@pytest.mark.parametrize("which", [0, 1], ids=["0.3-vs-0.1+0.2", "1-vs-1+1e-13"])
def test_near_constant_feature_is_a_fit_error_not_a_coefficient(which):
    X, y = simulate(n=100)
    X["flat"] = near_constant_columns(len(X))[which]
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no numpy overflow, no separation warning
        with pytest.raises(FitError, match="CoxModel: constant feature\\(s\\) 'flat'") as err:
            CoxModel().fit(X, y)
    assert err.value.columns == ["flat"]
    with pytest.raises(FitError, match="'flat'"):
        CoxModel(penalty=0.1).fit(X, y)


def test_drop_constant_drops_and_records_them():
    X, y = simulate(n=150, seed=4)
    noise, one = near_constant_columns(len(X))
    Xc = X.assign(flat=noise, site=1.0).iloc[:, [0, 3, 1, 4, 2]]
    model = CoxModel(drop_constant=True).fit(Xc, y)
    assert model.dropped_features_ == ["flat", "site"]
    assert list(model.feature_names_in_) == ["x0", "x1", "x2"]
    plain = CoxModel().fit(X, y)
    np.testing.assert_array_equal(model.coef_, plain.coef_)
    # prediction takes the training layout (dropped columns ignored) or the kept columns
    np.testing.assert_array_equal(model.predict(Xc), plain.predict(X))
    np.testing.assert_array_equal(model.predict(X), plain.predict(X))
    assert CoxModel().fit(X, y).dropped_features_ == []
    # refit forgets the dropped list
    assert model.fit(X, y).dropped_features_ == []
    with pytest.raises(FitError, match="every feature is constant"):
        CoxModel(drop_constant=True).fit(pd.DataFrame({"a": one, "b": 2.0}, index=X.index), y)
    with pytest.raises(ValueError, match="drop_constant must be True or False"):
        CoxModel(drop_constant="yes").fit(X, y)


def test_collinear_design_names_the_dependent_set():
    X, y = simulate(n=100)
    X["x3"] = 2 * X["x0"] - X["x2"]
    with pytest.raises(FitError, match="linearly dependent") as err:
        CoxModel().fit(X, y)
    assert err.value.columns == ["x0", "x2", "x3"]


def test_feature_constant_within_strata_is_collinear():
    X, y = simulate(n=120)
    X["site"] = np.repeat([0, 1, 2], 40)
    X["site_effect"] = X["site"] * 1.5
    with pytest.raises(FitError, match=r"after removing stratum means.*'site_effect'") as err:
        CoxModel(strata=["site"]).fit(X, y)
    assert err.value.columns == ["site_effect"]


def test_too_many_features_unpenalised():
    X, y = simulate(n=30, beta=tuple([0.1] * 30))
    with pytest.raises(FitError, match=r"p = 30 with n = 30 patients.*penalty"):
        CoxModel().fit(X, y)
    with pytest.raises(FitError, match=r"p = 30 with n = 30 patients.*not identifiable"):
        CoxModel(min_epv=0).fit(X, y)          # p >= n is never accepted
    X, y = simulate(n=60, beta=tuple([0.1] * 10), censor=0.9, seed=2)
    n_events = int(y["event"].sum())
    assert n_events < 10
    with pytest.raises(FitError, match=rf"p = 10 features, {n_events} events"):
        CoxModel().fit(X, y)


def test_low_events_per_variable_is_an_error():
    """#22: p > events/10 with an unpenalised Cox model is an error suggesting a penalty."""
    X, y = simulate(n=120, beta=(0.5, 0.2, 0.1, 0.0, 0.0, 0.0), censor=0.6, seed=3)
    n_events = int(y["event"].sum())
    epv = n_events / 6
    assert 1 < epv < 10
    pattern = (rf"too few events per variable .* p = 6 features, {n_events} events, "
               rf"EPV = {epv:.3g} < min_epv = 10; .*penalty.*selection.*min_epv")
    with pytest.raises(FitError, match=pattern) as err:
        CoxModel().fit(X, y)
    assert err.value.columns == list(X.columns)
    # the boundary: EPV == min_epv is accepted
    with pytest.warns(StatisticalWarning, match="events per variable"):
        CoxModel(min_epv=epv).fit(X, y)
    with pytest.raises(FitError, match="EPV"):
        CoxModel(min_epv=np.nextafter(epv, np.inf)).fit(X, y)
    # lowered deliberately: fits, and still warns below the rule of thumb of 10
    with pytest.warns(StatisticalWarning, match=rf"events per variable is {epv:.1f}"):
        low = CoxModel(min_epv=0).fit(X, y)
    assert low.converged_
    # penalised fits are not checked (and do not warn about EPV)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CoxModel(penalty=0.05).fit(X, y)
    # enough events per variable: no error, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CoxModel().fit(X.iloc[:, :2], y)


@pytest.mark.parametrize("bad", [-1, np.nan, np.inf, "10", True])
def test_min_epv_must_be_a_number(bad):
    X, y = simulate(n=100)
    with pytest.raises(ValueError, match="min_epv must be a finite number >= 0"):
        CoxModel(min_epv=bad).fit(X, y)


def test_separation_is_not_estimable():
    X, y = simulate(n=300, seed=12)
    X["early"] = 0.0
    first = np.argsort(y["time"])[:12]
    X.iloc[first, X.columns.get_loc("early")] = 1.0
    y = y.copy()
    y["event"][first] = True
    with pytest.warns(ConvergenceWarning, match="\\['early'\\] diverge"):
        model = CoxModel().fit(X, y)
    assert not model.converged_
    s = model.summary().to_frame()
    assert not s.loc["early", "estimable"]
    assert s.loc["early", ["coef", "se", "hr", "hr_ci_low", "hr_ci_high", "p"]].isna().all()
    assert s.loc[["x0", "x1", "x2"], "estimable"].all()
    assert np.isfinite(model.predict(X)).all()
    with pytest.raises(FitError, match="did not converge"):
        model.ph_test(X, y)


def test_bad_parameters():
    X, y = simulate(n=100)
    with pytest.raises(ValueError, match="penalty must be one of \\['cv'\\]"):
        CoxModel(penalty="auto").fit(X, y)
    with pytest.raises(ValueError, match="penalty must be a number >= 0"):
        CoxModel(penalty=-1).fit(X, y)
    with pytest.raises(ValueError, match="ties must be one of"):
        CoxModel(ties="exact").fit(X, y)
    with pytest.raises(SchemaError, match="strata columns \\['site'\\] not found"):
        CoxModel(strata="site").fit(X, y)
    with pytest.raises(NotFittedError, match="not fitted"):
        CoxModel().predict(X)


# ------------------------------------------------------------------------- penalised
def test_penalised_summary_has_no_inference(lung):
    X, y = lung
    model = CoxModel(penalty=0.05, l1_ratio=1.0).fit(X, y)
    s = model.summary()
    table = s.to_frame()
    assert table[["se", "hr_ci_low", "hr_ci_high", "z", "p"]].isna().all().all()
    np.testing.assert_allclose(table["hr"], np.exp(model.coef_))
    assert "post-selection" in s.notes[0]
    assert s.likelihood_ratio_test is None and s.wald_test is None and s.score_test is None
    assert (model.coef_ == 0).any()                                  # lasso selected


@pytest.mark.parametrize(("lam", "alpha"), [(0.05, 1.0), (0.02, 0.5)])
def test_penalised_matches_sksurv_coxnet_on_standardised_lung(lung, lam, alpha):
    from sksurv.linear_model import CoxnetSurvivalAnalysis

    X, y = lung
    sd = X.std(ddof=0).to_numpy()
    model = CoxModel(penalty=lam, l1_ratio=alpha).fit(X, y)
    # tol=1e-14: at sksurv's tol=1e-12 its coordinate descent stops up to 2.2e-6 from the
    # optimum (KKT residual 6e-7, ours 1e-8); at 1e-14 the two agree to <= 1.6e-7
    ref = CoxnetSurvivalAnalysis(alphas=[lam], l1_ratio=alpha, tol=1e-14, max_iter=1_000_000)
    ref.fit(((X - X.mean()) / sd).to_numpy(), y)
    np.testing.assert_allclose(model.coef_ * sd, ref.coef_[:, 0], atol=1e-6)


def test_vanishing_penalty_gives_unpenalised_breslow(lung):
    X, y = lung
    tiny = CoxModel(penalty=1e-10, l1_ratio=0.5).fit(X, y)
    plain = CoxModel(ties="breslow").fit(X, y)
    np.testing.assert_allclose(tiny.coef_, plain.coef_, rtol=1e-5, atol=1e-8)
    assert tiny.loglik_ == pytest.approx(plain.loglik_, abs=1e-6)


def test_folds_keep_patients_together_and_are_seeded():
    groups = np.repeat([f"P{i}" for i in range(20)], 3)
    a = _folds(groups, groups.size, 5, np.random.default_rng(0))
    b = _folds(groups, groups.size, 5, np.random.default_rng(0))
    np.testing.assert_array_equal(a, b)
    assert all(np.unique(a[groups == g]).size == 1 for g in np.unique(groups))
    assert np.bincount(a).tolist() == [12] * 5


def test_cv_penalty_is_deterministic_and_maximises_cvpl(lung):
    X, y = lung
    groups = np.arange(len(X)) // 2       # pretend pairs of rows are one patient
    kw = {"penalty": "cv", "l1_ratio": 1.0, "n_penalties": 12, "cv_folds": 4}
    a = CoxModel(random_state=3, **kw).fit(X, y, groups=groups)
    b = CoxModel(random_state=3, **kw).fit(X, y, groups=groups)
    assert a.penalty_ == b.penalty_
    np.testing.assert_array_equal(a.coef_, b.coef_)
    res = a.cv_results_
    assert a.penalty_ == res["penalty"][res["cvpl"].idxmax()]
    assert res["penalty"].is_monotonic_decreasing and len(res) == 12
    fixed = CoxModel(penalty=a.penalty_, l1_ratio=1.0).fit(X, y)
    np.testing.assert_allclose(a.coef_, fixed.coef_, atol=1e-6)


def test_cv_partial_likelihood_matches_naive_recomputation(lung):
    """Verweij-van Houwelingen CVPL for one penalty, recomputed from separate fits."""
    from survrad._math.coxph import CoxRiskSets

    X, y = lung
    _, res = select_penalty(X.to_numpy(), y["time"], y["event"], l1_ratio=0.0,
                              cv_folds=3, n_penalties=4, random_state=1)
    folds = _folds(None, len(X), 3, np.random.default_rng(1))
    x = X.to_numpy()
    value = res["penalty"][2]
    total = 0.0
    for k in range(3):
        tr = folds != k
        m = CoxModel(penalty=value, ties="breslow").fit(X[tr], y[tr])
        eta = (x - x.mean(0)) @ m.coef_
        full = CoxRiskSets(y["time"], y["event"], ties="breslow").loglik(eta)
        part = CoxRiskSets(y["time"][tr], y["event"][tr], ties="breslow").loglik(eta[tr])
        total += full - part
    assert res["cvpl"][2] == pytest.approx(total, rel=1e-6)


# -------------------------------------------------------------------------- contract
def test_clone_refit_and_no_training_data_kept():
    X, y = simulate(n=250, seed=13, ties=True)
    model = CoxModel(penalty=0.0, ci_level=0.9, strata=None)
    assert clone(model).get_params() == model.get_params()
    assert model.fit(X, y, groups=X.index) is model
    assert model.naive_se_ is not None
    n = len(X)
    for name, value in vars(model).items():
        arr = np.asarray(value, dtype=object) if not isinstance(value, dict) else None
        assert arr is None or arr.ndim == 0 or arr.shape[0] != n, name
    for times, _ in model.baseline_cumhaz_.values():
        assert times.size == np.unique(y["time"][y["event"]]).size < n
    # refit on other columns, without groups: nothing of the first fit survives
    model.fit(X[["x0", "x1"]], y)
    assert model.naive_se_ is None
    assert model.coef_.shape == (2,) and list(model.feature_names_in_) == ["x0", "x1"]
    fresh = clone(model)
    assert not hasattr(fresh, "coef_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh.fit(X, y)
    np.testing.assert_allclose(fresh.coef_, CoxModel().fit(X, y).coef_)

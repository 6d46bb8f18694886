"""SurvivalForest and the shared design checks (survrad.models._checks).

Truth used: a simulated Cox cohort with a known linear predictor; a Kaplan-Meier
estimator written out below; byte patterns of the training data for "no copy kept".
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from survrad._math.concordance import harrell_c
from survrad.data.outcome import Surv
from survrad.exceptions import FitError, NotFittedError, SchemaError, StatisticalWarning
from survrad.models._checks import (
    check_design,
    check_predict_design,
    check_rank,
    float32_collapsed_columns,
)
from survrad.models.forest import SurvivalForest


def simulate(n=300, p=5, seed=0):
    """Exponential Cox model, lp = 1.0 * f0 - 0.7 * f1; ~35 % censoring."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"f{j}" for j in range(p)],
                     index=[f"P{seed}_{i:03d}" for i in range(n)])
    lp = 1.0 * X["f0"].to_numpy() - 0.7 * X["f1"].to_numpy()
    t = rng.exponential(np.exp(-lp))
    c = rng.exponential(2.0, size=n)
    y = Surv.from_arrays(time=np.minimum(t, c), event=t <= c)
    return X, y, lp


def kaplan_meier(time, event, at):
    """Naive product-limit estimator evaluated at ``at`` (right-continuous)."""
    out = []
    for t0 in at:
        s = 1.0
        for u in np.unique(time[event & (time <= t0)]):
            at_risk = np.sum(time >= u)
            d = np.sum((time == u) & event)
            s *= 1.0 - d / at_risk
        out.append(s)
    return np.array(out)


def naive_harrell(time, event, risk):
    """O(n^2) Harrell C, R's convention (event/censoring tie at the same time comparable)."""
    num = den = 0.0
    for i in range(len(time)):
        if not event[i]:
            continue
        for j in range(len(time)):
            if time[j] > time[i] or (time[j] == time[i] and not event[j]):
                den += 1
                num += 1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0.0
    return num / den


@pytest.fixture(scope="module")
def data():
    return simulate()


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _ = data
    return SurvivalForest(n_estimators=20, min_samples_leaf=10, low_memory=False,
                          random_state=1).fit(X, y)


# ----------------------------------------------------------------- prediction truth
def test_risk_sign_against_known_linear_predictor(fitted):
    """Higher predicted risk = earlier event: held-out C near the true lp's C."""
    Xt, yt, lpt = simulate(n=300, seed=7)
    risk = fitted.predict(Xt)
    c_forest = harrell_c(yt["time"], yt["event"], risk)
    c_truth = harrell_c(yt["time"], yt["event"], lpt)
    assert c_forest > 0.65
    assert c_forest > c_truth - 0.08  # the true lp is the best possible ranking
    assert np.corrcoef(np.argsort(np.argsort(risk)), np.argsort(np.argsort(lpt)))[0, 1] > 0.6


def test_harrell_c_matches_naive():
    rng = np.random.default_rng(8)
    time = rng.integers(1, 15, 60).astype(float)  # ties in time
    event = rng.random(60) < 0.6
    risk = rng.integers(0, 6, 60).astype(float)  # ties in risk
    assert harrell_c(time, event, risk) == pytest.approx(naive_harrell(time, event, risk),
                                                         abs=1e-14)
    with pytest.raises(SchemaError, match="no comparable pair"):
        harrell_c(np.array([1.0, 2.0]), np.array([False, False]), np.array([1.0, 2.0]))


def test_low_memory_gives_identical_risk(data, fitted):
    X, y, _ = data
    lm = SurvivalForest(n_estimators=20, min_samples_leaf=10, low_memory=True,
                        random_state=1).fit(X, y)
    np.testing.assert_array_equal(lm.predict(X), fitted.predict(X))
    assert len(pickle.dumps(lm)) * 5 < len(pickle.dumps(fitted))


def test_survival_function_of_unsplit_trees_is_kaplan_meier(data):
    """Trees that cannot split hold the KM of their bootstrap sample; their mean ~ KM."""
    X, y, _ = data
    m = SurvivalForest(n_estimators=30, min_samples_leaf=200, low_memory=False,
                       random_state=0).fit(X, y)
    times = np.array([0.0, 0.1, 0.25, 0.5, 1.0, 2.0])
    surv = m.predict_survival_function(X.iloc[:4], times)
    km = kaplan_meier(y["time"], y["event"], times)
    assert surv.shape == (4, times.size)
    np.testing.assert_allclose(surv, np.tile(km, (4, 1)), atol=0.03)
    assert surv[0, 0] == 1.0


def test_survival_function_properties(data, fitted):
    X, y, _ = data
    times = np.linspace(0, y["time"].max() * 1.5, 40)
    s = fitted.predict_survival_function(X, times)
    assert s.shape == (X.shape[0], 40)
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(np.diff(s, axis=1) <= 1e-12)
    before_first = times < fitted.unique_times_[0]
    assert np.all(s[:, before_first] == 1.0)
    # at a training time the value is the one scikit-survival reports there
    raw = fitted.forest_.predict_survival_function(
        ((X - fitted.center_) / fitted.scale_).to_numpy(), return_array=True)
    np.testing.assert_allclose(
        fitted.predict_survival_function(X, fitted.unique_times_[[5, 50]]), raw[:, [5, 50]])


def test_survival_function_needs_low_memory_false(data):
    X, y, _ = data
    m = SurvivalForest(n_estimators=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"low_memory=False"):
        m.predict_survival_function(X, [1.0])


def test_permutation_importance_finds_signal(data, fitted):
    X, y, _ = data
    imp = fitted.permutation_importance(X, y, n_repeats=3, random_state=0)
    assert list(imp.columns) == ["feature", "importance_mean", "importance_std"]
    assert list(imp["feature"]) == list(X.columns)
    by = imp.set_index("feature")["importance_mean"]
    assert by["f0"] > 0.05 and by["f1"] > 0.02
    assert by[["f2", "f3", "f4"]].max() < by["f1"]
    again = fitted.permutation_importance(X, y, n_repeats=3, random_state=0)
    pd.testing.assert_frame_equal(imp, again)


# ----------------------------------------------------------------- determinism, contract
def test_same_seed_same_predictions_whatever_n_jobs(data):
    X, y, _ = data
    kw = {"n_estimators": 12, "min_samples_leaf": 10, "low_memory": False, "random_state": 3}
    a = SurvivalForest(n_jobs=1, **kw).fit(X, y)
    b = SurvivalForest(n_jobs=2, **kw).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(a.predict_survival_function(X, [0.5, 1.0]),
                                  b.predict_survival_function(X, [0.5, 1.0]))
    c = SurvivalForest(n_jobs=1, **{**kw, "random_state": 4}).fit(X, y)
    assert not np.array_equal(a.predict(X), c.predict(X))


def test_generator_random_state_is_accepted(data):
    X, y, _ = data
    m = SurvivalForest(n_estimators=5, random_state=np.random.default_rng(0)).fit(X, y)
    assert m.predict(X).shape == (X.shape[0],)


def test_clone_refit_and_groups_ignored(data):
    X, y, _ = data
    m = SurvivalForest(n_estimators=8, random_state=2)
    c = clone(m)
    assert c.get_params() == m.get_params()
    assert not hasattr(c, "forest_")
    m.fit(X, y)
    ref = m.predict(X)
    np.testing.assert_array_equal(clone(m).fit(X, y, groups=np.arange(len(X))).predict(X), ref)
    m.fit(X[["f2", "f3"]], y)  # refit forgets the first design
    assert list(m.feature_names_in_) == ["f2", "f3"] and m.n_features_in_ == 2
    with pytest.raises(SchemaError, match="unexpected"):
        m.predict(X)


def test_columns_matched_by_name(data, fitted):
    X, _, _ = data
    np.testing.assert_array_equal(fitted.predict(X[X.columns[::-1]]), fitted.predict(X))
    with pytest.raises(SchemaError, match=r"Missing: 'f4'"):
        fitted.predict(X.drop(columns="f4"))


def test_no_training_data_kept(data, fitted):
    X, _, _ = data
    blob = pickle.dumps(fitted)
    for col in ("f0", "f3"):
        vals = X[col].to_numpy()[:25]
        for dtype in (np.float64, np.float32):
            hits = sum(np.asarray(v, dtype=dtype).tobytes() in blob for v in vals)
            assert hits == 0, (col, dtype)
    assert not any(isinstance(v, pd.DataFrame) for v in vars(fitted).values())


def test_not_fitted_and_bad_params(data):
    X, y, _ = data
    with pytest.raises(NotFittedError):
        SurvivalForest().predict(X)
    with pytest.raises(ValueError, match="n_estimators"):
        SurvivalForest(n_estimators=0).fit(X, y)
    with pytest.raises(ValueError, match="max_features"):
        SurvivalForest(max_features="all").fit(X, y)
    with pytest.raises(SchemaError, match="300 rows but y has 299"):
        SurvivalForest(n_estimators=2).fit(X, y[:-1])


# ----------------------------------------------------------------- docs/reliability.md cases
def test_float32_collapse_refused_without_standardize(data):
    """#24: 1e9 + N(0, 1) collapses to one float32 value; refused, named."""
    X, y, _ = data
    Xb = X.copy()
    Xb["f0"] = 1e9 + Xb["f0"]
    with pytest.raises(FitError, match=r"'f0' \(300 distinct values -> 1\)") as err:
        SurvivalForest(n_estimators=3, standardize=False).fit(Xb, y)
    assert err.value.columns == ["f0"]
    assert "standardize=True" in str(err.value)


def test_float32_collapse_handled_by_standardize(data):
    """#24 with standardize=True: same forest as on the unshifted column."""
    X, y, _ = data
    Xb = X.copy()
    Xb["f0"] = 1e9 + Xb["f0"]
    kw = {"n_estimators": 10, "random_state": 5}
    shifted = SurvivalForest(**kw).fit(Xb, y).predict(Xb)
    plain = SurvivalForest(**kw).fit(X, y).predict(X)
    np.testing.assert_allclose(shifted, plain, rtol=1e-12)
    assert harrell_c(y["time"], y["event"], shifted) > 0.7


def test_constant_feature_warns(data):
    """#20: forests tolerate constant columns but say so."""
    X, y, _ = data
    Xc = X.assign(flat=3.0)
    with pytest.warns(StatisticalWarning, match=r"constant feature\(s\) 'flat'"):
        m = SurvivalForest(n_estimators=3, random_state=0).fit(Xc, y)
    assert m.predict(Xc).shape == (X.shape[0],)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.nan, r"NaN \(missing values\) in 1 column\(s\): column 'f2' ids: 'P0_003', "
                 r"'P0_010' \(2 in total\)"),
        (np.inf, r"infinite values in 1 column\(s\): column 'f2' ids: 'P0_003', 'P0_010'"),
        ("<0.5", r"column 'f2': SurvivalForest: feature is not numeric \(dtype object\); "
                 r"sample values '<0.5'"),
    ],
)
def test_bad_cells_named(data, bad, match):
    """#17-#19: error naming the column and the ids (the DataFrame index)."""
    X, y, _ = data
    Xb = X.astype(object) if isinstance(bad, str) else X.copy()
    Xb.loc[["P0_003", "P0_010"], "f2"] = bad
    with pytest.raises(SchemaError, match=match) as err:
        SurvivalForest(n_estimators=3).fit(Xb, y)
    assert err.value.ids == ["P0_003", "P0_010"]
    with pytest.raises(SchemaError, match="f2"):
        SurvivalForest(n_estimators=3).fit(X, y).predict(Xb)


def test_all_tied_times_refused_before_sksurv(data):
    """#15: scikit-survival would crash; survrad says why."""
    X, _, _ = data
    y = Surv.from_arrays(time=np.full(len(X), 5.0), event=np.r_[np.ones(50), np.zeros(len(X) - 50)])
    with pytest.raises(SchemaError, match="all survival times are tied"):
        SurvivalForest(n_estimators=3).fit(X, y)
    t = np.r_[np.full(20, 1.0), np.full(20, 2.0), np.full(len(X) - 40, 3.0)]
    y2 = Surv.from_arrays(time=t, event=np.r_[np.ones(40), np.zeros(len(X) - 40)])
    with pytest.raises(SchemaError, match="only 2 distinct event time"):
        SurvivalForest(n_estimators=3).fit(X, y2)


def test_no_censoring_is_valid(data):
    """#16: every patient had the event."""
    X, y, _ = data
    y1 = Surv.from_arrays(time=y["time"], event=np.ones(len(y)))
    m = SurvivalForest(n_estimators=5, random_state=0).fit(X, y1)
    assert harrell_c(y1["time"], y1["event"], m.predict(X)) > 0.7


# ----------------------------------------------------------------- shared checks
def test_float32_check_ignores_float_noise():
    """0.1 + 0.2 and 0.3 differ in float64 only by rounding noise: not material."""
    rng = np.random.default_rng(0)
    base = np.round(rng.uniform(0, 1, 200), 1)
    noisy = np.where(rng.random(200) < 0.5, base + 1e-16 * 3, base)
    assert np.unique(noisy).size == 22 and np.unique(noisy.astype(np.float32)).size == 12
    A = np.column_stack([noisy, 1e12 + rng.normal(0, 1e3, 200), rng.normal(size=200)])
    assert float32_collapsed_columns(A, ["noise", "big", "ok"]) == [("big", 200, 1)]
    assert float32_collapsed_columns(np.array([[1e39], [2e39]]), ["huge"])[0][0] == "huge"


def test_float32_check_refuses_any_merge_of_distinct_values():
    """#24: one merged pair is enough (it was accepted while <= 1% of values merged)."""
    base = np.arange(1000.0)
    x = np.r_[base, 2.0**24, 2.0**24 + 1]              # 2**24 + 1 is not a float32
    assert np.unique(x.astype(np.float32)).size == x.size - 1
    assert float32_collapsed_columns(x[:, None], ["pair"]) == [("pair", 1002, 1001)]
    # one outlier inflates the standard deviation; the collapsed cluster is still found
    rng = np.random.default_rng(3)
    z = np.r_[1e9 + rng.normal(size=299), 0.0]
    assert [c[0] for c in float32_collapsed_columns(z[:, None], ["o"])] == ["o"]
    zs = (z - z.mean()) / z.std()                      # still collapses after scaling
    assert [c[0] for c in float32_collapsed_columns(zs[:, None], ["o"])] == ["o"]
    # standardised continuous data never trip it: merges are below 1e-6 IQR
    w = rng.normal(size=20_000)
    assert np.unique(w.astype(np.float32)).size < w.size
    assert float32_collapsed_columns(w[:, None], ["w"]) == []
    Xb = pd.DataFrame({"pair": x, "g": rng.normal(size=x.size)})
    y = Surv.from_arrays(time=rng.exponential(size=x.size), event=np.ones(x.size))
    with pytest.raises(FitError, match=r"'pair' \(1002 distinct values -> 1001\)"):
        SurvivalForest(n_estimators=2, standardize=False).fit(Xb, y)


def test_check_design_constant_is_error_unless_allowed():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "k": [7.0, 7.0, 7.0]})
    with pytest.raises(FitError, match=r"constant feature\(s\) 'k'") as err:
        check_design(X, model_name="CoxModel")
    assert err.value.columns == ["k"]
    with pytest.warns(StatisticalWarning, match="'k'"):
        A = check_design(X, model_name="SurvivalForest", allow_constant=True)
    assert A.dtype == np.float64 and A.shape == (3, 2)


def test_check_design_shapes_and_types():
    with pytest.raises(SchemaError, match="zero rows"):
        check_design(pd.DataFrame({"a": []}), model_name="m")
    with pytest.raises(SchemaError, match="duplicate feature names 'a'"):
        check_design(pd.DataFrame([[1.0, 2.0]], columns=["a", "a"]), model_name="m")
    with pytest.raises(SchemaError, match="not numeric"):
        check_design(pd.DataFrame({"c": pd.Categorical(["x", "y"])}), model_name="m")
    ok = pd.DataFrame({"b": [True, False, True], "i": pd.array([1, 2, 3], dtype="Int64"),
                       "o": pd.Series([1.5, 2, 3], dtype=object)})
    np.testing.assert_array_equal(check_design(ok, model_name="m"),
                                  [[1, 1, 1.5], [0, 2, 2], [1, 3, 3]])
    with pytest.raises(SchemaError, match="NaN"):
        check_design(pd.DataFrame({"i": pd.array([1, None, 3], dtype="Int64")}), model_name="m")


def test_check_predict_design_suggests_close_name():
    with pytest.raises(SchemaError, match=r"'age' looks like 'Age'"):
        check_predict_design(pd.DataFrame({"Age": [1.0]}), ["age"], model_name="m")


def test_check_rank_names_dependent_set():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(3, 50))
    A = np.column_stack([a, b, c, 2 * a - b])
    with pytest.raises(FitError, match="linearly dependent") as err:
        check_rank(A, ["a", "b", "c", "d"], model_name="m", intercept=True)
    assert err.value.columns == ["a", "b", "d"]
    d1 = (rng.random(50) < 0.5).astype(float)
    with pytest.raises(FitError) as err:
        check_rank(np.column_stack([d1, 1 - d1, c]), ["yes", "no", "c"], model_name="m",
                   intercept=True)
    assert err.value.columns == ["yes", "no"]
    check_rank(np.column_stack([a, b, c]), ["a", "b", "c"], model_name="m", intercept=True)

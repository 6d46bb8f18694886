"""LogisticModel and ForestClassifier.

Truth used: scikit-learn's unpenalised LogisticRegression (parity 1e-6); a simulation
with known coefficients (within 3 SE); the inverse Fisher information and the CRV1
sandwich written out in numpy; a direct scipy minimisation of the ridge objective;
hand-made separated data sets.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from scipy.special import expit
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from survrad.exceptions import (
    ConvergenceWarning,
    FitError,
    NotFittedError,
    SchemaError,
    StatisticalWarning,
)
from survrad.models.response import ForestClassifier, LogisticModel, separated_directions

TRUE = {"intercept": -0.5, "a": 0.8, "b": -0.05, "c": 2.0}


def simulate(n=600, seed=0):
    """Features on very different scales (b ~ 100 +- 10, c ~ 5 +- 0.1)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1] + [0.0, 100.0, 5.0],
                     columns=["a", "b", "c"], index=[f"L{seed}_{i:04d}" for i in range(n)])
    eta = TRUE["intercept"] + TRUE["a"] * X["a"] + TRUE["b"] * (X["b"] - 100) \
        + TRUE["c"] * (X["c"] - 5)
    y = (rng.random(n) < expit(eta)).astype(int).to_numpy()
    return X, y


@pytest.fixture(scope="module")
def data():
    return simulate()


def exog_of(X):
    return np.column_stack([np.ones(len(X)), X.to_numpy(dtype=float)])


# ----------------------------------------------------------------- unpenalised truth
def test_parity_with_sklearn_unpenalised(data):
    X, y = data
    m = LogisticModel().fit(X, y)
    sk = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12, max_iter=100).fit(
        X.to_numpy(), y)
    np.testing.assert_allclose(m.coef_, sk.coef_.ravel(), atol=1e-8, rtol=0)  # brief: 1e-6
    assert abs(m.intercept_ - sk.intercept_[0]) < 1e-8
    assert m.converged_ and m.estimable_.all()


def test_known_truth_within_3_se():
    X, y = simulate(n=3000, seed=11)
    s = LogisticModel().fit(X, y).summary().to_frame()
    slope_truth = pd.Series({"a": 0.8, "b": -0.05, "c": 2.0})
    z = (s.loc[["a", "b", "c"], "coef"] - slope_truth) / s.loc[["a", "b", "c"], "se"]
    assert np.all(np.abs(z) < 3), z
    intercept_truth = TRUE["intercept"] - TRUE["b"] * 100 - TRUE["c"] * 5
    assert abs(s.loc["intercept", "coef"] - intercept_truth) < 3 * s.loc["intercept", "se"]


def test_model_based_se_is_inverse_fisher_information(data):
    X, y = data
    m = LogisticModel(cluster_robust=False).fit(X, y, groups=np.arange(len(y)) // 3)
    E = exog_of(X)
    p = expit(E @ np.r_[m.intercept_, m.coef_])
    cov = np.linalg.inv(E.T @ (E * (p * (1 - p))[:, None]))
    np.testing.assert_allclose(m.cov_, cov, rtol=1e-6)
    assert m.n_clusters_ is None


def test_cluster_robust_se_is_crv1_sandwich():
    """Lesions nested in patients: shared patient effect makes rows correlated."""
    rng = np.random.default_rng(3)
    n_pat, per = 150, 4
    pid = np.repeat([f"P{i:03d}" for i in range(n_pat)], per)
    u = np.repeat(rng.normal(0, 1.5, n_pat), per)
    X = pd.DataFrame({"a": np.repeat(rng.normal(size=n_pat), per) + rng.normal(0, .3, pid.size),
                      "b": rng.normal(size=pid.size)})
    y = (rng.random(pid.size) < expit(-0.3 + 0.7 * X["a"] + u)).astype(int)
    m = LogisticModel().fit(X, y, groups=pid)
    E = exog_of(X)
    beta = np.r_[m.intercept_, m.coef_]
    p = expit(E @ beta)
    bread = np.linalg.inv(E.T @ (E * (p * (1 - p))[:, None]))
    scores = E * (y.to_numpy() - p)[:, None]
    g = pd.DataFrame(scores).groupby(pid).sum().to_numpy()
    n, k, G = len(y), E.shape[1], n_pat
    crv1 = bread @ (g.T @ g) @ bread * G / (G - 1) * (n - 1) / (n - k)
    np.testing.assert_allclose(m.cov_, crv1, rtol=1e-6)
    assert m.n_clusters_ == G
    naive = LogisticModel(cluster_robust=False).fit(X, y, groups=pid)
    np.testing.assert_allclose(naive.coef_, m.coef_)
    # within-patient correlation
    assert m.summary().to_frame().loc["a", "se"] > 1.2 * naive.summary().to_frame().loc["a", "se"]


def test_summary_columns_ci_and_p(data):
    X, y = data
    m = LogisticModel(ci_level=0.9).fit(X, y)
    s = m.summary().to_frame()
    assert list(s.columns) == ["coef", "or", "se", "z", "p", "or_ci_low", "or_ci_high",
                               "estimable"]
    assert list(s.index) == ["intercept", "a", "b", "c"]
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(s["or"], np.exp(s["coef"]))
    np.testing.assert_allclose(s["or_ci_low"], np.exp(s["coef"] - z * s["se"]))
    np.testing.assert_allclose(s["or_ci_high"], np.exp(s["coef"] + z * s["se"]))
    np.testing.assert_allclose(s["p"], 2 * stats.norm.sf(np.abs(s["coef"] / s["se"])))
    assert list(m.summary(intercept=False).to_frame().index) == ["a", "b", "c"]


def test_predict_proba(data):
    X, y = data
    m = LogisticModel().fit(X, y)
    pr = m.predict_proba(X)
    assert pr.shape == (len(y), 2)
    np.testing.assert_allclose(pr.sum(axis=1), 1.0)
    np.testing.assert_allclose(pr[:, 1], expit(exog_of(X) @ np.r_[m.intercept_, m.coef_]))
    np.testing.assert_allclose(m.predict_proba(X[["c", "a", "b"]]), pr)


# ----------------------------------------------------------------- separation (#23)
def test_complete_separation_not_estimable():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.normal(size=80), "z": rng.normal(size=80)})
    y = (X["x"] > 0).astype(int)
    with pytest.warns(ConvergenceWarning, match=r"complete separation.*'x'"):
        m = LogisticModel().fit(X, y)
    s = m.summary().to_frame()
    assert not m.converged_
    assert not s["estimable"].any()
    assert s[["coef", "se", "or", "or_ci_low", "or_ci_high", "p"]].isna().all().all()
    pr = m.predict_proba(X)[:, 1]
    assert np.all(np.isfinite(pr)) and roc_auc_score(y, pr) == 1.0


def test_quasi_separation_names_the_column(data):
    """A binary marker present only in responders: OR infinite, the others estimable."""
    X, y = data
    rng = np.random.default_rng(2)
    Xs = X.assign(marker=((y == 1) & (rng.random(len(y)) < 0.3)).astype(float))
    with pytest.warns(ConvergenceWarning, match=r"quasi-complete separation.*'marker' "
                                                r"\(1 in total\)"):
        m = LogisticModel().fit(Xs, y)
    s = m.summary().to_frame()
    assert not m.converged_
    assert s["estimable"].to_dict() == {"intercept": True, "a": True, "b": True, "c": True,
                                        "marker": False}
    assert np.isnan(s.loc["marker", "or"]) and np.isfinite(s.loc["a", "or"])


def test_multivariable_separation_detected():
    """Neither x1 nor x2 alone separates, but x1 + x2 does."""
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"x1": rng.normal(size=100), "x2": rng.normal(size=100)})
    y = (X["x1"] + X["x2"] > 0).astype(int)
    for col in ("x1", "x2"):
        assert X.loc[y == 0, col].max() > X.loc[y == 1, col].min()
    with pytest.warns(ConvergenceWarning, match="'x1', 'x2'"):
        m = LogisticModel().fit(X, y)
    assert not m.summary(intercept=False).to_frame()["estimable"].any()


def test_separation_lp_finds_nothing_on_overlapping_data(data):
    X, y = data
    Z = (X - X.mean()) / X.std(ddof=0)
    assert not separated_directions(exog_of(Z), y).any()


def test_statsmodels_perfect_separation_error_handled(monkeypatch):
    """Older statsmodels raise PerfectSeparationError: handled, never a made-up OR."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationError

    def boom(self, *args, **kwargs):
        raise PerfectSeparationError("Perfect separation detected, results not available")

    monkeypatch.setattr(sm.Logit, "fit", boom)
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.normal(size=60)})
    y = (X["x"] > 0.2).astype(int)
    with pytest.warns(ConvergenceWarning, match="separation"):
        m = LogisticModel().fit(X, y)
    assert not m.summary(intercept=False).to_frame()["estimable"].any()
    assert roc_auc_score(y, m.predict_proba(X)[:, 1]) == 1.0


# ----------------------------------------------------------------- penalised
def test_ridge_matches_direct_minimisation(data):
    """penalty = glmnet lambda (alpha 0): -loglik/n + penalty/2 ||beta_std||^2."""
    X, y = data
    pen = 0.05
    m = LogisticModel(penalty=pen).fit(X, y)
    mu, sd = X.mean().to_numpy(), X.std(ddof=0).to_numpy()
    Z = (X.to_numpy() - mu) / sd

    def obj(w):
        eta = w[0] + Z @ w[1:]
        return np.mean(np.logaddexp(0, eta) - y * eta) + pen / 2 * np.sum(w[1:] ** 2)

    w = optimize.minimize(obj, np.zeros(4), method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose(m.coef_, w[1:] / sd, rtol=1e-5)
    assert abs(m.intercept_ - (w[0] - np.sum(w[1:] * mu / sd))) < 1e-4
    s = m.summary().to_frame()
    assert s["estimable"].all() and s[["se", "or_ci_low", "or_ci_high", "p"]].isna().all().all()
    assert m.cov_ is None and m.converged_
    unpen = LogisticModel().fit(X, y)
    assert np.all(np.abs(w[1:]) < np.abs(unpen.coef_ * sd))  # shrunk


# ----------------------------------------------------------------- bad input
def test_bad_inputs(data):
    X, y = data
    with pytest.raises(FitError, match="constant feature"):
        LogisticModel().fit(X.assign(k=1.0), y)
    with pytest.raises(FitError, match=r"'a', 'b', 'd'") as err:
        LogisticModel().fit(X.assign(d=X["a"] + 0.1 * X["b"]), y)
    assert err.value.columns == ["a", "b", "d"]
    Xn = X.copy()
    Xn.iloc[4, 1] = np.nan
    with pytest.raises(SchemaError, match=r"column 'b' ids: 'L0_0004'"):
        LogisticModel().fit(Xn, y)
    with pytest.raises(SchemaError, match="coded 0/1"):
        LogisticModel().fit(X, y + 1)
    with pytest.raises(SchemaError, match="groups has 3 values"):
        LogisticModel().fit(X, y, groups=[1, 2, 3])
    with pytest.raises(SchemaError, match="at least 2 groups"):
        LogisticModel().fit(X, y, groups=np.zeros(len(y)))
    with pytest.raises(ValueError, match="penalty"):
        LogisticModel(penalty=-1).fit(X, y)
    with pytest.raises(NotFittedError):
        LogisticModel().predict_proba(X)


def test_few_outcomes_per_feature_warns(data):
    X, y = data
    yy = np.zeros(len(y), dtype=int)
    yy[:20] = 1
    with pytest.warns(StatisticalWarning, match=r"20 outcomes in the smaller class for 3"):
        LogisticModel().fit(X, yy)


# ----------------------------------------------------------------- contract
def test_logistic_clone_refit_no_data(data):
    X, y = data
    m = LogisticModel(penalty=0.0, ci_level=0.9)
    assert clone(m).get_params() == m.get_params()
    m.fit(X, y, groups=np.arange(len(y)) // 2)
    assert m.n_clusters_ == len(y) // 2
    m.fit(X[["a"]], y)
    assert m.n_clusters_ is None and list(m.summary().to_frame().index) == ["intercept", "a"]
    blob = pickle.dumps(m)
    for v in X["b"].to_numpy()[:25]:
        assert np.float64(v).tobytes() not in blob
    assert len(blob) < 5000


# ----------------------------------------------------------------- forest classifier
@pytest.fixture(scope="module")
def cls_data():
    rng = np.random.default_rng(5)
    n = 400
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["s1", "s2", "n1", "n2"])
    y = (rng.random(n) < expit(2 * X["s1"] - 1.5 * X["s2"])).astype(int).to_numpy()
    return X.iloc[:250], y[:250], X.iloc[250:], y[250:]


def test_forest_classifier_predicts_held_out(cls_data):
    X, y, Xt, yt = cls_data
    m = ForestClassifier(n_estimators=30, random_state=0).fit(X, y)
    pr = m.predict_proba(Xt)
    assert pr.shape == (len(yt), 2)
    np.testing.assert_allclose(pr.sum(axis=1), 1.0)
    assert roc_auc_score(yt, pr[:, 1]) > 0.8
    imp = m.permutation_importance(Xt, yt, n_repeats=3, random_state=0).set_index("feature")
    assert imp.loc["s1", "importance_mean"] > 0.05
    assert imp.loc[["n1", "n2"], "importance_mean"].max() < imp.loc["s2", "importance_mean"]


def test_forest_classifier_determinism_and_contract(cls_data):
    X, y, Xt, _ = cls_data
    kw = {"n_estimators": 15, "random_state": 9}
    a = ForestClassifier(n_jobs=1, **kw).fit(X, y)
    b = ForestClassifier(n_jobs=2, **kw).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    c = clone(a)
    assert c.get_params() == a.get_params() and not hasattr(c, "forest_")
    blob = pickle.dumps(a)
    for v in X["s1"].to_numpy()[:25]:
        assert np.float64(v).tobytes() not in blob
        assert np.float32(v).tobytes() not in blob
    a.fit(X[["n1"]], y)
    assert list(a.feature_names_in_) == ["n1"]


def test_forest_classifier_float32_and_constant(cls_data):
    X, y, _, _ = cls_data
    Xb = X.assign(s1=1e9 + X["s1"])
    with pytest.raises(FitError, match="'s1'"):
        ForestClassifier(n_estimators=3, standardize=False).fit(Xb, y)
    kw = {"n_estimators": 10, "random_state": 1}
    np.testing.assert_allclose(
        ForestClassifier(**kw).fit(Xb, y).predict_proba(Xb),
        ForestClassifier(**kw).fit(X, y).predict_proba(X))
    with pytest.warns(StatisticalWarning, match="'k'"):
        ForestClassifier(n_estimators=3).fit(X.assign(k=0.0), y)

"""Univariate, LASSO and stability selection; leakage checks for every feature step."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.optimize import brentq
from scipy.special import expit
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler
from sksurv.linear_model import CoxnetSurvivalAnalysis
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.stats.multitest import multipletests

from survrad.data.cohort import Cohort, Endpoint
from survrad.data.outcome import Surv
from survrad.exceptions import ConvergenceWarning, FitError, StatisticalWarning
from survrad.features import (
    ComBat,
    CorrelationFilter,
    ICCFilter,
    LassoCoxSelector,
    StabilitySelector,
    Standardize,
    UnivariateCoxFilter,
    VarianceFilter,
    association,
    cox_score_test,
)
from survrad.features._base import rethrow_convergence
from survrad.features.selection import _breslow_loglik

TRUE = ["x0", "x1", "x2"]


def _sim(n: int = 200, p: int = 15, seed: int = 0, binary: bool = False):
    """Cox (or logistic) model with three true columns x0, x1, x2 among p."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"x{j}" for j in range(p)],
                     index=[f"P{i:03d}" for i in range(n)])
    eta = X[TRUE].to_numpy() @ np.array([1.0, -0.8, 0.6])
    if binary:
        return X, (rng.random(n) < 1 / (1 + np.exp(-1.5 * eta))).astype(int)
    t = rng.exponential(np.exp(-eta))
    c = rng.exponential(2.0, size=n)
    return X, Surv.from_arrays(time=np.round(np.minimum(t, c), 2) + 0.01, event=t <= c)


# --------------------------------------------------------------------------- score test
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_score_test_matches_statsmodels(ties):
    rng = np.random.default_rng(1)
    n = 60
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    X["d"] = X["d"] + 1e9  # extreme scale, docs/reliability.md #24
    time = rng.integers(1, 9, size=n).astype(float)  # many ties
    event = rng.random(n) < 0.6
    ours = cox_score_test(X, time, event, ties=ties)
    for col in X.columns:
        x = X[[col]].to_numpy() - X[col].mean()
        # PHReg(time, x, status=event, ties=ties).score(0), -hessian(0)
        model = PHReg(time, x, status=event.astype(float), ties=ties)
        u = model.score(np.zeros(1))[0]
        info = -model.hessian(np.zeros(1))[0, 0]
        assert ours.loc[col, "score"] == pytest.approx(u, rel=1e-8)
        assert ours.loc[col, "information"] == pytest.approx(info, rel=1e-8)
        assert ours.loc[col, "z"] == pytest.approx(u / np.sqrt(info), rel=1e-8)
    assert np.allclose(ours["p"], 2 * stats.norm.sf(np.abs(ours["z"])))


def test_score_test_constant_and_invariance():
    X, y = _sim(n=80, p=3)
    X["flat"] = 2.0
    res = cox_score_test(X, y["time"], y["event"])
    assert res.loc["flat", "z"] == 0 and res.loc["flat", "p"] == 1
    moved = cox_score_test(3 * X - 7, y["time"], y["event"])
    assert np.allclose(moved["z"], res["z"], atol=1e-10)
    assert res.loc["x0", "z"] > 2 and res.loc["x1", "z"] < -2


def test_breslow_loglik_matches_statsmodels():
    X, y = _sim(n=50, p=3, seed=4)
    beta = np.array([0.3, -0.2, 0.1])
    eta = X.to_numpy() @ beta
    # PHReg(time, X, status=event, ties="breslow").loglike(beta)
    ref = PHReg(y["time"], X.to_numpy(), status=y["event"].astype(float),
                ties="breslow").loglike(beta)
    assert _breslow_loglik(eta[:, None], y["time"], y["event"])[0] == pytest.approx(ref,
                                                                                     rel=1e-12)


# --------------------------------------------------------------------------- univariate filter
def test_univariate_filter_k_threshold_fdr():
    X, y = _sim(n=150, p=20, seed=2)
    res = cox_score_test(X, y["time"], y["event"])
    by_p = list(res["p"].sort_values(kind="stable").index)
    top3 = list(UnivariateCoxFilter(k=3).fit(X, y).get_feature_names_out())
    assert top3 == [c for c in X.columns if c in by_p[:3]]  # output keeps column order
    assert set(top3) == set(TRUE)
    step = UnivariateCoxFilter(p_threshold=0.05).fit(X, y)
    assert list(step.get_feature_names_out()) == list(res.index[res["p"] < 0.05])
    # Benjamini-Hochberg as statsmodels.multipletests(p, method="fdr_bh")
    q = multipletests(res["p"].to_numpy(), method="fdr_bh")[1]
    fdr = UnivariateCoxFilter(fdr=0.1).fit(X, y)
    assert np.allclose(fdr.scores_["q"].to_numpy(), q)
    assert list(fdr.get_feature_names_out()) == list(res.index[q <= 0.1])
    both = UnivariateCoxFilter(k=2, p_threshold=0.05).fit(X, y)
    expected = [c for c in by_p if res.loc[c, "p"] < 0.05][:2]
    assert list(both.get_feature_names_out()) == [c for c in X.columns if c in expected]


def test_univariate_filter_binary_is_mann_whitney():
    X, label = _sim(n=120, p=6, seed=3, binary=True)
    step = UnivariateCoxFilter(p_threshold=0.01).fit(X, label)
    for col in X.columns:
        # scipy.stats.mannwhitneyu(x[y == 1], x[y == 0], method="asymptotic")
        u, p = stats.mannwhitneyu(X.loc[label == 1, col], X.loc[label == 0, col],
                                  method="asymptotic")
        assert step.scores_.loc[col, "p"] == pytest.approx(p, rel=1e-10)
        assert step.scores_.loc[col, "statistic"] == pytest.approx(
            u / ((label == 1).sum() * (label == 0).sum()))
    assert set(step.get_feature_names_out()) <= set(TRUE) and "x0" in step.get_feature_names_out()


def test_univariate_filter_never_empty_and_params():
    X, y = _sim(n=80, p=5, seed=5)
    noise = X.drop(columns=TRUE)
    with pytest.warns(StatisticalWarning, match="most associated"):
        step = UnivariateCoxFilter(p_threshold=1e-12).fit(noise, y)
    best = association(noise, y)["strength"].idxmax()
    assert list(step.get_feature_names_out()) == [best]
    with pytest.raises(ValueError, match="k=, p_threshold= or fdr="):
        UnivariateCoxFilter().fit(X, y)
    with pytest.raises(ValueError, match="X has 80 rows but y has 79"):
        UnivariateCoxFilter(k=1).fit(X, y[:79])


# --------------------------------------------------------------------------- LASSO
def test_lasso_fixed_penalty_matches_coxnet_on_standardised_columns():
    X, y = _sim(n=150, p=10, seed=6)
    step = LassoCoxSelector(penalty=0.08).fit(X, y)
    Z = StandardScaler().fit_transform(X.to_numpy())
    # scikit-survival's Coxnet converged tightly (its default tol 1e-7 stops ~2e-4 short)
    ref = CoxnetSurvivalAnalysis(l1_ratio=1.0, alphas=[0.08], tol=1e-13,
                                 max_iter=100_000).fit(Z, y).coef_[:, 0]
    assert np.allclose(step.coef_.to_numpy(), ref, atol=1e-6)
    assert list(step.get_feature_names_out()) == list(X.columns[ref != 0])
    assert set(TRUE) <= set(step.get_feature_names_out())
    # KKT conditions of -(1/n) log PL + penalty * |beta|_1 (the documented scaling):
    # PHReg(time, Z, status=event, ties="breslow").score(beta) / n
    beta = step.coef_.to_numpy()
    grad = PHReg(y["time"], Z, status=y["event"].astype(float), ties="breslow").score(beta)
    grad /= len(y)
    on = beta != 0
    assert np.allclose(grad[on], 0.08 * np.sign(beta[on]), atol=1e-9)
    assert np.all(np.abs(grad[~on]) <= 0.08 + 1e-9)


def test_lasso_cv_selects_truth_and_is_reproducible():
    X, y = _sim(n=200, p=15, seed=0)
    a = LassoCoxSelector(random_state=0).fit(X, y)
    b = LassoCoxSelector(random_state=0).fit(X, y)
    assert set(TRUE) <= set(a.get_feature_names_out())
    assert len(a.get_feature_names_out()) <= 10
    assert a.penalty_ == b.penalty_ and a.coef_.equals(b.coef_)
    curve = a.cv_results_
    assert a.penalty_ == curve.loc[curve["cv_deviance"].idxmin(), "penalty"]
    # the CV optimum is inside the path, better than the null model (largest penalty)
    assert curve["cv_deviance"].min() < curve["cv_deviance"].iloc[0]
    top2 = LassoCoxSelector(random_state=0, max_features=2).fit(X, y)
    largest = a.coef_.abs().sort_values(ascending=False, kind="stable").index[:2]
    assert list(top2.get_feature_names_out()) == [c for c in X.columns if c in largest]
    # no censoring is valid (docs/reliability.md #16)
    all_events = Surv.from_arrays(time=y["time"], event=np.ones(len(y)))
    assert set(TRUE) <= set(LassoCoxSelector(random_state=0).fit(X, all_events)
                            .get_feature_names_out())


def test_lasso_nothing_selected_keeps_most_associated():
    X, y = _sim(n=100, p=6, seed=7)
    X["flat"] = 1.0
    with pytest.warns(StatisticalWarning, match="no column has a non-zero coefficient"):
        step = LassoCoxSelector(penalty=50.0).fit(X, y)
    assert list(step.get_feature_names_out()) == [association(X, y)["strength"].idxmax()]
    assert step.coef_["flat"] == 0


def test_lasso_binary_logistic():
    X, label = _sim(n=200, p=10, seed=8, binary=True)
    step = LassoCoxSelector(random_state=1).fit(X, label)
    assert set(TRUE) <= set(step.get_feature_names_out())
    assert np.sign(step.coef_[TRUE].to_numpy()).tolist() == [1.0, -1.0, 1.0]
    # fixed penalty: KKT of (1/n) sum logloss + 0.03 |beta|_1 with an unpenalised intercept
    fixed = LassoCoxSelector(penalty=0.03, random_state=0).fit(X, label)
    Z = StandardScaler().fit_transform(X.to_numpy())
    beta = fixed.coef_.to_numpy()
    b0 = brentq(lambda c: np.mean(expit(c + Z @ beta) - label), -10, 10)
    grad = Z.T @ (expit(b0 + Z @ beta) - label) / len(label)
    on = beta != 0
    assert np.allclose(grad[on], -0.03 * np.sign(beta[on]), atol=2e-3)
    assert np.all(np.abs(grad[~on]) <= 0.03 + 2e-3)
    with pytest.raises(FitError, match="at least 5 rows of each class"):
        LassoCoxSelector().fit(X.iloc[:12], np.r_[np.ones(3), np.zeros(9)].astype(int))


# --------------------------------------------------------------------------- stability
def test_stability_selection_known_truth():
    X, y = _sim(n=200, p=12, seed=9)
    step = StabilitySelector(n_subsamples=20, penalty=0.1, threshold=0.6, random_state=0)
    step.fit(X, y)
    freq = step.selection_frequencies_
    assert (freq[TRUE] >= 0.9).all()
    assert freq.drop(TRUE).mean() < 0.3
    assert np.allclose(freq * 20, np.round(freq * 20))
    assert list(step.get_feature_names_out()) == list(freq.index[freq >= 0.6])
    assert step.error_bound_ == pytest.approx(step.mean_selected_**2 / (0.2 * 12))
    again = StabilitySelector(n_subsamples=20, penalty=0.1, random_state=0).fit(X, y)
    assert again.selection_frequencies_.equals(freq)


def test_stability_penalty_path_takes_max_and_cv_default():
    X, y = _sim(n=160, p=8, seed=10)
    step = StabilitySelector(n_subsamples=8, penalty=[0.05, 0.3], random_state=1).fit(X, y)
    path = step.frequency_path_
    assert list(path.index) == [0.3, 0.05]
    # the same subsamples at a smaller penalty select (weakly) more often
    assert (path.loc[0.05] >= path.loc[0.3]).all()
    assert step.selection_frequencies_.equals(path.max(axis=0).rename("frequency"))
    cv = StabilitySelector(n_subsamples=5, random_state=2).fit(X, y)
    assert cv.penalties_.size == 1 and set(TRUE) <= set(cv.get_feature_names_out())
    binary = StabilitySelector(n_subsamples=5, penalty=0.05, random_state=3).fit(
        *_sim(n=160, p=8, seed=11, binary=True))
    assert (binary.selection_frequencies_[TRUE] >= 0.8).all()


def test_stability_fallback_and_too_few_events():
    X, y = _sim(n=100, p=6, seed=13)
    noise = X.drop(columns=TRUE)
    with pytest.warns(StatisticalWarning, match="no column was selected in at least 100%"):
        step = StabilitySelector(n_subsamples=6, penalty=0.2, threshold=1.0,
                                 random_state=0).fit(noise, y)
    freq = step.selection_frequencies_
    assert len(step.get_feature_names_out()) == 1
    assert freq[step.get_feature_names_out()[0]] == freq.max()
    few = Surv.from_arrays(time=y["time"][:20], event=np.r_[np.ones(3), np.zeros(17)])
    with pytest.raises(FitError, match="too few to fit"):
        StabilitySelector(penalty=0.1).fit(X.iloc[:20], few)


# --------------------------------------------------------------------------- leakage
def _leak_cases():
    X, y = _sim(n=120, p=6, seed=12)
    X["x5"] = X["x0"] + 0.05 * X["x5"]  # a redundant column for the correlation filter
    rep = pd.DataFrame({"lesion_id": np.repeat(np.arange(10), 2),
                        "segmentation": np.tile([1, 2], 10)})
    rng = np.random.default_rng(0)
    for col in X.columns:
        rep[col] = np.repeat(rng.normal(size=10), 2) + rng.normal(0, 0.1 + 0.3 * (col == "x3"),
                                                                   20)
    Xc = X.assign(center=np.tile(["A", "B", "C"], 40), age=np.linspace(40, 80, 120))
    return [
        (Standardize(), X, y),
        (VarianceFilter(threshold=0.9), X, y),
        (CorrelationFilter(threshold=0.8), X, y),
        (ICCFilter(rep, threshold=0.9), X, y),
        (UnivariateCoxFilter(k=2), X, y),
        (LassoCoxSelector(penalty=0.15), X, y),
        (StabilitySelector(n_subsamples=5, penalty=0.15, random_state=0), X, y),
        (ComBat(covariates=("age",)), Xc, y),
    ]


# steps that learn from the outcome (CorrelationFilter keeps the most associated column)
SUPERVISED = (CorrelationFilter, UnivariateCoxFilter, LassoCoxSelector, StabilitySelector)


def _as_cohort(X: pd.DataFrame, y: np.ndarray) -> Cohort:
    """The table as a patient-only Cohort (features + os_time/os_event), ids = X.index."""
    patients = X.assign(os_time=y["time"], os_event=y["event"].astype(int))
    patients.index = pd.Index(X.index.astype(str), name="patient_id")
    return Cohort(patients, patient_features=tuple(c for c in X.columns if c != "center"),
                  endpoints={"os": Endpoint("os", "survival", time="os_time", event="os_event")})


def _fit_on(step, cohort: Cohort, ids):
    """``step`` fitted on the patients ``ids`` of ``cohort`` (features as in the table)."""
    train = cohort.subset(ids)
    X = train.X()
    if "center" in train.patients.columns:
        X = X.assign(center=train.patients["center"])
    return clone(step).fit(X, train.y("os"))


@pytest.mark.parametrize("case", range(8))
def test_transformer_level_leakage(case):
    step, X, y = _leak_cases()[case]
    A, B = np.arange(0, 120, 2), np.arange(1, 120, 2)
    fitted = _fit_on(step, _as_cohort(X, y), X.index[A])
    out_B = fitted.transform(X.iloc[B])
    # B's outcomes are never seen: replace ONLY the held-out rows' outcomes in the data set,
    # refit on A taken from the modified data set: same selection, same output for B
    rng = np.random.default_rng(1)
    cohort = _as_cohort(X, y)
    changed = cohort.patients.copy()
    rows_B = changed.index[B]
    changed.loc[rows_B, "os_time"] = rng.permutation(changed.loc[rows_B, "os_time"].to_numpy())
    changed.loc[rows_B, "os_event"] = 1 - changed.loc[rows_B, "os_event"]
    changed_cohort = dataclasses.replace(cohort, patients=changed)
    y_new = changed_cohort.y("os")
    assert (y_new[A] == y[A]).all() and not (y_new[B] == y[B]).any()
    again = _fit_on(step, changed_cohort, X.index[A])
    assert list(again.get_feature_names_out()) == list(fitted.get_feature_names_out())
    pd.testing.assert_frame_equal(again.transform(X.iloc[B]), out_B, check_exact=True)
    # power: the outcomes of the TRAINING rows are used by the supervised steps
    permuted = y.copy()
    permuted[A] = np.random.default_rng(2).permutation(y[A])
    moved = _fit_on(step, _as_cohort(X, permuted), X.index[A]).transform(X.iloc[B])
    assert moved.equals(out_B) is not isinstance(step, SUPERVISED)
    # a row's output does not depend on the other rows transformed with it
    rows = X.iloc[B].copy()
    feature_cols = [c for c in rows.columns if c not in ("center", "age")]
    rows.iloc[5:, rows.columns.get_indexer(feature_cols)] *= 3.0
    pd.testing.assert_frame_equal(fitted.transform(rows).iloc[:5], out_B.iloc[:5])
    # the output is learned from the training rows: refitting on other rows changes it
    if not isinstance(step, ICCFilter):  # the ICC comes from the repeats table, not X
        other = clone(step).fit(X.iloc[B], y[B]).transform(X.iloc[B])
        assert not other.equals(out_B)
    assert out_B.index.equals(X.index[B])


def test_foreign_convergence_warnings_become_survrad_warnings():
    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning

    def noisy() -> int:
        import warnings

        warnings.warn("Optimization terminated early", SkConvergenceWarning, stacklevel=1)
        return 3

    with pytest.warns(ConvergenceWarning, match="LASSO-Cox: Optimization terminated early"):
        assert rethrow_convergence(noisy, context="LASSO-Cox") == 3


def test_steps_chain_in_a_sklearn_pipeline():
    from sklearn.pipeline import make_pipeline

    X, y = _sim(n=150, p=10, seed=14)
    X["flat"] = 0.0
    X["x0_twin"] = X["x0"] + 0.01 * X["x9"]
    pipe = make_pipeline(VarianceFilter(), CorrelationFilter(threshold=0.95),
                         UnivariateCoxFilter(k=3), Standardize())
    out = pipe.fit(X.iloc[:100], y[:100]).transform(X.iloc[100:])
    assert out.shape == (50, 3) and out.index.equals(X.index[100:])
    assert "flat" not in out.columns
    assert len({"x0", "x0_twin"} & set(out.columns)) == 1
    assert list(pipe.get_feature_names_out()) == list(out.columns)
    with pytest.raises(FitError, match="every column is constant"):
        LassoCoxSelector(penalty=0.1).fit(X[["flat"]], y)


def test_elastic_net_mixing():
    X, y = _sim(n=150, p=8, seed=15)
    X["x0_twin"] = X["x0"] + 0.05 * np.random.default_rng(0).normal(size=len(X))
    lasso = LassoCoxSelector(penalty=0.05).fit(X, y)
    enet = LassoCoxSelector(penalty=0.05, l1_ratio=0.3).fit(X, y)
    # the ridge part spreads weight over correlated twins instead of picking one
    assert enet.coef_[["x0", "x0_twin"]].ne(0).all()
    assert abs(enet.coef_["x0"] - enet.coef_["x0_twin"]) < abs(
        lasso.coef_["x0"] - lasso.coef_["x0_twin"])
    Xb, label = _sim(n=150, p=8, seed=16, binary=True)
    binary = LassoCoxSelector(penalty=0.02, l1_ratio=0.5, random_state=0).fit(Xb, label)
    assert set(TRUE) <= set(binary.get_feature_names_out())
    with pytest.raises(ValueError, match="l1_ratio must be > 0"):
        LassoCoxSelector(l1_ratio=0.0).fit(X, y)

"""Standardize, VarianceFilter and CorrelationFilter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler

from survrad.data.outcome import Surv
from survrad.exceptions import FitError, NotFittedError, SchemaError
from survrad.features import CorrelationFilter, Standardize, VarianceFilter


def _frame(n: int = 50, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(3, 2, size=(n, 4)), columns=list("abcd"),
                        index=[f"P{i}" for i in range(n)])


# --------------------------------------------------------------------------- Standardize
def test_standardize_matches_sklearn_and_uses_training_rows():
    X = _frame()
    X["huge"] = 1e9 + np.random.default_rng(1).normal(size=len(X))  # docs/reliability.md #24
    train, test = X.iloc[:30], X.iloc[30:]
    ours = Standardize().fit(train).transform(test)
    ref = StandardScaler().fit(train.to_numpy()).transform(test.to_numpy())
    assert np.allclose(ours.to_numpy(), ref, atol=1e-9)
    assert ours.index.equals(test.index) and list(ours.columns) == list(X.columns)
    assert ours["huge"].std() > 0.5


def test_standardize_constant_column():
    X = _frame().assign(flat=7.0, roundoff=0.1 + 0.2)
    X.iloc[::2, X.columns.get_loc("roundoff")] = 0.3  # 0.1 + 0.2 != 0.3 in binary
    with pytest.raises(FitError, match=r"flat.*roundoff") as err:
        Standardize().fit(X)
    assert err.value.columns == ["flat", "roundoff"]
    step = Standardize(constant="passthrough").fit(X)
    out = step.transform(X)
    assert step.constant_columns_ == ["flat", "roundoff"]
    assert (out["flat"] == 7.0).all()
    assert abs(out["a"].mean()) < 1e-12


def test_standardize_column_checks():
    X = _frame()
    step = Standardize().fit(X)
    with pytest.raises(SchemaError, match="missing 'd'"):
        step.transform(X.drop(columns="d"))
    # same columns in another order are realigned to the training order
    assert list(step.transform(X[list("dcba")]).columns) == list("abcd")
    bad = X.assign(b=X["b"].astype(object))
    bad.iloc[3, 1] = "<0.5"
    with pytest.raises(SchemaError, match=r"not numeric.*P3"):
        Standardize().fit(bad)
    with pytest.raises(NotFittedError):
        Standardize().transform(X)


# --------------------------------------------------------------------------- VarianceFilter
def test_variance_filter_rules():
    rng = np.random.default_rng(2)
    n = 60
    X = pd.DataFrame({
        "ok": rng.normal(size=n),
        "const": np.full(n, 4.2),
        "tiny": 1.0 + rng.normal(0, 1e-6, n),            # variance 1e-12 <= 1e-8
        "huge": 1e9 + rng.normal(size=n),                 # not constant (docs/reliability.md #24)
        "rare": np.r_[1.0, np.zeros(n - 1)],              # 59:1 ratio, 2 distinct of 60
        "binary": np.tile([0.0, 0.0, 0.0, 1.0], n // 4),  # 3:1 ratio
    })
    step = VarianceFilter().fit(X)
    assert step.dropped_ == {"const": "constant", "tiny": "variance"}
    caret = VarianceFilter(freq_ratio=95 / 5).fit(X)
    # caret::nearZeroVar(freqCut = 95/5, uniqueCut = 10): freqRatio 59 and 3.33 % unique
    assert caret.dropped_["rare"] == "frequency"
    assert "binary" not in caret.dropped_
    assert list(caret.transform(X).columns) == ["ok", "huge", "binary"]
    assert list(VarianceFilter(threshold=0.0).fit(X).get_feature_names_out()) == [
        "ok", "tiny", "huge", "rare", "binary"]


def test_variance_filter_constant_inside_resample():
    X = _frame().assign(flag=0.0)
    X.iloc[45:, X.columns.get_loc("flag")] = 1.0
    step = VarianceFilter().fit(X.iloc[:40])  # the flag is constant in these training rows
    out = step.transform(X)
    assert "flag" not in out.columns and len(out) == len(X)
    assert "flag" in VarianceFilter().fit(X).get_feature_names_out()


# --------------------------------------------------------------------------- CorrelationFilter
def _pairs(seed: int = 3, n: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    """a ~ b (r ~ 0.99) and c ~ d (r ~ 0.95); the outcome depends on b and, less, on d."""
    rng = np.random.default_rng(seed)
    s1, s2 = rng.normal(size=n), rng.normal(size=n)
    X = pd.DataFrame({"a": s1 + 0.1 * rng.normal(size=n), "b": s1 + 0.1 * rng.normal(size=n),
                      "c": s2 + 0.2 * rng.normal(size=n), "d": s2 + 0.2 * rng.normal(size=n)})
    eta = (X["b"] + 4.0 * (X["b"] - X["a"]) + 0.5 * X["d"] + 2.0 * (X["d"] - X["c"])).to_numpy()
    return X, eta


def test_correlation_filter_keeps_most_associated_survival_and_binary():
    X, eta = _pairs()
    rng = np.random.default_rng(4)
    y = Surv.from_arrays(time=rng.exponential(np.exp(-eta)), event=rng.random(len(X)) < 0.8)
    step = CorrelationFilter(threshold=0.9).fit(X, y)
    assert list(step.get_feature_names_out()) == ["b", "d"]
    assert step.dropped_["a"][0] == "b" and step.dropped_["c"][0] == "d"
    assert step.dropped_["a"][1] > 0.9
    label = (eta + rng.logistic(size=len(X)) > 0).astype(int)
    binary = CorrelationFilter(threshold=0.9, method="pearson").fit(X, label)
    assert list(binary.get_feature_names_out()) == ["b", "d"]
    for kept, dropped in (("b", "a"), ("d", "c")):
        strength = binary.association_["strength"]
        assert strength[kept] > strength[dropped]
    # without an outcome every column ties: column order decides
    assert list(CorrelationFilter(threshold=0.9).fit(X).get_feature_names_out()) == ["a", "c"]


def test_correlation_filter_greedy_chain_known_answer():
    # x ~ y and y ~ z (r = 0.707 > 0.6) but x, z uncorrelated (r = 0)
    u = np.array([1.0, -1, 1, -1, 2, -2, 0.5, -0.5])
    w = np.array([1.0, 1, -1, -1, 0.5, -0.5, -2, 2])
    assert abs(np.corrcoef(u, w)[0, 1]) < 1e-12
    X = pd.DataFrame({"x": u, "y": (u + w) / np.sqrt(2), "z": w})
    # outcome driven by y: y is kept, x and z are both represented by it
    lab_y = (X["y"] > 0).astype(int).to_numpy()
    step = CorrelationFilter(threshold=0.6, method="pearson").fit(X, lab_y)
    assert list(step.get_feature_names_out()) == ["y"]
    # outcome driven by x (and -z): x first, z is uncorrelated with x so kept, y dropped
    lab_x = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    assert X.corrwith(pd.Series(lab_x)).abs().idxmax() == "x"
    step = CorrelationFilter(threshold=0.6, method="pearson").fit(X, lab_x)
    assert list(step.get_feature_names_out()) == ["x", "z"]
    assert step.dropped_ == {"y": ("x", pytest.approx(1 / np.sqrt(2)))}


def test_correlation_filter_ties_and_matrix():
    X, _ = _pairs()
    X["a_copy"] = X["a"]
    X["flat"] = 1.0
    step = CorrelationFilter(threshold=0.95, method="spearman").fit(X)
    kept = list(step.get_feature_names_out())
    assert kept[0] == "a" and "a_copy" not in kept and "flat" in kept
    corr = X.drop(columns="flat").corr(method="spearman").abs()
    for i in kept:
        for j in kept:
            if i != j and "flat" not in (i, j):
                assert corr.loc[i, j] <= 0.95


def test_filters_clone_and_refit_forget():
    X, _ = _pairs()
    step = CorrelationFilter(threshold=0.5)
    assert clone(step).get_params() == {"threshold": 0.5, "method": "spearman"}
    step.fit(X)
    first = list(step.get_feature_names_out())
    step.fit(X[["c", "d"]])
    assert first == ["a", "c"] and list(step.get_feature_names_out()) == ["c"]
    assert list(step.feature_names_in_) == ["c", "d"]

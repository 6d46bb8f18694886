"""scikit-learn interop: ``score`` on every model, survival scorers, NotFittedError,
keyword-only ``Surv.from_arrays``."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn.exceptions
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.utils.validation import check_is_fitted

from survrad.data.outcome import Surv
from survrad.evaluation import (
    brier_score,
    concordance_index,
    integrated_auc,
    integrated_brier_score,
    make_survival_scorer,
    time_dependent_auc,
    uno_concordance_index,
)
from survrad.exceptions import NotFittedError, SurvradDeprecationWarning
from survrad.models import CoxModel, ForestClassifier, LogisticModel, SurvivalForest

HORIZONS = [0.5, 1.0]


@pytest.fixture(scope="module")
def survival():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=240), "b": rng.normal(size=240),
                      "c": rng.normal(size=240)})
    t = rng.exponential(np.exp(-(0.8 * X["a"] - 0.4 * X["b"])))
    c = rng.uniform(0.5, 4.0, 240)
    y = Surv.from_arrays(time=np.minimum(t, c), event=t <= c)
    return X, y


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (rng.random(200) < 1 / (1 + np.exp(-1.2 * X["a"]))).astype(int)
    return X, y


# ----------------------------------------------------------------------------- score
def test_grid_search_over_cox_penalty_needs_no_scorer(survival):
    X, y = survival
    search = GridSearchCV(CoxModel(), {"penalty": [0.01, 0.1]}, cv=3).fit(X, y)
    assert search.best_params_["penalty"] in (0.01, 0.1)
    assert 0.6 < search.best_score_ < 0.9
    # the score of a fold is Harrell's C of the linear predictor on that fold
    train, test = next(KFold(3).split(X))
    model = CoxModel(penalty=0.01).fit(X.iloc[train], y[train])
    c = concordance_index(y["time"][test], y["event"][test], model.predict(X.iloc[test]))
    assert model.score(X.iloc[test], y[test]) == c
    assert search.cv_results_["split0_test_score"][0] == c


def test_cross_val_score_of_a_forest_needs_no_scorer(survival):
    X, y = survival
    scores = cross_val_score(SurvivalForest(n_estimators=20, random_state=0), X, y, cv=3)
    assert scores.shape == (3,) and np.all((scores > 0.55) & (scores < 0.95))
    forest = SurvivalForest(n_estimators=20, random_state=0).fit(X, y)
    assert forest.score(X, y) == concordance_index(y["time"], y["event"], forest.predict(X))


def test_binary_models_score_is_the_auc(binary):
    X, y = binary
    for model in (LogisticModel(), ForestClassifier(n_estimators=20, random_state=0)):
        model.fit(X, y)
        assert model.score(X, y) == pytest.approx(
            roc_auc_score(y, model.predict_proba(X)[:, 1]), abs=1e-12)
    scores = cross_val_score(LogisticModel(), X, y, cv=3)
    assert np.all(scores > 0.6)


# --------------------------------------------------------------------------- scorers
@pytest.mark.parametrize(("metric", "kwargs"), [
    ("uno_c", {}), ("uno_c", {"tau": 1.5}), ("td_auc", {"times": [1.0]}),
    ("td_auc", {"times": HORIZONS}), ("brier", {"times": [1.0]}),
    ("brier", {"times": HORIZONS}), ("harrell_c", {})])
def test_scorer_equals_the_metric(survival, metric, kwargs):
    X, y = survival
    model = CoxModel().fit(X.iloc[:160], y[:160])
    Xt, yt = X.iloc[160:], y[160:]
    risk = model.predict(Xt)
    value = make_survival_scorer(metric, **kwargs)(model, Xt, yt)
    t, e = yt["time"], yt["event"]
    times = kwargs.get("times")
    expected = {
        "uno_c": lambda: uno_concordance_index(t, e, risk, tau=kwargs.get("tau")),
        "harrell_c": lambda: concordance_index(t, e, risk),
        "td_auc": lambda: (time_dependent_auc(yt, yt, risk, times)[0] if len(times) == 1
                           else integrated_auc(yt, yt, risk, times)),
        "brier": lambda: -(brier_score(yt, yt, model.predict_survival_function(Xt, times),
                                       times)[0] if len(times) == 1 else
                           integrated_brier_score(yt, yt, model.predict_survival_function(
                               Xt, times), times)),
    }[metric]()
    assert value == pytest.approx(expected, rel=1e-12)
    assert metric in repr(make_survival_scorer(metric, **kwargs))


def test_scorer_in_grid_search_and_pickled(survival):
    X, y = survival
    scorer = make_survival_scorer("brier", times=HORIZONS)
    assert pickle.loads(pickle.dumps(scorer)) == scorer             # joblib workers
    search = GridSearchCV(CoxModel(), {"penalty": [0.01, 1.0]}, cv=3, scoring=scorer)
    search.fit(X, y)
    assert np.all(search.cv_results_["mean_test_score"] < 0)       # minus the IBS
    # a heavy ridge shrinks to the null model: worse (larger) Brier score
    assert search.best_params_ == {"penalty": 0.01}
    uno = GridSearchCV(SurvivalForest(n_estimators=10, random_state=0),
                       {"min_samples_leaf": [5, 20]}, cv=3,
                       scoring=make_survival_scorer("uno_c")).fit(X, y)
    assert 0.55 < uno.best_score_ < 0.95


def test_scorer_arguments_are_checked():
    with pytest.raises(ValueError, match="needs times="):
        make_survival_scorer("td_auc")
    with pytest.raises(ValueError, match="takes no times"):
        make_survival_scorer("uno_c", times=[1.0])
    with pytest.raises(ValueError, match="strictly increasing"):
        make_survival_scorer("brier", times=[2.0, 1.0])
    with pytest.raises(ValueError, match="tau truncates Uno's C only"):
        make_survival_scorer("brier", times=[1.0], tau=2.0)
    with pytest.raises(ValueError, match="Did you mean 'uno_c'"):
        make_survival_scorer("uno-c")


# ---------------------------------------------------------------- NotFittedError, clone
def test_not_fitted_error_is_sklearns(survival):
    X, _ = survival
    assert issubclass(NotFittedError, sklearn.exceptions.NotFittedError)
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)
    for model in (CoxModel(), SurvivalForest(), LogisticModel(), ForestClassifier()):
        with pytest.raises(sklearn.exceptions.NotFittedError):
            check_is_fitted(model)
        method = model.predict if hasattr(model, "predict") else model.predict_proba
        with pytest.raises(sklearn.exceptions.NotFittedError, match="not fitted"):
            method(X)
    try:                                    # code written for scikit-learn catches ours
        CoxModel().summary()
    except sklearn.exceptions.NotFittedError as exc:
        assert isinstance(exc, NotFittedError)


def test_fitted_models_pass_check_is_fitted_and_clone(survival):
    X, y = survival
    model = CoxModel(penalty=0.1, ci_level=0.9).fit(X, y)
    check_is_fitted(model)
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert not hasattr(twin, "coef_") and repr(twin) == "CoxModel(ci_level=0.9, penalty=0.1)"


# ---------------------------------------------------------------- Surv.from_arrays
def test_from_arrays_takes_keywords():
    y = Surv.from_arrays(time=[4.0, 2.0], event=[1, 0])
    assert y["time"].tolist() == [4.0, 2.0] and y["event"].tolist() == [True, False]
    with pytest.raises(TypeError, match=r"time= and event="):
        Surv.from_arrays(time=[4.0, 2.0])


def test_positional_from_arrays_is_deprecated_in_survrads_old_order():
    with pytest.warns(SurvradDeprecationWarning, match="pass keywords"):
        y = Surv.from_arrays([4.0, 2.0], [1, 0])
    assert y["time"].tolist() == [4.0, 2.0]
    with pytest.warns(SurvradDeprecationWarning):
        assert Surv.from_arrays([4.0, 2.0], event=[1, 0])["time"].tolist() == [4.0, 2.0]


@pytest.mark.parametrize("event", [[True, False, True], [1, 0, 1]])
def test_scikit_survival_positional_order_is_refused_not_swapped(event):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match="scikit-survival's positional order"):
            Surv.from_arrays(event, [4.0, 2.5, 7.0])


def test_from_arrays_positional_misuse():
    with pytest.raises(TypeError, match="keywords"):
        Surv.from_arrays([1.0], [1], [0])
    with pytest.raises(TypeError, match="keywords"):
        Surv.from_arrays([1.0, 2.0], time=[1.0, 2.0])

"""survrad.models._trees: forests growing cached-parameter trees give the library's numbers.

Truth used: scikit-survival's RandomSurvivalForest and scikit-learn's
RandomForestClassifier with their default trees, same data and seed: every prediction
must be equal bit for bit (the change is bookkeeping only).
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sksurv.ensemble import RandomSurvivalForest

from survrad.data.outcome import Surv
from survrad.models._trees import random_forest_classifier, random_survival_forest
from survrad.models.forest import SurvivalForest, sklearn_seed
from survrad.models.response import ForestClassifier


def _data(n=150, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"),
                     index=[f"P{i}" for i in range(n)])
    lp = X["a"].to_numpy() - 0.5 * X["b"].to_numpy()
    t = rng.exponential(np.exp(-lp))
    c = rng.exponential(2.0, size=n)
    y = Surv.from_arrays(time=np.minimum(t, c), event=t <= c)
    return X, y, (lp + rng.logistic(size=n) > 0).astype(int)


def test_survival_forest_identical_to_library_forest():
    X, y, _ = _data()
    model = SurvivalForest(n_estimators=20, min_samples_leaf=5, low_memory=False,
                           random_state=3).fit(X, y)
    # the library's forest, as SurvivalForest builds it (standardised float64 design)
    A = (X.to_numpy() - model.center_) / model.scale_
    yy = np.empty(len(X), dtype=[("event", "?"), ("time", "<f8")])
    yy["event"], yy["time"] = y["event"], y["time"]
    ref = RandomSurvivalForest(n_estimators=20, min_samples_leaf=5, max_features="sqrt",
                               low_memory=False, random_state=sklearn_seed(3),
                               n_jobs=1).fit(A, yy)
    assert type(model.forest_.estimators_[0]).__name__ == "_SurvivalTree"
    np.testing.assert_array_equal(model.predict(X), ref.predict(A))
    times = [0.5, 1.0, 2.0]
    surv = ref.predict_survival_function(A, return_array=True)
    idx = np.searchsorted(ref.unique_times_, times, side="right") - 1
    np.testing.assert_array_equal(model.predict_survival_function(X, times), surv[:, idx])


def test_forest_classifier_identical_to_library_forest():
    X, _, yb = _data(seed=1)
    model = ForestClassifier(n_estimators=20, random_state=5).fit(X, yb)
    A = (X.to_numpy() - model.center_) / model.scale_
    ref = RandomForestClassifier(n_estimators=20, min_samples_leaf=5, max_features="sqrt",
                                 random_state=sklearn_seed(5), n_jobs=1).fit(A, yb)
    assert type(model.forest_.estimators_[0]).__name__ == "_DecisionTreeClassifier"
    np.testing.assert_array_equal(model.predict_proba(X), ref.predict_proba(A))


def test_factories_pickle_and_clone():
    X, y, yb = _data(n=60, seed=2)
    A = X.to_numpy()
    yy = np.empty(len(X), dtype=[("event", "?"), ("time", "<f8")])
    yy["event"], yy["time"] = y["event"], y["time"]
    for forest, target in ((random_survival_forest(n_estimators=3, random_state=0), yy),
                           (random_forest_classifier(n_estimators=3, random_state=0), yb)):
        forest.fit(A, target)
        again = pickle.loads(pickle.dumps(forest))
        np.testing.assert_array_equal(again.predict(A), forest.predict(A))
        # clone gives the library's forest (the tree is no parameter): same numbers
        np.testing.assert_array_equal(clone(forest).fit(A, target).predict(A),
                                      forest.predict(A))
        assert clone(forest).get_params() == forest.get_params()

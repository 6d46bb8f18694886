"""Forests whose trees read their constructor's parameter names once (layer 4, private).

scikit-learn grows every tree of a forest from ``clone(forest.estimator)``, then
``set_params`` and a random-state ``set_params``: each of these calls ``get_params``, which
reads ``inspect.signature(tree_class.__init__)`` again. For the small trees of a study
(300 patients, ``min_samples_leaf`` 5-15) that bookkeeping was about a sixth of the
forest's fitting time (measured on the demo: 100-tree scikit-survival forest 0.60 -> 0.50 s,
scikit-learn classifier forest 0.21 -> 0.17 s). The trees below are the same classes with
:class:`~survrad._validation.CachedParamNames`: the same algorithm on the same random
states, so the fitted forests and every prediction are identical (tested bit for bit).

Only the estimator the forest clones its trees from changes (``forest.estimator``, which
scikit-learn forests fix in their constructor and do not list among their parameters, so
``clone(forest)`` gives back the library's default tree).
"""

from __future__ import annotations

from typing import Any

from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier
from sksurv.ensemble import RandomSurvivalForest
from sksurv.tree import SurvivalTree

from survrad._validation import CachedParamNames

__all__ = ["random_forest_classifier", "random_survival_forest"]


class _DecisionTreeClassifier(CachedParamNames, DecisionTreeClassifier):
    """scikit-learn's tree, its parameter names read once."""


class _SurvivalTree(CachedParamNames, SurvivalTree):
    """scikit-survival's tree, its parameter names read once."""


def _with_tree(forest: Any, tree: Any) -> Any:
    if not isinstance(tree, type(forest.estimator)):  # pragma: no cover - library change
        raise TypeError(f"{type(forest).__name__} grows {type(forest.estimator).__name__} "
                        f"trees, not {type(tree).__bases__[-1].__name__}: the installed "
                        "library changed; survrad needs an update.")
    forest.estimator = tree
    return forest


def random_survival_forest(**params: Any) -> RandomSurvivalForest:
    """``sksurv.ensemble.RandomSurvivalForest(**params)`` growing cached-parameter trees.

    Examples
    --------
    >>> import numpy as np
    >>> from sksurv.ensemble import RandomSurvivalForest
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2))
    >>> y = np.array(list(zip(rng.random(40) < 0.7, rng.exponential(size=40))),
    ...              dtype=[("event", "?"), ("time", "<f8")])
    >>> a = random_survival_forest(n_estimators=5, random_state=0).fit(X, y)
    >>> b = RandomSurvivalForest(n_estimators=5, random_state=0).fit(X, y)
    >>> bool((a.predict(X) == b.predict(X)).all())
    True
    """
    return _with_tree(RandomSurvivalForest(**params), _SurvivalTree())


def random_forest_classifier(**params: Any) -> RandomForestClassifier:
    """``sklearn.ensemble.RandomForestClassifier(**params)`` growing cached-parameter trees.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 2)), np.arange(40) % 2
    >>> a = random_forest_classifier(n_estimators=5, random_state=0).fit(X, y)
    >>> b = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    >>> bool((a.predict_proba(X) == b.predict_proba(X)).all())
    True
    """
    return _with_tree(RandomForestClassifier(**params), _DecisionTreeClassifier())

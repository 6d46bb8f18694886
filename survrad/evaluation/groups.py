"""Risk groups and ROC curves: what the report's survival and ROC figures show (layer 5).

- :func:`risk_groups_from_training`: groups of test scores from quantile cut-points of the
  TRAINING scores (never tuned on the data they are shown on);
- :func:`risk_group_survival`: Kaplan-Meier curves per group (log-scale pointwise
  intervals, as R's ``survfit``), numbers at risk, the log-rank test (R's ``survdiff``) and
  the hazard ratio of every group against the first (Cox model on group indicators);
- :func:`roc_curve`: false and true positive rates of a binary prediction and its AUC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad._math.ticks import nice_ticks
from survrad._validation import check_fraction, check_int, finite_array
from survrad.data.outcome import Surv, check_binary, check_event, check_time
from survrad.evaluation.nonparametric import kaplan_meier, logrank_test
from survrad.evaluation.results import RiskGroupSurvival, RocCurve
from survrad.exceptions import FitError, SchemaError
from survrad.models.cox import CoxModel

__all__ = ["group_names", "risk_group_survival", "risk_groups_from_training", "roc_curve"]

_DEFAULT_LABELS = {2: ("Low", "High"), 3: ("Low", "Intermediate", "High")}


def risk_groups_from_training(train_risk: Any, test_risk: Any, n_groups: int = 3, *,
                              labels: Sequence[str] | None = None) -> pd.Categorical:
    """Risk groups of ``test_risk`` from quantile cut-points of ``train_risk``.

    The cut-points are the ``1/n_groups, ..., (n_groups-1)/n_groups`` quantiles of the
    TRAINING risk scores (numpy's default, R's ``quantile(type = 7)``); the test scores
    are only classified, so the grouping is not tuned on the data it is shown on. A score
    equal to a cut-point goes to the lower group.

    Parameters
    ----------
    train_risk : array-like of shape (n_train,)
        Risk scores (higher = riskier) of the training patients.
    test_risk : array-like of shape (n_test,)
        Risk scores to classify.
    n_groups : int, default 3
    labels : sequence of str, optional
        Group names from lowest to highest risk. Default ``("Low", "High")`` for 2,
        ``("Low", "Intermediate", "High")`` for 3, ``Q1..Qk`` otherwise.

    Returns
    -------
    pandas.Categorical
        Ordered categories, lowest risk first.

    Raises
    ------
    ValueError
        Non-finite scores, or tied training scores that make two cut-points equal.

    Examples
    --------
    >>> g = risk_groups_from_training([1, 2, 3, 4, 5, 6], [0.5, 3.6, 9], n_groups=2)
    >>> list(g)
    ['Low', 'High', 'High']
    """
    n_groups = check_int("n_groups", n_groups, min_value=2)
    train = finite_array(train_risk, "train_risk")
    test = finite_array(test_risk, "test_risk")
    if labels is None:
        labels = _DEFAULT_LABELS.get(n_groups, tuple(f"Q{i + 1}" for i in range(n_groups)))
    labels = [str(lab) for lab in labels]
    if len(labels) != n_groups or len(set(labels)) != n_groups:
        raise ValueError(f"labels must be {n_groups} distinct names, got {labels}.")
    cuts = np.quantile(train, np.arange(1, n_groups) / n_groups)
    if np.any(np.diff(cuts) <= 0) or train.size < n_groups:
        raise ValueError(
            f"the training risk scores do not give {n_groups} distinct groups (cut-points "
            f"{cuts.tolist()} from {train.size} scores, many tied); use fewer groups.")
    codes = np.searchsorted(cuts, test, side="left")
    return pd.Categorical.from_codes(codes, categories=labels, ordered=True)


def group_names(n_groups: int) -> list[str]:
    """Names of risk groups 1..n, lowest risk first (Low / Intermediate / High for 3)."""
    return list(_DEFAULT_LABELS.get(n_groups, [f"Group {k}" for k in range(1, n_groups + 1)]))


def _group_codes(group: Any, n: int, group_order: Sequence[Any] | None
                 ) -> tuple[np.ndarray, list]:
    g = pd.Series(group)
    if len(g) != n:
        raise SchemaError(f"group has {len(g)} values but time has {n}.")
    if g.isna().any():
        raise SchemaError("group is missing for some subjects; every subject needs a group.",
                          ids=[f"row {i + 1}" for i in np.flatnonzero(g.isna().to_numpy())])
    if group_order is None:
        if isinstance(g.dtype, pd.CategoricalDtype):
            order = [c for c in g.cat.categories if (g == c).any()]
        else:
            order = sorted(g.unique().tolist(), key=lambda v: (str(type(v)), v))
    else:
        order = list(group_order)
        unknown = sorted(set(g.unique().tolist()) - set(order), key=str)
        empty = [o for o in order if not (g == o).any()]
        if unknown or empty:
            raise SchemaError(
                f"group_order {order} does not match the groups in the data: labels not in "
                f"group_order {unknown}, groups without subjects {empty}.")
    codes = np.empty(n, dtype=np.intp)
    for i, label in enumerate(order):
        codes[(g == label).to_numpy()] = i
    return codes, order


def _hazard_ratios(time: np.ndarray, event: np.ndarray, codes: np.ndarray, order: list,
                   ci_level: float) -> tuple[pd.DataFrame | None, str]:
    """HR of every group against the first one (Cox model on group indicators)."""
    X = pd.DataFrame({f"{order[k]} vs {order[0]}": (codes == k).astype(float)
                      for k in range(1, len(order))})
    try:
        # a descriptive HR between groups: fitted whatever the events per group
        model = CoxModel(ci_level=ci_level, min_epv=0).fit(
            X, Surv.from_arrays(time=time, event=event))
    except (FitError, SchemaError) as exc:
        return None, str(exc)
    s = model.summary().to_frame()
    out = pd.DataFrame({"group": [str(o) for o in order[1:]],
                        "reference": str(order[0]),
                        "hr": np.asarray(s["hr"], dtype=float),
                        "hr_ci_low": np.asarray(s["hr_ci_low"], dtype=float),
                        "hr_ci_high": np.asarray(s["hr_ci_high"], dtype=float),
                        "p": np.asarray(s["p"], dtype=float),
                        "estimable": np.asarray(s["estimable"], dtype=bool)})
    return out, ""


def risk_group_survival(time: Any, event: Any, group: Any, *,
                        group_order: Sequence[Any] | None = None,
                        at_risk_times: Any = None, ci_level: float = 0.95
                        ) -> RiskGroupSurvival:
    """Kaplan-Meier curves, numbers at risk, log-rank test and hazard ratios per group.

    Parameters
    ----------
    time, event : array-like of shape (n,)
        Follow-up time and event indicator (1 = event).
    group : array-like of shape (n,)
        Group of each subject, e.g. from :func:`risk_groups_from_training`.
    group_order : sequence, optional
        Groups from lowest to highest risk. Default: the categories of a Categorical
        ``group``, else the sorted labels. The hazard ratios compare every group with
        the first.
    at_risk_times : array-like, optional
        Times of the numbers-at-risk table. Default: round times from 0 to the last
        follow-up.
    ci_level : float, default 0.95
        Level of the pointwise (log-scale, as R's ``survfit``) and HR intervals.

    Returns
    -------
    RiskGroupSurvival

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> grp = np.repeat(["Low", "High"], 50)
    >>> t = rng.exponential(np.where(grp == "High", 5.0, 15.0))
    >>> res = risk_group_survival(t, np.ones(100), grp, group_order=["Low", "High"])
    >>> res.groups, bool(res.logrank.p < 0.01)
    (('Low', 'High'), True)
    """
    t, e = check_time(time, column="time"), check_event(event, column="event")
    if t.shape != e.shape:
        raise SchemaError(f"time and event differ in length: {t.size} vs {e.size}.")
    ci_level = check_fraction("ci_level", ci_level)
    codes, order = _group_codes(group, t.size, group_order)
    curves = tuple(kaplan_meier(t[codes == k], e[codes == k], ci_level=ci_level)
                   for k in range(len(order)))
    times = (nice_ticks(0.0, float(t.max())) if at_risk_times is None
             else finite_array(at_risk_times, "at_risk_times"))
    if np.any(times < 0) or np.any(np.diff(times) <= 0):
        raise ValueError(f"at_risk_times must be increasing and >= 0, got {times}.")
    names = tuple(str(o) for o in order)
    at_risk = pd.DataFrame([km.n_risk_at(times) for km in curves], index=list(names),
                           columns=times)
    logrank, hr, note = None, None, ""
    if len(order) > 1:
        logrank = logrank_test(t, e, codes)
        hr, note = _hazard_ratios(t, e, codes, order, ci_level)
    return RiskGroupSurvival(curves, names, at_risk, logrank, hr, note, ci_level)


def roc_curve(y: Any, prob: Any) -> RocCurve:
    """ROC curve of a binary prediction (scikit-learn's thresholds) and its AUC.

    Examples
    --------
    >>> roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]).auc
    0.75
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.metrics import roc_curve as _roc

    target = check_binary(y, column="y")
    p = finite_array(prob, "prob")
    fpr, tpr, _ = _roc(target, p)
    return RocCurve(fpr=np.asarray(fpr, float), tpr=np.asarray(tpr, float),
                    auc=float(roc_auc_score(target, p)))

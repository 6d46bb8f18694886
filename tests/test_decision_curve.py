"""Decision curves held to the Python ``dcurves`` package (test-only oracle) and to hand sums.

``dcurves.dca`` is run on its own bundled data (binary ``df_binary.csv``, survival
``df_surv.csv`` at 1.5 years) and on the lung data (Cox model risk of death by 365 days).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest

from survrad.data.outcome import Surv
from survrad.datasets import load_dataset
from survrad.evaluation.decision import (
    DecisionCurve,
    NetBenefitPoint,
    decision_curve,
    net_benefit,
)
from survrad.exceptions import SchemaError
from survrad.models import CoxModel

dcurves = pytest.importorskip("dcurves")
THRESHOLDS = np.round(np.arange(0.0, 0.99, 0.01), 2)
SURV_THRESHOLDS = np.round(np.arange(0.0, 0.99, 0.03), 2)   # dcurves' survival DCA is slow


def run_dca(data: pd.DataFrame, model: str, thresholds: np.ndarray,
            **kw) -> tuple[np.ndarray, np.ndarray]:
    """dcurves' net benefit of ``model`` and of "all" at ``thresholds``."""
    with warnings.catch_warnings():      # pandas FutureWarnings inside dcurves
        warnings.simplefilter("ignore")
        res = dcurves.dca(data=data, outcome=kw.pop("outcome"), modelnames=[model],
                          thresholds=thresholds, **kw)
    pick = lambda name: res.loc[res["model"] == name, "net_benefit"].to_numpy(float)  # noqa: E731
    return pick(model), pick("all")


def test_binary_matches_dcurves():
    # dca(data = df_binary, outcome = "cancer", modelnames = ["cancerpredmarker"])
    d = pd.read_csv(os.path.join(dcurves.data, "df_binary.csv"))
    theirs, theirs_all = run_dca(d, "cancerpredmarker", THRESHOLDS, outcome="cancer")
    dc = decision_curve(d["cancer"].astype(int), d["cancerpredmarker"], THRESHOLDS)
    np.testing.assert_allclose(dc.net_benefit, theirs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dc.treat_all, theirs_all, rtol=0, atol=1e-12)
    assert dc.event_rate == d["cancer"].mean()
    np.testing.assert_array_equal(dc.n_above, [(d["cancerpredmarker"] >= t).sum()
                                               for t in THRESHOLDS])


@pytest.mark.slow      # dcurves fits a lifelines Kaplan-Meier per threshold: ~5 s
def test_survival_matches_dcurves_where_both_are_defined():
    # dca(data = df_surv, outcome = "cancer", modelnames = ["cancerpredmarker"],
    #     time = 1.5, time_to_outcome_col = "ttcancer")
    d = pd.read_csv(os.path.join(dcurves.data, "df_surv.csv"))
    theirs, theirs_all = run_dca(d, "cancerpredmarker", SURV_THRESHOLDS, outcome="cancer",
                                 time=1.5, time_to_outcome_col="ttcancer")
    y = Surv.from_arrays(time=d["ttcancer"], event=d["cancer"].astype(int))
    dc = decision_curve(y, d["cancerpredmarker"], SURV_THRESHOLDS, horizon=1.5)
    np.testing.assert_allclose(dc.treat_all, theirs_all, rtol=0, atol=1e-12)
    both = np.isfinite(theirs) & np.isfinite(dc.net_benefit)
    assert both.sum() >= 15
    np.testing.assert_allclose(dc.net_benefit[both], theirs[both], rtol=0, atol=1e-12)
    # Convention difference: where dcurves gives NaN and we do not, the positives were all
    # followed to their event before 1.5 years, so their Kaplan-Meier risk is exactly 1.
    for k in np.flatnonzero(np.isnan(theirs) & np.isfinite(dc.net_benefit)):
        above = d[d["cancerpredmarker"] >= SURV_THRESHOLDS[k]]
        last = above["ttcancer"].idxmax()
        assert above["ttcancer"].max() < 1.5 and above.loc[last, "cancer"]
        share = len(above) / len(d)
        assert dc.net_benefit[k] == pytest.approx(share)      # TP/n = share, FP = 0
    assert not np.any(np.isnan(dc.net_benefit) & np.isfinite(theirs))


@pytest.mark.slow
def test_lung_cox_at_365_matches_dcurves():
    d = load_dataset("lung").dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
    X = d[["age", "sex", "ph.ecog"]]
    y = Surv.from_arrays(time=d["time"].to_numpy(float), event=(d["status"] == 2).to_numpy())
    risk = 1.0 - CoxModel().fit(X, y).predict_survival_function(X, [365.0])[:, 0]
    data = pd.DataFrame({"time": d["time"].to_numpy(float), "dead": y["event"],
                         "risk": risk})
    theirs, theirs_all = run_dca(data, "risk", SURV_THRESHOLDS, outcome="dead", time=365,
                                 time_to_outcome_col="time")
    dc = decision_curve(y, risk, SURV_THRESHOLDS, horizon=365)
    ok = np.isfinite(theirs)
    np.testing.assert_allclose(dc.net_benefit[ok], theirs[ok], rtol=0, atol=1e-12)
    np.testing.assert_allclose(dc.treat_all, theirs_all, rtol=0, atol=1e-12)


def test_survival_net_benefit_by_hand():
    # Vickers et al. 2008: NB = (1 - S+) P - S+ P pt / (1 - pt), S+ the KM of the positives
    y = Surv.from_arrays(time=[1, 2, 3, 4, 5, 6, 7, 8], event=[1, 0, 1, 1, 0, 1, 0, 0])
    risk = np.array([0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.1, 0.05])
    dc = decision_curve(y, risk, [0.5], horizon=4.5)
    # positives: times 1, 2+, 3, 4 -> KM at 4.5: (3/4 after t=1) * (1/2 after t=3) * 0 = 0
    assert dc.net_benefit[0] == pytest.approx(4 / 8 * 1.0)
    # all: KM at 4.5 = 7/8 * 5/6 * 4/5 = 7/12; risk 5/12
    assert dc.event_rate == pytest.approx(5 / 12)
    assert dc.treat_all[0] == pytest.approx(5 / 12 - 7 / 12)
    dc = decision_curve(y, risk, [0.65], horizon=4.5)      # positives: 1, 2+, 3
    assert dc.n_above[0] == 3
    # KM of (1, 2+, 3): after 1: 2/3; after 3 (1 at risk, dies): 0 -> risk 1
    assert dc.net_benefit[0] == pytest.approx(3 / 8)
    dc = decision_curve(y, risk, [0.5], horizon=2.5)       # positives: 1, 2+, 3, 4
    # KM at 2.5: 3/4 -> TP/n = 1/4 * 4/8, FP/n = 3/4 * 4/8, odds 1
    assert dc.net_benefit[0] == pytest.approx(0.5 * 0.25 - 0.5 * 0.75)


def test_net_benefit_is_the_curves_model_column():
    d = pd.read_csv(os.path.join(dcurves.data, "df_surv.csv"))
    y = Surv.from_arrays(time=d["ttcancer"], event=d["cancer"].astype(int))
    dc = decision_curve(y, d["cancerpredmarker"], THRESHOLDS, horizon=1.5)
    np.testing.assert_array_equal(net_benefit(y, d["cancerpredmarker"], THRESHOLDS,
                                              horizon=1.5), dc.net_benefit)
    frame = dc.to_frame()
    assert list(frame.columns) == ["threshold", "net_benefit", "treat_all", "treat_none",
                                   "n_above"]
    points = dc.points()
    assert all(isinstance(p, NetBenefitPoint) for p in points)
    assert [p.threshold for p in points] == THRESHOLDS.tolist()
    assert isinstance(dc, DecisionCurve) and (dc.treat_none == 0).all()


def test_convention_at_threshold_zero():
    # a risk of exactly 0 is "positive" at threshold 0 here (p >= pt); dcurves moves it to
    # -epsilon so that it is not. Above 0 both agree.
    y = np.array([0, 1, 1, 0, 0])
    risk = np.array([0.0, 0.6, 0.3, 0.0, 0.2])
    data = pd.DataFrame({"y": y.astype(bool), "risk": risk})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = dcurves.dca(data=data, outcome="y", modelnames=["risk"], thresholds=[0.0, 0.1])
    theirs = res.loc[res["model"] == "risk", "net_benefit"].to_numpy(float)
    ours = net_benefit(y, risk, [0.0, 0.1])
    assert ours[0] == theirs[0] == pytest.approx(0.4)   # at pt = 0 false positives cost 0
    assert ours[1] == pytest.approx(theirs[1])
    assert decision_curve(y, risk, [0.0]).n_above[0] == 5


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"thresholds": [1.0]}, ValueError, "thresholds"),
    ({"thresholds": [-0.1]}, ValueError, "thresholds"),
    ({"predicted_risk": [0.1, 1.2, 0.3, 0.2]}, SchemaError, r"\[0, 1\]"),
    ({"predicted_risk": [0.1, 0.2]}, SchemaError, "one risk per patient"),
    ({"horizon": 5.0}, ValueError, "must be a survival outcome"),
])
def test_errors(kwargs, error, match):
    args = {"y": [0, 1, 1, 0], "predicted_risk": [0.1, 0.8, 0.3, 0.2], "thresholds": [0.2]}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        decision_curve(args["y"], args["predicted_risk"], args["thresholds"],
                       horizon=args.get("horizon"))


def test_survival_outcome_needs_horizon_within_follow_up():
    y = Surv.from_arrays(time=[1.0, 2.0, 3.0], event=[1, 0, 1])
    with pytest.raises(ValueError, match="horizon"):
        decision_curve(y, [0.5, 0.2, 0.1], [0.3])
    with pytest.raises(ValueError, match="beyond the last follow-up"):
        decision_curve(y, [0.5, 0.2, 0.1], [0.3], horizon=4.0)

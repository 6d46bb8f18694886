"""Decision curves held to the R package dcurves (tests/r/decision.R -> decision.json).

Three data sets, their rows written by R beside the values: dcurves' ``df_binary``
(binary), ``df_surv`` at 1.5 years and the lung Cox model's risk of death by 365 days
(survival, Kaplan-Meier net benefit), at the thresholds ``seq(0, 0.99, by = 0.01)``.
"""

from __future__ import annotations

import numpy as np
import pytest
from rref import r_ref

from survrad.data.outcome import Surv
from survrad.evaluation.decision import DecisionCurve, decision_curve


def _r_curve(case: str) -> tuple[dict, np.ndarray, np.ndarray, DecisionCurve]:
    """R's net benefit (NaN where dcurves gives NA) and survrad's on the rows R used."""
    ref = r_ref("decision", case)
    as_float = lambda v: np.array([np.nan if x == "NA" else x for x in v], float)  # noqa: E731
    if "horizon" in ref:
        y = Surv.from_arrays(time=ref["time"], event=np.array(ref["event"], int))
        dc = decision_curve(y, ref["risk"], ref["thresholds"], horizon=ref["horizon"])
    else:
        dc = decision_curve(np.array(ref["outcome"], int), ref["risk"], ref["thresholds"])
    return ref, as_float(ref["net_benefit"]), as_float(ref["treat_all"]), dc


@pytest.mark.parametrize("case", ["binary_df_binary", "surv_df_surv", "surv_lung_365"])
def test_net_benefit_equals_r_dcurves(case):
    # tests/r/decision.R: dca(<outcome> ~ <risk>, data, [time = horizon],
    # thresholds = seq(0, 0.99, by = 0.01))$dca net_benefit of the model, "all" and "none"
    ref, theirs, theirs_all, dc = _r_curve(case)
    np.testing.assert_allclose(dc.treat_all, theirs_all, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(dc.treat_none, ref["treat_none"])
    assert dc.event_rate == pytest.approx(ref["prevalence"], rel=0, abs=1e-8)
    both = np.isfinite(theirs)
    assert both.sum() >= 0.5 * both.size
    np.testing.assert_allclose(dc.net_benefit[both], theirs[both], rtol=0, atol=1e-8)
    # dcurves gives NA where the Kaplan-Meier of the test positives stops before the
    # horizon (.surv_to_risk). survrad gives NaN too where that curve stops above 0 (last
    # positive censored), and the net benefit where it has reached 0 (every positive
    # followed to its event: risk 1, TP/n = share of positives).
    risk, t = np.asarray(ref["risk"]), np.asarray(ref["thresholds"])
    for k in np.flatnonzero(~both & np.isfinite(dc.net_benefit)):
        above = risk >= t[k]
        assert above.any()
        last = np.argmax(np.where(above, ref["time"], -np.inf))
        assert ref["time"][last] < ref["horizon"] and ref["event"][last] == 1
        assert dc.net_benefit[k] == pytest.approx(above.mean(), abs=1e-12)

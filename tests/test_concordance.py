"""Harrell's and Uno's C: naive O(n^2) oracles, Hypothesis properties, R known answers.

R values are read from ``tests/r/survival.json`` (written by ``tests/r/survival.R`` with
survival 3.5-3, including the known answers of survival's own concordance tests); the R
call is written beside each assertion.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rref import r_ref

import survrad._math.concordance as kernel
from survrad.data.outcome import Surv
from survrad.datasets import load_dataset
from survrad.evaluation import (
    ConcordanceCounts,
    concordance_index,
    concordance_index_y,
    uno_concordance_index,
)
from survrad.exceptions import SchemaError
from survrad.models import CoxModel


# --------------------------------------------------------------------------- oracles
def naive_counts(time, event, risk, weight=None):
    """R's ``allpair`` (survival tests/concordance.R): loop over events, O(n^2)."""
    time, event, risk = map(np.asarray, (time, event, risk))
    w = np.ones(len(time)) if weight is None else weight
    conc = disc = tied = tied_time = 0.0
    for i in np.flatnonzero(event):
        at_risk = (time > time[i]) | ((time == time[i]) & ~event)
        conc += w[i] * np.sum(risk[at_risk] < risk[i])
        disc += w[i] * np.sum(risk[at_risk] > risk[i])
        tied += w[i] * np.sum(risk[at_risk] == risk[i])
        tied_time += (np.sum((time == time[i]) & event) - 1) / 2
    return conc, disc, tied, tied_time


def naive_censoring_survival_left(time, event, t):
    """Reverse Kaplan-Meier G(t-): product over censoring times s < t of
    1 - c(s) / (n(s) - d(s)) (censorings after the events at a tied time, R's fastkm.c)."""
    g = 1.0
    for s in np.unique(time[~event]):
        if s >= t:
            break
        n_s = np.sum(time >= s)
        d_s = np.sum((time == s) & event)
        g *= 1 - np.sum((time == s) & ~event) / (n_s - d_s)
    return g


def naive_uno(time, event, risk, tau=np.inf):
    time, event, risk = map(np.asarray, (time, event, risk))
    w = np.array([naive_censoring_survival_left(time, event, ti) ** -2.0
                  if (ev and ti <= tau) else 0.0 for ti, ev in zip(time, event, strict=True)])
    conc, disc, tied, _ = naive_counts(time, event, risk, w)
    return (conc + tied / 2) / (conc + disc + tied)


# Small survival data with many ties in time and in risk.
@st.composite
def survival_data(draw, min_size=2, max_size=40):
    n = draw(st.integers(min_size, max_size))
    n_times = draw(st.integers(1, 8))
    n_risks = draw(st.integers(1, 8))
    time = draw(st.lists(st.integers(1, n_times), min_size=n, max_size=n))
    event = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    risk = draw(st.lists(st.integers(0, n_risks), min_size=n, max_size=n))
    return (np.array(time, float), np.array(event, bool), np.array(risk, float) / 3)


# ------------------------------------------------------------------- exact counting
@settings(max_examples=300, deadline=None)
@given(survival_data())
def test_counts_match_naive_with_ties(data):
    time, event, risk = data
    expected = naive_counts(time, event, risk)
    if expected[0] + expected[1] + expected[2] == 0:
        with pytest.raises(SchemaError, match="no comparable pair"):
            concordance_index(time, event, risk)
        return
    res = concordance_index(time, event, risk, return_counts=True)
    assert (res.concordant, res.discordant, res.tied_risk, res.tied_time) == expected
    assert res.comparable == sum(expected[:3])
    assert res.c == pytest.approx((expected[0] + expected[2] / 2) / sum(expected[:3]),
                                  abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=60))
def test_wavelet_kernel_matches_naive(values):
    rank = np.unique(np.array(values), return_inverse=True)[1]
    lower, equal = kernel.earlier_lower_counts(rank, int(rank.max()) + 1)
    assert lower.tolist() == [int(np.sum(rank[:k] < rank[k])) for k in range(rank.size)]
    assert equal.tolist() == [int(np.sum(rank[:k] == rank[k])) for k in range(rank.size)]


def test_unpacked_kernel_path_agrees(monkeypatch):
    # n >= 2**21 stores the running counts in a separate array; force that path here.
    rng = np.random.default_rng(3)
    rank = rng.integers(0, 700, 3000)
    packed = kernel.earlier_lower_counts(rank, 700)
    monkeypatch.setattr(kernel, "_PACKED_BITS", 0)
    separate = kernel.earlier_lower_counts(rank, 700)
    np.testing.assert_array_equal(packed[0], separate[0])
    np.testing.assert_array_equal(packed[1], separate[1])


@settings(max_examples=100, deadline=None)
@given(survival_data(min_size=3), st.floats(0.5, 9))
def test_uno_matches_naive_ipcw(data, tau):
    time, event, risk = data
    early = event & (time <= tau)
    comparable_early = any(np.any((time > ti) | ((time == ti) & ~event))
                           for ti in time[early])
    if not comparable_early:
        with pytest.raises(SchemaError, match="no comparable pair"):
            uno_concordance_index(time, event, risk, tau=tau)
        return
    # in-sample, G(t-) > 0 at every event time, so every weight is finite
    assert uno_concordance_index(time, event, risk, tau=tau) == pytest.approx(
        naive_uno(time, event, risk, tau), rel=1e-12)


# ------------------------------------------------------------------------ properties
@settings(max_examples=100, deadline=None)
@given(st.integers(5, 60), st.integers(0, 2**32 - 1))
def test_reversing_risk_gives_one_minus_c_without_ties(n, seed):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 10, n).astype(float)      # ties in time are allowed
    event = rng.random(n) < 0.7
    event[0] = True
    time[0] = 0.5                                     # at least one comparable pair
    risk = rng.permutation(n).astype(float)           # no ties in risk
    assert concordance_index(time, event, -risk) == pytest.approx(
        1 - concordance_index(time, event, risk), abs=1e-14)


@settings(max_examples=100, deadline=None)
@given(survival_data(min_size=3))
def test_invariant_under_monotone_transforms(data):
    time, event, risk = data
    if sum(naive_counts(time, event, risk)[:3]) == 0:
        return
    c = concordance_index(time, event, risk)
    for transformed in (np.exp(risk), 3 * risk - 7, np.arctan(risk), risk**3):
        assert concordance_index(time, event, transformed) == c


def test_harrell_c_on_large_random_data_matches_naive():
    rng = np.random.default_rng(11)
    n = 3000
    time = np.round(rng.exponential(30, n))
    event = rng.random(n) < 0.6
    risk = np.round(rng.normal(size=n), 1)
    res = concordance_index(time, event, risk, return_counts=True)
    assert (res.concordant, res.discordant, res.tied_risk, res.tied_time) == naive_counts(
        time, event, risk)


def test_agrees_with_lifelines_and_sksurv():
    # lifelines takes a predicted time (higher = longer survival): give it -risk
    from lifelines.utils import concordance_index as lifelines_ci
    from sksurv.metrics import concordance_index_censored

    rng = np.random.default_rng(12)
    n = 2000
    time = np.floor(rng.exponential(50, n)) + 1
    event = rng.random(n) < 0.6
    risk = np.round(rng.normal(size=n), 2)
    ours = concordance_index(time, event, risk, return_counts=True)
    assert ours.c == pytest.approx(lifelines_ci(time, -risk, event), abs=1e-12)
    sk = concordance_index_censored(event, time, risk)
    assert (ours.c, ours.concordant, ours.discordant, ours.tied_risk) == (
        pytest.approx(sk[0], abs=1e-12), sk[1], sk[2], sk[3])


# ---------------------------------------------------------------- R known answers
AML = r_ref("survival", "aml_maintained_concordance")
AML_TIME, AML_EVENT, AML_X = AML["time"], AML["status"], np.array(AML["x"])


def test_aml_maintained_known_answer():
    # tdata <- aml[aml$x == 'Maintained', ]; tdata$x <- c(1,6,2,7,3,7,3,8,4,4,5)
    # concordance(Surv(time, status) ~ x, tdata)$count and $concordance: x predicts LONGER
    # survival there (reverse = FALSE), so the risk score is -x. docs/reliability.md #26.
    n = AML["counts"]
    res = concordance_index(AML_TIME, AML_EVENT, -AML_X, return_counts=True)
    assert res == ConcordanceCounts(
        concordant=n["concordant"], discordant=n["discordant"], tied_risk=n["tied.x"],
        tied_time=n["tied.y"] + n["tied.xy"], comparable=40, c=AML["concordance"])
    assert res.c == 0.625      # the known answer of docs/reliability.md #26
    # with x itself as the risk score the pairs swap
    swapped = concordance_index(AML_TIME, AML_EVENT, AML_X, return_counts=True)
    assert (swapped.concordant, swapped.discordant, swapped.tied_risk) == (
        n["discordant"], n["concordant"], n["tied.x"])
    assert swapped.c == pytest.approx(1 - AML["concordance"])


def test_r_tests_lots_of_ties_example():
    # survival tests/concordance.R "Lots of ties": survConcordance(tempy ~ tempx) equals
    # allpair(tempx, ...), the brute-force count ported above as naive_counts.
    time = [1, 2, 2, 2, 3, 4, 4, 4, 5, 2]
    event = np.array([1, 0, 1, 0, 1, 0, 1, 1, 0, 1], bool)
    x = [5, 5, 4, 4, 3, 3, 7, 6, 5, 4]
    res = concordance_index(time, event, x, return_counts=True)
    assert (res.concordant, res.discordant, res.tied_risk, res.tied_time) == naive_counts(
        time, event, x)


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    return load_dataset("lung")


def test_lung_ph_ecog_counts_r(lung):
    # concordance(Surv(time, status) ~ ph.ecog, lung, reverse = TRUE)$count (the pairs of
    # survival's tests/concordance.R); the row with missing ph.ecog is dropped by R's
    # na.action; R's tied.y and tied.xy pairs are survrad's tied_time.
    ref = r_ref("survival", "lung_ph_ecog_concordance")
    n = ref["counts"]
    d = lung.dropna(subset=["ph.ecog"])
    assert len(d) == ref["n"]
    res = concordance_index(d["time"].to_numpy(), (d["status"] == 2).to_numpy(),
                            d["ph.ecog"].to_numpy(), return_counts=True)
    assert (res.concordant, res.discordant, res.tied_risk, res.tied_time) == (
        n["concordant"], n["discordant"], n["tied.x"], n["tied.y"] + n["tied.xy"])
    assert res.c == pytest.approx(ref["concordance"], abs=1e-12)


LUNG = r_ref("survival", "lung_cox_efron")        # age, sex, ph.ecog
LUNG_COEF = LUNG["coef"]


def lung_cox_data(lung):
    d = lung.dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
    lp = d[["age", "sex", "ph.ecog"]].to_numpy(float) @ np.array(LUNG_COEF)
    return d["time"].to_numpy(float), (d["status"] == 2).to_numpy(), lp


def test_lung_cox_concordance_r(lung):
    # lc <- lung complete cases; f <- coxph(Surv(time, status == 2) ~ age + sex + ph.ecog,
    # lc, ties = "efron"); concordance(f)$concordance
    time, event, lp = lung_cox_data(lung)
    assert time.size == LUNG["n"]
    assert concordance_index(time, event, lp) == pytest.approx(LUNG["concordance"], abs=1e-9)


@pytest.mark.parametrize(("ties", "case"), [("efron", "lung_cox_efron"),
                                           ("breslow", "lung_cox_breslow")])
def test_lung_cox_model_predict_concordance_r(lung, ties, case):
    # f <- coxph(Surv(time, status == 2) ~ age + sex + ph.ecog, lc, ties = ties);
    # coef(f) and concordance(f)$concordance (the same C for "efron" and "breslow").
    # Here the risk is CoxModel's own predict, so the whole chain fit -> predict -> C is
    # held to R.
    ref = r_ref("survival", case)
    d = lung.dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
    X = d[["age", "sex", "ph.ecog"]]
    time, event = d["time"].to_numpy(float), (d["status"] == 2).to_numpy()
    model = CoxModel(ties=ties).fit(X, Surv.from_arrays(time=time, event=event))
    np.testing.assert_allclose(model.coef_, ref["coef"], rtol=1e-8)
    risk = model.predict(X)
    assert concordance_index(time, event, risk) == pytest.approx(ref["concordance"], abs=1e-9)


def test_lung_uno_concordance_r(lung):
    # concordance(f, timewt = "n/G2")$concordance
    ref = r_ref("survival", "lung_uno_concordance")
    time, event, lp = lung_cox_data(lung)
    assert uno_concordance_index(time, event, lp) == pytest.approx(ref["concordance"],
                                                                   abs=1e-9)
    # Explicit training data equal to the evaluation data changes nothing.
    assert uno_concordance_index(time, event, lp, train_time=time, train_event=event) == (
        uno_concordance_index(time, event, lp))
    # tau beyond the last event time changes nothing either.
    assert uno_concordance_index(time, event, lp, tau=1e6) == uno_concordance_index(
        time, event, lp)


def test_lung_uno_vs_sksurv_ipcw(lung):
    # scikit-survival evaluates G at the event time instead of its left limit: a small,
    # documented difference (2.3e-4 on these data).
    from sksurv.metrics import concordance_index_ipcw

    time, event, lp = lung_cox_data(lung)
    y = Surv.from_arrays(time=time, event=event)
    theirs = concordance_index_ipcw(y, y, lp)[0]
    assert theirs == pytest.approx(uno_concordance_index(time, event, lp), abs=5e-4)


def test_retinopathy_concordance_r():
    # f <- coxph(Surv(futime, status) ~ trt + age + cluster(id), retinopathy);
    # coef(f) and concordance(f)$concordance (plain Harrell C over all pairs)
    ref = r_ref("survival", "retinopathy_cox_cluster")
    d = load_dataset("retinopathy")
    lp = d[["trt", "age"]].to_numpy(float) @ np.array(ref["coef"])
    assert concordance_index(d["futime"].to_numpy(), d["status"].to_numpy(), lp) == (
        pytest.approx(ref["concordance"], abs=1e-9))


def test_veteran_concordance_r():
    # f <- coxph(Surv(time, status) ~ trt + karno + diagtime + age + prior + celltype,
    # veteran) (reference level squamous); coef(f) and concordance(f)$concordance
    ref = r_ref("survival", "veteran_cox")
    d = load_dataset("veteran")
    cells = [(d["celltype"] == c).astype(float) for c in ("smallcell", "adeno", "large")]
    x = np.column_stack([d[c] for c in ("trt", "karno", "diagtime", "age", "prior")] + cells)
    assert concordance_index(d["time"].to_numpy(), d["status"].to_numpy(),
                             x @ np.array(ref["coef"])) == pytest.approx(ref["concordance"],
                                                                        abs=1e-9)


# ------------------------------------------------------------- inputs and alignment
def test_series_are_aligned_by_patient_id():
    ids = [f"P{i:03d}" for i in range(11)]
    time = pd.Series(AML_TIME, index=ids, dtype=float)
    event = pd.Series(AML_EVENT, index=ids)
    risk = pd.Series(-AML_X, index=ids).sample(frac=1, random_state=1)   # shuffled
    assert concordance_index(time, event, risk) == 0.625
    # the same shuffled values taken positionally would be wrong
    assert concordance_index(AML_TIME, AML_EVENT, risk.to_numpy()) != 0.625


def test_mismatched_ids_are_listed():
    time = pd.Series([1.0, 2.0, 3.0], index=["a", "b", "c"])
    event = pd.Series([1, 1, 0], index=["a", "b", "c"])
    risk = pd.Series([3.0, 2.0, 1.0], index=["a", "b", "d"])
    with pytest.raises(SchemaError, match=r"patient ids of risk and time differ.*'c', 'd'"):
        concordance_index(time, event, risk)


def test_duplicated_ids_are_refused():
    idx = ["a", "b", "b"]
    s = pd.Series([1.0, 2.0, 3.0], index=idx)
    with pytest.raises(SchemaError, match=r"time has duplicated patient ids.*'b'"):
        concordance_index(s, pd.Series([1, 1, 0], index=idx), s)


def test_id_indexed_series_mixed_with_arrays_is_refused():
    risk = pd.Series([3.0, 2.0, 1.0], index=["c", "a", "b"])
    with pytest.raises(SchemaError, match="all as Series indexed by patient id"):
        concordance_index([1.0, 2.0, 3.0], [1, 1, 0], risk)
    # a default RangeIndex is plainly positional and accepted
    assert concordance_index([1.0, 2.0, 3.0], [1, 1, 0], pd.Series([3.0, 2.0, 1.0])) == 1.0


@pytest.mark.parametrize(
    ("time", "event", "risk", "match"),
    [
        ([1, 2, 3], [0, 0, 0], [1, 2, 3], "no comparable pair"),
        ([1, 2, 3], [0, 0, 1], [1, 2, 3], "no comparable pair"),
        ([2, 2, 2], [1, 1, 1], [1, 2, 3], "no comparable pair"),
        ([1, 2, 3], [1, 1, 0], [1.0, np.nan, 3], "risk is NaN or infinite.*row 2"),
        ([1, 2, 3], [1, 1, 0], [1.0, np.inf, 3], "risk is NaN or infinite"),
        ([1, 2, 3], [2, 2, 1], [1, 2, 3], "1=censored/2=dead"),
        ([1, 2, 3], [1, 1, 0], [1, 2], "differ in length"),
        ([1, -2, 3], [1, 1, 0], [1, 2, 3], "negative"),
        ([1, 2, 3], [1, 1, 0], [[1, 2, 3]], "1-D"),
    ],
)
def test_bad_inputs_raise(time, event, risk, match):
    with pytest.raises(SchemaError, match=match):
        concordance_index(time, event, risk)


def test_concordance_index_y_and_uno_errors():
    y = Surv.from_arrays(time=[1.0, 2.0, 3.0, 4.0], event=[1, 1, 0, 1])
    assert concordance_index_y(y, [4.0, 3.0, 2.0, 1.0]) == 1.0
    with pytest.raises(ValueError, match="tau must be a positive"):
        uno_concordance_index([1, 2, 3], [1, 1, 0], [3, 2, 1], tau=-1)
    with pytest.raises(ValueError, match="both train_time and train_event"):
        uno_concordance_index([1, 2, 3], [1, 1, 0], [3, 2, 1], train_time=[1, 2])
    with pytest.raises(SchemaError, match=r"no comparable pair.*tau = 0.5"):
        uno_concordance_index([1, 2, 3], [1, 1, 0], [3, 2, 1], tau=0.5)
    # training censoring survival reaches 0 at t = 2: later test events cannot be weighted
    with pytest.raises(ValueError, match="censoring survival of the training data is 0"):
        uno_concordance_index([1, 3, 4], [1, 1, 0], [3, 2, 1], train_time=[1, 2],
                              train_event=[1, 0])

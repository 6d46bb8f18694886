"""Standard error of Harrell's and Uno's C: R's infinitesimal jackknife, and a brute force.

R values: tests/r/metrics.R -> metrics.json (survival 3.5-3, ``concordance(fit)$var``);
the R call is written beside each assertion.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rref import r_ref

from survrad._math.concordance import event_pair_counts, pair_influence
from survrad.datasets import load_dataset
from survrad.evaluation import concordance_index, uno_concordance_index
from survrad.evaluation.nonparametric import censoring_survival


# --------------------------------------------------------------------------- oracle
def naive_influence(time, event, risk, weight_of_time):
    """R's concordance3.c influence columns 1-3 by a loop over comparable pairs."""
    n = len(time)
    conc, disc, tied = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in np.flatnonzero(event):
        w = weight_of_time(time[i])
        for j in range(n):
            later = time[j] > time[i] or (time[j] == time[i] and not event[j])
            if j == i or not later:
                continue
            target = conc if risk[i] > risk[j] else disc if risk[i] < risk[j] else tied
            target[i] += w
            target[j] += w
    return conc, disc, tied


def naive_se(time, event, risk, weight_of_time):
    c, d, t = naive_influence(time, event, risk, weight_of_time)
    n_pair = (c + d + t).sum() / 2
    somers = (c.sum() - d.sum()) / 2 / n_pair
    dfbeta = (c - d) / n_pair - somers * (c + d + t) / n_pair
    return np.sqrt(np.sum(dfbeta**2) / 4)


@st.composite
def tied_data(draw):
    n = draw(st.integers(3, 30))
    time = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    event = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    risk = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    return np.array(time, float), np.array(event, bool), np.array(risk, float)


@settings(max_examples=100, deadline=None)
@given(tied_data(), st.lists(st.floats(0.0, 5.0), min_size=6, max_size=6))
def test_pair_influence_matches_brute_force(data, time_weights):
    time, event, risk = data
    if not event.any():
        return
    weight_of_time = lambda t: time_weights[int(t) - 1]   # noqa: E731 - one weight per time
    pairs = event_pair_counts(time, event, risk)
    infl = pair_influence(time, event, risk, pairs,
                          np.array([weight_of_time(t) for t in pairs.time]))
    expected = naive_influence(time, event, risk, weight_of_time)
    for got, want in zip((infl.concordant, infl.discordant, infl.tied_risk), expected,
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(tied_data())
def test_harrell_se_matches_brute_force(data):
    time, event, risk = data
    c, d, t = naive_influence(time, event, risk, lambda _: 1.0)
    if (c + d + t).sum() == 0:
        return
    _, se = concordance_index(time, event, risk, return_se=True)
    assert se == pytest.approx(naive_se(time, event, risk, lambda _: 1.0), rel=1e-10,
                               abs=1e-14)


@settings(max_examples=100, deadline=None)
@given(tied_data(), st.floats(1.5, 6.0))
def test_uno_se_matches_brute_force(data, tau):
    time, event, risk = data

    def weight(t):
        g = censoring_survival(time, event, [t], left=True)[0]
        return 0.0 if t > tau else 1.0 / g**2

    c, d, t = naive_influence(time, event, risk, weight)
    if (c + d + t).sum() == 0:
        return
    _, se = uno_concordance_index(time, event, risk, tau=tau, return_se=True)
    assert se == pytest.approx(naive_se(time, event, risk, weight), rel=1e-10, abs=1e-14)


# -------------------------------------------------------------------------- R parity
def _design(case: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """time, event and the Cox linear predictor (R's coefficients) of a metrics.R case."""
    ref = r_ref("metrics", case)
    if case.startswith("lung"):
        d = load_dataset("lung").dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
        x = d[["age", "sex", "ph.ecog"]].to_numpy(float)
        time, event = d["time"].to_numpy(float), (d["status"] == 2).to_numpy()
    elif case.startswith("veteran"):
        d = load_dataset("veteran")
        x = d[["trt", "karno", "diagtime", "age", "prior"]].to_numpy(float)
        time, event = d["time"].to_numpy(float), d["status"].to_numpy(bool)
    else:
        d = load_dataset("pbc").iloc[:312]
        x = np.column_stack([d["age"], np.log(d["bili"]), d["albumin"], d["edema"]])
        time, event = d["time"].to_numpy(float), (d["status"] == 2).to_numpy()
    return time, event, x @ np.array(ref["coef"])


@pytest.mark.parametrize("case", ["lung_concordance", "veteran_concordance",
                                  "pbc_concordance"])
def test_harrell_se_matches_r(case):
    # concordance(coxph(formula, data))$concordance and sqrt($var) (formula in metrics.R)
    ref = r_ref("metrics", case)
    time, event, lp = _design(case)
    counts, se = concordance_index(time, event, lp, return_counts=True, return_se=True)
    assert counts.c == pytest.approx(ref["c"], rel=1e-6)
    assert se == pytest.approx(ref["se"], rel=1e-6)
    assert (counts.concordant, counts.discordant, counts.tied_risk) == (
        ref["counts"]["concordant"], ref["counts"]["discordant"], ref["counts"]["tied.x"])


@pytest.mark.parametrize("case", ["lung_uno_concordance", "lung_uno_concordance_ymax365",
                                  "veteran_uno_concordance", "veteran_uno_concordance_ymax180",
                                  "pbc_uno_concordance"])
def test_uno_se_matches_r(case):
    # concordance(fit, timewt = "n/G2"[, ymax = tau]): $concordance and sqrt($var)
    ref = r_ref("metrics", case)
    time, event, lp = _design(case)
    c, se = uno_concordance_index(time, event, lp, tau=ref.get("ymax"), return_se=True)
    assert c == pytest.approx(ref["c"], rel=1e-6)
    assert se == pytest.approx(ref["se"], rel=1e-6)


def test_aml_known_answer_se():
    # concordance(Surv(time, status) ~ x, tdata): C 0.625, sqrt(var) from metrics.json
    ref = r_ref("metrics", "aml_concordance")
    x = np.array(ref["x"])
    c, se = concordance_index(ref["time"], ref["status"], -x, return_se=True)
    assert (c, se) == (pytest.approx(ref["c"], rel=1e-12), pytest.approx(ref["se"], rel=1e-9))


# ---------------------------------------------------------------------- behaviour
def test_default_return_is_unchanged():
    time, event, lp = _design("lung_concordance")
    c = concordance_index(time, event, lp)
    assert isinstance(c, float)
    assert concordance_index(time, event, lp, return_se=True)[0] == c
    assert isinstance(uno_concordance_index(time, event, lp), float)


def test_se_with_series_aligned_by_id():
    time, event, lp = _design("lung_concordance")
    ids = [f"P{i:03d}" for i in range(time.size)]
    risk = pd.Series(lp, index=ids).sample(frac=1.0, random_state=3)
    c, se = concordance_index(pd.Series(time, index=ids), pd.Series(event, index=ids), risk,
                              return_se=True)
    assert (c, se) == concordance_index(time, event, lp, return_se=True)


def test_se_shrinks_like_one_over_root_n():
    rng = np.random.default_rng(5)

    def se(n):
        risk = rng.normal(size=n)
        time = np.ceil(rng.exponential(100 * np.exp(-risk)))
        return concordance_index(time, rng.random(n) < 0.7, risk, return_se=True)[1]

    ratio = se(400) / se(6400)
    assert 3.0 < ratio < 5.5        # sqrt(16) = 4


def test_large_n_counts_every_pair_twice():
    # the weighted sweep on 20,000 subjects with many ties: each pair has two members
    rng = np.random.default_rng(8)
    n = 20_000
    time = np.ceil(rng.exponential(50, n))
    event = rng.random(n) < 0.6
    risk = np.round(rng.normal(size=n), 1)
    pairs = event_pair_counts(time, event, risk)
    infl = pair_influence(time, event, risk, pairs, np.ones(pairs.index.size))
    # every comparable pair is counted once for each of its two subjects
    assert infl.concordant.sum() == 2 * pairs.concordant.sum()
    assert infl.discordant.sum() == 2 * pairs.discordant.sum()
    assert infl.tied_risk.sum() == 2 * pairs.tied_risk.sum()

"""Counting-process (start, stop] Cox models: kernel, CoxModel, Surv.from_counting.

Truth used here: R's survival 3.5-3 (``tests/r/timevarying.R``: ``coxph(Surv(start, stop,
event) ~ ...)`` on the Stanford heart transplant and CGD data, ``survfit``, ``cox.zph``),
direct loops over the risk sets ``start < t <= stop`` (R's agfit4 / agscore3
definitions), and two identities: counting data whose starts never remove anyone from a
risk set are the right-censored fit exactly, and splitting rows at arbitrary times
(R's ``survSplit``) changes nothing. ``python tests/test_cox_counting.py`` prints the
largest relative difference from R per quantity.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rref import r_ref
from sklearn.base import clone
from test_coxph_kernel import naive_by_stratum, rel_close

from survrad._math.coxph import CoxRiskSets, cox_baseline_hazard, cox_fit
from survrad.data.outcome import Surv, check_y_counting, check_y_survival, is_counting
from survrad.datasets import load_dataset
from survrad.exceptions import FitError, SchemaError
from survrad.models.cox import CoxModel, cox_zph

DATA = Path(__file__).resolve().parent / "data"
TIES = ["efron", "breslow"]
RTOL = 1e-6


# ----------------------------------------------------------------------------- data
def heart() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """survival::heart as exported by tests/r/timevarying.R (transplant coded 0/1)."""
    h = pd.read_csv(DATA / "heart.csv")
    y = Surv.from_counting(start=h["start"], stop=h["stop"], event=h["event"], ids=h["id"])
    return h[["age", "year", "surgery", "transplant"]].astype(float), y, h["id"].to_numpy()


def cgd() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """survival::cgd: treat rIFN-g = 1, inherit autosomal = 1, strata column hos.cat."""
    c = pd.read_csv(DATA / "cgd.csv")
    X = pd.DataFrame({"treat": (c["treat"] == "rIFN-g").astype(float),
                      "age": c["age"].astype(float),
                      "inherit": (c["inherit"] == "autosomal").astype(float),
                      "steroids": c["steroids"].astype(float), "hos.cat": c["hos.cat"]})
    y = Surv.from_counting(start=c["tstart"], stop=c["tstop"], event=c["status"], ids=c["id"])
    return X, y, c["id"].to_numpy()


def heart_weights(ids: np.ndarray) -> np.ndarray:
    return 1 + (ids % 3) / 2           # R: heart$w <- 1 + (heart$id %% 3) / 2


CASES = {   # case -> (data, weighted, strata column)
    "heart_efron": (heart, False, None), "heart_breslow": (heart, False, None),
    "heart_weighted_efron": (heart, True, None),
    "cgd_efron": (cgd, False, "hos.cat"), "cgd_breslow": (cgd, False, "hos.cat"),
}


def fit_case(case: str) -> tuple[CoxModel, dict]:
    load, weighted, strata = CASES[case]
    ref = r_ref("timevarying", case)
    X, y, ids = load()
    model = CoxModel(ties=ref["ties"], strata=strata)
    model.fit(X, y, groups=ids, sample_weight=heart_weights(ids) if weighted else None)
    return model, ref


FACTOR_CODES = {"treat": {"placebo": 0.0, "rIFN-g": 1.0},
                "inherit": {"X-linked": 0.0, "autosomal": 1.0}}


def new_profiles(ref: dict) -> pd.DataFrame:
    """R's survfit newdata, coded as above (one row per stratum R reports)."""
    surv = ref["survival"]
    row = {k: FACTOR_CODES[k][v] if k in FACTOR_CODES else float(v)
           for k, v in surv["newdata"][0].items()}
    if surv["strata"] is None:
        return pd.DataFrame([row])
    levels = list(dict.fromkeys(surv["strata"]))
    return pd.DataFrame([{**row, "hos.cat": lv} for lv in levels])


# ----------------------------------------------------------------------- R parity
@pytest.mark.parametrize("case", list(CASES))
def test_coefficients_se_loglik_match_r(case):
    # coxph(Surv(start, stop, event) ~ age + year + surgery + transplant + cluster(id),
    #       data = heart, ties = ...)   [heart_weighted_efron: weights = 1 + (id %% 3) / 2]
    # coxph(Surv(tstart, tstop, status) ~ treat + age + inherit + steroids + strata(hos.cat)
    #       + cluster(id), data = cgd, ties = ...)
    model, ref = fit_case(case)
    assert model.converged_ and model.counting_
    assert (model.n_, model.n_events_) == (ref["n"], ref["nevent"])
    np.testing.assert_allclose(model.coef_, ref["coef"], rtol=RTOL)            # coef(fit)
    np.testing.assert_allclose(model.se_, ref["robust_se"], rtol=RTOL)         # sqrt(diag(fit$var))
    np.testing.assert_allclose(model.naive_se_, ref["naive_se"], rtol=RTOL)    # fit$naive.var
    assert model.loglik_ == pytest.approx(ref["loglik"], rel=RTOL)             # fit$loglik[2]
    assert model.loglik_null_ == pytest.approx(ref["loglik_null"], rel=RTOL)   # fit$loglik[1]


@pytest.mark.parametrize("case", list(CASES))
def test_survival_curves_match_r_survfit(case):
    # summary(survfit(fit, newdata = <profile>), times = <times>)$surv (per stratum)
    model, ref = fit_case(case)
    surv = ref["survival"]
    got = model.predict_survival_function(new_profiles(ref), surv["times"])
    np.testing.assert_allclose(got.ravel(), surv["surv"], rtol=RTOL)


def test_ph_test_matches_r_cox_zph_on_counting_data():
    # cox.zph(coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, heart),
    #         transform = "km", terms = FALSE)
    X, y, _ = heart()
    ref = r_ref("timevarying", "heart_zph_km")
    z = cox_zph(CoxModel().fit(X, y), X, y)
    np.testing.assert_allclose(z["chisq"], ref["chisq"], rtol=RTOL)
    np.testing.assert_allclose(z["p"], ref["p"], rtol=RTOL)


# ------------------------------------------------------- kernel against direct loops
def counting_sample(n_subjects=40, seed=0, strata=False):
    """Integer times (many ties), delayed entries, 0-2 splits per subject, weights."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_subjects):
        end = int(rng.integers(3, 15))
        entry = int(rng.integers(0, end - 1)) if rng.uniform() < 0.4 else 0
        cuts = sorted(set(rng.integers(entry + 1, end, size=rng.integers(0, 3)).tolist()))
        bounds = [entry, *cuts, end]
        died = int(rng.uniform() < 0.7)
        rows += [(i, a, b, died if b == end else 0)
                 for a, b in itertools.pairwise(bounds)]
    ids, start, stop, event = np.array(rows, dtype=float).T
    n = ids.size
    s = rng.integers(0, 3, n) if strata else None
    return ids, start, stop, event.astype(int), rng.uniform(0.5, 2.0, n), s, rng


@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("use_strata", [False, True])
@pytest.mark.parametrize("p", [1, 4])
def test_counting_kernels_match_risk_set_loops(ties, use_strata, p):
    """loglik, score, information, score residuals and the cox.zph blocks of the
    two-prefix-sum kernel against a loop over deaths with risk sets start < t <= stop."""
    _, start, stop, event, w, s, rng = counting_sample(seed=p + 10 * use_strata,
                                                       strata=use_strata)
    x = rng.normal(size=(stop.size, p)) + rng.normal(size=p)
    beta = rng.normal(scale=0.4, size=p)
    gtime = np.log(stop) - 1.0
    ll, u, info, resid, zph_u, zph_i = naive_by_stratum(x, beta, stop, event, w, s, ties,
                                                        gtime, start=start)
    rs = CoxRiskSets(stop, event, weights=w, strata=s, ties=ties, start=start)
    assert rs.counting
    got_ll, got_u, got_info = rs.derivatives(x, beta)
    rel_close(got_ll, ll)
    rel_close(got_u, u)
    rel_close(got_info, info)
    rel_close(rs.score_residuals(x, beta), resid)
    got_zu, got_zi = rs.zph_score(x, beta, gtime)
    rel_close(got_zu, zph_u)
    rel_close(got_zi, zph_i)


@pytest.mark.parametrize("ties", TIES)
def test_counting_baseline_hazard_matches_loop(ties):
    _, start, stop, event, w, _, rng = counting_sample(seed=5)
    eta = rng.normal(scale=0.5, size=stop.size)
    got_t, got_h = cox_baseline_hazard(eta, stop, event, weights=w, ties=ties,
                                       start=start)[None]
    r = w * np.exp(eta)
    expected = []
    for t in np.unique(stop[event == 1]):
        dead = (stop == t) & (event == 1)
        at_risk = (start < t) & (stop >= t)
        d = dead.sum()
        frac = np.arange(d) / d if ties == "efron" else np.zeros(d)
        expected.append(np.sum(w[dead].sum() / d / (r[at_risk].sum() - frac * r[dead].sum())))
    np.testing.assert_array_equal(got_t, np.unique(stop[event == 1]))
    np.testing.assert_allclose(got_h, np.cumsum(expected), rtol=1e-12)


def test_counting_kernel_exact_when_late_risk_sets_are_tiny():
    """eta spread of ~500: the information is formed from risk-set means (counting
    totals) instead of 1 / den^2, which would overflow."""
    rng = np.random.default_rng(4)
    stop = np.repeat(np.arange(2.0, 22.0), 2)
    start = np.where(rng.uniform(size=40) < 0.5, stop - 1.5, 0.0)
    event = (rng.uniform(size=40) < 0.7).astype(int)
    event[-2:] = 1
    w = rng.uniform(0.5, 2.0, 40)
    x = np.c_[-stop + rng.normal(scale=0.1, size=40), rng.normal(size=40)]
    beta = np.array([25.0, 0.3])
    for ties in TIES:
        ll, u, info, *_ = naive_by_stratum(x, beta, stop, event, w, None, ties, start=start)
        rs = CoxRiskSets(stop, event, weights=w, ties=ties, start=start)
        assert rs.counting
        got = rs.derivatives(x, beta)
        rel_close(got[0], ll)
        rel_close(got[1], u)
        rel_close(got[2], info)


def test_cancellation_is_measured_and_reported():
    """Risk-set sums are differences: the digits lost are log10(prefix / total)."""
    from survrad.exceptions import StatisticalWarning
    from survrad.models.cox import _check_cancellation

    rs = CoxRiskSets([2.0, 4.0, 5.0], [1, 1, 0], start=[0.0, 3.0, 0.0])
    # at t = 2 the risk set is rows 1 and 3; row 2 (start 3) is summed and subtracted;
    # the total itself lost ~13 digits, so the ratio is right to its order of magnitude
    assert rs.cancellation(np.array([0.0, 30.0, 0.0])) == pytest.approx(
        (2 + np.exp(30.0)) / 2, rel=1e-2)
    assert rs.cancellation(np.zeros(3)) == pytest.approx(1.5, rel=1e-15)
    assert CoxRiskSets([2.0, 4.0], [1, 1]).cancellation(np.zeros(2)) == 1.0
    X, y, _ = heart()
    fit = CoxModel().fit(X, y)             # no warning: heart loses under one digit
    assert fit.converged_
    with pytest.warns(StatisticalWarning, match=r"about 12 of 16 significant digits"):
        _check_cancellation(1e12)


# ------------------------------------------------------------------------ identities
def lung() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    d = load_dataset("lung").dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
    d = d.reset_index(drop=True)
    return (d[["age", "sex", "ph.ecog"]].astype(float), d["time"].to_numpy(float),
            (d["status"] == 2).to_numpy())


@pytest.mark.parametrize("ties", TIES)
def test_start_zero_is_exactly_the_right_censored_fit(ties):
    X, time, event = lung()
    w = np.linspace(0.5, 2.0, time.size)
    groups = np.arange(time.size) // 2
    Xs = X.assign(strat=(X["sex"] == 1).astype(int)).drop(columns="sex")
    right = CoxModel(ties=ties, strata="strat").fit(Xs, Surv.from_arrays(time=time, event=event),
                                                    groups=groups, sample_weight=w)
    y0 = Surv.from_counting(start=np.zeros(time.size), stop=time, event=event)
    counting = CoxModel(ties=ties, strata="strat").fit(Xs, y0, groups=groups, sample_weight=w)
    assert counting.counting_ and not right.counting_
    for attr in ("coef_", "se_", "naive_se_", "var_"):
        np.testing.assert_array_equal(getattr(counting, attr), getattr(right, attr))
    assert (counting.loglik_, counting.loglik_null_) == (right.loglik_, right.loglik_null_)
    for key, (t, h) in right.baseline_cumhaz_.items():
        np.testing.assert_array_equal(counting.baseline_cumhaz_[key][0], t)
        np.testing.assert_array_equal(counting.baseline_cumhaz_[key][1], h)
    # no start reaches an event time: the risk sets are the right-censored ones
    assert not CoxRiskSets(time, event, start=np.full(time.size, -5.0)).counting


def survsplit(time, event, cuts_per_row, rng):
    """R's survSplit: each row cut at random observed times below its own time."""
    grid = np.unique(time)
    ids, start, stop, ev = [], [], [], []
    for i, (t, e) in enumerate(zip(time, event, strict=True)):
        inside = grid[grid < t]
        k = min(int(rng.integers(0, cuts_per_row + 1)), inside.size)
        cuts = np.sort(rng.choice(inside, size=k, replace=False)) if k else np.array([])
        bounds = np.r_[0.0, cuts, t]
        ids += [i] * (bounds.size - 1)
        start += bounds[:-1].tolist()
        stop += bounds[1:].tolist()
        ev += [0] * (bounds.size - 2) + [int(e)]
    return np.array(ids), np.array(start), np.array(stop), np.array(ev)


@pytest.mark.parametrize("ties", TIES)
def test_split_rows_give_the_same_fit(ties):
    """Splitting every row at arbitrary times (cut points at other rows' event times, so
    entries tie with deaths) leaves the partial likelihood unchanged."""
    X, time, event = lung()
    rng = np.random.default_rng(7)
    ids, start, stop, ev = survsplit(time, event, 3, rng)
    assert ids.size > 2 * time.size
    Xr = X.iloc[ids].reset_index(drop=True)
    w = np.linspace(0.5, 2.0, time.size)
    whole = CoxModel(ties=ties).fit(X, Surv.from_arrays(time=time, event=event), sample_weight=w,
                                    groups=np.arange(time.size))
    y = Surv.from_counting(start=start, stop=stop, event=ev, ids=ids)
    split = CoxModel(ties=ties).fit(Xr, y, sample_weight=w[ids], groups=ids)
    assert CoxRiskSets(stop, ev, start=start).counting
    np.testing.assert_allclose(split.coef_, whole.coef_, rtol=1e-10, atol=0)
    np.testing.assert_allclose(split.naive_se_, whole.naive_se_, rtol=1e-10)
    np.testing.assert_allclose(split.se_, whole.se_, rtol=1e-10)     # robust by patient
    assert split.loglik_ == pytest.approx(whole.loglik_, rel=1e-12)
    # the baseline hazards are centred at different row means; the curves agree
    np.testing.assert_array_equal(split.baseline_cumhaz_[None][0],
                                  whole.baseline_cumhaz_[None][0])
    times = np.quantile(time, [0.1, 0.5, 0.9])
    np.testing.assert_allclose(split.predict_survival_function(X.iloc[:20], times),
                               whole.predict_survival_function(X.iloc[:20], times),
                               rtol=1e-10)


def test_shifting_the_time_origin_changes_nothing():
    """Only the order of the times matters (R accepts any start < stop, negatives too)."""
    _, start, stop, event, w, _, rng = counting_sample(seed=3)
    x = rng.normal(size=(stop.size, 2))
    a = cox_fit(x, stop, event, weights=w, start=start)
    b = cox_fit(x, stop - 100.0, event, weights=w, start=start - 100.0)
    np.testing.assert_allclose(b.coef, a.coef, rtol=1e-12)


# ----------------------------------------------------------------- CoxModel behaviour
def test_model_checks_work_on_counting_rows():
    X, y, ids = heart()
    with pytest.raises(FitError, match=r"75 events, EPV = 7\.5 < min_epv = 10"):
        CoxModel().fit(X.assign(a=np.arange(len(X)) % 7, b=np.arange(len(X)) % 5,
                                c=np.arange(len(X)) % 3, d=np.arange(len(X)) % 11,
                                e=np.arange(len(X)) % 13, f=np.arange(len(X)) % 17), y)
    with pytest.raises(FitError, match=r"linearly dependent") as info:
        CoxModel().fit(X.assign(age2=2 * X["age"]), y)
    assert set(info.value.columns) == {"age", "age2"}
    with pytest.raises(FitError, match="constant feature"):
        CoxModel().fit(X.assign(k=1.0), y)
    model = clone(CoxModel()).fit(X, y, groups=ids)
    assert model.predict(X).shape == (len(X),)
    assert model.predict_survival_function(X.iloc[:3], [10.0, 100.0]).shape == (3, 2)
    assert list(model.summary().to_frame().index) == list(X.columns)


def test_penalised_fits_on_counting_rows():
    X, y, ids = heart()
    lasso = CoxModel(penalty=0.02, l1_ratio=1.0).fit(X, y)
    assert lasso.counting_ and np.isnan(lasso.se_).all()
    with pytest.raises(FitError, match="needs the patient ids"):
        CoxModel(penalty="cv", n_penalties=5).fit(X, y)
    cv = CoxModel(penalty="cv", n_penalties=5, cv_folds=3, random_state=0)
    cv.fit(X, y, groups=ids)
    assert cv.cv_results_.shape == (5, 2)
    # a vanishing ridge penalty gives the unpenalised Breslow fit
    tiny = CoxModel(penalty=1e-10).fit(X, y)
    plain = CoxModel(ties="breslow").fit(X, y)
    np.testing.assert_allclose(tiny.coef_, plain.coef_, rtol=1e-5)


# -------------------------------------------------------------- the outcome layout
def test_from_counting_builds_the_layout_and_refuses_bad_rows():
    y = Surv.from_counting(start=[-3.0, 0.0, 2.0], stop=[0.0, 2.0, 5.0], event=[0, 0, 1],
                           ids=["P1", "P1", "P1"])
    assert is_counting(y) and y.dtype.names == ("event", "start", "stop")
    assert [a.tolist() for a in check_y_counting(y)] == [[-3.0, 0.0, 2.0], [0.0, 2.0, 5.0],
                                                         [False, False, True]]
    with pytest.raises(SchemaError, match=r"start must be before stop.*rows \(1-based\) 2, 3 "
                                          r"\(2 in total\)") as info:
        Surv.from_counting(start=[0, 5, 4], stop=[2, 5, 3], event=[0, 1, 1],
                           ids=["A", "B", "C"])
    assert info.value.ids == ["B", "C"]
    with pytest.raises(SchemaError, match="overlap") as info:
        Surv.from_counting(start=[0, 10, 0], stop=[12, 20, 5], event=[0, 1, 1],
                           ids=["A", "A", "B"])
    assert info.value.ids == ["A"]
    with pytest.raises(SchemaError, match="start time is missing"):
        Surv.from_counting(start=[0.0, np.nan], stop=[1.0, 2.0], event=[0, 1])
    with pytest.raises(SchemaError, match="stop time is not a number"):
        Surv.from_counting(start=[0.0, 0.0], stop=[1.0, "2d"], event=[0, 1])
    with pytest.raises(SchemaError, match="1=censored/2=dead"):
        Surv.from_counting(start=[0.0, 0.0], stop=[1.0, 2.0], event=[1, 2])
    with pytest.raises(SchemaError, match="differ in length"):
        Surv.from_counting(start=[0.0], stop=[1.0, 2.0], event=[0, 1])
    # gaps between one subject's intervals are allowed (not at risk in between)
    Surv.from_counting(start=[0, 10], stop=[5, 20], event=[0, 1], ids=["A", "A"])


def test_one_time_per_subject_code_refuses_counting_outcomes():
    y = Surv.from_counting(start=[0.0, 1.0], stop=[1.0, 3.0], event=[0, 1])
    with pytest.raises(TypeError, match="counting-process outcome"):
        check_y_survival(y)
    from survrad.evaluation.concordance import concordance_index_y

    with pytest.raises(TypeError, match="Only CoxModel fits"):
        concordance_index_y(y, np.zeros(2))


# ---------------------------------------------------------------------------- report
def parity_table() -> pd.DataFrame:
    """Largest relative difference from R per case and quantity."""
    out = []
    for case in CASES:
        model, ref = fit_case(case)
        surv = model.predict_survival_function(new_profiles(ref),
                                               ref["survival"]["times"]).ravel()
        pairs = {"coef": (model.coef_, ref["coef"]), "robust_se": (model.se_, ref["robust_se"]),
                 "naive_se": (model.naive_se_, ref["naive_se"]),
                 "loglik": (model.loglik_, ref["loglik"]),
                 "loglik_null": (model.loglik_null_, ref["loglik_null"]),
                 "survival": (surv, ref["survival"]["surv"])}
        for name, (got, want) in pairs.items():
            got, want = np.atleast_1d(got), np.atleast_1d(np.asarray(want, dtype=float))
            out.append((case, name, float(np.max(np.abs(got / want - 1)))))
    X, y, _ = heart()
    z = cox_zph(CoxModel().fit(X, y), X, y)
    ref = r_ref("timevarying", "heart_zph_km")
    out.append(("heart_zph_km", "chisq",
                float(np.max(np.abs(z["chisq"].to_numpy() / ref["chisq"] - 1)))))
    return pd.DataFrame(out, columns=["case", "quantity", "max_rel_diff"])


if __name__ == "__main__":
    with pd.option_context("display.float_format", "{:.2e}".format):
        print(parity_table().to_string(index=False))

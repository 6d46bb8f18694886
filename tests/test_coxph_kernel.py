"""The Cox kernels of survrad._math.coxph against naive O(n^2) references and oracles.

Truth used here: direct loop-over-event-times implementations of the Breslow and Efron
partial likelihoods (R's coxfit6 definitions with case weights), finite differences,
the equivalence of integer weights and replicated rows (Breslow), scikit-survival's
CoxnetSurvivalAnalysis (same objective as glmnet) and the KKT conditions.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from survrad._math.coxph import (
    CoxRiskSets,
    cox_baseline_hazard,
    cox_fit,
    cox_fit_elastic_net,
    cox_information,
    cox_partial_loglik_eta,
    cox_robust_variance,
    cox_score_residuals,
)

TIES = ["efron", "breslow"]


def tied_sample(n=60, seed=1, strata=False):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 12, n).astype(float)          # many ties
    event = (rng.uniform(size=n) < 0.7).astype(int)
    w = rng.uniform(0.5, 2.0, n)
    s = rng.integers(0, 3, n) if strata else None
    return time, event, w, s, rng


def naive_loglik(eta, time, event, w, ties):
    """R's coxfit6 log partial likelihood, one event time at a time (no tricks)."""
    ll = 0.0
    for t in np.unique(time[event == 1]):
        dead = (time == t) & (event == 1)
        risk = time >= t
        s0 = np.sum(w[risk] * np.exp(eta[risk]))
        s0d = np.sum(w[dead] * np.exp(eta[dead]))
        d = dead.sum()
        meanwt = w[dead].sum() / d
        ll += np.sum(w[dead] * eta[dead])
        for k in range(d):
            frac = k / d if ties == "efron" else 0.0
            ll -= meanwt * np.log(s0 - frac * s0d)
    return ll


def naive_loglik_strata(eta, time, event, w, s, ties):
    if s is None:
        return naive_loglik(eta, time, event, w, ties)
    return sum(naive_loglik(eta[s == k], time[s == k], event[s == k], w[s == k], ties)
               for k in np.unique(s))


@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("use_strata", [False, True])
def test_loglik_matches_naive_and_gradient_matches_finite_differences(ties, use_strata):
    time, event, w, s, rng = tied_sample(strata=use_strata)
    eta = rng.normal(size=time.size)
    ll, grad = cox_partial_loglik_eta(eta, time, event, weights=w, strata=s, ties=ties)
    assert ll == pytest.approx(naive_loglik_strata(eta, time, event, w, s, ties), rel=1e-12)
    h = 1e-6
    fd = np.array([
        (naive_loglik_strata(eta + h * e_i, time, event, w, s, ties)
         - naive_loglik_strata(eta - h * e_i, time, event, w, s, ties)) / (2 * h)
        for e_i in np.eye(time.size)])
    np.testing.assert_allclose(grad, fd, atol=1e-7)


def test_loglik_is_shift_invariant_and_stable_for_large_eta():
    time, event, _, _, rng = tied_sample()
    eta = rng.normal(size=time.size)
    ll, g = cox_partial_loglik_eta(eta, time, event)
    ll2, g2 = cox_partial_loglik_eta(eta + 800.0, time, event)   # exp(800) overflows
    assert np.isfinite(ll2)
    assert ll2 == pytest.approx(ll, rel=1e-12)
    np.testing.assert_allclose(g2, g, atol=1e-12)


@pytest.mark.parametrize("ties", TIES)
def test_score_and_information_match_finite_differences(ties):
    time, event, w, s, rng = tied_sample(strata=True)
    x = rng.normal(size=(time.size, 3))
    beta = np.array([0.3, -0.2, 0.1])
    rs = CoxRiskSets(time, event, weights=w, strata=s, ties=ties)
    _, u, info = rs.derivatives(x, beta)
    h = 1e-6
    fd_u = np.array([(rs.loglik(x @ (beta + h * e)) - rs.loglik(x @ (beta - h * e))) / (2 * h)
                     for e in np.eye(3)])
    fd_i = np.array([-(rs.derivatives(x, beta + h * e)[1] - rs.derivatives(x, beta - h * e)[1])
                     / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(u, fd_u, atol=1e-7)
    np.testing.assert_allclose(info, fd_i, atol=1e-6)
    np.testing.assert_allclose(cox_information(x, time, event, beta, weights=w, strata=s,
                                               ties=ties), info, atol=1e-10)


def test_integer_weights_equal_replicated_rows_with_breslow():
    time, event, _, _, rng = tied_sample()
    x = rng.normal(size=(time.size, 2))
    wi = rng.integers(1, 4, time.size)
    rep = np.repeat(np.arange(time.size), wi)
    a = cox_fit(x, time, event, weights=wi, ties="breslow")
    b = cox_fit(x[rep], time[rep], event[rep], ties="breslow")
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-10)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-12)
    np.testing.assert_allclose(a.information, b.information, rtol=1e-10)


def naive_breslow_score_residuals(x, time, event, beta):
    """L_i = d_i (x_i - xbar(t_i)) - sum_{t_j <= t_i} exp(eta_i) (x_i - xbar_j) dLambda_j."""
    eta = x @ beta
    r = np.exp(eta)
    out = np.zeros_like(x)
    for t in np.unique(time[event == 1]):
        risk = time >= t
        dead = (time == t) & (event == 1)
        xbar = (r[risk, None] * x[risk]).sum(0) / r[risk].sum()
        dlam = dead.sum() / r[risk].sum()
        out[dead] += x[dead] - xbar
        out[risk] -= r[risk, None] * (x[risk] - xbar) * dlam
    return out


def test_score_residuals_match_naive_breslow_and_sum_to_score():
    time, event, w, _, rng = tied_sample()
    x = rng.normal(size=(time.size, 2))
    beta = np.array([0.4, -0.3])
    res = cox_score_residuals(x, time, event, beta, ties="breslow")
    np.testing.assert_allclose(res, naive_breslow_score_residuals(x, time, event, beta),
                               atol=1e-12)
    for ties in TIES:   # weighted residuals sum to the score vector
        rs = CoxRiskSets(time, event, weights=w, ties=ties)
        u = rs.derivatives(x, beta)[1]
        wres = cox_score_residuals(x, time, event, beta, weights=w, ties=ties, weighted=True)
        np.testing.assert_allclose(wres.sum(0), u, atol=1e-12)


def test_robust_variance_with_singleton_groups_is_naive_sandwich():
    time, event, _, _, rng = tied_sample(n=80)
    x = rng.normal(size=(time.size, 2))
    fit = cox_fit(x, time, event, ties="breslow")
    v = cox_robust_variance(x, time, event, fit.coef, groups=np.arange(time.size),
                            ties="breslow")
    d = naive_breslow_score_residuals(x, time, event, fit.coef) @ np.linalg.inv(fit.information)
    np.testing.assert_allclose(v, d.T @ d, rtol=1e-10)
    # clustering two copies of each row together gives back the unclustered sandwich
    rep = np.repeat(np.arange(time.size), 2)
    fit2 = cox_fit(x[rep], time[rep], event[rep], ties="breslow")
    v2 = cox_robust_variance(x[rep], time[rep], event[rep], fit2.coef, groups=rep,
                             ties="breslow")
    np.testing.assert_allclose(v2, v, rtol=1e-8)


@pytest.mark.parametrize("ties", TIES)
def test_baseline_hazard_matches_naive(ties):
    time, event, w, _, rng = tied_sample()
    eta = rng.normal(scale=0.5, size=time.size)
    got_t, got_h = cox_baseline_hazard(eta, time, event, weights=w, ties=ties)[None]
    r = w * np.exp(eta)
    expected = []
    for t in np.unique(time[event == 1]):
        dead = (time == t) & (event == 1)
        s0, s0d, d = r[time >= t].sum(), r[dead].sum(), dead.sum()
        meanwt = w[dead].sum() / d
        fr = np.arange(d) / d if ties == "efron" else np.zeros(d)
        expected.append(np.sum(meanwt / (s0 - fr * s0d)))
    np.testing.assert_array_equal(got_t, np.unique(time[event == 1]))
    np.testing.assert_allclose(got_h, np.cumsum(expected), rtol=1e-12)


def test_newton_recovers_known_coefficients_and_flags_divergence():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2000, 2))
    beta = np.array([0.7, -0.4])
    t = rng.exponential(np.exp(-x @ beta))
    fit = cox_fit(x, t, np.ones(2000))
    se = np.sqrt(np.diag(fit.variance))
    assert fit.converged
    assert np.all(np.abs(fit.coef - beta) < 3 * se)
    assert np.max(np.abs(fit.score)) < 1e-6
    # monotone likelihood: x2 = 1 exactly for the 10 earliest (all events)
    sep = np.zeros(2000)
    sep[np.argsort(t)[:10]] = 1.0
    bad = cox_fit(np.c_[x[:, 0], sep], t, np.ones(2000))
    assert not bad.converged
    assert bad.infinite.tolist() == [False, True]


def test_ridge_penalty_shrinks_and_satisfies_stationarity():
    time, event, _, _, rng = tied_sample(n=100)
    x = rng.normal(size=(100, 3))
    plain = cox_fit(x, time, event)
    ridge = cox_fit(x, time, event, l2=5.0)
    assert np.linalg.norm(ridge.coef) < np.linalg.norm(plain.coef)
    np.testing.assert_allclose(ridge.score, 0.0, atol=1e-8)   # penalised score at optimum


# ------------------------------------------------------------------------ elastic net
@pytest.fixture(scope="module")
def lung_std():
    from survrad.datasets import load_dataset

    d = load_dataset("lung")
    cols = ["age", "sex", "ph.ecog", "ph.karno", "wt.loss"]
    d = d.dropna(subset=["time", "status", *cols])
    x = d[cols].to_numpy(float)
    xs = (x - x.mean(0)) / x.std(0)          # glmnet's standardisation (1/n variance)
    return xs, d["time"].to_numpy(float), (d["status"] == 2).to_numpy()


@pytest.mark.parametrize(("lam", "alpha"), [(0.05, 1.0), (0.02, 0.5), (0.01, 1.0)])
def test_elastic_net_matches_sksurv_coxnet_and_kkt(lung_std, lam, alpha):
    from sksurv.linear_model import CoxnetSurvivalAnalysis
    from sksurv.util import Surv

    xs, time, event = lung_std
    fit = cox_fit_elastic_net(xs, time, event, penalty=lam, l1_ratio=alpha)
    assert fit.converged
    # tol=1e-14: at sksurv's tol=1e-12 its coordinate descent stops up to 2.2e-6 from the
    # optimum (KKT residual 6e-7, ours 1e-8); at 1e-14 the two agree to <= 1.6e-7
    ref = CoxnetSurvivalAnalysis(alphas=[lam], l1_ratio=alpha, tol=1e-14, max_iter=1_000_000)
    ref.fit(xs, Surv.from_arrays(event, time))
    np.testing.assert_allclose(fit.coef, ref.coef_[:, 0], atol=1e-6)
    # KKT of -loglik/n + lam * (alpha |b|_1 + (1 - alpha)/2 |b|^2)
    grad = -fit.score / time.size + lam * (1 - alpha) * fit.coef
    nz = fit.coef != 0
    np.testing.assert_allclose(grad[nz], -lam * alpha * np.sign(fit.coef[nz]), atol=1e-7)
    assert np.all(np.abs(grad[~nz]) <= lam * alpha + 1e-9)


def test_lasso_kkt_with_zero_coefficients(lung_std):
    xs, time, event = lung_std
    fit = cox_fit_elastic_net(xs, time, event, penalty=0.05, l1_ratio=1.0)
    zero = fit.coef == 0
    assert zero.any() and (~zero).any()
    grad = -fit.score / time.size
    assert np.all(np.abs(grad[zero]) <= 0.05 + 1e-9)


def test_ridge_kkt_and_vanishing_penalty_gives_breslow_fit(lung_std):
    xs, time, event = lung_std
    ridge = cox_fit_elastic_net(xs, time, event, penalty=0.1, l1_ratio=0.0)
    np.testing.assert_allclose(-ridge.score / time.size + 0.1 * ridge.coef, 0.0, atol=1e-9)
    tiny = cox_fit_elastic_net(xs, time, event, penalty=1e-10, l1_ratio=0.5)
    plain = cox_fit(xs, time, event, ties="breslow")
    np.testing.assert_allclose(tiny.coef, plain.coef, atol=1e-6)


def test_input_errors():
    with pytest.raises(ValueError, match="event must be coded 0/1"):
        cox_partial_loglik_eta([0.0, 0.0], [1.0, 2.0], [1, 2])
    with pytest.raises(ValueError, match="strictly positive"):
        cox_partial_loglik_eta([0.0, 0.0], [1.0, 2.0], [1, 1], weights=[1.0, 0.0])
    with pytest.raises(ValueError, match="ties must be one of"):
        cox_partial_loglik_eta([0.0, 0.0], [1.0, 2.0], [1, 1], ties="exact")
    with pytest.raises(ValueError, match="eta has length"):
        cox_partial_loglik_eta([0.0], [1.0, 2.0], [1, 1])


# ------------------------------------------------ fast kernels against per-death loops
def naive_death_terms(x, eta, time, event, w, ties, start=None):
    """One row per death (R's coxfit6 / coxscore definitions, one risk set at a time;
    with ``start``, agfit4 / agscore3: at risk when ``start < t <= time``).

    Returns the death's event time, ``meanwt`` (W_D / d), the Efron-weighted risk set
    (``frac`` of every subject: 1 at risk, 1 - k/d for a tied death at its k-th step),
    ``log(den)``, ``xbar``, the weighted covariance ``V`` and ``exp(eta) * hazard`` of
    every subject. ``exp`` is shifted by the largest ``eta`` of each risk set, so tiny
    denominators stay exact.
    """
    rows = []
    for t in np.unique(time[event == 1]):
        dead = (time == t) & (event == 1)
        risk = (time >= t) if start is None else (time >= t) & (start < t)
        shift = eta[risk].max()
        r = w * np.exp(eta - shift)
        d = int(dead.sum())
        meanwt = w[dead].sum() / d
        for k in range(d):
            f = k / d if ties == "efron" else 0.0
            frac = np.where(dead, 1.0 - f, 1.0) * risk
            om = r * frac
            den = om.sum()
            xbar = om @ x / den
            cov = (x * om[:, None]).T @ x / den - np.outer(xbar, xbar)
            rows.append((t, meanwt, frac, np.log(den) + shift, xbar, cov,
                         np.exp(eta - shift) * meanwt / den))
    return rows


def naive_by_stratum(x, beta, time, event, w, s, ties, gtime=None, start=None):
    """loglik, score, information, score residuals and the zph blocks by the loops above."""
    n, p = x.shape
    s = np.zeros(n, dtype=int) if s is None else s
    ll, u, info, resid = 0.0, np.zeros(p), np.zeros((p, p)), np.zeros((n, p))
    g = np.zeros(n) if gtime is None else gtime
    u2, i12, i22 = np.zeros(p), np.zeros((p, p)), np.zeros((p, p))
    for k in np.unique(s):
        m = s == k
        xs, ts, es, ws, gs = x[m], time[m], event[m], w[m], g[m]
        st = None if start is None else start[m]
        eta = xs @ beta
        died = es == 1
        ll += ws[died] @ eta[died]
        u += ws[died] @ xs[died]
        u2 += (ws * gs)[died] @ xs[died]
        res = np.where(died[:, None], xs, 0.0)
        xbar_sum = {}
        for t, meanwt, frac, logden, xbar, cov, e_haz in naive_death_terms(xs, eta, ts, es,
                                                                           ws, ties, st):
            gt = gs[ts == t][0]
            ll -= meanwt * logden
            u -= meanwt * xbar
            u2 -= meanwt * gt * xbar
            info += meanwt * cov
            i12 += meanwt * gt * cov
            i22 += meanwt * gt * gt * cov
            res -= (frac * e_haz)[:, None] * (xs - xbar)
            xbar_sum.setdefault(t, []).append(xbar)
        for t, xbars in xbar_sum.items():
            dead_t = died & (ts == t)
            res[dead_t] -= np.mean(xbars, axis=0)
        resid[m] = res
    zph_info = np.block([[info, i12], [i12.T, i22]])
    return ll, u, info, resid, np.r_[u, u2], zph_info


def rel_close(got, want, rtol=1e-10):
    got, want = np.asarray(got, float), np.asarray(want, float)
    scale = max(np.max(np.abs(want)), 1e-300)
    assert np.max(np.abs(got - want)) <= rtol * scale, np.max(np.abs(got - want)) / scale


@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("use_strata", [False, True])
@pytest.mark.parametrize("p", [1, 4, 5])
def test_fast_kernels_match_per_death_loops(ties, use_strata, p):
    """Prefix-sum differences, paired cumulative sums and the Efron 2 x 2 forms of the
    information against a direct loop over deaths and risk sets (weights, strata, ties)."""
    time, event, w, s, rng = tied_sample(n=70, seed=p + 10 * use_strata, strata=use_strata)
    x = rng.normal(size=(time.size, p)) + rng.normal(size=p)   # not centred
    beta = rng.normal(scale=0.4, size=p)
    gtime = np.log(time) - 1.0
    ll, u, info, resid, zph_u, zph_i = naive_by_stratum(x, beta, time, event, w, s, ties,
                                                        gtime)
    rs = CoxRiskSets(time, event, weights=w, strata=s, ties=ties)
    got_ll, got_u, got_info = rs.derivatives(x, beta)
    rel_close(got_ll, ll)
    rel_close(got_u, u)
    rel_close(got_info, info)
    rel_close(cox_information(x, time, event, beta, weights=w, strata=s, ties=ties), info)
    rel_close(rs.score_residuals(x, beta), resid)
    got_zu, got_zi = rs.zph_score(x, beta, gtime)
    rel_close(got_zu, zph_u)
    rel_close(got_zi, zph_i)
    # cox_fit (design sorted and centred once): score and information at its coefficients
    fit = cox_fit(x, time, event, weights=w, strata=s, ties=ties)
    assert fit.converged
    ll_fit, u_fit, info_fit, *_ = naive_by_stratum(x, fit.coef, time, event, w, s, ties)
    rel_close(fit.loglik, ll_fit)
    rel_close(fit.information, info_fit)
    np.testing.assert_allclose(fit.score, u_fit, atol=1e-10 * np.abs(u).max())
    assert np.abs(u_fit).max() < 1e-4 * np.abs(u).max()


@pytest.mark.parametrize("ties", TIES)
def test_derivatives_exact_when_late_risk_sets_are_tiny(ties):
    """eta spread of ~500: exp(eta - max) of the late risk sets is ~1e-200, so 1 / den^2
    would overflow; the information is then formed from risk-set means instead."""
    rng = np.random.default_rng(4)
    time = np.repeat(np.arange(1.0, 21.0), 2)
    event = (rng.uniform(size=40) < 0.7).astype(int)
    event[-2:] = 1
    w = rng.uniform(0.5, 2.0, 40)
    x = np.c_[-time + rng.normal(scale=0.1, size=40), rng.normal(size=40)]
    beta = np.array([25.0, 0.3])
    ll, u, info, *_ = naive_by_stratum(x, beta, time, event, w, None, ties)
    got_ll, got_u, got_info = CoxRiskSets(time, event, weights=w, ties=ties).derivatives(x,
                                                                                        beta)
    rel_close(got_ll, ll)
    rel_close(got_u, u)
    rel_close(got_info, info)


def test_newton_solve_is_cholesky_with_r_singular_directions():
    from survrad._math.coxph import _chsolve2, _solve

    rng = np.random.default_rng(5)
    a = rng.normal(size=(6, 6))
    info = a @ a.T + 0.1 * np.eye(6)
    u = rng.normal(size=6)
    rel_close(_solve(info, u), np.linalg.solve(info, u))
    rel_close(_chsolve2(info, u), np.linalg.solve(info, u))
    # a direction without information (pivot below toler.chol) gets step 0 as in R
    info[3, :] = info[:, 3] = 0.0
    info[3, 3] = 1e-14
    keep = np.arange(6) != 3
    step = _solve(info, u)
    assert step[3] == 0.0
    rel_close(step[keep], np.linalg.solve(info[np.ix_(keep, keep)], u[keep]))


# ------------------------------------------------ linear predictors tie where rows do
def test_identical_rows_get_identical_risk() -> None:
    """OpenBLAS's X @ coef splits ties between identical rows (about one data set in two
    here, in either memory layout); a concordance index would then count those pairs as
    concordant or discordant instead of 1/2. Every survrad risk score ties exactly."""
    import pandas as pd

    from survrad._math.linear import linear_predictor
    from survrad.data.outcome import Surv
    from survrad.models import CoxModel, LogisticModel

    rng = np.random.default_rng(1)
    for _ in range(20):
        n, p = int(rng.integers(100, 600)), int(rng.integers(2, 20))
        base = rng.normal(size=(int(rng.integers(p + 5, p + 40)), p)) * rng.uniform(0.1, 100)
        rows = rng.integers(0, len(base), n)
        X = pd.DataFrame(base[rows], columns=[f"x{j}" for j in range(p)])
        coef = rng.normal(size=p)
        for A in (np.ascontiguousarray(X), np.asfortranarray(X)):
            lp = linear_predictor(A - A.mean(axis=0), coef, 0.3)
            assert all(np.unique(lp[rows == g]).size == 1 for g in np.unique(rows))
        y = Surv.from_arrays(time=rng.exponential(size=n), event=rng.random(n) < 0.7)
        with warnings.catch_warnings():   # low events per variable: not the point here
            warnings.simplefilter("ignore")
            risk = CoxModel(min_epv=0).fit(X, y).predict(X)
            target = (rng.random(n) < 0.5).astype(int)
            prob = LogisticModel().fit(X, target).predict_proba(X)[:, 1]
        assert all(np.unique(risk[rows == g]).size == 1 for g in np.unique(rows))
        assert all(np.unique(prob[rows == g]).size == 1 for g in np.unique(rows))

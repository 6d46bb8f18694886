"""Tests of F ``AttentionMIL``: analytic gradients, the network against a naive per-patient
loop, MIL invariances, the estimator contract and recovery of the worst lesion."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import clone

from survrad.data.cohort import Cohort, Endpoint
from survrad.data.simulate import simulate_cohort
from survrad.exceptions import DataWarning, NotFittedError, StatisticalWarning
from survrad.lesions.attention import AttentionMIL, _forward, _Loss, _make_bags, _Net
from survrad.lesions.crossfit import lesion_risk_table


# --------------------------------------------------------------------------- helpers
def tiny_cohort(n=60, p=3, seed=0, empty=()):
    """Patients with 1-4 lesions; OS driven by the worst lesion's rad_0 - rad_1."""
    rng = np.random.default_rng(seed)
    ids = pd.Index([f"P{i:03d}" for i in range(n)], name="patient_id")
    nl = rng.integers(1, 5, n)
    pid = np.repeat(ids.to_numpy(), nl)
    X = rng.normal(size=(pid.size, p))
    s = X[:, 0] - X[:, 1]
    worst = pd.Series(s).groupby(pid).max().reindex(ids).to_numpy()
    t = rng.exponential(np.exp(-worst))
    les = pd.DataFrame({"patient_id": pid,
                        "lesion_id": np.concatenate([[f"L{k}" for k in range(m)] for m in nl]),
                        "volume_ml": rng.uniform(1, 10, pid.size)})
    for j in range(p):
        les[f"rad_{j}"] = X[:, j]
    les = les.loc[~les["patient_id"].isin(empty)].reset_index(drop=True)
    pat = pd.DataFrame({"os_time": t, "os_event": (rng.random(n) < 0.8).astype(int),
                        "resp": (worst < np.median(worst)).astype(int)}, index=ids)
    return Cohort(pat, les, lesion_features=tuple(f"rad_{j}" for j in range(p)),
                  endpoints={"os": Endpoint("os", "survival", time="os_time", event="os_event"),
                             "response": Endpoint("response", "binary", target="resp")})


def naive_forward(P, X, codes, n_patients):
    """Ilse et al. (2018) eq. 9, written patient by patient with plain loops."""
    eta = np.zeros(n_patients)
    att = np.zeros(X.shape[0])
    for i in range(n_patients):
        rows = np.flatnonzero(codes == i)
        H = np.tanh(X[rows] @ P["W_e"].T + P["b_e"])
        scores = np.array([P["w"] @ (np.tanh(P["V"] @ h) * (1 / (1 + np.exp(-(P["U"] @ h)))))
                           for h in H])
        a = np.exp(scores) / np.exp(scores).sum()
        att[rows] = a
        eta[i] = P["beta"] @ (a[:, None] * H).sum(axis=0)
    return eta, att


def naive_efron_loglik(eta, time, event):
    """Efron log partial likelihood, one distinct event time at a time."""
    ll = 0.0
    for t in np.unique(time[event == 1]):
        dead = (time == t) & (event == 1)
        risk = time >= t
        d = dead.sum()
        s_risk, s_dead = np.exp(eta[risk]).sum(), np.exp(eta[dead]).sum()
        ll += eta[dead].sum() - sum(np.log(s_risk - k / d * s_dead) for k in range(d))
    return ll


def gradient_problem(seed=1, n=15, p=4):
    rng = np.random.default_rng(seed)
    codes = np.concatenate([np.arange(n), rng.integers(0, n, 30)])   # every patient >= 1
    X = rng.normal(size=(codes.size, p))
    time = rng.integers(1, 5, n).astype(float)                        # many tied times
    event = rng.integers(0, 2, n)
    event[:4] = 1
    time[:4] = 2.0                                                    # tied deaths
    return rng, codes, X, time, event


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("loss", ["efron", "breslow", "binary"])
def test_analytic_gradient_matches_central_differences(loss):
    rng, codes, X, time, event = gradient_problem()
    n = time.size
    assert np.unique(time[event == 1], return_counts=True)[1].max() >= 4   # ties present
    net = _Net(X.shape[1], 3, 2, intercept=loss == "binary")
    outcome = (("binary", rng.integers(0, 2, n), None) if loss == "binary"
               else ("survival", time, event))
    f = _Loss(net, _make_bags(X, codes), outcome, 0.05, "efron" if loss == "binary" else loss)
    theta = net.init(rng) + rng.normal(scale=0.3, size=net.size)
    _, grad = f(theta)
    eps = 1e-6
    num = np.array([(f(theta + eps * e)[0] - f(theta - eps * e)[0]) / (2 * eps)
                    for e in np.eye(net.size)])
    rel = np.linalg.norm(num - grad) / np.linalg.norm(grad)
    assert rel < 1e-6
    assert np.max(np.abs(num - grad) / np.maximum(np.abs(grad), 1e-2)) < 1e-5


def test_forward_and_loss_match_naive_loops():
    rng, codes, X, time, event = gradient_problem(seed=4)
    n = time.size
    net = _Net(X.shape[1], 3, 2)
    theta = net.init(rng) + rng.normal(scale=0.3, size=net.size)
    bags = _make_bags(X, codes)
    f = _forward(net, theta, bags)
    eta_ref, att_ref = naive_forward(net.unpack(theta), X, codes, n)
    np.testing.assert_allclose(f["eta"], eta_ref[bags.patient_pos], rtol=1e-12, atol=1e-12)
    att = np.empty(X.shape[0])
    att[bags.order] = f["a"]
    np.testing.assert_allclose(att, att_ref, rtol=1e-12)
    # loss = -loglik / n + l2/2 ||weights||^2, Efron ties as written by hand
    loss = _Loss(net, bags, ("survival", time, event), 0.0, "efron")
    expected = -naive_efron_loglik(eta_ref, time, event) / n
    assert loss(theta)[0] == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- behaviour
def test_transform_contract_and_attention_weights():
    c = tiny_cohort()
    m = AttentionMIL(random_state=0, return_embedding=True).fit(c, "os")
    out = m.transform(c)
    assert list(out.index) == list(c.patient_ids)
    assert out.columns[0] == "attention_mil__risk"
    assert out.shape == (c.n_patients, 1 + m.n_hidden)
    assert np.isfinite(out.to_numpy()).all()
    att = m.attention_
    sums = att.groupby("patient_id")["attention"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, rtol=1e-12)
    single = c.lesions.groupby("patient_id").size().loc[lambda s: s == 1].index
    assert (att.set_index("patient_id").loc[single, "attention"] == 1.0).all()
    # z is the attention-weighted mean of the lesion embeddings; risk = beta' z
    z = out.filter(like="__z").to_numpy()
    np.testing.assert_allclose(z @ m.params_["beta"], out["attention_mil__risk"], rtol=1e-10)
    # a single-lesion patient's risk is its lesion's risk (beta' h_k)
    ls = m.lesion_scores(c).set_index("patient_id")
    np.testing.assert_allclose(ls.loc[single, "score"], out.loc[single, "attention_mil__risk"],
                               rtol=1e-10)


def test_risk_invariant_to_lesion_order():
    c = tiny_cohort(seed=2)
    m = AttentionMIL(random_state=0).fit(c, "os")
    shuffled = c.lesions.sample(frac=1.0, random_state=1).reset_index(drop=True)
    c2 = Cohort(c.patients, shuffled, lesion_features=c.lesion_features,
                endpoints=c.endpoints)
    pd.testing.assert_frame_equal(m.transform(c), m.transform(c2), rtol=1e-12)


def test_deterministic_clone_and_resampled_cohort():
    c = tiny_cohort(seed=3)
    a = AttentionMIL(random_state=5).fit(c, "os").transform(c)
    est = AttentionMIL(random_state=5)
    b = clone(est).fit(c, "os").transform(c)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(NotFittedError):
        clone(est).transform(c)
    ids = list(c.patient_ids[:30]) + list(c.patient_ids[:10])           # repeats
    boot = c.take(ids)
    out = AttentionMIL(random_state=0).fit(boot, "os").transform(boot)
    assert list(out.index) == list(boot.patient_ids)
    assert np.isfinite(out.to_numpy()).all()
    np.testing.assert_array_equal(out.iloc[:10].to_numpy(), out.iloc[30:].to_numpy())


def test_patients_without_lesions_are_filled_and_warned():
    c = tiny_cohort(seed=4, empty=("P003", "P007"))
    with pytest.warns(DataWarning, match="P003"):
        m = AttentionMIL(random_state=0).fit(c, "os")
    with pytest.warns(DataWarning, match="training-cohort means"):
        out = m.transform(c)
    assert out.loc["P003", "attention_mil__risk"] == pytest.approx(m.fill_values_.iloc[0])
    others = out.drop(index=["P003", "P007"])["attention_mil__risk"]
    assert m.fill_values_.iloc[0] == pytest.approx(others.mean())


def test_early_stopping_keeps_the_best_validation_iteration():
    c = tiny_cohort(n=120, seed=6)
    m = AttentionMIL(random_state=0, early_stopping=True, n_iter_no_change=5,
                     l2=1e-4).fit(c, "os")
    curve = np.asarray(m.validation_loss_)
    assert curve.size == m.n_iter_ >= 1
    assert 1 <= m.best_iter_ <= m.n_iter_        # measured: best 17 of 22 iterations
    assert curve[m.best_iter_ - 1] == curve.min()
    assert m.n_iter_ - m.best_iter_ <= 5        # patience respected


def test_binary_endpoint_and_collapse_warning():
    c = tiny_cohort(n=100, seed=7)
    out = AttentionMIL(random_state=0).fit(c, "response").transform(c)
    resp = c.patients["resp"].to_numpy()
    # low worst-lesion score = response: the risk (logit of response) ranks responders high
    auc = stats.mannwhitneyu(out.iloc[:, 0][resp == 1], out.iloc[:, 0][resp == 0]).statistic
    assert auc / (resp.sum() * (1 - resp).sum()) > 0.7
    with pytest.warns(StatisticalWarning, match="too strong"):
        AttentionMIL(random_state=0, l2=50.0).fit(c, "os")


# --------------------------------------------------------------------------- recovery
@pytest.fixture(scope="module")
def worst_cohort():
    return simulate_cohort(n_patients=400, random_state=0, driver="worst")


@pytest.mark.slow
def test_attention_recovers_the_worst_lesion(worst_cohort):
    """Cross-fitted F lesion scores track the true latent lesion score; measured:
    Spearman 0.86, top-ranked lesion = truly worst 71 % of patients (chance 34 %)."""
    c = worst_cohort
    truth = c.truth["lesions"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tab = lesion_risk_table(AttentionMIL(random_state=0), c, "os", n_folds=5,
                                random_state=0)
    rho = stats.spearmanr(tab["risk"], truth["score"]).statistic
    top_rate = truth["is_worst"].to_numpy()[tab["rank_in_patient"].to_numpy() == 1].mean()
    chance = (1.0 / c.lesions.groupby("patient_id").size()).mean()
    assert rho >= 0.6
    assert top_rate >= 1.6 * chance

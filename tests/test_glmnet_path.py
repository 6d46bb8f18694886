"""The elastic-net Cox path held to glmnet (R), to scikit-survival's Coxnet and to its KKT
conditions.

Data: ``tests/r/glmnet_data.py`` and ``tests/r/glmnet.R`` draw the same numbers (the
Park-Miller generator, exact in double precision; no CSV). glmnet is run at
``thresh = 1e-16`` (its default 1e-7 stops about 1e-2 away from the solution at the
small-penalty end of this path), at glmnet's own lambda sequence.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pandas as pd
import pytest
from rref import R_DIR, r_ref

from survrad._math.coxph import cox_elastic_net_path, cox_fit_elastic_net
from survrad.data.outcome import SURV_DTYPE, Surv
from survrad.exceptions import FitError
from survrad.models import CoxModel
from survrad.models.cox import CoxPath, select_penalty

_spec = importlib.util.spec_from_file_location("glmnet_data", R_DIR / "glmnet_data.py")
glmnet_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(glmnet_data)


def frame(n, p):
    x, time, event = glmnet_data.glmnet_data(n, p)
    X = pd.DataFrame(x, columns=[f"x{j + 1}" for j in range(p)])
    return X, Surv.from_arrays(time=time, event=event), x, time, event


@pytest.fixture(scope="module")
def lasso():
    ref = r_ref("glmnet", "lasso_path")
    X, y, *_ = frame(ref["n"], ref["p"])
    path = CoxModel(l1_ratio=ref["alpha"]).fit_path(X, y, penalties=ref["lambda"])
    return ref, path


def test_generated_data_are_glmnets():
    ref = r_ref("glmnet", "lasso_path")
    _, _, _x, time, event = frame(ref["n"], ref["p"])
    assert int(event.sum()) == ref["n_events"]
    assert np.unique(time).size == time.size == ref["n"] - ref["n_tied_times"]   # untied


@pytest.mark.slow   # the 100-penalty path at n = 1000, p = 500: a few seconds
def test_lasso_path_equals_glmnet(lasso):
    ref, path = lasso
    # glmnet(x, Surv(time, event), family = "cox", alpha = 1, lambda = lambda,
    #        thresh = 1e-16): coef(fit), 100 lambda x 500 features
    want = np.asarray(ref["coef"], dtype=float)
    assert path.coef_path_.shape == want.shape == (100, 500)
    assert np.max(np.abs(path.coef_path_ - want)) < 1e-5
    assert path.n_nonzero.tolist() == ref["df"]                          # fit$df
    np.testing.assert_allclose(path.dev_ratio, ref["dev_ratio"], rtol=1e-6)   # fit$dev.ratio
    assert path.converged.all()
    # glmnet's nulldev = 2 (loglik_saturated - loglik_null), here -2 loglik_null (untied)
    assert -2 * path.loglik_null == pytest.approx(ref["nulldev"], rel=1e-12)


def test_elastic_net_path_equals_glmnet():
    ref = r_ref("glmnet", "enet_path")
    X, y, *_ = frame(ref["n"], ref["p"])
    path = CoxModel(l1_ratio=ref["alpha"]).fit_path(X, y, penalties=ref["lambda"])
    # glmnet(x, Surv(time, event), family = "cox", alpha = 0.5, lambda = lambda,
    #        thresh = 1e-16)
    np.testing.assert_allclose(path.coef_path_, np.asarray(ref["coef"]), atol=1e-7)
    np.testing.assert_allclose(path.dev_ratio, ref["dev_ratio"], rtol=1e-7)
    # fit$df; at lambda_max glmnet lets the first feature in with a coefficient of ~1e-17
    assert path.n_nonzero.tolist()[1:] == ref["df"][1:]
    assert np.max(np.abs(np.asarray(ref["coef"])[0])) < 1e-12


def test_path_satisfies_kkt_and_matches_one_penalty_fits():
    _X, _y, x, time, event = frame(300, 20)
    xs = (x - x.mean(axis=0)) / x.std(axis=0)
    lams = np.geomspace(0.2, 0.002, 15)
    path = cox_elastic_net_path(xs, time, event, penalties=lams, l1_ratio=0.8)
    for lam, b, score in zip(lams, path.coef, path.score, strict=True):
        g = -score / time.size + lam * 0.2 * b
        active = b != 0
        np.testing.assert_allclose(g[active], -lam * 0.8 * np.sign(b[active]), atol=1e-9)
        assert np.all(np.abs(g[~active]) <= lam * 0.8 + 1e-12)
    cold = cox_fit_elastic_net(xs, time, event, penalty=lams[7], l1_ratio=0.8)
    np.testing.assert_allclose(cold.coef, path.coef[7], atol=1e-8)
    # penalties in any order: same rows, returned in the order given
    shuffled = cox_elastic_net_path(xs, time, event, penalties=lams[::-1], l1_ratio=0.8)
    np.testing.assert_allclose(shuffled.coef[::-1], path.coef, atol=1e-9)


def test_path_agrees_with_sksurv_coxnet():
    from sksurv.linear_model import CoxnetSurvivalAnalysis

    X, y, x, time, event = frame(300, 20)
    mean, sd = x.mean(axis=0), x.std(axis=0)
    lams = np.geomspace(0.2, 0.005, 12)
    path = CoxModel(l1_ratio=1.0).fit_path(X, y, penalties=lams)
    yy = np.empty(time.size, dtype=SURV_DTYPE)
    yy["event"], yy["time"] = event, time
    net = CoxnetSurvivalAnalysis(l1_ratio=1.0, alphas=lams, tol=1e-12, max_iter=10**6,
                                 fit_baseline_model=False).fit((x - mean) / sd, yy)
    # Coxnet (glmnet's coordinate descent) at tol 1e-12 is still ~5e-6 from the solution
    np.testing.assert_allclose(path.coef_path_, (net.coef_ / sd[:, None]).T, atol=1e-5)


def test_counting_process_start_keeps_working():
    rng = np.random.default_rng(4)
    n = 200
    x = rng.normal(size=(n, 3))
    start = rng.uniform(0, 0.5, n)
    stop = start + rng.exponential(np.exp(-x[:, 0]))
    event = rng.random(n) < 0.8
    y = Surv.from_counting(start=start, stop=stop, event=event, ids=np.arange(n))
    X = pd.DataFrame(x, columns=list("abc"))
    path = CoxModel(l1_ratio=1.0).fit_path(X, y, penalties=[0.05, 0.01])
    one = CoxModel(penalty=0.01, l1_ratio=1.0).fit(X, y)
    np.testing.assert_allclose(path.coef_path_[1], one.coef_, atol=1e-8)
    xs = (x - x.mean(axis=0)) / x.std(axis=0)
    counting = cox_elastic_net_path(xs, stop, event, penalties=[0.01], l1_ratio=1.0,
                                    start=start)
    right = cox_elastic_net_path(xs, stop, event, penalties=[0.01], l1_ratio=1.0)
    assert not np.allclose(counting.coef, right.coef)       # the entry times matter


def test_fit_path_result_and_errors():
    X, y, *_ = frame(150, 12)
    model = CoxModel(l1_ratio=1.0, n_penalties=8)
    path = model.fit_path(X, y)
    assert isinstance(path, CoxPath)
    assert not hasattr(model, "coef_")                       # the model is left unfitted
    assert path.penalties.size == 8 and np.all(np.diff(path.penalties) < 0)
    assert path.n_nonzero[0] == 0
    table = path.to_frame()
    assert list(table.columns) == ["penalty", "n_nonzero", "loglik", "dev_ratio",
                                   *[f"x{j}" for j in range(1, 13)]]
    with pytest.raises(ValueError, match="penalties"):
        model.fit_path(X, y, penalties=[0.1, -1.0])
    with pytest.raises(ValueError, match="penalties"):
        model.fit_path(X, y, penalties=[])
    with pytest.raises(dataclasses_frozen()):
        path.l1_ratio = 0.5


def dataclasses_frozen():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_select_penalty_uses_the_path_per_fold():
    X, y, x, time, event = frame(200, 10)
    lam, res = select_penalty(x, time, event, l1_ratio=1.0, n_penalties=12, random_state=3)
    assert lam in res["penalty"].to_numpy()
    model = CoxModel(penalty="cv", l1_ratio=1.0, n_penalties=12, random_state=3).fit(X, y)
    assert model.penalty_ == lam
    fixed = CoxModel(penalty=lam, l1_ratio=1.0).fit(X, y)
    np.testing.assert_allclose(model.coef_, fixed.coef_, atol=1e-8)
    with pytest.raises(FitError, match="groups"):
        select_penalty(x, time, event, start=np.zeros(time.size) - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CoxModel(l1_ratio=0.0, n_penalties=5).fit_path(X, y)     # ridge path: quiet

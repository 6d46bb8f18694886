"""ComBat: parity with neuroCombat, known-truth harmonisation, held-out rows, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from survrad.exceptions import ConvergenceWarning, FitError, NotFittedError, SchemaError
from survrad.features import ComBat

FEATS = [f"f{j}" for j in range(8)]


def _batched(seed: int = 0, n_per: tuple = (15, 25, 20)) -> pd.DataFrame:
    """Three centres with additive and multiplicative effects, an age and a sex effect."""
    rng = np.random.default_rng(seed)
    n = sum(n_per)
    batch = np.repeat(["s1", "s2", "s3"], n_per)
    # neuroCombat casts continuous covariates to float32: use values exact in float32
    age = np.float32(rng.normal(60, 10, size=n)).astype(float)
    sex = rng.choice(["F", "M"], size=n)
    Y = rng.normal(size=(n, len(FEATS))) * rng.uniform(0.5, 2, len(FEATS))
    Y += np.where(batch == "s2", 2.0, 0.0)[:, None] + 0.05 * age[:, None]
    Y += (sex == "M")[:, None] * 0.7
    Y[batch == "s3"] *= 2.5
    X = pd.DataFrame(Y, columns=FEATS, index=[f"P{i:03d}" for i in range(n)])
    X["center"] = batch
    X["age"] = age
    X["sex"] = sex
    return X


@pytest.mark.parametrize(("parametric", "eb"), [(True, True), (False, True), (True, False)])
def test_matches_neuroCombat(parametric, eb):
    nc = pytest.importorskip("neuroCombat")
    X = _batched()
    # neuroCombat(dat (features x samples), covars, "center", categorical_cols=["sex"],
    #             continuous_cols=["age"], parametric=, eb=)["data"]
    ref = nc.neuroCombat(X[FEATS].to_numpy().T.copy(), X[["center", "age", "sex"]], "center",
                         categorical_cols=["sex"], continuous_cols=["age"],
                         parametric=parametric, eb=eb)
    step = ComBat("center", covariates=("age", "sex"), parametric=parametric, eb=eb).fit(X)
    out = step.transform(X)
    assert np.max(np.abs(out[FEATS].to_numpy() - ref["data"].T)) < 1e-6
    est = ref["estimates"]
    assert np.allclose(step.gamma_star_.to_numpy(), est["gamma.star"], atol=1e-8)
    assert np.allclose(step.delta_star_.to_numpy(), est["delta.star"], atol=1e-8)
    assert np.allclose(step.var_pooled_.to_numpy(), est["var.pooled"].ravel(), rtol=1e-10)


def test_known_truth_batch_removed_covariate_kept():
    rng = np.random.default_rng(7)
    n_per, p = 80, 12
    batch = np.repeat(["A", "B", "C"], n_per)
    # the protected covariate is unbalanced across centres (30 %, 50 %, 70 % treated)
    treated = (rng.random(3 * n_per) < np.repeat([0.3, 0.5, 0.7], n_per)).astype(float)
    shift = {"A": 0.0, "B": 2.0, "C": -1.5}
    scale = {"A": 1.0, "B": 2.0, "C": 0.7}
    noise = rng.normal(size=(3 * n_per, p))
    Y = 1.5 * treated[:, None] + noise * np.array([scale[b] for b in batch])[:, None]
    Y += np.array([shift[b] for b in batch])[:, None]
    X = pd.DataFrame(Y, columns=[f"g{j}" for j in range(p)])
    X["center"], X["treated"] = batch, treated
    out = ComBat(covariates=("treated",)).fit_transform(X)
    D = np.column_stack([np.ones(len(X)), batch == "B", batch == "C", treated])
    coef_raw, *_ = np.linalg.lstsq(D, Y, rcond=None)
    coef, *_ = np.linalg.lstsq(D, out.iloc[:, :p].to_numpy(), rcond=None)
    # batch location effects: 2.0 and -1.5 before, noise level (SE ~ 0.15) after
    assert np.all(np.abs(coef_raw[1]) > 1.5) and np.all(np.abs(coef_raw[2]) > 1.0)
    assert np.max(np.abs(coef[1:3])) < 0.45
    # the protected effect (truth 1.5) is preserved
    assert np.max(np.abs(coef[3] - 1.5)) < 0.45
    assert np.allclose(coef[3], coef_raw[3], atol=0.3)
    # scale: within-centre SDs become alike (2.0 / 0.7 before)
    resid = out.iloc[:, :p].to_numpy() - D @ coef
    sds = np.array([resid[batch == b].std(axis=0).mean() for b in "ABC"])
    assert sds.max() / sds.min() < 1.25
    # without protection, the unbalanced covariate's effect is partly removed
    unprotected = ComBat().fit_transform(X.drop(columns="treated"))
    coef_u, *_ = np.linalg.lstsq(D, unprotected.to_numpy(), rcond=None)
    assert np.mean(np.abs(coef_u[3] - 1.5)) > np.mean(np.abs(coef[3] - 1.5))


def test_heldout_rows_use_training_estimates_only():
    X = _batched(seed=3)
    train, test = X.iloc[::2], X.iloc[1::2]
    step = ComBat(covariates=("age", "sex")).fit(train)
    out = step.transform(test)
    # a row's output depends only on that row and the training estimates
    single = pd.concat([step.transform(test.iloc[[i]]) for i in range(len(test))])
    pd.testing.assert_frame_equal(out, single)
    # the closed form with the stored estimates (written out by hand)
    row = test.iloc[4]
    b = row["center"]
    loc = (step.grand_mean_ + step.covariate_effects_.loc["age"] * row["age"]
           + step.covariate_effects_.loc["sex[M]"] * (row["sex"] == "M"))
    sd = np.sqrt(step.var_pooled_)
    z = ((row[FEATS].astype(float) - loc) / sd - step.gamma_star_.loc[b]) / np.sqrt(
        step.delta_star_.loc[b])
    assert np.allclose(out.iloc[4][FEATS].astype(float), z * sd + loc, atol=1e-12)
    # refitting on other training rows changes the held-out output
    other = ComBat(covariates=("age", "sex")).fit(X.iloc[1::2]).transform(test)
    assert np.max(np.abs(other[FEATS].to_numpy() - out[FEATS].to_numpy())) > 1e-3


def test_output_drops_batch_keeps_covariates():
    X = _batched()
    step = ComBat(covariates=("age", "sex")).fit(X)
    out = step.transform(X)
    assert list(out.columns) == [*FEATS, "age", "sex"]
    assert list(step.get_feature_names_out()) == [*FEATS, "age", "sex"]
    pd.testing.assert_series_equal(out["sex"], X["sex"])
    pd.testing.assert_series_equal(out["age"], X["age"])
    assert out.index.equals(X.index)


def test_unseen_batch_names_values_and_rows():
    X = _batched()
    step = ComBat(covariates=("age",)).fit(X.drop(columns="sex"))
    new = X.drop(columns="sex").iloc[:3].copy()
    new.loc[["P001", "P002"], "center"] = "s9"
    with pytest.raises(SchemaError, match=r"'s9'.*not in the training rows") as err:
        step.transform(new)
    assert "P001" in str(err.value) and "P002" in str(err.value)
    assert "P000" not in str(err.value)
    assert err.value.ids == ["P001", "P002"]


def test_unseen_covariate_level():
    X = _batched()
    step = ComBat(covariates=("sex",)).fit(X.drop(columns="age"))
    new = X.drop(columns="age").iloc[:2].copy()
    new.loc["P000", "sex"] = "X"
    with pytest.raises(SchemaError, match="covariate level not seen"):
        step.transform(new)


def test_fit_errors():
    X = _batched().drop(columns=["age", "sex"])
    lone = X.copy()
    lone.iloc[0, lone.columns.get_loc("center")] = "solo"
    with pytest.raises(FitError, match=r"fewer than 2 training rows.*solo"):
        ComBat().fit(lone)
    confounded = _batched()
    confounded["site_flag"] = (confounded["center"] == "s1").astype(float)
    with pytest.raises(FitError, match="collinear with the batch"):
        ComBat(covariates=("site_flag",)).fit(confounded.drop(columns=["age", "sex"]))
    flat = X.copy()
    flat["f0"] = 3.0
    with pytest.raises(FitError, match="f0"):
        ComBat().fit(flat)
    one = X[["f0", "center"]]
    with pytest.raises(FitError, match="at least 2"):
        ComBat().fit(one)
    assert ComBat(eb=False).fit_transform(one).shape == (len(one), 1)
    with pytest.raises(SchemaError, match="'scanner'"):
        ComBat(batch_col="scanner").fit(X)
    nan = X.copy()
    nan.loc["P004", "f2"] = np.nan
    with pytest.raises(SchemaError, match="P004"):
        ComBat().fit(nan)


def test_sklearn_contract():
    X = _batched().drop(columns=["sex"])
    step = ComBat(covariates=["age"], parametric=False)
    with pytest.raises(NotFittedError):
        step.transform(X)
    twin = clone(step)
    assert twin.get_params() == step.get_params()
    assert not hasattr(twin, "gamma_star_")
    fitted = step.fit(X)
    # no copy of the training data on the fitted object
    sizes = [np.asarray(v).size for k, v in vars(fitted).items() if k.endswith("_")]
    assert max(sizes) < X.size / 4


def test_eb_iteration_limit_warns():
    X = _batched().drop(columns=["age", "sex"])
    with pytest.warns(ConvergenceWarning, match="did not converge in 1 iterations"):
        step = ComBat(max_iter=1).fit(X)
    assert set(step.n_iter_.values()) == {1}
    assert max(ComBat().fit(X).n_iter_.values()) < 100

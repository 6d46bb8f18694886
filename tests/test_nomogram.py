"""Nomogram scales: rms::nomogram (R) and read-back of the model's own predictions.

R values: tests/r/metrics.R -> metrics.json, case lung_nomogram:
nomogram(cph(Surv(time, event) ~ age + sex + ph.ecog, lc, eps = 1e-12), fun = function(x)
Survival(fit)(365, x), fun.lp.at = c(-0.8, -0.4, 0, 0.4, 0.8), lp = TRUE), whose axes run
over age 35-85, sex 1-2 and ph.ecog 0-3.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rref import r_ref

from survrad.data.outcome import Surv
from survrad.datasets import load_dataset
from survrad.evaluation.nomogram import Nomogram, nice_ticks, nomogram
from survrad.exceptions import NotFittedError, SchemaError
from survrad.models import CoxModel, LogisticModel


@pytest.fixture(scope="module")
def lung():
    d = load_dataset("lung").dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
    X = d[["age", "sex", "ph.ecog"]].astype(float)
    y = Surv.from_arrays(time=d["time"].to_numpy(float), event=(d["status"] == 2).to_numpy())
    return X, y, CoxModel().fit(X, y)


def test_points_match_rms_nomogram(lung):
    # nom$age$points, nom$sex$points, nom$ph.ecog$points at nom$<var>$<var>; attr(nom,
    # "info")$sc and $Intercept
    ref = r_ref("metrics", "lung_nomogram")
    X, _, model = lung
    nom = nomogram(model, X, horizons=[365.0], limits={"age": (35.0, 85.0)})
    assert nom.points_per_lp == pytest.approx(ref["points_per_lp"], rel=1e-6)
    assert nom.lp_at_zero_points == pytest.approx(ref["lp_at_zero_points"], rel=1e-6)
    axes = {a.term: a for a in nom.axes}
    for term in ("age", "sex", "ph.ecog"):
        a = axes[term]
        values = np.array(ref[term]["value"], dtype=float)
        points = nom.points_per_lp * (values * a.coef[0] - a.low)
        np.testing.assert_allclose(points, ref[term]["points"], rtol=1e-6, atol=1e-9)
    # sex and ph.ecog have few distinct values: drawn at them, as rms does
    assert axes["sex"].kind == axes["ph.ecog"].kind == "discrete"
    assert axes["ph.ecog"].labels == ("0", "1", "2", "3")
    assert axes["age"].labels[0] == "35" and axes["age"].labels[-1] == "85"


def test_survival_axis_matches_rms(lung):
    # nom[["S(365)"]]$x: total points of lp = lp_at; Survival(fit)(365, lp_at)
    ref = r_ref("metrics", "lung_nomogram")
    X, _, model = lung
    nom = nomogram(model, X, horizons=[365.0], limits={"age": (35.0, 85.0)})
    points = (np.array(ref["lp_at"]) - nom.lp_at_zero_points) * nom.points_per_lp
    np.testing.assert_allclose(points, ref["lp_points"], rtol=1e-6)
    np.testing.assert_allclose(nom.predict(points)[:, 0], ref["survival365_at_lp"], rtol=1e-6)


def test_total_points_read_back_cox_survival(lung):
    X, _, model = lung
    nom = nomogram(model, X, horizons=[180.0, 365.0, 730.0])
    rows = X.sample(20, random_state=np.random.default_rng(0))
    got = nom.predict(nom.total_points(rows))
    np.testing.assert_allclose(got, model.predict_survival_function(rows, [180, 365, 730]),
                               rtol=1e-6, atol=1e-12)
    # and through the outcome axis: the points of a survival value give that survival
    v = np.array([0.2, 0.5, 0.8])
    np.testing.assert_allclose(nom.predict(nom.points_for(v, horizon_index=1))[:, 1], v,
                               rtol=1e-12)


def _points_from_drawn_axes(nom: Nomogram, row: pd.Series) -> float:
    """Total points of one patient read off the drawn predictor axes (tick tables only)."""
    total = 0.0
    for a in nom.axes:
        x = row[list(a.columns)].to_numpy(float)
        if a.kind == "continuous":       # a linear axis: interpolate between its ticks
            total += float(np.interp(x[0], a.values[:, 0], a.points))
        else:                            # discrete / categorical: the tick at the value
            (hit,) = np.flatnonzero((a.values == x).all(axis=1))
            total += float(a.points[hit])
    return total


def test_twenty_patients_read_back_through_the_drawn_scales(lung):
    # Issue 15: each patient's values located on the drawn axes (tick values -> points),
    # points summed, survival read where the outcome scale (placed by points_for, as
    # NomogramDisplay draws it) marks that total: equals the model's predicted survival.
    from scipy.optimize import brentq
    X, _, model = lung
    horizons = [180.0, 365.0, 730.0]
    nom = nomogram(model, X, horizons=horizons)
    rows = X.sample(20, random_state=np.random.default_rng(20))
    assert all(len(a.points) >= 2 for a in nom.axes)
    truth = model.predict_survival_function(rows, horizons)
    for i, (_, row) in enumerate(rows.iterrows()):
        total = _points_from_drawn_axes(nom, row)
        assert total == pytest.approx(nom.total_points(rows.iloc[[i]])[0], abs=1e-9)
        for k in range(len(horizons)):
            read = brentq(lambda s, k=k, t=total: nom.points_for([s], horizon_index=k)[0] - t,
                          1e-12, 1 - 1e-12, xtol=1e-15, rtol=1e-15)
            assert read == pytest.approx(truth[i, k], rel=0, abs=1e-6)


def test_total_points_read_back_logistic(lung):
    X, y, _ = lung
    dead = (y["time"] <= 365) & y["event"]
    keep = dead | (y["time"] > 365)
    model = LogisticModel().fit(X[keep], dead[keep].astype(int))
    nom = nomogram(model, X[keep])
    assert nom.kind == "logistic" and nom.horizons.size == 0
    rows = X[keep].sample(20, random_state=np.random.default_rng(1))
    np.testing.assert_allclose(nom.predict(nom.total_points(rows)),
                               model.predict_proba(rows)[:, 1], rtol=1e-6)


def test_categorical_term_from_dummy_columns():
    d = load_dataset("veteran")
    cells = ["smallcell", "adeno", "large"]
    X = pd.concat([d[["karno", "age"]].astype(float),
                   pd.DataFrame({c: (d["celltype"] == c).astype(float) for c in cells})],
                  axis=1)
    y = Surv.from_arrays(time=d["time"].to_numpy(float), event=d["status"].to_numpy())
    model = CoxModel().fit(X, y)
    nom = nomogram(model, X, horizons=[90.0], terms={"celltype": cells})
    axis = {a.term: a for a in nom.axes}["celltype"]
    assert axis.kind == "categorical"
    assert sorted(axis.labels) == ["adeno", "large", "reference", "smallcell"]
    assert [a.term for a in nom.axes] == ["karno", "age", "celltype"]
    assert nom.max_total_points == pytest.approx(sum(a.points.max() for a in nom.axes))
    rows = X.sample(20, random_state=np.random.default_rng(2))
    np.testing.assert_allclose(nom.predict(nom.total_points(rows)),
                               model.predict_survival_function(rows, [90.0]), rtol=1e-6)
    frame = nom.to_frame()
    assert list(frame.columns) == ["term", "label", "points"]
    assert frame["points"].max() == pytest.approx(100.0)


def test_widest_term_gets_max_points(lung):
    X, _, model = lung
    nom = nomogram(model, X, horizons=[365.0], max_points=10.0)
    assert max(a.points.max() for a in nom.axes) == pytest.approx(10.0)
    assert min(a.points.min() for a in nom.axes) == pytest.approx(0.0, abs=1e-12)
    assert isinstance(nom, Nomogram)


def test_nice_ticks():
    assert nice_ticks(39, 82).tolist() == [40.0, 50.0, 60.0, 70.0, 80.0]
    assert nice_ticks(0, 1, 6).tolist() == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(3, 3).tolist() == [3.0]


def test_errors(lung):
    X, y, model = lung
    with pytest.raises(ValueError, match="horizons"):
        nomogram(model, X)
    with pytest.raises(NotFittedError):
        nomogram(CoxModel(), X, horizons=[365])
    with pytest.raises(TypeError, match="CoxModel or LogisticModel"):
        nomogram(object(), X, horizons=[365])
    with pytest.raises(SchemaError, match="not model columns"):
        nomogram(model, X, horizons=[365], terms={"g": ["age", "weight"]})
    with pytest.raises(SchemaError, match="lacks the model columns"):
        nomogram(model, X.drop(columns="age"), horizons=[365])
    with pytest.raises(SchemaError, match="not linear terms"):
        nomogram(model, X, horizons=[365], limits={"weight": (0, 1)})
    strat = CoxModel(strata="sex").fit(X, y)
    with pytest.raises(ValueError, match="stratified"):
        nomogram(strat, X, horizons=[365])

"""Irradiation-aware lesion response (strategy D) and the confounded simulator (issue 12).

Oracles: the simulator's known truth (true response probabilities with and without RT,
computed in closed form and checked here against observed frequencies), hand-built
counterfactual designs for D's predictions, and the bias of the treatment-blind model on
the same data (documented, not hidden). R parity of the adjusted fit is in
``tests/test_lesion_r_parity.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from survrad._math.logistic import logistic_fit
from survrad.data.cohort import Cohort
from survrad.data.simulate import simulate_cohort
from survrad.exceptions import ConfigError, FitError, SchemaError
from survrad.lesions import LesionResponseAggregation, lesion_risk_table


# ------------------------------------------------------------------------- simulator
def test_rt_assignment_confounds_irradiation_with_size_only():
    kw = {"n_patients": 600, "random_state": 3}
    shares = {}
    for q in (0.0, 0.6, 0.95):
        c = simulate_cohort(rt_largest_probability=q, **kw)
        les = c.lesions
        largest = les.groupby("patient_id")["volume_ml"].transform("max") == les["volume_ml"]
        shares[q] = les.loc[largest, "irradiated"].mean()
    assert shares[0.0] < 0.45 < shares[0.6] < shares[0.95]        # measured 0.39/0.72/0.95
    rand = simulate_cohort(rt_assignment="random", rt_largest_probability=0.95, **kw)
    base = simulate_cohort(rt_largest_probability=0.0, **kw)
    pd.testing.assert_frame_equal(rand.lesions, base.lesions)      # "random" is q = 0
    # the default is the former assignment: same tables as without the new arguments
    pd.testing.assert_frame_equal(simulate_cohort(**kw).lesions,
                                  simulate_cohort(rt_assignment="largest",
                                                  rt_largest_probability=0.6, **kw).lesions)
    # only irradiation (and what follows from it) changes with q: volumes, scores do not
    conf = simulate_cohort(rt_largest_probability=0.95, **kw)
    pd.testing.assert_series_equal(conf.lesions["volume_ml"], base.lesions["volume_ml"])
    pd.testing.assert_series_equal(conf.truth["lesions"]["score"], base.truth["lesions"]["score"])
    with pytest.raises(ConfigError, match="rt_assignment"):
        simulate_cohort(n_patients=10, rt_assignment="score")
    with pytest.raises(ConfigError, match="rt_largest_probability"):
        simulate_cohort(n_patients=10, rt_largest_probability=1.5)


def test_true_response_probabilities_match_the_simulated_responses():
    """The closed-form p_response_rt / p_response_no_rt of truth["lesions"] against the
    responses drawn (4000 patients, about 19 700 lesions): calibration by decile and the
    no-volume-effect-given-truth property of the confounded assignment."""
    c = simulate_cohort(n_patients=4000, random_state=11, rt_largest_probability=0.9)
    les, tl = c.lesions, c.truth["lesions"]
    irr = les["irradiated"].to_numpy() == 1
    y = les["lesion_response"].to_numpy()
    p = np.where(irr, tl["p_response_rt"], tl["p_response_no_rt"])
    assert abs(y[irr].mean() - p[irr].mean()) < 3 * np.sqrt(p[irr].var() / irr.sum() + 1e-4)
    decile = pd.qcut(p, 10, labels=False, duplicates="drop")
    obs = pd.Series(y).groupby(decile).mean()
    exp = pd.Series(p).groupby(decile).mean()
    n = pd.Series(y).groupby(decile).size()
    z = (obs - exp) / np.sqrt(exp * (1 - exp) / n + 1e-12)
    assert np.abs(z).max() < 4                                     # no decile off
    assert (tl["p_response_rt"] >= tl["p_response_no_rt"] - 0.2).all()
    # given the truth, volume says nothing about response (logistic on logit(p) + log V)
    non = ~irr
    lv = np.log(les["volume_ml"].to_numpy()[non])
    X = np.column_stack([special.logit(np.clip(p[non], 1e-9, 1 - 1e-9)), lv - lv.mean()])
    fit = logistic_fit(X, y[non])
    assert abs(fit.coef[1]) < 0.08 and 0.7 < fit.coef[0] < 1.3
    assert not tl.loc[tl["new"], "p_response_rt"].notna().any()


# ------------------------------------------------------------------------- strategy D
@pytest.fixture(scope="module")
def confounded():
    """400 patients; the largest lesion is irradiated in 94 % of patients."""
    return simulate_cohort(n_patients=400, random_state=0, rt_largest_probability=0.9)


@pytest.fixture(scope="module")
def crossfitted(confounded):
    out = {}
    for name, adjust in (("adjusted", "auto"), ("blind", None)):
        out[name] = lesion_risk_table(LesionResponseAggregation(adjust=adjust), confounded,
                                      n_folds=5, random_state=0)
    return out


def test_adjusted_d_learns_biology_not_the_treatment(confounded, crossfitted):
    """Among NON-irradiated lesions (cross-fitted): |Spearman(p_response_no_rt, log volume)|
    < 0.1 and Spearman with the true no-RT probability >= 0.5. Measured (seed 0): -0.062
    and 0.86; over 3 seeds and q = 0.6 / 0.9: |rho_volume| <= 0.063, rho_truth 0.85-0.87."""
    les, tl = confounded.lesions, confounded.truth["lesions"]
    non = les["irradiated"].to_numpy() == 0
    lv = np.log(les["volume_ml"].to_numpy())
    p = crossfitted["adjusted"]["p_response_no_rt"].to_numpy()
    assert abs(stats.spearmanr(p[non], lv[non]).statistic) < 0.1
    assert stats.spearmanr(p[non], tl["p_response_no_rt"][non]).statistic >= 0.5
    # the observed response of those lesions does not track volume either
    obs = les["lesion_response"].to_numpy()
    assert abs(stats.spearmanr(obs[non], lv[non]).statistic) < 0.1


def test_treatment_blind_d_learns_that_big_lesions_respond(confounded, crossfitted):
    """The documented bias: without adjustment the same model's predicted response of
    NON-irradiated lesions rises with volume (measured Spearman 0.18; 0.18-0.28 over 3
    seeds), because the volume features stand in for the irradiation of the largest
    lesion: the volume features' coefficients, signed by each feature's direction with
    volume, sum to +0.26 blind and -0.12 adjusted (measured)."""
    les = confounded.lesions
    non = les["irradiated"].to_numpy() == 0
    lv = np.log(les["volume_ml"].to_numpy())
    blind = crossfitted["blind"]["p_response"].to_numpy()
    assert stats.spearmanr(blind[non], lv[non]).statistic > 0.1
    vol = [f for f in confounded.lesion_features if f.startswith("rad_vol")]
    sign = np.sign(confounded.truth["features"].loc[vol, "w_volume"])   # +/- with volume
    coef_blind = LesionResponseAggregation(adjust=None).fit(confounded).coef_[vol] * sign
    coef_adj = LesionResponseAggregation().fit(confounded).coef_[vol] * sign
    assert coef_blind.sum() > 0.2 and coef_adj.sum() < coef_blind.sum() - 0.2


def test_counterfactual_predictions_and_pooling(confounded):
    c = confounded
    m = LesionResponseAggregation(pooling=("max", "mean")).fit(c)
    assert m.treatment_ == ["irradiated", "rt_dose_gy"]
    assert m.reference_dose_ == float(np.median(c.lesions.loc[c.lesions["irradiated"] == 1,
                                                              "rt_dose_gy"]))
    ls = m.lesion_scores(c)
    les = c.lesions
    Xs = (les[m.features_].to_numpy() - m.mean_) / m.scale_
    lin = Xs @ m.coef_.to_numpy() + m.intercept_
    g_irr, g_dose = m.treatment_coef_.to_numpy()
    dose = np.where(les["irradiated"] == 1, les["rt_dose_gy"], m.reference_dose_)
    np.testing.assert_allclose(ls["p_response_no_rt"], special.expit(lin), rtol=1e-10)
    np.testing.assert_allclose(ls["p_response_rt"], special.expit(lin + g_irr + g_dose * dose),
                               rtol=1e-10)
    obs = special.expit(lin + g_irr * les["irradiated"] + g_dose * les["rt_dose_gy"])
    np.testing.assert_allclose(ls["p_response"], obs, rtol=1e-10)
    np.testing.assert_allclose(ls["score"], 1 - ls["p_response_no_rt"], rtol=1e-12)
    assert g_irr > 1.0                                            # RT makes lesions respond
    out = m.transform(c)
    ref = pd.Series(ls["p_response_no_rt"].to_numpy()).groupby(ls["patient_id"]).max()
    np.testing.assert_allclose(out["lesion_response__max"], ref.reindex(c.patient_ids),
                               rtol=1e-12)
    seen = LesionResponseAggregation(pool_on="observed").fit(c)
    ref = pd.Series(ls["p_response"].to_numpy()).groupby(ls["patient_id"]).mean()
    np.testing.assert_allclose(seen.transform(c)["lesion_response__mean"],
                               ref.reindex(c.patient_ids), rtol=1e-12)
    np.testing.assert_allclose(seen.lesion_scores(c)["score"], 1 - ls["p_response"],
                               rtol=1e-12)


def test_adjustment_errors_are_named():
    c = simulate_cohort(n_patients=60, random_state=2, n_noise_features=2)
    feats = c.lesion_features
    no_rt = Cohort(c.patients, c.lesions.drop(columns=["irradiated", "rt_dose_gy"]),
                   lesion_features=feats)
    m = LesionResponseAggregation().fit(no_rt)                  # "auto": nothing to adjust
    assert m.treatment_ == [] and m.treatment_coef_.empty
    with pytest.raises(SchemaError, match="adjustment for \\['irradiated'\\] was asked"):
        LesionResponseAggregation(adjust=["irradiated"]).fit(no_rt)
    with pytest.raises(ConfigError, match="treatment columns"):
        LesionResponseAggregation(features=[*feats[:3], "irradiated"]).fit(c)
    LesionResponseAggregation(features=[*feats[:3], "irradiated"], adjust=None).fit(c)
    bad = c.lesions.copy()
    bad.loc[bad["irradiated"] == 0, "rt_dose_gy"] = 8.0
    with pytest.raises(SchemaError, match="0 for lesions that were not irradiated"):
        LesionResponseAggregation().fit(Cohort(c.patients, bad, lesion_features=feats))
    none = c.lesions.assign(irradiated=0, rt_dose_gy=0.0)
    with pytest.raises(FitError, match="constant among the labelled"):
        LesionResponseAggregation(adjust=["irradiated"]).fit(
            Cohort(c.patients, none, lesion_features=feats))
    with pytest.raises(ValueError, match="pool_on"):
        LesionResponseAggregation(pool_on="rt_only").fit(c)
    with pytest.raises(ConfigError, match="adjust must be"):
        LesionResponseAggregation(adjust="irradiated").fit(c)
    # a constant dose among the irradiated: "auto" adjusts for irradiation only
    flat = c.lesions.assign(rt_dose_gy=np.where(c.lesions["irradiated"] == 1, 24.0, 0.0))
    m = LesionResponseAggregation().fit(Cohort(c.patients, flat, lesion_features=feats))
    assert m.treatment_ == ["irradiated"] and m.reference_dose_ is None

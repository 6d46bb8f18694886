"""Tests of sr.simulate_cohort: layout, ranges, calibration and recovery of the known truth.

The reference implementations (Harrell's C, Kaplan-Meier median) are naive ones written
here, so these tests do not depend on other survrad modules.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import survrad as sr
from survrad.data.cohort import Cohort, Endpoint
from survrad.exceptions import ConfigError


# ------------------------------------------------------------------ naive references
def naive_harrell_c(time_, event, risk):
    """Harrell's C by brute force over all pairs (higher risk = earlier event)."""
    t, e, r = (np.asarray(a, dtype=float) for a in (time_, event, risk))
    comparable = (t[:, None] < t[None, :]) & (e[:, None] == 1)
    conc = (r[:, None] > r[None, :]) & comparable
    ties = (r[:, None] == r[None, :]) & comparable
    return (conc.sum() + 0.5 * ties.sum()) / comparable.sum()


def km_median(time_, event):
    """Kaplan-Meier median: the first time the survival estimate is <= 0.5."""
    order = np.argsort(time_, kind="stable")
    t, e = np.asarray(time_, float)[order], np.asarray(event, float)[order]
    at_risk = np.arange(t.size, 0, -1)
    surv = np.cumprod(1.0 - e / at_risk)
    below = np.flatnonzero(surv <= 0.5)
    return t[below[0]] if below.size else np.inf


@pytest.fixture(scope="module")
def cohort():
    return sr.simulate_cohort(n_patients=300, random_state=0)


@pytest.fixture(scope="module")
def big():
    return sr.simulate_cohort(n_patients=2000, random_state=1)


# ----------------------------------------------------------------------- layout
def test_layout_ids_and_metadata(cohort):
    c = cohort
    assert isinstance(c, Cohort)
    assert c.n_patients == 300
    assert c.patients.index.name == "patient_id"
    assert list(c.patients.index[:3]) == ["P001", "P002", "P003"]
    assert c.patients.index[-1] == "P300"
    assert list(c.patients.columns) == ["age", "ecog", "pdl1", "center", "os_time",
                                        "os_event", "best_response", "objective_response"]
    les = c.lesions
    assert isinstance(les.index, pd.RangeIndex)
    assert les["lesion_id"].str.fullmatch(r"P\d{3}-L\d{2}").all()
    assert (les["lesion_id"].str[:4] == les["patient_id"]).all()
    assert les["lesion_id"].is_unique
    assert set(les["patient_id"]) == set(c.patients.index)
    rad = [col for col in les.columns if col.startswith("rad_")]
    assert c.lesion_features == tuple(rad)
    assert len(rad) == 8 + 4 + 20
    assert rad[0] == "rad_sig_01" and "rad_vol_04" in rad and rad[-1] == "rad_noise_20"
    assert c.patient_features == ("age", "ecog", "pdl1")
    assert c.endpoints == {
        "os": Endpoint("os", "survival", time="os_time", event="os_event"),
        "response": Endpoint("response", "binary", target="objective_response")}
    assert dict(c.source) == {"patients": "<simulated>", "lesions": "<simulated>"}
    assert c.y("os")["time"].shape == (300,)


def test_id_width_follows_n():
    c = sr.simulate_cohort(n_patients=1000, random_state=0, n_noise_features=0)
    assert c.patients.index[0] == "P0001" and c.patients.index[-1] == "P1000"
    small = sr.simulate_cohort(n_patients=12, random_state=0)
    assert small.patients.index[-1] == "P012"


def test_truth_tables_are_aligned(cohort):
    c = cohort
    tp, tl = c.truth["patients"], c.truth["lesions"]
    assert tp.index.equals(c.patients.index)
    assert len(tl) == len(c.lesions)
    assert (tl["patient_id"].to_numpy() == c.lesions["patient_id"].to_numpy()).all()
    assert (tl["lesion_id"].to_numpy() == c.lesions["lesion_id"].to_numpy()).all()
    # exactly one worst lesion per patient, and it carries the maximal score
    worst = tl.loc[tl["is_worst"]].set_index("patient_id")["score"]
    assert worst.index.is_unique and worst.index.size == c.n_patients
    assert np.allclose(worst.loc[tp.index], tl.groupby("patient_id")["score"].max()[tp.index])
    assert set(c.truth["coef"].index) == {"age_c", "ecog", "pdl1_frac", "log_burden",
                                          "driver_z"}
    assert (tp["n_lesions"] == c.lesions.groupby("patient_id").size()[tp.index]).all()
    # a bootstrap take keeps the truth rows with their patients
    t = c.take(["P002", "P002"])
    assert list(t.truth["patients"].index) == ["P002", "P002#2"]
    assert len(t.truth["lesions"]) == len(t.lesions) == 2 * int(tp.loc["P002", "n_lesions"])


@pytest.mark.parametrize("driver", ["worst", "burden", "mean", "heterogeneity"])
def test_linear_predictor_is_the_documented_model(driver):
    c = sr.simulate_cohort(n_patients=200, random_state=4, driver=driver)
    tp, tl, coef = c.truth["patients"], c.truth["lesions"], c.truth["coef"]["coef"]
    s = tl.groupby("patient_id")["score"]
    vol = c.lesions.groupby("patient_id")["volume_ml"].sum()[tp.index]
    expected = {"worst": s.max(), "mean": s.mean(), "heterogeneity": s.std(ddof=0).fillna(0.0),
                "burden": np.log(vol)}[driver][tp.index]
    assert np.allclose(tp["driver"], expected)
    z = (expected - expected.mean()) / expected.std(ddof=0)
    assert np.allclose(tp["driver_z"], z)
    assert ("log_burden" in coef.index) == (driver != "burden")
    assert np.allclose(tp["log_burden"], np.log(vol))
    assert np.allclose(tp["age_c"], (c.patients["age"] - 63) / 10)
    assert np.allclose(tp["pdl1_frac"], c.patients["pdl1"] / 100)
    assert np.allclose(tp["lp"], tp[coef.index].to_numpy() @ coef.to_numpy())
    assert np.allclose(tp["hazard_ratio"], np.exp(tp["lp"]))
    # observed time and event follow from the latent event and censoring times
    ev = tp["event_time"] <= tp["censor_time"]
    assert (c.patients["os_event"] == ev.astype(int)).all()
    assert np.allclose(c.patients["os_time"], np.minimum(tp["event_time"], tp["censor_time"]))


# ----------------------------------------------------------------------- lesions
def test_every_patient_has_lesions_an_irradiated_one_and_targets(cohort):
    les = cohort.lesions
    g = les.groupby("patient_id")
    assert g.size().min() >= 1 and g.size().max() <= 12
    assert (g.size() == 1).any()  # some single-lesion patients
    n_irr = g["irradiated"].sum()
    assert n_irr.min() == 1 and n_irr.max() == 2
    irr = les["irradiated"] == 1
    assert les.loc[irr, "rt_dose_gy"].between(24, 50).all()
    assert (les.loc[~irr, "rt_dose_gy"] == 0).all()
    n_target = g["is_target"].sum()
    assert n_target.min() >= 1 and n_target.max() <= 5
    assert les.loc[les["is_target"] == 1].groupby(["patient_id", "organ"]).size().max() <= 2


def test_value_ranges_and_codings(cohort):
    p, les = cohort.patients, cohort.lesions
    assert p["age"].between(30, 90).all() and abs(p["age"].mean() - 63) < 2.5
    assert set(p["ecog"]) == {0, 1, 2}
    assert abs((p["ecog"] == 0).mean() - 0.45) < 0.1
    assert p["pdl1"].between(0, 100).all() and 0.25 < (p["pdl1"] == 0).mean() < 0.45
    assert set(p["center"]) == {"C1", "C2", "C3"}
    assert (p["os_time"] > 0).all() and set(p["os_event"]) == {0, 1}
    assert set(p["best_response"]) <= {"CR", "PR", "SD", "PD"}
    assert (p["objective_response"] == p["best_response"].isin(["CR", "PR"])).all()
    assert set(les["organ"]) == {"lung", "liver", "lymph_node", "bone", "adrenal", "brain"}
    assert (les["volume_ml"] > 0).all() and 3 < les["volume_ml"].median() < 12
    assert (les["longest_diameter_mm"] >= 5).all()
    sphere = 10 * np.cbrt(6 * les["volume_ml"] / np.pi)
    ratio = les["longest_diameter_mm"] / sphere
    assert ratio.between(1.0, 1.8).all()
    change = les["diameter_followup_mm"] / les["longest_diameter_mm"] - 1
    assert (les["lesion_response"] == (change <= -0.30)).all()
    assert np.isfinite(les[list(cohort.lesion_features)].to_numpy()).all()
    assert les["rad_sig_01"].between(1, 9).all()  # an entropy-like scale
    assert les["rad_sig_04"].median() > 1000  # a large-valued texture feature


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calibration_censoring_median_lesion_count(seed):
    c = sr.simulate_cohort(n_patients=300, random_state=seed)
    p = c.patients
    assert 0.30 <= 1 - p["os_event"].mean() <= 0.50
    assert 12 <= km_median(p["os_time"], p["os_event"]) <= 24
    assert 4 <= c.truth["patients"]["n_lesions"].mean() <= 6
    assert 0.20 <= p["objective_response"].mean() <= 0.40


def test_censoring_target_is_followed():
    for target in (0.0, 0.2, 0.6):
        c = sr.simulate_cohort(n_patients=1000, random_state=3, censoring=target,
                               n_noise_features=0)
        assert abs((1 - c.patients["os_event"].mean()) - target) < 0.04
    assert sr.simulate_cohort(n_patients=50, random_state=3, censoring=0).patients[
        "os_event"].all()


def test_naive_c_reference():
    # by hand: comparable pairs (shorter time is an event) are (1,2..5), (2,3..5), (4,5):
    # 8 pairs; risks 5,3,4,3,1 give 6 concordant, 1 discordant, 1 tied -> C = 6.5 / 8
    t = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    e = np.array([1, 1, 0, 1, 0])
    r = np.array([5.0, 3.0, 4.0, 3.0, 1.0])
    assert naive_harrell_c(t, e, r) == pytest.approx(6.5 / 8)
    # and it agrees with lifelines (whose score is "higher = longer survival")
    from lifelines.utils import concordance_index

    c = sr.simulate_cohort(n_patients=150, random_state=9, n_noise_features=0)
    p, lp = c.patients, c.truth["patients"]["lp"]
    assert naive_harrell_c(p["os_time"], p["os_event"], lp) == pytest.approx(
        concordance_index(p["os_time"], -lp, p["os_event"]), abs=1e-12)


def test_true_lp_concordance_is_realistic():
    cs = []
    for seed in (0, 1):
        c = sr.simulate_cohort(n_patients=1000, random_state=seed, n_noise_features=0)
        cs.append(naive_harrell_c(c.patients["os_time"], c.patients["os_event"],
                                  c.truth["patients"]["lp"]))
    assert 0.70 <= np.mean(cs) <= 0.75


@pytest.mark.parametrize("driver", ["worst", "burden"])
def test_cox_recovers_true_coefficients(driver):
    from lifelines import CoxPHFitter

    c = sr.simulate_cohort(n_patients=2000, random_state=11, driver=driver,
                           n_noise_features=0)
    coef = c.truth["coef"]["coef"]
    df = c.truth["patients"][list(coef.index)].copy()
    df["os_time"] = c.patients["os_time"]
    df["os_event"] = c.patients["os_event"]
    fit = CoxPHFitter().fit(df, duration_col="os_time", event_col="os_event")
    z = (fit.params_[coef.index] - coef) / fit.standard_errors_[coef.index]
    assert (z.abs() < 3).all(), z


# ----------------------------------------------------------------------- features
def _center_f_pvalues(les, features):
    return pd.Series({f: stats.f_oneway(*[g[f].to_numpy() for _, g in
                                          les.groupby("center")]).pvalue for f in features})


def test_batch_effect_is_present_and_matches_truth(big):
    les = big.lesions.merge(big.patients[["center"]], left_on="patient_id",
                            right_index=True)
    noise = [f for f in big.lesion_features if f.startswith("rad_noise")]
    pvals = _center_f_pvalues(les, noise)
    assert (pvals < 1e-6).mean() >= 0.8
    # centre means of a pure-noise feature are loc + scale * shift (module docstring)
    spec, batch = big.truth["features"], big.truth["batch"].set_index(["center", "feature"])
    for f in noise[:5]:
        means = les.groupby("center")[f].mean()
        for center, m in means.items():
            expected = spec.loc[f, "loc"] + spec.loc[f, "scale"] * batch.loc[(center, f), "shift"]
            se = spec.loc[f, "scale"] * batch.loc[(center, f), "scale"] / np.sqrt(
                (les["center"] == center).sum())
            assert abs(m - expected) < 4 * se

    # undoing the true centre transform recovers z = w s + v l + noise: corr(z, s) = w
    sig = [f for f in big.lesion_features if f.startswith("rad_sig")]
    score = big.truth["lesions"]["score"].to_numpy()
    for f in sig:
        b = batch.xs(f, level="feature").loc[les["center"]]
        z = ((les[f] - spec.loc[f, "loc"]) / spec.loc[f, "scale"] - b["shift"].to_numpy()) / b[
            "scale"].to_numpy()
        assert np.corrcoef(z, score)[0, 1] == pytest.approx(spec.loc[f, "w_score"], abs=0.03)

    flat = sr.simulate_cohort(n_patients=2000, random_state=1, batch_effect=0.0)
    les0 = flat.lesions.merge(flat.patients[["center"]], left_on="patient_id",
                              right_index=True)
    assert (_center_f_pvalues(les0, noise) < 1e-3).mean() <= 0.1


def test_signal_features_track_score_noise_does_not(big):
    les, score = big.lesions, big.truth["lesions"]["score"]
    logv = np.log(les["volume_ml"])
    for f in big.lesion_features:
        rho = stats.spearmanr(les[f], score).statistic
        if f.startswith("rad_sig"):
            assert rho > 0.5, (f, rho)
        else:
            assert abs(rho) < 0.1, (f, rho)
        if f.startswith("rad_vol"):
            assert abs(stats.spearmanr(les[f], logv).statistic) > 0.6


# ----------------------------------------------------------------------- response
def test_lesion_response_depends_on_irradiation_and_score(big):
    les, tl = big.lesions, big.truth["lesions"]
    irr = les["irradiated"] == 1
    rate_irr = les.loc[irr, "lesion_response"].mean()
    rate_non = les.loc[~irr, "lesion_response"].mean()
    assert rate_irr > 0.5 and rate_non < 0.35 and rate_irr - rate_non > 0.25
    # among non-irradiated lesions, responders have lower refractory scores
    s = tl.loc[~irr, "score"]
    resp = les.loc[~irr, "lesion_response"] == 1
    assert s[resp].mean() < s[~resp].mean() - 0.3
    # abscopal response: non-irradiated lesions respond far more in abscopal patients
    absc = big.truth["patients"]["abscopal"].reindex(les.loc[~irr, "patient_id"]).to_numpy()
    r = les.loc[~irr, "lesion_response"].to_numpy()
    assert r[absc].mean() - r[~absc].mean() > 0.3
    # patient response follows the latent refractoriness
    u = big.truth["patients"]["u"]
    orr = big.patients["objective_response"] == 1
    assert u[orr].mean() < u[~orr].mean() - 0.2


def test_best_response_follows_recist_rules(cohort):
    les, p = cohort.lesions, cohort.patients
    tgt = les.loc[les["is_target"] == 1].groupby("patient_id")
    sld0 = tgt["longest_diameter_mm"].sum()
    sld1 = tgt["diameter_followup_mm"].sum()
    change = (sld1 / sld0 - 1)[p.index]
    new = cohort.truth["patients"]["new_lesions"] > 0
    best = p["best_response"]
    assert (best[new] == "PD").all()
    assert (change[best == "PR"] <= -0.30).all()
    grew = (sld1 - sld0)[p.index]
    sd = best == "SD"
    assert (change[sd] > -0.30).all()
    assert ((change[sd] < 0.20) | (grew[sd] < 5)).all()
    gone = les.groupby("patient_id")["diameter_followup_mm"].max()[p.index] == 0
    assert ((best == "CR") == (gone & ~new)).all()
    assert (change[(best == "PD") & ~new] >= 0.20).all()


# ----------------------------------------------------------------------- follow-up
def test_two_timepoints():
    one = sr.simulate_cohort(n_patients=300, random_state=5)
    two = sr.simulate_cohort(n_patients=300, random_state=5, timepoints=2)
    les, tl = two.lesions, two.truth["lesions"]
    assert "timepoint" in les.columns and set(les["timepoint"]) == {0, 1}
    assert (tl["timepoint"].to_numpy() == les["timepoint"].to_numpy()).all()
    base = les.loc[les["timepoint"] == 0].drop(columns="timepoint").reset_index(drop=True)
    pd.testing.assert_frame_equal(base, one.lesions)  # baseline unchanged by follow-up
    assert two.baseline_lesions().shape[0] == one.n_lesions
    follow = les.loc[les["timepoint"] == 1]
    assert not les.duplicated(["patient_id", "lesion_id", "timepoint"]).any()
    vanished = set(base["lesion_id"]) - set(follow["lesion_id"])
    new = set(follow["lesion_id"]) - set(base["lesion_id"])
    assert len(vanished) > 0 and len(new) > 0
    assert vanished == set(tl.loc[tl["vanished"], "lesion_id"])
    assert new == set(tl.loc[tl["new"], "lesion_id"])
    assert (base.set_index("lesion_id").loc[sorted(vanished), "diameter_followup_mm"] == 0).all()
    n_new = follow.loc[follow["lesion_id"].isin(new)].groupby("patient_id").size()
    truth_new = two.truth["patients"]["new_lesions"]
    assert (n_new == truth_new[truth_new > 0]).all()
    assert (truth_new[truth_new > 0] > 0).all() and n_new.sum() == truth_new.sum()
    # new ids are numbered after the baseline lesions of their patient
    num = follow.loc[follow["lesion_id"].isin(new)].set_index("patient_id")["lesion_id"]
    last = base.groupby("patient_id")["lesion_id"].max()
    assert (num > last.reindex(num.index)).all()
    assert (follow.loc[follow["lesion_id"].isin(new), "irradiated"] == 0).all()
    # matched lesions: follow-up diameter recorded, delta-radiomics carries the response
    m = base.merge(follow, on=["patient_id", "lesion_id"], suffixes=("_0", "_1"))
    assert np.allclose(m["longest_diameter_mm_1"], m["diameter_followup_mm_0"])
    change = np.log(m["longest_diameter_mm_1"] / m["longest_diameter_mm_0"])
    rho = stats.spearmanr(m["rad_sig_01_1"] - m["rad_sig_01_0"], change).statistic
    assert rho > 0.3
    rho_noise = stats.spearmanr(m["rad_noise_01_1"] - m["rad_noise_01_0"], change).statistic
    assert abs(rho_noise) < 0.1
    # a noise feature has test-retest correlation ~0.8 (module docstring)
    assert 0.7 < np.corrcoef(m["rad_noise_02_0"], m["rad_noise_02_1"])[0, 1] < 0.9


# ----------------------------------------------------------------------- reproducibility
def test_same_seed_same_tables():
    a = sr.simulate_cohort(n_patients=120, random_state=7, timepoints=2)
    b = sr.simulate_cohort(n_patients=120, random_state=7, timepoints=2)
    pd.testing.assert_frame_equal(a.patients, b.patients, check_exact=True)
    pd.testing.assert_frame_equal(a.lesions, b.lesions, check_exact=True)
    for key in a.truth:
        pd.testing.assert_frame_equal(a.truth[key], b.truth[key], check_exact=True)
    assert a.patients["age"].dtype == np.float64 and a.patients["os_event"].dtype == np.int64
    assert (a.patients["age"] == a.patients["age"].round()).all()  # whole years
    assert a.lesions["irradiated"].dtype == np.int64
    assert a.lesions["volume_ml"].dtype == np.float64
    c = sr.simulate_cohort(n_patients=120, random_state=8)
    assert not np.array_equal(a.patients["os_time"], c.patients["os_time"])
    g = sr.simulate_cohort(n_patients=120, random_state=np.random.default_rng(7),
                           timepoints=2)
    pd.testing.assert_frame_equal(a.lesions, g.lesions)


def test_outcomes_do_not_depend_on_feature_settings():
    a = sr.simulate_cohort(n_patients=100, random_state=2)
    b = sr.simulate_cohort(n_patients=100, random_state=2, n_noise_features=3,
                           batch_effect=0.0)
    pd.testing.assert_frame_equal(a.patients, b.patients)
    assert np.array_equal(a.lesions["rad_sig_01"] != b.lesions["rad_sig_01"],
                          np.ones(a.n_lesions, bool))


@pytest.mark.parametrize("kwargs", [dict(mean_lesions=1.0), dict(max_lesions=1, mean_lesions=1),
                                    dict(heterogeneity=0.0), dict(heterogeneity=1.0),
                                    dict(n_signal_features=0, n_volume_features=0,
                                         n_noise_features=0),
                                    dict(n_centers=1), dict(censoring=0.9),
                                    dict(timepoints=2, mean_lesions=1.0)])
def test_edge_settings_are_valid(kwargs):
    c = sr.simulate_cohort(n_patients=40, random_state=0, **kwargs)
    assert c.lesions.groupby("patient_id").size().min() >= 1
    assert np.isfinite(c.truth["patients"]["lp"]).all()
    if kwargs.get("heterogeneity") == 0.0:
        spread = c.truth["lesions"].groupby("patient_id")["score"].std().fillna(0)
        assert np.allclose(spread, 0)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    # a bad value is a ConfigError (a ValueError: the CLI exits 2); a bad type a TypeError
    (dict(n_patients=1), ConfigError, "n_patients must be >= 2, got 1. Change this "
                                      "simulate_cohort argument"),
    (dict(n_patients=2.5), TypeError, "n_patients must be an integer"),
    (dict(mean_lesions=0.5), ConfigError, "mean_lesions must be in"),
    (dict(max_lesions=3), ConfigError, r"mean_lesions \(5.0\) must not exceed max_lesions"),
    (dict(heterogeneity=1.5), ConfigError, "heterogeneity must be in"),
    (dict(driver="largest"), ConfigError, "driver must be one of"),
    (dict(driver="worse"), ConfigError, "Did you mean 'worst'"),
    (dict(timepoints=61), ConfigError, "timepoints must be <= 60"),
    (dict(timepoints=2, pseudo_progression=0.1), ConfigError,
     r"\['pseudo_progression'\] apply to follow-up scans, which need timepoints >= 3"),
    (dict(timepoints=6, scan_interval=0.5), ConfigError, r"scan_interval must be in \[1.0"),
    (dict(timepoints=6, response_effect="big"), TypeError, "response_effect must be a number"),
    (dict(censoring=0.95), ConfigError, "censoring must be in"),
    (dict(batch_effect=-1), ConfigError, "batch_effect must be in"),
    (dict(random_state=-1), ConfigError, "random_state must be a non-negative integer"),
    (dict(random_state="a"), TypeError, "random_state must be"),
])
def test_invalid_arguments(kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        sr.simulate_cohort(**kwargs)
    assert isinstance(info.value, ValueError) == (error is ConfigError)


def test_lesion_id_format_with_many_lesions():
    c = sr.simulate_cohort(n_patients=30, random_state=0, mean_lesions=60, max_lesions=150,
                           n_noise_features=0)
    assert c.lesions["lesion_id"].map(lambda s: bool(re.fullmatch(r"P\d{3}-L\d{3}", s))).all()


@pytest.mark.parametrize("timepoints", [1, 2])
def test_tables_pass_read_cohort_unchanged(timepoints):
    # 400 patients and 12 lesion features keep read_cohort's events-per-variable check quiet
    # (filterwarnings=error turns any warning into a failure)
    c = sr.simulate_cohort(n_patients=400, random_state=0, timepoints=timepoints,
                           n_noise_features=0)
    r = sr.read_cohort(patients=c.patients.reset_index(), lesions=c.lesions,
                       patient_features=["age", "ecog", "pdl1"], lesion_features=["rad_*"])
    pd.testing.assert_frame_equal(r.patients, c.patients, check_exact=True)
    pd.testing.assert_frame_equal(r.lesions, c.lesions, check_exact=True)
    assert r.lesion_features == c.lesion_features
    assert r.patient_features == c.patient_features
    assert dict(r.endpoints) == dict(c.endpoints)

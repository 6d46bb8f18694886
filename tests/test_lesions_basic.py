"""Strategies A (largest), B (burden), C (statistics), heterogeneity and the union.

Truth used here: hand-made cohorts whose answers are counted by hand, naive per-patient
reference implementations (pandas loops, scipy pdist, scikit-learn PCA), and the
simulator's known lesion tables.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist
from sklearn.base import clone
from sklearn.decomposition import PCA

from survrad.data.cohort import Cohort
from survrad.data.simulate import simulate_cohort
from survrad.exceptions import ConfigError, DataWarning, NotFittedError, SchemaError
from survrad.lesions import (
    FeatureStatistics,
    Heterogeneity,
    LargestLesions,
    StrategyUnion,
    TumorBurden,
    recist_targets,
)
from survrad.lesions.statistics import EXTENSIVE_FEATURES, match_patterns

FEATURES = ("rad_a", "rad_b")


def make_cohort(lesions: dict, patients=("P1", "P2", "P3"), features=FEATURES) -> Cohort:
    pat = pd.DataFrame({"age": np.arange(len(patients), dtype=float) + 50},
                       index=pd.Index(list(patients), name="patient_id"))
    return Cohort(pat, pd.DataFrame(lesions), lesion_features=tuple(features))


@pytest.fixture
def hand() -> Cohort:
    """P1: three lesions (liver 10 ml, lung 2 ml, liver 5 ml); P2: one bone lesion;
    P3: two lesions (lymph node 4 ml, lung 4 ml: tied volumes)."""
    return make_cohort({
        "patient_id": ["P1", "P2", "P1", "P3", "P1", "P3"],
        "lesion_id": ["L1", "L1", "L2", "L1", "L3", "L2"],
        "organ": ["liver", "bone", "lung", "lymph_node", "liver", "lung"],
        "volume_ml": [10.0, 3.0, 2.0, 4.0, 5.0, 4.0],
        "longest_diameter_mm": [30.0, 18.0, 12.0, 16.0, 20.0, 9.0],
        "rad_a": [1.0, 7.0, 2.0, 5.0, 4.0, -1.0],
        "rad_b": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
    })


@pytest.fixture(scope="module")
def sim() -> Cohort:
    return simulate_cohort(n_patients=60, random_state=11)


def quiet_transform(strategy, cohort):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return strategy.fit(cohort).transform(cohort)


STRATEGIES = [
    FeatureStatistics(stats=list(("mean", "vw_mean", "vw_mean_top", "min", "max", "median",
                                  "std", "range"))),
    LargestLesions(),
    LargestLesions(k=2),
    LargestLesions(k=2, combine="rank"),
    LargestLesions(organ="liver"),
    LargestLesions(recist=True, k=None),
    TumorBurden(),
    Heterogeneity(),
    Heterogeneity(score="volume_ml"),
    StrategyUnion([FeatureStatistics(), TumorBurden(), Heterogeneity()]),
]


# ------------------------------------------------------------------------ the contract
@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: repr(s)[:60])
def test_contract_on_simulated_cohort(strategy, sim: Cohort) -> None:
    s = clone(strategy)
    with pytest.raises(NotFittedError):
        s.transform(sim)
    out = quiet_transform(s, sim)
    # one finite float row per patient, in cohort order, named as announced
    assert out.index.equals(sim.patient_ids)
    assert out.shape == (sim.n_patients, len(s.get_feature_names_out()))
    assert list(out.columns) == s.get_feature_names_out()
    assert all(dt == np.float64 for dt in out.dtypes)
    assert np.isfinite(out.to_numpy()).all()
    assert not out.columns.duplicated().any()
    # clone gives an unfitted copy with the same parameters
    c = clone(s)
    assert repr(c.get_params()) == repr(strategy.get_params())
    assert not hasattr(c, "feature_names_out_")
    # a bootstrap resample: copies of a patient get the same row as the patient
    ids = list(sim.patient_ids)
    boot = sim.take([ids[0], ids[0], ids[3], ids[5], ids[3]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        rows = s.transform(boot)
    assert list(rows.index) == [ids[0], f"{ids[0]}#2", ids[3], ids[5], f"{ids[3]}#2"]
    np.testing.assert_array_equal(rows.iloc[1].to_numpy(), out.loc[ids[0]].to_numpy())
    np.testing.assert_array_equal(rows.iloc[4].to_numpy(), out.loc[ids[3]].to_numpy())
    np.testing.assert_array_equal(rows.iloc[3].to_numpy(), out.loc[ids[5]].to_numpy())


def test_refit_forgets_previous_fit(hand: Cohort, sim: Cohort) -> None:
    s = TumorBurden().fit(sim)
    assert "organ_volume__brain" in s.get_feature_names_out()
    s.fit(hand)
    assert [c for c in s.get_feature_names_out() if c.startswith("organ_volume__")] == [
        "organ_volume__bone", "organ_volume__liver", "organ_volume__lung",
        "organ_volume__lymph_node"]


# -------------------------------------------------------------------------- statistics
def naive_statistics(cohort: Cohort, features, top_k: int = 3) -> pd.DataFrame:
    """Per-patient loop reference for every statistic of FeatureStatistics."""
    rows = {}
    les = cohort.baseline_lesions()
    for pid in cohort.patient_ids:
        d = les[les["patient_id"] == pid]
        w = d["volume_ml"].to_numpy()
        top = d.iloc[np.argsort(-w, kind="stable")[:top_k]]
        row = {}
        for f in features:
            x = d[f].to_numpy()
            row[f"{f}__mean"] = x.mean()
            row[f"{f}__vw_mean"] = np.average(x, weights=w)
            row[f"{f}__vw_mean_top"] = np.average(top[f], weights=top["volume_ml"])
            row[f"{f}__min"] = x.min()
            row[f"{f}__max"] = x.max()
            row[f"{f}__median"] = np.median(x)
            row[f"{f}__std"] = x.std(ddof=0)
            row[f"{f}__range"] = x.max() - x.min()
        rows[pid] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def test_statistics_match_naive_reference(sim: Cohort) -> None:
    feats = list(sim.lesion_features[:6])
    stats = ["mean", "vw_mean", "vw_mean_top", "min", "max", "median", "std", "range"]
    out = FeatureStatistics(stats=stats, features=feats, extensive=None).fit_transform(sim)
    ref = naive_statistics(sim, feats)
    assert list(out.columns) == [f"{f}__{s}" for f in feats for s in stats]
    np.testing.assert_allclose(out.to_numpy(), ref[out.columns].to_numpy(), rtol=1e-12,
                               atol=1e-9)


def test_statistics_one_lesion_per_patient_equal_lesion_values() -> None:
    c = make_cohort({"patient_id": ["P2", "P1", "P3"], "lesion_id": ["a", "b", "c"],
                     "volume_ml": [1.0, 2.0, 3.0], "rad_a": [3.5, -1.0, 2.0],
                     "rad_b": [0.1, 0.2, 0.3]})
    stats = ["mean", "vw_mean", "vw_mean_top", "min", "max", "median"]
    out = FeatureStatistics(stats=stats).fit_transform(c)
    for s in stats:
        assert out[f"rad_a__{s}"].tolist() == [-1.0, 3.5, 2.0]
        assert out[f"rad_b__{s}"].tolist() == [0.2, 0.1, 0.3]
    spread = FeatureStatistics(stats=["std", "range"]).fit_transform(c)
    assert (spread.to_numpy() == 0.0).all()  # ddof=0: one lesion gives 0, never NaN


def test_vw_mean_with_equal_volumes_equals_mean(hand: Cohort) -> None:
    les = hand.lesions.assign(volume_ml=2.5)
    c = make_cohort(les.to_dict("list"))
    out = FeatureStatistics(stats=["mean", "vw_mean"]).fit_transform(c)
    np.testing.assert_allclose(out["rad_a__vw_mean"], out["rad_a__mean"], rtol=1e-15)
    np.testing.assert_allclose(out["rad_b__vw_mean"], out["rad_b__mean"], rtol=1e-15)
    assert out["rad_a__mean"].tolist() == pytest.approx([7 / 3, 7.0, 2.0])


def test_statistics_by_hand(hand: Cohort) -> None:
    out = FeatureStatistics(stats=["vw_mean", "vw_mean_top", "median", "std"],
                            features=["rad_a"], top_k=2).fit_transform(hand)
    # P1: rad_a 1, 2, 4 with volumes 10, 2, 5; the two largest are 10 and 5 ml
    assert out.loc["P1", "rad_a__vw_mean"] == pytest.approx((10 + 4 + 20) / 17)
    assert out.loc["P1", "rad_a__vw_mean_top"] == pytest.approx((10 + 20) / 15)
    assert out.loc["P1", "rad_a__median"] == 2.0
    assert out.loc["P3", "rad_a__median"] == 2.0  # (5 + -1) / 2
    assert out.loc["P1", "rad_a__std"] == pytest.approx(np.std([1.0, 2.0, 4.0]))


#: PyRadiomics-style names: which are extensive (additive over lesions) and which not.
EXTENSIVE_NAMES = ["original_shape_VoxelVolume", "original_shape_MeshVolume",
                   "original_shape_SurfaceArea", "original_shape2D_PixelSurface",
                   "original_shape2D_MeshSurface", "original_shape2D_Perimeter",
                   "original_firstorder_Energy", "original_firstorder_TotalEnergy",
                   "wavelet-LLH_firstorder_Energy", "log-sigma-1-0-mm-3D_firstorder_TotalEnergy",
                   "volume_ml"]
INTENSIVE_NAMES = ["original_shape_SurfaceVolumeRatio", "original_shape_Sphericity",
                   "original_shape_Maximum3DDiameter", "original_shape_MajorAxisLength",
                   "original_shape2D_PerimeterSurfaceRatio", "original_firstorder_Entropy",
                   "original_firstorder_RootMeanSquared", "original_firstorder_Mean",
                   "original_glszm_SizeZoneNonUniformityNormalized",
                   "original_glcm_JointEnergy", "rad_vol_01", "rad_sig_01", "rad_noise_01"]


def test_default_extensive_pattern_matches_the_additive_pyradiomics_features() -> None:
    names = sorted(EXTENSIVE_NAMES + INTENSIVE_NAMES)
    assert match_patterns(names, EXTENSIVE_FEATURES) == sorted(EXTENSIVE_NAMES)
    assert match_patterns([n.upper() for n in EXTENSIVE_NAMES], EXTENSIVE_FEATURES) == [
        n.upper() for n in EXTENSIVE_NAMES]                 # case-insensitive
    # the former default "*volume*|*_size_*" summed a ratio and missed three additive ones
    old = match_patterns(names, "*volume*|*_size_*")
    assert "original_shape_SurfaceVolumeRatio" in old
    assert not {"original_shape_SurfaceArea", "original_firstorder_Energy",
                "original_firstorder_TotalEnergy"} & set(old)


def test_simulator_features_are_not_summed_by_default(sim: Cohort) -> None:
    """rad_vol_XX are linear in the LOG volume (simulate.py): summing them is meaningless;
    they keep their statistics, as under the former default."""
    s = FeatureStatistics(stats=["mean"]).fit(sim)
    assert s.extensive_ == []
    assert "rad_vol_01__mean" in s.get_feature_names_out()


def test_extensive_features_are_summed() -> None:
    c = make_cohort({"patient_id": ["P1", "P1", "P2", "P3"], "lesion_id": list("abcd"),
                     "volume_ml": [1.0, 2.0, 3.0, 4.0],
                     "original_shape_MeshVolume": [10.0, 20.0, 5.0, 1.0],
                     "original_shape_SurfaceVolumeRatio": [1.0, 3.0, 1.0, 2.0],
                     "original_firstorder_TotalEnergy": [1.0, 1.0, 1.0, 2.0],
                     "rad_entropy": [2.0, 4.0, 1.0, 1.0]},
                    features=("original_shape_MeshVolume", "original_shape_SurfaceVolumeRatio",
                              "original_firstorder_TotalEnergy", "rad_entropy", "volume_ml"))
    s = FeatureStatistics(stats=["mean", "max"]).fit(c)
    assert s.extensive_ == ["original_shape_MeshVolume", "original_firstorder_TotalEnergy",
                            "volume_ml"]
    out = s.transform(c)
    assert list(out.columns) == ["original_shape_MeshVolume__sum",
                                 "original_shape_SurfaceVolumeRatio__mean",
                                 "original_shape_SurfaceVolumeRatio__max",
                                 "original_firstorder_TotalEnergy__sum",
                                 "rad_entropy__mean", "rad_entropy__max", "volume_ml__sum"]
    assert out["original_shape_MeshVolume__sum"].tolist() == [30.0, 5.0, 1.0]
    assert out["original_shape_SurfaceVolumeRatio__mean"].tolist() == [2.0, 1.0, 2.0]
    assert out["original_firstorder_TotalEnergy__sum"].tolist() == [2.0, 1.0, 2.0]
    assert out["volume_ml__sum"].tolist() == [3.0, 3.0, 4.0]
    listed = FeatureStatistics(extensive="*entropy|*_size_*").fit_transform(c)
    assert "rad_entropy__sum" in listed.columns
    assert "original_shape_MeshVolume__mean" in listed.columns


def test_statistics_bad_arguments(hand: Cohort) -> None:
    with pytest.raises(ValueError, match="Did you mean 'median'"):
        FeatureStatistics(stats=["medain"]).fit(hand)
    with pytest.raises(ValueError, match="twice"):
        FeatureStatistics(stats=["mean", "mean"]).fit(hand)
    with pytest.raises(SchemaError, match="rad_zz"):
        FeatureStatistics(features=["rad_zz"]).fit(hand)
    bad = hand.lesions.copy()
    bad.loc[2, "rad_a"] = np.nan
    with pytest.raises(SchemaError, match=r"NaN.*P1/L2"):
        FeatureStatistics().fit(make_cohort(bad.to_dict("list")))
    neg = hand.lesions.assign(volume_ml=lambda d: d["volume_ml"].where(d.index != 1, 0.0))
    with pytest.raises(SchemaError, match=r"<= 0.*P2/L1"):
        FeatureStatistics(stats=["vw_mean"]).fit(make_cohort(neg.to_dict("list")))


def test_patient_without_lesions_gets_training_means(hand: Cohort) -> None:
    c = make_cohort(hand.lesions.to_dict("list"), patients=("P1", "P2", "P3", "P4"))
    s = FeatureStatistics(stats=["mean", "max"])
    with pytest.warns(DataWarning, match=r"'P4' \(1 in total\).*no baseline lesion"):
        out = s.fit(c).transform(c)
    expected = out.loc[["P1", "P2", "P3"]].mean()
    np.testing.assert_allclose(out.loc["P4"].to_numpy(), expected.to_numpy())
    np.testing.assert_allclose(s.fill_values_.to_numpy(), expected.to_numpy())


@pytest.mark.slow
def test_statistics_speed() -> None:
    """500 patients x 2500 lesions x 30 features x 4 statistics: target well under 50 ms."""
    rng = np.random.default_rng(0)
    ids = [f"P{i:03d}" for i in range(500)]
    pid = np.repeat(ids, 5)
    les = pd.DataFrame({"patient_id": pid, "lesion_id": [f"L{i}" for i in range(2500)],
                        "volume_ml": rng.lognormal(1, 1, 2500)})
    feats = [f"rad_{j}" for j in range(30)]
    les = pd.concat([les, pd.DataFrame(rng.normal(size=(2500, 30)), columns=feats)], axis=1)
    c = make_cohort(les.to_dict("list"), patients=ids, features=feats)
    s = FeatureStatistics(stats=["mean", "vw_mean", "std", "max"]).fit(c)
    times = []
    for _ in range(7):
        t = time.perf_counter()
        s.transform(c)
        times.append(time.perf_counter() - t)
    # measured ~5 ms on an idle core; the bound leaves room for a busy shared machine
    assert np.median(times) < 0.05


# ------------------------------------------------------------------------------- largest
def test_largest_k1_equals_row_of_largest_lesion(hand: Cohort, sim: Cohort) -> None:
    out = LargestLesions().fit_transform(hand)
    assert list(out.columns) == ["rad_a__largest", "rad_b__largest"]
    # P1 -> L1 (10 ml); P2 -> its only lesion; P3 tie 4 ml/4 ml -> first in table order
    assert out["rad_a__largest"].tolist() == [1.0, 7.0, 5.0]
    assert out["rad_b__largest"].tolist() == [10.0, 20.0, 40.0]
    # on the simulated cohort, against an idxmax over each patient's lesions
    res = LargestLesions().fit_transform(sim)
    les = sim.baseline_lesions()
    idx = les.groupby("patient_id", sort=False)["volume_ml"].idxmax()
    ref = les.loc[idx].set_index("patient_id").loc[sim.patient_ids, list(sim.lesion_features)]
    np.testing.assert_array_equal(res.to_numpy(), ref.to_numpy())


def test_largest_k2_vw_mean_and_rank_with_short_patient(hand: Cohort) -> None:
    s = LargestLesions(k=2)
    with pytest.warns(DataWarning, match=r"'P2' \(1 in total\) patients have fewer than 2"):
        out = s.fit(hand).transform(hand)
    assert list(out.columns) == ["rad_a__largest2_vw_mean", "rad_b__largest2_vw_mean",
                                 "n_selected"]
    assert out.loc["P1", "rad_a__largest2_vw_mean"] == pytest.approx((10 * 1 + 5 * 4) / 15)
    assert out.loc["P2", "rad_a__largest2_vw_mean"] == 7.0  # uses all it has
    assert out["n_selected"].tolist() == [2.0, 1.0, 2.0]
    assert s.n_short_ == 1 and s.report_["short_ids"] == ["P2"]

    r = LargestLesions(k=3, combine="rank", features=["rad_a"])
    with pytest.warns(DataWarning, match=r"'P2', 'P3' \(2 in total\).*fewer than 3.*repeat"):
        ranked = r.fit(hand).transform(hand)
    assert list(ranked.columns) == ["rad_a__rank1", "rad_a__rank2", "rad_a__rank3",
                                    "n_selected"]
    assert ranked.loc["P1"].tolist() == [1.0, 4.0, 2.0, 3.0]
    assert ranked.loc["P2"].tolist() == [7.0, 7.0, 7.0, 1.0]  # smallest selected repeated
    assert ranked.loc["P3"].tolist() == [5.0, -1.0, -1.0, 2.0]
    assert r.n_short_ == 2


def test_largest_organ_missing_falls_back_with_flag(hand: Cohort) -> None:
    s = LargestLesions(organ="liver", features=["rad_a"])
    with pytest.warns(DataWarning, match=r"'P2', 'P3' \(2 in total\).*no lesion in organ"):
        out = s.fit(hand).transform(hand)
    assert list(out.columns) == ["rad_a__largest_liver", "has_organ"]
    assert out["has_organ"].tolist() == [1.0, 0.0, 0.0]
    assert out["rad_a__largest_liver"].tolist() == [1.0, 7.0, 5.0]  # fallback: overall largest
    assert s.report_["fallback_ids"] == ["P2", "P3"]
    lung = LargestLesions(organ=["lung"], features=["rad_a"])
    with pytest.warns(DataWarning, match="'P2'"):
        assert lung.fit_transform(hand)["rad_a__largest_lung"].tolist() == [2.0, 7.0, -1.0]


def test_recist_targets_rules() -> None:
    # one patient: 3 liver (2 allowed), 2 lung, 2 nodes (15 mm rule), 1 small bone
    organ = np.array(["liver", "liver", "liver", "lung", "lung", "lymph_node", "lymph_node",
                      "bone", "adrenal"])
    diam = np.array([50.0, 40.0, 45.0, 12.0, 11.0, 14.0, 22.0, 9.0, 10.0])
    vol = np.ones(organ.size)
    mask = recist_targets(np.zeros(organ.size, int), organ, diam, vol)
    # liver 50, 45; lymph node 22; lung 12, 11 -> five; adrenal 10 mm is 6th, node 14 < 15
    assert mask.tolist() == [True, False, True, True, True, False, True, False, False]
    two = recist_targets(np.array([0, 0, 1, 1]), np.array(["lung"] * 4),
                         np.array([10.0, 9.9, 20.0, 30.0]), np.ones(4))
    assert two.tolist() == [True, False, True, True]


def test_largest_recist(hand: Cohort) -> None:
    s = LargestLesions(recist=True, k=None, features=["rad_a"])
    out = s.fit_transform(hand)
    assert list(out.columns) == ["rad_a__selected_vw_mean_recist", "n_selected",
                                 "has_measurable"]
    # P1: 30, 12, 20 mm all measurable (2 liver + 1 lung); P2 18 mm bone;
    # P3: node 16 mm ok, lung 9 mm not measurable
    assert out["n_selected"].tolist() == [3.0, 1.0, 1.0]
    assert out.loc["P1", "rad_a__selected_vw_mean_recist"] == pytest.approx(34 / 17)
    assert out.loc["P3", "rad_a__selected_vw_mean_recist"] == 5.0
    small = hand.lesions.assign(longest_diameter_mm=lambda d: np.where(
        d["patient_id"] == "P2", 8.0, d["longest_diameter_mm"]))
    with pytest.warns(DataWarning, match=r"'P2' \(1 in total\).*RECIST-measurable"):
        fb = LargestLesions(recist=True, features=["rad_a"]).fit_transform(
            make_cohort(small.to_dict("list")))
    assert fb["has_measurable"].tolist() == [1.0, 0.0, 1.0]
    assert fb.loc["P2", "rad_a__largest_recist"] == 7.0


def test_largest_bad_arguments(hand: Cohort) -> None:
    with pytest.raises(ConfigError, match="integer k"):
        LargestLesions(k=None, combine="rank").fit(hand)
    with pytest.raises(ValueError, match="k must be >= 1"):
        LargestLesions(k=0).fit(hand)
    with pytest.raises(ValueError, match="combine"):
        LargestLesions(combine="mean").fit(hand)
    no_diam = make_cohort(hand.lesions.drop(columns="longest_diameter_mm").to_dict("list"))
    with pytest.raises(SchemaError, match="longest_diameter_mm"):
        LargestLesions(recist=True).fit(no_diam)


# -------------------------------------------------------------------------------- burden
def test_burden_against_hand_count(hand: Cohort) -> None:
    out = TumorBurden().fit_transform(hand)
    assert list(out.columns) == [
        "total_volume", "log1p_total_volume", "n_lesions", "n_organs", "largest_volume",
        "sum_diameters", "organ_volume__bone", "organ_volume__liver", "organ_volume__lung",
        "organ_volume__lymph_node"]
    assert out["total_volume"].tolist() == [17.0, 3.0, 8.0]
    assert out["log1p_total_volume"].tolist() == pytest.approx(np.log1p([17.0, 3.0, 8.0]))
    assert out["n_lesions"].tolist() == [3.0, 1.0, 2.0]
    assert out["n_organs"].tolist() == [2.0, 1.0, 2.0]
    assert out["largest_volume"].tolist() == [10.0, 3.0, 4.0]
    assert out["sum_diameters"].tolist() == [62.0, 18.0, 25.0]
    assert out["organ_volume__liver"].tolist() == [15.0, 0.0, 0.0]
    assert out["organ_volume__lung"].tolist() == [2.0, 0.0, 4.0]


def test_burden_matches_simulated_tables(sim: Cohort) -> None:
    out = TumorBurden().fit_transform(sim)
    les = sim.baseline_lesions()
    g = les.groupby("patient_id")
    np.testing.assert_allclose(out["total_volume"], g["volume_ml"].sum()[sim.patient_ids])
    assert out["n_lesions"].tolist() == g.size()[sim.patient_ids].tolist()
    assert out["n_organs"].tolist() == g["organ"].nunique()[sim.patient_ids].tolist()
    pivot = les.pivot_table(index="patient_id", columns="organ", values="volume_ml",
                            aggfunc="sum", fill_value=0.0).loc[sim.patient_ids]
    for organ in pivot.columns:
        np.testing.assert_allclose(out[f"organ_volume__{organ}"], pivot[organ])


def test_burden_unseen_organ_and_other_column(hand: Cohort) -> None:
    train = make_cohort(hand.lesions[hand.lesions["organ"] != "bone"].to_dict("list"),
                        patients=("P1", "P3"))
    s = TumorBurden().fit(train)
    assert "organ_volume__bone" not in s.get_feature_names_out()
    with pytest.warns(DataWarning, match=r"\['bone'\].*'P2'.*in no organ_volume__"):
        out = s.transform(hand)
    assert out.loc["P2", "total_volume"] == 3.0
    assert out.loc["P2", [c for c in out.columns if c.startswith("organ_volume__")]].eq(0).all()
    explicit = TumorBurden(organs=["liver"]).fit_transform(hand)
    assert [c for c in explicit.columns if c.startswith("organ_volume__")] == [
        "organ_volume__liver", "organ_volume__other"]
    assert explicit["organ_volume__other"].tolist() == [2.0, 3.0, 8.0]


def test_burden_patient_without_lesions_is_zero(hand: Cohort) -> None:
    c = make_cohort(hand.lesions.to_dict("list"), patients=("P1", "P2", "P3", "P4"))
    with pytest.warns(DataWarning, match=r"'P4'.*burden columns are 0"):
        out = TumorBurden().fit_transform(c)
    assert (out.loc["P4"] == 0.0).all()


def test_burden_organ_labels_that_clash() -> None:
    c = make_cohort({"patient_id": ["P1", "P2", "P3"], "lesion_id": list("abc"),
                     "organ": ["Lymph node", "lymph_node", "liver"],
                     "volume_ml": [1.0, 1.0, 1.0], "rad_a": [0.0] * 3, "rad_b": [0.0] * 3})
    with pytest.raises(SchemaError, match="lymph_node"):
        TumorBurden().fit(c)


# ------------------------------------------------------------------------- heterogeneity
def test_heterogeneity_zero_for_identical_lesions() -> None:
    c = make_cohort({"patient_id": ["P1"] * 3 + ["P2", "P2", "P3"],
                     "lesion_id": ["a", "b", "c", "a", "b", "a"],
                     "organ": ["liver"] * 3 + ["lung", "bone", "liver"],
                     "volume_ml": [2.0, 2.0, 2.0, 1.0, 9.0, 3.0],
                     "rad_a": [1.5, 1.5, 1.5, 0.0, 3.0, 2.0],
                     "rad_b": [4.0, 4.0, 4.0, 1.0, 7.0, 2.0]})
    for s in (Heterogeneity(), Heterogeneity(score="rad_b")):
        out = s.fit_transform(c)
        assert (out.loc["P1"].drop(["n_organs", "single_lesion"]) == 0.0).all()
        assert out.loc["P1", "n_organs"] == 1.0 and out.loc["P1", "single_lesion"] == 0.0
        assert (out.loc["P2"].drop(["n_organs", "single_lesion"]) > 0).all()
        # single-lesion patient: dispersions 0, flag 1, never NaN
        assert out.loc["P3", "single_lesion"] == 1.0
        assert (out.loc["P3"].drop(["n_organs", "single_lesion"]) == 0.0).all()


def test_heterogeneity_against_pdist_and_pca(sim: Cohort) -> None:
    feats = list(sim.lesion_features)
    s = Heterogeneity(features=feats).fit(sim)
    out = s.transform(sim)
    les = sim.baseline_lesions()
    X = les[feats].to_numpy()
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    pc1 = PCA(n_components=1).fit(Z).transform(Z)[:, 0]
    sign = np.sign(np.corrcoef(pc1, Z @ s.loadings_)[0, 1])
    np.testing.assert_allclose(sign * pc1, Z @ s.loadings_, atol=1e-8)
    for pid in list(sim.patient_ids[:15]):
        rows = (les["patient_id"] == pid).to_numpy()
        z, score = Z[rows], sign * pc1[rows]
        if rows.sum() < 2:
            assert out.loc[pid, "single_lesion"] == 1.0
            continue
        e, cs = pdist(z, "euclidean"), pdist(z, "cosine")
        assert out.loc[pid, "profile_euclidean__mean"] == pytest.approx(e.mean(), rel=1e-10)
        assert out.loc[pid, "profile_euclidean__max"] == pytest.approx(e.max(), rel=1e-10)
        assert out.loc[pid, "profile_cosine__mean"] == pytest.approx(cs.mean(), rel=1e-10)
        assert out.loc[pid, "profile_cosine__max"] == pytest.approx(cs.max(), rel=1e-10)
        assert out.loc[pid, "lesion_pc1__std"] == pytest.approx(score.std(), rel=1e-8)
        assert out.loc[pid, "lesion_pc1__range"] == pytest.approx(np.ptp(score), rel=1e-8)
        assert out.loc[pid, "single_lesion"] == 0.0


def test_heterogeneity_cv_only_for_positive_scores(hand: Cohort) -> None:
    pos = Heterogeneity(score="volume_ml").fit_transform(hand)
    assert "volume_ml__cv" in pos.columns
    v = np.array([10.0, 2.0, 5.0])
    assert pos.loc["P1", "volume_ml__cv"] == pytest.approx(v.std() / v.mean())
    signed = Heterogeneity(score="rad_a").fit(hand)  # rad_a has a negative value
    assert "rad_a__cv" not in signed.get_feature_names_out()
    assert "lesion_pc1__cv" not in Heterogeneity().fit(hand).get_feature_names_out()


def test_heterogeneity_uses_training_scaler(hand: Cohort) -> None:
    s = Heterogeneity().fit(hand)
    shifted = make_cohort(hand.lesions.assign(rad_b=lambda d: d["rad_b"] * 2).to_dict("list"))
    a, b = s.transform(hand), s.transform(shifted)
    # the scale learned on the training lesions is kept: doubled values, larger distances
    assert (b["profile_euclidean__max"] >= a["profile_euclidean__max"]).all()
    assert (b.loc["P1", "profile_euclidean__max"] > a.loc["P1", "profile_euclidean__max"])
    # refitted on the shifted lesions, standardisation removes the change of scale
    refit = Heterogeneity().fit(shifted).transform(shifted)
    np.testing.assert_allclose(refit.to_numpy(), a.to_numpy(), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------- union
def test_union_columns_and_duplicate_n_organs(hand: Cohort) -> None:
    u = StrategyUnion([FeatureStatistics(), TumorBurden(), Heterogeneity()])
    out = u.fit_transform(hand)
    parts = [FeatureStatistics().fit_transform(hand), TumorBurden().fit_transform(hand),
             Heterogeneity().fit_transform(hand)]
    assert (2, "n_organs") in u.dropped_duplicates_
    assert list(out.columns) == list(parts[0].columns) + list(parts[1].columns) + [
        c for c in parts[2].columns if c != "n_organs"]
    for p in parts:
        shared = [c for c in p.columns if c in out.columns]
        np.testing.assert_array_equal(out[shared].to_numpy(), p[shared].to_numpy())
    assert not hasattr(u.strategies[0], "features_")  # members are cloned, not fitted
    assert u.requires_outcome is False


def test_union_rejects_conflicting_columns(hand: Cohort) -> None:
    u = StrategyUnion([FeatureStatistics(stats=["std"]), Heterogeneity(score="rad_a")])
    out = u.fit_transform(hand)  # rad_a__std is the same statistic in both: kept once
    assert list(out.columns).count("rad_a__std") == 1
    # two organ-restricted selections both have a has_organ column, with other values
    clash = StrategyUnion([LargestLesions(organ="liver"), LargestLesions(organ="lung")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        clash.fit(hand)
        with pytest.raises(SchemaError, match=r"'has_organ'.*different values"):
            clash.transform(hand)
    with pytest.raises(ConfigError):
        StrategyUnion([]).fit(hand)
    with pytest.raises(ConfigError, match="lesion strategies"):
        StrategyUnion([TumorBurden(), "burden"]).fit(hand)

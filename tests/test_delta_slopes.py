"""Delta over many scans: per-lesion OLS slopes, per-scan new / vanished counts, and how
a patient without rows at a timepoint is read.

Truth: a hand-made table (every slope worked out in the comments), R's ``lm`` slopes on
survival::pbcseq and on a multi-lesion table generated in R with its own new / vanished
counts (tests/r/longitudinal.R), and the simulator's known lesion trajectories.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from rref import r_ref
from sklearn.base import clone

import survrad as sr
from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError, DataWarning, SchemaError
from survrad.lesions import Delta

COLUMNS = ["patient_id", "lesion_id", "timepoint", "scan_time", "longest_diameter_mm",
           "volume_ml", "rad_x"]
ROWS = [
    # P1: a 1, 2, 4 at t = 0, 1, 2 -> slope 1.5; b vanishes (0 mm row at t1); c new at t2
    ("P1", "a", 0, 0.0, 20.0, 2.0, 1.0), ("P1", "b", 0, 0.0, 15.0, 1.0, 9.0),
    ("P1", "a", 1, 2.0, 18.0, 2.0, 2.0), ("P1", "b", 1, 2.0, 0.0, 0.0, np.nan),
    ("P1", "a", 2, 4.0, 16.0, 2.0, 4.0), ("P1", "c", 2, 4.0, 8.0, 0.5, 7.0),
    # P2: a 3 -> 7 between t0 and t2 (absent at t1) -> slope 2; b constant -> slope 0
    ("P2", "a", 0, 0.0, 12.0, 3.0, 3.0), ("P2", "b", 0, 0.0, 11.0, 1.0, 5.0),
    ("P2", "b", 1, 1.0, 11.0, 1.0, 5.0),
    ("P2", "a", 2, 3.0, 12.0, 3.0, 7.0), ("P2", "b", 2, 3.0, 11.0, 1.0, 5.0),
    # P3: baseline only (died before the first follow-up scan): no slope
    ("P3", "a", 0, 0.0, 30.0, 4.0, 6.0),
    # P4: a 2, 1 at t0, t1 -> slope -1 per step; vanished (0 mm) at t2
    ("P4", "a", 0, 0.0, 10.0, 1.0, 2.0), ("P4", "a", 1, 2.5, 6.0, 0.5, 1.0),
    ("P4", "a", 2, 5.0, 0.0, 0.0, np.nan),
]


def make_cohort(rows=ROWS, drop=()) -> Cohort:
    les = pd.DataFrame(rows, columns=COLUMNS).drop(columns=list(drop))
    pat = pd.DataFrame({"age": [60.0, 61.0, 62.0, 63.0]},
                       index=pd.Index(["P1", "P2", "P3", "P4"], name="patient_id"))
    return Cohort(pat, les, lesion_features=("rad_x",))


def test_slopes_per_timepoint_step_by_hand() -> None:
    c = make_cohort(drop=["scan_time"])
    s = Delta(kinds=["slope"], aggregate=["mean", "max", "vw_mean"])
    with pytest.warns(DataWarning, match=r"'P3' \(1 in total\) patients have .*no lesion with "
                                         r"two scans for a slope"):
        out = s.fit(c).transform(c)
    assert s.slope_axis_ == "timepoint" and s.slope_timepoints_ == (0, 1, 2)
    assert s.missing_scan_ == "not_scanned"  # 0 mm rows: auto reads a missing patient so
    assert list(out.columns) == ["rad_x__slope_mean", "rad_x__slope_max", "rad_x__slope_vw_mean",
                                 "n_matched", "n_new", "n_vanished", "n_slope"]
    # P1: only a has two scans: 1.5; P2: a 2 (t 0 and 2), b 0; P4: -1
    assert out.loc["P1", "rad_x__slope_mean"] == pytest.approx(1.5)
    assert out.loc["P2", ["rad_x__slope_mean", "rad_x__slope_max"]].tolist() == pytest.approx(
        [1.0, 2.0])
    # volume-weighted at the lesion's first scan: (2 * 3 + 0 * 1) / 4
    assert out.loc["P2", "rad_x__slope_vw_mean"] == pytest.approx(1.5)
    assert out.loc["P4", "rad_x__slope_mean"] == pytest.approx(-1.0)
    assert out["n_slope"].tolist() == [1.0, 2.0, 0.0, 1.0]
    # P3: no lesion slope -> the training mean of the patients that have one, never 0
    assert out.loc["P3", "rad_x__slope_mean"] == pytest.approx((1.5 + 1.0 - 1.0) / 3)
    assert any("3 of 7 training lesions have fewer than two scans" in n for n in s.notes_)


def test_slopes_per_unit_of_scan_time_by_hand() -> None:
    c = make_cohort()
    with pytest.warns(DataWarning, match="'P3'"):
        out = Delta(kinds=["slope"]).fit_transform(c)
    # P1: t = 0, 2, 4 -> 1.5 / 2 = 0.75; P2: a (3 -> 7 over 3 months) 4/3, b 0;
    # P4: (1 - 2) / 2.5 = -0.4
    assert out["rad_x__slope_mean"].loc[["P1", "P2", "P4"]].tolist() == pytest.approx(
        [0.75, 2 / 3, -0.4])


def test_two_timepoint_outputs_are_unchanged_by_slopes() -> None:
    c = make_cohort()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        pair = Delta(kinds=["absolute"]).fit_transform(c)
        both = Delta(kinds=["absolute", "slope"]).fit_transform(c)
    pd.testing.assert_frame_equal(both[pair.columns], pair)
    # P1: a 1 -> 2, b vanished (0 mm row); P2: a absent at t1 (vanished), b matched
    assert pair.loc["P1", ["rad_x__delta_mean", "n_matched", "n_new", "n_vanished"]].tolist() \
        == [1.0, 1.0, 0.0, 1.0]
    assert pair.loc["P2", ["rad_x__delta_mean", "n_matched", "n_vanished"]].tolist() == [
        0.0, 1.0, 1.0]


def test_per_scan_counts_by_hand() -> None:
    c = make_cohort()
    s = Delta(kinds=["absolute"], per_scan_counts=True)
    with pytest.warns(DataWarning, match="'P3'"):
        out = s.fit(c).transform(c)
    assert s.scan_timepoints_ == (1, 2)
    counts = out[["n_new_at_1", "n_vanished_at_1", "n_new_at_2", "n_vanished_at_2"]]
    # P1: b vanishes at t1, c is new at t2; P2: a missing at t1 (vanished) and back at t2
    # (not new); P3: no scan after baseline (NaN -> training means); P4: a vanishes at t2
    expected = {"P1": [0, 1, 1, 0], "P2": [0, 1, 0, 0], "P4": [0, 0, 0, 1]}
    for p, values in expected.items():
        assert counts.loc[p].tolist() == values
    assert counts.loc["P3"].tolist() == pytest.approx([0, 2 / 3, 1 / 3, 1 / 3])
    # P3 has no scan at t1: its pair columns are not "everything vanished" either
    assert out.loc["P3", "n_vanished"] == pytest.approx(2 / 3)


def test_missing_scan_vanished_keeps_the_two_timepoint_reading() -> None:
    c = make_cohort()
    s = Delta(kinds=["absolute"], per_scan_counts=True, missing_scan="vanished")
    with pytest.warns(DataWarning, match="'P3'"):
        out = s.fit(c).transform(c)
    # P3 has no row at t1 or t2: every lesion counted as vanished at t1, none after
    assert out.loc["P3", ["n_vanished", "n_vanished_at_1", "n_vanished_at_2",
                          "n_new_at_2"]].tolist() == [1.0, 1.0, 0.0, 0.0]
    # auto on a table without 0 mm rows reads absence as vanished (with a note)
    no_zero = make_cohort([r for r in ROWS if r[4] != 0.0])
    t = Delta(kinds=["absolute"]).fit(no_zero)
    assert t.missing_scan_ == "vanished"
    assert "no 0 mm rows after baseline" in t.notes_[-1]


def test_slope_window_and_errors() -> None:
    c = make_cohort(drop=["scan_time"])
    with pytest.warns(DataWarning):
        out = Delta(kinds=["slope"], slope_timepoints=[1, 0]).fit_transform(c)
    # t0 and t1 only: P1 a 1 -> 2; P2 b 5 -> 5 (a absent at t1); P4 2 -> 1
    assert out["rad_x__slope_mean"].loc[["P1", "P2", "P4"]].tolist() == [1.0, 0.0, -1.0]
    with pytest.raises(SchemaError, match=r"slope_timepoints \[7\] are not in the lesion"):
        Delta(kinds=["slope"], slope_timepoints=[0, 7]).fit(c)
    with pytest.raises(ConfigError, match="at least two timepoints"):
        Delta(kinds=["slope"], slope_timepoints=[0]).fit(c)
    with pytest.raises(ValueError, match="missing_scan must be one of"):
        Delta(missing_scan="gone").fit(c)
    with pytest.raises(ConfigError, match="per_scan_counts must be True or False"):
        Delta(per_scan_counts="yes").fit(c)
    # fitted with scan times, applied to a table without them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        timed = Delta(kinds=["slope"]).fit(make_cohort())
    with pytest.raises(SchemaError, match="fitted on time column 'scan_time'"):
        timed.transform(c)
    short = make_cohort([r for r in ROWS if r[2] < 2])
    with pytest.raises(SchemaError, match=r"\[2\] not in this cohort"):
        timed.transform(short)
    dup = make_cohort([*ROWS, ("P2", "b", 2, 3.0, 11.0, 1.0, 6.0)])
    with pytest.raises(SchemaError, match=r"ambiguous lesion_id.*timepoint 2.*'P2/b'"):
        Delta(kinds=["slope"], timepoints=(0, 1)).fit(dup)


def test_clone_and_resampling_with_slopes() -> None:
    c = make_cohort()
    s = Delta(kinds=["slope", "absolute"], per_scan_counts=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        out = s.fit(c).transform(c)
        boot = s.transform(c.take(["P2", "P2", "P4"]))
    np.testing.assert_array_equal(boot.loc["P2#2"].to_numpy(), out.loc["P2"].to_numpy())
    np.testing.assert_array_equal(boot.loc["P4"].to_numpy(), out.loc["P4"].to_numpy())
    assert repr(clone(s)) == repr(s) and not hasattr(clone(s), "slope_axis_")


# ----------------------------------------------------------------------------- R parity
def _num(values) -> np.ndarray:
    """jsonlite writes R's NA in a numeric vector as the string "NA"."""
    return np.array([np.nan if v == "NA" else v for v in values], dtype=float)


def test_r_lm_slopes_on_pbcseq() -> None:
    ref = r_ref("longitudinal", "pbcseq_slopes")
    rows = ref["rows"]
    les = pd.DataFrame({"patient_id": [str(int(i)) for i in rows["id"]], "lesion_id": "L1",
                        "timepoint": np.asarray(rows["timepoint"], dtype=int),
                        "scan_date": rows["scan_date"], "bili": rows["bili"],
                        "albumin": rows["albumin"], "protime": rows["protime"]})
    pat = ref["patients"]
    p = pd.DataFrame({"patient_id": [str(int(i)) for i in pat["id"]],
                      "os_time": pat["futime"], "os_event": np.asarray(pat["status"]) == 2})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 40 patients, few deaths: not the point here
        c = sr.read_cohort(p, les, lesion_features=["bili", "albumin", "protime"],
                           event_map={True: 1, False: 0})
        out = Delta(kinds=["slope"]).fit_transform(c)
    has = ~np.isnan(_num(ref["slope_bili"]))
    assert has.sum() > 30
    ids = [str(int(i)) for i in ref["id"]]
    for f in ("bili", "albumin", "protime"):
        # sapply(split(d, d$id), function(g) coef(lm(g[[f]] ~ g$day))[2])
        np.testing.assert_allclose(out.loc[ids, f"{f}__slope_mean"].to_numpy()[has],
                                   _num(ref[f"slope_{f}"])[has], rtol=1e-10)


def test_r_multilesion_slopes_and_counts() -> None:
    ref = r_ref("longitudinal", "multilesion_slopes")
    les = pd.DataFrame({k: _num(v) if k not in ("patient_id", "lesion_id") else v
                        for k, v in ref["rows"].items()})
    les["timepoint"] = les["timepoint"].astype(int)
    ids = ref["patient_id"]
    pat = pd.DataFrame({"os_time": np.arange(1.0, len(ids) + 1), "os_event": 1},
                       index=pd.Index(ids, name="patient_id"))
    c = sr.read_cohort(pat.reset_index(), les, lesion_features=["rad_a", "rad_b"]) \
        if not les.duplicated(["patient_id", "lesion_id", "timepoint"]).any() else None
    assert c is not None and bool(np.isnan(c.lesions["rad_a"]).any())  # vanished rows read
    s = Delta(kinds=["slope"], aggregate=["mean", "max", "median", "min", "vw_mean"],
              per_scan_counts=True, missing_scan="not_scanned")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # patients without a scan at t3, t4
        out = s.fit(c).transform(c)
    assert s.slope_axis_ == "scan_time"
    # lesion slopes: coef(lm(rad ~ scan_time))[2] over present rows (diameter > 0)
    for agg in ("mean", "max", "median", "min", "vw_mean"):
        np.testing.assert_allclose(out[f"rad_a__slope_{agg}"], ref[f"a_{agg}"], rtol=1e-10)
    np.testing.assert_allclose(out["rad_b__slope_mean"], ref["b_mean"], rtol=1e-10)
    assert out["n_slope"].tolist() == ref["n_slope"]
    # counts written with base R loops; NA (no scan) -> the fill rule, compared where defined
    for t in (1, 2, 3, 4):
        for what in ("new", "vanished"):
            expected = _num(ref[f"{what}_at_{t}"])
            defined = ~np.isnan(expected)
            assert out[f"n_{what}_at_{t}"].to_numpy()[defined].tolist() == \
                expected[defined].tolist()


# ---------------------------------------------------------------- simulated trajectories
def test_slopes_recover_simulated_trajectories() -> None:
    c = sr.simulate_cohort(n_patients=250, random_state=11, timepoints=5, n_noise_features=2,
                           n_signal_features=2, n_volume_features=0)
    les = c.lesions.assign(log_d=np.log(c.lesions["longest_diameter_mm"].where(
        c.lesions["longest_diameter_mm"] > 0)))
    truth = c.truth["lesions"]
    cohort = Cohort(c.patients, les, lesion_features=("log_d",), truth=c.truth)
    s = Delta(features="log_d", kinds=["slope"], aggregate=["mean"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        out = s.fit(cohort).transform(cohort)
    # lesions that never vanish, never reach the growth cap and are not new: the OLS slope
    # of the measured log diameter estimates the true slope (measurement sd 0.04)
    grp = truth.groupby("lesion_id")
    clean = (~grp["vanished"].any() & ~grp["new"].any()
             & (grp["true_log_change"].max() < np.log(3) - 1e-9) & (grp.size() >= 3))
    ok = set(clean.index[clean])
    per_lesion = truth[truth["lesion_id"].isin(ok)].groupby("patient_id")
    all_clean = per_lesion.size() == truth.groupby("patient_id").size().reindex(
        per_lesion.size().index)
    pats = all_clean.index[all_clean]
    true_mean = truth[truth["lesion_id"].isin(ok)].drop_duplicates("lesion_id").groupby(
        "patient_id")["slope"].mean()
    assert len(pats) > 40, len(pats)
    err = out.loc[pats, "log_d__slope_mean"] - true_mean.loc[pats]
    # per month; measurement sd 0.04 over >= 3 scans 2 months apart: SE <= 0.014
    assert np.abs(err).max() < 0.05
    assert abs(err.mean()) < 0.005  # unbiased

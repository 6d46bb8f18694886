"""Progression-free survival from scans (survrad.longitudinal.pfs_from_scans).

Each case is one or two patients with scans every 8 weeks; expected times are read off
the scan schedule by hand.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scan_tables import NAN, stack, study

import survrad as sr
from survrad.exceptions import ConfigError, DataWarning, SchemaError
from survrad.longitudinal import pfs_from_scans, recist

ROOT = Path(__file__).resolve().parents[1]


def _pfs(table, *, death=(40.0,), event=(0,), criteria="recist1.1", **kw):
    res = recist(table, criteria, time_unit="weeks")
    ids = res.best_response["patient_id"].tolist()
    pts = pd.DataFrame({"patient_id": ids, "os": list(death), "dead": list(event)})
    return pfs_from_scans(res, pts, death_time_col="os", death_event_col="dead", **kw)


def _row(frame):
    r = frame.iloc[0]
    return float(r["pfs_time"]), int(r["pfs_event"]), r["pfs_source"]


def test_progression_dated_at_the_pd_scan():
    # 30 -> 20 (PR) -> 26 (+6 mm, +30 % over the nadir: PD at week 16)
    tab = study({"T1": [30, 20, 26]}, weeks=[0, 8, 16])
    assert _row(_pfs(tab, death=[40], event=[1])) == (16.0, 1, "progression")


def test_death_before_progression_is_an_event():
    tab = study({"T1": [30, 28, 27]}, weeks=[0, 8, 16])
    assert _row(_pfs(tab, death=[20], event=[1])) == (20.0, 1, "death")


def test_censored_at_the_last_adequate_scan():
    # the week-16 scan is NE (target not measured): censored at week 8
    tab = study({"T1": [30, 28, NAN]}, weeks=[0, 8, 16])
    assert _row(_pfs(tab, death=[50], event=[0])) == (8.0, 0, "censored")
    # baseline only: censored at time 0
    assert _row(_pfs(study({"T1": [30]}, weeks=[0]))) == (0.0, 0, "censored")


def test_death_after_two_missed_scans_is_censored():
    # last adequate scan week 8; 2 missed scans = 2 x 8 weeks: a death after week 24
    # is censored at week 8 (FDA convention); at week 24 it counts
    tab = study({"T1": [30, 28]}, weeks=[0, 8])
    kw = {"event": [1], "scan_interval": 8.0}
    assert _row(_pfs(tab, death=[25], **kw)) == (8.0, 0, "censored")
    assert _row(_pfs(tab, death=[24], **kw)) == (24.0, 1, "death")
    assert _row(_pfs(tab, death=[25], visit_window=1.0, **kw)) == (25.0, 1, "death")
    assert _row(_pfs(tab, death=[25], event=[1])) == (25.0, 1, "death")      # rule off


def test_progression_after_two_missed_scans_is_censored():
    # PD found at week 32, 24 weeks after the last adequate scan (week 8)
    tab = study({"T1": [30, 28, 40]}, weeks=[0, 8, 32])
    assert _row(_pfs(tab, scan_interval=8.0)) == (8.0, 0, "censored")
    assert _row(_pfs(tab, scan_interval=8.0, max_missed_scans=3)) == (32.0, 1, "progression")


def test_icpd_progression_dated_at_the_iupd():
    # iUPD at week 8 (62 mm), confirmed at week 16 (67 mm): progression at week 8, the
    # RECIST 1.1 date
    tab = study({"T1": [50, 62, 67]}, weeks=[0, 8, 16])
    assert _row(_pfs(tab, criteria="irecist")) == (8.0, 1, "progression")
    assert _row(_pfs(tab)) == (8.0, 1, "progression")


def test_reset_iupd_is_not_progression():
    tab = study({"T1": [50, 62, 45]}, weeks=[0, 8, 16])
    assert _row(_pfs(tab, criteria="irecist")) == (16.0, 0, "censored")
    assert _row(_pfs(tab)) == (8.0, 1, "progression")


def test_unconfirmed_iupd_at_the_last_scan():
    # iUPD at week 16, no later scan
    tab = study({"T1": [50, 50, 62]}, weeks=[0, 8, 16])
    assert _row(_pfs(tab, criteria="irecist")) == (16.0, 1, "progression")
    censor = {"criteria": "irecist", "unconfirmed_iupd": "censor"}
    assert _row(_pfs(tab, **censor)) == (8.0, 0, "censored")
    assert _row(_pfs(tab, death=[30], event=[1], **censor)) == (30.0, 1, "death")


def test_origin_column():
    # randomised 2 weeks before the baseline scan (origin -2 on the scan scale)
    res = recist(study({"T1": [30, 20, 26]}, weeks=[0, 8, 16]), time_unit="weeks")
    pts = pd.DataFrame({"os": [40.0], "dead": [0], "rand": [-2.0]},
                       index=pd.Index(["P1"], name="patient_id"))
    out = pfs_from_scans(res, pts, death_time_col="os", death_event_col="dead",
                         origin_col="rand")
    assert _row(out) == (18.0, 1, "progression")


def test_dated_scans_and_deaths():
    # scans 2021-01-04, 2021-03-01 (day 56), 2021-04-26 (day 112; PD for P1); P2 (stable)
    # dies on 2021-05-05, day 121; origin 2021-01-01, 3 days before the baseline scan
    days = ["2021-01-04", "2021-03-01", "2021-04-26"]
    tab = stack(study({"T1": [30, 20, 26]}, dates=days),
                study({"T1": [30, 28, 28]}, dates=days, patient="P2"))
    res = recist(tab)
    pts = pd.DataFrame({"patient_id": ["P1", "P2"], "dead": [0, 1],
                        "death": [pd.NaT, pd.Timestamp("2021-05-05")],
                        "rand": ["2021-01-01", "2021-01-01"]})
    out = pfs_from_scans(res, pts, death_time_col="death", death_event_col="dead",
                         origin_col="rand")
    assert out["pfs_time"].tolist() == [115.0, 124.0]      # 112 + 3, 121 + 3 days
    assert out["pfs_source"].tolist() == ["progression", "death"]


def test_rows_follow_the_patient_table():
    tab = stack(study({"T1": [30, 20, 26]}, weeks=[0, 8, 16]),
                study({"T1": [30, 28, 27]}, weeks=[0, 8, 16], patient="P2"))
    res = recist(tab, time_unit="weeks")
    pts = pd.DataFrame({"patient_id": ["P2", "P1"], "os": [30.0, 40.0], "dead": [0, 0]})
    out = pfs_from_scans(res, pts, death_time_col="os", death_event_col="dead")
    assert out["patient_id"].tolist() == ["P2", "P1"]
    assert out["pfs_time"].tolist() == [16.0, 16.0]
    assert out["pfs_event"].tolist() == [0, 1]


def test_pfs_is_a_survival_endpoint():
    spec = importlib.util.spec_from_file_location("bench_recist",
                                                  ROOT / "benchmarks/bench_recist.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_recist"] = bench
    spec.loader.exec_module(bench)
    lesions, patients = bench.simulate_scans(30, 3, 4)
    pfs = pfs_from_scans(recist(lesions), patients, death_time_col="death_date",
                         death_event_col="death")
    assert pfs["pfs_event"].dtype.kind == "i" and (pfs["pfs_time"] >= 0).all()
    table = patients.drop(columns="death_date").merge(pfs, on="patient_id")
    cohort = sr.read_cohort(table.drop(columns="pfs_source"))
    y = cohort.y("pfs")
    np.testing.assert_array_equal(y["time"], pfs["pfs_time"])
    np.testing.assert_array_equal(y["event"], pfs["pfs_event"] == 1)


def test_pfs_is_the_first_scan_after_true_progression():
    # Known truth: the target sum grows as S0 exp(g t) from baseline (the nadir), so RECIST
    # progression happens at T = max(log(1.2), log(1 + 5 / S0)) / g; scans every 8 weeks
    # see it at the first scan at or after T (right-censoring convention). Growth rates
    # with T within 0.01 week of a scan are skipped (rounding of the sizes).
    rng = np.random.default_rng(0)
    s0 = rng.uniform(12.0, 120.0, 60)
    g = rng.uniform(0.004, 0.06, 60)
    true = np.maximum(np.log(1.2), np.log1p(5.0 / s0)) / g
    weeks = 8.0 * np.arange(12)
    keep = (np.abs(true / 8.0 - np.round(true / 8.0)) > 0.01 / 8.0) & (true < weeks[-1])
    tables = [study({"T1": list(a * np.exp(b * weeks))}, weeks=list(weeks),
                    patient=f"P{i:02d}") for i, (a, b) in enumerate(zip(s0[keep], g[keep],
                                                                          strict=True))]
    res = recist(stack(*tables), time_unit="weeks")
    pts = pd.DataFrame({"patient_id": res.best_response["patient_id"], "os": 200.0,
                        "dead": 0})
    out = pfs_from_scans(res, pts, death_time_col="os", death_event_col="dead")
    expected = 8.0 * np.ceil(true[keep] / 8.0)
    assert keep.sum() > 40
    assert out["pfs_event"].eq(1).all()
    np.testing.assert_array_equal(out["pfs_time"], expected)
    assert ((out["pfs_time"] - true[keep] >= 0) & (out["pfs_time"] - true[keep] < 8)).all()


# --------------------------------------------------------------------- bad input
def test_untimed_scans_raise():
    res = recist(study({"T1": [30, 20]}))
    pts = pd.DataFrame({"patient_id": ["P1"], "os": [1.0], "dead": [0]})
    with pytest.raises(SchemaError, match="timed scans"):
        pfs_from_scans(res, pts, death_time_col="os", death_event_col="dead")


def test_patients_in_one_table_only_raise():
    res = recist(study({"T1": [30, 20]}, weeks=[0, 8]), time_unit="weeks")
    more = pd.DataFrame({"patient_id": ["P1", "P9"], "os": [1.0, 2.0], "dead": [0, 0]})
    with pytest.raises(SchemaError, match="without any scan") as err:
        pfs_from_scans(res, more, death_time_col="os", death_event_col="dead")
    assert err.value.ids == ["P9"]
    fewer = pd.DataFrame({"patient_id": ["P2"], "os": [1.0], "dead": [0]})
    with pytest.raises(SchemaError, match="missing from the patient table"):
        pfs_from_scans(res, fewer, death_time_col="os", death_event_col="dead")


def test_death_before_a_scan_raises():
    tab = study({"T1": [30, 28, 27]}, weeks=[0, 8, 16])
    with pytest.raises(SchemaError, match="deaths before a recorded scan") as err:
        _pfs(tab, death=[12], event=[1])
    assert err.value.ids == ["P1"]


def test_last_contact_before_the_last_scan_warns():
    tab = study({"T1": [30, 28, 27]}, weeks=[0, 8, 16])
    with pytest.warns(DataWarning, match="before their last scan"):
        out = _pfs(tab, death=[12], event=[0])
    assert _row(out) == (16.0, 0, "censored")


def test_bad_death_columns_raise():
    tab = study({"T1": [30, 28]}, weeks=[0, 8])
    with pytest.raises(SchemaError, match="0/1"):
        _pfs(tab, event=[2])
    with pytest.raises(SchemaError, match="deaths without a time"):
        _pfs(tab, death=[NAN], event=[1])
    assert _row(_pfs(tab, death=[NAN], event=[0])) == (8.0, 0, "censored")
    with pytest.raises(ConfigError, match="scan_interval"):
        _pfs(tab, scan_interval=0)
    with pytest.raises(ValueError, match="unconfirmed_iupd"):
        _pfs(tab, unconfirmed_iupd="drop")


def test_origin_after_the_event_raises():
    res = recist(study({"T1": [30, 28]}, weeks=[0, 8]), time_unit="weeks")
    pts = pd.DataFrame({"patient_id": ["P1"], "os": [20.0], "dead": [0], "start": [10.0]})
    with pytest.raises(SchemaError, match="before the origin"):
        pfs_from_scans(res, pts, death_time_col="os", death_event_col="dead",
                       origin_col="start")


def test_numbers_for_dated_scans_raise():
    res = recist(study({"T1": [30, 28]}, dates=["2021-01-04", "2021-03-01"]))
    pts = pd.DataFrame({"patient_id": ["P1"], "os": [20.0], "dead": [0]})
    with pytest.raises(SchemaError, match="dates, not numbers"):
        pfs_from_scans(res, pts, death_time_col="os", death_event_col="dead")


# ------------------------------------------------------------------- benchmark smoke
def test_bench_recist_smoke(capsys):
    spec = importlib.util.spec_from_file_location("bench_recist_smoke",
                                                  ROOT / "benchmarks/bench_recist.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "recist(criteria='irecist')" in out and "pfs_from_scans" in out

"""read_cohort on longitudinal lesion tables: any number of timepoints, scan dates and
times, vanished lesions, and the Cohort's scans; one test per bad input.

Truth: hand-made tables whose derived times are worked out in the comments, and R's
``difftime`` on survival::pbcseq visits (tests/r/longitudinal.R).
"""

from __future__ import annotations

import datetime
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rref import r_ref

from survrad.data.cohort import ColumnNames
from survrad.data.io import candidate_lesion_features, read_cohort
from survrad.exceptions import ConfigError, DataWarning, SchemaError

N = 12
#: baseline, then +56 and +119 days for P01; every later patient enrolled 10 days later
OFFSETS = (0, 56, 119)


def patients(n: int = N) -> pd.DataFrame:
    return pd.DataFrame({"patient_id": [f"P{i:02d}" for i in range(1, n + 1)],
                         "os_time": 100.0 + 10 * np.arange(n), "os_event": 1})


def lesions(n: int = N) -> pd.DataFrame:
    """Two lesions per patient at three scans with ISO dates; a nodal lesion L2."""
    rows = []
    for i in range(n):
        enrol = datetime.date(2021, 1, 4) + datetime.timedelta(days=10 * i)
        for k, off in enumerate(OFFSETS):
            date = (enrol + datetime.timedelta(days=off)).isoformat()
            for j, organ in enumerate(("lung", "lymph_node")):
                d = 20.0 + 2 * j - k
                rows.append((f"P{i + 1:02d}", f"L{j + 1}", k, date, organ, 1.0 + j,
                             d, d * 0.7 if j else np.nan, float(i + j + k)))
    return pd.DataFrame(rows, columns=["patient_id", "lesion_id", "timepoint", "scan_date",
                                       "organ", "volume_ml", "longest_diameter_mm",
                                       "short_axis_mm", "rad_a"])


def read(les: pd.DataFrame, **kwargs):
    return read_cohort(patients(), les, lesion_features=["rad_a"], **kwargs)


# ------------------------------------------------------------------------ clean reads
def test_dates_give_scan_times_in_days_and_other_units() -> None:
    c = read(lesions())
    les = c.lesions
    assert les["scan_date"].dtype == "datetime64[ns]"
    assert list(les.columns[:5]) == ["patient_id", "lesion_id", "timepoint", "scan_date",
                                     "scan_time"]
    # every patient: days 0, 56, 119 from its own baseline scan
    assert les["scan_time"].tolist() == [float(o) for _ in range(N) for o in OFFSETS
                                         for _ in range(2)]
    months = read(lesions(), scan_time_unit="months").lesions["scan_time"]
    np.testing.assert_allclose(months.iloc[[2, 4]], [56 / 30.4375, 119 / 30.4375], rtol=1e-15)
    weeks = read(lesions(), scan_time_unit="weeks").lesions["scan_time"]
    assert weeks.iloc[2] == 8.0
    years = read(lesions(), scan_time_unit="years").lesions["scan_time"]
    assert years.iloc[4] == pytest.approx(119 / 365.25, rel=1e-15)
    with pytest.raises(ConfigError, match=r"scan_time_unit must be one of .*Did you mean "
                                          r"'months'"):
        read(lesions(), scan_time_unit="month")


def test_cohort_timepoints_scans_and_lesions_at() -> None:
    c = read(lesions())
    assert c.timepoints == (0, 1, 2)
    scans = c.scans
    assert list(scans.columns) == ["patient_id", "timepoint", "scan_time", "scan_date"]
    assert len(scans) == 3 * N
    assert scans["patient_id"].tolist()[:4] == ["P01", "P01", "P01", "P02"]
    assert scans["scan_time"].tolist()[:3] == [0.0, 56.0, 119.0]
    assert scans["scan_date"].iloc[3] == pd.Timestamp("2021-01-14")
    scans.loc[0, "scan_time"] = -1.0  # a copy: the cohort is unchanged
    assert c.scans.loc[0, "scan_time"] == 0.0
    at1 = c.lesions_at(1)
    assert (at1["timepoint"] == 1).all() and len(at1) == 2 * N
    with pytest.raises(SchemaError, match=r"timepoint 7 is not in the lesion table; "
                                          r"available: \[0, 1, 2\]"):
        c.lesions_at(7)
    pd.testing.assert_frame_equal(c.baseline_lesions(), c.lesions_at(0))
    one = read(lesions().query("timepoint == 0").drop(columns=["timepoint", "scan_date"]))
    assert one.timepoints == ()
    with pytest.raises(SchemaError, match="no timepoint column"):
        _ = one.scans


def test_datetime_values_csv_and_parquet(tmp_path: Path) -> None:
    ref = read(lesions()).lesions
    les = lesions()
    les["scan_date"] = pd.to_datetime(les["scan_date"])
    pd.testing.assert_frame_equal(read(les).lesions, ref)
    objects = lesions()
    objects["scan_date"] = [datetime.date.fromisoformat(d) for d in objects["scan_date"]]
    pd.testing.assert_frame_equal(read(objects).lesions, ref)
    aware = lesions()
    aware["scan_date"] = pd.to_datetime(aware["scan_date"]).dt.tz_localize("Europe/Paris")
    # wall-clock dates: calendar days, also across the daylight-saving change of March 28
    np.testing.assert_array_equal(read(aware).lesions["scan_time"], ref["scan_time"])
    offsets = with_dates(lesions(), p_t(lesions(), "P01", 1), "2021-03-01T00:00+01:00")
    offsets = with_dates(offsets, p_t(offsets, "P01", 2), "2021-05-03T00:00:00Z")
    np.testing.assert_array_equal(read(offsets).lesions["scan_time"], ref["scan_time"])
    path = tmp_path / "les.csv"
    lesions().to_csv(path, index=False)
    pd.testing.assert_frame_equal(read_cohort(patients(), path, lesion_features=["rad_a"])
                                  .lesions, ref)
    pq = tmp_path / "les.parquet"
    les.to_parquet(pq)
    pd.testing.assert_frame_equal(read_cohort(patients(), pq, lesion_features=["rad_a"])
                                  .lesions, ref)


def test_given_scan_times_are_kept_and_checked_with_dates() -> None:
    les = lesions().assign(scan_time=lambda d: d["timepoint"] * 2.0 - 0.25)
    c = read(les)
    assert c.lesions["scan_time"].tolist()[:6] == [-0.25, -0.25, 1.75, 1.75, 3.75, 3.75]
    no_dates = read(les.drop(columns="scan_date"))
    assert "scan_date" not in no_dates.lesions.columns
    assert list(no_dates.scans.columns) == ["patient_id", "timepoint", "scan_time"]


def test_any_number_of_timepoints_and_new_lesions() -> None:
    les = lesions()
    late = les[(les["timepoint"] == 2) & (les["lesion_id"] == "L1")].assign(
        timepoint=5, lesion_id="L3", scan_date=lambda d: (pd.to_datetime(d["scan_date"])
                                                          + pd.Timedelta(days=30))
        .dt.strftime("%Y-%m-%d"))
    c = read(pd.concat([les, late], ignore_index=True))
    assert c.timepoints == (0, 1, 2, 5)
    assert c.scans.query("patient_id == 'P01'")["scan_time"].tolist() == [0, 56, 119, 149]


def test_vanished_rows_may_have_missing_features_and_volume() -> None:
    les = lesions()
    gone = (les["lesion_id"] == "L1") & (les["timepoint"] == 2)
    les.loc[gone, ["longest_diameter_mm", "volume_ml", "rad_a"]] = [0.0, np.nan, np.nan]
    les.loc[gone & (les["patient_id"] == "P03"), "volume_ml"] = 0.0
    c = read(les)
    assert c.lesions.loc[gone.to_numpy(), "rad_a"].isna().all()
    # a vanished lesion with a volume contradicts its 0 mm diameter
    bad = les.copy()
    bad.loc[gone & (bad["patient_id"] == "P04"), "volume_ml"] = 2.0
    with pytest.raises(SchemaError, match=r"column 'volume_ml': a vanished lesion") as info:
        read(bad)
    assert info.value.ids == [("P04", "L1", 2)]
    # 0 mm at baseline is not a vanished row: its features must be complete
    base = les.copy()
    first = (base["timepoint"] == 0) & (base["patient_id"] == "P05") & (base["lesion_id"] == "L1")
    base.loc[first, ["longest_diameter_mm", "rad_a"]] = [0.0, np.nan]
    with pytest.raises(SchemaError, match=r"missing values \(NaN\) in feature columns "
                                          r"\{'rad_a': 1\}") as info:
        read(base)
    assert info.value.ids == [("P05", "L1", 0)]


def test_role_columns_are_not_features() -> None:
    les = lesions().assign(scan_time=1.0)
    assert candidate_lesion_features(les) == ["rad_a"]
    with pytest.raises(SchemaError, match="'scan_time' cannot be a lesion feature"):
        read_cohort(patients(), les, lesion_features=["scan_time"])


def test_r_difftime_on_pbcseq_visits() -> None:
    ref = r_ref("longitudinal", "pbcseq_slopes")
    rows, pat = ref["rows"], ref["patients"]
    les = pd.DataFrame({"patient_id": [str(int(i)) for i in rows["id"]], "lesion_id": "L1",
                        "timepoint": np.asarray(rows["timepoint"], dtype=int),
                        "scan_date": rows["scan_date"], "bili": rows["bili"]})
    p = pd.DataFrame({"patient_id": [str(int(i)) for i in pat["id"]],
                      "os_time": pat["futime"], "os_event": np.asarray(pat["status"]) == 2})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few events among 40 patients: not the point here
        days = read_cohort(p, les, event_map={True: 1, False: 0}).lesions["scan_time"]
        months = read_cohort(p, les, event_map={True: 1, False: 0},
                             scan_time_unit="months").lesions["scan_time"]
    # as.numeric(difftime(scan_date, first scan_date of the id, units = "days"))
    np.testing.assert_array_equal(days, ref["scan_time_days"])
    # that / (365.25 / 12); jsonlite writes 15 significant digits
    np.testing.assert_allclose(months, ref["scan_time_months"], rtol=1e-13)


# ------------------------------------------------------------------------- bad inputs
def with_dates(les: pd.DataFrame, mask, value) -> pd.DataFrame:
    out = les.copy()
    out["scan_date"] = out["scan_date"].astype(object)
    out.loc[mask, "scan_date"] = value
    return out


def p_t(les: pd.DataFrame, p: str, t: int):
    return ((les["patient_id"] == p) & (les["timepoint"] == t)).to_numpy()


BAD = [
    # (id, make lesion table, message regex, column, ids)
    ("unparseable-dates",
     lambda le: with_dates(le, p_t(le, "P02", 1), "03/04/2021"),
     r"2 cell\(s\) are not dates: '03/04/2021' \(1 in total\)\. Write scan dates as ISO "
     r"8601.*never guesses a day/month order", "scan_date",
     [("P02", "L1", 1), ("P02", "L2", 1)]),
    ("serial-number-date",
     lambda le: with_dates(le, p_t(le, "P03", 2), 44256),
     r"are not dates: '44256'", "scan_date", [("P03", "L1", 2), ("P03", "L2", 2)]),
    ("impossible-date",
     lambda le: with_dates(le, p_t(le, "P01", 0), "2021-02-30"),
     r"are not dates: '2021-02-30'", "scan_date", [("P01", "L1", 0), ("P01", "L2", 0)]),
    ("timepoint-without-date",
     lambda le: with_dates(le, p_t(le, "P04", 1), "NA"),
     r"1 scan\(s\) \(patient_id, timepoint\) have no date: every scan needs one",
     "scan_date", [("P04", 1)]),
    ("one-row-without-date",
     lambda le: with_dates(le, p_t(le, "P05", 2) & (le["lesion_id"] == "L2"), None),
     r"have no date", "scan_date", [("P05", 2)]),
    ("two-dates-one-scan",
     lambda le: with_dates(le, p_t(le, "P06", 1) & (le["lesion_id"] == "L2"), "2021-04-01"),
     r"1 scan\(s\) \(patient_id, timepoint\) have two different dates on their lesion rows "
     r"\(\('2021-04-20', '2021-04-01'\)", "scan_date", [("P06", 1)]),
    ("dates-out-of-order",
     lambda le: with_dates(le, p_t(le, "P07", 2), "2021-03-01"),
     r"scan dates out of order with the timepoints for 1 patient\(s\).*\('P07', 1, "
     r"'2021-04-30', 2, '2021-03-01'\)", "scan_date", ["P07"]),
    ("same-date-two-timepoints",
     lambda le: with_dates(le, p_t(le, "P08", 1), "2021-03-15"),
     r"out of order", "scan_date", ["P08"]),
    ("times-out-of-order",
     lambda le: le.drop(columns="scan_date").assign(
         scan_time=np.where(p_t(le, "P09", 1), 9.0, le["timepoint"] * 2.0)),
     r"scan times out of order.*\('P09', 1, 9\.0, 2, 4\.0\)", "scan_time", ["P09"]),
    ("time-missing",
     lambda le: le.drop(columns="scan_date").assign(
         scan_time=np.where(p_t(le, "P10", 2), np.nan, le["timepoint"] * 2.0)),
     r"have no time", "scan_time", [("P10", 2)]),
    ("no-baseline-scan",
     lambda le: le[~p_t(le, "P11", 0)],
     r"1 patient\(s\) have no scan at the baseline timepoint 0, so the time of their scans "
     r"cannot be counted", "scan_date", ["P11"]),
    ("negative-diameter",
     lambda le: le.assign(longest_diameter_mm=np.where(p_t(le, "P12", 1), -3.0,
                                                       le["longest_diameter_mm"])),
     r"values must be finite and >= 0", "longest_diameter_mm",
     [("P12", "L1", 1), ("P12", "L2", 1)]),
    ("negative-short-axis",
     lambda le: le.assign(short_axis_mm=np.where(p_t(le, "P02", 2), -1.0, le["short_axis_mm"])),
     r"values must be finite and >= 0", "short_axis_mm", [("P02", "L1", 2), ("P02", "L2", 2)]),
    ("short-axis-too-long",
     lambda le: le.assign(short_axis_mm=np.where(p_t(le, "P03", 0) & (le["lesion_id"] == "L2"),
                                                 30.0, le["short_axis_mm"])),
     r"short axis longer than the longest diameter .*values: \(30\.0, 22\.0\)",
     "short_axis_mm", [("P03", "L2", 0)]),
    ("lesion-twice-at-a-timepoint",
     lambda le: pd.concat([le, le[p_t(le, "P04", 2) & (le["lesion_id"] == "L1")]]),
     r"duplicate lesion rows for \(patient_id, lesion_id, timepoint\): \('P04', 'L1', 2\)",
     "lesion_id", [("P04", "L1", 2)]),
    ("dates-without-timepoint",
     lambda le: le[le["timepoint"] == 0].drop(columns="timepoint"),
     r"scan dates/times need a timepoint column 'timepoint'", "scan_date", None),
]


@pytest.mark.parametrize(("make", "pattern", "column", "ids"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_longitudinal_input(make, pattern, column, ids) -> None:
    with pytest.raises(SchemaError) as info:
        read(make(lesions()))
    assert re.search(pattern, str(info.value)), str(info.value)
    assert info.value.column == column
    if ids is not None:
        assert info.value.ids == ids


def test_lesion_missing_between_two_scans_warns() -> None:
    les = lesions()
    hole = p_t(les, "P02", 1) & (les["lesion_id"] == "L2")
    with pytest.warns(DataWarning, match=r"1 lesion\(s\) are missing at a scan of their "
                                         r"patient between two scans.*\('P02', 'L2'\)"):
        read(les[~hole])
    # absent at the last scan(s) only, or new after baseline: no warning
    read(les[~(p_t(les, "P02", 2) & (les["lesion_id"] == "L2"))])


def test_custom_column_names_for_scans() -> None:
    les = lesions().rename(columns={"scan_date": "date", "short_axis_mm": "sa"})
    cols = ColumnNames(scan_date="date", scan_time="t_days", short_axis="sa")
    c = read(les, columns=cols)
    assert c.lesions["t_days"].tolist()[:3] == [0.0, 0.0, 56.0]
    assert list(c.scans.columns) == ["patient_id", "timepoint", "t_days", "date"]
    with pytest.raises(SchemaError, match="role 'scan_date': column 'datum' not found"):
        read(les, columns={"scan_date": "datum"})

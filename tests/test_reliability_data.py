"""docs/reliability.md cases #1-#19 and #25 (data set part): one parametrised test per case.

Each case builds a small bad input (in-memory DataFrame or a CSV written to tmp_path),
calls ``read_cohort`` and matches the message and the ``column`` / ``ids`` / ``values``
attributes of the SchemaError, or the warning it must issue.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from survrad.data.io import read_cohort
from survrad.exceptions import DataWarning, SchemaError, StatisticalWarning

N = 60  # patients in the clean tables: 40 events, EPV >= 10 with up to 4 features


def patients(n: int = N) -> pd.DataFrame:
    """A clean patient table: distinct times, 2/3 events, two numeric covariates."""
    return pd.DataFrame({
        "patient_id": [f"P{i:03d}" for i in range(1, n + 1)],
        "os_time": np.arange(1, n + 1) * 3.0,
        "os_event": [0 if i % 3 == 0 else 1 for i in range(n)],
        "age": 50.0 + np.arange(n) % 25,
        "ecog": np.arange(n) % 3,
    })


def lesions(n: int = N) -> pd.DataFrame:
    """Two lesions per patient, with volume, organ, irradiated flag and two features."""
    pid = np.repeat([f"P{i:03d}" for i in range(1, n + 1)], 2)
    k = np.arange(2 * n)
    return pd.DataFrame({
        "patient_id": pid,
        "lesion_id": np.tile(["L1", "L2"], n),
        "organ": np.tile(["lung", "liver"], n),
        "volume_ml": 1.0 + k % 7,
        "irradiated": (k % 2 == 0).astype(int),
        "rad_a": np.sin(k),
        "rad_b": np.cos(k),
    })


def with_cell(df: pd.DataFrame, row: int | list[int], column: str, value: Any) -> pd.DataFrame:
    """Copy of ``df`` with ``df[column][row] = value`` (column becomes object if needed)."""
    out = df.copy()
    if not isinstance(value, int | float | np.floating) or isinstance(value, bool):
        out[column] = out[column].astype(object)
    elif isinstance(value, float | np.floating) and out[column].dtype.kind in "iu":
        out[column] = out[column].astype(float)
    out.loc[row, column] = value
    return out


def write(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# ------------------------------------------------------------------ the cases
# Each builder takes tmp_path and returns read_cohort keyword arguments.
Builder = Callable[[Path], dict]

CASES: list[tuple[str, Builder, str, str | None, list | None]] = [
    # (id, builder, message regex, expected .column, expected .ids)
    ("1-missing-feature",
     lambda t: dict(patients=patients(), patient_features=["agee"]),
     r"patient feature 'agee' not found\. Available columns: .*'age'.*Close matches: \['age'\]",
     "agee", None),
    ("1-glob-matches-nothing",
     lambda t: dict(patients=patients(), patient_features=["rad_*"]),
     r"patient feature pattern 'rad_\*' matches no column\. Available columns:",
     "rad_*", None),
    ("1-missing-lesion-feature",
     lambda t: dict(patients=patients(), lesions=lesions(), lesion_features=["rad_c"]),
     r"\[lesions\] column 'rad_c': lesion feature 'rad_c' not found.*Close matches: "
     r"\[('rad_a', 'rad_b'|'rad_b', 'rad_a')\]", "rad_c", None),
    ("1-requested-role-column-missing",
     lambda t: dict(patients=patients(), lesions=lesions(), columns={"volume": "volumeml"}),
     r"\[lesions\] column 'volumeml': role 'volume': column 'volumeml' not found\. Available "
     r"columns: .*Close matches: \['volume_ml'\]", "volumeml", None),
    ("1-missing-id-column",
     lambda t: dict(patients=patients().rename(columns={"patient_id": "id"})),
     r"id column 'patient_id' not found\. Available columns: 'id'.*columns=\{'patient_id'",
     "patient_id", None),
    ("1-missing-endpoint-column",
     lambda t: dict(patients=patients(), endpoints={"os": ("os_time", "death")}),
     r"endpoint 'os' column 'death' not found", "death", None),
    ("1-half-default-endpoint",
     lambda t: dict(patients=patients().drop(columns="os_event")),
     r"'os_time' is present but 'os_event' is not", "os_event", None),
    ("1-duplicate-column-names",
     lambda t: dict(patients=write(t, "p.csv", "patient_id,os_time,os_event,age,age\n"
                                   + "".join(f"P{i},{i},1,50,51\n" for i in range(12)))),
     r"p\.csv\] column 'age': duplicate column names: 'age' x2", "age", None),
    ("2-empty-file",
     lambda t: dict(patients=write(t, "p.csv", "")),
     r"p\.csv\] file is empty \(0 bytes, detected shape \(0, 0\)\)", None, None),
    ("2-header-only",
     lambda t: dict(patients=write(t, "p.csv", "patient_id,os_time,os_event\n")),
     r"no data rows: only a header \(detected shape \(0, 3\)\)", None, None),
    ("2-zero-rows-dataframe",
     lambda t: dict(patients=patients().iloc[:0]),
     r"\[patients\] no data rows \(detected shape \(0, 5\)\)", None, None),
    ("2-wrong-delimiter",
     lambda t: dict(patients=write(t, "p.csv", "patient_id;os_time;os_event\n"
                                   + "".join(f"P{i};{i},5;1\n" for i in range(12)))),
     r"everything was parsed into one column \(detected shape \(12, 1\).*delimiter looks "
     r"like ';'", None, None),
    ("2-ragged-row",
     lambda t: dict(patients=write(t, "p.csv", "patient_id,os_time,os_event\nP1,3,1\n"
                                   "P2,4,1,9\nP3,5\n")),
     r"2 row\(s\) do not have the 3 fields of the header \(line 3: 4 fields, line 4: 2 "
     r"fields\)", None, None),
    ("3-empty-id-csv",
     lambda t: dict(patients=write(t, "p.csv", "patient_id,os_time,os_event\nP1,3,1\n"
                                   ",4,1\nP3,5,0\n  ,6,1\n")),
     r"patient_id is empty or missing on file lines \(line 1 is the header\): 3, 5 \(2 in "
     r"total\)", "patient_id", None),
    ("3-NA-id-csv",
     lambda t: dict(patients=write(t, "p.csv", "patient_id,os_time,os_event\nP1,3,1\n"
                                   "NA,4,1\n")),
     r"empty or missing on file lines \(line 1 is the header\): 3 \(1 in total\).*'NA'",
     "patient_id", None),
    ("3-nan-id-dataframe",
     lambda t: dict(patients=with_cell(patients(), 4, "patient_id", np.nan)),
     r"empty or missing on row positions \(0-based\): 4 \(1 in total\)", "patient_id", None),
    ("3-missing-lesion-id",
     lambda t: dict(patients=patients(), lesions=with_cell(lesions(), [2, 7], "lesion_id",
                                                           None)),
     r"\[lesions\] column 'lesion_id': lesion_id is empty or missing on row positions "
     r"\(0-based\): 2, 7", "lesion_id", None),
    ("4-duplicate-patient",
     lambda t: dict(patients=pd.concat([patients(), patients().iloc[[1, 1, 5]]])),
     r"duplicate patient ids \(2 ids\): 'P002' x3, 'P006' x2\. .*never deduplicates",
     "patient_id", ["P002", "P006"]),
    ("5-duplicate-lesion",
     lambda t: dict(patients=patients(), lesions=pd.concat([lesions(), lesions().iloc[[3]]])),
     r"duplicate lesion rows for \(patient_id, lesion_id\): \('P002', 'L2'\) \(1 in total\)",
     "lesion_id", [("P002", "L2")]),
    ("5-duplicate-lesion-per-timepoint",
     lambda t: dict(patients=patients(),
                    lesions=pd.concat([lesions().assign(timepoint=0),
                                       lesions().assign(timepoint=1),
                                       lesions().iloc[[0]].assign(timepoint=1)])),
     r"duplicate lesion rows for \(patient_id, lesion_id, timepoint\): \('P001', 'L1', 1\)",
     "lesion_id", [("P001", "L1", 1)]),
    ("6-orphan-lesion",
     lambda t: dict(patients=patients(),
                    lesions=pd.concat([lesions(), lesions().iloc[[0]].assign(
                        patient_id="P999")])),
     r"1 lesion row\(s\) belong to patients absent from the patient table: 'P999'.*"
     r"exclude_orphan_lesions=True", "patient_id", [("P999", "L1")]),
    ("8-missing-time",
     lambda t: dict(patients=with_cell(patients(), [2, 9], "os_time", np.nan)),
     r"column 'os_time': survival time is missing.*drop_missing_time=True.*ids: 'P003', "
     r"'P010' \(2 in total\)", "os_time", ["P003", "P010"]),
    ("8-missing-time-csv-empty-cell",
     lambda t: dict(patients=write(t, "p.csv", "patient_id,os_time,os_event\n"
                                   + "".join(f"P{i},{'' if i == 4 else i + 1},{i % 2}\n"
                                             for i in range(12)))),
     r"survival time is missing", "os_time", ["P4"]),
    ("9-text-time",
     lambda t: dict(patients=with_cell(with_cell(patients(), 0, "os_time", "12m"), 3,
                                       "os_time", "<5")),
     r"survival time is not a number.*values: '12m', '<5' \(2 in total\)", "os_time",
     ["P001", "P004"]),
    ("9-text-time-csv",
     lambda t: dict(patients=write(t, "p.csv", "patient_id,os_time,os_event\n"
                                   + "".join(f"P{i},{'12m' if i == 2 else i + 1},1\n"
                                             for i in range(12)))),
     r"survival time is not a number.*values: '12m' \(1 in total\)", "os_time", ["P2"]),
    ("9-infinite-time",
     lambda t: dict(patients=with_cell(patients(), 1, "os_time", np.inf)),
     r"survival time is infinite", "os_time", ["P002"]),
    ("9-infinite-time-csv",
     lambda t: dict(patients=write(t, "p.csv", "patient_id,os_time,os_event\n"
                                   + "".join(f"P{i},{'-inf' if i == 2 else i + 1},1\n"
                                             for i in range(12)))),
     r"survival time is infinite", "os_time", ["P2"]),
    ("10-negative-time",
     lambda t: dict(patients=with_cell(patients(), 6, "os_time", -2.0)),
     r"survival time is negative.*values: -2\.0", "os_time", ["P007"]),
    ("11-event-half",
     lambda t: dict(patients=with_cell(patients(), 2, "os_event", 0.5)),
     r"event must be coded exactly 0/1 .*0\.5: 1\}", "os_event", ["P003"]),
    ("11-event-minus-one",
     lambda t: dict(patients=with_cell(patients(), [2, 4], "os_event", -1)),
     r"event must be coded exactly 0/1 .*, -1: 2\}", "os_event", ["P003", "P005"]),
    ("11-event-nan",
     lambda t: dict(patients=with_cell(patients(), 8, "os_event", np.nan)),
     r"event must be coded exactly 0/1 .*, nan: 1\}", "os_event", ["P009"]),
    ("11-event-yes-dead-strings",
     lambda t: dict(patients=patients().assign(
         os_event=["yes" if i % 2 else "dead" for i in range(N)])),
     r"found value counts \{dead: 30, yes: 30\}\. Text codes need an explicit event_map",
     "os_event", None),
    ("11-event-three",
     lambda t: dict(patients=with_cell(patients(), 0, "os_event", 3)),
     r"event must be coded exactly 0/1 .*, 3: 1\}\. ids", "os_event", ["P001"]),
    ("11-event-map-incomplete",
     lambda t: dict(patients=patients().assign(os_event=["dead", "alive", "lost"] * 20),
                    event_map={"dead": 1, "alive": 0}),
     r"event values not covered by event_map.*values: 'lost'", "os_event", None),
    ("12-one-two-coding",
     lambda t: dict(patients=patients().assign(os_event=patients()["os_event"] + 1)),
     r"looks like 1=censored/2=dead coding \(R/SAS\): recode with event_map=\{1: 0, 2: 1\}",
     "os_event", None),
    ("12-one-two-coding-with-a-missing-event",
     lambda t: dict(patients=with_cell(patients().assign(os_event=patients()["os_event"] + 1),
                                       4, "os_event", np.nan)),
     r"found value counts \{2\.0: 39, 1\.0: 20, nan: 1\}\. This looks like 1=censored/2=dead "
     r"coding", "os_event", None),
    ("12-competing-risk-coding",
     lambda t: dict(patients=with_cell(patients(), [0, 1], "os_event", 2)),
     r"A competing-risk code \(2\) is present", "os_event", ["P001", "P002"]),
    ("13-zero-events",
     lambda t: dict(patients=patients().assign(os_event=0)),
     r"no events: a survival model cannot be estimated", "os_event", None),
    ("14-one-event",
     lambda t: dict(patients=patients().assign(os_event=[1] + [0] * (N - 1))),
     r"only one event", "os_event", None),
    ("15-all-times-tied",
     lambda t: dict(patients=patients().assign(os_time=7.0)),
     r"all survival times are tied \(every time = 7\.0\)", "os_event", None),
    ("15-two-distinct-event-times",
     lambda t: dict(patients=patients().assign(
         os_time=[5.0, 9.0] * (N // 2), os_event=[1, 1, 0, 0] * (N // 4))),
     r"only 2 distinct event time\(s\); at least 3", "os_event", None),
    ("17-stray-text-in-feature",
     lambda t: dict(patients=with_cell(patients(), 3, "age", "<0.5"),
                    patient_features=["age"]),
     r"column 'age': non-numeric values '<0\.5' \(1 in total\)", "age", ["P004"]),
    ("17-stray-text-in-feature-csv",
     lambda t: dict(patients=write(t, "p.csv", "patient_id,os_time,os_event,age\n"
                                   + "".join(f"P{i},{i + 1},{i % 2},{'<0.5' if i == 5 else 60}\n"
                                             for i in range(24))),
                    patient_features=["age"]),
     r"column 'age': non-numeric values '<0\.5' \(1 in total\)", "age", ["P5"]),
    ("17-string-feature",
     lambda t: dict(patients=patients().assign(sex=["m", "f"] * (N // 2)),
                    patient_features=["sex"]),
     r"column 'sex': non-numeric values 'm', 'f' \(2 in total\)", "sex", None),
    ("17-categorical-feature",
     lambda t: dict(patients=patients().assign(sex=pd.Categorical(["m", "f"] * (N // 2))),
                    patient_features=["sex"]),
     r"column 'sex': is categorical .*Encoding is only done on request.*ids: 'P001', "
     r"'P002', .*'P010', \.\.\. \(60 in total\)", "sex", [f"P{i:03d}" for i in range(1, N + 1)]),
    ("17-categorical-feature-ids-of-text-rows",
     lambda t: dict(patients=patients().assign(grade=pd.Categorical(
         ["1", "high"] + [None] * (N - 4) + ["2", "low"])), patient_features=["grade"]),
     r"column 'grade': is categorical .*ids: 'P002', 'P060' \(2 in total\)", "grade",
     ["P002", "P060"]),
    ("17-stray-text-in-lesion-feature",
     lambda t: dict(patients=patients(), lesions=with_cell(lesions(), 5, "rad_b", "n.d."),
                    lesion_features=["rad_*"]),
     r"\[lesions\] column 'rad_b': non-numeric values 'n\.d\.'", "rad_b", [("P003", "L2")]),
    ("18-nan-in-features",
     lambda t: dict(patients=with_cell(with_cell(patients(), 2, "age", np.nan), [2, 11],
                                       "ecog", np.nan), patient_features=["age", "ecog"]),
     r"missing values \(NaN\) in feature columns \{'age': 1, 'ecog': 2\}.*never imputes",
     "age", ["P003", "P012"]),
    ("18-nan-in-lesion-feature",
     lambda t: dict(patients=patients(), lesions=with_cell(lesions(), 9, "rad_a", np.nan),
                    lesion_features=["rad_a"]),
     r"\[lesions\] column 'rad_a': missing values \(NaN\) in feature columns \{'rad_a': 1\}",
     "rad_a", [("P005", "L2")]),
    ("19-inf-in-features",
     lambda t: dict(patients=with_cell(patients(), 0, "ecog", -np.inf),
                    patient_features=["age", "ecog"]),
     r"infinite values in feature columns \{'ecog': 1\}", "ecog", ["P001"]),
    ("25-too-few-patients",
     lambda t: dict(patients=patients(6)),
     r"only 6 patient\(s\); at least 10 are needed", None, None),
    ("25-too-few-after-drop",
     lambda t: dict(patients=with_cell(patients(12), [0, 1, 2], "os_time", np.nan),
                    drop_missing_time=True),
     r"only 9 patient\(s\); at least 10", None, None),
    ("lesion-volume-not-positive",
     lambda t: dict(patients=patients(), lesions=with_cell(lesions(), [0, 3], "volume_ml",
                                                           0.0)),
     r"column 'volume_ml': values must be finite and > 0\.", "volume_ml",
     [("P001", "L1"), ("P002", "L2")]),
    ("lesion-volume-missing",
     lambda t: dict(patients=patients(), lesions=with_cell(lesions(), 4, "volume_ml", np.nan)),
     r"column 'volume_ml': missing values", "volume_ml", [("P003", "L1")]),
    ("lesion-dose-not-a-number",
     lambda t: dict(patients=patients(), lesions=with_cell(lesions().assign(rt_dose_gy=0.0),
                                                           3, "rt_dose_gy", "<0.5")),
     r"\[lesions\] column 'rt_dose_gy': non-numeric values '<0\.5'", "rt_dose_gy",
     [("P002", "L2")]),
    ("lesion-dose-negative",
     lambda t: dict(patients=patients(), lesions=with_cell(lesions().assign(rt_dose_gy=0.0),
                                                           0, "rt_dose_gy", -8.0)),
     r"column 'rt_dose_gy': values must be finite and >= 0", "rt_dose_gy", [("P001", "L1")]),
    ("lesion-irradiated-not-binary",
     lambda t: dict(patients=patients(), lesions=with_cell(lesions(), 1, "irradiated", 2)),
     r"column 'irradiated': must be coded 0/1 .*\{2: 1\}", "irradiated", [("P001", "L2")]),
    ("lesion-response-missing",
     lambda t: dict(patients=patients(), lesions=lesions().assign(
         lesion_response=np.r_[np.nan, np.tile([1.0, 0.0], N)[1:]])),
     r"column 'lesion_response': must be coded 0/1 \(no missing values\); found \{nan: 1\}",
     "lesion_response", [("P001", "L1")]),
    ("lesion-timepoint-text",
     lambda t: dict(patients=patients(), lesions=lesions().assign(timepoint="pre")),
     r"timepoint must be numeric .*'pre'", "timepoint", None),
    ("feature-is-outcome",
     lambda t: dict(patients=patients(), patient_features=["os_time"]),
     r"'os_time' cannot be a patient feature: it is an outcome column of endpoint 'os'",
     "os_time", None),
    ("lesion-feature-is-outcome",
     lambda t: dict(patients=patients(), lesions=lesions().assign(diameter_followup_mm=3.0),
                    lesion_features=["diameter_followup_mm"]),
     r"cannot be a lesion feature: it is a lesion outcome", "diameter_followup_mm", None),
]


@pytest.mark.parametrize(("builder", "pattern", "column", "ids"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reliability_case(tmp_path: Path, builder: Builder, pattern: str,
                          column: str | None, ids: list | None) -> None:
    kwargs = builder(tmp_path)
    with pytest.raises(SchemaError, match=pattern) as info:
        read_cohort(**kwargs)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.column == column
    if ids is not None:
        assert err.ids == ids
    expected_file = kwargs["patients"] if isinstance(kwargs["patients"], str) else None
    if expected_file is not None:
        assert err.file == expected_file


def test_file_attribute_names_the_table_for_dataframes() -> None:
    with pytest.raises(SchemaError) as info:
        read_cohort(patients(), lesions=with_cell(lesions(), 0, "rad_a", np.inf),
                    lesion_features=["rad_a"])
    assert info.value.file == "lesions"
    assert str(info.value).startswith("[lesions] column 'rad_a': infinite values")


def test_values_attribute_keeps_raw_cells() -> None:
    bad = with_cell(with_cell(patients(), 0, "os_time", "12m"), 3, "os_time", "<5")
    with pytest.raises(SchemaError) as info:
        read_cohort(bad)
    assert info.value.values == ["12m", "<5"]


def test_ids_listed_first_ten_and_count() -> None:
    bad = patients().assign(age=np.where(np.arange(N) < 25, np.nan, 60.0))
    with pytest.raises(SchemaError) as info:
        read_cohort(bad, patient_features=["age"])
    msg = str(info.value)
    assert "'P001', 'P002'" in msg and "'P010', ... (25 in total)" in msg
    assert "'P011'" not in msg
    assert len(info.value.ids) == 25


# ------------------------------------------------------------- warning cases
WARN_CASES = [
    ("3-whitespace-id",
     lambda: dict(patients=with_cell(patients(), 0, "patient_id", "P001 "),
                  lesions=with_cell(lesions(), 2, "patient_id", " P002")),
     DataWarning, r"leading/trailing whitespace removed from '(P001 | P002)'"),
    ("7-patient-without-lesions",
     lambda: dict(patients=patients(), lesions=lesions().iloc[4:]),
     DataWarning, r"\[lesions\] 2 patient\(s\) have no lesion rows: 'P001', 'P002' \(2 in "
                  r"total\)"),
    ("10-time-zero",
     lambda: dict(patients=with_cell(patients(), [0, 5], "os_time", 0.0)),
     DataWarning, r"survival time is 0 for 'P001', 'P006' \(2 in total\); allowed"),
    ("14-fewer-than-10-events",
     lambda: dict(patients=patients(20).assign(os_event=[1, 0, 0] * 6 + [0, 1])),
     StatisticalWarning, r"only 7 events; estimates will be very unstable"),
    # EPV counts the patient predictors: lesion features are aggregated and selected
    # inside the pipeline, where each model checks EPV of its own design
    ("14-events-per-variable",
     lambda: dict(patients=patients().assign(os_event=[1, 0, 0] * 20, pdl1=1.0 + np.arange(60)),
                  lesions=lesions(), patient_features=["age", "ecog", "pdl1"],
                  lesion_features=["rad_*"], endpoints={"os": ("os_time", "os_event")}),
     StatisticalWarning, r"events per variable is 6\.7 \(20 events, 3 features\), below 10"),
]


@pytest.mark.parametrize(("builder", "category", "pattern"), [c[1:] for c in WARN_CASES],
                         ids=[c[0] for c in WARN_CASES])
def test_reliability_warning_case(builder: Callable[[], dict], category: type,
                                  pattern: str) -> None:
    with pytest.warns(category, match=pattern):
        cohort = read_cohort(**builder())
    assert cohort.n_patients > 0


@pytest.mark.parametrize(("builder", "category", "pattern"), [c[1:] for c in WARN_CASES],
                         ids=[c[0] for c in WARN_CASES])
def test_strict_turns_warning_case_into_error(builder: Callable[[], dict], category: type,
                                              pattern: str) -> None:
    with pytest.raises(SchemaError, match="strict mode: .*" + pattern) as info:
        read_cohort(**builder(), strict=True)
    assert category.__name__ in str(info.value)


def test_whitespace_ids_are_stripped_and_lesions_join() -> None:
    p = with_cell(patients(), 0, "patient_id", "P001 ")
    les = with_cell(lesions(), [0, 1], "patient_id", "P001\t")
    with pytest.warns(DataWarning) as record:
        cohort = read_cohort(p, les)
    texts = [str(w.message) for w in record]
    assert any("[patients]" in t and "'P001 '" in t for t in texts)
    assert any("[lesions]" in t and "'P001\\t', 'P001\\t'" in t for t in texts)
    assert "P001" in cohort.patient_ids
    assert len(cohort.lesions_of("P001")) == 2


def test_whitespace_that_creates_a_duplicate_is_an_error() -> None:
    p = with_cell(patients(), 1, "patient_id", "P001 ")
    with pytest.warns(DataWarning, match="whitespace"), \
            pytest.raises(SchemaError, match=r"duplicate patient ids \(1 ids\): 'P001' x2"):
        read_cohort(p)


# ------------------------------------------------------------- valid inputs
@pytest.mark.parametrize("codes", [
    [True, False, True],          # booleans
    [1.0, 0.0, 1.0],              # floats 0.0/1.0
    np.array([1, 0, 1], dtype=np.int8),
], ids=["bool", "float", "int8"])
def test_event_codes_accepted(codes: list) -> None:
    ev = np.resize(np.asarray(codes), N)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cohort = read_cohort(patients().assign(os_event=ev))
    assert cohort.patients["os_event"].tolist() == [int(bool(v)) for v in ev]
    assert cohort.patients["os_event"].dtype.kind == "i"


def test_event_floats_in_csv_accepted(tmp_path: Path) -> None:
    df = patients().assign(os_event=lambda d: d["os_event"].astype(float))
    path = tmp_path / "p.csv"
    df.to_csv(path, index=False)
    assert "1.0" in path.read_text()
    cohort = read_cohort(path)
    assert cohort.y("os")["event"].sum() == 40


def test_event_true_false_text_in_csv_accepted(tmp_path: Path) -> None:
    df = patients().assign(os_event=lambda d: np.where(d["os_event"] == 1, "TRUE", "FALSE"))
    path = tmp_path / "p.csv"
    df.to_csv(path, index=False)
    assert read_cohort(path).y("os")["event"].sum() == 40


def test_no_censoring_is_valid() -> None:
    """#16: every patient had the event; scikit-survival must still accept y."""
    from sksurv.nonparametric import kaplan_meier_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cohort = read_cohort(patients().assign(os_event=1))
    y = cohort.y("os")
    assert y["event"].all()
    times, surv = kaplan_meier_estimator(y["event"], y["time"])
    # without censoring, KM = empirical survival: 1 - k/n after the k-th death
    np.testing.assert_allclose(surv, 1 - np.arange(1, N + 1) / N)
    assert times[0] == 3.0


def test_one_two_coding_read_with_explicit_event_map() -> None:
    df = patients().assign(os_event=patients()["os_event"] + 1)
    cohort = read_cohort(df, event_map={1: 0, 2: 1})
    assert cohort.patients["os_event"].tolist() == patients()["os_event"].tolist()


def test_string_events_read_with_explicit_event_map() -> None:
    df = patients().assign(os_event=np.where(patients()["os_event"] == 1, "dead", "alive"))
    cohort = read_cohort(df, event_map={"os": {"dead": 1, "alive": 0}})
    assert cohort.y("os")["event"].sum() == 40


def test_realistic_table_does_not_trip_epv_warning() -> None:
    """300 patients, 120 events, 5 features: EPV 24, no warning at all."""
    rng = np.random.default_rng(1)
    n = 300
    df = pd.DataFrame({
        "patient_id": [f"S{i:04d}" for i in range(n)],
        "os_time": rng.exponential(400.0, n).round(1) + 1,
        "os_event": np.r_[np.ones(120, int), np.zeros(180, int)],
        **{f"x{j}": rng.normal(size=n) for j in range(5)},
    })
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cohort = read_cohort(df, patient_features=["x*"])
    assert cohort.patient_features == tuple(f"x{j}" for j in range(5))
    assert cohort.y("os")["event"].sum() == 120


def test_drop_missing_time_lists_patients_and_their_lesions() -> None:
    p = with_cell(patients(), [2, 9], "os_time", np.nan)
    cohort = read_cohort(p, lesions(), drop_missing_time=True)
    assert cohort.n_patients == N - 2
    assert "P003" not in cohort.patient_ids and "P010" not in cohort.patient_ids
    ex = cohort.excluded
    assert list(ex.columns) == ["table", "id", "reason"]
    assert ex.loc[ex["table"] == "patients", "id"].tolist() == ["P003", "P010"]
    assert ex.loc[ex["table"] == "lesions", "id"].tolist() == [
        "P003/L1", "P003/L2", "P010/L1", "P010/L2"]
    assert ex["reason"].str.contains("missing os_time").all()
    # row accounting: read = used + excluded
    assert cohort.n_patients + (ex["table"] == "patients").sum() == N
    assert cohort.n_lesions + (ex["table"] == "lesions").sum() == 2 * N


def test_exclude_orphan_lesions_lists_them() -> None:
    extra = lesions().iloc[[0, 1]].assign(patient_id="P999")
    cohort = read_cohort(patients(), pd.concat([lesions(), extra]), exclude_orphan_lesions=True)
    assert cohort.n_lesions == 2 * N
    ex = cohort.excluded
    assert ex["id"].tolist() == ["P999/L1", "P999/L2"]
    assert ex["table"].tolist() == ["lesions", "lesions"]
    assert ex["reason"].str.contains("not in the patient table").all()


def test_same_lesion_at_two_timepoints_is_valid() -> None:
    les = pd.concat([lesions().assign(timepoint=0), lesions().assign(timepoint=1)])
    cohort = read_cohort(patients(), les, lesion_features=["rad_a"])
    assert cohort.n_lesions == 4 * N
    assert len(cohort.baseline_lesions()) == 2 * N


def test_missing_optional_lesion_sizes_allowed_but_negative_is_not() -> None:
    les = lesions().assign(longest_diameter_mm=np.r_[np.nan, np.full(2 * N - 1, 12.0)])
    cohort = read_cohort(patients(), les)
    assert np.isnan(cohort.lesions["longest_diameter_mm"].iloc[0])
    les.loc[5, "longest_diameter_mm"] = -1.0
    with pytest.raises(SchemaError, match=r"values must be finite and >= 0") as info:
        read_cohort(patients(), les)
    assert info.value.ids == [("P003", "L2")]


def test_messages_have_no_numpy_reprs() -> None:
    with pytest.raises(SchemaError) as info:
        read_cohort(with_cell(patients(), [2, 4], "os_event", -1))
    assert "np." not in str(info.value)
    assert re.search(r"ids: 'P003', 'P005' \(2 in total\)", str(info.value))

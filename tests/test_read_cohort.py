"""read_cohort / read_table: formats, ids, types, endpoints, features, provenance."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from survrad.data.cohort import ColumnNames, Endpoint
from survrad.data.io import candidate_lesion_features, read_cohort, read_columns, read_table
from survrad.exceptions import ConfigError, DataWarning, SchemaError

N = 80


def patients(n: int = N) -> pd.DataFrame:
    """A clean patient table with zero-padded ids, os/pfs/response and covariates."""
    i = np.arange(n)
    return pd.DataFrame({
        "patient_id": [f"{k:03d}" for k in range(1, n + 1)],   # "001": leading zeros
        "os_time": 10.0 + 7 * i,
        "os_event": (i % 4 != 0).astype(int),                 # 60 events
        "pfs_time": 5.0 + 3 * i,
        "pfs_event": (i % 5 != 0).astype(int),                # 64 events
        "objective_response": (i % 3 == 0).astype(int),
        "best_response": np.where(i % 3 == 0, "PR", "SD"),
        "age": 45.0 + i % 30,
        "ecog": i % 3,
        "center": np.where(i < n // 2, "A", "B"),
        "split": "train",
    })


def lesions(n: int = N) -> pd.DataFrame:
    k = np.arange(3 * n)
    return pd.DataFrame({
        "patient_id": np.repeat([f"{p:03d}" for p in range(1, n + 1)], 3),
        "lesion_id": np.tile(["L01", "L02", "L03"], n),
        "organ": np.tile(["lung", "liver", "bone"], n),
        "volume_ml": 0.5 + k % 11,
        "irradiated": (k % 3 == 0).astype(int),
        "rad_energy": np.sin(k) * 100,
        "rad_entropy": np.cos(k),
        "shape_sphericity": 0.5 + 0.4 * np.sin(k / 3),
    })


@pytest.fixture
def csv_pair(tmp_path: Path) -> tuple[Path, Path]:
    p, les = tmp_path / "patients.csv", tmp_path / "lesions.csv"
    patients().to_csv(p, index=False)
    lesions().to_csv(les, index=False)
    return p, les


# ------------------------------------------------------------------ clean reads
def test_clean_csv_reads_without_any_warning(csv_pair: tuple[Path, Path]) -> None:
    p, les = csv_pair
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cohort = read_cohort(p, les, patient_features=["age", "ecog"],
                             lesion_features=["rad_*"])
    assert cohort.n_patients == N and cohort.n_lesions == 3 * N
    assert cohort.patient_features == ("age", "ecog")
    assert cohort.lesion_features == ("rad_energy", "rad_entropy")
    assert set(cohort.endpoints) == {"os", "pfs", "response"}
    assert cohort.source == {"patients": str(p), "lesions": str(les)}
    assert cohort.excluded.empty


def test_types_after_reading(csv_pair: tuple[Path, Path]) -> None:
    cohort = read_cohort(*csv_pair, patient_features=["age"], lesion_features=["rad_*"])
    pt, les = cohort.patients, cohort.lesions
    assert pt.index.name == "patient_id"
    assert pt.index.tolist()[:3] == ["001", "002", "003"]      # "007" stays "007"
    assert pt["os_event"].dtype.kind == "i" and pt["os_time"].dtype == np.float64
    assert pt["objective_response"].dtype.kind == "i"
    assert pt["age"].dtype == np.float64
    assert les["patient_id"].tolist()[:4] == ["001", "001", "001", "002"]
    assert les["lesion_id"].tolist()[:3] == ["L01", "L02", "L03"]
    assert les["rad_energy"].dtype == np.float64
    assert les["irradiated"].dtype.kind == "i"
    assert isinstance(les.index, pd.RangeIndex)
    np.testing.assert_array_equal(cohort.y("os")["time"], patients()["os_time"])
    np.testing.assert_array_equal(cohort.y("os")["event"], patients()["os_event"] == 1)
    np.testing.assert_array_equal(cohort.y("response"), patients()["objective_response"])


def test_leading_zero_ids_are_kept_and_distinct(tmp_path: Path) -> None:
    df = patients()
    df.loc[0, "patient_id"] = "7"          # "7" and "007" are different patients
    df.loc[6, "patient_id"] = "007"
    les = pd.DataFrame({"patient_id": ["7", "007", "007"], "lesion_id": ["1", "01", "001"],
                        "volume_ml": [1.0, 2.0, 3.0]})
    df.to_csv(tmp_path / "p.csv", index=False)
    les.to_csv(tmp_path / "l.csv", index=False)
    with pytest.warns(DataWarning, match="have no lesion rows"):
        cohort = read_cohort(tmp_path / "p.csv", tmp_path / "l.csv")
    assert {"7", "007"} <= set(cohort.patient_ids)
    assert cohort.lesions_of("007")["lesion_id"].tolist() == ["01", "001"]
    assert cohort.lesions_of("7")["volume_ml"].tolist() == [1.0]


def test_tsv_and_parquet_give_the_same_cohort(tmp_path: Path) -> None:
    patients().to_csv(tmp_path / "p.tsv", sep="\t", index=False)
    lesions().to_csv(tmp_path / "l.tsv", sep="\t", index=False)
    patients().to_parquet(tmp_path / "p.parquet", index=False)
    lesions().to_parquet(tmp_path / "l.pq", index=False)
    a = read_cohort(tmp_path / "p.tsv", tmp_path / "l.tsv", lesion_features=["rad_*"])
    b = read_cohort(tmp_path / "p.parquet", tmp_path / "l.pq", lesion_features=["rad_*"])
    pd.testing.assert_frame_equal(a.patients, b.patients)
    pd.testing.assert_frame_equal(a.lesions, b.lesions)
    assert b.source["patients"].endswith("p.parquet")


def test_parquet_written_with_its_index_reads_back(tmp_path: Path) -> None:
    """cohort.patients.to_parquet(path) keeps patient_id as the index: a round trip."""
    first = read_cohort(patients(), lesions(), patient_features=["age"])
    first.patients.to_parquet(tmp_path / "p.parquet")            # index written
    first.lesions.to_parquet(tmp_path / "l.parquet")             # RangeIndex: not stored
    again = read_cohort(tmp_path / "p.parquet", tmp_path / "l.parquet",
                        patient_features=["age"])
    pd.testing.assert_frame_equal(again.patients, first.patients)
    pd.testing.assert_frame_equal(again.lesions, first.lesions)


def test_parquet_numeric_ids_become_text(tmp_path: Path) -> None:
    df = patients().assign(patient_id=np.arange(1, N + 1))          # int64 ids
    les = lesions().assign(patient_id=np.repeat(np.arange(1, N + 1).astype(float), 3),
                           lesion_id=np.tile([1, 2, 3], N))          # float and int ids
    df.to_parquet(tmp_path / "p.parquet", index=False)
    les.to_parquet(tmp_path / "l.parquet", index=False)
    cohort = read_cohort(tmp_path / "p.parquet", tmp_path / "l.parquet")
    assert cohort.patient_ids[:2].tolist() == ["1", "2"]
    assert cohort.lesions_of("2")["lesion_id"].tolist() == ["1", "2", "3"]


def test_dataframe_inputs_are_not_modified() -> None:
    df = patients().assign(os_event=lambda d: d["os_event"].astype(bool))
    df.loc[0, "patient_id"] = " 001"
    before = df.copy()
    with pytest.warns(DataWarning, match="whitespace"):
        cohort = read_cohort(df, patient_features=["age"])
    pd.testing.assert_frame_equal(df, before)
    assert cohort.source == {"patients": "<DataFrame>"}
    assert cohort.patients["os_event"].dtype.kind == "i"


# --------------------------------------------------------------------- columns
def test_columns_mapping_renames_roles() -> None:
    df = patients().rename(columns={"patient_id": "subject"})
    les = lesions().rename(columns={"patient_id": "subject", "lesion_id": "lid",
                                    "volume_ml": "vol"})
    cohort = read_cohort(df, les, columns={"patient_id": "subject", "lesion_id": "lid",
                                           "volume": "vol"})
    assert cohort.patients.index.name == "subject"
    assert cohort.columns.volume == "vol"
    assert len(cohort.lesions_of("001")) == 3
    same = read_cohort(df, les, columns=ColumnNames(patient_id="subject", lesion_id="lid",
                                                     volume="vol"))
    assert same.columns == cohort.columns


def test_columns_mapping_with_bad_volume_is_checked() -> None:
    les = lesions().rename(columns={"volume_ml": "vol"})
    les.loc[4, "vol"] = -3.0
    with pytest.raises(SchemaError, match=r"column 'vol': values must be finite and > 0"):
        read_cohort(patients(), les, columns={"volume": "vol"})


@pytest.mark.parametrize(("columns", "table", "name", "close"), [
    ({"volume": "volumeml"}, "lesions", "volumeml", r"Close matches: \['volume_ml'\]"),
    ({"center": "institution"}, "patients", "institution", "No close match"),
    (ColumnNames(center="centre"), "patients", "centre", r"Close matches: \['center'\]"),
    ({"irradiated": "rt"}, "lesions", "rt", "No close match"),
    ({"timepoint": "visit"}, "lesions", "visit", "No close match"),
], ids=["volume", "center", "ColumnNames", "irradiated", "timepoint"])
def test_mapped_role_naming_a_missing_column_is_an_error(columns, table: str, name: str,
                                                         close: str) -> None:
    """docs/reliability.md #1: a column requested by role is never silently ignored."""
    role = next(iter(columns)) if isinstance(columns, dict) else "center"
    with pytest.raises(SchemaError, match=rf"\[{table}\] column '{name}': role '{role}': "
                                          rf"column '{name}' not found\. Available columns: "
                                          rf"'patient_id', .*{close}\. Fix the name in "
                                          rf"columns=\{{'{role}': \.\.\.\}}") as info:
        read_cohort(patients(), lesions(), columns=columns)
    assert info.value.column == name and info.value.file == table


def test_mapped_role_that_is_present_or_has_no_table_reads_fine() -> None:
    les = lesions().rename(columns={"volume_ml": "vol"})
    cohort = read_cohort(patients().rename(columns={"center": "site"}), les,
                         columns={"volume": "vol", "center": "site", "split": "split"})
    assert cohort.columns.center == "site" and "site" in cohort.patients.columns
    # a lesion role with no lesion table: nothing to look up
    assert read_cohort(patients(), columns={"volume": "vol"}).columns.volume == "vol"


def test_unknown_column_role_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown column role 'patient'.*Did you mean "
                                          r"'patient_id'"):
        read_cohort(patients(), columns={"patient": "id"})


# ------------------------------------------------------------------- endpoints
def test_default_endpoints_are_those_present() -> None:
    cohort = read_cohort(patients().drop(columns=["pfs_time", "pfs_event"]))
    assert cohort.endpoints == {
        "os": Endpoint("os", "survival", time="os_time", event="os_event"),
        "response": Endpoint("response", "binary", target="objective_response")}


def test_explicit_endpoints_tuple_str_and_endpoint() -> None:
    df = patients().rename(columns={"os_time": "t", "os_event": "d"})
    cohort = read_cohort(df, endpoints={
        "death": ("t", "d"), "resp": "objective_response",
        "prog": Endpoint("whatever", "survival", time="pfs_time", event="pfs_event")})
    assert cohort.endpoint("death").time == "t"
    assert cohort.endpoint("resp").kind == "binary"
    assert cohort.endpoint("prog").name == "prog"
    assert cohort.y("death")["event"].sum() == 60


def test_no_endpoint_found_is_an_error() -> None:
    df = patients().drop(columns=["os_time", "os_event", "pfs_time", "pfs_event",
                                  "objective_response"])
    with pytest.raises(SchemaError, match=r"no endpoint found: expected os_time/os_event"):
        read_cohort(df)


def test_bad_endpoint_spec_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"key 'endpoints.os': endpoint 'os' must be"):
        read_cohort(patients(), endpoints={"os": ("os_time",)})


def test_binary_endpoint_is_validated() -> None:
    df = patients().assign(objective_response=np.r_[2, np.zeros(N - 1, int)])
    with pytest.raises(SchemaError, match=r"column 'objective_response': binary outcome "
                                          r"must be coded 0/1; found 2: 1") as info:
        read_cohort(df)
    assert info.value.ids == ["001"]


def test_pfs_endpoint_is_checked_too() -> None:
    df = patients()
    df.loc[3, "pfs_time"] = -1.0
    with pytest.raises(SchemaError, match=r"column 'pfs_time': survival time is negative"):
        read_cohort(df)


# --------------------------------------------------------------------- features
def test_globs_never_select_ids_outcomes_center_or_split() -> None:
    cohort = read_cohort(patients().drop(columns=["center"]), patient_features=["*"])
    assert cohort.patient_features == ("age", "ecog")


def test_globs_never_select_outcomes_of_endpoints_not_analysed() -> None:
    """Only os is analysed: pfs_time, pfs_event and objective_response stay out of a glob."""
    df = patients().assign(os_months=1.0 + np.arange(N))
    cohort = read_cohort(df, endpoints={"os": ("os_time", "os_event")},
                         patient_features=["*"])
    assert cohort.patient_features == ("age", "ecog", "os_months")
    cohort = read_cohort(df, endpoints={"os": ("os_time", "os_event")},
                         patient_features=["*_*"])
    assert cohort.patient_features == ("os_months",)


def test_globs_never_select_columns_named_by_an_endpoint() -> None:
    df = patients().rename(columns={"os_time": "t", "os_event": "d"})
    cohort = read_cohort(df, endpoints={"death": ("t", "d")}, patient_features=["*"])
    assert cohort.patient_features == ("age", "ecog")


def test_exact_names_may_select_an_unused_outcome_column() -> None:
    cohort = read_cohort(patients(), endpoints={"os": ("os_time", "os_event")},
                         patient_features=["*", "pfs_time", "objective_response"])
    assert cohort.patient_features == ("age", "ecog", "pfs_time", "objective_response")
    with pytest.raises(SchemaError, match=r"'os_event' cannot be a patient feature: it is an "
                                          r"outcome column of endpoint 'os'"):
        read_cohort(patients(), endpoints={"os": ("os_time", "os_event")},
                    patient_features=["os_event"])


def test_lesion_globs_never_select_role_columns() -> None:
    les = lesions().assign(longest_diameter_mm=12.0, rt_dose_gy=0.0, is_target=1,
                           timepoint=0, lesion_response=0)
    cohort = read_cohort(patients(), les, lesion_features=["*"])
    assert cohort.lesion_features == ("rad_energy", "rad_entropy", "shape_sphericity")
    named = read_cohort(patients(), les, lesion_features=["rad_*", "volume_ml"])
    assert named.lesion_features == ("rad_energy", "rad_entropy", "volume_ml")


def test_feature_order_follows_the_request_without_repeats() -> None:
    cohort = read_cohort(patients(), lesions(),
                         patient_features=["ecog", "a*", "ecog"],
                         lesion_features=["shape_*", "rad_*"])
    assert cohort.patient_features == ("ecog", "age")
    assert cohort.lesion_features == ("shape_sphericity", "rad_energy", "rad_entropy")
    assert cohort.X().columns.tolist() == ["ecog", "age"]
    assert cohort.X().dtypes.eq(np.float64).all()


def test_na_tokens_in_a_feature_are_missing_values(tmp_path: Path) -> None:
    df = patients().astype({"age": object})
    df.loc[[2, 5], "age"] = ["NA", "null"]
    df.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(SchemaError, match=r"missing values \(NaN\) in feature columns "
                                          r"\{'age': 2\}") as info:
        read_cohort(tmp_path / "p.csv", patient_features=["age"])
    assert info.value.ids == ["003", "006"]


def test_lesion_features_need_a_lesion_table() -> None:
    with pytest.raises(SchemaError, match="lesion_features given but no lesion table"):
        read_cohort(patients(), lesion_features=["rad_*"])


def test_text_columns_that_are_not_features_are_kept_as_text() -> None:
    cohort = read_cohort(patients(), lesions())
    assert cohort.patients["center"].tolist()[0] == "A"
    assert cohort.lesions["organ"].tolist()[:3] == ["lung", "liver", "bone"]


# --------------------------------------------------------------- header only
def test_read_columns_reads_only_the_header(tmp_path: Path) -> None:
    df = lesions()
    df.to_csv(tmp_path / "l.csv", index=False)
    df.to_csv(tmp_path / "l.tsv", sep="\t", index=False)
    df.to_parquet(tmp_path / "l.parquet", index=False)
    expected = df.columns.tolist()
    for name in ("l.csv", "l.tsv", "l.parquet"):
        assert read_columns(tmp_path / name) == expected
    indexed = patients().set_index("patient_id")
    indexed.to_parquet(tmp_path / "p.parquet")
    assert read_columns(tmp_path / "p.parquet") == patients().columns.tolist()
    assert read_columns(indexed) == patients().columns.tolist()
    with pytest.raises(SchemaError, match="file not found"):
        read_columns(tmp_path / "nope.csv")
    (tmp_path / "p.xlsx").write_bytes(b"PK")
    with pytest.raises(SchemaError, match=r"unsupported file type '\.xlsx'"):
        read_columns(tmp_path / "p.xlsx")


def test_candidate_lesion_features_are_the_non_role_columns(tmp_path: Path) -> None:
    les = lesions().assign(timepoint=0, rt_dose_gy=0.0, lesion_response=0)
    les.to_csv(tmp_path / "l.csv", index=False)
    want = ["rad_energy", "rad_entropy", "shape_sphericity"]
    assert candidate_lesion_features(tmp_path / "l.csv") == want
    assert candidate_lesion_features(les) == want
    renamed = les.rename(columns={"volume_ml": "vol"})
    assert candidate_lesion_features(renamed, columns={"volume": "vol"}) == want


# ---------------------------------------------------------------------- read_table
def test_read_table_with_explicit_separator(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("patient_id;os_time\n007;1,5\n008;2\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="delimiter looks like ';'"):
        read_table(path, id_columns=["patient_id"])
    df = read_table(path, id_columns=["patient_id"], sep=";")
    assert df["patient_id"].tolist() == ["007", "008"]
    assert df["os_time"].tolist() == ["1,5", "2"]   # decimal comma stays text: no guessing


def test_line_numbers_count_blank_lines_and_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text('patient_id,note\nP1,"two\nlines"\n\nP3,x\n,y\n', encoding="utf-8")
    with pytest.raises(SchemaError, match=r"file lines \(line 1 is the header\): 6 \(1 in "
                                          r"total\)"):
        read_table(path, id_columns=["patient_id"])


def test_byte_order_mark_is_not_part_of_the_first_name(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("\ufeffpatient_id,age\n001,50\n".encode())
    df = read_table(path, id_columns=["patient_id"])
    assert df.columns.tolist() == ["patient_id", "age"]
    assert df["patient_id"].tolist() == ["001"]


def test_non_utf8_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("patient_id,organ\n001,f\xe9gado\n".encode("latin-1"))
    with pytest.raises(SchemaError, match=r"not valid UTF-8 text.*re-save the file as UTF-8"):
        read_table(path, id_columns=["patient_id"])


@pytest.mark.parametrize(("name", "pattern"), [
    ("missing.csv", "file not found"),
    ("p.xlsx", "unsupported file type '.xlsx'"),
])
def test_unreadable_sources(tmp_path: Path, name: str, pattern: str) -> None:
    if name.endswith(".xlsx"):
        (tmp_path / name).write_bytes(b"PK\x03\x04")
    with pytest.raises(SchemaError, match=pattern) as info:
        read_cohort(tmp_path / name)
    assert info.value.file == str(tmp_path / name)


def test_single_column_without_other_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("patient_id\nP1\nP2\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"only one column \(detected shape \(2, 1\)"):
        read_table(path)


def test_read_table_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="must be a file path or a pandas DataFrame"):
        read_table([1, 2, 3])  # type: ignore[arg-type]


def test_id_column_read_as_text_even_when_numeric_looking(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("patient_id,x\n1e3,1\n0x1,2\n1.50,3\n", encoding="utf-8")
    assert read_table(path, id_columns=["patient_id"])["patient_id"].tolist() == [
        "1e3", "0x1", "1.50"]


def test_a_cohort_patients_table_can_be_read_back() -> None:
    """A DataFrame indexed by patient_id (e.g. cohort.patients) is accepted as is."""
    first = read_cohort(patients(), patient_features=["age"])
    again = read_cohort(first.patients, patient_features=["age"])
    pd.testing.assert_frame_equal(again.patients, first.patients)


# ------------------------------------------------------------------ split column
def test_split_column_values_are_checked() -> None:
    p = patients()
    p["split"] = np.where(np.arange(N) < 60, "train", "external")
    p.loc[[3, 70], "split"] = ["Train", "validation"]
    with pytest.raises(SchemaError) as info:
        read_cohort(p)
    e = info.value
    assert (e.column, e.ids, e.values) == ("split", ["004", "071"], ["Train", "validation"])
    assert "did you mean 'train'" in str(e)
    # values named by the user (a study's train/test values); None: no check
    named = read_cohort(p, split_values=["train", "Train", "external", "validation"])
    assert named.patients.loc["071", "split"] == "validation"
    assert read_cohort(p, split_values=None).n_patients == N


def test_split_column_missing_value_and_renamed_column() -> None:
    p = patients().rename(columns={"split": "set"})
    p.loc[5, "set"] = None
    with pytest.raises(SchemaError, match="missing") as info:
        read_cohort(p, columns={"split": "set"})
    assert (info.value.column, info.value.ids) == ("set", ["006"])
    assert read_cohort(p).n_patients == N   # "set" is not the split column by default

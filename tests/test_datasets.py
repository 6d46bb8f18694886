"""Bundled datasets: shapes and codes as documented in R's survival package 3.5."""

from __future__ import annotations

import numpy as np
import pytest
from rref import r_ref

from survrad.data.io import read_cohort
from survrad.datasets import DATASETS, dataset_info, load_dataset
from survrad.exceptions import SchemaError

# (name, shape, event column -> value counts). Figures from the R documentation of
# survival 3.5 / R: e.g. table(survival::cancer$status) gives 1: 63, 2: 165.
EXPECTED = [
    ("lung", (228, 10), "status", {1: 63, 2: 165}),        # table(cancer$status)
    ("veteran", (137, 8), "status", {0: 9, 1: 128}),       # table(veteran$status)
    ("retinopathy", (394, 9), "status", {0: 239, 1: 155}),  # table(retinopathy$status)
    ("pbc", (418, 20), "status", {0: 232, 1: 25, 2: 161}),  # table(pbc$status)
    ("colon", (1858, 16), "etype", {1: 929, 2: 929}),       # table(colon$etype)
]


@pytest.mark.parametrize(("name", "shape", "column", "counts"), EXPECTED,
                         ids=[e[0] for e in EXPECTED])
def test_shapes_and_codes(name: str, shape: tuple, column: str, counts: dict) -> None:
    df = load_dataset(name)
    assert df.shape == shape
    assert df[column].value_counts().sort_index().to_dict() == counts


def test_r_column_names_and_missing_values_kept() -> None:
    lung = load_dataset("lung")
    assert lung.columns.tolist() == ["inst", "time", "status", "age", "sex", "ph.ecog",
                                     "ph.karno", "pat.karno", "meal.cal", "wt.loss"]
    # sum(is.na(cancer$meal.cal)) = 47; sum(is.na(cancer$wt.loss)) = 14
    assert lung["meal.cal"].isna().sum() == 47
    assert lung["wt.loss"].isna().sum() == 14
    pbc = load_dataset("pbc")
    assert pbc["trt"].isna().sum() == 106          # 106 non-randomised patients
    assert set(pbc["sex"]) == {"f", "m"}
    assert sorted(pbc["edema"].unique().tolist()) == [0.0, 0.5, 1.0]


def test_known_values() -> None:
    # head(survival::cancer, 1): inst 3, time 306, status 2, age 74, sex 1, ph.ecog 1
    row = load_dataset("lung").iloc[0]
    assert (row["inst"], row["time"], row["status"], row["age"], row["ph.ecog"]) == (
        3, 306, 2, 74, 1)
    # mean(survival::veteran$time) (tests/r/survival.json, case veteran_summary)
    assert load_dataset("veteran")["time"].mean() == pytest.approx(
        r_ref("survival", "veteran_summary")["time_mean"], rel=1e-12)
    # colon: 929 patients, two rows each
    assert load_dataset("colon")["id"].value_counts().eq(2).all()


def test_each_call_returns_a_fresh_copy() -> None:
    a = load_dataset("veteran")
    a.loc[0, "time"] = -1
    assert load_dataset("veteran").loc[0, "time"] == 72


def test_unknown_dataset_lists_names() -> None:
    with pytest.raises(ValueError, match=r"unknown dataset 'lungs'; available: \['colon', "
                                         r"'lung', 'pbc', 'retinopathy', 'veteran'\]\. Did "
                                         r"you mean 'lung'"):
        load_dataset("lungs")


def test_dataset_info_states_the_coding() -> None:
    assert set(DATASETS) == {"lung", "veteran", "retinopathy", "pbc", "colon"}
    assert "1=censored 2=dead" in dataset_info("lung")
    assert "competing" in dataset_info("pbc")


def test_provenance_file_is_shipped() -> None:
    from importlib import resources

    text = resources.files("survrad.datasets").joinpath("PROVENANCE.md").read_text("utf-8")
    assert "write.csv" in text and "LGPL" in text
    for name in DATASETS:
        assert f"### {name}" in text


# ------------------------------------------- the datasets through read_cohort (#12, #18)
def lung_patients():
    df = load_dataset("lung")
    return df.assign(patient_id=[f"L{i:03d}" for i in range(len(df))])


def test_lung_status_coding_is_refused_without_event_map() -> None:
    with pytest.raises(SchemaError, match=r"found value counts \{2: 165, 1: 63\}\. This looks "
                                          r"like 1=censored/2=dead coding") as info:
        read_cohort(lung_patients(), endpoints={"os": ("time", "status")})
    assert info.value.column == "status"


def test_lung_reads_with_explicit_event_map() -> None:
    cohort = read_cohort(lung_patients(), endpoints={"os": ("time", "status")},
                         event_map={1: 0, 2: 1}, patient_features=["age", "sex"])
    y = cohort.y("os")
    assert int(y["event"].sum()) == 165
    assert y["time"].max() == 1022.0                       # max(cancer$time)


def test_lung_missing_ecog_is_named() -> None:
    with pytest.raises(SchemaError, match=r"missing values \(NaN\) in feature columns "
                                          r"\{'ph.ecog': 1\}") as info:
        read_cohort(lung_patients(), endpoints={"os": ("time", "status")},
                    event_map={1: 0, 2: 1}, patient_features=["age", "ph.ecog"])
    # which(is.na(cancer$ph.ecog)) = 14 (1-based) -> our id L013
    assert info.value.ids == ["L013"]


def test_pbc_competing_risk_code_is_refused() -> None:
    pbc = load_dataset("pbc").assign(patient_id=lambda d: d["id"])
    with pytest.raises(SchemaError, match="competing-risk code"):
        read_cohort(pbc, endpoints={"os": ("time", "status")})
    cohort = read_cohort(pbc, endpoints={"os": ("time", "status")},
                         event_map={0: 0, 1: 0, 2: 1})
    assert int(cohort.y("os")["event"].sum()) == 161
    assert cohort.patient_ids[:3].tolist() == ["1", "2", "3"]
    assert np.all(cohort.y("os")["time"] > 0)

"""read_cohort(missing=...): error (default), complete_case (held to R's coxph), impute."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rref import r_ref

import survrad as sr
from survrad.data.missing import MissingData, missing_pattern
from survrad.exceptions import DataWarning, SchemaError

PBC_FEATURES = ["age", "bili", "albumin", "protime", "chol", "copper", "platelet"]


def pbc() -> pd.DataFrame:
    df = sr.load_dataset("pbc").rename(columns={"id": "patient_id"})
    df["death"] = (df["status"] == 2).astype(int)
    return df


def read_pbc(missing: str, features=PBC_FEATURES) -> sr.Cohort:
    return sr.read_cohort(pbc(), patient_features=features,
                          endpoints={"os": ("time", "death")}, missing=missing)


def small(n: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    patients = pd.DataFrame({"patient_id": [f"P{i:02d}" for i in range(n)],
                             "os_time": np.arange(1.0, n + 1), "os_event": [1, 0] * (n // 2),
                             "age": np.linspace(40, 80, n), "pdl1": [1.0, np.nan] * (n // 2)})
    lesions = pd.DataFrame({"patient_id": np.repeat(patients["patient_id"].to_numpy(), 2),
                            "lesion_id": ["L1", "L2"] * n,
                            "rad_a": np.arange(2.0 * n), "rad_b": np.ones(2 * n)})
    return patients, lesions


def test_default_is_still_an_error_naming_columns_and_ids() -> None:
    with pytest.raises(SchemaError, match="missing values") as info:
        read_pbc("error")
    assert info.value.column == "protime"
    assert set(info.value.values) == {"protime", "chol", "copper", "platelet"}
    assert len(info.value.ids) == 140


def test_unknown_policy_is_named() -> None:
    with pytest.raises(ValueError, match="complete_case"):
        read_pbc("complete")


def test_complete_case_cox_equals_r_coxph() -> None:
    ref = r_ref("missing", "pbc_cc_cox")
    cohort = read_pbc("complete_case")
    # coxph(Surv(time, death) ~ age + bili + albumin + protime + chol + copper + platelet,
    #       data = pbc)      # na.omit drops the incomplete rows
    fit = sr.CoxModel().fit(cohort.X(), cohort.y("os"))
    assert cohort.n_patients == ref["n"] and fit.n_events_ == ref["nevent"]
    assert sorted(int(i) for i in cohort.excluded["id"]) == sorted(ref["excluded_ids"])
    np.testing.assert_allclose(fit.coef_, ref["coef"], rtol=1e-6)
    np.testing.assert_allclose(fit.se_, ref["se"], rtol=1e-6)
    np.testing.assert_allclose(fit.loglik_, ref["loglik"], rtol=1e-9)


def test_complete_case_lists_every_patient_with_its_columns() -> None:
    cohort = read_pbc("complete_case")
    ex = cohort.excluded
    assert len(ex) == 418 - 278 and set(ex["table"]) == {"patients"}
    row = ex.loc[ex["id"] == "6", "reason"].item()
    assert "'platelet'" in row and "complete_case" in row
    # several columns missing for one patient: all named
    both = pbc().set_index("patient_id")
    pid = str(both.index[both["chol"].isna() & both["copper"].isna()][0])
    reason = ex.loc[ex["id"] == pid, "reason"].item()
    assert "'chol'" in reason and "'copper'" in reason


def test_missing_data_records_amount_and_pattern_before_exclusion() -> None:
    md = read_pbc("complete_case").missing_data
    assert isinstance(md, MissingData) and md.policy == "complete_case"
    by = md.by_column.set_index("column")
    raw = pbc()
    for col in PBC_FEATURES:
        assert by.loc[col, "n_missing"] == raw[col].isna().sum()
    assert by["n_rows"].eq(418).all()
    pat = md.patterns["patients"]
    assert pat["n"].sum() == 418 and pat.iloc[0]["n"] == 278 and pat.iloc[0]["n_missing"] == 0
    assert list(pat.columns) == ["protime", "chol", "copper", "platelet", "n", "n_missing"]
    assert md.n_excluded == {"patients": 140}


def test_missing_pattern_like_md_pattern() -> None:
    df = pd.DataFrame({"a": [1.0, np.nan, np.nan, 4.0], "b": [1.0, 2.0, np.nan, 4.0],
                       "c": [1.0, 2.0, 3.0, 4.0]})
    pat = missing_pattern(df)
    assert pat.to_dict("list") == {"a": [False, True, True], "b": [False, False, True],
                                   "n": [2, 1, 1], "n_missing": [0, 1, 2]}
    assert missing_pattern(df[["c"]]).to_dict("list") == {"n": [4], "n_missing": [0]}


def test_impute_keeps_nan_for_the_pipeline() -> None:
    cohort = read_pbc("impute")
    assert cohort.n_patients == 418 and cohort.excluded.empty
    assert int(cohort.X().isna().sum().sum()) == 2 + 134 + 108 + 11
    assert cohort.missing_data.n_excluded == {"patients": 0}
    # a model refuses the NaN: an imputation step must come first
    with pytest.raises(SchemaError, match="NaN"):
        sr.CohortPipeline(model=sr.CoxModel()).fit(cohort, "os")


def test_impute_still_refuses_text_and_infinite_cells() -> None:
    df = pbc()
    df["chol"] = df["chol"].astype(object)
    df.loc[0, "chol"] = "<100"
    with pytest.raises(SchemaError, match="non-numeric"):
        sr.read_cohort(df, patient_features=["chol"], endpoints={"os": ("time", "death")},
                       missing="impute")
    df = pbc()
    df.loc[0, "chol"] = np.inf
    with pytest.raises(SchemaError, match="infinite"):
        sr.read_cohort(df, patient_features=["chol"], endpoints={"os": ("time", "death")},
                       missing="impute")


@pytest.mark.parametrize("missing", ["impute", "complete_case"])
def test_all_missing_column_is_named(missing: str) -> None:
    df = pbc()
    df["pdl1"] = np.nan
    with pytest.raises(SchemaError, match="missing in every row") as info:
        sr.read_cohort(df, patient_features=["age", "pdl1"],
                       endpoints={"os": ("time", "death")}, missing=missing)
    assert info.value.column == "pdl1"


def test_complete_case_excluding_everyone_is_an_error() -> None:
    patients, _ = small()
    patients["x"] = [np.nan, 1.0] * 20
    with pytest.raises(SchemaError, match="every row"):
        sr.read_cohort(patients, patient_features=["x", "pdl1"], missing="complete_case")


def test_lesion_complete_case_drops_lesions_and_lesions_of_dropped_patients() -> None:
    patients, lesions = small(60)
    lesions.loc[0, "rad_a"] = np.nan            # P00/L1: a failed extraction
    cohort = sr.read_cohort(patients, lesions, patient_features=["age", "pdl1"],
                            lesion_features=["rad_a", "rad_b"], missing="complete_case")
    ex = cohort.excluded
    dropped = set(patients.loc[patients["pdl1"].isna(), "patient_id"])
    assert set(ex.loc[ex["table"] == "patients", "id"]) == dropped
    les = ex.loc[ex["table"] == "lesions"]
    assert "P00/L1" in set(les["id"])
    assert "'rad_a'" in les.loc[les["id"] == "P00/L1", "reason"].item()
    # the lesions of the excluded patients go with them (the orphan rule names why)
    others = les.loc[les["id"] != "P00/L1", "reason"]
    assert len(others) == 2 * len(dropped) and all("patient excluded" in r for r in others)
    assert cohort.lesions_of("P00").shape[0] == 1
    assert "P01" not in cohort.patient_ids          # pdl1 missing for odd patients
    md = cohort.missing_data
    assert set(md.by_column["table"]) == {"patients", "lesions"}
    assert md.n_excluded == {"patients": 30, "lesions": 1}


def test_lesion_complete_case_warns_when_a_patient_loses_every_lesion() -> None:
    patients, lesions = small()
    lesions.loc[lesions["patient_id"] == "P02", "rad_b"] = np.nan
    with pytest.warns(DataWarning, match="P02"):
        cohort = sr.read_cohort(patients, lesions, patient_features=["age"],
                                lesion_features=["rad_a", "rad_b"], missing="complete_case")
    assert "P02" in cohort.patient_ids and cohort.n_lesions == 78
    assert cohort.missing_data.n_excluded["lesions"] == 2


def test_lesion_impute_keeps_nan() -> None:
    patients, lesions = small()
    lesions.loc[5, "rad_a"] = np.nan
    cohort = sr.read_cohort(patients, lesions, patient_features=["age"],
                            lesion_features=["rad_a", "rad_b"], missing="impute")
    assert cohort.lesions["rad_a"].isna().sum() == 1
    les = cohort.missing_data.by_column.query("table == 'lesions'").set_index("column")
    assert les.loc["rad_a", "n_missing"] == 1 and les.loc["rad_b", "n_missing"] == 0


def test_missing_data_survives_resampling() -> None:
    cohort = read_pbc("impute")
    assert cohort.take_positions([0, 0, 1]).missing_data is cohort.missing_data


def test_survrad_check_states_the_missingness() -> None:
    from survrad.data.summary import describe_cohort

    text = describe_cohort(read_pbc("complete_case"))
    assert ("missing values: patients (missing='complete_case'): 140 of 418 rows incomplete "
            "(33.5%), 7 patterns, 140 excluded; protime 2 (0.5%), chol 134 (32.1%)") in text
    assert "missing values" not in describe_cohort(pbc_cohort_without_gaps())


def pbc_cohort_without_gaps() -> sr.Cohort:
    return read_pbc("error", features=["age", "bili"])

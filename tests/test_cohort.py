"""The Cohort: take/subset (bootstrap copies with their lesions), y(), X(), lesion access."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from survrad.data.cohort import Cohort, ColumnNames, Endpoint
from survrad.data.outcome import SURV_DTYPE
from survrad.exceptions import SchemaError

IDS = ["P001", "P002", "P003", "P004", "P005"]
N_LES = {"P001": 3, "P002": 1, "P003": 2, "P004": 0, "P005": 2}   # P004: no lesions


def make_cohort(timepoints: bool = False) -> Cohort:
    patients = pd.DataFrame({
        "os_time": [5.0, 8.0, 2.0, 9.0, 4.0],
        "os_event": [1, 0, 1, 1, 0],
        "objective_response": [0, 1, 1, 0, 1],
        "age": [61, 70, 55, 48, 66],
        "ecog": [0, 1, 2, 0, 1],
    }, index=pd.Index(IDS, name="patient_id"))
    rows = [(p, f"L{k + 1}") for p in IDS for k in range(N_LES[p])]
    les = pd.DataFrame(rows, columns=["patient_id", "lesion_id"])
    les["volume_ml"] = np.arange(1.0, len(les) + 1)          # unique per lesion: a tracer
    les["rad_a"] = les["volume_ml"] * 10
    if timepoints:
        later = les.assign(timepoint=1, volume_ml=les["volume_ml"] / 2)
        les = pd.concat([les.assign(timepoint=0), later], ignore_index=True)
    truth = {
        "patients": pd.DataFrame({"true_risk": [0.1, 0.2, 0.3, 0.4, 0.5]},
                                 index=pd.Index(IDS, name="patient_id")),
        "lesions": pd.DataFrame({"patient_id": les["patient_id"],
                                 "true_lesion_effect": les["volume_ml"] * 100}),
    }
    return Cohort(
        patients=patients, lesions=les, patient_features=("age", "ecog"),
        lesion_features=("rad_a",),
        endpoints={"os": Endpoint("os", "survival", time="os_time", event="os_event"),
                   "response": Endpoint("response", "binary", target="objective_response")},
        truth=truth)


# ------------------------------------------------------------------------ take
def test_take_repeats_get_distinct_ids_in_order() -> None:
    c = make_cohort()
    t = c.take(["P003", "P001", "P003", "P003"])
    assert t.patient_ids.tolist() == ["P003", "P001", "P003#2", "P003#3"]
    assert t.original_ids == ("P003", "P001", "P003", "P003")
    assert t.patients["os_time"].tolist() == [2.0, 5.0, 2.0, 2.0]
    assert t.patients.index.name == "patient_id"


def test_take_all_lesions_follow_each_copy() -> None:
    c = make_cohort()
    t = c.take(["P003", "P001", "P003"])
    les = t.lesions
    assert les["patient_id"].tolist() == ["P003", "P003", "P001", "P001", "P001",
                                          "P003#2", "P003#2"]
    assert les["lesion_id"].tolist() == ["L1", "L2", "L1", "L2", "L3", "L1", "L2"]
    # the copy carries the same lesion values as the original
    np.testing.assert_array_equal(t.lesions_of("P003#2")["volume_ml"],
                                  c.lesions_of("P003")["volume_ml"])
    assert isinstance(les.index, pd.RangeIndex)
    assert t.n_lesions == 2 * N_LES["P003"] + N_LES["P001"]


def test_take_matches_naive_lesion_count_on_a_bootstrap_draw() -> None:
    c = make_cohort()
    draw = np.random.default_rng(3).choice(IDS, size=12, replace=True).tolist()
    t = c.take(draw)
    assert t.n_patients == 12 and t.patient_ids.is_unique
    assert t.n_lesions == sum(N_LES[p] for p in draw)            # naive reference
    for new, orig in zip(t.patient_ids, t.original_ids, strict=True):
        assert len(t.lesions_of(new)) == N_LES[orig]
        assert t.patients.loc[new, "age"] == c.patients.loc[orig, "age"]


def test_take_keeps_a_patient_without_lesions() -> None:
    t = make_cohort().take(["P004", "P004"])
    assert t.patient_ids.tolist() == ["P004", "P004#2"]
    assert t.n_lesions == 0
    assert t.lesions_of("P004#2").empty


def test_take_truth_tables_follow() -> None:
    c = make_cohort()
    t = c.take(["P005", "P002", "P005"])
    assert t.truth["patients"].index.tolist() == ["P005", "P002", "P005#2"]
    assert t.truth["patients"]["true_risk"].tolist() == [0.5, 0.2, 0.5]
    tl = t.truth["lesions"]
    assert tl["patient_id"].tolist() == t.lesions["patient_id"].tolist()
    # lesion truth stays aligned with lesion rows (tracer: effect = 100 * volume)
    np.testing.assert_array_equal(tl["true_lesion_effect"], t.lesions["volume_ml"] * 100)


def test_take_of_a_take_maps_back_to_original_ids() -> None:
    c = make_cohort()
    t = c.take(["P001", "P001", "P002"])
    tt = t.take(["P001#2", "P001#2", "P002"])
    assert tt.patient_ids.tolist() == ["P001#2", "P001#2#2", "P002"]
    assert tt.original_ids == ("P001", "P001", "P002")
    assert len(tt.lesions_of("P001#2#2")) == N_LES["P001"]


def test_take_never_reuses_an_id_already_drawn() -> None:
    t = make_cohort().take(["P001", "P001"])               # P001, P001#2
    tt = t.take(["P001", "P001", "P001#2"])                # P001#2 is taken by a real row
    assert tt.patient_ids.tolist() == ["P001", "P001#3", "P001#2"]
    assert tt.original_ids == ("P001", "P001", "P001")
    assert tt.patient_ids.is_unique


def test_take_does_not_modify_the_source() -> None:
    c = make_cohort()
    before_p, before_l = c.patients.copy(), c.lesions.copy()
    c.take(["P002", "P002"])
    pd.testing.assert_frame_equal(c.patients, before_p)
    pd.testing.assert_frame_equal(c.lesions, before_l)


def test_take_does_not_share_cohort_level_truth_or_excluded() -> None:
    c = make_cohort()
    coef = pd.DataFrame({"coef": [0.1, 0.45]}, index=pd.Index(["age", "ecog"], name="term"))
    c = dataclasses.replace(c, truth={**c.truth, "coef": coef},
                            excluded=pd.DataFrame({"table": ["patients"], "id": ["P9"],
                                                   "reason": ["missing os_time"]}))
    t = c.take(["P001", "P002"])
    pd.testing.assert_frame_equal(t.truth["coef"], coef)       # same values ...
    t.truth["coef"].loc["age", "coef"] = 99.0                  # ... but its own copy
    t.excluded.loc[0, "reason"] = "edited"
    t.truth["patients"].iloc[0, 0] = -1.0
    assert c.truth["coef"].loc["age", "coef"] == 0.1
    assert c.excluded.loc[0, "reason"] == "missing os_time"
    assert c.truth["patients"].iloc[0, 0] == 0.1


def test_take_positions_equals_take_of_the_ids() -> None:
    c = make_cohort()
    c.X(), c.y("os")                      # extracted arrays are handed on row by row
    pos = np.array([2, 0, 2, 4, 2])
    by_pos, by_id = c.take_positions(pos), make_cohort().take(c.patient_ids[pos])
    pd.testing.assert_frame_equal(by_pos.patients, by_id.patients)
    pd.testing.assert_frame_equal(by_pos.lesions, by_id.lesions)
    pd.testing.assert_frame_equal(by_pos.X(), by_id.X())
    np.testing.assert_array_equal(by_pos.y("os"), by_id.y("os"))
    assert by_pos.original_ids == by_id.original_ids
    with pytest.raises(SchemaError, match=r"positions must be in \[0, 5\)"):
        c.take_positions([0, 5])
    with pytest.raises(TypeError, match="positions must be integers"):
        c.take_positions([0.0, 1.0])


def test_x_and_y_are_new_objects_each_call() -> None:
    c = make_cohort()
    X, y = c.X(), c.y("os")
    X.iloc[0, 0] = -99.0
    y["time"][0] = -99.0
    assert c.X().iloc[0, 0] != -99.0 and c.y("os")["time"][0] != -99.0


def test_take_unknown_id_is_an_error() -> None:
    with pytest.raises(SchemaError, match=r"patient ids not in this cohort.*'P999'") as info:
        make_cohort().take(["P001", "P999"])
    assert info.value.ids == ["P999"]


def test_subset_keeps_ids_and_rejects_repeats() -> None:
    c = make_cohort()
    s = c.subset(["P005", "P001"])
    assert s.patient_ids.tolist() == ["P005", "P001"]
    assert s.original_ids == ("P005", "P001")
    assert s.lesions["patient_id"].tolist() == ["P005", "P005", "P001", "P001", "P001"]
    with pytest.raises(SchemaError, match=r"subset\(\) takes distinct ids; use take\(\)"):
        c.subset(["P001", "P001"])


# ---------------------------------------------------------------------- outcomes
def test_y_survival_is_the_structured_array() -> None:
    c = make_cohort().take(["P002", "P001"])
    y = c.y("os")
    assert y.dtype == SURV_DTYPE
    assert y["time"].tolist() == [8.0, 5.0]
    assert y["event"].tolist() == [False, True]


def test_y_binary_is_int() -> None:
    y = make_cohort().y("response")
    assert y.dtype.kind == "i"
    assert y.tolist() == [0, 1, 1, 0, 1]


def test_unknown_endpoint_suggests_close_match() -> None:
    with pytest.raises(SchemaError, match=r"unknown endpoint 'OS'.*Did you mean 'os'"):
        make_cohort().y("OS")


def test_x_default_and_explicit_columns() -> None:
    c = make_cohort()
    X = c.X()
    assert X.columns.tolist() == ["age", "ecog"]
    assert X.dtypes.eq(np.float64).all()
    assert X.index.tolist() == IDS
    assert c.X(["ecog"])["ecog"].tolist() == [0.0, 1.0, 2.0, 0.0, 1.0]
    with pytest.raises(SchemaError, match=r"patient columns not found: \['bmi'\]"):
        c.X(["bmi"])


# ------------------------------------------------------------------------ lesions
def test_baseline_lesions_is_first_timepoint() -> None:
    c = make_cohort(timepoints=True)
    base = c.baseline_lesions()
    assert len(base) == sum(N_LES.values())
    assert (base["timepoint"] == 0).all()
    assert c.n_lesions == 2 * len(base)


def test_baseline_lesions_without_timepoint_is_everything() -> None:
    c = make_cohort()
    assert c.baseline_lesions().equals(c.lesions)


@pytest.mark.parametrize("timepoints", [False, True], ids=["one-timepoint", "two-timepoints"])
def test_baseline_lesions_is_a_copy(timepoints: bool) -> None:
    """Editing the returned table never changes the cohort (and raises no warning)."""
    c = make_cohort(timepoints=timepoints)
    before = c.lesions.copy()
    base = c.baseline_lesions()
    assert base is not c.lesions
    base.loc[base.index[0], "volume_ml"] = -1.0
    base["rad_a"] = 0.0
    pd.testing.assert_frame_equal(c.lesions, before)
    assert c.baseline_lesions().index.tolist() == list(range(sum(N_LES.values())))


def test_take_with_timepoints_moves_every_timepoint() -> None:
    t = make_cohort(timepoints=True).take(["P005", "P005"])
    assert len(t.lesions_of("P005#2")) == 2 * N_LES["P005"]
    assert sorted(t.lesions_of("P005#2")["timepoint"].tolist()) == [0, 0, 1, 1]


def test_patient_only_cohort_has_no_lesions() -> None:
    c = make_cohort()
    po = Cohort(patients=c.patients, endpoints=c.endpoints)
    assert not po.has_lesions and po.n_lesions == 0
    with pytest.raises(SchemaError, match="no lesion table"):
        po.baseline_lesions()
    assert po.take(["P001", "P001"]).lesions is None


def test_lesions_of_unknown_patient() -> None:
    with pytest.raises(SchemaError, match="unknown patient 'P9'"):
        make_cohort().lesions_of("P9")


# ------------------------------------------------------------------ construction
def test_cohort_requires_unique_index_named_patient_id() -> None:
    c = make_cohort()
    with pytest.raises(SchemaError, match="patients must be indexed by 'patient_id'"):
        Cohort(patients=c.patients.reset_index())
    dup = pd.concat([c.patients, c.patients.iloc[[0]]])
    with pytest.raises(SchemaError, match="duplicate patient ids") as info:
        Cohort(patients=dup)
    assert info.value.ids == ["P001"]
    with pytest.raises(SchemaError, match="lesions table lacks 'lesion_id'"):
        Cohort(patients=c.patients, lesions=c.lesions.drop(columns="lesion_id"))


def test_cohort_refuses_lesions_of_unknown_patients() -> None:
    c = make_cohort()
    extra = pd.DataFrame({"patient_id": ["P999", "P999", "P888"],
                          "lesion_id": ["L1", "L2", "L1"], "volume_ml": 1.0, "rad_a": 1.0})
    les = pd.concat([c.lesions, extra], ignore_index=True)
    with pytest.raises(SchemaError, match=r"\[lesions\] column 'patient_id': 3 lesion row\(s\) "
                                          r"belong to patients absent from the patient table: "
                                          r"'P999', 'P888' \(2 in total\).*"
                                          r"exclude_orphan_lesions=True") as info:
        Cohort(patients=c.patients, lesions=les)
    assert info.value.ids == [("P999", "L1"), ("P999", "L2"), ("P888", "L1")]
    assert info.value.column == "patient_id"


def test_custom_column_names() -> None:
    c = make_cohort()
    cols = ColumnNames(patient_id="subject")
    pt = c.patients.rename_axis("subject")
    les = c.lesions.rename(columns={"patient_id": "subject"})
    cc = Cohort(patients=pt, lesions=les, columns=cols)
    t = cc.take(["P001", "P001"])
    assert t.lesions["subject"].tolist()[-3:] == ["P001#2"] * 3


def test_repr_counts() -> None:
    assert repr(make_cohort()) == ("Cohort(5 patients, 8 lesions, endpoints=['os', "
                                   "'response'], 2 patient features, 1 lesion features)")

"""Landmark analysis and status at the landmark: exclusions listed, time re-originated,
no value from after the landmark."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from survrad.data.cohort import Cohort, Endpoint
from survrad.exceptions import SchemaError
from survrad.longitudinal import LandmarkData, landmark, status_at


def patients() -> pd.DataFrame:
    return pd.DataFrame({"os_time": [2.0, 3.0, 8.0, 12.0, 3.5], "os_event": [1, 0, 0, 1, 1],
                         "age": [60.0, 70.0, 55.0, 64.0, 71.0]},
                        index=pd.Index(["P1", "P2", "P3", "P4", "P5"], name="patient_id"))


def scans() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": ["P3", "P3", "P3", "P4", "P4", "P5", "P1"],
        "scan_time": [0.0, 3.0, 6.0, 0.0, 2.5, 0.0, 0.0],
        "sld": [40.0, np.nan, 10.0, 30.0, 35.0, 20.0, 50.0],
        "response": [0, 1, 1, 0, 0, 0, 0]})


def cohort() -> Cohort:
    lesions = pd.DataFrame({"patient_id": ["P1", "P3", "P4", "P4"],
                            "lesion_id": ["L1", "L1", "L1", "L2"], "f": [1.0, 2.0, 3.0, 4.0]})
    excluded = pd.DataFrame({"table": ["patients"], "id": ["P0"], "reason": ["no consent"]})
    return Cohort(patients(), lesions=lesions, patient_features=("age",),
                  endpoints={"os": Endpoint("os", "survival", time="os_time", event="os_event"),
                             "resp": Endpoint("resp", "binary", target="os_event")},
                  excluded=excluded)


def test_status_at_reads_only_scans_up_to_the_landmark():
    got = status_at(scans(), 3.0, ["sld", "response"])
    assert got.index.tolist() == ["P1", "P3", "P4", "P5"]
    assert got.loc["P3", "last_scan_time"] == 3.0
    assert np.isnan(got.loc["P3", "sld"])             # the last scan's own (missing) value
    assert got.loc["P4", "sld"] == 35.0 and got.loc["P3", "response"] == 1
    ever = status_at(scans(), 2.0, ["response"], how="ever", ids=["P3", "P4", "P2"])
    assert ever.index.tolist() == ["P3", "P4", "P2"]
    assert ever["response"].tolist()[:2] == [0, 0] and np.isnan(ever.loc["P2", "response"])
    future = scans()
    future.loc[future["scan_time"] > 3.0, ["sld", "response"]] = [-1.0, 0]
    pd.testing.assert_frame_equal(status_at(future, 3.0, ["sld", "response"]), got)
    with pytest.raises(ValueError, match="landmark_time must be a finite number >= 0"):
        status_at(scans(), -1.0, ["sld"])


def test_landmark_on_a_table_lists_exclusions_and_reoriginates_time():
    lm = landmark(patients(), 3.0, predictors=status_at(scans(), 3.0, ["sld"],
                                                        ids=patients().index))
    assert isinstance(lm, LandmarkData) and lm.predictors == ("sld",)
    assert lm.patients.index.tolist() == ["P3", "P4", "P5"]
    np.testing.assert_array_equal(lm.patients["os_time"], [5.0, 9.0, 0.5])
    assert lm.patients["os_event"].tolist() == [0, 1, 1]
    assert lm.patients["sld"].tolist()[1:] == [35.0, 20.0]
    assert lm.excluded["id"].tolist() == ["P1", "P2"]
    assert lm.excluded["reason"].tolist() == [
        "landmark 3: event at or before the landmark (os_time = 2)",
        "landmark 3: censored at or before the landmark (os_time = 3)"]


def test_landmark_on_a_cohort_returns_a_cohort():
    c = cohort()
    pred = status_at(scans(), 3.0, ["response"], how="ever", ids=c.patient_ids)
    lm = landmark(c, 3.0, predictors=pred)
    assert isinstance(lm, Cohort)
    assert list(lm.patient_ids) == ["P3", "P4", "P5"]
    assert list(lm.endpoints) == ["os"]                  # only the re-originated endpoint
    assert lm.patient_features == ("age", "response")
    np.testing.assert_array_equal(lm.y("os")["time"], [5.0, 9.0, 0.5])
    assert lm.patients["response"].tolist() == [1, 0, 0]
    assert lm.excluded["id"].tolist() == ["P0", "P1", "P2"]   # earlier exclusions kept
    assert sorted(lm.lesions["patient_id"].unique()) == ["P3", "P4"]
    np.testing.assert_array_equal(c.y("os")["time"], patients()["os_time"])  # unchanged


def test_landmark_refuses_future_or_missing_predictors():
    late = status_at(scans(), 6.0, ["sld"])
    with pytest.raises(SchemaError, match="measured after the landmark") as info:
        landmark(patients(), 3.0, predictors=late)
    assert info.value.ids == ["P3"]
    with pytest.raises(SchemaError, match="no row for these patients") as info:
        landmark(patients(), 3.0, predictors=status_at(scans(), 3.0, ["sld"]).drop("P5"))
    assert info.value.ids == ["P5"]
    with pytest.raises(SchemaError, match="already exist"):
        landmark(patients(), 3.0, predictors=patients()[["age"]])
    with pytest.raises(SchemaError, match="no patient is under follow-up"):
        landmark(patients(), 20.0)
    with pytest.raises(SchemaError, match="binary; a landmark analysis needs a survival"):
        landmark(cohort(), 3.0, endpoint="resp")

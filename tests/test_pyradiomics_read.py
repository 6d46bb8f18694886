"""read_pyradiomics on CSVs written by PyRadiomics' own batch command line.

The images and masks are synthetic (tests/radiomics_helpers.py): every lesion's volume
is known exactly, so the volumes read back are checked against the masks, not against
PyRadiomics. Bad inputs are the real CSV edited the way real files go wrong.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("radiomics", reason='needs pip install "survrad[radiomics]"')

from radiomics_helpers import PARAMS_WAVELET, run_pyradiomics_batch, write_cases

import survrad as sr
from survrad.data.pyradiomics import is_feature_name, read_pyradiomics
from survrad.exceptions import ConfigError, ExtractionWarning, SchemaError

N_PATIENTS = 20
PATTERN = r"(?P<patient_id>P\d+)_seg"


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """20 patients with 1-3 lesions (39 in all), and a last batch row asking for a label that is not
    in the mask (PyRadiomics fails on it and writes only the batch columns)."""
    folder = tmp_path_factory.mktemp("pyradiomics")
    cases = write_cases(folder, N_PATIENTS)
    bad = (cases[0]["image"], cases[0]["mask"], 9)
    out = run_pyradiomics_batch(cases, folder, PARAMS_WAVELET, extra_rows=(bad,))
    lines = out.read_text().splitlines(keepends=True)
    clean = folder / "clean.csv"
    clean.write_text("".join(lines[:-1]))
    truth = {(c["patient_id"], str(k)): v for c in cases for k, v in c["volumes"].items()}
    return {"folder": folder, "cases": cases, "with_failure": out, "clean": clean,
            "truth": truth}


def patient_table(lesions: pd.DataFrame) -> pd.DataFrame:
    """Survival that shortens with the patients' mean lesion intensity; 16 events."""
    mean = lesions.groupby("patient_id")["original_firstorder_Mean"].mean()
    z = (mean - mean.mean()) / mean.std()
    rng = np.random.default_rng(1)
    time = 30.0 * np.exp(-0.7 * z.to_numpy()) * rng.exponential(1.0, len(z)) + 1.0
    return pd.DataFrame({"patient_id": z.index, "os_time": time,
                         "os_event": (np.arange(len(z)) % 5 != 4).astype(int)})


# --------------------------------------------------------------------- a clean read
def test_volumes_equal_the_masks_voxel_volumes(batch: dict) -> None:
    table = read_pyradiomics(batch["clean"], id_pattern=PATTERN)
    les = table.lesions
    assert len(les) == len(batch["truth"]) == 39
    assert list(les.columns[:3]) == ["patient_id", "lesion_id", "volume_ml"]
    got = np.array([les.loc[(les.patient_id == p) & (les.lesion_id == k), "volume_ml"].item()
                    for p, k in batch["truth"]])
    want = np.array(list(batch["truth"].values()))   # voxels x 0.8 x 0.7 x 2.5 mm / 1000
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)
    assert table.features == tuple(c for c in les.columns[3:])
    assert all(is_feature_name(c) for c in table.features)
    assert not any(c.startswith("diagnostics_") for c in les.columns)
    assert les[list(table.features)].dtypes.eq(float).all()


def test_diagnostics_and_settings_are_kept_aside(batch: dict) -> None:
    table = read_pyradiomics(batch["clean"], id_pattern=PATTERN)
    diag = table.diagnostics
    assert len(diag) == len(table.lesions)
    assert diag[["patient_id", "lesion_id"]].equals(table.lesions[["patient_id", "lesion_id"]])
    assert {"Image", "Mask", "Label", "diagnostics_Versions_PyRadiomics",
            "diagnostics_Mask-original_VoxelNum"} <= set(diag.columns)
    s = table.settings.set_index("setting")
    assert (s["n_lesions"] == 39).all() and s["center"].isna().all()   # one value each
    assert s.loc["binWidth", "value"] == 5
    assert s.loc["EnabledImageTypes", "value"] == {"Original": {}, "Wavelet": {}}
    assert "label" not in s.index         # the ROI label is not an extraction setting
    assert table.failed.empty


def test_globs_select_pyradiomics_features_in_read_cohort(batch: dict) -> None:
    les = read_pyradiomics(batch["clean"], id_pattern=PATTERN).lesions
    cohort = sr.read_cohort(patient_table(les), les,
                            lesion_features=["original_*", "wavelet-*_glcm_*"])
    feats = cohort.lesion_features
    wavelet_glcm = [c for c in feats if c.startswith("wavelet-")]
    assert len(wavelet_glcm) == 8 * 2      # 8 decompositions x (Contrast, JointEntropy)
    assert all("_glcm_" in c for c in wavelet_glcm)
    assert "original_shape_VoxelVolume" in feats and "original_glcm_Contrast" in feats
    assert "volume_ml" not in feats       # a role column, never matched by a glob
    assert not any(c.startswith("wavelet-") and "_firstorder_" in c for c in feats)


def test_a_study_runs_end_to_end_on_the_extracted_table(batch: dict, tmp_path: Path) -> None:
    les = read_pyradiomics(batch["clean"], id_pattern=PATTERN).lesions
    les.to_csv(tmp_path / "lesions.csv", index=False)
    patient_table(les).to_csv(tmp_path / "patients.csv", index=False)
    cohort = sr.read_cohort(tmp_path / "patients.csv", tmp_path / "lesions.csv",
                            lesion_features=["original_firstorder_*", "original_glcm_*"])
    # pandas' default CSV parser is not round-trip exact in the last digits
    np.testing.assert_allclose(cohort.lesions["volume_ml"], les["volume_ml"], rtol=1e-12)
    pipe = sr.CohortPipeline(
        strategy=sr.lesions.FeatureStatistics(
            stats=("mean",), features=["original_firstorder_Mean", "original_glcm_Contrast"]),
        model=sr.CoxModel(penalty=1.0))
    res = sr.bootstrap_validate(pipe, cohort, "os", n_boot=5, random_state=0, progress=False)
    c = res.summary().set_index("metric").loc["c_index"]
    assert 0.5 < c["apparent"] <= 1.0 and np.isfinite(c["corrected"])


def test_ids_from_a_mapping_table(batch: dict) -> None:
    cases = batch["cases"]
    id_map = pd.DataFrame({"Mask": [str(c["mask"]) for c in cases],
                           "patient_id": [f"S-{c['patient_id']}" for c in cases],
                           "organ": "liver"})
    table = read_pyradiomics(batch["clean"], id_map=id_map)
    assert table.lesions["patient_id"].str.startswith("S-P").all()
    assert (table.lesions["organ"] == "liver").all()
    assert list(table.lesions.columns[:4]) == ["patient_id", "lesion_id", "organ", "volume_ml"]
    # keys on Mask and Label, lesion ids from the map
    full = pd.read_csv(batch["clean"], usecols=["Mask", "Label"])
    full["patient_id"] = "X"
    full["lesion_id"] = [f"L{i}" for i in range(len(full))]
    assert read_pyradiomics(batch["clean"], id_map=full).lesions["lesion_id"].iloc[3] == "L3"


def test_ids_from_several_patterns_and_from_columns(batch: dict) -> None:
    table = read_pyradiomics(batch["clean"], id_pattern={
        "Image": r"(?P<patient_id>P\d+)_img", "Label": r"^(?P<lesion_id>\d+)$"})
    assert table.lesions["lesion_id"].tolist()[:3] == ["1", "1", "2"]
    raw = pd.read_csv(batch["clean"])
    raw.insert(0, "patient_id", raw["Mask"].str.extract(r"(P\d+)_seg")[0])
    raw.insert(1, "lesion_id", "L" + raw["Label"].astype(str))
    direct = read_pyradiomics(raw)
    assert direct.lesions["lesion_id"].iloc[0] == "L1"
    np.testing.assert_array_equal(direct.lesions["volume_ml"], table.lesions["volume_ml"])


def test_timepoint_group_is_numeric(batch: dict, tmp_path: Path) -> None:
    raw = pd.read_csv(batch["clean"])
    raw["Image"] = raw["Image"].str.replace("_img", "_t0_img")
    pattern = {"Image": r"(?P<patient_id>P\d+)_t(?P<timepoint>\d)_img"}
    les = read_pyradiomics(raw, id_pattern=pattern).lesions
    assert les["timepoint"].dtype.kind in "if" and (les["timepoint"] == 0).all()


# ------------------------------------------------------------------------ failures
def test_failed_extraction_is_an_error_naming_it(batch: dict) -> None:
    with pytest.raises(SchemaError, match=r"1 of 40 extraction\(s\) failed") as err:
        read_pyradiomics(batch["with_failure"], id_pattern=PATTERN)
    assert err.value.ids == [("P001", "9")]
    assert "failed='exclude'" in str(err.value)


def test_failed_extraction_excluded_on_request_with_a_warning(batch: dict) -> None:
    with pytest.warns(ExtractionWarning, match="excluded"):
        table = read_pyradiomics(batch["with_failure"], id_pattern=PATTERN, failed="exclude")
    assert len(table.lesions) == 39
    assert table.failed[["patient_id", "lesion_id", "Label"]].values.tolist() == [
        ["P001", "9", "9"]]   # Label read as text: it gives the lesion ids


# ------------------------------------------------------------------------ settings
def _mixed(batch: dict, tmp_path: Path, old: str, new: str, rows: slice) -> Path:
    """The clean CSV with ``old`` replaced by ``new`` in the given data rows."""
    lines = batch["clean"].read_text().splitlines(keepends=True)
    body = lines[1:]
    body[rows] = [line.replace(old, new) for line in body[rows]]
    assert any(new in line for line in body)
    path = tmp_path / "mixed.csv"
    path.write_text(lines[0] + "".join(body))
    return path


def test_mixed_settings_are_an_error(batch: dict, tmp_path: Path) -> None:
    path = _mixed(batch, tmp_path, "'binWidth': 5", "'binWidth': 25", slice(30, None))
    with pytest.raises(SchemaError, match=r"differ between rows: binWidth: 5 \(30 lesions\), "
                                          r"25 \(9 lesions\)") as err:
        read_pyradiomics(path, id_pattern=PATTERN)
    assert len(err.value.ids) == 9 and err.value.column == "diagnostics_Configuration_Settings"
    with pytest.warns(ExtractionWarning, match="allow_mixed_settings=True"):
        table = read_pyradiomics(path, id_pattern=PATTERN, allow_mixed_settings=True)
    bw = table.settings[table.settings["setting"] == "binWidth"]
    assert bw[["value", "n_lesions"]].values.tolist() == [[5, 30], [25, 9]]


def test_mixed_versions_are_an_error(batch: dict, tmp_path: Path) -> None:
    path = _mixed(batch, tmp_path, ",v3.", ",v2.", slice(0, 1))
    with pytest.raises(SchemaError, match="Versions_PyRadiomics"):
        read_pyradiomics(path, id_pattern=PATTERN)


def test_settings_differing_between_centres_give_a_named_warning(batch: dict,
                                                                  tmp_path: Path) -> None:
    les = read_pyradiomics(batch["clean"], id_pattern=PATTERN).lesions
    last_ten = les.index >= 30
    centre_b = set(les.loc[last_ten, "patient_id"])
    if set(les.loc[~last_ten, "patient_id"]) & centre_b:   # a patient split between
        pytest.fail("the slice must not cut a patient")       # centres: fix the test data
    path = _mixed(batch, tmp_path, "'binWidth': 5", "'binWidth': 25", slice(30, None))
    centers = {p: "B" if p in centre_b else "A" for p in les["patient_id"]}
    with pytest.warns(ExtractionWarning, match=r"differ between centres: binWidth \(A: 5, "
                                               r"B: 25\)"):
        table = read_pyradiomics(path, id_pattern=PATTERN, centers=centers)
    bw = table.settings[table.settings["setting"] == "binWidth"]
    assert bw[["center", "value"]].values.tolist() == [["A", 5], ["B", 25]]
    # within a centre, a difference is still an error
    centers_mixed = {p: "A" for p in les["patient_id"]}
    with pytest.raises(SchemaError, match="within a centre"):
        read_pyradiomics(path, id_pattern=PATTERN, centers=centers_mixed)
    # a centre missing for a patient is an error too
    with pytest.raises(SchemaError, match="without a centre"):
        read_pyradiomics(path, id_pattern=PATTERN, centers={"P001": "A"})


def test_centres_from_a_mapping_column(batch: dict, tmp_path: Path) -> None:
    cases = batch["cases"]
    id_map = pd.DataFrame({"Mask": [str(c["mask"]) for c in cases],
                           "patient_id": [c["patient_id"] for c in cases],
                           "center": ["A"] * 10 + ["B"] * 10})
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # same settings in both centres: no warning
        table = read_pyradiomics(batch["clean"], id_map=id_map, centers="center")
    assert set(table.settings["center"]) == {"A", "B"}
    with pytest.raises(SchemaError, match="neither a batch column"):
        read_pyradiomics(batch["clean"], id_map=id_map, centers="site")


def test_no_diagnostics_columns_warns_that_settings_are_unchecked(batch: dict) -> None:
    raw = pd.read_csv(batch["clean"])
    raw = raw[[c for c in raw.columns if not c.startswith("diagnostics_")]]
    with pytest.warns(ExtractionWarning, match="cannot be checked"):
        table = read_pyradiomics(raw, id_pattern=PATTERN)
    assert table.settings.empty and len(table.lesions) == 39


# -------------------------------------------------------------------------- ids
def test_id_pattern_that_matches_nothing(batch: dict) -> None:
    with pytest.raises(SchemaError, match=r"matches no value \(searched with re.search\)") \
            as err:
        read_pyradiomics(batch["clean"], id_pattern=r"(?P<patient_id>PAT-\d+)")
    assert err.value.column == "Mask" and len(err.value.values) == 39


def test_id_pattern_that_misses_some_rows(batch: dict) -> None:
    with pytest.raises(SchemaError, match="does not match 1 of 39 values"):
        read_pyradiomics(batch["clean"], id_pattern=r"(?P<patient_id>P0(?!01)\d\d)_seg")


def test_id_pattern_needs_a_patient_group_and_a_lesion_source(batch: dict) -> None:
    with pytest.raises(ConfigError, match=r"\(\?P<patient_id>"):
        read_pyradiomics(batch["clean"], id_pattern=r"(?P<patient>P\d+)")
    raw = pd.read_csv(batch["clean"]).drop(columns="Label")
    with pytest.raises(SchemaError, match="no 'Label' column"):
        read_pyradiomics(raw, id_pattern=PATTERN)
    with pytest.raises(ConfigError, match=r"id_map= .* or id_pattern="):
        read_pyradiomics(batch["clean"])
    with pytest.raises(ConfigError, match="not both"):
        read_pyradiomics(batch["clean"], id_pattern=PATTERN, id_map=pd.DataFrame())
    with pytest.raises(SchemaError, match="not a batch column"):
        read_pyradiomics(batch["clean"], id_pattern={"Path": PATTERN})


def test_duplicated_patient_and_lesion(batch: dict) -> None:
    # a pattern that gives every case the same patient: label 1 appears 20 times
    with pytest.raises(SchemaError, match=r"duplicate lesion rows for \(patient_id, "
                                          r"lesion_id\)") as err:
        read_pyradiomics(batch["clean"], id_pattern=r"(?P<patient_id>P)\d+_seg")
    assert ("P", "1") in err.value.ids


def test_mapping_table_errors(batch: dict) -> None:
    cases = batch["cases"]
    id_map = pd.DataFrame({"Mask": [str(c["mask"]) for c in cases[1:]],
                           "patient_id": [c["patient_id"] for c in cases[1:]]})
    with pytest.raises(SchemaError, match=r"1 of 39 row.* no row in the mapping table"):
        read_pyradiomics(batch["clean"], id_map=id_map)
    doubled = pd.concat([id_map, id_map.iloc[:1]])
    with pytest.raises(SchemaError, match="several rows for the same key"):
        read_pyradiomics(batch["clean"], id_map=doubled)
    with pytest.raises(SchemaError, match="shares no column"):
        read_pyradiomics(batch["clean"], id_map=id_map.rename(columns={"Mask": "path"}))


# ----------------------------------------------------------------- other bad input
def test_not_a_pyradiomics_table(batch: dict, tmp_path: Path) -> None:
    raw = pd.read_csv(batch["clean"])
    with pytest.raises(SchemaError, match="no 'Image' column: not a PyRadiomics batch"):
        read_pyradiomics(raw.drop(columns="Image"), id_pattern=PATTERN)
    only_inputs = raw[["Image", "Mask", "Label", "diagnostics_Versions_Numpy"]]
    with pytest.raises(SchemaError, match="no PyRadiomics feature column"):
        read_pyradiomics(only_inputs, id_pattern=PATTERN)
    with pytest.raises(SchemaError, match="no 'original_shape_VoxelVolume' column"):
        read_pyradiomics(raw.drop(columns="original_shape_VoxelVolume"), id_pattern=PATTERN)
    no_volume = read_pyradiomics(raw.drop(columns="original_shape_VoxelVolume"),
                                 id_pattern=PATTERN, volume=None)
    assert "volume_ml" not in no_volume.lesions
    mesh = read_pyradiomics(raw, id_pattern=PATTERN, volume="MeshVolume").lesions
    assert (mesh["volume_ml"] * 1000 == raw["original_shape_MeshVolume"]).all()


def test_two_batch_runs_appended_to_one_file(batch: dict, tmp_path: Path) -> None:
    # PyRadiomics opens -o FILE for appending: a second run repeats the header as data
    path = tmp_path / "twice.csv"
    text = batch["clean"].read_text()
    path.write_text(text + text)
    with pytest.raises(SchemaError, match=r"header appears again as data \(row positions 39 "
                                          r"\(1 in total\), 0-based\): PyRadiomics appends"):
        read_pyradiomics(path, id_pattern=PATTERN)


def test_a_text_cell_in_a_feature_column_is_an_error(batch: dict, tmp_path: Path) -> None:
    path = tmp_path / "copy.csv"
    shutil.copy(batch["clean"], path)
    raw = pd.read_csv(path)
    raw["original_glcm_Contrast"] = raw["original_glcm_Contrast"].astype(object)
    raw.loc[3, "original_glcm_Contrast"] = "<0.5"
    with pytest.raises(SchemaError, match="non-numeric values") as err:
        read_pyradiomics(raw, id_pattern=PATTERN)
    assert err.value.column == "original_glcm_Contrast"

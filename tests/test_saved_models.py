"""Saved pipelines and ``predict_command`` (issue 14): round trip, a fresh process gives
byte-identical predictions, named refusals (column set, major version, changed pickle,
outputs over inputs), no patient rows in the saved file."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import survrad as sr
from survrad.exceptions import ConfigError, NotFittedError, SchemaError
from survrad.features.combat import ComBat
from survrad.features.scale import Standardize
from survrad.lesions.lesion_risk import LesionRiskAggregation
from survrad.lesions.statistics import FeatureStatistics
from survrad.models.persistence import column_contract, load_pipeline, read_manifest
from survrad.predict import predict_command

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cohort() -> sr.Cohort:
    return sr.simulate_cohort(n_patients=150, random_state=5, mean_lesions=3.0,
                              n_signal_features=3, n_volume_features=0, n_noise_features=2)


@pytest.fixture(scope="module")
def saved(cohort, tmp_path_factory) -> tuple[Path, sr.CohortPipeline]:
    root = tmp_path_factory.mktemp("saved")
    pipe = sr.CohortPipeline(patient_features=["age", "ecog", "pdl1"]).fit(cohort, "os")
    return pipe.save(root / "model", cohort, horizons=[6, 12]), pipe


def _write(cohort: sr.Cohort, folder: Path, drop: tuple[str, ...] = ()) -> tuple[Path, Path]:
    p = cohort.patients.reset_index().drop(columns=list(drop))
    p.to_csv(folder / "patients.csv", index=False)
    cohort.lesions.to_csv(folder / "lesions.csv", index=False)
    return folder / "patients.csv", folder / "lesions.csv"


def test_manifest_holds_contract_versions_and_no_rows(saved, cohort):
    folder, _ = saved
    manifest = read_manifest(folder)
    assert manifest["contract"]["patient_columns"] == ["age", "ecog", "pdl1"]
    assert manifest["contract"]["endpoint"] == {"name": "os", "kind": "survival",
                                                "time": "os_time", "event": "os_event",
                                                "target": None}
    assert manifest["versions"]["survrad"] == sr.models.persistence.versions()["survrad"]
    assert manifest["horizons"] == [6.0, 12.0]
    assert manifest["training"]["n_patients"] == 150
    blob = (folder / "pipeline.pkl").read_bytes()
    for pid in cohort.patient_ids[:20]:          # no patient id travels in the file
        assert pid.encode() not in blob
    times = cohort.patients["os_time"].to_numpy()
    restored = pickle.loads(blob)
    arrays = [v for v in vars(restored.model_).values() if isinstance(v, np.ndarray)]
    assert not any(a.size >= cohort.n_patients and np.isin(times, a).mean() > 0.9
                   for a in arrays if a.dtype.kind == "f")


@pytest.mark.slow
def test_round_trip_and_fresh_process_byte_identical(cohort, tmp_path):
    # a demo-like pipeline: lesion statistics, ComBat, scaling, Cox with patient covariates
    pipe = sr.CohortPipeline(
        strategy=FeatureStatistics(stats=("mean", "max"),
                                   features=["rad_sig_01", "rad_sig_02", "rad_sig_03"]),
        features=[ComBat(batch_col="center"), Standardize()], model=sr.CoxModel(),
        patient_features=["age", "ecog"]).fit(cohort, "os")
    folder = pipe.save(tmp_path / "model", cohort, horizons=[6, 12])
    patients, lesions = _write(cohort, tmp_path)
    here = predict_command(folder, patients, lesions, out=tmp_path / "here.csv")
    code = ("import sys; from survrad.predict import predict_command; "
            "predict_command(sys.argv[1], sys.argv[2], sys.argv[3], out=sys.argv[4])")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0"}
    subprocess.run([sys.executable, "-c", code, str(folder), str(patients), str(lesions),
                    str(tmp_path / "fresh.csv")], check=True, env=env, cwd=tmp_path)
    assert here == [tmp_path / "here.csv"]
    assert (tmp_path / "here.csv").read_bytes() == (tmp_path / "fresh.csv").read_bytes()
    table = pd.read_csv(tmp_path / "here.csv")
    assert list(table.columns) == ["patient_id", "risk", "survival@6", "survival@12"]
    assert np.allclose(table["risk"], pipe.predict_risk(cohort).to_numpy(), rtol=1e-15)
    assert np.allclose(table["survival@12"],
                       pipe.predict_survival_function(cohort, [12.0])[12.0].to_numpy())


def test_round_trip_in_process(saved, cohort, tmp_path):
    folder, pipe = saved
    again = load_pipeline(folder)
    assert again.predict_risk(cohort).equals(pipe.predict_risk(cohort))
    patients, _ = _write(cohort, tmp_path)
    out = predict_command(folder, patients, out=tmp_path / "p.csv")[0]
    assert pd.read_csv(out)["risk"].to_numpy() == pytest.approx(
        pipe.predict_risk(cohort).to_numpy(), rel=1e-15)


def test_changed_column_set_is_refused(saved, cohort, tmp_path):
    folder, _ = saved
    patients, _ = _write(cohort, tmp_path, drop=("pdl1",))
    with pytest.raises(SchemaError) as err:
        predict_command(folder, patients, out=tmp_path / "p.csv")
    assert err.value.column == "pdl1" and "patients.csv" in err.value.file
    assert not (tmp_path / "p.csv").exists()
    with pytest.raises(SchemaError) as err:
        load_pipeline(folder, cohort=dataclasses.replace(
            cohort, patients=cohort.patients.drop(columns=["ecog"])))
    assert err.value.column == "ecog" and err.value.values == ["ecog"]


def _copy_model(folder: Path, dest: Path) -> Path:
    dest.mkdir()
    for f in ("pipeline.pkl", "manifest.json"):
        (dest / f).write_bytes((folder / f).read_bytes())
    return dest


def test_other_major_version_is_refused(saved, tmp_path):
    model = _copy_model(saved[0], tmp_path / "model")
    manifest = json.loads((model / "manifest.json").read_text())
    major = int(manifest["versions"]["survrad"].split(".")[0])
    manifest["versions"]["survrad"] = f"{major + 1}.0.0"
    (model / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="major version") as err:
        load_pipeline(model)
    assert err.value.key == "versions.survrad"


def test_changed_pickle_is_not_unpickled(saved, tmp_path):
    model = _copy_model(saved[0], tmp_path / "model")
    blob = bytearray((model / "pipeline.pkl").read_bytes())
    blob[-2] ^= 1
    (model / "pipeline.pkl").write_bytes(bytes(blob))
    with pytest.raises(ConfigError, match="NOT loaded") as err:
        load_pipeline(model)
    assert err.value.key == "pipeline_sha256"
    with pytest.raises(ConfigError, match="not the expected"):
        load_pipeline(saved[0], expected_sha256="0" * 64)
    digest = read_manifest(saved[0])["pipeline_sha256"]
    assert load_pipeline(saved[0], expected_sha256=digest).endpoint_ == "os"


def test_edited_contract_is_refused(saved, tmp_path):
    model = _copy_model(saved[0], tmp_path / "model")
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["contract"]["feature_names_out"] = ["age", "ecog"]
    (model / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="feature_names_out"):
        load_pipeline(model)


def test_outputs_never_overwrite_inputs(saved, cohort, tmp_path):
    folder, _ = saved
    patients, _ = _write(cohort, tmp_path)
    before = patients.read_bytes()
    for target in (patients, folder / "manifest.json"):
        with pytest.raises(ConfigError, match="input"):
            predict_command(folder, patients, out=target, force=True)
    assert patients.read_bytes() == before
    out = tmp_path / "p.csv"
    predict_command(folder, patients, out=out)
    with pytest.raises(ConfigError, match="exists"):
        predict_command(folder, patients, out=out)
    assert predict_command(folder, patients, out=out, force=True) == [out]
    with pytest.raises(ConfigError, match="folder"):
        predict_command(folder, patients, out=tmp_path)


def test_lesion_strategy_writes_lesion_scores(cohort, tmp_path):
    pipe = sr.CohortPipeline(strategy=LesionRiskAggregation(penalty=0.1),
                             patient_features=()).fit(cohort, "os")
    model = pipe.save(tmp_path / "model", cohort, horizons=[12])
    patients, lesions = _write(cohort, tmp_path)
    written = predict_command(model, patients, lesions, out=tmp_path / "pred.csv")
    assert [p.name for p in written] == ["pred.csv", "pred_lesions.csv"]
    les = pd.read_csv(written[1])
    assert list(les.columns[:2]) == ["patient_id", "lesion_id"] and len(les) == cohort.n_lesions
    table = pd.read_csv(written[0])
    assert np.allclose(table["risk"], pipe.predict_risk(cohort).to_numpy())
    with pytest.raises(SchemaError, match="lesion"):
        predict_command(model, patients, out=tmp_path / "x.csv")


def test_save_refuses_an_existing_folder(saved, cohort):
    folder, pipe = saved
    with pytest.raises(ConfigError, match="exists"):
        pipe.save(folder, cohort)
    assert pipe.save(folder, cohort, horizons=[6, 12], force=True) == folder


def test_unfitted_pipeline_has_no_contract(cohort):
    with pytest.raises(NotFittedError, match="fit"):
        column_contract(sr.CohortPipeline(patient_features=["age"]), cohort)

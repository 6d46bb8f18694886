"""`survrad fit` and `survrad predict` (issue 14): a study's pipelines saved into
``OUT/model/`` with ``index.json``, new patients scored byte-identically to the Python API,
and exit code 2 with a named message for a bad model path, a changed column set, an output
that exists or an output folder survrad did not write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

import survrad as sr
from survrad._validation import seed_unseeded
from survrad.cli import main
from survrad.fit import fit_command
from survrad.predict import predict_command, predict_frame
from survrad.study import load_study

STUDY = """
title = "fit and predict"
random_state = 7
[data]
patients = "patients.csv"
lesions = "lesions.csv"
patient_features = ["age", "ecog"]
lesion_features = ["rad_sig_*"]
[endpoints.os]
kind = "survival"
time = "os_time"
event = "os_event"
horizons = [6, 12]
[[strategies]]
name = "C_mean"
method = "statistics"
stats = ["mean"]
[models.cox]
penalty = 0.05
"""
NAMES = ["os_clinical_cox", "os_burden_cox", "os_C_mean_cox"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fitpredict")
    data = root / "data"
    data.mkdir()
    c = sr.simulate_cohort(n_patients=80, random_state=4, n_noise_features=2)
    c.patients.reset_index().to_csv(data / "patients.csv", index=False)
    c.lesions.to_csv(data / "lesions.csv", index=False)
    study = data / "study.toml"
    study.write_text(STUDY, encoding="utf-8")
    new = sr.simulate_cohort(n_patients=50, random_state=11, n_noise_features=2)
    patients = new.patients.reset_index().drop(columns=["os_time", "os_event"])
    patients["split"] = "new"    # a split label predict does not read: never refused
    patients.to_csv(root / "new_patients.csv", index=False)
    new.lesions.to_csv(root / "new_lesions.csv", index=False)
    out = root / "fitted"
    assert main(["fit", str(study), "--out", str(out)]) == 0
    return {"root": root, "study": study, "out": out, "model": out / "model",
            "patients": root / "new_patients.csv", "lesions": root / "new_lesions.csv"}


def _predict(f: dict[str, Path], out: Path, *extra: str) -> int:
    return main(["predict", str(f["model"]), "--patients", str(f["patients"]), "--lesions",
                 str(f["lesions"]), "--out", str(out), *extra])


def test_fit_writes_every_pipeline_and_an_index(fitted):
    index = json.loads((fitted["model"] / "index.json").read_text("utf-8"))
    assert [p["name"] for p in index["pipelines"]] == NAMES
    first = index["pipelines"][0]
    assert (first["endpoint"], first["strategy"], first["model"], first["kind"]) == (
        "os", "clinical", "cox", "survival")
    assert index["horizons"] == {"os": [6.0, 12.0]} and index["random_state"] == 7
    for entry in index["pipelines"]:
        manifest = sr.models.persistence.read_manifest(fitted["model"] / entry["folder"])
        assert manifest["pipeline_sha256"] == entry["pipeline_sha256"]
        assert manifest["horizons"] == [6.0, 12.0]
    assert (fitted["out"] / ".survrad-output.json").is_file()     # a survrad folder


def test_saved_models_are_the_study_pipelines_fitted_on_the_cohort(fitted):
    plan = load_study(fitted["study"])
    seed = np.random.SeedSequence(7)    # the validation engine's whole-cohort fit
    for strategy in ("clinical", "C_mean"):
        mine = seed_unseeded(clone(plan.pipelines["os"]["cox"][strategy]), seed).fit(
            plan.cohort, "os")
        saved = sr.load_pipeline(fitted["model"] / f"os_{strategy}_cox")
        assert np.array_equal(saved.model_.coef_, mine.model_.coef_)


def test_predict_is_byte_identical_to_the_python_api(fitted, tmp_path):
    out = tmp_path / "predictions.csv"
    assert _predict(fitted, out, "--pipeline", "os_C_mean_cox") == 0
    # Python: the same pipeline fitted on the study cohort, scored with predict_frame
    plan = load_study(fitted["study"])
    pipe = plan.pipelines["os"]["cox"]["C_mean"]
    model = seed_unseeded(clone(pipe), np.random.SeedSequence(7)).fit(plan.cohort, "os")
    new = sr.read_cohort(fitted["patients"], fitted["lesions"],
                         patient_features=["age", "ecog"], lesion_features=["rad_sig_*"],
                         endpoints={}, split_values=None)
    table, _ = predict_frame(model, new, [6.0, 12.0])
    assert out.read_bytes() == table.to_csv(index=False, lineterminator="\n").encode()
    assert list(table.columns) == ["patient_id", "risk", "survival@6", "survival@12"]
    again = tmp_path / "again.csv"
    predict_command(fitted["model"], fitted["patients"], fitted["lesions"], again,
                    pipeline="os_C_mean_cox")
    assert again.read_bytes() == out.read_bytes()


def test_predict_accepts_a_saved_model_folder_or_its_manifest(fitted, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["predict", str(fitted["model"] / "os_clinical_cox"), "--patients",
                 str(fitted["patients"]), "--out", str(a)]) == 0
    assert main(["predict", str(fitted["model"] / "os_clinical_cox" / "manifest.json"),
                 "--patients", str(fitted["patients"]), "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    c = tmp_path / "c.csv"   # the folder `survrad fit` wrote, with --pipeline
    assert main(["predict", str(fitted["out"]), "--pipeline", "os_clinical_cox",
                 "--patients", str(fitted["patients"]), "--out", str(c)]) == 0
    assert c.read_bytes() == a.read_bytes()


def test_predict_refuses_an_existing_output_unless_forced(fitted, tmp_path, capsys):
    out = tmp_path / "p.csv"
    out.write_text("mine\n")
    assert _predict(fitted, out, "--pipeline", "os_burden_cox") == 2
    assert "exists" in capsys.readouterr().err and out.read_text() == "mine\n"
    assert _predict(fitted, out, "--pipeline", "os_burden_cox", "--force") == 0
    assert out.read_text().startswith("patient_id,risk,")


@pytest.mark.parametrize(("model", "pipeline", "message"), [
    ("nowhere", None, "no such file or folder"),
    ("model", None, "holds 3 pipelines; choose one with --pipeline"),
    ("model", "os_C_men_cox", "Did you mean 'os_C_mean_cox'"),
    ("model/os_clinical_cox", "os_clinical_cox", "is a single saved model"),
    ("model/index.json", None, "is not a saved model"),
])
def test_bad_model_path_exits_2_naming_it(fitted, tmp_path, capsys, model, pipeline, message):
    argv = ["predict", str(fitted["out"] / model), "--patients", str(fitted["patients"]),
            "--lesions", str(fitted["lesions"]), "--out", str(tmp_path / "p.csv")]
    assert main(argv + (["--pipeline", pipeline] if pipeline else [])) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists()


def test_changed_columns_exit_2_naming_the_column(fitted, tmp_path, capsys):
    import pandas as pd

    p = pd.read_csv(fitted["patients"], dtype={"patient_id": str}).drop(columns=["ecog"])
    p.to_csv(tmp_path / "no_ecog.csv", index=False)
    out = tmp_path / "p.csv"
    assert main(["predict", str(fitted["model"]), "--pipeline", "os_clinical_cox",
                 "--patients", str(tmp_path / "no_ecog.csv"), "--out", str(out)]) == 2
    assert "'ecog'" in capsys.readouterr().err and not out.exists()
    les = pd.read_csv(fitted["lesions"], dtype={"patient_id": str, "lesion_id": str})
    les.drop(columns=["rad_sig_02"]).to_csv(tmp_path / "les.csv", index=False)
    assert main(["predict", str(fitted["model"]), "--pipeline", "os_C_mean_cox",
                 "--patients", str(fitted["patients"]), "--lesions",
                 str(tmp_path / "les.csv"), "--out", str(out)]) == 2
    assert "rad_sig_02" in capsys.readouterr().err and not out.exists()


def test_fit_output_folder_rules(fitted, tmp_path, capsys):
    study = str(fitted["study"])
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert main(["fit", study, "--out", str(mine), "--force"]) == 2   # not survrad's
    assert "no survrad marker" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "keep me"
    assert main(["fit", study, "--out", str(fitted["study"].parent)]) == 2   # holds inputs
    assert "input" in capsys.readouterr().err
    assert main(["fit", study, "--out", str(fitted["out"])]) == 2           # exists
    assert "--force" in capsys.readouterr().err
    before = (fitted["model"] / "index.json").read_bytes()
    assert main(["fit", study, "--out", str(fitted["out"]), "--force"]) == 0
    assert (fitted["model"] / "index.json").read_bytes() == before   # same study, same files


def test_fit_bad_study_exits_2(fitted, tmp_path, capsys):
    bad = fitted["study"].parent / "bad.toml"
    bad.write_text(STUDY.replace("[models.cox]", "[models.coxx]"), encoding="utf-8")
    assert main(["fit", str(bad), "--out", str(tmp_path / "m")]) == 2
    assert "models.coxx" in capsys.readouterr().err and not (tmp_path / "m").exists()


def test_fit_command_python_api_refuses_before_work(fitted):
    with pytest.raises(sr.exceptions.ConfigError, match="exists"):
        fit_command(fitted["study"], fitted["out"])

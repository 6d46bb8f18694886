"""The `survrad` command: simulate, check, exit codes 0 / 2 / 1."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from survrad.cli import main

ROOT = Path(__file__).resolve().parents[1]
LUNG_STUDY = ROOT / "analyses" / "lung" / "study.toml"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "data"
    assert main(["simulate", "--n-patients", "120", "--random-state", "3", "--out", str(out)]) == 0
    return out


def test_simulate_writes_tables_and_truth(sim: Path) -> None:
    names = sorted(p.name for p in sim.iterdir())
    assert {"patients.csv", "lesions.csv", "truth_patients.csv", "truth_lesions.csv"} <= set(names)
    pats = pd.read_csv(sim / "patients.csv", dtype={"patient_id": str})
    assert len(pats) == 120 and pats["patient_id"].iloc[0] == "P001"


def test_simulate_refuses_to_overwrite_without_force(sim: Path, capsys) -> None:
    before = (sim / "patients.csv").read_bytes()
    assert main(["simulate", "--n-patients", "50", "--out", str(sim)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (sim / "patients.csv").read_bytes() == before


def test_simulate_force_replaces_and_is_reproducible(sim: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(sim, copy)
    argv = ["simulate", "--n-patients", "120", "--random-state", "3", "--out", str(copy)]
    assert main([*argv, "--force"]) == 0
    for name in ("patients.csv", "lesions.csv"):
        assert (copy / name).read_bytes() == (sim / name).read_bytes()


def test_check_clean_data_prints_summary(sim: Path, capsys) -> None:
    code = main(["check", "--patients", str(sim / "patients.csv"), "--lesions",
                 str(sim / "lesions.csv"), "--lesion-features", "rad_sig_*"])
    out = capsys.readouterr().out
    assert code == 0
    assert "patients: 120" in out and "endpoint os" in out and "lesion features (8)" in out


def _write_bad(sim: Path, tmp_path: Path, kind: str) -> tuple[Path, Path]:
    pats = pd.read_csv(sim / "patients.csv", dtype={"patient_id": str})
    les = pd.read_csv(sim / "lesions.csv", dtype={"patient_id": str, "lesion_id": str})
    if kind == "events-1-2":
        pats["os_event"] = pats["os_event"] + 1
    elif kind == "duplicate-patient":
        pats = pd.concat([pats, pats.iloc[[4]]])
    elif kind == "orphan-lesion":
        extra = les.iloc[[0]].assign(patient_id="P999", lesion_id="P999-L01")
        les = pd.concat([les, extra])
    elif kind == "text-in-feature":
        les["rad_sig_01"] = les["rad_sig_01"].astype(object)
        les.loc[2, "rad_sig_01"] = "<0.5"
    elif kind == "negative-time":
        pats.loc[6, "os_time"] = -3.0
    p, lpath = tmp_path / "patients.csv", tmp_path / "lesions.csv"
    pats.to_csv(p, index=False)
    les.to_csv(lpath, index=False)
    return p, lpath


@pytest.mark.parametrize(("kind", "needles"), [
    ("events-1-2", ["os_event", "1=censored/2=dead", "P001"]),
    ("duplicate-patient", ["patient_id", "P005"]),
    ("orphan-lesion", ["patient_id", "P999"]),
    ("text-in-feature", ["rad_sig_01", "<0.5", "P001"]),
    ("negative-time", ["os_time", "P007", "-3"]),
])
def test_check_exits_2_naming_column_and_ids(sim: Path, tmp_path: Path, capsys, kind: str,
                                             needles: list[str]) -> None:
    p, lpath = _write_bad(sim, tmp_path, kind)
    code = main(["check", "--patients", str(p), "--lesions", str(lpath),
                 "--lesion-features", "rad_*"])
    err = capsys.readouterr().err
    assert code == 2, err
    for needle in needles:
        assert needle in err, (needle, err)


def test_check_without_feature_flags_validates_every_lesion_feature(sim: Path,
                                                                   tmp_path: Path) -> None:
    """The exact command `survrad check --patients P --lesions L`: a '<0.5' cell exits 2."""
    p, lpath = _write_bad(sim, tmp_path, "text-in-feature")
    exe = Path(sys.executable).with_name("survrad")
    proc = subprocess.run([exe, "check", "--patients", str(p), "--lesions", str(lpath)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert re.search(r"error: \[.*lesions\.csv\] column 'rad_sig_01': non-numeric values "
                     r"'<0\.5' \(1 in total\).*ids: \('P001', 'P001-L03'\) \(1 in total\)",
                     proc.stderr), proc.stderr
    assert "--lesion-features 'rad_*'" in proc.stderr   # how to check fewer columns


def test_check_without_feature_flags_lists_what_it_checked(sim: Path, capsys) -> None:
    code = main(["check", "--patients", str(sim / "patients.csv"), "--lesions",
                 str(sim / "lesions.csv")])
    out = capsys.readouterr().out
    assert code == 0
    assert "lesion features (32): rad_sig_01, rad_sig_02" in out        # every rad_ column
    assert ("lesion columns not checked as features (8): organ, volume_ml, "
            "longest_diameter_mm, is_target, irradiated, rt_dose_gy, diameter_followup_mm, "
            "lesion_response") in out
    assert ("patient columns not checked as features (5): age, ecog, pdl1, center, "
            "best_response") in out
    assert "pass --patient-features" in out


def test_check_named_patient_features_are_validated(sim: Path, tmp_path: Path,
                                                    capsys) -> None:
    pats = pd.read_csv(sim / "patients.csv", dtype={"patient_id": str})
    pats["age"] = pats["age"].astype(object)
    pats.loc[3, "age"] = "<0.5"
    p = tmp_path / "patients.csv"
    pats.to_csv(p, index=False)
    assert main(["check", "--patients", str(p)]) == 0         # not named: listed, not checked
    assert "patient columns not checked as features (5): age," in capsys.readouterr().out
    assert main(["check", "--patients", str(p), "--patient-features", "age"]) == 2
    assert re.search(r"column 'age': non-numeric values '<0\.5'.*ids: 'P004'",
                     capsys.readouterr().err)


def test_check_text_lesion_column_hints_at_naming_features(sim: Path, tmp_path: Path,
                                                          capsys) -> None:
    les = pd.read_csv(sim / "lesions.csv", dtype={"patient_id": str, "lesion_id": str})
    les["scanner"] = "GE"
    lpath = tmp_path / "lesions.csv"
    les.to_csv(lpath, index=False)
    assert main(["check", "--patients", str(sim / "patients.csv"), "--lesions",
                 str(lpath)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"column 'scanner': non-numeric values 'GE'.*Without "
                     r"--lesion-features, every lesion column that is not an id", err), err
    assert main(["check", "--patients", str(sim / "patients.csv"), "--lesions", str(lpath),
                 "--lesion-features", "rad_*"]) == 0


def test_check_study_reads_its_data_with_the_event_map(capsys) -> None:
    """analyses/lung: R's status 1/2 recoded by the study's event_map; exit 0."""
    code = main(["check", "--study", str(LUNG_STUDY)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = captured.out
    assert f"study: {LUNG_STUDY}" in out
    assert "patients: 227" in out
    assert "endpoint os (survival: time, status): 164 events, 63 censored" in out
    assert "patient features (3): age, sex, ph_ecog" in out


OS = '[endpoints.os]\nkind = "survival"\ntime = "time"\nevent = "status"\n'


def _study(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.toml"
    data = (LUNG_STUDY.parent / "lung_patients.csv").as_posix()
    path.write_text(text.replace("DATA", data), encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "pattern"), [
    ('[data]\npatients = "DATA"\npatient_features = ["age"]\n[endpoints.os]\n'
     'kind = "survival"\ntime = "time"\nevent = "status"\n[models.cox]\n',
     r"column 'status': event must be coded exactly 0/1 .*looks like 1=censored/2=dead"),
    ('[data]\npatients = "DATA"\npatient_feature = ["age"]\n' + OS,
     r"study\.toml\] key 'data\.patient_feature': unknown key\. Did you mean "
     r"'patient_features'"),
    ('[data]\npatients = "missing.csv"\n' + OS,
     r"key 'data\.patients': file not found: .*missing\.csv.*relative to the study file"),
    ('title = "x"\n[data\n', r"study\.toml\] not valid TOML"),
], ids=["event-coding", "unknown-key", "missing-data-file", "bad-toml"])
def test_check_bad_study_exits_2(tmp_path: Path, capsys, text: str, pattern: str) -> None:
    code = main(["check", "--study", str(_study(tmp_path, text))])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert re.search(pattern, err), err


def test_check_study_strict_turns_warnings_into_errors(sim: Path, tmp_path: Path,
                                                       capsys) -> None:
    pats = pd.read_csv(sim / "patients.csv", dtype={"patient_id": str})
    pats.loc[2, "os_time"] = 0.0                                   # allowed, with a warning
    pats.to_csv(tmp_path / "patients.csv", index=False)
    study = tmp_path / "study.toml"
    study.write_text('[data]\npatients = "patients.csv"\npatient_features = ["age"]\n'
                     '[endpoints.os]\nkind = "survival"\ntime = "os_time"\n'
                     'event = "os_event"\n[models.cox]\n', encoding="utf-8")
    assert main(["check", "--study", str(study), "--strict"]) == 2
    assert re.search(r"strict mode: .*survival time is 0 for 'P003'.*DataWarning turned into "
                     r"an error by --strict", capsys.readouterr().err)


def test_check_study_and_patients_together_is_an_error(sim: Path, capsys) -> None:
    code = main(["check", "--study", str(LUNG_STUDY), "--patients", str(sim / "patients.csv")])
    assert code == 2
    assert re.search(r"give one of --study STUDY\.toml or --patients P\.csv .*not both",
                     capsys.readouterr().err)


def test_check_without_data_says_what_to_give(capsys) -> None:
    assert main(["check"]) == 2
    assert "give the data to check: --patients P.csv [--lesions L.csv], or --study" in (
        capsys.readouterr().err)


@pytest.mark.parametrize(("args", "pattern"), [
    (["--n-patients", "1"], r"n_patients must be >= 2, got 1\. Change this simulate_cohort "
                            r"argument"),
    (["--timepoints", "61"], r"timepoints must be <= 60, got 61\."),
    (["--random-state", "-1"], r"random_state must be a non-negative integer"),
], ids=["one-patient", "too-many-timepoints", "negative-seed"])
def test_simulate_bad_arguments_exit_2(tmp_path: Path, capsys, args: list[str],
                                       pattern: str) -> None:
    out = tmp_path / "x"
    assert main(["simulate", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(r"^error: " + pattern, err), err
    assert not out.exists() and list(tmp_path.iterdir()) == []    # nothing written


def test_simulate_checks_the_output_folder_before_simulating(tmp_path: Path, capsys,
                                                             monkeypatch) -> None:
    import survrad.data.simulate

    def must_not_run(**kwargs):
        raise AssertionError("simulated before checking the output folder")

    monkeypatch.setattr(survrad.data.simulate, "simulate_cohort", must_not_run)
    (tmp_path / "x").mkdir()
    assert main(["simulate", "--n-patients", "1", "--out", str(tmp_path / "x")]) == 2
    assert re.search(r"output folder .* exists; pass --force", capsys.readouterr().err)


def test_missing_file_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["check", "--patients", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err


def test_usage_error_exits_2(capsys) -> None:
    assert main(["check", "--no-such-option"]) == 2
    assert "No such option" in capsys.readouterr().err


def test_installed_entry_point_runs(sim: Path) -> None:
    exe = Path(sys.executable).with_name("survrad")
    assert exe.exists(), "the `survrad` command is not installed: pip install -e '.[test]'"
    proc = subprocess.run([exe, "check", "--patients", str(sim / "patients.csv")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "patients: 120" in proc.stdout

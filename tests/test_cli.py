"""The `survrad` command: simulate, check, exit codes 0 / 2 / 1."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from survrad.cli import main


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


def test_missing_file_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["check", "--patients", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err


def test_usage_error_exits_2(capsys) -> None:
    assert main(["check"]) == 2
    assert "patients" in capsys.readouterr().err


def test_installed_entry_point_runs(sim: Path) -> None:
    exe = Path(sys.executable).with_name("survrad")
    assert exe.exists(), "the `survrad` command is not installed: pip install -e '.[test]'"
    proc = subprocess.run([exe, "check", "--patients", str(sim / "patients.csv")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "patients: 120" in proc.stdout

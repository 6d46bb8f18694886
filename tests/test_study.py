"""Study files: up-front validation (exit 2 naming file and key), runs, nothing lost."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import survrad as sr
from survrad.cli import main
from survrad.exceptions import ConfigError, SchemaError
from survrad.study import demo_study_text, load_study, run_study

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("study")
    c = sr.simulate_cohort(n_patients=80, random_state=4, n_noise_features=2)
    c.patients.reset_index().to_csv(out / "patients.csv", index=False)
    c.lesions.to_csv(out / "lesions.csv", index=False)
    return out


def _write(folder: Path, text: str) -> Path:
    path = folder / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


SMALL = """
title = "small"
random_state = 3
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
[[strategies]]
name = "E_risk"
method = "lesion_risk"
penalty = 0.1
[models.cox]
penalty = 0.05
[validation]
n_boot = 20
metrics = ["c_index", "td_auc"]
"""


def test_demo_study_is_the_commented_example_in_analyses() -> None:
    assert (ROOT / "analyses" / "demo" / "study.toml").read_text("utf-8") == demo_study_text()


@pytest.mark.parametrize(("edit", "key", "pattern"), [
    (("[validation]", "[validation]\nn_bot = 3"), "validation.n_bot", "Did you mean 'n_boot'"),
    (("title = ", "tittle = 'x'\ntitle = "), "tittle", "Did you mean 'title'"),
    (('patients = "patients.csv"', 'patients = "nope.csv"'), "data.patients", "file not found"),
    (('method = "statistics"', 'method = "statistic"'), "strategies[0].method",
     "Did you mean 'statistics'"),
    (("stats = [\"mean\"]", "stat = [\"mean\"]"), "strategies[0].stat", "no parameter 'stat'"),
    (("[models.cox]", "[models.coxx]"), "models.coxx", "Did you mean 'cox'"),
    (('method = "statistics"', 'method = "statistics"\nname2 = 1'), "strategies[0].name2",
     "no parameter"),
])
def test_bad_study_names_file_key_and_suggestion(data_dir: Path, edit, key, pattern) -> None:
    path = _write(data_dir, SMALL.replace(*edit, 1))
    with pytest.raises(ConfigError, match=pattern) as info:
        load_study(path)
    assert info.value.key == key
    assert info.value.file == str(path)


def test_absent_column_is_a_schema_error_naming_it(data_dir: Path) -> None:
    path = _write(data_dir, SMALL.replace('time = "os_time"', 'time = "os_tim"'))
    with pytest.raises(SchemaError, match="os_tim"):
        load_study(path)


def test_strategy_without_lesion_table_is_refused(data_dir: Path) -> None:
    path = _write(data_dir, SMALL.replace('lesions = "lesions.csv"\n', "")
                  .replace('lesion_features = ["rad_sig_*"]\n', ""))
    with pytest.raises(ConfigError, match="needs a lesion table") as info:
        load_study(path)
    assert info.value.key == "strategies[0]"


def test_cli_exit_code_2_on_bad_study(data_dir: Path, tmp_path: Path, capsys) -> None:
    path = _write(data_dir, SMALL.replace("[validation]", "[validation]\nn_bot = 3"))
    assert main(["run", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "study.toml" in err and "validation.n_bot" in err
    assert not (tmp_path / "r").exists()


def test_plan_adds_baselines(data_dir: Path) -> None:
    plan = load_study(_write(data_dir, SMALL))
    assert list(plan.pipelines["os"]["cox"]) == ["clinical", "burden", "C_mean", "E_risk"]
    assert plan.pipelines["os"]["cox"]["burden"].patient_features == ()


@pytest.fixture(scope="module")
def report(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports") / "small"
    return run_study(_write(data_dir, SMALL), out, progress=False, command=["test"])


def test_report_has_every_contracted_output(report: Path) -> None:
    for name in ("results.json", "results.csv", "manifest.json", "warnings.json",
                 "index.html", "tables/table1.csv", "tables/lesion_risk.csv",
                 "tables/coefficients_os_C_mean_cox.csv"):
        assert (report / name).is_file(), name
    records = json.loads((report / "results.json").read_text())
    keys = {"endpoint", "strategy", "model", "metric", "horizon", "apparent", "optimism",
            "corrected",
            "ci_low", "ci_high", "n_boot", "n_failed"}
    assert all(set(r) == keys for r in records)
    assert {r["strategy"] for r in records} == {"clinical", "burden", "C_mean", "E_risk"}
    risk = pd.read_csv(report / "tables" / "lesion_risk.csv")
    assert {"patient_id", "lesion_id", "risk", "rank_in_patient", "high_risk"} <= set(risk)
    coef = pd.read_csv(report / "tables" / "coefficients_os_C_mean_cox.csv")
    assert {"term", "coef", "se", "hr", "hr_ci_low", "hr_ci_high", "p"} <= set(coef)
    assert sorted(p.suffix for p in (report / "figures").glob("comparison_*")) == [".pdf", ".png"]


def test_manifest_records_inputs_versions_seed_and_command(report: Path, data_dir: Path) -> None:
    man = json.loads((report / "manifest.json").read_text())
    assert man["status"] == "succeeded" and man["command"] == ["test"]
    assert man["random_state"] == 3 and man["config"]["validation"]["n_boot"] == 20
    names = sorted(Path(i["path"]).name for i in man["inputs"])
    assert names == ["lesions.csv", "patients.csv"]
    assert all(len(i["sha256"]) == 64 for i in man["inputs"])
    assert man["versions"]["numpy"]


def test_existing_report_is_never_overwritten_without_force(report: Path, data_dir: Path) -> None:
    before = (report / "results.json").read_bytes()
    with pytest.raises(ConfigError, match="force=True"):
        run_study(_write(data_dir, SMALL), report, progress=False)
    assert (report / "results.json").read_bytes() == before


def test_failed_run_leaves_failed_folder_and_keeps_old_report(
        report: Path, data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    import shutil

    import survrad.reporting.report as rr

    out = tmp_path / "r"
    shutil.copytree(report, out)                        # an earlier report of survrad's
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken(*args, **kwargs):
        raise RuntimeError("report writer bug")

    monkeypatch.setattr(rr, "write_report", broken)
    with pytest.raises(RuntimeError, match="report writer bug"):
        run_study(_write(data_dir, SMALL), out, force=True, progress=False)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    [failed] = list(tmp_path.glob("r.failed-*"))
    error = json.loads((failed / "error.json").read_text())
    assert error["error_class"] == "RuntimeError" and error["exit_code"] == 1
    assert (failed / "error.txt").is_file()               # a bug: the traceback too
    assert (failed / "study.toml").is_file()              # the study as given
    records = json.loads((failed / "results.json").read_text())   # the computed results
    assert {r["strategy"] for r in records} == {"clinical", "burden", "C_mean", "E_risk"}


def test_bad_setting_fails_before_computing_and_writes_nothing(data_dir: Path,
                                                               tmp_path: Path) -> None:
    bad = SMALL.replace("penalty = 0.05", "penalty = 0.05\nmax_iter = 0")
    with pytest.raises(ConfigError, match="max_iter") as info:
        run_study(_write(data_dir, bad), tmp_path / "r", progress=False)
    assert info.value.key == "models.cox.max_iter"
    assert list(tmp_path.iterdir()) == []


def test_same_results_bytes_whatever_n_jobs(report: Path, data_dir: Path, tmp_path: Path) -> None:
    other = run_study(_write(data_dir, SMALL), tmp_path / "again", n_jobs=2, progress=False)
    for name in ("results.json", "results.csv", "tables/lesion_risk.csv",
                 "tables/coefficients_os_C_mean_cox.csv", "tables/table1.csv"):
        assert (other / name).read_bytes() == (report / name).read_bytes(), name

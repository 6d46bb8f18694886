"""The longitudinal study section: [response], endpoints from scans, landmark, report."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import survrad as sr
from survrad.evaluation.results import StudyResults
from survrad.evaluation.results_longitudinal import LongitudinalResult
from survrad.exceptions import ConfigError
from survrad.longitudinal import pfs_from_scans, recist
from survrad.study import load_study
from survrad.study.run import _WarningLog
from survrad.study.section_longitudinal import compute_longitudinal

ROOT = Path(__file__).resolve().parents[1]

BASE = """
title = "longitudinal"
[data]
patients = "patients.csv"
lesions = "lesions.csv"
patient_features = ["age", "ecog"]
lesion_features = ["rad_sig_01"]
[endpoints.os]
time = "os_time"
event = "os_event"
horizons = [6, 12]
[models.cox]
penalty = 0.1
[validation]
n_boot = 20
metrics = ["c_index"]
"""
PFS = """
[endpoints.pfs]
time = "pfs_time"
event = "pfs_event"
from_scans = true
horizons = [3, 6]
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("longitudinal")
    c = sr.simulate_cohort(n_patients=40, random_state=5, timepoints=4, n_noise_features=1,
                           n_signal_features=2, n_volume_features=1)
    c.patients.reset_index().to_csv(out / "patients.csv", index=False)
    c.lesions.to_csv(out / "lesions.csv", index=False)
    return out


def _study(folder: Path, text: str, name: str = "study.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _direct(folder: Path, criteria: str = "recist1.1"):
    """The direct API on the CSV files: simulated scan times are months since baseline."""
    les = pd.read_csv(folder / "lesions.csv").drop(columns=["scan_date"])
    pts = pd.read_csv(folder / "patients.csv")
    res = recist(les, criteria, time_unit="months")
    return res, pfs_from_scans(res, pts, death_time_col="os_time", death_event_col="os_event")


def test_pfs_from_scans_endpoint_equals_the_direct_call(data_dir: Path) -> None:
    plan = load_study(_study(data_dir, BASE + PFS + '[response]\ncriteria = "irecist"\n'))
    _, direct = _direct(data_dir, "irecist")
    got = plan.cohort.patients.loc[direct["patient_id"]]
    np.testing.assert_allclose(got["pfs_time"], direct["pfs_time"], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(got["pfs_event"], direct["pfs_event"])
    assert plan.cohort.endpoint("pfs").columns == ("pfs_time", "pfs_event")
    assert set(plan.pipelines) == {"os", "pfs"}


def test_section_result_equals_the_api_and_round_trips(data_dir: Path, tmp_path: Path) -> None:
    plan = load_study(_study(data_dir, BASE + PFS + "[response]\n"))
    log_ = _WarningLog()
    res = compute_longitudinal(plan, log_, 1)
    assert isinstance(res, LongitudinalResult) and not log_.entries
    direct, pfs = _direct(data_dir)
    pd.testing.assert_frame_equal(res.recist.best_response, direct.best_response)
    assert res.response_counts["n"].sum() == plan.cohort.n_patients
    assert res.pfs["source"].tolist() == pfs["pfs_source"].tolist()
    # the swimmer's follow-up is the OS of the patient table
    np.testing.assert_allclose(res.follow_up["time"], plan.cohort.patients["os_time"])

    empty = pd.DataFrame({"a": [1.0]})
    results = StudyResults("t", "", {}, {}, empty, empty, empty, empty, (), (), empty, empty,
                           (), longitudinal=res)
    back = StudyResults.load(results.save(tmp_path / "saved")).longitudinal
    pd.testing.assert_frame_equal(back.recist.by_timepoint, res.recist.by_timepoint,
                                  check_dtype=False)
    pd.testing.assert_frame_equal(back.pfs, res.pfs)
    assert (back.time_unit, back.landmark, back.recist.criteria) == ("months", None,
                                                                     "recist1.1")


@pytest.mark.slow
def test_section_renders_tables_and_figures(data_dir: Path, tmp_path: Path) -> None:
    from survrad.reporting.report import _Report
    from survrad.reporting.section_longitudinal import render_longitudinal

    plan = load_study(_study(data_dir, BASE + PFS + "[response]\n"))
    res = compute_longitudinal(plan, _WarningLog(), 1)
    rep = _Report(tmp_path / "report")
    render_longitudinal(rep, types.SimpleNamespace(longitudinal=res))
    errors: list = []
    rep.render(errors, 1)
    assert not errors
    for name in ("best_response", "scan_responses", "endpoints_from_scans"):
        assert (tmp_path / "report" / "tables" / f"{name}.csv").is_file()
    for name in ("swimmer", "spider"):
        assert (tmp_path / "report" / "figures" / f"{name}.png").is_file()


def test_no_section_without_the_options(data_dir: Path) -> None:
    plan = load_study(_study(data_dir, BASE))
    assert compute_longitudinal(plan, None, 1) is None


def test_landmark_excludes_lists_and_reoriginates(data_dir: Path) -> None:
    text = BASE.replace("horizons = [6, 12]", "horizons = [6, 12]\nlandmark = 3")
    plan = load_study(_study(data_dir, text))
    pts = pd.read_csv(data_dir / "patients.csv").set_index("patient_id")
    kept = pts.index[pts["os_time"] > 3]
    assert list(plan.cohort.patient_ids) == list(kept)
    np.testing.assert_allclose(plan.cohort.patients["os_time"], pts.loc[kept, "os_time"] - 3)
    ex = plan.cohort.excluded
    gone = ex[ex["table"] == "patients"]["id"].tolist()
    assert gone == list(pts.index[pts["os_time"] <= 3])
    les = plan.cohort.lesions
    assert les["scan_time"].max() <= 3
    late = pd.read_csv(data_dir / "lesions.csv")
    late = late[late["patient_id"].isin(kept) & (late["scan_time"] > 3)]
    listed = ex[ex["table"] == "lesions"]
    assert len(listed) == len(late.groupby(["patient_id", "timepoint"]))
    assert listed["reason"].str.startswith("landmark 3: scan at timepoint").all()


def test_delta_strategy_with_k_timepoints_and_slopes(data_dir: Path) -> None:
    text = BASE + """
[[strategies]]
name = "delta3"
method = "delta"
kinds = ["absolute", "slope"]
timepoints = [0, 2]
slope_timepoints = [0, 1, 2]
"""
    plan = load_study(_study(data_dir, text))
    strategy = plan.pipelines["os"]["cox"]["delta3"].strategy
    strategy.fit(plan.cohort)
    assert strategy.timepoints_ == (0, 2) and strategy.slope_timepoints_ == (0, 1, 2)
    assert any(name.endswith("__slope_mean") for name in strategy.feature_names_out_)


@pytest.mark.parametrize(("extra", "key", "pattern"), [
    ("\n[endpoints.pfs]\ntime = \"p\"\nevent = \"e\"\n", "endpoints.pfs.landmark",
     "same landmark"),
    ("\n[endpoints.resp]\nkind = \"binary\"\ntarget = \"objective_response\"\n"
     "from_scans = true\n", "endpoints.resp", "survival endpoints"),
])
def test_schema_rules(data_dir: Path, extra: str, key: str, pattern: str) -> None:
    text = BASE.replace("horizons = [6, 12]", "horizons = [6, 12]\nlandmark = 3") + extra
    with pytest.raises(ConfigError, match=pattern) as info:
        load_study(_study(data_dir, text))
    assert key in str(info.value)


def test_from_scans_refuses_the_death_columns_and_unknown_units(data_dir: Path) -> None:
    bad = PFS.replace('time = "pfs_time"', 'time = "os_time"')
    with pytest.raises(ConfigError, match="death columns"):
        load_study(_study(data_dir, BASE + bad))
    with pytest.raises(ConfigError, match="unit must be one of"):
        load_study(_study(data_dir, BASE + PFS.replace("from_scans", 'unit = "mo"\nfrom_scans')))


def test_from_scans_without_lesions_is_a_config_error(data_dir: Path) -> None:
    text = BASE.replace('lesions = "lesions.csv"\n', "").replace(
        'lesion_features = ["rad_sig_01"]\n', "")
    with pytest.raises(ConfigError, match="several timepoints"):
        load_study(_study(data_dir, text + PFS))


@pytest.mark.slow
def test_study_run_writes_the_response_section(data_dir: Path, tmp_path: Path) -> None:
    from survrad.study import run_study

    text = BASE + PFS + "[response]\n"
    out = run_study(_study(data_dir, text), tmp_path / "report", progress=False)
    for name in ("best_response", "scan_responses", "endpoints_from_scans"):
        assert (out / "tables" / f"{name}.csv").is_file()
    assert (out / "figures" / "swimmer.png").is_file()
    assert (out / "figures" / "spider.png").is_file()
    saved = StudyResults.load(out / "results").longitudinal
    table = pd.read_csv(out / "tables" / "best_response.csv")
    assert table["n"].tolist() == saved.response_counts["n"].tolist()
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Response" in page
    # the Methods say how response was read and which endpoint came from the scans
    assert "Tumour response was read from the lesion measurements of every scan by " \
           "RECIST 1.1" in page
    assert "derived from the scans" in page


@pytest.mark.slow
def test_guarantee_time_script_runs_and_naive_is_biased(capsys) -> None:
    spec = importlib.util.spec_from_file_location(
        "bias", ROOT / "analyses" / "guarantee_time" / "bias.py")
    bias = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bias)
    table = bias.main(["--seeds", "2", "--n-patients", "300"])
    assert list(table.index) == ["naive", "landmark", "time_varying"]
    assert table.loc["naive", "mean_hr"] < 1
    assert (table["seeds"] == 2).all()
    assert "naive" in capsys.readouterr().out

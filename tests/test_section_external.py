"""External validation section: [external] options, the split and leave-one-centre-out
designs equal the direct API, no validation patient in the internal validation, the
save/load round trip and the report files."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import survrad as sr
from survrad.cli import main
from survrad.evaluation.keys import MetricKey
from survrad.evaluation.results import StudyResults
from survrad.exceptions import ConfigError
from survrad.study.schema import parse_study

BASE = {"data": {"patients": "p.csv"},
        "endpoints": {"os": {"time": "t", "event": "e", "horizons": [6, 12]}}}


def _parse(**tables: dict) -> object:
    return parse_study({**copy.deepcopy(BASE), **tables}, "s.toml")


# ------------------------------------------------------------------ schema
def test_external_table_defaults_and_shorthand() -> None:
    ext = _parse(external={"design": "split"}).external
    assert (ext.design, ext.train, ext.test, ext.n_boot, ext.recalibrate) == (
        "split", ["train"], ["test", "external"], 200, True)
    assert ext.split_column == "split"
    loco = _parse(validation={"method": "loco"})
    assert loco.external.design == "loco" and loco.external.split_column == "center"
    assert loco.validation.method is None          # the internal validation keeps its default
    short = _parse(validation={"method": "external"}, external={"n_boot": 50})
    assert (short.external.design, short.external.n_boot) == ("split", 50)
    same = _parse(validation={"method": "loco"}, external={"design": "loco", "column": "site"})
    assert same.external.split_column == "site"


@pytest.mark.parametrize(("tables", "key", "match"), [
    ({"external": {}}, "external.design", "is required"),
    ({"external": {"design": "holdout"}}, "external.design", "must be"),
    ({"validation": {"method": "loco"}, "external": {"design": "split"}}, "validation.method",
     r'"loco" means external.design = "loco", but external.design = "split"'),
    ({"external": {"design": "loco", "test": ["C3"]}}, "external", 'design = "split"'),
    ({"external": {"design": "split", "train": ["a"], "test": ["a"]}}, "external",
     "both in train and in test"),
    ({"external": {"design": "split", "n_boot": 5}}, "external.n_boot", ">= 20"),
    ({"external": {"design": "split", "models": ["forest"]}}, "external.models",
     "not models of the study"),
    ({"external": {"design": "split", "strategies": ["X"]}}, "external.strategies",
     "not strategies"),
    ({"validation": {"method": "holdout"}}, "validation.method", "must be one of"),
])
def test_bad_external_options_are_config_errors(tables: dict, key: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        _parse(**tables)
    keys = [k for k, _ in getattr(err.value, "problems", [(err.value.key, "")])]
    assert key in keys


# ------------------------------------------------------------------ studies
STUDY = """
title = "external"
random_state = 3
[data]
patients = "patients.csv"
lesions = "lesions.csv"
patient_features = ["age", "ecog"]
lesion_features = ["rad_sig_0*"]
[endpoints.os]
time = "os_time"
event = "os_event"
horizons = [6, 12]
[[strategies]]
name = "C_mean"
method = "statistics"
stats = ["mean"]
[models.cox]
min_epv = 0
[validation]
n_boot = 20
baselines = false
metrics = ["c_index", "brier"]
[report.utility]
enabled = false
{extra}
"""
SPLIT = '[external]\ndesign = "split"\nn_boot = 20\n'
LOCO = '[external]\nn_boot = 20\n'    # with [validation] method = "loco" (shorthand)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("external_data")
    c = sr.simulate_cohort(n_patients=150, n_centers=3, random_state=4, n_noise_features=0)
    p = c.patients.reset_index()
    p["split"] = ["test" if i % 3 == 0 else "train" for i in range(len(p))]
    p["site"] = np.where(p["center"] == "C3", "new", "old")
    p["quiet"] = np.where(p["os_event"] == 1, "e", np.where(p.index % 2 == 0, "q", "e"))
    p.to_csv(folder / "patients.csv", index=False)
    c.lesions.to_csv(folder / "lesions.csv", index=False)
    return folder


def _write(folder: Path, name: str, extra: str, method: str | None = None) -> Path:
    path = folder / f"{name}.toml"
    text = STUDY.replace("{extra}", extra)
    if method is not None:
        text = text.replace("baselines = false", f'baselines = false\nmethod = "{method}"')
    path.write_text(text, encoding="utf-8")
    return path


def _run(data_dir: Path, name: str, extra: str, method: str | None = None) -> Path:
    from survrad.study import run_study

    return run_study(_write(data_dir, name, extra, method), data_dir / f"out_{name}",
                     progress=False)


@pytest.fixture(scope="module")
def split_report(data_dir: Path) -> Path:
    return _run(data_dir, "split", SPLIT)


@pytest.fixture(scope="module")
def loco_report(data_dir: Path) -> Path:
    return _run(data_dir, "loco", LOCO, method="loco")


def _direct_split(data_dir: Path):
    from survrad.study import load_study

    plan = load_study(data_dir / "split.toml")
    cohort = plan.cohort
    train, test = sr.data.split.split_cohort(cohort, "split")
    pipe = plan.pipelines["os"]["cox"]["C_mean"]
    return train, test, sr.external_validate(
        pipe, train, test, "os", metrics=["c_index", "brier"], horizons=[6.0, 12.0],
        n_boot=20, random_state=3, ci_level=0.95, max_failed=0.10)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:events per variable:survrad.exceptions.StatisticalWarning")
def test_split_numbers_equal_external_validate(split_report: Path, data_dir: Path) -> None:
    res = StudyResults.load(split_report / "results")
    ext = res.external
    train, test, direct = _direct_split(data_dir)
    (p,) = ext.pipelines
    perf = p.performance
    s = direct.summary()
    np.testing.assert_allclose(perf["external"], s["external"], rtol=1e-12)
    np.testing.assert_allclose(perf["external_ci_low"], s["ci_low"], rtol=1e-12)
    np.testing.assert_allclose(perf["external_ci_high"], s["ci_high"], rtol=1e-12)
    np.testing.assert_allclose(perf["apparent"], s["apparent"], rtol=1e-12)
    assert set(perf["n_validation"]) == {test.n_patients}
    assert set(perf["events_validation"]) == {direct.events_test}
    cal = p.calibration.set_index("statistic")
    assert cal.loc["calibration_slope", "estimate"] == pytest.approx(
        direct.calibration.slope, rel=1e-12)
    pd.testing.assert_frame_equal(
        p.observed_expected.drop(columns="center"), direct.observed_expected,
        check_dtype=False)
    # the internal validation saw the development patients only: its apparent C is the
    # model fitted on (and scored on) exactly those patients
    est = res.estimates
    internal = est[(est["metric"] == "c_index") & (est["strategy"] == "C_mean")]
    assert internal["apparent"].item() == pytest.approx(
        direct.apparent[MetricKey("c_index")], rel=1e-12)
    assert perf.loc[perf["metric"] == "c_index", "internal"].item() == pytest.approx(
        internal["corrected"].item(), rel=1e-12)
    assert ext.n_internal == train.n_patients
    assert (ext.design, ext.column, ext.train, ext.test) == (
        "split", "split", ("train",), ("test", "external"))


@pytest.mark.slow
def test_internal_validation_uses_development_patients_only(data_dir: Path,
                                                            split_report: Path) -> None:
    from survrad.study import load_study
    from survrad.study.section_external import development_plan

    full = load_study(data_dir / "split.toml")
    dev = development_plan(full)
    assert dev.cohort.n_patients == int((pd.read_csv(data_dir / "patients.csv")["split"]
                                         == "train").sum())
    assert set(dev.cohort.patients["split"]) == {"train"}
    assert dev.all_patients.n_patients == full.cohort.n_patients


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:events per variable:survrad.exceptions.StatisticalWarning")
def test_loco_numbers_equal_leave_one_center_out(loco_report: Path, data_dir: Path) -> None:
    from survrad.study import load_study

    ext = StudyResults.load(loco_report / "results").external
    plan = load_study(data_dir / "loco.toml")
    direct = sr.leave_one_center_out(plan.pipelines["os"]["cox"]["C_mean"], plan.cohort, "os",
                                     metrics=["c_index", "brier"], horizons=[6.0, 12.0],
                                     n_boot=20, random_state=3)
    (p,) = ext.pipelines
    got, want = p.centers, direct.per_center()
    assert got["center"].tolist() == want["center"].tolist()
    for col in ("estimate", "ci_low", "ci_high", "se", "apparent"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-12, err_msg=col)
    pooled, want_pooled = p.pooled.iloc[0], direct.pooled().iloc[0]
    for col in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2"):
        assert pooled[col] == pytest.approx(want_pooled[col], rel=1e-12), col
    row = p.performance.iloc[0]
    assert (row["metric"], row["external"]) == ("c_index", pytest.approx(pooled["estimate"]))
    assert ext.centers == ("C1", "C2", "C3") and ext.n_internal == plan.cohort.n_patients
    assert set(p.recalibration["method"]) == {"none", "intercept", "intercept_slope", "refit"}


@pytest.mark.slow
def test_external_results_round_trip(loco_report: Path, tmp_path: Path) -> None:
    first = StudyResults.load(loco_report / "results")
    again = StudyResults.load(first.save(tmp_path / "again")).external
    ext = first.external
    assert (again.design, again.centers, again.notes) == (ext.design, ext.centers, ext.notes)
    pd.testing.assert_frame_equal(again.table, ext.table)
    for name in ("performance", "centers", "pooled", "calibration", "observed_expected",
                 "recalibration"):
        pd.testing.assert_frame_equal(getattr(again.pipelines[0], name),
                                      getattr(ext.pipelines[0], name))
    np.testing.assert_array_equal(again.pipelines[0].smooth[0].grid_observed,
                                  ext.pipelines[0].smooth[0].grid_observed)
    assert again.pipelines[0].smooth_centers == ext.pipelines[0].smooth_centers


@pytest.mark.slow
def test_report_files_and_figures(loco_report: Path, split_report: Path) -> None:
    from figure_checks import check_figure

    from survrad.reporting.figures_external import CenterForestDisplay

    for report in (loco_report, split_report):
        for name in ("external_performance", "external_calibration",
                     "external_observed_expected", "external_recalibration"):
            assert (report / "tables" / f"{name}.csv").is_file(), (report, name)
        page = (report / "index.html").read_text(encoding="utf-8")
        assert "External validation" in page
        assert page.index("External validation") < page.index(">Prediction<")
    assert (loco_report / "tables" / "external_centers.csv").is_file()
    assert (loco_report / "figures" / "external_forest_os_cox_C_mean.png").is_file()
    assert (split_report / "figures" / "external_calibration_os_cox_C_mean_all_12.png"
            ).is_file()
    assert "leave-one-centre-out" in (loco_report / "index.html").read_text(encoding="utf-8")
    p = StudyResults.load(loco_report / "results").external.pipelines[0]
    per = p.centers[p.centers["metric"] == "c_index"]
    q = p.pooled.iloc[0]
    disp = CenterForestDisplay(
        centers=per["center"].tolist(), estimates=per["estimate"].to_numpy(),
        ci_low=per["ci_low"].to_numpy(), ci_high=per["ci_high"].to_numpy(),
        n=per["n"].tolist(), events=per["events"].tolist(),
        pooled=(q["estimate"], q["ci_low"], q["ci_high"]), prediction=(q["pi_low"],
                                                                      q["pi_high"]),
        i2=q["i2"], tau2=q["tau2"]).plot()
    check_figure(disp.figure_)


# ------------------------------------------------------------------ check --study
@pytest.mark.parametrize(("extra", "text"), [
    ('[external]\ndesign = "split"\ncolumn = "cohort"\n', "no such patient column"),
    ('[external]\ndesign = "split"\ncolumn = "site"\n', "neither training values"),
    ('[external]\nn_boot = 50\n', "external.design"),
    ('[external]\ndesign = "loco"\ncolumn = "split"\n', None),
    ('[external]\ndesign = "loco"\ncolumn = "quiet"\n', "centre q have no event"),
])
def test_check_study_catches_bad_external(data_dir: Path, extra: str, text: str | None,
                                          capsys: pytest.CaptureFixture) -> None:
    path = _write(data_dir, "check", extra)
    code = main(["check", "--study", str(path)])
    if text is None:                        # a valid loco column: passes
        assert code == 0
        return
    assert code == 2
    assert text in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:events per variable:survrad.exceptions.StatisticalWarning")
def test_fit_of_a_split_study_saves_the_development_models(data_dir: Path,
                                                          tmp_path: Path) -> None:
    from survrad.fit import fit_command, read_index
    from survrad.models.persistence import read_manifest

    folder = fit_command(_write(data_dir, "fit_split", SPLIT), tmp_path / "fitted")
    n_train = int((pd.read_csv(data_dir / "patients.csv")["split"] == "train").sum())
    for entry in read_index(folder / "model")["pipelines"]:
        training = read_manifest(folder / "model" / entry["folder"])["training"]
        assert training["n_patients"] == n_train          # never a validation patient


def test_check_study_catches_conflicting_method(data_dir: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    path = _write(data_dir, "conflict", '[external]\ndesign = "split"\n', method="loco")
    assert main(["check", "--study", str(path)]) == 2
    err = capsys.readouterr().err
    assert "validation.method" in err and "external.design" in err


# ------------------------------------------------------------------ ComBat rule
@pytest.mark.parametrize("unseen", ["error", "reference"])
@pytest.mark.filterwarnings("ignore:events per variable:survrad.exceptions.StatisticalWarning")
def test_combat_and_an_unseen_centre_is_never_silent(unseen: str) -> None:
    from survrad.study import load_study
    from survrad.study.run import _WarningLog
    from survrad.study.section_external import compute_external

    cohort = sr.simulate_cohort(n_patients=150, n_centers=3, random_state=5,
                                n_noise_features=0)
    study = {"simulate": {}, "random_state": 1,
             "data": {"patient_features": ["age"], "lesion_features": ["rad_sig_01"]},
             "endpoints": {"os": {"time": "os_time", "event": "os_event", "horizons": [6, 12]}},
             "strategies": [{"name": "C", "method": "statistics", "stats": ["mean"]}],
             "features": [{"step": "combat", "unseen": unseen}],
             "models": {"cox": {"min_epv": 0}},
             "validation": {"n_boot": 20, "method": "loco", "baselines": False,
                            "metrics": ["c_index"]},
             "external": {"n_boot": 20, "recalibrate": False}}
    log = _WarningLog()
    res = compute_external(load_study(study, cohort=cohort), log, 1)
    categories = {e["category"] for e in log.entries}
    if unseen == "error":           # left out, with the reason and the fix
        assert res.pipelines == () and "ExternalValidationFailed" in categories
        assert "unseen='reference'" in res.notes[0]
    else:                           # validated; the harmonisation is said once
        (p,) = res.pipelines
        assert len(p.centers) == 3 and "CentreHarmonised" in categories
        assert res.notes == ("os, cox, C: ComBat(unseen='reference') harmonised the "
                             "validation centre(s) ['C1', 'C2', 'C3'], absent from the "
                             "development data, to the development reference from their "
                             "own features (no outcomes).",)

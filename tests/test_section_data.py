"""The study's [data] missing / formula / lesions_format options and the "Missing data"
section: counts held to the tables written, effects to the direct API call, the saved
results to themselves after a round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import survrad as sr
from survrad.evaluation.results import StudyResults
from survrad.exceptions import ConfigError
from survrad.features import Imputer
from survrad.lesions import ImputeLesions
from survrad.models.effects import partial_effect
from survrad.reporting.tables import read_report_csv
from survrad.study import load_study, run_study
from survrad.study.section_data import exclusion_flow, nonlinear_terms

N_AGE, N_PDL1, N_LESION = 6, 4, 5     # cells blanked in the tables written


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sec_data")
    c = sr.simulate_cohort(n_patients=70, random_state=5, n_noise_features=2)
    patients = c.patients.reset_index()
    patients.loc[:N_AGE - 1, "age"] = np.nan                  # P rows 0-5: age missing
    patients.loc[3:3 + N_PDL1 - 1, "pdl1"] = np.nan          # rows 3-6: pdl1 (3-5 both)
    lesions = c.lesions.copy()
    # the first lesion of patients with several (none is left without lesions)
    size = lesions.groupby("patient_id")["lesion_id"].transform("size")
    first = ~lesions["patient_id"].duplicated()
    later = lesions["patient_id"].isin(patients["patient_id"][20:])
    rows = lesions.index[(size > 1) & first & later][:N_LESION]
    lesions.loc[rows, "rad_sig_01"] = np.nan
    patients.to_csv(out / "patients.csv", index=False)
    lesions.to_csv(out / "lesions.csv", index=False)
    return out


def study_text(missing: str, extra: str = "", strategies: bool = True,
               lesions: bool = True) -> str:
    strat = """
[[strategies]]
name = "C_mean"
method = "statistics"
stats = ["mean"]
""" if strategies else ""
    return f"""
title = "missing data"
random_state = 1
[data]
patients = "patients.csv"
{'lesions = "lesions.csv"' if lesions else ""}
{'lesion_features = ["rad_sig_0*"]' if lesions else ""}
missing = "{missing}"
{extra}
[endpoints.os]
time = "os_time"
event = "os_event"
horizons = [6, 12]
{strat}
[validation]
n_boot = 20
metrics = ["c_index"]
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------- the plan
def test_complete_case_excludes_and_counts(data_dir: Path) -> None:
    path = _write(data_dir, "cc.toml", study_text(
        "complete_case", 'patient_features = ["age", "pdl1"]', strategies=False))
    plan = load_study(path)
    c = plan.cohort
    incomplete = N_AGE + N_PDL1 - 3          # rows 3-5 miss both
    assert c.n_patients == 70 - incomplete
    flow = exclusion_flow(c)
    pat = flow[flow["table"] == "patients"].set_index("stage")
    assert pat.loc["read", "n"] == 70 and pat.loc["analysed", "n"] == 70 - incomplete
    assert pat.loc["excluded", "reason"] == "missing feature value (complete cases)"
    lesion = flow[flow["table"] == "lesions"]
    read = lesion.loc[lesion["stage"] == "read", "n"].item()
    assert read == len(pd.read_csv(data_dir / "lesions.csv"))
    kinds = dict(zip(lesion["reason"], lesion["n"], strict=True))
    assert kinds["missing feature value (complete cases)"] == N_LESION
    assert read == sum(lesion.loc[lesion["stage"] != "read", "n"])


def test_impute_adds_imputation_steps_and_formula(data_dir: Path) -> None:
    path = _write(data_dir, "imp.toml", study_text(
        "impute", 'formula = "rcs(age, 3) + pdl1 + C(ecog)"'))
    plan = load_study(path)
    # the formula's numeric variables are read as the patient features
    assert set(plan.cohort.patient_features) == {"age", "pdl1"}
    pipes = plan.pipelines["os"]["cox"]
    assert list(pipes) == ["clinical", "burden", "C_mean"]
    assert isinstance(pipes["clinical"].features[0], Imputer)
    assert pipes["clinical"].formula == "rcs(age, 3) + pdl1 + C(ecog)"
    assert isinstance(pipes["C_mean"].strategy, ImputeLesions)
    assert pipes["burden"].formula is None and not pipes["burden"].features
    by = plan.cohort.missing_data.by_column.set_index(["table", "column"])
    assert by.loc[("lesions", "rad_sig_01"), "n_missing"] == N_LESION


def test_listed_imputer_is_not_doubled(data_dir: Path) -> None:
    text = study_text("impute", 'patient_features = ["age", "pdl1"]', strategies=False)
    path = _write(data_dir, "imp2.toml", text + '\n[[features]]\nstep = "impute"\n'
                  'method = "median"\n')
    pipe = load_study(path).pipelines["os"]["cox"]["patient"]
    assert [type(s) for s in pipe.features] == [Imputer]
    assert pipe.features[0].method == "median"


def test_pyradiomics_keys_need_the_format(data_dir: Path) -> None:
    text = study_text("error", 'id_pattern = "(?P<patient_id>P\\\\d+)"')
    path = _write(data_dir, "bad.toml", text)
    with pytest.raises(ConfigError, match="lesions_format") as info:
        load_study(path)
    assert info.value.key == "data"


def test_bad_formula_names_the_key(data_dir: Path) -> None:
    path = _write(data_dir, "badf.toml", study_text("impute", 'formula = "rcs(agee, 3)"'))
    with pytest.raises(ConfigError, match="agee") as info:
        load_study(path)
    assert info.value.key == "data.formula"


# ------------------------------------------------------------------- a run
@pytest.fixture(scope="module")
def report(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = _write(data_dir, "run.toml", study_text(
        "impute", 'formula = "rcs(age, 3) + pdl1"', strategies=False, lesions=False))
    out = tmp_path_factory.mktemp("run") / "report"
    return run_study(path, out, progress=False)


@pytest.mark.slow
def test_section_numbers_equal_the_direct_calls(data_dir: Path, report: Path) -> None:
    res = StudyResults.load(report / "results")
    sec = res.data
    assert sec.policy == "impute" and sec.formula == "rcs(age, 3) + pdl1"
    by = sec.by_column.set_index(["table", "column"])
    assert by.loc[("patients", "age"), "n_missing"] == N_AGE
    assert by.loc[("patients", "pdl1"), "n_missing"] == N_PDL1
    cc = sec.complete_cases.set_index("table")
    assert cc.loc["patients", "n_complete"] == 70 - (N_AGE + N_PDL1 - 3)
    # the partial effect is the direct API call on the same pipeline
    (curve,) = sec.partial_effects
    assert (curve.endpoint, curve.strategy, curve.term) == ("os", "patient", "rcs(age, 3)")
    plan = load_study(data_dir / "run.toml")
    pipe = plan.pipelines["os"]["cox"]["patient"].fit(plan.cohort, "os")
    direct = partial_effect(pipe, "age")
    np.testing.assert_allclose(curve.effect.log_hazard, direct.log_hazard, rtol=1e-12)
    np.testing.assert_allclose(curve.effect.upper, direct.upper, rtol=1e-12)
    assert [t for t, _ in nonlinear_terms(pipe.formula_)] == ["rcs(age, 3)"]
    # tables and figures on disk
    table = read_report_csv(report / "tables" / "missing_by_column.csv")
    assert table["n_missing"].tolist() == sec.by_column["n_missing"].tolist()
    for name in ("exclusion_flow", "partial_effect_os_patient_age"):
        assert (report / "figures" / f"{name}.png").is_file()
    assert "Missing data" in (report / "index.html").read_text("utf-8")


@pytest.mark.slow
def test_section_round_trips(report: Path, tmp_path: Path) -> None:
    res = StudyResults.load(report / "results")
    again = StudyResults.load(res.save(tmp_path))
    a, b = res.data, again.data
    pd.testing.assert_frame_equal(a.by_column, b.by_column)
    pd.testing.assert_frame_equal(a.flow, b.flow)
    for table in a.patterns:
        pd.testing.assert_frame_equal(a.patterns[table], b.patterns[table])
    np.testing.assert_array_equal(a.partial_effects[0].effect.lower,
                                  b.partial_effects[0].effect.lower)
    assert a.partial_effects[0].effect.reference == b.partial_effects[0].effect.reference


def test_pyradiomics_lesion_file(data_dir: Path) -> None:
    patients = pd.read_csv(data_dir / "patients.csv")
    ids = patients["patient_id"].tolist()
    rng = np.random.default_rng(0)
    labels = [(p, k) for p in ids for k in range(1, 3)]
    raw = pd.DataFrame({
        "Image": [f"ct/{p}.nrrd" for p, _ in labels],
        "Mask": [f"seg/{p}_seg.nrrd" for p, _ in labels],
        "Label": [k for _, k in labels],
        "diagnostics_Versions_PyRadiomics": "v3.1.4",
        "diagnostics_Configuration_Settings": "{'binWidth': 25}",
        "original_shape_VoxelVolume": rng.uniform(500, 5000, len(labels)),
        "original_firstorder_Mean": rng.normal(0, 1, len(labels))})
    raw.to_csv(data_dir / "pyrad.csv", index=False)
    text = study_text("error", 'lesions_format = "pyradiomics"\n'
                      'id_pattern = "(?P<patient_id>P\\\\d+)"', strategies=False)
    text = text.replace('lesions = "lesions.csv"', 'lesions = "pyrad.csv"').replace(
        'lesion_features = ["rad_sig_0*"]', "")
    plan = load_study(_write(data_dir, "pyrad.toml", text))
    c = plan.cohort
    assert c.lesion_features == ("original_shape_VoxelVolume", "original_firstorder_Mean")
    got = c.lesions.set_index(["patient_id", "lesion_id"])["volume_ml"]
    want = raw.set_index([raw["Mask"].str[4:8], raw["Label"].astype(str)])
    np.testing.assert_allclose(got.loc[list(want.index)].to_numpy(),
                               want["original_shape_VoxelVolume"].to_numpy() / 1000,
                               rtol=1e-12)


def test_wrapped_strategy_has_lesion_scores_only_when_the_strategy_has() -> None:
    # the study's lesion-risk table looks for lesion_scores on the (wrapped) strategy
    from survrad.lesions import FeatureStatistics, LesionRiskAggregation

    assert not hasattr(ImputeLesions(FeatureStatistics()), "lesion_scores")
    assert hasattr(ImputeLesions(LesionRiskAggregation()), "lesion_scores")

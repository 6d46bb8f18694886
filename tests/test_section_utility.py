"""Clinical utility section, reporting checklists and the on-request metrics (ipa,
integrated_auc, ici) of the validation engine and the study file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import survrad as sr
from survrad.evaluation import metrics as met
from survrad.evaluation.checklists import RQS_ITEMS, TRIPOD_AI_ITEMS
from survrad.evaluation.decision import decision_curve
from survrad.evaluation.keys import MetricKey
from survrad.evaluation.results import StudyResults
from survrad.evaluation.scoring import metric_keys, score_pipeline
from survrad.evaluation.smooth_calibration import smooth_calibration
from survrad.exceptions import ConfigError
from survrad.study.schema import parse_study


# ------------------------------------------------------------------ metrics
@pytest.fixture(scope="module")
def fitted() -> tuple:
    cohort = sr.simulate_cohort(n_patients=120, random_state=1, n_noise_features=0)
    pipe = sr.CohortPipeline().fit(cohort, "os")
    return pipe, cohort


def test_new_survival_metrics_equal_the_direct_calls(fitted) -> None:
    pipe, cohort = fitted
    hz = [12.0, 6.0]                               # unsorted on purpose
    values, failures = score_pipeline(pipe, cohort, ["ipa", "integrated_auc", "ici"], hz)
    assert not failures
    y = cohort.y("os")
    surv = pipe.predict_survival_function(cohort, hz).to_numpy()
    risk = pipe.predict_risk(cohort).to_numpy()
    ipa = met.ipa(y, y, surv, hz)
    for k, h in enumerate(hz):
        assert values[MetricKey("ipa", h)] == pytest.approx(ipa[k], rel=1e-12)
        ici = smooth_calibration(y, 1 - surv[:, k], horizon=h).ici
        assert values[MetricKey("ici", h)] == pytest.approx(ici, rel=1e-12)
    auc = met.integrated_auc(y, y, risk, sorted(hz))
    assert values[MetricKey("integrated_auc")] == pytest.approx(auc, rel=1e-12)


def test_binary_ici_equals_the_direct_call() -> None:
    cohort = sr.simulate_cohort(n_patients=150, random_state=2, n_noise_features=0)
    pipe = sr.CohortPipeline(model=sr.LogisticModel()).fit(cohort, "response")
    values, failures = score_pipeline(pipe, cohort, ["auc", "ici"], [])
    assert not failures
    prob = pipe.predict_proba(cohort).to_numpy()
    expected = smooth_calibration(cohort.y("response"), prob).ici
    assert values[MetricKey("ici")] == pytest.approx(expected, rel=1e-12)


def test_metric_keys_of_new_metrics() -> None:
    keys = metric_keys("survival", ["ipa", "ici", "integrated_auc"], [6, 12])
    assert [k.label for k in keys] == ["ipa@6", "ipa@12", "ici@6", "ici@12", "integrated_auc"]
    assert [k.label for k in metric_keys("binary", ["ici"], [])] == ["ici"]
    with pytest.raises(ValueError, match=r"integrated_auc.*two horizons"):
        metric_keys("survival", ["integrated_auc"], [6])


def _study(metrics: list[str], horizons: list[float], kind: str = "survival") -> dict:
    ep = ({"time": "t", "event": "e", "horizons": horizons} if kind == "survival"
          else {"kind": "binary", "target": "r"})
    return {"data": {"patients": "p.csv"}, "endpoints": {"os": ep},
            "validation": {"metrics": metrics}}


def test_study_file_accepts_new_metrics_and_checks_their_horizons() -> None:
    parse_study(_study(["c_index", "ipa", "ici", "integrated_auc"], [6, 12]), "s.toml")
    parse_study(_study(["auc", "ici"], [], kind="binary"), "s.toml")
    with pytest.raises(ConfigError, match=r"integrated_auc.*two horizons"):
        parse_study(_study(["integrated_auc"], [6]), "s.toml")
    with pytest.raises(ConfigError, match="'ipa' needs horizons"):
        parse_study(_study(["ipa"], []), "s.toml")
    with pytest.raises(ConfigError, match="'ipa' is not a metric of the binary"):
        parse_study(_study(["ipa"], [], kind="binary"), "s.toml")


def test_utility_options_are_checked() -> None:
    cfg = _study(["c_index"], [6]) | {"report": {"utility": {"max_threshold": 1.5}}}
    with pytest.raises(ConfigError, match=r"report\.utility\.max_threshold"):
        parse_study(cfg, "s.toml")


# --------------------------------------------------------------- checklist data
def test_checklist_items_are_complete() -> None:
    numbers = [it.item for it in TRIPOD_AI_ITEMS]
    assert len(numbers) == len(set(numbers))
    main = {int("".join(c for c in n if c.isdigit())) for n in numbers}
    assert main == set(range(1, 28))                  # TRIPOD+AI: 27 items
    assert [it.item for it in RQS_ITEMS] == list(range(1, 17))
    assert sum(it.max_points for it in RQS_ITEMS) == 36
    assert sum(it.min_points for it in RQS_ITEMS) == -8


# ------------------------------------------------------------------ the study
STUDY = """
title = "utility"
random_state = 3
[data]
patients = "patients.csv"
lesions = "lesions.csv"
patient_features = ["age", "ecog"]
lesion_features = ["rad_sig_0*"]
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
min_epv = 0
[validation]
n_boot = 20
baselines = false
metrics = ["c_index", "ipa", "ici", "integrated_auc"]
[report.utility]
max_threshold = 0.6
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from survrad.study import run_study

    folder = tmp_path_factory.mktemp("utility")
    c = sr.simulate_cohort(n_patients=60, random_state=4, n_noise_features=0)
    c.patients.reset_index().to_csv(folder / "patients.csv", index=False)
    c.lesions.to_csv(folder / "lesions.csv", index=False)
    (folder / "study.toml").write_text(STUDY, encoding="utf-8")
    return run_study(folder / "study.toml", folder / "out", progress=False)


@pytest.mark.slow
def test_report_has_the_utility_files(report: Path) -> None:
    for name in ("checklist.csv", "rqs.csv", "tables/utility_decision_curves.csv",
                 "tables/utility_calibration.csv", "tables/utility_ph_tests.csv",
                 "tables/utility_sample_size.csv"):
        assert (report / name).is_file(), name
    figures = {p.name for p in (report / "figures").glob("*.png")}
    for stem in ("decision_os_cox_C_mean_6", "decision_os_cox_C_mean_12",
                 "smooth_calibration_os_cox_C_mean_12", "nomogram_os_cox",
                 "schoenfeld_os_cox_C_mean"):
        assert f"{stem}.png" in figures, stem
    page = (report / "index.html").read_text(encoding="utf-8")
    assert "Clinical utility" in page and 'href="checklist.csv"' in page
    checklist = pd.read_csv(report / "checklist.csv")
    assert len(checklist) == len(TRIPOD_AI_ITEMS)
    assert set(checklist.loc[checklist["item"] == "23a", "file"]) == {"results.csv"}
    assert (checklist["status"] == "to be reported by the authors").sum() > 10
    rqs = pd.read_csv(report / "rqs.csv")
    assert rqs.loc[rqs["item"] == 14, "points"].item() == 2      # decision curve analysis
    assert np.isnan(rqs.loc[rqs["item"] == 11, "points"].item())  # prospective: authors


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:events per variable:survrad.exceptions.StatisticalWarning")
def test_utility_numbers_equal_the_direct_api(report: Path) -> None:
    from survrad.evaluation.crossval import cross_validated_predictions
    from survrad.evaluation.nomogram import nomogram
    from survrad.study import load_study

    res = StudyResults.load(report / "results").utility
    plan = load_study(report.parent / "study.toml")
    cohort = plan.cohort
    oof = cross_validated_predictions(plan.pipelines["os"]["cox"]["C_mean"], cohort, "os",
                                      n_folds=5, n_groups=3, horizons=[6.0, 12.0],
                                      random_state=3)
    y = cohort.y("os")
    (u,) = res.endpoints
    assert (u.endpoint, u.model, u.strategy) == ("os", "cox", "C_mean")
    for k, h in enumerate([6.0, 12.0]):
        risk = 1 - oof.survival[h].to_numpy()
        dc = decision_curve(y, risk, np.arange(1, 61) / 100, horizon=h)
        np.testing.assert_allclose(u.decision_curves[k].net_benefit, dc.net_benefit,
                                   rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(u.decision_curves[k].treat_all, dc.treat_all, rtol=1e-12)
        cal = smooth_calibration(y, risk, horizon=h)
        assert u.calibrations[k].ici == pytest.approx(cal.ici, rel=1e-10)
        assert res.calibration["e90"].iloc[k] == pytest.approx(cal.e90, rel=1e-10)
    clinical = sr.CohortPipeline(None, (), sr.CoxModel(min_epv=0)).fit(cohort, "os")
    X = clinical.transform(cohort)
    nom = nomogram(clinical.model_, X, horizons=[6.0, 12.0])
    assert res.nomograms[0].nomogram.points_per_lp == pytest.approx(nom.points_per_lp)
    ph = clinical.model_.ph_test(X, y).table
    got = res.ph_tests[res.ph_tests["strategy"] == "clinical_unpenalised"]
    np.testing.assert_allclose(got["chisq"].to_numpy(), ph["chisq"].to_numpy(), rtol=1e-12)
    assert res.sample_size["epv"].item() == pytest.approx(
        int(y["event"].sum()) / res.sample_size["n_predictors"].item())


@pytest.mark.slow
def test_utility_results_round_trip(report: Path, tmp_path: Path) -> None:
    first = StudyResults.load(report / "results")
    again = StudyResults.load(first.save(tmp_path / "again")).utility
    u = first.utility
    for name in ("decision", "calibration", "ph_tests", "sample_size", "checklist", "rqs"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(u, name))
    np.testing.assert_array_equal(again.endpoints[0].calibrations[1].grid_observed,
                                  u.endpoints[0].calibrations[1].grid_observed)
    axes, axes2 = u.nomograms[0].nomogram.axes, again.nomograms[0].nomogram.axes
    np.testing.assert_array_equal(axes[0].values, axes2[0].values)
    fig, fig2 = u.schoenfeld[0], again.schoenfeld[0]
    assert fig.p_values == fig2.p_values
    pd.testing.assert_frame_equal(fig.smooths[next(iter(fig.smooths))],
                                  fig2.smooths[next(iter(fig2.smooths))])

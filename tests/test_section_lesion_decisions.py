"""The report's "Lesion decisions" section: options checked up front, numbers equal to the
direct API calls, files written, results saved and reloaded."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import survrad as sr
from survrad._validation import seed_unseeded
from survrad.evaluation.results import StudyResults
from survrad.exceptions import AttentionUniformWarning, ConfigError
from survrad.lesions import (
    AttentionMIL,
    LesionRiskAggregation,
    compare_policies,
    lesion_decision_table,
)
from survrad.reporting.section_lesion_decisions import (
    SECTION,
    SHOWN_ROWS,
    UNIFORM_SENTENCE,
    render_lesion_decisions,
)
from survrad.study import load_study, run_study
from survrad.study.run import _WarningLog
from survrad.study.section_lesion_decisions import POLICY_N_BOOT, compute_lesion_decisions

SIM = {"n_patients": 50, "random_state": 2, "n_signal_features": 3, "n_volume_features": 0,
       "n_noise_features": 1}
ENDPOINTS = {"os": {"kind": "survival", "time": "os_time", "event": "os_event",
                    "horizons": [12]}}
E_RISK = {"name": "E_risk", "method": "lesion_risk", "penalty": 0.1}


def _study(**report: object) -> dict:
    return {"title": "lesion decisions", "random_state": 3, "simulate": dict(SIM),
            "endpoints": ENDPOINTS,
            "strategies": [{"name": "C_mean", "method": "statistics", "stats": ["mean"]},
                           E_RISK],
            "models": {"cox": {"penalty": 0.05}},
            "validation": {"n_boot": 20, "metrics": ["c_index"], "baselines": False},
            "report": {"lesion_risk_folds": 3, "lesion_decisions": report}}


# ----------------------------------------------------------------- the study file
@pytest.mark.parametrize("report, pattern", [
    ({"strategy": "E_rsk"}, r"'E_rsk' is not a strategy of the study\. Did you mean 'E_risk'"),
    ({"strategy": "C_mean"}, r"'C_mean' \(statistics\) gives no lesion scores"),
    ({"strategy": "E_risk", "n_boot": 10}, r"must be >= 20, got 10"),
    ({"strategy": "E_risk", "ci_level": 1.5}, r"must be < 1(\.0)?, got 1.5"),
])
def test_bad_options_are_config_errors_with_their_toml_path(report, pattern) -> None:
    with pytest.raises(ConfigError, match=pattern) as err:
        load_study(_study(**report))
    assert err.value.key.startswith("report.lesion_decisions.")


def test_auto_without_lesion_scoring_strategy_is_refused() -> None:
    cfg = _study(strategy="auto")
    cfg["strategies"] = cfg["strategies"][:1]
    with pytest.raises(ConfigError, match=r'"auto" takes the first strategy that scores'):
        load_study(cfg)


def test_section_is_off_unless_asked() -> None:
    plan = load_study(_study())
    assert plan.config["report"]["lesion_decisions"] == {"strategy": None, "n_boot": 200,
                                                         "ci_level": None}
    assert compute_lesion_decisions(plan, _WarningLog(), None) is None


# ------------------------------------------------------------------- a whole run
@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lesion_decisions") / "report"
    return run_study(_study(strategy="auto", n_boot=20, ci_level=0.9), out, progress=False)


@pytest.mark.slow   # one whole study run (figures), shared
def test_run_writes_table_figures_and_page(report: Path) -> None:
    table = pd.read_csv(report / "tables" / "lesion_decisions.csv")
    cohort = sr.simulate_cohort(**SIM)
    assert len(table) == len(cohort.baseline_lesions())
    for name in ("lesion_decisions", "lesion_policies"):
        assert (report / "figures" / f"{name}.png").is_file()
    assert (report / "tables" / "lesion_policies.csv").is_file()
    page = (report / "index.html").read_text(encoding="utf-8")
    assert SECTION in page
    assert f"Showing the first {SHOWN_ROWS} of {len(table)} rows" in page
    assert "Lesion decisions: the lesions of every patient" in page     # Methods sentence


@pytest.mark.slow   # one whole study run (figures), shared
def test_numbers_equal_the_direct_api_calls(report: Path) -> None:
    res = StudyResults.load(report / "results").lesion_decisions
    assert (res.strategy, res.method) == ("E_risk", "lesion_risk")
    cohort = sr.simulate_cohort(**SIM)
    strategy = LesionRiskAggregation(penalty=0.1)
    direct = lesion_decision_table(strategy, cohort, "os", n_boot=20, n_folds=3,
                                   random_state=3, ci_level=0.9, max_failed=0.1)
    pd.testing.assert_frame_equal(res.decisions.table, direct.table)
    csv = pd.read_csv(report / "tables" / "lesion_decisions.csv")
    np.testing.assert_allclose(csv["risk_ci_low"], direct.table["risk_ci_low"], rtol=1e-12)
    np.testing.assert_allclose(csv["p_riskiest"], direct.table["p_riskiest"], rtol=1e-12)
    # a [simulate] study: the rules are compared against the simulation truth
    policies = compare_policies(direct, cohort, target="truth", n_boot=POLICY_N_BOOT,
                                ci_level=0.9, random_state=3)
    assert res.policies.target == "truth" and res.policy_note == ""
    pd.testing.assert_frame_equal(res.policies.rules, policies.rules)
    pd.testing.assert_frame_equal(res.policies.differences, policies.differences)
    assert res.attention == ()


@pytest.mark.slow   # one whole study run (figures), shared
def test_results_round_trip(report: Path, tmp_path: Path) -> None:
    first = StudyResults.load(report / "results")
    again = StudyResults.load(first.save(tmp_path / "again"))
    a, b = first.lesion_decisions, again.lesion_decisions
    pd.testing.assert_frame_equal(a.decisions.table, b.decisions.table)
    pd.testing.assert_frame_equal(a.policies.rules, b.policies.rules)
    assert dataclasses.replace(a.decisions, table=None, failures=None,
                               replicate_warnings=None) == dataclasses.replace(
        b.decisions, table=None, failures=None, replicate_warnings=None)


# -------------------------------------------------------------- without truth, with F
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lesion_decision_data")
    c = sr.simulate_cohort(**SIM)
    c.patients.reset_index().to_csv(out / "patients.csv", index=False)
    c.lesions.to_csv(out / "lesions.csv", index=False)
    c.lesions.drop(columns=["diameter_followup_mm"]).to_csv(out / "no_followup.csv",
                                                            index=False)
    return out


def _from_files(folder: Path, lesions: str, **report: object) -> dict:
    cfg = _study(**report)
    del cfg["simulate"]
    cfg["data"] = {"patients": str(folder / "patients.csv"),
                   "lesions": str(folder / lesions), "lesion_features": ["rad_sig_*"]}
    return cfg


def test_observed_policy_comparison_without_truth(data_dir: Path) -> None:
    plan = load_study(_from_files(data_dir, "lesions.csv", strategy="E_risk", n_boot=20))
    res = compute_lesion_decisions(plan, _WarningLog(), None)
    assert res.policies.target == "observed"
    direct = compare_policies(res.decisions, plan.cohort, target="observed",
                              n_boot=POLICY_N_BOOT, ci_level=0.95, random_state=3)
    pd.testing.assert_frame_equal(res.policies.rules, direct.rules)


def test_policy_comparison_left_out_with_a_sentence(data_dir: Path) -> None:
    plan = load_study(_from_files(data_dir, "no_followup.csv", strategy="E_risk", n_boot=20))
    log_ = _WarningLog()
    res = compute_lesion_decisions(plan, log_, None)
    assert res.policies is None
    assert res.policy_note.startswith("No policy comparison: the cohort carries no "
                                      "simulation truth")
    assert "diameter_followup_mm" in res.policy_note
    assert not [e for e in log_.entries if e["category"] == "RefitFailed"]


def test_attention_diagnostics_of_the_final_fit(data_dir: Path) -> None:
    cfg = _from_files(data_dir, "lesions.csv", strategy="E_risk", n_boot=20)
    cfg["strategies"].append({"name": "F_att", "method": "attention_mil", "n_hidden": 4,
                              "n_attention": 4, "max_iter": 100})
    plan = load_study(cfg)
    res = compute_lesion_decisions(plan, _WarningLog(), None)
    (check,) = res.attention
    assert (check.strategy, check.endpoint, check.failure) == ("F_att", "os", "")
    # the validation's apparent fit: the whole cohort, seeded from the study's seed
    model = seed_unseeded(AttentionMIL(n_hidden=4, n_attention=4, max_iter=100),
                          np.random.SeedSequence(3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(plan.cohort, "os")
    assert check.diagnostics == model.attention_diagnostics_
    fired = [w for w in caught if issubclass(w.category, AttentionUniformWarning)]
    assert check.warned == bool(fired) == (not model.attention_diagnostics_.departed)
    frame = res.attention_frame()
    assert frame.loc[0, "entropy_ratio"] == model.attention_diagnostics_.entropy_ratio


# ------------------------------------------------------------------- rendering
class _Rep:
    """Collects what a section adds (no files)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, object]] = []

    def add(self, section: str, item: object) -> None:
        self.items.append((section, item))

    def table(self, section: str, df: pd.DataFrame, name: str, caption: str, shown=None,
              max_rows: int | None = 50) -> None:
        self.items.append((section, ("table", name, len(df), max_rows)))

    def figure(self, section: str, make, name: str, caption: str) -> None:
        self.items.append((section, ("figure", name)))


@pytest.mark.slow   # one whole study run (figures), shared
def test_rendering_says_treat_f_as_mean_pooling_when_the_warning_fired(report: Path) -> None:
    from survrad.evaluation.results_lesion_decisions import AttentionCheck
    from survrad.lesions.attention import AttentionDiagnostics

    results = StudyResults.load(report / "results")
    diag = AttentionDiagnostics(40, 0.99, 0.02, 0.5, 0.48, 0.05, False)
    sec = dataclasses.replace(results.lesion_decisions, policies=None,
                              policy_note="No policy comparison: because.",
                              attention=(AttentionCheck("F", "os", diag, True, "w"),))
    rep = _Rep()
    render_lesion_decisions(rep, dataclasses.replace(results, lesion_decisions=sec))
    texts = [i.text for _, i in rep.items if hasattr(i, "text")]
    assert any(UNIFORM_SENTENCE in t for t in texts)
    assert "No policy comparison: because." in texts
    assert ("table", "lesion_decisions", len(sec.decisions.table), SHOWN_ROWS) in [
        i for _, i in rep.items]
    assert ("table", "attention_diagnostics", 1, None) in [i for _, i in rep.items]
    assert all(s == SECTION for s, _ in rep.items)
    empty = _Rep()
    render_lesion_decisions(empty, dataclasses.replace(results, lesion_decisions=None))
    assert empty.items == []

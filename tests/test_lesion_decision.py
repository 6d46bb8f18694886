"""Lesion decision table, policy comparison and their figures (issue 12).

Oracles: the replicate seeding rule re-run by hand (``SeedSequence(random_state)
.spawn(n_boot)[b]``), :func:`lesion_risk_table` for the point estimate, naive pandas
group-bys for ranks and shares, and the known truth of ``simulate_cohort`` (worst lesion)
for the hit rates. The long simulations are slow-marked; their results over more seeds are
in ``analyses/lesion_decisions``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from survrad._validation import spawn_seeds
from survrad.data.cohort import Cohort
from survrad.data.simulate import simulate_cohort
from survrad.exceptions import ConfigError, FitError, ResamplingError, SchemaError
from survrad.lesions import (
    LargestLesions,
    LesionResponseAggregation,
    LesionRiskAggregation,
    compare_policies,
    lesion_decision_table,
    lesion_risk_table,
)
from survrad.lesions import decision as decision_module
from survrad.reporting import LesionDecisionDisplay, PolicyComparisonDisplay

SMALL = {"n_signal_features": 2, "n_volume_features": 1, "n_noise_features": 1}


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(n_patients=50, random_state=4, **SMALL)


@pytest.fixture(scope="module")
def result(cohort):
    return lesion_decision_table(LesionRiskAggregation(penalty=0.05), cohort, "os", n_boot=20,
                                 n_folds=3, random_state=7)


# ----------------------------------------------------------------------------- errors
def test_bad_input_is_a_named_error(cohort):
    est = LesionRiskAggregation(penalty=0.05)
    with pytest.raises(ConfigError, match="no lesion scores"):
        lesion_decision_table(LargestLesions(), cohort, "os", n_boot=20)
    no_lesions = Cohort(cohort.patients, None, endpoints=dict(cohort.endpoints))
    with pytest.raises(SchemaError, match="no \\(baseline\\) lesions"):
        lesion_decision_table(est, no_lesions, "os", n_boot=20)
    with pytest.raises(ConfigError, match="at least 20") as err:
        lesion_decision_table(est, cohort, "os", n_boot=19)
    assert err.value.key == "n_boot"
    les = cohort.lesions.drop(columns=["irradiated", "rt_dose_gy"])
    no_rt = Cohort(cohort.patients, les, lesion_features=cohort.lesion_features)
    with pytest.raises(SchemaError, match="adjustment for \\['irradiated'\\]") as err:
        lesion_decision_table(LesionResponseAggregation(adjust=["irradiated"]), no_rt,
                              n_boot=20, random_state=0)
    assert err.value.column == "irradiated"
    with pytest.raises(TypeError, match="reproducible seed"):
        lesion_decision_table(est, cohort, "os", n_boot=20,
                              random_state=np.random.default_rng(0))


# ------------------------------------------------------------------------- structure
def test_table_columns_shares_and_intervals(cohort, result):
    tab = result.to_frame()
    assert list(tab.columns[:17]) == [
        "patient_id", "lesion_id", "organ", "volume_ml", "irradiated", "rt_dose_gy",
        "n_lesions", "risk", "risk_ci_low", "risk_ci_high", "rank_in_patient",
        "rank_ci_low", "rank_ci_high", "p_riskiest", "high_risk", "score", "fold"]
    assert list(tab["lesion_id"]) == list(cohort.lesions["lesion_id"])      # cohort order
    share = tab.groupby("patient_id")["p_riskiest"].sum()
    np.testing.assert_allclose(share, 1.0, rtol=1e-12)
    assert (tab.loc[tab["n_lesions"] == 1, "p_riskiest"] == 1).all()
    assert (tab["risk_ci_low"] <= tab["risk_ci_high"]).all()
    assert (tab["rank_ci_low"] <= tab["rank_ci_high"]).all()
    assert (tab["rank_ci_high"] <= tab["n_lesions"]).all()
    ref_rank = tab.groupby("patient_id")["risk"].rank(ascending=False, method="first")
    np.testing.assert_array_equal(tab["rank_in_patient"], ref_rank.astype(int))
    assert (tab.groupby("patient_id")["high_risk"].sum() == 1).all()
    assert result.n_boot == 20 and result.n_failed == 0 and result.random_state == 7
    summary = result.patient_summary()
    assert len(summary) == cohort.n_patients
    top = tab.loc[tab["rank_in_patient"] == 1].set_index("patient_id")
    np.testing.assert_array_equal(summary["top_lesion"], top.loc[summary["patient_id"],
                                                                 "lesion_id"])


def test_point_estimate_is_the_standardised_cross_fitted_risk(cohort, result):
    """``score`` is lesion_risk_table's risk (same folds, seeds and fits); ``risk`` is it
    standardised by the fold model's training-lesion mean and sd."""
    ref = lesion_risk_table(LesionRiskAggregation(penalty=0.05), cohort, "os", n_folds=3,
                            random_state=7)
    tab = result.table
    np.testing.assert_allclose(tab["score"], ref["risk"], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(tab["fold"], ref["fold"])
    np.testing.assert_array_equal(tab["rank_in_patient"], ref["rank_in_patient"])
    # within a fold, risk is an increasing affine function of the raw score
    for _, g in tab.groupby("fold"):
        slope, _ = np.polyfit(g["score"], g["risk"], 1)
        np.testing.assert_allclose(g["risk"], np.polyval(np.polyfit(g["score"], g["risk"], 1),
                                                         g["score"]), atol=1e-10)
        assert slope > 0


def test_replicates_follow_the_engine_seeding_rule(cohort, result):
    """Replicate b is SeedSequence(7).spawn(20)[b]: re-running every replicate by hand
    gives the same percentile intervals and p_riskiest (ties share first place)."""
    seeds = spawn_seeds(7, 20)
    est = LesionRiskAggregation(penalty=0.05)
    z = np.stack([decision_module._replicate(est, cohort, "os", 3, [], b, s)["values"][:, 0]
                  for b, s in enumerate(seeds)])
    tab = result.table
    np.testing.assert_allclose(tab["risk_ci_low"], np.quantile(z, 0.025, axis=0), rtol=1e-12)
    np.testing.assert_allclose(tab["risk_ci_high"], np.quantile(z, 0.975, axis=0), rtol=1e-12)
    pid = tab["patient_id"].to_numpy()
    first = np.zeros(z.shape[1])
    for row in z:
        best = pd.Series(row).groupby(pid).transform("max").to_numpy()
        top = (row == best).astype(float)
        first += top / pd.Series(top).groupby(pid).transform("sum").to_numpy()
    np.testing.assert_allclose(tab["p_riskiest"], first / 20, rtol=1e-12)


def test_identical_for_any_n_jobs_and_backend(cohort, result, monkeypatch):
    monkeypatch.setattr(decision_module, "SERIAL_BELOW_SECONDS", 0.0)   # force the workers
    est = LesionRiskAggregation(penalty=0.05)
    threads = lesion_decision_table(est, cohort, "os", n_boot=20, n_folds=3, random_state=7,
                                    n_jobs=2, backend="threading")
    pd.testing.assert_frame_equal(threads.table, result.table, check_exact=True)


@pytest.mark.slow
def test_identical_with_worker_processes(cohort, result, monkeypatch):
    """loky worker processes (about 5 s to start on a small machine)."""
    monkeypatch.setattr(decision_module, "SERIAL_BELOW_SECONDS", 0.0)
    procs = lesion_decision_table(LesionRiskAggregation(penalty=0.05), cohort, "os",
                                  n_boot=20, n_folds=3, random_state=7, n_jobs=2)
    pd.testing.assert_frame_equal(procs.table, result.table, check_exact=True)


class _FailsOnCopies(LesionRiskAggregation):
    """Fails when a training cohort holds two copies of patient P001 (a bootstrap draw)."""

    def fit(self, cohort, endpoint=None):
        if sum(o == "P001" for o in (cohort.original_ids or ())) >= 2:
            raise FitError("two copies of P001")
        return super().fit(cohort, endpoint)


def test_failed_replicates_are_counted_and_bounded(cohort):
    res = lesion_decision_table(_FailsOnCopies(penalty=0.05), cohort, "os", n_boot=20,
                                n_folds=3, random_state=1, max_failed=0.5)
    assert 0 < res.n_failed < 20
    assert list(res.failures.columns) == ["replicate", "reason"]
    assert res.failures["reason"].str.contains("two copies of P001").all()
    share = res.table.groupby("patient_id")["p_riskiest"].sum()
    np.testing.assert_allclose(share, 1.0, rtol=1e-12)       # over successful replicates
    with pytest.raises(ResamplingError, match="failed"):
        lesion_decision_table(_FailsOnCopies(penalty=0.05), cohort, "os", n_boot=20,
                              n_folds=3, random_state=1, max_failed=0.0)


def test_strategy_d_adds_response_probabilities_with_intervals(cohort):
    res = lesion_decision_table(LesionResponseAggregation(), cohort, n_boot=20, n_folds=3,
                                random_state=2, high_risk=0.8)
    tab = res.table
    for name in ("p_response_rt", "p_response_no_rt"):
        assert (tab[f"{name}_ci_low"] <= tab[f"{name}_ci_high"]).all()
        assert tab[name].between(0, 1).all()
    # risk ranks lesions by 1 - p_response_no_rt within a fold
    for _, g in tab.groupby("fold"):
        assert np.corrcoef(g["risk"], -g["p_response_no_rt"])[0, 1] > 0.999
    assert (tab["p_response_rt"] >= tab["p_response_no_rt"]).all()   # RT helps here
    assert 0.05 < tab["high_risk"].mean() < 0.4


# ----------------------------------------------------------------------------- policy
def test_policy_oracle_random_and_largest(cohort):
    truth = cohort.truth["lesions"]
    base = cohort.baseline_lesions()
    oracle = base[["patient_id", "lesion_id"]].assign(risk=truth["score"].to_numpy())
    res = compare_policies(oracle, cohort, n_boot=200, random_state=0)
    rules = res.rules.set_index("rule")
    assert res.target == "truth"
    m = base.groupby("patient_id").size()
    multi = m[m >= 2]
    assert res.n_patients == len(multi) == rules.loc["top_ranked", "n_patients"]
    assert rules.loc["top_ranked", "hit_rate"] == 1.0
    assert rules.loc["random", "hit_rate"] == pytest.approx((1 / multi).mean(), rel=1e-12)
    assert res.chance == pytest.approx((1 / multi).mean(), rel=1e-12)
    # largest: naive group-by (first lesion in table order on ties)
    b = base.assign(worst=truth["is_worst"].to_numpy())
    b = b[b["patient_id"].isin(multi.index)]
    pick = b.loc[b.groupby("patient_id", sort=False)["volume_ml"].idxmax()]
    assert rules.loc["largest", "hit_rate"] == pytest.approx(pick["worst"].mean(), rel=1e-12)
    assert (res.rules["ci_low"] <= res.rules["hit_rate"]).all()
    assert (res.rules["hit_rate"] <= res.rules["ci_high"]).all()
    diff = res.differences.set_index(["rule", "versus"])
    assert diff.loc[("top_ranked", "random"), "difference"] == pytest.approx(
        1.0 - res.chance, rel=1e-12)
    again = compare_policies(oracle, cohort, n_boot=200, random_state=0)
    pd.testing.assert_frame_equal(again.rules, res.rules)


def test_policy_observed_target_uses_non_irradiated_growth():
    p = pd.DataFrame(index=pd.Index(["A", "B", "C"], name="patient_id"))
    les = pd.DataFrame({
        "patient_id": ["A"] * 3 + ["B"] * 3 + ["C"] * 2,
        "lesion_id": list("abcdefgh"),
        "volume_ml": [5.0, 1.0, 2.0, 1.0, 9.0, 3.0, 4.0, 2.0],
        "irradiated": [1, 0, 0, 0, 0, 0, 0, 0],
        "longest_diameter_mm": [20.0] * 8,
        "diameter_followup_mm": [40.0, 22.0, 30.0, 10.0, 18.0, np.nan, 25.0, 21.0]})
    c = Cohort(p, les)
    table = les[["patient_id", "lesion_id"]].assign(
        risk=[9.0, 0.1, 0.2, 0.5, 0.4, 9.0, 0.3, 0.6])
    res = compare_policies(table, c, n_boot=50, random_state=0)
    assert res.target == "observed" and res.n_patients == 3
    hits = res.rules.set_index("rule")["hits"]
    # A: candidates b, c (a irradiated); grew most: c; top-ranked c; largest c
    # B: candidates d, e (f: no follow-up); grew most: e; top-ranked d; largest e
    # C: g, h; grew most: g; top-ranked h; largest g
    assert hits["top_ranked"] == 1 and hits["largest"] == 3
    assert hits["random"] == pytest.approx(1.5)
    with pytest.raises(SchemaError, match="simulated cohort"):
        compare_policies(table, c, target="truth", n_boot=50)
    with pytest.raises(SchemaError, match="missing from the decision table"):
        compare_policies(table.iloc[1:], c, n_boot=50)


# ---------------------------------------------------------------------------- figures
def test_decision_display_selects_and_draws(result):
    disp = LesionDecisionDisplay.from_decisions(result, max_patients=5, select="uncertain")
    top = result.patient_summary().set_index("patient_id")
    multi = top.loc[top["n_lesions"] >= 2, "top_p_riskiest"].sort_values(kind="mergesort")
    assert disp.patients == [str(p) for p in multi.index[:5]]
    assert disp.plot() is disp
    assert isinstance(disp.figure_, Figure)
    n_lesions = result.table.set_index("patient_id").loc[disp.patients].shape[0]
    assert len(disp.ax_.get_yticks()) == n_lesions
    chosen = LesionDecisionDisplay.from_decisions(result.table, patients=["P002", "P001"])
    assert chosen.patients == ["P002", "P001"] and chosen.ci_level is None
    with pytest.raises(SchemaError, match="not in the decision table"):
        LesionDecisionDisplay.from_decisions(result, patients=["nobody"])
    with pytest.raises(SchemaError, match="lacks columns"):
        LesionDecisionDisplay.from_decisions(result.table.drop(columns="p_riskiest"))


def test_policy_display_draws(cohort, result):
    res = compare_policies(result, cohort, n_boot=100, random_state=0)
    disp = PolicyComparisonDisplay.from_comparison(res).plot()
    assert [t.get_text() for t in disp.ax_.get_yticklabels()] == [
        "Top-ranked lesion", "Largest lesion", "Random lesion"]
    assert "truly worst" in disp.ax_.get_xlabel()


# ------------------------------------------------------------------------- simulation
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_top_ranked_lesion_is_the_worst_at_twice_chance_and_p_riskiest_is_calibrated(seed):
    """E on 200 simulated patients (worst-lesion driver), B = 40. The top-ranked lesion is
    the truly worst one at >= 2x chance, and the mean p_riskiest of the top-ranked lesions
    is within 0.15 of that hit rate (5 seeds at B = 100: analyses/lesion_decisions)."""
    c = simulate_cohort(n_patients=200, random_state=seed, driver="worst")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = lesion_decision_table(LesionRiskAggregation(penalty=0.1), c, "os", n_boot=40,
                                    random_state=seed)
    tab = res.table.assign(worst=c.truth["lesions"]["is_worst"].to_numpy())
    top = tab.loc[(tab["rank_in_patient"] == 1) & (tab["n_lesions"] >= 2)]
    hit, chance = top["worst"].mean(), (1 / top["n_lesions"]).mean()
    assert hit >= 2 * chance
    assert abs(top["p_riskiest"].mean() - hit) < 0.15


# -------------------------------------------------------------------------- benchmark
def test_benchmark_smoke(capsys):
    """benchmarks/bench_lesion_decision.py --smoke runs end to end (no timing asserted)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_lesion_decision.py"
    spec = importlib.util.spec_from_file_location("bench_lesion_decision", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "strategy E: 40 patients" in out and "B = 20" in out and "0 failed" in out

"""The worked analyses in analyses/ run end to end on tiny settings.

``analyses/compare_strategies/compare.py`` (issue 5) and
``analyses/aggregation_benchmark/benchmark.py`` (issue 6) are scripts, not package
modules, so they are loaded from their files. Settings are tiny (80 patients, 3 bootstrap
replicates): these tests check the plumbing and the tables, plus one truth the simulator
guarantees (when total burden drives survival, burden beats clinical covariates on
independent patients); the real results are in analyses/README.md.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from survrad.data.simulate import simulate_cohort

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = ["clinical", "burden_only", "A_largest", "B_burden", "C_statistics",
             "D_lesion_response", "E_lesion_risk", "F_attention_mil"]


def _load(name: str, relpath: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / relpath)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compare():
    # the same module name benchmark.py uses, so both share one loaded copy
    return _load("survrad_analyses_compare_strategies", "analyses/compare_strategies/compare.py")


@pytest.fixture(scope="module")
def benchmark():
    return _load("survrad_analyses_benchmark", "analyses/aggregation_benchmark/benchmark.py")


@pytest.fixture(scope="module")
def tiny_comparison(compare):
    return compare.run_comparison(n_patients=80, n_boot=3, random_state=0, n_jobs=1,
                                  n_external=200)


def _check_summary(summary: pd.DataFrame, pipelines: list[str], n_boot: int) -> None:
    assert summary["pipeline"].tolist() == pipelines          # one row per pipeline, in order
    assert summary["n_boot"].eq(n_boot).all()
    failed = summary["n_failed"]
    assert failed.dtype.kind == "i" and failed.between(0, n_boot).all()
    ok = failed < n_boot
    assert np.isfinite(summary.loc[ok, ["apparent", "optimism", "corrected"]]).all().all()
    assert summary.loc[ok, "corrected"].between(0, 1).all()
    # corrected = apparent - optimism (Harrell), whatever the pipeline
    np.testing.assert_allclose(summary["corrected"], summary["apparent"] - summary["optimism"])
    assert (summary["failure_reasons"] != "").eq(failed > 0).all()


# ------------------------------------------------------------------------ compare.py
def test_comparison_table_has_every_pipeline(tiny_comparison):
    summary, differences = tiny_comparison
    _check_summary(summary, PIPELINES, n_boot=3)
    assert summary["external_c"].between(0.3, 1).all()
    assert np.isfinite(summary["bootstrap_shift"]).all()
    # paired differences: every pipeline but the clinical reference, consistent with the
    # summary's corrected values
    assert differences["pipeline"].tolist() == PIPELINES[1:]
    assert differences["reference"].eq("clinical").all()
    corrected = summary.set_index("pipeline")["corrected"]
    np.testing.assert_allclose(differences["difference"],
                               corrected[PIPELINES[1:]].to_numpy() - corrected["clinical"])
    assert differences["n_pairs"].eq(3).all()


def test_pipelines_differ_only_in_lesion_handling(compare):
    pipes = compare.strategy_pipelines()
    assert list(pipes) == PIPELINES
    params = {n: p.model.get_params() for n, p in pipes.items()}
    assert all(v == params["clinical"] for v in params.values())  # one model for all
    assert pipes["clinical"].strategy is None
    assert pipes["burden_only"].patient_features == ()
    assert all(p.patient_features == ("age", "ecog", "pdl1")
               for n, p in pipes.items() if n != "burden_only")
    assert params["clinical"]["penalty"] == 0.05 and params["clinical"]["l1_ratio"] == 0.5


def test_simulate_split_is_one_population(compare):
    cohort, external = compare.simulate_split(60, 3, driver="burden", n_external=40)
    assert cohort.n_patients == 60 and external.n_patients == 40
    assert not set(cohort.patient_ids) & set(external.patient_ids)
    # the analysis cohort is the first 60 patients of one 100-patient simulation
    whole = simulate_cohort(100, random_state=3, driver="burden")
    pd.testing.assert_frame_equal(cohort.patients, whole.patients.iloc[:60])
    oracle = compare.oracle_concordance(cohort, external)
    assert oracle.index.tolist() == ["analysis", "external"]
    assert oracle.between(0.6, 0.9).all()  # the true lp is informative (C 0.73 at n=2000)


def test_compare_main_prints_and_writes_without_overwriting(compare, tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["--n-patients", "80", "--n-boot", "3", "--n-external", "0", "--out", str(out)]
    assert compare.main(argv) == 0
    text = capsys.readouterr().out
    for name in PIPELINES:
        assert name in text
    assert "corrected C [95% CI]" in text and "Paired differences" in text
    written = pd.read_csv(out / "summary.csv")
    _check_summary(written.fillna({"failure_reasons": ""}), PIPELINES, n_boot=3)
    assert len(pd.read_csv(out / "differences.csv")) == len(PIPELINES) - 1
    before = (out / "summary.csv").read_bytes()
    assert compare.main(argv) == 2                       # exists, no --force: refused
    assert "exists" in capsys.readouterr().err
    assert (out / "summary.csv").read_bytes() == before
    assert compare.main([*argv, "--force"]) == 0
    assert (out / "summary.csv").read_bytes() == before  # same seed, same numbers


def test_compare_main_rejects_bad_penalty(compare, capsys):
    assert compare.main(["--penalty", "lots"]) == 2
    assert "--penalty" in capsys.readouterr().err


# ---------------------------------------------------------------------- benchmark.py
# 80 patients: F's attention rightly stays mean pooling in some scenarios (issue 12 warning)
@pytest.mark.filterwarnings("ignore::survrad.exceptions.AttentionUniformWarning")
def test_benchmark_marks_one_winner_per_scenario(benchmark):
    res = benchmark.run_benchmark(n_patients=80, n_boot=3, random_state=0,
                                  drivers=["burden", "heterogeneity"], n_external=400)
    pipelines = [*PIPELINES, "H_heterogeneity"]
    for scenario in ("burden", "heterogeneity"):
        df = res[res["scenario"] == scenario]
        _check_summary(df.reset_index(drop=True), pipelines, n_boot=3)
        assert df["winner"].sum() == 1
        winner = df.loc[df["winner"]].iloc[0]
        assert winner["corrected"] == df["corrected"].max()
        assert winner["diff_vs_winner"] == 0 and not winner["tied_with_winner"]
        assert df["oracle_external_c"].nunique() == 1
    # simulator truth: with OS driven by total tumour volume, tumour burden alone ranks
    # independent patients better than the clinical covariates do (external C)
    ext = res[res["scenario"] == "burden"].set_index("pipeline")["external_c"]
    assert ext["burden_only"] > ext["clinical"] + 0.05
    wins = benchmark.winners(res)
    assert wins["scenario"].tolist() == ["burden", "heterogeneity"]
    wide = benchmark.format_wide(res)
    assert wide.count("*") == 2 and "H_heterogeneity" in wide


def test_benchmark_main_runs(benchmark, tmp_path, capsys):
    out = tmp_path / "bench"
    argv = ["--n-patients", "80", "--n-boot", "3", "--drivers", "worst", "--n-external", "0",
            "--no-heterogeneity", "--out", str(out)]
    assert benchmark.main(argv) == 0
    text = capsys.readouterr().out
    assert "Winners:" in text and "worst" in text
    res = pd.read_csv(out / "results.csv")
    assert res["pipeline"].tolist() == PIPELINES and res["winner"].sum() == 1
    assert "n_failed" in res.columns

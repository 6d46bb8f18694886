"""Every benchmark on the harness runs with ``--smoke`` (tiny sizes, 2 repeats, no R) and
writes its JSON; the harness itself interleaves the sides and checks agreement."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    key = f"survrad_bench_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


@pytest.mark.slow    # imports lifelines and scikit-survival, compiles the numba floor
@pytest.mark.parametrize("name", ["bench_concordance", "bench_cox_fit", "bench_lasso_path"])
def test_smoke_run_writes_agreeing_figures(name, tmp_path, capsys):
    out = tmp_path / f"{name}.json"
    assert _load(name).main(["--smoke", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == name and doc["params"]["smoke"] is True
    for case in doc["cases"]:
        assert case["agreement"]["ok"]
        assert case["repeats"] == 2
        for side in case["sides"]:
            assert len(side["cpu_seconds"]["all"]) == 2 and side["computes"]
    assert "figures written" in capsys.readouterr().out


def test_harness_interleaves_and_flags_disagreement(tmp_path):
    harness = _load("harness")
    calls = []

    def side(name, value):
        return harness.Side(name, "a number", lambda: calls.append(name) or value)

    case = harness.Case("toy", [side("A", 1.0), side("B", 1.0 + 1e-3)], tolerance=1e-6)
    res = harness.run_cases([case], repeats=5, verbose=False)[0]
    assert calls == ["A", "B"] * 6                       # one warm-up each, then A, B, ...
    assert res["agreement"]["max_difference"]["B"] == pytest.approx(1e-3)
    assert not res["agreement"]["ok"]
    assert set(res["sides"][0]["cpu_seconds"]) == {"min", "median", "max", "all"}
    assert len(res["load_before"]) == 3
    path = harness.write_results("toy", [res], params={"k": 1}, out=tmp_path / "toy.json")
    assert json.loads(path.read_text())["cases"][0]["case"] == "toy"
    with pytest.raises(ValueError, match="shapes"):
        harness.max_abs_diff(np.zeros(2), np.zeros(3))
    with pytest.raises(SystemExit):
        harness.main_args("doc", ["--repeats", "3"])          # fewer than 5 runs per side


@pytest.mark.slow    # imports lifelines, fits its loop, compiles the bootstrap kernels
def test_bootstrap_benchmark_smoke_run(tmp_path, capsys):
    out = tmp_path / "bench_bootstrap.json"
    assert _load("bench_bootstrap").main(["--smoke", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["params"]["smoke"] is True
    assert [c["agreement"]["ok"] for c in doc["cases"]] == [True, True]
    assert {s["name"] for c in doc["cases"] for s in c["sides"]} == {"survrad",
                                                                     "lifelines loop"}


@pytest.mark.slow    # two fresh processes, one of them a 2-worker Dask LocalCluster
def test_bootstrap_100k_smoke_run(tmp_path):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "bench_bootstrap_100k.json"
    assert _load("bench_bootstrap_100k").main(["--smoke", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["identical"] and set(doc["configurations"]) == {"local", "dask"}
    for row in doc["configurations"].values():
        assert row["n_failed"] == 0 and row["peak_pss_mb"] > 0


_TINY_STUDY = """
title = "benchmark smoke"
random_state = 1
[simulate]
n_patients = 60
random_state = 1
[data]
patient_features = ["age", "ecog", "pdl1"]
[endpoints.os]
kind = "survival"
time = "os_time"
event = "os_event"
horizons = [6, 12]
[models.cox]
penalty = 0.1
[validation]
n_boot = 20
baselines = false
n_jobs = 1
"""


@pytest.mark.slow    # two study runs in fresh processes
def test_demo_benchmark_smoke_run(tmp_path, capsys):
    study = tmp_path / "tiny.toml"
    study.write_text(_TINY_STUDY)
    assert _load("bench_demo").main(["--repeats", "1", "--study", str(study)]) == 0
    out = capsys.readouterr().out
    assert "run 1:" in out and "s CPU" in out and "peak memory of one more" in out
    assert "validation of os" in out          # the stages of the timed run's manifest

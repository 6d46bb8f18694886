"""benchmarks/bench_cox_counting.py runs (``--smoke``: 150 patients, no R) and its data
are what it says: (start, stop] rows whose survrad and lifelines fits agree."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    name = "survrad_bench_cox_counting"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks/bench_cox_counting.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow   # importing lifelines and its first fit: about 8 s here
def test_smoke_run_prints_the_table(capsys):
    bench = _bench()
    assert bench.main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "survrad" in out and "lifelines" in out and "skipped (--no-r)" in out


def test_benchmark_data_and_agreement():
    bench = _bench()
    rows = bench.counting_data(150, seed=1)
    assert bench.predictors(rows) == ["x1", "x2", "x3", "x4", "x5", "marker", "responded"]
    assert (rows["start"] < rows["stop"]).all()
    res = bench.python_sides(rows, repeats=1, lifelines_repeats=1)
    table = bench.table(res, len(rows), 150, int(rows["event"].sum()), 7)
    assert table["max_rel_coef_diff"].max() < 1e-6
    assert np.isfinite(table["cpu_ms"]).all()

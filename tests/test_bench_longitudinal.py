"""The longitudinal benchmark script runs (tiny size, ``--smoke``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_longitudinal.py"


def test_bench_longitudinal_smoke(capsys) -> None:
    spec = importlib.util.spec_from_file_location("bench_longitudinal", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    total = module.main(["--smoke"])
    out = capsys.readouterr().out
    assert total > 0
    for stage in ("simulate_cohort", "read_cohort (derive scan_time)", "Delta.fit",
                  "Delta.transform", "total (without setup)"):
        assert stage in out
    assert "40 patients" in out and "120 scans" in out

"""benchmarks/bench_predict.py runs (``--smoke``: 2,000 patients) and writes one row per
patient."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    name = "survrad_bench_predict"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks/bench_predict.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_smoke_run(capsys):
    assert _bench().main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "2000 patients" in out and "median wall" in out


def test_new_patients_have_the_model_columns():
    df = _bench().new_patients(10)
    assert list(df.columns) == ["patient_id", "age", "ecog", "pdl1", "center"]
    assert df["patient_id"].is_unique

"""The coverage study of analyses/external_validation/coverage.py on a few seeds (slow).

The full study (50 seeds per setting) is quoted in analyses/README.md; here 2 seeds per
setting check the plumbing and the two facts every seed should show: the development
model's C on the test centre is estimated without gross bias (the interval covers the
20,000-patient population C), and a centre effect on the baseline hazard shows up as
calibration in the large away from 0 that the baseline-hazard update removes on the
population."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _study():
    name = "survrad_analyses_external_coverage"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "analyses/external_validation/coverage.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_few_seeds():
    study = _study()
    runs = study.run([0, 1], n_test=300, n_boot=200)
    assert len(runs) == 4 and runs["covered"].all()
    hazard = runs[runs["setting"] == "hazard"]
    assert (hazard["citl_frozen_low"] > 0).all()                 # C5's hazard is higher
    assert (hazard["citl_updated_population"].abs() < hazard["citl_frozen_population"]).all()
    summary = study.summarise(runs)
    assert summary["setting"].tolist() == ["features", "hazard"]
    assert summary["coverage"].tolist() == [1.0, 1.0]

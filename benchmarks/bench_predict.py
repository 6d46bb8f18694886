"""``survrad predict`` on many new patients: time to score and write the CSV.

A patient-level Cox model (``age``, ``ecog``, ``pdl1``; 300 simulated development
patients) is saved with ``CohortPipeline.save`` (horizons 6, 12 and 24 months); new
patients (``--patients``, default 100,000, drawn like the simulator's covariates) are
written to a CSV; then :func:`survrad.predict.predict_command` is timed end to end: the
manifest and hash check, unpickling, ``read_cohort`` of the CSV (every check), the risk
and survival at the three horizons, and the atomic write of the output CSV. The target of
issue 14 is under 20 s for 100,000 patients on 2 cores.

Printed: wall and CPU time of each of ``--repeats`` runs (default 3) and the median, the
output size, and whether the target is met.

Run::

    python benchmarks/bench_predict.py               # 100,000 patients
    python benchmarks/bench_predict.py --smoke       # 2,000 patients, 1 repeat
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from survrad.data.simulate import simulate_cohort
from survrad.models.pipeline import CohortPipeline
from survrad.predict import predict_command

TARGET_SECONDS = 20.0


def new_patients(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` new patients with the covariates of the model (no outcome columns)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "patient_id": [f"N{i:06d}" for i in range(n)],
        "age": np.clip(np.round(rng.normal(63, 10, n)), 30, 90),
        "ecog": rng.choice(3, size=n, p=[0.45, 0.40, 0.15]).astype(float),
        "pdl1": np.where(rng.random(n) < 0.35, 0.0, np.round(1 + 99 * rng.beta(0.8, 0.8, n))),
        "center": rng.choice(["C1", "C2", "C3"], size=n)})


def run(n_patients: int, repeats: int, folder: Path) -> dict[str, float]:
    """Save the model, write the patients, time ``repeats`` predictions."""
    dev = simulate_cohort(n_patients=300, random_state=0)
    pipe = CohortPipeline(patient_features=["age", "ecog", "pdl1"]).fit(dev, "os")
    model = pipe.save(folder / "model", dev, horizons=[6, 12, 24])
    patients = folder / "new_patients.csv"
    new_patients(n_patients).to_csv(patients, index=False)
    walls, cpus = [], []
    out = folder / "predictions.csv"
    for k in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        predict_command(model, patients, out=out, force=k > 0)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        print(f"run {k + 1}: wall {walls[-1]:.2f} s, cpu {cpus[-1]:.2f} s", flush=True)
    with out.open() as fh:
        rows = sum(1 for _ in fh) - 1
    if rows != n_patients:
        raise RuntimeError(f"the CSV has {rows} rows, expected {n_patients}")
    return {"patients": n_patients, "median_wall": statistics.median(walls),
            "median_cpu": statistics.median(cpus), "bytes": out.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    """Command line; returns 0 (1 when the full-size run misses the target)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="2,000 patients, 1 repeat")
    args = ap.parse_args(argv)
    n, repeats = (2_000, 1) if args.smoke else (args.patients, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        res = run(n, repeats, Path(tmp))
    met = res["median_wall"] < TARGET_SECONDS * n / 100_000
    print(f"survrad predict, {n} patients (patient-level Cox, 3 horizons): median wall "
          f"{res['median_wall']:.2f} s, cpu {res['median_cpu']:.2f} s, "
          f"CSV {res['bytes'] / 1e6:.1f} MB; target {TARGET_SECONDS:g} s per 100,000: "
          f"{'met' if met else 'MISSED'}")
    return 0 if met or args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())

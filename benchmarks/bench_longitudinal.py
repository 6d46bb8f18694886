"""Time of the longitudinal path: simulate, read with scan dates, delta features.

A cohort of 2,000 patients with about 5 lesions each and 6 scans (baseline, then every
2 months) is simulated with ``simulate_cohort(timepoints=6)`` in a long-survival setting
(``median_os_months=240``, no censoring), so that nearly every patient has all 6 scans
and the lesion table has about 2,000 x 5 x 6 = 60,000 rows (the realised counts are
printed). The tables are written as CSV with ``scan_date`` only, then

1. ``read_cohort`` reads them, checks the scans and derives ``scan_time`` (months) from
   the dates;
2. ``Delta`` with the two-timepoint changes (absolute, relative, log-ratio), per-lesion
   slopes over the 6 scans and per-scan new / vanished counts is fitted, then applied.

Wall and CPU seconds of every stage are printed, with the total (simulation, reading,
delta features; writing the CSV files is setup and not counted) against the target of
30 s on 2 cores. CPU seconds above wall seconds mean several threads; wall seconds far
above CPU seconds mean a busy machine (the load average is printed).

Run::

    python benchmarks/bench_longitudinal.py            # the full size
    python benchmarks/bench_longitudinal.py --smoke    # 40 patients, 3 scans: seconds
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import survrad as sr
from survrad.lesions import Delta

TARGET_SECONDS = 30.0
#: Writing the CSV files is the benchmark's own setup, not part of the path (not in totals).
SETUP = "(setup) write CSV, dates only"


def timed(stages: list[tuple[str, float, float]], name: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn``, append ``(name, wall, cpu)`` to ``stages`` and return its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    stages.append((name, time.perf_counter() - wall, time.process_time() - cpu))
    return out


def run(n_patients: int, timepoints: int, seed: int = 0) -> list[tuple[str, float, float]]:
    """Every stage once; prints the sizes and returns ``(stage, wall, cpu)`` rows."""
    stages: list[tuple[str, float, float]] = []
    cohort = timed(stages, "simulate_cohort", lambda: sr.simulate_cohort(
        n_patients=n_patients, random_state=seed, timepoints=timepoints,
        median_os_months=240.0, censoring=0.0))
    les = cohort.lesions
    print(f"{cohort.n_patients} patients, {les['lesion_id'].nunique()} lesions "
          f"({les['lesion_id'].nunique() / cohort.n_patients:.2f} per patient), "
          f"{len(cohort.scans)} scans, {len(les)} lesion rows, "
          f"{len(cohort.lesion_features)} features")
    with tempfile.TemporaryDirectory() as tmp:
        ppath, lpath = Path(tmp) / "patients.csv", Path(tmp) / "lesions.csv"

        def write() -> None:
            cohort.patients.reset_index().to_csv(ppath, index=False)
            les.drop(columns="scan_time").to_csv(lpath, index=False, date_format="%Y-%m-%d")

        timed(stages, SETUP, write)
        read = timed(stages, "read_cohort (derive scan_time)", lambda: sr.read_cohort(
            ppath, lpath, patient_features=["age", "ecog", "pdl1"],
            lesion_features=["rad_*"], scan_time_unit="months"))
    delta = Delta(kinds=["absolute", "relative", "log_ratio", "slope"], per_scan_counts=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        timed(stages, "Delta.fit", lambda: delta.fit(read))
        out = timed(stages, "Delta.transform", lambda: delta.transform(read))
    print(f"delta features: {out.shape[1]} columns for {out.shape[0]} patients; "
          f"{len(caught)} warning(s) (fill rule for patients without a value)")
    return stages


def report(stages: list[tuple[str, float, float]]) -> float:
    """Print the stage table; return the total wall seconds."""
    width = max(len(s[0]) for s in stages)
    print(f"{'stage':<{width}}  {'wall s':>8}  {'CPU s':>8}")
    for name, wall, cpu in stages:
        print(f"{name:<{width}}  {wall:8.2f}  {cpu:8.2f}")
    total_wall = sum(s[1] for s in stages if s[0] != SETUP)
    total_cpu = sum(s[2] for s in stages if s[0] != SETUP)
    print(f"{'total (without setup)':<{width}}  {total_wall:8.2f}  {total_cpu:8.2f}   "
          f"(target < {TARGET_SECONDS:.0f} s on 2 cores)")
    return total_wall


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="40 patients and 3 scans, to check the script runs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.2f}; cores: {os.cpu_count()}")
    n, k = (40, 3) if args.smoke else (2000, 6)
    total = report(run(n, k, args.seed))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return total


if __name__ == "__main__":
    main()

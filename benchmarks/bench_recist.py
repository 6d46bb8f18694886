"""Speed of survrad.recist and survrad.pfs_from_scans on a simulated multi-scan study.

Data: ``--patients`` patients (default 2,000), ``--lesions`` baseline lesions each
(default 5; one in five a lymph node with a short axis), ``--scans`` scans (default 6:
baseline and five follow-ups eight weeks apart, dated). Each lesion follows a random walk
on the log scale with a patient-level trend (shrinking, stable or growing), some lesions
vanish (0 mm), and about one patient in six gets a new lesion at a random follow-up.
Prints the wall time of RECIST 1.1 (with confirmation), iRECIST and PFS, best of
``--repeat``, and the distribution of best overall responses. No assertions.

Run:  python benchmarks/bench_recist.py [--patients 2000] [--lesions 5] [--scans 6]
                                        [--repeat 3] [--smoke]
``--smoke`` runs 20 patients x 3 lesions x 3 scans once (what the test suite runs).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad.longitudinal import pfs_from_scans, recist

ORGANS = np.array(["liver", "lung", "bone", "adrenal", "lymph_node"])


def simulate_scans(n_patients: int, n_lesions: int, n_scans: int,
                   seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A lesion table (one row per lesion and scan) and a patient table with deaths."""
    rng = np.random.default_rng(seed)
    pid = np.repeat([f"P{i:05d}" for i in range(n_patients)], n_lesions)
    lid = np.tile([f"L{j}" for j in range(n_lesions)], n_patients)
    organ = ORGANS[rng.integers(0, ORGANS.size, pid.size)]
    nodal = organ == "lymph_node"
    base = np.exp(rng.normal(np.log(22.0), 0.45, pid.size))
    trend = np.repeat(rng.normal(0.0, 0.12, n_patients), n_lesions)
    steps = rng.normal(trend[:, None], 0.08, (pid.size, n_scans - 1))
    logs = np.log(base)[:, None] + np.concatenate([np.zeros((pid.size, 1)),
                                                   np.cumsum(steps, axis=1)], axis=1)
    size = np.round(np.exp(logs), 1)
    size[size < 5.0] = 0.0                                    # vanished lesions
    tp = np.tile(np.arange(n_scans), pid.size)
    rows = pd.DataFrame({
        "patient_id": np.repeat(pid, n_scans), "lesion_id": np.repeat(lid, n_scans),
        "timepoint": tp, "organ": np.repeat(organ, n_scans),
        "longest_diameter_mm": size.ravel(),
        "short_axis_mm": np.where(np.repeat(nodal, n_scans), np.round(size.ravel() * 0.7, 1),
                                  np.nan)})
    start = pd.Timestamp("2021-01-04") + pd.to_timedelta(rng.integers(0, 365, n_patients),
                                                         unit="D")
    rows["scan_date"] = (np.repeat(start.to_numpy(), n_lesions * n_scans)
                         + pd.to_timedelta(tp * 56, unit="D").to_numpy())
    new = _new_lesions(rng, n_patients, n_scans, start)
    lesions = pd.concat([rows, new], ignore_index=True)
    death_day = rng.exponential(600.0, n_patients)
    patients = pd.DataFrame({"patient_id": [f"P{i:05d}" for i in range(n_patients)],
                             "death_date": start + pd.to_timedelta(
                                 np.maximum(death_day, 56 * (n_scans - 1)), unit="D"),
                             "death": (death_day < 900).astype(int)})
    return lesions, patients


def _new_lesions(rng: np.random.Generator, n_patients: int, n_scans: int,
                 start: pd.DatetimeIndex) -> pd.DataFrame:
    """About one patient in six: a liver lesion appearing at a random follow-up scan."""
    who = np.flatnonzero(rng.random(n_patients) < 1 / 6)
    first = rng.integers(1, n_scans, who.size) if n_scans > 1 else np.zeros(0, int)
    reps = n_scans - first
    patient = np.repeat(who, reps)
    tp = np.concatenate([np.arange(f, n_scans) for f in first]) if who.size else []
    tp = np.asarray(tp, dtype=int)
    return pd.DataFrame({
        "patient_id": [f"P{i:05d}" for i in patient], "lesion_id": "N1", "timepoint": tp,
        "organ": "liver", "longest_diameter_mm": np.round(rng.uniform(6, 25, tp.size), 1),
        "short_axis_mm": np.nan,
        "scan_date": start[patient].to_numpy() + pd.to_timedelta(tp * 56, unit="D").to_numpy()})


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls, and the last value."""
    best, value = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--lesions", type=int, default=5)
    parser.add_argument("--scans", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run")
    args = parser.parse_args(argv)
    if args.smoke:
        args.patients, args.lesions, args.scans, args.repeat = 20, 3, 3, 1
    lesions, patients = simulate_scans(args.patients, args.lesions, args.scans)
    print(f"{args.patients:,} patients x {args.lesions} lesions x {args.scans} scans: "
          f"{len(lesions):,} lesion rows")
    t_r, res = best_time(lambda: recist(lesions, confirm=True), args.repeat)
    print(f"recist(criteria='recist1.1', confirm=True): {t_r:.3f} s")
    t_i, ires = best_time(lambda: recist(lesions, "irecist"), args.repeat)
    print(f"recist(criteria='irecist'):                 {t_i:.3f} s")
    t_p, _ = best_time(lambda: pfs_from_scans(res, patients, death_time_col="death_date",
                                              death_event_col="death"), args.repeat)
    print(f"pfs_from_scans:                             {t_p:.3f} s")
    for name, r in (("RECIST 1.1", res), ("iRECIST", ires)):
        counts = r.best_response["best_response"].value_counts().sort_index()
        print(f"{name} best response: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Counting-process Cox fit: survrad against lifelines' CoxTimeVaryingFitter and R's coxph.

Data: :func:`survrad.longitudinal.simulate_switch` (the hazard doubles after a
response-like switch; five fixed covariates) plus a scan every 0.25 time units carrying
a noise marker, turned into (start, stop] rows by
:func:`survrad.longitudinal.counting_process_rows`. Predictors: ``x1..x5``, the marker
(carried forward) and ``responded`` (switching on at the response scan). The default
size, 5000 patients, gives about 16,600 rows and 3,700 events.

Each side fits ``Surv(start, stop, event) ~ x1 + ... + x5 + marker + responded`` with
Efron ties and the model-based variance:

* survrad: ``CoxModel().fit(X, y)`` with ``y = Surv.from_counting(...)`` built once
  outside the timing (the fit's input checks, rank check and baseline hazard included);
* lifelines: ``CoxTimeVaryingFitter().fit(df, event_col="event", start_col="start",
  stop_col="stop")`` (it also computes its baseline hazard and standard errors);
* R, when ``Rscript`` is on the PATH: ``coxph(Surv(start, stop, event) ~ ...,
  ties = "efron", control = coxph.control(timefix = FALSE))`` timed inside one warm R
  process (``benchmarks/r/coxph_counting.R``: one untimed fit, then the timed ones; R
  start-up and reading the CSV excluded). ``timefix = FALSE`` because R's default first
  merges times equal up to ``all.equal``'s tolerance (``aeqSurv``): on these continuous
  times a few near-ties merge and the coefficients move by about 1e-6 relative, while
  survrad and lifelines take the times as given.

Printed: median wall and CPU time of one fit over ``--repeats`` (default 7; lifelines:
``--lifelines-repeats``, default 1, without a warm-up fit, as each of its fits takes
tens of seconds here), the ratio to survrad, and the largest absolute and relative
difference of each side's coefficients from survrad's. BLAS threads are limited to one
for every side (a small shared machine otherwise measures its own oversubscription).

Run::

    python benchmarks/bench_cox_counting.py              # 5000 patients, about 1-2 minutes
    python benchmarks/bench_cox_counting.py --patients 20000
    python benchmarks/bench_cox_counting.py --smoke      # 150 patients, 2 repeats, no R
    python benchmarks/bench_cox_counting.py --no-r
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.linalg  # noqa: F401  (load every BLAS before limiting its threads)
from threadpoolctl import threadpool_limits

from survrad.data.outcome import Surv
from survrad.longitudinal import counting_process_rows, simulate_switch
from survrad.models.cox import CoxModel

HERE = Path(__file__).resolve().parent
R_SCRIPT = HERE / "r" / "coxph_counting.R"
SCAN_EVERY = 0.25
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def counting_data(n_patients: int, seed: int = 0) -> pd.DataFrame:
    """(start, stop] rows: ``patient_id, start, stop, event, x1..x5, marker, responded``."""
    sim = simulate_switch(n_patients, hazard_ratio=2.0, n_covariates=5, random_state=seed)
    rng = np.random.default_rng(seed + 1)
    end = sim.patients["os_time"]
    n_scans = np.floor(end.to_numpy() / SCAN_EVERY).astype(int) + 1
    grid = pd.DataFrame({
        "patient_id": np.repeat(end.index.to_numpy(dtype=object), n_scans),
        "scan_time": np.concatenate([SCAN_EVERY * np.arange(k) for k in n_scans])})
    grid = grid[grid["scan_time"] <= np.repeat(end.to_numpy(), n_scans)]
    switch = sim.scans[sim.scans["responded"] == 1].set_index("patient_id")["scan_time"]
    scans = pd.concat([grid, switch.reset_index()], ignore_index=True)
    seen = switch.reindex(scans["patient_id"]).to_numpy()
    with np.errstate(invalid="ignore"):
        scans["responded"] = (scans["scan_time"].to_numpy() >= seen).astype(int)
    scans["marker"] = rng.normal(size=len(scans))
    rows = counting_process_rows(sim.patients, scans, time_col="os_time",
                                 event_col="os_event", covariates=["marker"],
                                 switch_on={"responded": "responded"},
                                 baseline=[f"x{k}" for k in range(1, 6)])
    return rows


def predictors(rows: pd.DataFrame) -> list[str]:
    return [c for c in rows.columns if c not in ("patient_id", "start", "stop", "event")]


def timed(fn: Callable[[], np.ndarray], repeats: int, warm_up: bool = True) -> dict:
    """Median wall and CPU seconds over ``repeats`` calls (one untimed call first)."""
    coef = fn() if warm_up else None
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        coef = fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return {"seconds": float(np.median(wall)), "cpu_seconds": float(np.median(cpu)),
            "coef": np.asarray(coef, dtype=float)}


def python_sides(rows: pd.DataFrame, repeats: int, lifelines_repeats: int) -> dict[str, dict]:
    from lifelines import CoxTimeVaryingFitter

    cols = predictors(rows)
    X = rows[cols].astype(float)
    y = Surv.from_counting(start=rows["start"], stop=rows["stop"], event=rows["event"],
                           ids=rows["patient_id"])
    df = rows[["patient_id", "start", "stop", "event", *cols]]

    def survrad_fit() -> np.ndarray:
        return CoxModel(min_epv=0).fit(X, y).coef_

    def lifelines_fit() -> np.ndarray:
        fitter = CoxTimeVaryingFitter().fit(df.drop(columns="patient_id"), event_col="event",
                                            start_col="start", stop_col="stop")
        return fitter.params_[cols].to_numpy()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # lifelines' convergence chatter
        return {"survrad": timed(survrad_fit, repeats),
                "lifelines": timed(lifelines_fit, lifelines_repeats, warm_up=False)}


def r_side(rows: pd.DataFrame, repeats: int) -> dict | str:
    """R's coxph timed in one warm process, or why it cannot run."""
    if shutil.which("Rscript") is None:
        return "Rscript not found on the PATH"
    env = {**os.environ, **dict.fromkeys(THREAD_VARS, "1")}
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "rows.csv"
        rows.to_csv(csv, index=False, float_format="%.17g")
        done = subprocess.run(["Rscript", str(R_SCRIPT), str(csv), str(repeats)],
                              capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return f"Rscript failed: {done.stderr.strip()[-300:]}"
    res = json.loads(done.stdout.strip().splitlines()[-1])
    res["coef"] = np.asarray(res["coef"], dtype=float)
    return res


def table(results: dict[str, dict], n_rows: int, n_patients: int, n_events: int,
          p: int) -> pd.DataFrame:
    base = results["survrad"]
    out = []
    for name, r in results.items():
        diff = np.abs(r["coef"] - base["coef"])
        out.append({"library": name, "patients": n_patients, "rows": n_rows,
                    "events": n_events, "p": p, "wall_ms": 1000 * r["seconds"],
                    "cpu_ms": 1000 * r["cpu_seconds"],
                    "wall_ratio_to_survrad": r["seconds"] / base["seconds"],
                    "max_abs_coef_diff": float(diff.max()),
                    "max_rel_coef_diff": float((diff / np.abs(base["coef"])).max())})
    return pd.DataFrame(out)


def run(n_patients: int, repeats: int, use_r: bool, seed: int = 0,
        lifelines_repeats: int = 1) -> pd.DataFrame:
    rows = counting_data(n_patients, seed)
    results = python_sides(rows, repeats, lifelines_repeats)
    r_note = None
    if use_r:
        r = r_side(rows, repeats)
        if isinstance(r, str):
            r_note = r
        else:
            results["R coxph"] = r
            r_note = f"{r['r']}, survival {r['survival']}"
    out = table(results, len(rows), n_patients, int(rows["event"].sum()),
                len(predictors(rows)))
    print(out.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"R: {r_note or 'skipped (--no-r)'}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--lifelines-repeats", type=int, default=1,
                        help="timed lifelines fits (each takes tens of seconds at 5000 "
                        "patients; no untimed warm-up fit)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-r", action="store_true", help="skip R even when present")
    parser.add_argument("--smoke", action="store_true",
                        help="150 patients, 2 repeats, no R (a quick check that it runs)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.patients, args.repeats, args.lifelines_repeats, args.no_r = 150, 2, 1, True
    with threadpool_limits(limits=1):
        run(args.patients, args.repeats, not args.no_r, args.seed, args.lifelines_repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Bootstrap validation at 100,000 patients: wall, CPU and peak memory, local and Dask.

``bootstrap_validate(CohortPipeline(model=CoxModel()), cohort, "os", B,
metrics=["c_index", "calibration_slope"])`` on ``--n`` simulated patients (default
100,000) with p = 20 features (``bench_bootstrap.simulate``), B = 200, on two cores:

* ``local``: ``n_jobs=2`` (joblib's loky worker processes);
* ``dask``: ``backend="dask"`` on a 2-worker ``LocalCluster`` (one thread each).

Each configuration runs in a fresh process. Reported per configuration: wall seconds,
CPU seconds of the process and all its descendants (workers included: the children's
``/proc`` times, summed), and the peak proportional set size (PSS) summed over the
process tree, sampled every 0.1 s (``benchmarks/_memory.py``). The two configurations
must give identical replicate tables (same seeds): their corrected C and slope and a
hash of the replicate values are compared.

Run::

    python benchmarks/bench_bootstrap_100k.py                 # about 10-20 minutes
    python benchmarks/bench_bootstrap_100k.py --n 20000 --boot 50
    python benchmarks/bench_bootstrap_100k.py --smoke         # n = 2000, B = 4 (tests)

Writes ``benchmarks/results/bench_bootstrap_100k.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _memory import run_process

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {"wall_seconds": 600.0, "peak_pss_mb": 2048.0}


def child(cfg: dict) -> dict:
    """One configuration in this (fresh) process; returns its numbers."""
    import warnings

    from bench_bootstrap import simulate, survrad_cohort

    import survrad as sr
    from survrad.exceptions import StatisticalWarning

    warnings.simplefilter("ignore", StatisticalWarning)   # n_boot < 20 (--smoke)
    cohort = survrad_cohort(simulate(cfg["n"], cfg["p"]))
    pipe = sr.CohortPipeline(model=sr.CoxModel())
    kw = dict(metrics=["c_index", "calibration_slope"], random_state=cfg["seed"],
              progress=False)
    if cfg["backend"] == "dask":
        kw["backend"] = "dask"
    else:
        kw["n_jobs"] = cfg["n_jobs"]
    t0 = time.perf_counter()
    res = sr.bootstrap_validate(pipe, cohort, "os", n_boot=cfg["B"], **kw)
    wall = time.perf_counter() - t0
    rep = res.replicates
    values = rep.select_dtypes("number").drop(columns=["replicate"]).to_numpy(float)
    s = res.summary().set_index("metric")
    return {"bootstrap_wall_seconds": wall,
            "c_corrected": float(s.loc["c_index", "corrected"]),
            "slope_corrected": float(s.loc["calibration_slope", "corrected"]),
            "n_failed": int(s["n_failed"].max()),
            "replicates_sha256": hashlib.sha256(values.tobytes()).hexdigest()}


def _tree_cpu_seconds() -> float:
    """CPU seconds of this process and its waited-for children (os.times)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def measure(cfg: dict) -> dict:
    cpu0 = _tree_cpu_seconds()
    out, wall, peak = run_process([sys.executable, str(Path(__file__).resolve()), "--child",
                                   json.dumps(cfg)])
    cpu = _tree_cpu_seconds() - cpu0
    res = json.loads(out.strip().splitlines()[-1])
    return {**cfg, **res, "process_wall_seconds": wall, "cpu_seconds": cpu,
            "peak_pss_mb": peak}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--p", type=int, default=20)
    parser.add_argument("--boot", type=int, default=200)
    parser.add_argument("--configs", nargs="+", default=["local", "dask"],
                        choices=["local", "dask"])
    parser.add_argument("--smoke", action="store_true", help="n = 2000, B = 4")
    parser.add_argument("--out", default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    if args.smoke:
        args.n, args.boot = 2000, 4
    rows = {}
    for name in args.configs:
        cfg = {"n": args.n, "p": args.p, "B": args.boot, "seed": 2026, "backend": name,
               "n_jobs": 2}
        rows[name] = r = measure(cfg)
        print(f"{name:>6}: wall {r['process_wall_seconds']:8.1f} s (bootstrap_validate "
              f"{r['bootstrap_wall_seconds']:.1f} s), CPU {r['cpu_seconds']:8.1f} s, peak PSS "
              f"{r['peak_pss_mb']:7.0f} MB; corrected C {r['c_corrected']:.6f}, slope "
              f"{r['slope_corrected']:.6f}, failed {r['n_failed']}")
    hashes = {r["replicates_sha256"] for r in rows.values()}
    identical = len(hashes) == 1
    print(f"identical replicate tables across configurations: {identical}")
    doc = {"benchmark": "bench_bootstrap_100k", "command": " ".join(["python", *sys.argv]),
           "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
           "machine": {"platform": platform.platform(), "python": sys.version.split()[0],
                       "numpy": np.__version__, "cpus": os.cpu_count(),
                       "load_after": list(os.getloadavg())},
           "params": {"n": args.n, "p": args.p, "B": args.boot, "smoke": args.smoke},
           "targets": TARGETS, "configurations": rows, "identical": identical}
    path = Path(args.out) if args.out else RESULTS / "bench_bootstrap_100k.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"figures written to {path}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())

"""Time, CPU and peak memory of the users' main job: ``survrad run --demo`` (issues 6, 18).

Runs the built-in demo study (300 simulated patients, 6 lesion strategies + 2 baselines,
Cox and random survival forest for overall survival, logistic and forest classifier for
objective response, B = 25 patient resamples, ``n_jobs = 2``) exactly as a user types it,
in a fresh process, ``--repeats`` times, and prints:

* the wall time and the CPU seconds (user + system, the joblib workers included) of each
  run, and the median wall time against issue 18's target of 60 s on 2 cores;
* the peak proportional set size (PSS) of the whole process tree (the joblib workers
  included), sampled every 0.1 s;
* the seconds per stage of the median run, read from its ``manifest.json``
  (``durations``).

``--study FILE`` times another study file instead (e.g. a proposed version of the demo
study; its ``[simulate]`` table makes it self-contained). The environment is the user's:
no thread limits are set (joblib limits the BLAS threads of its worker processes itself).
The load average before and after is printed, because other work on the machine inflates
every wall time (the CPU seconds much less).

Run::

    python benchmarks/bench_demo.py [--repeats 3] [--study FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _memory import run_process_cpu

TARGET_SECONDS = 60.0


def run_demo(out: Path, study: str | None = None) -> tuple[float, float, float]:
    """Run ``survrad run --demo --out out`` (or ``study``); return wall seconds, CPU
    seconds and peak tree PSS (MB)."""
    what = ["--demo"] if study is None else [str(study)]
    cmd = [sys.executable, "-c", "import sys; from survrad.cli import main; sys.exit(main())",
           "run", *what, "--out", str(out)]
    _, wall, peak, cpu = run_process_cpu(cmd, env=dict(os.environ))
    return wall, cpu, peak


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--study", default=None, help="a study file instead of the demo")
    args = p.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}; cores: {os.cpu_count()}")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            out = Path(tmp) / f"demo{k}"
            wall, cpu, peak = run_demo(out, args.study)
            manifest = json.loads((out / "manifest.json").read_text())
            runs.append((wall, cpu, peak, manifest.get("durations", {})))
            print(f"run {k + 1}: {wall:7.1f} s wall, {cpu:7.1f} s CPU, peak PSS {peak:7.0f} MB, "
                  f"load {os.getloadavg()[0]:.2f}")
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    median_run = min(runs, key=lambda r: abs(r[0] - wall))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("\nseconds per stage (median run):")
    for stage, sec in median_run[3].items():
        print(f"  {stage:<60s} {sec:7.1f}")
    print(f"\nsurvrad run {'--demo' if args.study is None else args.study}: median "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU (target {TARGET_SECONDS:.0f} s wall: "
          f"{wall / TARGET_SECONDS:.2f} of it), peak memory {max(r[2] for r in runs):.0f} MB")


if __name__ == "__main__":
    main()

"""Time, CPU and peak memory of the users' main job: ``survrad run --demo`` (issues 6, 18).

Runs the built-in demo study (200 simulated patients, 6 lesion strategies + 2 baselines,
Cox and a 30-tree random survival forest for overall survival, logistic and a 30-tree
forest classifier for objective response, B = 20 patient resamples, ``n_jobs = 2``) exactly
as a user types it,
in a fresh process, ``--repeats`` times, and prints:

* the wall time and the CPU seconds (user + system, the joblib workers included, from
  the kernel's accounting of the finished process tree) of each run, and the median wall
  time against issue 18's target of 60 s on 2 cores;
* the peak proportional set size (PSS) of the whole process tree (the joblib workers
  included), from ONE extra run sampled every 0.1 s. The timed runs are not sampled:
  reading ``/proc/<pid>/smaps_rollup`` of a 900 MB process tree ten times a second costs
  kernel time and stalls the sampled processes' memory operations; it made the demo about
  12 s slower (63.7 s against 51 s) when the timing and the sampling shared runs;
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
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _memory import run_process_cpu

TARGET_SECONDS = 60.0


def _command(out: Path, study: str | None) -> list[str]:
    what = ["--demo"] if study is None else [str(study)]
    return [sys.executable, "-c", "import sys; from survrad.cli import main; sys.exit(main())",
            "run", *what, "--out", str(out)]


def time_demo(out: Path, study: str | None = None) -> tuple[float, float]:
    """Run ``survrad run --demo --out out`` (or ``study``) unobserved; return its wall
    seconds and the CPU seconds of the whole finished process tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(_command(out, study), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=dict(os.environ))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def peak_memory(out: Path, study: str | None = None) -> float:
    """Peak PSS (MB) of the process tree of one more run, sampled every 0.1 s."""
    _, _, peak, _ = run_process_cpu(_command(out, study), env=dict(os.environ))
    return peak


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--study", default=None, help="a study file instead of the demo")
    p.add_argument("--no-memory", dest="memory", action="store_false",
                   help="skip the extra run that samples the peak memory")
    args = p.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.2f}; cores: {os.cpu_count()}")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            out = Path(tmp) / f"demo{k}"
            wall, cpu = time_demo(out, args.study)
            manifest = json.loads((out / "manifest.json").read_text())
            runs.append((wall, cpu, manifest.get("durations", {})))
            print(f"run {k + 1}: {wall:7.1f} s wall, {cpu:7.1f} s CPU, "
                  f"load {os.getloadavg()[0]:.2f}")
        peak = peak_memory(Path(tmp) / "memory", args.study) if args.memory else float("nan")
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    median_run = min(runs, key=lambda r: abs(r[0] - wall))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("\nseconds per stage (median run):")
    for stage, sec in median_run[2].items():
        print(f"  {stage:<60s} {sec:7.1f}")
    print(f"\nsurvrad run {'--demo' if args.study is None else args.study}: median "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU (target {TARGET_SECONDS:.0f} s wall: "
          f"{wall / TARGET_SECONDS:.2f} of it); peak memory of one more, sampled run: "
          f"{peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Wall time, peak memory and CPU time of a child process tree, for the benchmark scripts.

Peak memory is the largest proportional set size (PSS) summed over a process and all its
descendants (joblib or Dask worker processes included), sampled every 0.1 s from
``/proc/<pid>/smaps_rollup`` (Linux). CPU time is the user + system time of the same tree,
from ``/proc/<pid>/stat`` at each sample: the last value seen of every process, so up to
0.1 s of each process's last moments may be missed. BLAS/OpenMP threads of the child are
limited to one (``THREAD_VARS``): on a small shared machine OpenBLAS's default threading
oversubscribes the cores.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _tree_pss_mb(root: int) -> float:
    """PSS of ``root`` and all its descendants, in MB (shared pages counted once)."""
    kids = _children_map()
    todo, total = [root], 0
    while todo:
        pid = todo.pop()
        todo.extend(kids.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total / 1024


def _tree_cpu_seconds(root: int) -> dict[int, float]:
    """User + system CPU seconds of ``root`` and each descendant alive now, by pid."""
    kids = _children_map()
    tick = os.sysconf("SC_CLK_TCK")
    todo, out = [root], {}
    while todo:
        pid = todo.pop()
        todo.extend(kids.get(pid, []))
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick   # utime, stime
    return out


class PeakSampler:
    """Samples the process tree's PSS (and CPU time) every ``interval`` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0.0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_pss_mb(self.pid))
            self.cpu.update(_tree_cpu_seconds(self.pid))
            self._stop.wait(self.interval)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def child_env() -> dict[str, str]:
    return {**os.environ, **dict.fromkeys(THREAD_VARS, "1")}


def run_process(cmd: list[str], env: dict[str, str] | None = None
                ) -> tuple[str, float, float]:
    """Run ``cmd``; return its stdout, wall seconds and peak tree PSS (MB).

    :func:`run_process_cpu` also returns the tree's CPU seconds.

    ``env`` defaults to :func:`child_env` (one BLAS thread); pass ``os.environ`` to run
    the command as a user would.
    """
    out, wall, peak, _ = run_process_cpu(cmd, env)
    return out, wall, peak


def run_process_cpu(cmd: list[str], env: dict[str, str] | None = None
                    ) -> tuple[str, float, float, float]:
    """:func:`run_process` plus the CPU seconds (user + system) of the whole tree."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=child_env() if env is None else env)
    sampler = PeakSampler(proc.pid)
    out, err = proc.communicate()
    peak = sampler.stop()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed:\n{err[-3000:]}")
    return out, wall, peak, sum(sampler.cpu.values())



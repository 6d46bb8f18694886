"""One honest way to time survrad against its peers (Python libraries and R).

Rules the harness enforces, so that a ratio it prints can be quoted:

* **Interleaved**: the sides of a case run in turn, ``A, B, A, B, ...`` (or ``A, B, C,
  A, ...``), at least 5 timed runs each after one untimed warm-up run each, so that a
  change in machine load hits every side alike.
* **CPU and wall time**: each run's process CPU time (``time.process_time``, every
  thread of the process) and wall time; min, median and max per side. The machine's
  load average (``os.getloadavg``) is recorded before and after each case.
* **R warm, timed inside R**: every R side of a benchmark runs in ONE ``Rscript``
  process (:class:`RSession`, ``benchmarks/r/harness_server.R``) that reads commands on
  stdin and answers with ``proc.time()`` deltas measured around the evaluation only (R
  start-up, package loading and data transfer excluded, as for the Python sides).
* **Declared work**: each side says what it computes (:class:`Side` ``computes``); a
  benchmark compares like with like or says where it does not.
* **Agreement**: each side returns its numbers; the case compares every side with the
  first (the reference) and fails when the largest difference exceeds the case's
  tolerance (:class:`Case` ``tolerance``, ``compare``).
* **One BLAS thread** for every side (Python: ``threadpoolctl``; R: the thread
  environment variables), so a 2-core machine does not measure its own oversubscription.
* **A JSON of the figures**: :func:`write_results` writes
  ``benchmarks/results/<name>.json`` (or ``--out``) with the command line, machine,
  parameters, and per case the sides' times, ratios, loads and agreement.

API
---
::

    from harness import Case, RSession, Side, run_cases, write_results, main_args

    args = main_args("my_bench", __doc__)                 # --smoke, --repeats, --out, --no-r
    with RSession() as r:                                  # one warm R process
        r.assign("x", x)                                   # numeric vector or matrix
        r.eval("library(survival)")                        # untimed
        sides = [Side("survrad", "C of (t, e, risk)", lambda: concordance_index(t, e, r_)),
                 r.side("R concordance", "C", "concordance(Surv(t, e) ~ risk)$concordance")]
        case = Case("n=1000", sides, tolerance=1e-12)
        results = run_cases([case], repeats=args.repeats)
    write_results("my_bench", results, params={...}, out=args.out)

A side's callable returns its numbers (a float, an array, or a dict of them); R sides
return what ``jsonlite::toJSON`` makes of the value of the R expression. ``Case.compare``
(default: largest absolute difference over matching numbers) turns the reference's and a
side's numbers into one difference. ``Case.ratio_to`` names the side the ratios divide by
(default the first).

Run a benchmark with ``--smoke`` for tiny sizes and 2 repeats (the test suite does);
figures are only quotable from a full run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg  # noqa: F401  (load every BLAS before limiting its threads)
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
R_SERVER = HERE / "r" / "harness_server.R"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
MIN_REPEATS = 5

__all__ = ["Case", "RSession", "Side", "main_args", "max_abs_diff", "run_cases",
           "write_results"]


# ------------------------------------------------------------------------- sides
@dataclass
class Side:
    """One implementation in a case.

    ``run()`` does the work once and returns its numbers; when ``timer`` is given it is
    called instead and returns ``(cpu_seconds, wall_seconds, numbers)`` measured inside
    the side (R sides: inside the warm R process).
    """

    name: str
    computes: str
    run: Callable[[], Any] | None = None
    timer: Callable[[], tuple[float, float, Any]] | None = None

    def once(self) -> tuple[float, float, Any]:
        if self.timer is not None:
            return self.timer()
        c0, w0 = time.process_time(), time.perf_counter()
        value = self.run()
        return time.process_time() - c0, time.perf_counter() - w0, value


def _flatten(value: Any) -> np.ndarray:
    """Numbers of a float / array / list / dict (sorted keys) as one float vector."""
    if isinstance(value, dict):
        return np.concatenate([_flatten(value[k]) for k in sorted(value)]) if value \
            else np.zeros(0)
    return np.asarray(value, dtype=float).ravel()


def max_abs_diff(reference: Any, other: Any) -> float:
    """Largest absolute difference between two sides' numbers (same shapes)."""
    a, b = _flatten(reference), _flatten(other)
    if a.shape != b.shape:
        raise ValueError(f"the sides return different shapes: {a.shape} and {b.shape}")
    return float(np.max(np.abs(a - b), initial=0.0))


@dataclass
class Case:
    """Sides timed together on the same input, with the agreement they must reach."""

    label: str
    sides: Sequence[Side]
    tolerance: float
    compare: Callable[[Any, Any], float] = max_abs_diff
    ratio_to: str | None = None
    params: dict = field(default_factory=dict)


# ---------------------------------------------------------------------- R session
class RSession:
    """One warm ``Rscript`` process answering commands on stdin (timed inside R).

    Protocol (``benchmarks/r/harness_server.R``): one JSON line per command,
    ``{"code": ..., "timed": bool}``; one JSON line back, ``{"ok": true, "cpu": s,
    "wall": s, "value": ...}`` (``proc.time()`` deltas around the evaluation: CPU is
    ``user.self + sys.self``) or ``{"ok": false, "error": ...}``.
    """

    def __init__(self) -> None:
        if shutil.which("Rscript") is None:
            raise RuntimeError("Rscript is not on the PATH")
        env = {**os.environ, **dict.fromkeys(THREAD_VARS, "1")}
        self._tmp = tempfile.TemporaryDirectory(prefix="survrad-harness-")
        self._proc = subprocess.Popen(["Rscript", "--vanilla", str(R_SERVER)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=env)
        self.version = self.eval("paste(R.version.string)")

    def __enter__(self) -> RSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=30)
        self._tmp.cleanup()

    def _send(self, code: str, timed: bool) -> dict:
        self._proc.stdin.write(json.dumps({"code": code, "timed": timed}) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the R process ended: {self._proc.stderr.read()[-500:]}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise RuntimeError(f"R error in {code[:80]!r}: {answer['error']}")
        return answer

    def eval(self, code: str) -> Any:
        """Evaluate ``code`` untimed; returns its value as JSON makes it."""
        return self._send(code, timed=False)["value"]

    def timed(self, code: str) -> tuple[float, float, Any]:
        """Evaluate ``code``; ``(cpu, wall, value)`` measured inside R."""
        a = self._send(code, timed=True)
        return float(a["cpu"]), float(a["wall"]), a["value"]

    def assign(self, name: str, values: Any) -> None:
        """Send a numeric vector (1-d) or matrix (2-d, R's column layout) as ``name``."""
        arr = np.ascontiguousarray(values, dtype=float)
        path = Path(self._tmp.name) / f"{name}.bin"
        arr.T.copy().tofile(path) if arr.ndim == 2 else arr.tofile(path)
        read = f'readBin("{path}", "double", n = {arr.size}, size = 8, endian = "little")'
        if arr.ndim == 2:
            read = f"matrix({read}, nrow = {arr.shape[0]}, ncol = {arr.shape[1]})"
        self.eval(f"{name} <- {read}; invisible(NULL)")

    def side(self, name: str, computes: str, code: str) -> Side:
        """A :class:`Side` that evaluates ``code`` in this session, timed inside R."""
        return Side(name, computes, timer=lambda: self.timed(code))


# ------------------------------------------------------------------------ running
def _summary(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "max": max(values),
            "all": values}


def run_case(case: Case, repeats: int) -> dict:
    """Time the case's sides interleaved; check their agreement (see module docstring)."""
    load_before = os.getloadavg()
    values: dict[str, Any] = {}
    for side in case.sides:                                   # untimed warm-up
        values[side.name] = side.once()[2]
    cpu: dict[str, list[float]] = {s.name: [] for s in case.sides}
    wall: dict[str, list[float]] = {s.name: [] for s in case.sides}
    for _ in range(repeats):
        for side in case.sides:
            c, w, v = side.once()
            cpu[side.name].append(c)
            wall[side.name].append(w)
            values[side.name] = v
    load_after = os.getloadavg()
    ref = case.sides[0].name
    base = case.ratio_to or ref
    diffs = {s.name: case.compare(values[ref], values[s.name]) for s in case.sides[1:]}
    sides = [{"name": s.name, "computes": s.computes, "cpu_seconds": _summary(cpu[s.name]),
              "wall_seconds": _summary(wall[s.name])} for s in case.sides]
    ratios = {s.name: {"cpu_median": statistics.median(cpu[s.name])
                       / statistics.median(cpu[base]),
                       "wall_median": statistics.median(wall[s.name])
                       / statistics.median(wall[base])} for s in case.sides}
    return {"case": case.label, "params": case.params, "repeats": repeats,
            "sides": sides, "ratios_to": base, "ratios": ratios,
            "agreement": {"reference": ref, "max_difference": diffs,
                          "tolerance": case.tolerance,
                          "ok": all(d <= case.tolerance for d in diffs.values())},
            "load_before": list(load_before), "load_after": list(load_after)}


def run_cases(cases: Sequence[Case], repeats: int, *, verbose: bool = True) -> list[dict]:
    """Run every case (one BLAS thread) and print a line per side."""
    out = []
    with threadpool_limits(limits=1):
        for case in cases:
            res = run_case(case, repeats)
            out.append(res)
            if verbose:
                print_case(res)
    return out


def print_case(res: dict) -> None:
    print(f"== {res['case']}  (load {res['load_before'][0]:.2f} -> "
          f"{res['load_after'][0]:.2f}; {res['repeats']} interleaved runs each)")
    for s in res["sides"]:
        r = res["ratios"][s["name"]]
        c, w = s["cpu_seconds"], s["wall_seconds"]
        diff = res["agreement"]["max_difference"].get(s["name"])
        print(f"  {s['name']:<22} cpu {c['median']:9.4f} s [{c['min']:.4f}, {c['max']:.4f}]"
              f"  wall {w['median']:9.4f} s  x{r['cpu_median']:7.2f} cpu"
              f"  x{r['wall_median']:7.2f} wall"
              + ("" if diff is None else f"  |diff| {diff:.2e}"))
    agr = res["agreement"]
    print(f"  agreement within {agr['tolerance']:g}: {'yes' if agr['ok'] else 'NO'}")


def _machine() -> dict:
    return {"platform": platform.platform(), "python": sys.version.split()[0],
            "numpy": np.__version__, "cpus": os.cpu_count(),
            "processor": platform.processor()}


def write_results(name: str, results: list[dict], *, params: dict, out: str | Path | None,
                  extra: dict | None = None) -> Path:
    """Write the figures as JSON (``benchmarks/results/<name>.json`` unless ``out``)."""
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": name, "command": " ".join(["python", *sys.argv]),
           "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": _machine(),
           "params": params, **(extra or {}), "cases": results}
    path.write_text(json.dumps(doc, indent=1, default=float) + "\n", encoding="utf-8")
    print(f"figures written to {path}")
    return path


def main_args(doc: str | None, argv: list[str] | None = None,
              add: Callable[[argparse.ArgumentParser], None] | None = None
              ) -> argparse.Namespace:
    """The options every benchmark takes: --smoke, --repeats, --out, --no-r."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes and 2 repeats (a check that the script runs)")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS,
                        help=f"timed runs per side (at least {MIN_REPEATS} unless --smoke)")
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results)")
    parser.add_argument("--no-r", action="store_true", help="skip the R sides")
    if add is not None:
        add(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        args.repeats = 2
    elif args.repeats < MIN_REPEATS:
        parser.error(f"--repeats must be at least {MIN_REPEATS} (interleaved runs per side)")
    return args


def r_session_or_none(skip: bool) -> RSession | None:
    """A warm R session, or None (with a note) when skipped or R is missing."""
    if skip:
        return None
    try:
        return RSession()
    except RuntimeError as exc:
        print(f"R sides skipped: {exc}")
        return None

"""Harrell's C: survrad against a compiled floor, lifelines, scikit-survival and R.

Data (per n): a standard-normal risk score, exponential event times with hazard
``exp(0.5 risk) / 365`` and exponential censoring (about 40 % censored), times rounded
up to whole days (many ties in time); risks are continuous (no ties).

Sides, timed interleaved by ``benchmarks/harness.py`` (one BLAS thread; R warm, timed
inside R), each computing Harrell's C of ``(time, event, risk)``, higher risk = earlier
event, tied risks 1/2, R's comparability rules:

* ``survrad``: :func:`survrad.evaluation.concordance_index` (input checks included);
* ``floor``: the least work that gives the exact C, written here: two numpy ``argsort``
  calls and one Fenwick-tree sweep compiled with numba at benchmark time (no input
  checks, no per-event counts, only the scalar);
* ``lifelines``: ``lifelines.utils.concordance_index(time, -risk, event)``;
* ``scikit-survival``: ``concordance_index_censored(event, time, risk)`` (quadratic in
  n: only up to ``--sksurv-max``, default 10,000);
* ``R``: ``survival:::concordancefit(Surv(time, event), risk, reverse = TRUE,
  timefix = FALSE, std.err = FALSE)`` (the C alone; ``timefix = FALSE`` as the times
  are whole numbers already).

The first call in a fresh process (numba imported and the kernels loaded from its
on-disk cache) is timed too: a child process is run twice (the first run fills the cache
if it is empty), and the second one's first ``concordance_index(..., return_se=True)``
call is reported (``first_call`` in the JSON).

A second case per n times the standard error: ``survrad`` with ``return_se=True``
against R's ``concordancefit(..., std.err = TRUE)`` (C and its infinitesimal-jackknife
SE on both sides).

Run::

    python benchmarks/bench_concordance.py                 # n = 1e4, 1e5, 1e6
    python benchmarks/bench_concordance.py --smoke         # n = 2000, 2 repeats
    python benchmarks/bench_concordance.py --sizes 100000 --repeats 7 --no-r
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Case, Side, main_args, r_session_or_none, run_cases, write_results

from survrad.evaluation import concordance_index


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    event_time = rng.exponential(365 * np.exp(-0.5 * risk))
    censor_time = rng.exponential(365 * 1.45, n)          # ~40 % censored
    time_ = np.floor(np.minimum(event_time, censor_time)) + 1.0
    return time_, event_time <= censor_time, risk


def _floor_sweep(t_desc, e_desc, r_desc, n_ranks):
    """Fenwick sweep in decreasing time: (concordant + tied / 2, comparable) pairs."""
    tree = np.zeros(n_ranks + 1, np.int64)
    same = np.zeros(n_ranks, np.int64)
    n = t_desc.size
    inserted = 0
    good = 0.0
    comparable = 0
    lo = 0
    while lo < n:
        hi = lo
        while hi < n and t_desc[hi] == t_desc[lo]:
            hi += 1
        for k in range(lo, hi):          # censored at this time enter first
            if not e_desc[k]:
                r = r_desc[k]
                same[r] += 1
                inserted += 1
                j = r + 1
                while j <= n_ranks:
                    tree[j] += 1
                    j += j & -j
        for k in range(lo, hi):          # events: count the subjects already in
            if e_desc[k]:
                r = r_desc[k]
                below = 0
                j = r
                while j > 0:
                    below += tree[j]
                    j -= j & -j
                good += below + 0.5 * same[r]
                comparable += inserted
        for k in range(lo, hi):          # then the events enter
            if e_desc[k]:
                r = r_desc[k]
                same[r] += 1
                inserted += 1
                j = r + 1
                while j <= n_ranks:
                    tree[j] += 1
                    j += j & -j
        lo = hi
    return good, comparable


def compiled_floor():
    """The floor as a function of (time, event, risk), compiled now (not cached)."""
    import numba

    sweep = numba.njit(cache=False)(_floor_sweep)

    def floor(time_, event, risk):
        order = np.argsort(-time_)
        rank_sorted = np.argsort(risk)
        xs = risk[rank_sorted]
        new = np.empty(xs.size, dtype=np.int64)
        new[0] = 0
        new[1:] = xs[1:] != xs[:-1]
        rank = np.empty(xs.size, dtype=np.int64)
        rank[rank_sorted] = np.cumsum(new)
        good, comparable = sweep(time_[order], event[order], rank[order], int(rank.max()) + 1)
        return good / comparable

    return floor


def cases(sizes, sksurv_max, r):
    from lifelines.utils import concordance_index as lifelines_ci
    from sksurv.metrics import concordance_index_censored

    floor = compiled_floor()
    out = []
    for n in sizes:
        t, e, risk = make_data(n)
        sides = [Side("survrad", "C (checked inputs, per-event pair counts)",
                      lambda t=t, e=e, x=risk: concordance_index(t, e, x)),
                 Side("floor (numba Fenwick)", "C only, no checks",
                      lambda t=t, e=e, x=risk: floor(t, e, x)),
                 Side("lifelines", "C", lambda t=t, e=e, x=risk: lifelines_ci(t, -x, e))]
        if n <= sksurv_max:
            sides.append(Side("scikit-survival", "C and pair counts",
                              lambda t=t, e=e, x=risk: concordance_index_censored(e, t, x)[0]))
        se_sides = [Side("survrad return_se", "C and its IJ standard error",
                         lambda t=t, e=e, x=risk: list(concordance_index(t, e, x,
                                                                        return_se=True)))]
        if r is not None:                  # R objects named per case: cases run later
            r.assign(f"t{n}", t)
            r.assign(f"e{n}", e.astype(float))
            r.assign(f"x{n}", risk)
            r.eval(f"library(survival); y{n} <- Surv(t{n}, e{n}); invisible(NULL)")
            fit = (f"survival:::concordancefit(y{n}, x{n}, reverse = TRUE, timefix = FALSE, "
                   "std.err = {})")
            sides.append(r.side("R concordancefit", "C only (std.err = FALSE)",
                                fit.format("FALSE") + "$concordance"))
            se_sides.append(r.side("R concordancefit se", "C and its IJ standard error",
                                   f"{{f <- {fit.format('TRUE')}; "
                                   "c(f$concordance, sqrt(f$var[1]))}"))
        # scikit-survival counts risks within 1e-8 as tied: ~1e-9 differences
        out.append(Case(f"C, n = {n:,}", sides, tolerance=1e-8, params={"n": n}))
        if len(se_sides) > 1:
            out.append(Case(f"C and SE, n = {n:,}", se_sides, tolerance=1e-10,
                            params={"n": n}))
    return out


FIRST_CALL = """
import json, time
t0, c0 = time.perf_counter(), time.process_time()
import numpy as np
from survrad.evaluation import concordance_index
t1, c1 = time.perf_counter(), time.process_time()
concordance_index(np.array([1., 2., 3., 4.]), np.array([1, 1, 0, 1]),
                  np.array([4., 1., 2., .5]), return_se=True)
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"import_wall": t1 - t0, "first_call_wall": t2 - t1,
                  "first_call_cpu": c2 - c1}))
"""


def first_call() -> dict:
    """Cost of the first C (with SE) in a fresh process once numba's cache is warm."""
    runs = [json.loads(subprocess.run([sys.executable, "-c", FIRST_CALL], check=True,
                                      capture_output=True, text=True).stdout)
            for _ in range(2)]
    print(f"first call in a fresh process (cache warm): {runs[1]['first_call_wall']:.3f} s "
          f"wall, {runs[1]['first_call_cpu']:.3f} s CPU (import survrad.evaluation "
          f"{runs[1]['import_wall']:.3f} s before it)")
    return {"cold_or_warm_first_run": runs[0], "warm_cache": runs[1]}


def main(argv: list[str] | None = None) -> int:
    def extra(p):
        p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
        p.add_argument("--sksurv-max", type=int, default=10_000,
                       help="largest n for scikit-survival (its algorithm is quadratic)")

    args = main_args(__doc__, argv, extra)
    if args.smoke:
        args.sizes = [2000]
    r = r_session_or_none(args.no_r or args.smoke)
    try:
        results = run_cases(cases(args.sizes, args.sksurv_max, r), args.repeats)
    finally:
        if r is not None:
            r.close()
    write_results("bench_concordance", results, out=args.out,
                  params={"sizes": args.sizes, "sksurv_max": args.sksurv_max,
                          "smoke": args.smoke},
                  extra={"r": None if r is None else r.version, "first_call": first_call()})
    return 0 if all(c["agreement"]["ok"] for c in results) else 1


if __name__ == "__main__":
    sys.exit(main())

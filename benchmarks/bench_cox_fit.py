"""Unpenalised Cox fit (Efron ties): survrad against lifelines and R's coxph.

Data (per n, p = 10): standard-normal features, log hazard ratios drawn once from
N(0, 0.3^2), exponential event times, exponential censoring (about 60 % events), times
rounded up to 0.1 (tied times, so Efron's correction matters). Every size has at least
50 events per variable (CoxModel's min_epv default is 10; the old version of this
script simulated 99 events for 20 features and stopped with ``FitError: EPV 4.95``).

Sides, timed interleaved by ``benchmarks/harness.py`` (one BLAS thread; R warm, timed
inside R); each returns the coefficients, compared with survrad's:

* ``survrad``: ``CoxModel().fit(X, y)`` with ``X`` a DataFrame and ``y`` built once
  outside the timing: input checks (NaN, constant and collinear columns, EPV), Newton-
  Raphson, standard errors, baseline hazard;
* ``lifelines``: ``CoxPHFitter().fit(df, "time", "event")`` (Efron; standard errors,
  baseline hazard);
* ``R coxph``: ``coxph(Surv(time, event) ~ ., ties = "efron")`` on a data frame sent
  before the timing; R also computes the concordance, residuals and the three global
  tests (more than the others), and merges times equal up to ``all.equal``
  (``timefix``; none here: the times are multiples of 0.1 written exactly).

Run::

    python benchmarks/bench_cox_fit.py                   # n = 500 ... 200,000, p = 10
    python benchmarks/bench_cox_fit.py --smoke           # n = 500, 2 repeats, no R
    python benchmarks/bench_cox_fit.py --sizes 5000 --no-r
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Case, Side, main_args, r_session_or_none, run_cases, write_results

from survrad.data.outcome import Surv
from survrad.models.cox import CoxModel

P = 10


def simulate(n: int, p: int = P, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    beta = rng.normal(scale=0.3, size=p)
    t = rng.exponential(np.exp(-x @ beta))
    c = rng.exponential(1.5, size=n)
    event = t <= c
    time_ = np.ceil(np.minimum(t, c) * 10) / 10
    return pd.DataFrame(x, columns=[f"f{i}" for i in range(p)]), time_, event


def cases(sizes, r) -> list[Case]:
    from lifelines import CoxPHFitter

    out = []
    for n in sizes:
        X, t, e = simulate(n)
        y = Surv.from_arrays(time=t, event=e)
        df = X.assign(time=t, event=e.astype(int))

        def lifelines_fit(df=df) -> np.ndarray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return CoxPHFitter().fit(df, "time", "event").params_.to_numpy()

        sides = [Side("survrad", "coef, SE, checks, baseline hazard",
                      lambda X=X, y=y: CoxModel().fit(X, y).coef_),
                 Side("lifelines", "coef, SE, baseline hazard", lifelines_fit)]
        if r is not None:                  # R objects named per case: cases run later
            r.assign("xm", X.to_numpy())
            r.assign("tt", t)
            r.assign("ee", e.astype(float))
            r.eval(f"library(survival); d{n} <- data.frame(xm, time = tt, event = ee); "
                   "invisible(NULL)")
            sides.append(r.side("R coxph", "coef, var, concordance, residuals, tests",
                                f'unname(coef(coxph(Surv(time, event) ~ ., data = d{n}, '
                                'ties = "efron")))'))
        # lifelines stops its Newton steps earlier (a few 1e-6 at n = 500)
        out.append(Case(f"Cox fit, n = {n:,}, p = {P}", sides, tolerance=1e-5,
                        params={"n": n, "p": P, "events": int(e.sum())}))
    return out


def main(argv: list[str] | None = None) -> int:
    def extra(p):
        p.add_argument("--sizes", type=int, nargs="+",
                       default=[500, 5_000, 50_000, 200_000])

    args = main_args(__doc__, argv, extra)
    if args.smoke:
        args.sizes = [500]
    r = r_session_or_none(args.no_r or args.smoke)
    try:
        results = run_cases(cases(args.sizes, r), args.repeats)
    finally:
        if r is not None:
            r.close()
    write_results("bench_cox_fit", results, out=args.out,
                  params={"sizes": args.sizes, "p": P, "smoke": args.smoke},
                  extra={"r": None if r is None else r.version})
    return 0 if all(c["agreement"]["ok"] for c in results) else 1


if __name__ == "__main__":
    sys.exit(main())

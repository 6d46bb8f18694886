"""Fit time of survrad's CoxModel against lifelines and scikit-survival.

Run: ``python benchmarks/bench_cox_fit.py [--repeats 7] [--threads 1]``. Prints the
median wall time of one unpenalised Efron fit (``CoxPHSurvivalAnalysis(ties="efron")``
for scikit-survival) at (n, p) = (500, 20) and (5000, 50), and the ratio to survrad.
All three fit the same simulated data with tied times, so the coefficients are also
compared (maximum absolute difference to survrad). survrad's timing includes its input
checks (NaN/inf, constant columns, rank via SVD, event counts) and the baseline hazard.

BLAS threads are limited to ``--threads`` (default 1) for all three libraries: on a
small shared machine OpenBLAS's default threading oversubscribes the cores and makes a
5000 x 50 matrix product 100x slower, which would measure the machine, not the code.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
import scipy.linalg  # noqa: F401  (load every BLAS before limiting its threads)
from lifelines import CoxPHFitter
from sksurv.linear_model import CoxPHSurvivalAnalysis
from threadpoolctl import threadpool_limits

from survrad.data.outcome import Surv
from survrad.models.cox import CoxModel


def simulate(n: int, p: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    beta = rng.normal(scale=0.3, size=p)
    t = np.ceil(rng.exponential(np.exp(-x @ beta)) * 100) / 10   # ties
    c = rng.exponential(2.0, size=n)
    event = t <= c
    time_ = np.minimum(t, np.ceil(c * 10) / 10)
    return pd.DataFrame(x, columns=[f"f{i}" for i in range(p)]), time_, event


def median_time(fn, repeats: int) -> tuple[float, np.ndarray]:
    times, coef = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        coef = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), np.asarray(coef)


def fitters(X: pd.DataFrame, t: np.ndarray, e: np.ndarray) -> dict:
    y = Surv.from_arrays(time=t, event=e)
    df = X.assign(time=t, event=e.astype(int))

    def survrad_fit():
        return CoxModel().fit(X, y).coef_

    def lifelines_fit():
        return CoxPHFitter().fit(df, "time", "event").params_.to_numpy()

    def sksurv_fit():
        return CoxPHSurvivalAnalysis(ties="efron").fit(X.to_numpy(), y).coef_

    return {"survrad": survrad_fit, "lifelines": lifelines_fit, "sksurv": sksurv_fit}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    args = parser.parse_args()
    with threadpool_limits(limits=args.threads):
        run(args.repeats)


def run(repeats: int) -> None:
    rows = []
    for n, p in [(500, 20), (5000, 50)]:
        X, t, e = simulate(n, p)
        results = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # EPV warnings are not the point here
            for name, fn in fitters(X, t, e).items():
                results[name] = median_time(fn, repeats)
        base_t, base_c = results["survrad"]
        for name, (sec, coef) in results.items():
            rows.append({"n": n, "p": p, "library": name, "median_ms": 1000 * sec,
                         "ratio_to_survrad": sec / base_t,
                         "max_coef_diff": float(np.max(np.abs(coef - base_c)))})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()

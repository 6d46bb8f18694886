"""What CoxModel's model-level statistics cost: per fit, and in a bootstrap validation.

Since ``CoxModel.summary()`` reports R's header (score test, robust score test, Harrell's
C with its infinitesimal-jackknife SE), ``fit`` computes them while it still has the
data (the model keeps no patient data, so they cannot be computed later). This script
measures that cost two ways:

* per fit: the best of ``--repeats`` fits with the statistics and with
  ``CoxModel._set_statistics`` replaced by a no-op, on simulated data (n, p) = (200, 5),
  (1000, 10) with and without clusters, and (10000, 10);
* in ``bootstrap_validate`` (B = 100, Harrell's C, one process) of a lesion pipeline on
  ``simulate_cohort`` (n = 200 and 1000 patients): the time spent inside
  ``_set_statistics``, timed directly, as a share of the whole run (timing the share
  is robust to other load on the machine, unlike a with/without difference of totals).

Run: ``python benchmarks/bench_cox_summary.py [--repeats 30] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import scipy.linalg  # noqa: F401  (load every BLAS before limiting its threads)
from threadpoolctl import threadpool_limits

import survrad as sr
from survrad.data.outcome import Surv
from survrad.models.cox import CoxModel


def simulate(n: int, p: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"x{i}" for i in range(p)])
    t = rng.exponential(np.exp(-X["x0"].to_numpy()))
    c = rng.exponential(2.0, n)
    return X, Surv.from_arrays(time=np.minimum(t, c), event=t <= c)


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def per_fit(repeats: int) -> None:
    original = CoxModel._set_statistics
    for n, p, clustered in [(200, 5, False), (1000, 10, False), (1000, 10, True),
                            (10000, 10, False)]:
        X, y = simulate(n, p)
        groups = np.arange(n) // 2 if clustered else None
        reps = repeats if n <= 1000 else max(3, repeats // 4)

        def fit(X=X, y=y, groups=groups):
            return CoxModel().fit(X, y, groups=groups)

        with_stats = best(fit, reps)
        CoxModel._set_statistics = lambda self, *a, **k: None
        try:
            without = best(fit, reps)
        finally:
            CoxModel._set_statistics = original
        print(f"fit n={n:>5} p={p:>2} clusters={'yes' if clustered else 'no ':3}: "
              f"{1e3 * without:7.2f} ms without statistics, {1e3 * with_stats:7.2f} ms with "
              f"(+{1e3 * (with_stats - without):.2f} ms)")


def in_bootstrap() -> None:
    original = CoxModel._set_statistics
    spent = {"seconds": 0.0, "fits": 0}

    def timed(self, *args, **kwargs):
        start = time.perf_counter()
        original(self, *args, **kwargs)
        spent["seconds"] += time.perf_counter() - start
        spent["fits"] += 1

    CoxModel._set_statistics = timed
    try:
        for n in (200, 1000):
            cohort = sr.simulate_cohort(n_patients=n, random_state=0, timepoints=1)
            pipe = sr.CohortPipeline(
                sr.lesions.FeatureStatistics(stats=["mean"]),
                [sr.features.Standardize(), sr.features.UnivariateCoxFilter(k=5)],
                CoxModel(ties="breslow"))
            spent.update(seconds=0.0, fits=0)
            start = time.perf_counter()
            sr.bootstrap_validate(pipe, cohort, "os", n_boot=100, metrics=["c_index"],
                                  random_state=1, n_jobs=1, progress=False)
            total = time.perf_counter() - start
            print(f"bootstrap n={n:>4} B=100: {total:.2f} s in all, {spent['fits']} Cox fits, "
                  f"{spent['seconds']:.3f} s in their statistics "
                  f"({100 * spent['seconds'] / total:.1f}%)")
    finally:
        CoxModel._set_statistics = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with threadpool_limits(args.threads):
        per_fit(args.repeats)
        in_bootstrap()


if __name__ == "__main__":
    main()

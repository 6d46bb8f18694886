"""Speed of survrad.concordance_index against lifelines and scikit-survival.

Data: n subjects (default 100,000), exponential times rounded up to whole days (many
ties; ``--resolution 0.1`` gives tenths of a day, which takes the general float path of the
time sort instead of the radix sort for whole numbers), about 40 % censored, a continuous
risk score. Prints the best-of-``--repeat`` wall time of survrad and lifelines (one run of
scikit-survival), the ratios, and checks that the values agree (lifelines takes a
predicted *time*, so it is given ``-risk``).

Run:  python benchmarks/bench_concordance.py [--n 100000] [--repeat 5] [--resolution 1]
                                             [--skip-sksurv]
scikit-survival's implementation is quadratic: at n = 100,000 it takes tens of seconds.
Also times the standard error (``return_se=True``, R's infinitesimal jackknife) of
Harrell's and Uno's C, which adds a weighted O(n log n) sweep.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from survrad.evaluation import concordance_index, uno_concordance_index


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time over ``repeat`` calls, and the value returned."""
    best, value = np.inf, float("nan")
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def make_data(n: int, resolution: float = 1.0,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    event_time = rng.exponential(365 * np.exp(-0.5 * risk))
    censor_time = rng.exponential(365 * 1.45, n)          # ~40 % censored
    time_ = (np.floor(np.minimum(event_time, censor_time) / resolution) + 1) * resolution
    return time_, event_time <= censor_time, risk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--resolution", type=float, default=1.0, help="time unit of ties")
    parser.add_argument("--skip-sksurv", action="store_true")
    args = parser.parse_args()

    from lifelines.utils import concordance_index as lifelines_ci
    from sksurv.metrics import concordance_index_censored

    t, e, r = make_data(args.n, args.resolution)
    print(f"n = {args.n:,}; censored {1 - e.mean():.1%}; distinct times {np.unique(t).size:,}")
    ours_s, ours = best_time(lambda: concordance_index(t, e, r), args.repeat)
    ll_s, ll = best_time(lambda: lifelines_ci(t, -r, e), args.repeat)
    se_s, (_, se) = best_time(lambda: concordance_index(t, e, r, return_se=True),
                              args.repeat)
    uno_s, (_, uno_se) = best_time(lambda: uno_concordance_index(t, e, r, return_se=True),
                                   args.repeat)
    rows = [("survrad", ours_s, ours), ("lifelines", ll_s, ll)]
    if not args.skip_sksurv:
        sk_s, sk = best_time(lambda: concordance_index_censored(e, t, r)[0], 1)
        rows.append(("scikit-survival", sk_s, sk))
    print(f"{'implementation':<16} {'seconds':>9} {'x survrad':>10}  C")
    for name, sec, val in rows:
        print(f"{name:<16} {sec:9.4f} {sec / ours_s:10.1f}  {val:.12f}")
    # scikit-survival treats risks closer than 1e-8 as tied (tied_tol): a ~1e-9 difference
    worst = max(abs(val - ours) for _, _, val in rows)
    print(f"largest difference in C: {worst:.2e}")
    print(f"survrad with return_se=True: {se_s:.4f} s (SE {se:.6f}); Uno's C with its SE: "
          f"{uno_s:.4f} s (SE {uno_se:.6f})")
    if worst > 1e-8:
        raise SystemExit("the implementations disagree")


if __name__ == "__main__":
    main()

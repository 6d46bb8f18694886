"""Memory and time of SurvivalForest: low_memory=True vs False, and the bootstrap size.

Each configuration runs in a fresh subprocess so the peak RSS (``ru_maxrss``) belongs
to that fit alone; tracemalloc reports the peak of Python-visible allocations (numpy
arrays included) during fit + predict, and the pickled size is the model's footprint.

Run: ``python benchmarks/bench_forest_memory.py`` (about 2-4 minutes on 2 cores).
Prints one line per configuration and the low_memory ratios.
"""

from __future__ import annotations

import json
import subprocess
import sys

CONFIGS = [
    {"n": 2000, "p": 50, "trees": 100, "low_memory": True, "n_jobs": 1},
    {"n": 2000, "p": 50, "trees": 100, "low_memory": False, "n_jobs": 1},
    {"n": 400, "p": 50, "trees": 300, "low_memory": True, "n_jobs": 2},
    {"n": 400, "p": 50, "trees": 300, "low_memory": False, "n_jobs": 2},
]

CHILD = r"""
import json, pickle, resource, sys, time, tracemalloc
import numpy as np, pandas as pd
from survrad.data.outcome import Surv
from survrad.models.forest import SurvivalForest

cfg = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
n, p = cfg["n"], cfg["p"]
X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"f{j}" for j in range(p)])
lp = 0.8 * X["f0"] - 0.5 * X["f1"]
t = rng.exponential(np.exp(-lp))
c = rng.exponential(2.0, size=n)
y = Surv.from_arrays(time=np.minimum(t, c), event=t <= c)
base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
t0 = time.perf_counter()
m = SurvivalForest(n_estimators=cfg["trees"], low_memory=cfg["low_memory"],
                   n_jobs=cfg["n_jobs"], random_state=0).fit(X, y)
t_fit = time.perf_counter() - t0
t0 = time.perf_counter()
m.predict(X)
t_pred = time.perf_counter() - t0
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({**cfg, "fit_s": t_fit, "predict_s": t_pred,
                  "tracemalloc_peak_mb": peak / 2**20,
                  "peak_rss_mb": rss / 1024, "rss_before_fit_mb": base_rss / 1024,
                  "pickle_mb": len(pickle.dumps(m)) / 2**20}))
"""


def run(cfg: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    rows = [run(cfg) for cfg in CONFIGS]
    head = ("n", "p", "trees", "n_jobs", "low_memory", "fit_s", "predict_s",
            "tracemalloc_peak_mb", "rss_before_fit_mb", "peak_rss_mb", "pickle_mb")
    print(" ".join(f"{h:>19}" for h in head))
    # tracemalloc misses the trees' node arrays (allocated in Cython, outside Python's
    # allocator): the pickled size is the model's real footprint.
    for r in rows:
        print(" ".join(f"{r[h]:>19.2f}" if isinstance(r[h], float) else f"{r[h]!s:>19}"
                       for h in head))
    for i in (0, 2):
        lo, hi = rows[i], rows[i + 1]
        print(f"n={lo['n']} trees={lo['trees']}: low_memory=False / True: pickle "
              f"{hi['pickle_mb'] / lo['pickle_mb']:.1f}x, tracemalloc peak "
              f"{hi['tracemalloc_peak_mb'] / lo['tracemalloc_peak_mb']:.1f}x, peak RSS "
              f"{hi['peak_rss_mb'] / lo['peak_rss_mb']:.1f}x, fit time "
              f"{hi['fit_s'] / lo['fit_s']:.2f}x; per tree (False): "
              f"{hi['pickle_mb'] / hi['trees']:.2f} MB")


if __name__ == "__main__":
    main()

"""Imputation inside resampling: is the bootstrap-corrected C of an impute pipeline honest?

For each seed this analysis

1. simulates a development cohort of ``n`` patients with four correlated clinical
   covariates (``x1``..``x4``, standard normal, pairwise correlation 0.5), a Cox model
   with log hazard ratios (0.6, 0.5, -0.4, 0.3), a Weibull baseline and uniform
   censoring (about 30 % censored);
2. deletes values of ``x2``, ``x3`` and ``x4`` at random given the always-observed ``x1``
   (missing at random, MAR): each is missing with probability ``expit(a + x1)``, ``a``
   set so that 30 % of each column is missing (about two thirds of the patients have a
   gap);
3. validates ``CohortPipeline(features=[Imputer("iterative")], model=CoxModel())`` with
   Harrell's optimism bootstrap (``bootstrap_validate``, B replicates): the imputer is
   refitted on the training patients of every replicate, like every learned step;
4. fits the pipeline once on the development cohort and scores it on 20,000 new patients
   of the same population, complete (the C "on complete new patients" of the brief) and
   with the same MAR gaps filled by the fitted pipeline (the population the development
   cohort stands for);
5. as a control, repeats 3-4 on the same development patients before the gaps were made
   (no imputer): how close the optimism bootstrap comes at this sample size without any
   missing value.

Run ``python analyses/missing_data/mar_simulation.py --help``; the output of the default
command is in ``analyses/README.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

import survrad as sr
from survrad.evaluation.concordance import concordance_index
from survrad.features import Imputer

BETA = np.array([0.6, 0.5, -0.4, 0.3])
MISSING = 0.30
GAP_COLUMNS = ("x2", "x3", "x4")


def simulate(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Complete patients: covariates, Weibull survival times, uniform censoring."""
    cov = np.full((4, 4), 0.5) + 0.5 * np.eye(4)
    x = rng.multivariate_normal(np.zeros(4), cov, size=n)
    eta = x @ BETA
    t = (-np.log(rng.random(n)) / (0.05 * np.exp(eta))) ** (1 / 1.3)
    c = rng.uniform(0, 30, n)
    return pd.DataFrame({"patient_id": [f"P{i:05d}" for i in range(n)],
                         "os_time": np.minimum(t, c), "os_event": (t <= c).astype(int),
                         **{f"x{j + 1}": x[:, j] for j in range(4)}, "true_lp": eta})


def _intercept(x1: np.ndarray, target: float) -> float:
    """``a`` such that mean(expit(a + x1)) = target (bisection)."""
    lo, hi = -10.0, 10.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(mid + x1)))) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def punch_mar(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Missing at random given x1: each gap column missing with prob expit(a + x1)."""
    out = df.copy()
    x1 = df["x1"].to_numpy()
    a = _intercept(x1, MISSING)
    for col in GAP_COLUMNS:
        gone = rng.random(len(df)) < 1 / (1 + np.exp(-(a + x1)))
        out.loc[gone, col] = np.nan
    return out


def run_seed(seed: int, n: int, n_boot: int, n_external: int, n_jobs: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    complete = simulate(n, rng)
    dev = punch_mar(complete, rng)
    cohort = sr.read_cohort(dev.drop(columns="true_lp"), patient_features=["x1", *GAP_COLUMNS],
                            missing="impute")
    pipe = sr.CohortPipeline(features=[Imputer(method="iterative")], model=sr.CoxModel())
    res = sr.bootstrap_validate(pipe, cohort, "os", n_boot=n_boot, metrics=["c_index"],
                                random_state=seed, n_jobs=n_jobs, progress=False)
    row = res.summary().set_index("metric").loc["c_index"]
    fitted = res.fitted
    new = simulate(n_external, rng)
    gappy = punch_mar(new, rng)
    c_complete = _external_c(fitted, new)
    c_gappy = _external_c(fitted, gappy)
    c_truth = concordance_index(new["os_time"], new["os_event"], new["true_lp"])
    full = sr.read_cohort(complete.drop(columns="true_lp"),
                          patient_features=["x1", *GAP_COLUMNS])
    control = sr.bootstrap_validate(sr.CohortPipeline(model=sr.CoxModel()), full, "os",
                                    n_boot=n_boot, metrics=["c_index"], random_state=seed,
                                    n_jobs=n_jobs, progress=False)
    ctrl = control.summary().set_index("metric").loc["c_index", "corrected"]
    return {"seed": seed, "n": n, "events": int(dev["os_event"].sum()),
            "patients_with_gap": float(dev[list(GAP_COLUMNS)].isna().any(axis=1).mean()),
            "apparent": row["apparent"], "corrected": row["corrected"],
            "ci_low": row["ci_low"], "ci_high": row["ci_high"],
            "external_complete": c_complete, "external_mar": c_gappy,
            "true_lp_c": c_truth, "n_failed": int(row["n_failed"]),
            "control_corrected": ctrl,
            "control_external": _external_c(control.fitted, new)}


def _external_c(fitted: Any, table: pd.DataFrame) -> float:
    cohort = sr.read_cohort(table.drop(columns="true_lp"),
                            patient_features=["x1", *GAP_COLUMNS], missing="impute")
    risk = fitted.predict_risk(cohort)
    return concordance_index(cohort.patients["os_time"], cohort.patients["os_event"], risk)


def run(seeds: list[int], n: int = 300, n_boot: int = 200, n_external: int = 20_000,
        n_jobs: int = 1) -> pd.DataFrame:
    """One row per seed (see the module docstring)."""
    rows = [run_seed(s, n, n_boot, n_external, n_jobs) for s in seeds]
    out = pd.DataFrame(rows)
    out["corrected_minus_complete"] = out["corrected"] - out["external_complete"]
    out["corrected_minus_mar"] = out["corrected"] - out["external_mar"]
    out["control_minus_external"] = out["control_corrected"] - out["control_external"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--n-external", type=int, default=20_000)
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    table = run(args.seeds, args.n, args.n_boot, args.n_external, args.n_jobs)
    with pd.option_context("display.width", 200, "display.max_columns", 30,
                           "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))
    print(f"\nmean |corrected - external (complete)| = "
          f"{table['corrected_minus_complete'].abs().mean():.4f}; "
          f"largest {table['corrected_minus_complete'].abs().max():.4f}")
    print(f"mean |corrected - external (MAR, imputed)| = "
          f"{table['corrected_minus_mar'].abs().mean():.4f}; "
          f"largest {table['corrected_minus_mar'].abs().max():.4f}")
    print(f"control without gaps: mean |corrected - external| = "
          f"{table['control_minus_external'].abs().mean():.4f}; "
          f"largest {table['control_minus_external'].abs().max():.4f}")
    print(f"runtime {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

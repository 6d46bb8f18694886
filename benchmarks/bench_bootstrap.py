"""Bootstrap validation: survrad against the loops users write today (issue 4).

Part ``cox`` (n = 500 patients, p = 20 features, B = 200 replicates, Harrell's C):

* survrad: ``bootstrap_validate(CohortPipeline(model=CoxModel()), cohort, "os", B,
  metrics=["c_index"])`` with ``n_jobs=1`` and ``n_jobs=2`` (a run estimated under
  ``SERIAL_BELOW_SECONDS`` = 2 s stays in one process whatever ``n_jobs``, so this one
  does), and with ``n_jobs=2`` and the worker processes forced (that threshold set to 0:
  what starting them costs);
* the naive lifelines loop: per replicate, resample the rows with replacement,
  ``CoxPHFitter().fit`` on the resample, ``lifelines.utils.concordance_index`` (with
  lifelines' sign convention, ``-predict_partial_hazard``) on the resample and on the
  original data; corrected C = apparent C - mean optimism;
* R, when ``Rscript`` with the ``rms`` package is on the PATH:
  ``rms::validate(cph(Surv(time, event) ~ f0 + ... + f19, x = TRUE, y = TRUE), B = 200)``
  (``benchmarks/r/validate.R``, timed inside R: start-up and package loading excluded).
  Without R this row is skipped and the output says so.

Part ``forest`` (n = 400, p = 50, 300 trees, B replicates, two cores):

* survrad: ``SurvivalForest(n_estimators=300)`` (``low_memory=True``, its default
  ``min_samples_leaf=15``) in ``bootstrap_validate``, once with two replicate processes
  (``n_jobs=2``, one tree thread each) and once with one process growing trees on two
  threads;
* the naive loop with scikit-survival's defaults: ``RandomSurvivalForest(n_estimators=300,
  n_jobs=2)`` (``low_memory=False``, ``min_samples_leaf=3``), ``predict`` and
  ``concordance_index_censored`` on the resample and on the original data.

The forest part runs B = 20 by default (about 1.5 s to 5 s per replicate here) and
extrapolates the time to the issue's B = 100: extrapolated = total + (total - fixed) *
(100 / B - 1), where ``fixed`` is one fit and scoring on the whole cohort (the apparent
step, done once whatever B), measured separately in the same process. Such rows are
labelled ``extrapolated``. ``--full`` runs B = 100 (about 15 minutes on 2 cores). Peak
memory does not grow with B: the loops hold one forest per worker at a time.

Every configuration runs in a fresh process (``--child``) so that its memory is its own.
Peak memory is reported two ways: the largest proportional set size (PSS) summed over
the process and all its descendants (joblib's worker processes included), sampled every
0.1 s from /proc; and the main process's own high-water mark (``VmHWM``). BLAS/OpenMP
threads are limited to 1 for every side (environment variables for every child, R
included, plus threadpoolctl in the Python children): on a small shared machine
OpenBLAS's default threading oversubscribes the cores. Wall times are the best of
``--repeats`` runs (configurations interleaved, so a busy period hits every side); the
load average before and after is printed because other work on the machine inflates
every number.

Run::

    python benchmarks/bench_bootstrap.py                # both parts, about 6-8 minutes
    python benchmarks/bench_bootstrap.py --part cox     # Cox part only, about 2 minutes
    python benchmarks/bench_bootstrap.py --part forest --full     # forest at B = 100
    python benchmarks/bench_bootstrap.py --naive-boot 20  # lifelines at B = 20, scaled x10
    python benchmarks/bench_bootstrap.py --no-r         # skip R even when present
    python benchmarks/bench_bootstrap.py --lung         # + survrad vs rms on R's lung data

``--lung`` runs the optimism-corrected C of ``Surv(time, status == 2) ~ age + sex +
ph.ecog`` on the bundled lung data for seeds 1..10 at B = 300 and prints it beside
rms's values (reference below), plus a live ``rms::validate`` run when R is present.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _memory import child_env, run_process
from rref import r_ref

HERE = Path(__file__).resolve().parent
R_SCRIPT = HERE / "r" / "validate.R"
COX = {"n": 500, "p": 20}
FOREST = {"n": 400, "p": 50, "trees": 300}
FOREST_TARGET_B = 100
# rms::validate(cph(Surv(time, event) ~ age + sex + ph.ecog, x = TRUE, y = TRUE),
#               method = "boot", B = 300), seeds 1..10 (R 4.2.2, rms 6.5-0); Dxy halved
# to the C scale. Read from tests/r/survival.json (tests/r/survival.R).
LUNG_RMS = r_ref("survival", "lung_rms_validate_boot")


# ------------------------------------------------------------------------------ data
def simulate(n: int, p: int, seed: int = 0) -> pd.DataFrame:
    """Patients with ``p`` normal features, 20 of them with an effect, about 60 % events.

    Times are rounded to 0.1 (tied times, Efron's method matters); columns
    ``patient_id``, ``f0``... ``f{p-1}``, ``time``, ``event``.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    beta = rng.normal(scale=0.3, size=p)
    beta[20:] = 0.0
    t = np.ceil(rng.exponential(np.exp(-x @ beta)) * 100) / 10
    c = np.ceil(rng.exponential(20.0, size=n) * 10) / 10
    df = pd.DataFrame(x, columns=[f"f{j}" for j in range(p)])
    df.insert(0, "patient_id", [f"P{i:04d}" for i in range(n)])
    df["time"] = np.minimum(t, c)
    df["event"] = (t <= c).astype(int)
    return df


def features(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("f")]


def survrad_cohort(df: pd.DataFrame) -> Any:
    import survrad as sr

    return sr.read_cohort(patients=df, patient_features=features(df),
                          endpoints={"os": ("time", "event")})


# ------------------------------------------------------------------- child: workloads
CPU = {"seconds": 0.0}


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of ``fn()`` and its result; its CPU seconds (this process, all
    threads) are left in ``CPU["seconds"]``."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    CPU["seconds"] = time.process_time() - c0
    return wall, out


def _timed_bootstrap(pipe: Any, cohort: Any, cfg: dict) -> dict:
    """One fit on the whole cohort (the fixed cost) and the timed bootstrap_validate."""
    from sklearn.base import clone

    import survrad as sr

    fixed, _ = _timed(lambda: clone(pipe).fit(cohort, "os").predict_risk(cohort))
    seconds, res = _timed(lambda: sr.bootstrap_validate(
        pipe, cohort, "os", n_boot=cfg["B"], metrics=["c_index"], random_state=cfg["seed"],
        n_jobs=cfg["n_jobs"], progress=False))
    row = res.summary().iloc[0]
    return {"seconds": seconds, "fixed_seconds": fixed, "c_apparent": row["apparent"],
            "c_corrected": row["corrected"], "n_failed": int(row["n_failed"])}


def child_cox_survrad(cfg: dict) -> dict:
    import survrad as sr
    import survrad.evaluation.bootstrap as engine

    if cfg.get("force_pool"):
        engine.SERIAL_BELOW_SECONDS = 0.0

    df = simulate(COX["n"], COX["p"])
    cohort = survrad_cohort(df)
    pipe = sr.CohortPipeline(model=sr.CoxModel())
    # warm-up (imports, first calls) in this process only: a fresh joblib pool is still
    # started inside the timed call when n_jobs=2, as a user's first call would
    sr.bootstrap_validate(pipe, cohort, "os", n_boot=2, metrics=["c_index"], random_state=1,
                          n_jobs=1, progress=False)
    return _timed_bootstrap(pipe, cohort, cfg)


def child_cox_lifelines(cfg: dict) -> dict:
    from lifelines import CoxPHFitter
    from lifelines.utils import concordance_index

    data = simulate(COX["n"], COX["p"]).drop(columns="patient_id")

    def harrell(model: Any, d: pd.DataFrame) -> float:
        return concordance_index(d["time"], -model.predict_partial_hazard(d), d["event"])

    CoxPHFitter().fit(data, "time", "event")  # warm-up

    def loop() -> tuple[float, float]:
        rng = np.random.default_rng(cfg["seed"])
        full = CoxPHFitter().fit(data, "time", "event")
        apparent = harrell(full, data)
        optimism = []
        for _ in range(cfg["B"]):
            boot = data.sample(n=len(data), replace=True, random_state=rng)
            m = CoxPHFitter().fit(boot, "time", "event")
            optimism.append(harrell(m, boot) - harrell(m, data))
        return apparent, apparent - float(np.mean(optimism))

    fixed, _ = _timed(lambda: harrell(CoxPHFitter().fit(data, "time", "event"), data))
    seconds, (apparent, corrected) = _timed(loop)
    return {"seconds": seconds, "fixed_seconds": fixed, "c_apparent": apparent,
            "c_corrected": corrected, "n_failed": 0}


def child_forest_survrad(cfg: dict) -> dict:
    from sklearn.base import clone

    import survrad as sr

    df = simulate(FOREST["n"], FOREST["p"])
    cohort = survrad_cohort(df)
    model = sr.SurvivalForest(n_estimators=FOREST["trees"], random_state=0,
                              n_jobs=cfg["tree_jobs"])
    pipe = sr.CohortPipeline(model=model)
    small = sr.CohortPipeline(model=clone(model).set_params(n_estimators=5))
    sr.bootstrap_validate(small, cohort, "os", n_boot=1, metrics=["c_index"],
                          random_state=1, n_jobs=1, progress=False)  # warm-up
    return _timed_bootstrap(pipe, cohort, cfg)


def child_forest_naive(cfg: dict) -> dict:
    from sksurv.ensemble import RandomSurvivalForest
    from sksurv.metrics import concordance_index_censored
    from sksurv.util import Surv

    df = simulate(FOREST["n"], FOREST["p"])
    X = df[features(df)].to_numpy()
    y = Surv.from_arrays(df["event"].to_numpy(bool), df["time"].to_numpy(float))

    def harrell(model: Any, Xs: np.ndarray, ys: np.ndarray) -> float:
        return concordance_index_censored(ys["event"], ys["time"], model.predict(Xs))[0]

    def forest(seed: int) -> Any:
        return RandomSurvivalForest(n_estimators=FOREST["trees"], n_jobs=2, random_state=seed)

    RandomSurvivalForest(n_estimators=5).fit(X, y)  # warm-up

    def loop() -> tuple[float, float]:
        rng = np.random.default_rng(cfg["seed"])
        full = forest(0).fit(X, y)
        apparent = harrell(full, X, y)
        optimism = []
        for b in range(cfg["B"]):
            idx = rng.integers(0, len(y), len(y))
            m = forest(b).fit(X[idx], y[idx])
            optimism.append(harrell(m, X[idx], y[idx]) - harrell(m, X, y))
        return apparent, apparent - float(np.mean(optimism))

    fixed, _ = _timed(lambda: harrell(forest(0).fit(X, y), X, y))
    seconds, (apparent, corrected) = _timed(loop)
    return {"seconds": seconds, "fixed_seconds": fixed, "c_apparent": apparent,
            "c_corrected": corrected, "n_failed": 0}


def child_lung_survrad(cfg: dict) -> dict:
    import survrad as sr

    df = sr.load_dataset("lung").dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
    df = df.assign(event=(df["status"] == 2).astype(int),
                   patient_id=[f"L{i:03d}" for i in range(len(df))])
    cohort = sr.read_cohort(patients=df[["patient_id", "time", "event", "age", "sex",
                                         "ph.ecog"]],
                            patient_features=["age", "sex", "ph.ecog"],
                            endpoints={"os": ("time", "event")})
    pipe = sr.CohortPipeline(model=sr.CoxModel())
    rows = []
    t0 = time.perf_counter()
    for seed in range(1, 11):
        s = sr.bootstrap_validate(pipe, cohort, "os", n_boot=300, metrics=["c_index"],
                                  random_state=seed, n_jobs=1, progress=False).summary()
        rows.append(s.iloc[0][["apparent", "optimism", "corrected"]].to_numpy(float))
    a = np.array(rows)
    return {"seconds": time.perf_counter() - t0, "c_apparent": float(a[:, 0].mean()),
            "c_optimism": float(a[:, 1].mean()), "c_corrected": float(a[:, 2].mean()),
            "c_corrected_sd_over_seeds": float(a[:, 2].std(ddof=1)), "n": cohort.n_patients}


CHILDREN = {"cox_survrad": child_cox_survrad, "cox_lifelines": child_cox_lifelines,
            "forest_survrad": child_forest_survrad, "forest_naive": child_forest_naive,
            "lung_survrad": child_lung_survrad}


def run_child(cfg: dict) -> None:
    """Entry point of ``--child``: run one configuration, print one JSON line."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")   # lifelines' duplicated-index notes and the like
        out = CHILDREN[cfg["kind"]](cfg)
    out["cpu_seconds"] = CPU["seconds"]    # of the last timed call: the measured one
    out["vmhwm_mb"] = _vmhwm_mb()
    print(json.dumps(out))


def _vmhwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -------------------------------------------------------------- parent: measurement
def measure(cfg: dict) -> dict:
    out, wall, peak = run_process([sys.executable, str(Path(__file__).resolve()), "--child",
                                   json.dumps(cfg)])
    res = json.loads(out.strip().splitlines()[-1])
    return {**cfg, **res, "process_seconds": wall, "peak_pss_mb": peak}


def r_available() -> str | None:
    """Why R cannot run (a message), or None when Rscript and rms are there."""
    if shutil.which("Rscript") is None:
        return "Rscript not found on the PATH"
    probe = subprocess.run(["Rscript", "-e", "library(rms)"], capture_output=True, text=True,
                           env=child_env())
    if probe.returncode != 0:
        return "R is present but the rms package is not installed"
    return None


def measure_r(csv: Path, B: int, seed: int) -> dict:
    out, wall, peak = run_process(["Rscript", str(R_SCRIPT), str(csv), str(B), str(seed)])
    res = json.loads(out.strip().splitlines()[-1])
    return {"kind": "cox_r", "B": B, **res, "fixed_seconds": 0.0, "process_seconds": wall,
            "peak_pss_mb": peak, "vmhwm_mb": float("nan")}


# ----------------------------------------------------------------------- reporting
def best_of(runs: list[dict]) -> dict:
    """The run with the best wall time; CPU seconds: the best over the runs."""
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "cpu_seconds": min(r["cpu_seconds"] for r in runs), "runs": len(runs),
            "all_seconds": [r["seconds"] for r in runs]}


def at_target(row: dict, target: int) -> tuple[float, float, str]:
    """Wall and CPU seconds at ``target`` replicates: measured when B == target, else
    scaled (the one-off apparent step counted once), and a note saying which."""
    if row["B"] == target:
        return row["seconds"], row["cpu_seconds"], "measured"
    per_rep = (row["seconds"] - row["fixed_seconds"]) / row["B"]
    wall = row["fixed_seconds"] + per_rep * target
    return wall, row["cpu_seconds"] * wall / row["seconds"], f"extrapolated from B={row['B']}"


def _cpu_text(row: dict, cpu: float) -> str:
    return "n/a" if row.get("multiprocess") else f"{cpu:.2f}"


def print_rows(title: str, rows: dict[str, dict], target: int, base: str) -> None:
    """One line per configuration; ratios are seconds over those of ``base``."""
    print(f"\n{title}")
    print(f"(ratios: time at B={target} over that of '{base}', > 1 = slower; CPU: seconds "
          "of the measured process, all its threads; n/a when replicates run in other "
          "processes; ms/rep: wall, without the one-off apparent fit)")
    head = (f"{'configuration':<48} {'B run':>5} {'wall s':>7} {'CPU s':>7} "
            f"{'wall@B=' + str(target):>10} {'ms/rep':>7} {'wall ratio':>10} "
            f"{'CPU ratio':>9} {'C corr.':>7} {'PSS MB':>7} {'HWM MB':>7}  note")
    print(head)
    print("-" * len(head))
    scaled = {label: at_target(r, target) for label, r in rows.items()}
    ref_wall, ref_cpu, _ = scaled[base]
    for label, r in rows.items():
        wall, cpu, note = scaled[label]
        ratio = "" if label == base else f"{wall / ref_wall:.1f}x"
        multi = r.get("multiprocess") or rows[base].get("multiprocess")
        cratio = "" if label == base else ("n/a" if multi else f"{cpu / ref_cpu:.1f}x")
        if r.get("runs", 1) > 1:
            note += f"; wall of the runs {', '.join(f'{v:.2f}' for v in r['all_seconds'])} s"
        print(f"{label:<48} {r['B']:>5} {r['seconds']:>7.2f} {_cpu_text(r, r['cpu_seconds']):>7} "
              f"{wall:>10.2f} {1000 * (wall - r['fixed_seconds']) / target:>7.1f} "
              f"{ratio:>10} {cratio:>9} {r['c_corrected']:>7.4f} {r['peak_pss_mb']:>7.0f} "
              f"{r['vmhwm_mb']:>7.0f}  {note}")


def ratio_lines(pairs: list[tuple[str, str, str]], rows: dict[str, dict], target: int) -> None:
    """``text: Nx`` for each (text, slower side, survrad side) present, wall and CPU."""
    for text, slow, fast in pairs:
        if slow not in rows or fast not in rows:
            continue
        ws, cs, _ = at_target(rows[slow], target)
        wf, cf, _ = at_target(rows[fast], target)
        cpu = ("" if rows[fast].get("multiprocess") or rows[slow].get("multiprocess")
               else f" (CPU time: {cs / cf:.1f}x)")
        print(f"  {text}: {ws / wf:.1f}x wall{cpu}")


# ---------------------------------------------------------------------------- parts
def cox_part(args: argparse.Namespace) -> None:
    B = args.cox_boot
    configs = {
        "survrad bootstrap_validate n_jobs=1": {"kind": "cox_survrad", "B": B, "n_jobs": 1},
        "survrad bootstrap_validate n_jobs=2": {"kind": "cox_survrad", "B": B, "n_jobs": 2},
        "survrad n_jobs=2, worker processes forced": {"kind": "cox_survrad", "B": B,
                                                      "n_jobs": 2, "force_pool": True,
                                                      "multiprocess": True},
        "naive lifelines loop": {"kind": "cox_lifelines", "B": args.naive_boot or B},
    }
    r_why = "skipped (--no-r)" if args.no_r else r_available()
    runs: dict[str, list[dict]] = {k: [] for k in configs}
    tmp = Path(tempfile.mkdtemp(prefix="survrad_bench_"))
    csv = tmp / "cox.csv"
    simulate(COX["n"], COX["p"]).drop(columns="patient_id").to_csv(csv, index=False)
    r_label = "R rms::validate(cph) (in-R time)"
    if r_why is None:
        runs[r_label] = []
    for _ in range(args.repeats):
        for label, cfg in configs.items():
            runs[label].append(measure({**cfg, "seed": 0}))
        if r_why is None:
            runs[r_label].append(measure_r(csv, B, 1))
    shutil.rmtree(tmp)
    rows = {label: best_of(r) for label, r in runs.items()}
    print_rows(f"Cox: n={COX['n']}, p={COX['p']}, B={B}, metric Harrell's C "
               f"({sum(simulate(COX['n'], COX['p'])['event'])} events)",
               rows, B, "survrad bootstrap_validate n_jobs=1")
    if r_why is None:
        r = rows[r_label]
        print(f"  R {r['r']}, survival {r['survival']}, rms {r['rms']}; Rscript process "
              f"wall time incl. start-up and loading rms: {r['process_seconds']:.2f} s. "
              "rms::validate also computes R2, slope, D, U, Q and g each replicate.")
    else:
        print(f"  R: {r_why}; the R comparison was not run.")
    print("Speed-up of survrad (time of the other side / survrad's, at the same B):")
    s1, s2 = "survrad bootstrap_validate n_jobs=1", "survrad bootstrap_validate n_jobs=2"
    s3 = "survrad n_jobs=2, worker processes forced"
    ratio_lines([("n_jobs=1 vs naive lifelines loop (issue 4 target >= 10x)",
                  "naive lifelines loop", s1),
                 ("n_jobs=2 vs naive lifelines loop", "naive lifelines loop", s2),
                 ("n_jobs=2, workers forced, vs naive lifelines loop", "naive lifelines loop",
                  s3),
                 ("n_jobs=1 vs R rms::validate (target > 1x)", r_label, s1),
                 ("n_jobs=2 vs R rms::validate", r_label, s2),
                 ("n_jobs=2, workers forced, vs R rms::validate", r_label, s3)], rows, B)
    print("  (corrected C differs between sides by Monte Carlo error only: the resamples "
          "differ; rms reports Dxy, halved here.)")


def forest_part(args: argparse.Namespace) -> None:
    B = FOREST_TARGET_B if args.full else args.forest_boot
    configs = {
        "survrad SurvivalForest, 2 replicate processes": {
            "kind": "forest_survrad", "B": B, "n_jobs": 2, "tree_jobs": 1,
            "multiprocess": True},
        "survrad SurvivalForest, 1 process, 2 tree threads": {
            "kind": "forest_survrad", "B": B, "n_jobs": 1, "tree_jobs": 2},
        "naive sksurv loop (defaults, n_jobs=2)": {"kind": "forest_naive", "B": B},
    }
    rows = {label: measure({**cfg, "seed": 0}) for label, cfg in configs.items()}
    print_rows(f"Random survival forest: n={FOREST['n']}, p={FOREST['p']}, "
               f"{FOREST['trees']} trees, B={B} run, issue size B={FOREST_TARGET_B}; "
               "two cores", rows, FOREST_TARGET_B,
               "survrad SurvivalForest, 2 replicate processes")
    print("  survrad: low_memory=True, min_samples_leaf=15 (its defaults); naive: "
          "scikit-survival defaults (low_memory=False, min_samples_leaf=3), so the two "
          "grow different forests (survrad's are smaller).")
    naive = rows["naive sksurv loop (defaults, n_jobs=2)"]["peak_pss_mb"]
    for label, r in rows.items():
        if label.startswith("survrad"):
            verdict = "under" if r["peak_pss_mb"] < 2048 else "OVER"
            print(f"  {label}: peak {r['peak_pss_mb']:.0f} MB, {verdict} the 2 GB target; "
                  f"naive loop / survrad peak memory: {naive / r['peak_pss_mb']:.1f}x")


def lung_part(args: argparse.Namespace) -> None:
    res = measure({"kind": "lung_survrad"})
    print(f"\nlung (n={res['n']}), Surv(time, status == 2) ~ age + sex + ph.ecog, B=300, "
          "seeds 1..10, mean over seeds:")
    print(f"{'':<22} {'apparent':>10} {'optimism':>10} {'corrected':>10} {'sd seeds':>9}")
    print(f"{'survrad':<22} {res['c_apparent']:>10.5f} {res['c_optimism']:>10.5f} "
          f"{res['c_corrected']:>10.5f} {res['c_corrected_sd_over_seeds']:>9.5f}  "
          f"({res['seconds']:.1f} s)")
    ref = LUNG_RMS
    print(f"{'rms (reference json)':<22} {ref['c_apparent']:>10.5f} {ref['c_optimism']:>10.5f} "
          f"{ref['c_corrected']:>10.5f} {ref['c_corrected_sd_over_seeds']:>9.5f}")
    if not args.no_r and r_available() is None:
        live = _lung_r()
        print(f"{'rms (live, this R)':<22} {live['c_apparent']:>10.5f} "
              f"{live['c_optimism']:>10.5f} {live['c_corrected']:>10.5f} "
              f"{live['c_corrected_sd_over_seeds']:>9.5f}  ({live['seconds']:.1f} s in R)")
    diff = res["c_corrected"] - ref["c_corrected"]
    se = np.hypot(res["c_corrected_sd_over_seeds"], ref["c_corrected_sd_over_seeds"]) / np.sqrt(10)
    print(f"  corrected C difference {diff:+.5f} = {diff / se:+.2f} standard errors of the "
          "difference of two 10-seed means")


def _lung_r() -> dict:
    """rms::validate on lung for seeds 1..10 (one Rscript call per seed)."""
    import survrad as sr

    df = sr.load_dataset("lung").dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
    df = df.assign(event=(df["status"] == 2).astype(int))[["time", "event", "age", "sex",
                                                           "ph.ecog"]]
    tmp = Path(tempfile.mkdtemp(prefix="survrad_bench_"))
    csv = tmp / "lung.csv"
    df.to_csv(csv, index=False)
    runs = [measure_r(csv, 300, seed) for seed in range(1, 11)]
    shutil.rmtree(tmp)
    a = np.array([[r["c_apparent"], r["c_optimism"], r["c_corrected"]] for r in runs])
    return {"c_apparent": a[:, 0].mean(), "c_optimism": a[:, 1].mean(),
            "c_corrected": a[:, 2].mean(), "c_corrected_sd_over_seeds": a[:, 2].std(ddof=1),
            "seconds": sum(r["seconds"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--part", choices=["cox", "forest", "all"], default="all")
    parser.add_argument("--cox-boot", type=int, default=200, help="B of the Cox part")
    parser.add_argument("--naive-boot", type=int, default=None,
                        help="B of the lifelines loop (default: --cox-boot); a smaller value "
                             "is scaled linearly to --cox-boot and labelled")
    parser.add_argument("--forest-boot", type=int, default=20,
                        help="B of the forest part (time extrapolated to B=100)")
    parser.add_argument("--full", action="store_true", help="forest part at B=100")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each Cox configuration (best time kept)")
    parser.add_argument("--no-r", action="store_true", help="skip R even when present")
    parser.add_argument("--lung", action="store_true",
                        help="also compare survrad with rms on the lung data")
    args = parser.parse_args()
    if args.child:
        run_child(json.loads(args.child))
        return
    import joblib
    import lifelines
    import sklearn
    import sksurv

    import survrad

    print(f"survrad {survrad.__version__}, numpy {np.__version__}, pandas {pd.__version__}, "
          f"scikit-learn {sklearn.__version__}, scikit-survival {sksurv.__version__}, "
          f"lifelines {lifelines.__version__}, joblib {joblib.__version__}; "
          f"{os.cpu_count()} CPUs")
    print("BLAS/OpenMP threads limited to 1 on every side (OMP_NUM_THREADS etc. = 1, and "
          "threadpoolctl in the Python processes). Each configuration runs in a fresh "
          "process.")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    t0 = time.perf_counter()
    if args.part in ("cox", "all"):
        cox_part(args)
    if args.part in ("forest", "all"):
        forest_part(args)
    if args.lung:
        lung_part(args)
    print(f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

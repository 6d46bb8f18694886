"""How well do the optimism bootstrap, .632+ and cross-validation estimate a forest's AUC?

The demo study validates its random forest classifier (objective response) by the .632+
bootstrap because the optimism bootstrap under-corrects forests. This analysis measures
that claim on the demo cohort and on cohorts drawn with other seeds. For each seed it

1. simulates the development cohort exactly as ``survrad run --demo`` does: the
   ``[simulate]`` table of ``survrad/datasets/demo_study.toml`` passed to
   :func:`survrad.study.run.simulate_from_config` (the demo seed is the table's
   ``random_state``; another seed replaces only ``random_state``);
2. builds the demo's response pipeline for the forest classifier with
   :func:`survrad.study.plan.load_study` on the demo file and that cohort:
   ``plan.pipelines["response"]["forest_classifier"][strategy]`` (the demo's lesion
   strategy, its feature steps ``variance -> combat -> correlation`` and its
   ``[models.forest_classifier]`` settings, read from the TOML at run time;
   ``--n-estimators`` overrides the number of trees in the study mapping before
   ``load_study``, so the pipeline is still built by the study code);
3. validates that pipeline on the development cohort, metric ``auc``, with the seed as
   ``random_state`` (the demo seed is also the demo's ``random_state``):
   Harrell's optimism bootstrap and .632+ in one :func:`survrad.compare_pipelines` call
   (the same B resamples), and repeated patient-grouped K-fold cross-validation
   (``method="cv"``, B repeats, the demo's ``n_folds``) with
   :func:`survrad.bootstrap_validate`; B is the demo's ``n_boot`` unless ``--n-boot``;
4. scores the pipeline fitted once on the whole development cohort (the apparent fit of
   step 3) on ``--n-new`` new patients of the SAME population (see below) with the same
   AUC code (:func:`survrad.evaluation.scoring.score_pipeline`): the value each method
   tries to estimate;
5. prints, per seed, the apparent AUC, each method's estimate and its error against the
   new-patient AUC, then the mean over seeds and each method's mean absolute error.

New patients of the same population
-----------------------------------
In :func:`survrad.simulate_cohort` the model of the objective response does not depend on
the seed: lesion scores, irradiation, the abscopal flag, lesion shrinkage, RECIST rules
and new lesions all use fixed coefficients (module constants of
:mod:`survrad.data.simulate`), and the radiomic feature loadings and scales
(``truth["features"]``) depend only on the settings. One part of the population is drawn
per seed, though: the scanner (centre) batch effect, a location ``shift`` and a
``scale`` per centre and feature (``truth["batch"]``), applied as
``x = loc + sd * (shift_c + scale_c * z)`` to the latent standardised value ``z``. (The
Weibull scale, the censoring and the standardisation of the survival driver are also
solved per sample, but they concern overall survival, not the response endpoint.)
Simulating new patients with another seed alone would therefore move them to other
scanners. The new patients are drawn with ``simulate_cohort`` (same arguments,
``n_patients=--n-new``, seed ``SeedSequence([seed, 1])``) and their features are then
moved onto the development cohort's scanners exactly: ``z`` is recovered from the new
cohort's own batch parameters and re-measured with the development cohort's
(:func:`same_scanners`). Patients, lesions, outcomes and latent values are untouched.
The table also shows the AUC on the new patients with their own scanners (a centre
shift the ComBat step was not fitted on) for comparison; it is not the target.

Run ``python analyses/forest_validation/methods.py --help``; the output of the commands
run for the README is in ``analyses/README.md``.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import survrad as sr
from survrad._outputs import atomic_write_text
from survrad.data.cohort import Cohort
from survrad.evaluation.scoring import score_pipeline
from survrad.evaluation.validation import as_metric_key
from survrad.exceptions import StatisticalWarning
from survrad.study.plan import load_study, read_study
from survrad.study.run import simulate_from_config

DEMO_FILE = Path(sr.__file__).resolve().parent / "datasets" / "demo_study.toml"
ENDPOINT = "response"
MODEL = "forest_classifier"
AUC = as_metric_key("auc")
METHODS = ("optimism", ".632+", "cv")
NEW_PATIENTS_TAG = 1  # new patients of seed s: SeedSequence([s, NEW_PATIENTS_TAG])


def demo_study(n_estimators: int | None = None) -> tuple[dict[str, Any], str, Path]:
    """The demo study mapping (optionally with another number of trees), its name, base."""
    cfg, file, base = read_study(DEMO_FILE)
    if n_estimators is not None:
        cfg = copy.deepcopy(cfg)
        cfg["models"][MODEL]["n_estimators"] = n_estimators
    return cfg, file, base


def development_cohort(cfg: dict[str, Any], file: str, seed: int) -> Cohort:
    """The demo's ``[simulate]`` cohort with ``random_state = seed``."""
    sim = {**cfg["simulate"], "random_state": seed}
    return simulate_from_config({"simulate": sim}, file)


def same_scanners(new: Cohort, dev: Cohort) -> Cohort:
    """``new`` with its lesion features re-measured on ``dev``'s scanners (batch effect).

    Inverts ``x = loc + sd * (shift_c + scale_c * z)`` with ``new``'s batch parameters and
    applies ``dev``'s; everything else (patients, lesions, outcomes, truth but the batch
    table) is kept.
    """
    spec = new.truth["features"]
    if not spec.equals(dev.truth["features"]):
        raise ValueError("the two cohorts have different feature models; simulate both "
                         "with the same feature settings.")
    feats = list(spec.index)
    loc, sd = spec["loc"].to_numpy(), spec["scale"].to_numpy()
    center = new.lesions["patient_id"].map(new.patients["center"]).to_numpy()

    def batch(c: Cohort, what: str) -> np.ndarray:
        table = c.truth["batch"].pivot(index="center", columns="feature", values=what)
        return table.loc[center, feats].to_numpy()

    z = ((new.lesions[feats].to_numpy() - loc) / sd - batch(new, "shift")) / batch(new, "scale")
    lesions = new.lesions.copy()
    lesions[feats] = loc + sd * (batch(dev, "shift") + batch(dev, "scale") * z)
    truth = {**new.truth, "batch": dev.truth["batch"]}
    return Cohort(patients=new.patients, lesions=lesions,
                  patient_features=new.patient_features,
                  lesion_features=new.lesion_features, endpoints=new.endpoints,
                  columns=new.columns, truth=truth, source=new.source)


def new_patients(cfg: dict[str, Any], file: str, seed: int, n_new: int
                 ) -> tuple[Cohort, Cohort]:
    """``n_new`` new patients of the population of seed ``seed``: on the development
    cohort's scanners (the target) and on their own scanners (for comparison)."""
    sim = {**cfg["simulate"], "n_patients": n_new,
           "random_state": np.random.SeedSequence([seed, NEW_PATIENTS_TAG])}
    own = simulate_from_config({"simulate": sim}, file)
    return same_scanners(own, development_cohort(cfg, file, seed)), own


def validate(pipe: Any, cohort: Cohort, n_boot: int, n_folds: int, seed: int
             ) -> tuple[dict[str, dict[str, float]], Any]:
    """AUC of each method (apparent, estimate, n_failed) and the apparent fit."""
    with warnings.catch_warnings():
        # the warning that the optimism bootstrap under-corrects forests: measured here
        warnings.filterwarnings("ignore", message="Harrell's optimism bootstrap",
                                category=StatisticalWarning)
        boot = sr.compare_pipelines({"optimism": pipe, ".632+": pipe}, cohort, ENDPOINT,
                                    n_boot=n_boot, metrics=["auc"],
                                    method={"optimism": "optimism", ".632+": ".632+"},
                                    random_state=seed, n_jobs=1, progress=False)
    cv = sr.bootstrap_validate(pipe, cohort, ENDPOINT, n_boot=n_boot, metrics=["auc"],
                               method="cv", n_folds=n_folds, random_state=seed, n_jobs=1,
                               progress=False)
    results = {**boot.results, "cv": cv}
    out = {m: results[m].estimate(AUC) for m in METHODS}
    return out, boot.results[".632+"].fitted


def new_auc(fitted: Any, cohort: Cohort) -> float:
    """AUC of a fitted pipeline on ``cohort`` (the validation engine's own scoring)."""
    values, failures = score_pipeline(fitted, cohort, ["auc"], [])
    if AUC in failures:
        raise RuntimeError(f"AUC on the new patients failed: {failures[AUC]}")
    return float(values[AUC])


def run_seed(seed: int, strategy: str, n_boot: int | None, n_new: int,
             n_estimators: int | None) -> dict[str, Any]:
    """One row: the estimates of every method and the new-patient AUC for one seed."""
    start = time.process_time()
    cfg, file, base = demo_study(n_estimators)
    dev = development_cohort(cfg, file, seed)
    plan = load_study(cfg, file=file, base=base, cohort=dev)
    by_strategy = plan.pipelines[ENDPOINT][MODEL]
    if strategy not in by_strategy:
        raise SystemExit(f"--strategy {strategy!r}: the demo's pipelines are "
                         f"{list(by_strategy)}.")
    val = plan.config["validation"]
    b = val["n_boot"] if n_boot is None else n_boot
    est, fitted = validate(by_strategy[strategy], dev, b, val["n_folds"], seed)
    target, own = new_patients(cfg, file, seed, n_new)
    y = dev.y(ENDPOINT)
    return {"seed": seed, "strategy": strategy,
            "n_estimators": plan.config["models"][MODEL]["n_estimators"],
            "n_boot": b, "n_folds": val["n_folds"], "n_patients": dev.n_patients,
            "responders": int(np.sum(y)), "n_new": n_new,
            "new_responders": int(np.sum(target.y(ENDPOINT))),
            "apparent": est["optimism"]["apparent"],
            "optimism": est["optimism"]["corrected"], "dot632plus": est[".632+"]["corrected"],
            "cv": est["cv"]["corrected"], "new_auc": new_auc(fitted, target),
            "new_auc_own_scanners": new_auc(fitted, own),
            "n_failed": sum(est[m]["n_failed"] for m in METHODS),
            "cpu_seconds": time.process_time() - start}


COLUMNS = {"apparent": "apparent", "optimism": "optimism", "dot632plus": ".632+",
           "cv": "cv"}


def seed_table(row: dict[str, Any]) -> pd.DataFrame:
    """One seed: AUC by method and its error against the new-patient AUC."""
    rows = [{"method": label, "AUC": row[col], "minus new patients": row[col] - row["new_auc"]}
            for col, label in COLUMNS.items()]
    rows.append({"method": f"new patients (n={row['n_new']})", "AUC": row["new_auc"],
                 "minus new patients": 0.0})
    rows.append({"method": "new patients, own scanners", "AUC": row["new_auc_own_scanners"],
                 "minus new patients": row["new_auc_own_scanners"] - row["new_auc"]})
    return pd.DataFrame(rows)


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds of every estimate, and each one's error against new patients."""
    rows = []
    for col, label in [*COLUMNS.items(), ("new_auc", "new patients"),
                       ("new_auc_own_scanners", "new patients, own scanners")]:
        err = table[col] - table["new_auc"]
        rows.append({"method": label, "mean AUC": table[col].mean(),
                     "mean error": err.mean(), "mean |error|": err.abs().mean(),
                     "largest |error|": err.abs().max()})
    return pd.DataFrame(rows)


def _show(df: pd.DataFrame) -> str:
    with pd.option_context("display.width", 200, "display.max_columns", 30,
                           "display.float_format", "{:.3f}".format):
        return df.to_string(index=False)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    cfg, _, _ = read_study(DEMO_FILE)
    demo_seed = cfg["simulate"]["random_state"]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[demo_seed],
                   help=f"simulation and resampling seeds (default: the demo's, {demo_seed})")
    p.add_argument("--strategy", default="C_statistics",
                   help="pipeline of the demo's response endpoint (a strategy or a "
                   "baseline; default C_statistics)")
    p.add_argument("--n-boot", type=int, default=None,
                   help="bootstrap replicates and CV repeats (default: the demo's n_boot, "
                   f"now {cfg['validation']['n_boot']})")
    p.add_argument("--n-new", type=int, default=3000,
                   help="new patients per seed (default 3000)")
    p.add_argument("--n-estimators", type=int, default=None,
                   help="trees of the forest (default: the demo's, now "
                   f"{cfg['models'][MODEL]['n_estimators']})")
    p.add_argument("--out", type=Path, default=None,
                   help="write one row per seed to this CSV file (never replaced "
                   "without --force)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.out is not None and args.out.exists() and not args.force:
        print(f"{args.out} exists; pass --force to replace it.", file=sys.stderr)
        return 2
    wall, cpu = time.perf_counter(), time.process_time()
    rows = []
    for seed in args.seeds:
        row = run_seed(seed, args.strategy, args.n_boot, args.n_new, args.n_estimators)
        rows.append(row)
        print(f"seed {seed}: {row['n_patients']} patients, {row['responders']} responders; "
              f"{MODEL} ({row['n_estimators']} trees), strategy {row['strategy']}; "
              f"B = {row['n_boot']} ({row['n_folds']}-fold CV repeats); new patients: "
              f"{row['n_new']} ({row['new_responders']} responders); "
              f"{row['cpu_seconds']:.0f} s CPU")
        print(_show(seed_table(row)), end="\n\n", flush=True)
    table = pd.DataFrame(rows)
    print(f"Summary over {len(table)} seed(s) {list(table['seed'])} (error = estimate minus "
          "the AUC on new patients of the same population):")
    print(_show(summary_table(table)))
    print(f"\nruntime {time.perf_counter() - wall:.0f} s wall, "
          f"{time.process_time() - cpu:.0f} s CPU (n_jobs=1)")
    if args.out is not None:
        atomic_write_text(args.out, table.to_csv(index=False))
        print(f"rows written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

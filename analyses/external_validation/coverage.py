"""Coverage of the external C-index interval, and baseline-hazard recalibration (issue 14).

For each seed and each of two settings a multi-centre cohort is simulated with
``simulate_cohort`` (5 centres; worst-lesion driver; 3 lesions per patient on average):
centres C1-C4 (about 150 patients each) are the development data, centre C5 the
validation population, of which ``n_test`` patients form the external validation sample,
``n_test`` more an independent hold-out sample of the same centre, and 20,000 more the
"population" on which the frozen model's C is computed (the target of the interval).

Settings
    ``features``: a strong centre effect on the radiomic features (``batch_effect=1.0``;
    C5's location and scale shifts differ from C1-C4's), no effect on the hazard.
    ``hazard``: a centre effect on the baseline hazard (C5 has log hazard ratio +0.7,
    ``center_log_hazard``) and the default feature batch effect (0.5).

Pipeline
    ``FeatureStatistics(stats=("mean", "max"), features=rad_sig_01..04)`` -> ``ComBat(
    unseen="reference")`` (fitted on C1-C4; C5, unseen, harmonised to the development
    reference from its own features) -> unpenalised ``CoxModel``.

Per seed the script records: the external C on the validation sample with its 95 %
percentile interval (``external_validate``, ``n_boot`` bootstrap samples of the validation
patients), the frozen model's C on the 20,000-patient population (same centre, same
frozen model and the same ComBat rule) and whether the interval covers it; calibration
in the large (CITL) of the frozen model on the validation sample with its 95 % interval;
and, after ``recalibrate(..., "intercept")`` on the validation sample (baseline hazard
re-estimated), CITL of the updated model on the independent hold-out sample and on the
population, with whether the hold-out interval covers 0: its own Wald interval
(``+- 1.96 / sqrt(O_holdout)``, which ignores that the baseline was itself estimated from
the validation sample) and the interval that adds the update's error
(``+- 1.96 sqrt(1 / O_holdout + 1 / O_validation)``: the baseline rescaling estimated from
``O_validation`` events has variance about ``1 / O_validation`` on the log scale). On the
validation sample itself the updated model has CITL = 0 by construction.

Run from the repository root (about 20 minutes for 50 seeds on 2 busy cores)::

    python analyses/external_validation/coverage.py --seeds 50 --out /tmp/external_validation

The figures are quoted in ``analyses/README.md`` (section "External validation").
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from survrad.data.cohort import Cohort
from survrad.data.simulate import simulate_cohort
from survrad.evaluation.concordance import concordance_index
from survrad.evaluation.external import external_validate
from survrad.evaluation.recalibration import calibration_statistics, recalibrate
from survrad.features.combat import ComBat
from survrad.lesions.statistics import FeatureStatistics
from survrad.models.cox import CoxModel
from survrad.models.pipeline import CohortPipeline

SETTINGS = {"features": {"batch_effect": 1.0, "center_log_hazard": None},
            "hazard": {"batch_effect": 0.5, "center_log_hazard": (0.0, 0.0, 0.0, 0.0, 0.7)}}
N_DEV_PER_CENTER = 150
N_POPULATION = 20_000
FEATURES = ["rad_sig_01", "rad_sig_02", "rad_sig_03", "rad_sig_04"]


def pipeline() -> CohortPipeline:
    """The pipeline validated in every run."""
    return CohortPipeline(
        strategy=FeatureStatistics(stats=("mean", "max"), features=FEATURES),
        features=[ComBat(batch_col="center", unseen="reference")], model=CoxModel(),
        patient_features=())


def simulate(seed: int, setting: str, n_test: int) -> dict[str, Cohort]:
    """Development (C1-C4), validation, hold-out and population samples of C5."""
    n_c5 = N_POPULATION + 2 * n_test + 400           # margin for the random C5 count
    counts = [N_DEV_PER_CENTER] * 4 + [n_c5]
    cohort = simulate_cohort(
        n_patients=sum(counts), random_state=seed, n_centers=5,
        center_probabilities=counts, mean_lesions=3.0, n_signal_features=4,
        n_volume_features=0, n_noise_features=2, **SETTINGS[setting])
    center = cohort.patients["center"].to_numpy()
    ids = cohort.patient_ids
    c5 = ids[center == "C5"]
    if c5.size < N_POPULATION + 2 * n_test:
        raise RuntimeError(f"seed {seed}: only {c5.size} C5 patients")
    return {"dev": cohort.subset(ids[center != "C5"]),
            "test": cohort.subset(c5[:n_test]),
            "holdout": cohort.subset(c5[n_test:2 * n_test]),
            "population": cohort.subset(c5[2 * n_test:2 * n_test + N_POPULATION])}


def one_run(seed: int, setting: str, n_test: int, n_boot: int) -> dict[str, float]:
    """The figures of one seed and setting."""
    data = simulate(seed, setting, n_test)
    res = external_validate(pipeline(), data["dev"], data["test"], "os", metrics=["c_index"],
                            horizons=[12.0], n_boot=n_boot, random_state=seed)
    row = res.estimate("c_index")
    frozen = res.fitted
    pop = data["population"]
    y = pop.y("os")
    risk = frozen.predict_risk(pop).to_numpy()
    c_pop = concordance_index(y["time"], y["event"].astype(int), risk)
    cal = res.calibration
    updated = recalibrate(frozen, data["test"], "intercept")
    hold = calibration_statistics(updated, data["holdout"])
    pop_after = calibration_statistics(updated, pop)
    pop_before = calibration_statistics(frozen, pop)
    return {"seed": seed, "setting": setting, "n_dev": res.n_train, "n_test": res.n_test,
            "events_test": res.events_test, "c_external": row["external"],
            "ci_low": row["ci_low"], "ci_high": row["ci_high"], "c_population": c_pop,
            "covered": bool(row["ci_low"] <= c_pop <= row["ci_high"]),
            "c_development": row["apparent"],
            "citl_frozen": cal.citl, "citl_frozen_low": cal.citl_ci_low,
            "citl_frozen_high": cal.citl_ci_high,
            "citl_frozen_covers_0": bool(cal.citl_ci_low <= 0 <= cal.citl_ci_high),
            "citl_frozen_population": pop_before.citl,
            "citl_updated_holdout": hold.citl, "citl_updated_low": hold.citl_ci_low,
            "citl_updated_high": hold.citl_ci_high,
            "citl_updated_covers_0": bool(hold.citl_ci_low <= 0 <= hold.citl_ci_high),
            "citl_updated_covers_0_with_update_error": bool(
                abs(hold.citl) <= 1.959964 * np.sqrt(1 / hold.n_events + 1 / cal.n_events)),
            "citl_updated_population": pop_after.citl}


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Per setting: coverage (with a Clopper-Pearson interval) and calibration figures."""
    rows = []
    for setting, g in runs.groupby("setting", sort=False):
        k, n = int(g["covered"].sum()), len(g)
        lo = stats.beta.ppf(0.025, k, n - k + 1) if k > 0 else 0.0
        hi = stats.beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
        rows.append({
            "setting": setting, "seeds": n, "coverage": k / n, "coverage_low": lo,
            "coverage_high": hi, "mean_ci_width": float((g["ci_high"] - g["ci_low"]).mean()),
            "mean_c_external": g["c_external"].mean(),
            "mean_c_population": g["c_population"].mean(),
            "mean_c_development": g["c_development"].mean(),
            "mean_citl_frozen": g["citl_frozen"].mean(),
            "citl_frozen_covers_0": g["citl_frozen_covers_0"].mean(),
            "mean_citl_frozen_population": g["citl_frozen_population"].mean(),
            "mean_citl_updated_holdout": g["citl_updated_holdout"].mean(),
            "citl_updated_covers_0": g["citl_updated_covers_0"].mean(),
            "citl_updated_covers_0_with_update_error":
                g["citl_updated_covers_0_with_update_error"].mean(),
            "mean_citl_updated_population": g["citl_updated_population"].mean()})
    return pd.DataFrame(rows)


def run(seeds: list[int], n_test: int = 300, n_boot: int = 1000,
        settings: tuple[str, ...] = tuple(SETTINGS), progress: bool = False) -> pd.DataFrame:
    """Every seed of every setting (one row each)."""
    rows = []
    for setting in settings:
        for seed in seeds:
            t0 = time.perf_counter()
            rows.append(one_run(seed, setting, n_test, n_boot))
            if progress:
                print(f"{setting} seed {seed}: covered={rows[-1]['covered']} "
                      f"({time.perf_counter() - t0:.1f} s)", flush=True)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    """Command line: run the seeds and write runs.csv, summary.csv and manifest.json."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--n-test", type=int, default=300)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    from survrad._outputs import atomic_write_text, output_folder

    start = time.perf_counter()
    runs = run(list(range(args.seeds)), args.n_test, args.n_boot, progress=True)
    summary = summarise(runs)
    with output_folder(args.out, force=args.force, kind="analysis",
                       command="external_validation/coverage.py") as out:
        atomic_write_text(out.path / "runs.csv", runs.to_csv(index=False))
        atomic_write_text(out.path / "summary.csv", summary.to_csv(index=False))
        atomic_write_text(out.path / "manifest.json", json.dumps({
            "seeds": args.seeds, "n_test": args.n_test, "n_boot": args.n_boot,
            "population": N_POPULATION, "settings": {k: {kk: vv for kk, vv in v.items()}
                                                     for k, v in SETTINGS.items()},
            "seconds": round(time.perf_counter() - start, 1)}, indent=2, default=list))
    print(summary.T.to_string())


if __name__ == "__main__":
    main()

"""Lesion-level decisions on simulated cohorts with known truth (issue 12).

Three measurements, each over several seeds of ``simulate_cohort`` (worst-lesion driver):

``d``
    Strategy D on 400 patients with confounded irradiation (the largest lesion is the
    first one irradiated with probability 0.9): 5-fold cross-fitted predictions, among
    NON-irradiated lesions, Spearman of the predicted response with log volume and with
    the true response probability, for the irradiation-adjusted model (default) and the
    treatment-blind one (``adjust=None``).
``decision``
    :func:`survrad.lesions.lesion_decision_table` with strategy E
    (``LesionRiskAggregation(penalty=0.1)``) on 200 patients, B = 100: the share of
    multi-lesion patients whose top-ranked lesion is the truly worst one (hit rate)
    against chance (mean ``1 / n_lesions``), the mean ``p_riskiest`` of the top-ranked
    lesions (is the rank probability calibrated against that hit rate?), and the policy
    comparison (top-ranked vs largest vs random lesion) with patient-bootstrap intervals,
    against the truth and against the observed proxy (``observed_*``: the non-irradiated
    lesion whose diameter grew most).
``attention``
    Strategy F (``AttentionMIL()`` defaults) fitted on 60, 150 and 300 patients (and, as a
    negative control, on a mean-lesion driver at 150 and 300): the attention diagnostics
    (score test against mean pooling, entropy relative to uniform, largest deviation from
    ``1 / n_lesions``) and whether the uniform-attention warning fired; at 300 patients
    also the 5-fold cross-fitted attention weights: share of multi-lesion patients whose
    highest weight is on the truly worst lesion, against chance.

Run from the repository root (outputs, a CSV per part, ``summary.txt`` and
``manifest.json``, go to ``--out``; about 25 minutes on 2 busy cores)::

    python analyses/lesion_decisions/run.py --seeds 5 --n-jobs 2 --out reports/lesion_decisions

The results are quoted in ``analyses/README.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from survrad.data.simulate import simulate_cohort
from survrad.exceptions import AttentionUniformWarning
from survrad.lesions import (
    AttentionMIL,
    LesionResponseAggregation,
    LesionRiskAggregation,
    compare_policies,
    lesion_decision_table,
    lesion_risk_table,
)

E_PENALTY = 0.1        # glmnet's scale; chosen on seeds 0-1 at 300 patients (hit rate 0.67)
_COMPARE = Path(__file__).resolve().parents[1] / "compare_strategies" / "compare.py"
_MODULE = "survrad_analyses_compare_strategies"     # the name benchmark.py loads it under


def _load_compare() -> ModuleType:
    """analyses/compare_strategies/compare.py (for its ``write_tables``: CSV + manifest)."""
    if _MODULE in sys.modules:
        return sys.modules[_MODULE]
    spec = importlib.util.spec_from_file_location(_MODULE, _COMPARE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE] = module
    spec.loader.exec_module(module)
    return module


def d_confounding(seeds: list[int], n_patients: int = 400,
                  largest_probability: float = 0.9) -> pd.DataFrame:
    """Spearman figures of adjusted and treatment-blind D among non-irradiated lesions."""
    rows = []
    for seed in seeds:
        c = simulate_cohort(n_patients=n_patients, random_state=seed,
                            rt_largest_probability=largest_probability)
        les, truth = c.lesions, c.truth["lesions"]
        non = les["irradiated"].to_numpy() == 0
        lv = np.log(les["volume_ml"].to_numpy())[non]
        true_p = truth["p_response_no_rt"].to_numpy()[non]
        row = {"seed": seed, "n_patients": n_patients,
               "observed_vs_log_volume": stats.spearmanr(
                   les["lesion_response"].to_numpy()[non], lv).statistic}
        for name, adjust in (("adjusted", "auto"), ("blind", None)):
            tab = lesion_risk_table(LesionResponseAggregation(adjust=adjust), c, n_folds=5,
                                    random_state=seed)
            p = tab["p_response_no_rt"].to_numpy()[non]
            row[f"{name}_vs_log_volume"] = stats.spearmanr(p, lv).statistic
            row[f"{name}_vs_true_no_rt"] = stats.spearmanr(p, true_p).statistic
        rows.append(row)
    return pd.DataFrame(rows)


def decision_calibration(seeds: list[int], n_patients: int = 200, n_boot: int = 100,
                         n_jobs: int | None = None) -> pd.DataFrame:
    """Hit rate, chance, mean p_riskiest of the top-ranked lesions and the policies."""
    rows = []
    for seed in seeds:
        c = simulate_cohort(n_patients=n_patients, random_state=seed, driver="worst")
        start = time.perf_counter()
        res = lesion_decision_table(LesionRiskAggregation(penalty=E_PENALTY), c, "os",
                                    n_boot=n_boot, random_state=seed, n_jobs=n_jobs)
        seconds = time.perf_counter() - start
        tab = res.table.assign(worst=c.truth["lesions"]["is_worst"].to_numpy())
        top = tab.loc[(tab["rank_in_patient"] == 1) & (tab["n_lesions"] >= 2)]
        pol = compare_policies(res, c, n_boot=2000, random_state=seed).rules.set_index("rule")
        seen = compare_policies(res, c, target="observed", n_boot=2000,
                                random_state=seed).rules.set_index("rule")
        row = {"seed": seed, "n_patients": n_patients, "n_boot": n_boot,
               "n_failed": res.n_failed, "multi_lesion_patients": len(top),
               "hit_rate": top["worst"].mean(), "chance": (1 / top["n_lesions"]).mean(),
               "mean_p_riskiest_top": top["p_riskiest"].mean(), "seconds": seconds}
        row["hit_over_chance"] = row["hit_rate"] / row["chance"]
        row["calibration_gap"] = row["mean_p_riskiest_top"] - row["hit_rate"]
        for rule in pol.index:
            row[f"{rule}_hit"] = pol.loc[rule, "hit_rate"]
            row[f"{rule}_ci_low"] = pol.loc[rule, "ci_low"]
            row[f"{rule}_ci_high"] = pol.loc[rule, "ci_high"]
        for rule in seen.index:                  # the observed proxy (grew most, no RT)
            row[f"observed_{rule}_hit"] = seen.loc[rule, "hit_rate"]
        rows.append(row)
    return pd.DataFrame(rows)


def _top_attention_hits(tab: pd.DataFrame, worst: np.ndarray) -> tuple[float, float]:
    df = pd.DataFrame({"pid": tab["patient_id"], "a": tab["attention"], "worst": worst})
    size = df.groupby("pid")["a"].transform("size")
    df = df.loc[size >= 2]
    top = df.loc[df.groupby("pid", sort=False)["a"].idxmax()]
    return float(top["worst"].mean()), float((1 / df.groupby("pid").size()).mean())


def attention(seeds: list[int], sizes: tuple[int, ...] = (60, 150, 300),
              crossfit_at: int = 300) -> pd.DataFrame:
    """F diagnostics at each size (worst-lesion driver; and the mean-lesion driver, where
    attention cannot help, at 150 and 300 patients); cross-fitted attention hit rate at
    ``crossfit_at``."""
    rows = []
    runs = [("worst", n) for n in sizes] + [("mean", n) for n in sizes if n >= 150]
    for driver, n in runs:
        for seed in seeds:
            c = simulate_cohort(n_patients=n, random_state=seed, driver=driver)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                d = AttentionMIL(random_state=seed).fit(c, "os").attention_diagnostics_
            row = {"driver": driver, "n_patients": n, "seed": seed, "p_value": d.p_value,
                   "entropy_ratio": d.entropy_ratio, "max_deviation": d.max_deviation,
                   "departed": d.departed,
                   "warned": any(issubclass(w.category, AttentionUniformWarning)
                                 for w in caught)}
            if n == crossfit_at and driver == "worst":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", AttentionUniformWarning)
                    tab = lesion_risk_table(AttentionMIL(random_state=seed), c, "os",
                                            n_folds=5, random_state=seed)
                hit, chance = _top_attention_hits(tab, c.truth["lesions"]["is_worst"]
                                                  .to_numpy())
                row.update(crossfit_attention_hit=hit, chance=chance)
            rows.append(row)
    return pd.DataFrame(rows)


def _summary(name: str, df: pd.DataFrame) -> str:
    keys = [k for k in ("driver", "n_patients") if k in df.columns]
    means = df.drop(columns=["seed"]).groupby(keys).mean(numeric_only=True)
    lines = [f"== {name} ({len(df)} rows)", df.round(3).to_string(index=False),
             f"means by {', '.join(keys)}:", means.round(3).to_string()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", choices=["d", "decision", "attention", "all"], default="all")
    p.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N-1")
    p.add_argument("--n-boot", type=int, default=100)
    p.add_argument("--n-jobs", type=int, default=None)
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the CSV tables, summary.txt and manifest.json")
    p.add_argument("--force", action="store_true", help="replace an existing --out folder")
    args = p.parse_args(argv)
    seeds = list(range(args.seeds))
    parts = ["d", "decision", "attention"] if args.part == "all" else [args.part]
    tables, texts = {}, []
    begin = time.perf_counter()
    with threadpool_limits(1, user_api="blas"):
        for part in parts:
            start = time.perf_counter()
            if part == "d":
                df = d_confounding(seeds)
            elif part == "decision":
                df = decision_calibration(seeds, n_boot=args.n_boot, n_jobs=args.n_jobs)
            else:
                df = attention(seeds)
            text = _summary(part, df) + f"\n({time.perf_counter() - start:.0f} s)"
            print(text, flush=True)
            tables[part] = df
            texts.append(text)
    if args.out is not None:
        out = _load_compare().write_tables(args.out, tables, force=args.force, args=args,
                                           seconds=time.perf_counter() - begin)
        (out / "summary.txt").write_text("\n\n".join(texts) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

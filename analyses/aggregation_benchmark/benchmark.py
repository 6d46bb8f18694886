"""Which multi-lesion strategy wins where: A-F under four ways lesions can drive survival.

The simulator (:func:`survrad.data.simulate.simulate_cohort`) lets overall survival depend
on the lesions in one of four ways (``driver``), on top of the same clinical effects:

=================  ====================================================================
``worst``          the most refractory lesion (max of the latent lesion scores)
``burden``         total tumour volume (log), no lesion phenotype
``mean``           the average lesion phenotype (mean of the latent scores)
``heterogeneity``  how different the lesions are (sd of the latent scores)
=================  ====================================================================

Every scenario uses the SAME seed, so patients, lesions and radiomic features are
identical and only the survival mechanism changes (a paired design). In each scenario
the pipelines of ``analyses/compare_strategies/compare.py`` (clinical-only and burden-only
baselines, strategies A-F, all with the same penalised Cox) plus ``H_heterogeneity`` (the
dispersion and pairwise-dissimilarity features of :class:`survrad.lesions.Heterogeneity`,
a dedicated strategy of docs/architecture.md outside A-F) are validated on the same
patient bootstrap resamples, as comparisons of aggregation methods in the multi-lesion
radiomics literature do: one model, one validation scheme, only the aggregation varies.

Reported per scenario and pipeline: optimism-corrected Harrell C with its interval, the
number of failed replicates, the C on 2000 independent patients of the same simulated
population (``external_c``) and the C of the true linear predictor (the ceiling). The
winner (highest corrected C) is marked ``*``; pipelines whose paired difference from the
winner has an interval containing 0 are marked ``=`` (not distinguishable from it).

Run ``python analyses/aggregation_benchmark/benchmark.py --help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from survrad.data.simulate import DRIVERS
from survrad.evaluation.bootstrap import ComparisonResult, compare_pipelines
from survrad.exceptions import ConfigError
from survrad.lesions import Heterogeneity
from survrad.models import CohortPipeline, CoxModel

__all__ = [
    "SCENARIOS",
    "benchmark_pipelines",
    "format_external",
    "format_wide",
    "load_compare",
    "main",
    "run_benchmark",
    "run_scenario",
    "winners",
]

SCENARIOS = {
    "worst": "OS driven by the worst lesion (max score)",
    "burden": "OS driven by total tumour burden",
    "mean": "OS driven by the mean lesion phenotype",
    "heterogeneity": "OS driven by inter-lesion heterogeneity (sd of scores)",
}
_COMPARE = Path(__file__).resolve().parents[1] / "compare_strategies" / "compare.py"
_MODULE = "survrad_analyses_compare_strategies"


def load_compare() -> ModuleType:
    """The sibling analysis ``compare_strategies/compare.py`` as a module (loaded once)."""
    if _MODULE in sys.modules:
        return sys.modules[_MODULE]
    spec = importlib.util.spec_from_file_location(_MODULE, _COMPARE)
    if spec is None or spec.loader is None:  # pragma: no cover - the file ships with us
        raise ImportError(f"cannot load {_COMPARE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE] = module
    spec.loader.exec_module(module)
    return module


def benchmark_pipelines(model: CoxModel | None = None, *, random_state: int = 0,
                        heterogeneity: bool = True) -> dict[str, CohortPipeline]:
    """Baselines, A-F (as in compare.py) and optionally ``H_heterogeneity``.

    Examples
    --------
    >>> list(benchmark_pipelines())[-2:]
    ['F_attention_mil', 'H_heterogeneity']
    """
    cmp = load_compare()
    model = cmp.make_model() if model is None else model
    pipes = cmp.strategy_pipelines(model, random_state=random_state)
    if heterogeneity:
        pipes["H_heterogeneity"] = CohortPipeline(strategy=Heterogeneity(), model=clone(model),
                                                  patient_features=cmp.CLINICAL)
    return pipes


def _versus_winner(result: ComparisonResult, winner: str) -> pd.DataFrame:
    diff = dataclasses.replace(result, reference=winner).differences("c_index")
    diff = diff.set_index("pipeline")[["difference", "ci_low", "ci_high"]]
    diff.columns = ["diff_vs_winner", "diff_ci_low", "diff_ci_high"]
    diff.loc[winner] = [0.0, 0.0, 0.0]
    return diff


def run_scenario(driver: str, n_patients: int = 300, n_boot: int = 50, random_state: int = 0,
                 n_jobs: int | None = 1, *, n_external: int = 2000,
                 penalty: float | str | None = None, l1_ratio: float | None = None,
                 heterogeneity: bool = True, progress: bool = False) -> pd.DataFrame:
    """Validate every pipeline in one scenario; one row per pipeline.

    Returns
    -------
    pandas.DataFrame
        scenario, pipeline, description, apparent, optimism, corrected, ci_low, ci_high,
        n_boot, n_failed, external_c, bootstrap_shift, failure_reasons, oracle_c (C of the
        true linear predictor on the analysis cohort), oracle_external_c, diff_vs_winner,
        diff_ci_low, diff_ci_high, winner (bool), tied_with_winner (bool).
    """
    cmp = load_compare()
    model = cmp.make_model(cmp.DEFAULT_PENALTY if penalty is None else penalty,
                           cmp.DEFAULT_L1_RATIO if l1_ratio is None else l1_ratio)
    cohort, external = cmp.simulate_split(n_patients, random_state, driver=driver,
                                          n_external=n_external)
    pipes = benchmark_pipelines(model, random_state=random_state, heterogeneity=heterogeneity)
    with threadpool_limits(1):
        result = compare_pipelines(pipes, cohort, cmp.ENDPOINT, n_boot,
                                   reference=cmp.REFERENCE, random_state=random_state,
                                   n_jobs=n_jobs, progress=progress, metrics=["c_index"])
        ext = cmp.external_concordance(pipes, cohort, external) if external is not None \
            else None
    summary, _ = cmp.summarise_comparison(result, ext)
    summary.loc[summary["pipeline"] == "H_heterogeneity", "description"] = \
        "H heterogeneity + clinical"
    oracle = cmp.oracle_concordance(cohort, external)
    summary.insert(0, "scenario", driver)
    summary["oracle_c"] = oracle["analysis"]
    summary["oracle_external_c"] = oracle.get("external", np.nan)
    winner = summary.loc[summary["corrected"].idxmax(), "pipeline"]
    summary = summary.join(_versus_winner(result, winner), on="pipeline")
    summary["winner"] = summary["pipeline"] == winner
    summary["tied_with_winner"] = (~summary["winner"] & (summary["diff_ci_low"] <= 0)
                                   & (summary["diff_ci_high"] >= 0))
    return summary


def run_benchmark(n_patients: int = 300, n_boot: int = 50, random_state: int = 0,
                  n_jobs: int | None = 1, *, drivers: Sequence[str] = DRIVERS,
                  n_external: int = 2000, penalty: float | str | None = None,
                  l1_ratio: float | None = None, heterogeneity: bool = True,
                  progress: bool = False) -> pd.DataFrame:
    """:func:`run_scenario` for every driver, stacked (long format).

    Examples
    --------
    >>> res = run_benchmark(80, 2, drivers=["worst"], n_external=0)  # doctest: +SKIP
    >>> res.groupby("scenario")["winner"].sum().tolist()  # doctest: +SKIP
    [1]
    """
    unknown = [d for d in drivers if d not in DRIVERS]
    if unknown or not drivers:
        raise ConfigError(f"drivers must be a non-empty list of {list(DRIVERS)}, got "
                          f"{list(drivers)}.")
    frames = [run_scenario(d, n_patients, n_boot, random_state, n_jobs,
                           n_external=n_external, penalty=penalty, l1_ratio=l1_ratio,
                           heterogeneity=heterogeneity, progress=progress) for d in drivers]
    return pd.concat(frames, ignore_index=True)


def winners(results: pd.DataFrame) -> pd.DataFrame:
    """Per scenario: winner by corrected C, pipelines tied with it, best external C."""
    rows = []
    for scenario, df in results.groupby("scenario", sort=False):
        best = df.loc[df["winner"]].iloc[0]
        ext = df["external_c"]
        best_ext = df.loc[ext.idxmax(), "pipeline"] if ext.notna().any() else ""
        rows.append({"scenario": scenario, "winner": best["pipeline"],
                     "corrected_c": best["corrected"],
                     "tied_with_winner": ", ".join(df.loc[df["tied_with_winner"], "pipeline"]),
                     "best_external": best_ext,
                     "best_external_c": ext.max() if ext.notna().any() else np.nan,
                     "oracle_external_c": best["oracle_external_c"]})
    return pd.DataFrame(rows)


def format_wide(results: pd.DataFrame, digits: int = 3) -> str:
    """Pipelines x scenarios: corrected C [CI] with ``*`` winner and ``=`` tied marks.

    ``!`` marks an interval that does not contain its own estimate (see
    ``compare.bootstrap_shift``).
    """
    def cell(r: pd.Series) -> str:
        mark = "*" if r["winner"] else "=" if r["tied_with_winner"] else " "
        outside = not r["ci_low"] <= r["corrected"] <= r["ci_high"]
        return (f"{r['corrected']:.{digits}f} [{r['ci_low']:.{digits}f}, "
                f"{r['ci_high']:.{digits}f}]{mark}{'!' if outside else ' '}")

    table = results.assign(cell=results.apply(cell, axis=1)).pivot(
        index="pipeline", columns="scenario", values="cell")
    order = list(dict.fromkeys(results["pipeline"]))
    return table.loc[order, list(dict.fromkeys(results["scenario"]))].to_string()


def format_external(results: pd.DataFrame, digits: int = 3) -> str:
    """Pipelines x scenarios: external C (best per scenario marked ``*``), oracle row."""
    ext = results.pivot(index="pipeline", columns="scenario", values="external_c")
    scen = list(dict.fromkeys(results["scenario"]))
    order = list(dict.fromkeys(results["pipeline"]))
    ext = ext.loc[order, scen]
    text = ext.apply(lambda col: [f"{v:.{digits}f}" + ("*" if v == col.max() else " ")
                                  for v in col])
    oracle = results.groupby("scenario", sort=False)["oracle_external_c"].first()
    text.loc["(true lp)"] = [f"{oracle[s]:.{digits}f} " for s in scen]
    return text.to_string()


# --------------------------------------------------------------------------------- CLI
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="benchmark.py", description="Strategies A-F (and baselines, heterogeneity) "
        "under four simulated survival mechanisms: corrected Harrell C by scenario, the "
        "winner per scenario marked.")
    p.add_argument("--n-patients", type=int, default=300)
    p.add_argument("--n-boot", type=int, default=50)
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--drivers", nargs="+", choices=DRIVERS, default=list(DRIVERS))
    p.add_argument("--n-external", type=int, default=2000,
                   help="independent patients per scenario for the external C (0: none)")
    p.add_argument("--penalty", default=None,
                   help="glmnet lambda of the shared Cox model, or 'cv' (default 0.05)")
    p.add_argument("--l1-ratio", type=float, default=None, help="default 0.5")
    p.add_argument("--no-heterogeneity", action="store_true",
                   help="leave out the H_heterogeneity pipeline (A-F and baselines only)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for results.csv (long) and winners.csv")
    p.add_argument("--force", action="store_true", help="replace an existing --out folder")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; prints the tables, returns the exit code."""
    args = _parser().parse_args(argv)
    cmp = load_compare()
    try:
        penalty = None if args.penalty is None else cmp.parse_penalty(args.penalty)
        cmp.check_out(args.out, args.force)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    results = run_benchmark(args.n_patients, args.n_boot, args.random_state, args.n_jobs,
                            drivers=args.drivers, n_external=args.n_external, penalty=penalty,
                            l1_ratio=args.l1_ratio, heterogeneity=not args.no_heterogeneity,
                            progress=True)
    model = cmp.make_model(cmp.DEFAULT_PENALTY if penalty is None else penalty,
                           cmp.DEFAULT_L1_RATIO if args.l1_ratio is None else args.l1_ratio)
    print(f"{args.n_patients} simulated patients per scenario (seed {args.random_state}, "
          f"same patients and lesions in every scenario); {model!r}; {args.n_boot} "
          "bootstrap replicates.\n")
    print("Optimism-corrected Harrell C [95% CI]; * winner, = paired difference from the "
          "winner not distinguishable from 0; ! interval does not contain its estimate:")
    print(format_wide(results))
    print(cmp.interval_note(results))
    if args.n_external:
        print(f"\nHarrell C on {args.n_external} independent patients of the same simulated "
              "population (* best; last row: the true linear predictor):")
        print(format_external(results))
    print("\nWinners:")
    print(winners(results).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    failed = results[results["n_failed"] > 0]
    for r in failed.itertuples():
        print(f"\n{r.scenario} / {r.pipeline}: {r.n_failed} failed replicates: "
              f"{r.failure_reasons}")
    if not len(failed):
        print("\nNo failed replicates.")
    print(f"\nruntime {time.perf_counter() - start:.0f} s")
    if args.out is not None:
        path = cmp.write_tables(args.out, {"results": results, "winners": winners(results)},
                                force=args.force, args=args,
                                seconds=time.perf_counter() - start)
        print(f"tables written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

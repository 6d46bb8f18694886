"""Compare the multi-lesion strategies A-F and two baselines on one simulated cohort.

docs/architecture.md (Fig. 3 of Sun et al. 2022): every comparison of lesion aggregation
strategies also reports a clinical-only and a burden-only baseline. This analysis

1. simulates a metastatic radio-immunotherapy cohort in which overall survival is driven
   by the WORST lesion (``simulate_cohort(driver="worst")``), plus an independent
   sample of the same simulated population (same scanners) as an external check;
2. builds eight pipelines that differ ONLY in how lesions become patient columns (the
   model is the same penalised Cox for all):

   ============================  =====================================================
   ``clinical``                  age, ecog, pdl1 (no lesion information)
   ``burden_only``               TumorBurden columns alone (no clinical covariates)
   ``A_largest``                 features of the largest lesion + clinical
   ``B_burden``                  TumorBurden + clinical
   ``C_statistics``              mean and max of every lesion feature + clinical
   ``D_lesion_response``         pooled lesion-response probabilities + clinical
   ``E_lesion_risk``             pooled lesion-level Cox risks + clinical
   ``F_attention_mil``           attention-MIL patient risk + clinical
   ============================  =====================================================

3. validates all of them on the SAME patient bootstrap resamples
   (:func:`survrad.evaluation.bootstrap.compare_pipelines`, Harrell's optimism
   correction, every learned step refitted in every replicate) and reports the
   optimism-corrected Harrell C with its interval, the number of failed replicates and
   the paired differences against the clinical baseline;
4. fits each pipeline once on the analysis cohort and scores it on the independent
   sample (``external_c``): with 2000 external patients this is close to the pipeline's
   true out-of-sample C, against which the bootstrap correction can be judged.

The model, a penalised Cox with glmnet's ``lambda = 0.05`` and ``alpha = 0.5``
(``CoxModel(penalty=0.05, l1_ratio=0.5)``): strategy C has 64 lesion columns + 3 clinical
ones for about 180 events, which an unpenalised Cox cannot fit sensibly, and the burden
columns are collinear (organ volumes add up to the total volume). The value was chosen on
PILOT cohorts (seeds 101 and 102, not the analysis seeds), scored on 2000 independent
patients: the elastic net at 0.05 was the best or within 0.01 of the best fixed penalty
for C in all four driver scenarios, and cost at most 0.015 of C to the low-dimensional
pipelines relative to no penalty. A fixed penalty keeps the comparison cheap and
identical across pipelines; ``--penalty cv`` chooses it by cross-validation inside every
fit instead (see analyses/README.md for the caveat).

Run ``python analyses/compare_strategies/compare.py --help``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from survrad.data.cohort import Cohort
from survrad.data.simulate import DRIVERS, simulate_cohort
from survrad.evaluation.bootstrap import ComparisonResult, compare_pipelines
from survrad.evaluation.concordance import concordance_index
from survrad.evaluation.keys import MetricKey
from survrad.exceptions import ConfigError
from survrad.lesions import (
    AttentionMIL,
    FeatureStatistics,
    LargestLesions,
    LesionResponseAggregation,
    LesionRiskAggregation,
    TumorBurden,
)
from survrad.models import CohortPipeline, CoxModel
from survrad.reporting.writer import (
    atomic_output_dir,
    atomic_write_text,
    json_dumps,
    numerical_platform,
    package_versions,
)

__all__ = [
    "CLINICAL",
    "DEFAULT_L1_RATIO",
    "DEFAULT_PENALTY",
    "DESCRIPTIONS",
    "REFERENCE",
    "bootstrap_shift",
    "check_out",
    "external_concordance",
    "failure_reasons",
    "format_differences",
    "format_summary",
    "interval_note",
    "main",
    "make_model",
    "oracle_concordance",
    "parse_penalty",
    "run_comparison",
    "simulate_split",
    "strategy_pipelines",
    "summarise_comparison",
    "write_tables",
]

ENDPOINT = "os"
CLINICAL = ("age", "ecog", "pdl1")
DEFAULT_PENALTY = 0.05
DEFAULT_L1_RATIO = 0.5
REFERENCE = "clinical"
DESCRIPTIONS = {
    "clinical": "baseline: age, ecog, pdl1",
    "burden_only": "baseline: tumour burden only",
    "A_largest": "A largest lesion + clinical",
    "B_burden": "B tumour burden + clinical",
    "C_statistics": "C mean & max of features + clinical",
    "D_lesion_response": "D pooled lesion response + clinical",
    "E_lesion_risk": "E pooled lesion Cox risk + clinical",
    "F_attention_mil": "F attention MIL + clinical",
}


# ------------------------------------------------------------------------ building blocks
def make_model(penalty: float | str = DEFAULT_PENALTY,
               l1_ratio: float = DEFAULT_L1_RATIO) -> CoxModel:
    """The Cox model shared by every pipeline.

    Parameters
    ----------
    penalty : float or "cv", default 0.05
        glmnet's ``lambda``; ``"cv"`` chooses it by 5-fold CV (20 values) in every fit.
    l1_ratio : float, default 0.5
        glmnet's ``alpha`` (0 ridge, 1 lasso).

    Returns
    -------
    CoxModel

    Examples
    --------
    >>> make_model().get_params()["l1_ratio"]
    0.5
    """
    if penalty == "cv":
        return CoxModel(penalty="cv", l1_ratio=l1_ratio, n_penalties=20, random_state=0)
    return CoxModel(penalty=float(penalty), l1_ratio=l1_ratio)


def strategy_pipelines(model: CoxModel | None = None, *, random_state: int = 0
                       ) -> dict[str, CohortPipeline]:
    """The clinical and burden baselines and strategies A-F, in reporting order.

    Parameters
    ----------
    model : CoxModel, optional
        Cloned into every pipeline; default :func:`make_model`.
    random_state : int, default 0
        Seed of the attention network's initial weights (F).

    Returns
    -------
    dict of str to CohortPipeline
        Keys as in :data:`DESCRIPTIONS`; ``"clinical"`` first (the reference).

    Examples
    --------
    >>> list(strategy_pipelines())[:3]
    ['clinical', 'burden_only', 'A_largest']
    """
    model = make_model() if model is None else model
    strategies: dict[str, Any] = {
        "clinical": None,
        "burden_only": TumorBurden(),
        "A_largest": LargestLesions(k=1),
        "B_burden": TumorBurden(),
        "C_statistics": FeatureStatistics(stats=("mean", "max")),
        "D_lesion_response": LesionResponseAggregation(),
        # lesion-level ridge Cox, as in the demo study: 32 lesion features for ~180
        # patient events is below 10 events per feature (docs/reliability.md #22). The penalty has
        # glmnet's scale (issue 11): 0.1 / 300 is the former 0.1 on the total weighted
        # log likelihood for the 300 patients of the analysis
        "E_lesion_risk": LesionRiskAggregation(penalty=0.1 / 300),
        "F_attention_mil": AttentionMIL(random_state=random_state),
    }
    return {name: CohortPipeline(strategy=strategy, model=clone(model),
                                 patient_features=() if name == "burden_only" else CLINICAL)
            for name, strategy in strategies.items()}


def simulate_split(n_patients: int, random_state: int, *, driver: str = "worst",
                   n_external: int = 2000) -> tuple[Cohort, Cohort | None]:
    """Simulate ``n_patients + n_external`` patients and split them.

    Both parts come from ONE simulated population (same scanner batch effects, same
    baseline hazard), so the external part measures out-of-sample performance without a
    domain shift. The analysis cohort is the first ``n_patients`` patients.

    Parameters
    ----------
    n_patients : int
        Size of the analysis cohort.
    random_state : int
        Simulation seed.
    driver : {"worst", "burden", "mean", "heterogeneity"}, default "worst"
        What drives overall survival (see :func:`survrad.data.simulate.simulate_cohort`).
    n_external : int, default 2000
        Size of the independent sample; 0 for none.

    Returns
    -------
    cohort : Cohort
    external : Cohort or None

    Examples
    --------
    >>> c, ext = simulate_split(50, 0, n_external=100)
    >>> c.n_patients, ext.n_patients
    (50, 100)
    """
    if driver not in DRIVERS:
        raise ConfigError(f"driver must be one of {list(DRIVERS)}, got {driver!r}.")
    whole = simulate_cohort(n_patients + n_external, random_state=random_state, driver=driver)
    ids = whole.patient_ids
    cohort = whole.subset(ids[:n_patients])
    external = whole.subset(ids[n_patients:]) if n_external > 0 else None
    return cohort, external


def oracle_concordance(cohort: Cohort, external: Cohort | None = None) -> pd.Series:
    """Harrell C of the TRUE linear predictor (the simulator's ``lp``): the ceiling.

    Returns
    -------
    pandas.Series
        ``analysis`` (and ``external`` when given).

    Examples
    --------
    >>> c, _ = simulate_split(200, 0, n_external=0)
    >>> 0.5 < oracle_concordance(c)["analysis"] < 1
    True
    """
    out = {}
    for label, c in (("analysis", cohort), ("external", external)):
        if c is None:
            continue
        y = c.y(ENDPOINT)
        lp = c.truth["patients"]["lp"].reindex(c.patient_ids).to_numpy()
        out[label] = concordance_index(y["time"], y["event"], lp)
    return pd.Series(out, name="oracle_c", dtype=float)


def external_concordance(pipelines: Mapping[str, CohortPipeline], cohort: Cohort,
                         external: Cohort) -> pd.Series:
    """Fit every pipeline on ``cohort`` and score its Harrell C on ``external``.

    Examples
    --------
    >>> c, ext = simulate_split(120, 0, n_external=200)
    >>> s = external_concordance({"clinical": strategy_pipelines()["clinical"]}, c, ext)
    >>> 0.4 < s["clinical"] < 0.8
    True
    """
    y = external.y(ENDPOINT)
    out = {}
    for name, pipe in pipelines.items():
        fitted = clone(pipe).fit(cohort, ENDPOINT)
        risk = fitted.predict_risk(external).to_numpy()
        out[name] = concordance_index(y["time"], y["event"], risk)
    return pd.Series(out, name="external_c", dtype=float)


# ------------------------------------------------------------------------------ tables
def failure_reasons(result: ComparisonResult, name: str, metric: str = "c_index") -> str:
    """Counted reasons of the replicates in which ``metric`` is missing for ``name``.

    Returns ``""`` when every replicate gave a value.
    """
    res = result.results[name]
    key = MetricKey(metric)
    missing = [r.why(key) or "unknown" for r in res.records
               if not (np.isfinite(r.value(key, "fit")) and np.isfinite(r.value(key, "test")))]
    reasons = pd.Series(missing, dtype=object).value_counts()
    return "; ".join(f"{n}x {r}" for r, n in reasons.items())


def bootstrap_shift(result: ComparisonResult, name: str, metric: str = "c_index") -> float:
    """Mean bootstrap apparent metric minus the apparent metric of the original fit.

    The engine's interval (Noma et al. 2021, as in their R package ``predboot``) is the
    percentile interval of the bootstrap apparent metrics shifted by the optimism, so it
    is centred near ``corrected + bootstrap_shift``. A model that overfits a resample
    (about 63 % distinct patients) more than the original data gives a positive shift,
    and when the shift exceeds half the interval's width the interval no longer contains
    its own point estimate.
    """
    res = result.results[name]
    fit, test = res.values(metric, "fit"), res.values(metric, "test")
    ok = np.isfinite(fit) & np.isfinite(test)
    if not ok.any():
        return float("nan")
    return float(np.mean(fit[ok]) - res.apparent[MetricKey(metric)])


def summarise_comparison(result: ComparisonResult,
                         external: pd.Series | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summary (one row per pipeline) and paired differences of the Harrell C.

    Returns
    -------
    summary : pandas.DataFrame
        pipeline, description, apparent, optimism, corrected, ci_low, ci_high, n_boot,
        n_failed, external_c (NaN without an external sample), bootstrap_shift (see
        :func:`bootstrap_shift`), failure_reasons.
    differences : pandas.DataFrame
        pipeline, reference, metric, difference, ci_low, ci_high, n_pairs.
    """
    summary = result.summary()
    summary = summary[summary["metric"] == "c_index"].drop(columns=["metric", "horizon"])
    summary.insert(1, "description", summary["pipeline"].map(DESCRIPTIONS).fillna(""))
    ext = external if external is not None else pd.Series(dtype=float)
    summary["external_c"] = summary["pipeline"].map(ext).astype(float)
    summary["bootstrap_shift"] = [bootstrap_shift(result, n) for n in summary["pipeline"]]
    summary["failure_reasons"] = [failure_reasons(result, n) for n in summary["pipeline"]]
    return summary.reset_index(drop=True), result.differences("c_index")


def run_comparison(n_patients: int = 300, n_boot: int = 200, random_state: int = 0,
                   n_jobs: int | None = 1, *, driver: str = "worst", n_external: int = 2000,
                   penalty: float | str = DEFAULT_PENALTY, l1_ratio: float = DEFAULT_L1_RATIO,
                   progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate, validate the eight pipelines on the same resamples, summarise.

    Parameters
    ----------
    n_patients : int, default 300
    n_boot : int, default 200
        Bootstrap replicates (Harrell's optimism correction).
    random_state : int, default 0
        Seed of the simulation and of the bootstrap.
    n_jobs : int or None, default 1
        Local processes for the replicates; results do not depend on it.
    driver : str, default "worst"
        OS driver of the simulation.
    n_external : int, default 2000
        Independent patients for ``external_c``; 0 skips it.
    penalty, l1_ratio
        The shared Cox model (:func:`make_model`).
    progress : bool, default False
        Progress bar on a terminal.

    Returns
    -------
    summary, differences : pandas.DataFrame
        See :func:`summarise_comparison`.

    Examples
    --------
    >>> s, d = run_comparison(n_patients=80, n_boot=2, n_external=0)  # doctest: +SKIP
    >>> len(s), len(d)  # doctest: +SKIP
    (8, 7)
    """
    cohort, external = simulate_split(n_patients, random_state, driver=driver,
                                      n_external=n_external)
    pipelines = strategy_pipelines(make_model(penalty, l1_ratio), random_state=random_state)
    with threadpool_limits(1):
        result = compare_pipelines(pipelines, cohort, ENDPOINT, n_boot,
                                   reference=REFERENCE, random_state=random_state,
                                   n_jobs=n_jobs, progress=progress, metrics=["c_index"])
        ext = external_concordance(pipelines, cohort, external) if external is not None \
            else None
    return summarise_comparison(result, ext)


def format_summary(summary: pd.DataFrame, digits: int = 3) -> str:
    """Plain-text table: corrected C [CI], apparent, optimism, failures, external C."""
    def f(x: float) -> str:
        return "nan" if not np.isfinite(x) else f"{x:.{digits}f}"

    rows = [{"pipeline": r.pipeline, "what": r.description,
             "corrected C [95% CI]": f"{f(r.corrected)} [{f(r.ci_low)}, {f(r.ci_high)}]"
                                     + _outside(r.corrected, r.ci_low, r.ci_high),
             "apparent": f(r.apparent), "optimism": f(r.optimism),
             "boot shift": f(r.bootstrap_shift),
             "failed": f"{r.n_failed}/{r.n_boot}", "external C": f(r.external_c)}
            for r in summary.itertuples()]
    return pd.DataFrame(rows).to_string(index=False)


def _outside(estimate: float, low: float, high: float) -> str:
    """``" !"`` when the interval does not contain its point estimate."""
    return " !" if np.isfinite(estimate) and not (low <= estimate <= high) else ""


def format_differences(differences: pd.DataFrame, digits: int = 3) -> str:
    """Plain-text table of the paired differences with their intervals."""
    rows = [{"pipeline": r.pipeline, "minus": r.reference,
             "difference in corrected C [95% CI]":
                 f"{r.difference:+.{digits}f} [{r.ci_low:+.{digits}f}, {r.ci_high:+.{digits}f}]"
                 + _outside(r.difference, r.ci_low, r.ci_high),
             "excludes 0": "yes" if (r.ci_low > 0 or r.ci_high < 0) else "no",
             "pairs": r.n_pairs}
            for r in differences.itertuples()]
    return pd.DataFrame(rows).to_string(index=False)


def write_tables(out: str | Path, tables: Mapping[str, pd.DataFrame], *,
                 force: bool = False, args: argparse.Namespace | None = None,
                 seconds: float | None = None) -> Path:
    """Write ``{name}.csv`` files (full precision) and ``manifest.json`` into ``out``.

    The folder is built next to ``out`` and renamed when complete; an existing ``out`` is
    replaced only with ``force=True`` (a ConfigError otherwise, before anything is written).
    The manifest records the command line, the resolved arguments (seeds included), the
    package versions, the numerical platform and the run time.
    """
    manifest = {"command": [Path(sys.argv[0]).name, *sys.argv[1:]],
                "arguments": {k: str(v) if isinstance(v, Path) else v
                              for k, v in vars(args).items()} if args is not None else None,
                "versions": package_versions(),
                "platform": numerical_platform(),
                "duration_seconds": None if seconds is None else round(seconds, 1),
                "tables": [f"{name}.csv" for name in tables]}
    with atomic_output_dir(out, force=force) as tmp:
        for name, df in tables.items():
            atomic_write_text(tmp / f"{name}.csv", df.to_csv(index=False,
                                                              float_format="%.17g"))
        atomic_write_text(tmp / "manifest.json", json_dumps(manifest))
    return Path(out).resolve()


# --------------------------------------------------------------------------------- CLI
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="compare.py", description="Strategies A-F vs clinical-only and burden-only "
        "baselines on a simulated cohort (OS driven by the worst lesion by default): "
        "optimism-corrected Harrell C with bootstrap intervals and paired differences.")
    p.add_argument("--n-patients", type=int, default=300)
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--driver", choices=DRIVERS, default="worst")
    p.add_argument("--n-external", type=int, default=2000,
                   help="independent patients for the external C (0: none)")
    p.add_argument("--penalty", default=str(DEFAULT_PENALTY),
                   help="glmnet lambda of the shared Cox model, or 'cv'")
    p.add_argument("--l1-ratio", type=float, default=DEFAULT_L1_RATIO)
    p.add_argument("--out", type=Path, default=None,
                   help="folder for summary.csv and differences.csv")
    p.add_argument("--force", action="store_true", help="replace an existing --out folder")
    return p


def parse_penalty(value: str) -> float | str:
    """``--penalty`` text as a number or ``"cv"``; ConfigError otherwise."""
    if value == "cv":
        return value
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"--penalty must be a number >= 0 or 'cv', got {value!r}.") from None


def check_out(out: Path | None, force: bool) -> None:
    """ConfigError when ``out`` exists and ``force`` is not set (before any work)."""
    if out is not None and out.exists() and not force:
        raise ConfigError(f"output folder {str(out)!r} exists; pass --force to replace it.")


def interval_note(summary: pd.DataFrame) -> str:
    """How to read the intervals; counts those that miss their own estimate."""
    outside = summary[(summary["corrected"] < summary["ci_low"])
                      | (summary["corrected"] > summary["ci_high"])]
    text = ("\nIntervals: Noma et al. (2021) location-shifted percentiles of the bootstrap "
            "apparent C; they are centred near corrected + boot shift (bootstrap_shift: mean "
            "bootstrap apparent C minus the apparent C).")
    if len(outside):
        text += (f" '!' marks {len(outside)} interval(s) that do not contain their own "
                 "estimate: those pipelines overfit a resample more than the original data "
                 "(see analyses/README.md).")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; prints the tables, returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        penalty = parse_penalty(args.penalty)
        check_out(args.out, args.force)  # fail before minutes of work
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    summary, differences = run_comparison(
        args.n_patients, args.n_boot, args.random_state, args.n_jobs, driver=args.driver,
        n_external=args.n_external, penalty=penalty, l1_ratio=args.l1_ratio, progress=True)
    cohort, external = simulate_split(args.n_patients, args.random_state, driver=args.driver,
                                      n_external=args.n_external)
    oracle = oracle_concordance(cohort, external)
    y = cohort.y(ENDPOINT)
    print(f"Simulated cohort: {cohort.n_patients} patients, {int(y['event'].sum())} deaths, "
          f"{cohort.n_lesions} lesions; OS driven by driver={args.driver!r}; "
          f"seed {args.random_state}.")
    print(f"Model: CoxModel(penalty={penalty}, l1_ratio={args.l1_ratio}); "
          f"{args.n_boot} bootstrap replicates (Harrell optimism correction).")
    oracle_txt = ", ".join(f"{k} {v:.3f}" for k, v in oracle.items())
    print(f"Harrell C of the true linear predictor (ceiling): {oracle_txt}.\n")
    print(format_summary(summary))
    print(f"\nPaired differences against {REFERENCE!r} (same resamples):")
    print(format_differences(differences))
    failed = summary[summary["failure_reasons"] != ""]
    for r in failed.itertuples():
        print(f"\nfailed replicates of {r.pipeline}: {r.failure_reasons}")
    print(interval_note(summary))
    print(f"\nruntime {time.perf_counter() - start:.0f} s")
    if args.out is not None:
        path = write_tables(args.out, {"summary": summary, "differences": differences,
                                       "oracle": oracle.rename_axis("sample").reset_index()},
                            force=args.force, args=args, seconds=time.perf_counter() - start)
        print(f"tables written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

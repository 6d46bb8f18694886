"""Lesion decision table: which lesion of a patient to irradiate, with its uncertainty
(layer 2).

:func:`lesion_decision_table` turns a lesion-scoring strategy (D, E or F) into one row per
baseline lesion for a radiation oncologist choosing SBRT targets: the cross-fitted risk of
the lesion, a bootstrap percentile interval of it, its rank in its patient with an
interval, and ``p_riskiest``, the share of bootstrap refits in which it is its patient's
riskiest lesion.

Method
------
Point estimate: the cross-fitted scores of
:func:`~survrad.lesions.crossfit.lesion_risk_table` (same folds, seeds and fits for the
same ``random_state``; for F equal up to the last bits of a BLAS product, because every
fold model scores the whole cohort at once). Replicate ``b`` (seed
``SeedSequence(random_state).spawn(n_boot)[b]``, the rule of the resampling engine)
draws ``n`` patients with replacement, assigns the ORIGINAL patients to ``n_folds``
folds (every copy of a drawn patient inherits its original's fold), fits one model per
fold on the drawn patients outside the fold and scores, with it, every original patient
of the fold, drawn or not. Every lesion of every original patient is thus scored once
per replicate, by a model that saw none of its patient's copies: the spread over
replicates is the uncertainty of a cross-fitted score
(model refit and fold assignment), not the optimism of an in-sample one.

Comparability. A raw lesion score has no common scale across fitted models (a Cox linear
predictor is defined up to a constant; a network's up to its fit). Every score is
therefore standardised by the mean and standard deviation of the scores the SAME fitted
model gives its own training lesions: ``risk = 1`` means "one standard deviation above the
average training lesion, under the model that scored it". Within a patient all lesions
are scored by one model, so ranks, ``p_riskiest`` and risk differences compare lesions of
a patient exactly. Across patients, standardised risks share a reference (the training
lesion distribution) but not a model: compare them loosely, as positions in the cohort's
lesion distribution, never as hazards. ``p_riskiest`` is a within-patient share: 1 for a
patient's only lesion and ``1 / n_lesions`` by chance, so compare it across patients only
against that chance level (column ``n_lesions``). D's probabilities (``p_response_rt``,
``p_response_no_rt``) are on an absolute scale and get intervals as they are.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import (
    check_fraction,
    check_int,
    one_blas_thread,
    spawn_seeds,
)
from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError, ResamplingError, SchemaError
from survrad.lesions.base import LesionStrategy
from survrad.lesions.crossfit import (
    _check_high_risk,
    _rank_in_patient,
    check_lesion_strategy,
    crossfit_lesion_scores,
    patient_folds,
)

__all__ = ["LesionDecisions", "lesion_decision_table"]

MIN_BOOT = 20
#: a run whose serial time is estimated below this many seconds stays in this process
#: whatever ``n_jobs`` (starting worker processes costs more); the numbers do not depend on it
SERIAL_BELOW_SECONDS = 2.0
_EXPECTED = (ValueError, ArithmeticError, np.linalg.LinAlgError)
_LESION_COLUMNS = ("organ", "volume", "irradiated", "rt_dose")   # ColumnNames attributes


@dataclasses.dataclass(frozen=True)
class LesionDecisions:
    """Result of :func:`lesion_decision_table` (unrounded numbers).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per baseline lesion, in the cohort's lesion order (see
        :func:`lesion_decision_table` for the columns).
    strategy : str
        Class name of the strategy.
    endpoint : str or None
    n_boot, n_failed, n_folds : int
        Replicates asked, replicates that failed (left out of every interval and share),
        folds of the cross-fitting.
    ci_level : float
    random_state : int
        The seed used (drawn from the OS when ``random_state=None`` was given, so the run
        can be repeated).
    failures : pandas.DataFrame
        ``replicate, reason`` of every failed replicate.
    replicate_warnings : pandas.DataFrame
        ``category, replicates, first_message``: warnings raised inside the replicates,
        counted (each category is also re-issued once, summarised).
    attention : pandas.DataFrame or None
        F only: the attention diagnostics of every fold model of the point estimate
        (``fold`` plus the fields of
        :class:`~survrad.lesions.attention.AttentionDiagnostics`).
    """

    table: pd.DataFrame
    strategy: str
    endpoint: str | None
    n_boot: int
    n_failed: int
    n_folds: int
    ci_level: float
    random_state: int
    failures: pd.DataFrame
    replicate_warnings: pd.DataFrame
    attention: pd.DataFrame | None = None

    def to_frame(self) -> pd.DataFrame:
        """The lesion table (a copy): what ``tables/lesion_decisions.csv`` holds."""
        return self.table.copy()

    def patient_summary(self) -> pd.DataFrame:
        """One row per patient with lesions: its top-ranked lesion and how sure that is.

        Returns
        -------
        pandas.DataFrame
            ``patient_id, n_lesions, top_lesion, top_risk, top_p_riskiest, chance``
            (``1 / n_lesions``), ``runner_up`` (the lesion with the next highest
            ``p_riskiest``, empty for a single lesion) and ``runner_up_p_riskiest``.
        """
        t = self.table
        top = t.loc[t["rank_in_patient"] == 1].set_index("patient_id")
        order = t.sort_values(["patient_id", "p_riskiest"], ascending=[True, False],
                              kind="mergesort")
        second = order.loc[order["lesion_id"].to_numpy() != top.loc[
            order["patient_id"], "lesion_id"].to_numpy()].groupby("patient_id").head(1)
        second = second.set_index("patient_id").reindex(top.index)
        return pd.DataFrame({
            "patient_id": top.index, "n_lesions": top["n_lesions"].to_numpy(),
            "top_lesion": top["lesion_id"].to_numpy(), "top_risk": top["risk"].to_numpy(),
            "top_p_riskiest": top["p_riskiest"].to_numpy(),
            "chance": 1.0 / top["n_lesions"].to_numpy(),
            "runner_up": second["lesion_id"].fillna("").to_numpy(),
            "runner_up_p_riskiest": second["p_riskiest"].to_numpy()})


# ------------------------------------------------------------------------- checks
def _check_inputs(strategy: Any, cohort: Cohort, n_boot: int, n_folds: int,
                  ci_level: float, max_failed: float, backend: str | None) -> None:
    check_lesion_strategy(strategy)
    if not isinstance(cohort, Cohort):
        raise TypeError(f"cohort must be a survrad Cohort, got {type(cohort).__name__}.")
    if cohort.lesions is None or cohort.baseline_lesions().shape[0] == 0:
        raise SchemaError("this cohort has no (baseline) lesions: a lesion decision table "
                          "needs a lesion table (read_cohort(..., lesions=...)).",
                          file="lesions")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer):
        raise ConfigError(f"n_boot must be an integer, got {n_boot!r}.", key="n_boot")
    if n_boot < MIN_BOOT:
        raise ConfigError(f"n_boot = {n_boot} bootstrap replicates cannot estimate a "
                          f"percentile interval or a rank share; use at least {MIN_BOOT} "
                          "(200 or more for a report).", key="n_boot")
    check_int("n_folds", n_folds, min_value=2, max_value=max(cohort.n_patients, 2))
    check_fraction("ci_level", ci_level)
    check_fraction("max_failed", max_failed, inclusive=True)
    if backend not in (None, "loky", "threading", "multiprocessing"):
        raise ValueError(f"backend must be None, 'loky', 'threading' or 'multiprocessing', "
                         f"got {backend!r}.")


def _root_seed(random_state: Any) -> int:
    """An int seed: ``random_state`` itself, or fresh OS entropy for None."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer) \
            or random_state < 0:
        raise TypeError(f"random_state must be None or a non-negative int (a reproducible "
                        f"seed for the replicates), got {random_state!r}.")
    return int(random_state)


# --------------------------------------------------------------------- replicates
def _fold_seeds(seed: np.random.SeedSequence, n_folds: int) -> list:
    """The children ``seed.spawn(n_folds)`` would give, without changing ``seed``."""
    return [np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, k))
            for k in range(n_folds)]


def _replicate(strategy: LesionStrategy, cohort: Cohort, endpoint: str | None,
               n_folds: int, extras: Sequence[str], b: int,
               seed: np.random.SeedSequence) -> dict[str, Any]:
    """Standardised out-of-fold scores of every original lesion in replicate ``b``."""
    out: dict[str, Any] = {"replicate": b, "status": "ok", "reason": ""}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rng = np.random.default_rng(seed)
            n = cohort.n_patients
            pos = rng.integers(0, n, n)
            folds = patient_folds(cohort.patient_ids, n_folds, rng)
            table, _ = crossfit_lesion_scores(strategy, cohort, pos, folds, endpoint,
                                              _fold_seeds(seed, n_folds), score_all=True)
            out["values"] = np.column_stack(
                [table["standardised"].to_numpy(float),
                 *(table[c].to_numpy(float) for c in extras)])
        except _EXPECTED as exc:
            out.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
    out["warnings"] = [(w.category, str(w.message)) for w in caught]
    return out


def _run_chunk(strategy: LesionStrategy, cohort: Cohort, endpoint: str | None,
               n_folds: int, extras: Sequence[str], tasks: Sequence[tuple]) -> list[dict]:
    with one_blas_thread():
        return [_replicate(strategy, cohort, endpoint, n_folds, extras, b, s)
                for b, s in tasks]


def _execute(strategy: LesionStrategy, cohort: Cohort, endpoint: str | None, n_folds: int,
             extras: Sequence[str], seeds: list, n_jobs: int | None, backend: str | None,
             per_replicate: float) -> list[dict]:
    tasks = list(enumerate(seeds))
    if n_jobs in (None, 1) or per_replicate * len(tasks) < SERIAL_BELOW_SECONDS:
        return _run_chunk(strategy, cohort, endpoint, n_folds, extras, tasks)
    from joblib import Parallel, delayed, effective_n_jobs

    workers = effective_n_jobs(n_jobs)
    chunks = [tasks[i::workers * 4] for i in range(workers * 4)]
    par = Parallel(n_jobs=n_jobs, backend=backend)
    done = par(delayed(_run_chunk)(strategy, cohort, endpoint, n_folds, extras, chunk)
               for chunk in chunks if chunk)
    return sorted((r for part in done for r in part), key=lambda r: r["replicate"])


# ----------------------------------------------------------------------- summaries
def _first_places(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Share of first place of every lesion in its patient (ties share the place)."""
    top = np.full(n_groups, -np.inf)
    np.maximum.at(top, codes, values)
    first = (values == top[codes]).astype(float)
    return first / np.bincount(codes, first, minlength=n_groups)[codes]


def _ranks(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """1 = highest value within the patient; ties broken by lesion order."""
    order = np.lexsort((np.arange(values.size), -values, codes))
    sorted_codes = codes[order]
    starts = np.searchsorted(sorted_codes, sorted_codes, side="left")
    rank = np.empty(values.size, dtype=float)
    rank[order] = np.arange(values.size) - starts + 1
    return rank


def _summarise_replicates(ok: list[dict], codes: np.ndarray, n_groups: int,
                          extras: Sequence[str], ci_level: float) -> dict[str, np.ndarray]:
    lo = (1.0 - ci_level) / 2           # as the resampling engine
    hi = 1.0 - lo
    stack = np.stack([r["values"] for r in ok])                # (B, lesions, 1 + extras)
    z = stack[:, :, 0]
    out = {"risk_ci_low": np.quantile(z, lo, axis=0),
           "risk_ci_high": np.quantile(z, hi, axis=0)}
    ranks = np.stack([_ranks(row, codes) for row in z])
    out["rank_ci_low"] = np.quantile(ranks, lo, axis=0, method="inverted_cdf")
    out["rank_ci_high"] = np.quantile(ranks, hi, axis=0, method="inverted_cdf")
    out["p_riskiest"] = np.mean([_first_places(row, codes, n_groups) for row in z], axis=0)
    for j, name in enumerate(extras, start=1):
        out[f"{name}_ci_low"] = np.quantile(stack[:, :, j], lo, axis=0)
        out[f"{name}_ci_high"] = np.quantile(stack[:, :, j], hi, axis=0)
    return out


def _warning_summary(reps: list[dict], n_boot: int) -> pd.DataFrame:
    rows: dict[type, list] = {}
    for r in reps:
        for category in dict.fromkeys(c for c, _ in r["warnings"]):
            first = next(m for c, m in r["warnings"] if c is category)
            rows.setdefault(category, [0, first])[0] += 1
    for category, (count, first) in rows.items():
        warnings.warn(f"{count} of {n_boot} lesion decision replicates raised "
                      f"{category.__name__}; first: {first}", category, stacklevel=3)
    return pd.DataFrame([(c.__name__, n, m) for c, (n, m) in rows.items()],
                        columns=["category", "replicates", "first_message"])


# ----------------------------------------------------------------------- assembly
def _point_estimate(strategy: LesionStrategy, cohort: Cohort, endpoint: str | None,
                    n_folds: int, seed: int, quantile: float | None
                    ) -> tuple[pd.DataFrame, list]:
    """:func:`lesion_risk_table`'s cross-fit (same folds and seeds), standardised."""
    origin = cohort.patient_ids if cohort.original_ids is None else cohort.original_ids
    codes, originals = pd.factorize(np.asarray(origin, dtype=object))
    folds = patient_folds(pd.Index(originals), n_folds, seed)[codes]
    with one_blas_thread():
        return crossfit_lesion_scores(strategy, cohort, np.arange(cohort.n_patients), folds,
                                      endpoint, spawn_seeds(seed, n_folds), quantile=quantile,
                                      score_all=True)


def _lesion_columns(cohort: Cohort) -> pd.DataFrame:
    cols = cohort.columns
    base = cohort.baseline_lesions().reset_index(drop=True)
    keep = [getattr(cols, a) for a in _LESION_COLUMNS if getattr(cols, a) in base.columns]
    return base[keep]


def _attention_frame(fits: list) -> pd.DataFrame | None:
    rows = [{"fold": f.fold, **dataclasses.asdict(f.model.attention_diagnostics_)}
            for f in fits if hasattr(f.model, "attention_diagnostics_")]
    return pd.DataFrame(rows) if rows else None


def lesion_decision_table(strategy: LesionStrategy, cohort: Cohort, endpoint: str | None = None,
                          n_boot: int = 200, n_folds: int = 5, random_state: int | None = None,
                          n_jobs: int | None = None, *, ci_level: float = 0.95,
                          high_risk: str | float = "top1", backend: str | None = None,
                          max_failed: float = 0.1) -> LesionDecisions:
    """Per-lesion SBRT decision table: cross-fitted risk, interval, rank and ``p_riskiest``.

    Parameters
    ----------
    strategy : LesionStrategy
        An unfitted strategy with lesion scores (D
        :class:`~survrad.lesions.LesionResponseAggregation`, E
        :class:`~survrad.lesions.LesionRiskAggregation`, F
        :class:`~survrad.lesions.AttentionMIL`). Cloned for every fit; a
        ``random_state=None`` inside it is seeded per fit from ``random_state``.
    cohort : Cohort
        With a lesion table.
    endpoint : str, optional
        Passed to ``strategy.fit`` (D learns from the lesion response and ignores it).
    n_boot : int, default 200
        Bootstrap replicates (at least 20).
    n_folds : int, default 5
        Patient folds of the cross-fitting (point estimate and every replicate).
    random_state : None or int
        Seeds the folds, the replicates (replicate ``b`` uses
        ``SeedSequence(random_state).spawn(n_boot)[b]``) and unseeded strategies. The
        table is identical for any ``n_jobs`` and backend.
    n_jobs : int, optional
        Worker processes (joblib) for the replicates; a small run stays in this process.
    ci_level : float, default 0.95
        Level of the percentile intervals.
    high_risk : "top1" or float in (0, 1)
        As in :func:`~survrad.lesions.lesion_risk_table`: the top-ranked lesion of every
        patient, or the lesions above that quantile of the fold model's training-lesion
        scores.
    backend : {None, "loky", "threading", "multiprocessing"}
        joblib backend (None: joblib's default).
    max_failed : float, default 0.1
        Largest share of failed replicates tolerated.

    Returns
    -------
    LesionDecisions
        ``table`` has one row per baseline lesion (cohort order): ``patient_id,
        lesion_id``, then ``organ, volume_ml, irradiated, rt_dose_gy`` when the lesion
        table has them, ``n_lesions`` (baseline lesions of the patient), ``risk``
        (cross-fitted score, standardised: see the module docstring), ``risk_ci_low,
        risk_ci_high`` (percentile interval over the replicates), ``rank_in_patient`` (1
        = riskiest, from ``risk``), ``rank_ci_low, rank_ci_high``, ``p_riskiest`` (share
        of replicates in which the lesion is its patient's riskiest; ties share; sums to
        1 within a patient), ``high_risk``, ``score`` (the strategy's raw point score),
        ``fold``, then the strategy's extra columns (D: ``p_response``,
        ``p_response_rt`` and ``p_response_no_rt`` with ``_ci_low`` / ``_ci_high``
        intervals; F: ``attention``, ``attention_logit``).

    Raises
    ------
    ConfigError
        The strategy gives no lesion scores; ``n_boot < 20``.
    SchemaError
        No lesion table, or a column the strategy needs is missing (e.g. ``irradiated``
        when D's adjustment names it): raised by the point estimate, before any replicate.
    ResamplingError
        More than ``max_failed`` of the replicates failed.

    Notes
    -----
    What a reader may compare: within a patient, everything (risks, ranks,
    ``p_riskiest``). Across patients: standardised risks as positions in the training
    lesion distribution only (different patients are scored by different models; a risk
    is no hazard); ``p_riskiest`` against the patient's chance level ``1 / n_lesions``;
    D's response probabilities directly.

    Examples
    --------
    >>> import survrad as sr
    >>> from survrad.lesions import LesionRiskAggregation
    >>> c = sr.simulate_cohort(n_patients=40, random_state=0, n_signal_features=2,
    ...                        n_volume_features=0, n_noise_features=0)
    >>> res = lesion_decision_table(LesionRiskAggregation(penalty=0.05), c, "os", n_boot=20,
    ...                             n_folds=2, random_state=0)
    >>> tab = res.to_frame()
    >>> bool(tab.groupby("patient_id")["p_riskiest"].sum().round(12).eq(1).all())
    True
    >>> bool((tab["risk_ci_low"] <= tab["risk_ci_high"]).all())
    True
    """
    _check_inputs(strategy, cohort, n_boot, n_folds, ci_level, max_failed, backend)
    quantile = _check_high_risk(high_risk)
    seed = _root_seed(random_state)
    start = time.perf_counter()
    point, fits = _point_estimate(strategy, cohort, endpoint, n_folds, seed, quantile)
    per_replicate = time.perf_counter() - start
    extras = [c for c in getattr(strategy, "probability_columns", ()) if c in point.columns]
    reps = _execute(strategy, cohort, endpoint, n_folds, extras,
                    spawn_seeds(seed, int(n_boot)), n_jobs, backend, per_replicate)
    ok = [r for r in reps if r["status"] == "ok"]
    failures = pd.DataFrame([(r["replicate"], r["reason"]) for r in reps
                             if r["status"] != "ok"], columns=["replicate", "reason"])
    if len(failures) > max_failed * n_boot or not ok:
        raise ResamplingError(
            f"{len(failures)} of {n_boot} lesion decision replicates failed (more than "
            f"max_failed = {max_failed:g}); first reason: {failures['reason'].iloc[0]}")
    rep_warnings = _warning_summary(reps, int(n_boot))
    codes, _ = pd.factorize(point["patient_id"])
    n_groups = int(codes.max()) + 1
    boot = _summarise_replicates(ok, codes, n_groups, extras, ci_level)
    table = _assemble(point, cohort, codes, n_groups, boot, quantile, extras)
    return LesionDecisions(table=table, strategy=type(strategy).__name__, endpoint=endpoint,
                           n_boot=int(n_boot), n_failed=len(failures), n_folds=int(n_folds),
                           ci_level=float(ci_level), random_state=seed, failures=failures,
                           replicate_warnings=rep_warnings, attention=_attention_frame(fits))


def _assemble(point: pd.DataFrame, cohort: Cohort, codes: np.ndarray, n_groups: int,
              boot: dict[str, np.ndarray], quantile: float | None,
              extras: Sequence[str]) -> pd.DataFrame:
    out = point[["patient_id", "lesion_id"]].copy()
    for name, col in _lesion_columns(cohort).items():
        out[name] = col.to_numpy()
    out["n_lesions"] = np.bincount(codes, minlength=n_groups)[codes]
    out["risk"] = point["standardised"].to_numpy()
    out["risk_ci_low"], out["risk_ci_high"] = boot["risk_ci_low"], boot["risk_ci_high"]
    out["rank_in_patient"] = _rank_in_patient(out)
    out["rank_ci_low"] = boot["rank_ci_low"].astype(int)
    out["rank_ci_high"] = boot["rank_ci_high"].astype(int)
    out["p_riskiest"] = boot["p_riskiest"]
    out["high_risk"] = (out["rank_in_patient"] == 1 if quantile is None
                        else point["above_quantile"].to_numpy())
    out["score"] = point["score"].to_numpy()
    out["fold"] = point["fold"].to_numpy()
    skip = {"patient_id", "lesion_id", "score", "fold", "standardised", "above_quantile"}
    for name in point.columns:
        if name in skip:
            continue
        out[name] = point[name].to_numpy()
        if name in extras:
            out[f"{name}_ci_low"] = boot[f"{name}_ci_low"]
            out[f"{name}_ci_high"] = boot[f"{name}_ci_high"]
    return out

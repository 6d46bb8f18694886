"""Cross-fitted per-lesion risk table from a learned strategy (D, E or F) (layer 2).

A lesion's risk must never come from a model that saw its patient (docs/architecture.md,
lesion-level outputs). :func:`lesion_risk_table` splits the PATIENTS into ``n_folds`` folds, fits a
clone of the strategy on the other folds' patients and scores the held-out patients'
baseline lesions.

:func:`crossfit_lesion_scores` is the shared kernel: it fits one clone per fold on a
TRAINING draw of the cohort's patients (all of them, or a bootstrap draw in
:func:`survrad.lesions.lesion_decision_table`) and scores the held-out patients, also
standardising every score by the mean and standard deviation of the scores the same
fitted model gives its own training lesions.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from survrad._validation import (
    check_fraction,
    check_int,
    check_random_state,
    seed_unseeded,
    spawn_seeds,
)
from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError
from survrad.lesions.base import LesionStrategy

__all__ = ["FoldFit", "crossfit_lesion_scores", "lesion_risk_table", "patient_folds"]


def patient_folds(patient_ids: pd.Index, n_folds: int, random_state: Any = None) -> np.ndarray:
    """Fold (0 .. n_folds-1) of every patient: a random permutation cut into near-equal parts.

    The folds depend only on the ids' order and ``random_state``, never on outcomes, so
    changing a patient's outcome cannot move it to another fold.

    Examples
    --------
    >>> import pandas as pd
    >>> f = patient_folds(pd.Index(["a", "b", "c", "d", "e"]), 2, random_state=0)
    >>> sorted(f.tolist())
    [0, 0, 0, 1, 1]
    """
    n = len(patient_ids)
    check_int("n_folds", n_folds, min_value=2, max_value=max(n, 2))
    perm = check_random_state(random_state).permutation(n)
    folds = np.empty(n, dtype=int)
    folds[perm] = np.arange(n) % n_folds
    return folds


def lesion_risk_table(strategy: LesionStrategy, cohort: Cohort, endpoint: str | None = None,
                      n_folds: int = 5, random_state: int | None = None,
                      high_risk: str | float = "top1") -> pd.DataFrame:
    """Cross-fitted risk of every baseline lesion, its rank in its patient and a flag.

    Parameters
    ----------
    strategy : LesionStrategy
        An unfitted strategy with ``lesion_scores`` (D, E or F). It is cloned per fold;
        every ``random_state`` left at ``None`` inside it is set, in fold ``k``, to a
        seed derived from ``random_state`` so the table is reproducible.
    cohort : Cohort
    endpoint : str, optional
        Passed to ``strategy.fit`` (D ignores it).
    n_folds : int, default 5
        Patient-grouped folds; every patient's lesions are scored by the model fitted on
        the other ``n_folds - 1`` folds.
    random_state : None or int
        Seeds the fold assignment (and the per-fold strategy seeds).
    high_risk : "top1" or float in (0, 1)
        ``"top1"``: a lesion is high-risk when it ranks first in its patient. A float ``q``:
        when its risk exceeds the ``q`` quantile of the same fold model's scores on its
        TRAINING lesions (so a patient may have zero or several high-risk lesions).

    Returns
    -------
    pandas.DataFrame
        One row per baseline lesion in the cohort's lesion order: ``patient_id,
        lesion_id, risk`` (higher = riskier; the strategy's lesion score),
        ``rank_in_patient`` (1 = riskiest; ties broken by lesion order), ``high_risk``
        (bool), ``fold``, then any extra columns of the strategy's ``lesion_scores``
        (e.g. ``attention`` for F, ``p_response`` for D). Risks of different folds come
        from different models: compare them within a patient, or across patients only
        loosely.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from survrad.data.cohort import Cohort, Endpoint
    >>> from survrad.lesions.lesion_risk import LesionRiskAggregation
    >>> rng = np.random.default_rng(0)
    >>> ids = pd.Index([f"P{i}" for i in range(60)], name="patient_id")
    >>> pat = pd.DataFrame({"t": rng.exponential(size=60), "e": 1}, index=ids)
    >>> les = pd.DataFrame({"patient_id": np.repeat(ids, 2), "lesion_id": ["L1", "L2"] * 60,
    ...                     "rad_a": rng.normal(size=120)})
    >>> c = Cohort(pat, les, lesion_features=("rad_a",),
    ...            endpoints={"os": Endpoint("os", "survival", time="t", event="e")})
    >>> tab = lesion_risk_table(LesionRiskAggregation(), c, "os", n_folds=3, random_state=0)
    >>> tab.columns[:6].tolist()
    ['patient_id', 'lesion_id', 'risk', 'rank_in_patient', 'high_risk', 'fold']
    """
    check_lesion_strategy(strategy)
    quantile = _check_high_risk(high_risk)
    # copies of a resampled patient (Cohort.take) share their fold: grouped by original id
    origin = cohort.patient_ids if cohort.original_ids is None else cohort.original_ids
    codes, originals = pd.factorize(np.asarray(origin, dtype=object))
    folds = patient_folds(pd.Index(originals), n_folds, random_state)[codes]
    seeds = spawn_seeds(random_state, n_folds)
    table, _ = crossfit_lesion_scores(strategy, cohort, np.arange(cohort.n_patients), folds,
                                      endpoint, seeds, quantile=quantile)
    table = table.rename(columns={"score": "risk"})
    table["rank_in_patient"] = _rank_in_patient(table)
    table["high_risk"] = (table["rank_in_patient"] == 1 if quantile is None
                          else table.pop("above_quantile"))
    first = ["patient_id", "lesion_id", "risk", "rank_in_patient", "high_risk", "fold"]
    rest = [c for c in table.columns if c not in first and c != "standardised"]
    return table[first + rest]


def check_lesion_strategy(strategy: Any) -> None:
    """ConfigError unless ``strategy`` gives lesion-level scores (D, E or F)."""
    if not hasattr(strategy, "lesion_scores"):
        raise ConfigError(f"{type(strategy).__name__} gives no lesion scores; use a learned "
                          "strategy (LesionResponseAggregation, LesionRiskAggregation or "
                          "AttentionMIL).")


@dataclasses.dataclass(frozen=True)
class FoldFit:
    """One fitted fold model of :func:`crossfit_lesion_scores`.

    Attributes
    ----------
    fold : int
    model : LesionStrategy
        The fitted clone.
    train_mean, train_sd : float
        Mean and (population) standard deviation of the model's scores of its own
        training lesions: the standardisation of its held-out scores.
    """

    fold: int
    model: LesionStrategy
    train_mean: float
    train_sd: float


def crossfit_lesion_scores(strategy: LesionStrategy, cohort: Cohort, positions: np.ndarray,
                           folds: np.ndarray, endpoint: str | None, seeds: list, *,
                           quantile: float | None = None, score_all: bool = False
                           ) -> tuple[pd.DataFrame, list[FoldFit]]:
    """Out-of-fold lesion scores of every patient of ``cohort``.

    Fold ``k``'s model is a clone of ``strategy`` (its unseeded ``random_state`` set from
    ``seeds[k]``) fitted on ``cohort.take_positions(positions[folds[positions] != k])``:
    the TRAINING draw ``positions`` (``arange(n)`` for plain cross-fitting, a bootstrap
    draw with repeats for :func:`~survrad.lesions.lesion_decision_table`) without the
    patients of fold ``k``. It scores the baseline lesions of the patients of ``cohort``
    whose fold is ``k``, none of whose copies it saw.

    Parameters
    ----------
    strategy : LesionStrategy
        Unfitted strategy with ``lesion_scores``.
    cohort : Cohort
        The patients scored (and drawn from).
    positions : numpy.ndarray
        Training draw: positions in ``cohort`` (repeats allowed).
    folds : numpy.ndarray
        Fold (0 .. len(seeds)-1) of every patient of ``cohort``.
    endpoint : str or None
        Passed to ``fit``.
    seeds : list of numpy.random.SeedSequence
        One per fold.
    quantile : float, optional
        Adds ``above_quantile``: the score exceeds this quantile of the model's scores of
        its training lesions.
    score_all : bool, default False
        Score the whole cohort with every fold model (one call instead of two) and take
        the training lesions' scores from the copies' originals. The lesion scores of D,
        E and F depend on the lesion alone, so the numbers are those of the default path
        up to the last bits of a BLAS product (F); faster for bootstrap draws.

    Returns
    -------
    table : pandas.DataFrame
        ``cohort``'s baseline lesions in its lesion order: the columns of
        ``lesion_scores`` (``patient_id, lesion_id, score`` and the strategy's extras),
        ``fold``, ``standardised`` (``(score - train_mean) / train_sd``, 0 when the model
        gives every training lesion the same score) and ``above_quantile`` if asked.
    fits : list of FoldFit
        The fold models, in fold order (folds without patients are skipped).

    Examples
    --------
    >>> from survrad.data.simulate import simulate_cohort
    >>> from survrad.lesions.lesion_risk import LesionRiskAggregation
    >>> c = simulate_cohort(n_patients=40, random_state=0, n_signal_features=2,
    ...                     n_volume_features=0, n_noise_features=0)
    >>> folds = patient_folds(c.patient_ids, 2, random_state=0)
    >>> draw = np.random.default_rng(1).integers(0, 40, 40)        # a bootstrap draw
    >>> tab, fits = crossfit_lesion_scores(LesionRiskAggregation(penalty=0.05), c, draw, folds,
    ...                                    "os", spawn_seeds(0, 2), score_all=True)
    >>> tab.columns.tolist(), len(fits)
    (['patient_id', 'lesion_id', 'score', 'fold', 'standardised'], 2)
    """
    positions = np.asarray(positions, dtype=np.intp)
    lesion_codes = None
    if score_all:
        lesion_codes = cohort.patient_ids.get_indexer(
            cohort.baseline_lesions()[cohort.columns.patient_id].astype(str))
    parts, fits = [], []
    for k, seed in enumerate(seeds):
        if not (folds == k).any():
            continue
        model = _fold_strategy(strategy, seed)
        drawn = positions[folds[positions] != k]
        train_k = cohort.take_positions(drawn)
        model.fit(train_k, endpoint)
        if score_all:
            scores = model.lesion_scores(cohort)
            raw = scores["score"].to_numpy()
            copies = np.bincount(drawn, minlength=cohort.n_patients)[lesion_codes]
            own = np.repeat(raw, copies)
            scores = scores.loc[folds[lesion_codes] == k].reset_index(drop=True)
        else:
            own = model.lesion_scores(train_k)["score"].to_numpy()
            scores = model.lesion_scores(cohort.subset(cohort.patient_ids[folds == k]))
        mean, sd = float(own.mean()), float(own.std())
        scores["fold"] = k
        raw = scores["score"].to_numpy()
        scores["standardised"] = (raw - mean) / sd if sd > 0 else np.zeros(raw.size)
        if quantile is not None:
            scores["above_quantile"] = raw > np.quantile(own, quantile)
        parts.append(scores)
        fits.append(FoldFit(fold=k, model=model, train_mean=mean, train_sd=sd))
    return _in_cohort_order(pd.concat(parts, ignore_index=True), cohort), fits


def _check_high_risk(high_risk: str | float) -> float | None:
    if isinstance(high_risk, str):
        if high_risk != "top1":
            raise ValueError(f"high_risk must be 'top1' or a quantile in (0, 1), got "
                             f"{high_risk!r}.")
        return None
    if isinstance(high_risk, numbers.Real):
        return check_fraction("high_risk", high_risk)
    raise TypeError(f"high_risk must be 'top1' or a float in (0, 1), got {high_risk!r}.")


def _fold_strategy(strategy: LesionStrategy, seed: np.random.SeedSequence) -> LesionStrategy:
    return seed_unseeded(clone(strategy), seed)


def _in_cohort_order(table: pd.DataFrame, cohort: Cohort) -> pd.DataFrame:
    """Rows in ``cohort.baseline_lesions()`` order (subset() groups lesions by patient)."""
    cols = cohort.columns
    base = cohort.baseline_lesions()
    key = pd.MultiIndex.from_arrays([base[cols.patient_id].astype(str).to_numpy(),
                                     base[cols.lesion_id].astype(str).to_numpy()])
    got = pd.MultiIndex.from_arrays([table["patient_id"], table["lesion_id"]])
    pos = got.get_indexer(key)
    return table.iloc[pos].reset_index(drop=True)


def _rank_in_patient(table: pd.DataFrame) -> np.ndarray:
    """1 = highest risk within the patient; ties broken by lesion order."""
    codes = pd.factorize(table["patient_id"])[0]
    order = np.lexsort((np.arange(len(table)), -table["risk"].to_numpy(), codes))
    pid = codes[order]
    new = np.ones(pid.size, dtype=bool)
    new[1:] = pid[1:] != pid[:-1]
    starts = np.maximum.accumulate(np.where(new, np.arange(pid.size), 0))
    rank = np.empty(pid.size, dtype=int)
    rank[order] = np.arange(pid.size) - starts + 1
    return rank

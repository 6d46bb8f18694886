"""Shared machinery of the learned lesion strategies D, E and F (layer 2, private).

- :func:`lesion_matrix`: the baseline lesions of a cohort as a validated float matrix
  (in the cohort's lesion order), with every lesion's patient position in
  ``cohort.patient_ids``;
- :func:`pool`: vectorised per-patient pooling of lesion scores (max, mean, vw_mean,
  fraction above a threshold, noisy-or, top-k mean, log-sum-exp), NaN for patients
  without lesions (the strategies derive from
  :class:`~survrad.lesions.base.AggregationStrategy`, whose ``transform`` applies THE fill
  rule of docs/reliability.md #7 to those cells);
- :func:`patient_outcome`: the endpoint of every patient, validated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from survrad.data.cohort import Cohort
from survrad.data.outcome import check_binary, check_event, check_time
from survrad.exceptions import ConfigError, SchemaError
from survrad.lesions.base import lesion_values

__all__ = [
    "LesionMatrix",
    "check_pooling",
    "lesion_matrix",
    "lesion_score_frame",
    "patient_outcome",
    "pool",
]


@dataclasses.dataclass(frozen=True)
class LesionMatrix:
    """Baseline lesions of a cohort, ready for a lesion-level model.

    Attributes
    ----------
    lesions : pandas.DataFrame
        Baseline lesion rows (RangeIndex), in the cohort's lesion order.
    X : numpy.ndarray
        ``(n_lesions, n_features)`` float64 feature matrix.
    codes : numpy.ndarray
        Position of each lesion's patient in ``patient_ids``.
    patient_ids : pandas.Index
        ``cohort.patient_ids``.
    volume : numpy.ndarray or None
        Lesion volumes (``None`` when the cohort has no volume column).
    """

    lesions: pd.DataFrame
    X: np.ndarray
    codes: np.ndarray
    patient_ids: pd.Index
    volume: np.ndarray | None

    @property
    def n_patients(self) -> int:
        """Number of patients of the cohort (with or without lesions)."""
        return int(self.patient_ids.size)

    @property
    def lesion_counts(self) -> np.ndarray:
        """Number of baseline lesions of every patient."""
        return np.bincount(self.codes, minlength=self.n_patients)


def lesion_matrix(cohort: Cohort, features: Sequence[str]) -> LesionMatrix:
    """Validated baseline lesion matrix of ``cohort`` (float64, finite).

    Raises
    ------
    SchemaError
        A feature is missing, non-numeric, NaN or infinite, a volume is <= 0 (naming
        columns and lesions), or a lesion belongs to a patient that is not in the cohort.
    """
    les = cohort.baseline_lesions().reset_index(drop=True)
    cols = cohort.columns
    X = lesion_values(les, features, cohort)
    codes = cohort.patient_ids.get_indexer(les[cols.patient_id].astype(str))
    if (codes < 0).any():
        raise SchemaError("lesions belong to patients that are not in the cohort.",
                          file="lesions", column=cols.patient_id,
                          ids=list(les.loc[codes < 0, cols.patient_id].unique()))
    volume = None
    if cols.volume in les.columns:
        volume = lesion_values(les, [cols.volume], cohort, positive=True)[:, 0]
    return LesionMatrix(lesions=les, X=X, codes=codes.astype(np.intp),
                        patient_ids=cohort.patient_ids, volume=volume)


# --------------------------------------------------------------------------- pooling
POOLINGS = ("max", "mean", "vw_mean", "frac_above", "noisy_or", "topk_mean", "logsumexp")


def pool(scores: np.ndarray, codes: np.ndarray, n_groups: int, how: str, *,
         volume: np.ndarray | None = None, threshold: float = 0.5,
         top_k: int = 2) -> np.ndarray:
    """Pool lesion scores per patient; patients without lesions get NaN.

    Parameters
    ----------
    scores : ndarray of shape (n_lesions,)
        Lesion scores (probabilities for ``frac_above`` and ``noisy_or``).
    codes : ndarray of shape (n_lesions,)
        Patient position of every lesion, in ``[0, n_groups)``.
    n_groups : int
        Number of patients.
    how : {"max", "mean", "vw_mean", "frac_above", "noisy_or", "topk_mean", "logsumexp"}
        ``vw_mean`` weights by ``volume``; ``frac_above`` is the fraction of lesions with a
        score above ``threshold``; ``noisy_or`` is ``1 - prod(1 - p)``; ``topk_mean`` the
        mean of the ``top_k`` highest scores (all of them when a patient has fewer);
        ``logsumexp`` is ``log(sum(exp(s)))``, a smooth maximum.

    Returns
    -------
    ndarray of shape (n_groups,)

    Examples
    --------
    >>> import numpy as np
    >>> pool(np.array([1.0, 3.0, 2.0]), np.array([0, 0, 1]), 3, "max").tolist()
    [3.0, 2.0, nan]
    """
    s = np.asarray(scores, dtype=np.float64)
    n = np.bincount(codes, minlength=n_groups).astype(np.float64)
    empty = n == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        if how == "max":
            out = segment_max(s, codes, n_groups)
        elif how == "mean":
            out = np.bincount(codes, s, minlength=n_groups) / n
        elif how == "vw_mean":
            if volume is None:
                raise SchemaError("vw_mean pooling needs lesion volumes; the lesion table "
                                  "has no volume column.", file="lesions")
            out = (np.bincount(codes, s * volume, minlength=n_groups)
                   / np.bincount(codes, volume, minlength=n_groups))
        elif how == "frac_above":
            out = np.bincount(codes, (s > threshold).astype(float), minlength=n_groups) / n
        elif how == "noisy_or":
            logq = np.log1p(-np.clip(s, 0.0, 1.0 - 1e-15))
            out = -np.expm1(np.bincount(codes, logq, minlength=n_groups))
        elif how == "topk_mean":
            out = _topk_mean(s, codes, n_groups, top_k)
        elif how == "logsumexp":
            m = segment_max(s, codes, n_groups)
            msafe = np.where(empty, 0.0, m)
            out = msafe + np.log(np.bincount(codes, np.exp(s - msafe[codes]),
                                             minlength=n_groups))
        else:
            raise ValueError(f"unknown pooling {how!r}; choose from {list(POOLINGS)}.")
    out[empty] = np.nan
    return out


def segment_max(s: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-group maximum (``-inf`` for empty groups)."""
    out = np.full(n_groups, -np.inf)
    np.maximum.at(out, codes, s)
    return out


def _topk_mean(s: np.ndarray, codes: np.ndarray, n_groups: int, k: int) -> np.ndarray:
    order = np.lexsort((-s, codes))
    sorted_codes = codes[order]
    starts = np.searchsorted(sorted_codes, sorted_codes, side="left")
    rank = np.arange(sorted_codes.size) - starts
    keep = order[rank < k]
    total = np.bincount(codes[keep], s[keep], minlength=n_groups)
    return total / np.bincount(codes[keep], minlength=n_groups)


def check_pooling(pooling: Sequence[str] | str, allowed: Sequence[str]) -> list[str]:
    """Validate a pooling list (a single name is accepted) against ``allowed``."""
    items = [pooling] if isinstance(pooling, str) else list(pooling)
    if not items:
        raise ValueError(f"pooling must name at least one of {list(allowed)}.")
    for p in items:
        if p not in allowed:
            raise ValueError(f"unknown pooling {p!r}; choose from {list(allowed)}.")
    if len(set(items)) != len(items):
        raise ValueError(f"pooling lists a method twice: {items}.")
    return items


# --------------------------------------------------------------------------- outcomes
def patient_outcome(cohort: Cohort, endpoint: str | None, owner: str
                    ) -> tuple[str, np.ndarray, np.ndarray | None]:
    """``(kind, a, b)``: ``("survival", time, event)`` or ``("binary", target, None)``.

    The outcome is validated (docs/reliability.md #8-#15 for the parts a lesion model needs).
    """
    if endpoint is None:
        raise ConfigError(f"{owner} learns from an outcome: call fit(cohort, endpoint=...) "
                          f"with one of {sorted(cohort.endpoints)}.")
    ep = cohort.endpoint(endpoint)
    ids = list(cohort.patient_ids)
    if ep.kind == "survival":
        time = check_time(cohort.patients[ep.time], ids=ids, column=ep.time)
        event = check_event(cohort.patients[ep.event], ids=ids, column=ep.event)
        if event.sum() < 2:
            raise SchemaError(f"{owner}: endpoint {endpoint!r} has {int(event.sum())} events "
                              "in the training cohort; at least 2 are needed.",
                              column=ep.event)
        return "survival", time, event
    target = check_binary(cohort.patients[ep.target], ids=ids, column=ep.target)
    return "binary", target, None


def lesion_score_frame(lm: LesionMatrix, cohort: Cohort, score: np.ndarray,
                       **extra: np.ndarray) -> pd.DataFrame:
    """``patient_id, lesion_id, score`` (plus ``extra`` columns) for baseline lesions."""
    cols = cohort.columns
    data = {"patient_id": lm.lesions[cols.patient_id].astype(str).to_numpy(),
            "lesion_id": lm.lesions[cols.lesion_id].astype(str).to_numpy(),
            "score": np.asarray(score, dtype=np.float64)}
    data.update({k: np.asarray(v, dtype=np.float64) for k, v in extra.items()})
    return pd.DataFrame(data)

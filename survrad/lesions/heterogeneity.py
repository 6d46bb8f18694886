"""Inter-lesion heterogeneity of every patient (layer 2).

Two views of how different a patient's baseline lesions are:

- the dispersion of one lesion score: a named lesion column, or by default the first
  principal component of the standardised lesion features (scaler and PCA learned on the
  TRAINING lesions);
- pairwise dissimilarities of standardised lesion profiles (Euclidean distance and cosine
  dissimilarity ``1 - cos``), averaged and maximised over the patient's lesion pairs.

Pairwise distances are computed for all patients with the same lesion count at once (a
loop over the distinct counts, not over patients).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError, DataWarning, SchemaError, format_values
from survrad.lesions.base import (
    AggregationStrategy,
    LesionFrame,
    lesion_frame,
    lesion_values,
    organ_values,
    resolve_features,
)
from survrad.lesions.burden import n_organs
from survrad.lesions.statistics import group_mean, group_reduce, group_std

__all__ = ["Heterogeneity", "pairwise_dissimilarity"]

_CHUNK_ELEMENTS = 1 << 21  # pairs x features per block, bounds memory (16 MB of float64)
_TINY = 1e-12


def pairwise_dissimilarity(Z: np.ndarray, frame: LesionFrame) -> np.ndarray:
    """Mean and max pairwise Euclidean distance and cosine dissimilarity per patient.

    Parameters
    ----------
    Z : ndarray of shape (n_rows, n_features)
        Lesion profiles aligned with ``frame`` rows (standardised).
    frame : LesionFrame

    Returns
    -------
    ndarray of shape (n_patients, 4)
        Columns: Euclidean mean, Euclidean max, cosine mean, cosine max; 0 for a patient
        with fewer than two lesions. Cosine dissimilarity is ``1 - cos`` in [0, 2]; two
        identical profiles give exactly 0, a zero profile (all features at the training
        mean) against a non-zero one gives 1.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from survrad.lesions.base import _make_frame
    >>> f = _make_frame(pd.DataFrame(index=range(3)), np.array([0, 0, 0]), pd.Index(["a"]))
    >>> pairwise_dissimilarity(np.array([[0.0, 1], [0, 1], [3, 5]]), f)[0, :2].tolist()
    [3.3333333333333335, 5.0]
    """
    Z = np.asarray(Z, dtype=np.float64)
    out = np.zeros((frame.n_patients, 4))
    norms = np.sqrt(np.einsum("ij,ij->i", Z, Z))
    zero = norms <= _TINY
    U = np.divide(Z, norms[:, None], out=np.zeros_like(Z), where=~zero[:, None])
    n_feat = max(Z.shape[1], 1)
    for c in np.unique(frame.counts[frame.counts >= 2]):
        pats = np.flatnonzero(frame.counts == c)
        left, right = np.triu_indices(int(c), 1)
        step = max(1, _CHUNK_ELEMENTS // (left.size * n_feat))
        for lo in range(0, pats.size, step):
            block = pats[lo:lo + step]
            rows = frame.starts[block][:, None] + np.arange(c)
            a, b = rows[:, left], rows[:, right]
            diff = Z[a] - Z[b]
            euclid = np.sqrt(np.einsum("mpd,mpd->mp", diff, diff))
            cos = np.einsum("mpd,mpd->mp", U[a], U[b])
            cos = np.where(zero[a] & zero[b], 1.0, cos)
            dis = np.where(euclid == 0.0, 0.0, np.clip(1.0 - cos, 0.0, 2.0))
            out[block] = np.column_stack([euclid.mean(axis=1), euclid.max(axis=1),
                                          dis.mean(axis=1), dis.max(axis=1)])
    return out


class Heterogeneity(AggregationStrategy):
    """Dispersion of a lesion score and dissimilarity of lesion profiles per patient.

    Parameters
    ----------
    score : str, optional
        Lesion column whose dispersion is measured. ``None`` (default): the first
        principal component of the standardised ``features`` (fitted on the training
        lesions; its sign makes the largest loading positive).
    features : str or sequence of str, optional
        Lesion columns (names or globs) of the profiles; default
        ``cohort.lesion_features``.

    Attributes
    ----------
    features_ : list of str
    center_, scale_ : ndarray
        Standardisation of the profiles learned on the training lesions (a feature with
        zero spread gets scale 1).
    loadings_ : ndarray or None
        First principal axis (standardised space) when ``score`` is None.
    score_name_ : str
        ``score`` or ``"lesion_pc1"``.
    has_cv_ : bool
        Whether ``{score}__cv`` is produced.

    Notes
    -----
    Output columns: ``{score}__std`` (population, ddof=0), ``{score}__range``, ``{score}__cv``
    (``std / mean``; only when the score is positive on every training lesion, as a
    coefficient of variation of a signed or centred score, e.g. the default
    ``lesion_pc1``, is meaningless; a score <= 0 met later by ``transform`` is then a
    SchemaError), ``profile_euclidean__mean``,
    ``profile_euclidean__max``, ``profile_cosine__mean``, ``profile_cosine__max``,
    ``n_organs`` and ``single_lesion`` (1 for a patient with at most one lesion, whose
    dispersions are all 0, never NaN). A patient without baseline lesions is treated like
    a single-lesion one (dispersions 0, ``single_lesion`` 1, ``n_organs`` 0) and listed
    in a DataWarning.

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.cohort import Cohort
    >>> p = pd.DataFrame({"age": [60, 70]}, index=pd.Index(["P1", "P2"], name="patient_id"))
    >>> les = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "lesion_id": ["a", "b", "c"],
    ...                     "organ": ["liver", "lung", "liver"],
    ...                     "rad_x": [0.0, 4.0, 1.0], "rad_y": [1.0, 1.0, 2.0]})
    >>> c = Cohort(p, les, lesion_features=("rad_x", "rad_y"))
    >>> out = Heterogeneity(score="rad_x").fit_transform(c)
    >>> out[["rad_x__std", "rad_x__range", "single_lesion"]].to_numpy().tolist()
    [[2.0, 4.0, 0.0], [0.0, 0.0, 1.0]]
    """

    def __init__(self, score: str | None = None,
                 features: str | Sequence[str] | None = None) -> None:
        self.score = score
        self.features = features

    def _check_params(self) -> None:
        if self.score is not None and not isinstance(self.score, str):
            raise ConfigError(f"score must be a lesion column name or None, got {self.score!r}.")

    def _learn(self, cohort: Cohort) -> None:
        self._check_params()
        self.features_ = resolve_features(cohort, self.features)
        frame = lesion_frame(cohort)
        X = lesion_values(frame.table, self.features_, cohort)
        if X.shape[0] < 2:
            raise SchemaError(f"Heterogeneity needs at least 2 training lesions to "
                              f"standardise the profiles; got {X.shape[0]}.", file="lesions")
        center = X.mean(axis=0)
        spread = X.std(axis=0)
        self.center_ = center
        self.scale_ = np.where(spread > _TINY * np.maximum(1.0, np.abs(center)), spread, 1.0)
        if self.score is None:
            _, _, vt = np.linalg.svd((X - center) / self.scale_, full_matrices=False)
            axis = vt[0]
            self.loadings_ = axis if axis[np.argmax(np.abs(axis))] >= 0 else -axis
            self.score_name_ = "lesion_pc1"
            self.has_cv_ = False
        else:
            s = lesion_values(frame.table, [self.score], cohort)[:, 0]
            self.loadings_ = None
            self.score_name_ = self.score
            self.has_cv_ = bool((s > 0).all())

    def _compute(self, cohort: Cohort) -> pd.DataFrame:
        frame = lesion_frame(cohort)
        Z = (lesion_values(frame.table, self.features_, cohort) - self.center_) / self.scale_
        if self.loadings_ is not None:
            s = Z @ self.loadings_
        else:
            s = lesion_values(frame.table, [self.score_name_], cohort, positive=self.has_cv_)[:, 0]
        mean = group_mean(s, frame)
        name = self.score_name_
        cols = {f"{name}__std": group_std(s, frame, mean),
                f"{name}__range": group_reduce(np.maximum, s, frame)
                - group_reduce(np.minimum, s, frame)}
        if self.has_cv_:
            cols[f"{name}__cv"] = cols[f"{name}__std"] / mean
        pair = pairwise_dissimilarity(Z, frame)
        for j, key in enumerate(("profile_euclidean__mean", "profile_euclidean__max",
                                 "profile_cosine__mean", "profile_cosine__max")):
            cols[key] = pair[:, j]
        cols["n_organs"] = n_organs(frame, organ_values(frame.table, cohort))
        cols["single_lesion"] = (frame.counts <= 1).astype(np.float64)
        out = pd.DataFrame(cols, index=cohort.patient_ids)
        empty = frame.counts == 0
        if empty.any():
            out.loc[empty] = out.loc[empty].fillna(0.0)
            warnings.warn(f"Heterogeneity: {format_values(list(frame.patient_ids[empty]))} "
                          "patients have no baseline lesion; their dispersions are 0 and "
                          "single_lesion is 1.", DataWarning, stacklevel=3)
        return out

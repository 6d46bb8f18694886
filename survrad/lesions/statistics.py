"""Strategy C: per-feature statistics over a patient's lesions (layer 2).

Every statistic is computed for all patients at once with segment reductions
(``numpy.ufunc.reduceat`` on lesion rows grouped by patient), never with a Python loop
over patients: the strategy runs inside every bootstrap replicate. The kernels
(:func:`group_reduce`, :func:`group_mean`, :func:`group_vw_mean`, :func:`group_std`,
:func:`group_median`) are shared with the other strategies of this package.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

import numpy as np
import pandas as pd

from survrad._validation import check_choice, check_int
from survrad.data.cohort import Cohort
from survrad.lesions.base import (
    AggregationStrategy,
    LesionFrame,
    lesion_frame,
    lesion_values,
    resolve_features,
)

__all__ = [
    "EXTENSIVE_FEATURES",
    "STATISTICS",
    "FeatureStatistics",
    "group_mean",
    "group_median",
    "group_reduce",
    "group_statistics",
    "group_std",
    "group_vw_mean",
    "match_patterns",
]

STATISTICS = ("mean", "vw_mean", "vw_mean_top", "min", "max", "median", "std", "range")

#: Default globs of EXTENSIVE lesion features, summed over a patient's lesions by
#: :class:`FeatureStatistics`: features that add up over disjoint regions, so the patient
#: total is the sum of the lesion values. PyRadiomics names are
#: ``<image type>_<class>_<Feature>`` (``original_shape_MeshVolume``,
#: ``wavelet-LLH_firstorder_Energy``); the globs match any image type:
#:
#: - 3-D shape: ``VoxelVolume``, ``MeshVolume`` (volumes), ``SurfaceArea``;
#: - 2-D shape: ``PixelSurface``, ``MeshSurface`` (areas), ``Perimeter``;
#: - first order: ``Energy`` and ``TotalEnergy`` (sums of squared intensities over voxels);
#: - ``volume_ml``, survrad's lesion volume column.
#:
#: Ratios, densities and normalised features are intensive and NOT listed, e.g.
#: ``SurfaceVolumeRatio``, ``Sphericity``, ``Maximum3DDiameter``, ``PerimeterSurfaceRatio``,
#: ``RootMeanSquared``. The simulator's ``rad_vol_XX`` features (linear in the LOG volume,
#: see :mod:`survrad.data.simulate`) are not extensive either and are not matched.
EXTENSIVE_FEATURES = (
    "*shape_VoxelVolume", "*shape_MeshVolume", "*shape_SurfaceArea",
    "*shape2D_PixelSurface", "*shape2D_MeshSurface", "*shape2D_Perimeter",
    "*firstorder_Energy", "*firstorder_TotalEnergy",
    "volume_ml",
)


# ------------------------------------------------------------------------------ kernels
def group_reduce(ufunc: np.ufunc, X: np.ndarray, frame: LesionFrame) -> np.ndarray:
    """Per-patient ``ufunc`` reduction of the rows of ``X`` (aligned with ``frame``).

    Returns an array ``(n_patients, n_columns)``; patients without rows get NaN.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from survrad.lesions.base import _make_frame
    >>> f = _make_frame(pd.DataFrame(index=range(3)), np.array([0, 0, 2]),
    ...                 pd.Index(["a", "b", "c"]))
    >>> group_reduce(np.add, np.array([[1.0], [2.0], [5.0]]), f).ravel().tolist()
    [3.0, nan, 5.0]
    """
    X = np.asarray(X, dtype=np.float64)
    squeeze = X.ndim == 1
    X2 = X[:, None] if squeeze else X
    out = np.full((frame.n_patients, X2.shape[1]), np.nan)
    has = frame.counts > 0
    if has.any():
        out[has] = ufunc.reduceat(X2, frame.starts[has], axis=0)
    return out[:, 0] if squeeze else out


def group_mean(X: np.ndarray, frame: LesionFrame) -> np.ndarray:
    """Per-patient mean (NaN for patients without rows)."""
    with np.errstate(invalid="ignore"):
        total = group_reduce(np.add, X, frame)
        n = frame.counts.astype(np.float64)
        return total / (n[:, None] if total.ndim == 2 else n)


def group_vw_mean(X: np.ndarray, weight: np.ndarray, frame: LesionFrame) -> np.ndarray:
    """Per-patient weighted mean ``sum(w x) / sum(w)`` (NaN for patients without rows)."""
    X = np.asarray(X, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    num = group_reduce(np.add, X * (w[:, None] if X.ndim == 2 else w), frame)
    den = group_reduce(np.add, w, frame)
    with np.errstate(invalid="ignore"):
        return num / (den[:, None] if num.ndim == 2 else den)


def group_std(X: np.ndarray, frame: LesionFrame, mean: np.ndarray | None = None) -> np.ndarray:
    """Per-patient population standard deviation (ddof=0: one lesion gives 0).

    Computed from deviations to the patient mean (two passes), not from ``E[x^2] - E[x]^2``,
    so identical lesions give exactly 0.
    """
    X = np.asarray(X, dtype=np.float64)
    m = group_mean(X, frame) if mean is None else mean
    dev = X - m[frame.codes]
    return np.sqrt(group_mean(dev * dev, frame))


def group_median(X: np.ndarray, frame: LesionFrame) -> np.ndarray:
    """Per-patient median (mean of the two middle values for an even count).

    Vectorised: every column is sorted by (patient, value) with one ``argsort`` on an
    integer key ``patient * n + rank_of_value``.
    """
    X = np.asarray(X, dtype=np.float64)
    squeeze = X.ndim == 1
    X2 = X[:, None] if squeeze else X
    n, p = X2.shape
    out = np.full((frame.n_patients, p), np.nan)
    has = frame.counts > 0
    if n:
        order = np.argsort(X2, axis=0)
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(n)[:, None], axis=0)
        key = frame.codes.astype(np.int64)[:, None] * n + rank
        Xs = np.take_along_axis(X2, np.argsort(key, axis=0), axis=0)
        c = frame.counts[has]
        lo = frame.starts[has] + (c - 1) // 2
        hi = frame.starts[has] + c // 2
        out[has] = 0.5 * (Xs[lo] + Xs[hi])
    return out[:, 0] if squeeze else out


def match_patterns(names: Sequence[str], patterns: str | Sequence[str] | None) -> list[str]:
    """Names matching any glob of ``patterns`` (case-insensitive).

    ``patterns`` is a list of globs or one string whose alternatives are separated by
    ``|`` (``"*volume*|*_size_*"``); ``None`` or empty matches nothing.

    Examples
    --------
    >>> match_patterns(["rad_MeshVolume", "rad_entropy"], "*volume*|*_size_*")
    ['rad_MeshVolume']
    """
    if not patterns:
        return []
    globs = patterns.split("|") if isinstance(patterns, str) else list(patterns)
    globs = [g.strip().lower() for g in globs if g.strip()]
    return [n for n in names if any(fnmatch.fnmatchcase(n.lower(), g) for g in globs)]


# ----------------------------------------------------------------------------- strategy
class FeatureStatistics(AggregationStrategy):
    """Strategy C: statistics of every lesion feature over a patient's baseline lesions.

    Parameters
    ----------
    stats : str or sequence of str, default ("mean",)
        Any of ``"mean"``, ``"vw_mean"`` (weights = lesion volume), ``"vw_mean_top"``
        (vw_mean of the ``top_k`` largest lesions by volume; all of them when a patient
        has fewer), ``"min"``, ``"max"``, ``"median"``, ``"std"`` (population standard
        deviation, ddof=0, so a single lesion gives 0, never NaN), ``"range"`` (max - min).
    features : str or sequence of str, optional
        Lesion columns (names or globs); default ``cohort.lesion_features``.
    top_k : int, default 3
        Number of largest lesions used by ``"vw_mean_top"``.
    extensive : str or sequence of str or None, default :data:`EXTENSIVE_FEATURES`
        Globs (case-insensitive, matched against the whole name; a string may hold
        alternatives separated by ``|``) naming extensive features: these are SUMMED over
        the lesions (one column ``f"{feature}__sum"``, 0 for a patient without lesions)
        instead of the ``stats``. The default lists the additive PyRadiomics features
        (shape volumes, areas and perimeter, first-order ``Energy`` and ``TotalEnergy``)
        and ``volume_ml``; ratios such as ``SurfaceVolumeRatio`` are not summed. ``None``
        sums nothing.

    Attributes
    ----------
    features_ : list of str
        The lesion features used.
    extensive_ : list of str
        Those of ``features_`` that are summed.
    stats_ : list of str
        The validated statistics.
    fill_values_ : pandas.Series
        Training means used for patients without a baseline lesion (with a DataWarning).
    feature_names_out_ : list of str
        ``f"{feature}__{stat}"`` in feature order, then stat order.

    Examples
    --------
    >>> import pandas as pd
    >>> from survrad.data.cohort import Cohort
    >>> p = pd.DataFrame({"age": [60, 70]}, index=pd.Index(["P1", "P2"], name="patient_id"))
    >>> les = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "lesion_id": ["a", "b", "c"],
    ...                     "volume_ml": [1.0, 3.0, 2.0], "rad_x": [0.0, 4.0, 1.0]})
    >>> c = Cohort(p, les, lesion_features=("rad_x",))
    >>> out = FeatureStatistics(stats=["mean", "vw_mean"]).fit_transform(c)
    >>> list(out.columns), out.loc["P1"].tolist()
    (['rad_x__mean', 'rad_x__vw_mean'], [2.0, 3.0])
    """

    def __init__(self, stats: str | Sequence[str] = ("mean",),
                 features: str | Sequence[str] | None = None, top_k: int = 3,
                 extensive: str | Sequence[str] | None = EXTENSIVE_FEATURES) -> None:
        self.stats = stats
        self.features = features
        self.top_k = top_k
        self.extensive = extensive

    def _learn(self, cohort: Cohort) -> None:
        self.stats_ = self._check_params()
        self.features_ = resolve_features(cohort, self.features)
        self.extensive_ = match_patterns(self.features_, self.extensive)

    def _check_params(self) -> list[str]:
        stats = [self.stats] if isinstance(self.stats, str) else list(self.stats)
        if not stats:
            raise ValueError(f"stats must name at least one of {list(STATISTICS)}.")
        for s in stats:
            check_choice("stats", s, STATISTICS)
        if len(set(stats)) != len(stats):
            raise ValueError(f"stats lists a statistic twice: {stats}.")
        check_int("top_k", self.top_k, min_value=1)
        return stats

    def _compute(self, cohort: Cohort) -> pd.DataFrame:
        frame = lesion_frame(cohort)
        X = lesion_values(frame.table, self.features_, cohort)
        weights = None
        if {"vw_mean", "vw_mean_top"} & set(self.stats_):
            weights = lesion_values(frame.table, [cohort.columns.volume], cohort,
                                    positive=True)[:, 0]
        values = group_statistics(X, frame, self.stats_, weights, self.top_k)
        extensive = set(self.extensive_)
        blocks: list[np.ndarray] = []
        names: list[str] = []
        for j, feat in enumerate(self.features_):
            if feat in extensive:
                total = group_reduce(np.add, X[:, j], frame)
                blocks.append(np.where(frame.counts > 0, total, 0.0)[:, None])
                names.append(f"{feat}__sum")
            else:
                blocks.append(np.column_stack([values[s][:, j] for s in self.stats_]))
                names.extend(f"{feat}__{s}" for s in self.stats_)
        data = np.hstack(blocks) if blocks else np.empty((frame.n_patients, 0))
        return pd.DataFrame(data, index=cohort.patient_ids, columns=names)


def group_statistics(X: np.ndarray, frame: LesionFrame, stats: Sequence[str],
                     weights: np.ndarray | None = None, top_k: int = 3
                     ) -> dict[str, np.ndarray]:
    """Every requested statistic (names of ``STATISTICS``) per patient.

    Returns ``{stat: array (n_patients, n_columns)}``; NaN for patients without rows.
    ``weights`` (lesion volumes) are needed by ``vw_mean`` and ``vw_mean_top``.
    """
    out: dict[str, np.ndarray] = {}
    need = set(stats)
    if need & {"mean", "std"}:
        out["mean"] = group_mean(X, frame)
    if "std" in need:
        out["std"] = group_std(X, frame, out["mean"])
    if need & {"min", "range"}:
        out["min"] = group_reduce(np.minimum, X, frame)
    if need & {"max", "range"}:
        out["max"] = group_reduce(np.maximum, X, frame)
    if "range" in need:
        out["range"] = out["max"] - out["min"]
    if "median" in need:
        out["median"] = group_median(X, frame)
    if "vw_mean" in need:
        out["vw_mean"] = group_vw_mean(X, weights, frame)
    if "vw_mean_top" in need:
        order, rank = frame.rank_within(weights)
        keep = np.zeros(frame.n_rows, dtype=bool)
        keep[order[rank < top_k]] = True
        top = frame.select(keep)
        out["vw_mean_top"] = group_vw_mean(X[keep], weights[keep], top)
    return out

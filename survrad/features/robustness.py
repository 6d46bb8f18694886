"""Robustness of features to re-segmentation: intraclass correlation and the ICC filter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import check_choice, check_fraction
from survrad.exceptions import SchemaError, format_values
from survrad.features._base import FeatureStep, check_frame

__all__ = ["ICCFilter", "icc"]

_KINDS = ("ICC(2,1)", "ICC(3,1)")


def icc(
    table: pd.DataFrame,
    subject: str,
    rater: str,
    features: Sequence[str] | None = None,
    kind: str = "ICC(2,1)",
) -> pd.Series:
    """Single-measure intraclass correlation of every feature (Shrout & Fleiss 1979).

    Two-way ANOVA mean squares are computed with numpy for all features at once:
    ``MSR`` (subjects), ``MSC`` (raters), ``MSE`` (residual), with ``n`` subjects and
    ``k`` raters::

        ICC(2,1) = (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n)   # absolute agreement
        ICC(3,1) = (MSR - MSE) / (MSR + (k - 1) MSE)                       # consistency

    Parameters
    ----------
    table : pandas.DataFrame
        Long table of repeated measurements: one row per (subject, rater), e.g. one row
        per (lesion, segmentation).
    subject : str
        Column identifying the subject (lesion).
    rater : str
        Column identifying the rater or repeated segmentation.
    features : sequence of str, optional
        Feature columns; default every numeric column other than ``subject`` and ``rater``.
    kind : {"ICC(2,1)", "ICC(3,1)"}, default "ICC(2,1)"
        Two-way random effects, absolute agreement; or two-way mixed, consistency.

    Returns
    -------
    pandas.Series
        ICC per feature (named ``kind``). A feature constant over the whole table has no
        defined ICC: NaN.

    Raises
    ------
    SchemaError
        Missing columns, NaN or non-numeric values, a duplicated (subject, rater) pair, a
        subject not measured by every rater (the design must be complete), or fewer than
        2 subjects or 2 raters.

    Examples
    --------
    Shrout & Fleiss (1979), 6 targets rated by 4 judges:

    >>> import pandas as pd
    >>> r = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> long = pd.DataFrame([(t, j, r[t][j]) for t in range(6) for j in range(4)],
    ...                     columns=["target", "judge", "score"])
    >>> round(float(icc(long, "target", "judge", kind="ICC(2,1)")["score"]), 2)
    0.29
    >>> round(float(icc(long, "target", "judge", kind="ICC(3,1)")["score"]), 2)
    0.71
    """
    check_choice("kind", kind, _KINDS)
    cube, names = _cube(table, subject, rater, features)
    n, k, _ = cube.shape
    grand = cube.mean(axis=(0, 1))
    ss_total = ((cube - grand) ** 2).sum(axis=(0, 1))
    ss_rows = k * ((cube.mean(axis=1) - grand) ** 2).sum(axis=0)
    ss_cols = n * ((cube.mean(axis=0) - grand) ** 2).sum(axis=0)
    ms_rows = ss_rows / (n - 1)
    ms_cols = ss_cols / (k - 1)
    ms_err = (ss_total - ss_rows - ss_cols) / ((n - 1) * (k - 1))
    if kind == "ICC(2,1)":
        denom = ms_rows + (k - 1) * ms_err + k * (ms_cols - ms_err) / n
    else:
        denom = ms_rows + (k - 1) * ms_err
    num = ms_rows - ms_err
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(denom > 0, num / np.where(denom > 0, denom, 1.0), np.nan)
    return pd.Series(values, index=pd.Index(names, name="feature"), name=kind)


def _cube(table: pd.DataFrame, subject: str, rater: str,
          features: Sequence[str] | None) -> tuple[np.ndarray, list]:
    """Array (subjects, raters, features) from the long table, after checks."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"icc needs a long pandas DataFrame; got {type(table).__name__}.")
    for col in (subject, rater):
        if col not in table.columns:
            raise SchemaError(f"column not found in the repeats table; available: "
                              f"{list(table.columns)}.", file="repeats", column=str(col))
    if features is None:
        features = [c for c in table.columns if c not in (subject, rater)
                    and pd.api.types.is_numeric_dtype(table[c].dtype)]
    features = list(features)
    missing = [f for f in features if f not in table.columns]
    if missing:
        raise SchemaError(f"feature column(s) {format_values(missing)} not in the repeats "
                          "table.", file="repeats")
    if not features:
        raise SchemaError("the repeats table has no numeric feature column.", file="repeats")
    check_frame(table, step="icc (repeats table)", columns=features)
    for col in (subject, rater):
        if table[col].isna().any():
            raise SchemaError("ids are missing in the repeats table.", file="repeats",
                              column=str(col), ids=list(table.index[table[col].isna()]))
    dup = table.duplicated([subject, rater], keep=False).to_numpy()
    if dup.any():
        pairs = list(table.loc[dup, [subject, rater]].drop_duplicates().itertuples(index=False,
                                                                                    name=None))
        raise SchemaError(f"duplicated ({subject}, {rater}) pairs: {format_values(pairs)}. "
                          "Each subject is measured once per rater.", file="repeats")
    subjects = pd.unique(table[subject])
    raters = pd.unique(table[rater])
    if len(subjects) < 2 or len(raters) < 2:
        raise SchemaError(f"an ICC needs at least 2 subjects and 2 raters; got "
                          f"{len(subjects)} and {len(raters)}.", file="repeats")
    counts = table.groupby(subject, sort=False)[rater].size()
    incomplete = counts.index[counts.to_numpy() != len(raters)]
    if len(incomplete):
        raise SchemaError(
            f"the design must be complete: every {subject} measured by each of the "
            f"{len(raters)} {rater} values. Incomplete subjects (remove them or add their "
            "missing measurements).", file="repeats", column=str(subject),
            ids=list(incomplete))
    wide = table.set_index([subject, rater])[features]
    full = pd.MultiIndex.from_product([subjects, raters])
    cube = wide.reindex(full).to_numpy(dtype=float).reshape(len(subjects), len(raters),
                                                            len(features))
    return cube, features


class ICCFilter(FeatureStep):
    """Keep features reproducible across repeated segmentations (ICC >= threshold).

    The ICC of each lesion feature is computed from ``repeats`` (a long table of repeated
    segmentations), NOT from ``X``; ``X`` only says which columns to filter. A column of
    ``X`` is matched to a lesion feature by exact name, else by stripping ``__suffix``
    parts from the right (``rad_entropy__mean`` and ``rad_entropy__vw_mean`` map to
    ``rad_entropy``). Columns with no ICC information (clinical covariates, burden
    columns, ...) pass through unchanged and are listed in ``unmatched_``. A matched
    feature whose ICC is undefined (constant in the repeats) is dropped.

    Parameters
    ----------
    repeats : pandas.DataFrame
        Long table: ``subject_col``, ``rater_col`` and feature columns.
    threshold : float, default 0.75
        Keep features with ICC >= threshold ("good" reliability, Koo & Li 2016).
    kind : {"ICC(2,1)", "ICC(3,1)"}, default "ICC(2,1)"
        See :func:`icc`.
    subject_col : str, default "lesion_id"
        Subject (lesion) column of ``repeats``.
    rater_col : str, default "segmentation"
        Repeated segmentation column of ``repeats``.

    Attributes
    ----------
    icc_ : pandas.Series
        ICC of each column of ``X`` (NaN when unmatched or undefined).
    source_feature_ : dict
        Column of ``X`` -> lesion feature of ``repeats`` it was matched to.
    unmatched_ : list
        Columns of ``X`` with no ICC information (passed through).
    support_ : numpy.ndarray of bool
        Kept columns of ``X``.
    feature_names_out_ : numpy.ndarray

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.normal(size=20)
    >>> rep = pd.DataFrame({"lesion_id": np.repeat(np.arange(20), 2),
    ...                     "segmentation": np.tile([1, 2], 20),
    ...                     "rad_a": np.repeat(truth, 2) + rng.normal(0, 0.1, 40),
    ...                     "rad_b": rng.normal(size=40)})
    >>> X = pd.DataFrame({"rad_a__mean": [1.0, 2.0], "rad_b__mean": [0.0, 1.0], "age": [60, 70]})
    >>> ICCFilter(rep).fit(X).get_feature_names_out().tolist()
    ['rad_a__mean', 'age']
    """

    def __init__(self, repeats: pd.DataFrame, threshold: float = 0.75, kind: str = "ICC(2,1)",
                 subject_col: str = "lesion_id", rater_col: str = "segmentation") -> None:
        self.repeats = repeats
        self.threshold = threshold
        self.kind = kind
        self.subject_col = subject_col
        self.rater_col = rater_col

    def _check_params(self) -> None:
        check_fraction("threshold", self.threshold, inclusive=True)
        check_choice("kind", self.kind, _KINDS)

    def fit(self, X: pd.DataFrame, y: Any = None) -> ICCFilter:
        """Compute the ICC of the lesion features behind the columns of ``X``; keep the good."""
        self._check_params()
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"ICCFilter works on a pandas DataFrame; got {type(X).__name__}.")
        if not isinstance(self.repeats, pd.DataFrame):
            raise TypeError("ICCFilter(repeats=...) must be a long pandas DataFrame of repeated "
                            f"segmentations; got {type(self.repeats).__name__}.")
        available = {c for c in self.repeats.columns
                     if c not in (self.subject_col, self.rater_col)
                     and pd.api.types.is_numeric_dtype(self.repeats[c].dtype)}
        source = {}
        for col in X.columns:
            base = _match(str(col), available)
            if base is not None:
                source[col] = base
        used = list(dict.fromkeys(source.values()))
        values = (icc(self.repeats, self.subject_col, self.rater_col, used, kind=self.kind)
                  if used else pd.Series(dtype=float))
        self._set_input_names(X)
        self.source_feature_ = source
        self.unmatched_ = [c for c in X.columns if c not in source]
        self.icc_ = pd.Series([float(values[source[c]]) if c in source else np.nan
                               for c in X.columns], index=X.columns, name=self.kind)
        keep = [c not in source or bool(self.icc_[c] >= self.threshold) for c in X.columns]
        self.support_ = np.asarray(keep, dtype=bool)
        self.feature_names_out_ = np.asarray(X.columns[self.support_], dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Keep the reproducible columns (and the unmatched ones)."""
        X = self._check_columns(X)
        return X.loc[:, list(self.feature_names_out_)]


def _match(column: str, available: set) -> str | None:
    """Exact name, else strip ``__suffix`` parts from the right until a name matches."""
    name = column
    while True:
        if name in available:
            return name
        if "__" not in name:
            return None
        name = name.rsplit("__", 1)[0]

"""Missing values in the feature columns: the policy applied while reading (layer 1).

:func:`survrad.read_cohort` takes ``missing=``:

``"error"`` (default)
    A missing value in a selected feature column is a :class:`SchemaError` naming the
    columns and ids (nothing is dropped or filled).
``"complete_case"``
    Every patient with a missing patient feature is excluded, with its lesions; every
    lesion row with a missing lesion feature is excluded (the patient keeps its other
    lesions, so per-patient aggregates such as the largest lesion are computed on the
    lesions that remain). Each exclusion is listed in ``Cohort.excluded`` with the
    columns that were missing.
``"impute"``
    Missing values are accepted in the selected feature columns and kept as NaN; a
    pipeline step must fill them before any model sees them (every model refuses NaN):
    :class:`survrad.features.Imputer` for patient-level columns, fitted on the training
    patients of every resample, and :class:`survrad.lesions.ImputeLesions` for
    lesion-level columns (a failed extraction), fitted on the training lesions before
    the lesions are aggregated.

Whatever the policy, a feature column that is missing in every row is a
:class:`SchemaError`: no rule can fill it. :class:`MissingData` (``Cohort.missing_data``)
records the amount and the pattern of missingness as read, before any exclusion.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import check_choice
from survrad.data import schema
from survrad.exceptions import SchemaError, format_values

__all__ = ["MISSING_POLICIES", "MissingData", "MissingHandler", "missing_pattern"]

#: Values of ``read_cohort(missing=...)``.
MISSING_POLICIES = ("error", "complete_case", "impute")

_BY_COLUMN = ["table", "column", "n_rows", "n_missing", "fraction"]


@dataclasses.dataclass(frozen=True)
class MissingData:
    """Amount and pattern of missing values in the feature columns, as read.

    Attributes
    ----------
    policy : {"complete_case", "impute"}
        The ``missing=`` policy of :func:`survrad.read_cohort`.
    by_column : pandas.DataFrame
        One row per feature column: ``table`` ("patients" or "lesions"), ``column``,
        ``n_rows`` (rows of the table), ``n_missing``, ``fraction``.
    patterns : mapping of str to pandas.DataFrame
        Per table, :func:`missing_pattern` of its feature columns.
    n_excluded : mapping of str to int
        Per table, rows excluded by ``"complete_case"`` (0 for ``"impute"``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"patient_id": [f"P{i}" for i in range(60)],
    ...                    "os_time": range(1, 61), "os_event": [1, 0] * 30,
    ...                    "age": [60.0] * 59 + [None], "pdl1": [None, 1.0] * 30})
    >>> import survrad as sr
    >>> c = sr.read_cohort(df, patient_features=["age", "pdl1"], missing="impute")
    >>> c.missing_data.by_column[["column", "n_missing"]].values.tolist()
    [['age', 1], ['pdl1', 30]]
    """

    policy: str
    by_column: pd.DataFrame
    patterns: Mapping[str, pd.DataFrame]
    n_excluded: Mapping[str, int]

    def to_frame(self) -> pd.DataFrame:
        """``by_column`` (a copy)."""
        return self.by_column.copy()

    def describe(self) -> list[str]:
        """One plain sentence per table: the columns with gaps, incomplete rows, patterns.

        Examples
        --------
        >>> import pandas as pd
        >>> md = MissingData("impute", pd.DataFrame({
        ...     "table": ["patients"], "column": ["pdl1"], "n_rows": [40], "n_missing": [4],
        ...     "fraction": [0.1]}), {"patients": pd.DataFrame({"pdl1": [False, True],
        ...     "n": [36, 4], "n_missing": [0, 1]})}, {"patients": 0})
        >>> md.describe()
        ["patients (missing='impute'): 4 of 40 rows incomplete (10.0%), 2 patterns; pdl1 4 (10.0%)"]
        """
        out = []
        for table, pat in self.patterns.items():
            cols = self.by_column[(self.by_column["table"] == table)
                                  & (self.by_column["n_missing"] > 0)]
            n = int(pat["n"].sum())
            incomplete = int(pat.loc[pat["n_missing"] > 0, "n"].sum())
            listed = ", ".join(f"{r.column} {r.n_missing} ({100 * r.fraction:.1f}%)"
                               for r in cols.itertuples())
            text = (f"{table} (missing={self.policy!r}): {incomplete} of {n} rows incomplete "
                    f"({100 * incomplete / n:.1f}%), {len(pat)} patterns")
            if self.n_excluded.get(table):
                text += f", {self.n_excluded[table]} excluded"
            out.append(text + (f"; {listed}" if listed else ""))
        return out


def missing_pattern(values: pd.DataFrame) -> pd.DataFrame:
    """The distinct patterns of missingness of ``values`` (as R's ``mice::md.pattern``).

    Parameters
    ----------
    values : pandas.DataFrame
        The columns to describe (NaN = missing).

    Returns
    -------
    pandas.DataFrame
        One row per pattern, most frequent first: a boolean column per column of
        ``values`` that has a missing value (True = missing; complete columns are left
        out), ``n`` (rows with this pattern) and ``n_missing`` (missing cells in the
        pattern).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": [1.0, None, None, 4.0], "b": [1.0, 2.0, None, 4.0],
    ...                    "c": [1.0, 2.0, 3.0, 4.0]})
    >>> missing_pattern(df).values.tolist()
    [[False, False, 2, 0], [True, False, 1, 1], [True, True, 1, 2]]
    """
    mask = values.isna()
    cols = [c for c in values.columns if mask[c].any()]
    if not cols:
        return pd.DataFrame({"n": [len(values)], "n_missing": [0]})
    pat = mask[cols]
    counts = pat.value_counts(sort=False).rename("n").reset_index()
    counts["n_missing"] = counts[cols].sum(axis=1).astype(int)
    counts = counts.sort_values(["n", "n_missing"], ascending=[False, True], kind="stable")
    return counts.reset_index(drop=True)


class MissingHandler:
    """Applies one ``missing=`` policy to the tables of :func:`survrad.read_cohort`.

    Used by the reader (:meth:`patients`, then :meth:`lesions`, then :meth:`result`);
    each method returns its table with the excluded rows removed and appends every
    exclusion to ``excluded`` (dicts of table, id, reason).
    """

    def __init__(self, policy: str) -> None:
        self.policy = check_choice("missing", policy, list(MISSING_POLICIES))
        self._by_column: list[pd.DataFrame] = []
        self._patterns: dict[str, pd.DataFrame] = {}
        self._n_excluded: dict[str, int] = {}

    @property
    def allow_missing(self) -> bool:
        """Whether NaN may stay in the feature columns after reading."""
        return self.policy == "impute"

    def patients(self, ptab: pd.DataFrame, features: Sequence[str], *, file: str,
                 id_column: str, excluded: list[dict[str, str]]) -> pd.DataFrame:
        """Patients kept under the policy (complete cases: incomplete ones excluded)."""
        if self.policy == "error" or not features:
            return ptab
        ids = list(ptab[id_column])
        values = schema.check_feature_values(ptab, features, file=file, ids=ids,
                                             allow_missing=True)
        self._describe("patients", values, file=file)
        return self._exclude(ptab, values, "patients", ids, excluded)

    def lesions(self, ltab: pd.DataFrame, features: Sequence[str], *, file: str,
                keys: Sequence[str], patient_ids: pd.Index,
                excluded: list[dict[str, str]]) -> pd.DataFrame:
        """Lesion rows kept under the policy.

        Only lesions of the patients in ``patient_ids`` are described and excluded here;
        the others (orphans, lesions of excluded patients) are left to the reader's
        orphan rule, which names them.
        """
        if self.policy == "error" or not features:
            return ltab
        known = ltab[keys[0]].isin(patient_ids).to_numpy()
        labels = ["/".join(str(v) for v in row)
                  for row in ltab[list(keys)].itertuples(index=False, name=None)]
        values = schema.check_feature_values(ltab, features, file=file, ids=labels,
                                             allow_missing=True)
        self._describe("lesions", values.loc[known], file=file)
        # a patient left without lesions is named by the reader's own warning
        return self._exclude(ltab, values, "lesions", labels, excluded, rows=known)

    def result(self) -> MissingData | None:
        """The :class:`MissingData` of the tables seen (None under ``"error"``)."""
        if self.policy == "error" or not self._by_column:
            return None
        by_column = pd.concat(self._by_column, ignore_index=True)
        return MissingData(policy=self.policy, by_column=by_column,
                           patterns=dict(self._patterns), n_excluded=dict(self._n_excluded))

    # ---------------------------------------------------------------------- helpers
    def _describe(self, table: str, values: pd.DataFrame, *, file: str) -> None:
        n = len(values)
        n_missing = values.isna().sum(axis=0).astype(int)
        empty = [c for c in values.columns if n and n_missing[c] == n]
        if empty:
            raise SchemaError(
                f"feature column(s) {format_values(empty)} are missing in every row; no "
                "rule can fill or keep them. Remove them from the features.", file=file,
                column=str(empty[0]), values=empty)
        self._by_column.append(pd.DataFrame({
            "table": table, "column": [str(c) for c in values.columns], "n_rows": n,
            "n_missing": n_missing.to_numpy(),
            "fraction": n_missing.to_numpy() / n if n else np.nan})[_BY_COLUMN])
        self._patterns[table] = missing_pattern(values)

    def _exclude(self, tab: pd.DataFrame, values: pd.DataFrame, table: str,
                 labels: list[Any], excluded: list[dict[str, str]],
                 rows: np.ndarray | None = None) -> pd.DataFrame:
        if self.policy != "complete_case":
            self._n_excluded[table] = 0
            return tab
        mask = values.isna().to_numpy()
        drop = mask.any(axis=1)
        if rows is not None:
            drop &= rows
        names = [str(c) for c in values.columns]
        for i in np.flatnonzero(drop):
            cols = ", ".join(repr(names[j]) for j in np.flatnonzero(mask[i]))
            excluded.append({"table": table, "id": str(labels[i]),
                             "reason": f"missing {cols} (missing='complete_case')"})
        self._n_excluded[table] = int(drop.sum())
        if drop.all():
            raise SchemaError(
                f"complete-case analysis excludes every row of the {table} table (each has "
                "a missing feature value); use missing='impute' or fewer features.",
                file=table, values=[c for c, k in zip(names, mask.any(axis=0), strict=True)
                                    if k])
        return tab.loc[~drop].reset_index(drop=True)

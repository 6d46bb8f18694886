"""Development / validation split of a cohort by a patient column (layer 1).

The patient table may carry a ``split`` column (:attr:`ColumnNames.split`) saying which
patients develop the model and which validate it; :func:`split_cohort` turns it into two
cohorts. :func:`split_by_group` gives, for leave-one-centre-out validation, the
(training, test) cohorts with one value of a grouping column (``center``) held out.

Values are compared as text, exactly (``"Train"`` is not ``"train"``: an unknown value
is an error naming the column, the ids and the values, with a close match when there is
one). Every patient lands in exactly one of the two cohorts; a patient whose value is
neither a training nor a test value is never dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import close_matches
from survrad.data.cohort import Cohort
from survrad.exceptions import SchemaError, format_values

__all__ = ["SPLIT_VALUES", "check_split_values", "group_values", "split_by_group",
           "split_cohort"]

#: The values of the ``split`` column that :func:`~survrad.data.io.read_cohort` accepts
#: by default (``split_values=``).
SPLIT_VALUES = ("train", "test", "external")


def _column(cohort: Cohort, column: str) -> pd.Series:
    """The patient column ``column`` as text; errors for a missing column or cell."""
    if column not in cohort.patients.columns:
        hint = close_matches(column, [str(c) for c in cohort.patients.columns])
        did = f" Did you mean {hint[0]!r}?" if hint else ""
        raise SchemaError(f"no such patient column; available: "
                          f"{list(cohort.patients.columns)}.{did}", file="patients",
                          column=column)
    return _as_text(cohort.patients[column], cohort.patient_ids, column=column,
                    file="patients")


def _as_text(values: pd.Series, ids: Sequence[Any], *, column: str, file: str) -> pd.Series:
    """``values`` as text; a SchemaError naming the ids whose value is missing or blank."""
    empty = values.isna().to_numpy() | (values.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        raise SchemaError("the value is missing for some patients; every patient needs one "
                          "(say which set each patient belongs to).", file=file,
                          column=column, ids=[ids[i] for i in np.flatnonzero(empty)])
    return values.astype(str)


def _refuse_unknown(values: pd.Series, ids: Sequence[Any], known: Sequence[str], *,
                    column: str, file: str, expected: str, remedy: str) -> None:
    """A SchemaError naming the ids and the values of ``values`` not in ``known``."""
    unknown = ~values.isin(set(known)).to_numpy()
    if not unknown.any():
        return
    bad = list(dict.fromkeys(values[unknown]))
    hints = {v: close_matches(v, sorted(known)) for v in bad}
    did = "; ".join(f"{v!r}: did you mean {h[0]!r}?" for v, h in hints.items() if h)
    raise SchemaError(f"values {format_values(bad)} are {expected}. {remedy}"
                      f"{' ' + did if did else ''}", file=file, column=column,
                      ids=[ids[i] for i in np.flatnonzero(unknown)], values=bad)


def check_split_values(patients: pd.DataFrame, column: str, allowed: Sequence[str], *,
                       id_column: str, file: str = "patients") -> None:
    """Refuse a ``split`` column with a missing value or a value outside ``allowed``.

    What :func:`~survrad.data.io.read_cohort` checks when the patient table has the
    column: values are compared as text, exactly.

    Raises
    ------
    SchemaError
        Naming the column, the ids and the unknown values (with a close match when
        there is one), or the ids whose value is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({"patient_id": ["A", "B"], "split": ["train", "Test"]})
    >>> try:
    ...     check_split_values(p, "split", SPLIT_VALUES, id_column="patient_id")
    ... except SchemaError as e:
    ...     print(e.column, e.ids, e.values)
    split ['B'] ['Test']
    """
    allowed = _texts("split values", allowed)
    ids = list(patients[id_column])
    values = _as_text(patients[column], ids, column=column, file=file)
    _refuse_unknown(values, ids, allowed, column=column, file=file,
                    expected=f"not split values {list(allowed)}",
                    remedy="Correct them, or name the values of your data with "
                           "read_cohort(split_values=[...]) (study file: [validation] "
                           "train_values / test_values).")


def _texts(name: str, values: str | Sequence[str]) -> tuple[str, ...]:
    out = (values,) if isinstance(values, str) else tuple(str(v) for v in values)
    if not out:
        raise ValueError(f"{name} must name at least one value.")
    return out


def split_cohort(cohort: Cohort, column: str | None = None, *,
                 train: str | Sequence[str] = ("train",),
                 test: str | Sequence[str] = ("test", "external")) -> tuple[Cohort, Cohort]:
    """The (development, validation) cohorts named by a patient column.

    Parameters
    ----------
    cohort : Cohort
    column : str, optional
        Patient column naming the set of each patient; default the cohort's ``split``
        column (``cohort.columns.split``, ``"split"`` unless renamed).
    train : str or sequence of str, default ("train",)
        Values of the development patients.
    test : str or sequence of str, default ("test", "external")
        Values of the validation patients.

    Returns
    -------
    (Cohort, Cohort)
        Development and validation cohorts (patients in their original order, with all
        their lesions).

    Raises
    ------
    SchemaError
        The column is absent, a value is missing, a value is neither a training nor a test
        value (naming the column, the ids and the values), or one of the two sets is
        empty.
    ValueError
        A value listed both as training and as test value.

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=40, random_state=0)
    >>> p = c.patients.copy()
    >>> p["split"] = ["train"] * 30 + ["external"] * 10
    >>> import dataclasses
    >>> train, test = split_cohort(dataclasses.replace(c, patients=p))
    >>> train.n_patients, test.n_patients
    (30, 10)
    """
    col = cohort.columns.split if column is None else column
    tr, te = _texts("train", train), _texts("test", test)
    both = sorted(set(tr) & set(te))
    if both:
        raise ValueError(f"values {both} are listed both as training and as test values.")
    values = _column(cohort, col)
    _refuse_unknown(values, list(cohort.patient_ids), [*tr, *te], column=col,
                    file="patients",
                    expected=f"neither training values {list(tr)} nor test values {list(te)}",
                    remedy="Correct them, or name them with train=/test= (study file: "
                           "[validation] train_values / test_values).")
    is_train = values.isin(set(tr)).to_numpy()
    for name, mask, wanted in (("development", is_train, tr), ("validation", ~is_train, te)):
        if not mask.any():
            raise SchemaError(f"no {name} patient: no value of the column is one of "
                              f"{list(wanted)}; values present: "
                              f"{sorted(set(values))}.", file="patients", column=col)
    ids = cohort.patient_ids
    return cohort.subset(ids[is_train]), cohort.subset(ids[~is_train])


def group_values(cohort: Cohort, column: str | None = None) -> list[str]:
    """The distinct values of a grouping column (default ``center``), sorted as text.

    Examples
    --------
    >>> import survrad as sr
    >>> group_values(sr.simulate_cohort(n_patients=60, n_centers=3, random_state=0))
    ['C1', 'C2', 'C3']
    """
    col = cohort.columns.center if column is None else column
    return sorted(set(_column(cohort, col)))


def split_by_group(cohort: Cohort, held_out: str, column: str | None = None
                   ) -> tuple[Cohort, Cohort]:
    """(Every other group, the group ``held_out``) of a grouping column (default ``center``).

    Raises
    ------
    SchemaError
        The column is absent or has missing values, ``held_out`` is not one of its
        values, or it is the only value (nothing left to train on).

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=60, n_centers=3, random_state=0)
    >>> train, test = split_by_group(c, "C3")
    >>> sorted(set(test.patients["center"])), train.n_patients + test.n_patients
    (['C3'], 60)
    """
    col = cohort.columns.center if column is None else column
    values = _column(cohort, col)
    held = values.to_numpy() == str(held_out)
    if not held.any():
        raise SchemaError(f"no patient has the value {held_out!r}; values: "
                          f"{sorted(set(values))}.", file="patients", column=col,
                          values=[held_out])
    if held.all():
        raise SchemaError(f"every patient has the value {held_out!r}: nothing is left to "
                          "train on.", file="patients", column=col, values=[held_out])
    ids = cohort.patient_ids
    return cohort.subset(ids[~held]), cohort.subset(ids[np.flatnonzero(held)])

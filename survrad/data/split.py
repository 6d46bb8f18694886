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

import numpy as np
import pandas as pd

from survrad._validation import close_matches
from survrad.data.cohort import Cohort
from survrad.exceptions import SchemaError, format_values

__all__ = ["group_values", "split_by_group", "split_cohort"]


def _column(cohort: Cohort, column: str) -> pd.Series:
    """The patient column ``column`` as text; errors for a missing column or cell."""
    if column not in cohort.patients.columns:
        hint = close_matches(column, [str(c) for c in cohort.patients.columns])
        did = f" Did you mean {hint[0]!r}?" if hint else ""
        raise SchemaError(f"no such patient column; available: "
                          f"{list(cohort.patients.columns)}.{did}", file="patients",
                          column=column)
    values = cohort.patients[column]
    empty = values.isna().to_numpy() | (values.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        raise SchemaError("the value is missing for some patients; every patient needs one "
                          "(say which set each patient belongs to).", file="patients",
                          column=column, ids=list(cohort.patient_ids[empty]))
    return values.astype(str)


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
    known = set(tr) | set(te)
    unknown = ~values.isin(known).to_numpy()
    if unknown.any():
        bad = list(dict.fromkeys(values[unknown]))
        hints = {v: close_matches(v, sorted(known)) for v in bad}
        did = "; ".join(f"{v!r}: did you mean {h[0]!r}?" for v, h in hints.items() if h)
        raise SchemaError(
            f"values {format_values(bad)} are neither training values {list(tr)} nor test "
            f"values {list(te)}. Correct them, or name them with train=/test= "
            f"(study file: [validation] train_values / test_values).{' ' + did if did else ''}",
            file="patients", column=col, ids=list(cohort.patient_ids[unknown]), values=bad)
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

"""Schema checks for patient and lesion tables (layer 1; docs/reliability.md #1-#7, #17-#19, #25).

Each function checks one thing, raises :class:`~survrad.exceptions.SchemaError` naming the
file, the column, the offending ids (first 10 and a count) and values, or warns with a
:class:`~survrad.exceptions.DataWarning`. None of them drops a row or fills a value.
:func:`survrad.data.io.read_cohort` calls them in order; they are public so that other
readers (the CLI's ``survrad check``, the simulator) apply exactly the same rules.
"""

from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad._spelling import spell
from survrad._validation import close_matches
from survrad.exceptions import DataWarning, SchemaError, format_values

__all__ = [
    "MIN_PATIENTS",
    "NA_TOKENS",
    "check_binary_column",
    "check_columns",
    "check_feature_values",
    "check_min_patients",
    "check_no_duplicate_columns",
    "check_positive",
    "check_unique_lesions",
    "check_unique_patients",
    "clean_ids",
    "find_orphan_lesions",
    "select_columns",
    "warn_patients_without_lesions",
]

#: Smallest number of patients a cohort may have (docs/reliability.md #25). Below 10 patients a
#: survival model, a C-index or a bootstrap is meaningless; the event checks
#: (:func:`survrad.data.outcome.event_sufficiency`) add their own limits on events.
MIN_PATIENTS = 10

#: Cell texts read as missing in every column except ids. An id equal to one of these is
#: an error, never a valid id (it is almost always an exported missing value).
NA_TOKENS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)
_NA_SET = frozenset(NA_TOKENS)
_SHOWN_COLUMNS = 20


# --------------------------------------------------------------------- columns (#1)
def _available(columns: Iterable[Any]) -> str:
    return format_values([str(c) for c in columns], max_shown=_SHOWN_COLUMNS)


def _normal(name: Any) -> str:
    return "".join(str(name).split()).casefold()


def near_misses(name: str, columns: Iterable[Any]) -> list[str]:
    """Columns that differ from ``name`` only in case or whitespace (never matched).

    survrad matches column names exactly; a near miss is reported as an error with the
    suggestion, never used silently.

    Examples
    --------
    >>> near_misses("os_time", ["OS_TIME", "os_event", " os_time "])
    ['OS_TIME', ' os_time ']
    """
    key = _normal(name)
    return [str(c) for c in columns if str(c) != name and _normal(c) == key]


def _missing_message(name: str, columns: Sequence[str], what: str) -> str:
    near = near_misses(name, columns)
    if near:
        return (f"{what} {name!r} not found; {near[0]!r} differs from it only in case or "
                f"spaces (column names are matched exactly). Rename the column to {name!r}, "
                f"or use the name {near[0]!r}.")
    hint = close_matches(name, columns)
    did = f" Close matches: {hint}." if hint else " No close match."
    return f"{what} {name!r} not found. Available columns: {_available(columns)}.{did}"


def check_columns(df: pd.DataFrame, required: Iterable[str], *, file: str,
                  what: str = "required column", hint: str = "") -> None:
    """Raise if any ``required`` column is absent (docs/reliability.md #1).

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    required : iterable of str
        Column names that must be present.
    file : str
        File path or table name used in the message.
    what : str
        How the column is described ("required column", "patient feature", ...).
    hint : str
        Extra advice appended to the message.

    Raises
    ------
    SchemaError
        Naming the first missing column, the available columns and close matches.

    Examples
    --------
    >>> import pandas as pd
    >>> check_columns(pd.DataFrame({"os_time": [1.0]}), ["os_time"], file="patients")
    """
    cols = [str(c) for c in df.columns]
    for name in required:
        if name not in df.columns:
            msg = _missing_message(name, cols, what)
            raise SchemaError(f"{msg} {hint}".rstrip(), file=file, column=name)


def check_no_duplicate_columns(names: Sequence[Any], *, file: str) -> None:
    """Raise if a column name appears more than once (docs/reliability.md #1).

    pandas silently renames a repeated header ``x`` to ``x.1``; pass the raw header here.

    Examples
    --------
    >>> check_no_duplicate_columns(["patient_id", "age"], file="patients")
    """
    counts = pd.Series([str(n) for n in names]).value_counts(sort=False)
    dup = counts[counts > 1]
    if len(dup):
        listed = ", ".join(f"{k!r} x{v}" for k, v in dup.items())
        raise SchemaError(
            f"duplicate column names: {listed}. Every column needs a distinct name; "
            "rename or remove the copies.", file=file, column=str(dup.index[0]),
            values=list(dup.index))


def select_columns(df: pd.DataFrame, patterns: Sequence[str] | str | None, *, file: str,
                   what: str, reserved: Iterable[str] = (),
                   forbidden: dict[str, str] | None = None) -> list[str]:
    """Resolve column names and ``fnmatch`` globs (``"rad_*"``) to columns of ``df``.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    patterns : sequence of str, str or None
        Exact names or glob patterns (case-sensitive). ``None`` selects nothing.
    file : str
        File path or table name used in messages.
    what : str
        "patient feature" or "lesion feature", used in messages.
    reserved : iterable of str
        Columns a glob never matches (ids, outcomes, timepoint, ...).
    forbidden : dict of str to str, optional
        Columns that may not be selected even by exact name, with the reason
        (e.g. an outcome used as a predictor).

    Returns
    -------
    list of str
        Selected columns, in the order of ``patterns`` (a glob's matches in table order),
        without repeats.

    Raises
    ------
    SchemaError
        A name that is not a column, or a glob matching nothing, with the available
        columns and close matches; a forbidden column.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame(columns=["patient_id", "rad_a", "rad_b", "age"])
    >>> select_columns(df, ["age", "rad_*"], file="t", what="feature", reserved=["patient_id"])
    ['age', 'rad_a', 'rad_b']
    """
    if patterns is None:
        return []
    if isinstance(patterns, str):
        patterns = [patterns]
    forbidden = forbidden or {}
    reserved = set(reserved) | set(forbidden)
    cols = [str(c) for c in df.columns]
    chosen: dict[str, None] = {}
    for pat in patterns:
        if not isinstance(pat, str):
            raise TypeError(f"{what} names must be strings, got {pat!r}.")
        if any(ch in pat for ch in "*?["):
            hits = [c for c in cols if c not in reserved and fnmatch.fnmatchcase(c, pat)]
            if not hits:
                msg = _missing_message(pat, cols, f"{what} pattern")
                raise SchemaError(msg.replace("not found", "matches no column"),
                                  file=file, column=pat)
        else:
            if pat in forbidden:
                raise SchemaError(f"{pat!r} cannot be a {what}: {forbidden[pat]}",
                                  file=file, column=pat)
            check_columns(df, [pat], file=file, what=what)
            hits = [pat]
        chosen.update(dict.fromkeys(hits))
    return list(chosen)


# ------------------------------------------------------------------------ ids (#3)
def clean_ids(raw: pd.Series, *, file: str, column: str, rows: Sequence[int] | None = None,
              row_label: str = "row positions (0-based)") -> pd.Series:
    """Validate and normalise an id column (docs/reliability.md #3).

    Ids become strings. Numbers become their integer text (``7`` and ``7.0`` give
    ``"7"``; leading zeros are kept only if the column was read as text, which
    :func:`survrad.data.io.read_table` always does). Leading/trailing whitespace is
    stripped, with a :class:`DataWarning` listing the ids it changed, so that ``"P1 "`` in
    one table joins ``"P1"`` in the other.

    Parameters
    ----------
    raw : pandas.Series
        The id column as read.
    file, column : str
        Names used in messages.
    rows : sequence of int, optional
        Row number of every entry (file line numbers); by default 0-based positions.
    row_label : str
        How ``rows`` are described in messages.

    Returns
    -------
    pandas.Series of str
        Same index as ``raw``.

    Raises
    ------
    SchemaError
        An id that is missing, empty, blank or an NA marker (``"NA"``, ``"null"``, ...),
        with the row numbers.

    Examples
    --------
    >>> import pandas as pd
    >>> clean_ids(pd.Series(["007", "P2"]), file="patients", column="patient_id").tolist()
    ['007', 'P2']
    """
    text = raw.map(_id_text)
    stripped = text.map(lambda v: v.strip() if isinstance(v, str) else v)
    missing = stripped.map(lambda v: v is None or v in _NA_SET).to_numpy(dtype=bool)
    if missing.any():
        where = np.flatnonzero(missing)
        numbers = [int(rows[i]) for i in where] if rows is not None else list(where)
        raise SchemaError(
            f"{column} is empty or missing on {row_label}: {format_values(numbers)}. Every "
            "row needs an id; an NA marker such as 'NA' or 'null' is not accepted as an id. "
            "Fill in the ids or delete these rows.",
            file=file, column=column, values=[raw.iloc[i] for i in where])
    changed = (text != stripped).to_numpy(dtype=bool)
    if changed.any():
        warnings.warn(
            f"[{file}] column {column!r}: leading/trailing whitespace removed from "
            f"{format_values(text[changed])} so that ids match across tables; fix the "
            "source file to silence this warning.", DataWarning, stacklevel=_stack())
    return stripped.astype(object)


def _id_text(v: Any) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, bool | np.bool_):
        return str(v)
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _stack() -> int:
    """A stacklevel pointing at the first frame outside survrad.data (the caller)."""
    import sys

    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("survrad.data"):
        frame = frame.f_back
        level += 1
    return level


# ---------------------------------------------------------------- duplicates (#4/#5)
def check_unique_patients(ids: pd.Series | pd.Index, *, file: str, column: str) -> None:
    """Raise if a patient id appears more than once (docs/reliability.md #4). Never dedupes.

    Examples
    --------
    >>> import pandas as pd
    >>> check_unique_patients(pd.Series(["P1", "P2"]), file="patients", column="patient_id")
    """
    counts = pd.Series(np.asarray(ids, dtype=object)).value_counts(sort=False)
    dup = counts[counts > 1]
    if len(dup):
        listed = ", ".join(f"{k!r} x{v}" for k, v in list(dup.items())[:10])
        raise SchemaError(
            f"duplicate patient ids ({len(dup)} ids): {listed}. One row per patient is "
            "required; survrad never deduplicates: merge or remove the copies.",
            file=file, column=column, ids=list(dup.index), values=list(dup.to_numpy()))


def check_unique_lesions(lesions: pd.DataFrame, keys: Sequence[str], *, file: str) -> None:
    """Raise if a (patient_id, lesion_id[, timepoint]) key repeats (docs/reliability.md #5).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"patient_id": ["P1", "P1"], "lesion_id": ["L1", "L2"]})
    >>> check_unique_lesions(df, ["patient_id", "lesion_id"], file="lesions")
    """
    dup = lesions.duplicated(list(keys), keep=False).to_numpy()
    if dup.any():
        pairs = list(dict.fromkeys(lesions.loc[dup, list(keys)].itertuples(index=False,
                                                                          name=None)))
        raise SchemaError(
            f"duplicate lesion rows for ({', '.join(keys)}): {format_values(pairs)}. Each "
            "lesion may appear once per timepoint; give distinct lesion ids or add a "
            "timepoint column.", file=file, column=keys[1], ids=pairs)


# ------------------------------------------------------------------ joins (#6/#7)
def find_orphan_lesions(lesions: pd.DataFrame, patient_ids: pd.Index, *,
                        column: str) -> np.ndarray:
    """Boolean mask of lesion rows whose patient is not in ``patient_ids`` (#6)."""
    return ~lesions[column].isin(patient_ids).to_numpy()


def warn_patients_without_lesions(patient_ids: pd.Index, lesion_patients: pd.Series, *,
                                  file: str) -> list[str]:
    """Warn (:class:`DataWarning`) about patients with no lesion row (docs/reliability.md #7).

    Returns the ids (empty list when every patient has a lesion).
    """
    none = [str(p) for p in patient_ids[~patient_ids.isin(lesion_patients)]]
    if none:
        warnings.warn(
            f"[{file}] {len(none)} patient(s) have no lesion rows: {format_values(none)}. "
            "They are kept; each lesion strategy reports how it treats them (burden "
            "features are 0, lesion statistics are not defined and raise).",
            DataWarning, stacklevel=_stack())
    return none


# ----------------------------------------------------------- values (#17-#19, volume)
def _ids_at(ids: Sequence[Any], mask: np.ndarray) -> list:
    arr = np.empty(len(ids), dtype=object)
    arr[:] = list(ids)
    return list(arr[np.flatnonzero(mask)])


def _to_numeric(col: pd.Series, *, file: str, ids: Sequence[Any]) -> pd.Series:
    """Numeric view of a column; non-numeric cells are an error (#17)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = col.notna().to_numpy()
        numeric = pd.to_numeric(col.astype(object).where(present, np.nan), errors="coerce")
        bad = present & numeric.isna().to_numpy()
        # numeric-looking categories (1, 2, 3) are still categories: then every filled row
        rows = bad if bad.any() else present
        raise SchemaError(
            f"is categorical ({list(col.cat.categories)[:10]}); features must be numeric. "
            "Encoding is only done on request: encode it (e.g. pandas.get_dummies) before "
            "reading.", file=file, column=str(col.name), ids=_ids_at(ids, rows))
    if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
        return col.astype(float)
    text = col.map(lambda v: v.strip() if isinstance(v, str) else v)
    present = ~text.map(lambda v: v is None or (isinstance(v, str) and v in _NA_SET)
                        or (not isinstance(v, str) and pd.isna(v))).to_numpy(dtype=bool)
    num = pd.to_numeric(text.where(present, np.nan), errors="coerce")
    bad = present & num.isna().to_numpy()
    if bad.any():
        shown = list(dict.fromkeys(col[bad].astype(str)))
        raise SchemaError(
            f"non-numeric values {format_values(shown)} in a numeric column. Clean the "
            "cells (a qualifier such as '<0.5' or a unit is not a number; a decimal comma "
            "must be a point); text columns must be encoded before reading.",
            file=file, column=str(col.name), ids=_ids_at(ids, bad),
            values=list(col[bad]))
    return num.astype(float)


def check_feature_values(df: pd.DataFrame, columns: Sequence[str], *, file: str,
                         ids: Sequence[Any], missing_ok: np.ndarray | None = None,
                         allow_missing: bool = False) -> pd.DataFrame:
    """Numeric, complete and finite feature columns (docs/reliability.md #17-#19).

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    columns : sequence of str
        Feature columns to check.
    file : str
        File path or table name used in messages.
    ids : sequence
        Row ids (patient ids, or (patient_id, lesion_id) pairs) aligned with ``df`` rows.
    missing_ok : numpy.ndarray of bool, optional
        Rows whose cells may be missing (kept NaN): vanished lesions, which have nothing
        left to measure (:func:`survrad.data.scans.vanished_rows`).
    allow_missing : bool, default False
        Keep missing values as NaN instead of raising (``read_cohort(missing="impute")``:
        a pipeline step fills them later).

    Returns
    -------
    pandas.DataFrame
        ``df[columns]`` as float64 (same index).

    Raises
    ------
    SchemaError
        Non-numeric cells (column, sample values, ids); missing values (columns with
        counts, ids); infinite values. Nothing is imputed.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [61, 70]})
    >>> check_feature_values(df, ["age"], file="patients", ids=["P1", "P2"]).dtypes.tolist()
    [dtype('float64')]
    """
    out = pd.DataFrame({c: _to_numeric(df[c], file=file, ids=ids) for c in columns},
                       index=df.index)
    values = out.to_numpy(dtype=float)
    nan = np.isnan(values)
    if missing_ok is not None:
        nan &= ~np.asarray(missing_ok, dtype=bool)[:, None]
    if not allow_missing:
        _raise_cells(out, nan, file=file, ids=ids, problem="missing values (NaN)",
                     advice="Fill them in or drop the column, or read with "
                            f"{spell('missing')}'complete_case' or 'impute' (an imputation "
                            "step in the pipeline); survrad never imputes silently.")
    _raise_cells(out, np.isinf(values), file=file, ids=ids, problem="infinite values",
                 advice="Replace them by finite numbers (check divisions by zero).")
    return out


def _raise_cells(out: pd.DataFrame, mask: np.ndarray, *, file: str, ids: Sequence[Any],
                 problem: str, advice: str) -> None:
    if not mask.any():
        return
    per_col = mask.sum(axis=0)
    cols = [c for c, n in zip(out.columns, per_col, strict=True) if n]
    listed = ", ".join(f"{c!r}: {int(n)}" for c, n in zip(out.columns, per_col, strict=True) if n)
    rows = mask.any(axis=1)
    raise SchemaError(f"{problem} in feature columns {{{listed}}}. {advice}",
                      file=file, column=str(cols[0]), ids=_ids_at(ids, rows),
                      values=cols)


def check_positive(df: pd.DataFrame, column: str, *, file: str, ids: Sequence[Any],
                   allow_zero: bool = False, allow_missing: bool = False) -> pd.Series:
    """A numeric column that must be > 0 (or >= 0), e.g. ``volume_ml``.

    Returns the column as float64; raises :class:`SchemaError` with the offending ids
    and values otherwise.

    Examples
    --------
    >>> import pandas as pd
    >>> check_positive(pd.DataFrame({"v": [1.5]}), "v", file="lesions", ids=["L1"]).tolist()
    [1.5]
    """
    num = _to_numeric(df[column], file=file, ids=ids)
    v = num.to_numpy(dtype=float)
    missing = np.isnan(v)
    if missing.any() and not allow_missing:
        raise SchemaError("missing values; fill them in (the column is used as a weight "
                          "or size).", file=file, column=column, ids=_ids_at(ids, missing))
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(v) & ~missing | ((v < 0) if allow_zero else (v <= 0))
    if bad.any():
        bound = ">= 0" if allow_zero else "> 0"
        raise SchemaError(f"values must be finite and {bound}.", file=file, column=column,
                          ids=_ids_at(ids, bad), values=list(v[bad]))
    return num


def check_binary_column(df: pd.DataFrame, column: str, *, file: str,
                        ids: Sequence[Any]) -> pd.Series:
    """A 0/1 column (booleans and 0.0/1.0 accepted; one class allowed); returns int.

    Examples
    --------
    >>> import pandas as pd
    >>> check_binary_column(pd.DataFrame({"irradiated": [True, 0]}), "irradiated",
    ...                     file="lesions", ids=["L1", "L2"]).tolist()
    [1, 0]
    """
    raw = df[column]
    ok = raw.map(lambda v: isinstance(v, bool | np.bool_ | int | float | np.integer
                                      | np.floating) and float(v) in (0.0, 1.0))
    ok = ok.to_numpy(dtype=bool)
    if not ok.all():
        counts = raw[~ok].astype(str).value_counts()
        listed = ", ".join(f"{k}: {v}" for k, v in counts.items())
        raise SchemaError(f"must be coded 0/1 (no missing values); found {{{listed}}}.",
                          file=file, column=column, ids=_ids_at(ids, ~ok),
                          values=list(raw[~ok]))
    return raw.astype(float).astype(int)


# --------------------------------------------------------------------- size (#25)
def check_min_patients(n: int, *, file: str, minimum: int = MIN_PATIENTS) -> None:
    """Raise if the cohort has fewer than ``minimum`` patients (docs/reliability.md #25).

    Examples
    --------
    >>> check_min_patients(25, file="patients")
    """
    if n < minimum:
        raise SchemaError(
            f"only {n} patient(s); at least {minimum} are needed for survival modelling "
            "and validation (survrad.data.schema.MIN_PATIENTS).", file=file)

"""Read patient and lesion tables into a validated :class:`~survrad.data.cohort.Cohort`.

Layer 1. Every check of docs/reliability.md #1-#19 and #25 (data part) runs here, before any
modelling library sees the data. Nothing is dropped or filled unless asked
(``drop_missing_time``, ``exclude_orphan_lesions``), and then every excluded row is listed
in ``Cohort.excluded`` with its reason.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from survrad._spelling import spell
from survrad._validation import close_matches
from survrad.data import scans, schema
from survrad.data.cohort import Cohort, ColumnNames, Endpoint
from survrad.data.missing import MissingHandler
from survrad.data.outcome import check_binary, check_event, check_time, event_sufficiency
from survrad.data.split import SPLIT_VALUES, check_split_values
from survrad.exceptions import (
    ConfigError,
    DataWarning,
    SchemaError,
    SurvradWarning,
    format_values,
)

__all__ = ["LESION_ROLES", "candidate_lesion_features", "read_cohort", "read_columns",
           "read_table"]

Source = str | Path | pd.DataFrame

#: Default endpoints: name -> survival (time, event) columns or a binary target column.
DEFAULT_ENDPOINTS: dict[str, tuple[str, str] | str] = {
    "os": ("os_time", "os_event"),
    "pfs": ("pfs_time", "pfs_event"),
    "response": "objective_response",
}
#: Patient columns that are outcomes and may never be predictors.
OUTCOME_COLUMNS = ("best_response",)
#: Column roles (fields of :class:`ColumnNames`) that belong to the patient table; every
#: other role belongs to the lesion table.
PATIENT_ROLES = ("patient_id", "center", "split")
#: Lesion column roles that are not radiomic features (docs/data.md: ids, timepoint,
#: organ, volume, diameters, target flag, irradiation, dose, lesion outcomes; scan date and
#: time, nodal short axis of a longitudinal table, :mod:`survrad.data.scans`). A feature
#: glob never matches them; an exact name may still select a size or dose column.
LESION_ROLES = ("patient_id", "lesion_id", "timepoint", "organ", "volume", "diameter",
                "diameter_followup", "lesion_response", "is_target", "irradiated", "rt_dose",
                "scan_date", "scan_time", "short_axis")
_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_PARQUET = (".parquet", ".pq")
_CANDIDATE_SEPS = (",", ";", "\t", "|")
_EXCLUDED_COLUMNS = ["table", "id", "reason"]


# =============================================================== reading one table
def read_table(source: Source, *, name: str = "table", id_columns: Sequence[str] = (),
               sep: str | None = None) -> pd.DataFrame:
    """Read one table (CSV, TSV, Parquet or a DataFrame) with the file-level checks.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        ``.csv`` (comma), ``.tsv``/``.tab`` (tab), ``.parquet``/``.pq``, or a DataFrame
        (copied, never modified). In a DataFrame or a Parquet file, an index named like
        an id column (``cohort.patients``, indexed by ``patient_id``) is used as that
        column.
    name : str
        Name used in messages when ``source`` is a DataFrame ("patients", "lesions").
    id_columns : sequence of str
        Id columns: required, read as text (``"007"`` stays ``"007"``), validated by
        :func:`survrad.data.schema.clean_ids` (missing ids are an error with their file
        line numbers; surrounding whitespace is stripped with a DataWarning).
    sep : str, optional
        Field delimiter of a text file; by default from the extension.

    Returns
    -------
    pandas.DataFrame
        RangeIndex; ids as ``str``; other columns as parsed by pandas (numbers as
        numbers; a column with any non-numeric text stays text so that the raw cells can
        be shown in messages). In other columns the cells ``""``, ``"NA"``, ``"NaN"``,
        ``"null"``, ... (:data:`survrad.data.schema.NA_TOKENS`) are missing values.

    Raises
    ------
    SchemaError
        Missing or empty file, zero data rows, a single column (wrong delimiter, with the
        likely delimiter), rows with a wrong number of fields, duplicate column names,
        missing id columns, missing ids (docs/reliability.md #1-#3).

    Notes
    -----
    File line numbers count the header as line 1, so the first data row is line 2.
    Blank lines are not data and are skipped (their numbers still count).

    Examples
    --------
    >>> import io, pandas as pd
    >>> df = read_table(pd.DataFrame({"patient_id": [7, 8], "age": [60, 71]}),
    ...                 id_columns=["patient_id"])
    >>> df["patient_id"].tolist()
    ['7', '8']
    """
    if isinstance(source, pd.DataFrame):
        frame = _index_as_column(source.copy(), id_columns)
        return _read_frame(frame, label=name, id_columns=id_columns, lines=None)
    if not isinstance(source, str | Path):
        raise TypeError(f"{name} must be a file path or a pandas DataFrame, "
                        f"got {type(source).__name__}.")
    path = Path(source)
    label = str(source)
    _check_file(path, label)
    suffix = path.suffix.lower()
    if suffix in _PARQUET:
        frame = _index_as_column(_read_parquet(path, label), id_columns)
        return _read_frame(frame, label=label, id_columns=id_columns, lines=None)
    if sep is None and suffix not in _SEPARATORS:
        raise SchemaError(
            f"unsupported file type {suffix!r}; use .csv, .tsv, .parquet (or .pq), or pass "
            "a DataFrame.", file=label)
    frame, lines = _read_text(path, label, sep or _SEPARATORS[suffix], id_columns)
    return _read_frame(frame, label=label, id_columns=id_columns, lines=lines)


def read_columns(source: Source, *, sep: str | None = None) -> list[str]:
    """Column names of a table, reading only its header (or a Parquet file's schema).

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        As for :func:`read_table`.
    sep : str, optional
        Field delimiter of a text file; by default from the extension.

    Returns
    -------
    list of str
        The names in file order; a named index (DataFrame or Parquet) comes first, as
        :func:`read_table` turns it into a column.

    Raises
    ------
    SchemaError
        Missing or empty file, unsupported file type, unreadable Parquet, text that is
        not UTF-8 (the same messages as :func:`read_table`).

    Examples
    --------
    >>> import pandas as pd
    >>> read_columns(pd.DataFrame({"patient_id": ["P1"], "rad_a": [1.0]}))
    ['patient_id', 'rad_a']
    """
    if isinstance(source, pd.DataFrame):
        index = source.index.name
        named = [str(index)] if index is not None and index not in source.columns else []
        return named + [str(c) for c in source.columns]
    if not isinstance(source, str | Path):
        raise TypeError(f"a table must be a file path or a pandas DataFrame, got "
                        f"{type(source).__name__}.")
    path, label = Path(source), str(source)
    _check_file(path, label)
    suffix = path.suffix.lower()
    if suffix in _PARQUET:
        import pyarrow.parquet as pq

        try:
            pa_schema = pq.read_schema(path)
        except Exception as exc:  # pyarrow raises several unrelated types
            raise SchemaError(f"cannot read the Parquet file: {exc}", file=label) from exc
        meta = pa_schema.pandas_metadata or {}
        index = [c for c in meta.get("index_columns", []) if isinstance(c, str)]
        names = [n for n in index if not n.startswith("__index_level_")]
        return names + [n for n in pa_schema.names if n not in index]
    if sep is None and suffix not in _SEPARATORS:
        raise SchemaError(
            f"unsupported file type {suffix!r}; use .csv, .tsv, .parquet (or .pq), or pass "
            "a DataFrame.", file=label)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next((r for r in csv.reader(fh, delimiter=sep or _SEPARATORS[suffix])
                           if r), [])
    except UnicodeDecodeError as exc:
        raise SchemaError(f"not valid UTF-8 text ({exc.reason} at byte {exc.start}); "
                          "re-save the file as UTF-8.", file=label) from exc
    return header


def candidate_lesion_features(source: Source, *, columns: Mapping[str, str] | ColumnNames
                              | None = None, sep: str | None = None) -> list[str]:
    """Every lesion column that is not a role column (:data:`LESION_ROLES`).

    docs/data.md: a lesion table holds ids, organ, volume, diameters, irradiation,
    dose, lesion outcomes and radiomic features, so whatever is not a role is a feature.
    ``survrad check`` validates these when no ``--lesion-features`` are named, so that a
    stray ``"<0.5"`` cell is never left unchecked.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        The lesion table (only its header is read).
    columns : mapping or ColumnNames, optional
        Names of the special columns, as for :func:`read_cohort`.
    sep : str, optional
        Field delimiter of a text file.

    Returns
    -------
    list of str
        In table order.

    Examples
    --------
    >>> import pandas as pd
    >>> les = pd.DataFrame({"patient_id": ["P1"], "lesion_id": ["L1"], "organ": ["lung"],
    ...                     "volume_ml": [2.0], "rad_a": [0.1], "glcm_b": [3.0]})
    >>> candidate_lesion_features(les)
    ['rad_a', 'glcm_b']
    """
    roles = _lesion_role_columns(_column_names(columns)[0])
    return [c for c in read_columns(source, sep=sep) if c not in roles]


def _lesion_role_columns(cols: ColumnNames) -> set[str]:
    return {getattr(cols, role) for role in LESION_ROLES}


def _index_as_column(frame: pd.DataFrame, id_columns: Sequence[str]) -> pd.DataFrame:
    """An index named like an id column becomes that column.

    ``cohort.patients`` is indexed by ``patient_id``; written with
    ``to_parquet(path)`` (index kept) or passed as a DataFrame, it reads back as is.
    """
    if frame.index.name in id_columns and frame.index.name not in frame.columns:
        return frame.reset_index()
    return frame


def _check_file(path: Path, label: str) -> None:
    if not path.is_file():
        raise SchemaError("file not found (or not a regular file); check the path, relative "
                          f"paths are relative to {Path.cwd()}.", file=label)
    if path.stat().st_size == 0:
        raise SchemaError("file is empty (0 bytes, detected shape (0, 0)).", file=label)


def _read_parquet(path: Path, label: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types
        raise SchemaError(f"cannot read the Parquet file: {exc}", file=label) from exc


def _read_text(path: Path, label: str, sep: str,
               id_columns: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Parse a delimited text file; return the frame and each row's file line number."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SchemaError(f"not valid UTF-8 text ({exc.reason} at byte {exc.start}); "
                          "re-save the file as UTF-8.", file=label) from exc
    header, lines = _scan_records(text, sep, label)
    schema.check_no_duplicate_columns(header, file=label)
    ids = [c for c in id_columns if c in header]
    na = {c: list(schema.NA_TOKENS) for c in header if c not in ids}
    frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=dict.fromkeys(ids, str),
                        keep_default_na=False, na_values=na, low_memory=False)
    if len(frame) != len(lines):  # the csv module and pandas disagree: never guess
        raise SchemaError(f"ambiguous quoting: {len(lines)} records found but pandas read "
                          f"{len(frame)} rows; check the quote characters.", file=label)
    return frame, lines


def _scan_records(text: str, sep: str, label: str) -> tuple[list[str], np.ndarray]:
    """Header and the file line number of every data record; checks field counts (#2)."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    records: list[tuple[int, int]] = []  # (first line, number of fields)
    header: list[str] | None = None
    start = 1
    for record in reader:
        if record and header is None:
            header = record
        elif record:
            records.append((start, len(record)))
        start = reader.line_num + 1
    if header is None:
        raise SchemaError("file has no header and no rows (detected shape (0, 0)).",
                          file=label)
    _check_header(header, text, sep, label, len(records))
    bad = [(n, k) for n, k in records if k != len(header)]
    if bad:
        shown = ", ".join(f"line {n}: {k} fields" for n, k in bad[:10])
        raise SchemaError(
            f"{len(bad)} row(s) do not have the {len(header)} fields of the header ({shown}). "
            "Check for unquoted delimiters inside values (e.g. a decimal comma).", file=label)
    if not records:
        raise SchemaError(f"no data rows: only a header (detected shape (0, {len(header)})).",
                          file=label)
    return header, np.asarray([n for n, _ in records], dtype=int)


def _check_header(header: list[str], text: str, sep: str, label: str, n_rows: int) -> None:
    if len(header) > 1:
        return
    first = text.lstrip("\r\n").splitlines()[0]
    counts = {s: first.count(s) for s in _CANDIDATE_SEPS if s != sep}
    best = max(counts, key=lambda s: counts[s])
    shape = f"detected shape ({n_rows}, 1) with the column {header[0][:60]!r}"
    if counts[best]:
        raise SchemaError(
            f"everything was parsed into one column ({shape}): the delimiter looks like "
            f"{best!r}, not {sep!r}. Re-save the file with {sep!r} as delimiter, or read it "
            f"with survrad.data.io.read_table(path, sep={best!r}) and pass the DataFrame.",
            file=label)
    raise SchemaError(f"only one column ({shape}); a table needs at least an id column and "
                      "one more column.", file=label)


def _read_frame(frame: pd.DataFrame, *, label: str, id_columns: Sequence[str],
                lines: np.ndarray | None) -> pd.DataFrame:
    """Checks shared by every source: duplicate names, shape, id columns (#1-#3)."""
    schema.check_no_duplicate_columns(list(frame.columns), file=label)
    if frame.shape[0] == 0:
        raise SchemaError(f"no data rows (detected shape {frame.shape}).", file=label)
    if frame.shape[1] < 2:
        raise SchemaError(f"only one column (detected shape {frame.shape}); a table needs at "
                          "least an id column and one more column.", file=label)
    schema.check_columns(frame, id_columns, file=label, what="id column",
                         hint="Rename it, or map the names with read_cohort(columns="
                              "{'patient_id': 'your_name'}).")
    frame = frame.reset_index(drop=True)
    row_label = ("file lines (line 1 is the header)" if lines is not None
                 else "row positions (0-based)")
    for col in id_columns:
        frame[col] = schema.clean_ids(frame[col], file=label, column=col, rows=lines,
                                      row_label=row_label)
    return frame


# ====================================================================== the cohort
def read_cohort(
    patients: Source,
    lesions: Source | None = None,
    *,
    patient_features: Sequence[str] | None = None,
    lesion_features: Sequence[str] | None = None,
    endpoints: Mapping[str, Any] | None = None,
    columns: Mapping[str, str] | ColumnNames | None = None,
    event_map: Mapping[Any, Any] | None = None,
    drop_missing_time: bool = False,
    exclude_orphan_lesions: bool = False,
    strict: bool = False,
    scan_time_unit: str = "days",
    missing: str = "error",
    split_values: Sequence[str] | None = SPLIT_VALUES,
) -> Cohort:
    """Read and validate a patient table (and optional lesion table) into a Cohort.

    Parameters
    ----------
    patients : str, pathlib.Path or pandas.DataFrame
        One row per patient (``.csv``, ``.tsv``, ``.parquet``/``.pq`` or a DataFrame).
    lesions : str, pathlib.Path or pandas.DataFrame, optional
        One row per lesion (and timepoint). ``None`` for a patient-only study. A
        longitudinal table has any number of ordered timepoints and optional
        ``scan_date`` / ``scan_time`` and ``short_axis_mm`` columns; its contract (new
        lesions, vanished lesions recorded as 0 mm or left out) is written out in
        :mod:`survrad.data.scans`.
    patient_features, lesion_features : sequence of str, optional
        Predictor columns: exact names or ``fnmatch`` globs (``"rad_*"``). A patient glob
        never matches the id, ``center``, ``split``, ``best_response``, a column of any
        default endpoint (``os_time``, ``os_event``, ``pfs_time``, ``pfs_event``,
        ``objective_response``, whether or not it is analysed) or a column named by an
        endpoint. A lesion glob never matches a role column (:data:`LESION_ROLES`: ids,
        timepoint, organ, volume, diameters, target flag, irradiation, dose, lesion
        outcomes). An exact name may select a column a glob skips (``pfs_time`` when only
        ``os`` is analysed, ``volume_ml``), except the ids, ``best_response``, the
        outcomes of the chosen endpoints, the timepoint and the lesion outcomes.
        Default: none.
    endpoints : mapping, optional
        ``{name: (time, event)}`` for survival, ``{name: column}`` for a binary outcome,
        or ``{name: Endpoint}``. Default: ``os`` = (os_time, os_event), ``pfs`` =
        (pfs_time, pfs_event), ``response`` = objective_response, for those present.
    columns : mapping or ColumnNames, optional
        Names of the special columns, e.g. ``{"patient_id": "id"}``. A role mapped
        explicitly (a key of the mapping, or a field of ColumnNames that differs from its
        default) must name an existing column of its table (``center`` and ``split``: the
        patient table; the lesion roles: the lesion table, when one is given), except
        ``scan_time`` when the lesion table has scan dates (the column is then created).
    event_map : mapping, optional
        Explicit recoding of event codes, e.g. ``{1: 0, 2: 1}`` or ``{"dead": 1,
        "alive": 0}``; or ``{endpoint: mapping}`` per endpoint. Never guessed.
    drop_missing_time : bool, default False
        Exclude patients whose survival time is missing (and their lesions), listing them
        in ``Cohort.excluded``; by default a missing time is an error.
    exclude_orphan_lesions : bool, default False
        Exclude lesions whose patient is not in the patient table, listing them in
        ``Cohort.excluded``; by default they are an error.
    strict : bool, default False
        Turn survrad warnings raised while reading into :class:`SchemaError`.
    scan_time_unit : {"days", "weeks", "months", "years"}, default "days"
        Unit of the ``scan_time`` column derived from ``scan_date`` when the lesion table
        has dates but no scan times: the time from each patient's baseline scan (its
        scan at the first timepoint) in days, weeks (7 days), months (30.4375 days, a
        twelfth of 365.25) or years (365.25 days). Given scan times are kept as they are.
    missing : {"error", "complete_case", "impute"}, default "error"
        Missing values in the selected feature columns (:mod:`survrad.data.missing`):
        an error naming columns and ids; exclude incomplete patients and lesion rows
        (listed in ``Cohort.excluded`` with the missing columns); or keep them as NaN
        for an imputation step of the pipeline (``survrad.features.Imputer`` for patient
        columns, ``survrad.lesions.ImputeLesions`` for lesion columns, both fitted on the
        training rows of every resample). ``Cohort.missing_data`` records the amount and
        pattern of missingness as read. A column missing in every row is an error.
    split_values : sequence of str or None, default ("train", "test", "external")
        The values the ``split`` column (:attr:`ColumnNames.split`) may hold when the
        patient table has it: a missing value or any other value is a SchemaError naming
        the column, the ids and the values (:func:`survrad.data.split.check_split_values`).
        Name your own values here (a study names them as its train and test values);
        ``None`` does not check the column (data to score with a saved model).

    Returns
    -------
    Cohort
        Patients indexed by ``patient_id`` (text); event and binary outcome columns as
        0/1 integers, times as floats, selected features as floats; ``scan_date`` as
        ``datetime64[ns]`` and ``scan_time`` as float; ``source`` records where each
        table came from.

    Raises
    ------
    SchemaError
        Any case of docs/reliability.md #1-#19 and #25, naming the file, column, ids and
        values; a mapped column role whose column is missing (with the available
        columns and close matches). Longitudinal tables (:mod:`survrad.data.scans`):
        scan dates that do not parse (raw strings shown), a scan without a date or time
        when others have one, two dates (times) for one (patient, timepoint), dates
        (times) out of order with the timepoints, a lesion twice at one timepoint,
        negative diameters or short axes, a short axis longer than the longest
        diameter, a vanished row (0 mm after baseline) with a volume.

    Warns
    -----
    DataWarning
        Ids changed by stripping whitespace, survival time 0, patients without lesions,
        lesions missing at a scan between two scans where they are recorded.
    StatisticalWarning
        Fewer than 10 events, or fewer than 10 events per patient predictor. Only the
        patient predictors are counted: lesion features are not columns of the patient
        design until a lesion strategy aggregates them (and feature selection may drop
        many), so each model checks the events per variable of its own design matrix
        when it is fitted.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"patient_id": [f"P{i:02d}" for i in range(20)],
    ...                    "os_time": [float(t) for t in range(1, 21)],
    ...                    "os_event": [1, 0] * 10, "age": range(50, 70)})
    >>> cohort = read_cohort(df, patient_features=["age"])
    >>> int(cohort.y("os")["event"].sum()), cohort.patient_ids[0]
    (10, 'P00')
    """
    args = dict(patient_features=patient_features, lesion_features=lesion_features,
                endpoints=endpoints, columns=columns, event_map=event_map,
                drop_missing_time=drop_missing_time,
                exclude_orphan_lesions=exclude_orphan_lesions, scan_time_unit=scan_time_unit,
                missing=missing, split_values=split_values)
    if not strict:
        return _read_cohort(patients, lesions, **args)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SurvradWarning)
        try:
            return _read_cohort(patients, lesions, **args)
        except SurvradWarning as w:
            raise SchemaError(f"strict mode: {w} ({type(w).__name__} turned into an "
                              f"error by {spell('strict')}).") from w


@dataclasses.dataclass
class _Reading:
    """State threaded through the steps of :func:`read_cohort`."""

    cols: ColumnNames
    plabel: str
    llabel: str
    excluded: list[dict[str, str]] = dataclasses.field(default_factory=list)
    scan_time_unit: str = "days"


def _read_cohort(patients: Source, lesions: Source | None, *, patient_features, lesion_features,
                 endpoints, columns, event_map, drop_missing_time,
                 exclude_orphan_lesions, scan_time_unit, missing, split_values) -> Cohort:
    handler = MissingHandler(missing)
    cols, mapped = _column_names(columns)
    st = _Reading(cols, _label(patients, "patients"), _label(lesions, "lesions"),
                  scan_time_unit=scans.check_time_unit(scan_time_unit))
    pid, lid = cols.patient_id, cols.lesion_id
    ptab = read_table(patients, name="patients", id_columns=[pid])
    ltab = (read_table(lesions, name="lesions", id_columns=[pid, lid])
            if lesions is not None else None)
    _check_mapped_roles(mapped, ptab, ltab, st)
    if split_values is not None and cols.split in ptab.columns:
        check_split_values(ptab, cols.split, split_values, id_column=pid, file=st.plabel)
    eps = _resolve_endpoints(endpoints, ptab, st.plabel)
    pfeat = _select_patient_features(ptab, patient_features, eps, st)
    lfeat = _select_lesion_features(ltab, lesion_features, st) if ltab is not None else []
    if lesion_features and ltab is None:
        raise SchemaError(f"lesion_features given but no lesion table; give {spell('lesions')}",
                          file=st.plabel)
    schema.check_unique_patients(ptab[pid], file=st.plabel, column=pid)
    if drop_missing_time:
        ptab = _drop_missing_time(ptab, eps, st)
    ptab = handler.patients(ptab, pfeat, file=st.plabel, id_column=pid, excluded=st.excluded)
    schema.check_min_patients(len(ptab), file=st.plabel)
    # events per variable: patient predictors only; lesion features are aggregated and
    # selected inside the pipeline, and each model checks EPV of its own design matrix
    ptab = _validate_endpoints(ptab, eps, event_map, len(pfeat), st)
    if pfeat:
        ptab[pfeat] = schema.check_feature_values(ptab, pfeat, file=st.plabel,
                                                  ids=list(ptab[pid]),
                                                  allow_missing=handler.allow_missing)
    if ltab is not None:
        ltab = handler.lesions(ltab, lfeat, file=st.llabel, keys=_lesion_keys(ltab, cols),
                               patient_ids=pd.Index(ptab[pid]), excluded=st.excluded)
        ltab = _validate_lesions(ltab, ptab, lfeat, exclude_orphan_lesions, st,
                                 allow_missing=handler.allow_missing)
    source = {"patients": _source(patients)}
    if lesions is not None:
        source["lesions"] = _source(lesions)
    return Cohort(patients=ptab.set_index(pid), lesions=ltab,
                  patient_features=tuple(pfeat), lesion_features=tuple(lfeat),
                  endpoints=eps, columns=cols, source=source,
                  excluded=pd.DataFrame(st.excluded, columns=_EXCLUDED_COLUMNS),
                  missing_data=handler.result())


def _label(source: Source | None, name: str) -> str:
    return str(source) if isinstance(source, str | Path) else name


def _source(source: Source) -> str:
    return str(source) if isinstance(source, str | Path) else "<DataFrame>"


def _column_names(columns: Mapping[str, str] | ColumnNames | None,
                  ) -> tuple[ColumnNames, dict[str, str]]:
    """The column names and the roles mapped explicitly (role -> column)."""
    if columns is None:
        return ColumnNames(), {}
    default = ColumnNames()
    if isinstance(columns, ColumnNames):
        mapped = {f.name: getattr(columns, f.name) for f in dataclasses.fields(ColumnNames)
                  if getattr(columns, f.name) != getattr(default, f.name)}
        return columns, mapped
    fields = [f.name for f in dataclasses.fields(ColumnNames)]
    for key in columns:
        if key not in fields:
            hint = close_matches(str(key), fields)
            did = f" Did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"unknown column role {key!r}; roles: {fields}.{did}",
                              key=f"columns.{key}")
    return dataclasses.replace(default, **dict(columns)), dict(columns)


def _check_mapped_roles(mapped: Mapping[str, str], ptab: pd.DataFrame,
                        ltab: pd.DataFrame | None, st: _Reading) -> None:
    """A role mapped explicitly must name an existing column (docs/reliability.md #1)."""
    for role, name in mapped.items():
        if role in ("patient_id", "lesion_id"):
            continue  # id columns: required, already checked by read_table
        if role == "scan_time" and ltab is not None and st.cols.scan_date in ltab.columns:
            continue  # derived from the dates when absent
        table, label = (ptab, st.plabel) if role in PATIENT_ROLES else (ltab, st.llabel)
        if table is None:
            continue  # a lesion role without a lesion table: nothing to look up
        schema.check_columns(table, [name], file=label, what=f"role {role!r}: column",
                             hint=f"Fix the name in columns={{{role!r}: ...}} or remove "
                                  "the mapping.")


# ------------------------------------------------------------------------ endpoints
def _resolve_endpoints(endpoints: Mapping[str, Any] | None, ptab: pd.DataFrame,
                       label: str) -> dict[str, Endpoint]:
    if endpoints is None:
        _check_default_near_misses(ptab, label)
        spec = {k: v for k, v in DEFAULT_ENDPOINTS.items() if _present(v, ptab)}
        _check_half_pairs(ptab, label)
        if not spec:
            raise SchemaError(
                "no endpoint found: expected os_time/os_event, pfs_time/pfs_event or "
                f"objective_response. Available columns: {list(ptab.columns)[:20]}. Name "
                f"them with {spell('endpoints')}.", file=label)
    else:
        spec = dict(endpoints)
    eps = {name: _endpoint(name, value) for name, value in spec.items()}
    for ep in eps.values():
        schema.check_columns(ptab, ep.columns, file=label, what=f"endpoint {ep.name!r} column")
    return eps


def _check_default_near_misses(ptab: pd.DataFrame, label: str) -> None:
    """``OS_TIME`` is not ``os_time``: say so instead of finding no endpoint or ignoring it."""
    for value in DEFAULT_ENDPOINTS.values():
        for name in (value,) if isinstance(value, str) else value:
            near = schema.near_misses(name, ptab.columns) if name not in ptab.columns else []
            if near:
                raise SchemaError(
                    f"column {near[0]!r} differs from the default endpoint column {name!r} "
                    "only in case or spaces; column names are matched exactly. Rename it "
                    f"to {name!r}, or name the endpoint's columns: {spell('endpoints')}.",
                    file=label, column=near[0])


def _present(value: tuple[str, str] | str, ptab: pd.DataFrame) -> bool:
    names = (value,) if isinstance(value, str) else value
    return all(n in ptab.columns for n in names)


def _check_half_pairs(ptab: pd.DataFrame, label: str) -> None:
    for time, event in (v for v in DEFAULT_ENDPOINTS.values() if isinstance(v, tuple)):
        if (time in ptab.columns) != (event in ptab.columns):
            have, lack = (time, event) if time in ptab.columns else (event, time)
            raise SchemaError(
                f"{have!r} is present but {lack!r} is not; a survival endpoint needs both. "
                f"Name the columns with {spell('endpoints')}.", file=label, column=lack)


def _endpoint(name: str, value: Any) -> Endpoint:
    if isinstance(value, Endpoint):
        return value if value.name == name else dataclasses.replace(value, name=name)
    if isinstance(value, str):
        return Endpoint(name, "binary", target=value)
    if isinstance(value, tuple | list) and len(value) == 2 and all(
            isinstance(v, str) for v in value):
        return Endpoint(name, "survival", time=value[0], event=value[1])
    raise ConfigError(
        f"endpoint {name!r} must be (time_column, event_column) for survival, a column "
        f"name for a binary outcome, or an Endpoint; got {value!r}.", key=f"endpoints.{name}")


def _event_map_for(event_map: Mapping[Any, Any] | None, name: str,
                   eps: Mapping[str, Endpoint]) -> Mapping[Any, Any] | None:
    """One map for every survival endpoint, or ``{endpoint: map}`` per endpoint."""
    if event_map and all(k in eps and isinstance(v, Mapping) for k, v in event_map.items()):
        return event_map.get(name)
    return event_map


def _drop_missing_time(ptab: pd.DataFrame, eps: Mapping[str, Endpoint],
                       st: _Reading) -> pd.DataFrame:
    pid = st.cols.patient_id
    keep = np.ones(len(ptab), dtype=bool)
    for ep in eps.values():
        if ep.kind != "survival":
            continue
        miss = ptab[ep.time].isna().to_numpy() & keep
        st.excluded += [{"table": "patients", "id": p,
                         "reason": f"missing {ep.time} (drop_missing_time=True)"}
                        for p in ptab.loc[miss, pid]]
        keep &= ~miss
    return ptab.loc[keep].reset_index(drop=True)


def _validate_endpoints(ptab: pd.DataFrame, eps: Mapping[str, Endpoint],
                        event_map: Mapping[Any, Any] | None, n_features: int,
                        st: _Reading) -> pd.DataFrame:
    ptab = ptab.copy()
    ids = list(ptab[st.cols.patient_id])
    for name, ep in eps.items():
        if ep.kind == "binary":
            ptab[ep.target] = check_binary(ptab[ep.target], ids=ids, column=ep.target,
                                           file=st.plabel)
            continue
        time = check_time(ptab[ep.time], ids=ids, column=ep.time, file=st.plabel)
        event = check_event(ptab[ep.event], ids=ids, column=ep.event, file=st.plabel,
                            event_map=_event_map_for(event_map, name, eps))
        _warn_zero_time(time, ids, ep.time, st.plabel)
        event_sufficiency(time, event, n_features=n_features, column=ep.event,
                          file=st.plabel)
        ptab[ep.time] = time
        ptab[ep.event] = event.astype(int)
    return ptab


def _warn_zero_time(time: np.ndarray, ids: list, column: str, label: str) -> None:
    zero = time == 0
    if zero.any():
        shown = [ids[i] for i in np.flatnonzero(zero)]
        warnings.warn(
            f"[{label}] column {column!r}: survival time is 0 for "
            f"{format_values(shown)}; allowed, but check these are not data-entry "
            "errors.", DataWarning, stacklevel=schema._stack())


# ------------------------------------------------------------------------- features
def _select_patient_features(ptab: pd.DataFrame, patterns: Sequence[str] | None,
                             eps: Mapping[str, Endpoint], st: _Reading) -> list[str]:
    pid = st.cols.patient_id
    outcome = {c: f"it is an outcome column of endpoint {e.name!r}."
               for e in eps.values() for c in e.columns}
    outcome.update({c: "it is an outcome (best response)." for c in OUTCOME_COLUMNS})
    outcome[pid] = "it is the patient id."
    # a glob never matches an outcome, even one of a default endpoint that is not
    # analysed here (pfs_time when only os is); naming such a column exactly is allowed
    default_outcomes = [c for v in DEFAULT_ENDPOINTS.values()
                        for c in ((v,) if isinstance(v, str) else v)]
    reserved = [st.cols.center, st.cols.split, *default_outcomes]
    return schema.select_columns(ptab, patterns, file=st.plabel, what="patient feature",
                                 reserved=reserved, forbidden=outcome)


def _select_lesion_features(ltab: pd.DataFrame, patterns: Sequence[str] | None,
                            st: _Reading) -> list[str]:
    c = st.cols
    forbidden = {c.patient_id: "it is the patient id.", c.lesion_id: "it is the lesion id.",
                 c.timepoint: "it is the timepoint.",
                 c.scan_date: "it is the scan date.",
                 c.scan_time: "it is the scan time (it grows with follow-up).",
                 c.lesion_response: "it is a lesion outcome.",
                 c.diameter_followup: "it is a lesion outcome (follow-up size)."}
    return schema.select_columns(ltab, patterns, file=st.llabel, what="lesion feature",
                                 reserved=_lesion_role_columns(c), forbidden=forbidden)


# -------------------------------------------------------------------------- lesions
def _lesion_keys(ltab: pd.DataFrame, cols: ColumnNames) -> list[str]:
    keys = [cols.patient_id, cols.lesion_id]
    return [*keys, cols.timepoint] if cols.timepoint in ltab.columns else keys


def _validate_lesions(ltab: pd.DataFrame, ptab: pd.DataFrame, lfeat: list[str],
                      exclude_orphans: bool, st: _Reading,
                      allow_missing: bool = False) -> pd.DataFrame:
    cols = st.cols
    pid = cols.patient_id
    keys = _lesion_keys(ltab, cols)
    if cols.timepoint in ltab.columns:
        _check_timepoint(ltab, keys, st)
    schema.check_unique_lesions(ltab, keys, file=st.llabel)
    ltab = _handle_orphans(ltab, pd.Index(ptab[pid]), keys, exclude_orphans, st)
    ltab = scans.check_scans(ltab, cols, file=st.llabel, unit=st.scan_time_unit)
    ids = list(ltab[keys].itertuples(index=False, name=None))
    ltab = ltab.copy()
    for col in (cols.diameter, cols.diameter_followup, cols.rt_dose, cols.short_axis):
        if col in ltab.columns:
            ltab[col] = schema.check_positive(ltab, col, file=st.llabel, ids=ids,
                                              allow_zero=True, allow_missing=True)
    _check_short_axis(ltab, ids, st)
    gone = scans.vanished_rows(ltab, cols)
    if cols.volume in ltab.columns:
        ltab[cols.volume] = _check_volume(ltab, gone, ids, st)
    for col in (cols.irradiated, cols.lesion_response, cols.is_target):
        if col in ltab.columns:
            ltab[col] = schema.check_binary_column(ltab, col, file=st.llabel, ids=ids)
    if lfeat:
        ltab[lfeat] = schema.check_feature_values(ltab, lfeat, file=st.llabel, ids=ids,
                                                  missing_ok=gone,
                                                  allow_missing=allow_missing)
    scans.warn_lesion_gaps(ltab, cols, file=st.llabel)
    schema.warn_patients_without_lesions(pd.Index(ptab[pid]), ltab[pid], file=st.llabel)
    return ltab


def _check_short_axis(ltab: pd.DataFrame, ids: list, st: _Reading) -> None:
    """A nodal short axis is at most the longest diameter of the same row."""
    short, longest = st.cols.short_axis, st.cols.diameter
    if short not in ltab.columns or longest not in ltab.columns:
        return
    s, d = ltab[short].to_numpy(dtype=float), ltab[longest].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = s > d
    if bad.any():
        raise SchemaError(
            f"short axis longer than the longest diameter ({longest!r}) on the same row; "
            "check the two columns are not swapped.", file=st.llabel, column=short,
            ids=[ids[i] for i in np.flatnonzero(bad)],
            values=[(float(a), float(b)) for a, b in zip(s[bad], d[bad], strict=True)])


def _check_volume(ltab: pd.DataFrame, gone: np.ndarray, ids: list, st: _Reading) -> pd.Series:
    """Volumes > 0, except on vanished rows (0 mm after baseline): 0 or missing there."""
    vol = st.cols.volume
    if not gone.any():
        return schema.check_positive(ltab, vol, file=st.llabel, ids=ids)
    keep = np.flatnonzero(~gone)
    schema.check_positive(ltab.iloc[keep], vol, file=st.llabel, ids=[ids[i] for i in keep])
    values = schema._to_numeric(ltab[vol], file=st.llabel, ids=ids)
    v = values.to_numpy(dtype=float)
    bad = gone & ~(np.isnan(v) | (v == 0.0))
    if bad.any():
        raise SchemaError(
            f"a vanished lesion (longest diameter 0 after baseline) has a volume; give it "
            f"volume 0 or leave the cell empty, or correct the diameter "
            f"({st.cols.diameter!r}).", file=st.llabel, column=vol,
            ids=[ids[i] for i in np.flatnonzero(bad)], values=list(v[bad]))
    return values


def _check_timepoint(ltab: pd.DataFrame, keys: list[str], st: _Reading) -> None:
    tp = ltab[st.cols.timepoint]
    ids = list(ltab[keys[:2]].itertuples(index=False, name=None))
    if isinstance(tp.dtype, pd.CategoricalDtype) and tp.cat.ordered:
        bad = tp.isna().to_numpy()
    elif pd.api.types.is_numeric_dtype(tp.dtype) and not pd.api.types.is_bool_dtype(tp.dtype):
        bad = ~np.isfinite(tp.to_numpy(dtype=float))
    else:
        raise SchemaError(
            f"timepoint must be numeric (e.g. 0, 1, 2 or days from baseline) so that its "
            f"order is unambiguous; found text values "
            f"{format_values(list(dict.fromkeys(tp.astype(str))))}. Recode it, or "
            "pass a DataFrame with an ordered categorical.", file=st.llabel,
            column=st.cols.timepoint)
    if bad.any():
        raise SchemaError("timepoint is missing or not finite.", file=st.llabel,
                          column=st.cols.timepoint, ids=[ids[i] for i in np.flatnonzero(bad)])


def _handle_orphans(ltab: pd.DataFrame, patient_ids: pd.Index, keys: list[str],
                    exclude: bool, st: _Reading) -> pd.DataFrame:
    pid, lid = st.cols.patient_id, st.cols.lesion_id
    orphan = schema.find_orphan_lesions(ltab, patient_ids, column=pid)
    if not orphan.any():
        return ltab
    dropped = {e["id"]: e["reason"] for e in st.excluded if e["table"] == "patients"}
    rows = ltab.loc[orphan, keys].itertuples(index=False, name=None)
    pairs = list(rows)
    unexplained = [p for p in pairs if p[0] not in dropped]
    if unexplained and not exclude:
        patients = list(dict.fromkeys(p[0] for p in unexplained))
        raise SchemaError(
            f"{len(unexplained)} lesion row(s) belong to patients absent from the patient "
            f"table: {format_values(patients)}. Fix the ids (the patient table is "
            f"{st.plabel!r}), or pass {spell('exclude_orphan_lesions')} to exclude them (listed "
            "in cohort.excluded).", file=st.llabel, column=pid, ids=unexplained)
    for p in pairs:
        why = (f"patient excluded: {dropped[p[0]]}" if p[0] in dropped
               else "patient not in the patient table (exclude_orphan_lesions=True)")
        st.excluded.append({"table": "lesions", "id": "/".join(str(x) for x in p),
                            "reason": f"{lid} {p[1]!r}: {why}"})
    return ltab.loc[~orphan].reset_index(drop=True)

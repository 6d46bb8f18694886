"""PyRadiomics batch output as a survrad lesion table (layer 1).

PyRadiomics' batch mode (``pyradiomics batch.csv -o out.csv -f csv``) writes one row per
(image, mask, label): the columns of the batch file (``Image``, ``Mask``, optional
``Label``, ``Label_channel`` and any column the user added), then ``diagnostics_*``
columns (versions, settings, image and mask properties), then one column per feature,
named ``<image type>_<feature class>_<feature>`` (``original_shape_VoxelVolume``,
``wavelet-LLH_glcm_Contrast``, ``log-sigma-3-0-mm-3D_firstorder_Mean``). A case whose
extraction failed keeps only its batch columns: every diagnostics and feature cell is
empty.

:func:`read_pyradiomics` turns such a table into a lesion table that
:func:`survrad.read_cohort` accepts: patient and lesion ids (from a mapping table, a
regular expression on the paths and the label, or ``patient_id``/``lesion_id`` columns
already in the table), ``volume_ml`` from the shape features, and the feature columns
under their PyRadiomics names, so that globs such as ``"original_*"`` or
``"wavelet-*_glcm_*"`` select them in ``lesion_features``. The diagnostics are kept
aside, and checked: every lesion must have been extracted with the same settings and
versions (or the same within each centre, with an :class:`ExtractionWarning` naming what
differs between centres).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from survrad._validation import check_choice
from survrad.data import schema
from survrad.data.io import read_columns, read_table
from survrad.exceptions import ConfigError, ExtractionWarning, SchemaError, format_values

__all__ = [
    "DIAGNOSTICS_PREFIX",
    "FEATURE_CLASSES",
    "PyRadiomicsTable",
    "is_feature_name",
    "read_pyradiomics",
    "result_row",
]

Source = str | Path | pd.DataFrame

#: Feature classes of PyRadiomics 3 (``radiomics.getFeatureClasses()``).
FEATURE_CLASSES = ("firstorder", "shape", "shape2D", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
#: Prefix of the diagnostics columns (``additionalInfo: true``, PyRadiomics' default).
DIAGNOSTICS_PREFIX = "diagnostics_"
_FEATURE_NAME = re.compile(
    r"^[A-Za-z0-9-]+_(?:" + "|".join(FEATURE_CLASSES) + r")_[A-Za-z0-9]+$")
IMAGE, MASK, LABEL = "Image", "Mask", "Label"
PATIENT_ID, LESION_ID, TIMEPOINT, VOLUME = "patient_id", "lesion_id", "timepoint", "volume_ml"
#: Shape features that give a lesion's volume (mm³ for images with spacing in mm).
VOLUME_FEATURES = {"VoxelVolume": "original_shape_VoxelVolume",
                   "MeshVolume": "original_shape_MeshVolume"}
_MM3_PER_ML = 1000.0
_SETTINGS_COLUMN = "diagnostics_Configuration_Settings"
_CONFIG_PREFIX = "diagnostics_Configuration_"
_VERSIONS_PREFIX = "diagnostics_Versions_"
#: Settings that name the region of a row, not how it was extracted.
_ROI_SETTINGS = ("label", "label_channel")
_LABEL = "pyradiomics"


def is_feature_name(name: str) -> bool:
    """Whether ``name`` is a PyRadiomics feature column (``<image type>_<class>_<feature>``).

    Examples
    --------
    >>> is_feature_name("wavelet-LLH_glcm_Contrast"), is_feature_name("diagnostics_Versions_Numpy")
    (True, False)
    """
    return bool(_FEATURE_NAME.match(name))


def result_row(result: Mapping[str, Any]) -> dict[str, Any]:
    """The cells of one ``RadiomicsFeatureExtractor.execute`` result, as a batch CSV holds them.

    Diagnostics become their text (``str``, as PyRadiomics' batch script writes them);
    features become floats (PyRadiomics returns numpy scalars and 0-d arrays).

    Examples
    --------
    >>> import numpy as np
    >>> result_row({"diagnostics_Mask-original_Spacing": (1.0, 2.0, 2.5),
    ...             "original_shape_VoxelVolume": np.array(12.5)})
    {'diagnostics_Mask-original_Spacing': '(1.0, 2.0, 2.5)', 'original_shape_VoxelVolume': 12.5}
    """
    return {k: str(v) if k.startswith(DIAGNOSTICS_PREFIX) else float(np.asarray(v))
            for k, v in result.items()}


@dataclasses.dataclass(frozen=True, eq=False)
class PyRadiomicsTable:
    """A PyRadiomics batch output read by :func:`read_pyradiomics`.

    Attributes
    ----------
    lesions : pandas.DataFrame
        The lesion table: ``patient_id``, ``lesion_id`` (text), the other id columns of
        the mapping table or pattern (``timepoint``, ...), ``volume_ml`` (when a volume
        feature was asked for), then the feature columns (float) in file order. Pass it
        to :func:`survrad.read_cohort` as ``lesions``.
    diagnostics : pandas.DataFrame
        Same rows: the id columns, the batch columns (``Image``, ``Mask``, ``Label``, ...)
        and the ``diagnostics_*`` cells as read.
    features : tuple of str
        The feature columns.
    settings : pandas.DataFrame
        The extraction settings and versions: one row per (centre, setting, value) with
        ``n_lesions``; ``center`` is None when no centres were given. A setting with one
        row per centre was the same for all its lesions.
    failed : pandas.DataFrame
        Rows whose extraction failed and were excluded (``failed="exclude"``): their id
        and batch columns. Empty when none failed.
    source : str
        The file read, or ``"<DataFrame>"``.
    """

    lesions: pd.DataFrame
    diagnostics: pd.DataFrame
    features: tuple[str, ...]
    settings: pd.DataFrame
    failed: pd.DataFrame
    source: str

    def to_frame(self) -> pd.DataFrame:
        """A copy of the lesion table."""
        return self.lesions.copy()

    def __repr__(self) -> str:
        n_pat = self.lesions[PATIENT_ID].nunique()
        return (f"PyRadiomicsTable({len(self.lesions)} lesions of {n_pat} patients, "
                f"{len(self.features)} features, {len(self.failed)} failed excluded)")


def read_pyradiomics(
    source: Source,
    *,
    id_map: Source | None = None,
    id_pattern: str | Mapping[str, str] | None = None,
    centers: str | Mapping[str, Any] | pd.Series | None = None,
    volume: Literal["VoxelVolume", "MeshVolume"] | None = "VoxelVolume",
    failed: Literal["raise", "exclude"] = "raise",
    allow_mixed_settings: bool = False,
) -> PyRadiomicsTable:
    """Read a PyRadiomics batch CSV (or DataFrame) into a lesion table.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        PyRadiomics' batch output (``-f csv``), or the same table as a DataFrame. It must
        hold the batch columns ``Image`` and ``Mask`` and at least one feature column.
    id_map : str, pathlib.Path or pandas.DataFrame, optional
        A mapping table with a ``patient_id`` column, optionally ``lesion_id``, and one or
        more key columns named like batch columns of ``source`` (``Image``, ``Mask``,
        ``Label`` or a column the batch file carried). Key cells are compared as text,
        exactly (paths as PyRadiomics wrote them). Every row of ``source`` must match one
        mapping row; other mapping columns (``timepoint``, ``organ``, ...) are added to
        the lesion table.
    id_pattern : str or mapping of str to str, optional
        A regular expression with named groups ``patient_id`` and optionally
        ``lesion_id``, ``timepoint`` (a number) or any other name (a text column),
        searched (``re.search``) in the ``Mask`` path; or ``{batch column: pattern}``
        to search several columns (``{"Image": r"(?P<patient_id>P\\d+)", "Label":
        r"(?P<lesion_id>\\d+)"}``). Every row must match.
    centers : str, mapping or pandas.Series, optional
        The centre of every lesion, for the settings check: a column of ``source``, of
        ``id_map`` or a group of ``id_pattern``; or ``{patient_id: centre}`` (for
        instance the ``center`` column of the patient table).
    volume : {"VoxelVolume", "MeshVolume"} or None, default "VoxelVolume"
        The shape feature giving ``volume_ml`` (``original_shape_<volume>`` / 1000:
        PyRadiomics reports mm³ when the image spacing is in mm). ``VoxelVolume`` is
        the number of mask voxels times the voxel volume. None: no ``volume_ml``.
    failed : {"raise", "exclude"}, default "raise"
        What to do with rows whose extraction failed (no diagnostics and no feature
        value): raise a :class:`SchemaError` naming them, or exclude them with an
        :class:`ExtractionWarning` and list them in ``failed``.
    allow_mixed_settings : bool, default False
        Accept settings or versions that differ within a centre (or between rows when
        ``centers`` is None) with an :class:`ExtractionWarning` instead of an error.

    Returns
    -------
    PyRadiomicsTable
        ``lesions``, ``diagnostics``, ``features``, ``settings``, ``failed``.

    Raises
    ------
    SchemaError
        No ``Image``/``Mask`` column, no feature column, ids that cannot be resolved (a
        row the mapping or the pattern does not match, an empty id), duplicated
        (patient, lesion[, timepoint]), failed extractions (``failed="raise"``),
        settings or versions that differ within a centre, a missing volume feature.
    ConfigError
        Both or none of ``id_map``/``id_pattern`` when ``source`` has no ``patient_id``
        and ``lesion_id`` columns; a pattern without a ``patient_id`` group.

    Warns
    -----
    ExtractionWarning
        Settings or versions that differ between centres (listed); failed rows
        excluded; no diagnostics columns to check the settings with.

    Examples
    --------
    >>> import pandas as pd
    >>> settings = "{'binWidth': 25, 'label': 1}"
    >>> raw = pd.DataFrame({
    ...     "Image": ["ct/P01.nrrd", "ct/P01.nrrd", "ct/P02.nrrd"],
    ...     "Mask": ["seg/P01.nrrd", "seg/P01.nrrd", "seg/P02.nrrd"], "Label": [1, 2, 1],
    ...     "diagnostics_Versions_PyRadiomics": "v3.1.4",
    ...     "diagnostics_Configuration_Settings": settings,
    ...     "original_shape_VoxelVolume": [1500.0, 250.0, 4000.0],
    ...     "original_firstorder_Mean": [31.0, 12.5, -4.0]})
    >>> table = read_pyradiomics(raw, id_pattern=r"(?P<patient_id>P\\d+)")
    >>> table.lesions[["patient_id", "lesion_id", "volume_ml"]].values.tolist()
    [['P01', '1', 1.5], ['P01', '2', 0.25], ['P02', '1', 4.0]]
    """
    check_choice("failed", failed, ("raise", "exclude"))
    if volume is not None:
        check_choice("volume", volume, tuple(VOLUME_FEATURES))
    label = str(source) if isinstance(source, str | Path) else "<DataFrame>"
    inputs, diag_cols, feat_cols = _split_columns(read_columns(source), label)
    plan = _id_plan(inputs, id_map, id_pattern, label)
    table = read_table(source, name=_LABEL, id_columns=plan.text_columns)
    _check_repeated_header(table, label)
    ids = plan.resolve(table, label)
    schema.check_unique_lesions(ids, _keys(ids), file=label)
    bad = table[feat_cols].isna().all(axis=1).to_numpy()
    if bad.any():
        _failed_rows(ids, bad, failed, label)
    keep = ~bad
    center = _centers(centers, table, ids, label)
    settings = _check_settings(_settings_frame(table.loc[keep], diag_cols),
                               None if center is None else center.loc[keep],
                               _pairs(ids.loc[keep]), allow_mixed_settings, label)
    lesions = _lesion_table(table.loc[keep], ids.loc[keep], feat_cols, volume, label)
    diagnostics = pd.concat([ids, table[[c for c in inputs if c not in ids]],
                             table[diag_cols]], axis=1)
    failed_rows = pd.concat([ids, table[[c for c in inputs if c not in ids]]], axis=1)
    return PyRadiomicsTable(
        lesions=lesions, diagnostics=diagnostics.loc[keep].reset_index(drop=True),
        features=tuple(feat_cols), settings=settings,
        failed=failed_rows.loc[bad].reset_index(drop=True), source=label)


# ------------------------------------------------------------------------- columns
def _split_columns(header: Sequence[str], label: str) -> tuple[list[str], list[str], list[str]]:
    """Batch (input) columns, diagnostics columns and feature columns, in file order."""
    diag = [c for c in header if c.startswith(DIAGNOSTICS_PREFIX)]
    feats = [c for c in header if is_feature_name(c)]
    other = set(diag) | set(feats)
    inputs = [c for c in header if c not in other]
    missing = [c for c in (IMAGE, MASK) if c not in inputs]
    if missing:
        raise SchemaError(
            f"no {' and no '.join(repr(c) for c in missing)} column: not a PyRadiomics "
            f"batch output (its first columns are those of the batch file: Image, Mask, "
            f"optionally Label). Columns: {format_values(header)}.", file=label,
            column=missing[0])
    if not feats:
        raise SchemaError(
            "no PyRadiomics feature column (named <image type>_<feature class>_<feature>, "
            f"e.g. original_shape_VoxelVolume; classes {list(FEATURE_CLASSES)}). "
            f"Columns: {format_values(header)}.", file=label)
    return inputs, diag, feats


def _check_repeated_header(table: pd.DataFrame, label: str) -> None:
    """PyRadiomics appends to an existing output file: a second run adds a header row."""
    again = ((table[IMAGE] == IMAGE) & (table[MASK] == MASK)).to_numpy()
    if again.any():
        rows = format_values(np.flatnonzero(again))
        raise SchemaError(
            f"the header appears again as data (row positions {rows}, 0-based): PyRadiomics "
            "appends to an existing output file (-o), so two runs wrote into this one. Keep "
            "one run's rows (or run again into a new file).",
            file=label, column=IMAGE)


def _keys(ids: pd.DataFrame) -> list[str]:
    return [PATIENT_ID, LESION_ID, *([TIMEPOINT] if TIMEPOINT in ids else [])]


def _pairs(ids: pd.DataFrame) -> list[tuple]:
    return list(ids[_keys(ids)].itertuples(index=False, name=None))


# ----------------------------------------------------------------------------- ids
@dataclasses.dataclass(frozen=True)
class _IdPlan:
    """Which columns to read as text, and how to turn the table into ids."""

    text_columns: list[str]
    resolve: Any  # (table, label) -> DataFrame of id columns, same index as table


def _id_plan(inputs: list[str], id_map: Source | None, id_pattern: Any,
             label: str) -> _IdPlan:
    if id_map is not None and id_pattern is not None:
        raise ConfigError("give id_map or id_pattern, not both.", key="id_map")
    if id_map is not None:
        return _map_plan(inputs, id_map, label)
    if id_pattern is not None:
        return _pattern_plan(inputs, id_pattern, label)
    if PATIENT_ID in inputs and LESION_ID in inputs:
        def direct(table: pd.DataFrame, label: str) -> pd.DataFrame:
            return table[[PATIENT_ID, LESION_ID, *([TIMEPOINT] if TIMEPOINT in inputs
                                                  else [])]].copy()
        return _IdPlan([IMAGE, MASK, PATIENT_ID, LESION_ID], direct)
    raise ConfigError(
        f"[{label}] cannot tell patients and lesions apart: the table has no patient_id "
        "and lesion_id columns. Pass id_map= (a table mapping Image/Mask/Label to "
        "patient_id and lesion_id) or id_pattern= (a regular expression with named groups, "
        r"e.g. r'(?P<patient_id>P\d+)_lesion(?P<lesion_id>\d+)').", key="id_map")


def _lesion_from_label(inputs: list[str], label: str, how: str) -> list[str]:
    if LABEL not in inputs:
        raise SchemaError(
            f"{how} gives no lesion_id and the table has no {LABEL!r} column to take it "
            "from; add a lesion_id column to the mapping or a (?P<lesion_id>...) group "
            "to the pattern.", file=label, column=LESION_ID)
    return [LABEL]


def _map_plan(inputs: list[str], id_map: Source, label: str) -> _IdPlan:
    map_label = str(id_map) if isinstance(id_map, str | Path) else "id_map"
    map_cols = read_columns(id_map)
    keys = [c for c in map_cols if c in inputs and c not in (PATIENT_ID, LESION_ID)]
    if not keys:
        raise SchemaError(
            f"the mapping table shares no column with the batch columns of {label!r} "
            f"({format_values(inputs)}); it needs key columns such as {IMAGE!r}, "
            f"{MASK!r} or {LABEL!r} beside patient_id.", file=map_label)
    has_lesion = LESION_ID in map_cols
    text = [IMAGE, MASK, *keys] + ([] if has_lesion else
                                   _lesion_from_label(inputs, label, "the mapping table"))
    mapping = read_table(id_map, name="id_map", id_columns=[PATIENT_ID, *keys]
                         + ([LESION_ID] if has_lesion else []))

    def resolve(table: pd.DataFrame, label: str) -> pd.DataFrame:
        return _join_map(table, mapping, keys, has_lesion, label, map_label)

    return _IdPlan(list(dict.fromkeys(text)), resolve)


def _join_map(table: pd.DataFrame, mapping: pd.DataFrame, keys: list[str], has_lesion: bool,
              label: str, map_label: str) -> pd.DataFrame:
    dup = mapping.duplicated(keys, keep=False).to_numpy()
    if dup.any():
        raise SchemaError(
            f"the mapping table has several rows for the same key ({', '.join(keys)}); "
            "each batch row must map to one patient and lesion.", file=map_label,
            column=keys[0], values=list(dict.fromkeys(
                mapping.loc[dup, keys].itertuples(index=False, name=None))))
    merged = table[keys].merge(mapping, on=keys, how="left", indicator=True,
                               validate="many_to_one")
    unmatched = (merged["_merge"] == "left_only").to_numpy()
    if unmatched.any():
        raise SchemaError(
            f"{int(unmatched.sum())} of {len(table)} row(s) have no row in the mapping "
            f"table {map_label!r} (keys {keys}, compared as exact text: paths as "
            "PyRadiomics wrote them, absolute unless --format-path was given). Add them "
            "to the mapping.", file=label, column=keys[0], values=list(
                table.loc[unmatched, keys].itertuples(index=False, name=None)))
    merged.index = table.index
    out = merged.drop(columns=[*keys, "_merge"])
    if not has_lesion:
        out[LESION_ID] = table[LABEL]
    front = [PATIENT_ID, LESION_ID]
    return out[front + [c for c in out.columns if c not in front]]


def _pattern_plan(inputs: list[str], id_pattern: Any, label: str) -> _IdPlan:
    patterns = {MASK: id_pattern} if isinstance(id_pattern, str) else dict(id_pattern)
    compiled: dict[str, re.Pattern] = {}
    groups: list[str] = []
    for column, pat in patterns.items():
        if column not in inputs:
            raise SchemaError(
                f"id_pattern names the column {column!r}, which is not a batch column; "
                f"batch columns: {format_values(inputs)}.", file=label, column=column)
        try:
            compiled[column] = rx = re.compile(pat)
        except (re.error, TypeError) as exc:
            raise ConfigError(f"id_pattern for {column!r} is not a regular expression: "
                              f"{exc}.", key="id_pattern") from exc
        twice = [g for g in rx.groupindex if g in groups]
        if twice:
            raise ConfigError(f"group {twice[0]!r} appears in two id patterns.",
                              key="id_pattern")
        groups += list(rx.groupindex)
    if PATIENT_ID not in groups:
        raise ConfigError("id_pattern needs a named group (?P<patient_id>...); groups "
                          f"found: {groups}.", key="id_pattern")
    text = [IMAGE, MASK, *compiled] + ([] if LESION_ID in groups else
                                       _lesion_from_label(inputs, label, "id_pattern"))

    def resolve(table: pd.DataFrame, label: str) -> pd.DataFrame:
        parts = [_match(table[c], rx, label) for c, rx in compiled.items()]
        out = pd.concat(parts, axis=1)
        if LESION_ID not in out:
            out[LESION_ID] = table[LABEL]
        if TIMEPOINT in out:
            out[TIMEPOINT] = _numeric_timepoint(out[TIMEPOINT], label)
        front = [PATIENT_ID, LESION_ID]
        return out[front + [c for c in out.columns if c not in front]]

    return _IdPlan(list(dict.fromkeys(text)), resolve)


def _match(values: pd.Series, rx: re.Pattern, label: str) -> pd.DataFrame:
    found = [rx.search(v) for v in values]
    miss = [v for v, m in zip(values, found, strict=True) if m is None]
    if miss:
        what = ("matches no value" if len(miss) == len(values)
                else f"does not match {len(miss)} of {len(values)} values")
        raise SchemaError(
            f"id_pattern {rx.pattern!r} {what} (searched with re.search). Fix the pattern "
            "(named groups (?P<patient_id>...), (?P<lesion_id>...)), or use id_map= for "
            "ids that no pattern captures.", file=label, column=str(values.name), values=miss)
    out = pd.DataFrame([m.groupdict() for m in found], index=values.index,
                       columns=list(rx.groupindex))
    empty = out.map(lambda v: v is None or v == "").to_numpy().any(axis=1)
    if empty.any():
        raise SchemaError(
            f"id_pattern {rx.pattern!r} leaves a group empty; every group must capture "
            "some text.", file=label, column=str(values.name),
            values=list(values[empty]))
    return out.astype(object)


def _numeric_timepoint(values: pd.Series, label: str) -> pd.Series:
    num = pd.to_numeric(values, errors="coerce")
    if num.isna().any():
        raise SchemaError("the timepoint group must capture a number (0, 1, 2 or days).",
                          file=label, column=TIMEPOINT, values=list(values[num.isna()]))
    return num


# ---------------------------------------------------------------- failures, centres
def _failed_rows(ids: pd.DataFrame, bad: np.ndarray, failed: str, label: str) -> None:
    pairs = _pairs(ids.loc[bad])
    what = (f"{len(pairs)} of {len(ids)} extraction(s) failed (no diagnostics and no "
            "feature value: PyRadiomics logged the error)")
    if failed == "raise":
        raise SchemaError(
            f"{what}. Fix the image or mask and extract them again, or pass "
            "failed='exclude' to leave them out (listed in .failed).", file=label,
            column=LESION_ID, ids=pairs)
    warnings.warn(f"[{label}] {what}; excluded (failed='exclude'): {format_values(pairs)}. "
                  "They are listed in .failed.", ExtractionWarning, stacklevel=schema._stack())


def _centers(centers: Any, table: pd.DataFrame, ids: pd.DataFrame,
             label: str) -> pd.Series | None:
    if centers is None:
        return None
    if isinstance(centers, str):
        for frame in (ids, table):
            if centers in frame.columns:
                return frame[centers].astype(object)
        raise SchemaError(f"centers={centers!r} is neither a batch column nor a column of the "
                          "mapping table nor a group of the pattern.", file=label,
                          column=centers)
    if not isinstance(centers, Mapping | pd.Series):
        raise TypeError("centers must be a column name, a mapping {patient_id: centre} or a "
                        f"pandas Series; got {type(centers).__name__}.")
    lookup = pd.Series(dict(centers) if isinstance(centers, Mapping) else centers)
    lookup.index = lookup.index.map(str)
    out = ids[PATIENT_ID].map(lookup)
    if out.isna().any():
        absent = list(dict.fromkeys(ids.loc[out.isna(), PATIENT_ID]))
        raise SchemaError("patients without a centre in centers=.", file=label,
                          column=PATIENT_ID, ids=absent)
    return out.astype(object)


# ------------------------------------------------------------------------ settings
def _literal(cell: Any) -> Any:
    if not isinstance(cell, str):
        return None if pd.isna(cell) else cell
    try:
        return ast.literal_eval(cell)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return cell


def _settings_frame(table: pd.DataFrame, diag_cols: list[str]) -> pd.DataFrame:
    """One column per setting or version (parsed values), rows as ``table``."""
    cols: dict[str, pd.Series] = {}
    for col in diag_cols:
        if col.startswith(_VERSIONS_PREFIX):
            cols[col.removeprefix(DIAGNOSTICS_PREFIX)] = table[col]
        elif col == _SETTINGS_COLUMN:
            parsed = table[col].map(_literal)
            names = dict.fromkeys(k for d in parsed if isinstance(d, dict) for k in d)
            for key in names:
                if key not in _ROI_SETTINGS:
                    cols[key] = parsed.map(lambda d, k=key: d.get(k, "<absent>")
                                           if isinstance(d, dict) else d)
        elif col.startswith(_CONFIG_PREFIX):
            cols[col.removeprefix(_CONFIG_PREFIX)] = table[col].map(_literal)
    return pd.DataFrame(cols, index=table.index)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_settings(settings: pd.DataFrame, center: pd.Series | None, pairs: list[tuple],
                    allow_mixed: bool, label: str) -> pd.DataFrame:
    """Raise or warn when settings differ; return the long settings summary."""
    columns = ["center", "setting", "value", "n_lesions"]
    if settings.shape[1] == 0:
        if len(settings):
            warnings.warn(
                f"[{label}] no diagnostics_Versions_* or diagnostics_Configuration_* "
                "columns (extracted with additionalInfo: false?): the extraction settings "
                "and versions cannot be checked.", ExtractionWarning,
                stacklevel=schema._stack())
        return pd.DataFrame(columns=columns)
    groups = ([(None, np.ones(len(settings), dtype=bool))] if center is None
              else [(g, (center == g).to_numpy()) for g in dict.fromkeys(center)])
    rows, mixed, odd = [], [], np.zeros(len(settings), dtype=bool)
    for setting in settings.columns:
        values = settings[setting].tolist()   # Python scalars, not numpy ones
        keys = np.array([_canon(v) for v in values], dtype=object)
        first = dict(zip(keys[::-1], values[::-1], strict=True))   # first row per value
        for g, in_g in groups:
            counts = Counter(keys[in_g]).most_common()   # ties: first seen first
            rows += [{"center": g, "setting": setting, "value": first[k], "n_lesions": n}
                     for k, n in counts]
            if len(counts) > 1:
                mixed.append((g, setting))
                odd |= in_g & (keys != counts[0][0])
    summary = pd.DataFrame(rows, columns=columns)
    if mixed:
        _mixed_settings(mixed, summary, [p for p, o in zip(pairs, odd, strict=True) if o],
                        center is not None, allow_mixed, label)
    if center is not None:
        _warn_between_centres(summary, label)
    return summary


def _mixed_settings(mixed: list, summary: pd.DataFrame, odd_pairs: list[tuple],
                    by_center: bool, allow_mixed: bool, label: str) -> None:
    parts = []
    for g, setting in mixed[:10]:
        values = summary[(summary["setting"] == setting)
                         & ((summary["center"] == g) if g is not None
                            else summary["center"].isna())]
        shown = ", ".join(f"{_shown(v)} ({n} lesions)"
                          for v, n in zip(values["value"], values["n_lesions"], strict=True))
        where = f"centre {g!r}: " if by_center else ""
        parts.append(f"{where}{setting}: {shown}")
    scope = "within a centre" if by_center else "between rows"
    msg = (f"extraction settings or versions differ {scope}: {'; '.join(parts)}. Features "
           "extracted with different settings are not comparable")
    if allow_mixed:
        warnings.warn(f"[{label}] {msg} (accepted: allow_mixed_settings=True).",
                      ExtractionWarning, stacklevel=schema._stack())
        return
    advice = ("" if by_center else " pass centers= if each centre was extracted with its "
              "own settings (a warning then lists the differences),")
    raise SchemaError(f"{msg}: re-extract them with one parameter file,{advice} or pass "
                      "allow_mixed_settings=True to accept them. ids listed are the lesions "
                      "whose value is not the most common one.", file=label,
                      column=_SETTINGS_COLUMN, ids=odd_pairs)


def _warn_between_centres(summary: pd.DataFrame, label: str) -> None:
    per = summary.groupby("setting", sort=False)["value"].agg(
        lambda v: len(set(map(_canon, v))))
    differ = [s for s, n in per.items() if n > 1]
    if not differ:
        return
    parts = []
    for setting in differ[:10]:
        sub = summary[summary["setting"] == setting]
        shown = ", ".join(f"{c}: {_shown(v)}" for c, v in zip(sub["center"], sub["value"],
                                                               strict=True))
        parts.append(f"{setting} ({shown})")
    more = f" and {len(differ) - 10} more" if len(differ) > 10 else ""
    warnings.warn(
        f"[{label}] extraction settings or versions differ between centres: "
        f"{'; '.join(parts)}{more}. Each centre is consistent, but features are comparable "
        "across centres only after harmonisation (e.g. survrad.features.ComBat with "
        "batch_col='center') or a common re-extraction.", ExtractionWarning,
        stacklevel=schema._stack())


# -------------------------------------------------------------------- lesion table
def _lesion_table(table: pd.DataFrame, ids: pd.DataFrame, feat_cols: list[str],
                  volume: str | None, label: str) -> pd.DataFrame:
    row_ids = _pairs(ids)
    feats = pd.DataFrame({c: schema._to_numeric(table[c], file=label, ids=row_ids)
                          for c in feat_cols}, index=table.index)
    parts = [ids]
    if volume is not None:
        column = VOLUME_FEATURES[volume]
        if column not in feats:
            raise SchemaError(
                f"no {column!r} column to take the lesion volume from: enable the shape "
                "feature class in the extraction, or pass volume=None (no volume_ml).",
                file=label, column=column)
        parts.append((feats[column] / _MM3_PER_ML).rename(VOLUME).to_frame())
    parts.append(feats)
    return pd.concat(parts, axis=1).reset_index(drop=True)

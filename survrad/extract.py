"""``survrad extract``: PyRadiomics over (image, multi-label mask) pairs, resumable (layer 7).

Like :mod:`survrad.study`, this is a command: it reads an images manifest, runs the
extractor case by case (in worker processes when asked), and writes a run's files with
their provenance. The lesion table itself is made by the data layer
(:func:`survrad.data.pyradiomics.read_pyradiomics`), with the same id, settings, volume
and failure checks as for a CSV written by PyRadiomics' own batch script.

Files, next to ``out`` (say ``lesions.csv``):

- ``lesions.csv``: the lesion table (``patient_id``, ``lesion_id``, ``volume_ml``,
  the features under their PyRadiomics names), for :func:`survrad.read_cohort`;
- ``lesions.diagnostics.csv``: the same rows with the image and mask paths, the label
  (and connected component), and PyRadiomics' ``diagnostics_*`` cells;
- ``lesions.manifest.json``: settings and their SHA-256, versions, inputs (with their
  SHA-256), counts, failures, and the SHA-256 of both tables;
- ``lesions.journal.jsonl`` while running: one line per finished case, holding the
  case's rows, flushed to disk as each case finishes. A run that is interrupted
  (Ctrl-C, a crash, a lost machine) keeps it; the same command then extracts only the
  cases the journal lacks. The tables are always assembled from the journal in the
  manifest's case order, so an interrupted and resumed run writes the same bytes as an
  uninterrupted one. The journal is removed once the tables are written.

PyRadiomics and SimpleITK are imported on first use: ``pip install "survrad[radiomics]"``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from importlib import import_module
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from survrad._validation import check_choice
from survrad.data.io import read_table
from survrad.data.pyradiomics import (
    LESION_ID,
    PATIENT_ID,
    TIMEPOINT,
    PyRadiomicsTable,
    read_pyradiomics,
    result_row,
)
from survrad.exceptions import ConfigError, ExtractionWarning, SchemaError, format_values
from survrad.reporting.writer import (
    atomic_write_text,
    file_sha256,
    input_record,
    json_dumps,
    package_versions,
)

__all__ = ["ExtractionResult", "extract_command", "extract_lesions", "output_paths"]

Source = str | Path | pd.DataFrame

#: Columns of the images manifest: required, then optional.
MANIFEST_COLUMNS = ("patient_id", "image", "mask")
_JOURNAL_FORMAT = 1
_INSTALL = 'pip install "survrad[radiomics]"'


@dataclasses.dataclass(frozen=True, eq=False)
class ExtractionResult:
    """What :func:`extract_lesions` wrote.

    Attributes
    ----------
    table : PyRadiomicsTable
        The lesion table, diagnostics and settings (as read back by
        :func:`~survrad.data.pyradiomics.read_pyradiomics`).
    failed : pandas.DataFrame
        Cases and lesions whose extraction failed and were left out
        (``failed="exclude"``): ``patient_id``, ``image``, ``mask``, ``label``,
        ``component`` (None for a whole case) and ``error``.
    paths : mapping of str to pathlib.Path
        ``lesions``, ``diagnostics``, ``manifest`` (see :func:`output_paths`).
    n_cases, n_resumed, n_extracted : int
        Cases in the manifest; read back from the journal of an interrupted run;
        extracted by this run.
    settings_sha256 : str
        SHA-256 of the extraction settings, image types and feature classes.
    """

    table: PyRadiomicsTable
    failed: pd.DataFrame
    paths: Mapping[str, Path]
    n_cases: int
    n_resumed: int
    n_extracted: int
    settings_sha256: str

    def to_frame(self) -> pd.DataFrame:
        """A copy of the lesion table."""
        return self.table.lesions.copy()


def output_paths(out: str | os.PathLike) -> dict[str, Path]:
    """The files written for ``out``: lesions, diagnostics, manifest, journal.

    Examples
    --------
    >>> {k: p.name for k, p in output_paths("run/lesions.csv").items()}
    ... # doctest: +NORMALIZE_WHITESPACE
    {'lesions': 'lesions.csv', 'diagnostics': 'lesions.diagnostics.csv',
     'manifest': 'lesions.manifest.json', 'journal': 'lesions.journal.jsonl'}
    """
    out = Path(out)
    stem = out.name.removesuffix(".csv")
    return {"lesions": out, "diagnostics": out.with_name(f"{stem}.diagnostics.csv"),
            "manifest": out.with_name(f"{stem}.manifest.json"),
            "journal": out.with_name(f"{stem}.journal.jsonl")}


def extract_command(images: str | os.PathLike, params: str | os.PathLike | None,
                    out: str | os.PathLike, *, n_jobs: int | None = 1,
                    connected_components: bool = False, force: bool = False,
                    failed: Literal["raise", "exclude"] = "raise") -> ExtractionResult:
    """Body of ``survrad extract --images IMAGES --params PARAMS --out OUT``.

    :func:`extract_lesions` with a progress bar on a terminal; on Ctrl-C it says on
    stderr how many cases the journal keeps and how to resume, then re-raises.

    Examples
    --------
    An existing lesion table is never replaced without ``force`` (checked before any
    work):

    >>> import pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "lesions.csv"
    >>> _ = out.write_text("patient_id,lesion_id")
    >>> extract_command("manifest.csv", "params.yaml", out)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    survrad.exceptions.ConfigError: '...lesions.csv' exists; pass force=True (--force) ...
    """
    paths = output_paths(out)
    try:
        return extract_lesions(images, params, out, n_jobs=n_jobs,
                               connected_components=connected_components, force=force,
                               failed=failed, progress=sys.stderr.isatty())
    except KeyboardInterrupt:
        journal = paths["journal"]
        kept = max(_count_lines(journal) - 1, 0) if journal.is_file() else 0
        print(f"interrupted: {kept} finished case(s) kept in {journal}; run the same "
              "command again to extract the others.", file=sys.stderr)
        raise


def extract_lesions(
    images: Source,
    params: str | os.PathLike | None,
    out: str | os.PathLike,
    *,
    n_jobs: int | None = 1,
    connected_components: bool = False,
    force: bool = False,
    failed: Literal["raise", "exclude"] = "raise",
    progress: bool = False,
    extractor: Any = None,
) -> ExtractionResult:
    """Extract PyRadiomics features of every lesion of every (image, mask) pair.

    Parameters
    ----------
    images : str, pathlib.Path or pandas.DataFrame
        The images manifest: one row per case with ``patient_id``, ``image`` and
        ``mask`` (paths, relative to the manifest's folder), optionally ``timepoint``;
        other columns are copied to the diagnostics table. The mask holds one integer
        label per lesion (0 is background); one case per patient (and timepoint).
    params : str, pathlib.Path or None
        PyRadiomics parameter file (YAML or JSON); None for PyRadiomics' defaults.
    out : str or pathlib.Path
        The lesion table to write (``.csv``); see :func:`output_paths` for the others.
    n_jobs : int or None, default 1
        Worker processes (``-1``: one per CPU). None or 1 extracts in this process.
        The tables do not depend on it.
    connected_components : bool, default False
        One lesion per connected component of each label (faces connect voxels:
        6-connectivity in 3-D) instead of one per label. ``lesion_id`` is then
        ``"<label>-<component>"``; components are numbered in image (raster) order, and
        the diagnostics table holds ``Label`` and ``Component`` as numbers.
    force : bool, default False
        Replace existing outputs and ignore (delete) a journal left by an interrupted
        run. Without it an existing lesion table is an error, and a journal is resumed.
    failed : {"raise", "exclude"}, default "raise"
        A case or lesion whose extraction raised: ``"raise"`` stops before writing the
        tables with a SchemaError listing them (the journal keeps the finished cases and
        the next run retries only the failed ones); ``"exclude"`` leaves them out with an
        :class:`ExtractionWarning` and lists them in the manifest and ``failed``.
    progress : bool, default False
        A progress bar on stderr.
    extractor : object, optional
        Instead of ``RadiomicsFeatureExtractor(params)``: any picklable object with
        PyRadiomics' ``execute(image, mask, label=...)`` (SimpleITK images in, a mapping
        of diagnostics and features out) and, for the settings hash, ``settings``,
        ``enabledImagetypes`` and ``enabledFeatures``.

    Returns
    -------
    ExtractionResult

    Raises
    ------
    ConfigError
        PyRadiomics not installed; a bad parameter file; existing outputs without
        ``force``; a journal written with other settings or versions.
    SchemaError
        A bad manifest (missing columns or files, duplicated patient and timepoint),
        failed extractions (``failed="raise"``), and every check of
        :func:`~survrad.data.pyradiomics.read_pyradiomics`.
    KeyboardInterrupt
        Re-raised after the workers are stopped; finished cases stay in the journal.

    Examples
    --------
    >>> output_paths("lesions.csv")["journal"].name
    'lesions.journal.jsonl'
    """
    check_choice("failed", failed, ("raise", "exclude"))
    workers = _n_workers(n_jobs)
    paths = output_paths(out)
    if paths["lesions"].exists() and not force:
        raise ConfigError(f"{str(paths['lesions'])!r} exists; pass force=True (--force) to "
                          "replace it, or choose another output.")
    label = str(images) if isinstance(images, str | Path) else "images"
    cases = _read_manifest(images, label)
    sitk = _require("SimpleITK")
    if extractor is None:
        extractor = _default_extractor(params)
    settings = _settings_record(extractor)
    versions = _versions(sitk)
    header = {"survrad_extract_journal": _JOURNAL_FORMAT,
              "settings_sha256": settings["sha256"], "versions": versions,
              "connected_components": bool(connected_components)}
    if force:
        paths["journal"].unlink(missing_ok=True)
    done = _resume(paths["journal"], header)
    todo = [c for c in cases if _key_text(c) not in done or done[_key_text(c)]["error"]
            or any("error" in r for r in done[_key_text(c)]["rows"])]
    n_resumed = len(cases) - len(todo)
    journal = _Journal(paths["journal"], header)
    try:
        _run(todo, extractor, bool(connected_components), workers, journal, len(cases),
             n_resumed, progress)
    finally:
        journal.close()
    entries = _read_journal(paths["journal"], header)[1]
    table, failures = _assemble(cases, entries, failed, label)
    manifest = {
        "command": "survrad extract", "images": _input(images),
        "params": input_record(params) if params is not None else None,
        "settings_sha256": settings["sha256"], "extraction": settings["record"],
        "versions": {**versions, **package_versions()},
        "connected_components": bool(connected_components),
        "n_cases": len(cases), "n_lesions": len(table.lesions),
        "n_failed": len(failures), "failed": failures.to_dict(orient="records"),
        "resumed_cases": n_resumed, "extracted_cases": len(todo),
    }
    _write_outputs(table, manifest, paths)
    paths["journal"].unlink(missing_ok=True)
    return ExtractionResult(table=table, failed=failures,
                            paths={k: paths[k] for k in ("lesions", "diagnostics",
                                                         "manifest")},
                            n_cases=len(cases), n_resumed=n_resumed, n_extracted=len(todo),
                            settings_sha256=settings["sha256"])


# ------------------------------------------------------------------------ inputs
def _require(module: str) -> Any:
    try:
        return import_module(module)
    except ImportError as exc:
        raise ConfigError(f"feature extraction needs PyRadiomics and SimpleITK ({module!r} "
                          f"is not installed): {_INSTALL}.") from exc


def _default_extractor(params: str | os.PathLike | None) -> Any:
    _require("radiomics")
    featureextractor = import_module("radiomics.featureextractor")
    if params is None:
        return featureextractor.RadiomicsFeatureExtractor()
    path = Path(params)
    if not path.is_file():
        raise ConfigError("parameter file not found.", file=str(params))
    try:
        with warnings.catch_warnings():
            # pykwalify, which validates the file, loads its extensions with an API that
            # Python 3.12 removed: a third-party deprecation nothing here can fix
            warnings.filterwarnings("ignore", r"the load_module\(\) method is deprecated",
                                    DeprecationWarning)
            return featureextractor.RadiomicsFeatureExtractor(str(path))
    except Exception as exc:  # pykwalify and PyRadiomics raise several unrelated types
        raise ConfigError(f"PyRadiomics rejects the parameter file: {exc}",
                          file=str(params)) from exc


def _read_manifest(images: Source, label: str) -> list[dict[str, Any]]:
    """The cases, in manifest order, with resolved paths and their journal key."""
    table = read_table(images, name="images", id_columns=list(MANIFEST_COLUMNS))
    has_tp = TIMEPOINT in table.columns
    keys = [PATIENT_ID, *([TIMEPOINT] if has_tp else [])]
    dup = table.duplicated(keys, keep=False).to_numpy()
    if dup.any():
        raise SchemaError(
            f"several rows for the same ({', '.join(keys)}): lesion ids are the mask "
            "labels, so they would repeat. Merge the masks of a patient (and timepoint) "
            "into one multi-label mask.", file=label, column=PATIENT_ID,
            ids=list(dict.fromkeys(table.loc[dup, keys].itertuples(index=False, name=None))))
    base = Path(images).parent if isinstance(images, str | Path) else Path.cwd()
    extra = [c for c in table.columns if c not in (*MANIFEST_COLUMNS, TIMEPOINT)]
    cases = []
    for row in table.to_dict(orient="records"):
        tp = row.get(TIMEPOINT) if has_tp else None
        cases.append({"key": [row[PATIENT_ID], tp, row["image"], row["mask"]],
                      "image_path": str(base / row["image"]), "mask_path": str(base / row["mask"]),
                      "extra": {c: row[c] for c in extra}, "has_timepoint": has_tp})
    for col, where in (("image", "image_path"), ("mask", "mask_path")):
        missing = [c["key"][2 if col == "image" else 3] for c in cases
                   if not Path(c[where]).is_file()]
        if missing:
            where_from = ("the manifest's folder" if isinstance(images, str | Path)
                          else "the current folder")
            raise SchemaError(f"{len(missing)} {col} file(s) not found (relative paths are "
                              f"relative to {where_from}, {str(base)!r}).",
                              file=label, column=col, values=missing)
    return cases


def _input(images: Source) -> Any:
    return input_record(images) if isinstance(images, str | Path) else "<DataFrame>"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=repr)


def _settings_record(extractor: Any) -> dict[str, Any]:
    record = {"settings": getattr(extractor, "settings", None),
              "image_types": getattr(extractor, "enabledImagetypes", None),
              "features": getattr(extractor, "enabledFeatures", None)}
    text = _canonical(record)
    return {"record": json.loads(text), "sha256": hashlib.sha256(text.encode()).hexdigest()}


def _versions(sitk: Any) -> dict[str, str | None]:
    out: dict[str, str | None] = {"SimpleITK": sitk.Version_VersionString()}
    for name in ("radiomics", "pywt"):
        try:
            out[name] = str(import_module(name).__version__)
        except ImportError:
            out[name] = None
    return out


def _n_workers(n_jobs: int | None) -> int:
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ConfigError(f"n_jobs must be a positive integer or -1 (every CPU), got "
                          f"{n_jobs!r}.", key="n_jobs")
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


# ------------------------------------------------------------------------ journal
def _key_text(case: Mapping[str, Any]) -> str:
    return json.dumps(case["key"])


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.endswith(b"\n"))


def _read_journal(path: Path, header: Mapping[str, Any],
                  ) -> tuple[int, dict[str, dict[str, Any]]]:
    """Byte length of the complete lines and the entries (the last one per case)."""
    entries: dict[str, dict[str, Any]] = {}
    good = 0
    with path.open("rb") as fh:
        lines = fh.read().split(b"\n")
    for i, raw in enumerate(lines[:-1]):  # the last piece has no newline: never complete
        try:
            item = json.loads(raw)
        except ValueError:
            if i == len(lines) - 2:
                break  # a line cut by a crash, never newline-terminated: resume before it
            raise ConfigError("the journal is damaged (a line in the middle is not JSON); "
                              "pass force=True to start again.", file=str(path)) from None
        if i == 0:
            _check_header(item, header, path)
        else:
            entries[json.dumps(item["key"])] = item
        good += len(raw) + 1
    return good, entries


def _check_header(found: Any, header: Mapping[str, Any], path: Path) -> None:
    if found == dict(header):
        return
    differ = [k for k in header if not isinstance(found, dict) or found.get(k) != header[k]]
    raise ConfigError(
        f"the journal of an interrupted run was written with other {', '.join(differ)}; "
        "its rows cannot be mixed with this run's. Pass force=True (--force) to start "
        "again, or rerun with the original parameters and versions.", file=str(path))


def _resume(path: Path, header: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        return {}
    good, entries = _read_journal(path, header)
    if good < path.stat().st_size:  # drop a cut last line before appending
        with path.open("r+b") as fh:
            fh.truncate(good)
    return entries


class _Journal:
    """Appends one JSON line per finished case, flushed and synced to disk."""

    def __init__(self, path: Path, header: Mapping[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.is_file() or path.stat().st_size == 0
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if new:
            self.append(header)

    def append(self, item: Mapping[str, Any]) -> None:
        data = (json.dumps(item, allow_nan=True) + "\n").encode("utf-8")
        while data:  # one write call in practice; a signal cannot split a line in two
            data = data[os.write(self._fd, data):]
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


# ---------------------------------------------------------------------- extraction
_STATE: dict[str, Any] = {}


def _init_worker(extractor: Any, connected_components: bool, quiet: bool) -> None:
    """Worker set-up: Ctrl-C is the parent's to handle; one SimpleITK thread per worker."""
    import signal

    _STATE.update(extractor=extractor, cc=connected_components)
    if quiet:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        import_module("SimpleITK").ProcessObject_SetGlobalDefaultNumberOfThreads(1)
        logging.getLogger("radiomics").setLevel(logging.ERROR)


def _regions(mask: Any, connected_components: bool) -> Iterator[tuple[int, int | None, Any, int]]:
    """(label, component, region mask, value of the region in that mask)."""
    import numpy as np

    sitk = import_module("SimpleITK")
    values = np.unique(sitk.GetArrayViewFromImage(mask))
    values = values[values != 0]
    if not np.all(np.mod(values, 1) == 0):
        raise ValueError(f"mask labels must be integers, found {values[:5].tolist()}")
    if len(values) == 0:
        raise ValueError("the mask has no nonzero voxel")
    mask = sitk.Cast(mask, sitk.sitkUInt32)
    for value in values.astype(int).tolist():
        if not connected_components:
            yield value, None, mask, value
            continue
        comps = sitk.ConnectedComponent(mask == value, False)
        n = int(sitk.GetArrayViewFromImage(comps).max())
        for c in range(1, n + 1):
            yield value, c, comps, c


def _extract_case(case: Mapping[str, Any]) -> dict[str, Any]:
    """One case: its rows (diagnostics and features per lesion) or the error."""
    sitk = import_module("SimpleITK")
    entry: dict[str, Any] = {"key": case["key"], "rows": [], "error": None}
    try:
        image = sitk.ReadImage(case["image_path"])
        regions = list(_regions(sitk.ReadImage(case["mask_path"]), _STATE["cc"]))
    except (KeyboardInterrupt, SystemExit):
        raise
    except SystemError:  # Ctrl-C while SimpleITK runs (as in PyRadiomics' batch script)
        raise KeyboardInterrupt from None
    except Exception as exc:
        entry["error"] = f"{type(exc).__name__}: {exc}"
        return entry
    for value, component, roi, roi_value in regions:
        row: dict[str, Any] = {"Label": value}
        if component is not None:
            row["Component"] = component
        try:
            row.update(result_row(_STATE["extractor"].execute(image, roi, label=roi_value)))
        except (KeyboardInterrupt, SystemExit):
            raise
        except SystemError:
            raise KeyboardInterrupt from None
        except Exception as exc:
            row["error"] = f"{type(exc).__name__}: {exc}"
        entry["rows"].append(row)
    return entry


@contextlib.contextmanager
def _radiomics_errors_only() -> Iterator[None]:
    """PyRadiomics' own warnings off the terminal while this process extracts."""
    logger = logging.getLogger("radiomics")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _run(todo: list[dict], extractor: Any, cc: bool, workers: int, journal: _Journal,
         total: int, resumed: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=resumed, desc="cases", unit="case", disable=not progress)
    try:
        if workers == 1 or len(todo) <= 1:
            _init_worker(extractor, cc, quiet=False)
            with _radiomics_errors_only():
                for case in todo:
                    journal.append(_extract_case(case))
                    bar.update()
            return
        import multiprocessing

        pool = multiprocessing.get_context("spawn").Pool(
            min(workers, len(todo)), initializer=_init_worker, initargs=(extractor, cc, True))
        try:
            for entry in pool.imap_unordered(_extract_case, todo):
                journal.append(entry)
                bar.update()
            pool.close()
        finally:
            pool.terminate()  # no-op after close(); stops running workers on Ctrl-C
            pool.join()
    finally:
        bar.close()
        _STATE.clear()


# ------------------------------------------------------------------------ assembly
def _assemble(cases: list[dict], entries: Mapping[str, dict], failed: str,
              label: str) -> tuple[PyRadiomicsTable, pd.DataFrame]:
    """The lesion table from the journal, in manifest order; failures apart."""
    rows, failures = [], []
    for case in cases:
        entry = entries[_key_text(case)]
        pid, tp, image, mask = case["key"]
        base = {PATIENT_ID: pid, **({TIMEPOINT: tp} if case["has_timepoint"] else {})}
        where = {"image": image, "mask": mask}
        if entry["error"]:
            failures.append({**base, **where, "label": None, "component": None,
                             "error": entry["error"]})
        for r in entry["rows"]:
            comp = r.get("Component")
            if "error" in r:
                failures.append({**base, **where, "label": r["Label"], "component": comp,
                                 "error": r["error"]})
                continue
            lesion = str(r["Label"]) if comp is None else f"{r['Label']}-{comp}"
            rows.append({**base, LESION_ID: lesion, "Image": image, "Mask": mask,
                         **case["extra"], **r})
    _report_failures(failures, failed, len(rows), label)
    columns = [PATIENT_ID, *([TIMEPOINT] if cases and cases[0]["has_timepoint"] else []),
               "image", "mask", "label", "component", "error"]
    return (read_pyradiomics(pd.DataFrame(rows)),
            pd.DataFrame(failures, columns=columns, dtype=object))


def _report_failures(failures: list[dict], failed: str, n_rows: int, label: str) -> None:
    if not failures and n_rows:
        return
    listed = [f"{f[PATIENT_ID]} " + ("(whole case)" if f["label"] is None
                                     else f"label {f['label']}") + f": {f['error']}"
              for f in failures]
    what = f"{len(failures)} extraction(s) failed: {format_values(listed, max_shown=5)}"
    if failed == "raise" or n_rows == 0:
        raise SchemaError(
            f"{what}. Finished cases are kept in the journal: fix the images or masks and "
            "run the same command again to extract only these, or pass failed='exclude' "
            "(--failed exclude) to leave them out." if n_rows else
            f"{what}; no lesion was extracted.", file=label, column="mask",
            ids=[f[PATIENT_ID] for f in failures])
    warnings.warn(f"[{label}] {what}; left out (failed='exclude') and listed in the "
                  "manifest.", ExtractionWarning, stacklevel=4)


def _write_outputs(table: PyRadiomicsTable, manifest: dict[str, Any],
                   paths: Mapping[str, Path]) -> None:
    """Diagnostics, then the manifest, then the lesion table (its presence means done)."""
    lesions = table.lesions.to_csv(index=False, lineterminator="\n")
    diagnostics = table.diagnostics.to_csv(index=False, lineterminator="\n")
    atomic_write_text(paths["diagnostics"], diagnostics)
    manifest["outputs"] = {
        "lesions": {"path": paths["lesions"].name,
                    "sha256": hashlib.sha256(lesions.encode("utf-8")).hexdigest()},
        "diagnostics": {"path": paths["diagnostics"].name,
                        "sha256": file_sha256(paths["diagnostics"])}}
    atomic_write_text(paths["manifest"], json_dumps(manifest))
    atomic_write_text(paths["lesions"], lesions)

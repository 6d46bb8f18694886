"""Saved pipelines: a fitted ``CohortPipeline`` written to a folder and read back (layer 4).

A saved model is a folder of two files:

``pipeline.pkl``
    The fitted :class:`~survrad.models.pipeline.CohortPipeline` (strategy, feature steps,
    model, fitted on the training patients), pickled (protocol 5). Fitted survrad
    estimators keep no patient rows (``tests/test_estimator_contract.py``), so neither
    does this file.
``manifest.json``
    What the model needs and where it came from: the format version, the versions of
    survrad, Python, numpy, pandas, scipy and scikit-learn that wrote it, the SHA-256 of
    ``pipeline.pkl``, the column contract (the patient and lesion columns the pipeline
    reads, the special column names, the endpoint, the feature names into and out of the
    feature steps), the study horizons, the training size and a SHA-256 of the training
    tables (to tell later which data a model came from; the data are not stored).

Security: unpickling runs code, so a ``.pkl`` from someone else can do anything your
account can. :func:`load_pipeline` therefore checks the SHA-256 of ``pipeline.pkl``
against the manifest BEFORE unpickling: that catches a damaged or swapped file, but not
someone who rewrites both files. To trust a model received from elsewhere, obtain its
hash through another channel (the paper's supplement, a signed message) and pass it as
``expected_sha256=``: then nothing is unpickled unless the file is exactly the one
published. Only load models you trust.

Compatibility: a model written by another MAJOR version of survrad is refused
(:class:`~survrad.exceptions.ConfigError`); so is a manifest whose column contract differs
from the pickled pipeline's. Applying a model to data without one of its columns is a
:class:`~survrad.exceptions.SchemaError` naming the file and the columns
(:func:`check_columns`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from survrad.data.cohort import Cohort, ColumnNames
from survrad.exceptions import ConfigError, NotFittedError, SchemaError, format_values

__all__ = ["FORMAT", "check_columns", "column_contract", "contract_columns", "load_pipeline",
           "read_manifest", "save_pipeline", "training_data_hash", "versions"]

#: Version of the saved-model layout (bumped when the files change meaning).
FORMAT = 1
PIPELINE_FILE = "pipeline.pkl"
MANIFEST_FILE = "manifest.json"
_LIBRARIES = ("numpy", "pandas", "scipy", "scikit-learn")
#: Lesion roles that are outcomes: never required to apply a model.
_LESION_OUTCOME_ROLES = ("lesion_response", "diameter_followup")
_LESION_ROLES = ("timepoint", "organ", "volume", "diameter", "is_target", "irradiated",
                 "rt_dose", "scan_date", "scan_time", "short_axis")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:  # pragma: no cover - survrad run from a checkout
        return "unknown"


def versions() -> dict[str, str]:
    """Versions of survrad, Python and the libraries a pickled pipeline depends on."""
    out = {"survrad": _version("survrad"), "python": platform.python_version()}
    out.update({lib: _version(lib) for lib in _LIBRARIES})
    return out


def _major(version: str) -> str:
    return version.split(".")[0]


# ---------------------------------------------------------------------- contract
def _strategy_outputs(fitted: Any) -> list[str]:
    return [] if fitted.strategy_ is None else list(fitted.strategy_.get_feature_names_out())


def column_contract(fitted: Any, cohort: Cohort) -> dict[str, Any]:
    """The columns ``fitted`` (trained on ``cohort``) reads, as a JSON-ready dict.

    Keys: ``patient_columns`` (predictors, formula variables and batch columns),
    ``lesion_columns`` (lesion features and the non-outcome lesion roles present in the
    training lesion table, for lesion strategies), ``columns`` (the special column names),
    ``endpoint`` (name, kind and outcome columns), ``feature_names_in`` and
    ``feature_names_out`` (into the feature steps and into the model).

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=80, random_state=0)
    >>> pipe = sr.CohortPipeline(patient_features=["age", "ecog"]).fit(c, "os")
    >>> column_contract(pipe, c)["patient_columns"]
    ['age', 'ecog']
    """
    if not hasattr(fitted, "model_"):
        raise NotFittedError("only a fitted pipeline has a column contract: call "
                             "fit(cohort, endpoint) first.")
    made = set(_strategy_outputs(fitted))
    if fitted.formula_variables_ is not None:
        numeric, categorical = fitted.formula_variables_
        patient = [*numeric, *categorical]
    else:
        patient = [c for c in fitted.feature_names_in_ if c not in made]
    batch = sorted({getattr(s, "batch_col", None) for s in fitted.steps_} - {None})
    patient += [b for b in batch if b not in patient]
    lesion: list[str] = []
    if fitted.strategy_ is not None and cohort.lesions is not None:
        roles = [getattr(cohort.columns, r) for r in _LESION_ROLES]
        lesion = [*cohort.lesion_features,
                  *[c for c in roles if c in cohort.lesions.columns]]
    ep = cohort.endpoint(fitted.endpoint_)
    return {"patient_columns": [str(c) for c in patient],
            "lesion_columns": [str(c) for c in dict.fromkeys(lesion)],
            "columns": dataclasses.asdict(cohort.columns),
            "endpoint": {"name": ep.name, "kind": ep.kind, "time": ep.time,
                         "event": ep.event, "target": ep.target},
            "feature_names_in": [str(c) for c in fitted.feature_names_in_],
            "feature_names_out": [str(c) for c in fitted.feature_names_out_]}


def check_columns(contract: dict[str, Any], cohort: Cohort, *, outcome: bool = False) -> None:
    """Refuse a cohort that lacks a column of ``contract`` (a named SchemaError).

    Parameters
    ----------
    contract : dict
        From :func:`column_contract` (or a saved manifest's ``contract``).
    cohort : Cohort
        The patients to score.
    outcome : bool, default False
        Also require the endpoint's outcome columns (validation rather than prediction).

    Raises
    ------
    SchemaError
        Naming the table, the first missing column, and every missing one.

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=80, random_state=0)
    >>> pipe = sr.CohortPipeline(patient_features=["age", "ecog"]).fit(c, "os")
    >>> check_columns(column_contract(pipe, c), c, outcome=True)
    """
    need = list(contract["patient_columns"])
    if outcome:
        ep = contract["endpoint"]
        need += [c for c in (ep["time"], ep["event"], ep["target"]) if c is not None]
    missing = [c for c in need if c not in cohort.patients.columns]
    if missing:
        raise SchemaError(
            f"the model needs patient column(s) {format_values(missing)} that these data "
            "lack; give them (same names as in the training data).",
            file=cohort.source.get("patients", "patients"), column=missing[0], values=missing)
    need_lesions = list(contract["lesion_columns"])
    if not need_lesions:
        return
    if cohort.lesions is None:
        raise SchemaError("the model aggregates lesions but these data have no lesion "
                          "table; give the lesion table.", file="lesions",
                          column=need_lesions[0], values=need_lesions)
    missing = [c for c in need_lesions if c not in cohort.lesions.columns]
    if missing:
        raise SchemaError(
            f"the model needs lesion column(s) {format_values(missing)} that these data "
            "lack; give them (same names as in the training data).",
            file=cohort.source.get("lesions", "lesions"), column=missing[0], values=missing)


def training_data_hash(cohort: Cohort) -> str:
    """SHA-256 of a cohort's tables (values, column names and row labels), in hex.

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=30, random_state=0)
    >>> training_data_hash(c) == training_data_hash(sr.simulate_cohort(30, random_state=0))
    True
    """
    h = hashlib.sha256()
    for table in (cohort.patients, cohort.lesions):
        if table is None:
            h.update(b"<none>")
            continue
        h.update(json.dumps([str(c) for c in table.columns]).encode())
        h.update(pd.util.hash_pandas_object(table, index=True).to_numpy().tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------- save / load
def save_pipeline(fitted: Any, path: str | os.PathLike, cohort: Cohort, *,
                  horizons: Sequence[float] = (), force: bool = False) -> Path:
    """Write a fitted pipeline and its manifest into the folder ``path``.

    Parameters
    ----------
    fitted : CohortPipeline
        Fitted on ``cohort``.
    path : path
        A new folder (or, with ``force``, one survrad wrote), written atomically through
        :func:`survrad._outputs.output_folder`.
    cohort : Cohort
        The training cohort: its column contract and a hash of its tables are recorded (no
        row of it is stored).
    horizons : sequence of float, default ()
        Times at which ``survrad predict`` gives survival probabilities.
    force : bool, default False
        Replace an existing folder that survrad wrote.

    Returns
    -------
    pathlib.Path
        The folder.

    Examples
    --------
    >>> import tempfile, pathlib, survrad as sr
    >>> c = sr.simulate_cohort(n_patients=80, random_state=0)
    >>> pipe = sr.CohortPipeline(patient_features=["age", "ecog"]).fit(c, "os")
    >>> folder = save_pipeline(pipe, pathlib.Path(tempfile.mkdtemp()) / "model", c,
    ...                        horizons=[12])
    >>> sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    ['manifest.json', 'pipeline.pkl']
    """
    from survrad._outputs import atomic_write_bytes, atomic_write_text, output_folder

    contract = column_contract(fitted, cohort)
    check_columns(contract, cohort, outcome=True)
    blob = pickle.dumps(fitted, protocol=5)
    y = cohort.y(fitted.endpoint_)
    events = int(np.sum(y["event"] if fitted.endpoint_kind_ == "survival" else y))
    manifest = {"survrad_model_format": FORMAT, "versions": versions(),
                "pipeline_file": PIPELINE_FILE,
                "pipeline_sha256": hashlib.sha256(blob).hexdigest(),
                "contract": contract, "horizons": [float(h) for h in horizons],
                "training": {"n_patients": cohort.n_patients, "n_events": events,
                             "n_lesions": cohort.n_lesions,
                             "data_sha256": training_data_hash(cohort)},
                "security": "pipeline.pkl is a pickle: loading it runs code. survrad checks "
                            "pipeline_sha256 before unpickling; load only models you trust "
                            "and compare the hash with one published by their authors."}
    with output_folder(path, force=force, kind="model", command="save_pipeline") as out:
        atomic_write_bytes(out.path / PIPELINE_FILE, blob)
        atomic_write_text(out.path / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return Path(path).resolve()


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The manifest of a saved model folder (nothing is unpickled).

    Raises
    ------
    ConfigError
        No such folder, no manifest, or a manifest that is not survrad's.
    """
    folder = Path(path)
    file = folder / MANIFEST_FILE
    if not folder.is_dir():
        raise ConfigError(f"{str(folder)!r} is not a saved model folder (expected a folder "
                          f"with {MANIFEST_FILE} and {PIPELINE_FILE}, written by "
                          "CohortPipeline.save).", file=str(folder))
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the model manifest: {exc}.", file=str(file)) from None
    if not isinstance(manifest, dict) or "survrad_model_format" not in manifest:
        raise ConfigError("not a survrad model manifest (no survrad_model_format).",
                          file=str(file))
    return manifest


def _check_manifest(manifest: dict[str, Any], file: str) -> None:
    fmt = manifest.get("survrad_model_format")
    if fmt != FORMAT:
        raise ConfigError(f"model format {fmt!r}; this survrad reads format {FORMAT}. Refit "
                          "the model with this survrad version.", file=file,
                          key="survrad_model_format")
    saved = str(manifest.get("versions", {}).get("survrad", "unknown"))
    mine = versions()["survrad"]
    if _major(saved) != _major(mine):
        raise ConfigError(f"the model was saved by survrad {saved} and this is survrad "
                          f"{mine}: a different major version may compute differently. "
                          f"Refit the model with survrad {mine}, or install survrad "
                          f"{_major(saved)}.x to use it.", file=file, key="versions.survrad")


def load_pipeline(path: str | os.PathLike, *, expected_sha256: str | None = None,
                  cohort: Cohort | None = None) -> Any:
    """Read a pipeline saved by :meth:`CohortPipeline.save` (see the module docstring).

    Parameters
    ----------
    path : path
        The saved model folder.
    expected_sha256 : str, optional
        The SHA-256 of ``pipeline.pkl`` obtained from a trusted source; the file is not
        unpickled unless it matches.
    cohort : Cohort, optional
        Data the model will be applied to: refused (SchemaError) when a column of the
        contract is missing.

    Returns
    -------
    CohortPipeline
        Fitted; ``saved_manifest_`` holds the manifest.

    Raises
    ------
    ConfigError
        No manifest, another model format or major survrad version, a pipeline file whose
        SHA-256 differs from the manifest's or from ``expected_sha256``, a manifest
        contract that does not match the pickled pipeline.
    SchemaError
        ``cohort`` lacks a column of the contract.

    Examples
    --------
    >>> import tempfile, pathlib, survrad as sr
    >>> c = sr.simulate_cohort(n_patients=80, random_state=0)
    >>> pipe = sr.CohortPipeline(patient_features=["age", "ecog"]).fit(c, "os")
    >>> folder = pipe.save(pathlib.Path(tempfile.mkdtemp()) / "model", c)
    >>> again = sr.load_pipeline(folder)
    >>> bool((again.predict_risk(c) == pipe.predict_risk(c)).all())
    True
    """
    manifest = read_manifest(path)
    file = str(Path(path) / MANIFEST_FILE)
    _check_manifest(manifest, file)
    pkl = Path(path) / PIPELINE_FILE
    try:
        blob = pkl.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the pipeline file: {exc}.", file=str(pkl)) from None
    digest = hashlib.sha256(blob).hexdigest()
    if digest != manifest.get("pipeline_sha256"):
        raise ConfigError(f"{PIPELINE_FILE} has SHA-256 {digest} but the manifest records "
                          f"{manifest.get('pipeline_sha256')}: the file was changed or "
                          "damaged after saving. It was NOT loaded (a pickle runs code).",
                          file=str(pkl), key="pipeline_sha256")
    if expected_sha256 is not None and digest != str(expected_sha256).lower():
        raise ConfigError(f"{PIPELINE_FILE} has SHA-256 {digest}, not the expected "
                          f"{expected_sha256}. It was NOT loaded (a pickle runs code).",
                          file=str(pkl), key="expected_sha256")
    fitted = pickle.loads(blob)   # the hash was checked above: see the module docstring
    _check_pipeline(fitted, manifest, file)
    fitted.saved_manifest_ = manifest
    if cohort is not None:
        check_columns(manifest["contract"], cohort)
    return fitted


def _check_pipeline(fitted: Any, manifest: dict[str, Any], file: str) -> None:
    from survrad.models.pipeline import CohortPipeline

    if not isinstance(fitted, CohortPipeline) or not hasattr(fitted, "model_"):
        raise ConfigError(f"{PIPELINE_FILE} does not hold a fitted CohortPipeline "
                          f"({type(fitted).__name__}).", file=file)
    contract = manifest.get("contract", {})
    for key, mine in (("feature_names_in", fitted.feature_names_in_),
                      ("feature_names_out", fitted.feature_names_out_)):
        if [str(c) for c in mine] != contract.get(key):
            raise ConfigError(f"the manifest's {key} {contract.get(key)} differ from the "
                              f"pipeline's {list(mine)}: the manifest was edited or belongs "
                              "to another model.", file=file, key=f"contract.{key}")
    if contract.get("endpoint", {}).get("name") != fitted.endpoint_:
        raise ConfigError("the manifest's endpoint differs from the pipeline's.", file=file,
                          key="contract.endpoint")


def contract_columns(manifest: dict[str, Any]) -> ColumnNames:
    """The special column names recorded in a manifest, as :class:`ColumnNames`."""
    return ColumnNames(**manifest["contract"]["columns"])

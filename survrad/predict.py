"""``survrad predict``: score new patients with a saved model (layer 7, the command body).

:func:`predict_command` reads a model folder written by ``CohortPipeline.save`` (checked
as :func:`survrad.load_pipeline` does: format, major version, SHA-256 of the pickle
before it is unpickled), reads the new patients (and lesions) with the column names and
features of the model's contract, refuses data without a column the model reads, and
writes one CSV row per patient:

``patient_id``, ``risk`` (Cox: the linear predictor, centred at the training means;
binary models: the predicted probability), and for survival endpoints ``survival@h``
(predicted survival probability at each study horizon saved with the model). For a
lesion strategy with lesion-level scores (``lesion_scores``: E and D and F) a second CSV,
``<name>_lesions.csv`` beside the first, holds ``patient_id``, ``lesion_id``, ``score``.

Outputs follow :mod:`survrad._outputs`: a file is never written over an input (the
patient or lesion table, a file of the model folder), an existing file is replaced only
with ``force``, and every file is written atomically (a temporary file, then a rename).
Outcome columns are not needed; when present they are read (and checked) but not used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from survrad._outputs import atomic_write_text
from survrad.data.cohort import Cohort, ColumnNames
from survrad.data.io import read_cohort
from survrad.exceptions import ConfigError
from survrad.models.persistence import contract_columns, load_pipeline, read_manifest

__all__ = ["predict_command", "predict_frame", "resolve_model"]


def _lesion_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}_lesions{out.suffix or '.csv'}")


def _check_output(out: Path, inputs: Sequence[Path], force: bool) -> None:
    """Refuse an output that is an input, a folder, a link, or exists without ``force``."""
    resolved = out.parent.resolve() / out.name
    for p in inputs:
        if resolved == p.resolve():
            raise ConfigError(f"{str(out)!r} is an input ({str(p)!r}); survrad never writes "
                              "over its inputs. Choose another output file.", key="out")
    if out.is_symlink():
        raise ConfigError(f"{str(out)!r} is a symbolic link; survrad never writes through a "
                          "link. Give a new file name.", key="out")
    if out.is_dir():
        raise ConfigError(f"{str(out)!r} is a folder; give a file name such as "
                          "predictions.csv.", key="out")
    if out.exists() and not force:
        raise ConfigError(f"{str(out)!r} exists; pass force=True (--force) to replace it, or "
                          "choose another file.", key="out")


def _read_new(manifest: dict[str, Any], patients: Any, lesions: Any) -> Cohort:
    contract = manifest["contract"]
    cols = contract_columns(manifest)
    patient_features = [c for c in contract["patient_columns"]
                        if c not in (cols.center, cols.split)]
    lesion_features = None
    if contract["lesion_columns"]:
        roles = {getattr(cols, f.name) for f in cols.__dataclass_fields__.values()}
        lesion_features = [c for c in contract["lesion_columns"] if c not in roles]
    ep = contract["endpoint"]
    outcome = [c for c in (ep["time"], ep["event"], ep["target"]) if c is not None]
    have = set(_columns_of(patients))
    has_outcome = all(c in have for c in outcome)
    endpoints = {ep["name"]: (ep["time"], ep["event"]) if ep["kind"] == "survival"
                 else ep["target"]} if has_outcome else {}
    return read_cohort(patients, lesions, patient_features=patient_features,
                       lesion_features=lesion_features or None, endpoints=endpoints,
                       columns=_renamed(cols), split_values=None)   # not read to predict


def _renamed(cols: ColumnNames) -> dict[str, str]:
    """The special columns the training data renamed (mapped roles must exist)."""
    default = ColumnNames()
    return {f: getattr(cols, f) for f in default.__dataclass_fields__
            if getattr(cols, f) != getattr(default, f)}


def _columns_of(source: Any) -> list[str]:
    """Column names of a patient table (a DataFrame, or the header of a file)."""
    if isinstance(source, pd.DataFrame):
        return [str(c) for c in source.columns]
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return [str(c) for c in pd.read_csv(path, nrows=0,
                                            sep="\t" if suffix == ".tsv" else ",").columns]
    return [str(c) for c in pd.read_parquet(path).columns]


def predict_frame(fitted: Any, cohort: Cohort, horizons: Sequence[float] = ()
                  ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(patient predictions, lesion scores or None) of ``fitted`` on ``cohort``.

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=60, random_state=0)
    >>> pipe = sr.CohortPipeline(patient_features=["age", "ecog"]).fit(c, "os")
    >>> list(predict_frame(pipe, c, [12])[0].columns)
    ['patient_id', 'risk', 'survival@12']
    """
    X = fitted.transform(cohort)
    pid = cohort.columns.patient_id
    out = pd.DataFrame({pid: cohort.patient_ids.to_numpy(),
                        "risk": fitted._risk_from_design(X)})
    if fitted.endpoint_kind_ == "survival" and len(horizons):
        hz = np.asarray(horizons, dtype=float)
        surv = fitted._survival_from_design(X, hz)
        for k, h in enumerate(hz):
            out[f"survival@{h:g}"] = surv[:, k]
    lesion = None
    strategy = fitted.strategy_
    if strategy is not None and hasattr(strategy, "lesion_scores"):
        lesion = strategy.lesion_scores(cohort).reset_index(drop=True)
    return out, lesion


def resolve_model(model: str | os.PathLike, pipeline: str | None = None) -> Path:
    """The saved-model folder that ``model`` (and ``pipeline``) name.

    ``model`` is a saved model folder (``manifest.json`` and ``pipeline.pkl``, written by
    ``CohortPipeline.save``), one of those two files, a ``model/`` folder written by
    ``survrad fit`` (with ``index.json``), or the folder ``survrad fit`` wrote (holding
    ``model/``). In the last two cases ``pipeline`` names the pipeline
    (``<endpoint>_<strategy>_<model>``, as listed in ``index.json``); it may be left out
    when the index holds only one.

    Raises
    ------
    ConfigError
        No such path, not a saved model, an unknown pipeline name (with the names and a
        close match), or a pipeline name for a single saved model.

    Examples
    --------
    >>> import tempfile, pathlib, survrad as sr
    >>> c = sr.simulate_cohort(n_patients=60, random_state=0)
    >>> pipe = sr.CohortPipeline(patient_features=["age", "ecog"]).fit(c, "os")
    >>> folder = pipe.save(pathlib.Path(tempfile.mkdtemp()) / "m", c)
    >>> resolve_model(folder / "manifest.json") == folder
    True
    """
    from survrad._validation import close_matches
    from survrad.fit import INDEX_FILE, MODEL_FOLDER, read_index
    from survrad.models.persistence import MANIFEST_FILE, PIPELINE_FILE

    path = Path(model)
    if not path.exists():
        raise ConfigError(f"no such file or folder {str(path)!r}: give a saved model folder "
                          f"or the {MODEL_FOLDER}/ folder written by `survrad fit`.",
                          file=str(path), key="model")
    if path.is_file():
        if path.name not in (MANIFEST_FILE, PIPELINE_FILE):
            raise ConfigError(f"{str(path)!r} is not a saved model: give the model folder "
                              f"(with {MANIFEST_FILE} and {PIPELINE_FILE}) or its "
                              f"{MANIFEST_FILE}.", file=str(path), key="model")
        path = path.parent
    if (path / MANIFEST_FILE).is_file():
        if pipeline is not None:
            raise ConfigError(f"{str(path)!r} is a single saved model; --pipeline chooses "
                              f"among the models of a {MODEL_FOLDER}/ folder with "
                              f"{INDEX_FILE}.", file=str(path), key="pipeline")
        return path
    if not (path / INDEX_FILE).is_file() and (path / MODEL_FOLDER / INDEX_FILE).is_file():
        path = path / MODEL_FOLDER
    index = read_index(path)
    names = [p["name"] for p in index["pipelines"]]
    if pipeline is None:
        if len(names) == 1:
            return path / index["pipelines"][0]["folder"]
        raise ConfigError(f"{str(path)!r} holds {len(names)} pipelines; choose one with "
                          f"--pipeline NAME: {names}.", file=str(path), key="pipeline")
    for entry in index["pipelines"]:
        if entry["name"] == pipeline:
            return path / entry["folder"]
    hint = close_matches(pipeline, names)
    did = f" Did you mean {hint[0]!r}?" if hint else ""
    raise ConfigError(f"no pipeline {pipeline!r} in {str(path / INDEX_FILE)!r}; pipelines: "
                      f"{names}.{did}", file=str(path / INDEX_FILE), key="pipeline")


def predict_command(model_dir: str | os.PathLike, patients: str | os.PathLike,
                    lesions: str | os.PathLike | None = None,
                    out: str | os.PathLike = "predictions.csv", *, force: bool = False,
                    expected_sha256: str | None = None,
                    pipeline: str | None = None) -> list[Path]:
    """Score the patients of ``patients`` (and ``lesions``) with a saved model.

    Parameters
    ----------
    model_dir : path
        A saved model (folder written by ``CohortPipeline.save``, or its manifest), or
        the ``model/`` folder written by ``survrad fit`` with ``pipeline`` (see
        :func:`resolve_model`).
    patients, lesions : path
        New patient table (and lesion table for a lesion strategy), with the columns the
        model reads (its manifest's contract).
    out : path, default "predictions.csv"
        The CSV to write.
    force : bool, default False
        Replace an existing output file.
    expected_sha256 : str, optional
        Trusted hash of the pickled pipeline (see :mod:`survrad.models.persistence`).
    pipeline : str, optional
        The pipeline of a ``survrad fit`` folder (``<endpoint>_<strategy>_<model>``).

    Returns
    -------
    list of pathlib.Path
        The files written (the patient CSV, then the lesion CSV when there is one).

    Raises
    ------
    ConfigError
        The output is an input, a folder, a link, or exists without ``force``; the model
        is not found or not loadable (format, version, hash), or ``pipeline`` is unknown.
    SchemaError
        The new data lack a column the model reads, or fail the checks of ``read_cohort``.

    Examples
    --------
    >>> import tempfile, pathlib, survrad as sr
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> c = sr.simulate_cohort(n_patients=60, random_state=0)
    >>> pipe = sr.CohortPipeline(patient_features=["age", "ecog"]).fit(c, "os")
    >>> model = pipe.save(root / "model", c, horizons=[12])
    >>> c.patients.reset_index().to_csv(root / "new.csv", index=False)
    >>> [p.name for p in predict_command(model, root / "new.csv", out=root / "pred.csv")]
    ['pred.csv']
    """
    model_dir = resolve_model(model_dir, pipeline)
    manifest = read_manifest(model_dir)
    out = Path(out)
    inputs = [Path(patients), *([Path(lesions)] if lesions is not None else []),
              *(p for p in model_dir.iterdir() if p.is_file())]
    lesion_out = _lesion_path(out)
    _check_output(out, inputs, force)
    fitted = load_pipeline(model_dir, expected_sha256=expected_sha256)
    cohort = _read_new(manifest, patients, lesions)
    from survrad.models.persistence import check_columns

    check_columns(manifest["contract"], cohort)
    table, lesion_table = predict_frame(fitted, cohort, manifest.get("horizons", ()))
    written = []
    if lesion_table is not None:
        _check_output(lesion_out, inputs, force)
    atomic_write_text(out, table.to_csv(index=False, lineterminator="\n"))
    written.append(out)
    if lesion_table is not None:
        atomic_write_text(lesion_out, lesion_table.to_csv(index=False, lineterminator="\n"))
        written.append(lesion_out)
    return written

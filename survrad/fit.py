"""``survrad fit``: fit a study's pipelines on the whole cohort and save them (layer 7).

:func:`fit_command` checks the study exactly as ``survrad run`` does
(:func:`survrad.study.load_study`: settings, data, pipelines), fits every pipeline of
every endpoint and model on the whole cohort, and writes into the folder ``out``::

    out/model/index.json                  which folder holds which pipeline
    out/model/<endpoint>_<strategy>_<model>/manifest.json, pipeline.pkl

Each pipeline folder is a saved model (:func:`survrad.models.persistence.save_pipeline`:
the pickled fitted pipeline, its column contract, versions, the SHA-256 of the pickle and
of the training data, the endpoint's study horizons), so ``survrad predict
out/model/<name>`` or ``survrad predict out/model --pipeline <name>`` scores new patients
with it. ``index.json`` records, per pipeline, its folder, endpoint, strategy, model,
endpoint kind, horizons and the SHA-256 of its pickle, and for the study its file, the
study horizons per endpoint and the random state.

Seeds: an estimator left unseeded in the study (a forest, the folds of a cross-validated
penalty) is seeded as the validation engine seeds its fit on the whole cohort
(``SeedSequence`` of the study's ``random_state``, through
:func:`survrad._validation.seed_unseeded`), so the saved model is the fit whose apparent
performance and coefficients ``survrad run`` reports for the same study.

The folder follows :mod:`survrad._outputs`: refused when it holds the study or a data
file, when it exists and survrad did not write it, or (without ``force``) when it exists
at all; written into a temporary sibling and renamed into place with a manifest of every
file; a failed run leaves ``<out>.failed-<time>``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone

from survrad._outputs import atomic_write_text, check_target, file_sha256, output_folder
from survrad._validation import seed_unseeded, spawn_seeds
from survrad.exceptions import ConfigError
from survrad.models.persistence import read_manifest, save_pipeline, versions

__all__ = ["INDEX_FILE", "MODEL_FOLDER", "fit_command", "read_index"]

#: The subfolder of ``survrad fit``'s output holding the saved pipelines.
MODEL_FOLDER = "model"
#: The file of :data:`MODEL_FOLDER` saying which folder holds which pipeline.
INDEX_FILE = "index.json"
#: Version of the index layout.
INDEX_FORMAT = 1


def _entries(plan: Any) -> list[dict[str, Any]]:
    """One entry per pipeline of the study (endpoint, strategy, model, folder name)."""
    out: list[dict[str, Any]] = []
    seen: dict[str, tuple[str, str, str]] = {}
    for endpoint, by_model in plan.pipelines.items():
        horizons = [float(h) for h in plan.config["endpoints"][endpoint]["horizons"]]
        for model, pipes in by_model.items():
            for strategy, pipe in pipes.items():
                name = f"{endpoint}_{strategy}_{model}"
                if name in seen:
                    raise ConfigError(
                        f"pipelines {seen[name]} and {(endpoint, strategy, model)} would be "
                        f"saved under the same name {name!r}; rename a strategy or an "
                        "endpoint.", file=plan.file)
                seen[name] = (endpoint, strategy, model)
                out.append({"name": name, "endpoint": endpoint, "strategy": strategy,
                            "model": model, "horizons": horizons, "pipeline": pipe})
    return out


def fit_command(study: str | os.PathLike, out: str | os.PathLike, *, force: bool = False,
                command: Sequence[str] | None = None) -> Path:
    """Fit every pipeline of ``study`` on its whole cohort and save them under ``out``.

    Parameters
    ----------
    study : path
        The study file (TOML), checked as ``survrad run`` checks it.
    out : path
        A new folder (or, with ``force``, one survrad wrote and nobody changed); the
        saved pipelines go into ``out/model/`` (see the module docstring).
    force : bool, default False
        Replace an existing folder that survrad wrote.
    command : sequence of str, optional
        The command line, recorded in the folder's lock.

    Returns
    -------
    pathlib.Path
        The folder ``out`` (resolved).

    Raises
    ------
    ConfigError
        A bad study file (every problem at once), an output folder that may not be
        written (it holds the study or a data file, exists without ``force``, or was not
        written by survrad).
    SchemaError
        The study's data fail their checks.
    FitError
        A pipeline cannot be fitted on the whole cohort.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "study.toml").write_text('''
    ... random_state = 1
    ... [simulate]
    ... n_patients = 80
    ... random_state = 2
    ... [data]
    ... patient_features = ["age", "ecog"]
    ... [endpoints.os]
    ... kind = "survival"
    ... time = "os_time"
    ... event = "os_event"
    ... horizons = [6, 12]
    ... [models.cox]
    ... ''')
    >>> folder = fit_command(root / "study.toml", root / "fitted")
    >>> [p["name"] for p in read_index(folder / "model")["pipelines"]]
    ['os_patient_cox']
    """
    from survrad.study.plan import input_files, load_study, read_study
    from survrad.study.section_external import development_plan

    cfg, _, base = read_study(study)
    protected = [Path(study), *[p for p in input_files(cfg, base).values() if p.exists()]]
    check_target(out, force=force, protected=protected)     # before any work
    # [external] design "split": the saved models are the frozen development models
    plan = development_plan(load_study(study))
    entries = _entries(plan)
    root = spawn_seeds(plan.config.get("random_state"), 1)[0]
    seed = np.random.SeedSequence(root.entropy)   # as the validation engine's whole-cohort fit
    label = " ".join(command) if command else "survrad.fit_command"
    with output_folder(out, force=force, protected=protected, kind="model",
                       command=label) as folder:
        models = folder.path / MODEL_FOLDER
        models.mkdir()
        listed = []
        for entry in entries:
            pipe = entry.pop("pipeline")
            fitted = seed_unseeded(clone(pipe), seed).fit(plan.cohort, entry["endpoint"])
            saved = save_pipeline(fitted, models / entry["name"], plan.cohort,
                                  horizons=entry["horizons"])
            listed.append({**entry, "folder": entry["name"], "kind": fitted.endpoint_kind_,
                           "pipeline_sha256": read_manifest(saved)["pipeline_sha256"]})
        index = {
            "survrad_model_index": INDEX_FORMAT, "survrad": versions()["survrad"],
            "study": plan.file,
            "study_sha256": file_sha256(study) if Path(study).is_file() else None,
            "random_state": plan.config.get("random_state"), "seed_entropy": root.entropy,
            "horizons": {ep: [float(h) for h in spec["horizons"]]
                         for ep, spec in plan.config["endpoints"].items()},
            "pipelines": listed}
        atomic_write_text(models / INDEX_FILE,
                          json.dumps(index, indent=2, default=str) + "\n")
    return folder.target


def read_index(path: str | os.PathLike) -> dict[str, Any]:
    """The ``index.json`` of a ``model/`` folder written by :func:`fit_command`.

    Raises
    ------
    ConfigError
        No index, or a file that is not survrad's model index.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> read_index(pathlib.Path(tempfile.mkdtemp()))
    Traceback (most recent call last):
        ...
    survrad.exceptions.ConfigError: ... has no index.json: give a saved model folder, ...
    """
    file = Path(path) / INDEX_FILE
    if not file.is_file():
        raise ConfigError(f"{str(path)!r} has no {INDEX_FILE}: give a saved model folder, "
                          f"or the {MODEL_FOLDER}/ folder written by `survrad fit`.",
                          file=str(path))
    try:
        index = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the model index: {exc}.", file=str(file)) from None
    if not isinstance(index, dict) or index.get("survrad_model_index") != INDEX_FORMAT:
        raise ConfigError(f"not a survrad model index (format {INDEX_FORMAT}).",
                          file=str(file))
    return index

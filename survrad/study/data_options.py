"""The ``[data]`` options that change how a study reads its tables and builds its pipelines.

Called by :mod:`survrad.study.plan` (one hook per option):

``missing = "error" | "complete_case" | "impute"``
    Passed to :func:`survrad.read_cohort`. Under ``"impute"`` every pipeline that reads
    patient features with a missing value gets an :class:`~survrad.features.Imputer`
    (chained equations, the default) as its first feature step, unless the study lists an
    ``impute`` step itself; every lesion strategy is wrapped in
    :class:`~survrad.lesions.ImputeLesions` (training median) when a lesion feature has a
    missing value, unless the study wraps it itself. Both are fitted on the training rows
    of every resample.
``formula = "..."``
    The patient-level predictors of every pipeline (``CohortPipeline(formula=...)``),
    except the tumour-burden baseline, which has no patient predictors. Without
    ``patient_features`` the formula's numeric variables are read as the patient
    features (so that ``missing`` applies to them); categorical variables (``C(x)`` or
    text columns) are read as they are and must be complete.
``lesions_format = "pyradiomics"`` with ``id_pattern`` or ``id_map``
    The lesion file is a PyRadiomics batch output, read by
    :func:`survrad.read_pyradiomics`; without ``lesion_features`` its feature columns are
    the lesion features.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from survrad.exceptions import ConfigError, SchemaError
from survrad.features import Imputer
from survrad.lesions import ImputeLesions
from survrad.models.pipeline import CohortPipeline
from survrad.study.schema import DataConfig, problems_error

__all__ = ["adapt_pipelines", "read_arguments"]


def read_arguments(data: DataConfig, files: Mapping[str, Path], file: str
                   ) -> dict[str, Any]:
    """The ``read_cohort`` arguments the ``[data]`` options decide.

    ``missing``; ``patient_features`` (with a formula's numeric variables); ``lesions``
    and ``lesion_features`` for a PyRadiomics lesion file.

    Raises
    ------
    ConfigError
        A formula that does not parse or names a column the patient table lacks (key
        ``data.formula``); id patterns or maps PyRadiomics rows do not match.
    """
    out: dict[str, Any] = {"missing": data.missing,
                           "patient_features": data.patient_features,
                           "lesion_features": data.lesion_features}
    if data.formula is not None:
        numeric = _formula_numeric(data.formula, files["data.patients"], file)
        chosen = list(data.patient_features or [])
        out["patient_features"] = chosen + [v for v in numeric if v not in chosen]
    if "data.lesions" in files:
        out["lesions"] = str(files["data.lesions"])
        if data.lesions_format == "pyradiomics":
            table = _read_pyradiomics(data, files, file)
            out["lesions"] = table.lesions
            if data.lesion_features is None:
                out["lesion_features"] = list(table.features)
    return out


def _formula_numeric(formula: str, patients: Path, file: str) -> list[str]:
    """The formula's numeric variables, by the pipeline's own rule, on the raw table."""
    from survrad.data.io import read_table
    from survrad.models.formula import PatientFormula

    table = read_table(str(patients), name="patients")
    try:
        numeric, _ = PatientFormula(formula).variables(table)
    except (ConfigError, SchemaError) as exc:
        raise problems_error([("data.formula", str(exc))], file) from exc
    return numeric


def _read_pyradiomics(data: DataConfig, files: Mapping[str, Path], file: str) -> Any:
    from survrad.data.pyradiomics import read_pyradiomics

    id_map = str(files["data.id_map"]) if "data.id_map" in files else None
    try:
        return read_pyradiomics(str(files["data.lesions"]), id_map=id_map,
                                id_pattern=data.id_pattern)
    except ConfigError as exc:
        raise problems_error([("data.id_pattern" if data.id_pattern else "data.id_map",
                               str(exc))], file) from exc


def _has_missing(frame: pd.DataFrame | None, columns: Any) -> bool:
    cols = [c for c in columns if frame is not None and c in frame.columns]
    return bool(cols) and bool(frame[cols].isna().to_numpy().any())


def adapt_pipelines(pipes: Mapping[str, Mapping[str, Mapping[str, CohortPipeline]]],
                    data: DataConfig, cohort: Any
                    ) -> dict[str, dict[str, dict[str, CohortPipeline]]]:
    """The study's pipelines with the formula and the imputation steps of ``[data]``.

    The tumour-burden baseline (no patient predictors) is left as it is. With a formula
    and lesion strategies, a clinical baseline is added when the cohort has no patient
    features (a formula of categorical variables only).
    """
    patient_gaps = data.missing == "impute" and _has_missing(cohort.patients,
                                                             cohort.patient_features)
    lesion_gaps = data.missing == "impute" and _has_missing(cohort.lesions,
                                                            cohort.lesion_features)
    out: dict[str, dict[str, dict[str, CohortPipeline]]] = {}
    for ep, by_model in pipes.items():
        out[ep] = {}
        for model, named in by_model.items():
            adapted = {}
            if (data.formula is not None and "burden" in named and "clinical" not in named):
                first = next(iter(named.values()))
                adapted["clinical"] = CohortPipeline(None, (), first.model)
            adapted.update(named)
            out[ep][model] = {name: _adapt(pipe, name, data.formula, patient_gaps,
                                           lesion_gaps)
                              for name, pipe in adapted.items()}
    return out


def _adapt(pipe: CohortPipeline, name: str, formula: str | None, patient_gaps: bool,
           lesion_gaps: bool) -> CohortPipeline:
    if name == "burden" and pipe.patient_features == ():
        return pipe
    params: dict[str, Any] = {}
    if formula is not None:
        params["formula"] = formula
    steps = list(pipe.features)
    if patient_gaps and not any(isinstance(s, Imputer) for s in steps):
        params["features"] = [Imputer(), *steps]
    strategy = pipe.strategy
    if lesion_gaps and strategy is not None and not isinstance(strategy, ImputeLesions):
        params["strategy"] = ImputeLesions(strategy)
    if not params:
        return pipe
    return CohortPipeline(**{**pipe.get_params(deep=False), **params})


"""A study file -> a checked plan: configuration, cohort and the pipelines to validate.

:func:`load_study` reads nothing it has not checked first: the TOML against the schema
(:mod:`survrad.study.schema`), every estimator's parameters (:mod:`survrad.study.registry`),
then the data (``read_cohort``), then the rules that need the data (strategies need a lesion
table, ``table1_by`` is a complete column, horizons lie inside the follow-up, the bootstrap
fits in memory). Every problem of one stage is reported at once; nothing is computed.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from survrad._spelling import interface
from survrad.data.cohort import Cohort, Endpoint
from survrad.exceptions import ConfigError
from survrad.lesions import TumorBurden
from survrad.models.pipeline import CohortPipeline
from survrad.study.data_options import adapt_pipelines, read_arguments
from survrad.study.registry import (
    FEATURE_STEPS,
    MODELS,
    STRATEGIES,
    Problem,
    build_estimator,
    unknown_choice,
)
from survrad.study.schema import StudyConfig, parse_study, problems_error
from survrad.study.section_longitudinal import longitudinal_cohort, read_endpoints

__all__ = ["DEMO", "StudyPlan", "demo_study_text", "input_files", "load_study", "read_study"]

DEMO = "<demo>"


@dataclasses.dataclass(frozen=True)
class StudyPlan:
    """A checked study: resolved configuration, the cohort and the pipelines to validate.

    ``pipelines`` maps endpoint -> model name -> pipeline name -> CohortPipeline (the
    baselines first); ``inputs`` are the data files read (hashed in the manifest).
    """

    config: Mapping[str, Any]
    file: str
    cohort: Cohort
    pipelines: Mapping[str, Mapping[str, Mapping[str, CohortPipeline]]]
    inputs: tuple[str, ...]
    study: StudyConfig | None = None


def demo_study_text() -> str:
    """The built-in demo study (``survrad run --demo``): the commented example of every
    option, also at ``analyses/demo/study.toml``."""
    from importlib import resources

    return resources.files("survrad.datasets").joinpath("demo_study.toml").read_text("utf-8")


def read_study(path_or_dict: str | Path | Mapping[str, Any] | None
               ) -> tuple[dict[str, Any], str, Path]:
    """The raw study mapping, the name to show for it and the folder paths start from.

    ``None`` is the built-in demo study.
    """
    if path_or_dict is None:
        return tomllib.loads(demo_study_text()), DEMO, Path.cwd()
    if isinstance(path_or_dict, Mapping):
        return copy.deepcopy(dict(path_or_dict)), "<dict>", Path.cwd()
    path = Path(path_or_dict)
    if not path.is_file():
        raise ConfigError("study file not found." if not path.is_dir() else
                          "this is a folder; give the study file (TOML).", file=str(path))
    try:
        cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("not a text file (UTF-8); give the study file (TOML).",
                          file=str(path)) from exc
    return cfg, str(path), path.resolve().parent


def _resolve(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def input_files(cfg: Mapping[str, Any], base: Path) -> dict[str, Path]:
    """The data files a (schema-checked) study names, by TOML key, resolved."""
    data = cfg.get("data") or {}
    return {f"data.{k}": _resolve(data[k], base) for k in ("patients", "lesions", "id_map")
            if data.get(k)}


# ------------------------------------------------------------------ estimators
def _estimators(study: StudyConfig) -> tuple[dict[str, Any], list[Any], dict[str, Any],
                                              list[Problem]]:
    problems: list[Problem] = []
    strategies: dict[str, Any] = {}
    for i, spec in enumerate(study.strategies):
        est, found = build_estimator(STRATEGIES, spec.method, spec.params,
                                     f"strategies[{i}]", "strategy method",
                                     f"strategies[{i}].method")
        problems += found
        if est is not None:
            strategies[spec.name] = est
    steps = []
    for i, spec in enumerate(study.features):
        est, found = build_estimator(FEATURE_STEPS, spec.step, spec.params,
                                     f"features[{i}]", "feature step", f"features[{i}].step")
        problems += found
        steps.append(est)
    models: dict[str, Any] = {}
    for name, params in study.models.items():
        if name not in MODELS:
            problems.append((f"models.{name}", unknown_choice(name, MODELS, "model")))
            continue
        est, found = build_estimator({name: MODELS[name][1]}, name, params,
                                     f"models.{name}", "model", f"models.{name}")
        problems += found
        if est is not None:
            models[name] = est
    problems += _method_problems(study, models)
    return strategies, steps, models, problems


def _method_problems(study: StudyConfig, models: Mapping[str, Any]) -> list[Problem]:
    spec = study.validation.method
    if isinstance(spec, Mapping):
        return [(f"validation.method.{k}", unknown_choice(k, study.models, "model"))
                for k in spec if k not in study.models]
    return []


def _methods(study: StudyConfig, models: Mapping[str, Any]) -> dict[str, str]:
    """The validation method of each model: one for all, a table by model, or defaults.

    A model's default is its ``preferred_validation_method`` (".632+" for forests, which
    the optimism bootstrap under-corrects), else "optimism".
    """
    default = {name: getattr(m, "preferred_validation_method", "optimism")
               for name, m in models.items()}
    spec = study.validation.method
    if spec is None:
        return default
    if isinstance(spec, str):
        return dict.fromkeys(models, spec)
    return {**default, **spec}


# ------------------------------------------------------------------------ data
def _event_map(spec: Mapping[str, Any] | None) -> dict[Any, Any] | None:
    """TOML keys are strings: ``{1 = 0, 2 = 1}`` means the numbers 1 and 2."""
    if spec is None:
        return None

    def key(k: str) -> Any:
        for cast in (int, float):
            try:
                return cast(k)
            except ValueError:
                pass
        return k

    return {key(k): _event_map(v) if isinstance(v, Mapping) else v for k, v in spec.items()}


def _read_data(study: StudyConfig, files: Mapping[str, Path], file: str,
               endpoints: Mapping[str, Endpoint]) -> Cohort:
    from survrad.data.io import read_cohort

    missing = [(k, f"file not found: {str(p)!r} (relative paths are relative to the study "
                   "file)") for k, p in files.items() if not p.is_file()]
    if missing:
        raise problems_error(missing, file)
    data = study.data
    eps = {name: (ep.time, ep.event) if ep.kind == "survival" else ep.target
           for name, ep in endpoints.items()}
    with interface("toml"):
        args = read_arguments(data, files, file)   # missing, formula, lesions_format
        return read_cohort(str(files["data.patients"]), args.pop("lesions", None),
                           **args, endpoints=eps,
                           columns=data.columns, event_map=_event_map(data.event_map),
                           drop_missing_time=data.drop_missing_time,
                           exclude_orphan_lesions=data.exclude_orphan_lesions,
                           strict=data.strict)


def _data_problems(study: StudyConfig, cohort: Cohort, strategies: Mapping[str, Any]
                   ) -> list[Problem]:
    """The rules that need the data: lesions for strategies, table1_by, horizons."""
    out: list[Problem] = []
    if not cohort.has_lesions:
        out += [(f"strategies[{i}]", f"strategy {spec.name!r} ({spec.method}) needs a lesion "
                 "table: add data.lesions, or remove the strategy for a patient-only study")
                for i, spec in enumerate(study.strategies)]
    by = study.report.table1_by
    if by is not None:
        out += _table1_problems(by, cohort)
    for name, ep in study.endpoints.items():
        if ep.kind != "survival" or not ep.horizons:
            continue
        y = cohort.y(name)
        at_risk = [int(np.sum(y["time"] > h)) for h in ep.horizons]
        late = [h for h, n in zip(ep.horizons, at_risk, strict=True) if n < 10]
        if late:
            out.append((f"endpoints.{name}.horizons",
                        f"horizon(s) {late} lie at or beyond the end of follow-up (fewer than "
                        f"10 patients still followed: {at_risk}); the longest follow-up is "
                        f"{float(y['time'].max()):g} {ep.unit}. Choose earlier horizons"))
    return out


def _table1_problems(by: str, cohort: Cohort) -> list[Problem]:
    if by in cohort.endpoints:
        return []
    if by not in cohort.patients.columns:
        return [("report.table1_by", f"{by!r} is neither a patient column nor a binary "
                 f"endpoint; patient columns: {list(cohort.patients.columns)}")]
    col = cohort.patients[by]
    if col.isna().any():
        ids = list(cohort.patient_ids[col.isna().to_numpy()])
        from survrad.exceptions import format_values

        return [("report.table1_by", f"{by!r} is missing for {len(ids)} patient(s) "
                 f"({format_values(ids)}); Table 1 needs a group for every patient: fill "
                 "the column or choose another")]
    if col.nunique() > 10:
        return [("report.table1_by", f"{by!r} has {col.nunique()} distinct values; Table 1 "
                 "columns need a grouping with at most 10 groups")]
    return []


def _memory_problems(study: StudyConfig, n_pipelines: int, n_patients: int) -> list[Problem]:
    """The bootstrap's replicate records must fit comfortably in memory."""
    n_metrics = 6 + 2 * max((len(ep.horizons) for ep in study.endpoints.values()), default=0)
    per_record = 2 * 8 * n_metrics + 600          # two floats per metric, status, reasons
    need = study.validation.n_boot * max(n_pipelines, 1) * per_record \
        + 64 * n_patients * study.validation.n_boot  # resample positions
    try:
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not Linux
        return []
    if need > 0.5 * avail:
        return [("validation.n_boot", f"{study.validation.n_boot} replicates of "
                 f"{n_pipelines} pipelines need about {need / 2**30:.1f} GiB for their "
                 f"records alone, more than half the memory available "
                 f"({avail / 2**30:.1f} GiB); use fewer replicates")]
    return []


# ------------------------------------------------------------------- pipelines
def _pipelines(cohort: Cohort, strategies: Mapping[str, Any], steps: list[Any],
               models: Mapping[str, Any], endpoints: Mapping[str, Endpoint], baselines: bool
               ) -> tuple[dict[str, dict[str, dict[str, CohortPipeline]]], list[Problem]]:
    """endpoint -> model -> pipeline name -> pipeline (baselines first), and problems."""
    out: dict[str, dict[str, dict[str, CohortPipeline]]] = {}
    problems: list[Problem] = []
    for ep_name, ep in endpoints.items():
        out[ep_name] = {}
        for model_name, model in models.items():
            if MODELS[model_name][0] != ep.kind:
                continue
            pipes: dict[str, CohortPipeline] = {}
            if not strategies:
                pipes["patient"] = CohortPipeline(None, steps, model)
            elif baselines:
                if cohort.patient_features:
                    pipes["clinical"] = CohortPipeline(None, (), model)
                pipes["burden"] = CohortPipeline(TumorBurden(), (), model, patient_features=())
            for name, strategy in strategies.items():
                pipes[name] = CohortPipeline(strategy, steps, model)
            out[ep_name][model_name] = pipes
        if not out[ep_name]:
            add = ("[models.cox] or [models.forest]" if ep.kind == "survival"
                   else "[models.logistic] or [models.forest_classifier]")
            problems.append(("models", f"no model for the {ep.kind} endpoint {ep_name!r}: "
                             f"add {add}"))
    return out, problems


def _endpoints(study: StudyConfig) -> dict[str, Endpoint]:
    return {name: Endpoint(name, ep.kind, ep.time, ep.event, ep.target)
            for name, ep in study.endpoints.items()}


def check_config(cfg: Mapping[str, Any], file: str
                 ) -> tuple[StudyConfig, dict[str, Any], list[Any], dict[str, Any]]:
    """Schema and estimator checks (no data read): every problem in one ConfigError."""
    study = parse_study(cfg, file)
    strategies, steps, models, problems = _estimators(study)
    if problems:
        raise problems_error(problems, file)
    return study, strategies, steps, models


def load_study(path_or_dict: str | Path | Mapping[str, Any], *, file: str | None = None,
               base: Path | None = None, cohort: Cohort | None = None) -> StudyPlan:
    """Read and check a study (TOML file or dict) without running anything.

    Parameters
    ----------
    path_or_dict : path or mapping
        The study file, or the equivalent mapping.
    file, base : optional
        The name to show for a mapping (default ``"<dict>"``) and the folder relative
        paths start from (default the working directory).
    cohort : Cohort, optional
        Use this cohort instead of reading ``[data]`` files (a ``[simulate]`` study).

    Raises
    ------
    ConfigError
        Every problem of the study file at once (schema, estimator parameters), then the
        problems that need the data (strategies without lesions, ``table1_by``, horizons
        beyond follow-up, memory).
    SchemaError
        The data fail their checks.
    """
    cfg, file_, base_ = read_study(path_or_dict)
    file, base = file or file_, base or base_
    if "simulate" in cfg and cohort is None:
        from survrad.study.run import simulate_from_config

        cohort = simulate_from_config(cfg, file)
    study, strategies, steps, models = check_config(cfg, file)
    endpoints = _endpoints(study)
    files = input_files(cfg, base) if cohort is None else {}
    if cohort is None:
        cohort = _read_data(study, files, file, read_endpoints(study, endpoints))
    cohort = longitudinal_cohort(study, cohort, file)
    pipes, problems = _pipelines(cohort, strategies, steps, models, endpoints,
                                 study.validation.baselines)
    pipes = adapt_pipelines(pipes, study.data, cohort)   # [data] formula and missing
    problems += _data_problems(study, cohort, strategies)
    from survrad.study.section_external import external_problems  # [external] data rules

    problems += external_problems(study, cohort)
    n_pipes = sum(len(p) for by_model in pipes.values() for p in by_model.values())
    problems += _memory_problems(study, n_pipes, cohort.n_patients)
    if problems:
        raise problems_error(problems, file)
    return StudyPlan(_resolved(study, cohort, models), file, cohort, pipes,
                     tuple(str(p) for p in files.values()), study)


def _resolved(study: StudyConfig, cohort: Cohort, models: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration with every default filled in (the manifest's ``config``)."""
    dumped = study.model_dump(mode="json", exclude={"simulate"})
    dumped["data"].update(patient_features=list(cohort.patient_features),
                          lesion_features=list(cohort.lesion_features))
    dumped["strategies"] = [{"name": s.name, "method": s.method, **s.params}
                            for s in study.strategies]
    dumped["features"] = [{"step": s.step, **s.params} for s in study.features]
    dumped["models"] = {name: m.get_params(deep=False) for name, m in models.items()}
    dumped["validation"]["method"] = _methods(study, models)
    if study.simulate is not None:
        dumped["simulate"] = dict(study.simulate)
    return dumped

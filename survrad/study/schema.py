"""The study file's declared schema (pydantic), checked before anything is computed.

:func:`parse_study` turns the TOML mapping into a frozen :class:`StudyConfig` or raises
ONE :class:`~survrad.exceptions.ConfigError` listing EVERY problem with its TOML path
(``validation.n_boot: must be an integer >= 20, got "200"``). Types are strict (a quoted
number is not a number, ``true`` is not a count); ranges, lengths of names that become
file names and the cross-field rules (metrics against horizons, methods against models)
are declared here. Estimator parameters (``[[strategies]]``, ``[[features]]``,
``[models.*]``) are checked by :mod:`survrad.study.registry` against each estimator's own
signature and parameter checks; data-dependent rules (columns, horizons within follow-up)
by :mod:`survrad.study.plan` once the tables are read.

``docs/study-file.md`` is the reference of every key; a test keeps it in step with this
module.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from survrad.evaluation.bootstrap import MIN_N_BOOT
from survrad.exceptions import ConfigError
from survrad.lesions.decision import MIN_BOOT as MIN_LESION_BOOT

__all__ = [
    "MAX_N_BOOT",
    "MIN_N_BOOT",
    "DataConfig",
    "EndpointConfig",
    "ExternalConfig",
    "LesionDecisionsConfig",
    "ReportConfig",
    "StudyConfig",
    "ValidationConfig",
    "lesion_scoring_names",
    "parse_study",
    "problems_error",
]

#: Most bootstrap replicates a study accepts (memory and time grow linearly with it; the
#: estimate is also checked against the machine's memory once the pipelines are known).
MAX_N_BOOT = 100_000
#: Names that become file names (strategies, endpoints): letters, digits, ``_ - .``.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,59}$"
SURVIVAL_METRICS = ("c_index", "uno_c", "td_auc", "brier", "ibs", "calibration_slope", "ipa",
                    "integrated_auc", "ici")
BINARY_METRICS = ("auc", "brier", "calibration_slope", "ici")
PER_HORIZON = ("td_auc", "brier", "ipa", "ici")
#: Metrics integrated between the first and the last horizon.
INTEGRATED = {"ibs": "integrated Brier score", "integrated_auc": "integrated AUC"}
VALIDATION_METHODS = ("optimism", ".632+", "cv")
#: ``[validation] method`` values that switch on ``[external]`` with that design.
EXTERNAL_SHORTHAND = {"external": "split", "loco": "loco"}

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Text = Annotated[str, StringConstraints(max_length=2000)]
Column = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class _Table(BaseModel):
    """A TOML table: unknown keys and loose types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DataConfig(_Table):
    """``[data]``: the tables and how to read them."""

    patients: Column | None = None
    lesions: Column | None = None
    patient_features: list[Column] | None = None
    lesion_features: list[Column] | None = None
    columns: dict[str, Column] | None = None
    event_map: dict[str, Any] | None = None
    drop_missing_time: bool = False
    exclude_orphan_lesions: bool = False
    strict: bool = False
    missing: Literal["error", "complete_case", "impute"] = "error"
    formula: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None
    lesions_format: Literal["table", "pyradiomics"] = "table"
    id_pattern: Column | dict[str, Column] | None = None
    id_map: Column | None = None

    @field_validator("columns")
    @classmethod
    def _known_roles(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is None:
            return v
        from survrad.data.cohort import ColumnNames

        roles = [f for f in ColumnNames.__dataclass_fields__]
        unknown = sorted(set(v) - set(roles))
        if unknown:
            raise ValueError(f"unknown column role(s) {unknown}; roles: {roles}")
        return v

    @model_validator(mode="after")
    def _pyradiomics_keys(self) -> DataConfig:
        if self.lesions_format == "pyradiomics":
            if self.lesions is None:
                raise ValueError('lesions_format = "pyradiomics" reads the lesion file: give '
                                 'lesions = "pyradiomics.csv"')
        elif self.id_pattern is not None or self.id_map is not None:
            raise ValueError('id_pattern and id_map name the lesions of a PyRadiomics batch '
                             'file: set lesions_format = "pyradiomics" too')
        return self


class EndpointConfig(_Table):
    """``[endpoints.<name>]``: a survival (time, event) or binary (target) endpoint."""

    kind: Literal["survival", "binary"] = "survival"
    time: Column | None = None
    event: Column | None = None
    target: Column | None = None
    horizons: list[Annotated[float, Field(gt=0, allow_inf_nan=False)]] = []
    unit: Annotated[str, StringConstraints(min_length=1, max_length=40)] = "months"
    from_scans: bool = False
    landmark: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _columns_of_kind(self) -> EndpointConfig:
        if self.kind == "survival":
            missing = [k for k in ("time", "event") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"a survival endpoint needs {' and '.join(missing)} "
                                 "(the column names)")
            if self.target is not None:
                raise ValueError("target is for binary endpoints; a survival endpoint has "
                                 "time and event")
        else:
            if self.target is None:
                raise ValueError("a binary endpoint needs target (the 0/1 column)")
            if self.horizons:
                raise ValueError("horizons are for survival endpoints")
        if len(set(self.horizons)) != len(self.horizons):
            raise ValueError(f"horizons repeat a value: {self.horizons}")
        from survrad.study.section_longitudinal import endpoint_problem

        problem = endpoint_problem(self)
        if problem:
            raise ValueError(problem)
        return self


class ValidationConfig(_Table):
    """``[validation]``: how every pipeline is validated."""

    n_boot: Annotated[int, Field(ge=MIN_N_BOOT, le=MAX_N_BOOT)] = 200
    method: str | dict[str, str] | None = None
    metrics: list[str] | None = None
    n_folds: Annotated[int, Field(ge=2, le=50)] = 5
    n_jobs: int | None = None
    ci_level: Annotated[float, Field(gt=0, lt=1)] = 0.95
    max_failed: Annotated[float, Field(ge=0, le=0.5)] = 0.10
    baselines: bool = True
    backend: Literal["loky", "dask"] | None = None
    scheduler: Annotated[str, StringConstraints(min_length=1)] | None = None

    @field_validator("n_jobs")
    @classmethod
    def _n_jobs(cls, v: int | None) -> int | None:
        return check_n_jobs(v)

    @field_validator("method")
    @classmethod
    def _method(cls, v: str | dict[str, str] | None) -> str | dict[str, str] | None:
        values = [v] if isinstance(v, str) else list((v or {}).values())
        bad = [m for m in values if m not in VALIDATION_METHODS]
        if bad:
            short = (', or "external" / "loco" for one method of all models (the '
                     "[external] section)" if bad[0] in EXTERNAL_SHORTHAND else "")
            raise ValueError(f"method must be one of {list(VALIDATION_METHODS)}{short}, got "
                             f"{bad[0]!r}")
        return v

    @model_validator(mode="after")
    def _scheduler_needs_dask(self) -> ValidationConfig:
        if self.scheduler is not None and self.backend != "dask":
            raise ValueError('scheduler is the address of a Dask cluster: set backend = '
                             '"dask" too')
        return self


def check_n_jobs(v: int | None) -> int | None:
    """``None``, a positive count, or joblib's negatives (-1 = every core); never 0."""
    if v is None:
        return v
    if v == 0 or v < -(os.cpu_count() or 1):
        raise ValueError(f"n_jobs must be a positive number of processes, or -1 for every "
                         f"core (-2 all but one, ...); got {v}")
    return v


class LesionDecisionsConfig(_Table):
    """``[report.lesion_decisions]``: the "Lesion decisions" section (off by default)."""

    strategy: Name | None = None
    n_boot: Annotated[int, Field(ge=MIN_LESION_BOOT, le=MAX_N_BOOT)] = 200
    ci_level: Annotated[float, Field(gt=0, lt=1)] | None = None


def lesion_scoring_names(strategies: Any) -> list[str]:
    """Names of the study's strategies that score lesions, in study order.

    ``strategies`` is the raw ``[[strategies]]`` list (entries that do not parse are
    skipped).

    Examples
    --------
    >>> lesion_scoring_names([{"name": "C", "method": "statistics"},
    ...                       {"name": "E", "method": "lesion_risk"}])
    ['E']
    """
    from survrad.study.registry import STRATEGIES

    specs = strategies if isinstance(strategies, list) else []
    return [s["name"] for s in specs if isinstance(s, Mapping) and isinstance(
        s.get("name"), str) and hasattr(STRATEGIES.get(str(s.get("method"))), "lesion_scores")]


def _lesion_decision_problems(cfg: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``report.lesion_decisions.strategy`` names a lesion-scoring strategy of the study."""
    report = cfg.get("report")
    table = report.get("lesion_decisions") if isinstance(report, Mapping) else None
    name = table.get("strategy") if isinstance(table, Mapping) else None
    if not isinstance(name, str):
        return []
    key = "report.lesion_decisions.strategy"
    strategies = cfg.get("strategies") if isinstance(cfg.get("strategies"), list) else []
    names = [s.get("name") for s in strategies if isinstance(s, Mapping)]
    scoring = lesion_scoring_names(strategies)
    kinds = "(method lesion_response, lesion_risk or attention_mil)"
    if name == "auto":
        if scoring:
            return []
        return [(key, f'"auto" takes the first strategy that scores lesions {kinds}, but '
                 "the study has none: add one, or remove [report.lesion_decisions]")]
    if name not in names:
        from survrad._validation import close_matches

        hint = close_matches(name, [str(n) for n in names])
        did = f" Did you mean {hint[0]!r}?" if hint else ""
        return [(key, f"{name!r} is not a strategy of the study.{did} Lesion-scoring "
                 f'strategies: {scoring}; or "auto" (the first of them)')]
    if name not in scoring:
        method = next(s.get("method") for s in strategies
                      if isinstance(s, Mapping) and s.get("name") == name)
        return [(key, f"strategy {name!r} ({method}) gives no lesion scores; a lesion "
                 f"decision table needs a strategy that scores lesions {kinds}: "
                 f"{scoring or 'the study has none'}")]
    return []
class UtilityConfig(_Table):
    """``[report.utility]``: the clinical-utility section (decision curves, smooth
    calibration, nomogram, PH tests); the reporting checklists are always written."""

    enabled: bool = True
    max_threshold: Annotated[float, Field(ge=0.01, le=0.99)] = 0.8
    calibration_knots: Annotated[int, Field(ge=3, le=5)] = 3


class ReportConfig(_Table):
    """``[report]``: what the report shows."""

    table1_by: Column | None = None
    risk_groups: Annotated[int, Field(ge=2, le=5)] = 3
    lesion_risk_folds: Annotated[int, Field(ge=2, le=20)] = 5
    high_risk: Literal["top1"] | Annotated[float, Field(gt=0, lt=1)] = "top1"
    labels: dict[str, Annotated[str, StringConstraints(min_length=1, max_length=120)]] = {}
    lesion_decisions: LesionDecisionsConfig = LesionDecisionsConfig()
    utility: UtilityConfig = UtilityConfig()


class ResponseConfig(_Table):
    """``[response]``: RECIST 1.1 / iRECIST responses of the scans (and PFS from them)."""

    criteria: Literal["recist1.1", "irecist"] = "recist1.1"
    confirm: bool = False
    confirm_weeks: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 4.0
    min_sd_weeks: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 6.0
    death_time: Column = "os_time"
    death_event: Column = "os_event"
    scan_time_unit: Literal["days", "weeks", "months", "years"] | None = None
    scan_interval: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    unconfirmed_iupd: Literal["progression", "censor"] = "progression"


class EstimatorSpec(BaseModel):
    """A ``[[strategies]]``/``[[features]]`` entry: its kind and its parameters."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class StrategySpec(EstimatorSpec):
    name: Name
    method: str


class FeatureStepSpec(EstimatorSpec):
    step: str


class ExternalConfig(_Table):
    """``[external]``: external validation of frozen models (a held-out split, or each
    centre in turn); the section "External validation"."""

    design: Literal["split", "loco"]
    column: Column | None = None
    train: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = ["train"]
    test: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = [
        "test", "external"]
    n_boot: Annotated[int, Field(ge=MIN_N_BOOT, le=MAX_N_BOOT)] = 200
    recalibrate: bool = True
    strategies: list[Column] | None = None
    models: list[Column] | None = None

    @model_validator(mode="after")
    def _values(self) -> ExternalConfig:
        if self.design == "loco" and ("train" in self.model_fields_set
                                      or "test" in self.model_fields_set):
            raise ValueError('train and test name the values of a split column: they are '
                             'for design = "split" (design = "loco" holds out each value of '
                             'the column in turn)')
        if not self.train or not self.test:
            raise ValueError("train and test must each name at least one value")
        both = sorted(set(self.train) & set(self.test))
        if both:
            raise ValueError(f"values {both} are listed both in train and in test")
        for key in ("strategies", "models"):
            names = getattr(self, key) or []
            if getattr(self, key) is not None and not names:
                raise ValueError(f"{key} = [] selects no pipeline: remove the key for all")
        return self

    @property
    def split_column(self) -> str:
        """The patient column: ``column``, else "split" (design split) or "center"."""
        return self.column or ("split" if self.design == "split" else "center")


def _external_shorthand(data: Any) -> Any:
    """``[validation] method = "external" | "loco"``: the internal validation keeps its
    default method and ``[external]`` is switched on with that design (an explicit
    ``[external]`` table wins; a conflicting ``design`` is reported by the cross rules)."""
    if not isinstance(data, Mapping):
        return data
    val = data.get("validation")
    method = val.get("method") if isinstance(val, Mapping) else None
    if not isinstance(method, str) or method not in EXTERNAL_SHORTHAND:
        return data
    out = dict(data)
    out["validation"] = {k: v for k, v in val.items() if k != "method"}
    ext = out.get("external")
    if ext is None:
        out["external"] = {"design": EXTERNAL_SHORTHAND[method]}
    elif isinstance(ext, Mapping) and "design" not in ext:
        out["external"] = {**ext, "design": EXTERNAL_SHORTHAND[method]}
    return out


def _external_problems(cfg: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``[validation] method`` shorthand against an explicit ``external.design``, and the
    pipelines ``external.strategies`` / ``external.models`` select."""
    out: list[tuple[str, str]] = []
    val = cfg.get("validation")
    ext = cfg.get("external")
    method = val.get("method") if isinstance(val, Mapping) else None
    design = ext.get("design") if isinstance(ext, Mapping) else None
    if (isinstance(method, str) and method in EXTERNAL_SHORTHAND and isinstance(design, str)
            and EXTERNAL_SHORTHAND[method] != design):
        out.append(("validation.method", f'"{method}" means external.design = '
                    f'"{EXTERNAL_SHORTHAND[method]}", but external.design = "{design}": '
                    "remove one of the two keys, or make them agree"))
    if not isinstance(ext, Mapping):
        return out
    strategies = cfg.get("strategies") if isinstance(cfg.get("strategies"), list) else []
    known = {"strategies": [s.get("name") for s in strategies if isinstance(s, Mapping)],
             "models": list(cfg.get("models") or {"cox": {}})}
    if not known["strategies"]:
        known["strategies"] = ["patient"]
    elif not (isinstance(val, Mapping) and val.get("baselines") is False):
        known["strategies"] = ["clinical", "burden", *known["strategies"]]
    for key, names in known.items():
        chosen = ext.get(key)
        if not isinstance(chosen, list):
            continue
        unknown = [n for n in chosen if n not in names]
        if unknown:
            out.append((f"external.{key}", f"{unknown} are not {key} of the study; "
                        f"{key}: {names}"))
    return out


class StudyConfig(_Table):
    """A whole study file, checked."""

    title: Annotated[str, StringConstraints(min_length=1, max_length=300)] = "survrad study"
    description: Text = ""
    random_state: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    simulate: dict[str, Any] | None = None
    data: DataConfig = DataConfig()
    endpoints: dict[Name, EndpointConfig]
    strategies: list[StrategySpec] = []
    features: list[FeatureStepSpec] = []
    models: dict[str, dict[str, Any]] = {"cox": {}}
    validation: ValidationConfig = ValidationConfig()
    report: ReportConfig = ReportConfig()
    response: ResponseConfig | None = None
    external: ExternalConfig | None = None

    _shorthand = model_validator(mode="before")(_external_shorthand)

    @field_validator("endpoints")
    @classmethod
    def _some_endpoint(cls, v: dict[str, EndpointConfig]) -> dict[str, EndpointConfig]:
        if not v:
            raise ValueError("at least one endpoint is required, e.g. [endpoints.os] with "
                             "kind, time and event")
        return v


def _metric_problems(metrics: Sequence[str] | None, ep: EndpointConfig, name: str
                     ) -> list[tuple[str, str]]:
    known = SURVIVAL_METRICS if ep.kind == "survival" else BINARY_METRICS
    out = []
    for m in metrics or ():
        if m not in known:
            out.append(("validation.metrics", f"{m!r} is not a metric of the {ep.kind} "
                        f"endpoint {name!r}; metrics: {list(known)}"))
        elif ep.kind == "survival" and m in PER_HORIZON and not ep.horizons:
            out.append((f"endpoints.{name}.horizons",
                        f"metric {m!r} needs horizons (times at which to evaluate it)"))
        elif ep.kind == "survival" and m in INTEGRATED and len(ep.horizons) < 2:
            out.append((f"endpoints.{name}.horizons", f"metric {m!r} ({INTEGRATED[m]}) "
                        "needs at least two horizons to integrate over"))
    if metrics is None and ep.kind == "survival" and len(ep.horizons) == 1:
        out.append((f"endpoints.{name}.horizons",
                    "the default metrics include 'ibs', which integrates between the first "
                    "and the last horizon: give at least two horizons, or list the metrics "
                    "(validation.metrics) without 'ibs'"))
    return out


# ------------------------------------------------------------------- messages
_MESSAGES = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "string_type": "must be text (in quotes)",
    "list_type": "must be a list, e.g. [\"a\", \"b\"]",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "extra_forbidden": "unknown key",
    "missing": "is required",
    "literal_error": "must be {expected}",
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "string_pattern_mismatch": "must be a name of letters, digits, '_', '-' or '.' (at "
                               "most 60 characters; it becomes a file name)",
    "string_too_long": "must be at most {max_length} characters",
    "string_too_short": "must not be empty",
    "finite_number": "must be a finite number",
}


_PYDANTIC_PART = re.compile(r"^(int|float|str|bool|none|list|dict)$|^(function-|constrained-"
                            r"|literal\[|union\[|nullable|tagged)|\[")


def _path(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PYDANTIC_PART.match(str(part)):
            continue   # pydantic's name of a union member or validator, not a TOML key
        else:
            out += ("." if out else "") + str(part)
    return out


def _allowed_keys(loc: Sequence[Any]) -> list[str]:
    """The keys the table at ``loc`` accepts (for suggestions after an unknown key)."""
    model: Any = StudyConfig
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            if isinstance(part, int) or model is not StudyConfig:
                continue   # list index or dict key: same item model
            return []
        ann = field.annotation
        args = [a for a in getattr(ann, "__args__", ()) if isinstance(a, type)]
        model = next((a for a in [ann, *args] if isinstance(a, type)
                      and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


def _describe(err: Mapping[str, Any]) -> tuple[str, str]:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        from survrad._validation import close_matches

        allowed = _allowed_keys(err["loc"][:-1])
        hint = close_matches(str(err["loc"][-1]), allowed)
        did = f" Did you mean {hint[0]!r}?" if hint else ""
        return _path(err["loc"]), f"unknown key.{did} Allowed here: {sorted(allowed)}"
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error", err["msg"]))
    else:
        text = _MESSAGES.get(kind, err["msg"]).format(**{k: v for k, v in ctx.items()})
    if kind not in ("missing", "extra_forbidden", "value_error") and "input" in err:
        text += f", got {_shown(err['input'])}"
    return _path(err["loc"]), text


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    if isinstance(value, bool):
        text = "true" if value else "false"
    return text if len(text) <= 80 else text[:77] + "..."


def _merged(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One line per key: the members of a union (``"top1"`` or a number) as alternatives."""
    by_key: dict[str, list[str]] = {}
    for key, text in problems:
        by_key.setdefault(key, []).append(text)
    out = []
    for key, texts in by_key.items():
        if len(texts) > 1:
            got = texts[-1].rpartition(", got ")[2]
            texts = [t.rpartition(", got ")[0] or t for t in texts]
            out.append((key, " or ".join(texts) + f", got {got}"))
        else:
            out.append((key, texts[0]))
    return out


def problems_error(problems: Sequence[tuple[str, str]], file: str) -> ConfigError:
    """One ConfigError listing every (TOML path, message), the first path as its key.

    Examples
    --------
    >>> str(problems_error([("validation.n_boot", "must be >= 20, got 5")], "s.toml"))
    "[s.toml] key 'validation.n_boot': must be >= 20, got 5"
    """
    if len(problems) == 1:
        key, msg = problems[0]
        return ConfigError(msg, file=file, key=key or None)
    lines = "\n".join(f"  {k}: {m}" if k else f"  {m}" for k, m in problems)
    err = ConfigError(f"{len(problems)} problems in the study file:\n{lines}", file=file)
    err.key = problems[0][0] or None  # for code; the message names every key itself
    err.problems = list(problems)
    return err


def parse_study(cfg: Mapping[str, Any], file: str) -> StudyConfig:
    """Check the study mapping against the schema; every problem in one ConfigError.

    Examples
    --------
    >>> cfg = {"data": {"patients": "p.csv"}, "validation": {"n_boot": "200"},
    ...        "endpoints": {"os": {"time": "t", "event": "e", "horizons": [12]}}}
    >>> parse_study(cfg, "study.toml")
    Traceback (most recent call last):
    ...
    survrad.exceptions.ConfigError: [study.toml] 2 problems in the study file:...
      validation.n_boot: must be an integer, got "200"
      endpoints.os.horizons: the default metrics include 'ibs', ...
    """
    problems: list[tuple[str, str]] = []
    config = None
    try:
        config = StudyConfig.model_validate(dict(cfg))
    except ValidationError as exc:
        problems = _merged([_describe(err) for err in exc.errors()])
    # the rules that tie keys together hold whether or not other keys failed
    problems += [p for p in _cross_problems(cfg) if p not in problems]
    if problems:
        raise problems_error(problems, file) from None
    return config


def _cross_problems(cfg: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Rules that tie several keys together, as (TOML path, message), on the raw mapping
    (each part that parses on its own is checked)."""
    out: list[tuple[str, str]] = []
    data = cfg.get("data")
    if "simulate" not in cfg and not (isinstance(data, Mapping) and data.get("patients")):
        out.append(("data.patients", 'a [data] table with patients = "file.csv" is '
                    "required (or a [simulate] table)"))
    strategies = cfg.get("strategies")
    if isinstance(strategies, list):
        names = [s.get("name") if isinstance(s, Mapping) else None for s in strategies]
        for i, name in enumerate(names):
            if name is not None and name in names[:i]:
                out.append((f"strategies[{i}].name", f"duplicate strategy name {name!r}"))
    eps = cfg.get("endpoints")
    val = cfg.get("validation") if isinstance(cfg.get("validation"), Mapping) else {}
    metrics = val.get("metrics") if isinstance(val.get("metrics"), list) else None
    if isinstance(eps, Mapping):
        for name, spec in eps.items():
            try:
                ep = EndpointConfig.model_validate(spec)
            except ValidationError:
                continue
            out += _metric_problems(metrics, ep, str(name))
    out += _lesion_decision_problems(cfg)
    out += _external_problems(cfg)
    from survrad.study.section_longitudinal import study_problems

    out += study_problems(cfg)
    return out

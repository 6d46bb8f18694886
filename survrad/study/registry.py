"""What a study file can name, and the checks of each estimator's parameters.

``[[strategies]] method``, ``[[features]] step`` and ``[models.<name>]`` map to the
estimator classes below. A table's parameters are checked before anything is computed,
in three steps, every problem reported with its TOML path:

1. names: every key must be a parameter of the class (close matches suggested);
2. types: each value must fit the parameter's annotated type (pydantic, strict: ``"0.1"``
   is not a number, ``true`` is not a count);
3. ranges and choices: the estimator's own ``_check_params()``, the same check its
   ``fit`` runs, so a value accepted here is never refused later.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from survrad._validation import close_matches
from survrad.features import (
    ComBat,
    CorrelationFilter,
    ICCFilter,
    Imputer,
    LassoCoxSelector,
    StabilitySelector,
    Standardize,
    UnivariateCoxFilter,
    VarianceFilter,
)
from survrad.lesions import (
    AttentionMIL,
    Delta,
    FeatureStatistics,
    Heterogeneity,
    LargestLesions,
    LesionResponseAggregation,
    LesionRiskAggregation,
    TumorBurden,
)
from survrad.models.cox import CoxModel
from survrad.models.forest import SurvivalForest
from survrad.models.response import ForestClassifier, LogisticModel

__all__ = ["FEATURE_STEPS", "MODELS", "STRATEGIES", "build_estimator", "check_params"]

STRATEGIES: dict[str, type] = {
    "largest": LargestLesions,
    "burden": TumorBurden,
    "statistics": FeatureStatistics,
    "lesion_response": LesionResponseAggregation,
    "lesion_risk": LesionRiskAggregation,
    "attention_mil": AttentionMIL,
    "heterogeneity": Heterogeneity,
    "delta": Delta,
}
FEATURE_STEPS: dict[str, type] = {
    "impute": Imputer,
    "standardize": Standardize,
    "combat": ComBat,
    "icc": ICCFilter,
    "variance": VarianceFilter,
    "correlation": CorrelationFilter,
    "univariate_cox": UnivariateCoxFilter,
    "lasso": LassoCoxSelector,
    "stability": StabilitySelector,
}
#: model name -> (endpoint kind it models, class)
MODELS: dict[str, tuple[str, type]] = {
    "cox": ("survival", CoxModel),
    "forest": ("survival", SurvivalForest),
    "logistic": ("binary", LogisticModel),
    "forest_classifier": ("binary", ForestClassifier),
}

Problem = tuple[str, str]   # (TOML path, message)


def _did_you_mean(value: str, choices: Any) -> str:
    hint = close_matches(value, list(choices))
    return f" Did you mean {hint[0]!r}?" if hint else ""


def unknown_choice(value: Any, choices: Mapping[str, Any], what: str) -> str:
    """The message for a name that is not one of ``choices``."""
    return (f"unknown {what} {value!r}.{_did_you_mean(str(value), choices)} "
            f"Choices: {sorted(choices)}")


@functools.cache
def _adapters(cls: type) -> dict[str, TypeAdapter | None]:
    """Strict type adapters for the annotated constructor parameters (None: unchecked)."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except (NameError, TypeError):  # pragma: no cover - annotations we cannot resolve
        hints = {}
    out: dict[str, TypeAdapter | None] = {}
    for name in inspect.signature(cls.__init__).parameters:
        hint = hints.get(name)
        if name == "self" or hint is None or hint is Any:
            continue
        try:
            out[name] = TypeAdapter(hint, config=ConfigDict(strict=True,
                                                            arbitrary_types_allowed=True))
        except Exception:  # a type pydantic cannot describe: not checked
            out[name] = None
    return out


def _parameters(cls: type) -> list[str]:
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def check_params(cls: type, params: Mapping[str, Any], key: str) -> tuple[Any, list[Problem]]:
    """Build ``cls(**params)`` and check it; (estimator or None, problems).

    Examples
    --------
    >>> est, problems = check_params(CoxModel, {"penalty": -1}, "models.cox")
    >>> problems
    [('models.cox.penalty', "penalty must be a number >= 0 or 'cv', got -1.")]
    """
    allowed = _parameters(cls)
    problems: list[Problem] = []
    for name, value in params.items():
        if name not in allowed:
            problems.append((f"{key}.{name}", f"{cls.__name__} has no parameter {name!r}."
                             f"{_did_you_mean(name, allowed)} Parameters: {allowed}"))
            continue
        adapter = _adapters(cls).get(name)
        if adapter is None:
            continue
        try:
            adapter.validate_python(value)
        except ValidationError:
            problems.append((f"{key}.{name}", f"{cls.__name__}: {name} must be of type "
                             f"{_type_text(cls, name)}, got {value!r}"))
    if problems:
        return None, problems
    try:
        est = cls(**params)
        check = getattr(est, "_check_params", None)
        if check is not None:
            check()
    except (TypeError, ValueError) as exc:
        return None, [(_param_key(key, str(exc), params), str(exc))]
    return est, []


def _param_key(key: str, message: str, params: Mapping[str, Any]) -> str:
    """The parameter a check's message names first (else the table's key)."""
    named = [p for p in params if message.startswith(f"{p} ") or f" {p} " in message[:60]]
    return f"{key}.{named[0]}" if named else key


def _type_text(cls: type, name: str) -> str:
    hint = typing.get_type_hints(cls.__init__).get(name)
    text = str(hint).replace("typing.", "").replace("collections.abc.", "")
    return {"<class 'int'>": "integer", "<class 'float'>": "number",
            "<class 'bool'>": "true/false", "<class 'str'>": "text"}.get(text, text)


def build_estimator(table: Mapping[str, type], kind: str, params: Mapping[str, Any],
                    key: str, what: str, kind_key: str) -> tuple[Any, list[Problem]]:
    """The estimator ``table[kind]`` built from ``params``, or the problems.

    ``key`` is the TOML path of the table, ``kind_key`` that of the key naming the kind.
    """
    if kind not in table:
        return None, [(kind_key, unknown_choice(kind, table, what))]
    return check_params(table[kind], params, key)


def _plain(value: Any) -> bool:
    """A value that a study file (TOML) could hold."""
    if isinstance(value, bool | int | float | str):
        return True
    return isinstance(value, list | tuple) and all(_plain(v) for v in value)


def resolved_models(models: Mapping[str, Mapping[str, Any] | None]) -> dict[str, dict[str, Any]]:
    """Each model's parameters as used: the study's values over the estimator's defaults
    (plain values only), so that a report can state every setting without importing models.

    Examples
    --------
    >>> resolved_models({"forest": {"n_estimators": 50}})["forest"]["n_estimators"]
    50
    """
    out: dict[str, dict[str, Any]] = {}
    for name, spec in models.items():
        given = dict(spec or {})
        entry = MODELS.get(name)
        defaults = {} if entry is None else entry[1]().get_params(deep=False)
        out[name] = {**{k: v for k, v in defaults.items() if _plain(v)}, **given}
    return out

"""The typed results of a study: everything a report shows, computed, unrounded (layer 5).

A study run (:func:`survrad.study.run_study`) computes ONE :class:`StudyResults`; the
reporting layer only formats and draws it, so every number on the page is in these
results and can be tested without rendering. The results are saved beside the report
(:meth:`StudyResults.save`: ``study_results.json`` (in the folder given) with the scalars and the
structure, one Parquet file per table, and a ``schema_version``) and reloaded by
:meth:`StudyResults.load`, e.g. by ``survrad report`` to re-render a report without
computing anything.

The types the reporting layer may import live here or are re-exported here (result
types of lower layers included); reporting imports nothing else from the engines.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from survrad.evaluation.keys import MetricKey
from survrad.evaluation.metrics import SurvivalCalibration
from survrad.evaluation.nonparametric import KaplanMeier, LogRankResult
from survrad.evaluation.results_data import DataSection
from survrad.evaluation.results_external import ExternalResults
from survrad.evaluation.results_lesion_decisions import LesionDecisionSection
from survrad.evaluation.results_longitudinal import LongitudinalResult
from survrad.evaluation.results_utility import UtilityResults
from survrad.exceptions import ConfigError

__all__ = [
    "SCHEMA_VERSION",
    "CoefficientTable",
    "KaplanMeier",
    "LogRankResult",
    "LongitudinalResult",
    "MetricKey",
    "PredictionFigures",
    "RiskGroupSurvival",
    "RocCurve",
    "StudyResults",
    "SurvivalCalibration",
    "WarningRecord",
]

#: Version of the saved layout; :meth:`StudyResults.load` refuses other versions.
SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True, eq=False)
class RiskGroupSurvival:
    """Kaplan-Meier curves of risk groups with numbers at risk, log-rank test and HRs.

    Attributes
    ----------
    curves : tuple of KaplanMeier
        One per group, lowest risk first (``groups`` names them).
    groups : tuple of str
    at_risk : pandas.DataFrame
        Groups x times: number at risk (the times are the figure's x ticks).
    logrank : LogRankResult or None
        None with a single group.
    hazard_ratios : pandas.DataFrame or None
        ``group, reference, hr, hr_ci_low, hr_ci_high, p, estimable``: every group against
        the first (Cox model on group indicators); None when not estimable (``note``).
    note : str
    ci_level : float
    """

    curves: tuple[KaplanMeier, ...]
    groups: tuple[str, ...]
    at_risk: pd.DataFrame
    logrank: LogRankResult | None
    hazard_ratios: pd.DataFrame | None
    note: str
    ci_level: float


@dataclasses.dataclass(frozen=True, eq=False)
class RocCurve:
    """An ROC curve: false and true positive rates at every threshold, and its AUC."""

    fpr: np.ndarray
    tpr: np.ndarray
    auc: float


@dataclasses.dataclass(frozen=True, eq=False)
class CoefficientTable:
    """A fitted model's coefficients: ``term, coef, se, hr|or, ..._ci_low, ..._ci_high, p,
    estimable`` (unrounded; NaN where not estimable) and a note (e.g. penalised)."""

    endpoint: str
    strategy: str
    model: str
    table: pd.DataFrame
    note: str = ""


@dataclasses.dataclass(frozen=True, eq=False)
class PredictionFigures:
    """What the report draws from one pipeline's out-of-fold predictions."""

    endpoint: str
    strategy: str
    model: str
    n_patients: int
    n_predicted: int
    fold_failures: tuple[tuple[int, str], ...] = ()
    risk_groups: RiskGroupSurvival | None = None
    calibration: tuple[SurvivalCalibration, ...] = ()
    roc: RocCurve | None = None


@dataclasses.dataclass(frozen=True)
class WarningRecord:
    """A warning with where it came from (endpoint, strategy, model, stage, replicate)."""

    category: str
    message: str
    context: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.context, "category": self.category, "message": self.message}


@dataclasses.dataclass(frozen=True, eq=False)
class StudyResults:
    """Everything a study computed, for the report and for reuse.

    Attributes
    ----------
    title, description : str
    config : mapping
        The resolved study configuration (every default filled in).
    endpoints : mapping
        name -> ``{"kind", "unit", "horizons"}``.
    estimates : pandas.DataFrame
        One row per endpoint x strategy x model x metric x horizon: ``method, apparent,
        optimism, corrected, ci_low, ci_high, n_boot, n_failed``.
    replicates : pandas.DataFrame
        Long table of every replicate's metric values (``fit`` and ``test``) with its
        status, reason and seed: the intervals can be audited.
    differences : pandas.DataFrame
        Paired differences of the primary metric against the reference pipeline.
    failures : pandas.DataFrame
        Failed replicates and metrics by pipeline and reason (within ``max_failed``).
    coefficients : tuple of CoefficientTable
    predictions : tuple of PredictionFigures
        Risk groups, calibration and ROC of the best pipeline per endpoint x model.
    table1 : pandas.DataFrame
        Table 1 (long format, unrounded; see ``survrad.evaluation.table_one``).
    lesion_risk, lesion_response_rates, mixed_response, lesion_changes :
        pandas.DataFrame or None
    excluded : pandas.DataFrame
        Patients and lesions excluded while reading, with reasons.
    warnings : tuple of WarningRecord
    sections : mapping
        Extra result tables by name, from the optional analyses (decision curves,
        smooth calibration, lesion decisions, ...), each a DataFrame.
    data : DataSection or None
        Missing data, exclusions and partial effects (``survrad.evaluation.results_data``).
    lesion_decisions : LesionDecisionSection or None
        The "Lesion decisions" section (``[report.lesion_decisions]``): decision table,
        policy comparison, attention diagnostics.
    longitudinal : LongitudinalResult or None
        Scan responses (RECIST 1.1 / iRECIST), PFS from scans and the landmark.
    utility : UtilityResults or None
        Decision curves, smooth calibration, nomogram, PH tests and the TRIPOD+AI / RQS
        checklists (:mod:`survrad.evaluation.results_utility`).
    external : ExternalResults or None
        The "External validation" section (``[external]``): development vs validation
        performance, per-centre results and their meta-analysis, calibration and
        recalibration of the frozen models (:mod:`survrad.evaluation.results_external`).
    """

    title: str
    description: str
    config: Mapping[str, Any]
    endpoints: Mapping[str, Mapping[str, Any]]
    estimates: pd.DataFrame
    replicates: pd.DataFrame
    differences: pd.DataFrame
    failures: pd.DataFrame
    coefficients: tuple[CoefficientTable, ...]
    predictions: tuple[PredictionFigures, ...]
    table1: pd.DataFrame
    excluded: pd.DataFrame
    warnings: tuple[WarningRecord, ...]
    lesion_risk: pd.DataFrame | None = None
    lesion_response_rates: pd.DataFrame | None = None
    mixed_response: pd.DataFrame | None = None
    lesion_changes: pd.DataFrame | None = None
    sections: Mapping[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    data: DataSection | None = None
    lesion_decisions: LesionDecisionSection | None = None
    longitudinal: LongitudinalResult | None = None
    utility: UtilityResults | None = None
    external: ExternalResults | None = None
    schema_version: int = SCHEMA_VERSION

    # ------------------------------------------------------------------ queries
    def records(self) -> list[dict[str, Any]]:
        """The estimates as the ``results.json`` records of the public contract:
        endpoint, strategy, model, metric, horizon, apparent, optimism, corrected, ci_low,
        ci_high, n_boot, n_failed (method in ``config``)."""
        cols = ["endpoint", "strategy", "model", "metric", "horizon", "apparent", "optimism",
                "corrected", "ci_low", "ci_high", "n_boot", "n_failed"]
        return [{k: _plain(v) for k, v in row.items()}
                for row in self.estimates[cols].to_dict("records")]

    def estimate(self, endpoint: str, strategy: str, model: str, metric: str,
                 horizon: float | None = None) -> pd.Series:
        """One row of :attr:`estimates`."""
        e = self.estimates
        mask = ((e["endpoint"] == endpoint) & (e["strategy"] == strategy)
                & (e["model"] == model) & (e["metric"] == metric))
        mask &= e["horizon"].isna() if horizon is None else e["horizon"] == float(horizon)
        rows = e[mask]
        if len(rows) != 1:
            raise KeyError(f"no single estimate for {(endpoint, strategy, model, metric, horizon)}")
        return rows.iloc[0]

    # ------------------------------------------------------------ save / load
    def save(self, folder: str | Path) -> Path:
        """Write the results into ``folder`` (JSON + one Parquet file per table)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        frames: dict[str, pd.DataFrame] = {}
        doc = _encode(self, frames, "")
        from survrad._outputs import atomic_write_bytes, atomic_write_text

        for name, frame in frames.items():
            atomic_write_bytes(folder / f"{name}.parquet", _parquet_bytes(frame))
        atomic_write_text(folder / "study_results.json",
                          json.dumps(doc, indent=1, sort_keys=True, allow_nan=True) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> StudyResults:
        """Read results written by :meth:`save` (refuses another schema version)."""
        folder = Path(folder)
        path = folder / "study_results.json"
        if not path.is_file():
            raise ConfigError(f"{str(folder)!r} holds no saved study results "
                              "(study_results.json); give the results folder of a report "
                              "(REPORT/results).")
        doc = json.loads(path.read_text(encoding="utf-8"))
        version = doc.get("fields", {}).get("schema_version")
        if version != SCHEMA_VERSION:
            raise ConfigError(f"saved results have schema version {version!r}; this survrad "
                              f"reads version {SCHEMA_VERSION}. Rerun the study.")
        return _decode(doc, folder)


# ---------------------------------------------------------------- (de)serialising
_MODULES = ("survrad.evaluation.", "survrad.lesions.", "survrad.longitudinal.",
            "survrad.models.")


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    import io

    out = frame.copy()
    out.columns = [str(c) for c in out.columns]
    buf = io.BytesIO()
    out.to_parquet(buf, index=True)
    return buf.getvalue()


def _encode(obj: Any, frames: dict[str, pd.DataFrame], path: str) -> Any:
    if isinstance(obj, pd.DataFrame):
        where = path.strip(".").replace(".", "_") or "table"
        name = f"{len(frames):03d}_{where}"
        frames[name] = obj
        labels = [_encode(c, frames, "") for c in obj.columns]
        return {"__frame__": name, "columns": labels, "attrs": _encode(dict(obj.attrs),
                                                                      frames, "")}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        return {"__type__": f"{cls.__module__}:{cls.__qualname__}",
                "fields": {f.name: _encode(getattr(obj, f.name), frames, f"{path}.{f.name}")
                           for f in dataclasses.fields(obj)}}
    if isinstance(obj, np.ndarray):
        return {"__array__": [_encode(v, frames, "") for v in obj.tolist()],
                "dtype": str(obj.dtype)}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, frames, f"{path}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, frames, f"{path}.{i}") for i, v in enumerate(obj)]
    if isinstance(obj, Mapping):
        if all(isinstance(k, str) for k in obj):
            return {"__map__": {k: _encode(v, frames, f"{path}.{k}") for k, v in obj.items()}}
        return {"__pairs__": [[_encode(k, frames, ""), _encode(v, frames, "")]
                              for k, v in obj.items()]}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    raise TypeError(f"cannot save {type(obj).__name__} in study results (at {path or 'top'})")


def _decode(doc: Any, folder: Path) -> Any:
    if isinstance(doc, list):
        return [_decode(v, folder) for v in doc]
    if not isinstance(doc, dict):
        return doc
    if "__frame__" in doc:
        frame = pd.read_parquet(folder / f"{doc['__frame__']}.parquet")
        frame.columns = [_decode(c, folder) for c in doc["columns"]]
        frame.attrs.update(_decode(doc["attrs"], folder))
        return frame
    if "__type__" in doc:
        module, _, name = doc["__type__"].partition(":")
        if not module.startswith(_MODULES):
            raise ConfigError(f"saved results name an unknown type {doc['__type__']!r}.")
        cls = getattr(importlib.import_module(module), name)
        if not dataclasses.is_dataclass(cls):
            raise ConfigError(f"saved results name a type that is not a result: {name!r}.")
        return cls(**{k: _decode(v, folder) for k, v in doc["fields"].items()})
    if "__array__" in doc:
        values = [np.nan if v is None else v for v in doc["__array__"]]
        return np.asarray(values, dtype=doc["dtype"]) if values else np.asarray(
            [], dtype=doc["dtype"])
    if "__tuple__" in doc:
        return tuple(_decode(v, folder) for v in doc["__tuple__"])
    if "__map__" in doc:
        return {k: _decode(v, folder) for k, v in doc["__map__"].items()}
    if "__pairs__" in doc:
        return {_freeze(_decode(k, folder)): _decode(v, folder) for k, v in doc["__pairs__"]}
    return {k: _decode(v, folder) for k, v in doc.items()}


def _freeze(v: Any) -> Any:
    return tuple(_freeze(x) for x in v) if isinstance(v, list) else v


def records_frame(records: Sequence[Mapping[str, Any]], columns: Sequence[str]
                  ) -> pd.DataFrame:
    """A DataFrame with exactly ``columns`` (also when there are no records)."""
    return pd.DataFrame(list(records), columns=list(columns))

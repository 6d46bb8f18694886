"""Result records of the report's "Missing data" section (layer 5, plain data only).

Computed by :func:`survrad.study.section_data.compute_data`, drawn by
:mod:`survrad.reporting.section_data`; saved and reloaded with the study results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd

from survrad.models.effects import PartialEffect

__all__ = ["FLOW_COLUMNS", "DataSection", "EffectCurve"]

#: Columns of :attr:`DataSection.flow`.
FLOW_COLUMNS = ["table", "stage", "reason", "n"]


@dataclasses.dataclass(frozen=True, eq=False)
class EffectCurve:
    """The partial effect of one nonlinear term (a spline) of a fitted Cox pipeline.

    Attributes
    ----------
    endpoint, strategy, model : str
        The pipeline, fitted on every analysed patient.
    term : str
        The formula term (``"rcs(age, 4)"``).
    effect : PartialEffect
        Log hazard ratio against the variable's training median, with its Wald interval
        (:func:`survrad.models.partial_effect`).
    observed : numpy.ndarray
        The variable's observed values (the rug of the figure; missing ones left out).
    unpenalised_refit : bool
        True when the study's Cox model is penalised: the curve is then of the same
        pipeline refitted without penalty (a penalised fit has no covariance matrix).
    """

    endpoint: str
    strategy: str
    model: str
    term: str
    effect: PartialEffect
    observed: np.ndarray
    unpenalised_refit: bool = False


@dataclasses.dataclass(frozen=True, eq=False)
class DataSection:
    """Missing data, exclusions and partial effects of a study (unrounded).

    Attributes
    ----------
    policy : {"error", "complete_case", "impute"}
        The study's ``[data] missing`` policy.
    formula : str or None
        The study's ``[data] formula``.
    by_column : pandas.DataFrame
        One row per feature column as read, before any exclusion: ``table``
        ("patients"/"lesions"), ``column``, ``n_rows``, ``n_missing``, ``fraction``. Empty
        under ``"error"`` (every feature value was present, or the read failed).
    patterns : mapping of str to pandas.DataFrame
        Per table, every distinct missingness pattern, most frequent first (R's
        ``mice::md.pattern``): a boolean column per column with a gap (True = missing),
        ``n`` rows, ``n_missing`` cells.
    complete_cases : pandas.DataFrame
        Per table: ``table``, ``n_rows``, ``n_complete`` (rows without a missing feature
        value), ``fraction``.
    flow : pandas.DataFrame
        The flow of rows (:data:`FLOW_COLUMNS`): per table, ``stage`` "read" (rows in
        the files), one "excluded" row per reason (``reason``), then "analysed".
    partial_effects : tuple of EffectCurve
        One per nonlinear term of the formula, for the clinical (or patient-only)
        unpenalised Cox pipeline of each survival endpoint; empty without a formula.
    """

    policy: str
    formula: str | None
    by_column: pd.DataFrame
    patterns: Mapping[str, pd.DataFrame]
    complete_cases: pd.DataFrame
    flow: pd.DataFrame
    partial_effects: tuple[EffectCurve, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """``by_column`` (a copy)."""
        return self.by_column.copy()

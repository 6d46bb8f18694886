"""Results of the "External validation" report section (layer 5, plain data).

Computed by :func:`survrad.study.section_external.compute_external` from
:func:`~survrad.evaluation.external.external_validate` (design ``"split"``: the models
fitted on the development patients, frozen, then assessed on the held-out patients) or
:func:`~survrad.evaluation.loco.leave_one_center_out` (design ``"loco"``: each centre in
turn held out, the per-centre C-indices pooled by a random-effects meta-analysis), saved
with :class:`~survrad.evaluation.results.StudyResults`, drawn by
:mod:`survrad.reporting.section_external`. Numbers are unrounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from survrad.evaluation.smooth_calibration import SmoothCalibration

__all__ = ["CALIBRATION_COLUMNS", "CENTER_COLUMNS", "EXTERNAL_SECTION", "OE_COLUMNS",
           "PERFORMANCE_COLUMNS", "POOLED_COLUMNS", "RECALIBRATION_COLUMNS",
           "ExternalPipeline", "ExternalResults"]

#: Title of the report section these results fill.
EXTERNAL_SECTION = "External validation"
#: :attr:`ExternalPipeline.performance` (and :attr:`ExternalResults.table`, which adds
#: endpoint, model and strategy in front).
PERFORMANCE_COLUMNS = ["metric", "horizon", "apparent", "internal", "internal_ci_low",
                       "internal_ci_high", "internal_method", "external", "external_ci_low",
                       "external_ci_high", "pi_low", "pi_high", "n_development",
                       "events_development", "n_validation", "events_validation"]
#: :attr:`ExternalPipeline.centers` (``LOCOResult.per_center()``).
CENTER_COLUMNS = ["center", "n", "events", "metric", "horizon", "apparent", "estimate",
                  "ci_low", "ci_high", "se"]
#: :attr:`ExternalPipeline.pooled` (``LOCOResult.pooled()``).
POOLED_COLUMNS = ["metric", "horizon", "k", "method", "scale", "estimate", "ci_low",
                  "ci_high", "pi_low", "pi_high", "tau2", "i2", "q", "q_p"]
#: :attr:`ExternalPipeline.calibration` (``CalibrationStatistics.to_frame()`` per set).
CALIBRATION_COLUMNS = ["center", "n", "events", "statistic", "estimate", "se", "ci_low",
                       "ci_high", "ideal"]
#: :attr:`ExternalPipeline.observed_expected` (``observed_expected()`` per set).
OE_COLUMNS = ["center", "horizon", "n", "observed", "observed_low", "observed_high",
              "expected", "oe_ratio", "oe_low", "oe_high"]
#: :attr:`ExternalPipeline.recalibration`.
RECALIBRATION_COLUMNS = ["center", "method", "citl", "citl_ci_low", "citl_ci_high",
                         "slope", "slope_ci_low", "slope_ci_high"]


@dataclass(frozen=True, eq=False)
class ExternalPipeline:
    """External validation of one endpoint x model x pipeline.

    Attributes
    ----------
    endpoint, model, strategy, kind, unit : str
    performance : DataFrame
        Development vs validation, one row per metric (and horizon):
        :data:`PERFORMANCE_COLUMNS`. ``apparent`` is the model scored on the patients it
        was fitted on (design split: the development patients; loco: all patients, the
        study's apparent fit), ``internal`` the study's internal validation of the same
        pipeline (optimism-corrected, .632+ or cross-validated: ``internal_method``; NaN
        when not computed), ``external`` the frozen model on the held-out patients with
        the percentile interval of the bootstrap of those patients (loco: the
        random-effects pooled value of the per-centre estimates, with its confidence and
        prediction interval ``pi_low/pi_high``; only the pooled metric has a row).
    centers : DataFrame or None
        Loco: every metric of every held-out centre (:data:`CENTER_COLUMNS`).
    pooled : DataFrame or None
        Loco: the random-effects meta-analysis (:data:`POOLED_COLUMNS`, on the C scale;
        no row when it could not be computed: ``meta_failure``).
    calibration : DataFrame
        Calibration in the large and slope of the frozen model on each validation set
        (``center`` is ``"all"`` for the split design); empty for models without a
        linear predictor.
    observed_expected : DataFrame
        Observed (Kaplan-Meier) vs expected risk at each horizon with intervals, per set.
    recalibration : DataFrame
        Calibration in the large and slope of the frozen model (``method`` ``"none"``)
        and of each update (``"intercept"``, ``"intercept_slope"``, ``"refit"``), each
        updated AND assessed on the same validation set (so an update is calibrated
        there by construction; it shows what the update changes). Empty when not asked
        (``recalibrate = false``) or for models without a linear predictor.
    smooth : tuple of SmoothCalibration
        Smooth calibration curves of the frozen model on the validation patients, one
        per horizon (binary: one) and set; ``smooth_centers`` names the set of each.
    smooth_centers : tuple of str
    meta_failure : str
        Why the meta-analysis is missing ("" otherwise).
    """

    endpoint: str
    model: str
    strategy: str
    kind: str
    unit: str
    performance: pd.DataFrame
    centers: pd.DataFrame | None
    pooled: pd.DataFrame | None
    calibration: pd.DataFrame
    observed_expected: pd.DataFrame
    recalibration: pd.DataFrame
    smooth: tuple[SmoothCalibration, ...]
    smooth_centers: tuple[str, ...]
    meta_failure: str = ""


@dataclass(frozen=True, eq=False)
class ExternalResults:
    """Everything the "External validation" section shows.

    Attributes
    ----------
    design : {"split", "loco"}
    column : str
        The patient column that defines the validation sets.
    train, test : tuple of str
        Split design: the column's values of the development and of the validation
        patients (empty for loco).
    centers : tuple of str
        Loco: the held-out values, in order.
    n_boot : int
        Bootstrap samples of the validation patients (per set).
    ci_level : float
    meta_method : str
        Loco: the random-effects estimator of tau^2 and the pooling scale (e.g.
        ``"REML, logit scale"``); "" for split.
    n_internal : int
        Patients of the study's internal validation (split: the development patients).
    pipelines : tuple of ExternalPipeline
    table : DataFrame
        Every pipeline's ``performance``, with ``endpoint, model, strategy`` in front.
    notes : tuple of str
        What was done about a rule the reader must know (ComBat and an unseen centre,
        pipelines left out and why); also in the run's warnings.
    """

    design: str
    column: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    centers: tuple[str, ...]
    n_boot: int
    ci_level: float
    meta_method: str
    n_internal: int
    pipelines: tuple[ExternalPipeline, ...]
    table: pd.DataFrame
    notes: tuple[str, ...] = ()

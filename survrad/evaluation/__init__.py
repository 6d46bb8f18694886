"""Layer 5: metrics (pure functions), nonparametric estimators, validation engines.

Concordance (one convention: higher risk = earlier event, ties as R's ``concordance``)
with its standard error, IPCW time-dependent AUC, Brier score and index of prediction
accuracy, calibration (grouped and smooth), decision curves, nomograms, binary metrics,
and the Kaplan-Meier / log-rank / RMST estimators used by the reports.
"""

from survrad.evaluation.concordance import (
    ConcordanceCounts,
    concordance_index,
    concordance_index_y,
    uno_concordance_index,
)
from survrad.evaluation.decision import (
    DecisionCurve,
    NetBenefitPoint,
    decision_curve,
    net_benefit,
)
from survrad.evaluation.describe import coefficient_table, table_one
from survrad.evaluation.groups import risk_group_survival, risk_groups_from_training, roc_curve
from survrad.evaluation.keys import MetricKey
from survrad.evaluation.metrics import (
    SurvivalCalibration,
    brier_binary,
    brier_score,
    calibration,
    calibration_slope_binary,
    calibration_slope_lp,
    integrated_auc,
    integrated_brier_score,
    ipa,
    null_brier_score,
    roc_auc,
    time_dependent_auc,
)
from survrad.evaluation.nomogram import Nomogram, NomogramAxis, nomogram
from survrad.evaluation.nonparametric import (
    KaplanMeier,
    LogRankResult,
    MedianSurvival,
    RMSTResult,
    censoring_survival,
    kaplan_meier,
    logrank_test,
    rmst,
)
from survrad.evaluation.results import (
    CoefficientTable,
    PredictionFigures,
    RiskGroupSurvival,
    RocCurve,
    StudyResults,
    WarningRecord,
)
from survrad.evaluation.scorers import SurvivalScorer, make_survival_scorer
from survrad.evaluation.smooth_calibration import (
    CalibrationOptimism,
    SmoothCalibration,
    optimism_corrected_calibration,
    smooth_calibration,
)

__all__ = [
    "CalibrationOptimism",
    "CoefficientTable",
    "ConcordanceCounts",
    "DecisionCurve",
    "KaplanMeier",
    "LogRankResult",
    "MedianSurvival",
    "MetricKey",
    "NetBenefitPoint",
    "Nomogram",
    "NomogramAxis",
    "PredictionFigures",
    "RMSTResult",
    "RiskGroupSurvival",
    "RocCurve",
    "SmoothCalibration",
    "StudyResults",
    "SurvivalCalibration",
    "SurvivalScorer",
    "WarningRecord",
    "brier_binary",
    "brier_score",
    "calibration",
    "calibration_slope_binary",
    "calibration_slope_lp",
    "censoring_survival",
    "coefficient_table",
    "concordance_index",
    "concordance_index_y",
    "decision_curve",
    "integrated_auc",
    "integrated_brier_score",
    "ipa",
    "kaplan_meier",
    "logrank_test",
    "make_survival_scorer",
    "net_benefit",
    "nomogram",
    "null_brier_score",
    "optimism_corrected_calibration",
    "risk_group_survival",
    "risk_groups_from_training",
    "rmst",
    "roc_auc",
    "roc_curve",
    "smooth_calibration",
    "table_one",
    "time_dependent_auc",
    "uno_concordance_index",
]

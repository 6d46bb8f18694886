"""Layer 4: survival and response models, the CohortPipeline, patient formulas, partial
effects and multiple imputation pooled by Rubin's rules."""

from survrad.models.cox import CoxModel, cox_zph, select_penalty
from survrad.models.effects import (
    PartialEffect,
    partial_effect,
    partial_effect_from_pooled,
    variable_tests,
)
from survrad.models.forest import SurvivalForest
from survrad.models.formula import PatientFormula, rcs
from survrad.models.pipeline import CohortPipeline
from survrad.models.pooling import (
    MultipleImputationResult,
    PooledEstimates,
    fit_multiple_imputation,
    multiple_imputation,
    pool_rubin,
)
from survrad.models.response import ForestClassifier, LogisticModel
from survrad.models.summary import ChiSquareTest, CoxSummary, LogisticSummary, PHTest

__all__ = [
    "ChiSquareTest",
    "CohortPipeline",
    "CoxModel",
    "CoxSummary",
    "ForestClassifier",
    "LogisticModel",
    "LogisticSummary",
    "MultipleImputationResult",
    "PHTest",
    "PartialEffect",
    "PatientFormula",
    "PooledEstimates",
    "SurvivalForest",
    "cox_zph",
    "fit_multiple_imputation",
    "multiple_imputation",
    "partial_effect",
    "partial_effect_from_pooled",
    "pool_rubin",
    "rcs",
    "select_penalty",
    "variable_tests",
]

"""Layer 4: survival and response models, and the CohortPipeline."""

from survrad.models.cox import CoxModel, cox_zph, select_penalty
from survrad.models.forest import SurvivalForest
from survrad.models.pipeline import CohortPipeline
from survrad.models.response import ForestClassifier, LogisticModel

__all__ = [
    "CohortPipeline",
    "CoxModel",
    "ForestClassifier",
    "LogisticModel",
    "SurvivalForest",
    "cox_zph",
    "select_penalty",
]

"""Layer 2: multi-lesion strategies (docs/architecture.md, Fig. 3 A-F of Sun et al.
2022) and lesion-level analyses (Fig. 2).

Every strategy turns a :class:`~survrad.data.cohort.Cohort` into one finite float row per
patient (``fit(cohort, endpoint=None)``, ``transform(cohort)``,
``get_feature_names_out()``):

- A :class:`LargestLesions`, B :class:`TumorBurden`, C :class:`FeatureStatistics`;
- D :class:`LesionResponseAggregation`, E :class:`LesionRiskAggregation`,
  F :class:`AttentionMIL` (learned from outcomes, fitted inside each resample);
- :class:`Heterogeneity`, :class:`Delta` (delta-radiomics) and :class:`StrategyUnion`
  (several strategies side by side);
- :class:`ImputeLesions`: missing lesion features filled (rule learned on the training
  lesions) before another strategy aggregates them.

Lesion-level outputs: :func:`lesion_risk_table` (cross-fitted lesion risks),
:func:`lesion_decision_table` (SBRT target table: risk intervals, ranks, ``p_riskiest``),
:func:`compare_policies` (which lesion to irradiate: top-ranked vs largest vs random),
:func:`lesion_response_rates`, :func:`lesion_changes` and :func:`mixed_response`.
"""

from survrad.lesions.attention import AttentionDiagnostics, AttentionMIL
from survrad.lesions.base import AggregationStrategy, LesionStrategy
from survrad.lesions.burden import TumorBurden
from survrad.lesions.crossfit import lesion_risk_table
from survrad.lesions.decision import LesionDecisions, lesion_decision_table
from survrad.lesions.delta import Delta
from survrad.lesions.heterogeneity import Heterogeneity
from survrad.lesions.impute import ImputeLesions
from survrad.lesions.largest import LargestLesions, recist_targets
from survrad.lesions.lesion_response import LesionResponseAggregation
from survrad.lesions.lesion_risk import LesionRiskAggregation
from survrad.lesions.policy import PolicyComparison, compare_policies
from survrad.lesions.response import (
    ResponseRates,
    lesion_changes,
    lesion_response_rates,
    mixed_response,
)
from survrad.lesions.statistics import FeatureStatistics
from survrad.lesions.union import StrategyUnion

__all__ = [
    "AggregationStrategy",
    "AttentionDiagnostics",
    "AttentionMIL",
    "Delta",
    "FeatureStatistics",
    "Heterogeneity",
    "ImputeLesions",
    "LargestLesions",
    "LesionDecisions",
    "LesionResponseAggregation",
    "LesionRiskAggregation",
    "LesionStrategy",
    "PolicyComparison",
    "ResponseRates",
    "StrategyUnion",
    "TumorBurden",
    "compare_policies",
    "lesion_changes",
    "lesion_decision_table",
    "lesion_response_rates",
    "lesion_risk_table",
    "mixed_response",
    "recist_targets",
]

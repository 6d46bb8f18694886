"""Result records of the report's "Lesion decisions" section (layer 5, plain data).

:class:`LesionDecisionSection` holds what :func:`survrad.study.section_lesion_decisions.
compute_lesion_decisions` computed for a study with a ``[report.lesion_decisions]`` table:
the lesion decision table of one lesion-scoring strategy
(:class:`~survrad.lesions.LesionDecisions`), the comparison of irradiation rules
(:class:`~survrad.lesions.PolicyComparison`, on simulated truth or observed growth, or a
sentence saying why it is left out) and the attention diagnostics of every attention
strategy's final fit (:class:`AttentionCheck`). Unrounded numbers only; the reporting
layer formats them.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from survrad.lesions.attention import AttentionDiagnostics
from survrad.lesions.decision import LesionDecisions
from survrad.lesions.policy import PolicyComparison

__all__ = ["AttentionCheck", "AttentionDiagnostics", "LesionDecisionSection",
           "LesionDecisions", "PolicyComparison"]


@dataclasses.dataclass(frozen=True, eq=False)
class AttentionCheck:
    """Did an attention strategy (F) of the study depart from mean pooling?

    Attributes
    ----------
    strategy : str
        The strategy's name in the study.
    endpoint : str
        The endpoint it was fitted to.
    diagnostics : AttentionDiagnostics or None
        ``attention_diagnostics_`` of the final fit (the whole cohort, seeded as the
        validation's apparent fit: the same fit); None when the fit failed.
    warned : bool
        :class:`~survrad.exceptions.AttentionUniformWarning` fired on that fit: treat F
        as mean pooling.
    message : str
        The warning's message ("" without warning).
    failure : str
        Why the fit failed ("" when it did not).
    """

    strategy: str
    endpoint: str
    diagnostics: AttentionDiagnostics | None
    warned: bool
    message: str = ""
    failure: str = ""

    def to_frame(self) -> pd.DataFrame:
        """One row: strategy, endpoint, the diagnostics' fields, warned."""
        fields = ([f.name for f in dataclasses.fields(AttentionDiagnostics)])
        values = (dataclasses.asdict(self.diagnostics) if self.diagnostics is not None
                  else dict.fromkeys(fields, float("nan")))
        return pd.DataFrame([{"strategy": self.strategy, "endpoint": self.endpoint,
                              **values, "warned": self.warned}])


@dataclasses.dataclass(frozen=True, eq=False)
class LesionDecisionSection:
    """Everything the "Lesion decisions" section of a report shows.

    Attributes
    ----------
    strategy : str
        Name, in the study, of the lesion-scoring strategy of the table.
    method : str
        Its study-file method (``lesion_response``, ``lesion_risk``, ``attention_mil``).
    decisions : LesionDecisions
        :func:`~survrad.lesions.lesion_decision_table` (``decisions.table`` is
        ``tables/lesion_decisions.csv``).
    policies : PolicyComparison or None
        :func:`~survrad.lesions.compare_policies`; None when it could not be made.
    policy_note : str
        Why ``policies`` is None ("" otherwise).
    attention : tuple of AttentionCheck
        One per attention strategy of the study (empty without one).
    """

    strategy: str
    method: str
    decisions: LesionDecisions
    policies: PolicyComparison | None
    policy_note: str = ""
    attention: tuple[AttentionCheck, ...] = ()

    def attention_frame(self) -> pd.DataFrame | None:
        """The attention checks, one row each (None without attention strategy)."""
        if not self.attention:
            return None
        return pd.concat([a.to_frame() for a in self.attention], ignore_index=True)

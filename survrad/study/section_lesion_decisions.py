"""The report's "Lesion decisions" section: which lesion to irradiate, and how sure.

:func:`compute_lesion_decisions` runs when the study asks for it
(``[report.lesion_decisions]`` with a ``strategy``) and computes, for ONE lesion-scoring
strategy of the study (D, E or F):

- the lesion decision table (:func:`~survrad.lesions.lesion_decision_table`: cross-fitted
  risk with a bootstrap interval, rank in the patient and ``p_riskiest`` per lesion), on
  the study's first survival endpoint (else its first endpoint), with the folds of the
  lesion risk table (``report.lesion_risk_folds``), the study's seed, ``high_risk`` and
  ``max_failed``; ``n_boot`` and ``ci_level`` from the section's table (``ci_level``
  defaults to the validation's);
- the comparison of irradiation rules (:func:`~survrad.lesions.compare_policies`: the
  top-ranked lesion vs the largest vs a random one) against the simulation truth when the
  cohort carries it (a ``[simulate]`` study), else against the observed-growth proxy,
  else left out with the reason; :data:`POLICY_N_BOOT` patient-bootstrap replicates
  (a mean per replicate: cheap), seeded by the study's seed;
- for every attention strategy (F) of the study, the attention diagnostics of its final
  fit: the whole cohort, seeded as the validation seeds its apparent fit
  (``seed_unseeded`` with ``SeedSequence(random_state)``), hence the same fit; whether
  :class:`~survrad.exceptions.AttentionUniformWarning` fired on it.

A failure is recorded as a warning (stage ``"lesion decisions"``) and never aborts the
run: a table that cannot be computed leaves the section out; a policy comparison or an
attention fit that cannot be made is left out of the section with its reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from survrad._validation import seed_unseeded
from survrad.data.cohort import Cohort
from survrad.evaluation.results_lesion_decisions import AttentionCheck, LesionDecisionSection
from survrad.exceptions import ConfigError
from survrad.lesions import AttentionMIL, compare_policies, lesion_decision_table
from survrad.study.plan import StudyPlan

__all__ = ["POLICY_N_BOOT", "STAGE", "compute_lesion_decisions", "section_endpoint"]

#: patient-bootstrap replicates of the policy comparison's intervals
POLICY_N_BOOT = 2000
#: the stage named in the warnings of this section
STAGE = "lesion decisions"


def section_endpoint(plan: StudyPlan) -> str:
    """The endpoint of the section: the study's first survival endpoint, else its first."""
    eps = [ep for ep in plan.pipelines if plan.pipelines[ep]]
    surv = [ep for ep in eps if plan.cohort.endpoint(ep).kind == "survival"]
    return (surv or eps)[0]


def _scoring_strategies(plan: StudyPlan, endpoint: str) -> dict[str, Any]:
    """name -> unfitted strategy, for the study's lesion-scoring strategies (study order)."""
    pipes = next(iter(plan.pipelines[endpoint].values()))
    return {name: pipe.strategy for name, pipe in pipes.items()
            if pipe.strategy is not None and hasattr(pipe.strategy, "lesion_scores")}


def _chosen(plan: StudyPlan, scoring: dict[str, Any]) -> str | None:
    name = plan.config["report"]["lesion_decisions"]["strategy"]
    if name == "auto":
        name = next(iter(scoring), None)
    if name is not None and name not in scoring:
        # the schema refuses this before anything runs; a hand-made plan may not
        raise ConfigError(f"{name!r} is not a lesion-scoring strategy of the study; "
                          f"lesion-scoring strategies: {list(scoring)}.", file=plan.file,
                          key="report.lesion_decisions.strategy")
    return name


def _policies(decisions: Any, cohort: Cohort, ci_level: float, seed: int, log_: Any,
              context: dict[str, Any]) -> tuple[Any, str]:
    """The policy comparison on the truth, else on observed growth, else the reason."""
    from survrad.study.compute import _captured

    target = "truth" if "lesions" in cohort.truth else "observed"
    value, caught = _captured(compare_policies, decisions, cohort, target=target,
                              n_boot=POLICY_N_BOOT, ci_level=ci_level, random_state=seed)
    failed = [m for c, m in caught if c == "RefitFailed"]
    log_.extend([(c, m) for c, m in caught if c != "RefitFailed"], **context)
    if value is not None:
        return value, ""
    if target == "truth":
        log_.extend([("RefitFailed", f"policy comparison: {failed[0]}")], **context)
        return None, f"The policy comparison on the simulation truth failed: {failed[0]}."
    return None, ("No policy comparison: the cohort carries no simulation truth, and the "
                  f"observed-data version (lesion growth) cannot be made here: {failed[0]}.")


def _final_attention(strategy: Any, cohort: Cohort, endpoint: str, seed: int) -> Any:
    """The strategy fitted as the validation's apparent fit; its attention diagnostics."""
    model = seed_unseeded(clone(strategy), np.random.SeedSequence(seed))
    return model.fit(cohort, endpoint).attention_diagnostics_


def _attention(plan: StudyPlan, scoring: dict[str, Any], endpoint: str, log_: Any
               ) -> tuple[AttentionCheck, ...]:
    from survrad.study.compute import _captured

    out = []
    seed = plan.config["random_state"]
    for name, strategy in scoring.items():
        if not isinstance(strategy, AttentionMIL):
            continue
        value, caught = _captured(_final_attention, strategy, plan.cohort, endpoint, seed)
        # the fit is the validation's apparent fit, whose warnings are already logged:
        # only a failure is new
        failed = [m for c, m in caught if c == "RefitFailed"]
        log_.extend([("RefitFailed", f"attention diagnostics: {m}") for m in failed],
                    endpoint=endpoint, strategy=name, stage=STAGE)
        uniform = [m for c, m in caught if c == "AttentionUniformWarning"]
        out.append(AttentionCheck(name, endpoint, value, bool(uniform),
                                  uniform[0] if uniform else "",
                                  failed[0] if failed else ""))
    return tuple(out)


def compute_lesion_decisions(plan: StudyPlan, log_: Any, n_jobs: int | None
                             ) -> LesionDecisionSection | None:
    """The "Lesion decisions" section of a study (None when the study does not ask for it).

    Parameters
    ----------
    plan : StudyPlan
        A checked study (:func:`~survrad.study.load_study`).
    log_ : warning log
        Receives the warnings and failures with their context (``extend(caught,
        **context)``).
    n_jobs : int or None
        Worker processes for the table's bootstrap replicates (the numbers do not depend
        on it).

    Returns
    -------
    LesionDecisionSection or None
        None when ``[report.lesion_decisions]`` names no strategy, the study has no lesion
        table, or the decision table failed (recorded as a warning).
    """
    from survrad.study.compute import _captured

    cfg = plan.config
    spec = cfg["report"]["lesion_decisions"]
    if spec["strategy"] is None or not plan.cohort.has_lesions:
        return None
    endpoint = section_endpoint(plan)
    scoring = _scoring_strategies(plan, endpoint)
    name = _chosen(plan, scoring)
    if name is None:
        return None
    report, seed = cfg["report"], cfg["random_state"]
    ci_level = spec["ci_level"] or cfg["validation"]["ci_level"]
    context = {"endpoint": endpoint, "strategy": name, "stage": STAGE}
    decisions, caught = _captured(
        lesion_decision_table, scoring[name], plan.cohort, endpoint, n_boot=spec["n_boot"],
        n_folds=report["lesion_risk_folds"], random_state=seed, n_jobs=n_jobs,
        ci_level=ci_level, high_risk=report["high_risk"],
        max_failed=cfg["validation"]["max_failed"])
    log_.extend(caught, **context)
    if decisions is None:
        return None
    policies, note = _policies(decisions, plan.cohort, ci_level, seed, log_, context)
    method = next(s["method"] for s in cfg["strategies"] if s["name"] == name)
    return LesionDecisionSection(strategy=name, method=method, decisions=decisions,
                                 policies=policies, policy_note=note,
                                 attention=_attention(plan, scoring, endpoint, log_))

"""The report's "Lesion decisions" section, rendered from its computed record.

:func:`render_lesion_decisions` writes, from
:class:`~survrad.evaluation.results_lesion_decisions.LesionDecisionSection` (computed by
:mod:`survrad.study.section_lesion_decisions`): the lesion decision table
(``tables/lesion_decisions.csv`` in full, its first :data:`SHOWN_ROWS` rows on the page),
the figure of each shown patient's lesions with risk intervals and ``p_riskiest``, the
policy comparison (figure and tables, or the sentence saying why it is left out) and the
attention diagnostics of every attention strategy (F). Nothing is computed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from survrad.reporting._plotting import ci_percent as _pct
from survrad.reporting.figures_decision import LesionDecisionDisplay, PolicyComparisonDisplay
from survrad.reporting.html import ReportText

__all__ = ["SECTION", "SHOWN_ROWS", "lesion_decisions_methods", "render_lesion_decisions"]

SECTION = "Lesion decisions"
#: rows of the decision table shown on the page (the CSV has every lesion)
SHOWN_ROWS = 15
_SHOWN = ["patient_id", "lesion_id", "organ", "volume_ml", "irradiated", "n_lesions", "risk",
          "risk_ci_low", "risk_ci_high", "rank_in_patient", "p_riskiest", "high_risk",
          "p_response_rt", "p_response_rt_ci_low", "p_response_rt_ci_high",
          "p_response_no_rt", "p_response_no_rt_ci_low", "p_response_no_rt_ci_high"]
UNIFORM_SENTENCE = "attention did not depart from mean pooling; treat F as mean pooling"


def _intro(res: Any) -> str:
    d = res.decisions
    failed = (f" {d.n_failed} of {d.n_boot} replicates failed and are left out of every "
              "interval and share (see warnings)." if d.n_failed else "")
    return (f"Which lesion to irradiate: every baseline lesion scored by strategy "
            f"'{res.strategy}' ({res.method}, endpoint {d.endpoint}), cross-fitted in "
            f"{d.n_folds} patient folds so that no lesion is scored by a model that saw its "
            "patient. risk = the lesion's score in standard deviations of the scoring "
            "model's training lesions (compare lesions within a patient; across patients "
            f"only as positions in the lesion distribution, never as hazards); "
            f"{_pct(d.ci_level)} percentile intervals from {d.n_boot} patient-bootstrap "
            "refits of the cross-fitting; p_riskiest = share of refits in which the lesion "
            "is its patient's riskiest (chance: 1 / n_lesions). rank_in_patient 1 = the "
            f"lesion the table would irradiate.{failed}")


def _table(rep: Any, res: Any) -> None:
    table = res.decisions.table
    shown = table[[c for c in _SHOWN if c in table.columns]]
    rep.table(SECTION, table, "lesion_decisions",
              f"Lesion decision table ({res.strategy}): cross-fitted risk with its "
              f"{_pct(res.decisions.ci_level)} interval, rank in the patient and "
              "p_riskiest per lesion. The CSV has every lesion and column (rank intervals, "
              "raw score, fold, the strategy's extra columns).",
              shown=shown, max_rows=SHOWN_ROWS)
    rep.figure(SECTION, lambda: LesionDecisionDisplay.from_decisions(res.decisions).plot(),
               "lesion_decisions", f"Lesion risk ({res.strategy}) with "
               f"{_pct(res.decisions.ci_level)} bootstrap intervals and p_riskiest, for "
               "patients spread over the ranking by top risk (patients with two or more "
               "lesions first); filled: top-ranked lesion; ringed: irradiated.")


def _policies(rep: Any, res: Any) -> None:
    pol = res.policies
    if pol is None:
        rep.add(SECTION, ReportText(res.policy_note))
        return
    if pol.target == "truth":
        what = ("the truly worst (most refractory) lesion of the simulation truth, among "
                "all baseline lesions")
    else:
        what = ("the non-irradiated lesion whose longest diameter grew most by follow-up "
                "(a proxy mixing biology, measurement noise and response to "
                "immunotherapy: a check of direction, not a validation); every rule "
                "chooses among those lesions")
    caption = (f"Irradiation rules compared on {pol.n_patients} patients with two or more "
               f"candidate lesions: share in which each rule picks {what}; "
               f"{_pct(pol.ci_level)} intervals from {pol.n_boot} patient-bootstrap "
               f"replicates; chance (random lesion) {pol.chance:.3f}.")
    rep.figure(SECTION, lambda: PolicyComparisonDisplay.from_comparison(pol).plot(),
               "lesion_policies", caption)
    rep.table(SECTION, pol.rules, "lesion_policies",
              "The hit rates of the figure above: hits (expected hits for the random rule), "
              "patients, hit rate and its interval per rule.", max_rows=None)
    rep.table(SECTION, pol.differences, "lesion_policy_differences",
              "Paired differences of hit rates between rules (same resampled patients).",
              max_rows=None)


def _attention(rep: Any, res: Any) -> None:
    frame = res.attention_frame()
    if frame is None:
        return
    lines = []
    for check in res.attention:
        d = check.diagnostics
        if d is None:
            lines.append(f"Attention strategy '{check.strategy}': the final fit failed "
                         f"({check.failure}); no attention diagnostics.")
        elif check.warned:
            lines.append(f"Attention strategy '{check.strategy}' ({check.endpoint}): "
                         f"{UNIFORM_SENTENCE} (entropy {d.entropy_ratio:.2f} of "
                         f"uniform's, largest deviation from 1/m {d.max_deviation:.2g}, "
                         f"score test p = {d.p_value:.2g}).")
        else:
            lines.append(f"Attention strategy '{check.strategy}' ({check.endpoint}): "
                         f"attention departed from mean pooling (score test p = "
                         f"{d.p_value:.2g} < {d.alpha:g}; entropy {d.entropy_ratio:.2f} of "
                         f"uniform's, largest deviation from 1/m {d.max_deviation:.2g}).")
    rep.add(SECTION, ReportText("\n\n".join(lines)))
    rep.table(SECTION, frame, "attention_diagnostics",
              "Attention diagnostics of each attention strategy's final fit (all patients): "
              "entropy of the weights relative to uniform (1 = mean pooling), largest "
              "|weight - 1/n_lesions|, score test of attention towards the riskiest lesions "
              "against mean pooling, on the training patients with two or more lesions.",
              max_rows=None)


def render_lesion_decisions(rep: Any, results: Any) -> None:
    """Add the "Lesion decisions" section to ``rep`` (nothing when it was not computed).

    Parameters
    ----------
    rep : report under construction
        With ``add(section, item)``, ``table(section, frame, name, caption, shown=,
        max_rows=)`` and ``figure(section, make, name, caption)``.
    results : StudyResults
        ``results.lesion_decisions`` is rendered.
    """
    res = getattr(results, "lesion_decisions", None)
    if res is None:
        return
    rep.add(SECTION, ReportText(_intro(res)))
    _table(rep, res)
    _policies(rep, res)
    _attention(rep, res)


def lesion_decisions_methods(config: Mapping[str, Any]) -> str:
    """One Methods sentence when the study asked for the section, else ``""``.

    Examples
    --------
    >>> lesion_decisions_methods({"report": {"lesion_decisions": {"strategy": "E",
    ...     "n_boot": 200, "ci_level": None}}, "validation": {"ci_level": 0.95}})[:42]
    'Lesion decisions: the lesions of every pat'
    """
    spec = (config.get("report") or {}).get("lesion_decisions") or {}
    if not spec.get("strategy"):
        return ""
    level = spec.get("ci_level") or (config.get("validation") or {}).get("ci_level", 0.95)
    which = ("the first lesion-scoring strategy" if spec["strategy"] == "auto"
             else f"strategy '{spec['strategy']}'")
    return (f"Lesion decisions: the lesions of every patient were scored by {which}, "
            "cross-fitted over patient folds, with "
            f"{_pct(level)} percentile intervals, rank intervals and the share of refits "
            f"in which each lesion is its patient's riskiest from {spec.get('n_boot', 200)} "
            "patient-bootstrap refits of the cross-fitting; irradiating the top-ranked "
            "lesion was compared with irradiating the largest or a random lesion.")

"""The report's "Missing data" section: missingness, exclusions and partial effects.

:func:`compute_data` gathers, for a study with ``[data] missing``, exclusions or a
``formula``: the amount of missing feature values per column and table (as read, before
any exclusion), the complete cases, the missingness patterns, the flow of patients and
lesions from the files to the analysis (with the reasons of every exclusion), and the
partial effect of every nonlinear formula term (a spline) of the clinical Cox pipeline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from survrad.data.cohort import Cohort
from survrad.evaluation.results_data import FLOW_COLUMNS, DataSection, EffectCurve
from survrad.models.cox import CoxModel
from survrad.models.pipeline import CohortPipeline

if TYPE_CHECKING:  # pragma: no cover
    from survrad.study.plan import StudyPlan

__all__ = ["complete_cases", "compute_data", "exclusion_flow", "nonlinear_terms"]

_BY_COLUMN = ["table", "column", "n_rows", "n_missing", "fraction"]
#: Reasons of ``Cohort.excluded`` grouped for the flow, by the option that caused them
#: (the marker the reader writes in the reason), first match wins.
_REASON_KINDS = (("patient excluded: ", "lesions of excluded patients"),
                 ("exclude_orphan_lesions=True", "patient not in the patient table"),
                 ("drop_missing_time=True", "missing survival time"),
                 ("missing='complete_case'", "missing feature value (complete cases)"))


def compute_data(plan: StudyPlan, log_: Any, n_jobs: int | None) -> DataSection | None:
    """The section's numbers; None when the study reads complete data, excludes nothing
    and has no formula (``n_jobs`` is unused: at most one Cox fit per endpoint)."""
    data = plan.config["data"]
    policy, formula = str(data.get("missing", "error")), data.get("formula")
    cohort = plan.cohort
    if policy == "error" and formula is None and not len(cohort.excluded):
        return None
    md = cohort.missing_data
    by_column = (md.by_column.reset_index(drop=True) if md is not None
                 else pd.DataFrame(columns=_BY_COLUMN))
    patterns = dict(md.patterns) if md is not None else {}
    effects: tuple[EffectCurve, ...] = ()
    if formula is not None:
        effects = _partial_effects(plan, log_)
    return DataSection(policy=policy, formula=formula, by_column=by_column,
                       patterns=patterns, complete_cases=complete_cases(patterns),
                       flow=exclusion_flow(cohort), partial_effects=effects)


def complete_cases(patterns: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows without a missing feature value, per table, from :func:`missing_pattern` tables.

    Examples
    --------
    >>> import pandas as pd
    >>> pat = pd.DataFrame({"age": [False, True], "n": [36, 4], "n_missing": [0, 1]})
    >>> complete_cases({"patients": pat}).values.tolist()
    [['patients', 40, 36, 0.9]]
    """
    rows = []
    for table, pat in patterns.items():
        n = int(pat["n"].sum())
        done = int(pat.loc[pat["n_missing"] == 0, "n"].sum())
        rows.append((table, n, done, done / n if n else np.nan))
    return pd.DataFrame(rows, columns=["table", "n_rows", "n_complete", "fraction"])


def _reason_kind(reason: str) -> str:
    for marker, kind in _REASON_KINDS:
        if marker in reason:
            return kind
    return reason


def exclusion_flow(cohort: Cohort) -> pd.DataFrame:
    """Rows read, excluded (by reason) and analysed, per table (:data:`FLOW_COLUMNS`).

    A patient excluded for a missing value takes its lesions with it; those lesion rows
    are counted under "lesions of excluded patients".

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=30, random_state=0)
    >>> exclusion_flow(c)[["table", "stage", "n"]].values.tolist()[:2]
    [['patients', 'read', 30], ['patients', 'analysed', 30]]
    """
    excluded = cohort.excluded
    rows: list[tuple[str, str, str, int]] = []
    tables = [("patients", cohort.n_patients)]
    if cohort.has_lesions:
        tables.append(("lesions", len(cohort.lesions)))
    for table, analysed in tables:
        reasons = excluded.loc[excluded["table"] == table, "reason"].astype(str)
        counts = Counter(_reason_kind(r) for r in reasons)
        rows.append((table, "read", "", analysed + len(reasons)))
        rows += [(table, "excluded", kind, n)
                 for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        rows.append((table, "analysed", "", analysed))
    return pd.DataFrame(rows, columns=FLOW_COLUMNS)


def nonlinear_terms(formula: Any) -> list[tuple[str, str]]:
    """(term, variable) of every term of one numeric variable with several model columns
    (a spline, a polynomial) of a fitted :class:`~survrad.models.formula.PatientFormula`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from survrad.models.formula import PatientFormula
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"age": rng.normal(60, 10, 50), "ecog": rng.integers(0, 3, 50)})
    >>> nonlinear_terms(PatientFormula("rcs(age, 3) + C(ecog)").fit(df))
    [('rcs(age, 3)', 'age')]
    """
    out = []
    for term, cols in formula.term_columns_.items():
        owners = [v for v in formula.variables_
                  if set(cols) <= set(formula.variable_columns_[v])]
        if (len(cols) > 1 and len(owners) == 1
                and owners[0] in formula.numeric_variables_):
            out.append((term, owners[0]))
    return out


def _effect_pipeline(pipes: Mapping[str, CohortPipeline]
                     ) -> tuple[str, CohortPipeline, bool] | None:
    """The clinical pipeline (or the patient-only one), unfitted, with an unpenalised Cox
    model, and whether the study's model was penalised."""
    from sklearn.base import clone

    for name in ("clinical", "patient"):
        pipe = pipes.get(name)
        if pipe is None or pipe.formula is None:
            continue
        pipe = clone(pipe)
        model = pipe.model
        penalised = isinstance(model, CoxModel) and model.penalty != 0
        if penalised:
            pipe.set_params(model=CoxModel(**{**model.get_params(deep=False),
                                              "penalty": 0.0}))
        return name, pipe, penalised
    return None


def _fit_effects(pipe: CohortPipeline, cohort: Cohort, ep: str, ci_level: float
                 ) -> list[tuple[str, Any]]:
    from survrad.models.effects import partial_effect

    fitted = pipe.fit(cohort, ep)
    return [(term, partial_effect(fitted, variable, ci_level=ci_level))
            for term, variable in nonlinear_terms(fitted.formula_)]


def _partial_effects(plan: StudyPlan, log_: Any) -> tuple[EffectCurve, ...]:
    from survrad.study.compute import _captured

    cohort = plan.cohort
    ci = float(plan.config["validation"]["ci_level"])
    out = []
    for ep, by_model in plan.pipelines.items():
        if cohort.endpoint(ep).kind != "survival" or "cox" not in by_model:
            continue
        chosen = _effect_pipeline(by_model["cox"])
        if chosen is None:
            continue
        name, pipe, penalised = chosen
        value, caught = _captured(_fit_effects, pipe, cohort, ep, ci)
        log_.extend(caught, endpoint=ep, model="cox", strategy=name, stage="partial effects")
        for term, effect in value or ():
            observed = cohort.patients[effect.variable].dropna().to_numpy(dtype=float)
            out.append(EffectCurve(ep, name, "cox", term, effect, observed,
                                   unpenalised_refit=penalised))
    return tuple(out)

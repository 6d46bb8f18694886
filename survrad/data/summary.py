"""Plain-text description of a Cohort (used by ``survrad check``)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from survrad.data.cohort import Cohort

__all__ = ["describe_cohort", "unchecked_columns"]


def describe_cohort(cohort: Cohort) -> str:
    """Summarise patients, lesions, endpoints and features in a few lines.

    Besides the features, the summary names the columns that were NOT checked as
    features (numeric, complete, finite), so that nothing is silently unchecked: patient
    columns other than the features and the endpoint columns, and lesion columns other
    than the ids and the lesion features (role columns such as ``volume_ml`` are checked
    by their own rules).

    Parameters
    ----------
    cohort : Cohort
        A validated cohort.

    Returns
    -------
    str
        One fact per line.

    Examples
    --------
    >>> import survrad as sr
    >>> text = describe_cohort(sr.simulate_cohort(n_patients=30, random_state=1))
    >>> text.splitlines()[0]
    'patients: 30'
    """
    lines = [f"patients: {cohort.n_patients}"]
    if cohort.has_lesions:
        base = cohort.baseline_lesions()
        per = base.groupby(cohort.columns.patient_id).size().reindex(cohort.patient_ids,
                                                                      fill_value=0)
        lines.append(
            f"lesions: {cohort.n_lesions} rows; per patient at baseline mean {per.mean():.2f}, "
            f"median {per.median():g}, range {per.min()}-{per.max()}")
        tp = cohort.columns.timepoint
        if tp in cohort.lesions.columns:
            lines.append(f"timepoints: {sorted(cohort.lesions[tp].unique().tolist())}")
    for name, ep in sorted(cohort.endpoints.items()):
        y = cohort.y(name)
        if ep.kind == "survival":
            ev = int(y["event"].sum())
            lines.append(
                f"endpoint {name} (survival: {ep.time}, {ep.event}): {ev} events, "
                f"{cohort.n_patients - ev} censored ({100 * (1 - ev / cohort.n_patients):.1f}%), "
                f"time range {np.min(y['time']):g}-{np.max(y['time']):g}")
        else:
            pos = int(np.sum(y))
            lines.append(f"endpoint {name} (binary: {ep.target}): {pos} positive of "
                         f"{cohort.n_patients} ({100 * pos / cohort.n_patients:.1f}%)")
    lines.append(f"patient features ({len(cohort.patient_features)}): "
                 f"{', '.join(cohort.patient_features) or '-'}")
    unchecked = unchecked_columns(cohort)
    lines += _unchecked_line("patient", unchecked["patients"])
    lf = cohort.lesion_features
    lines.append(f"lesion features ({len(lf)}): {_shown(lf, 8)}")
    lines += _unchecked_line("lesion", unchecked["lesions"])
    center = cohort.columns.center
    if center in cohort.patients.columns:
        counts = cohort.patients[center].value_counts().sort_index()
        lines.append("centers: " + ", ".join(f"{k} ({v})" for k, v in counts.items()))
    if cohort.missing_data is not None:
        lines += [f"missing values: {text}" for text in cohort.missing_data.describe()]
    if len(cohort.excluded):
        lines.append(f"excluded rows: {len(cohort.excluded)} (see cohort.excluded)")
    return "\n".join(lines)


def _shown(names: Iterable[str], limit: int) -> str:
    names = list(names)
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "") or "-"


def _unchecked_line(table: str, names: list[str]) -> list[str]:
    if not names:
        return []
    return [f"{table} columns not checked as features ({len(names)}): {_shown(names, 12)}"]


def unchecked_columns(cohort: Cohort) -> dict[str, list[str]]:
    """Columns that were not validated as features, per table.

    Patients: every column except the patient features and the endpoint columns (which
    are validated as outcomes). Lesions: every column except the ids and the lesion
    features (role columns such as ``volume_ml`` or ``irradiated`` have their own checks,
    but are not checked as features).

    Parameters
    ----------
    cohort : Cohort
        A validated cohort.

    Returns
    -------
    dict
        ``{"patients": [...], "lesions": [...]}``, names in table order (``lesions`` is
        empty without a lesion table).

    Examples
    --------
    >>> import survrad as sr
    >>> unchecked_columns(sr.simulate_cohort(n_patients=30, random_state=1))["patients"]
    ['center', 'best_response']
    """
    outcomes = {c for ep in cohort.endpoints.values() for c in ep.columns}
    checked = set(cohort.patient_features) | outcomes
    out = {"patients": [str(c) for c in cohort.patients.columns if c not in checked],
           "lesions": []}
    if cohort.has_lesions:
        checked = set(cohort.lesion_features) | {cohort.columns.patient_id,
                                                 cohort.columns.lesion_id}
        out["lesions"] = [str(c) for c in cohort.lesions.columns if c not in checked]
    return out

"""Plain-text description of a Cohort (used by ``survrad check``)."""

from __future__ import annotations

import numpy as np

from survrad.data.cohort import Cohort

__all__ = ["describe_cohort"]


def describe_cohort(cohort: Cohort) -> str:
    """Summarise patients, lesions, endpoints and features in a few lines.

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
    lf = cohort.lesion_features
    shown = ", ".join(lf[:8]) + (", ..." if len(lf) > 8 else "")
    lines.append(f"lesion features ({len(lf)}): {shown or '-'}")
    center = cohort.columns.center
    if center in cohort.patients.columns:
        counts = cohort.patients[center].value_counts().sort_index()
        lines.append("centers: " + ", ".join(f"{k} ({v})" for k, v in counts.items()))
    if len(cohort.excluded):
        lines.append(f"excluded rows: {len(cohort.excluded)} (see cohort.excluded)")
    return "\n".join(lines)

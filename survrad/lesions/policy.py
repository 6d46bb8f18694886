"""Which lesion to irradiate? Rules compared against the truly worst lesion (layer 2).

:func:`compare_policies` scores three rules a radiation oncologist could follow when one
lesion per patient is to be treated with SBRT:

- ``top_ranked``: the lesion ranked first by a lesion decision table (cross-fitted, so no
  patient's own outcome chose its lesion);
- ``largest``: the largest lesion by volume (common practice);
- ``random``: a lesion drawn at random (credited with its expected hit, ``1 / m`` for a
  patient with ``m`` candidate lesions, so no random draw is involved).

A rule "hits" when it picks the patient's target lesion:

- ``target="truth"``: the truly worst (most refractory) lesion of a simulated cohort
  (``cohort.truth["lesions"]["is_worst"]``), among all baseline lesions;
- ``target="observed"``: on real data, a proxy: among the NON-irradiated lesions with a
  follow-up diameter (irradiation changes a lesion's course), the one whose longest
  diameter grew most (largest relative change). Every rule then chooses among those
  lesions only. The proxy mixes biology with measurement noise and with the response to
  immunotherapy; it is a check of direction, not a validation.

Only patients with at least two candidate lesions count (with one lesion every rule hits).
The hit rate of each rule gets a percentile interval from a patient bootstrap, and the
paired differences between rules (same resampled patients) get theirs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import check_choice, check_fraction, check_int, check_random_state
from survrad.data.cohort import Cohort
from survrad.exceptions import SchemaError
from survrad.lesions.base import lesion_values

__all__ = ["POLICIES", "PolicyComparison", "compare_policies"]

POLICIES = ("top_ranked", "largest", "random")


@dataclasses.dataclass(frozen=True)
class PolicyComparison:
    """Result of :func:`compare_policies` (unrounded numbers).

    Attributes
    ----------
    rules : pandas.DataFrame
        ``rule, hits, n_patients, hit_rate, ci_low, ci_high`` (``hits`` is the expected
        number of hits for ``random``).
    differences : pandas.DataFrame
        ``rule, versus, difference, ci_low, ci_high``: paired differences of hit rates.
    target : {"truth", "observed"}
    n_patients : int
        Patients with at least two candidate lesions (the denominator).
    chance : float
        Mean of ``1 / m`` over those patients (the ``random`` rule's hit rate).
    n_boot : int
    ci_level : float
    """

    rules: pd.DataFrame
    differences: pd.DataFrame
    target: str
    n_patients: int
    chance: float
    n_boot: int
    ci_level: float

    def to_frame(self) -> pd.DataFrame:
        """The per-rule table (a copy)."""
        return self.rules.copy()


def _decision_frame(decisions: Any) -> pd.DataFrame:
    table = decisions.table if hasattr(decisions, "table") else decisions
    if not isinstance(table, pd.DataFrame):
        raise TypeError("decisions must be a LesionDecisions or a DataFrame, got "
                        f"{type(decisions).__name__}.")
    need = ["patient_id", "lesion_id", "risk"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise SchemaError(f"the decision table lacks columns {missing}.", file="decisions",
                          column=missing[0])
    return table


def _candidates(cohort: Cohort, target: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Baseline lesions, the mask of candidate lesions and the target flag."""
    base = cohort.baseline_lesions().reset_index(drop=True)
    cols = cohort.columns
    if target == "truth":
        truth = cohort.truth.get("lesions")
        if truth is None or "is_worst" not in truth.columns:
            raise SchemaError("target='truth' needs a simulated cohort (cohort.truth["
                              "'lesions'] with 'is_worst'); use target='observed' on real "
                              "data.", file="truth", column="is_worst")
        keep = np.ones(len(base), dtype=bool)
        if cols.timepoint in cohort.lesions.columns:
            tp = cohort.lesions[cols.timepoint]
            worst = truth.loc[(tp == tp.min()).to_numpy(), "is_worst"].to_numpy(bool)
        else:
            worst = truth["is_worst"].to_numpy(bool)
        return base, keep, worst
    need = [cols.irradiated, cols.diameter, cols.diameter_followup]
    missing = [c for c in need if c not in base.columns]
    if missing:
        raise SchemaError(f"target='observed' needs the lesion columns {need}; missing "
                          f"{missing}.", file="lesions", column=missing[0])
    follow = pd.to_numeric(base[cols.diameter_followup], errors="coerce").to_numpy(float)
    diameter = lesion_values(base, [cols.diameter], cohort, positive=True)[:, 0]
    keep = (base[cols.irradiated].to_numpy() == 0) & np.isfinite(follow)
    change = np.where(keep, follow / diameter - 1.0, -np.inf)
    pid = base[cols.patient_id].astype(str).to_numpy()
    codes = pd.factorize(pid)[0]
    best = np.full(codes.max() + 1, -np.inf)
    np.maximum.at(best, codes, change)
    worst = keep & (change == best[codes])
    first = _first_true(worst, codes)            # ties: the first lesion in table order
    return base, keep, first


def _first_true(flag: np.ndarray, codes: np.ndarray) -> np.ndarray:
    out = np.zeros(flag.size, dtype=bool)
    idx = np.flatnonzero(flag)
    _, first = np.unique(codes[idx], return_index=True)
    out[idx[first]] = True
    return out


def _pick(values: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """Row of the largest value of every group (first in table order on ties)."""
    order = np.lexsort((np.arange(values.size), -values, codes))
    first = np.r_[True, codes[order][1:] != codes[order][:-1]]
    out = np.full(n, -1)
    out[codes[order][first]] = order[first]
    return out


def compare_policies(decisions: Any, cohort: Cohort, *, target: str = "auto",
                     n_boot: int = 2000, ci_level: float = 0.95,
                     random_state: Any = None) -> PolicyComparison:
    """How often does each rule pick the patient's worst lesion?

    Parameters
    ----------
    decisions : LesionDecisions or pandas.DataFrame
        A lesion decision table (:func:`~survrad.lesions.lesion_decision_table`) or any
        table with ``patient_id, lesion_id, risk`` (e.g.
        :func:`~survrad.lesions.lesion_risk_table` renamed), from the same cohort.
    cohort : Cohort
        The cohort the table was made from (with ``volume_ml``).
    target : {"auto", "truth", "observed"}, default "auto"
        See the module docstring; "auto" is "truth" when the cohort carries simulation
        truth, else "observed".
    n_boot : int, default 2000
        Patient bootstrap replicates of the intervals.
    ci_level : float, default 0.95
    random_state : None, int or numpy.random.Generator
        Seeds the bootstrap.

    Returns
    -------
    PolicyComparison

    Raises
    ------
    SchemaError
        No truth for ``target="truth"``; missing columns; lesions of the table not in the
        cohort; fewer than 2 patients with two or more candidate lesions.

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=80, random_state=0)
    >>> table = c.baseline_lesions()[["patient_id", "lesion_id"]].assign(
    ...     risk=c.truth["lesions"]["score"].to_numpy())          # an oracle ranking
    >>> res = compare_policies(table, c, n_boot=200, random_state=0)
    >>> res.rules.set_index("rule")["hit_rate"].round(2).to_dict()["top_ranked"]
    1.0
    """
    target = check_choice("target", target, ("auto", "truth", "observed"))
    n_boot = check_int("n_boot", n_boot, min_value=20)
    check_fraction("ci_level", ci_level)
    if target == "auto":
        target = "truth" if "lesions" in cohort.truth else "observed"
    table = _decision_frame(decisions)
    base, keep, worst = _candidates(cohort, target)
    cols = cohort.columns
    key = pd.MultiIndex.from_arrays([base[cols.patient_id].astype(str),
                                     base[cols.lesion_id].astype(str)])
    pos = pd.MultiIndex.from_arrays([table["patient_id"].astype(str),
                                     table["lesion_id"].astype(str)]).get_indexer(key)
    if (pos < 0).any():
        raise SchemaError("baseline lesions of the cohort are missing from the decision "
                          "table; make the table from this cohort.", file="decisions",
                          ids=list(key[pos < 0].map("/".join))[:10])
    risk = pd.to_numeric(table["risk"], errors="coerce").to_numpy(float)[pos]
    volume = lesion_values(base, [cols.volume], cohort, positive=True)[:, 0]
    b = base.loc[keep].reset_index(drop=True)
    codes, _ = pd.factorize(b[cols.patient_id].astype(str))
    m = np.bincount(codes)
    n_groups = m.size
    multi = m >= 2
    if multi.sum() < 2:
        raise SchemaError(f"only {int(multi.sum())} patients have two or more candidate "
                          f"lesions (target={target!r}); a policy comparison needs more.",
                          file="lesions")
    w = worst[keep]
    hits = {"top_ranked": w[_pick(risk[keep], codes, n_groups)].astype(float),
            "largest": w[_pick(volume[keep], codes, n_groups)].astype(float),
            "random": np.bincount(codes, w.astype(float), minlength=n_groups) / m}
    H = np.column_stack([hits[r][multi] for r in POLICIES])          # (patients, rules)
    return _bootstrap(H, target, n_boot, ci_level, random_state, float((1.0 / m[multi]).mean()))


def _bootstrap(H: np.ndarray, target: str, n_boot: int, ci_level: float, random_state: Any,
               chance: float) -> PolicyComparison:
    n = H.shape[0]
    rng = check_random_state(random_state)
    means = np.empty((n_boot, H.shape[1]))
    for b in range(n_boot):
        means[b] = H[rng.integers(0, n, n)].mean(axis=0)
    lo = (1.0 - ci_level) / 2           # as the resampling engine
    hi = 1.0 - lo
    rate = H.mean(axis=0)
    rules = pd.DataFrame({"rule": list(POLICIES), "hits": H.sum(axis=0),
                          "n_patients": n, "hit_rate": rate,
                          "ci_low": np.quantile(means, lo, axis=0),
                          "ci_high": np.quantile(means, hi, axis=0)})
    rows = []
    for i, j in ((0, 1), (0, 2), (1, 2)):
        d = means[:, i] - means[:, j]
        rows.append((POLICIES[i], POLICIES[j], rate[i] - rate[j], np.quantile(d, lo),
                     np.quantile(d, hi)))
    diffs = pd.DataFrame(rows, columns=["rule", "versus", "difference", "ci_low", "ci_high"])
    return PolicyComparison(rules=rules, differences=diffs, target=target, n_patients=n,
                            chance=chance, n_boot=n_boot, ci_level=ci_level)

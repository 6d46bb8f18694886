"""Descriptive lesion-level response analyses (layer 2; lesion-level outputs of
docs/architecture.md).

- :func:`lesion_changes`: the relative diameter change and response of every baseline
  lesion (the data of a lesion waterfall plot);
- :func:`lesion_response_rates`: lesion response rates by group (irradiated vs not, the
  abscopal question) with confidence intervals that respect the clustering of lesions
  within patients;
- :func:`mixed_response`: per patient, whether some lesions shrink while others grow.

A lesion responds when its longest diameter changes by <= -30 % between baseline and
follow-up (``diameter_followup_mm``; a vanished lesion recorded as 0 mm is a -100 %
change), or as given by a 0/1 lesion response column.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from survrad._validation import check_choice, check_fraction, check_int, check_random_state
from survrad.data.cohort import Cohort
from survrad.exceptions import ConfigError, DataWarning, SchemaError, format_values
from survrad.lesions.base import LesionFrame, lesion_frame, lesion_labels, lesion_values

__all__ = [
    "RESPONSE_THRESHOLD",
    "ResponseRates",
    "lesion_changes",
    "lesion_response_rates",
    "mixed_response",
]

RESPONSE_THRESHOLD = -0.30
GROWTH_THRESHOLD = 0.20
#: Thresholds are inclusive up to this rounding slack, so that 10 mm -> 12 mm counts as
#: +20 % although ``12 / 10 - 1`` is 0.19999999999999996 in floating point.
_SLACK = 1e-9


# ------------------------------------------------------------------------- lesion data
def lesion_changes(cohort: Cohort, *, threshold: float = RESPONSE_THRESHOLD) -> pd.DataFrame:
    """Relative diameter change and response of every baseline lesion.

    Parameters
    ----------
    cohort : Cohort
        Needs the longest-diameter and follow-up-diameter columns.
    threshold : float, default -0.30
        A lesion with ``change <= threshold`` responds (inclusive, with a 1e-9 slack for
        floating-point rounding).

    Returns
    -------
    pandas.DataFrame
        ``patient_id``, ``lesion_id``, ``organ`` and ``irradiated`` (when present),
        ``diameter``, ``diameter_followup``, ``change`` (``followup / baseline - 1``),
        ``response`` (0/1), ``evaluable`` (False when the follow-up diameter is missing;
        ``change`` and ``response`` are then NaN and the lesion is listed in a
        DataWarning). Rows follow the patients of the cohort.

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=20, random_state=0)
    >>> ch = lesion_changes(c)
    >>> bool(((ch["change"] <= -0.30) == (ch["response"] == 1)).all())
    True
    """
    frame = lesion_frame(cohort)
    table = frame.table
    cols = cohort.columns
    base = lesion_values(table, [cols.diameter], cohort, positive=True)[:, 0]
    if cols.diameter_followup not in table.columns:
        raise SchemaError(f"the lesion table has no follow-up diameter column "
                          f"{cols.diameter_followup!r}; diameter changes need it.",
                          file="lesions", column=cols.diameter_followup)
    follow_raw = table[cols.diameter_followup]
    evaluable = follow_raw.notna().to_numpy()
    follow = lesion_values(table.loc[evaluable], [cols.diameter_followup], cohort)[:, 0]
    if (follow < 0).any():
        raise SchemaError("follow-up diameters must be >= 0.", file="lesions",
                          column=cols.diameter_followup,
                          ids=lesion_labels(table.loc[evaluable], follow < 0, cohort))
    if not evaluable.all():
        warnings.warn(f"{format_values(lesion_labels(table, ~evaluable, cohort))} lesions have "
                      f"no follow-up diameter ({cols.diameter_followup!r}); they are not "
                      "evaluable and left out of response analyses.", DataWarning,
                      stacklevel=2)
    change = np.full(frame.n_rows, np.nan)
    change[evaluable] = follow / base[evaluable] - 1.0
    out = {"patient_id": table[cols.patient_id].astype(str).to_numpy(),
           "lesion_id": table[cols.lesion_id].astype(str).to_numpy()}
    for key, col in (("organ", cols.organ), ("irradiated", cols.irradiated)):
        if col in table.columns:
            out[key] = table[col].to_numpy()
    follow_all = np.full(frame.n_rows, np.nan)
    follow_all[evaluable] = follow
    out.update(diameter=base, diameter_followup=follow_all, change=change,
               response=np.where(evaluable, (change <= threshold + _SLACK).astype(float),
                                 np.nan),
               evaluable=evaluable)
    return pd.DataFrame(out)


def _responses(frame: LesionFrame, cohort: Cohort, response: str | None,
               threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """``(y, evaluable)``: 0/1 response of every row of ``frame`` and where it is known."""
    cols = cohort.columns
    table = frame.table
    if response is None:
        response = cols.lesion_response if cols.lesion_response in table.columns else "diameter"
    if response == "diameter":
        ch = lesion_changes(cohort, threshold=threshold)
        return ch["response"].fillna(0.0).to_numpy(dtype=np.float64), ch["evaluable"].to_numpy()
    if response not in table.columns:
        raise SchemaError(f"lesion response column {response!r} not found; use "
                          "response='diameter' to derive it from the diameters.",
                          file="lesions", column=response)
    raw = pd.to_numeric(table[response], errors="coerce")
    bad = (raw.notna() & ~raw.isin([0, 1])) | (raw.isna() & table[response].notna())
    if bad.any():
        raise SchemaError("lesion response must be 0/1 (NaN = not evaluated).",
                          file="lesions", column=response,
                          values=list(pd.unique(table.loc[bad, response]))[:10],
                          ids=lesion_labels(table, bad.to_numpy(), cohort))
    evaluable = raw.notna().to_numpy()
    if not evaluable.all():
        warnings.warn(f"{format_values(lesion_labels(table, ~evaluable, cohort))} lesions have "
                      f"no {response!r}; they are not evaluable and left out.", DataWarning,
                      stacklevel=3)
    return raw.fillna(0.0).to_numpy(dtype=np.float64), evaluable


# ------------------------------------------------------------------------------ rates
@dataclasses.dataclass(frozen=True)
class ResponseRates:
    """Lesion response rates by group, with cluster-aware confidence intervals.

    Attributes
    ----------
    rates : pandas.DataFrame
        Indexed by the group level; columns ``n_patients`` (patients with at least one
        evaluable lesion in the group), ``n_lesions``, ``n_responders``, ``rate``,
        ``ci_low``, ``ci_high``, ``n_failed`` (bootstrap replicates without a lesion of
        the group, left out of that group's interval) and ``estimable``.
    differences : pandas.DataFrame
        One row per non-reference level (``"1 - 0"``): ``difference`` (rate of the level
        minus rate of the reference, the first level), ``ci_low``, ``ci_high``,
        ``estimable``.
    by : str
        The grouping column.
    method : str
        ``"bootstrap"`` or ``"gee"``.
    ci_level : float
    n_boot : int or None
        Bootstrap replicates (None for ``"gee"``).
    """

    rates: pd.DataFrame
    differences: pd.DataFrame
    by: str
    method: str
    ci_level: float
    n_boot: int | None

    def to_frame(self) -> pd.DataFrame:
        """The rate table (a copy)."""
        return self.rates.copy()


def lesion_response_rates(cohort: Cohort, by: str = "irradiated", *,
                          response: str | None = None, threshold: float = RESPONSE_THRESHOLD,
                          method: str = "bootstrap", ci_level: float = 0.95,
                          n_boot: int = 2000, random_state: Any = None) -> ResponseRates:
    """Lesion response rate per level of ``by``, with a patient-clustered CI.

    Lesions of one patient are correlated, so a binomial interval that treats them as
    independent is too narrow. Two cluster-aware intervals are offered:

    - ``method="bootstrap"`` (default): patients are resampled with replacement (all their
      evaluable lesions come along) ``n_boot`` times; the rate of a replicate is
      ``sum(responders) / sum(lesions)`` over its patients; percentile interval. The
      differences between levels use the same replicates (paired).
    - ``method="gee"``: the rate is the intercept of a logistic GEE with independence
      working correlation and the patient-robust (sandwich) variance, computed in closed
      form (equal to ``statsmodels`` GEE, ``cov_type="robust"``); Wald interval on the
      logit scale, transformed back; differences by the delta method. A rate of 0 or 1 is
      not estimable on the logit scale (NaN interval, ``estimable=False``).

    Parameters
    ----------
    cohort : Cohort
    by : str, default "irradiated"
        Lesion column defining the groups (no missing values).
    response : str, optional
        ``None``: the lesion response column when present, else derived from the
        diameters; ``"diameter"``: always derived (``change <= threshold``); or the name
        of a 0/1 lesion column (NaN = not evaluated).
    threshold : float, default -0.30
    method : {"bootstrap", "gee"}
    ci_level : float, default 0.95
    n_boot : int, default 2000
    random_state : None, int, SeedSequence or Generator

    Returns
    -------
    ResponseRates

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=100, random_state=0)
    >>> res = lesion_response_rates(c, n_boot=200, random_state=0)
    >>> list(res.rates.columns)[:4]
    ['n_patients', 'n_lesions', 'n_responders', 'rate']
    >>> bool((res.rates["ci_low"] <= res.rates["rate"]).all())
    True
    """
    check_choice("method", method, ("bootstrap", "gee"))
    level = check_fraction("ci_level", ci_level)
    frame = lesion_frame(cohort)
    y, evaluable = _responses(frame, cohort, response, threshold)
    levels, group = _groups(frame, cohort, by)
    keep = evaluable
    K = len(levels)
    flat = frame.codes[keep] * K + group[keep]
    size = frame.n_patients * K
    n = np.bincount(flat, minlength=size).reshape(-1, K).astype(np.float64)
    r = np.bincount(flat, y[keep], minlength=size).reshape(-1, K)
    clusters = n.sum(axis=1) > 0
    n, r = n[clusters], r[clusters]
    if n.shape[0] < 2:
        raise SchemaError("lesion response rates need evaluable lesions in at least 2 "
                          f"patients; found {n.shape[0]}.", file="lesions")
    N, R = n.sum(axis=0), r.sum(axis=0)
    rate = R / N
    if method == "bootstrap":
        n_boot = check_int("n_boot", n_boot, min_value=10)
        ci, n_failed, diff = _bootstrap(n, r, level, n_boot, random_state)
    else:
        ci, n_failed, diff = _gee(n, r, level)
        n_boot = None
    index = pd.Index(levels, name=by)
    rates = pd.DataFrame({"n_patients": (n > 0).sum(axis=0), "n_lesions": N.astype(np.int64),
                          "n_responders": R.round().astype(np.int64), "rate": rate,
                          "ci_low": ci[:, 0], "ci_high": ci[:, 1], "n_failed": n_failed,
                          "estimable": np.isfinite(ci).all(axis=1)}, index=index)
    differences = pd.DataFrame(
        {"difference": rate[1:] - rate[0], "ci_low": diff[:, 0], "ci_high": diff[:, 1],
         "estimable": np.isfinite(diff).all(axis=1)},
        index=pd.Index([f"{lv} - {levels[0]}" for lv in levels[1:]], name="comparison"))
    return ResponseRates(rates=rates, differences=differences, by=by, method=method,
                         ci_level=level, n_boot=n_boot)


def _groups(frame: LesionFrame, cohort: Cohort, by: str) -> tuple[list[Any], np.ndarray]:
    table = frame.table
    if by not in table.columns:
        raise SchemaError(f"grouping column {by!r} not in the lesion table; available: "
                          f"{[str(c) for c in table.columns]}.", file="lesions", column=by)
    missing = table[by].isna().to_numpy()
    if missing.any():
        raise SchemaError("the grouping column has missing values.", file="lesions",
                          column=by, ids=lesion_labels(table, missing, cohort))
    codes, uniques = pd.factorize(table[by], sort=True)
    levels = [u.item() if hasattr(u, "item") else u for u in uniques]
    if not levels:
        raise SchemaError("no baseline lesions: no response rate to compute.", file="lesions")
    return levels, codes


def _bootstrap(n: np.ndarray, r: np.ndarray, level: float, n_boot: int,
               random_state: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile CIs of the rates and of their differences from the reference level."""
    rng = check_random_state(random_state)
    m = n.shape[0]
    W = rng.multinomial(m, np.full(m, 1.0 / m), size=n_boot).astype(np.float64)
    Nb, Rb = W @ n, W @ r
    with np.errstate(invalid="ignore", divide="ignore"):
        rb = np.where(Nb > 0, Rb / np.where(Nb > 0, Nb, 1.0), np.nan)
    q = [(1 - level) / 2, (1 + level) / 2]
    ci = np.array([_percentile(rb[:, k], q) for k in range(rb.shape[1])])
    diff = np.array([_percentile(rb[:, k] - rb[:, 0], q) for k in range(1, rb.shape[1])])
    return ci, np.isnan(rb).sum(axis=0), diff.reshape(-1, 2)


def _percentile(x: np.ndarray, q: list[float]) -> np.ndarray:
    x = x[np.isfinite(x)]
    return np.quantile(x, q) if x.size else np.full(2, np.nan)


def _gee(n: np.ndarray, r: np.ndarray, level: float
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form independence GEE with one intercept per level, patient-robust variance.

    With indicator covariates the estimating equations give ``p_k = R_k / N_k``; the
    sandwich covariance of the proportions is ``M_kl / (N_k N_l)`` with
    ``M = sum_i U_i U_i'`` and ``U_ik = r_ik - p_k n_ik``. On the logit scale the
    variance of ``logit(p_k)`` is that divided by ``(p_k (1 - p_k))^2``.
    """
    N = n.sum(axis=0)
    p = r.sum(axis=0) / N
    U = r - p * n
    cov_p = (U.T @ U) / np.outer(N, N)
    z = stats.norm.ppf((1 + level) / 2)
    estimable = (p > 0) & (p < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = special.logit(p)
        se = np.sqrt(np.diag(cov_p)) / (p * (1 - p))
    ci = np.column_stack([special.expit(beta - z * se), special.expit(beta + z * se)])
    ci[~estimable] = np.nan
    K = p.size
    diff = np.full((K - 1, 2), np.nan)
    for k in range(1, K):
        var = cov_p[k, k] + cov_p[0, 0] - 2 * cov_p[k, 0]
        if estimable[k] and estimable[0]:
            d = p[k] - p[0]
            diff[k - 1] = d - z * np.sqrt(var), d + z * np.sqrt(var)
    return ci, np.zeros(K, dtype=np.int64), diff


# ------------------------------------------------------------------------ mixed response
def mixed_response(cohort: Cohort, *, shrink: float = RESPONSE_THRESHOLD,
                   grow: float = GROWTH_THRESHOLD) -> pd.DataFrame:
    """Per patient: does at least one lesion shrink while another grows?

    Uses the relative longest-diameter change of every evaluable baseline lesion (all
    lesions, not only targets; see :func:`lesion_changes`).

    Parameters
    ----------
    cohort : Cohort
    shrink : float, default -0.30
        A lesion with ``change <= shrink`` is shrinking (RECIST partial response).
    grow : float, default 0.20
        A lesion with ``change >= grow`` is growing (RECIST progression threshold).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``patient_id`` (every patient of the cohort, in order): ``n_evaluable``,
        ``n_shrinking``, ``n_growing`` (int) and ``mixed`` (1 when both counts are > 0,
        else 0; 0 for a patient without evaluable lesions, whose ``n_evaluable`` is 0).

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=30, random_state=0)
    >>> mr = mixed_response(c)
    >>> bool((mr["mixed"] == ((mr["n_shrinking"] > 0) & (mr["n_growing"] > 0))).all())
    True
    """
    if not shrink < 0 < grow:
        raise ConfigError(f"need shrink < 0 < grow, got shrink={shrink}, grow={grow}.")
    ch = lesion_changes(cohort)
    ok = ch["evaluable"].to_numpy()
    codes = cohort.patient_ids.get_indexer(ch["patient_id"])[ok]
    change = ch["change"].to_numpy()[ok]
    size = cohort.n_patients
    n_eval = np.bincount(codes, minlength=size)
    n_shrink = np.bincount(codes, change <= shrink + _SLACK, minlength=size).astype(np.int64)
    n_grow = np.bincount(codes, change >= grow - _SLACK, minlength=size).astype(np.int64)
    return pd.DataFrame({"n_evaluable": n_eval, "n_shrinking": n_shrink, "n_growing": n_grow,
                         "mixed": ((n_shrink > 0) & (n_grow > 0)).astype(np.int64)},
                        index=cohort.patient_ids)

"""Leave-one-centre-out validation and random-effects meta-analysis (layer 5).

:func:`leave_one_center_out` holds out each centre in turn (the values of the ``center``
column, or of any named patient column): the whole pipeline is fitted on the other
centres and validated on the held-out one by
:func:`~survrad.evaluation.external.external_validate` (so ComBat is fitted on the
training centres only, and the held-out centre is, for it, a new centre: see
``ComBat(unseen=...)``). The per-centre C-indices are pooled by
:func:`random_effects_meta`, as recommended for internal-external cross-validation by
Debray et al. (BMJ 2017;356:i6460) and Riley et al. (BMJ 2016;353:i3140).

Random-effects meta-analysis (``metafor::rma`` conventions)
    Estimates ``y_i`` with standard errors ``s_i`` (by default the C-index on the logit
    scale, ``logit(C)``, with the delta-method SE ``SE(C) / (C (1 - C))``, as Debray et
    al. recommend; ``scale="identity"`` pools C itself). Between-centre variance
    ``tau^2`` by DerSimonian-Laird (``method="DL"``) or restricted maximum likelihood
    (``"REML"``, Fisher scoring to a relative change below 1e-10; truncated at 0).
    Weights ``w_i = 1 / (s_i^2 + tau^2)``; pooled ``mu = sum w y / sum w`` with
    ``SE = 1 / sqrt(sum w)`` and a normal interval, or with ``hartung_knapp=True`` the
    Hartung-Knapp(-Sidik-Jonkman) SE ``sqrt(sum w (y - mu)^2 / ((k - 1) sum w))`` and a
    ``t_{k-1}`` interval (metafor's ``test = "knha"``). Cochran's ``Q`` uses the
    fixed-effect weights; ``I^2 = 100 tau^2 / (tau^2 + s^2)`` with the typical
    within-centre variance ``s^2 = (k - 1) sum(1/s_i^2) / ((sum 1/s_i^2)^2 - sum 1/s_i^4)``
    (metafor's definition, equal to ``(Q - (k - 1)) / Q`` for DL).
    Prediction interval for the C of a new centre (Riley, Higgins and Deeks BMJ
    2011;342:d549): ``mu +- t_{k-2} sqrt(tau^2 + SE(mu)^2)`` (NaN with fewer than 3
    centres). Everything is back-transformed to the C scale by ``expit`` on the logit
    scale.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from survrad._validation import check_choice, check_fraction, spawn_seeds
from survrad.data.cohort import Cohort
from survrad.data.split import group_values, split_by_group
from survrad.evaluation.external import (
    EXTERNAL_SUMMARY_COLUMNS,
    ExternalValidationResult,
    external_validate,
)
from survrad.evaluation.keys import MetricKey
from survrad.evaluation.validation import as_metric_key

__all__ = ["POOLED_COLUMNS", "LOCOResult", "MetaAnalysis", "leave_one_center_out",
           "random_effects_meta"]

_REML_TOL = 1e-10
_REML_MAX_ITER = 1000


@dataclasses.dataclass(frozen=True)
class MetaAnalysis:
    """A random-effects meta-analysis (result of :func:`random_effects_meta`).

    Numbers are on the scale of the input (``estimate``...) and back-transformed
    (``*_c``: ``expit`` for ``scale="logit"``, unchanged for ``"identity"``).

    Attributes
    ----------
    k : int
        Number of estimates (centres).
    method : {"DL", "REML"}
    hartung_knapp : bool
    scale : {"logit", "identity"}
    estimate, se, ci_low, ci_high : float
        Pooled estimate, its SE and interval (input scale).
    pi_low, pi_high : float
        Prediction interval for a new centre (input scale; NaN when k < 3).
    tau2, i2, q, q_p : float
        Between-centre variance, I^2 in percent, Cochran's Q and its p-value (chi^2_{k-1}).
    estimate_c, ci_low_c, ci_high_c, pi_low_c, pi_high_c : float
        The same on the C scale.
    ci_level : float
    """

    k: int
    method: str
    hartung_knapp: bool
    scale: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    tau2: float
    i2: float
    q: float
    q_p: float
    ci_level: float

    def _back(self, x: float) -> float:
        return float(special.expit(x)) if self.scale == "logit" else float(x)

    @property
    def estimate_c(self) -> float:
        """Pooled estimate on the C scale."""
        return self._back(self.estimate)

    @property
    def ci_low_c(self) -> float:
        """Lower confidence limit on the C scale."""
        return self._back(self.ci_low)

    @property
    def ci_high_c(self) -> float:
        """Upper confidence limit on the C scale."""
        return self._back(self.ci_high)

    @property
    def pi_low_c(self) -> float:
        """Lower prediction limit on the C scale."""
        return self._back(self.pi_low)

    @property
    def pi_high_c(self) -> float:
        """Upper prediction limit on the C scale."""
        return self._back(self.pi_high)

    def to_frame(self) -> pd.DataFrame:
        """One row: k, method, the pooled numbers on the C scale, tau2, i2, q, q_p."""
        return pd.DataFrame([{
            "k": self.k, "method": self.method + ("+HK" if self.hartung_knapp else ""),
            "scale": self.scale, "estimate": self.estimate_c, "ci_low": self.ci_low_c,
            "ci_high": self.ci_high_c, "pi_low": self.pi_low_c, "pi_high": self.pi_high_c,
            "tau2": self.tau2, "i2": self.i2, "q": self.q, "q_p": self.q_p}])


def _tau2_dl(y: np.ndarray, v: np.ndarray) -> float:
    w = 1.0 / v
    mu = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - mu) ** 2)
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    return float(max(0.0, (q - (y.size - 1)) / c))


def _tau2_reml(y: np.ndarray, v: np.ndarray) -> float:
    """REML tau^2 by Fisher scoring from the DL value (metafor's algorithm), >= 0."""
    tau2 = _tau2_dl(y, v)
    for _ in range(_REML_MAX_ITER):
        w = 1.0 / (v + tau2)
        sw = np.sum(w)
        mu = np.sum(w * y) / sw
        # P = W - W 1 1' W / sum(w); score and information of the REML likelihood
        r = y - mu
        p_diag = w - w**2 / sw
        score = 0.5 * (np.sum((w * r) ** 2) - np.sum(p_diag))
        pp = np.diag(w) - np.outer(w, w) / sw
        info = 0.5 * np.sum(pp * pp)
        new = max(0.0, tau2 + score / info)
        if abs(new - tau2) <= _REML_TOL * max(1.0, tau2):
            return float(new)
        tau2 = new
    raise ValueError("REML estimation of tau^2 did not converge; use method='DL'.")


def random_effects_meta(estimates: Sequence[float], se: Sequence[float], *,
                        method: Literal["DL", "REML"] = "REML", hartung_knapp: bool = False,
                        scale: Literal["logit", "identity"] = "identity",
                        ci_level: float = 0.95) -> MetaAnalysis:
    """Random-effects meta-analysis of ``estimates`` with standard errors ``se``.

    Parameters
    ----------
    estimates, se : sequence of float
        One per centre, on the pooling scale (for C on the logit scale: ``logit(C)`` and
        ``SE(C) / (C (1 - C))``; ``scale`` only says how to back-transform).
    method : {"DL", "REML"}, default "REML"
    hartung_knapp : bool, default False
        Hartung-Knapp SE and t interval (recommended with few centres).
    scale : {"logit", "identity"}, default "identity"
        Scale of the inputs: "logit" back-transforms by expit.
    ci_level : float, default 0.95

    Returns
    -------
    MetaAnalysis

    Examples
    --------
    >>> m = random_effects_meta([0.60, 0.70, 0.65], [0.03, 0.03, 0.03], method="DL")
    >>> round(m.estimate, 3), m.k
    (0.65, 3)
    """
    check_choice("method", method, ["DL", "REML"])
    check_choice("scale", scale, ["logit", "identity"])
    level = check_fraction("ci_level", ci_level)
    y = np.asarray(estimates, dtype=float)
    s = np.asarray(se, dtype=float)
    if y.ndim != 1 or y.shape != s.shape or y.size < 2:
        raise ValueError("a meta-analysis needs at least 2 estimates, each with its SE.")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError("estimates must be finite and standard errors finite and > 0.")
    v = s**2
    k = y.size
    tau2 = _tau2_dl(y, v) if method == "DL" else _tau2_reml(y, v)
    w = 1.0 / (v + tau2)
    mu = float(np.sum(w * y) / np.sum(w))
    alpha = 1 - level
    if hartung_knapp:
        se_mu = float(np.sqrt(np.sum(w * (y - mu) ** 2) / ((k - 1) * np.sum(w))))
        crit = float(stats.t.ppf(1 - alpha / 2, k - 1))
    else:
        se_mu = float(1.0 / np.sqrt(np.sum(w)))
        crit = float(stats.norm.ppf(1 - alpha / 2))
    wf = 1.0 / v
    mu_fe = np.sum(wf * y) / np.sum(wf)
    q = float(np.sum(wf * (y - mu_fe) ** 2))
    s2 = (k - 1) * np.sum(wf) / (np.sum(wf) ** 2 - np.sum(wf**2))
    i2 = float(100 * tau2 / (tau2 + s2))
    if k >= 3:
        half = float(stats.t.ppf(1 - alpha / 2, k - 2)) * np.sqrt(tau2 + se_mu**2)
        pi = (mu - half, mu + half)
    else:
        pi = (np.nan, np.nan)
    return MetaAnalysis(k=k, method=method, hartung_knapp=bool(hartung_knapp), scale=scale,
                        estimate=mu, se=se_mu, ci_low=mu - crit * se_mu,
                        ci_high=mu + crit * se_mu, pi_low=float(pi[0]), pi_high=float(pi[1]),
                        tau2=tau2, i2=i2, q=q, q_p=float(stats.chi2.sf(q, k - 1)),
                        ci_level=level)


POOLED_COLUMNS = ["metric", "horizon", "k", "method", "scale", "estimate", "ci_low",
                  "ci_high", "pi_low", "pi_high", "tau2", "i2", "q", "q_p"]


@dataclasses.dataclass(frozen=True)
class LOCOResult:
    """Outcome of :func:`leave_one_center_out`.

    Attributes
    ----------
    column : str
        The grouping column.
    centers : tuple of str
    results : mapping of str to ExternalValidationResult
        Per held-out centre.
    meta : MetaAnalysis or None
        Random-effects pooling of the per-centre C-index (survival endpoints) or AUC
        (binary endpoints, with the bootstrap SE); None when it could not be computed
        (``meta_failure`` says why).
    meta_metric : MetricKey
        The pooled metric (``MetricKey("c_index")`` or ``MetricKey("auc")``).
    meta_failure : str
    """

    column: str
    centers: tuple[str, ...]
    results: Mapping[str, ExternalValidationResult]
    meta: MetaAnalysis | None
    meta_metric: MetricKey
    meta_failure: str = ""

    def per_center(self, metric: str | MetricKey | None = None,
                   horizon: float | None = None) -> pd.DataFrame:
        """One row per centre and metric (only ``metric`` when given): center, n, events,
        metric, horizon, apparent (development), estimate (external), ci_low, ci_high
        (bootstrap percentile), se (IJ SE of C, or the bootstrap SE for other metrics)."""
        rows = []
        for center, res in self.results.items():
            keys = res.metrics if metric is None else [as_metric_key(metric, horizon)]
            for m in keys:
                est = res.estimate(m)
                rows.append({
                    "center": center, "n": res.n_test, "events": res.events_test,
                    "metric": m.name, "horizon": np.nan if m.horizon is None else m.horizon,
                    "apparent": est["apparent"], "estimate": est["external"],
                    "ci_low": est["ci_low"], "ci_high": est["ci_high"],
                    "se": _center_se(res, m)})
        return pd.DataFrame(rows, columns=["center", "n", "events", "metric", "horizon",
                                           "apparent", "estimate", "ci_low", "ci_high", "se"])

    def summary(self) -> pd.DataFrame:
        """``center`` then the columns of ``ExternalValidationResult.summary()`` (metric,
        horizon, apparent, optimism, corrected, ci_low, ci_high, n_boot, n_failed,
        external): one block of rows per held-out centre. The pooled estimate is
        :meth:`pooled`."""
        frames = [res.summary().assign(center=[center] * len(res.metrics))
                  for center, res in self.results.items()]
        out = pd.concat(frames, ignore_index=True)
        return out[["center", *EXTERNAL_SUMMARY_COLUMNS]]

    def pooled(self) -> pd.DataFrame:
        """The random-effects pooling of :attr:`meta_metric` as one row (no row when it
        could not be computed: see ``meta_failure``): metric, horizon, k, method, scale,
        estimate, ci_low, ci_high, pi_low, pi_high (on the C scale), tau2, i2, q, q_p."""
        if self.meta is None:
            return pd.DataFrame(columns=POOLED_COLUMNS)
        m = self.meta_metric
        out = self.meta.to_frame().assign(
            metric=m.name, horizon=np.nan if m.horizon is None else m.horizon)
        return out[POOLED_COLUMNS]

    def to_frame(self) -> pd.DataFrame:
        """Alias of :meth:`summary`."""
        return self.summary()


def _boot_se(res: ExternalValidationResult, metric: MetricKey) -> float:
    vals = res.values(metric)
    vals = vals[np.isfinite(vals)]
    return float(np.std(vals, ddof=1)) if vals.size > 1 else np.nan


def _center_se(res: ExternalValidationResult, metric: MetricKey) -> float:
    """The SE pooled for ``metric``: the IJ SE of Harrell's C, else the bootstrap SE."""
    if metric == MetricKey("c_index"):
        return np.nan if res.c_index_se is None else float(res.c_index_se)
    return _boot_se(res, metric)


def leave_one_center_out(pipeline: Any, cohort: Cohort, endpoint: str, *,
                         column: str | None = None, metrics: Sequence[str] | None = None,
                         horizons: Sequence[float] | None = None, n_boot: int = 200,
                         random_state: int | None = None, ci_level: float = 0.95,
                         method: Literal["DL", "REML"] = "REML", hartung_knapp: bool = False,
                         scale: Literal["logit", "identity"] = "logit",
                         max_failed: float = 0.10) -> LOCOResult:
    """Each centre in turn validates the pipeline fitted on all other centres.

    Parameters
    ----------
    pipeline : CohortPipeline
        Unfitted; cloned and fitted once per held-out centre.
    cohort : Cohort
    endpoint : str
    column : str, optional
        Grouping patient column; default the cohort's ``center`` column.
    metrics, horizons, n_boot, ci_level, max_failed
        As :func:`~survrad.evaluation.external.external_validate` (per centre).
    random_state : int or None
        Centre ``k`` (in sorted order) uses ``SeedSequence(random_state).spawn(K)[k]``.
    method, hartung_knapp
        Of the random-effects pooling (:func:`random_effects_meta`).
    scale : {"logit", "identity"}, default "logit"
        Pool C on the logit scale (Debray et al. 2017) or as it is.

    Returns
    -------
    LOCOResult

    Raises
    ------
    SchemaError
        Missing grouping column or values; a held-out centre without events (merge small
        centres); every error of ``external_validate``.

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=300, n_centers=3, random_state=1)
    >>> res = sr.leave_one_center_out(sr.CohortPipeline(patient_features=["age", "ecog"]),
    ...                               c, "os", n_boot=20, random_state=0)
    >>> res.summary()["center"].unique().tolist()
    ['C1', 'C2', 'C3']
    >>> res.pooled()["k"].item()
    3
    """
    check_choice("scale", scale, ["logit", "identity"])
    col = cohort.columns.center if column is None else column
    centers = group_values(cohort, col)
    if len(centers) < 2:
        from survrad.exceptions import SchemaError

        raise SchemaError(f"leave-one-centre-out needs at least 2 centres; found {centers}.",
                          file="patients", column=col)
    seeds = spawn_seeds(random_state, len(centers))
    results = {}
    for center, seed in zip(centers, seeds, strict=True):
        train, test = split_by_group(cohort, center, col)
        results[center] = external_validate(pipeline, train, test, endpoint, metrics=metrics,
                                            horizons=horizons, n_boot=n_boot,
                                            random_state=seed, ci_level=ci_level,
                                            max_failed=max_failed)
    kind = cohort.endpoint(endpoint).kind
    metric = MetricKey("c_index" if kind == "survival" else "auc")
    meta, why = _pool(results, metric, method, hartung_knapp, scale, ci_level)
    return LOCOResult(column=col, centers=tuple(centers), results=results, meta=meta,
                      meta_metric=metric, meta_failure=why)


def _pool(results: Mapping[str, ExternalValidationResult], metric: MetricKey, method: str,
          hartung_knapp: bool, scale: str, ci_level: float) -> tuple[MetaAnalysis | None, str]:
    est, se = [], []
    for center, res in results.items():
        if metric not in res.external:
            return None, f"metric {metric.label} was not computed"
        c = float(res.external[metric])
        s = _center_se(res, metric)
        if not np.isfinite(c) or not np.isfinite(s) or s <= 0:
            return None, f"centre {center}: {metric.label} or its SE could not be computed"
        if scale == "logit":
            if not 0 < c < 1:
                return None, f"centre {center}: {metric.label} = {c:g} has no logit"
            est.append(float(special.logit(c)))
            se.append(s / (c * (1 - c)))
        else:
            est.append(c)
            se.append(s)
    try:
        return random_effects_meta(est, se, method=method, hartung_knapp=hartung_knapp,
                                   scale=scale, ci_level=ci_level), ""
    except ValueError as exc:
        return None, str(exc)

"""Smooth calibration curves and the integrated calibration index (layer 5).

Survival at a horizon (Austin, Harrell & van Klaveren, Stat Med 2020;39:2714): with
``p_i`` the predicted risk of the event by the horizon, a Cox model of the outcome on a
restricted cubic spline (Harrell's ``rcs``, :mod:`survrad._math.splines`) of the
complementary log-log ``log(-log(1 - p_i))`` is fitted with :class:`~survrad.models.CoxModel`
(Efron ties, on all follow-up); its predicted risk at the horizon is the smoothed observed
risk ``o_i``. Binary outcomes: the same with a logistic regression of the outcome on a
restricted cubic spline of ``logit(p_i)`` (a spline smoother where Austin & Steyerberg,
Stat Med 2019, used loess). With ``d_i = |o_i - p_i|``:

* ICI = mean ``d_i``; E50 = median; E90 = 90th percentile (R's type 7 quantile); Emax = max.

On the lung data these equal R (``coxph`` + ``survfit`` on ``Hmisc::rcspline.eval``; ``glm``
for binary) to 1e-6 (``tests/test_smooth_calibration.py``). ``lifelines``'
``survival_probability_calibration`` implements the same paper with a different smoother
(a Royston-Parmar spline model with a *linear* effect of the cloglog risk and a spline in
log time): its ICI/E50 differ.

:func:`optimism_corrected_calibration` is a plain bootstrap loop (Harrell's optimism
correction: apparent minus the mean of resample-apparent minus resample-on-original) over
a :class:`~survrad.models.CohortPipeline`, until the validation engine computes it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from survrad._math.splines import rcs_basis, rcs_knots
from survrad._validation import check_int, seed_unseeded, spawn_seeds
from survrad.data.cohort import Cohort
from survrad.data.outcome import Surv, check_binary, check_y_survival
from survrad.evaluation.metrics import _logistic_fit
from survrad.exceptions import SchemaError
from survrad.models.cox import CoxModel

__all__ = ["CalibrationOptimism", "SmoothCalibration", "optimism_corrected_calibration",
           "smooth_calibration"]

STATISTICS = ("ici", "e50", "e90", "emax")
#: Predicted risks of exactly 0 or 1 enter the smoother at this distance from 0 and 1.
CLIP = 1e-10
_EXPECTED = (ValueError, ArithmeticError, np.linalg.LinAlgError)


@dataclass(frozen=True, eq=False)
class SmoothCalibration:
    """A smooth calibration curve with its summary numbers (result of :func:`smooth_calibration`).

    Attributes
    ----------
    horizon : float or None
        Time of the predicted risk; None for a binary outcome.
    n_knots : int
    knots : ndarray
        Spline knots on the cloglog (survival) or logit (binary) scale of the predictions.
    predicted, observed : ndarray (n,)
        Per patient: predicted risk and smoothed observed risk.
    grid, grid_observed : ndarray
        The curve: predicted risks from their 1st to 99th percentile, and the smoothed
        observed risk there.
    ici, e50, e90, emax : float
        Mean, median, 90th percentile and maximum of ``|observed - predicted|``.
    """

    horizon: float | None
    n_knots: int
    knots: np.ndarray
    predicted: np.ndarray
    observed: np.ndarray
    grid: np.ndarray
    grid_observed: np.ndarray
    ici: float
    e50: float
    e90: float
    emax: float

    def summary(self) -> dict[str, float]:
        """``{"ici": ..., "e50": ..., "e90": ..., "emax": ...}``.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> p = rng.uniform(0.05, 0.95, 400)
        >>> cal = smooth_calibration((rng.random(400) < p).astype(int), p)
        >>> sorted(cal.summary())
        ['e50', 'e90', 'emax', 'ici']
        """
        return {name: getattr(self, name) for name in STATISTICS}

    def to_frame(self) -> pd.DataFrame:
        """The curve: one row per grid point, columns ``predicted`` and ``observed``.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> p = rng.uniform(0.05, 0.95, 400)
        >>> cal = smooth_calibration((rng.random(400) < p).astype(int), p, n_grid=20)
        >>> cal.to_frame().shape
        (20, 2)
        """
        return pd.DataFrame({"predicted": self.grid, "observed": self.grid_observed})

    def patient_frame(self) -> pd.DataFrame:
        """Per patient: ``predicted``, ``observed`` and ``difference`` (observed - predicted).

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> p = rng.uniform(0.05, 0.95, 400)
        >>> cal = smooth_calibration((rng.random(400) < p).astype(int), p)
        >>> bool((cal.patient_frame()["difference"].abs().mean() - cal.ici) == 0)
        True
        """
        return pd.DataFrame({"predicted": self.predicted, "observed": self.observed,
                             "difference": self.observed - self.predicted})


# ----------------------------------------------------------------------------- checks
def _risks(predicted_risk: Any, n: int) -> np.ndarray:
    p = np.asarray(predicted_risk, dtype=float)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim != 1 or p.size != n:
        raise SchemaError(f"predicted_risk must hold one risk per patient ({n}); got shape "
                          f"{p.shape}.")
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        raise SchemaError("predicted_risk must be probabilities in [0, 1].",
                          ids=[f"row {i + 1}" for i in np.flatnonzero(bad)],
                          values=p[bad].tolist())
    if np.ptp(p) == 0:
        raise ValueError("every predicted risk is the same: a calibration curve needs "
                         "spread in the predictions.")
    return p


def _summary(p: np.ndarray, o: np.ndarray) -> dict[str, float]:
    d = np.abs(o - p)
    return {"ici": float(d.mean()), "e50": float(np.median(d)),
            "e90": float(np.quantile(d, 0.9)), "emax": float(d.max())}


def _clipped(p: np.ndarray) -> np.ndarray:
    """Risks moved into ``[CLIP, 1 - CLIP]`` for the cloglog / logit of the smoother."""
    return np.clip(p, CLIP, 1.0 - CLIP)


def _grid(p: np.ndarray, n_grid: int) -> np.ndarray:
    lo, hi = np.quantile(p, [0.01, 0.99])
    return np.linspace(lo, hi, n_grid)


def _design(z: np.ndarray, knots: np.ndarray) -> pd.DataFrame:
    basis = rcs_basis(z, knots)
    return pd.DataFrame(basis, columns=["z", *[f"z_rcs{j}" for j in range(1, basis.shape[1])]])


# --------------------------------------------------------------------------- smoothers
def _survival_smoother(y: tuple[np.ndarray, np.ndarray], p: np.ndarray, horizon: float,
                       n_knots: int, grid: np.ndarray) -> tuple[np.ndarray, ...]:
    time, event = y
    if horizon > time.max():
        raise ValueError(f"horizon {horizon:g} is beyond the last follow-up time "
                         f"({time.max():g}): the observed risk there is unknown.")
    z = np.log(-np.log1p(-_clipped(p)))
    knots = rcs_knots(z, n_knots)
    model = CoxModel().fit(_design(z, knots), Surv.from_arrays(time=time, event=event))
    observed = 1.0 - model.predict_survival_function(_design(z, knots), [horizon])[:, 0]
    zg = np.log(-np.log1p(-_clipped(grid)))
    curve = 1.0 - model.predict_survival_function(_design(zg, knots), [horizon])[:, 0]
    return knots, observed, curve


def _binary_smoother(target: np.ndarray, p: np.ndarray, n_knots: int,
                     grid: np.ndarray) -> tuple[np.ndarray, ...]:
    q = _clipped(p)
    z = np.log(q / (1.0 - q))
    knots = rcs_knots(z, n_knots)
    fit = _logistic_fit(target, rcs_basis(z, knots))
    qg = _clipped(grid)
    zg = np.log(qg / (1.0 - qg))
    eta = fit.params[0] + rcs_basis(zg, knots) @ fit.params[1:]
    return knots, np.asarray(fit.fittedvalues, dtype=float), 1.0 / (1.0 + np.exp(-eta))


def smooth_calibration(y: Any, predicted_risk: Any, *, horizon: float | None = None,
                       n_knots: int = 3, n_grid: int = 50) -> SmoothCalibration:
    """Smooth calibration curve, ICI, E50, E90 and Emax (see the module docstring).

    Parameters
    ----------
    y : structured survival outcome, or array-like of 0/1
        Survival outcome (``Surv``) with ``horizon``, or a binary outcome without.
    predicted_risk : array-like of shape (n,)
        Predicted probability of the event (by ``horizon`` for survival: ``1 - S(h)``).
        Risks of exactly 0 or 1 (a Cox model's survival underflowing to 0 for extreme
        patients) enter the smoother's cloglog / logit as ``1e-10`` and ``1 - 1e-10``
        (:data:`CLIP`, as lifelines); ICI and the other numbers use the risks as given.
    horizon : float, optional
        Time of the predicted risk (survival outcomes).
    n_knots : int, default 3
        Knots of the restricted cubic spline (Austin et al. used 3; 4 or 5 follow the
        data more closely and need more events).
    n_grid : int, default 50
        Points of the drawn curve.

    Returns
    -------
    SmoothCalibration

    Raises
    ------
    SchemaError
        Risks outside [0, 1] or not finite, wrong length, bad outcome.
    ValueError
        A horizon beyond the follow-up; too few distinct predictions for the knots; a
        smoother that cannot be fitted (``FitError`` when the Cox smoother has fewer than
        10 events per spline column; a logistic fit that does not converge).

    Examples
    --------
    Predictions that are the true risks are well calibrated (small ICI):

    >>> from survrad.data.outcome import Surv
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=2000)
    >>> t = rng.exponential(np.exp(-lp))
    >>> y = Surv.from_arrays(time=np.minimum(t, 2.0), event=t <= 2.0)
    >>> risk = 1 - np.exp(-1.0 * np.exp(lp))                 # true risk by t = 1
    >>> cal = smooth_calibration(y, risk, horizon=1.0)
    >>> bool(cal.ici < 0.02), cal.knots.size
    (True, 3)
    """
    n_knots = check_int("n_knots", n_knots, min_value=3)
    n_grid = check_int("n_grid", n_grid, min_value=2)
    if horizon is None:
        if isinstance(y, np.ndarray) and y.dtype.names is not None:
            raise ValueError("y is a survival outcome: give the horizon of the predicted "
                             "risk (smooth_calibration(..., horizon=h)).")
        target = check_binary(y, column="y")
        p = _risks(predicted_risk, target.size)
        grid = _grid(p, n_grid)
        knots, observed, curve = _binary_smoother(target, p, n_knots, grid)
        h = None
    else:
        h = float(horizon)
        if not np.isfinite(h) or h <= 0:
            raise ValueError(f"horizon must be a positive finite time, got {horizon!r}.")
        surv = check_y_survival(y)
        p = _risks(predicted_risk, surv[0].size)
        grid = _grid(p, n_grid)
        knots, observed, curve = _survival_smoother(surv, p, h, n_knots, grid)
    return SmoothCalibration(horizon=h, n_knots=n_knots, knots=knots, predicted=p,
                             observed=observed, grid=grid, grid_observed=curve,
                             **_summary(p, observed))


# ------------------------------------------------------------------ bootstrap optimism
@dataclass(frozen=True, eq=False)
class CalibrationOptimism:
    """Bootstrap optimism correction of ICI, E50, E90 and Emax.

    Attributes
    ----------
    apparent : SmoothCalibration
        Of the pipeline fitted on the whole cohort, on the whole cohort.
    replicates : DataFrame
        One row per replicate: ``replicate``, ``status`` ("ok"/"failed"), ``reason``,
        ``warnings`` (their messages) and, per statistic, ``<stat>__boot`` (fit on the
        resample, scored on it) and ``<stat>__orig`` (same fit, scored on the cohort).
    apparent_warnings : tuple of str
        Warnings raised while fitting and scoring the apparent model.

    Examples
    --------
    Two replicates by hand (what :func:`optimism_corrected_calibration` records):

    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 300)
    >>> apparent = smooth_calibration((rng.random(300) < p).astype(int), p)
    >>> reps = pd.DataFrame({"replicate": [0, 1], "status": ["ok", "ok"], "reason": "",
    ...                      **{f"{s}__boot": [0.01, 0.02] for s in STATISTICS},
    ...                      **{f"{s}__orig": [0.05, 0.04] for s in STATISTICS}})
    >>> res = CalibrationOptimism(apparent, reps, ())
    >>> round(res.optimism()["ici"], 3), res.n_failed
    (-0.03, 0)
    >>> bool(res.corrected()["ici"] == apparent.ici + 0.03)
    True
    """

    apparent: SmoothCalibration
    replicates: pd.DataFrame
    apparent_warnings: tuple[str, ...]

    @property
    def n_failed(self) -> int:
        """Replicates that could not be scored (see ``replicates["reason"]``)."""
        return int((self.replicates["status"] != "ok").sum())

    def optimism(self) -> dict[str, float]:
        """Mean over successful replicates of ``<stat>__boot - <stat>__orig``."""
        ok = self.replicates[self.replicates["status"] == "ok"]
        if ok.empty:
            raise ValueError("every bootstrap replicate failed: no optimism estimate; see "
                             "replicates['reason'].")
        return {s: float((ok[f"{s}__boot"] - ok[f"{s}__orig"]).mean()) for s in STATISTICS}

    def corrected(self) -> dict[str, float]:
        """Apparent value minus optimism, per statistic."""
        opt = self.optimism()
        return {s: getattr(self.apparent, s) - opt[s] for s in STATISTICS}

    def to_frame(self) -> pd.DataFrame:
        """One row per statistic: ``statistic, apparent, optimism, corrected, n_ok``."""
        opt, cor = self.optimism(), self.corrected()
        n_ok = len(self.replicates) - self.n_failed
        return pd.DataFrame({"statistic": list(STATISTICS),
                             "apparent": [getattr(self.apparent, s) for s in STATISTICS],
                             "optimism": [opt[s] for s in STATISTICS],
                             "corrected": [cor[s] for s in STATISTICS],
                             "n_ok": n_ok})


def _pipeline_risk(fitted: Any, cohort: Cohort, horizon: float | None) -> np.ndarray:
    if horizon is None:
        return fitted.predict_proba(cohort).to_numpy(dtype=float)
    return 1.0 - fitted.predict_survival_function(cohort, [horizon]).to_numpy()[:, 0]


def _score(fitted: Any, cohort: Cohort, endpoint: str, horizon: float | None,
           n_knots: int) -> SmoothCalibration:
    return smooth_calibration(cohort.y(endpoint), _pipeline_risk(fitted, cohort, horizon),
                              horizon=horizon, n_knots=n_knots)


def _messages(caught: list) -> str:
    return " | ".join(sorted({f"{w.category.__name__}: {w.message}" for w in caught}))


def _replicate(pipeline: Any, cohort: Cohort, endpoint: str, horizon: float | None,
               n_knots: int, b: int, seed: np.random.SeedSequence) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    row: dict[str, Any] = {"replicate": b, "status": "ok", "reason": ""}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            boot = cohort.take_positions(rng.integers(0, cohort.n_patients, cohort.n_patients))
            fitted = seed_unseeded(clone(pipeline), seed).fit(boot, endpoint)
            on_boot = _score(fitted, boot, endpoint, horizon, n_knots)
            on_orig = _score(fitted, cohort, endpoint, horizon, n_knots)
        except _EXPECTED as exc:
            row.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
            on_boot = on_orig = None
    row["warnings"] = _messages(caught)
    for s in STATISTICS:
        row[f"{s}__boot"] = getattr(on_boot, s) if on_boot is not None else np.nan
        row[f"{s}__orig"] = getattr(on_orig, s) if on_orig is not None else np.nan
    return row


def optimism_corrected_calibration(pipeline: Any, cohort: Cohort, endpoint: str, *,
                                   horizon: float | None = None, n_bootstrap: int = 200,
                                   n_knots: int = 3,
                                   random_state: int | None = None) -> CalibrationOptimism:
    """Bootstrap-corrected ICI, E50, E90, Emax of a whole pipeline (Harrell's method).

    For each of ``n_bootstrap`` resamples (patients drawn with replacement,
    :meth:`Cohort.take_positions`), a clone of ``pipeline`` is fitted on the resample and
    its smooth calibration is scored on the resample (``__boot``) and on the original
    cohort (``__orig``); the optimism is the mean difference and the corrected value the
    apparent value minus it. A replicate that fails (a fit error, too few events for the
    smoother) is recorded with its reason, never raised; warnings are recorded per
    replicate. Replicate ``b`` uses ``spawn_seeds(random_state, n_bootstrap)[b]``.

    Parameters
    ----------
    pipeline : CohortPipeline
        Unfitted; cloned for every fit.
    cohort : Cohort
    endpoint : str
        Survival endpoint (give ``horizon``) or binary endpoint.
    horizon : float, optional
        Time of the predicted risk (survival endpoints).
    n_bootstrap : int, default 200
    n_knots : int, default 3
    random_state : int or None

    Returns
    -------
    CalibrationOptimism

    Examples
    --------
    >>> import survrad as sr
    >>> cohort = sr.simulate_cohort(n_patients=150, random_state=0)
    >>> pipe = sr.CohortPipeline(model=sr.CoxModel(), patient_features=["age", "ecog"])
    >>> res = optimism_corrected_calibration(pipe, cohort, "os", horizon=12.0,
    ...                                      n_bootstrap=5, random_state=1)
    >>> list(res.to_frame()["statistic"])
    ['ici', 'e50', 'e90', 'emax']
    """
    n_bootstrap = check_int("n_bootstrap", n_bootstrap, min_value=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = clone(pipeline).fit(cohort, endpoint)
        apparent = _score(fitted, cohort, endpoint, horizon, n_knots)
    rows = [_replicate(pipeline, cohort, endpoint, horizon, n_knots, b, seed)
            for b, seed in enumerate(spawn_seeds(random_state, n_bootstrap))]
    return CalibrationOptimism(apparent=apparent, replicates=pd.DataFrame(rows),
                               apparent_warnings=tuple(sorted({f"{w.category.__name__}: "
                                                               f"{w.message}" for w in caught})))

"""Calibration of a frozen model on new data, and its recalibration (layer 5).

A model developed in one population and applied in another usually keeps its ranking
(discrimination) better than its absolute risks: the baseline risk differs between
centres. For a fitted :class:`~survrad.models.pipeline.CohortPipeline` whose model is a
:class:`~survrad.models.cox.CoxModel` (unstratified) or a
:class:`~survrad.models.response.LogisticModel`, applied to the patients of a validation
cohort (linear predictor ``lp_i`` from the frozen pipeline):

Calibration in the large (CITL) and calibration slope
    Cox (Crowson, Atkinson and Therneau 2016, Stat Methods Med Res 25:1692): with
    ``H_i = H0(t_i) exp(lp_i)`` the frozen model's expected cumulative hazard at each
    patient's own follow-up time, CITL is the intercept of the Poisson model
    ``glm(event ~ 1 + offset(log H), family = poisson)``, i.e. ``log(O / E)`` with
    ``O`` the number of events and ``E = sum H_i``; its standard error is ``1 / sqrt(O)``.
    The slope is the coefficient of ``coxph(Surv(time, event) ~ lp)`` (Efron ties) with its
    model-based standard error. Logistic (Steyerberg 2019, ch. 15): CITL is the intercept
    of ``glm(y ~ 1 + offset(lp), family = binomial)`` and the slope the coefficient of
    ``glm(y ~ lp, family = binomial)``. Well calibrated: CITL 0, slope 1. Wald intervals.

Observed versus expected at a horizon
    Survival: observed risk ``O = 1 - KM(h)`` (Kaplan-Meier on the validation patients,
    with its log-scale interval), expected risk ``E`` = mean of the predicted ``1 - S_i(h)``;
    ``O/E`` with the interval ``exp(log(O/E) +- z SE(O) / O)`` (Debray et al. BMJ
    2017;356:i6460, the expected risk taken as fixed). Binary: ``O`` the event rate (Wald
    interval), ``E`` the mean predicted probability.

Recalibration methods (each returns a NEW fitted pipeline; the frozen one is untouched)
    ``"intercept"``: Cox, the baseline cumulative hazard re-estimated on the new patients
    with the linear predictor as an offset (Breslow / Efron estimator of
    ``coxph(Surv(time, event) ~ offset(lp))``), coefficients unchanged; logistic, the
    intercept shifted by CITL. ``"intercept_slope"``: the linear predictor multiplied by
    the calibration slope ``b`` (coefficients times ``b``), then the baseline hazard
    re-estimated with offset ``b lp`` (Cox) or the intercept and slope of
    ``glm(y ~ lp)`` (logistic). ``"refit"``: the model refitted on the new patients with
    the frozen feature steps (same strategy, scaling, selection; new coefficients).
    Updated on the validation data, a model is calibrated there by construction (Cox
    ``"intercept"``: ``sum_i H_i = O``, so CITL = 0, exactly with Breslow ties and up to
    the tie correction with Efron's): judge an update on other patients of the new
    population.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats
from sklearn.base import clone

from survrad._math.coxph import CoxRiskSets, cox_fit
from survrad._validation import check_choice, check_fraction
from survrad.data.cohort import Cohort
from survrad.evaluation.nonparametric import kaplan_meier
from survrad.exceptions import FitError, SchemaError

__all__ = ["METHODS", "CalibrationStatistics", "calibration_statistics", "observed_expected",
           "recalibrate", "recalibration_table"]

RecalibrationMethod = Literal["intercept", "intercept_slope", "refit"]
METHODS = ("intercept", "intercept_slope", "refit")


@dataclasses.dataclass(frozen=True)
class CalibrationStatistics:
    """Calibration in the large and calibration slope of a frozen model on new data.

    Attributes
    ----------
    kind : {"survival", "binary"}
    n, n_events : int
    citl, citl_se, citl_ci_low, citl_ci_high : float
        Calibration in the large (0 when calibrated): Cox ``log(O/E)``, logistic intercept
        with the linear predictor as offset.
    slope, slope_se, slope_ci_low, slope_ci_high : float
        Calibration slope (1 when calibrated).
    observed, expected : float
        Cox: events and the sum of expected cumulative hazards; logistic: events and the
        sum of predicted probabilities.
    ci_level : float
    """

    kind: str
    n: int
    n_events: int
    citl: float
    citl_se: float
    citl_ci_low: float
    citl_ci_high: float
    slope: float
    slope_se: float
    slope_ci_low: float
    slope_ci_high: float
    observed: float
    expected: float
    ci_level: float

    def to_frame(self) -> pd.DataFrame:
        """statistic, estimate, se, ci_low, ci_high, ideal: one row per statistic."""
        return pd.DataFrame({
            "statistic": ["calibration_in_the_large", "calibration_slope"],
            "estimate": [self.citl, self.slope], "se": [self.citl_se, self.slope_se],
            "ci_low": [self.citl_ci_low, self.slope_ci_low],
            "ci_high": [self.citl_ci_high, self.slope_ci_high], "ideal": [0.0, 1.0]})


# ------------------------------------------------------------------------ inputs
def _model_kind(fitted: Any) -> str:
    """"cox" or "logistic"; a named error for other models."""
    if not hasattr(fitted, "model_"):
        raise SchemaError("recalibration needs a fitted CohortPipeline (call fit first).")
    model = fitted.model_
    if hasattr(model, "baseline_cumhaz_") and hasattr(model, "coef_"):
        if list(model.baseline_cumhaz_) != [None]:
            raise FitError("recalibration of a stratified Cox model is not supported: its "
                           "baseline hazards differ by stratum; fit without strata.")
        return "cox"
    if hasattr(model, "intercept_") and hasattr(model, "coef_"):
        return "logistic"
    raise FitError(f"recalibration needs a Cox or logistic model with a linear predictor; "
                   f"got {type(model).__name__} (a forest has no intercept or slope to "
                   "update).")


def _linear_predictor(fitted: Any, X: pd.DataFrame, kind: str) -> np.ndarray:
    if kind == "cox":
        return np.asarray(fitted.model_.predict(X), dtype=float)
    p = fitted.model_.predict_proba(X)[:, 1]
    with np.errstate(divide="ignore"):
        return special.logit(p)


def _cumhaz_at(model: Any, lp: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Expected cumulative hazard ``H0(t_i) exp(lp_i)`` at each patient's own time."""
    bt, ch = model.baseline_cumhaz_[None]
    idx = np.searchsorted(bt, times, side="right") - 1
    h0 = np.where(idx >= 0, ch[np.maximum(idx, 0)], 0.0)
    return h0 * np.exp(lp)


def _z(ci_level: float) -> float:
    return float(stats.norm.ppf(0.5 + check_fraction("ci_level", ci_level) / 2))


def _inputs(fitted: Any, cohort: Cohort, design: pd.DataFrame | None
            ) -> tuple[str, np.ndarray, np.ndarray, pd.DataFrame]:
    kind = _model_kind(fitted)
    X = fitted.transform(cohort) if design is None else design
    y = cohort.y(fitted.endpoint_)
    n_events = int(np.sum(y["event"])) if kind == "cox" else int(np.sum(y))
    if n_events == 0:
        col = _event_column(cohort, fitted.endpoint_)
        raise SchemaError(f"no event among the {cohort.n_patients} validation patients: "
                          "calibration cannot be assessed.", file="patients", column=col,
                          ids=list(cohort.patient_ids))
    return kind, _linear_predictor(fitted, X, kind), y, X


def _event_column(cohort: Cohort, endpoint: str) -> str:
    ep = cohort.endpoint(endpoint)
    return ep.event if ep.kind == "survival" else ep.target


# ------------------------------------------------------------------- statistics
def calibration_statistics(fitted: Any, cohort: Cohort, *, ci_level: float = 0.95,
                           design: pd.DataFrame | None = None) -> CalibrationStatistics:
    """Calibration in the large and calibration slope of ``fitted`` on ``cohort``.

    Parameters
    ----------
    fitted : CohortPipeline
        Fitted, with a Cox (unstratified) or logistic model.
    cohort : Cohort
        Validation patients (with the outcome of ``fitted.endpoint_``).
    ci_level : float, default 0.95
    design : DataFrame, optional
        ``fitted.transform(cohort)`` when the caller has it.

    Returns
    -------
    CalibrationStatistics

    Raises
    ------
    FitError
        A model without a linear predictor (forest) or a stratified Cox model.
    SchemaError
        No event in ``cohort``.
    ValueError
        The slope model does not converge (predictions all equal, separation).

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=200, random_state=0)
    >>> pipe = sr.CohortPipeline(patient_features=["age", "ecog"]).fit(c, "os")
    >>> st = calibration_statistics(pipe, c)
    >>> round(st.citl, 10), round(st.slope, 6)     # in-sample: calibrated by construction
    (0.0, 1.0)
    """
    z = _z(ci_level)
    kind, lp, y, _ = _inputs(fitted, cohort, None if design is None else design)
    if kind == "cox":
        t, e = y["time"], y["event"].astype(float)
        expected = float(_cumhaz_at(fitted.model_, lp, t).sum())
        observed = float(e.sum())
        citl, citl_se = float(np.log(observed / expected)), float(1.0 / np.sqrt(observed))
        slope, slope_se = _cox_slope_se(t, e, lp)
    else:
        observed, expected = float(np.sum(y)), float(np.sum(special.expit(lp)))
        citl, citl_se = _logistic_offset_intercept(y, lp)
        slope, slope_se = _logistic_slope(y, lp)
    return CalibrationStatistics(
        kind="survival" if kind == "cox" else "binary", n=int(lp.size),
        n_events=int(observed), citl=citl, citl_se=citl_se, citl_ci_low=citl - z * citl_se,
        citl_ci_high=citl + z * citl_se, slope=slope, slope_se=slope_se,
        slope_ci_low=slope - z * slope_se, slope_ci_high=slope + z * slope_se,
        observed=observed, expected=expected, ci_level=ci_level)


def _cox_slope_se(t: np.ndarray, e: np.ndarray, lp: np.ndarray) -> tuple[float, float]:
    if np.ptp(lp) == 0:
        raise ValueError("the linear predictors are all equal: a calibration slope is "
                         "undefined.")
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        fit = cox_fit(lp[:, None], t, e)
    if not fit.converged or not np.isfinite(fit.coef[0]):
        raise ValueError("the Cox model for the calibration slope did not converge.")
    return float(fit.coef[0]), float(np.sqrt(fit.variance[0, 0]))


def _logistic_offset_intercept(y: np.ndarray, lp: np.ndarray) -> tuple[float, float]:
    """MLE of ``a`` in ``logit P(y) = a + lp`` by Newton (concave, one parameter)."""
    if not np.all(np.isfinite(lp)):
        raise ValueError("predicted probabilities of exactly 0 or 1: the calibration "
                         "intercept is undefined.")
    a = 0.0
    for _ in range(100):
        p = special.expit(a + lp)
        info = float(np.sum(p * (1 - p)))
        step = float(np.sum(y - p)) / info
        a += step
        if abs(step) < 1e-12:
            break
    else:  # pragma: no cover - Newton converges for a concave one-parameter likelihood
        raise ValueError("the calibration intercept did not converge.")
    p = special.expit(a + lp)
    return a, float(1.0 / np.sqrt(np.sum(p * (1 - p))))


def _logistic_slope(y: np.ndarray, lp: np.ndarray) -> tuple[float, float]:
    from survrad.evaluation.metrics import _logistic_fit

    if np.ptp(lp) == 0 or not np.all(np.isfinite(lp)):
        raise ValueError("the linear predictors are all equal or infinite: a calibration "
                         "slope is undefined.")
    res = _logistic_fit(np.asarray(y), lp[:, None])
    return float(res.params[1]), float(res.bse[1])


# ------------------------------------------------------------- observed / expected
def observed_expected(fitted: Any, cohort: Cohort, horizons: Sequence[float] | None = None,
                      *, ci_level: float = 0.95, design: pd.DataFrame | None = None
                      ) -> pd.DataFrame:
    """Observed and expected risk (and their ratio) at each horizon, with intervals.

    Parameters
    ----------
    fitted : CohortPipeline
        Fitted (any survival or binary model: only its predictions are used).
    cohort : Cohort
        Validation patients.
    horizons : sequence of float
        Times (survival endpoints; required there, ignored for binary ones).
    ci_level : float, default 0.95
    design : DataFrame, optional
        ``fitted.transform(cohort)`` when the caller has it.

    Returns
    -------
    pandas.DataFrame
        horizon (NaN for binary), n, observed, observed_low, observed_high, expected,
        oe_ratio, oe_low, oe_high.

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=200, random_state=0)
    >>> pipe = sr.CohortPipeline(patient_features=["age", "ecog"]).fit(c, "os")
    >>> list(observed_expected(pipe, c, [12.0]).columns)[:4]
    ['horizon', 'n', 'observed', 'observed_low']
    """
    z = _z(ci_level)
    X = fitted.transform(cohort) if design is None else design
    y = cohort.y(fitted.endpoint_)
    rows = []
    if fitted.endpoint_kind_ == "binary":
        expected = float(np.mean(fitted._risk_from_design(X)))
        obs = float(np.mean(y))
        se = float(np.sqrt(obs * (1 - obs) / y.size))
        rows.append(_oe_row(np.nan, y.size, obs, obs - z * se, obs + z * se, expected, se, z))
        return pd.DataFrame(rows)
    if not horizons:
        raise ValueError("observed_expected needs horizons=[...] for a survival endpoint.")
    hz = np.asarray(sorted(float(h) for h in horizons))
    km = kaplan_meier(y["time"], y["event"], ci_level=ci_level).summary(hz)
    surv = fitted._survival_from_design(X, hz)
    for k, h in enumerate(hz):
        if h > y["time"].max():
            raise ValueError(f"horizon {h:g} is beyond the follow-up of the validation "
                             f"patients (last time {y['time'].max():g}).")
        row = km.iloc[k]
        obs = 1.0 - float(row["survival"])
        rows.append(_oe_row(h, y.size, obs, 1.0 - float(row["upper"]),
                            1.0 - float(row["lower"]), float(np.mean(1.0 - surv[:, k])),
                            float(row["std_err"]), z))
    return pd.DataFrame(rows)


def _oe_row(h: float, n: int, obs: float, low: float, high: float, expected: float,
            se_obs: float, z: float) -> dict[str, float]:
    ratio = obs / expected if expected > 0 else np.nan
    half = z * se_obs / obs if obs > 0 else np.nan
    return {"horizon": h, "n": int(n), "observed": obs, "observed_low": low,
            "observed_high": high, "expected": expected, "oe_ratio": ratio,
            "oe_low": ratio * np.exp(-half), "oe_high": ratio * np.exp(half)}


# ------------------------------------------------------------------ recalibration
def recalibrate(fitted: Any, cohort: Cohort, method: RecalibrationMethod = "intercept", *,
                design: pd.DataFrame | None = None) -> Any:
    """A NEW fitted pipeline: ``fitted`` updated on ``cohort`` by ``method``.

    Parameters
    ----------
    fitted : CohortPipeline
        Fitted, with a Cox (unstratified) or logistic model. Left unchanged.
    cohort : Cohort
        The new population's patients (with outcomes).
    method : {"intercept", "intercept_slope", "refit"}
        See the module docstring.
    design : DataFrame, optional
        ``fitted.transform(cohort)`` when the caller has it.

    Returns
    -------
    CohortPipeline
        A deep copy with its model updated; ``recalibration_`` records the method, the
        cohort size and the intercept / slope applied.

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=200, random_state=0)
    >>> pipe = sr.CohortPipeline(patient_features=["age", "ecog"]).fit(c, "os")
    >>> new = recalibrate(pipe, c, "intercept_slope")
    >>> new is pipe, new.recalibration_["method"]
    (False, 'intercept_slope')
    """
    check_choice("method", method, METHODS)
    kind, lp, y, X = _inputs(fitted, cohort, design)
    new = copy.deepcopy(fitted)
    record: dict[str, Any] = {"method": method, "n": int(lp.size)}
    if method == "refit":
        new.model_ = clone(fitted.model_).fit(X, y)
    elif kind == "cox":
        model = new.model_
        b = _cox_slope_se(y["time"], y["event"].astype(float), lp)[0] \
            if method == "intercept_slope" else 1.0
        model.coef_ = model.coef_ * b
        ties = getattr(model, "ties_", "efron")
        rs = CoxRiskSets(y["time"], y["event"], ties=ties)
        model.baseline_cumhaz_ = {None: rs.baseline_cumhaz(b * lp)[None]}
        record.update(slope=b)
    else:
        model = new.model_
        if method == "intercept":
            a, b = _logistic_offset_intercept(y, lp)[0], 1.0
        else:
            from survrad.evaluation.metrics import _logistic_fit

            params = _logistic_fit(np.asarray(y), lp[:, None]).params
            a, b = float(params[0]), float(params[1])
        model.intercept_ = float(a + b * model.intercept_)
        model.coef_ = model.coef_ * b
        record.update(intercept=a, slope=b)
    new.recalibration_ = record
    return new


def recalibration_table(fitted: Any, cohort: Cohort, horizons: Sequence[float] | None = None,
                        *, methods: Sequence[str] = METHODS, ci_level: float = 0.95,
                        evaluate_on: Cohort | None = None) -> pd.DataFrame:
    """Calibration of the frozen model and of each update, side by side.

    Each method updates ``fitted`` on ``cohort``; every model (``"none"`` = frozen) is
    then assessed on ``evaluate_on`` (default ``cohort`` itself, where the updated models
    are calibrated by construction: give other patients of the new population to judge
    an update).

    Returns
    -------
    pandas.DataFrame
        method, citl (+ ci_low/ci_high), slope (+ ci), and per horizon ``oe@h`` with
        ``oe_low@h`` / ``oe_high@h``.

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=200, random_state=0)
    >>> pipe = sr.CohortPipeline(patient_features=["age", "ecog"]).fit(c, "os")
    >>> recalibration_table(pipe, c, [12.0])["method"].tolist()
    ['none', 'intercept', 'intercept_slope', 'refit']
    """
    target = cohort if evaluate_on is None else evaluate_on
    models = {"none": fitted}
    models.update({m: recalibrate(fitted, cohort, m) for m in methods})
    rows = []
    for name, model in models.items():
        design = model.transform(target)
        st = calibration_statistics(model, target, ci_level=ci_level, design=design)
        row = {"method": name, "citl": st.citl, "citl_ci_low": st.citl_ci_low,
               "citl_ci_high": st.citl_ci_high, "slope": st.slope,
               "slope_ci_low": st.slope_ci_low, "slope_ci_high": st.slope_ci_high}
        oe = observed_expected(model, target, horizons, ci_level=ci_level, design=design)
        for r in oe.itertuples(index=False):
            key = "" if np.isnan(r.horizon) else f"@{r.horizon:g}"
            row.update({f"oe{key}": r.oe_ratio, f"oe_low{key}": r.oe_low,
                        f"oe_high{key}": r.oe_high})
        rows.append(row)
    return pd.DataFrame(rows)

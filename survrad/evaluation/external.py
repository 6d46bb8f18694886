"""External validation: fit on a development cohort, score a frozen model on another (layer 5).

:func:`external_validate` fits the WHOLE pipeline (lesion strategy, feature steps such as
ComBat, model) once on the development patients, then applies it unchanged to the
validation patients. Performance there is the external estimate; its percentile interval
comes from a bootstrap over the VALIDATION patients (each replicate draws patients with
replacement, a patient carrying all his lesions), with the model and its predictions
fixed: the interval describes the uncertainty of the performance of this model in the
validation population (Steyerberg 2019, ch. 17; Riley et al. BMJ 2024;384:e074821 on
sample size of external validation). The development performance (``apparent``) is the
model scored on its own training patients.

Beside the metrics, the frozen model's calibration on the validation patients: calibration
in the large and slope (:mod:`survrad.evaluation.recalibration`, models with a linear
predictor), observed versus expected risk at each horizon, and smooth calibration curves
(:func:`~survrad.evaluation.smooth_calibration.smooth_calibration`).

Predictions of new patients are computed once, on the whole validation cohort: a feature
step that learns from the rows it transforms (``ComBat(unseen="reference")`` for a centre
absent from the development data) does so from all validation patients, once; the
bootstrap then resamples patients with their predictions.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from survrad._validation import check_fraction, check_int, seed_unseeded, spawn_seeds
from survrad.data.cohort import Cohort
from survrad.evaluation import concordance as conc
from survrad.evaluation.keys import MetricKey
from survrad.evaluation.recalibration import (
    CalibrationStatistics,
    calibration_statistics,
    observed_expected,
)
from survrad.evaluation.scoring import DEFAULT_METRICS, metric_keys, score_pipeline
from survrad.evaluation.smooth_calibration import SmoothCalibration, smooth_calibration
from survrad.evaluation.validation import (
    SUMMARY_COLUMNS,
    ReplicateRecord,
    as_metric_key,
)
from survrad.exceptions import ResamplingError, SchemaError, StatisticalWarning, format_values
from survrad.models.persistence import check_columns, column_contract

__all__ = ["CALIBRATION_PARTS", "EXTERNAL_SUMMARY_COLUMNS", "ExternalValidationResult",
           "external_validate"]

#: Fewest bootstrap replicates for a meaningful percentile interval (as the internal
#: validation engine).
MIN_N_BOOT = 20
#: ``ValidationResult.summary()``'s columns, then the external value.
EXTERNAL_SUMMARY_COLUMNS = [*SUMMARY_COLUMNS, "external"]
#: Names of the calibration parts in ``failures`` keys (``MetricKey(name, horizon)``):
#: calibration in the large and slope, observed vs expected, smooth curve per horizon.
CALIBRATION_PARTS = ("calibration", "observed_expected", "smooth_calibration")


@dataclasses.dataclass(frozen=True)
class ExternalValidationResult:
    """Outcome of :func:`external_validate` (unrounded numbers).

    Attributes
    ----------
    endpoint : str
    metrics : tuple of MetricKey
        One per metric and, for per-horizon metrics, per horizon.
    apparent : mapping of MetricKey to float
        Development performance: the model scored on its training patients.
    external : mapping of MetricKey to float
        The frozen model scored on the validation patients.
    failures : mapping of (MetricKey, role) to str
        Why a value is NaN or a part is missing. ``role`` is ``"fit"`` (the development
        data: an ``apparent`` value) or ``"test"`` (the validation data: an ``external``
        value or a calibration part, keyed ``MetricKey("calibration")``,
        ``MetricKey("observed_expected")`` or ``MetricKey("smooth_calibration", h)``;
        binary endpoints: ``MetricKey("smooth_calibration")``), as in
        :class:`~survrad.evaluation.validation.ReplicateRecord`.
    records : tuple of ReplicateRecord
        One per bootstrap replicate of the validation patients: ``test`` holds each
        metric on that resample (``fit`` is empty: the model is not refitted), failures
        and warnings as in internal validation. :attr:`replicates` is the same as a table.
    n_boot, random_state, ci_level : as given
    fitted : CohortPipeline
        The pipeline fitted on the development patients (the frozen model).
    n_train, n_test, events_train, events_test : int
    c_index_se : float or None
        Standard error of the external Harrell C (infinitesimal jackknife, R's
        ``concordance``); None for binary endpoints or when C failed.
    c_index_bootstrap_se : float or None
        Standard deviation of the bootstrap C values.
    calibration : CalibrationStatistics or None
        Calibration in the large and slope on the validation patients (None for models
        without a linear predictor, or when it failed: see ``failures``).
    observed_expected : pandas.DataFrame or None
        Observed vs expected risk per horizon (binary: one row).
    smooth : tuple of SmoothCalibration
        Smooth calibration curve per horizon (binary: one), those that could be computed.
    """

    endpoint: str
    metrics: tuple[MetricKey, ...]
    apparent: Mapping[MetricKey, float]
    external: Mapping[MetricKey, float]
    failures: Mapping[tuple[MetricKey, str], str]
    records: tuple[ReplicateRecord, ...]
    n_boot: int
    random_state: Any
    ci_level: float
    fitted: Any
    n_train: int
    n_test: int
    events_train: int
    events_test: int
    c_index_se: float | None = None
    c_index_bootstrap_se: float | None = None
    calibration: CalibrationStatistics | None = None
    observed_expected: pd.DataFrame | None = None
    smooth: tuple[SmoothCalibration, ...] = ()

    def values(self, metric: str | MetricKey, horizon: float | None = None) -> np.ndarray:
        """The metric on each bootstrap resample of the validation patients (NaN: failed)."""
        key = as_metric_key(metric, horizon)
        return np.array([r.value(key, "test") for r in self.records], dtype=float)

    @functools.cached_property
    def replicates(self) -> pd.DataFrame:
        """The records as a table for people: replicate, seed, status, reason, warnings,
        then one column per metric (named by its label)."""
        rows = [{"replicate": r.replicate, "seed": r.seed, "status": r.status,
                 "reason": "; ".join(f"{m.label}: {why}" for (m, _), why in r.failures.items()),
                 "warnings": "; ".join(f"{c}: {w}" for c, w in r.warnings),
                 **{m.label: r.value(m, "test") for m in self.metrics}}
                for r in self.records]
        return pd.DataFrame(rows, columns=["replicate", "seed", "status", "reason",
                                           "warnings", *(m.label for m in self.metrics)])

    def estimate(self, metric: str | MetricKey, horizon: float | None = None
                 ) -> dict[str, Any]:
        """apparent, optimism, corrected, ci_low, ci_high, n_boot, n_failed, external.

        ``optimism`` = apparent - external (the drop from development to validation),
        ``corrected`` = external, ``ci_low``/``ci_high`` the percentile interval of the
        metric over the bootstrap of the validation patients, ``n_failed`` the replicates
        in which it could not be computed.
        """
        key = as_metric_key(metric, horizon)
        vals = self.values(key)
        ok = vals[np.isfinite(vals)]
        lo, hi = 50 * (1 - self.ci_level), 50 * (1 + self.ci_level)
        ci = np.percentile(ok, [lo, hi]) if ok.size else np.array([np.nan, np.nan])
        app = float(self.apparent.get(key, np.nan))
        ext = float(self.external.get(key, np.nan))
        return {"apparent": app, "optimism": app - ext, "corrected": ext,
                "ci_low": float(ci[0]), "ci_high": float(ci[1]), "n_boot": self.n_boot,
                "n_failed": int(self.n_boot - ok.size), "external": ext}

    def summary(self) -> pd.DataFrame:
        """The columns of ``ValidationResult.summary()`` plus ``external``.

        metric, horizon (NaN for horizon-free metrics), apparent (development), optimism,
        corrected (= external), ci_low, ci_high, n_boot, n_failed, external: one row per
        metric and horizon (see :meth:`estimate`).
        """
        rows = [{"metric": m.name, "horizon": np.nan if m.horizon is None else m.horizon,
                 **self.estimate(m)} for m in self.metrics]
        return pd.DataFrame(rows, columns=EXTERNAL_SUMMARY_COLUMNS)

    def to_frame(self) -> pd.DataFrame:
        """Alias of :meth:`summary`."""
        return self.summary()


# ---------------------------------------------------------------------- checks
def _metric_list(fitted: Any, kind: str, metrics: Sequence[str] | None,
                 horizons: tuple[float, ...]) -> tuple[tuple[str, ...], list[MetricKey]]:
    base = tuple(metrics) if metrics is not None else DEFAULT_METRICS[kind]
    if metrics is None and kind == "survival" and not horizons:
        base = ("c_index", "calibration_slope")
    if metrics is None and not getattr(fitted.model, "linear_predictor", True):
        base = tuple(m for m in base if m != "calibration_slope")   # forests
    return base, metric_keys(kind, base, horizons)


def _events(cohort: Cohort, endpoint: str) -> int:
    y = cohort.y(endpoint)
    return int(np.sum(y["event"])) if y.dtype.names else int(np.sum(y))


def _check_cohorts(train: Cohort, test: Cohort, endpoint: str) -> None:
    """Named errors for validation data that cannot validate."""
    ep = train.endpoint(endpoint)
    if endpoint not in test.endpoints:
        raise SchemaError(f"the validation data have no endpoint {endpoint!r} (columns "
                          f"{list(ep.columns)}); give its outcome columns.", file="patients",
                          column=ep.columns[0])
    shared = test.patient_ids.intersection(train.patient_ids)
    if len(shared):
        raise SchemaError("patients both in the development and in the validation data: a "
                          "patient must be in one set only.", file="patients",
                          column=train.columns.patient_id, ids=list(shared))
    col = ep.event if ep.kind == "survival" else ep.target
    if _events(test, endpoint) == 0:
        raise SchemaError(f"the validation data have no event of endpoint {endpoint!r} "
                          f"among {test.n_patients} patients: discrimination and "
                          "calibration cannot be assessed. Validate on data with events.",
                          file="patients", column=col, ids=list(test.patient_ids))
    if ep.kind == "binary" and _events(test, endpoint) == test.n_patients:
        raise SchemaError(f"every validation patient has the outcome {endpoint!r}: "
                          "discrimination cannot be assessed.", file="patients", column=col,
                          ids=list(test.patient_ids))


def _check_batches(fitted: Any, train: Cohort, test: Cohort) -> None:
    """A centre of the validation data unseen by a ComBat step with unseen="error"."""
    for step in fitted.steps_:
        col = getattr(step, "batch_col", None)
        if col is None or getattr(step, "unseen", "error") != "error":
            continue
        seen = {str(b) for b in step.batches_}
        values = test.patients[col].astype(str)
        new = ~values.isin(seen).to_numpy()
        if new.any():
            raise SchemaError(
                f"values {format_values(sorted(set(values[new])))} of the batch column are "
                f"only in the validation data (development: {sorted(seen)}), and ComBat "
                "was fitted on the development data only, so their batch effect is unknown. "
                "Use ComBat(unseen='reference') to harmonise a new centre to the development "
                "reference from its own features (no outcomes), or validate without ComBat.",
                file="patients", column=col, ids=list(test.patient_ids[new]))


# ------------------------------------------------------------------- bootstrap
def _seed_label(seed: np.random.SeedSequence) -> str:
    """``entropy:spawn_key``, as the internal validation engine labels its replicates."""
    return f"{seed.entropy}:{'/'.join(str(k) for k in seed.spawn_key)}"


def _bootstrap(fitted: Any, test: Cohort, design: pd.DataFrame, metrics: Sequence[str],
               horizons: Sequence[float], seeds: Sequence[np.random.SeedSequence]
               ) -> tuple[ReplicateRecord, ...]:
    """Metric values on bootstrap resamples of the validation patients (fixed design)."""
    light = dataclasses.replace(test, lesions=None, truth={})   # outcomes only
    records = []
    for b, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        pos = rng.integers(0, test.n_patients, test.n_patients)
        sample = light.take_positions(pos)
        rows_design = design.iloc[pos]
        rows_design.index = sample.patient_ids
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values, failed = score_pipeline(fitted, sample, metrics, horizons,
                                            design=rows_design)
        records.append(ReplicateRecord(
            replicate=b, seed=_seed_label(seed), status="ok", reason="", fit={},
            test=values, failures={(m, "test"): why for m, why in failed.items()},
            warnings=tuple(sorted({(w.category.__name__, str(w.message)) for w in caught}))))
    return tuple(records)


def _check_failures(records: Sequence[ReplicateRecord], keys: Sequence[MetricKey],
                    max_failed: float) -> None:
    for m in keys:
        bad = [r for r in records if not np.isfinite(r.value(m, "test"))]
        if len(bad) > max_failed * len(records):
            counts = pd.Series([r.why(m) for r in bad]).value_counts().head(3)
            raise ResamplingError(
                f"external validation: metric {m.label} could not be computed in {len(bad)} "
                f"of {len(records)} bootstrap samples of the validation patients (more than "
                f"{max_failed:.0%}). Most common reasons: "
                f"{'; '.join(f'{n}x {r}' for r, n in counts.items())}. Drop the metric or, "
                "for a horizon, use one inside the follow-up of the validation data.")


# ------------------------------------------------------------------- calibration
def _calibration(fitted: Any, test: Cohort, design: pd.DataFrame, horizons: Sequence[float],
                 ci_level: float, failures: dict[tuple[MetricKey, str], str]
                 ) -> dict[str, Any]:
    """Calibration statistics, observed/expected and smooth curves; failures recorded."""
    out: dict[str, Any] = {"calibration": None, "observed_expected": None, "smooth": ()}
    y = test.y(fitted.endpoint_)

    def why(exc: Exception) -> str:
        return f"{type(exc).__name__}: {exc}"

    if hasattr(fitted.model_, "coef_"):
        try:
            out["calibration"] = calibration_statistics(fitted, test, ci_level=ci_level,
                                                        design=design)
        except ValueError as exc:
            failures[(MetricKey("calibration"), "test")] = why(exc)
    binary = fitted.endpoint_kind_ == "binary"
    if binary or horizons:
        try:
            out["observed_expected"] = observed_expected(fitted, test, horizons,
                                                         ci_level=ci_level, design=design)
        except ValueError as exc:
            failures[(MetricKey("observed_expected"), "test")] = why(exc)
    curves = []
    if binary:
        todo = [(None, fitted._risk_from_design(design))]
    else:
        surv = fitted._survival_from_design(design, horizons) if horizons else None
        todo = [(h, 1.0 - surv[:, k]) for k, h in enumerate(horizons)]
    for h, risk in todo:
        try:
            curves.append(smooth_calibration(y, risk, horizon=h))
        except ValueError as exc:
            failures[(MetricKey("smooth_calibration", h), "test")] = why(exc)
    out["smooth"] = tuple(curves)
    return out


def _c_se(fitted: Any, test: Cohort, design: pd.DataFrame) -> float | None:
    if fitted.endpoint_kind_ != "survival":
        return None
    y = test.y(fitted.endpoint_)
    try:
        return float(conc.concordance_index(y["time"], y["event"].astype(int),
                                            fitted._risk_from_design(design),
                                            return_se=True)[1])
    except ValueError:
        return None


# ------------------------------------------------------------------------- main
def external_validate(pipeline: Any, train: Cohort, test: Cohort, endpoint: str, *,
                      metrics: Sequence[str] | None = None,
                      horizons: Sequence[float] | None = None, n_boot: int = 1000,
                      random_state: int | np.random.SeedSequence | None = None,
                      ci_level: float = 0.95, max_failed: float = 0.10) -> ExternalValidationResult:
    """Fit ``pipeline`` on ``train`` once; validate the frozen model on ``test``.

    Parameters
    ----------
    pipeline : CohortPipeline
        Unfitted (it is cloned; every ``random_state`` left at None is seeded from
        ``random_state``).
    train, test : Cohort
        Development and validation patients (e.g. from
        :func:`~survrad.data.split.split_cohort`); no patient in both.
    endpoint : str
    metrics : sequence of str, optional
        Names of :mod:`survrad.evaluation.scoring`; default as
        :func:`~survrad.evaluation.bootstrap.bootstrap_validate`.
    horizons : sequence of float, optional
        Times for the per-horizon metrics and for calibration (observed vs expected,
        smooth curves).
    n_boot : int, default 1000
        Bootstrap samples of the validation patients.
    random_state : int, SeedSequence or None
        Replicate ``b`` draws from ``SeedSequence(random_state).spawn(n_boot)[b]``.
    ci_level : float, default 0.95
    max_failed : float, default 0.10
        Largest fraction of bootstrap samples in which a metric may fail.

    Returns
    -------
    ExternalValidationResult

    Raises
    ------
    SchemaError
        The validation data lack a column the fitted pipeline reads (naming the table and
        the columns), have no event (naming the event column and the ids), share patients
        with the development data, or hold a centre absent from the development data
        while a ComBat step has ``unseen="error"`` (naming the column and the ids).
    ResamplingError
        A metric failing in more than ``max_failed`` of the bootstrap samples.

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=240, n_centers=3, random_state=0)
    >>> train, test = sr.data.split.split_by_group(c, "C3")
    >>> res = sr.external_validate(sr.CohortPipeline(patient_features=["age", "ecog"]),
    ...                            train, test, "os", n_boot=50, random_state=0)
    >>> s = res.summary()
    >>> list(s.columns[:3]), s.columns[-1]
    (['metric', 'horizon', 'apparent'], 'external')
    >>> res.external[sr.evaluation.MetricKey("c_index")] == res.estimate("c_index")["external"]
    True
    """
    check_int("n_boot", n_boot, min_value=1)
    check_fraction("ci_level", ci_level)
    check_fraction("max_failed", max_failed, inclusive=True)
    if n_boot < MIN_N_BOOT:
        warnings.warn(f"n_boot={n_boot}: intervals from fewer than {MIN_N_BOOT} bootstrap "
                      "samples are not meaningful; use 1000 for a report.",
                      StatisticalWarning, stacklevel=2)
    _check_cohorts(train, test, endpoint)
    hz = tuple(float(h) for h in (horizons or ()))
    root = (random_state if isinstance(random_state, np.random.SeedSequence)
            else np.random.SeedSequence(random_state))
    fitted = seed_unseeded(clone(pipeline), root).fit(train, endpoint)
    check_columns(column_contract(fitted, train), test, outcome=True)
    _check_batches(fitted, train, test)
    kind = fitted.endpoint_kind_
    base, keys = _metric_list(fitted, kind, metrics, hz)
    apparent, fail_app = score_pipeline(fitted, train, base, hz)
    design = fitted.transform(test)
    external, fail_ext = score_pipeline(fitted, test, base, hz, design=design)
    failures = {**{(m, "fit"): r for m, r in fail_app.items()},
                **{(m, "test"): r for m, r in fail_ext.items()}}
    records = _bootstrap(fitted, test, design, base, hz, spawn_seeds(root, n_boot))
    _check_failures(records, [m for m in keys if np.isfinite(external[m])], max_failed)
    cal = _calibration(fitted, test, design, hz, ci_level, failures)
    c_boot = np.array([r.value(MetricKey("c_index"), "test") for r in records])
    c_boot = c_boot[np.isfinite(c_boot)]
    return ExternalValidationResult(
        endpoint=endpoint, metrics=tuple(keys), apparent=apparent, external=external,
        failures=failures, records=records, n_boot=n_boot, random_state=random_state,
        ci_level=ci_level, fitted=fitted, n_train=train.n_patients, n_test=test.n_patients,
        events_train=_events(train, endpoint), events_test=_events(test, endpoint),
        c_index_se=_c_se(fitted, test, design),
        c_index_bootstrap_se=float(np.std(c_boot, ddof=1)) if c_boot.size > 1 else None,
        **cal)

"""The longitudinal part of a study: scan responses, PFS from scans, landmark (layer 7).

Study-file options (checked by :mod:`survrad.study.schema`):

* ``[response]``: RECIST 1.1 / iRECIST responses of every scan and the best overall
  response (:func:`survrad.longitudinal.recist`), shown in the report with a swimmer and
  a spider plot when the lesion table has several timepoints;
* ``[endpoints.<name>] from_scans = true``: a survival endpoint derived from the scans
  (:func:`survrad.longitudinal.pfs_from_scans`; deaths from the ``[response]`` columns
  ``death_time`` / ``death_event``); its ``time`` and ``event`` name the columns created;
* ``[endpoints.<name>] landmark = L``: a landmark analysis
  (:func:`survrad.longitudinal.landmark`): the patients whose event or censoring is at or
  before ``L`` are excluded and listed, follow-up is counted from ``L``, and the lesion
  rows of scans after ``L`` are left out (listed per scan) so that no predictor reads the
  future. Every survival endpoint of the study then has the same landmark.

Times. Scan times are put on the scale of the survival endpoints (their ``unit``, one of
days, weeks, months, years): from the scan dates when the lesion table has them (time
since the patient's baseline scan, which is then time 0 of the follow-up), else from
``scan_time`` in ``[response] scan_time_unit`` (same origin as the follow-up).

:func:`longitudinal_cohort` runs while the study is loaded (before any pipeline is
built; a derived endpoint or a landmark changes the cohort every analysis uses);
:func:`compute_longitudinal` computes the report section from the loaded plan.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from survrad.data.cohort import Cohort, Endpoint
from survrad.data.scans import SCAN_TIME_UNITS, check_scans
from survrad.evaluation.results_longitudinal import LongitudinalResult
from survrad.exceptions import ConfigError, SchemaError, SurvradWarning
from survrad.longitudinal import IRECIST_LABELS, RECIST_LABELS, landmark, pfs_from_scans, recist
from survrad.longitudinal.recist import RecistResult

if TYPE_CHECKING:
    from survrad.study.plan import StudyPlan
    from survrad.study.schema import EndpointConfig, ResponseConfig, StudyConfig

__all__ = ["compute_longitudinal", "endpoint_problem", "longitudinal_cohort",
           "read_endpoints", "study_problems"]

_STAGE = "longitudinal (RECIST, PFS from scans, landmark)"


# ------------------------------------------------------------------ schema rules
def endpoint_problem(ep: EndpointConfig) -> str | None:
    """The rule of one ``[endpoints.<name>]`` table on ``from_scans`` and ``landmark``."""
    if not (ep.from_scans or ep.landmark is not None):
        return None
    if ep.kind != "survival":
        return "from_scans and landmark are options of survival endpoints"
    if ep.unit not in SCAN_TIME_UNITS:
        return (f"from_scans and landmark put scan and follow-up times on one scale: unit "
                f"must be one of {list(SCAN_TIME_UNITS)}, got {ep.unit!r}")
    return None


def _survival(eps: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(k): v for k, v in eps.items()
            if isinstance(v, Mapping) and v.get("kind", "survival") == "survival"}


def study_problems(cfg: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Rules tying endpoints and ``[response]`` together, as (TOML path, message).

    Examples
    --------
    >>> problems = study_problems({"endpoints": {
    ...     "os": {"time": "t", "event": "e", "landmark": 3},
    ...     "pfs": {"time": "p", "event": "q"}}})
    >>> [key for key, _ in problems]
    ['endpoints.pfs.landmark']
    """
    eps = cfg.get("endpoints")
    if not isinstance(eps, Mapping):
        return []
    surv = _survival(eps)
    out: list[tuple[str, str]] = []
    marks = {name: spec.get("landmark") for name, spec in surv.items()}
    given = {n: v for n, v in marks.items() if v is not None}
    if given:
        first, value = next(iter(given.items()))
        out += [(f"endpoints.{name}.landmark", "a landmark study re-originates every "
                 f"survival endpoint: give endpoint {name} the same landmark as {first} "
                 f"({value:g})") for name, v in marks.items() if v != value
                and isinstance(value, int | float)]
        times = [spec.get("time") for spec in surv.values()]
        dup = sorted({t for t in times if t is not None and times.count(t) > 1})
        if dup:
            out.append(("endpoints", f"landmark: survival endpoints share the time "
                        f"column(s) {dup}; each is re-originated once, give each endpoint "
                        "its own column"))
    response = cfg.get("response") if isinstance(cfg.get("response"), Mapping) else {}
    death = (response.get("death_time", "os_time"), response.get("death_event", "os_event"))
    for name, spec in surv.items():
        if spec.get("from_scans") is True and (spec.get("time") in death
                                               or spec.get("event") in death):
            out.append((f"endpoints.{name}.time", "a from_scans endpoint creates its time "
                        "and event columns; they cannot be the death columns of [response] "
                        f"({death[0]}, {death[1]}): name new columns, e.g. "
                        f"{name}_time and {name}_event"))
    uses = "response" in cfg or any(spec.get("from_scans") is True
                                    or spec.get("landmark") is not None
                                    for spec in surv.values())
    units = {spec.get("unit", "months") for spec in surv.values()}
    if uses and len(units) > 1:
        out.append(("endpoints", f"scans and follow-up share one time scale: give every "
                    f"survival endpoint the same unit (got {sorted(map(str, units))})"))
    return out


# ------------------------------------------------------------------ the plan hook
def uses_scans(study: StudyConfig) -> bool:
    """Whether the study asks for responses, an endpoint from scans or a landmark."""
    return study.response is not None or any(
        ep.from_scans or ep.landmark is not None for ep in study.endpoints.values())


def read_endpoints(study: StudyConfig, endpoints: Mapping[str, Endpoint]
                   ) -> dict[str, Endpoint]:
    """The endpoints read from the patient table (those derived from scans are not)."""
    return {name: ep for name, ep in endpoints.items()
            if not study.endpoints[name].from_scans}


def _unit(study: StudyConfig) -> str:
    units = [ep.unit for ep in study.endpoints.values() if ep.kind == "survival"]
    if units:
        return units[0]
    return study.response.scan_time_unit if study.response and \
        study.response.scan_time_unit else "days"


def _response(study: StudyConfig) -> ResponseConfig:
    from survrad.study.schema import ResponseConfig

    return study.response or ResponseConfig()


def _landmark_time(study: StudyConfig) -> float | None:
    return next((ep.landmark for ep in study.endpoints.values() if ep.landmark is not None),
                None)


def _timed(cohort: Cohort, unit: str, scan_time_unit: str | None, file: str) -> Cohort | None:
    """The cohort with ``scan_time`` in ``unit`` and no ``scan_date`` (None: untimed)."""
    cols = cohort.columns
    les = cohort.lesions
    if cols.scan_date in les.columns:
        les = check_scans(les.drop(columns=[cols.scan_time], errors="ignore"), cols,
                          file="lesions", unit=unit).drop(columns=[cols.scan_date])
    elif cols.scan_time in les.columns:
        if scan_time_unit is None:
            raise ConfigError(f"the lesion table has scan times ({cols.scan_time!r}) without "
                              "dates: give their unit in [response] scan_time_unit (days, "
                              "weeks, months or years)", file=file,
                              key="response.scan_time_unit")
        les = les.copy()
        les[cols.scan_time] = les[cols.scan_time].astype(float) * (
            SCAN_TIME_UNITS[scan_time_unit] / SCAN_TIME_UNITS[unit])
    else:
        return None
    return dataclasses.replace(cohort, lesions=les)


def _scans_of(cohort: Cohort, file: str, key: str) -> None:
    if not cohort.has_lesions or len(cohort.timepoints) < 2:
        raise ConfigError("needs a lesion table with several timepoints (scans); give "
                          "data.lesions with a timepoint column", file=file, key=key)


def _recist(rc: ResponseConfig, cohort: Cohort, time_unit: str | None) -> RecistResult:
    return recist(cohort, rc.criteria, rc.confirm, confirm_weeks=rc.confirm_weeks,
                  min_sd_weeks=rc.min_sd_weeks if time_unit else 0.0, time_unit=time_unit)


def _pfs(rc: ResponseConfig, result: RecistResult, cohort: Cohort) -> pd.DataFrame:
    return pfs_from_scans(result, cohort, death_time_col=rc.death_time,
                          death_event_col=rc.death_event, scan_interval=rc.scan_interval,
                          unconfirmed_iupd=rc.unconfirmed_iupd)


def _derive(study: StudyConfig, cohort: Cohort, file: str, unit: str) -> Cohort:
    """Add the ``from_scans`` endpoints (their columns and Endpoint records)."""
    derived = [name for name, ep in study.endpoints.items() if ep.from_scans]
    if not derived:
        return cohort
    key = f"endpoints.{derived[0]}.from_scans"
    _scans_of(cohort, file, key)
    rc = _response(study)
    timed = _timed(cohort, unit, rc.scan_time_unit, file)
    if timed is None:
        raise ConfigError("PFS from scans needs timed scans: scan_date or scan_time in the "
                          "lesion table", file=file, key=key)
    pfs = _pfs(rc, _recist(rc, timed, unit), cohort)
    patients = cohort.patients.copy()
    endpoints = dict(cohort.endpoints)
    for name in derived:
        spec = study.endpoints[name]
        clash = [c for c in (spec.time, spec.event) if c in patients.columns]
        if clash:
            raise ConfigError(f"from_scans creates the column(s) {clash}, which the patient "
                              "table already has: name new columns in time and event",
                              file=file, key=f"endpoints.{name}.time")
        patients[spec.time] = pfs["pfs_time"].to_numpy(dtype=float)
        patients[spec.event] = pfs["pfs_event"].to_numpy(dtype=np.int64)
        endpoints[name] = Endpoint(name, "survival", spec.time, spec.event)
    return dataclasses.replace(cohort, patients=patients, endpoints=endpoints)


def _drop_late_scans(cohort: Cohort, timed: Cohort, at: float) -> Cohort:
    """Leave out the lesion rows of scans after the landmark, listing them per scan."""
    cols = cohort.columns
    times = timed.lesions[cols.scan_time].to_numpy(dtype=float)
    late = times > at
    if not late.any():
        return cohort
    les = cohort.lesions
    scans = (pd.DataFrame({"id": les[cols.patient_id].to_numpy(), "tp": les[cols.timepoint],
                           "t": times})[late]
             .groupby(["id", "tp"], sort=False).agg(t=("t", "first"), n=("t", "size"))
             .reset_index())
    listed = pd.DataFrame({"table": "lesions", "id": scans["id"].astype(str),
                           "reason": [f"landmark {at:g}: scan at timepoint {tp} (time {t:g}) "
                                      f"after the landmark, its {n} lesion row(s) not used"
                                      for tp, t, n in zip(scans["tp"], scans["t"], scans["n"],
                                                          strict=True)]})
    keep = np.flatnonzero(~late)
    truth = {k: (v.iloc[keep].reset_index(drop=True) if v.index.name != cols.patient_id
                 and cols.patient_id in v.columns and len(v) == len(les) else v)
             for k, v in cohort.truth.items()}
    before = cohort.excluded
    excluded = listed if before.empty else pd.concat([before, listed], ignore_index=True)
    return dataclasses.replace(cohort, lesions=les.iloc[keep].reset_index(drop=True),
                               truth=truth, excluded=excluded)


def _apply_landmark(study: StudyConfig, cohort: Cohort, file: str, unit: str) -> Cohort:
    at = _landmark_time(study)
    if at is None:
        return cohort
    if cohort.has_lesions and len(cohort.timepoints) > 1:
        timed = _timed(cohort, unit, _response(study).scan_time_unit, file)
        if timed is None:
            raise ConfigError("a landmark study keeps only the scans up to the landmark: the "
                              "lesion table needs scan_date or scan_time", file=file,
                              key="endpoints")
        cohort = _drop_late_scans(cohort, timed, at)
    endpoints = dict(cohort.endpoints)
    for name, ep in study.endpoints.items():
        if ep.kind == "survival":
            cohort = dataclasses.replace(landmark(cohort, at, name), endpoints=endpoints)
    return cohort


def longitudinal_cohort(study: StudyConfig, cohort: Cohort, file: str) -> Cohort:
    """The cohort every analysis of the study uses: ``from_scans`` endpoints added, then
    the landmark applied (patients excluded, times re-originated, later scans left out).

    Called by :func:`survrad.study.plan.load_study` right after the data are read; the
    cohort itself when the study uses none of these options.

    Raises
    ------
    ConfigError
        ``from_scans`` or a landmark without the scans they need.
    SchemaError
        The scans or death columns fail the checks of ``recist`` / ``pfs_from_scans``.
    """
    if not uses_scans(study):
        return cohort
    unit = _unit(study)
    cohort = _derive(study, cohort, file, unit)
    return _apply_landmark(study, cohort, file, unit)


# ------------------------------------------------------------ the report section
def _counts(result: RecistResult) -> pd.DataFrame:
    labels = IRECIST_LABELS if result.criteria == "irecist" else RECIST_LABELS
    best = result.best_response["best_response"]
    n = best.value_counts().reindex(list(labels), fill_value=0)
    n = n[n > 0]
    return pd.DataFrame({"best_response": n.index.astype(str), "n": n.to_numpy(np.int64),
                         "percent": 100.0 * n.to_numpy(float) / max(len(best), 1)})


def _follow_up(study: StudyConfig, rc: ResponseConfig, cohort: Cohort) -> pd.DataFrame | None:
    pts = cohort.patients
    if rc.death_time not in pts.columns or rc.death_event not in pts.columns:
        return None
    time = pd.to_numeric(pts[rc.death_time], errors="coerce").to_numpy(dtype=float)
    at = _landmark_time(study)
    shifted = {ep.time for ep in study.endpoints.values() if ep.kind == "survival"}
    if at is not None and rc.death_time in shifted:
        time = time + at
    return pd.DataFrame({"patient_id": pts.index.astype(str), "time": time,
                         "event": pd.to_numeric(pts[rc.death_event], errors="coerce")
                         .to_numpy(dtype=float)})


def _pfs_table(study: StudyConfig, rc: ResponseConfig, result: RecistResult,
               cohort: Cohort) -> pd.DataFrame | None:
    derived = [name for name, ep in study.endpoints.items() if ep.from_scans]
    if not derived:
        return None
    source: Sequence[Any] = [None] * cohort.n_patients
    if _landmark_time(study) is None:
        source = _pfs(rc, result, cohort)["pfs_source"].tolist()
    frames = []
    for name in derived:
        ep = cohort.endpoint(name)
        frames.append(pd.DataFrame({
            "endpoint": name, "patient_id": cohort.patient_ids.astype(str),
            "time": cohort.patients[ep.time].to_numpy(float),
            "event": cohort.patients[ep.event].to_numpy(np.int64), "source": source}))
    return pd.concat(frames, ignore_index=True)


def _longitudinal(plan: StudyPlan) -> LongitudinalResult | None:
    study, cohort = plan.study, plan.cohort
    if not cohort.has_lesions or len(cohort.timepoints) < 2:
        warnings.warn("the study asks for scan responses ([response], from_scans or a "
                      "landmark) but the lesion table has one timepoint: no response "
                      "section.", SurvradWarning, stacklevel=2)
        return None
    rc, unit = _response(study), _unit(study)
    timed = _timed(cohort, unit, rc.scan_time_unit, plan.file)
    result = _recist(rc, timed if timed is not None else cohort,
                     unit if timed is not None else None)
    return LongitudinalResult(
        recist=result, response_counts=_counts(result),
        follow_up=_follow_up(study, rc, cohort) if timed is not None else None,
        pfs=_pfs_table(study, rc, result, cohort) if timed is not None else None,
        time_unit=unit if timed is not None else None, landmark=_landmark_time(study))


def compute_longitudinal(plan: StudyPlan, log_: Any, n_jobs: int | None = None
                         ) -> LongitudinalResult | None:
    """The longitudinal report section, or None when the study does not ask for it.

    A failure (scans that RECIST cannot read) is recorded as a warning of the stage
    ``longitudinal`` and gives None: the rest of the report stands. ``n_jobs`` is unused
    (one pass over the scans).
    """
    if plan.study is None or not uses_scans(plan.study):
        return None
    with log_.capture(stage=_STAGE):
        try:
            return _longitudinal(plan)
        except (SchemaError, ConfigError, ValueError) as exc:
            warnings.warn(f"response section not computed: {type(exc).__name__}: {exc}",
                          SurvradWarning, stacklevel=2)
    return None


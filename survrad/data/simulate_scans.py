r"""Several follow-up scans for :func:`survrad.simulate_cohort` (``timepoints >= 3``).

Layer 1. :func:`survrad.simulate_cohort` draws the patients, baseline lesions, lesion
response model, survival and baseline features exactly as for ``timepoints=1`` (the
baseline rows are those of ``timepoints=1`` for the same seed, plus the scan columns),
then hands over to :func:`simulate_scans`, which draws everything below. Times are in
months; a month is 365.25 / 12 = 30.4375 days.

Scans
-----
Scan ``k = 0, ..., K-1`` of patient ``i`` is on day ``round(k Δ 30.4375) + j_ik`` after
the patient's enrolment, ``Δ = scan_interval`` (months, default 2), with a jitter
``j_ik`` uniform on the integers -14..14 (±2 weeks; ``j_i0 = 0``, the baseline scan is on
the enrolment day, time 0 of overall survival). ``scan_time = day / 30.4375`` months and
``scan_date = 2019-01-07 + enrolment day + day``, the enrolment day being
``round(30.4375 e_i)`` for the accrual time ``e_i ~ U(0, 24)`` months that also sets the
administrative censoring. A scan exists only while the patient is alive and followed:
``scan_time < os_time`` (so a patient who dies or is censored before the first follow-up
has the baseline scan only).

Baseline lesion trajectories
----------------------------
The lesion-response model of :mod:`survrad.data.simulate` gives every baseline lesion a
log diameter change ``c`` at 3 months (responders ``c < 0``: irradiated, abscopal,
low refractory score; refractory lesions ``c > 0``). Its trajectory is log-linear with
slope ``b = c / 3`` per month, growth capped at 3x:
``Δ(t) = min(b t, log 3)``. Pseudo-progression: each patient independently with
probability ``pseudo_progression`` (its lesions' own ``c`` is then not used); all its
baseline lesions grow by the factor ``1 + g_i`` up to the first follow-up scan
(``g_i = max(U(0.35, 0.8), 8 mm / SLD_0)``, so the target sum grows by >= 35 % and
>= 8 mm), then shrink with per-lesion slopes ``-U(0.15, 0.30)`` per month:
``Δ(t) = log(1 + g_i) t / t_1`` for ``t <= t_1``, ``log(1 + g_i) - ψ (t - t_1)`` after.
Such a patient develops no new lesion. A lesion whose noise-free diameter
``D_0 e^{Δ(t)}`` falls below 5 mm has vanished and stays vanished (its later rows have
``longest_diameter_mm = 0``, volume 0 and missing features; the lesion keeps a row at
every scan of its patient). A present lesion is measured with noise:
``D = D_0 e^{Δ + ε}``, ``ε ~ N(0, 0.04^2)`` (0 at baseline), volume ``V_0 e^{3(Δ + ε)}``.
Lymph nodes have ``short_axis_mm = r D`` with a per-lesion ratio ``r ~ U(0.55, 0.85)``
(missing for other organs).

New lesions
-----------
Patient ``i`` (not pseudo-progressing) develops new lesions as a Poisson process of rate
``0.04 e^{1.5 u_i}`` per month (``u_i`` its refractoriness) up to its last planned scan;
a lesion arising at time ``o`` is first seen at the first scan at or after ``o`` and is
numbered after the baseline lesions (in order of onset). At that scan it has the size of
a new lesion of ``timepoints=2`` (volume median 1.5 ml, log sd 0.8; diameter from
volume), score ``s = u_i + e`` with ``e ~ N(0, h)``, and then a log-linear trajectory of
slope ``(0.10 + 0.25 s + 0.25 z) / 3`` per month (the lesion-response model without
radiotherapy), capped and vanishing as above. New lesions are never targets nor
irradiated.

Features
--------
Every present row gets the features of :mod:`survrad.data.simulate` with the measured
log change from the lesion's first scan (``Δ + ε``) as the change term and the row's
log volume; the noise term of scan ``k >= 1`` is ``0.8 η_0 + 0.6 ε_k`` (test-retest
correlation 0.8 with the first scan).

Response and survival
---------------------
Targets are the baseline targets. At each scan the target size sum ``SLD`` adds the
longest diameters of non-nodal targets and the short axes of nodal ones (0 when
vanished). A simple RECIST-1.1-like status per follow-up scan: ``PD`` when a new lesion
is first seen or ``SLD >= 1.2 x`` its nadir over earlier scans and ``>= 5 mm`` above it;
``CR`` when every lesion has vanished (and no new one is present); ``PR`` when
``SLD <= 0.7 SLD_0``; ``SD`` otherwise. ``best_response`` is the best status over the
observed scans up to and including the first ``PD`` (CR > PR > SD > PD; responses are not
confirmed and SD has no minimum duration), ``NE`` without a follow-up scan;
``objective_response = 1{CR or PR}`` (0 for ``NE``). Pseudo-progressors are therefore
``PD`` under this rule (what iRECIST corrects).

``response_effect = β`` (default 0) is the log hazard ratio of death after tumour
shrinkage: from the first scheduled scan ``r_i`` at which ``SLD <= 0.7 SLD_0`` (measured,
whatever the RECIST status), the hazard is ``λ k t^{k-1} exp(lp_i + β)``; the event time
of ``simulate_cohort`` is transformed accordingly
(``T' = (r^k + (T^k - r^k) e^{-β})^{1/k}`` when ``T > r``), censoring is unchanged and the
scale ``λ`` stays the one calibrated for ``β = 0``. With ``β = 0`` survival depends only on
the baseline truth (``lp``) and is the same as for ``timepoints=1``, whatever the scans
show: an analysis in which "responders live longer" then measures confounding by the
baseline lesion scores and guarantee-time bias (a responder has to live until the scan
that shows the response), never an effect of response.

Truth
-----
``truth["patients"]`` adds ``pseudo_progression``, ``response_time`` (``r_i``, inf if
never), ``entry_months`` and ``n_scans`` (observed) to the ``timepoints=1`` columns (with
``event_time`` the transformed event time and ``new_lesions`` the new lesions seen on
observed scans). The true hazard of patient ``i`` is
``λ k t^{k-1} exp(lp_i + β 1{t >= r_i})`` (``weibull_scale`` and ``response_log_hr`` in
``truth["baseline"]``). ``truth["lesions"]`` is row-aligned with the lesion table:
``scan_time``, ``score``, ``lesion_effect``, ``is_worst``, ``log_change`` (``c``),
``slope`` (per month; the shrinkage slope ``-ψ`` for pseudo-progressors),
``peak_log_growth`` (``log(1 + g_i)``, 0 for others), ``true_log_change`` (``Δ``),
``vanished`` (this row records a vanished lesion), ``new`` and ``pseudo``.

Realised figures with ``timepoints=6`` and the other defaults (2000 patients, seeds 1-3):
63-65 % of patients have all 6 scans and 8 % the baseline scan only; best response SD
34-37 %, PR 26 %, PD 23-25 %, CR 6-8 %, NE 8 % (objective response 32-34 %); 29-31 % of
patients show new lesions (0.41-0.45 per patient); 19-20 % of baseline lesions vanish
and 9 % reach the growth cap by their last observed scan.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from survrad.data.cohort import Cohort
from survrad.data.simulate import (
    MAX_TIMEPOINTS,
    MIN_DIAMETER_MM,
    ORGAN_P,
    ORGANS,
    RESPONSE,
    RETEST_RHO,
    WEIBULL_SHAPE,
    _diameter_from_volume,
    _draw_volumes,
    _feature_values,
    _ids,
    _make_cohort,
    _rank_within,
    _Settings,
)

__all__ = ["MAX_TIMEPOINTS", "ScanSettings", "check_scan_settings", "simulate_scans"]

DAYS_PER_MONTH = 365.25 / 12.0
STUDY_START = np.datetime64("2019-01-07", "D")
JITTER_DAYS = 14
LANDMARK_MONTHS = 3.0
MEASUREMENT_SD = 0.04
MAX_LOG_GROWTH = float(np.log(3.0))
NEW_RATE_PER_MONTH = 0.04
NEW_RATE_U = 1.5
PSEUDO_GROWTH = (0.35, 0.80)
PSEUDO_MIN_GROWTH_MM = 8.0
PSEUDO_SHRINK = (0.15, 0.30)
SHORT_AXIS_RATIO = (0.55, 0.85)
_STATUS = np.array(["PD", "SD", "PR", "CR"], dtype=object)


@dataclasses.dataclass(frozen=True)
class ScanSettings:
    """Validated settings of the follow-up scans."""

    timepoints: int
    scan_interval: float
    pseudo_progression: float
    response_effect: float


def _real(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {value!r}.")
    v = float(value)
    if not (low <= v <= high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}.")
    return v


def check_scan_settings(timepoints: int, scan_interval: Any, pseudo_progression: Any,
                        response_effect: Any) -> ScanSettings:
    """Validate the scan settings of :func:`survrad.simulate_cohort`.

    ``scan_interval`` must be in [1, 24] months (the ±2-week jitter keeps scans in
    order), ``pseudo_progression`` in [0, 1], ``response_effect`` in [-5, 5]. With
    ``timepoints`` 1 or 2 they must keep their defaults (2.0, 0.0, 0.0): they describe
    scans that such a cohort does not have.

    Raises
    ------
    ValueError
        A value out of range, or a non-default setting with ``timepoints < 3``.
    TypeError
        A value that is not a number.

    Examples
    --------
    >>> check_scan_settings(6, 3, 0.1, 0.0).scan_interval
    3.0
    """
    s = ScanSettings(timepoints, _real("scan_interval", scan_interval, 1.0, 24.0),
                     _real("pseudo_progression", pseudo_progression, 0.0, 1.0),
                     _real("response_effect", response_effect, -5.0, 5.0))
    changed = [name for name, value, default in (
        ("scan_interval", s.scan_interval, 2.0),
        ("pseudo_progression", s.pseudo_progression, 0.0),
        ("response_effect", s.response_effect, 0.0)) if value != default]
    if timepoints < 3 and changed:
        raise ValueError(f"{changed} apply to follow-up scans, which need timepoints >= 3 "
                         f"(got timepoints={timepoints}); raise timepoints or leave them "
                         "at their defaults.")
    return s


# ------------------------------------------------------------------------- schedule
def _schedule(rng: np.random.Generator, n: int, sc: ScanSettings) -> np.ndarray:
    """Scan days after enrolment, ``(n, K)`` integers (day 0 = baseline)."""
    k = np.arange(sc.timepoints)
    planned = np.round(k * sc.scan_interval * DAYS_PER_MONTH).astype(np.int64)
    jitter = rng.integers(-JITTER_DAYS, JITTER_DAYS + 1, size=(n, sc.timepoints - 1))
    day = np.broadcast_to(planned, (n, sc.timepoints)).copy()
    day[:, 1:] += jitter
    return day


def _vanish(diameter0: np.ndarray, delta: np.ndarray, exists: np.ndarray) -> np.ndarray:
    """Vanished from the first scan where the noise-free diameter is < 5 mm, for good."""
    below = exists & (diameter0[:, None] * np.exp(delta) < MIN_DIAMETER_MM)
    return np.logical_or.accumulate(below, axis=1)


# --------------------------------------------------------------- baseline lesions
def _baseline_trajectories(rng: np.random.Generator, sc: ScanSettings, pat: dict[str, Any],
                           les: dict[str, Any], t: np.ndarray) -> dict[str, Any]:
    n, n_les = pat["u"].size, les["n"]
    pidx = les["pidx"]
    pseudo = rng.random(n) < sc.pseudo_progression
    growth = rng.uniform(*PSEUDO_GROWTH, n)
    shrink = rng.uniform(*PSEUDO_SHRINK, n_les)
    noise = MEASUREMENT_SD * rng.standard_normal((n_les, sc.timepoints - 1))
    ratio = rng.uniform(*SHORT_AXIS_RATIO, n_les)
    nodal = les["organ"] == ORGANS.index("lymph_node")
    size0 = np.where(nodal, ratio * les["diameter"], les["diameter"])
    sld0 = np.bincount(pidx, weights=size0 * les["is_target"], minlength=n)
    growth = np.maximum(growth, PSEUDO_MIN_GROWTH_MM / sld0)
    tl = t[pidx]
    slope = les["change"] / LANDMARK_MONTHS
    delta = np.minimum(slope[:, None] * tl, MAX_LOG_GROWTH)
    is_pseudo = pseudo[pidx]
    peak = np.where(is_pseudo, np.log1p(growth[pidx]), 0.0)
    t1 = tl[:, 1:2]
    rise = np.where(tl <= t1, peak[:, None] * tl / t1, peak[:, None] - shrink[:, None]
                    * (tl - t1))
    delta = np.where(is_pseudo[:, None], rise, delta)
    gone = _vanish(les["diameter"], delta, np.ones_like(delta, dtype=bool))
    measured = np.concatenate([np.zeros((n_les, 1)), delta[:, 1:] + noise], axis=1)
    return {"pseudo": pseudo, "slope": np.where(is_pseudo, -shrink, slope), "peak": peak,
            "delta": delta, "m": measured, "vanished": gone, "nodal": nodal,
            "ratio": ratio, "exists": np.ones_like(gone)}


# --------------------------------------------------------------------- new lesions
def _new_lesions(rng: np.random.Generator, cfg: _Settings, pat: dict[str, Any],
                 les: dict[str, Any], t: np.ndarray, pseudo: np.ndarray,
                 n_features: int) -> dict[str, Any]:
    n, k_scans = t.shape
    horizon = t[:, -1]
    rate = NEW_RATE_PER_MONTH * np.exp(NEW_RATE_U * pat["u"])
    count = rng.poisson(rate * horizon)
    pidx = np.repeat(np.arange(n), count)
    m = pidx.size
    onset = rng.random(m) * horizon[pidx]
    organ = rng.choice(len(ORGANS), size=m, p=ORGAN_P)
    volume = _draw_volumes(rng, organ, 1.5, 0.8)
    diameter = _diameter_from_volume(rng, volume)
    e = rng.normal(0.0, np.sqrt(cfg.heterogeneity), m)
    z = rng.standard_normal(m)
    ratio = rng.uniform(*SHORT_AXIS_RATIO, m)
    noise = MEASUREMENT_SD * rng.standard_normal((m, k_scans))
    eta0 = rng.standard_normal((m, n_features))
    eta_next = rng.standard_normal((m, k_scans, n_features))
    keep = ~pseudo[pidx]
    pidx, onset, organ, volume, diameter = (a[keep] for a in (pidx, onset, organ, volume,
                                                               diameter))
    e, z, ratio, noise, eta0, eta_next = (a[keep] for a in (e, z, ratio, noise, eta0,
                                                            eta_next))
    tl = t[pidx]
    first = np.argmax(tl >= onset[:, None], axis=1)   # onset <= last scan: always found
    exists = np.arange(k_scans)[None, :] >= first[:, None]
    t_first = tl[np.arange(pidx.size), first]
    s = pat["u"][pidx] + e
    slope = (RESPONSE["intercept"] + RESPONSE["score"] * s + RESPONSE["sd"] * z) / (
        LANDMARK_MONTHS)
    since = np.where(exists, tl - t_first[:, None], 0.0)
    delta = np.minimum(slope[:, None] * since, MAX_LOG_GROWTH)
    later = exists & (np.arange(k_scans)[None, :] > first[:, None])
    order = _rank_within(pidx, onset)
    return {"pidx": pidx, "number": les["counts"][pidx] + order + 1, "first": first,
            "organ": organ, "volume": volume, "diameter": diameter, "e": e, "s": s,
            "slope": slope, "delta": delta, "m": np.where(later, delta + noise, 0.0),
            "exists": exists, "vanished": _vanish(diameter, delta, exists),
            "nodal": organ == ORGANS.index("lymph_node"), "ratio": ratio,
            "eta0": eta0, "eta_next": eta_next}


def _measured(part: dict[str, Any], diameter0: np.ndarray, volume0: np.ndarray) -> None:
    """Measured diameter, volume and short axis of every (lesion, scan); 0 when vanished."""
    present = part["exists"] & ~part["vanished"]
    grow = np.exp(part["m"])
    part["diameter_k"] = np.where(present, diameter0[:, None] * grow, 0.0)
    part["volume_k"] = np.where(present, volume0[:, None] * grow**3, 0.0)
    part["size_k"] = np.where(part["nodal"][:, None], part["ratio"][:, None], 1.0) * part[
        "diameter_k"]


# --------------------------------------------------------------- response, survival
def _target_sums(base: dict[str, Any], les: dict[str, Any], n: int) -> np.ndarray:
    sld = np.zeros((n, base["size_k"].shape[1]))
    np.add.at(sld, les["pidx"], base["size_k"] * les["is_target"][:, None])
    return sld


def _shrinkage_time(sld: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Time of the first scheduled follow-up scan with SLD <= 70 % of baseline (inf if none)."""
    shrunk = sld <= 0.7 * sld[:, :1]
    shrunk[:, 0] = False
    hit = shrunk.any(axis=1)
    return np.where(hit, t[np.arange(t.shape[0]), np.argmax(shrunk, axis=1)], np.inf)


def _apply_response_effect(pat: dict[str, Any], response_time: np.ndarray,
                           beta: float) -> None:
    """Event times under the hazard ``exp(lp + β 1{t >= r})`` (same Exp(1) draws)."""
    if beta == 0.0:
        return
    k = WEIBULL_SHAPE
    time_ = pat["event_time"]
    after = time_ > response_time
    r = np.where(after, response_time, 0.0)
    moved = (r**k + (time_**k - r**k) * np.exp(-beta)) ** (1.0 / k)
    event_time = np.where(after, moved, time_)
    event = event_time <= pat["censor_time"]
    pat.update(event_time=event_time,
               os_time=np.where(event, event_time, pat["censor_time"]),
               os_event=event.astype(np.int64))


def _best_response(sld: np.ndarray, base: dict[str, Any], new: dict[str, Any],
                   les: dict[str, Any], observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RECIST-1.1-like best response over the observed scans (module docstring)."""
    n, k_scans = sld.shape
    first_new = np.zeros((n, k_scans))
    np.add.at(first_new, (new["pidx"], new["first"]), 1.0)
    present_new = np.zeros((n, k_scans))
    np.add.at(present_new, new["pidx"], new["exists"] & ~new["vanished"])
    left = np.zeros((n, k_scans))
    np.add.at(left, les["pidx"], ~base["vanished"])
    nadir = np.minimum.accumulate(sld, axis=1)
    before = np.concatenate([np.full((n, 1), np.inf), nadir[:, :-1]], axis=1)
    progress = ((sld >= 1.2 * before) & (sld - before >= 5.0)) | (first_new > 0)
    progress[:, 0] = False
    status = np.where(progress, 0, np.where((left == 0) & (present_new == 0), 3,
                                            np.where(sld <= 0.7 * sld[:, :1], 2, 1)))
    seen = progress & observed
    no_pd_before = (np.cumsum(seen, axis=1) - seen) == 0
    counted = observed & no_pd_before
    counted[:, 0] = False
    best = np.max(np.where(counted, status, -1), axis=1)
    label = np.where(best < 0, "NE", _STATUS[np.maximum(best, 0)]).astype(object)
    return label, (best >= 2).astype(np.int64)


# ------------------------------------------------------------------------ features
def _eta(base_eta: np.ndarray, rng: np.random.Generator, k_scans: int) -> np.ndarray:
    """Noise terms ``(n_lesions, K, F)``: first scan ``η_0``, later ``0.8 η_0 + 0.6 ε``."""
    later = RETEST_RHO * base_eta[:, None, :] + np.sqrt(1.0 - RETEST_RHO**2) * (
        rng.standard_normal((base_eta.shape[0], k_scans - 1, base_eta.shape[1])))
    return np.concatenate([base_eta[:, None, :], later], axis=1)


def _new_eta(new: dict[str, Any]) -> np.ndarray:
    eta0, nxt = new["eta0"], new["eta_next"]
    later = RETEST_RHO * eta0[:, None, :] + np.sqrt(1.0 - RETEST_RHO**2) * nxt
    first = np.arange(nxt.shape[1])[None, :] == new["first"][:, None]
    return np.where(first[:, :, None], eta0[:, None, :], later)


# ------------------------------------------------------------------------- assembly
def _rows(part: dict[str, Any], observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lesion, scan) pairs with a row: the lesion exists and the scan was observed."""
    return np.nonzero(part["exists"] & observed[part["pidx"]])


def _part_table(part: dict[str, Any], static: dict[str, np.ndarray], lesion_ids,
                pid: np.ndarray, t: np.ndarray, dates: np.ndarray, observed: np.ndarray,
                features: tuple) -> tuple[dict, np.ndarray, dict, np.ndarray]:
    """Table columns, features, truth columns and the sort key (patient, scan, number) of
    the rows of one part (baseline or new lesions)."""
    spec, batch, center, eta = features
    li, k = _rows(part, observed)
    pidx = part["pidx"][li]
    gone = part["vanished"][li, k]
    size = part["diameter_k"][li, k]
    feats = np.full((li.size, spec.shape[0]), np.nan)
    ok = ~gone
    feats[ok] = _feature_values(spec, batch, center[pidx[ok]], part["s"][li[ok]],
                                np.log(part["volume_k"][li[ok], k[ok]]),
                                part["m"][li[ok], k[ok]], eta[li[ok], k[ok]])
    table = {"patient_id": pid[pidx], "lesion_id": lesion_ids(part["pidx"],
                                                               part["number"])[li],
             "timepoint": k.astype(np.int64), "scan_time": t[pidx, k],
             "scan_date": dates[pidx, k],
             "organ": np.asarray(ORGANS, dtype=object)[part["organ"][li]],
             "volume_ml": part["volume_k"][li, k], "longest_diameter_mm": size,
             "short_axis_mm": np.where(part["nodal"][li], part["size_k"][li, k], np.nan)}
    table.update({key: value[li] for key, value in static.items()})
    truth = {"patient_id": table["patient_id"], "lesion_id": table["lesion_id"],
             "timepoint": table["timepoint"], "scan_time": table["scan_time"],
             "score": part["s"][li], "lesion_effect": part["e"][li],
             "is_worst": part["is_worst"][li], "log_change": part["log_change"][li],
             "slope": part["slope"][li], "peak_log_growth": part["peak"][li],
             "true_log_change": part["delta"][li, k], "vanished": gone,
             "new": np.full(li.size, part["is_new"]), "pseudo": part["pseudo_row"][li],
             "p_response_rt": part["p_rt"][li], "p_response_no_rt": part["p_no_rt"][li]}
    return table, feats, truth, np.column_stack([pidx, k, part["number"][li]])


def _lesion_tables(cfg, pat, les, base, new, t, dates, observed, features):
    """The lesion table (rows by patient, scan, lesion number) and its row-aligned truth."""
    n_new = new["pidx"].size
    base.update(pidx=les["pidx"], number=les["number"], organ=les["organ"], s=les["s"],
                e=les["e"], is_worst=_rank_within(les["pidx"], -les["s"]) == 0,
                log_change=les["change"], is_new=False,
                pseudo_row=base["pseudo"][les["pidx"]], p_rt=les["p_rt"],
                p_no_rt=les["p_no_rt"])
    new.update(peak=np.zeros(n_new), is_worst=np.zeros(n_new, bool),
               log_change=np.full(n_new, np.nan), is_new=True,
               pseudo_row=np.zeros(n_new, bool), p_rt=np.full(n_new, np.nan),
               p_no_rt=np.full(n_new, np.nan))
    pid, lesion_ids = _ids(cfg, les, {"number_new": new["number"]})
    static_base = {"is_target": les["is_target"], "irradiated": les["irradiated"],
                   "rt_dose_gy": les["dose"], "diameter_followup_mm": les["followup"],
                   "lesion_response": les["response"]}
    static_new = {"is_target": np.zeros(n_new, np.int64),
                  "irradiated": np.zeros(n_new, np.int64), "rt_dose_gy": np.zeros(n_new),
                  "diameter_followup_mm": np.full(n_new, np.nan),
                  "lesion_response": np.zeros(n_new, np.int64)}
    spec, batch, eta_base, eta_new = features
    parts = [_part_table(base, static_base, lesion_ids, pid, t, dates, observed,
                         (spec, batch, pat["center"], eta_base)),
             _part_table(new, static_new, lesion_ids, pid, t, dates, observed,
                         (spec, batch, pat["center"], eta_new))]
    cat = np.concatenate
    key = np.vstack([parts[0][3], parts[1][3]])
    order = np.lexsort((key[:, 2], key[:, 1], key[:, 0]))
    table = {name: cat([parts[0][0][name], parts[1][0][name]])[order] for name in parts[0][0]}
    truth = {name: cat([parts[0][2][name], parts[1][2][name]])[order] for name in parts[0][2]}
    feats = np.vstack([parts[0][1], parts[1][1]])[order]
    lesions = pd.concat([pd.DataFrame(table), pd.DataFrame(feats, columns=spec.index)],
                        axis=1)
    return lesions, pd.DataFrame(truth), pid


def simulate_scans(rng: np.random.Generator, cfg: _Settings, sc: ScanSettings,
                   pat: dict[str, Any], les: dict[str, Any], spec: pd.DataFrame,
                   batch: dict[str, np.ndarray]) -> Cohort:
    """The cohort of :func:`survrad.simulate_cohort` with ``sc.timepoints >= 3`` scans.

    Called by ``simulate_cohort`` once the baseline draws are made (``pat``, ``les``,
    feature spec, batch effects, baseline noise ``les["eta"]``); the model is written
    out in the module docstring.

    Returns
    -------
    Cohort
        Lesion table with one row per lesion and observed scan (``timepoint``,
        ``scan_time`` in months, ``scan_date``, ``short_axis_mm`` besides the
        ``timepoints=1`` columns); patient table as for ``timepoints=1`` with the
        scan-based ``best_response`` / ``objective_response`` (``NE`` possible).

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=30, random_state=0, timepoints=4)
    >>> c.timepoints, list(c.scans.columns)
    ((0, 1, 2, 3), ['patient_id', 'timepoint', 'scan_time', 'scan_date'])
    """
    n = cfg.n
    day = _schedule(rng, n, sc)
    t = day / DAYS_PER_MONTH
    base = _baseline_trajectories(rng, sc, pat, les, t)
    new = _new_lesions(rng, cfg, pat, les, t, base["pseudo"], spec.shape[0])
    eta_base = _eta(les["eta"], rng, sc.timepoints)
    _measured(base, les["diameter"], les["volume"])
    _measured(new, new["diameter"], new["volume"])
    sld = _target_sums(base, les, n)
    response_time = _shrinkage_time(sld, t)
    _apply_response_effect(pat, response_time, sc.response_effect)
    observed = t < pat["os_time"][:, None]
    best, objective = _best_response(sld, base, new, les, observed)
    seen_new = np.bincount(new["pidx"], weights=observed[new["pidx"], new["first"]],
                           minlength=n).astype(np.int64)
    pat.update(best_response=best, objective_response=objective, new_lesions=seen_new)
    enrol = STUDY_START + np.round(pat["entry"] * DAYS_PER_MONTH).astype("timedelta64[D]")
    dates = (enrol[:, None] + day.astype("timedelta64[D]")).astype("datetime64[ns]")
    lesions, lesion_truth, pid = _lesion_tables(cfg, pat, les, base, new, t, dates, observed,
                                                (spec, batch, eta_base, _new_eta(new)))
    extra = {"pseudo_progression": base["pseudo"], "response_time": response_time,
             "entry_months": pat["entry"], "n_scans": observed.sum(axis=1)}
    settings = {"response_log_hr": sc.response_effect, "scan_interval_months": sc.scan_interval,
                "pseudo_progression": sc.pseudo_progression,
                "measurement_log_sd": MEASUREMENT_SD,
                "new_lesion_rate_per_month": NEW_RATE_PER_MONTH}
    return _make_cohort(cfg, pat, les, pid, lesions, lesion_truth, spec, batch,
                        patient_extra=extra, baseline_extra=settings)

r"""A simulated metastatic radio-immunotherapy cohort with known truth (layer 1).

:func:`simulate_cohort` draws patients treated with immunotherapy plus stereotactic
radiotherapy (SBRT) of one or two metastases, with several lesions each, radiomic
features per lesion, overall survival and RECIST-like response. Every latent quantity is
kept in ``cohort.truth`` so that tests and worked analyses can check what a method
recovers. Times are in **months**.

The generative model
--------------------
Patients ``i = 1..n`` (ids ``P001``...; zero-padded to at least 3 digits).

* ``age`` ~ round(N(63, 10²)), clipped to [30, 90] years; ``ecog`` in {0, 1, 2} with
  probabilities 0.45 / 0.40 / 0.15; ``pdl1`` (tumour proportion score, %) is 0 with
  probability 0.35 and otherwise round(1 + 99 · Beta(0.8, 0.8)), so about a third each
  of < 1 %, 1–49 % and ≥ 50 %; ``center`` ``C1``..``Ck`` with probabilities proportional
  to ``k, k-1, ..., 1`` (unequal site sizes). Covariates are mutually independent.
* Patient-level refractoriness ``u_i ~ N(0, 1 - h)`` with ``h = heterogeneity``.

Lesions ``j = 1..m_i`` (ids ``P001-L01``...).

* Count ``m_i = min(1 + NB(r=2, mean=mean_lesions - 1), max_lesions)``; about 11 % of
  patients have a single lesion at the defaults (mean ≈ 4.9).
* ``organ`` in lung / liver / lymph_node / bone / adrenal / brain with probabilities
  0.25 / 0.15 / 0.30 / 0.15 / 0.08 / 0.07.
* ``log volume_ml ~ N(log 7 + δ_organ, 1.1²)`` with organ shifts δ = 0, +0.4, −0.3, +0.3,
  0, −0.8 (in that order), floored at 0.07 ml (a 5 mm sphere).
* ``longest_diameter_mm = max(5, 10 · (6 V / π)^{1/3} · exp(0.08 + 0.08 |z|))``: the
  equivalent-sphere diameter stretched by a small elongation factor, z ~ N(0, 1).
* Irradiation: one lesion per patient, a second one with probability 0.3 when the patient
  has ≥ 2 lesions. With ``rt_assignment="largest"`` (default) the first pick is the
  largest lesion with probability ``q = rt_largest_probability`` (default 0.6),
  otherwise a lesion at random; ``rt_assignment="random"`` always picks at random
  (``q = 0``, the same random draws). The choice never depends on the latent scores, but
  with ``q > 0`` it depends on volume: irradiation is CONFOUNDED with lesion size (the
  situation of a real SBRT cohort, where the largest or symptomatic lesion is treated),
  while the lesion response below does not depend on volume given the refractory score
  and irradiation. ``rt_dose_gy`` (SBRT total dose) is drawn from 24, 27, 30, 40, 45,
  50 Gy (probabilities 0.20, 0.15, 0.20, 0.20, 0.10, 0.15) for irradiated lesions, 0
  otherwise; the dose does not change the response.
* ``is_target`` (RECIST 1.1-like): measurable lesions (longest diameter ≥ 10 mm, lymph
  nodes ≥ 15 mm), at most 2 per organ and 5 per patient, the largest first, non-irradiated
  lesions preferred (irradiated lesions are targets only when the patient has no other
  measurable lesion, as in abscopal-response trials); a patient without a measurable
  lesion has the largest lesion as target.
* Latent lesion refractory score ``s_ij = u_i + e_ij`` with ``e_ij ~ N(0, h)``, so
  ``Var(s) = 1`` and ``heterogeneity = h`` is the share of lesion-level variance
  (``h = 0``: all lesions of a patient alike; ``h = 1``: no patient-level component).

Radiomic features (``rad_sig_XX``, ``rad_vol_XX``, ``rad_noise_XX``). For feature ``f``
and timepoint ``t`` a standardised latent value is

.. math::

    z_{ijf,t} = w_f s_{ij} + v_f \ell_{ij,t} + \kappa_f c_{ij,t} / 0.4
               + \sqrt{1 - w_f^2 - v_f^2}\, \eta_{ijf,t},

with ``ℓ = (log V − log 7) / 1.15`` the standardised log volume, ``c`` the log diameter
ratio of the lesion response below (0 at baseline), ``η_{·,0} ~ N(0, 1)`` and
``η_{·,1} = 0.8 η_{·,0} + 0.6 ε`` (test–retest correlation 0.8).

* signal features: ``w_f`` evenly spaced from 0.90 down to 0.70, ``v_f`` cycling
  0, +0.25, 0, −0.20 (some texture features are size-confounded), ``κ_f = ±0.6``
  alternating (they drift with the response, so delta-radiomics carries signal);
* volume features: ``w = 0``, ``v_f`` cycling +0.95, −0.85, +0.90, +0.80, ``κ = 0``;
* noise features: ``w = v = κ = 0``.

Scanner (centre) batch effect, ComBat's location/scale model: for centre ``c``,
``γ_cf ~ N(0, b²)`` and ``log δ_cf ~ N(0, (b/2)²)`` with ``b = batch_effect``; the measured
value is ``loc_f + scale_f · (γ_cf + δ_cf z)``, where ``(loc_f, scale_f)`` cycles through
realistic radiomic scales (entropy ≈ 4.6 ± 0.45, GLCM contrast ≈ 55 ± 9, skewness
≈ 0.2 ± 0.8, run-length non-uniformity ≈ 1800 ± 300, correlation ≈ 0.42 ± 0.06,
mean intensity ≈ 38 ± 14 HU; volume features: surface-area-like ≈ 1500 ± 250,
sphericity-like ≈ 0.62 ± 0.08, axis-length-like ≈ 25 ± 4, voxel-count-like ≈ 9000 ± 1500).

Overall survival: proportional hazards with a Weibull baseline of shape ``k = 1.2``,
``h_i(t) = λ k t^{k-1} exp(lp_i)``, with

.. math::

    lp_i = 0.10\,\frac{age_i - 63}{10} + 0.45\,ecog_i - 0.50\,\frac{pdl1_i}{100}
           + 0.20 \log B_i + \beta_d\, d^{z}_i,

``B_i`` the total lesion volume (ml) and ``d^z`` the standardised (sample mean 0, sd 1)
lesion driver ``d_i`` chosen by ``driver``: ``"worst"`` ``max_j s_ij``, ``"mean"``
``mean_j s_ij``, ``"heterogeneity"`` ``sd_j s_ij`` (population sd, 0 for one lesion) or
``"burden"`` ``log B_i`` (the separate burden term is then dropped);
``β_d = driver_effect`` (log hazard ratio per sd). ``λ`` is solved so that the marginal
median of the simulated population (given its ``lp``) equals ``median_os_months``.
Event times are ``T_i = (E_i / (λ e^{lp_i}))^{1/k}``, ``E_i ~ Exp(1)``.

Censoring: accrual uniform over 24 months followed by a minimum follow-up ``F`` gives an
administrative censoring time ``~ U(F, F + 24)``; loss to follow-up is exponential with
rate ``ρ = 0.005`` per month. ``F`` (or, when no ``F`` can reach the target, ``ρ``) is
solved so that the EXPECTED censored fraction given the ``lp`` (not the drawn times) equals
``censoring``; ``censoring=0`` disables censoring. ``os_time = min(T, C)``,
``os_event = 1{T ≤ C}``.

Lesion response at the first follow-up scan (≈ 3 months). Log diameter ratio

.. math::

    c_{ij} = 0.10 + 0.25\, s_{ij} - 0.60\, r_{ij} - 0.55\, a_i (1 - r_{ij})
             + N(0, 0.25^2),

``r_ij`` = irradiated, ``a_i ~ Bernoulli(expit(−1.2 − 2 u_i))`` the abscopal responder flag
(patients with low refractoriness respond outside the radiation field). The follow-up
diameter is ``D · e^{c}``, recorded as 0 (the lesion disappeared) when it falls below
5 mm; ``lesion_response = 1{follow-up / baseline − 1 ≤ −0.30}``, i.e.
``c ≤ k_ij = max(log 0.7, log(5 / D_ij))``. The lesion's TRUE response probabilities
with and without irradiation, given its latent score and its patient's ``u`` (averaged
over the abscopal draw and the noise), are

.. math::

    p^{RT}_{ij} = \Phi\Big(\frac{k_{ij} - \mu_{ij} + 0.60}{0.25}\Big), \quad
    p^{noRT}_{ij} = \pi_i \Phi\Big(\frac{k_{ij} - \mu_{ij} + 0.55}{0.25}\Big)
                  + (1 - \pi_i) \Phi\Big(\frac{k_{ij} - \mu_{ij}}{0.25}\Big),

with ``μ_ij = 0.10 + 0.25 s_ij`` and ``π_i = expit(−1.2 − 2 u_i)``. The 5 mm floor
makes ``k`` depend on the diameter only for lesions under 7.2 mm (about 0.1 % of them);
otherwise neither probability depends on volume.

Patient response (RECIST-like, target lesions): with ``Δ`` the relative change of the sum
of target diameters, ``PD`` if ``Δ ≥ +20 %`` (and ≥ 5 mm absolute) or a new lesion appears
(probability ``expit(−2 + 1.5 u_i)``, 1 + Poisson(0.5) new lesions), ``CR`` if every
lesion disappeared and none is new, ``PR`` if ``Δ ≤ −30 %``, ``SD`` otherwise;
``objective_response = 1{CR or PR}``. The response is assessed for every patient (no
``NE``: a simplification, even for patients who die before the scan).

Second timepoint (``timepoints=2``): a ``timepoint`` column (0 baseline, 1 follow-up);
follow-up rows of surviving lesions keep their ``lesion_id`` and carry the follow-up
volume ``V e^{3c}``, diameter and features; disappeared lesions have no follow-up row;
new lesions (ids numbered after the baseline ones, ``s = u_i + e``, median volume 1.5 ml,
never irradiated nor target) appear only at follow-up. On every row
``diameter_followup_mm`` is the lesion's diameter at follow-up and ``lesion_response``
its response (0 for new lesions).

``cohort.truth`` holds ``"patients"`` (latent ``u``, ``driver``, ``driver_z``, the
covariates of ``lp`` as used, ``lp``, ``hazard_ratio = exp(lp)``, the individual true
median, uncensored event and censoring times, ``abscopal``, ``new_lesions``,
``n_lesions``), ``"lesions"`` (row-aligned with the lesion table: ``score = s``,
``lesion_effect = e``, ``is_worst`` (the patient's lesion with the highest ``s``: the
truly worst, most refractory lesion), ``log_change = c``, ``vanished``, ``new``,
``p_response_rt``, ``p_response_no_rt``: NaN for new lesions, like ``log_change``),
``"coef"`` (true log hazard ratios by term), ``"baseline"`` (Weibull shape and scale,
censoring settings), ``"features"`` (``w, v, κ``, scale of every feature) and ``"batch"``
(``γ, δ`` per centre and feature). The ``"coef"`` terms (``age_c``, ``ecog``,
``pdl1_frac``, ``log_burden``, ``driver_z``) are columns of ``truth["patients"]``, and
``lp`` equals their product with the coefficients exactly.

Realised figures at the defaults (2000 patients, three seeds): 40 % censored, Kaplan-Meier
median OS 17-18 months, Harrell C of the true ``lp`` 0.73, 4.9 lesions per patient (11 %
single-lesion), objective response 26-28 % (PD 38 %, CR < 1 %), lesion response 65 % for
irradiated and 25 % for non-irradiated lesions. For a given seed the outcome draws come
before the feature draws, so changing the feature settings (counts, ``batch_effect``)
leaves patients and outcomes unchanged, and ``timepoints=2`` leaves the baseline rows
unchanged.

Several scans (``timepoints >= 3``): scans every ``scan_interval`` months with dates,
log-linear lesion trajectories (slope ``c / 3`` per month), vanished and new lesions,
nodal short axes, optional pseudo-progression, a scan-based RECIST-like best response and
an optional effect of tumour shrinkage on survival (``response_effect``); the model is
written out in :mod:`survrad.data.simulate_scans`. The baseline rows are those of
``timepoints=1``, and so are the survival times when ``response_effect=0``.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from survrad._validation import check_choice, check_fraction, check_int, check_random_state
from survrad.data.cohort import Cohort, Endpoint
from survrad.exceptions import ConfigError

__all__ = ["simulate_cohort"]

DRIVERS = ("worst", "burden", "mean", "heterogeneity")
ORGANS = ("lung", "liver", "lymph_node", "bone", "adrenal", "brain")
ORGAN_P = np.array([0.25, 0.15, 0.30, 0.15, 0.08, 0.07])
ORGAN_LOGVOL_SHIFT = np.array([0.0, 0.4, -0.3, 0.3, 0.0, -0.8])
VOLUME_MEDIAN_ML = 7.0
VOLUME_LOG_SD = 1.1
LOGVOL_SD = float(np.sqrt(VOLUME_LOG_SD**2 + ORGAN_P @ ORGAN_LOGVOL_SHIFT**2
                          - (ORGAN_P @ ORGAN_LOGVOL_SHIFT) ** 2))
MIN_VOLUME_ML = 0.07
MIN_DIAMETER_MM = 5.0
DOSES_GY = np.array([24.0, 27.0, 30.0, 40.0, 45.0, 50.0])
DOSE_P = np.array([0.20, 0.15, 0.20, 0.20, 0.10, 0.15])
RT_ASSIGNMENTS = ("largest", "random")

MAX_TIMEPOINTS = 60

COEF = {"age_c": 0.10, "ecog": 0.45, "pdl1_frac": -0.50, "log_burden": 0.20}
WEIBULL_SHAPE = 1.2
ACCRUAL_MONTHS = 24.0
DROPOUT_PER_MONTH = 0.005

RESPONSE = {"intercept": 0.10, "score": 0.25, "rt": 0.60, "abscopal": 0.55, "sd": 0.25}
CHANGE_SCALE = 0.4
RETEST_RHO = 0.8

SIG_PROFILES = ((4.6, 0.45), (55.0, 9.0), (0.2, 0.8), (1800.0, 300.0), (0.42, 0.06),
                (38.0, 14.0))
VOL_PROFILES = ((1500.0, 250.0), (0.62, 0.08), (25.0, 4.0), (9000.0, 1500.0))
SIG_VOLUME_W = (0.0, 0.25, 0.0, -0.20)
VOL_VOLUME_W = (0.95, -0.85, 0.90, 0.80)


@dataclasses.dataclass(frozen=True)
class _Settings:
    n: int
    mean_lesions: float
    max_lesions: int
    n_sig: int
    n_vol: int
    n_noise: int
    n_centers: int
    batch_effect: float
    heterogeneity: float
    driver: str
    driver_effect: float
    timepoints: int
    censoring: float
    median_os: float
    center_p: tuple[float, ...] | None = None
    center_log_hazard: tuple[float, ...] | None = None


def simulate_cohort(
    n_patients: int = 300,
    random_state: Any = None,
    *,
    mean_lesions: float = 5.0,
    max_lesions: int = 12,
    n_signal_features: int = 8,
    n_volume_features: int = 4,
    n_noise_features: int = 20,
    n_centers: int = 3,
    batch_effect: float = 0.5,
    heterogeneity: float = 0.6,
    driver: str = "worst",
    driver_effect: float = 0.85,
    timepoints: int = 1,
    censoring: float = 0.4,
    median_os_months: float = 18.0,
    scan_interval: float = 2.0,
    pseudo_progression: float = 0.0,
    response_effect: float = 0.0,
    rt_assignment: str = "largest",
    rt_largest_probability: float = 0.6,
    center_probabilities: Any = None,
    center_log_hazard: Any = None,
) -> Cohort:
    """Simulate a metastatic radio-immunotherapy cohort whose truth is known.

    The model (latent lesion refractory scores, radiomic features with a centre batch
    effect, Weibull proportional-hazards survival, lesion and RECIST-like response, an
    optional follow-up timepoint) is written out in the module docstring of
    :mod:`survrad.data.simulate`. Times are in months.

    Parameters
    ----------
    n_patients : int, default 300
        Number of patients (at least 2).
    random_state : None, int, SeedSequence or Generator
        Seed; the same seed gives identical tables.
    mean_lesions : float, default 5.0
        Target mean number of baseline lesions per patient (1 to ``max_lesions``; the
        cap lowers the realised mean slightly).
    max_lesions : int, default 12
        Largest number of baseline lesions per patient.
    n_signal_features, n_volume_features, n_noise_features : int, default 8, 4, 20
        Radiomic features carrying the latent lesion score, tracking log volume only,
        or pure noise (``rad_sig_XX``, ``rad_vol_XX``, ``rad_noise_XX``).
    n_centers : int, default 3
        Number of centres (scanners), ``C1``..``Ck``.
    batch_effect : float, default 0.5
        Size ``b`` of the centre effect on every feature (location sd ``b``, log-scale sd
        ``b/2``, in feature sd units); 0 for none.
    heterogeneity : float, default 0.6
        Share of the lesion score variance that is lesion-level (in [0, 1]).
    driver : {"worst", "burden", "mean", "heterogeneity"}, default "worst"
        How lesions drive survival: max, log total volume, mean or sd of lesion scores.
    driver_effect : float, default 0.85
        Log hazard ratio per sd of the driver.
    timepoints : int, default 1
        Number of scans (1 to 60). 2 adds one follow-up scan (delta-radiomics, vanished
        and new lesions); 3 or more give a baseline and follow-up scans every
        ``scan_interval`` months with lesion trajectories, new lesions, nodal short axes,
        optional pseudo-progression and scan-based best response, modelled in
        :mod:`survrad.data.simulate_scans` (the baseline rows and, with
        ``response_effect=0``, the survival times are those of ``timepoints=1``).
    censoring : float, default 0.4
        Expected censored fraction (0 to 0.9; 0 = no censoring).
    median_os_months : float, default 18.0
        Median overall survival of the simulated population.
    scan_interval : float, default 2.0
        Months between planned scans (1 to 24; ``timepoints >= 3``), each jittered by up
        to ±2 weeks.
    pseudo_progression : float, default 0.0
        Fraction of patients (probability per patient, ``timepoints >= 3``) whose lesions
        grow transiently by >= 35 % at the first follow-up scan, then respond.
    response_effect : float, default 0.0
        Log hazard ratio of death after tumour shrinkage (target sum <= 70 % of
        baseline at a scan; ``timepoints >= 3``). 0: tumour response has no effect on
        survival given the baseline truth, so a "responders live longer" analysis shows
        confounding and guarantee-time bias only.
    rt_assignment : {"largest", "random"}, default "largest"
        How the first irradiated lesion of a patient is chosen: the largest one with
        probability ``rt_largest_probability`` (else at random), or always at random.
        "largest" confounds irradiation with lesion size (see the module docstring);
        the lesion response never depends on volume given the refractory score and
        irradiation, and ``truth["lesions"]`` keeps each lesion's true response
        probability with and without irradiation.
    rt_largest_probability : float, default 0.6
        In [0, 1]; used by ``rt_assignment="largest"``. The random draws do not depend
        on it, so cohorts that differ only in it share everything but the irradiation
        (and what follows from it).
    center_probabilities : sequence of float, optional
        Probability of each centre ``C1``..``Ck`` (``n_centers`` non-negative numbers,
        normalised to sum 1). None: proportional to ``k, k-1, ..., 1``. The same random
        draws are used whatever the probabilities.
    center_log_hazard : sequence of float, optional
        A centre effect on the baseline hazard: ``n_centers`` log hazard ratios added to
        every patient's ``lp`` by centre (then ``truth["coef"]`` has a
        ``center_log_hazard`` term with coefficient 1 and ``truth["patients"]`` its
        column). The Weibull scale is solved on the ``lp`` with the centre effect, so
        ``median_os_months`` stays the median of the whole simulated population. None
        (default) draws nothing more and changes nothing.

    Returns
    -------
    Cohort
        Patients (``age``, ``ecog``, ``pdl1``, ``center``, ``os_time``, ``os_event``,
        ``best_response``, ``objective_response``), lesions (``organ``, ``volume_ml``,
        ``longest_diameter_mm``, ``is_target``, ``irradiated``, ``rt_dose_gy``,
        ``diameter_followup_mm``, ``lesion_response``, ``rad_*``), endpoints ``os`` and
        ``response``, and the known truth in ``cohort.truth``. With ``timepoints >= 3``
        the lesion table has one row per lesion and observed scan, with ``timepoint``,
        ``scan_time`` (months), ``scan_date`` and ``short_axis_mm`` columns, and
        ``best_response`` can be ``NE`` (no follow-up scan).

    Raises
    ------
    ConfigError
        An argument out of range or not one of its choices (a ``ValueError``).
    TypeError
        An argument of the wrong type (e.g. a float ``n_patients``).

    Examples
    --------
    >>> import survrad as sr
    >>> c = sr.simulate_cohort(n_patients=50, random_state=0)
    >>> c.n_patients, list(c.endpoints)
    (50, ['os', 'response'])
    >>> bool(c.truth["lesions"]["is_worst"].groupby(c.lesions["patient_id"]).sum().eq(1).all())
    True
    >>> conf = sr.simulate_cohort(n_patients=50, random_state=0, rt_largest_probability=0.9)
    >>> sorted(conf.truth["lesions"].columns[-2:])
    ['p_response_no_rt', 'p_response_rt']
    """
    from survrad.data import simulate_scans as scans_model  # it imports this module

    try:
        cfg = _check_settings(n_patients, mean_lesions, max_lesions, n_signal_features,
                              n_volume_features, n_noise_features, n_centers, batch_effect,
                              heterogeneity, driver, driver_effect, timepoints, censoring,
                              median_os_months)
        cfg = _check_centers(cfg, center_probabilities, center_log_hazard)
        scan_settings = scans_model.check_scan_settings(cfg.timepoints, scan_interval,
                                                        pseudo_progression, response_effect)
        rt_largest = _check_rt_assignment(rt_assignment, rt_largest_probability)
        rng = check_random_state(random_state)
    except ConfigError:
        raise
    except ValueError as exc:  # a bad value: a configuration error (CLI exit code 2)
        raise ConfigError(f"{exc} Change this simulate_cohort argument (survrad simulate "
                          "--help lists the options).") from exc
    pat = _simulate_patients(rng, cfg)
    les = _simulate_lesions(rng, cfg, pat["u"])
    _assign_irradiation(rng, les, rt_largest)
    _assign_targets(les)
    _lesion_response(rng, cfg, pat, les)
    pat.update(_survival(rng, cfg, pat, les))
    _patient_response(rng, pat, les)
    spec = _feature_spec(cfg)
    batch = _batch_parameters(rng, cfg, spec)
    les["eta"] = rng.standard_normal((les["n"], spec.shape[0]))
    if cfg.timepoints >= 3:  # the baseline draws above are those of timepoints=1
        return scans_model.simulate_scans(rng, cfg, scan_settings, pat, les, spec, batch)
    follow = _followup(rng, cfg, pat, les, spec) if cfg.timepoints == 2 else None
    return _assemble(cfg, pat, les, follow, spec, batch)


# ----------------------------------------------------------------------------- checks
def _check_real(name: str, value: Any, low: float, high: float = np.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}.")
    v = float(value)
    if not (low <= v <= high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}.")
    return v


def _check_mean_lesions(value: Any, max_lesions: int) -> float:
    v = _check_real("mean_lesions", value, 1.0)
    if v > max_lesions:
        raise ValueError(f"mean_lesions ({value}) must not exceed max_lesions ({max_lesions}); "
                         "lower mean_lesions or raise max_lesions.")
    return v


def _center_vector(name: str, value: Any, k: int, low: float, high: float
                   ) -> tuple[float, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not hasattr(value, "__len__"):
        raise TypeError(f"{name} must be a sequence of {k} numbers, got {value!r}.")
    vals = tuple(_check_real(f"{name}[{i}]", v, low, high) for i, v in enumerate(value))
    if len(vals) != k:
        raise ValueError(f"{name} must have n_centers = {k} values, got {len(vals)}.")
    return vals


def _check_centers(cfg: _Settings, probabilities: Any, log_hazard: Any) -> _Settings:
    p = _center_vector("center_probabilities", probabilities, cfg.n_centers, 0.0, np.inf)
    if p is not None and sum(p) <= 0:
        raise ValueError("center_probabilities must have a positive sum.")
    hz = _center_vector("center_log_hazard", log_hazard, cfg.n_centers, -10.0, 10.0)
    return dataclasses.replace(cfg, center_p=p, center_log_hazard=hz)


def _check_rt_assignment(rt_assignment: Any, probability: Any) -> float:
    """The probability that the largest lesion is the first one irradiated."""
    check_choice("rt_assignment", rt_assignment, RT_ASSIGNMENTS)
    q = _check_real("rt_largest_probability", probability, 0.0, 1.0)
    return q if rt_assignment == "largest" else 0.0


def _check_settings(n, mean_lesions, max_lesions, n_sig, n_vol, n_noise, n_centers,
                    batch_effect, heterogeneity, driver, driver_effect, timepoints,
                    censoring, median_os) -> _Settings:
    max_lesions = check_int("max_lesions", max_lesions, min_value=1, max_value=999)
    tp = check_int("timepoints", timepoints, min_value=1, max_value=MAX_TIMEPOINTS)
    return _Settings(
        n=check_int("n_patients", n, min_value=2),
        mean_lesions=_check_mean_lesions(mean_lesions, max_lesions),
        max_lesions=max_lesions,
        n_sig=check_int("n_signal_features", n_sig, min_value=0, max_value=99),
        n_vol=check_int("n_volume_features", n_vol, min_value=0, max_value=99),
        n_noise=check_int("n_noise_features", n_noise, min_value=0, max_value=99),
        n_centers=check_int("n_centers", n_centers, min_value=1, max_value=99),
        batch_effect=_check_real("batch_effect", batch_effect, 0.0, 5.0),
        heterogeneity=check_fraction("heterogeneity", heterogeneity, inclusive=True),
        driver=check_choice("driver", driver, DRIVERS),
        driver_effect=_check_real("driver_effect", driver_effect, -5.0, 5.0),
        timepoints=tp,
        censoring=_check_real("censoring", censoring, 0.0, 0.9),
        median_os=_check_real("median_os_months", median_os, 1e-3, 1e4),
    )


# ---------------------------------------------------------------------------- helpers
def _rank_within(group: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """0-based rank of each element inside its group, ordered by ``keys`` (first key
    most significant, ascending)."""
    order = np.lexsort((*reversed(keys), group))
    g = group[order]
    first = np.r_[True, g[1:] != g[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(g.size), 0))
    rank = np.empty(g.size, dtype=np.int64)
    rank[order] = np.arange(g.size) - start
    return rank


def _diameter_from_volume(rng: np.random.Generator, volume: np.ndarray) -> np.ndarray:
    sphere = 10.0 * np.cbrt(6.0 * volume / np.pi)
    stretch = np.exp(0.08 + 0.08 * np.abs(rng.standard_normal(volume.size)))
    return np.maximum(MIN_DIAMETER_MM, sphere * stretch)


def _draw_volumes(rng: np.random.Generator, organ: np.ndarray, median: float,
                  log_sd: float) -> np.ndarray:
    log_v = np.log(median) + ORGAN_LOGVOL_SHIFT[organ] + log_sd * rng.standard_normal(
        organ.size)
    return np.maximum(MIN_VOLUME_ML, np.exp(log_v))


# --------------------------------------------------------------------------- patients
def _simulate_patients(rng: np.random.Generator, cfg: _Settings) -> dict[str, Any]:
    n = cfg.n
    age = np.clip(np.round(rng.normal(63.0, 10.0, n)), 30, 90)
    ecog = rng.choice(3, size=n, p=[0.45, 0.40, 0.15])
    positive = rng.random(n) >= 0.35
    pdl1 = np.where(positive, np.round(1.0 + 99.0 * rng.beta(0.8, 0.8, n)), 0.0)
    weights = (np.arange(cfg.n_centers, 0, -1, dtype=float) if cfg.center_p is None
               else np.asarray(cfg.center_p, dtype=float))
    center = rng.choice(cfg.n_centers, size=n, p=weights / weights.sum())
    u = rng.normal(0.0, np.sqrt(1.0 - cfg.heterogeneity), n)
    # predictors as float64, the dtype read_cohort gives them (a round trip is lossless)
    return {"age": age.astype(float), "ecog": ecog.astype(float), "pdl1": pdl1,
            "center": center, "u": u}


# ---------------------------------------------------------------------------- lesions
def _lesion_counts(rng: np.random.Generator, cfg: _Settings) -> np.ndarray:
    extra_mean = cfg.mean_lesions - 1.0
    if extra_mean <= 0:
        return np.ones(cfg.n, dtype=np.int64)
    r = 2.0
    extra = rng.negative_binomial(r, r / (r + extra_mean), cfg.n)
    return np.minimum(1 + extra, cfg.max_lesions).astype(np.int64)


def _simulate_lesions(rng: np.random.Generator, cfg: _Settings,
                      u: np.ndarray) -> dict[str, Any]:
    counts = _lesion_counts(rng, cfg)
    total = int(counts.sum())
    pidx = np.repeat(np.arange(cfg.n), counts)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    organ = rng.choice(len(ORGANS), size=total, p=ORGAN_P)
    volume = _draw_volumes(rng, organ, VOLUME_MEDIAN_ML, VOLUME_LOG_SD)
    e = rng.normal(0.0, np.sqrt(cfg.heterogeneity), total)
    return {"n": total, "counts": counts, "pidx": pidx, "starts": starts,
            "number": np.arange(total) - starts[pidx] + 1, "organ": organ,
            "volume": volume, "diameter": _diameter_from_volume(rng, volume),
            "e": e, "s": u[pidx] + e}


def _assign_irradiation(rng: np.random.Generator, les: dict[str, Any],
                        largest_probability: float) -> None:
    pidx, volume, counts = les["pidx"], les["volume"], les["counts"]
    largest = _rank_within(pidx, -volume) == 0
    prefer_largest = rng.random(counts.size) < largest_probability
    key = rng.random(les["n"]) + 2.0 * (largest & prefer_largest[pidx])
    n_irr = 1 + ((counts >= 2) & (rng.random(counts.size) < 0.3))
    irradiated = _rank_within(pidx, -key) < n_irr[pidx]
    dose = np.where(irradiated, rng.choice(DOSES_GY, size=les["n"], p=DOSE_P), 0.0)
    les["irradiated"] = irradiated.astype(np.int64)
    les["dose"] = dose


def _assign_targets(les: dict[str, Any]) -> None:
    """RECIST 1.1-like target lesions (see the module docstring)."""
    pidx, organ, diam = les["pidx"], les["organ"], les["diameter"]
    irr = les["irradiated"]
    n_pat = les["counts"].size
    threshold = np.where(organ == ORGANS.index("lymph_node"), 15.0, 10.0)
    measurable = diam >= threshold
    has_other = np.bincount(pidx, weights=measurable & (irr == 0), minlength=n_pat) > 0
    eligible = measurable & ((irr == 0) | ~has_other[pidx])
    organ_rank = _rank_within(pidx * len(ORGANS) + organ, ~eligible, -diam)
    candidate = eligible & (organ_rank < 2)
    target = candidate & (_rank_within(pidx, ~candidate, -diam) < 5)
    none = np.bincount(pidx, weights=target, minlength=n_pat) == 0
    largest = _rank_within(pidx, -diam) == 0
    les["is_target"] = (target | (none[pidx] & largest)).astype(np.int64)


def _lesion_response(rng: np.random.Generator, cfg: _Settings, pat: dict[str, Any],
                     les: dict[str, Any]) -> None:
    pidx, irr = les["pidx"], les["irradiated"]
    abscopal = rng.random(cfg.n) < special.expit(-1.2 - 2.0 * pat["u"])
    c = (RESPONSE["intercept"] + RESPONSE["score"] * les["s"] - RESPONSE["rt"] * irr
         - RESPONSE["abscopal"] * abscopal[pidx] * (1 - irr)
         + RESPONSE["sd"] * rng.standard_normal(les["n"]))
    follow = les["diameter"] * np.exp(c)
    vanished = follow < MIN_DIAMETER_MM
    follow = np.where(vanished, 0.0, follow)
    les.update(change=c, followup=follow, vanished=vanished,
               response=(follow / les["diameter"] - 1.0 <= -0.30).astype(np.int64))
    les["p_rt"], les["p_no_rt"] = _response_probabilities(les["s"], pat["u"][pidx],
                                                          les["diameter"])
    pat["abscopal"] = abscopal


def _response_probabilities(s: np.ndarray, u: np.ndarray,
                            diameter: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True P(response) with and without irradiation given ``s``, ``u`` and the diameter.

    Response is ``c <= max(log 0.7, log(5 / D))`` (shrinkage of 30 % or vanishing under
    5 mm); the no-RT probability averages over the abscopal draw (module docstring).
    """
    k = np.maximum(np.log(0.7), np.log(MIN_DIAMETER_MM / diameter))
    mu = RESPONSE["intercept"] + RESPONSE["score"] * s
    sd = RESPONSE["sd"]
    p_rt = special.ndtr((k - mu + RESPONSE["rt"]) / sd)
    pi = special.expit(-1.2 - 2.0 * u)
    p_no_rt = (pi * special.ndtr((k - mu + RESPONSE["abscopal"]) / sd)
               + (1.0 - pi) * special.ndtr((k - mu) / sd))
    return p_rt, p_no_rt


# --------------------------------------------------------------------------- survival
def _driver(cfg: _Settings, les: dict[str, Any], log_burden: np.ndarray) -> np.ndarray:
    s, starts, counts = les["s"], les["starts"], les["counts"]
    if cfg.driver == "worst":
        return np.maximum.reduceat(s, starts)
    if cfg.driver == "burden":
        return log_burden
    mean = np.add.reduceat(s, starts) / counts
    if cfg.driver == "mean":
        return mean
    var = np.add.reduceat(s * s, starts) / counts - mean * mean
    return np.sqrt(np.maximum(var, 0.0))


def _design(cfg: _Settings, pat: dict[str, Any], les: dict[str, Any]) -> pd.DataFrame:
    log_burden = np.log(np.add.reduceat(les["volume"], les["starts"]))
    driver = _driver(cfg, les, log_burden)
    sd = driver.std()
    driver_z = (driver - driver.mean()) / sd if sd > 0 else np.zeros_like(driver)
    out = pd.DataFrame({"age_c": (pat["age"] - 63.0) / 10.0, "ecog": pat["ecog"],
                        "pdl1_frac": pat["pdl1"] / 100.0, "log_burden": log_burden,
                        "driver": driver, "driver_z": driver_z})
    if cfg.center_log_hazard is not None:
        out["center_log_hazard"] = np.asarray(cfg.center_log_hazard)[pat["center"]]
    return out


def _coefficients(cfg: _Settings) -> pd.Series:
    coef = dict(COEF)
    if cfg.driver == "burden":
        del coef["log_burden"]
    coef["driver_z"] = cfg.driver_effect
    if cfg.center_log_hazard is not None:
        coef["center_log_hazard"] = 1.0
    return pd.Series(coef, name="coef")


def _weibull_scale(lp: np.ndarray, median: float) -> float:
    """λ such that the marginal survival of the population is 0.5 at ``median``."""
    base = median**WEIBULL_SHAPE * np.exp(lp)

    def gap(log_lam: float) -> float:
        return float(np.mean(np.exp(-np.exp(log_lam) * base)) - 0.5)

    lo, hi = -np.log(base.max()) - 10.0, -np.log(base.min()) + 10.0
    return float(np.exp(optimize.brentq(gap, lo, hi, xtol=1e-12)))


def _censored_fraction(grid: np.ndarray, dens: np.ndarray, followup: float,
                       dropout: float) -> float:
    """Expected censored fraction: 1 - ∫ f(t) P(C ≥ t) dt on the grid."""
    admin = np.clip((followup + ACCRUAL_MONTHS - grid) / ACCRUAL_MONTHS, 0.0, 1.0)
    return float(1.0 - np.sum(dens * admin * np.exp(-dropout * grid)))


def _censoring_settings(lp: np.ndarray, lam: float, target: float,
                        median: float) -> tuple[float, float]:
    """(minimum follow-up F, dropout rate) reaching the expected censored ``target``."""
    if target == 0.0:
        return np.inf, 0.0
    edges = median * np.geomspace(1e-4, 1e3, 801)
    surv = np.exp(-lam * np.exp(lp)[None, :] * edges[:, None] ** WEIBULL_SHAPE).mean(1)
    grid = np.sqrt(edges[1:] * edges[:-1])
    dens = surv[:-1] - surv[1:]
    f_max = edges[-1]
    frac = _censored_fraction
    if frac(grid, dens, f_max, DROPOUT_PER_MONTH) > target:
        drop = optimize.brentq(lambda d: frac(grid, dens, f_max, d) - target, 0.0,
                               DROPOUT_PER_MONTH, xtol=1e-12)
        return np.inf, float(drop)
    if frac(grid, dens, 0.0, DROPOUT_PER_MONTH) < target:
        drop = optimize.brentq(lambda d: frac(grid, dens, 0.0, d) - target,
                               DROPOUT_PER_MONTH, 1e4, xtol=1e-12)
        return 0.0, float(drop)
    fu = optimize.brentq(lambda f: frac(grid, dens, f, DROPOUT_PER_MONTH) - target, 0.0,
                         f_max, xtol=1e-9)
    return float(fu), DROPOUT_PER_MONTH


def _survival(rng: np.random.Generator, cfg: _Settings, pat: dict[str, Any],
              les: dict[str, Any]) -> dict[str, Any]:
    design = _design(cfg, pat, les)
    coef = _coefficients(cfg)
    lp = design[coef.index].to_numpy() @ coef.to_numpy()
    lam = _weibull_scale(lp, cfg.median_os)
    hr = np.exp(lp)
    event_time = (rng.exponential(1.0, cfg.n) / (lam * hr)) ** (1.0 / WEIBULL_SHAPE)
    followup, dropout = _censoring_settings(lp, lam, cfg.censoring, cfg.median_os)
    entry = rng.uniform(0.0, ACCRUAL_MONTHS, cfg.n)
    admin = followup + ACCRUAL_MONTHS - entry
    lost = rng.exponential(1.0, cfg.n) / dropout if dropout > 0 else np.full(cfg.n, np.inf)
    censor_time = np.minimum(admin, lost)
    event = event_time <= censor_time
    return {"design": design, "coef": coef, "lp": lp, "lam": lam, "followup": followup,
            "dropout": dropout, "event_time": event_time, "censor_time": censor_time,
            "entry": entry,
            "os_time": np.where(event, event_time, censor_time),
            "os_event": event.astype(np.int64)}


# --------------------------------------------------------------------------- response
def _patient_response(rng: np.random.Generator, pat: dict[str, Any],
                      les: dict[str, Any]) -> None:
    pidx, target = les["pidx"], les["is_target"]
    n = pat["u"].size
    sld0 = np.bincount(pidx, weights=les["diameter"] * target, minlength=n)
    sld1 = np.bincount(pidx, weights=les["followup"] * target, minlength=n)
    change = sld1 / sld0 - 1.0
    has_new = rng.random(n) < special.expit(-2.0 + 1.5 * pat["u"])
    n_new = np.where(has_new, 1 + rng.poisson(0.5, n), 0)
    all_gone = np.bincount(pidx, weights=~les["vanished"], minlength=n) == 0
    pd_ = ((change >= 0.20) & (sld1 - sld0 >= 5.0)) | has_new
    best = np.where(pd_, "PD", np.where(all_gone, "CR", np.where(change <= -0.30, "PR",
                                                                  "SD")))
    pat.update(best_response=best.astype(object), new_lesions=n_new.astype(np.int64),
               objective_response=np.isin(best, ["CR", "PR"]).astype(np.int64))


# --------------------------------------------------------------------------- features
def _feature_spec(cfg: _Settings) -> pd.DataFrame:
    rows = []
    w_sig = np.linspace(0.90, 0.70, cfg.n_sig) if cfg.n_sig > 1 else np.full(cfg.n_sig, 0.9)
    for k in range(cfg.n_sig):
        loc, scale = SIG_PROFILES[k % len(SIG_PROFILES)]
        rows.append((f"rad_sig_{k + 1:02d}", "signal", w_sig[k],
                     SIG_VOLUME_W[k % len(SIG_VOLUME_W)], 0.6 * (-1) ** k, loc, scale))
    for k in range(cfg.n_vol):
        loc, scale = VOL_PROFILES[k % len(VOL_PROFILES)]
        rows.append((f"rad_vol_{k + 1:02d}", "volume", 0.0,
                     VOL_VOLUME_W[k % len(VOL_VOLUME_W)], 0.0, loc, scale))
    for k in range(cfg.n_noise):
        loc, scale = SIG_PROFILES[k % len(SIG_PROFILES)]
        rows.append((f"rad_noise_{k + 1:02d}", "noise", 0.0, 0.0, 0.0, loc, scale))
    cols = ["kind", "w_score", "w_volume", "kappa_change", "loc", "scale"]
    spec = pd.DataFrame(rows, columns=["feature", *cols]).set_index("feature")
    spec["w_noise"] = np.sqrt(1.0 - spec["w_score"] ** 2 - spec["w_volume"] ** 2)
    return spec


def _batch_parameters(rng: np.random.Generator, cfg: _Settings,
                      spec: pd.DataFrame) -> dict[str, np.ndarray]:
    shape = (cfg.n_centers, spec.shape[0])
    b = cfg.batch_effect
    return {"shift": b * rng.standard_normal(shape),
            "scale": np.exp(0.5 * b * rng.standard_normal(shape))}


def _feature_values(spec: pd.DataFrame, batch: dict[str, np.ndarray], center: np.ndarray,
                    s: np.ndarray, log_volume: np.ndarray, change: np.ndarray,
                    eta: np.ndarray) -> np.ndarray:
    lv = (log_volume - np.log(VOLUME_MEDIAN_ML)) / LOGVOL_SD
    z = (np.outer(s, spec["w_score"]) + np.outer(lv, spec["w_volume"])
         + np.outer(change / CHANGE_SCALE, spec["kappa_change"]) + eta * spec["w_noise"].to_numpy())
    z = batch["shift"][center] + batch["scale"][center] * z
    return spec["loc"].to_numpy() + spec["scale"].to_numpy() * z


# -------------------------------------------------------------------------- follow-up
def _followup(rng: np.random.Generator, cfg: _Settings, pat: dict[str, Any],
              les: dict[str, Any], spec: pd.DataFrame) -> dict[str, Any]:
    """Follow-up rows: surviving baseline lesions, then new lesions."""
    keep = ~les["vanished"]
    ratio = np.exp(les["change"][keep])
    n_new = pat["new_lesions"]
    new_pidx = np.repeat(np.arange(cfg.n), n_new)
    new_start = np.r_[0, np.cumsum(n_new)[:-1]]
    new_number = les["counts"][new_pidx] + np.arange(new_pidx.size) - new_start[new_pidx] + 1
    new_organ = rng.choice(len(ORGANS), size=new_pidx.size, p=ORGAN_P)
    new_volume = _draw_volumes(rng, new_organ, 1.5, 0.8)
    new_e = rng.normal(0.0, np.sqrt(cfg.heterogeneity), new_pidx.size)
    eta_old = les["eta"][keep]
    eta_follow = RETEST_RHO * eta_old + np.sqrt(1 - RETEST_RHO**2) * rng.standard_normal(
        eta_old.shape)
    new_eta = rng.standard_normal((new_pidx.size, spec.shape[0]))
    new_diameter = _diameter_from_volume(rng, new_volume)
    return {
        "keep": keep, "pidx_new": new_pidx, "number_new": new_number,
        "organ_new": new_organ, "volume_old": les["volume"][keep] * ratio**3,
        "volume_new": new_volume, "diameter_new": new_diameter,
        "e_new": new_e, "s_new": pat["u"][new_pidx] + new_e,
        "eta_old": eta_follow, "eta_new": new_eta,
    }


# --------------------------------------------------------------------------- assembly
def _ids(cfg: _Settings, les: dict[str, Any], follow: dict[str, Any] | None):
    width = max(3, len(str(cfg.n)))
    pid = np.char.add("P", np.char.zfill(np.arange(1, cfg.n + 1).astype(str), width))
    top = les["number"].max() if follow is None else max(les["number"].max(), np.max(
        follow["number_new"], initial=0))
    lwidth = max(2, len(str(top)))

    def lesion_ids(pidx: np.ndarray, number: np.ndarray) -> np.ndarray:
        if number.size == 0:  # np.char.zfill fails on empty arrays
            return np.empty(0, dtype=object)
        num = np.char.zfill(number.astype(str), lwidth)
        return np.char.add(np.char.add(pid[pidx], "-L"), num).astype(object)

    return pid.astype(object), lesion_ids


def _baseline_table(les: dict[str, Any], pat: dict[str, Any], spec: pd.DataFrame,
                    batch: dict[str, np.ndarray], pid: np.ndarray, lesion_ids) -> tuple:
    pidx = les["pidx"]
    feats = _feature_values(spec, batch, pat["center"][pidx], les["s"],
                            np.log(les["volume"]), np.zeros(les["n"]), les["eta"])
    table = {
        "patient_id": pid[pidx], "lesion_id": lesion_ids(pidx, les["number"]),
        "organ": np.asarray(ORGANS, dtype=object)[les["organ"]],
        "volume_ml": les["volume"], "longest_diameter_mm": les["diameter"],
        "is_target": les["is_target"], "irradiated": les["irradiated"],
        "rt_dose_gy": les["dose"], "diameter_followup_mm": les["followup"],
        "lesion_response": les["response"],
    }
    worst = _rank_within(pidx, -les["s"]) == 0
    truth = {"patient_id": table["patient_id"], "lesion_id": table["lesion_id"],
             "score": les["s"], "lesion_effect": les["e"], "is_worst": worst,
             "log_change": les["change"], "vanished": les["vanished"],
             "new": np.zeros(les["n"], dtype=bool), "p_response_rt": les["p_rt"],
             "p_response_no_rt": les["p_no_rt"]}
    return table, feats, truth, pidx


def _followup_table(les, pat, follow, spec, batch, pid, lesion_ids, base, base_truth):
    keep = follow["keep"]
    old_pidx, new_pidx = les["pidx"][keep], follow["pidx_new"]
    n_old, n_new = old_pidx.size, new_pidx.size
    center = pat["center"]
    old = _feature_values(spec, batch, center[old_pidx], les["s"][keep],
                          np.log(follow["volume_old"]), les["change"][keep], follow["eta_old"])
    new = _feature_values(spec, batch, center[new_pidx], follow["s_new"],
                          np.log(follow["volume_new"]), np.zeros(n_new), follow["eta_new"])
    cat = np.concatenate
    new_ids = lesion_ids(new_pidx, follow["number_new"])
    table = {
        "patient_id": cat([base["patient_id"][keep], pid[new_pidx]]),
        "lesion_id": cat([base["lesion_id"][keep], new_ids]),
        "organ": cat([base["organ"][keep], np.asarray(ORGANS, dtype=object)[
            follow["organ_new"]]]),
        "volume_ml": cat([follow["volume_old"], follow["volume_new"]]),
        "longest_diameter_mm": cat([les["followup"][keep], follow["diameter_new"]]),
        "is_target": cat([les["is_target"][keep], np.zeros(n_new, np.int64)]),
        "irradiated": cat([les["irradiated"][keep], np.zeros(n_new, np.int64)]),
        "rt_dose_gy": cat([les["dose"][keep], np.zeros(n_new)]),
        "diameter_followup_mm": cat([les["followup"][keep], follow["diameter_new"]]),
        "lesion_response": cat([les["response"][keep], np.zeros(n_new, np.int64)]),
    }
    truth = {"patient_id": table["patient_id"], "lesion_id": table["lesion_id"],
             "score": cat([les["s"][keep], follow["s_new"]]),
             "lesion_effect": cat([les["e"][keep], follow["e_new"]]),
             "is_worst": cat([base_truth["is_worst"][keep], np.zeros(n_new, bool)]),
             "log_change": cat([les["change"][keep], np.full(n_new, np.nan)]),
             "vanished": np.zeros(n_old + n_new, dtype=bool),
             "new": cat([np.zeros(n_old, bool), np.ones(n_new, bool)]),
             "p_response_rt": cat([les["p_rt"][keep], np.full(n_new, np.nan)]),
             "p_response_no_rt": cat([les["p_no_rt"][keep], np.full(n_new, np.nan)])}
    return table, np.vstack([old, new]), truth, cat([old_pidx, new_pidx])


def _lesion_tables(pat, les, follow, spec, batch, pid, lesion_ids):
    table, feats, truth, pidx = _baseline_table(les, pat, spec, batch, pid, lesion_ids)
    if follow is None:
        return pd.DataFrame(table), feats, pd.DataFrame(truth)
    table2, feats2, truth2, pidx2 = _followup_table(les, pat, follow, spec, batch, pid,
                                                    lesion_ids, table, truth)
    number = np.concatenate([les["number"], les["number"][follow["keep"]],
                             follow["number_new"]])
    tp = np.r_[np.zeros(les["n"], np.int64), np.ones(pidx2.size, np.int64)]
    order = np.lexsort((number, tp, np.concatenate([pidx, pidx2])))
    out, out_truth = {}, {}
    for key in table:
        out[key] = np.concatenate([table[key], table2[key]])[order]
        if key == "lesion_id":
            out["timepoint"] = tp[order]
    for key in truth:
        out_truth[key] = np.concatenate([truth[key], truth2[key]])[order]
        if key == "lesion_id":
            out_truth["timepoint"] = tp[order]
    return pd.DataFrame(out), np.vstack([feats, feats2])[order], pd.DataFrame(out_truth)


def _assemble(cfg: _Settings, pat: dict[str, Any], les: dict[str, Any],
              follow: dict[str, Any] | None, spec: pd.DataFrame,
              batch: dict[str, np.ndarray]) -> Cohort:
    pid, lesion_ids = _ids(cfg, les, follow)
    lesions, feats, lesion_truth = _lesion_tables(pat, les, follow, spec, batch, pid,
                                                  lesion_ids)
    lesions = pd.concat([lesions, pd.DataFrame(feats, columns=spec.index)], axis=1)
    return _make_cohort(cfg, pat, les, pid, lesions, lesion_truth, spec, batch)


def _make_cohort(cfg: _Settings, pat: dict[str, Any], les: dict[str, Any], pid: np.ndarray,
                 lesions: pd.DataFrame, lesion_truth: pd.DataFrame, spec: pd.DataFrame,
                 batch: dict[str, np.ndarray], *,
                 patient_extra: dict[str, np.ndarray] | None = None,
                 baseline_extra: dict[str, float] | None = None) -> Cohort:
    """The Cohort: patient table, truth tables and endpoints around ``lesions``.

    ``patient_extra`` adds columns to ``truth["patients"]``, ``baseline_extra`` rows to
    ``truth["baseline"]`` (the follow-up scans of :mod:`survrad.data.simulate_scans`).
    """
    index = pd.Index(pid, name="patient_id")
    centers = np.char.add("C", np.arange(1, cfg.n_centers + 1).astype(str)).astype(object)
    patients = pd.DataFrame({
        "age": pat["age"], "ecog": pat["ecog"], "pdl1": pat["pdl1"],
        "center": centers[pat["center"]], "os_time": pat["os_time"],
        "os_event": pat["os_event"], "best_response": pat["best_response"],
        "objective_response": pat["objective_response"]}, index=index)
    patient_truth = _patient_truth(pat, les, index)
    for key, value in (patient_extra or {}).items():
        patient_truth[key] = value
    baseline = _baseline_truth(cfg, pat)
    if baseline_extra:
        extra = pd.DataFrame({"value": pd.Series(baseline_extra, dtype=float)})
        baseline = pd.concat([baseline, extra.rename_axis("parameter")])
    truth = {
        "patients": patient_truth,
        "lesions": lesion_truth,
        "coef": pat["coef"].rename_axis("term").to_frame(),
        "baseline": baseline,
        "features": spec.drop(columns="w_noise").rename_axis("feature"),
        "batch": _batch_truth(batch, spec, centers),
    }
    endpoints = {"os": Endpoint("os", "survival", time="os_time", event="os_event"),
                 "response": Endpoint("response", "binary", target="objective_response")}
    return Cohort(patients=patients, lesions=lesions,
                  patient_features=("age", "ecog", "pdl1"),
                  lesion_features=tuple(spec.index), endpoints=endpoints, truth=truth,
                  source={"patients": "<simulated>", "lesions": "<simulated>"})


def _patient_truth(pat: dict[str, Any], les: dict[str, Any], index: pd.Index) -> pd.DataFrame:
    out = pat["design"].copy()
    out.index = index
    lp = pat["lp"]
    out.insert(0, "u", pat["u"])
    out["lp"] = lp
    out["hazard_ratio"] = np.exp(lp)
    out["median_os"] = (np.log(2.0) / (pat["lam"] * np.exp(lp))) ** (1.0 / WEIBULL_SHAPE)
    out["event_time"] = pat["event_time"]
    out["censor_time"] = pat["censor_time"]
    out["abscopal"] = pat["abscopal"]
    out["new_lesions"] = pat["new_lesions"]
    out["n_lesions"] = les["counts"]
    return out


def _baseline_truth(cfg: _Settings, pat: dict[str, Any]) -> pd.DataFrame:
    values = {"weibull_shape": WEIBULL_SHAPE, "weibull_scale": pat["lam"],
              "median_os_months": cfg.median_os, "accrual_months": ACCRUAL_MONTHS,
              "min_followup_months": pat["followup"], "dropout_per_month": pat["dropout"],
              "censoring_target": cfg.censoring}
    return pd.DataFrame({"value": pd.Series(values, dtype=float)}).rename_axis("parameter")


def _batch_truth(batch: dict[str, np.ndarray], spec: pd.DataFrame,
                 centers: np.ndarray) -> pd.DataFrame:
    n_c, n_f = batch["shift"].shape
    return pd.DataFrame({"center": np.repeat(centers, n_f),
                         "feature": np.tile(spec.index.to_numpy(dtype=object), n_c),
                         "shift": batch["shift"].ravel(), "scale": batch["scale"].ravel()})

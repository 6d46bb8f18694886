r"""A cohort with a known time-varying effect: the hazard changes at a switch time
(layer 2).

:func:`simulate_switch` draws the situation that produces immortal-time bias: an event
during follow-up (a response, a treatment change) that multiplies the hazard from the
moment it happens. The counting-process Cox model on
:func:`~survrad.longitudinal.counting_process_rows` recovers the true log hazard ratio;
a baseline covariate "switched at some point during follow-up" does not, because only
patients who live long enough can switch.

The generative model
--------------------
Patients ``i = 1..n`` (ids ``P001``...; zero-padded to at least 3 digits):

* fixed covariates ``x_ik ~ N(0, 1)``, ``k = 1..n_covariates``, with log hazard ratios
  ``beta_k = 0.3 (-1)^(k+1)`` (0.3, -0.3, 0.3, ...);
* switch time ``S_i ~ Exponential(switch_rate)``;
* hazard ``h_i(t) = baseline_hazard * exp(x_i' beta + gamma 1{t > S_i})`` with
  ``gamma = log(hazard_ratio)``: the event time is ``E_1 ~ Exp(rate_0)`` with
  ``rate_0 = baseline_hazard exp(x_i' beta)`` if ``E_1 <= S_i``, else
  ``S_i + Exp(rate_0 exp(gamma))`` (memorylessness);
* censoring ``C_i ~ Uniform(0, max_follow_up)``; follow-up ``T_i = min(event, C_i)``.

The scan table has a scan at time 0 for everyone (``responded = 0``) and one at
``S_i`` when ``S_i < T_i`` (``responded = 1``): the switch is seen when it happens, and
never after the end of follow-up.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import check_int, check_random_state

__all__ = ["SwitchSimulation", "simulate_switch"]


@dataclasses.dataclass(frozen=True)
class SwitchSimulation:
    """Result of :func:`simulate_switch`.

    Attributes
    ----------
    patients : DataFrame
        Indexed by ``patient_id``: ``os_time``, ``os_event`` (0/1) and the fixed
        covariates ``x1..xk``.
    scans : DataFrame
        ``patient_id, scan_time, responded`` (see the module docstring).
    truth : DataFrame
        Indexed by ``patient_id``: the latent ``switch_time`` (also when after the end
        of follow-up) and the uncensored ``event_time``.
    log_hr : float
        The true log hazard ratio of the switch.
    coef : ndarray
        The true log hazard ratios of ``x1..xk``.
    """

    patients: pd.DataFrame
    scans: pd.DataFrame
    truth: pd.DataFrame
    log_hr: float
    coef: np.ndarray


def _positive(name: str, value: Any) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")
    return float(value)


def simulate_switch(n_patients: int = 300, *, hazard_ratio: float = 2.0,
                    baseline_hazard: float = 1.0, switch_rate: float = 1.0,
                    max_follow_up: float = 3.0, n_covariates: int = 0,
                    random_state: Any = None) -> SwitchSimulation:
    """Draw patients whose hazard is multiplied by ``hazard_ratio`` after a switch time.

    Parameters
    ----------
    n_patients : int, default 300
    hazard_ratio : float, default 2.0
        Hazard ratio after the switch (the time-varying effect).
    baseline_hazard : float, default 1.0
        Constant hazard before the switch (for ``x = 0``).
    switch_rate : float, default 1.0
        Rate of the exponential switch time.
    max_follow_up : float, default 3.0
        Censoring times are uniform on ``(0, max_follow_up)``.
    n_covariates : int, default 0
        Fixed covariates ``x1..xk`` with log hazard ratios 0.3, -0.3, ...
    random_state : None, int or numpy Generator

    Returns
    -------
    SwitchSimulation

    Examples
    --------
    >>> sim = simulate_switch(50, random_state=0)
    >>> sim.patients.shape, round(sim.log_hr, 4)
    ((50, 2), 0.6931)
    >>> bool((sim.scans["scan_time"] <= sim.patients["os_time"].loc[sim.scans["patient_id"]]
    ...       .to_numpy()).all())
    True
    """
    check_int("n_patients", n_patients, min_value=2)
    check_int("n_covariates", n_covariates, min_value=0)
    gamma = math.log(_positive("hazard_ratio", hazard_ratio))
    lam0 = _positive("baseline_hazard", baseline_hazard)
    rate_s = _positive("switch_rate", switch_rate)
    horizon = _positive("max_follow_up", max_follow_up)
    rng = check_random_state(random_state)
    n = int(n_patients)
    coef = 0.3 * (-1.0) ** np.arange(n_covariates)
    x = rng.normal(size=(n, n_covariates))
    rate = lam0 * np.exp(x @ coef)
    switch = rng.exponential(1.0 / rate_s, n)
    first = rng.exponential(1.0 / rate)
    after = switch + rng.exponential(1.0 / (rate * math.exp(gamma)))
    event_time = np.where(first <= switch, first, after)
    censor = rng.uniform(0.0, horizon, n)
    time = np.minimum(event_time, censor)
    ids = pd.Index([f"P{i + 1:0{max(3, len(str(n)))}d}" for i in range(n)], name="patient_id")
    patients = pd.DataFrame({"os_time": time, "os_event": (event_time <= censor).astype(int)},
                            index=ids)
    for k in range(n_covariates):
        patients[f"x{k + 1}"] = x[:, k]
    seen = switch < time
    scans = pd.DataFrame({
        "patient_id": np.r_[ids.to_numpy(dtype=object), ids.to_numpy(dtype=object)[seen]],
        "scan_time": np.r_[np.zeros(n), switch[seen]],
        "responded": np.r_[np.zeros(n, dtype=int), np.ones(int(seen.sum()), dtype=int)],
    }).sort_values(["patient_id", "scan_time"], kind="stable").reset_index(drop=True)
    truth = pd.DataFrame({"switch_time": switch, "event_time": event_time}, index=ids)
    return SwitchSimulation(patients, scans, truth, gamma, coef)

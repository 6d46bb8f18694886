"""Best overall response from timepoint responses (RECIST 1.1 section 4.4, iRECIST;
layer 2; private)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from survrad.longitudinal._assess import TOL

__all__ = ["best_responses"]

_CR = frozenset({"CR"})
_CR_NE = frozenset({"CR", "NE"})
_RESPONSE = frozenset({"CR", "PR"})
_RESPONSE_NE = frozenset({"CR", "PR", "NE"})
_STABLE = frozenset({"CR", "PR", "SD"})


def _confirmed(base: Sequence[str], times: Sequence[float] | None, i: int, end: int,
               confirming: frozenset, between: frozenset, interval: float) -> bool:
    """Is the response at ``i`` confirmed by a later scan ``j < end``?

    ``j`` must be in ``confirming`` and at least ``interval`` after ``i`` (without times:
    the next scan that is not NE); every scan between is in ``between``.
    """
    for j in range(i + 1, end):
        b = base[j]
        if b in confirming and (times is None or times[j] - times[i] >= interval - TOL):
            return True
        if b not in between:
            return False
    return False


def _patient(base: list[str], times: list[float] | None, *, confirm: bool, interval: float,
             min_sd: float, stop: str) -> tuple[str | None, int]:
    """(best response in base labels or None, scan of the first counted response or -1).

    Only the scans up to the first ``stop`` (PD, or iCPD) count.
    """
    end = base.index(stop) + 1 if stop in base else len(base)
    best, first = None, -1
    for i in range(end):
        b = base[i]
        if b not in _RESPONSE:
            continue
        cr = b == "CR" and (not confirm or _confirmed(base, times, i, end, _CR, _CR_NE,
                                                        interval))
        pr = cr or not confirm or _confirmed(base, times, i, end, _RESPONSE, _RESPONSE_NE,
                                             interval)
        if pr and first < 0:
            first = i
        if cr:
            best = "CR"
            break
        if pr:
            best = "PR"
    if best is None and any(
            b in _STABLE and (times is None or times[i] >= min_sd - TOL)
            for i, b in enumerate(base[:end])):
        best = "SD"
    return best, first


def best_responses(labels: np.ndarray, since_baseline: np.ndarray | None,
                   p_first: np.ndarray, p_count: np.ndarray, *, irecist: bool, confirm: bool,
                   interval: float, min_sd: float) -> tuple[list[str], np.ndarray]:
    """Best overall response of every patient and the scan of the first counted response.

    Parameters
    ----------
    labels : ndarray of object
        Timepoint responses of every scan (None at baseline), patients contiguous.
    since_baseline : ndarray or None
        Scan times since the patient's baseline scan.
    p_first, p_count : ndarray
        First scan and number of scans of every patient.
    irecist : bool
        Labels carry the ``i`` prefix; the window ends at iCPD; without a response the
        best response is iCPD, else iUPD if any, else iNE.
    confirm : bool
        CR and PR need a confirming scan ``interval`` later (see :func:`_confirmed`).
    interval, min_sd : float
        Confirmation interval and the minimum time of SD since baseline (time unit).
    """
    out: list[str] = []
    first_response = np.full(p_first.size, -1, dtype=np.intp)
    stop = "CPD" if irecist else "PD"
    prefix = "i" if irecist else ""
    for p, (a, n) in enumerate(zip(p_first.tolist(), p_count.tolist(), strict=True)):
        seq = labels[a + 1:a + n].tolist()
        base = [s[1:] if irecist else s for s in seq]
        times = None if since_baseline is None else since_baseline[a + 1:a + n].tolist()
        best, first = _patient(base, times, confirm=confirm, interval=interval,
                               min_sd=min_sd, stop=stop)
        if first >= 0 and best in ("CR", "PR"):
            first_response[p] = a + 1 + first
        if best is None:
            if stop in base:
                best = stop
            elif irecist and "UPD" in base:
                best = "UPD"
            else:
                best = "NE"
        out.append(prefix + best)
    return out, first_response

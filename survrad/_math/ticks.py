"""Round axis values (layer 0): used by the nomogram's scales and the report's figures."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["nice_ticks"]


def nice_ticks(low: float, high: float, n: int = 6) -> np.ndarray:
    """About ``n`` round tick values (steps 1, 2, 2.5 or 5 times a power of 10) in [low, high].

    Examples
    --------
    >>> nice_ticks(39, 82).tolist()
    [40.0, 50.0, 60.0, 70.0, 80.0]
    """
    if high <= low:
        return np.array([low])
    raw = (high - low) / max(n - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.ceil(low / step - 1e-9) * step
    ticks = np.arange(start, high + step * 1e-9, step)
    return np.round(ticks, 12)

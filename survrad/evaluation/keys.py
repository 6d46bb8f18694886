"""Typed keys of the validation engine: a metric and its horizon are two fields.

A metric evaluated at a horizon (time-dependent AUC at 365 days) is
``MetricKey("td_auc", 365.0)``; one without (Harrell's C) is ``MetricKey("c_index")``.
:attr:`MetricKey.label` (``"td_auc@365"``) is for people only: tables, file names, axis
labels. Nothing in survrad parses it back.
"""

from __future__ import annotations

import dataclasses
import math

__all__ = ["MetricKey"]


@dataclasses.dataclass(frozen=True)
class MetricKey:
    """A metric and, for per-horizon metrics, its horizon.

    Examples
    --------
    >>> MetricKey("td_auc", 365.0).label
    'td_auc@365'
    >>> MetricKey("c_index").label
    'c_index'
    """

    name: str
    horizon: float | None = None

    def __post_init__(self) -> None:
        if self.horizon is not None:
            h = float(self.horizon)
            if not math.isfinite(h) or h <= 0:
                raise ValueError(f"horizon must be a positive number, got {self.horizon!r}.")
            object.__setattr__(self, "horizon", h)

    @property
    def label(self) -> str:
        """How people read it: ``name`` or ``name@horizon``."""
        return self.name if self.horizon is None else f"{self.name}@{self.horizon:g}"

    def __str__(self) -> str:
        return self.label

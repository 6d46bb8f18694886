"""Figures of external validation (layer 6): per-centre forest plot of the C-index.

:class:`CenterForestDisplay` takes computed values (per-centre estimates with intervals,
the pooled random-effects estimate with its confidence and prediction intervals, as in
Debray et al. BMJ 2017;356:i6460, Fig. 3); :meth:`CenterForestDisplay.from_result` reads
them from a :class:`~survrad.evaluation.loco.LOCOResult`. Calibration of the frozen model
on the validation patients is drawn by
:class:`~survrad.reporting.figures_utility.SmoothCalibrationDisplay` from
``ExternalValidationResult.smooth``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from survrad.evaluation.loco import LOCOResult
from survrad.reporting._plotting import DisplayMixin, format_number
from survrad.reporting.style import (
    COLUMN_WIDTH,
    GREY,
    OKABE_ITO,
    SMALL_FONT_SIZE,
    publication_style,
)

__all__ = ["CenterForestDisplay"]


class CenterForestDisplay(DisplayMixin):
    """Per-centre estimates with intervals, the pooled estimate (diamond) and the prediction
    interval for a new centre (line under the diamond).

    Parameters
    ----------
    centers : sequence of str
    estimates, ci_low, ci_high : sequence of float
        Per centre (on the C scale).
    n, events : sequence of int, optional
        Shown beside each centre.
    pooled : tuple (estimate, ci_low, ci_high), optional
    prediction : tuple (low, high), optional
        Prediction interval of the pooled estimate (NaN is not drawn).
    i2, tau2 : float, optional
        Heterogeneity, printed under the pooled row.
    metric : str, default "C-index"
    reference : float or None, default 0.5
        Vertical line (no discrimination).

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    row_labels_ : list of str
    """

    def __init__(self, *, centers: Sequence[str], estimates: Sequence[float],
                 ci_low: Sequence[float], ci_high: Sequence[float],
                 n: Sequence[int] | None = None, events: Sequence[int] | None = None,
                 pooled: tuple[float, float, float] | None = None,
                 prediction: tuple[float, float] | None = None, i2: float | None = None,
                 tau2: float | None = None, metric: str = "C-index",
                 reference: float | None = 0.5) -> None:
        self.centers = centers
        self.estimates = estimates
        self.ci_low = ci_low
        self.ci_high = ci_high
        self.n = n
        self.events = events
        self.pooled = pooled
        self.prediction = prediction
        self.i2 = i2
        self.tau2 = tau2
        self.metric = metric
        self.reference = reference

    @classmethod
    def from_result(cls, result: LOCOResult, **kwargs: Any) -> CenterForestDisplay:
        """Display of a :func:`~survrad.evaluation.loco.leave_one_center_out` result.

        Examples
        --------
        >>> import survrad as sr
        >>> c = sr.simulate_cohort(n_patients=300, n_centers=3, random_state=1)
        >>> res = sr.leave_one_center_out(sr.CohortPipeline(patient_features=["age", "ecog"]),
        ...                               c, "os", n_boot=20, random_state=0)
        >>> disp = CenterForestDisplay.from_result(res).plot()
        >>> disp.row_labels_[-1]
        'Pooled (random effects)'
        """
        if not isinstance(result, LOCOResult):
            raise TypeError(f"result must be a LOCOResult, got {type(result).__name__}; use "
                            "survrad.leave_one_center_out.")
        per = result.per_center(result.meta_metric)
        m = result.meta
        label = "C-index" if result.meta_metric.name == "c_index" else "AUC"
        return cls(centers=per["center"].tolist(), estimates=per["estimate"].to_numpy(),
                   ci_low=per["ci_low"].to_numpy(), ci_high=per["ci_high"].to_numpy(),
                   n=per["n"].tolist(), events=per["events"].tolist(),
                   pooled=None if m is None else (m.estimate_c, m.ci_low_c, m.ci_high_c),
                   prediction=None if m is None else (m.pi_low_c, m.pi_high_c),
                   i2=None if m is None else m.i2, tau2=None if m is None else m.tau2,
                   metric=label, **kwargs)

    def plot(self, ax: Axes | None = None) -> CenterForestDisplay:
        """Draw the forest plot; return ``self``."""
        est = np.asarray(self.estimates, dtype=float)
        lo, hi = np.asarray(self.ci_low, float), np.asarray(self.ci_high, float)
        k = est.size
        rows = k + (2 if self.pooled is not None else 0)
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, 0.9 + 0.22 * rows))
            y = np.arange(k)[::-1] + (2 if self.pooled is not None else 0)
            ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="s", color=OKABE_ITO["blue"],
                        markersize=4, elinewidth=1.0, capsize=0)
            labels = [self._label(i) for i in range(k)]
            ticks = list(y)
            if self.pooled is not None:
                self._diamond(ax)
                labels.append("Pooled (random effects)")
                ticks.append(0)
            if self.reference is not None:
                ax.axvline(self.reference, color=GREY, linewidth=0.8, linestyle=":")
            ax.set_yticks(ticks, labels)
            ax.set_ylim(-0.8 if self.pooled is not None else -0.6, max(ticks) + 0.6)
            ax.set_xlabel(f"{self.metric} (95% interval)")
            ax.set_ylabel("Held-out centre")
            self.row_labels_ = labels
        return self

    def _label(self, i: int) -> str:
        text = str(self.centers[i])
        if self.n is not None:
            text += f" (n={int(self.n[i])}"
            text += f", {int(self.events[i])} events)" if self.events is not None else ")"
        return text

    def _diamond(self, ax: Axes) -> None:
        mu, lo, hi = self.pooled
        ax.fill([lo, mu, hi, mu], [0, 0.3, 0, -0.3], color=OKABE_ITO["vermillion"],
                linewidth=0)
        if self.prediction is not None and np.all(np.isfinite(self.prediction)):
            ax.plot(list(self.prediction), [-0.55, -0.55], color=OKABE_ITO["vermillion"],
                    linewidth=1.0)
        parts = [f"pooled {format_number(mu, 3)} ({format_number(lo, 3)} to "
                 f"{format_number(hi, 3)})"]
        if self.prediction is not None and np.all(np.isfinite(self.prediction)):
            parts.append(f"PI {format_number(self.prediction[0], 3)} to "
                         f"{format_number(self.prediction[1], 3)}")
        if self.i2 is not None:
            parts.append(f"I\u00b2 {self.i2:.0f}%")
        # the pooled estimate on one line, PI and I^2 on the next: a column-width figure
        # cannot hold all three on one line
        lines = [parts[0], "; ".join(parts[1:])] if len(parts) > 1 else parts
        ax.set_title("\n".join(lines), loc="left", fontsize=SMALL_FONT_SIZE, color=GREY)

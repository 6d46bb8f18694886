"""Validation figures: calibration, time-dependent AUC, ROC, bootstrap optimism (layer 6).

Each Display holds computed numbers; its ``plot(ax=None)`` draws them and stores ``ax_``
and ``figure_``. Calling ``plot`` of several displays on one ``ax`` overlays curves (the
reference line is drawn once).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from survrad._validation import check_fraction, finite_array
from survrad.exceptions import SchemaError, SurvradDeprecationWarning
from survrad.reporting._plotting import (
    DisplayMixin,
    ci_percent,
    format_number,
    metric_label,
)
from survrad.reporting.style import (
    COLUMN_WIDTH,
    GREY,
    OKABE_ITO,
    SMALL_FONT_SIZE,
    group_colors,
    publication_style,
)

__all__ = ["CalibrationDisplay", "OptimismDisplay", "ROCDisplay", "TimeDependentAUCDisplay"]

_REFERENCE_GID = "survrad-reference"


def _reference_drawn(ax: Axes) -> bool:
    return any(line.get_gid() == _REFERENCE_GID for line in ax.get_lines())


def _next_color(ax: Axes, gid: str) -> str:
    n = sum(line.get_gid() == gid for line in ax.get_lines())
    return group_colors(n + 1)[n]


def _optional(values: Any, name: str, n: int) -> np.ndarray | None:
    if values is None:
        return None
    arr = finite_array(values, name, allow_nan=True)
    if arr.size != n:
        raise ValueError(f"{name} has {arr.size} values, expected {n}.")
    return arr


# ----------------------------------------------------------------------- calibration
class CalibrationDisplay(DisplayMixin):
    """Predicted survival against observed (Kaplan-Meier) survival per risk group.

    Parameters
    ----------
    predicted, observed : ndarray
        Mean predicted and Kaplan-Meier survival at ``horizon`` per group.
    observed_low, observed_high : ndarray or None
        Confidence limits of ``observed``.
    horizon : float
    slope, intercept : float or None
        Calibration slope (1 = ideal) and intercept (0 = ideal), printed when given.
    n : ndarray of int or None
        Subjects per group.
    time_unit : str
    ci_level : float

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    line_ : Line2D
        The group points.
    """

    def __init__(self, *, predicted: np.ndarray, observed: np.ndarray,
                 observed_low: np.ndarray | None, observed_high: np.ndarray | None,
                 horizon: float, slope: float | None = None, intercept: float | None = None,
                 n: np.ndarray | None = None, time_unit: str = "months",
                 ci_level: float = 0.95) -> None:
        self.predicted = predicted
        self.observed = observed
        self.observed_low = observed_low
        self.observed_high = observed_high
        self.horizon = horizon
        self.slope = slope
        self.intercept = intercept
        self.n = n
        self.time_unit = time_unit
        self.ci_level = ci_level

    @classmethod
    def from_groups(cls, predicted: Any, observed: Any, observed_low: Any = None,
                    observed_high: Any = None, *, horizon: float, slope: float | None = None,
                    intercept: float | None = None, n: Any = None, time_unit: str = "months",
                    ci_level: float = 0.95) -> CalibrationDisplay:
        """Calibration plot from per-group numbers.

        Parameters
        ----------
        predicted : array-like of shape (k,)
            Mean predicted survival at ``horizon`` per risk group.
        observed : array-like of shape (k,)
            Observed (Kaplan-Meier) survival at ``horizon`` per group.
        observed_low, observed_high : array-like of shape (k,), optional
            Confidence limits of ``observed`` (NaN allowed: no bar).
        horizon : float
        slope, intercept : float, optional
        n : array-like of int, optional
            Subjects per group (not drawn; kept for tables).
        time_unit : str, default "months"
        ci_level : float, default 0.95
            Level of the observed intervals (legend text).

        Returns
        -------
        CalibrationDisplay

        Examples
        --------
        >>> disp = CalibrationDisplay.from_groups([0.8, 0.6, 0.3], [0.82, 0.55, 0.35],
        ...                                       [0.7, 0.45, 0.25], [0.9, 0.65, 0.45],
        ...                                       horizon=12, slope=0.95).plot()
        >>> len(disp.line_.get_xdata())
        3
        """
        pred = finite_array(predicted, "predicted")
        obs = finite_array(observed, "observed")
        if pred.size != obs.size:
            raise ValueError(f"predicted has {pred.size} groups but observed {obs.size}.")
        for name, arr in (("predicted", pred), ("observed", obs)):
            if np.any((arr < 0) | (arr > 1)):
                raise ValueError(f"{name} survival must lie in [0, 1], got {arr.tolist()}.")
        return cls(predicted=pred, observed=obs,
                   observed_low=_optional(observed_low, "observed_low", pred.size),
                   observed_high=_optional(observed_high, "observed_high", pred.size),
                   horizon=float(horizon), slope=slope, intercept=intercept,
                   n=None if n is None else np.asarray(n), time_unit=time_unit,
                   ci_level=check_fraction("ci_level", ci_level))

    @classmethod
    def from_calibration(cls, result: Any, *, time_unit: str = "months"
                         ) -> CalibrationDisplay:
        """Calibration plot of a :func:`survrad.evaluation.metrics.calibration` result.

        Parameters
        ----------
        result : SurvivalCalibration
            Has horizon, n, predicted, observed, observed_lower, observed_upper, slope,
            intercept, ci_level.
        time_unit : str, default "months"

        Returns
        -------
        CalibrationDisplay
        """
        needed = ("horizon", "n", "predicted", "observed", "observed_lower",
                  "observed_upper", "slope", "intercept", "ci_level")
        missing = [a for a in needed if not hasattr(result, a)]
        if missing:
            raise TypeError(f"result lacks {missing}; pass the result of "
                            "survrad.evaluation.metrics.calibration.")
        return cls.from_groups(result.predicted, result.observed, result.observed_lower,
                               result.observed_upper, horizon=result.horizon,
                               slope=result.slope, intercept=result.intercept, n=result.n,
                               time_unit=time_unit, ci_level=result.ci_level)

    def stats_text(self) -> str:
        """Slope and intercept as printed on the figure ("" when neither is known)."""
        parts = []
        if self.slope is not None:
            parts.append(f"Slope {format_number(self.slope)}")
        if self.intercept is not None:
            parts.append(f"Intercept {format_number(self.intercept)}")
        return ", ".join(parts)

    def plot(self, ax: Axes | None = None, *, label: str | None = None,
             color: str | None = None, **kwargs: Any) -> CalibrationDisplay:
        """Draw the group points with their intervals and the line of identity.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        label : str, optional
            Legend entry (e.g. the horizon when overlaying several); the slope and
            intercept are added to it. Without a label they are written in a corner.
        color : str, optional
        **kwargs
            Passed to ``Axes.errorbar``.

        Returns
        -------
        self
        """
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, COLUMN_WIDTH))
            color = color or _next_color(ax, "survrad-calibration")
            if not _reference_drawn(ax):
                ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=0.7,
                        gid=_REFERENCE_GID, label="Ideal")
            yerr = None
            if self.observed_low is not None and self.observed_high is not None:
                yerr = np.vstack([self.observed - self.observed_low,
                                  self.observed_high - self.observed])
                yerr = np.where(np.isfinite(yerr), np.maximum(yerr, 0.0), 0.0)
            text = self.stats_text()
            legend_label = label if label is None or not text else f"{label} ({text})"
            default = "Risk groups" + (f" ({ci_percent(self.ci_level)} CI)"
                                       if yerr is not None else "")
            container = ax.errorbar(self.predicted, self.observed, yerr=yerr, fmt="o",
                                    color=color, markersize=4, elinewidth=0.9,
                                    label=legend_label or default, **kwargs)
            self.line_ = container.lines[0]
            self.line_.set_gid("survrad-calibration")
            self._format(ax, label, text)
        return self

    def _format(self, ax: Axes, label: str | None, text: str) -> None:
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        when = f"{self.horizon:g} {self.time_unit}".strip()
        ax.set_xlabel(f"Predicted survival at {when}")
        ax.set_ylabel(f"Observed survival at {when} (Kaplan-Meier)")
        ax.legend(loc="upper left")
        if label is None and text:
            ax.text(0.97, 0.03, text, transform=ax.transAxes, ha="right", va="bottom",
                    fontsize=SMALL_FONT_SIZE)


# ------------------------------------------------------------------ time-dependent AUC
class TimeDependentAUCDisplay(DisplayMixin):
    """Cumulative/dynamic AUC over time with an optional confidence band.

    Parameters
    ----------
    times, auc : ndarray
    ci_low, ci_high : ndarray or None
    label : str or None
    time_unit : str

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    line_ : Line2D
    """

    def __init__(self, *, times: np.ndarray, auc: np.ndarray, ci_low: np.ndarray | None,
                 ci_high: np.ndarray | None, label: str | None = None,
                 time_unit: str = "months") -> None:
        self.times = times
        self.auc = auc
        self.ci_low = ci_low
        self.ci_high = ci_high
        self.label = label
        self.time_unit = time_unit

    @classmethod
    def from_values(cls, times: Any, auc: Any, *, ci_low: Any = None, ci_high: Any = None,
                    label: str | None = None,
                    time_unit: str = "months") -> TimeDependentAUCDisplay:
        """AUC(t) curve from values (e.g. :func:`survrad.evaluation.metrics.time_dependent_auc`).

        Parameters
        ----------
        times : array-like of shape (k,)
            Increasing evaluation times.
        auc : array-like of shape (k,)
        ci_low, ci_high : array-like of shape (k,), optional
            Pointwise interval (e.g. bootstrap percentiles).
        label : str, optional
            Legend entry (model or strategy name).
        time_unit : str, default "months"

        Returns
        -------
        TimeDependentAUCDisplay

        Examples
        --------
        >>> disp = TimeDependentAUCDisplay.from_values([6, 12, 24], [0.71, 0.69, 0.66],
        ...                                            label="Cox").plot()
        >>> disp.line_.get_label()
        'Cox'
        """
        t = finite_array(times, "times")
        a = finite_array(auc, "auc", allow_nan=True)
        if t.size != a.size or t.size == 0:
            raise ValueError(f"times ({t.size}) and auc ({a.size}) must have the same, "
                             "non-zero length.")
        if np.any(np.diff(t) <= 0):
            raise ValueError(f"times must be increasing, got {t.tolist()}.")
        return cls(times=t, auc=a, ci_low=_optional(ci_low, "ci_low", t.size),
                   ci_high=_optional(ci_high, "ci_high", t.size), label=label,
                   time_unit=time_unit)

    def plot(self, ax: Axes | None = None, *, color: str | None = None,
             **kwargs: Any) -> TimeDependentAUCDisplay:
        """Draw AUC(t); call again with the same ``ax`` to overlay another curve.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        color : str, optional
            Default: the next Okabe-Ito colour not yet used on ``ax``.
        **kwargs
            Passed to ``Axes.plot``.

        Returns
        -------
        self
        """
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, 2.6))
            color = color or _next_color(ax, "survrad-td-auc")
            if not _reference_drawn(ax):
                ax.axhline(0.5, color=GREY, linestyle="--", linewidth=0.7, gid=_REFERENCE_GID)
            (self.line_,) = ax.plot(self.times, self.auc, marker="o", markersize=3,
                                    color=color, label=self.label, gid="survrad-td-auc",
                                    **kwargs)
            if self.ci_low is not None and self.ci_high is not None:
                ax.fill_between(self.times, self.ci_low, self.ci_high, color=color,
                                alpha=0.15, linewidth=0)
            self._format(ax)
        return self

    def _format(self, ax: Axes) -> None:
        values = [self.auc, self.ci_low, self.ci_high]
        data = np.concatenate([v for v in values if v is not None])
        data = data[np.isfinite(data)]
        lo = min(0.4, float(data.min()) - 0.05) if data.size else 0.4
        overlay = sum(line.get_gid() == "survrad-td-auc" for line in ax.get_lines()) > 1
        ax.set_ylim(min(lo, ax.get_ylim()[0]) if overlay else lo, 1.0)
        ax.set_xlim(left=0)
        ax.set_xlabel(f"Time ({self.time_unit})" if self.time_unit else "Time")
        ax.set_ylabel("Time-dependent AUC")
        if any(line.get_label() and not line.get_label().startswith("_")
               for line in ax.get_lines()):
            ax.legend(loc="best")


# ------------------------------------------------------------------------------- ROC
class ROCDisplay(DisplayMixin):
    """ROC curve of a binary endpoint (``sklearn.metrics.roc_curve``) with its AUC.

    Parameters
    ----------
    fpr, tpr : ndarray
    auc : float
    label : str or None

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    line_ : Line2D
    """

    def __init__(self, *, fpr: np.ndarray, tpr: np.ndarray, auc: float,
                 label: str | None = None) -> None:
        self.fpr = fpr
        self.tpr = tpr
        self.auc = auc
        self.label = label

    @classmethod
    def from_curve(cls, curve: Any, *, label: str | None = None) -> ROCDisplay:
        """The display of a :class:`survrad.evaluation.results.RocCurve`.

        Examples
        --------
        >>> from survrad.evaluation import roc_curve
        >>> ROCDisplay.from_curve(roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).auc
        0.75
        """
        return cls(fpr=np.asarray(curve.fpr, float), tpr=np.asarray(curve.tpr, float),
                   auc=float(curve.auc), label=label)

    @classmethod
    def from_predictions(cls, y: Any, prob: Any, *, label: str | None = None) -> ROCDisplay:
        """Deprecated: ``from_curve(survrad.evaluation.roc_curve(y, prob))`` (the curve is
        computed in the evaluation layer); removed in survrad 0.3."""
        import warnings

        from survrad.evaluation.groups import roc_curve

        warnings.warn("ROCDisplay.from_predictions is deprecated: use ROCDisplay.from_curve("
                      "survrad.evaluation.roc_curve(y, prob)); removed in survrad 0.3.",
                      SurvradDeprecationWarning, stacklevel=2)
        return cls.from_curve(roc_curve(y, prob), label=label)

    def plot(self, ax: Axes | None = None, *, color: str | None = None,
             **kwargs: Any) -> ROCDisplay:
        """Draw the curve (AUC in the legend) and, once per axes, the chance diagonal.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        color : str, optional
        **kwargs
            Passed to ``Axes.plot``.

        Returns
        -------
        self
        """
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH * 0.9, COLUMN_WIDTH * 0.9))
            color = color or _next_color(ax, "survrad-roc")
            if not _reference_drawn(ax):
                ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=0.7,
                        gid=_REFERENCE_GID)
            auc = f"AUC = {self.auc:.2f}"
            name = f"{self.label} ({auc})" if self.label else auc
            (self.line_,) = ax.plot(self.fpr, self.tpr, color=color, label=name,
                                    drawstyle="default", gid="survrad-roc", **kwargs)
            ax.set_xlim(-0.01, 1.01)
            ax.set_ylim(-0.01, 1.01)
            ax.set_aspect("equal")
            ax.set_xlabel("1 − specificity (false-positive rate)")
            ax.set_ylabel("Sensitivity (true-positive rate)")
            ax.legend(loc="lower right")
        return self


# -------------------------------------------------------------------- optimism
class OptimismDisplay(DisplayMixin):
    """Distribution of the per-replicate bootstrap optimism of a metric.

    Parameters
    ----------
    optimism : ndarray
        ``metric(fit on resample) - metric(fit evaluated on original)`` of every successful
        replicate.
    n_failed : int
        Replicates whose metric could not be computed.
    metric : str

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    patches_ : list of Rectangle
        Histogram bars.
    mean_line_ : Line2D
    """

    def __init__(self, *, optimism: np.ndarray, n_failed: int, metric: str,
                 horizon: float | None = None) -> None:
        self.optimism = optimism
        self.n_failed = n_failed
        self.metric = metric
        self.horizon = horizon

    @classmethod
    def from_values(cls, fit: Any, test: Any, *, metric: str = "c_index",
                    horizon: float | None = None, status_ok: Any = None) -> OptimismDisplay:
        """Optimism histogram from each replicate's metric on its training resample
        (``fit``) and on the original cohort (``test``).

        Parameters
        ----------
        fit, test : array-like of shape (n_replicates,)
            NaN where the metric could not be computed.
        metric : str, default "c_index"
        horizon : float, optional
            The metric's horizon, for per-horizon metrics.
        status_ok : array-like of bool, optional
            False for failed replicates (left out even if values exist).

        Raises
        ------
        SchemaError
            No replicate has both values.

        Examples
        --------
        >>> disp = OptimismDisplay.from_values([0.74, 0.76, np.nan, 0.75],
        ...                                    [0.71, 0.70, np.nan, 0.72])
        >>> disp.n_failed, round(float(disp.optimism.mean()), 3)
        (1, 0.04)
        """
        f = np.asarray(fit, dtype=float)
        t = np.asarray(test, dtype=float)
        if f.shape != t.shape:
            raise ValueError(f"fit has {f.size} values but test has {t.size}.")
        ok = np.isfinite(f) & np.isfinite(t)
        if status_ok is not None:
            ok &= np.asarray(status_ok, dtype=bool)
        if not ok.any():
            raise SchemaError(f"no replicate has a finite {metric}: all {f.size} failed.")
        return cls(optimism=f[ok] - t[ok], n_failed=int((~ok).sum()), metric=metric,
                   horizon=horizon)

    def plot(self, ax: Axes | None = None, *, bins: int | str = "auto",
             color: str | None = None, **kwargs: Any) -> OptimismDisplay:
        """Draw the histogram, its mean and the zero line.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        bins : int or str, default "auto"
            numpy's bin rule (capped at 40 bins).
        color : str, optional
        **kwargs
            Passed to ``Axes.hist``.

        Returns
        -------
        self
        """
        edges = np.histogram_bin_edges(self.optimism, bins=bins)
        if edges.size > 41:
            edges = np.histogram_bin_edges(self.optimism, bins=40)
        mean = float(self.optimism.mean())
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, 2.5))
            _, _, patches = ax.hist(self.optimism, bins=edges, color=color or OKABE_ITO["blue"],
                                    edgecolor="white", linewidth=0.4, **kwargs)
            self.patches_ = list(patches)
            ax.axvline(0.0, color=GREY, linewidth=0.7, linestyle=":")
            self.mean_line_ = ax.axvline(mean, color=OKABE_ITO["vermillion"], linewidth=1.2,
                                         linestyle="--", label=f"Mean {mean:.3f}")
            n_ok = self.optimism.size
            ax.set_title(f"Bootstrap optimism of {metric_label(self.metric, self.horizon)}\n"
                         f"{n_ok} of {n_ok + self.n_failed} replicates used, "
                         f"{self.n_failed} failed",
                         fontweight="normal", fontsize=SMALL_FONT_SIZE + 1)
            ax.set_xlabel("Optimism (resample − original)")
            ax.set_ylabel("Replicates")
            ax.legend(loc="upper right", handles=[self.mean_line_, Line2D(
                [], [], color=GREY, linewidth=0.7, linestyle=":", label="No optimism")])
        return self

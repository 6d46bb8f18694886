"""Clinical-utility figures: decision curves, smooth calibration, nomograms (layer 6).

Each Display holds computed numbers (``from_*`` constructors take the results of
:mod:`survrad.evaluation.decision`, :mod:`~survrad.evaluation.smooth_calibration` and
:mod:`~survrad.evaluation.nomogram`); ``plot(ax=None)`` draws and stores ``ax_`` and
``figure_``. Lines differ by style as well as colour, so the figures print in greyscale;
legends sit outside the plotting area and summary numbers in a corner free of data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from survrad._math.ticks import nice_ticks
from survrad.evaluation.decision import DecisionCurve
from survrad.evaluation.nomogram import Nomogram
from survrad.evaluation.smooth_calibration import SmoothCalibration
from survrad.reporting._plotting import DisplayMixin, format_number, root_figure
from survrad.reporting.style import (
    COLUMN_WIDTH,
    DOUBLE_COLUMN_WIDTH,
    GREY,
    OKABE_ITO,
    SMALL_FONT_SIZE,
    group_colors,
    publication_style,
)

__all__ = ["DecisionCurveDisplay", "NomogramDisplay", "SmoothCalibrationDisplay"]

_TREAT_ALL_GID = "survrad-dca-treat-all"
_TREAT_NONE_GID = "survrad-dca-treat-none"
_DCA_GID = "survrad-dca"
_CAL_GID = "survrad-smooth-calibration"
_IDEAL_GID = "survrad-ideal"
_LINESTYLES = ("-", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))    # models; not -- or :


def _legend_above(ax: Axes, ncol: int) -> None:
    """A legend above the axes (it can never cover data): one row of up to ``ncol``
    entries (two columns when there are more), fewer columns while it is wider than the
    room beside the y labels."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    fig = root_figure(ax)
    ncols = len(handles) if len(handles) <= ncol else 2
    # Fewer columns until the legend fits beside the y-axis labels: it starts at the
    # axes' left edge, and one that sticks out of the figure makes constrained layout
    # shrink the axes to nothing.
    while True:
        legend = ax.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.0, 1.01),
                           ncol=ncols, borderaxespad=0.0, frameon=False)
        if ncols == 1 or legend.get_window_extent().width <= 0.78 * fig.bbox.width:
            return
        ncols -= 1


def _fitted_xlabel(ax: Axes, label: str) -> None:
    """Set the x label, broken before its parenthesis when one line is wider than the
    figure."""
    fig = root_figure(ax)
    text = ax.set_xlabel(label)
    if ("(" in label and text.get_window_extent().width
            > 0.78 * fig.bbox.width):
        head, _, tail = label.partition(" (")
        ax.set_xlabel(f"{head}\n({tail}")


def _outcome_phrase(horizon: float | None, time_unit: str, event: str) -> str:
    if horizon is None:
        return f"of {event}"
    unit = f" {time_unit}" if time_unit else ""
    return f"of {event} by {horizon:g}{unit}"


# -------------------------------------------------------------------- decision curve
class DecisionCurveDisplay(DisplayMixin):
    """Net benefit against threshold probability, with treat-all and treat-none.

    Parameters
    ----------
    thresholds, net_benefit, treat_all : ndarray
    horizon : float or None
    label : str
        Legend entry of the model.
    time_unit, event : str
        For the axis label ("risk of death by 12 months").

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    line_ : Line2D
        The model's curve.
    """

    def __init__(self, *, thresholds: np.ndarray, net_benefit: np.ndarray,
                 treat_all: np.ndarray, horizon: float | None, label: str = "Model",
                 time_unit: str = "months", event: str = "the event") -> None:
        self.thresholds = thresholds
        self.net_benefit = net_benefit
        self.treat_all = treat_all
        self.horizon = horizon
        self.label = label
        self.time_unit = time_unit
        self.event = event

    @classmethod
    def from_curve(cls, curve: DecisionCurve, *, label: str = "Model",
                   time_unit: str = "months", event: str = "the event"
                   ) -> DecisionCurveDisplay:
        """Display of a :func:`~survrad.evaluation.decision.decision_curve` result.

        Examples
        --------
        >>> from survrad.evaluation.decision import decision_curve
        >>> rng = np.random.default_rng(0)
        >>> p = rng.uniform(0, 0.6, 300)
        >>> dc = decision_curve((rng.random(300) < p).astype(int), p, np.arange(0.01, 0.5, 0.01))
        >>> disp = DecisionCurveDisplay.from_curve(dc).plot()
        >>> disp.ax_.get_ylabel()
        'Net benefit'
        """
        if not isinstance(curve, DecisionCurve):
            raise TypeError(f"curve must be a DecisionCurve, got {type(curve).__name__}; use "
                            "survrad.evaluation.decision.decision_curve.")
        return cls(thresholds=curve.thresholds, net_benefit=curve.net_benefit,
                   treat_all=curve.treat_all, horizon=curve.horizon, label=label,
                   time_unit=time_unit, event=event)

    def plot(self, ax: Axes | None = None, *, color: str | None = None,
             **kwargs: Any) -> DecisionCurveDisplay:
        """Draw the model's curve; treat all and treat none once per axes.

        Call again with the same ``ax`` to overlay another model.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        color : str, optional
        **kwargs
            Passed to ``Axes.plot`` for the model's curve.

        Returns
        -------
        self
        """
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, COLUMN_WIDTH * 0.85))
            n_models = sum(line.get_gid() == _DCA_GID for line in ax.get_lines())
            if not any(line.get_gid() == _TREAT_NONE_GID for line in ax.get_lines()):
                ax.plot(self.thresholds, self.treat_all, color=GREY, linewidth=0.9,
                        linestyle="--", gid=_TREAT_ALL_GID, label="Treat all")
                ax.axhline(0.0, color="black", linewidth=0.8, linestyle=":",
                           gid=_TREAT_NONE_GID, label="Treat none")
            (self.line_,) = ax.plot(self.thresholds, self.net_benefit, gid=_DCA_GID,
                                    color=color or group_colors(n_models + 1)[n_models],
                                    linestyle=_LINESTYLES[n_models % len(_LINESTYLES)],
                                    linewidth=1.4, label=self.label, **kwargs)
            self._format(ax)
        return self

    def _format(self, ax: Axes) -> None:
        curves = [line.get_ydata() for line in ax.get_lines() if line.get_gid() == _DCA_GID]
        top = max(float(np.nanmax(np.concatenate(curves))),
                  float(np.nanmax(self.treat_all)), 0.01)
        ax.set_ylim(-0.12 * top, 1.12 * top)
        ax.set_xlim(float(self.thresholds.min()), float(self.thresholds.max()))
        ax.set_ylabel("Net benefit")
        phrase = _outcome_phrase(self.horizon, self.time_unit, self.event)
        _fitted_xlabel(ax, f"Threshold probability (risk {phrase})")
        _legend_above(ax, ncol=3)


# ----------------------------------------------------------------- smooth calibration
def _data_fraction(ax: Axes, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Data points in axes fractions (depends only on the axis limits)."""
    return ax.transLimits.transform(np.column_stack([x, y]))


def _free_corner(ax: Axes, lines: Sequence[str], points: np.ndarray) -> tuple | None:
    """Corner (x, y, ha, va) of ``ax`` where a text of ``lines`` covers no point.

    ``points`` are in axes fractions. The text size is estimated from the font size and
    the figure size (the axes are taken as 70 % of the figure: conservative).
    """
    fig = root_figure(ax)
    pos = ax.get_position()
    w_in = fig.get_size_inches()[0] * min(pos.width, 0.7)
    h_in = fig.get_size_inches()[1] * min(pos.height, 0.7)
    width = max(len(s) for s in lines) * 0.62 * SMALL_FONT_SIZE / 72 / w_in + 0.04
    height = len(lines) * 1.25 * SMALL_FONT_SIZE / 72 / h_in + 0.04
    for x, y, ha, va in ((0.03, 0.97, "left", "top"), (0.97, 0.03, "right", "bottom"),
                         (0.97, 0.97, "right", "top"), (0.03, 0.03, "left", "bottom")):
        x0 = x if ha == "left" else x - width
        y0 = y - height if va == "top" else y
        inside = ((points[:, 0] > x0 - 0.02) & (points[:, 0] < x0 + width + 0.02)
                  & (points[:, 1] > y0 - 0.02) & (points[:, 1] < y0 + height + 0.02))
        if not inside.any():
            return x, y, ha, va
    return None


class SmoothCalibrationDisplay(DisplayMixin):
    """Smooth calibration curve with the ideal diagonal, the distribution of predictions
    and ICI / E50 / E90 in a corner free of data.

    Parameters
    ----------
    grid, grid_observed : ndarray
        The curve (predicted risk, smoothed observed risk).
    predicted : ndarray
        Every patient's predicted risk (histogram or rug).
    ici, e50, e90 : float
    horizon : float or None
    label : str or None
    time_unit, event : str

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`; ``ax_`` holds the curve.
    ax_hist_ : Axes or None
        The histogram panel (when :meth:`plot` made the figure).
    line_ : Line2D
    stats_text_ : Text
    """

    def __init__(self, *, grid: np.ndarray, grid_observed: np.ndarray,
                 predicted: np.ndarray, ici: float, e50: float, e90: float,
                 horizon: float | None, label: str | None = None,
                 time_unit: str = "months", event: str = "the event") -> None:
        self.grid = grid
        self.grid_observed = grid_observed
        self.predicted = predicted
        self.ici = ici
        self.e50 = e50
        self.e90 = e90
        self.horizon = horizon
        self.label = label
        self.time_unit = time_unit
        self.event = event

    @classmethod
    def from_result(cls, result: SmoothCalibration, *, label: str | None = None,
                    time_unit: str = "months", event: str = "the event"
                    ) -> SmoothCalibrationDisplay:
        """Display of a :func:`~survrad.evaluation.smooth_calibration.smooth_calibration`
        result.

        Examples
        --------
        >>> from survrad.evaluation.smooth_calibration import smooth_calibration
        >>> rng = np.random.default_rng(0)
        >>> p = rng.uniform(0.05, 0.9, 500)
        >>> cal = smooth_calibration((rng.random(500) < p).astype(int), p)
        >>> disp = SmoothCalibrationDisplay.from_result(cal).plot()
        >>> disp.stats_text_.get_text().splitlines()[0].startswith("ICI")
        True
        """
        if not isinstance(result, SmoothCalibration):
            raise TypeError(f"result must be a SmoothCalibration, got {type(result).__name__}.")
        return cls(grid=result.grid, grid_observed=result.grid_observed,
                   predicted=result.predicted, ici=result.ici, e50=result.e50,
                   e90=result.e90, horizon=result.horizon, label=label,
                   time_unit=time_unit, event=event)

    def stats_lines(self) -> list[str]:
        """ICI, E50 and E90 as printed on the figure (three decimals).

        Examples
        --------
        >>> SmoothCalibrationDisplay(grid=np.zeros(2), grid_observed=np.zeros(2),
        ...                          predicted=np.zeros(2), ici=0.0123, e50=0.0091,
        ...                          e90=0.0254, horizon=12.0).stats_lines()
        ['ICI 0.012', 'E50 0.009', 'E90 0.025']
        """
        return [f"{name} {format_number(v, 3)}" for name, v in
                (("ICI", self.ici), ("E50", self.e50), ("E90", self.e90))]

    def plot(self, ax: Axes | None = None, *, color: str | None = None,
             **kwargs: Any) -> SmoothCalibrationDisplay:
        """Draw the curve, the diagonal and the predictions' distribution.

        Without ``ax`` a figure with a histogram panel below the curve is made; with an
        ``ax`` the predictions are drawn as a rug along its bottom.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        color : str, optional
        **kwargs
            Passed to ``Axes.plot`` for the curve.

        Returns
        -------
        self
        """
        with publication_style():
            if ax is None:
                fig = Figure(figsize=(COLUMN_WIDTH, COLUMN_WIDTH * 1.2), layout="constrained")
                grid = fig.add_gridspec(2, 1, height_ratios=(4, 1))
                ax = fig.add_subplot(grid[0])
                self.ax_hist_ = fig.add_subplot(grid[1], sharex=ax)
                self._axes(ax, (COLUMN_WIDTH, COLUMN_WIDTH))
            else:
                self._axes(ax, (COLUMN_WIDTH, COLUMN_WIDTH))
                self.ax_hist_ = None
            self._draw(ax, color, kwargs)
        return self

    def _draw(self, ax: Axes, color: str | None, kwargs: dict) -> None:
        top = float(min(1.0, 1.05 * max(np.max(self.grid), np.max(self.grid_observed),
                                        np.max(self.predicted))))
        if not any(line.get_gid() == _IDEAL_GID for line in ax.get_lines()):
            ax.plot([0, 1], [0, 1], color=GREY, linestyle=(0, (4, 2)), linewidth=0.8,
                    gid=_IDEAL_GID, label="Ideal")
        (self.line_,) = ax.plot(self.grid, self.grid_observed, gid=_CAL_GID,
                                color=color or OKABE_ITO["blue"], linewidth=1.4,
                                label=self.label or "Smoothed calibration curve", **kwargs)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        phrase = _outcome_phrase(self.horizon, self.time_unit, self.event)
        ax.set_ylabel(f"Observed risk {phrase} (smoothed)")
        if self.ax_hist_ is not None:
            self.ax_hist_.hist(self.predicted, bins=np.linspace(0, top, 41), color=GREY,
                               edgecolor="white", linewidth=0.3)
            self.ax_hist_.set_ylabel("Patients")
            self.ax_hist_.set_xlabel(f"Predicted risk {phrase}")
            ax.tick_params(labelbottom=False)
        else:
            ax.set_xlabel(f"Predicted risk {phrase}")
            ax.plot(self.predicted, np.full(self.predicted.size, 0.012 * top), linestyle="none",
                    marker="|", markersize=4, markeredgewidth=0.4, color=GREY,
                    gid="survrad-rug")
        _legend_above(ax, ncol=2)
        self._stats(ax, top)

    def _stats(self, ax: Axes, top: float) -> None:
        lines = self.stats_lines()
        pts = [np.column_stack([line.get_xdata(), line.get_ydata()])
               for line in ax.get_lines()]
        data = np.concatenate([*pts, np.column_stack([np.linspace(0, top, 50)] * 2)])
        corner = _free_corner(ax, lines, _data_fraction(ax, data[:, 0], data[:, 1]))
        if corner is None:           # no free corner: above the plot, beside the legend
            self.stats_text_ = ax.set_title("   ".join(lines), loc="right",
                                            fontsize=SMALL_FONT_SIZE, fontweight="normal",
                                            pad=14)
            return
        x, y, ha, va = corner
        self.stats_text_ = ax.text(x, y, "\n".join(lines), transform=ax.transAxes, ha=ha,
                                   va=va, fontsize=SMALL_FONT_SIZE, linespacing=1.25)


# --------------------------------------------------------------------------- nomogram
_ROW_IN = 0.36            # height of one nomogram row, inches
_TICK = 0.14              # tick mark length, row units
_LABEL_GAP = 0.10         # tick label above the axis line, row units


def _label_width(text: str, fig_width: float) -> float:
    """Estimated width of a tick label in axes fractions (axes ~ 80 % of the figure)."""
    return (len(text) * 0.6 * SMALL_FONT_SIZE / 72 + 0.06) / (0.8 * fig_width)


def _thin(xs: np.ndarray, labels: Sequence[str], fig_width: float) -> list[int]:
    """Indices of labels kept so that neighbours do not overlap: both ends, then the
    interior labels from left to right that fit between their kept neighbours."""
    order = [int(i) for i in np.argsort(xs)]
    half = [_label_width(lab, fig_width) / 2 for lab in labels]
    if len(order) < 2:
        return order
    first, last = order[0], order[-1]
    if xs[last] - half[last] < xs[first] + half[first]:
        return [first]
    kept = [first]
    for i in order[1:-1]:
        prev = kept[-1]
        if (xs[i] - half[i] >= xs[prev] + half[prev]
                and xs[i] + half[i] <= xs[last] - half[last]):
            kept.append(i)
    return [*kept, last]


class NomogramDisplay(DisplayMixin):
    """A nomogram: points per predictor, total points and predicted outcome scales.

    Parameters
    ----------
    nomogram : Nomogram
    names : mapping term -> str
        Row labels (default: the term names).
    time_unit : str
    outcome_ticks : sequence of float
        Probabilities marked on the outcome scales.

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    row_labels_ : list of str
        The label of every drawn scale, top to bottom.
    """

    def __init__(self, *, nomogram: Nomogram, names: Mapping[str, str] | None = None,
                 time_unit: str = "months", outcome_ticks: Sequence[float] | None = None
                 ) -> None:
        self.nomogram = nomogram
        self.names = dict(names or {})
        self.time_unit = time_unit
        self.outcome_ticks = outcome_ticks

    @classmethod
    def from_nomogram(cls, nomogram: Nomogram, *, names: Mapping[str, str] | None = None,
                      time_unit: str = "months",
                      outcome_ticks: Sequence[float] | None = None) -> NomogramDisplay:
        """Display of a :func:`~survrad.evaluation.nomogram.nomogram` result.

        Examples
        --------
        >>> import pandas as pd
        >>> from survrad.data.outcome import Surv
        >>> from survrad.evaluation.nomogram import nomogram
        >>> from survrad.models import CoxModel
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame({"age": rng.normal(60, 10, 200), "ecog": rng.integers(0, 3, 200)})
        >>> t = rng.exponential(np.exp(-(0.03 * X["age"] + 0.5 * X["ecog"])))
        >>> model = CoxModel().fit(X, Surv.from_arrays(time=t, event=np.ones(200)))
        >>> disp = NomogramDisplay.from_nomogram(nomogram(model, X, horizons=[0.5])).plot()
        >>> disp.row_labels_[0], disp.row_labels_[-1]
        ('Points', 'Survival at 0.5 months')
        """
        if not isinstance(nomogram, Nomogram):
            raise TypeError(f"nomogram must be a Nomogram, got {type(nomogram).__name__}.")
        return cls(nomogram=nomogram, names=names, time_unit=time_unit,
                   outcome_ticks=outcome_ticks)

    def _rows(self) -> list[tuple[str, np.ndarray, list[str], str]]:
        """(label, x positions in [0, 1], tick labels, kind) of every scale, top first."""
        nom = self.nomogram
        rows = []
        pts = nice_ticks(0.0, nom.max_points, 11)
        rows.append(("Points", pts / nom.max_points, [f"{v:g}" for v in pts], "scale"))
        for axis in nom.axes:
            rows.append((self.names.get(axis.term, axis.term), axis.points / nom.max_points,
                         list(axis.labels), axis.kind))
        total = nice_ticks(0.0, nom.max_total_points, 9)
        rows.append(("Total points", total / nom.max_total_points, [f"{v:g}" for v in total],
                     "scale"))
        ticks = np.asarray(self.outcome_ticks if self.outcome_ticks is not None else
                           (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95))
        outcomes = ([(f"Survival at {h:g} {self.time_unit}".rstrip(), k)
                     for k, h in enumerate(nom.horizons)] if nom.kind == "cox"
                    else [("Predicted probability", 0)])
        for label, k in outcomes:
            at = nom.points_for(ticks, horizon_index=k) / nom.max_total_points
            ok = np.isfinite(at) & (at >= -1e-9) & (at <= 1 + 1e-9)
            rows.append((label, at[ok], [f"{v:g}" for v in ticks[ok]], "outcome"))
        return rows

    def plot(self, ax: Axes | None = None) -> NomogramDisplay:
        """Draw every scale as a labelled horizontal axis.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Its x and y axes are switched off: a nomogram draws its own scales.

        Returns
        -------
        self
        """
        rows = self._rows()
        with publication_style():
            ax = self._axes(ax, (DOUBLE_COLUMN_WIDTH, _ROW_IN * len(rows) + 0.25))
            fig_width = float(self.figure_.get_size_inches()[0])
            # row labels start left of the widest tick label hanging over the left end
            overhang = max([_label_width(lab, fig_width) / 2 - x for _, xs, labels, _ in rows
                            for x, lab in zip(xs, labels, strict=True)] + [0.0])
            self.row_labels_ = []
            for r, (label, xs, labels, kind) in enumerate(rows):
                self._row(ax, -float(r), xs, labels, kind, fig_width)
                ax.text(-0.015 - overhang, -float(r), label, ha="right", va="center",
                        fontsize=SMALL_FONT_SIZE + 0.5)
                self.row_labels_.append(label)
            ax.set_xlim(-0.01, 1.01)
            ax.set_ylim(-len(rows) + 0.5, 0.6)
            ax.set_axis_off()
        return self

    def _row(self, ax: Axes, y: float, xs: np.ndarray, labels: list[str], kind: str,
             fig_width: float) -> None:
        if xs.size == 0:
            return
        ax.plot([xs.min(), xs.max()], [y, y], color="black", linewidth=0.8,
                solid_capstyle="butt")
        for x in xs:
            ax.plot([x, x], [y, y - _TICK], color="black", linewidth=0.6)
        if kind == "categorical":
            self._staggered(ax, y, xs, labels, fig_width)
            return
        for i in _thin(xs, labels, fig_width):
            ax.text(xs[i], y + _LABEL_GAP, labels[i], ha="center", va="bottom",
                    fontsize=SMALL_FONT_SIZE - 0.5)

    @staticmethod
    def _staggered(ax: Axes, y: float, xs: np.ndarray, labels: list[str],
                   fig_width: float) -> None:
        """Level labels above the line, or below it when they would collide."""
        right = {True: -np.inf, False: -np.inf}
        for i in np.argsort(xs):
            half = _label_width(labels[i], fig_width) / 2
            above = xs[i] - half >= right[True] or xs[i] - half < right[False]
            right[above] = xs[i] + half
            ax.text(xs[i], y + _LABEL_GAP if above else y - _TICK - 0.05, labels[i],
                    ha="center", va="bottom" if above else "top",
                    fontsize=SMALL_FONT_SIZE - 0.5)


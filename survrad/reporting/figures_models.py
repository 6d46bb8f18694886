"""Figures of fitted models: scaled Schoenfeld residuals of the PH test (layer 6).

:class:`SchoenfeldDisplay` is R's ``plot(cox.zph(fit))``: for each term, the scaled
Schoenfeld residuals against (transformed) time, a natural-spline smooth that estimates
the time-varying coefficient ``beta(t)`` with its ±2 SE band, and the Cox estimate as
a horizontal reference. Under proportional hazards the smooth is flat at the estimate.
The numbers come from :meth:`survrad.models.CoxModel.ph_test` (a
:class:`~survrad.models.PHTest`); this module only draws them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from survrad.reporting._plotting import DisplayMixin, format_p, restyle_axes, root_figure
from survrad.reporting.style import (
    COLUMN_WIDTH,
    DOUBLE_COLUMN_WIDTH,
    GREY,
    LIGHT_GREY,
    publication_style,
)

__all__ = ["SchoenfeldDisplay"]

_TRANSFORM_LABELS = {
    "km": "Time (Kaplan-Meier scale)",
    "rank": "Time (rank scale)",
    "identity": "Time",
    "log": "Time (log scale)",
}


class SchoenfeldDisplay(DisplayMixin):
    """Scaled Schoenfeld residuals against time, one panel per term (R's ``plot(cox.zph)``).

    Build it with :meth:`from_ph_test` or :meth:`from_model`; the constructor takes
    computed values.

    Parameters
    ----------
    time : array-like (n_events,)
        Event times.
    transformed_time : array-like (n_events,)
        Their transform (the x axis; ticks are labelled in the original time).
    residuals : DataFrame (n_events, n_terms)
        Scaled Schoenfeld residuals, one column per term.
    smooths : dict of str to DataFrame
        Per term: ``transformed_time``, ``fit``, ``lower``, ``upper``.
    coef : Series
        The Cox estimate of each term.
    p_values : Series
        The PH test p-value of each term.
    transform : str
        "km", "rank", "identity" or "log".

    Attributes
    ----------
    figure_ : Figure
    axes_ : list of Axes
        One per term, in the order of ``residuals``' columns.
    ax_ : Axes
        The first panel.
    """

    def __init__(self, *, time: Any, transformed_time: Any, residuals: pd.DataFrame,
                 smooths: dict[str, pd.DataFrame], coef: pd.Series, p_values: pd.Series,
                 transform: str) -> None:
        self.time = time
        self.transformed_time = transformed_time
        self.residuals = residuals
        self.smooths = smooths
        self.coef = coef
        self.p_values = p_values
        self.transform = transform

    @classmethod
    def from_ph_test(cls, result: Any, *, terms: Sequence[str] | None = None, df: int = 4,
                     n_points: int = 40) -> SchoenfeldDisplay:
        """The figure of a :class:`~survrad.models.PHTest`.

        Parameters
        ----------
        result : PHTest
            From :meth:`survrad.models.CoxModel.ph_test`.
        terms : sequence of str, optional
            Terms to draw (default all).
        df, n_points : int
            Degrees of freedom and points of the smooth (R's ``df = 4``, ``nsmo = 40``).

        Returns
        -------
        SchoenfeldDisplay

        Examples
        --------
        >>> import survrad as sr
        >>> lung = sr.load_dataset("lung").dropna(subset=["ph.ecog"])
        >>> X = lung[["age", "sex", "ph.ecog"]]
        >>> y = sr.Surv.from_arrays(time=lung["time"], event=lung["status"] == 2)
        >>> ph = sr.CoxModel().fit(X, y).ph_test(X, y)
        >>> disp = SchoenfeldDisplay.from_ph_test(ph, terms=["sex"]).plot()
        >>> disp.ax_.get_ylabel()
        'β(t) for sex'
        """
        names = result.terms if terms is None else [str(t) for t in terms]
        unknown = [t for t in names if t not in result.terms]
        if unknown or not names:
            raise ValueError(f"terms {unknown or names} are not terms of the model; "
                             f"terms: {result.terms}.")
        smooths = {t: result.smooth(t, df=df, n_points=n_points) for t in names}
        return cls(time=np.asarray(result.time, dtype=float),
                   transformed_time=np.asarray(result.transformed_time, dtype=float),
                   residuals=result.residuals[names], smooths=smooths,
                   coef=result.coef[names], p_values=result.table["p"].loc[names],
                   transform=result.transform)

    @classmethod
    def from_model(cls, model: Any, X: Any, y: Any, *, transform: str = "km",
                   sample_weight: Any = None, **kwargs: Any) -> SchoenfeldDisplay:
        """Run the PH test of a fitted :class:`~survrad.models.CoxModel` on its training
        data and make the figure (``kwargs`` go to :meth:`from_ph_test`)."""
        result = model.ph_test(X, y, sample_weight=sample_weight, transform=transform)
        return cls.from_ph_test(result, **kwargs)

    # --------------------------------------------------------------------- drawing
    def _new_axes(self, n: int) -> list[Axes]:
        ncols = min(3, n)
        nrows = math.ceil(n / ncols)
        width = COLUMN_WIDTH if ncols == 1 else DOUBLE_COLUMN_WIDTH
        fig = Figure(figsize=(width, 0.6 + 2.2 * nrows), layout="constrained")
        grid = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for extra in grid[n:]:
            extra.set_visible(False)
        return list(grid[:n])

    def plot(self, axes: Sequence[Axes] | Axes | None = None, *,
             residuals: bool = True) -> SchoenfeldDisplay:
        """Draw one panel per term.

        Parameters
        ----------
        axes : Axes or sequence of Axes, optional
            One per term; by default a new figure (up to three panels per row).
        residuals : bool, default True
            Draw the residuals (False: the smooth, band and estimate only).

        Returns
        -------
        self
        """
        terms = [str(t) for t in self.residuals.columns]
        with publication_style():
            if axes is None:
                panels = self._new_axes(len(terms))
            else:
                panels = [axes] if isinstance(axes, Axes) else list(axes)
                if len(panels) < len(terms):
                    raise ValueError(f"{len(terms)} terms need {len(terms)} axes, got "
                                     f"{len(panels)}.")
                for ax in panels:
                    restyle_axes(ax)
            for ax, term in zip(panels, terms, strict=False):
                self._panel(ax, term, residuals)
            self.axes_ = panels[:len(terms)]
            self.ax_ = self.axes_[0]
            self.figure_ = root_figure(self.ax_)
            if axes is None:
                self._legend(residuals)
        return self

    def _x(self, values: np.ndarray) -> np.ndarray:
        """Positions on the x axis: the transformed time (time itself for "log")."""
        return np.exp(values) if self.transform == "log" else values

    def _panel(self, ax: Axes, term: str, residuals: bool) -> None:
        s = self.smooths[term]
        grid = self._x(s["transformed_time"].to_numpy(float))
        ax.fill_between(grid, s["lower"], s["upper"], color=LIGHT_GREY, linewidth=0)
        for edge in ("lower", "upper"):
            ax.plot(grid, s[edge], color="black", linestyle=(0, (3, 2)), linewidth=0.7)
        if residuals:
            y = self.residuals[term].to_numpy(float)
            keep = np.isfinite(y)
            ax.plot(self._x(np.asarray(self.transformed_time, float))[keep], y[keep],
                    linestyle="none", marker="o", markersize=2.2, markerfacecolor="none",
                    markeredgecolor=GREY, markeredgewidth=0.5)
        ax.axhline(float(self.coef[term]), color="black", linestyle=(0, (1, 1.5)),
                   linewidth=0.8)
        ax.plot(grid, s["fit"], color="black", linewidth=1.3)
        if self.transform == "log":
            ax.set_xscale("log")
        else:
            self._time_ticks(ax)
        ax.set_xlabel(_TRANSFORM_LABELS.get(self.transform, "Time"))
        ax.set_ylabel(f"β(t) for {term}")
        ax.set_title(f"{term}: PH test p = {format_p(float(self.p_values[term]))}",
                     loc="left")

    def _time_ticks(self, ax: Axes) -> None:
        """Ticks at round times, placed on the transformed axis (R labels it the same way)."""
        t = np.asarray(self.time, dtype=float)
        x = np.asarray(self.transformed_time, dtype=float)
        ax.set_xlim(x.min(), x.max())
        if self.transform == "identity":
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
            return
        order = np.argsort(t, kind="stable")
        ts, xs = t[order], x[order]
        first = np.unique(ts, return_index=True)[1]
        ts, xs = ts[first], xs[first]
        ticks = MaxNLocator(nbins=10, steps=[1, 2, 2.5, 5, 10]).tick_values(ts[0], ts[-1])
        ticks = ticks[(ticks >= ts[0]) & (ticks <= ts[-1])]
        pos = np.interp(ticks, ts, xs)
        span = xs[-1] - xs[0]
        keep: list[int] = []
        for i in range(pos.size):           # drop ticks crowded on the transformed scale
            if not keep or pos[i] - pos[keep[-1]] > 0.12 * span:
                keep.append(i)
        ax.set_xticks(pos[keep], [f"{v:g}" for v in ticks[keep]])

    def _legend(self, residuals: bool) -> None:
        handles = [Line2D([], [], color="black", linewidth=1.3, label="Smooth (β(t))"),
                   Patch(facecolor=LIGHT_GREY, edgecolor="black", linestyle=(0, (3, 2)),
                         linewidth=0.7, label="±2 SE"),
                   Line2D([], [], color="black", linestyle=(0, (1, 1.5)), linewidth=0.8,
                          label="Cox estimate")]
        if residuals:
            handles.insert(0, Line2D([], [], linestyle="none", marker="o", markersize=2.2,
                                     markerfacecolor="none", markeredgecolor=GREY,
                                     label="Scaled Schoenfeld residual"))
        wide = len(self.axes_) > 1
        self.figure_.legend(handles=handles, loc="outside lower center",
                            ncols=len(handles) if wide else 2, frameon=False)

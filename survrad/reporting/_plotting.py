"""Helpers shared by the Display objects: axes creation, input checks, number formatting.

Figures are created with :class:`matplotlib.figure.Figure` directly, not through pyplot:
a report that draws hundreds of figures leaves no pyplot state behind and needs no
``plt.close``. In a notebook, show ``display.figure_`` or pass your own ``ax``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from survrad._validation import close_matches
from survrad.exceptions import SchemaError
from survrad.reporting.style import COLUMN_WIDTH, SMALL_FONT_SIZE

__all__ = ["METRIC_LABELS", "DisplayMixin", "check_columns", "format_estimate_ci", "format_number",
           "format_p", "metric_label"]

METRIC_LABELS = {
    "c_index": "Harrell's C-index",
    "uno_c": "Uno's C-index",
    "td_auc": "time-dependent AUC",
    "auc": "AUC",
    "brier": "Brier score",
    "ibs": "integrated Brier score",
    "calibration_slope": "calibration slope",
}


class DisplayMixin:
    """``ax_`` / ``figure_`` bookkeeping common to every Display."""

    ax_: Axes
    figure_: Figure

    def _axes(self, ax: Axes | None, figsize: tuple[float, float]) -> Axes:
        """Use ``ax`` or create a new constrained-layout figure of ``figsize`` inches."""
        if ax is None:
            fig = Figure(figsize=figsize, layout="constrained")
            ax = fig.add_subplot()
        elif not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}.")
        else:
            restyle_axes(ax)
        self.ax_ = ax
        self.figure_ = root_figure(ax)
        return ax


def restyle_axes(ax: Axes) -> None:
    """Give an Axes made outside :func:`publication_style` the publication fonts and spines.

    Called inside ``publication_style()`` on an ``ax`` passed by the user, so a figure
    does not mix 10 pt tick labels with 7 pt annotations.
    """
    rc = mpl.rcParams
    ax.tick_params(labelsize=rc["xtick.labelsize"], width=rc["xtick.major.width"],
                   length=rc["xtick.major.size"], pad=rc["xtick.major.pad"])
    for label in (ax.xaxis.label, ax.yaxis.label):
        label.set_fontsize(rc["axes.labelsize"])
    ax.title.set_fontsize(rc["axes.titlesize"])
    for side in ("top", "right"):
        ax.spines[side].set_visible(rc[f"axes.spines.{side}"])
    for spine in ax.spines.values():
        spine.set_linewidth(rc["axes.linewidth"])


def root_figure(ax: Axes) -> Figure:
    """The top-level Figure of ``ax`` (also when ``ax`` lives in a SubFigure)."""
    try:
        return ax.get_figure(root=True)            # matplotlib >= 3.10
    except TypeError:
        fig = ax.figure
        while not isinstance(fig, Figure):         # SubFigure -> its parent
            fig = fig._parent
        return fig


def default_figsize(height: float) -> tuple[float, float]:
    """Single-column width and the given height (inches)."""
    return (COLUMN_WIDTH, height)


def check_columns(df: Any, columns: Sequence[str], what: str) -> pd.DataFrame:
    """``df`` as a DataFrame that has ``columns``; SchemaError naming the missing ones."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(df).__name__}.")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        hints = {c: close_matches(c, map(str, df.columns)) for c in missing}
        hint = "; ".join(f"{c!r} -> did you mean {h}?" for c, h in hints.items() if h)
        raise SchemaError(f"{what} lacks columns {missing}; available: {list(df.columns)}."
                          + (f" {hint}" if hint else ""), file=what)
    if len(df) == 0:
        raise SchemaError(f"{what} has no rows: nothing to plot.", file=what)
    return df


def format_number(x: float, digits: int = 2) -> str:
    """Fixed-point text with a true minus sign (no "-0.00"), an en dash for NaN.

    Examples
    --------
    >>> format_number(1.23456), format_number(-0.0001), format_number(-0.5)
    ('1.23', '0.00', '−0.50')
    >>> format_number(float("nan"))
    '–'
    """
    if x is None or not math.isfinite(float(x)):
        return "–"
    text = f"{float(x):.{digits}f}"
    if text.startswith("-"):
        text = text[1:] if float(text) == 0 else "−" + text[1:]
    return text


def format_p(p: float) -> str:
    """A p-value as journals print it (AMA style).

    "<0.001" below 0.001; three decimals below 0.01 and between 0.045 and 0.05 (so that a
    significant p is never rounded up to 0.05); two decimals otherwise.

    Examples
    --------
    >>> [format_p(p) for p in (0.0002, 0.0042, 0.048, 0.231, float("nan"))]
    ['<0.001', '0.004', '0.048', '0.23', '–']
    """
    if p is None or not math.isfinite(float(p)):
        return "–"
    p = float(p)
    if p < 0.001:
        return "<0.001"
    if p < 0.01 or 0.045 <= p < 0.05:
        return f"{p:.3f}"
    return f"{p:.2f}"


def format_estimate_ci(est: float, low: float, high: float, digits: int = 2) -> str:
    """``"1.23 (0.98–1.54)"``; ``"1.23"`` when the interval is missing.

    Examples
    --------
    >>> format_estimate_ci(1.234, 0.98, 1.5)
    '1.23 (0.98–1.50)'
    """
    text = format_number(est, digits)
    if all(v is not None and math.isfinite(float(v)) for v in (low, high)):
        text += f" ({format_number(low, digits)}–{format_number(high, digits)})"
    return text


def metric_label(metric: str, horizon: float | None = None) -> str:
    """Readable name of a metric (``td_auc``, 12 -> ``time-dependent AUC at 12``)."""
    label = METRIC_LABELS.get(metric, metric.replace("_", " "))
    return f"{label} at {horizon:g}" if horizon is not None else label


def ci_percent(level: float) -> str:
    """``0.95`` -> ``"95%"``."""
    return f"{100 * level:g}%"


def small_text_kw() -> dict[str, Any]:
    """Keyword arguments of secondary text (numbers at risk, table columns)."""
    return {"fontsize": SMALL_FONT_SIZE}

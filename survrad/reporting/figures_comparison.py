"""The strategy comparison figure: corrected C with CI per strategy and model (layer 6)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from survrad._validation import check_fraction
from survrad.exceptions import SchemaError
from survrad.reporting._plotting import (
    DisplayMixin,
    check_columns,
    ci_percent,
    metric_label,
    restyle_axes,
    root_figure,
)
from survrad.reporting.style import (
    COLUMN_WIDTH,
    DOUBLE_COLUMN_WIDTH,
    GREY,
    LIGHT_GREY,
    SMALL_FONT_SIZE,
    group_colors,
    publication_style,
)

__all__ = ["StrategyComparisonDisplay"]

_MARKERS = ("o", "s", "D", "^", "v", "P", "X")
_SUMMARY_COLS = ("pipeline", "model", "metric", "apparent", "corrected", "ci_low", "ci_high",
                 "baseline")
_DIFF_COLS = ("pipeline", "difference", "ci_low", "ci_high")
_CHANCE = {"c_index": 0.5, "uno_c": 0.5, "auc": 0.5, "td_auc": 0.5}


def _unique(values: pd.Series) -> list:
    return list(dict.fromkeys(values.tolist()))


def _check_unique(df: pd.DataFrame, what: str) -> None:
    dup = df.duplicated(["pipeline", "model"], keep=False)
    if dup.any():
        pairs = sorted(set(zip(df.loc[dup, "pipeline"], df.loc[dup, "model"], strict=True)))
        raise SchemaError(f"{what} has several rows for the same (pipeline, model): {pairs}.",
                          file=what)


class StrategyComparisonDisplay(DisplayMixin):
    """Optimism-corrected metric with CI per strategy (rows) and model (colour, marker).

    Filled markers with whiskers: corrected estimate and interval; hollow markers: the
    apparent (resubstitution) value. Baseline strategies (clinical only, burden only) sit
    on a grey band with italic labels. An optional second panel shows paired differences
    against a reference strategy, with a zero line.

    Parameters
    ----------
    table : DataFrame
        pipeline, model, apparent, corrected, ci_low, ci_high, baseline (one metric).
    metric : str
    differences : DataFrame or None
        pipeline, model, difference, ci_low, ci_high.
    reference : str or None
        The strategy the differences are taken against.
    ci_level : float
        Level of the intervals (axis labels only).
    estimate : str
        What the corrected value is, for the axis label (``"optimism-corrected"``,
        ``".632+ bootstrap"``, ``"cross-validated"``).

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    diff_ax_ : Axes or None
        The differences panel.
    """

    def __init__(self, *, table: pd.DataFrame, metric: str,
                 differences: pd.DataFrame | None = None,
                 reference: str | None = None, ci_level: float = 0.95,
                 estimate: str = "optimism-corrected") -> None:
        self.table = table
        self.metric = metric
        self.differences = differences
        self.reference = reference
        self.ci_level = ci_level
        self.estimate = estimate

    @classmethod
    def from_summary(cls, df: pd.DataFrame, *, metric: str = "c_index",
                     differences: pd.DataFrame | None = None,
                     reference: str | None = None, ci_level: float = 0.95,
                     estimate: str = "optimism-corrected") -> StrategyComparisonDisplay:
        """Comparison figure from the study results.

        Parameters
        ----------
        df : DataFrame
            Columns pipeline (strategy name), model, metric, apparent, corrected, ci_low,
            ci_high and a boolean ``baseline``; rows of other metrics are ignored. Row
            order gives the order of strategies (top to bottom) and models.
        metric : str, default "c_index"
        differences : DataFrame, optional
            Paired differences against a reference strategy: pipeline, difference, ci_low,
            ci_high, and model (required when ``df`` has several models); e.g.
            ``ComparisonResult.differences()``.
        reference : str, optional
            Name of the reference strategy; default the ``reference`` column of
            ``differences`` when present.
        ci_level : float, default 0.95
            Level of the intervals in ``df`` (axis labels only).
        estimate : str, default "optimism-corrected"
            The validation estimate shown, for the axis label.

        Returns
        -------
        StrategyComparisonDisplay

        Examples
        --------
        >>> df = pd.DataFrame({"pipeline": ["clinical", "burden", "statistics"],
        ...                    "model": "cox", "metric": "c_index",
        ...                    "apparent": [0.64, 0.66, 0.75], "corrected": [0.62, 0.64, 0.69],
        ...                    "ci_low": [0.57, 0.59, 0.64], "ci_high": [0.67, 0.69, 0.74],
        ...                    "baseline": [True, True, False]})
        >>> disp = StrategyComparisonDisplay.from_summary(df).plot()
        >>> [t.get_text() for t in disp.ax_.get_yticklabels()]
        ['clinical', 'burden', 'statistics']
        """
        data = check_columns(df, _SUMMARY_COLS, "df")
        table = data.loc[data["metric"] == metric, list(_SUMMARY_COLS)].reset_index(drop=True)
        if table.empty:
            raise SchemaError(f"df has no rows for metric {metric!r}; metrics present: "
                              f"{_unique(data['metric'])}.", file="df")
        table["baseline"] = table["baseline"].astype(bool)
        _check_unique(table, "df")
        diffs = None
        if differences is not None:
            diffs = cls._check_differences(differences, table, metric)
            if reference is None and "reference" in differences.columns:
                reference = str(_unique(differences["reference"])[0])
        return cls(table=table, metric=metric, differences=diffs, reference=reference,
                   ci_level=check_fraction("ci_level", ci_level), estimate=str(estimate))

    @staticmethod
    def _check_differences(differences: pd.DataFrame, table: pd.DataFrame,
                           metric: str) -> pd.DataFrame:
        d = check_columns(differences, _DIFF_COLS, "differences").copy()
        if "metric" in d.columns:
            d = d[d["metric"] == metric]
            if d.empty:
                raise SchemaError(f"differences has no rows for metric {metric!r}.",
                                  file="differences")
        models = _unique(table["model"])
        if "model" not in d.columns:
            if len(models) > 1:
                raise SchemaError("differences needs a 'model' column because df has "
                                  f"several models {models}.", file="differences")
            d["model"] = models[0]
        _check_unique(d, "differences")
        known = set(zip(table["pipeline"], table["model"], strict=True))
        unknown = [k for k in zip(d["pipeline"], d["model"], strict=True) if k not in known]
        if unknown:
            raise SchemaError(f"differences has (pipeline, model) pairs not in df: {unknown}.",
                              file="differences")
        return d[["pipeline", "model", "difference", "ci_low", "ci_high"]].reset_index(drop=True)

    # -------------------------------------------------------------------- drawing
    def _positions(self) -> tuple[dict, dict, list, list]:
        pipelines = _unique(self.table["pipeline"])
        models = _unique(self.table["model"])
        row = {p: float(len(pipelines) - 1 - i) for i, p in enumerate(pipelines)}
        span = 0.0 if len(models) == 1 else min(0.5, 0.16 * (len(models) - 1))
        dodge = dict(zip(models, np.linspace(span / 2, -span / 2, len(models)), strict=True))
        return row, dodge, pipelines, models

    def plot(self, ax: Axes | None = None, *, diff_ax: Axes | None = None,
             **kwargs: Any) -> StrategyComparisonDisplay:
        """Draw the comparison (and the differences panel when there are differences).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Main panel. When None, a new figure is made (two panels side by side when
            differences are available).
        diff_ax : matplotlib Axes, optional
            Panel for the differences when ``ax`` is given; without it only the main
            panel is drawn.
        **kwargs
            Passed to ``Axes.errorbar`` of the corrected estimates.

        Returns
        -------
        self
        """
        row, dodge, pipelines, models = self._positions()
        height = 0.9 + 0.28 * len(pipelines) * max(1.0, 0.6 * len(models))
        with publication_style():
            if ax is None:
                two = self.differences is not None
                fig = Figure(figsize=(DOUBLE_COLUMN_WIDTH if two else COLUMN_WIDTH, height),
                             layout="constrained")
                axes = fig.subplots(1, 2 if two else 1, sharey=True,
                                    gridspec_kw={"width_ratios": [1.3, 1]} if two else None,
                                    squeeze=False)[0]
                ax, diff_ax = axes[0], (axes[1] if two else None)
            else:
                for given in (ax, diff_ax):
                    if given is not None:
                        restyle_axes(given)
            self.ax_, self.figure_ = ax, root_figure(ax)
            colors = dict(zip(models, group_colors(len(models)), strict=True))
            self._draw_main(ax, row, dodge, colors, pipelines, kwargs)
            self.diff_ax_ = None
            if diff_ax is not None and self.differences is not None:
                self._draw_differences(diff_ax, row, dodge, colors)
                self.diff_ax_ = diff_ax
            self._legend(ax, models, colors)
        return self

    def _draw_main(self, ax: Axes, row: dict, dodge: dict, colors: dict, pipelines: list,
                   kwargs: dict) -> None:
        tab = self.table
        for p in _unique(tab.loc[tab["baseline"], "pipeline"]):
            ax.axhspan(row[p] - 0.5, row[p] + 0.5, color=LIGHT_GREY, linewidth=0, zorder=0)
        for k, (model, sub) in enumerate(tab.groupby("model", sort=False)):
            y = sub["pipeline"].map(row).to_numpy(float) + dodge[model]
            est = sub["corrected"].to_numpy(float)
            err = np.vstack([est - sub["ci_low"].to_numpy(float),
                             sub["ci_high"].to_numpy(float) - est])
            err = np.where(np.isfinite(err), np.maximum(err, 0), 0.0)
            marker = _MARKERS[k % len(_MARKERS)]
            ax.errorbar(est, y, xerr=err, fmt=marker, color=colors[model], markersize=4,
                        elinewidth=1.0, zorder=3, **kwargs)
            ax.plot(sub["apparent"].to_numpy(float), y, linestyle="none", marker=marker,
                    markersize=4, markerfacecolor="white", markeredgecolor=colors[model],
                    markeredgewidth=0.9, zorder=4)
        chance = _CHANCE.get(self.metric)
        if chance is not None:
            ax.axvline(chance, color=GREY, linestyle="--", linewidth=0.6, zorder=1)
        ax.set_yticks([row[p] for p in pipelines], [str(p) for p in pipelines])
        base = set(tab.loc[tab["baseline"], "pipeline"])
        for tick, p in zip(ax.get_yticklabels(), pipelines, strict=True):
            if p in base:
                tick.set_fontstyle("italic")
                tick.set_color("#404040")
        ax.tick_params(axis="y", length=0)
        ax.set_ylim(-0.5, len(pipelines) - 0.5)
        ax.set_ylabel("Strategy")
        name = metric_label(self.metric)
        ax.set_xlabel(f"{name[0].upper()}{name[1:]} ({self.estimate}, "
                      f"{ci_percent(self.ci_level)} CI)")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
        ax.grid(axis="x", color=LIGHT_GREY, linewidth=0.5)
        ax.set_axisbelow(True)

    def _draw_differences(self, ax: Axes, row: dict, dodge: dict, colors: dict) -> None:
        d = self.differences
        models = list(colors)
        for model, sub in d.groupby("model", sort=False):
            y = sub["pipeline"].map(row).to_numpy(float) + dodge[model]
            est = sub["difference"].to_numpy(float)
            err = np.vstack([est - sub["ci_low"].to_numpy(float),
                             sub["ci_high"].to_numpy(float) - est])
            err = np.where(np.isfinite(err), np.maximum(err, 0), 0.0)
            ax.errorbar(est, y, xerr=err, fmt=_MARKERS[models.index(model) % len(_MARKERS)],
                        color=colors[model], markersize=4, elinewidth=1.0, zorder=3)
        ax.axvline(0.0, color="black", linewidth=0.7, zorder=1)
        if self.reference is not None and self.reference in row:
            # in the empty row of the reference, clear of the zero line
            xmin, xmax = ax.get_xlim()
            right = xmax > -xmin                      # the wider side of the zero line
            x = xmax - 0.03 * (xmax - xmin) if right else xmin + 0.03 * (xmax - xmin)
            ax.text(x, row[self.reference], "reference", ha="right" if right else "left",
                    va="center", fontsize=SMALL_FONT_SIZE, style="italic", color=GREY,
                    gid="survrad-reference-label")
        base = set(self.table.loc[self.table["baseline"], "pipeline"])
        for p in base:
            ax.axhspan(row[p] - 0.5, row[p] + 0.5, color=LIGHT_GREY, linewidth=0, zorder=0)
        ref = f" vs {self.reference}" if self.reference else ""
        ax.set_xlabel(f"Difference{ref} (paired, {ci_percent(self.ci_level)} CI)")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.tick_params(axis="y", length=0, labelleft=False)
        ax.grid(axis="x", color=LIGHT_GREY, linewidth=0.5)
        ax.set_axisbelow(True)

    def _legend(self, ax: Axes, models: list, colors: dict) -> None:
        handles = [Line2D([], [], linestyle="none", marker=_MARKERS[k % len(_MARKERS)],
                          color=colors[m], markersize=4, label=str(m))
                   for k, m in enumerate(models)]
        handles += [
            Line2D([], [], color="black", marker="o", markersize=4, linewidth=1.0,
                   label=f"Corrected ({ci_percent(self.ci_level)} CI)"),
            Line2D([], [], linestyle="none", marker="o", markersize=4,
                   markerfacecolor="white", markeredgecolor="black", label="Apparent"),
        ]
        if self.table["baseline"].any():
            handles.append(Patch(facecolor=LIGHT_GREY, edgecolor="none", label="Baseline"))
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.01),
                  ncols=min(len(handles), 3), borderaxespad=0.0)

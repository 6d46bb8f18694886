"""Kaplan-Meier curves by predicted risk group, with numbers at risk (layer 6).

:class:`KaplanMeierDisplay` follows scikit-learn's Display pattern: the ``from_...``
classmethod computes (Kaplan-Meier curves, log-rank test, hazard ratios of each group
against the lowest-risk group from a Cox model on group indicators), ``plot`` draws.
:func:`risk_groups_from_training` makes the groups from cut-points chosen on TRAINING
risk scores only, so the test data never tune them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

from survrad._validation import check_fraction
from survrad.evaluation.results import KaplanMeier, LogRankResult
from survrad.exceptions import SurvradDeprecationWarning
from survrad.reporting._plotting import (
    DisplayMixin,
    check_columns,
    ci_percent,
    format_estimate_ci,
    format_p,
)
from survrad.reporting.style import (
    COLUMN_WIDTH,
    GREY,
    SMALL_FONT_SIZE,
    publication_style,
    risk_colors,
    risk_linestyles,
)

__all__ = ["ForestPlotDisplay", "KaplanMeierDisplay", "risk_groups_from_training"]

_DEFAULT_LABELS = {2: ("Low", "High"), 3: ("Low", "Intermediate", "High")}
_ROW_PT = 9.5          # height of one numbers-at-risk row, points
_TABLE_TOP_PT = 30.0   # distance from the axes bottom to the table header, points


# ----------------------------------------------------------------------- risk groups
def risk_groups_from_training(train_risk: Any, test_risk: Any, n_groups: int = 3, *,
                              labels: Sequence[str] | None = None) -> pd.Categorical:
    """Deprecated: use :func:`survrad.evaluation.risk_groups_from_training` (computation
    lives in the evaluation layer); removed in survrad 0.3."""
    import warnings

    from survrad.evaluation.groups import risk_groups_from_training as compute

    warnings.warn("survrad.reporting.risk_groups_from_training moved to "
                  "survrad.evaluation.risk_groups_from_training; the reporting alias is "
                  "removed in survrad 0.3.", SurvradDeprecationWarning, stacklevel=2)
    return compute(train_risk, test_risk, n_groups, labels=labels)


def _default_times(tmax: float) -> np.ndarray:
    ticks = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(0.0, tmax)
    return ticks[(ticks >= 0) & (ticks <= tmax * (1 + 1e-9))]


class KaplanMeierDisplay(DisplayMixin):
    """Kaplan-Meier curves per group with numbers at risk, log-rank p and hazard ratio.

    Build it with :meth:`from_risk_groups`; the constructor takes computed results.

    Parameters
    ----------
    curves : mapping of str to KaplanMeier
        One curve per group, in plotting order (lowest risk first).
    at_risk : DataFrame
        Numbers at risk: one row per group (same order), one column per time.
    logrank : LogRankResult or None
        None for a single group.
    hazard_ratios : DataFrame or None
        group, reference, hr, hr_ci_low, hr_ci_high, p, estimable: every group against
        the first one.
    hr_note : str
        Why ``hazard_ratios`` is None when the Cox model could not be fitted.
    time_unit : str
    ci_level : float

    Attributes
    ----------
    ax_, figure_ : matplotlib Axes and Figure
        Set by :meth:`plot`.
    lines_ : dict of str to Line2D
        The survival step line of each group.
    stats_artist_ : Annotation or None
        The log-rank / hazard-ratio text (None when not drawn).
    """

    def __init__(self, *, curves: Mapping[str, KaplanMeier], at_risk: pd.DataFrame,
                 logrank: LogRankResult | None = None,
                 hazard_ratios: pd.DataFrame | None = None, hr_note: str = "",
                 time_unit: str = "months", ci_level: float = 0.95) -> None:
        self.curves = dict(curves)
        self.at_risk = at_risk
        self.logrank = logrank
        self.hazard_ratios = hazard_ratios
        self.hr_note = hr_note
        self.time_unit = time_unit
        self.ci_level = ci_level

    @classmethod
    def from_result(cls, result: Any, *, time_unit: str = "months") -> KaplanMeierDisplay:
        """The display of a :class:`survrad.evaluation.results.RiskGroupSurvival`.

        Examples
        --------
        >>> from survrad.evaluation import risk_group_survival
        >>> rng = np.random.default_rng(0)
        >>> grp = np.repeat(["Low", "High"], 50)
        >>> t = rng.exponential(np.where(grp == "High", 5.0, 15.0))
        >>> res = risk_group_survival(t, np.ones(100), grp, group_order=["Low", "High"])
        >>> disp = KaplanMeierDisplay.from_result(res).plot()
        >>> sorted(disp.lines_)
        ['High', 'Low']
        """
        return cls(curves=dict(zip(result.groups, result.curves, strict=True)),
                   at_risk=result.at_risk, logrank=result.logrank,
                   hazard_ratios=result.hazard_ratios, hr_note=result.note,
                   time_unit=time_unit, ci_level=result.ci_level)

    @classmethod
    def from_risk_groups(cls, time: Any, event: Any, group: Any, *,
                         group_order: Sequence[Any] | None = None, time_unit: str = "months",
                         at_risk_times: Any = None,
                         ci_level: float = 0.95) -> KaplanMeierDisplay:
        """Deprecated: ``from_result(survrad.evaluation.risk_group_survival(...))``
        (the survival estimation lives in the evaluation layer); removed in survrad 0.3."""
        import warnings

        from survrad.evaluation.groups import risk_group_survival

        warnings.warn("KaplanMeierDisplay.from_risk_groups is deprecated: use "
                      "KaplanMeierDisplay.from_result(survrad.evaluation."
                      "risk_group_survival(time, event, group)); removed in survrad 0.3.",
                      SurvradDeprecationWarning, stacklevel=2)
        if at_risk_times is None:
            at_risk_times = _default_times(float(np.max(np.asarray(time, dtype=float))))
        result = risk_group_survival(time, event, group, group_order=group_order,
                                     at_risk_times=at_risk_times, ci_level=ci_level)
        return cls.from_result(result, time_unit=time_unit)

    # -------------------------------------------------------------------- drawing
    def stats_text(self) -> str:
        """The log-rank p and last-vs-first hazard ratio, as printed on the figure."""
        if self.logrank is None:
            return ""
        lines = [f"Log-rank p = {format_p(self.logrank.p)}"
                 if self.logrank.p >= 0.001 else "Log-rank p < 0.001"]
        hr = self.hazard_ratios
        names = list(self.curves)
        if hr is None:
            lines.append(f"HR {names[-1]} vs {names[0]}: not estimable")
        else:
            row = hr.iloc[-1]
            value = (format_estimate_ci(row["hr"], row["hr_ci_low"], row["hr_ci_high"])
                     if row["estimable"] else "not estimable")
            lines.append(f"HR {row['group']} vs {row['reference']}: {value}")
        return "\n".join(lines)

    def plot(self, ax: Axes | None = None, *, ci: bool = True, censor_marks: bool = True,
             show_stats: bool = True, colors: Sequence[str] | None = None,
             legend_loc: str = "best", **kwargs: Any) -> KaplanMeierDisplay:
        """Draw the curves, the numbers-at-risk table and the statistics.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Drawn into a new single-column figure when None. The numbers-at-risk table
            sits below ``ax``, aligned with its x ticks.
        ci : bool, default True
            Pointwise confidence bands.
        censor_marks : bool, default True
            Vertical ticks at censoring times.
        show_stats : bool, default True
            Log-rank p and hazard ratio above the plot (``stats_artist_``), where they
            never hide a curve.
        colors : sequence of str, optional
            One colour per group (default :func:`~survrad.reporting.style.risk_colors`:
            blue for the lowest risk to vermillion for the highest, with solid, dashed,
            dash-dot... lines so the order survives greyscale printing).
        legend_loc : str, default "best"
            Legend position (matplotlib's ``loc``); "best" avoids the curves.
        **kwargs
            Passed to ``Axes.step`` for every curve.

        Returns
        -------
        self
        """
        n = len(self.curves)
        colors = list(colors) if colors is not None else risk_colors(n)
        styles = risk_linestyles(n)
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, 2.5 + 0.14 * (n + 1) + 0.45))
            self.lines_ = {}
            for (label, km), color, style in zip(self.curves.items(), colors, styles,
                                                 strict=False):
                self.lines_[label] = self._draw_curve(
                    ax, label, km, color, ci, censor_marks, {"linestyle": style, **kwargs})
            self._format_axes(ax)
            ax.legend(loc=legend_loc)
            self.stats_artist_ = None
            if show_stats and self.logrank is not None:
                self.stats_artist_ = ax.annotate(
                    self.stats_text(), xy=(0.0, 1.0), xycoords="axes fraction",
                    xytext=(0.0, 6.0), textcoords="offset points", ha="left", va="bottom",
                    fontsize=SMALL_FONT_SIZE, linespacing=1.3)
            self._draw_at_risk(ax, colors)
        return self

    def _draw_curve(self, ax: Axes, label: str, km: KaplanMeier, color: str, ci: bool,
                    censor_marks: bool, kwargs: dict) -> Line2D:
        x = np.concatenate([[0.0], km.time])
        y = np.concatenate([[1.0], km.survival])
        n = int(km.n_risk[0])
        (line,) = ax.step(x, y, where="post", color=color, label=f"{label} (n = {n})",
                          **kwargs)
        if ci:
            ax.fill_between(x, np.concatenate([[1.0], km.lower]),
                            np.concatenate([[1.0], km.upper]), step="post", color=color,
                            alpha=0.15, linewidth=0)
        if censor_marks:
            c = km.n_censor > 0
            ax.plot(km.time[c], km.survival[c], linestyle="none", marker="|", markersize=3.5,
                    markeredgewidth=0.7, color=color)
        return line

    def _format_axes(self, ax: Axes) -> None:
        times = self.at_risk.columns.to_numpy(dtype=float)
        tmax = max(float(max(km.time[-1] for km in self.curves.values())), float(times[-1]))
        ax.set_xlim(0.0, tmax * 1.02)
        ax.set_xticks(times)
        ax.set_ylim(0.0, 1.03)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_xlabel(f"Time ({self.time_unit})" if self.time_unit else "Time")
        ax.set_ylabel("Survival probability")

    def _draw_at_risk(self, ax: Axes, colors: Sequence[str]) -> None:
        fig = self.figure_
        times = self.at_risk.columns.to_numpy(dtype=float)

        def row_transform(row: int, x_data: bool) -> Any:
            base = (blended_transform_factory(ax.transData, ax.transAxes) if x_data
                    else ax.transAxes)
            dx = 0.0 if x_data else -12.0 / 72
            return base + ScaledTranslation(dx, -(_TABLE_TOP_PT + _ROW_PT * row) / 72,
                                            fig.dpi_scale_trans)

        ax.text(0.0, 0.0, "Number at risk", transform=row_transform(0, False),
                ha="right", va="top", fontsize=SMALL_FONT_SIZE, fontweight="bold")
        for i, (label, counts) in enumerate(self.at_risk.iterrows(), start=1):
            ax.text(0.0, 0.0, str(label), transform=row_transform(i, False), ha="right",
                    va="top", fontsize=SMALL_FONT_SIZE, color=colors[(i - 1) % len(colors)])
            for t, count in zip(times, counts.to_numpy(), strict=True):
                ax.text(t, 0.0, str(int(count)), transform=row_transform(i, True),
                        ha="center", va="top", fontsize=SMALL_FONT_SIZE)


# ------------------------------------------------------------------------ forest plot
_ESTIMATE_NAMES = {"hr": ("HR", "Hazard ratio"), "or": ("OR", "Odds ratio")}
_LOG_TICKS = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500])
_MID_TICKS = np.array([0.125, 0.25, 0.5, 1, 2, 4, 8, 16])
_FINE_TICKS = np.array([0.25, 0.33, 0.5, 0.75, 1, 1.5, 2, 3, 4])


def _log_ticks(lo: float, hi: float) -> np.ndarray:
    """Readable ticks on a log axis: finer steps when the range is narrow."""
    for cand in (_LOG_TICKS, _MID_TICKS, _FINE_TICKS)[::-1]:
        ticks = cand[(cand >= lo) & (cand <= hi)]
        if 3 <= ticks.size <= 7:
            return ticks
    coarse = _LOG_TICKS
    return coarse[(coarse >= lo) & (coarse <= hi)]


class ForestPlotDisplay(DisplayMixin):
    """Forest plot of hazard (or odds) ratios with confidence intervals on a log axis.

    Rows keep the order of the summary, top to bottom. A non-estimable row (``estimable``
    False, or a missing/non-positive estimate) is written "not estimable" and gets no point.

    Parameters
    ----------
    table : DataFrame
        label, estimate, low, high, p, estimable (one row per term).
    estimate_label : str
        "HR", "OR", ... (column header).
    axis_label : str
    ci_level : float

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    """

    def __init__(self, *, table: pd.DataFrame, estimate_label: str = "HR",
                 axis_label: str = "Hazard ratio", ci_level: float = 0.95) -> None:
        self.table = table
        self.estimate_label = estimate_label
        self.axis_label = axis_label
        self.ci_level = ci_level

    @classmethod
    def from_summary(cls, summary_df: pd.DataFrame, *, label_col: str = "term",
                     estimate: str = "hr", low: str = "hr_ci_low", high: str = "hr_ci_high",
                     p: str | None = "p", estimable: str = "estimable",
                     ci_level: float = 0.95) -> ForestPlotDisplay:
        """Forest plot of a model summary (``CoxModel().summary()`` or a coefficients CSV).

        Parameters
        ----------
        summary_df : DataFrame
            One row per term.
        label_col, estimate, low, high : str
            Columns of the row label, the ratio and its interval limits.
        p : str or None, default "p"
            Column of p-values; None to omit the p column.
        estimable : str, default "estimable"
            Boolean column; used when present (missing column: estimable = finite estimate).
        ci_level : float, default 0.95
            Level of the intervals in the table (for the header only).

        Returns
        -------
        ForestPlotDisplay

        Examples
        --------
        >>> df = pd.DataFrame({"term": ["age", "ecog"], "hr": [1.02, np.nan],
        ...                    "hr_ci_low": [1.0, np.nan], "hr_ci_high": [1.05, np.nan],
        ...                    "p": [0.04, np.nan], "estimable": [True, False]})
        >>> disp = ForestPlotDisplay.from_summary(df).plot()
        >>> disp.table["estimable"].tolist()
        [True, False]
        """
        cols = [label_col, estimate, low, high] + ([p] if p is not None else [])
        df = check_columns(summary_df, cols, "summary_df")
        est = pd.to_numeric(df[estimate], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(est) & (est > 0)
        if estimable in df.columns:
            ok &= df[estimable].fillna(False).to_numpy(dtype=bool)
        table = pd.DataFrame({
            "label": df[label_col].astype(str).to_numpy(),
            "estimate": np.where(ok, est, np.nan),
            "low": np.where(ok, pd.to_numeric(df[low], errors="coerce"), np.nan),
            "high": np.where(ok, pd.to_numeric(df[high], errors="coerce"), np.nan),
            "p": (np.where(ok, pd.to_numeric(df[p], errors="coerce"), np.nan)
                  if p is not None else np.nan),
            "estimable": ok,
        })
        short, long = _ESTIMATE_NAMES.get(estimate.lower(), (estimate, estimate))
        return cls(table=table, estimate_label=short, axis_label=long,
                   ci_level=check_fraction("ci_level", ci_level))

    def plot(self, ax: Axes | None = None, *, color: str = "black",
             **kwargs: Any) -> ForestPlotDisplay:
        """Draw the forest plot.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            The text columns are drawn to the right of ``ax``.
        color : str, default "black"
        **kwargs
            Passed to ``Axes.errorbar``.

        Returns
        -------
        self
        """
        tab = self.table
        n = len(tab)
        y = np.arange(n)[::-1].astype(float)
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, 0.75 + 0.2 * n))
            ok = tab["estimable"].to_numpy(dtype=bool)
            est = tab["estimate"].to_numpy(dtype=float)
            err = np.vstack([est - tab["low"].to_numpy(float), tab["high"].to_numpy(float) - est])
            err = np.where(np.isfinite(err), err, 0.0)
            if ok.any():
                self.errorbar_ = ax.errorbar(est[ok], y[ok], xerr=err[:, ok], fmt="s",
                                             color=color, markersize=3.5, elinewidth=0.9,
                                             **kwargs)
            ax.axvline(1.0, color=GREY, linestyle="--", linewidth=0.6, zorder=0)
            self._format_axes(ax, y)
            self._draw_columns(ax, y)
        return self

    def _format_axes(self, ax: Axes, y: np.ndarray) -> None:
        tab = self.table
        values = tab[["estimate", "low", "high"]].to_numpy(float).ravel()
        values = values[np.isfinite(values) & (values > 0)]
        lo = min(values.min(), 1.0) if values.size else 0.5
        hi = max(values.max(), 1.0) if values.size else 2.0
        lo, hi = lo / 1.25, hi * 1.25
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_locator(FixedLocator(_log_ticks(lo, hi)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_yticks(y, tab["label"].tolist())
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.set_ylim(-0.6, len(tab) - 0.4)
        ax.set_xlabel(f"{self.axis_label} (log scale)")
        ax.set_ylabel("Predictor")

    def _draw_columns(self, ax: Axes, y: np.ndarray) -> None:
        tab = self.table
        ci_head = f"{self.estimate_label} ({ci_percent(self.ci_level)} CI)"
        texts = [format_estimate_ci(r.estimate, r.low, r.high) if r.estimable
                 else "not estimable" for r in tab.itertuples()]
        width = max(len(s) for s in [*texts, ci_head]) * SMALL_FONT_SIZE * 0.58 + 8
        columns = [(6.0, ci_head, texts)]
        if tab["p"].notna().any() or not tab["estimable"].any():
            p_texts = [format_p(v) if ok else "" for v, ok in zip(tab["p"], tab["estimable"],
                                                                  strict=True)]
            columns.append((6.0 + width, "p", p_texts))
        fig = self.figure_
        for dx, head, values in columns:
            shift = ScaledTranslation(dx / 72, 0, fig.dpi_scale_trans)
            ax.text(1.0, 1.0, head, transform=ax.transAxes + shift, ha="left", va="bottom",
                    fontsize=SMALL_FONT_SIZE, fontweight="bold")
            row_tf = blended_transform_factory(ax.transAxes, ax.transData) + shift
            for yi, text in zip(y, values, strict=True):
                ax.text(1.0, yi, text, transform=row_tf, ha="left", va="center",
                        fontsize=SMALL_FONT_SIZE,
                        style="italic" if text == "not estimable" else "normal")

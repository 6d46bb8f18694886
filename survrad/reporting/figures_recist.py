"""RECIST figures: the spider plot and the best-response waterfall of a RecistResult.

* :class:`RecistSpiderDisplay`: percent change of the sum of target diameters from
  baseline at every scan, one line per patient, coloured by best overall response, with
  the +20 % and -30 % lines; a cross marks the progression scan (PD, or the iUPD that
  iCPD confirmed).
* :class:`BestResponseWaterfallDisplay`: per patient, the largest decrease (smallest
  percent change) of the target sum from baseline up to progression, sorted, bars coloured
  by best overall response.

Both take computed values (``from_result`` reads a
:class:`~survrad.longitudinal.RecistResult`); drawing never recomputes a response.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from survrad.longitudinal.recist import IRECIST_LABELS, RECIST_LABELS, RecistResult
from survrad.reporting._plotting import DisplayMixin
from survrad.reporting.style import (
    COLUMN_WIDTH,
    GREY,
    OKABE_ITO,
    SMALL_FONT_SIZE,
    publication_style,
)

__all__ = ["BestResponseWaterfallDisplay", "RecistSpiderDisplay"]

#: Colour of each best overall response (Okabe-Ito; iRECIST labels share their colour).
RESPONSE_COLORS = {"CR": OKABE_ITO["bluish_green"], "PR": OKABE_ITO["blue"],
                   "SD": OKABE_ITO["orange"], "UPD": OKABE_ITO["reddish_purple"],
                   "PD": OKABE_ITO["vermillion"], "CPD": OKABE_ITO["vermillion"], "NE": GREY}


def _color(label: str) -> str:
    return RESPONSE_COLORS[label[1:] if label.startswith("i") else label]


def _order(criteria: str) -> tuple[str, ...]:
    return IRECIST_LABELS if criteria == "irecist" else RECIST_LABELS


def _reference_lines(ax: Axes) -> None:
    ax.axhline(0.0, color="black", linewidth=0.5)
    for level, text in ((20.0, "+20%"), (-30.0, "−30%")):
        ax.axhline(level, color="black", linestyle="--", linewidth=0.6)
        ax.text(1.0, level, f" {text}", transform=ax.get_yaxis_transform(), ha="left",
                va="center", fontsize=SMALL_FONT_SIZE)


def _legend(ax: Axes, best: pd.Series, criteria: str, marker: bool = False) -> None:
    counts = best.value_counts()
    handles: list[Any] = [Patch(color=_color(lab), label=f"{lab} (n = {counts[lab]})")
                          for lab in _order(criteria) if lab in counts.index]
    if marker:
        handles.append(Line2D([], [], linestyle="none", marker="x", color="black",
                              markersize=4, label="progression"))
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0),
              borderaxespad=0.2, ncol=min(len(handles), 3), title="Best overall response",
              alignment="left")


class RecistSpiderDisplay(DisplayMixin):
    """Spider plot of the target-sum change from baseline, one line per patient.

    Parameters
    ----------
    curves : DataFrame
        ``patient_id``, ``x`` (time since baseline, or the timepoint) and ``pct`` (change
        from baseline, %), one row per scan with a complete sum, baseline included.
    best : Series
        Best overall response indexed by patient id.
    progression : DataFrame
        ``patient_id``, ``x``, ``pct`` of the progression scans drawn as crosses.
    x_label : str
    criteria : str

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    lines_ : dict
        Patient id -> the Line2D drawn.
    """

    def __init__(self, *, curves: pd.DataFrame, best: pd.Series, progression: pd.DataFrame,
                 x_label: str, criteria: str) -> None:
        self.curves = curves
        self.best = best
        self.progression = progression
        self.x_label = x_label
        self.criteria = criteria

    @classmethod
    def from_result(cls, result: RecistResult) -> RecistSpiderDisplay:
        """The curves of every patient of ``result``.

        Scans whose sum is not evaluable (NE) leave a gap: the line joins the scans
        around them. The x axis is the time since the baseline scan when the scans are
        timed, else the timepoint.

        Examples
        --------
        >>> import pandas as pd
        >>> from survrad.longitudinal import recist
        >>> les = pd.DataFrame({"patient_id": "P1", "lesion_id": "L1", "organ": "liver",
        ...                     "timepoint": [0, 1, 2],
        ...                     "longest_diameter_mm": [40.0, 20.0, 30.0]})
        >>> RecistSpiderDisplay.from_result(recist(les)).curves["pct"].tolist()
        [0.0, -50.0, -25.0]
        """
        tab = result.by_timepoint
        if result.has_times:
            first = tab.groupby("patient_id", sort=False)["scan_time"].transform("first")
            x = tab["scan_time"] - first
            unit = result.time_unit or "time unit"
            label = f"Time since baseline scan ({unit})"
        else:
            x, label = tab["timepoint"].astype(float), "Timepoint"
        frame = pd.DataFrame({"patient_id": tab["patient_id"], "x": x.to_numpy(float),
                              "pct": tab["pct_from_baseline"].to_numpy(float)})
        ok = np.isfinite(frame["pct"].to_numpy())
        best = result.best_response.set_index("patient_id")["best_response"]
        prog = result.best_response["progression_timepoint"]
        key = pd.MultiIndex.from_arrays([tab["patient_id"], tab["timepoint"].astype(float)])
        at = key.isin(pd.MultiIndex.from_arrays([result.best_response["patient_id"],
                                                 prog.astype(float)]))
        return cls(curves=frame[ok].reset_index(drop=True), best=best,
                   progression=frame[at & ok].reset_index(drop=True), x_label=label,
                   criteria=result.criteria)

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> RecistSpiderDisplay:
        """Draw the lines, progression crosses, reference lines and the legend.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        **kwargs
            Passed to ``Axes.plot`` for every line.

        Returns
        -------
        self
        """
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, 2.7))
            self.lines_ = {}
            for pid, group in self.curves.groupby("patient_id", sort=False):
                (line,) = ax.plot(group["x"], group["pct"], color=_color(self.best[pid]),
                                  linewidth=0.8, alpha=0.8, **kwargs)
                self.lines_[pid] = line
            if len(self.progression):
                ax.scatter(self.progression["x"], self.progression["pct"], marker="x",
                           color="black", s=12, linewidths=0.7, zorder=3)
            _reference_lines(ax)
            ax.set_xlabel(self.x_label)
            ax.set_ylabel("Change in sum of diameters (%)")
            _legend(ax, self.best, self.criteria, marker=len(self.progression) > 0)
        return self


class BestResponseWaterfallDisplay(DisplayMixin):
    """Waterfall of each patient's best (smallest) target-sum change from baseline.

    Parameters
    ----------
    change : DataFrame
        Indexed by patient id: ``pct`` (best change, %) and ``best_response``, sorted by
        decreasing ``pct``.
    n_excluded : int
        Patients without an evaluable follow-up sum (not drawn; stated in the label).
    criteria : str

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    bars_ : BarContainer
    """

    def __init__(self, *, change: pd.DataFrame, n_excluded: int, criteria: str) -> None:
        self.change = change
        self.n_excluded = n_excluded
        self.criteria = criteria

    @classmethod
    def from_result(cls, result: RecistResult) -> BestResponseWaterfallDisplay:
        """Best change of every patient, over the scans up to the first progression
        (PD or iCPD, included), as the best overall response counts them.

        Examples
        --------
        >>> import pandas as pd
        >>> from survrad.longitudinal import recist
        >>> les = pd.DataFrame({"patient_id": ["P1"] * 3 + ["P2"] * 3, "lesion_id": "L1",
        ...                     "organ": "liver", "timepoint": [0, 1, 2] * 2,
        ...                     "longest_diameter_mm": [40.0, 20, 30, 20, 22, 30]})
        >>> BestResponseWaterfallDisplay.from_result(recist(les)).change["pct"].tolist()
        [10.0, -50.0]
        """
        tab = result.by_timepoint
        stop = "iCPD" if result.criteria == "irecist" else "PD"
        hit = (tab["response"] == stop).astype(int)
        before = hit.groupby(tab["patient_id"], sort=False).cumsum() - hit   # stops after
        use = (tab["timepoint"] != tab.groupby("patient_id")["timepoint"].transform("first")
               ) & (before == 0)
        pct = tab.loc[use].groupby("patient_id")["pct_from_baseline"].min()
        best = result.best_response.set_index("patient_id")["best_response"]
        pct = pct.reindex(best.index)
        has = pct.notna()
        change = pd.DataFrame({"pct": pct[has], "best_response": best[has]})
        change = change.sort_values("pct", ascending=False, kind="mergesort")
        return cls(change=change, n_excluded=int((~has).sum()), criteria=result.criteria)

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> BestResponseWaterfallDisplay:
        """Draw the bars, the +20 % / -30 % lines and the legend.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        **kwargs
            Passed to ``Axes.bar``.

        Returns
        -------
        self
        """
        ch = self.change
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, 2.7))
            x = np.arange(len(ch), dtype=float)
            colors = [_color(lab) for lab in ch["best_response"]]
            self.bars_ = ax.bar(x, ch["pct"].to_numpy(float), width=0.9, color=colors,
                                linewidth=0, **kwargs)
            _reference_lines(ax)
            ax.set_xlim(-0.6, max(float(len(ch)) - 0.4, 0.6))
            low = float(ch["pct"].min()) if len(ch) else 0.0
            high = float(ch["pct"].max()) if len(ch) else 0.0
            ax.set_ylim(min(-100.0, low - 5.0), max(50.0, high * 1.05))
            ax.set_xticks([])
            ax.spines["bottom"].set_visible(False)
            note = (f"\n{self.n_excluded} without an evaluable follow-up sum not shown"
                    if self.n_excluded else "")
            ax.set_xlabel(f"Patients (n = {len(ch)}), sorted by best change{note}")
            ax.set_ylabel("Best change in sum of diameters (%)")
            _legend(ax, ch["best_response"], self.criteria)
        return self

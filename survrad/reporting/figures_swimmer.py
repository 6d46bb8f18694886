"""Swimmer plot of scan responses: one lane per patient (layer 6).

:class:`ResponseSwimmerDisplay` draws every patient's follow-up as a lane from time 0 to
death or censoring, each scan as a dot coloured by its timepoint response (RECIST 1.1
or iRECIST, the colours of :mod:`survrad.reporting.figures_recist`), a cross at the
progression scan, and a filled square (death) or a bar (censored) at the end.
``from_result`` reads a :class:`~survrad.longitudinal.RecistResult` and the follow-up
table; it never recomputes a response.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from survrad._validation import check_int
from survrad.longitudinal.recist import RecistResult
from survrad.reporting._plotting import DisplayMixin
from survrad.reporting.figures_recist import _color, _order
from survrad.reporting.style import COLUMN_WIDTH, GREY, publication_style

__all__ = ["ResponseSwimmerDisplay"]

_LANE_IN = 0.09       # height of one lane, inches
_BASE_IN = 1.4        # axes labels and legend, inches


class ResponseSwimmerDisplay(DisplayMixin):
    """Swimmer plot: follow-up lanes with the scans coloured by response.

    Parameters
    ----------
    lanes : DataFrame
        Indexed by patient id, lane 0 at the bottom: ``lane``, ``end`` (end of
        follow-up) and ``event`` (1 death, 0 censored, NaN unknown: the lane ends at the
        last scan without a mark).
    scans : DataFrame
        ``lane``, ``time``, ``response`` (None at baseline).
    progression : DataFrame
        ``lane``, ``time`` of the progression scans (PD, or the iUPD iCPD confirmed).
    criteria : str
    time_label : str
    n_patients : int
        Patients in the result (``len(lanes)`` of them are drawn).

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    """

    def __init__(self, *, lanes: pd.DataFrame, scans: pd.DataFrame,
                 progression: pd.DataFrame, criteria: str, time_label: str,
                 n_patients: int) -> None:
        self.lanes = lanes
        self.scans = scans
        self.progression = progression
        self.criteria = criteria
        self.time_label = time_label
        self.n_patients = n_patients

    @classmethod
    def from_result(cls, result: RecistResult, follow_up: pd.DataFrame | None = None, *,
                    max_patients: int = 40) -> ResponseSwimmerDisplay:
        """Lanes of the patients of a timed RecistResult.

        Parameters
        ----------
        result : RecistResult
            With scan times (``result.has_times``).
        follow_up : DataFrame, optional
            ``patient_id, time, event`` (end of follow-up on the scans' scale, 1 =
            death). Without it (or for a patient without a time) the lane ends at the
            last scan.
        max_patients : int, default 40
            At most this many lanes: with more patients, every k-th patient in order of
            follow-up is drawn (stated in the axis label).

        Examples
        --------
        >>> import pandas as pd
        >>> from survrad.longitudinal import recist
        >>> les = pd.DataFrame({"patient_id": "P1", "lesion_id": "L1", "organ": "liver",
        ...                     "timepoint": [0, 1, 2], "scan_time": [0.0, 2.0, 4.0],
        ...                     "longest_diameter_mm": [40.0, 20.0, 30.0]})
        >>> res = recist(les, time_unit="months")
        >>> fu = pd.DataFrame({"patient_id": ["P1"], "time": [7.0], "event": [1]})
        >>> d = ResponseSwimmerDisplay.from_result(res, fu)
        >>> d.lanes[["end", "event"]].values.tolist(), d.progression["time"].tolist()
        ([[7.0, 1.0]], [4.0])
        """
        check_int("max_patients", max_patients, min_value=1)
        if not result.has_times:
            raise ValueError("a swimmer plot needs timed scans (scan_date or scan_time).")
        tab = result.by_timepoint
        last = tab.groupby("patient_id", sort=False)["scan_time"].max()
        end = last.astype(float)
        event = pd.Series(np.nan, index=last.index)
        if follow_up is not None:
            fu = follow_up.set_index(follow_up["patient_id"].astype(str))
            t = fu["time"].reindex(end.index.astype(str)).to_numpy(float)
            e = fu["event"].reindex(end.index.astype(str)).to_numpy(float)
            known = np.isfinite(t)
            end = pd.Series(np.where(known, np.maximum(t, end.to_numpy()), end.to_numpy()),
                            index=end.index)
            event = pd.Series(np.where(known, e, np.nan), index=end.index)
        order = end.sort_values(kind="stable").index
        n = len(order)
        keep = order[np.unique(np.linspace(0, n - 1, min(n, max_patients)).round()
                               .astype(int))]
        lanes = pd.DataFrame({"lane": np.arange(len(keep)), "end": end[keep].to_numpy(),
                              "event": event[keep].to_numpy()}, index=keep)
        shown = tab[tab["patient_id"].isin(keep)]
        lane_of = lanes["lane"].reindex(shown["patient_id"]).to_numpy()
        scans = pd.DataFrame({"lane": lane_of, "time": shown["scan_time"].to_numpy(float),
                              "response": shown["response"].to_numpy(object)})
        prog = result.best_response.set_index("patient_id")["progression_timepoint"]
        at = shown["timepoint"].astype(float).to_numpy() == prog.reindex(
            shown["patient_id"]).to_numpy(float)
        progression = scans.loc[at, ["lane", "time"]].reset_index(drop=True)
        unit = result.time_unit or "time unit"
        return cls(lanes=lanes, scans=scans.reset_index(drop=True), progression=progression,
                   criteria=result.criteria,
                   time_label=f"Time since baseline scan ({unit})", n_patients=n)

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> ResponseSwimmerDisplay:
        """Draw the lanes, the scans, progression, death and censoring marks, a legend.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        **kwargs
            Passed to ``Axes.hlines`` (the lanes).

        Returns
        -------
        self
        """
        lanes, scans = self.lanes, self.scans
        n_lanes = len(lanes)
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, _BASE_IN + _LANE_IN * n_lanes))
            start = min(0.0, float(scans["time"].min())) if len(scans) else 0.0
            ax.hlines(lanes["lane"], start, lanes["end"], color=GREY, linewidth=2.2,
                      alpha=0.5, **kwargs)
            base = scans["response"].isna()
            ax.plot(scans.loc[base, "time"], scans.loc[base, "lane"], "o", color="white",
                    markeredgecolor="black", markeredgewidth=0.4, markersize=2.8,
                    linestyle="none")
            labels = [lab for lab in _order(self.criteria)
                      if (scans["response"] == lab).any()]
            for lab in labels:
                s = scans[scans["response"] == lab]
                ax.plot(s["time"], s["lane"], "o", color=_color(lab), markersize=2.8,
                        linestyle="none")
            ax.plot(self.progression["time"], self.progression["lane"], "x", color="black",
                    markersize=4, markeredgewidth=0.7, linestyle="none")
            died = lanes["event"].to_numpy() == 1
            censored = lanes["event"].to_numpy() == 0
            ax.plot(lanes["end"][died], lanes["lane"][died], "s", color="black",
                    markersize=2.6, linestyle="none")
            ax.plot(lanes["end"][censored], lanes["lane"][censored], "|", color="black",
                    markersize=4, linestyle="none")
            ax.set_ylim(-0.7, n_lanes - 0.3)
            ax.set_yticks([])
            ax.spines["left"].set_visible(False)
            shown = ("" if n_lanes == self.n_patients
                     else f"; {n_lanes} of {self.n_patients} shown, spread over follow-up")
            ax.set_ylabel(f"Patients{shown}")
            ax.set_xlabel(self.time_label)
            dot = {"marker": "o", "linestyle": "none", "markersize": 3}
            handles = [Line2D([], [], color="white", markeredgecolor="black",
                              label="baseline", **dot)]
            handles += [Line2D([], [], color=_color(lab), label=lab, **dot) for lab in labels]
            handles += [Line2D([], [], marker="x", color="black", linestyle="none",
                               markersize=4, label="progression"),
                        Line2D([], [], marker="s", color="black", linestyle="none",
                               markersize=2.6, label="death"),
                        Line2D([], [], marker="|", color="black", linestyle="none",
                               markersize=4, label="censored")]
            ax.legend(handles=handles, title="Scan response", loc="lower left",
                      bbox_to_anchor=(0.0, 1.0), ncols=5, borderaxespad=0.2,
                      alignment="left")
        return self

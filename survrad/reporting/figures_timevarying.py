"""Swimmer plot of counting-process (start, stop] rows (layer 6).

:class:`SwimmerDisplay` shows what a time-varying Cox model sees: one lane per patient
from the start to the end of follow-up, coloured by a 0/1 time-varying state (e.g.
responded yet, from :func:`survrad.longitudinal.counting_process_rows`), with a mark
for an event or censoring at the end. ``from_rows`` computes the lanes (consecutive rows
in the same state merged), ``plot`` draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from survrad._validation import check_int
from survrad.data.outcome import Surv, check_event
from survrad.reporting._plotting import DisplayMixin, check_columns
from survrad.reporting.style import COLUMN_WIDTH, GREY, OKABE_ITO, publication_style

__all__ = ["SwimmerDisplay"]

_LANE_IN = 0.09       # height of one lane, inches
_BASE_IN = 1.2        # axes labels and legend, inches


class SwimmerDisplay(DisplayMixin):
    """Swimmer plot: follow-up lanes coloured by a time-varying 0/1 state.

    Parameters
    ----------
    segments : DataFrame
        ``lane, start, stop, state``: maximal runs of one patient's rows in one state.
    ends : DataFrame
        Indexed by patient id, in lane order (lane 0 at the bottom): ``lane``, ``end``
        (end of follow-up), ``event`` (0/1).
    state_label : str
        Legend title of the state (e.g. "Responded").
    n_patients : int
        Patients in the rows (``len(ends)`` of them are drawn).

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    """

    def __init__(self, *, segments: pd.DataFrame, ends: pd.DataFrame, state_label: str,
                 n_patients: int) -> None:
        self.segments = segments
        self.ends = ends
        self.state_label = state_label
        self.n_patients = n_patients

    @classmethod
    def from_rows(cls, rows: pd.DataFrame, *, state_col: str, id_col: str = "patient_id",
                  max_patients: int = 40, state_label: str | None = None) -> SwimmerDisplay:
        """Lanes from (start, stop] rows.

        Parameters
        ----------
        rows : DataFrame
            Columns ``id_col, start, stop, event`` and ``state_col`` (0/1), one row per
            interval (the layout of :func:`survrad.longitudinal.counting_process_rows`).
        state_col : str
        id_col : str, default "patient_id"
        max_patients : int, default 40
            At most this many lanes: with more patients, every k-th patient in order of
            follow-up is drawn (evenly spread over the range; stated in the axis label).
        state_label : str, optional
            Legend title (default ``state_col``).

        Returns
        -------
        SwimmerDisplay

        Examples
        --------
        >>> rows = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "start": [0.0, 2.0, 0.0],
        ...                      "stop": [2.0, 5.0, 3.0], "event": [0, 1, 0],
        ...                      "responded": [0, 1, 0]})
        >>> d = SwimmerDisplay.from_rows(rows, state_col="responded")
        >>> d.segments.to_dict("list")
        {'lane': [0, 1, 1], 'start': [0.0, 0.0, 2.0], 'stop': [3.0, 2.0, 5.0], 'state': [0, 0, 1]}
        """
        check_int("max_patients", max_patients, min_value=1)
        df = check_columns(rows, [id_col, "start", "stop", "event", state_col], "rows")
        ids = df[id_col].astype(str)
        Surv.from_counting(start=df["start"], stop=df["stop"], event=df["event"],
                           ids=list(ids))                        # checks the intervals
        state = check_event(df[state_col], ids=list(ids), column=state_col).astype(int)
        tab = pd.DataFrame({"id": ids.to_numpy(), "start": df["start"].to_numpy(float),
                            "stop": df["stop"].to_numpy(float),
                            "event": df["event"].to_numpy(float).astype(int),
                            "state": state}).sort_values(["id", "start"], kind="stable")
        last = tab.groupby("id", sort=False).tail(1).set_index("id")
        order = last.sort_values(["stop", "event"], kind="stable").index
        n = len(order)
        keep = order[np.unique(np.linspace(0, n - 1, min(n, max_patients)).round().astype(int))]
        ends = pd.DataFrame({"lane": np.arange(len(keep)), "end": last.loc[keep, "stop"],
                             "event": last.loc[keep, "event"]}, index=keep)
        tab = tab[tab["id"].isin(keep)]
        tab = tab.assign(lane=ends["lane"].reindex(tab["id"]).to_numpy())
        new_run = (tab["state"].ne(tab["state"].shift()) | tab["id"].ne(tab["id"].shift())
                   | tab["start"].ne(tab["stop"].shift()))
        run = new_run.cumsum()
        segments = tab.groupby(run, sort=False).agg(lane=("lane", "first"),
                                                    start=("start", "first"),
                                                    stop=("stop", "last"),
                                                    state=("state", "first"))
        segments = segments.sort_values(["lane", "start"], kind="stable").reset_index(drop=True)
        return cls(segments=segments, ends=ends, state_label=state_label or state_col,
                   n_patients=n)

    def plot(self, ax: Axes | None = None, *, colors: tuple[str, str] | None = None,
             time_label: str = "Time", **kwargs: Any) -> SwimmerDisplay:
        """Draw the lanes, the event (filled circle) and censoring (bar) marks, a legend.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        colors : (str, str), optional
            Colours of state 0 and state 1 (default grey and Okabe-Ito blue).
        time_label : str, default "Time"
            x-axis label (add the unit, e.g. "Months since start of treatment").
        **kwargs
            Passed to ``Axes.broken_barh``.

        Returns
        -------
        self
        """
        off, on = colors or (GREY, OKABE_ITO["blue"])
        n_lanes = len(self.ends)
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, _BASE_IN + _LANE_IN * n_lanes))
            for state, color in ((0, off), (1, on)):
                seg = self.segments[self.segments["state"] == state]
                for lane, part in seg.groupby("lane"):
                    ax.broken_barh(list(zip(part["start"], part["stop"] - part["start"],
                                            strict=True)), (lane - 0.35, 0.7),
                                   facecolors=color, linewidth=0, **kwargs)
            died = self.ends["event"].to_numpy() == 1
            ax.plot(self.ends["end"][died], self.ends["lane"][died], "o", color="black",
                    markersize=2.5, linestyle="none")
            ax.plot(self.ends["end"][~died], self.ends["lane"][~died], "|", color="black",
                    markersize=4, linestyle="none")
            ax.set_ylim(-0.7, n_lanes - 0.3)
            ax.set_xlim(left=min(0.0, float(self.segments["start"].min())))
            ax.set_yticks([])
            ax.spines["left"].set_visible(False)
            shown = ("" if n_lanes == self.n_patients
                     else f"; {n_lanes} of {self.n_patients} shown, spread over follow-up")
            ax.set_ylabel(f"Patients{shown}")
            ax.set_xlabel(time_label)
            handles = [Patch(color=off, label="No"), Patch(color=on, label="Yes"),
                       Line2D([], [], marker="o", color="black", linestyle="none",
                              markersize=2.5, label="Event"),
                       Line2D([], [], marker="|", color="black", linestyle="none",
                              markersize=4, label="Censored")]
            ax.legend(handles=handles, title=self.state_label, loc="lower left",
                      bbox_to_anchor=(0.0, 1.0), ncols=4, borderaxespad=0.2,
                      alignment="left")
        return self

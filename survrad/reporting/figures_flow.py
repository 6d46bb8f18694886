"""Flow diagram of the rows of a study: read, excluded with reasons, analysed (layer 6).

The boxes of a CONSORT-style diagram, one column per table (patients, lesions), from the
counts of :func:`survrad.study.section_data.exclusion_flow`; this module only draws them.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pandas as pd
from matplotlib.axes import Axes

from survrad.evaluation.results_data import FLOW_COLUMNS
from survrad.reporting._plotting import DisplayMixin, check_columns
from survrad.reporting.style import COLUMN_WIDTH, GREY, LIGHT_GREY, publication_style

__all__ = ["ExclusionFlowDisplay"]

_STAGES = ("read", "excluded", "analysed")


class ExclusionFlowDisplay(DisplayMixin):
    """Rows read -> excluded (by reason) -> analysed, one column of boxes per table.

    Parameters
    ----------
    flow : pandas.DataFrame
        Columns ``table``, ``stage`` ("read", "excluded", "analysed"), ``reason`` (for
        "excluded" rows) and ``n``; one "read" and one "analysed" row per table.

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    boxes_ : dict
        table -> {"read", "excluded", "analysed"} -> the box's Text (no "excluded" box
        when nothing was excluded).

    Examples
    --------
    >>> import pandas as pd
    >>> flow = pd.DataFrame({"table": ["patients"] * 3, "stage": ["read", "excluded",
    ...                      "analysed"], "reason": ["", "missing feature value", ""],
    ...                      "n": [120, 7, 113]})
    >>> disp = ExclusionFlowDisplay.from_flow(flow).plot()
    >>> disp.boxes_["patients"]["analysed"].get_text()
    'Patients analysed\\nn = 113'
    """

    def __init__(self, *, flow: pd.DataFrame) -> None:
        self.flow = flow

    @classmethod
    def from_flow(cls, flow: pd.DataFrame) -> ExclusionFlowDisplay:
        """Check the flow table (columns, stages, counts that add up) and keep a copy."""
        flow = check_columns(flow, FLOW_COLUMNS, "flow").copy()
        bad = sorted(set(flow["stage"]) - set(_STAGES))
        if bad:
            raise ValueError(f"flow stages must be {list(_STAGES)}, got {bad}.")
        for table, block in flow.groupby("table", sort=False):
            read, excluded, analysed = (block.loc[block["stage"] == s, "n"] for s in _STAGES)
            if len(read) != 1 or len(analysed) != 1:
                raise ValueError(f"flow of {table!r} needs one 'read' and one 'analysed' row.")
            if int(read.iloc[0]) != int(excluded.sum()) + int(analysed.iloc[0]):
                raise ValueError(f"flow of {table!r}: read ({int(read.iloc[0])}) is not "
                                 f"excluded ({int(excluded.sum())}) + analysed "
                                 f"({int(analysed.iloc[0])}).")
        return cls(flow=flow)

    def plot(self, ax: Axes | None = None) -> ExclusionFlowDisplay:
        """Draw the boxes (a new figure, one column width per table, when ``ax`` is None).

        Returns
        -------
        self
        """
        tables = list(dict.fromkeys(self.flow["table"]))
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH * max(len(tables), 1), 2.4))
            ax.set_axis_off()
            ax.set_xlim(0, max(len(tables), 1))
            ax.set_ylim(0, 1)
            self.boxes_ = {t: self._column(ax, i, t) for i, t in enumerate(tables)}
        return self

    def _column(self, ax: Axes, i: int, table: str) -> dict[str, Any]:
        block = self.flow[self.flow["table"] == table]
        n = {s: block.loc[block["stage"] == s, "n"].astype(int) for s in _STAGES}
        box = {"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": GREY,
               "linewidth": 0.6}
        x, name = i + 0.3, table.capitalize()
        out = {"read": ax.text(x, 0.88, f"{name} read\nn = {n['read'].iloc[0]}",
                               ha="center", va="center", bbox=box),
               "analysed": ax.text(x, 0.12, f"{name} analysed\nn = {n['analysed'].iloc[0]}",
                                   ha="center", va="center", bbox=box)}
        ax.annotate("", xy=(x, 0.22), xytext=(x, 0.78),
                    arrowprops={"arrowstyle": "-|>", "color": GREY, "linewidth": 0.8})
        reasons = block[block["stage"] == "excluded"]
        if len(reasons):
            lines = [f"Excluded, n = {int(reasons['n'].sum())}"]
            lines += [textwrap.fill(f"{r.reason}: {int(r.n)}", 42, subsequent_indent="  ")
                      for r in reasons.itertuples()]
            out["excluded"] = ax.annotate(
                "\n".join(lines), xy=(x, 0.5), xytext=(x + 0.12, 0.5), ha="left",
                va="center", fontsize="small",
                bbox={**box, "facecolor": LIGHT_GREY},
                arrowprops={"arrowstyle": "<|-", "color": GREY, "linewidth": 0.8})
        return out

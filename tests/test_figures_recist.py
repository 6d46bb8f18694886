"""The RECIST spider plot and best-response waterfall (survrad.reporting.figures_recist)."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from scan_tables import NAN, stack, study

from survrad.longitudinal import recist
from survrad.reporting import BestResponseWaterfallDisplay, RecistSpiderDisplay
from survrad.reporting.figures_recist import RESPONSE_COLORS


def _three_patients(criteria="recist1.1"):
    # P1: 40 -> 20 (-50 %) -> 30 (PD: +10 mm, +50 % over 20); P2: 30 -> 33 -> 35 (SD);
    # P3: 50 -> NE -> 30 (-40 %, PR)
    tab = stack(study({"T1": [40, 20, 30]}, weeks=[0, 8, 16]),
                study({"T1": [30, 33, 35]}, weeks=[0, 8, 16], patient="P2"),
                study({"T1": [50, NAN, 30]}, weeks=[0, 8, 16], patient="P3"))
    return recist(tab, criteria, time_unit="weeks")


def _inside(fig: Figure) -> None:
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    w, h = fig.get_size_inches()
    assert box.x0 >= -0.01 and box.y0 >= -0.01 and box.x1 <= w + 0.01 and box.y1 <= h + 0.01


def test_spider_lines_follow_the_sums():
    disp = RecistSpiderDisplay.from_result(_three_patients()).plot()
    p1 = disp.lines_["P1"]
    assert p1.get_xdata().tolist() == [0.0, 8.0, 16.0]
    assert p1.get_ydata().tolist() == [0.0, -50.0, -25.0]
    assert disp.lines_["P3"].get_xdata().tolist() == [0.0, 16.0]      # NE scan left out
    assert disp.progression[["patient_id", "x"]].values.tolist() == [["P1", 16.0]]
    assert p1.get_color() == RESPONSE_COLORS["PR"]
    assert disp.lines_["P2"].get_color() == RESPONSE_COLORS["SD"]
    legend = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert legend == ["PR (n = 2)", "SD (n = 1)", "progression"]
    assert "weeks" in disp.ax_.get_xlabel()
    _inside(disp.figure_)


def test_waterfall_best_change_until_progression():
    disp = BestResponseWaterfallDisplay.from_result(_three_patients()).plot()
    # P2: best +10 %; P1: -50 %; P3: -40 %; sorted by decreasing change
    assert [b.get_height() for b in disp.bars_] == [10.0, -40.0, -50.0]
    assert disp.change.index.tolist() == ["P2", "P3", "P1"]
    _inside(disp.figure_)


def test_waterfall_irecist_and_excluded_patients():
    tab = stack(study({"T1": [50, 62, 67, 20]}), study({"T1": [30, NAN]}, patient="P2"))
    res = recist(tab, "irecist")
    disp = BestResponseWaterfallDisplay.from_result(res)
    # P1: iUPD (+24 %), iCPD (+34 %); the later 20 mm scan is after iCPD: not counted
    np.testing.assert_allclose(disp.change["pct"], [24.0])
    assert disp.n_excluded == 1
    ax = Figure(figsize=(3.5, 2.7), layout="constrained").add_subplot()
    disp.plot(ax=ax)
    assert disp.ax_ is ax and "1 without an evaluable follow-up sum" in ax.get_xlabel()
    assert to_hex(disp.bars_[0].get_facecolor()) == RESPONSE_COLORS["CPD"].lower()

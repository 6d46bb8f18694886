"""CenterForestDisplay: one row per centre, the pooled diamond and the prediction line."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from survrad.reporting.figures_external import CenterForestDisplay


def _disp(**kw):
    return CenterForestDisplay(centers=["C1", "C2", "C3"], estimates=[0.6, 0.7, 0.65],
                               ci_low=[0.55, 0.64, 0.6], ci_high=[0.66, 0.76, 0.7],
                               n=[100, 120, 90], events=[50, 60, 40], **kw)


def test_rows_and_pooled_row():
    disp = _disp(pooled=(0.65, 0.6, 0.7), prediction=(0.5, 0.8), i2=40.0).plot()
    assert disp.row_labels_ == ["C1 (n=100, 50 events)", "C2 (n=120, 60 events)",
                                "C3 (n=90, 40 events)", "Pooled (random effects)"]
    assert "I\u00b2 40%" in disp.ax_.get_title(loc="left")
    pi = [line for line in disp.ax_.get_lines() if len(line.get_xdata()) == 2
          and np.allclose(line.get_xdata(), [0.5, 0.8])]
    assert len(pi) == 1


def test_without_pooled_and_on_given_axes():
    ax = Figure().add_subplot()
    disp = _disp(prediction=(np.nan, np.nan)).plot(ax=ax)
    assert disp.ax_ is ax and len(disp.row_labels_) == 3


def test_from_result_refuses_other_objects():
    with pytest.raises(TypeError, match="LOCOResult"):
        CenterForestDisplay.from_result(object())

"""SchoenfeldDisplay: R's plot(cox.zph) from a CoxModel's PH test."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
import pytest
from figure_checks import check_figure
from matplotlib.figure import Figure

import survrad as sr
from survrad.data.outcome import Surv
from survrad.models import CoxModel
from survrad.reporting import SchoenfeldDisplay, save_figure


@pytest.fixture(scope="module")
def ph_parts():
    d = sr.load_dataset("lung").dropna(subset=["ph.ecog"])
    X = d[["age", "sex", "ph.ecog"]]
    y = Surv.from_arrays(time=d["time"], event=d["status"] == 2)
    model = CoxModel().fit(X, y)
    return model, X, y


@pytest.mark.parametrize("transform", ["km", "rank", "identity", "log"])
def test_one_panel_per_term_passes_the_layout_checks(ph_parts, transform, tmp_path):
    model, X, y = ph_parts
    disp = SchoenfeldDisplay.from_model(model, X, y, transform=transform).plot()
    paths = save_figure(disp.figure_, tmp_path / f"schoenfeld_{transform}")
    assert [p.suffix for p in paths] == [".png", ".pdf"]      # rendered in both formats
    assert all(p.stat().st_size > 1000 for p in paths)
    check_figure(disp.figure_)
    assert [ax.get_ylabel() for ax in disp.axes_] == ["β(t) for age", "β(t) for sex",
                                                      "β(t) for ph.ecog"]
    assert disp.axes_[1].get_title(loc="left").startswith("sex: PH test p = 0.")
    assert disp.ax_ is disp.axes_[0]
    legend = disp.figure_.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == [
        "Scaled Schoenfeld residual", "Smooth (β(t))", "±2 SE", "Cox estimate"]


def test_the_smooth_and_reference_are_the_computed_values(ph_parts):
    model, X, y = ph_parts
    ph = model.ph_test(X, y)
    disp = SchoenfeldDisplay.from_ph_test(ph, terms=["sex"]).plot()
    check_figure(disp.figure_)
    lines = disp.ax_.get_lines()
    smooth = ph.smooth("sex")
    fit = next(ln for ln in lines if ln.get_linewidth() == 1.3)
    np.testing.assert_allclose(fit.get_ydata(), smooth["fit"])
    reference = next(ln for ln in lines if np.ptp(ln.get_ydata()) == 0)
    assert reference.get_ydata()[0] == pytest.approx(model.coef_[1])
    points = next(ln for ln in lines if ln.get_marker() == "o")
    assert points.get_ydata().size == ph.residuals.shape[0]


def test_greyscale_only(ph_parts):
    model, X, y = ph_parts
    disp = SchoenfeldDisplay.from_model(model, X, y).plot()
    for ax in disp.axes_:
        for line in ax.get_lines():
            r, g, b = mcolors.to_rgb(line.get_color() if line.get_marker() != "o"
                                     else line.get_markeredgecolor())
            assert r == g == b                                      # no hue


def test_draws_into_given_axes_and_refuses_unknown_terms(ph_parts):
    model, X, y = ph_parts
    fig = Figure(figsize=(7, 2.5), layout="constrained")
    axes = fig.subplots(1, 2)
    disp = SchoenfeldDisplay.from_model(model, X, y, terms=["age", "sex"]).plot(axes)
    assert disp.figure_ is fig and list(disp.axes_) == list(axes)
    with pytest.raises(ValueError, match="2 terms need 2 axes"):
        SchoenfeldDisplay.from_model(model, X, y, terms=["age", "sex"]).plot(axes[0])
    with pytest.raises(ValueError, match="not terms of the model"):
        SchoenfeldDisplay.from_model(model, X, y, terms=["bmi"])

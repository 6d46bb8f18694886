"""Decision-curve, smooth-calibration and nomogram figures: drawn numbers and layout.

Every figure is rendered to PNG and PDF and checked with ``figure_checks.check_figure``
(no text overlapping another text or plotted data, every axis labelled, nothing outside
the figure). The checks themselves are tested on figures built to fail them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from figure_checks import check_figure, text_on_data, text_overlaps, unlabelled_axes
from matplotlib.figure import Figure

from survrad.data.outcome import Surv
from survrad.datasets import load_dataset
from survrad.evaluation.decision import decision_curve
from survrad.evaluation.nomogram import nomogram
from survrad.evaluation.smooth_calibration import smooth_calibration
from survrad.models import CoxModel, LogisticModel
from survrad.reporting import save_figure
from survrad.reporting.figures_utility import (
    DecisionCurveDisplay,
    NomogramDisplay,
    SmoothCalibrationDisplay,
)


@pytest.fixture(scope="module")
def lung():
    d = load_dataset("lung").dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
    X = d[["age", "sex", "ph.ecog"]].astype(float)
    y = Surv.from_arrays(time=d["time"].to_numpy(float), event=(d["status"] == 2).to_numpy())
    model = CoxModel().fit(X, y)
    risk = 1 - model.predict_survival_function(X, [365.0])[:, 0]
    return X, y, model, risk


def render(fig: Figure, tmp_path, name: str) -> None:
    paths = save_figure(fig, tmp_path / name)
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert all(p.stat().st_size > 1000 for p in paths)
    check_figure(fig)


# --------------------------------------------------------------------- the checker
def test_checker_finds_overlapping_texts_and_text_on_data():
    fig = Figure(figsize=(3, 3))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.text(0.5, 0.5, "on the line")
    ax.text(0.1, 0.9, "first")
    ax.text(0.1, 0.9, "second")
    ax.set_xlabel("x")
    assert text_overlaps(fig)
    assert any("on the line" in t for t, _ in text_on_data(fig))
    assert unlabelled_axes(fig) == ["axes 0 (): no y label"]
    with pytest.raises(AssertionError, match="overlapping texts"):
        check_figure(fig)


def test_checker_passes_a_clean_figure():
    fig = Figure(figsize=(3, 3), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.text(0.05, 0.9, "clear corner")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    check_figure(fig)


def test_checker_ignores_clipped_data_outside_the_axes():
    fig = Figure(figsize=(3, 3), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, -5])          # runs below the view, where the tick labels are
    ax.set_ylim(-0.5, 0.5)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    check_figure(fig)


# -------------------------------------------------------------------- decision curve
def test_decision_curve_survival_figure(lung, tmp_path):
    _, y, _, risk = lung
    thresholds = np.arange(0.05, 0.95, 0.01)
    dc = decision_curve(y, risk, thresholds, horizon=365)
    disp = DecisionCurveDisplay.from_curve(dc, label="Cox model", time_unit="days",
                                           event="death").plot()
    np.testing.assert_array_equal(disp.line_.get_ydata(), dc.net_benefit)
    styles = {line.get_label(): line.get_linestyle() for line in disp.ax_.get_lines()}
    assert styles == {"Treat all": "--", "Treat none": ":", "Cox model": "-"}   # greyscale
    # broken before the parenthesis when one line would not fit beside the y labels
    assert disp.ax_.get_xlabel().replace("\n", " ") == ("Threshold probability (risk of "
                                                        "death by 365 days)")
    render(disp.figure_, tmp_path, "dca_survival")


def test_decision_curve_binary_overlay(tmp_path):
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.7, 400)
    y = (rng.random(400) < p).astype(int)
    t = np.arange(0.01, 0.7, 0.01)
    disp = DecisionCurveDisplay.from_curve(decision_curve(y, p, t), label="Model A").plot()
    noisy = np.clip(p + rng.normal(0, 0.15, 400), 0, 1)
    DecisionCurveDisplay.from_curve(decision_curve(y, noisy, t), label="Model B").plot(ax=disp.ax_)
    labels = [line.get_label() for line in disp.ax_.get_lines()]
    assert labels.count("Treat all") == 1 and "Model B" in labels
    assert disp.ax_.get_xlabel() == "Threshold probability (risk of the event)"
    render(disp.figure_, tmp_path, "dca_binary")


# ------------------------------------------------------------------ smooth calibration
def test_smooth_calibration_figure(lung, tmp_path):
    _, y, _, risk = lung
    cal = smooth_calibration(y, risk, horizon=365)
    disp = SmoothCalibrationDisplay.from_result(cal, time_unit="days", event="death").plot()
    np.testing.assert_array_equal(disp.line_.get_ydata(), cal.grid_observed)
    assert disp.stats_text_.get_text().splitlines() == [
        f"ICI {cal.ici:.3f}", f"E50 {cal.e50:.3f}", f"E90 {cal.e90:.3f}"]
    assert sum(p.get_height() for p in disp.ax_hist_.patches) == risk.size
    render(disp.figure_, tmp_path, "smooth_calibration")


def test_smooth_calibration_miscalibrated_on_given_axes(tmp_path):
    # over-predicted risks: the curve runs below the diagonal; the numbers must still
    # find a free corner (or go above the plot)
    rng = np.random.default_rng(2)
    p = rng.uniform(0.05, 0.95, 1500)
    y = (rng.random(1500) < p).astype(int)
    fig = Figure(figsize=(3.5, 3.5), layout="constrained")
    ax = fig.add_subplot()
    disp = SmoothCalibrationDisplay.from_result(
        smooth_calibration(y, np.clip(1.3 * p, 0.01, 0.99), n_knots=4)).plot(ax=ax)
    assert disp.ax_hist_ is None and disp.figure_ is fig
    assert disp.ax_.get_xlabel() == "Predicted risk of the event"
    render(fig, tmp_path, "smooth_calibration_ax")


# --------------------------------------------------------------------------- nomogram
def test_nomogram_cox_figure(lung, tmp_path):
    X, _, model, _ = lung
    nom = nomogram(model, X, horizons=[180.0, 365.0])
    disp = NomogramDisplay.from_nomogram(
        nom, names={"age": "Age (years)", "sex": "Sex (1 = male)", "ph.ecog": "ECOG"},
        time_unit="days").plot()
    assert disp.row_labels_ == ["Points", "Age (years)", "Sex (1 = male)", "ECOG",
                                "Total points", "Survival at 180 days",
                                "Survival at 365 days"]
    render(disp.figure_, tmp_path, "nomogram_cox")


def test_nomogram_categorical_and_logistic_figures(lung, tmp_path):
    d = load_dataset("veteran")
    cells = ["smallcell", "adeno", "large"]
    X = pd.concat([d[["karno", "age"]].astype(float),
                   pd.DataFrame({c: (d["celltype"] == c).astype(float) for c in cells})],
                  axis=1)
    y = Surv.from_arrays(time=d["time"].to_numpy(float), event=d["status"].to_numpy())
    nom = nomogram(CoxModel().fit(X, y), X, horizons=[90.0], terms={"celltype": cells})
    disp = NomogramDisplay.from_nomogram(nom, time_unit="days").plot()
    render(disp.figure_, tmp_path, "nomogram_categorical")

    Xl, yl, _, _ = lung
    dead = (yl["time"] <= 365) & yl["event"]
    keep = dead | (yl["time"] > 365)
    logit = LogisticModel().fit(Xl[keep], dead[keep].astype(int))
    disp = NomogramDisplay.from_nomogram(nomogram(logit, Xl[keep])).plot()
    assert disp.row_labels_[-1] == "Predicted probability"
    render(disp.figure_, tmp_path, "nomogram_logistic")


def test_display_type_errors():
    with pytest.raises(TypeError, match="DecisionCurve"):
        DecisionCurveDisplay.from_curve(object())
    with pytest.raises(TypeError, match="SmoothCalibration"):
        SmoothCalibrationDisplay.from_result(object())
    with pytest.raises(TypeError, match="Nomogram"):
        NomogramDisplay.from_nomogram(object())

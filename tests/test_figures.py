"""Publication figures (survrad.reporting): Displays, style, deterministic files.

Numbers drawn are checked against independent oracles (lifelines' Kaplan-Meier, log-rank
and Cox; naive counts; sklearn), not only against survrad itself. Set
``SURVRAD_FIGURE_DIR=/some/dir`` to also write every figure drawn here as PNG for review.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from survrad.data.outcome import Surv
from survrad.data.simulate import simulate_cohort
from survrad.evaluation import risk_group_survival, risk_groups_from_training, roc_curve
from survrad.exceptions import ConvergenceWarning, SchemaError
from survrad.reporting import (
    CalibrationDisplay,
    ForestPlotDisplay,
    KaplanMeierDisplay,
    LesionRiskMapDisplay,
    LesionWaterfallDisplay,
    OptimismDisplay,
    ROCDisplay,
    StrategyComparisonDisplay,
    TimeDependentAUCDisplay,
    save_figure,
)
from survrad.reporting._plotting import format_p
from survrad.reporting.style import PUBLICATION_RC, publication_style

# ------------------------------------------------------------------------- fixtures
_ALLOWED: set[int] = set()


@pytest.fixture(autouse=True)
def _figures_closed():
    """Fail a test whose code under test leaves a pyplot figure open.

    Displays create figures outside pyplot (nothing to close). A test that deliberately
    opens a pyplot figure registers its number through ``pyplot_ax``.
    """
    before = set(plt.get_fignums())
    _ALLOWED.clear()
    yield
    leaked = set(plt.get_fignums()) - before - _ALLOWED
    plt.close("all")
    if leaked:
        pytest.fail(f"pyplot figures left open by the code under test: {sorted(leaked)}")


@pytest.fixture
def pyplot_ax():
    fig, ax = plt.subplots()
    _ALLOWED.add(fig.number)
    return ax


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(300, random_state=0)


def new_ax(**kw) -> plt.Axes:
    return Figure(**kw).add_subplot()


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def check_inside(fig: Figure, name: str) -> None:
    """Everything drawn lies inside the figure (no clipped label, table or legend)."""
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    tight = fig.get_tightbbox(fig.canvas.get_renderer())        # inches
    w, h = fig.get_size_inches()
    assert tight.x0 >= -0.01 and tight.y0 >= -0.01, (name, tight)
    assert tight.x1 <= w + 0.01 and tight.y1 <= h + 0.01, (name, tight, (w, h))
    out = os.environ.get("SURVRAD_FIGURE_DIR")
    if out:
        save_figure(fig, Path(out) / name, formats=("png",))


# ---------------------------------------------------------------------------- style
def _calibration():
    # fixed-aspect axes: the hardest case for a deterministic constrained layout
    return CalibrationDisplay.from_groups([0.2, 0.5, 0.8], [0.25, 0.5, 0.75], [0.1, 0.4, 0.6],
                                          [0.4, 0.6, 0.9], horizon=12, slope=0.9).plot()


def test_style_is_local_and_save_is_deterministic(tmp_path):
    before = dict(mpl.rcParams)
    with publication_style():
        assert mpl.rcParams["font.size"] == PUBLICATION_RC["font.size"]
        assert mpl.rcParams["pdf.fonttype"] == 42
    disp = _calibration()
    assert dict(mpl.rcParams) == before, "plot() must not change global rcParams"

    first = save_figure(disp.figure_, tmp_path / "a" / "cal")
    again = save_figure(disp.figure_, tmp_path / "b" / "cal")
    assert [p.name for p in first] == ["cal.png", "cal.pdf"]
    for p, q in zip(first, again, strict=True):
        assert p.read_bytes() == q.read_bytes(), p.name
    # a figure rebuilt from the same data, and drawn (as a notebook would) before saving,
    # gives the same bytes too
    rebuilt = _calibration()
    FigureCanvasAgg(rebuilt.figure_).draw()
    third = save_figure(rebuilt.figure_, tmp_path / "c" / "cal")
    assert all(p.read_bytes() == q.read_bytes() for p, q in zip(first, third, strict=True))

    png, pdf = first[0].read_bytes(), first[1].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and pdf[:5] == b"%PDF-"
    width_px, height_px = struct.unpack(">II", png[16:24])
    w_in, h_in = disp.figure_.get_size_inches()
    assert (width_px, height_px) == (round(300 * w_in), round(300 * h_in))   # 300 dpi
    assert b"CreationDate" not in pdf and b"Software" not in png
    assert sorted(os.listdir(tmp_path / "a")) == ["cal.pdf", "cal.png"]     # no temp files


def _embedded_truetype_fonts(pdf: bytes) -> list:
    """The TrueType fonts embedded in a PDF written by matplotlib (Flate streams)."""
    import re
    import zlib

    from fontTools.ttLib import TTFont

    fonts = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, flags=re.S):
        try:
            data = zlib.decompress(raw)
        except zlib.error:
            continue
        if data[:4] == b"\x00\x01\x00\x00":
            fonts.append(TTFont(io.BytesIO(data)))
    return fonts


def test_pdf_embeds_outline_only_font_subsets(tmp_path):
    # matplotlib positions every glyph itself, so the embedded subsets leave out the
    # OpenType layout tables (a fifth of the report's figure time); outlines, metrics and
    # the character map stay, and fontTools' default is put back after the save
    from fontTools import subset

    default = list(subset.Options._drop_tables_default)
    fig = Figure(figsize=(2, 2))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.set_title("Survival (95% CI)")
    pdf = save_figure(fig, tmp_path / "t", formats=("pdf",))[0].read_bytes()
    assert subset.Options._drop_tables_default == default
    fonts = _embedded_truetype_fonts(pdf)
    assert fonts, "a Type 42 (TrueType) font must be embedded"
    for font in fonts:
        assert {"glyf", "hmtx", "cmap"} <= set(font.keys())
        assert not {"GSUB", "GPOS", "GDEF", "kern"} & set(font.keys())
    # matplotlib's own save keeps them: the difference is the subset, not the drawing
    plain = io.BytesIO()
    with publication_style():
        fig.savefig(plain, format="pdf")
    assert any("GPOS" in f for f in _embedded_truetype_fonts(plain.getvalue()))


def test_save_figure_rejects_bad_arguments(tmp_path):
    fig = Figure()
    fig.add_subplot().plot([0, 1])
    with pytest.raises(ValueError, match="unsupported figure format 'jpg'"):
        save_figure(fig, tmp_path / "x", formats=("jpg",))
    with pytest.raises(TypeError, match=r"display\.figure_"):
        save_figure(new_ax(), tmp_path / "x")


def test_format_p():
    assert [format_p(p) for p in (0.0004, 0.0049, 0.0461, 0.05, 0.1234, np.nan)] == \
        ["<0.001", "0.005", "0.046", "0.05", "0.12", "–"]


# ---------------------------------------------------------------------- risk groups
def test_risk_groups_use_training_cut_points_only():
    train = np.arange(100.0)                          # tertiles 33, 66
    test = np.array([-5.0, 10, 33, 33.01, 50, 66, 80, 200])
    groups = risk_groups_from_training(train, test)
    cut = np.quantile(train, [1 / 3, 2 / 3])          # naive reference
    naive = np.where(test <= cut[0], "Low", np.where(test <= cut[1], "Intermediate", "High"))
    assert list(groups) == naive.tolist()
    assert list(groups.categories) == ["Low", "Intermediate", "High"] and groups.ordered
    # a shifted test set is NOT re-split into thirds: everything is above the cut-points
    assert set(risk_groups_from_training(train, test + 1000)) == {"High"}
    four = risk_groups_from_training(train, [0, 30, 60, 90], n_groups=4)
    assert list(four) == ["Q1", "Q2", "Q3", "Q4"]


def test_risk_groups_errors():
    with pytest.raises(ValueError, match="distinct groups"):
        risk_groups_from_training(np.r_[np.zeros(90), np.arange(10)], [1.0], n_groups=3)
    with pytest.raises(ValueError, match="labels must be 2 distinct"):
        risk_groups_from_training(np.arange(10), [1.0], n_groups=2, labels=["a"])
    with pytest.raises(SchemaError, match="non-finite"):
        risk_groups_from_training([1.0, np.nan, 3.0], [1.0])


# ----------------------------------------------------------------------- Kaplan-Meier
def _km_inputs(cohort):
    p = cohort.patients
    lp = cohort.truth["patients"]["lp"].loc[p.index].to_numpy()
    train = np.arange(len(p)) % 2 == 0
    groups = risk_groups_from_training(lp[train], lp[~train])
    return (p["os_time"].to_numpy()[~train], p["os_event"].to_numpy()[~train], groups)


def test_kaplan_meier_display_matches_lifelines(cohort):
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    time, event, groups = _km_inputs(cohort)
    disp = KaplanMeierDisplay.from_result(risk_group_survival(time, event, groups)).plot()
    assert list(disp.lines_) == ["Low", "Intermediate", "High"]
    ax = disp.ax_
    for label, line in disp.lines_.items():
        m = np.asarray(groups) == label
        kmf = KaplanMeierFitter().fit(time[m], event[m])
        x, y = line.get_xdata(), line.get_ydata()
        np.testing.assert_allclose(y, kmf.survival_function_at_times(x).to_numpy(), atol=1e-12)
        assert line.get_label() == f"{label} (n = {m.sum()})"
    # log-rank and hazard ratio of High vs Low
    lr = multivariate_logrank_test(time, np.asarray(groups), event)
    assert disp.logrank.p == pytest.approx(lr.p_value, rel=1e-8)
    X = pd.DataFrame({"mid": np.asarray(groups) == "Intermediate",
                      "high": np.asarray(groups) == "High"}).astype(float)
    cph = CoxPHFitter().fit(X.assign(t=time, e=event), "t", "e")
    hr = disp.hazard_ratios.set_index("group")
    assert hr.loc["High", "hr"] == pytest.approx(np.exp(cph.params_["high"]), rel=1e-5)
    assert hr.loc["High", "hr_ci_low"] == pytest.approx(
        cph.confidence_intervals_.loc["high"].map(np.exp).iloc[0], rel=1e-4)
    # numbers at risk: a naive count, aligned with the x ticks
    times = disp.at_risk.columns.to_numpy(float)
    np.testing.assert_array_equal(ax.get_xticks(), times)
    for label in disp.at_risk.index:
        m = np.asarray(groups) == label
        naive = [(time[m] >= t).sum() for t in times]
        assert disp.at_risk.loc[label].tolist() == naive
    shown = texts(disp.figure_)
    assert "Number at risk" in shown
    high = hr.loc["High"]
    assert disp.stats_artist_.get_text() == (
        "Log-rank p < 0.001\n"
        f"HR High vs Low: {high.hr:.2f} ({high.hr_ci_low:.2f}–{high.hr_ci_high:.2f})")
    assert len(ax.collections) >= 3                  # one CI band per group
    check_inside(disp.figure_, "km")


def test_kaplan_meier_on_given_ax_and_not_estimable_hr():
    t = np.r_[np.linspace(1, 20, 30), np.linspace(1, 20, 30)]
    e = np.r_[np.zeros(30), np.ones(30)]                   # group A has no event
    g = np.repeat(["A", "B"], 30)
    with pytest.warns(ConvergenceWarning, match="B vs A"):
        result = risk_group_survival(t, e, g, at_risk_times=[0, 5, 10, 15, 20])
    disp = KaplanMeierDisplay.from_result(result)
    ax = new_ax(figsize=(3.5, 3.5), layout="constrained")
    out = disp.plot(ax=ax, ci=False)
    assert out is disp and disp.ax_ is ax and disp.figure_ is ax.figure
    assert "HR B vs A: not estimable" in disp.stats_text()
    assert not disp.hazard_ratios["estimable"].any()
    assert len(ax.collections) == 0                        # ci=False: no bands
    naive = [int((t[g == "B"] >= x).sum()) for x in (0, 5, 10, 15, 20)]
    assert disp.at_risk.loc["B"].tolist() == naive
    check_inside(disp.figure_, "km_not_estimable")


def test_kaplan_meier_risk_groups_read_low_to_high_in_colour_and_in_greyscale():
    from matplotlib.colors import to_hex

    from survrad.reporting.style import risk_colors

    rng = np.random.default_rng(3)
    g = np.repeat(["Low", "Intermediate", "High"], 40)
    t = rng.exponential(np.select([g == "Low", g == "High"], [20.0, 4.0], 9.0))
    result = risk_group_survival(t, np.ones(120), g, group_order=["Low", "Intermediate",
                                                                   "High"])
    disp = KaplanMeierDisplay.from_result(result).plot()
    colours = [to_hex(disp.lines_[k].get_color()) for k in ("Low", "Intermediate", "High")]
    assert colours == [c.lower() for c in risk_colors(3)]
    assert colours[0] == "#0072b2" and colours[-1] == "#d55e00"   # blue low, vermillion high
    styles = [disp.lines_[k].get_linestyle() for k in ("Low", "Intermediate", "High")]
    assert len(set(styles)) == 3                                   # distinct without colour
    check_inside(disp.figure_, "km_risk_order")


def test_kaplan_meier_rejects_bad_groups():
    with pytest.raises(SchemaError, match="labels not in group_order"):
        risk_group_survival([1, 2, 3, 4], [1, 0, 1, 1], ["a", "a", "b", "c"],
                            group_order=["a", "b"])
    with pytest.raises(SchemaError, match="group is missing"):
        risk_group_survival([1, 2, 3], [1, 0, 1], ["a", None, "b"])


def test_kaplan_meier_works_with_pyplot_axes(cohort, pyplot_ax):
    time, event, groups = _km_inputs(cohort)
    result = risk_group_survival(time, event, groups)
    disp = KaplanMeierDisplay.from_result(result).plot(ax=pyplot_ax)
    assert disp.figure_ is pyplot_ax.figure


# ------------------------------------------------------------------------- forest
def _cox_summary(cohort):
    from survrad.models.cox import CoxModel

    p = cohort.patients
    X = p[["age", "ecog", "pdl1"]].astype(float)
    model = CoxModel().fit(X, Surv.from_frame(p, time="os_time", event="os_event"))
    bad = pd.DataFrame({"term": ["mutation_x"], "hr": [np.nan], "hr_ci_low": [np.nan],
                        "hr_ci_high": [np.nan], "p": [np.nan], "estimable": [False]})
    return pd.concat([model.summary().to_frame().reset_index(), bad], ignore_index=True)


def test_forest_plot(cohort):
    summary = _cox_summary(cohort)
    disp = ForestPlotDisplay.from_summary(summary).plot()
    ax = disp.ax_
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_yticklabels()] == summary["term"].tolist()
    points = disp.errorbar_.lines[0]
    np.testing.assert_allclose(points.get_xdata(), summary["hr"].to_numpy()[:3])
    assert len(points.get_xdata()) == 3                   # no point for "mutation_x"
    shown = texts(disp.figure_)
    assert shown.count("not estimable") == 1
    ecog = summary.set_index("term").loc["ecog"]
    assert f"{ecog.hr:.2f} ({ecog.hr_ci_low:.2f}–{ecog.hr_ci_high:.2f})" in shown
    assert "HR (95% CI)" in shown and "p" in shown and format_p(ecog.p) in shown
    assert any(line.get_xdata()[0] == 1.0 for line in ax.get_lines())   # reference at 1
    check_inside(disp.figure_, "forest")


def test_forest_plot_odds_ratios_without_p_on_given_ax():
    df = pd.DataFrame({"name": ["a", "b"], "or": [2.0, 0.5], "lo": [1.2, 0.3],
                       "hi": [3.3, 0.8]})
    ax = new_ax(figsize=(3.5, 1.5), layout="constrained")
    disp = ForestPlotDisplay.from_summary(df, label_col="name", estimate="or", low="lo",
                                          high="hi", p=None).plot(ax=ax)
    assert disp.ax_ is ax
    shown = texts(disp.figure_)
    assert "OR (95% CI)" in shown and "p" not in shown
    assert ax.get_xlabel() == "Odds ratio (log scale)"
    with pytest.raises(SchemaError, match="lacks columns"):
        ForestPlotDisplay.from_summary(df)


# ------------------------------------------------------------------------- calibration
def test_calibration_display_from_metrics(cohort):
    from survrad.evaluation.metrics import calibration
    from survrad.models.cox import CoxModel

    p = cohort.patients
    y = Surv.from_frame(p, time="os_time", event="os_event")
    X = pd.DataFrame({"lp": cohort.truth["patients"]["lp"].loc[p.index]})
    s12 = CoxModel().fit(X, y).predict_survival_function(X, [12.0])[:, 0]
    res = calibration(y, s12, horizon=12.0, n_groups=5)
    disp = CalibrationDisplay.from_calibration(res).plot()
    np.testing.assert_allclose(disp.line_.get_xdata(), res.predicted)
    np.testing.assert_allclose(disp.line_.get_ydata(), res.observed)
    shown = texts(disp.figure_)
    assert f"Slope {res.slope:.2f}" in disp.stats_text() and disp.stats_text() in shown
    assert disp.ax_.get_xlabel() == "Predicted survival at 12 months"
    assert sum(line.get_gid() == "survrad-reference" for line in disp.ax_.get_lines()) == 1
    check_inside(disp.figure_, "calibration")


def test_calibration_overlay_and_errors():
    ax = new_ax(figsize=(3.5, 3.5))
    a = CalibrationDisplay.from_groups([0.9, 0.7, 0.4], [0.88, 0.72, 0.35], horizon=6,
                                       slope=1.1).plot(ax=ax, label="6 months")
    b = CalibrationDisplay.from_groups([0.8, 0.5, 0.2], [0.78, 0.55, 0.3], [0.7, 0.45, 0.2],
                                       [0.86, 0.65, 0.4], horizon=12).plot(ax=ax, label="12 m")
    assert a.ax_ is b.ax_ is ax
    assert sum(line.get_gid() == "survrad-reference" for line in ax.get_lines()) == 1
    assert a.line_.get_color() != b.line_.get_color()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "6 months (Slope 1.10)" in labels and "12 m" in labels
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        CalibrationDisplay.from_groups([1.2], [0.5], horizon=1)
    with pytest.raises(TypeError, match=r"metrics\.calibration"):
        CalibrationDisplay.from_calibration(object())


# ------------------------------------------------------------------ time-dependent AUC
def test_time_dependent_auc_overlay(cohort):
    from survrad.evaluation.metrics import time_dependent_auc

    p = cohort.patients
    y = Surv.from_frame(p, time="os_time", event="os_event")
    lp = cohort.truth["patients"]["lp"].loc[p.index].to_numpy()
    times = np.array([6.0, 12.0, 18.0, 24.0])
    auc = time_dependent_auc(y, y, lp, times)
    noisy = time_dependent_auc(y, y, lp + np.random.default_rng(0).normal(0, 2, lp.size), times)
    a = TimeDependentAUCDisplay.from_values(times, auc, ci_low=auc - 0.05, ci_high=auc + 0.05,
                                            label="true risk").plot()
    b = TimeDependentAUCDisplay.from_values(times, noisy, label="noisy").plot(ax=a.ax_)
    ax = a.ax_
    assert b.figure_ is a.figure_
    np.testing.assert_allclose(a.line_.get_ydata(), auc)
    assert np.all(auc > noisy)                      # true risk discriminates better
    refs = [ln for ln in ax.get_lines() if ln.get_gid() == "survrad-reference"]
    assert len(refs) == 1 and refs[0].get_ydata()[0] == 0.5
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["true risk", "noisy"]
    assert ax.get_ylim()[0] <= 0.4
    check_inside(a.figure_, "td_auc")
    with pytest.raises(ValueError, match="increasing"):
        TimeDependentAUCDisplay.from_values([2, 1], [0.6, 0.7])


# ------------------------------------------------------------------------------- ROC
def test_roc_display(cohort):
    y = cohort.patients["objective_response"].to_numpy()
    score = -cohort.truth["patients"]["lp"].loc[cohort.patients.index].to_numpy()
    disp = ROCDisplay.from_curve(roc_curve(y, score), label="risk").plot()
    pos, neg = score[y == 1], score[y == 0]                 # Mann-Whitney AUC, naive
    naive = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
             ) / (pos.size * neg.size)
    assert disp.auc == pytest.approx(naive, rel=1e-12)
    assert disp.line_.get_label() == f"risk (AUC = {naive:.2f})"
    ROCDisplay.from_curve(roc_curve(y, np.zeros_like(score) + np.arange(y.size) % 7)).plot(
        ax=disp.ax_)
    assert sum(ln.get_gid() == "survrad-reference" for ln in disp.ax_.get_lines()) == 1
    assert len(disp.ax_.get_legend().get_texts()) == 2
    check_inside(disp.figure_, "roc")
    with pytest.raises(SchemaError, match="single class"):
        roc_curve([1, 1, 1], [0.1, 0.2, 0.3])


# ---------------------------------------------------------------- strategy comparison
def _comparison_frames():
    rng = np.random.default_rng(1)
    rows = []
    for name, base in [("clinical", True), ("burden", True), ("largest", False),
                       ("statistics", False), ("lesion_risk", False)]:
        for model in ("cox", "forest"):
            corr = rng.uniform(0.6, 0.72)
            for metric in ("c_index", "ibs"):
                rows.append({"pipeline": name, "model": model, "metric": metric,
                             "apparent": corr + 0.04, "corrected": corr, "ci_low": corr - 0.05,
                             "ci_high": corr + 0.05, "baseline": base, "n_boot": 10})
    df = pd.DataFrame(rows)
    c = df[(df["metric"] == "c_index") & (df["pipeline"] != "clinical")]
    diffs = pd.DataFrame({"pipeline": c["pipeline"], "model": c["model"],
                          "reference": "clinical", "metric": "c_index",
                          "difference": c["corrected"] - 0.65,
                          "ci_low": c["corrected"] - 0.7, "ci_high": c["corrected"] - 0.6})
    return df, diffs


def test_strategy_comparison(tmp_path):
    df, diffs = _comparison_frames()
    disp = StrategyComparisonDisplay.from_summary(df).plot()
    ax = disp.ax_
    assert disp.diff_ax_ is None and len(disp.figure_.axes) == 1
    labels = ax.get_yticklabels()
    assert [t.get_text() for t in labels] == ["clinical", "burden", "largest", "statistics",
                                              "lesion_risk"]
    assert [t.get_fontstyle() for t in labels] == ["italic"] * 2 + ["normal"] * 3
    # corrected (filled) and apparent (hollow) markers: 2 models x 5 strategies each
    hollow = [ln for ln in ax.get_lines() if ln.get_markerfacecolor() == "white"]
    assert sum(len(ln.get_xdata()) for ln in hollow) == 10
    c = df[df["metric"] == "c_index"]
    np.testing.assert_allclose(np.sort(np.concatenate([ln.get_xdata() for ln in hollow])),
                               np.sort(c["apparent"]))
    assert len(ax.patches) == 2                            # grey bands of the baselines
    assert "Baseline" in [t.get_text() for t in ax.get_legend().get_texts()]
    check_inside(disp.figure_, "strategy")

    two = StrategyComparisonDisplay.from_summary(df, differences=diffs).plot()
    assert two.reference == "clinical" and len(two.figure_.axes) == 2
    assert any(ln.get_xdata()[0] == 0.0 for ln in two.diff_ax_.get_lines())   # zero line
    assert "reference" in [t.get_text().strip() for t in two.diff_ax_.texts]
    check_inside(two.figure_, "strategy_differences")

    ax1 = new_ax(figsize=(3.5, 3))
    one = StrategyComparisonDisplay.from_summary(df, metric="ibs").plot(ax=ax1)
    assert one.ax_ is ax1 and ax1.get_xlabel().startswith("Integrated Brier score")


def test_strategy_comparison_errors():
    df, diffs = _comparison_frames()
    with pytest.raises(SchemaError, match="no rows for metric 'uno_c'"):
        StrategyComparisonDisplay.from_summary(df, metric="uno_c")
    with pytest.raises(SchemaError, match="several rows for the same"):
        StrategyComparisonDisplay.from_summary(pd.concat([df, df.iloc[:1]]))
    with pytest.raises(SchemaError, match="needs a 'model' column"):
        StrategyComparisonDisplay.from_summary(df, differences=diffs.drop(columns="model"))


# --------------------------------------------------------------------------- optimism
def test_optimism_display():
    rng = np.random.default_rng(2)
    fit = rng.normal(0.75, 0.02, 60)
    test = fit - rng.normal(0.03, 0.01, 60)
    status_ok = np.ones(60, dtype=bool)
    fit[[3, 7]] = np.nan
    status_ok[[3, 7, 11]] = False                       # 11: failed but with numbers left
    disp = OptimismDisplay.from_values(fit, test, status_ok=status_ok).plot()
    ok = np.isfinite(fit) & status_ok
    assert disp.n_failed == 3
    np.testing.assert_allclose(disp.optimism, (fit - test)[ok])
    assert sum(p.get_height() for p in disp.patches_) == ok.sum()
    assert disp.mean_line_.get_xdata()[0] == pytest.approx((fit - test)[ok].mean())
    assert "57 of 60 replicates used, 3 failed" in disp.ax_.get_title()
    check_inside(disp.figure_, "optimism")
    ax = new_ax()
    assert OptimismDisplay.from_values(fit, test, status_ok=status_ok).plot(
        ax=ax, bins=5).ax_ is ax
    assert len(ax.patches) == 5
    with pytest.raises(ValueError, match="fit has 60 values but test has 59"):
        OptimismDisplay.from_values(fit, test[:-1])
    with pytest.raises(SchemaError, match="all 60 failed"):
        OptimismDisplay.from_values(fit, test, status_ok=np.zeros(60, dtype=bool))


# ------------------------------------------------------------------------ risk map
def _lesion_table(cohort):
    les = cohort.lesions.copy()
    les["risk"] = cohort.truth["lesions"]["score"].to_numpy()
    les["rank_in_patient"] = les.groupby("patient_id")["risk"].rank(ascending=False,
                                                                   method="first")
    les["high_risk"] = les["risk"] > les["risk"].quantile(0.8)
    return les[["patient_id", "lesion_id", "risk", "rank_in_patient", "high_risk", "organ",
                "volume_ml", "irradiated"]]


def test_lesion_risk_map(cohort):
    table = _lesion_table(cohort)
    disp = LesionRiskMapDisplay.from_table(table, max_patients=40).plot()
    cells = disp.cells
    assert len(disp.patients) == 40 and disp.n_patients_total == 300
    assert disp.ax_.get_title(loc="left") == "40 of 300 patients shown"
    # rows follow the patients' maximum lesion risk, highest on top (naive check)
    top = table.groupby("patient_id")["risk"].max()
    assert top.loc[disp.patients].is_monotonic_decreasing
    assert disp.patients[0] == top.idxmax() and disp.patients[-1] == top.idxmin()
    # every lesion of a shown patient is drawn, in rank order
    shown = table[table["patient_id"].isin(disp.patients)]
    assert len(cells) == len(shown)
    for _, sub in cells.groupby("patient_id"):
        assert sub.sort_values("col")["risk"].is_monotonic_decreasing
    assert [t.get_text() for t in disp.ax_.get_yticklabels()] == disp.patients
    scatter = [c for c in disp.ax_.collections if c is not disp.mesh_]
    sizes = [len(c.get_offsets()) for c in scatter]
    irr, hr = shown["irradiated"].sum(), shown["high_risk"].sum()
    assert sizes == [len(shown) - irr, irr, hr]           # plain, ringed, stars
    legend = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert {"lymph node", "irradiated", "high risk"} <= set(legend)
    check_inside(disp.figure_, "lesion_risk_map")
    top5 = LesionRiskMapDisplay.from_table(table, max_patients=5, select="top")
    assert top5.patients == top.sort_values(ascending=False).index[:5].tolist()


def test_lesion_risk_map_minimal_columns_on_given_ax():
    tab = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P3"],
                        "lesion_id": ["a", "b", "c", "d"], "risk": [0.2, 1.3, -0.4, 0.5],
                        "high_risk": [0, 1, 0, 0]})
    ax = new_ax(figsize=(3.5, 3.5), layout="constrained")
    disp = LesionRiskMapDisplay.from_table(tab).plot(ax=ax)
    assert disp.ax_ is ax and disp.patients == ["P1", "P3", "P2"]
    assert disp.cells.set_index("lesion_id").loc[["b", "a"], "col"].tolist() == [0, 1]
    stars = [c for c in ax.collections if c is not disp.mesh_]
    assert len(stars) == 1 and stars[0].get_offsets().tolist() == [[0.32, -0.27]]
    check_inside(disp.figure_, "lesion_risk_map_minimal")
    bad = tab.assign(risk=[0.2, np.nan, 1.0, 2.0])
    with pytest.raises(SchemaError, match="risk is missing") as err:
        LesionRiskMapDisplay.from_table(bad)
    assert err.value.ids == ["b"]


# ------------------------------------------------------------------------- waterfall
def test_lesion_waterfall(cohort):
    les = cohort.lesions
    disp = LesionWaterfallDisplay.from_lesions(les).plot()          # > 250: split by group
    pct = 100 * (les["diameter_followup_mm"] - les["longest_diameter_mm"]) \
        / les["longest_diameter_mm"]
    irr = les["irradiated"].to_numpy() == 1
    assert len(disp.bars_) == len(les)
    heights = np.array([b.get_height() for b in disp.bars_])
    expected = np.r_[np.sort(pct[irr])[::-1], np.sort(pct[~irr])[::-1]]
    np.testing.assert_allclose(heights, expected)
    rate_irr = float((pct[irr] <= -30).mean())
    assert disp.response_rates["irradiated"] == pytest.approx(rate_irr)
    legend = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert legend[0] == f"Irradiated: {100 * rate_irr:.0f}% (n = {irr.sum()})"
    levels = {ln.get_ydata()[0] for ln in disp.ax_.get_lines()}
    assert {20.0, -30.0, 0.0} <= levels
    check_inside(disp.figure_, "waterfall")


def test_lesion_waterfall_single_run_with_missing_followup():
    les = pd.DataFrame({"lesion_id": list("abcdef"),
                        "longest_diameter_mm": [20.0, 30, 40, 10, 50, 25],
                        "diameter_followup_mm": [10.0, 36, np.nan, 0, 50, 40],
                        "irradiated": [1, 0, 0, 1, 0, 0]})
    ax = new_ax(figsize=(3.5, 2.5), layout="constrained")
    disp = LesionWaterfallDisplay.from_lesions(les).plot(ax=ax)
    assert disp.ax_ is ax and disp.n_excluded == 1
    assert [b.get_height() for b in disp.bars_] == [60.0, 20.0, 0.0, -50.0, -100.0]
    colors = [mpl.colors.to_hex(b.get_facecolor()) for b in disp.bars_]
    assert colors[3] == colors[4] != colors[0]             # the two irradiated lesions
    assert "1 without follow-up diameter not shown" in ax.get_xlabel()
    assert disp.response_rates == {"irradiated": 1.0, "not irradiated": 0.0}
    check_inside(disp.figure_, "waterfall_small")
    with pytest.raises(SchemaError, match="must be 0/1") as err:
        LesionWaterfallDisplay.from_lesions(les.assign(irradiated=[1, 0, 2, 0, 0, 0]))
    assert err.value.ids == ["c"]
    with pytest.raises(SchemaError, match="positive number"):
        LesionWaterfallDisplay.from_lesions(les.assign(longest_diameter_mm=0.0))


# -------------------------------------------------------------------- PNG round trip
def test_all_saved_pngs_are_readable(cohort, tmp_path):
    time, event, groups = _km_inputs(cohort)
    disp = KaplanMeierDisplay.from_result(risk_group_survival(time, event, groups)).plot()
    (png, pdf) = save_figure(disp.figure_, tmp_path / "km")
    image = plt.imread(io.BytesIO(png.read_bytes()), format="png")
    assert image.shape[1] == 1050                        # 3.5 in at 300 dpi
    assert pdf.stat().st_size > 5_000


# --------------------------------------------------------- deprecated reporting shims
def test_deprecated_reporting_constructors_warn_and_agree():
    import survrad.reporting as rep
    from survrad.exceptions import SurvradDeprecationWarning

    rng = np.random.default_rng(5)
    time, event = rng.exponential(10, 80), rng.random(80) < 0.7
    group = np.where(rng.random(80) < 0.5, "Low", "High")
    with pytest.warns(SurvradDeprecationWarning, match="from_result"):
        old = KaplanMeierDisplay.from_risk_groups(time, event, group)
    new = KaplanMeierDisplay.from_result(risk_group_survival(time, event, group))
    assert old.logrank.p == new.logrank.p
    with pytest.warns(SurvradDeprecationWarning, match="moved to survrad.evaluation"):
        groups = rep.risk_groups_from_training(time, time)
    assert list(groups) == list(risk_groups_from_training(time, time))
    y = (event & (time < 8)).astype(int)
    with pytest.warns(SurvradDeprecationWarning, match="from_curve"):
        roc = ROCDisplay.from_predictions(y, -time)
    assert roc.auc == ROCDisplay.from_curve(roc_curve(y, -time)).auc

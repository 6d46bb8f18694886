"""PartialEffectDisplay: the rms Predict figure from computed partial effects."""

from __future__ import annotations

import numpy as np
import pytest

import survrad as sr
from survrad.exceptions import SchemaError
from survrad.reporting import PartialEffectDisplay, save_figure


@pytest.fixture(scope="module")
def pipe_and_cohort():
    df = sr.load_dataset("pbc").rename(columns={"id": "patient_id"})
    df["death"] = (df["status"] == 2).astype(int)
    c = sr.read_cohort(df, patient_features=["age", "bili", "edema"],
                       endpoints={"os": ("time", "death")})
    pipe = sr.CohortPipeline(formula="rcs(age, 4) + log(bili) + C(edema)").fit(c, "os")
    return pipe, c


def test_continuous_effect_draws_curve_band_and_rug(pipe_and_cohort, tmp_path) -> None:
    pipe, c = pipe_and_cohort
    eff = sr.partial_effect(pipe, "age", n_points=30)
    disp = PartialEffectDisplay.from_effect(eff, observed=c.patients["age"], label="Cox")
    disp.plot()
    np.testing.assert_allclose(disp.line_.get_ydata(), eff.log_hazard)
    np.testing.assert_allclose(disp.line_.get_xdata(), eff.values)
    assert disp.band_ is not None and disp.errorbar_ is None
    assert disp.ax_.get_ylabel() == "Log hazard ratio vs age = 51.001"
    assert disp.ax_.get_xlim() == pytest.approx((eff.values[0], eff.values[-1]))
    save_figure(disp.figure_, tmp_path / "age")
    assert (tmp_path / "age.png").stat().st_size > 0


def test_hazard_ratio_scale_and_given_ax(pipe_and_cohort) -> None:
    from matplotlib.figure import Figure

    pipe, c = pipe_and_cohort
    ax = Figure().add_subplot()
    disp = PartialEffectDisplay.from_effect(sr.partial_effect(pipe, "age", n_points=10),
                                         observed=c.patients["age"])
    disp.plot(ax=ax, hazard_ratio=True)
    assert disp.ax_ is ax and ax.get_yscale() == "log"
    np.testing.assert_allclose(disp.line_.get_ydata(), np.exp(disp.log_hazard))


def test_categorical_effect_draws_points_per_level(pipe_and_cohort) -> None:
    pipe, c = pipe_and_cohort
    disp = PartialEffectDisplay.from_effect(sr.partial_effect(pipe, "edema"),
                                         observed=c.patients["edema"]).plot()
    assert disp.line_ is None and disp.errorbar_ is not None
    labels = [t.get_text() for t in disp.ax_.get_xticklabels()]
    assert labels == ["0 (ref.)", "0.5", "1"]


def test_bad_numbers_are_refused(pipe_and_cohort) -> None:
    import dataclasses

    pipe, _ = pipe_and_cohort
    eff = sr.partial_effect(pipe, "age", n_points=5)
    bad = dataclasses.replace(eff, upper=np.r_[eff.upper[:-1], np.nan])
    with pytest.raises(SchemaError, match="non-finite"):
        PartialEffectDisplay.from_effect(bad)
    with pytest.raises(ValueError, match="same"):
        PartialEffectDisplay.from_effect(dataclasses.replace(eff, lower=eff.lower[:2]))

"""SwimmerDisplay: lanes of (start, stop] rows, merged runs of a 0/1 state, end marks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from test_figures import check_inside

from survrad.exceptions import SchemaError
from survrad.longitudinal import counting_process_rows, simulate_switch
from survrad.reporting import SwimmerDisplay


def sim_rows(n: int = 60) -> pd.DataFrame:
    sim = simulate_switch(n, random_state=3)
    return counting_process_rows(sim.patients, sim.scans, time_col="os_time",
                                 event_col="os_event", switch_on={"responded": "responded"})


def test_lanes_follow_the_rows():
    rows = sim_rows(30)
    disp = SwimmerDisplay.from_rows(rows, state_col="responded", state_label="Responded")
    assert disp.n_patients == 30 and len(disp.ends) == 30
    ends = rows.groupby("patient_id").agg(end=("stop", "max"), event=("event", "max"))
    pd.testing.assert_series_equal(disp.ends["end"], ends.loc[disp.ends.index, "end"],
                                   check_names=False)
    assert disp.ends["end"].is_monotonic_increasing          # shortest follow-up at lane 0
    # the switch splits a lane in two runs at most (0 then 1), never 1 then 0
    runs = disp.segments.groupby("lane")["state"].agg(list)
    assert runs.map(lambda s: s in ([0], [1], [0, 1])).all()
    total = disp.segments.assign(d=lambda s: s["stop"] - s["start"]).groupby("lane")["d"].sum()
    np.testing.assert_allclose(total.to_numpy(), disp.ends["end"].to_numpy())
    disp.plot(time_label="Years since start of treatment")
    assert disp.ax_.get_legend().get_title().get_text() == "Responded"
    check_inside(disp.figure_, "swimmer")


def test_many_patients_are_thinned_and_said_so():
    disp = SwimmerDisplay.from_rows(sim_rows(60), state_col="responded", max_patients=20)
    ax = Figure().add_subplot()
    disp.plot(ax=ax)
    assert disp.ax_ is ax and len(disp.ends) == 20
    assert "20 of 60 shown" in ax.get_ylabel()


def test_bad_rows_are_refused():
    rows = sim_rows(10)
    with pytest.raises(SchemaError, match="lacks columns"):
        SwimmerDisplay.from_rows(rows.drop(columns="event"), state_col="responded")
    with pytest.raises(SchemaError, match="event must be coded exactly 0/1"):
        SwimmerDisplay.from_rows(rows.assign(responded=2), state_col="responded")
    with pytest.raises(SchemaError, match="start must be before stop"):
        SwimmerDisplay.from_rows(rows.assign(stop=rows["start"]), state_col="responded")

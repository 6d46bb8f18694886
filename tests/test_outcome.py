"""Survival outcomes: Surv.from_arrays, Surv.from_frame, check_y_survival, check_event hints.

from_arrays and from_frame must apply the same checks and warnings (docs/reliability.md #8-#12),
and their output must be accepted by scikit-survival as is.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from survrad.data.outcome import SURV_DTYPE, Surv, check_event, check_y_survival
from survrad.exceptions import DataWarning, SchemaError

IDS = ["P1", "P2", "P3", "P4"]


def from_arrays(time, event, **kw) -> np.ndarray:
    return Surv.from_arrays(time=time, event=event, ids=IDS[:len(time)], **kw)


def from_frame(time, event, **kw) -> np.ndarray:
    df = pd.DataFrame({"t": time, "d": event}, index=IDS[:len(time)])
    return Surv.from_frame(df, time="t", event="d", **kw)


BUILDERS: list[Callable[..., np.ndarray]] = [from_arrays, from_frame]
builders = pytest.mark.parametrize("build", BUILDERS, ids=["from_arrays", "from_frame"])


# ------------------------------------------------------------- the same checks
@builders
def test_clean_input_gives_the_structured_array(build) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = build([5.0, 3.0, 9.0, 1.5], [1, 0, True, 0.0])
    assert y.dtype == SURV_DTYPE
    assert y["time"].tolist() == [5.0, 3.0, 9.0, 1.5]
    assert y["event"].tolist() == [True, False, True, False]


@builders
def test_time_zero_warns_naming_the_ids(build) -> None:
    with pytest.warns(DataWarning, match=r"survival time is 0 for 'P2', 'P4' \(2 in total\); "
                                         r"allowed, but check"):
        y = build([5.0, 0.0, 9.0, 0.0], [1, 0, 1, 1])
    assert y["time"].tolist() == [5.0, 0.0, 9.0, 0.0]


def test_time_zero_warning_points_at_the_caller() -> None:
    with pytest.warns(DataWarning) as record:
        from_frame([0.0, 1.0], [1, 0])
    assert record[0].filename == __file__
    assert "column 't': survival time is 0" in str(record[0].message)


@builders
def test_negative_time_is_an_error(build) -> None:
    with pytest.raises(SchemaError, match=r"survival time is negative.*ids: 'P3'") as info:
        build([5.0, 3.0, -1.0], [1, 0, 1])
    assert info.value.ids == ["P3"]


@builders
def test_text_time_shows_the_raw_cells(build) -> None:
    with pytest.raises(SchemaError, match=r"not a number.*values: '12m' \(1 in total\)"):
        build(["12m", 3.0, 4.0], [1, 0, 1])


@builders
def test_one_two_coding_is_refused_with_the_hint(build) -> None:
    with pytest.raises(SchemaError, match=r"looks like 1=censored/2=dead coding"):
        build([5.0, 3.0, 9.0], [1, 2, 2])


@builders
def test_event_map_recodes_explicitly(build) -> None:
    y = build([5.0, 3.0, 9.0], [1, 2, 2], event_map={1: 0, 2: 1})
    assert y["event"].tolist() == [False, True, True]


def test_from_arrays_lengths_must_match() -> None:
    with pytest.raises(SchemaError, match=r"inputs differ in length \(time: 3, event: 2\)"):
        Surv.from_arrays(time=[1.0, 2.0, 3.0], event=[1, 0])
    with pytest.raises(SchemaError, match=r"inputs differ in length \(time: 2, event: 2, "
                                          r"ids: 3\)"):
        Surv.from_arrays(time=[1.0, 2.0], event=[1, 0], ids=["a", "b", "c"])


def test_from_arrays_needs_one_dimensional_input() -> None:
    with pytest.raises(SchemaError, match=r"time must be one-dimensional, got shape \(2, 1\)"):
        Surv.from_arrays(time=[[1.0], [2.0]], event=[1, 0])


def test_from_frame_missing_column_names_close_matches() -> None:
    df = pd.DataFrame({"time": [1.0, 2.0], "event": [1, 0]})
    with pytest.raises(SchemaError, match=r"column 'tme': column not found\. Available "
                                          r"columns: 'time', 'event' \(2 in total\)\. Close "
                                          r"matches: \['time'\]") as info:
        Surv.from_frame(df, time="tme", event="event")
    assert info.value.column == "tme"


def test_from_frame_rejects_arrays() -> None:
    with pytest.raises(TypeError, match=r"df must be a pandas DataFrame.*Surv\.from_arrays"):
        Surv.from_frame(np.zeros((2, 2)), time="t", event="d")  # type: ignore[arg-type]


def test_from_frame_uses_the_index_as_ids_and_names_the_column() -> None:
    df = pd.DataFrame({"t": [1.0, np.nan], "d": [1, 0]}, index=["S7", "S9"])
    with pytest.raises(SchemaError, match=r"column 't': survival time is missing.*ids: 'S9'"):
        Surv.from_frame(df, time="t", event="d")


def test_from_frame_equals_from_arrays() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"t": rng.exponential(10, 30) + 0.1, "d": rng.integers(0, 2, 30)})
    a = Surv.from_frame(df, time="t", event="d")
    b = Surv.from_arrays(time=df["t"], event=df["d"])
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------- event message (#12)
def test_one_two_hint_survives_a_missing_event() -> None:
    with pytest.raises(SchemaError, match=r"found value counts \{2: 2, 1: 1, nan: 1\}\. "
                                          r"This looks like 1=censored/2=dead coding"):
        check_event([1, 2, np.nan, 2])
    with pytest.raises(SchemaError, match=r"A competing-risk code \(2\) is present"):
        check_event([0, 1, 2, None])


# ------------------------------------------------------------------ check_y_survival
def test_check_y_survival_accepts_every_layout() -> None:
    from sksurv.util import Surv as SksurvSurv

    y = Surv.from_arrays(time=[4.0, 2.0, 7.0], event=[1, 0, 1])
    for candidate in (y, SksurvSurv.from_arrays([True, False, True], [4.0, 2.0, 7.0]),
                      ([4.0, 2.0, 7.0], [1, 0, 1])):
        time, event = check_y_survival(candidate)
        assert time.tolist() == [4.0, 2.0, 7.0]
        assert event.tolist() == [True, False, True]
    swapped = np.array([(4.0, True), (2.0, False)], dtype=[("t", "<f8"), ("e", "?")])
    time, event = check_y_survival(swapped)
    assert time.tolist() == [4.0, 2.0] and event.tolist() == [True, False]


def test_check_y_survival_rejects_bad_outcomes() -> None:
    with pytest.raises(TypeError, match=r"y must be a survival outcome"):
        check_y_survival(np.array([1.0, 2.0]))
    two_floats = np.zeros(2, dtype=[("a", "<f8"), ("b", "<f8")])
    with pytest.raises(TypeError, match=r"one boolean event field"):
        check_y_survival(two_floats)
    with pytest.raises(SchemaError, match=r"inputs differ in length \(time: 3, event: 2\)"):
        check_y_survival(([1.0, 2.0, 3.0], [1, 0]))
    bad = np.array([(True, -1.0), (False, 2.0)], dtype=SURV_DTYPE)
    with pytest.raises(SchemaError, match=r"survival time is negative"):
        check_y_survival(bad)


def test_scikit_survival_fits_on_surv_from_frame() -> None:
    """The array is scikit-survival's own layout: its Cox model fits on it directly."""
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.util import Surv as SksurvSurv
    from sksurv.util import check_y_survival as sksurv_check

    rng = np.random.default_rng(4)
    n = 120
    x = rng.normal(size=n)
    t = rng.exponential(np.exp(-0.7 * x)) + 0.01
    c = rng.exponential(2.0, n) + 0.01
    df = pd.DataFrame({"x": x, "time": np.minimum(t, c), "event": (t <= c).astype(int)})
    y = Surv.from_frame(df, time="time", event="event")
    event, time = sksurv_check(y)
    np.testing.assert_array_equal(time, df["time"])
    np.testing.assert_array_equal(event, df["event"] == 1)
    ours = CoxPHSurvivalAnalysis().fit(df[["x"]], y)
    theirs = CoxPHSurvivalAnalysis().fit(
        df[["x"]], SksurvSurv.from_dataframe("event", "time", df.assign(
            event=df["event"].astype(bool))))
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-12)
    assert 0.4 < ours.coef_[0] < 1.0          # recovers the true log hazard ratio 0.7

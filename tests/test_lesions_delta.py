"""Delta-radiomics: lesions matched by lesion_id across two timepoints.

Truth: a hand-made two-timepoint table with a new and a vanished lesion (every number
worked out in the comments), a naive pandas-merge reference, and the simulator's known
new and vanished lesions.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from survrad.data.cohort import Cohort
from survrad.data.simulate import simulate_cohort
from survrad.exceptions import ConfigError, DataWarning, NotFittedError, SchemaError
from survrad.lesions import Delta


def make_cohort(rows: list[tuple], patients=("P1", "P2", "P3", "P4")) -> Cohort:
    les = pd.DataFrame(rows, columns=["patient_id", "lesion_id", "timepoint", "volume_ml",
                                      "rad_x", "rad_y"])
    pat = pd.DataFrame({"age": np.arange(len(patients), dtype=float)},
                       index=pd.Index(list(patients), name="patient_id"))
    return Cohort(pat, les, lesion_features=("rad_x", "rad_y"))


ROWS = [
    # P1: 'a' matched, 'b' vanished, 'c' new at t1
    ("P1", "a", 0, 1.0, 2.0, 10.0), ("P1", "b", 0, 3.0, 4.0, -2.0),
    ("P1", "a", 1, 0.5, 3.0, 5.0), ("P1", "c", 1, 2.0, 9.0, 1.0),
    # P2: rad_y is 0 at baseline -> relative change guarded by eps
    ("P2", "a", 1, 2.0, 1.0, 3e-7), ("P2", "a", 0, 2.0, 1.0, 0.0),
    # P3: its only lesion vanished
    ("P3", "a", 0, 1.0, 5.0, 1.0),
    # P4: two matched lesions
    ("P4", "a", 0, 1.0, 2.0, 1.0), ("P4", "b", 0, 3.0, 8.0, 2.0),
    ("P4", "b", 1, 1.0, 4.0, 4.0), ("P4", "a", 1, 1.0, 4.0, 1.0),
]


@pytest.fixture
def hand() -> Cohort:
    return make_cohort(ROWS)


def test_delta_by_hand_with_new_and_vanished_lesions(hand: Cohort) -> None:
    s = Delta()
    with pytest.warns(DataWarning, match=r"'P3' \(1 in total\).*no lesion present at both"):
        out = s.fit(hand).transform(hand)
    assert s.timepoints_ == (0, 1)
    # rad_y is <= 0 on some lesions: no log-ratio, with a note
    assert s.log_ratio_features_ == ["rad_x"]
    assert "rad_y" in s.notes_[0]
    assert list(out.columns) == ["rad_x__delta_mean", "rad_x__rel_delta_mean",
                                 "rad_x__log_ratio_mean", "rad_y__delta_mean",
                                 "rad_y__rel_delta_mean", "n_matched", "n_new", "n_vanished"]
    # P1: a 2 -> 3 (x), 10 -> 5 (y)
    assert out.loc["P1"].tolist() == pytest.approx(
        [1.0, 0.5, np.log(1.5), -5.0, -0.5, 1.0, 1.0, 1.0])
    # P2: y 0 -> 3e-7: relative change (3e-7 - 0) / max(0, 1e-6) = 0.3
    assert out.loc["P2"].tolist() == pytest.approx([0.0, 0.0, 0.0, 3e-7, 0.3, 1.0, 0.0, 0.0])
    # P4: a 2 -> 4, b 8 -> 4 (x); a 1 -> 1, b 2 -> 4 (y)
    assert out.loc["P4"].tolist() == pytest.approx(
        [-1.0, 0.25, 0.0, 1.0, 0.5, 2.0, 0.0, 0.0])
    # P3: all vanished -> training means of the change columns, true counts
    change_cols = out.columns[:5]
    expected = out.loc[["P1", "P2", "P4"], change_cols].mean()
    np.testing.assert_allclose(out.loc["P3", change_cols].to_numpy(), expected.to_numpy())
    assert out.loc["P3", ["n_matched", "n_new", "n_vanished"]].tolist() == [0.0, 0.0, 1.0]


def test_delta_aggregates_and_kinds(hand: Cohort) -> None:
    s = Delta(features="rad_x", kinds=["absolute"], aggregate=["vw_mean", "max", "median"])
    with pytest.warns(DataWarning, match="'P3'"):
        out = s.fit_transform(hand)
    assert list(out.columns) == ["rad_x__delta_vw_mean", "rad_x__delta_max",
                                 "rad_x__delta_median", "n_matched", "n_new", "n_vanished"]
    # P4: changes +2 (baseline volume 1) and -4 (baseline volume 3)
    assert out.loc["P4", "rad_x__delta_vw_mean"] == pytest.approx((2 - 12) / 4)
    assert out.loc["P4", "rad_x__delta_max"] == 2.0
    assert out.loc["P4", "rad_x__delta_median"] == -1.0


def test_delta_eps_is_a_parameter(hand: Cohort) -> None:
    with pytest.warns(DataWarning):
        out = Delta(features="rad_y", kinds=["relative"], eps=1e-3).fit_transform(hand)
    assert out.loc["P2", "rad_y__rel_delta_mean"] == pytest.approx(3e-7 / 1e-3)


def test_ambiguous_lesion_id_is_an_error(hand: Cohort) -> None:
    rows = [*ROWS, ("P4", "b", 1, 1.0, 5.0, 5.0), ("P1", "a", 0, 1.0, 1.0, 1.0)]
    with pytest.raises(SchemaError, match=r"ambiguous.*timepoint 0.*'P1/a'"):
        Delta().fit(make_cohort(rows))
    rows = [*ROWS, ("P4", "b", 1, 1.0, 5.0, 5.0)]
    with pytest.raises(SchemaError, match=r"'P4/b'") as err:
        Delta().fit(make_cohort(rows))
    assert err.value.ids == ["P4/b"]


def test_one_timepoint_is_an_error(hand: Cohort) -> None:
    base = [r for r in ROWS if r[2] == 0]
    with pytest.raises(SchemaError, match=r"Delta needs two timepoints.*\[0\]"):
        Delta().fit(make_cohort(base))
    no_col = make_cohort(base)
    les = no_col.lesions.drop(columns="timepoint")
    c = Cohort(no_col.patients, les, lesion_features=("rad_x", "rad_y"))
    with pytest.raises(SchemaError, match=r"Delta needs two timepoints.*no 'timepoint'"):
        Delta().fit(c)
    # fitted on timepoints (0, 1), applied to a cohort that lacks one of them
    s = Delta().fit(hand)  # fit warns about nothing; transform lists filled patients
    with pytest.raises(SchemaError, match=r"the lesion table has only \[0\]"):
        s.transform(make_cohort(base))
    shifted = [(p, lid, 2 if t == 1 else t, v, x, y) for p, lid, t, v, x, y in ROWS]
    with pytest.raises(SchemaError, match=r"\[1\] not in this cohort"):
        s.transform(make_cohort(shifted))


def test_explicit_timepoints(hand: Cohort) -> None:
    later = [(p, lid, 2, v, x * 2, y) for p, lid, t, v, x, y in ROWS if t == 0]
    c = make_cohort(ROWS + later)
    s = Delta(features="rad_x", kinds=["absolute"], timepoints=(0, 2)).fit(c)
    out = s.transform(c)
    assert s.timepoints_ == (0, 2)
    # every baseline lesion is present at t2 with a doubled rad_x: change = mean x0
    assert out["rad_x__delta_mean"].tolist() == [3.0, 1.0, 5.0, 5.0]
    assert out["n_new"].sum() == 0 and out["n_vanished"].sum() == 0
    with pytest.raises(SchemaError, match=r"\[7\] are not in the lesion table"):
        Delta(timepoints=(0, 7)).fit(c)
    with pytest.raises(ConfigError, match="two distinct"):
        Delta(timepoints=(0, 0)).fit(c)


def test_log_ratio_on_new_non_positive_values(hand: Cohort) -> None:
    s = Delta(features="rad_x", kinds=["log_ratio"]).fit(hand)
    rows = [r if not (r[0] == "P4" and r[1] == "a" and r[2] == 1) else
            ("P4", "a", 1, 1.0, -1.0, 1.0) for r in ROWS]
    with pytest.raises(SchemaError, match=r"log_ratio needs positive.*'P4/a'"):
        s.transform(make_cohort(rows))
    with pytest.raises(ConfigError, match="no feature is positive"):
        Delta(features="rad_y", kinds=["log_ratio"]).fit(hand)


def test_delta_bad_arguments(hand: Cohort) -> None:
    with pytest.raises(ValueError, match="Did you mean 'relative'"):
        Delta(kinds=["relativ"]).fit(hand)
    with pytest.raises(ConfigError, match="eps"):
        Delta(eps=0.0).fit(hand)
    with pytest.raises(ConfigError, match="twice"):
        Delta(aggregate=["mean", "mean"]).fit(hand)


def naive_delta(cohort: Cohort, features: list[str]) -> pd.DataFrame:
    les = cohort.lesions
    t0, t1 = les[les["timepoint"] == 0], les[les["timepoint"] == 1]
    m = t0.merge(t1, on=["patient_id", "lesion_id"], how="outer", suffixes=("_0", "_1"),
                 indicator=True)
    both = m[m["_merge"] == "both"]
    out = pd.DataFrame(index=cohort.patient_ids)
    for f in features:
        d = both[f + "_1"] - both[f + "_0"]
        rel = d / np.maximum(both[f + "_0"].abs(), 1e-6)
        out[f"{f}__delta_mean"] = d.groupby(both["patient_id"]).mean()
        out[f"{f}__rel_delta_mean"] = rel.groupby(both["patient_id"]).mean()
    counts = m.groupby(["patient_id", "_merge"], observed=False).size().unstack(fill_value=0)
    out["n_new"] = counts["right_only"].reindex(out.index, fill_value=0)
    out["n_vanished"] = counts["left_only"].reindex(out.index, fill_value=0)
    return out


def test_delta_on_simulated_cohort_against_truth_and_naive_merge() -> None:
    c = simulate_cohort(n_patients=150, random_state=4, timepoints=2)
    feats = list(c.lesion_features[:5])
    s = Delta(features=feats, kinds=["absolute", "relative"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # patients whose lesions all vanished
        out = s.fit(c).transform(c)
    ref = naive_delta(c, feats)
    has = out["n_matched"] > 0
    cols = [col for col in ref.columns if "__" in col]
    np.testing.assert_allclose(out.loc[has, cols].to_numpy(), ref.loc[has, cols].to_numpy(),
                               rtol=1e-10)
    assert out["n_new"].tolist() == ref["n_new"].tolist()
    assert out["n_vanished"].tolist() == ref["n_vanished"].tolist()
    # the simulator's own record of new and vanished lesions
    truth = c.truth["lesions"]
    new = truth.groupby("patient_id")["new"].sum().reindex(c.patient_ids, fill_value=0)
    gone = (truth["vanished"] & (truth["timepoint"] == 0)).groupby(
        truth["patient_id"]).sum().reindex(c.patient_ids, fill_value=0)
    assert out["n_new"].tolist() == new.astype(float).tolist()
    assert out["n_vanished"].tolist() == gone.astype(float).tolist()
    assert out["n_new"].sum() > 0 and out["n_vanished"].sum() > 0
    assert np.isfinite(out.to_numpy()).all()


def test_delta_contract_resample_and_clone() -> None:
    c = simulate_cohort(n_patients=40, random_state=5, timepoints=2)
    s = Delta(aggregate=["mean", "vw_mean"])
    with pytest.raises(NotFittedError):
        s.transform(c)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        out = s.fit(c).transform(c)
        boot = s.transform(c.take(["P003", "P003", "P010"]))
    assert out.index.equals(c.patient_ids)
    assert all(dt == np.float64 for dt in out.dtypes)
    assert list(boot.index) == ["P003", "P003#2", "P010"]
    np.testing.assert_array_equal(boot.loc["P003#2"].to_numpy(), out.loc["P003"].to_numpy())
    np.testing.assert_array_equal(boot.loc["P010"].to_numpy(), out.loc["P010"].to_numpy())
    assert repr(clone(s)) == repr(s) and not hasattr(clone(s), "timepoints_")

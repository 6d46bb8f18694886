"""RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228): worked cases, one rule each.

Expected values are computed by hand in each test from small numbers. The engine is
survrad.longitudinal.recist; the helpers in scan_tables.py build one-patient tables.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scan_tables import NAN, best, column, responses, stack, study

import survrad as sr
from survrad.exceptions import ConfigError, DataWarning, SchemaError
from survrad.longitudinal import recist


# ------------------------------------------------------------------- timepoint: PD
def test_pd_exactly_20pct_and_5mm():
    # nadir 25 -> 30: +5 mm = +20 %: both bars met exactly (inclusive)
    res = recist(study({"T1": [25, 25, 30]}))
    assert responses(res) == ["SD", "PD"]
    assert column(res, "pct_from_nadir")[2] == pytest.approx(20.0)


def test_not_pd_20pct_but_4mm():
    # 20 -> 24 is +20 % but only +4 mm
    assert responses(recist(study({"T1": [20, 24]}))) == ["SD"]


def test_not_pd_5mm_but_below_20pct():
    # 40 -> 47 is +7 mm but +17.5 %
    assert responses(recist(study({"T1": [40, 47]}))) == ["SD"]


def test_pd_and_pr_boundaries_survive_floating_point():
    # 26 -> 31.2 is +5.2 mm = +20 % and 28 -> 19.6 is -30 %, although in binary floating
    # point 31.2 - 26 < 0.2 * 26 and 28 - 19.6 < 0.3 * 28
    assert 31.2 - 26 < 0.2 * 26 and 28 - 19.6 < 0.3 * 28
    assert responses(recist(study({"T1": [26, 31.2]}))) == ["PD"]
    assert responses(recist(study({"T1": [28, 19.6]}))) == ["PR"]


def test_nadir_after_baseline_sets_pd_reference():
    # 50 -> 30 (PR, -40 %) -> 36: +6 mm = +20 % over the nadir 30, still -28 % from baseline
    res = recist(study({"T1": [50, 30, 36]}))
    assert responses(res) == ["PR", "PD"]
    assert column(res, "nadir")[1:].tolist() == [50.0, 30.0]
    assert column(res, "pct_from_baseline")[2] == pytest.approx(-28.0)


def test_pd_takes_precedence_over_pr():
    # 100 -> 40 -> 50: -50 % from baseline (PR bar) but +25 %, +10 mm over the nadir
    assert responses(recist(study({"T1": [100, 40, 50]}))) == ["PR", "PD"]


def test_incomplete_sum_is_not_a_nadir():
    # T2 not measured at scan 1: the partial sum 20 is no nadir; 60 -> 20+NaN -> 60 is SD
    res = recist(study({"T1": [30, 20, 30], "T2": [30, NAN, 30]}))
    assert responses(res) == ["NE", "SD"]
    assert column(res, "nadir")[2] == 60.0


# ------------------------------------------------------------------- timepoint: PR/CR
def test_pr_30pct_below_baseline():
    # 50 -> 35 is exactly -30 %; 50 -> 36 is -28 %
    assert responses(recist(study({"T1": [50, 35]}))) == ["PR"]
    assert responses(recist(study({"T1": [50, 36]}))) == ["SD"]


def test_cr_all_non_nodal_targets_zero():
    res = recist(study({"T1": [30, 0], "T2": [20, 0]}))
    assert responses(res) == ["CR"]
    assert column(res, "sum_diameters")[1] == 0.0


def test_nodes_below_10mm_short_axis_count_as_cr():
    # liver 15 -> 0, node short axis 20 -> 8: CR although the sum is 8 mm
    tab = study({"T1": [15, 0], "N1": [30, 12]}, organs={"N1": "lymph_node"},
                short_axis={"N1": [20, 8]})
    res = recist(tab)
    assert responses(res) == ["CR"]
    assert column(res, "sum_diameters").tolist() == [35.0, 8.0]   # 15 + 20, 0 + 8


def test_node_at_10mm_short_axis_is_not_cr():
    # node 20 -> 10 mm short axis is not normal (< 10 mm): 35 -> 10 is PR
    tab = study({"T1": [15, 0], "N1": [30, 14]}, organs={"N1": "lymph_node"},
                short_axis={"N1": [20, 10]})
    assert responses(recist(tab)) == ["PR"]


def test_target_cr_with_non_target_present_is_pr():
    # T1 target (30 mm); NT (8 mm, not measurable) still present at follow-up
    assert responses(recist(study({"T1": [30, 0], "NT": [8, 5]}))) == ["PR"]


def test_target_cr_with_non_target_not_recorded_is_pr():
    # RECIST 1.1 Table 1: target CR, non-targets not evaluated -> PR
    assert responses(recist(study({"T1": [30, 0], "NT": [8, None]}))) == ["PR"]


def test_cr_needs_non_targets_gone():
    assert responses(recist(study({"T1": [30, 0], "NT": [8, 0]}))) == ["CR"]


# -------------------------------------------------------------- timepoint: other PD
def test_new_lesion_at_stable_sum_is_pd():
    res = recist(study({"T1": [30, 30], "N1": [None, 6]}))
    assert responses(res) == ["PD"]
    assert column(res, "new_lesions").tolist() == [0, 1]
    assert column(res, "target_response")[1] == "SD"
    assert res.new_lesions[["lesion_id", "first_timepoint"]].values.tolist() == [["N1", 1]]


def test_new_lesion_recorded_as_gone_is_not_a_lesion():
    # a row of 0 mm for a lesion never seen before records nothing
    res = recist(study({"T1": [30, 30], "N1": [None, 0]}))
    assert responses(res) == ["SD"]
    assert res.new_lesions.empty


def test_new_node_counts_from_10mm_short_axis():
    tab = study({"T1": [30, 30, 30], "N1": [None, 12, 14]}, organs={"N1": "lymph_node"},
                short_axis={"N1": [None, 9, 10]})
    assert responses(recist(tab)) == ["SD", "PD"]


def test_non_target_progression_is_pd():
    tab = study({"T1": [30, 20, 20]}, non_target_progression=[0, 0, 1])
    assert responses(recist(tab)) == ["PR", "PD"]


def test_reappearing_baseline_lesion_is_not_new():
    # T2 vanishes and comes back (3 mm): not a new lesion; 15 -> 18 is +3 mm only
    res = recist(study({"T1": [30, 15, 15], "T2": [20, 0, 3]}))
    assert responses(res) == ["PR", "PR"]
    assert column(res, "new_lesions").tolist() == [0, 0, 0]


def test_reappearance_after_cr_is_pd():
    # RECIST 1.1 Table 3 footnote: after a CR, any disease seen again is PD (3 mm here,
    # under the 5 mm bar)
    assert responses(recist(study({"T1": [20, 0, 3]}))) == ["CR", "PD"]


# ---------------------------------------------------------------- timepoint: NE
def test_missing_target_measurement_is_ne():
    assert responses(recist(study({"T1": [30, 20], "T2": [20, NAN]}))) == ["NE"]


def test_missing_target_row_is_ne():
    assert responses(recist(study({"T1": [30, 20], "T2": [20, None]}))) == ["NE"]


def test_missing_target_but_pd_already_met_is_pd():
    # sum 30 -> 40 + (not measured): the measured targets alone are +10 mm, +33 %
    res = recist(study({"T1": [20, 40], "T2": [10, NAN]}))
    assert responses(res) == ["PD"]
    assert np.isnan(column(res, "sum_diameters")[1])


def test_missing_target_with_new_lesion_is_pd():
    assert responses(recist(study({"T1": [30, NAN], "N1": [None, 8]}))) == ["PD"]


def test_patient_without_targets_is_ne_and_warned():
    tab = stack(study({"T1": [30, 25]}), study({"NT": [8, 8]}, patient="P2"))
    with pytest.warns(DataWarning, match="P2"):
        res = recist(tab)
    assert responses(res, "P2") == ["NE"]
    assert best(res, "P2") == "NE"


# ------------------------------------------------------------------- target selection
def test_target_selection_max_5_total_2_per_organ():
    # ranked by size: liver 50, lung 45, liver 40, bone 35, liver 30 (third liver: skipped),
    # adrenal 25 (fifth target), lung 20 and spleen 15 (over 5)
    sizes = {"A": 50, "B": 40, "C": 30, "D": 45, "E": 20, "F": 35, "G": 25, "H": 15}
    organs = dict(zip("ABCDEFGH", ["liver"] * 3 + ["lung"] * 2 + ["bone", "adrenal",
                                                                  "spleen"], strict=True))
    res = recist(study({k: [v, v] for k, v in sizes.items()}, organs=organs))
    assert sorted(res.targets["lesion_id"]) == ["A", "B", "D", "F", "G"]
    assert column(res, "sum_diameters")[0] == 50 + 40 + 45 + 35 + 25


def test_measurability_thresholds_and_node_short_axis():
    # non-nodal 9.9 mm: not measurable; node 30 mm long, 14 mm short: not measurable;
    # node 18 mm long, 15 mm short: measurable, summed by its short axis
    tab = study({"S": [9.9, 9.9], "N1": [30, 30], "N2": [18, 18], "T": [12, 12]},
                organs={"N1": "lymph_node", "N2": "Lymph_Node"},
                short_axis={"N1": [14, 14], "N2": [15, 15]})
    res = recist(tab)
    assert sorted(res.targets["lesion_id"]) == ["N2", "T"]
    assert res.targets.set_index("lesion_id")["baseline_size_mm"].to_dict() == {"N2": 15.0,
                                                                                "T": 12.0}
    assert column(res, "sum_diameters")[0] == 27.0


def test_target_tie_broken_by_lesion_id():
    # three liver lesions of 30 mm: two targets, the smallest ids, whatever the row order
    tab = study({"c": [30, 30], "a": [30, 30], "b": [30, 30]}, organs=dict.fromkeys("abc",
                                                                                    "liver"))
    for table in (tab, tab.iloc[::-1]):
        assert recist(table).targets["lesion_id"].tolist() == ["a", "b"]


def test_is_target_marks_used_as_given():
    # the 12 mm lesion is marked, the 40 mm one is not
    tab = study({"T1": [12, 6], "X": [40, 40]}, targets={"T1": 1, "X": 0})
    res = recist(tab)
    assert res.targets["lesion_id"].tolist() == ["T1"]
    assert responses(res) == ["PR"]                  # 12 -> 6 is -50 %


def test_is_target_more_than_5_warns():
    tab = study({f"T{i}": [20, 20] for i in range(6)}, targets=dict.fromkeys(
        [f"T{i}" for i in range(6)], 1))
    with pytest.warns(DataWarning, match="more than 5"):
        res = recist(tab)
    assert len(res.targets) == 6


def test_nodal_organs_configurable():
    # with no nodal organs, the node is measured by its longest diameter (30 mm)
    tab = study({"N1": [30, 30]}, organs={"N1": "lymph_node"}, short_axis={"N1": [14, 14]})
    assert recist(tab, nodal_organs=()).targets["baseline_size_mm"].tolist() == [30.0]


# ------------------------------------------------------------ best overall response
WEEKS = [0, 8, 11, 12, 16, 24]


def _timed(sizes: list[float], weeks: list[float], **kw) -> pd.DataFrame:
    return study({"T1": sizes}, weeks=weeks, **kw)


def test_confirmation_4_weeks():
    # PR at week 8; a second PR 3 weeks later does not confirm, 4 weeks later does
    early = _timed([50, 30, 30], [0, 8, 11])
    on_time = _timed([50, 30, 30], [0, 8, 12])
    assert best(recist(early, confirm=True, time_unit="weeks")) == "SD"    # week 8 >= 6
    assert best(recist(on_time, confirm=True, time_unit="weeks")) == "PR"
    assert best(recist(early, confirm=False, time_unit="weeks")) == "PR"


def test_confirmation_4_weeks_with_dates():
    # 2021-01-04 (baseline), 2021-03-01 (PR), 2021-03-29 (PR, 28 days later): confirmed
    days = ["2021-01-04", "2021-03-01", "2021-03-28"]
    assert best(recist(study({"T1": [50, 30, 30]}, dates=days), confirm=True)) == "SD"
    days[2] = "2021-03-29"
    res = recist(study({"T1": [50, 30, 30]}, dates=days), confirm=True)
    assert best(res) == "PR"
    assert res.confirm_interval == 28.0 and res.time_unit == "days"


def test_confirmed_cr_and_reappearance():
    cr_cr = _timed([50, 0, 0], [0, 8, 12])
    cr_back = _timed([50, 0, 20], [0, 8, 12])            # 20 mm after CR: PD
    node_back = study({"N1": [30, 12, 13]}, organs={"N1": "lymph_node"},
                      short_axis={"N1": [20, 9, 11]}, weeks=[0, 8, 12])
    assert best(recist(cr_cr, confirm=True, time_unit="weeks")) == "CR"
    assert responses(recist(cr_back, time_unit="weeks")) == ["CR", "PD"]
    # node 20 -> 9 (CR) -> 11 mm short axis: back over 10 mm after CR is PD (+2 mm only),
    # so the CR is not confirmed; best response SD (week 8 >= 6 weeks)
    res = recist(node_back, confirm=True, time_unit="weeks")
    assert responses(res) == ["CR", "PD"]
    assert best(res) == "SD"


def test_cr_then_pr_confirms_pr():
    # RECIST 1.1 Table 3: CR then PR (>= 4 weeks) gives PR. Scan 2: targets still gone,
    # the non-target not recorded (target CR, non-target not evaluated: PR)
    tab = study({"T1": [40, 0, 0], "NT": [8, 0, None]}, weeks=[0, 8, 12])
    res = recist(tab, confirm=True, time_unit="weeks")
    assert responses(res) == ["CR", "PR"]
    assert best(res) == "PR"
    assert best(recist(tab, time_unit="weeks")) == "CR"      # without confirmation


def test_sd_between_prs_breaks_confirmation():
    # PR (8), SD (12), PR (16): the intervening SD breaks it; SD counts (week 8 >= 6)
    # 35.5 mm: -29 % from baseline, +5.5 mm but +18 % over the nadir 30
    tab = _timed([50, 30, 35.5, 30], [0, 8, 12, 16])
    assert responses(recist(tab, time_unit="weeks")) == ["PR", "SD", "PR"]
    assert best(recist(tab, confirm=True, time_unit="weeks")) == "SD"


def test_ne_between_prs_keeps_confirmation():
    tab = study({"T1": [50, 30, NAN, 30], "T2": [20, 10, 10, 10]}, weeks=[0, 8, 12, 16])
    res = recist(tab, confirm=True, time_unit="weeks")
    assert responses(res) == ["PR", "NE", "PR"]
    assert best(res) == "PR"


def test_sd_needs_min_sd_time():
    # SD only at week 4 (< 6): NE; then PD at week 8: PD; SD at week 6 exactly: SD
    assert best(recist(_timed([50, 48], [0, 4]), time_unit="weeks")) == "NE"
    assert best(recist(_timed([50, 48, 70], [0, 4, 8]), time_unit="weeks")) == "PD"
    assert best(recist(_timed([50, 48], [0, 6]), time_unit="weeks")) == "SD"
    assert best(recist(_timed([50, 48], [0, 4]), time_unit="weeks", min_sd_weeks=0)) == "SD"


def test_min_sd_in_days_with_dates():
    # 41 days < 6 weeks; 42 days = 6 weeks
    for day, expected in (("2021-02-14", "NE"), ("2021-02-15", "SD")):
        res = recist(study({"T1": [50, 48]}, dates=["2021-01-04", day]))
        assert best(res) == expected


def test_best_response_ignores_scans_after_pd():
    # SD (8), PD (16), PR (24): best SD
    tab = _timed([50, 48, 70, 30], [0, 8, 16, 24])
    res = recist(tab, time_unit="weeks")
    assert responses(res) == ["SD", "PD", "PR"]
    assert best(res) == "SD"


def test_without_times_next_scan_confirms_and_any_sd_counts():
    assert best(recist(study({"T1": [50, 30, 30]}), confirm=True)) == "PR"
    assert best(recist(study({"T1": [50, 30, 40]}), confirm=True)) == "SD"
    assert "time_to_response" not in recist(study({"T1": [50, 30]})).best_response


def test_time_to_response_and_progression():
    # PR at week 8 confirmed at week 12, PD at week 24 (30 -> 40 over the nadir 28)
    tab = _timed([50, 30, 28, 40], [0, 8, 12, 24])
    row = recist(tab, confirm=True, time_unit="weeks").best_response.iloc[0]
    assert (row["best_response"], row["time_to_response"], row["time_to_progression"],
            row["progression_timepoint"]) == ("PR", 8.0, 24.0, 3.0)


def test_scan_time_is_the_users_scale():
    # scan_time starts at -1 week: durations count from the baseline scan
    tab = _timed([50, 30, 30, 40], [-1, 7, 11, 23])
    res = recist(tab, confirm=True, time_unit="weeks")
    assert column(res, "scan_time").tolist() == [-1, 7, 11, 23]
    assert res.best_response["time_to_progression"].item() == 24.0


def test_dates_and_weeks_agree():
    days = ["2021-01-04", "2021-03-01", "2021-03-29", "2021-06-21"]   # weeks 0, 8, 12, 24
    a = recist(_timed([50, 30, 28, 40], [0, 8, 12, 24]), confirm=True, time_unit="weeks")
    b = recist(study({"T1": [50, 30, 28, 40]}, dates=days), confirm=True, time_unit="weeks")
    pd.testing.assert_frame_equal(a.best_response, b.best_response)
    assert b.by_timepoint["scan_date"].iloc[1] == pd.Timestamp("2021-03-01")


def test_cohort_input():
    # the simulator marks targets (is_target) but records no short axis: its nodes need
    # nodal_organs=() (measured by the longest diameter), else a SchemaError says so
    c = sr.simulate_cohort(n_patients=12, random_state=0, timepoints=2)
    with pytest.raises(SchemaError, match="short axis"):
        recist(c)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)     # patients without a target
        res = recist(c, nodal_organs=())
    assert len(res.targets) == int(c.baseline_lesions()["is_target"].sum())
    assert set(res.best_response["best_response"]) <= {"CR", "PR", "SD", "PD", "NE"}
    assert len(res.best_response) == c.lesions["patient_id"].nunique()


def test_cross_check_pyrecist_synthetic_case():
    # pyrecist (github.com/robertorojasp06/pyrecist), tests/data/synthetic_measurements.csv:
    # 3 targets; sums 30, 24, 21, 25.2, 26, 30. pyrecist: SD, PR, PR, PD, (none after PD).
    # We agree on SD, PR, PD; at 25.2 mm (-16 % from baseline, +4.2 mm over the nadir)
    # pyrecist keeps the earlier PR ("once PR, stays PR"), RECIST 1.1 gives SD; after PD we
    # still label the scan (30 mm: PD).
    sizes = {"A": [10, 8, 7, 8, 8, 10], "B": [10, 8, 7, 8, 8, 10],
             "C": [10, 8, 7, 9.2, 10, 10]}
    dates = ["2022-06-01", "2022-09-01", "2022-12-01", "2023-03-01", "2023-06-01",
             "2023-09-01"]
    res = recist(study(sizes, targets=dict.fromkeys("ABC", 1), dates=dates))
    assert column(res, "sum_diameters")[1:] == pytest.approx([24, 21, 25.2, 26, 30])
    assert responses(res) == ["SD", "PR", "SD", "PD", "PD"]
    assert best(res) == "PR"


# --------------------------------------------------------------------- bad input
def test_scan_dates_out_of_order_raise():
    tab = study({"T1": [30, 20, 20]}, dates=["2021-01-04", "2021-03-01", "2021-02-01"])
    with pytest.raises(SchemaError, match="out of order") as err:
        recist(tab)
    assert err.value.column == "scan_date" and err.value.ids == ["P1"]


def test_timepoint_without_date_raises():
    tab = study({"T1": [30, 20, 20]}, dates=["2021-01-04", None, "2021-05-01"])
    with pytest.raises(SchemaError, match="without a scan date") as err:
        recist(tab)
    assert err.value.ids == [("P1", 1.0)]


def test_dates_differ_within_a_scan_raise():
    tab = study({"T1": [30, 20], "T2": [30, 20]}, dates=["2021-01-04", "2021-03-01"])
    tab.loc[3, "scan_date"] = "2021-03-02"
    with pytest.raises(SchemaError, match="disagree"):
        recist(tab)


def test_non_iso_date_raises():
    with pytest.raises(SchemaError, match="ISO"):
        recist(study({"T1": [30, 20]}, dates=["2021-01-04", "March 1st"]))


def test_negative_diameter_raises():
    with pytest.raises(SchemaError, match=">= 0") as err:
        recist(study({"T1": [30, -2]}))
    assert err.value.column == "longest_diameter_mm" and err.value.ids == [("P1", "T1", 1)]


def test_non_numeric_diameter_raises():
    tab = study({"T1": [30, 20]})
    tab["longest_diameter_mm"] = tab["longest_diameter_mm"].astype(object)
    tab.loc[1, "longest_diameter_mm"] = "<5"
    with pytest.raises(SchemaError, match="non-numeric") as err:
        recist(tab)
    assert err.value.ids == [("P1", "T1", 1)]


def test_nodal_target_without_short_axis_raises():
    tab = study({"N1": [30, 20], "T1": [20, 20]}, organs={"N1": "lymph_node"},
                targets={"N1": 1, "T1": 1})
    with pytest.raises(SchemaError, match="short axis") as err:
        recist(tab)
    assert err.value.column == "short_axis_mm" and err.value.ids == [("P1", "N1")]


def test_nodal_lesion_without_short_axis_blocks_selection():
    tab = study({"N1": [30, 20], "T1": [20, 20]}, organs={"N1": "lymph_node"},
                short_axis={"T1": [NAN, NAN]})
    with pytest.raises(SchemaError, match="nodal_organs=") as err:
        recist(tab)
    assert err.value.ids == [("P1", "N1")]


def test_duplicated_lesion_rows_raise():
    tab = study({"T1": [30, 20]})
    with pytest.raises(SchemaError, match="duplicate") as err:
        recist(pd.concat([tab, tab.iloc[[1]]]))
    assert err.value.ids == [("P1", "T1", 1)]


def test_patient_without_baseline_raises():
    tab = stack(study({"T1": [30, 20]}), study({"T1": [None, 20, 20]}, patient="P2"))
    with pytest.raises(SchemaError, match="baseline") as err:
        recist(tab)
    assert err.value.column == "timepoint" and err.value.ids == ["P2"]


def test_timepoints_before_baseline_raise():
    with pytest.raises(SchemaError, match="before the baseline"):
        recist(study({"T1": [30, 30, 20]}), baseline_timepoint=1)


def test_scan_time_without_unit_raises():
    tab = _timed([50, 30], [0, 8])
    with pytest.raises(ConfigError, match="time_unit"):
        recist(tab)
    assert best(recist(tab, min_sd_weeks=0)) == "PR"          # no week-based rule


def test_flags_must_be_binary():
    with pytest.raises(SchemaError, match="0/1") as err:
        recist(study({"T1": [30, 30]}, non_target_progression=[0, 2]))
    assert err.value.column == "non_target_progression"
    with pytest.raises(SchemaError, match="0/1"):
        recist(study({"T1": [30, 30]}, targets={"T1": 2}))


def test_lesion_values_changing_over_time_raise():
    tab = study({"T1": [30, 20]})
    tab.loc[1, "organ"] = "lung"
    with pytest.raises(SchemaError, match="changes between the timepoints") as err:
        recist(tab)
    assert err.value.column == "organ" and err.value.ids == [("P1", "T1")]
    tab = study({"T1": [30, 20]}, targets={"T1": 1})
    tab.loc[1, "is_target"] = 0
    with pytest.raises(SchemaError, match="whole study"):
        recist(tab)


def test_selection_without_organ_raises():
    tab = study({"T1": [30, 20]}).drop(columns="organ")
    with pytest.raises(SchemaError, match="organ"):
        recist(tab)
    assert responses(recist(tab.assign(is_target=1))) == ["PR"]


def test_unknown_column_and_criteria_raise():
    with pytest.raises(SchemaError, match="not found"):
        recist(study({"T1": [30, 20]}), scan_date_col="date")
    with pytest.raises(ValueError, match="criteria"):
        recist(study({"T1": [30, 20]}), criteria="recist1.0")


# --------------------------------------------------------------------- properties
@st.composite
def _tables(draw):
    """Two or three patients, non-nodal marked targets, sizes in multiples of 5 mm."""
    frames = []
    n_scans = draw(st.integers(2, 5))
    for p in range(draw(st.integers(2, 3))):
        n_les = draw(st.integers(1, 3))
        sizes = {}
        for j in range(n_les):
            base = draw(st.integers(2, 10)) * 5
            later = draw(st.lists(st.integers(0, 12), min_size=n_scans - 1,
                                  max_size=n_scans - 1))
            sizes[f"L{j}"] = [base] + [5 * v for v in later]
        new = draw(st.sampled_from([None, *range(1, n_scans)]))
        targets = dict.fromkeys(sizes, 1)
        if new is not None:
            sizes["N"] = [None] * new + [10] * (n_scans - new)
            targets["N"] = 0
        frames.append(study(sizes, patient=f"P{p}", targets=targets,
                            weeks=[8 * k for k in range(n_scans)]))
    return stack(*frames)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=_tables(), factor=st.floats(1.0, 4.0), criteria=st.sampled_from(
    ["recist1.1", "irecist"]))
def test_scaling_diameters_leaves_responses_unchanged(table, factor, criteria):
    # Sizes in multiples of 5 mm: any increase over the nadir is >= 5 mm, so the 5 mm bar
    # never decides, and scaling by c >= 1 keeps it so; the relative bars are scale-free.
    kw = {"criteria": criteria, "confirm": True, "time_unit": "weeks"}
    a = recist(table, **kw)
    scaled = table.assign(longest_diameter_mm=table["longest_diameter_mm"] * factor)
    b = recist(scaled, **kw)
    assert a.by_timepoint["response"].tolist() == b.by_timepoint["response"].tolist()
    pd.testing.assert_frame_equal(a.best_response, b.best_response)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=_tables(), seed=st.integers(0, 2**32 - 1), criteria=st.sampled_from(
    ["recist1.1", "irecist"]))
def test_row_order_does_not_change_the_result(table, seed, criteria):
    a = recist(table, criteria, time_unit="weeks")
    shuffled = table.sample(frac=1.0, random_state=np.random.default_rng(seed))
    b = recist(shuffled, criteria, time_unit="weeks")
    for name in ("by_timepoint", "best_response", "targets", "new_lesions"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))

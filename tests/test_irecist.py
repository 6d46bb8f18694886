"""iRECIST (Seymour et al., Lancet Oncol 2017;18:e143): worked cases, one rule each.

Sums are hand-computed in each test. "Table 2" / "Table 3" are the paper's timepoint and
best-overall-response tables; "scenario B/F" are the EORTC RECIST working group FAQ's
("Assigning response after the appearance of new lesions"); cases marked RECIST-tracker
repeat the worked cases of github.com/heyhey-yoyo/RECIST-tracker (tests/irecist.test.js),
an independent JavaScript implementation, with the same expected labels.
"""

from __future__ import annotations

import numpy as np
import pytest
from scan_tables import NAN, best, column, responses, study

from survrad.longitudinal import recist


def irecist(table, **kw):
    return recist(table, "irecist", **kw)


# ------------------------------------------------------------------ iUPD -> iCPD
def test_iupd_then_icpd():
    # 50 -> 62: +12 mm, +24 % (iUPD); 62 -> 67: +5 mm further (iCPD, dated at the iUPD)
    res = irecist(study({"T1": [50, 62, 67]}))
    assert responses(res) == ["iUPD", "iCPD"]
    assert column(res, "confirms_timepoint")[2] == 1
    row = res.best_response.iloc[0]
    assert row["best_response"] == "iCPD" and row["progression_timepoint"] == 1


def test_iupd_then_icpd_increases_add_up():
    # +4 mm then +2 mm after iUPD: 6 mm over the iUPD sum (EORTC FAQ: increases add up)
    res = irecist(study({"T1": [50, 62, 66, 68]}))
    assert responses(res) == ["iUPD", "iUPD", "iCPD"]
    assert column(res, "confirms_timepoint")[3] == 1


def test_iupd_then_reset():
    # 62 (iUPD) -> 45 (-10 % from baseline: iSD): the bar is reset; 56 is +11 mm, +24 %
    # over the nadir 45: a new iUPD, unconfirmed (56 again: no further growth)
    res = irecist(study({"T1": [50, 62, 45, 56, 56]}))
    assert responses(res) == ["iUPD", "iSD", "iUPD", "iUPD"]
    row = res.best_response.iloc[0]
    assert row["best_response"] == "iSD"
    assert np.isnan(row["progression_timepoint"]) and row["pending_iupd_timepoint"] == 3
    # the same scans by RECIST 1.1: PD at scan 1, best response PD
    assert best(recist(study({"T1": [50, 62, 45, 56, 56]}))) == "PD"


def test_icpd_is_final():
    res = irecist(study({"T1": [50, 62, 67, 30]}))
    assert responses(res) == ["iUPD", "iCPD", "iCPD"]
    assert best(res) == "iCPD"


def test_non_target_progression_confirms_iupd():
    tab = study({"T1": [50, 62, 62]}, non_target_progression=[0, 0, 1])
    assert responses(irecist(tab)) == ["iUPD", "iCPD"]


def test_non_target_iupd_confirmed_by_further_increase_flag():
    # iUPD by non-target progression; the next scan flags a further increase
    tab = study({"T1": [50, 50, 50]}, non_target_progression=[0, 1, 1])
    assert responses(irecist(tab)) == ["iUPD", "iCPD"]
    tab = study({"T1": [50, 50, 50]}, non_target_progression=[0, 1, 0])
    assert responses(irecist(tab)) == ["iUPD", "iSD"]


def test_target_progression_confirms_new_lesion_iupd():
    # iUPD by a new lesion; then the targets newly meet RECIST PD (61: +11 mm, +22 %)
    res = irecist(study({"T1": [50, 50, 61], "N1": [None, 6, 6]}))
    assert responses(res) == ["iUPD", "iCPD"]


def test_target_growth_below_pd_bar_does_not_confirm_new_lesion_iupd():
    # targets were not the category in iUPD: +5 mm (50 -> 55, +10 %) is no RECIST PD
    res = irecist(study({"T1": [50, 50, 55], "N1": [None, 6, 6]}))
    assert responses(res) == ["iUPD", "iUPD"]


# ------------------------------------------------------------------ new lesions
def test_new_lesion_iupd_confirmed_by_another_new_lesion():
    res = irecist(study({"T1": [50, 50, 50], "N1": [None, 6, 6], "N2": [None, None, 7]}))
    assert responses(res) == ["iUPD", "iCPD"]


def test_new_lesion_target_growth_5mm_confirms():
    # N1 is measurable at first sight (12 mm): a new-lesion target; 12 -> 17 is +5 mm
    res = irecist(study({"T1": [50, 50, 50], "N1": [None, 12, 17]}))
    assert responses(res) == ["iUPD", "iCPD"]
    assert column(res, "new_target_sum").tolist() == [0.0, 12.0, 17.0]
    assert res.new_lesions["new_target"].tolist() == [True]
    assert responses(irecist(study({"T1": [50, 50, 50], "N1": [None, 12, 16]}))) == [
        "iUPD", "iUPD"]


def test_new_target_sum_exact_5mm_boundary():
    # RECIST-tracker: 3.2 -> 8.2 mm (+5.0; 4.999999999999999 in floating point), the new
    # lesion marked as new-lesion target
    assert 8.2 - 3.2 < 5.0
    tab = study({"T1": [100, 100, 100], "N1": [None, 3.2, 8.2]}, targets={"T1": 1, "N1": 1})
    assert responses(irecist(tab)) == ["iUPD", "iCPD"]


def test_new_non_target_growth_needs_the_flag():
    # N1 (6 mm) is a new non-target lesion: its growth is judged by the reader, given in
    # new_non_target_progression
    tab = study({"T1": [50, 50, 50], "N1": [None, 6, 9]})
    assert responses(irecist(tab)) == ["iUPD", "iUPD"]
    tab = study({"T1": [50, 50, 50], "N1": [None, 6, 9]}, new_non_target_progression=[0, 0, 1])
    assert responses(irecist(tab)) == ["iUPD", "iCPD"]


def test_stable_new_lesion_without_shrinkage_stays_iupd():
    # scenario F / RECIST-tracker: PR first, then a new lesion, then no change: iUPD
    res = irecist(study({"T1": [100, 50, 50, 50], "N1": [None, None, 10, 10]}))
    assert responses(res) == ["iPR", "iUPD", "iUPD"]


def test_shrinkage_after_new_lesion_resets():
    # scenario B / RECIST-tracker: 125 mm + new lesion (iUPD), then the baseline disease
    # shrinks: 50 mm is iPR (-50 %), 90 mm iSD (-10 %), the stable new lesion does not block
    res = irecist(study({"T1": [100, 125, 50], "N1": [None, 10, 10]}))
    assert responses(res) == ["iUPD", "iPR"]
    res = irecist(study({"T1": [100, 125, 90], "N1": [None, 10, 10]}))
    assert responses(res) == ["iUPD", "iSD"]


def test_new_lesion_gone_resets():
    res = irecist(study({"T1": [50, 50, 50], "N1": [None, 8, 0]}))
    assert responses(res) == ["iUPD", "iSD"]


def test_new_lesion_not_recorded_is_ine():
    # the new lesion's status is unknown at scan 2: not evaluable; best response iUPD
    # (Table 3, example 8: iUPD then NE)
    res = irecist(study({"T1": [50, 50, 50], "N1": [None, 8, None]}))
    assert responses(res) == ["iUPD", "iNE"]
    assert best(res) == "iUPD"


def test_new_target_sum_pd_after_reset_is_a_new_iupd():
    # iUPD (125 + new 20 mm), reset by shrinkage (iPR, the new lesion stays: 20 mm is its
    # nadir), then the new lesion grows to 30 mm (+10 mm, +50 %): a new iUPD; to 24 mm
    # (+4 mm) it is not
    res = irecist(study({"T1": [100, 125, 50, 50], "N1": [None, 20, 20, 30]}))
    assert responses(res) == ["iUPD", "iPR", "iUPD"]
    res = irecist(study({"T1": [100, 125, 50, 50], "N1": [None, 20, 20, 24]}))
    assert responses(res) == ["iUPD", "iPR", "iPR"]


def test_new_lesion_targets_max_5_total_2_per_organ():
    # seven new lesions at scan 1; ranked by size: liver 30, lung 28, liver 25, bone 22,
    # liver 20 (third liver: skipped), adrenal 15, lung 12 (sixth: over 5)
    sizes = {"A": 30, "B": 25, "C": 20, "D": 28, "E": 12, "F": 22, "G": 15}
    organs = dict(zip("ABCDEFG", ["liver"] * 3 + ["lung"] * 2 + ["bone", "adrenal"],
                      strict=True))
    lesions = {"T1": [50, 50]} | {k: [None, v] for k, v in sizes.items()}
    res = irecist(study(lesions, organs=organs))
    chosen = res.new_lesions.loc[res.new_lesions["new_target"], "lesion_id"]
    assert sorted(chosen) == ["A", "B", "D", "F", "G"]
    assert column(res, "new_target_sum")[1] == 30 + 25 + 28 + 22 + 15


def test_new_lesion_targets_in_order_of_appearance():
    # liver N1 (10 mm) at scan 1, then N2 (40) and N3 (30) at scan 2: 2 per organ, N1 first
    res = irecist(study({"T1": [50, 50, 50], "N1": [None, 10, 10], "N2": [None, None, 40],
                         "N3": [None, None, 30]}, organs=dict.fromkeys(["N1", "N2", "N3"],
                                                                       "liver")))
    flags = res.new_lesions.set_index("lesion_id")["new_target"].to_dict()
    assert flags == {"N1": True, "N2": True, "N3": False}


def test_missing_new_lesion_mark_raises_with_is_target():
    from survrad.exceptions import SchemaError

    tab = study({"T1": [50, 50], "N1": [None, 10]}, targets={"T1": 1})
    assert responses(recist(tab)) == ["PD"]               # RECIST 1.1 does not need it
    with pytest.raises(SchemaError, match="new lesions"):
        irecist(tab)


# ------------------------------------------------------------------ iCR, iBOR
def test_reappearance_after_icr_is_iupd():
    # RECIST-tracker: 10 -> 0 (iCR) -> 4 mm
    assert responses(irecist(study({"T1": [10, 0, 4]}))) == ["iCR", "iUPD"]


def test_irecist_matches_recist_without_progression():
    tab = study({"T1": [50, 30, 0, 0], "T2": [20, 10, 0, 0], "NT": [8, 8, 8, 0]})
    assert responses(recist(tab)) == ["PR", "PR", "CR"]
    assert responses(irecist(tab)) == ["iPR", "iPR", "iCR"]


@pytest.mark.parametrize(("sizes", "labels", "expected"), [
    ([50, 62, 67], ["iUPD", "iCPD"], "iCPD"),                        # example 6
    ([50, 62, 66, 68], ["iUPD", "iUPD", "iCPD"], "iCPD"),            # example 7
    ([50, 62, NAN, NAN], ["iUPD", "iNE", "iNE"], "iUPD"),            # example 8
    ([50, 62, 30, 30], ["iUPD", "iPR", "iPR"], "iPR"),               # example 3
    ([50, 62, 45, 60], ["iUPD", "iSD", "iUPD"], "iSD"),              # example 5
    ([50, 62, 30, 0], ["iUPD", "iPR", "iCR"], "iCR"),                # example 2
])
def test_best_overall_response_table3_examples(sizes, labels, expected):
    # Table 3 (randomised study: no confirmation of iCR/iPR)
    res = irecist(study({"T1": sizes}))
    assert responses(res) == labels
    assert best(res) == expected


def test_best_overall_response_stops_at_icpd():
    # RECIST-tracker: iPR, iUPD, iCPD, then a CR measurement: best iPR
    tab = study({"T1": [100, 50, 125, 125, 0], "N1": [None, None, 3.2, 8.2, 8.2]},
                targets={"T1": 1, "N1": 1})
    res = irecist(tab)
    assert responses(res) == ["iPR", "iUPD", "iCPD", "iCPD"]
    assert best(res) == "iPR"


def test_confirmed_ipr_with_times():
    tab = study({"T1": [50, 30, 30]}, weeks=[0, 8, 12])
    assert best(irecist(tab, confirm=True, time_unit="weeks")) == "iPR"
    tab = study({"T1": [50, 30, 62, 67]}, weeks=[0, 8, 12, 16])      # iPR, iUPD, iCPD
    res = irecist(tab, confirm=True, time_unit="weeks")
    assert responses(res) == ["iPR", "iUPD", "iCPD"]
    assert best(res) == "iSD"                       # unconfirmed iPR at week 8 >= 6
    assert res.best_response["time_to_progression"].item() == 12.0

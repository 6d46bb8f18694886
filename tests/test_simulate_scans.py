"""simulate_cohort(timepoints >= 3): scans, trajectories, new lesions, pseudo-progression,
best response and the response effect on survival, held to the known truth.

References written here: a pandas re-implementation of the RECIST-like rule of
survrad.data.simulate_scans, and a naive counting-process Cox partial likelihood (Breslow;
event times are continuous, so there are no ties) for the time-varying response effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import survrad as sr
from survrad.data.simulate_scans import DAYS_PER_MONTH


@pytest.fixture(scope="module")
def six():
    return sr.simulate_cohort(n_patients=600, random_state=3, timepoints=6,
                              pseudo_progression=0.1)


def test_baseline_rows_and_survival_are_those_of_one_timepoint(six) -> None:
    one = sr.simulate_cohort(n_patients=600, random_state=3)
    base = six.baseline_lesions().drop(columns=["timepoint", "scan_time", "scan_date",
                                                "short_axis_mm"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(base, one.lesions, check_exact=True)
    cols = ["age", "ecog", "pdl1", "center", "os_time", "os_event"]
    pd.testing.assert_frame_equal(six.patients[cols], one.patients[cols], check_exact=True)
    assert list(six.patients.columns) == list(one.patients.columns)
    assert list(six.lesions.columns[:9]) == [
        "patient_id", "lesion_id", "timepoint", "scan_time", "scan_date", "organ",
        "volume_ml", "longest_diameter_mm", "short_axis_mm"]


def test_no_scan_after_death_or_censoring(six) -> None:
    p, scans = six.patients, six.scans
    os_time = p["os_time"].reindex(scans["patient_id"]).to_numpy()
    assert (scans["scan_time"].to_numpy() < os_time).all()
    n = scans.groupby("patient_id").size().reindex(p.index)
    assert (n == six.truth["patients"]["n_scans"]).all()
    # every scheduled scan before os_time is there: scans are 0 .. n-1, no hole
    assert (scans.groupby("patient_id")["timepoint"].max() == n - 1).all()
    # a patient with k < 6 scans ended before its (k+1)-th scan, planned at 2k months
    # give or take 2 weeks
    short = n < 6
    assert short.sum() > 100
    assert (p.loc[short, "os_time"] < 2.0 * n[short] + 14 / DAYS_PER_MONTH).all()


def test_deaths_before_the_first_follow_up_have_no_follow_up_scan(six) -> None:
    p, scans = six.patients, six.scans
    early = p.index[(p["os_event"] == 1) & (p["os_time"] < 2.0 - 14 / DAYS_PER_MONTH)]
    assert len(early) > 10
    assert (scans.loc[scans["patient_id"].isin(early), "timepoint"] == 0).all()
    assert (p.loc[early, "best_response"] == "NE").all()
    assert (p.loc[early, "objective_response"] == 0).all()
    ne = p.index[p["best_response"] == "NE"]
    assert (six.truth["patients"].loc[ne, "n_scans"] == 1).all()


def test_schedule_dates_and_times(six) -> None:
    scans = six.scans
    base = scans[scans["timepoint"] == 0].set_index("patient_id")["scan_date"]
    days = (scans["scan_date"] - base.reindex(scans["patient_id"]).to_numpy()).dt.days
    # scan_time is the day offset in months of 30.4375 days, exactly
    np.testing.assert_array_equal(scans["scan_time"], days / DAYS_PER_MONTH)
    planned = np.round(scans["timepoint"] * 2.0 * DAYS_PER_MONTH)
    jitter = days - planned
    assert jitter.abs().max() == 14 and jitter[scans["timepoint"] == 0].eq(0).all()
    assert jitter[scans["timepoint"] > 0].std() == pytest.approx(np.sqrt((29**2 - 1) / 12),
                                                                 rel=0.1)
    entry = six.truth["patients"]["entry_months"]
    enrol = (base - pd.Timestamp("2019-01-07")).dt.days
    np.testing.assert_array_equal(enrol.reindex(entry.index), np.round(entry * DAYS_PER_MONTH))


def test_tables_pass_read_cohort_unchanged(six) -> None:
    c = sr.simulate_cohort(n_patients=400, random_state=0, timepoints=4, n_noise_features=0,
                           pseudo_progression=0.05)
    kw = dict(patient_features=["age", "ecog", "pdl1"], lesion_features=["rad_*"])
    r = sr.read_cohort(c.patients.reset_index(), c.lesions, **kw)
    pd.testing.assert_frame_equal(r.patients, c.patients, check_exact=True)
    pd.testing.assert_frame_equal(r.lesions, c.lesions, check_exact=True)
    # the dates alone give the same times in months
    dates = sr.read_cohort(c.patients.reset_index(), c.lesions.drop(columns="scan_time"),
                           scan_time_unit="months", **kw)
    pd.testing.assert_frame_equal(dates.lesions[c.lesions.columns], c.lesions,
                                  check_exact=True)


def test_lesion_rows_vanished_new_and_nodal(six) -> None:
    les, truth = six.lesions, six.truth["lesions"]
    assert (truth["timepoint"].to_numpy() == les["timepoint"].to_numpy()).all()
    assert not les.duplicated(["patient_id", "lesion_id", "timepoint"]).any()
    gone = les["longest_diameter_mm"] == 0
    assert gone.sum() > 100 and (gone == truth["vanished"]).all()
    assert (gone == (les["timepoint"] > 0) & les["rad_sig_01"].isna()).all()
    assert (les.loc[gone, "volume_ml"] == 0).all()
    # vanished for good: once 0 mm, 0 mm at every later scan of the patient
    first_gone = les[gone].groupby("lesion_id")["timepoint"].min()
    later = les[les["lesion_id"].isin(first_gone.index)]
    after = later["timepoint"].to_numpy() >= first_gone.reindex(later["lesion_id"]).to_numpy()
    assert (later.loc[after, "longest_diameter_mm"] == 0).all()
    # a lesion has a row at every scan of its patient from its first one (no gap)
    span = les.groupby("lesion_id")["timepoint"].agg(["min", "max", "size"])
    assert (span["max"] - span["min"] + 1 == span["size"]).all()
    # new lesions: first seen after baseline, numbered after the baseline lesions
    new = truth["new"].to_numpy()
    assert new.sum() > 20 and (les.loc[new, "timepoint"] > 0).all()
    assert (les.loc[new, ["is_target", "irradiated"]] == 0).all().all()
    last_base = les[~new].groupby("patient_id")["lesion_id"].max()
    assert (les.loc[new, "lesion_id"].to_numpy()
            > last_base.reindex(les.loc[new, "patient_id"]).to_numpy()).all()
    seen_new = les[new].drop_duplicates("lesion_id").groupby("patient_id").size()
    assert (seen_new.reindex(six.patients.index, fill_value=0)
            == six.truth["patients"]["new_lesions"]).all()
    # short axis: lymph nodes only, shorter than the longest diameter
    nodal = les["organ"] == "lymph_node"
    assert les.loc[~nodal, "short_axis_mm"].isna().all()
    sa, d = les.loc[nodal, "short_axis_mm"], les.loc[nodal, "longest_diameter_mm"]
    assert (sa <= d).all() and (sa[d > 0] / d[d > 0]).between(0.55, 0.85).all()


def test_new_lesion_rate_grows_with_refractoriness() -> None:
    c = sr.simulate_cohort(n_patients=2000, random_state=4, timepoints=6, n_noise_features=0)
    tp = c.truth["patients"]
    per_scan = tp["new_lesions"] / (tp["n_scans"] - 1).clip(lower=1)
    high = tp["u"] > tp["u"].median()
    assert per_scan[high].mean() > 1.8 * per_scan[~high].mean()


def test_trajectories_follow_the_true_slopes(six) -> None:
    les, truth = six.lesions, six.truth["lesions"]
    keep = (~truth["vanished"] & ~truth["new"] & ~truth["pseudo"]
            & (truth["true_log_change"] < np.log(3) - 1e-9)).to_numpy()
    base = les[les["timepoint"] == 0].set_index("lesion_id")["longest_diameter_mm"]
    d0 = base.reindex(les.loc[keep, "lesion_id"]).to_numpy()
    measured = np.log(les.loc[keep, "longest_diameter_mm"].to_numpy() / d0)
    expected = truth.loc[keep, "slope"] * truth.loc[keep, "scan_time"]
    resid = measured - expected.to_numpy()
    later = les.loc[keep, "timepoint"].to_numpy() > 0
    assert np.all(resid[~later] == 0)
    assert resid[later].std() == pytest.approx(0.04, rel=0.1)  # measurement sd
    assert abs(resid[later].mean()) < 0.005
    # the slope is the lesion-response model's change c per month over 3 months
    np.testing.assert_allclose(truth.loc[keep, "slope"], truth.loc[keep, "log_change"] / 3)


def test_pseudo_progression_fraction_and_course() -> None:
    c = sr.simulate_cohort(n_patients=2000, random_state=8, timepoints=8,
                           pseudo_progression=0.1, n_noise_features=0)
    tp, les = c.truth["patients"], c.lesions
    pseudo = tp["pseudo_progression"]
    assert abs(pseudo.mean() - 0.1) < 3 * np.sqrt(0.1 * 0.9 / 2000)
    sld = target_sums(les)
    seen = pseudo & (tp["n_scans"] >= 2)
    grow = sld.loc[seen[seen].index, 1] / sld.loc[seen[seen].index, 0]
    assert (grow >= 1.2).all() and ((sld.loc[grow.index, 1] - sld.loc[grow.index, 0]) >= 5).all()
    # then response: shrinkage to <= 70 % of baseline on the planned scans
    assert np.isfinite(tp.loc[pseudo, "response_time"]).mean() > 0.9
    assert (c.patients.loc[seen[seen].index, "best_response"] == "PD").all()
    assert (tp.loc[pseudo, "new_lesions"] == 0).all()


def test_same_seed_same_tables_and_settings() -> None:
    a = sr.simulate_cohort(n_patients=80, random_state=7, timepoints=5, pseudo_progression=0.2)
    b = sr.simulate_cohort(n_patients=80, random_state=np.random.default_rng(7), timepoints=5,
                           pseudo_progression=0.2)
    pd.testing.assert_frame_equal(a.patients, b.patients, check_exact=True)
    pd.testing.assert_frame_equal(a.lesions, b.lesions, check_exact=True)
    for key in a.truth:
        pd.testing.assert_frame_equal(a.truth[key], b.truth[key], check_exact=True)
    assert a.truth["baseline"].loc["pseudo_progression", "value"] == 0.2
    assert a.truth["baseline"].loc["scan_interval_months", "value"] == 2.0
    c = sr.simulate_cohort(n_patients=80, random_state=7, timepoints=5, scan_interval=3.0)
    assert c.scans.groupby("timepoint")["scan_time"].median().loc[4] == pytest.approx(12, abs=0.5)
    lp = a.truth["patients"]
    pd.testing.assert_series_equal(c.truth["patients"]["lp"], lp["lp"])


# ---------------------------------------------------------------- best response rule
def target_sums(les: pd.DataFrame) -> pd.DataFrame:
    """Sum of target sizes (short axis for nodes) per patient (rows) and scan (columns)."""
    size = np.where(les["organ"] == "lymph_node", les["short_axis_mm"],
                    les["longest_diameter_mm"])
    return (les.assign(size=size * les["is_target"])
            .groupby(["patient_id", "timepoint"])["size"].sum().unstack())


def naive_best_response(les: pd.DataFrame) -> pd.Series:
    sld = target_sums(les)
    first_seen = les.groupby("lesion_id")[["patient_id", "timepoint"]].min()
    new_at = first_seen[first_seen["timepoint"] > 0].groupby(["patient_id", "timepoint"]).size()
    all_gone = les.groupby(["patient_id", "timepoint"])["longest_diameter_mm"].max() == 0
    out = {}
    rank = {"PD": 0, "SD": 1, "PR": 2, "CR": 3}
    for p, row in sld.iterrows():
        best, nadir = None, row[0]
        for k in range(1, row.size):
            s = row[k]
            if np.isnan(s):
                break
            if (s >= 1.2 * nadir and s - nadir >= 5) or new_at.get((p, k), 0) > 0:
                status = "PD"
            elif all_gone[(p, k)]:
                status = "CR"
            elif s <= 0.7 * row[0]:
                status = "PR"
            else:
                status = "SD"
            best = status if best is None or rank[status] > rank[best] else best
            if status == "PD":
                break
            nadir = min(nadir, s)
        out[p] = best or "NE"
    return pd.Series(out)


def test_best_response_follows_the_documented_rule(six) -> None:
    p = six.patients
    ref = naive_best_response(six.lesions).reindex(p.index)
    assert (p["best_response"] == ref).all()
    assert (p["objective_response"] == p["best_response"].isin(["CR", "PR"])).all()
    share = p["best_response"].value_counts(normalize=True)
    assert set(share.index) == {"CR", "PR", "SD", "PD", "NE"}
    assert 0.15 < share["PR"] + share["CR"] < 0.45


# ---------------------------------------------------------- response effect on survival
def cox_counting(start, stop, event, X) -> tuple[np.ndarray, np.ndarray]:
    """Breslow partial likelihood on (start, stop] rows: coefficients and standard errors."""
    X = np.asarray(X, float)
    times = stop[event == 1]
    at_risk = (start[None, :] < times[:, None]) & (times[:, None] <= stop[None, :])
    xe = X[event == 1]

    def nll(b):
        eta = X @ b
        w = np.exp(eta - eta.max())
        den = at_risk @ w
        mean = (at_risk @ (w[:, None] * X)) / den[:, None]
        return -(np.sum(xe @ b) - np.sum(eta.max() + np.log(den))), -(xe - mean).sum(axis=0)

    b = optimize.minimize(nll, np.zeros(X.shape[1]), jac=True, method="BFGS",
                          options={"gtol": 1e-8}).x
    w = np.exp(X @ b)
    den = at_risk @ w
    mean = (at_risk @ (w[:, None] * X)) / den[:, None]
    second = np.einsum("ej,jk,jl->ekl", at_risk * w, X, X) / den[:, None, None]
    info = (second - mean[:, :, None] * mean[:, None, :]).sum(axis=0)
    return b, np.sqrt(np.diag(np.linalg.inv(info)))


def response_episodes(c) -> pd.DataFrame:
    """(start, stop] rows split at the scan that first shows SLD <= 70 % of baseline."""
    p, tp = c.patients, c.truth["patients"]
    sld = target_sums(c.lesions)
    shrunk = sld.le(0.7 * sld[0], axis=0)
    shrunk[0] = False
    times = c.scans.pivot(index="patient_id", columns="timepoint", values="scan_time")
    r = times.where(shrunk).min(axis=1).reindex(p.index).fillna(np.inf)
    # the observed response time is the truth's whenever the patient lived to see it
    seen = tp["response_time"] < p["os_time"]
    assert (r[seen] == tp.loc[seen, "response_time"]).all() and np.isinf(r[~seen]).all()
    rows = []
    for t_end, e, rr, lp in zip(p["os_time"], p["os_event"], r, tp["lp"], strict=True):
        if rr < t_end:
            rows += [(0.0, rr, 0, 0.0, lp), (rr, t_end, e, 1.0, lp)]
        else:
            rows.append((0.0, t_end, e, 0.0, lp))
    return pd.DataFrame(rows, columns=["start", "stop", "event", "responded", "lp"])


@pytest.mark.parametrize("beta", [0.0, -0.7])
def test_time_varying_cox_recovers_the_response_effect(beta: float) -> None:
    c = sr.simulate_cohort(n_patients=1500, random_state=3, timepoints=8, driver_effect=0.0,
                           response_effect=beta, n_signal_features=0, n_volume_features=0,
                           n_noise_features=0)
    d = response_episodes(c)
    b, se = cox_counting(d["start"].to_numpy(), d["stop"].to_numpy(), d["event"].to_numpy(),
                         d[["responded", "lp"]])
    assert abs(b[0] - beta) < 3 * se[0], (b, se)
    assert abs(b[1] - 1.0) < 3 * se[1], (b, se)
    if beta == 0.0:
        # guarantee-time bias: "responders" (best response CR/PR) compared from time 0
        # live longer although response has no effect on survival
        p = c.patients
        naive, naive_se = cox_counting(np.zeros(len(p)), p["os_time"].to_numpy(),
                                       p["os_event"].to_numpy(),
                                       p[["objective_response"]].to_numpy(float))
        assert naive[0] < -3 * naive_se[0], (naive, naive_se)
    else:
        one = sr.simulate_cohort(n_patients=1500, random_state=3, timepoints=8,
                                 driver_effect=0.0, n_signal_features=0,
                                 n_volume_features=0, n_noise_features=0)
        before = one.truth["patients"]["event_time"]
        after = c.truth["patients"]["event_time"]
        moved = after != before
        responded = c.truth["patients"]["response_time"] < before
        assert (moved == responded).all() and (after[moved] > before[moved]).all()

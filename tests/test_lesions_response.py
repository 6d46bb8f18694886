"""Lesion-level descriptive analyses: response rates with clustered CIs, mixed response.

Truth: a beta-binomial simulation whose population rate is known exactly (coverage of
the cluster-aware intervals, against a naive binomial interval that ignores clustering),
statsmodels' GEE as an oracle for the closed-form sandwich interval, the large-sample
rate of the survrad simulator, and hand-made tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special, stats

from survrad.data.cohort import Cohort
from survrad.data.simulate import simulate_cohort
from survrad.exceptions import DataWarning, SchemaError
from survrad.lesions import lesion_changes, lesion_response_rates, mixed_response


def cohort_from(les: pd.DataFrame, patients: list[str] | None = None) -> Cohort:
    ids = patients if patients is not None else list(pd.unique(les["patient_id"]))
    pat = pd.DataFrame({"age": np.zeros(len(ids))}, index=pd.Index(ids, name="patient_id"))
    return Cohort(pat, les.reset_index(drop=True))


def beta_binomial_cohort(rng: np.random.Generator, n_patients: int, a: float,
                         b: float) -> Cohort:
    """Patient response probability p_i ~ Beta(a, b); 1-8 lesions, each ~ Bernoulli(p_i).
    The population lesion response rate is a / (a + b) exactly (sizes independent of p)."""
    p = rng.beta(a, b, n_patients)
    m = rng.integers(1, 9, n_patients)
    pid = np.repeat([f"P{i:03d}" for i in range(n_patients)], m)
    y = (rng.random(m.sum()) < np.repeat(p, m)).astype(int)
    les = pd.DataFrame({"patient_id": pid, "lesion_id": [f"L{i}" for i in range(m.sum())],
                        "irradiated": np.zeros(m.sum(), dtype=int), "lesion_response": y})
    return cohort_from(les)


@pytest.mark.slow
def test_cluster_intervals_cover_known_rate_where_naive_binomial_does_not() -> None:
    rng = np.random.default_rng(2024)
    truth = 1.0 / (1.0 + 1.5)  # Beta(1, 1.5): rate 0.4, intra-patient correlation 0.29
    hits = {"bootstrap": 0, "gee": 0, "naive": 0}
    n_rep = 200
    for rep in range(n_rep):
        c = beta_binomial_cohort(rng, 80, 1.0, 1.5)
        boot = lesion_response_rates(c, n_boot=400, random_state=rep).rates.loc[0]
        gee = lesion_response_rates(c, method="gee").rates.loc[0]
        hits["bootstrap"] += boot["ci_low"] <= truth <= boot["ci_high"]
        hits["gee"] += gee["ci_low"] <= truth <= gee["ci_high"]
        p, n = gee["rate"], gee["n_lesions"]
        half = 1.96 * np.sqrt(p * (1 - p) / n)  # Wald interval, lesions as independent
        hits["naive"] += p - half <= truth <= p + half
    coverage = {k: v / n_rep for k, v in hits.items()}
    # nominal 0.95; Monte Carlo sd of a coverage ~0.015 with 200 replicates
    assert coverage["bootstrap"] >= 0.90, coverage
    assert coverage["gee"] >= 0.90, coverage
    # ignoring the clustering under-covers (design effect ~2: expected coverage ~0.83)
    assert coverage["naive"] < 0.89, coverage
    assert coverage["naive"] < coverage["gee"] - 0.04, coverage


def test_ci_covers_simulated_rate_of_the_simulator() -> None:
    # the population rates of the simulator, estimated on 10,000 patients (se ~0.004)
    big = simulate_cohort(n_patients=10000, random_state=99).baseline_lesions()
    truth = big.groupby("irradiated")["lesion_response"].mean()
    assert truth[1] == pytest.approx(0.65, abs=0.03)  # documented: 65 % vs 25 %
    assert truth[0] == pytest.approx(0.25, abs=0.03)
    c = simulate_cohort(n_patients=300, random_state=5)
    res = lesion_response_rates(c, n_boot=1000, random_state=0)
    assert list(res.rates.index) == [0, 1] and res.rates.index.name == "irradiated"
    for lv in (0, 1):
        row = res.rates.loc[lv]
        assert row["ci_low"] <= truth[lv] <= row["ci_high"]
        assert row["ci_high"] - row["ci_low"] < 0.2
    d = res.differences.loc["1 - 0"]
    assert d["ci_low"] <= truth[1] - truth[0] <= d["ci_high"]
    assert d["ci_low"] > 0  # the irradiated lesions respond more, clearly
    les = c.baseline_lesions()
    counts = les.groupby("irradiated")["lesion_response"].agg(["size", "sum"])
    assert res.rates["n_lesions"].tolist() == counts["size"].tolist()
    assert res.rates["n_responders"].tolist() == counts["sum"].tolist()
    assert res.rates["n_patients"].tolist() == les.groupby("irradiated")[
        "patient_id"].nunique().tolist()
    assert (res.rates["n_failed"] == 0).all() and res.n_boot == 1000


def test_gee_interval_equals_statsmodels() -> None:
    c = simulate_cohort(n_patients=150, random_state=3)
    res = lesion_response_rates(c, method="gee")
    les = c.baseline_lesions()
    dummies = pd.get_dummies(les["irradiated"]).to_numpy(float)
    fit = sm.GEE(les["lesion_response"].to_numpy(float), dummies,
                 groups=les["patient_id"].to_numpy(), family=sm.families.Binomial(),
                 cov_struct=sm.cov_struct.Independence()).fit()
    # statsmodels: GEE(y, [1{irr=0}, 1{irr=1}], groups=patient, Binomial, Independence)
    np.testing.assert_allclose(special.logit(res.rates["rate"]), fit.params, rtol=1e-6)
    ci = special.expit(fit.conf_int())
    np.testing.assert_allclose(res.rates[["ci_low", "ci_high"]].to_numpy(), ci, rtol=1e-6)
    p = special.expit(fit.params)
    grad = np.array([-p[0] * (1 - p[0]), p[1] * (1 - p[1])])  # d(p1 - p0) / d logit
    se = np.sqrt(grad @ fit.cov_params() @ grad)
    d = res.differences.loc["1 - 0"]
    z = stats.norm.ppf(0.975)
    assert d["ci_low"] == pytest.approx(p[1] - p[0] - z * se, rel=1e-6)
    assert d["ci_high"] == pytest.approx(p[1] - p[0] + z * se, rel=1e-6)
    assert res.n_boot is None and res.method == "gee"


def test_gee_rate_of_zero_is_not_estimable() -> None:
    les = pd.DataFrame({"patient_id": ["A", "A", "B", "C", "C"], "lesion_id": list("abcde"),
                        "irradiated": [1, 0, 1, 1, 0], "lesion_response": [1, 0, 0, 1, 0]})
    res = lesion_response_rates(cohort_from(les), method="gee")
    row = res.rates.loc[0]
    assert row["rate"] == 0.0 and not row["estimable"]
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])
    assert res.rates.loc[1, "estimable"]
    assert not res.differences.loc["1 - 0", "estimable"]


def test_bootstrap_is_reproducible_and_counts_failed_replicates() -> None:
    # only one of 12 patients has a non-irradiated lesion: many replicates miss it
    rng = np.random.default_rng(0)
    rows = [(f"P{i:02d}", "a", 1, int(rng.random() < 0.6)) for i in range(12)]
    rows.append(("P00", "b", 0, 1))
    les = pd.DataFrame(rows, columns=["patient_id", "lesion_id", "irradiated",
                                      "lesion_response"])
    c = cohort_from(les)
    a = lesion_response_rates(c, n_boot=300, random_state=7)
    b = lesion_response_rates(c, n_boot=300, random_state=7)
    pd.testing.assert_frame_equal(a.rates, b.rates)
    # P(P00 not drawn in 12 draws) = (11/12)^12 = 0.35
    assert 0.25 < a.rates.loc[0, "n_failed"] / 300 < 0.45
    assert a.rates.loc[1, "n_failed"] == 0


def test_response_derived_from_diameters() -> None:
    c = simulate_cohort(n_patients=80, random_state=8)
    by_col = lesion_response_rates(c, method="gee")
    by_diam = lesion_response_rates(c, method="gee", response="diameter")
    # the simulator's lesion_response is the diameter rule itself
    pd.testing.assert_frame_equal(by_col.rates, by_diam.rates)
    ch = lesion_changes(c)
    les = c.baseline_lesions()
    assert ch["response"].sum() == les["lesion_response"].sum()
    vanished = ch["diameter_followup"] == 0
    assert vanished.any() and (ch.loc[vanished, "change"] == -1.0).all()


def test_lesion_changes_and_mixed_response_by_hand() -> None:
    rows = [
        ("P1", "a", 20.0, 10.0), ("P1", "b", 10.0, 13.0),   # -50 %, +30 %: mixed
        ("P2", "a", 20.0, 12.0), ("P2", "b", 20.0, 13.0),   # -40 %, -35 %: not mixed
        ("P3", "a", 10.0, 12.5),                            # +25 % only
        ("P4", "a", 10.0, 7.0), ("P4", "b", 10.0, 12.0),    # -30 %, +20 % exactly: mixed
        ("P6", "a", 15.0, 0.0), ("P6", "b", 10.0, np.nan),  # vanished; not evaluated
    ]
    les = pd.DataFrame(rows, columns=["patient_id", "lesion_id", "longest_diameter_mm",
                                      "diameter_followup_mm"])
    c = cohort_from(les, patients=["P1", "P2", "P3", "P4", "P5", "P6"])
    with pytest.warns(DataWarning, match=r"'P6/b' \(1 in total\).*no follow-up"):
        ch = lesion_changes(c)
    assert ch["change"].iloc[:7].tolist() == pytest.approx(
        [-0.5, 0.3, -0.4, -0.35, 0.25, -0.3, 0.2])
    assert ch.loc[ch["lesion_id"].eq("a") & ch["patient_id"].eq("P6"), "change"].item() == -1.0
    assert ch["evaluable"].tolist() == [True] * 8 + [False]
    with pytest.warns(DataWarning, match="P6/b"):
        mr = mixed_response(c)
    assert list(mr.index) == ["P1", "P2", "P3", "P4", "P5", "P6"]
    assert mr["mixed"].tolist() == [1, 0, 0, 1, 0, 0]
    assert mr["n_shrinking"].tolist() == [1, 2, 0, 1, 0, 1]
    assert mr["n_growing"].tolist() == [1, 0, 1, 1, 0, 0]
    assert mr["n_evaluable"].tolist() == [2, 2, 1, 2, 0, 1]


def test_bad_inputs() -> None:
    les = pd.DataFrame({"patient_id": ["A", "A", "B"], "lesion_id": list("abc"),
                        "irradiated": [1, 0, 1], "lesion_response": [1, 2, 0]})
    with pytest.raises(SchemaError, match=r"0/1.*'A/b'"):
        lesion_response_rates(cohort_from(les))
    ok = les.assign(lesion_response=[1, 0, 0])
    with pytest.raises(SchemaError, match="'arm' not in the lesion table"):
        lesion_response_rates(cohort_from(ok), by="arm")
    nan_group = ok.assign(irradiated=[1.0, np.nan, 0.0])
    with pytest.raises(SchemaError, match=r"missing values.*'A/b'"):
        lesion_response_rates(cohort_from(nan_group))
    with pytest.raises(SchemaError, match="diameter_followup_mm"):
        lesion_response_rates(cohort_from(ok.drop(columns="lesion_response").assign(
            longest_diameter_mm=10.0)))
    with pytest.raises(ValueError, match="method"):
        lesion_response_rates(cohort_from(ok), method="wald")
    with pytest.raises(ValueError, match="shrink < 0 < grow"):
        mixed_response(cohort_from(ok), shrink=0.1)

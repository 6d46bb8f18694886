"""Report tables: Table 1 (R values and naive reference tests), coefficients, exact CSV."""

from __future__ import annotations

import csv
import math
from itertools import product

import numpy as np
import pandas as pd
import pytest
from rref import r_ref
from scipy import stats

import survrad as sr
from survrad.evaluation.describe import (
    COEFFICIENT_COLUMNS,
    TABLE_ONE_COLUMNS,
    coefficient_table,
    table_one,
)
from survrad.exceptions import SchemaError
from survrad.reporting.tables import (
    format_coefficients,
    format_p,
    format_table_one,
    write_csv,
)


# ----------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def lung():
    df = sr.load_dataset("lung")
    df.insert(0, "patient_id", [str(i + 1) for i in range(len(df))])
    return sr.read_cohort(patients=df, endpoints={"os": ("time", "status")},
                          event_map={1: 0, 2: 1}, patient_features=["age"])


@pytest.fixture(scope="module")
def sim():
    return sr.simulate_cohort(n_patients=200, random_state=0)


def _cohort(**cols):
    n = len(next(iter(cols.values())))
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(n)],
                       "os_time": rng.exponential(10.0, n) + 0.1,
                       "os_event": np.tile([1, 1, 0], n)[:n], **cols})
    return sr.read_cohort(patients=df)


def _overall(t1, variable, statistic=None):
    rows = t1[(t1["variable"] == variable) & (t1["group"] == "Overall")]
    if statistic is not None:
        rows = rows[rows["statistic"] == statistic]
    return rows.iloc[0]


def _cell(t1, variable, statistic, group, level=""):
    rows = t1[(t1["variable"] == variable) & (t1["statistic"] == statistic)
              & (t1["group"] == group) & (t1["level"] == level)]
    assert len(rows) == 1
    return rows.iloc[0]


def naive_kruskal(samples):
    """Kruskal-Wallis H with the tie correction, from its textbook formula."""
    pooled = np.concatenate(samples)
    n = pooled.size
    ranks = np.array([(pooled < v).sum() + ((pooled == v).sum() + 1) / 2 for v in pooled])
    h, start = 0.0, 0
    for s in samples:
        r = ranks[start:start + s.size]
        h += r.sum() ** 2 / s.size
        start += s.size
    h = 12 / (n * (n + 1)) * h - 3 * (n + 1)
    _, counts = np.unique(pooled, return_counts=True)
    h /= 1 - (counts**3 - counts).sum() / (n**3 - n)
    return stats.chi2.sf(h, len(samples) - 1)


def naive_chisq(table, yates):
    table = np.asarray(table, float)
    e = np.outer(table.sum(1), table.sum(0)) / table.sum()
    d = np.abs(table - e)
    if yates:  # R's chisq.test: YATES <- min(0.5, abs(x - E))
        d = d - np.minimum(0.5, d)
    x2 = (d**2 / e).sum()
    return stats.chi2.sf(x2, (table.shape[0] - 1) * (table.shape[1] - 1))


def exact_fisher(table):
    """Fisher's exact test by enumerating every table with the observed margins (R's rule:
    sum the probabilities <= the observed one * (1 + 1e-7))."""
    table = np.asarray(table)
    rows, cols = table.sum(1), table.sum(0)
    n = table.sum()

    def prob(t):
        num = math.prod(math.factorial(int(r)) for r in rows) * \
            math.prod(math.factorial(int(c)) for c in cols)
        return num / (math.factorial(int(n)) * math.prod(math.factorial(int(x))
                                                         for x in np.ravel(t)))
    assert table.shape[0] == 2
    total, p_obs = 0.0, prob(table)
    for first in product(*[range(int(c) + 1) for c in cols]):
        if sum(first) != rows[0]:
            continue
        t = np.array([first, cols - np.array(first)])
        p = prob(t)
        if p <= p_obs * (1 + 1e-7):
            total += p
    return total


# ----------------------------------------------------------------- Table 1 on lung (R)
def test_lung_medians_and_logrank_match_r(lung):
    t1 = table_one(lung, by="sex", endpoint_time_unit="days")
    # R: summary(survfit(Surv(time, event) ~ 1, data = lung))$table: median and 95% CI
    overall = r_ref("survival", "lung_km_overall")
    row = _cell(t1, "os", "median_survival", "Overall")
    assert (row["value"], row["low"], row["high"]) == (
        overall["median"], overall["median_lower95"], overall["median_upper95"])
    # R: summary(survfit(Surv(time, event) ~ sex, lung))$table: medians and 95% CIs
    km = r_ref("survival", "lung_km_by_sex")
    for k, group in enumerate(("sex=1", "sex=2")):
        row = _cell(t1, "os", "median_survival", group)
        assert (row["value"], row["low"], row["high"]) == (
            km["median"][k], km["median_lower95"][k], km["median_upper95"][k])
        assert row["unit"] == "days"
    # R: survdiff(Surv(time, event) ~ sex, lung); 1 - pchisq(chisq, 1)
    row = _overall(t1, "os", "median_survival")
    assert row["test"] == "log-rank"
    assert row["p"] == pytest.approx(r_ref("survival", "lung_logrank_sex")["p"], rel=1e-9)
    # R: table(lung$sex, lung$status): deaths and patients per sex
    by_sex = r_ref("survival", "lung_events_by_sex")
    counts = [("Overall", overall["n"], overall["events"])] + [
        (f"sex={s}", n, d) for s, n, d in zip(by_sex["sex"], by_sex["n"], by_sex["events"],
                                            strict=True)]
    for group, n, d in counts:
        row = _cell(t1, "os", "events", group)
        assert (row["n"], row["value"]) == (n, d)
        assert row["percent"] == pytest.approx(100 * d / n)
        assert _cell(t1, "os", "censored", group)["value"] == n - d


def test_median_followup_is_reverse_kaplan_meier(lung):
    from lifelines import KaplanMeierFitter

    t1 = table_one(lung, by="sex")
    pats = lung.patients
    for group, mask in (("Overall", np.ones(len(pats), bool)),
                        ("sex=1", pats["sex"].to_numpy() == 1),
                        ("sex=2", pats["sex"].to_numpy() == 2)):
        kmf = KaplanMeierFitter().fit(pats["time"][mask], 1 - pats["status"][mask])
        assert _cell(t1, "os", "median_followup", group)["value"] == \
            kmf.median_survival_time_
    # the reverse KM median exceeds the naive median time of all patients (censoring
    # by death shortens observed times)
    assert _cell(t1, "os", "median_followup", "Overall")["value"] > pats["time"].median()


def test_lung_continuous_and_categorical_rows(lung):
    t1 = table_one(lung, by="sex", variables=["age", "wt.loss", "ph.ecog"],
                   categorical=["ph.ecog"])
    pats = lung.patients
    age = pats["age"].to_numpy(float)
    # R: quantile(lung$age) (type 7) -> 56, 63, 69
    row = _cell(t1, "age", "median_iqr", "Overall")
    assert (row["low"], row["value"], row["high"]) == (56, 63, 69)
    male = pats["sex"].to_numpy() == 1
    assert _overall(t1, "age")["p"] == pytest.approx(naive_kruskal([age[male], age[~male]]),
                                                     rel=1e-10)
    # wt.loss has 14 missing values: shown, never dropped silently
    miss = _cell(t1, "wt.loss", "missing", "Overall")
    assert miss["value"] == 14 and miss["n"] == 228
    assert _cell(t1, "wt.loss", "median_iqr", "Overall")["n"] == 214
    # ph.ecog: levels 0..3 and one missing value; percentages of all patients add to 100
    levels = t1[(t1["variable"] == "ph.ecog") & (t1["group"] == "Overall")]
    assert levels["level"].tolist() == ["0", "1", "2", "3", "missing"]
    assert levels["value"].tolist() == [63, 113, 50, 1, 1]
    assert levels["percent"].sum() == pytest.approx(100)
    # an expected count < 5 (ecog 3) switches to Fisher's test (Monte Carlo for 4 x 2)
    assert _overall(t1, "ph.ecog")["test"].startswith("Fisher exact (Monte Carlo")


def test_columns_are_unrounded_and_contract(sim):
    t1 = table_one(sim, by="center")
    assert tuple(t1.columns) == TABLE_ONE_COLUMNS
    assert t1.attrs["by"] == "center"
    row = _cell(t1, "pdl1", "median_iqr", "Overall")
    assert row["value"] == np.median(sim.patients["pdl1"])
    assert row["high"] == np.percentile(sim.patients["pdl1"], 75)   # 66.25, not 66.2


# ------------------------------------------------------------- groups, lesions, tests
def test_groups_partition_patients_and_lesions(sim):
    t1 = table_one(sim, by="center")
    patients = t1[t1["variable"] == "Patients"].set_index("group")["value"]
    counts = sim.patients["center"].value_counts()
    assert patients["Overall"] == 200
    for c, n in counts.items():
        assert patients[f"center={c}"] == n
    base = sim.baseline_lesions()
    per_patient = base.groupby("patient_id").size().reindex(sim.patient_ids, fill_value=0)
    row = _cell(t1, "Lesions per patient", "median_iqr", "Overall")
    assert row["value"] == per_patient.median()
    assert (row["low"], row["high"]) == tuple(np.percentile(per_patient, [25, 75]))
    organ = t1[(t1["variable"] == "Organ")]
    for _, rows in organ.groupby("group"):
        assert rows["value"].sum() == rows["n"].iloc[0]
        assert rows["percent"].sum() == pytest.approx(100)
    overall = organ[organ["group"] == "Overall"].set_index("level")["value"]
    assert overall.to_dict() == base["organ"].value_counts().to_dict()
    assert overall.index[0] == base["organ"].value_counts().idxmax()   # most frequent first
    assert _overall(t1, "Organ")["test"].startswith("not tested")
    volume = _cell(t1, "Total tumour volume", "median_iqr", "Overall")
    total = base.groupby("patient_id")["volume_ml"].sum().reindex(sim.patient_ids,
                                                                   fill_value=0.0)
    assert volume["value"] == pytest.approx(total.median(), rel=1e-12)
    assert volume["unit"] == "ml"


def test_by_binary_endpoint_and_no_by(sim):
    t1 = table_one(sim, by="response")
    assert set(t1["group"]) == {"Overall", "objective_response=0", "objective_response=1"}
    assert "Endpoint: response" not in set(t1["section"])   # the grouping itself
    plain = table_one(sim)
    assert set(plain["group"]) == {"Overall"}
    assert plain["p"].isna().all() and (plain["test"] == "").all()
    assert "Endpoint: response" in set(plain["section"])


def test_chi_square_matches_pearson_with_yates_for_2x2():
    cat = ["x"] * 30 + ["y"] * 30 + ["x"] * 18 + ["y"] * 42
    grp = ["A"] * 60 + ["B"] * 60
    t1 = table_one(_cohort(grp=grp, cat=cat), by="grp", variables=["cat"])
    row = _overall(t1, "cat")
    assert row["test"] == "chi-square (Yates)"
    assert row["p"] == pytest.approx(naive_chisq([[30, 18], [30, 42]], yates=True), rel=1e-10)
    cat3 = ["x"] * 20 + ["y"] * 20 + ["z"] * 20 + ["x"] * 10 + ["y"] * 25 + ["z"] * 25
    t3 = table_one(_cohort(grp=["A"] * 60 + ["B"] * 60, cat=cat3), by="grp",
                   variables=["cat"])
    row = _overall(t3, "cat")
    assert row["test"] == "chi-square"
    assert row["p"] == pytest.approx(naive_chisq([[20, 10], [20, 25], [20, 25]], False),
                                     rel=1e-10)


def test_fisher_exact_2x2_and_monte_carlo_rxc():
    # 2 x 2 with an expected count < 5: exact Fisher = R's fisher.test
    cat = ["x"] * 7 + ["y"] * 1 + ["x"] * 2 + ["y"] * 8
    grp = ["A"] * 8 + ["B"] * 10
    t1 = table_one(_cohort(grp=grp, cat=cat), by="grp", variables=["cat"])
    row = _overall(t1, "cat")
    assert row["test"] == "Fisher exact"
    # naive enumeration with the rule of R's fisher.test(matrix(c(7, 2, 1, 8), 2))
    assert row["p"] == pytest.approx(exact_fisher([[7, 1], [2, 8]]), rel=1e-9)
    # 3 levels x 2 groups: Monte Carlo over 10000 tables, seeded, near the exact value
    cat3 = ["x"] * 6 + ["y"] * 2 + ["z"] * 4 + ["x"] * 2 + ["y"] * 7 + ["z"] * 3
    grp3 = ["A"] * 12 + ["B"] * 12
    c = _cohort(grp=grp3, cat=cat3)
    p1 = _overall(table_one(c, by="grp", variables=["cat"]), "cat")["p"]
    p2 = _overall(table_one(c, by="grp", variables=["cat"]), "cat")["p"]
    assert p1 == p2                                        # same data -> same p
    exact = exact_fisher(np.array([[6, 2, 4], [2, 7, 3]]))
    assert abs(p1 - exact) < 4 * math.sqrt(exact * (1 - exact) / 10_000) + 1e-4


def test_tests_not_computable():
    grp = ["A"] * 15 + ["B"] * 15
    c = _cohort(grp=grp, val=[1.5] * 30)
    t1 = table_one(c, by="grp", variables=["val"])
    row = _overall(t1, "val")
    assert np.isnan(row["p"]) and row["test"].startswith("not computable (fewer than 2")
    assert format_table_one(t1).iloc[1]["p"].startswith("\u2014")
    # one lesion per patient: lesions per patient are all equal
    lesions = pd.DataFrame({"patient_id": c.patient_ids, "lesion_id": "L1",
                            "organ": "lung", "volume_ml": np.arange(1.0, 31.0)})
    c2 = sr.read_cohort(patients=c.patients.reset_index(), lesions=lesions)
    row = _overall(table_one(c2, by="grp", variables=[]), "Lesions per patient")
    assert np.isnan(row["p"]) and row["test"] == "not computable (all values equal)"


@pytest.mark.parametrize("by, match", [
    ("nope", "not a patient column"),
    ("os", "survival endpoint"),
    ("val", "distinct values"),
    ("grp", "missing for some patients"),
])
def test_bad_by_is_an_error(by, match):
    grp = ["A"] * 14 + [None] + ["B"] * 15
    c = _cohort(grp=grp, val=np.arange(30.0))
    with pytest.raises(SchemaError, match=match) as info:
        table_one(c, by=by)
    if by == "grp":
        assert "P014" in str(info.value)


def test_unknown_variable_and_unit_mapping(sim):
    with pytest.raises(SchemaError, match="not a patient column"):
        table_one(sim, variables=["no_such_column"])
    t1 = table_one(sim, endpoint_time_unit={"os": "weeks"})
    assert _cell(t1, "os", "median_survival", "Overall")["unit"] == "weeks"
    with pytest.raises(ValueError, match="no unit for endpoint 'os'"):
        table_one(sim, endpoint_time_unit={"pfs": "weeks"})


# --------------------------------------------------------------------------- display
def test_format_table_one_display(lung):
    t1 = table_one(lung, by="sex", endpoint_time_unit="days", variables=["age", "ph.ecog"],
                   categorical=["ph.ecog"])
    f = format_table_one(t1)
    assert list(f.columns) == ["Characteristic", "Overall (n=228)", "sex=1 (n=138)",
                               "sex=2 (n=90)", "p"]
    by_label = f.set_index("Characteristic")
    assert by_label.loc["age, median [IQR]", "Overall (n=228)"] == "63 [56, 69]"
    km = by_label.loc["\u2003median (KM), days (95% CI)"]
    assert km["sex=1 (n=138)"] == "270 (212\u2013310)"
    assert km["p"] == "0.001\u1d9c"   # third test met: log-rank -> superscript c
    assert by_label.loc["\u20033", "Overall (n=228)"] == "1 (0.4)"
    notes = " ".join(f.attrs["notes"])
    assert "\u1d43 Kruskal-Wallis" in notes and "\u1d9c log-rank" in notes
    assert "NR, not reached" in notes
    # section headings are rows with only a label
    assert (f.iloc[0, 1:] == "").all() and f.iloc[0, 0] == "Patient characteristics"
    col = format_table_one(t1, tests="column")
    assert list(col.columns)[-2:] == ["p", "Test"]
    assert "log-rank" in set(col["Test"])


def test_format_table_one_not_reached():
    # heavy censoring: the KM curve stays above 0.5 -> "not reached"
    n = 40
    df = pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)],
                       "os_time": np.arange(1.0, n + 1),
                       "os_event": ([1] * 12 + [0] * 28)})
    f = format_table_one(table_one(sr.read_cohort(patients=df)))
    cell = f.set_index("Characteristic").loc["\u2003median (KM), months (95% CI)"]
    assert cell.iloc[0] == "not reached"


def test_format_p():
    assert [format_p(x) for x in (1e-12, 0.000999, 0.001, 0.04949, 1.0, np.nan)] == \
        ["<0.001", "<0.001", "0.001", "0.049", "1.000", ""]


# ---------------------------------------------------------------------- coefficients
# R: coxph(Surv(time, event) ~ age + sex + ph.ecog, data = lung complete cases, efron):
# terms, coef, sqrt(diag(vcov)), summary()$conf.int[, c("lower .95", "upper .95")]
LUNG_COX = r_ref("survival", "lung_cox_efron")
R_TERMS = LUNG_COX["terms"]
R_COEF = LUNG_COX["coef"]
R_SE = LUNG_COX["se"]
R_LOWER = LUNG_COX["hr_lower95"]
R_UPPER = LUNG_COX["hr_upper95"]


def test_coefficient_table_computes_wald_intervals_as_r():
    z = np.array(R_COEF) / np.array(R_SE)
    summary = pd.DataFrame({"term": R_TERMS, "coef": R_COEF, "se": R_SE,
                            "p": 2 * stats.norm.sf(np.abs(z))})
    out = coefficient_table(summary)
    assert tuple(out.columns) == COEFFICIENT_COLUMNS
    np.testing.assert_allclose(out["hr_ci_low"], R_LOWER, rtol=1e-10)
    np.testing.assert_allclose(out["hr_ci_high"], R_UPPER, rtol=1e-10)
    np.testing.assert_allclose(out["hr"], np.exp(R_COEF), rtol=1e-14)
    assert out["estimable"].all()


def test_coefficient_table_from_cox_model(lung):
    pats = lung.patients.dropna(subset=["ph.ecog"])
    X = pats[["age", "sex", "ph.ecog"]].astype(float)
    y = sr.Surv.from_arrays(time=pats["time"], event=pats["status"])
    model = sr.CoxModel().fit(X, y)
    out = coefficient_table(model.summary())
    assert tuple(out.columns) == COEFFICIENT_COLUMNS
    np.testing.assert_allclose(out["coef"], R_COEF, rtol=1e-6)
    np.testing.assert_allclose(out["hr_ci_low"], R_LOWER, rtol=1e-6)
    shown = format_coefficients(out)
    assert list(shown.columns) == ["Term", "Coefficient", "SE", "HR (95% CI)", "p"]
    assert shown.loc[1, "HR (95% CI)"] == "0.58 (0.41\u20130.80)"
    assert shown.loc[1, "p"] == "<0.001"   # R: 0.000986


def test_non_estimable_terms_are_nan_and_shown_as_such():
    summary = pd.DataFrame({"term": ["age", "sep"], "coef": [0.1, 25.0], "se": [0.05, 1e4],
                            "hr": [np.exp(0.1), np.exp(25.0)], "hr_ci_low": [1.0, 0.0],
                            "hr_ci_high": [1.2, np.inf], "z": [2.0, 0.0], "p": [0.05, 0.99],
                            "estimable": [True, False]})
    out = coefficient_table(summary)
    assert "z" not in out.columns
    numbers = ["coef", "se", "hr", "hr_ci_low", "hr_ci_high", "p"]
    assert out.loc[1, numbers].isna().all() and not out.loc[1, "estimable"]
    assert out.loc[0, "hr"] == np.exp(0.1)
    shown = format_coefficients(out)
    assert shown.iloc[1, 1:].tolist() == ["not estimable"] * 4
    assert shown.iloc[0, 3] == "1.11 (1.00\u20131.20)"


def test_penalised_cox_reads_per_sd_and_reports_no_inference():
    from survrad import Surv
    from survrad.datasets import load_dataset
    from survrad.models.cox import CoxModel

    d = load_dataset("lung").dropna(subset=["age", "sex", "ph.ecog"])
    X = d[["age", "sex", "ph.ecog"]]
    model = CoxModel(penalty=0.05, l1_ratio=0.5).fit(
        X, Surv.from_arrays(time=d["time"].to_numpy(), event=(d["status"] == 2).to_numpy()))
    out = coefficient_table(model.summary(), scale=model.x_scale_)
    sd = X.std(ddof=0).to_numpy()                       # glmnet's 1/n standardisation
    np.testing.assert_allclose(out["sd"], sd, rtol=1e-12)
    np.testing.assert_allclose(out["hr_per_sd"], np.exp(out["coef"] * sd), rtol=1e-12)
    shown = format_coefficients(out)
    assert shown.columns.tolist() == ["Term", "Coefficient", "SD", "HR per SD"]
    assert "not reported" not in shown.to_numpy()
    assert shown.loc[0, "HR per SD"] == f"{np.exp(out['coef'][0] * sd[0]):.2f}"
    assert "no valid post-selection inference" in shown.attrs["notes"][0]
    with pytest.raises(ValueError, match="scale has 2 values for 3 terms"):
        coefficient_table(model.summary(), scale=[1.0, 2.0])


def test_penalised_and_odds_ratio_summaries():
    pen = pd.DataFrame({"term": ["a"], "coef": [0.3], "se": [np.nan], "hr": [np.exp(0.3)],
                        "hr_ci_low": [np.nan], "hr_ci_high": [np.nan], "p": [np.nan],
                        "estimable": [True]})
    pen.attrs["note"] = "Penalised (shrunken) coefficients: no standard errors."
    shown = format_coefficients(coefficient_table(pen))
    assert shown.iloc[0].tolist() == ["a", "0.300", "not reported", "1.35 (not reported)",
                                      "not reported"]
    assert "Penalised" in " ".join(shown.attrs["notes"])
    logit = pd.DataFrame({"term": ["x"], "coef": [np.log(2)], "se": [0.1], "or": [2.0],
                          "or_ci_low": [1.6], "or_ci_high": [2.4], "p": [1e-9],
                          "estimable": [True]})
    out = coefficient_table(logit)
    assert list(out.columns) == ["term", "coef", "se", "or", "or_ci_low", "or_ci_high",
                                 "p", "estimable"]
    assert format_coefficients(out).columns[3] == "OR (95% CI)"


def test_coefficient_table_rejects_inconsistent_input():
    with pytest.raises(ValueError, match="lacks columns"):
        coefficient_table(pd.DataFrame({"term": ["a"], "coef": [1.0]}))
    bad = pd.DataFrame({"term": ["a"], "coef": [np.nan], "se": [1.0], "p": [0.5],
                        "estimable": [True]})
    with pytest.raises(ValueError, match="flagged estimable"):
        coefficient_table(bad)


# ------------------------------------------------------------------------------ CSV
def _awkward_frame():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300) * 10.0 ** rng.integers(-300, 300, 300)
    x = np.concatenate([x, [np.nan, np.inf, -np.inf, -0.0, 0.1, 1 / 3, 5e-324,
                            np.finfo(float).max, 2.0**-1074 * 3, 1e16 + 2]])
    n = x.size
    return pd.DataFrame({"x": x, "y": x[::-1] * 0.7,
                         "i": np.arange(n, dtype=np.int64) * 10**12,
                         "b": np.arange(n) % 2 == 0,
                         "s": [f'id "{k}", a\nb' if k % 7 == 0 else f"P{k:03d}"
                               for k in range(n)]})


def test_write_csv_round_trips_exactly(tmp_path):
    df = _awkward_frame()
    path = write_csv(df, tmp_path / "t.csv")
    back = pd.read_csv(path, float_precision="round_trip", keep_default_na=False,
                       na_values=[""], dtype={"s": str})
    for col in ("x", "y"):
        a, b = df[col].to_numpy(), back[col].to_numpy()
        assert np.array_equal(a, b, equal_nan=True)
        assert np.array_equal(np.signbit(a), np.signbit(b))
    assert back["i"].tolist() == df["i"].tolist()
    assert back["b"].tolist() == df["b"].tolist()
    assert back["s"].tolist() == df["s"].tolist()
    # and with nothing but the csv module and float(): every cell is repr-exact
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row, value in zip(rows, df["x"], strict=True):
        if np.isnan(value):
            assert row["x"] == ""
        else:
            assert float(row["x"]) == value and row["x"] == repr(float(value))


def test_write_csv_is_deterministic_atomic_and_unix(tmp_path):
    df = _awkward_frame()
    a = write_csv(df, tmp_path / "a.csv").read_bytes()
    b = write_csv(df.copy(), tmp_path / "sub" / "b.csv").read_bytes()
    assert a == b
    assert b"\r" not in a.replace(b'a\nb', b"")
    assert a.count(b"\n") == len(df) + 1 + sum("\n" in s for s in df["s"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "sub"]   # no temp files
    write_csv(df.iloc[:2], tmp_path / "a.csv")                              # replaced whole
    assert len(pd.read_csv(tmp_path / "a.csv")) == 2


def test_write_csv_table_one_round_trip(tmp_path, sim):
    t1 = table_one(sim, by="center")
    back = pd.read_csv(write_csv(t1, tmp_path / "t1.csv"), float_precision="round_trip",
                       keep_default_na=False, na_values=[""])
    for col in ("n", "value", "low", "high", "percent", "p"):
        assert np.array_equal(back[col].to_numpy(float), t1[col].to_numpy(float),
                              equal_nan=True)
    with pytest.raises(TypeError):
        write_csv(t1.to_dict(), tmp_path / "x.csv")
    with pytest.raises(ValueError, match="duplicate column"):
        write_csv(pd.DataFrame([[1, 2]], columns=["a", "a"]), tmp_path / "x.csv")


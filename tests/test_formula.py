"""Patient formulas: rms restricted cubic splines, formulaic's cr, categories, partial
effects; held to R (coxph, rms::rcs, splines::ns, rms::Predict) on pbc."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rref import r_ref
from sklearn.base import clone

import survrad as sr
from survrad.exceptions import ConfigError, FitError, SchemaError, StatisticalWarning
from survrad.features import Imputer, Standardize
from survrad.models import PatientFormula, partial_effect, variable_tests
from survrad.models.formula import rcs_basis, rcs_knots


def pbc_frame() -> pd.DataFrame:
    df = sr.load_dataset("pbc").rename(columns={"id": "patient_id"})
    df["death"] = (df["status"] == 2).astype(int)
    return df


def pbc_cohort(features=("age", "bili", "albumin"), missing: str = "error") -> sr.Cohort:
    return sr.read_cohort(pbc_frame(), patient_features=list(features),
                          endpoints={"os": ("time", "death")}, missing=missing)


# ------------------------------------------------------------------- splines against R
@pytest.mark.parametrize("case", ["age_3", "age_4", "age_5", "age_6", "age_7", "bili_4",
                                  "chol_5", "platelet_4", "protime_5", "trig_3",
                                  "age_first60_4"])
def test_rcs_knots_equal_rms(case: str) -> None:
    ref = r_ref("missing", "pbc_rcs_knots")
    var, nk = case.split("_")[0], int(case.rsplit("_", 1)[1])
    x = sr.load_dataset("pbc")[var].to_numpy(float)
    if "first60" in case:
        x = x[:60]                  # fewer than 100 values: outer knots at the 5th values
    # attr(rms::rcs(x, nk), "parms"), ties rule (fractied = 0.05) included (bili, protime)
    np.testing.assert_allclose(rcs_knots(x, nk), ref[case], rtol=1e-12)


def test_rcs_on_too_few_distinct_values_is_named() -> None:
    stage = sr.load_dataset("pbc")["stage"]               # 4 distinct values
    with pytest.warns(StatisticalWarning, match="distinct values"), \
            pytest.raises(SchemaError, match="fewer than 3 distinct knots"):
        rcs_knots(stage, 3)                                # R stops here too


def test_cox_with_rcs_equals_r() -> None:
    ref = r_ref("missing", "pbc_cox_rcs")
    pipe = sr.CohortPipeline(formula="rcs(age, 4) + log(bili)").fit(pbc_cohort(), "os")
    fit = pipe.model_
    # coxph(Surv(time, death) ~ rcs(age, 4) + log(bili), data = pbc)
    assert list(fit.feature_names_in_) == ["age", "age'", "age''", "log(bili)"]
    np.testing.assert_allclose(pipe.formula_.spec_.transform_state["rcs(age, 4)"]["knots"],
                               ref["knots"], rtol=1e-12)
    np.testing.assert_allclose(fit.coef_, ref["coef"], rtol=1e-6)
    np.testing.assert_allclose(fit.se_, ref["se"], rtol=1e-6)
    np.testing.assert_allclose(fit.loglik_, ref["loglik"], rtol=1e-10)


def test_cox_with_rcs_at_given_knots_equals_r() -> None:
    ref = r_ref("missing", "pbc_cox_rcs_knots")
    pipe = sr.CohortPipeline(formula="rcs(albumin, [2.8, 3.3, 3.6, 3.9, 4.2]) + age")
    fit = pipe.fit(pbc_cohort(), "os").model_
    # coxph(Surv(time, death) ~ rcs(albumin, c(2.8, 3.3, 3.6, 3.9, 4.2)) + age, data = pbc)
    np.testing.assert_allclose(fit.coef_, ref["coef"], rtol=1e-6)
    np.testing.assert_allclose(fit.se_, ref["se"], rtol=1e-6)


def test_cr_spans_the_natural_spline_of_r_with_the_same_knots() -> None:
    """formulaic's cr (mgcv's basis, centred) and R's ns() differ as bases but span the
    same natural cubic splines with the same knots: equal likelihood and equal curve."""
    ref = r_ref("missing", "pbc_cox_ns")
    pipe = sr.CohortPipeline(formula="cr(albumin, df=3) + age").fit(pbc_cohort(), "os")
    knots = pipe.formula_.spec_.transform_state["cr(albumin, df=3)"]["knots"]
    # inner knots: quantile(unique(albumin), c(1/3, 2/3), type = 7); boundary: range
    np.testing.assert_allclose(knots, [ref["boundary_knots"][0], *ref["inner_knots"],
                                       ref["boundary_knots"][1]], rtol=1e-12)
    # coxph(Surv(time, death) ~ ns(albumin, knots = inner, Boundary.knots = bounds) + age)
    np.testing.assert_allclose(pipe.model_.loglik_, ref["loglik"], rtol=1e-10)
    np.testing.assert_allclose(pipe.model_.coef_[-1], ref["coef"][-1], rtol=1e-6)   # age
    eff = partial_effect(pipe, "albumin", values=ref["grid"], reference=ref["reference"])
    # predict(fit, data.frame(albumin = grid, age = 50), type = "lp") - same at reference
    np.testing.assert_allclose(eff.log_hazard, ref["log_hazard_vs_reference"], rtol=1e-6,
                               atol=1e-9)
    assert pipe.model_.feature_names_in_[:3].tolist() == ["cr(albumin)[1]", "cr(albumin)[2]",
                                                           "cr(albumin)[3]"]


def test_partial_effect_equals_rms_predict() -> None:
    ref = r_ref("missing", "pbc_rcs_predict")
    pipe = sr.CohortPipeline(formula="rcs(age, 4) + log(bili)").fit(pbc_cohort(), "os")
    eff = partial_effect(pipe, "age", values=ref["age"])
    # Predict(cph(Surv(time, death) ~ rcs(age, 4) + log(bili)), age = grid, ref.zero = TRUE)
    assert eff.reference == pytest.approx(ref["reference"], rel=1e-12)   # datadist median
    np.testing.assert_allclose(eff.log_hazard, ref["yhat"], rtol=1e-6)
    np.testing.assert_allclose(eff.lower, ref["lower"], rtol=1e-6)
    np.testing.assert_allclose(eff.upper, ref["upper"], rtol=1e-6)
    frame = eff.to_frame()
    np.testing.assert_allclose(frame["hazard_ratio"], np.exp(ref["yhat"]), rtol=1e-6)
    assert eff.columns == ("age", "age'", "age''")


def test_variable_tests_equal_rms_anova() -> None:
    ref = r_ref("missing", "pbc_rcs_anova")
    pipe = sr.CohortPipeline(formula="rcs(age, 4) + log(bili)").fit(pbc_cohort(), "os")
    tests = variable_tests(pipe)
    # anova(cph(Surv(time, death) ~ rcs(age, 4) + log(bili)))
    assert tests["test"].tolist() == ["age", "age (nonlinear)", "bili", "TOTAL"]
    np.testing.assert_allclose(tests["chisq"], ref["chisq"], rtol=1e-6)
    np.testing.assert_array_equal(tests["df"], ref["df"])
    np.testing.assert_allclose(tests["p"][:2], ref["p"][:2], rtol=1e-5)


def test_rcs_basis_is_linear_beyond_the_outer_knots() -> None:
    knots = [1.0, 2.0, 4.0, 7.0]
    x = np.array([8.0, 9.0, 10.0, 11.0])
    second = np.diff(rcs_basis(x, knots), n=2, axis=0)
    np.testing.assert_allclose(second, 0.0, atol=1e-9)


# --------------------------------------------------------------- complete-case formula
def test_complete_case_formula_cox_equals_r() -> None:
    ref = r_ref("missing", "pbc_cc_cox_formula")
    cohort = pbc_cohort(("age", "bili", "albumin", "protime", "edema", "chol", "copper"),
                        missing="complete_case")
    formula = "age + log(bili) + albumin + log(protime) + C(edema) + chol + copper"
    fit = sr.CohortPipeline(formula=formula).fit(cohort, "os").model_
    # coxph(Surv(time, death) ~ age + log(bili) + albumin + log(protime) + factor(edema)
    #       + chol + copper, data = pbc)
    assert cohort.n_patients == ref["n"]
    assert list(fit.feature_names_in_) == ["age", "log(bili)", "albumin", "log(protime)",
                                           "edema=0.5", "edema=1.0", "chol", "copper"]
    np.testing.assert_allclose(fit.coef_, ref["coef"], rtol=1e-6)
    np.testing.assert_allclose(fit.se_, ref["se"], rtol=1e-6)


def test_categorical_partial_effect_is_the_coefficient() -> None:
    cohort = pbc_cohort(("age", "edema"))
    pipe = sr.CohortPipeline(formula="age + C(edema)").fit(cohort, "os")
    eff = partial_effect(pipe, "edema")
    assert eff.categorical and eff.reference == 0.0
    np.testing.assert_array_equal(eff.values, np.array([0.0, 0.5, 1.0], dtype=object))
    s = pipe.model_.summary().to_frame()
    np.testing.assert_allclose(eff.log_hazard, [0.0, s.loc["edema=0.5", "coef"],
                                                s.loc["edema=1.0", "coef"]], atol=1e-12)
    np.testing.assert_allclose(eff.se[1:], s.loc[["edema=0.5", "edema=1.0"], "se"],
                               rtol=1e-10)


def test_partial_effect_is_unchanged_by_standardising_after_the_formula() -> None:
    cohort = pbc_cohort()
    plain = sr.CohortPipeline(formula="rcs(age, 4) + log(bili)").fit(cohort, "os")
    scaled = sr.CohortPipeline(formula="rcs(age, 4) + log(bili)",
                               features=[Standardize()]).fit(cohort, "os")
    a = partial_effect(plain, "age", n_points=9)
    b = partial_effect(scaled, "age", n_points=9)
    np.testing.assert_allclose(b.log_hazard, a.log_hazard, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(b.upper, a.upper, rtol=1e-7, atol=1e-10)


def test_term_and_variable_columns() -> None:
    df = pbc_frame()
    f = PatientFormula("rcs(age, 3) + C(edema) + sex + age:sex").fit(df)
    assert f.feature_names_out_ == ["age", "age'", "edema=0.5", "edema=1.0", "sex=m",
                                    "age:sex=f", "age:sex=m"]
    assert f.term_columns_["rcs(age, 3)"] == ["age", "age'"]
    assert f.variable_columns_["sex"] == ["sex=m", "age:sex=f", "age:sex=m"]
    assert f.categorical_variables_ == ["edema", "sex"] and f.numeric_variables_ == ["age"]
    assert f.levels_["sex"] == ["f", "m"] and f.reference_["sex"] == "f"


# ------------------------------------------------------------------------- bad input
def test_unknown_column_is_named_with_close_matches() -> None:
    with pytest.raises(SchemaError, match="albumin") as info:
        sr.CohortPipeline(formula="age + albumen").fit(pbc_cohort(), "os")
    assert info.value.column == "albumen"


def test_an_outcome_column_cannot_be_a_predictor() -> None:
    with pytest.raises(SchemaError, match="outcome column of endpoint 'os'") as info:
        sr.CohortPipeline(formula="age + log(time)").fit(pbc_cohort(), "os")
    assert info.value.column == "time"


def test_level_seen_only_in_held_out_patients_is_named() -> None:
    cohort = pbc_cohort(("age", "edema"))
    ids = cohort.patient_ids
    edema = cohort.patients["edema"]
    train = ids[edema.to_numpy() != 1.0]
    pipe = sr.CohortPipeline(formula="age + C(edema)").fit(cohort.subset(train), "os")
    with pytest.raises(SchemaError, match="not seen in the training") as info:
        pipe.predict_risk(cohort)
    assert info.value.column == "edema"
    assert set(info.value.ids) == set(ids[edema.to_numpy() == 1.0])


def test_formula_misuse_is_a_config_error() -> None:
    cohort = pbc_cohort()
    with pytest.raises(ConfigError, match="left-hand side"):
        sr.CohortPipeline(formula="Surv(time, death) ~ age").fit(cohort, "os")
    with pytest.raises(ConfigError, match="intercept"):
        sr.CohortPipeline(formula="0 + age + bili").fit(cohort, "os")
    with pytest.raises(ConfigError, match="not both"):
        sr.CohortPipeline(formula="age", patient_features=["age"]).fit(cohort, "os")
    with pytest.raises(ConfigError, match="parse"):
        sr.CohortPipeline(formula="age + (bili").fit(cohort, "os")


def test_non_finite_transform_is_named() -> None:
    df = pbc_frame()
    df.loc[3, "bili"] = 0.0
    cohort = sr.read_cohort(df, patient_features=["bili"], endpoints={"os": ("time", "death")})
    with pytest.raises(SchemaError, match="not finite") as info:
        sr.CohortPipeline(formula="log(bili)").fit(cohort, "os")
    assert info.value.ids == [str(df.loc[3, "patient_id"])]


def test_missing_values_in_formula_variables_are_named() -> None:
    cohort = pbc_cohort(("age", "chol", "stage"), missing="impute")
    with pytest.raises(SchemaError, match="Imputer") as info:
        sr.CohortPipeline(formula="age + chol").fit(cohort, "os")
    assert info.value.column == "chol"
    with pytest.raises(SchemaError, match="level of their own") as info:
        sr.CohortPipeline(formula="age + C(stage)", features=[Imputer()]).fit(cohort, "os")
    assert info.value.column == "stage"


def test_text_column_with_a_few_non_numbers_is_not_taken_as_categories() -> None:
    df = pbc_frame()
    df["albumin"] = df["albumin"].astype(str)
    df.loc[5, "albumin"] = "<2.0"
    with pytest.raises(SchemaError, match="typos") as info:
        PatientFormula("age + albumin").fit(df)
    assert info.value.values == ["<2.0"]


def test_partial_effect_needs_a_formula_and_inference() -> None:
    cohort = pbc_cohort()
    with pytest.raises(ConfigError, match="formula"):
        partial_effect(sr.CohortPipeline().fit(cohort, "os"), "age")
    pipe = sr.CohortPipeline(formula="rcs(age, 3) + bili").fit(cohort, "os")
    with pytest.raises(ConfigError, match="Did you mean 'age'"):
        partial_effect(pipe, "agee")
    pen = sr.CohortPipeline(formula="rcs(age, 3) + bili",
                            model=sr.CoxModel(penalty=0.1)).fit(cohort, "os")
    with pytest.raises(FitError, match="unpenalised"):
        partial_effect(pen, "age")


# -------------------------------------------------------------------- inside pipelines
def test_knots_are_learned_on_training_patients_and_reused() -> None:
    cohort = pbc_cohort()
    ids = cohort.patient_ids
    train, held = cohort.subset(ids[:200]), cohort.subset(ids[200:])
    pipe = sr.CohortPipeline(formula="rcs(age, 4) + log(bili)").fit(train, "os")
    knots = pipe.formula_.spec_.transform_state["rcs(age, 4)"]["knots"]
    np.testing.assert_allclose(knots, rcs_knots(train.patients["age"], 4))
    assert not np.allclose(knots, rcs_knots(cohort.patients["age"], 4))
    X = pipe.transform(held)
    np.testing.assert_allclose(X[["age", "age'", "age''"]].to_numpy(),
                               rcs_basis(held.patients["age"], knots))


def test_imputer_fills_raw_variables_before_the_formula() -> None:
    cohort = pbc_cohort(("age", "bili", "chol", "copper"), missing="impute")
    pipe = sr.CohortPipeline(formula="age + log(bili) + rcs(chol, 3) + log(copper)",
                             features=[Imputer(add_indicator=True), Standardize()])
    pipe.fit(cohort, "os")
    assert pipe.n_steps_before_formula() == 1
    assert pipe.feature_names_in_ == ["age", "bili", "chol", "copper"]
    assert pipe.feature_names_out_ == ["chol_missing", "copper_missing", "age", "log(bili)",
                                       "chol", "chol'", "log(copper)"]
    X = pipe.transform(cohort)
    assert not X.isna().any().any()
    # the spline columns of a patient with imputed chol are the spline of the imputed value
    filled = pipe.steps_[0].transform(cohort.X(["age", "bili", "chol", "copper"]))
    gap = cohort.patients["chol"].isna().to_numpy()
    knots = pipe.formula_.spec_.transform_state["rcs(chol, 3)"]["knots"]
    basis = rcs_basis(filled["chol"].to_numpy()[gap], knots)
    design = pipe.formula_.transform(filled)
    np.testing.assert_allclose(design.loc[gap, ["chol", "chol'"]].to_numpy(), basis)


def test_formula_pipeline_in_the_bootstrap_and_clone() -> None:
    cohort = pbc_cohort(("age", "bili", "edema"))
    pipe = sr.CohortPipeline(formula="rcs(age, 3) + log(bili) + C(edema)")
    twin = clone(pipe)
    assert twin.formula == pipe.formula and twin._front_key() == pipe._front_key()
    assert sr.CohortPipeline(formula="age")._front_key() != pipe._front_key()
    res = sr.bootstrap_validate(pipe, cohort, "os", n_boot=4, random_state=1, progress=False,
                                n_jobs=1)
    assert res.replicates["status"].eq("ok").all()
    assert 0.75 < res.summary().set_index("metric").loc["c_index", "corrected"] < 0.9


def u_shaped(seed: int, n: int = 2000) -> sr.Cohort:
    """Age ~ N(60, 10); true log hazard log(cosh((age - 60) / 8)): a U with its minimum at
    60, quadratic near it, straight beyond (about 1.8 at 40 and 80)."""
    rng = np.random.default_rng(seed)
    age = rng.normal(60, 10, n)
    t = rng.exponential(1 / (0.1 * np.exp(np.log(np.cosh((age - 60) / 8)))))
    c = rng.exponential(1 / 0.05, n)
    df = pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)], "os_time": np.minimum(t, c),
                       "os_event": (t <= c).astype(int), "age": age})
    return sr.read_cohort(df, patient_features=["age"])


def spline_error(seed: int) -> float:
    """Max abs error of the fitted log hazard over the central 90 % of ages, after
    removing the constant (the log hazard is identified up to one)."""
    cohort = u_shaped(seed)
    pipe = sr.CohortPipeline(formula="rcs(age, 4)").fit(cohort, "os")
    lo, hi = np.quantile(cohort.patients["age"], [0.05, 0.95])
    grid = np.linspace(lo, hi, 200)
    diff = partial_effect(pipe, "age", values=grid).log_hazard - np.log(np.cosh((grid - 60) / 8))
    return float(np.max(np.abs(diff - diff.mean())))


def test_spline_recovers_a_u_shaped_effect() -> None:
    assert spline_error(0) < 0.15


def test_spline_recovers_a_u_shaped_effect_over_seeds() -> None:
    """Measured over seeds 0-29: mean 0.076, largest 0.133."""
    errors = [spline_error(seed) for seed in range(20)]
    assert max(errors) < 0.15 and np.mean(errors) < 0.1


def test_pipelines_sharing_a_formula_front_give_their_separate_numbers() -> None:
    from survrad.evaluation.bootstrap import compare_pipelines

    cohort = pbc_cohort(("age", "bili", "chol"), missing="impute")
    front = {"formula": "rcs(age, 3) + log(bili) + log(chol)", "features": [Imputer()]}
    pipes = {"cox": sr.CohortPipeline(**front),
             "ridge": sr.CohortPipeline(**front, model=sr.CoxModel(penalty=0.05))}
    assert pipes["cox"]._front_key() == pipes["ridge"]._front_key()
    both = compare_pipelines(pipes, cohort, "os", n_boot=3, random_state=2, progress=False,
                             n_jobs=1)
    alone = sr.bootstrap_validate(pipes["ridge"], cohort, "os", n_boot=3, random_state=2,
                                  progress=False, n_jobs=1)
    pd.testing.assert_frame_equal(both.summary().query("pipeline == 'ridge'")
                                  .drop(columns="pipeline").reset_index(drop=True),
                                  alone.summary().reset_index(drop=True), check_like=True)

"""Imputer (patient columns) and ImputeLesions (lesion columns): fitted on training rows only."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

import survrad as sr
from survrad.exceptions import FitError, SchemaError
from survrad.features import Imputer, Standardize
from survrad.lesions import FeatureStatistics, ImputeLesions

PBC_FEATURES = ["age", "bili", "albumin", "protime", "chol", "copper", "platelet"]


def pbc_cohort() -> sr.Cohort:
    df = sr.load_dataset("pbc").rename(columns={"id": "patient_id"})
    df["death"] = (df["status"] == 2).astype(int)
    return sr.read_cohort(df, patient_features=PBC_FEATURES,
                          endpoints={"os": ("time", "death")}, missing="impute")


def frame(seed: int = 0, n: int = 60, missing: float = 0.2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(50, 10, n)
    X = pd.DataFrame({"a": a, "b": 2.0 * a + rng.normal(0, 1, n), "c": rng.normal(size=n)},
                     index=[f"P{i}" for i in range(n)])
    for col in ("b", "c"):
        X.loc[rng.random(n) < missing, col] = np.nan
    return X


@pytest.mark.parametrize("method", ["median", "knn", "iterative"])
def test_observed_values_unchanged_and_every_gap_filled(method: str) -> None:
    X = frame()
    out = Imputer(method=method).fit(X).transform(X)
    assert not out.isna().any().any()
    observed = X.notna().to_numpy()
    np.testing.assert_array_equal(out.to_numpy()[observed], X.to_numpy()[observed])
    assert list(out.index) == list(X.index) and list(out.columns) == ["a", "b", "c"]


def test_median_is_the_training_median_and_indicators_are_added() -> None:
    train, test = frame(0), frame(1)
    imp = Imputer(method="median", add_indicator=True).fit(train)
    out = imp.transform(test)
    gaps = test["b"].isna()
    assert np.all(out.loc[gaps, "b"] == train["b"].median())
    assert imp.indicator_columns_ == ["b", "c"]
    assert list(out.columns) == ["a", "b", "c", "b_missing", "c_missing"]
    np.testing.assert_array_equal(out["b_missing"], gaps.astype(float))
    assert imp.n_missing_.to_dict() == train.isna().sum().to_dict()


def test_knn_is_the_mean_of_the_nearest_training_rows() -> None:
    train = pd.DataFrame({"a": [0.0, 1.0, 2.0, 10.0, 11.0], "b": [5.0, 6.0, 7.0, 50.0, 51.0]})
    test = pd.DataFrame({"a": [1.2, 10.4], "b": [np.nan, np.nan]})
    out = Imputer(method="knn", n_neighbors=2).fit(train).transform(test)
    np.testing.assert_allclose(out["b"], [6.5, 50.5])        # rows (1, 2) and (10, 11)


def test_iterative_uses_the_other_columns_and_stays_in_range() -> None:
    X = frame(2, n=200)
    out = Imputer(method="iterative").fit(X).transform(X)
    gaps = X["b"].isna()
    # b = 2a + N(0, 1): the chained equations recover it; the median would not
    err = out.loc[gaps, "b"] - 2 * X.loc[gaps, "a"]
    assert np.abs(err).max() < 5.0 < np.abs(X["b"].median() - 2 * X.loc[gaps, "a"]).max()
    assert out["b"].between(X["b"].min(), X["b"].max()).all()


def test_iterative_equals_scikit_learns_iterative_imputer_with_linear_regression() -> None:
    import warnings

    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer
    from sklearn.linear_model import LinearRegression

    raw = sr.load_dataset("pbc")[["age", "bili", "albumin", "protime", "chol", "copper",
                                   "platelet", "trig"]]
    train, test = raw.iloc[:300], raw.iloc[300:]
    ours = Imputer(max_iter=5).fit(train)
    with warnings.catch_warnings():   # tol=0: no early stop, so sklearn says it did not
        warnings.simplefilter("ignore")
        sk = IterativeImputer(estimator=LinearRegression(), max_iter=5, tol=0,
                              imputation_order="ascending", skip_complete=False,
                              min_value=train.min().to_numpy(),
                              max_value=train.max().to_numpy()).fit(train)
    for rows in (train, test):
        np.testing.assert_allclose(ours.transform(rows).to_numpy(), sk.transform(rows),
                                   rtol=1e-10)


def test_posterior_draws_have_the_residual_spread() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=4000)
    X = pd.DataFrame({"x": x, "y": 2 * x + rng.normal(size=4000)})
    gaps = rng.random(4000) < 0.5
    X.loc[gaps, "y"] = np.nan
    mean = Imputer().fit(X).transform(X)
    draw = Imputer(sample_posterior=True, random_state=0).fit(X).transform(X)
    # predictions sit on the line; mice-style draws scatter around it with sd ~ 1
    assert np.std(mean.loc[gaps, "y"] - 2 * x[gaps]) < 0.05
    assert abs(np.std(draw.loc[gaps, "y"] - 2 * x[gaps]) - 1.0) < 0.05


def test_transform_is_row_by_row() -> None:
    train, test = frame(0), frame(3)
    for method in ("median", "knn", "iterative"):
        imp = Imputer(method=method).fit(train)
        together = imp.transform(test)
        alone = pd.concat([imp.transform(test.iloc[[i]]) for i in range(len(test))])
        # equal up to round-off (matrix products of other sizes add in another order)
        pd.testing.assert_frame_equal(together, alone, check_exact=False, rtol=1e-12)


def test_posterior_draws_are_seeded() -> None:
    X = frame(4)
    one = Imputer(sample_posterior=True, random_state=1).fit(X).transform(X)
    two = Imputer(sample_posterior=True, random_state=1).fit(X).transform(X)
    three = Imputer(sample_posterior=True, random_state=2).fit(X).transform(X)
    pd.testing.assert_frame_equal(one, two)
    assert not one.equals(three)


def test_a_column_without_training_values_is_named() -> None:
    X = frame()
    X["d"] = np.nan
    with pytest.raises(FitError, match="no observed value") as info:
        Imputer().fit(X)
    assert info.value.columns == ["d"]


def test_bad_input_is_refused() -> None:
    X = frame()
    with pytest.raises(ValueError, match="method"):
        Imputer(method="mean").fit(X)
    X.iloc[0, 0] = np.inf
    with pytest.raises(SchemaError, match="infinite"):
        Imputer().fit(X)
    with pytest.raises(SchemaError, match="already columns"):
        Imputer(add_indicator=True).fit(frame().assign(b_missing=1.0))


def test_a_step_after_the_imputer_never_sees_nan_but_one_before_does() -> None:
    cohort = pbc_cohort()
    with pytest.raises(SchemaError, match="Imputer step"):
        sr.CohortPipeline(features=[Standardize(), Imputer()]).fit(cohort, "os")
    pipe = sr.CohortPipeline(features=[Imputer(method="median"), Standardize()]).fit(cohort, "os")
    assert not pipe.transform(cohort).isna().any().any()


# ----------------------------------------------------------- no held-out information
def test_training_fit_does_not_move_when_held_out_patients_change() -> None:
    cohort = pbc_cohort()
    ids = cohort.patient_ids
    train, held = ids[:300], ids[300:]
    changed = cohort.patients.copy()
    rng = np.random.default_rng(0)
    for col in PBC_FEATURES:     # scramble every held-out covariate, punch new holes
        vals = changed.loc[held, col].to_numpy() * rng.uniform(0.1, 10, len(held))
        vals[rng.random(len(held)) < 0.3] = np.nan
        changed.loc[held, col] = vals
    other = sr.Cohort(changed, patient_features=cohort.patient_features,
                      endpoints=cohort.endpoints)
    pipe = sr.CohortPipeline(features=[Imputer(add_indicator=True)], model=sr.CoxModel())
    a = clone(pipe).fit(cohort.subset(train), "os")
    b = clone(pipe).fit(other.subset(train), "os")
    np.testing.assert_array_equal(a.model_.coef_, b.model_.coef_)
    np.testing.assert_array_equal(a.steps_[0].engine_.center_, b.steps_[0].engine_.center_)
    # the training patients' predictions are the same; only held-out ones change
    ra, rb = a.predict_risk(cohort), b.predict_risk(other)
    np.testing.assert_array_equal(ra[train], rb[train])
    assert not np.allclose(ra[held], rb[held])


class RecordingImputer(Imputer):
    """An Imputer that records the rows it is fitted on and the rows it transforms."""

    log: ClassVar[list] = []

    def fit(self, X, y=None):
        RecordingImputer.log.append(("fit", list(X.index), X.median().to_numpy()))
        return super().fit(X, y)

    def transform(self, X):
        RecordingImputer.log.append(("transform", list(X.index), None))
        return super().transform(X)


def test_bootstrap_refits_the_imputer_on_each_replicate_only() -> None:
    cohort = pbc_cohort()
    RecordingImputer.log = []
    pipe = sr.CohortPipeline(features=[RecordingImputer(method="median")],
                             model=sr.CoxModel())
    res = sr.bootstrap_validate(pipe, cohort, "os", n_boot=4, method=".632+", random_state=3,
                                progress=False, n_jobs=1)
    assert res.replicates["status"].eq("ok").all()
    log = RecordingImputer.log
    fits = [i for i, (kind, _, _) in enumerate(log) if kind == "fit"]
    assert len(fits) == 1 + 4                       # the apparent fit, then one per replicate
    original = set(cohort.patient_ids)
    for k, start in enumerate(fits[1:]):
        _, rows, medians = log[start]
        drawn = {r.split("#")[0] for r in rows}
        assert len(rows) == cohort.n_patients and len(drawn) < cohort.n_patients
        # the medians learned are those of the drawn rows (repeats included) only
        X = cohort.take([r.split("#")[0] for r in rows]).X()
        np.testing.assert_array_equal(medians, X.median().to_numpy())
        # the out-of-bag patients are transformed, never fitted on
        end = fits[k + 2] if k + 2 < len(fits) else len(log)
        oob = [set(r) for kind, r, _ in log[start + 1:end] if kind == "transform"
               and not set(r) & set(rows)]
        assert oob and all(s <= original - drawn for s in oob)
        assert oob[0] == original - drawn


# ---------------------------------------------------------------- lesion-level gaps
def lesion_cohort(seed: int = 0) -> sr.Cohort:
    c = sr.simulate_cohort(n_patients=80, random_state=seed, n_noise_features=2)
    les = c.lesions.copy()
    rng = np.random.default_rng(seed)
    les.loc[rng.random(len(les)) < 0.1, "rad_sig_01"] = np.nan
    return sr.Cohort(c.patients, les, patient_features=c.patient_features,
                     lesion_features=c.lesion_features, endpoints=c.endpoints,
                     columns=c.columns)


def test_lesion_gaps_are_filled_before_aggregation_with_training_lesions() -> None:
    cohort = lesion_cohort()
    ids = cohort.patient_ids
    train, held = cohort.subset(ids[:60]), cohort.subset(ids[60:])
    strat = FeatureStatistics(stats=["mean", "max"], features=["rad_sig_01", "rad_sig_02"])
    with pytest.raises(SchemaError, match="NaN"):
        clone(strat).fit(train)
    imp = ImputeLesions(strat, method="median", features=["rad_sig_01", "rad_sig_02"])
    out = imp.fit(train).transform(held)
    assert not out.isna().any().any()
    median = train.lesions["rad_sig_01"].median()
    assert imp.engine_.transform(np.array([[np.nan, 0.0]]))[0, 0] == median
    filled = imp.impute(held).lesions
    gaps = held.lesions["rad_sig_01"].isna()
    assert gaps.any() and np.all(filled.loc[gaps, "rad_sig_01"] == median)
    assert imp.n_missing_["rad_sig_01"] == train.lesions["rad_sig_01"].isna().sum()
    # what the strategy sees: the completed lesions of the held-out patients
    expected = clone(strat).fit(imp.impute(train)).transform(imp.impute(held))
    pd.testing.assert_frame_equal(out, expected)


def test_lesion_imputation_inside_a_pipeline_and_its_bootstrap() -> None:
    cohort = lesion_cohort(1)
    strat = ImputeLesions(FeatureStatistics(stats=["mean"], features=["rad_sig_01"]),
                          method="knn")
    pipe = sr.CohortPipeline(strategy=strat, model=sr.CoxModel(), patient_features=())
    res = sr.bootstrap_validate(pipe, cohort, "os", n_boot=3, random_state=0,
                                progress=False, n_jobs=1)
    assert res.replicates["status"].eq("ok").all()
    assert res.fitted.strategy_.requires_outcome is False


def test_lesion_imputer_needs_a_strategy_and_numeric_columns() -> None:
    cohort = lesion_cohort()
    with pytest.raises(ValueError, match="lesion strategy"):
        ImputeLesions().fit(cohort)
    with pytest.raises(SchemaError, match="not numeric"):
        ImputeLesions(FeatureStatistics(), features=["organ"]).fit(cohort)

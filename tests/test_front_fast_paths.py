"""Fast paths of the pipeline front: each gives exactly what the checked path gives.

``check_frame`` and ``lesion_values`` read a clean block at once and check each column
in turn only when something is wrong (to say which); ``FeatureStep._check_columns`` keeps
a frame already in the training layout; ``ComBat.transform`` builds its output in one
block; ``AggregationStrategy.transform`` keeps a frame that is already float in the fitted
column order. These tests hold each against the column-by-column code it replaces, on
simulated cohorts and on bad input (same values, same errors).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

import survrad as sr
from survrad.exceptions import SchemaError
from survrad.features import ComBat, CorrelationFilter, VarianceFilter
from survrad.features._base import _check_numeric_column, check_frame, checked_values
from survrad.lesions import FeatureStatistics, LargestLesions, TumorBurden
from survrad.lesions.base import _read_columns, lesion_values, resolve_features


@pytest.fixture(scope="module")
def cohort():
    return sr.simulate_cohort(n_patients=80, random_state=3)


@pytest.fixture(scope="module")
def design(cohort):
    """A strategy's output plus patient columns and the batch, as the pipeline builds it."""
    X = pd.concat([TumorBurden().fit_transform(cohort), cohort.X(["age", "pdl1"])], axis=1)
    return pd.concat([X, cohort.patients[["center"]].astype(str)], axis=1)


def _column_by_column(X, cols, step, allow_missing=False):
    """The per-column checks ``check_frame`` ran before its fast path."""
    for col in cols:
        _check_numeric_column(X[col], step=step, column=col, allow_missing=allow_missing)


def _error(fn):
    with pytest.raises(Exception) as info:  # any error: compared below
        fn()
    e = info.value
    return type(e), str(e), getattr(e, "column", None), getattr(e, "ids", None)


def test_checked_values_reads_what_the_columns_hold(design):
    feats = [c for c in design.columns if c != "center"]
    values = checked_values(design, feats, step="t")
    np.testing.assert_array_equal(values, design[feats].to_numpy(dtype=float))
    assert checked_values(design[feats], feats, step="t").shape == (len(design), len(feats))


@pytest.mark.parametrize("allow_missing", [False, True])
@pytest.mark.parametrize("spoil", ["nan", "inf", "text", "object_numbers", "bool",
                                   "nullable", "nullable_na", "absent"])
def test_check_frame_errors_are_those_of_the_column_checks(design, spoil, allow_missing):
    X = design.drop(columns="center").copy()
    col = X.columns[3]
    if spoil == "nan":
        X.iloc[[2, 5], 3] = np.nan
    elif spoil == "inf":
        X.iloc[4, 3] = -np.inf
    elif spoil == "text":
        X[col] = X[col].astype(object)
        X.iloc[1, 3] = "n/a"
    elif spoil == "object_numbers":
        X[col] = X[col].astype(object)
    elif spoil == "bool":
        X[col] = X[col] > X[col].median()
    elif spoil == "nullable":
        X[col] = pd.array(np.arange(len(X)), dtype="Int64")
    elif spoil == "nullable_na":
        X[col] = pd.array([None, *range(1, len(X))], dtype="Int64")
    cols = [*X.columns, "not_there"] if spoil == "absent" else list(X.columns)

    def fast():
        return check_frame(X, step="Step", columns=cols, allow_missing=allow_missing)

    def slow():
        return _column_by_column(X, cols, "Step", allow_missing=allow_missing)

    try:
        slow()
    except Exception:  # the old path fails: the new one must fail the same way
        assert _error(fast) == _error(slow)
    else:
        assert fast() is X


def test_check_columns_keeps_the_training_layout_and_still_checks(design):
    X = design.drop(columns="center")
    step = VarianceFilter().fit(X)
    pd.testing.assert_frame_equal(step._check_columns(X), X.loc[:, list(X.columns)])
    shuffled = X[X.columns[::-1]]
    pd.testing.assert_frame_equal(step._check_columns(shuffled), X)
    kind, msg, *_ = _error(lambda: step._check_columns(X.iloc[:, 1:]))
    assert kind is SchemaError and "missing" in msg


def _combat_old_output(step, X):
    """ComBat.transform's output as it was built before (drop, astype, then assign)."""
    new = step.transform(X)
    feats = step.feature_columns_
    out = X.drop(columns=[step.batch_col]).astype(dict.fromkeys(feats, float))
    out[feats] = new[feats].to_numpy()
    return new, out


@pytest.mark.parametrize("unseen", ["error", "reference"])
def test_combat_transform_frame_equals_the_column_by_column_one(cohort, design, unseen):
    rng = np.random.default_rng(0)
    train = design.iloc[rng.integers(0, len(design), len(design))]
    train = train[~train.index.duplicated()]
    step = ComBat(batch_col="center", unseen=unseen).fit(train)
    new, old = _combat_old_output(step, design)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    assert new.index.equals(design.index)
    assert list(new.columns) == [c for c in design.columns if c != "center"]
    # the same numbers as harmonising each row from the stored estimates by hand
    feats = step.feature_columns_
    b = design["center"].to_numpy()
    mean, sd = step.grand_mean_.to_numpy(), np.sqrt(step.var_pooled_.to_numpy())
    z = (design[feats].to_numpy() - mean) / sd
    z = (z - step.gamma_star_.loc[b].to_numpy()) / np.sqrt(step.delta_star_.loc[b].to_numpy())
    np.testing.assert_array_equal(new[feats].to_numpy(), z * sd + mean)

def test_combat_transform_keeps_covariates_and_the_errors(design):
    X = design.copy()
    X["sex"] = np.where(np.arange(len(X)) % 2, "F", "M")
    step = ComBat(batch_col="center", covariates=["sex"]).fit(X)
    out = step.transform(X)
    assert out["sex"].tolist() == X["sex"].tolist()
    bad = design.copy()
    bad.iloc[0, 0] = np.nan
    fitted = ComBat(batch_col="center").fit(design)
    kind, msg, column, ids = _error(lambda: fitted.transform(bad))
    assert kind is SchemaError and "missing values" in msg
    assert (column, ids) == (str(design.columns[0]), [design.index[0]])


def test_lesion_values_block_equals_column_reads(cohort):
    table = cohort.baseline_lesions()
    names = [*resolve_features(cohort, "rad_*"), cohort.columns.volume]
    fast = lesion_values(table, names, cohort)
    slow = np.empty_like(fast)
    _read_columns(table, names, cohort, slow)
    np.testing.assert_array_equal(fast, slow)
    assert fast.flags.c_contiguous and fast.dtype == np.float64


def test_lesion_values_errors_unchanged(cohort):
    table = cohort.baseline_lesions().copy()
    name = resolve_features(cohort, "rad_*")[0]
    table[name] = table[name].astype(object)
    table.iloc[2, table.columns.get_loc(name)] = "x"
    kind, msg, column, ids = _error(lambda: lesion_values(table, [name], cohort))
    assert kind is SchemaError and "not numeric" in msg and column == name
    assert len(ids) == 1
    table[name] = cohort.baseline_lesions()[name].to_numpy()
    table.iloc[3, table.columns.get_loc(name)] = np.inf
    kind, msg, column, _ = _error(lambda: lesion_values(table, [name], cohort))
    assert kind is SchemaError and "infinite" in msg and column == name


@pytest.mark.parametrize("strategy", [TumorBurden(), LargestLesions(k=1),
                                      FeatureStatistics(stats=("mean", "max"))])
def test_aggregation_transform_equals_the_selected_float_frame(cohort, strategy):
    fitted = clone(strategy).fit(cohort.take_positions(np.arange(0, 80, 2)))
    out = fitted.transform(cohort)
    ref = fitted._compute(cohort)[fitted.feature_names_out_].astype(np.float64)
    pd.testing.assert_frame_equal(out, ref, check_exact=True)


def test_front_of_a_pipeline_equals_step_by_step(cohort):
    pipe = sr.CohortPipeline(strategy=TumorBurden(),
                             features=[VarianceFilter(), ComBat(batch_col="center"),
                                       CorrelationFilter()])
    train = cohort.take_positions(np.random.default_rng(1).integers(0, 80, 80))
    X_fit = pipe._fit_front(train, "os")
    pipe.model_ = None
    X = pd.concat([pipe.strategy_.transform(cohort), cohort.X(list(cohort.patient_features))],
                  axis=1)
    batch = cohort.patients[["center"]].astype(str)
    X = pipe.steps_[0].transform(X)
    X = pipe.steps_[1].transform(pd.concat([X, batch], axis=1))
    X = pipe.steps_[2].transform(X)
    pd.testing.assert_frame_equal(pipe.transform(cohort), X, check_exact=True)
    assert list(X_fit.columns) == list(X.columns)

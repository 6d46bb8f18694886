"""The numpy fast paths of the metrics equal the library calls they replace.

``roc_auc`` (Mann-Whitney), ``brier_binary`` and the IRLS of ``calibration_slope_binary``
against scikit-learn and statsmodels; the shared censoring model and the one-pass Brier
score of ``score_pipeline`` against the per-call, per-horizon computation (bit for bit).
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.metrics import brier_score_loss, roc_auc_score

from survrad.data.outcome import Surv, check_binary
from survrad.evaluation import metrics as met
from survrad.evaluation.nonparametric import censoring_survival
from survrad.exceptions import SchemaError

SEEDS = range(40)


def _binary(seed: int, n: int, ties: int | None = None):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rng.uniform(0.1, 0.9)).astype(int)
    y[:2] = [0, 1]
    p = rng.random(n) if ties is None else rng.integers(0, ties, n) / ties
    return y, p


@pytest.mark.parametrize("ties", [None, 2, 3, 10, 50])
def test_roc_auc_equals_sklearn(ties) -> None:
    for seed in SEEDS:
        for n in (5, 37, 400):
            y, p = _binary(seed, n, ties)
            assert met.roc_auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)


def test_roc_auc_all_tied_is_one_half() -> None:
    assert met.roc_auc([0, 1, 0, 1], [0.3] * 4) == 0.5 == roc_auc_score([0, 1, 0, 1], [0.3] * 4)


def test_brier_binary_equals_sklearn() -> None:
    for seed in SEEDS:
        y, p = _binary(seed, 200)
        p[:3] = [0.0, 1.0, 0.5]
        assert met.brier_binary(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-15)


def _glm_params(y, x):
    return sm.GLM(y, sm.add_constant(x[:, None], has_constant="add"),
                  family=sm.families.Binomial()).fit().params


def test_logistic_irls_equals_statsmodels_glm() -> None:
    worst = 0.0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        n = int(rng.integers(20, 500))
        lp = rng.normal(size=n) * rng.uniform(0.2, 2.0)
        y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
        x = lp * rng.uniform(0.3, 3.0) + rng.normal(0, 0.3, n)
        ours = met._logistic_irls(y, x[:, None])
        ref = _glm_params(y, x)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)
        worst = max(worst, np.max(np.abs(ours - ref)))
        p = 1 / (1 + np.exp(-x))
        assert met.calibration_slope_binary(y, p) == pytest.approx(ref[1], abs=1e-9)
    assert worst < 1e-12      # the same iterations: only rounding differs


def test_logistic_irls_separation_is_a_value_error() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    with pytest.raises(ValueError, match=r"did not converge \(perfect separation\?\): Perfect"):
        met.calibration_slope_binary(y, p)
    with pytest.raises(ValueError, match="did not converge"):     # the statsmodels path
        met._logistic_fit(y, np.log(p / (1 - p))[:, None])


def test_calibration_slope_binary_keeps_its_errors() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        met.calibration_slope_binary([0, 1, 1], [0.0, 0.5, 0.6])
    with pytest.raises(ValueError, match="all equal"):
        met.calibration_slope_binary([0, 1, 1], [0.4, 0.4, 0.4])
    with pytest.raises(SchemaError, match="single class"):
        met.roc_auc([1, 1, 1], [0.4, 0.5, 0.6])


@pytest.mark.parametrize("target", [[0, 1, 1, 0], [False, True, True, False],
                                    np.array([0.0, 1.0, 1.0, 0.0]), np.array([0, 1, 1, 0],
                                                                             dtype=np.uint8)])
def test_check_binary_numeric_fast_path(target) -> None:
    assert check_binary(target).tolist() == [0, 1, 1, 0]
    assert check_binary(target).dtype == check_binary(np.array(target, dtype=object)).dtype


@pytest.mark.parametrize("bad, match", [([0, 1, 2], "coded 0/1"), ([0.0, np.nan, 1.0],
                                        "missing"), ([1, 1], r"single class \(1\)"),
                                        ([0.0, 0.0], r"single class \(0\)")])
def test_check_binary_errors_unchanged(bad, match) -> None:
    with pytest.raises(SchemaError, match=match):
        check_binary(np.asarray(bad))
    with pytest.raises(SchemaError, match=match):
        check_binary(np.asarray(bad, dtype=object))


def _survival(seed: int, n: int = 150):
    rng = np.random.default_rng(seed)
    lp = rng.normal(size=n)
    t = np.round(rng.exponential(np.exp(-lp)) * 10) / 10 + 0.1     # ties
    c = np.round(rng.exponential(1.5, n) * 10) / 10 + 0.1
    return Surv.from_arrays(time=np.minimum(t, c), event=t <= c), lp


def _loop_brier(train, test, s, times):   # the per-horizon loop the one-pass form replaced
    (tt, te) = test
    g = censoring_survival(*train, times)
    w_ev = np.zeros(tt.size)
    w_ev[te] = 1.0 / censoring_survival(*train, tt[te], left=True)
    out = []
    for k, (h, gh) in enumerate(zip(times, g, strict=True)):
        cases = (tt <= h) & te
        w = np.where(cases, w_ev, np.where(tt > h, 1.0 / gh, 0.0))
        out.append(np.mean(w * np.where(cases, s[:, k] ** 2, (1.0 - s[:, k]) ** 2)))
    return np.array(out)


def test_brier_score_one_pass_is_bit_identical_to_the_loop() -> None:
    for seed in range(20):
        y, lp = _survival(seed)
        times = np.linspace(0.3, np.quantile(y["time"], 0.8), 50)
        s = np.exp(-np.outer(np.exp(lp), times) / 2)
        yt = (y["time"], y["event"])
        assert np.array_equal(met.brier_score(y, y, s, times), _loop_brier(yt, yt, s, times))
        half = y[: y.size // 2]    # a different test set: G from the training outcome
        assert np.array_equal(met.brier_score(y, half, s[: half.size], times),
                              _loop_brier(yt, (half["time"], half["event"]),
                                          s[: half.size], times))


def test_shared_ipcw_data_gives_the_public_numbers() -> None:
    for seed in range(10):
        y, lp = _survival(seed)
        hz = np.quantile(y["time"], [0.3, 0.5, 0.7])
        grid = np.linspace(hz[0], hz[-1], 50)
        s = np.exp(-np.outer(np.exp(lp), grid) / 2)
        data = met._IPCWData(y, y)
        assert np.array_equal(met._time_dependent_auc(data, lp, hz),
                              met.time_dependent_auc(y, y, lp, hz))
        assert np.array_equal(met._brier_score(data, s[:, :3], grid[:3]),
                              met.brier_score(y, y, s[:, :3], grid[:3]))
        assert met._integrated_brier_score(data, s, grid) == \
            met.integrated_brier_score(y, y, s, grid)
        assert np.array_equal(data.censoring(grid), censoring_survival(y["time"], y["event"],
                                                                       grid))

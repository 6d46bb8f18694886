"""ICC: parity with pingouin, Shrout & Fleiss (1979) values, and the ICC filter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from survrad.exceptions import SchemaError
from survrad.features import ICCFilter, icc


def _repeats(n_lesions: int = 12, n_seg: int = 3, seed: int = 0) -> pd.DataFrame:
    """Repeated segmentations: features with decreasing reproducibility, a rater bias."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(n_lesions, 1))
    rows = []
    for s in range(n_seg):
        bias = 0.3 * s
        rows.append(pd.DataFrame({
            "lesion_id": [f"L{i:02d}" for i in range(n_lesions)],
            "segmentation": f"seg{s}",
            "rad_stable": truth[:, 0] + rng.normal(0, 0.1, n_lesions),
            "rad_noisy": truth[:, 0] + rng.normal(0, 1.5, n_lesions),
            "rad_biased": truth[:, 0] + 2 * bias + rng.normal(0, 0.3, n_lesions),
            "rad_random": rng.normal(size=n_lesions),
        }))
    return pd.concat(rows, ignore_index=True).sample(frac=1.0, random_state=1)


# pingouin < 0.7 labels them ICC2 / ICC3, pingouin >= 0.7 ICC(A,1) / ICC(C,1)
PG_TYPE = {"ICC(2,1)": ("ICC2", "ICC(A,1)"), "ICC(3,1)": ("ICC3", "ICC(C,1)")}


@pytest.mark.parametrize("kind", ["ICC(2,1)", "ICC(3,1)"])
def test_icc_matches_pingouin(kind):
    pg = pytest.importorskip("pingouin")
    rep = _repeats()
    feats = ["rad_stable", "rad_noisy", "rad_biased", "rad_random"]
    ours = icc(rep, "lesion_id", "segmentation", feats, kind=kind)
    for f in feats:
        # pingouin.intraclass_corr(data, targets="lesion_id", raters="segmentation", ratings=f)
        tab = pg.intraclass_corr(rep, targets="lesion_id", raters="segmentation", ratings=f)
        ref = float(tab.loc[tab["Type"].isin(PG_TYPE[kind]), "ICC"].item())
        assert abs(ours[f] - ref) < 1e-10
    assert list(ours.index) == feats


def test_icc_shrout_fleiss_1979():
    # Shrout & Fleiss (1979), Psychol Bull 86:420, Table 2 and 4: ICC(2,1) = .29, ICC(3,1) = .71
    r = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    long = pd.DataFrame([(t, j, r[t][j]) for t in range(6) for j in range(4)],
                        columns=["target", "judge", "score"])
    assert round(float(icc(long, "target", "judge", kind="ICC(2,1)")["score"]), 2) == 0.29
    assert round(float(icc(long, "target", "judge", kind="ICC(3,1)")["score"]), 2) == 0.71
    # absolute agreement is penalised by the judges' offsets, consistency is not
    shifted = long.assign(score=long["score"] + 10 * long["judge"])
    a = icc(shifted, "target", "judge", kind="ICC(3,1)")["score"]
    assert a == pytest.approx(0.714841, abs=1e-6)
    assert icc(shifted, "target", "judge", kind="ICC(2,1)")["score"] < 0.1


def test_icc_default_features_and_constant():
    rep = _repeats().assign(rad_flat=1.0, note="x")
    out = icc(rep, "lesion_id", "segmentation")
    assert "note" not in out.index
    assert np.isnan(out["rad_flat"])
    assert out["rad_stable"] > 0.95 and out["rad_random"] < 0.5


def test_icc_bad_designs():
    rep = _repeats()
    incomplete = rep[~((rep.lesion_id == "L03") & (rep.segmentation == "seg1"))]
    with pytest.raises(SchemaError, match=r"complete.*L03"):
        icc(incomplete, "lesion_id", "segmentation")
    dup = pd.concat([rep, rep.iloc[[0]]])
    with pytest.raises(SchemaError, match="duplicated"):
        icc(dup, "lesion_id", "segmentation")
    with pytest.raises(SchemaError, match="reader"):
        icc(rep, "lesion_id", "reader")
    nan = rep.copy()
    nan.iloc[2, nan.columns.get_loc("rad_noisy")] = np.nan
    with pytest.raises(SchemaError, match="rad_noisy"):
        icc(nan, "lesion_id", "segmentation")
    with pytest.raises(ValueError, match="kind"):
        icc(rep, "lesion_id", "segmentation", kind="ICC(1,1)")


def test_icc_filter_matches_base_names_and_passes_unknown_columns():
    rep = _repeats()
    values = icc(rep, "lesion_id", "segmentation")
    X = pd.DataFrame(np.zeros((4, 7)), columns=[
        "rad_stable__mean", "rad_stable__vw_mean", "rad_noisy__max", "rad_biased",
        "rad_random__mean__delta", "age", "burden__total_volume"])
    step = ICCFilter(rep, threshold=0.75).fit(X)
    assert step.source_feature_["rad_stable__vw_mean"] == "rad_stable"
    assert step.source_feature_["rad_random__mean__delta"] == "rad_random"
    assert step.unmatched_ == ["age", "burden__total_volume"]
    assert step.icc_["rad_noisy__max"] == pytest.approx(values["rad_noisy"])
    expected = [c for c in X.columns
                if c in ("age", "burden__total_volume")
                or values[step.source_feature_[c]] >= 0.75]
    assert list(step.get_feature_names_out()) == expected
    assert "rad_stable__mean" in expected and "rad_noisy__max" not in expected
    assert list(step.transform(X).columns) == expected
    # consistency ignores the rater bias of rad_biased; absolute agreement does not
    assert values["rad_biased"] < icc(rep, "lesion_id", "segmentation", kind="ICC(3,1)")[
        "rad_biased"]


def test_icc_filter_ignores_X_values_and_clones():
    rep = _repeats()
    rng = np.random.default_rng(5)
    cols = ["rad_stable__mean", "rad_random__mean"]
    a = ICCFilter(rep).fit(pd.DataFrame(rng.normal(size=(10, 2)), columns=cols))
    b = ICCFilter(rep).fit(pd.DataFrame(rng.normal(size=(30, 2)), columns=cols))
    assert list(a.get_feature_names_out()) == list(b.get_feature_names_out()) == [
        "rad_stable__mean"]
    twin = clone(a)
    assert twin.repeats.equals(rep) and not hasattr(twin, "icc_")
    assert ICCFilter(rep, threshold=0.0).fit(
        pd.DataFrame(rng.normal(size=(3, 2)), columns=cols)).support_.all()

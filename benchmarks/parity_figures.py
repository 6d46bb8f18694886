"""Measured agreement with R behind issues 15 and 16: the largest differences, printed.

The tests (named on each line) assert tolerances; this script prints how far inside them
survrad lands, on the same data and the same committed R values (``tests/r/*.json``):
decision curves (R dcurves), the SE of Harrell's and Uno's C (``concordance()$var``), IPA
(riskRegression ``Score``), nomogram read-back, complete-case Cox and Rubin's rules on pbc
(``coxph``, ``mice::pool``), and ``cr()`` against ``coxph(~ ns())`` with the same knots.

Run:  python benchmarks/parity_figures.py      (about 6 s of CPU)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

from rref import r_ref  # noqa: E402
from test_concordance_se import _design  # noqa: E402
from test_decision_curve_r import _r_curve  # noqa: E402
from test_nomogram import _points_from_drawn_axes  # noqa: E402

import survrad as sr  # noqa: E402
from survrad.data.outcome import Surv  # noqa: E402
from survrad.evaluation import brier_score, concordance_index, ipa  # noqa: E402
from survrad.evaluation.concordance import uno_concordance_index  # noqa: E402
from survrad.evaluation.nomogram import nomogram  # noqa: E402
from survrad.models import PatientFormula, fit_multiple_imputation, partial_effect  # noqa: E402


def rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def line(what: str, value: float, where: str) -> None:
    print(f"{what:<58s} {value:10.3g}   {where}")


def decision() -> None:
    for case in ["binary_df_binary", "surv_df_surv", "surv_lung_365"]:
        _, theirs, theirs_all, dc = _r_curve(case)
        ok = np.isfinite(theirs)
        diff = max(np.max(np.abs(dc.net_benefit[ok] - theirs[ok])),
                   np.max(np.abs(dc.treat_all - theirs_all)))
        line(f"decision curve {case}: max abs diff ({ok.sum()} of {ok.size} pt)", diff,
             "tests/test_decision_curve_r.py")


def c_index_se() -> None:
    for case in ["lung_concordance", "veteran_concordance", "pbc_concordance"]:
        time, event, lp = _design(case)
        _, se = concordance_index(time, event, lp, return_se=True)
        line(f"Harrell C SE {case}: rel diff", rel(se, r_ref("metrics", case)["se"]),
             "tests/test_concordance_se.py::test_harrell_se_matches_r")
    for case in ["lung_uno_concordance", "veteran_uno_concordance", "pbc_uno_concordance"]:
        ref = r_ref("metrics", case)
        time, event, lp = _design(case)
        _, se = uno_concordance_index(time, event, lp, tau=ref.get("ymax"), return_se=True)
        line(f"Uno C SE {case}: rel diff", rel(se, ref["se"]),
             "tests/test_concordance_se.py::test_uno_se_matches_r")


def lung() -> tuple[pd.DataFrame, np.ndarray, sr.CoxModel]:
    d = sr.load_dataset("lung").dropna(subset=["time", "status", "age", "sex", "ph.ecog"])
    X = d[["age", "sex", "ph.ecog"]].astype(float)
    y = Surv.from_arrays(time=d["time"].to_numpy(float), event=(d["status"] == 2).to_numpy())
    return X, y, sr.CoxModel().fit(X, y)


def ipa_and_nomogram() -> None:
    X, y, model = lung()
    ref = r_ref("metrics", "lung_ipa")
    surv = model.predict_survival_function(X, ref["times"])
    line(f"IPA lung at {ref['times']}: max rel diff", rel(ipa(y, y, surv, ref["times"]),
                                                         ref["ipa"]),
         "tests/test_utility_metrics.py::test_ipa_matches_riskregression")
    line("  Brier of the same: max rel diff", rel(brier_score(y, y, surv, ref["times"]),
                                                  ref["brier"]), "")
    horizons = [180.0, 365.0, 730.0]
    nom = nomogram(model, X, horizons=horizons)
    rows = X.sample(20, random_state=np.random.default_rng(20))
    read = nom.predict([_points_from_drawn_axes(nom, r) for _, r in rows.iterrows()])
    line("nomogram: 20 patients read back, max abs survival error",
         float(np.max(np.abs(read - model.predict_survival_function(rows, horizons)))),
         "tests/test_nomogram.py::test_twenty_patients_read_back_through_the_drawn_scales")


def pbc_frame() -> pd.DataFrame:
    df = sr.load_dataset("pbc").rename(columns={"id": "patient_id"})
    df["death"] = (df["status"] == 2).astype(int)
    return df


def pbc() -> None:
    ref = r_ref("missing", "pbc_cc_cox")
    cohort = sr.read_cohort(pbc_frame(), patient_features=["age", "bili", "albumin",
                                                           "protime", "chol", "copper",
                                                           "platelet"],
                            endpoints={"os": ("time", "death")}, missing="complete_case")
    fit = sr.CoxModel().fit(cohort.X(), cohort.y("os"))
    where = "tests/test_missing_data.py::test_complete_case_cox_equals_r_coxph"
    line("pbc complete-case Cox: coef max rel diff", rel(fit.coef_, ref["coef"]), where)
    line("pbc complete-case Cox: SE max rel diff", rel(fit.se_, ref["se"]), "")

    ref = r_ref("missing", "pbc_mice_pool")
    long = pd.read_csv(TESTS / "data" / "pbc_mice.csv")
    sets = [g.set_index("id") for _, g in long.groupby("imputation", sort=True)]
    form = PatientFormula("age + log(bili) + albumin + log(protime) + chol + copper + "
                          "platelet").fit(sets[0])
    y = Surv.from_arrays(time=sets[0]["time"].to_numpy(float),
                         event=sets[0]["death"].to_numpy())
    s = fit_multiple_imputation(sr.CoxModel(), [form.transform(d) for d in sets],
                                y).pooled.summary()
    where = "tests/test_pooling.py::test_pooled_cox_equals_mice_pool"
    line("mice::pool: pooled coef max rel diff", rel(s["estimate"], ref["estimate"]), where)
    line("mice::pool: pooled SE max rel diff", rel(s["se"], ref["std_error"]), "")
    line("mice::pool: Barnard-Rubin df max rel diff", rel(s["df"], ref["df"]), "")

    ref = r_ref("missing", "pbc_cox_ns")
    cohort = sr.read_cohort(pbc_frame(), patient_features=["age", "bili", "albumin"],
                            endpoints={"os": ("time", "death")})
    pipe = sr.CohortPipeline(formula="cr(albumin, df=3) + age").fit(cohort, "os")
    eff = partial_effect(pipe, "albumin", values=ref["grid"], reference=ref["reference"])
    where = "tests/test_formula.py::test_cr_spans_the_natural_spline_of_r_with_the_same_knots"
    line("cr(albumin, df=3) vs coxph(~ns): loglik rel diff",
         rel(pipe.model_.loglik_, ref["loglik"]), where)
    line("  age coefficient rel diff", rel(pipe.model_.coef_[-1], ref["coef"][-1]), "")
    line("  log-hazard curve (50 pt) max abs diff",
         float(np.max(np.abs(eff.log_hazard - np.asarray(ref["log_hazard_vs_reference"])))),
         "")


def main() -> None:
    print(f"{'quantity':<58s} {'measured':>10s}   test")
    decision()
    c_index_se()
    ipa_and_nomogram()
    pbc()


if __name__ == "__main__":
    main()

"""Does the demo's E ``penalty`` shrink the lesion-level Cox model to nothing? (issue 18)

``penalty`` of :class:`~survrad.lesions.LesionRiskAggregation` is now on glmnet's scale
(``-loglik_w / n + penalty / 2 ||b||^2``; before, a ridge on the TOTAL weighted log
likelihood: the same value is about ``n`` = 300 times stronger now). On the demo cohort
(``simulate_cohort(n_patients=300, random_state=2026, driver="worst")``, 32 lesion
features, 8 of them carrying the lesion signal) this prints, for a grid of penalties:

* the coefficients' norm relative to the unpenalised fit, and the largest one;
* the SD of the lesion scores (the linear predictor; 0 = shrunk to nothing);
* the within-patient agreement of the lesion scores with the TRUE lesion score ``s``
  (Spearman, all lesions), and the share of multi-lesion patients whose highest-scored
  lesion is the truly worst (whole-cohort fit);
* cross-fitted Harrell's C of the pooled ``max`` lesion risk for OS (5 patient folds x
  ``--repeats`` fold splits; the lesion model fitted on 4 folds, scored on the fifth).

Run::

    python benchmarks/bench_demo_lesion_penalty.py [--repeats 3] [--penalties 0 0.1 0.3]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

import survrad as sr
from survrad._math.concordance import harrell_c
from survrad.lesions import LesionRiskAggregation
from survrad.lesions.crossfit import patient_folds

PENALTIES = (0.0, 0.001, 0.01, 0.03, 0.1, 0.3, 1.0)


def whole_cohort(cohort: sr.Cohort, penalty: float, ref_norm: float | None) -> dict:
    m = LesionRiskAggregation(penalty=penalty, min_epv=0).fit(cohort, "os")
    coef = m.coef_.to_numpy()
    scores = m.lesion_scores(cohort)["score"].to_numpy()
    truth = cohort.truth["lesions"]
    best = pd.DataFrame({"p": cohort.lesions["patient_id"].to_numpy(), "score": scores,
                         "worst": truth["is_worst"].to_numpy()})
    multi = best.groupby("p")["score"].transform("size") >= 2
    top = best[multi].loc[lambda d: d.groupby("p")["score"].idxmax()]
    return {"penalty": penalty, "coef_norm": float(np.linalg.norm(coef)),
            "norm_vs_unpenalised": (float(np.linalg.norm(coef) / ref_norm)
                                    if ref_norm else 1.0),
            "max_abs_coef": float(np.abs(coef).max()), "score_sd": float(scores.std()),
            "spearman_true_s": float(spearmanr(scores, truth["score"]).statistic),
            "top_is_worst": float(top["worst"].mean())}


def crossfit_c(cohort: sr.Cohort, penalty: float, repeats: int) -> float:
    y = cohort.y("os")
    cs = []
    for r in range(repeats):
        folds = patient_folds(cohort.patient_ids, 5, random_state=r)
        risk = np.empty(cohort.n_patients)
        for k in range(5):
            test = cohort.patient_ids[folds == k]
            train = cohort.subset(cohort.patient_ids[folds != k])
            m = LesionRiskAggregation(penalty=penalty, min_epv=0).fit(train, "os")
            risk[folds == k] = m.transform(cohort.subset(test))["lesion_risk__max"]
        cs.append(harrell_c(y["time"], y["event"], risk))
    return float(np.mean(cs))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--penalties", type=float, nargs="+", default=PENALTIES,
                   help="the grid (0 first: the reference of the relative norm)")
    args = p.parse_args()
    cohort = sr.simulate_cohort(n_patients=300, random_state=2026, driver="worst")
    rows, ref = [], None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # unpenalised fits warn about the EPV on purpose
        for pen in args.penalties:
            row = whole_cohort(cohort, pen, ref)
            ref = ref or row["coef_norm"]
            row["crossfit_c_max"] = crossfit_c(cohort, pen, args.repeats)
            rows.append(row)
    with pd.option_context("display.width", 160, "display.precision", 3):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()

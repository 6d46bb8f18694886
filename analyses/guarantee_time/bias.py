"""Guarantee-time bias of "responders live longer" (issue 13), on known truth.

Setting: ``simulate_cohort(n_patients=500, timepoints=6)`` with its defaults, in
particular ``response_effect=0``: tumour shrinkage has NO effect on survival given the
baseline truth (the patient's true linear predictor ``lp``: age, ECOG, PD-L1, tumour
burden and the worst lesion's refractory score). Scans every 2 months (+-2 weeks) while
the patient is alive and followed. Response is read from the lesion table by
``survrad.recist`` (RECIST 1.1, unconfirmed): a scan responds when its timepoint response
is CR or PR.

Three analyses of the same cohort, each a Cox model of overall survival on a response
indicator adjusted for the true ``lp`` (so that what remains is the handling of time,
not confounding by the baseline lesion scores; ``--no-adjust`` drops ``lp`` and shows
both biases together):

``naive``
    Best overall response CR/PR over all of follow-up as a BASELINE covariate. A patient
    must live until a response scan to be a responder (guarantee time): responders get
    that immortal time for free, so the hazard ratio is biased below 1.
``landmark``
    Landmark at ``--landmark`` months (default 3, after the first follow-up scan at about
    2 months): patients dead or censored by then excluded, time re-originated there,
    responded by the landmark (``status_at(..., how="ever")``) as covariate.
``time_varying``
    Counting-process Cox model: "responded yet" switches from 0 to 1 at the first
    responding scan (``counting_process_rows(switch_on=...)``), robust (patient-clustered)
    standard errors.

The truth is HR = 1 for every analysis. For each method the script prints the mean HR
(and the exponentiated mean log HR), the fraction of seeds whose 95 % Wald interval
contains 1 and the fraction with a significant protective effect (upper limit < 1).

Run from the repository root (about 3 s per seed on one core)::

    python analyses/guarantee_time/bias.py --seeds 50 --n-jobs 1

The figures are quoted in ``analyses/README.md`` (section "Guarantee-time bias").
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from survrad.data.outcome import Surv
from survrad.data.simulate import simulate_cohort
from survrad.longitudinal import counting_process_rows, landmark, recist, status_at
from survrad.models.cox import CoxModel

METHODS = ("naive", "landmark", "time_varying")
RESPONSE = ("CR", "PR")


def _hr(model: CoxModel, term: str) -> dict[str, float]:
    row = model.summary().to_frame().loc[term]
    return {"hr": float(row["hr"]), "low": float(row["hr_ci_low"]),
            "high": float(row["hr_ci_high"])}


def one_seed(seed: int, n_patients: int = 500, landmark_months: float = 3.0,
             adjust: bool = True) -> list[dict[str, float]]:
    """The three analyses of one simulated cohort: one row per method."""
    cohort = simulate_cohort(n_patients=n_patients, random_state=seed, timepoints=6)
    res = recist(cohort.lesions, time_unit="months")
    pat = cohort.patients[["os_time", "os_event"]].copy()
    pat["lp"] = cohort.truth["patients"]["lp"].reindex(pat.index).to_numpy()
    adj = ["lp"] if adjust else []
    best = res.best_response.set_index("patient_id")["best_response"]
    pat["responder"] = best.reindex(pat.index).isin(RESPONSE).astype(float)
    scans = res.by_timepoint[["patient_id", "scan_time"]].copy()
    scans["responded"] = res.by_timepoint["response"].isin(RESPONSE).astype(int)
    out = []

    y = Surv.from_arrays(time=pat["os_time"].to_numpy(), event=pat["os_event"].to_numpy())
    naive = CoxModel().fit(pat[["responder", *adj]], y)
    out.append({"method": "naive", "n": len(pat), **_hr(naive, "responder")})

    known = status_at(scans, landmark_months, ["responded"], how="ever", ids=pat.index)
    lm = landmark(pat[["os_time", "os_event", "lp"]], landmark_months, "os",
                  predictors=known[["responded"]].fillna(0.0)).patients
    y_lm = Surv.from_arrays(time=lm["os_time"].to_numpy(), event=lm["os_event"].to_numpy())
    fit_lm = CoxModel().fit(lm[["responded", *adj]], y_lm)
    out.append({"method": "landmark", "n": len(lm), **_hr(fit_lm, "responded")})

    rows = counting_process_rows(pat[["os_time", "os_event", "lp"]], scans,
                                 time_col="os_time", event_col="os_event",
                                 switch_on={"responded_yet": "responded"}, baseline=["lp"])
    y_tv = Surv.from_counting(start=rows["start"], stop=rows["stop"], event=rows["event"],
                              ids=rows["patient_id"])
    fit_tv = CoxModel().fit(rows[["responded_yet", *adj]], y_tv, groups=rows["patient_id"])
    out.append({"method": "time_varying", "n": len(pat), **_hr(fit_tv, "responded_yet")})
    return [{"seed": seed, **r} for r in out]


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Per method: seeds, mean HR, exp(mean log HR), CI contains 1, significant HR < 1."""
    g = rows.groupby("method", sort=False)
    return pd.DataFrame({
        "seeds": g.size(),
        "mean_hr": g["hr"].mean(),
        "geo_mean_hr": g["hr"].apply(lambda h: float(np.exp(np.log(h).mean()))),
        "ci_contains_1": g.apply(lambda d: float(((d["low"] <= 1) & (d["high"] >= 1)).mean()),
                                 include_groups=False),
        "protective": g.apply(lambda d: float((d["high"] < 1).mean()), include_groups=False),
        "mean_n": g["n"].mean(),
    }).reindex(list(METHODS))


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50, help="number of seeds (1..N)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--n-patients", type=int, default=500)
    parser.add_argument("--landmark", type=float, default=3.0, help="months")
    parser.add_argument("--no-adjust", action="store_true",
                        help="do not adjust for the true linear predictor lp")
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.n_patients < 50 or args.landmark <= 0:
        parser.error("need --seeds >= 1, --n-patients >= 50 and --landmark > 0")
    from joblib import Parallel, delayed

    start = time.perf_counter()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    per_seed = Parallel(n_jobs=args.n_jobs)(
        delayed(one_seed)(s, args.n_patients, args.landmark, not args.no_adjust)
        for s in seeds)
    rows = pd.DataFrame([r for block in per_seed for r in block])
    table = summarise(rows)
    adjusted = "not adjusted" if args.no_adjust else "adjusted for the true lp"
    print(f"{args.seeds} seeds x {args.n_patients} patients, response_effect = 0 (true "
          f"HR = 1), landmark {args.landmark:g} months, Cox models {adjusted}; "
          f"{time.perf_counter() - start:.0f} s")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    return table


if __name__ == "__main__":
    main()

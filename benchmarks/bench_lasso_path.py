"""LASSO-Cox path: survrad against glmnet (R) and scikit-survival's Coxnet.

Data: n = 1,000 patients, p = 500 standard-normal features, 10 of them with log hazard
ratios of +-0.5, exponential event and censoring times (continuous: no ties; about 60 %
events). Penalties: 100 values from ``lambda_max`` (the smallest penalty with every
coefficient 0) down to ``0.01 * lambda_max``, geometrically spaced, the same on every
side (glmnet's ``lambda.min.ratio`` default when n < p; at the end of this path about
460 coefficients are non-zero, close to the unpenalised fit).

Sides (glmnet's objective ``-loglik / n + lambda |beta|_1``, Breslow ties, features
standardised with the 1/n SD; each returns the 100 x 500 coefficients on the original
scale), timed interleaved by ``benchmarks/harness.py`` (one BLAS thread; R warm, timed
inside R):

* ``survrad``: ``CoxModel(l1_ratio=1).fit_path(X, y, penalties=lam)`` (input checks and
  standardisation included; converged to its default ``tol``);
* ``glmnet``: ``glmnet(x, Surv(time, event), family = "cox", lambda = lam, thresh =
  T)`` (standardisation inside);
* ``Coxnet``: ``CoxnetSurvivalAnalysis(l1_ratio=1, alphas=lam, tol=T)`` on features
  standardised outside the timing.

Two cases, because the peers' default stopping rule ends far from the solution here:

* ``defaults``: glmnet's ``thresh = 1e-7`` and Coxnet's ``tol = 1e-7``, their defaults;
  their coefficients then differ from the converged path by about 1e-2 (the agreement
  tolerance of this case is 0.05, and the JSON records the actual differences);
* ``matched accuracy``: ``T = --matched-thresh`` (default 1e-13), the loosest setting at
  which glmnet's path is within 1e-5 of the converged one (tolerance 1e-5). Skipped
  with ``--no-matched`` (each peer run takes tens of seconds).

Run::

    python benchmarks/bench_lasso_path.py                  # both cases, 5 runs each
    python benchmarks/bench_lasso_path.py --no-matched
    python benchmarks/bench_lasso_path.py --smoke          # n = 200, p = 40, 10 lambda
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Case, Side, main_args, r_session_or_none, run_cases, write_results

from survrad.data.outcome import SURV_DTYPE, Surv
from survrad.models.cox import CoxModel


def simulate(n: int, p: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    beta = np.zeros(p)
    beta[:10] = 0.5 * (-1.0) ** np.arange(10)
    t = rng.exponential(np.exp(-x @ beta))
    c = rng.exponential(2.0, size=n)
    return x, np.minimum(t, c), t <= c


def penalty_grid(x: np.ndarray, time_: np.ndarray, event: np.ndarray, m: int) -> np.ndarray:
    """``lambda_max`` down to ``0.01 lambda_max`` (Breslow score at 0 of standardised x)."""
    xs = (x - x.mean(axis=0)) / x.std(axis=0)
    order = np.argsort(-time_, kind="stable")
    risk = np.arange(1, time_.size + 1)               # untied: risk set = rows up to here
    cum = np.cumsum(xs[order], axis=0) / risk[:, None]
    score = (xs[order] - cum)[event[order]].sum(axis=0)
    lam_max = np.abs(score).max() / time_.size
    return lam_max * np.geomspace(1.0, 0.01, m)


def cases(n: int, p: int, m: int, matched: float | None, r) -> list[Case]:
    from sksurv.linear_model import CoxnetSurvivalAnalysis

    x, t, e = simulate(n, p)
    lam = penalty_grid(x, t, e, m)
    X = pd.DataFrame(x, columns=[f"f{j}" for j in range(p)])
    y = Surv.from_arrays(time=t, event=e)
    mean, sd = x.mean(axis=0), x.std(axis=0)
    xs = (x - mean) / sd
    yy = np.empty(n, dtype=SURV_DTYPE)
    yy["event"], yy["time"] = e, t

    def coxnet(tol: float):
        def fit() -> np.ndarray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")       # "all coefficients are zero" at lambda_max
                net = CoxnetSurvivalAnalysis(l1_ratio=1.0, alphas=lam, tol=tol,
                                             max_iter=10**7, fit_baseline_model=False)
                net.fit(xs, yy)
            return (net.coef_ / sd[:, None]).T
        return fit

    model = CoxModel(l1_ratio=1.0)
    survrad = Side("survrad", "100 x p coefficients (checks, standardisation, converged)",
                   lambda: model.fit_path(X, y, penalties=lam).coef_path_)
    if r is not None:
        r.assign("xl", x)
        r.assign("tl", t)
        r.assign("el", e.astype(float))
        r.assign("lam", lam)
        r.eval("suppressMessages(library(glmnet)); library(survival); yl <- Surv(tl, el); "
               "invisible(NULL)")

    def glmnet(thresh: float) -> list[Side]:
        if r is None:
            return []
        return [r.side(f"glmnet thresh={thresh:g}", "100 x p coefficients",
                       f'unname(t(as.matrix(coef(glmnet(xl, yl, family = "cox", '
                       f'lambda = lam, thresh = {thresh!r}, maxit = 1e7)))))')]

    out = [Case(f"lasso path n={n} p={p} {m} lambda, peers at their defaults",
                [survrad, *glmnet(1e-7),
                 Side("Coxnet tol=1e-07", "100 x p coefficients (standardised outside)",
                      coxnet(1e-7))],
                tolerance=0.05, params={"n": n, "p": p, "n_penalties": m, "peer_tol": 1e-7})]
    if matched is not None:
        out.append(Case(f"lasso path n={n} p={p} {m} lambda, matched accuracy",
                        [survrad, *glmnet(matched),
                         Side(f"Coxnet tol={matched:g}", "100 x p coefficients "
                              "(standardised outside)", coxnet(matched))],
                        tolerance=1e-5,
                        params={"n": n, "p": p, "n_penalties": m, "peer_tol": matched}))
    return out


def main(argv: list[str] | None = None) -> int:
    def extra(p):
        p.add_argument("--n", type=int, default=1000)
        p.add_argument("--p", type=int, default=500)
        p.add_argument("--penalties", type=int, default=100)
        p.add_argument("--matched-thresh", type=float, default=1e-13)
        p.add_argument("--no-matched", action="store_true")

    args = main_args(__doc__, argv, extra)
    if args.smoke:
        args.n, args.p, args.penalties, args.no_matched = 200, 40, 10, True
    r = r_session_or_none(args.no_r or args.smoke)
    try:
        results = run_cases(cases(args.n, args.p, args.penalties,
                                  None if args.no_matched else args.matched_thresh, r),
                            args.repeats)
    finally:
        if r is not None:
            r.close()
    write_results("bench_lasso_path", results, out=args.out,
                  params={"n": args.n, "p": args.p, "n_penalties": args.penalties,
                          "matched_thresh": None if args.no_matched else args.matched_thresh,
                          "smoke": args.smoke},
                  extra={"r": None if r is None else r.version})
    return 0 if all(c["agreement"]["ok"] for c in results) else 1


if __name__ == "__main__":
    sys.exit(main())

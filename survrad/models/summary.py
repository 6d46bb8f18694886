"""Readable fitted models: the results of ``summary()`` and ``ph_test()`` (layer 4).

:class:`CoxSummary` holds what R's ``summary(coxph(...))`` prints: n, events, the
log-likelihoods, the likelihood-ratio, Wald and score (log-rank) tests with their
degrees of freedom and p-values (and the robust score test with clusters), Harrell's C
with its standard error, and the coefficient table with the terms as its index.
:class:`LogisticSummary` does the same for R's ``summary(glm(..., binomial))`` (null and
residual deviance, AIC) and :class:`PHTest` for ``cox.zph`` (per-term and global tests
and the scaled Schoenfeld residuals of ``plot(cox.zph)``).

The objects hold unrounded numbers: ``to_frame()`` gives the coefficient table,
``to_dict()`` everything as plain Python; numbers are rounded only when printed
(``print(summary)``, or the HTML of a notebook).

``summary()`` and ``ph_test()`` used to return a DataFrame with a ``term`` column;
indexing the new objects like that DataFrame (``summary()["coef"]``,
``summary().columns``, ``summary().set_index("term")``, ...) still works for one release
with a :class:`~survrad.exceptions.SurvradDeprecationWarning`.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from survrad._validation import warn_deprecated
from survrad.models._inference import chi2_sf, wald_test, zph_smooth

__all__ = ["ChiSquareTest", "CoxSummary", "LogisticSummary", "PHTest"]

_PENALISED_NOTE = (
    "Penalised (shrunken) coefficients: standard errors, confidence intervals and p-values "
    "are not reported because there is no valid post-selection inference for them.")
_ROBUST_NOTE = (
    "The likelihood ratio and score tests assume independence of observations within a "
    "cluster; the Wald and robust score tests do not.")


# ---------------------------------------------------------------------- building blocks
@dataclass(frozen=True)
class ChiSquareTest:
    """A chi-square test: statistic, degrees of freedom and p-value.

    Examples
    --------
    >>> t = ChiSquareTest.of(3.841458820694124, 1)
    >>> t.df, round(t.p, 4)
    (1, 0.05)
    """

    statistic: float
    df: int
    p: float

    @classmethod
    def of(cls, statistic: float, df: int) -> ChiSquareTest:
        """The test of ``statistic`` on ``df`` degrees of freedom (upper tail)."""
        return cls(float(statistic), int(df), chi2_sf(statistic, df))

    def to_dict(self) -> dict[str, float]:
        """``{"statistic", "df", "p"}`` as plain Python numbers."""
        return {"statistic": self.statistic, "df": self.df, "p": self.p}

    def text(self) -> str:
        """e.g. ``"30.5 on 3 df, p = 1.1e-06"`` (statistic to 2 decimals)."""
        return f"{_fixed(self.statistic, 2)} on {self.df} df, p = {format_p(self.p)}"


class _LegacyFrame:
    """DataFrame-style access to the pre-0.2 ``summary()`` frame, deprecated."""

    _what: str = "summary()"
    _instead: str = "use .to_frame() (terms as the index)"

    def _legacy_frame(self) -> pd.DataFrame:   # pragma: no cover - overridden
        raise NotImplementedError

    def _deprecated(self, usage: str) -> pd.DataFrame:
        warn_deprecated(
            f"{self._what} now returns a {type(self).__name__}; {usage} reads the "
            f"DataFrame with a 'term' column it used to return, which is deprecated and "
            f"goes away in the next release: {self._instead}.", stacklevel=3)
        return self._legacy_frame()

    def __getitem__(self, key: Any) -> Any:
        return self._deprecated(f"indexing it ([{key!r}])")[key]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not hasattr(pd.DataFrame, name):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self._deprecated(f"DataFrame attribute .{name}"), name)


class _ModelSummary(_LegacyFrame):
    """Printing shared by the model summaries: a title, the counts, two tables (the
    coefficients, then the ratios with their intervals), the model-level lines, notes."""

    coefficients: pd.DataFrame
    notes: tuple[str, ...]
    n_clusters: int | None

    def _title(self) -> str:               # pragma: no cover - overridden
        raise NotImplementedError

    def _counts(self) -> str:              # pragma: no cover - overridden
        raise NotImplementedError

    def _tables(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:  # pragma: no cover
        raise NotImplementedError

    def model_lines(self) -> list[str]:    # pragma: no cover - overridden
        """The model-level lines printed below the tables."""
        raise NotImplementedError

    @property
    def robust(self) -> bool:
        """Whether the inference uses the cluster-robust (sandwich) variance."""
        return self.n_clusters is not None

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table (a copy), terms as the index, unrounded."""
        return self.coefficients.copy()

    def __str__(self) -> str:
        first, second = self._tables()
        index = list(self.coefficients.index)
        lines = [self._title(), f"  {self._counts()}", "", *_text_table(index, first), "",
                 *_text_table(index, second), "", *self.model_lines()]
        return "\n".join(lines + _note_lines(self.notes))

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        first, second = self._tables()
        index = list(self.coefficients.index)
        top = _html([self._title(), self._counts()], index, first, [])
        return top + _html([], index, second, [*self.model_lines(), *self.notes])


# ---------------------------------------------------------------------------- formatting
def format_p(p: float) -> str:
    """A p-value for printing: 3 significant digits, scientific below 1e-4, R's floor.

    Examples
    --------
    >>> [format_p(p) for p in (0.2324, 0.000986, 4.447e-05, 1e-20, float("nan"))]
    ['0.232', '0.000986', '4.45e-05', '<2e-16', 'NA']
    """
    if not np.isfinite(p):
        return "NA"
    if p < 2.2e-16:
        return "<2e-16"
    return f"{p:.3g}" if p >= 1e-4 else f"{p:.2e}"


def _fixed(x: float, decimals: int) -> str:
    return "NA" if not np.isfinite(x) else f"{x:.{decimals}f}"


def _column(values: np.ndarray, digits: int = 4) -> list[str]:
    """Numbers of one column with a common number of decimals (``digits`` significant
    digits for the smallest non-zero magnitude, at most 6 decimals)."""
    v = np.asarray(values, dtype=float)
    finite = np.abs(v[np.isfinite(v) & (v != 0)])
    if finite.size == 0:
        decimals = 2
    else:
        decimals = int(np.clip(digits - 1 - math.floor(math.log10(finite.min())), 0, 6))
    return [_fixed(x, decimals) for x in v]


def _text_table(index: Sequence[str], columns: dict[str, list[str]]) -> list[str]:
    """Right-aligned columns under their headers, the index left-aligned."""
    names = [str(i) for i in index]
    width = max([len(n) for n in names] + [0])
    widths = {h: max([len(h), *map(len, col)]) for h, col in columns.items()}
    lines = [" " * width + "".join(f"  {h:>{widths[h]}}" for h in columns)]
    for k, name in enumerate(names):
        lines.append(f"{name:<{width}}" + "".join(f"  {col[k]:>{widths[h]}}"
                                                  for h, col in columns.items()))
    return lines


def _html(header: list[str], index: Sequence[str], columns: dict[str, list[str]],
          footer: list[str]) -> str:
    table = pd.DataFrame(columns, index=[str(i) for i in index])
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in header if line)
    tail = "".join(f"<p>{html.escape(line)}</p>" for line in footer if line)
    return f"<div>{paragraphs}{table.to_html(escape=True)}{tail}</div>"


def _note_lines(notes: Sequence[str]) -> list[str]:
    """Notes wrapped at 88 characters, after a blank line."""
    out = [""] if notes else []
    for note in notes:
        out += textwrap.wrap(f"Note: {note}", 88, subsequent_indent="  ")
    return out


def _ci_names(level: float) -> tuple[str, str]:
    pct = f"{level:.3g}".lstrip("0") if level < 1 else "1"
    return f"lower {pct}", f"upper {pct}"


def _plain(x: Any) -> Any:
    """numpy scalars as Python numbers (JSON-ready); other values unchanged."""
    item = getattr(x, "item", None)
    return item() if callable(item) and np.ndim(x) == 0 else x


def _records(table: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {str(term): {str(k): _plain(v) for k, v in row.items()}
            for term, row in table.iterrows()}


def _tests_dict(**tests: ChiSquareTest | None) -> dict[str, Any]:
    return {name: None if t is None else t.to_dict() for name, t in tests.items()}


# --------------------------------------------------------------------------- Cox model
@dataclass(frozen=True, eq=False, repr=False)
class CoxSummary(_ModelSummary):
    """Summary of a fitted :class:`~survrad.models.CoxModel`, as R's ``summary(coxph)``.

    Attributes
    ----------
    coefficients : DataFrame
        One row per term (the index, named ``term``): ``coef`` (log hazard ratio),
        ``hr`` (``exp(coef)``), ``se`` (model-based standard error, R's ``se(coef)``),
        ``robust_se`` (only with clusters: the sandwich SE, used for z, p and the
        interval, as R), ``z``, ``p``, ``hr_ci_low``, ``hr_ci_high`` (Wald interval of
        the hazard ratio at ``ci_level``) and ``estimable``. Unrounded; NaN where a
        number is not available (non-estimable terms; se, z, p and interval of a
        penalised model).
    n, n_events : int
        Rows (``(start, stop]`` rows for counting-process data) and events.
    n_clusters : int or None
        Number of clusters (``groups``) of the robust variance, None without.
    loglik_null, loglik : float
        Log partial likelihood at 0 and at the estimates.
    likelihood_ratio_test, wald_test, score_test : ChiSquareTest or None
        R's ``logtest``, ``waldtest`` (robust with clusters; R rounds its printed
        statistic to 2 decimals, this one is unrounded) and ``sctest`` (the log-rank
        test for one binary covariate). None for a penalised model.
    robust_score_test : ChiSquareTest or None
        R's ``robscore`` (clusters only).
    concordance, concordance_se : float
        Harrell's C of the linear predictor on the training data (within strata) and its
        infinitesimal-jackknife standard error (clusters summed), R's
        ``concordance``; NaN when not computed (see ``notes``).
    ties, penalty, l1_ratio, ci_level, strata, counting
        How the model was fitted.
    notes : tuple of str
        What the reader must know (robust variance, penalisation, non-estimable terms).

    Examples
    --------
    >>> import survrad as sr
    >>> lung = sr.load_dataset("lung").dropna(subset=["ph.ecog"])
    >>> y = sr.Surv.from_arrays(time=lung["time"], event=lung["status"] == 2)
    >>> s = sr.CoxModel().fit(lung[["age", "sex", "ph.ecog"]], y).summary()
    >>> s.n, s.n_events, round(s.likelihood_ratio_test.statistic, 2)
    (227, 164, 30.5)
    >>> s.to_frame()[["hr", "hr_ci_low", "hr_ci_high"]].loc["sex"].round(3).tolist()
    [0.575, 0.414, 0.799]
    """

    coefficients: pd.DataFrame
    n: int
    n_events: int
    loglik_null: float
    loglik: float
    likelihood_ratio_test: ChiSquareTest | None
    wald_test: ChiSquareTest | None
    score_test: ChiSquareTest | None
    concordance: float
    concordance_se: float
    robust_score_test: ChiSquareTest | None = None
    n_clusters: int | None = None
    ties: str = "efron"
    penalty: float = 0.0
    l1_ratio: float = 0.0
    ci_level: float = 0.95
    strata: tuple[str, ...] = ()
    counting: bool = False
    notes: tuple[str, ...] = field(default=())

    _what = "CoxModel.summary()"
    _instead = ("use .to_frame() (terms as the index; 'se' is the model-based SE and "
                "'robust_se' the cluster-robust one) or .coefficients")

    def to_dict(self) -> dict[str, Any]:
        """Every number as plain Python (JSON-ready apart from NaN), coefficients by term."""
        return {
            "model": "CoxModel", "n": self.n, "n_events": self.n_events,
            "n_clusters": self.n_clusters, "loglik_null": self.loglik_null,
            "loglik": self.loglik,
            "tests": _tests_dict(likelihood_ratio=self.likelihood_ratio_test,
                                 wald=self.wald_test, score=self.score_test,
                                 robust_score=self.robust_score_test),
            "concordance": self.concordance, "concordance_se": self.concordance_se,
            "ties": self.ties, "penalty": self.penalty, "l1_ratio": self.l1_ratio,
            "ci_level": self.ci_level, "strata": list(self.strata),
            "counting": self.counting, "notes": list(self.notes),
            "coefficients": _records(self.coefficients),
        }

    def _legacy_frame(self) -> pd.DataFrame:
        c = self.coefficients
        se = c["robust_se"] if "robust_se" in c.columns else c["se"]
        df = pd.DataFrame({
            "term": list(c.index), "coef": c["coef"].to_numpy(), "se": se.to_numpy(),
            "hr": c["hr"].to_numpy(), "hr_ci_low": c["hr_ci_low"].to_numpy(),
            "hr_ci_high": c["hr_ci_high"].to_numpy(), "z": c["z"].to_numpy(),
            "p": c["p"].to_numpy(), "estimable": c["estimable"].to_numpy(dtype=bool)})
        if self.penalty > 0:
            df.attrs["note"] = _PENALISED_NOTE
        return df

    # ------------------------------------------------------------------ printing
    def _title(self) -> str:
        what = [f"{self.ties.capitalize()} ties"]
        if self.strata:
            what.append("strata: " + ", ".join(self.strata))
        if self.penalty > 0:
            kind = {0.0: "ridge", 1.0: "lasso"}.get(self.l1_ratio,
                                                     f"elastic net, l1_ratio {self.l1_ratio:g}")
            what.append(f"{kind} penalty {self.penalty:.4g}")
        if self.counting:
            what.append("(start, stop] rows")
        return "Cox proportional-hazards model (" + "; ".join(what) + ")"

    def _counts(self) -> str:
        rows = "rows" if self.counting else "n"
        text = f"{rows} = {self.n}, number of events = {self.n_events}"
        return text + (f", clusters = {self.n_clusters}" if self.robust else "")

    def model_lines(self) -> list[str]:
        """Concordance and the three tests, R's lines below the tables."""
        lines = []
        if np.isfinite(self.concordance):
            lines.append(f"Concordance = {self.concordance:.3f} (se = "
                         f"{self.concordance_se:.3f})")
        rows = [("Likelihood ratio test", self.likelihood_ratio_test),
                ("Wald test", self.wald_test), ("Score (logrank) test", self.score_test),
                ("Robust score test", self.robust_score_test)]
        width = max(len(name) for name, _ in rows)
        lines += [f"{name:<{width}} = {test.text()}" for name, test in rows if test is not None]
        return lines

    def _tables(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        c = self.coefficients
        first = {"coef": _column(c["coef"]), "exp(coef)": _column(c["hr"]),
                 "se(coef)": _column(c["se"])}
        if "robust_se" in c.columns:
            first["robust se"] = _column(c["robust_se"])
        first["z"] = [_fixed(z, 3) for z in c["z"]]
        first["Pr(>|z|)"] = [format_p(p) for p in c["p"]]
        low, high = _ci_names(self.ci_level)
        with np.errstate(over="ignore"):
            second = {"exp(coef)": _column(c["hr"]), "exp(-coef)": _column(1.0 / c["hr"]),
                      low: _column(c["hr_ci_low"]), high: _column(c["hr_ci_high"])}
        return first, second

    def brief(self) -> list[str]:
        """Two or three lines for the model's ``repr``."""
        terms = ", ".join(map(str, self.coefficients.index))
        lines = [f"{self._counts()}; terms: {terms}"]
        ll = f"log-likelihood {self.loglik:.2f} (null {self.loglik_null:.2f})"
        if self.likelihood_ratio_test is not None:
            ll += f"; LR test {self.likelihood_ratio_test.text()}"
        lines.append(ll)
        if np.isfinite(self.concordance):
            lines.append(f"concordance {self.concordance:.3f} (se {self.concordance_se:.3f})"
                         "; print(model.summary()) for the coefficients")
        return lines


def cox_summary(model: Any) -> CoxSummary:
    """The :class:`CoxSummary` of a fitted CoxModel (see ``CoxModel.summary``)."""
    z_crit = stats.norm.ppf(0.5 + model.ci_level / 2)
    ok = np.asarray(model.estimable_, dtype=bool)
    coef = np.where(ok, model.coef_, np.nan)
    used_se = np.where(ok, model.se_, np.nan)
    robust = model.naive_se_ is not None
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = coef / used_se
        columns: dict[str, Any] = {"coef": coef, "hr": np.exp(coef),
                                   "se": np.where(ok, model.naive_se_, np.nan) if robust
                                   else used_se}
        if robust:
            columns["robust_se"] = used_se
        columns.update({"z": z, "p": 2 * stats.norm.sf(np.abs(z)),
                        "hr_ci_low": np.exp(coef - z_crit * used_se),
                        "hr_ci_high": np.exp(coef + z_crit * used_se), "estimable": ok.copy()})
    table = pd.DataFrame(columns, index=pd.Index(list(model.feature_names_in_), name="term"))
    penalised = model.penalty_ > 0
    p = int(ok.size)
    lr = wald = score = rscore = None
    notes = []
    if penalised:
        notes.append(_PENALISED_NOTE + " No likelihood ratio, Wald or score test either.")
    else:
        lr = ChiSquareTest.of(2 * (model.loglik_ - model.loglik_null_), p)
        wald = ChiSquareTest.of(*wald_test(model.coef_, model.var_, ok))
        score = ChiSquareTest.of(model.score_test_, p)
        if model.robust_score_test_ is not None:
            rscore = ChiSquareTest.of(model.robust_score_test_, p)
    if robust:
        notes.append(_ROBUST_NOTE)
    if not ok.all():
        bad = ", ".join(str(t) for t, good in zip(model.feature_names_in_, ok, strict=True)
                        if not good)
        notes.append(f"Not estimable (diverging coefficients): {bad}; the Wald test "
                     "leaves them out.")
    if model.dropped_features_:
        notes.append("Constant features dropped before fitting: "
                     + ", ".join(map(str, model.dropped_features_)) + ".")
    if not np.isfinite(model.concordance_):
        notes.append("Concordance not computed: survrad computes the concordance of a Cox "
                     "fit for unweighted right-censored data only.")
    return CoxSummary(
        coefficients=table, n=int(model.n_), n_events=int(model.n_events_),
        loglik_null=float(model.loglik_null_), loglik=float(model.loglik_),
        likelihood_ratio_test=lr, wald_test=wald, score_test=score,
        concordance=float(model.concordance_), concordance_se=float(model.concordance_se_),
        robust_score_test=rscore, n_clusters=model.n_clusters_ if robust else None,
        ties=str(model.ties_), penalty=float(model.penalty_),
        l1_ratio=float(model.l1_ratio), ci_level=float(model.ci_level),
        strata=tuple(model._strata_cols()), counting=bool(model.counting_),
        notes=tuple(notes))


# ---------------------------------------------------------------------- logistic model
@dataclass(frozen=True, eq=False, repr=False)
class LogisticSummary(_ModelSummary):
    """Summary of a fitted :class:`~survrad.models.LogisticModel`, as R's ``summary(glm)``.

    Attributes
    ----------
    coefficients : DataFrame
        One row per term (index ``term``; ``intercept`` first unless left out):
        ``coef`` (log odds ratio), ``or`` (``exp(coef)``), ``se`` (cluster-robust when
        the model was fitted with ``groups``), ``z``, ``p``, ``or_ci_low``,
        ``or_ci_high`` and ``estimable``. NaN where not available (non-estimable terms,
        penalised fits).
    n, n_events : int
        Rows and outcomes equal to 1.
    n_clusters : int or None
    loglik_null, loglik : float
        Log likelihood of the intercept-only model and of the fit.
    null_deviance, residual_deviance : float
        ``-2 loglik`` of each (binary outcome: the saturated model's is 0), with
        ``df_null = n - 1`` and ``df_residual = n - p - 1``.
    aic : float or None
        ``residual_deviance + 2 (p + 1)``; None for a penalised fit.
    likelihood_ratio_test, wald_test : ChiSquareTest or None
        Of all slopes together (the Wald test uses the robust covariance with
        clusters); None for a penalised fit.
    penalty, ci_level, converged, notes

    Examples
    --------
    >>> import survrad as sr
    >>> lung = sr.load_dataset("lung").dropna(subset=["ph.ecog"])
    >>> m = sr.LogisticModel().fit(lung[["age", "sex", "ph.ecog"]],
    ...                            (lung["status"] == 2).astype(int))
    >>> s = m.summary()
    >>> round(s.null_deviance, 2), round(s.residual_deviance, 2), round(s.aic, 2)
    (268.14, 240.71, 248.71)
    """

    coefficients: pd.DataFrame
    n: int
    n_events: int
    loglik_null: float
    loglik: float
    null_deviance: float
    df_null: int
    residual_deviance: float
    df_residual: int
    aic: float | None
    likelihood_ratio_test: ChiSquareTest | None
    wald_test: ChiSquareTest | None
    n_clusters: int | None = None
    penalty: float = 0.0
    ci_level: float = 0.95
    converged: bool = True
    notes: tuple[str, ...] = ()
    legacy_intercept: bool = False

    _what = "LogisticModel.summary()"

    def to_dict(self) -> dict[str, Any]:
        """Every number as plain Python, coefficients by term."""
        return {
            "model": "LogisticModel", "n": self.n, "n_events": self.n_events,
            "n_clusters": self.n_clusters, "loglik_null": self.loglik_null,
            "loglik": self.loglik, "null_deviance": self.null_deviance,
            "df_null": self.df_null, "residual_deviance": self.residual_deviance,
            "df_residual": self.df_residual, "aic": self.aic,
            "tests": _tests_dict(likelihood_ratio=self.likelihood_ratio_test,
                                 wald=self.wald_test),
            "penalty": self.penalty, "ci_level": self.ci_level,
            "converged": self.converged, "notes": list(self.notes),
            "coefficients": _records(self.coefficients),
        }

    def _legacy_frame(self) -> pd.DataFrame:
        c = self.coefficients
        if not self.legacy_intercept:
            c = c.drop(index="intercept", errors="ignore")
        return pd.DataFrame({
            "term": list(c.index), "coef": c["coef"].to_numpy(), "se": c["se"].to_numpy(),
            "or": c["or"].to_numpy(), "or_ci_low": c["or_ci_low"].to_numpy(),
            "or_ci_high": c["or_ci_high"].to_numpy(), "p": c["p"].to_numpy(),
            "estimable": c["estimable"].to_numpy(dtype=bool)})

    def _tables(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        c = self.coefficients
        se = "Robust SE" if self.robust else "Std. Error"
        first = {"Estimate": _column(c["coef"]), se: _column(c["se"]),
                 "z value": [_fixed(z, 3) for z in c["z"]],
                 "Pr(>|z|)": [format_p(p) for p in c["p"]]}
        low, high = _ci_names(self.ci_level)
        second = {"odds ratio": _column(c["or"]), low: _column(c["or_ci_low"]),
                  high: _column(c["or_ci_high"])}
        return first, second

    def _title(self) -> str:
        kind = f"ridge penalty {self.penalty:.4g}" if self.penalty > 0 else "maximum likelihood"
        return f"Logistic regression ({kind})"

    def _counts(self) -> str:
        text = f"n = {self.n}, outcomes = 1: {self.n_events}"
        return text + (f", clusters = {self.n_clusters}" if self.robust else "")

    def model_lines(self) -> list[str]:
        """Deviances, AIC and the tests, as R prints them below the table."""
        lines = [f"    Null deviance: {self.null_deviance:.2f}  on {self.df_null}  "
                 "degrees of freedom",
                 f"Residual deviance: {self.residual_deviance:.2f}  on {self.df_residual}  "
                 "degrees of freedom"]
        if self.aic is not None:
            lines.append(f"AIC: {self.aic:.2f}")
        if self.likelihood_ratio_test is not None:
            lines.append(f"Likelihood ratio test = {self.likelihood_ratio_test.text()}")
        if self.wald_test is not None:
            lines.append(f"Wald test             = {self.wald_test.text()}")
        return lines

    def brief(self) -> list[str]:
        """Two lines for the model's ``repr``."""
        lines = [f"{self._counts()}; null deviance {self.null_deviance:.2f} on "
                 f"{self.df_null} df, residual deviance {self.residual_deviance:.2f} on "
                 f"{self.df_residual} df" + (f", AIC {self.aic:.2f}" if self.aic else "")]
        if self.likelihood_ratio_test is not None:
            lines.append(f"LR test {self.likelihood_ratio_test.text()}; "
                         "print(model.summary()) for the coefficients")
        return lines


def logistic_summary(model: Any, intercept: bool | None = None) -> LogisticSummary:
    """The :class:`LogisticSummary` of a fitted LogisticModel."""
    ok = np.asarray(model.estimable_, dtype=bool)
    coef = np.where(ok, np.concatenate([[model.intercept_], model.coef_]), np.nan)
    cov = model.cov_
    se = np.sqrt(np.diag(cov)) if cov is not None else np.full(coef.size, np.nan)
    se = np.where(ok, se, np.nan)
    zq = stats.norm.ppf(0.5 + model.ci_level / 2.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = coef / se
        table = pd.DataFrame({
            "coef": coef, "or": np.exp(coef), "se": se, "z": z,
            "p": 2.0 * stats.norm.sf(np.abs(z)), "or_ci_low": np.exp(coef - zq * se),
            "or_ci_high": np.exp(coef + zq * se), "estimable": ok},
            index=pd.Index(["intercept", *model.feature_names_in_], name="term"))
    if intercept is False:
        table = table.iloc[1:]
    p = int(model.coef_.size)
    penalised = model.penalty > 0
    lr = wald = None
    notes = []
    if penalised:
        notes.append(_PENALISED_NOTE + " No AIC, likelihood ratio or Wald test either.")
    elif ok[1:].all():
        lr = ChiSquareTest.of(2 * (model.loglik_ - model.loglik_null_), p)
        slopes = np.arange(1, p + 1)
        wald = ChiSquareTest.of(*wald_test(model.coef_, cov[np.ix_(slopes, slopes)],
                                           np.ones(p, dtype=bool)))
    if not model.converged_:
        notes.append("The fit did not converge (see the warning): no test is reported and "
                     "the deviance is that of the last iterate.")
    if model.n_clusters_ is not None:
        notes.append(f"Cluster-robust standard errors ({model.n_clusters_} clusters); the "
                     "likelihood ratio test assumes independent rows.")
    deviance = -2.0 * model.loglik_
    return LogisticSummary(
        coefficients=table, n=int(model.n_), n_events=int(model.n_events_),
        loglik_null=float(model.loglik_null_), loglik=float(model.loglik_),
        null_deviance=-2.0 * float(model.loglik_null_), df_null=int(model.n_) - 1,
        residual_deviance=float(deviance), df_residual=int(model.n_) - p - 1,
        aic=None if penalised else float(deviance + 2 * (p + 1)),
        likelihood_ratio_test=lr, wald_test=wald, n_clusters=model.n_clusters_,
        penalty=float(model.penalty), ci_level=float(model.ci_level),
        converged=bool(model.converged_), notes=tuple(notes),
        legacy_intercept=bool(intercept))


# ---------------------------------------------------------------------------- PH test
@dataclass(frozen=True, eq=False, repr=False)
class PHTest(_LegacyFrame):
    """Proportional-hazards test of R's ``cox.zph`` with the scaled Schoenfeld residuals.

    Attributes
    ----------
    table : DataFrame
        Index ``term`` (each term, then ``GLOBAL``); columns ``chisq``, ``df``, ``p``: the
        score test of adding ``x * g(t)`` for each term, and for all together.
    transform : str
        The time transform ``g`` ("km", "rank", "identity" or "log").
    time : ndarray (n_events,)
        Event times, by stratum then time (R's ``cox.zph(...)$time``).
    transformed_time : ndarray (n_events,)
        ``g(time)`` before centring (R's ``$x``), the x axis of the residual plot.
    residuals : DataFrame (n_events, n_terms)
        Scaled Schoenfeld residuals, one column per term (R's ``$y``): their smooth
        against ``transformed_time`` estimates the time-varying coefficient
        ``beta(t)``, flat at the estimate under proportional hazards. NaN for a term
        constant within a stratum.
    variance : DataFrame (n_terms, n_terms)
        R's ``$var``: the scale of the smooth's confidence band.
    coef : Series
        The fitted coefficients (the horizontal reference lines).
    strata : ndarray or None
        Stratum of each event (tuples of the strata columns' values).

    Examples
    --------
    >>> import survrad as sr
    >>> lung = sr.load_dataset("lung").dropna(subset=["ph.ecog"])
    >>> X = lung[["age", "sex", "ph.ecog"]]
    >>> y = sr.Surv.from_arrays(time=lung["time"], event=lung["status"] == 2)
    >>> ph = sr.CoxModel().fit(X, y).ph_test(X, y)
    >>> ph.to_frame()["chisq"].round(3).tolist()
    [0.188, 2.305, 2.054, 4.464]
    >>> ph.residuals.shape, ph.smooth("sex").shape
    ((164, 3), (40, 4))
    """

    table: pd.DataFrame
    transform: str
    time: np.ndarray
    transformed_time: np.ndarray
    residuals: pd.DataFrame
    variance: pd.DataFrame
    coef: pd.Series
    strata: np.ndarray | None = None

    _what = "CoxModel.ph_test()"
    _instead = "use .to_frame() (terms and GLOBAL as the index) or .table"

    @property
    def terms(self) -> list[str]:
        """The model terms (columns of ``residuals``)."""
        return [str(c) for c in self.residuals.columns]

    def to_frame(self) -> pd.DataFrame:
        """The test table (a copy): index ``term`` (terms, then GLOBAL), chisq, df, p."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """The tests as plain Python (the residuals are left out: see ``residuals``)."""
        return {"transform": self.transform, "n_events": int(self.time.size),
                "tests": _records(self.table)}

    def _legacy_frame(self) -> pd.DataFrame:
        return self.table.reset_index()

    def smooth(self, term: str, *, df: int = 4, n_points: int = 40) -> pd.DataFrame:
        """The smooth of one term's residuals and its band, as R's ``plot(cox.zph)``.

        Parameters
        ----------
        term : str
        df : int, default 4
            Degrees of freedom of the natural spline (R's ``df``).
        n_points : int, default 40
            Points of the curve (R's ``nsmo``).

        Returns
        -------
        DataFrame
            ``transformed_time`` (equally spaced), ``fit`` (estimated ``beta(t)``),
            ``lower``, ``upper`` (``fit -/+ 2`` standard errors, R's band).
        """
        if term not in self.residuals.columns:
            raise KeyError(f"no term {term!r}; terms: {self.terms}.")
        grid, fit, half = zph_smooth(self.transformed_time,
                                     self.residuals[term].to_numpy(dtype=float),
                                     float(self.variance.loc[term, term]), df=df,
                                     n_points=n_points)
        return pd.DataFrame({"transformed_time": grid, "fit": fit, "lower": fit - half,
                             "upper": fit + half})

    def _columns(self) -> dict[str, list[str]]:
        t = self.table
        return {"chisq": [_fixed(x, 3) for x in t["chisq"]],
                "df": [str(int(d)) for d in t["df"]], "p": [format_p(p) for p in t["p"]]}

    def __str__(self) -> str:
        lines = [f"Proportional-hazards test (cox.zph, transform = {self.transform!r}, "
                 f"{self.time.size} events)", *_text_table(list(self.table.index),
                                                           self._columns())]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return _html([str(self).splitlines()[0]], list(self.table.index), self._columns(), [])

"""Describe a cohort and a fitted model: Table 1 and coefficient tables (layer 5).

Numbers stay unrounded; :mod:`survrad.reporting.tables` formats them for display.

Table 1 (:func:`table_one`) is a long ("tidy") table, one row per statistic and group,
so it can be written to CSV at full precision and reshaped for display by
:func:`survrad.reporting.tables.format_table_one`. The tests comparing groups (only
when ``by`` is given):

* continuous variables: Kruskal-Wallis rank-sum test with the tie correction, as R's
  ``kruskal.test`` (``scipy.stats.kruskal``);
* categorical variables: Pearson's chi-square test of independence, with Yates'
  continuity correction for a 2 x 2 table (as R's ``chisq.test`` default); when an
  expected count is below 5, Fisher's exact test instead: exact for a 2 x 2 table (as
  R's ``fisher.test``), a seeded Monte Carlo estimate over 10,000 tables with the
  observed margins for larger tables (as ``fisher.test(simulate.p.value = TRUE)``);
* survival endpoints: the log-rank test (R's ``survdiff``);
* lesions per patient and total tumour volume: Kruskal-Wallis on the per-patient values;
* the organ distribution of lesions is not tested: lesions are clustered within
  patients, so a test treating them as independent would be anti-conservative.

Quantiles are R's default (type 7, linear interpolation); the median follow-up is the
median of the reverse Kaplan-Meier curve (censoring treated as the event, Schemper &
Smith 1996); median survival and its interval are those of R's ``print.survfit``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from survrad._validation import check_fraction, check_int, check_random_state
from survrad.data.cohort import Cohort
from survrad.evaluation.nonparametric import kaplan_meier, logrank_test
from survrad.exceptions import ConfigError, SchemaError

__all__ = ["COEFFICIENT_COLUMNS", "OVERALL", "TABLE_ONE_COLUMNS", "coefficient_table",
           "table_one"]

#: Columns of the long Table 1 returned by :func:`table_one`.
TABLE_ONE_COLUMNS = ("section", "variable", "level", "statistic", "unit", "group", "n",
                     "value", "low", "high", "percent", "p", "test")
#: Columns of a coefficient table for a survival model (``hr`` is ``or`` for logistic).
COEFFICIENT_COLUMNS = ("term", "coef", "se", "hr", "hr_ci_low", "hr_ci_high", "p",
                       "estimable")

OVERALL = "Overall"
_MAX_GROUPS = 12
_FISHER_RESAMPLES = 10_000
_LESION_SECTION = "Lesions at baseline"
_NOT_TESTED_ORGAN = "not tested (lesions are clustered within patients)"


# =============================================================================== Table 1
def table_one(cohort: Cohort, by: str | None = None, *,
              endpoint_time_unit: str | Mapping[str, str] = "months",
              variables: Sequence[str] | None = None,
              categorical: Sequence[str] | None = None, max_levels: int = 5,
              ci_level: float = 0.95, random_state: Any = 0) -> pd.DataFrame:
    """Cohort summary (Table 1), overall and by a patient variable, unrounded.

    Parameters
    ----------
    cohort : Cohort
    by : str, optional
        A patient column (e.g. ``"center"``) or the name of a binary endpoint (e.g.
        ``"response"``) whose values define the groups compared. At most 12 groups;
        missing values are an error (the patients would silently leave every group).
    endpoint_time_unit : str or mapping of str to str, default "months"
        Unit of the survival times, one for all endpoints or ``{endpoint: unit}``.
    variables : sequence of str, optional
        Patient columns to describe. Default: the cohort's ``patient_features``, then
        ``center``, ``best_response`` and ``split`` when present (never ``by`` itself,
        ids or outcomes: binary endpoints get their own section).
    categorical : sequence of str, optional
        Columns to describe as categories. Default: non-numeric columns and numeric
        columns with at most ``max_levels`` distinct values (e.g. ECOG 0/1/2).
    max_levels : int, default 5
    ci_level : float, default 0.95
        Level of the Kaplan-Meier intervals of the medians.
    random_state : None, int or Generator, default 0
        Seed of the Monte Carlo Fisher test (used only for a sparse table larger than
        2 x 2), so the same data give the same p-value.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TABLE_ONE_COLUMNS`: ``section``, ``variable``, ``level``
        (category or organ; ``""`` otherwise), ``statistic`` (``count``, ``median_iqr``,
        ``n_pct``, ``missing``, ``events``, ``censored``, ``median_followup``,
        ``median_survival``), ``unit``, ``group`` (``"Overall"`` or ``"<by>=<level>"``),
        ``n`` (denominator: patients, or lesions for organ rows), ``value`` (count or
        median), ``low``/``high`` (quartiles or confidence limits), ``percent``
        (100 * value / n for counts), ``p`` and ``test`` (on the rows of the ``Overall``
        group, NaN/"" without ``by``). ``attrs["by"]`` holds ``by``.

    Raises
    ------
    SchemaError
        ``by`` is not a column, has missing values or too many levels; an unknown
        variable.

    Examples
    --------
    >>> import survrad as sr
    >>> t1 = table_one(sr.simulate_cohort(n_patients=60, random_state=0), by="center")
    >>> t1.loc[t1["statistic"] == "median_survival", "test"].iloc[0]
    'log-rank'
    """
    ci_level = check_fraction("ci_level", ci_level)
    max_levels = check_int("max_levels", max_levels, min_value=1)
    by_col, by_values = _by_column(cohort, by)
    groups = _groups(cohort, by_col, by_values)
    ctx = _Context(cohort, groups, by_col, ci_level, random_state)
    rows: list[dict[str, Any]] = []
    rows += _patient_rows(ctx)
    variables = _default_variables(cohort, by_col) if variables is None else list(variables)
    forced = set(categorical or ())
    for var in variables:
        rows += _variable_rows(ctx, var, var in forced, max_levels)
    for name, ep in cohort.endpoints.items():
        if ep.kind == "survival":
            unit = _unit(endpoint_time_unit, name)
            rows += _survival_rows(ctx, name, ep.time, ep.event, unit)
        elif ep.target != by_col:
            rows += _categorical_rows(ctx, f"Endpoint: {name}", ep.target,
                                      cohort.patients[ep.target])
    if cohort.has_lesions:
        rows += _lesion_rows(ctx)
    out = pd.DataFrame(rows, columns=list(TABLE_ONE_COLUMNS))
    out.attrs["by"] = by_col
    return out


class _Context:
    """What every row builder needs: the cohort, the groups and the test settings."""

    def __init__(self, cohort: Cohort, groups: list[tuple[str, np.ndarray]],
                 by: str | None, ci_level: float, random_state: Any) -> None:
        self.cohort = cohort
        self.groups = groups
        self.by = by
        self.ci_level = ci_level
        self.random_state = random_state

    @property
    def compare(self) -> list[tuple[str, np.ndarray]]:
        """The by-groups (without Overall); empty when there is no ``by``."""
        return self.groups[1:]


def _row(section: str, variable: str, statistic: str, group: str, **kw: Any) -> dict:
    row = {"section": section, "variable": variable, "level": "", "statistic": statistic,
           "unit": "", "group": group, "n": np.nan, "value": np.nan, "low": np.nan,
           "high": np.nan, "percent": np.nan, "p": np.nan, "test": ""}
    row.update(kw)
    return row


def _with_test(rows: list[dict], p: float, test: str) -> list[dict]:
    """Put the test on the Overall row(s) of a block."""
    for r in rows:
        if r["group"] == OVERALL:
            r["p"], r["test"] = p, test
    return rows


# ------------------------------------------------------------------------- groups
def _by_column(cohort: Cohort, by: str | None) -> tuple[str | None, pd.Series | None]:
    if by is None:
        return None, None
    pats = cohort.patients
    col = by
    if by not in pats.columns and by in cohort.endpoints:
        ep = cohort.endpoints[by]
        if ep.kind != "binary":
            raise SchemaError(f"by={by!r} is a survival endpoint; Table 1 groups by a "
                              "categorical patient variable (e.g. 'center', 'response').")
        col = ep.target
    if col not in pats.columns:
        raise SchemaError(f"by={by!r} is not a patient column or binary endpoint; "
                          f"available columns: {list(pats.columns)}.", file="patients")
    values = pats[col]
    missing = values.isna().to_numpy()
    if missing.any():
        raise SchemaError(f"by={col!r} is missing for some patients; Table 1 would leave "
                          "them out of every group. Fill or recode the column first.",
                          file="patients", column=col, ids=list(pats.index[missing]))
    n_levels = values.nunique()
    if n_levels > _MAX_GROUPS:
        raise SchemaError(f"by={col!r} has {n_levels} distinct values; Table 1 compares at "
                          f"most {_MAX_GROUPS} groups. Choose a categorical variable or "
                          "bin this one first.", file="patients", column=col)
    return col, values


def _sorted_levels(values: pd.Series) -> list[Any]:
    """Distinct non-missing values: numbers in numeric order, then text in text order."""
    uniq = pd.unique(values.dropna())

    def key(v: Any) -> tuple[int, float, str]:
        if isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_):
            return (0, float(v), "")
        return (1, 0.0, str(v))

    return sorted(uniq, key=key)


def _level_label(v: Any) -> str:
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _groups(cohort: Cohort, by: str | None,
            values: pd.Series | None) -> list[tuple[str, np.ndarray]]:
    out = [(OVERALL, np.ones(cohort.n_patients, dtype=bool))]
    if by is None or values is None:
        return out
    arr = values.to_numpy()
    for level in _sorted_levels(values):
        out.append((f"{by}={_level_label(level)}", arr == level))
    return out


def _default_variables(cohort: Cohort, by: str | None) -> list[str]:
    cols = cohort.columns
    outcome = {c for ep in cohort.endpoints.values() for c in ep.columns}
    extra = [c for c in (cols.center, "best_response", cols.split)
             if c in cohort.patients.columns]
    out: list[str] = []
    for c in [*cohort.patient_features, *extra]:
        if c != by and c not in outcome and c not in out:
            out.append(c)
    return out


def _unit(unit: str | Mapping[str, str], endpoint: str) -> str:
    if isinstance(unit, str):
        return unit
    if endpoint not in unit:
        raise ConfigError(f"endpoint_time_unit has no unit for endpoint {endpoint!r}; "
                          f"given for {sorted(unit)}.")
    return str(unit[endpoint])


# ------------------------------------------------------------------- row builders
def _patient_rows(ctx: _Context) -> list[dict]:
    total = ctx.cohort.n_patients
    return [_row("Patients", "Patients", "count", g, n=total, value=int(m.sum()),
                 percent=100.0 * m.sum() / total) for g, m in ctx.groups]


def _is_categorical(values: pd.Series, forced: bool, max_levels: int) -> bool:
    if forced or not pd.api.types.is_numeric_dtype(values) or \
            pd.api.types.is_bool_dtype(values):
        return True
    return values.nunique(dropna=True) <= max_levels


def _variable_rows(ctx: _Context, var: str, forced: bool, max_levels: int) -> list[dict]:
    pats = ctx.cohort.patients
    if var not in pats.columns:
        raise SchemaError(f"Table 1 variable {var!r} is not a patient column; available: "
                          f"{list(pats.columns)}.", file="patients", column=var)
    values = pats[var]
    if _is_categorical(values, forced, max_levels):
        return _categorical_rows(ctx, "Patient characteristics", var, values)
    return _continuous_rows(ctx, "Patient characteristics", var, values.astype(float))


def _continuous_rows(ctx: _Context, section: str, var: str, values: pd.Series,
                     unit: str = "") -> list[dict]:
    arr = values.to_numpy(dtype=float)
    rows, samples = [], []
    for g, m in ctx.groups:
        x = arr[m]
        x = x[~np.isnan(x)]
        if x.size:
            q1, med, q3 = np.percentile(x, [25, 50, 75])
        else:
            q1 = med = q3 = np.nan
        rows.append(_row(section, var, "median_iqr", g, unit=unit, n=x.size, value=med,
                         low=q1, high=q3))
        if g != OVERALL:
            samples.append(x)
    if ctx.compare:
        rows = _with_test(rows, *_kruskal(samples))
    n_missing = int(np.isnan(arr).sum())
    if n_missing:
        rows += [_row(section, var, "missing", g, n=int(m.sum()),
                      value=int(np.isnan(arr[m]).sum()),
                      percent=100.0 * np.isnan(arr[m]).sum() / m.sum())
                 for g, m in ctx.groups]
    return rows


def _kruskal(samples: list[np.ndarray]) -> tuple[float, str]:
    samples = [s for s in samples if s.size]
    if len(samples) < 2:
        return np.nan, "not computable (fewer than 2 groups with data)"
    pooled = np.concatenate(samples)
    if np.all(pooled == pooled[0]):
        return np.nan, "not computable (all values equal)"
    return float(stats.kruskal(*samples).pvalue), "Kruskal-Wallis"


def _categorical_rows(ctx: _Context, section: str, var: str, values: pd.Series) -> list[dict]:
    levels = _sorted_levels(values)
    arr = values.to_numpy(dtype=object)
    missing = values.isna().to_numpy()
    rows = []
    counts = np.zeros((len(levels), len(ctx.compare)), dtype=np.int64)
    for i, level in enumerate(levels):
        hit = (arr == level) & ~missing
        for j, (g, m) in enumerate(ctx.groups):
            k = int((hit & m).sum())
            rows.append(_row(section, var, "n_pct", g, level=_level_label(level),
                             n=int(m.sum()), value=k, percent=100.0 * k / m.sum()))
            if j:
                counts[i, j - 1] = k
    if ctx.compare:
        rows = _with_test(rows, *_contingency_test(counts, ctx.random_state))
    if missing.any():
        rows += [_row(section, var, "missing", g, level="missing", n=int(m.sum()),
                      value=int((missing & m).sum()),
                      percent=100.0 * (missing & m).sum() / m.sum())
                 for g, m in ctx.groups]
    return rows


def _contingency_test(counts: np.ndarray, random_state: Any) -> tuple[float, str]:
    """Chi-square (Yates for 2 x 2) or Fisher exact when an expected count is < 5."""
    table = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return np.nan, "not computable (fewer than 2 levels or groups with data)"
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    if expected.min() >= 5:
        res = stats.chi2_contingency(table, correction=True)
        name = "chi-square (Yates)" if table.shape == (2, 2) else "chi-square"
        return float(res.pvalue), name
    if table.shape == (2, 2):
        return float(stats.fisher_exact(table).pvalue), "Fisher exact"
    method = stats.MonteCarloMethod(n_resamples=_FISHER_RESAMPLES,
                                    rng=check_random_state(random_state))
    p = float(stats.fisher_exact(table, method=method).pvalue)
    return p, f"Fisher exact (Monte Carlo, {_FISHER_RESAMPLES} tables)"


def _survival_rows(ctx: _Context, name: str, time_col: str, event_col: str,
                   unit: str) -> list[dict]:
    section = f"Endpoint: {name}"
    time = ctx.cohort.patients[time_col].to_numpy(dtype=float)
    event = ctx.cohort.patients[event_col].to_numpy(dtype=float) == 1.0
    rows: list[dict] = []
    blocks: dict[str, list[dict]] = {s: [] for s in
                                     ("events", "censored", "median_followup",
                                      "median_survival")}
    for g, m in ctx.groups:
        n, d = int(m.sum()), int(event[m].sum())
        blocks["events"].append(_row(section, name, "events", g, n=n, value=d,
                                     percent=100.0 * d / n))
        blocks["censored"].append(_row(section, name, "censored", g, n=n, value=n - d,
                                       percent=100.0 * (n - d) / n))
        fu = kaplan_meier(time[m], ~event[m], ci_level=ctx.ci_level).median()
        blocks["median_followup"].append(_row(section, name, "median_followup", g,
                                              unit=unit, n=n, value=fu.median,
                                              low=fu.lower, high=fu.upper))
        med = kaplan_meier(time[m], event[m], ci_level=ctx.ci_level).median()
        blocks["median_survival"].append(_row(section, name, "median_survival", g,
                                              unit=unit, n=n, value=med.median,
                                              low=med.lower, high=med.upper))
    if ctx.compare:
        labels = np.empty(time.size, dtype=object)
        for g, m in ctx.compare:
            labels[m] = g
        p = logrank_test(time, event, labels).p
        blocks["median_survival"] = _with_test(blocks["median_survival"], p, "log-rank")
    for block in blocks.values():
        rows += block
    return rows


def _lesion_rows(ctx: _Context) -> list[dict]:
    cohort = ctx.cohort
    cols = cohort.columns
    base = cohort.baseline_lesions()
    pid = base[cols.patient_id]
    per_patient = pid.value_counts().reindex(cohort.patient_ids, fill_value=0)
    rows = [_row(_LESION_SECTION, "Lesions", "count", g, n=int(m.sum()),
                 value=int(per_patient.to_numpy()[m].sum())) for g, m in ctx.groups]
    rows += _continuous_rows(ctx, _LESION_SECTION, "Lesions per patient",
                             per_patient.astype(float))
    if cols.volume in base.columns:
        vol = base[cols.volume].astype(float)
        total = vol.groupby(pid).sum().reindex(cohort.patient_ids, fill_value=0.0)
        unknown = vol.isna().groupby(pid).any().reindex(cohort.patient_ids, fill_value=False)
        total[unknown.to_numpy()] = np.nan
        rows += _continuous_rows(ctx, _LESION_SECTION, "Total tumour volume", total,
                                 unit="ml")
    if cols.organ in base.columns:
        rows += _organ_rows(ctx, base, pid)
    return rows


def _organ_rows(ctx: _Context, base: pd.DataFrame, pid: pd.Series) -> list[dict]:
    organ = base[ctx.cohort.columns.organ].astype(object)
    organ = organ.where(organ.notna(), "missing").astype(str)
    order = organ.value_counts()
    levels = sorted(order.index, key=lambda o: (o == "missing", -order[o], o))
    patient_pos = pd.Series(np.arange(ctx.cohort.n_patients), index=ctx.cohort.patient_ids)
    lesion_pos = patient_pos.loc[pid.to_numpy()].to_numpy()
    rows = []
    for level in levels:
        hit = (organ == level).to_numpy()
        for g, m in ctx.groups:
            in_group = m[lesion_pos]
            n = int(in_group.sum())
            k = int((hit & in_group).sum())
            rows.append(_row(_LESION_SECTION, "Organ", "n_pct", g, level=level, n=n,
                             value=k, percent=100.0 * k / n if n else np.nan))
    if ctx.compare:
        rows = _with_test(rows, np.nan, _NOT_TESTED_ORGAN)
    return rows


# ====================================================================== coefficients
def coefficient_table(summary: Any, *, ci_level: float = 0.95,
                      scale: Sequence[float] | None = None) -> pd.DataFrame:
    """Normalise a model's ``summary()`` to the report's coefficient columns.

    Parameters
    ----------
    summary : CoxSummary, LogisticSummary or DataFrame
        A model's ``summary()`` (the slopes are taken, with the standard error used for
        inference: the cluster-robust one when there are clusters), or a DataFrame
        with ``term``, ``coef``, ``se`` and ``p``; the effect columns ``hr``,
        ``hr_ci_low``, ``hr_ci_high`` (survival) or ``or``, ``or_ci_low``, ``or_ci_high``
        (logistic) are kept when present, otherwise computed as ``exp(coef)`` with Wald
        limits ``exp(coef +/- z se)`` at ``ci_level``. ``estimable`` defaults to
        "coef is finite".
    ci_level : float, default 0.95
        Used only when the effect columns are computed.
    scale : sequence of float, optional
        The standard deviation of each term's predictor in the data the model was fitted
        on (a Cox model's ``x_scale_``), in the order of the terms: adds ``sd`` and the
        ratio per SD, ``hr_per_sd = exp(coef * sd)`` (``or_per_sd``), the effect size
        that stays comparable across predictors of different units (what a penalised
        model, fitted on standardised predictors, is read by).

    Returns
    -------
    pandas.DataFrame
        ``term, coef, se, hr, hr_ci_low, hr_ci_high, p, estimable`` (``or*`` for odds
        ratios; then ``sd, hr_per_sd`` when ``scale`` is given), unrounded. A
        non-estimable term has NaN in every number, never a made-up value. ``attrs``
        (e.g. the penalised-model note) are kept.

    Raises
    ------
    ValueError
        Required columns missing, or a term flagged estimable without a coefficient.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"term": ["age", "x"], "coef": [0.02, 3.0], "se": [0.01, 1.0],
    ...                   "p": [0.05, 0.003], "estimable": [True, False]})
    >>> coefficient_table(s)[["term", "hr", "estimable"]].to_dict("list")["hr"][1]
    nan
    """
    ci_level = check_fraction("ci_level", ci_level)
    summary = _summary_frame(summary)
    missing = [c for c in ("term", "coef", "se", "p") if c not in summary.columns]
    if missing:
        raise ValueError(f"model summary lacks columns {missing}; it has "
                         f"{list(summary.columns)}.")
    effect = "or" if "or" in summary.columns and "hr" not in summary.columns else "hr"
    names = [effect, f"{effect}_ci_low", f"{effect}_ci_high"]
    coef = summary["coef"].to_numpy(dtype=float)
    se = summary["se"].to_numpy(dtype=float)
    if all(c in summary.columns for c in names):
        eff = [summary[c].to_numpy(dtype=float) for c in names]
    else:
        z = stats.norm.ppf(0.5 + ci_level / 2)
        with np.errstate(over="ignore", invalid="ignore"):
            eff = [np.exp(coef), np.exp(coef - z * se), np.exp(coef + z * se)]
    if "estimable" in summary.columns:
        estimable = summary["estimable"].to_numpy(dtype=bool)
    else:
        estimable = np.isfinite(coef)
    bad = estimable & ~np.isfinite(coef)
    if bad.any():
        raise ValueError(f"terms {summary['term'][bad].tolist()} are flagged estimable but "
                         "have no finite coefficient.")
    out = pd.DataFrame({"term": summary["term"].astype(str).to_numpy(), "coef": coef,
                        "se": se, names[0]: eff[0], names[1]: eff[1], names[2]: eff[2],
                        "p": summary["p"].to_numpy(dtype=float), "estimable": estimable})
    numbers = ["coef", "se", *names, "p"]
    if scale is not None:
        sd = np.asarray(scale, dtype=float)
        if sd.shape != coef.shape:
            raise ValueError(f"scale has {sd.size} values for {coef.size} terms.")
        with np.errstate(over="ignore", invalid="ignore"):
            out = out.assign(sd=sd, **{f"{effect}_per_sd": np.exp(coef * sd)})
        numbers.append(f"{effect}_per_sd")
    out.loc[~estimable, numbers] = np.nan
    out.attrs.update(summary.attrs)
    return out


def _summary_frame(summary: Any) -> pd.DataFrame:
    """A DataFrame as given; a model summary object as one row per slope (``term``
    column), ``se`` the standard error of its inference, the penalised note in attrs."""
    if isinstance(summary, pd.DataFrame):
        return summary
    table = summary.to_frame().drop(index="intercept", errors="ignore")
    if "robust_se" in table.columns:
        table = table.assign(se=table["robust_se"])
    frame = table.reset_index()
    if summary.penalty > 0:
        frame.attrs["note"] = summary.notes[0]
    return frame



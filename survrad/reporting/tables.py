"""Report tables: the cohort summary (Table 1), coefficient tables, exact CSV output.

Numbers stay unrounded in every DataFrame built here; rounding and text happen only in
the ``format_*`` functions, which return display tables of strings for the HTML report.

Table 1 (:func:`table_one`) is a long ("tidy") table, one row per statistic and group,
so it can be written to CSV at full precision and reshaped for display by
:func:`format_table_one`. The tests comparing groups (only when ``by`` is given):

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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from survrad._validation import check_choice, check_fraction, check_int, check_random_state
from survrad.data.cohort import Cohort
from survrad.evaluation.nonparametric import kaplan_meier, logrank_test
from survrad.exceptions import ConfigError, SchemaError
from survrad.reporting.writer import atomic_write_text

__all__ = [
    "COEFFICIENT_COLUMNS",
    "TABLE_ONE_COLUMNS",
    "coefficient_table",
    "format_coefficients",
    "format_p",
    "format_table_one",
    "neutralise_cell",
    "read_report_csv",
    "table_one",
    "write_csv",
]

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
    >>> format_table_one(t1).columns[0]
    'Characteristic'
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


# ------------------------------------------------------------------------ display
_STAT_LABELS = {
    "median_iqr": "median [IQR]",
    "events": "events, n (%)",
    "censored": "censored, n (%)",
    "median_followup": "median follow-up (reverse KM), {unit} (95% CI)",
    "median_survival": "median (KM), {unit} (95% CI)",
    "count": "n",
}
_INDENT = "\u2003"


def format_p(p: float) -> str:
    """A p-value for display: ``"<0.001"``, else three decimals; ``""`` for NaN.

    Examples
    --------
    >>> [format_p(x) for x in (0.0004, 0.0123, 0.5, float("nan"))]
    ['<0.001', '0.012', '0.500', '']
    """
    if p is None or not np.isfinite(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _decimals(values: Sequence[float]) -> int:
    """Decimals for a row: 0 when all values are whole numbers, else by magnitude."""
    finite = [abs(float(v)) for v in values if v is not None and np.isfinite(v)]
    if not finite or all(float(v).is_integer() for v in finite):
        return 0
    top = max(finite)
    return 0 if top >= 100 else 1 if top >= 10 else 2


def _num(x: float, decimals: int, missing: str = "NR") -> str:
    return missing if x is None or not np.isfinite(x) else f"{x:.{decimals}f}"


def _cell(row: pd.Series, decimals: int) -> str:
    stat = row["statistic"]
    if stat in ("n_pct", "events", "censored", "missing"):
        pct = "" if not np.isfinite(row["percent"]) else f" ({row['percent']:.1f})"
        return f"{int(row['value'])}{pct}"
    if stat == "count":
        return f"{int(row['value'])}"
    if stat == "median_iqr":
        if not np.isfinite(row["value"]):
            return "no data"
        return (f"{_num(row['value'], decimals)} [{_num(row['low'], decimals)}, "
                f"{_num(row['high'], decimals)}]")
    if not np.isfinite(row["value"]):
        return "not reached"
    return (f"{_num(row['value'], decimals)} ({_num(row['low'], decimals)}\u2013"
            f"{_num(row['high'], decimals)})")


def _label(row: pd.Series) -> str:
    stat = row["statistic"]
    if stat in ("n_pct", "missing"):
        return f"{_INDENT}{row['level'] or 'missing'}"
    text = _STAT_LABELS.get(stat, stat).format(unit=row["unit"] or "time units")
    if row["section"].startswith("Endpoint: ") and stat != "n_pct":
        return f"{_INDENT}{text}"
    unit = f" ({row['unit']})" if stat == "median_iqr" and row["unit"] else ""
    return f"{row['variable']}{unit}, {text}"


def format_table_one(table: pd.DataFrame, *, tests: str = "footnotes") -> pd.DataFrame:
    """Table 1 for display: one row per characteristic, one column per group.

    Parameters
    ----------
    table : DataFrame
        The result of :func:`table_one`.
    tests : {"footnotes", "column"}, default "footnotes"
        How to name the test behind each p-value: a superscript letter on the p-value
        explained in ``attrs["notes"]`` (journal style), or a ``Test`` column.

    Returns
    -------
    pandas.DataFrame of str
        ``Characteristic``, one column per group headed ``"<group> (n=<N>)"``, and ``p``
        (and ``Test``) when groups are compared. Section and categorical-variable
        headings are rows whose other cells are empty. Counts read ``n (%)``, continuous
        values ``median [Q1, Q3]``, Kaplan-Meier medians ``median (lower-upper)`` with NR
        for a limit not reached. ``attrs["notes"]`` holds the abbreviations and the
        test footnotes (the HTML report prints them under the table).
    """
    tests = check_choice("tests", tests, ["footnotes", "column"])
    missing = [c for c in TABLE_ONE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"not a table_one() result: columns {missing} are missing.")
    groups = list(dict.fromkeys(table["group"]))
    sizes = table[(table["statistic"] == "count") & (table["variable"] == "Patients")]
    size = dict(zip(sizes["group"], sizes["value"], strict=True))
    headers = [f"{g} (n={int(size[g])})" if g in size else g for g in groups]
    extra = ([] if len(groups) == 1 else ["p"] if tests == "footnotes" else ["p", "Test"])
    marks = _Footnotes(tests == "footnotes")
    lines: list[list[str]] = []
    section = None
    body = table[table["variable"] != "Patients"]
    blank = [""] * (len(groups) + len(extra))
    for (sec, var, stat, _), block in body.groupby(["section", "variable", "statistic",
                                                    "level"], sort=False):
        if sec != section:
            lines.append([sec, *blank])
            section = sec
        first_level = stat == "n_pct" and block.index[0] == _first_of_variable(body, sec, var)
        if first_level:
            lines.append([f"{var}, n (%)", *blank[:len(groups)], *marks.cells(block, extra)])
        by_group = block.set_index("group")
        decimals = _decimals(block[["value", "low", "high"]].to_numpy().ravel())
        cells = [_cell(by_group.loc[g], decimals) if g in by_group.index else ""
                 for g in groups]
        tail = [""] * len(extra) if stat == "n_pct" else marks.cells(block, extra)
        lines.append([_label(block.iloc[0]), *cells, *tail])
    out = pd.DataFrame(lines, columns=["Characteristic", *headers, *extra])
    out.attrs["notes"] = [_TABLE_ONE_NOTE, *marks.notes()]
    return out


_TABLE_ONE_NOTE = ("Continuous variables: median [interquartile range]; counts: n (% of the "
                   "column's patients; for organs, % of its lesions). KM, Kaplan-Meier; "
                   "CI, confidence interval; NR, not reached.")
_MARKS = "ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖ"


class _Footnotes:
    """p-value cells, with the test named by a footnote letter or in its own column."""

    def __init__(self, footnotes: bool) -> None:
        self.footnotes = footnotes
        self.tests: dict[str, str] = {}

    def cells(self, block: pd.DataFrame, extra: list[str]) -> list[str]:
        if not extra:
            return []
        overall = block[block["group"] == OVERALL]
        test = str(overall["test"].iloc[0]) if len(overall) else ""
        if not test:
            return [""] * len(extra)
        p = float(overall["p"].iloc[0])
        p_text = format_p(p) if np.isfinite(p) else "—"
        if not self.footnotes:
            return [p_text, test]
        mark = self.tests.setdefault(test, _MARKS[len(self.tests) % len(_MARKS)])
        return [f"{p_text}{mark}"]

    def notes(self) -> list[str]:
        if not self.tests:
            return []
        return ["Tests: " + "; ".join(f"{mark} {test}" for test, mark in self.tests.items())
                + "."]


def _first_of_variable(body: pd.DataFrame, section: str, variable: str) -> Any:
    hit = body[(body["section"] == section) & (body["variable"] == variable)]
    return hit.index[0]


# ==================================================================== coefficients
def coefficient_table(summary: pd.DataFrame, *, ci_level: float = 0.95) -> pd.DataFrame:
    """Normalise a model's ``summary()`` to the report's coefficient columns.

    Parameters
    ----------
    summary : DataFrame
        Needs ``term``, ``coef``, ``se`` and ``p``; the effect columns ``hr``,
        ``hr_ci_low``, ``hr_ci_high`` (survival) or ``or``, ``or_ci_low``, ``or_ci_high``
        (logistic) are kept when present, otherwise computed as ``exp(coef)`` with Wald
        limits ``exp(coef +/- z se)`` at ``ci_level``. ``estimable`` defaults to
        "coef is finite".
    ci_level : float, default 0.95
        Used only when the effect columns are computed.

    Returns
    -------
    pandas.DataFrame
        ``term, coef, se, hr, hr_ci_low, hr_ci_high, p, estimable`` (``or*`` for odds
        ratios), unrounded. A non-estimable term has NaN in every number, never a made-up
        value. ``attrs`` (e.g. the penalised-model note) are kept.

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
    out.loc[~estimable, numbers] = np.nan
    out.attrs.update(summary.attrs)
    return out


def format_coefficients(table: pd.DataFrame, *, digits: int = 2) -> pd.DataFrame:
    """Coefficient table for display.

    Parameters
    ----------
    table : DataFrame
        The result of :func:`coefficient_table`.
    digits : int, default 2
        Decimals of the ratio and its limits (coefficients and SE get one more).

    Returns
    -------
    pandas.DataFrame of str
        ``Term, Coefficient, SE, HR (95% CI), p`` (``OR`` for odds ratios). A
        non-estimable term reads "not estimable" in every cell; an estimable term whose
        SE is NaN (penalised fit) reads "not reported" for SE, interval and p.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"term": ["age"], "coef": [0.0], "se": [0.1], "p": [1.0]})
    >>> format_coefficients(coefficient_table(s)).iloc[0, 3]
    '1.00 (0.82\u20131.22)'
    """
    digits = check_int("digits", digits, min_value=0)
    effect = "or" if "or" in table.columns else "hr"
    label = f"{effect.upper()} (95% CI)"
    d1 = digits + 1
    lines = []
    for rec in table.to_dict("records"):
        if not rec["estimable"]:
            lines.append([rec["term"], *(["not estimable"] * 4)])
            continue
        coef = f"{rec['coef']:.{d1}f}"
        if not np.isfinite(rec["se"]):
            lines.append([rec["term"], coef, "not reported",
                          f"{rec[effect]:.{digits}f} (not reported)", "not reported"])
            continue
        ci = (f"{rec[effect]:.{digits}f} ({rec[effect + '_ci_low']:.{digits}f}\u2013"
              f"{rec[effect + '_ci_high']:.{digits}f})")
        lines.append([rec["term"], coef, f"{rec['se']:.{d1}f}", ci, format_p(rec["p"])])
    out = pd.DataFrame(lines, columns=["Term", "Coefficient", "SE", label, "p"])
    ratio = "OR, odds ratio" if effect == "or" else "HR, hazard ratio"
    notes = [f"{ratio}; CI, confidence interval; SE, standard error."]
    if table.attrs.get("note"):
        notes.append(str(table.attrs["note"]))
    out.attrs["notes"] = notes
    return out


# =========================================================================== CSV
#: First characters that make a spreadsheet program read a text cell as a formula (OWASP
#: "CSV injection"); a text cell starting with one of them, or with the escape character
#: itself, is written with a leading ``'``.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPE = "'"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def neutralise_cell(value: Any) -> Any:
    """``value`` safe to open in a spreadsheet program (text cells only; numbers untouched).

    A text cell that begins with ``= + - @``, a tab or a carriage return (and is not a
    number such as ``-1.5``), or with ``'``, gets a leading ``'``: spreadsheet programs
    then show it as text instead of evaluating it. :func:`read_report_csv` removes it.

    Examples
    --------
    >>> [neutralise_cell(v) for v in ["=HYPERLINK(1)", "-1.5", "P001", "'quoted", 3]]
    ["'=HYPERLINK(1)", '-1.5', 'P001', "''quoted", 3]
    """
    if isinstance(value, str) and value and (
            value[0] == _ESCAPE or (value[0] in FORMULA_TRIGGERS and not _is_number(value))):
        return _ESCAPE + value
    return value


def _restore_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_ESCAPE):
        return value[1:]
    return value


def _neutralised(df: pd.DataFrame, index: bool) -> pd.DataFrame:
    out = df.copy()
    out.columns = [neutralise_cell(c) if isinstance(c, str) else c for c in df.columns]
    for j in range(out.shape[1]):
        col = out.iloc[:, j]
        if col.dtype == object or isinstance(col.dtype, pd.StringDtype | pd.CategoricalDtype):
            out.isetitem(j, col.astype(object).map(neutralise_cell))
    if index:
        out.index = out.index.map(neutralise_cell)
        out.index.names = [neutralise_cell(n) for n in df.index.names]
    return out


def write_csv(df: pd.DataFrame, path: str | Path, *, index: bool = False) -> Path:
    """Write ``df`` as CSV at full precision, atomically, deterministically and safely.

    Floats are written as their shortest round-trip representation (Python's ``repr``),
    so reading back with :func:`read_report_csv` gives exactly the same numbers; NaN is an
    empty cell. Line ends are ``\\n`` and the same DataFrame always gives the same bytes.
    Text cells (and column names) that a spreadsheet program would evaluate as a formula
    are neutralised by a leading ``'`` (:func:`neutralise_cell`); the JSON and Parquet
    outputs keep the raw values.

    Parameters
    ----------
    df : DataFrame
    path : str or Path
    index : bool, default False
        Also write the index (use it when the index carries ids).

    Returns
    -------
    Path

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> p = write_csv(pd.DataFrame({"x": [0.1, 1 / 3], "id": ["=1+1", "P2"]}),
    ...               pathlib.Path(tempfile.mkdtemp()) / "t.csv")
    >>> p.read_text()
    "x,id\\n0.1,'=1+1\\n0.3333333333333333,P2\\n"
    >>> read_report_csv(p)["id"].tolist()
    ['=1+1', 'P2']
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"write_csv expects a DataFrame, got {type(df).__name__}.")
    if df.columns.duplicated().any():
        raise ValueError(f"duplicate column names: {list(df.columns[df.columns.duplicated()])}.")
    text = _neutralised(df, index).to_csv(index=index, lineterminator="\n", float_format=None)
    return atomic_write_text(path, text)


def read_report_csv(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """Read a CSV written by :func:`write_csv` back into the values that were written.

    Numbers at full precision (``float_precision="round_trip"``), text cells and column
    names with their spreadsheet guard removed. Extra keyword arguments go to
    :func:`pandas.read_csv` (e.g. ``dtype={"patient_id": str}`` to keep ids as text).

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> p = write_csv(pd.DataFrame({"@x": ["-y"]}), pathlib.Path(tempfile.mkdtemp()) / "t.csv")
    >>> read_report_csv(p).to_dict("list")
    {'@x': ['-y']}
    """
    df = pd.read_csv(path, float_precision="round_trip", keep_default_na=False,
                     na_values=[""], **kwargs)
    df.columns = [_restore_cell(c) for c in df.columns]
    for j in range(df.shape[1]):
        if df.iloc[:, j].dtype == object:
            df.isetitem(j, df.iloc[:, j].map(_restore_cell))
    return df

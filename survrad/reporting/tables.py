"""Report tables: display formats of Table 1 and coefficient tables, exact CSV output.

The tables are computed in :mod:`survrad.evaluation.describe` (unrounded); rounding and
text happen only in the ``format_*`` functions here, which return display tables of
strings for the HTML report.

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

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import check_choice, check_int
from survrad.evaluation.describe import OVERALL, TABLE_ONE_COLUMNS
from survrad.reporting._plotting import format_estimate_ci, format_number
from survrad.reporting.writer import atomic_write_text

__all__ = [
    "format_coefficients",
    "format_p",
    "format_table_one",
    "format_validation",
    "neutralise_cell",
    "read_report_csv",
    "write_csv",
]




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
    >>> from survrad.evaluation.describe import coefficient_table
    >>> s = pd.DataFrame({"term": ["age"], "coef": [0.0], "se": [0.1], "p": [1.0]})
    >>> format_coefficients(coefficient_table(s)).iloc[0, 3]
    '1.00 (0.82\u20131.22)'
    """
    digits = check_int("digits", digits, min_value=0)
    effect = "or" if "or" in table.columns else "hr"
    if f"{effect}_per_sd" in table.columns and not np.isfinite(table["se"]).any():
        return _penalised_coefficients(table, effect, digits)
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


_METHOD_NAMES = {"optimism": "bootstrap optimism", ".632+": ".632+ bootstrap",
                 ".632": ".632 bootstrap", "cv": "cross-validation"}


def format_validation(table: pd.DataFrame, *, ci_level: float = 0.95,
                      digits: int = 3) -> pd.DataFrame:
    """Validation estimates for display: readable headers, the corrected value with its
    interval in one cell, replicates with the failed ones.

    Parameters
    ----------
    table : DataFrame
        Rows of ``StudyResults.estimates`` (``endpoint, strategy, model, method, metric,
        apparent, optimism, corrected, ci_low, ci_high, n_boot`` and optionally
        ``n_failed``); ``strategy`` and ``metric`` as they should be shown (relabel
        first).
    ci_level : float, default 0.95
    digits : int, default 3

    Returns
    -------
    pandas.DataFrame of str

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"endpoint": ["os"], "strategy": ["burden"], "model": ["cox"],
    ...                   "method": ["optimism"], "metric": ["Harrell's C"],
    ...                   "apparent": [0.71], "optimism": [0.02], "corrected": [0.69],
    ...                   "ci_low": [0.65], "ci_high": [0.73], "n_boot": [200],
    ...                   "n_failed": [1]})
    >>> format_validation(t).iloc[0, -2:].tolist()
    ['0.690 (0.650\u20130.730)', '199 of 200']
    """
    digits = check_int("digits", digits, min_value=0)
    pct = f"{100 * ci_level:g}%"
    failed = table["n_failed"] if "n_failed" in table.columns else pd.Series(0, table.index)
    out = pd.DataFrame({
        "Endpoint": table["endpoint"].astype(str), "Strategy": table["strategy"].astype(str),
        "Model": table["model"].astype(str),
        "Validation": [_METHOD_NAMES.get(str(m), str(m)) for m in table["method"]],
        "Metric": table["metric"].astype(str),
        "Apparent": [format_number(v, digits) for v in table["apparent"]],
        "Optimism": [format_number(v, digits) for v in table["optimism"]],
        f"Corrected ({pct} CI)": [format_estimate_ci(c, lo, hi, digits) for c, lo, hi in
                                  zip(table["corrected"], table["ci_low"], table["ci_high"],
                                      strict=True)],
        "Replicates": [f"{int(n) - int(f)} of {int(n)}" if f else f"{int(n)}"
                       for n, f in zip(table["n_boot"], failed, strict=True)]})
    out.index = table.index
    out.attrs["notes"] = [
        "Apparent: the model scored on the patients it was fitted on; optimism: its "
        "estimated over-statement; corrected = apparent - optimism (cross-validation: the "
        f"held-out estimate); CI, {pct} confidence interval; replicates: bootstrap "
        "samples or folds that produced the metric."]
    return out


def _penalised_coefficients(table: pd.DataFrame, effect: str, digits: int) -> pd.DataFrame:
    """A penalised fit: coefficient, the predictor's SD and the ratio per SD; no SE,
    interval or p (there is no valid post-selection inference for them)."""
    name = "HR" if effect == "hr" else "OR"
    lines = [[rec["term"], *(["not estimable"] * 3)] if not rec["estimable"] else
             [rec["term"], f"{rec['coef']:.{digits + 1}f}", f"{rec['sd']:.{digits + 1}g}",
              f"{rec[effect + '_per_sd']:.{digits}f}"]
             for rec in table.to_dict("records")]
    out = pd.DataFrame(lines, columns=["Term", "Coefficient", "SD", f"{name} per SD"])
    ratio = "hazard" if effect == "hr" else "odds"
    notes = [f"{name} per SD: the {ratio} ratio for an increase of one standard deviation "
             "(SD, in the data the model was fitted on) of the predictor, exp(coefficient "
             "x SD). Penalised (shrunken) coefficients, fitted on standardised predictors: "
             "no standard error, confidence interval or p-value is reported, as there is "
             "no valid post-selection inference for them."]
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

"""Formulas for patient-level predictors (layer 4), through the ``formulaic`` library.

``CohortPipeline(formula="age + log(bili) + C(ecog) + rcs(albumin, 4)")`` turns patient
columns into model columns with :class:`PatientFormula`: the transform is *fitted on the
training patients* (spline knots, category levels, centring constraints) and reused
unchanged on held-out patients. The formula is the right-hand side of formulaic's
grammar (lifelines uses the same library): ``+`` terms, ``:`` and ``*`` interactions,
``C(x)`` categorical, ``log(x)``, ``I(x ** 2)``, backticks for names that are not
Python identifiers (`` `alk.phos` ``), and these splines:

``rcs(x, 5)`` / ``rcs(x, [k1, ..., kq])``
    Harrell's restricted cubic spline, identical to R's ``rms::rcs``: linear beyond the
    outer knots, ``nk - 1`` columns (``x``, ``x'``, ``x''``, ...) in rms's basis
    (``Hmisc::rcspline.eval(x, inclx = TRUE, norm = 2)``), default knots at rms's
    quantiles of the training values (5 knots: 5%, 27.5%, 50%, 72.5%, 95%; outer knots
    at the 5th smallest and largest values when n < 100). It spans the same functions as
    R's ``splines::ns`` with the same knots, so fitted curves agree with both.
``cr(x, df=3)``
    formulaic's (mgcv's) cubic regression spline, natural (linear beyond the boundary
    knots), with a centring constraint by default in survrad: a Cox model has no
    intercept, and the unconstrained basis sums to 1. ``df`` columns, ``df + 1`` knots:
    the training range and equally spaced quantiles of the unique training values. The
    basis differs from R's ``ns()`` but spans the same functions with the same knots (up
    to a constant): fitted curves, not coefficients, are comparable.

Other formulaic transforms (``bs``, ``poly``, ``center``, ``scale``) work as in formulaic.

Missing values: a formula never sees one. ``CohortPipeline`` runs its leading
:class:`~survrad.features.Imputer` steps on the formula's numeric raw variables first
(the spline of an imputed age, not an imputed spline column); a categorical variable
(text, or inside ``C()``) must be complete.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from survrad._validation import CachedParamNames, close_matches
from survrad.exceptions import (
    ConfigError,
    NotFittedError,
    SchemaError,
    StatisticalWarning,
    format_values,
)

__all__ = ["PatientFormula", "rcs", "rcs_knots"]



# =============================================================== restricted cubic spline
def rcs_knots(x: Any, nk: int = 5, *, fractied: float = 0.05) -> np.ndarray:
    """Harrell's default knots for a restricted cubic spline (``Hmisc::rcspline.eval``).

    Quantiles (R's type 7) of the non-missing values: ``nk = 3``: 10, 50, 90%;
    ``4``: 5, 35, 65, 95%; ``5``: 5, 27.5, 50, 72.5, 95%; ``6``: 5, 23, 41, 59, 77,
    95%; ``nk > 6``: equally spaced from 2.5 to 97.5%. As in R, with fewer than 100
    values the outer knots are the 5th smallest and the 5th largest value; when the
    lowest (highest) value holds at least ``fractied`` of the data, the first (last)
    knot is the next distinct value and the others are placed on the rest; with at
    most ``nk + 2`` distinct values the knots are the interior distinct values
    (StatisticalWarning).

    Parameters
    ----------
    x : array-like
        Training values (NaN ignored).
    nk : int, default 5
        Number of knots, at least 3.
    fractied : float, default 0.05
        rms's ``fractied`` option.

    Returns
    -------
    numpy.ndarray
        Sorted distinct knots.

    Raises
    ------
    SchemaError
        Fewer than 6 values, or fewer than 3 distinct knots.

    Examples
    --------
    >>> rcs_knots(np.arange(1.0, 201.0), 4).round(2).tolist()
    [10.95, 70.65, 130.35, 190.05]
    """
    xx = np.asarray(x, dtype=float)
    xx = xx[~np.isnan(xx)]
    n = xx.size
    if n < 6:
        raise SchemaError(f"rcs: knots not given and only {n} non-missing values (< 6).")
    if int(nk) < 3:
        raise ConfigError(f"rcs: nk must be >= 3, got {nk}.")
    nk = int(nk)
    xu = np.unique(xx)
    if xu.size - 2 <= nk:
        warnings.warn(f"rcs: {nk} knots requested with {xu.size} distinct values; knots set "
                      f"to the {xu.size - 2} interior values.", StatisticalWarning,
                      stacklevel=3)
        return _distinct_knots(xu[1:-1])
    outer = 0.025 if nk > 6 else (0.05 if nk > 3 else 0.1)
    xx, first, last = _tied_ends(xx, fractied)
    nke = nk - len(first) - len(last)
    if nke == 1:
        knots = np.array([np.median(xx)])
    elif xu.size <= nke:
        knots = xu
    else:
        p = np.linspace(0.5 if nke == 2 else outer, 1 - outer, nke)
        knots = np.quantile(xx, p)
        if xx.size < 100:
            srt = np.sort(xx)
            if not first:
                knots[0] = srt[4]
            if not last:
                knots[-1] = srt[-5]
    return _distinct_knots(np.concatenate([first, knots, last]))


def _tied_ends(xx: np.ndarray, fractied: float) -> tuple[np.ndarray, list, list]:
    """rms's ``fractied`` rule: an end value holding >= ``fractied`` of the data moves the
    end knot to the next distinct value; the other knots are placed on the rest."""
    first: list = []
    last: list = []
    if not 0 < fractied < 1:
        return xx, first, last
    freq = np.unique(xx, return_counts=True)[1] / xx.size
    if freq[1:-1].max() >= fractied:
        return xx, first, last
    if freq[0] >= fractied:
        first = [xx[xx > xx.min()].min()]
        xx = xx[xx > first[0]]
    if freq[-1] >= fractied:
        last = [xx[xx < xx.max()].max()]
        xx = xx[xx < last[0]]
    return xx, first, last


def _distinct_knots(knots: Any) -> np.ndarray:
    k = np.unique(np.asarray(knots, dtype=float))
    if k.size < 3:
        raise SchemaError(f"rcs: fewer than 3 distinct knots ({k.tolist()}); the variable has "
                          "too few distinct values for a spline: use it as linear or C().")
    return k


def rcs_basis(x: Any, knots: Sequence[float]) -> np.ndarray:
    """The rms basis of a restricted cubic spline: ``x`` and ``nk - 2`` cubic terms.

    ``Hmisc::rcspline.eval(x, knots, inclx = TRUE, norm = 2)``: term ``j`` is
    ``(x - t_j)_+^3 - (x - t_{k-1})_+^3 (t_k - t_j) / (t_k - t_{k-1}) + (x - t_k)_+^3
    (t_{k-1} - t_j) / (t_k - t_{k-1})``, all divided by ``(t_k - t_1)^2``. NaN stays NaN.

    Examples
    --------
    >>> rcs_basis([0.0, 5.0, 10.0], [0.0, 5.0, 10.0]).round(4).tolist()
    [[0.0, 0.0], [5.0, 1.25], [10.0, 7.5]]
    """
    x = np.asarray(x, dtype=float).ravel()
    t = np.asarray(knots, dtype=float)
    k = t.size
    kd = (t[-1] - t[0]) ** (2.0 / 3.0)
    out = np.empty((x.size, k - 1))
    out[:, 0] = x
    with np.errstate(invalid="ignore"):
        for j in range(k - 2):
            out[:, j + 1] = (np.maximum((x - t[j]) / kd, 0) ** 3
                             + ((t[-2] - t[j]) * np.maximum((x - t[-1]) / kd, 0) ** 3
                                - (t[-1] - t[j]) * np.maximum((x - t[-2]) / kd, 0) ** 3)
                             / (t[-1] - t[-2]))
    out[np.isnan(x)] = np.nan
    return out


def _rcs(x: Any, nk: Any = 5, knots: Any = None, _state: dict | None = None) -> Any:
    """``rcs(x, nk)`` / ``rcs(x, [knots])`` inside a formula (stateful: knots kept)."""
    from formulaic.materializers.types import FactorValues

    state = {} if _state is None else _state
    if "knots" not in state:
        if knots is None and isinstance(nk, Sequence | np.ndarray) and not isinstance(nk, str):
            knots, nk = nk, None
        state["knots"] = (_distinct_knots(knots) if knots is not None
                          else rcs_knots(x, int(nk))).tolist()
    basis = rcs_basis(x, state["knots"])
    return FactorValues({i + 1: basis[:, i] for i in range(basis.shape[1])},
                        kind="numerical", spans_intercept=False, drop_field=None,
                        format="{name}[{field}]", encoded=False)


def _cr(x: Any, df: int | None = None, knots: Any = None, lower_bound: float | None = None,
        upper_bound: float | None = None, constraints: Any = "center",
        extrapolation: str = "extend", _state: dict | None = None) -> Any:
    """formulaic's natural cubic regression spline, centred by default (see module doc)."""
    from formulaic.transforms.cubic_spline import cubic_spline

    return cubic_spline(x, df=df, knots=knots, lower_bound=lower_bound,
                        upper_bound=upper_bound, constraints=constraints, cyclic=False,
                        extrapolation=extrapolation, _state={} if _state is None else _state)


@functools.cache
def _context() -> dict[str, Any]:
    from formulaic.utils.stateful_transforms import stateful_transform

    return {"rcs": stateful_transform(_rcs), "cr": stateful_transform(_cr)}


def rcs(x: Any, nk: int = 5, knots: Sequence[float] | None = None) -> np.ndarray:
    """Restricted cubic spline basis of ``x`` (knots from ``x`` unless given).

    The function ``rcs`` of survrad formulas, for use outside a formula. See
    :func:`rcs_knots` and :func:`rcs_basis`.

    Examples
    --------
    >>> rcs(np.arange(1.0, 201.0), 3).shape
    (200, 2)
    """
    k = _distinct_knots(knots) if knots is not None else rcs_knots(x, nk)
    return rcs_basis(x, k)


# ===================================================================== formula parsing
@dataclasses.dataclass(frozen=True)
class _Factor:
    expr: str
    variables: tuple[str, ...]
    categorical_call: bool      # C(...)


def _factor_variables(expr: str, lookup: bool) -> tuple[list[str], bool]:
    """The names in one factor expression that are not functions, and whether it is C()."""
    if lookup:
        return [expr], False
    from formulaic.transforms import TRANSFORMS
    from formulaic.utils.code import sanitize_variable_names

    aliases: dict[str, str] = {}
    code = sanitize_variable_names(expr, {}, aliases)
    tree = ast.parse(code, mode="eval")
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.append(aliases.get(node.id, node.id))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "Q" and node.args
              and isinstance(node.args[0], ast.Constant)):
            names.append(str(node.args[0].value))
    known = set(TRANSFORMS) | set(_context()) | {"np", "numpy", "Q"} | set(dir(builtins))
    func_names = {n.func.id for n in ast.walk(tree)
                  if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    body = tree.body
    is_c = (isinstance(body, ast.Call) and isinstance(body.func, ast.Name)
            and body.func.id == "C")
    data = [n for n in dict.fromkeys(names) if n not in func_names and n not in known]
    return data, is_c


def _parse(formula: str) -> tuple[Any, list[list[_Factor]]]:
    from formulaic import Formula

    if not isinstance(formula, str) or not formula.strip():
        raise ConfigError(f"formula must be a non-empty string, got {formula!r}.",
                          key="formula")
    if "~" in formula:
        raise ConfigError(
            f"formula {formula!r} has a left-hand side; give only the predictors (the "
            "outcome is the endpoint), e.g. 'age + log(bili) + C(ecog)'.", key="formula")
    try:
        parsed = Formula(formula)
    except Exception as exc:  # formulaic raises several parser exception types
        raise ConfigError(f"cannot parse formula {formula!r}: {exc}", key="formula") from exc
    terms = []
    for term in parsed:
        factors = []
        for f in term.factors:
            if f.eval_method.name == "LITERAL":
                continue
            data, is_c = _factor_variables(f.expr, f.eval_method.name == "LOOKUP")
            factors.append(_Factor(f.expr, tuple(data), is_c))
        terms.append(factors)
    return parsed, terms


# ======================================================================= the transform
_NUMERIC_LOOKING = 0.9   # share of parseable cells above which a text column is a typo


class PatientFormula(CachedParamNames, BaseEstimator):
    """A formula fitted on training patients and applied to any patients.

    Parameters
    ----------
    formula : str
        Right-hand side only, e.g. ``"age + log(bili) + C(ecog) + rcs(albumin, 4)"``.

    Attributes
    ----------
    variables_ : list of str
        The patient columns the formula reads.
    numeric_variables_, categorical_variables_ : list of str
        Numeric raw variables (imputable) and categorical ones (text columns and
        variables inside ``C()``; never imputed).
    spec_ : formulaic.ModelSpec
        The fitted transform (knots, levels, constraints).
    feature_names_out_ : list of str
        Readable model-column names: ``age``; ``log(bili)``; ``ecog=1`` for category
        ``1`` of ``C(ecog)`` against the first level; ``albumin``, ``albumin'``,
        ``albumin''`` for ``rcs(albumin, 4)`` (rms's names); ``cr(albumin)[1]``, ... for
        other multi-column transforms; interactions joined by ``:``.
    term_columns_ : dict of str to list of str
        Model columns of each formula term (for chunk tests).
    variable_columns_ : dict of str to list of str
        Model columns depending on each variable (interactions included).
    levels_ : dict of str to list
        Training levels of each categorical variable.
    reference_ : dict of str to object
        Typical value of each variable in training (median; most frequent level), the
        value other variables are held at in :func:`survrad.models.partial_effect`.
    range_ : dict of str to tuple of float
        2.5% and 97.5% training quantiles of each numeric variable.

    Examples
    --------
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"age": rng.normal(60, 10, 50), "ecog": rng.integers(0, 3, 50)})
    >>> f = PatientFormula("rcs(age, 3) + C(ecog)").fit(df)
    >>> f.feature_names_out_
    ['age', "age'", 'ecog=1', 'ecog=2']
    """

    def __init__(self, formula: str = "") -> None:
        self.formula = formula

    # ------------------------------------------------------------------ variables
    def cohort_variables(self, cohort: Any) -> tuple[list[str], list[str]]:
        """:meth:`variables` of ``cohort.patients``; an outcome column is an error.

        Raises
        ------
        SchemaError
            As :meth:`variables`, and for a variable that is an outcome column of one
            of the cohort's endpoints (the outcome cannot predict itself).
        """
        numeric, categorical = self.variables(cohort.patients)
        outcome = {c: name for name, ep in cohort.endpoints.items() for c in ep.columns}
        for v in [*numeric, *categorical]:
            if v in outcome:
                raise SchemaError(f"formula {self.formula!r} uses {v!r}, an outcome column of "
                                  f"endpoint {outcome[v]!r}; it cannot be a predictor.",
                                  file="patients", column=v)
        return numeric, categorical

    def variables(self, patients: pd.DataFrame) -> tuple[list[str], list[str]]:
        """(numeric, categorical) patient columns the formula reads, checked to exist.

        Raises
        ------
        SchemaError
            A name that is neither a column nor a known function, with close matches; a
            text column that is mostly numbers (a typo such as ``"<0.5"``).
        ConfigError
            A left-hand side, or a formula that does not parse.
        """
        _, terms = _parse(self.formula)
        cols = [str(c) for c in patients.columns]
        numeric: dict[str, None] = {}
        categorical: dict[str, None] = {}
        for factors in terms:
            for f in factors:
                for v in f.variables:
                    if v not in patients.columns:
                        hint = close_matches(v, cols)
                        did = f" Close matches: {hint}." if hint else ""
                        raise SchemaError(f"formula {self.formula!r} names {v!r}, which is not "
                                          f"a patient column.{did}", file="patients", column=v)
                    if f.categorical_call or not _is_numeric(patients[v]):
                        categorical[v] = None
                    else:
                        numeric[v] = None
        for v in categorical:
            _check_not_numeric_typo(patients[v], v)
        return [v for v in numeric if v not in categorical], list(categorical)

    # ------------------------------------------------------------------------ fit
    def fit(self, data: pd.DataFrame, y: Any = None) -> PatientFormula:
        """Learn knots, levels and constraints from the training patients ``data``."""
        from formulaic import model_matrix

        numeric, categorical = self.variables(data)
        self.numeric_variables_, self.categorical_variables_ = numeric, categorical
        self.variables_ = [*numeric, *categorical]
        frame = self._frame(data)
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", FutureWarning)   # non-finite cells: checked below
            try:
                mm = model_matrix(self.formula, frame, na_action="ignore", context=_context(),
                                  output="pandas")
            except SchemaError:
                raise
            except Exception as exc:  # formulaic wraps evaluation errors in its own types
                raise SchemaError(f"formula {self.formula!r} cannot be evaluated on the "
                                  f"training patients: {exc}", file="patients") from exc
        spec = mm.model_spec
        if "Intercept" not in mm.columns:
            raise ConfigError(
                f"formula {self.formula!r} removes the intercept ('0 +' or '- 1'); keep it: "
                "survrad drops it itself (the Cox baseline hazard plays its role) and "
                "formulaic needs it to code categories against a reference level.",
                key="formula")
        self.spec_ = spec
        self._set_names(spec, list(mm.columns))
        self.levels_ = {v: sorted(pd.unique(frame[v]).tolist(), key=_level_key)
                        for v in categorical}
        self.reference_ = {v: float(np.median(frame[v])) for v in numeric}
        self.reference_.update({v: frame[v].value_counts(sort=True).index[0]
                                for v in categorical})
        self.range_ = {v: tuple(np.quantile(frame[v], [0.025, 0.975]).tolist())
                       for v in numeric}
        self._check_finite(self._drop_intercept(mm), frame)
        return self

    def transform(self, data: pd.DataFrame) -> pd.DataFrame:
        """Model columns for any patients (index kept), with the training transform."""
        self._check_fitted()
        missing = [v for v in self.variables_ if v not in data.columns]
        if missing:
            raise SchemaError(f"formula variables not found: {missing}.", file="patients",
                              column=missing[0])
        frame = self._frame(data)
        self._check_levels(frame)
        from formulaic.errors import DataMismatchWarning

        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("error", DataMismatchWarning)
            try:
                mm = self.spec_.get_model_matrix(frame, context=_context())
            except DataMismatchWarning as w:   # a level outside C(..., levels=...)
                raise SchemaError(f"formula {self.formula!r}: {w}", file="patients") from w
        out = self._drop_intercept(mm)
        self._check_finite(out, frame)
        return out

    def fit_transform(self, data: pd.DataFrame, y: Any = None) -> pd.DataFrame:
        """:meth:`fit` then :meth:`transform`."""
        return self.fit(data).transform(data)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Readable names of the model columns."""
        self._check_fitted()
        return np.asarray(self.feature_names_out_, dtype=object)

    # -------------------------------------------------------------------- helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "spec_"):
            raise NotFittedError("PatientFormula is not fitted; call fit(patients) first.")

    def _frame(self, data: pd.DataFrame) -> pd.DataFrame:
        """The formula's variables of ``data``, checked complete."""
        names = self.variables_ if hasattr(self, "variables_") else list(data.columns)
        frame = data[names].copy()
        for v in names:
            nan = frame[v].isna().to_numpy()
            if nan.any():
                kind = ("categorical" if v in getattr(self, "categorical_variables_", ())
                        else "numeric")
                advice = ("code the missing values as a level of their own, or read with "
                          "missing='complete_case'" if kind == "categorical" else
                          "put an Imputer first in CohortPipeline(features=[...]) (it fills "
                          "the formula's numeric variables before the formula), or read with "
                          "missing='complete_case'")
                raise SchemaError(f"formula variable ({kind}) has missing values; {advice}.",
                                  file="patients", column=v, ids=list(frame.index[nan]))
        return frame

    def _check_levels(self, frame: pd.DataFrame) -> None:
        for v, levels in self.levels_.items():
            known = set(levels)
            new = ~frame[v].isin(known).to_numpy()
            if new.any():
                raise SchemaError(
                    f"category level(s) {format_values(pd.unique(frame[v][new]).tolist())} of "
                    f"{v!r} were not seen in the training patients (levels: {levels}); the "
                    "model has no coefficient for them. Merge rare levels before fitting.",
                    file="patients", column=v, ids=list(frame.index[new]),
                    values=list(frame[v][new]))

    def _drop_intercept(self, mm: pd.DataFrame) -> pd.DataFrame:
        out = mm.drop(columns=["Intercept"]).astype(float)
        out.columns = self.feature_names_out_
        return out

    def _check_finite(self, out: pd.DataFrame, frame: pd.DataFrame) -> None:
        values = out.to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            j = int(np.flatnonzero(bad.any(axis=0))[0])
            rows = bad[:, j]
            raise SchemaError(
                f"formula column {out.columns[j]!r} is not finite for some patients (e.g. "
                "the log of 0 or of a negative number); transform the variable differently "
                "(log(x + 1), or check the values).", file="patients",
                column=out.columns[j], ids=list(frame.index[rows]))

    def _set_names(self, spec: Any, columns: list[str]) -> None:
        raw = [c for c in columns if c != "Intercept"]
        readable = {}
        self.term_columns_ = {}
        self.variable_columns_ = {v: [] for v in self.variables_}
        for term, struct in zip(spec.terms, spec.structure, strict=True):
            factors = [f for f in term.factors if f.eval_method.name != "LITERAL"]
            if not factors:
                continue
            names = _readable(struct.columns, [f.expr for f in factors],
                              [f.eval_method.name == "LOOKUP" for f in factors])
            readable.update(zip(struct.columns, names, strict=True))
            self.term_columns_[str(term)] = names
            for f in factors:
                data, _ = _factor_variables(f.expr, f.eval_method.name == "LOOKUP")
                for v in data:
                    if v in self.variable_columns_:
                        self.variable_columns_[v] += [n for n in names
                                                      if n not in self.variable_columns_[v]]
        names = [readable.get(c, c) for c in raw]
        if len(set(names)) < len(names):      # readable names clash: keep formulaic's
            names = raw
            self.term_columns_ = {t: [c for c in struct.columns if c != "Intercept"]
                                  for t, struct in zip(map(str, spec.terms), spec.structure,
                                                       strict=True) if t != "1"}
        self.feature_names_out_ = names
        self.formula_columns_ = raw


def _is_numeric(s: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s))


def _check_not_numeric_typo(s: pd.Series, v: str) -> None:
    if _is_numeric(s) or isinstance(s.dtype, pd.CategoricalDtype):
        return
    present = s.dropna()
    if present.empty:
        return
    num = pd.to_numeric(present, errors="coerce")
    share = float(num.notna().mean())
    if share >= _NUMERIC_LOOKING and share < 1.0:
        bad = present[num.isna()]
        raise SchemaError(
            f"column is used as a category but {share:.0%} of its values are numbers: the "
            f"others {format_values(pd.unique(bad.astype(str)).tolist())} look like typos "
            "(a qualifier such as '<0.5', a decimal comma). Clean them; for a numeric "
            "category use C(...) on the cleaned column.", file="patients", column=v,
            ids=list(bad.index), values=list(bad))


def _level_key(v: Any) -> tuple[int, Any]:
    return (0, float(v)) if isinstance(v, int | float | np.number) else (1, str(v))


_LEVEL = re.compile(r"^(?P<head>.*)\[(T\.)?(?P<level>.*)\]$")


def _readable(columns: Sequence[str], exprs: Sequence[str],
              lookups: Sequence[bool]) -> list[str]:
    """Readable names of one term's columns (see PatientFormula.feature_names_out_)."""
    if len(exprs) > 1:       # interaction: name each factor's part, join with ':'
        parts = [c.split(":") for c in columns]
        if all(len(p) == len(exprs) for p in parts):
            return [":".join(_readable([q], [e], [lk])[0]
                             for q, e, lk in zip(p, exprs, lookups, strict=True))
                    for p in parts]
        return list(columns)
    expr, lookup = exprs[0], lookups[0]
    if lookup:
        var = expr
    else:
        data, is_c = _factor_variables(expr, False)
        var = data[0] if len(data) == 1 else None
        func = expr.split("(", 1)[0].strip()
        if var is not None and func == "rcs":
            return [var + "'" * i for i in range(len(columns))]
        if var is not None and not is_c and len(columns) > 1 and "[" in columns[0]:
            return [f"{func}({var})[{c.rsplit('[', 1)[1]}" for c in columns]
        if not is_c:
            return list(columns)
    out = []
    for c in columns:
        m = _LEVEL.match(c)
        out.append(f"{var}={m.group('level')}" if m and var is not None else c)
    return out


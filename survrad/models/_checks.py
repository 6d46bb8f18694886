"""Design-matrix checks shared by every model (layer 4, private).

Every model validates its feature table here BEFORE any library sees it
(docs/reliability.md #17-#21, #24): non-numeric columns, NaN and ±inf cells are
:class:`~survrad.exceptions.SchemaError` naming the columns and the row ids
(``X.index``); constant columns are a :class:`~survrad.exceptions.FitError` (or a
:class:`~survrad.exceptions.StatisticalWarning` for models that tolerate them, such as
forests); a float32 cast that merges distinct values (scikit-learn trees) and a
rank-deficient design are :class:`~survrad.exceptions.FitError` naming the columns.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import close_matches
from survrad.exceptions import FitError, SchemaError, StatisticalWarning, format_values

__all__ = [
    "as_frame",
    "check_design",
    "check_float32_cast",
    "check_predict_design",
    "check_rank",
    "check_values",
    "constant_columns",
    "float32_collapsed_columns",
]

_NUMERIC_KINDS = "biuf"


def as_frame(X: Any) -> pd.DataFrame:
    """Return ``X`` as a DataFrame; a 2-d array gets columns ``x0, x1, ...``.

    Examples
    --------
    >>> as_frame(np.zeros((2, 2))).columns.tolist()
    ['x0', 'x1']
    """
    if isinstance(X, pd.DataFrame):
        return X
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise SchemaError(
            f"features must be a 2-d table (samples x features), got an array of shape "
            f"{arr.shape}. Pass a DataFrame indexed by patient_id."
        )
    return pd.DataFrame(arr, columns=[f"x{j}" for j in range(arr.shape[1])])


def _row_ids(frame: pd.DataFrame, mask: np.ndarray) -> list:
    return list(frame.index[np.asarray(mask, dtype=bool)])


def _check_shape(frame: pd.DataFrame, model_name: str) -> None:
    if frame.shape[0] == 0:
        raise SchemaError(f"{model_name}: the feature table has zero rows.")
    if frame.shape[1] == 0:
        raise SchemaError(
            f"{model_name}: the feature table has no columns; select at least one feature."
        )
    dup = frame.columns[frame.columns.duplicated()]
    if len(dup):
        raise SchemaError(
            f"{model_name}: duplicate feature names {format_values(list(dict.fromkeys(dup)))}; "
            "rename them so every feature is unique."
        )


def _bad_cells(col: pd.Series) -> np.ndarray:
    """Cells of an object column that are neither numbers nor missing."""

    def bad(v: Any) -> bool:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return False
        return not isinstance(v, bool | int | float | np.number)

    return col.map(bad).to_numpy(dtype=bool)


def _check_numeric(frame: pd.DataFrame, model_name: str) -> None:
    for name, dtype in zip(frame.columns, frame.dtypes, strict=True):
        if dtype.kind in _NUMERIC_KINDS or pd.api.types.is_bool_dtype(dtype):
            continue  # decided from the dtype alone: no column is materialised
        col = frame[name]
        kind = dtype.kind
        if kind == "O" and not isinstance(col.dtype, pd.CategoricalDtype):
            bad = _bad_cells(col)
            if not bad.any():
                continue
        else:
            bad = np.ones(len(col), dtype=bool)
        values = [str(v) for v in col[bad].unique()[:10]]
        raise SchemaError(
            f"{model_name}: feature is not numeric (dtype {col.dtype}); sample values "
            f"{format_values(values)}, ids: {format_values(_row_ids(frame, bad))}. Convert it "
            "to numbers (e.g. clean cells such as '<0.5') or encode it explicitly before "
            "modelling; survrad never encodes silently.",
            column=str(name), ids=_row_ids(frame, bad), values=values,
        )


def _float_values(frame: pd.DataFrame, model_name: str) -> np.ndarray:
    """The cells of ``frame`` as a new float64 array: non-numeric columns (#17), NaN (#18)
    and ±inf (#19) are :class:`SchemaError` naming the columns and ids.

    The usual case (every column float64, every cell finite) is settled in one pass;
    otherwise the column-by-column checks find what is wrong.
    """
    if all(dtype == np.float64 for dtype in frame.dtypes):
        A = np.array(frame.to_numpy(dtype=np.float64), order="F")
        if np.isfinite(A).all():
            return A
    _check_numeric(frame, model_name)
    A = _to_float(frame)
    _check_finite(A, frame, model_name)
    return A


def _to_float(frame: pd.DataFrame) -> np.ndarray:
    """A new column-major float64 array of ``frame``.

    One memory layout whatever the frame's blocks, so that the same values give the same
    sums to the last bit downstream; column-major because the checks and standardisation
    reduce over rows (about three times faster than on a row-major array).
    """
    return np.array(frame.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan),
                    order="F")


def _check_cells(A: np.ndarray, frame: pd.DataFrame, model_name: str, *,
                 mask: np.ndarray, what: str, advice: str) -> None:
    cols = np.flatnonzero(mask.any(axis=0))
    if cols.size == 0:
        return
    names = [str(frame.columns[j]) for j in cols]
    parts = [f"column {n!r} ids: {format_values(_row_ids(frame, mask[:, j]))}"
             for n, j in zip(names, cols, strict=True)]
    rows = mask.any(axis=1)
    raise SchemaError(
        f"{model_name}: features contain {what} in {len(names)} column(s): "
        + "; ".join(parts) + f". {advice}",
        column=names[0] if len(names) == 1 else None,
        ids=_row_ids(frame, rows),
    )


def _check_finite(A: np.ndarray, frame: pd.DataFrame, model_name: str) -> None:
    _check_cells(
        A, frame, model_name, mask=np.isnan(A), what="NaN (missing values)",
        advice="Impute them explicitly (a feature step, counted in the report) or exclude "
        "these patients; survrad never fills or drops them silently.",
    )
    _check_cells(
        A, frame, model_name, mask=np.isinf(A), what="infinite values",
        advice="Infinite values usually come from a log of 0 or a division by 0 upstream; "
        "fix the feature computation.",
    )


def constant_columns(A: np.ndarray, columns: Sequence[Any], *, rtol: float = 1e-12) -> list[str]:
    """Names of columns whose values are all equal (up to ``rtol`` of their magnitude).

    Examples
    --------
    >>> constant_columns(np.array([[1.0, 2.0], [1.0, 3.0]]), ["a", "b"])
    ['a']
    """
    if A.shape[0] == 0:
        return []
    lo, hi = A.min(axis=0), A.max(axis=0)
    mag = np.maximum(np.abs(lo), np.abs(hi))        # = max |A| of each column
    const = hi - lo <= rtol * np.maximum(mag, np.finfo(float).tiny)
    return [str(columns[j]) for j in np.flatnonzero(const)]


def _robust_scale(x: np.ndarray) -> float:
    """Interquartile range of ``x``, or its standard deviation when the IQR is 0."""
    q25, q75 = np.percentile(x, [25, 75])
    return float(q75 - q25) if q75 > q25 else float(np.std(x))


def float32_collapsed_columns(
    A: np.ndarray,
    columns: Sequence[Any],
    *,
    rtol: float = 1e-6,
    round_off: float = 1e-12,
) -> list[tuple[str, int, int]]:
    """Columns whose float32 cast merges distinct values.

    scikit-learn's trees cast ``X`` to float32 (24-bit mantissa): ``1e9 + N(0, 1)``
    collapses into a handful of values. A column is reported when the cast overflows,
    or when it merges ANY two values that are distinct. Two float64 values ``a < b``
    count as distinct when ``b - a`` exceeds both

    * float64 round-off of their magnitude, ``round_off * max(|a|, |b|)`` (so ``0.3``
      and ``0.1 + 0.2``, one float64 ulp apart, are the same number; the rule of
      :func:`constant_columns`), and
    * ``rtol`` times the spread of the column (its interquartile range, or its standard
      deviation when the IQR is 0), the resolution below which a tree cannot tell two
      values apart anyway. Without it, ordinary standardised data would be refused at
      random: 10,000 draws of N(0, 1) hold two values that merge in float32 (closer than
      about 6e-8 relative) with probability 0.4 (measured). The IQR, unlike the standard
      deviation, is not inflated by one outlier that would hide a collapsed cluster.

    The test is applied to each group of float64 values that become one float32 value,
    from its smallest to its largest member.

    Returns
    -------
    list of (name, n_distinct_float64, n_distinct_float32)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> A = np.column_stack([1e9 + rng.normal(size=100), rng.normal(size=100)])
    >>> [c[0] for c in float32_collapsed_columns(A, ["big", "ok"])]
    ['big']
    """
    out = []
    for j in range(A.shape[1]):
        x = A[:, j]
        u = np.unique(x)
        if u.size < 2:
            continue
        with np.errstate(over="ignore"):
            u32 = u.astype(np.float32)
        n32 = int(np.unique(u32).size)
        if not np.all(np.isfinite(u32)):
            out.append((str(columns[j]), int(u.size), n32))
            continue
        if n32 == u.size:
            continue
        # the cast is monotone: values merging into one float32 value are adjacent in u
        first = np.flatnonzero(np.r_[True, u32[1:] != u32[:-1]])
        last = np.r_[first[1:], u.size] - 1
        span = u[last] - u[first]
        magnitude = np.maximum(np.abs(u[first]), np.abs(u[last]))
        tol = np.maximum(round_off * magnitude, rtol * _robust_scale(x))
        if np.any(span > tol):
            out.append((str(columns[j]), int(u.size), n32))
    return out


def check_float32_cast(A: np.ndarray, columns: Sequence[Any], *, model_name: str,
                       hint: str = "") -> None:
    """Raise :class:`FitError` when a float32 cast would merge distinct values (#24).

    Parameters
    ----------
    A : ndarray of float64
        The design exactly as it will be handed to the float32 library.
    columns : sequence
        Column names, for the message.
    model_name : str
        Used in the message.
    hint : str, optional
        Extra advice appended to the message (e.g. ``"or set standardize=True"``).
    """
    bad = float32_collapsed_columns(A, columns)
    if not bad:
        return
    parts = [f"{name!r} ({n64} distinct values -> {n32})" for name, n64, n32 in bad]
    raise FitError(
        f"{model_name}: scikit-learn trees cast features to float32, which would merge "
        f"distinct values of {len(bad)} column(s): " + ", ".join(parts)
        + ". Centre and scale these columns first (e.g. subtract the median, divide by "
        f"the IQR) or take a log{hint}.",
        columns=[b[0] for b in bad],
    )


def check_values(X: Any, *, model_name: str) -> np.ndarray:
    """Validate the cells of a feature table and return it as a float64 array.

    The first part of :func:`check_design`: shape and duplicate names; non-numeric
    columns (#17); NaN (#18); ±inf (#19). Constant columns are NOT checked, so a caller
    that drops them on request can find them with :func:`constant_columns`.

    Parameters
    ----------
    X : DataFrame or 2-d array
        Features; the DataFrame index holds the ids used in messages.
    model_name : str
        Used in every message.

    Returns
    -------
    numpy.ndarray of float64, shape (n_samples, n_features)

    Examples
    --------
    >>> check_values(pd.DataFrame({"k": [1.0, 1.0]}), model_name="m").tolist()
    [[1.0], [1.0]]
    """
    frame = as_frame(X)
    _check_shape(frame, model_name)
    return _float_values(frame, model_name)


def check_design(
    X: Any,
    *,
    model_name: str,
    allow_constant: bool = False,
    float32: bool = False,
    constant_hint: str = "",
) -> np.ndarray:
    """Validate a feature table for fitting and return it as a float64 array.

    Checks, in order: shape and duplicate names; non-numeric columns (#17); NaN (#18);
    ±inf (#19); constant columns, including columns constant up to round-off such as
    ``0.3`` vs ``0.1 + 0.2`` (#20, :func:`constant_columns`); optionally the float32
    cast (#24).

    Parameters
    ----------
    X : DataFrame or 2-d array
        Features; the DataFrame index holds the ids used in messages.
    model_name : str
        Used in every message (``"CoxModel"``, ``"SurvivalForest"``, ...).
    allow_constant : bool, default False
        ``False``: a constant column is a :class:`FitError` naming it. ``True``: a
        :class:`StatisticalWarning` naming it (forests split around it harmlessly).
    float32 : bool, default False
        Also refuse a float32 cast that merges distinct values (tree models).
    constant_hint : str, optional
        Extra advice appended to the constant-column error (e.g. an option of the model
        that drops them).

    Returns
    -------
    numpy.ndarray of float64, shape (n_samples, n_features)

    Raises
    ------
    SchemaError
        Zero rows or columns, duplicate names, non-numeric, NaN or infinite cells,
        naming the columns and ids.
    FitError
        Constant columns (unless ``allow_constant``) or a float32 collapse.

    Examples
    --------
    >>> X = pd.DataFrame({"age": [60.0, 70.0, 65.0]}, index=["P1", "P2", "P3"])
    >>> check_design(X, model_name="CoxModel").shape
    (3, 1)
    """
    frame = as_frame(X)
    A = check_values(frame, model_name=model_name)
    const = constant_columns(A, frame.columns)
    if const and not allow_constant:
        raise FitError(
            f"{model_name}: constant feature(s) {format_values(const)} (all values equal, "
            "up to round-off) carry no information and make the model unidentifiable; "
            f"drop them (e.g. a variance filter step){constant_hint}.",
            columns=const,
        )
    if const:
        warnings.warn(
            f"{model_name}: constant feature(s) {format_values(const)} carry no information; "
            "they are kept but never used for a split.",
            StatisticalWarning, stacklevel=3,
        )
    if float32:
        check_float32_cast(A, frame.columns, model_name=model_name)
    return A


def check_predict_design(X: Any, feature_names: Sequence[str], *, model_name: str) -> np.ndarray:
    """Validate features at prediction time against the names seen in ``fit``.

    Columns are matched by name (reordered if needed); missing or unexpected columns,
    non-numeric, NaN and infinite cells are :class:`SchemaError`. Constant columns are
    fine here (a single patient is constant).

    Returns
    -------
    numpy.ndarray of float64 in the training column order.

    Examples
    --------
    >>> X = pd.DataFrame({"b": [1.0], "a": [2.0]})
    >>> check_predict_design(X, ["a", "b"], model_name="m").tolist()
    [[2.0, 1.0]]
    """
    frame = as_frame(X)
    _check_shape(frame, model_name)
    names = [str(c) for c in frame.columns]
    known, present = set(feature_names), set(names)
    missing = [c for c in feature_names if c not in present]
    extra = [c for c in names if c not in known]
    if missing or extra:
        hints = {m: close_matches(m, extra) for m in missing}
        hint = "; ".join(f"{m!r} looks like {h[0]!r}" for m, h in hints.items() if h)
        raise SchemaError(
            f"{model_name}: the features differ from those seen in fit. Missing: "
            f"{format_values(missing) if missing else 'none'}; unexpected: "
            f"{format_values(extra) if extra else 'none'}."
            + (f" ({hint}.)" if hint else "")
            + " Pass the same feature table layout as in fit."
        )
    if names != list(feature_names):   # reorder (and rename to str) only when needed
        frame = frame.set_axis(names, axis=1)[list(feature_names)]
    return _float_values(frame, model_name)


def _centre_within(A: np.ndarray, strata: np.ndarray) -> np.ndarray:
    out = A - 0.0
    for code in np.unique(strata):
        rows = strata == code
        out[rows] -= out[rows].mean(axis=0)
    return out


def _clearly_full_rank(Z: np.ndarray, rtol: float) -> bool:
    """A cheap sufficient test that ``Z`` passes the singular-value test of :func:`check_rank`.

    The eigenvalues of ``Z'Z`` are the squared singular values of ``Z``, computed with an
    absolute error of about ``eps * s_max**2``: when the smallest exceeds ``1e-10 s_max**2``
    (a singular-value ratio above 1e-5, far above ``rtol``) the design is full rank.
    Otherwise nothing is concluded and the SVD decides.
    """
    if rtol > 1e-6:
        return False
    lam = np.linalg.eigvalsh(Z.T @ Z)
    return bool(lam[-1] > 0 and lam[0] > 1e-10 * lam[-1])


def check_rank(A: np.ndarray, columns: Sequence[Any], *, model_name: str,
               intercept: bool = False, strata: np.ndarray | None = None,
               rtol: float = 1e-10, standardised: bool = False) -> None:
    """Raise :class:`FitError` naming a linearly dependent set of columns (#21).

    The columns are standardised first (so scale does not matter); with
    ``intercept=True`` a column of ones is part of the design, so a set of columns
    summing to a constant (dummy trap) is found too. With ``strata`` (one code per row;
    a stratified Cox model, whose baseline hazard absorbs every stratum mean) the columns
    are centred within each stratum, so a feature constant within strata is found too.
    ``standardised=True`` says the columns already have mean 0 and standard deviation 1
    (the caller standardised them), which saves doing it again.

    Examples
    --------
    >>> A = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 1.0], [3.0, 6.0, 2.0]])
    >>> try:
    ...     check_rank(A, ["a", "b", "c"], model_name="m")
    ... except FitError as e:
    ...     e.columns
    ['a', 'b']
    """
    n, p = A.shape
    if standardised:      # the caller's columns have mean 0 and standard deviation 1
        sd = 1.0
    else:
        sd = A.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
    if strata is not None:
        Z = _centre_within(A, np.asarray(strata)) / sd
    elif intercept:
        Z = np.column_stack([np.ones(n), A if standardised else (A - A.mean(axis=0)) / sd])
    else:
        norm = np.linalg.norm(A, axis=0)
        Z = A / np.where(norm > 0, norm, 1.0)
    if n < Z.shape[1]:
        raise FitError(
            f"{model_name}: {p} features for {n} samples: the unpenalised model is not "
            "identifiable. Use a penalty or a feature selection step.",
            columns=[str(c) for c in columns],
        )
    if _clearly_full_rank(Z, rtol):
        return
    s = np.linalg.svd(Z, compute_uv=False)      # the singular values suffice to pass
    if s[-1] > rtol * s[0]:
        return
    _, s, vt = np.linalg.svd(Z, full_matrices=False)   # deficient: name the dependent set
    v = vt[-1, 1:] if intercept and strata is None else vt[-1]
    dep = [str(columns[j]) for j in np.flatnonzero(np.abs(v) > 1e-6 * np.abs(v).max())]
    raise FitError(
        f"{model_name}: the design is rank-deficient"
        + (" (after removing stratum means)" if strata is not None else "")
        + f"; columns {format_values(dep)} are linearly dependent"
        + (" (with the intercept or baseline hazard: e.g. dummies summing to 1)"
           if intercept and strata is None else "")
        + ". Drop one of them, or use a penalty.",
        columns=dep,
    )

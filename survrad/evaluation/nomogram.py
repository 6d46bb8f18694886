"""Nomogram scales of a Cox or logistic model, as ``rms::nomogram`` computes them (layer 5).

Each term ``j`` of the linear predictor contributes ``c_j(x) = sum_k beta_k x_k`` over its
columns (one column for a linear term; the dummy columns of a categorical term). Over
the range of the term (``limits``, by default the values seen in ``X_reference``) the
contribution spans ``[min_j, max_j]``; the term with the widest span gets ``max_points``
(100) points and every term is drawn on the same scale:

* ``points_j(x) = sc * (c_j(x) - min_j)``, ``sc = max_points / max_j (max_j - min_j)``;
* total points ``T = sum_j points_j``; linear predictor ``lp(T) = lp_0 + T / sc`` with
  ``lp_0 = sum_j min_j + offset`` (``offset``: the logistic intercept, or
  ``-beta . mean(X_train)`` for :class:`~survrad.models.CoxModel`, whose linear predictor
  is centred at the training means like ``rms::cph``'s);
* Cox: predicted survival ``S(t | T) = exp(-H0(t) exp(lp(T)))`` with the model's own
  baseline cumulative hazard (``S0(t)^exp(lp)``); logistic: ``1 / (1 + exp(-lp(T)))``.

With the same axis ranges these are ``rms::nomogram``'s points, ``sc`` and ``Intercept``
(``tests/test_nomogram.py``). Supported terms: linear terms (one numeric column, drawn as
a continuous axis, or at its distinct values when it has at most ten) and categorical
terms given as groups of dummy columns (``terms={"celltype": [...]}``; the levels are the
distinct rows of those columns in ``X_reference``). Spline, interaction and stratified
terms are not supported: such a model is refused with a message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from survrad._math.ticks import nice_ticks
from survrad._validation import check_int
from survrad.exceptions import NotFittedError, SchemaError
from survrad.models.cox import CoxModel
from survrad.models.response import LogisticModel

__all__ = ["Nomogram", "NomogramAxis", "nice_ticks", "nomogram"]

_MAX_DISCRETE = 10


@dataclass(frozen=True, eq=False)
class NomogramAxis:
    """One predictor axis of a nomogram.

    Attributes
    ----------
    term : str
    columns : tuple of str
        Model columns of the term.
    kind : {"continuous", "discrete", "categorical"}
        A linear term drawn over its range, a linear term drawn at its few distinct
        values, or a group of dummy columns drawn at its levels.
    values : ndarray (n_ticks, n_columns)
        Column values at each tick (a continuous term: one column).
    labels : tuple of str
        Text of each tick.
    points : ndarray (n_ticks,)
        Points at each tick.
    coef : ndarray (n_columns,)
    low, high : float
        Smallest and largest contribution ``beta . x`` over the term's range.
    """

    term: str
    columns: tuple[str, ...]
    kind: str
    values: np.ndarray
    labels: tuple[str, ...]
    points: np.ndarray
    coef: np.ndarray
    low: float
    high: float


@dataclass(frozen=True, eq=False)
class Nomogram:
    """Points scales of a model (result of :func:`nomogram`).

    Attributes
    ----------
    axes : tuple of NomogramAxis
        One per term, in model order.
    kind : {"cox", "logistic"}
    points_per_lp : float
        ``sc``: points per unit of linear predictor.
    lp_at_zero_points : float
        Linear predictor of a patient with 0 total points (R's ``Intercept``).
    max_points : float
    max_total_points : float
        Total points when every term is at its maximum.
    horizons : ndarray
        Cox: times of the survival axes (empty for logistic).
    baseline_cumhaz : ndarray
        Cox: ``H0`` at each horizon (for the centred linear predictor).
    """

    axes: tuple[NomogramAxis, ...]
    kind: str
    points_per_lp: float
    lp_at_zero_points: float
    max_points: float
    max_total_points: float
    horizons: np.ndarray
    baseline_cumhaz: np.ndarray

    # ------------------------------------------------------------------ read back
    def total_points(self, X: pd.DataFrame) -> np.ndarray:
        """Total points of each row of ``X`` (the model's columns).

        Examples
        --------
        >>> nom = nomogram(*_fitted_logistic())     # lp = -1 + 0.2 a + b, a in [0, 10]
        >>> nom.total_points(pd.DataFrame({"a": [0.0, 10.0], "b": [0.0, 1.0]})).tolist()
        [0.0, 150.0]
        """
        X = _frame(X)
        total = np.zeros(len(X))
        for axis in self.axes:
            missing = [c for c in axis.columns if c not in X.columns]
            if missing:
                raise SchemaError(f"X lacks the columns {missing} of term {axis.term!r}.")
            contrib = X[list(axis.columns)].to_numpy(dtype=float) @ axis.coef
            total += self.points_per_lp * (contrib - axis.low)
        return total

    def linear_predictor(self, total_points: Any) -> np.ndarray:
        """Linear predictor at the given total points.

        Examples
        --------
        >>> nomogram(*_fitted_logistic()).linear_predictor([0.0, 100.0]).tolist()
        [-1.0, 1.0]
        """
        return self.lp_at_zero_points + np.asarray(total_points, dtype=float) / self.points_per_lp

    def predict(self, total_points: Any) -> np.ndarray:
        """Outcome scale at the given total points.

        Cox: survival at each horizon, shape (n, n_horizons); logistic: probability (n,).

        Examples
        --------
        >>> nomogram(*_fitted_logistic()).predict([0.0, 100.0]).round(4).tolist()
        [0.2689, 0.7311]
        """
        lp = self.linear_predictor(total_points)
        if self.kind == "logistic":
            return 1.0 / (1.0 + np.exp(-lp))
        return np.exp(-np.outer(np.exp(lp), self.baseline_cumhaz))

    def points_for(self, values: Any, horizon_index: int = 0) -> np.ndarray:
        """Total points at which the outcome scale equals ``values`` (NaN outside (0, 1)).

        Cox: survival probabilities at ``horizons[horizon_index]``; logistic: probabilities.

        Examples
        --------
        >>> nomogram(*_fitted_logistic()).points_for([0.5]).tolist()
        [50.0]
        """
        v = np.asarray(values, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "logistic":
                lp = np.log(v / (1.0 - v))
            else:
                lp = np.log(-np.log(v) / self.baseline_cumhaz[horizon_index])
        out = (lp - self.lp_at_zero_points) * self.points_per_lp
        return np.where((v > 0) & (v < 1), out, np.nan)

    def to_frame(self) -> pd.DataFrame:
        """One row per tick: ``term``, ``label``, ``points`` (a points table for print).

        Examples
        --------
        >>> nomogram(*_fitted_logistic()).to_frame()["points"].tolist()
        [0.0, 50.0, 100.0, 0.0, 50.0]
        """
        rows = [(a.term, lab, float(p)) for a in self.axes
                for lab, p in zip(a.labels, a.points, strict=True)]
        return pd.DataFrame(rows, columns=["term", "label", "points"])


# ------------------------------------------------------------------------- building
def _frame(X: Any) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"X must be a pandas DataFrame with the model's columns, got "
                        f"{type(X).__name__}.")
    return X


def _fitted_logistic() -> tuple[LogisticModel, pd.DataFrame]:
    """Doctest fixture: a LogisticModel whose coefficients are set to lp = -1 + 0.2 a + b."""
    X = pd.DataFrame({"a": [0.0, 5.0, 10.0], "b": [0.0, 1.0, 0.0]})
    model = LogisticModel()
    model.coef_, model.intercept_ = np.array([0.2, 1.0]), -1.0
    model.feature_names_in_ = np.array(["a", "b"], dtype=object)
    return model, X


def _model_parts(model: Any) -> tuple[str, np.ndarray, list[str], float]:
    """kind, coefficients, column names and lp offset of a fitted Cox/logistic model."""
    if not isinstance(model, CoxModel | LogisticModel):
        raise TypeError(f"nomogram needs a fitted CoxModel or LogisticModel, got "
                        f"{type(model).__name__}.")
    if not hasattr(model, "coef_"):
        raise NotFittedError(f"{type(model).__name__} is not fitted: fit it before drawing "
                             "its nomogram.")
    names = [str(c) for c in model.feature_names_in_]
    coef = np.asarray(model.coef_, dtype=float)
    if isinstance(model, CoxModel):
        if model.strata_levels_ is not None:
            raise ValueError("a stratified Cox model has one baseline per stratum: its "
                             "nomogram is not supported. Fit it without strata.")
        return "cox", coef, names, float(-coef @ np.asarray(model.x_mean_, dtype=float))
    return "logistic", coef, names, float(model.intercept_)


def _terms(names: list[str], terms: Mapping[str, Sequence[str]] | None
           ) -> list[tuple[str, list[str]]]:
    """(term, columns) in model order; columns of a group stay together."""
    groups = {str(t): [str(c) for c in cols] for t, cols in (terms or {}).items()}
    owner: dict[str, str] = {}
    for t, cols in groups.items():
        unknown = [c for c in cols if c not in names]
        if unknown or not cols:
            raise SchemaError(f"term {t!r} lists columns {unknown or cols} that are not model "
                              f"columns; the model has {names}.")
        for c in cols:
            if c in owner:
                raise SchemaError(f"column {c!r} belongs to terms {owner[c]!r} and {t!r}.")
            owner[c] = t
    out: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    for c in names:
        t = owner.get(c, c)
        if t not in seen:
            seen.add(t)
            out.append((t, groups.get(t, [c])))
    return out


def _format_value(v: float) -> str:
    return f"{v:g}"


def _continuous_axis(term: str, col: str, beta: float, x: np.ndarray,
                     limits: tuple[float, float] | None, n_ticks: int) -> dict[str, Any]:
    distinct = np.unique(x)
    if limits is None and distinct.size <= _MAX_DISCRETE:
        ticks, kind = distinct, "discrete"
        lo, hi = float(distinct[0]), float(distinct[-1])
    else:
        lo, hi = (float(x.min()), float(x.max())) if limits is None else map(float, limits)
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo:
            raise ValueError(f"limits of {term!r} must be finite (low, high) with low <= high, "
                             f"got {limits!r}.")
        ticks = np.unique(np.concatenate([[lo], nice_ticks(lo, hi, n_ticks), [hi]]))
        kind = "continuous"
    contrib = beta * np.array([lo, hi])
    return {"term": term, "columns": (col,), "kind": kind, "values": ticks[:, None],
            "labels": tuple(_format_value(v) for v in ticks), "coef": np.array([beta]),
            "low": float(contrib.min()), "high": float(contrib.max())}


def _level_label(row: np.ndarray, cols: list[str]) -> str:
    if np.all((row == 0) | (row == 1)) and row.sum() <= 1:
        return cols[int(np.argmax(row))] if row.sum() == 1 else "reference"
    return ", ".join(f"{c}={_format_value(v)}" for c, v in zip(cols, row, strict=True))


def _categorical_axis(term: str, cols: list[str], coef: np.ndarray,
                      X: pd.DataFrame) -> dict[str, Any]:
    levels = np.unique(X[cols].to_numpy(dtype=float), axis=0)
    contrib = levels @ coef
    return {"term": term, "columns": tuple(cols), "kind": "categorical", "values": levels,
            "labels": tuple(_level_label(r, cols) for r in levels), "coef": coef,
            "low": float(contrib.min()), "high": float(contrib.max())}


def nomogram(model: Any, X_reference: pd.DataFrame, *, horizons: Sequence[float] = (),
             limits: Mapping[str, tuple[float, float]] | None = None,
             terms: Mapping[str, Sequence[str]] | None = None, max_points: float = 100.0,
             n_ticks: int = 6) -> Nomogram:
    """Points scales of a fitted Cox or logistic model (see the module docstring).

    Parameters
    ----------
    model : CoxModel or LogisticModel
        Fitted (penalised models too: their coefficients are used as they are).
    X_reference : DataFrame
        The model's columns for the patients whose ranges define the axes (usually the
        training design, e.g. ``pipeline.transform(cohort)``).
    horizons : sequence of float
        Cox: times of the survival axes (at least one). Ignored for logistic models.
    limits : mapping term -> (low, high), optional
        Axis range of a linear term (default: its range in ``X_reference``; a column with
        at most ten distinct values is drawn at those values).
    terms : mapping name -> list of columns, optional
        Groups of dummy columns forming one categorical term.
    max_points : float, default 100
        Points of the term with the widest span.
    n_ticks : int, default 6
        Approximate number of ticks on continuous axes.

    Returns
    -------
    Nomogram

    Raises
    ------
    TypeError
        Not a CoxModel / LogisticModel; ``X_reference`` not a DataFrame.
    NotFittedError
        The model is not fitted.
    SchemaError
        Columns of the model missing from ``X_reference``; bad ``terms``.
    ValueError
        Stratified Cox model; no horizon for a Cox model; every coefficient 0.

    Examples
    --------
    >>> from survrad.data.outcome import Surv
    >>> from survrad.models import CoxModel
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"age": rng.normal(60, 10, 300), "ecog": rng.integers(0, 3, 300)})
    >>> t = rng.exponential(np.exp(-(0.03 * X["age"] + 0.5 * X["ecog"])))
    >>> model = CoxModel().fit(X, Surv.from_arrays(time=t, event=np.ones(300)))
    >>> nom = nomogram(model, X, horizons=[1.0])
    >>> pts = nom.total_points(X.iloc[:3])
    >>> np.allclose(nom.predict(pts), model.predict_survival_function(X.iloc[:3], [1.0]))
    True
    """
    kind, coef, names, offset = _model_parts(model)
    X = _frame(X_reference)
    missing = [c for c in names if c not in X.columns]
    if missing:
        raise SchemaError(f"X_reference lacks the model columns {missing}.")
    if not max_points > 0:
        raise ValueError(f"max_points must be > 0, got {max_points!r}.")
    n_ticks = check_int("n_ticks", n_ticks, min_value=2)
    beta = dict(zip(names, coef, strict=True))
    limits = dict(limits or {})
    raw = []
    for term, cols in _terms(names, terms):
        if len(cols) == 1:
            raw.append(_continuous_axis(term, cols[0], beta[cols[0]],
                                        X[cols[0]].to_numpy(dtype=float),
                                        limits.pop(term, None), n_ticks))
        else:
            raw.append(_categorical_axis(term, cols, np.array([beta[c] for c in cols]), X))
    if limits:
        raise SchemaError(f"limits given for {sorted(limits)}, which are not linear terms of "
                          "the model.")
    span = max(a["high"] - a["low"] for a in raw)
    if span <= 0:
        raise ValueError("every term contributes nothing (all coefficients 0 or constant "
                         "predictors): there is no nomogram to draw.")
    sc = float(max_points) / span
    axes = tuple(NomogramAxis(points=sc * (a["values"] @ a["coef"] - a["low"]), **a)
                 for a in raw)
    h, h0 = _baseline(model, kind, horizons)
    return Nomogram(axes=axes, kind=kind, points_per_lp=sc,
                    lp_at_zero_points=sum(a.low for a in axes) + offset,
                    max_points=float(max_points),
                    max_total_points=sc * sum(a.high - a.low for a in axes),
                    horizons=h, baseline_cumhaz=h0)


def _baseline(model: Any, kind: str, horizons: Sequence[float]
              ) -> tuple[np.ndarray, np.ndarray]:
    if kind == "logistic":
        return np.zeros(0), np.zeros(0)
    h = np.atleast_1d(np.asarray(horizons, dtype=float))
    if h.size == 0 or not np.all(np.isfinite(h)) or np.any(h <= 0):
        raise ValueError("a Cox nomogram needs horizons=[...] (positive times at which to "
                         "show predicted survival).")
    times, cumhaz = model.baseline_cumhaz_[None]
    idx = np.searchsorted(times, h, side="right") - 1
    return h, np.where(idx >= 0, cumhaz[np.maximum(idx, 0)], 0.0)

"""Survival and binary outcomes: one type, one checker (layer 1).

A survival outcome is a numpy structured array with fields ``event`` (bool) and ``time``
(float64), the layout scikit-survival accepts directly. :class:`Surv` builds one from
arrays or a DataFrame after the checks of docs/reliability.md #8-#16.

A counting-process outcome (R's ``Surv(start, stop, event)``: one row per interval
``(start, stop]`` of a subject, time-varying covariates constant within a row) has the
fields ``event``, ``start`` and ``stop`` (:data:`COUNTING_DTYPE`,
:meth:`Surv.from_counting`). It has no ``time`` field on purpose: code written for one
time per subject (Kaplan-Meier, concordance, forests, scores) would silently ignore the
late entries, so it fails instead (:func:`check_y_survival` raises a ``TypeError``
naming the layout). Models that handle it read it with :func:`check_y_counting`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from survrad._spelling import spell
from survrad.data import schema
from survrad.exceptions import DataWarning, SchemaError, StatisticalWarning, format_values

__all__ = [
    "COUNTING_DTYPE",
    "SURV_DTYPE",
    "Surv",
    "check_binary",
    "check_event",
    "check_time",
    "check_y_counting",
    "check_y_survival",
    "event_sufficiency",
    "is_counting",
]

SURV_DTYPE = np.dtype([("event", "?"), ("time", "<f8")])
COUNTING_DTYPE = np.dtype([("event", "?"), ("start", "<f8"), ("stop", "<f8")])


def _ids_or_rows(ids: Sequence[Any] | None, mask: np.ndarray) -> list:
    """Offending ids if given, else 1-based row numbers."""
    pos = np.flatnonzero(mask)
    if ids is None:
        return [f"row {i + 1}" for i in pos]
    ids = np.asarray(ids, dtype=object)
    return list(ids[pos])


def check_time(
    time: Any,
    *,
    ids: Sequence[Any] | None = None,
    column: str = "time",
    file: str | None = None,
) -> np.ndarray:
    """Validate survival times: numeric, finite, non-missing, >= 0.

    Parameters
    ----------
    time : array-like
        Raw times (numbers or strings as read from a file).
    ids : sequence, optional
        Patient ids aligned with ``time``, used in messages.
    column, file : str
        Names used in messages.

    Returns
    -------
    numpy.ndarray of float64

    Raises
    ------
    SchemaError
        Missing, non-numeric, infinite or negative times (docs/reliability.md #8-#10).

    Examples
    --------
    >>> check_time([1, 2.5, 3]).tolist()
    [1.0, 2.5, 3.0]
    """
    fast = np.asarray(time) if not isinstance(time, pd.Series) else time.to_numpy()
    if fast.ndim == 1 and fast.dtype.kind in "fiu":  # clean numbers: vectorised path
        fast = fast.astype(float, copy=False)
        if np.all(np.isfinite(fast)) and not np.any(fast < 0):
            return fast
    num = _finite_numbers(
        time, ids=ids, column=column, file=file, what="survival time",
        if_missing="Fill it in, or exclude these patients explicitly "
        f"({spell('drop_missing_time')} lists them in excluded.csv).")
    neg = num < 0
    if neg.any():
        raise SchemaError(
            "survival time is negative; check the date arithmetic (time = end - start).",
            file=file, column=column, ids=_ids_or_rows(ids, neg), values=list(num[neg]),
        )
    return num


def _finite_numbers(values: Any, *, ids: Sequence[Any] | None, column: str,
                    file: str | None, what: str, if_missing: str) -> np.ndarray:
    """``values`` as float64: missing, non-numeric and infinite cells are SchemaErrors."""
    raw = pd.Series(np.asarray(values, dtype=object) if not isinstance(values, pd.Series)
                    else values.to_numpy(dtype=object))
    missing = raw.isna().to_numpy()
    if missing.any():
        raise SchemaError(f"{what} is missing. {if_missing}",
                          file=file, column=column, ids=_ids_or_rows(ids, missing))
    num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(num)
    if bad.any():
        raise SchemaError(
            f"{what} is not a number. Clean these cells (units or qualifiers such as "
            "'12m' or '<5' must be removed).",
            file=file, column=column, ids=_ids_or_rows(ids, bad),
            values=list(raw[bad].astype(str)),
        )
    inf = ~np.isfinite(num)
    if inf.any():
        raise SchemaError(
            f"{what} is infinite; give the last follow-up time instead.",
            file=file, column=column, ids=_ids_or_rows(ids, inf), values=list(num[inf]),
        )
    return num


def check_event(
    event: Any,
    *,
    ids: Sequence[Any] | None = None,
    column: str = "event",
    file: str | None = None,
    event_map: Mapping[Any, int] | None = None,
) -> np.ndarray:
    """Validate an event indicator coded exactly 0/1 (booleans and 0.0/1.0 accepted).

    Parameters
    ----------
    event : array-like
        Raw event codes.
    ids : sequence, optional
        Patient ids aligned with ``event``, used in messages.
    column, file : str
        Names used in messages.
    event_map : mapping, optional
        Explicit recoding, e.g. ``{"dead": 1, "alive": 0}`` or ``{2: 1, 1: 0}``. Applied
        before the check; unmapped values are an error. Never guessed.

    Returns
    -------
    numpy.ndarray of bool

    Raises
    ------
    SchemaError
        Any code outside {0, 1}, with a hint for 1/2 (R/SAS) and 0/1/2 (competing-risk)
        coding (docs/reliability.md #11-#12).

    Examples
    --------
    >>> check_event([0, 1, True, 1.0]).tolist()
    [False, True, True, True]
    """
    if event_map is None:  # bool or exact 0/1 numbers: vectorised path
        fast = np.asarray(event)
        if fast.ndim == 1 and fast.dtype == bool:
            return fast
        if fast.ndim == 1 and fast.dtype.kind in "fiu" and np.all((fast == 0) | (fast == 1)):
            return fast == 1
    raw = pd.Series(np.asarray(event, dtype=object).ravel())
    if event_map is not None:
        mapped = raw.map(lambda v: event_map.get(v, np.nan) if not pd.isna(v) else np.nan)
        unmapped = mapped.isna().to_numpy()
        if unmapped.any():
            raise SchemaError(
                f"event values not covered by event_map {dict(event_map)!r}.",
                file=file, column=column, ids=_ids_or_rows(ids, unmapped),
                values=list(raw[unmapped]),
            )
        raw = mapped
    ok = raw.map(_is_01).to_numpy(dtype=bool)
    if not ok.all():
        raise SchemaError(_event_message(raw, ok), file=file, column=column,
                          ids=_ids_or_rows(ids, ~ok))
    return raw.map(lambda v: bool(float(v) == 1.0)).to_numpy(dtype=bool)


def _is_01(v: Any) -> bool:
    if isinstance(v, bool | np.bool_):
        return True
    if isinstance(v, int | float | np.integer | np.floating):
        return float(v) in (0.0, 1.0)
    return False


def _event_message(raw: pd.Series, ok: np.ndarray) -> str:
    counts = raw.astype(str).value_counts(dropna=False)
    table = ", ".join(f"{k!s}: {v}" for k, v in counts.items())
    codes = set()
    for v in raw:
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            continue  # a missing event is reported in the counts; it must not hide the hint
        try:
            codes.add(float(v))
        except (TypeError, ValueError):
            codes.add(None)
    hint = ""
    if codes == {1.0, 2.0}:
        hint = (" This looks like 1=censored/2=dead coding (R/SAS): recode with "
                "event_map={1: 0, 2: 1} after checking the data dictionary.")
    elif codes == {0.0, 1.0, 2.0}:
        hint = (" A competing-risk code (2) is present: decide how to treat it and recode "
                "explicitly (event_map=...); survrad never guesses.")
    elif any(isinstance(v, str) for v in raw):
        hint = " Text codes need an explicit event_map, e.g. {'dead': 1, 'alive': 0}."
    return (f"event must be coded exactly 0/1 (or True/False); found value counts "
            f"{{{table}}}.{hint}")


def _distinct_up_to_3(values: np.ndarray) -> int:
    """The number of distinct ``values`` when it is below 3, else 3 or more (cheaply)."""
    lo, hi = values.min(), values.max()
    if lo < hi and np.any((values > lo) & (values < hi)):
        return 3
    return int(np.unique(values).size)


def event_sufficiency(
    time: np.ndarray,
    event: np.ndarray,
    *,
    n_features: int | None = None,
    column: str = "event",
    file: str | None = None,
) -> list[str]:
    """Check there is enough information to fit a survival model (docs/reliability.md #13-#16).

    Raises on zero or one event, all times tied, or fewer than 3 distinct event times;
    warns (:class:`StatisticalWarning`) on fewer than 10 events or fewer than 10 events
    per variable. No censoring is valid. Returns the warning texts it issued.
    """
    import warnings

    n_events = int(np.sum(event))
    if n_events == 0:
        raise SchemaError("no events: a survival model cannot be estimated (all censored).",
                          file=file, column=column)
    if n_events == 1:
        raise SchemaError("only one event: too little information for a survival model.",
                          file=file, column=column)
    if time.min() == time.max():
        raise SchemaError(f"all survival times are tied (every time = {float(time[0])!r}).",
                          file=file, column=column)
    n_distinct = _distinct_up_to_3(time[event])
    if n_distinct < 3:
        raise SchemaError(
            f"only {n_distinct} distinct event time(s); at least 3 are needed to rank "
            "patients or estimate a baseline hazard.", file=file, column=column)
    msgs = []
    if n_events < 10:
        msgs.append(f"only {n_events} events; estimates will be very unstable.")
    if n_features and n_events / n_features < 10:
        msgs.append(
            f"events per variable is {n_events / n_features:.1f} ({n_events} events, "
            f"{n_features} features), below 10: use a penalty or feature selection.")
    for m in msgs:
        warnings.warn(m, StatisticalWarning, stacklevel=3)
    return msgs


class Surv:
    """Build validated survival outcomes accepted by survrad and scikit-survival.

    Examples
    --------
    >>> y = Surv.from_arrays(time=[5.0, 3.0, 9.0], event=[1, 0, 1])
    >>> y["time"].tolist(), y["event"].tolist()
    ([5.0, 3.0, 9.0], [True, False, True])
    """

    @staticmethod
    def from_arrays(*args: Any, time: Any = None, event: Any = None,
                    ids: Sequence[Any] | None = None,
                    event_map: Mapping[Any, int] | None = None) -> np.ndarray:
        """Structured array with fields ``event`` and ``time`` after validation.

        Call it with keywords: ``Surv.from_arrays(time=..., event=...)``. Positional
        arguments are deprecated: survrad read them as ``(time, event)``, the reverse of
        scikit-survival's ``Surv.from_arrays(event, time)``, and the two orders cannot
        be told apart from the values (0/1 times exist). Until the next release they
        are still read as ``(time, event)`` with a
        :class:`~survrad.exceptions.SurvradDeprecationWarning`, except when the first
        argument is an event indicator and the second is not (scikit-survival's order):
        that is a ``TypeError`` at once, never a silent swap.

        Parameters
        ----------
        time, event : array-like, one-dimensional, same length (keyword-only)
            Survival times (numbers >= 0) and event codes (0/1, booleans, or codes
            recoded by ``event_map``).
        ids : sequence, optional
            Patient ids aligned with ``time``, used in messages (default: row numbers).
        event_map : mapping, optional
            Explicit recoding of the event codes, e.g. ``{1: 0, 2: 1}``.

        Returns
        -------
        numpy.ndarray
            Structured, dtype :data:`SURV_DTYPE` (``event`` bool, ``time`` float64).

        Raises
        ------
        TypeError
            ``time`` or ``event`` missing, more than two positional arguments, or
            positional arguments in scikit-survival's order.
        SchemaError
            Inputs of different lengths or not one-dimensional; any case of
            :func:`check_time` and :func:`check_event`.

        Warns
        -----
        DataWarning
            A survival time equal to 0 (allowed, docs/reliability.md #10), naming the ids.
        SurvradDeprecationWarning
            Positional ``time, event``.

        Examples
        --------
        >>> Surv.from_arrays(time=[4.0, 2.0], event=[True, False])["event"].tolist()
        [True, False]
        """
        if args:
            time, event = _positional_outcome(args, time, event)
        if time is None or event is None:
            raise TypeError("Surv.from_arrays needs both time= and event= (keywords): "
                            "Surv.from_arrays(time=..., event=...).")
        _check_lengths(time=time, event=event, ids=ids)
        t = check_time(time, ids=ids)
        e = check_event(event, ids=ids, event_map=event_map)
        return _structured(t, e, ids, label="")

    @staticmethod
    def from_frame(df: pd.DataFrame, *, time: str, event: str,
                   event_map: Mapping[Any, int] | None = None) -> np.ndarray:
        """Structured array from two columns of ``df``, with the checks of :meth:`from_arrays`.

        Parameters
        ----------
        df : pandas.DataFrame
            The table; its index labels are the ids in messages.
        time, event : str
            The time and event columns.
        event_map : mapping, optional
            Explicit recoding of the event codes.

        Returns
        -------
        numpy.ndarray
            Structured, dtype :data:`SURV_DTYPE`, in row order.

        Raises
        ------
        SchemaError
            A missing column (with the available columns and close matches); any case of
            :func:`check_time` and :func:`check_event`, naming the column.

        Warns
        -----
        DataWarning
            A survival time equal to 0, naming the column and the ids.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"t": [3.0, 5.0], "d": [1, 0]}, index=["P1", "P2"])
        >>> Surv.from_frame(df, time="t", event="d")["time"].tolist()
        [3.0, 5.0]
        """
        from survrad._validation import close_matches

        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}; use "
                            "Surv.from_arrays(time=..., event=...) for arrays.")
        cols = [str(c) for c in df.columns]
        for col in (time, event):
            if col not in df.columns:
                hint = close_matches(str(col), cols)
                did = f" Close matches: {hint}." if hint else " No close match."
                raise SchemaError(f"column not found. Available columns: "
                                  f"{format_values(cols, max_shown=20)}.{did}", column=col)
        ids = list(df.index)
        t = check_time(df[time], ids=ids, column=time)
        e = check_event(df[event], ids=ids, column=event, event_map=event_map)
        return _structured(t, e, ids, label=f"column {time!r}: ")

    @staticmethod
    def from_counting(*, start: Any, stop: Any, event: Any, ids: Sequence[Any] | None = None,
                      event_map: Mapping[Any, int] | None = None) -> np.ndarray:
        """Counting-process outcome: one row per interval ``(start, stop]``, as R's
        ``Surv(start, stop, event)``.

        A row is at risk at time ``t`` when ``start < t <= stop``; ``event`` says whether
        the row ends with an event at ``stop``. Time-varying covariates are constant
        within a row (build the rows with
        :func:`survrad.longitudinal.counting_process_rows`). Only
        :class:`survrad.models.CoxModel` fits this layout; every function that needs one
        time per subject refuses it (see the module docstring).

        Parameters
        ----------
        start, stop : array-like, one-dimensional
            Interval ends. Finite numbers with ``start < stop`` in every row; negative
            values are allowed (as in R: only the order matters), so time may be counted
            from any origin.
        event : array-like
            Event at ``stop``: 0/1, booleans, or codes recoded by ``event_map``.
        ids : sequence, optional
            The subject of each row (repeated over its rows). Used in messages, and to
            check that the intervals of one subject do not overlap (a subject in a risk
            set twice). Pass them whenever a subject has several rows.
        event_map : mapping, optional
            Explicit recoding of the event codes, e.g. ``{1: 0, 2: 1}``.

        Returns
        -------
        numpy.ndarray
            Structured, dtype :data:`COUNTING_DTYPE` (``event`` bool, ``start`` and
            ``stop`` float64), in row order.

        Raises
        ------
        SchemaError
            Inputs of different lengths; a missing, non-numeric or infinite start or
            stop; ``start >= stop`` (zero-length or reversed intervals, naming the rows);
            overlapping intervals of one subject (naming the ids); any case of
            :func:`check_event`.

        Examples
        --------
        >>> y = Surv.from_counting(start=[0, 30, 0], stop=[30, 90, 45], event=[0, 1, 0],
        ...                        ids=["P1", "P1", "P2"])
        >>> y["start"].tolist(), y["stop"].tolist(), y["event"].tolist()
        ([0.0, 30.0, 0.0], [30.0, 90.0, 45.0], [False, True, False])
        """
        _check_lengths(start=start, stop=stop, event=event, ids=ids)
        s = _interval_end(start, ids=ids, column="start")
        t = _interval_end(stop, ids=ids, column="stop")
        e = check_event(event, ids=ids, event_map=event_map)
        _check_intervals(s, t, ids)
        y = np.empty(t.shape[0], dtype=COUNTING_DTYPE)
        y["event"] = e
        y["start"] = s
        y["stop"] = t
        return y


def _interval_end(values: Any, *, ids: Sequence[Any] | None, column: str) -> np.ndarray:
    """One end of (start, stop] intervals as float64: finite numbers of any sign."""
    fast = np.asarray(values) if not isinstance(values, pd.Series) else values.to_numpy()
    if fast.ndim == 1 and fast.dtype.kind in "fiu":
        fast = fast.astype(float, copy=False)
        if np.all(np.isfinite(fast)):
            return fast
    return _finite_numbers(values, ids=ids, column=column, file=None,
                           what=f"{column} time",
                           if_missing="Every (start, stop] row needs both ends; fill it in "
                           "or remove the row explicitly.")


def _check_intervals(start: np.ndarray, stop: np.ndarray, ids: Sequence[Any] | None) -> None:
    """start < stop in every row; with ids, no two intervals of one subject overlap."""
    bad = ~(start < stop)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise SchemaError(
            f"start must be before stop in every (start, stop] row (R's Surv(start, stop, "
            f"event) refuses zero-length or reversed intervals); rows (1-based) "
            f"{format_values((rows + 1).tolist())} have (start, stop) "
            f"{format_values(list(zip(start[rows].tolist(), stop[rows].tolist(), strict=True)))}"
            ". Drop zero-length rows or fix the times.",
            column="start", ids=_ids_or_rows(ids, bad))
    if ids is None or start.shape[0] < 2:
        return
    codes = pd.factorize(pd.Series(np.asarray(ids, dtype=object)))[0]
    order = np.lexsort((start, codes))
    same = codes[order][1:] == codes[order][:-1]
    overlap = same & (start[order][1:] < stop[order][:-1])
    if overlap.any():
        rows = np.sort(np.concatenate((order[1:][overlap], order[:-1][overlap])))
        mask = np.zeros(start.shape[0], dtype=bool)
        mask[rows] = True
        raise SchemaError(
            f"(start, stop] intervals of one subject overlap (rows, 1-based: "
            f"{format_values((rows + 1).tolist())}); the subject would be counted twice in "
            "a risk set. Each subject's rows must tile its follow-up without overlap.",
            column="start", ids=list(dict.fromkeys(_ids_or_rows(ids, mask))))


def _event_like(values: Any) -> bool:
    """Booleans, or numbers that are all 0 or 1: an event indicator, not times."""
    a = np.asarray(values)
    if a.dtype == bool:
        return True
    if a.dtype.kind not in "iuf" or a.size == 0:
        return False
    return bool(np.all((a == 0) | (a == 1)))


def _positional_outcome(args: tuple, time: Any, event: Any) -> tuple[Any, Any]:
    """``(time, event)`` from deprecated positional arguments of ``Surv.from_arrays``."""
    keywords = "Surv.from_arrays(time=..., event=...)"
    if len(args) == 1 and time is None and event is not None:    # old (time, event=...)
        args = (args[0], event)
    elif len(args) != 2 or time is not None or event is not None:
        raise TypeError(f"Surv.from_arrays takes time and event as keywords: {keywords}.")
    first, second = args
    if _event_like(first) and not _event_like(second):
        raise TypeError(
            "Surv.from_arrays got (event, time) in scikit-survival's positional order; "
            "survrad's positional order was (time, event). Pass keywords to avoid any "
            f"confusion: {keywords}.")
    from survrad._validation import warn_deprecated

    warn_deprecated(
        "Surv.from_arrays(time, event) with positional arguments is deprecated (the reverse "
        "of scikit-survival's Surv.from_arrays(event, time)) and becomes an error in the next "
        f"release: pass keywords, {keywords}.", stacklevel=3)
    return first, second


def _check_lengths(**arrays: Any) -> None:
    """One-dimensional inputs of one length (``None`` entries are skipped)."""
    sizes = {}
    for name, a in arrays.items():
        if a is None:
            continue
        shape = np.shape(a)
        if len(shape) != 1:
            raise SchemaError(f"{name} must be one-dimensional, got shape {shape}.",
                              column=name)
        sizes[name] = shape[0]
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        raise SchemaError(f"inputs differ in length ({listed}); give one value per "
                          "patient in each.")


def _structured(t: np.ndarray, e: np.ndarray, ids: Sequence[Any] | None,
                label: str) -> np.ndarray:
    """The Surv array, warning about time 0 (allowed, docs/reliability.md #10)."""
    import warnings

    zero = t == 0
    if zero.any():
        warnings.warn(
            f"{label}survival time is 0 for {format_values(_ids_or_rows(ids, zero))}; "
            "allowed, but check these are not data-entry errors.", DataWarning,
            stacklevel=schema._stack())
    y = np.empty(t.shape[0], dtype=SURV_DTYPE)
    y["event"] = e
    y["time"] = t
    return y


def check_y_survival(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(time, event)`` from a survival outcome.

    Accepts the structured array of :class:`Surv` (or scikit-survival's, any field names
    with one bool and one float field) or a ``(time, event)`` tuple.

    Parameters
    ----------
    y : structured array or tuple
        The outcome.

    Returns
    -------
    time : numpy.ndarray of float64
    event : numpy.ndarray of bool

    Raises
    ------
    TypeError
        ``y`` is not a survival outcome.
    SchemaError
        Bad times or event codes; a tuple whose parts differ in length.

    Examples
    --------
    >>> time, event = check_y_survival(Surv.from_arrays(time=[2.0, 1.0], event=[0, 1]))
    >>> time.tolist(), event.tolist()
    ([2.0, 1.0], [False, True])
    """
    if isinstance(y, tuple) and len(y) == 2:
        _check_lengths(time=y[0], event=y[1])
        return check_time(y[0]), check_event(y[1])
    y = np.asarray(y)
    if is_counting(y):
        raise TypeError(
            "y is a counting-process outcome (start, stop] (Surv.from_counting), but this "
            "step needs one survival time per subject and would ignore the late entries. "
            "Only CoxModel fits (start, stop] rows; for the other methods use one row per "
            "patient (e.g. a landmark analysis, survrad.longitudinal.landmark).")
    if y.dtype.names is None or len(y.dtype.names) != 2:
        raise TypeError("y must be a survival outcome: use survrad.Surv.from_arrays(time=..., "
                        "event=...).")
    f_event, f_time = y.dtype.names
    if y.dtype[f_event] != np.bool_:
        f_event, f_time = f_time, f_event
    if y.dtype[f_event] != np.bool_:
        raise TypeError("y must have one boolean event field; use survrad.Surv.from_arrays.")
    return check_time(y[f_time]), np.asarray(y[f_event], dtype=bool)


def is_counting(y: Any) -> bool:
    """Whether ``y`` is a counting-process outcome (fields ``start`` and ``stop``).

    Examples
    --------
    >>> is_counting(Surv.from_counting(start=[0.0], stop=[2.0], event=[1]))
    True
    >>> is_counting(Surv.from_arrays(time=[2.0], event=[1]))
    False
    """
    names = getattr(getattr(y, "dtype", None), "names", None)
    return names is not None and "start" in names and "stop" in names


def check_y_counting(y: Any) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Return ``(start, stop, event)`` from a counting-process or survival outcome.

    A counting-process outcome (:meth:`Surv.from_counting`) gives its three fields;
    any outcome :func:`check_y_survival` accepts gives ``(None, time, event)`` (every
    subject at risk from the origin).

    Parameters
    ----------
    y : structured array or tuple
        The outcome.

    Returns
    -------
    start : numpy.ndarray of float64 or None
    stop : numpy.ndarray of float64
    event : numpy.ndarray of bool

    Raises
    ------
    SchemaError
        Non-finite ends or ``start >= stop`` in a counting-process outcome.

    Examples
    --------
    >>> y = Surv.from_counting(start=[0.0, 3.0], stop=[3.0, 5.0], event=[0, 1])
    >>> [a.tolist() for a in check_y_counting(y)]
    [[0.0, 3.0], [3.0, 5.0], [False, True]]
    >>> check_y_counting(Surv.from_arrays(time=[2.0], event=[1]))[0] is None
    True
    """
    if not is_counting(y):
        time, event = check_y_survival(y)
        return None, time, event
    y = np.asarray(y)
    if "event" not in y.dtype.names or y.dtype["event"] != np.bool_:
        raise TypeError("a counting-process outcome needs a boolean 'event' field; use "
                        "survrad.Surv.from_counting(start=..., stop=..., event=...).")
    start = _interval_end(y["start"], ids=None, column="start")
    stop = _interval_end(y["stop"], ids=None, column="stop")
    _check_intervals(start, stop, None)
    return start, stop, np.asarray(y["event"], dtype=bool)


def check_binary(target: Any, *, ids: Sequence[Any] | None = None, column: str = "target",
                 file: str | None = None) -> np.ndarray:
    """Validate a binary outcome coded 0/1 (booleans and 0.0/1.0 accepted); return int array.

    Raises on missing values, other codes, or a single class.

    Examples
    --------
    >>> check_binary([0, 1, 1.0, True]).tolist()
    [0, 1, 1, 1]
    """
    arr = np.asarray(target)
    if arr.dtype.kind in "biuf" and arr.size:  # numeric: checked without pandas
        flat = arr.ravel()
        one = flat == 1
        if np.all(one | (flat == 0)):
            out = one.astype(int)
            _check_two_classes(out, file, column)
            return out
    raw = pd.Series(np.asarray(target, dtype=object).ravel())
    missing = raw.isna().to_numpy()
    if missing.any():
        raise SchemaError("binary outcome is missing; fill it in or exclude explicitly.",
                          file=file, column=column, ids=_ids_or_rows(ids, missing))
    ok = raw.map(_is_01).to_numpy(dtype=bool)
    if not ok.all():
        counts = raw[~ok].astype(str).value_counts()
        raise SchemaError(
            "binary outcome must be coded 0/1; found "
            + ", ".join(f"{k}: {v}" for k, v in counts.items()) + ".",
            file=file, column=column, ids=_ids_or_rows(ids, ~ok))
    out = raw.map(lambda v: int(float(v) == 1.0)).to_numpy(dtype=int)
    _check_two_classes(out, file, column)
    return out


def _check_two_classes(out: np.ndarray, file: Any, column: Any) -> None:
    """A 0/1 outcome with one class has nothing to predict."""
    if out.min() == out.max():
        raise SchemaError(f"binary outcome has a single class ({out[0]}); nothing to predict.",
                          file=file, column=column)

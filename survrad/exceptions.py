"""Exceptions and warnings raised by survrad (layer 0).

Every error is a subclass of a built-in so ``except ValueError`` keeps working.
Messages say what is wrong, where (file, column, ids, values) and what to do next.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "AttentionUniformWarning",
    "ConfigError",
    "ConvergenceWarning",
    "DataWarning",
    "ExtractionWarning",
    "FitError",
    "NotFittedError",  # noqa: F822 (made on first use by the module __getattr__)
    "ResamplingError",
    "SchemaError",
    "StatisticalWarning",
    "SurvradDeprecationWarning",
    "SurvradWarning",
    "Terminated",
    "format_values",
]

_MAX_SHOWN = 10


def format_values(values: Iterable[Any], max_shown: int = _MAX_SHOWN) -> str:
    """Format the first ``max_shown`` values and a total count.

    Parameters
    ----------
    values : iterable
        Offending ids or values, in the order they were found.
    max_shown : int, default 10
        How many to print.

    Returns
    -------
    str
        e.g. ``"'P001', 'P007' (2 in total)"`` or ``"'a', 'b', ... (25 in total)"``.

    Examples
    --------
    >>> format_values(["P1", "P2"])
    "'P1', 'P2' (2 in total)"
    """
    vals = list(values)
    shown = ", ".join(repr(_plain(v)) for v in vals[:max_shown])
    more = ", ..." if len(vals) > max_shown else ""
    return f"{shown}{more} ({len(vals)} in total)"


def _plain(v: Any) -> Any:
    """numpy scalars print as Python scalars (``2`` not ``np.int64(2)``)."""
    item = getattr(v, "item", None)
    return item() if callable(item) and getattr(v, "ndim", 1) == 0 else v


class SchemaError(ValueError):
    """Bad input data: a missing column, a bad value, a duplicated id.

    Parameters
    ----------
    message : str
        What is wrong and what to do next.
    file : str, optional
        The file (or table name, e.g. ``"patients"``) the problem was found in.
    column : str, optional
        The offending column.
    ids : sequence, optional
        Offending patient or lesion ids (all of them; the message shows the first 10).
    values : sequence, optional
        Offending raw values.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        ids: Sequence[Any] | None = None,
        values: Sequence[Any] | None = None,
    ) -> None:
        self.file = file
        self.column = column
        self.ids = list(ids) if ids is not None else None
        self.values = list(values) if values is not None else None
        parts = []
        if file is not None:
            parts.append(f"[{file}]")
        if column is not None:
            parts.append(f"column {column!r}:")
        parts.append(message)
        if ids is not None and "ids:" not in message:
            parts.append(f"ids: {format_values(self.ids)}.")
        if values is not None and "values:" not in message:
            parts.append(f"values: {format_values(self.values)}.")
        super().__init__(" ".join(parts))


class ConfigError(ValueError):
    """A bad study file or argument: unknown key, missing file, wrong type.

    Parameters
    ----------
    message : str
        What is wrong and what to do next.
    file : str, optional
        The study file.
    key : str, optional
        The offending key, dotted (``"validation.n_boot"``).
    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file = file
        self.key = key
        prefix = "".join(
            [f"[{file}] " if file else "", f"key {key!r}: " if key else ""],
        )
        super().__init__(prefix + message)


class FitError(ValueError):
    """A model cannot be fitted on this design (constant or collinear columns, p >= n, ...).

    Parameters
    ----------
    message : str
        What is wrong and what to do next.
    columns : sequence of str, optional
        The offending columns.
    """

    def __init__(self, message: str, *, columns: Sequence[str] | None = None) -> None:
        self.columns = list(columns) if columns is not None else None
        super().__init__(message)


class ResamplingError(ValueError):
    """Too many bootstrap / cross-validation replicates failed to be trusted."""


def _make_not_fitted_error() -> type:
    """:class:`NotFittedError`, made on first use (importing scikit-learn takes seconds,
    which the command line's quick paths, e.g. ``check --patients``, do not pay).

    Examples
    --------
    >>> import sklearn.exceptions
    >>> from survrad.exceptions import NotFittedError
    >>> issubclass(NotFittedError, sklearn.exceptions.NotFittedError)
    True
    >>> issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)
    True
    """
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError

    class NotFittedError(SklearnNotFittedError, ValueError, AttributeError):
        """An estimator was used before ``fit``.

        A subclass of scikit-learn's :class:`sklearn.exceptions.NotFittedError` (code
        built on ``sklearn.utils.validation.check_is_fitted`` catches it) and, as that
        class, of :class:`ValueError` and :class:`AttributeError`.
        """

    NotFittedError.__module__ = __name__
    NotFittedError.__qualname__ = "NotFittedError"
    return NotFittedError


def __getattr__(name: str) -> Any:
    if name == "NotFittedError":
        cls = globals()["NotFittedError"] = _make_not_fitted_error()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Terminated(KeyboardInterrupt):
    """The run was stopped by SIGTERM (the command line exits with 143).

    A ``KeyboardInterrupt`` so that code catching ``Exception`` never swallows it and
    interrupted runs are handled like Ctrl-C (exit 130).
    """

    exit_code = 143


class SurvradWarning(UserWarning):
    """Base class of every survrad warning."""


class ConvergenceWarning(SurvradWarning):
    """An optimiser did not converge; the estimate is not trustworthy."""


class StatisticalWarning(SurvradWarning):
    """The numbers are computable but statistically fragile (few events, low EPV, ...)."""


class AttentionUniformWarning(StatisticalWarning):
    """Attention pooling did not depart from mean pooling: its weights are no lesion ranking.

    Raised by :class:`survrad.lesions.AttentionMIL` when the fitted attention is
    indistinguishable from uniform weights ``1 / n_lesions`` (see its
    ``attention_diagnostics_``); the strategy then behaves as mean pooling and its
    attention weights must not be read as learned lesion importance.
    """


class SurvradDeprecationWarning(SurvradWarning, FutureWarning):
    """A parameter name or meaning that is going away: the message says what replaces it.

    A :class:`FutureWarning` (shown to users by default), accepted for one release.
    """


class DataWarning(SurvradWarning):
    """The data are accepted but something in them deserves a look (whitespace ids, time 0)."""


class ExtractionWarning(DataWarning):
    """A radiomics extraction deserves a look: settings or versions that differ between
    centres, failed extractions excluded on request, diagnostics that cannot be checked."""

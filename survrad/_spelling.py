"""How an option is spelled in the interface the user is in (layer 0).

The same setting is a Python keyword argument (``force=True``), a command-line flag
(``--force``) or a study-file key (``data.strict = true``). An error message that tells the
user what to do names the option the way THEY can type it: the command line sets the
interface to ``"cli"`` for the duration of a command, the study runner to ``"toml"`` while
it reads a study file, and everything else is ``"python"``.

Private: import from here inside survrad only.

Examples
--------
>>> spell("force")
'force=True'
>>> with interface("cli"):
...     spell("force")
'--force'
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Literal

__all__ = ["Interface", "current_interface", "interface", "spell"]

Interface = Literal["python", "cli", "toml"]

_CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar("survrad_interface",
                                                               default="python")

#: option -> (Python, command line, study file). None: not available in that interface;
#: the Python spelling is used with "(Python API)" after it.
OPTIONS: dict[str, tuple[str, str | None, str | None]] = {
    "force": ("force=True", "--force", None),
    "out": ("out=", "--out", None),
    "n_jobs": ("n_jobs=", "--n-jobs", "validation.n_jobs"),
    "backend": ("backend=", "--backend", "validation.backend"),
    "strict": ("strict=True", "--strict", "data.strict = true"),
    "exclude_orphan_lesions": ("exclude_orphan_lesions=True", "--exclude-orphan-lesions",
                               "data.exclude_orphan_lesions = true"),
    "drop_missing_time": ("drop_missing_time=True", "--drop-missing-time",
                          "data.drop_missing_time = true"),
    "lesions": ("lesions=", "--lesions", "data.lesions"),
    "lesion_features": ("lesion_features=[...]", "--lesion-features",
                        "data.lesion_features = [...]"),
    "patient_features": ("patient_features=[...]", "--patient-features",
                         "data.patient_features = [...]"),
    "event_map": ("event_map={...}", "--event-map", "[data.event_map]"),
    "endpoints": ("endpoints={'os': ('TIME', 'EVENT')}", "--time-col / --event-col",
                  "[endpoints.<name>] time = ..., event = ..."),
    "columns": ("columns={'patient_id': ...}", "--id-col", "[data.columns]"),
    "missing": ("missing=", None, "data.missing"),
}


def current_interface() -> str:
    """The interface the current call came from: ``"python"``, ``"cli"`` or ``"toml"``."""
    return _CURRENT.get()


@contextlib.contextmanager
def interface(name: Interface) -> Iterator[None]:
    """Spell options for ``name`` inside the block (nested blocks restore the outer one)."""
    if name not in ("python", "cli", "toml"):
        raise ValueError(f"interface must be 'python', 'cli' or 'toml', got {name!r}.")
    token = _CURRENT.set(name)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def spell(option: str) -> str:
    """``option`` as the user types it in the current interface.

    Examples
    --------
    >>> with interface("toml"):
    ...     spell("strict")
    'data.strict = true'
    """
    py, cli, toml = OPTIONS[option]
    chosen = {"python": py, "cli": cli, "toml": toml}[_CURRENT.get()]
    return chosen if chosen is not None else f"{py} (Python API)"

"""Compiled kernels: numba's ``njit`` with an on-disk cache, compiled on first use (layer 0).

:func:`compiled` wraps a plain Python function written in numba's subset. ``import
survrad`` does not import numba (about 0.4 s); the first call of a wrapped kernel does,
then loads the machine code from numba's on-disk cache (a few tens of ms) or, on the very
first run after an install or an edit, compiles it (about a second per kernel) and stores
it there.

Where the cache lives
---------------------
numba's own search, first writable location wins:

1. ``NUMBA_CACHE_DIR`` when that environment variable is set;
2. ``__pycache__`` beside the source file (an editable or user-writable install);
3. the user's cache directory, ``~/.cache/numba`` on Linux (a read-only site-packages,
   e.g. a system or container install).

When none is writable (no home directory, read-only file system), the kernel is
compiled in memory in every process: the numbers are the same, only the first call of
each process is slower. Nothing is written anywhere else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["compiled"]


def _njit(fn: Callable, *, cache: bool) -> Callable:
    import numba

    return numba.njit(cache=cache, nogil=True)(fn)


class _Kernel:
    """A Python function compiled by numba on its first call (see module docstring)."""

    def __init__(self, fn: Callable) -> None:
        self.py_func = fn
        self._dispatcher: Callable | None = None
        functools.update_wrapper(self, fn)

    @property
    def dispatcher(self) -> Callable:
        """numba's dispatcher (compiling or loading from the cache on first access)."""
        if self._dispatcher is None:
            try:
                self._dispatcher = _njit(self.py_func, cache=True)
            except RuntimeError:        # numba: "no locator available" (nowhere to cache)
                self._dispatcher = _njit(self.py_func, cache=False)
        return self._dispatcher

    def __call__(self, *args: Any) -> Any:
        return self.dispatcher(*args)


def compiled(fn: Callable) -> _Kernel:
    """Decorator: compile ``fn`` with numba (``nopython``, cached on disk) on first call.

    Examples
    --------
    >>> @compiled
    ... def add(a, b):
    ...     return a + b
    >>> add.py_func(1, 2)       # the plain Python function, for reference and tests
    3
    """
    return _Kernel(fn)

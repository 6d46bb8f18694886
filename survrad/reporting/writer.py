"""Stable JSON, manifests (input hashes, versions, platform) and atomic output (layer 6).

The rules that keep a user's data safe (refusals before any work, one run per target,
atomic replacement, ``.failed-<time>`` folders, stale temporaries) live in
:mod:`survrad._outputs`; this module re-exports its file writers for the reporting layer
and adds what a report's manifest records.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
from collections.abc import Iterable, Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from survrad._outputs import atomic_write_bytes, atomic_write_text, file_sha256, output_folder

__all__ = [
    "atomic_output_dir",
    "atomic_write_bytes",
    "atomic_write_text",
    "file_sha256",
    "input_record",
    "json_dumps",
    "numerical_platform",
    "package_versions",
]

_PACKAGES = ("survrad", "numpy", "pandas", "scipy", "scikit-learn", "scikit-survival",
             "lifelines", "statsmodels", "matplotlib", "joblib", "dask", "distributed")


def json_dumps(obj: Any) -> str:
    """Stable JSON: sorted keys, full float precision, NaN written as null."""
    return json.dumps(_nan_to_none(obj), indent=2, sort_keys=True, ensure_ascii=False,
                      allow_nan=False) + "\n"


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if obj != obj or obj in (float("inf"), float("-inf")) else obj
    if isinstance(obj, Mapping):
        return {str(k): _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_nan_to_none(v) for v in obj]
    item = getattr(obj, "item", None)
    if callable(item) and getattr(obj, "ndim", None) == 0:
        return _nan_to_none(item())
    return obj


@contextlib.contextmanager
def atomic_output_dir(target: str | os.PathLike, *, force: bool = False,
                      protected: Iterable[str | os.PathLike] = ()) -> Iterator[Path]:
    """Yield a temporary sibling folder that becomes ``target`` when the block succeeds.

    The rules of :func:`survrad._outputs.output_folder` apply: ``target`` is checked
    before any work (never a folder holding an input, the current folder, a link or a
    file; an existing folder only with ``force``, and only when survrad wrote it and
    nobody changed it), locked for the run, and a failed run leaves
    ``<target>.failed-<time>`` with ``error.json``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_output_dir(root / "out") as tmp:
    ...     _ = (tmp / "a.txt").write_text("x")
    >>> (root / "out" / "a.txt").read_text()
    'x'
    """
    with output_folder(target, force=force, protected=protected) as out:
        yield out.path


def input_record(path: str | os.PathLike) -> dict[str, Any]:
    """Path, size and SHA-256 of an input file, for the manifest."""
    p = Path(path)
    return {"path": str(p), "size": p.stat().st_size, "sha256": file_sha256(p)}


def package_versions() -> dict[str, str | None]:
    """Versions of Python and the packages that shape the numbers."""
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def numerical_platform() -> dict[str, Any]:
    """What besides the package versions decides the last bits of the numbers.

    numpy picks its SIMD kernels (``exp``, ``log``, sums) and OpenBLAS its matrix kernels
    by the CPU, so the same code and versions can differ in the 15th digit between
    machines; byte-identical reruns are expected only on the same platform.
    """
    import numpy as np

    simd = np.show_config(mode="dicts").get("SIMD Extensions", {})
    blas = None
    try:
        from threadpoolctl import threadpool_info

        blas = sorted({f"{i.get('internal_api')} {i.get('architecture')}"
                       for i in threadpool_info() if i.get("user_api") == "blas"})
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    return {"machine": platform.machine(), "numpy_simd": list(simd.get("found", [])),
            "blas": blas}

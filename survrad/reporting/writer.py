"""Atomic output folders and files, and the run manifest ("nothing lost", RELIABILITY.md).

- A report folder is written into a temporary sibling and renamed into place on success.
- An existing folder is never replaced without ``force``; with it, the old folder is kept
  until the new run has succeeded.
- A failed run leaves ``<dir>.failed-<time>`` holding what was written and ``error.txt``.
- Single files are written to a temporary file and ``os.replace``-d.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from survrad.exceptions import ConfigError

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


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%S")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


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
def atomic_output_dir(target: str | os.PathLike, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder that becomes ``target`` when the block succeeds.

    Parameters
    ----------
    target : path
        The final folder.
    force : bool, default False
        Replace an existing ``target``. The old folder is kept until the new one is in
        place, then removed.

    Raises
    ------
    ConfigError
        ``target`` exists and ``force`` is False (checked before any work is done).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_output_dir(root / "out") as tmp:
    ...     _ = (tmp / "a.txt").write_text("x")
    >>> (root / "out" / "a.txt").read_text()
    'x'
    """
    target = Path(target).resolve()
    if target.exists() and not force:
        raise ConfigError(f"output folder {str(target)!r} exists; pass --force (force=True) "
                          "to replace it, or choose another folder.")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
    except BaseException as exc:
        failed = target.with_name(f"{target.name}.failed-{_stamp()}")
        (tmp / "error.txt").write_text(
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
            encoding="utf-8")
        os.replace(tmp, failed)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{_stamp()}-{os.getpid()}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old)


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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

"""Output folders and files that never cost the user data (layer 0).

Every folder survrad writes (a report, a simulated data set, predictions, extracted
features) goes through :func:`output_folder`:

1. **Refusals before any work.** :func:`check_target` refuses, whatever ``force``: an
   empty path, a symbolic link, a regular file, ``/``, the home folder, the current
   folder or one of its ancestors, and any folder that holds (or is) an input or the
   study file. An existing folder is replaced only with ``force``, and then only when it is
   empty or carries survrad's marker (:data:`MARKER`, written last, listing every file
   survrad wrote with its SHA-256) and holds exactly those files, unchanged. A folder in
   which the user added or edited a file is refused with the list of those files.
2. **One run per target.** An exclusive lock (``.<name>.lock`` beside the target, POSIX
   ``flock``) is held for the whole run; a second run exits at once naming the first
   one's pid and start time. The lock dies with its process, so a killed run never blocks
   the next one.
3. **Atomic replacement.** The run writes into a temporary sibling
   (``.<name>.tmp-<random>``, with its own marker naming the owner pid); on success the
   target is checked again (still what was checked at the start), the old folder is moved
   aside, the new one renamed into place, and the old one removed. A failed or
   interrupted run (exception, Ctrl-C, SIGTERM) leaves ``<name>.failed-<time>`` holding
   what was written, ``error.json`` (class, message, offending key / column / ids) and,
   for bugs, ``error.txt`` with the traceback. Temporaries of runs that were killed
   (SIGKILL, power loss) are removed by the next run on the same target, recognised by
   their marker and a dead owner pid.

Single files are written with :func:`atomic_write_bytes` (temporary file in the same folder,
then ``os.replace``).

Private: import from here inside survrad only.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from survrad._spelling import spell
from survrad.exceptions import ConfigError, FitError, ResamplingError, SchemaError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - survrad supports POSIX systems
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "MARKER",
    "OutputFolder",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_target",
    "default_exit_code",
    "error_record",
    "file_sha256",
    "output_folder",
]

#: The file that marks a folder as written by survrad (written last, lists every file).
MARKER = ".survrad-output.json"
_TMP_MARKER = ".survrad-temporary.json"
_MAX_NAME = 200   # bytes of a folder name we create (.<name>.tmp-XXXXXXXX stays < 255)


# ------------------------------------------------------------------------ files
def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = atomic_write_bytes(pathlib.Path(tempfile.mkdtemp()) / "a.bin", b"x")
    >>> p.read_bytes()
    b'x'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", dir=path.parent)
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


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%S")


def _refuse(message: str) -> ConfigError:
    return ConfigError(message, key=spell("out").rstrip("="))


# ---------------------------------------------------------------------- checks
def _contains(folder: Path, path: Path) -> bool:
    return folder == path or folder in path.parents


def _marker_problems(folder: Path) -> list[str]:
    """Why ``folder`` is not a replaceable survrad output folder ([] when it is)."""
    marker = folder / MARKER
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return ["it holds files but no survrad marker (it is not a folder survrad wrote)"]
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*")
               if p.is_file() or p.is_symlink()} - {MARKER}
    problems = []
    extra = sorted(present - set(recorded))
    if extra:
        problems.append(f"files not written by survrad: {_listed(extra)}")
    changed = sorted(f for f in set(recorded) & present
                     if (folder / f).is_symlink() or file_sha256(folder / f) != recorded[f])
    if changed:
        problems.append(f"files changed since survrad wrote them: {_listed(changed)}")
    return problems


def _listed(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in total)" if len(names) > limit else "")


def check_target(target: str | os.PathLike, *, force: bool = False,
                 protected: Iterable[str | os.PathLike] = ()) -> Path:
    """Refuse every output folder a run must not write or replace; return it resolved.

    Parameters
    ----------
    target : path
        The output folder as the user gave it.
    force : bool, default False
        Allow replacing an existing folder that survrad wrote (or an empty one).
    protected : paths
        Inputs and the study file: the target may not be, or contain, any of them.

    Returns
    -------
    pathlib.Path
        The absolute target (its parent resolved; the target itself is never a link).

    Raises
    ------
    ConfigError
        With the reason and what to do instead.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> check_target(root / "report") == (root / "report").resolve()
    True
    >>> check_target(root, force=True, protected=[root / "patients.csv"])
    Traceback (most recent call last):
    ...
    survrad.exceptions.ConfigError: key 'out': ... holds an input or the study file ...
    """
    raw = os.fspath(target)
    if not raw.strip():
        raise _refuse("the output folder is empty (an unset shell variable?); name a new "
                      "folder, e.g. my_report.")
    given = Path(os.path.abspath(os.path.expanduser(raw)))
    if given.is_symlink():
        raise _refuse(f"{str(given)!r} is a symbolic link (to {os.readlink(given)!r}); "
                      "survrad never writes or replaces through a link. Give a real folder "
                      "or a new name.")
    folder = given.parent.resolve() / given.name
    if len(given.name.encode()) > _MAX_NAME:
        raise _refuse(f"the folder name is {len(given.name.encode())} bytes long; use at "
                      f"most {_MAX_NAME}.")
    _refuse_special(folder)
    for p in protected:
        q = Path(p).resolve()
        if _contains(folder, q):
            raise _refuse(f"{str(folder)!r} holds an input or the study file ({str(q)!r}); "
                          "survrad never writes over its inputs. Choose a new folder, "
                          "e.g. a subfolder such as reports/run1.")
    if folder.exists():
        _check_existing(folder, force)
    _check_writable(folder)
    return folder


def _refuse_special(folder: Path) -> None:
    home = Path.home().resolve()
    cwd = Path.cwd().resolve()
    if folder == Path(folder.anchor):
        raise _refuse(f"{str(folder)!r} is the root folder; choose a new folder.")
    if folder == home:
        raise _refuse(f"{str(folder)!r} is your home folder; choose a new folder in it.")
    if _contains(folder, cwd):
        raise _refuse(f"{str(folder)!r} is the current folder or holds it; choose a new "
                      "folder, e.g. ./my_report.")


def _check_existing(folder: Path, force: bool) -> None:
    if not folder.is_dir():
        raise _refuse(f"{str(folder)!r} exists and is a file, not a folder; choose a "
                      "folder name.")
    if not force:
        raise _refuse(f"output folder {str(folder)!r} exists; pass {spell('force')} to "
                      "replace it (only a folder survrad wrote, unchanged, is replaced), or "
                      "choose another folder.")
    if not any(folder.iterdir()):
        return
    problems = _marker_problems(folder)
    if problems:
        raise _refuse(f"{str(folder)!r} is not replaced even with {spell('force')}: "
                      f"{'; '.join(problems)}. Move those files out or choose another "
                      "folder.")


def _check_writable(folder: Path) -> None:
    parent = folder.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise _refuse(f"cannot create {str(folder)!r}: {str(parent)!r} is not a writable "
                      "folder. Choose a folder you can write to.")


# ------------------------------------------------------------------------- lock
class _Lock:
    """An exclusive ``flock`` on ``.<name>.lock`` beside the target, held for a run."""

    def __init__(self, folder: Path, command: str) -> None:
        self.path = folder.with_name(f".{folder.name}.lock")
        self.command = command
        self.fd: int | None = None

    def acquire(self) -> None:
        if fcntl is None:  # pragma: no cover
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise _refuse(f"another survrad run is writing {str(self.path.parent)!r}"
                              f"/{self.path.name[1:-5]}: {self._holder()}. Wait for it to "
                              "finish, or choose another folder.") from None
            try:  # the file may have been removed by the holder we waited for
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                info = {"pid": os.getpid(), "host": socket.gethostname(),
                        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                        "command": self.command}
                os.ftruncate(fd, 0)
                os.write(fd, json.dumps(info).encode())
                return
            os.close(fd)
        raise _refuse(f"could not take the lock {str(self.path)!r}; try again.")

    def _holder(self) -> str:
        try:
            info = json.loads(self.path.read_text(encoding="utf-8"))
            return (f"pid {info['pid']} on {info['host']}, started {info['started']} "
                    f"({info.get('command') or 'survrad'})")
        except (OSError, ValueError, KeyError):
            return "a run that is starting"

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self.fd)
        self.fd = None


# ---------------------------------------------------------------- the folder
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(folder: Path) -> None:
    """Temporaries and set-aside folders of earlier runs on ``folder`` whose owner died."""
    host = socket.gethostname()
    for pattern in (f".{folder.name}.tmp-*", f".{folder.name}.old-*"):
        for cand in folder.parent.glob(pattern):
            try:
                info = json.loads((cand / _TMP_MARKER).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue   # not ours: never touched
            if info.get("host") != host or _pid_alive(int(info.get("pid", -1))):
                continue
            if ".old-" in cand.name and not folder.exists():
                os.replace(cand, folder)   # the swap was interrupted: put the old one back
                (folder / _TMP_MARKER).unlink(missing_ok=True)
            else:
                shutil.rmtree(cand)


def error_record(exc: BaseException, exit_code: int) -> dict[str, Any]:
    """The machine-readable description of an error (``error.json``).

    Examples
    --------
    >>> error_record(ConfigError("bad", key="validation.n_boot"), 2)["key"]
    'validation.n_boot'
    """
    rec: dict[str, Any] = {"error_class": type(exc).__name__, "message": str(exc),
                           "exit_code": exit_code}
    for attr in ("file", "key", "column", "columns"):
        value = getattr(exc, attr, None)
        if value is not None:
            rec[attr] = value
    for attr in ("ids", "values"):
        value = getattr(exc, attr, None)
        if value is not None:
            rec[attr] = [v if isinstance(v, str | int | float | bool) or v is None
                         else str(v) for v in list(value)[:1000]]
            rec[f"n_{attr}"] = len(value)
    return rec


class OutputFolder:
    """The temporary folder of a run and what happens to it (see the module docstring).

    Use :func:`output_folder`. ``path`` is the temporary folder to write into; files
    written there become the target's when the run succeeds.
    """

    def __init__(self, target: Path, force: bool, kind: str, exit_code: Callable[
            [BaseException], int]) -> None:
        self.target = target
        self.force = force
        self.kind = kind
        self.exit_code = exit_code
        self.existed = target.exists()
        self.path: Path = target
        self.failed: Path | None = None

    def begin(self) -> None:
        _remove_stale(self.target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.tmp-",
                                          dir=self.target.parent))
        self._mark_temporary(self.path)

    @staticmethod
    def _mark_temporary(folder: Path) -> None:
        (folder / _TMP_MARKER).write_text(json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}), encoding="utf-8")

    def succeed(self) -> None:
        (self.path / _TMP_MARKER).unlink(missing_ok=True)
        files = {p.relative_to(self.path).as_posix(): file_sha256(p)
                 for p in sorted(self.path.rglob("*")) if p.is_file()}
        atomic_write_text(self.path / MARKER, json.dumps(
            {"survrad_output": self.kind, "files": files}, indent=1, sort_keys=True) + "\n")
        self._recheck()
        old = None
        if self.target.exists():
            old = self.target.with_name(f".{self.target.name}.old-{_stamp()}-{os.getpid()}")
            os.replace(self.target, old)
            self._mark_temporary(old)
        os.replace(self.path, self.target)
        if old is not None:
            shutil.rmtree(old)

    def _recheck(self) -> None:
        """The target must still be what was checked at the start."""
        if self.target.is_symlink() or (self.target.exists() and not self.existed):
            raise _refuse(f"{str(self.target)!r} appeared while this run was working; it "
                          "was not replaced.")
        if self.target.exists():
            _check_existing(self.target, self.force)

    def fail(self, exc: BaseException) -> Path:
        code = self.exit_code(exc)
        (self.path / _TMP_MARKER).unlink(missing_ok=True)
        record = error_record(exc, code)
        if code == 1:
            (self.path / "error.txt").write_text("".join(traceback.format_exception(
                type(exc), exc, exc.__traceback__)), encoding="utf-8")
        (self.path / "error.json").write_text(json.dumps(record, indent=2, default=str)
                                             + "\n", encoding="utf-8")
        base = self.target.with_name(f"{self.target.name}.failed-{_stamp()}")
        failed, k = base, 1
        while failed.exists() or failed.is_symlink():   # never over an existing folder
            k += 1
            failed = base.with_name(f"{base.name}-{k}")
        os.rename(self.path, failed)
        self.failed = failed
        return failed


def default_exit_code(exc: BaseException) -> int:
    """2 for a user's error or interruption (130 Ctrl-C, 143 SIGTERM), 1 for a bug."""
    if isinstance(exc, KeyboardInterrupt):
        return int(getattr(exc, "exit_code", 130))
    if isinstance(exc, SchemaError | ConfigError | FitError | ResamplingError) \
            or is_user_os_error(exc):
        return 2
    return 1


def is_user_os_error(exc: BaseException) -> bool:
    """An operating-system error the user can fix (a missing or unwritable path, a full disk)."""
    return isinstance(exc, OSError) and exc.errno in (
        errno.ENOENT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT,
        errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.EEXIST)


@contextlib.contextmanager
def output_folder(target: str | os.PathLike, *, force: bool = False,
                  protected: Iterable[str | os.PathLike] = (), kind: str = "report",
                  command: str = "survrad",
                  exit_code: Callable[[BaseException], int] = default_exit_code,
                  on_failure: Callable[[OutputFolder, BaseException], None] | None = None
                  ) -> Iterator[OutputFolder]:
    """Check ``target``, lock it, and yield an :class:`OutputFolder` to write into.

    Parameters
    ----------
    target : path
        The final folder.
    force : bool, default False
        Replace an existing folder survrad wrote (unchanged) or an empty one.
    protected : paths
        Inputs and the study file (never inside the target).
    kind : str
        What the folder holds ("report", "simulation", ...), recorded in the marker.
    command : str
        Recorded in the lock, shown to a second run.
    exit_code : callable
        Maps the exception of a failed run to the exit code recorded in ``error.json``.
    on_failure : callable, optional
        Called with the folder and the exception before the temporary folder is renamed
        to ``<target>.failed-<time>`` (e.g. to save what was computed).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with output_folder(root / "out") as out:
    ...     _ = (out.path / "a.txt").write_text("x")
    >>> (root / "out" / "a.txt").read_text()
    'x'
    >>> sorted(p.name for p in (root / "out").iterdir())
    ['.survrad-output.json', 'a.txt']
    """
    folder = check_target(target, force=force, protected=protected)
    lock = _Lock(folder, command)
    lock.acquire()
    try:
        out = OutputFolder(folder, force, kind, exit_code)
        out.begin()
        try:
            yield out
            out.succeed()
        except BaseException as exc:
            if out.path.exists() and out.path != folder:
                if on_failure is not None:
                    with contextlib.suppress(Exception):
                        on_failure(out, exc)
                failed = out.fail(exc)
                with contextlib.suppress(AttributeError, TypeError):
                    exc.failed_folder = str(failed)   # shown by the command line
            raise
    finally:
        lock.release()

"""Every file the code, the docstrings, the tests, README and docs/ mention is in the
repository.

A mention is a path with a folder and an extension (``survrad/data/io.py``,
``tests/r/survival.json``, ``figures/km.png``) or a Markdown file name (``data.md``). It
is found when a file of the repository has that path (or ends with it: ``data/io.py``
inside ``survrad/``), or, for a bare name, that name. Paths that are examples of a user's
files or of the files inside an output folder, and citations of other projects' files,
are listed in :data:`ALLOWED` with the reason.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED_FOLDERS = ("survrad", "tests", "benchmarks", "analyses", "docs")
SCANNED_FILES = ("README.md", "reports/README.md")
SCANNED_SUFFIXES = (".py", ".md", ".toml", ".R", ".sh")
_SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "_build",
              ".venv", "build", "dist"}

_EXT = "py|md|csv|tsv|json|jsonl|R|toml|txt|html|sh|parquet|pq|png|pdf|yml|yaml|nrrd"
MENTION = re.compile(
    rf"(?<![\w/.\-<$*{{])((?:[\w.\-]+/)+[\w.\-]+\.(?:{_EXT}))(?![\w/])"   # a/b/c.ext
    r"|(?<![\w/.\-<$*{])([\w\-]+\.md)(?![\w/])")                         # file.md

#: A mention that names no file of the repository on purpose -> why.
ALLOWED: dict[str, str] = {
    "out/model/index.json": "the index `survrad fit` writes into its output folder",
    "model/index.json": "the index `survrad fit` writes into its output folder",
    "../km.png": "a figure path the report writer must refuse (tests/test_report_html.py)",
    "ct/P01.nrrd": "example image path of a PyRadiomics batch file (read_pyradiomics)",
    "ct/P02.nrrd": "example image path of a PyRadiomics batch file (read_pyradiomics)",
    "seg/P01.nrrd": "example mask path of a PyRadiomics batch file (read_pyradiomics)",
    "seg/P02.nrrd": "example mask path of a PyRadiomics batch file (read_pyradiomics)",
    "images/P001_img.nrrd": "a synthetic image tests/test_extract.py writes",
    "images/P002_sgm.nrrd": "a synthetic mask tests/test_extract.py writes",
    "run/lesions.csv": "example output of survrad extract",
    "demo_report/index.html": "the page README's demo command writes",
    "tests/concordance.R": "a test file of R's survival package, cited as the source of "
                           "known answers",
    "tests/data/synthetic_measurements.csv": "a test file of pyrecist, cited as the source "
                                             "of a RECIST oracle",
}
#: Folders of an output folder (a report): ``figures/km_os.png`` names a file survrad
#: writes, checked by the report tests, not a file of the repository.
OUTPUT_PREFIXES = ("figures/", "tables/")
#: (file, mention) still waiting for their owner to update them -> the fix.
PENDING: dict[tuple[str, str], str] = {}


def _repository_files() -> list[str]:
    out = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info")]
        rel = Path(folder).relative_to(ROOT)
        out += [(rel / f).as_posix() for f in files]
    return sorted(out)


FILES = _repository_files()
_FILE_SET = set(FILES)
_DIRS = {"/".join(f.split("/")[:i]) for f in FILES for i in range(1, f.count("/") + 1)}
_NAMES = {f.rsplit("/", 1)[-1] for f in FILES}


def exists(mention: str) -> bool:
    """Whether ``mention`` names a file or folder of the repository."""
    path = mention
    while path.startswith(("./", "../")):      # relative to the mentioning file's folder
        path = path.split("/", 1)[1]
    if path in _FILE_SET or path in _DIRS:
        return True
    if "/" not in path:
        return path in _NAMES
    return any(f.endswith("/" + path) for f in FILES)


def mentions(text: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in MENTION.finditer(text)]


def scanned() -> list[str]:
    me = Path(__file__).resolve().relative_to(ROOT).as_posix()   # its examples are made up
    out = [f for f in FILES if f.startswith(tuple(d + "/" for d in SCANNED_FOLDERS))
           and f.endswith(SCANNED_SUFFIXES) and f != me]
    return sorted(set(out) | {f for f in SCANNED_FILES if f in _FILE_SET})


def test_scan_finds_mentions_and_files() -> None:
    # a name made up here, so that no document of that name is ever referred to
    absent = f"x{uuid.uuid4().hex}.md"
    assert "survrad/data/io.py" in FILES and "tests/test_docs.py" in scanned()
    assert mentions(f"see `survrad/data/io.py` and docs/reliability.md #22, {absent}") \
        == ["survrad/data/io.py", "docs/reliability.md", absent]
    assert mentions("fnmatch globs `rad_*`, a/b, 0.5, tests/r/<topic>.json, x.py") == []
    assert exists("data/io.py") and exists("io.py") and exists("docs/data.md")
    assert not exists(absent) and not exists(f"survrad/{absent[:-3]}.py")


def test_every_mentioned_file_exists() -> None:
    missing = []
    for rel in scanned():
        text = (ROOT / rel).read_text(encoding="utf-8", errors="replace")
        for name in mentions(text):
            if (exists(name) or name in ALLOWED or name.startswith(OUTPUT_PREFIXES)
                    or (rel, name) in PENDING):
                continue
            missing.append(f"{rel}: {name}")
    assert not missing, ("files mentioned but not in the repository (point inside the "
                         "repository, or add an example path to ALLOWED with the reason): "
                         + "; ".join(sorted(set(missing))))


def test_allowed_and_pending_entries_are_still_needed() -> None:
    texts = {rel: (ROOT / rel).read_text(encoding="utf-8", errors="replace")
             for rel in scanned()}
    found = {name for text in texts.values() for name in mentions(text)}
    stale = [name for name in ALLOWED if name not in found or exists(name)]
    stale += [f"{rel}: {name}" for rel, name in PENDING
              if rel not in texts or name not in mentions(texts[rel])]
    assert not stale, f"remove from the allow-lists (no longer mentioned): {stale}"

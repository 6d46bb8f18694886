"""The documents in docs/ build, and say what the code does.

- the Sphinx site (the Markdown pages and the API reference from the docstrings) builds
  with warnings as errors;
- ``docs/study-file.md`` is what ``docs/_study_file.py`` generates from the study schema
  and the estimator registries today, and every key of the schema has a meaning there;
- every test ``docs/reliability.md`` names exists, and every case has one;
- the column roles of ``docs/data.md`` are the fields of ``ColumnNames``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from survrad.data.cohort import ColumnNames

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = ("index", "architecture", "data", "reliability", "study-file", "api")


def _generator():
    spec = importlib.util.spec_from_file_location("_study_file", DOCS / "_study_file.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_sphinx_builds_without_warnings(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-5000:]
    for page in PAGES:
        assert (tmp_path / "html" / f"{page}.html").is_file(), page


def test_index_links_every_page() -> None:
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    for page in PAGES[1:]:
        assert f"]({page}.md)" in text, f"docs/index.md does not link {page}.md"
        assert (DOCS / f"{page}.md").is_file()


# ------------------------------------------------------------------ the study file
def test_study_file_page_is_what_the_schema_and_registries_say() -> None:
    gen = _generator()
    page = (DOCS / "study-file.md").read_text(encoding="utf-8")
    assert gen.render(page) == page, (
        "docs/study-file.md is out of date with survrad/study/schema.py or the estimator "
        "registry: run python docs/_study_file.py and commit the page")


def test_every_schema_key_has_a_meaning_and_every_meaning_a_key() -> None:
    gen = _generator()
    keys, described = set(gen.schema_keys()), set(gen.MEANINGS)
    assert not keys - described, (
        f"study-file keys without a meaning in docs/_study_file.py: {sorted(keys - described)}")
    assert not described - keys, (
        f"docs/_study_file.py describes keys the schema lacks: {sorted(described - keys)}")


def test_every_estimator_of_the_registry_is_documented_with_its_parameters() -> None:
    import inspect

    from survrad.study.registry import FEATURE_STEPS, MODELS, STRATEGIES

    page = (DOCS / "study-file.md").read_text(encoding="utf-8")
    classes = {**STRATEGIES, **FEATURE_STEPS, **{k: c for k, (_, c) in MODELS.items()}}
    for name, cls in classes.items():
        assert f"`{cls.__module__}.{cls.__name__}`" in page, name
        for par in inspect.signature(cls.__init__).parameters:
            if par != "self":
                assert f"| `{par}` |" in page, f"{cls.__name__}.{par} is not documented"


def test_generated_types_and_defaults_are_readable() -> None:
    gen = _generator()
    keys = gen.schema_keys()
    assert keys["validation.n_boot"] == ("integer (>= 20, <= 100,000)", "`200`")
    assert keys["validation.ci_level"] == ("number (> 0, < 1)", "`0.95`")
    assert keys["endpoints.<name>.kind"] == ('`"survival"` or `"binary"`', '`"survival"`')
    assert keys["report.high_risk"][0] == '`"top1"` or number (> 0, < 1)'


# -------------------------------------------------------------------- reliability
_TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[([\w.-]+)\])?`")
_MORE_IDS = re.compile(r"`\[([\w.-]+)\]`")


def _reliability_rows() -> dict[tuple[str, str], str]:
    """(section, case number) -> the row's text, for the two tables of the page."""
    text = (DOCS / "reliability.md").read_text(encoding="utf-8")
    rows, section = {}, ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        m = re.match(r"^\| (\d+) \|", line)
        if m:
            rows[(section, m.group(1))] = line
    return rows


def test_reliability_page_has_every_case_with_a_test() -> None:
    rows = _reliability_rows()
    assert sorted(int(n) for s, n in rows if s == "Bad input") == list(range(1, 27))
    assert sorted(int(n) for s, n in rows if s == "Nothing lost") == list(range(1, 12))
    for key, row in rows.items():
        assert _TEST_REF.search(row), f"docs/reliability.md {key} names no test"


def test_every_test_the_reliability_page_names_exists() -> None:
    missing = []
    for row in _reliability_rows().values():
        last_file, last_test = None, None
        for part in re.split(r"(?=`tests/)|(?=`\[)", row):
            m = _TEST_REF.match(part)
            if m:
                last_file, last_test, case = m.group(1), m.group(2), m.group(3)
            else:
                m = _MORE_IDS.match(part)
                if not m:
                    continue
                case = m.group(1)     # `[id]` after a test: another case of the same test
            source = (ROOT / last_file).read_text(encoding="utf-8")
            if not re.search(rf"^\s*def {last_test}\(", source, re.MULTILINE):
                missing.append(f"{last_file}::{last_test}")
            elif case and f'"{case}"' not in source:
                missing.append(f"{last_file}::{last_test}[{case}]")
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"


# --------------------------------------------------------------------------- data
def test_column_roles_table_is_column_names() -> None:
    text = (DOCS / "data.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| `([\w.]+)` \| (\w+) \|", text, re.MULTILINE)
    fields = {f.name: f.default for f in dataclasses.fields(ColumnNames)}
    assert {role: column for role, column, _ in rows} == fields

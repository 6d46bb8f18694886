"""No reference value is copied by hand into a test or a benchmark.

Numbers from R live in ``tests/r/<topic>.json``, written by ``tests/r/<topic>.R`` and read
with ``rref.r_ref(topic, case)`` (``tests/r/README.md``). A float literal with more than
six significant digits in ``tests/`` or ``benchmarks/`` is almost always such a copy, so
each one is an error unless :data:`ALLOWED` names it with a reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("tests", "benchmarks")
MAX_DIGITS = 6

#: (file relative to the repository, literal as written) -> why it is not a copied value.
#: Keep it short: a value that comes from R belongs in tests/r/*.json.
ALLOWED: dict[tuple[str, str], str] = {}


def significant_digits(literal: str) -> int:
    """Significant digits of a float literal as written (``0.00123`` -> 3, ``1e-12`` -> 1).

    Leading zeros never count; trailing zeros of the mantissa are not counted either
    (``100000000.0`` is a round number, not a copied one).

    >>> significant_digits("0.6371354930005"), significant_digits("8.1e-05")
    (13, 2)
    """
    mantissa = literal.lower().replace("_", "").split("e")[0]
    return len(mantissa.replace(".", "").strip("0"))


def float_literals(path: Path) -> list[tuple[int, str]]:
    """(line, source text) of every float literal in a Python file."""
    source = path.read_text(encoding="utf-8")
    lines = source.encode("utf-8").splitlines()
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and type(node.value) is float:
            # a number literal sits on one line; offsets count UTF-8 bytes
            text = lines[node.lineno - 1][node.col_offset:node.end_col_offset]
            out.append((node.lineno, text.decode("utf-8")))
    return sorted(out)


FILES = sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def test_the_scan_sees_the_test_files() -> None:
    assert ROOT / "tests" / "test_cox_r_parity.py" in FILES
    assert ROOT / "benchmarks" / "bench_bootstrap.py" in FILES


@pytest.mark.parametrize(("literal", "digits"), [
    ("0.6371354930005", 13), ("1e-12", 1), ("1.959963984540054", 16), ("100000000.0", 1),
    ("0.001220343510937", 13), ("8.132051304623e-05", 13), ("1_000.5", 5), ("0.5", 1)])
def test_significant_digits(literal: str, digits: int) -> None:
    assert significant_digits(literal) == digits


def test_no_float_literal_with_more_than_six_significant_digits() -> None:
    found = []
    for path in FILES:
        rel = path.relative_to(ROOT).as_posix()
        for line, text in float_literals(path):
            if significant_digits(text) > MAX_DIGITS and (rel, text) not in ALLOWED:
                found.append(f"{rel}:{line}: {text}")
    assert not found, (
        "float literals with more than 6 significant digits (copied reference values?): "
        + "; ".join(found) + ". Put R values in tests/r/<topic>.R, regenerate the JSON "
        "(bash tests/r/regenerate.sh <topic>) and read them with r_ref(topic, case).")


def test_allowed_entries_still_exist_and_give_a_reason() -> None:
    for (rel, text), reason in ALLOWED.items():
        assert reason.strip(), f"{rel}: {text} needs a reason"
        literals = [t for _, t in float_literals(ROOT / rel)]
        assert text in literals, f"{rel} no longer holds {text}: remove it from ALLOWED"

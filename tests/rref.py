"""R reference values for the parity tests.

Every ``tests/r/<topic>.R`` script writes ``tests/r/<topic>.json`` (one JSON object, one
entry per case); ``bash tests/r/regenerate.sh`` reruns them when R is available. Tests
read the values from that JSON, never from literals copied by hand, and name the R call
beside each assertion. ``tests/test_r_references.py`` checks that the cases each script
assigns (``pub$<case> <- ...``) and the cases its JSON holds are the same list.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

R_DIR = Path(__file__).resolve().parent / "r"

__all__ = ["R_DIR", "r_cases", "r_ref"]


@functools.cache
def _load(topic: str) -> dict[str, Any]:
    path = R_DIR / f"{topic}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def r_ref(topic: str, case: str) -> dict[str, Any]:
    """The values of ``case`` written by ``tests/r/<topic>.R``."""
    data = _load(topic)
    if case not in data:
        raise KeyError(f"tests/r/{topic}.json has no case {case!r}; cases: {sorted(data)}. "
                       f"Add it to tests/r/{topic}.R and run bash tests/r/regenerate.sh.")
    return data[case]


_CASE = re.compile(r"^\s*pub\$([A-Za-z0-9_.]+)\s*<-", re.MULTILINE)


def r_cases(topic: str) -> list[str]:
    """The cases ``tests/r/<topic>.R`` assigns, in script order."""
    text = (R_DIR / f"{topic}.R").read_text(encoding="utf-8")
    return list(dict.fromkeys(_CASE.findall(text)))

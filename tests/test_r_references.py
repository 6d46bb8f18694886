"""The committed R reference values agree with the committed R scripts that made them."""

from __future__ import annotations

import json

import pytest
from rref import R_DIR, r_cases

TOPICS = sorted(p.stem for p in R_DIR.glob("*.R"))


def test_every_script_has_its_json() -> None:
    jsons = sorted(p.stem for p in R_DIR.glob("*.json"))
    assert TOPICS, "no R reference scripts in tests/r"
    assert jsons == TOPICS, "each tests/r/<topic>.R writes tests/r/<topic>.json and only it"


@pytest.mark.parametrize("topic", TOPICS)
def test_json_holds_the_cases_the_script_writes(topic: str) -> None:
    data = json.loads((R_DIR / f"{topic}.json").read_text(encoding="utf-8"))
    assert list(data) == r_cases(topic), (
        f"tests/r/{topic}.json is stale: rerun bash tests/r/regenerate.sh {topic}")

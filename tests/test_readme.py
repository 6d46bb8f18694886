"""README's promises hold: its Python example runs and its set-up commands are current."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text("utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_python_example_runs(capsys) -> None:
    (code,) = _blocks("python")
    # the example's B = 200 with two processes takes a minute; the plumbing is the same
    code = code.replace("n_boot=200", "n_boot=3").replace("n_jobs=2", "n_jobs=1")
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    for column in ("metric", "apparent", "optimism", "corrected", "ci_low", "ci_high",
                   "n_boot", "n_failed"):
        assert column in out
    # the example's last line: three subjects ranked in event order, C = 1
    assert out.strip().splitlines()[-1] == "1.0"


def test_setup_is_two_commands_install_then_tests() -> None:
    install, tests = _blocks("bash")[:2]
    # the first command installs the runtime only and runs the demo
    assert "pip install -e . " in install and "[test]" not in install
    assert "survrad run --demo --out" in install
    assert tests.strip() == 'pip install -e ".[test]" && python -m pytest'
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    steps = [ci.index(s) for s in ("pip install -q -e .\n", "survrad run --demo --out",
                                   'pip install -q -e ".[test]"', "python -m pytest")]
    assert steps == sorted(steps)


def test_runtime_dependencies_are_imported_by_the_package() -> None:
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"][
        "dependencies"]
    imports = {"scikit-learn": "sklearn", "scikit-survival": "sksurv"}
    source = "\n".join(p.read_text("utf-8") for p in (ROOT / "survrad").rglob("*.py"))
    for dep in deps:
        name = re.split(r"[<>=\[ ]", dep, maxsplit=1)[0]
        module = imports.get(name, name.replace("-", "_"))
        assert re.search(rf"^\s*(import|from) {module}\b", source, flags=re.M), name


def test_summary_columns_named_in_readme_are_the_real_ones() -> None:
    from survrad.evaluation.bootstrap import ValidationResult

    named = re.search(r"# (metric, horizon, apparent, .*?n_failed)", README).group(1).split(", ")
    res = ValidationResult("optimism", "os", (), {}, pd.DataFrame(), 0, 0, 0.95)
    assert list(res.summary().columns) == named

"""A module imports only from its own or lower layers (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "survrad"

LAYERS = {
    "survrad.exceptions": 0,
    "survrad._validation": 0,
    "survrad._spelling": 0,
    "survrad._outputs": 0,
    "survrad._math": 0,
    "survrad.data": 1,
    "survrad.datasets": 1,
    "survrad.lesions": 2,
    "survrad.longitudinal": 2,
    "survrad.features": 3,
    "survrad.models": 4,
    "survrad.evaluation": 5,
    "survrad.reporting": 6,
    "survrad.study": 7,
    "survrad.cli": 7,
    "survrad.extract": 7,
    "survrad.predict": 7,
    "survrad.fit": 7,
}


def layer_of(module: str) -> int:
    best = None
    for prefix, layer in LAYERS.items():
        inside = module == prefix or module.startswith(prefix + ".")
        if inside and (best is None or len(prefix) > len(best[0])):
            best = (prefix, layer)
    if best is None:
        raise KeyError(f"{module} has no layer: add it to LAYERS and to docs/architecture.md")
    return best[1]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = sorted(p for p in ROOT.rglob("*.py") if p != ROOT / "__init__.py")


def survrad_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("survrad")]
        elif (isinstance(node, ast.ImportFrom) and node.module and node.level == 0
              and node.module.startswith("survrad")):
            found.append(node.module)
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_respect_layers(path: Path) -> None:
    me = module_name(path)
    mine = layer_of(me)
    for imported in survrad_imports(path):
        if imported == "survrad":
            pytest.fail(f"{me} imports the top-level package; import the defining module")
        assert layer_of(imported) <= mine, f"{me} (layer {mine}) imports {imported}"


def test_matplotlib_only_in_reporting() -> None:
    for path in MODULES:
        me = module_name(path)
        if me.startswith("survrad.reporting"):
            continue
        text = path.read_text(encoding="utf-8")
        assert "import matplotlib" not in text, f"{me} imports matplotlib"


# Reporting renders; it does not compute. From the analysis layers it may import only
# result records (dataclasses) and constants; these exceptions are named with a reason.
RENDER_ONLY_EXCEPTIONS = {
    # input checkers: the swimmer plot validates the table it is given
    ("survrad.data.outcome", "Surv"): "validates counting-process rows given to a figure",
    ("survrad.data.outcome", "check_event"): "validates the state column given to a figure",
    # deprecated constructors kept one release; they call the computation's new home
    ("survrad.evaluation.groups", "risk_groups_from_training"): "deprecated alias",
    ("survrad.evaluation.groups", "risk_group_survival"): "deprecated from_risk_groups",
    ("survrad.evaluation.groups", "roc_curve"): "deprecated ROCDisplay.from_predictions",
}
_RENDER_FREE = ("survrad.reporting", "survrad._validation", "survrad.exceptions",
                "survrad._outputs", "survrad._math", "survrad._spelling")


def _imported_names(path: Path) -> list[tuple[str, str, int]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "survrad") and not node.module.startswith(_RENDER_FREE):
            out += [(node.module, a.name, node.lineno) for a in node.names]
    return out


@pytest.mark.parametrize("path", sorted((ROOT / "reporting").glob("*.py")), ids=lambda p: p.name)
def test_reporting_imports_only_results_and_constants(path: Path) -> None:
    import dataclasses
    import importlib

    wrong = []
    for module, name, line in _imported_names(path):
        obj = getattr(importlib.import_module(module), name)
        record = isinstance(obj, type) and dataclasses.is_dataclass(obj)
        if not (record or name.isupper() or (module, name) in RENDER_ONLY_EXCEPTIONS):
            wrong.append(f"{path.name}:{line} imports {module}.{name}")
    assert not wrong, ("reporting computes nothing: move the computation to evaluation/ "
                       "and pass its result record in: " + "; ".join(wrong))


def test_structure_never_travels_in_joined_strings() -> None:
    # no " | "-joined warnings, "model/strategy" names or "metric@horizon" keys to split
    pattern = ('.split(" | ")', ".split('/')", '.split("/")', '.split("@")', ".split('@')",
               '.partition("@")', '.rpartition("@")')
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in ROOT.rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1)
            if any(s in line for s in pattern)]
    assert not hits, hits

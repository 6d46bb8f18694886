"""The committed demo report, re-rendered from its saved results: every figure passes
the journal checks (no overlapping texts, no text on data, every axis labelled, nothing
outside the figure) and the page stays short enough to read (< 8,000 px at 1,400 px)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from figure_checks import check_figure
from test_browser import _chromium, _run

from survrad.evaluation.results import StudyResults
from survrad.reporting import report as report_module

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "reports" / "demo"
MAX_PAGE_HEIGHT = 8000

_HEIGHT = """<script>
window.addEventListener("load", function () {
  document.body.dataset.height = String(document.documentElement.scrollHeight);
});
</script>
</body>"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Render the demo report from its saved results, checking each figure as drawn."""
    results = StudyResults.load(DEMO / "results")
    manifest = json.loads((DEMO / "manifest.json").read_text(encoding="utf-8"))
    problems: dict[str, str] = {}
    original = report_module._draw

    def checked(make, stem):
        def make_and_check():
            display = make()
            try:
                check_figure(display.figure_)
            except AssertionError as exc:
                problems[stem.name] = str(exc)
            return display
        return original(make_and_check, stem)

    root = tmp_path_factory.mktemp("demo") / "report"
    root.mkdir()
    mp = pytest.MonkeyPatch()
    mp.setattr(report_module, "_draw", checked)
    try:
        report_module.render_report(root, results, manifest, n_jobs=1)
    finally:
        mp.undo()
    return root, problems


@pytest.mark.slow
def test_every_demo_figure_passes_the_journal_checks(rendered) -> None:
    root, problems = rendered
    drawn = sorted(p.stem for p in (root / "figures").glob("*.png"))
    assert drawn == sorted(p.stem for p in (DEMO / "figures").glob("*.png"))
    assert not problems, "\n".join(f"{k}: {v}" for k, v in sorted(problems.items()))


@pytest.mark.slow
def test_demo_page_is_under_8000_px_at_1400_px(rendered, tmp_path: Path) -> None:
    root, _ = rendered
    browser = _chromium()
    page = root / "height.html"
    page.write_text((root / "index.html").read_text(encoding="utf-8")
                    .replace("</body>", _HEIGHT), encoding="utf-8")
    res = _run(browser, tmp_path / "profile", "--dump-dom", "--virtual-time-budget=5000",
               "--window-size=1400,900", page.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    height = int(re.search(r'data-height="(\d+)"', res.stdout).group(1))
    assert 0 < height < MAX_PAGE_HEIGHT, height


@pytest.mark.slow
def test_survrad_report_re_renders_the_demo_without_fitting(tmp_path: Path) -> None:
    from survrad.cli import main
    from survrad.evaluation import bootstrap
    from survrad.models import cox, forest, pipeline, response

    def refuse(*args, **kwargs):
        raise RuntimeError("the report layer must not fit or resample anything")

    mp = pytest.MonkeyPatch()
    for owner, name in ((cox.CoxModel, "fit"), (forest.SurvivalForest, "fit"),
                        (response.LogisticModel, "fit"), (response.ForestClassifier, "fit"),
                        (pipeline.CohortPipeline, "fit"), (bootstrap, "bootstrap_validate"),
                        (bootstrap, "compare_pipelines")):
        mp.setattr(owner, name, refuse)
    try:
        out = tmp_path / "again"
        code = main(["report", str(DEMO), "--out", str(out)])
    finally:
        mp.undo()
    assert code == 0
    committed = sorted(p.relative_to(DEMO).as_posix() for p in (DEMO / "tables").glob("*.csv"))
    assert committed
    for name in [*committed, "results.json", "results.csv", "index.html"]:
        assert (out / name).read_bytes() == (DEMO / name).read_bytes(), name

"""The report page opened in headless Chromium: it renders, every image loads.

Locally the test is skipped when Chromium is not installed; under CI (env ``CI`` set) a
missing browser is a failure. The production page has no JavaScript: the image check
runs on a COPY of the page with a small script added.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from survrad.reporting.html import ReportFigure, ReportTable, write_index_html
from survrad.reporting.tables import write_csv

_CHECK = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; });
  document.body.dataset.images = String(imgs.length);
  document.body.dataset.broken = String(broken.length);
  document.body.dataset.loaded = "yes";
});
</script>
</body>"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    msg = "Chromium is not installed (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"{msg}; the browser check is required under CI.")
    pytest.skip(msg)


def _run(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--no-first-run", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
           f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


class _Headings(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.h2: list[str] = []
        self.img: list[str] = []
        self._open = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "h2":
            self._open = True
            self.h2.append("")
        if tag == "img":
            self.img.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag == "h2":
            self._open = False

    def handle_data(self, data):
        if self._open:
            self.h2[-1] += data


def _make_report(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for name, width in (("km_os", 3.5), ("strategy_comparison", 7.0)):
        fig = Figure(figsize=(width, 2.6))
        ax = fig.subplots()
        for k in range(3):
            t = np.sort(rng.exponential(10, 40))
            ax.step(t, np.linspace(1, 0, 40), where="post", label=f"group {k + 1}")
        ax.set_xlabel("months")
        ax.set_ylabel("survival")
        ax.legend(frameon=False)
        fig.tight_layout()
        (root / "figures").mkdir(parents=True, exist_ok=True)
        fig.savefig(root / "figures" / f"{name}.png", dpi=150)
        fig.savefig(root / "figures" / f"{name}.pdf")
    table = pd.DataFrame({"strategy": ["largest", "burden", "statistics"],
                          "corrected C": [0.6811, 0.6553, 0.6956],
                          "95% CI": ["0.64\u20130.72", "0.61\u20130.70", "0.65\u20130.74"]})
    write_csv(table, root / "results.csv")
    return write_index_html(
        root, title="Browser check", methods="Cox model; bootstrap optimism correction.",
        sections=[("Strategy comparison",
                   [ReportTable(table, "Corrected C-index", csv="results.csv"),
                    ReportFigure("figures/strategy_comparison.png", "Strategies")]),
                  ("Survival", [ReportFigure("figures/km_os.png", "Kaplan-Meier")])],
        warnings=[], manifest={"random_state": 0, "command": "survrad run --demo"})


def _body_data(dom: str) -> dict[str, str]:
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    return dict(re.findall(r'data-([a-z]+)="([^"]*)"', body.group(1)))


@pytest.mark.slow
def test_report_renders_in_chromium(tmp_path):
    browser = _chromium()
    root = tmp_path / "report"
    page = _make_report(root)
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text

    # (a) every image the page references is a file of the folder
    parsed = _Headings(text)
    assert len(parsed.img) == 2
    for src in parsed.img:
        assert (root / src).is_file(), src

    # (b) the screenshot succeeds and is not blank
    shot = tmp_path / "shot.png"
    res = _run(browser, tmp_path / "profile1", f"--screenshot={shot}",
               "--window-size=1280,2000", page.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    pixels = imread(shot)
    assert pixels.shape[:2] == (2000, 1280)
    grey = pixels[..., :3].mean(axis=2)
    assert grey.std() > 0.05
    assert np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0).shape[0] > 50

    # (c) on a copy with a check script: every image loaded (complete, natural width > 0)
    check = root / "check.html"
    check.write_text(text.replace("</body>", _CHECK), encoding="utf-8")
    res = _run(browser, tmp_path / "profile2", "--dump-dom", "--virtual-time-budget=5000",
               check.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    data = _body_data(res.stdout)
    assert data == {"images": "2", "broken": "0", "loaded": "yes"}

    # (d) the rendered page has the expected sections
    assert _Headings(res.stdout).h2 == ["Contents", "Methods", "Strategy comparison",
                                        "Survival", "Warnings", "Reproducibility"]

    # negative control: the same check flags a missing image
    bad = root / "bad.html"
    bad.write_text(check.read_text().replace("figures/km_os.png", "figures/missing.png"),
                   encoding="utf-8")
    res = _run(browser, tmp_path / "profile3", "--dump-dom", "--virtual-time-budget=5000",
               bad.as_uri())
    assert _body_data(res.stdout)["broken"] == "1"

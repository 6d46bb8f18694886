"""The self-contained report page and the generated Methods text."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from survrad.reporting.html import (
    ReportFigure,
    ReportTable,
    ReportText,
    methods_paragraph,
    write_index_html,
)
from survrad.reporting.tables import write_csv


class Page(HTMLParser):
    """Collects tags, attributes, headings, ids and visible text of a page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.h2: list[str] = []
        self.ids: set[str] = set()
        self.text: list[str] = []
        self._in_h2 = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if "id" in a:
            assert a["id"] not in self.ids, f"duplicate id {a['id']}"
            self.ids.add(a["id"])
        if tag == "h2":
            self._in_h2 = True
            self.h2.append("")

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.h2[-1] += data
        self.text.append(data)

    def attrs(self, name):
        return [a[name] for _, a in self.tags if name in a]


def _png(path: Path, width_in: float = 3.5, seed: int = 0) -> None:
    fig = Figure(figsize=(width_in, 2.5))
    ax = fig.subplots()
    rng = np.random.default_rng(seed)
    ax.plot(np.cumsum(rng.normal(size=50)))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=300)
    fig.savefig(path.with_suffix(".pdf"))


@pytest.fixture(scope="module")
def _template(tmp_path_factory):
    root = tmp_path_factory.mktemp("template") / "report"
    _png(root / "figures" / "km.png")
    _png(root / "figures" / "forest plot.png", width_in=7.0, seed=1)
    (root / "figures" / "forest plot.pdf").unlink()          # PNG only: no PDF link
    table = pd.DataFrame({"metric": ["c_index", "ibs"], "apparent": [0.712345, 0.1],
                          "ci_low": [0.65, np.nan], "n_failed": [0, 3]})
    write_csv(table, root / "results.csv")
    (root / "manifest.json").write_text("{}")
    return root, table


@pytest.fixture
def report(_template, tmp_path):
    """A fresh copy of the report folder (figures drawn once per module)."""
    template, table = _template
    root = tmp_path / "report"
    shutil.copytree(template, root)
    return root, table.copy()


def _write(root, table, **kw):
    sections = [
        ("Strategy comparison", [
            "Corrected C-index by strategy.",
            ReportTable(table, "Validation <results> & more", csv="results.csv"),
            ReportFigure("figures/km.png", "Kaplan-Meier by risk group"),
        ]),
        ("Model", [ReportFigure("figures/forest plot.png", "Forest plot"),
                   ReportText("First paragraph.\n\nSecond <b>paragraph</b>.")]),
    ]
    args = dict(title="Demo & <study>", methods="Cox model.\n\nBootstrap.",
                sections=sections)
    args.update(kw)
    return write_index_html(root, **args)


def test_page_is_self_contained_and_relative(report):
    root, table = report
    page_path = _write(root, table)
    assert page_path == root / "index.html"
    text = page_path.read_text(encoding="utf-8")
    page = Page(text)
    assert not any(t == "script" for t, _ in page.tags)
    assert not any(t == "link" for t, _ in page.tags)           # CSS is inline
    refs = page.attrs("src") + page.attrs("href")
    assert refs and not any("http" in r or r.startswith("/") or ":" in r for r in refs)
    for ref in refs:
        if ref.startswith("#"):
            assert ref[1:] in page.ids                          # contents links resolve
        else:
            from urllib.parse import unquote
            assert (root / unquote(ref)).is_file(), ref
    assert page.attrs("src") == ["figures/km.png", "figures/forest%20plot.png"]
    hrefs = page.attrs("href")
    assert "figures/km.pdf" in hrefs and "figures/forest%20plot.pdf" not in hrefs
    assert "results.csv" in hrefs
    # the folder can be moved: every relative reference still resolves
    moved = root.parent / "elsewhere"
    shutil.move(root, moved)
    for ref in page.attrs("src"):
        from urllib.parse import unquote
        assert (moved / unquote(ref)).is_file()


def test_sections_contents_and_numbering(report):
    root, table = report
    text = _write(root, table, warnings=[], manifest={"random_state": 3}).read_text()
    page = Page(text)
    assert page.h2 == ["Contents", "Methods", "Strategy comparison", "Model", "Warnings",
                       "Reproducibility"]
    assert {"methods", "strategy-comparison", "model", "warnings",
            "reproducibility"} <= page.ids
    body = "".join(page.text)
    assert "Figure 1." in body and "Figure 2." in body and "Table 1." in body
    assert body.index("Figure 1.") < body.index("Figure 2.")
    assert "No warnings were recorded" in body
    # optional sections are left out when not given
    page2 = Page(_write(root, table).read_text())
    assert "Warnings" not in page2.h2 and "Reproducibility" not in page2.h2


def test_all_text_is_escaped(report):
    root, table = report
    text = _write(root, table, description="<i>x</i>").read_text()
    assert "<study>" not in text and "Demo &amp; &lt;study&gt;" in text
    assert "<b>paragraph</b>" not in text and "&lt;b&gt;paragraph&lt;/b&gt;" in text
    assert "Validation &lt;results&gt; &amp; more" in text
    assert "<i>x</i>" not in text
    page = Page(text)
    assert "Second <b>paragraph</b>." in "".join(page.text)    # shown as text


def test_table_cells_and_truncation(report):
    root, table = report
    text = _write(root, table).read_text()
    assert "<td class=\"num\">0.7123</td>" in text                # 4 significant digits
    assert "\u2014" in text                                      # NaN as an em dash
    big = pd.DataFrame({"id": [f"P{i}" for i in range(120)], "risk": np.linspace(0, 1, 120)})
    write_csv(big, root / "big.csv")
    text = write_index_html(root, title="t", methods="m", sections=[
        ("Lesions", [ReportTable(big, "Lesion risk", csv="big.csv", max_rows=10,
                                 notes=["A note."])])]).read_text()
    page = Page(text)
    assert sum(1 for t, _ in page.tags if t == "tr") == 11      # header + 10 rows
    assert "Showing the first 10 of 120 rows; the full table is in big.csv." in text
    assert "A note." in text
    # section rows of a display table (label only) span the table
    shown = pd.DataFrame({"Characteristic": ["Patients", "age"], "Overall": ["", "63"]})
    shown.attrs["notes"] = ["IQR, interquartile range."]
    text = write_index_html(root, title="t", methods="m", sections=[
        ("Cohort", [ReportTable(shown, "Table 1")])]).read_text()
    assert '<tr class="subhead"><th colspan="2" scope="rowgroup">Patients</th></tr>' in text
    assert "IQR, interquartile range." in text


def test_figures_shown_at_twice_print_size(report):
    root, table = report
    page = Page(_write(root, table).read_text())
    imgs = [a for t, a in page.tags if t == "img"]
    # 3.5 in at 300 dpi = 1050 px -> 2 * 96 px/in * 3.5 in = 672 CSS px
    assert imgs[0]["width"] == "672" and imgs[0]["height"] == "480"
    assert imgs[1]["width"] == "1344"
    assert imgs[0]["alt"] == "Kaplan-Meier by risk group"


def test_page_is_deterministic_and_has_no_times(report):
    root, table = report
    manifest = {"command": ["survrad", "run", "study toml", "--out", "r"],
                "config": {"random_state": 11},
                "inputs": {"patients": {"path": "/data/p.csv", "size": 1234,
                                        "sha256": "ab" * 32}},
                "versions": {"survrad": "0.1.0", "numpy": "2.0", "dask": None},
                "started": "2031-05-06T07:08:09", "finished": "2031-05-06T07:09:10",
                "durations": {"total": 61.5}}
    warnings = [{"category": "ConvergenceWarning", "message": "did not converge",
                 "endpoint": "os", "strategy": "mil", "replicate": r} for r in range(12)]
    warnings.append({"category": "DataWarning", "message": "2 patients without lesions",
                     "endpoint": "os"})
    a = _write(root, table, manifest=manifest, warnings=warnings).read_bytes()
    b = _write(root, table, manifest=manifest, warnings=warnings).read_bytes()
    assert a == b
    text = a.decode()
    assert "2031" not in text and "61.5" not in text
    assert "survrad run &#x27;study toml&#x27; --out r" in text
    assert "ab" * 32 in text and "1,234 bytes" in text
    assert "<dd>11</dd>" in text                                 # seed from the config
    assert "not installed" in text                               # dask: None
    assert 'href="manifest.json"' in text
    page = Page(text)
    body = "".join(page.text)
    assert ("13 warning(s) were recorded (12 ConvergenceWarning, 1 DataWarning), "
            "2 distinct.") in body
    assert "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, \u2026" in body          # replicates summarised
    assert "endpoint = os; strategy = mil" in body


@pytest.mark.parametrize("path, error, match", [
    ("/abs/km.png", ValueError, "relative"),
    ("https://example.org/km.png", ValueError, "relative"),
    ("../km.png", ValueError, "leaves the report folder"),
    ("figures/none.png", FileNotFoundError, "not found"),
])
def test_bad_figure_paths(report, path, error, match):
    root, _ = report
    with pytest.raises(error, match=match):
        write_index_html(root, title="t", methods="m",
                         sections=[("F", [ReportFigure(path, "c")])])
    assert not (root / "index.html").exists()


def test_bad_items_and_folder(report, tmp_path):
    root, table = report
    with pytest.raises(TypeError, match="report items"):
        write_index_html(root, title="t", methods="m", sections=[("F", [42])])
    with pytest.raises(FileNotFoundError, match="not found"):
        write_index_html(root, title="t", methods="m",
                         sections=[("T", [ReportTable(table, "c", csv="missing.csv")])])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_index_html(tmp_path / "nope", title="t", methods="m", sections=[])


# ---------------------------------------------------------------------------- Methods
VERSIONS = {"survrad": "0.1.0", "python": "3.11.7", "numpy": "2.4.6",
            "scikit-survival": "0.28.0"}
STUDY = {
    "title": "Demo", "random_state": 42,
    "data": {"patients": "/home/x/patients.csv", "lesions": "data/lesions.csv",
             "patient_features": ["age", "ecog"], "lesion_features": ["rad_*"]},
    "endpoints": {"os": {"kind": "survival", "time": "os_time", "event": "os_event",
                         "horizons": [12, 24], "unit": "months"},
                  "response": {"kind": "binary", "target": "objective_response"}},
    "strategies": [{"name": "largest", "method": "largest", "k": 1},
                   {"name": "burden", "method": "burden"},
                   {"name": "stats", "method": "statistics", "stats": ["mean", "max"]},
                   {"name": "D", "method": "lesion_response"},
                   {"name": "E", "method": "lesion_risk", "pooling": ["max"]},
                   {"name": "F", "method": "attention_mil"}],
    "features": [{"step": "combat", "batch_col": "center"},
                 {"step": "correlation", "threshold": 0.9}],
    "models": {"cox": {"penalty": 0.0}, "forest": {"n_estimators": 50}},
    "validation": {"n_boot": 300, "method": "optimism", "ci_level": 0.9,
                   "metrics": ["c_index", "td_auc"], "baselines": True},
}


def test_methods_paragraph_names_every_choice():
    from survrad.study.registry import resolved_models

    study = {**STUDY, "models": resolved_models(STUDY["models"])}
    text = methods_paragraph(study, versions=VERSIONS)
    paragraphs = text.split("\n\n")
    assert len(paragraphs) == 5
    for phrase in ("patients.csv", "lesions.csv", "age, ecog", "rad_*",
                   "evaluated at 12 and 24 months", "binary: objective_response",
                   "A, largest lesion", "B, tumour burden", "C, feature statistics",
                   "D, lesion-level response model", "E, lesion-level Cox model",
                   "F, attention multiple-instance learning", "stats = [mean, max]",
                   "fitted on the training patients of each resample",
                   "ComBat", "batch_col = center", "threshold = 0.9",
                   "Efron", "Harrell's bootstrap optimism correction", "B = 300",
                   "resampled patients with replacement", "refitted the whole pipeline",
                   "90% confidence intervals", "location-shifted", "Noma et al. 2021",
                   "Harrell's C-index", "time-dependent AUC", "seed 42", "SeedSequence",
                   "survrad 0.1.0", "scikit-survival 0.28.0",
                   "clinical covariates only and tumour burden only"):
        assert phrase in text, phrase
    assert "/home/x" not in text                                # file names only
    # forest defaults are read from SurvivalForest when not given
    import inspect

    from survrad.models.forest import SurvivalForest
    leaf = inspect.signature(SurvivalForest).parameters["min_samples_leaf"].default
    assert f"50 trees with at least {leaf} patients per leaf" in text


def test_methods_paragraph_penalised_and_other_validation():
    cfg = {"models": {"cox": {"penalty": 0.05, "l1_ratio": 1.0}},
           "validation": {"n_boot": 100, "method": ".632+"}}
    text = methods_paragraph(cfg, versions={})
    assert "penalised Cox model (lasso; penalty λ = 0.05" in text
    assert "glmnet" in text and "Breslow" in text and "Efron's method" not in text
    assert ".632+ bootstrap" in text and "B = 100" in text
    assert "Software" not in text                               # no versions given
    cv = methods_paragraph({"models": {"cox": {"penalty": "cv", "cv_folds": 5}},
                            "validation": {"method": "cv", "n_folds": 5, "n_boot": 10}},
                           versions={})
    assert "chosen by patient-grouped 5-fold cross-validation" in cv
    assert "repeated patient-grouped 5-fold cross-validation (10 repeats)" in cv
    assert methods_paragraph({}, versions={}).startswith("Performance was estimated")


def test_methods_in_page_are_paragraphs(report):
    root, table = report
    text = _write(root, table, methods=methods_paragraph(STUDY, versions=VERSIONS))
    page = Page(text.read_text())
    n_p = sum(1 for t, _ in page.tags if t == "p")
    assert n_p >= 5 + 3                      # five Methods paragraphs plus the others

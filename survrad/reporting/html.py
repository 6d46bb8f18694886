"""The self-contained HTML report page (``index.html``) and its Methods text.

The page is one static file readable offline: inline CSS, no JavaScript, no external
URL, figures and CSV files referenced by paths RELATIVE to the report folder (so the
folder can be moved, zipped or e-mailed). Every piece of text is HTML-escaped. The page
embeds no run time, so the same results give the same bytes; times live in
``manifest.json``.

A report is an ordered list of sections ``(heading, items)``; an item is a
:class:`ReportFigure` (a PNG, with its PDF linked beside it), a :class:`ReportTable`
(a DataFrame, usually the display table of a ``format_*`` function, with a link to its
CSV) or a :class:`ReportText` (a plain string works too). :func:`write_index_html` adds
a contents list, the Methods (see :func:`methods_paragraph`), the warnings and the
reproducibility essentials of the manifest.
"""

from __future__ import annotations

import dataclasses
import html
import re
import shlex
import struct
import urllib.parse
from collections import Counter
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from survrad._validation import check_int
from survrad.reporting.writer import atomic_write_text, package_versions

__all__ = [
    "ReportFigure",
    "ReportTable",
    "ReportText",
    "methods_paragraph",
    "write_index_html",
]


# ======================================================================== items
@dataclasses.dataclass(frozen=True)
class ReportFigure:
    """A figure of the report.

    Attributes
    ----------
    png : str
        Path of the PNG relative to the report folder, e.g. ``"figures/km_os.png"``.
    caption : str
    pdf : str or None
        Relative path of the vector version; ``None`` links ``<png stem>.pdf`` when that
        file exists.
    folded : bool, default False
        Shown only when the reader expands the section's "more" (it is still numbered
        and printed).
    """

    png: str
    caption: str
    pdf: str | None = None
    folded: bool = False


@dataclasses.dataclass(frozen=True, eq=False)
class ReportTable:
    """A table of the report.

    Attributes
    ----------
    frame : pandas.DataFrame
        The table to show. Strings are shown as they are (use the ``format_*``
        functions of :mod:`survrad.reporting.tables`); floats get 4 significant digits
        and NaN shows as an em dash.
    caption : str
    csv : str or None
        Relative path of the full-precision CSV, linked under the table.
    max_rows : int or None, default 50
        Show at most this many rows (the CSV has them all); ``None`` shows every row.
    notes : sequence of str
        Notes printed under the table, after those in ``frame.attrs["notes"]`` (where
        the ``format_*`` functions put abbreviations and test footnotes).
    folded : bool, default False
        Shown only when the reader expands the section's "more" (it is still numbered
        and printed).
    """

    frame: pd.DataFrame
    caption: str
    csv: str | None = None
    max_rows: int | None = 50
    notes: Sequence[str] = ()
    folded: bool = False


@dataclasses.dataclass(frozen=True)
class ReportText:
    """Plain text; blank lines separate paragraphs."""

    text: str


Item = ReportFigure | ReportTable | ReportText | str
Section = tuple[str, Sequence[Item]]


# ==================================================================== the page
_CSS = """
:root { --ink: #1b1f24; --muted: #57606a; --rule: #d0d7de; --soft: #f6f8fa;
        --accent: #0072B2; }
* { box-sizing: border-box; }
html { font-size: 16px; }
body { margin: 0; color: var(--ink); background: #fff;
       font: 1rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
             Arial, "Noto Sans", "DejaVu Sans", sans-serif; }
.page { max-width: 66rem; margin: 0 auto; padding: 2.5rem 2rem 4rem; }
header { border-bottom: 3px solid var(--accent); padding-bottom: 1rem; margin-bottom: 1.5rem; }
header h1 { font-size: 1.9rem; line-height: 1.2; margin: 0 0 .35rem; }
header .subtitle { color: var(--muted); margin: 0; }
h2 { font-size: 1.35rem; margin: 2.6rem 0 .8rem; padding-bottom: .3rem;
     border-bottom: 1px solid var(--rule); }
a { color: var(--accent); }
nav.toc { background: var(--soft); border: 1px solid var(--rule); border-radius: 6px;
          padding: .8rem 1.2rem; }
nav.toc h2 { font-size: 1rem; margin: 0 0 .3rem; border: 0; padding: 0; }
nav.toc ol { margin: 0; padding-left: 1.4rem; columns: 2; column-gap: 2rem; }
nav.toc li { margin: .1rem 0; break-inside: avoid; }
p { margin: .6rem 0; }
figure { margin: 1.4rem 0 2rem; }
figure.plot { text-align: center; margin: .8rem 0 1.2rem; }
.figure-grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr));
               gap: 0 2rem; align-items: start; }
.figure-grid figure.wide { grid-column: 1 / -1; }
details.more { margin: .6rem 0 1.4rem; border-left: 3px solid var(--rule);
               padding-left: .9rem; }
details.more > summary { cursor: pointer; color: var(--accent); font-weight: 600; }
figure.plot img { max-width: 100%; height: auto; border: 1px solid var(--rule);
                  background: #fff; }
figcaption { font-size: .9rem; color: var(--muted); margin-top: .45rem; text-align: left; }
figcaption .label { font-weight: 600; color: var(--ink); }
.downloads { font-size: .85rem; margin-top: .3rem; text-align: left; }
.downloads a { margin-right: .8rem; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: .875rem; margin: .3rem 0;
        border-top: 2px solid var(--ink); border-bottom: 2px solid var(--ink); }
thead th { border-bottom: 1px solid var(--ink); text-align: left; vertical-align: bottom;
           font-weight: 600; }
th, td { padding: .28rem .7rem; }
td { vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums;
                 white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fbfbfc; }
tr.subhead th { text-align: left; font-weight: 600; background: var(--soft);
                border-top: 1px solid var(--rule); }
figure.table figcaption { margin: 0 0 .4rem; }
.note { font-size: .85rem; color: var(--muted); margin: .25rem 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas,
               "DejaVu Sans Mono", monospace; font-size: .82rem; word-break: break-all; }
footer { margin-top: 3rem; padding-top: .8rem; border-top: 1px solid var(--rule);
         color: var(--muted); font-size: .85rem; }
@media print {
  html { font-size: 10.5pt; }
  .page { max-width: none; padding: 0; }
  nav.toc { break-after: page; }
  h2 { break-after: avoid; }
  figure, tr { break-inside: avoid; }
  details.more { border: 0; padding: 0; }
  details.more::details-content { content-visibility: visible; display: block; }
  details.more > summary { display: none; }
  thead { display: table-header-group; }
  .table-wrap { overflow: visible; }
  a { color: inherit; text-decoration: none; }
}
""".strip()

#: Half-page slots of a section's lead shown open (a table or a wide figure fills two,
#: a column-width figure one); the rest folds into "n more (show)".
OPEN_SLOTS = 2
#: Distinct warnings listed open; more fold into one "show".
OPEN_WARNINGS = 5
#: Figures wider than this (CSS px) span both columns of the figure grid.
WIDE_FIGURE_PX = 700

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_NUMERIC = re.compile(r"^(?:[<>≤≥]\s?)?[-−+]?(?:\d|\.\d)")
_RESERVED = ("contents", "methods", "warnings", "reproducibility")


def write_index_html(report_dir: str | Path, *, title: str, methods: str,
                     sections: Sequence[Section], description: str | None = None,
                     warnings: Sequence[Mapping[str, Any]] | None = None,
                     manifest: Mapping[str, Any] | None = None) -> Path:
    """Write the report page ``<report_dir>/index.html`` (atomically).

    Parameters
    ----------
    report_dir : str or Path
        The report folder; every figure, PDF and CSV path is relative to it and must
        exist there.
    title : str
    methods : str
        The Methods text (e.g. from :func:`methods_paragraph`); blank lines separate
        paragraphs.
    sections : sequence of (heading, items)
        In page order. Items: :class:`ReportFigure`, :class:`ReportTable`,
        :class:`ReportText` or ``str``. Figures and tables are numbered in page order.
    description : str, optional
        A subtitle under the title.
    warnings : sequence of mapping, optional
        The entries of ``warnings.json`` (keys such as ``category``, ``message``,
        ``endpoint``, ``strategy``, ``replicate``). Entries differing only in
        ``replicate`` are summarised on one line with their count. ``None`` leaves the
        section out; an empty list says that no warning was recorded.
    manifest : mapping, optional
        The manifest; the page shows ``command`` (str or argv list), the seed
        (``random_state``, ``seed``, ``config.random_state`` or ``seeds.random_state``),
        ``inputs`` (list of records, or mapping of name to record, with ``path``,
        ``size``, ``sha256``) and the package versions (``versions`` or ``packages``).
        Times are never shown.

    Returns
    -------
    Path
        The path of ``index.html``.

    Raises
    ------
    ValueError
        A path that is absolute, a URL, or leaves the report folder.
    FileNotFoundError
        A referenced file that is not in the report folder.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> page = write_index_html(d, title="Demo", methods="Cox model.", sections=[
    ...     ("Results", [ReportTable(pd.DataFrame({"metric": ["C"], "value": [0.71]}),
    ...                              "Discrimination")])])
    >>> '<section id="results">' in page.read_text()
    True
    """
    root = Path(report_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"report folder {str(root)!r} does not exist.")
    ids = _SectionIds()
    body: list[str] = []
    toc: list[tuple[str, str]] = []
    counter = {"figure": 0, "table": 0}

    def add(heading: str, inner: str, anchor: str | None = None) -> None:
        sid = anchor or ids.new(heading)
        toc.append((sid, heading))
        body.append(f'<section id="{sid}">\n<h2>{_esc(heading)}</h2>\n{inner}</section>')

    add("Methods", _paragraphs(methods), anchor="methods")
    for heading, items in sections:
        add(str(heading), _section_html(root, items, counter))
    if warnings is not None:
        add("Warnings", _warnings_html(root, warnings), anchor="warnings")
    if manifest is not None:
        add("Reproducibility", _manifest_html(root, manifest), anchor="reproducibility")
    page = _page(title, description, toc, body)
    return atomic_write_text(root / "index.html", page)


class _SectionIds:
    """Unique, readable anchors: ``"Strategy comparison"`` -> ``strategy-comparison``."""

    def __init__(self) -> None:
        self.used: set[str] = set(_RESERVED)

    def new(self, heading: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-") or "section"
        sid, k = base, 2
        while sid in self.used:
            sid, k = f"{base}-{k}", k + 1
        self.used.add(sid)
        return sid


def _page(title: str, description: str | None, toc: list[tuple[str, str]],
          body: list[str]) -> str:
    __version__ = _survrad_version()
    contents = "\n".join(f'<li><a href="#{sid}">{_esc(h)}</a></li>' for sid, h in toc)
    subtitle = f'<p class="subtitle">{_esc(description)}</p>\n' if description else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="survrad {_esc(__version__)}">\n'
        f"<title>{_esc(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
        f'<div class="page">\n<header>\n<h1>{_esc(title)}</h1>\n{subtitle}</header>\n'
        f'<nav class="toc" aria-label="Contents">\n<h2 id="contents">Contents</h2>\n'
        f"<ol>\n{contents}\n</ol>\n</nav>\n<main>\n" + "\n".join(body) + "\n</main>\n"
        f"<footer>Generated by survrad {_esc(__version__)}. Start and end times, durations "
        "and the resolved configuration are recorded in manifest.json; every number "
        "shown here is in the CSV and JSON files at full precision.</footer>\n"
        "</div>\n</body>\n</html>\n")


def _survrad_version() -> str:
    try:
        return metadata.version("survrad")
    except metadata.PackageNotFoundError:
        return "(version unknown)"


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _paragraphs(text: str) -> str:
    parts = [p.strip() for p in re.split(r"\n\s*\n", str(text)) if p.strip()]
    return "".join(f"<p>{_esc(' '.join(p.split()))}</p>\n" for p in parts)


# ------------------------------------------------------------------ paths
def _relative(root: Path, path: str, what: str) -> str:
    """Check a report-relative path and return it quoted for an attribute."""
    p = str(path).replace("\\", "/")
    pure = PurePosixPath(p)
    if _SCHEME.match(p) or pure.is_absolute() or p.startswith("//"):
        raise ValueError(f"{what} {path!r} must be a path relative to the report folder, "
                         "not an absolute path or URL (the page must work offline and "
                         "when the folder is moved).")
    if ".." in pure.parts:
        raise ValueError(f"{what} {path!r} leaves the report folder; copy the file into it.")
    if not (root / pure).is_file():
        raise FileNotFoundError(f"{what} {path!r} not found in the report folder "
                                f"{str(root)!r}.")
    return _esc(urllib.parse.quote(pure.as_posix()))


def _png_display_size(file: Path) -> tuple[int, int] | None:
    """CSS size at twice print size (from the PNG's pixel size and pHYs resolution)."""
    data = file.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    dpi = _png_dpi(data)
    scale = 2 * 96 / dpi if dpi else 1.0
    return max(1, round(width * scale)), max(1, round(height * scale))


def _png_dpi(data: bytes) -> float | None:
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"pHYs" and length == 9:
            ppu_x, _, unit = struct.unpack(">IIB", data[pos + 8:pos + 17])
            return ppu_x * 0.0254 if unit == 1 and ppu_x else None
        if kind in (b"IDAT", b"IEND"):
            return None
        pos += 12 + length
    return None


# ------------------------------------------------------------------ items
def _section_html(root: Path, items: Sequence[Item], counter: dict[str, int]) -> str:
    """A section's items: its lead (figures and tables not marked ``folded`` while they
    fill at most :data:`OPEN_SLOTS` half-page slots: a table or a wide figure takes two,
    a column-width figure one) shown, the rest folded into one ``<details>`` that says
    what it holds (numbering runs on); consecutive figures flow in a two-column grid."""
    shown: list[Item] = []
    folded: list[Item] = []
    used = 0
    for it in items:
        if isinstance(it, ReportFigure | ReportTable):
            cost = _slots(root, it)
            if folded or it.folded or (used and used + cost > OPEN_SLOTS):
                folded.append(it)
                continue
            used += cost
        (folded if folded else shown).append(it)
    out = _items_html(root, shown, counter)
    if folded:
        n_fig = sum(isinstance(it, ReportFigure) for it in folded)
        n_tab = sum(isinstance(it, ReportTable) for it in folded)
        what = _join([f"{n} more {kind}{'' if n == 1 else 's'}"
                      for n, kind in ((n_fig, "figure"), (n_tab, "table")) if n])
        out += (f'<details class="more">\n<summary>{what} (show)</summary>\n'
                f"{_items_html(root, folded, counter)}</details>\n")
    return out


def _slots(root: Path, item: ReportFigure | ReportTable) -> int:
    if isinstance(item, ReportTable):
        return 2
    _relative(root, item.png, "figure")  # the checks, before reading the file
    return 2 if _wide(_png_display_size(root / _posix(item.png))) else 1


def _posix(path: str) -> PurePosixPath:
    return PurePosixPath(str(path).replace("\\", "/"))


def _wide(size: tuple[int, int] | None) -> bool:
    """Whether a figure of this CSS size spans both columns of the figure grid."""
    return bool(size) and size[0] > WIDE_FIGURE_PX


def _items_html(root: Path, items: Sequence[Item], counter: dict[str, int]) -> str:
    out: list[str] = []
    grid: list[str] = []
    for it in items:
        if isinstance(it, ReportFigure):
            grid.append(_item(root, it, counter))
            continue
        if grid:
            out.append(_grid(grid))
            grid = []
        out.append(_item(root, it, counter))
    if grid:
        out.append(_grid(grid))
    return "".join(out)


def _grid(figures: list[str]) -> str:
    return f'<div class="figure-grid">\n{"".join(figures)}</div>\n'


def _item(root: Path, item: Item, counter: dict[str, int]) -> str:
    if isinstance(item, str):
        return _paragraphs(item)
    if isinstance(item, ReportText):
        return _paragraphs(item.text)
    if isinstance(item, ReportFigure):
        counter["figure"] += 1
        return _figure_html(root, item, counter["figure"])
    if isinstance(item, ReportTable):
        counter["table"] += 1
        return _table_item_html(root, item, counter["table"])
    raise TypeError(f"report items are ReportFigure, ReportTable, ReportText or str; "
                    f"got {type(item).__name__}.")


def _figure_html(root: Path, fig: ReportFigure, number: int) -> str:
    src = _relative(root, fig.png, "figure")
    pdf = fig.pdf
    if pdf is None:
        sibling = _posix(fig.png).with_suffix(".pdf")
        pdf = str(sibling) if (root / sibling).is_file() else None
    size = _png_display_size(root / _posix(fig.png))
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    links = [f'<a href="{src}">PNG</a>']
    if pdf is not None:
        links.append(f'<a href="{_relative(root, pdf, "figure PDF")}">PDF</a>')
    wide = " wide" if _wide(size) else ""
    return (f'<figure class="plot{wide}">\n<a href="{src}"><img src="{src}"{dims} '
            f'alt="{_esc(fig.caption)}"></a>\n<figcaption><span class="label">Figure '
            f"{number}.</span> {_esc(fig.caption)}\n"
            f'<div class="downloads">{" ".join(links)}</div></figcaption>\n</figure>\n')


def _table_item_html(root: Path, tab: ReportTable, number: int) -> str:
    frame = tab.frame
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"ReportTable.frame must be a DataFrame, got {type(frame).__name__}.")
    if tab.max_rows is not None:
        check_int("max_rows", tab.max_rows, min_value=1)
    shown = frame if tab.max_rows is None else frame.iloc[:tab.max_rows]
    attrs = frame.attrs.get("notes") or []
    notes = [_esc(n) for n in ([attrs] if isinstance(attrs, str) else attrs)]
    notes += [_esc(n) for n in tab.notes]
    csv = _relative(root, tab.csv, "table CSV") if tab.csv is not None else None
    if len(shown) < len(frame):
        where = f"; the full table is in {_esc(tab.csv)}" if tab.csv else ""
        notes.append(f"Showing the first {len(shown)} of {len(frame)} rows{where}.")
    links = f'<div class="downloads"><a href="{csv}">CSV (full precision)</a></div>\n' \
        if csv else ""
    note = "".join(f'<p class="note">{n}</p>\n' for n in notes)
    return (f'<figure class="table">\n<figcaption><span class="label">Table {number}.'
            f"</span> {_esc(tab.caption)}</figcaption>\n"
            f'<div class="table-wrap">\n{_table_html(shown)}</div>\n{note}{links}</figure>\n')


def _table_html(frame: pd.DataFrame) -> str:
    cells = [[_format_value(v) for v in row] for row in frame.itertuples(index=False)]
    numeric = [bool(col) and all(_NUMERIC.match(c) or c in ("", "—") for c in col)
               and any(_NUMERIC.match(c) for c in col)
               for col in zip(*cells, strict=False)] if cells else []
    head = "".join(f'<th scope="col"{_num_class(j > 0 and numeric[j])}>{_esc(c)}</th>'
                   if numeric else f'<th scope="col">{_esc(c)}</th>'
                   for j, c in enumerate(frame.columns))
    rows = []
    width = frame.shape[1]
    for line in cells:
        if width > 1 and line[0] and not any(line[1:]):
            rows.append(f'<tr class="subhead"><th colspan="{width}" scope="rowgroup">'
                        f"{_esc(line[0])}</th></tr>")
            continue
        tds = "".join(f"<td{_num_class(j > 0 and bool(_NUMERIC.match(c)))}>{_esc(c)}</td>"
                      for j, c in enumerate(line))
        rows.append(f"<tr>{tds}</tr>")
    return (f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(rows)
            + "\n</tbody>\n</table>\n")


def _num_class(flag: bool) -> str:
    return ' class="num"' if flag else ""


def _format_value(v: Any) -> str:
    """A cell for display: strings as they are, floats to 4 significant digits."""
    if v is None:
        return "—"
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        x = float(v)
        if np.isnan(x):
            return "—"
        if np.isinf(x) or x == 0:
            return str(x) if np.isinf(x) else "0"
        if 1e-3 <= abs(x) < 1e6:
            decimals = max(0, 3 - int(np.floor(np.log10(abs(x)))))
            return f"{x:.{decimals}f}"
        return f"{x:.3e}"
    if v is pd.NA or v is pd.NaT:
        return "—"
    return str(v)


# -------------------------------------------------------------- warnings
_GROUP_OUT = ("replicate",)


def _warnings_html(root: Path, entries: Sequence[Mapping[str, Any]]) -> str:
    link = ' The full list is in <a href="warnings.json">warnings.json</a>.' \
        if (root / "warnings.json").is_file() else ""
    if not entries:
        return f"<p>No warnings were recorded during the run.{link}</p>\n"
    groups: dict[tuple, dict[str, Any]] = {}
    for e in entries:
        ctx = tuple((k, _plain(v)) for k, v in sorted(e.items())
                    if k not in ("category", "message", *_GROUP_OUT))
        key = (str(e.get("category", "")), str(e.get("message", "")), ctx)
        g = groups.setdefault(key, {"count": 0, "replicates": []})
        g["count"] += 1
        if e.get("replicate") is not None:
            g["replicates"].append(_plain(e["replicate"]))
    rows = []
    for (category, message, ctx), g in groups.items():
        context = "; ".join(f"{k} = {v}" for k, v in ctx if v not in (None, ""))
        reps = g["replicates"]
        shown = ", ".join(str(r) for r in reps[:10]) + (", …" if len(reps) > 10 else "")
        rows.append([category, message, context, str(g["count"]), shown])
    frame = pd.DataFrame(rows, columns=["Category", "Message", "Context", "Count",
                                        "Replicates"])
    if not any(r[4] for r in rows):
        frame = frame.drop(columns="Replicates")
    intro = (f"<p>{len(entries)} warning(s) were recorded ({warning_counts(entries)}), "
             f"{len(rows)} distinct."
             f"{link}</p>\n")
    table = f'<div class="table-wrap">\n{_table_html(frame)}</div>\n'
    if len(rows) <= OPEN_WARNINGS:
        return intro + table
    return intro + (f'<details class="more">\n<summary>the {len(rows)} distinct warnings '
                    f"(show)</summary>\n{table}</details>\n")


def warning_counts(entries: Sequence[Mapping[str, Any]]) -> str:
    """``"12 ConvergenceWarning, 1 DataWarning"``: warnings by category, most first.

    Examples
    --------
    >>> warning_counts([{"category": "A"}, {"category": "B"}, {"category": "B"}])
    '2 B, 1 A'
    """
    counts = Counter(str(e.get("category", "")) for e in entries)
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def _plain(v: Any) -> Any:
    item = getattr(v, "item", None)
    return item() if callable(item) and getattr(v, "ndim", 1) == 0 else v


# ---------------------------------------------------------- reproducibility
def _manifest_html(root: Path, manifest: Mapping[str, Any]) -> str:
    facts = []
    command = manifest.get("command", manifest.get("command_line"))
    if command:
        cmd = shlex.join(map(str, command)) if isinstance(command, list | tuple) else command
        facts.append(("Command", f'<code>{_esc(cmd)}</code>'))
    config = manifest.get("config") or {}
    seeds = manifest.get("seeds")
    seed = manifest.get("random_state", manifest.get("seed", config.get("random_state")))
    if seed is None and isinstance(seeds, Mapping):
        seed = seeds.get("random_state")
    if seed is not None:
        facts.append(("Seed (random_state)", _esc(seed)))
    versions = manifest.get("versions") or manifest.get("packages") or {}
    if versions.get("survrad"):
        facts.append(("survrad version", _esc(versions["survrad"])))
    out = ""
    if facts:
        out += '<dl class="facts">\n' + "".join(
            f"<dt>{_esc(k)}</dt><dd>{v}</dd>\n" for k, v in facts) + "</dl>\n"
    out += _inputs_html(manifest.get("inputs"))
    if versions:
        frame = pd.DataFrame([(k, "not installed" if v is None else str(v))
                              for k, v in sorted(versions.items())],
                             columns=["Package", "Version"])
        out += (f'<details class="more">\n<summary>Software: the versions of the '
                f'{len(frame)} packages that shape the numbers (show)</summary>\n'
                f'<div class="table-wrap">\n{_table_html(frame)}</div>\n</details>\n')
    link = ' (<a href="manifest.json">manifest.json</a>)' \
        if (root / "manifest.json").is_file() else ""
    return out + (f'<p class="note">Run times, durations and the resolved configuration '
                  f"are in the manifest{link}.</p>\n")


def _inputs_html(inputs: Any) -> str:
    if not inputs:
        return ""
    if isinstance(inputs, Mapping):
        records = [{"name": k, **dict(v)} for k, v in inputs.items()]
    else:
        records = [dict(r) for r in inputs]
    rows = []
    for r in records:
        size = r.get("size")
        rows.append([str(r.get("name", "")), str(r.get("path", "")),
                     "" if size is None else f"{int(size):,} bytes",
                     str(r.get("sha256", ""))])
    frame = pd.DataFrame(rows, columns=["Input", "Path", "Size", "SHA-256"])
    if not any(r[0] for r in rows):
        frame = frame.drop(columns="Input")
    table = _table_html(frame).replace("<td>", '<td class="mono">')
    return f'<h3>Inputs</h3>\n<div class="table-wrap">\n{table}</div>\n'


# ====================================================================== Methods
_STRATEGIES = {
    "largest": "A, largest lesion: the radiomic features of the largest lesion(s) by "
               "volume",
    "burden": "B, tumour burden: total and largest lesion volume, number of lesions and "
              "of involved organs",
    "statistics": "C, feature statistics: summary statistics of each radiomic feature "
                  "across a patient's lesions, such as the mean, volume-weighted mean or maximum",
    "lesion_response": "D, lesion-level response model: a classifier of lesion response "
                       "trained on lesions with patient-grouped resampling, its lesion "
                       "probabilities pooled per patient",
    "lesion_risk": "E, lesion-level Cox model: every lesion inherits its patient's "
                   "outcome, a lesion-level model weighted 1/(lesions per patient) "
                   "scores each lesion and the scores are pooled per patient",
    "attention_mil": "F, attention multiple-instance learning: gated attention pooling of "
                     "lesion embeddings trained end-to-end with the Cox partial "
                     "likelihood, after Ilse et al. 2018",
    "heterogeneity": "inter-lesion heterogeneity: dispersion and pairwise dissimilarity "
                     "of standardised lesion profiles",
    "delta": "delta-radiomics: change of each lesion's features between timepoints, "
             "lesions matched by identifier",
}
_LEARNED = ("lesion_response", "lesion_risk", "attention_mil")
_STEPS = {
    "standardize": "standardisation to zero mean and unit variance",
    "combat": "ComBat harmonisation of feature location and scale across batches, after "
              "Johnson et al. 2007",
    "icc": "robustness filtering on the intraclass correlation of repeated "
           "segmentations",
    "variance": "removal of (near-)constant features",
    "correlation": "removal of one feature of each highly correlated pair",
    "univariate_cox": "univariate Cox screening",
    "lasso": "lasso-Cox selection",
    "stability": "stability selection",
}
_METRICS = {
    "c_index": "Harrell's C-index",
    "uno_c": "Uno's C-index",
    "td_auc": "time-dependent AUC (cumulative/dynamic, inverse-probability-of-censoring "
              "weighted)",
    "brier": "Brier score",
    "ibs": "integrated Brier score",
    "calibration_slope": "calibration slope",
    "auc": "ROC AUC",
}


def methods_paragraph(config: Mapping[str, Any], *,
                      versions: Mapping[str, str | None] | None = None) -> str:
    """Methods text generated from a resolved study configuration.

    Parameters
    ----------
    config : mapping
        The resolved study (keys ``title``, ``random_state``, ``data``, ``endpoints``,
        ``strategies``, ``features``, ``models``, ``validation``; missing keys are left
        out of the text, model parameters not given are read from the model's
        defaults).
    versions : mapping, optional
        Package versions; default :func:`survrad.reporting.writer.package_versions`.

    Returns
    -------
    str
        Paragraphs separated by blank lines: data and endpoints; lesion strategies and
        feature processing; models; validation, seed and software.

    Examples
    --------
    >>> text = methods_paragraph({"random_state": 5, "models": {"cox": {"penalty": 0.0}},
    ...                           "validation": {"n_boot": 300}},
    ...                          versions={"survrad": "0.1.0", "python": "3.11"})
    >>> "Efron" in text and "B = 300" in text
    True
    """
    versions = package_versions() if versions is None else versions
    paragraphs = [
        _data_text(config.get("data") or {}, config.get("endpoints") or {}),
        _strategies_text(config.get("strategies") or [], config.get("features") or []),
        _models_text(config.get("models") or {}),
        _validation_text(config.get("validation") or {}, config.get("random_state"),
                         bool(config.get("strategies"))),
        _lesion_decisions_text(config),
        _external_text(config),
        _software_text(versions),
    ]
    return "\n\n".join(p for p in paragraphs if p)


def _lesion_decisions_text(config: Mapping[str, Any]) -> str:
    from survrad.reporting.section_lesion_decisions import lesion_decisions_methods

    return lesion_decisions_methods(config)


def _external_text(config: Mapping[str, Any]) -> str:
    from survrad.reporting.section_external import external_methods

    return external_methods(config)


def _join(words: Sequence[str]) -> str:
    words = [w for w in words if w]
    if len(words) <= 2:
        return " and ".join(words)
    return ", ".join(words[:-1]) + ", and " + words[-1]


def _value(v: Any) -> str:
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return f"{v:g}"
    return str(v)


def _params(spec: Mapping[str, Any], skip: Sequence[str] = ()) -> str:
    """`` (a = 1; b = 2)`` for the parameters of a step, or ``""``."""
    items = [f"{k} = {_value(v)}" for k, v in sorted(spec.items()) if k not in skip]
    return f" ({'; '.join(items)})" if items else ""


def _data_text(data: Mapping[str, Any], endpoints: Mapping[str, Any]) -> str:
    out = []
    if data.get("patients"):
        src = f"Patient data were read from {Path(str(data['patients'])).name}"
        if data.get("lesions"):
            src += (f" and lesion data (one row per lesion) from "
                    f"{Path(str(data['lesions'])).name}")
        out.append(src + "; the tables were validated before any model saw them.")
    if data.get("patient_features"):
        out.append(f"Patient-level predictors: {', '.join(map(str, data['patient_features']))}.")
    if data.get("lesion_features"):
        out.append("Lesion radiomic features were the columns matching "
                   f"{', '.join(map(str, data['lesion_features']))}.")
    eps = []
    for name, spec in endpoints.items():
        kind = spec.get("kind", "survival")
        if kind == "survival":
            unit = f" in {spec['unit']}" if spec.get("unit") else ""
            hz = spec.get("horizons")
            hz_unit = f" {spec['unit']}" if spec.get("unit") else ""
            horizons = f", evaluated at {_join([_value(h) for h in hz])}{hz_unit}" if hz else ""
            eps.append(f"{name} (survival: time {spec.get('time')}{unit}, event "
                       f"{spec.get('event')}{horizons})")
        else:
            eps.append(f"{name} (binary: {spec.get('target')})")
    if eps:
        out.append(f"Endpoints: {_join(eps)}.")
    return " ".join(out)


def _strategies_text(strategies: Sequence[Mapping[str, Any]],
                     features: Sequence[Mapping[str, Any]]) -> str:
    out = []
    if strategies:
        parts = []
        for s in strategies:
            method = s.get("method", "")
            desc = _STRATEGIES.get(method, method)
            inner = "; ".join(f"{k} = {_value(v)}" for k, v in sorted(s.items())
                              if k not in ("name", "method"))
            parts.append(f"'{s.get('name', method)}' ({desc}{'; ' + inner if inner else ''})")
        out.append("The lesions of each patient were combined into one patient-level "
                   f"feature vector by {len(strategies)} strateg"
                   f"{'y' if len(strategies) == 1 else 'ies'} (Sun et al. 2022, Fig. 3): "
                   f"{_join(parts)}.")
        if any(s.get("method") in _LEARNED for s in strategies):
            out.append("Strategies that learn from outcomes (D, E, F) were fitted on the "
                       "training patients of each resample only, like every other "
                       "learned step.")
    if features:
        steps = [f"{_STEPS.get(f.get('step', ''), f.get('step', ''))}"
                 f"{_params(f, ('step',))}" for f in features]
        out.append("Feature processing, in this order and fitted on the training patients "
                   f"only: {'; '.join(steps)}.")
    return " ".join(out)


_MODEL_ORDER = {"cox": 0, "forest": 1, "logistic": 2, "forest_classifier": 3}


def _models_text(models: Mapping[str, Any]) -> str:
    # A fixed order, so that a report rendered live and one re-rendered from saved
    # results (whose JSON keys are sorted) read the same.
    order = sorted(models, key=lambda m: (_MODEL_ORDER.get(m, len(_MODEL_ORDER)), m))
    out = [_model_sentence(name, dict(models[name] or {})) for name in order]
    return " ".join(out)


def _model_sentence(name: str, p: Mapping[str, Any]) -> str:
    if name == "cox":
        return _cox_sentence(p)
    if name == "forest":
        return (f"A random survival forest (Ishwaran et al. 2008) of {p.get('n_estimators')} "
                f"trees with at least {p.get('min_samples_leaf')} patients per leaf and "
                f"{_max_features(p.get('max_features'))} of the p features tried at each "
                "split.")
    if name == "logistic":
        pen = p.get("penalty", 0.0)
        kind = "unpenalised" if not pen else f"ridge-penalised (penalty = {_value(pen)})"
        return (f"Binary endpoints were modelled by {kind} logistic regression with odds "
                "ratios and Wald confidence intervals.")
    if name == "forest_classifier":
        return (f"A random forest classifier of {p.get('n_estimators')} trees with at "
                f"least {p.get('min_samples_leaf')} patients per leaf.")
    return f"Model {name}{_params(p)}."


def _max_features(v: Any) -> str:
    names = {"sqrt": "√p", "log2": "log2(p)", None: "all p"}
    if isinstance(v, str) or v is None:
        return names.get(v, str(v))
    if isinstance(v, float) and 0 < v < 1:
        return f"a fraction {v:g}"
    return str(v)


def _cox_sentence(p: Mapping[str, Any]) -> str:
    pen = p.get("penalty", 0.0)
    ties = p.get("ties")
    if isinstance(pen, str) or (pen or 0) > 0:
        ties_name = "Breslow" if ties in (None, "breslow") else str(ties).capitalize()
        l1 = float(p.get("l1_ratio", 0.0))
        mix = "ridge" if l1 == 0 else "lasso" if l1 == 1 else "elastic net"
        if isinstance(pen, str):
            lam = (f"the penalty λ chosen by patient-grouped {p.get('cv_folds')}-fold "
                   "cross-validation of the partial likelihood")
        else:
            lam = f"penalty λ = {_value(pen)}"
        return (f"Survival was modelled by a penalised Cox model ({mix}; {lam}; mixing "
                f"l1_ratio = {_value(l1)}) in glmnet's parameterisation: the negative "
                "partial log-likelihood divided by the number of patients plus "
                "λ[(1 − α)/2·‖β‖² + α‖β‖₁] with α = l1_ratio (0 = ridge, 1 = lasso), on "
                f"internally standardised features, with {ties_name} handling of tied "
                "event times. Penalised coefficients are shown without standard errors, "
                "as there is no valid post-selection inference for them.")
    ties_name = "Efron" if ties in (None, "efron") else str(ties).capitalize()
    return ("Survival was modelled by an unpenalised Cox proportional hazards model "
            f"({ties_name}'s method for tied event times, fitted by Newton-Raphson as R's "
            "coxph), reported as hazard ratios with Wald confidence intervals.")


_MODEL_NAMES = {"cox": "Cox models", "forest": "random survival forests",
                "logistic": "logistic models", "forest_classifier": "random forest classifiers"}
_FORESTS = ("forest", "forest_classifier")


def _validation_text(val: Mapping[str, Any], seed: Any, has_strategies: bool) -> str:
    method = val.get("method") or "optimism"
    pipeline = ("lesion aggregation, feature processing, selection and model"
                if has_strategies else "feature processing, selection and model")
    if isinstance(method, str):
        text = _method_text(method, val, pipeline)
    else:  # one method per model: a sentence per method, naming its models
        groups: dict[str, list[str]] = {}
        for model, m in method.items():
            groups.setdefault(m, []).append(model)
        parts = []
        for m, models in groups.items():
            names = _join([_MODEL_NAMES.get(x, x) for x in models])
            why = (" (Harrell's optimism bootstrap under-corrects forests, which nearly "
                   "reproduce the outcomes of their training patients)"
                   if m != "optimism" and set(models) <= set(_FORESTS) else "")
            body = _method_text(m, val, pipeline)
            parts.append(f"For the {names}{why}: {body[0].lower()}{body[1:]}" if len(groups) > 1
                         else body)
        text = " ".join(parts)
    return text + _validation_tail(val, seed)


def _method_text(method: str, val: Mapping[str, Any], pipeline: str) -> str:
    n_boot = val.get("n_boot", 200)
    ci = float(val.get("ci_level", 0.95))
    if method == "optimism":
        text = (f"Performance was estimated by Harrell's bootstrap optimism correction "
                f"with B = {n_boot} replicates: each replicate resampled patients with "
                "replacement (all lesions of a patient together), refitted the whole "
                f"pipeline ({pipeline}) on the resample, and the optimism was the mean "
                "difference between its performance on the resample and on the original "
                "cohort, subtracted from the apparent performance. "
                f"{ci * 100:g}% confidence intervals are location-shifted bootstrap "
                "percentile intervals (Noma et al. 2021).")
    elif method == ".632+":
        text = (f"Performance was estimated by the .632+ bootstrap (Efron and Tibshirani "
                f"1997) with B = {n_boot} patient resamples, refitting the whole pipeline "
                f"({pipeline}) in each and scoring it on the patients left out of the "
                "resample; discrimination metrics used the .632+ weight with a "
                "no-information value of 0.5, the other metrics (Brier scores, calibration) "
                f"the .632 weight; {ci * 100:g}% percentile intervals.")
    else:
        text = (f"Performance was estimated by repeated patient-grouped "
                f"{val.get('n_folds', 5)}-fold cross-validation ({n_boot} repeats), "
                f"refitting the whole pipeline ({pipeline}) in each training fold; "
                f"{ci * 100:g}% percentile intervals over repeats.")
    return text


def _validation_tail(val: Mapping[str, Any], seed: Any) -> str:
    text = ""
    metrics = val.get("metrics")
    if metrics:
        text += f" Metrics: {_join([_METRICS.get(m, m) for m in metrics])}."
    text += (" A replicate that failed was counted and reported, never silently "
             "dropped.")
    baselines = val.get("baselines")
    if baselines:
        names = baselines if isinstance(baselines, list | tuple) else \
            ["clinical covariates only", "tumour burden only"]
        text += f" Baselines: {_join([str(b) for b in names])}."
    if seed is not None:
        text += (f" All randomness derives from the seed {_value(seed)}: replicate b used "
                 "the b-th child of numpy's SeedSequence(seed), so results do not depend "
                 "on the number of parallel jobs.")
    return text


def _software_text(versions: Mapping[str, str | None]) -> str:
    order = ("survrad", "python", "numpy", "pandas", "scipy", "scikit-learn",
             "scikit-survival", "matplotlib")
    shown = [f"{k} {versions[k]}" for k in order if versions.get(k)]
    if not shown:
        return ""
    return f"Software: {', '.join(shown)}."

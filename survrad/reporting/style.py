"""One publication style for survrad figures, and deterministic, atomic figure files.

The style is a dict of matplotlib ``rcParams`` applied with :func:`publication_style`
(a ``matplotlib.rc_context``) while a Display draws and while :func:`save_figure` renders;
it is never applied globally, so importing survrad does not change anybody's plots.

Choices (for a figure printed at single-column width, 3.5 in = 8.9 cm):

* fonts 7-8 pt (DejaVu Sans, shipped with matplotlib, so files are identical on every
  machine); line widths 0.6-1.2 pt;
* the Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008, *Color Universal Design*)
  as the colour cycle;
* TrueType (Type 42) fonts embedded in PDF so text stays editable for the journal;
* 300 dpi PNG and vector PDF, both byte-identical for the same figure (no creation date,
  no software stamp).
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from survrad.reporting.writer import atomic_write_bytes

__all__ = [
    "COLUMN_WIDTH",
    "DOUBLE_COLUMN_WIDTH",
    "OKABE_ITO",
    "PUBLICATION_RC",
    "group_colors",
    "publication_style",
    "risk_colors",
    "risk_linestyles",
    "save_figure",
]

#: Single-column figure width in inches (8.9 cm).
COLUMN_WIDTH = 3.5
#: Double-column figure width in inches (17.8 cm).
DOUBLE_COLUMN_WIDTH = 7.0

#: Okabe-Ito palette, in the order used for groups (black last: it is kept for references).
OKABE_ITO: dict[str, str] = {
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "bluish_green": "#009E73",
    "orange": "#E69F00",
    "reddish_purple": "#CC79A7",
    "sky_blue": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}
_CYCLE = [OKABE_ITO[k] for k in ("blue", "vermillion", "bluish_green", "orange",
                                 "reddish_purple", "sky_blue", "yellow")]
#: Grey used for reference lines, bands and de-emphasised elements.
GREY = "#7F7F7F"
LIGHT_GREY = "#E6E6E6"

BASE_FONT_SIZE = 8.0
SMALL_FONT_SIZE = 7.0

#: The rcParams of the publication style.
PUBLICATION_RC: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": BASE_FONT_SIZE,
    "axes.titlesize": BASE_FONT_SIZE,
    "axes.titleweight": "bold",
    "axes.labelsize": BASE_FONT_SIZE,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=_CYCLE),
    "axes.titlepad": 4.0,
    "axes.labelpad": 3.0,
    "xtick.labelsize": SMALL_FONT_SIZE,
    "ytick.labelsize": SMALL_FONT_SIZE,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 3.0,
    "ytick.major.size": 3.0,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "xtick.minor.size": 1.5,
    "ytick.minor.size": 1.5,
    "xtick.major.pad": 2.0,
    "ytick.major.pad": 2.0,
    "legend.fontsize": SMALL_FONT_SIZE,
    "legend.title_fontsize": SMALL_FONT_SIZE,
    "legend.frameon": False,
    "legend.handlelength": 1.6,
    "legend.handletextpad": 0.5,
    "legend.borderaxespad": 0.3,
    "legend.labelspacing": 0.3,
    "legend.columnspacing": 1.0,
    "lines.linewidth": 1.2,
    "lines.markersize": 4.0,
    "patch.linewidth": 0.6,
    "errorbar.capsize": 0.0,
    "hatch.linewidth": 0.5,
    "image.cmap": "viridis",
    "figure.dpi": 100,
    "figure.facecolor": "white",
    "figure.constrained_layout.h_pad": 0.03,
    "figure.constrained_layout.w_pad": 0.03,
    "savefig.dpi": 300,
    "savefig.facecolor": "white",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "svg.hashsalt": "survrad",
    "path.simplify": True,
}

_METADATA = {
    "png": {"Software": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None},
    "svg": {"Date": None, "Creator": None},
}


@contextlib.contextmanager
def publication_style() -> Iterator[None]:
    """Apply :data:`PUBLICATION_RC` inside a ``with`` block only.

    Examples
    --------
    >>> import matplotlib as mpl
    >>> with publication_style():
    ...     mpl.rcParams["font.size"]
    8.0
    """
    with mpl.rc_context(PUBLICATION_RC):
        yield


def group_colors(n: int) -> list[str]:
    """The first ``n`` colours of the Okabe-Ito cycle (repeated beyond seven).

    Examples
    --------
    >>> group_colors(2)
    ['#0072B2', '#D55E00']
    """
    return [_CYCLE[i % len(_CYCLE)] for i in range(n)]


_RISK = {1: ["black"],
         2: [OKABE_ITO["blue"], OKABE_ITO["vermillion"]],
         3: [OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["vermillion"]],
         4: [OKABE_ITO["blue"], OKABE_ITO["sky_blue"], OKABE_ITO["orange"],
             OKABE_ITO["vermillion"]]}
_RISK_LINESTYLES = ["-", "--", "-.", ":"]


def risk_colors(n: int) -> list[str]:
    """Colours of ``n`` groups ordered from low to high risk: blue for the lowest,
    vermillion for the highest (Okabe-Ito, safe for colour-blind readers); more than four
    groups sample a blue-to-red diverging map. Pair with :func:`risk_linestyles` so the
    order survives greyscale printing.

    Examples
    --------
    >>> risk_colors(3)
    ['#0072B2', '#E69F00', '#D55E00']
    """
    if n in _RISK:
        return list(_RISK[n])
    cmap = mpl.colormaps["coolwarm"]
    return [mpl.colors.to_hex(cmap(0.05 + 0.9 * i / (n - 1))) for i in range(n)]


def risk_linestyles(n: int) -> list[str]:
    """Line styles of ``n`` risk-ordered groups (solid for the lowest risk), so that a
    greyscale print still tells the groups apart.

    Examples
    --------
    >>> risk_linestyles(3)
    ['-', '--', '-.']
    """
    return [_RISK_LINESTYLES[i % len(_RISK_LINESTYLES)] for i in range(n)]


def _reset_layout(fig: Figure) -> None:
    """Put constrained-layout axes back at their grid positions before rendering.

    Constrained layout starts from the current axes positions; with fixed-aspect axes it
    does not converge in one pass, so a second save (or a save after the figure was shown)
    would differ in the last digits. Starting every save from the grid positions makes the
    files a function of the figure's content only.
    """
    if not isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine):
        return
    for ax in fig.get_axes():
        spec = ax.get_subplotspec()
        if spec is None or not ax.get_in_layout():
            continue
        ax.set_position(spec.get_position(ax.figure))
        ax.set_in_layout(True)      # set_position takes the axes out of the layout


#: OpenType layout tables that a PDF or PostScript file never reads: matplotlib positions
#: every glyph itself (kerning included) and writes the positions into the page, so the
#: embedded font subset needs outlines and metrics only. fontTools' subsetter otherwise
#: decompiles DejaVu Sans' large substitution and positioning tables for every figure: about
#: a fifth of the CPU time of the demo report's figures (6.6 of 34.8 s, measured with
#: ``survrad report --n-jobs 1`` on the demo's results). Rendering is unchanged.
_LAYOUT_TABLES = ("GSUB", "GPOS", "GDEF", "kern")
_SUBSET_LOCK = threading.Lock()


@contextlib.contextmanager
def _outline_only_font_subsets() -> Iterator[None]:
    """Leave :data:`_LAYOUT_TABLES` out of embedded font subsets while inside.

    matplotlib subsets fonts with ``fontTools.subset.Options()``, whose list of dropped
    tables is the class attribute ``_drop_tables_default``; it is extended here and put
    back on exit (under a lock, so concurrent saves in threads cannot leave it changed).
    If fontTools no longer has that attribute, nothing changes.
    """
    from fontTools import subset

    default = getattr(subset.Options, "_drop_tables_default", None)
    if not isinstance(default, list):  # pragma: no cover - fontTools changed
        yield
        return
    with _SUBSET_LOCK:
        subset.Options._drop_tables_default = [
            *default, *(t for t in _LAYOUT_TABLES if t not in default)]
        try:
            yield
        finally:
            subset.Options._drop_tables_default = default


def save_figure(fig: Figure, stem: str | os.PathLike, *,
                formats: Sequence[str] = ("png", "pdf"), dpi: int = 300) -> list[Path]:
    """Write ``fig`` as ``stem.png`` (raster, ``dpi``) and ``stem.pdf`` (vector).

    Each file is rendered into memory under :func:`publication_style` and written
    atomically (temporary file + ``os.replace``), so a crash never leaves a half file. The
    files carry no creation date or software stamp: the same figure gives byte-identical
    files.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        E.g. ``display.figure_``.
    stem : path
        File name without suffix; the folder is created if needed.
    formats : sequence of {"png", "pdf", "svg"}, default ("png", "pdf")
    dpi : int, default 300
        Resolution of raster formats.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of ``formats``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(2, 2))
    >>> _ = fig.add_subplot().plot([0, 1], [0, 1])
    >>> out = save_figure(fig, pathlib.Path(tempfile.mkdtemp()) / "line")
    >>> [p.suffix for p in out]
    ['.png', '.pdf']
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}; pass "
                        "display.figure_.")
    stem = Path(stem)
    paths = []
    for fmt in formats:
        if fmt not in _METADATA:
            raise ValueError(f"unsupported figure format {fmt!r}; choose from "
                             f"{sorted(_METADATA)}.")
        buf = io.BytesIO()
        _reset_layout(fig)
        lean = _outline_only_font_subsets() if fmt == "pdf" \
            else contextlib.nullcontext()
        with publication_style(), lean:
            fig.savefig(buf, format=fmt, dpi=dpi, metadata=_METADATA[fmt])
        paths.append(atomic_write_bytes(stem.with_name(f"{stem.name}.{fmt}"), buf.getvalue()))
    return paths

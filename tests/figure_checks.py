"""Layout checks for publication figures, by matplotlib bounding boxes after a draw.

Apply to any figure (``display.figure_``)::

    from figure_checks import check_figure
    check_figure(fig)        # raises AssertionError naming the offending texts / axes

* :func:`text_overlaps`: pairs of visible texts (titles, axis and tick labels, legend
  entries, annotations) whose boxes intersect;
* :func:`text_on_data`: texts whose box covers plotted data (line vertices and the
  segments between them, scatter points, bars); legend handles, the legend frame and
  axis machinery (spines, ticks, grid) are not data, and a text may sit on data drawn
  with ``gid`` in ``allowed_gids``;
* :func:`unlabelled_axes`: a visible x or y axis with tick labels but no axis label;
* :func:`outside_figure`: texts that stick out of the figure.

Boxes are shrunk by ``pad`` pixels (0.5 by default) so that texts that merely touch are
not reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import Collection
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.transforms import Bbox

__all__ = ["check_figure", "outside_figure", "text_on_data", "text_overlaps",
           "unlabelled_axes", "visible_texts"]


def _draw(fig: Figure):
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def visible_texts(fig: Figure) -> list[Text]:
    """Every drawn, non-empty text of ``fig`` (tick labels only where ticks are drawn)."""
    out = []
    for t in fig.findobj(Text):
        if not t.get_text().strip() or not t.get_visible() or t.figure is None:
            continue
        ax = t.axes
        if ax is not None and not ax.get_visible():
            continue
        if ax is not None and not ax.axison and t in (ax.xaxis.label, ax.yaxis.label):
            continue
        if not _in_view(t):
            continue
        out.append(t)
    return out


def _in_view(t: Text) -> bool:
    """False for tick labels of ticks outside the view limits (matplotlib skips them)."""
    for ax in t.figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if not (ax.axison and axis.get_visible()):
                if t in [tick.label1 for tick in axis.get_major_ticks()] or t in [
                        tick.label2 for tick in axis.get_major_ticks()]:
                    return False
                continue
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if t is tick.label1 or t is tick.label2:
                    lo, hi = sorted(axis.get_view_interval())
                    return bool(tick.get_visible() and lo - 1e-9 <= tick.get_loc() <= hi + 1e-9)
    return True


def _box(t: Text, renderer, pad: float) -> Bbox:
    b = t.get_window_extent(renderer)
    return Bbox.from_extents(b.x0 + pad, b.y0 + pad, b.x1 - pad, b.y1 - pad)


def _describe(t: Text) -> str:
    where = "figure" if t.axes is None else (t.axes.get_title() or t.axes.get_label() or "axes")
    return f"{t.get_text()!r} ({where})"


def text_overlaps(fig: Figure, pad: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of visible texts whose boxes intersect."""
    renderer = _draw(fig)
    texts = visible_texts(fig)
    boxes = [_box(t, renderer, pad) for t in texts]
    bad = []
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            if boxes[i].width > 0 and boxes[j].width > 0 and boxes[i].overlaps(boxes[j]):
                bad.append((_describe(texts[i]), _describe(texts[j])))
    return bad


def _legend_artists(ax: Axes) -> set:
    out: set = set()
    for leg in [ax.get_legend(), *[c for c in ax.get_children() if isinstance(c, Legend)]]:
        if leg is not None:
            out.update(leg.findobj())
    return out


def _densify(xy: np.ndarray, step: float = 2.0) -> np.ndarray:
    """Points along the polyline ``xy`` (display pixels) every ``step`` pixels."""
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    if len(xy) < 2:
        return xy
    start, delta = xy[:-1], np.diff(xy, axis=0)
    n = np.maximum((np.hypot(delta[:, 0], delta[:, 1]) / step).astype(int), 1)
    seg = np.repeat(np.arange(n.size), n)
    frac = (np.arange(seg.size) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n, n)
    return np.concatenate([start[seg] + delta[seg] * frac[:, None], xy[-1:]])


def _data_points(ax: Axes, allowed_gids: Iterable[str]) -> Iterator[np.ndarray]:
    """Display coordinates of the data drawn on ``ax`` (clipped data: inside the axes)."""
    skip = _legend_artists(ax)
    allowed = set(allowed_gids)
    frame = ax.get_window_extent()
    for artist in ax.get_children():
        if artist in skip or not artist.get_visible() or artist.get_gid() in allowed:
            continue
        for xy in _artist_points(ax, artist):
            if artist.get_clip_on():
                xy = xy[(xy[:, 0] >= frame.x0) & (xy[:, 0] <= frame.x1)
                        & (xy[:, 1] >= frame.y0) & (xy[:, 1] <= frame.y1)]
            yield xy


def _artist_points(ax: Axes, artist) -> Iterator[np.ndarray]:
    """Display coordinates of one artist's data: polylines densified, bars as grids."""
    if isinstance(artist, Line2D):
        xy = artist.get_transform().transform(artist.get_xydata())
        yield _densify(xy) if artist.get_linestyle() not in ("None", "", " ") else xy
    elif isinstance(artist, Collection):
        offsets = artist.get_offsets()
        if len(offsets):
            yield artist.get_offset_transform().transform(offsets)
        for path in artist.get_paths():
            yield _densify(artist.get_transform().transform(path.vertices))
    elif isinstance(artist, Rectangle) and artist is not ax.patch:
        b = artist.get_window_extent()
        if b.width > 0 and b.height > 0:
            xs, ys = np.meshgrid(np.linspace(b.x0, b.x1, 5), np.linspace(b.y0, b.y1, 5))
            yield np.column_stack([xs.ravel(), ys.ravel()])


def text_on_data(fig: Figure, pad: float = 0.5,
                 allowed_gids: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(text, axes) pairs where a text's box covers data plotted in some axes."""
    renderer = _draw(fig)
    texts = visible_texts(fig)
    boxes = [(t, _box(t, renderer, pad)) for t in texts]
    bad = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        points = [p for p in _data_points(ax, allowed_gids) if len(p)]
        if not points:
            continue
        pts = np.concatenate(points)
        for t, b in boxes:
            if b.width <= 0 or t in _legend_artists(ax):
                continue
            inside = ((pts[:, 0] > b.x0) & (pts[:, 0] < b.x1) & (pts[:, 1] > b.y0)
                      & (pts[:, 1] < b.y1))
            if inside.any():
                bad.append((_describe(t), ax.get_xlabel() or ax.get_label() or "axes"))
    return bad


def unlabelled_axes(fig: Figure) -> list[str]:
    """Visible axes (x or y) that show tick labels but have no axis label."""
    renderer = _draw(fig)
    shown = set(visible_texts(fig))
    bad = []
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison:
            continue
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            if not axis.get_visible():
                continue
            has_ticks = any(t.label1 in shown or t.label2 in shown
                            for t in axis.get_major_ticks())
            if has_ticks and not axis.label.get_text().strip():
                bad.append(f"axes {i} ({ax.get_title() or ax.get_label()}): no {name} label")
    del renderer
    return bad


def outside_figure(fig: Figure, tol: float = 1.0) -> list[str]:
    """Texts whose box sticks out of the figure by more than ``tol`` pixels."""
    renderer = _draw(fig)
    w, h = fig.canvas.get_width_height()
    return [_describe(t) for t in visible_texts(fig)
            for b in [t.get_window_extent(renderer)]
            if b.x0 < -tol or b.y0 < -tol or b.x1 > w + tol or b.y1 > h + tol]


def check_figure(fig: Figure, *, allowed_gids: Iterable[str] = ()) -> None:
    """Assert: no overlapping texts, no text on data, every axis labelled, all inside."""
    problems = {
        "overlapping texts": text_overlaps(fig),
        "texts on plotted data": text_on_data(fig, allowed_gids=allowed_gids),
        "unlabelled axes": unlabelled_axes(fig),
        "texts outside the figure": outside_figure(fig),
    }
    problems = {k: v for k, v in problems.items() if v}
    assert not problems, "; ".join(f"{k}: {v}" for k, v in problems.items())

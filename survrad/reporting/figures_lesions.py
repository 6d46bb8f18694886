"""Lesion-level figures (docs/architecture.md, lesion-level outputs): the lesion risk map
and the waterfall plot.

* :class:`LesionRiskMapDisplay`: patients (rows, highest risk on top) x lesions (columns,
  ordered by risk inside the patient). Cell shade = lesion risk; a circle whose area is
  proportional to ``volume^(2/3)`` (the cross-section of a sphere of that volume);
  circle colour = organ; black ring = irradiated; star = high-risk flag.
* :class:`LesionWaterfallDisplay`: per-lesion % change of the longest diameter, sorted,
  irradiated vs not, with the RECIST-like +20 % and -30 % lines and the lesion response
  rate (change <= -30 %) of each group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import Affine2D, ScaledTranslation

from survrad._validation import check_choice, check_int
from survrad.exceptions import SchemaError
from survrad.reporting._plotting import DisplayMixin, check_columns
from survrad.reporting.style import (
    COLUMN_WIDTH,
    GREY,
    OKABE_ITO,
    SMALL_FONT_SIZE,
    group_colors,
    publication_style,
)

__all__ = ["LesionRiskMapDisplay", "LesionWaterfallDisplay"]

_MAX_AREA = 50.0                 # marker area (pt^2) of the largest volume shown
_MIN_AREA = 2.0
_RISK_CMAP = ListedColormap(
    [(1 - v, 1 - v, 1 - v) for v in np.linspace(0.04, 0.72, 256)], name="survrad_risk")
_ROW_PT = 9.0                    # height of one patient row, points
_SPLIT_ABOVE = 250               # waterfall: more lesions than this are drawn by group


def _binary_column(values: pd.Series, name: str, ids: pd.Series) -> np.ndarray:
    """0/1 or boolean column as a bool array; SchemaError naming other values."""
    ok = values.isin([0, 1, True, False]) & values.notna()
    if not ok.all():
        found = sorted(set(values[~ok].astype(str)))
        raise SchemaError(f"must be 0/1 (or boolean); found {found}.", column=name,
                          ids=ids[~ok].tolist())
    return values.astype(float).to_numpy() == 1.0


def _volume_area(volume: np.ndarray, v_ref: float) -> np.ndarray:
    return np.clip(_MAX_AREA * (volume / v_ref) ** (2 / 3), _MIN_AREA, _MAX_AREA)


# ---------------------------------------------------------------------- risk map
class LesionRiskMapDisplay(DisplayMixin):
    """Patients x lesions map of lesion risk, volume, organ, irradiation and high-risk flag.

    Parameters
    ----------
    cells : DataFrame
        One row per lesion shown: patient_id, lesion_id, row (0 = top), col (0 = highest
        risk), risk, high_risk, and organ / volume_ml / irradiated when available.
    patients : list of str
        Patients shown, top to bottom.
    n_patients_total : int
        Patients in the table (more than shown when ``max_patients`` applied).
    risk_range : (float, float)
        Colour scale limits (the range over ALL lesions, so a subset keeps the scale).

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    mesh_ : QuadMesh
        The risk heat map.
    """

    def __init__(self, *, cells: pd.DataFrame, patients: list[str], n_patients_total: int,
                 risk_range: tuple[float, float]) -> None:
        self.cells = cells
        self.patients = patients
        self.n_patients_total = n_patients_total
        self.risk_range = risk_range

    @classmethod
    def from_table(cls, lesion_table: pd.DataFrame, *, max_patients: int = 40,
                   select: str = "spread") -> LesionRiskMapDisplay:
        """Risk map from a per-lesion risk table (``lesion_risk.csv`` + lesion columns).

        Parameters
        ----------
        lesion_table : DataFrame
            Columns patient_id, lesion_id, risk, high_risk; optional rank_in_patient
            (1 = highest risk; default the risk order), organ, volume_ml and irradiated
            (0/1), each drawn when present.
        max_patients : int, default 40
            At most this many patients (rows) are drawn.
        select : {"spread", "top"}, default "spread"
            With more patients than ``max_patients``: "spread" takes patients evenly
            spaced over the ranking by maximum lesion risk (a representative picture),
            "top" the highest-risk ones. The title says how many are shown.

        Returns
        -------
        LesionRiskMapDisplay

        Examples
        --------
        >>> tab = pd.DataFrame({"patient_id": ["P1", "P1", "P2"],
        ...                     "lesion_id": ["a", "b", "c"], "risk": [0.2, 1.3, -0.4],
        ...                     "high_risk": [False, True, False]})
        >>> disp = LesionRiskMapDisplay.from_table(tab)
        >>> disp.cells.sort_values("lesion_id")["col"].tolist()
        [1, 0, 0]
        """
        max_patients = check_int("max_patients", max_patients, min_value=1)
        select = check_choice("select", select, ["spread", "top"])
        df = check_columns(lesion_table, ["patient_id", "lesion_id", "risk", "high_risk"],
                           "lesion_table")
        cells = cls._clean(df)
        cells = cells.sort_values(["patient_id", "order"], kind="mergesort")
        cells["col"] = cells.groupby("patient_id", sort=False).cumcount()
        top = cells.groupby("patient_id")["risk"].max().sort_values(ascending=False,
                                                                     kind="mergesort")
        ranked = [str(p) for p in top.index]
        if len(ranked) > max_patients:
            if select == "top":
                keep = ranked[:max_patients]
            else:
                idx = np.unique(np.round(np.linspace(0, len(ranked) - 1, max_patients)))
                keep = [ranked[int(i)] for i in idx]
        else:
            keep = ranked
        row = {p: i for i, p in enumerate(keep)}
        shown = cells[cells["patient_id"].isin(row)].copy()
        shown["row"] = shown["patient_id"].map(row)
        risk = cells["risk"].to_numpy(float)
        return cls(cells=shown.drop(columns="order").reset_index(drop=True), patients=keep,
                   n_patients_total=len(ranked),
                   risk_range=(float(risk.min()), float(risk.max())))

    @staticmethod
    def _clean(df: pd.DataFrame) -> pd.DataFrame:
        ids = df["lesion_id"].astype(str)
        risk = pd.to_numeric(df["risk"], errors="coerce")
        if risk.isna().any():
            raise SchemaError("risk is missing or not numeric; every lesion drawn needs a "
                              "score.", column="risk", ids=ids[risk.isna()].tolist())
        out = pd.DataFrame({"patient_id": df["patient_id"].astype(str).to_numpy(),
                            "lesion_id": ids.to_numpy(), "risk": risk.to_numpy(float),
                            "high_risk": _binary_column(df["high_risk"], "high_risk", ids)})
        if "rank_in_patient" in df.columns:
            out["order"] = pd.to_numeric(df["rank_in_patient"], errors="coerce").to_numpy()
            if out["order"].isna().any():
                raise SchemaError("rank_in_patient must be numeric.", column="rank_in_patient",
                                  ids=ids[out["order"].isna().to_numpy()].tolist())
        else:
            out["order"] = -out["risk"]
        if "organ" in df.columns:
            out["organ"] = df["organ"].astype(str).to_numpy()
        if "volume_ml" in df.columns:
            vol = pd.to_numeric(df["volume_ml"], errors="coerce")
            if not (vol > 0).all():
                raise SchemaError("volume_ml must be a positive number.", column="volume_ml",
                                  ids=ids[~(vol > 0)].tolist())
            out["volume_ml"] = vol.to_numpy(float)
        if "irradiated" in df.columns:
            out["irradiated"] = _binary_column(df["irradiated"], "irradiated", ids)
        dup = out.duplicated(["patient_id", "lesion_id"])
        if dup.any():
            raise SchemaError("duplicate (patient_id, lesion_id) rows in lesion_table.",
                              ids=out.loc[dup, "lesion_id"].tolist())
        return out

    # -------------------------------------------------------------------- drawing
    def plot(self, ax: Axes | None = None, **kwargs: Any) -> LesionRiskMapDisplay:
        """Draw the map, a colour bar for risk and legends of the encodings.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            The legends are drawn below ``ax``.
        **kwargs
            Passed to ``Axes.pcolormesh``.

        Returns
        -------
        self
        """
        c = self.cells
        n_rows, n_cols = len(self.patients), int(c["col"].max()) + 1
        grid = np.full((n_rows, n_cols), np.nan)
        grid[c["row"].to_numpy(), c["col"].to_numpy()] = c["risk"].to_numpy(float)
        height = max(3.4, 1.3 + n_rows * _ROW_PT / 72)
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, height))
            self.mesh_ = ax.pcolormesh(np.arange(n_cols + 1) - 0.5, np.arange(n_rows + 1) - 0.5,
                                       np.ma.masked_invalid(grid), cmap=_RISK_CMAP,
                                       vmin=self.risk_range[0], vmax=self.risk_range[1],
                                       edgecolors="white", linewidth=0.6, **kwargs)
            organ_colors = self._draw_lesions(ax)
            self._format(ax, n_rows, n_cols)
            self._side_panel(ax, organ_colors)
        return self

    def _side_panel(self, ax: Axes, organ_colors: dict[str, str]) -> None:
        """Colour bar and legend in a column right of ``ax`` (sizes in points)."""
        corner = (Affine2D().scale(1 / 72) + self.figure_.dpi_scale_trans
                  + ScaledTranslation(1, 1, ax.transAxes))    # points from the top-right
        cax = ax.inset_axes([8, -68, 6, 64], transform=corner)
        cbar = self.figure_.colorbar(self.mesh_, cax=cax)
        cbar.set_label("Lesion risk", fontsize=SMALL_FONT_SIZE)
        cbar.ax.tick_params(labelsize=SMALL_FONT_SIZE, width=0.5, length=2)
        cbar.outline.set_linewidth(0.5)
        handles = [Line2D([], [], linestyle="none", marker="o", markersize=5,
                          markerfacecolor=col, markeredgecolor="white",
                          label=organ.replace("_", " "))
                   for organ, col in organ_colors.items()]
        ax.legend(handles=handles + self._encoding_handles(), loc="upper left",
                  bbox_to_anchor=(4, -80), bbox_transform=corner, borderaxespad=0.0,
                  handletextpad=0.4, labelspacing=0.45, title="Lesion", alignment="left")

    def _draw_lesions(self, ax: Axes) -> dict[str, str]:
        c = self.cells
        organs = sorted(c["organ"].unique()) if "organ" in c.columns else []
        organ_colors = dict(zip(organs, group_colors(len(organs)), strict=True))
        x, y = c["col"].to_numpy(float), c["row"].to_numpy(float)
        if "volume_ml" in c.columns:
            self.v_ref_ = float(c["volume_ml"].max())
            area = _volume_area(c["volume_ml"].to_numpy(float), self.v_ref_)
        else:
            area = np.full(len(c), 16.0)
        face = np.array(c["organ"].map(organ_colors).tolist() if organs else ["white"] * len(c))
        irr = (c["irradiated"].to_numpy(bool) if "irradiated" in c.columns
               else np.zeros(len(c), dtype=bool))
        if {"organ", "volume_ml", "irradiated"} & set(c.columns):
            ax.scatter(x[~irr], y[~irr], s=area[~irr], c=face[~irr], edgecolors="white",
                       linewidths=0.3, zorder=3)
            ring = ax.scatter(x[irr], y[irr], s=area[irr], c=face[irr], edgecolors="black",
                              linewidths=1.1, zorder=3)
            ring.set_path_effects([patheffects.withStroke(linewidth=2.2, foreground="white")])
        hr = c["high_risk"].to_numpy(bool)
        star = ax.scatter(x[hr] + 0.32, y[hr] - 0.27, marker="*", s=16, color="black",
                          linewidths=0, zorder=4)
        star.set_path_effects([patheffects.withStroke(linewidth=1.2, foreground="white")])
        return organ_colors

    def _format(self, ax: Axes, n_rows: int, n_cols: int) -> None:
        ax.set_xlim(-0.5, n_cols - 0.5)
        ax.set_ylim(n_rows - 0.5, -0.5)
        ax.set_yticks(np.arange(n_rows), self.patients)
        ax.set_xticks(np.arange(n_cols), [str(i + 1) for i in range(n_cols)])
        ax.tick_params(length=0)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel("Lesion rank within patient (1 = highest risk)")
        ax.set_ylabel("Patient (highest risk on top)")
        if n_rows < self.n_patients_total:
            ax.set_title(f"{n_rows} of {self.n_patients_total} patients shown",
                         fontweight="normal", fontsize=SMALL_FONT_SIZE, loc="left")

    def _encoding_handles(self) -> list[Line2D]:
        handles = []
        if "volume_ml" in self.cells.columns:
            vols = _nice_volumes(self.v_ref_)
            sizes = np.sqrt(_volume_area(np.array(vols), self.v_ref_))
            handles += [Line2D([], [], linestyle="none", marker="o", markersize=size,
                               markerfacecolor=GREY, markeredgecolor="white",
                               label=f"{vol:g} ml")
                        for vol, size in zip(vols, sizes, strict=True)]
        if "irradiated" in self.cells.columns:
            handles.append(Line2D([], [], linestyle="none", marker="o", markersize=5,
                                  markerfacecolor="white", markeredgecolor="black",
                                  markeredgewidth=1.1, label="irradiated"))
        handles.append(Line2D([], [], linestyle="none", marker="*", markersize=5,
                              color="black", label="high risk"))
        return handles


def _nice_volumes(v_max: float) -> list[float]:
    """About three round reference volumes up to ``v_max`` for the size legend.

    Examples
    --------
    >>> _nice_volumes(60.0)
    [2.0, 10.0, 50.0]
    """
    nice = np.array([0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000])
    cands = nice[nice <= v_max]
    if cands.size == 0:
        return [float(f"{v_max:.2g}")]
    top = float(cands[-1])
    picks = [float(nice[np.argmin(np.abs(np.log(nice / v)))]) for v in (top / 20, top / 4)]
    return sorted({*[v for v in picks if v < top], top})


# ----------------------------------------------------------------------- waterfall
class LesionWaterfallDisplay(DisplayMixin):
    """Waterfall plot of per-lesion % change in longest diameter, irradiated vs not.

    Parameters
    ----------
    change : DataFrame
        pct_change and irradiated (bool), sorted by decreasing change.
    n_excluded : int
        Lesions without a follow-up diameter (not drawn; stated in the title).
    response_threshold, progression_threshold : float
        -30 and +20 (percent), the RECIST 1.1 cut-offs applied per lesion.

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    bars_ : BarContainer
    response_rates : dict
        Fraction of lesions with change <= ``response_threshold`` per group.
    """

    def __init__(self, *, change: pd.DataFrame, n_excluded: int = 0,
                 response_threshold: float = -30.0,
                 progression_threshold: float = 20.0) -> None:
        self.change = change
        self.n_excluded = n_excluded
        self.response_threshold = response_threshold
        self.progression_threshold = progression_threshold
        resp = change["pct_change"] <= response_threshold
        self.response_rates = {
            group: float(resp[change["irradiated"] == flag].mean())
            for group, flag in (("irradiated", True), ("not irradiated", False))
            if (change["irradiated"] == flag).any()}

    @classmethod
    def from_lesions(cls, lesions_df: pd.DataFrame, *,
                     diameter_col: str = "longest_diameter_mm",
                     followup_col: str = "diameter_followup_mm",
                     irradiated_col: str = "irradiated") -> LesionWaterfallDisplay:
        """Waterfall from baseline and follow-up diameters.

        Parameters
        ----------
        lesions_df : DataFrame
            One row per lesion (baseline timepoint).
        diameter_col, followup_col, irradiated_col : str
            Baseline longest diameter (> 0), follow-up diameter (>= 0; missing = no
            follow-up, counted and reported, never drawn) and 0/1 irradiation flag.

        Returns
        -------
        LesionWaterfallDisplay

        Examples
        --------
        >>> les = pd.DataFrame({"longest_diameter_mm": [20.0, 30, 40],
        ...                     "diameter_followup_mm": [10.0, 33, 40],
        ...                     "irradiated": [1, 0, 0]})
        >>> LesionWaterfallDisplay.from_lesions(les).change["pct_change"].tolist()
        [10.0, 0.0, -50.0]
        """
        df = check_columns(lesions_df, [diameter_col, followup_col, irradiated_col],
                           "lesions_df")
        ids = (df["lesion_id"].astype(str) if "lesion_id" in df.columns
               else pd.Series([f"row {i + 1}" for i in range(len(df))], index=df.index))
        base = pd.to_numeric(df[diameter_col], errors="coerce")
        bad = ~(base > 0) | ~np.isfinite(base)
        if bad.any():
            raise SchemaError("baseline diameter must be a positive number.",
                              column=diameter_col, ids=ids[bad].tolist())
        follow = pd.to_numeric(df[followup_col], errors="coerce")
        neg = follow < 0
        if neg.any() or (df[followup_col].notna() & follow.isna()).any():
            raise SchemaError("follow-up diameter must be a number >= 0 (missing = no "
                              "follow-up).", column=followup_col,
                              ids=ids[neg | (df[followup_col].notna() & follow.isna())].tolist())
        irr = _binary_column(df[irradiated_col], irradiated_col, ids)
        has = follow.notna().to_numpy()
        if not has.any():
            raise SchemaError("no lesion has a follow-up diameter: nothing to plot.",
                              column=followup_col)
        pct = 100.0 * (follow.to_numpy(float) - base.to_numpy(float)) / base.to_numpy(float)
        change = pd.DataFrame({"pct_change": pct[has], "irradiated": irr[has]},
                              index=ids[has].to_numpy())
        change = change.sort_values("pct_change", ascending=False, kind="mergesort")
        return cls(change=change, n_excluded=int((~has).sum()))

    def plot(self, ax: Axes | None = None, *, split: bool | None = None,
             colors: tuple[str, str] | None = None, **kwargs: Any) -> LesionWaterfallDisplay:
        """Draw the bars, the +20 % / -30 % lines and the legend with response rates.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        split : bool, optional
            False: one waterfall of all lesions, bars coloured by group. True: irradiated
            lesions (left) and the others (right) as two sorted blocks on the same axis.
            None (default): split when there are more than 250 lesions, where single bars
            are thinner than a printed pixel and colours would blend.
        colors : (str, str), optional
            Colours of irradiated and non-irradiated lesions (default Okabe-Ito
            vermillion and blue).
        **kwargs
            Passed to ``Axes.bar``.

        Returns
        -------
        self
        """
        irr_color, other_color = colors or (OKABE_ITO["vermillion"], OKABE_ITO["blue"])
        ch = self.change
        split = len(ch) > _SPLIT_ABOVE if split is None else bool(split)
        x, ch = self._positions(split)
        col = np.where(ch["irradiated"].to_numpy(bool), irr_color, other_color)
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, 2.7))
            self.bars_ = ax.bar(x, ch["pct_change"].to_numpy(float), width=1.0, color=col,
                                linewidth=0, **kwargs)
            ax.axhline(0.0, color="black", linewidth=0.5)
            for level, text in ((self.progression_threshold, "+20%"),
                                (self.response_threshold, "−30%")):
                ax.axhline(level, color="black", linestyle="--", linewidth=0.6)
                ax.text(1.0, level, f" {text}", transform=ax.get_yaxis_transform(),
                        ha="left", va="center", fontsize=SMALL_FONT_SIZE)
            ax.set_xlim(-0.5, float(x.max()) + 0.5)
            ax.set_ylim(min(-100.0, float(ch["pct_change"].min()) - 5),
                        max(50.0, float(ch["pct_change"].max()) * 1.05))
            ax.set_xticks([])
            ax.spines["bottom"].set_visible(False)
            how = "sorted within group" if split else "sorted by change"
            note = (f"\n{self.n_excluded} without follow-up diameter not shown"
                    if self.n_excluded else "")
            ax.set_xlabel(f"Lesions (n = {len(ch)}), {how}{note}")
            ax.set_ylabel("Change in longest diameter (%)")
            ax.legend(handles=self._handles(irr_color, other_color), loc="lower left",
                      bbox_to_anchor=(0.0, 1.0), borderaxespad=0.2,
                      title="Lesion response (≤ −30%)", alignment="left")
        return self

    def _positions(self, split: bool) -> tuple[np.ndarray, pd.DataFrame]:
        """Bar positions: one run, or irradiated then the others with a gap between."""
        ch = self.change
        if not split:
            return np.arange(len(ch), dtype=float), ch
        irr = ch["irradiated"].to_numpy(bool)
        ordered = pd.concat([ch[irr], ch[~irr]])
        gap = max(1, round(0.03 * len(ch)))
        x = np.arange(len(ch), dtype=float)
        x[int(irr.sum()):] += gap
        return x, ordered

    def _handles(self, irr_color: str, other_color: str) -> list[Patch]:
        ch = self.change
        out = []
        for group, flag, color in (("Irradiated", True, irr_color),
                                   ("Not irradiated", False, other_color)):
            n = int((ch["irradiated"] == flag).sum())
            if n:
                rate = self.response_rates[group.lower()]
                out.append(Patch(color=color, label=f"{group}: {100 * rate:.0f}% (n = {n})"))
        return out

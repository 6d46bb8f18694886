"""Figures of the lesion decision section: which lesion to irradiate, and how sure.

* :class:`LesionDecisionDisplay`: for a set of patients, every lesion's cross-fitted risk
  (standardised) with its bootstrap interval, grouped by patient, the top-ranked lesion
  filled, irradiated lesions ringed, and ``p_riskiest`` (share of bootstrap refits in
  which the lesion is the patient's riskiest) written beside each lesion;
* :class:`PolicyComparisonDisplay`: the share of patients in which each rule (top-ranked
  / largest / random lesion) picks the worst lesion, with bootstrap intervals.

Both take computed results (:func:`survrad.lesions.lesion_decision_table`,
:func:`survrad.lesions.compare_policies`); nothing is computed here but the layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

from survrad._validation import check_choice, check_int
from survrad.exceptions import SchemaError
from survrad.reporting._plotting import DisplayMixin, check_columns, ci_percent
from survrad.reporting.style import (
    COLUMN_WIDTH,
    GREY,
    LIGHT_GREY,
    OKABE_ITO,
    SMALL_FONT_SIZE,
    publication_style,
)

__all__ = ["LesionDecisionDisplay", "PolicyComparisonDisplay"]

_ROW_IN = 0.16                   # height of one lesion row, inches
_RULE_LABELS = {"top_ranked": "Top-ranked lesion", "largest": "Largest lesion",
                "random": "Random lesion"}


class LesionDecisionDisplay(DisplayMixin):
    """Lesion risks with intervals and ``p_riskiest``, patient by patient.

    Parameters
    ----------
    rows : DataFrame
        One row per lesion drawn, top to bottom: patient_id, lesion_id, risk,
        risk_ci_low, risk_ci_high, p_riskiest, top (bool), irradiated (bool), y.
    patients : list of str
        Patients drawn, top to bottom.
    n_patients_total : int
    ci_level : float or None

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    """

    def __init__(self, *, rows: pd.DataFrame, patients: list[str], n_patients_total: int,
                 ci_level: float | None = None) -> None:
        self.rows = rows
        self.patients = patients
        self.n_patients_total = n_patients_total
        self.ci_level = ci_level

    @classmethod
    def from_decisions(cls, decisions: Any, *, patients: list[str] | None = None,
                       max_patients: int = 12, select: str = "spread"
                       ) -> LesionDecisionDisplay:
        """Figure data from a :class:`~survrad.lesions.LesionDecisions` (or its table).

        Parameters
        ----------
        decisions : LesionDecisions or DataFrame
            Needs patient_id, lesion_id, risk, risk_ci_low, risk_ci_high,
            rank_in_patient and p_riskiest; irradiated is drawn when present.
        patients : list of str, optional
            Patients to draw, in this order (overrides ``max_patients``/``select``).
        max_patients : int, default 12
            At most this many patients (multi-lesion patients first: a single lesion is
            no choice).
        select : {"spread", "top", "uncertain"}, default "spread"
            "spread": patients evenly spaced over the ranking by top risk; "top": the
            highest top risks; "uncertain": the lowest ``p_riskiest`` of the top-ranked
            lesion (the hardest choices).

        Returns
        -------
        LesionDecisionDisplay

        Examples
        --------
        >>> tab = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P2"],
        ...                     "lesion_id": ["a", "b", "c", "d"],
        ...                     "risk": [0.5, -0.2, 1.1, 0.9],
        ...                     "risk_ci_low": [-0.1, -0.8, 0.4, 0.2],
        ...                     "risk_ci_high": [1.0, 0.3, 1.6, 1.4],
        ...                     "rank_in_patient": [1, 2, 1, 2],
        ...                     "p_riskiest": [0.8, 0.2, 0.55, 0.45]})
        >>> disp = LesionDecisionDisplay.from_decisions(tab)
        >>> disp.patients
        ['P2', 'P1']
        """
        table = decisions.table if hasattr(decisions, "table") else decisions
        need = ["patient_id", "lesion_id", "risk", "risk_ci_low", "risk_ci_high",
                "rank_in_patient", "p_riskiest"]
        df = check_columns(table, need, "decisions").copy()
        df["patient_id"] = df["patient_id"].astype(str)
        ci = getattr(decisions, "ci_level", None)
        for col in ("risk", "risk_ci_low", "risk_ci_high", "p_riskiest"):
            values = pd.to_numeric(df[col], errors="coerce")
            if not np.isfinite(values).all():
                raise SchemaError("must be finite numbers.", column=col,
                                  ids=df.loc[~np.isfinite(values), "lesion_id"].tolist())
            df[col] = values.astype(float)
        keep = cls._choose(df, patients, max_patients, select)
        rows = cls._layout(df, keep)
        return cls(rows=rows, patients=keep, n_patients_total=df["patient_id"].nunique(),
                   ci_level=ci)

    @staticmethod
    def _choose(df: pd.DataFrame, patients: list[str] | None, max_patients: int,
                select: str) -> list[str]:
        if patients is not None:
            unknown = [p for p in patients if p not in set(df["patient_id"])]
            if unknown:
                raise SchemaError("patients not in the decision table.", ids=unknown)
            return [str(p) for p in patients]
        max_patients = check_int("max_patients", max_patients, min_value=1)
        select = check_choice("select", select, ["spread", "top", "uncertain"])
        top = df.loc[df["rank_in_patient"] == 1].set_index("patient_id")
        size = df.groupby("patient_id").size()
        multi = top.loc[size.reindex(top.index).to_numpy() >= 2]
        pool = multi if len(multi) else top
        if select == "uncertain":
            order = pool["p_riskiest"].sort_values(kind="mergesort").index
        else:
            order = pool["risk"].sort_values(ascending=False, kind="mergesort").index
        ranked = [str(p) for p in order]
        if len(ranked) <= max_patients or select != "spread":
            return ranked[:max_patients]
        idx = np.unique(np.round(np.linspace(0, len(ranked) - 1, max_patients)))
        return [ranked[int(i)] for i in idx]

    @staticmethod
    def _layout(df: pd.DataFrame, keep: list[str]) -> pd.DataFrame:
        parts, y = [], 0
        for p in keep:
            g = df.loc[df["patient_id"] == p].sort_values("rank_in_patient", kind="mergesort")
            g = g.assign(top=g["rank_in_patient"].to_numpy() == 1,
                         y=y + np.arange(len(g), dtype=float))
            y += len(g) + 1                           # one blank row between patients
            parts.append(g)
        rows = pd.concat(parts, ignore_index=True)
        irr = rows["irradiated"] if "irradiated" in rows.columns else pd.Series(0, rows.index)
        rows["irradiated"] = irr.fillna(0).astype(float).to_numpy() == 1.0
        return rows[["patient_id", "lesion_id", "risk", "risk_ci_low", "risk_ci_high",
                     "p_riskiest", "top", "irradiated", "y"]]

    def plot(self, ax: Axes | None = None) -> LesionDecisionDisplay:
        """Draw intervals, points and the ``p_riskiest`` column.

        Parameters
        ----------
        ax : matplotlib Axes, optional

        Returns
        -------
        self
        """
        r = self.rows
        n_rows = float(r["y"].max()) + 1
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, max(2.4, 0.9 + n_rows * _ROW_IN)))
            self._bands(ax)
            ax.axvline(0.0, color=GREY, linewidth=0.6, linestyle=(0, (3, 2)), zorder=1)
            ax.hlines(r["y"], r["risk_ci_low"], r["risk_ci_high"], color="black",
                      linewidth=0.8, zorder=2)
            top, irr = r["top"].to_numpy(), r["irradiated"].to_numpy()
            ax.scatter(r["risk"][~top], r["y"][~top], s=14, facecolor="white",
                       edgecolor="black", linewidth=0.8, zorder=3)
            ax.scatter(r["risk"][top], r["y"][top], s=14, color=OKABE_ITO["vermillion"],
                       edgecolor="black", linewidth=0.8, zorder=3)
            ax.scatter(r["risk"][irr], r["y"][irr], s=60, facecolor="none",
                       edgecolor=OKABE_ITO["blue"], linewidth=1.0, zorder=4)
            self._labels(ax)
            self._legend(ax)
        return self

    def _bands(self, ax: Axes) -> None:
        r = self.rows
        for i, (_, g) in enumerate(r.groupby("patient_id", sort=False)):
            if i % 2 == 0:
                ax.axhspan(g["y"].min() - 0.5, g["y"].max() + 0.5, color=LIGHT_GREY,
                           linewidth=0, zorder=0)

    def _labels(self, ax: Axes) -> None:
        r = self.rows
        ax.set_ylim(float(r["y"].max()) + 0.8, -0.8)
        ax.set_yticks(r["y"], r["lesion_id"])
        ax.tick_params(axis="y", length=0, labelsize=SMALL_FONT_SIZE - 1)
        text = blended_transform_factory(ax.transAxes, ax.transData)
        for y, p in zip(r["y"], r["p_riskiest"], strict=True):
            ax.text(1.02, y, f"{p:.2f}", transform=text, va="center", ha="left",
                    fontsize=SMALL_FONT_SIZE - 1)
        ax.text(1.02, -0.8, "p_riskiest", transform=text, va="bottom", ha="left",
                fontsize=SMALL_FONT_SIZE - 1)
        level = "" if self.ci_level is None else f" ({ci_percent(self.ci_level)} interval)"
        ax.set_xlabel(f"Lesion risk, SD of the training lesions{level}")
        shown = len(self.patients)
        title = f"{shown} of {self.n_patients_total} patients"
        if shown == self.n_patients_total:
            title = f"{shown} patients"
        ax.set_title(title, fontweight="normal", fontsize=SMALL_FONT_SIZE, loc="left")

    def _legend(self, ax: Axes) -> None:
        handles = [Line2D([], [], linestyle="none", marker="o", markersize=4,
                          markerfacecolor=OKABE_ITO["vermillion"], markeredgecolor="black",
                          label="top-ranked"),
                   Line2D([], [], linestyle="none", marker="o", markersize=4,
                          markerfacecolor="white", markeredgecolor="black", label="other")]
        if self.rows["irradiated"].any():
            handles.append(Line2D([], [], linestyle="none", marker="o", markersize=7,
                                  markerfacecolor="none", markeredgecolor=OKABE_ITO["blue"],
                                  label="irradiated"))
        below = ax.transAxes + ScaledTranslation(0, -30 / 72, self.figure_.dpi_scale_trans)
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                  bbox_transform=below, ncols=len(handles), frameon=False,
                  fontsize=SMALL_FONT_SIZE - 1)


class PolicyComparisonDisplay(DisplayMixin):
    """Hit rate (share of patients whose worst lesion is picked) of each rule.

    Parameters
    ----------
    rules : DataFrame
        rule, hit_rate, ci_low, ci_high, n_patients.
    target : str
        "truth" or "observed" (the axis label says which).
    chance : float
    ci_level : float

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    """

    def __init__(self, *, rules: pd.DataFrame, target: str, chance: float,
                 ci_level: float) -> None:
        self.rules = rules
        self.target = target
        self.chance = chance
        self.ci_level = ci_level

    @classmethod
    def from_comparison(cls, result: Any) -> PolicyComparisonDisplay:
        """Figure data from a :class:`~survrad.lesions.PolicyComparison`.

        Examples
        --------
        >>> from survrad.lesions import PolicyComparison
        >>> rules = pd.DataFrame({"rule": ["top_ranked", "largest", "random"],
        ...                       "hits": [60.0, 40.0, 28.0], "n_patients": 100,
        ...                       "hit_rate": [0.6, 0.4, 0.28], "ci_low": [0.5, 0.3, 0.26],
        ...                       "ci_high": [0.7, 0.5, 0.3]})
        >>> res = PolicyComparison(rules, pd.DataFrame(), "truth", 100, 0.28, 2000, 0.95)
        >>> PolicyComparisonDisplay.from_comparison(res).rules["rule"].tolist()
        ['top_ranked', 'largest', 'random']
        """
        rules = check_columns(result.rules, ["rule", "hit_rate", "ci_low", "ci_high",
                                             "n_patients"], "rules")
        return cls(rules=rules.reset_index(drop=True), target=result.target,
                   chance=float(result.chance), ci_level=float(result.ci_level))

    def plot(self, ax: Axes | None = None) -> PolicyComparisonDisplay:
        """Dots and intervals per rule, a dashed line at chance.

        Returns
        -------
        self
        """
        r = self.rules
        y = np.arange(len(r), dtype=float)
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, 0.9 + 0.3 * len(r)))
            ax.axvline(self.chance, color=GREY, linewidth=0.6, linestyle=(0, (3, 2)))
            ax.hlines(y, r["ci_low"], r["ci_high"], color="black", linewidth=1.0)
            ax.scatter(r["hit_rate"], y, s=18, color=OKABE_ITO["vermillion"],
                       edgecolor="black", linewidth=0.6, zorder=3)
            ax.set_yticks(y, [_RULE_LABELS.get(str(v), str(v)) for v in r["rule"]])
            ax.set_ylim(len(r) - 0.5, -0.5)
            ax.set_xlim(0.0, 1.0)
            what = ("the truly worst lesion" if self.target == "truth"
                    else "the most grown lesion")
            ax.set_xlabel(f"Share of patients in which it picks {what}\n"
                          f"({ci_percent(self.ci_level)} bootstrap interval; dashed: chance)",
                          fontsize=SMALL_FONT_SIZE)
            n = int(r["n_patients"].iloc[0])
            note = "" if self.target == "truth" else " (non-irradiated lesions)"
            ax.set_title(f"{n} patients with 2+ lesions{note}", fontweight="normal",
                         fontsize=SMALL_FONT_SIZE, loc="left")
        return self

"""Partial-effect figure: log hazard against a covariate with its interval (layer 6).

The figure of R's ``plot(rms::Predict(fit, age))``: for a continuous variable (a spline
term typically) a curve of the log hazard ratio against the reference value with its
pointwise band, for a categorical one a point and an interval per level. The numbers
come from :func:`survrad.models.partial_effect` (or ``partial_effect_from_pooled``);
this module only draws them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes

from survrad._validation import check_fraction, finite_array
from survrad.reporting._plotting import (
    DisplayMixin,
    ci_percent,
    format_number,
)
from survrad.reporting.style import COLUMN_WIDTH, GREY, group_colors, publication_style

__all__ = ["PartialEffectDisplay"]


class PartialEffectDisplay(DisplayMixin):
    """Log hazard ratio against a reference value of one covariate, with its interval.

    Parameters
    ----------
    values : array-like
        Grid of the covariate (numbers), or its levels (categorical).
    log_hazard, lower, upper : array-like
        Log hazard ratio against ``reference`` and its pointwise interval.
    variable : str
    reference : object
        The value where the log hazard ratio is 0.
    categorical : bool, default False
    ci_level : float, default 0.95
    observed : array-like, optional
        Observed values of the covariate (training patients), drawn as a rug.
    label : str, optional
        Legend entry (e.g. the model).

    Attributes
    ----------
    ax_, figure_ : set by :meth:`plot`.
    line_ : Line2D or None
        The curve (continuous variable).
    band_ : PolyCollection or None
        The interval band (continuous variable).
    errorbar_ : ErrorbarContainer or None
        Points and intervals (categorical variable).
    """

    def __init__(self, *, values: Any, log_hazard: Any, lower: Any, upper: Any,
                 variable: str, reference: Any, categorical: bool = False,
                 ci_level: float = 0.95, observed: Any = None,
                 label: str | None = None) -> None:
        self.values = values
        self.log_hazard = log_hazard
        self.lower = lower
        self.upper = upper
        self.variable = variable
        self.reference = reference
        self.categorical = categorical
        self.ci_level = ci_level
        self.observed = observed
        self.label = label

    @classmethod
    def from_effect(cls, effect: Any, *, observed: Any = None,
                    label: str | None = None) -> PartialEffectDisplay:
        """The figure of a :class:`~survrad.models.PartialEffect`.

        Parameters
        ----------
        effect : PartialEffect
        observed : array-like, optional
            Observed values of the covariate, drawn as a rug (continuous variables).
        label : str, optional

        Returns
        -------
        PartialEffectDisplay

        Examples
        --------
        >>> import survrad as sr
        >>> df = sr.load_dataset("pbc").rename(columns={"id": "patient_id"})
        >>> df["death"] = (df["status"] == 2).astype(int)
        >>> c = sr.read_cohort(df, patient_features=["age", "bili"],
        ...                    endpoints={"os": ("time", "death")})
        >>> pipe = sr.CohortPipeline(formula="rcs(age, 4) + log(bili)").fit(c, "os")
        >>> eff = sr.partial_effect(pipe, "age", n_points=20)
        >>> disp = PartialEffectDisplay.from_effect(eff, observed=c.patients["age"]).plot()
        >>> disp.ax_.get_xlabel()
        'age'
        """
        log_hazard = finite_array(effect.log_hazard, "log_hazard")
        lower = finite_array(effect.lower, "lower")
        upper = finite_array(effect.upper, "upper")
        values = (np.asarray(effect.values, dtype=object) if effect.categorical
                  else finite_array(effect.values, "values"))
        n = len(values)
        if not (log_hazard.size == lower.size == upper.size == n) or n == 0:
            raise ValueError("values, log_hazard, lower and upper must have the same, "
                             "non-zero length.")
        check_fraction("ci_level", effect.ci_level)
        obs = None
        if observed is not None and not effect.categorical:
            obs = finite_array(np.asarray(observed, dtype=float)[
                ~np.isnan(np.asarray(observed, dtype=float))], "observed")
        return cls(values=values, log_hazard=log_hazard, lower=lower, upper=upper,
                   variable=effect.variable, reference=effect.reference,
                   categorical=bool(effect.categorical), ci_level=float(effect.ci_level),
                   observed=obs, label=label)

    # --------------------------------------------------------------------- drawing
    def plot(self, ax: Axes | None = None, *, hazard_ratio: bool = False,
             color: str | None = None, **kwargs: Any) -> PartialEffectDisplay:
        """Draw the effect.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Drawn into a new single-column figure when None.
        hazard_ratio : bool, default False
            Plot the hazard ratio on a log axis instead of the log hazard ratio.
        color : str, optional
            Default: the first Okabe-Ito colour.
        **kwargs
            Passed to ``Axes.plot`` (continuous) or ``Axes.errorbar`` (categorical).

        Returns
        -------
        self
        """
        color = color or group_colors(1)[0]
        est, lo, hi = (np.asarray(self.log_hazard), np.asarray(self.lower),
                       np.asarray(self.upper))
        if hazard_ratio:
            est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
        with publication_style():
            ax = self._axes(ax, (COLUMN_WIDTH, 2.6))
            ax.axhline(1.0 if hazard_ratio else 0.0, color=GREY, linestyle="--",
                       linewidth=0.6, zorder=0)
            self.line_ = self.band_ = self.errorbar_ = None
            if self.categorical:
                self._draw_levels(ax, est, lo, hi, color, kwargs)
            else:
                self._draw_curve(ax, est, lo, hi, color, kwargs)
            if hazard_ratio:
                ax.set_yscale("log")
            self._labels(ax, hazard_ratio)
        return self

    def _draw_curve(self, ax: Axes, est, lo, hi, color: str, kwargs: dict) -> None:
        x = np.asarray(self.values, dtype=float)
        self.band_ = ax.fill_between(x, lo, hi, color=color, alpha=0.2, linewidth=0,
                                     label=f"{ci_percent(self.ci_level)} CI (pointwise)")
        (self.line_,) = ax.plot(x, est, color=color, label=self.label, **kwargs)
        if self.observed is not None and len(self.observed):
            obs = np.asarray(self.observed, dtype=float)
            obs = obs[(obs >= x.min()) & (obs <= x.max())]
            ax.plot(obs, np.zeros_like(obs), linestyle="none", marker="|", markersize=4,
                    color=GREY, alpha=0.6, transform=ax.get_xaxis_transform(),
                    clip_on=False)
        ax.set_xlim(x.min(), x.max())

    def _draw_levels(self, ax: Axes, est, lo, hi, color: str, kwargs: dict) -> None:
        pos = np.arange(len(self.values), dtype=float)
        err = np.vstack([est - lo, hi - est])
        self.errorbar_ = ax.errorbar(pos, est, yerr=err, fmt="s", color=color,
                                     markersize=3.5, elinewidth=0.9, label=self.label,
                                     **kwargs)
        ax.set_xticks(pos)
        ax.set_xticklabels([_level_text(v) + (" (ref.)" if _same(v, self.reference) else "")
                            for v in self.values])
        ax.set_xlim(-0.5, len(pos) - 0.5)

    def _labels(self, ax: Axes, hazard_ratio: bool) -> None:
        ref = _level_text(self.reference)
        what = "Hazard ratio" if hazard_ratio else "Log hazard ratio"
        ax.set_xlabel(self.variable)
        ax.set_ylabel(f"{what} vs {self.variable} = {ref}")
        if self.label:
            ax.legend(loc="best")


def _level_text(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return format_number(float(v), 3).rstrip("0").rstrip(".") or "0"
    return str(v)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False

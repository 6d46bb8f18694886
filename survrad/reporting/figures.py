"""Publication figures as Display objects (scikit-learn's Display pattern).

A Display is built by a ``from_...`` classmethod that computes everything it shows;
``plot(ax=None)`` draws it, stores ``ax_`` and ``figure_`` and returns the display.
Nothing is shown or printed; save with :func:`survrad.reporting.style.save_figure`.

Without ``ax``, ``plot`` creates a :class:`matplotlib.figure.Figure` outside pyplot: no
global state, nothing to close, no "too many open figures" in a long report. In a
notebook, evaluate ``display.figure_`` to show it, or pass an ``ax`` from
``plt.subplots()``. A passed ``ax`` is given the publication fonts and spines so that
tick labels match the annotations.

===============================  ============================================
Display                          figure
===============================  ============================================
:class:`KaplanMeierDisplay`      KM by predicted risk group, numbers at risk,
                                 log-rank p, hazard ratio
:class:`ForestPlotDisplay`       hazard ratios with CI on a log axis
:class:`CalibrationDisplay`      predicted vs observed survival at a horizon
:class:`TimeDependentAUCDisplay` AUC(t)
:class:`ROCDisplay`              ROC curve of a binary endpoint
:class:`StrategyComparisonDisplay` corrected C per strategy and model
:class:`OptimismDisplay`         bootstrap optimism distribution
:class:`LesionRiskMapDisplay`    patients x lesions risk map
:class:`LesionWaterfallDisplay`  lesion diameter change, irradiated vs not
===============================  ============================================
"""

from survrad.reporting.figures_comparison import StrategyComparisonDisplay
from survrad.reporting.figures_lesions import LesionRiskMapDisplay, LesionWaterfallDisplay
from survrad.reporting.figures_survival import (
    ForestPlotDisplay,
    KaplanMeierDisplay,
    risk_groups_from_training,
)
from survrad.reporting.figures_validation import (
    CalibrationDisplay,
    OptimismDisplay,
    ROCDisplay,
    TimeDependentAUCDisplay,
)

__all__ = [
    "CalibrationDisplay",
    "ForestPlotDisplay",
    "KaplanMeierDisplay",
    "LesionRiskMapDisplay",
    "LesionWaterfallDisplay",
    "OptimismDisplay",
    "ROCDisplay",
    "StrategyComparisonDisplay",
    "TimeDependentAUCDisplay",
    "risk_groups_from_training",
]

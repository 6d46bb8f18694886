"""survrad.reporting (layer 6): figures, tables and the atomic report writer.

The only package that imports matplotlib. Names are imported on first use, so importing
:mod:`survrad.reporting.writer` (e.g. by the command line) does not load matplotlib.

Figures are Display objects (scikit-learn's pattern): ``Display.from_...(data)``
computes, ``.plot(ax=None)`` draws and keeps ``ax_`` / ``figure_``;
:func:`save_figure` writes deterministic PNG (300 dpi) and PDF files atomically.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "BestResponseWaterfallDisplay": "survrad.reporting.figures_recist",
    "CalibrationDisplay": "survrad.reporting.figures_validation",
    "DecisionCurveDisplay": "survrad.reporting.figures_utility",
    "ForestPlotDisplay": "survrad.reporting.figures_survival",
    "KaplanMeierDisplay": "survrad.reporting.figures_survival",
    "LesionDecisionDisplay": "survrad.reporting.figures_decision",
    "LesionRiskMapDisplay": "survrad.reporting.figures_lesions",
    "LesionWaterfallDisplay": "survrad.reporting.figures_lesions",
    "NomogramDisplay": "survrad.reporting.figures_utility",
    "OptimismDisplay": "survrad.reporting.figures_validation",
    "PartialEffectDisplay": "survrad.reporting.figures_effects",
    "PolicyComparisonDisplay": "survrad.reporting.figures_decision",
    "ROCDisplay": "survrad.reporting.figures_validation",
    "RecistSpiderDisplay": "survrad.reporting.figures_recist",
    "SchoenfeldDisplay": "survrad.reporting.figures_models",
    "SmoothCalibrationDisplay": "survrad.reporting.figures_utility",
    "StrategyComparisonDisplay": "survrad.reporting.figures_comparison",
    "SwimmerDisplay": "survrad.reporting.figures_timevarying",
    "TimeDependentAUCDisplay": "survrad.reporting.figures_validation",
    "risk_groups_from_training": "survrad.reporting.figures_survival",
    "publication_style": "survrad.reporting.style",
    "save_figure": "survrad.reporting.style",
    "OKABE_ITO": "survrad.reporting.style",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'survrad.reporting' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__

"""Feature steps (layer 3): imputation, harmonisation, robustness filtering and selection.

Every step is a scikit-learn transformer on DataFrames: ``fit(X, y=None)`` learns from the
training rows only, ``transform(X)`` applies what was learned to any rows (same index),
``get_feature_names_out()`` names the output columns, and ``sklearn.base.clone`` works.
"""

from survrad.features.combat import ComBat
from survrad.features.filters import CorrelationFilter, VarianceFilter
from survrad.features.impute import Imputer
from survrad.features.robustness import ICCFilter, icc
from survrad.features.scale import Standardize
from survrad.features.selection import (
    LassoCoxSelector,
    StabilitySelector,
    UnivariateCoxFilter,
    association,
    cox_score_test,
)

__all__ = [
    "ComBat",
    "CorrelationFilter",
    "ICCFilter",
    "Imputer",
    "LassoCoxSelector",
    "StabilitySelector",
    "Standardize",
    "UnivariateCoxFilter",
    "VarianceFilter",
    "association",
    "cox_score_test",
    "icc",
]

"""Layer 0 numerics: numpy/scipy kernels, and numba-compiled ones (:mod:`._jit`: Harrell's
C, the elastic-net coordinate descent), with no survrad imports beyond layer 0.

Shared by higher layers (e.g. the Cox partial likelihood serves models.CoxModel,
lesions.LesionRiskAggregation and lesions.AttentionMIL).
"""

"""Layer 0 numerics: pure numpy/scipy kernels with no survrad imports beyond layer 0.

Shared by higher layers (e.g. the Cox partial likelihood serves models.CoxModel,
lesions.LesionRiskAggregation and lesions.AttentionMIL).
"""

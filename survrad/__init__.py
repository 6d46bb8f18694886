"""survrad: survival modelling of multi-lesion radiomics in radio-immunotherapy.

Import as ``import survrad as sr``. The public surface is listed in ``__all__``; the
subpackages follow the layers of docs/architecture.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (imported on first use, so `import survrad`
# stays fast and the CLI starts quickly)
_EXPORTS = {
    "Cohort": "survrad.data.cohort",
    "ColumnNames": "survrad.data.cohort",
    "Endpoint": "survrad.data.cohort",
    "Surv": "survrad.data.outcome",
    "read_cohort": "survrad.data.io",
    "read_pyradiomics": "survrad.data.pyradiomics",
    "simulate_cohort": "survrad.data.simulate",
    "load_dataset": "survrad.datasets",
    "recist": "survrad.longitudinal.recist",
    "pfs_from_scans": "survrad.longitudinal.pfs",
    "concordance_index": "survrad.evaluation.concordance",
    "uno_concordance_index": "survrad.evaluation.concordance",
    "counting_process_rows": "survrad.longitudinal.timevarying",
    "landmark": "survrad.longitudinal.landmark",
    "status_at": "survrad.longitudinal.landmark",
    "ipa": "survrad.evaluation.metrics",
    "make_survival_scorer": "survrad.evaluation.scorers",
    "integrated_auc": "survrad.evaluation.metrics",
    "decision_curve": "survrad.evaluation.decision",
    "smooth_calibration": "survrad.evaluation.smooth_calibration",
    "nomogram": "survrad.evaluation.nomogram",
    "CoxModel": "survrad.models.cox",
    "SurvivalForest": "survrad.models.forest",
    "LogisticModel": "survrad.models.response",
    "ForestClassifier": "survrad.models.response",
    "CohortPipeline": "survrad.models.pipeline",
    "load_pipeline": "survrad.models.persistence",
    "split_cohort": "survrad.data.split",
    "external_validate": "survrad.evaluation.external",
    "leave_one_center_out": "survrad.evaluation.loco",
    "random_effects_meta": "survrad.evaluation.loco",
    "recalibrate": "survrad.evaluation.recalibration",
    "Imputer": "survrad.features.impute",
    "ImputeLesions": "survrad.lesions.impute",
    "multiple_imputation": "survrad.models.pooling",
    "partial_effect": "survrad.models.effects",
    "pool_rubin": "survrad.models.pooling",
    "bootstrap_validate": "survrad.evaluation.bootstrap",
    "compare_pipelines": "survrad.evaluation.bootstrap",
    "run_study": "survrad.study",
    "extract_lesions": "survrad.extract",
}
_SUBPACKAGES = ("data", "datasets", "lesions", "longitudinal", "features", "models", "evaluation",
                "reporting")

__all__ = sorted([*_EXPORTS, *_SUBPACKAGES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:
        return import_module(f"survrad.{name}")
    raise AttributeError(f"module 'survrad' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__

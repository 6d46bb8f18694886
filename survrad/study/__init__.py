"""Study files (TOML) -> a checked plan -> a reproducible report folder (layer 7).

- :mod:`survrad.study.schema`: the declared schema of the study file (pydantic);
- :mod:`survrad.study.registry`: the strategies, feature steps and models a study can
  name, and the checks of their parameters;
- :mod:`survrad.study.plan`: :func:`load_study`, every check before any computing;
- :mod:`survrad.study.run`: :func:`run_study`, the run into a report folder that never
  costs the user data.

``docs/study-file.md`` documents every key; ``analyses/demo/study.toml`` is the commented
example of every option.
"""

from __future__ import annotations

from survrad.study.plan import StudyPlan, demo_study_text, load_study
from survrad.study.run import run_study

__all__ = ["StudyPlan", "demo_study_text", "load_study", "run_study"]

"""Small multi-scan lesion tables for the RECIST, iRECIST and PFS tests.

``study({"T1": [30, 20, 26]})`` is one patient with one lesion measured at timepoints
0, 1, 2. ``None`` in a list leaves the row out (the lesion is not recorded at that scan),
``NAN`` keeps the row with a missing measurement. Every lesion gets its own organ unless
``organs`` says otherwise (``"lymph_node"`` makes it nodal; give ``short_axis`` then).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

NAN = float("nan")


def study(lesions: Mapping[str, Sequence[float | None]], *, patient: str = "P1",
          organs: Mapping[str, str] | None = None,
          short_axis: Mapping[str, Sequence[float | None]] | None = None,
          targets: Mapping[str, int] | None = None, weeks: Sequence[float] | None = None,
          dates: Sequence[str] | None = None,
          **per_scan: Sequence[Any]) -> pd.DataFrame:
    """One patient's lesion table (see the module docstring).

    ``targets`` gives ``is_target`` per lesion; ``weeks`` a ``scan_time`` per timepoint,
    ``dates`` a ``scan_date``; any other keyword a per-scan column (one value per
    timepoint, e.g. ``non_target_progression=[0, 0, 1]``).
    """
    organs = dict(organs or {})
    rows = []
    for lesion, sizes in lesions.items():
        for tp, size in enumerate(sizes):
            if size is None:
                continue
            row: dict[str, Any] = {"patient_id": patient, "lesion_id": lesion,
                                   "timepoint": tp, "organ": organs.get(lesion, f"o_{lesion}"),
                                   "longest_diameter_mm": size}
            if short_axis is not None:
                sa = short_axis.get(lesion)
                row["short_axis_mm"] = NAN if sa is None or sa[tp] is None else sa[tp]
            if targets is not None:
                row["is_target"] = targets.get(lesion, NAN)
            if weeks is not None:
                row["scan_time"] = weeks[tp]
            if dates is not None:
                row["scan_date"] = dates[tp]
            for name, values in per_scan.items():
                row[name] = values[tp]
            rows.append(row)
    return pd.DataFrame(rows)


def stack(*tables: pd.DataFrame) -> pd.DataFrame:
    """Several patients' tables as one."""
    return pd.concat(tables, ignore_index=True)


def responses(result: Any, patient: str = "P1") -> list[str]:
    """Follow-up timepoint responses of one patient, in scan order."""
    tab = result.by_timepoint
    return tab.loc[(tab["patient_id"] == patient) & (tab["timepoint"] > 0),
                   "response"].tolist()


def best(result: Any, patient: str = "P1") -> str:
    tab = result.best_response
    return tab.loc[tab["patient_id"] == patient, "best_response"].item()


def column(result: Any, name: str, patient: str = "P1") -> np.ndarray:
    tab = result.by_timepoint
    return tab.loc[tab["patient_id"] == patient, name].to_numpy()

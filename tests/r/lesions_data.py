"""Write ``tests/r/lesions_data.csv``, the lesion table the ``lesions`` R topic reads.

A small simulated cohort (``simulate_cohort(n_patients=120, random_state=21, ...)``, see
``make_frame``) flattened to one row per lesion with its patient's outcome;
``tests/test_lesion_r_parity.py`` checks that the committed CSV is what this function
gives. Run from the repository root: ``python tests/r/lesions_data.py``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from survrad.data.simulate import simulate_cohort

PATH = Path(__file__).resolve().parent / "lesions_data.csv"
FEATURES = ["rad_sig_01", "rad_sig_02", "rad_sig_03", "rad_vol_01", "rad_vol_02",
            "rad_noise_01"]


def make_frame() -> pd.DataFrame:
    """One row per lesion: ids, patient outcome, treatment, response and 6 features."""
    c = simulate_cohort(n_patients=120, random_state=21, n_signal_features=3,
                        n_volume_features=2, n_noise_features=1, rt_largest_probability=0.9)
    les = c.lesions
    pat = c.patients.loc[les["patient_id"], ["os_time", "os_event", "objective_response"]]
    out = pd.concat([les[["patient_id", "lesion_id"]].reset_index(drop=True),
                     pat.reset_index(drop=True),
                     les[["irradiated", "rt_dose_gy", "lesion_response", *FEATURES]]
                     .reset_index(drop=True)], axis=1)
    return out


if __name__ == "__main__":
    make_frame().to_csv(PATH, index=False, float_format="%.17g")

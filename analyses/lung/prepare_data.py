"""Write lung_patients.csv for the lung study from survrad's bundled copy of R's lung data.

NCCTG advanced lung cancer (survival::cancer, 228 patients). Changes, all explicit:
- patient_id "L001".. in row order (the R data have no id column);
- one patient without ph.ecog (R row 14, L014) is excluded: the model uses complete cases,
  as R's coxph(na.action = na.omit) does, and the exclusion is printed;
- status is kept in R's coding (1 = censored, 2 = dead); the study maps it explicitly
  with event_map = {1 = 0, 2 = 1}.

Run: python analyses/lung/prepare_data.py   (rewrites analyses/lung/lung_patients.csv)
"""

from __future__ import annotations

from pathlib import Path

import survrad as sr
from survrad.reporting.writer import atomic_write_text

MODEL = ["time", "status", "age", "sex", "ph.ecog"]


def main() -> None:
    df = sr.load_dataset("lung")
    df.insert(0, "patient_id", [f"L{i:03d}" for i in range(1, len(df) + 1)])
    incomplete = df[MODEL].isna().any(axis=1)
    for pid in df.loc[incomplete, "patient_id"]:
        print(f"excluded {pid}: missing value in {MODEL}")
    keep = df.loc[~incomplete].rename(columns={"ph.ecog": "ph_ecog", "ph.karno": "ph_karno",
                                               "pat.karno": "pat_karno", "meal.cal": "meal_cal",
                                               "wt.loss": "wt_loss"})
    out = Path(__file__).with_name("lung_patients.csv")
    atomic_write_text(out, keep.to_csv(index=False))
    print(f"wrote {out} ({len(keep)} patients, {int((keep['status'] == 2).sum())} deaths)")


if __name__ == "__main__":
    main()

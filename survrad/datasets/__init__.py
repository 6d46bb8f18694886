"""Public survival datasets bundled with survrad (layer 1).

Exported from R's survival package (3.5) by the script quoted in ``PROVENANCE.md`` (next
to the CSV files), which also states origin, licence and the coding of every column.
:func:`load_dataset` returns the raw export: R's column names (``"ph.ecog"``), R's codes
(lung ``status`` 1=censored 2=dead), ``NA`` as NaN. Recoding is left to the analysis, on
purpose: the 1/2 status coding is one of the traps :func:`survrad.read_cohort` refuses
(docs/reliability.md #12).
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from survrad._validation import close_matches

__all__ = ["DATASETS", "dataset_info", "load_dataset"]

#: name -> one-line description (see PROVENANCE.md for the full coding).
DATASETS: dict[str, str] = {
    "lung": "NCCTG advanced lung cancer: 228 patients, survival in days; status "
            "1=censored 2=dead; sex 1=male 2=female; ph.ecog 0-4 (survival::cancer).",
    "veteran": "Veterans' Administration lung cancer trial: 137 patients, survival in "
               "days; status 0=censored 1=dead; trt 1=standard 2=test (survival::veteran).",
    "retinopathy": "Diabetic retinopathy study: 394 eyes of 197 patients (one treated, one "
                   "control eye each), futime in months to blindness; status 0=censored "
                   "1=blind (survival::retinopathy).",
    "pbc": "Mayo Clinic primary biliary cholangitis: 418 patients, time in days; status "
           "0=censored 1=transplant 2=dead (competing risk) (survival::pbc).",
    "colon": "Adjuvant chemotherapy for colon cancer: 929 patients x 2 rows (etype "
             "1=recurrence 2=death), time in days; status 0=censored 1=event "
             "(survival::colon).",
}


def _check_name(name: str) -> str:
    if name not in DATASETS:
        hint = close_matches(str(name), DATASETS)
        did = f" Did you mean {hint[0]!r}?" if hint else ""
        raise ValueError(f"unknown dataset {name!r}; available: {sorted(DATASETS)}.{did}")
    return name


def load_dataset(name: str) -> pd.DataFrame:
    """Load a bundled dataset as exported from R (column names and codes unchanged).

    Parameters
    ----------
    name : {"lung", "veteran", "retinopathy", "pbc", "colon"}
        The dataset.

    Returns
    -------
    pandas.DataFrame
        A fresh copy; missing values (``NA`` in R) are NaN.

    Raises
    ------
    ValueError
        An unknown name (the message lists the available ones).

    Examples
    --------
    >>> df = load_dataset("lung")
    >>> df.shape, int((df["status"] == 2).sum())
    ((228, 10), 165)
    """
    _check_name(name)
    with resources.files(__name__).joinpath(f"{name}.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def dataset_info(name: str) -> str:
    """One-line description of a bundled dataset (origin, size, outcome coding).

    Examples
    --------
    >>> "1=censored 2=dead" in dataset_info("lung")
    True
    """
    return DATASETS[_check_name(name)]

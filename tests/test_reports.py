"""The committed reports in reports/ are what the code makes today (issue 6).

``reports/demo`` is ``survrad run --demo`` and ``reports/lung`` is
``survrad run analyses/lung/study.toml`` (reports/README.md). Each test reruns the command
into a temporary folder and requires ``results.json`` and the tables to be byte-identical
to the committed ones. Byte identity holds for the same versions of the numerical
libraries on the same numerical platform (CPU architecture, numpy's SIMD kernels,
OpenBLAS's kernel); when they differ from the committed manifest's, the comparison is
skipped with the list of differences (regenerate the reports with the commands in
reports/README.md).
The lung report is also held to R: its numbers must be R's, whatever was committed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from rref import r_ref

from survrad.cli import main
from survrad.reporting.writer import numerical_platform, package_versions

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "reports"
NUMERIC = ("python", "numpy", "scipy", "pandas", "scikit-learn", "scikit-survival",
           "statsmodels", "lifelines", "joblib")


def _version_differences(committed: Path) -> list[str]:
    manifest = json.loads((committed / "manifest.json").read_text("utf-8"))
    then, now = manifest["versions"], package_versions()
    out = [f"{k} {then.get(k)} -> {now.get(k)}" for k in NUMERIC if then.get(k) != now.get(k)]
    # numpy's SIMD kernels and OpenBLAS's by CPU: the 15th digit may differ between machines
    then_platform, now_platform = manifest.get("platform"), numerical_platform()
    if then_platform != now_platform:
        out.append(f"platform {then_platform} -> {now_platform}")
    return out


def _compare(committed: Path, fresh: Path) -> None:
    differences = _version_differences(committed)
    if differences:
        pytest.skip("committed report made with other versions: " + ", ".join(differences))
    files = ["results.json", "results.csv",
             *sorted(p.relative_to(committed).as_posix()
                     for p in (committed / "tables").glob("*.csv"))]
    fresh_tables = sorted(p.relative_to(fresh).as_posix() for p in (fresh / "tables").glob("*.csv"))
    assert fresh_tables == files[2:]
    changed = [f for f in files if (committed / f).read_bytes() != (fresh / f).read_bytes()]
    assert not changed, f"regenerated files differ from the committed ones: {changed}"


@pytest.mark.slow
def test_committed_demo_report_is_reproduced(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert main(["run", "--demo", "--out", str(out), "--n-jobs", "2"]) == 0
    _compare(REPORTS / "demo", out)


@pytest.mark.slow
def test_committed_lung_report_is_reproduced(tmp_path: Path) -> None:
    out = tmp_path / "lung"
    assert main(["run", str(ROOT / "analyses" / "lung" / "study.toml"), "--out", str(out)]) == 0
    _compare(REPORTS / "lung", out)


def test_committed_lung_report_holds_r_values() -> None:
    """reports/lung against R 4.2.2 / survival 3.5-3 / rms 6.5-0 / riskRegression, the
    values read from tests/r/survival.json (tests/r/survival.R) with the R call beside
    each assertion; lc = complete cases of time, status, age, sex, ph.ecog."""
    records = pd.read_json(REPORTS / "lung" / "results.json")
    res = records.assign(key=[m if pd.isna(h) else f"{m}@{h:g}" for m, h in
                              zip(records["metric"], records["horizon"], strict=True)]
                         ).set_index("key")
    # lung_cox_efron: concordance(coxph(Surv(time, status == 2) ~ age + sex + ph.ecog, lc))
    cox = r_ref("survival", "lung_cox_efron")
    assert res.loc["c_index", "apparent"] == pytest.approx(cox["concordance"], abs=1e-9)
    # lung_rms_validate_boot: validate(cph(..., x = TRUE, y = TRUE), B = 300)["Dxy", ],
    # mean over seeds 1:10, halved to the C scale; tolerance: 4 sd of one run over seeds
    rms = r_ref("survival", "lung_rms_validate_boot")
    assert res.loc["c_index", "corrected"] == pytest.approx(
        rms["c_corrected"], abs=4 * rms["c_corrected_sd_over_seeds"] + 1e-3)
    assert res.loc["c_index", "n_boot"] == 300
    assert res["n_failed"].eq(0).all()
    # lung_score_km: Score(list(fit), Surv(time, event) ~ 1, data = lc,
    #   times = c(180, 365, 540), metrics = c("auc", "brier"), cens.model = "km"), in-sample
    score = r_ref("survival", "lung_score_km")
    for h, auc, brier in zip(score["times"], score["auc"], score["brier"], strict=True):
        assert res.loc[f"td_auc@{h:g}", "apparent"] == pytest.approx(auc, abs=1e-9)
        assert res.loc[f"brier@{h:g}", "apparent"] == pytest.approx(brier, abs=1e-9)
    coef = pd.read_csv(REPORTS / "lung" / "tables" / "coefficients_os_patient_cox.csv",
                       index_col="term")
    # coef(fit); sqrt(diag(vcov(fit)))
    assert coef.index.tolist() == ["age", "sex", "ph_ecog"]
    pd.testing.assert_series_equal(coef["coef"], pd.Series(cox["coef"], index=coef.index,
                                                           name="coef"), rtol=1e-5)
    pd.testing.assert_series_equal(coef["se"], pd.Series(cox["se"], index=coef.index,
                                                         name="se"), rtol=1e-4)


def test_reports_readme_names_the_command_of_every_report() -> None:
    text = (REPORTS / "README.md").read_text("utf-8")
    folders = sorted(p.name for p in REPORTS.iterdir() if p.is_dir())
    assert folders, "reports/ holds no report"
    for name in folders:
        assert f"reports/{name}" in text, f"reports/README.md does not say how {name} was made"
        assert (REPORTS / name / "manifest.json").is_file()   # every output has one
        if (REPORTS / name / "results.json").is_file():         # a study report
            assert (REPORTS / name / "index.html").is_file()

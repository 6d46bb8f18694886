"""``survrad extract``: the command over tiny synthetic images, its exit codes and output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("radiomics", reason='needs pip install "survrad[radiomics]"')
pytest.importorskip("SimpleITK")

from radiomics_helpers import PARAMS, write_cases

from survrad.cli import main
from survrad.extract import extract_lesions


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("extract_cli")
    cases = write_cases(root / "images", 2)
    manifest = root / "manifest.csv"
    pd.DataFrame({"patient_id": [c["patient_id"] for c in cases],
                  "image": [c["image"].relative_to(root).as_posix() for c in cases],
                  "mask": [c["mask"].relative_to(root).as_posix() for c in cases]}
                 ).to_csv(manifest, index=False)
    (root / "params.yaml").write_text(PARAMS)
    truth = {(c["patient_id"], str(k)): v for c in cases for k, v in c["volumes"].items()}
    return {"root": root, "manifest": manifest, "params": root / "params.yaml",
            "truth": truth}


def _args(inputs: dict, out: Path, *extra: str) -> list[str]:
    return ["extract", "--images", str(inputs["manifest"]), "--params",
            str(inputs["params"]), "--out", str(out), *extra]


def test_extract_writes_the_table_of_the_api(inputs: dict, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "cli" / "lesions.csv"
    out.parent.mkdir()
    assert main(_args(inputs, out)) == 0
    assert "wrote 3 lesions of 2 cases" in capsys.readouterr().out
    got = pd.read_csv(out, dtype={"patient_id": str, "lesion_id": str},
                      float_precision="round_trip")
    # volumes are the masks' voxel counts x spacing
    vols = {(p, k): v for p, k, v in got[["patient_id", "lesion_id", "volume_ml"]]
            .itertuples(index=False)}
    assert vols.keys() == inputs["truth"].keys()
    np.testing.assert_allclose([vols[k] for k in inputs["truth"]],
                               list(inputs["truth"].values()), rtol=1e-9)
    # the same bytes as the function the command wraps
    api = tmp_path / "api" / "lesions.csv"
    api.parent.mkdir()
    extract_lesions(inputs["manifest"], inputs["params"], api)
    assert out.read_bytes() == api.read_bytes()
    for suffix in (".diagnostics.csv", ".manifest.json"):
        assert (out.parent / f"lesions{suffix}").is_file()


def test_extract_never_replaces_without_force(inputs: dict, tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "lesions.csv"
    out.write_text("patient_id,lesion_id\n")
    assert main(_args(inputs, out)) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_text() == "patient_id,lesion_id\n"


def test_extract_bad_manifest_is_an_input_error(inputs: dict, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "manifest.csv"
    pd.DataFrame({"patient_id": ["P1"], "image": ["nope.nrrd"]}).to_csv(bad, index=False)
    code = main(["extract", "--images", str(bad), "--out", str(tmp_path / "l.csv")])
    assert code == 2
    assert "mask" in capsys.readouterr().err

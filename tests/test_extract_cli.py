"""``survrad extract``: the command over tiny synthetic images, its exit codes and output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("radiomics", reason='needs pip install "survrad[radiomics]"')
pytest.importorskip("SimpleITK")

from radiomics_helpers import PARAMS, write_cases

import survrad as sr
from survrad.cli import main
from survrad.extract import extract_lesions, output_paths


def _manifest(root: Path, cases: list[dict]) -> Path:
    """Write the manifest of ``cases`` and the parameter file into ``root``."""
    manifest = root / "manifest.csv"
    pd.DataFrame({"patient_id": [c["patient_id"] for c in cases],
                  "image": [c["image"].relative_to(root).as_posix() for c in cases],
                  "mask": [c["mask"].relative_to(root).as_posix() for c in cases]}
                 ).to_csv(manifest, index=False)
    (root / "params.yaml").write_text(PARAMS)
    return manifest


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("extract_cli")
    cases = write_cases(root / "images", 2)
    manifest = _manifest(root, cases)
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


# ------------------------------------------- the command, Ctrl-C halfway, run again
RUNNER = textwrap.dedent("""\
    import sys
    from pathlib import Path

    from radiomics.featureextractor import RadiomicsFeatureExtractor
    from radiomics_helpers import CountingExtractor
    from survrad.cli import main

    calls = Path(sys.argv[1])
    execute = RadiomicsFeatureExtractor.execute

    def counted(self, image, mask, label=None):   # one line per PyRadiomics call
        with calls.open("a") as fh:
            fh.write(f"{CountingExtractor.case_name(image)} {label}\\n")
        return execute(self, image, mask, label=label)

    RadiomicsFeatureExtractor.execute = counted
    sys.exit(main(sys.argv[2:]))
""")


@pytest.mark.slow
def test_command_sigint_halfway_then_rerun_is_byte_identical(tmp_path: Path) -> None:
    """``survrad extract`` on 50 cases x 3 lesions, SIGINT once half the cases are
    journaled (exit 130, no table), then the same command again: the tables equal an
    uninterrupted command's byte for byte and no finished case is extracted again."""
    root = tmp_path / "study"
    manifest = _manifest(root, write_cases(root / "images", 50, lesions_per_case=3, seed=5))
    (tmp_path / "runner.py").write_text(RUNNER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(sr.__file__).parents[1]), str(Path(__file__).parent)])}

    def command(out: Path, calls: Path) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, str(tmp_path / "runner.py"), str(calls), "extract", "--images",
             str(manifest), "--params", str(root / "params.yaml"), "--out", str(out)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    full = tmp_path / "full" / "lesions.csv"
    first = command(full, tmp_path / "calls0.txt")
    first.communicate(timeout=600)
    assert first.returncode == 0
    out = tmp_path / "run" / "lesions.csv"
    journal = output_paths(out)["journal"]
    proc = command(out, tmp_path / "calls1.txt")
    deadline = time.monotonic() + 300
    while not journal.exists() or len(journal.read_bytes().splitlines()) < 1 + 25:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "the extraction did not progress"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    done = [json.loads(line)["key"][0] for line in journal.read_text().splitlines()[1:]]
    assert proc.returncode == 130 and not out.exists()
    assert f"interrupted: {len(done)} finished case(s) kept" in err
    assert 25 <= len(done) < 50 and len(set(done)) == len(done)

    again = command(out, tmp_path / "calls2.txt")
    stdout, _ = again.communicate(timeout=600)
    assert again.returncode == 0
    assert f"({len(done)} resumed from an interrupted run)" in stdout
    called = (tmp_path / "calls2.txt").read_text().splitlines()
    assert len(called) == 3 * (50 - len(done))             # one call per remaining lesion
    assert not {c.split()[0] for c in called} & set(done)   # never a finished case
    assert out.read_bytes() == full.read_bytes()
    assert (output_paths(out)["diagnostics"].read_bytes()
            == output_paths(full)["diagnostics"].read_bytes())

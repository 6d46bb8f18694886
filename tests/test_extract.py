"""survrad.extract: the real PyRadiomics extractor over synthetic images and masks.

Volumes are held to the masks (voxel counts x spacing), resumption to an uninterrupted
run (byte-identical tables) and to the extractor's own call log (finished cases are
never extracted again).
"""

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
sitk = pytest.importorskip("SimpleITK")

from radiomics_helpers import (  # noqa: E402
    PARAMS,
    SPACING,
    VOXEL_ML,
    CountingExtractor,
    write_cases,
)

import survrad as sr  # noqa: E402
import survrad.extract as ex  # noqa: E402
from survrad.exceptions import ConfigError, ExtractionWarning, SchemaError  # noqa: E402
from survrad.extract import extract_command, extract_lesions, output_paths  # noqa: E402


def write_manifest(root: Path, cases: list[dict]) -> Path:
    path = root / "manifest.csv"
    pd.DataFrame({"patient_id": [c["patient_id"] for c in cases],
                  "image": [c["image"].relative_to(root).as_posix() for c in cases],
                  "mask": [c["mask"].relative_to(root).as_posix() for c in cases],
                  "center": "A"}).to_csv(path, index=False)
    (root / "params.yaml").write_text(PARAMS)
    return path


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("extract")
    cases = write_cases(root / "images", 6)
    return {"root": root, "cases": cases, "manifest": write_manifest(root, cases),
            "params": root / "params.yaml",
            "truth": {(c["patient_id"], str(k)): v for c in cases
                      for k, v in c["volumes"].items()}}


@pytest.fixture(scope="module")
def reference(study: dict, tmp_path_factory: pytest.TempPathFactory) -> ex.ExtractionResult:
    """One uninterrupted run, in this process."""
    out = tmp_path_factory.mktemp("reference") / "lesions.csv"
    return extract_lesions(study["manifest"], study["params"], out)


def read_back(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"patient_id": str, "lesion_id": str},
                       float_precision="round_trip")


# ---------------------------------------------------------------- a clean run
def test_lesion_volumes_equal_the_masks(study: dict, reference: ex.ExtractionResult) -> None:
    les = read_back(reference.paths["lesions"])
    assert len(les) == len(study["truth"]) == 12
    got = [les.loc[(les.patient_id == p) & (les.lesion_id == k), "volume_ml"].item()
           for p, k in study["truth"]]
    np.testing.assert_allclose(got, list(study["truth"].values()), rtol=1e-9, atol=0)
    # the table on disk is the one returned, to the last bit
    pd.testing.assert_frame_equal(les, reference.table.lesions, check_exact=True)
    assert reference.n_cases == reference.n_extracted == 6 and reference.n_resumed == 0
    assert reference.failed.empty


def test_outputs_and_provenance(study: dict, reference: ex.ExtractionResult) -> None:
    paths = output_paths(reference.paths["lesions"])
    assert not paths["journal"].exists()          # removed once the tables are written
    diag = pd.read_csv(paths["diagnostics"], dtype={"patient_id": str, "lesion_id": str})
    assert diag[["patient_id", "lesion_id"]].equals(
        read_back(paths["lesions"])[["patient_id", "lesion_id"]])
    assert diag["Image"].iloc[0] == "images/P001_img.nrrd"    # as the manifest wrote it
    assert (diag["center"] == "A").all()                      # manifest columns carried
    manifest = json.loads(paths["manifest"].read_text())
    assert manifest["settings_sha256"] == reference.settings_sha256
    assert manifest["extraction"]["settings"]["binWidth"] == 5
    assert manifest["versions"]["radiomics"].startswith("v3")
    assert manifest["versions"]["SimpleITK"] == sitk.Version_VersionString()
    assert manifest["params"]["sha256"] == ex.file_sha256(study["params"])
    assert (manifest["n_cases"], manifest["n_lesions"], manifest["n_failed"]) == (6, 12, 0)
    for name in ("lesions", "diagnostics"):
        assert manifest["outputs"][name]["sha256"] == ex.file_sha256(paths[name])


def test_read_cohort_takes_the_lesion_table(reference: ex.ExtractionResult) -> None:
    les = read_back(reference.paths["lesions"])
    patients = pd.DataFrame({"patient_id": sorted(set(les.patient_id)) * 2,
                             "os_time": np.arange(12.0) + 1, "os_event": 1})
    patients["patient_id"] = patients["patient_id"] + np.repeat(["", "b"], 6)
    with pytest.warns(sr.exceptions.DataWarning, match="have no lesion rows"):
        cohort = sr.read_cohort(patients, reference.paths["lesions"],
                                lesion_features=["original_*"])
    assert "original_glcm_Contrast" in cohort.lesion_features


def test_existing_output_needs_force(study: dict, reference: ex.ExtractionResult) -> None:
    out = reference.paths["lesions"]
    before = out.read_bytes()
    with pytest.raises(ConfigError, match="exists; pass force=True"):
        extract_lesions(study["manifest"], study["params"], out)
    again = extract_lesions(study["manifest"], study["params"], out, force=True)
    assert out.read_bytes() == before and again.n_extracted == 6


# ------------------------------------------------------- connected components
def test_connected_components_split_a_label(tmp_path: Path) -> None:
    image = sitk.GetImageFromArray(np.random.default_rng(0).normal(50, 10, (8, 16, 16)))
    image.SetSpacing(SPACING)
    mask = np.zeros((8, 16, 16), dtype=np.uint8)
    mask[1:4, 1:5, 1:5] = 1          # label 1, first component (raster order): 48 voxels
    mask[5:8, 9:15, 9:14] = 1        # label 1, second component: 90 voxels
    mask[1:4, 9:13, 2:6] = 2         # label 2: 48 voxels
    seg = sitk.GetImageFromArray(mask)
    seg.CopyInformation(image)
    sitk.WriteImage(image, str(tmp_path / "img.nrrd"))
    sitk.WriteImage(seg, str(tmp_path / "seg.nrrd"))
    pd.DataFrame({"patient_id": ["P1"], "image": ["img.nrrd"], "mask": ["seg.nrrd"]}
                 ).to_csv(tmp_path / "m.csv", index=False)
    (tmp_path / "p.yaml").write_text(PARAMS)
    whole = extract_lesions(tmp_path / "m.csv", tmp_path / "p.yaml", tmp_path / "a.csv")
    assert whole.table.lesions["lesion_id"].tolist() == ["1", "2"]
    np.testing.assert_allclose(whole.table.lesions["volume_ml"],
                               [138 * VOXEL_ML, 48 * VOXEL_ML], rtol=1e-9)
    split = extract_lesions(tmp_path / "m.csv", tmp_path / "p.yaml", tmp_path / "b.csv",
                            connected_components=True)
    les = split.table.lesions
    assert les["lesion_id"].tolist() == ["1-1", "1-2", "2-1"]
    np.testing.assert_allclose(les["volume_ml"], np.array([48, 90, 48]) * VOXEL_ML,
                               rtol=1e-9)
    diag = split.table.diagnostics
    assert diag[["Label", "Component"]].values.tolist() == [[1, 1], [1, 2], [2, 1]]


# -------------------------------------------------------------------- failures
def _broken_study(root: Path, study: dict) -> Path:
    """The study's cases plus P007 (empty mask) and P008 (a one-voxel label 2)."""
    cases = list(study["cases"])
    for name, fill in (("P007", None), ("P008", (2, 2, 2))):
        image = sitk.GetImageFromArray(np.random.default_rng(1).normal(50, 10, (8, 12, 12)))
        mask = np.zeros((8, 12, 12), dtype=np.uint8)
        if fill is not None:
            mask[4:7, 4:9, 4:9] = 1
            mask[fill] = 2
        seg = sitk.GetImageFromArray(mask)
        seg.CopyInformation(image)
        img_path, seg_path = root / f"{name}_img.nrrd", root / f"{name}_seg.nrrd"
        sitk.WriteImage(image, str(img_path))
        sitk.WriteImage(seg, str(seg_path))
        cases.append({"patient_id": name, "image": img_path, "mask": seg_path})
    frame = pd.DataFrame({"patient_id": [c["patient_id"] for c in cases],
                          "image": [str(c["image"]) for c in cases],
                          "mask": [str(c["mask"]) for c in cases]})
    frame.to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


def test_failed_extractions_stop_the_run_and_keep_the_journal(study: dict,
                                                              tmp_path: Path) -> None:
    manifest = _broken_study(tmp_path, study)
    out = tmp_path / "out" / "lesions.csv"
    with pytest.raises(SchemaError, match=r"2 extraction\(s\) failed: 'P007 \(whole case\): "
                                          r"ValueError: the mask has no nonzero voxel', "
                                          r"'P008 label 2: ") as err:
        extract_lesions(manifest, study["params"], out)
    assert err.value.ids == ["P007", "P008"]
    assert not out.exists()
    journal = output_paths(out)["journal"]
    assert len(journal.read_text().splitlines()) == 1 + 8   # header + every case
    # the next run retries only the two failed cases; excluded, they are listed
    with pytest.warns(ExtractionWarning, match="left out"):
        res = extract_lesions(manifest, study["params"], out, failed="exclude")
    assert (res.n_resumed, res.n_extracted) == (6, 2)
    assert res.failed[["patient_id", "label"]].values.tolist() == [["P007", None],
                                                                     ["P008", 2]]
    assert "single voxel" in res.failed["error"].iloc[1]
    les = res.table.lesions
    assert ("P008", "1") in set(zip(les.patient_id, les.lesion_id, strict=True))
    manifest_json = json.loads(res.paths["manifest"].read_text())
    assert manifest_json["n_failed"] == 2 and manifest_json["failed"][0]["patient_id"] == "P007"


# -------------------------------------------------------------------- resuming
class Interrupting(CountingExtractor):
    """Raises KeyboardInterrupt (as Ctrl-C would) on its ``stop_at``-th call."""

    def __init__(self, params: Path, calls: Path, stop_at: int) -> None:
        super().__init__(params, calls)
        self.stop_at, self.n = stop_at, 0

    def execute(self, image, mask, label=None):
        self.n += 1
        if self.n == self.stop_at:
            raise KeyboardInterrupt
        return super().execute(image, mask, label=label)


def _calls(path: Path) -> list[str]:
    return path.read_text().split("\n")[:-1] if path.exists() else []


def test_interrupted_run_resumes_without_reextracting(study: dict, tmp_path: Path,
                                                      reference: ex.ExtractionResult) -> None:
    out = tmp_path / "lesions.csv"
    journal = output_paths(out)["journal"]
    first = Interrupting(study["params"], tmp_path / "calls1.txt", stop_at=7)
    with pytest.raises(KeyboardInterrupt):
        extract_lesions(study["manifest"], study["params"], out, extractor=first)
    assert not out.exists()
    done = [json.loads(line)["key"][0] for line in journal.read_text().splitlines()[1:]]
    assert done == ["P001", "P002", "P003"]     # 1 + 2 + 3 lesions; the 7th call stopped
    with journal.open("a") as fh:               # a line cut by a crash: dropped on resume
        fh.write('{"key": ["P004", null, "images/P004')
    second = CountingExtractor(study["params"], tmp_path / "calls2.txt")
    res = extract_lesions(study["manifest"], study["params"], out, extractor=second)
    called = _calls(tmp_path / "calls2.txt")
    assert (res.n_resumed, res.n_extracted) == (3, 3)
    assert len(called) == 1 + 2 + 3 and not {c.split()[0] for c in called} & set(done)
    assert out.read_bytes() == reference.paths["lesions"].read_bytes()
    assert (output_paths(out)["diagnostics"].read_bytes()
            == reference.paths["diagnostics"].read_bytes())


def test_journal_of_other_settings_is_refused(study: dict, tmp_path: Path) -> None:
    out = tmp_path / "lesions.csv"
    first = Interrupting(study["params"], tmp_path / "calls.txt", stop_at=2)
    with pytest.raises(KeyboardInterrupt):
        extract_lesions(study["manifest"], study["params"], out, extractor=first)
    other = tmp_path / "other.yaml"
    other.write_text(PARAMS.replace("binWidth: 5", "binWidth: 10"))
    with pytest.raises(ConfigError, match="written with other settings_sha256"):
        extract_lesions(study["manifest"], other, out)
    res = extract_lesions(study["manifest"], other, out, force=True)
    assert res.n_resumed == 0 and res.n_extracted == 6


def test_extract_command_says_how_to_resume(study: dict, tmp_path: Path, monkeypatch,
                                            capsys) -> None:
    stopper = Interrupting(study["params"], tmp_path / "calls.txt", stop_at=2)
    monkeypatch.setattr(ex, "_default_extractor", lambda params: stopper)
    with pytest.raises(KeyboardInterrupt):
        extract_command(study["manifest"], study["params"], tmp_path / "lesions.csv")
    err = capsys.readouterr().err
    assert "interrupted: 1 finished case(s) kept in" in err and "run the same command" in err


# ------------------------------------------------------------------- bad input
def test_missing_pyradiomics_is_a_config_error(study: dict, tmp_path: Path,
                                               monkeypatch) -> None:
    real = ex.import_module

    def no_radiomics(name: str):
        if name.startswith("radiomics"):
            raise ImportError(f"No module named {name!r}")
        return real(name)

    monkeypatch.setattr(ex, "import_module", no_radiomics)
    with pytest.raises(ConfigError, match=r'pip install "survrad\[radiomics\]"'):
        extract_lesions(study["manifest"], study["params"], tmp_path / "l.csv")


def test_bad_manifest_and_params(study: dict, tmp_path: Path, monkeypatch) -> None:
    frame = pd.read_csv(study["manifest"])
    root = study["root"]
    monkeypatch.chdir(root)        # a DataFrame's relative paths start at the current folder
    missing = frame.assign(mask=frame["mask"].str.replace("P002_seg", "P002_sgm"))
    with pytest.raises(SchemaError, match=r"1 mask file.* not found") as err:
        extract_lesions(missing, study["params"], tmp_path / "l.csv")
    assert err.value.values == ["images/P002_sgm.nrrd"] and err.value.column == "mask"
    twice = pd.concat([frame, frame.iloc[[1]]])
    twice.to_csv(root / "twice.csv", index=False)
    with pytest.raises(SchemaError, match=r"several rows for the same \(patient_id\)"):
        extract_lesions(root / "twice.csv", study["params"], tmp_path / "l.csv")
    with pytest.raises(SchemaError, match="'image' not found"):
        extract_lesions(frame.drop(columns="image"), study["params"], tmp_path / "l.csv")
    bad = tmp_path / "bad.yaml"
    bad.write_text("setting:\n  binWidth: -5x\n  noSuchSetting: 1\n")
    with pytest.raises(ConfigError, match="PyRadiomics rejects the parameter file"):
        extract_lesions(study["manifest"], bad, tmp_path / "l.csv")
    with pytest.raises(ConfigError, match="parameter file not found"):
        extract_lesions(study["manifest"], tmp_path / "none.yaml", tmp_path / "l.csv")
    with pytest.raises(ConfigError, match="n_jobs must be"):
        extract_lesions(study["manifest"], study["params"], tmp_path / "l.csv", n_jobs=0)


# ----------------------------------------------- Ctrl-C on a parallel run, resumed
RUNNER = textwrap.dedent("""\
    import sys
    from pathlib import Path

    from radiomics_helpers import CountingExtractor
    from survrad.extract import extract_lesions

    if __name__ == "__main__":
        root, out = Path(sys.argv[1]), Path(sys.argv[2])
        extractor = CountingExtractor(root / "params.yaml", Path(sys.argv[3]))
        extract_lesions(root / "manifest.csv", root / "params.yaml", out, n_jobs=2,
                        extractor=extractor)
""")


@pytest.mark.slow
def test_sigint_halfway_then_resume_is_byte_identical(tmp_path: Path) -> None:
    """50 cases x 3 lesions: SIGINT once half the cases are journaled, then the same
    command again; the tables equal an uninterrupted run's, byte for byte."""
    cases = write_cases(tmp_path / "images", 50, lesions_per_case=3, seed=5)
    manifest = write_manifest(tmp_path, cases)
    full = extract_lesions(manifest, tmp_path / "params.yaml", tmp_path / "full" / "l.csv")
    assert len(full.table.lesions) == 150

    out = tmp_path / "run" / "l.csv"
    journal = output_paths(out)["journal"]
    (tmp_path / "runner.py").write_text(RUNNER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(sr.__file__).parents[1]), str(Path(__file__).parent)])}
    proc = subprocess.Popen([sys.executable, str(tmp_path / "runner.py"), str(tmp_path),
                             str(out), str(tmp_path / "calls1.txt")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while (not journal.exists() or len(journal.read_bytes().splitlines()) < 1 + 25):
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the extraction did not progress"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode != 0 and not out.exists()
    done = [json.loads(line)["key"][0] for line in journal.read_text().splitlines()[1:]]
    assert 25 <= len(done) < 50 and len(set(done)) == len(done)
    assert len(_calls(tmp_path / "calls1.txt")) >= 3 * len(done)

    counter = CountingExtractor(tmp_path / "params.yaml", tmp_path / "calls2.txt")
    res = extract_lesions(manifest, tmp_path / "params.yaml", out, extractor=counter)
    called = _calls(tmp_path / "calls2.txt")
    assert (res.n_resumed, res.n_extracted) == (len(done), 50 - len(done))
    assert len(called) == 3 * (50 - len(done))            # one call per remaining lesion
    assert not {c.split()[0] for c in called} & set(done)  # never a finished case
    assert out.read_bytes() == full.paths["lesions"].read_bytes()
    assert (output_paths(out)["diagnostics"].read_bytes()
            == full.paths["diagnostics"].read_bytes())

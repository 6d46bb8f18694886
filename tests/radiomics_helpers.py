"""Synthetic images and multi-label masks for the PyRadiomics tests (nothing is downloaded).

Each case is a small 3-D image with anisotropic spacing and a mask whose labels 1..k are
boxes of known voxel counts, so every lesion's true volume is known exactly.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np

SPACING = (0.8, 0.7, 2.5)          # mm, (x, y, z) as SimpleITK orders it
SHAPE = (10, 18, 18)               # voxels, (z, y, x) as numpy orders it
VOXEL_ML = SPACING[0] * SPACING[1] * SPACING[2] / 1000.0

#: Small PyRadiomics parameters: original image, first-order, shape and GLCM features.
PARAMS = """\
setting:
  binWidth: 5
imageType:
  Original: {}
featureClass:
  shape:
  firstorder:
  glcm: [Contrast, Correlation, JointEntropy]
"""

# three disjoint boxes of the (z, y, x) grid; each case draws its sizes inside them
_SLOTS = ((slice(1, 5), slice(1, 8), slice(1, 8)),
          (slice(5, 9), slice(1, 8), slice(9, 17)),
          (slice(2, 8), slice(9, 17), slice(3, 15)))


def write_case(folder: Path, name: str, n_lesions: int, rng: np.random.Generator,
               ) -> tuple[Path, Path, dict[int, float]]:
    """Write ``<name>_img.nrrd`` and ``<name>_seg.nrrd``; return their paths and the
    true volume (ml) of every label."""
    import SimpleITK as sitk

    image = rng.normal(50.0, 10.0, size=SHAPE)
    mask = np.zeros(SHAPE, dtype=np.uint8)
    volumes = {}
    for label in range(1, n_lesions + 1):
        zs, ys, xs = _SLOTS[label - 1]
        # a random sub-box of the slot: at least 2 voxels along each axis
        lo = [int(rng.integers(s.start, s.stop - 2)) for s in (zs, ys, xs)]
        hi = [int(rng.integers(a + 2, s.stop + 1)) for a, s in zip(lo, (zs, ys, xs),
                                                                   strict=True)]
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        mask[box] = label
        image[box] += rng.normal(20.0 * label, 5.0 + 3.0 * label, size=mask[box].shape)
        volumes[label] = float((mask == label).sum()) * VOXEL_ML
    img, seg = sitk.GetImageFromArray(image), sitk.GetImageFromArray(mask)
    img.SetSpacing(SPACING)
    img.SetMetaData("survrad_case", name)  # kept in the NRRD header: who is extracted
    seg.CopyInformation(img)
    img_path, seg_path = folder / f"{name}_img.nrrd", folder / f"{name}_seg.nrrd"
    sitk.WriteImage(img, str(img_path))
    sitk.WriteImage(seg, str(seg_path))
    return img_path, seg_path, volumes


def write_cases(folder: Path, n_cases: int, lesions_per_case: int | None = None,
                seed: int = 0) -> list[dict]:
    """Cases ``P001``...: 1 to 3 lesions each (or ``lesions_per_case``)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n_cases):
        k = lesions_per_case or 1 + i % 3
        pid = f"P{i + 1:03d}"
        img, seg, vols = write_case(folder, pid, k, rng)
        cases.append({"patient_id": pid, "image": img, "mask": seg, "volumes": vols})
    return cases


#: Also the wavelet decompositions (wavelet-LLH_glcm_Contrast, ...), fewer features.
PARAMS_WAVELET = """\
setting:
  binWidth: 5
imageType:
  Original: {}
  Wavelet: {}
featureClass:
  shape:
  firstorder: [Mean, Entropy, Energy]
  glcm: [Contrast, JointEntropy]
"""


def run_pyradiomics_batch(cases: list[dict], folder: Path, params: str = PARAMS,
                          extra_rows: tuple = ()) -> Path:
    """Run PyRadiomics' own batch command line over every (image, mask, label), then the
    ``extra_rows`` (image, mask, label): the CSV it writes is what users hand to
    survrad.read_pyradiomics."""
    batch, out, par = folder / "batch.csv", folder / "features.csv", folder / "params.yaml"
    par.write_text(params)
    with batch.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["Image", "Mask", "Label"])
        for c in cases:
            for label in c["volumes"]:
                w.writerow([c["image"], c["mask"], label])
        w.writerows(extra_rows)
    code = "import sys; from radiomics.scripts import parse_args; sys.exit(parse_args())"
    subprocess.run([sys.executable, "-c", code, str(batch), "-o", str(out), "-f", "csv",
                    "-p", str(par), "--verbosity", "1"], check=True, capture_output=True,
                   timeout=300)
    return out


class CountingExtractor:
    """PyRadiomics' extractor that appends ``<case> <label>`` to ``calls`` per call.

    Picklable, so worker processes count too (each line is one small O_APPEND write).
    """

    def __init__(self, params: Path, calls: Path) -> None:
        import warnings

        from radiomics.featureextractor import RadiomicsFeatureExtractor

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # pykwalify's, on Python 3.11
            self.inner = RadiomicsFeatureExtractor(str(params))
        self.calls = calls
        self.settings = self.inner.settings
        self.enabledImagetypes = self.inner.enabledImagetypes
        self.enabledFeatures = self.inner.enabledFeatures

    def execute(self, image, mask, label=None):
        import os

        fd = os.open(self.calls, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            os.write(fd, f"{self.case_name(image)} {label}\n".encode())
        finally:
            os.close(fd)
        return self.inner.execute(image, mask, label=label)

    @staticmethod
    def case_name(image) -> str:
        key = "survrad_case"
        return image.GetMetaData(key) if image.HasMetaDataKey(key) else "?"

"""Binary vector datasets: the eight UCI density-estimation benchmarks and their file formats.

The benchmarks of Larochelle & Murray (2011, NADE), Uria et al. (2014, EoNADE) and Germain et al.
(2015, MADE): binary vectors of shape (D,) with no image structure, and a fixed train/valid/test
split shipped with the files. Three formats are read, all without pickle:

* MADE's ``NAME.npz`` with keys ``train_data``, ``valid_data``, ``test_data`` (float 0/1, (N, D)),
  written by Python 2: numpy parses its ``(1400L, 180L)`` header without pickle, with a warning
  that is silenced here;
* ``NAME_{train,valid,test}.data``: one example per line, comma-separated 0/1;
* ``NAME_{train,valid,test}.amat``: one example per line, whitespace-separated 0/1.

Files are looked up in DATA_DIR/NAME/ then DATA_DIR/ (``--data-dir``), also under the name with
``_`` for ``-`` (``ocr_letters.npz``). Every bad file is a one-line :class:`DataError`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from genzoo.data.errors import DataError
from genzoo.data.formats import read_amat, read_array_file, read_text_matrix

#: name -> (D, train/valid/test sizes) as published (Larochelle & Murray 2011, table 1)
UCI_DATASETS: dict[str, str] = {
    "adult": "UCI adult, 123 binary dims, 5000/1414/26147",
    "connect4": "UCI connect-4, 126 binary dims, 16000/4000/47557",
    "dna": "UCI DNA, 180 binary dims, 1400/600/1186",
    "mushrooms": "UCI mushrooms, 112 binary dims, 2000/500/5624",
    "nips": "NIPS-0-12 word presence, 500 binary dims, 400/100/1240",
    "ocr-letters": "OCR letters, 128 binary dims, 32152/10000/10000",
    "rcv1": "RCV1 word presence, 150 binary dims, 40000/10000/150000",
    "web": "web, 300 binary dims, 14000/3188/32561",
}
SPLITS = ("train", "valid", "test")
TEXT_FORMATS = (".data", ".amat")


def read_made_npz(path: Path) -> dict[str, np.ndarray]:
    """MADE's ``.npz`` -> {split: (N, D) uint8 0/1}; keys ``{split}_data``, Python-2 headers accepted."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*created on Python 2.*")
        arrays = read_array_file(path)  # allow_pickle=False
    missing = [f"{s}_data" for s in SPLITS if f"{s}_data" not in arrays]
    if missing:
        raise DataError(f"{path}: lacks key(s) {', '.join(missing)} (has {', '.join(sorted(arrays)) or 'none'})")
    return {s: as_binary_vectors(arrays[f"{s}_data"], f"{path}[{s}_data]") for s in SPLITS}


def read_data_file(path: Path) -> np.ndarray:
    """A ``.data`` file: comma-separated 0/1 values, one example per line -> (N, D) uint8."""
    return as_binary_vectors(read_text_matrix(path, delimiter=","), str(path))


def read_vector_file(path: Path) -> np.ndarray:
    """A ``.data`` (comma-separated) or ``.amat`` (whitespace-separated) 0/1 file -> (N, D) uint8."""
    if path.suffix == ".data":
        return read_data_file(path)
    if path.suffix == ".amat":
        return as_binary_vectors(read_amat(path), str(path))
    raise DataError(f"{path}: unsupported file type {path.suffix or '(none)'} (expected .data or .amat)")


def as_binary_vectors(arr: np.ndarray, source: str) -> np.ndarray:
    """Check an (N, D) array of 0/1 values (bool, integer or float) -> (N, D) uint8."""
    arr = np.asarray(arr)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{source}: expected a non-empty (N, D) array of binary vectors, got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{source}: dtype {arr.dtype} is not numeric")
    if not ((arr == 0) | (arr == 1)).all():
        bad = np.argwhere(~((arr == 0) | (arr == 1)))[0]
        raise DataError(f"{source}: values must be 0 or 1, found {arr[tuple(bad)].item()} at row {bad[0] + 1}, "
                        f"column {bad[1] + 1} (counting from 1)")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def _candidates(name: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys((name, name.replace("-", "_"))))


def find_uci_files(name: str, base: Path) -> dict[str, np.ndarray]:
    """Read dataset ``name`` from DATA_DIR/NAME/ or DATA_DIR/: ``NAME.npz``, else
    ``NAME_{split}.data``, else ``NAME_{split}.amat`` -> {split: (N, D) uint8}."""
    for folder in (base / name, base):
        for stem in _candidates(name):
            if (folder / f"{stem}.npz").is_file():
                return read_made_npz(folder / f"{stem}.npz")
            for ext in TEXT_FORMATS:
                files = [folder / f"{stem}_{s}{ext}" for s in SPLITS]
                present = [f for f in files if f.is_file()]
                if present and len(present) < len(files):
                    absent = next(f for f in files if not f.is_file())
                    raise DataError(f"{absent}: file not found (the other {name} {ext} splits are there)")
                if present:
                    return {s: read_vector_file(f) for s, f in zip(SPLITS, files)}
    raise DataError(
        f"{base}: no {name}.npz or {name}_train.data / .amat here or in {base / name}/ "
        "(pass --data-dir to the folder that holds them)"
    )


def read_uci(name: str, base: Path) -> dict[str, np.ndarray]:
    """The splits of a named UCI dataset, checked to share one dimension D."""
    splits = find_uci_files(name, base)
    dims = {s: a.shape[1] for s, a in splits.items()}
    if len(set(dims.values())) != 1:
        raise DataError(f"{base}: the {name} splits have different dimensions {dims}")
    return splits

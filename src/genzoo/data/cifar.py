"""CIFAR-10 from its binary version (``cifar-10-binary.tar.gz``; Krizhevsky 2009), no pickle.

The archive holds ``cifar-10-batches-bin/data_batch_{1..5}.bin`` and ``test_batch.bin``: records of
1 label byte followed by 3072 pixel bytes (1024 red, 1024 green, 1024 blue, each 32x32 in raster
order), 10,000 records per file. The tar is read member by member with :mod:`tarfile` (nothing is
extracted to disk, and only these regular files are read); the un-tarred folder
``cifar-10-batches-bin/`` works as well. The last 5,000 training images are the validation split.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from genzoo.data import download as dl
from genzoo.data.errors import DataError

CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/" + CIFAR10_ARCHIVE
# Size and SHA-256 as recorded by TensorFlow Datasets (url_checksums/cifar10.txt); MD5 c32a1d4a...7530
CIFAR10_SIZE = 170052171
CIFAR10_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
CIFAR10_FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
RECORD = 1 + 3 * 32 * 32
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
N_VALID = 5000


def parse_cifar_records(data: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw CIFAR-10 records -> (images uint8 (N, 3, 32, 32), labels int64 (N,))."""
    if not data or len(data) % RECORD:
        raise DataError(f"{source}: {len(data)} bytes is not a whole number of {RECORD}-byte CIFAR-10 records")
    rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    labels = rec[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise DataError(f"{source}: label {labels.max()} out of range 0..9 (not a CIFAR-10 binary file)")
    return rec[:, 1:].reshape(-1, 3, 32, 32).copy(), labels


def _read_members(archive: Path) -> dict[str, bytes]:
    wanted = {f"{CIFAR10_FOLDER}/{name}" for name in (*TRAIN_FILES, TEST_FILE)}
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    handle = tar.extractfile(member)
                    if handle is not None:
                        out[member.name.split("/")[-1]] = handle.read()
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise DataError(f"{archive}: not a readable tar.gz archive ({exc})") from exc
    return out


def read_cifar10(folder: str | Path, *, download: bool = False
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train", "valid", "test"}`` -> (images uint8 (N, 3, 32, 32), labels int64 (N,)).

    Looks for ``folder/cifar-10-binary.tar.gz``, then ``folder/cifar-10-batches-bin/*.bin``; with
    ``download`` a missing archive is fetched from :data:`CIFAR10_URL` and checked (size, SHA-256).
    """
    folder = Path(folder)
    archive, unpacked = folder / CIFAR10_ARCHIVE, folder / CIFAR10_FOLDER
    if not archive.is_file() and not unpacked.is_dir():
        if not download:
            raise DataError(f"{archive}: file not found; pass --download to fetch it from {CIFAR10_URL}, "
                            "or --data-dir to the folder that holds it")
        dl.fetch(CIFAR10_URL, archive, CIFAR10_SHA256, size=CIFAR10_SIZE)
    if archive.is_file():
        files, where = _read_members(archive), archive
    else:
        files, where = {}, unpacked
        for name in (*TRAIN_FILES, TEST_FILE):
            if (unpacked / name).is_file():
                files[name] = (unpacked / name).read_bytes()
    missing = [n for n in (*TRAIN_FILES, TEST_FILE) if n not in files]
    if missing:
        raise DataError(f"{where}: lacks {CIFAR10_FOLDER}/{missing[0]} (not the CIFAR-10 binary version?)")
    parts = [parse_cifar_records(files[n], f"{where}:{n}") for n in TRAIN_FILES]
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    test_x, test_y = parse_cifar_records(files[TEST_FILE], f"{where}:{TEST_FILE}")
    n_valid = min(N_VALID, len(train_x) // 10) if len(train_x) < 10 * N_VALID else N_VALID
    if n_valid < 1 or len(train_x) - n_valid < 1:
        raise DataError(f"{where}: {len(train_x)} training images are too few for train and valid")
    cut = len(train_x) - n_valid
    return {"train": (train_x[:cut], train_y[:cut]), "valid": (train_x[cut:], train_y[cut:]),
            "test": (test_x, test_y)}

"""Readers of the binary UCI density-estimation datasets (genzoo.data.uci), on files the tests write."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from genzoo.data import DataConfig, DataError, load_dataset
from genzoo.data.uci import UCI_DATASETS, read_data_file, read_made_npz

SHARED_UCI = Path("/work/shared/data/uci")
SPLITS = ("train", "valid", "test")


def _py2_npy(arr: np.ndarray) -> bytes:
    """A version-1.0 .npy as Python 2's numpy wrote it: long integers ``(3L, 5L)`` in the header."""
    shape = "(" + ", ".join(f"{n}L" for n in arr.shape) + ("," if arr.ndim == 1 else "") + ")"
    header = f"{{'descr': '{arr.dtype.str}', 'fortran_order': False, 'shape': {shape}, }}"
    total = 10 + len(header) + 1
    header += " " * ((16 - total % 16) % 16) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin-1") + arr.tobytes()


def _write_made_npz(path: Path, splits: dict[str, np.ndarray], extra: dict | None = None) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for s, arr in splits.items():
            z.writestr(f"{s}_data.npy", _py2_npy(arr.astype(np.float32)))
            z.writestr(f"{s}_length.npy", _py2_npy(np.array(len(arr), dtype=np.int32)))
        z.writestr("inputsize.npy", _py2_npy(np.array(next(iter(splits.values())).shape[1], dtype=np.int32)))
        for k, v in (extra or {}).items():
            z.writestr(f"{k}.npy", v)


def _splits(d: int = 7, sizes=(6, 3, 4), seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {s: (rng.random((n, d)) < 0.4).astype(np.uint8) for s, n in zip(SPLITS, sizes)}


def test_python2_header_is_really_python2():
    raw = _py2_npy(np.zeros((3, 5), np.float32))
    assert b"(3L, 5L)" in raw
    with pytest.warns(UserWarning, match="Python 2"):
        np.load(io.BytesIO(raw), allow_pickle=False)


def test_made_npz_python2(tmp_path):
    splits = _splits()
    _write_made_npz(tmp_path / "dna.npz", splits)
    arrays = read_made_npz(tmp_path / "dna.npz")
    for s in SPLITS:
        assert arrays[s].dtype == np.uint8
        np.testing.assert_array_equal(arrays[s], splits[s])
    data = load_dataset(DataConfig(name="dna", data_dir=str(tmp_path)))
    assert data.shape == (7,) and data.binary and data.levels == 2
    assert (len(data.train), len(data.valid), len(data.test)) == (6, 3, 4)
    np.testing.assert_array_equal(data.test.x.numpy(), splits["test"].astype(np.float32))
    assert data.describe().startswith("dna: 7, train/valid/test 6/3/4, binary")


def test_made_npz_in_named_subfolder_and_underscore_name(tmp_path):
    (tmp_path / "ocr-letters").mkdir()
    _write_made_npz(tmp_path / "ocr-letters" / "ocr_letters.npz", _splits(d=4))
    assert load_dataset(DataConfig(name="ocr-letters", data_dir=str(tmp_path))).shape == (4,)


@pytest.mark.parametrize("ext,sep", [(".data", ","), (".amat", " ")])
def test_text_formats(tmp_path, ext, sep):
    splits = _splits(d=5)
    for s, arr in splits.items():
        (tmp_path / f"web_{s}{ext}").write_text("\n".join(sep.join(map(str, row)) for row in arr) + "\n")
    data = load_dataset(DataConfig(name="web", data_dir=str(tmp_path)))
    assert data.shape == (5,)
    for s in SPLITS:
        np.testing.assert_array_equal(getattr(data, s).x.numpy(), splits[s].astype(np.float32))


def _one_line_error(call, match: str) -> str:
    with pytest.raises(DataError, match=match) as err:
        call()
    assert "\n" not in str(err.value)
    return str(err.value)


def test_malformed_row_is_one_line_error(tmp_path):
    path = tmp_path / "adult_train.data"
    path.write_text("0,1,1\n1,0\n0,0,1\n")
    msg = _one_line_error(lambda: read_data_file(path), "adult_train.data")
    assert "row" in msg or "column" in msg


def test_non_binary_value_is_one_line_error(tmp_path):
    path = tmp_path / "x.data"
    path.write_text("0,1,1\n1,2,0\n")
    _one_line_error(lambda: read_data_file(path), r"x\.data.*0 or 1.*found 2 at row 2, column 2")


def test_non_binary_npz_and_missing_keys(tmp_path):
    splits = {s: a.astype(np.float32) for s, a in _splits().items()}
    splits["valid"][0, 0] = 0.5
    _write_made_npz(tmp_path / "dna.npz", splits)
    _one_line_error(lambda: read_made_npz(tmp_path / "dna.npz"), r"valid_data.*0 or 1")
    part = {k: v for k, v in _splits().items() if k != "test"}
    _write_made_npz(tmp_path / "nips.npz", part)
    _one_line_error(lambda: read_made_npz(tmp_path / "nips.npz"), "lacks key.*test_data")


def test_pickled_npz_is_refused(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _write_made_npz(tmp_path / "dna.npz", _splits(), extra={"evil": buf.getvalue()})
    _one_line_error(lambda: read_made_npz(tmp_path / "dna.npz"), "dna.npz")


def test_missing_split_and_missing_files(tmp_path):
    for s in ("train", "valid"):
        (tmp_path / f"rcv1_{s}.amat").write_text("0 1\n1 1\n")
    _one_line_error(lambda: load_dataset(DataConfig(name="rcv1", data_dir=str(tmp_path))), "rcv1_test.amat")
    _one_line_error(lambda: load_dataset(DataConfig(name="connect4", data_dir=str(tmp_path))),
                    "no connect4.npz")


def test_split_dimensions_must_agree_and_no_resize(tmp_path):
    for s, d in zip(SPLITS, (3, 3, 4)):
        (tmp_path / f"mushrooms_{s}.data").write_text(",".join(["1"] * d) + "\n")
    _one_line_error(lambda: load_dataset(DataConfig(name="mushrooms", data_dir=str(tmp_path))),
                    "different dimensions")
    _write_made_npz(tmp_path / "dna.npz", _splits())
    _one_line_error(lambda: load_dataset(DataConfig(name="dna", data_dir=str(tmp_path), size=8)), "size")


def test_all_eight_names_are_listed():
    assert set(UCI_DATASETS) == {"adult", "connect4", "dna", "mushrooms", "nips", "ocr-letters", "rcv1", "web"}


@pytest.mark.parametrize("name,dim,sizes", [("dna", 180, (1400, 600, 1186)), ("mushrooms", 112, (2000, 500, 5624)),
                                            ("nips", 500, (400, 100, 1240))])
def test_shared_copies(name, dim, sizes):
    if not (SHARED_UCI / f"{name}.npz").is_file():
        pytest.skip(f"{SHARED_UCI / name}.npz is absent")
    data = load_dataset(DataConfig(name=name, data_dir=str(SHARED_UCI)))
    assert data.shape == (dim,) and data.binary
    assert (len(data.train), len(data.valid), len(data.test)) == sizes

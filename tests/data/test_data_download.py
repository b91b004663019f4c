"""Downloads with SHA-256 checks, through a fake opener serving local bytes (no network)."""

import gzip
import hashlib
import io
import struct
from pathlib import Path

import numpy as np
import pytest

from genzoo.data import DataConfig, DataError, load_dataset
from genzoo.data import download as dl

SHARED_MNIST = Path("/work/shared/data/mnist")


class FakeOpener:
    """Stands in for urllib.request.urlopen: serves ``files`` by URL and records the calls."""

    def __init__(self, files: dict[str, bytes], fail_after: int | None = None):
        self.files, self.fail_after, self.urls = files, fail_after, []

    def __call__(self, url, timeout=None):
        self.urls.append(url)
        if url not in self.files:
            raise OSError(f"HTTP Error 404: {url}")
        body = io.BytesIO(self.files[url])
        if self.fail_after is not None:
            limit = self.fail_after

            def read(n=-1):
                if body.tell() >= limit:
                    raise ConnectionResetError("connection reset by peer")
                return io.BytesIO.read(body, min(n, limit - body.tell()))

            body.read = read
        return body


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_fetch_good_checksum(tmp_path, monkeypatch):
    payload = b"x" * 3_000_000  # several read chunks
    opener = FakeOpener({"https://mirror/a.gz": payload})
    monkeypatch.setattr(dl, "urlopen", opener)
    dest = dl.fetch("https://mirror/a.gz", tmp_path / "sub" / "a.gz", sha(payload), size=len(payload))
    assert dest.read_bytes() == payload and opener.urls == ["https://mirror/a.gz"]
    assert leftovers(tmp_path / "sub") == ["a.gz"]


def test_fetch_bad_checksum_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(dl, "urlopen", FakeOpener({"https://mirror/a.gz": b"tampered"}))
    with pytest.raises(DataError, match="https://mirror/a.gz: SHA-256 .* does not match") as info:
        dl.fetch("https://mirror/a.gz", tmp_path / "a.gz", sha(b"original"))
    assert "\n" not in str(info.value)
    assert leftovers(tmp_path) == []


def test_fetch_size_mismatch_and_broken_connection(tmp_path, monkeypatch):
    payload = b"y" * 1000
    monkeypatch.setattr(dl, "urlopen", FakeOpener({"u": payload}))
    with pytest.raises(DataError, match="received 1000 bytes, expected 999"):
        dl.fetch("u", tmp_path / "f", sha(payload), size=999)
    monkeypatch.setattr(dl, "urlopen", FakeOpener({"u": payload}, fail_after=500))
    with pytest.raises(DataError, match="u: download failed .connection reset"):
        dl.fetch("u", tmp_path / "f", sha(payload))
    monkeypatch.setattr(dl, "urlopen", FakeOpener({}))
    with pytest.raises(DataError, match="404"):
        dl.fetch("u", tmp_path / "f", sha(payload))
    assert leftovers(tmp_path) == []


def test_failed_fetch_keeps_existing_file(tmp_path, monkeypatch):
    dest = tmp_path / "f"
    dest.write_bytes(b"old")
    monkeypatch.setattr(dl, "urlopen", FakeOpener({"u": b"new but wrong"}))
    with pytest.raises(DataError):
        dl.fetch("u", dest, sha(b"new"))
    assert dest.read_bytes() == b"old" and leftovers(tmp_path) == ["f"]


def idx_gz(arr: np.ndarray) -> bytes:
    return gzip.compress(struct.pack(f">I{arr.ndim}I", 0x0800 | arr.ndim, *arr.shape) + arr.tobytes())


def tiny_idx_files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    return {
        "train-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)),
        "train-labels-idx1-ubyte.gz": idx_gz((np.arange(12) % 10).astype(np.uint8)),
        "t10k-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)),
        "t10k-labels-idx1-ubyte.gz": idx_gz((np.arange(5) % 10).astype(np.uint8)),
    }


def test_load_dataset_downloads_missing_files(tmp_path, monkeypatch):
    files = tiny_idx_files()
    monkeypatch.setitem(dl.CHECKSUMS, "fashion-mnist", {n: (len(b), sha(b)) for n, b in files.items()})
    mirror = dl.MIRRORS["fashion-mnist"]
    opener = FakeOpener({mirror + n: b for n, b in files.items()})
    monkeypatch.setattr(dl, "urlopen", opener)
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(files["t10k-labels-idx1-ubyte.gz"])  # already there

    cfg = DataConfig(name="fashion-mnist", data_dir=str(tmp_path), download=True)
    d = load_dataset(cfg)
    assert (len(d.train), len(d.valid), len(d.test)) == (10, 2, 5)
    assert opener.urls == [mirror + n for n in dl.IDX_FILES[:3]]  # only the missing ones
    assert leftovers(folder) == sorted(dl.IDX_FILES)
    load_dataset(cfg)
    assert len(opener.urls) == 3  # nothing fetched once present


def test_load_dataset_bad_download(tmp_path, monkeypatch):
    files = tiny_idx_files()
    monkeypatch.setitem(dl.CHECKSUMS, "kmnist", {n: (len(b), sha(b"other")) for n, b in files.items()})
    monkeypatch.setattr(dl, "urlopen", FakeOpener({dl.MIRRORS["kmnist"] + n: b for n, b in files.items()}))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: SHA-256"):
        load_dataset(DataConfig(name="kmnist", data_dir=str(tmp_path), download=True))
    assert leftovers(tmp_path / "kmnist") == []


def test_no_network_without_download(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the network must not be touched without download=True")

    monkeypatch.setattr(dl, "urlopen", forbidden)
    with pytest.raises(DataError, match="--download"):
        load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path)))


def test_checksum_table_is_complete():
    assert set(dl.CHECKSUMS) == set(dl.MIRRORS) == {"mnist", "fashion-mnist", "kmnist"}
    digests = [d for files in dl.CHECKSUMS.values() for _, d in files.values()]
    assert len(set(digests)) == 12 and all(len(d) == 64 for d in digests)
    assert all(set(files) == set(dl.IDX_FILES) for files in dl.CHECKSUMS.values())
    assert dl.MIRRORS["mnist"].startswith("https://") and all(u.endswith("/") for u in dl.MIRRORS.values())


def test_checksums_match_real_mnist_test_files():
    present = [f for f in dl.IDX_FILES if (SHARED_MNIST / f).is_file()]
    if not present:
        pytest.skip("no real MNIST files in /work/shared/data/mnist")
    for f in present:
        data = (SHARED_MNIST / f).read_bytes()
        assert (len(data), sha(data)) == dl.CHECKSUMS["mnist"][f]
        assert dl.identify(sha(data)) == ("mnist", f)

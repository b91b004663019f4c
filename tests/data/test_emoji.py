"""The colour readers: emoji (a tiny package layout the test builds), CIFAR-10 binary (a small
archive in the real format the test writes), image folders with centre crop; the real emoji copy
when it is present."""

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genzoo.data import DataConfig, DataError, load_dataset
from genzoo.data import cifar as cifar_mod
from genzoo.data.emoji import composite_on_white, emoji_pairs, emoji_split, emoji_split_ids, read_emoji

SHARED_EMOJI = Path("/work/shared/data/emoji")
TONES = ("1F3FB", "1F3FF")


def _png(path: Path, rgba: tuple[int, int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGBA", (64, 64), rgba).save(path)


def _colour(i: int, vendor: str) -> tuple[int, int, int, int]:
    return (10 * i % 256, 200 if vendor == "google" else 100, 7 * i % 256, 255)


@pytest.fixture(scope="module")
def emoji_dir(tmp_path_factory) -> Path:
    """Six base emoji in three categories; emoji 1 and 4 have two skin-tone variants each; the
    twitter set lacks emoji 5. Every image is one flat colour that encodes its index."""
    root = tmp_path_factory.mktemp("emoji")
    records = []
    for i in range(6):
        uid = f"1F60{i}"
        rec = {"name": f"FACE NUMBER {i}", "unified": uid, "image": f"{uid.lower()}.png",
               "short_names": [f"face{i}", f"f{i}"], "category": ["Smileys", "Animals", "Food"][i % 3],
               "has_img_google": True, "has_img_twitter": i != 5}
        if i in (1, 4):
            rec["skin_variations"] = {
                t: {"unified": f"{uid}-{t}", "image": f"{uid.lower()}-{t.lower()}.png", "has_img_google": True,
                    "has_img_twitter": True} for t in TONES}
        records.append(rec)
    (root / "emoji.json").write_text(json.dumps(records))
    for vendor in ("google", "twitter"):
        n = 0
        for rec in records:
            if rec[f"has_img_{vendor}"]:
                _png(root / "img" / vendor / "64" / rec["image"], _colour(n, vendor))
                n += 1
            for var in (rec.get("skin_variations") or {}).values():
                _png(root / "img" / vendor / "64" / var["image"], _colour(n, vendor))
                n += 1
    return root


def test_emoji_reader_labels_captions_and_groups(emoji_dir):
    data = read_emoji(emoji_dir, "google", 64)
    assert len(data) == 10 and data.images.shape == (10, 3, 64, 64) and data.images.dtype == np.uint8
    assert data.categories == ["Animals", "Food", "Smileys"]
    assert data.ids[:4] == ["1F600", "1F601", "1F601-1F3FB", "1F601-1F3FF"]
    assert data.groups.tolist() == [0, 1, 1, 1, 2, 3, 4, 4, 4, 5]
    assert data.labels.tolist() == [2, 0, 0, 0, 1, 2, 0, 0, 0, 1]
    assert data.captions[0] == "face number 0 (face0, f0)"
    assert data.captions[3] == "face number 1 (face1, f1), dark skin tone"
    for n in range(10):  # each flat colour lands at its example, channels first
        assert data.images[n, :, 5, 7].tolist() == list(_colour(n, "google")[:3])


def test_emoji_split_keeps_variants_together_and_is_seeded(emoji_dir):
    data = read_emoji(emoji_dir, "google", 64)
    for seed in range(8):
        parts = emoji_split(data.groups, seed)
        assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(len(data)))
        owners = [{int(g) for g in data.groups[idx]} for idx in parts.values()]
        assert all(owners) and not (owners[0] & owners[1] or owners[0] & owners[2] or owners[1] & owners[2])
    assert emoji_split_ids(data, 3) == emoji_split_ids(data, 3)
    assert any(emoji_split_ids(data, 0) != emoji_split_ids(data, s) for s in range(1, 8))


def test_emoji_alpha_on_white_and_resize(emoji_dir):
    rgba = np.array([[[100, 50, 0, 0], [100, 50, 0, 255], [100, 50, 0, 51]]], dtype=np.uint8)
    assert composite_on_white(rgba).tolist() == [[[255, 255, 255], [100, 50, 0], [224, 214, 204]]]
    small = read_emoji(emoji_dir, "twitter", 16)
    assert small.images.shape == (9, 3, 16, 16)
    assert small.images[0, :, 3, 3].tolist() == list(_colour(0, "twitter")[:3])  # flat images stay flat


def test_emoji_pairs_align_by_id(emoji_dir):
    ids, google, twitter = emoji_pairs(emoji_dir, 32)
    assert len(ids) == 9 and "1F605" not in ids and google.shape == twitter.shape == (9, 3, 32, 32)
    g, t = read_emoji(emoji_dir, "google", 32), read_emoji(emoji_dir, "twitter", 32)
    for k, uid in enumerate(ids):
        assert (google[k] == g.images[g.ids.index(uid)]).all() and (twitter[k] == t.images[t.ids.index(uid)]).all()


def test_emoji_through_load_dataset(emoji_dir):
    ds = load_dataset(DataConfig(name="emoji", data_dir=str(emoji_dir), size=16, vendor="twitter", seed=1))
    assert ds.shape == (3, 16, 16) and ds.levels == 256 and ds.num_classes == 3 and not ds.binary
    assert len(ds.train) + len(ds.valid) + len(ds.test) == 9
    k = ds.train.x * 255
    assert float((k - k.round()).abs().max()) < 1e-4


def test_emoji_bad_input_is_one_line(emoji_dir, tmp_path):
    with pytest.raises(DataError, match="size: emoji come at 16, 32, 64"):
        load_dataset(DataConfig(name="emoji", data_dir=str(emoji_dir), size=20))
    with pytest.raises(DataError, match="no emoji.json"):
        load_dataset(DataConfig(name="emoji", data_dir=str(tmp_path)))
    (tmp_path / "emoji.json").write_text("{not json")
    with pytest.raises(DataError, match="not readable JSON"):
        read_emoji(tmp_path)
    with pytest.raises(DataError, match="vendor"):
        read_emoji(emoji_dir, "apple")


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_EMOJI / "emoji.json").is_file(), reason="real emoji copy absent")
def test_real_emoji_split_groups_skin_tones():
    data = read_emoji(SHARED_EMOJI, "google", 16)
    assert len(data) == 3786 and len(data.categories) == 10
    parts = emoji_split(data.groups, 0)
    sizes = [len(parts[s]) for s in ("train", "valid", "test")]
    assert abs(sizes[0] / len(data) - 0.8) < 0.02 and min(sizes[1:]) > 300
    owners = [set(data.groups[idx].tolist()) for idx in parts.values()]
    assert not (owners[0] & owners[1] or owners[0] & owners[2] or owners[1] & owners[2])


# ----------------------------------------------------------------------------- CIFAR-10 binary


def _cifar_bytes(n: int, offset: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(offset)
    x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, n).astype(np.uint8)
    rec = np.concatenate([y[:, None], x.reshape(n, -1)], axis=1)
    return rec.tobytes(), x, y


def _write_cifar(folder: Path, per_file: int = 20) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    with tarfile.open(folder / "cifar-10-binary.tar.gz", "w:gz") as tar:
        for k, name in enumerate((*cifar_mod.TRAIN_FILES, cifar_mod.TEST_FILE)):
            raw, x, y = _cifar_bytes(per_file, k)
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
            truth[name] = (x, y)
    return truth


def test_cifar10_binary_reader(tmp_path):
    truth = _write_cifar(tmp_path / "cifar10")
    ds = load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))
    train_x = np.concatenate([truth[n][0] for n in cifar_mod.TRAIN_FILES])
    train_y = np.concatenate([truth[n][1] for n in cifar_mod.TRAIN_FILES])
    assert ds.shape == (3, 32, 32) and ds.levels == 256 and ds.num_classes == 10
    assert len(ds.train) == 90 and len(ds.valid) == 10 and len(ds.test) == 20
    assert np.array_equal((ds.train.x.numpy() * 255).round().astype(np.uint8), train_x[:90])
    assert ds.valid.y.tolist() == train_y[90:].tolist()
    assert np.array_equal((ds.test.x.numpy() * 255).round().astype(np.uint8), truth["test_batch.bin"][0])


def test_cifar10_errors_and_download_check(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="pass --download"):
        load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))
    with pytest.raises(DataError, match="not a whole number"):
        cifar_mod.parse_cifar_records(b"\x00" * 100, "x.bin")
    calls = []

    def fake_fetch(url, dest, sha256, *, size=None):
        calls.append((url, sha256, size))
        _write_cifar(Path(dest).parent)

    monkeypatch.setattr(cifar_mod.dl, "fetch", fake_fetch)
    ds = load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path), download=True))
    assert calls == [(cifar_mod.CIFAR10_URL, cifar_mod.CIFAR10_SHA256, cifar_mod.CIFAR10_SIZE)]
    assert len(ds.test) == 20


def test_cifar10_download_rejects_wrong_bytes(tmp_path, monkeypatch):
    payload = b"not the archive"

    class FakeResponse(io.BytesIO):
        def __enter__(self):
            return self

    monkeypatch.setattr(cifar_mod.dl, "urlopen", lambda url, timeout: FakeResponse(payload))
    with pytest.raises(DataError, match="received 15 bytes"):
        cifar_mod.read_cifar10(tmp_path, download=True)
    assert not list(tmp_path.iterdir())  # the partial file is removed


# ----------------------------------------------------------------------------- image folders


def test_image_folder_centre_crop(tmp_path):
    img = np.zeros((20, 40, 3), dtype=np.uint8)  # wide: 40 across, 20 down
    img[:, 10:30] = (200, 100, 50)  # the centred 20x20 square
    for i in range(3):
        Image.fromarray(img).save(tmp_path / f"{i}.png")
    ds = load_dataset(DataConfig(name=str(tmp_path), grayscale=False, size=10, crop=True))
    assert ds.shape == (3, 10, 10)
    assert (ds.train.x * 255).round()[0, :, 5, 0].tolist() == [200.0, 100.0, 50.0]  # no black border kept
    plain = load_dataset(DataConfig(name=str(tmp_path), grayscale=False, size=10))
    assert float(plain.train.x[0, 0, 5, 0]) == 0.0  # without crop the left border stays

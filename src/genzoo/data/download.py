"""Download of the IDX datasets from their standard mirrors, with SHA-256 checks.

Nothing here runs unless the user passes ``download=True`` (``--download``). Every file is streamed
to a temporary name in the target folder, hashed while it is written, and renamed into place only
when its SHA-256 matches the constant below; otherwise the partial file is deleted.

The sizes and SHA-256 sums are those recorded by TensorFlow Datasets
(``tensorflow_datasets/url_checksums/{mnist,fashion_mnist,kmnist}.txt``); the MNIST test files were
also checked against local copies. The MNIST files at the ossci mirror are byte copies of LeCun's.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
from pathlib import Path
from urllib.request import urlopen  # module attribute, so tests can substitute a fake opener

from genzoo.data.errors import DataError

log = logging.getLogger(__name__)

IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

MIRRORS: dict[str, str] = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "kmnist": "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
}

# dataset -> file -> (size in bytes, SHA-256)
CHECKSUMS: dict[str, dict[str, tuple[int, str]]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": (
            9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
        ),
        "train-labels-idx1-ubyte.gz": (
            28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
        ),
        "t10k-images-idx3-ubyte.gz": (
            1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
        ),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": (
            26421880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
        ),
        "train-labels-idx1-ubyte.gz": (
            29515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
        ),
        "t10k-images-idx3-ubyte.gz": (
            4422102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            5148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
        ),
    },
    "kmnist": {
        "train-images-idx3-ubyte.gz": (
            18165135, "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"
        ),
        "train-labels-idx1-ubyte.gz": (
            29497, "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"
        ),
        "t10k-images-idx3-ubyte.gz": (
            3041136, "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            5120, "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"
        ),
    },
}


def identify(sha256: str) -> tuple[str, str] | None:
    """``(dataset, file)`` of an official file with this SHA-256, or None for any other content."""
    for dataset, files in CHECKSUMS.items():
        for name, (_, digest) in files.items():
            if digest == sha256:
                return dataset, name
    return None


def fetch(url: str, dest: Path, sha256: str, *, size: int | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically, checking its SHA-256 (and size when given).

    The bytes go to a hidden ``.part`` file beside ``dest`` and are renamed over ``dest`` only when the
    checksum matches; on any failure the partial file is removed and a :class:`DataError` raised.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    digest = hashlib.sha256()
    received = 0
    log.info("downloading %s -> %s", url, dest)
    try:
        with os.fdopen(fd, "wb") as out, urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
        if size is not None and received != size:
            raise DataError(f"{url}: received {received} bytes, expected {size}; download discarded")
        if digest.hexdigest() != sha256:
            raise DataError(
                f"{url}: SHA-256 {digest.hexdigest()} does not match the expected {sha256}; "
                "download discarded"
            )
        os.replace(tmp, dest)
    except (OSError, http.client.HTTPException) as exc:  # URLError and HTTPError are OSErrors
        raise DataError(f"{url}: download failed ({exc})") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def download_idx(dataset: str, folder: Path, files: tuple[str, ...] = IDX_FILES) -> list[Path]:
    """Fetch the given IDX ``files`` of ``dataset`` into ``folder`` from its standard mirror."""
    if dataset not in MIRRORS:
        raise DataError(f"{dataset}: no download available (downloadable: {', '.join(MIRRORS)})")
    paths = []
    for name in files:
        size, sha256 = CHECKSUMS[dataset][name]
        paths.append(fetch(MIRRORS[dataset] + name, Path(folder) / name, sha256, size=size))
    return paths

"""Pictures in and out: PNG encoding of model outputs, heat maps, and validation of uploads."""

from __future__ import annotations

import io
import math

import numpy as np
import torch

from genzoo.data import transforms

#: largest upload accepted, bytes
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
#: largest image accepted, pixels (checked from the header, before decoding)
MAX_UPLOAD_PIXELS = 4096 * 4096


class UploadError(ValueError):
    """A refused upload, with the HTTP status to answer (400, 413, 415, 422)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def to_unit(x: torch.Tensor, scale: str) -> torch.Tensor:
    """Data space -> [0, 1] for display (``scale`` is the run's data scale, '01' or 'pm1')."""
    return transforms.to_unit(x, scale).clamp(0, 1)


def grid(images: torch.Tensor, ncol: int | None = None, pad: int = 1) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> uint8 (H', W') or (H', W', 3) mosaic, ``ncol`` columns."""
    n, c, h, w = images.shape
    ncol = ncol or min(n, max(1, math.ceil(math.sqrt(n))))
    nrow = math.ceil(n / ncol)
    if n == 1:
        pad = 0
    out = torch.ones(c, nrow * (h + pad) - pad, ncol * (w + pad) - pad)
    for i in range(n):
        r, col = divmod(i, ncol)
        out[:, r * (h + pad): r * (h + pad) + h, col * (w + pad): col * (w + pad) + w] = images[i]
    arr = (out.numpy() * 255).round().astype(np.uint8)
    if c == 1:
        return arr[0]
    return arr[:3].transpose(1, 2, 0)


def png(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def heat_map(values: torch.Tensor) -> np.ndarray:
    """(H, W) values -> uint8 RGB (H, W, 3) with matplotlib's viridis, low = dark."""
    from matplotlib import colormaps

    v = values.numpy().astype(np.float64)
    lo, hi = float(v.min()), float(v.max())
    t = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
    return (colormaps["viridis"](t)[..., :3] * 255).round().astype(np.uint8)


def read_upload(body: bytes, shape: tuple[int, int, int], *, resize: bool = False) -> torch.Tensor:
    """An uploaded image file as a float tensor (1, C, H, W) in [0, 1] for a model of data ``shape``.

    Refuses (UploadError): an empty or oversized body (413), bytes that are not an image PIL can
    read (415), an image over :data:`MAX_UPLOAD_PIXELS` (413, from the header, before decoding),
    and an image whose size differs from the model's unless ``resize`` (422)."""
    from PIL import Image, UnidentifiedImageError

    if not body:
        raise UploadError(400, "empty upload: send the image file as the request body")
    if len(body) > MAX_UPLOAD_BYTES:
        raise UploadError(413, f"upload of {len(body)} bytes is over the {MAX_UPLOAD_BYTES} byte limit")
    try:
        img = Image.open(io.BytesIO(body))
    except (UnidentifiedImageError, OSError, ValueError):
        raise UploadError(415, "not an image: upload a PNG, JPEG, GIF, BMP or WebP file") from None
    w, h = img.size
    if w < 1 or h < 1 or w * h > MAX_UPLOAD_PIXELS:
        raise UploadError(413, f"image of {w}x{h} pixels is too large (at most {MAX_UPLOAD_PIXELS} pixels)")
    c, mh, mw = shape
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(c)
    if mode is None:
        raise UploadError(422, f"this model takes {c}-channel images; uploads are read as grey, RGB or RGBA")
    if (h, w) != (mh, mw) and not resize:
        raise UploadError(422, f"image is {w}x{h} pixels; this model takes {mw}x{mh} images "
                               "(resize it, or tick 'resize to fit')")
    try:
        img.load()
        img = img.convert(mode)
        if (h, w) != (mh, mw):
            img = img.resize((mw, mh), Image.BILINEAR)
    except (OSError, ValueError, Image.DecompressionBombError):
        raise UploadError(415, "the image could not be decoded (truncated or corrupt file)") from None
    arr = np.asarray(img, dtype=np.float32) / 255  # (H, W) or (H, W, 3)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(arr)).unsqueeze(0)  # (1, C, H, W)

"""Load-time preprocessing (resize, static binarization, scaling) and the per-batch transform.

Load-time steps work on whole numpy arrays. The per-batch transform (:class:`BatchTransform`, made
by :func:`make_batch_transform`) works on whole batches with torch ops on the batch's device and
takes a ``torch.Generator`` so that runs and tests are exactly reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from genzoo.data.datasets import DataConfig
    from genzoo.data.spec import DataSpec

RESIZE_CHUNK = 4096  # images per interpolate call: bounds the float32 working memory
SCALES = ("01", "pm1")


# ----------------------------------------------------------------------------- the data range
# The one place that maps between the two value ranges genzoo uses: "01" = [0, 1] and
# "pm1" = [-1, 1] (``--scale pm1``). Works on torch tensors and numpy arrays; never in place.


def _check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise ValueError(f"scale: {scale!r} is not one of {', '.join(SCALES)}")


def value_range(scale: str) -> tuple[float, float]:
    """(low, high) of data with value range ``scale``: (0, 1) or (-1, 1)."""
    _check_scale(scale)
    return (-1.0, 1.0) if scale == "pm1" else (0.0, 1.0)


def to_unit(x, scale: str):
    """Data with value range ``scale`` -> [0, 1] (a new tensor/array for pm1, ``x`` itself for 01)."""
    _check_scale(scale)
    return (x + 1) * 0.5 if scale == "pm1" else x


def from_unit(u, scale: str):
    """[0, 1] -> data with value range ``scale`` (the inverse of :func:`to_unit`)."""
    _check_scale(scale)
    return u * 2 - 1 if scale == "pm1" else u



def resize_codes(codes: np.ndarray, levels: int, size: int) -> np.ndarray:
    """Resize (N, C, H, W) codes to ``size x size`` with bilinear interpolation, staying on the grid.

    Interpolation is linear, so it is done on the codes themselves and rounded back to the nearest
    level: ``x * (levels - 1)`` stays integral, as discrete likelihoods (bits/dim) need. Shrinking
    uses ``antialias=True`` so that thin strokes are averaged rather than skipped.
    """
    n, c, h, w = codes.shape
    if (h, w) == (size, size):
        return codes
    shrink = size < max(h, w)
    out = np.empty((n, c, size, size), dtype=np.uint8)
    for start in range(0, n, RESIZE_CHUNK):
        x = torch.from_numpy(codes[start : start + RESIZE_CHUNK].astype(np.float32))  # (B, C, H, W)
        y = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
        out[start : start + RESIZE_CHUNK] = y.round_().clamp_(0, levels - 1).to(torch.uint8).numpy()
    return out


def codes_to_unit(codes: np.ndarray, levels: int) -> np.ndarray:
    """Integer codes -> float32 in [0, 1] (a new array)."""
    x = codes.astype(np.float32)
    x /= levels - 1
    return x


def binarize_static(p: np.ndarray, seed: int, stream: int) -> np.ndarray:
    """One fixed Bernoulli draw per pixel: ``1 if u < p`` with ``u ~ U[0,1)`` from a seeded generator.

    ``stream`` separates the draws of the train/valid/test splits. The numpy generator fills ``u`` in
    order, so the first N examples get the same draws whatever N (``limit`` keeps them stable).
    """
    rng = np.random.default_rng([seed, 100 + stream])
    return (rng.random(p.shape, dtype=np.float32) < p).astype(np.float32)


@dataclass(frozen=True)
class BatchTransform:
    """Per-batch randomness: dynamic binarization or uniform dequantization (never both).

    * ``binarize``: ``x -> Bernoulli(x)`` with ``x`` in [0, 1] the grey level (Salakhutdinov & Murray
      2008 binarize MNIST stochastically; drawing afresh every batch is "dynamic binarization").
    * ``dequantize_levels = L``: data on the grid ``k / (L-1)`` become ``(k + u) / L`` with
      ``u ~ U[0,1)`` (Theis et al. 2016, "A note on the evaluation of generative models", sec. 3.1):
      the noise stays inside the pixel's level and the result inside [0, 1]. With ``pm1`` the batch is
      mapped to [0, 1] first and back to [-1, 1] after.

    Call as ``transform(x, generator)``; ``generator`` (or None for torch's global one) must live on
    ``x``'s device. The input tensor is never modified.
    """

    binarize: bool = False
    dequantize_levels: int | None = None
    pm1: bool = False

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.binarize:
            return torch.bernoulli(x, generator=generator)
        levels = self.dequantize_levels
        if levels is None:
            return x.clone()
        scale = "pm1" if self.pm1 else "01"
        k = torch.round(to_unit(x, scale) * (levels - 1))  # (B, C, H, W) integer levels 0..L-1
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return from_unit((k + u) / levels, scale)


def native_levels(name: str) -> int:
    """Quantization levels of a source before binarization: 17 for ``digits`` (0..16), else 256."""
    return 17 if name == "digits" else 256


def make_batch_transform(spec: DataSpec | DataConfig) -> BatchTransform | None:
    """The per-batch transform of the data ``spec`` describes, or None when there is nothing to do.

    ``binarization="dynamic"`` gives a fresh Bernoulli draw of every training batch;
    ``dequantization="uniform"`` adds uniform noise within each of the spec's ``levels``. Prefer a
    :class:`~genzoo.data.spec.DataSpec` (it knows the dataset's levels); a bare ``DataConfig`` is
    accepted for old callers and assumes the named source's native levels.
    """
    from genzoo.data.spec import DataSpec

    if isinstance(spec, DataSpec):
        if spec.binarization == "dynamic":
            return BatchTransform(binarize=True)
        if spec.dequantization == "uniform":
            return BatchTransform(dequantize_levels=spec.levels, pm1=spec.scale == "pm1")
        return None
    cfg = spec
    if cfg.binarize == "dynamic":
        return BatchTransform(binarize=True)
    if cfg.dequantize:
        return BatchTransform(dequantize_levels=native_levels(cfg.name), pm1=cfg.scale == "pm1")
    return None

"""What every autoregressive model shares: the output distribution, ``log_prob`` and sampling.

A model only defines ``_logits(u)``, the logits of every conditional p(x_i | x_<i) computed at
once from the images ``u`` in [0, 1] (teacher forcing), and optionally the incremental sampler
``_fast_start`` / ``_fast_step``. Pixels are ordered in raster order: index
``i = (h * W + w) * C + c``. Binary vectors of shape (D,) (no image structure) are handled as
images of shape (1, 1, D) inside (:attr:`AutoregressiveModel.grid`): the models see 4-d tensors,
and inputs and outputs keep the data's own shape (B, D).

Output types (``likelihood``):
* ``"bernoulli"``: one logit per pixel, for binary data (x in {0, 1}); logits (B, C, H, W).
* ``"categorical"``: a ``levels``-way softmax per pixel for quantised data x = k / (levels - 1)
  (8-bit: levels=256, the target is round(255 x)); logits (B, levels, C, H, W)
  (PixelRNN paper, section 5.3: a discrete softmax over pixel values).
Data in [-1, 1] (``input_scale="pm1"``) are mapped to [0, 1] first, and samples are mapped back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from genzoo.config import field
from genzoo.data.transforms import from_unit as scale_from_unit
from genzoo.data.transforms import to_unit as scale_to_unit
from genzoo.models.base import GenerativeModel, ModelConfig, check_count
from genzoo.nn import random as rng


@dataclass(frozen=True)
class AutoregressiveConfig(ModelConfig):
    likelihood: str = field("bernoulli", choices=("bernoulli", "categorical"),
                            help="per-pixel output: Bernoulli logits (binary data) or a softmax over levels")
    levels: int = field(256, help="number of pixel values for the categorical likelihood (256 = 8 bit)")
    input_scale: str = field("01", choices=("01", "pm1"),
                             help="range of the data: [0, 1] or [-1, 1] (mapped to [0, 1] inside)")


class AutoregressiveModel(GenerativeModel):
    """Base class: subclasses implement ``_logits(u)`` with u in [0, 1], shape (B, C, H, W)."""

    exact_likelihood = True
    #: largest number of data channels the model's masks handle (None: any)
    max_channels: int | None = None
    #: convolutional models need images (C, H, W) and refuse vector data (D,)
    images_only: bool = False

    def __init__(self, config: AutoregressiveConfig):
        super().__init__(config)
        if len(config.shape) not in (1, 3):
            raise ValueError(f"shape must be (C, H, W) or (D,), got {config.shape}")
        #: the (C, H, W) the networks work on: the data shape, or (1, 1, D) for vectors (D,)
        self.grid: tuple[int, int, int] = tuple(config.shape) if len(config.shape) == 3 else (1, 1, config.shape[0])
        if config.likelihood not in ("bernoulli", "categorical"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'categorical', got {config.likelihood!r}")
        if config.likelihood == "categorical" and config.levels < 2:
            raise ValueError(f"levels must be at least 2, got {config.levels}")
        if config.input_scale not in ("01", "pm1"):
            raise ValueError(f"input_scale must be '01' or 'pm1', got {config.input_scale!r}")
        if self.images_only and len(config.shape) != 3:
            raise ValueError(f"{type(self).__name__} is convolutional and needs images (C, H, W); "
                             f"got vector data of shape {tuple(config.shape)} (use nade, made or fvsbn)")
        if self.max_channels is not None and config.shape[0] > self.max_channels:
            raise ValueError(f"{type(self).__name__} supports {self.max_channels} data channel(s) only "
                             f"(got shape {tuple(config.shape)}); RGB channel masking is not implemented")

    # ---- output distribution -------------------------------------------------------------------
    @property
    def categorical(self) -> bool:
        return self.config.likelihood == "categorical"

    @property
    def likelihood_type(self) -> str:
        return self.config.likelihood

    @property
    def out_per_pixel(self) -> int:
        """Logits per pixel: 1 (Bernoulli) or ``levels`` (categorical)."""
        return self.config.levels if self.categorical else 1

    @property
    def likelihood_levels(self) -> int | None:
        """The data contract (:mod:`genzoo.data.spec`): levels of the categorical likelihood."""
        return self.config.levels if self.categorical else None

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Data space -> [0, 1]."""
        return scale_to_unit(x, self.config.input_scale)

    def from_unit(self, u: torch.Tensor) -> torch.Tensor:
        """[0, 1] -> data space."""
        return scale_from_unit(u, self.config.input_scale)

    def targets(self, x: torch.Tensor) -> torch.Tensor:
        """Categorical targets: the integer level of each pixel, (B, C, H, W)."""
        levels = self.config.levels
        return torch.round(self.to_unit(x) * (levels - 1)).long().clamp(0, levels - 1)

    @torch.no_grad()
    def marginal_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of each pixel's training marginal in raster order, smoothed by one pseudo-count:
        (D,) log-odds (Bernoulli) or (D, levels) log-frequencies (categorical). The usual
        initial output bias: the model then starts at the independent-pixel fit."""
        n = x.shape[0]
        if self.categorical:
            counts = F.one_hot(to_raster(self.targets(x)), self.out_per_pixel).sum(0).float()  # (D, K)
            return torch.log((counts + 1.0) / (n + self.out_per_pixel))
        p = (to_raster(self.to_unit(x)).sum(0) + 1.0) / (n + 2.0)  # (D,)
        return torch.log(p) - torch.log1p(-p)

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 1 + len(self.config.shape) or tuple(x.shape[1:]) != tuple(self.config.shape):
            what = "images" if len(self.config.shape) == 3 else "vectors"
            raise ValueError(f"expected {what} of shape (B, {', '.join(map(str, self.config.shape))}), "
                             f"got {tuple(x.shape)}")

    def on_grid(self, x: torch.Tensor) -> torch.Tensor:
        """Data (B, *shape) -> (B, *grid): vectors (B, D) become (B, 1, 1, D); images are unchanged."""
        return x.reshape(x.shape[0], *self.grid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every conditional: (B, C, H, W) (Bernoulli) or (B, levels, C, H, W); for
        vector data (B, D) or (B, levels, D)."""
        self._check(x)
        logits = self._logits(self.on_grid(self.to_unit(x)))
        return logits.reshape(*logits.shape[:-3], *self.config.shape)

    def _logits(self, u: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def pixel_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x_i | x_<i) for every pixel: (B, C, H, W), or (B, 1, 1, D) for vectors."""
        self._check(x)
        x = self.on_grid(x)
        u = self.to_unit(x)
        logits = self._logits(u)
        if self.categorical:
            return -F.cross_entropy(logits, self.targets(x), reduction="none")  # (B, C, H, W)
        return -F.binary_cross_entropy_with_logits(logits, u, reduction="none")

    def log_prob(self, x: torch.Tensor, *, k: int | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Exact log p(x) = sum_i log p(x_i | x_<i) in nats: (B,) (``k``, ``generator``: unused)."""
        return self.pixel_log_probs(x).flatten(1).sum(1)

    # ---- sampling --------------------------------------------------------------------------------
    def _draw(self, logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Inverse-CDF draw of one pixel from its logits ((B,) or (B, levels)) with uniform noise
        ``u`` (B,): returns the pixel value in [0, 1]."""
        if not self.categorical:
            return (u < torch.sigmoid(logits)).to(u.dtype)
        cdf = torch.softmax(logits, dim=-1).cumsum(-1)  # (B, levels)
        k = (cdf < u.unsqueeze(-1)).sum(-1).clamp(max=self.config.levels - 1)
        return k.to(u.dtype) / (self.config.levels - 1)

    @staticmethod
    def _pick(logits: torch.Tensor, categorical: bool, r: int, c: int, ch: int) -> torch.Tensor:
        return logits[:, :, ch, r, c] if categorical else logits[:, ch, r, c]

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Any = None,
               fast: bool = True, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Ancestral sampling in raster order: (n, C, H, W) in data space ([0, 1] by default).

        The uniform noise for every pixel is drawn up front, (n, H, W, C) in raster order (or given
        as ``noise``), so ``fast=True`` (incremental: reuses earlier computation) and ``fast=False``
        (reruns the whole network for each pixel) give identical samples for the same generator.
        """
        n = check_count(n)
        self.check_condition(condition)
        ch_, h, w = self.grid
        dtype = next(self.parameters()).dtype
        if noise is None:
            noise = rng.rand((n, h, w, ch_), generator=generator, dtype=dtype, device=self.device)
        elif tuple(noise.shape) != (n, h, w, ch_):
            raise ValueError(f"noise must have shape {(n, h, w, ch_)}, got {tuple(noise.shape)}")
        canvas = torch.zeros(n, ch_, h, w, dtype=dtype, device=self.device)  # values in [0, 1]
        state = self._fast_start(n, canvas) if fast else None
        for r in range(h):
            for c in range(w):
                for ch in range(ch_):
                    if fast:
                        logits = self._fast_step(state, canvas, r, c, ch)
                    else:
                        logits = self._pick(self._logits(canvas), self.categorical, r, c, ch)
                    canvas[:, ch, r, c] = self._draw(logits, noise[:, r, c, ch])
        return self.from_unit(canvas).reshape(n, *self.config.shape)

    def _fast_start(self, n: int, canvas: torch.Tensor) -> Any:
        """State of the incremental sampler (caches); default: none (naive per pixel)."""
        return None

    def _fast_step(self, state: Any, canvas: torch.Tensor, r: int, c: int, ch: int) -> torch.Tensor:
        """Logits ((n,) or (n, levels)) of pixel (r, c, ch), given ``canvas`` filled before it."""
        return self._pick(self._logits(canvas), self.categorical, r, c, ch)


def to_raster(u: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, D) in raster order (channel last); vectors (B, D) pass through."""
    if u.dim() == 2:
        return u
    return u.permute(0, 2, 3, 1).reshape(u.shape[0], -1)


def from_raster(v: torch.Tensor, shape: tuple[int, ...], categorical: bool) -> torch.Tensor:
    """(B, D) -> (B, C, H, W), or (B, D, K) -> (B, K, C, H, W) when ``categorical``; for a
    vector shape (D,): (B, D), or (B, K, D)."""
    if len(shape) == 1:
        return v.transpose(1, 2) if categorical else v
    ch, h, w = shape
    if categorical:
        return v.reshape(v.shape[0], h, w, ch, -1).permute(0, 4, 3, 1, 2)
    return v.reshape(v.shape[0], h, w, ch).permute(0, 3, 1, 2)


def raster_index(shape: tuple[int, ...], r: int, c: int, ch: int) -> int:
    return (r * shape[2] + c) * shape[0] + ch

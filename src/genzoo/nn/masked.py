"""Masked layers for autoregressive models.

* :class:`MaskedLinear` -- a linear layer whose weight is multiplied by a fixed 0/1 mask
  (FVSBN's strictly lower-triangular weights; MADE, Germain et al. 2015).
* :class:`MaskedConv2d` -- the PixelCNN convolution (van den Oord et al. 2016, "Pixel Recurrent
  Neural Networks", section 3.4): mask ``"A"`` hides the centre pixel and everything after it in
  raster order (first layer), mask ``"B"`` keeps the centre (later layers). Rows below the centre
  are always hidden. The masks are spatial only: every input channel may feed every output
  channel, which is exact for one data channel (C=1); the RGB channel split of the paper is not
  implemented here.
* :func:`conv_at` -- one output position of a (masked) convolution, from a zero-padded cache;
  the building block of incremental ("fast") sampling, where each layer is evaluated only at the
  pixel being generated (Ramachandran et al. 2017, "Fast generation for convolutional
  autoregressive models").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MaskedLinear(nn.Linear):
    """``y = x @ (W * mask).T + b`` with a fixed ``mask`` of shape (out_features, in_features)."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        if tuple(mask.shape) != (out_features, in_features):
            raise ValueError(f"mask shape {tuple(mask.shape)} != ({out_features}, {in_features})")
        self.register_buffer("mask", mask.to(self.weight.dtype).clone())

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.masked_weight(), self.bias)


def spatial_mask(kernel_size: tuple[int, int], mask_type: str) -> torch.Tensor:
    """(kh, kw) mask: 1 above the centre row, left of the centre in the centre row, and the centre
    itself for mask ``"B"``; 0 elsewhere (the centre for ``"A"`` and everything after it)."""
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    kh, kw = kernel_size
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"masked convolutions need odd kernel sizes, got {kernel_size}")
    mask = torch.ones(kh, kw)
    ch, cw = kh // 2, kw // 2
    mask[ch, cw + (mask_type == "B"):] = 0
    mask[ch + 1:] = 0
    return mask


class MaskedConv2d(nn.Conv2d):
    """A 'same'-padded convolution whose kernel only sees earlier pixels (raster order).

    ``mask_type="A"``: the output at (r, c) depends on inputs strictly before (r, c);
    ``mask_type="B"``: on inputs at or before (r, c).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 mask_type: str, bias: bool = True):
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        super().__init__(in_channels, out_channels, ks, padding=(ks[0] // 2, ks[1] // 2), bias=bias)
        self.mask_type = mask_type
        self.register_buffer("mask", spatial_mask(ks, mask_type))

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.masked_weight(), self.bias, padding=self.padding)

    @property
    def reach(self) -> tuple[int, int]:
        """(rows above, columns either side) that one output position reads."""
        return self.kernel_size[0] // 2, self.kernel_size[1] // 2

    def at(self, cache: torch.Tensor, r: int, c: int) -> torch.Tensor:
        """Output at (r, c) from ``cache``, the layer input zero-padded by :attr:`reach` on top,
        left and right (shape (B, C_in, up + H, side + W + side)): (B, C_out)."""
        up, side = self.reach
        weight = self.masked_weight()[:, :, : up + 1]  # rows below the centre are masked anyway
        return conv_at(cache, weight, self.bias, r, c)

    def pointwise(self, x: torch.Tensor) -> torch.Tensor:
        """A 1x1 layer applied to one position's features (B, C_in): (B, C_out)."""
        if self.kernel_size != (1, 1):
            raise ValueError(f"pointwise needs a 1x1 kernel, this one is {self.kernel_size}")
        return F.linear(x, self.masked_weight()[:, :, 0, 0], self.bias)

    def write(self, cache: torch.Tensor, value: torch.Tensor, r: int, c: int) -> None:
        """Store ``value`` (B, C_in), this layer's input at (r, c), in its padded ``cache``."""
        up, side = self.reach
        cache[:, :, r + up, c + side] = value

    def new_cache(self, n: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
        """Zeros (n, C_in, up + H, side + W + side): this layer's input, padded for :meth:`at`."""
        up, side = self.reach
        return like.new_zeros(n, self.in_channels, up + height, width + 2 * side)


def conv_at(cache: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, r: int, c: int
            ) -> torch.Tensor:
    """One output position of a convolution: the patch of ``cache`` whose top-left corner is
    (r, c) in padded coordinates, contracted with ``weight`` (C_out, C_in, kh, kw): (B, C_out)."""
    kh, kw = weight.shape[-2:]
    patch = cache[:, :, r: r + kh, c: c + kw]  # (B, C_in, kh, kw)
    out = torch.einsum("bihw,oihw->bo", patch, weight)
    return out if bias is None else out + bias

"""Masked layers for autoregressive models.

* :class:`MaskedLinear` -- a linear layer whose weight is multiplied by a fixed 0/1 mask
  (FVSBN's strictly lower-triangular weights; MADE, Germain et al. 2015).
* :class:`MaskedConv2d` -- the PixelCNN convolution (van den Oord et al. 2016, "Pixel Recurrent
  Neural Networks", section 3.4): mask ``"A"`` hides the centre pixel and everything after it in
  raster order (first layer), mask ``"B"`` keeps the centre (later layers). Rows below the centre
  are always hidden. With ``data_channels=C > 1`` (RGB) the feature maps are split into C
  contiguous groups (:func:`channel_groups`) and the centre tap follows the channel order of the
  paper: group g sees groups < g at the centre (mask A) or groups <= g (mask B), so R is predicted
  from earlier pixels, G from those and R, B from those and R, G. Earlier pixels are seen whole.
* :class:`GroupMaskedConv1d` -- a 1-D convolution whose every tap keeps the channel groups
  separate (mask B between groups): the state-to-state convolutions of the RGB PixelRNNs.
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


def channel_groups(n: int, groups: int, chunks: int = 1) -> torch.Tensor:
    """Data-channel group of each of ``n`` feature channels: (n,) long.

    The ``n / chunks`` channels of each chunk are split into ``groups`` contiguous blocks
    (channel i -> i * groups // (n / chunks)); chunks are the parts a layer later splits its output
    into (the two halves of a gated unit, the four LSTM gates), so each part has every group.
    With ``n == groups`` (a layer reading the image) channel i is data channel i.
    """
    if n % chunks:
        raise ValueError(f"{n} channels do not split into {chunks} equal chunks")
    per = n // chunks
    return (torch.arange(per) * groups // per).repeat(chunks)


def group_mask(out_groups: torch.Tensor, in_groups: torch.Tensor, mask_type: str) -> torch.Tensor:
    """(out, in) 0/1 mask: in-group < out-group (``"A"``) or <= (``"B"``)."""
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    o, i = out_groups.unsqueeze(1), in_groups.unsqueeze(0)
    return (i < o if mask_type == "A" else i <= o).float()


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
    ``mask_type="B"``: on inputs at or before (r, c). With ``data_channels`` C > 1, the centre tap
    is masked between channel groups (module docstring); ``out_chunks`` tells how the output is
    split later (2 for a gated unit, 4 for LSTM gates) so that every chunk holds every group.
    For C = 1 the mask is the spatial one.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 mask_type: str, bias: bool = True, *, data_channels: int = 1, out_chunks: int = 1):
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        super().__init__(in_channels, out_channels, ks, padding=(ks[0] // 2, ks[1] // 2), bias=bias)
        self.mask_type = mask_type
        self.register_buffer("mask", spatial_mask(ks, mask_type))  # (kh, kw), saved with the weights
        full = spatial_mask(ks, "A").expand(out_channels, in_channels, *ks).clone()  # strictly earlier pixels
        centre = group_mask(channel_groups(out_channels, data_channels, out_chunks),
                            channel_groups(in_channels, data_channels), mask_type)
        full[:, :, ks[0] // 2, ks[1] // 2] = centre
        self.register_buffer("full_mask", full, persistent=False)  # (out, in, kh, kw): derived, not saved

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.full_mask

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


class GroupMaskedConv1d(nn.Conv1d):
    """A 1-D convolution over positions that are all in the past (the previous row's states in the
    Row LSTM, the previous diagonal's in the Diagonal BiLSTM), masked between channel groups with
    mask B on every tap: group g reads groups <= g. Identity mask for ``data_channels=1``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0, *,
                 data_channels: int = 1, out_chunks: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, padding=padding)
        mask = group_mask(channel_groups(out_channels, data_channels, out_chunks),
                          channel_groups(in_channels, data_channels), "B")
        self.register_buffer("group_mask", mask.unsqueeze(-1), persistent=False)  # (out, in, 1)

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.group_mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x, self.masked_weight(), self.bias, padding=self.padding)


class CurrentColumnMaskedConv2d(nn.Conv2d):
    """A (kh, kw) convolution applied to a map padded so that its last column of taps is the
    current pixel and every other tap an earlier one (the horizontal stack of the gated PixelCNN).
    Only that last column is masked, between channel groups (``mask_type`` A or B, see
    :func:`group_mask`); for ``data_channels=1`` and mask B nothing is masked. No padding here."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int], mask_type: str = "B",
                 *, data_channels: int = 1, out_chunks: int = 1):
        super().__init__(in_channels, out_channels, kernel_size)
        mask = torch.ones(out_channels, in_channels, *self.kernel_size)
        mask[..., -1] = group_mask(channel_groups(out_channels, data_channels, out_chunks),
                                   channel_groups(in_channels, data_channels), mask_type).unsqueeze(-1)
        self.register_buffer("group_mask", mask, persistent=False)

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.group_mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.masked_weight(), self.bias)

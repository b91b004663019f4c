"""Skew / unskew for the Diagonal BiLSTM (van den Oord et al. 2016, "Pixel Recurrent Neural
Networks", section 3.2, figure 3).

:func:`skew` shifts row ``i`` of a (B, C, H, W) map right by ``i`` positions, giving
(B, C, H, W + H - 1), so that every diagonal of the image becomes a column and a column-wise
recurrence visits the image diagonal by diagonal. Entries outside the shifted rows are zero.
:func:`unskew` is its inverse.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def skew(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, W + H - 1); ``out[..., i, i + j] = x[..., i, j]``."""
    b, ch, h, w = x.shape
    flat = F.pad(x, (0, h)).reshape(b, ch, h * (w + h))  # rows of length W + H
    return flat[:, :, : h * (w + h - 1)].reshape(b, ch, h, w + h - 1)


def unskew(x: torch.Tensor, width: int | None = None) -> torch.Tensor:
    """(B, C, H, W + H - 1) -> (B, C, H, W); inverse of :func:`skew`."""
    b, ch, h, s = x.shape
    w = s - h + 1 if width is None else width
    if w < 1 or s != w + h - 1:
        raise ValueError(f"cannot unskew a map of width {s} and height {h} to width {w}")
    flat = F.pad(x.reshape(b, ch, h * s), (0, h))  # (B, C, H * (W + H))
    return flat.reshape(b, ch, h, w + h)[..., :w]

"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders").

Two stacks replace the masked convolutions of :mod:`~genzoo.models.autoregressive.pixelcnn`, which
removes its blind spot (the pixels up and to the right that a stack of masked 3x3 convolutions
never sees):

* the **vertical** stack convolves a (k//2 + 1) x k window of the rows at and above each position;
  its output at row r may depend on anything in rows <= r, so it reaches the horizontal stack only
  after a shift down by one row (rows < r);
* the **horizontal** stack convolves a 1 x (k//2 + 1) window of the current row up to the current
  column (the first layer shifts right by one: strictly earlier columns), adds the vertical
  stack's contribution through a 1x1 convolution, and has residual connections.

Both use the gated unit ``tanh(a) * sigmoid(b)``. Output: ReLU, 1x1, ReLU, 1x1 to the logits.

Sampling reuses earlier computation row by row: the vertical stack is run once per row (on the
rows generated so far), and each pixel of the row then needs the horizontal stack on that one
row only, since the horizontal kernels are one row high: about H times less work per pixel than
rerunning the whole network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import field
from genzoo.models.autoregressive._common import AutoregressiveConfig, AutoregressiveModel
from genzoo.registry import register_model


@dataclass(frozen=True)
class GatedPixelCNNConfig(AutoregressiveConfig):
    features: int = field(64, help="feature maps of each stack")
    layers: int = field(12, help="gated layers (the first sees strictly earlier pixels)")
    first_kernel: int = field(7, help="kernel width k of the first layer")
    kernel: int = field(3, help="kernel width k of the later layers")
    output_features: int = field(64, help="features of the 1x1 output layer")


def _gate(a: torch.Tensor) -> torch.Tensor:
    t, s = a.chunk(2, dim=1)
    return torch.tanh(t) * torch.sigmoid(s)


class GatedLayer(nn.Module):
    def __init__(self, in_channels: int, features: int, kernel: int, first: bool):
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"kernel widths must be odd and positive, got {kernel}")
        self.k, self.first = kernel, first
        self.rows = self.cols = kernel // 2 + 1
        self.v = nn.Conv2d(in_channels, 2 * features, (self.rows, kernel))
        self.h = nn.Conv2d(in_channels, 2 * features, (1, self.cols))
        self.v_to_h = nn.Conv2d(2 * features, 2 * features, 1)
        self.h_out = nn.Conv2d(features, features, 1)

    def vertical(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(next vertical input, its contribution to the horizontal stack at the same positions)."""
        a = self.v(F.pad(v, (self.k // 2, self.k // 2, self.rows - 1, 0)))  # rows <= r
        down = F.pad(a, (0, 0, 1, 0))[:, :, :-1]  # rows < r
        return _gate(a), self.v_to_h(down)

    def horizontal(self, h: torch.Tensor, from_v: torch.Tensor) -> torch.Tensor:
        if self.first:  # columns < c: shift right by one
            x = F.pad(h, (self.cols, 0, 0, 0))[..., :-1]
        else:  # columns <= c (h at c already depends only on earlier pixels)
            x = F.pad(h, (self.cols - 1, 0, 0, 0))
        out = self.h_out(_gate(self.h(x) + from_v))
        return out if self.first else h + out


@register_model("pixelcnn-gated", config=GatedPixelCNNConfig, objectives=("nll",), family="autoregressive",
                summary="Gated PixelCNN: vertical + horizontal stacks, gated units, no blind spot")
class GatedPixelCNN(AutoregressiveModel):
    max_channels = 1
    images_only = True

    def __init__(self, config: GatedPixelCNNConfig):
        super().__init__(config)
        for name in ("features", "layers", "output_features"):
            if getattr(config, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(config, name)}")
        f = config.features
        self.stack = nn.ModuleList(
            [GatedLayer(config.shape[0], f, config.first_kernel, first=True)]
            + [GatedLayer(f, f, config.kernel, first=False) for _ in range(config.layers - 1)])
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(f, config.output_features, 1), nn.ReLU(),
                                  nn.Conv2d(config.output_features, self.out_per_pixel, 1))

    def _vertical(self, u: torch.Tensor) -> list[torch.Tensor]:
        terms, v = [], u
        for layer in self.stack:
            v, from_v = layer.vertical(v)
            terms.append(from_v)
        return terms

    def _horizontal(self, u: torch.Tensor, terms: list[torch.Tensor]) -> torch.Tensor:
        h = u
        for layer, from_v in zip(self.stack, terms):
            h = layer.horizontal(h, from_v)
        out = self.head(h)  # (B, K or 1, H, W)
        return out.unsqueeze(2) if self.categorical else out

    def _logits(self, u: torch.Tensor) -> torch.Tensor:
        return self._horizontal(u, self._vertical(u))

    def _fast_start(self, n, canvas):
        return {"row": -1, "terms": None}

    def _fast_step(self, state, canvas, r, c, ch):
        if state["row"] != r:  # once per row: the vertical stack on the rows so far
            state["row"], state["terms"] = r, [t[:, :, r:r + 1] for t in self._vertical(canvas[:, :, :r + 1])]
        logits = self._horizontal(canvas[:, :, r:r + 1], state["terms"])  # this row only
        return self._pick(logits, self.categorical, 0, c, ch)

"""The masked-stack skeleton shared by PixelCNN and the PixelRNNs, and its incremental sampler.

van den Oord et al. 2016 ("Pixel Recurrent Neural Networks", sections 3.4-3.5) build every model
the same way: a 7x7 mask-A convolution on the image, a stack of layers that only look back in
raster order (residual masked convolutions, Row LSTMs, Diagonal BiLSTMs), then ReLU + 1x1 mask-B
convolutions to the outputs (:class:`MaskedHead`). With C > 1 data channels every masked layer
splits its features into C groups (:mod:`genzoo.nn.masked`), so R, G and B of a pixel are
predicted in that order.

Incremental ("fast") sampling (Ramachandran et al. 2017): every layer exposes ``new_state`` and
``at(h, state, r, c)``, its output at one position from its input there and caches of the earlier
positions. For sub-pixel (r, c, ch) the stack is evaluated at (r, c) only, on the pixel as sampled
so far; features at (r, c) never depend on channels >= ch there, so the caches written on the
last channel's pass are final.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.models.autoregressive._common import AutoregressiveModel
from genzoo.nn.masked import MaskedConv2d


class MaskedHead(nn.ModuleList):
    """ReLU, 1x1 mask-B conv to ``hidden``, ReLU, 1x1 mask-B conv to C x P outputs, reshaped so that
    data channel c's P outputs come from feature group c: (B, P, C, H, W), or (B, C, H, W) for P=1
    when ``squeeze``."""

    def __init__(self, features: int, hidden: int, channels: int, per_channel: int, squeeze: bool):
        super().__init__([MaskedConv2d(features, hidden, 1, "B", data_channels=channels),
                          MaskedConv2d(hidden, channels * per_channel, 1, "B", data_channels=channels)])
        self.channels, self.per_channel, self.squeeze = channels, per_channel, squeeze

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        hidden = F.relu(self[0](F.relu(h)))  # (B, hidden, H, W)
        b, _, height, width = hidden.shape
        if self.squeeze:
            return self[1](hidden).view(b, self.channels, height, width)  # (B, C, H, W)
        # the last 1x1 layer as a matmul over positions, so that the P outputs of a sub-pixel are
        # contiguous: the softmax / mixture over them then runs on the fast, unit-stride axis
        last = self[1]
        out = F.linear(hidden.permute(0, 2, 3, 1), last.masked_weight()[:, :, 0, 0], last.bias)  # (B, H, W, C * P)
        return out.view(b, height, width, self.channels, self.per_channel).permute(0, 4, 3, 1, 2)  # (B, P, C, H, W)

    @torch.no_grad()
    def init_bias(self, logits: torch.Tensor | None) -> None:
        """Start the output bias at per-channel marginal logits (C,) or (C, P) (None: keep it)."""
        if logits is not None:
            self[1].bias.copy_(logits.reshape(-1))

    def pointwise(self, h: torch.Tensor) -> torch.Tensor:
        """One position's features (n, F) -> outputs (n, C) or (n, P, C)."""
        out = self[1].pointwise(F.relu(self[0].pointwise(F.relu(h))))  # (n, C * P)
        out = out.view(h.shape[0], self.channels, self.per_channel)
        return out[:, :, 0] if self.squeeze else out.transpose(1, 2)


def check_features(config: Any, names: tuple[str, ...], per_group: dict[str, int] | None = None) -> None:
    """Positive sizes, and for the names in ``per_group`` at least ``per_group[name]`` features per
    data channel (2 when a residual block halves them), so that every channel group has features."""
    channels = config.shape[0]
    for name in names:
        value = getattr(config, name)
        if value < 1:
            raise ValueError(f"{name} must be positive, got {value}")
        need = channels * (per_group or {}).get(name, 0)
        if value < need:
            raise ValueError(f"{name}={value} is too small for {channels} data channels (need >= {need}: "
                             "every channel group needs features)")


class MaskedStackModel(AutoregressiveModel):
    """input_conv (mask A) -> ``self.stack()`` layers -> :class:`MaskedHead`. Subclasses build the
    modules in ``__init__`` (``build_input``, their layers, ``build_head``: the order of the
    parameters) and return the layer list from ``stack``."""

    input_conv: MaskedConv2d
    head: MaskedHead

    def build_input(self, features: int, first_kernel: int) -> None:
        c = self.config.shape[0]
        self.input_conv = MaskedConv2d(c, features, first_kernel, "A", data_channels=c)

    def build_head(self, features: int, output_features: int) -> None:
        c = self.config.shape[0]
        self.head = MaskedHead(features, output_features, c, self.out_per_pixel, not self.vector_output)

    def stack(self) -> nn.ModuleList:
        raise NotImplementedError

    def init_from_data(self, x: torch.Tensor) -> None:
        """The output bias starts at each channel's marginal over the training set (categorical,
        Bernoulli): the net starts near a position-independent fit rather than uniform."""
        self.head.init_bias(self.channel_marginal_logits(x))

    def _logits(self, u: torch.Tensor) -> torch.Tensor:
        h = self.input_conv(u)  # (B, F, H, W)
        for layer in self.stack():
            h = layer(h)
        return self.head(h)

    def _fast_start(self, n: int, canvas: torch.Tensor) -> Any:
        _, height, width = self.config.shape
        return {"input": self.input_conv.new_cache(n, height, width, canvas),
                "layers": [layer.new_state(n, height, width, canvas) for layer in self.stack()]}

    def _fast_step(self, state: Any, canvas: torch.Tensor, r: int, c: int, ch: int) -> torch.Tensor:
        channels, _, width = self.config.shape
        if ch == 0 and (r or c):  # the previous pixel, now complete, enters the input cache
            pr, pc = (r, c - 1) if c else (r - 1, width - 1)
            self.input_conv.write(state["input"], canvas[:, :, pr, pc], pr, pc)
        if channels > 1:  # this pixel's channels sampled so far (mask A hides the rest)
            self.input_conv.write(state["input"], canvas[:, :, r, c], r, c)
        h = self.input_conv.at(state["input"], r, c)  # (n, F)
        for layer, st in zip(self.stack(), state["layers"]):
            h = layer.at(h, st, r, c)
        out = self.head.pointwise(h)  # (n, C) or (n, P, C)
        return out[..., ch]

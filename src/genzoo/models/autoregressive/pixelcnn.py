"""PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", section 3.4 and
table 4 for MNIST): a 7x7 mask-A convolution, residual blocks (figure 5: ReLU, 1x1 conv to h,
ReLU, 3x3 mask-B conv, ReLU, 1x1 conv back to 2h, plus the input), then ReLU + 1x1 mask-B
convolutions to the logits. Every layer only sees earlier pixels (raster order), so all
conditionals come out of one pass. One data channel only (the RGB channel masks are not
implemented); the blind spot of the plain masked stack is kept (no gated vertical/horizontal
stacks).

Fast sampling evaluates each layer only at the pixel being generated, from per-layer caches of
the layer inputs (Ramachandran et al. 2017): a layer's output at (r, c) depends only on its
input at positions up to (r, c), which were computed, final, in earlier steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import field
from genzoo.models.autoregressive._common import AutoregressiveConfig, AutoregressiveModel
from genzoo.nn.masked import MaskedConv2d
from genzoo.registry import register_model


@dataclass(frozen=True)
class PixelCNNConfig(AutoregressiveConfig):
    features: int = field(64, help="feature maps 2h between blocks (table 4 uses 2h; 16 is a CPU-sized net)")
    residual_blocks: int = field(7, help="residual blocks with a 3x3 mask-B convolution")
    first_kernel: int = field(7, help="kernel of the first (mask-A) convolution")
    kernel: int = field(3, help="kernel of the mask-B convolution in each residual block")
    output_features: int = field(64, help="features of the 1x1 mask-B output layers")


class ResidualBlock(nn.Module):
    """Figure 5 of van den Oord et al. 2016: x + 1x1(ReLU(maskB kxk(ReLU(1x1(ReLU(x))))))."""

    def __init__(self, features: int, kernel: int):
        super().__init__()
        inner = max(features // 2, 1)
        self.reduce = MaskedConv2d(features, inner, 1, "B")
        self.conv = MaskedConv2d(inner, inner, kernel, "B")
        self.expand = MaskedConv2d(inner, features, 1, "B")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = F.relu(self.reduce(F.relu(x)))
        return x + self.expand(F.relu(self.conv(t)))

    def at(self, x: torch.Tensor, cache: torch.Tensor, r: int, c: int) -> torch.Tensor:
        """Output at (r, c) from the block input there, x (B, F); ``cache`` holds ``conv``'s input."""
        self.conv.write(cache, F.relu(self.reduce.pointwise(F.relu(x))), r, c)
        return x + self.expand.pointwise(F.relu(self.conv.at(cache, r, c)))


@register_model("pixelcnn", config=PixelCNNConfig, objectives=("nll",), family="autoregressive",
                summary="PixelCNN: masked convolutions (mask A then residual mask-B blocks)")
class PixelCNN(AutoregressiveModel):
    max_channels = 1
    images_only = True

    def __init__(self, config: PixelCNNConfig):
        super().__init__(config)
        for name in ("features", "output_features", "first_kernel", "kernel"):
            if getattr(config, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(config, name)}")
        f = config.features
        self.input_conv = MaskedConv2d(config.shape[0], f, config.first_kernel, "A")
        self.blocks = nn.ModuleList(ResidualBlock(f, config.kernel) for _ in range(config.residual_blocks))
        self.head = nn.ModuleList([MaskedConv2d(f, config.output_features, 1, "B"),
                                   MaskedConv2d(config.output_features, self.out_per_pixel, 1, "B")])

    def _logits(self, u: torch.Tensor) -> torch.Tensor:
        h = self.input_conv(u)  # (B, F, H, W)
        for block in self.blocks:
            h = block(h)
        out = self.head[1](F.relu(self.head[0](F.relu(h))))  # (B, K or 1, H, W)
        return out.unsqueeze(2) if self.categorical else out  # (B, K, 1, H, W) or (B, 1, H, W)

    def _fast_start(self, n, canvas):
        _, h, w = self.config.shape
        return {"input": self.input_conv.new_cache(n, h, w, canvas),
                "blocks": [b.conv.new_cache(n, h, w, canvas) for b in self.blocks]}

    def _fast_step(self, state, canvas, r, c, ch):
        if r or c:  # the pixel sampled last step enters the input cache
            pr, pc = (r, c - 1) if c else (r - 1, self.config.shape[2] - 1)
            self.input_conv.write(state["input"], canvas[:, :, pr, pc], pr, pc)
        h = self.input_conv.at(state["input"], r, c)  # (n, F)
        for block, cache in zip(self.blocks, state["blocks"]):
            h = block.at(h, cache, r, c)
        out = self.head[1].pointwise(F.relu(self.head[0].pointwise(F.relu(h))))  # (n, K or 1)
        return out if self.categorical else out[:, 0]

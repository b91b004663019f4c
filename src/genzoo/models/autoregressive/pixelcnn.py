"""PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", section 3.4 and
table 4 for MNIST): a 7x7 mask-A convolution, residual blocks (figure 5: ReLU, 1x1 conv to h,
ReLU, 3x3 mask-B conv, ReLU, 1x1 conv back to 2h, plus the input), then ReLU + 1x1 mask-B
convolutions to the logits. Every layer only sees earlier pixels (raster order), so all
conditionals come out of one pass. RGB: every masked convolution splits its features into
channel groups (section 3.4: R from earlier pixels, G also from R, B also from R and G). The blind
spot of the plain masked stack is kept (no gated vertical/horizontal stacks).

Fast sampling evaluates each layer only at the pixel being generated, from per-layer caches of
the layer inputs (Ramachandran et al. 2017; :mod:`~genzoo.models.autoregressive._stack`): a layer's
output at (r, c) depends only on its input at positions up to (r, c).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import field
from genzoo.models.autoregressive._common import AutoregressiveConfig
from genzoo.models.autoregressive._stack import MaskedStackModel, check_features
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

    def __init__(self, features: int, kernel: int, data_channels: int = 1):
        super().__init__()
        inner = max(features // 2, 1)
        g = {"data_channels": data_channels}
        self.reduce = MaskedConv2d(features, inner, 1, "B", **g)
        self.conv = MaskedConv2d(inner, inner, kernel, "B", **g)
        self.expand = MaskedConv2d(inner, features, 1, "B", **g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = F.relu(self.reduce(F.relu(x)))
        return x + self.expand(F.relu(self.conv(t)))

    def new_state(self, n: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
        return self.conv.new_cache(n, height, width, like)

    def at(self, x: torch.Tensor, cache: torch.Tensor, r: int, c: int) -> torch.Tensor:
        """Output at (r, c) from the block input there, x (B, F); ``cache`` holds ``conv``'s input."""
        self.conv.write(cache, F.relu(self.reduce.pointwise(F.relu(x))), r, c)
        return x + self.expand.pointwise(F.relu(self.conv.at(cache, r, c)))


@register_model("pixelcnn", config=PixelCNNConfig, objectives=("nll",), family="autoregressive",
                summary="PixelCNN: masked convolutions (mask A then residual mask-B blocks)")
class PixelCNN(MaskedStackModel):
    images_only = True

    def __init__(self, config: PixelCNNConfig):
        super().__init__(config)
        check_features(config, ("features", "output_features", "first_kernel", "kernel"),
                       {"features": 2, "output_features": 1})
        f = config.features
        self.build_input(f, config.first_kernel)
        self.blocks = nn.ModuleList(ResidualBlock(f, config.kernel, config.shape[0])
                                    for _ in range(config.residual_blocks))
        self.build_head(f, config.output_features)

    def stack(self) -> nn.ModuleList:
        return self.blocks

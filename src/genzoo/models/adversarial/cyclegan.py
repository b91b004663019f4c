"""CycleGAN (Zhu et al., 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks").

Two generators, G: A -> B and F: B -> A (``g_ab``, ``g_ba``), and two PatchGAN discriminators,
D_B on domain B and D_A on domain A. Generators follow the paper's ResNet design (Sec. 4,
Appendix 7.2) scaled down: 7x7 conv, one stride-2 downsampling, ``res_blocks`` residual blocks,
one transposed-conv upsampling, 7x7 conv, tanh, with instance norm. Discriminators are 70x70
PatchGAN-style: strided 4x4 convs giving a grid of logits.

Domain A images arrive as ``batch["x"]``, domain B as ``batch["x_b"]`` (unpaired; the trainer
draws them when the CLI is given ``--data-b NAME``). ``translate(x, direction="a2b")`` maps images;
``sample`` is not defined (CycleGAN translates, it does not sample from noise). Trained by the
``cyclegan`` objective (LSGAN + cycle + identity losses with an image pool).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genzoo.config import field
from genzoo.models.adversarial._nets import GAN_TRAINING, ImplicitModel
from genzoo.models.base import ModelConfig
from genzoo.registry import register_model


@dataclass(frozen=True)
class CycleGANConfig(ModelConfig):
    shape_b: tuple[int, ...] | None = field(None, help="shape of domain B images (C, H, W); None: same as shape")
    width: int = field(32, help="channels of the first generator / discriminator layer")
    res_blocks: int = field(3, help="residual blocks in each generator (the paper: 6 for 128x128)")
    residual: bool = field(False, help="generators change their input instead of redrawing it: G(x) = "
                                       "tanh(atanh(0.99 x) + h(x)) with h's last layer zero at the start, so "
                                       "training starts from the identity map (same channels only)")
    data_range: str = field("01", help="range of the data: [0,1] (mapped to [-1,1] inside) or [-1,1]",
                            choices=("01", "pm1"))

    def __post_init__(self):
        b = self.shape_b or self.shape
        if len(self.shape) != 3 or len(b) != 3 or tuple(self.shape[1:]) != tuple(b[1:]):
            raise ValueError(f"CycleGAN needs (C, H, W) domains of the same size, got {self.shape} and {b}")
        if self.shape[1] % 2 or self.shape[2] % 2:
            raise ValueError(f"CycleGAN needs even image sizes, got {self.shape}")
        if self.residual and self.shape[0] != b[0]:
            raise ValueError(f"residual generators need domains with the same channels, got {self.shape} and {b}")


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch))

    def forward(self, x):
        return x + self.body(x)


def resnet_generator(c_in: int, c_out: int, width: int, blocks: int, residual: bool = False) -> nn.Module:
    """The paper's ResNet generator (tanh output), or with ``residual`` a :class:`ResidualGenerator`
    around the same body."""
    w2 = 2 * width
    net = nn.Sequential(
        nn.ReflectionPad2d(3), nn.Conv2d(c_in, width, 7), nn.InstanceNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, w2, 3, stride=2, padding=1), nn.InstanceNorm2d(w2), nn.ReLU(),  # (B, 2w, H/2, W/2)
        *[ResBlock(w2) for _ in range(blocks)],
        nn.ConvTranspose2d(w2, width, 3, stride=2, padding=1, output_padding=1),  # (B, w, H, W)
        nn.InstanceNorm2d(width), nn.ReLU(),
        nn.ReflectionPad2d(3), nn.Conv2d(width, c_out, 7), nn.Tanh())
    return ResidualGenerator(net[:-1]) if residual else net


class ResidualGenerator(nn.Module):
    """x in [-1, 1] -> tanh(atanh(0.99 x) + h(x)): the body h predicts a change in the pre-tanh
    space (global residual learning, as in VDSR, Kim et al. 2016, and SimGAN's refiner,
    Shrivastava et al. 2017). h's last convolution starts at zero, so an untrained generator is
    the identity up to the 0.99 shrink that keeps atanh finite on white (+1) pixels."""

    shrink = 0.99

    def __init__(self, body: nn.Sequential):
        super().__init__()
        self.body = body
        nn.init.zeros_(body[-1].weight)
        nn.init.zeros_(body[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(torch.atanh(self.shrink * x) + self.body(x))  # (B, C, H, W)


def patch_discriminator(c_in: int, width: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.InstanceNorm2d(2 * width), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * width, 1, 4, stride=1, padding=1))  # (B, 1, h, w) patch logits


@register_model("cyclegan", config=CycleGANConfig, objectives=("cyclegan",), family="adversarial",
                train_defaults=GAN_TRAINING,
                summary="CycleGAN (Zhu 2017): unpaired A<->B translation, LSGAN + cycle + identity losses")
class CycleGAN(ImplicitModel):
    can_sample = False

    def __init__(self, config: CycleGANConfig):
        super().__init__(config)
        c_a, c_b = config.shape[0], (config.shape_b or config.shape)[0]
        # registered once each (safetensors refuses aliased weights): generator = [G, F], discriminator = [D_A, D_B]
        self.generator = nn.ModuleList([
            resnet_generator(c_a, c_b, config.width, config.res_blocks, config.residual),
            resnet_generator(c_b, c_a, config.width, config.res_blocks, config.residual)])
        self.discriminator = nn.ModuleList([patch_discriminator(c_a, config.width),
                                            patch_discriminator(c_b, config.width)])

    @property
    def g_ab(self) -> nn.Module:
        """G: A -> B."""
        return self.generator[0]

    @property
    def g_ba(self) -> nn.Module:
        """F: B -> A."""
        return self.generator[1]

    @property
    def d_a(self) -> nn.Module:
        return self.discriminator[0]

    @property
    def d_b(self) -> nn.Module:
        return self.discriminator[1]

    @property
    def same_channels(self) -> bool:
        return self.config.shape[0] == (self.config.shape_b or self.config.shape)[0]

    def translate(self, x: torch.Tensor, direction: str = "a2b") -> torch.Tensor:
        """Data-space images of one domain -> data-space images of the other."""
        if direction == "a2b":
            net = self.g_ab
        elif direction == "b2a":
            net = self.g_ba
        else:
            raise ValueError(f"direction must be 'a2b' or 'b2a', got {direction!r}")
        return self.to_data(net(self.from_data(x)))

    def discriminate(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        """Patch logits (B, 1, h, w) of data-space x being a real image of ``domain`` ('a' or 'b')."""
        return (self.d_a if domain == "a" else self.d_b)(self.from_data(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.translate(x, "a2b")

    def sample(self, n: int, *, generator=None, condition=None):
        raise NotImplementedError("CycleGAN translates images rather than sampling them: use "
                                  "model.translate(x, direction) or `genzoo translate RUN --input DIR --out DIR`")

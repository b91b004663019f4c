"""Generative adversarial network (Goodfellow et al., 2014, "Generative Adversarial Nets").

G maps noise z ~ N(0, I) to images; D maps images to a logit of "real". The value function
(Eq. 1) V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))] is optimised by the ``gan`` objective
(:mod:`genzoo.objectives.adversarial`), which also offers the non-saturating generator loss
-log D(G(z)) the paper recommends in practice. The same class serves DCGAN (``arch="conv"``,
:mod:`.dcgan`) and, with ``num_classes > 0``, the conditional GAN (:mod:`.cgan`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genzoo.config import field
from genzoo.models.adversarial._nets import (
    GAN_TRAINING,
    AdversarialConfig,
    Discriminator,
    ImplicitModel,
    as_labels,
    build_generator,
    ema_field,
    randn,
)
from genzoo.models.base import check_count
from genzoo.registry import register_model


@dataclass(frozen=True)
class GANConfig(AdversarialConfig):
    ema: bool = ema_field()
    arch: str = field("mlp", help="network type of G and D", choices=("mlp", "conv"))
    g_hidden: tuple[int, ...] = field((256, 512), help="MLP generator hidden sizes")
    d_hidden: tuple[int, ...] = field((512, 256), help="MLP discriminator hidden sizes")
    width: int = field(64, help="conv nets: channels of the first D layer / last G layer")


class GAN(ImplicitModel):
    """Unconditional GAN; subclasses add a condition by overriding :meth:`condition`."""

    #: number of label classes the model is conditioned on (0: unconditional)
    num_classes: int = 0

    def __init__(self, config: GANConfig):
        super().__init__(config)
        cg, cd = self.condition_dims()
        self.generator = build_generator(config.arch, config.noise_dim + cg, config.shape,
                                         config.g_hidden, config.width)
        self.discriminator = Discriminator(config.shape, arch=config.arch, hidden=config.d_hidden,
                                           width=config.width, cond_dim=cd,
                                           spectral_norm=config.spectral_norm)
        if config.ema:
            self.init_ema()

    def condition_dims(self) -> tuple[int, int]:
        """Sizes of the condition vectors fed to G and D."""
        return 0, 0

    def g_condition(self, y: torch.Tensor | None) -> torch.Tensor | None:
        return None

    def d_condition(self, y: torch.Tensor | None) -> torch.Tensor | None:
        return None

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return randn((n, self.config.noise_dim), generator, self.device)  # (n, noise_dim)

    def generator_input(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """[z, embedding of y]: (B, noise_dim + cond)."""
        c = self.g_condition(y)
        return z if c is None else torch.cat([z, c], dim=1)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """G(z [, y]) in data space, (B, C, H, W)."""
        return self.decode(self.generator_input(z, y))

    def draw_latent(self, n: int, *, generator: torch.Generator | None = None, condition=None) -> torch.Tensor:
        """The generator input [z, embedding(label)] for z ~ N(0, I); conditional models take
        ``condition`` = a label (int), n labels, or None for uniformly random labels."""
        n = check_count(n)
        y = None
        if self.num_classes:
            y = as_labels(condition, n, self.num_classes, generator, self.device)
        else:
            self.check_condition(condition)
        return self.generator_input(self.noise(n, generator), y)

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Logit of "x is real", (B,), for data-space x."""
        return self.discriminator(self.from_data(x), self.d_condition(y))

    forward = discriminate


register_model("gan", config=GANConfig, objectives=("gan",), family="adversarial", train_defaults=GAN_TRAINING,
               summary="GAN (Goodfellow 2014): MLP generator and discriminator")(GAN)


class LabelEmbedding(nn.Module):
    """Label -> learned vector (used by the conditional models)."""

    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, dim)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.embed(y.long())


__all__ = ["GAN", "GANConfig", "LabelEmbedding", "as_labels"]

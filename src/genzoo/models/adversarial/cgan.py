"""Conditional GAN (Mirza & Osindero, 2014, "Conditional Generative Adversarial Nets").

A learned label embedding is fed to both nets: concatenated with z in G, and with the input
(MLP) or, replicated spatially, with the last conv feature map (``arch="conv"``, then a 1x1
conv) in D; the ``gan`` objective then optimises
V(D, G) = E[log D(x|y)] + E[log(1 - D(G(z|y)|y))] (Eq. 2), drawing the fakes' labels from the
batch. ``sample(n, condition=7)`` draws sevens; ``condition=None`` draws uniformly random labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.config import field
from genzoo.models.adversarial._nets import GAN_TRAINING
from genzoo.models.adversarial.gan import GAN, GANConfig, LabelEmbedding
from genzoo.registry import register_model


@dataclass(frozen=True)
class CGANConfig(GANConfig):
    num_classes: int = field(10, help="number of label classes")
    label_dim: int = field(10, help="size of the label embedding fed to G and D")

    def __post_init__(self):
        super().__post_init__()
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")


@register_model("cgan", config=CGANConfig, objectives=("gan",), family="adversarial",
                train_defaults=GAN_TRAINING,
                summary="conditional GAN (Mirza 2014): label embedding fed to G and D")
class ConditionalGAN(GAN):
    condition_type = "label"

    def __init__(self, config: CGANConfig):
        super().__init__(config)
        self.num_classes = config.num_classes
        self.g_embed = LabelEmbedding(config.num_classes, config.label_dim)
        self.d_embed = LabelEmbedding(config.num_classes, config.label_dim)

    def condition_dims(self) -> tuple[int, int]:
        return self.config.label_dim, self.config.label_dim

    def _need(self, y):
        if y is None:
            raise ValueError("the conditional GAN needs labels: the data must provide batch['y']")
        return y

    def g_condition(self, y):
        return self.g_embed(self._need(y))  # (B, label_dim)

    def d_condition(self, y):
        return self.d_embed(self._need(y))  # (B, label_dim)

    def generator_parameters(self):
        return [*self.generator.parameters(), *self.g_embed.parameters()]

    def discriminator_parameters(self):
        return [*self.discriminator.parameters(), *self.d_embed.parameters()]

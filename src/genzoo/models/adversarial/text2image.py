"""Text-to-image GAN (Reed et al., 2016, "Generative Adversarial Text to Image Synthesis"), GAN-CLS.

Captions are written from each digit's label and measured attributes (:mod:`.captions`), e.g.
"a thick, slanted seven". A small text encoder trained here (word embeddings over the closed
vocabulary, averaged over the words, then a linear layer and LeakyReLU; no downloads) gives
phi(t); the generator maps [z, phi(t)] to an image (DCGAN generator, Sec. 3.1) and the
discriminator replicates phi(t) over its last conv feature map, depth-concatenates and applies a
1x1 conv before the score (Sec. 3.1). The ``gan-cls``
objective trains D to tell real/matching from real/mismatching and fake/matching (Algorithm 1);
the text encoder is trained with D.

``sample(n, condition="a thin two")`` draws n images for one caption (or a list of n captions);
``condition=None`` draws random captions. Unknown words raise ValueError listing the vocabulary.
The caption thresholds default to the 1/3 and 2/3 quantiles of the attributes on mnist5k's
training split (thickness 1.75 / 2.15 px, |slant| 0.13, slant 0.26, box area 0.35 / 0.41; the box
areas are discrete, so these sit between their values).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genzoo.config import field
from genzoo.data.transforms import to_unit
from genzoo.models.adversarial import captions
from genzoo.models.adversarial._nets import (
    GAN_TRAINING,
    AdversarialConfig,
    Discriminator,
    ImplicitModel,
    build_generator,
    check_count,
    randn,
)
from genzoo.registry import register_model


@dataclass(frozen=True)
class Text2ImageConfig(AdversarialConfig):
    arch: str = field("conv", help="network type of G and D", choices=("mlp", "conv"))
    g_hidden: tuple[int, ...] = field((256, 512), help="MLP generator hidden sizes")
    d_hidden: tuple[int, ...] = field((512, 256), help="MLP discriminator hidden sizes")
    width: int = field(64, help="conv nets: channels of the first D layer / last G layer")
    word_dim: int = field(32, help="size of the word embeddings")
    text_dim: int = field(32, help="size of the text embedding phi(t) fed to G and D")
    thin_below: float = field(1.75, help="caption 'thin' below this stroke width (pixels)")
    thick_above: float = field(2.15, help="caption 'thick' above this stroke width (pixels)")
    upright_below: float = field(0.13, help="caption 'upright' when |slant| is below this")
    slanted_above: float = field(0.26, help="caption 'slanted' when slant is above this")
    small_below: float = field(0.35, help="caption 'small' below this bounding-box area fraction")
    large_above: float = field(0.41, help="caption 'large' above this bounding-box area fraction")

    @property
    def thresholds(self) -> captions.Thresholds:
        return captions.Thresholds(self.thin_below, self.thick_above, self.upright_below,
                                   self.slanted_above, self.small_below, self.large_above)


class TextEncoder(nn.Module):
    """Token ids (B, L) -> phi(t) (B, text_dim): mean of word embeddings (padding ignored), linear."""

    def __init__(self, vocab: int, word_dim: int, text_dim: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, word_dim, padding_idx=0)
        self.proj = nn.Sequential(nn.Linear(word_dim, text_dim), nn.LeakyReLU(0.2))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = (tokens != 0).unsqueeze(-1).float()  # (B, L, 1)
        e = self.embed(tokens)  # (B, L, word_dim)
        mean = (e * mask).sum(1) / mask.sum(1).clamp(min=1)  # (B, word_dim)
        return self.proj(mean)


@register_model("text2image", config=Text2ImageConfig, objectives=("gan-cls",), family="adversarial",
                train_defaults=GAN_TRAINING,
                summary="text-to-image GAN-CLS (Reed 2016) on digit captions such as 'a thick, slanted seven'")
class Text2Image(ImplicitModel):
    num_classes = len(captions.DIGITS)
    condition_type = "text"

    def __init__(self, config: Text2ImageConfig):
        super().__init__(config)
        c = config
        self.text_encoder = TextEncoder(len(captions.VOCAB), c.word_dim, c.text_dim)
        self.generator = build_generator(c.arch, c.noise_dim + c.text_dim, c.shape, c.g_hidden, c.width)
        self.discriminator = Discriminator(c.shape, arch=c.arch, hidden=c.d_hidden, width=c.width,
                                           cond_dim=c.text_dim, spectral_norm=c.spectral_norm)

    def discriminator_parameters(self):
        return [*self.discriminator.parameters(), *self.text_encoder.parameters()]

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return captions.VOCAB[1:]

    def describe(self, x: torch.Tensor, y: torch.Tensor) -> list[str]:
        """Captions of data-space images x with labels y."""
        return captions.describe(self._unit(x), y, self.config.thresholds)

    def _unit(self, x: torch.Tensor) -> torch.Tensor:
        return to_unit(x, self.config.data_range)

    def captions_for(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Token ids (B, L) of the captions of a batch (needs the labels)."""
        if y is None:
            raise ValueError("text2image writes captions from the labels: the data must provide batch['y']")
        return captions.caption_tokens(self._unit(x), y, self.config.thresholds)

    def embed_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.text_encoder(tokens.to(self.device))  # (B, text_dim)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return randn((n, self.config.noise_dim), generator, self.device)

    def generate(self, z: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.decode(torch.cat([z, h], dim=1))  # (B, C, H, W)

    def discriminate(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.discriminator(self.from_data(x), h)  # (B,)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.discriminate(x, h)

    def draw_latent(self, n: int, *, generator: torch.Generator | None = None, condition=None,
                    noise: torch.Tensor | None = None) -> torch.Tensor:
        """The generator input [z, phi(t)] for caption ``condition`` (one string, a list of n
        strings, or None for random captions); ``noise`` (n, noise_dim) fixes z."""
        n = check_count(n)
        if condition is None:
            tokens = captions.random_tokens(n, generator)
        else:
            tokens = captions.tokenize(condition)
            if tokens.shape[0] == 1:
                tokens = tokens.expand(n, -1)
            elif tokens.shape[0] != n:
                raise ValueError(f"the condition must be one caption or {n} captions, got {tokens.shape[0]}")
        z = self.noise(n, generator) if noise is None else noise.to(self.device)
        return torch.cat([z, self.embed_text(tokens)], dim=1)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition=None,
               noise: torch.Tensor | None = None) -> torch.Tensor:
        """n images for caption(s) ``condition`` (None: random captions); ``noise`` fixes z."""
        return self.decode(self.draw_latent(n, generator=generator, condition=condition, noise=noise))

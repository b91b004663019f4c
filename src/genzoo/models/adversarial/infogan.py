"""InfoGAN (Chen et al., 2016, "InfoGAN: Interpretable Representation Learning by Information
Maximizing Generative Adversarial Nets").

G's input is [z, c]: noise z ~ N(0, I), one K-way categorical code (K = 10) and continuous codes
c_j ~ U(-1, 1) (2 of them, as in the paper's MNIST experiment, Sec. 7.1). The auxiliary
distribution Q(c|x) is a head on the discriminator's body (shared conv layers, Sec. 6): it
outputs the categorical logits and the means of unit-variance Gaussians for the continuous codes.
The ``infogan`` objective adds lambda * L_I (Eq. 5) to both players' losses. The conv nets default
to the paper's MNIST ones (Appendix C): D is two stride-2 convs (64, 128) and a fully connected
1024-unit layer shared with Q; G mirrors it (FC 1024, FC 7x7x128, two up-convs); Adam with lr 2e-4
for D and 1e-3 for G, batch 100. Without the fully connected layers (``fc=0``) the categorical
code learnt a writing style instead of the digit class on mnist5k (73.6% error, against 8.6%
with them after 80 epochs; BENCHMARKS.md).

``sample(n, vary="c1")`` returns a 10 x k grid, row-major: row i has categorical value i,
columns sweep c1 from -2 to 2 (k = max(2, n // 10) columns; beyond the training range [-1, 1],
as in the paper's Fig. 2), with z and the other continuous codes fixed. ``vary="cat"`` returns
k rows (fixed z and c per row) whose 10 columns sweep the categorical value.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import field
from genzoo.models.adversarial._nets import (
    GAN_TRAINING,
    AdversarialConfig,
    Discriminator,
    ImplicitModel,
    build_generator,
    rand,
    randint,
    randn,
)
from genzoo.registry import register_model


@dataclass(frozen=True)
class InfoGANConfig(AdversarialConfig):
    noise_dim: int = field(62, help="size of the incompressible noise z (62 in the paper's MNIST model)")
    arch: str = field("conv", help="network type of G and D", choices=("mlp", "conv"))
    g_hidden: tuple[int, ...] = field((256, 512), help="MLP generator hidden sizes")
    d_hidden: tuple[int, ...] = field((512, 256), help="MLP discriminator hidden sizes")
    width: int = field(64, help="conv nets: channels of the first D layer / last G layer")
    fc: int = field(1024, help="conv nets: size of a fully connected layer after D's convs (shared with Q) "
                               "and before G's projection, as in the paper's MNIST nets (0: none)")
    categories: int = field(10, help="number of values of the categorical code")
    continuous: int = field(2, help="number of continuous U(-1, 1) codes")
    q_hidden: int = field(128, help="hidden units of the Q head")

    def __post_init__(self):
        super().__post_init__()
        if self.categories < 2:
            raise ValueError(f"categories must be >= 2, got {self.categories}")
        if self.continuous < 0:
            raise ValueError(f"continuous must be >= 0, got {self.continuous}")


@register_model("infogan", config=InfoGANConfig, objectives=("infogan",), family="adversarial",
                train_defaults={**GAN_TRAINING, "generator_lr": 1e-3, "batch_size": 100},
                summary="InfoGAN (Chen 2016): categorical + continuous codes, Q head on D")
class InfoGAN(ImplicitModel):
    num_classes = 0

    def __init__(self, config: InfoGANConfig):
        super().__init__(config)
        c = config
        self.code_dim = c.categories + c.continuous
        fc = c.fc if c.arch == "conv" else 0  # the MLP nets have their own hidden sizes
        self.generator = build_generator(c.arch, c.noise_dim + self.code_dim, c.shape, c.g_hidden, c.width, fc)
        self.discriminator = Discriminator(c.shape, arch=c.arch, hidden=c.d_hidden, width=c.width,
                                           spectral_norm=c.spectral_norm, fc=fc)
        self.q_head = nn.Sequential(nn.Linear(self.discriminator.feature_dim, c.q_hidden), nn.LeakyReLU(0.2),
                                    nn.Linear(c.q_hidden, self.code_dim))

    def discriminator_parameters(self):
        return [*self.discriminator.parameters(), *self.q_head.parameters()]

    def latents(self, n: int, generator: torch.Generator | None = None):
        """z (n, noise_dim), categorical code (n,), continuous codes (n, continuous) in U(-1, 1)."""
        c = self.config
        z = randn((n, c.noise_dim), generator, self.device)
        cat = randint(c.categories, (n,), generator, self.device)
        cont = rand((n, c.continuous), generator, self.device) * 2 - 1
        return z, cat, cont

    def generate(self, z: torch.Tensor, cat: torch.Tensor, cont: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(cat.long(), self.config.categories).to(z.dtype)  # (B, K)
        return self.to_data(self.generator(torch.cat([z, onehot, cont.to(z.dtype)], dim=1)))

    def discriminate(self, x: torch.Tensor):
        """(D logit (B,), Q categorical logits (B, K), Q continuous means (B, continuous))."""
        feats = self.discriminator.features(self.from_data(x))  # (B, F)
        q = self.q_head(feats)  # (B, K + continuous)
        k = self.config.categories
        return self.discriminator.head_logits(feats), q[:, :k], q[:, k:]

    def forward(self, x: torch.Tensor):
        return self.discriminate(x)

    @torch.no_grad()
    def infer_codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Q's guess of the codes of data x: (categorical value (B,), continuous means (B, continuous))."""
        _, q_cat, q_mu = self.discriminate(x)
        return q_cat.argmax(1), q_mu

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, vary: str | None = None,
               ) -> torch.Tensor:
        c = self.config
        if vary is None:
            return self.generate(*self.latents(n, generator))
        names = ["cat"] + [f"c{j + 1}" for j in range(c.continuous)]
        if vary not in names:
            raise ValueError(f"vary must be one of {names}, got {vary!r}")
        k = max(2, n // c.categories)
        K = c.categories
        if vary == "cat":
            z, _, cont = self.latents(k, generator)  # one (z, c) per row
            z = z.repeat_interleave(K, 0)  # (k*K, noise_dim)
            cont = cont.repeat_interleave(K, 0)
            cat = torch.arange(K, device=self.device).repeat(k)  # (k*K,)
            return self.generate(z, cat, cont)
        j = int(vary[1:]) - 1
        z, _, _ = self.latents(1, generator)
        z = z.expand(K * k, -1)  # (K*k, noise_dim): one z for the whole grid
        cat = torch.arange(K, device=self.device).repeat_interleave(k)  # row i: value i
        cont = torch.zeros(K * k, c.continuous, device=self.device)
        cont[:, j] = torch.linspace(-2, 2, k, device=self.device).repeat(K)
        return self.generate(z, cat, cont)

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

``sample(n, vary="c1")`` returns exactly n images laid out row-major in rows of
:meth:`InfoGAN.vary_columns` (n, vary) = k columns, k = max(2, ceil(n / 10)): row r has
categorical value r mod 10 and its columns sweep c1 from -2 to 2 (beyond the training range
[-1, 1], as in the paper's Fig. 2), with z and the other continuous codes fixed (n = 10 k gives the
paper's full 10 x k grid). ``vary="cat"``: rows of 10 columns sweeping the categorical value, each
row with its own z and continuous codes. A last partial row is cut at n.
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
    check_count,
    ema_field,
    rand,
    randint,
    randn,
)
from genzoo.registry import register_model


@dataclass(frozen=True)
class InfoGANConfig(AdversarialConfig):
    ema: bool = ema_field()
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
        if c.ema:
            self.init_ema()

    def discriminator_parameters(self):
        return [*self.discriminator.parameters(), *self.q_head.parameters()]

    def latents(self, n: int, generator: torch.Generator | None = None):
        """z (n, noise_dim), categorical code (n,), continuous codes (n, continuous) in U(-1, 1)."""
        c = self.config
        z = randn((n, c.noise_dim), generator, self.device)
        cat = randint(c.categories, (n,), generator, self.device)
        cont = rand((n, c.continuous), generator, self.device) * 2 - 1
        return z, cat, cont

    def generator_input(self, z: torch.Tensor, cat: torch.Tensor, cont: torch.Tensor) -> torch.Tensor:
        """[z, one-hot(cat), cont]: (B, noise_dim + categories + continuous)."""
        onehot = F.one_hot(cat.long(), self.config.categories).to(z.dtype)  # (B, K)
        return torch.cat([z, onehot, cont.to(z.dtype)], dim=1)

    def generate(self, z: torch.Tensor, cat: torch.Tensor, cont: torch.Tensor) -> torch.Tensor:
        return self.decode(self.generator_input(z, cat, cont))

    def draw_latent(self, n: int, *, generator: torch.Generator | None = None, condition=None) -> torch.Tensor:
        """The generator input [z, one-hot(cat), cont] with every code drawn from its prior."""
        self.check_condition(condition)
        return self.generator_input(*self.latents(check_count(n), generator))

    def vary_columns(self, n: int, vary: str) -> int:
        """Columns of the grid ``sample(n, vary=vary)`` lays out (see the module docstring)."""
        if vary == "cat":
            return self.config.categories
        return max(2, -(-check_count(n) // self.config.categories))

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
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition=None,
               vary: str | None = None) -> torch.Tensor:
        """n samples; ``vary`` lays them out as a code sweep (module docstring). Exactly n rows."""
        c = self.config
        n = check_count(n)
        if vary is None:
            return self.decode(self.draw_latent(n, generator=generator, condition=condition))
        self.check_condition(condition)
        names = ["cat"] + [f"c{j + 1}" for j in range(c.continuous)]
        if vary not in names:
            raise ValueError(f"vary must be one of {names}, got {vary!r}")
        k = self.vary_columns(n, vary)
        rows = -(-n // k)
        slot = torch.arange(n, device=self.device)
        row, col = slot // k, slot % k  # (n,) each
        if vary == "cat":
            z, _, cont = self.latents(rows, generator)  # one (z, c) per row
            return self.generate(z[row], col, cont[row])
        j = int(vary[1:]) - 1
        z, _, _ = self.latents(1, generator)  # one z for the whole grid
        cont = torch.zeros(n, c.continuous, device=self.device)
        cont[:, j] = torch.linspace(-2, 2, k, device=self.device)[col]
        return self.generate(z.expand(n, -1), row % c.categories, cont)

"""Shared parts of the adversarial models: the implicit-model base class, noise helpers and the
generator / discriminator networks (MLP as in Goodfellow et al. 2014, strided convolutions as in
DCGAN, Radford et al. 2015), all conditionable on an extra vector (labels, codes, text).

Data-range convention: generators end in ``tanh`` (values in [-1, 1]). Models whose config says
``data_range="01"`` (the default: genzoo data arrive in [0, 1]) map generator outputs to [0, 1]
with ``(t + 1) / 2`` before returning them and map real images to [-1, 1] inside the
discriminator, so the networks always see [-1, 1]. Pass ``--scale pm1`` to the data and set
``data_range="pm1"`` to skip the mapping.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _sn

from genzoo.config import field
from genzoo.data.transforms import from_unit, to_unit
from genzoo.models.base import GenerativeModel, ModelConfig, check_count

__all__ = ["GAN_TRAINING", "AdversarialConfig", "Discriminator", "ImplicitModel", "as_labels", "build_generator",
           "check_count", "ema_field", "rand", "randint", "randn"]
from genzoo.nn import random as rng

#: the training settings of Radford et al. (2015) that every adversarial model here defaults to
GAN_TRAINING = {"lr": 2e-4, "betas": (0.5, 0.999)}

@dataclass(frozen=True)
class AdversarialConfig(ModelConfig):
    """Fields shared by the adversarial models."""

    data_range: str = field("01", help="range of the data: [0,1] (mapped to the tanh range inside the "
                                       "model) or [-1,1] (use with --scale pm1)", choices=("01", "pm1"))
    noise_dim: int = field(100, help="size of the generator's noise vector z")
    spectral_norm: bool = field(False, help="spectral normalisation on the discriminator's layers "
                                            "(Miyato et al. 2018)")

    def __post_init__(self):
        if self.noise_dim < 1:
            raise ValueError(f"noise_dim must be >= 1, got {self.noise_dim}")


def ema_field():
    """The ``ema`` option of the models that support a generator EMA (:meth:`ImplicitModel.init_ema`)."""
    return field(False, help="keep an exponential moving average of the generator's weights and sample with "
                             "it (Karras et al. 2018; Yazici et al. 2019); the objective's --ema-decay sets the rate")


def randn(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Standard normal noise on ``device``, drawn on the generator's (:mod:`genzoo.nn.random`)."""
    return rng.randn(shape, generator=generator, device=device)


def rand(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    return rng.rand(shape, generator=generator, device=device)


def randint(high: int, shape: tuple[int, ...], generator: torch.Generator | None,
            device: torch.device) -> torch.Tensor:
    return rng.randint(high, shape, generator=generator, device=device)


def as_labels(label, n: int, num_classes: int, generator: torch.Generator | None,
              device: torch.device) -> torch.Tensor:
    """``label`` (None = uniformly random, an int, or a tensor of n ints) -> (n,) long tensor."""
    if label is None:
        return randint(num_classes, (n,), generator, device)
    y = torch.as_tensor(label, device=device).long().reshape(-1)
    if y.numel() == 1:
        y = y.expand(n)
    if y.numel() != n:
        raise ValueError(f"label must be one int or {n} ints, got {y.numel()}")
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise ValueError(f"label must lie in 0..{num_classes - 1}, got {y.tolist()[:10]}")
    return y.clone()


def dcgan_init(module: nn.Module) -> nn.Module:
    """DCGAN initialisation (Radford et al. 2015, Sec. 4): weights ~ N(0, 0.02), batch-norm scales
    ~ N(1, 0.02), biases 0. Applied to every submodule; returns ``module``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


def conv_plan(shape: tuple[int, ...]) -> tuple[int, int]:
    """(start, doublings): the square start size (<= 7) and number of stride-2 steps that reach
    the image size, e.g. 28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4), 8 -> (4, 1)."""
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"the convolutional nets need square (C, H, W) images, got {tuple(shape)}")
    size, k = shape[1], 0
    while size > 7 and size % 2 == 0:
        size //= 2
        k += 1
    if k == 0:
        raise ValueError(f"image size {shape[1]} cannot be reached by stride-2 steps from <= 7 "
                         "(use 28, 32, 64, ...)")
    return size, k


class MLPGenerator(nn.Module):
    """z (B, in_dim) -> image (B, C, H, W) in [-1, 1]: ReLU MLP, tanh output (Goodfellow 2014)."""

    def __init__(self, in_dim: int, shape: tuple[int, ...], hidden: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)
        layers: list[nn.Module] = []
        d = in_dim
        for h in hidden:
            layers += [nn.Linear(d, h), nn.BatchNorm1d(h), nn.ReLU()]
            d = h
        layers += [nn.Linear(d, math.prod(shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.shape)


class ConvGenerator(nn.Module):
    """DCGAN generator: project z to (C0, s, s), then stride-2 transposed convs with batch norm and
    ReLU, halving channels each step, tanh on the last (Radford et al. 2015, Fig. 1). ``fc > 0``
    puts a fully connected layer of that size (batch norm, ReLU) before the projection, as in
    InfoGAN's MNIST generator (Chen et al. 2016, Table 1: FC 1024, FC 7x7x128, two up-convs)."""

    def __init__(self, in_dim: int, shape: tuple[int, ...], width: int, fc: int = 0):
        super().__init__()
        start, k = conv_plan(shape)
        ch = width * 2 ** (k - 1)
        self.start = (ch, start, start)
        pre: list[nn.Module] = []
        if fc:
            pre = [nn.Linear(in_dim, fc, bias=False), nn.BatchNorm1d(fc), nn.ReLU()]
            in_dim = fc
        self.project = nn.Sequential(*pre, nn.Linear(in_dim, math.prod(self.start), bias=False),
                                     nn.BatchNorm1d(math.prod(self.start)), nn.ReLU())
        layers: list[nn.Module] = []
        for i in range(k):
            last = i == k - 1
            out = shape[0] if last else ch // 2
            layers.append(nn.ConvTranspose2d(ch, out, 4, stride=2, padding=1, bias=last))
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(out), nn.ReLU()]
            ch = out
        self.body = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(-1, *self.start)  # (B, C0, s, s)
        return self.body(h)  # (B, C, H, W)


class Discriminator(nn.Module):
    """Body: image -> features; head: [features, condition] -> ``n_out`` logits.

    ``arch="mlp"``: LeakyReLU(0.2) MLP (Goodfellow 2014 used maxout; LeakyReLU is the usual
    stand-in). ``arch="conv"``: DCGAN discriminator, stride-2 convs doubling the channels, batch
    norm after all but the first, LeakyReLU(0.2). A condition vector joins the input (MLP) or is
    replicated over the last feature map and mixed in by a 1x1 conv (conv; Reed et al. 2016), so
    that the score can depend on how image and condition agree. With ``spectral_norm`` every conv/linear layer is
    spectrally normalised and batch norm is dropped (Miyato et al. 2018). ``fc > 0`` (conv, no
    condition) adds a fully connected layer of that size (batch norm, LeakyReLU) after the convs,
    whose output is the feature vector (InfoGAN's MNIST discriminator: FC 1024, shared with Q).
    """

    def __init__(self, shape: tuple[int, ...], *, arch: str, hidden: tuple[int, ...] = (256,),
                 width: int = 64, cond_dim: int = 0, n_out: int = 1, spectral_norm: bool = False,
                 fc: int = 0):
        super().__init__()
        sn = _sn if spectral_norm else (lambda m: m)
        layers: list[nn.Module] = []
        self.arch, self.cond_dim, self.n_out = arch, cond_dim, n_out
        if fc and (arch != "conv" or cond_dim):
            raise ValueError("fc applies to the unconditional conv discriminator only")
        if arch == "mlp":  # the condition joins the flattened image at the input (Mirza & Osindero 2014)
            d = math.prod(shape) + cond_dim
            for h in hidden:
                layers += [sn(nn.Linear(d, h)), nn.LeakyReLU(0.2)]
                d = h
            self.feature_dim = d
        elif arch == "conv":  # the condition joins the last feature map (Reed et al. 2016, Sec. 3.1)
            start, k = conv_plan(shape)
            c, ch = shape[0], width
            for i in range(k):
                conv = dcgan_init(nn.Conv2d(c, ch, 4, stride=2, padding=1, bias=i == 0 or spectral_norm))
                layers.append(sn(conv))
                if i > 0 and not spectral_norm:
                    layers.append(dcgan_init(nn.BatchNorm2d(ch)))
                layers.append(nn.LeakyReLU(0.2))
                c, ch = ch, ch * 2
            self.map_shape = (c, start, start)
            self.feature_dim = c * start * start
            if fc:
                layers += [nn.Flatten(), sn(dcgan_init(nn.Linear(self.feature_dim, fc, bias=spectral_norm)))]
                layers += [] if spectral_norm else [dcgan_init(nn.BatchNorm1d(fc))]
                layers.append(nn.LeakyReLU(0.2))
                self.feature_dim = fc
            if cond_dim:
                # the condition, replicated over the map and depth-concatenated, meets the image
                # features in a 1x1 conv, so that D can score their agreement (not just add a term)
                self.joint = nn.Sequential(sn(nn.Conv2d(c + cond_dim, c, 1)), nn.LeakyReLU(0.2))
        else:
            raise ValueError(f"unknown discriminator arch {arch!r}; choose 'mlp' or 'conv'")
        self.body = nn.Sequential(*layers)
        self.head = sn(nn.Linear(self.feature_dim, n_out))

    def _check(self, cond: torch.Tensor | None) -> None:
        if self.cond_dim and cond is None:
            raise ValueError("this discriminator needs a condition vector")

    def features(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, H, W) [+ (B, cond_dim)] -> (B, F)."""
        if self.arch == "mlp":
            x = x.flatten(1)
            if self.cond_dim:
                self._check(cond)
                x = torch.cat([x, cond], dim=1)  # (B, D + cond_dim)
        return self.body(x).flatten(1)

    def head_logits(self, feats: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.arch == "conv" and self.cond_dim:
            self._check(cond)
            c, h, w = self.map_shape
            fmap = feats.view(-1, c, h, w)  # (B, C, s, s)
            tiled = cond[:, :, None, None].expand(-1, -1, h, w)  # (B, cond_dim, s, s)
            feats = self.joint(torch.cat([fmap, tiled], dim=1)).flatten(1)  # (B, C*s*s)
        out = self.head(feats)  # (B, n_out)
        return out.squeeze(1) if self.n_out == 1 else out

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return self.head_logits(self.features(x, cond), cond)


def build_generator(arch: str, in_dim: int, shape: tuple[int, ...], hidden: tuple[int, ...],
                    width: int, fc: int = 0) -> nn.Module:
    if arch == "mlp":
        return MLPGenerator(in_dim, shape, hidden)
    if arch == "conv":
        return ConvGenerator(in_dim, shape, width, fc)
    raise ValueError(f"unknown generator arch {arch!r}; choose 'mlp' or 'conv'")


class ImplicitModel(GenerativeModel):
    """Base of the GAN-style models: a ``generator`` and a ``discriminator`` (attributes the
    adversarial objectives use to split the parameters between the players), no likelihood.

    ``draw_latent(n, condition=...)`` is the generator's whole input w (noise and, for conditional
    models, the condition's embedding or codes), ``decode(w)`` = G(w) in data space, and
    ``sample(n)`` = ``decode(draw_latent(n))``; interpolating between two w's is the usual GAN
    interpolation."""

    has_likelihood = False
    exact_likelihood = False
    generator: nn.Module
    discriminator: nn.Module

    def init_ema(self) -> None:
        """Add ``generator_ema``, the exponential moving average of the generator's weights: a
        frozen copy of ``generator`` (weights and buffers), saved with the model; it has no
        gradient, so no optimizer sees it. The model only holds it: the objective's ``after_step``
        hook updates it during training."""
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)

    def sampling_generator(self) -> nn.Module:
        """The generator that turns latents into images: the live one while training (the
        objectives need its gradient) and the EMA copy, if any, in eval mode (sampling)."""
        ema = getattr(self, "generator_ema", None)
        if ema is not None and not self.training:
            return ema
        return self.generator

    def decode(self, w: torch.Tensor) -> torch.Tensor:
        """G(w) in data space: (B, C, H, W) for the generator input w (B, latent size); in eval
        mode a model with ``ema=True`` decodes with its averaged generator."""
        return self.to_data(self.sampling_generator()(w))

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition=None) -> torch.Tensor:
        """n samples G(w), w = :meth:`draw_latent` (n, condition): (n, C, H, W) in data space."""
        return self.decode(self.draw_latent(check_count(n), generator=generator, condition=condition))

    def log_prob(self, x: torch.Tensor, *, k=None, generator=None) -> torch.Tensor:
        raise NotImplementedError(
            f"{type(self).__name__} is an implicit model (adversarially trained): it has no likelihood; "
            "estimate one from samples with a Parzen window (benchmarks/adversarial.py) if you must")

    # -- data range ------------------------------------------------------------------------
    def to_data(self, t: torch.Tensor) -> torch.Tensor:
        """Network output in [-1, 1] -> data space."""
        return to_unit(t, "pm1") if self.config.data_range == "01" else t

    def from_data(self, x: torch.Tensor) -> torch.Tensor:
        """Data -> the [-1, 1] range the networks see."""
        return from_unit(x, "pm1") if self.config.data_range == "01" else x

    # -- the pieces the objectives call ----------------------------------------------------
    def generator_parameters(self):
        return list(self.generator.parameters())

    def discriminator_parameters(self):
        return list(self.discriminator.parameters())

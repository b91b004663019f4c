"""Shared encoder/decoder bodies: MLPs and the small convolutional nets used by the VAE family."""

from __future__ import annotations

import math

from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "softplus": nn.Softplus, "leaky_relu": nn.LeakyReLU,
               "elu": nn.ELU}


def activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}") from None


def mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int, act: str = "relu") -> nn.Sequential:
    """in_dim -> hidden... -> out_dim, with ``act`` between layers and nothing after the last."""
    layers: list[nn.Module] = []
    dims = (in_dim, *hidden)
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), activation(act)]
    layers.append(nn.Linear(dims[-1], out_dim))
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """Flattens (B, C, H, W) images and maps them to ``out_dim`` features."""

    def __init__(self, shape: tuple[int, ...], hidden: tuple[int, ...], out_dim: int, act: str):
        super().__init__()
        self.net = mlp(math.prod(shape), hidden, out_dim, act)

    def forward(self, x):
        return self.net(x.flatten(1))


class MLPDecoder(nn.Module):
    """Maps codes to ``channels_out`` maps of the image ``shape`` (pre-activation)."""

    def __init__(self, latent_dim: int, hidden: tuple[int, ...], shape: tuple[int, ...], act: str,
                 maps_per_channel: int = 1):
        super().__init__()
        self.shape = (shape[0] * maps_per_channel, *shape[1:])
        self.net = mlp(latent_dim, tuple(reversed(hidden)), math.prod(self.shape), act)

    def forward(self, z):
        return self.net(z).view(-1, *self.shape)


def _check_even(shape: tuple[int, ...]) -> None:
    if len(shape) != 3 or shape[1] % 2 or shape[2] % 2:
        raise ValueError(f"the convolutional nets need (C, H, W) images with even H and W, got {tuple(shape)}")


class ConvEncoder(nn.Module):
    """Conv 32-64-64-64 (the second with stride 2), then a dense layer: the encoder of the widely
    copied Keras VAE example (Chollet, *Deep Learning with Python*, 8.4). Channels configurable."""

    def __init__(self, shape: tuple[int, ...], channels: tuple[int, ...], dense: int, out_dim: int):
        super().__init__()
        _check_even(shape)
        c, h, w = shape
        layers: list[nn.Module] = []
        for i, ch in enumerate(channels):
            layers += [nn.Conv2d(c, ch, 3, stride=2 if i == 1 else 1, padding=1), nn.ReLU()]
            c = ch
        stride2 = len(channels) > 1
        flat = c * (h // 2 if stride2 else h) * (w // 2 if stride2 else w)
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(flat, dense), nn.ReLU(),
                                  nn.Linear(dense, out_dim))

    def forward(self, x):
        return self.body(x)


class ConvDecoder(nn.Module):
    """Dense -> (C', H/2, W/2) -> transposed conv (stride 2) -> conv to the output maps."""

    def __init__(self, latent_dim: int, shape: tuple[int, ...], channels: tuple[int, ...],
                 maps_per_channel: int = 1):
        super().__init__()
        _check_even(shape)
        c, h, w = shape
        top = channels[-1]
        self.start = (top, h // 2, w // 2)
        mid = channels[0]
        self.body = nn.Sequential(
            nn.Linear(latent_dim, math.prod(self.start)), nn.ReLU(),
            nn.Unflatten(1, self.start),
            nn.ConvTranspose2d(top, mid, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.Conv2d(mid, c * maps_per_channel, 3, padding=1),
        )

    def forward(self, z):
        return self.body(z)

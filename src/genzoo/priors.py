"""Sampleable priors p(z) for the adversarial autoencoder (Makhzani et al. 2015, Sec. 2-3).

An AAE only needs samples of its prior, never densities, so a prior here is a function
``sample(n, generator=None, labels=None) -> (n, dim)``. Built-ins:

* ``gaussian``: N(0, I).
* ``mixture10``: 10 Gaussians with means evenly spaced on a circle of radius ``MIXTURE_RADIUS`` in
  the first two coordinates, std ``MIXTURE_STD`` in every coordinate (Makhzani Fig. 4). With
  labels, example i comes from component ``labels[i] % 10`` (the label-conditioned prior, Sec. 3).
* ``swissroll``: the 2-D swiss roll t (cos t, sin t) * ``SWISSROLL_SCALE``, t = 1.5 pi (1 + 2u),
  u ~ U(0, 1) (sklearn's parametrisation), plus N(0, ``SWISSROLL_NOISE``^2) noise; with labels,
  class k takes the k-th tenth of the roll, u ~ U(k/10, (k+1)/10) (Makhzani Fig. 4).
* ``custom``: a user function, called as ``fn(n, dim, generator)`` and returning an (n, dim)
  tensor. A config records it by name (``"module:function"``); the function comes from the user
  (passed in code, typed on the command line, or trusted explicitly), never from importing a
  name read from a file (see :mod:`genzoo.code`).

For ``dim > 2`` the mixture and swiss roll fill the remaining coordinates with N(0, std^2) noise
of their own std.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from genzoo import code

PRIORS = ("gaussian", "mixture10", "swissroll", "custom")
MIXTURE_RADIUS = 4.0
MIXTURE_STD = 0.5
SWISSROLL_SCALE = 0.25
SWISSROLL_NOISE = 0.05

Sampler = Callable[..., torch.Tensor]


def _noise(shape, generator):
    return torch.randn(shape, generator=generator, device=generator.device if generator is not None else "cpu")


def _uniform(shape, generator):
    return torch.rand(shape, generator=generator, device=generator.device if generator is not None else "cpu")


def _component(labels: torch.Tensor | None, n: int, k: int, generator) -> torch.Tensor:
    if labels is None:
        dev = generator.device if generator is not None else "cpu"
        return torch.randint(k, (n,), generator=generator, device=dev)
    labels = torch.as_tensor(labels).long().reshape(-1)
    if labels.numel() != n:
        raise ValueError(f"the prior got {labels.numel()} labels for {n} samples")
    return labels.cpu() % k if generator is None else labels.to(generator.device) % k


def mixture_means(dim: int, k: int = 10, radius: float = MIXTURE_RADIUS) -> torch.Tensor:
    """(k, dim) component means: evenly spaced on a circle in the first two coordinates."""
    angle = 2 * math.pi * torch.arange(k) / k
    means = torch.zeros(k, dim)
    means[:, 0] = radius * torch.cos(angle)
    means[:, 1] = radius * torch.sin(angle)
    return means


def gaussian(n: int, dim: int, generator=None, labels=None) -> torch.Tensor:
    return _noise((n, dim), generator)  # (n, dim)


def mixture10(n: int, dim: int, generator=None, labels=None) -> torch.Tensor:
    if dim < 2:
        raise ValueError(f"the mixture10 prior needs a code of size >= 2, got {dim}")
    comp = _component(labels, n, 10, generator)  # (n,)
    means = mixture_means(dim).to(comp.device)[comp]  # (n, dim)
    return means + MIXTURE_STD * _noise((n, dim), generator)


def swissroll(n: int, dim: int, generator=None, labels=None) -> torch.Tensor:
    if dim < 2:
        raise ValueError(f"the swissroll prior needs a code of size >= 2, got {dim}")
    u = _uniform((n,), generator)  # (n,)
    if labels is not None:
        u = (_component(labels, n, 10, generator).to(u.dtype) + u) / 10
    t = 1.5 * math.pi * (1 + 2 * u)
    z = SWISSROLL_NOISE * _noise((n, dim), generator)  # (n, dim)
    z[:, 0] += SWISSROLL_SCALE * t * torch.cos(t)
    z[:, 1] += SWISSROLL_SCALE * t * torch.sin(t)
    return z


def get_prior(name: str, dim: int, prior_fn: Callable | str | None = None) -> Sampler:
    """The sampler ``sample(n, generator=None, labels=None) -> (n, dim)`` of a named prior.

    For ``custom``, ``prior_fn`` is the function itself, or the name of a function the user has
    trusted in this process (:func:`genzoo.code.trusted`; nothing is imported here)."""
    if name not in PRIORS:
        raise ValueError(f"unknown prior {name!r}; choose from {', '.join(PRIORS)}")
    if name == "custom":
        if not prior_fn:
            raise ValueError("prior 'custom' needs prior_fn (a function, or 'module:function')")
        fn = prior_fn if callable(prior_fn) else code.trusted(prior_fn, "prior_fn")
        label = prior_fn if isinstance(prior_fn, str) else code.name_of(prior_fn)

        def custom(n: int, generator=None, labels=None) -> torch.Tensor:
            if labels is not None:
                raise ValueError("a custom prior cannot be label-conditioned; use mixture10 or swissroll")
            z = torch.as_tensor(fn(n, dim, generator))
            if z.shape != (n, dim):
                raise ValueError(f"prior_fn {label!r} returned shape {tuple(z.shape)}, expected {(n, dim)}")
            return z.float()

        return custom
    base = {"gaussian": gaussian, "mixture10": mixture10, "swissroll": swissroll}[name]
    if name in ("mixture10", "swissroll") and dim < 2:
        raise ValueError(f"the {name} prior needs a code of size >= 2, got {dim}")

    def sample(n: int, generator=None, labels=None) -> torch.Tensor:
        return base(n, dim, generator, labels)

    return sample


def sample_prior(name: str, n: int, dim: int, generator: torch.Generator | None = None, labels=None,
                 prior_fn: Callable | str | None = None) -> torch.Tensor:
    return get_prior(name, dim, prior_fn)(n, generator, labels)

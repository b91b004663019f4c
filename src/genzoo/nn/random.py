"""Devices and random draws, written once for the whole library.

Every stochastic method in genzoo takes ``generator: torch.Generator | None``. A generator lives on
one device and can only fill tensors on that device, so the rule here is: draw on the generator's
device (the default device of the model when there is no generator), then move the result to the
device the caller computes on. A CPU generator therefore works for a CUDA model, and the same seed
gives the same numbers whatever device the model sits on.

* :func:`resolve_device` turns a device option (``"auto"``, ``"cpu"``, ``"cuda:1"``) into a device;
* :func:`device_of` is the device of a module's parameters (or buffers);
* :func:`resolve_generator` is the device a draw happens on;
* :func:`randn`, :func:`rand`, :func:`randint`, :func:`bernoulli` draw with that rule;
* :func:`seeded_generator` makes a seeded generator on a device.
"""

from __future__ import annotations

import torch
from torch import nn

Shape = tuple[int, ...]


def resolve_device(name: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else the CPU; any other name as ``torch.device``."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as e:
        raise ValueError(f"unknown device {name!r} (use cpu, cuda, cuda:N or auto): {e}") from None


def device_of(module: nn.Module) -> torch.device:
    """The device of the first parameter (or buffer) of ``module``; the CPU for an empty module."""
    for p in module.parameters():
        return p.device
    for b in module.buffers():
        return b.device
    return torch.device("cpu")


def resolve_generator(generator: torch.Generator | None, device: torch.device | str | None) -> torch.device:
    """The device a draw with ``generator`` happens on: the generator's own device, or ``device``
    (the default generator of that device) when there is none."""
    if generator is not None:
        return generator.device
    return torch.device(device) if device is not None else torch.device("cpu")


def _to(t: torch.Tensor, device, dtype) -> torch.Tensor:
    return t.to(device=device if device is not None else t.device, dtype=dtype if dtype is not None else t.dtype)


def randn(shape: Shape, *, generator: torch.Generator | None = None, device=None,
          dtype: torch.dtype | None = None) -> torch.Tensor:
    """Standard normal noise of ``shape`` on ``device``, drawn on the generator's device."""
    dev = resolve_generator(generator, device)
    return _to(torch.randn(shape, generator=generator, device=dev, dtype=dtype), device, dtype)


def rand(shape: Shape, *, generator: torch.Generator | None = None, device=None,
         dtype: torch.dtype | None = None) -> torch.Tensor:
    """U(0, 1) noise of ``shape`` on ``device``, drawn on the generator's device."""
    dev = resolve_generator(generator, device)
    return _to(torch.rand(shape, generator=generator, device=dev, dtype=dtype), device, dtype)


def randint(high: int, shape: Shape, *, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Uniform integers in [0, high) of ``shape`` on ``device``, drawn on the generator's device."""
    dev = resolve_generator(generator, device)
    return torch.randint(high, shape, generator=generator, device=dev).to(device if device is not None else dev)


def bernoulli(p: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """x ~ Bernoulli(p) elementwise, on p's device and dtype (u < p with u ~ U(0, 1))."""
    return (rand(tuple(p.shape), generator=generator, device=p.device, dtype=p.dtype) < p).to(p.dtype)


def seeded_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on ``device`` seeded with ``seed``."""
    return torch.Generator(device=resolve_device(device)).manual_seed(int(seed))

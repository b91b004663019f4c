"""Test log-likelihood in nats and bits/dim, with standard errors over the test set."""

from __future__ import annotations

import math

import torch

from genzoo.models.base import bits_per_dim
from genzoo.objectives.variational import elbo


def _mean_stderr(values: torch.Tensor) -> tuple[float, float]:
    v = values.double()
    n = v.numel()
    return float(v.mean()), float(v.std(unbiased=True) / math.sqrt(n)) if n > 1 else 0.0


@torch.no_grad()
def evaluate_likelihood(model, x: torch.Tensor, *, k: int = 5000, batch_size: int = 100, seed: int = 0,
                        dequantized_levels: int | None = None) -> dict:
    """NLL of ``x`` under ``model``: exact for autoregressive models, importance-sampled with
    ``k`` samples (and the ELBO beside it) for latent-variable models.

    ``dequantized_levels``: for a continuous density on data scaled from ``levels`` discrete
    values into [0, 1], add D*log(levels) so that the figure is a discrete NLL (bits/dim then
    compare with discrete models)."""
    if not getattr(model, "has_likelihood", False):
        raise ValueError(f"{type(model).__name__} has no likelihood to evaluate")
    model.eval()
    dev = model.device
    g = torch.Generator(device=dev).manual_seed(seed)
    dim = math.prod(x.shape[1:])
    offset = dim * math.log(dequantized_levels) if dequantized_levels else 0.0
    latent = not getattr(model, "exact_likelihood", True)
    nll, neg_elbo = [], []
    for chunk in x.split(batch_size):
        chunk = chunk.to(dev)
        if latent:
            nll.append(-model.log_prob(chunk, k=k, generator=g).cpu())
            neg_elbo.append(-elbo(model, chunk, generator=g).cpu())
        else:
            nll.append(-model.log_prob(chunk).cpu())
    mean, se = _mean_stderr(torch.cat(nll) + offset)
    out = {"n": int(x.shape[0]), "nll_nats": mean, "nll_stderr": se, "bits_per_dim": bits_per_dim(mean, dim),
           "exact": not latent}
    if latent:
        out["k"] = k
        m, s = _mean_stderr(torch.cat(neg_elbo) + offset)
        out.update({"neg_elbo_nats": m, "neg_elbo_stderr": s, "elbo_bits_per_dim": bits_per_dim(m, dim)})
    return out


def dequantized_levels(model, dataset, data_config) -> int | None:
    """The number of levels to correct for when a continuous density (Gaussian decoder) was
    trained on dequantized discrete data, else None (see :func:`evaluate_likelihood`)."""
    continuous = getattr(model.config, "decoder", None) == "gaussian"
    return dataset.levels if continuous and not dataset.binary and data_config.dequantize else None


def random_subset(x: torch.Tensor, limit: int | None, seed: int = 0) -> torch.Tensor:
    """A seeded random subset of ``limit`` rows (data files are often ordered by class)."""
    if limit is None or limit >= len(x):
        return x
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:limit]]

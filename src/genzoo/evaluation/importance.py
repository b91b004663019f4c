"""Importance-sampled log-likelihood of a variational model (Burda et al. 2016, eq. 8 used as an
estimator, as in their Sec. 5 and Rezende et al. 2014): log p(x) ~ log (1/k) sum_i p(x, z_i)/q(z_i|x),
z_i ~ q(z|x). Its expectation is the k-sample bound L_k <= log p(x), which tightens to log p(x)
as k grows; genzoo evaluates with k = 5000 by default."""

from __future__ import annotations

import math

import torch

from genzoo.objectives.variational import log_weights


@torch.no_grad()
def importance_sampled_log_prob(model, x: torch.Tensor, *, k: int, chunk: int = 500,
                                generator: torch.Generator | None = None) -> torch.Tensor:
    """The estimate for each row of ``x``: (B,). The k samples are taken ``chunk`` at a time, with
    the prior computed once for all chunks."""
    if k < 1:
        raise ValueError(f"k (importance samples) must be >= 1, got {k}")
    prior = model.prior()
    parts = [torch.logsumexp(log_weights(model, x, min(chunk, k - s), generator, prior=prior), dim=0)
             for s in range(0, k, chunk)]
    return torch.logsumexp(torch.stack(parts), dim=0) - math.log(k)

"""Importance-sampled log-likelihood of a variational model (Burda et al. 2016, eq. 8 used as an
estimator, as in their Sec. 5 and Rezende et al. 2014): log p(x) ~ log (1/k) sum_i p(x, z_i)/q(z_i|x),
z_i ~ q(z|x). Its expectation is the k-sample bound L_k <= log p(x), which tightens to log p(x)
as k grows; genzoo evaluates with k = 5000 by default."""

from __future__ import annotations

import math

import torch

#: decoder rows (samples x images) per block: the logits of a block (rows x D floats; 6 MB for
#: MNIST) stay in cache between the multiply that makes them and the element-wise log-density that
#: reads them, while the multiplies stay large (BENCHMARKS.md, CPU performance: IS-NLL)
BLOCK_ROWS = 2048


@torch.no_grad()
def importance_sampled_log_prob(model, x: torch.Tensor, *, k: int, chunk: int = 500,
                                generator: torch.Generator | None = None,
                                block_rows: int = BLOCK_ROWS) -> torch.Tensor:
    """The estimate for each row of ``x``: (B,).

    q(z|x) and the prior are computed once; the k samples are drawn ``chunk`` at a time, (chunk, B, L)
    from ``generator`` (the draws of :func:`genzoo.objectives.variational.log_weights` with
    ``chunk`` samples per call), and pushed through the decoder in blocks of about ``block_rows``
    rows (samples x images); the log-sum-exp over samples is streamed, a running maximum and sum
    per image, so memory is one block whatever k is."""
    if k < 1:
        raise ValueError(f"k (importance samples) must be >= 1, got {k}")
    if chunk < 1 or block_rows < 1:
        raise ValueError(f"chunk and block_rows must be >= 1, got {chunk} and {block_rows}")
    q = model.posterior(x)  # batch (B,)
    prior = model.prior()
    per_block = max(1, block_rows // max(len(x), 1))  # samples per decoder block
    top = total = None  # running max of the log-weights, and sum of exp(log-weight - top): (B,)
    for start in range(0, k, chunk):
        z_chunk = q.rsample((min(chunk, k - start),), generator)  # (c, B, L)
        for z in z_chunk.split(per_block):  # (s, B, L)
            lw = model.likelihood(z).log_prob(x) + prior.log_prob(z) - q.log_prob(z)  # (s, B)
            if top is None:
                top, total = torch.full_like(lw[0], -math.inf), torch.zeros_like(lw[0])
            new_top = torch.maximum(top, lw.max(0).values)
            safe = torch.where(torch.isfinite(new_top), new_top, torch.zeros_like(new_top))
            total = total * torch.exp(top - safe) + torch.exp(lw - safe).sum(0)
            top = new_top
    safe = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    return torch.log(total) + safe - math.log(k)

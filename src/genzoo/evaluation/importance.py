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


class CompileUnavailableError(ValueError):
    """``compile=True`` was asked for, and ``torch.compile`` cannot compile here (no C++ compiler
    for inductor, an unsupported Python, ...)."""


def block_log_weights(model, prior, q, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) + log p(z) - log q(z|x) for a block of samples z (s, B, L) of the images x (B, ...):
    (s, B), through the family interfaces (``model.likelihood(z).log_prob(x)``, ``prior.log_prob``,
    ``q.log_prob``). What ``compile=True`` compiles."""
    return model.likelihood(z).log_prob(x) + prior.log_prob(z) - q.log_prob(z)


_compiled = None


def compiled_block_log_weights():
    """:func:`block_log_weights` compiled by ``torch.compile`` (inductor; on the CPU its C++
    kernels fuse the decoder's bias and activation, the log-density's element-wise work and sums,
    and the prior and q terms, around the multiplies). One compilation per model and block shape
    (``dynamic=False``), kept for the process; the first block of each shape pays it (seconds).
    Past dynamo's recompile limit (``torch._dynamo.config.recompile_limit``, 8: models times block
    shapes in one process) dynamo runs it uncompiled, with a warning: the same values, eager speed."""
    global _compiled
    if _compiled is None:
        try:
            _compiled = torch.compile(block_log_weights, dynamic=False)
        except Exception as e:  # e.g. torch.compile unsupported on this Python
            raise CompileUnavailableError(_unavailable(e)) from e
    return _compiled


def _unavailable(e: BaseException) -> str:
    first = (str(e).strip().splitlines() or [""])[0][:200]
    return (f"compile: torch.compile is unavailable here ({type(e).__name__}: {first}); "
            "evaluate without compile (genzoo eval without --compile)")


def _call_compiled(fn, *args):
    try:
        return fn(*args)
    except torch._dynamo.exc.TorchDynamoException as e:  # the backend failed (no C++ compiler, ...)
        raise CompileUnavailableError(_unavailable(e)) from e


def balanced_block_sizes(samples: int, per_block: int) -> list[int]:
    """``samples`` split into the fewest blocks of at most ``per_block``, of sizes that differ by at
    most one, the larger first (few distinct shapes for a compiled decoder)."""
    n = math.ceil(samples / per_block)
    return [samples // n + (1 if i < samples % n else 0) for i in range(n)]


@torch.no_grad()
def importance_sampled_log_prob(model, x: torch.Tensor, *, k: int, chunk: int = 500,
                                generator: torch.Generator | None = None,
                                block_rows: int = BLOCK_ROWS, compile: bool = False) -> torch.Tensor:
    """The estimate for each row of ``x``: (B,).

    q(z|x) and the prior are computed once; the k samples are drawn ``chunk`` at a time, (chunk, B, L)
    from ``generator`` (the draws of :func:`genzoo.objectives.variational.log_weights` with
    ``chunk`` samples per call), and pushed through the decoder in blocks of at most about
    ``block_rows`` rows (samples x images); the log-sum-exp over samples is streamed, a running
    maximum and sum per image, so memory is one block whatever k is. ``compile=True`` runs
    :func:`block_log_weights` compiled (:func:`compiled_block_log_weights`): the same draws and the
    same value up to float rounding, faster on long evaluations (BENCHMARKS.md, "IS-NLL against
    the ceiling"); :class:`CompileUnavailableError` where torch.compile cannot run."""
    if k < 1:
        raise ValueError(f"k (importance samples) must be >= 1, got {k}")
    if chunk < 1 or block_rows < 1:
        raise ValueError(f"chunk and block_rows must be >= 1, got {chunk} and {block_rows}")
    compiled = compiled_block_log_weights() if compile else None
    q = model.posterior(x)  # batch (B,)
    prior = model.prior()
    per_block = max(1, block_rows // max(len(x), 1))  # samples per decoder block, at most
    top = total = None  # running max of the log-weights, and sum of exp(log-weight - top): (B,)
    for start in range(0, k, chunk):
        z_chunk = q.rsample((min(chunk, k - start),), generator)  # (c, B, L)
        for z in z_chunk.split(balanced_block_sizes(len(z_chunk), per_block)):  # (s, B, L)
            if compiled is None:
                lw = block_log_weights(model, prior, q, z, x)  # (s, B)
            else:
                lw = _call_compiled(compiled, model, prior, q, z, x)
            if top is None:
                top, total = torch.full_like(lw[0], -math.inf), torch.zeros_like(lw[0])
            new_top = torch.maximum(top, lw.max(0).values)
            safe = torch.where(torch.isfinite(new_top), new_top, torch.zeros_like(new_top))
            total = total * torch.exp(top - safe) + torch.exp(lw - safe).sum(0)
            top = new_top
    safe = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    return torch.log(total) + safe - math.log(k)

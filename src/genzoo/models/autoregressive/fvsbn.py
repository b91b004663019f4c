"""Fully-visible sigmoid belief network (Neal 1992; Frey 1998): every pixel is a logistic
regression on all earlier pixels, p(x_i = 1 | x_<i) = sigmoid(b_i + sum_{j<i} W_ij x_j), i.e. one
strictly lower-triangular :class:`~genzoo.nn.masked.MaskedLinear` layer in raster order. The
categorical variant is a multinomial logistic regression per pixel (W has ``levels`` rows per
pixel)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genzoo.models.autoregressive._common import (
    AutoregressiveConfig,
    AutoregressiveModel,
    from_raster,
    raster_index,
    to_raster,
)
from genzoo.models.base import check_count
from genzoo.nn.masked import MaskedLinear
from genzoo.registry import register_model


@dataclass(frozen=True)
class FVSBNConfig(AutoregressiveConfig):
    pass


@register_model("fvsbn", config=FVSBNConfig, objectives=("nll",), family="autoregressive",
                summary="fully-visible sigmoid belief net (logistic regression on earlier pixels)")
class FVSBN(AutoregressiveModel):
    def __init__(self, config: FVSBNConfig):
        super().__init__(config)
        d, k = config.dim, self.out_per_pixel
        order = torch.arange(d)
        mask = (order.unsqueeze(1) > order.unsqueeze(0)).float()  # (D, D): output i sees j < i
        self.linear = MaskedLinear(d, d * k, mask.repeat_interleave(k, dim=0))  # rows (i, k)
        torch.nn.init.zeros_(self.linear.weight)

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Biases start at the training marginals (the independent-pixel fit); rows are (i, k)."""
        self.linear.bias.copy_(self.marginal_logits(x).reshape(-1))

    def _logits(self, u: torch.Tensor) -> torch.Tensor:
        out = self.linear(to_raster(u))  # (B, D * K)
        if self.vector_output:
            return from_raster(out.reshape(u.shape[0], self.config.dim, -1), self.grid, True)
        return from_raster(out, self.grid, False)

    @torch.no_grad()
    def sample(self, n, *, generator=None, condition=None, fast=True, noise=None):
        """Bernoulli, ``fast``: a loop of its own over the raster pixels, logit_i = b_i + W[i, <i] x_<i
        from pixel i's row of W over the pixels drawn so far (one matrix-vector product), drawn
        with the base class's noise and rule, so the samples equal the naive sampler's; a few
        tensor operations per pixel instead of the base loop's bookkeeping. Otherwise the base
        class (its incremental steps below)."""
        if not fast or self.vector_output:
            return super().sample(n, generator=generator, condition=condition, fast=fast, noise=noise)
        n = check_count(n)
        self.check_condition(condition)
        u = self.sampling_noise(n, generator, noise).reshape(n, -1)  # (n, D): raster order
        w, b = self.linear.masked_weight(), self.linear.bias  # (D, D), (D,)
        v = torch.zeros_like(u)  # the pixels drawn so far, raster order
        for i in range(self.config.dim):
            p = torch.sigmoid(torch.addmv(b[i].expand(n), v[:, :i], w[i, :i]))  # (n,)
            v[:, i] = u[:, i] < p  # the base class's draw, (u < sigmoid(logit))
        return self.from_unit(from_raster(v, self.grid, False)).reshape(n, *self.config.shape)

    # incremental sampling: pixel i needs only its own row of W, over the i pixels drawn so far
    def _fast_start(self, n, canvas):
        k = self.out_per_pixel
        w = self.linear.masked_weight().view(self.config.dim, k, -1)  # (D, K, D): rows (i, k)
        return {"v": canvas.new_zeros(n, self.config.dim), "w": w,  # v: the pixels so far, raster order
                "b": self.linear.bias.view(self.config.dim, k)}

    def _fast_step(self, state, canvas, r, c, ch):
        i = raster_index(self.grid, r, c, ch)
        if i > 0:
            pr, pc, pch = _previous(self.grid, i)
            state["v"][:, i - 1] = canvas[:, pch, pr, pc]
        out = torch.addmm(state["b"][i], state["v"][:, :i], state["w"][i, :, :i].t())  # (n, K): O(i K)
        return out if self.vector_output else out[:, 0]


def _previous(shape: tuple[int, ...], i: int) -> tuple[int, int, int]:
    """(r, c, ch) of raster index ``i - 1``."""
    ch_, _, w = shape
    j = i - 1
    return j // ch_ // w, j // ch_ % w, j % ch_

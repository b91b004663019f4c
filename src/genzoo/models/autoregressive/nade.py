"""NADE, the neural autoregressive distribution estimator (Larochelle & Murray 2011, eq. 2-3):

    h_i = sigmoid(c + W[:, <i] x_<i),    p(x_i = 1 | x_<i) = sigmoid(b_i + V_i . h_i)

with one weight matrix W (H, D) shared by all conditionals, so every pre-activation
a_i = c + sum_{j<i} W[:, j] x_j is a cumulative sum: all D conditionals cost O(D H) (eq. 4).
The categorical variant replaces the output with a ``levels``-way softmax per pixel,
logits_i = b_i + V_i h_i with V_i (levels, H) (as in RNADE's discrete cousin; Uria et al. 2016).
The ordering is the fixed raster order. Sampling updates a_i in O(H) per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genzoo.config import field
from genzoo.models.autoregressive._common import (
    AutoregressiveConfig,
    AutoregressiveModel,
    from_raster,
    raster_index,
    to_raster,
)
from genzoo.models.autoregressive.fvsbn import _previous
from genzoo.registry import register_model

BLOCK = 16  # pixels per block in the likelihood pass (see NADE._logits)


@dataclass(frozen=True)
class NADEConfig(AutoregressiveConfig):
    hidden: int = field(500, help="hidden units H shared by all conditionals (Larochelle & Murray: 500)")


@register_model("nade", config=NADEConfig, objectives=("nll",), family="autoregressive",
                summary="NADE: shared-weight autoregressive network, O(DH) likelihood")
class NADE(AutoregressiveModel):
    def __init__(self, config: NADEConfig):
        super().__init__(config)
        if config.hidden < 1:
            raise ValueError(f"hidden must be positive, got {config.hidden}")
        d, hid, k = config.dim, config.hidden, self.out_per_pixel
        self.W = nn.Parameter(torch.randn(hid, d) * 0.01)
        self.c = nn.Parameter(torch.zeros(hid))
        vshape = (d, k, hid) if self.vector_output else (d, hid)
        self.V = nn.Parameter(torch.randn(vshape) * 0.01)
        self.b = nn.Parameter(torch.zeros((d, k) if self.vector_output else (d,)))

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Output biases start at the training marginals (the independent-pixel fit)."""
        self.b.copy_(self.marginal_logits(x))

    def _logits(self, u: torch.Tensor) -> torch.Tensor:
        # Pixels are taken in blocks of BLOCK: inside a block the pre-activations come from one
        # small batched matmul with a strictly lower-triangular mask, and a running sum carries
        # sum_{j<block} W[:, j] x_j from block to block. Same O(D H) algorithm as a cumulative
        # sum over all D, but every tensor stays cache-sized: 7x faster on a CPU than one
        # (B, D, H) cumsum, and the autograd graph holds no (B, D, H) intermediates but h.
        v = to_raster(u)  # (B, D)
        wt = self.W.t()  # (D, H)
        carry = self.c.expand(v.shape[0], -1)  # (B, H): c + sum of W[:, j] x_j over earlier blocks
        outs = []
        for s in range(0, v.shape[1], BLOCK):
            xs, ws = v[:, s:s + BLOCK], wt[s:s + BLOCK]
            n = xs.shape[1]
            below = torch.ones(n, n, device=v.device, dtype=v.dtype).tril(-1)  # a_i uses j < i
            h = torch.sigmoid(carry.unsqueeze(1) + (xs.unsqueeze(1) * below) @ ws)  # (B, n, H)
            if s + n < v.shape[1]:
                carry = carry + xs @ ws
            if self.vector_output:
                outs.append(torch.einsum("bdh,dkh->bdk", h, self.V[s:s + n]))  # (B, n, K)
            else:
                outs.append(torch.einsum("bdh,dh->bd", h, self.V[s:s + n]))  # (B, n)
        return from_raster(torch.cat(outs, 1) + self.b, self.grid, self.vector_output)

    def _fast_start(self, n, canvas):
        return {"a": self.c.expand(n, -1).clone()}  # (n, H)

    def _fast_step(self, state, canvas, r, c, ch):
        i = raster_index(self.grid, r, c, ch)
        if i > 0:
            pr, pc, pch = _previous(self.grid, i)
            state["a"] += canvas[:, pch, pr, pc].unsqueeze(1) * self.W[:, i - 1]  # O(H)
        h = torch.sigmoid(state["a"])  # (n, H)
        if self.vector_output:
            return h @ self.V[i].t() + self.b[i]  # (n, K)
        return h @ self.V[i] + self.b[i]  # (n,)

"""Order-agnostic NADE (Uria, Murray & Larochelle, "A Deep and Tractable Density Estimator", 2014).

One network answers p(x_i | x_observed) for *any* set of observed pixels: its input is the
masked image and the mask, ``[x * m, m]``, an MLP of any depth, and one output per pixel. It is
trained by the order-agnostic objective (:mod:`genzoo.objectives.order_agnostic`): a random
ordering and a random split point per example, the NLL of every unobserved pixel scaled by
D / (D - d), which is an unbiased estimate of the NLL averaged over all D! orderings.

Any ordering then gives an exact, normalised model ``p(x | o) = prod_t p(x_{o_t} | x_{o_<t})``
at D network passes per image. ``orderings > 1`` makes the ensemble
``p(x) = 1/K sum_k p(x | o_k)`` (EoNADE), which is also exact, and which is how order-agnostic
training pays off; ordering 0 is the raster order, the others are seeded permutations drawn once,
when the model is created, and saved with the weights (the ``orders`` buffer), so a saved model
keeps its orderings whatever ``torch.randperm`` does in another torch version; files written
before the buffer existed get them regenerated from ``ordering_seed`` as before.
Fixed-order NADE (:mod:`genzoo.models.autoregressive.nade`) stays the fast single-order model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genzoo.config import field
from genzoo.models.autoregressive._common import (
    AutoregressiveConfig,
    AutoregressiveModel,
    from_raster,
    level_log_probs,
    raster_index,
    to_raster,
)
from genzoo.models.autoregressive.fvsbn import _previous
from genzoo.models.base import check_count
from genzoo.nn import random as rng
from genzoo.nn.nets import ACTIVATIONS, mlp
from genzoo.registry import register_model

ROWS = 1 << 24  # activations per chunk of the D-pass likelihood (bounds its memory)
SHALLOW_ROWS = 1 << 19  # activations per chunk of the one-layer path (cache-sized: 2x faster than 1 << 24)


@dataclass(frozen=True)
class OrderAgnosticNADEConfig(AutoregressiveConfig):
    hidden: tuple[int, ...] = field((500, 500), help="hidden layer sizes (Uria et al.: 2 layers of 500)")
    activation: str = field("relu", choices=tuple(ACTIVATIONS), help="hidden nonlinearity")
    orderings: int = field(1, help="orderings averaged by log_prob and sample (EoNADE); 1 = raster order")
    ordering_seed: int = field(0, help="seed of the orderings after the first (raster) one")


@register_model("nade-oa", config=OrderAgnosticNADEConfig, objectives=("order-agnostic",), family="autoregressive",
                summary="order-agnostic deep NADE: any ordering, ensembles of orderings (EoNADE)")
class OrderAgnosticNADE(AutoregressiveModel):
    supports_mixture = False  # its orderings are over sub-pixels: the within-pixel mixture has no order

    def __init__(self, config: OrderAgnosticNADEConfig):
        super().__init__(config)
        if config.orderings < 1:
            raise ValueError(f"orderings must be at least 1, got {config.orderings}")
        d, k = config.dim, self.out_per_pixel
        self.net = mlp(2 * d, tuple(config.hidden), d * k, config.activation)
        gen = torch.Generator().manual_seed(config.ordering_seed)
        orders = [torch.arange(d)] + [torch.randperm(d, generator=gen) for _ in range(config.orderings - 1)]
        self.register_buffer("orders", torch.stack(orders))  # (K, D), raster indices; saved

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        """Saved orderings must be K permutations of the D pixels; files without them (written
        before they were saved) keep the ones regenerated from ``ordering_seed``."""
        key = prefix + "orders"
        if key not in state_dict:
            state_dict[key] = self.orders
        else:
            self._check_orders(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def _check_orders(self, orders: torch.Tensor) -> None:
        if tuple(orders.shape) != tuple(self.orders.shape):
            raise ValueError(f"orders: saved shape {list(orders.shape)}, the config needs {list(self.orders.shape)}")
        if orders.device.type == "meta":  # a shape-only check (genzoo.training.loading)
            return
        if orders.dtype.is_floating_point or orders.dtype == torch.bool:
            raise ValueError(f"orders: must hold integer pixel indices, got dtype {orders.dtype}")
        ref = torch.arange(self.config.dim, device=orders.device)
        if not torch.equal(orders.sort(dim=1).values, ref.expand_as(orders)):
            raise ValueError("orders: every saved ordering must be a permutation of the pixels")

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Output biases start at the training marginals (the independent-pixel fit)."""
        self.net[-1].bias.copy_(self.marginal_logits(x).flatten())

    # ---- the network ------------------------------------------------------------------------------
    def _hidden(self, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net[:-1](torch.cat([v * mask, mask], dim=-1))

    def masked_logits(self, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits of every pixel given the observed ones: v, mask (B, D) in raster order, mask 1 where
        observed. Returns (B, D) (Bernoulli) or (B, D, levels)."""
        out = self.net[-1](self._hidden(v, mask))
        return out.view(v.shape[0], self.config.dim, -1) if self.categorical else out

    def _pixel_logits(self, h: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
        """Output logits of one pixel per row, skipping the rest of the output layer.

        h (N, H) with pixels (N,), or h (T, B, H) with pixels (T,) (one pixel per step t, shared by
        the batch). Returns (N,) / (T, B), or with a trailing ``levels`` dim when categorical."""
        last, k = self.net[-1], self.out_per_pixel
        w = last.weight.view(self.config.dim, k, -1)[pixels]  # (N or T, K, H)
        b = last.bias.view(self.config.dim, k)[pixels]  # (N or T, K)
        if h.dim() == 2:
            out = torch.einsum("nh,nkh->nk", h, w) + b
        else:
            out = torch.einsum("tbh,tkh->tbk", h, w) + b.unsqueeze(1)
        return out if self.categorical else out.squeeze(-1)

    # ---- likelihood -------------------------------------------------------------------------------
    def _order_logits(self, v: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        """Teacher-forced conditionals under ``order``: logits of pixel o_t given x_{o_<t}, stored
        at raster position o_t: (B, D) or (B, D, K). D network passes, batched in chunks."""
        if len(self.config.hidden) == 1:
            return self._order_logits_shallow(v, order)
        b, d = v.shape
        rank = torch.empty_like(order)
        rank[order] = torch.arange(d, device=order.device)
        chunk = max(1, ROWS // (b * (2 * d + sum(self.config.hidden) + self.out_per_pixel)))
        outs = []
        for t0 in range(0, d, chunk):
            steps = torch.arange(t0, min(d, t0 + chunk), device=v.device)  # (T,)
            mask = (rank.unsqueeze(0) < steps.unsqueeze(1)).to(v.dtype)  # (T, D)
            mask = mask.unsqueeze(1).expand(-1, b, -1)  # (T, B, D)
            h = self._hidden(v.unsqueeze(0).expand_as(mask), mask)  # (T, B, H)
            outs.append(self._pixel_logits(h, order[steps]))  # (T, B[, K])
        ordered = torch.cat(outs, 0).transpose(0, 1)  # (B, D[, K]) in the order's positions
        return ordered[:, rank]  # back to raster positions

    def _order_logits_shallow(self, v: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        """``_order_logits`` for one hidden layer in O(D H) per image instead of D passes: the
        pre-activation of step t is c + sum_{s<t} (W_x[:, o_s] x_{o_s} + W_m[:, o_s]), a cumulative
        sum along the ordering, which is NADE's own recursion (Larochelle & Murray 2011, eq. 4;
        Uria et al. 2014, section 3). Same values as the D-pass path up to float rounding."""
        b, d = v.shape
        first = self.net[0]  # Linear(2D, H) on [x * m, m]
        w = first.weight[:, order].t()  # (D, H): columns of the x half, in the order's positions
        wm = first.weight[:, d + order].t()  # (D, H): columns of the mask half
        rank = torch.empty_like(order)
        rank[order] = torch.arange(d, device=order.device)
        chunk = max(1, SHALLOW_ROWS // (d * first.out_features))
        outs = []
        for s in range(0, b, chunk):
            vs = v[s:s + chunk, order]  # (b', D) in the order's positions
            pre = torch.empty(len(vs), d, first.out_features, dtype=v.dtype, device=v.device)
            pre[:, 0] = first.bias
            pre[:, 1:] = torch.addcmul(wm[:-1], vs[:, :-1].unsqueeze(-1), w[:-1])  # what o_<t adds
            h = self.net[1:-1](pre.cumsum_(1)).transpose(0, 1)  # (D, b', H): step t sees o_<t
            outs.append(self._pixel_logits(h, order).transpose(0, 1))  # (b', D[, K])
        return torch.cat(outs, 0)[:, rank]  # back to raster positions

    def _logits(self, u: torch.Tensor) -> torch.Tensor:
        return from_raster(self._order_logits(to_raster(u), self.orders[0]), self.grid, self.categorical)

    def _log_prob_in_order(self, x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        u = self.to_unit(x)
        v = to_raster(u)
        logits = self._order_logits(v, order)
        if self.categorical:
            target = to_raster(self.targets(x))
            return level_log_probs(logits.transpose(1, 2), target).sum(1)
        return -F.binary_cross_entropy_with_logits(logits, v, reduction="none").sum(1)

    def log_prob(self, x: torch.Tensor, *, k: int | None = None, generator: torch.Generator | None = None,
                 orderings: int | None = None) -> torch.Tensor:
        """Exact log p(x) of the ensemble of the first ``orderings`` orderings (default: all of the
        config's): log mean_k p(x | o_k). Costs D network passes per image and ordering."""
        self.check_input(x)
        n = self.config.orderings if orderings is None else orderings
        if not 1 <= n <= len(self.orders):
            raise ValueError(f"orderings must be in 1..{len(self.orders)}, got {n}")
        per = torch.stack([self._log_prob_in_order(x, self.orders[i]) for i in range(n)])  # (K, B)
        return torch.logsumexp(per, 0) - math.log(n)

    # ---- sampling ---------------------------------------------------------------------------------
    def _fast_start(self, n, canvas):
        first = self.net[0]  # Linear(2D, H) on [x * m, m]
        return {"a": first.bias.expand(n, -1).clone(),  # (n, H): its pre-activation, nothing observed yet
                "w": first.weight.t().contiguous()}  # (2D, H): rows of x, then of the mask

    def _fast_step(self, state, canvas, r, c, ch):
        """The next raster pixel's logits: the first layer's pre-activation on [x * m, m] is a
        running sum over the observed pixels, a += x_j W_x[:, j] + W_m[:, j] (O(H) per pixel, NADE's
        recursion: Uria et al. 2014, section 3); the deeper layers and pixel i's output row once."""
        i = raster_index(self.grid, r, c, ch)
        if i > 0:
            pr, pc, pch = _previous(self.grid, i)
            w = state["w"]
            state["a"].addcmul_(canvas[:, pch, pr, pc].unsqueeze(1), w[i - 1]).add_(w[self.config.dim + i - 1])
        k, last = self.out_per_pixel, self.net[-1]
        out = F.linear(self.net[1:-1](state["a"]), last.weight[i * k:(i + 1) * k], last.bias[i * k:(i + 1) * k])
        return out if self.categorical else out[:, 0]  # (n, K) or (n,)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition=None, fast: bool = True,
               noise: torch.Tensor | None = None) -> torch.Tensor:
        """Raster-order ancestral sampling for one ordering; for an ensemble each sample first
        draws its ordering uniformly, then its pixels in that order (``fast``: the first layer as
        a running sum, the deeper layers once per pixel; else one full pass per pixel)."""
        if self.config.orderings == 1:
            return super().sample(n, generator=generator, condition=condition, fast=fast, noise=noise)
        n = check_count(n)
        self.check_condition(condition)
        d, dtype = self.config.dim, next(self.parameters()).dtype
        which = rng.randint(len(self.orders), (n,), generator=generator, device=self.device)
        if noise is None:
            noise = rng.rand((n, d), generator=generator, dtype=dtype, device=self.device)
        noise = noise.reshape(n, d)  # indexed by step t
        orders = self.orders[which]  # (n, D)
        rank = torch.argsort(orders, dim=1)  # rank[b, i] = step at which pixel i is drawn
        v = torch.zeros(n, d, dtype=dtype, device=self.device)
        rows = torch.arange(n, device=self.device)
        w = self.net[0].weight.t()  # (2D, H): rows of x, then of the mask
        a = self.net[0].bias.expand(n, -1).clone()  # fast: the first layer's running pre-activation
        for t in range(d):
            pixel = orders[:, t]
            if not fast:  # one full pass of the network on [x * m, m]
                h = self._hidden(v, (rank < t).to(dtype))
            else:  # the running sum over the observed pixels (see _fast_step)
                if t:
                    last = orders[:, t - 1]
                    a.addcmul_(v[rows, last].unsqueeze(1), w[last]).add_(w[d + last])
                h = self.net[1:-1](a)
            v[rows, pixel] = self._draw(self._pixel_logits(h, pixel), noise[:, t])
        return self.from_unit(from_raster(v, self.config.shape, False))

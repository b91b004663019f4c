"""NADE, the neural autoregressive distribution estimator (Larochelle & Murray 2011, eq. 2-3):

    h_i = sigmoid(c + W[:, <i] x_<i),    p(x_i = 1 | x_<i) = sigmoid(b_i + V_i . h_i)

with one weight matrix W (H, D) shared by all conditionals, so every pre-activation
a_i = c + sum_{j<i} W[:, j] x_j is a cumulative sum: all D conditionals cost O(D H) (eq. 4).
The categorical variant replaces the output with a ``levels``-way softmax per pixel,
logits_i = b_i + V_i h_i with V_i (levels, H) (as in RNADE's discrete cousin; Uria et al. 2016).
The ordering is the fixed raster order. Sampling updates a_i in O(H) per pixel.

The likelihood pass (:func:`nade_logits`) works on tiles of ``rows`` examples x ``block`` pixels
whose (block, rows, H) activations stay in the CPU cache, and its backward pass recomputes the
hidden units tile by tile from the saved running sums instead of keeping all B x D x H of them
(eq. 4's O(D H) cost, without the O(B D H) memory traffic of autograd's saved activations).
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

#: pixels per tile of the likelihood pass, and activations per tile (block x rows x H): sized so
#: that a tile's few buffers sit in the cache; 8 x 125 x 500 measured fastest on a 2-core AMD EPYC
#: (512 KiB L2, 32 MiB L3) in benchmarks/perf_ar.py, against 4-16 pixels and 32-512 rows
BLOCK, TILE = 8, 500_000
#: small tiles (few examples, e.g. sampling or evaluation batches): longer blocks, matmul running sums
SMALL_BLOCK, SMALL_ROWS = 32, 16_000


@dataclass(frozen=True)
class NADEConfig(AutoregressiveConfig):
    hidden: int = field(500, help="hidden units H shared by all conditionals (Larochelle & Murray: 500)")


def tile_sizes(batch: int, hidden: int) -> tuple[int, int]:
    """(rows, block) of the likelihood pass's tiles: up to ``TILE / (BLOCK * hidden)`` examples
    (at least 1, at most the batch) by :data:`BLOCK` pixels, or by :data:`SMALL_BLOCK` pixels when
    a tile's rows are few (:func:`_small`: there the per-operation overhead dominates)."""
    rows = max(1, min(batch, TILE // (BLOCK * max(hidden, 1))))
    return rows, (SMALL_BLOCK if _small(rows, hidden) else BLOCK)


def _small(rows: int, hidden: int) -> bool:
    """Tiles of at most ``SMALL_ROWS`` activations per pixel take the running sums inside a block
    as one masked matrix product (few, larger operations) instead of one operation per pixel."""
    return rows * hidden <= SMALL_ROWS


class _NADEPass(torch.autograd.Function):
    """Logits of every NADE conditional, (B, D, K), from v (B, D), W (H, D), c (H,), V (D, K, H).

    Forward, per tile of ``block`` pixels and ``rows`` examples (layout (pixel, example, H)): the
    pre-activations a_{t+1} = a_t + x_t W[:, t] (one fused multiply-add per pixel, the running sum
    of eq. 4), h = sigmoid(a) for the whole tile at once, logits_t = V_t h_t. Saved: the
    pre-activation at the start of every block, (B, D / block, H), not h (B, D, H).
    Backward (blocks in reverse, h recomputed): dV_t = g_t^T h_t, da = (g V) h (1 - h), and with
    S_t = sum of da over the pixels after t (a running sum again), dW[:, t] = S_t^T x_t,
    dx_t = S_t W[:, t], dc = sum of all da. Every intermediate lives in a few tile buffers that
    are reused (cache-resident, no page faults), and the element-wise work runs over whole tiles.
    """

    @staticmethod
    def forward(ctx, v, W, c, V, rows: int, block: int, save: bool):  # noqa: D401
        b, d = v.shape
        hid = W.shape[0]
        wt, xt = W.t().contiguous(), v.t()  # (D, H), (D, B)
        out = v.new_empty(d, b, V.shape[1])  # (D, B, K): pixel-major
        starts = range(0, d, block)
        carries = v.new_empty(len(starts), b, hid) if save else None  # (blocks, B, H)
        a, h = v.new_empty(2, block, min(rows, b), hid)  # one tile of pre-activations / hidden units
        lower = torch.ones(block, block, dtype=v.dtype, device=v.device).tril(-1) if _small(rows, hid) else None
        for r0 in range(0, b, rows):
            n = min(rows, b - r0)
            carry = c.expand(n, hid)  # (r, H): pre-activation of the next pixel
            for i, s in enumerate(starts):
                m = min(block, d - s)
                if save:
                    carries[i, r0:r0 + n] = carry
                mask = None if lower is None else lower[:m, :m]
                ht = _hidden(xt[s:s + m, r0:r0 + n], wt[s:s + m], carry, a[:m, :n], h[:m, :n], mask)
                _output(ht, V[s:s + m], out[s:s + m, r0:r0 + n])
                if s + m < d and mask is not None:
                    carry = torch.addmm(carry, xt[s:s + m, r0:r0 + n].t(), wt[s:s + m])
                elif s + m < d:
                    carry = torch.addcmul(a[m - 1, :n], xt[s + m - 1, r0:r0 + n].unsqueeze(1), wt[s + m - 1])
        if save:
            ctx.save_for_backward(v, wt, V, carries)
            ctx.sizes = (rows, block)
        return out.permute(1, 0, 2)  # (B, D, K)

    @staticmethod
    def backward(ctx, grad):
        v, wt, V, carries = ctx.saved_tensors
        rows, block = ctx.sizes
        b, d = v.shape
        hid, k = wt.shape[1], V.shape[1]
        g = grad.permute(1, 0, 2)  # (D, B, K)
        need_x, need_w, need_c, need_v = ctx.needs_input_grad[:4]
        dwt = torch.zeros_like(wt)  # (D, H)
        dc = wt.new_zeros(hid)
        dV = torch.zeros_like(V)  # (D, K, H)
        dx = torch.zeros_like(v) if need_x else None
        xt = v.t()  # (D, B)
        starts = list(range(0, d, block))
        a, h, da, after = v.new_empty(4, block, min(rows, b), hid)  # tile buffers, reused
        lower = torch.ones(block, block, dtype=v.dtype, device=v.device).tril(-1) if _small(rows, hid) else None
        for r0 in range(0, b, rows):
            n = min(rows, b - r0)
            later = v.new_zeros(n, hid)  # (r, H): sum of da over the pixels after this block
            for i in range(len(starts) - 1, -1, -1):
                s = starts[i]
                m = min(block, d - s)
                xs, gs = xt[s:s + m, r0:r0 + n], g[s:s + m, r0:r0 + n]  # (m, r), (m, r, K)
                ht, dat, st = h[:m, :n], da[:m, :n], after[:m, :n]
                mask = None if lower is None else lower[:m, :m]
                ht = _hidden(xs, wt[s:s + m], carries[i, r0:r0 + n], a[:m, :n], ht, mask)  # recomputed
                dV[s:s + m].baddbmm_(gs.transpose(1, 2), ht)  # (m, K, H)
                if k == 1:
                    torch.mul(gs, V[s:s + m], out=dat)  # (m, r, H): dh
                else:
                    torch.bmm(gs, V[s:s + m], out=dat)
                torch.ops.aten.sigmoid_backward.grad_input(dat, ht, grad_input=dat)  # da
                if mask is not None:  # small tiles: the sums over later pixels as masked products
                    flat = dat.reshape(m * n, hid)
                    xm = (mask.unsqueeze(1) * xs.t().unsqueeze(0)).view(m * n, m)  # (m r, m): M[t, j] x_j
                    dwt[s:s + m].addmm_(xm.t(), flat).addmm_(xs, later)
                    if dx is not None:
                        dxm = (flat @ wt[s:s + m].t()).view(m, n, m) * mask.unsqueeze(1)  # (m, r, m)
                        dx[r0:r0 + n, s:s + m] = dxm.sum(0) + later @ wt[s:s + m].t()
                    later = later + dat.sum(0)
                    continue
                st[m - 1] = later
                for t in range(m - 2, -1, -1):
                    torch.add(st[t + 1], dat[t + 1], out=st[t])
                dwt[s:s + m] += torch.bmm(xs.unsqueeze(1), st).squeeze(1)  # (m, H)
                if dx is not None:
                    dx[r0:r0 + n, s:s + m] = torch.bmm(st, wt[s:s + m].unsqueeze(-1)).squeeze(-1).t()
                later = st[0] + dat[0]
            dc += later.sum(0)
        return (dx, dwt.t() if need_w else None, dc if need_c else None, dV if need_v else None,
                None, None, None)


def _hidden(xs: torch.Tensor, ws: torch.Tensor, carry: torch.Tensor, a: torch.Tensor, h: torch.Tensor,
            mask: torch.Tensor | None = None) -> torch.Tensor:
    """One tile's hidden units: xs (m, r) its pixels, ws (m, H) their columns of W, carry (r, H)
    the pre-activation of its first pixel -> h = sigmoid(a), a_{t+1} = a_t + x_t W[:, t], (m, r, H).
    Fills the buffers a and h, or with ``mask`` (strictly lower-triangular (m, m); small tiles)
    computes a as carry + (mask * x) @ W^T in one product and returns fresh tensors."""
    if mask is not None:
        m, n = xs.shape
        xm = (mask.unsqueeze(1) * xs.t().unsqueeze(0)).view(m * n, m)  # (m r, m)
        return torch.mm(xm, ws).view(m, n, -1).add_(carry).sigmoid_()
    a[0] = carry
    for t in range(1, a.shape[0]):
        torch.addcmul(a[t - 1], xs[t - 1].unsqueeze(1), ws[t - 1], out=a[t])
    return torch.sigmoid(a, out=h)


def _output(h: torch.Tensor, V: torch.Tensor, out: torch.Tensor) -> None:
    """out[t] = h[t] V[t]^T for a tile: h (m, r, H), V (m, K, H) -> out (m, r, K). For K = 1 as
    V (m, 1, H) @ h^T, the faster orientation of a batch of matrix-vector products."""
    if V.shape[1] == 1:
        out.copy_(torch.bmm(V, h.transpose(1, 2)).transpose(1, 2))
    else:
        out.copy_(torch.bmm(h, V.transpose(1, 2)))


def nade_logits(v: torch.Tensor, W: torch.Tensor, c: torch.Tensor, V: torch.Tensor,
                rows: int | None = None, block: int | None = None) -> torch.Tensor:
    """NADE's conditionals without output bias: v (B, D) in raster order, W (H, D), c (H,),
    V (D, K, H) -> (B, D, K). ``rows``, ``block``: tile sizes (default: :func:`tile_sizes`)."""
    default_rows, default_block = tile_sizes(v.shape[0], W.shape[0])
    rows, block = rows or default_rows, block or default_block
    save = torch.is_grad_enabled() and any(t.requires_grad for t in (v, W, c, V))
    return _NADEPass.apply(v, W, c, V, rows, block, save)


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
        v = to_raster(u)  # (B, D)
        V = self.V if self.vector_output else self.V.unsqueeze(1)  # (D, K, H)
        if v.requires_grad:  # gradients to the input (Jacobian checks): plain autograd
            out = reference_logits(v, self.W, self.c, V)
        else:
            out = nade_logits(v, self.W, self.c, V)  # (B, D, K)
        out = out if self.vector_output else out[..., 0]
        return from_raster(out + self.b, self.grid, self.vector_output)

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


def reference_logits(v: torch.Tensor, W: torch.Tensor, c: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """The same conditionals by plain autograd (eq. 2-3 as one exclusive cumulative sum over the
    pixels, O(B D H) memory): the check on :func:`nade_logits` and the path for input gradients."""
    terms = v.unsqueeze(-1) * W.t()  # (B, D, H): x_j W[:, j]
    a = c + torch.cat([torch.zeros_like(terms[:, :1]), terms[:, :-1].cumsum(1)], 1)  # sums over j < i
    h = torch.sigmoid(a)
    return torch.einsum("bdh,dkh->bdk", h, V)

"""MADE, the masked autoencoder for distribution estimation (Germain, Gregor, Murray & Larochelle 2015).

An MLP whose weights are multiplied by 0/1 masks so that output d only depends on the inputs
before d in an ordering (section 4). Every unit gets a *degree*: inputs m^0(d) in 1..D (the
position of d in the ordering), hidden units m^l(k) drawn uniformly from
[min_k' m^{l-1}(k'), D - 1] (eq. 12 and the text after it). The masks are

    M^{W^l}[k, k'] = 1[m^l(k) >= m^{l-1}(k')]     (hidden layers, eq. 12)
    M^V[d, k]      = 1[m^0(d) >  m^L(k)]          (output layer, eq. 13)
    M^A[d, d']     = 1[m^0(d) >  m^0(d')]         (optional direct input-output connections: an FVSBN)

so p(x) = prod_d p(x_d | x_{m^0 < m^0(d)}) is exact and normalised, at one network pass.

The model holds a fixed, seeded set of ``masks`` degree assignments (buffers saved with the
weights). Connectivity-agnostic training (section 4.4, :mod:`genzoo.objectives.made`) draws one per
step from this set, or a fresh one; with ``order_agnostic`` each also has its own random input
ordering (mask 0 keeps the natural order unless ``natural_first=False``). At test time ``log_prob``
averages the probabilities of the first ``ensemble`` masks of the set, log (1/E) sum_e p(x | mask
e), which is exact. Sampling reuses work: a hidden unit of degree g depends on the inputs of degree
<= g only, so it is computed once, just after the g-th input is drawn: a whole sample costs one
network pass plus D output rows (``fast``); ``fast=False`` reruns the network for every input and
gives the same samples for the same noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import field
from genzoo.models.autoregressive._common import (
    AutoregressiveConfig,
    AutoregressiveModel,
    from_raster,
    level_log_probs,
    to_raster,
)
from genzoo.nn.nets import ACTIVATIONS, activation
from genzoo.registry import register_model

#: the degrees of one mask: [m^0 (D,), m^1 (H_1,), ..., m^L (H_L,)], long tensors
Degrees = list[torch.Tensor]


@dataclass(frozen=True)
class MADEConfig(AutoregressiveConfig):
    hidden: tuple[int, ...] = field((500,), help="hidden layer sizes (Germain et al.: one or two layers of 500)")
    activation: str = field("relu", choices=tuple(ACTIVATIONS), help="hidden nonlinearity")
    direct: bool = field(False, help="add direct input-output connections (masked like an FVSBN)")
    masks: int = field(1, help="size of the fixed set of masks (1 = one MADE; training may draw from the set)")
    order_agnostic: bool = field(False, help="every mask of the set also gets its own random input ordering "
                                 "(else all use the natural order)")
    natural_first: bool = field(True, help="mask 0 of the set keeps the natural input order even when order_agnostic "
                                "(False: its ordering is random too, as the MADE authors' code shuffles a single mask)")
    ensemble: int = field(0, help="masks whose probabilities log_prob and sample average (0 = all of the set)")
    mask_seed: int = field(0, help="seed of the set of masks")


@register_model("made", config=MADEConfig, objectives=("mask-sampling", "nll"), family="autoregressive",
                summary="MADE: masked MLP autoencoder, one pass per likelihood; mask sampling and ensembles")
class MADE(AutoregressiveModel):
    def __init__(self, config: MADEConfig):
        super().__init__(config)
        if not config.hidden or min(config.hidden) < 1:
            raise ValueError(f"hidden must list one or more positive layer sizes, got {config.hidden}")
        if config.masks < 1:
            raise ValueError(f"masks must be at least 1, got {config.masks}")
        if not 0 <= config.ensemble <= config.masks:
            raise ValueError(f"ensemble must be in 0..masks ({config.masks}), got {config.ensemble}")
        d, k = config.dim, self.out_per_pixel
        sizes = (d, *config.hidden)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = activation(config.activation)
        self.out = nn.Linear(sizes[-1], d * k)  # rows (d, k)
        self.direct = nn.Linear(d, d * k, bias=False) if config.direct else None
        if self.direct is not None:
            nn.init.zeros_(self.direct.weight)
        gen = torch.Generator().manual_seed(config.mask_seed)
        first = self.random_degrees(gen, ordered=config.natural_first)
        sets = [first] + [self.random_degrees(gen) for _ in range(config.masks - 1)]
        for layer in range(len(sizes)):  # (masks, size of layer): degree of every unit in every mask
            self.register_buffer(f"degrees{layer}", torch.stack([s[layer] for s in sets]))

    @property
    def ensemble_size(self) -> int:
        return self.config.ensemble or self.config.masks

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Output biases start at the training marginals (the independent-pixel fit)."""
        self.out.bias.copy_(self.marginal_logits(x).reshape(-1))

    # ---- masks ----------------------------------------------------------------------------------
    def random_degrees(self, generator: torch.Generator | None = None, *, ordered: bool = False) -> Degrees:
        """A fresh degree assignment (section 4.2, 4.4): the input ordering is random when the
        config is ``order_agnostic`` (unless ``ordered``), hidden degrees uniform in
        [min of the layer below, D - 1] (0 when D = 1: units that see no input)."""
        d = self.config.dim
        if self.config.order_agnostic and not ordered:
            m0 = torch.randperm(d, generator=generator, device="cpu") + 1  # on the CPU: degrees are drawn there
        else:
            m0 = torch.arange(1, d + 1, device="cpu")
        degrees, low = [m0], 1
        for size in self.config.hidden:
            if low > d - 1:
                m = torch.zeros(size, dtype=torch.long, device="cpu")
            else:
                m = torch.randint(low, d, (size,), generator=generator, device="cpu")
            degrees.append(m)
            low = int(m.min())
        return [m.to(self.device) for m in degrees]

    def mask_degrees(self, i: int) -> Degrees:
        """The degrees of mask ``i`` of the fixed set."""
        if not 0 <= i < self.config.masks:
            raise ValueError(f"mask index must be in 0..{self.config.masks - 1}, got {i}")
        return [getattr(self, f"degrees{layer}")[i] for layer in range(len(self.config.hidden) + 1)]

    def masked_weights(self, degrees: Degrees) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor | None]:
        """(hidden weights W^l * M^{W^l}, output V * M^V, direct A * M^A or None) for ``degrees``."""
        k = self.out_per_pixel
        hidden = [layer.weight * (degrees[i + 1].unsqueeze(1) >= degrees[i].unsqueeze(0))  # eq. 12
                  for i, layer in enumerate(self.layers)]
        m0 = degrees[0]
        out = self.out.weight * (m0.unsqueeze(1) > degrees[-1].unsqueeze(0)).repeat_interleave(k, 0)  # eq. 13
        direct = None
        if self.direct is not None:
            direct = self.direct.weight * (m0.unsqueeze(1) > m0.unsqueeze(0)).repeat_interleave(k, 0)
        return hidden, out, direct

    # ---- the network ----------------------------------------------------------------------------
    def masked_logits(self, v: torch.Tensor, degrees: Degrees) -> torch.Tensor:
        """Logits of every conditional under one mask: v (B, D) in [0, 1] -> (B, D) or (B, D, K)."""
        hidden, out_w, direct_w = self.masked_weights(degrees)
        h = v
        for w, layer in zip(hidden, self.layers):
            h = self.act(F.linear(h, w, layer.bias))
        out = F.linear(h, out_w, self.out.bias)
        if direct_w is not None:
            out = out + F.linear(v, direct_w)
        return out.view(v.shape[0], self.config.dim, -1) if self.categorical else out

    def _logits(self, u: torch.Tensor) -> torch.Tensor:
        """Conditionals under mask 0 of the set, on the grid (the base class's ``forward``)."""
        return from_raster(self.masked_logits(to_raster(u), self.mask_degrees(0)), self.grid, self.categorical)

    # ---- likelihood -----------------------------------------------------------------------------
    def log_prob_under(self, x: torch.Tensor, degrees: Degrees) -> torch.Tensor:
        """Exact log p(x | mask) in nats: (B,). One network pass."""
        self.check_input(x)
        v = to_raster(self.to_unit(x))  # (B, D)
        logits = self.masked_logits(v, degrees)
        if self.categorical:
            target = to_raster(self.targets(x))
            return level_log_probs(logits.transpose(1, 2), target).sum(1)
        return -F.binary_cross_entropy_with_logits(logits, v, reduction="none").sum(1)

    def log_prob_ensemble(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """Exact log of the average probability of the first ``n`` masks of the set: (B,)."""
        if not 1 <= n <= self.config.masks:
            raise ValueError(f"ensemble size must be in 1..{self.config.masks}, got {n}")
        per = torch.stack([self.log_prob_under(x, self.mask_degrees(i)) for i in range(n)])  # (n, B)
        return torch.logsumexp(per, 0) - math.log(n)

    def log_prob(self, x: torch.Tensor, *, k: int | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Exact log p(x) of the ensemble of ``ensemble`` masks (nats, (B,)); ``k`` and
        ``generator`` are unused (the likelihood is exact and deterministic)."""
        return self.log_prob_ensemble(x, self.ensemble_size)

    # ---- sampling -------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition=None,
               fast: bool = True, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Ancestral sampling in each mask's ordering: (n, *shape) in data space. With an ensemble
        every sample first draws its mask uniformly from the first ``ensemble`` masks. ``noise``
        (n, D) is the uniform variate of each step t (the t-th input of the ordering)."""
        if condition is not None:
            raise ValueError("MADE is unconditional: condition must be None")
        if n < 1:
            raise ValueError(f"number of samples must be positive, got {n}")
        d, dtype = self.config.dim, next(self.parameters()).dtype
        e = self.ensemble_size
        which = (torch.randint(e, (n,), generator=generator) if e > 1 else torch.zeros(n, dtype=torch.long))
        if noise is None:
            noise = torch.rand(n, d, generator=generator, dtype=dtype).to(self.device)
        elif tuple(noise.shape) != (n, d):
            raise ValueError(f"noise must have shape {(n, d)}, got {tuple(noise.shape)}")
        v = torch.zeros(n, d, dtype=dtype, device=self.device)
        for i in which.unique().tolist():
            rows = (which == i).nonzero().squeeze(1).to(self.device)
            run = self._sample_fast if fast else self._sample_naive
            v[rows] = run(self.mask_degrees(i), noise[rows])
        return self.from_unit(v).reshape(n, *self.config.shape)

    def _sample_naive(self, degrees: Degrees, noise: torch.Tensor) -> torch.Tensor:
        """One full network pass per input: (n, D) in [0, 1]."""
        v = torch.zeros_like(noise)
        for t, pixel in enumerate(torch.argsort(degrees[0]).tolist()):
            v[:, pixel] = self._draw(self.masked_logits(v, degrees)[:, pixel], noise[:, t])
        return v

    def _sample_fast(self, degrees: Degrees, noise: torch.Tensor) -> torch.Tensor:
        """Every hidden unit computed once, when its last input is known: (n, D) in [0, 1].

        Inputs are kept in the order they are drawn and each hidden layer's units sorted by degree
        (weights permuted once), so the units of degree t form one contiguous slice and see a
        prefix of the layer below: step t is one ``addmm`` per layer with units of degree t, and
        one for pixel o_t's outputs over the prefix of the last layer with degrees <= t (its mask,
        eq. 13). No masks or index copies per step; the masked-out terms that the full pass adds
        are exact zeros, so the logits equal the naive sampler's up to summation order."""
        hidden_w, out_w, direct_w = self.masked_weights(degrees)
        k, d, n = self.out_per_pixel, self.config.dim, noise.shape[0]
        order = torch.argsort(degrees[0])  # step t draws pixel order[t] (degree t + 1)
        rows = (order.unsqueeze(1) * k + torch.arange(k, device=order.device)).flatten()  # output rows, by step
        below = order  # columns of each layer's weights: the layer below, in its sorted order
        ws, bs, ends = [], [], []  # sorted weights, biases, and end[t] = units of degree <= t
        for w, layer, m in zip(hidden_w, self.layers, degrees[1:]):
            perm = torch.argsort(m, stable=True)
            ws.append(w[perm][:, below].contiguous())
            bs.append(layer.bias[perm])
            ends.append(torch.searchsorted(m[perm], torch.arange(d + 1, device=m.device), right=True).tolist())
            below = perm
        v_out = out_w[rows][:, below].contiguous()  # (D K, H_L): rows by step, columns by degree
        b_out = self.out.bias[rows]
        a_out = direct_w[rows][:, order].contiguous() if direct_w is not None else None  # (D K, D)
        v = noise.new_zeros(n, d)  # values in the order drawn
        hs = [v.new_zeros(n, w.shape[0]) for w in ws]  # (n, H_l), sorted by degree
        for t in range(d):
            for layer, (w, b, h, end) in enumerate(zip(ws, bs, hs, ends)):
                lo, hi = end[t - 1] if t else 0, end[t]  # units of degree t
                if hi > lo:
                    seen = ends[layer - 1][t] if layer else t  # units of the layer below of degree <= t
                    inp = hs[layer - 1][:, :seen] if layer else v[:, :t]
                    h[:, lo:hi] = self.act(torch.addmm(b[lo:hi], inp, w[lo:hi, :seen].t()))
            e = ends[-1][t]  # pixel o_t sees the last layer's units of degree <= t
            logits = torch.addmm(b_out[t * k:(t + 1) * k], hs[-1][:, :e], v_out[t * k:(t + 1) * k, :e].t())
            if a_out is not None:
                logits = logits.addmm(v[:, :t], a_out[t * k:(t + 1) * k, :t].t())
            v[:, t] = self._draw(logits if self.categorical else logits[:, 0], noise[:, t])
        out = torch.empty_like(v)
        out[:, order] = v
        return out

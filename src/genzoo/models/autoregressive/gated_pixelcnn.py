"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders").

Two stacks replace the masked convolutions of :mod:`~genzoo.models.autoregressive.pixelcnn`, which
removes its blind spot (the pixels up and to the right that a stack of masked 3x3 convolutions
never sees):

* the **vertical** stack convolves a (k//2 + 1) x k window of the rows at and above each position;
  its output at row r may depend on anything in rows <= r, so it reaches the horizontal stack only
  after a shift down by one row (rows < r);
* the **horizontal** stack convolves a 1 x (k//2 + 1) window of the current row up to the current
  column (the first layer shifts right by one: strictly earlier columns), adds the vertical
  stack's contribution through a 1x1 convolution, and has residual connections.

Both use the gated unit ``tanh(a) * sigmoid(b)``. Output: ReLU, 1x1, ReLU, 1x1 to the logits
(:class:`~genzoo.models.autoregressive._stack.MaskedHead`).

RGB (PixelRNN paper, section 3.4): the horizontal stack's features are split into channel
groups; its tap at the current pixel is masked between groups (mask A in the first layer, which
otherwise sees only earlier columns, mask B after), as are its 1x1 output convolutions. The
vertical stack sees only earlier rows and needs no channel mask.

Conditioning (section 2.3, eq. 4): with ``classes > 0`` (a label y, one-hot h) or
``condition_dim > 0`` (any vector h, e.g. an embedding) every gated unit becomes
``tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h)`` in both stacks; ``log_prob(x, condition=y)``,
``sample(n, condition=y)``, and the ``nll`` objective trains on the dataset's labels batch["y"].

Incremental sampling (Ramachandran et al. 2017, "Fast generation for convolutional autoregressive
models"): once row r-1 is complete, every layer's vertical convolution is evaluated on that one
row, from a cache of the (kernel // 2 + 1) rows of its input that it reads, which gives the
vertical stack's contribution to all of row r; each sub-pixel then needs the horizontal stack at
its own position only, from per-layer caches of the row's earlier inputs (the horizontal kernels
are one row high). A whole sample costs about one full pass of the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import field
from genzoo.models.autoregressive._common import AutoregressiveConfig, AutoregressiveModel
from genzoo.models.autoregressive._stack import MaskedHead, check_features
from genzoo.nn.masked import CurrentColumnMaskedConv2d
from genzoo.registry import register_model


@dataclass(frozen=True)
class GatedPixelCNNConfig(AutoregressiveConfig):
    features: int = field(64, help="feature maps of each stack")
    layers: int = field(12, help="gated layers (the first sees strictly earlier pixels)")
    first_kernel: int = field(7, help="kernel width k of the first layer")
    kernel: int = field(3, help="kernel width k of the later layers")
    output_features: int = field(64, help="features of the 1x1 output layer")
    classes: int = field(0, help="condition on a class label with this many classes (0: unconditional); "
                                 "trained on the dataset's labels")
    condition_dim: int = field(0, help="condition on a vector of this size (0: none); exclusive with classes")


def _gate(a: torch.Tensor) -> torch.Tensor:
    t, s = a.chunk(2, dim=1)
    return torch.tanh(t) * torch.sigmoid(s)


class GatedLayer(nn.Module):
    def __init__(self, in_channels: int, features: int, kernel: int, first: bool, data_channels: int = 1,
                 condition_dim: int = 0):
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"kernel widths must be odd and positive, got {kernel}")
        self.k, self.first = kernel, first
        self.rows = self.cols = kernel // 2 + 1
        g = {"data_channels": data_channels}
        self.v = nn.Conv2d(in_channels, 2 * features, (self.rows, kernel))
        # first layer: all taps are earlier columns (input shifted right); later: last tap = this pixel
        self.h = CurrentColumnMaskedConv2d(in_channels, 2 * features, (1, self.cols), "B", out_chunks=2,
                                           **(g if not first else {}))
        self.v_to_h = nn.Conv2d(2 * features, 2 * features, 1)
        self.h_out = CurrentColumnMaskedConv2d(features, features, (1, 1), "B", **g)
        # RGB, first layer: the channels of this pixel sampled before (mask A between groups)
        self.centre = (CurrentColumnMaskedConv2d(in_channels, 2 * features, (1, 1), "A", out_chunks=2, **g)
                       if first and data_channels > 1 else None)
        self.cond_v = nn.Linear(condition_dim, 2 * features, bias=False) if condition_dim else None
        self.cond_h = nn.Linear(condition_dim, 2 * features, bias=False) if condition_dim else None

    def vertical(self, v: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(next vertical input, its contribution to the horizontal stack at the same positions)."""
        a = self.v(F.pad(v, (self.k // 2, self.k // 2, self.rows - 1, 0)))  # rows <= r
        if self.cond_v is not None and cond is not None:
            a = a + self.cond_v(cond)[:, :, None, None]
        down = F.pad(a, (0, 0, 1, 0))[:, :, :-1]  # rows < r
        return _gate(a), self.v_to_h(down)

    def horizontal(self, h: torch.Tensor, from_v: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.first:  # columns < c: shift right by one
            a = self.h(F.pad(h, (self.cols, 0, 0, 0))[..., :-1])
            if self.centre is not None:
                a = a + self.centre(h)
        else:  # columns <= c (h at c already depends only on earlier pixels and channels)
            a = self.h(F.pad(h, (self.cols - 1, 0, 0, 0)))
        a = a + from_v
        if self.cond_h is not None and cond is not None:
            a = a + self.cond_h(cond)[:, :, None, None]
        out = self.h_out(_gate(a))
        return out if self.first else h + out

    # ---- incremental sampling: one row of the vertical stack, one position of the horizontal ----
    def new_state(self, n: int, height: int, width: int, like: torch.Tensor,
                  cond: torch.Tensor | None) -> dict[str, Any]:
        """Caches for :meth:`vertical_row` and :meth:`at`: this layer's vertical input, padded as in
        :meth:`vertical` (n, C_in, rows - 1 + H, W + k - 1); its horizontal input on the current row,
        channel-last and padded on the left as in :meth:`horizontal` (n, W + cols[- 1], C_in); the
        horizontal weights as one matrix over (tap, channel); and the vertical contribution to the
        current row plus every bias of the horizontal pre-activation, (n, W, 2F)."""
        cin, f2 = self.v.in_channels, self.v.out_channels
        wh = self.h.masked_weight()[:, :, 0]  # (2F, C_in, cols)
        h_bias = self.h.bias + (self.centre.bias if self.centre is not None else 0)  # (2F,)
        if self.cond_h is not None and cond is not None:
            h_bias = h_bias + self.cond_h(cond)  # (n, 2F)
        state = {"v": like.new_zeros(n, cin, self.rows - 1 + height, width + 2 * (self.k // 2)),
                 "h": like.new_zeros(n, width + self.cols - (0 if self.first else 1), cin),
                 "wh": wh.permute(0, 2, 1).reshape(f2, -1).t().contiguous(),  # (cols C_in, 2F)
                 "wo": self.h_out.masked_weight()[:, :, 0, 0],  # (F, F)
                 "centre": self.centre.masked_weight()[:, :, 0, 0] if self.centre is not None else None,
                 "h_bias": h_bias,
                 "cond_v": self.cond_v(cond) if self.cond_v is not None and cond is not None else None}
        state["from_v"] = self._to_horizontal(like.new_zeros(n, f2, width), state)  # row 0: nothing above
        return state

    def _to_horizontal(self, a: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
        """The vertical pre-activation of one row, a (n, 2F, W), as the next row's horizontal
        input (``v_to_h``, shifted down one row) plus the horizontal biases: (n, W, 2F)."""
        w = self.v_to_h.weight[:, :, 0, 0]
        return F.linear(a.transpose(1, 2), w, self.v_to_h.bias).add_(state["h_bias"].unsqueeze(-2))

    def vertical_row(self, v: torch.Tensor, state: dict[str, Any], q: int) -> torch.Tensor:
        """The vertical stack at complete row q: store this layer's input row v (n, C_in, W), return
        its output row (n, F, W) (the next layer's input) and keep its contribution to row q + 1."""
        cache, side = state["v"], self.k // 2
        cache[:, :, q + self.rows - 1, side: side + v.shape[-1]] = v
        a = F.conv2d(cache[:, :, q: q + self.rows], self.v.weight, self.v.bias)[:, :, 0]  # (n, 2F, W)
        if state["cond_v"] is not None:
            a = a + state["cond_v"].unsqueeze(-1)
        state["from_v"] = self._to_horizontal(a, state)
        return _gate(a)

    def at(self, h: torch.Tensor | None, state: dict[str, Any], c: int, pixel: torch.Tensor) -> torch.Tensor:
        """The horizontal stack's output at column c of the current row, (n, F), from this layer's
        input there, h (n, C_in) (the first layer: None; it reads the row's earlier pixels, which
        the caller writes into its cache, and the current ``pixel`` (n, C) for the RGB centre tap)."""
        cache = state["h"]
        if not self.first:
            cache[:, c + self.cols - 1] = h
        patch = cache[:, c: c + self.cols].reshape(cache.shape[0], -1)  # (n, cols C_in): a view
        a = torch.addmm(state["from_v"][:, c], patch, state["wh"])  # (n, 2F)
        if state["centre"] is not None:
            a = a.addmm(pixel, state["centre"].t())
        out = F.linear(_gate(a), state["wo"], self.h_out.bias)
        return out if self.first else h + out


@register_model("pixelcnn-gated", config=GatedPixelCNNConfig, objectives=("nll",), family="autoregressive",
                summary="Gated PixelCNN: vertical + horizontal stacks, gated units, no blind spot; "
                        "conditional with --classes")
class GatedPixelCNN(AutoregressiveModel):
    images_only = True

    def __init__(self, config: GatedPixelCNNConfig):
        super().__init__(config)
        check_features(config, ("features", "layers", "output_features"), {"features": 1, "output_features": 1})
        if config.classes < 0 or config.condition_dim < 0:
            raise ValueError("classes and condition_dim must be >= 0")
        if config.classes and config.condition_dim:
            raise ValueError("give classes (labels) or condition_dim (vectors), not both")
        if config.classes == 1:
            raise ValueError("classes must be 0 (unconditional) or at least 2")
        cond_dim = config.classes or config.condition_dim
        f, c = config.features, config.shape[0]
        self.stack = nn.ModuleList(
            [GatedLayer(c, f, config.first_kernel, True, c, cond_dim)]
            + [GatedLayer(f, f, config.kernel, False, c, cond_dim) for _ in range(config.layers - 1)])
        self.head = MaskedHead(f, config.output_features, c, self.out_per_pixel, not self.vector_output)

    def init_from_data(self, x: torch.Tensor) -> None:
        """Output bias at each channel's training marginal (see MaskedStackModel.init_from_data)."""
        self.head.init_bias(self.channel_marginal_logits(x))

    @property
    def conditional(self) -> bool:  # type: ignore[override]
        return bool(self.config.classes or self.config.condition_dim)

    @property
    def condition_type(self) -> str | None:  # type: ignore[override]
        """What ``sample``/``log_prob`` take as ``condition``: class labels, vectors, or nothing."""
        return "label" if self.config.classes else ("vector" if self.config.condition_dim else None)

    def _condition_for(self, condition: Any, n: int) -> torch.Tensor:
        """Labels (an int or n ints in 0..classes-1) -> one-hot (n, classes); vectors -> (n, dim).
        Sampling without a label cycles through the classes (sample i gets label i % classes)."""
        dtype = next(self.parameters()).dtype
        if self.config.classes:
            if condition is None:
                condition = torch.arange(n, device=self.device) % self.config.classes
            y = torch.as_tensor(condition, device=self.device).long().reshape(-1)
            y = y.expand(n) if y.numel() == 1 else y
            if y.numel() != n:
                raise ValueError(f"condition: expected one label or {n}, got {y.numel()}")
            if int(y.min()) < 0 or int(y.max()) >= self.config.classes:
                raise ValueError(f"condition: labels must lie in 0..{self.config.classes - 1}")
            return F.one_hot(y, self.config.classes).to(dtype)
        if condition is None:
            raise ValueError(f"this model is conditional on vectors of size {self.config.condition_dim}: "
                             "pass condition=")
        h = torch.as_tensor(condition, device=self.device, dtype=dtype)
        h = h.expand(n, -1) if h.dim() == 1 else h
        if tuple(h.shape) != (n, self.config.condition_dim):
            raise ValueError(f"condition: expected shape ({n}, {self.config.condition_dim}), got {tuple(h.shape)}")
        return h

    def _vertical(self, u: torch.Tensor, cond: torch.Tensor | None) -> list[torch.Tensor]:
        terms, v = [], u
        for layer in self.stack:
            v, from_v = layer.vertical(v, cond)
            terms.append(from_v)
        return terms

    def _horizontal(self, u: torch.Tensor, terms: list[torch.Tensor], cond: torch.Tensor | None) -> torch.Tensor:
        h = u
        for layer, from_v in zip(self.stack, terms):
            h = layer.horizontal(h, from_v, cond)
        return self.head(h)  # (B, C, H, W) or (B, P, C, H, W)

    def _logits(self, u: torch.Tensor, condition: Any = None) -> torch.Tensor:
        cond = self._condition_for(condition, u.shape[0]) if self.conditional else None
        return self._horizontal(u, self._vertical(u, cond), cond)

    def _fast_start(self, n, canvas, condition=None):
        cond = self._condition_for(condition, n) if self.conditional else None
        _, height, width = self.config.shape
        return {"row": 0, "layers": [layer.new_state(n, height, width, canvas, cond) for layer in self.stack]}

    def _fast_step(self, state, canvas, r, c, ch):
        layers = state["layers"]
        if state["row"] != r:  # row r-1 is complete: the vertical stack on it, once
            state["row"], v = r, canvas[:, :, r - 1]
            for layer, st in zip(self.stack, layers):
                v = layer.vertical_row(v, st, r - 1)
        first = self.stack[0]
        if ch == 0 and c:  # the previous pixel of this row, now complete, enters the first layer's cache
            layers[0]["h"][:, c - 1 + first.cols] = canvas[:, :, r, c - 1]
        h = None
        for layer, st in zip(self.stack, layers):
            h = layer.at(h, st, c, canvas[:, :, r, c])
        return self.head.pointwise(h)[..., ch]

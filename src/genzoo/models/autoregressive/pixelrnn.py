"""PixelRNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", section 3):
a 7x7 mask-A convolution, a stack of residual LSTM layers, then ReLU + 1x1 mask-B convolutions
to the logits (:mod:`~genzoo.models.autoregressive._stack`). RGB (section 3.4): the features of
every layer are split into channel groups; the input-to-state convolutions are masked between
groups at the centre (mask B: group g reads groups <= g of the same pixel) and the state-to-state
convolutions keep the groups apart on every tap, so R, G and B are predicted in that order.

* ``pixelrnn-row`` -- Row LSTM (section 3.1): processed row by row; the input-to-state part is a
  1x3 convolution along the row with mask B (columns c-1, c), the state-to-state part a 1-D
  convolution of width 3 over the previous row's hidden state. Receptive field: a triangle above
  the pixel plus the pixels to its left.
* ``pixelrnn-diag`` -- Diagonal BiLSTM (section 3.2): the 1x1 input-to-state map is skewed
  (:func:`~genzoo.nn.skew.skew`) so that each diagonal is a column, and a column LSTM with a 2x1
  state-to-state convolution (the states left and above) sweeps it. The right-to-left direction
  runs on the width-flipped map and its output is shifted down one row before the two are added,
  so no pixel sees itself or a later one. States at the skew padding are kept at zero.

Each LSTM layer is residual: y = x + 1x1(h) (section 3.3). LSTM gates follow eq. (3):
[o, f, i, g] = sigma(K_ss * h_prev + K_is * x), c = f c_prev + i g, h = o tanh(c).

Fast sampling computes, per layer, only the state at the pixel being generated (and, for the
right-to-left direction, the previous row once it is complete), from cached states.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import field
from genzoo.models.autoregressive._common import AutoregressiveConfig
from genzoo.models.autoregressive._stack import MaskedStackModel, check_features
from genzoo.nn.masked import GroupMaskedConv1d, MaskedConv2d, conv_at
from genzoo.nn.skew import skew, unskew
from genzoo.registry import register_model


@dataclass(frozen=True)
class PixelRNNConfig(AutoregressiveConfig):
    features: int = field(16, help="hidden features h of every LSTM layer (the paper's MNIST net: 16)")
    layers: int = field(7, help="residual LSTM layers (the paper's MNIST Diagonal BiLSTM: 7)")
    first_kernel: int = field(7, help="kernel of the first (mask-A) convolution")
    output_features: int = field(32, help="features of the 1x1 mask-B output layers")


def lstm_cell(gates: torch.Tensor, c_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """gates (B, 4F, ...) and c_prev (B, F, ...) -> (h, c), eq. (3) of van den Oord et al. 2016."""
    o, f, i, g = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class RowLSTMLayer(nn.Module):
    def __init__(self, features: int, data_channels: int = 1):
        super().__init__()
        g = {"data_channels": data_channels}
        self.input_to_state = MaskedConv2d(features, 4 * features, (1, 3), "B", out_chunks=4, **g)
        self.state_to_state = GroupMaskedConv1d(features, 4 * features, 3, padding=1, out_chunks=4, **g)
        self.out = MaskedConv2d(features, features, 1, "B", **g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, f, height, width = x.shape
        gi = self.input_to_state(x)  # (B, 4F, H, W)
        h = x.new_zeros(b, f, width)
        c = x.new_zeros(b, f, width)
        rows = []
        for r in range(height):
            h, c = lstm_cell(gi[:, :, r] + self.state_to_state(h), c)  # (B, F, W)
            rows.append(h)
        return x + self.out(torch.stack(rows, dim=2))

    def new_state(self, n: int, height: int, width: int, like: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.out.in_channels
        return {"x": self.input_to_state.new_cache(n, height, width, like),  # (n, F, H, W + 2)
                "h": like.new_zeros(n, f, 1 + height, width + 2),  # padded top, left, right
                "c": like.new_zeros(n, f, 1 + height, width)}

    def at(self, x: torch.Tensor, state: dict[str, torch.Tensor], r: int, c: int) -> torch.Tensor:
        """Layer output at (r, c) from its input there, x (n, F); row r-1 is in the caches."""
        self.input_to_state.write(state["x"], x, r, c)
        gi = self.input_to_state.at(state["x"], r, c)  # (n, 4F): columns c-1, c of row r
        ss = conv_at(state["h"], self.state_to_state.masked_weight().unsqueeze(2), self.state_to_state.bias,
                     r, c)  # (n, 4F): columns c-1..c+1 of row r-1
        h, cell = lstm_cell(gi + ss, state["c"][:, :, r, c])
        state["h"][:, :, r + 1, c + 1] = h
        state["c"][:, :, r + 1, c] = cell
        return x + self.out.pointwise(h)


class DiagonalBiLSTMLayer(nn.Module):
    def __init__(self, features: int, data_channels: int = 1):
        super().__init__()
        g = {"data_channels": data_channels}
        self.input_lr = MaskedConv2d(features, 4 * features, 1, "B", out_chunks=4, **g)
        self.input_rl = MaskedConv2d(features, 4 * features, 1, "B", out_chunks=4, **g)
        # taps: (row above, same row) of the previous column
        self.state_lr = GroupMaskedConv1d(features, 4 * features, 2, out_chunks=4, **g)
        self.state_rl = GroupMaskedConv1d(features, 4 * features, 2, out_chunks=4, **g)
        self.out = MaskedConv2d(features, features, 1, "B", **g)

    @staticmethod
    def _sweep(gi: torch.Tensor, conv: GroupMaskedConv1d) -> torch.Tensor:
        """Column LSTM over the skewed map of input-to-state terms gi (B, 4F, H, W): (B, F, H, W)."""
        b, f4, height, width = gi.shape
        g = skew(gi)  # (B, 4F, H, W + H - 1)
        valid = skew(gi.new_ones(1, 1, height, width))  # (1, 1, H, W + H - 1): 1 inside the image
        h = gi.new_zeros(b, f4 // 4, height)
        c = torch.zeros_like(h)
        cols = []
        for s in range(g.shape[-1]):
            h, c = lstm_cell(g[..., s] + conv(F.pad(h, (1, 0))), c)  # (B, F, H)
            h, c = h * valid[..., s], c * valid[..., s]
            cols.append(h)
        return unskew(torch.stack(cols, dim=-1), width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lr = self._sweep(self.input_lr(x), self.state_lr)  # (B, F, H, W)
        rl = self._sweep(self.input_rl(x).flip(-1), self.state_rl).flip(-1)
        rl = F.pad(rl, (0, 0, 1, 0))[:, :, :-1]  # row r receives row r-1: no pixel of row r leaks
        return x + self.out(lr + rl)

    def new_state(self, n: int, height: int, width: int, like: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.out.in_channels
        z = like.new_zeros
        return {"x": z(n, f, height, width),
                "h_lr": z(n, f, 1 + height, 1 + width), "c_lr": z(n, f, height, 1 + width),  # pad top/left
                "h_rl": z(n, f, 1 + height, width + 1), "c_rl": z(n, f, height, width + 1)}  # pad top/right

    def _cell(self, conv: GroupMaskedConv1d, gi: torch.Tensor, h_above: torch.Tensor, h_side: torch.Tensor,
              c_side: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = conv.masked_weight()  # (4F, F, 2)
        ss = h_above @ w[:, :, 0].t() + h_side @ w[:, :, 1].t() + conv.bias
        return lstm_cell(gi + ss, c_side)

    def _right_to_left_row(self, state: dict[str, torch.Tensor], q: int) -> None:
        """Fill the right-to-left states of (complete) row q, from column W-1 down to 0."""
        width = state["x"].shape[-1]
        gi = self.input_rl(state["x"][:, :, q: q + 1])[:, :, 0]  # (n, 4F, W)
        for j in range(width - 1, -1, -1):
            h, c = self._cell(self.state_rl, gi[:, :, j], state["h_rl"][:, :, q, j],
                              state["h_rl"][:, :, q + 1, j + 1], state["c_rl"][:, :, q, j + 1])
            state["h_rl"][:, :, q + 1, j] = h
            state["c_rl"][:, :, q, j] = c

    def at(self, x: torch.Tensor, state: dict[str, torch.Tensor], r: int, c: int) -> torch.Tensor:
        if c == 0 and r > 0:
            self._right_to_left_row(state, r - 1)
        state["x"][:, :, r, c] = x
        h, cell = self._cell(self.state_lr, self.input_lr.pointwise(x), state["h_lr"][:, :, r, c + 1],
                             state["h_lr"][:, :, r + 1, c], state["c_lr"][:, :, r, c])
        state["h_lr"][:, :, r + 1, c + 1] = h
        state["c_lr"][:, :, r, c + 1] = cell
        return x + self.out.pointwise(h + state["h_rl"][:, :, r, c])  # h_rl row r = image row r-1


class _PixelRNN(MaskedStackModel):
    images_only = True
    layer_cls: type[nn.Module]

    def __init__(self, config: PixelRNNConfig):
        super().__init__(config)
        check_features(config, ("features", "output_features", "first_kernel"),
                       {"features": 1, "output_features": 1})
        f = config.features
        self.build_input(f, config.first_kernel)
        self.layers = nn.ModuleList(self.layer_cls(f, config.shape[0]) for _ in range(config.layers))
        self.build_head(f, config.output_features)

    def stack(self) -> nn.ModuleList:
        return self.layers


@register_model("pixelrnn-row", config=PixelRNNConfig, objectives=("nll",), family="autoregressive",
                summary="PixelRNN Row LSTM: row-by-row LSTM with masked 1-D convolutions")
class RowLSTM(_PixelRNN):
    layer_cls = RowLSTMLayer


@register_model("pixelrnn-diag", config=PixelRNNConfig, objectives=("nll",), family="autoregressive",
                summary="PixelRNN Diagonal BiLSTM: skewed column LSTMs in two directions")
class DiagonalBiLSTM(_PixelRNN):
    layer_cls = DiagonalBiLSTMLayer

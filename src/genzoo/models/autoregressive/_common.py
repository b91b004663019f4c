"""What every autoregressive model shares: the output distribution, ``log_prob`` and sampling.

A model only defines ``_logits(u)``, the logits of every conditional p(x_i | x_<i) computed at
once from the images ``u`` in [0, 1] (teacher forcing), and optionally the incremental sampler
``_fast_start`` / ``_fast_step``. Pixels are ordered in raster order: index
``i = (h * W + w) * C + c``. Binary vectors of shape (D,) (no image structure) are handled as
images of shape (1, 1, D) inside (:attr:`AutoregressiveModel.grid`): the models see 4-d tensors,
and inputs and outputs keep the data's own shape (B, D).

Output types (``likelihood``):
* ``"bernoulli"``: one logit per pixel, for binary data (x in {0, 1}); logits (B, C, H, W).
* ``"categorical"``: a ``levels``-way softmax per pixel for quantised data x = k / (levels - 1)
  (8-bit: levels=256, the target is round(255 x)); logits (B, levels, C, H, W)
  (PixelRNN paper, section 5.3: a discrete softmax over pixel values).
* ``"logistic-mixture"``: a mixture of ``mixtures`` discretized logistics per pixel (one indicator
  shared by its channels) with the PixelCNN++ linear dependence of G on R and B on R, G
  (:class:`~genzoo.nn.discretized.LogisticMixture`);
  parameters (B, P, C, H, W), P = mixtures * (2 + C).
Data in [-1, 1] (``input_scale="pm1"``) are mapped to [0, 1] first, and samples are mapped back.
The discrete likelihoods take the integer level of each value per batch
(:func:`~genzoo.nn.discretized.to_levels`) and refuse values off the grid (dequantized data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from genzoo.config import field
from genzoo.data.transforms import from_unit as scale_from_unit
from genzoo.data.transforms import to_unit as scale_to_unit
from genzoo.models.base import GenerativeModel, ModelConfig, check_count
from genzoo.nn import random as rng
from genzoo.nn.discretized import LogisticMixture, inverse_cdf, to_levels

LIKELIHOODS = ("bernoulli", "categorical", "logistic-mixture")
COUNT_CHUNK = 1024  # examples per step when counting training marginals: memory per chunk, not per dataset


@dataclass(frozen=True)
class AutoregressiveConfig(ModelConfig):
    likelihood: str = field("bernoulli", choices=LIKELIHOODS,
                            help="per-pixel output: Bernoulli logits (binary data), a softmax over levels, or "
                                 "a discretized logistic mixture (PixelCNN++)")
    levels: int = field(256, help="number of pixel values for the discrete likelihoods (256 = 8 bit)")
    mixtures: int = field(10, help="logistic-mixture: components per pixel")
    input_scale: str = field("01", choices=("01", "pm1"),
                             help="range of the data: [0, 1] or [-1, 1] (mapped to [0, 1] inside)")


class AutoregressiveModel(GenerativeModel):
    """Base class: subclasses implement ``_logits(u)`` with u in [0, 1], shape (B, C, H, W)."""

    exact_likelihood = True
    #: largest number of data channels the model's masks handle (None: any)
    max_channels: int | None = None
    #: convolutional models need images (C, H, W) and refuse vector data (D,)
    images_only: bool = False
    #: whether the model's own log_prob/sampling paths handle the logistic-mixture output
    supports_mixture: bool = True
    #: whether log_prob/sample take a ``condition`` (class labels or vectors)
    conditional: bool = False

    def __init__(self, config: AutoregressiveConfig):
        super().__init__(config)
        if len(config.shape) not in (1, 3):
            raise ValueError(f"shape must be (C, H, W) or (D,), got {config.shape}")
        #: the (C, H, W) the networks work on: the data shape, or (1, 1, D) for vectors (D,)
        self.grid: tuple[int, int, int] = tuple(config.shape) if len(config.shape) == 3 else (1, 1, config.shape[0])
        if config.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {', '.join(LIKELIHOODS)}, got {config.likelihood!r}")
        if config.likelihood != "bernoulli" and config.levels < 2:
            raise ValueError(f"levels must be at least 2, got {config.levels}")
        if config.likelihood == "logistic-mixture" and not self.supports_mixture:
            raise ValueError(f"{type(self).__name__} does not support likelihood=logistic-mixture")
        self.mixture = (LogisticMixture(self.grid[0], config.mixtures, config.levels)
                        if config.likelihood == "logistic-mixture" else None)
        if config.input_scale not in ("01", "pm1"):
            raise ValueError(f"input_scale must be '01' or 'pm1', got {config.input_scale!r}")
        if self.images_only and len(config.shape) != 3:
            raise ValueError(f"{type(self).__name__} is convolutional and needs images (C, H, W); "
                             f"got vector data of shape {tuple(config.shape)} (use nade, made or fvsbn)")
        if self.max_channels is not None and config.shape[0] > self.max_channels:
            raise ValueError(f"{type(self).__name__} supports {self.max_channels} data channel(s) only "
                             f"(got shape {tuple(config.shape)}); RGB channel masking is not implemented")

    # ---- output distribution -------------------------------------------------------------------
    @property
    def categorical(self) -> bool:
        return self.config.likelihood == "categorical"

    @property
    def likelihood_type(self) -> str:
        """The data contract (:mod:`genzoo.data.spec`): what ``log_prob`` is a distribution over."""
        return "discretized_logistic" if self.config.likelihood == "logistic-mixture" else self.config.likelihood

    @property
    def vector_output(self) -> bool:
        """Whether each sub-pixel has a vector of outputs (categorical, logistic mixture): the
        outputs are then (B, P, C, H, W), else (B, C, H, W)."""
        return self.config.likelihood != "bernoulli"

    @property
    def out_per_pixel(self) -> int:
        """Outputs per sub-pixel: 1 (Bernoulli), ``levels`` (categorical) or the mixture's parameters."""
        if self.mixture is not None:
            return self.mixture.num_params
        return self.config.levels if self.categorical else 1

    @property
    def likelihood_levels(self) -> int | None:
        """The data contract (:mod:`genzoo.data.spec`): levels of the categorical likelihood."""
        return self.config.levels if self.vector_output else None

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Data space -> [0, 1]."""
        return scale_to_unit(x, self.config.input_scale)

    def from_unit(self, u: torch.Tensor) -> torch.Tensor:
        """[0, 1] -> data space."""
        return scale_from_unit(u, self.config.input_scale)

    def targets(self, x: torch.Tensor) -> torch.Tensor:
        """Discrete targets: the integer level of each sub-pixel, (B, C, H, W) long, taken per
        batch; a ValueError when x is off the level grid (dequantized)."""
        return to_levels(self.to_unit(x), self.config.levels)

    @torch.no_grad()
    def marginal_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of each pixel's training marginal in raster order, smoothed by one pseudo-count:
        (D,) log-odds (Bernoulli) or (D, levels) log-frequencies (categorical). The usual
        initial output bias: the model then starts at the independent-pixel fit. Counted
        ``COUNT_CHUNK`` examples at a time: memory per chunk, whatever the dataset size. For the
        logistic mixture (no closed-form fit): (D, P) with equal weights, means spread evenly over
        [-0.9, 0.9] (distinct components, so that they can specialise) and scales 2 / M."""
        n, d = x.shape[0], x[0].numel()
        if self.mixture is not None:
            m = self.config.mixtures
            out = x.new_zeros(d, self.out_per_pixel)
            out[:, m: 2 * m] = torch.linspace(-0.9, 0.9, m, dtype=x.dtype, device=x.device) if m > 1 else 0.0
            out[:, 2 * m: 3 * m] = math.log(2.0 / m)
            return out
        if self.categorical:
            k = self.config.levels
            counts = torch.zeros(d * k, dtype=torch.float64, device=x.device)
            offsets = torch.arange(d, device=x.device) * k  # (D,)
            for s in range(0, n, COUNT_CHUNK):
                idx = to_raster(self.targets(x[s: s + COUNT_CHUNK])) + offsets  # (b, D)
                counts += torch.bincount(idx.flatten(), minlength=d * k).double()
            return torch.log((counts.view(d, k) + 1.0) / (n + k)).to(x.dtype)
        p = (to_raster(self.to_unit(x)).sum(0) + 1.0) / (n + 2.0)  # (D,)
        return torch.log(p) - torch.log1p(-p)

    @torch.no_grad()
    def channel_marginal_logits(self, x: torch.Tensor) -> torch.Tensor | None:
        """Per data channel, pooled over positions: (C,) log-odds (Bernoulli) or (C, levels)
        smoothed log-frequencies (categorical); None for the mixture. Counted in chunks."""
        if self.mixture is not None:
            return None
        c = self.config.shape[0]
        if not self.categorical:
            p = (self.to_unit(x).transpose(0, 1).reshape(c, -1).mean(1) * len(x) + 1) / (len(x) + 2)
            return torch.log(p) - torch.log1p(-p)
        k = self.config.levels
        counts = torch.zeros(c * k, dtype=torch.float64, device=x.device)
        offsets = (torch.arange(c, device=x.device) * k).view(1, c, 1, 1)
        for s in range(0, len(x), COUNT_CHUNK):
            counts += torch.bincount((self.targets(x[s: s + COUNT_CHUNK]) + offsets).flatten(),
                                     minlength=c * k).double()
        counts = counts.view(c, k)
        return torch.log((counts + 1) / (counts.sum(1, keepdim=True) + k)).to(x.dtype)

    def on_grid(self, x: torch.Tensor) -> torch.Tensor:
        """Data (B, *shape) -> (B, *grid): vectors (B, D) become (B, 1, 1, D); images are unchanged."""
        return x.reshape(x.shape[0], *self.grid)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs of every conditional: logits (B, C, H, W) (Bernoulli), (B, levels, C, H, W)
        (categorical) or mixture parameters (B, P, C, H, W); for vector data (B, D) / (B, P, D)."""
        self.check_input(x)
        out = self._outputs(self.on_grid(self.to_unit(x)), condition)
        return out.reshape(*out.shape[:-3], *self.config.shape)

    def _logits(self, u: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _outputs(self, u: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        """``_logits(u)``, with the condition for conditional models (which take it as a keyword)."""
        if self.conditional:
            if condition is None:
                raise ValueError(f"{type(self).__name__} is conditional: pass condition= (labels or vectors)")
            return self._logits(u, condition=condition)
        if condition is not None:
            raise ValueError(f"{type(self).__name__} is not conditional: it takes no condition")
        return self._logits(u)

    def pixel_log_probs(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x_i | x_<i) for every pixel: (B, C, H, W), or (B, 1, 1, D) for vectors."""
        self.check_input(x)
        x = self.on_grid(x)
        u = self.to_unit(x)
        if self.vector_output:
            k = self.targets(x)  # (B, C, H, W) levels, checked to be on the grid
            logits = self._outputs(u, condition)
            if self.mixture is not None:
                return self.mixture.log_prob(logits, k)
            return level_log_probs(logits, k)  # (B, C, H, W)
        return -F.binary_cross_entropy_with_logits(self._outputs(u, condition), u, reduction="none")

    def conditional_log_probs(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x_i = v | x_<i) for every value v of every sub-pixel i, teacher-forced on x:
        (B, V, C, H, W) with V = 2 (Bernoulli: values 0, 1) or ``levels``."""
        self.check_input(x)
        x = self.on_grid(x)
        out = self._outputs(self.to_unit(x), condition)
        if self.mixture is not None:
            return self.mixture.all_levels(out, self.targets(x))
        if self.categorical:
            return torch.log_softmax(out, dim=1)
        return torch.stack([F.logsigmoid(-out), F.logsigmoid(out)], dim=1)

    def log_prob(self, x: torch.Tensor, *, k: int | None = None, generator: torch.Generator | None = None,
                 condition: torch.Tensor | None = None) -> torch.Tensor:
        """Exact log p(x) (or log p(x | condition)) = sum_i log p(x_i | x_<i) in nats: (B,)
        (``k``, ``generator``: unused, the likelihood is exact)."""
        return self.pixel_log_probs(x, condition).flatten(1).sum(1)

    # ---- sampling --------------------------------------------------------------------------------
    def _draw(self, logits: torch.Tensor, u: torch.Tensor, pixel: torch.Tensor | None = None,
              ch: int = 0, earlier: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Inverse-CDF draw of one sub-pixel from its outputs ((B,) or (B, P)) with uniform noise
        ``u`` (B,): returns the value in [0, 1]. The mixture also reads the earlier channels of the
        same pixel: their values ``pixel`` (B, C) in [0, 1] (linear dependence) and their outputs
        ``earlier`` (ch tensors (B, P): the pixel's mixture logits and the indicator's posterior)."""
        if not self.vector_output:
            return (u < torch.sigmoid(logits)).to(u.dtype)
        levels = self.config.levels
        if self.mixture is not None:
            earlier = earlier or []
            if pixel is None or len(earlier) != ch:
                raise ValueError("the logistic mixture needs the earlier channels of the pixel to draw")
            k_pixel = torch.round(pixel * (levels - 1)).long()  # (B, C)
            outs = [*earlier, *[logits] * (pixel.shape[1] - ch)]  # channels after ch are not read
            logits = self.mixture.all_levels(torch.stack(outs, -1), k_pixel, ch)  # (B, levels)
        return inverse_cdf(logits, u).to(u.dtype) / (levels - 1)

    def _pick(self, logits: torch.Tensor, r: int, c: int, ch: int) -> torch.Tensor:
        """Outputs of sub-pixel (r, c, ch) from a full output map: (B,) or (B, P)."""
        return logits[:, :, ch, r, c] if self.vector_output else logits[:, ch, r, c]

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Any = None,
               fast: bool = True, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Ancestral sampling in raster order: (n, C, H, W) in data space ([0, 1] by default).

        The uniform noise for every pixel is drawn up front, (n, H, W, C) in raster order (or given
        as ``noise``), so ``fast=True`` (incremental: reuses earlier computation) and ``fast=False``
        (reruns the whole network for each pixel) give identical samples for the same generator.
        Conditional models take ``condition`` (see their ``sample``).
        """
        n = check_count(n)
        self.check_condition(condition)
        ch_, h, w = self.grid
        dtype = next(self.parameters()).dtype
        noise = self.sampling_noise(n, generator, noise)
        canvas = torch.zeros(n, ch_, h, w, dtype=dtype, device=self.device)  # values in [0, 1]
        cond_kw = {"condition": condition} if self.conditional else {}
        if condition is not None and not self.conditional:
            raise ValueError(f"{type(self).__name__} is not conditional: it takes no condition")
        state = self._fast_start(n, canvas, **cond_kw) if fast else None
        for r in range(h):
            for c in range(w):
                earlier: list[torch.Tensor] = []  # this pixel's outputs so far (read by the mixture)
                for ch in range(ch_):
                    if fast:
                        logits = self._fast_step(state, canvas, r, c, ch)
                    else:
                        logits = self._pick(self._logits(canvas, **cond_kw), r, c, ch)
                    canvas[:, ch, r, c] = self._draw(logits, noise[:, r, c, ch], canvas[:, :, r, c], ch, earlier)
                    earlier.append(logits)
        return self.from_unit(canvas).reshape(n, *self.config.shape)

    def sampling_noise(self, n: int, generator: torch.Generator | None, noise: torch.Tensor | None) -> torch.Tensor:
        """The uniform variate of every sub-pixel, (n, H, W, C) in raster order: drawn from
        ``generator``, or ``noise`` checked for that shape."""
        ch_, h, w = self.grid
        if noise is None:
            dtype = next(self.parameters()).dtype
            return rng.rand((n, h, w, ch_), generator=generator, dtype=dtype, device=self.device)
        if tuple(noise.shape) != (n, h, w, ch_):
            raise ValueError(f"noise must have shape {(n, h, w, ch_)}, got {tuple(noise.shape)}")
        return noise

    def _fast_start(self, n: int, canvas: torch.Tensor) -> Any:
        """State of the incremental sampler (caches); default: none (naive per pixel)."""
        return None

    def _fast_step(self, state: Any, canvas: torch.Tensor, r: int, c: int, ch: int) -> torch.Tensor:
        """Outputs ((n,) or (n, P)) of sub-pixel (r, c, ch), given ``canvas`` filled before it."""
        return self._pick(self._logits(canvas), r, c, ch)


def level_log_probs(logits: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[k] over the levels: logits (B, K, ...), integer targets k (B, ...) ->
    (B, ...). Softmax over the last axis of ``logits.movedim(1, -1)``, which is contiguous when
    the model writes the K outputs of a sub-pixel together (no copy; 1.8x faster than
    ``F.cross_entropy`` over the strided axis 1 for 256 levels, benchmarks/perf_ar.py)."""
    lp = torch.log_softmax(logits.movedim(1, -1), -1)  # (B, ..., K)
    return lp.gather(-1, k.unsqueeze(-1)).squeeze(-1)


def to_raster(u: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, D) in raster order (channel last); vectors (B, D) pass through."""
    if u.dim() == 2:
        return u
    return u.permute(0, 2, 3, 1).reshape(u.shape[0], -1)


def from_raster(v: torch.Tensor, shape: tuple[int, ...], categorical: bool) -> torch.Tensor:
    """(B, D) -> (B, C, H, W), or (B, D, K) -> (B, K, C, H, W) when ``categorical``; for a
    vector shape (D,): (B, D), or (B, K, D)."""
    if len(shape) == 1:
        return v.transpose(1, 2) if categorical else v
    ch, h, w = shape
    if categorical:
        return v.reshape(v.shape[0], h, w, ch, -1).permute(0, 4, 3, 1, 2)
    return v.reshape(v.shape[0], h, w, ch).permute(0, 3, 1, 2)


def raster_index(shape: tuple[int, ...], r: int, c: int, ch: int) -> int:
    return (r * shape[2] + c) * shape[0] + ch

"""The data contract: one frozen record of what the data are, checked by models, objectives and
evaluators before anything is trained or reported.

A :class:`DataSpec` is derived from the ``DataConfig`` and the loaded dataset
(:meth:`DataSpec.from_data`), written into a run's ``config.json`` under ``"data_spec"``, and read
back by ``genzoo eval`` / ``compare`` / ``anomaly`` / ``probe``. Its fields:

* ``shape``: one example, ``(C, H, W)`` for images or ``(D,)`` for vectors;
* ``kind``: ``"binary"`` (values exactly {0, 1}), ``"quantized"`` (``levels`` equally spaced values
  ``k / (levels - 1)``, k = 0..levels-1: 256 for 8-bit images, 17 for scikit-learn's digits) or
  ``"continuous"``;
* ``levels``: 2 for binary data, L for quantized data, None for continuous data;
* ``scale``: ``"01"`` ([0, 1]) or ``"pm1"`` ([-1, 1], the same grid mapped by ``2 u - 1``);
* ``binarization``: how binary data became binary: ``"static"`` (one seeded draw at load time),
  ``"dynamic"`` (a fresh draw per training batch; valid/test drawn once) or ``"none"`` (the source
  is binary already, or the data are not binary);
* ``dequantization``: ``"uniform"`` (quantized data: the level k becomes ``(k + u) / L`` with
  u ~ U[0, 1), Theis et al. 2016, sec. 3.1, mapped to ``scale``) or ``"none"``.

Models declare the family of their ``log_prob`` with ``likelihood_type`` (a key of
:data:`LIKELIHOOD_KINDS`: ``bernoulli``, ``categorical``, ``gaussian``, ``discretized_logistic``
..., or None for models without a likelihood) and, for categorical and discretized likelihoods,
``likelihood_levels``. :meth:`DataSpec.check_model` compares the two and either raises a one-line
:class:`~genzoo.data.errors.DataError` (a combination that makes no sense) or says what the
model's figure on these data is (:data:`FIGURES`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch

from genzoo.data.errors import DataError
from genzoo.data.transforms import SCALES, from_unit, to_unit, value_range

if TYPE_CHECKING:
    from genzoo.data.datasets import DataConfig

KINDS = ("binary", "quantized", "continuous")
BINARIZATIONS = ("none", "static", "dynamic")
DEQUANTIZATIONS = ("none", "uniform")

#: what a likelihood is a distribution over (the values of :data:`LIKELIHOOD_KINDS`):
#: ``bernoulli`` one probability per value in {0, 1}; ``categorical`` an L-way softmax over the
#: integer levels; ``discretized`` a continuous law integrated over each level's bin (e.g. the
#: discretized logistic mixture of PixelCNN++); ``continuous`` a density (e.g. a Gaussian decoder).
LIKELIHOODS = ("bernoulli", "categorical", "discretized", "continuous")

#: a model's ``likelihood_type`` (the family) -> what it is a distribution over (:data:`LIKELIHOODS`)
LIKELIHOOD_KINDS = {
    "bernoulli": "bernoulli",
    "categorical": "categorical",
    "discretized": "discretized", "discretized_logistic": "discretized",
    "continuous": "continuous", "gaussian": "continuous", "logistic": "continuous",
}

#: what the figure ``-log_prob(x)`` is on data of a given spec (:meth:`DataSpec.check_likelihood`):
#: ``nll``: the NLL of the discrete data; ``dequantized_bound``: after dequantization and the
#: bin-width correction, an upper bound on the NLL of the discrete data; ``continuous_nll``: a
#: density's NLL on continuous data; ``bce_grey``: a Bernoulli loss on grey values (a
#: reconstruction loss, not a likelihood); ``grid_density``: a density evaluated at the grid
#: points of discrete data (unbounded, not a likelihood of the discrete data).
FIGURES = ("nll", "dequantized_bound", "continuous_nll", "bce_grey", "grid_density")

#: figures that are (or bound) a negative log-likelihood
LIKELIHOOD_FIGURES = ("nll", "dequantized_bound", "continuous_nll")

GIVES_A_LIKELIHOOD = ("a likelihood needs --binarize static/dynamic (Bernoulli), or --decoder gaussian "
                      "with --dequantize (a bound on the discrete NLL), or a categorical/discretized "
                      "likelihood on the integer levels")


@dataclass(frozen=True)
class DataSpec:
    """What the data are; see the module docstring for the fields. Build it with :meth:`from_data`."""

    shape: tuple[int, ...]
    kind: str
    levels: int | None
    scale: str = "01"
    binarization: str = "none"
    dequantization: str = "none"

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        if not self.shape or any(s < 1 for s in self.shape) or len(self.shape) not in (1, 3):
            raise DataError(f"data_spec.shape: expected (C, H, W) or (D,) with positive sizes, got {self.shape}")
        for name, value, allowed in (("kind", self.kind, KINDS), ("scale", self.scale, SCALES),
                                     ("binarization", self.binarization, BINARIZATIONS),
                                     ("dequantization", self.dequantization, DEQUANTIZATIONS)):
            if value not in allowed:
                raise DataError(f"data_spec.{name}: {value!r} is not one of {', '.join(allowed)}")
        if self.kind == "binary":
            if self.levels != 2:
                raise DataError(f"data_spec.levels: binary data have 2 levels, got {self.levels}")
            if self.scale != "01":
                raise DataError("scale=pm1: binary data stay in {0, 1}")
            if self.dequantization != "none":
                raise DataError("dequantize: binary data have no levels to dequantize")
        elif self.binarization != "none":
            raise DataError(f"data_spec.binarization: {self.binarization!r} needs kind 'binary', "
                            f"got {self.kind!r}")
        if self.kind == "quantized" and (self.levels is None or self.levels < 2):
            raise DataError(f"data_spec.levels: quantized data need at least 2 levels, got {self.levels}")
        if self.kind == "continuous":
            if self.levels is not None:
                raise DataError(f"data_spec.levels: continuous data have no levels, got {self.levels}")
            if self.dequantization != "none":
                raise DataError("dequantize: continuous data have no levels to dequantize")

    # ---- construction and serialisation --------------------------------------------------------
    @classmethod
    def from_data(cls, config: DataConfig, dataset) -> DataSpec:
        """The spec of ``dataset`` as loaded by :func:`genzoo.data.load_dataset` from ``config``."""
        binary = bool(dataset.binary)
        levels = getattr(dataset, "levels", None)
        kind = "binary" if binary else ("continuous" if levels is None else "quantized")
        return cls(shape=tuple(dataset.shape), kind=kind, levels=2 if binary else levels,
                   scale=config.scale, binarization=config.binarize if binary else "none",
                   dequantization="uniform" if config.dequantize else "none")

    def to_dict(self) -> dict:
        """A JSON-ready dict (the ``"data_spec"`` entry of config.json)."""
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DataSpec:
        unknown = set(d) - {"shape", "kind", "levels", "scale", "binarization", "dequantization"}
        if unknown:
            raise DataError(f"data_spec: unknown field(s) {', '.join(sorted(unknown))}")
        try:
            return cls(**d)
        except TypeError as e:
            raise DataError(f"data_spec: {e}") from None

    def describe(self) -> str:
        """One line, e.g. ``quantized 17 levels, dequantized (uniform), [0, 1], 1x8x8``."""
        lo, hi = self.value_range
        what = {"binary": f"binary ({self.binarization} binarization)" if self.binarization != "none"
                else "binary (source)", "quantized": f"quantized {self.levels} levels",
                "continuous": "continuous"}[self.kind]
        if self.dequantization == "uniform":
            what += ", dequantized (uniform)"
        return f"{what}, [{lo:g}, {hi:g}], {'x'.join(map(str, self.shape))}"

    # ---- geometry --------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Values per example, D."""
        return math.prod(self.shape)

    @property
    def value_range(self) -> tuple[float, float]:
        return value_range(self.scale)

    @property
    def bin_width(self) -> float | None:
        """Width in data space of one dequantization cell, (high - low) / L; None when not dequantized."""
        if self.dequantization != "uniform":
            return None
        lo, hi = self.value_range
        return (hi - lo) / self.levels

    @property
    def discrete_offset(self) -> float:
        """-D log(bin width): added to a density's NLL of dequantized data it gives the bound on the
        discrete NLL, -log P(k) <= E_u[-log p((k + u) / L)] + D log L in [0, 1] (Theis et al. 2016,
        eq. 9; D log(L/2) in [-1, 1]). 0 when the data are not dequantized."""
        w = self.bin_width
        return 0.0 if w is None else -self.dim * math.log(w)

    # ---- transforms --------------------------------------------------------------------------------
    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Data space -> [0, 1]."""
        return to_unit(x, self.scale)

    def from_unit(self, u: torch.Tensor) -> torch.Tensor:
        """[0, 1] -> data space."""
        return from_unit(u, self.scale)

    def integer_levels(self, x: torch.Tensor) -> torch.Tensor:
        """The integer level k (long, 0..L-1) of each value of clean (not dequantized) binary or
        quantized data ``x`` (on the grid ``k / (L - 1)`` in [0, 1])."""
        if self.levels is None:
            raise DataError("continuous data have no integer levels")
        return torch.round(self.to_unit(x) * (self.levels - 1)).long().clamp(0, self.levels - 1)

    def dequantize(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Clean grid data ``x`` -> ``(k + u) / L`` with u ~ U[0, 1), in data space: exactly the
        per-batch training transform. Needs ``dequantization="uniform"``."""
        if self.dequantization != "uniform":
            raise DataError("dequantize: these data are not dequantized (dequantization='none')")
        from genzoo.data.transforms import BatchTransform

        return BatchTransform(dequantize_levels=self.levels, pm1=self.scale == "pm1")(x, generator)

    def eval_transform(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """What training applied to every batch, for held-out data (which are already binarized at
        load time under static/dynamic binarization): dequantization when the data are
        dequantized, else ``x`` unchanged."""
        return self.dequantize(x, generator) if self.dequantization == "uniform" else x

    # ---- the contract --------------------------------------------------------------------------------
    def check_likelihood(self, likelihood: str | None, levels: int | None = None, *, who: str = "the model"
                         ) -> str | None:
        """What ``-log p(x)`` of a model with ``likelihood_type=likelihood`` (and, for categorical and
        discretized likelihoods, ``levels``) is on these data: one of :data:`FIGURES`, or None for a
        model without a likelihood. Raises a one-line :class:`DataError` naming ``who`` and the
        option to change when the combination makes no sense:

        * Bernoulli/BCE with ``scale=pm1`` (its targets must lie in [0, 1]);
        * a categorical or discretized likelihood on dequantized or continuous data (it models the
          integer levels; ``round`` of a dequantized value moves targets to the next level), or
          with another number of levels than the data have.
        """
        if likelihood is None:
            return None
        if likelihood not in LIKELIHOOD_KINDS:
            raise DataError(f"{who}: likelihood_type {likelihood!r} is not one of {', '.join(LIKELIHOOD_KINDS)}")
        likelihood = LIKELIHOOD_KINDS[likelihood]
        if likelihood == "bernoulli":
            if self.scale == "pm1":
                raise DataError(f"scale=pm1: {who} has a Bernoulli likelihood (BCE), whose targets must lie "
                                "in [0, 1]; use --scale 01")
            return "nll" if self.kind == "binary" else "bce_grey"
        if likelihood in ("categorical", "discretized"):
            if self.dequantization == "uniform":
                raise DataError(f"dequantize: {who} has a {likelihood} likelihood over the integer levels, "
                                "which must see the levels themselves; drop --dequantize")
            if self.kind == "continuous":
                raise DataError(f"{who}: a {likelihood} likelihood needs binary or quantized data, "
                                "these are continuous")
            if levels is not None and levels != self.levels:
                raise DataError(f"levels: {who} models {levels} levels per value, the data have {self.levels}")
            return "nll"
        if self.dequantization == "uniform":
            return "dequantized_bound"
        return "continuous_nll" if self.kind == "continuous" else "grid_density"

    def check_model(self, model, *, who: str | None = None) -> str | None:
        """:meth:`check_likelihood` for ``model``'s declared ``likelihood_type`` and
        ``likelihood_levels``; also checks the shape the model was built for."""
        who = who or f"model {getattr(model, 'registry_name', '') or type(model).__name__}"
        shape = getattr(getattr(model, "config", None), "shape", None)
        if shape is not None and tuple(shape) != self.shape:
            raise DataError(f"{who} was built for data of shape {tuple(shape)}, these data are {self.shape}")
        return self.check_likelihood(getattr(model, "likelihood_type", None),
                                     getattr(model, "likelihood_levels", None), who=who)


def figure_label(figure: str | None, *, exact: bool = True, k: int | None = None) -> str:
    """A human-readable label of a figure kind (:data:`FIGURES`), as eval JSON and compare print."""
    how = "exact" if exact else f"importance-sampled estimate, k={k}"
    return {
        "nll": f"NLL ({how})",
        "dequantized_bound": f"upper bound on the discrete NLL via uniform dequantization ({how} "
                             "of the continuous density)",
        "continuous_nll": f"continuous NLL ({how})",
        "bce_grey": "BCE on grey values (not a likelihood)",
        "grid_density": "density at the grid points of discrete data (not a likelihood)",
        None: "no likelihood",
    }[figure]


def not_a_likelihood_message(figure: str, who: str) -> str:
    """The one-line refusal for figures that are not a likelihood (``bce_grey``, ``grid_density``)."""
    if figure == "bce_grey":
        return (f"{who}: a Bernoulli likelihood on grey-level data gives a BCE on grey values, not a "
                f"likelihood, so no NLL or bits/dim is reported; {GIVES_A_LIKELIHOOD}")
    return (f"{who}: a continuous density on undequantized discrete data is unbounded and not a likelihood "
            f"of the discrete data, so no NLL or bits/dim is reported; train with --dequantize")

"""Test log-likelihood in nats and bits/dim, with standard errors over the test set, labelled with
what the figure is (the data contract, :mod:`genzoo.data.spec`).

* Binary data under a Bernoulli likelihood, or quantized data under a categorical/discretized one:
  the NLL of the discrete data, exact (autoregressive models) or an importance-sampled estimate
  with ``k`` samples (latent-variable models, which also report the negative ELBO, a bound).
* Dequantized quantized data under a continuous density (a Gaussian decoder trained with
  ``--dequantize``): the test data are dequantized exactly as in training, ``x = (k + u) / L``
  (mapped to the data range), and the figure is the standard upper bound on the NLL of the
  discrete data (Theis et al. 2016, eq. 9; reported so by PixelCNN++ and Glow):
  ``-log P(k) <= E_u[-log p((k + u) / L)] + D log L`` ([0, 1] data; ``D log(L / 2)`` in
  [-1, 1]), with E_u averaged over ``dequant_draws`` draws per test example, in nats and in
  bits/dim of the discrete data.
* A Bernoulli likelihood on grey-level data (a BCE on grey values) and a density at the grid
  points of undequantized discrete data are not likelihoods: :func:`evaluate_likelihood` refuses
  them with a one-line message saying which options give one.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from genzoo.data.errors import DataError
from genzoo.data.spec import LIKELIHOOD_FIGURES, DataSpec, figure_label, not_a_likelihood_message
from genzoo.models.base import bits_per_dim
from genzoo.nn.random import seeded_generator
from genzoo.objectives.variational import elbo


def _mean_stderr(values: torch.Tensor) -> tuple[float, float]:
    v = values.double()
    n = v.numel()
    return float(v.mean()), float(v.std(unbiased=True) / math.sqrt(n)) if n > 1 else 0.0


def likelihood_figure(model, spec: DataSpec | None, *, who: str | None = None) -> str:
    """What ``-model.log_prob`` is on data of ``spec`` (see :data:`genzoo.data.spec.FIGURES`);
    raises a one-line ``DataError`` for combinations that make no sense, ValueError for models
    without a likelihood. ``spec=None`` (no contract known) takes the figure at face value."""
    if not getattr(model, "has_likelihood", False):
        raise ValueError(f"{who or type(model).__name__} has no likelihood to evaluate")
    if spec is None:
        return "nll"
    return spec.check_model(model, who=who) or "nll"


@torch.no_grad()
def evaluate_likelihood(model, x: torch.Tensor, spec: DataSpec | None = None, *, k: int = 5000,
                        batch_size: int = 100, seed: int = 0, dequant_draws: int = 1,
                        who: str | None = None, condition: torch.Tensor | None = None,
                        compile: bool = False) -> dict:
    """NLL of the clean test data ``x`` under ``model``, labelled (see the module docstring).

    Returns ``n``, ``figure`` (the kind, :data:`~genzoo.data.spec.FIGURES`), ``label`` (in words),
    ``bound`` (True when the figure is an upper bound on the NLL), ``exact`` (False for an
    importance-sampled estimate, with its ``k``), ``nll_nats`` with ``nll_stderr`` (standard error
    over the test examples), ``bits_per_dim``; latent-variable models add ``neg_elbo_nats``,
    ``neg_elbo_stderr`` and ``elbo_bits_per_dim``; dequantized data add ``dequantization``
    (levels, draws per example, the D log(L/width) offset in nats). ``condition``: one condition per
    row of ``x`` (e.g. the test labels) for conditional models, which then report -log p(x | y).
    ``compile``: latent-variable models compute the IS-NLL's log-weights compiled (``log_prob(...,
    compile=True)``, :mod:`genzoo.evaluation.importance`): the same draws and value, faster once
    compiled."""
    figure = likelihood_figure(model, spec, who=who)
    if figure not in LIKELIHOOD_FIGURES:
        raise DataError(not_a_likelihood_message(figure, who or f"model {type(model).__name__}"))
    if dequant_draws < 1:
        raise ValueError(f"dequant_draws: must be >= 1, got {dequant_draws}")
    dequantized = figure == "dequantized_bound"
    draws = dequant_draws if dequantized else 1
    offset = spec.discrete_offset if dequantized else 0.0
    model.eval()
    dev = model.device
    g = seeded_generator(seed, dev)
    dim = math.prod(x.shape[1:])
    latent = not getattr(model, "exact_likelihood", True)
    if compile and not latent:
        raise ValueError(f"compile: only the importance-sampled NLL of a latent-variable model is compiled; "
                         f"{who or type(model).__name__} has an exact likelihood")
    compiled = {"compile": True} if compile else {}
    nll, neg_elbo = [], []
    if getattr(model, "condition_type", None) is None:
        condition = None  # unconditional models take none
    elif condition is None:
        raise ValueError(f"{who or type(model).__name__} is conditional ({model.condition_type}): its likelihood "
                         "needs the conditions of the test data, which these data do not have")
    conditions = [None] * math.ceil(len(x) / batch_size) if condition is None else condition.split(batch_size)
    for chunk, cond in zip(x.split(batch_size), conditions):
        chunk = chunk.to(dev)
        given = {} if cond is None else {"condition": cond.to(dev)}
        nll_sum = torch.zeros(len(chunk), dtype=torch.float64, device=dev)
        elbo_sum = torch.zeros_like(nll_sum)
        for _ in range(draws):  # E_u by averaging dequantization draws (one pass when not dequantized)
            xs = spec.dequantize(chunk, g) if dequantized else chunk
            if latent:
                nll_sum -= model.log_prob(xs, k=k, generator=g, **given, **compiled).double()
                elbo_sum -= elbo(model, xs, generator=g).double()
            else:
                nll_sum -= model.log_prob(xs, **given).double()
        nll.append((nll_sum / draws).cpu())
        neg_elbo.append((elbo_sum / draws).cpu())
    mean, se = _mean_stderr(torch.cat(nll) + offset)
    out = {"n": int(x.shape[0]), "conditional": condition is not None, "figure": figure,
           "label": figure_label(figure, exact=not latent, k=k),
           "bound": dequantized, "nll_nats": mean, "nll_stderr": se, "bits_per_dim": bits_per_dim(mean, dim),
           "exact": not latent}
    if latent:
        out["k"] = k
        m, s = _mean_stderr(torch.cat(neg_elbo) + offset)
        out.update({"neg_elbo_nats": m, "neg_elbo_stderr": s, "elbo_bits_per_dim": bits_per_dim(m, dim)})
    if dequantized:
        out["dequantization"] = {"levels": spec.levels, "draws_per_example": draws,
                                 "offset_nats": offset, "scale": spec.scale}
    return out


def run_data_spec(run_dir: str | Path, dataset, data_config) -> DataSpec:
    """The data contract for evaluating a run on ``dataset`` (loaded from ``data_config``): the
    spec of these data, which must agree with the one recorded at training time (config.json
    ``"data_spec"``; runs older than the contract have none and use the derived one)."""
    from genzoo.training.run import read_run_config

    spec = getattr(dataset, "spec", None) or DataSpec.from_data(data_config, dataset)
    recorded = read_run_config(run_dir).get("data_spec")
    if recorded is not None:
        trained = DataSpec.from_dict(recorded)
        if trained != spec:
            raise DataError(f"{Path(run_dir) / 'config.json'}: the run was trained on {trained.describe()} "
                            f"data, these are {spec.describe()}")
    return spec


def random_subset(x: torch.Tensor, limit: int | None, seed: int = 0) -> torch.Tensor:
    """A seeded random subset of ``limit`` rows (data files are often ordered by class)."""
    if limit is None or limit >= len(x):
        return x
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:limit]]

"""--compile: the training step compiles without a graph break at its random draws (the trainer
hands a compiled step no explicit torch.Generator), and it still trains."""

import functools

import pytest
import torch

from genzoo.data import load_dataset
from genzoo.registry import get_objective
from genzoo.training import TrainConfig, Trainer
from genzoo.training.run import build_model


@pytest.mark.slow
@pytest.mark.parametrize("name,objective", [("vae", "elbo"), ("vae", "iwae")])
def test_compiled_training_step_has_no_graph_breaks(name, objective, tiny_data, monkeypatch):
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    # the eager backend traces with dynamo exactly as the default one does, without a C++ toolchain
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    data = load_dataset(tiny_data)
    torch.manual_seed(0)
    model = build_model(name, data.shape, hidden=(16,), latent_dim=2)
    entry = get_objective(objective)
    obj = entry.objective_cls(entry.config_cls(**({"samples": 3} if objective == "iwae" else {})))
    cfg = TrainConfig(epochs=1, batch_size=50, max_steps=2, compile=True, device="cpu", progress=False,
                      validate=False, sample_every=0)
    metrics = Trainer(model, obj, data, cfg).fit()
    assert sum(counters["graph_break"].values()) == 0, dict(counters["graph_break"])
    assert sum(counters["stats"].values()) > 0  # dynamo did trace the step
    assert all(v == v for k, v in metrics.items() if isinstance(v, float))  # finite, not NaN

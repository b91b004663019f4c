"""The blocked, streamed IS-NLL (evaluation/importance.py) against the direct computation: the
same draws from the same generator, one log-sum-exp over all k log-weights."""

import math

import pytest
import torch

from genzoo.evaluation.importance import importance_sampled_log_prob
from genzoo.objectives.variational import log_weights
from genzoo.training.run import build_model


def _direct(model, x, k, chunk, seed):
    """All k log-weights, ``chunk`` samples per call of log_weights (the draws the estimator makes),
    then one log-sum-exp."""
    g = torch.Generator().manual_seed(seed)
    lw = torch.cat([log_weights(model, x, min(chunk, k - s), g) for s in range(0, k, chunk)])  # (k, B)
    return torch.logsumexp(lw.double(), dim=0) - math.log(k)


@pytest.mark.parametrize("variant,block_rows", [("vae", 64), ("vae", 10_000), ("vae-vamp", 7), ("vae", 1)])
def test_blocked_streamed_estimate_equals_the_direct_one(variant, block_rows):
    torch.manual_seed(0)
    kw = {"pseudo_inputs": 9} if variant == "vae-vamp" else {}
    model = build_model(variant, (1, 6, 6), hidden=(20,), latent_dim=3, **kw).eval()
    x = (torch.rand(5, 1, 6, 6) < 0.4).float()
    k, chunk = 230, 100  # chunks of 100, 100, 30; blocks of block_rows // 5 samples
    ours = importance_sampled_log_prob(model, x, k=k, chunk=chunk, block_rows=block_rows,
                                       generator=torch.Generator().manual_seed(3))
    direct = _direct(model, x, k, chunk, seed=3)
    assert ours.shape == (5,) and ours.dtype == torch.float32
    # float32 log-weights of ~25 nats summed in another order: ~1e-6 relative
    torch.testing.assert_close(ours.double(), direct, rtol=0, atol=2e-5)


def test_one_sample_is_the_log_weight_and_bad_arguments_are_refused():
    torch.manual_seed(0)
    model = build_model("vae", (1, 4, 4), hidden=(8,), latent_dim=2).eval()
    x = (torch.rand(3, 1, 4, 4) < 0.5).float()
    ours = importance_sampled_log_prob(model, x, k=1, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(ours, log_weights(model, x, 1, torch.Generator().manual_seed(1))[0])
    for bad in ({"k": 0}, {"k": 5, "chunk": 0}, {"k": 5, "block_rows": 0}):
        with pytest.raises(ValueError, match="must be >= 1"):
            importance_sampled_log_prob(model, x, **bad)

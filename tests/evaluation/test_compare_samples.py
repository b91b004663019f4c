"""compare's sampler: true samples from every family, None only for models that do not sample,
and an error inside a sampler propagates instead of reading as "cannot sample"."""

import pytest
import torch
from torch import nn

from genzoo.evaluation.compare import draw_samples
from genzoo.models.base import GenerativeModel, ModelConfig
from genzoo.training.run import build_model


class Broken(GenerativeModel):
    def __init__(self):
        super().__init__(ModelConfig(shape=(1, 2, 2)))
        self.w = nn.Parameter(torch.zeros(()))

    def sample(self, n, *, generator=None, condition=None):
        raise ValueError("a bug inside the sampler")


def test_a_sampler_error_propagates():
    with pytest.raises(ValueError, match="bug inside"):
        draw_samples(Broken(), 4)


def test_models_that_do_not_sample_give_none_and_a_vae_gives_binary_draws():
    assert draw_samples(build_model("ae", (1, 4, 4)), 4) is None
    assert draw_samples(build_model("cyclegan", (1, 8, 8), width=4, res_blocks=1), 4) is None
    s = draw_samples(build_model("vae", (1, 4, 4), hidden=(8,)).eval(), 7, batch_size=3)
    assert s.shape == (7, 1, 4, 4) and set(s.unique().tolist()) <= {0.0, 1.0}
    s2 = draw_samples(build_model("cgan", (1, 8, 8), g_hidden=(8,), d_hidden=(8,)).eval(), 5)
    assert s2.shape == (5, 1, 8, 8)  # a conditional model samples with random labels


def test_decoder_means_only_on_request_and_labelled():
    from genzoo.evaluation.compare import format_table

    vae = build_model("vae", (1, 4, 4), hidden=(8,)).eval()
    means = draw_samples(vae, 6, means=True)
    assert means.shape == (6, 1, 4, 4) and not set(means.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(NotImplementedError, match="no decoder means"):
        draw_samples(build_model("gan", (1, 8, 8), g_hidden=(8,), d_hidden=(8,)).eval(), 2, means=True)
    row = {"run": "r", "model": "vae", "fid": 1.0, "features": "cnn", "n_samples": 6, "sampled": "decoder means"}
    assert "6 decoder means vs real test images" in format_table([row])

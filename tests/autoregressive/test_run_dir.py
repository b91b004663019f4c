"""The autoregressive models go through the shared trainer and come back from a run directory."""

import numpy as np
import pytest
import torch

import genzoo

MODEL_NAMES = ("independent", "fvsbn", "nade", "nade-oa", "pixelcnn", "pixelcnn-gated", "pixelrnn-row", "pixelrnn-diag")
TINY = {
    "independent": {}, "fvsbn": {}, "nade": {"hidden": 6}, "nade-oa": {"hidden": (6,), "orderings": 2},
    "pixelcnn": {"features": 6, "residual_blocks": 1, "output_features": 6, "first_kernel": 3},
    "pixelcnn-gated": {"features": 4, "layers": 2, "output_features": 6, "first_kernel": 3},
    "pixelrnn-row": {"features": 4, "layers": 1, "output_features": 6, "first_kernel": 3},
    "pixelrnn-diag": {"features": 4, "layers": 1, "output_features": 6, "first_kernel": 3},
}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_train_save_load_round_trip(name, tmp_path):
    from genzoo.data import DataConfig
    from genzoo.registry import get_model
    from genzoo.training import TrainConfig
    from genzoo.training import run as training

    rng = np.random.default_rng(0)
    arrays = {k: (rng.random((n, 1, 5, 5)) < 0.3).astype(np.uint8) for k, n in
              (("train", 40), ("valid", 10), ("test", 10))}
    np.savez(tmp_path / "tiny.npz", **arrays)
    data_config = DataConfig(name=str(tmp_path / "tiny.npz"))
    cfg = get_model(name).config_cls(**TINY[name])
    tc = TrainConfig(epochs=1, batch_size=20, max_steps=2, device="cpu", progress=False, sample_every=0)
    model, _ = training.train(name, data_config=data_config, out_dir=tmp_path / "run", model_config=cfg,
                              train_config=tc, command="test")
    loaded = genzoo.load(tmp_path / "run")
    x = torch.from_numpy(arrays["test"]).float()
    torch.testing.assert_close(loaded.log_prob(x), model.eval().log_prob(x))
    assert loaded.config == model.config
    g = torch.Generator().manual_seed(0)
    assert loaded.sample(3, generator=g).shape == (3, 1, 5, 5)

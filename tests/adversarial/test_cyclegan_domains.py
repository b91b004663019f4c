"""CycleGAN's two domains: ``genzoo train --vendor-b`` (the two emoji vendors as domains A and B) and
the ``paired`` flag of a domain-B dataset, which the trainer reads to draw row i of B with row i of A."""

from __future__ import annotations

import json

import pytest
import torch

from genzoo.cli.main import main as cli
from genzoo.config import from_dict
from genzoo.data import DataConfig, load_dataset
from genzoo.data.datasets import ImageDataset, Split
from genzoo.objectives.cycle import CycleConfig, CycleGANObjective
from genzoo.registry import get_model
from genzoo.training.trainer import TrainConfig, Trainer


def test_vendor_b_trains_between_the_two_vendors(emoji_data_dir, tmp_path):
    out = tmp_path / "run"
    rc = cli(["train", "cyclegan", "--data", "emoji", "--data-dir", str(emoji_data_dir), "--size", "16",
              "--vendor-b", "twitter", "--width", "4", "--res-blocks", "1", "--batch-size", "4",
              "--max-steps", "2", "--epochs", "1", "--device", "cpu", "--progress", "false",
              "--sample-every", "0", "--validate", "false", "--out", str(out)])
    assert rc == 0
    info = json.loads((out / "config.json").read_text())
    assert info["data"]["name"] == info["data_b"]["name"] == "emoji"
    assert (info["data"]["vendor"], info["data_b"]["vendor"]) == ("google", "twitter")
    assert info["data_b"]["size"] == 16 and info["data_b"]["seed"] == info["data"]["seed"]
    # the recorded domain B is the twitter drawings: green 100 in the fixture (google's is 200)
    b = load_dataset(from_dict(DataConfig, info["data_b"]))
    a = load_dataset(from_dict(DataConfig, info["data"]))
    assert torch.allclose(b.train.x[:, 1], torch.full_like(b.train.x[:, 1], 100 / 255), atol=1 / 255)
    assert torch.allclose(a.train.x[:, 1], torch.full_like(a.train.x[:, 1], 200 / 255), atol=1 / 255)
    assert not b.paired


@pytest.mark.parametrize("argv, message", [
    (["--data", "digits", "--vendor-b", "twitter"], "--vendor-b applies to --data emoji only"),
    (["--data", "emoji", "--vendor-b", "google"], "domain A is already google's"),
])
def test_vendor_b_refuses_what_it_cannot_mean(argv, message, tmp_path, capsys):
    rc = cli(["train", "cyclegan", *argv, "--max-steps", "1", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc != 0 and message in err and "Traceback" not in err
    assert not (tmp_path / "run" / "config.json").exists()


def _domains(n_a: int, n_b: int, paired: bool) -> ImageDataset:
    """Domain A: n_a images, image i filled with i / 100; domain B (paired or not): image i filled
    with 1 - i / 100, so a batch's rows identify the images drawn."""
    def images(values):
        return torch.tensor(values).view(-1, 1, 1, 1).expand(-1, 3, 8, 8).contiguous()

    def data(x, **kw):
        return ImageDataset("toy", Split(x), Split(x[:2]), Split(x[:2]), (3, 8, 8), False, None, 256, **kw)

    a = data(images([i / 100 for i in range(n_a)]))
    a.domain_b = data(images([1 - i / 100 for i in range(n_b)]), paired=paired)
    return a


class _Recording(CycleGANObjective):
    """The cycle objective, keeping every batch it is given."""

    def __init__(self, config: CycleConfig):
        super().__init__(config)
        self.batches: list[dict] = []

    def __call__(self, model, batch, **kw):
        self.batches.append(batch)
        return super().__call__(model, batch, **kw)


def _fit(data: ImageDataset, paired_l1: float, steps: int = 3) -> _Recording:
    entry = get_model("cyclegan")
    torch.manual_seed(0)
    model = entry.model_cls(entry.config_cls(shape=(3, 8, 8), width=4, res_blocks=1))
    objective = _Recording(CycleConfig(paired_l1=paired_l1))
    cfg = TrainConfig(epochs=1, batch_size=4, max_steps=steps, validate=False, sample_every=0, progress=False,
                      seed=0, device="cpu")
    Trainer(model, objective, data, cfg, log=lambda m: None).fit()
    return objective


def test_paired_domain_b_gives_each_row_its_counterpart():
    objective = _fit(_domains(12, 12, paired=True), paired_l1=1.0)
    assert objective.batches and all(b["paired_b"] is True for b in objective.batches)
    for b in objective.batches:  # x_b[i] is image k of B exactly when x[i] is image k of A
        torch.testing.assert_close(b["x_b"][:, 0, 0, 0], 1 - b["x"][:, 0, 0, 0])
    assert ImageDataset.to(_domains(2, 2, True).domain_b, "cpu").paired  # kept by .to(), a dataclass field


def test_unpaired_domain_b_is_drawn_independently_and_refuses_the_paired_term():
    objective = _fit(_domains(12, 12, paired=False), paired_l1=0.0)
    assert all("paired_b" not in b for b in objective.batches)
    pairs = torch.cat([(b["x_b"][:, 0, 0, 0] + b["x"][:, 0, 0, 0] - 1).abs() for b in objective.batches])
    # 12 rows drawn independently of A's: P(all 12 match their counterpart) = 12^-12
    assert (pairs > 1e-6).any()
    with pytest.raises(ValueError, match="paired data"):
        _fit(_domains(12, 12, paired=False), paired_l1=1.0, steps=1)
    with pytest.raises(ValueError, match="as many training images"):
        _fit(_domains(12, 10, paired=True), paired_l1=1.0, steps=1)

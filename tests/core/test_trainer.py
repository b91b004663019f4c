"""The trainer: runs, resumes exactly, fails loudly on a non-finite loss, writes loadable runs."""

import csv

import pytest
import torch

import genzoo
from genzoo.data import DataConfig
from genzoo.objectives.base import Objective
from genzoo.objectives.variational import elbo
from genzoo.registry import get_model
from genzoo.training import NonFiniteLossError, TrainConfig, Trainer
from genzoo.training.run import build_model, read_run_config, train


def _cfg(**kw):
    base = dict(epochs=2, batch_size=50, progress=False, sample_every=1)
    base.update(kw)
    return TrainConfig(**base)


def test_train_writes_a_run_that_loads_with_identical_outputs(tmp_path, tiny_data):
    model, metrics = train("vae", data_config=tiny_data, out_dir=tmp_path, train_config=_cfg())
    for f in ("config.json", "model.safetensors", "checkpoint.pt", "metrics.csv", "samples.png"):
        assert (tmp_path / f).exists(), f
    loaded = genzoo.load(tmp_path)
    x = torch.rand(5, 1, 8, 8).bernoulli()
    model.eval()
    assert torch.equal(model.posterior(x).mean, loaded.posterior(x).mean)
    assert torch.equal(model.decode(torch.ones(2, model.latent_dim)), loaded.decode(torch.ones(2, model.latent_dim)))
    assert metrics["valid_neg_elbo"] < 64 * 0.7  # better than a uniform Bernoulli (44.4 nats)


def test_loss_falls(tmp_path, tiny_data):
    train("vae", data_config=tiny_data, out_dir=tmp_path, train_config=_cfg(epochs=4))
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])


@pytest.mark.parametrize("objective", ["elbo", "wake-sleep"])
def test_resume_equals_an_uninterrupted_run(tmp_path, tiny_data, objective):
    full, _ = train("vae", data_config=tiny_data, out_dir=tmp_path / "full", objective=objective,
                    train_config=_cfg(epochs=3, sample_every=0))
    train("vae", data_config=tiny_data, out_dir=tmp_path / "part", objective=objective,
          train_config=_cfg(epochs=1, sample_every=0))
    state1 = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)
    assert state1["epoch"] == 1
    resumed, _ = train("vae", data_config=tiny_data, out_dir=tmp_path / "part", resume=True,
                       train_config=_cfg(epochs=3, sample_every=0))
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rows = list(csv.DictReader(open(tmp_path / "part" / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]


def test_init_from_starts_a_new_run_at_another_runs_weights(tmp_path, tiny_data):
    from safetensors.torch import load_file

    train("vae", data_config=tiny_data, out_dir=tmp_path / "src", train_config=_cfg(epochs=1),
          model_config=get_model("vae").default_config(hidden=(24,), latent_dim=3))
    # lr 0: the fine-tuning run must end exactly at the source's weights, with the source's config
    train("vae", data_config=tiny_data, out_dir=tmp_path / "ft", init_from=tmp_path / "src",
          train_config=_cfg(epochs=1, lr=0.0, sample_every=0))
    a, b = load_file(tmp_path / "src" / "model.safetensors"), load_file(tmp_path / "ft" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    info = read_run_config(tmp_path / "ft")
    assert info["init_from"] == str(tmp_path / "src")
    assert info["model_config"] == read_run_config(tmp_path / "src")["model_config"]
    with pytest.raises(ValueError, match="holds a 'vae' run"):
        train("ae", data_config=tiny_data, out_dir=tmp_path / "x", init_from=tmp_path / "src", train_config=_cfg())
    with pytest.raises(ValueError, match="trained on"):
        train("vae", data_config=DataConfig(name="mnist5k", limit=100), out_dir=tmp_path / "y",
              init_from=tmp_path / "src", train_config=_cfg())
    with pytest.raises(FileNotFoundError):
        train("vae", data_config=tiny_data, out_dir=tmp_path / "z", init_from=tmp_path / "nope", train_config=_cfg())


def test_refuses_to_overwrite_a_run(tmp_path, tiny_data):
    train("ae", data_config=tiny_data, out_dir=tmp_path, train_config=_cfg(epochs=1))
    with pytest.raises(FileExistsError, match="--resume"):
        train("ae", data_config=tiny_data, out_dir=tmp_path, train_config=_cfg(epochs=1))


class _Exploding(Objective):
    def __call__(self, model, batch, *, player="model", generator=None):
        loss = -elbo(model, batch["x"], generator=generator)
        return {"loss": loss * float("nan")}


def test_non_finite_loss_stops_with_a_clear_error_and_keeps_the_checkpoint(tmp_path, tiny_data):
    from genzoo.data import load_dataset

    data = load_dataset(tiny_data)
    model = build_model("vae", data.shape)
    with pytest.raises(NonFiniteLossError, match="non-finite loss at epoch 1"):
        Trainer(model, _Exploding(), data, _cfg(), out_dir=tmp_path).fit()
    assert not (tmp_path / "checkpoint.pt").exists()


def test_wake_sleep_players_update_only_their_own_parameters(tiny_data):
    from genzoo.data import load_dataset
    from genzoo.training.run import build_objective

    data = load_dataset(tiny_data)
    model = build_model("vae", data.shape)
    obj = build_objective("wake-sleep")
    trainer = Trainer(model, obj, data, _cfg(epochs=1, validate=False, sample_every=0))
    trainer._setup()
    enc = [p.clone() for p in model.encoder.parameters()]
    dec = [p.clone() for p in model.decoder.parameters()]
    batch = {"x": data.train.x[:50]}
    trainer._step("wake", batch, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(enc, model.encoder.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(dec, model.decoder.parameters()))
    dec = [p.clone() for p in model.decoder.parameters()]
    trainer._step("sleep", batch, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(dec, model.decoder.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(enc, model.encoder.parameters()))


def test_early_stopping(tmp_path, tiny_data):
    _, metrics = train("vae", data_config=tiny_data, out_dir=tmp_path,
                       train_config=_cfg(epochs=50, patience=1, lr=0.05, sample_every=0))
    assert metrics["epoch"] < 50

"""A model saved on its own (``save_pretrained``) and loaded back (``genzoo.load`` / ``from_pretrained``):
exact round trips of weights and of seeded samples, for several families; order-agnostic NADE's
orderings travel with the weights."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

import genzoo
from genzoo.errors import RunFileError, UntrustedCodeError
from genzoo.models.base import GenerativeModel
from genzoo.registry import get_model
from genzoo.training import checkpoint as ckpt
from genzoo.training.run import build_model

SHAPE = (1, 8, 8)
SMALL = {
    "vae": {"hidden": (16,), "latent_dim": 3},
    "pixelcnn": {"features": 8, "residual_blocks": 1, "output_features": 8},
    "dcgan": {},
    "nade-oa": {"hidden": (16,), "orderings": 3, "ordering_seed": 5},
}


def make(name: str, **kw):
    torch.manual_seed(0)
    return build_model(name, SHAPE, config=get_model(name).config_cls(**{**SMALL.get(name, {}), **kw}))


def same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("name", ["vae", "pixelcnn", "dcgan", "nade-oa"])
def test_save_pretrained_round_trip(tmp_path, name):
    model = make(name).eval()
    assert model.save_pretrained(tmp_path / "m") == tmp_path / "m"
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    info = json.loads((tmp_path / "m" / "config.json").read_text())
    assert (info["format"], info["format_version"], info["model"]) == ("genzoo-model", 1, name)
    loaded = genzoo.load(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.config == model.config and loaded.registry_name == name
    assert same_state(model, loaded)
    a = model.sample(3, generator=torch.Generator().manual_seed(1))
    b = loaded.sample(3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert same_state(type(model).from_pretrained(tmp_path / "m"), model)
    assert same_state(GenerativeModel.from_pretrained(tmp_path / "m"), model)


def test_from_pretrained_checks_the_class(tmp_path):
    make("vae").save_pretrained(tmp_path / "m")
    from genzoo.models.autoregressive.pixelcnn import PixelCNN

    with pytest.raises(ValueError, match="holds a VAE, not a PixelCNN"):
        PixelCNN.from_pretrained(tmp_path / "m")


def test_a_model_built_by_hand_is_saved_under_its_registered_name(tmp_path):
    from genzoo.models.autoencoders.vae import VAE

    model = VAE(get_model("vae").config_cls(shape=SHAPE, hidden=(4,), latent_dim=2))
    model.save_pretrained(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["model"] == "vae"
    assert same_state(genzoo.load(tmp_path / "m"), model)


def square(n, dim, generator=None):
    return torch.full((n, dim), 2.0)


def test_aae_with_a_custom_prior_needs_it_supplied_at_load(tmp_path):
    cfg = get_model("aae").config_cls(latent_dim=2, hidden=(8,), d_hidden=(8,), prior="custom",
                                      prior_fn="somebody_elses_module:prior")  # a name, not trusted here
    model = get_model("aae").model_cls(replace_shape(cfg), prior_fn=square)
    model.save_pretrained(tmp_path / "m")
    with pytest.raises(UntrustedCodeError, match="prior_fn 'somebody_elses_module:prior' names Python code"):
        genzoo.load(tmp_path / "m")
    loaded = genzoo.load(tmp_path / "m", prior_fn=square)
    assert same_state(loaded, model)
    assert torch.equal(loaded.sample(2), model.sample(2))


def replace_shape(cfg):
    from dataclasses import replace

    return replace(cfg, shape=SHAPE)


# ---- order-agnostic NADE: the orderings are saved ----------------------------------------------------

def test_nade_oa_orderings_are_saved_and_win_over_the_seed(tmp_path):
    model = make("nade-oa")
    saved = load_file(str(model.save_pretrained(tmp_path / "m") / "model.safetensors"))
    assert torch.equal(saved["orders"], model.orders)
    assert torch.equal(model.orders[0], torch.arange(64))
    assert all(torch.equal(row.sort().values, torch.arange(64)) for row in model.orders)
    path = tmp_path / "m" / "config.json"
    info = json.loads(path.read_text())
    info["model_config"]["ordering_seed"] = 99  # tampered: a regenerated set would differ
    path.write_text(json.dumps(info))
    assert not torch.equal(make("nade-oa", ordering_seed=99).orders, model.orders)
    loaded = genzoo.load(tmp_path / "m")
    assert torch.equal(loaded.orders, model.orders)
    x = (torch.rand(2, *SHAPE, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    assert torch.equal(loaded.log_prob(x), model.log_prob(x))


def test_nade_oa_files_without_orderings_regenerate_them_from_the_seed(tmp_path):
    model = make("nade-oa")
    path = model.save_pretrained(tmp_path / "m") / "model.safetensors"
    state = load_file(str(path))
    del state["orders"]  # as written before the orderings were saved
    save_file(state, str(path))
    loaded = genzoo.load(tmp_path / "m")
    assert torch.equal(loaded.orders, model.orders)
    assert same_state(loaded, model)


@pytest.mark.parametrize("orders,message", [
    (lambda o: o.flip(1).clone().fill_(0), "must be a permutation"),
    (lambda o: o[:2].clone(), r"tensor .orders. has shape \[2, 64\]"),
    (lambda o: o + 1, "must be a permutation"),
])
def test_nade_oa_refuses_orderings_that_are_not_permutations(tmp_path, orders, message):
    model = make("nade-oa")
    path = model.save_pretrained(tmp_path / "m") / "model.safetensors"
    state = load_file(str(path))
    state["orders"] = orders(state["orders"]).contiguous()
    save_file(state, str(path))
    with pytest.raises(RunFileError, match=message) as info:
        genzoo.load(tmp_path / "m")
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_a_model_directory_feeds_init_from(tmp_path):
    """Fine-tuning a shared model: ``genzoo.train(..., init_from=MODEL_DIR)`` starts from its weights."""
    from genzoo.data import DataConfig
    from genzoo.training.trainer import TrainConfig

    model = build_model("vae", (1, 8, 8), config=get_model("vae").config_cls(hidden=(8,), latent_dim=2))
    model.save_pretrained(tmp_path / "m")
    tiny = TrainConfig(epochs=1, batch_size=32, max_steps=1, progress=False, validate=False, sample_every=0,
                       lr=0.0)
    tuned, _ = genzoo.train("vae", data_config=DataConfig(name="digits", limit=64), out_dir=tmp_path / "ft",
                            train_config=tiny, init_from=tmp_path / "m", command="test")
    assert same_state(tuned, model)  # lr 0: still the shared weights
    assert ckpt.CONFIG_FILE in {p.name for p in (tmp_path / "ft").iterdir()}


def test_the_cli_samples_a_model_directory_and_says_when_it_needs_a_run(tmp_path, capsys):
    from genzoo.cli.main import main

    make("vae").save_pretrained(tmp_path / "m")
    assert main(["sample", str(tmp_path / "m"), "-n", "4", "--out", str(tmp_path / "s.png"), "--device", "cpu"]) == 0
    assert (tmp_path / "s.png").is_file()
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "m"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "records no training data" in err

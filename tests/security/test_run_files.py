"""Malformed or hostile run files: a one-line error naming the file and the field, never a traceback.

Each case mutates one file of a tiny trained VAE run (config.json, model.safetensors,
checkpoint.pt) and checks the error ``genzoo.load`` gives, and for some the CLI's exit code and its
single stderr line.
"""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from safetensors.torch import load_file, save_file

import genzoo
from genzoo.cli.main import main
from genzoo.errors import ConfigError, RunFileError
from genzoo.training import checkpoint as ckpt


def edit_config(run, fn):
    path = run / ckpt.CONFIG_FILE
    info = json.loads(path.read_text())
    info = fn(info)
    if isinstance(info, bytes):
        path.write_bytes(info)
    else:
        path.write_text(info if isinstance(info, str) else json.dumps(info))


def model_field(key, value):
    def fn(info):
        info["model_config"][key] = value
        return info

    return fn


def drop(key):
    def fn(info):
        del info[key]
        return info

    return fn


def top(key, value):
    def fn(info):
        info[key] = value
        return info

    return fn


CONFIG_CASES = {
    "a list": (lambda info: [info], "must hold a JSON object"),
    "hidden as text": (model_field("hidden", "abc"), "field 'hidden' must be a list of integers, got \"abc\""),
    "hidden with text": (model_field("hidden", [8, "a"]), "field 'hidden' must be a list of integers"),
    "latent_dim NaN": (lambda info: json.dumps(info).replace('"latent_dim": 2', '"latent_dim": NaN'),
                       "field 'latent_dim' must be an integer, got NaN"),
    "latent_dim null": (model_field("latent_dim", None), "field 'latent_dim' must be an integer, got null"),
    "latent_dim float": (model_field("latent_dim", 2.5), "field 'latent_dim' must be an integer"),
    "latent_dim bool": (model_field("latent_dim", True), "field 'latent_dim' must be an integer"),
    "min_logvar inf": (lambda info: json.dumps(info).replace('"min_logvar": -10.0', '"min_logvar": -Infinity'),
                       "field 'min_logvar' must be a finite number, got -Infinity"),
    "bad choice": (model_field("decoder", "poisson"), "field 'decoder' must be one of bernoulli, gaussian"),
    "post_init check": (model_field("latent_dim", 0), "model_config"),
    "shape 2-d": (model_field("shape", [8, 8]), "field 'shape' must be (C, H, W) or (D,)"),
    "unknown field": (model_field("lattent_dim", 3), "unknown field(s) \"lattent_dim\" for VAEConfig"),
    "no model": (drop("model"), "missing field 'model'"),
    "no model_config": (drop("model_config"), "missing field 'model_config'"),
    "model_config a list": (top("model_config", [1, 2]), "model_config: must be a JSON object"),
    "model not text": (top("model", 3), "field 'model' must be a model name"),
    "unknown model": (top("model", "vea"), "unknown model 'vea'"),
    "another model's config": (top("model", "pixelcnn"), "for PixelCNNConfig"),
    "data a list": (top("data", [1]), "data: must be a JSON object"),
    "data bad field": (lambda info: {**info, "data": {**info["data"], "scale": 3}}, "data: field 'scale'"),
    "train NaN lr": (lambda info: json.dumps(info).replace('"lr": 0.001', '"lr": NaN'), "train: field 'lr'"),
    "objective of another model": (top("objective", "aae"), "field 'objective' must be one of"),
    "newer format": (top("format_version", 99), "format_version 99 was written by a newer genzoo"),
    "levels text": (top("levels", "x"), "field 'levels' must be a positive integer or null"),
    "not JSON": (lambda info: "{model: vae", "not valid JSON"),
    "not UTF-8": (lambda info: b'{"model": "\xff"}', "not UTF-8 text (invalid start byte at byte 11)"),
    "nested too deep": (lambda info: "[" * 100000 + "]" * 100000, "config.json"),
}


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_bad_config_json_is_one_line_naming_file_and_field(run, case, listing):
    mutate, message = CONFIG_CASES[case]
    edit_config(run, mutate)
    before = listing(run)
    with pytest.raises((ConfigError, RunFileError)) as info:
        genzoo.load(run)
    text = str(info.value)
    assert "\n" not in text
    assert str(run / "config.json") in text
    assert message in text
    assert listing(run) == before


def test_cli_prints_one_line_for_a_bad_config(run, tmp_path, capsys):
    edit_config(run, model_field("hidden", {"a": 1}))
    code = main(["sample", str(run), "-n", "2", "--out", str(tmp_path / "s.png"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("genzoo: error: ") and "field 'hidden'" in err


def rewrite_weights(run, fn):
    path = run / ckpt.WEIGHTS_FILE
    save_file(fn(load_file(str(path))), str(path))


WEIGHT_CASES = {
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:-7]), "not a valid safetensors file"),
    "random bytes": (lambda p: p.write_bytes(bytes(range(256)) * 4), "not a valid safetensors file"),
    "empty": (lambda p: p.write_bytes(b""), "not a valid safetensors file"),
    "pickle": (lambda p: torch.save({"a": torch.zeros(2)}, p), "not a valid safetensors file"),
    "huge header length": (lambda p: p.write_bytes((1 << 62).to_bytes(8, "little") + b"{}"),
                           "not a valid safetensors file"),
}


def tensor_edit(fn):
    def mutate(path):
        state = load_file(str(path))
        save_file(fn(state), str(path))

    return mutate


def _first(state):
    return sorted(state)[0]


WEIGHT_CASES.update({
    "missing tensor": (tensor_edit(lambda s: {k: v for k, v in s.items() if k != _first(s)}), "missing"),
    "extra tensor": (tensor_edit(lambda s: {**s, "evil": torch.zeros(1)}), "unexpected 'evil'"),
    "wrong shape": (tensor_edit(lambda s: {**s, _first(s): torch.zeros(3, 3)}), "has shape [3, 3]"),
    "integer weights": (tensor_edit(lambda s: {**s, _first(s): torch.zeros_like(s[_first(s)], dtype=torch.int64)}),
                        "has dtype torch.int64"),
})


@pytest.mark.parametrize("case", WEIGHT_CASES)
def test_bad_weights_are_one_line_naming_the_file(run, case, listing):
    mutate, message = WEIGHT_CASES[case]
    mutate(run / ckpt.WEIGHTS_FILE)
    before = listing(run)
    with pytest.raises(RunFileError) as info:
        genzoo.load(run)
    text = str(info.value)
    assert "\n" not in text and str(run / "model.safetensors") in text and message in text
    assert listing(run) == before


def test_a_huge_config_is_refused_before_any_allocation(run):
    """hidden = 10^9 units would need terabytes: the model is checked on the meta device against the
    weights file's header before it is built for real."""
    edit_config(run, model_field("hidden", [10**9, 10**9]))
    with pytest.raises(RunFileError, match=r"has shape \[8, 64\], the model in config.json needs"):
        genzoo.load(run)


class Payload:
    """Unpickling this would create a file: a pickled checkpoint must never be unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickled_checkpoint_is_refused_in_one_line(run, tmp_path):
    marker = tmp_path / "PWNED"
    path = run / ckpt.CHECKPOINT_FILE
    with open(path, "wb") as f:
        torch.save({"model": {}, "payload": Payload(str(marker))}, f, pickle_module=pickle)
    with pytest.raises(RunFileError) as info:
        ckpt.load_checkpoint(path)
    assert str(info.value) == (f"{path}: checkpoint.pt is not a weights-only checkpoint "
                               "(pickled objects are refused)")
    assert not marker.exists()


@pytest.mark.parametrize("content,message", [
    (b"\x00garbage" * 10, "corrupt checkpoint"),
    (b"", "corrupt checkpoint"),
    (None, "must hold a dict of named entries"),
])
def test_a_corrupt_checkpoint_is_one_line(run, content, message):
    path = run / ckpt.CHECKPOINT_FILE
    if content is None:
        torch.save([torch.zeros(1)], path)
    else:
        path.write_bytes(content)
    with pytest.raises(RunFileError) as info:
        ckpt.load_checkpoint(path)
    assert "\n" not in str(info.value) and message in str(info.value) and str(path) in str(info.value)


def test_a_checkpoint_without_a_required_entry_is_one_line(run):
    path = run / ckpt.CHECKPOINT_FILE
    assert "model" in ckpt.load_checkpoint(path, required=("model",))
    with pytest.raises(RunFileError, match="checkpoint has no 'nonesuch' entry"):
        ckpt.load_checkpoint(path, required=("model", "nonesuch"))


def test_the_valid_run_still_loads_and_matches_its_weights(run):
    model = genzoo.load(run)
    saved = load_file(str(run / ckpt.WEIGHTS_FILE))
    assert set(saved) == set(model.state_dict())
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())

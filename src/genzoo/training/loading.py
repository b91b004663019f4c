"""Reading run and model directories back, with every file treated as untrusted input.

A *run directory* (``genzoo train``) and a *model directory* (:func:`save_pretrained`) share the
two files a model needs: ``config.json`` (the registered model name and its config) and
``model.safetensors``. :func:`load` rebuilds the model from them and nothing else:

* ``config.json`` is checked field by field against the config dataclasses
  (:func:`genzoo.config.from_dict`): wrong types, NaN, unknown or misspelt fields, another model's
  config and unknown model names are one-line :class:`~genzoo.errors.ConfigError` /
  :class:`~genzoo.errors.RunFileError` messages naming the file and the field.
* ``model.safetensors`` (never pickle) is checked against the model before the model is built:
  the model is first built on the ``meta`` device (no memory), and every tensor name, shape and
  dtype of the file's header must match it, so a hostile config cannot make genzoo allocate more
  than the weights file holds.
* Code named by a config (an AAE's ``prior_fn = "module:function"``) is never imported: the caller
  passes the function (``load(run, prior_fn=f)``) or opts in (``load(run, trust_code=True)``);
  otherwise loading stops with a one-line :class:`~genzoo.errors.UntrustedCodeError`.

Loading writes nothing, anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

import genzoo
from genzoo import code as code_refs
from genzoo.config import describe, from_dict, to_dict
from genzoo.errors import ConfigError, RunFileError, first_line
from genzoo.registry import get_model, get_objective
from genzoo.training import checkpoint as ckpt

#: ``config.json["format"]`` of a model directory written by :func:`save_pretrained`
MODEL_FORMAT = "genzoo-model"
#: the newest ``format_version`` this genzoo reads (run directories without one are version 1)
FORMAT_VERSION = 1

_OPTIONAL_TEXT = ("genzoo_version", "command", "init_from", "format")
_OPTIONAL_INT = ("num_classes", "levels")


def check_run_dir(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run directory")
    return run_dir


def read_run_config(run_dir: str | Path) -> dict:
    """The checked contents of ``run_dir/config.json`` (see :func:`check_run_config`)."""
    path = check_run_dir(run_dir) / ckpt.CONFIG_FILE
    info = ckpt.read_json(path)
    check_run_config(info, path)
    return info


def check_run_config(info, path: str | Path = ckpt.CONFIG_FILE):
    """Check a run's or model's config.json contents; returns the (registry entry, model config).

    The model and its config must be valid; the optional sections of a run (objective and its
    config, data, data_b, train) must be valid if present; other top-level keys are left alone."""
    if not isinstance(info, dict):
        raise RunFileError(f"{path}: must hold a JSON object, got {describe(info)}")
    version = info.get("format_version", 1)
    if type(version) is not int or version < 1:
        raise RunFileError(f"{path}: field 'format_version' must be a positive integer, got {describe(version)}")
    if version > FORMAT_VERSION:
        raise RunFileError(f"{path}: format_version {version} was written by a newer genzoo "
                           f"(this one reads up to {FORMAT_VERSION}); upgrade genzoo")
    for key in _OPTIONAL_TEXT:
        if key in info and not isinstance(info[key], str):
            raise RunFileError(f"{path}: field {key!r} must be a string, got {describe(info[key])}")
    for key in _OPTIONAL_INT:
        value = info.get(key)
        if value is not None and (type(value) is not int or value < 1):
            raise RunFileError(f"{path}: field {key!r} must be a positive integer or null, got {describe(value)}")
    name = _required(info, "model", path)
    if not isinstance(name, str):
        raise RunFileError(f"{path}: field 'model' must be a model name, got {describe(name)}")
    try:
        entry = get_model(name)
    except ValueError as e:
        raise RunFileError(f"{path}: field 'model': {e}") from None
    cfg = from_dict(entry.config_cls, _required(info, "model_config", path), where=f"{path}: model_config")
    shape = cfg.shape
    if len(shape) not in (1, 3) or any(s < 1 for s in shape):
        raise ConfigError(f"{path}: model_config: field 'shape' must be (C, H, W) or (D,) of positive sizes, "
                          f"got {describe(list(shape))}")
    _check_sections(info, entry, path)
    return entry, cfg


def recorded_data(run_dir: str | Path) -> dict:
    """The checked config.json of a *run* directory, which records the data it was trained on; a
    model directory (:func:`save_pretrained`) records none: a one-line :class:`RunFileError`."""
    info = read_run_config(run_dir)
    if "data" not in info:
        raise RunFileError(f"{Path(run_dir) / ckpt.CONFIG_FILE}: records no training data (a model directory "
                           "written by save_pretrained); commands that need the data take a run directory")
    return info


def _required(info: dict, key: str, path) -> object:
    if key not in info:
        raise RunFileError(f"{path}: missing field {key!r} (is this a genzoo run or model directory?)")
    return info[key]


def _check_sections(info: dict, entry, path) -> None:
    from genzoo.data import DataConfig
    from genzoo.training.trainer import TrainConfig

    objective = info.get("objective")
    if objective is not None or "objective_config" in info:
        if not isinstance(objective, str) or objective not in entry.objectives:
            raise RunFileError(f"{path}: field 'objective' must be one of {', '.join(entry.objectives)} "
                               f"for model {entry.name!r}, got {describe(objective)}")
        if "objective_config" in info:
            from_dict(get_objective(objective).config_cls, info["objective_config"],
                      where=f"{path}: objective_config")
    if "data" in info:
        from_dict(DataConfig, info["data"], where=f"{path}: data")
    if info.get("data_b") is not None:
        from_dict(DataConfig, info["data_b"], where=f"{path}: data_b")
    if "train" in info:
        from_dict(TrainConfig, info["train"], where=f"{path}: train")


def resolve_code(model_cls: type, cfg, supplied: dict[str, Callable], trust_code: bool, path) -> dict:
    """The functions named by ``cfg``'s code fields: the caller's, or (with ``trust_code``) imported;
    :class:`UntrustedCodeError` otherwise. Supplied names the model does not use are an error."""
    needed = model_cls.code_fields(cfg)
    for name, fn in supplied.items():
        if name not in model_cls.code_arguments:
            takes = ", ".join(model_cls.code_arguments) or "none"
            raise ValueError(f"load: unexpected argument {name!r} (code arguments of this run's "
                             f"{model_cls.__name__}: {takes})")
        if not callable(fn):
            raise ValueError(f"load: {name} must be a function, got {type(fn).__name__}")
    out = {}
    for name, spec in needed.items():
        if name in supplied:
            out[name] = supplied[name]
        elif trust_code:
            out[name] = code_refs.import_function(spec)
        else:
            try:
                out[name] = code_refs.trusted(spec, name)
            except RunFileError as e:
                raise type(e)(f"{path}: model_config: {e}") from None
    return out


def check_weights_header(path: Path, model: torch.nn.Module) -> None:
    """Check a safetensors file's header (names, shapes) against ``model``'s state without reading
    the tensors; ``model`` may live on the meta device. One-line :class:`RunFileError` otherwise."""
    from safetensors import safe_open

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for every malformed header
        raise RunFileError(f"{path}: not a valid safetensors file ({first_line(e)})") from None
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    wrong = [k for k in expected if k in shapes and shapes[k] != expected[k]]
    if wrong:
        k, more = wrong[0], f" ({len(wrong) - 1} more differ)" if len(wrong) > 1 else ""
        raise RunFileError(f"{path}: tensor {k!r} has shape {list(shapes[k])}, the model in config.json "
                           f"needs {list(expected[k])}{more}")
    fake = {k: torch.empty(s, device="meta") for k, s in shapes.items()}
    try:
        missing, unexpected = model.load_state_dict(fake, strict=False)  # applies the model's load hooks
    except (RuntimeError, ValueError) as e:
        raise RunFileError(f"{path}: {first_line(e)}") from None
    _raise_mismatch(path, missing, unexpected)


def _raise_mismatch(path: Path, missing, unexpected) -> None:
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(map(repr, list(missing)[:3]))}" + (" ..." if len(missing) > 3 else ""))
        if unexpected:
            parts.append(f"unexpected {', '.join(map(repr, list(unexpected)[:3]))}"
                         + (" ..." if len(unexpected) > 3 else ""))
        raise RunFileError(f"{path}: weights do not match the model in config.json ({'; '.join(parts)})")


def _build(entry, cfg, code: dict, path, *, meta: bool) -> torch.nn.Module:
    try:
        if meta:
            with torch.device("meta"):
                model = entry.model_cls(cfg, **code)
        else:
            model = entry.model_cls(cfg, **code)
    except RunFileError:
        raise
    except Exception as e:  # the config is untrusted: any failure to build is its fault
        raise ConfigError(f"{path}: model_config: cannot build a {entry.name!r} model "
                          f"({type(e).__name__}: {first_line(e)})") from None
    model.registry_name = entry.name
    return model


def load(run_dir: str | Path, device: str | torch.device = "cpu", weights: str = ckpt.WEIGHTS_FILE, *,
         trust_code: bool = False, **code: Callable) -> torch.nn.Module:
    """Rebuild the model saved in a run or model directory (config.json + model.safetensors), in
    eval mode. Nothing named by the files is imported unless ``trust_code=True``; a model whose
    config names code (an AAE's custom ``prior_fn``) takes the function as a keyword argument:
    ``load(run, prior_fn=my_prior)``."""
    run_dir = check_run_dir(run_dir)
    path = run_dir / ckpt.CONFIG_FILE
    entry, cfg = check_run_config(ckpt.read_json(path), path)
    functions = resolve_code(entry.model_cls, cfg, code, trust_code, path)
    weights_path = run_dir / weights
    check_weights_header(weights_path, _build(entry, cfg, functions, path, meta=True))
    model = _build(entry, cfg, functions, path, meta=False)
    ckpt.load_weights(weights_path, model)
    return model.to(device).eval()


def save_pretrained(model: torch.nn.Module, directory: str | Path) -> Path:
    """Write ``model`` on its own (no training state) to ``directory``: config.json (format, model
    name, model config) and model.safetensors; :func:`load` reads it back. Returns the directory."""
    from genzoo.registry import registered_name

    directory = Path(directory)
    name = registered_name(model)
    record = {"format": MODEL_FORMAT, "format_version": FORMAT_VERSION, "genzoo_version": genzoo.__version__,
              "model": name, "model_config": to_dict(model.config)}
    check_run_config(record, directory / ckpt.CONFIG_FILE)  # what we write must read back
    directory.mkdir(parents=True, exist_ok=True)
    ckpt.save_weights(directory / ckpt.WEIGHTS_FILE, model)
    ckpt.write_json(directory / ckpt.CONFIG_FILE, record)
    return directory

"""Run directories: build a model from a registry name and data, train it, save it, load it back.

A run directory holds ``config.json`` (model name and config, objective, data, training options,
the command line and the genzoo version), ``model.safetensors``, ``checkpoint.pt``, ``metrics.csv``
and pictures. :func:`load` (:mod:`genzoo.training.loading`) rebuilds the model from the first two, with no
pickle and no code named by the files.
"""

from __future__ import annotations

import sys
from dataclasses import fields, replace
from pathlib import Path

import torch

import genzoo
from genzoo.config import from_dict, to_dict
from genzoo.registry import get_model, get_objective
from genzoo.training import checkpoint as ckpt
from genzoo.training import distributed as dist_util
from genzoo.training.loading import check_run_dir as _check_run_dir  # noqa: F401  (loading lives there)
from genzoo.training.loading import load, read_run_config, recorded_data  # noqa: F401
from genzoo.training.trainer import TrainConfig, Trainer


def build_model(name: str, shape: tuple[int, ...], config=None, **overrides):
    """Instantiate registered model ``name`` for data of ``shape`` (C, H, W)."""
    entry = get_model(name)
    cfg = config if config is not None else entry.default_config()
    cfg = replace(cfg, shape=tuple(shape), **overrides)
    model = entry.model_cls(cfg)
    model.registry_name = name
    return model


def fit_config_to_data(model_config, data, data_config, given: frozenset[str] | None = None):
    """Set the data-dependent fields a model config may have (``likelihood``, ``levels``,
    ``input_scale``, ``data_range``, ``shape_b``) from the data, except those in ``given``."""
    given = given or frozenset()
    auto = {"likelihood": "bernoulli" if data.binary else "categorical", "levels": data.levels,
            "input_scale": data_config.scale, "data_range": data_config.scale}
    if getattr(data, "domain_b", None) is not None:
        auto["shape_b"] = tuple(data.domain_b.shape)
    names = {f.name for f in fields(model_config)}
    auto = {k: v for k, v in auto.items() if k in names and k not in given}
    return replace(model_config, shape=tuple(data.shape), **auto)


def build_objective(name: str, config=None):
    entry = get_objective(name)
    return entry.objective_cls(config if config is not None else entry.config_cls())


def load_run_data(run_dir: str | Path, **overrides):
    """The dataset a run was trained on (as recorded in its config.json), with optional overrides."""
    from genzoo.data import DataConfig, load_dataset

    info = recorded_data(run_dir)
    cfg = replace(from_dict(DataConfig, info["data"]), **overrides)
    return load_dataset(cfg)


def train(model_name: str, *, data_config, out_dir: str | Path, model_config=None, objective: str | None = None,
          objective_config=None, train_config: TrainConfig | None = None, resume: bool = False,
          data_b_config=None, command: str | None = None, dataset=None,
          given_model_options: frozenset[str] | None = None,
          init_from: str | Path | None = None) -> tuple[torch.nn.Module, dict]:
    """Train registered model ``model_name`` and write a run directory; returns (model, last metrics).

    With ``resume=True`` every option is read back from ``out_dir/config.json`` (and the epoch
    count may be raised through ``train_config``). ``init_from`` starts a new run from the weights
    of another run of the same model (its config.json gives the model config; optimizer, schedule
    and data are new): fine-tuning at a lower learning rate, or on other data of the same shape."""
    from genzoo.data import DataConfig, DataSpec, load_dataset, make_batch_transform

    out_dir = Path(out_dir)
    train_config = train_config or get_model(model_name).default_train_config()
    if resume:
        info = read_run_config(out_dir)
        model_name, objective = info["model"], info["objective"]
        model_config = from_dict(get_model(model_name).config_cls, info["model_config"])
        objective_config = from_dict(get_objective(objective).config_cls, info["objective_config"])
        data_config = from_dict(DataConfig, info["data"])
        data_b_config = from_dict(DataConfig, info["data_b"]) if info.get("data_b") else None
        saved = from_dict(TrainConfig, info["train"])
        train_config = replace(saved, epochs=max(saved.epochs, train_config.epochs))
    elif (out_dir / ckpt.CHECKPOINT_FILE).exists():
        raise FileExistsError(f"{out_dir} already holds a run; pass --resume to continue it or choose another --out")
    entry = get_model(model_name)
    objective = objective or entry.objectives[0]
    if objective not in entry.objectives:
        raise ValueError(f"model {model_name!r} cannot be trained by objective {objective!r}; "
                         f"choose from {', '.join(entry.objectives)}")
    data = dataset if dataset is not None else load_dataset(data_config)
    if data_b_config is not None:
        data.domain_b = load_dataset(data_b_config)
    model_config = model_config if model_config is not None else entry.default_config()
    if init_from is not None:
        if resume:
            raise ValueError("--init-from starts a new run; it cannot be combined with --resume")
        init_from = Path(init_from)
        source = read_run_config(init_from)  # checks that the run directory exists
        if source["model"] != model_name:
            raise ValueError(f"--init-from {init_from} holds a {source['model']!r} run, not {model_name!r}")
        model_config = from_dict(entry.config_cls, source["model_config"])
        if tuple(model_config.shape) != tuple(data.shape):
            raise ValueError(f"--init-from {init_from} was trained on {tuple(model_config.shape)} images; "
                             f"these data are {tuple(data.shape)}")
    elif not resume:
        if given_model_options is None:  # library call: fields left at their defaults follow the data
            default = entry.default_config()
            given_model_options = frozenset(f.name for f in fields(model_config)
                                            if getattr(model_config, f.name) != getattr(default, f.name))
        model_config = fit_config_to_data(model_config, data, data_config, given_model_options)
    torch.manual_seed(train_config.seed)
    model = build_model(model_name, data.shape, config=model_config)
    if init_from is not None:
        ckpt.load_weights(init_from / ckpt.WEIGHTS_FILE, model)
    elif not resume:
        model.init_from_data(data.train.x)
    obj = build_objective(objective, objective_config)
    spec = data.spec if getattr(data, "spec", None) is not None else DataSpec.from_data(data_config, data)
    obj.check_data(model, spec)  # the data contract: a one-line DataError before any training
    trainer = Trainer(model, obj, data, train_config, out_dir=out_dir,
                      batch_transform=make_batch_transform(spec))
    if trainer.dist.is_main:
        record = {
            "genzoo_version": genzoo.__version__,
            "model": model_name, "model_config": to_dict(model.config),
            "objective": objective, "objective_config": to_dict(obj.config),
            "data": to_dict(data_config), "data_spec": spec.to_dict(),
            "data_b": to_dict(data_b_config) if data_b_config else None,
            "train": to_dict(train_config),
            "command": command if command is not None else " ".join(["genzoo", *sys.argv[1:]]),
            "num_classes": data.num_classes, "levels": data.levels,
        }
        if resume:
            record["command"] = info.get("command", record["command"])
            if info.get("init_from"):
                record["init_from"] = info["init_from"]
        elif init_from is not None:
            record["init_from"] = str(init_from)
        out_dir.mkdir(parents=True, exist_ok=True)
        ckpt.write_json(out_dir / ckpt.CONFIG_FILE, record)
    try:
        metrics = trainer.fit(resume=resume)
    finally:
        dist_util.cleanup(trainer.dist)
    if (out_dir / ckpt.WEIGHTS_FILE).exists():  # keep the best validation weights in the returned model
        ckpt.load_weights(out_dir / ckpt.WEIGHTS_FILE, model)
    return model, metrics

"""Run directories: build a model from a registry name and data, train it, save it, load it back.

A run directory holds ``config.json`` (model name and config, objective, data, training options,
the command line and the genzoo version), ``model.safetensors``, ``checkpoint.pt``, ``metrics.csv``
and pictures. :func:`load` (:mod:`genzoo.training.loading`) rebuilds the model from the first two, with no
pickle and no code named by the files.
"""

from __future__ import annotations

import json
import os
import socket
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
from genzoo.training.trainer import RESUMABLE_OPTIONS, TrainConfig, Trainer

#: the files ``genzoo train`` writes in a run directory (``--overwrite`` removes these, nothing else)
RUN_FILES = (ckpt.CONFIG_FILE, ckpt.WEIGHTS_FILE, ckpt.CHECKPOINT_FILE, ckpt.METRICS_FILE, "samples.png")
LOCK_FILE = ".genzoo.lock"
#: data options that ``--resume`` may change: where the same files are found
RESUMABLE_DATA_OPTIONS = ("data_dir", "download")


class RunDirError(FileExistsError):
    """A run directory that cannot be used as asked (in use, not this run, another run)."""


class RunLock:
    """An exclusive ``fcntl.flock`` on RUN_DIR/.genzoo.lock, which holds the owner's pid and host.
    The operating system releases it when the process dies, so a crashed run never leaves a stale
    lock. (No-op where ``fcntl`` is missing, i.e. Windows.)"""

    def __init__(self, run_dir: Path):
        self.fd = None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return
        path = Path(run_dir) / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunDirError(f"{run_dir} is in use by {holder} (lock {path}); wait for it to finish "
                              "or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"genzoo pid {os.getpid()} on {socket.gethostname()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _prepare_new_run_dir(out_dir: Path, overwrite: bool) -> None:
    """Refuse a directory that holds anything but this (new) run's leftovers, unless ``overwrite``,
    which removes the files a run writes (:data:`RUN_FILES`, samples/) and nothing else."""
    others = sorted(p.name for p in out_dir.iterdir() if p.name != LOCK_FILE)
    if not others:
        return
    if not overwrite:
        if (out_dir / ckpt.CHECKPOINT_FILE).exists():
            what = "already holds a run: pass --resume to continue it,"
        elif (out_dir / ckpt.CONFIG_FILE).exists():
            what = "holds a run that completed no epoch (no checkpoint.pt):"
        else:
            what = f"is not empty ({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}) and holds no run:"
        raise RunDirError(f"{out_dir} {what} pass --overwrite to replace the run's files, or choose another --out")
    for name in RUN_FILES:
        if (out_dir / name).is_file():
            (out_dir / name).unlink()
    samples = out_dir / "samples"
    if samples.is_dir():
        for p in samples.glob("epoch_*.png"):
            p.unlink()


def _normalised(value):
    return json.loads(json.dumps(value))


def check_resume_options(run_dir: Path, info: dict, model_name: str, given: dict[str, dict]) -> None:
    """Refuse (one-line ValueError) a resume that names another model, or gives options that differ
    from the run's config.json other than :data:`~genzoo.training.trainer.RESUMABLE_OPTIONS` and
    :data:`RESUMABLE_DATA_OPTIONS`. ``given`` maps a section (``model``, ``objective``, ``data``,
    ``train``, and ``objective_name``) to the options given, by field name."""
    if model_name != info.get("model"):
        raise ValueError(f"{run_dir} holds a {info.get('model')!r} run, not {model_name!r}: "
                         f"resume it as 'genzoo train {info.get('model')} --out {run_dir} --resume'")
    name = given.get("objective_name")
    if name is not None and name != info.get("objective"):
        raise ValueError(f"--objective {name}: {run_dir} was trained with {info.get('objective')!r}")
    sections = (("model", "model_config", ()), ("objective", "objective_config", ()),
                ("data", "data", RESUMABLE_DATA_OPTIONS), ("train", "train", RESUMABLE_OPTIONS))
    differ = []
    for section, key, may_change in sections:
        recorded = info.get(key) or {}
        for option, value in (given.get(section) or {}).items():
            if option in may_change or option == "shape":
                continue
            if option not in recorded or _normalised(value) != recorded[option]:
                differ.append(f"--{option.replace('_', '-')} {_normalised(value)} "
                              f"(the run has {recorded.get(option, 'no such option')})")
    if differ:
        raise ValueError(f"{run_dir}: --resume continues the run as its config.json records it, but "
                         f"{'; '.join(differ[:3])}{' ...' if len(differ) > 3 else ''}; only "
                         f"{', '.join('--' + o.replace('_', '-') for o in RESUMABLE_OPTIONS)} may change "
                         "(to change the others, start a new run, e.g. with --init-from)")


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
    model_config = replace(model_config, shape=tuple(data.shape), **auto)
    fit = getattr(model_config, "fit_to_data", None)  # a model's own data-derived fields (text2image's vocabulary)
    return fit(data, given) if fit is not None else model_config


def build_objective(name: str, config=None):
    entry = get_objective(name)
    return entry.objective_cls(config if config is not None else entry.config_cls())


def load_run_data(run_dir: str | Path, **overrides):
    """The dataset a run was trained on (as recorded in its config.json), with optional overrides."""
    from genzoo.data import DataConfig, load_dataset

    info = recorded_data(run_dir)
    cfg = replace(from_dict(DataConfig, info["data"]), **overrides)
    return load_dataset(cfg)


def train(model_name: str, *, data_config=None, out_dir: str | Path, model_config=None, objective: str | None = None,
          objective_config=None, train_config: TrainConfig | None = None, resume: bool = False,
          data_b_config=None, command: str | None = None, dataset=None,
          given_model_options: frozenset[str] | None = None,
          init_from: str | Path | None = None, overwrite: bool = False, force: bool = False,
          allow_world_size_change: bool = False,
          resume_options: dict[str, dict] | None = None) -> tuple[torch.nn.Module, dict]:
    """Train registered model ``model_name`` and write a run directory; returns (model, last metrics).

    The directory is locked while training (a second process gets a one-line error); a directory
    that holds anything but a new run is refused unless ``overwrite``. With ``resume=True`` every
    option is read back from ``out_dir/config.json``: the configs given are checked against it and
    only :data:`~genzoo.training.trainer.RESUMABLE_OPTIONS` of ``train_config`` are taken (the epoch
    count defaults to the run's own); ``resume_options`` (the CLI's given options by section) replaces
    that check. ``init_from`` starts a new run from the weights of another run of the same model
    (its config.json gives the model config; optimizer, schedule and data are new): fine-tuning at a
    lower learning rate, or on other data of the same shape. ``force`` trains a configuration that
    :meth:`Trainer.preflight` finds absurd."""
    out_dir = Path(out_dir)
    is_main = int(os.environ.get("RANK", "0")) == 0
    lock = None
    created = not out_dir.exists()
    if is_main:
        if resume and not (out_dir / ckpt.CONFIG_FILE).is_file():
            read_run_config(out_dir)  # the one-line "no such run directory / file" error
        out_dir.mkdir(parents=True, exist_ok=True)
        lock = RunLock(out_dir)
    try:
        if is_main:
            ckpt.remove_leftovers(out_dir)
            if not resume:
                _prepare_new_run_dir(out_dir, overwrite)
        return _train(model_name, data_config=data_config, out_dir=out_dir, model_config=model_config,
                      objective=objective, objective_config=objective_config, train_config=train_config,
                      resume=resume, data_b_config=data_b_config, command=command, dataset=dataset,
                      given_model_options=given_model_options, init_from=init_from, force=force,
                      allow_world_size_change=allow_world_size_change, resume_options=resume_options)
    finally:
        if lock is not None:
            lock.release()
            if created and [p.name for p in out_dir.iterdir()] == [LOCK_FILE]:  # failed before writing
                (out_dir / LOCK_FILE).unlink()
                out_dir.rmdir()


def _train(model_name: str, *, data_config, out_dir: Path, model_config, objective, objective_config, train_config,
           resume, data_b_config, command, dataset, given_model_options, init_from, force,
           allow_world_size_change, resume_options):
    from genzoo.data import DataConfig, DataSpec, load_dataset, make_batch_transform

    info = None
    if resume:
        info = read_run_config(out_dir)
        if not (out_dir / ckpt.CHECKPOINT_FILE).is_file():
            raise FileNotFoundError(f"{out_dir / ckpt.CHECKPOINT_FILE}: no checkpoint to resume from (the run "
                                    "completed no epoch); start it again with --overwrite")
        if resume_options is None:  # library call: compare the configs given with the recorded ones
            entry = get_model(info["model"]) if model_name == info.get("model") else None
            default = entry.default_config() if entry is not None else None
            resume_options = {
                "objective_name": objective,
                "model": {f.name: getattr(model_config, f.name) for f in fields(model_config)
                          if default is None or getattr(model_config, f.name) != getattr(default, f.name)}
                if model_config is not None else {},
                "objective": to_dict(objective_config) if objective_config is not None else {},
                "data": to_dict(data_config) if data_config is not None else {},
                "train": to_dict(train_config) if train_config is not None else {},
            }
        check_resume_options(out_dir, info, model_name, resume_options)
        objective = info["objective"]
        model_config = from_dict(get_model(model_name).config_cls, info["model_config"])
        objective_config = from_dict(get_objective(objective).config_cls, info["objective_config"])
        data_config = from_dict(DataConfig, {**info["data"], **{
            k: v for k, v in (resume_options.get("data") or {}).items() if k in RESUMABLE_DATA_OPTIONS}})
        data_b_config = from_dict(DataConfig, info["data_b"]) if info.get("data_b") else None
        saved = from_dict(TrainConfig, info["train"])
        changes = {k: v for k, v in (resume_options.get("train") or {}).items() if k in RESUMABLE_OPTIONS}
        train_config = replace(saved, **{k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()})
    elif data_config is None:
        raise ValueError("train: data_config is required for a new run")
    train_config = train_config or get_model(model_name).default_train_config()
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
                      batch_transform=make_batch_transform(spec), force=force,
                      allow_world_size_change=allow_world_size_change)
    trainer.preflight(check=not resume)  # before any file is written
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
            record["resumed"] = [*info.get("resumed", []), record["command"]]
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

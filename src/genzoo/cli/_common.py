"""Helpers shared by the commands: run directories, devices, output paths."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from genzoo.nn.random import resolve_device, seeded_generator


def add_run_arguments(p: argparse.ArgumentParser, *, seed: bool = True) -> None:
    p.add_argument("run", metavar="RUN_DIR", help="a run directory written by 'genzoo train'")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default: auto)")
    if seed:
        p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (argparse turns the ValueError into a one-line usage error)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def device(name: str) -> torch.device:
    """The --device option as a device (:func:`genzoo.nn.random.resolve_device`)."""
    return resolve_device(name)


def load_run(args):
    from genzoo.training.run import load

    return load(args.run, device=device(args.device))


def output_path(args, default_name: str) -> Path:
    out = getattr(args, "out", None)
    return Path(out) if out else Path(args.run) / default_name


def generator(args, model) -> torch.Generator:
    return seeded_generator(args.seed, model.device)


def value_range(args) -> tuple[float, float]:
    from genzoo.data.transforms import value_range as scale_range
    from genzoo.training.run import read_run_config

    return scale_range(read_run_config(args.run).get("data", {}).get("scale", "01"))


def data_overrides(args) -> dict:
    """The data options a command was given (``--data``, ``--data-dir``) as DataConfig overrides of
    the run's recorded data."""
    pairs = (("name", getattr(args, "data", None)), ("data_dir", getattr(args, "data_dir", None)))
    return {k: v for k, v in pairs if v}


def split_of(args, name: str):
    from genzoo.training.run import load_run_data

    data = load_run_data(args.run, **data_overrides(args))
    return data, getattr(data, name)

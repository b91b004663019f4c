"""Atomic file writes and the run-directory files (config.json, model.safetensors, checkpoint.pt)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CHECKPOINT_FILE = "checkpoint.pt"
METRICS_FILE = "metrics.csv"


def atomic_write(path: Path, write) -> None:
    """Write via a temporary file in the same folder, then rename: a crash never leaves a
    half-written file under the real name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: dict) -> None:
    def w(tmp):
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=False)
            f.write("\n")

    atomic_write(path, w)


def read_json(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (is this a genzoo run directory?)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None


def save_weights(path: Path, module: torch.nn.Module) -> None:
    state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))


def load_weights(path: Path, module: torch.nn.Module) -> None:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        state = load_file(str(path))
    except Exception as e:  # safetensors raises its own error types
        raise ValueError(f"{path}: cannot read weights ({e})") from None
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path}: weights do not match the model (missing {list(missing)[:3]}, "
                         f"unexpected {list(unexpected)[:3]})")


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint to resume from")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise ValueError(f"{path}: corrupt checkpoint ({type(e).__name__}: {e})") from None

"""A tiny trained VAE run directory shared by the security tests (copied before each mutation)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import genzoo
from genzoo.data import DataConfig
from genzoo.registry import get_model
from genzoo.training.trainer import TrainConfig

TINY = TrainConfig(epochs=1, batch_size=32, max_steps=1, progress=False, validate=False, sample_every=0)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sec") / "vae"
    cfg = get_model("vae").config_cls(hidden=(8,), latent_dim=2)
    genzoo.train("vae", data_config=DataConfig(name="digits", limit=64), out_dir=out, model_config=cfg,
                 train_config=TINY, command="test")
    return out


@pytest.fixture
def run(trained_run, tmp_path) -> Path:
    """A fresh copy of the trained run, to mutate."""
    dst = tmp_path / "run"
    shutil.copytree(trained_run, dst)
    return dst


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def listing():
    """``listing(folder)``: every file under it with size and mtime (ns), to check nothing was written."""
    return _listing

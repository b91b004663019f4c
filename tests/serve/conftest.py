"""Tiny run directories for the app tests, trained through the library on sklearn's 8x8 digits
(seconds in all), plus runs that are broken on purpose."""

from __future__ import annotations

import json

import pytest
import torch

import genzoo
from genzoo.data import DataConfig
from genzoo.registry import get_model
from genzoo.serve.app import serve_in_thread
from genzoo.training.trainer import TrainConfig

TINY = TrainConfig(epochs=2, batch_size=50, max_steps=8, progress=False, sample_every=1)

#: run id -> (model name, model options, data options)
RUNS = {
    "vae2": ("vae", {"latent_dim": 2, "hidden": (32,)}, {"binarize": "static"}),
    "group/vae5": ("vae", {"latent_dim": 5, "hidden": (32,)}, {"binarize": "static"}),
    "ae1": ("ae", {"latent_dim": 1, "hidden": (16,)}, {"binarize": "static"}),
    "nade": ("nade", {"hidden": 16}, {"binarize": "static"}),
    "pixelcnn": ("pixelcnn", {"features": 8, "residual_blocks": 1, "output_features": 8}, {"binarize": "static"}),
    "infogan": ("infogan", {"noise_dim": 4, "width": 4, "fc": 0, "q_hidden": 8}, {}),
    "cgan": ("cgan", {"noise_dim": 4, "g_hidden": (16,), "d_hidden": (16,)}, {}),
    "text2image": ("text2image", {"noise_dim": 4, "width": 4, "word_dim": 4, "text_dim": 4}, {}),
    "dcgan": ("dcgan", {"noise_dim": 4, "width": 4}, {}),
}


def make_runs(root) -> dict:
    torch.manual_seed(0)
    for run_id, (name, model_kw, data_kw) in RUNS.items():
        entry = get_model(name)
        cfg = entry.default_config(**model_kw)
        genzoo.train(name, data_config=DataConfig(name="digits", limit=200, **data_kw), out_dir=root / run_id,
                     model_config=cfg, train_config=TINY, command=f"test {run_id}")
    # CycleGAN: an untrained model written in the run format (its training needs a second domain)
    from genzoo.config import to_dict
    from genzoo.training import checkpoint as ckpt
    from genzoo.training.run import build_model

    cyc = root / "cyclegan"
    cyc.mkdir()
    model = build_model("cyclegan", (1, 8, 8), config=get_model("cyclegan").config_cls(width=4, res_blocks=1))
    ckpt.save_weights(cyc / ckpt.WEIGHTS_FILE, model)
    ckpt.write_json(cyc / ckpt.CONFIG_FILE, {"model": "cyclegan", "model_config": to_dict(model.config),
                                             "data": to_dict(DataConfig(name="digits", limit=200)), "levels": 17})
    # a run whose weights are missing, one whose config names an unknown model, one with bad JSON
    broken = root / "broken" / "noweights"
    broken.mkdir(parents=True)
    (broken / "config.json").write_text((root / "vae2" / "config.json").read_text())
    unknown = root / "broken" / "unknown"
    unknown.mkdir()
    (unknown / "config.json").write_text(json.dumps({"model": "nosuchmodel", "model_config": {}}))
    badjson = root / "broken" / "badjson"
    badjson.mkdir()
    (badjson / "config.json").write_text("{not json")
    (root / "vae2" / "eval_test.json").write_text(json.dumps({"nll_nats": 30.5, "n": 10, "k": 5}))
    (root / "not-a-run").mkdir()
    (root / "secret.txt").write_text("not served")
    return root


#: where the browser tests saved their screenshots (reported at the end of the run)
SCREENSHOT_DIRS: list = []


def pytest_terminal_summary(terminalreporter):
    for d in SCREENSHOT_DIRS:
        terminalreporter.write_line(f"genzoo serve browser screenshots: {d}")


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory):
    import os
    from pathlib import Path

    d = Path(os.environ.get("GENZOO_SCREENSHOTS") or tmp_path_factory.mktemp("serve-screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    SCREENSHOT_DIRS.append(d)
    return d


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return make_runs(tmp_path_factory.mktemp("serve-runs"))
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def server(runs_root):
    srv, thread = serve_in_thread(runs_root, max_models=3)
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="session")
def base_url(server):
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"

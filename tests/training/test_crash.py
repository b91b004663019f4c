"""Crash injection: a training run SIGKILLed at chosen and at random points, resumed each time, ends
bitwise equal to an uninterrupted run, with one metrics row per epoch and no leftover files.
(benchmarks/crash_injection.py does the same through the CLI, with more kills and under torchrun.)"""

import csv
import os
import random
import signal
import time

import pytest
import torch

from genzoo.data import DataConfig
from genzoo.training import TrainConfig
from genzoo.training import checkpoint as ckpt
from genzoo.training.run import LOCK_FILE, train

DATA = DataConfig(name="digits", binarize="static", limit=400)
CFG = TrainConfig(epochs=6, batch_size=50, progress=False, sample_every=1, sample_history=True, device="cpu")
# kill sites (GENZOO_TEST_KILL_AT=SITE@N: the N-th time the process passes SITE): during each file's
# write (temporary file complete, not yet renamed), between the side files and the checkpoint, and
# just after the checkpoint; the run gains at most one epoch per attempt, so every kill lands
SITES = ["rename:config.json@1", "rename:checkpoint.pt@1", "after_checkpoint@1", "before_checkpoint@1",
         "rename:metrics.csv@1", "after_checkpoint@1", "rename:model.safetensors@1", "rename:samples.png@1",
         "after_checkpoint@1", "rename:checkpoint.pt@1"]
TIMING = ("seconds", "images_per_s")


def _attempt(run, site: str | None, delay: float | None) -> bool:
    """Train (resuming when a checkpoint exists) in a forked child, killed at ``site`` or after
    ``delay`` seconds; True when the child finished the run."""
    resume = (run / ckpt.CHECKPOINT_FILE).exists()
    pid = os.fork()
    if pid == 0:  # child: train, then leave without running the parent's pytest machinery
        code = 1
        try:
            if site:
                os.environ["GENZOO_TEST_KILL_AT"] = site
            ckpt._KILL_COUNTS.clear()
            train("vae", data_config=DATA, out_dir=run, train_config=CFG, resume=resume, overwrite=not resume)
            code = 0
        finally:
            os._exit(code)
    if delay is not None:
        time.sleep(delay)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return False
    assert os.WEXITSTATUS(status) == 0, "the resumed run failed"
    return True


def _rows(run):
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_sigkill_anywhere_then_resume_equals_an_uninterrupted_run(tmp_path):
    torch.set_num_threads(1)
    ref = tmp_path / "ref"
    train("vae", data_config=DATA, out_dir=ref, train_config=CFG)
    run = tmp_path / "run"
    rng = random.Random(0)
    plan = [(s, None) for s in SITES] + [(None, rng.uniform(0.1, 1.5)) for _ in range(4)]
    kills = sum(not _attempt(run, site, delay) for site, delay in plan)
    while not _attempt(run, None, None):
        pass
    assert kills >= len(SITES)
    a = torch.load(ref / "checkpoint.pt", weights_only=True)
    b = torch.load(run / "checkpoint.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == CFG.epochs
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert _rows(run) == _rows(ref)  # every epoch once, the same figures
    leftovers = [p.name for p in run.rglob("*") if p.name.endswith(ckpt.TMP_SUFFIX)]
    assert leftovers == []
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in ref.iterdir())
    assert sorted(p.name for p in (run / "samples").iterdir()) == [f"epoch_00{e}.png" for e in range(1, 7)]
    for name in ("model.safetensors", "samples.png", "samples/epoch_004.png", "samples/epoch_006.png"):
        assert (run / name).read_bytes() == (ref / name).read_bytes(), name
    assert (run / LOCK_FILE).exists()

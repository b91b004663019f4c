"""DDP with two gloo processes on the CPU: the same training as one process with twice the batch,
a NaN on one rank stops both, and a resume with another world size is refused."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genzoo.cli.main import main
from genzoo.data import DataConfig
from genzoo.training import TrainConfig
from genzoo.training.run import train

WORKER = Path(__file__).with_name("ddp_worker.py")
DATA = DataConfig(name="digits", binarize="static", limit=400)
pytestmark = pytest.mark.slow


def _torchrun(*args, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)


def test_two_ranks_with_half_batches_equal_one_process(tmp_path):
    ddp, logs = tmp_path / "ddp", tmp_path / "logs"
    logs.mkdir()
    proc = _torchrun(WORKER, "equiv", ddp, logs, 50)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one, _ = train("ae", data_config=DATA, out_dir=tmp_path / "one", train_config=TrainConfig(
        epochs=2, batch_size=100, progress=False, sample_every=1, device="cpu"))
    a = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(ddp / "checkpoint.pt", weights_only=True)["model"]
    # 8 Adam steps; all-reduced gradient means differ from one process's by float32 rounding only
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-5), (k, (a[k] - b[k]).abs().max())
    r0, r1 = (json.loads((logs / f"rank{r}.json").read_text()) for r in (0, 1))
    for epoch in range(2):
        s0 = {i for b in r0["batches"][epoch] for i in b}
        s1 = {i for b in r1["batches"][epoch] for i in b}
        assert len(s0) == len(s1) == 200 and not s0 & s1  # disjoint shards covering the 400 examples
        assert [len(x) for x in r0["batches"][epoch]] == [50] * 4
    assert r1["written"] == []  # only rank 0 writes
    assert {Path(p).name for p in r0["written"]} >= {"checkpoint.pt", "metrics.csv", "config.json"}
    rows = (ddp / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 3


def test_a_nan_on_one_rank_stops_every_rank_with_one_message(tmp_path):
    proc = _torchrun(WORKER, "nan", tmp_path / "run")
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("genzoo: error:")]
    assert len(lines) == 2 and lines[0] == lines[1], proc.stderr[-3000:]
    assert "non-finite loss at epoch 1, step 2 on 1 of 2 processes" in lines[0]
    assert "no checkpoint was written" in lines[0]


def test_resuming_with_another_world_size_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "ae", "--data", "digits", "--binarize", "static", "--limit", "400", "--epochs", "1",
                 "--batch-size", "50", "--progress", "false", "--device", "cpu", "--out", str(run)]) == 0
    proc = _torchrun("-m", "genzoo", "train", "ae", "--out", run, "--resume", "--epochs", "2")
    assert proc.returncode != 0
    assert "trained by 1 process(es) and this is 2" in proc.stderr and "--allow-world-size-change" in proc.stderr
    assert len((run / "metrics.csv").read_text().strip().splitlines()) == 2  # untouched

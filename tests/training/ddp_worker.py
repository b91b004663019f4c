"""Run under ``torchrun --nproc_per_node=2`` by test_ddp.py (not a test module itself).

``ddp_worker.py equiv RUN LOGDIR B``: train an autoencoder with batch B per process, logging every
batch's indices and every file this rank writes to LOGDIR/rank<R>.json.
``ddp_worker.py nan RUN``: train a VAE through the CLI whose loss turns NaN on rank 1 only.
"""

import json
import os
import sys
from pathlib import Path

import torch

from genzoo.cli.main import main
from genzoo.data import DataConfig
from genzoo.training import TrainConfig
from genzoo.training import checkpoint as ckpt
from genzoo.training import trainer as trainer_mod
from genzoo.training.run import train

DATA = DataConfig(name="digits", binarize="static", limit=400)


def equiv(run: str, logdir: str, batch: int) -> None:
    rank = int(os.environ["RANK"])
    batches, written = [], []
    original_batches, original_write = trainer_mod.Trainer._batches, ckpt.atomic_write

    def logged_batches(self, epoch):
        out = original_batches(self, epoch)
        batches.append([b.tolist() for b in out])
        return out

    def logged_write(path, write):
        written.append(str(path))
        return original_write(path, write)

    trainer_mod.Trainer._batches = logged_batches
    ckpt.atomic_write = logged_write
    train("ae", data_config=DATA, out_dir=run, train_config=TrainConfig(
        epochs=2, batch_size=batch, progress=False, sample_every=1, device="cpu"))
    Path(logdir, f"rank{rank}.json").write_text(json.dumps({"batches": batches, "written": written}))


def nan(run: str) -> int:
    from genzoo.objectives import elbo

    original = elbo.ELBO.__call__
    calls = [0]

    def exploding(self, model, batch, **kw):
        out = original(self, model, batch, **kw)
        calls[0] += 1
        if os.environ["RANK"] == "1" and calls[0] >= 2:
            out["loss"] = out["loss"] * float("nan")
        return out

    elbo.ELBO.__call__ = exploding
    return main(["train", "vae", "--data", "digits", "--binarize", "static", "--limit", "400", "--epochs", "2",
                 "--batch-size", "50", "--progress", "false", "--device", "cpu", "--out", run])


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1] == "equiv":
        equiv(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(nan(sys.argv[2]))

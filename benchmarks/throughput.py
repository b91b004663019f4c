"""Training throughput: genzoo's trainer against a plain hand-written PyTorch loop.

Both train the same VAE (784-500-50 MLP, tanh, Bernoulli decoder, analytic-KL ELBO, Adam,
batch 100) on the same data for the same number of steps, in the same process. The plain loop
is what a user writes first: a ``TensorDataset`` behind a shuffling ``DataLoader``, ``.to(device)``
per batch. genzoo keeps the data on the device and slices batches from a permutation.

    python benchmarks/throughput.py --data-dir ../shared/data --epochs 2 [--device cuda]

benchmarks/perf_train.py measures the same at one thread against the multiply ceiling and pythae.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from genzoo.objectives.variational import elbo


def plain_loop(model, x_cpu: torch.Tensor, epochs: int, device, batch_size: int = 100) -> float:
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(x_cpu), batch_size=batch_size, shuffle=True, drop_last=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    n = 0
    t0 = time.perf_counter()
    for _ in range(epochs):
        for (x,) in loader:
            x = x.to(device, non_blocking=True)
            loss = -elbo(model, x).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            n += x.shape[0]
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--compile", action="store_true", help="torch.compile genzoo's step")
    args = p.parse_args(argv)

    from genzoo.data import DataConfig, load_dataset
    from genzoo.training import TrainConfig, Trainer
    from genzoo.training.run import build_model, build_objective

    if (Path(args.data_dir) / "binarized_mnist.npz").exists():
        cfg = DataConfig(name="binarized-mnist", data_dir=args.data_dir)
    else:
        cfg = DataConfig(name="mnist5k", binarize="static")
    data = load_dataset(cfg)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    kw = dict(hidden=(500,), latent_dim=50, activation="tanh")

    torch.manual_seed(0)
    plain_model = build_model("vae", data.shape, **kw).to(device)
    plain = plain_loop(plain_model, data.train.x, args.epochs, device)

    torch.manual_seed(0)
    model = build_model("vae", data.shape, **kw)
    tcfg = TrainConfig(epochs=args.epochs, batch_size=100, progress=False, validate=False, sample_every=0,
                       device=str(device), compile=args.compile)
    trainer = Trainer(model, build_objective("elbo"), data, tcfg, log=lambda m: None)
    trainer.fit()
    ours = sum(h["images_per_s"] * h["seconds"] for h in trainer.history) / sum(h["seconds"] for h in trainer.history)
    res = {"data": cfg.name, "train_examples": len(data.train), "epochs": args.epochs, "device": str(device),
           "machine": f"{platform.machine()}, {torch.get_num_threads()} threads"
                      + (f", {torch.cuda.get_device_name()}" if device.type == "cuda" else ""),
           "plain_images_per_s": round(plain, 1), "genzoo_images_per_s": round(ours, 1),
           "ratio": round(ours / plain, 3), "command": "python " + " ".join(sys.argv)}
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

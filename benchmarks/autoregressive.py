"""Train an autoregressive model on statically binarized MNIST and report its test NLL.

Architectures (the model configs' defaults, which follow the papers):
  nade            H=500 hidden units, fixed raster order (Larochelle & Murray 2011): 88.33 nats
  pixelcnn        7x7 mask-A conv, 7 residual blocks of 3x3 mask-B convs with 64 features (2h),
                  two 1x1 mask-B layers of 64 (van den Oord et al. 2016, table 4): 81.30 nats
  pixelrnn-diag   Diagonal BiLSTM, 7 layers of h=16 features, 7x7 mask-A input conv,
                  1x1 mask-B output layers (van den Oord et al. 2016, table 4): 79.20 nats
  pixelrnn-row, fvsbn, independent: no MNIST anchor here.
Every field of the chosen model's config is an option (e.g. --features 16 for a CPU-sized
PixelCNN). Training goes through genzoo.training (the run directory can be reloaded with
genzoo.load).

Example (GPU): python benchmarks/autoregressive.py --model pixelcnn --epochs 50 --device cuda
Short CPU check: OMP_NUM_THREADS=1 python benchmarks/autoregressive.py --model nade --hidden 100 \
    --max-steps 300 --test-limit 2000
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

from genzoo.config import add_dataclass_options, dataclass_from_args
from genzoo.models.base import bits_per_dim
from genzoo.registry import get_model

ANCHORS = {"nade": 88.33, "pixelcnn": 81.30, "pixelrnn-diag": 79.20}
MODELS = ("nade", "nade-oa", "pixelcnn", "pixelcnn-gated", "pixelrnn-diag", "pixelrnn-row", "fvsbn", "independent")


def parse_args(argv=None):
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--model", default="nade", choices=MODELS)
    known, _ = first.parse_known_args(argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="nade", choices=MODELS, help="model to train (default: nade)")
    parser.add_argument("--data-path", default="../shared/data/binarized_mnist.npz",
                        help="binarized MNIST .npz with train/valid/test arrays (N, 784) of 0/1")
    parser.add_argument("--out", default=None, help="run directory (default: runs/bench-<model>)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (short runs)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--test-limit", type=int, default=None,
                        help="evaluate on a seeded random subset of N test images")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    add_dataclass_options(parser, get_model(known.model).config_cls, key="model", title=f"{known.model} architecture",
                          skip=("shape", "likelihood", "levels", "input_scale"))
    return parser.parse_args(argv)


def _train_with_trainer(args, data_config, model_config):
    from genzoo.training import TrainConfig
    from genzoo.training.run import train

    tc = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                     max_steps=args.max_steps, device=args.device, progress=False, sample_every=0)
    out = Path(args.out or f"runs/bench-{args.model}")
    model, _ = train(args.model, data_config=data_config, out_dir=out, model_config=model_config,
                     train_config=tc, command=" ".join([sys.argv[0], *sys.argv[1:]]))
    print(f"run directory: {out}")
    return model


@torch.no_grad()
def test_nll(model, x: torch.Tensor, batch_size: int = 500) -> float:
    model.eval()
    total = 0.0
    for chunk in x.split(batch_size):
        total += -model.log_prob(chunk.to(model.device)).double().sum().item()
    return total / len(x)


def main(argv=None) -> int:
    args = parse_args(argv)
    path = Path(args.data_path)
    if not path.is_file():
        print(f"skipped: {path} not found (statically binarized MNIST .npz with train/valid/test)")
        return 0
    from genzoo.data import DataConfig, load_dataset

    data_config = DataConfig(name=str(path), limit=args.limit)
    data = load_dataset(data_config)
    if not data.binary:
        raise ValueError(f"{path}: expected binary images, got {data.levels} levels")
    entry = get_model(args.model)
    base = entry.default_config(likelihood="bernoulli")
    model_config = dataclass_from_args(entry.config_cls, args, key="model", base=base)
    start = time.perf_counter()
    model = _train_with_trainer(args, data_config, model_config)
    train_s = time.perf_counter() - start
    x_test = data.test.x
    if args.test_limit is not None:  # a seeded random subset: the test file may be ordered by class
        pick = torch.randperm(len(x_test), generator=torch.Generator().manual_seed(args.seed))
        x_test = x_test[pick[: args.test_limit]]
    nll = test_nll(model, x_test)
    dim = math.prod(data.shape)
    result = {"model": args.model, "config": {k: v for k, v in vars(model.config).items()},
              "test_images": len(x_test), "test_nll_nats": nll, "bits_per_dim": float(bits_per_dim(nll, dim)),
              "train_seconds": train_s, "published_nats": ANCHORS.get(args.model)}
    print(f"{args.model}: test NLL {nll:.2f} nats ({result['bits_per_dim']:.4f} bits/dim) on {len(x_test)} "
          f"test images after {train_s:.0f} s of training; published: {ANCHORS.get(args.model, 'n/a')}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=list))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

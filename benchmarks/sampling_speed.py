"""Sampling speed of every autoregressive model: naive (rerun the whole network for every pixel)
against fast (incremental: cached pre-activations / per-layer caches, one position per layer per
pixel), same model, same seed; checks that both give identical samples and reports samples/s and
the speed-up. Defaults are MNIST size (1x28x28) with the paper-sized configs.

GPU: python benchmarks/sampling_speed.py --device cuda --n 64
CPU check at a reduced size: OMP_NUM_THREADS=1 python benchmarks/sampling_speed.py --size 12 --n 8
(interleaved medians at 28x28 with the machine's figures: benchmarks/perf_ar.py sample)
"""

from __future__ import annotations

import argparse
import time

import torch

from genzoo.registry import get_model

MODELS = ("independent", "fvsbn", "nade", "nade-oa", "made", "pixelcnn", "pixelcnn-gated", "pixelrnn-row",
          "pixelrnn-diag")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_sampling(model, n: int, fast: bool, seed: int) -> tuple[float, torch.Tensor]:
    g = torch.Generator(device=model.device).manual_seed(seed)
    _sync(model.device)
    start = time.perf_counter()
    x = model.sample(n, generator=g, fast=fast)
    _sync(model.device)
    return time.perf_counter() - start, x


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    parser.add_argument("--size", type=int, default=28, help="image height and width (default: MNIST, 28)")
    parser.add_argument("--n", type=int, default=16, help="samples drawn in one batch")
    parser.add_argument("--likelihood", default="bernoulli", choices=("bernoulli", "categorical"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    print(f"{'model':<15}{'naive samples/s':>17}{'fast samples/s':>16}{'speed-up':>10}  identical")
    for name in args.models:
        entry = get_model(name)
        torch.manual_seed(args.seed)
        cfg = entry.default_config(shape=(1, args.size, args.size), likelihood=args.likelihood)
        model = entry.model_cls(cfg).to(device).eval()
        time_sampling(model, 1, True, args.seed)  # warm-up
        t_fast, x_fast = time_sampling(model, args.n, True, args.seed)
        t_naive, x_naive = time_sampling(model, args.n, False, args.seed)
        same = torch.equal(x_fast, x_naive)
        print(f"{name:<15}{args.n / t_naive:>17.3f}{args.n / t_fast:>16.3f}{t_naive / t_fast:>9.1f}x  {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Train the one-stochastic-layer VAE (or IWAE) on statically binarized MNIST and report test NLL.

Architecture (stated so the figure can be compared): MLP 784-500-500-50 encoder / 50-500-500-784
decoder (``--hidden 200 200`` is Burda et al.'s), tanh, Bernoulli decoder (output bias started at
the pixel marginals), N(0, I) prior, Adam, batch 100 (``--batch-size``). Published anchors (Burda et
al. 2016, table 1, one stochastic layer): VAE 86.76 nats, IWAE (k=50) 84.78 nats.

    python benchmarks/vae_binarized_mnist.py --data-dir ../shared/data --epochs 1000 --out runs/vae-bmnist
    python benchmarks/vae_binarized_mnist.py --objective iwae --samples 50 ...

The test NLL is importance-sampled (``--k``, 5000 for reported figures) on all 10,000 test
images, or on a seeded random subset of ``--test-limit`` of them.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    p.add_argument("--objective", default="elbo", choices=("elbo", "iwae"))
    p.add_argument("--samples", type=int, default=1, help="L for elbo, k for iwae")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=100, help="Burda et al. use 20 (with Adam eps 1e-4)")
    p.add_argument("--schedule", default="constant", choices=("constant", "cosine", "exponential"))
    p.add_argument("--hidden", type=int, nargs="+", default=[500, 500])
    p.add_argument("--latent-dim", type=int, default=50)
    p.add_argument("--prior", default="standard", choices=("standard", "vamp"),
                   help="N(0, I) or the VampPrior (Tomczak & Welling 2018)")
    p.add_argument("--pseudo-inputs", type=int, default=500, help="VampPrior mixture components")
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--test-limit", type=int, default=None)
    p.add_argument("--patience", type=int, default=None, help="early stopping on the validation bound")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="runs/vae-bmnist")
    args = p.parse_args(argv)

    if not (Path(args.data_dir) / "binarized_mnist.npz").exists():
        print(f"skip: {args.data_dir}/binarized_mnist.npz not found", file=sys.stderr)
        return 0
    import genzoo
    from genzoo.data import DataConfig
    from genzoo.evaluation.likelihood import evaluate_likelihood
    from genzoo.objectives.elbo import ELBOConfig, IWAEConfig
    from genzoo.registry import get_model
    from genzoo.training.run import load_run_data
    from genzoo.training.trainer import TrainConfig

    entry = get_model("vae")
    mcfg = entry.default_config(hidden=tuple(args.hidden), latent_dim=args.latent_dim, activation="tanh",
                                prior=args.prior, pseudo_inputs=args.pseudo_inputs)
    ocfg = ELBOConfig(samples=args.samples) if args.objective == "elbo" else IWAEConfig(samples=args.samples)
    tcfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, schedule=args.schedule,
                       device=args.device, progress=False, eval_batch_size=1000, patience=args.patience, seed=args.seed)
    t0 = time.time()
    model, metrics = genzoo.train("vae", data_config=DataConfig(name="binarized-mnist", data_dir=args.data_dir),
                                  out_dir=args.out, model_config=mcfg, objective=args.objective,
                                  objective_config=ocfg, train_config=tcfg, command=" ".join(sys.argv))
    train_s = time.time() - t0
    test = load_run_data(args.out).test
    x = test.x
    if args.test_limit is not None:  # a seeded random subset: the test file is ordered
        x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[: args.test_limit]]
    t1 = time.time()
    res = evaluate_likelihood(model, x, k=args.k, batch_size=50)
    res.update({"train_seconds": round(train_s, 1), "eval_seconds": round(time.time() - t1, 1),
                "epochs": metrics.get("epoch"), "machine": f"{platform.machine()} {torch.get_num_threads()} threads "
                f"{'cuda ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}",
                "command": "python " + " ".join(sys.argv)})
    Path(args.out, "benchmark.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One-class MNIST anomaly detection: train on one digit, score the whole test set, AUROC per digit.

Protocol (Ruff et al. 2018, sec. 4.1): for each digit d, a model is trained on images of d only;
every test image is scored (higher = more anomalous) and the AUROC of "not d" is reported, with
the mean over the ten digits. Models and scores (genzoo.evaluation.anomaly):

* ``ae``          MLP autoencoder, squared reconstruction error (a DCAE-like baseline);
* ``vae``         VAE, negative ELBO (``nelbo``) and importance-sampled NLL (``nll``, k samples);
* ``nade``        NADE, exact NLL; ``independent`` (independent Bernoulli pixels), exact NLL.

Data. No full MNIST training set is available offline, so by default the real 10,000-image MNIST
test set (t10k IDX files in ``--data-dir``) is split deterministically into two halves with a
seeded permutation (``--split-seed``, default 0): 5,000 images to train on (about 500 per digit,
10% of which are held out for validation) and 5,000 to score. This is smaller than the published
protocol (about 6,000 training images per digit and the 10,000 test images), so the figures are
comparable only roughly. Without those files the script falls back to genzoo's embedded
``mnist5k`` (4,000 train / 500 test) and says so; ``--data mnist5k`` forces it. Images are
binarized once with a seeded Bernoulli draw (``--binarize static``, the usual static
binarization) so that every model has a proper discrete likelihood.

Published comparison (PUBLISHED, not measured here): Ruff et al. 2018, "Deep One-Class
Classification", ICML, table 1, MNIST one-class AUROC in %, mean over 10 seeds (their stds
omitted), full MNIST, global contrast normalisation + min-max scaling. Transcribed from the
paper; check against it before quoting (the One-class Deep SVDD mean, 94.8, is the headline):

    normal digit           0     1     2     3     4     5     6     7     8     9    mean
    OC-SVM/SVDD         98.6  99.5  82.5  88.1  94.9  77.1  96.5  93.7  88.9  93.1   91.29
    KDE                 97.1  98.9  79.0  86.2  87.9  73.8  87.6  91.4  79.2  88.2   86.93
    IF                  98.0  97.3  88.6  89.9  92.7  85.5  95.6  92.0  89.9  93.5   92.30
    DCAE                97.6  98.3  85.4  86.7  86.5  78.2  94.6  92.3  86.5  90.4   89.65
    AnoGAN              96.6  99.2  85.0  88.7  89.4  88.3  94.7  93.5  84.9  92.4   91.27
    Soft-bound. DSVDD   97.8  99.6  89.5  90.3  93.8  85.8  98.0  92.7  92.9  94.9   93.53
    One-class DSVDD     98.0  99.7  91.7  91.9  94.9  88.5  98.3  94.6  93.9  96.5   94.80

(the mean column is the mean of the ten digits, computed here; the paper reports per-digit rows)

The MEASURED rows are written by this script to ``OUT/anomaly_one_class.md`` (and ``.json``),
with the command line and the machine.

    python benchmarks/anomaly_one_class.py --device cuda --epochs 100           # full size (GPU)
    python benchmarks/anomaly_one_class.py --digits 0 1 --epochs 2 --test-limit 1000   # quick check
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

PUBLISHED = {  # Ruff et al. 2018, table 1 (see the docstring)
    "OC-SVM/SVDD": (98.6, 99.5, 82.5, 88.1, 94.9, 77.1, 96.5, 93.7, 88.9, 93.1),
    "KDE": (97.1, 98.9, 79.0, 86.2, 87.9, 73.8, 87.6, 91.4, 79.2, 88.2),
    "IF": (98.0, 97.3, 88.6, 89.9, 92.7, 85.5, 95.6, 92.0, 89.9, 93.5),
    "DCAE": (97.6, 98.3, 85.4, 86.7, 86.5, 78.2, 94.6, 92.3, 86.5, 90.4),
    "AnoGAN": (96.6, 99.2, 85.0, 88.7, 89.4, 88.3, 94.7, 93.5, 84.9, 92.4),
    "Soft-boundary Deep SVDD": (97.8, 99.6, 89.5, 90.3, 93.8, 85.8, 98.0, 92.7, 92.9, 94.9),
    "One-class Deep SVDD": (98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5),
}

SCORES = {"ae": ("recon",), "vae": ("nelbo", "nll"), "nade": ("nll",), "independent": ("nll",)}
MODEL_OVERRIDES = {"ae": {"latent_dim": 32}, "vae": {"latent_dim": 32}, "nade": {}, "independent": {}}


def _read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_t10k_halves(folder: Path, seed: int):
    """(x_pool, y_pool, x_test, y_test): the MNIST test set split into two seeded halves."""
    def find(name):
        for cand in (folder / name, folder / name.removesuffix(".gz")):
            if cand.is_file():
                return cand
        return None

    fx, fy = find("t10k-images-idx3-ubyte.gz"), find("t10k-labels-idx1-ubyte.gz")
    if fx is None or fy is None:
        return None
    x = torch.from_numpy(_read_idx(fx).astype(np.float32) / 255.0)[:, None]  # (10000, 1, 28, 28)
    y = torch.from_numpy(_read_idx(fy).astype(np.int64))
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(len(x)))
    half = len(x) // 2
    return x[perm[:half]], y[perm[:half]], x[perm[half:]], y[perm[half:]]


def load_mnist5k():
    from genzoo.data import DataConfig, load_dataset

    d = load_dataset(DataConfig(name="mnist5k"))
    return (torch.cat([d.train.x, d.valid.x]), torch.cat([d.train.y, d.valid.y]), d.test.x, d.test.y)


def one_class_dataset(x_pool, y_pool, x_test, y_test, digit: int, valid_frac: float, seed: int,
                      binary: bool = True):
    from genzoo.data import DataSpec, ImageDataset, Split

    xd = x_pool[y_pool == digit]
    g = torch.Generator().manual_seed(seed + digit)
    perm = torch.randperm(len(xd), generator=g)
    n_valid = max(1, int(round(valid_frac * len(xd))))
    yd = torch.full((len(xd),), digit, dtype=torch.long)
    shape = tuple(x_test.shape[1:])
    spec = DataSpec(shape, "binary", 2, binarization="static") if binary else DataSpec(shape, "quantized", 256)
    return ImageDataset(
        name=f"mnist-one-class-{digit}", train=Split(xd[perm[n_valid:]], yd[perm[n_valid:]]),
        valid=Split(xd[perm[:n_valid]], yd[perm[:n_valid]]), test=Split(x_test, y_test),
        shape=shape, binary=binary, num_classes=10, levels=2 if binary else 256, spec=spec)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="t10k", choices=("t10k", "mnist5k"),
                   help="t10k: split the real MNIST test set in halves (falls back to mnist5k)")
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))
    p.add_argument("--split-seed", type=int, default=0, help="seed of the halves and of binarization")
    p.add_argument("--binarize", default="static", choices=("static", "none"))
    p.add_argument("--models", nargs="+", default=["ae", "vae", "nade"], choices=sorted(SCORES))
    p.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=20, help="early stopping on the validation loss")
    p.add_argument("--valid-frac", type=float, default=0.1)
    p.add_argument("--k", type=int, default=100, help="importance samples for the VAE nll score")
    p.add_argument("--test-limit", type=int, help="score only the first N test images (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="runs/anomaly_one_class")
    args = p.parse_args(argv)

    from genzoo.evaluation.anomaly import anomaly_scores, auroc
    from genzoo.registry import get_model
    from genzoo.training import TrainConfig, Trainer
    from genzoo.training.checkpoint import load_weights
    from genzoo.training.run import build_model, build_objective

    data_note = ""
    halves = load_t10k_halves(Path(args.data_dir), args.split_seed) if args.data == "t10k" else None
    if halves is None:
        if args.data == "t10k":
            print(f"note: no t10k IDX files in {args.data_dir}; falling back to mnist5k", file=sys.stderr)
        try:
            halves = load_mnist5k()
        except (ValueError, ImportError) as e:
            print(f"skip: no MNIST data available ({e})", file=sys.stderr)
            return 0
        data_note = "mnist5k (4,500 train+valid / 500 test)"
    else:
        data_note = f"MNIST t10k split in seeded halves (seed {args.split_seed}): 5,000 train pool / 5,000 test"
    x_pool, y_pool, x_test, y_test = halves
    if args.binarize == "static":
        g = torch.Generator().manual_seed(args.split_seed)
        x_pool, x_test = torch.bernoulli(x_pool, generator=g), torch.bernoulli(x_test, generator=g)
    if args.test_limit is not None:
        x_test, y_test = x_test[: args.test_limit], y_test[: args.test_limit]

    out = Path(args.out)
    results: dict[str, dict[int, float]] = {}
    seconds: dict[str, float] = {}
    for digit in args.digits:
        data = one_class_dataset(x_pool, y_pool, x_test, y_test, digit, args.valid_frac, args.seed,
                                 binary=args.binarize == "static")
        is_anomaly = (y_test != digit).numpy()
        for name in args.models:
            entry = get_model(name)
            torch.manual_seed(args.seed)
            model = build_model(name, data.shape, entry.default_config(**MODEL_OVERRIDES[name]))
            objective = build_objective(entry.objectives[0])
            objective.check_data(model, data.spec)  # the data contract: refuses nonsense before training
            tc = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                             device=args.device, patience=args.patience, progress=False, sample_every=0)
            t0 = time.time()
            Trainer(model, objective, data, tc, out_dir=out / name / f"digit{digit}", log=lambda m: None).fit()
            load_weights(out / name / f"digit{digit}" / "model.safetensors", model)  # best validation weights
            model.eval()
            seconds[name] = seconds.get(name, 0.0) + time.time() - t0
            g = torch.Generator(device=model.device).manual_seed(args.seed)
            for score in SCORES[name]:
                s = anomaly_scores(model, x_test, score, k=args.k, batch_size=500, generator=g)
                a = 100.0 * auroc(s, is_anomaly)
                # a Bernoulli likelihood on grey values is a BCE, not an NLL: say so in the row name
                grey = score in ("nll", "nelbo") and data.spec.check_model(model) == "bce_grey"
                results.setdefault(f"{name} ({score}{', grey BCE' if grey else ''})", {})[digit] = a
                print(f"digit {digit} {name:12s} {score:6s} AUROC {a:6.2f}", file=sys.stderr)

    machine = (f"{platform.machine()} {torch.get_num_threads()} threads, "
               + (torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else "cpu")
               + f", torch {torch.__version__}")
    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    digits = sorted(args.digits)
    lines = ["| method | source | " + " | ".join(str(d) for d in digits) + " | mean |",
             "|---|---|" + "---|" * (len(digits) + 1)]
    for method, per in results.items():
        vals = [per[d] for d in digits]
        lines.append(f"| {method} | measured | " + " | ".join(f"{v:.1f}" for v in vals)
                     + f" | {np.mean(vals):.2f} |")
    for method, vals in PUBLISHED.items():
        sel = [vals[d] for d in digits]
        lines.append(f"| {method} | published (Ruff et al. 2018, table 1; transcribed, not re-checked) | "
                     + " | ".join(f"{v:.1f}" for v in sel) + f" | {np.mean(sel):.2f} |")
    lines += ["", f"AUROC in %. Measured: {data_note}; static binarization: {args.binarize}; "
              f"{args.epochs} epochs max (patience {args.patience}); test images scored: {len(x_test)}.",
              f"Machine: {machine}. Training time per model (all digits): "
              + ", ".join(f"{m} {s:.0f} s" for m, s in seconds.items()) + ".",
              f"Command: `{command}`"]
    table = "\n".join(lines)
    out.mkdir(parents=True, exist_ok=True)
    (out / "anomaly_one_class.md").write_text(table + "\n")
    (out / "anomaly_one_class.json").write_text(json.dumps(
        {"measured": {m: {str(d): v for d, v in per.items()} for m, per in results.items()},
         "published": PUBLISHED, "data": data_note, "train_seconds": seconds, "machine": machine,
         "command": command}, indent=2))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

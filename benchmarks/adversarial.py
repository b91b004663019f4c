"""Train one adversarial model on mnist5k (or full MNIST when its files are present) and write sample
grids, loss curves and the model's figure of merit to OUT/results.json.

    python benchmarks/adversarial.py --model dcgan --epochs 25 --out runs/bench-dcgan
    python benchmarks/adversarial.py --model infogan --data mnist --data-dir ../shared/data --epochs 50
    python benchmarks/adversarial.py --model gan --epochs 1 --limit 1000 --out /tmp/gan   # a quick CPU check

Settings: Adam lr 2e-4, betas (0.5, 0.999), batch 64 (DCGAN's recommendations, used for every
GAN here); the AAE uses lr 1e-3; InfoGAN uses its paper's lr 1e-3 for G and batch 100. Figures
and published anchors for later comparison:

* gan / dcgan / cgan / aae: Parzen-window log-likelihood of the test set (sigma chosen on the
  validation set, 10,000 samples by default), in nats. Anchors on MNIST: GAN 225 +- 2
  (Goodfellow et al. 2014, table 1), AAE 340 +- 2 (Makhzani et al. 2015, table 1). The Parzen
  estimate is weak (Theis et al. 2016); compare with care, and only at equal sample counts.
* infogan: error of the categorical code as a classifier of the test digits, codes matched to
  labels by the best one-to-one assignment. Anchor: ~5% (Chen et al. 2016, Sec. 7.1).
* cyclegan: digits (sklearn 8x8, upsampled to 28x28) <-> mnist5k translations and the cycle loss.
* text2image: samples for fixed captions with shared noise, and caption agreement (the captions
  measured on the generated images vs the captions asked for).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

MODELS = ("gan", "dcgan", "cgan", "infogan", "aae", "cyclegan", "text2image")


def mnist_available(data_dir: str | None) -> bool:
    if not data_dir:
        return False
    d = Path(data_dir)
    return any((d / sub / "train-images-idx3-ubyte.gz").exists() for sub in ("mnist", "."))


def parzen(model, data, n: int, generator: torch.Generator) -> dict:
    from genzoo.evaluation.metrics import parzen_log_likelihood

    model.eval()
    with torch.no_grad():
        samples = torch.cat([model.sample(min(1000, n - i), generator=generator).cpu()
                             for i in range(0, n, 1000)])
    return parzen_log_likelihood(samples.flatten(1), data.valid.x.flatten(1).cpu(), data.test.x.flatten(1).cpu())


def infogan_error(model, data) -> dict:
    """Categorical-code error on the test set under the best one-to-one code -> label assignment."""
    from scipy.optimize import linear_sum_assignment

    model.eval()
    with torch.no_grad():
        codes = torch.cat([model.infer_codes(x.to(model.device))[0].cpu() for x in data.test.x.split(500)])
    y = data.test.y.cpu()
    k = model.config.categories
    counts = torch.zeros(k, 10)
    counts.index_put_((codes, y), torch.ones(len(y)), accumulate=True)  # (codes, labels)
    rows, cols = linear_sum_assignment(-counts.numpy())
    correct = counts[rows, cols].sum().item()
    return {"infogan_cat_error": 1 - correct / len(y), "assignment": dict(zip(rows.tolist(), cols.tolist()))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="dcgan", choices=MODELS)
    p.add_argument("--data", default="auto", help="mnist5k, mnist, or auto (mnist when --data-dir has it)")
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    p.add_argument("--limit", type=int, default=None, help="keep only the first N training images")
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None, help="default: 100 for infogan (its paper's), else 64")
    p.add_argument("--lr", type=float, default=None, help="default: 2e-4 (1e-3 for the AAE)")
    p.add_argument("--width", type=int, default=64, help="conv width (dcgan, infogan, text2image)")
    p.add_argument("--fc", type=int, default=None, help="infogan: fully connected layer size in D and G "
                   "(default: the model's, 1024 as in the paper; 0: none)")
    p.add_argument("--generator-lr", type=float, default=None, help="generator learning rate (default: the "
                   "model's: 1e-3 for infogan, as in its paper; --lr for the others)")
    p.add_argument("--parzen-samples", type=int, default=10_000)
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="run directory (default: runs/bench-MODEL)")
    p.add_argument("--evaluate", default=None, metavar="RUN",
                   help="skip training: measure the model of an existing run directory (for example one "
                        "continued with `genzoo train MODEL --out RUN --resume --epochs N`)")
    args = p.parse_args(argv)

    import genzoo
    from genzoo.data import DataConfig, load_dataset
    from genzoo.evaluation.plots import save_curves, save_grid
    from genzoo.nn.random import resolve_device
    from genzoo.registry import get_model
    from genzoo.training.trainer import TrainConfig

    name = args.data
    if name == "auto":
        name = "mnist" if mnist_available(args.data_dir) else "mnist5k"
    out = Path(args.out or f"runs/bench-{args.model}")
    data_cfg = DataConfig(name=name, data_dir=args.data_dir if name == "mnist" else None, limit=args.limit,
                          seed=args.seed)
    data_b_cfg = None
    entry = get_model(args.model)
    kw: dict = {}
    if args.model in ("dcgan", "infogan", "text2image"):
        kw["width"] = args.width
    if args.model == "infogan" and args.fc is not None:
        kw["fc"] = args.fc
    if args.model == "aae":
        kw.update(latent_dim=8, hidden=(1000, 1000), d_hidden=(1000, 1000))
    if args.model == "cyclegan":  # A: sklearn digits upsampled to 28x28; B: the chosen MNIST
        data_b_cfg = data_cfg
        data_cfg = DataConfig(name="digits", size=28, seed=args.seed)
    lr = args.lr if args.lr is not None else (1e-3 if args.model == "aae" else 2e-4)
    defaults = entry.default_train_config()  # the model's registered training settings
    batch_size = args.batch_size or (defaults.batch_size if args.model == "infogan" else 64)
    generator_lr = args.generator_lr if args.generator_lr is not None else defaults.generator_lr
    tcfg = TrainConfig(epochs=args.epochs, batch_size=batch_size, lr=lr, generator_lr=generator_lr,
                       betas=(0.5, 0.999), seed=args.seed,
                       device=args.device, progress=False, max_steps=args.max_steps, validate=args.model == "aae",
                       sample_history=True)
    t0 = time.time()
    if args.evaluate is not None:
        out = Path(args.evaluate)
        model = genzoo.load(out, device=resolve_device(args.device))
        if model.registry_name != args.model:
            raise SystemExit(f"{out} holds a {model.registry_name!r} run, not {args.model!r}")
        seconds = None
    else:
        model, _ = genzoo.train(args.model, data_config=data_cfg, data_b_config=data_b_cfg, out_dir=out,
                                model_config=entry.config_cls(**kw), train_config=tcfg,
                                command=" ".join(["python", "benchmarks/adversarial.py", *(argv or sys.argv[1:])]))
        seconds = time.time() - t0
    model.eval()
    g = torch.Generator(device=model.device).manual_seed(args.seed)
    data = load_dataset(data_b_cfg or data_cfg)
    results: dict = {"model": args.model, "data": name, "epochs": args.epochs,
                     "train_seconds": None if seconds is None else round(seconds, 1),
                     "device": str(model.device), "torch": torch.__version__, "python": platform.python_version()}

    import csv

    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    loss_keys = [k for k in rows[0] if k.startswith("train_") and any(s in k for s in
                 ("loss", "d_real", "d_fake", "mi_lower_bound", "cycle", "recon"))]
    save_curves(rows, loss_keys, out / "loss_curves.png", title=f"{args.model} on {name}")

    with torch.no_grad():
        if args.model in ("gan", "dcgan", "cgan", "aae"):
            results.update(parzen(model, data, args.parzen_samples, g))
        if args.model == "cgan":
            labels = torch.arange(10).repeat_interleave(10)
            save_grid(model.sample(100, generator=g, condition=labels), out / "samples_by_label.png", nrow=10)
        if args.model == "infogan":
            results.update(infogan_error(model, data))
            for vary in ("cat", "c1", "c2"):
                save_grid(model.sample(100, generator=g, vary=vary), out / f"vary_{vary}.png", nrow=10)
        if args.model == "aae":
            from genzoo.evaluation.plots import project_2d, save_scatter

            codes = torch.cat([model.encode(x.to(model.device)).cpu() for x in data.test.x.split(500)])
            pts, axis = project_2d(codes)
            save_scatter(pts, data.test.y.cpu().numpy(), out / "codes.png", title="AAE test codes", axis=axis)
        if args.model == "cyclegan":
            a = load_dataset(data_cfg).test.x[:16].to(model.device)
            b = data.test.x[:16].to(model.device)
            ab = model.translate(a, "a2b")
            ba = model.translate(b, "b2a")
            save_grid(torch.cat([a, ab, model.translate(ab, "b2a"), b, ba, model.translate(ba, "a2b")]).cpu(),
                      out / "translations.png", nrow=16)
            results["test_cycle_l1"] = float(((model.translate(ab, "b2a") - a).abs().mean() +
                                              (model.translate(ba, "a2b") - b).abs().mean()) / 2)
        if args.model == "text2image":
            from genzoo.models.adversarial import captions as C

            asked = [f"a {adj} {d}" for d in C.DIGITS for adj in ("thin", "thick", "slanted", "upright")]
            z = model.noise(1, g).expand(len(asked), -1)
            images = model.sample(len(asked), condition=asked, noise=z)
            save_grid(images.cpu(), out / "captions_grid.png", nrow=4)
            measured = C.describe(model._unit(images), torch.arange(10).repeat_interleave(4),
                                  model.config.thresholds)
            agree = [a.split()[1] in m.replace(",", "").split() for a, m in zip(asked, measured)]
            results["caption_attribute_agreement"] = sum(agree) / len(agree)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

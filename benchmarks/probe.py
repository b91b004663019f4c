"""Transfer learning: linear probes on frozen codes with 100 / 1000 / all labels, beside pixels and PCA.

For each run (given with ``--runs``, or trained here: a VAE and an autoencoder on ``--data``), the
encoder is frozen, a logistic regression is fitted on the codes of a class-balanced, seeded draw
of N labelled training images, and the test error is reported beside raw pixels and PCA with as
many components as the code (genzoo.evaluation.probe). ``--finetune`` adds the whole encoder
fine-tuned with a linear head.

Published semi-supervised MNIST test errors with 100 labels (PUBLISHED, not measured here, full
60k MNIST, and semi-supervised methods that use the unlabelled data in training the classifier,
so a linear probe is not expected to reach them):

    Kingma et al. 2014 (table 1)   M1 + TSVM   11.82%     M1 + M2   3.33%
    Makhzani et al. 2016 (AAE, table 2)        1.90%

The MEASURED table is written to ``OUT/probe.md`` with the command and machine.

    python benchmarks/probe.py --data mnist5k --epochs 50 --device cuda      # full size
    python benchmarks/probe.py --epochs 1 --labels 100 --out /tmp/probe       # quick check
    python benchmarks/probe.py --runs runs/vae runs/aae                       # existing runs
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

PUBLISHED = (("M1 + TSVM (Kingma et al. 2014)", 100, 11.82), ("M1 + M2 (Kingma et al. 2014)", 100, 3.33),
             ("AAE (Makhzani et al. 2016)", 100, 1.90))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="*", default=None, help="probe these run directories instead of training")
    p.add_argument("--data", default="mnist5k", help="dataset to train on and probe with")
    p.add_argument("--models", nargs="+", default=["vae", "ae"])
    p.add_argument("--latent-dim", type=int, default=32)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--labels", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--finetune", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="runs/probe")
    args = p.parse_args(argv)

    import genzoo
    from genzoo.data import DataConfig
    from genzoo.evaluation.probe import probe
    from genzoo.registry import get_model
    from genzoo.training import TrainConfig
    from genzoo.training.run import load_run_data

    out = Path(args.out)
    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    runs = [Path(r) for r in args.runs] if args.runs else []
    if not runs:
        for name in args.models:
            run = out / name
            entry = get_model(name)
            tc = TrainConfig(epochs=args.epochs, seed=args.seed, device=args.device, progress=False)
            genzoo.train(name, data_config=DataConfig(name=args.data), out_dir=run,
                         model_config=entry.default_config(latent_dim=args.latent_dim), train_config=tc,
                         command=command)
            runs.append(run)
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else (
        "cpu" if args.device == "auto" else args.device)
    rows = []
    seen_data = set()
    for run in runs:
        model = genzoo.load(run, device=device)
        data = load_run_data(run)
        first = data.name not in seen_data  # pixel/PCA baselines once per dataset
        seen_data.add(data.name)
        for r in probe(model, data.train.x, data.train.y, data.test.x, data.test.y,
                       label_counts=(*args.labels, None), seed=args.seed, baselines=first,
                       finetune=args.finetune):
            rows.append({"run": run.name if r["features"] in ("codes", "finetuned") else data.name, **r,
                         "source": "measured (frozen codes, linear)" if r["features"] == "codes"
                         else "measured (fine-tuned encoder)" if r["features"] == "finetuned"
                         else "measured (baseline)"})
    budgets = sorted({r["labels"] for r in rows})
    lines = ["| run | features | dim | " + " | ".join(f"{b} labels" for b in budgets) + " | source |",
             "|---|---|---|" + "---|" * (len(budgets) + 1)]
    keys = list(dict.fromkeys((r["run"], r["features"]) for r in rows))
    for run_name, feats in keys:
        mine = {r["labels"]: r for r in rows if r["run"] == run_name and r["features"] == feats}
        dim = next(iter(mine.values()))["dim"]
        cells = [f"{100 * mine[b]['test_error']:.2f}%" if b in mine else "-" for b in budgets]
        source = next(iter(mine.values()))["source"]
        lines.append(f"| {run_name} | {feats} | {dim} | " + " | ".join(cells) + f" | {source} |")
    for name, n, err in PUBLISHED:
        cells = [f"{err:.2f}%" if b == n else "-" for b in budgets]
        lines.append(f"| {name} | semi-supervised | - | " + " | ".join(cells) + " | published, full MNIST |")
    machine = (f"{platform.machine()}, {torch.get_num_threads()} threads, "
               + (torch.cuda.get_device_name() if device.startswith("cuda") else "cpu")
               + f", torch {torch.__version__}")
    lines += ["", f"Test error. Measured on {data.name} ({len(data.train)} train / {len(data.test)} test); "
              f"the last column counts every labelled training image. Machine: {machine}.",
              f"Command: `{command}`"]
    table = "\n".join(lines)
    out.mkdir(parents=True, exist_ok=True)
    (out / "probe.md").write_text(table + "\n")
    (out / "probe.json").write_text(json.dumps({"rows": rows, "machine": machine, "command": command}, indent=2))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

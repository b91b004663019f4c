"""``genzoo reconstruct RUN_DIR``: test images and their reconstructions, row by row."""

from __future__ import annotations

import torch

from genzoo.cli._common import add_run_arguments, load_run, output_path, split_of, value_range


def register(sub) -> None:
    p = sub.add_parser("reconstruct", help="reconstruct test images with an autoencoder or VAE",
                       description="Encode N test images and decode their codes; writes a PNG whose odd rows are "
                                   "inputs and even rows the reconstructions, and prints the mean squared error.")
    add_run_arguments(p, seed=False)
    p.add_argument("-n", type=int, default=32, help="number of images (default: 32)")
    p.add_argument("--split", default="test", choices=("train", "valid", "test"))
    p.add_argument("--data-dir", help="override the data directory recorded in the run")
    p.add_argument("--out", help="PNG path (default: RUN_DIR/reconstructions.png)")
    p.set_defaults(func=run)


def run(args) -> int:
    model = load_run(args)
    if not model.has_latent:
        raise ValueError(f"model {model.registry_name!r} has no encoder to reconstruct with")
    _, split = split_of(args, args.split)
    x = split.x[: args.n].to(model.device)
    with torch.no_grad():
        rec = model.reconstruct(x)
    cols = 8
    rows = []
    for i in range(0, len(x), cols):
        rows += [x[i:i + cols], rec[i:i + cols]]
    from genzoo.evaluation.plots import save_grid

    path = save_grid(torch.cat(rows), output_path(args, "reconstructions.png"), nrow=cols,
                     value_range=value_range(args))
    print(f"{path} (mean squared error {float(((rec - x) ** 2).mean()):.5f})")
    return 0

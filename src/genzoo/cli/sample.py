"""``genzoo sample RUN_DIR -n 64``: a grid of samples as a PNG (and optionally a .npy)."""

from __future__ import annotations

import numpy as np
import torch

from genzoo.cli._common import add_run_arguments, generator, load_run, output_path, value_range


def register(sub) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained model",
                       description="Draw N samples with a fixed seed and save them as a PNG grid. Conditional "
                                   "models take --label (class), --vary (InfoGAN code: cat, c1, c2) or --text.")
    add_run_arguments(p)
    p.add_argument("-n", type=int, default=64, help="number of samples (default: 64)")
    p.add_argument("--out", help="PNG path (default: RUN_DIR/samples_cli.png)")
    p.add_argument("--npy", help="also save the samples as a .npy array here")
    p.add_argument("--nrow", type=int, help="images per row (default: square)")
    p.add_argument("--label", type=int, help="class label for conditional models")
    p.add_argument("--vary", help="InfoGAN: the code to vary across columns (cat, c1, c2)")
    p.add_argument("--text", help="text-to-image models: the caption to draw")
    p.add_argument("--draw", action="store_true", help="VAE: draw x ~ p(x|z) instead of showing the mean")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.n < 1:
        raise ValueError(f"-n must be >= 1, got {args.n}")
    model = load_run(args)
    kw = {k: getattr(args, k) for k in ("label", "vary", "text") if getattr(args, k) is not None}
    if args.draw:
        kw["mean"] = False
    try:
        with torch.no_grad():
            images = model.sample(args.n, generator=generator(args, model), **kw)
    except TypeError as e:
        if kw and "unexpected keyword" in str(e):
            raise ValueError(f"model {model.registry_name!r} does not accept "
                             f"{', '.join('--' + k for k in kw)}") from None
        raise
    from genzoo.evaluation.plots import save_grid

    path = save_grid(images, output_path(args, "samples_cli.png"), nrow=args.nrow, value_range=value_range(args))
    if args.npy:
        np.save(args.npy, images.cpu().numpy())
    print(path)
    return 0

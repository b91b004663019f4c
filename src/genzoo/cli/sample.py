"""``genzoo sample RUN_DIR -n 64``: a grid of samples as a PNG (and optionally a .npy)."""

from __future__ import annotations

import numpy as np
import torch

from genzoo.cli._common import add_run_arguments, generator, load_run, output_path, value_range


def register(sub) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained model",
                       description="Draw exactly N true samples x ~ p(x) with a fixed seed and save them as a PNG "
                                   "grid (a Bernoulli VAE's samples are binary). --mean shows the decoder means "
                                   "E[x|z], z ~ p(z), instead: smoother, but not samples; the file name and the "
                                   "printed line say so. Conditional models take --label (class) or --text "
                                   "(caption); InfoGAN takes --vary (code to sweep: cat, c1, c2).")
    add_run_arguments(p)
    p.add_argument("-n", type=int, default=64, help="number of samples (default: 64)")
    p.add_argument("--out", help="PNG path (default: RUN_DIR/samples_cli.png, or samples_mean_cli.png with --mean)")
    p.add_argument("--npy", help="also save the images as a .npy array here")
    p.add_argument("--nrow", type=int, help="images per row (default: square; --vary: the sweep's columns)")
    p.add_argument("--label", type=int, help="class label for label-conditioned models (cgan, conditional aae)")
    p.add_argument("--vary", help="InfoGAN: the code to vary across columns (cat, c1, c2)")
    p.add_argument("--text", help="text-to-image models: the caption to draw, e.g. an emoji name \"red apple\" "
                                  "(words a names model never saw are read by their character trigrams)")
    p.add_argument("--mean", action="store_true",
                   help="decoder means E[x|z] for z ~ p(z) instead of samples (models with a decoder distribution)")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.n < 1:
        raise ValueError(f"-n must be >= 1, got {args.n}")
    model = load_run(args)
    name = model.registry_name or type(model).__name__
    condition = None
    for option, kind in (("label", "label"), ("text", "text")):
        value = getattr(args, option)
        if value is None:
            continue
        if model.condition_type != kind:
            takes = f"--{model.condition_type}" if model.condition_type else "no condition"
            raise ValueError(f"model {name!r} does not take --{option} (it takes {takes})")
        condition = value
    kw = {}
    if args.vary is not None:
        if not hasattr(model, "vary_columns"):
            raise ValueError(f"model {name!r} does not take --vary (InfoGAN only)")
        if args.mean:
            raise ValueError("--vary and --mean cannot be combined")
        kw["vary"] = args.vary
    if not model.can_sample:
        raise ValueError(f"model {name!r} does not sample")
    draw = model.sample_mean if args.mean else model.sample
    with torch.no_grad():
        try:
            images = draw(args.n, generator=generator(args, model), condition=condition, **kw)
        except NotImplementedError as e:
            raise ValueError(str(e)) from None
    nrow = args.nrow or (model.vary_columns(args.n, args.vary) if args.vary else None)
    from genzoo.evaluation.plots import save_grid

    default = "samples_mean_cli.png" if args.mean else "samples_cli.png"
    path = save_grid(images, output_path(args, default), nrow=nrow, value_range=value_range(args))
    if args.npy:
        np.save(args.npy, images.cpu().numpy())
    what = "decoder means E[x|z], z ~ p(z) (not samples)" if args.mean else "samples"
    print(f"{path} ({len(images)} {what})")
    return 0

"""``genzoo interpolate RUN_DIR``: strips of decoded codes between pairs of points."""

from __future__ import annotations

import torch

from genzoo.cli._common import add_run_arguments, generator, load_run, output_path, split_of, value_range


def register(sub) -> None:
    p = sub.add_parser("interpolate", help="interpolation strips between test images (or noise vectors)",
                       description="Models with an encoder: encode pairs of test images and decode the path "
                                   "between their codes. Generators (GANs): interpolate between random noise "
                                   "vectors. One row per pair.")
    add_run_arguments(p)
    p.add_argument("--pairs", type=int, default=8, help="number of rows (default: 8)")
    p.add_argument("--steps", type=int, default=10, help="images per row (default: 10)")
    p.add_argument("--spherical", action="store_true", help="spherical instead of linear interpolation")
    p.add_argument("--data-dir", help="override the data directory recorded in the run")
    p.add_argument("--out", help="PNG path (default: RUN_DIR/interpolation.png)")
    p.set_defaults(func=run)


def run(args) -> int:
    from genzoo.evaluation.plots import interpolate_codes, save_grid

    model = load_run(args)
    g = generator(args, model)
    with torch.no_grad():
        if getattr(model, "has_latent", False):
            _, split = split_of(args, "test")
            idx = torch.randperm(len(split), generator=torch.Generator().manual_seed(args.seed))[: 2 * args.pairs]
            z = model.encode(split.x[idx].to(model.device))
            decode = model.decode
        elif hasattr(model, "generate") and hasattr(model, "latent_dim"):
            z = torch.randn(2 * args.pairs, model.latent_dim, generator=g, device=model.device)
            decode = model.generate
        else:
            raise ValueError(f"model {model.registry_name!r} has neither an encoder nor a noise-driven generator")
        paths = [interpolate_codes(z[2 * i], z[2 * i + 1], args.steps, args.spherical) for i in range(len(z) // 2)]
        images = decode(torch.cat(paths))
    path = save_grid(images, output_path(args, "interpolation.png"), nrow=args.steps, value_range=value_range(args))
    print(path)
    return 0

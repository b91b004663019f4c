"""``genzoo interpolate RUN_DIR``: strips of decoded codes between pairs of points."""

from __future__ import annotations

import torch

from genzoo.cli._common import add_run_arguments, generator, load_run, output_path, split_of, value_range


def register(sub) -> None:
    p = sub.add_parser("interpolate", help="interpolation strips between test images (or noise vectors)",
                       description="Models with an encoder (AE, VAE, AAE): encode pairs of test images and "
                                   "decode the path between their codes (a VAE shows decoder means). Generators "
                                   "(GANs): interpolate between two random generator inputs (noise and, for "
                                   "conditional models, the condition's embedding). One row per pair.")
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
    if args.pairs < 1 or args.steps < 2:
        raise ValueError(f"--pairs must be >= 1 and --steps >= 2, got {args.pairs} and {args.steps}")
    with torch.no_grad():
        if model.has_latent:
            _, split = split_of(args, "test")
            idx = torch.randperm(len(split), generator=torch.Generator().manual_seed(args.seed))[: 2 * args.pairs]
            z = model.encode(split.x[idx].to(model.device))
        else:
            try:
                z = model.draw_latent(2 * args.pairs, generator=g)  # (2P, latent size)
            except NotImplementedError:
                raise ValueError(f"model {model.registry_name!r} has neither an encoder nor a latent-driven "
                                 "generator to interpolate") from None
        paths = [interpolate_codes(z[2 * i], z[2 * i + 1], args.steps, args.spherical) for i in range(len(z) // 2)]
        images = model.decode(torch.cat(paths))
    path = save_grid(images, output_path(args, "interpolation.png"), nrow=args.steps, value_range=value_range(args))
    print(path)
    return 0

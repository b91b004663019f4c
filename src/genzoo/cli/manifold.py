"""``genzoo manifold RUN_DIR``: the learned 2-D manifold, or a 2-D view of the test codes."""

from __future__ import annotations

import torch

from genzoo.cli._common import add_run_arguments, load_run, output_path, split_of, value_range


def register(sub) -> None:
    p = sub.add_parser("manifold", help="latent manifold picture (2-D latent) or test codes in 2-D",
                       description="For a 2-D latent: decode an n x n grid of codes placed through the inverse "
                                   "Gaussian CDF (AEVB figure 4) -> manifold.png. For any latent: scatter the test "
                                   "codes coloured by label (projected by PCA or t-SNE when not 2-D) -> codes.png.")
    add_run_arguments(p, seed=False)
    p.add_argument("--n", type=int, default=20, help="grid side for the manifold (default: 20)")
    p.add_argument("--limit", type=int, default=5000, help="test codes to scatter (default: 5000)")
    p.add_argument("--projection", default="pca", choices=("pca", "tsne"),
                   help="2-D projection of wider codes for codes.png (default: pca)")
    p.add_argument("--data-dir", help="override the data directory recorded in the run")
    p.add_argument("--out", help="PNG path of the manifold grid (default: RUN_DIR/manifold.png)")
    p.set_defaults(func=run)


def run(args) -> int:
    from genzoo.evaluation import plots

    model = load_run(args)
    if not model.has_latent:
        raise ValueError(f"model {model.registry_name!r} has no latent code")
    written = []
    if model.latent_dim == 2:
        z = plots.manifold_codes(args.n).to(model.device)
        with torch.no_grad():
            images = model.decode(z)
        written.append(plots.save_grid(images, output_path(args, "manifold.png"), nrow=args.n,
                                       value_range=value_range(args), scale=1))
    _, split = split_of(args, "test")
    with torch.no_grad():
        codes = torch.cat([model.encode(c.to(model.device)).cpu() for c in split.x[: args.limit].split(500)])
    pts, axis = plots.project_2d(codes, args.projection)
    labels = split.y[: args.limit].cpu().numpy() if split.y is not None else None
    written.append(plots.save_scatter(pts, labels, f"{args.run}/codes.png",
                                      title=f"test codes ({axis})", axis=axis))
    print("\n".join(map(str, written)))
    return 0

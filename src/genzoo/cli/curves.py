"""``genzoo curves RUN_DIR...``: overlay the learning curves of several runs in one figure."""

from __future__ import annotations


def register(sub) -> None:
    from genzoo.evaluation.plots import CURVE_X

    p = sub.add_parser(
        "curves", help="overlay learning curves (metrics.csv columns) of several runs",
        description="Plot one or more metrics.csv columns of each run against epochs, steps, training "
                    "samples or training time: one panel per metric, one line per run.")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories written by 'genzoo train'")
    p.add_argument("--metric", action="append", dest="metrics", metavar="COLUMN",
                   help="a metrics.csv column, e.g. valid_neg_elbo (repeat for more panels; "
                        "default: valid_loss)")
    p.add_argument("--x", default="epoch", choices=CURVE_X, help="x axis (default: epoch)")
    p.add_argument("--logx", action="store_true", help="logarithmic x axis")
    p.add_argument("--logy", action="store_true", help="logarithmic y axis")
    p.add_argument("--labels", nargs="+", help="legend names, one per run (default: directory names)")
    p.add_argument("--out", default="curves.png", help="output PNG (default: curves.png)")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from genzoo.evaluation.plots import save_run_curves

    path = save_run_curves(args.runs, args.metrics or ["valid_loss"], args.out, x=args.x, labels=args.labels,
                           logx=args.logx, logy=args.logy)
    print(f"wrote {path}", file=sys.stderr)
    return 0

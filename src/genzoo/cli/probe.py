"""``genzoo probe RUN_DIR``: linear classifiers on frozen codes with 100 / 1000 / all labels."""

from __future__ import annotations

import json


def register(sub) -> None:
    from genzoo.cli._common import add_run_arguments

    p = sub.add_parser(
        "probe", help="linear-probe test error of a model's codes with few labels",
        description="Freeze the encoder, fit a logistic regression on the codes of a class-balanced, "
                    "seeded draw of N labelled training examples, and report the test error beside raw "
                    "pixels and PCA of the same dimension (and, with --finetune, the whole encoder "
                    "fine-tuned with a linear head). Default budgets: 100, 1000 and all labels.")
    add_run_arguments(p)
    p.add_argument("--labels", type=int, action="append", metavar="N",
                   help="labelled training examples (repeatable)")
    p.add_argument("--all", action="store_true", help="also use every labelled training example")
    p.add_argument("--finetune", action="store_true", help="also fine-tune the encoder with a linear head")
    p.add_argument("--finetune-epochs", type=int, default=5, help="fine-tuning epochs (default: 5)")
    p.add_argument("--no-baselines", action="store_true", help="skip the pixel and PCA baselines")
    p.add_argument("--data", help="dataset name (default: the run's own)")
    p.add_argument("--data-dir", help="override the data directory recorded in the run")
    p.add_argument("--cluster", action="store_true",
                   help="also report the unsupervised clustering accuracy of the test codes: k-means on "
                        "encode(x), or the model's own discrete code (InfoGAN's Q head); models with only "
                        "a discrete code get only this")
    p.add_argument("--clusters", type=int, help="k-means clusters (default: the number of classes)")
    p.add_argument("--json", action="store_true", help="print JSON rows instead of a markdown table")
    p.add_argument("--out", help="also write the JSON rows to this file (default: RUN_DIR/probe.json)")
    p.set_defaults(func=run)


def run(args) -> int:
    from genzoo.cli._common import data_overrides, load_run
    from genzoo.evaluation.probe import format_probe_table, probe
    from genzoo.training.checkpoint import write_json
    from genzoo.training.run import load_run_data

    counts: list[int | None] = list(args.labels or [])
    if args.all:
        counts.append(None)
    if not counts:
        counts = [100, 1000, None]
    if any(c is not None and c < 1 for c in counts):
        raise ValueError("--labels: must be positive")
    model = load_run(args)
    has_encoder = callable(getattr(model, "encode", None)) and getattr(model, "has_latent", False)
    has_code = callable(getattr(model, "infer_codes", None)) or callable(getattr(model, "predict_code", None))
    if not has_encoder and not (args.cluster and has_code):
        raise ValueError(f"{args.run}: model {type(model).__name__} has no encoder to probe"
                         + (" (it has a discrete code: pass --cluster)" if has_code else ""))
    data = load_run_data(args.run, **data_overrides(args))
    if data.train.y is None or data.test.y is None:
        raise ValueError(f"dataset {data.name!r} has no labels to probe with")
    rows = []
    if has_encoder:
        rows = probe(model, data.train.x, data.train.y, data.test.x, data.test.y, label_counts=tuple(counts),
                     seed=args.seed, baselines=not args.no_baselines, finetune=args.finetune,
                     finetune_epochs=args.finetune_epochs, spec=data.spec)
    result = {"run": str(args.run), "data": data.name, "rows": rows}
    if args.cluster:
        from genzoo.evaluation.clustering import encoded_clustering_accuracy

        result["clustering_accuracy"] = encoded_clustering_accuracy(model, data.test.x, data.test.y,
                                                                    args.clusters, seed=args.seed)
    write_json(args.out or f"{args.run}/probe.json", result)
    if args.json:
        print(json.dumps(result if args.cluster else rows, indent=2))
    else:
        if rows:
            print(format_probe_table(rows))
        if args.cluster:
            print(f"clustering accuracy (test, best match): {100 * result['clustering_accuracy']:.2f}%")
    return 0

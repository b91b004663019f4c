"""``genzoo eval RUN_DIR``: test NLL in nats and bits/dim (and the bound), as JSON."""

from __future__ import annotations

import json

from genzoo.cli._common import add_run_arguments, load_run, positive_int, split_of


def register(sub) -> None:
    p = sub.add_parser("eval", help="test log-likelihood in nats and bits/dim, as JSON",
                       description="Evaluate a density model on a split: exact NLL for autoregressive models; "
                                   "importance-sampled NLL with k samples and the negative ELBO for latent-variable "
                                   "models. Prints JSON and writes RUN_DIR/eval_<split>.json.")
    add_run_arguments(p)
    p.add_argument("-k", "--k", type=positive_int, default=5000,
                   help="importance samples for latent models (default: 5000)")
    p.add_argument("--split", default="test", choices=("train", "valid", "test"))
    p.add_argument("--limit", type=positive_int, help="evaluate a seeded random subset of N examples")
    p.add_argument("--batch-size", type=positive_int, default=100, help="examples per batch (default: 100)")
    p.add_argument("--data-dir", help="override the data directory recorded in the run")
    p.add_argument("--out", help="JSON path (default: RUN_DIR/eval_<split>.json)")
    p.set_defaults(func=run)


def run(args) -> int:
    from genzoo.config import from_dict
    from genzoo.data import DataConfig
    from genzoo.evaluation.likelihood import dequantized_levels, evaluate_likelihood, random_subset
    from genzoo.training.checkpoint import write_json
    from genzoo.training.run import read_run_config

    model = load_run(args)
    data, split = split_of(args, args.split)
    x = random_subset(split.x, args.limit, args.seed)
    cfg = read_run_config(args.run)
    dequant = dequantized_levels(model, data, from_dict(DataConfig, cfg["data"]))
    result = {"run": str(args.run), "model": cfg["model"], "data": cfg["data"]["name"], "split": args.split,
              **evaluate_likelihood(model, x, k=args.k, batch_size=args.batch_size, seed=args.seed,
                                    dequantized_levels=dequant)}
    write_json(args.out or f"{args.run}/eval_{args.split}.json", result)
    print(json.dumps(result, indent=2))
    return 0

"""``genzoo eval RUN_DIR``: test NLL in nats and bits/dim (and the bound), as JSON, labelled with
what the figure is (see :mod:`genzoo.evaluation.likelihood`)."""

from __future__ import annotations

import json

from genzoo.cli._common import add_run_arguments, data_overrides, load_run, positive_int, split_of


def register(sub) -> None:
    p = sub.add_parser("eval", help="test log-likelihood in nats and bits/dim, as JSON",
                       description="Evaluate a density model on a split: exact NLL for autoregressive models; "
                                   "importance-sampled NLL with k samples and the negative ELBO for latent-variable "
                                   "models; for a continuous density trained with --dequantize, the upper bound on "
                                   "the discrete NLL over dequantized test data. 'figure' and 'label' in the JSON say "
                                   "which. A Bernoulli likelihood on grey values is refused (not a likelihood). "
                                   "Prints JSON and writes RUN_DIR/eval_<split>.json.")
    add_run_arguments(p)
    p.add_argument("-k", "--k", type=positive_int, default=5000,
                   help="importance samples for latent models (default: 5000)")
    p.add_argument("--split", default="test", choices=("train", "valid", "test"))
    p.add_argument("--limit", type=positive_int, help="evaluate a seeded random subset of N examples")
    p.add_argument("--batch-size", type=positive_int, default=100, help="examples per batch (default: 100)")
    p.add_argument("--dequant-draws", type=positive_int, default=1,
                   help="dequantized runs: uniform-noise draws per test example averaged in E_u (default: 1)")
    p.add_argument("--data-dir", help="override the data directory recorded in the run")
    p.add_argument("--out", help="JSON path (default: RUN_DIR/eval_<split>.json)")
    p.add_argument("--compile", action="store_true",
                   help="latent-variable models: compute the importance-sampled NLL's log-weights (decoder, "
                        "log-density, prior and q) compiled (torch.compile, inductor; needs a C++ compiler): the "
                        "same draws and value, seconds to compile, then faster (default: eager)")
    p.set_defaults(func=run)


def run(args) -> int:
    from dataclasses import replace

    from genzoo.config import from_dict
    from genzoo.data import DataConfig
    from genzoo.evaluation.likelihood import evaluate_likelihood, random_subset, run_data_spec
    from genzoo.training.checkpoint import write_json
    from genzoo.training.run import read_run_config

    model = load_run(args)
    data, split = split_of(args, args.split)
    x = random_subset(split.x, args.limit, args.seed)
    y = None if split.y is None else random_subset(split.y, args.limit, args.seed)  # the same rows
    cfg = read_run_config(args.run)
    data_cfg = replace(from_dict(DataConfig, cfg["data"]), **data_overrides(args))
    spec = run_data_spec(args.run, data, data_cfg)
    result = {"run": str(args.run), "model": cfg["model"], "data": cfg["data"]["name"], "split": args.split,
              "data_spec": spec.to_dict(),
              **evaluate_likelihood(model, x, spec, k=args.k, batch_size=args.batch_size, seed=args.seed,
                                    dequant_draws=args.dequant_draws, who=f"run {args.run}", condition=y,
                                    compile=args.compile)}
    write_json(args.out or f"{args.run}/eval_{args.split}.json", result)
    print(json.dumps(result, indent=2))
    return 0

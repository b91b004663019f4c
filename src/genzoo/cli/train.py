"""``genzoo train MODEL --data NAME [options] --out RUN_DIR``.

Options are generated from the dataclasses: the data config, the model's config, the chosen
objective's config and the trainer's config, so each hyperparameter is declared once.
"""

from __future__ import annotations

import argparse
import os
import shlex

from genzoo.code import import_function
from genzoo.config import add_dataclass_options, dataclass_from_args, given_options
from genzoo.registry import MODELS, get_model, get_objective
from genzoo.training.trainer import RESUMABLE_OPTIONS, TrainConfig


def register(sub) -> None:
    # a stub so that 'genzoo --help' lists the command; main() hands 'train' to train.main()
    sub.add_parser("train", help="train a model and write a run directory",
                   description="genzoo train MODEL --data NAME --out RUN_DIR (see 'genzoo train MODEL --help')")


def _parser(model: str | None, objective: str | None) -> argparse.ArgumentParser:
    from genzoo.data import DATASETS, DataConfig

    p = argparse.ArgumentParser(
        prog="genzoo train",
        description="Train MODEL and write RUN_DIR (config.json, model.safetensors, checkpoint.pt, "
                    "metrics.csv, samples.png). Under 'torchrun --nproc_per_node=N -m genzoo train ...' "
                    "it trains with DistributedDataParallel.",
        epilog="datasets: " + "; ".join(f"{k}: {v}" for k, v in DATASETS.items()))
    p.add_argument("model", metavar="MODEL", help="model name (see 'genzoo models')")
    p.add_argument("--out", required=model is not None, metavar="RUN_DIR", help="run directory to write")
    may_change = ", ".join("--" + o.replace("_", "-") for o in RESUMABLE_OPTIONS)
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint, to its own --epochs unless given: "
                        "every option is read from its config.json; giving another value is an error except "
                        f"for {may_change} and --data-dir (a cosine schedule is then re-planned from the "
                        "current lr to 0 at the new last epoch)")
    p.add_argument("--overwrite", action="store_true",
                   help="train into a non-empty --out that is not this run, replacing the run files there")
    p.add_argument("--force", action="store_true",
                   help="train a configuration genzoo stops as absurd (over 50M parameters on the CPU, or a "
                        "checkpoint over 1 GB)")
    p.add_argument("--allow-world-size-change", action="store_true",
                   help="with --resume: continue with another number of processes than the run used "
                        "(changes the effective batch)")
    p.add_argument("--init-from", metavar="RUN_DIR",
                   help="start from the weights of another run of this model (its model options are used; "
                        "optimizer and data are new): fine-tune at a lower --lr, or on other data")
    p.add_argument("--data", dest="data__name", metavar="NAME",
                   help="dataset name, .npz/.npy file or image folder (default: mnist5k, embedded)")
    p.add_argument("--data-seed", dest="data__seed", type=int, metavar="INT",
                   help="seed of the train/valid/test split and static binarization (default: 0)")
    p.add_argument("--data-b", metavar="NAME", help="second, unpaired domain for image translation (CycleGAN)")
    p.add_argument("--vendor-b", choices=("google", "twitter"),
                   help="emoji: domain B is the same emoji drawn by this vendor (with --data emoji; --data-b "
                        "defaults to --data), e.g. --vendor google --vendor-b twitter; the two domains share "
                        "the split, and their rows are drawn independently (unpaired)")
    add_dataclass_options(p, DataConfig, key="data", title="data", skip=("name", "seed"))
    if model is None:
        return p
    entry = get_model(model)
    p.add_argument("--objective", choices=entry.objectives, default=None,
                   help=f"training objective (default: {entry.objectives[0]})")
    add_dataclass_options(p, entry.config_cls, key="model", title=f"model ({model})", skip=("shape",),
                          defaults=entry.default_config())
    obj = get_objective(objective or entry.objectives[0])
    add_dataclass_options(p, obj.config_cls, key="objective", title=f"objective ({obj.name})")
    add_dataclass_options(p, TrainConfig, key="train", title="training", defaults=entry.default_train_config())
    return p


def _domain_b(data_cfg, name: str | None, vendor: str | None):
    """Domain B's data config: ``--data-b`` NAME and/or ``--vendor-b`` (emoji: the other vendor's
    drawings of the same emoji), every other option as domain A's; None when neither is given."""
    from dataclasses import replace

    from genzoo.data import DataError

    if vendor is None:
        return replace(data_cfg, name=name) if name else None
    if (name or data_cfg.name) != "emoji":
        raise DataError(f"--vendor-b applies to --data emoji only (domain B here is {name or data_cfg.name!r})")
    if name is None and vendor == data_cfg.vendor:
        raise DataError(f"--vendor-b {vendor}: domain A is already {vendor}'s emoji (give --vendor the other one)")
    return replace(data_cfg, name=name or data_cfg.name, vendor=vendor)


def main(argv: list[str]) -> int:
    from genzoo.data import DataConfig
    from genzoo.training.run import train

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("model", nargs="?")
    pre.add_argument("--objective")
    known, _ = pre.parse_known_args(argv)
    if known.model is None or known.model.startswith("-"):
        _parser(None, None).print_help()
        print("\nmodels: " + ", ".join(sorted(MODELS)) if MODELS else "")
        return 0 if known.model is None else 2
    get_model(known.model)  # a clear error for an unknown model
    args = _parser(known.model, known.objective).parse_args(argv)
    entry = get_model(args.model)
    objective = args.objective or entry.objectives[0]
    data_cfg = dataclass_from_args(DataConfig, args, key="data")
    data_b = _domain_b(data_cfg, args.data_b, args.vendor_b)
    model_cfg = dataclass_from_args(entry.config_cls, args, key="model", base=entry.default_config())
    obj_cfg = dataclass_from_args(get_objective(objective).config_cls, args, key="objective")
    train_cfg = dataclass_from_args(TrainConfig, args, key="train", base=entry.default_train_config())
    typed = given_options(entry.config_cls, args, key="model")
    for name, spec in entry.model_cls.code_fields(model_cfg).items():
        if name in typed:  # code the user typed on this command line (e.g. --prior-fn) is trusted
            import_function(spec)
    if args.init_from and given_options(entry.config_cls, args, key="model"):
        raise ValueError("with --init-from the model options come from that run's config.json; do not give them")
    resume_options = None
    if args.resume:
        resume_options = {
            "objective_name": args.objective,
            "model": given_options(entry.config_cls, args, key="model"),
            "objective": given_options(get_objective(objective).config_cls, args, key="objective"),
            "data": given_options(DataConfig, args, key="data"),
            "train": given_options(TrainConfig, args, key="train"),
        }
        if args.data_b or args.vendor_b:
            raise ValueError("--data-b/--vendor-b: with --resume the data come from the run's config.json; "
                             "do not give them")
    elif args.allow_world_size_change:
        raise ValueError("--allow-world-size-change only applies with --resume")
    train(args.model, data_config=data_cfg, out_dir=args.out, model_config=model_cfg, objective=objective,
          objective_config=obj_cfg, train_config=train_cfg, resume=args.resume, data_b_config=data_b,
          command="genzoo train " + shlex.join(argv),
          given_model_options=frozenset(given_options(entry.config_cls, args, key="model")),
          init_from=args.init_from, overwrite=args.overwrite, force=args.force,
          allow_world_size_change=args.allow_world_size_change, resume_options=resume_options)
    if os.environ.get("RANK", "0") == "0":
        print(f"trained {args.model}: run directory {args.out}")
    return 0

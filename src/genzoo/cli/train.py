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
from genzoo.training.trainer import TrainConfig


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
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint (options are read from its config.json; "
                        "--epochs may be raised)")
    p.add_argument("--init-from", metavar="RUN_DIR",
                   help="start from the weights of another run of this model (its model options are used; "
                        "optimizer and data are new): fine-tune at a lower --lr, or on other data")
    p.add_argument("--data", dest="data__name", metavar="NAME",
                   help="dataset name, .npz/.npy file or image folder (default: mnist5k, embedded)")
    p.add_argument("--data-seed", dest="data__seed", type=int, metavar="INT",
                   help="seed of the train/valid/test split and static binarization (default: 0)")
    p.add_argument("--data-b", metavar="NAME", help="second, unpaired domain for image translation (CycleGAN)")
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


def main(argv: list[str]) -> int:
    from dataclasses import replace

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
    data_b = replace(data_cfg, name=args.data_b) if args.data_b else None
    model_cfg = dataclass_from_args(entry.config_cls, args, key="model", base=entry.default_config())
    obj_cfg = dataclass_from_args(get_objective(objective).config_cls, args, key="objective")
    train_cfg = dataclass_from_args(TrainConfig, args, key="train", base=entry.default_train_config())
    typed = given_options(entry.config_cls, args, key="model")
    for name, spec in entry.model_cls.code_fields(model_cfg).items():
        if name in typed:  # code the user typed on this command line (e.g. --prior-fn) is trusted
            import_function(spec)
    if args.init_from and given_options(entry.config_cls, args, key="model"):
        raise ValueError("with --init-from the model options come from that run's config.json; do not give them")
    if args.resume:
        given = given_options(TrainConfig, args, key="train")
        if set(given) - {"epochs", "progress", "device"}:
            raise ValueError("with --resume only --epochs, --device and --progress may be given; "
                             "the other options come from the run's config.json")
    train(args.model, data_config=data_cfg, out_dir=args.out, model_config=model_cfg, objective=objective,
          objective_config=obj_cfg, train_config=train_cfg, resume=args.resume, data_b_config=data_b,
          command="genzoo train " + shlex.join(argv),
          given_model_options=frozenset(given_options(entry.config_cls, args, key="model")),
          init_from=args.init_from)
    if os.environ.get("RANK", "0") == "0":
        print(f"trained {args.model}: run directory {args.out}")
    return 0

"""Reproduce the binary UCI density-estimation table (Germain et al. 2015, table 2) on a CPU.

For each dataset (default dna, mushrooms, nips) and model row, every configuration of a small grid
is trained with seed 0 and scored on the validation set; the best configuration is then trained
with the other seeds, and every seed's exact test NLL (nats per example) and CPU time is recorded.
Results are appended to ``OUT/results.jsonl`` (a rerun skips what is already there) and the table
(mean +- standard deviation over seeds) is printed.

    OMP_NUM_THREADS=1 python benchmarks/uci_table.py --data-dir ../shared/data/uci --out runs/uci

Rows and grids (all Adam, batch 100, learning rate 1e-3 unless said, at most ``--epochs`` epochs
(twice that for the two order/mask-sampling rows, which converge more slowly), early stopping after
``--patience`` epochs without improvement of the objective's validation figure):

* mob: EM (genzoo.objectives.em), K in {32, 64, 128, 256}, pseudo-count in {1, 0.01} (MAP with
  Beta(1 + a, 1 + a) priors on the means), keeping the EM iteration best on validation.
* fvsbn: weight decay in {1e-4, 1e-3, 1e-2}, learning rate 5e-3 (convex, slow at 1e-3).
* nade: 500 hidden units, no weight decay (one configuration: NADE costs ~15x MADE per epoch here).
* eonade: order-agnostic NADE, one hidden layer of 500, no weight decay; trained by the
  order-agnostic objective, tested on an ensemble of ``--orderings`` orderings (D network passes
  per example and ordering: the expensive part).
* made: one hidden layer of 500, one mask (natural order), weight decay in {0, 1e-3, 1e-2}, without
  and with direct input-output connections.
* made-ms: MADE with mask sampling, a set of 32 masks (connectivity and ordering resampled), ensemble
  of all 32 at test time, no weight decay.

The CPU was shared with other jobs (2 cores, load ~12), so the grids were cut to what fits.
Rows run in the order given (``--rows``), each over every dataset, so the cheap rows finish first.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from genzoo.data import DataConfig, load_dataset
from genzoo.objectives.em import fit_em
from genzoo.objectives.made import MaskSamplingConfig
from genzoo.training.run import build_model, train
from genzoo.training.trainer import TrainConfig

PUBLISHED = {  # Germain et al. 2015, table 2 (test NLL, nats); see BENCHMARKS.md for the check
    "mob": {"dna": 98.19, "mushrooms": 14.46, "nips": 290.02},
    "fvsbn": {"dna": 83.64, "mushrooms": 10.27, "nips": 276.88},
    "nade": {"dna": 84.81, "mushrooms": 9.81, "nips": 273.08},
    "eonade": {"dna": 82.31, "mushrooms": 9.68, "nips": 272.38},
    "made": {"dna": 83.63, "mushrooms": 9.68, "nips": 280.25},
    "made-ms": {"dna": 79.66, "mushrooms": 9.69, "nips": 277.28},
}
ROWS = tuple(PUBLISHED)


def grid(row: str) -> list[dict]:
    """The configurations tried for ``row``: model options, objective options and weight decay."""
    if row == "mob":
        return [{"components": k, "pseudo_count": a} for a in (1.0, 0.01) for k in (32, 64, 128, 256)]
    if row == "fvsbn":
        return [{"weight_decay": wd} for wd in (1e-4, 1e-3, 1e-2)]
    if row == "nade":
        return [{"hidden": 500, "weight_decay": 0.0}]
    if row == "eonade":
        return [{"hidden": [500], "weight_decay": 0.0}]
    if row == "made":
        return [{"hidden": [500], "weight_decay": wd, **({"direct": True} if direct else {})}
                for direct in (False, True) for wd in (0.0, 1e-3, 1e-2)]
    if row == "made-ms":
        return [{"hidden": [500], "masks": 32, "order_agnostic": True, "weight_decay": 0.0}]
    raise ValueError(f"unknown row {row!r}")


def run_one(row: str, params: dict, data, data_cfg: DataConfig, seed: int, args) -> dict:
    """Train one configuration with one seed; returns validation and test NLL and CPU seconds."""
    start = time.process_time()
    torch.manual_seed(seed)
    params = dict(params)
    if row == "mob":
        model = build_model("mob", data.shape, components=params["components"])
        model.init_from_data(data.train.x)
        fit_em(model, data.train.x, iterations=args.em_iterations, pseudo_count=params["pseudo_count"],
               generator=torch.Generator().manual_seed(seed), valid=data.valid.x)
    else:
        wd = params.pop("weight_decay")
        name = {"eonade": "nade-oa", "made-ms": "made"}.get(row, row)
        objective, objective_config = None, None
        if row == "made-ms":
            objective, objective_config = "mask-sampling", MaskSamplingConfig(masks="set")
        if row == "made":
            objective = "nll"
        if "hidden" in params and isinstance(params["hidden"], list):
            params["hidden"] = tuple(params["hidden"])
        model_cfg = build_model(name, data.shape, **params).config
        slow = row in ("eonade", "made-ms")
        tc = TrainConfig(epochs=args.epochs * (2 if slow else 1), patience=args.patience * (2 if slow else 1),
                         weight_decay=wd,
                         lr=5e-3 if row == "fvsbn" else args.lr, seed=seed, progress=False, sample_every=0,
                         device="cpu", batch_size=100)
        with tempfile.TemporaryDirectory(dir=args.out) as tmp, contextlib.redirect_stderr(io.StringIO()):
            model, _ = train(name, data_config=data_cfg, out_dir=Path(tmp) / "run", model_config=model_cfg,
                             objective=objective, objective_config=objective_config, train_config=tc,
                             dataset=data, command="benchmarks/uci_table.py")
    model.eval()
    train_seconds = time.process_time() - start
    with torch.no_grad():
        if row == "eonade":
            valid = -_eonade_log_prob(model, data.valid.x, 1).mean().item()  # the raster order: cheap
            test = -_eonade_log_prob(model, data.test.x, args.orderings).mean().item()
        else:
            valid = -model.log_prob(data.valid.x).mean().item()
            test = -model.log_prob(data.test.x).mean().item()
    return {"valid_nll": valid, "test_nll": test, "train_cpu_s": train_seconds,
            "cpu_s": time.process_time() - start}


def _with(cfg, **kw):
    from dataclasses import replace

    return replace(cfg, **kw)


def _eonade_log_prob(model, x: torch.Tensor, orderings: int) -> torch.Tensor:
    """Exact log-likelihood of the ensemble of ``orderings`` orderings of an order-agnostic NADE
    trained with one (the raster order first, then seeded random orderings)."""
    ens = build_model("nade-oa", model.config.shape, config=_with(model.config, orderings=orderings))
    weights = {k: v for k, v in model.state_dict().items() if k != "orders"}  # the orderings: from the config
    ens.load_state_dict(weights, strict=False)
    ens.eval()
    return torch.cat([ens.log_prob(x[s:s + 200]) for s in range(0, len(x), 200)])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data/uci")
    p.add_argument("--datasets", nargs="+", default=["dna", "mushrooms", "nips"])
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--orderings", type=int, default=4, help="EoNADE test ensemble size")
    p.add_argument("--em-iterations", type=int, default=200)
    p.add_argument("--out", default="runs/uci")
    p.add_argument("--report", action="store_true", help="only print the table of OUT/results.jsonl")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    results_file = Path(args.out) / "results.jsonl"
    done = {}
    if results_file.exists():
        for line in results_file.read_text().splitlines():
            r = json.loads(line)
            done[(r["dataset"], r["row"], json.dumps(r["params"], sort_keys=True), r["seed"])] = r
    if args.report:
        print_table(done, args.datasets, args.rows, args.seeds)
        return
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS')}", flush=True)
    datasets = {}
    for dataset in args.datasets:
        data_cfg = DataConfig(name=dataset, data_dir=args.data_dir)
        datasets[dataset] = (data_cfg, load_dataset(data_cfg))
        print(datasets[dataset][1].describe(), flush=True)
    for row in args.rows:
        for dataset in args.datasets:
            data_cfg, data = datasets[dataset]
            def get(params, seed, dataset=dataset, row=row, data=data, data_cfg=data_cfg):
                key = (dataset, row, json.dumps(params, sort_keys=True), seed)
                if key not in done:
                    r = run_one(row, params, data, data_cfg, seed, args)
                    r.update(dataset=dataset, row=row, params=params, seed=seed)
                    with results_file.open("a") as f:
                        f.write(json.dumps(r) + "\n")
                    done[key] = r
                    print(f"  {dataset} {row} {params} seed {seed}: valid {r['valid_nll']:.2f} "
                          f"test {r['test_nll']:.2f} ({r['cpu_s']:.0f} CPU s)", flush=True)
                return done[key]
            scored = [get(params, 0) for params in grid(row)]
            best = min(scored, key=lambda r: r["valid_nll"])["params"]
            for seed in range(1, args.seeds):
                get(best, seed)
    print_table(done, args.datasets, args.rows, args.seeds)


def print_table(done: dict, datasets: list[str], rows: list[str], seeds: int) -> None:
    """Markdown table: test NLL mean +- std over seeds of the configuration chosen on validation."""
    print("\n| model | " + " | ".join(datasets) + " |")
    print("|---|" + "---|" * len(datasets))
    for row in rows:
        cells = []
        for dataset in datasets:
            runs = [r for r in done.values() if r["dataset"] == dataset and r["row"] == row]
            if not runs:
                cells.append("not run")
                continue
            seed0 = [r for r in runs if r["seed"] == 0]
            best = json.dumps(min(seed0, key=lambda r: r["valid_nll"])["params"], sort_keys=True)
            chosen = [r for r in runs if json.dumps(r["params"], sort_keys=True) == best][:seeds]
            tests = [r["test_nll"] for r in chosen]
            sd = statistics.stdev(tests) if len(tests) > 1 else math.nan
            cpu = statistics.mean(r["cpu_s"] for r in chosen)
            cells.append(f"{statistics.mean(tests):.2f} ± {sd:.2f} (n={len(tests)}, {cpu:.0f} s; "
                         f"pub. {PUBLISHED[row][dataset]})")
        print(f"| {row} | " + " | ".join(cells) + " |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Reproduce the binary UCI density-estimation table (Germain et al. 2015, table 2) on a CPU.

For each dataset (default dna, mushrooms, nips) and model row, every configuration of a small grid
is trained with seed 0 and scored on the validation set; the best configuration is then trained
with the other seeds, and every seed's exact test NLL (nats per example) and CPU time is recorded.
Results are appended to ``OUT/results.jsonl`` (a rerun skips what is already there) and the table
(mean +- standard deviation over seeds) is printed.

    OMP_NUM_THREADS=1 python benchmarks/uci_table.py --data-dir ../shared/data/uci --out runs/uci

Rows and grids (all Adam, batch 100, learning rate 1e-3 unless said, at most ``--epochs`` epochs
(twice that for the order/mask-sampling rows, which converge more slowly) unless said, early
stopping after ``--patience`` epochs (doubled likewise) without improvement of the objective's
validation figure; the best validation weights are tested):

* mob: EM (genzoo.objectives.em), K in {32, 64, 128, 256}, pseudo-count in {1, 0.01} (MAP with
  Beta(1 + a, 1 + a) priors on the means), keeping the EM iteration best on validation.
* fvsbn: weight decay in {1e-4, 1e-3, 1e-2}, learning rate 5e-3 (convex, slow at 1e-3).
* fvsbn-wide: the fvsbn row with weight decay in {0, 1e-5, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1} (its choice
  sat at the grid's edge on mushrooms and nips).
* nade: hidden units in ``--nade-hidden`` (default {100, 500}), learning rate 3e-3, at most 60
  epochs, patience 6, no weight decay (NADE's likelihood costs ~20x MADE's per epoch here).
* nade-long: NADE with H = 500 (Larochelle & Murray's size), learning rate 1e-3, at most 300 epochs,
  patience 20 (the nade row's patience of 6 is coarse on nips's 400 training examples); no grid.
* eonade: order-agnostic NADE, one hidden layer of 500, learning rate 3e-3 (at most 200 epochs,
  patience 15) or 1e-3 (at most 400, patience 20), early stopping on the objective's (noisy,
  one-pass) validation estimate; chosen on the exact validation NLL of the raster ordering;
  tested on the ensemble of ``--orderings`` orderings (the raster order and seeded random ones),
  exact, at O(D H) per example and ordering.
* eonade-long: the eonade row's chosen setting (lr 1e-3) with patience 60, at most 1000 epochs.
* made: one hidden layer of 500, one mask (natural order), weight decay in {0, 1e-3, 1e-2}, without
  and with direct input-output connections.
* made-wd: the made row continued where its choice on dna sat at the grid's edge: direct
  connections, weight decay in {1e-2, 3e-2, 1e-1}.
* made-rand: the made row as the MADE authors' code trains a single mask: one random ordering and
  connectivity (drawn by the run's seed, so the seeds also vary the ordering), not the natural order;
  (no direct, wd 0), (direct, wd 1e-2), (direct, wd 3e-2): the made row's choices on the three datasets.
* made-ms: MADE with mask sampling, a set of 32 masks (connectivity and ordering resampled), ensemble
  of all 32 at test time, no weight decay.
* made-ms-conn: made-ms without order agnosticism: 32 connectivities, all in the natural order.
* made-fresh: MADE with mask sampling as the MADE authors' DNA command (github.com/mgermain/MADE):
  a fresh mask (ordering and connectivity) every step, direct input-output connections; validated
  on the ensemble of 16 fixed random masks, tested on the ensemble of 1000 (their trainMADE.py tests
  on 1000 fresh masks and validates on 300); the test NLL of the first 1, 16 and 300 masks is
  recorded too; one configuration (Adam 1e-3, patience 30 as the authors, at most 3000 epochs; the
  authors: Adadelta, no epoch cap).

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
PUBLISHED["made-wd"] = PUBLISHED["made-rand"] = PUBLISHED["made"]
PUBLISHED["nade-long"] = PUBLISHED["nade"]
PUBLISHED["fvsbn-wide"] = PUBLISHED["fvsbn"]
PUBLISHED["eonade-long"] = PUBLISHED["eonade"]
PUBLISHED["made-fresh"] = PUBLISHED["made-ms-conn"] = PUBLISHED["made-ms"]
ROWS = tuple(PUBLISHED)
FRESH_TEST_MASKS = 1000  # made-fresh: masks of the test ensemble (the authors' trainMADE.py: 1000)
FRESH_ENSEMBLES = (1, 16, 300, FRESH_TEST_MASKS)  # made-fresh: test NLL recorded for these ensemble sizes


def grid(row: str, nade_hidden: tuple[int, ...] = (100, 500)) -> list[dict]:
    """The configurations tried for ``row``: model options, objective options and weight decay."""
    if row == "mob":
        return [{"components": k, "pseudo_count": a} for a in (1.0, 0.01) for k in (32, 64, 128, 256)]
    if row == "fvsbn":
        return [{"weight_decay": wd} for wd in (1e-4, 1e-3, 1e-2)]
    if row == "fvsbn-wide":  # the fvsbn grid widened at both ends
        return [{"weight_decay": wd} for wd in (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1)]
    if row == "nade":
        return [{"hidden": h, "lr": 3e-3, "epochs": 60, "patience": 6, "weight_decay": 0.0} for h in nade_hidden]
    if row == "nade-long":
        return [{"hidden": 500, "lr": 1e-3, "epochs": 300, "patience": 20, "weight_decay": 0.0}]
    if row == "eonade":
        return [{"hidden": [500], "lr": lr, "epochs": epochs, "patience": patience, "weight_decay": 0.0}
                for lr, epochs, patience in ((3e-3, 200, 15), (1e-3, 400, 20))]
    if row == "eonade-long":  # does the eonade row stop too early on its noisy validation estimate?
        return [{"hidden": [500], "lr": 1e-3, "epochs": 1000, "patience": 60, "weight_decay": 0.0}]
    if row == "made":
        return [{"hidden": [500], "weight_decay": wd, **({"direct": True} if direct else {})}
                for direct in (False, True) for wd in (0.0, 1e-3, 1e-2)]
    if row == "made-wd":  # the made row's best on dna (direct, 1e-2) was at the grid's edge: continue it
        return [{"hidden": [500], "weight_decay": wd, "direct": True} for wd in (1e-2, 3e-2, 1e-1)]
    if row == "made-rand":  # one random ordering (mask_seed = the run's seed), as the authors' single mask
        return [{"hidden": [500], "order_agnostic": True, "natural_first": False, "weight_decay": wd,
                 **({"direct": True} if direct else {})} for direct, wd in ((False, 0.0), (True, 1e-2), (True, 3e-2))]
    if row == "made-ms":
        return [{"hidden": [500], "masks": 32, "order_agnostic": True, "weight_decay": 0.0}]
    if row == "made-ms-conn":  # connectivity-agnostic only: every mask in the natural order
        return [{"hidden": [500], "masks": 32, "weight_decay": 0.0}]
    if row == "made-fresh":  # the MADE authors' DNA command: a fresh mask every step, direct connections
        return [{"hidden": [500], "masks": FRESH_TEST_MASKS, "ensemble": 16, "order_agnostic": True, "direct": True,
                 "natural_first": False, "epochs": 3000, "patience": 30, "weight_decay": 0.0}]
    raise ValueError(f"unknown row {row!r}")


def run_one(row: str, params: dict, data, data_cfg: DataConfig, seed: int, args) -> dict:
    """Train one configuration with one seed; returns validation and test NLL and CPU seconds."""
    start = time.process_time()
    torch.manual_seed(seed)
    extra = {}
    params = dict(params)
    if row == "mob":
        model = build_model("mob", data.shape, components=params["components"])
        model.init_from_data(data.train.x)
        fit_em(model, data.train.x, iterations=args.em_iterations, pseudo_count=params["pseudo_count"],
               generator=torch.Generator().manual_seed(seed), valid=data.valid.x)
    else:
        wd = params.pop("weight_decay")
        slow = row in ("eonade", "eonade-long", "made-ms", "made-ms-conn", "made-fresh")
        lr = params.pop("lr", 5e-3 if row in ("fvsbn", "fvsbn-wide") else args.lr)
        epochs = params.pop("epochs", args.epochs * (2 if slow else 1))
        patience = params.pop("patience", args.patience * (2 if slow else 1))
        name = {"eonade": "nade-oa", "made-ms": "made", "made-fresh": "made", "made-wd": "made",
                "made-rand": "made", "nade-long": "nade",
                "made-ms-conn": "made", "fvsbn-wide": "fvsbn",
                "eonade-long": "nade-oa"}.get(row, row)
        objective, objective_config = None, None
        if row in ("made-ms", "made-ms-conn"):
            objective, objective_config = "mask-sampling", MaskSamplingConfig(masks="set")
        if row == "made-fresh":  # validation: the ensemble of the first 16 masks; test: all of them
            objective, objective_config = "mask-sampling", MaskSamplingConfig(masks="fresh")
        if row in ("eonade", "eonade-long"):  # trained on one, tested on the ensemble of --orderings orderings
            params["orderings"] = args.orderings
        if row in ("made", "made-wd", "made-rand"):
            objective = "nll"
        if row == "made-rand":  # the run's seed also draws the ordering and connectivity
            params["mask_seed"] = seed
        if "hidden" in params and isinstance(params["hidden"], list):
            params["hidden"] = tuple(params["hidden"])
        model_cfg = build_model(name, data.shape, **params).config
        tc = TrainConfig(epochs=epochs, patience=patience, weight_decay=wd, lr=lr, seed=seed, progress=False,
                         sample_every=0, device="cpu", batch_size=100)
        with tempfile.TemporaryDirectory(dir=args.out) as tmp, contextlib.redirect_stderr(io.StringIO()):
            model, metrics = train(name, data_config=data_cfg, out_dir=Path(tmp) / "run", model_config=model_cfg,
                                   objective=objective, objective_config=objective_config, train_config=tc,
                                   dataset=data, command="benchmarks/uci_table.py")
        extra["epochs_run"] = metrics.get("epoch")
    model.eval()
    train_seconds = time.process_time() - start
    with torch.no_grad():
        if row in ("eonade", "eonade-long"):  # valid: the raster order alone (D times cheaper than the ensemble)
            valid = -_batched(lambda x: model.log_prob(x, orderings=1), data.valid.x).mean().item()
            test = -_batched(model.log_prob, data.test.x).mean().item()
        elif row == "made-fresh":  # every mask's test log-likelihood once; each ensemble from those
            valid = -model.log_prob(data.valid.x).mean().item()
            per = torch.stack([model.log_prob_under(data.test.x, model.mask_degrees(i))
                               for i in range(FRESH_TEST_MASKS)])  # (masks, N)
            for n in FRESH_ENSEMBLES:
                extra[f"test_nll_ensemble{n}"] = -(torch.logsumexp(per[:n], 0) - math.log(n)).mean().item()
            test = extra[f"test_nll_ensemble{FRESH_TEST_MASKS}"]
        else:
            valid = -model.log_prob(data.valid.x).mean().item()
            test = -model.log_prob(data.test.x).mean().item()
    return {"valid_nll": valid, "test_nll": test, "train_cpu_s": train_seconds,
            "cpu_s": time.process_time() - start, **extra}


def _batched(log_prob, x: torch.Tensor, size: int = 200) -> torch.Tensor:
    """``log_prob`` over ``x`` in batches of ``size`` (bounds the memory of the ensembles)."""
    return torch.cat([log_prob(x[s:s + size]) for s in range(0, len(x), size)])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data/uci")
    p.add_argument("--datasets", nargs="+", default=["dna", "mushrooms", "nips"])
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--orderings", type=int, default=16, help="EoNADE test ensemble size (Uria et al.: 16)")
    p.add_argument("--em-iterations", type=int, default=200)
    p.add_argument("--nade-hidden", type=int, nargs="+", default=[100, 500], help="NADE hidden sizes tried")
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
            scored = [get(params, 0) for params in grid(row, tuple(args.nade_hidden))]
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
            se = sd / math.sqrt(len(tests))
            mean, pub = statistics.mean(tests), PUBLISHED[row][dataset]
            verdict = ("better" if mean < pub else "within 1 s.e." if mean - pub <= se else
                       f"{mean - pub:.2f} above ({(mean - pub) / se:.1f} s.e.)")
            cpu = ", ".join(f"{r['cpu_s']:.0f}" for r in chosen)
            cells.append(f"{mean:.2f} ± {sd:.2f} (n={len(tests)}; CPU s {cpu}; pub. {pub}: {verdict})")
        print(f"| {row} | " + " | ".join(cells) + " |")
    print("\nseed 0's validation NLL for every configuration tried (* = chosen):")
    for row in rows:
        for dataset in datasets:
            seed0 = [r for r in done.values() if r["dataset"] == dataset and r["row"] == row and r["seed"] == 0]
            best = min(seed0, key=lambda r: r["valid_nll"]) if seed0 else None
            for r in seed0:
                print(f"  {row} {dataset} {'*' if r is best else ' '} valid {r['valid_nll']:.2f} "
                      f"test {r['test_nll']:.2f} {json.dumps(r['params'], sort_keys=True)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

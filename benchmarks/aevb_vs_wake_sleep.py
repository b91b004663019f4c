"""AEVB against wake-sleep as training proceeds, for several latent sizes (Kingma & Welling,
"Auto-Encoding Variational Bayes", 2013, section 5 and figure 2).

Both methods train the same Helmholtz machine: a genzoo ``vae`` with the paper's MNIST nets (MLP
784-500-2J encoder, J-500-784 decoder, tanh, Bernoulli decoder, N(0, I) prior), minibatches of
M=100, one posterior sample per datapoint (L=1), Adagrad with the global step size picked from the
paper's grid {0.01, 0.02, 0.1} by the training-set bound after the first ``--select-steps``
iterations, every parameter initialised from N(0, 0.01^2) (the same initial weights for both
methods), and the weight decay of a N(0, I) prior on the parameters (1/N per datapoint, N=50,000).
AEVB trains by the SGVB ELBO (estimator B, eq. 10; ``--methods aevb-A`` for estimator A, eq. 6);
wake-sleep by genzoo's ``wake-sleep`` objective (Hinton et al. 1995), whose recognition model is a
valid proposal, so both are also compared by an importance-sampled log-likelihood.

The training loop is the library's: each run is a genzoo run directory trained by
:func:`genzoo.train` in resumed legs that end at log-spaced epochs; after each leg the script
evaluates the ELBO (estimator B, one sample) on a fixed random 10,000-image subset of the training
set and on the 10,000 test images, against the number of training samples seen (100 per step).
At the end it estimates log p(x) on ``--is-images`` test images with ``--is-k`` importance samples
from q(z|x) (Burda et al. 2016, eq. 8 as an estimator; a stochastic lower bound, reported with its
standard error). Data: Larochelle's statically binarized MNIST (50k/10k/10k), ``binarized_mnist.npz``.

    # one process trains the listed runs one after another; run two such processes side by side.
    # Interrupted or shorter runs continue from their checkpoints when the command is repeated.
    python benchmarks/aevb_vs_wake_sleep.py train --latents 3 5 10 --methods aevb-B wake-sleep \\
        --samples 1000000 --out runs/aevb-vs-ws
    # gather every result under --out: JSON + CSV + the figure (figure 2 style) + a markdown table
    python benchmarks/aevb_vs_wake_sleep.py report --out runs/aevb-vs-ws --figure docs/img/aevb_vs_wake_sleep.png
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

GRID = (0.01, 0.02, 0.1)  # the paper's Adagrad step sizes
METHODS = {"aevb-B": ("elbo", "B"), "aevb-A": ("elbo", "A"), "wake-sleep": ("wake-sleep", None)}
EPOCH_SAMPLES = 50_000  # training samples per epoch (binarized MNIST train split)


@dataclass
class RunResult:
    method: str
    latent_dim: int
    lr: float
    lr_selection: dict
    points: list = field(default_factory=list)  # {samples, epoch, train_elbo, test_elbo, cpu_s, wall_s}
    final: dict = field(default_factory=dict)
    command: str = ""
    machine: str = ""


def log_epochs(total: int, n: int) -> list[int]:
    """About ``n`` log-spaced epoch counts from 1 to ``total`` (distinct integers, ending at total)."""
    pts = {max(1, round(math.exp(i * math.log(total) / max(1, n - 1)))) for i in range(n)}
    return sorted(pts | {total})


def paper_init(model: torch.nn.Module, std: float, seed: int) -> None:
    """Every parameter from N(0, std^2) (AEVB section 5: "initialized by random sampling from N(0, 0.01)")."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)


def write_init_run(path: Path, latent_dim: int, shape, std: float, seed: int) -> Path:
    """A minimal run directory (config.json + model.safetensors) holding the initial weights, so
    that :func:`genzoo.train` can start from them with ``init_from``."""
    from genzoo.config import to_dict
    from genzoo.training import checkpoint as ckpt
    from genzoo.training.run import build_model

    if (path / ckpt.WEIGHTS_FILE).exists():
        return path
    model = build_model("vae", shape, latent_dim=latent_dim, hidden=(500,), activation="tanh",
                        decoder="bernoulli", prior="standard")
    paper_init(model, std, seed)
    path.mkdir(parents=True, exist_ok=True)
    ckpt.save_weights(path / ckpt.WEIGHTS_FILE, model)
    ckpt.write_json(path / ckpt.CONFIG_FILE, {"model": "vae", "model_config": to_dict(model.config),
                                              "command": f"paper init N(0, {std}^2), seed {seed}"})
    return path


def last_epoch(run_dir: Path) -> int:
    """The last epoch recorded in a run's metrics.csv."""
    with open(run_dir / "metrics.csv", newline="") as f:
        return int(list(csv.DictReader(f))[-1]["epoch"])


@torch.no_grad()
def mean_elbo(model, x: torch.Tensor, seed: int, batch: int = 1000) -> float:
    """Mean ELBO (SGVB estimator B, one sample) over ``x``, in nats per image."""
    model.eval()
    try:  # the ELBO as a function of the model (main's API after the VAE refactor), else the method
        from genzoo.objectives.variational import elbo
    except ImportError:
        def elbo(m, c, generator=None):
            return m.elbo(c, generator=generator)
    g = torch.Generator().manual_seed(seed)
    total = sum(float(elbo(model, c, generator=g).sum()) for c in x.split(batch))
    return total / len(x)


def train_one(method: str, latent: int, args, data, train_subset, test_x) -> RunResult:
    import genzoo
    from genzoo.data import DataConfig
    from genzoo.objectives.elbo import ELBOConfig
    from genzoo.training.run import load
    from genzoo.training.trainer import TrainConfig

    objective, estimator = METHODS[method]
    ocfg = ELBOConfig(estimator=estimator, samples=1) if objective == "elbo" else None
    dcfg = DataConfig(name="binarized-mnist", data_dir=args.data_dir)
    out = Path(args.out)
    init = write_init_run(out / f"init-z{latent}", latent, data.shape, args.init_std, args.seed)
    run_dir = out / f"{method}-z{latent}"
    decay = args.weight_decay if args.weight_decay is not None else 1.0 / len(data.train)

    def tcfg(lr, epochs, max_steps=None):
        return TrainConfig(epochs=epochs, batch_size=100, optimizer="adagrad", lr=lr, weight_decay=decay,
                           validate=False, sample_every=0, progress=False, seed=args.seed, device="cpu",
                           max_steps=max_steps)

    result_file = out / f"{method}-z{latent}.json"
    done = json.loads(result_file.read_text()) if result_file.exists() else None
    cpu_before = done["points"][-1]["cpu_s"] if done and done["points"] else 0.0  # a resumed benchmark
    wall_before = done["points"][-1]["wall_s"] if done and done["points"] else 0.0
    cpu0, wall0 = time.process_time() - cpu_before, time.time() - wall_before
    # step size: the paper's grid, judged on the training-set bound after the first iterations
    selection = {}
    for lr in args.lr_grid if len(args.lr_grid) > 1 and done is None else ():
        sel_dir = out / "lr-select" / f"{method}-z{latent}-lr{lr}"
        if (sel_dir / "metrics.csv").exists():
            model = load(sel_dir)
        else:
            model, _ = genzoo.train("vae", data_config=dcfg, out_dir=sel_dir, objective=objective,
                                    objective_config=ocfg, dataset=data, init_from=init,
                                    train_config=tcfg(lr, 1, args.select_steps), command=" ".join(sys.argv))
        selection[str(lr)] = mean_elbo(model, train_subset, args.seed)
        print(f"[{method} z={latent}] lr {lr}: train ELBO after {args.select_steps} steps "
              f"{selection[str(lr)]:.2f}", file=sys.stderr, flush=True)
    lr = float(max(selection, key=lambda k: selection[k] if math.isfinite(selection[k]) else -math.inf)) \
        if selection else args.lr_grid[0]
    res = RunResult(method, latent, lr, selection, command="python " + " ".join(sys.argv),
                    machine=f"{platform.machine()} {torch.get_num_threads()} thread(s), cpu")
    if done is not None:  # continue a run this script started: same step size, earlier points kept
        res.lr, res.lr_selection, res.points = done["lr"], done["lr_selection"], done["points"]
        lr = res.lr
    epochs_total = max(1, round(args.samples / EPOCH_SAMPLES))
    first = not (run_dir / "checkpoint.pt").exists()
    reached = res.points[-1]["epoch"] if res.points else 0
    legs = [e for e in log_epochs(epochs_total, args.points) if e > reached]
    if not first and last_epoch(run_dir) > reached:  # an interrupted leg went past the last point
        legs = sorted(set(legs) | {last_epoch(run_dir)})
    for epochs in legs:
        try:
            model, _ = genzoo.train("vae", data_config=dcfg, out_dir=run_dir, objective=objective,
                                    objective_config=ocfg, dataset=data, train_config=tcfg(lr, epochs),
                                    resume=not first, init_from=init if first else None,
                                    command=" ".join(sys.argv))
        except RuntimeError as e:  # NonFiniteLossError: keep what was measured
            res.final["stopped"] = str(e)
            break
        first = False
        epochs = last_epoch(run_dir)  # the epoch the weights are from (a resumed leg may have passed it)
        if res.points and epochs <= res.points[-1]["epoch"]:
            continue
        pt = {"samples": epochs * EPOCH_SAMPLES, "epoch": epochs,
              "train_elbo": mean_elbo(model, train_subset, args.seed),
              "test_elbo": mean_elbo(model, test_x, args.seed),
              "cpu_s": round(time.process_time() - cpu0, 1), "wall_s": round(time.time() - wall0, 1)}
        res.points.append(pt)
        print(f"[{method} z={latent}] {pt}", file=sys.stderr, flush=True)
        result_file.write_text(json.dumps(asdict(res), indent=2))
    if res.points and (not done or "is_ll_nats" not in done["final"] or reached < res.points[-1]["epoch"]):
        from genzoo.evaluation.likelihood import evaluate_likelihood

        model = load(run_dir)
        pick = torch.randperm(len(test_x), generator=torch.Generator().manual_seed(args.seed + 1))
        x = test_x[pick[: args.is_images]]  # a seeded random subset: the test file is ordered
        t = time.time()
        ll = evaluate_likelihood(model, x, k=args.is_k, batch_size=100, seed=args.seed)
        res.final.update({"is_images": len(x), "is_k": args.is_k, "is_ll_nats": -ll["nll_nats"],
                          "is_ll_stderr": ll["nll_stderr"], "elbo_same_images": -ll["neg_elbo_nats"],
                          "is_seconds": round(time.time() - t, 1),
                          "samples": res.points[-1]["samples"], "cpu_s": round(time.process_time() - cpu0, 1),
                          "wall_s": round(time.time() - wall0, 1)})
        result_file.write_text(json.dumps(asdict(res), indent=2))
    return res


def cmd_train(args) -> int:
    if not (Path(args.data_dir) / "binarized_mnist.npz").exists():
        print(f"skip: {args.data_dir}/binarized_mnist.npz not found", file=sys.stderr)
        return 0
    from genzoo.data import DataConfig, load_dataset

    data = load_dataset(DataConfig(name="binarized-mnist", data_dir=args.data_dir))
    g = torch.Generator().manual_seed(args.seed)
    train_subset = data.train.x[torch.randperm(len(data.train), generator=g)[: args.train_eval]]
    test_x = data.test.x
    if args.test_limit:
        test_x = test_x[torch.randperm(len(test_x), generator=g)[: args.test_limit]]
    for latent in args.latents:
        for method in args.methods:
            f = Path(args.out) / f"{method}-z{latent}.json"
            r = json.loads(f.read_text()) if f.exists() else None
            if r and r["points"] and r["points"][-1]["samples"] >= args.samples and "is_ll_nats" in r["final"]:
                print(f"skip {method} z={latent}: done to {r['points'][-1]['samples']} samples", file=sys.stderr)
                continue
            train_one(method, latent, args, data, train_subset, test_x)
    return 0


def load_results(out: Path) -> list[dict]:
    rows = []
    for f in sorted(out.glob("*-z*.json")):
        r = json.loads(f.read_text())
        if r.get("points"):
            rows.append(r)
    return rows


def cmd_report(args) -> int:
    from genzoo.evaluation.plots import save_curve_panels

    rows = load_results(Path(args.out))
    if not rows:
        raise SystemExit(f"no results under {args.out}")
    latents = sorted({r["latent_dim"] for r in rows})
    style = {"aevb-B": "tab:red", "aevb-A": "tab:orange", "wake-sleep": "tab:blue"}
    panels = []
    for j in latents:
        curves = []
        for r in sorted((r for r in rows if r["latent_dim"] == j), key=lambda r: r["method"]):
            name = "AEVB" if r["method"] == "aevb-B" else "AEVB (est. A)" if r["method"] == "aevb-A" else "Wake-Sleep"
            xs = [p["samples"] for p in r["points"]]
            curves.append({"x": xs, "y": [p["train_elbo"] for p in r["points"]], "label": f"{name} (train)",
                           "color": style[r["method"]], "linestyle": "-"})
            curves.append({"x": xs, "y": [p["test_elbo"] for p in r["points"]], "label": f"{name} (test)",
                           "color": style[r["method"]], "linestyle": "--"})
        panels.append({"title": f"MNIST, $N_z = {j}$", "curves": curves})
    fig = save_curve_panels(panels, args.figure, xlabel="# training samples evaluated", ylabel="ELBO (nats)",
                            logx=True, ylim=tuple(args.ylim) if args.ylim else None)
    print(f"wrote {fig}", file=sys.stderr)
    common = min(r["points"][-1]["samples"] for r in rows)  # every run has a point here: equal footing
    lines = [f"| N_z | method | Adagrad lr | train / test ELBO at {common:,} samples | samples reached | "
             "train / test ELBO there | test log p(x), IS | CPU time |", "|---|---|---|---|---|---|---|---|"]
    rows_csv = ["method,latent_dim,lr,samples,epoch,train_elbo,test_elbo,cpu_s"]
    for r in sorted(rows, key=lambda r: (r["latent_dim"], r["method"])):
        last, f = r["points"][-1], r["final"]
        at = max((p for p in r["points"] if p["samples"] <= common), key=lambda p: p["samples"])
        ll = (f"{f['is_ll_nats']:.2f} ± {f['is_ll_stderr']:.2f}" if "is_ll_nats" in f else "n/a")
        if "is_ll_nats" in f and f["samples"] != last["samples"]:  # an extension stopped before its IS
            ll += f" (at {f['samples']:,})"
        cpu = f.get("cpu_s", last["cpu_s"])
        lines.append(f"| {r['latent_dim']} | {r['method']} | {r['lr']} | {at['train_elbo']:.2f} / "
                     f"{at['test_elbo']:.2f} | {last['samples']:,} | {last['train_elbo']:.2f} / "
                     f"{last['test_elbo']:.2f} | {ll} | {cpu / 60:.1f} min |")
        rows_csv += [f"{r['method']},{r['latent_dim']},{r['lr']},{p['samples']},{p['epoch']},{p['train_elbo']:.4f},"
                     f"{p['test_elbo']:.4f},{p['cpu_s']}" for p in r["points"]]
    ks = {(f.get("is_k"), f.get("is_images")) for f in (r["final"] for r in rows) if "is_k" in f}
    lines.append("")
    lines.append("IS: importance sampling with q(z|x) as proposal, k and test images: "
                 + ", ".join(f"k={k} on {n}" for k, n in sorted(ks)) + "; ± is the standard error over images.")
    Path(args.out, "curves.csv").write_text("\n".join(rows_csv) + "\n")
    Path(args.out, "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train the listed runs one after another")
    t.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    t.add_argument("--latents", type=int, nargs="+", default=[3, 5, 10, 20, 200])
    t.add_argument("--methods", nargs="+", default=["aevb-B", "wake-sleep"], choices=sorted(METHODS))
    t.add_argument("--samples", type=float, default=1e6, help="training samples per run (50,000 an epoch)")
    t.add_argument("--points", type=int, default=10, help="about this many log-spaced evaluations")
    t.add_argument("--lr-grid", type=float, nargs="+", default=list(GRID),
                   help="Adagrad step sizes to choose from (one value: use it, no selection)")
    t.add_argument("--select-steps", type=int, default=100, help="iterations per step size for the choice")
    t.add_argument("--init-std", type=float, default=0.01)
    t.add_argument("--weight-decay", type=float, default=None, help="default 1/N: a N(0, I) prior on weights")
    t.add_argument("--train-eval", type=int, default=10_000, help="training images the train bound is on")
    t.add_argument("--test-limit", type=int, default=None, help="a seeded subset of the test set")
    t.add_argument("--is-images", type=int, default=1000, help="test images for the IS log-likelihood")
    t.add_argument("--is-k", type=int, default=1000, help="importance samples per image")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="runs/aevb-vs-ws")
    t.set_defaults(func=cmd_train)
    r = sub.add_parser("report", help="figure, CSV and markdown table of every result under --out")
    r.add_argument("--out", default="runs/aevb-vs-ws")
    r.add_argument("--figure", default="docs/img/aevb_vs_wake_sleep.png")
    r.add_argument("--ylim", type=float, nargs=2, default=None)
    r.set_defaults(func=cmd_report)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

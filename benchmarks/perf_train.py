"""Training throughput on the CPU against the machine's multiply ceiling and against the peers.

One VAE (784-500-50 MLPs, tanh, Bernoulli decoder, analytic-KL ELBO, Adam lr 1e-3, batch 100) on
binarized MNIST, one thread, trained by

* ``genzoo``: :class:`genzoo.training.Trainer` (``fit()`` of one epoch over ``--steps`` batches,
  set-up included);
* ``plain``: the loop a user writes first: a shuffling ``DataLoader`` over a ``TensorDataset``,
  ``torch.optim.Adam`` with its defaults, ``-elbo(model, x).mean()`` (the same loss function);
* ``plain-fused``: the same loop with ``Adam(fused=True)``, to show what the optimizer alone buys;
* ``pythae``: pythae 0.1.2's ``BaseTrainer`` (what its ``TrainingPipeline`` runs) on a pythae
  ``VAE`` with the same nets and weights; its epoch loop (``train_step``) is timed, its set-up and
  model saving are not (if pythae is installed: ``pip install --no-deps pythae==0.1.2 pydantic
  dill imageio``, a benchmark-only dependency);
* ``ceiling``: only the multiplies of the same steps (:func:`limits.linear_step_ops`), the
  fastest a step can be here.

All run in interleaved rounds (``limits.interleaved_times``); medians are reported, as images per
second and as a fraction of the ceiling (the ceiling's time over the contender's, both for the
same steps). At one thread the clock is the thread's CPU time (``--clock wall`` for wall time).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/perf_train.py --repeats 3 --steps 100

``--ddp``: the genzoo trainer under ``torchrun --nproc_per_node 2`` (gloo) against one process,
wall clock, each process one thread and ``--steps`` batches of 100; also with the NaN check (an
all-reduce) after every step instead of every ``CHECK_EVERY`` steps.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from limits import (  # noqa: E402
    VAE_LAYERS,
    interleaved_times,
    linear_step_flops,
    linear_step_ops,
    machine,
    threads,
)

from genzoo.objectives.variational import elbo  # noqa: E402

BATCH = 100
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


def load_data(data_dir: str, n: int):
    from genzoo.data import DataConfig, load_dataset

    if (Path(data_dir) / "binarized_mnist.npz").exists():
        cfg = DataConfig(name="binarized-mnist", data_dir=data_dir, limit=n)
    else:
        cfg = DataConfig(name="mnist5k", binarize="static", limit=n)
    return cfg.name, load_dataset(cfg)


def make_model(shape, init: dict | None = None):
    """The benchmark VAE; with the weights ``init`` (a state dict) when given, so that every path
    starts from the same ones."""
    from genzoo.training.run import build_model

    torch.manual_seed(0)
    model = build_model("vae", shape, hidden=(500,), latent_dim=50, activation="tanh")
    if init is not None:
        model.load_state_dict(init)
    return model


def genzoo_run(data, init: dict, steps: int, batch: int = BATCH, compile: bool = False):
    """(setup, timed): a Trainer on a fresh copy of the model; ``fit()`` of one epoch of ``steps``
    batches (its own set-up, the optimizer's creation included, is timed). ``compile``: the
    trainer's ``--compile`` (compiled once, before the timed rounds, by :func:`bench_train`)."""
    from genzoo.training import TrainConfig, Trainer
    from genzoo.training.run import build_objective

    def setup():
        model = make_model(data.shape, init)
        cfg = TrainConfig(epochs=1, batch_size=batch, progress=False, validate=False, sample_every=0,
                          device="cpu", max_steps=steps, compile=compile)
        return Trainer(model, build_objective("elbo"), data, cfg, log=lambda m: None)

    return setup, lambda trainer: trainer.fit()


def plain_run(x: torch.Tensor, shape, init: dict, steps: int, fused: bool):
    """(setup, timed): model, Adam and DataLoader; ``steps`` batches of the loop."""
    from torch.utils.data import DataLoader, TensorDataset

    def setup():
        model = make_model(shape, init)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, **({"fused": True} if fused else {}))
        return model, opt, DataLoader(TensorDataset(x), batch_size=BATCH, shuffle=True, drop_last=True)

    def run(state):
        model, opt, loader = state
        model.train()
        for i, (xb,) in enumerate(loader):
            loss = -elbo(model, xb).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i + 1 == steps:
                break
    return setup, run


def pythae_nets(model):
    """pythae encoder/decoder modules with the layers (and weights) of genzoo's VAE ``model``."""
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from torch import nn

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 500), nn.Tanh(), nn.Linear(500, 100))

        def forward(self, x):
            mu, logvar = self.net(x).chunk(2, dim=-1)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(50, 500), nn.Tanh(), nn.Linear(500, 784), nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z).reshape(-1, 1, 28, 28))

    enc, dec = Encoder(), Decoder()
    for ours, theirs in ((model.encoder, enc), (model.decoder, dec)):
        src = [m for m in ours.modules() if isinstance(m, nn.Linear)]
        dst = [m for m in theirs.modules() if isinstance(m, nn.Linear)]
        for a, b in zip(src, dst, strict=True):
            b.load_state_dict(a.state_dict())
    return enc, dec


def pythae_model(model):
    """pythae's VAE (Bernoulli decoder through its ``bce`` loss) on the nets of ``model``."""
    from pythae.models import VAE, VAEConfig

    enc, dec = pythae_nets(model)
    return VAE(VAEConfig(input_dim=(1, 28, 28), latent_dim=50, reconstruction_loss="bce"), encoder=enc, decoder=dec)


def pythae_run(x: torch.Tensor, shape, init: dict, out_dir: str):
    """(setup, timed): pythae's BaseTrainer (what its TrainingPipeline builds) prepared; its epoch
    loop ``train_step`` over ``x`` timed."""
    import logging

    from pythae.data.preprocessors import DataProcessor
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    logging.getLogger("pythae").setLevel(logging.ERROR)
    dataset = DataProcessor().to_dataset(x)

    def setup():
        model = make_model(shape, init)
        cfg = BaseTrainerConfig(output_dir=out_dir, num_epochs=1, per_device_train_batch_size=BATCH,
                                learning_rate=1e-3, optimizer_cls="Adam", no_cuda=True)
        trainer = BaseTrainer(pythae_model(model), dataset, None, cfg)
        trainer.prepare_training()
        return trainer

    return setup, lambda trainer: trainer.train_step(1)


def ceiling_run(steps: int):
    """Only the multiplies of ``steps`` training steps, into preallocated outputs."""
    ops = [op.operands() for op in linear_step_ops(VAE_LAYERS, BATCH)]

    def run():
        for _ in range(steps):
            for a, b, out in ops:
                torch.mm(a, b, out=out)
    return run


def adam_bound_run(init: dict, steps: int):
    """A bound on any Adam trainer: the ceiling's multiplies plus torch's fused Adam update of
    parameters of the model's sizes (gradients given), ``steps`` times; nothing else."""
    mults = ceiling_run(1)
    params = [torch.nn.Parameter(v.clone()) for v in init.values() if v.is_floating_point()]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    opt = torch.optim.Adam(params, lr=1e-3, fused=True)

    def run():
        for _ in range(steps):
            mults()
            opt.step()
    return run


def forward_backward_run(x: torch.Tensor, shape, init: dict, steps: int):
    """(setup, timed): the loss's forward and backward of each batch only, no parameter update
    (what a step costs before any optimizer)."""
    batches = list(x.split(BATCH))[:steps]

    def setup():
        return make_model(shape, init)

    def run(model):
        for xb in batches:
            for p in model.parameters():
                p.grad = None
            (-elbo(model, xb).mean()).backward()
    return setup, run


def bench_train(args) -> dict:
    n = args.steps * BATCH
    name, data = load_data(args.data_dir, n)
    x = data.train.x[:n].contiguous()
    init = make_model(data.shape).state_dict()
    runs = {"genzoo": genzoo_run(data, init, args.steps)}
    if args.compile:
        runs["genzoo-compile"] = genzoo_run(data, init, args.steps, compile=True)
    runs.update({"plain": plain_run(x, data.shape, init, args.steps, fused=False),
                 "plain-fused": plain_run(x, data.shape, init, args.steps, fused=True)})
    if args.bounds:
        runs["fwd+bwd only"] = forward_backward_run(x, data.shape, init, args.steps)
    notes = {}
    tmp = tempfile.TemporaryDirectory()
    try:
        runs["pythae"] = pythae_run(x, data.shape, init, tmp.name)
    except Exception as e:  # pythae missing, or not importable under this torch
        notes["pythae"] = f"not run: {type(e).__name__}: {e}"
    fns = {"ceiling": ceiling_run(args.steps)}
    if args.bounds:
        fns["mults+adam"] = adam_bound_run(init, args.steps)
    fns.update({k: v[1] for k, v in runs.items()})
    setup = {k: v[0] for k, v in runs.items()}
    with threads(1):
        t0 = time.perf_counter()
        if args.compile:  # compile before the rounds (later trainers reuse the compiled step)
            fns["genzoo-compile"](setup["genzoo-compile"]())
            notes["genzoo-compile"] = f"compiled in {time.perf_counter() - t0:.1f} s before the rounds"
        times = interleaved_times(fns, args.repeats, warmup=1, clock=args.clock, setup=setup)
        wall = time.perf_counter() - t0
    tmp.cleanup()
    med = {k: statistics.median(v) for k, v in times.items()}
    flops = linear_step_flops(VAE_LAYERS, BATCH)
    rows = {}
    for k, t in med.items():
        rows[k] = {"images_per_s": round(n / t, 1), "fraction_of_ceiling": round(med["ceiling"] / t, 3),
                   "seconds": [round(v, 4) for v in times[k]]}
    for k in rows:
        if k not in ("ceiling", "mults+adam", "fwd+bwd only"):
            rows[k]["genzoo_speedup"] = round(med[k] / med["genzoo"], 3)
            if "genzoo-compile" in med:
                rows[k]["genzoo_compile_speedup"] = round(med[k] / med["genzoo-compile"], 3)
    return {"benchmark": "train", "data": name, "steps": args.steps, "batch": BATCH, "repeats": args.repeats,
            "clock": args.clock, "machine": machine(), "threads": 1,
            "ceiling_gflops": round(flops * args.steps / med["ceiling"] / 1e9, 2),
            "mflop_per_image_step": round(flops / BATCH / 1e6, 3),
            "mflop_per_image_step_nominal": round(
                linear_step_flops(VAE_LAYERS, BATCH, input_grad=True) / BATCH / 1e6, 3),
            "rows": rows, "notes": notes, "wall_seconds": round(wall, 1)}


def ddp_worker(args) -> None:
    """Under torchrun (or alone): after a 2-step warm-up fit, ``--rounds`` rounds of one fit() of
    ``--steps`` batches per process for each NaN-check interval (``CHECK_EVERY`` and, under DDP,
    every step); rank 0 prints the wall times as JSON."""
    from genzoo.training import distributed as dist_util
    from genzoo.training import trainer as trainer_mod

    torch.set_num_threads(1)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    n = args.steps * args.batch * world
    _, data = load_data(args.data_dir, n)
    init = make_model(data.shape).state_dict()
    setup, run = genzoo_run(data, init, args.steps, args.batch)
    warm = setup()
    warm.config = dataclasses.replace(warm.config, max_steps=2)
    run(warm)  # warm-up, and the process group's start
    every = trainer_mod.CHECK_EVERY
    modes = [every, 1] if world > 1 else [every]
    times: dict[int, list[float]] = {m: [] for m in modes}
    for r in range(args.rounds):
        for m in modes[r % len(modes):] + modes[: r % len(modes)]:
            trainer_mod.CHECK_EVERY = m
            trainer = setup()
            t0 = time.perf_counter()
            run(trainer)
            times[m].append(time.perf_counter() - t0)
    trainer_mod.CHECK_EVERY = every
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({"world": world, "images": n, "seconds": {str(m): t for m, t in times.items()}}))
    dist_util.cleanup(warm.dist)


def bench_ddp(args) -> dict:
    """One process against two (gloo), launches alternated ``--repeats`` times, each launch timing
    ``--rounds`` fits per NaN-check interval."""
    me = [sys.executable, str(Path(__file__).resolve()), "--ddp-worker", "--steps", str(args.steps),
          "--rounds", str(args.rounds), "--batch", str(args.batch), "--data-dir", args.data_dir]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533"]
    from genzoo.training.trainer import CHECK_EVERY

    names = {(1, str(CHECK_EVERY)): "1 process", (2, str(CHECK_EVERY)): "2 processes",
             (2, "1"): "2 processes, NaN check every step"}
    samples: dict[str, list[float]] = {v: [] for v in names.values()}
    images: dict[str, int] = {}
    t0 = time.perf_counter()
    for _ in range(args.repeats):
        for world, cmd in ((1, me), (2, torchrun + me[1:])):
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
            if out.returncode or not lines:
                raise RuntimeError(f"{world} process(es) failed:\n{out.stderr[-2000:]}")
            res = json.loads(lines[-1])
            for mode, ts in res["seconds"].items():
                samples[names[(world, mode)]] += ts
                images[names[(world, mode)]] = res["images"]
    rows = {}
    for k, ts in samples.items():
        rows[k] = {"images_per_s": round(images[k] / statistics.median(ts), 1), "seconds": [round(t, 3) for t in ts]}
    one = rows["1 process"]["images_per_s"]
    for k in rows:
        rows[k]["scaling_efficiency"] = round(rows[k]["images_per_s"] / (one * (1 if k == "1 process" else 2)), 3)
    return {"benchmark": "ddp", "steps_per_process": args.steps, "batch_per_process": args.batch,
            "repeats": args.repeats * args.rounds, "clock": "wall", "machine": machine(), "rows": rows,
            "wall_seconds": round(time.perf_counter() - t0, 1)}


def print_table(res: dict) -> None:
    print(f"# {res['machine']}")
    if res["benchmark"] == "train":
        print(f"# VAE 784-500-50 tanh, batch {res['batch']}, {res['steps']} steps per call, {res['data']}, "
              f"1 thread, medians of {res['repeats']} interleaved rounds, clock {res['clock']}; ceiling "
              f"{res['ceiling_gflops']} GFLOP/s ({res['mflop_per_image_step']} MFLOP per image per step)")
        compiled = "genzoo-compile" in res["rows"]
        print(f"{'path':<16}{'img/s':>10}{'of ceiling':>12}{'genzoo is':>11}"
              + (f"{'compiled is':>13}" if compiled else ""))
        for k, r in res["rows"].items():
            ratio = f"{r['genzoo_speedup']:.2f}x" if "genzoo_speedup" in r else ""
            ratio_c = f"{r['genzoo_compile_speedup']:.2f}x" if "genzoo_compile_speedup" in r else ""
            print(f"{k:<16}{r['images_per_s']:>10.0f}{r['fraction_of_ceiling']:>11.0%}{ratio:>11}"
                  + (f"{ratio_c:>13}" if compiled else ""))
    else:
        print(f"# genzoo trainer, {res['steps_per_process']} steps of {res['batch_per_process']} per process, "
              f"gloo, 1 thread per process, wall clock, medians of {res['repeats']} rounds (launches alternated)")
        print(f"{'run':<32}{'img/s':>10}{'efficiency':>12}")
        for k, r in res["rows"].items():
            print(f"{k:<32}{r['images_per_s']:>10.0f}{r['scaling_efficiency']:>11.0%}")
    for k, v in res.get("notes", {}).items():
        print(f"# {k}: {v}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--steps", type=int, default=100, help="training steps (batches of 100) per timed call")
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds; medians are reported")
    p.add_argument("--clock", default="cpu", choices=("cpu", "wall"),
                   help="the thread's CPU time (default; robust on a shared machine) or wall time")
    p.add_argument("--ddp", action="store_true", help="DDP scaling (2 gloo processes vs 1) instead")
    p.add_argument("--ddp-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--rounds", type=int, default=2, help="--ddp: timed fits per launch (per NaN-check interval)")
    p.add_argument("--batch", type=int, default=BATCH,
                   help=f"--ddp: batch per process (default: {BATCH}); the all-reduce per step is the same at any size")
    p.add_argument("--compile", action="store_true",
                   help="also time the trainer with --compile (torch.compile, inductor), compiled before the rounds")
    p.add_argument("--bounds", action="store_true",
                   help="also time two bounds: the multiplies plus a fused Adam update only, and the loss's "
                        "forward and backward only (no update)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args(argv)
    if args.ddp_worker:
        ddp_worker(args)
        return 0
    res = bench_ddp(args) if args.ddp else bench_train(args)
    res["command"] = "python " + " ".join(sys.argv)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print_table(res)
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
